//! What the Control Plane accepts (issue 17, point 7): names in NFC without invisible characters and never a
//! look-alike of an existing name, at most `MAX_OPTIONS` options of at most `MAX_OPTION_VALUE_BYTES` bytes, and no
//! secret hidden inside an option value. Each refusal leaves the catalog and the audit log as they were.

use lanyard_catalog::{Connection, Database, VaultEntry};
use lanyard_control::{ConnectionAction, CredentialsSource, NewLink};
use lanyard_core::{ErrorKind, MAX_OPTION_VALUE_BYTES, MAX_OPTIONS, Role, SecretString};
use serde_json::{Value, json};

use crate::common::{
    Env, admin, assert_error, assert_error_contains, audit_log, audit_state, both, create_connection, credential,
    exists, memory_backend, new_backend, new_connection, unique_store,
};

both!(
    names_are_stored_in_nfc_and_found_in_either_form,
    invisible_characters_in_names_are_refused_with_code_and_position,
    look_alike_names_are_refused_for_every_kind,
    renaming_to_a_look_alike_is_refused_but_fixing_one_is_not,
    concurrent_look_alikes_one_wins,
    option_count_and_value_size_are_limited,
    secrets_inside_option_values_are_refused_without_echo,
);

const CYRILLIC_PAYROLL: &str = "p\u{430}yroll";

async fn names_are_stored_in_nfc_and_found_in_either_form(env: &Env) {
    let plane = &env.plane;
    let created = create_connection(env, new_connection("Cafe\u{301}", "postgresql", &[("host", "h")])).await;
    assert_eq!(created.name, "Caf\u{e9}", "stored composed");
    assert!(exists::<Connection>(env, "Caf\u{e9}").await);
    assert_eq!(plane.get_connection(&admin(), "Cafe\u{301}").await.unwrap().id, created.id);
    assert_eq!(plane.get_connection(&admin(), "Caf\u{e9}").await.unwrap().id, created.id);
    assert_error(
        plane.create_connection(&admin(), new_connection("Caf\u{e9}", "postgresql", &[("host", "h")])).await,
        ErrorKind::AlreadyExists,
        "connection \"Caf\u{e9}\" already exists",
    );
    plane.drop_connection(&admin(), "Cafe\u{301}", None).await.unwrap();
    assert!(!exists::<Connection>(env, "Caf\u{e9}").await);
}

async fn invisible_characters_in_names_are_refused_with_code_and_position(env: &Env) {
    let plane = &env.plane;
    let before = audit_state(env).await;
    assert_error(
        plane.create_connection(&admin(), new_connection("pay\u{202E}llor", "postgresql", &[("host", "h")])).await,
        ErrorKind::Invalid,
        "invalid connection name \"payllor\": name contains bidirectional control character U+202E at character 3; \
         such characters are invisible, so two names could look alike",
    );
    assert_error_contains(
        plane.create_entry(&admin(), credential("a\u{200B}b", "s3cret", None)).await,
        ErrorKind::Invalid,
        &["invisible format character U+200B at character 1"],
    );
    assert_error_contains(
        plane.create_database(&admin(), "\u{2066}db", false).await,
        ErrorKind::Invalid,
        &["bidirectional control character U+2066 at character 0"],
    );
    assert_error_contains(
        plane.create_connection(&admin(), new_connection("ok", "postgresql", &[("ho\u{202E}st", "h")])).await,
        ErrorKind::Invalid,
        &["contains bidirectional control character U+202E at character 2"],
    );
    assert_eq!(audit_state(env).await, before, "nothing recorded");
}

