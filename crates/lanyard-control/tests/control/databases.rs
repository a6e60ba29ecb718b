//! Databases in the Control Plane: CREATE [IF NOT EXISTS], SHOW [LIKE] and DROP DATABASE, each change one
//! transaction with its audit record; DROP refused for `default` and while links or pipelines live in the database;
//! names validated; the permissions of links; concurrent creates and a DROP racing a CREATE LINK.

use lanyard_catalog::Database;
use lanyard_control::{Caller, DatabaseView, NewLink, Role};
use lanyard_core::{DEFAULT_DATABASE_ID, ErrorKind};

use crate::common::{
    Env, admin, assert_error, assert_error_contains, audit_log, audit_state, both, create_target, last_audit,
    new_pipeline,
};

both!(
    create_show_and_drop,
    default_cannot_be_dropped,
    drop_is_refused_while_links_or_pipelines_live_in_it,
    names_are_validated_and_versions_checked,
    reads_need_links_read_and_changes_links_write,
    concurrent_creates_make_one_database,
    a_drop_racing_a_create_link_leaves_no_link_without_its_database,
);

fn names(views: &[DatabaseView]) -> Vec<&str> {
    views.iter().map(|d| d.name.as_str()).collect()
}

async fn list(env: &Env, like: Option<&str>) -> Vec<String> {
    let views = env.plane.list_databases(&admin(), like).await.unwrap();
    names(&views).into_iter().map(str::to_owned).collect()
}

fn link_in(database: &str, name: &str) -> NewLink {
    NewLink {
        database: database.into(),
        name: name.into(),
        link_type: "S3".into(),
        description: None,
        config: serde_json::Map::new(),
        credentials: None,
        or_replace: false,
        if_not_exists: false,
    }
}

/// The actions of the audit log that start with `database.`, oldest first.
async fn database_actions(env: &Env) -> Vec<String> {
    audit_log(env)
        .await
        .into_iter()
        .map(|r| r.record.action.as_str().to_owned())
        .filter(|a| a.starts_with("database."))
        .collect()
}

async fn create_show_and_drop(env: &Env) {
    let plane = &env.plane;
    // The seeded `default`, with its fixed id.
    let seeded = plane.list_databases(&admin(), None).await.unwrap();
    assert_eq!(names(&seeded), ["default"]);
    assert_eq!(seeded[0].id, DEFAULT_DATABASE_ID);

    let created = plane.create_database(&admin(), "analytics", false).await.unwrap();
    assert!(created.created);
    assert_eq!((created.value.name.as_str(), created.value.version), ("analytics", 1));
    let record = last_audit(env).await.record;
    assert_eq!(
        (record.action.as_str(), record.object_kind.to_string().as_str(), record.object_name.as_deref()),
        ("database.create", "database", Some("analytics"))
    );
    assert_eq!(record.object_id, Some(created.value.id.to_string()));

    // Again: 409 without IF NOT EXISTS; with it, the same database, unchanged and not audited.
    let before = audit_state(env).await;
    assert_error(
        plane.create_database(&admin(), "analytics", false).await,
        ErrorKind::AlreadyExists,
        "database \"analytics\" already exists",
    );
    let again = plane.create_database(&admin(), "analytics", true).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.value, created.value);
    assert_eq!(audit_state(env).await, before);

    // An empty database is usable at once: its links can be listed (USE checks the same way).
    assert!(plane.list_links(&admin(), "analytics", None).await.unwrap().is_empty());
    plane.create_database(&admin(), "Zeta", false).await.unwrap();
    plane.create_database(&admin(), "my db", false).await.unwrap();
    assert_eq!(list(env, None).await, ["Zeta", "analytics", "default", "my db"], "by name, bytewise");
    assert_eq!(list(env, Some("ANA")).await, ["analytics"], "LIKE is a case-insensitive substring");
    assert_eq!(list(env, Some("%")).await, Vec::<String>::new(), "not a wildcard");

    plane.drop_database(&admin(), "analytics", None).await.unwrap();
    assert_eq!(list(env, None).await, ["Zeta", "default", "my db"]);
    assert_error(
        plane.list_links(&admin(), "analytics", None).await,
        ErrorKind::NotFound,
        "database \"analytics\" does not exist (CREATE DATABASE analytics creates it)",
    );
    assert_error(
        plane.drop_database(&admin(), "analytics", None).await,
        ErrorKind::NotFound,
        "database \"analytics\" does not exist (CREATE DATABASE analytics creates it)",
    );
    // A name SQL must quote is quoted in the hint.
    assert_error(
        plane.drop_database(&admin(), "no such db", None).await,
        ErrorKind::NotFound,
        "database \"no such db\" does not exist (CREATE DATABASE `no such db` creates it)",
    );
    assert_eq!(database_actions(env).await, ["database.create", "database.create", "database.create", "database.drop"]);
}

