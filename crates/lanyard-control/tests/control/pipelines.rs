//! Pipelines in the Control Plane: CREATE [IF NOT EXISTS] with every check it makes (source link type, target
//! connection type, path, table, format), START / STOP and their states, SHOW and the files view, DROP, what a
//! pipeline keeps from being dropped (its link, its connection, its database), the audit record of each change, and
//! the permissions (`pipelines:read` / `pipelines:write`, which operators have). The runner is not here: it is
//! tested end to end in `lanyard-cli`'s `pipelines` tests, against real object stores and databases.

use lanyard_catalog::{PipelineFile, Timestamp};
use lanyard_control::{Caller, NewLink, NewPipeline, Role};
use lanyard_core::{CsvFormat, ErrorKind, FileState, LoadFormat, PipelineState};

use crate::common::{
    Env, admin, assert_error, assert_error_contains, audit_log, audit_state, both, create_target, new_connection,
    new_pipeline,
};

both!(
    create_show_start_stop_drop,
    create_checks_source_target_path_table_and_format,
    a_pipeline_keeps_its_connection,
    files_are_listed_in_key_order,
    reads_need_pipelines_read_and_changes_pipelines_write,
    start_and_stop_wake_this_nodes_runner,
);

fn s3_link(name: &str, link_type: &str) -> NewLink {
    NewLink {
        database: "default".into(),
        name: name.into(),
        link_type: link_type.into(),
        description: None,
        config: serde_json::Map::new(),
        credentials: None,
        or_replace: false,
        if_not_exists: false,
    }
}

async fn setup(env: &Env) {
    env.plane.create_link(&admin(), s3_link("l", "S3")).await.unwrap();
    create_target(env, "warehouse").await;
}

async fn create_show_start_stop_drop(env: &Env) {
    let plane = &env.plane;
    setup(env).await;
    let format = LoadFormat::Csv(CsvFormat { delimiter: ';', ignore_lines: 1, ..CsvFormat::default() });
    let request = NewPipeline { format: format.clone(), ..new_pipeline("default", "p", "l", "warehouse") };
    let created = plane.create_pipeline(&admin(), request.clone()).await.unwrap();
    assert!(created.created);
    let view = created.value;
    assert_eq!(view.row.state, PipelineState::Stopped, "a pipeline is created Stopped");
    assert_eq!((view.link.name.as_str(), view.connection.name.as_str()), ("default.l", "warehouse"));
    assert_eq!(
        (view.row.path.as_str(), view.row.target_table.to_string().as_str()),
        ("bucket/events/", "public.events")
    );
    assert_eq!(view.row.format, format);
    assert_eq!((view.row.cursor.as_deref(), view.running_on.as_deref()), (None, None));

    // IF NOT EXISTS returns it unchanged; without it, 409.
    let again = plane.create_pipeline(&admin(), NewPipeline { if_not_exists: true, ..request.clone() }).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.value.row, view.row);
    assert_error(
        plane.create_pipeline(&admin(), request).await,
        ErrorKind::AlreadyExists,
        "pipeline \"default.p\" already exists",
    );

    let started = plane.start_pipeline(&admin(), "default", "p").await.unwrap();
    assert_eq!((started.row.state, started.row.meta.version), (PipelineState::Running, 2));
    // START on a running pipeline changes nothing.
    let again = plane.start_pipeline(&admin(), "default", "p").await.unwrap();
    assert_eq!(again.row.meta.version, 2);
    let stopped = plane.stop_pipeline(&admin(), "default", "p").await.unwrap();
    assert_eq!(stopped.row.state, PipelineState::Stopped);

    let listed = plane.list_pipelines(&admin(), "default").await.unwrap();
    assert_eq!(listed.iter().map(|p| p.row.name.as_str()).collect::<Vec<_>>(), ["p"]);
    assert_error(
        plane.list_pipelines(&admin(), "nowhere").await,
        ErrorKind::NotFound,
        "database \"nowhere\" does not exist (CREATE DATABASE nowhere creates it)",
    );
    assert_error(
        plane.get_pipeline(&admin(), "default", "q").await,
        ErrorKind::NotFound,
        "pipeline \"default.q\" does not exist",
    );
    assert_error(
        plane.drop_pipeline(&admin(), "default", "p", Some(1)).await,
        ErrorKind::PreconditionFailed,
        "pipeline \"default.p\" is at version 3, not 1 (If-Match)",
    );
    plane.drop_pipeline(&admin(), "default", "p", None).await.unwrap();
    assert!(plane.list_pipelines(&admin(), "default").await.unwrap().is_empty());
    // Each change has its audit record.
    let actions: Vec<String> = audit_log(env)
        .await
        .into_iter()
        .map(|r| r.record.action.as_str().to_owned())
        .filter(|a| a.starts_with("pipeline.") && a != "pipeline.list" && a != "pipeline.get")
        .collect();
    assert_eq!(actions, ["pipeline.create", "pipeline.start", "pipeline.start", "pipeline.stop", "pipeline.drop"]);
}

