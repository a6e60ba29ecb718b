//! CREATE / DESCRIBE / SHOW / DROP CONNECTION, and every ALTER CONNECTION behaviour of the seed
//! (`seeds/deltaforge-alter-connection.txt`) plus Lanyard's extra actions.

use lanyard_catalog::Connection;
use lanyard_control::{ConnectionAction, ConnectionView, EntryAction, NamedRef, NewConnection, ObjectKey};
use lanyard_core::{ConnectionType, ErrorKind};

use crate::common::{
    Env, admin, assert_error, audit_state, both, create_connection, create_credential, create_memory_backend, exists,
    last_audit, map, new_connection, options_of, pairs, row, unique_store,
};

both!(
    create_get_list_drop,
    create_refusals,
    alter_seed_examples,
    alter_extensions,
    alter_refusals,
    test_connection_records_results,
    a_write_answers_what_a_read_then_shows,
    an_alter_from_this_nodes_copy_sees_what_another_node_did,
);

async fn create_get_list_drop(env: &Env) {
    let plane = &env.plane;
    let login = create_credential(env, "pg_login", r#"{"username":"app","password":"pw"}"#).await;
    let storage = create_memory_backend(env, "mem", &unique_store()).await;

    let created = plane
        .create_connection(
            &admin(),
            NewConnection {
                description: Some("the main database".into()),
                credential: Some("pg_login".into()),
                credential_storage: Some("mem".into()),
                max_connections: Some(5),
                timeout_seconds: Some(30),
                ..new_connection("prod_pg", "PostgreSQL", &[("host", "db.example.com"), ("port", "5432")])
            },
        )
        .await
        .unwrap();
    assert!(created.created);
    let view = created.value;
    assert_eq!(view.name, "prod_pg");
    assert_eq!(view.entity_ref, "con::prod_pg");
    assert_eq!(view.connection_type.as_str(), "postgresql", "types are stored lower-case");
    assert_eq!(view.description.as_deref(), Some("the main database"));
    assert_eq!(
        view.options.iter_exposed().collect::<Vec<_>>(),
        [("host", "db.example.com"), ("port", "5432")],
        "options keep their order"
    );
    assert_eq!(view.credential, Some(NamedRef { id: login.id, name: "pg_login".into() }));
    assert_eq!(view.credential_storage, Some(NamedRef { id: storage.id, name: "mem".into() }));
    assert_eq!((view.max_connections, view.timeout_seconds), (Some(5), Some(30)));
    assert_eq!((view.version, view.status()), (1, "untested"));

    // The names were resolved to ids and the ids are what the row stores.
    let stored: Connection = row(env, "prod_pg").await;
    assert_eq!(stored.meta.id, view.id);
    assert_eq!(stored.credential_id, Some(login.id));
    assert_eq!(stored.credential_storage_id, Some(storage.id));
    assert_eq!(
        env.raw_text("SELECT entity_ref FROM external_connections WHERE id = $1", &view.id.to_string()).await,
        Some("con::prod_pg".to_owned())
    );
    let record = last_audit(env).await;
    assert_eq!(
        (record.record.action.as_str(), record.record.outcome.as_str(), record.record.principal.as_str()),
        ("connection.create", "allowed", "tester")
    );
    assert_eq!(record.record.object_id, Some(view.id.to_string()));

    // DESCRIBE.
    let described = plane.get_connection(&admin(), "prod_pg").await.unwrap();
    assert_eq!((described.id, described.version, described.credential), (view.id, 1, view.credential.clone()));
    assert_error(
        plane.get_connection(&admin(), "PROD_PG").await,
        ErrorKind::NotFound,
        r#"connection "PROD_PG" does not exist"#,
    );

    // SHOW … LIKE: a case-insensitive substring, where `_` and `%` are plain characters.
    for name in ["Prod_Replica", "staging_pg", "prodxpg", r"odd\name%"] {
        create_connection(env, new_connection(name, "mysql", &[("host", "h")])).await;
    }
    let names = |views: Vec<lanyard_control::ConnectionView>| {
        let mut names: Vec<String> = views.into_iter().map(|v| v.name).collect();
        names.sort();
        names
    };
    assert_eq!(
        names(plane.list_connections(&admin(), None).await.unwrap()),
        ["Prod_Replica", r"odd\name%", "prod_pg", "prodxpg", "staging_pg"]
    );
    assert_eq!(
        names(plane.list_connections(&admin(), Some("PROD")).await.unwrap()),
        ["Prod_Replica", "prod_pg", "prodxpg"]
    );
    assert_eq!(names(plane.list_connections(&admin(), Some("d_")).await.unwrap()), ["Prod_Replica", "prod_pg"]);
    assert_eq!(names(plane.list_connections(&admin(), Some("%")).await.unwrap()), [r"odd\name%"]);
    assert_eq!(names(plane.list_connections(&admin(), Some("\\")).await.unwrap()), [r"odd\name%"]);
    assert_eq!(names(plane.list_connections(&admin(), Some("E%")).await.unwrap()), [r"odd\name%"]);
    assert!(plane.list_connections(&admin(), Some("nothing")).await.unwrap().is_empty());
    let listed = plane.list_connections(&admin(), Some("prod_pg")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].credential, Some(NamedRef { id: login.id, name: "pg_login".into() }));
    assert_eq!(listed[0].credential_storage, Some(NamedRef { id: storage.id, name: "mem".into() }));

    // DROP.
    plane.drop_connection(&admin(), "prod_pg", None).await.unwrap();
    assert!(!exists::<Connection>(env, "prod_pg").await);
    let record = last_audit(env).await;
    assert_eq!(
        (record.record.action.as_str(), record.record.object_name.as_deref()),
        ("connection.drop", Some("prod_pg"))
    );
    assert_error(
        plane.get_connection(&admin(), "prod_pg").await,
        ErrorKind::NotFound,
        r#"connection "prod_pg" does not exist"#,
    );
    assert_error(
        plane.drop_connection(&admin(), "prod_pg", None).await,
        ErrorKind::NotFound,
        r#"connection "prod_pg" does not exist"#,
    );
    // With If-Match: a stale version is refused and leaves the row.
    assert_error(
        plane.drop_connection(&admin(), "staging_pg", Some(7)).await,
        ErrorKind::PreconditionFailed,
        r#"connection "staging_pg" is at version 1, not 7 (If-Match)"#,
    );
    plane.drop_connection(&admin(), "staging_pg", Some(1)).await.unwrap();
    assert!(!exists::<Connection>(env, "staging_pg").await);
}