async fn look_alike_names_are_refused_for_every_kind(env: &Env) {
    let plane = &env.plane;
    create_connection(env, new_connection("payroll", "postgresql", &[("host", "h")])).await;
    let before = audit_state(env).await;
    assert_error(
        plane.create_connection(&admin(), new_connection(CYRILLIC_PAYROLL, "postgresql", &[("host", "h")])).await,
        ErrorKind::AlreadyExists,
        "connection \"p\u{430}yroll\" looks like the existing connection \"payroll\": the names differ only in \
         characters that look alike (character 1 is U+0430 in the new name and U+0061 in the existing one); choose \
         a name that reads differently",
    );
    assert!(!exists::<Connection>(env, CYRILLIC_PAYROLL).await);
    assert_eq!(audit_state(env).await, before, "nothing recorded");
    // IF NOT EXISTS does not turn a look-alike into the existing object.
    assert_error_contains(
        plane
            .create_connection(
                &admin(),
                lanyard_control::NewConnection {
                    if_not_exists: true,
                    ..new_connection(CYRILLIC_PAYROLL, "postgresql", &[("host", "h")])
                },
            )
            .await,
        ErrorKind::AlreadyExists,
        &["looks like the existing connection"],
    );
    // Other kinds: a look-alike of another kind's name is fine, of the same kind is not.
    plane.create_entry(&admin(), credential(CYRILLIC_PAYROLL, "s3cret", None)).await.unwrap();
    assert_error_contains(
        plane.create_entry(&admin(), credential("payroll", "s3cret", None)).await,
        ErrorKind::AlreadyExists,
        &["vault entry \"payroll\" looks like the existing vault entry \"p\u{430}yroll\""],
    );
    plane.create_backend(&admin(), memory_backend("vault_eu", &unique_store())).await.unwrap();
    assert_error_contains(
        plane.create_backend(&admin(), memory_backend("v\u{430}ult_eu", &unique_store())).await,
        ErrorKind::AlreadyExists,
        &["credential storage \"v\u{430}ult_eu\" looks like the existing credential storage \"vault_eu\""],
    );
    plane.create_database(&admin(), "sales", false).await.unwrap();
    assert_error_contains(
        plane.create_database(&admin(), "s\u{430}les", false).await,
        ErrorKind::AlreadyExists,
        &["database \"s\u{430}les\" looks like the existing database \"sales\""],
    );
    // CREATE LINK into a new database that looks like an existing one is refused too.
    let link = |database: &str, name: &str| NewLink {
        database: database.into(),
        name: name.into(),
        link_type: "S3".into(),
        description: None,
        config: serde_json::Map::from_iter([("region".to_owned(), Value::from("eu"))]),
        credentials: Some(CredentialsSource::Json(SecretString::new(
            r#"{"aws_access_key_id":"a","aws_secret_access_key":"b"}"#,
        ))),
        or_replace: false,
        if_not_exists: false,
    };
    assert_error_contains(
        plane.create_link(&admin(), link("s\u{430}les", "files")).await,
        ErrorKind::AlreadyExists,
        &["database \"s\u{430}les\" looks like the existing database \"sales\""],
    );
    assert!(!exists::<Database>(env, "s\u{430}les").await);
    plane.create_link(&admin(), link("sales", "files")).await.unwrap();
    assert_error_contains(
        plane.create_link(&admin(), link("sales", "fil\u{435}s")).await,
        ErrorKind::AlreadyExists,
        &["link \"fil\u{435}s\" looks like the existing link \"files\""],
    );
    // …but the same name in another database is another link.
    plane.create_link(&admin(), link("default", "fil\u{435}s")).await.unwrap();
    plane.create_token(&admin(), "ops", Role::Viewer, None).await.unwrap();
    assert_error_contains(
        plane.create_token(&admin(), "\u{43e}ps", Role::Viewer, None).await,
        ErrorKind::AlreadyExists,
        &["principal \"\u{43e}ps\" looks like the existing principal \"ops\""],
    );
}

async fn renaming_to_a_look_alike_is_refused_but_fixing_one_is_not(env: &Env) {
    let plane = &env.plane;
    create_connection(env, new_connection("payroll", "postgresql", &[("host", "h")])).await;
    create_connection(env, new_connection("billing", "postgresql", &[("host", "h")])).await;
    assert_error_contains(
        plane.alter_connection(&admin(), "billing", &[ConnectionAction::RenameTo(CYRILLIC_PAYROLL.into())], None).await,
        ErrorKind::AlreadyExists,
        &["action 1: connection \"p\u{430}yroll\" looks like the existing connection \"payroll\""],
    );
    assert!(exists::<Connection>(env, "billing").await);
    // A look-alike left from before (or the only one of its skeleton) may be renamed to the name it imitates.
    plane.drop_connection(&admin(), "payroll", None).await.unwrap();
    plane
        .alter_connection(&admin(), "billing", &[ConnectionAction::RenameTo(CYRILLIC_PAYROLL.into())], None)
        .await
        .unwrap();
    plane
        .alter_connection(&admin(), CYRILLIC_PAYROLL, &[ConnectionAction::RenameTo("payroll".into())], None)
        .await
        .unwrap();
    assert!(exists::<Connection>(env, "payroll").await);
    plane.create_entry(&admin(), credential("login", "s3cret", None)).await.unwrap();
    plane.create_entry(&admin(), credential("other", "s3cret", None)).await.unwrap();
    assert_error_contains(
        plane
            .alter_entry(
                &admin(),
                &lanyard_control::ObjectKey::Name("other".into()),
                &[lanyard_control::EntryAction::RenameTo("l\u{43e}gin".into())],
                None,
            )
            .await,
        ErrorKind::AlreadyExists,
        &["vault entry \"l\u{43e}gin\" looks like the existing vault entry \"login\""],
    );
    assert!(exists::<VaultEntry>(env, "other").await);
}