async fn create_checks_source_target_path_table_and_format(env: &Env) {
    let plane = &env.plane;
    setup(env).await;
    plane.create_link(&admin(), s3_link("k", "KAFKA")).await.unwrap();
    crate::common::create_connection(env, new_connection("api", "rest", &[("endpoint", "http://127.0.0.1:1")])).await;
    let before = audit_state(env).await;
    let base = || new_pipeline("default", "p", "l", "warehouse");
    assert_error_contains(
        plane.create_pipeline(&admin(), NewPipeline { link: "k".into(), ..base() }).await,
        ErrorKind::Invalid,
        &["no pipeline source for link type KAFKA in this build", "S3, AZURE and GCS"],
    );
    assert_error(
        plane.create_pipeline(&admin(), NewPipeline { link: "nope".into(), ..base() }).await,
        ErrorKind::NotFound,
        "link \"default.nope\" does not exist",
    );
    assert_error_contains(
        plane.create_pipeline(&admin(), NewPipeline { connection: "api".into(), ..base() }).await,
        ErrorKind::Invalid,
        &["connection \"api\" is a rest connection", "postgresql or mysql"],
    );
    assert_error(
        plane.create_pipeline(&admin(), NewPipeline { connection: "nope".into(), ..base() }).await,
        ErrorKind::NotFound,
        "connection \"nope\" does not exist",
    );
    assert_error_contains(
        plane.create_pipeline(&admin(), NewPipeline { path: "/events".into(), ..base() }).await,
        ErrorKind::Invalid,
        &["pipeline path \"/events\" names no bucket"],
    );
    assert_error_contains(
        plane.create_pipeline(&admin(), NewPipeline { table: "".into(), ..base() }).await,
        ErrorKind::Invalid,
        &["INTO TABLE"],
    );
    let bad = LoadFormat::Csv(CsvFormat { delimiter: '"', ..CsvFormat::default() });
    assert_error_contains(
        plane.create_pipeline(&admin(), NewPipeline { format: bad, ..base() }).await,
        ErrorKind::Invalid,
        &["FIELDS TERMINATED BY and ENCLOSED BY must differ"],
    );
    assert_error(
        plane.create_pipeline(&admin(), NewPipeline { database: "nowhere".into(), ..base() }).await,
        ErrorKind::NotFound,
        "database \"nowhere\" does not exist (CREATE DATABASE nowhere creates it)",
    );
    assert_eq!(audit_state(env).await.0, before.0, "a refused CREATE writes no audit record of a change");
    assert!(plane.list_pipelines(&admin(), "default").await.unwrap().is_empty());
}

async fn a_pipeline_keeps_its_connection(env: &Env) {
    let plane = &env.plane;
    setup(env).await;
    plane.create_pipeline(&admin(), new_pipeline("default", "p", "l", "warehouse")).await.unwrap();
    assert_error_contains(
        plane.drop_connection(&admin(), "warehouse", None).await,
        ErrorKind::Conflict,
        &["connection \"warehouse\" is still referenced by pipeline \"default.p\""],
    );
    // RENAME keeps it: the pipeline refers to the connection by id.
    let rename = lanyard_control::ConnectionAction::RenameTo("dwh".into());
    plane.alter_connection(&admin(), "warehouse", &[rename], None).await.unwrap();
    let view = plane.get_pipeline(&admin(), "default", "p").await.unwrap();
    assert_eq!(view.connection.name, "dwh");
    assert_error_contains(plane.drop_database(&admin(), "default", None).await, ErrorKind::Conflict, &["default"]);
}

