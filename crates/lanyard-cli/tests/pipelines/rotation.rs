//! Rotation while running: the target's password changes in the database and in the vault entry; the pipeline's next
//! batch connects with the new one, with no other step (no ALTER PIPELINE, no restart).

use lanyard_testsupport::{PrivatePostgres, moto_create_bucket, moto_put_object, moto_url};

use crate::{EVENTS_TABLE, events_csv, pipeline, start_with, unique, wait_for, wait_loaded};

const SUPERUSER_PASSWORD: &str = "canary-superuser-2b7c91";
const OLD_PASSWORD: &str = "canary-app-old-8e2d10";
const NEW_PASSWORD: &str = "canary-app-new-c4a6f3";

#[test]
fn the_next_batch_uses_the_rotated_target_password() {
    let moto = moto_url();
    let bucket = unique("pipe-rot");
    moto_create_bucket(&moto, &bucket);
    // A private cluster that checks passwords (scram-sha-256); the table belongs to `app`.
    let pg = PrivatePostgres::start(SUPERUSER_PASSWORD);
    pg.create_user("app", OLD_PASSWORD);
    pg.execute_as_superuser(&format!(
        "{EVENTS_TABLE}; ALTER TABLE events OWNER TO app; GRANT CREATE ON SCHEMA public TO app"
    ));
    // Rotation takes two statements; a batch between them fails, and is retried: give up only after many.
    let env = start_with("pipe-rot", &["--pipeline-max-failures", "1000"]);
    env.ok(&format!(
        r#"CREATE LINK s3_events AS S3 CONFIG '{{"region":"us-east-1","endpoint_url":"{moto}"}}'
           CREDENTIALS '{{"aws_access_key_id":"AKIAROTATIONEXAMPLE","aws_secret_access_key":"x"}}'"#
    ));
    env.ok(&format!(
        r#"CREATE CREDENTIAL app_login TYPE = CREDENTIAL SECRET '{{"username":"app","password":"{OLD_PASSWORD}"}}'"#
    ));
    env.ok(&format!(
        "CREATE CONNECTION warehouse TYPE = postgresql OPTIONS (host = '127.0.0.1', port = '{}') CREDENTIAL = app_login",
        pg.port()
    ));
    env.ok(&format!(
        "CREATE PIPELINE events AS LOAD DATA LINK s3_events '{bucket}/events/' INTO TABLE events ON CONNECTION warehouse"
    ));
    moto_put_object(&moto, &bucket, "events/0001.csv", &events_csv(1, 10));
    env.ok("START PIPELINE events");
    wait_loaded(&env, "events", 1);

    // Rotate: the database first, then the vault entry.
    pg.set_password("app", NEW_PASSWORD);
    assert!(pg.try_connect("app", OLD_PASSWORD).is_err(), "the old password no longer works");
    env.ok(&format!(r#"ALTER CREDENTIAL app_login SET SECRET '{{"username":"app","password":"{NEW_PASSWORD}"}}'"#));
    moto_put_object(&moto, &bucket, "events/0002.csv", &events_csv(100, 10));
    let loaded = wait_loaded(&env, "events", 2);
    assert_eq!(loaded["State"], "Running", "{loaded}");
    assert_eq!(pg.query_i64_as_superuser("SELECT count(*) FROM events"), 20);
    assert_eq!(pg.query_i64_as_superuser("SELECT count(*) FROM lanyard_pipeline_ledger"), 2);
    // A batch that ran between the two statements failed with the database's reason, never the password.
    let last = pipeline(&env, "events");
    if let Some(error) = last["Last_error"].as_str() {
        assert!(error.contains("password authentication failed"), "{error}");
    }
    wait_for(&env, "events", "still running", |row| row["State"] == "Running");
    env.assert_no_canary_anywhere(&[SUPERUSER_PASSWORD, OLD_PASSWORD, NEW_PASSWORD]);
}
