//! Exactly once under SIGKILL: a `lanyard serve` loading 40 CSV files from moto's S3 into PostgreSQL is killed
//! (SIGKILL) six times while it loads, and restarted on the same data directory (the same catalog and node id)
//! each time. After every kill the target holds exactly the rows of the files its ledger names, each once; in the
//! end every file is loaded exactly once and the catalog (SHOW PIPELINES, SHOW FILES) agrees with the target.
//!
//! Each round waits until the node has loaded a file or more since its start, then kills it at one of three moments
//! ([`Kill`]): while a file's target transaction is open (its ledger row written, not committed: seen in
//! `pg_stat_activity`); between a target commit and the catalog update, on purpose (the test holds the SQLite
//! catalog's write lock, as a stalled disk would, and kills once the ledger names a file the catalog does not record
//! as Loaded; the restarted node must reconcile that file from the ledger and never load it again); or after a
//! pause that varies from run to run (wherever the runner is: reading from S3, in the target, in the catalog).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lanyard_testsupport::{SqlCli, TempDatabase, TempDir, moto_create_bucket, moto_put_object, moto_url};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::{
    EVENTS_TABLE_NO_KEY, LANYARD, PATIENCE, events_csv, files, pipeline, serve_on, unique, wait_for, wait_loaded,
};

/// Files uploaded before START, and the rows of each (file `n` holds the ids `n * ROWS .. (n + 1) * ROWS`).
const FILES: i64 = 40;
const ROWS: i64 = 2000;
/// When each round kills the node.
const ROUNDS: [Kill; 6] = [Kill::After, Kill::InFlight, Kill::Stalled, Kill::InFlight, Kill::After, Kill::InFlight];

/// The moment of a kill (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// While a file's target transaction is open.
    InFlight,
    /// Between a target commit and the catalog update.
    Stalled,
    /// After a pause of 0 to 50 ms.
    After,
}

/// Made-up secrets: none may be shown.
const SECRET: &str = "canary-kill-s3-secret-61d0e2";
const PG_PASSWORD: &str = "canary-kill-pg-password-9a3f57";

/// What the reconciling node logs (`lanyard_pipelines::runner::reconcile`).
const RECONCILED: &str = "reconciled file states from the target's ledger";

/// The key of file `n`.
fn key(n: i64) -> String {
    format!("events/f{n:03}.csv")
}

