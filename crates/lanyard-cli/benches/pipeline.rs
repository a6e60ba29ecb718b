//! `pipeline_rows_per_sec` (issue 15's benchmark): rows per second that a real pipeline loads from moto's S3 into
//! PostgreSQL, against the same-run anchor of `psql \copy` loading the same files from local disk.
//!
//! - **The files**: 100 CSV files of 10,000 rows each (a header, then `id bigint, ts timestamptz, name text, amount
//!   numeric`; every seventh name holds a quoted comma and every thirteenth a doubled quote), generated once with
//!   fixed content, written to a temporary directory for the anchor and uploaded to a fresh moto bucket.
//! - **Measured**: the release `lanyard serve` built for this bench (`CARGO_BIN_EXE_lanyard`, bench profile =
//!   release) with `--pipeline-interval-ms 50` and otherwise default runner settings, its catalog in a temporary data
//!   directory (SQLite); an S3 link to moto, a postgresql connection to a fresh database on the machine's PostgreSQL
//!   and a pipeline into `public.events`. The clock runs from the `POST …/pipelines/<name>/start` request until
//!   `GET …/pipelines/<name>` (polled every 50 ms over one keep-alive HTTP connection) reports all 100 files loaded;
//!   rows/s = 1,000,000 / that time. The time includes the supervisor's pick-up (it looks at the catalog once a
//!   second with the default lease), the listing, every GET from moto, COPY and the catalog writes of each file.
//! - **Anchor**: `psql` loading the same files from local disk into an identical table (`events_anchor`) of the
//!   same database, one `\copy events_anchor FROM '<file>' CSV HEADER` after the other (as the runner loads one file
//!   after another within a pipeline) **in one psql session** (`psql -f` of a script of 100 `\copy` lines): the
//!   runner too loads a whole batch over one target session, so neither side pays a connection per file.
//! - Each side runs [`REPETITIONS`] times, on an emptied table (`TRUNCATE`, the ledger dropped) after a
//!   `CHECKPOINT`, rotating the order so that each side runs first, second and third once; the figures are the
//!   medians. Every run is checked: 1,000,000 rows (and 100 ledger rows on the measured side).
//! - **Diagnostics** (in the report, not in the ratio): `psql -c "\copy …"` run as one process per file (a
//!   connection per file: the weaker anchor), when the runner held the lease and when it had listed every file
//!   (first poll that saw it), the rows/s from that listing to the last file loaded (the loading alone, without the
//!   pick-up), and the time to GET the 100 objects from moto one after another from this process (how much of the
//!   pipeline's time moto's S3 can account for).
//!
//! Writes `target/bench/pipeline_rows_per_sec.json`, which `cargo xtask bench pipeline` reads. Needs moto
//! (`LANYARD_TEST_MOTO_URL`, set by `cargo xtask bench`), PostgreSQL on 127.0.0.1:5432 (trust) and `psql`; fails
//! loudly without them.

#![allow(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lanyard_testsupport::{
    LanyardServer, MOTO_ACCESS_KEY_ID, MOTO_REGION, SqlCli, TempDatabase, TempDir, bench_target_dir,
    moto_create_bucket, moto_put_object, moto_url, pg_bindir, unique_name,
};
use serde_json::{Value, json};

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// Files loaded per run.
const FILES: usize = 100;
/// Rows per file (not counting the header).
const ROWS_PER_FILE: usize = 10_000;
/// Runs of each side.
const REPETITIONS: usize = 3;
/// How often the measured side asks whether the pipeline is done.
const POLL: Duration = Duration::from_millis(50);
/// How long one run may take before the bench fails.
const PATIENCE: Duration = Duration::from_secs(600);

/// The table both sides load into (the anchor's is `events_anchor`).
const TABLE: &str = "(id bigint PRIMARY KEY, ts timestamptz NOT NULL, name text NOT NULL, amount numeric(12, 2))";

