//! [`SqlCli`]: the real `lanyard sql` binary against a real `lanyard serve`, with a home directory of its own (for the
//! history file) and everything it printed kept, so that a test can prove a canary secret went nowhere.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::{LanyardServer, TempDir, run_client};

/// What one `lanyard sql` run printed.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// The JSON lines of stdout (`--format json`).
    pub fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{self:?}")))
            .collect()
    }
}

/// A `lanyard serve` started with `--log-level trace`, a home directory for the CLI, and everything the CLI printed.
pub struct SqlCli {
    /// The `lanyard` binary.
    bin: PathBuf,
    /// The server.
    pub server: LanyardServer,
    /// The CLI's home directory (the history file is `history` in it).
    pub home: TempDir,
    printed: RefCell<Vec<String>>,
}

impl SqlCli {
    /// Starts a server from `bin` (the `lanyard` binary); `home` names the CLI's home directory.
    pub fn start(bin: &Path, home: &str) -> Self {
        Self::start_with(bin, home, &[])
    }

    /// [`SqlCli::start`] with more `lanyard serve` arguments (`--pipeline-interval-ms 100`, …).
    pub fn start_with(bin: &Path, home: &str, serve_args: &[&str]) -> Self {
        let mut args = vec!["--log-level", "trace"];
        args.extend_from_slice(serve_args);
        let server = LanyardServer::start(bin, &args);
        Self::with_server(bin, home, server)
    }

    /// The CLI of `bin` against a server started by the caller (several nodes, a restarted one).
    pub fn with_server(bin: &Path, home: &str, server: LanyardServer) -> Self {
        Self { bin: bin.to_owned(), server, home: TempDir::new(home), printed: RefCell::default() }
    }

    /// The CLI's history file.
    pub fn history(&self) -> PathBuf {
        self.home.join("history")
    }

    /// A `lanyard` command (no arguments yet).
    pub fn command(&self) -> Command {
        Command::new(&self.bin)
    }

    /// `lanyard sql --server <url> <args…>` with the admin token in `LANYARD_TOKEN`, `stdin` piped in.
    pub fn sql(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = self.command();
        command.arg("sql").arg("--server").arg(self.server.url()).args(args);
        command.env("LANYARD_TOKEN", self.server.admin_token());
        self.run(command, stdin)
    }

    /// Runs `command` in the CLI's home directory, `stdin` piped in; what it printed is kept.
    pub fn run(&self, command: Command, stdin: Option<&str>) -> Run {
        let Output { status, stdout, stderr } =
            run_client(command, self.home.path(), stdin.unwrap_or_default().as_bytes());
        let run = Run {
            code: status.code().expect("exited"),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        };
        self.printed.borrow_mut().push(format!("{}\n{}", run.stdout, run.stderr));
        run
    }

    /// Runs `sql` as JSON with `--continue-on-error`.
    pub fn json(&self, sql: &str) -> (Run, Vec<Value>) {
        let run = self.sql(&["--format", "json", "--continue-on-error", sql], None);
        let lines = run.json();
        (run, lines)
    }

    /// Runs one statement that must succeed; returns its JSON result.
    pub fn ok(&self, sql: &str) -> Value {
        let run = self.sql(&["--format", "json", sql], None);
        assert_eq!(run.code, 0, "{sql}\n{run:?}");
        run.json().pop().unwrap()
    }

    /// Runs one statement that must fail; returns its stderr.
    pub fn fails(&self, sql: &str) -> String {
        let run = self.sql(&[sql], None);
        assert_eq!(run.code, 1, "{sql}\n{run:?}");
        assert_eq!(run.stdout, "", "a failed statement prints no result: {run:?}");
        run.stderr
    }

    /// `DESCRIBE <what> <name>` as a property → value map.
    pub fn describe(&self, what: &str, name: &str) -> serde_json::Map<String, Value> {
        let result = self.ok(&format!("DESCRIBE {what} {name}"));
        result["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| (row["property"].as_str().unwrap().to_owned(), row["value"].clone()))
            .collect()
    }

    /// The audit log, read over HTTP with the admin token.
    pub fn audit(&self) -> Vec<Value> {
        let url = format!("{}/audit?limit=1000", self.server.url());
        let token = self.server.admin_token();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let response = reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap();
            assert!(response.status().is_success(), "{response:?}");
            response.json().await.unwrap()
        })
    }

    /// Asserts that `canary` is not in what the CLI printed, the history file or the server's log.
    pub fn assert_no_canary(&self, canary: &str) {
        for (i, text) in self.printed.borrow().iter().enumerate() {
            assert!(!text.contains(canary), "the canary is in the output of run {i}:\n{text}");
        }
        let history = std::fs::read_to_string(self.history()).unwrap_or_default();
        assert!(!history.contains(canary), "the canary is in the history file:\n{history}");
        let log = self.server.log();
        assert!(!log.contains(canary), "the canary is in the server log");
        assert!(log.contains("TRACE") || log.contains("DEBUG") || log.contains("INFO"), "the server logged nothing");
    }

    /// Asserts that none of `canaries` is anywhere: not in what the CLI printed, the history file, the server's log
    /// (at trace level), the audit log, or any file of the data directory (the catalog, its WAL, the local vault).
    pub fn assert_no_canary_anywhere(&self, canaries: &[&str]) {
        let history = std::fs::read_to_string(self.history()).unwrap_or_default();
        let log = self.server.log();
        assert!(log.contains("TRACE") || log.contains("DEBUG"), "the server logged nothing at trace level");
        let audit = serde_json::to_string(&self.audit()).unwrap();
        let files = files_under(self.server.data_dir());
        assert!(!files.is_empty(), "the data directory is empty");
        for canary in canaries {
            for (i, text) in self.printed.borrow().iter().enumerate() {
                assert!(!text.contains(canary), "{canary} is in the output of run {i}:\n{text}");
            }
            assert!(!history.contains(canary), "{canary} is in the history file:\n{history}");
            assert!(!log.contains(canary), "{canary} is in the server log");
            assert!(!audit.contains(canary), "{canary} is in the audit log");
            for (path, bytes) in &files {
                let found = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
                assert!(!found, "{canary} is in {}", path.display());
            }
        }
    }
}

/// One line per statement of a `--format json` run: `outcome | statement | message or error code + message`.
pub fn transcript(lines: &[Value]) -> String {
    lines
        .iter()
        .map(|l| {
            let outcome = l["outcome"].as_str().unwrap();
            let tail = if outcome == "error" {
                format!(
                    "{}: {}",
                    l["error"]["code"].as_str().unwrap_or("client"),
                    l["error"]["message"].as_str().unwrap()
                )
            } else {
                l["message"].as_str().unwrap().to_owned()
            };
            let statement = l["statement"].as_str().map_or_else(|| format!("(line {})", l["line"]), str::to_owned);
            format!("{outcome:<9} | {statement} | {tail}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out
}
