//! The walk-through of `s3_postgres` from the other sources and into the other target: an AZURE link (Azurite)
//! into MariaDB through a `mysql` connection with a password, and a GCS link (gcp-storage-emulator, JSON API) into
//! PostgreSQL with `FORMAT JSON`.

use lanyard_testsupport::{
    AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, MariaDbDatabase, MariaDbUser, TempDatabase, azurite_create_container,
    azurite_put_blob, azurite_url, gcs_create_bucket, gcs_put_object, gcs_url,
};

use crate::{EVENTS_TABLE, events_csv, files, pipeline, start_with, unique, wait_for, wait_loaded};

/// The target table in MariaDB: the columns of [`EVENTS_TABLE`].
const EVENTS_TABLE_MYSQL: &str =
    "CREATE TABLE events (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, amount DECIMAL(12, 2)) ENGINE = InnoDB";

#[test]
fn azure_into_mysql_loads_once_across_alter_link_and_a_rotated_target_password() {
    const MYSQL_OLD: &str = "canary-mysql-old-91c0d7";
    const MYSQL_NEW: &str = "canary-mysql-new-4e88b2";
    let azurite = azurite_url();
    let container = unique("pipe-az");
    azurite_create_container(&azurite, &container);
    let target = MariaDbDatabase::create("pipe_az");
    target.execute(EVENTS_TABLE_MYSQL);
    let user = MariaDbUser::create(MYSQL_OLD);
    // The user may load the table and create the ledger beside it, in this database only.
    let accounts = ["%", "127.0.0.1", "localhost"].map(|host| format!("'{}'@'{host}'", user.name())).join(", ");
    target.execute(&format!("GRANT ALL PRIVILEGES ON `{}`.* TO {accounts}", target.name()));
    // A rotation takes two statements and a batch between them fails: give up only after many failures.
    let env = start_with("pipe-az", &["--pipeline-max-failures", "1000"]);

    env.ok(&format!(
        r#"CREATE LINK blobs AS AZURE CONFIG '{{"endpoint_url":"{azurite}"}}'
           CREDENTIALS '{{"account_name":"{AZURITE_ACCOUNT}","account_key":"{AZURITE_ACCOUNT_KEY}"}}'"#
    ));
    env.ok(&format!(
        r#"CREATE CREDENTIAL shop_login TYPE = CREDENTIAL SECRET '{{"username":"{}","password":"{MYSQL_OLD}"}}'"#,
        user.name()
    ));
    env.ok(&format!(
        "CREATE CONNECTION shop TYPE = mysql OPTIONS (host = '{}', port = '{}', database = '{}') \
         CREDENTIAL = shop_login",
        user.host(),
        user.port(),
        target.name()
    ));
    env.ok(&format!(
        "CREATE PIPELINE events AS LOAD DATA LINK blobs '{container}/events/' INTO TABLE events ON CONNECTION shop"
    ));
    assert_eq!(pipeline(&env, "events")["State"], "Stopped");

    crate::three_files_load(
        &env,
        |key, body| drop(azurite_put_blob(&azurite, &container, key, body)),
        |sql| target.query_i64(sql),
    );

    let refused = env.fails(r#"ALTER LINK blobs SET CONFIG ::connection_timeout = "30""#);
    assert!(refused.contains("pipeline default.events is running"), "{refused}");
    assert!(refused.contains("STOP PIPELINE"), "{refused}");

    // STOP, then ALTER LINK. Azurite accepts only its own account key, so the key cannot really rotate: the CONFIG
    // changes (a longer timeout) and the key is set again, which writes a new version of the link's vault entry.
    env.ok("STOP PIPELINE events");
    wait_for(&env, "events", "the runner let go", |row| row["State"] == "Stopped");
    env.ok(&format!(r#"ALTER LINK blobs SET CONFIG '{{"endpoint_url":"{azurite}","connection_timeout":30}}'"#));
    env.ok(&format!("ALTER LINK blobs SET CREDENTIALS ::account_key = '{AZURITE_ACCOUNT_KEY}'"));
    let config = &env.ok("SHOW LINKS")["rows"][0]["Config"];
    assert!(config.as_str().is_some_and(|c| c.contains(r#""connection_timeout":30"#)), "{config}");
    // Two more files load once, the first three not again; then a value strict mode refuses fails its file only.
    let failed = crate::two_more_then_a_bad_file(
        &env,
        |key, body| drop(azurite_put_blob(&azurite, &container, key, body)),
        |sql| target.query_i64(sql),
    );
    assert_eq!(files(&env, "events")[5], ("events/0006.csv".to_owned(), "Failed".to_owned(), None));
    assert_eq!(failed["State"], "Running", "{failed}");

    // The target's password rotates while the pipeline runs: in MariaDB, then in the vault entry. The next batch
    // connects with the new one, with no other step.
    user.set_password(MYSQL_NEW);
    assert!(user.try_connect(MYSQL_OLD).is_err(), "the old password no longer works");
    env.ok(&format!(
        r#"ALTER CREDENTIAL shop_login SET SECRET '{{"username":"{}","password":"{MYSQL_NEW}"}}'"#,
        user.name()
    ));
    azurite_put_blob(&azurite, &container, "events/0008.csv", &events_csv(800, 10));
    let loaded = wait_loaded(&env, "events", 7);
    assert_eq!((loaded["Cursor"].as_str(), loaded["State"].as_str()), (Some("events/0008.csv"), Some("Running")));
    assert_eq!(target.query_i64("SELECT count(*) FROM events"), 70);
    assert_eq!(target.query_i64("SELECT count(*) FROM lanyard_pipeline_ledger"), 7);

    env.assert_no_canary_anywhere(&[MYSQL_OLD, MYSQL_NEW, AZURITE_ACCOUNT_KEY]);
}

/// JSON lines of `rows` events with ids `first..first + rows`; the odd ones leave `amount` out (it loads as NULL).
fn events_json(first: i64, rows: i64) -> Vec<u8> {
    let mut text = String::new();
    for id in first..first + rows {
        let line = if id % 2 == 0 {
            serde_json::json!({ "id": id, "name": format!("event {id}, \"json\""), "amount": id * 3 })
        } else {
            serde_json::json!({ "name": format!("event {id}, \"json\""), "id": id })
        };
        text.push_str(&format!("{line}\n"));
    }
    text.into_bytes()
}

#[test]
fn gcs_json_lines_into_postgres_load_once_across_alter_link() {
    const PG_PASSWORD: &str = "canary-pg-gcs-8a31f5";
    let gcs = gcs_url();
    let bucket = unique("pipe-gcs");
    gcs_create_bucket(&gcs, &bucket);
    let target = TempDatabase::postgres("pipe_gcs");
    target.execute(EVENTS_TABLE);
    let database = target.database_name().unwrap();
    let env = start_with("pipe-gcs", &[]);

    // The emulator checks no credential: `disable_oauth` stands for a service account key (docs/connectors.md).
    env.ok(&format!(
        r#"CREATE LINK gcs_events AS GCS CONFIG '{{"endpoint_url":"{gcs}"}}' CREDENTIALS '{{"disable_oauth": true}}'"#
    ));
    env.ok(&format!(
        r#"CREATE CREDENTIAL pg_login TYPE = CREDENTIAL SECRET '{{"username":"postgres","password":"{PG_PASSWORD}"}}'"#
    ));
    env.ok(&format!(
        "CREATE CONNECTION warehouse TYPE = postgresql OPTIONS (host = '127.0.0.1', port = '5432', \
         database = '{database}') CREDENTIAL = pg_login"
    ));
    env.ok(&format!(
        "CREATE PIPELINE events AS LOAD DATA LINK gcs_events '{bucket}/events/*.jsonl' INTO TABLE events \
         ON CONNECTION warehouse FORMAT JSON"
    ));

    for n in 1..=3 {
        gcs_put_object(&gcs, &bucket, &format!("events/000{n}.jsonl"), &events_json(n * 100, 10));
    }
    // Not matched by the path's wildcard: never loaded.
    gcs_put_object(&gcs, &bucket, "events/0001.csv", &events_csv(900, 10));
    gcs_put_object(&gcs, &bucket, "events/old/0001.jsonl", &events_json(950, 10));
    env.ok("START PIPELINE events");
    let loaded = wait_loaded(&env, "events", 3);
    assert_eq!(loaded["Cursor"], "events/0003.jsonl", "{loaded}");
    assert_eq!((loaded["Rows_loaded"].as_i64(), loaded["State"].as_str()), (Some(30), Some("Running")));
    assert_eq!(target.query_i64("SELECT count(*) FROM events"), 30);
    assert_eq!(target.query_i64("SELECT count(*) FROM events WHERE amount IS NULL"), 15, "absent keys load as NULL");
    assert_eq!(
        target
            .query_i64(r#"SELECT count(*) FROM events WHERE id = 100 AND name = 'event 100, "json"' AND amount = 300"#),
        1
    );
    let expected: Vec<_> = (1..=3).map(|n| (format!("events/000{n}.jsonl"), "Loaded".to_owned(), Some(10))).collect();
    assert_eq!(files(&env, "events"), expected);

    let refused = env.fails(r#"ALTER LINK gcs_events SET CONFIG ::connection_timeout = "30""#);
    assert!(refused.contains("pipeline default.events is running"), "{refused}");
    env.ok("STOP PIPELINE events");
    wait_for(&env, "events", "the runner let go", |row| row["State"] == "Stopped");
    env.ok(r#"ALTER LINK gcs_events SET CONFIG ::connection_timeout = "30""#);
    gcs_put_object(&gcs, &bucket, "events/0004.jsonl", &events_json(400, 10));
    env.ok("START PIPELINE events");
    let loaded = wait_loaded(&env, "events", 4);
    assert_eq!(loaded["Cursor"], "events/0004.jsonl");
    assert_eq!(target.query_i64("SELECT count(*) FROM events"), 40);
    assert_eq!(target.query_i64("SELECT count(*) FROM lanyard_pipeline_ledger"), 4);

    // A line whose value the column refuses: the file is Failed with its line and column, nothing of it loaded.
    let mut bad = events_json(500, 4);
    bad.extend_from_slice(b"{\"id\": 504, \"name\": \"late\", \"amount\": \"not-a-number\"}\n");
    bad.extend_from_slice(&events_json(505, 2));
    gcs_put_object(&gcs, &bucket, "events/0005.jsonl", &bad);
    let failed =
        wait_for(&env, "events", "the file failed", |row| row["Files_failed"] == 1 && row["Files_loaded"] == 4);
    let error = failed["Last_error"].as_str().unwrap_or_default();
    assert!(error.contains(r#"file "events/0005.jsonl" line 5, column amount"#), "{failed}");
    assert_eq!(target.query_i64("SELECT count(*) FROM events WHERE id BETWEEN 500 AND 599"), 0, "never half-loaded");
    let shown = files(&env, "events");
    assert_eq!(shown.len(), 5, "{shown:?}");
    assert_eq!(shown[4], ("events/0005.jsonl".to_owned(), "Failed".to_owned(), None));
    // A line that is not JSON at all.
    gcs_put_object(&gcs, &bucket, "events/0006.jsonl", b"{\"id\": 600, \"name\": \"a\"}\nnot json\n");
    let failed =
        wait_for(&env, "events", "the second file failed", |row| row["Files_failed"] == 2 && row["Files_loaded"] == 4);
    let error = failed["Last_error"].as_str().unwrap_or_default();
    assert!(error.contains(r#"file "events/0006.jsonl" line 2"#), "{failed}");
    assert_eq!(target.query_i64("SELECT count(*) FROM events"), 40);
    assert_eq!(failed["State"], "Running", "{failed}");

    env.assert_no_canary_anywhere(&[PG_PASSWORD]);
}
