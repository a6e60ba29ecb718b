//! Pipelines end to end: the real `lanyard sql` against real `lanyard serve` processes whose runner loads files from
//! real object stores (moto's S3, Azurite, gcp-storage-emulator) into real tables (the machine's PostgreSQL and
//! MariaDB, each test in a database of its own).
//!
//! - `s3_postgres`: the issue's walk-through — three CSV files load, their rows, cursor and file states show; ALTER
//!   LINK while RUNNING is refused naming the pipeline; STOP, ALTER LINK (new region and rotated keys), START: two
//!   more files load, the first three never again, the cursor goes on; a file whose row does not fit is Failed with
//!   its line and column and nothing of it is loaded; no credential is shown anywhere.
//! - `rotation`: the target's password changes in the database and with ALTER CREDENTIAL … SET SECRET while the
//!   pipeline runs; its next batch loads with no other step.
//!
//! Every wait polls SHOW PIPELINES (never a fixed sleep) and fails with the pipeline's last state after a minute.

use std::path::Path;
use std::time::{Duration, Instant};

use lanyard_testsupport::SqlCli;
use serde_json::Value;

mod faults;
mod nodes;
mod rotation;
mod s3_postgres;
mod sources;
mod walkthrough;

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// The runner's settings for tests: look every 100 ms, a three-second lease, give up after three failures in a row.
const FAST_RUNNER: &[&str] =
    &["--pipeline-interval-ms", "100", "--pipeline-lease-ms", "3000", "--pipeline-max-failures", "3"];

/// How long a wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// A server with a fast runner and a CLI of this test's own.
fn start(home: &str) -> SqlCli {
    start_with(home, &[])
}

/// [`start`] with more `lanyard serve` arguments; a flag of [`FAST_RUNNER`] given here replaces its value there.
fn start_with(home: &str, args: &[&str]) -> SqlCli {
    SqlCli::start_with(Path::new(LANYARD), home, &serve_args(args))
}

/// [`FAST_RUNNER`] with `args`: its flags that `args` gives again are left out (clap refuses a flag twice).
fn serve_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = FAST_RUNNER.chunks(2).filter(|pair| !args.contains(&pair[0])).flatten().copied().collect();
    all.extend_from_slice(args);
    all
}

/// A name no other test uses (buckets, containers).
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The SHOW PIPELINES row of `name` (in the session's database).
fn pipeline(env: &SqlCli, name: &str) -> Value {
    let result = env.ok("SHOW PIPELINES");
    let rows = result["rows"].as_array().expect("SHOW PIPELINES has rows");
    let column = result["columns"][0].as_str().expect("the first column").to_owned();
    rows.iter().find(|row| row[&column] == name).unwrap_or_else(|| panic!("no pipeline {name}: {result}")).clone()
}

/// Polls `pipeline(name)` until `done` holds; panics with the last row after [`PATIENCE`].
fn wait_for(env: &SqlCli, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let row = pipeline(env, name);
        if done(&row) {
            return row;
        }
        assert!(started.elapsed() < PATIENCE, "pipeline {name}: {what} did not happen within {PATIENCE:?}: {row}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `name` has loaded `files` files.
fn wait_loaded(env: &SqlCli, name: &str, files: i64) -> Value {
    wait_for(env, name, &format!("{files} files loaded"), |row| row["Files_loaded"] == files)
}

/// SHOW FILES FOR PIPELINE `name`: (file, state, rows) in key order.
fn files(env: &SqlCli, name: &str) -> Vec<(String, String, Option<i64>)> {
    let result = env.ok(&format!("SHOW FILES FOR PIPELINE {name}"));
    result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["File_name"].as_str().unwrap().to_owned(),
                row["File_state"].as_str().unwrap().to_owned(),
                row["Rows"].as_i64(),
            )
        })
        .collect()
}

/// A CSV file of `rows` events with ids `first..first + rows`, with its header.
fn events_csv(first: i64, rows: i64) -> Vec<u8> {
    let mut text = String::from("id,name,amount\n");
    for id in first..first + rows {
        text.push_str(&format!("{id},\"event {id}, quoted\",{}.{:02}\n", id * 3, id % 100));
    }
    text.into_bytes()
}

/// The target table of these tests.
const EVENTS_TABLE: &str = "CREATE TABLE events (id integer PRIMARY KEY, name text NOT NULL, amount numeric(12, 2))";

/// A `lanyard serve` on the data directory `data` (which outlives it: a restart on it finds the same catalog, master
/// key, admin token and node id), logging at debug level, with [`FAST_RUNNER`], the environment `vars` and `args`
/// (as in [`start_with`]).
fn serve_on(data: &Path, vars: &[(&str, &str)], args: &[&str]) -> lanyard_testsupport::LanyardServer {
    let mut builder =
        lanyard_testsupport::LanyardServer::builder(Path::new(LANYARD)).data_dir(data).args(&["--log-level", "debug"]);
    for (key, value) in vars {
        builder = builder.env(key, value);
    }
    builder.args(&serve_args(args)).start()
}

/// A target table like [`EVENTS_TABLE`] without a primary key: a file loaded twice would show as ids counted twice
/// rather than as a load the database refuses.
const EVENTS_TABLE_NO_KEY: &str =
    "CREATE TABLE events (id integer NOT NULL, name text NOT NULL, amount numeric(12, 2))";

