//! `lanyard serve` and `lanyard token`, run as real processes on `127.0.0.1:0` with temporary data directories:
//! the zero-config start and the admin bootstrap, the plain-HTTP refusal, TLS, graceful shutdown, the token CLI,
//! crash safety under SIGKILL (SQLite), no lost updates across two server processes (PostgreSQL, from
//! `LANYARD_TEST_PG`, default the machine's service; each run creates and drops its own database), six nodes
//! started at once on an empty PostgreSQL catalog, and the canary that must appear in no response, log line or
//! data file.
//!
//! Every server is a [`Node`]; dropping one kills its process, so a failing test leaves nothing running.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lanyard_testsupport::{LanyardServer, LanyardServerBuilder, TempDatabase, TempDir};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lanyard");

/// The admin token handed to servers through `LANYARD_ADMIN_TOKEN`.
const ADMIN: &str = "lyd_serve-test-admin-token-0123456789abcdef";

/// Environment variables of the developer's shell that would change what `lanyard` does (`LanyardServer` removes
/// the same ones from the servers' environment).
const SCRUBBED_ENV: &[&str] =
    &["LANYARD_ADMIN_TOKEN", "LANYARD_MASTER_KEY", "LANYARD_MASTER_KEY_PREVIOUS", "LANYARD_TOKEN", "RUST_LOG"];

// ---------------------------------------------------------------------------------------------------------
// Harness

/// An HTTP reply, fully read.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts an `application/problem+json` reply with this status and stable code.
    fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert!(self.header("content-type").starts_with("application/problem+json"), "{:?}", self.headers);
        let problem = self.json();
        assert_eq!(problem["code"], code, "{problem}");
        assert_eq!(problem["status"], status, "{problem}");
        problem
    }
}

/// Sends one request; `None` when the server could not be reached (or went away mid-request).
async fn try_send(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Option<Reply> {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.ok()?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.ok()?;
    Some(Reply { status, headers, body })
}

/// How a server is started: `lanyard serve --data-dir <dir> --listen 127.0.0.1:0 <args…>`.
struct Launch {
    server: LanyardServerBuilder,
    /// A certificate (PEM) the client trusts, for TLS servers.
    root_pem: Option<String>,
}

impl Launch {
    fn new(data_dir: &Path) -> Self {
        Self { server: LanyardServer::builder(Path::new(BIN)).data_dir(data_dir), root_pem: None }
    }

    /// With `LANYARD_ADMIN_TOKEN` = [`ADMIN`].
    fn admin(data_dir: &Path) -> Self {
        Self::new(data_dir).env("LANYARD_ADMIN_TOKEN", ADMIN)
    }

    fn args(mut self, args: &[&str]) -> Self {
        self.server = self.server.args(args);
        self
    }

    /// `--listen <addr>` in place of `127.0.0.1:0`.
    fn listen(self, addr: &str) -> Self {
        self.args(&["--listen", addr])
    }

    fn env(mut self, key: &str, value: &str) -> Self {
        self.server = self.server.env(key, value);
        self
    }

    /// Starts the server and waits for it to listen and answer `/healthz`; panics if it does not.
    fn start(&self) -> Node {
        self.spawn().unwrap_or_else(|(status, stderr)| panic!("lanyard serve exited with {status}:\n{stderr}"))
    }

    /// Starts the server: it either announces its address (and then answers `/healthz`), or exits with this status
    /// and log.
    fn spawn(&self) -> Result<Node, (ExitStatus, String)> {
        let server = tokio::task::block_in_place(|| self.server.clone().try_start())?;
        let mut client = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if let Some(pem) = &self.root_pem {
            client = client.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
        }
        Ok(Node { server, client: client.build().unwrap() })
    }
}

/// A running `lanyard serve` process ([`LanyardServer`]: killed on drop) and an HTTP client for it.
struct Node {
    server: LanyardServer,
    client: reqwest::Client,
}

impl Node {
    /// `scheme://127.0.0.1:port`.
    fn url(&self) -> &str {
        self.server.url()
    }

    fn stderr(&self) -> String {
        self.server.log()
    }

    fn stdout(&self) -> String {
        self.server.stdout()
    }

    fn port(&self) -> u16 {
        self.server.port()
    }

    async fn try_send(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Option<Reply> {
        try_send(&self.client, method, &format!("{}{path}", self.url()), token, body).await
    }

    async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let shown = format!("{method} {path}");
        self.try_send(method, path, token, body).await.unwrap_or_else(|| panic!("{shown}: no reply"))
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    fn signal(&self, signal: &str) {
        self.server.signal(signal);
    }

    /// Waits (bounded) for the process to exit.
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        tokio::task::block_in_place(|| self.server.wait_exit(limit))
    }

    /// SIGTERM, and the process must exit successfully within a few seconds.
    fn stop(&mut self) -> String {
        let status = tokio::task::block_in_place(|| self.server.stop());
        assert!(status.success(), "exit status {status} after SIGTERM:\n{}", self.stderr());
        self.stderr()
    }

    /// SIGKILL.
    fn crash(&mut self) {
        self.server.kill();
    }
}

/// Runs the `lanyard` binary (not `serve`) to completion.
fn lanyard(args: &[&str]) -> Output {
    lanyard_with(args, &[])
}

/// Runs the `lanyard` binary (not `serve`) to completion with these environment variables.
fn lanyard_with(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args);
    for key in SCRUBBED_ENV {
        command.env_remove(key);
    }
    command.envs(vars.iter().copied());
    tokio::task::block_in_place(|| command.output().expect("run lanyard"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn connection(name: &str, options: Value) -> Value {
    json!({"name": name, "type": "postgresql", "options": options})
}

// ---------------------------------------------------------------------------------------------------------
// a. zero-config start

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_config_start_writes_the_admin_token_once_and_takes_one_from_the_environment() {
    let dir = TempDir::new("zero");
    let data = dir.join("data"); // does not exist yet: serve creates it
    let mut node = Launch::new(&data).start();
    let token_file = data.join("admin.token");
    let token = std::fs::read_to_string(&token_file).expect("admin.token").trim().to_owned();
    assert!(token.starts_with("lyd_"), "unexpected token format");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "admin.token mode {mode:o}");
    }
    let stderr = node.stderr();
    assert!(stderr.contains(&format!("admin token written to {}", token_file.display())), "{stderr}");
    assert_eq!(stderr.matches("lanyard listening on http://127.0.0.1:").count(), 1, "{stderr}");
    assert_ne!(node.port(), 0);

    let health = node.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    node.get("/connections", None).await.assert_problem(401, "unauthenticated");
    node.get("/connections", Some("lyd_not-a-real-token-at-all")).await.assert_problem(401, "unauthenticated");
    let listed = node.get("/connections", Some(&token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.json(), json!([]));
    let stderr = node.stop();
    assert!(!stderr.contains(&token), "the admin token reached the log");
    assert!(!node.stdout().contains(&token), "the admin token reached stdout");

    // A restart keeps the admin principal and does not rewrite admin.token.
    let before = std::fs::metadata(&token_file).unwrap().modified().unwrap();
    let mut node = Launch::new(&data).start();
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), token);
    assert_eq!(std::fs::metadata(&token_file).unwrap().modified().unwrap(), before);
    assert!(!node.stderr().contains("admin token written"), "{}", node.stderr());
    assert_eq!(node.get("/connections", Some(&token)).await.status, StatusCode::OK);
    node.stop();

    // LANYARD_ADMIN_TOKEN: accepted as the bearer, and no admin.token is written.
    let data = dir.join("env");
    let mut node = Launch::admin(&data).start();
    assert!(node.stderr().contains("admin token from LANYARD_ADMIN_TOKEN"), "{}", node.stderr());
    assert!(!data.join("admin.token").exists(), "admin.token written although LANYARD_ADMIN_TOKEN was set");
    assert_eq!(node.get("/connections", Some(ADMIN)).await.status, StatusCode::OK);
    node.get("/connections", Some(&token)).await.assert_problem(401, "unauthenticated");
    let stderr = node.stop();
    assert!(!stderr.contains(ADMIN), "LANYARD_ADMIN_TOKEN reached the log");
}