/// Two look-alikes created at the same moment: the check runs in the inserting transaction, so exactly one of
/// them is created, on SQLite (one writer at a time) and on PostgreSQL (SERIALIZABLE: the loser reruns and then
/// sees the winner).
async fn concurrent_look_alikes_one_wins(env: &Env) {
    for round in 0..5 {
        let latin = format!("payroll{round}");
        let cyrillic = format!("p\u{430}yroll{round}");
        let create = |name: &str| {
            let (plane, request) = (env.plane.clone(), new_connection(name, "postgresql", &[("host", "h")]));
            tokio::spawn(async move { plane.create_connection(&admin(), request).await.map(|_| ()) })
        };
        let (a, b) = (create(&latin), create(&cyrillic));
        let errors: Vec<_> = [a.await.unwrap().err(), b.await.unwrap().err()].into_iter().flatten().collect();
        assert_eq!(errors.len(), 1, "round {round}: exactly one of the two is refused: {errors:?}");
        assert_eq!(errors[0].kind(), ErrorKind::AlreadyExists, "round {round}: {}", errors[0]);
        assert!(errors[0].to_string().contains("looks like the existing connection"), "{}", errors[0]);
        assert_ne!(exists::<Connection>(env, &latin).await, exists::<Connection>(env, &cyrillic).await);
    }
}

async fn option_count_and_value_size_are_limited(env: &Env) {
    let plane = &env.plane;
    let keys: Vec<(String, String)> = (0..=MAX_OPTIONS).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let before = audit_state(env).await;
    let too_many = lanyard_control::NewConnection { options: keys.clone(), ..new_connection("many", "rest", &[]) };
    assert_error(
        plane.create_connection(&admin(), too_many).await,
        ErrorKind::Invalid,
        "connection \"many\" would have 129 options; the limit is 128 options per object",
    );
    let at_limit =
        lanyard_control::NewConnection { options: keys[..MAX_OPTIONS].to_vec(), ..new_connection("many", "rest", &[]) };
    plane.create_connection(&admin(), at_limit).await.unwrap();
    let after_create = audit_state(env).await;
    assert_ne!(after_create, before);
    assert_error(
        plane
            .alter_connection(
                &admin(),
                "many",
                &[ConnectionAction::SetOption { key: "one_more".into(), value: "v".into() }],
                None,
            )
            .await,
        ErrorKind::Invalid,
        "action 1: connection \"many\" would have 129 options; the limit is 128 options per object",
    );
    assert_error(
        plane.alter_connection(&admin(), "many", &[ConnectionAction::SetOptions(keys)], None).await,
        ErrorKind::Invalid,
        "action 1: connection \"many\" would have 129 options; the limit is 128 options per object",
    );
    assert_eq!(audit_state(env).await, after_create, "the refused ALTERs recorded nothing");

    let exact = "x".repeat(MAX_OPTION_VALUE_BYTES);
    create_connection(env, new_connection("big", "rest", &[("note", &exact)])).await;
    let over = "é".repeat(MAX_OPTION_VALUE_BYTES / 2 + 1); // 2 bytes each: the limit is in bytes
    assert_error(
        plane.create_connection(&admin(), new_connection("bigger", "rest", &[("note", &over)])).await,
        ErrorKind::Invalid,
        "option \"note\" of connection \"bigger\" is 16386 bytes long; the limit is 16384 bytes per value",
    );
    let storage_keys: Vec<String> = (0..=MAX_OPTIONS).map(|i| format!("k{i}")).collect();
    let many_storage_options: Vec<(&str, &str)> = storage_keys.iter().map(|k| (k.as_str(), "v")).collect();
    assert_error(
        plane.create_backend(&admin(), new_backend("wide", "MEMORY", &many_storage_options)).await,
        ErrorKind::Invalid,
        "credential storage \"wide\" would have 129 options; the limit is 128 options per object",
    );
}