async fn default_cannot_be_dropped(env: &Env) {
    let before = audit_state(env).await;
    assert_error(
        env.plane.drop_database(&admin(), "default", None).await,
        ErrorKind::Conflict,
        "database \"default\" cannot be dropped: it always exists, and every session starts in it",
    );
    assert_eq!(list(env, None).await, ["default"]);
    assert_eq!(audit_state(env).await, before);
    // Creating it is an ordinary "already exists".
    assert_error(
        env.plane.create_database(&admin(), "default", false).await,
        ErrorKind::AlreadyExists,
        "database \"default\" already exists",
    );
    assert!(!env.plane.create_database(&admin(), "default", true).await.unwrap().created);
}

async fn drop_is_refused_while_links_or_pipelines_live_in_it(env: &Env) {
    let plane = &env.plane;
    // A database made by its first link; the link keeps it.
    plane.create_link(&admin(), link_in("analytics", "events_link")).await.unwrap();
    let before = audit_state(env).await;
    assert_error(
        plane.drop_database(&admin(), "analytics", None).await,
        ErrorKind::Conflict,
        "cannot drop database \"analytics\": it still holds link analytics.events_link; drop it first",
    );
    assert_eq!(audit_state(env).await, before, "a refused DROP leaves the audit log as it was");

    // A pipeline keeps its database too.
    plane.create_database(&admin(), "staging", false).await.unwrap();
    create_target(env, "warehouse").await;
    plane
        .create_pipeline(&admin(), new_pipeline("staging", "events", "analytics.events_link", "warehouse"))
        .await
        .unwrap();
    plane.create_link(&admin(), link_in("staging", "l")).await.unwrap();
    assert_error(
        plane.drop_database(&admin(), "staging", None).await,
        ErrorKind::Conflict,
        "cannot drop database \"staging\": it still holds link staging.l and pipeline staging.events; drop them \
         first",
    );
    plane.drop_link(&admin(), "staging", "l", None).await.unwrap();
    assert_error(
        plane.drop_database(&admin(), "staging", None).await,
        ErrorKind::Conflict,
        "cannot drop database \"staging\": it still holds pipeline staging.events; drop it first",
    );
    plane.drop_pipeline(&admin(), "staging", "events", None).await.unwrap();
    plane.drop_database(&admin(), "staging", None).await.unwrap();

    // Many links: the first ten are named, the rest counted.
    for i in 0..12 {
        plane.create_link(&admin(), link_in("big", &format!("l{i:02}"))).await.unwrap();
    }
    let message = assert_error_contains(
        plane.drop_database(&admin(), "big", None).await,
        ErrorKind::Conflict,
        &["it still holds links big.l00, big.l01,", "big.l09 and 2 more; drop them first"],
    );
    assert!(!message.contains("big.l10"), "{message}");
    for i in 0..12 {
        plane.drop_link(&admin(), "big", &format!("l{i:02}"), None).await.unwrap();
    }
    // Empty now (a database stays when its last link goes): it can be dropped.
    plane.drop_database(&admin(), "big", None).await.unwrap();
    plane.drop_link(&admin(), "analytics", "events_link", None).await.unwrap();
    plane.drop_database(&admin(), "analytics", None).await.unwrap();
    assert_eq!(list(env, None).await, ["default"]);
}