async fn files_are_listed_in_key_order(env: &Env) {
    let plane = &env.plane;
    setup(env).await;
    let view = plane.create_pipeline(&admin(), new_pipeline("default", "p", "l", "warehouse")).await.unwrap().value;
    let file = |key: &str, state: FileState, rows: Option<i64>| PipelineFile {
        pipeline_id: view.row.meta.id,
        key: key.into(),
        etag: None,
        size: 3,
        state,
        rows,
        error: (state == FileState::Failed).then(|| "line 2, column id: bad".to_owned()),
        updated_at: Timestamp::now(),
    };
    plane
        .catalog()
        .write(async |tx| {
            tx.put_pipeline_file(&file("events/b.csv", FileState::Failed, None)).await?;
            tx.put_pipeline_file(&file("events/a.csv", FileState::Loaded, Some(5))).await?;
            tx.put_pipeline_file(&file("events/c.csv", FileState::Unloaded, None)).await
        })
        .await
        .unwrap();
    let files = plane.list_pipeline_files(&admin(), "default", "p").await.unwrap();
    let shown: Vec<_> = files.iter().map(|f| (f.key.as_str(), f.state, f.rows)).collect();
    assert_eq!(
        shown,
        [
            ("events/a.csv", FileState::Loaded, Some(5)),
            ("events/b.csv", FileState::Failed, None),
            ("events/c.csv", FileState::Unloaded, None),
        ]
    );
    let view = plane.get_pipeline(&admin(), "default", "p").await.unwrap();
    assert_eq!((view.files.loaded, view.files.failed, view.files.unloaded, view.files.rows), (1, 1, 1, 5));
    // The files go with their pipeline.
    plane.drop_pipeline(&admin(), "default", "p", None).await.unwrap();
    let left = plane.catalog().read(async |tx| tx.pipeline_files(view.row.meta.id).await).await.unwrap();
    assert!(left.is_empty());
}

async fn reads_need_pipelines_read_and_changes_pipelines_write(env: &Env) {
    let plane = &env.plane;
    setup(env).await;
    let viewer = Caller { principal: "v".into(), role: Role::Viewer };
    let operator = Caller { principal: "o".into(), role: Role::Operator };
    assert_error_contains(
        plane.create_pipeline(&viewer, new_pipeline("default", "p", "l", "warehouse")).await,
        ErrorKind::Forbidden,
        &["permission pipelines:write is required"],
    );
    // Operators run pipelines (spec: all reads + connections:test + pipelines:write).
    plane.create_pipeline(&operator, new_pipeline("default", "p", "l", "warehouse")).await.unwrap();
    plane.start_pipeline(&operator, "default", "p").await.unwrap();
    assert_error_contains(
        plane.stop_pipeline(&viewer, "default", "p").await,
        ErrorKind::Forbidden,
        &["permission pipelines:write is required"],
    );
    assert_eq!(plane.list_pipelines(&viewer, "default").await.unwrap().len(), 1);
    assert_eq!(plane.list_pipeline_files(&viewer, "default", "p").await.unwrap().len(), 0);
    let denied = audit_log(env).await.into_iter().filter(|r| r.record.outcome.as_str() == "denied").count();
    assert_eq!(denied, 2, "each denial is audited");
}

/// START and STOP notify `pipeline_changes` (this node's runner then looks at the catalog at once rather than at its
/// next tick), once per statement; CREATE and a START that fails do not.
async fn start_and_stop_wake_this_nodes_runner(env: &Env) {
    let plane = &env.plane;
    setup(env).await;
    let changes = plane.pipeline_changes();
    plane.create_pipeline(&admin(), new_pipeline("default", "p", "l", "warehouse")).await.unwrap();
    assert!(!notified_now(&changes).await, "CREATE PIPELINE wakes nothing");
    assert!(plane.start_pipeline(&admin(), "default", "nope").await.is_err());
    assert!(!notified_now(&changes).await, "a START that failed wakes nothing");
    plane.start_pipeline(&admin(), "default", "p").await.unwrap();
    assert!(notified_now(&changes).await, "START wakes the runner");
    assert!(!notified_now(&changes).await, "one wake per statement");
    plane.stop_pipeline(&admin(), "default", "p").await.unwrap();
    assert!(notified_now(&changes).await, "STOP wakes the runner");
}

/// Whether `notify` holds a notification now (taking it), without waiting.
async fn notified_now(notify: &tokio::sync::Notify) -> bool {
    tokio::select! {
        biased;
        () = notify.notified() => true,
        () = std::future::ready(()) => false,
    }
}
