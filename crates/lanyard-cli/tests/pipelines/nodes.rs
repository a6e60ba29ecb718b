//! Two `lanyard serve` nodes on one PostgreSQL catalog, with a two-second lease: a running pipeline is run by exactly
//! one of them (SHOW PIPELINES' `Running_on` never changes while both live, and only that node's log loads files);
//! SIGKILL of that node moves the pipeline to the other once the lease lapses; the files of before, during and after
//! the takeover are each loaded once (target rows and ledger).

use std::path::Path;
use std::time::{Duration, Instant};

use lanyard_testsupport::{SqlCli, TempDatabase, TempDir, moto_create_bucket, moto_put_object, moto_url};
use serde_json::Value;

use crate::{EVENTS_TABLE_NO_KEY, LANYARD, PATIENCE, events_csv, pipeline, serve_on, unique, wait_loaded};

/// The lease of these nodes, in milliseconds.
const LEASE_MS: u64 = 2000;
/// Rows per file; file `n` holds the ids `n * ROWS .. (n + 1) * ROWS`.
const ROWS: i64 = 500;
/// What a node logs when it starts running a pipeline (with the target, so that no SQL text logged at debug level
/// matches).
const RUNNING: &str = "lanyard_pipelines::runner: running pipeline";
/// What a node logs for each file it loads (debug).
const FILE_LOADED: &str = "lanyard_pipelines::load::postgres: file loaded";

/// The key of file `n`.
fn key(n: i64) -> String {
    format!("events/{n:04}.csv")
}

/// The node SHOW PIPELINES says runs `events`, if any.
fn running_on(env: &SqlCli) -> Option<String> {
    match &pipeline(env, "events")["Running_on"] {
        Value::Null => None,
        Value::String(node) => Some(node.clone()),
        other => panic!("Running_on is not a string: {other}"),
    }
}