// ---------------------------------------------------------------------------------------------------------
// b. plain HTTP on a public address

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_plain_http_on_a_public_address_needs_insecure_no_tls() {
    let dir = TempDir::new("public");
    let data = dir.join("data");
    match Launch::admin(&data).listen("0.0.0.0:0").spawn() {
        Err((status, stderr)) => {
            assert!(!status.success());
            assert!(
                stderr.contains("refusing to serve plain HTTP on 0.0.0.0:0, which is not a loopback address"),
                "{stderr}"
            );
            assert!(stderr.contains("--insecure-no-tls"), "{stderr}");
        }
        Ok(node) => panic!("served plain HTTP on 0.0.0.0:\n{}", node.stderr()),
    }
    assert!(!data.exists(), "the refusal came after the data directory was created");

    let mut node = Launch::admin(&data).listen("0.0.0.0:0").args(&["--insecure-no-tls"]).start();
    assert!(node.stderr().contains("lanyard listening on http://0.0.0.0:"), "{}", node.stderr());
    assert!(node.stderr().contains("non-loopback"), "no warning logged:\n{}", node.stderr());
    assert_eq!(node.get("/connections", Some(ADMIN)).await.status, StatusCode::OK);
    node.stop();
}

// ---------------------------------------------------------------------------------------------------------
// c. TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_tls_serves_https_with_the_given_certificate() {
    let dir = TempDir::new("tls");
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key_pair.serialize_pem()).unwrap();
    let (cert_arg, key_arg) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());

    // Both files or neither.
    let half = lanyard(&["serve", "--data-dir", dir.join("d").to_str().unwrap(), "--tls-cert", cert_arg]);
    assert_eq!(half.status.code(), Some(2), "{}", text(&half.stderr));
    assert!(text(&half.stderr).contains("--tls-key"), "{}", text(&half.stderr));

    let mut launch = Launch::admin(&dir.join("data")).args(&["--tls-cert", cert_arg, "--tls-key", key_arg]);
    launch.root_pem = Some(cert.pem());
    let mut node = launch.start();
    assert!(node.url().starts_with("https://127.0.0.1:"), "{}", node.url());
    let health = node.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(node.get("/connections", Some(ADMIN)).await.status, StatusCode::OK);
    // Plain HTTP to the TLS port gets no API answer.
    let plain = try_send(
        &reqwest::Client::new(),
        Method::GET,
        &format!("http://127.0.0.1:{}/healthz", node.port()),
        None,
        None,
    )
    .await;
    assert!(plain.is_none_or(|reply| reply.status != StatusCode::OK), "plain HTTP answered on the TLS port");
    node.stop();

    // An unreadable key is a clear start-up error.
    let broken = Launch::admin(&dir.join("data")).args(&["--tls-cert", cert_arg, "--tls-key", cert_arg]);
    match broken.spawn() {
        Err((status, stderr)) => {
            assert!(!status.success());
            assert!(stderr.contains("cannot load TLS certificate/key"), "{stderr}");
        }
        Ok(node) => panic!("started without a key:\n{}", node.stderr()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// d. graceful shutdown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_sigterm_and_sigint_shut_down_gracefully() {
    let dir = TempDir::new("shutdown");
    for (signal, format) in [("TERM", "text"), ("INT", "json")] {
        let mut node = Launch::admin(&dir.join("data")).args(&["--log-format", format]).start();
        let created = node.send(Method::POST, "/connections", Some(ADMIN), Some(&connection(signal, json!({})))).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        node.signal(signal);
        let status = node.wait_exit(Duration::from_secs(10));
        assert!(status.success(), "exit status {status} after SIG{signal}:\n{}", node.stderr());
        let stderr = node.stderr();
        assert!(stderr.contains(&format!("SIG{signal}")), "{stderr}");
        assert!(stderr.contains("stopped"), "{stderr}");
        // The access line of the create names the request, its route and who made it.
        let request_id = created.header("x-request-id").to_owned();
        assert!(!request_id.is_empty(), "{:?}", created.headers);
        if format == "json" {
            // Every log line is one JSON object; the two announcements are plain lines.
            let mut access = Vec::new();
            for line in
                stderr.lines().filter(|l| !l.starts_with("lanyard listening on ") && !l.starts_with("admin token"))
            {
                let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                assert!(record["level"].is_string() && record["message"].is_string(), "{line}");
                if record["request"]["request_id"] == request_id.as_str() {
                    access.push(record);
                }
            }
            assert_eq!(access.len(), 1, "{stderr}");
            assert_eq!(access[0]["message"], "handled");
            assert_eq!(access[0]["status"], 201);
            let expected =
                json!({"request_id": request_id, "method": "POST", "route": "/connections", "principal": "admin"});
            assert_eq!(access[0]["request"], expected, "{stderr}");
        } else {
            let access = format!(
                "INFO request{{request_id={request_id} method=POST route=/connections principal=admin}}: lanyard_server: \
                 handled status=201 micros="
            );
            assert_eq!(stderr.lines().filter(|line| line.contains(&access)).count(), 1, "{access}\n{stderr}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// e. the token CLI

/// Whether `text` holds a run of 64 hex digits (a token hash).
fn has_hash(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_hexdigit()).any(|run| run.len() >= 64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_token_cli_creates_lists_and_revokes_tokens_with_their_roles() {
    let dir = TempDir::new("tokens");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let mut node = Launch::admin(&data).start();

    let created = lanyard(&["token", "create", "--data-dir", data_arg, "--name", "ops", "--role", "operator"]);
    let (stdout, stderr) = (text(&created.stdout), text(&created.stderr));
    assert!(created.status.success(), "{stderr}");
    let operator = stdout.trim().to_owned();
    assert_eq!(stdout, format!("{operator}\n"), "stdout must hold the token alone");
    assert!(operator.starts_with("lyd_"));
    assert!(stderr.contains("shown once"), "{stderr}");
    assert!(!stderr.contains(&operator), "the token reached stderr");

    // An operator reads connections but may not write them.
    assert_eq!(node.get("/connections", Some(&operator)).await.status, StatusCode::OK);
    let denied = node.send(Method::POST, "/connections", Some(&operator), Some(&connection("c", json!({})))).await;
    let problem = denied.assert_problem(403, "forbidden");
    assert!(problem["detail"].as_str().unwrap().contains("connections:write"), "{problem}");

    let viewer = lanyard(&[
        "token",
        "create",
        "--data-dir",
        data_arg,
        "--name",
        "view",
        "--role",
        "viewer",
        "--expires",
        "2999-01-01",
    ]);
    assert!(viewer.status.success(), "{}", text(&viewer.stderr));
    let viewer_token = text(&viewer.stdout).trim().to_owned();
    let viewer_name = text(&viewer.stderr)
        .split_whitespace()
        .find(|word| word.starts_with("view/"))
        .expect("the token's name on stderr")
        .to_owned();

    let list = lanyard(&["token", "list", "--data-dir", data_arg]);
    let listing = text(&list.stdout);
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert!(listing.starts_with("NAME"), "{listing}");
    for header in ["PRINCIPAL", "ROLE", "CREATED", "LAST USED", "EXPIRES", "REVOKED"] {
        assert!(listing.contains(header), "{listing}");
    }
    let ops_row = listing.lines().find(|l| l.starts_with("ops/")).unwrap_or_else(|| panic!("{listing}"));
    assert!(ops_row.contains(" operator "), "{ops_row}");
    let view_row = listing.lines().find(|l| l.starts_with(&viewer_name)).unwrap_or_else(|| panic!("{listing}"));
    assert!(view_row.contains("2999-01-01T00:00:00Z"), "{view_row}");
    assert!(listing.lines().any(|l| l.starts_with("admin/env")), "{listing}");
    assert!(!listing.contains("lyd_") && !has_hash(&listing), "a token or hash in the listing:\n{listing}");

    // Revoke by principal, then by token name: both tokens stop working at once.
    let revoked = lanyard(&["token", "revoke", "--data-dir", data_arg, "ops"]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert!(text(&revoked.stdout).contains("revoked token ops/"), "{}", text(&revoked.stdout));
    node.get("/connections", Some(&operator)).await.assert_problem(401, "unauthenticated");
    assert_eq!(node.get("/connections", Some(&viewer_token)).await.status, StatusCode::OK);
    let revoked = lanyard(&["token", "revoke", "--data-dir", data_arg, &viewer_name]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    node.get("/connections", Some(&viewer_token)).await.assert_problem(401, "unauthenticated");
    assert_eq!(node.get("/connections", Some(ADMIN)).await.status, StatusCode::OK);

    let again = lanyard(&["token", "revoke", "--data-dir", data_arg, "ops"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("no live token or principal"), "{}", text(&again.stderr));
    let listing = text(&lanyard(&["token", "list", "--data-dir", data_arg]).stdout);
    let ops_row = listing.lines().find(|l| l.starts_with("ops/")).unwrap();
    assert!(ops_row.trim_end().ends_with('Z'), "no revocation date: {ops_row}");

    // The revocations are audited under the local administrator.
    let audit = node.get("/audit?limit=1000", Some(ADMIN)).await.json();
    let revocations = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "token.revoke" && r["principal"] == "local-admin")
        .count();
    assert_eq!(revocations, 2, "{audit}");
    let stderr = node.stop();
    assert!(!stderr.contains(&operator) && !stderr.contains(&viewer_token), "a token reached the server log");
}

// ---------------------------------------------------------------------------------------------------------
// f. crash safety

/// The line the failpoint `catalog::commit::announce` logs (its `print` action) just before `catalog::commit`
/// pauses the same commit: the process is then inside the window between a transaction's writes and its COMMIT.
const IN_WINDOW: &str = "failpoint: inside the window before COMMIT";

/// `FAILPOINTS` for a server that lets `after` commits through and stops the next one (and every later one) inside
/// the window between its writes and its COMMIT, announcing it in its log.
fn commit_window_failpoints(after: usize) -> String {
    format!("catalog::commit::announce={after}*off->print({IN_WINDOW});catalog::commit={after}*off->pause")
}

/// What a write storm had acknowledged: vault entries and connections (each connection uses the entry created
/// just before it by the same client).
#[derive(Debug, Default, Clone)]
struct Acked {
    entries: Vec<String>,
    connections: Vec<String>,
}

/// A write storm: concurrent clients creating a vault entry (with a secret), then a connection using it, until the
/// server goes away.
struct Storm {
    acked: Arc<Mutex<Acked>>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Storm {
    /// Starts `clients` clients against `node` and returns once `threshold` creations are acknowledged.
    async fn start(node: &Node, round: usize, clients: usize, threshold: usize) -> Self {
        let acked = Arc::new(Mutex::new(Acked::default()));
        let count = Arc::new(AtomicUsize::new(0));
        let reached = Arc::new(tokio::sync::Notify::new());
        let mut handles = Vec::new();
        for client in 0..clients {
            let (http, url) = (node.client.clone(), node.url().to_owned());
            let (acked, count, reached) = (Arc::clone(&acked), Arc::clone(&count), Arc::clone(&reached));
            handles.push(tokio::spawn(async move {
                let counted = || {
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == threshold {
                        reached.notify_one();
                    }
                };
                for i in 0..100_000 {
                    let entry = format!("e{round}_c{client}_{i}");
                    let body = json!({"name": entry, "type": "CREDENTIAL", "secret": format!("storm-{entry}")});
                    let url_entries = format!("{url}/vault/entries");
                    let Some(reply) = try_send(&http, Method::POST, &url_entries, Some(ADMIN), Some(&body)).await
                    else {
                        return; // the server is gone
                    };
                    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
                    acked.lock().unwrap().entries.push(entry.clone());
                    counted();
                    let name = format!("r{round}_c{client}_{i}");
                    let mut body = connection(&name, json!({"host": name, "port": "5432"}));
                    body["credential"] = json!(entry);
                    let url_connections = format!("{url}/connections");
                    let Some(reply) = try_send(&http, Method::POST, &url_connections, Some(ADMIN), Some(&body)).await
                    else {
                        return;
                    };
                    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
                    acked.lock().unwrap().connections.push(name);
                    counted();
                }
            }));
        }
        tokio::time::timeout(Duration::from_secs(30), reached.notified()).await.expect("the storm never got going");
        Self { acked, clients: handles }
    }

    /// Waits for every client to notice the server is gone; returns what was acknowledged.
    async fn finish(self) -> Acked {
        for client in self.clients {
            client.await.expect("a storm client failed");
        }
        self.acked.lock().unwrap().clone()
    }
}

/// Every acknowledged entry and connection exists, every connection that exists is whole, and nothing is
/// half-applied: the names created according to the audit log are exactly the entries and connections that exist
/// (a row without its audit record, or a record without its row, fails).
async fn verify_storm(node: &Node, acked: &Acked, this_round: &Acked) {
    let listed = node.get("/connections", Some(ADMIN)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let mut connections = BTreeSet::new();
    for row in listed.json().as_array().unwrap() {
        let name = row["name"].as_str().unwrap().to_owned();
        assert_eq!(row["options"], json!({"host": name, "port": "5432"}), "half-applied row {row}");
        assert_eq!(row["version"], 1, "{row}");
        assert_eq!(row["credential"]["name"], json!(name.replacen('r', "e", 1)), "{row}");
        connections.insert(name);
    }
    let listed = node.get("/vault/entries", Some(ADMIN)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let entries: BTreeSet<String> =
        listed.json().as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
    for (kind, acked, present) in
        [("connections", &acked.connections, &connections), ("vault entries", &acked.entries, &entries)]
    {
        let lost: Vec<_> = acked.iter().filter(|name| !present.contains(*name)).collect();
        assert!(lost.is_empty(), "acknowledged {kind} lost in the crash: {lost:?}");
    }
    let audit = node.get("/audit?limit=1000", Some(ADMIN)).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let records = audit.json();
    let created = |action: &str| -> BTreeSet<String> {
        records
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == action && r["outcome"] == "allowed")
            .map(|r| r["object_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(records.as_array().unwrap().len() < 1000, "the audit log outgrew one page");
    assert_eq!(created("connection.create"), connections, "a connection without its audit record, or the reverse");
    assert_eq!(created("vault_entry.create"), entries, "a vault entry without its audit record, or the reverse");
    for name in &this_round.connections {
        let reply = node.get(&format!("/connections/{name}"), Some(ADMIN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.body);
        assert_eq!(reply.json()["options"]["host"], name.as_str());
    }
}

async fn integrity_check(db: &Path) -> String {
    use sqlx::Connection as _;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db).read_only(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await.expect("open catalog.db read-only");
    let (result,): (String,) = sqlx::query_as("PRAGMA integrity_check").fetch_one(&mut connection).await.unwrap();
    connection.close().await.unwrap();
    result
}

/// Waits until the server's log shows that a commit stopped inside the window (bounded: the storm is running, so
/// the failpoint's commit count is reached within seconds).
async fn wait_in_window(node: &Node) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !node.stderr().contains(IN_WINDOW) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the failpoint never stopped a commit: is lanyard built with the `failpoints` feature (`cargo xtask \
             test` builds with --all-features)?\n{}",
            node.stderr()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The crash test of quality.md: the server is SIGKILLed while a write transaction is inside the window between its
/// writes (row and audit record) and its COMMIT — found by a failpoint, not by luck — three times; after each
/// restart every acknowledged write is there, nothing unacknowledged is half-applied and SQLite's integrity check
/// passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn f_sigkill_during_a_write_storm_loses_no_acknowledged_write() {
    let dir = TempDir::new("crash");
    let data = dir.join("data");
    let mut acked = Acked::default();
    for round in 0..3 {
        let failpoints = commit_window_failpoints(30 + 12 * round);
        let mut node = Launch::admin(&data).env("FAILPOINTS", &failpoints).start();
        let storm = Storm::start(&node, round, 4, 10).await;
        wait_in_window(&node).await;
        node.crash();
        let round_acked = storm.finish().await;
        assert!(round_acked.connections.len() >= 4, "{round_acked:?}");
        acked.entries.extend(round_acked.entries.iter().cloned());
        acked.connections.extend(round_acked.connections.iter().cloned());

        let mut node = Launch::admin(&data).start();
        verify_storm(&node, &acked, &round_acked).await;
        node.stop();
        assert_eq!(integrity_check(&data.join("catalog.db")).await, "ok", "round {round}");
    }
}

/// The crash test on a PostgreSQL catalog: no writer lock there, so several commits may stop in the window at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn f_sigkill_inside_the_commit_window_on_postgres_half_applies_nothing() {
    let db = TempDatabase::postgres("crash");
    let dir = TempDir::new("crash-pg");
    let data = dir.join("data");
    let launch = || Launch::admin(&data).args(&["--catalog", db.url()]);
    let mut acked = Acked::default();
    for round in 0..2 {
        let mut node = launch().env("FAILPOINTS", &commit_window_failpoints(30 + 12 * round)).start();
        let storm = Storm::start(&node, round, 4, 10).await;
        wait_in_window(&node).await;
        node.crash();
        let round_acked = storm.finish().await;
        acked.entries.extend(round_acked.entries.iter().cloned());
        acked.connections.extend(round_acked.connections.iter().cloned());
        let mut node = launch().start();
        verify_storm(&node, &acked, &round_acked).await;
        node.stop();
    }
}

// ---------------------------------------------------------------------------------------------------------
// g. no lost updates across two server processes on PostgreSQL

/// One acknowledged `set_option`.
#[derive(Debug, Clone)]
struct Ack {
    row: usize,
    version: i64,
    key: String,
    value: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn g_two_servers_on_one_postgres_catalog_lose_no_update() {
    // A database of its own on the server of LANYARD_TEST_PG, dropped whatever happens; the nodes are killed
    // first, as the body unwinds.
    let db = TempDatabase::postgres("serve");
    two_servers_lose_no_update(db.url()).await;
}

#[allow(clippy::print_stderr, reason = "it prints the count of 503s (seen with `--no-capture`)")]
async fn two_servers_lose_no_update(catalog: &str) {
    const CLIENTS: usize = 8;
    const PUTS: usize = 200;
    const ROWS: usize = 3;
    let dir = TempDir::new("pg");
    let master_key = lanyard_vault_local::MasterKey::generate().unwrap().expose_base64();
    let launch = |name: &str| {
        Launch::admin(&dir.join(name))
            .args(&["--catalog", catalog])
            .env("LANYARD_MASTER_KEY", master_key.expose_secret())
    };
    // One after the other, so the second finds the catalog migrated and the admin bootstrapped.
    let mut a = launch("a").start();
    let mut b = launch("b").start();
    for row in 0..ROWS {
        let created = a
            .send(
                Method::POST,
                "/connections",
                Some(ADMIN),
                Some(&connection(&format!("row{row}"), json!({"host": "h"}))),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.json()["version"], 1);
    }

    let nodes = Arc::new([(a.client.clone(), a.url().to_owned()), (b.client.clone(), b.url().to_owned())]);
    // Replies 503 (the catalog's retries of serialization failures ran out): none may happen under this load.
    let unavailable = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let nodes = Arc::clone(&nodes);
        let (unavailable, requests) = (Arc::clone(&unavailable), Arc::clone(&requests));
        clients.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for n in 0..PUTS {
                let (http, base) = &nodes[(client + n) % 2];
                let row = (client * 5 + n * 7) % ROWS;
                let (key, value) = (format!("k{client}"), n.to_string());
                let body = json!({"actions": [{"set_option": {"key": key, "value": value}}]});
                let url = format!("{base}/connections/row{row}");
                let mut attempts = 0;
                let reply = loop {
                    attempts += 1;
                    let reply = try_send(http, Method::PUT, &url, Some(ADMIN), Some(&body))
                        .await
                        .unwrap_or_else(|| panic!("PUT {url}: no reply"));
                    requests.fetch_add(1, Ordering::Relaxed);
                    // Only a 409 conflict or a 503 may be retried (the 503s are counted and must be none); anything
                    // else but 200 fails the test.
                    let retryable = match reply.status.as_u16() {
                        409 => reply.json()["code"] == "conflict",
                        503 => {
                            unavailable.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                        _ => false,
                    };
                    if !retryable || attempts >= 50 {
                        break reply;
                    }
                };
                assert_eq!(reply.status, StatusCode::OK, "PUT {url}: {}", reply.body);
                let version = reply.json()["version"].as_i64().expect("a version in the reply");
                assert_eq!(reply.header("etag"), format!("\"{version}\""));
                acks.push(Ack { row, version, key, value });
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for client in clients {
        acks.extend(client.await.expect("a client failed"));
    }
    assert_eq!(acks.len(), CLIENTS * PUTS);
    let (unavailable, requests) = (unavailable.load(Ordering::Relaxed), requests.load(Ordering::Relaxed));
    eprintln!(
        "{requests} PUTs without If-Match by {CLIENTS} clients on two nodes in {:?}: {unavailable} replied 503",
        started.elapsed()
    );
    assert_eq!(unavailable, 0, "{unavailable} of {requests} requests got 503: the catalog's retry budget ran out");

    for row in 0..ROWS {
        let mut mine: Vec<&Ack> = acks.iter().filter(|a| a.row == row).collect();
        mine.sort_by_key(|a| a.version);
        let versions: Vec<i64> = mine.iter().map(|a| a.version).collect();
        let expected_versions: Vec<i64> = (2..).take(mine.len()).collect();
        assert_eq!(
            versions, expected_versions,
            "row{row}: two acknowledged updates share a version, or one is missing"
        );
        let mut replay = BTreeMap::from([("host".to_owned(), "h".to_owned())]);
        for ack in &mine {
            replay.insert(ack.key.clone(), ack.value.clone());
        }
        let replay = serde_json::to_value(&replay).unwrap();
        for node in [&a, &b] {
            let reply = node.get(&format!("/connections/row{row}"), Some(ADMIN)).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let got = reply.json();
            assert_eq!(got["version"], 1 + mine.len() as i64, "row{row}");
            let options: BTreeMap<String, String> = serde_json::from_value(got["options"].clone()).unwrap();
            assert_eq!(serde_json::to_value(&options).unwrap(), replay, "row{row} differs from the serial replay");
        }
    }
    a.stop();
    b.stop();
}

// ---------------------------------------------------------------------------------------------------------
// i. nodes starting together on an empty PostgreSQL catalog

/// `lanyard serve` processes started at once, per trial.
const NODES_AT_ONCE: usize = 6;

/// Trials, each on a fresh database.
const START_TRIALS: usize = 20;

#[test]
#[allow(clippy::print_stderr, reason = "it prints its run time (seen with `--no-capture`)")]
fn i_six_nodes_started_at_once_on_an_empty_postgres_catalog_all_come_up_twenty_times() {
    let dir = TempDir::new("together");
    let master_key = lanyard_vault_local::MasterKey::generate().unwrap().expose_base64();
    let started = std::time::Instant::now();
    for trial in 0..START_TRIALS {
        let db = TempDatabase::postgres("together");
        let launches: Vec<LanyardServerBuilder> = (0..NODES_AT_ONCE)
            .map(|node| {
                LanyardServer::builder(Path::new(BIN))
                    .data_dir(&dir.join(format!("t{trial}n{node}")))
                    .args(&["--catalog", db.url()])
                    .env("LANYARD_ADMIN_TOKEN", ADMIN)
                    .env("LANYARD_MASTER_KEY", master_key.expose_secret())
            })
            .collect();
        // One thread per node, so the processes start at the same moment; each waits for its node's /healthz.
        let nodes: Vec<Result<LanyardServer, (ExitStatus, String)>> = std::thread::scope(|scope| {
            let threads: Vec<_> = launches.into_iter().map(|launch| scope.spawn(move || launch.try_start())).collect();
            threads.into_iter().map(|thread| thread.join().unwrap()).collect()
        });
        let mut up = Vec::new();
        for (node, result) in nodes.into_iter().enumerate() {
            match result {
                Ok(server) => up.push(server),
                Err((status, log)) => panic!("trial {trial}: node {node} did not come up ({status}):\n{log}"),
            }
        }
        // Each answers an authenticated read of the one catalog they share (the admin token bootstrapped once).
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = reqwest::Client::new();
        for server in &up {
            let url = format!("{}/connections", server.url());
            let reply = runtime.block_on(try_send(&http, Method::GET, &url, Some(ADMIN), None)).expect("no reply");
            assert_eq!(reply.status, StatusCode::OK, "trial {trial}: {}", reply.body);
        }
        for mut server in up {
            assert!(server.stop().success());
        }
    }
    eprintln!("{START_TRIALS} trials of {NODES_AT_ONCE} nodes at once took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------------------
// h. the canary

/// Needs the local vault to store the credential.
#[cfg(feature = "vault-local")]
mod canary {
    use super::*;

    /// Status, headers and body as one text, for the canary search.
    fn everything(reply: &Reply) -> String {
        let mut text = format!("{}\n", reply.status);
        for (name, value) in &reply.headers {
            text.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
        }
        text.push_str(&reply.body);
        text
    }

    /// Every file below `dir`, with its bytes.
    fn files_below(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files_below(&path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }

    fn assert_no_canary_in_files(dir: &Path, canaries: &[&str], when: &str) {
        let mut files = Vec::new();
        files_below(dir, &mut files);
        assert!(files.iter().any(|(path, _)| path.ends_with("catalog.db")), "no catalog.db in {files:?}");
        for (path, bytes) in &files {
            for canary in canaries {
                let found = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
                assert!(!found, "the canary is in {} ({when})", path.display());
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn h_the_canary_appears_in_no_response_log_or_data_file() {
        let dir = TempDir::new("canary");
        let data = dir.join("data");
        let canary = format!("canary-{}", uuid::Uuid::new_v4().simple());
        let canary2 = format!("canary2-{}", uuid::Uuid::new_v4().simple());
        let canaries = [canary.as_str(), canary2.as_str()];
        let mut node = Launch::admin(&data).args(&["--log-level", "trace"]).start();
        let mut seen = Vec::new();
        let mut call = async |method: Method, path: &str, body: Option<Value>| {
            let reply = node.send(method, path, Some(ADMIN), body.as_ref()).await;
            seen.push(format!("{path}\n{}", everything(&reply)));
            reply
        };

        let stored =
            call(Method::POST, "/vault/entries", Some(json!({"name": "c", "type": "CREDENTIAL", "secret": canary})))
                .await;
        assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
        let altered = call(Method::PUT, "/vault/entries/c", Some(json!({"actions": [{"set_secret": canary2}]}))).await;
        assert_eq!(altered.status, StatusCode::OK, "{}", altered.body);
        let created = call(
            Method::POST,
            "/connections",
            Some(json!({"name": "pg", "type": "postgresql", "options": {"host": "db.example.com"}, "credential": "c"})),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

        // Errors with the canary in the request.
        let duplicate =
            call(Method::POST, "/vault/entries", Some(json!({"name": "c", "type": "CREDENTIAL", "secret": canary})))
                .await;
        duplicate.assert_problem(409, "already_exists");
        let missing =
            call(Method::PUT, "/vault/entries/nope", Some(json!({"actions": [{"set_secret": canary}]}))).await;
        missing.assert_problem(404, "not_found");
        let secret_option = call(
            Method::POST,
            "/connections",
            Some(json!({"name": "leaky", "type": "postgresql", "options": {"password": canary}})),
        )
        .await;
        assert!(secret_option.status.is_client_error(), "{}", secret_option.body);
        let both = call(
            Method::POST,
            "/vault/entries",
            Some(json!({"name": "d", "type": "CREDENTIAL", "secret": canary, "generate": true})),
        )
        .await;
        assert!(both.status.is_client_error(), "{}", both.body);
        let wrong_type =
            call(Method::POST, "/vault/entries", Some(json!({"name": "d", "type": "BOGUS", "secret": canary}))).await;
        assert!(wrong_type.status.is_client_error(), "{}", wrong_type.body);

        // Everything readable.
        for path in [
            "/connections",
            "/connections/pg",
            "/vault/entries",
            "/vault/entries/c",
            "/vault/backends",
            "/vault/backends/local",
            "/audit?limit=1000",
            "/healthz",
            "/openapi.json",
            "/metrics",
        ] {
            let reply = call(Method::GET, path, None).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        }
        let tested = call(Method::POST, "/connections/pg/test", None).await;
        assert!(tested.status.as_u16() < 500, "{}", tested.body);
        let probed = call(Method::POST, "/vault/backends/local/test", None).await;
        assert_eq!(probed.status, StatusCode::OK, "{}", probed.body);
        let audit = call(Method::GET, "/audit?limit=1000", None).await.json();
        assert!(
            audit.as_array().unwrap().iter().any(|r| r["action"].as_str().is_some_and(|a| a.contains("entry"))),
            "{audit}"
        );

        for (i, reply) in seen.iter().enumerate() {
            for canary in canaries {
                assert!(!reply.contains(canary), "the canary is in response {i}:\n{reply}");
            }
        }
        assert_no_canary_in_files(&data, &canaries, "while serving");
        let stderr = node.stop();
        assert!(stderr.contains("TRACE"), "the server did not log at trace level");
        let stdout = node.stdout();
        for canary in canaries {
            assert!(!stderr.contains(canary), "the canary is in the server log");
            assert!(!stdout.contains(canary), "the canary is on the server's stdout");
        }
        assert_no_canary_in_files(&data, &canaries, "after shutdown");
    }
}

// ---------------------------------------------------------------------------------------------------------
// j. freshness: what another process or node committed is seen by the very next request and resolve

/// Change-then-read rounds per freshness test.
const FRESH_ROUNDS: usize = 20;

/// A postgresql connection to the machine's PostgreSQL service (trust auth) through the credential entry `pw`:
/// port 5432 answers, port 1 refuses, so a TEST CONNECTION shows which port the resolver read.
fn probed_connection() -> Value {
    json!({
        "name": "c",
        "type": "postgresql",
        "options": {"host": "127.0.0.1", "port": "5432", "database": "postgres", "username": "postgres"},
        "credential": "pw",
    })
}

async fn create_probed_connection(node: &Node) {
    let entry = json!({"name": "pw", "type": "CREDENTIAL", "secret": "unused-by-trust-auth"});
    let stored = node.send(Method::POST, "/vault/entries", Some(ADMIN), Some(&entry)).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    let created = node.send(Method::POST, "/connections", Some(ADMIN), Some(&probed_connection())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}

/// Reads connection `c` on `node`, resolves it (TEST), and reads it again, so that the row and the resolver's lookup
/// are in the server's memory when the next change lands.
async fn warm_up(node: &Node) {
    for (method, path) in
        [(Method::GET, "/connections/c"), (Method::POST, "/connections/c/test"), (Method::GET, "/connections/c")]
    {
        let reply = node.send(method, path, Some(ADMIN), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
}

/// Reads connection `c` on `node` and checks it against what the round wrote: its description and port, and,
/// through TEST CONNECTION (a resolve), that the probe went to that port.
async fn assert_round_seen(node: &Node, round: usize, port: &str) {
    let reply = node.get("/connections/c", Some(ADMIN)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let got = reply.json();
    assert_eq!(got["description"], format!("round {round}"), "round {round}: a stale row: {got}");
    assert_eq!(got["options"]["port"], port, "round {round}: a stale row: {got}");
    let tested = node.send(Method::POST, "/connections/c/test", Some(ADMIN), None).await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
    let expected = if port == "5432" { "PASSED" } else { "FAILED" };
    assert_eq!(tested.json()["result"], expected, "round {round}: the resolve read a stale port: {}", tested.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn j_a_change_committed_beside_a_server_on_its_sqlite_catalog_is_seen_by_its_next_request_and_resolve() {
    let dir = TempDir::new("fresh");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let mut node = Launch::admin(&data).start();
    create_probed_connection(&node).await;

    for round in 0..FRESH_ROUNDS {
        warm_up(&node).await;

        let port = if round % 2 == 0 { "1" } else { "5432" };
        let statement = format!("ALTER CONNECTION c SET OPTION port = '{port}' SET DESCRIPTION 'round {round}'");
        let altered =
            lanyard_with(&["sql", "--embedded", "--data-dir", data_arg, &statement], &[("LANYARD_TOKEN", ADMIN)]);
        assert!(altered.status.success(), "{}", text(&altered.stderr));
        assert_round_seen(&node, round, port).await;
    }

    // A token revoked by another process is refused by the very next request.
    let created = lanyard(&["token", "create", "--data-dir", data_arg, "--name", "ops", "--role", "viewer"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = text(&created.stdout).lines().find(|l| l.starts_with("lyd_")).expect("the token").trim().to_owned();
    for _ in 0..3 {
        assert_eq!(node.get("/connections/c", Some(&token)).await.status, StatusCode::OK);
    }
    let revoked = lanyard(&["token", "revoke", "--data-dir", data_arg, "ops"]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    node.get("/connections/c", Some(&token)).await.assert_problem(401, "unauthenticated");
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k_a_change_committed_on_one_postgres_node_is_seen_by_the_next_request_and_resolve_on_the_other() {
    let db = TempDatabase::postgres("fresh");
    let dir = TempDir::new("fresh-pg");
    let master_key = lanyard_vault_local::MasterKey::generate().unwrap().expose_base64();
    let launch = |name: &str| {
        Launch::admin(&dir.join(name))
            .args(&["--catalog", db.url()])
            .env("LANYARD_MASTER_KEY", master_key.expose_secret())
    };
    let mut a = launch("a").start();
    let mut b = launch("b").start();
    create_probed_connection(&a).await;

    for round in 0..FRESH_ROUNDS {
        warm_up(&b).await;

        let port = if round % 2 == 0 { "1" } else { "5432" };
        let body = json!({"actions": [
            {"set_option": {"key": "port", "value": port}},
            {"set_description": format!("round {round}")},
        ]});
        let altered = a.send(Method::PUT, "/connections/c", Some(ADMIN), Some(&body)).await;
        assert_eq!(altered.status, StatusCode::OK, "{}", altered.body);
        assert_round_seen(&b, round, port).await;
    }

    // Every version is kept whichever node wrote it (most of them by a's single-statement ALTER), and read on
    // either: a rollback made on b is seen on a.
    let history = b.get("/connections/c/history", Some(ADMIN)).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    let versions: Vec<i64> =
        history.json().as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    let last = i64::try_from(FRESH_ROUNDS).unwrap() + 1;
    assert_eq!(versions, (1..=last).rev().collect::<Vec<_>>());
    let body = json!({"actions": [{"rollback_to_version": 1}]});
    let rolled = b.send(Method::PUT, "/connections/c", Some(ADMIN), Some(&body)).await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.body);
    let seen = a.get("/connections/c", Some(ADMIN)).await.json();
    assert_eq!((seen["version"].as_i64(), seen["description"].as_str()), (Some(last + 1), None), "{seen}");

    let key = [("LANYARD_MASTER_KEY", master_key.expose_secret())];
    let created = lanyard_with(&["token", "create", "--catalog", db.url(), "--name", "ops", "--role", "viewer"], &key);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = text(&created.stdout).lines().find(|l| l.starts_with("lyd_")).expect("the token").trim().to_owned();
    for node in [&a, &b] {
        assert_eq!(node.get("/connections/c", Some(&token)).await.status, StatusCode::OK);
    }
    let revoked = lanyard_with(&["token", "revoke", "--catalog", db.url(), "ops"], &key);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    for node in [&a, &b] {
        node.get("/connections/c", Some(&token)).await.assert_problem(401, "unauthenticated");
    }
    a.stop();
    b.stop();
}
