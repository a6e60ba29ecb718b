//! Links (the SingleStore dialect) in the Control Plane: the seed's ALTER LINK examples and SHOW CREATE LINK in its
//! exact shape, CREATE OR REPLACE / IF NOT EXISTS, CREDENTIALS kept in an entry the link owns (material first, hidden,
//! deleted with the link), CREDENTIALS FROM VAULT, databases, and all-or-nothing ALTERs.

use lanyard_catalog::{Link, VaultEntry};
use lanyard_control::{CredentialsSource, LinkAction, LinkCredentialsView, NewLink};
use lanyard_core::{ErrorKind, LinkType, SecretString};
use serde_json::{Value, json};

use crate::common::{
    Env, admin, assert_error, assert_error_contains, audit_log, audit_state, both, create_credential, create_target,
    local_backend, local_contents, material_in, new_pipeline,
};

both!(
    the_seed_examples_show_the_updated_definition,
    or_replace_keeps_the_id_and_refuses_a_new_type,
    owned_credentials_are_hidden_and_go_with_the_link,
    credentials_from_vault_follow_the_entry,
    bad_input_changes_nothing,
    a_failing_second_clause_leaves_everything_as_before,
    databases_scope_links,
    pipelines_keep_their_link,
    concurrent_creates_share_a_new_database,
    singlestores_documented_links_are_accepted,
    concurrent_credential_key_updates_lose_nothing,
    drop_racing_alter_leaves_no_material,
);

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn new_link(name: &str, link_type: &str, config: Value, credentials: Option<&str>) -> NewLink {
    NewLink {
        database: "default".into(),
        name: name.into(),
        link_type: link_type.into(),
        description: None,
        config: object(config),
        credentials: credentials.map(|c| CredentialsSource::Json(SecretString::new(c.to_owned()))),
        or_replace: false,
        if_not_exists: false,
    }
}

fn config_key(key: &str, value: Value) -> LinkAction {
    LinkAction::ConfigKey { key: key.into(), value }
}

fn credentials_key(key: &str, value: &str) -> LinkAction {
    LinkAction::CredentialsKey { key: key.into(), value: SecretString::new(value.to_owned()) }
}

async fn show_create(env: &Env, name: &str) -> String {
    env.plane.show_create_link(&admin(), "default", name).await.unwrap().create_link
}

/// The material of the entry the link owns, as JSON.
async fn owned_credentials(env: &Env, name: &str) -> Value {
    let link: Link = env.plane.catalog().get_by_name(&["default", name]).await.unwrap();
    let local = local_backend(env).await;
    let bytes = material_in(&local, link.credential_id.expect("credentials")).await.expect("material");
    serde_json::from_slice(&bytes).unwrap()
}

fn seed_shape(config: &str) -> String {
    format!(
        "CREATE LINK `analytics_link` AS S3\n    CONFIG {}\n    CREDENTIALS <CREDENTIALS REDACTED>",
        Value::String(config.to_owned())
    )
}

