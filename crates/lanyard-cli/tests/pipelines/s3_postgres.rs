//! The issue's walk-through, S3 (moto) into PostgreSQL, through `lanyard sql` and a real `lanyard serve`.

use lanyard_testsupport::{TempDatabase, moto_create_bucket, moto_put_object, moto_url};

use crate::{EVENTS_TABLE, events_csv, files, pipeline, start_with, unique, wait_for};

/// Made-up keys: moto takes any; none may be shown.
const KEY_ID: &str = "AKIAPIPELINEEXAMPLE1";
const SECRET_1: &str = "canary-s3-secret-one-3f9a1c";
const SECRET_2: &str = "canary-s3-secret-two-77b2e0";
const PG_PASSWORD: &str = "canary-pg-password-5d1e44";

#[test]
fn three_files_load_then_alter_link_keeps_the_cursor_and_two_more_load_once() {
    let moto = moto_url();
    let bucket = unique("pipe");
    moto_create_bucket(&moto, &bucket);
    let target = TempDatabase::postgres("pipe_s3");
    target.execute(EVENTS_TABLE);
    let database = target.database_name().unwrap();
    let env = start_with("pipe-s3", &["--pipeline-max-file-mib", "1"]);

    crate::create_s3_to_postgres(&env, &moto, &bucket, database, (KEY_ID, SECRET_1), PG_PASSWORD);
    let created = pipeline(&env, "events");
    assert_eq!(created["State"], "Stopped", "{created}");
    assert_eq!(created["Target"], "public.events ON CONNECTION warehouse");

    crate::three_files_load(
        &env,
        |key, body| drop(moto_put_object(&moto, &bucket, key, body)),
        |sql| target.query_i64(sql),
    );

    // The seed's rule: ALTER LINK on a link a RUNNING pipeline uses fails, naming it; nothing changes.
    let refused = env.fails(r#"ALTER LINK s3_events SET CONFIG ::region = "us-west-2""#);
    assert!(refused.contains("pipeline default.events is running"), "{refused}");
    assert!(refused.contains("STOP PIPELINE"), "{refused}");

    // STOP, then ALTER LINK: a new region and rotated keys, applied in place.
    env.ok("STOP PIPELINE events");
    wait_for(&env, "events", "the runner let go", |row| row["State"] == "Stopped");
    env.ok(&format!(r#"ALTER LINK s3_events SET CONFIG '{{"region":"eu-west-1","endpoint_url":"{moto}"}}'"#));
    env.ok(&format!("ALTER LINK s3_events SET CREDENTIALS ::aws_secret_access_key = '{SECRET_2}'"));
    // Two more files load once, the first three not again; then a row that does not fit fails its file only.
    let failed = crate::two_more_then_a_bad_file(
        &env,
        |key, body| drop(moto_put_object(&moto, &bucket, key, body)),
        |sql| target.query_i64(sql),
    );
    let shown = files(&env, "events");
    assert_eq!(shown[5], ("events/0006.csv".to_owned(), "Failed".to_owned(), None));
    assert_eq!(failed["State"], "Running", "a file that does not fit does not stop the pipeline");

    // A file over the node's size limit is Failed without being read; the pipeline goes on.
    let big = events_csv(1000, 30_000);
    assert!(big.len() > 1 << 20);
    moto_put_object(&moto, &bucket, "events/0008.csv", &big);
    let failed = wait_for(&env, "events", "the big file failed", |row| row["Files_failed"] == 2);
    let error = failed["Last_error"].as_str().unwrap_or_default();
    assert!(error.contains(r#"file "events/0008.csv" is "#) && error.contains("--pipeline-max-file-mib"), "{failed}");
    assert_eq!(target.query_i64("SELECT count(*) FROM events"), 60);

    // The node's metrics count what it did.
    let metrics = env.server.metrics();
    for line in [
        "lanyard_pipeline_files_loaded_total 6",
        "lanyard_pipeline_rows_loaded_total 60",
        "lanyard_pipeline_files_failed_total 2",
        "lanyard_pipeline_leases_held 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} is not in /metrics:\n{metrics}");
    }

    // DROP PIPELINE takes its file states; the target keeps its rows and ledger.
    env.ok("DROP PIPELINE events");
    assert_eq!(env.ok("SHOW PIPELINES")["rows"], serde_json::json!([]));
    assert_eq!(target.query_i64("SELECT count(*) FROM lanyard_pipeline_ledger"), 6);

    env.assert_no_canary_anywhere(&[SECRET_1, SECRET_2, PG_PASSWORD]);
}