/// The S3 → PostgreSQL set-up most tests share: a link `s3_events` to moto with the keys `key_id` / `secret`, a
/// credential `pg_login` (user `postgres`, password `pg_password`: the machine's server trusts it), a connection
/// `warehouse` to `database` on 127.0.0.1:5432, and a pipeline `events` from `<bucket>/events/` into
/// `public.events`. The pipeline is left Stopped.
fn create_s3_to_postgres(
    env: &SqlCli,
    moto: &str,
    bucket: &str,
    database: &str,
    keys: (&str, &str),
    pg_password: &str,
) {
    let (key_id, secret) = keys;
    env.ok(&format!(
        r#"CREATE LINK s3_events AS S3 CONFIG '{{"region":"us-east-1","endpoint_url":"{moto}"}}'
           CREDENTIALS '{{"aws_access_key_id":"{key_id}","aws_secret_access_key":"{secret}"}}'"#
    ));
    env.ok(&format!(
        r#"CREATE CREDENTIAL pg_login TYPE = CREDENTIAL SECRET '{{"username":"postgres","password":"{pg_password}"}}'"#
    ));
    env.ok(&format!(
        "CREATE CONNECTION warehouse TYPE = postgresql OPTIONS (host = '127.0.0.1', port = '5432', \
         database = '{database}') CREDENTIAL = pg_login"
    ));
    env.ok(&format!(
        "CREATE PIPELINE events AS LOAD DATA LINK s3_events '{bucket}/events/' INTO TABLE public.events \
         ON CONNECTION warehouse"
    ));
}

/// What follows STOP and ALTER LINK in the walk-through, for any source and target: the cursor and file states were
/// kept; two more files (`put(key, body)` uploads) load after START and the first three not again (`count(sql)`
/// queries the target); then a file whose line 7 does not fit is Failed with its line and column, nothing of it is
/// loaded, and the next file loads. Returns the last SHOW PIPELINES row.
fn two_more_then_a_bad_file(env: &SqlCli, put: impl Fn(&str, &[u8]), count: impl Fn(&str) -> i64) -> Value {
    let stopped = pipeline(env, "events");
    assert_eq!((stopped["Cursor"].as_str(), stopped["Files_loaded"].as_i64()), (Some("events/0003.csv"), Some(3)));
    for n in 4..=5 {
        put(&format!("events/000{n}.csv"), &events_csv(n * 100, 10));
    }
    env.ok("START PIPELINE events");
    let loaded = wait_loaded(env, "events", 5);
    assert_eq!(loaded["Cursor"], "events/0005.csv");
    // The first three were not loaded again: 50 rows (a primary key would refuse a second copy anyway, so the ledger
    // is checked too: one row per file).
    assert_eq!(count("SELECT count(*) FROM events"), 50);
    assert_eq!(count("SELECT count(*) FROM lanyard_pipeline_ledger"), 5);
    assert_eq!(count("SELECT count(DISTINCT object_key) FROM lanyard_pipeline_ledger"), 5);

    let mut bad = events_csv(600, 5);
    bad.extend_from_slice(b"605,late,not-a-number\n");
    put("events/0006.csv", &bad);
    put("events/0007.csv", &events_csv(700, 10));
    let failed = wait_for(env, "events", "one file failed and the next loaded", |row| {
        row["Files_failed"] == 1 && row["Files_loaded"] == 6
    });
    let error = failed["Last_error"].as_str().unwrap_or_default();
    assert!(error.contains(r#"file "events/0006.csv" line 7, column amount"#), "{failed}");
    assert_eq!(count("SELECT count(*) FROM events WHERE id BETWEEN 600 AND 699"), 0, "never half-loaded");
    assert_eq!(count("SELECT count(*) FROM events"), 60);
    failed
}

/// The walk-through's first half, for any source and target: three CSV files under `events/` and one outside it
/// (`put(key, body)` uploads), START, and the three load — rows (`count(sql)` queries the target), cursor, file
/// states — while the fourth does not.
fn three_files_load(env: &SqlCli, put: impl Fn(&str, &[u8]), count: impl Fn(&str) -> i64) {
    for n in 1..=3 {
        put(&format!("events/000{n}.csv"), &events_csv(n * 100, 10));
    }
    // Outside the path: never loaded.
    put("other/0001.csv", &events_csv(900, 10));
    env.ok("START PIPELINE events");
    let loaded = wait_loaded(env, "events", 3);
    assert_eq!(count("SELECT count(*) FROM events"), 30);
    assert_eq!(loaded["Cursor"], "events/0003.csv", "{loaded}");
    assert_eq!((loaded["Rows_loaded"].as_i64(), loaded["State"].as_str()), (Some(30), Some("Running")));
    assert_eq!(
        count("SELECT count(*) FROM events WHERE name = 'event 100, quoted' AND amount = 300.00"),
        1,
        "quoted fields with the delimiter inside load as one value"
    );
    let expected: Vec<_> = (1..=3).map(|n| (format!("events/000{n}.csv"), "Loaded".to_owned(), Some(10))).collect();
    assert_eq!(files(env, "events"), expected);
}