async fn the_seed_examples_show_the_updated_definition(env: &Env) {
    let plane = &env.plane;
    let created = plane
        .create_link(
            &admin(),
            new_link(
                "analytics_link",
                "S3",
                json!({"disable_gunzip": false}),
                Some("{\"aws_access_key_id\":\"initial_key_id\",\n\"aws_secret_access_key\":\"initial_secret\"}"),
            ),
        )
        .await
        .unwrap();
    assert!(created.created);
    assert_eq!(created.value.credentials, Some(LinkCredentialsView::Owned));
    let id = created.value.id;
    let alter = |actions: Vec<LinkAction>| async move {
        plane.alter_link(&admin(), "default", "analytics_link", &actions, None).await.unwrap()
    };
    alter(vec![config_key("region", json!("us-east-1"))]).await;
    assert_eq!(
        show_create(env, "analytics_link").await,
        seed_shape(r#"{"disable_gunzip":false,"region":"us-east-1"}"#)
    );
    alter(vec![config_key("region", json!("us-west-2"))]).await;
    assert_eq!(
        show_create(env, "analytics_link").await,
        seed_shape(r#"{"disable_gunzip":false,"region":"us-west-2"}"#)
    );
    alter(vec![LinkAction::ConfigJson(object(json!({"region": "eu-central-1", "disable_gunzip": true})))]).await;
    assert_eq!(
        show_create(env, "analytics_link").await,
        seed_shape(r#"{"region":"eu-central-1","disable_gunzip":true}"#)
    );
    alter(vec![credentials_key("aws_access_key_id", "rotated_key_id")]).await;
    assert_eq!(
        owned_credentials(env, "analytics_link").await,
        json!({"aws_access_key_id": "rotated_key_id", "aws_secret_access_key": "initial_secret"})
    );
    alter(vec![LinkAction::CredentialsJson(SecretString::new(
        r#"{"aws_access_key_id":"final_key_id","aws_secret_access_key":"final_secret"}"#.to_owned(),
    ))])
    .await;
    assert_eq!(
        owned_credentials(env, "analytics_link").await,
        json!({"aws_access_key_id": "final_key_id", "aws_secret_access_key": "final_secret"})
    );
    let view = alter(vec![
        LinkAction::ConfigJson(object(json!({"region": "us-west-2", "disable_gunzip": true}))),
        credentials_key("aws_access_key_id", "rotated_key_id"),
    ])
    .await;
    assert_eq!(view.id, id, "ALTER keeps the id");
    assert_eq!(view.version, 7);
    assert_eq!(
        owned_credentials(env, "analytics_link").await,
        json!({"aws_access_key_id": "rotated_key_id", "aws_secret_access_key": "final_secret"})
    );
    // `'{}'` clears.
    alter(vec![LinkAction::ConfigJson(object(json!({})))]).await;
    assert_eq!(
        show_create(env, "analytics_link").await,
        "CREATE LINK `analytics_link` AS S3\n    CONFIG \"{}\"\n    CREDENTIALS <CREDENTIALS REDACTED>"
    );
    let log = audit_log(env).await;
    let alters: Vec<_> = log.iter().filter(|r| r.record.action.as_str() == "link.alter").collect();
    assert_eq!(alters.len(), 7);
    let text = serde_json::to_string(&log.iter().map(|r| &r.record.detail).collect::<Vec<_>>()).unwrap();
    for secret in ["initial_secret", "final_secret", "rotated_key_id", "initial_key_id", "final_key_id"] {
        assert!(!text.contains(secret), "{secret} in the audit log: {text}");
    }
}

async fn or_replace_keeps_the_id_and_refuses_a_new_type(env: &Env) {
    let plane = &env.plane;
    let first =
        plane.create_link(&admin(), new_link("l", "S3", json!({"region": "a"}), Some(r#"{"k":"v1"}"#))).await.unwrap();
    assert_error_contains(
        plane.create_link(&admin(), new_link("l", "S3", json!({}), None)).await,
        ErrorKind::AlreadyExists,
        &["link \"default.l\" already exists"],
    );
    let same = plane
        .create_link(&admin(), NewLink { if_not_exists: true, ..new_link("l", "AZURE", json!({}), None) })
        .await
        .unwrap();
    assert!(!same.created);
    assert_eq!(same.value.version, first.value.version);
    let replaced = plane
        .create_link(
            &admin(),
            NewLink { or_replace: true, ..new_link("l", "s3", json!({"region": "b"}), Some(r#"{"k":"v2"}"#)) },
        )
        .await
        .unwrap();
    assert!(!replaced.created, "replaced, not created");
    assert_eq!(replaced.value.id, first.value.id);
    assert_eq!(replaced.value.config, object(json!({"region": "b"})));
    assert_eq!(owned_credentials(env, "l").await, json!({"k": "v2"}));
    let before = audit_state(env).await;
    assert_error_contains(
        plane.create_link(&admin(), NewLink { or_replace: true, ..new_link("l", "AZURE", json!({}), None) }).await,
        ErrorKind::Invalid,
        &["is a S3 link", "cannot change its type to AZURE"],
    );
    assert_eq!(audit_state(env).await, before);
    // Replaced without CREDENTIALS: the owned entry and its material go.
    let owned = replaced.value.id;
    let entries_before = local_contents(env).await.len();
    let bare = plane
        .create_link(&admin(), NewLink { or_replace: true, ..new_link("l", "S3", json!({}), None) })
        .await
        .unwrap();
    assert_eq!(bare.value.id, owned);
    assert_eq!(bare.value.credentials, None);
    assert_eq!(local_contents(env).await.len(), entries_before - 1);
    assert_eq!(show_create(env, "l").await, "CREATE LINK `l` AS S3\n    CONFIG \"{}\"");
}

async fn owned_credentials_are_hidden_and_go_with_the_link(env: &Env) {
    let plane = &env.plane;
    create_credential(env, "visible", "x").await;
    plane.create_link(&admin(), new_link("l", "S3", json!({}), Some(r#"{"a":"canary-1"}"#))).await.unwrap();
    let entries = plane.list_entries(&admin(), None).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["visible"]);
    let link: Link = plane.catalog().get_by_name(&["default", "l"]).await.unwrap();
    let owned: VaultEntry = plane.catalog().get(link.credential_id.unwrap()).await.unwrap();
    assert_eq!(owned.owner_link_id, Some(link.meta.id));
    assert_error(
        plane.get_entry(&admin(), &lanyard_control::ObjectKey::Name(owned.name.to_string())).await,
        ErrorKind::NotFound,
        &format!("vault entry {:?} does not exist", owned.name.as_str()),
    );
    assert_error_contains(
        plane.create_entry(&admin(), crate::common::credential("link::mine", "x", None)).await,
        ErrorKind::Invalid,
        &["reserved for the CREDENTIALS of links"],
    );
    let count = local_contents(env).await.len();
    plane.drop_link(&admin(), "default", "l", None).await.unwrap();
    assert_eq!(local_contents(env).await.len(), count - 1, "the owned material goes with the link");
    assert!(plane.catalog().get::<VaultEntry>(owned.meta.id).await.is_err(), "the owned row goes too");
    assert_error(
        plane.drop_link(&admin(), "default", "l", None).await,
        ErrorKind::NotFound,
        "link \"default.l\" does not exist",
    );
}

async fn credentials_from_vault_follow_the_entry(env: &Env) {
    let plane = &env.plane;
    create_credential(env, "shared", r#"{"aws_access_key_id":"AK1","aws_secret_access_key":"S1"}"#).await;
    let link = plane
        .create_link(
            &admin(),
            NewLink {
                credentials: Some(CredentialsSource::Entry("shared".into())),
                ..new_link("l", "S3", json!({}), None)
            },
        )
        .await
        .unwrap()
        .value;
    let Some(LinkCredentialsView::Entry(entry)) = &link.credentials else { panic!("{link:?}") };
    assert_eq!(entry.name, "shared");
    assert_eq!(
        show_create(env, "l").await,
        "CREATE LINK `l` AS S3\n    CONFIG \"{}\"\n    CREDENTIALS FROM VAULT `shared`"
    );
    // The link is resolved through the entry, fresh.
    let resolved = plane.resolver().resolve(lanyard_resolve::ConnectionRef::LinkId(link.id)).await.unwrap();
    let lanyard_resolve::Auth::Secret(value) = &resolved.auth else { panic!("a secret") };
    assert!(value.expose_bytes().starts_with(b"{\"aws_access_key_id\":\"AK1\""));
    // A ::key update would write into a shared entry: refused, with the way out.
    assert_error_contains(
        plane.alter_link(&admin(), "default", "l", &[credentials_key("aws_access_key_id", "AK2")], None).await,
        ErrorKind::Invalid,
        &["takes its CREDENTIALS from vault entry \"shared\"", "ALTER CREDENTIAL shared SET SECRET"],
    );
    // The entry cannot be dropped while the link uses it; DROP LINK leaves it alone.
    assert_error_contains(
        plane.drop_entry(&admin(), &lanyard_control::ObjectKey::Name("shared".into()), None).await,
        ErrorKind::Conflict,
        &["default.l"],
    );
    // Back to credentials of its own.
    let own = plane
        .alter_link(
            &admin(),
            "default",
            "l",
            &[LinkAction::CredentialsJson(SecretString::new(r#"{"k":"own"}"#.to_owned()))],
            None,
        )
        .await
        .unwrap();
    assert_eq!(own.credentials, Some(LinkCredentialsView::Owned));
    let count = local_contents(env).await.len();
    let shared = plane
        .alter_link(&admin(), "default", "l", &[LinkAction::CredentialsEntry("shared".into())], None)
        .await
        .unwrap();
    assert!(matches!(shared.credentials, Some(LinkCredentialsView::Entry(_))));
    assert_eq!(local_contents(env).await.len(), count - 1, "the link's own material is deleted");
    plane.drop_link(&admin(), "default", "l", None).await.unwrap();
    assert!(crate::common::material(env, "shared").await.is_some());
    assert_error_contains(
        plane
            .create_link(
                &admin(),
                NewLink {
                    credentials: Some(CredentialsSource::Entry("nope".into())),
                    ..new_link("l2", "S3", json!({}), None)
                },
            )
            .await,
        ErrorKind::NotFound,
        &["vault entry \"nope\" does not exist"],
    );
}

async fn bad_input_changes_nothing(env: &Env) {
    let plane = &env.plane;
    let before = (audit_state(env).await, local_contents(env).await);
    assert_error_contains(
        plane.create_link(&admin(), new_link("l", "S3", json!({"password": "x"}), None)).await,
        ErrorKind::Invalid,
        &["CONFIG key \"password\" looks like a secret", "move it to CREDENTIALS"],
    );
    assert_error_contains(
        plane.create_link(&admin(), new_link("l", "S3", json!({"kafka": {"sasl.password": "x"}}), None)).await,
        ErrorKind::Invalid,
        &["CONFIG key \"kafka/sasl.password\" looks like a secret", "SET CREDENTIALS ::sasl.password = '…'"],
    );
    assert_error_contains(
        plane.create_link(&admin(), new_link("l", "S3", json!({}), Some("[1]"))).await,
        ErrorKind::Invalid,
        &["CREDENTIALS must be a JSON object"],
    );
    let error = assert_error_contains(
        plane.create_link(&admin(), new_link("l", "S3", json!({}), Some(r#"{"k":"canary-7"#))).await,
        ErrorKind::Invalid,
        &["CREDENTIALS is not valid JSON"],
    );
    assert!(!error.contains("canary-7"), "{error}");
    assert_error_contains(
        plane.create_link(&admin(), new_link("l", "SFTP", json!({}), None)).await,
        ErrorKind::Invalid,
        &["unknown link type \"SFTP\"", "S3, AZURE, GCS"],
    );
    assert_error_contains(
        plane.create_link(&admin(), new_link(&"x".repeat(129), "S3", json!({}), None)).await,
        ErrorKind::Invalid,
        &["invalid link name", "the limit is 128"],
    );
    plane.create_link(&admin(), new_link("l", "S3", json!({}), None)).await.unwrap();
    let before_alter = audit_state(env).await;
    assert_error_contains(
        plane
            .alter_link(
                &admin(),
                "default",
                "l",
                &[LinkAction::ConfigJson(object(json!({}))), LinkAction::ConfigJson(object(json!({})))],
                None,
            )
            .await,
        ErrorKind::Invalid,
        &["ALTER LINK accepts at most one SET CONFIG clause"],
    );
    assert_error(
        plane.alter_link(&admin(), "default", "nope", &[config_key("region", json!("x"))], None).await,
        ErrorKind::NotFound,
        "link \"default.nope\" does not exist",
    );
    assert_error_contains(
        plane.alter_link(&admin(), "default", "l", &[config_key("secret_access_key", json!("x"))], None).await,
        ErrorKind::Invalid,
        &["looks like a secret"],
    );
    assert_eq!(audit_state(env).await, before_alter);
    assert_eq!(before.1, local_contents(env).await);
}

async fn a_failing_second_clause_leaves_everything_as_before(env: &Env) {
    let plane = &env.plane;
    plane.create_link(&admin(), new_link("l", "S3", json!({"region": "r1"}), Some(r#"{"k":"v1"}"#))).await.unwrap();
    let state = async || {
        let link: Link = env.plane.catalog().get_by_name(&["default", "l"]).await.unwrap();
        (link, local_contents(env).await, audit_state(env).await)
    };
    let before = state().await;
    let failing_second: [Vec<LinkAction>; 3] = [
        vec![config_key("region", json!("r2")), LinkAction::CredentialsJson(SecretString::new("not json".to_owned()))],
        vec![config_key("region", json!("r2")), LinkAction::CredentialsEntry("missing".into())],
        vec![credentials_key("k", "v2"), config_key("token", json!("x"))],
    ];
    for actions in failing_second {
        assert!(plane.alter_link(&admin(), "default", "l", &actions, None).await.is_err());
        assert_eq!(state().await, before);
    }
    assert_eq!(owned_credentials(env, "l").await, json!({"k": "v1"}));
    // A stale If-Match changes nothing either.
    assert_error_contains(
        plane.alter_link(&admin(), "default", "l", &[config_key("region", json!("r2"))], Some(99)).await,
        ErrorKind::PreconditionFailed,
        &["not 99"],
    );
    assert_eq!(state().await, before);
}

async fn databases_scope_links(env: &Env) {
    let plane = &env.plane;
    assert!(plane.list_links(&admin(), "default", None).await.unwrap().is_empty());
    assert_error_contains(
        plane.list_links(&admin(), "analytics", None).await,
        ErrorKind::NotFound,
        &["database \"analytics\" does not exist (CREATE DATABASE analytics creates it)"],
    );
    plane
        .create_link(&admin(), NewLink { database: "analytics".into(), ..new_link("l", "S3", json!({}), None) })
        .await
        .unwrap();
    plane.create_link(&admin(), new_link("l", "MYSQL", json!({}), None)).await.unwrap();
    let analytics = plane.list_links(&admin(), "analytics", None).await.unwrap();
    assert_eq!(analytics.len(), 1);
    assert_eq!(analytics[0].link_type, LinkType::S3);
    assert_eq!(plane.list_links(&admin(), "default", None).await.unwrap()[0].link_type, LinkType::Mysql);
    assert_error_contains(
        plane.drop_link(&admin(), "nowhere", "l", None).await,
        ErrorKind::NotFound,
        &["database \"nowhere\" does not exist"],
    );
    plane.drop_link(&admin(), "analytics", "l", None).await.unwrap();
    // A database stays when its last link goes.
    assert!(plane.list_links(&admin(), "analytics", None).await.unwrap().is_empty());
    let log = audit_log(env).await;
    assert_eq!(log.iter().filter(|r| r.record.action.as_str() == "link.create").count(), 2);
    assert_eq!(log.iter().filter(|r| r.record.action.as_str() == "link.drop").count(), 1);
}

/// The rules links keep for their pipelines: ALTER and OR REPLACE are refused while a RUNNING pipeline uses the link
/// (and allowed, in place, when it is stopped, its cursor untouched), DROP while any pipeline does, each naming the
/// pipelines.
async fn pipelines_keep_their_link(env: &Env) {
    let plane = &env.plane;
    let link = plane.create_link(&admin(), new_link("l", "S3", json!({}), Some(r#"{"k":"v"}"#))).await.unwrap().value;
    plane.create_database(&admin(), "analytics", false).await.unwrap();
    create_target(env, "warehouse").await;
    let created = plane.create_pipeline(&admin(), new_pipeline("analytics", "events", "default.l", "warehouse")).await;
    let pipeline = created.unwrap().value;
    assert_eq!(pipeline.link.id, link.id);
    // The runner's progress, as it would write it.
    let mut row = pipeline.row.clone();
    row.cursor = Some("events/0001.csv".into());
    plane.catalog().update(row).await.unwrap();
    plane.start_pipeline(&admin(), "analytics", "events").await.unwrap();
    let before = audit_state(env).await;
    assert_error_contains(
        plane.alter_link(&admin(), "default", "l", &[config_key("region", json!("x"))], None).await,
        ErrorKind::Conflict,
        &["cannot alter link \"default.l\"", "pipeline analytics.events is running", "STOP PIPELINE"],
    );
    assert_error_contains(
        plane.create_link(&admin(), NewLink { or_replace: true, ..new_link("l", "S3", json!({}), None) }).await,
        ErrorKind::Conflict,
        &["cannot replace link", "analytics.events"],
    );
    assert_eq!(audit_state(env).await, before);
    // Stopped: ALTER applies in place; the pipeline still points at the same link, its cursor untouched.
    plane.stop_pipeline(&admin(), "analytics", "events").await.unwrap();
    let altered = plane.alter_link(&admin(), "default", "l", &[config_key("region", json!("x"))], None).await.unwrap();
    assert_eq!(altered.id, link.id);
    let replaced = plane
        .create_link(&admin(), NewLink { or_replace: true, ..new_link("l", "S3", json!({"region": "y"}), None) })
        .await
        .unwrap();
    assert_eq!(replaced.value.id, link.id);
    let after = plane.get_pipeline(&admin(), "analytics", "events").await.unwrap();
    assert_eq!((after.link.id, after.row.cursor.as_deref()), (link.id, Some("events/0001.csv")));
    // DROP is refused while any pipeline uses the link, naming it.
    assert_error_contains(
        plane.drop_link(&admin(), "default", "l", None).await,
        ErrorKind::Conflict,
        &["link \"default.l\" is still referenced by pipeline \"analytics.events\""],
    );
    assert!(plane.get_link(&admin(), "default", "l").await.is_ok());
}

/// Eight links created at once into the same new database: the database is created once (the requests that lose the
/// race rerun their transaction and find it), and every link is there.
async fn concurrent_creates_share_a_new_database(env: &Env) {
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..8 {
        let plane = env.plane.clone();
        creates.spawn(async move {
            let request = NewLink {
                database: "burst".into(),
                ..new_link(&format!("l{i}"), "S3", json!({}), Some(r#"{"k":"v"}"#))
            };
            plane.create_link(&admin(), request).await
        });
    }
    while let Some(create) = creates.join_next().await {
        assert!(create.unwrap().unwrap().created);
    }
    assert_eq!(env.plane.list_links(&admin(), "burst", None).await.unwrap().len(), 8);
    let databases: Vec<lanyard_catalog::Database> = env.plane.catalog().list(None, None).await.unwrap();
    let names: Vec<&str> = databases.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["burst", "default"]);
}

/// The CONFIG and CREDENTIALS of SingleStore's own CREATE LINK examples, as its documentation writes them: file
/// locations and keytabs in CONFIG are not secrets, dotted keys are keys, numbers stay numbers.
async fn singlestores_documented_links_are_accepted(env: &Env) {
    let examples = [
        (
            "hdfs",
            "HDFS",
            json!({"dfs.client.use.datanode.hostname": true,
            "dfs.datanode.kerberos.principal": "datanode_principal/_HOST@REALM",
            "hadoop.security.authentication": "kerberos", "kerberos.keytab": "/path/to/keytab",
            "kerberos.user": "user@REALM"}),
            None,
        ),
        (
            "kafka",
            "KAFKA",
            json!({"sasl.mechanism": "PLAIN", "security.protocol": "SASL_SSL",
            "ssl.ca.location": "/var/private/ssl/ca-cert.pem"}),
            Some(r#"{"sasl.username":"u","sasl.password":"p"}"#),
        ),
        (
            "kafka_ssl",
            "KAFKA",
            json!({"security.protocol": "ssl",
            "ssl.certificate.location": "/var/private/ssl/client.pem",
            "ssl.key.location": "/var/private/ssl/client.key", "ssl.ca.location": "/var/private/ssl/ca-cert.pem"}),
            Some(r#"{"ssl.key.password":"abcdefgh"}"#),
        ),
        (
            "mysql",
            "MYSQL",
            json!({"database.hostname": "svchost", "database.exclude.list": "mysql,performance_schema",
            "table.include.list": "db.table", "database.port": 3306, "database.ssl.mode": "required"}),
            Some(r#"{"database.password":"pa55word","database.user":"repl_user"}"#),
        ),
        (
            "mongo",
            "MONGODB",
            json!({"mongodb.hosts": "host1:27017", "collection.include.list": "db.c",
            "mongodb.ssl.enabled": "true", "mongodb.authsource": "admin"}),
            Some(r#"{"mongodb.user":"u","mongodb.password":"p"}"#),
        ),
        (
            "s3_kms",
            "S3",
            json!({"region": "us-east-1", "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:111122223333:key/abc"}),
            None,
        ),
    ];
    for (name, link_type, config, credentials) in examples {
        let created = env.plane.create_link(&admin(), new_link(name, link_type, config.clone(), credentials)).await;
        let created = created.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Value::Object(created.value.config), config, "{name}: CONFIG is kept as written");
    }
}

/// Eight tasks × fifteen `SET CREDENTIALS ::k = 'v'` on one link: every update that was acknowledged is in the stored
/// credentials at the end (each change writes new material under a new id and commits only if the link is still at
/// the version it merged into; nothing is overwritten in place, so no undo can wipe another's committed write).
async fn concurrent_credential_key_updates_lose_nothing(env: &Env) {
    env.plane.create_link(&admin(), new_link("l", "S3", json!({}), Some("{}"))).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..8 {
        let plane = env.plane.clone();
        tasks.spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..15 {
                let key = format!("k{t}_{i}");
                if plane.alter_link(&admin(), "default", "l", &[credentials_key(&key, "v")], None).await.is_ok() {
                    acknowledged.push(key);
                }
            }
            acknowledged
        });
    }
    let mut acknowledged = Vec::new();
    while let Some(keys) = tasks.join_next().await {
        acknowledged.extend(keys.unwrap());
    }
    assert!(acknowledged.len() >= 8, "at least one update per task went through: {}", acknowledged.len());
    let stored = owned_credentials(env, "l").await;
    let missing: Vec<&String> = acknowledged.iter().filter(|k| stored.get(k.as_str()).is_none()).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged updates are lost: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    // Exactly one profile holds the link's credentials: every replaced one was deleted.
    assert_eq!(local_contents(env).await.len(), 1);
}

/// DROP LINK racing an ALTER LINK that replaces the credentials, forty times: whichever wins, no material is left
/// behind in the local backend.
async fn drop_racing_alter_leaves_no_material(env: &Env) {
    let before = local_contents(env).await.len();
    for round in 0..40 {
        let name = format!("d{round}");
        env.plane.create_link(&admin(), new_link(&name, "S3", json!({}), Some(r#"{"a":"old"}"#))).await.unwrap();
        let plane = env.plane.clone();
        let altered = name.clone();
        let alter = tokio::spawn(async move {
            let action = LinkAction::CredentialsJson(SecretString::new(r#"{"a":"new"}"#.to_owned()));
            let _ = plane.alter_link(&admin(), "default", &altered, &[action], None).await;
        });
        let plane = env.plane.clone();
        let drop = tokio::spawn(async move { plane.drop_link(&admin(), "default", &name, None).await });
        alter.await.unwrap();
        drop.await.unwrap().unwrap();
    }
    assert_eq!(local_contents(env).await.len(), before, "material of dropped links is left in the local backend");
}