async fn names_are_validated_and_versions_checked(env: &Env) {
    let plane = &env.plane;
    let before = audit_state(env).await;
    let long = "d".repeat(129);
    assert_error_contains(
        plane.create_database(&admin(), &long, false).await,
        ErrorKind::Invalid,
        &["invalid database name", "129 characters long; the limit is 128"],
    );
    assert_error_contains(
        plane.create_database(&admin(), "", true).await,
        ErrorKind::Invalid,
        &["invalid database name"],
    );
    assert_error_contains(
        plane.create_database(&admin(), " lead", false).await,
        ErrorKind::Invalid,
        &["invalid database name \" lead\""],
    );
    assert_error_contains(
        plane.drop_database(&admin(), "tab\there", None).await,
        ErrorKind::Invalid,
        &["invalid database name"],
    );
    assert_eq!(list(env, None).await, ["default"]);
    assert_eq!(audit_state(env).await, before);
    // 128 characters is fine.
    let longest = "d".repeat(128);
    assert!(plane.create_database(&admin(), &longest, false).await.unwrap().created);

    // If-Match: a stale version is refused and changes nothing.
    let created = plane.create_database(&admin(), "analytics", false).await.unwrap().value;
    assert_error(
        plane.drop_database(&admin(), "analytics", Some(created.version + 1)).await,
        ErrorKind::PreconditionFailed,
        "database \"analytics\" is at version 1, not 2 (If-Match)",
    );
    plane.drop_database(&admin(), "analytics", Some(created.version)).await.unwrap();
    assert!(!list(env, None).await.contains(&"analytics".to_owned()));
}

async fn reads_need_links_read_and_changes_links_write(env: &Env) {
    let plane = &env.plane;
    plane.create_database(&admin(), "analytics", false).await.unwrap();
    for role in [Role::Viewer, Role::Operator] {
        let caller = Caller::local("someone", role);
        assert_eq!(names(&plane.list_databases(&caller, None).await.unwrap()), ["analytics", "default"]);
        let denied = async |action: &str| {
            let record = last_audit(env).await.record;
            assert_eq!((record.action.as_str(), record.outcome.as_str()), (action, "denied"), "{role}");
        };
        let created = plane.create_database(&caller, "other", false).await;
        assert_error_contains(created, ErrorKind::Forbidden, &["permission links:write is required"]);
        denied("database.create").await;
        let dropped = plane.drop_database(&caller, "analytics", None).await;
        assert_error_contains(dropped, ErrorKind::Forbidden, &["permission links:write is required"]);
        denied("database.drop").await;
    }
    assert_eq!(list(env, None).await, ["analytics", "default"]);
}

/// Eight CREATE DATABASE IF NOT EXISTS at once: one creates it (the others that lose the race rerun their
/// transaction and find it), all answer the same database, and one change is audited.
async fn concurrent_creates_make_one_database(env: &Env) {
    let mut creates = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let plane = env.plane.clone();
        creates.spawn(async move { plane.create_database(&admin(), "burst", true).await });
    }
    let mut answers = Vec::new();
    while let Some(create) = creates.join_next().await {
        answers.push(create.unwrap().unwrap());
    }
    assert_eq!(answers.iter().filter(|a| a.created).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|a| a.value == answers[0].value), "{answers:?}");
    assert_eq!(list(env, None).await, ["burst", "default"]);
    assert_eq!(database_actions(env).await, ["database.create"]);
}

/// DROP DATABASE and CREATE LINK into it, at once, several times: whichever wins, no link is left in a database
/// that has no row (either the DROP went first and the link re-created the database, or the link went first and
/// the DROP was refused).
async fn a_drop_racing_a_create_link_leaves_no_link_without_its_database(env: &Env) {
    for round in 0..6 {
        let database = format!("race{round}");
        env.plane.create_database(&admin(), &database, false).await.unwrap();
        let (plane, name) = (env.plane.clone(), database.clone());
        let dropping = tokio::spawn(async move { plane.drop_database(&admin(), &name, None).await });
        let (plane, name) = (env.plane.clone(), database.clone());
        let linking = tokio::spawn(async move { plane.create_link(&admin(), link_in(&name, "l")).await });
        let dropped = dropping.await.unwrap();
        linking.await.unwrap().expect("CREATE LINK always succeeds: it creates its database if needed");
        if let Err(error) = &dropped {
            assert_eq!(error.kind(), ErrorKind::Conflict, "{error:?}");
        }
        let rows: Vec<Database> = env.plane.catalog().list(None, None).await.unwrap();
        assert!(
            rows.iter().any(|d| d.name.as_str() == database),
            "round {round}: link {database}.l lives in a database without a row"
        );
        assert_eq!(env.plane.list_links(&admin(), &database, None).await.unwrap().len(), 1);
    }
}