#[test]
#[allow(clippy::print_stderr, reason = "it prints its measured figures (seen with `--no-capture`)")]
fn every_file_loads_exactly_once_across_sigkills_of_the_node() {
    let moto = moto_url();
    let bucket = unique("pipe-kill");
    moto_create_bucket(&moto, &bucket);
    let target = TempDatabase::postgres("pipe_kill");
    target.execute(EVENTS_TABLE_NO_KEY);
    let database = target.database_name().unwrap();
    let mut probe = Probe::connect(target.url());
    // The data directory outlives each server process: every restart finds the same catalog and node id.
    let home = TempDir::new("pipe-kill-node");
    let data = home.join("data");
    let catalog = data.join("catalog.db");
    let mut env = SqlCli::with_server(Path::new(LANYARD), "pipe-kill", serve_on(&data, &[], &[]));

    crate::create_s3_to_postgres(&env, &moto, &bucket, database, ("AKIAKILLEXAMPLE", SECRET), PG_PASSWORD);
    for n in 0..FILES {
        moto_put_object(&moto, &bucket, &key(n), &events_csv(n * ROWS, ROWS));
    }
    env.ok("START PIPELINE events");

    let mut logs = Vec::new();
    let mut killed_at = Vec::new();
    let mut restarts = Vec::new();
    let mut in_flight = Vec::new();
    for (round, kill) in ROUNDS.into_iter().enumerate() {
        let since = probe.ledger_len();
        // This node loads (so its batch is in its loop over the files).
        probe.wait_ledger(since + 1 + round as i64 % 2, round);
        let stalled = if kill == Kill::Stalled {
            // The catalog stalls: the next file commits in the target with its ledger row, and its catalog update
            // waits for the lock.
            let mut stall = probe.stall_catalog(&catalog);
            let recorded = probe.catalog_loaded(&mut stall);
            let started = Instant::now();
            let pending = loop {
                let pending: Vec<String> = probe.ledger_keys().difference(&recorded).cloned().collect();
                if !pending.is_empty() {
                    break pending;
                }
                assert!(started.elapsed() < PATIENCE, "round {round}: no file committed in the target while stalled");
                std::thread::sleep(Duration::from_millis(5));
            };
            env.server.kill();
            probe.release(stall);
            assert_eq!(pending.len(), 1, "one file is committed in the target and waits for the catalog: {pending:?}");
            assert!(!recorded.contains(&pending[0]));
            pending.into_iter().next()
        } else if kill == Kill::InFlight {
            let doing = probe.wait_write_in_flight(round);
            env.server.kill();
            in_flight.push(doing);
            None
        } else {
            let jitter = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos() % 50;
            std::thread::sleep(Duration::from_millis(u64::from(jitter)));
            env.server.kill();
            None
        };
        // The target after the kill: the rows of the files its ledger names, once each.
        let loaded = probe.check_exactly_once(round);
        assert!(loaded < FILES, "round {round}: every file was loaded before the kill; the round proved nothing");
        killed_at.push(loaded);
        logs.push(env.server.log());

        let started = Instant::now();
        env.server = serve_on(&data, &[], &[]);
        restarts.push(started.elapsed());
        if let Some(pending) = stalled {
            // The restarted node reconciles first: the file the catalog missed is Loaded, with the ledger's rows.
            wait_for(&env, "events", "the catalog caught up with the ledger", |row| {
                row["Files_loaded"].as_i64() >= Some(loaded)
            });
            let shown = files(&env, "events");
            let file = shown.iter().find(|(name, ..)| *name == pending).expect("the pending file is shown");
            assert_eq!((file.1.as_str(), file.2), ("Loaded", Some(ROWS)), "{shown:?}");
            let log = env.server.log();
            let line = log
                .lines()
                .find(|line| line.contains(RECONCILED))
                .unwrap_or_else(|| panic!("the restarted node did not reconcile from the ledger; its log:\n{log}"));
            assert!(line.contains("files=1"), "{line}");
        }
    }

    let done = wait_loaded(&env, "events", FILES);
    logs.push(env.server.log());
    let total = FILES * ROWS;
    assert_eq!(probe.check_exactly_once(ROUNDS.len()), FILES);
    assert_eq!(probe.i64("SELECT count(*) FROM events"), total);
    assert_eq!(probe.i64(&format!("SELECT count(*) FROM events WHERE id >= 0 AND id < {total}")), total);
    assert_eq!((done["Cursor"].as_str(), done["Rows_loaded"].as_i64()), (Some(key(FILES - 1).as_str()), Some(total)));
    assert_eq!((done["Files_unloaded"].as_i64(), done["Files_failed"].as_i64()), (Some(0), Some(0)), "{done}");
    assert_eq!(done["State"], "Running", "{done}");
    let expected: Vec<_> = (0..FILES).map(|n| (key(n), "Loaded".to_owned(), Some(ROWS))).collect();
    assert_eq!(files(&env, "events"), expected);
    assert_eq!(pipeline(&env, "events")["Last_error"], serde_json::Value::Null, "no batch failed");

    // Which kills fell between a target commit and the catalog update (the restarted node reconciled).
    let reconciled: Vec<usize> =
        logs.iter().enumerate().skip(1).filter(|(_, log)| log.contains(RECONCILED)).map(|(i, _)| i - 1).collect();
    eprintln!(
        "faults: SIGKILLs {ROUNDS:?} with {killed_at:?} of {FILES} files loaded; the in-flight kills came during \
         {in_flight:?}; the restarted node reconciled after rounds {reconciled:?}; restarts took {restarts:?}"
    );
    for log in &logs {
        assert!(!log.contains("panicked"), "a node panicked:\n{log}");
        assert!(!log.contains(SECRET) && !log.contains(PG_PASSWORD), "a secret is in a node's log");
    }
    env.assert_no_canary_anywhere(&[SECRET, PG_PASSWORD]);
}

/// The test's own sessions, on a runtime of its own: the target database (rows and ledger) and, to stall it, the
/// node's SQLite catalog.
struct Probe {
    runtime: tokio::runtime::Runtime,
    target: PgConnection,
}

impl Probe {
    fn connect(url: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let target = runtime.block_on(PgConnection::connect(url)).unwrap_or_else(|e| panic!("the target: {e}"));
        Self { runtime, target }
    }

