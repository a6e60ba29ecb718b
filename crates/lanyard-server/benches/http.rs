//! HTTP benchmarks for `cargo xtask bench http` (see `shared/spec/quality.md`). Every figure is measured together
//! with its anchor in the same run; the raw numbers go to `target/bench/http-meta.json`, which xtask turns into the
//! figures `http_get_rps`, `http_put_rps`, `http_put_rps_pg` and `startup_ms`.
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
//!   PostgreSQL itself cannot be pinned and floats over both cores in both measurements.
//! - `startup`: exec of the release `lanyard serve --data-dir <fresh empty dir> --listen 127.0.0.1:0` to the first
//!   200 on `/healthz` (median of 7, after one unmeasured run); anchor: exec of `lanyard --version` to its exit.
//!   The binary is `$LANYARD_BIN`, else `<target>/release/lanyard` (xtask builds it first).
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
//! (`cargo bench -p lanyard-server --bench http -- get put`).

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
use lanyard_control::{Caller, ControlConfig, ControlPlane, NewConnection, Role};
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

// ---------------------------------------------------------------------------------------------------------
// Roles

/// What a re-executed bench process does.
#[derive(Debug, Serialize, Deserialize)]
enum Part {
    /// A Lanyard server over `catalog_url` with `connections` connections `bench_0…`; prints `READY <addr> <token>`
    /// and serves until its stdin closes.
    Lanyard { catalog_url: String, data_dir: PathBuf, connections: usize, log: PathBuf },
    /// A bare axum server answering `GET /connections/{name}` with the bytes of `body_file`; prints `READY <addr>`.
    Bare { body_file: PathBuf, content_type: String },
    /// The load generator; prints one [`Tally`] as JSON.
    Load { addr: SocketAddr, token: String, requests: Requests, concurrency: usize },
    /// Autocommit single-row UPDATEs through sqlx; prints one [`Tally`] as JSON.
    RawUpdates { url: String, concurrency: usize },
}

/// The requests a load generator sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Requests {
    /// `GET path` on every connection.
    Get { path: String },
    /// `PUT /connections/bench_<task>` with one `set_option` action whose value counts up.
    Put,
}

impl Requests {
    fn write(&self, token: &str, task: usize, n: u64, out: &mut Vec<u8>) {
        match self {
            Requests::Get { path } => {
                let _ = write!(out, "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\r\n");
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
        }
    }
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
}

impl Tally {
    fn per_second(&self) -> f64 {
        self.ok as f64 / MEASURE.as_secs_f64()
    }
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