async fn create_refusals(env: &Env) {
    let plane = &env.plane;
    create_credential(env, "login", "s3cr3t").await;
    let before = audit_state(env).await;

    assert_error(
        plane.create_connection(&admin(), new_connection("c", "mongodb", &[])).await,
        ErrorKind::Invalid,
        &format!(r#"unknown connection type "mongodb"; known types are: {}"#, ConnectionType::spellings().join(", ")),
    );
    for key in ["password", "Password", "api_token", "secret_access_key"] {
        let message = crate::common::assert_error_contains(
            plane.create_connection(&admin(), new_connection("c", "postgresql", &[("host", "h"), (key, "x")])).await,
            ErrorKind::Invalid,
            &[&format!("option {key:?} looks like a secret"), "CREDENTIAL = <entry>"],
        );
        assert!(!message.contains("\"x\""), "{message}");
    }
    crate::common::assert_error_contains(
        plane
            .create_connection(&admin(), new_connection("c", "postgresql", &[("endpoint", "postgres://u:pw@h/db")]))
            .await,
        ErrorKind::Invalid,
        &[r#"option "endpoint" holds a URL with a password"#],
    );
    assert_error(
        plane.create_connection(&admin(), new_connection("c", "postgresql", &[("host", "a"), ("host", "b")])).await,
        ErrorKind::Invalid,
        r#"option "host" is given twice"#,
    );
    assert_error(
        plane
            .create_connection(
                &admin(),
                NewConnection { credential: Some("nope".into()), ..new_connection("c", "postgresql", &[]) },
            )
            .await,
        ErrorKind::NotFound,
        r#"vault entry "nope" does not exist"#,
    );
    assert_error(
        plane
            .create_connection(
                &admin(),
                NewConnection { credential_storage: Some("nope".into()), ..new_connection("c", "s3", &[]) },
            )
            .await,
        ErrorKind::NotFound,
        r#"credential storage "nope" does not exist"#,
    );
    assert_error(
        plane
            .create_connection(
                &admin(),
                NewConnection { max_connections: Some(0), ..new_connection("c", "mysql", &[]) },
            )
            .await,
        ErrorKind::Invalid,
        "MAX_CONNECTIONS must be between 1 and 100000, not 0",
    );
    assert!(!exists::<Connection>(env, "c").await, "no refused create leaves a row");
    assert_eq!(audit_state(env).await, before, "no refused create leaves an audit record");

    // IF NOT EXISTS returns the existing row unchanged; without it a duplicate is an error.
    let first = create_connection(
        env,
        NewConnection { credential: Some("login".into()), ..new_connection("c", "postgresql", &[("host", "one")]) },
    )
    .await;
    let stored: Connection = row(env, "c").await;
    let after_create = audit_state(env).await;
    let again = plane
        .create_connection(
            &admin(),
            NewConnection { if_not_exists: true, ..new_connection("c", "mysql", &[("host", "two"), ("port", "1")]) },
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(
        (again.value.id, again.value.version, again.value.connection_type.as_str()),
        (first.id, 1, "postgresql")
    );
    assert_eq!(again.value.options.iter_exposed().collect::<Vec<_>>(), [("host", "one")]);
    assert_eq!(again.value.credential, first.credential);
    assert_eq!(row::<Connection>(env, "c").await, stored, "IF NOT EXISTS changes nothing");
    assert_eq!(audit_state(env).await, after_create, "IF NOT EXISTS on an existing row is not a change");
    assert_error(
        plane.create_connection(&admin(), new_connection("c", "postgresql", &[])).await,
        ErrorKind::AlreadyExists,
        r#"connection "c" already exists"#,
    );
    assert_eq!(row::<Connection>(env, "c").await, stored);
}

/// The seed's examples, each against its own connection, then the chained one.
async fn alter_seed_examples(env: &Env) {
    let plane = &env.plane;
    let v1 = create_credential(env, "prod_pg_password", "v1").await;
    let v2 = create_credential(env, "prod_pg_password_v2", "v2").await;
    let eu = create_memory_backend(env, "prod_aws_sm_eu", &unique_store()).await;
    let us = create_memory_backend(env, "prod_aws_sm_us", &unique_store()).await;
    let seed_options = [("host", "new-db.example.com"), ("port", "5432"), ("database", "app"), ("ssl_enabled", "true")];

    // SET OPTIONS replaces the entire map: keys not in the new list are gone.
    let pg = create_connection(
        env,
        NewConnection {
            credential: Some("prod_pg_password".into()),
            ..new_connection(
                "prod_pg",
                "postgresql",
                &[("host", "old-db.example.com"), ("port", "5433"), ("connection_timeout", "5"), ("sslmode", "off")],
            )
        },
    )
    .await;
    let altered = plane
        .alter_connection(&admin(), "prod_pg", &[ConnectionAction::SetOptions(pairs(&seed_options))], None)
        .await
        .unwrap();
    assert_eq!((altered.id, altered.version), (pg.id, 2));
    assert_eq!(altered.options.iter_exposed().collect::<Vec<_>>(), seed_options);
    let stored: Connection = row(env, "prod_pg").await;
    assert_eq!(options_of(&stored), map(&seed_options));
    assert_eq!(stored.credential_id, Some(v1.id), "SET OPTIONS leaves the credential alone");

    // SET CREDENTIAL: the name is resolved to the entry's id, and the id is stored.
    let altered = plane
        .alter_connection(&admin(), "prod_pg", &[ConnectionAction::SetCredential("prod_pg_password_v2".into())], None)
        .await
        .unwrap();
    assert_eq!(altered.credential, Some(NamedRef { id: v2.id, name: "prod_pg_password_v2".into() }));
    assert_eq!(altered.version, 3);
    let stored: Connection = row(env, "prod_pg").await;
    assert_eq!(stored.credential_id, Some(v2.id));
    assert_eq!(options_of(&stored), map(&seed_options), "SET CREDENTIAL leaves the options alone");

    // SET CREDENTIAL STORAGE: the same for the backend.
    create_connection(
        env,
        NewConnection {
            credential_storage: Some("prod_aws_sm_us".into()),
            ..new_connection("raw_data_s3", "s3", &[("bucket", "raw-data")])
        },
    )
    .await;
    assert_eq!(row::<Connection>(env, "raw_data_s3").await.credential_storage_id, Some(us.id));
    let altered = plane
        .alter_connection(
            &admin(),
            "raw_data_s3",
            &[ConnectionAction::SetCredentialStorage("prod_aws_sm_eu".into())],
            None,
        )
        .await
        .unwrap();
    assert_eq!(altered.credential_storage, Some(NamedRef { id: eu.id, name: "prod_aws_sm_eu".into() }));
    let stored: Connection = row(env, "raw_data_s3").await;
    assert_eq!((stored.credential_storage_id, stored.credential_id), (Some(eu.id), None));

    // RENAME TO: the id is immutable, the old name is gone, entity_ref follows the name.
    let old = create_connection(env, new_connection("old_name", "rest", &[("endpoint", "https://api")])).await;
    let renamed = plane
        .alter_connection(&admin(), "old_name", &[ConnectionAction::RenameTo("new_name".into())], None)
        .await
        .unwrap();
    assert_eq!((renamed.id, renamed.name.as_str(), renamed.entity_ref.as_str()), (old.id, "new_name", "con::new_name"));
    assert_error(
        plane.get_connection(&admin(), "old_name").await,
        ErrorKind::NotFound,
        r#"connection "old_name" does not exist"#,
    );
    assert_error(
        plane.alter_connection(&admin(), "old_name", &[ConnectionAction::UnsetCredential], None).await,
        ErrorKind::NotFound,
        r#"connection "old_name" does not exist"#,
    );
    let fetched = plane.get_connection(&admin(), "new_name").await.unwrap();
    assert_eq!((fetched.id, fetched.entity_ref.as_str()), (old.id, "con::new_name"));
    assert_eq!(
        env.raw_text("SELECT entity_ref FROM external_connections WHERE id = $1", &old.id.to_string()).await,
        Some("con::new_name".to_owned()),
        "the stored entity_ref follows the rename"
    );
    let record = last_audit(env).await;
    assert_eq!(record.record.detail["renamed_from"], "old_name");
    assert_eq!(record.record.object_name.as_deref(), Some("new_name"));
    // A job holding the id keeps resolving it.
    let by_id = plane.resolver().resolve(old.id).await.unwrap();
    assert_eq!(by_id.name(), "new_name");

    // The chained example: SET OPTIONS, SET CREDENTIAL, RENAME TO, applied in order, as one change.
    create_connection(
        env,
        NewConnection {
            credential: Some("prod_pg_password".into()),
            ..new_connection("chained", "postgresql", &[("host", "old"), ("sslmode", "off")])
        },
    )
    .await;
    let before = audit_state(env).await;
    let chained = plane
        .alter_connection(
            &admin(),
            "chained",
            &[
                ConnectionAction::SetOptions(pairs(&seed_options)),
                ConnectionAction::SetCredential("prod_pg_password_v2".into()),
                ConnectionAction::RenameTo("prod_pg_v2".into()),
            ],
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!((chained.name.as_str(), chained.version), ("prod_pg_v2", 2), "one change, one version");
    let stored: Connection = row(env, "prod_pg_v2").await;
    assert_eq!(options_of(&stored), map(&seed_options));
    assert_eq!(stored.credential_id, Some(v2.id));
    assert!(!exists::<Connection>(env, "chained").await);
    let after = audit_state(env).await;
    assert_eq!(after.0, before.0 + 1, "one audit record for the whole ALTER");
    let record = last_audit(env).await;
    assert_eq!(record.record.action.as_str(), "connection.alter");
    assert_eq!(
        record.record.detail["actions"],
        serde_json::json!([
            {"set_options": {"host": "new-db.example.com", "port": "5432", "database": "app", "ssl_enabled": "true"}},
            {"set_credential": "prod_pg_password_v2"},
            {"rename_to": "prod_pg_v2"},
        ])
    );
    assert_eq!(
        (record.record.detail["from_version"].as_i64(), record.record.detail["to_version"].as_i64()),
        (Some(1), Some(2))
    );

    // "In order": a later action sees the earlier ones' result.
    let altered = plane
        .alter_connection(
            &admin(),
            "prod_pg_v2",
            &[
                ConnectionAction::SetOption { key: "extra".into(), value: "1".into() },
                ConnectionAction::SetOptions(pairs(&[("host", "h2")])),
                ConnectionAction::SetOption { key: "port".into(), value: "6432".into() },
                ConnectionAction::RenameTo("step_one".into()),
                ConnectionAction::RenameTo("step_two".into()),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(altered.name, "step_two");
    assert_eq!(options_of(&row(env, "step_two").await), map(&[("host", "h2"), ("port", "6432")]));
    assert!(!exists::<Connection>(env, "step_one").await);
}

async fn alter_extensions(env: &Env) {
    let plane = &env.plane;
    let login = create_credential(env, "login", "s").await;
    let storage = create_memory_backend(env, "mem", &unique_store()).await;
    create_connection(
        env,
        NewConnection {
            credential: Some("login".into()),
            credential_storage: Some("mem".into()),
            ..new_connection("c", "postgresql", &[("host", "h"), ("port", "5432")])
        },
    )
    .await;
    let stored: Connection = row(env, "c").await;
    assert_eq!((stored.credential_id, stored.credential_storage_id), (Some(login.id), Some(storage.id)));

    // SET OPTION adds or replaces one key; UNSET OPTION removes one.
    plane
        .alter_connection(
            &admin(),
            "c",
            &[
                ConnectionAction::SetOption { key: "port".into(), value: "6432".into() },
                ConnectionAction::SetOption { key: "database".into(), value: "app".into() },
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(options_of(&row(env, "c").await), map(&[("host", "h"), ("port", "6432"), ("database", "app")]));
    let altered = plane.alter_connection(&admin(), "c", &[ConnectionAction::UnsetOption("host".into())], None).await;
    assert_eq!(altered.unwrap().version, 3);
    assert_eq!(options_of(&row(env, "c").await), map(&[("port", "6432"), ("database", "app")]));
    assert_error(
        plane.alter_connection(&admin(), "c", &[ConnectionAction::UnsetOption("host".into())], None).await,
        ErrorKind::Invalid,
        r#"action 1: connection "c" has no option "host""#,
    );

    // UNSET CREDENTIAL / UNSET CREDENTIAL STORAGE clear the references, nothing else.
    let altered = plane.alter_connection(&admin(), "c", &[ConnectionAction::UnsetCredential], None).await.unwrap();
    assert_eq!((altered.credential, altered.credential_storage.map(|s| s.id)), (None, Some(storage.id)));
    let stored: Connection = row(env, "c").await;
    assert_eq!((stored.credential_id, stored.credential_storage_id), (None, Some(storage.id)));
    plane.alter_connection(&admin(), "c", &[ConnectionAction::UnsetCredentialStorage], None).await.unwrap();
    let stored: Connection = row(env, "c").await;
    assert_eq!((stored.credential_id, stored.credential_storage_id), (None, None));
    assert_eq!(options_of(&stored), map(&[("port", "6432"), ("database", "app")]));

    // SET DESCRIPTION / MAX_CONNECTIONS / TIMEOUT, and clearing them.
    plane
        .alter_connection(
            &admin(),
            "c",
            &[
                ConnectionAction::SetDescription(Some("d".into())),
                ConnectionAction::SetMaxConnections(Some(10)),
                ConnectionAction::SetTimeout(Some(0)),
            ],
            None,
        )
        .await
        .unwrap();
    let stored: Connection = row(env, "c").await;
    assert_eq!(
        (stored.description.as_deref(), stored.max_connections, stored.timeout_seconds),
        (Some("d"), Some(10), Some(0))
    );
    plane
        .alter_connection(
            &admin(),
            "c",
            &[
                ConnectionAction::SetDescription(None),
                ConnectionAction::SetMaxConnections(None),
                ConnectionAction::SetTimeout(None),
            ],
            None,
        )
        .await
        .unwrap();
    let stored: Connection = row(env, "c").await;
    assert_eq!(
        (stored.description, stored.max_connections, stored.timeout_seconds, stored.meta.version),
        (None, None, None, 7)
    );

    // Renaming to its own name is allowed and keeps the row, also by way of another name.
    let same = plane.alter_connection(&admin(), "c", &[ConnectionAction::RenameTo("c".into())], None).await.unwrap();
    assert_eq!((same.name.as_str(), same.version), ("c", 8));
    let back = plane
        .alter_connection(
            &admin(),
            "c",
            &[ConnectionAction::RenameTo("c_tmp".into()), ConnectionAction::RenameTo("c".into())],
            None,
        )
        .await
        .unwrap();
    assert_eq!((back.name.as_str(), back.version), ("c", 9));
}

async fn alter_refusals(env: &Env) {
    let plane = &env.plane;
    create_connection(env, new_connection("a", "postgresql", &[("host", "h")])).await;
    create_connection(env, new_connection("b", "postgresql", &[("host", "h")])).await;
    let stored: Connection = row(env, "a").await;
    let before = audit_state(env).await;

    assert_error(
        plane.alter_connection(&admin(), "a", &[], None).await,
        ErrorKind::Invalid,
        "ALTER CONNECTION needs at least one action",
    );
    assert_error(
        plane.alter_connection(&admin(), "missing", &[ConnectionAction::UnsetCredential], None).await,
        ErrorKind::NotFound,
        r#"connection "missing" does not exist"#,
    );
    assert_error(
        plane.alter_connection(&admin(), "a", &[ConnectionAction::RenameTo("b".into())], None).await,
        ErrorKind::AlreadyExists,
        r#"action 1: connection "b" already exists"#,
    );
    assert_error(
        plane.alter_connection(&admin(), "a", &[ConnectionAction::RenameTo(" padded".into())], None).await,
        ErrorKind::Invalid,
        r#"action 1: invalid connection name " padded": name must not start or end with whitespace"#,
    );
    crate::common::assert_error_contains(
        plane
            .alter_connection(
                &admin(),
                "a",
                &[ConnectionAction::SetOption { key: "client_secret".into(), value: "x".into() }],
                None,
            )
            .await,
        ErrorKind::Invalid,
        &[r#"action 1: option "client_secret" looks like a secret"#],
    );
    assert_error(
        plane.alter_connection(&admin(), "a", &[ConnectionAction::SetCredential("nope".into())], None).await,
        ErrorKind::NotFound,
        r#"action 1: vault entry "nope" does not exist"#,
    );
    assert_error(
        plane.alter_connection(&admin(), "a", &[ConnectionAction::SetCredentialStorage("nope".into())], None).await,
        ErrorKind::NotFound,
        r#"action 1: credential storage "nope" does not exist"#,
    );
    assert_error(
        plane.alter_connection(&admin(), "a", &[ConnectionAction::SetTimeout(Some(-1))], None).await,
        ErrorKind::Invalid,
        "action 1: TIMEOUT must be between 0 and 86400 seconds, not -1",
    );
    assert_error(
        plane.alter_connection(&admin(), "a", &[ConnectionAction::UnsetCredential], Some(2)).await,
        ErrorKind::PreconditionFailed,
        r#"connection "a" is at version 1, not 2 (If-Match)"#,
    );
    assert_eq!(row::<Connection>(env, "a").await, stored, "no refused ALTER changes the row");
    assert_eq!(audit_state(env).await, before, "no refused ALTER leaves an audit record");
}

/// A prober that passes when the credential it is handed (resolved fresh) is `good`.
struct PasswordProber;

#[async_trait::async_trait]
impl lanyard_control::ConnectionProber for PasswordProber {
    async fn probe(&self, connection: &lanyard_resolve::ResolvedConnection) -> lanyard_control::ProbeResult {
        match &connection.auth {
            lanyard_resolve::Auth::Secret(value) if value.expose_bytes() == b"good" => {
                lanyard_control::ProbeResult::passed(Some("PostgreSQL 16.4".into()))
            }
            _ => lanyard_control::ProbeResult::failed("password authentication failed"),
        }
    }
}

async fn test_connection_records_results(env: &Env) {
    let plane = env.plane.clone().with_prober(std::sync::Arc::new(PasswordProber));
    create_credential(env, "login", "good").await;
    create_connection(
        env,
        NewConnection { credential: Some("login".into()), ..new_connection("c", "postgresql", &[]) },
    )
    .await;
    let before = audit_state(env).await;

    let passed = plane.test_connection(&admin(), "c").await.unwrap();
    assert!(passed.passed);
    assert_eq!((passed.server_version.as_deref(), passed.error.as_deref()), (Some("PostgreSQL 16.4"), None));
    assert!(passed.latency_ms >= 0);
    let last = passed.connection.last_test.clone().expect("recorded");
    assert_eq!(
        (last.status.as_str(), last.server_version.as_deref(), last.latency_ms),
        ("ok", Some("PostgreSQL 16.4"), Some(passed.latency_ms))
    );
    // The result is bookkeeping beside the row: the version (the ETag) and updated_at stay as they were.
    assert_eq!((passed.connection.status(), passed.connection.version), ("ok", 1));
    let stored: Connection = row(env, "c").await;
    assert_eq!(stored.last_test, Some(last.clone()));
    assert_eq!((stored.meta.version, stored.meta.updated_at), (1, stored.meta.created_at));
    let record = last_audit(env).await;
    assert_eq!(audit_state(env).await.0, before.0 + 1);
    assert_eq!((record.record.action.as_str(), record.record.outcome.as_str()), ("connection.test", "allowed"));
    assert_eq!(record.record.detail["result"], "PASSED");
    // An ALTER keeps the last test (it writes only what it changes) and bumps the version once.
    let altered = plane
        .alter_connection(&admin(), "c", &[ConnectionAction::SetDescription(Some("tested".into()))], Some(1))
        .await
        .unwrap();
    assert_eq!((altered.version, altered.last_test.as_ref()), (2, Some(&last)));

    // A rotation in the vault is the next test's input, with no ALTER CONNECTION in between.
    plane
        .alter_entry(
            &admin(),
            &lanyard_control::ObjectKey::Name("login".into()),
            &[lanyard_control::EntryAction::SetSecret(lanyard_core::SecretString::new("stale"))],
            None,
        )
        .await
        .unwrap();
    let failed = plane.test_connection(&admin(), "c").await.unwrap();
    assert!(!failed.passed);
    assert_eq!(failed.error.as_deref(), Some("password authentication failed"));
    assert_eq!(failed.connection.status(), "failed");
    assert_eq!(
        row::<Connection>(env, "c").await.last_test.unwrap().error.as_deref(),
        Some("password authentication failed")
    );
    assert_eq!(last_audit(env).await.record.outcome.as_str(), "failed");
    let listed = plane.list_connections(&admin(), Some("c")).await.unwrap();
    assert_eq!(listed[0].status(), "failed");

    // A credential that cannot be read is a FAILED result naming connection, entry and backend, not an error.
    let store = unique_store();
    create_memory_backend(env, "flaky", &store).await;
    plane.create_entry(&admin(), crate::common::credential("flaky_login", "good", Some("flaky"))).await.unwrap();
    create_connection(
        env,
        NewConnection { credential: Some("flaky_login".into()), ..new_connection("c2", "mysql", &[]) },
    )
    .await;
    lanyard_vault_memory::store(&store).set_faults(lanyard_vault_memory::Faults {
        fail_rate: 1.0,
        fail_kind: lanyard_vault_memory::FailKind::PermissionDenied,
        ..Default::default()
    });
    let unreadable = plane.test_connection(&admin(), "c2").await.unwrap();
    assert!(!unreadable.passed);
    let error = unreadable.error.unwrap();
    for part in [r#"connection "c2""#, r#"credential "flaky_login""#, r#"backend "flaky""#, "permission denied"] {
        assert!(error.contains(part), "{error:?} does not name {part}");
    }
    lanyard_vault_memory::store(&store).set_faults(lanyard_vault_memory::Faults::default());
    assert!(plane.test_connection(&admin(), "c2").await.unwrap().passed);

    assert_error(
        plane.test_connection(&admin(), "nope").await,
        ErrorKind::NotFound,
        r#"connection "nope" does not exist"#,
    );
}

/// Every CREATE and ALTER CONNECTION answers with what a read afterwards shows, names and the entry's expiry included:
/// the answer is made of what the write read (the row with the names of what it refers to, in one statement) and of
/// its actions' own lookups, not read again after the write.
async fn a_write_answers_what_a_read_then_shows(env: &Env) {
    let plane = &env.plane;
    let shown = async |written: ConnectionView| {
        let read = plane.get_connection(&admin(), &written.name).await.unwrap();
        let written = ConnectionView { warnings: Vec::new(), ..written };
        assert_eq!(format!("{written:?}"), format!("{read:?}"));
        written
    };
    let a = create_credential(env, "a", "s").await;
    let b = create_credential(env, "b", "s").await;
    let m1 = create_memory_backend(env, "m1", &unique_store()).await;
    let m2 = create_memory_backend(env, "m2", &unique_store()).await;
    let request = NewConnection {
        credential: Some("a".into()),
        credential_storage: Some("m1".into()),
        ..new_connection("c", "postgresql", &[("host", "h")])
    };
    let created = shown(create_connection(env, request.clone()).await).await;
    assert_eq!(created.credential, Some(NamedRef { id: a.id, name: "a".into() }));
    assert_eq!(created.credential_storage, Some(NamedRef { id: m1.id, name: "m1".into() }));

    // The entry changes name and expiry behind the connection's back: the next ALTER shows them as they are now.
    let actions = [EntryAction::RenameTo("a2".into()), EntryAction::SetExpires(Some("2020-01-01".into()))];
    plane.alter_entry(&admin(), &ObjectKey::Name("a".into()), &actions, None).await.unwrap();
    let alter = async |name: &str, actions: &[ConnectionAction]| {
        shown(plane.alter_connection(&admin(), name, actions, None).await.unwrap()).await
    };
    let altered = alter("c", &[ConnectionAction::SetOption { key: "port".into(), value: "1".into() }]).await;
    assert_eq!(altered.credential.as_ref().map(|c| c.name.as_str()), Some("a2"));
    assert!(altered.credential_expires_at.is_some());

    // Actions that change references: the answer shows the names their lookups found.
    let altered = alter("c", &[ConnectionAction::SetCredential("b".into())]).await;
    assert_eq!((altered.credential.map(|c| c.id), altered.credential_expires_at), (Some(b.id), None));
    let altered =
        alter("c", &[ConnectionAction::SetCredentialStorage("m2".into()), ConnectionAction::UnsetCredential]).await;
    assert_eq!((altered.credential, altered.credential_storage.map(|s| s.id)), (None, Some(m2.id)));
    let altered = alter(
        "c",
        &[
            ConnectionAction::SetCredential("a2".into()),
            ConnectionAction::UnsetCredentialStorage,
            ConnectionAction::RenameTo("c2".into()),
        ],
    )
    .await;
    assert_eq!(
        (altered.name.as_str(), altered.credential.map(|c| c.id), altered.credential_storage),
        ("c2", Some(a.id), None)
    );

    // CREATE … IF NOT EXISTS of an existing one answers with it as it is.
    let request = NewConnection { if_not_exists: true, ..NewConnection { name: "c2".into(), ..request } };
    let existing = plane.create_connection(&admin(), request).await.unwrap();
    assert!(!existing.created);
    shown(existing.value).await;
}

/// On PostgreSQL an ALTER first tries the copy of the row its node wrote last, without reading it. Whatever another
/// node did since (an ALTER, a TEST, a renamed entry, a DROP and a new row of the same name), the answer and the
/// stored row are those of a change made on the row as it is now, and nothing is lost; when nothing happened, the
/// ALTER is one round trip. (On SQLite every ALTER reads its row in its transaction: the same answers.)
async fn an_alter_from_this_nodes_copy_sees_what_another_node_did(env: &Env) {
    let here = &env.plane;
    let catalog = lanyard_catalog::Catalog::open(&env.url).await.unwrap();
    let other = lanyard_control::ControlPlane::new(catalog, crate::common::registry(), Default::default())
        .with_prober(std::sync::Arc::new(lanyard_control::NoProber));
    let set = |key: &str, value: &str| [ConnectionAction::SetOption { key: key.into(), value: value.into() }];
    let answered_as_read = async |written: ConnectionView| {
        let read = other.get_connection(&admin(), &written.name).await.unwrap();
        assert_eq!(format!("{:?}", ConnectionView { warnings: Vec::new(), ..written.clone() }), format!("{read:?}"));
        written
    };
    create_credential(env, "e", "s").await;
    let request = NewConnection { credential: Some("e".into()), ..new_connection("c", "postgresql", &[]) };
    create_connection(env, request.clone()).await;
    here.alter_connection(&admin(), "c", &set("a", "1"), None).await.unwrap();

    // Nothing happened elsewhere: on PostgreSQL, one round trip (the UPDATE), and the same answer as a read.
    let trips = here.catalog().round_trips();
    let altered = answered_as_read(here.alter_connection(&admin(), "c", &set("a", "2"), Some(2)).await.unwrap()).await;
    if env.db == crate::common::Db::Postgres {
        assert_eq!(here.catalog().round_trips() - trips, 1, "an ALTER on this node's copy reads nothing");
    }
    assert_eq!((altered.version, altered.options.get("a").map(|v| v.expose())), (3, Some("2")));

    // The other node alters the row, tests it (which keeps its version) and renames its entry.
    other.alter_connection(&admin(), "c", &set("b", "1"), None).await.unwrap();
    other.test_connection(&admin(), "c").await.unwrap();
    let rename = [EntryAction::RenameTo("e2".into())];
    other.alter_entry(&admin(), &ObjectKey::Name("e".into()), &rename, None).await.unwrap();
    // If-Match holds the version the other node made: this node's copy is behind, and the ALTER still succeeds.
    let altered = answered_as_read(here.alter_connection(&admin(), "c", &set("x", "1"), Some(4)).await.unwrap()).await;
    assert_eq!(altered.version, 5);
    assert_eq!(options_of(&row::<Connection>(env, "c").await), map(&[("a", "2"), ("b", "1"), ("x", "1")]));
    assert_eq!(altered.credential.as_ref().map(|e| e.name.as_str()), Some("e2"));
    assert!(altered.last_test.is_some(), "the other node's test shows");
    let audit = last_audit(env).await;
    assert_eq!(
        (audit.record.detail["from_version"].as_i64(), audit.record.detail["to_version"].as_i64()),
        (Some(4), Some(5))
    );

    // A stale copy never makes a refusal: UNSET of an option only the other node set.
    other.alter_connection(&admin(), "c", &set("y", "1"), None).await.unwrap();
    let unset = [ConnectionAction::UnsetOption("y".into())];
    answered_as_read(here.alter_connection(&admin(), "c", &unset, None).await.unwrap()).await;
    // Nor hides one: If-Match of a version the row has left.
    other.alter_connection(&admin(), "c", &set("z", "1"), None).await.unwrap();
    let stale = here.alter_connection(&admin(), "c", &set("z", "2"), Some(7)).await;
    crate::common::assert_error_contains(stale, ErrorKind::PreconditionFailed, &["at version 8, not 7"]);

    // The other node drops the row and creates a new one of the same name: this node alters the new one.
    other.drop_connection(&admin(), "c", None).await.unwrap();
    other.create_connection(&admin(), NewConnection { credential: Some("e2".into()), ..request }).await.unwrap();
    let altered = answered_as_read(here.alter_connection(&admin(), "c", &set("n", "1"), None).await.unwrap()).await;
    assert_eq!((altered.version, altered.options.len()), (2, 1));
    other.close().await;
}
