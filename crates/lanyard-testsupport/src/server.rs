//! [`LanyardServer`]: a real `lanyard serve` process for end-to-end tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{TempDir, http, tail};

/// Environment variables of the developer's shell that would change what a server does; never passed on.
const SCRUBBED_ENV: &[&str] =
    &["LANYARD_ADMIN_TOKEN", "LANYARD_MASTER_KEY", "LANYARD_MASTER_KEY_PREVIOUS", "LANYARD_TOKEN", "RUST_LOG"];

/// The line `lanyard serve` prints on stderr once it listens.
const LISTENING: &str = "lanyard listening on ";

/// How long a server may take to announce its address, and then to answer `/healthz`.
const START_LIMIT: Duration = Duration::from_secs(30);

/// How to start a [`LanyardServer`]: `<bin> serve --data-dir <dir> --listen 127.0.0.1:0 <args…>`.
#[derive(Clone)]
pub struct LanyardServerBuilder {
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    data_dir: Option<PathBuf>,
}

impl LanyardServerBuilder {
    /// More arguments after `serve` (`--catalog postgres://…`, `--log-level trace`, `--tls-cert …`). With a
    /// `--listen` of their own the default `--listen 127.0.0.1:0` is left out.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    /// An environment variable for the server. `LANYARD_ADMIN_TOKEN`, `LANYARD_MASTER_KEY`,
    /// `LANYARD_MASTER_KEY_PREVIOUS`, `LANYARD_TOKEN` and `RUST_LOG` are otherwise removed from its environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Uses an existing data directory (kept on drop), e.g. to start a second server on the data of a first one.
    /// By default the data directory is `data/` in the server's own temporary directory.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// Starts the server, waits for its `lanyard listening on …` line and, over plain HTTP, for `GET /healthz` to
    /// answer 200.
    ///
    /// # Panics
    ///
    /// When the process cannot start, exits before listening, or is not ready within 30 s (with its log).
    pub fn start(self) -> LanyardServer {
        self.try_start().unwrap_or_else(|(status, log)| {
            panic!("lanyard serve exited with {status} before listening; its log:\n{log}")
        })
    }

    /// [`start`](Self::start) for a server that may refuse to start: its exit status and log when it exits before
    /// listening.
    ///
    /// # Panics
    ///
    /// When the process cannot start, or is not ready within 30 s (with its log).
    pub fn try_start(self) -> Result<LanyardServer, (ExitStatus, String)> {
        let dir = TempDir::new("serve");
        let data_dir = self.data_dir.clone().unwrap_or_else(|| dir.join("data"));
        let log_path = dir.join("serve.stderr.log");
        let stdout_path = dir.join("serve.stdout.log");
        let stderr =
            fs::File::create(&log_path).unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
        let stdout =
            fs::File::create(&stdout_path).unwrap_or_else(|e| panic!("cannot create {}: {e}", stdout_path.display()));

        let mut command = Command::new(&self.bin);
        command.arg("serve").arg("--data-dir").arg(&data_dir);
        if !self.args.iter().any(|arg| arg == "--listen" || arg.starts_with("--listen=")) {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command.args(&self.args);
        for key in SCRUBBED_ENV {
            command.env_remove(key);
        }
        command.envs(self.env.iter().map(|(key, value)| (key, value)));
        command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));

        let mut server =
            LanyardServer { child, dir, data_dir, url: String::new(), log_path, stdout_path, exited: None };
        server.url = server.wait_listening()?;
        if server.url.starts_with("http://") {
            server.wait_healthy();
        }
        Ok(server)
    }
}

/// The environment's names only: its values may be secrets (`LANYARD_MASTER_KEY`, `LANYARD_ADMIN_TOKEN`).
impl std::fmt::Debug for LanyardServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanyardServerBuilder")
            .field("bin", &self.bin)
            .field("args", &self.args)
            .field("env", &self.env.iter().map(|(key, _)| key).collect::<Vec<_>>())
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

/// A running `lanyard serve` process with a temporary data directory (unless one was given) and its stderr in a
/// file. Dropping it kills the process and removes its temporary directory; at a failing test it first prints the
/// end of the server's log.
#[derive(Debug)]
pub struct LanyardServer {
    child: Child,
    dir: TempDir,
    data_dir: PathBuf,
    /// `scheme://127.0.0.1:<port>`.
    url: String,
    log_path: PathBuf,
    stdout_path: PathBuf,
    exited: Option<ExitStatus>,
}