    fn tally(&self) -> Tally {
        Tally {
            ok: self.ok.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            first_error: self.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
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
    fn starting_now() -> Self {
        let from = Instant::now() + WARMUP;
        Self { from, to: from + MEASURE }
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
        Part::Lanyard { catalog_url, data_dir, connections, log } => {
            server_runtime()?.block_on(lanyard_server(catalog_url, data_dir, connections, log))
        }
        Part::Bare { body_file, content_type } => server_runtime()?.block_on(bare_server(body_file, content_type)),
        Part::Load { addr, token, requests, concurrency } => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let tally = rt.block_on(load(addr, token, requests, concurrency))?;
            println!("{}", serde_json::to_string(&tally)?);
            Ok(())
        }
        Part::RawUpdates { url, concurrency } => {
            let tally = server_runtime()?.block_on(raw_updates(&url, concurrency))?;
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

async fn lanyard_server(catalog_url: String, data_dir: PathBuf, connections: usize, log: PathBuf) -> Result<()> {
    let log = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::sync::Mutex::new(log))
        .with_ansi(false)
        .init();
    let registry = lanyard_vault::Registry::global().map_err(|e| anyhow!("{e}"))?;
    let control = ControlPlane::open(&ControlConfig { catalog_url, data_dir }, registry).await?;
    let admin = Caller::local("bench", Role::Admin);
    let (_, token) = control.create_token(&admin, "bench", Role::Admin, None).await?;
    for index in 0..connections {
        let options = [("host", "db.example.com"), ("port", "5432"), ("dbname", "app"), ("sslmode", "require")];
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

async fn load(addr: SocketAddr, token: String, requests: Requests, concurrency: usize) -> Result<Tally> {
    let counter = Arc::new(Counter::default());
    let requests = Arc::new(requests);
    let token: Arc<str> = token.into();
    // Connect everything first, so that connecting is not part of the window.
    let mut connections = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        connections.push(Conn::connect(addr).await?);
    }
    let window = Window::starting_now();
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
    Ok(counter.tally())
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
            let window = Window::starting_now();
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
        }};
    }
    if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        update_rows!(sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await?);
    } else {
        update_rows!(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(u32::try_from(concurrency)?)
                .min_connections(u32::try_from(concurrency)?)
                .connect(url)
                .await?
        );
    }
    for task in tasks {
        task.await?;
    }
    Ok(counter.tally())
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

/// Runs the load generator pinned to the load core against `server`.
fn run_load(server: &Spawned, requests: Requests, concurrency: usize) -> Result<Tally> {
    let part = Part::Load { addr: server.addr, token: server.token.clone(), requests, concurrency };
    collect(pinned(LOAD_CORE, &part)?, "load generator")
}

/// Runs a measuring child to its end and reads the [`Tally`] it prints.
fn collect(mut command: Command, what: &str) -> Result<Tally> {
    let output = command.stderr(Stdio::inherit()).output().with_context(|| format!("starting the {what}"))?;
    ensure!(output.status.success(), "the {what} failed ({})", output.status);
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .with_context(|| format!("the {what} printed {text:?}, not a tally"))
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
    Ok(Part::Lanyard { catalog_url, log: data_dir.join("server.log"), data_dir, connections })
}

fn measure_get(run_dir: &Path) -> Result<(Throughput, usize)> {
    let lanyard = Spawned::start(&lanyard_part(run_dir, "get", String::new(), 1)?, &run_dir.join("get.stderr"))?;
    let path = "/connections/bench_0".to_owned();

    // The exact answer of the real GET, for the anchor to serve.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let get = |addr: SocketAddr, token: &str| -> Result<(Vec<u8>, String)> {
        rt.block_on(async {
            let mut conn = Conn::connect(addr).await?;
            let mut request = Vec::new();
            Requests::Get { path: path.clone() }.write(token, 0, 0, &mut request);
            let status = conn.request(&request).await?;
            ensure!(status == 200, "GET {path}: {status} {}", String::from_utf8_lossy(&conn.body));
            Ok((conn.body, conn.content_type.unwrap_or_default()))
        })
    };
    let (body, content_type) = get(lanyard.addr, &lanyard.token)?;
    let body_file = run_dir.join("get-body.json");
    std::fs::write(&body_file, &body)?;
    let bare = Spawned::start(&Part::Bare { body_file, content_type }, &run_dir.join("bare.stderr"))?;
    let (bare_body, _) = get(bare.addr, "")?;
    ensure!(bare_body == body, "the anchor does not answer the same bytes");

    let requests = Requests::Get { path: path.clone() };
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

fn measure_put_pg(run_dir: &Path) -> Result<Throughput> {
    // A database of the run's own on LANYARD_TEST_PG, dropped after it; the catalog and the anchor's one table
    // share it.
    let database = lanyard_testsupport::TempDatabase::postgres("http_bench");
    measure_put(run_dir, "PUT (PostgreSQL)", database.url().to_owned(), database.url().to_owned())
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

fn orchestrate(selected: &[String]) -> Result<()> {
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
            meta.insert("put_pg".into(), serde_json::to_value(measure_put_pg(&run_dir)?)?);
        }
        if wants("startup") {
            meta.insert("startup".into(), serde_json::to_value(measure_startup(&run_dir)?)?);
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