fn main() {
    let moto = moto_url();
    let total_rows = (FILES * ROWS_PER_FILE) as i64;

    // The files: on disk for the anchor, in moto for the pipeline.
    let files = generate();
    let bytes: usize = files.iter().map(|(_, body)| body.len()).sum();
    let dir = TempDir::new("bench-pipeline");
    let bucket = unique_name("bench-pipe-");
    moto_create_bucket(&moto, &bucket);
    let mut paths = Vec::with_capacity(FILES);
    for (name, body) in &files {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        paths.push(path);
        moto_put_object(&moto, &bucket, &format!("events/{name}"), body);
    }
    println!("pipeline bench: {FILES} files x {ROWS_PER_FILE} rows, {:.1} MB, in {bucket}", bytes as f64 / 1e6);

    // Declared before the server, so that the server (and its connections) goes first on drop.
    let target = TempDatabase::postgres("bench_pipe");
    target.execute(&format!("CREATE TABLE events {TABLE}; CREATE TABLE events_anchor {TABLE}"));
    let database = target.database_name().expect("a PostgreSQL database").to_owned();

    let server = LanyardServer::builder(Path::new(LANYARD))
        .args(&["--log-level", "info,lanyard_pipelines=debug", "--pipeline-interval-ms", "50"])
        .start();
    let api = Api::new(&server);
    let cli = SqlCli::with_server(Path::new(LANYARD), "bench-pipeline-cli", server);
    cli.ok(&format!(
        r#"CREATE LINK bench_s3 AS S3 CONFIG '{{"region":"{MOTO_REGION}","endpoint_url":"{moto}"}}'
           CREDENTIALS '{{"aws_access_key_id":"{MOTO_ACCESS_KEY_ID}","aws_secret_access_key":"testing"}}'"#
    ));
    // The machine's PostgreSQL trusts local logins: the password is not checked.
    cli.ok(r#"CREATE CREDENTIAL bench_pg TYPE = CREDENTIAL SECRET '{"username":"postgres","password":"unused"}'"#);
    cli.ok(&format!(
        "CREATE CONNECTION bench_target TYPE = postgresql OPTIONS (host = '127.0.0.1', port = '5432', \
         database = '{database}') CREDENTIAL = bench_pg"
    ));

    let psql = psql();
    let script = dir.join("copy-all.sql");
    let lines: String = paths.iter().map(|path| copy_command(path) + "\n").collect();
    std::fs::write(&script, lines).unwrap_or_else(|e| panic!("cannot write {}: {e}", script.display()));
    let mut pipeline_runs = Vec::new();
    let mut anchor_runs = Vec::new();
    let mut per_file_runs = Vec::new();
    for round in 0..REPETITIONS {
        // Over three rounds each side takes each place in the order once.
        for turn in (0..3).map(|i| (i + round) % 3) {
            match turn {
                0 => {
                    let run = measure_pipeline(&cli, &api, &target, &bucket, round);
                    println!(
                        "round {round}: pipeline {:.3} s (lease taken by {:.0} ms, all files listed by {:.0} ms)",
                        run.seconds, run.leased_ms, run.listed_ms
                    );
                    pipeline_runs.push(run);
                }
                1 => {
                    let seconds = measure_anchor(&target, || run_psql(&psql, target.url(), "-f", script.as_os_str()));
                    println!("round {round}: psql, one session running {FILES} \\copy: {seconds:.3} s");
                    anchor_runs.push(seconds);
                }
                _ => {
                    let seconds = measure_anchor(&target, || {
                        for path in &paths {
                            run_psql(&psql, target.url(), "-c", copy_command(path).as_ref());
                        }
                    });
                    println!("round {round}: psql -c \\copy, one process per file: {seconds:.3} s");
                    per_file_runs.push(seconds);
                }
            }
        }
    }
    let moto_get_seconds = api.time_moto_gets(&moto, &bucket, &files);
    println!("GET of the {FILES} objects from moto, one after another: {moto_get_seconds:.3} s");

    let pipeline_seconds: Vec<f64> = pipeline_runs.iter().map(|run| run.seconds).collect();
    // From the first poll that saw every file listed to the last file loaded: the loading alone, without pick-up.
    let loading: Vec<f64> = pipeline_runs.iter().map(|run| run.seconds - run.listed_ms / 1000.0).collect();
    let value = total_rows as f64 / median(&pipeline_seconds);
    let anchor = total_rows as f64 / median(&anchor_runs);
    let report = json!({
        "files": FILES,
        "rows_per_file": ROWS_PER_FILE,
        "bytes": bytes,
        "repetitions": REPETITIONS,
        "poll_ms": POLL.as_millis() as u64,
        "rows_per_sec": value,
        "anchor_rows_per_sec": anchor,
        "pipeline_seconds": pipeline_seconds,
        "anchor_seconds": anchor_runs,
        "psql_per_file_seconds": per_file_runs,
        "psql_per_file_rows_per_sec": total_rows as f64 / median(&per_file_runs),
        "leased_ms": pipeline_runs.iter().map(|run| run.leased_ms).collect::<Vec<_>>(),
        "listed_ms": pipeline_runs.iter().map(|run| run.listed_ms).collect::<Vec<_>>(),
        "loading_rows_per_sec": total_rows as f64 / median(&loading),
        "moto_get_seconds": moto_get_seconds,
    });
    let out = bench_target_dir().join("bench");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("cannot create {}: {e}", out.display()));
    let path = out.join("pipeline_rows_per_sec.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("JSON") + "\n")
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    println!("pipeline_rows_per_sec {value:.0} rows/s, anchor {anchor:.0} rows/s, ratio {:.2}", value / anchor);
}

/// One run of the measured side.
struct PipelineRun {
    /// START to all files loaded.
    seconds: f64,
    /// START to the first poll that saw the runner hold the lease.
    leased_ms: f64,
    /// START to the first poll that saw every file known to the runner (listed).
    listed_ms: f64,
}

/// A fresh pipeline `load_<round>` over the bucket into the emptied `events`: START, then poll until every file is
/// loaded; checks the rows and the ledger, then drops the pipeline.
fn measure_pipeline(cli: &SqlCli, api: &Api, target: &TempDatabase, bucket: &str, round: usize) -> PipelineRun {
    let name = format!("load_{round}");
    target.execute("TRUNCATE events; DROP TABLE IF EXISTS lanyard_pipeline_ledger; CHECKPOINT");
    cli.ok(&format!(
        "CREATE PIPELINE {name} AS LOAD DATA LINK bench_s3 '{bucket}/events/' INTO TABLE public.events \
         ON CONNECTION bench_target"
    ));
    let started = Instant::now();
    api.post(&format!("/databases/default/pipelines/{name}/start"));
    let (mut leased, mut listed) = (None, None);
    let done = loop {
        let row = api.get(&format!("/databases/default/pipelines/{name}"));
        let elapsed = started.elapsed();
        let count = |state: &str| row["files"][state].as_u64().unwrap_or_default() as usize;
        if leased.is_none() && !row["running_on"].is_null() {
            leased = Some(elapsed);
        }
        if listed.is_none() && count("loaded") + count("unloaded") + count("failed") >= FILES {
            listed = Some(elapsed);
        }
        assert!(count("failed") == 0 && row["state"] == "Running", "pipeline {name} failed: {row}");
        if count("loaded") == FILES {
            break elapsed;
        }
        assert!(elapsed < PATIENCE, "pipeline {name} did not load {FILES} files within {PATIENCE:?}: {row}");
        std::thread::sleep(POLL);
    };
    let total_rows = (FILES * ROWS_PER_FILE) as i64;
    assert_eq!(target.query_i64("SELECT count(*) FROM events"), total_rows, "pipeline rows");
    assert_eq!(target.query_i64("SELECT count(*) FROM lanyard_pipeline_ledger"), FILES as i64, "ledger rows");
    api.post(&format!("/databases/default/pipelines/{name}/stop"));
    cli.ok(&format!("DROP PIPELINE {name}"));
    let ms = |at: Option<Duration>| at.unwrap_or(done).as_secs_f64() * 1000.0;
    PipelineRun { seconds: done.as_secs_f64(), leased_ms: ms(leased), listed_ms: ms(listed) }
}

/// Empties `events_anchor`, checkpoints, times `load`, checks that it loaded every row; returns the seconds.
fn measure_anchor(target: &TempDatabase, load: impl FnOnce()) -> f64 {
    target.execute("TRUNCATE events_anchor; CHECKPOINT");
    let started = Instant::now();
    load();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(target.query_i64("SELECT count(*) FROM events_anchor"), (FILES * ROWS_PER_FILE) as i64, "anchor rows");
    seconds
}

/// `\copy events_anchor FROM '<path>' CSV HEADER`.
fn copy_command(path: &Path) -> String {
    format!("\\copy events_anchor FROM '{}' CSV HEADER", path.display())
}

/// `psql -X -q -v ON_ERROR_STOP=1 -d <url> <flag> <argument>` (`-c` a command, `-f` a script); fails loudly.
fn run_psql(psql: &Path, url: &str, flag: &str, argument: &OsStr) {
    let output = Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, flag])
        .arg(argument)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", psql.display()));
    assert!(
        output.status.success(),
        "psql {flag} {argument:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `psql` next to the PostgreSQL server binaries, else the one on `PATH`.
fn psql() -> PathBuf {
    let beside = pg_bindir().join("psql");
    if beside.is_file() { beside } else { PathBuf::from("psql") }
}

/// The files `0000.csv` … `0099.csv`, same content every run.
fn generate() -> Vec<(String, Vec<u8>)> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..FILES)
        .map(|file| {
            let mut text = String::with_capacity(ROWS_PER_FILE * 64);
            text.push_str("id,ts,name,amount\n");
            for row in 0..ROWS_PER_FILE {
                let id = (file * ROWS_PER_FILE + row + 1) as u64;
                // A timestamp id seconds after 2024-01-01 (under 12 days: the day stays in January).
                let (day, seconds) = (1 + id / 86_400, id % 86_400);
                let ts =
                    format!("2024-01-{day:02} {:02}:{:02}:{:02}+00", seconds / 3600, seconds / 60 % 60, seconds % 60);
                let name = match id {
                    id if id % 13 == 0 => format!("\"the \"\"best\"\" customer {id}\""),
                    id if id % 7 == 0 => format!("\"Smith, Jane {id}\""),
                    id => format!("customer {id}"),
                };
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let cents = (state >> 33) % 10_000_000;
                text.push_str(&format!("{id},{ts},{name},{}.{:02}\n", cents / 100, cents % 100));
            }
            (format!("{file:04}.csv"), text.into_bytes())
        })
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The server's HTTP API with the admin token, over one keep-alive connection.
struct Api {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    fn new(server: &LanyardServer) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        Self { runtime, client: reqwest::Client::new(), url: server.url().to_owned(), token: server.admin_token() }
    }

    fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path)
    }

    fn post(&self, path: &str) -> Value {
        self.send(reqwest::Method::POST, path)
    }

    fn send(&self, method: reqwest::Method, path: &str) -> Value {
        let request = self.client.request(method.clone(), format!("{}{path}", self.url)).bearer_auth(&self.token);
        self.runtime.block_on(async {
            let response = request.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let status = response.status();
            let body = response.text().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            assert!(status.is_success(), "{method} {path}: {status}: {body}");
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"))
        })
    }

    /// GETs every object from moto, one after another over one keep-alive connection; checks each body; returns
    /// the seconds it took. (moto checks no signature but wants a request that names an account.)
    fn time_moto_gets(&self, moto: &str, bucket: &str, files: &[(String, Vec<u8>)]) -> f64 {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={MOTO_ACCESS_KEY_ID}/20240101/{MOTO_REGION}/s3/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        self.runtime.block_on(async {
            let started = Instant::now();
            for (name, body) in files {
                let url = format!("{moto}/{bucket}/events/{name}");
                let response = self
                    .client
                    .get(&url)
                    .header("Authorization", &authorization)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("GET {url}: {e}"));
                assert!(response.status().is_success(), "GET {url}: {}", response.status());
                let got = response.bytes().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
                assert_eq!(got.len(), body.len(), "GET {url}: the object moto returned differs from the one put");
            }
            started.elapsed().as_secs_f64()
        })
    }
}