impl LanyardServer {
    /// Starts `<bin> serve --data-dir <temp>/data --listen 127.0.0.1:0 <extra_args…>`; see
    /// [`LanyardServerBuilder::start`].
    pub fn start(bin: &Path, extra_args: &[&str]) -> Self {
        Self::builder(bin).args(extra_args).start()
    }

    /// A builder for servers with environment variables or an existing data directory.
    pub fn builder(bin: &Path) -> LanyardServerBuilder {
        LanyardServerBuilder { bin: bin.to_owned(), args: Vec::new(), env: Vec::new(), data_dir: None }
    }

    /// `http://127.0.0.1:<port>` (or `https://…`), as the server announced it (`0.0.0.0` becomes `127.0.0.1`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|port| port.parse().ok()).expect("the announced URL has a port")
    }

    /// The data directory (`catalog.db`, `master.key`, `admin.token`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's own temporary directory: its log files and, unless one was given, `data/`. Removed on drop.
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `GET /metrics` (no token needed): the Prometheus text.
    ///
    /// # Panics
    ///
    /// When the server does not answer 200.
    pub fn metrics(&self) -> String {
        let response = crate::http::request(self.url(), "GET", "/metrics", &[], b"")
            .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
        assert_eq!(response.status, 200, "GET /metrics: {}", response.body);
        response.body
    }

    /// The admin token the server wrote to `<data-dir>/admin.token` at its first start.
    ///
    /// # Panics
    ///
    /// When there is no such file (for example, the server was given `LANYARD_ADMIN_TOKEN`).
    pub fn admin_token(&self) -> String {
        let path = self.data_dir.join("admin.token");
        let token = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("cannot read {} ({e}); a server given LANYARD_ADMIN_TOKEN writes no token file", path.display())
        });
        token.trim().to_owned()
    }

    /// Everything the server wrote to stderr so far (its log), for assertions and canary checks.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_else(|e| panic!("cannot read {}: {e}", self.log_path.display()))
    }

    /// The file the server's stderr goes to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the server wrote to stdout so far.
    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.stdout_path.display()))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits (at most 10 s) for the process to exit; returns its exit status.
    ///
    /// # Panics
    ///
    /// When it does not exit in time (it is then killed).
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        self.signal("TERM");
        self.wait_exit(Duration::from_secs(10))
    }

    /// Sends the signal `name` (`TERM`, `INT`, …) with `kill`; [`wait_exit`](Self::wait_exit) waits for the
    /// outcome.
    ///
    /// # Panics
    ///
    /// When the process has already been waited for, or `kill` fails.
    pub fn signal(&self, name: &str) {
        assert!(self.exited.is_none(), "lanyard serve has already exited; no SIG{name} sent");
        let sent = Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status();
        assert!(sent.is_ok_and(|status| status.success()), "kill -{name} {} failed", self.pid());
    }

    /// SIGKILL, and waits for the process to go.
    pub fn kill(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }

    /// Waits (at most `limit`) for the process to exit; returns its exit status.
    ///
    /// # Panics
    ///
    /// When it does not exit in time (it is then killed).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for lanyard serve") {
                self.exited = Some(status);
                return status;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!("lanyard serve did not exit within {limit:?}; its log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Polls the log for the listening line; returns the announced URL, or the exit status and the log when the
    /// process exits first.
    fn wait_listening(&mut self) -> Result<String, (ExitStatus, String)> {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let log = self.log();
            // Only a whole line: stderr is unbuffered, so the line may be read while it is half written.
            let announced = log.split_inclusive('\n').find_map(|line| line.strip_suffix('\n')?.strip_prefix(LISTENING));
            if let Some(url) = announced {
                return Ok(url.trim().replace("://0.0.0.0:", "://127.0.0.1:"));
            }
            if let Some(status) = self.child.try_wait().expect("wait for lanyard serve") {
                self.exited = Some(status);
                return Err((status, self.log()));
            }
            if Instant::now() >= deadline {
                panic!("lanyard serve did not say `{LISTENING}…` within {START_LIMIT:?}; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Polls `GET /healthz` until it answers 200.
    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            match http::request(&self.url, "GET", "/healthz", &[], b"") {
                Ok(response) if response.status == 200 => return,
                Ok(response) => {
                    panic!("GET /healthz answered {}: {}; the log:\n{}", response.status, response.body, self.log())
                }
                Err(e) if Instant::now() >= deadline => {
                    panic!("GET /healthz did not answer within {START_LIMIT:?} ({e}); the log:\n{}", self.log())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

impl Drop for LanyardServer {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = fs::read_to_string(&self.log_path).unwrap_or_default();
            eprintln!(
                "lanyard-testsupport: lanyard serve at {} at a failed test; the end of its log:\n{}",
                self.url,
                tail(&log, 40)
            );
        }
        // The `dir` field (the log files, and the data unless it was given) removes itself after this.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for the `lanyard` binary (this crate cannot build it): a Python script that behaves like
    /// `lanyard serve` from the outside — writes `admin.token`, logs to stderr, announces its address, answers
    /// `/healthz`, and exits 0 on SIGTERM.
    const FAKE_SERVE: &str = r#"#!/usr/bin/env python3
import os, signal, sys, http.server
args = sys.argv[1:]
assert args[0] == "serve", args
data = args[args.index("--data-dir") + 1]
listen = args[args.index("--listen") + 1]
os.makedirs(data, exist_ok=True)
with open(os.path.join(data, "admin.token"), "w") as f:
    f.write("lyd_fake_admin_token\n")
print("args: " + " ".join(args[1:]), file=sys.stderr)
print("env: " + os.environ.get("FAKE_SETTING", "-") + " " + os.environ.get("LANYARD_MASTER_KEY", "-"), file=sys.stderr)
if "--fail" in args:
    print("refusing to start", file=sys.stderr)
    sys.exit(3)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        print("request " + self.path, file=sys.stderr, flush=True)
host, port = listen.rsplit(":", 1)
server = http.server.HTTPServer((host, int(port)), Handler)
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
print("lanyard listening on http://%s:%d" % (host, server.server_port), file=sys.stderr, flush=True)
server.serve_forever()
"#;

    fn fake_bin(dir: &TempDir) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join("lanyard");
        fs::write(&path, FAKE_SERVE).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn starts_announces_and_stops() {
        let bin_dir = TempDir::new("fake-bin");
        let mut server = LanyardServer::builder(&fake_bin(&bin_dir))
            .args(&["--log-level", "trace"])
            .env("FAKE_SETTING", "on")
            .start();
        assert!(server.url().starts_with("http://127.0.0.1:"), "{}", server.url());
        assert_ne!(server.port(), 0);
        assert_eq!(server.admin_token(), "lyd_fake_admin_token");
        assert!(server.data_dir().join("admin.token").is_file());
        let log = server.log();
        assert!(log.contains(" --listen 127.0.0.1:0 --log-level trace\n"), "{log}");
        assert!(log.contains("env: on -"), "the scrubbed variables never reach the server: {log}");
        assert!(log.contains("request /healthz"), "{log}");
        assert!(server.stop().success());
        let dir = server.temp_dir().to_owned();
        drop(server);
        assert!(!dir.exists());
    }

    #[test]
    fn an_existing_data_dir_is_kept_and_listen_can_be_given() {
        let bin_dir = TempDir::new("fake-bin");
        let data = TempDir::new("fake-data");
        let port = crate::free_port();
        let server = LanyardServer::builder(&fake_bin(&bin_dir))
            .data_dir(data.path())
            .args(&["--listen", &format!("127.0.0.1:{port}")])
            .start();
        assert_eq!(server.port(), port);
        assert_eq!(server.data_dir(), data.path());
        drop(server);
        assert!(data.join("admin.token").is_file(), "a given data directory is kept");
    }

    #[test]
    fn a_server_that_exits_early_fails_with_its_log() {
        let bin_dir = TempDir::new("fake-bin");
        let bin = fake_bin(&bin_dir);
        let panic = std::panic::catch_unwind(|| LanyardServer::start(&bin, &["--fail"])).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("exited with exit status: 3 before listening"), "{message}");
        assert!(message.contains("refusing to start"), "{message}");
    }

    #[test]
    fn try_start_returns_the_exit_status_and_log_of_a_server_that_refuses() {
        let bin_dir = TempDir::new("fake-bin");
        let (status, log) = LanyardServer::builder(&fake_bin(&bin_dir)).args(&["--fail"]).try_start().unwrap_err();
        assert_eq!(status.code(), Some(3));
        assert!(log.contains("refusing to start"), "{log}");
    }
}