    /// The integer `sql` returns.
    fn i64(&mut self, sql: &str) -> i64 {
        let query = sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut self.target);
        self.runtime.block_on(query).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// How many files the ledger names (none before the first load creates it).
    fn ledger_len(&mut self) -> i64 {
        if self.i64("SELECT count(*) FROM pg_class WHERE oid = to_regclass('public.lanyard_pipeline_ledger')") == 0 {
            return 0;
        }
        self.i64("SELECT count(*) FROM lanyard_pipeline_ledger")
    }

    /// The keys the ledger names.
    fn ledger_keys(&mut self) -> BTreeSet<String> {
        let query = sqlx::query_scalar::<_, String>("SELECT object_key FROM lanyard_pipeline_ledger")
            .fetch_all(&mut self.target);
        self.runtime.block_on(query).expect("the ledger's keys").into_iter().collect()
    }

    /// Waits until the ledger names at least `files` files.
    fn wait_ledger(&mut self, files: i64, round: usize) {
        let started = Instant::now();
        while self.ledger_len() < files {
            assert!(started.elapsed() < PATIENCE, "round {round}: {files} files were not loaded within {PATIENCE:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until a session in the target has a write transaction open (a file's ledger row written, its commit
    /// not yet sent); returns the start of the statement it runs or ran last.
    fn wait_write_in_flight(&mut self, round: usize) -> String {
        let started = Instant::now();
        loop {
            let query = sqlx::query_scalar::<_, String>(
                "SELECT left(query, 40) FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL LIMIT 1",
            )
            .fetch_optional(&mut self.target);
            if let Some(doing) = self.runtime.block_on(query).expect("pg_stat_activity") {
                return doing;
            }
            assert!(started.elapsed() < PATIENCE, "round {round}: no load was seen in flight within {PATIENCE:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Checks that the target holds the rows of exactly the files its ledger names, each once, and nothing of any
    /// other file (no file half-loaded, none loaded twice); returns how many files the ledger names.
    fn check_exactly_once(&mut self, round: usize) -> i64 {
        // One statement, so one snapshot: a commit the killed node sent just before it died may land meanwhile.
        let sql = format!(
            "SELECT (SELECT count(*) FROM lanyard_pipeline_ledger), \
                    (SELECT count(DISTINCT object_key) FROM lanyard_pipeline_ledger), \
                    (SELECT COALESCE(sum(rows_loaded), 0)::int8 FROM lanyard_pipeline_ledger), \
                    (SELECT count(*) FROM events), \
                    (SELECT count(DISTINCT id) FROM events), \
                    (SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM lanyard_pipeline_ledger l \
                        WHERE l.object_key = format('events/f%s.csv', lpad((e.id / {ROWS})::text, 3, '0'))))"
        );
        let query = sqlx::query_as::<_, (i64, i64, i64, i64, i64, i64)>(&sql).fetch_one(&mut self.target);
        let (files, keys, ledger_rows, rows, ids, strays) =
            self.runtime.block_on(query).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let what = format!("round {round}: ledger {files} files ({keys} keys, {ledger_rows} rows), target {rows} rows");
        assert_eq!(keys, files, "{what}: a key twice in the ledger");
        assert_eq!(ledger_rows, files * ROWS, "{what}");
        assert_eq!(rows, files * ROWS, "{what}: the target's rows are not those of the ledger's files");
        assert_eq!(ids, rows, "{what}: an id twice, so a file loaded twice");
        assert_eq!(strays, 0, "{what}: rows of a file the ledger does not name");
        files
    }

    /// Takes the write lock of the SQLite catalog at `path` (the node's catalog writes wait for it, its reads go
    /// on).
    fn stall_catalog(&mut self, path: &Path) -> SqliteConnection {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        self.runtime.block_on(async {
            let mut connection = options.connect().await.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut connection).await.expect("the catalog's write lock");
            connection
        })
    }

    /// The keys the catalog records as Loaded, read under the lock.
    fn catalog_loaded(&mut self, stall: &mut SqliteConnection) -> BTreeSet<String> {
        let query = sqlx::query_scalar::<_, String>("SELECT object_key FROM pipeline_files WHERE state = 'Loaded'")
            .fetch_all(stall);
        self.runtime.block_on(query).expect("the catalog's file states").into_iter().collect()
    }

    /// Gives the catalog's write lock back (nothing was written under it).
    fn release(&mut self, mut stall: SqliteConnection) {
        self.runtime.block_on(async {
            sqlx::raw_sql("ROLLBACK").execute(&mut stall).await.expect("release the catalog's write lock");
            stall.close().await.expect("close the catalog");
        });
    }
}