async fn secrets_inside_option_values_are_refused_without_echo(env: &Env) {
    const CANARY: &str = "hunter2-canary-7f3a";
    let plane = &env.plane;
    let before = audit_state(env).await;
    for (value, what) in [
        (format!("password={CANARY}"), "a value assigned to a secret-looking key"),
        (format!("jdbc:mysql://db/app?user=app&password={CANARY}"), "a value assigned to a secret-looking key"),
        (format!("primary https://db.example.com, replica https://app:{CANARY}@db2"), "a URL with a password"),
        (format!("Authorization: Bearer {CANARY}"), "a value assigned to a secret-looking key"),
        (format!("-----BEGIN PRIVATE KEY-----{CANARY}"), "a PEM private key"),
        ("AKIAIOSFODNN7EXAMPLE".to_owned(), "an AWS access key id"),
    ] {
        let result = plane.create_connection(&admin(), new_connection("noted", "rest", &[("note", &value)])).await;
        let error = result.expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::Invalid);
        let message = error.to_string();
        assert_eq!(
            message,
            format!(
                "the value of option \"note\" holds what looks like a secret ({what}); option values are shown and \
                 stored in plain text: keep the secret in a vault entry (CREATE CREDENTIAL … SECRET '…') and refer \
                 to it with CREDENTIAL = <entry>"
            )
        );
        assert!(!message.contains(CANARY));
    }
    create_connection(env, new_connection("noted", "rest", &[("url", "https://api.example.com")])).await;
    assert_error_contains(
        plane
            .alter_connection(
                &admin(),
                "noted",
                &[ConnectionAction::SetOption { key: "note".into(), value: format!("pwd={CANARY}") }],
                None,
            )
            .await,
        ErrorKind::Invalid,
        &["action 1: the value of option \"note\" holds what looks like a secret"],
    );
    // What must stay accepted.
    create_connection(
        env,
        new_connection(
            "legit",
            "postgresql",
            &[
                ("host", "db.example.com"),
                ("sslmode", "require"),
                ("jdbc_url", "jdbc:postgresql://db.example.com:5432/app?user=app&sslmode=verify-full"),
                ("ssl_root_cert", "/etc/lanyard/certs/root.pem"),
                ("note", "the password is in the vault entry pg_login"),
            ],
        ),
    )
    .await;
    // Credential storages: a plain option may not hide one either; link CONFIG neither.
    assert_error_contains(
        plane.create_backend(&admin(), new_backend("mem2", "MEMORY", &[("store", &format!("s?token={CANARY}"))])).await,
        ErrorKind::Invalid,
        &["the value of option \"store\" of credential storage \"mem2\" holds what looks like a secret"],
    );
    let link_named = |name: &str| NewLink {
        database: "default".into(),
        name: name.into(),
        link_type: "HTTP".into(),
        description: None,
        config: serde_json::Map::new(),
        credentials: None,
        or_replace: false,
        if_not_exists: false,
    };
    let link = NewLink {
        config: serde_json::from_value(json!({"url": "https://api.example.com", "note": format!("token: {CANARY}")}))
            .unwrap(),
        ..link_named("api")
    };
    assert_error_contains(
        plane.create_link(&admin(), link).await,
        ErrorKind::Invalid,
        &["the value of CONFIG key \"note\" holds what looks like a secret (a value assigned to a secret-looking key)"],
    );
    // A string inside an array is a value too.
    let in_array = NewLink {
        config: serde_json::from_value(json!({"hosts": ["a.example.com", format!("password={CANARY}")]})).unwrap(),
        ..link_named("api_hosts")
    };
    assert_error_contains(
        plane.create_link(&admin(), in_array).await,
        ErrorKind::Invalid,
        &["the value of CONFIG key \"hosts\" holds what looks like a secret"],
    );
    let log = audit_log(env).await;
    assert!(log.iter().all(|r| !serde_json::to_string(&r.record.detail).unwrap().contains(CANARY)));
    assert!(audit_state(env).await != before, "the accepted creates were recorded");
}