#[test]
#[allow(clippy::print_stderr, reason = "it prints its measured figures (seen with `--no-capture`)")]
fn one_of_two_nodes_runs_a_pipeline_and_the_other_takes_over_when_it_dies() {
    let moto = moto_url();
    let bucket = unique("pipe-nodes");
    moto_create_bucket(&moto, &bucket);
    let target = TempDatabase::postgres("pipe_nodes");
    target.execute(EVENTS_TABLE_NO_KEY);
    let database = target.database_name().unwrap();
    let catalog = TempDatabase::postgres("pipe_nodes_catalog");
    let master_key = lanyard_vault_local::MasterKey::generate().unwrap().expose_base64();
    let lease = LEASE_MS.to_string();
    let node = |data: &Path| {
        serve_on(
            data,
            &[("LANYARD_MASTER_KEY", master_key.expose_secret())],
            &["--catalog", catalog.url(), "--pipeline-lease-ms", &lease],
        )
    };
    // One after the other, so the second finds the catalog migrated and the admin bootstrapped; the first wrote the
    // admin token to its data directory, the second gets a copy for its CLI.
    let homes = [TempDir::new("pipe-nodes-a"), TempDir::new("pipe-nodes-b")];
    let data = [homes[0].join("data"), homes[1].join("data")];
    let a = SqlCli::with_server(Path::new(LANYARD), "pipe-nodes-a", node(&data[0]));
    make_private_dir(&data[1]);
    std::fs::copy(data[0].join("admin.token"), data[1].join("admin.token")).expect("copy the admin token");
    let b = SqlCli::with_server(Path::new(LANYARD), "pipe-nodes-b", node(&data[1]));
    let mut nodes = [a, b];
    let ids = data
        .clone()
        .map(|dir| std::fs::read_to_string(dir.join("node.id")).expect("each node keeps its id").trim().to_owned());
    assert_ne!(ids[0], ids[1]);

    let env = &nodes[0];
    crate::create_s3_to_postgres(env, &moto, &bucket, database, ("AKIANODESEXAMPLE", "x"), "x");
    assert_eq!(running_on(&nodes[1]), None, "a stopped pipeline runs nowhere");
    for n in 0..3 {
        moto_put_object(&moto, &bucket, &key(n), &events_csv(n * ROWS, ROWS));
    }
    nodes[1].ok("START PIPELINE events");

    // Exactly one node takes it, and keeps it while both live (both nodes are asked, in turn, for 3 s).
    let started = Instant::now();
    let holder_id = loop {
        if let Some(node) = running_on(&nodes[0]) {
            break node;
        }
        assert!(started.elapsed() < PATIENCE, "no node took the pipeline");
        std::thread::sleep(Duration::from_millis(50));
    };
    let holder = ids.iter().position(|id| *id == holder_id).unwrap_or_else(|| panic!("{holder_id} is no node"));
    let other = 1 - holder;
    wait_loaded(&nodes[other], "events", 3);
    let watched = Instant::now();
    let mut looks = 0;
    while watched.elapsed() < Duration::from_secs(3) {
        assert_eq!(running_on(&nodes[looks % 2]).as_deref(), Some(holder_id.as_str()), "the lease moved");
        looks += 1;
    }
    let (holder_log, other_log) = (nodes[holder].server.log(), nodes[other].server.log());
    assert_eq!(holder_log.matches(RUNNING).count(), 1, "the holder started running it once:\n{holder_log}");
    assert!(holder_log.contains(FILE_LOADED), "{holder_log}");
    assert!(!other_log.contains(RUNNING) && !other_log.contains(FILE_LOADED), "the other node ran it:\n{other_log}");

    // Three more files, and the holder dies while it may be loading them.
    for n in 3..6 {
        moto_put_object(&moto, &bucket, &key(n), &events_csv(n * ROWS, ROWS));
    }
    nodes[holder].server.kill();
    let killed = Instant::now();
    let survivor = &nodes[other];
    loop {
        if running_on(survivor).as_deref() == Some(ids[other].as_str()) {
            break;
        }
        assert!(killed.elapsed() < PATIENCE, "the survivor never took the pipeline over");
        std::thread::sleep(Duration::from_millis(50));
    }
    let takeover = killed.elapsed();
    let bound = Duration::from_millis(3 * LEASE_MS) + Duration::from_secs(5);
    assert!(takeover < bound, "the takeover took {takeover:?}, more than {bound:?}");
    for n in 6..9 {
        moto_put_object(&moto, &bucket, &key(n), &events_csv(n * ROWS, ROWS));
    }
    let done = wait_loaded(survivor, "events", 9);
    eprintln!("nodes: the lease of {LEASE_MS} ms moved to the survivor {takeover:?} after the SIGKILL");

    assert_eq!((done["Cursor"].as_str(), done["Rows_loaded"].as_i64()), (Some(key(8).as_str()), Some(9 * ROWS)));
    assert_eq!(done["State"], "Running", "{done}");
    assert_eq!(target.query_i64("SELECT count(*) FROM events"), 9 * ROWS);
    assert_eq!(target.query_i64("SELECT count(DISTINCT id) FROM events"), 9 * ROWS, "no file loaded twice");
    assert_eq!(target.query_i64("SELECT count(*) FROM lanyard_pipeline_ledger"), 9);
    assert_eq!(target.query_i64("SELECT count(DISTINCT object_key) FROM lanyard_pipeline_ledger"), 9);
    let survivor_log = survivor.server.log();
    assert_eq!(survivor_log.matches(RUNNING).count(), 1, "{survivor_log}");
    for n in 6..9 {
        let loaded_here = survivor_log.lines().any(|line| line.contains(FILE_LOADED) && line.contains(&key(n)));
        assert!(loaded_here, "the survivor loaded {}:\n{survivor_log}", key(n));
    }
    let holder_log = nodes[holder].server.log();
    let lost = "another node took the pipeline's lease";
    assert!(!survivor_log.contains(lost) && !holder_log.contains(lost), "the lease was taken from a live holder");
}

/// Creates `dir` with mode 0700, as `lanyard serve` makes a data directory.
fn make_private_dir(dir: &Path) {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
}
