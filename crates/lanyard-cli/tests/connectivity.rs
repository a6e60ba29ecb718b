//! End to end, TEST CONNECTION against real systems: the real `lanyard sql` binary against a real `lanyard serve`
//! process (trace logging), probing a private PostgreSQL cluster with SCRAM logins, a MariaDB user, moto's S3, a
//! local directory, a REST endpoint served by this test and lanyard-testsupport's SFTP server double (password and
//! key logins, host key pinning); plus the types without a probe (UNSUPPORTED, exit 0), a missing connection, and
//! TEST CREDENTIAL STORAGE.
//!
//! quality.md's **rotation without ALTER** is tested on PostgreSQL, MariaDB and REST: the password (token) changes
//! in the remote system, the next TEST fails, the credential's material is replaced with `ALTER CREDENTIAL … SET
//! SECRET`, and the next TEST passes with no statement on the connection in between (its row is untouched by the
//! rotation), while a connect with the old password fails.
//!
//! Every test ends with the **canary** check: its distinctive secrets are in nothing the CLI printed, not in the
//! server's log at trace level, not in the audit log, and not in any file of the data directory (the local backend
//! stores only ciphertext).
//!
//! PostgreSQL's server binaries, MariaDB (127.0.0.1:3306, root without a password, or `LANYARD_TEST_MARIADB`) and
//! moto (`LANYARD_TEST_MOTO_URL`, started by `cargo xtask test`) are required: a test without them fails with a
//! message that says what is missing; none is skipped.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use lanyard_testsupport::{
    LanyardServer, MOTO_ACCESS_KEY_ID, MOTO_REGION, MariaDbUser, PrivatePostgres, SftpAttempt, SftpServer, SshKeyPair,
    TempDir, moto_create_bucket, moto_url, run_client, unique_name,
};
use serde_json::{Map, Value};

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// `lanyard sql` exit code: a statement failed.
const EXIT_STATEMENT: i32 = 1;
/// `lanyard sql` exit code: every statement ran, but a TEST reported FAILED.
const EXIT_TEST_FAILED: i32 = 4;

// ---------------------------------------------------------------------------------------------------------
// Harness

/// What one `lanyard sql --format json` run printed.
#[derive(Debug)]
struct Run {
    sql_shown: String,
    code: i32,
    stdout: String,
    stderr: String,
    /// The JSON lines of stdout, one per statement.
    lines: Vec<Value>,
}

impl Run {
    /// The result of the last statement.
    fn last(&self) -> &Value {
        self.lines.last().unwrap_or_else(|| panic!("`lanyard sql` printed no JSON line\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- sql ---\n{}\n--- exit code {} ---\n--- stdout ---\n{}--- stderr ---\n{}",
            self.sql_shown, self.code, self.stdout, self.stderr
        )
    }
}

/// The row of a TEST CONNECTION.
#[derive(Debug)]
struct TestRow {
    result: String,
    latency_ms: i64,
    server_version: Option<String>,
    error: Option<String>,
}

/// A `lanyard serve` process at trace level, and everything `lanyard sql` printed against it (for the canary).
struct Lanyard {
    server: LanyardServer,
    /// The server's admin token.
    token: String,
    home: TempDir,
    printed: RefCell<Vec<String>>,
}

impl Lanyard {
    fn start() -> Self {
        let server = LanyardServer::start(Path::new(LANYARD), &["--log-level", "trace"]);
        let token = server.admin_token();
        Self { server, token, home: TempDir::new("connectivity-home"), printed: RefCell::default() }
    }

    /// `lanyard sql --format json -f -` with `sql` on standard input (so that secrets stay out of the process
    /// list) and the admin token in `LANYARD_TOKEN`. `shown` is what failure messages print of the SQL.
    fn sql_shown(&self, sql: &str, shown: &str) -> Run {
        let mut command = Command::new(LANYARD);
        command
            .args(["sql", "--server", self.server.url(), "--format", "json", "-f", "-"])
            .env("LANYARD_TOKEN", &self.token);
        let Output { status, stdout, stderr } = run_client(command, self.home.path(), sql.as_bytes());
        let stdout = String::from_utf8(stdout).expect("stdout is UTF-8");
        let stderr = String::from_utf8(stderr).expect("stderr is UTF-8");
        self.printed.borrow_mut().push(format!("{stdout}\n{stderr}"));
        let code = status.code().unwrap_or_else(|| panic!("lanyard sql was killed by a signal ({status})"));
        let mut run = Run { sql_shown: shown.to_owned(), code, stdout, stderr, lines: Vec::new() };
        run.lines = run
            .stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("a line that is not JSON ({e}): {line}\n{run}"))
            })
            .collect();
        run
    }

    /// [`sql_shown`](Self::sql_shown) for SQL without secrets.
    fn sql(&self, sql: &str) -> Run {
        self.sql_shown(sql, sql)
    }

    /// Runs one statement that must succeed (exit 0, outcome `ok` or `created`); its JSON result.
    fn ok(&self, sql: &str) -> Value {
        self.ok_shown(sql, sql)
    }

    /// [`ok`](Self::ok) for a statement holding a secret: failure messages show `shown` instead.
    fn ok_shown(&self, sql: &str, shown: &str) -> Value {
        let run = self.sql_shown(sql, shown);
        assert_eq!(run.code, 0, "the statement failed\n{run}");
        assert_eq!(run.lines.len(), 1, "one statement, one JSON line\n{run}");
        let outcome = run.last()["outcome"].as_str().unwrap_or_default();
        assert!(matches!(outcome, "ok" | "created"), "outcome {outcome:?}\n{run}");
        run.last().clone()
    }

    /// `TEST CONNECTION <name>`: the run and its one row.
    fn test(&self, name: &str) -> (Run, TestRow) {
        let run = self.sql(&format!("TEST CONNECTION {name}"));
        assert_eq!(run.lines.len(), 1, "one statement, one JSON line\n{run}");
        let result = run.last();
        assert_eq!(
            result["columns"],
            serde_json::json!(["result", "latency_ms", "server_version", "error"]),
            "the columns of TEST CONNECTION\n{run}"
        );
        let rows = result["rows"].as_array().unwrap_or_else(|| panic!("no rows\n{run}"));
        assert_eq!(rows.len(), 1, "TEST CONNECTION returns one row\n{run}");
        let row = &rows[0];
        let text = |key: &str| match &row[key] {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            other => panic!("{key} is {other}, not text or null\n{run}"),
        };
        let test = TestRow {
            result: text("result").unwrap_or_else(|| panic!("no result\n{run}")),
            latency_ms: row["latency_ms"].as_i64().unwrap_or_else(|| panic!("latency_ms is not an integer\n{run}")),
            server_version: text("server_version"),
            error: text("error"),
        };
        assert!(test.latency_ms >= 0, "negative latency\n{run}");
        (run, test)
    }

    /// `TEST CONNECTION <name>`, which must pass (exit 0, outcome `passed`, result PASSED, no error).
    fn passed(&self, name: &str) -> TestRow {
        let (run, test) = self.test(name);
        assert_eq!(
            (run.code, run.last()["outcome"].as_str(), test.result.as_str(), test.error.as_deref()),
            (0, Some("passed"), "PASSED", None),
            "TEST CONNECTION {name} was expected to pass\n{run}\nthe server's log ends:\n{}",
            self.log_tail()
        );
        test
    }

    /// `TEST CONNECTION <name>`, which must fail as a result (exit 4, outcome `failed`, result FAILED); its reason.
    fn failed(&self, name: &str) -> String {
        let (run, test) = self.test(name);
        assert_eq!(
            (run.code, run.last()["outcome"].as_str(), test.result.as_str()),
            (EXIT_TEST_FAILED, Some("failed"), "FAILED"),
            "TEST CONNECTION {name} was expected to fail (a result, exit 4)\n{run}"
        );
        assert_eq!(test.server_version, None, "a failed probe reports no server version\n{run}");
        assert!(run.stderr.is_empty(), "a FAILED test is a result, not an error: nothing on stderr\n{run}");
        test.error.unwrap_or_else(|| panic!("a FAILED test says why\n{run}"))
    }

    /// `TEST CONNECTION <name>` of a type without a probe: exit 0, outcome `unsupported`, result UNSUPPORTED; its
    /// notice.
    fn unsupported(&self, name: &str) -> String {
        let (run, test) = self.test(name);
        assert_eq!(
            (run.code, run.last()["outcome"].as_str(), test.result.as_str()),
            (0, Some("unsupported"), "UNSUPPORTED"),
            "TEST CONNECTION {name} was expected to be unsupported (exit 0)\n{run}"
        );
        assert_eq!(test.server_version, None, "nothing was probed\n{run}");
        assert!(run.stderr.is_empty(), "UNSUPPORTED is a result, not an error: nothing on stderr\n{run}");
        test.error.unwrap_or_else(|| panic!("UNSUPPORTED says what is missing\n{run}"))
    }

    /// `SHOW CONNECTIONS`: name → status.
    fn statuses(&self) -> BTreeSet<(String, String)> {
        let shown = self.sql("SHOW CONNECTIONS");
        shown.last()["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("SHOW CONNECTIONS has rows\n{shown}"))
            .iter()
            .map(|row| {
                let text = |key: &str| row[key].as_str().unwrap_or_default().to_owned();
                (text("name"), text("status"))
            })
            .collect()
    }

    /// `DESCRIBE <what> <name>` as property → value.
    fn describe(&self, what: &str, name: &str) -> Map<String, Value> {
        let result = self.ok(&format!("DESCRIBE {what} {name}"));
        result["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("DESCRIBE {what} {name} returned no rows: {result}"))
            .iter()
            .map(|row| (row["property"].as_str().expect("a property name").to_owned(), row["value"].clone()))
            .collect()
    }

    /// The audit log as JSON text, read over HTTP with the admin token.
    fn audit(&self) -> String {
        let url = format!("{}/audit?limit=1000", self.server.url());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let response = reqwest::Client::new().get(&url).bearer_auth(&self.token).send().await.expect("GET /audit");
            assert!(response.status().is_success(), "GET /audit: {response:?}");
            response.text().await.expect("the audit log")
        })
    }

    fn log_tail(&self) -> String {
        let log = self.server.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The canary: no `secret` is in what `lanyard sql` printed, the server's log (trace level) and stdout, the
    /// audit log, or any file of the data directory.
    fn assert_secrets_absent(&self, secrets: &[&str]) {
        let log = self.server.log();
        assert!(
            log.contains(" DEBUG "),
            "the server, started with --log-level trace, must log its debug lines for the canary to mean something; \
             its log:\n{log}"
        );
        let audit = self.audit();
        let mut places: Vec<(String, Vec<u8>)> = vec![
            ("the server's log".to_owned(), log.into_bytes()),
            ("the server's stdout".to_owned(), self.server.stdout().into_bytes()),
            ("the audit log".to_owned(), audit.into_bytes()),
        ];
        for (i, printed) in self.printed.borrow().iter().enumerate() {
            places.push((format!("the output of `lanyard sql` run {i}"), printed.clone().into_bytes()));
        }
        for file in files_under(self.server.data_dir()) {
            let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            places.push((format!("the data file {}", file.display()), bytes));
        }
        for secret in secrets {
            assert!(secret.len() >= 12, "canaries must be distinctive: {secret:?}");
            for (place, bytes) in &places {
                let found = bytes.windows(secret.len()).any(|window| window == secret.as_bytes());
                assert!(!found, "the secret {secret:?} is in {place}:\n{}", String::from_utf8_lossy(bytes));
            }
        }
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// `text` as a single-quoted SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A database credential's JSON.
fn login_json(username: &str, password: &str) -> String {
    serde_json::json!({ "username": username, "password": password }).to_string()
}

/// `CREATE CREDENTIAL <name> TYPE = CREDENTIAL SECRET '<secret>'`; failure messages show `SECRET '***'`.
fn create_credential(lanyard: &Lanyard, name: &str, secret: &str) {
    let sql = format!("CREATE CREDENTIAL {name} TYPE = CREDENTIAL SECRET {}", quote(secret));
    let shown = format!("CREATE CREDENTIAL {name} TYPE = CREDENTIAL SECRET '***'");
    let result = lanyard.ok_shown(&sql, &shown);
    assert!(result["statement"].as_str().unwrap_or_default().contains("'***'"), "redacted statement: {result}");
}

/// `ALTER CREDENTIAL <name> SET SECRET '<secret>'`; failure messages show `SET SECRET '***'`.
fn set_secret(lanyard: &Lanyard, name: &str, secret: &str) {
    let sql = format!("ALTER CREDENTIAL {name} SET SECRET {}", quote(secret));
    let shown = format!("ALTER CREDENTIAL {name} SET SECRET '***'");
    lanyard.ok_shown(&sql, &shown);
}

/// The connection's properties that only a statement on the connection itself may change.
const IDENTITY: &[&str] =
    &["id", "name", "entity_ref", "type", "description", "options", "credential", "credential_storage", "created_at"];

/// Asserts that `after` has the same [`IDENTITY`] properties as `before`.
fn assert_same_identity(before: &Map<String, Value>, after: &Map<String, Value>, when: &str) {
    for key in IDENTITY {
        assert_eq!(before.get(*key), after.get(*key), "{key} changed {when}\nbefore: {before:?}\nafter: {after:?}");
    }
}

/// The database half of "rotation without ALTER", the same for PostgreSQL and MariaDB.
struct Rotation<'a> {
    /// The connection's type.
    kind: &'a str,
    /// What goes between the parentheses of `OPTIONS (…)`.
    options: String,
    /// The database user the credential names.
    user: &'a str,
    /// What the server version of a passed probe starts with (`PostgreSQL `, `MariaDB `).
    version_prefix: &'a str,
    /// What the reason of a refused login contains.
    refused: &'a str,
    /// Changes the password in the database.
    set_password: &'a dyn Fn(&str),
    /// Logs in directly with a password.
    try_connect: &'a dyn Fn(&str) -> Result<(), String>,
}

impl Rotation<'_> {
    fn run(&self, old: &str, new: &str) {
        let lanyard = Lanyard::start();
        (self.try_connect)(old).unwrap_or_else(|e| panic!("the database refuses the first password: {e}"));

        create_credential(&lanyard, "db_login", &login_json(self.user, old));
        lanyard.ok(&format!(
            "CREATE CONNECTION prod_db TYPE = {} OPTIONS ({}) CREDENTIAL = db_login",
            self.kind, self.options
        ));
        let created = lanyard.describe("CONNECTION", "prod_db");
        assert_eq!(created["status"], "untested", "{created:?}");
        assert_eq!(created["last_tested_at"], Value::Null, "{created:?}");

        // The first test passes and is recorded on the row.
        let test = lanyard.passed("prod_db");
        let version = test.server_version.unwrap_or_default();
        assert!(version.starts_with(self.version_prefix), "server_version {version:?}");
        let tested = lanyard.describe("CONNECTION", "prod_db");
        assert_same_identity(&created, &tested, "by TEST CONNECTION");
        assert_eq!(tested["status"], "ok", "{tested:?}");
        assert!(tested["last_tested_at"].is_string(), "{tested:?}");
        assert!(tested["last_test_latency_ms"].is_i64(), "{tested:?}");
        assert_eq!(tested["last_test_error"], Value::Null, "{tested:?}");
        assert_eq!(tested["server_version"].as_str(), Some(version.as_str()), "{tested:?}");

        // The password changes in the database only: the next test fails, saying why without the passwords.
        (self.set_password)(new);
        let reason = lanyard.failed("prod_db");
        assert!(reason.contains(self.refused), "the reason names the refused login: {reason:?}");
        for secret in [old, new] {
            assert!(!reason.contains(secret), "the reason holds a password: {reason:?}");
        }
        let failed = lanyard.describe("CONNECTION", "prod_db");
        assert_same_identity(&created, &failed, "by a failed TEST CONNECTION");
        assert_eq!(failed["status"], "failed", "{failed:?}");
        assert_eq!(failed["last_test_error"].as_str(), Some(reason.as_str()), "{failed:?}");
        assert_ne!(failed["last_tested_at"], tested["last_tested_at"], "a new test is recorded: {failed:?}");
        let shown = lanyard.sql("SHOW CONNECTIONS LIKE 'prod_db'");
        assert_eq!(shown.last()["rows"][0]["status"], "failed", "{shown}");

        // The material is replaced in the vault; nothing is said to the connection.
        let entry = lanyard.describe("CREDENTIAL", "db_login");
        set_secret(&lanyard, "db_login", &login_json(self.user, new));
        let rotated = lanyard.describe("CREDENTIAL", "db_login");
        let entry_version = entry["current_version"].as_i64().expect("current_version is an integer");
        assert_eq!(rotated["current_version"].as_i64(), Some(entry_version + 1), "{rotated:?}");
        assert!(rotated["rotated_at"].is_string(), "{rotated:?}");
        let untouched = lanyard.describe("CONNECTION", "prod_db");
        assert_eq!(untouched, failed, "the credential's rotation must not touch the connection's row");

        // The very next test passes: the credential is resolved fresh.
        let test = lanyard.passed("prod_db");
        assert!(test.server_version.unwrap_or_default().starts_with(self.version_prefix));
        let passed = lanyard.describe("CONNECTION", "prod_db");
        assert_same_identity(&created, &passed, "by the rotation and the TEST after it");
        assert_eq!(passed["status"], "ok", "{passed:?}");
        assert_eq!(passed["last_test_error"], Value::Null, "{passed:?}");
        assert_ne!(passed["last_tested_at"], failed["last_tested_at"], "{passed:?}");

        // The database agrees: the old password is refused, the new one accepted.
        let refused = (self.try_connect)(old).expect_err("a login with the old password must fail");
        assert!(refused.contains(self.refused), "{refused}");
        (self.try_connect)(new).unwrap_or_else(|e| panic!("the new password must work: {e}"));

        assert!(lanyard.server.log().contains("probe failed"), "the probe's debug lines are in the trace log");
        lanyard.assert_secrets_absent(&[old, new]);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Rotation without ALTER

#[test]
fn postgresql_password_rotation_needs_no_alter_connection() {
    let superuser = unique_name("canary-pg-super-");
    let (old, new) = (unique_name("canary-rot-P1-"), unique_name("canary-rot-P2-"));
    let pg = PrivatePostgres::start(&superuser);
    pg.create_user("app", &old);
    Rotation {
        kind: "postgresql",
        options: format!("host = '{}', port = '{}', database = 'postgres'", pg.host(), pg.port()),
        user: "app",
        version_prefix: "PostgreSQL ",
        refused: "password authentication failed",
        set_password: &|password| pg.set_password("app", password),
        try_connect: &|password| pg.try_connect("app", password),
    }
    .run(&old, &new);
}

#[test]
fn mariadb_password_rotation_needs_no_alter_connection() {
    let (old, new) = (unique_name("canary-rot-M1-"), unique_name("canary-rot-M2-"));
    let user = MariaDbUser::create(&old);
    Rotation {
        kind: "mysql",
        options: format!("host = '{}', port = '{}', database = 'information_schema'", user.host(), user.port()),
        user: user.name(),
        version_prefix: "MariaDB ",
        refused: "Access denied",
        set_password: &|password| user.set_password(password),
        try_connect: &|password| user.try_connect(password),
    }
    .run(&old, &new);
}

// ---------------------------------------------------------------------------------------------------------
// Object stores

#[test]
fn s3_on_moto_passes_for_a_bucket_and_fails_for_a_missing_one() {
    let url = moto_url();
    let bucket = unique_name("lanyard-conn-");
    moto_create_bucket(&url, &bucket);
    let secret_key = unique_name("canary-s3-secret-");
    let lanyard = Lanyard::start();
    let keys = serde_json::json!({ "access_key_id": MOTO_ACCESS_KEY_ID, "secret_access_key": secret_key });
    create_credential(&lanyard, "s3_keys", &keys.to_string());

    let options = |bucket: &str| format!("bucket = '{bucket}', region = '{MOTO_REGION}', endpoint = '{url}'");
    lanyard.ok(&format!("CREATE CONNECTION lake TYPE = s3 OPTIONS ({}) CREDENTIAL = s3_keys", options(&bucket)));
    lanyard.passed("lake");
    assert_eq!(lanyard.describe("CONNECTION", "lake")["status"], "ok");

    let missing = unique_name("lanyard-missing-");
    lanyard.ok(&format!("CREATE CONNECTION swamp TYPE = s3 OPTIONS ({}) CREDENTIAL = s3_keys", options(&missing)));
    let reason = lanyard.failed("swamp");
    assert!(reason.starts_with("listing failed: "), "{reason:?}");
    assert!(reason.contains("NoSuchBucket") || reason.contains("does not exist"), "the reason says why: {reason:?}");
    let described = lanyard.describe("CONNECTION", "swamp");
    assert_eq!(described["status"], "failed", "{described:?}");
    assert_eq!(described["last_test_error"].as_str(), Some(reason.as_str()), "{described:?}");

    lanyard.assert_secrets_absent(&[&secret_key]);
}

#[test]
fn local_directory_passes_and_a_missing_path_fails() {
    let lanyard = Lanyard::start();
    let dir = TempDir::new("connectivity-local");
    std::fs::write(dir.join("a-file"), "x").expect("write a file");
    let path = |path: &Path| quote(path.to_str().expect("a UTF-8 temp path"));

    lanyard.ok(&format!("CREATE CONNECTION files TYPE = local OPTIONS (path = {})", path(dir.path())));
    let test = lanyard.passed("files");
    assert_eq!(test.server_version, None);
    assert_eq!(lanyard.describe("CONNECTION", "files")["status"], "ok");

    lanyard.ok(&format!("CREATE CONNECTION gone TYPE = local OPTIONS (path = {})", path(&dir.join("missing"))));
    let reason = lanyard.failed("gone");
    assert!(reason.contains("is not an existing directory"), "{reason:?}");
    assert!(reason.contains("missing"), "the reason names the path: {reason:?}");

    lanyard.ok(&format!("CREATE CONNECTION plain_file TYPE = local OPTIONS (path = {})", path(&dir.join("a-file"))));
    let reason = lanyard.failed("plain_file");
    assert!(reason.contains("is not a directory"), "{reason:?}");

    let shown = lanyard.sql("SHOW CONNECTIONS");
    let statuses: BTreeSet<(String, String)> = shown.last()["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("SHOW CONNECTIONS has rows\n{shown}"))
        .iter()
        .map(|row| {
            (row["name"].as_str().unwrap_or_default().to_owned(), row["status"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    let expected: BTreeSet<(String, String)> =
        [("files", "ok"), ("gone", "failed"), ("plain_file", "failed")].map(|(n, s)| (n.into(), s.into())).into();
    assert_eq!(statuses, expected, "{shown}");
    lanyard.assert_secrets_absent(&[]);
}

// ---------------------------------------------------------------------------------------------------------
// REST

/// An HTTP endpoint in this process: `GET /health` answers 200 (with `Server: rest-double/1.0`) to
/// `Authorization: Bearer <token>` and 401 to anything else, and records whether each request was authorized.
struct RestDouble {
    url: String,
    authorized: Arc<Mutex<Vec<bool>>>,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Clone)]
struct DoubleState {
    expected: String,
    authorized: Arc<Mutex<Vec<bool>>>,
}

impl RestDouble {
    fn start(token: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the REST double");
        let authorized = Arc::new(Mutex::new(Vec::new()));
        let state = DoubleState { expected: format!("Bearer {token}"), authorized: authorized.clone() };
        let app = axum::Router::new().route("/health", axum::routing::get(health)).with_state(state);
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a bound address");
        runtime.spawn(async move {
            axum::serve(listener, app).await.expect("the REST double serves");
        });
        Self { url: format!("http://{addr}/health"), authorized, _runtime: runtime }
    }

    /// Whether each request so far was authorized, in order.
    fn requests(&self) -> Vec<bool> {
        self.authorized.lock().expect("the request log").clone()
    }
}

async fn health(
    State(state): State<DoubleState>,
    headers: HeaderMap,
) -> (StatusCode, [(header::HeaderName, &'static str); 1]) {
    let given = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    let ok = given == Some(state.expected.as_str());
    state.authorized.lock().expect("the request log").push(ok);
    let status = if ok { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
    (status, [(header::SERVER, "rest-double/1.0")])
}

#[test]
fn rest_checks_the_bearer_token_from_the_vault_and_the_expected_status() {
    let token = unique_name("canary-rest-token-");
    let wrong = unique_name("canary-rest-wrong-");
    let double = RestDouble::start(&token);
    let lanyard = Lanyard::start();
    create_credential(&lanyard, "api_token", &token);
    create_credential(&lanyard, "stale_token", &wrong);
    let headers = serde_json::json!({ "Authorization": format!("Bearer {token}") });
    create_credential(&lanyard, "api_headers", &headers.to_string());
    let options =
        |expected: &str| format!("endpoint = '{}', method = 'GET', expected_status = '{expected}'", double.url);

    lanyard.ok(&format!("CREATE CONNECTION api TYPE = rest OPTIONS ({}) CREDENTIAL = api_token", options("200")));
    let test = lanyard.passed("api");
    assert_eq!(test.server_version.as_deref(), Some("rest-double/1.0"), "the Server header is the version");
    assert_eq!(double.requests(), [true], "the probe sent the vault's token as a bearer token");

    lanyard
        .ok(&format!("CREATE CONNECTION api_json TYPE = rest OPTIONS ({}) CREDENTIAL = api_headers", options("200")));
    lanyard.passed("api_json");
    assert_eq!(double.requests(), [true, true], "a JSON credential is a set of headers");

    lanyard
        .ok(&format!("CREATE CONNECTION api_stale TYPE = rest OPTIONS ({}) CREDENTIAL = stale_token", options("200")));
    let reason = lanyard.failed("api_stale");
    assert_eq!(reason, "expected status 200, got 401");
    assert_eq!(double.requests(), [true, true, false]);

    lanyard.ok(&format!("CREATE CONNECTION api_204 TYPE = rest OPTIONS ({}) CREDENTIAL = api_token", options("204")));
    let reason = lanyard.failed("api_204");
    assert_eq!(reason, "expected status 204, got 200");
    assert_eq!(double.requests(), [true, true, false, true]);

    // Rotation without ALTER: the stale token's material is replaced, the next test passes.
    let before = lanyard.describe("CONNECTION", "api_stale");
    set_secret(&lanyard, "stale_token", &token);
    assert_eq!(lanyard.describe("CONNECTION", "api_stale"), before, "the rotation does not touch the connection");
    lanyard.passed("api_stale");
    assert_eq!(double.requests(), [true, true, false, true, true]);

    lanyard.assert_secrets_absent(&[&token, &wrong]);
}

// ---------------------------------------------------------------------------------------------------------
// No probe, no connection; credential storages

#[test]
fn kafka_has_no_probe_so_it_is_unsupported_not_failed() {
    let secret = unique_name("canary-kafka-sasl-");
    let lanyard = Lanyard::start();
    create_credential(&lanyard, "kafka_login", &secret);
    lanyard.ok(
        "CREATE CONNECTION events TYPE = kafka OPTIONS (bootstrap_servers = '127.0.0.1:9') CREDENTIAL = kafka_login",
    );
    let notice = lanyard.unsupported("events");
    assert_eq!(
        notice,
        r#"no probe for type "kafka" in this build; the connection is stored and resolves its credential, but Lanyard cannot check it"#
    );
    lanyard.ok("CREATE CONNECTION bare_events TYPE = kafka OPTIONS ()");
    assert_eq!(
        lanyard.unsupported("bare_events"),
        r#"no probe for type "kafka" in this build; the connection is stored, but Lanyard cannot check it"#
    );

    // The credential is still resolved: one that cannot be is a FAILED test, with the resolver's reason.
    lanyard.ok(
        "CREATE CREDENTIAL STORAGE nowhere TYPE = HASHICORP OPTIONS (address = 'http://127.0.0.1:9', auth_method = \
         'token', token = 'not-a-real-token')",
    );
    lanyard.ok("CREATE CREDENTIAL unreachable TYPE = CREDENTIAL LINKED EXTERNAL SECRET 'apps/kafka' IN CREDENTIAL STORAGE nowhere");
    lanyard.ok("CREATE CONNECTION lost_events TYPE = kafka OPTIONS () CREDENTIAL = unreachable");
    let reason = lanyard.failed("lost_events");
    assert!(
        reason.starts_with(r#"connection "lost_events": credential "unreachable" in backend "nowhere""#),
        "{reason:?}"
    );

    // SHOW CONNECTIONS and DESCRIBE show the status; the notice is the last test's error.
    let expected: BTreeSet<(String, String)> =
        [("events", "unsupported"), ("bare_events", "unsupported"), ("lost_events", "failed")]
            .map(|(n, s)| (n.into(), s.into()))
            .into();
    assert_eq!(lanyard.statuses(), expected);
    let described = lanyard.describe("CONNECTION", "events");
    assert_eq!(described["status"], "unsupported", "{described:?}");
    assert_eq!(described["last_test_error"].as_str(), Some(notice.as_str()), "{described:?}");

    // In a script, UNSUPPORTED exits 0 where FAILED exits 4.
    let run = lanyard.sql("TEST CONNECTION events; TEST CONNECTION bare_events");
    assert_eq!(run.code, 0, "{run}");
    let run = lanyard.sql("TEST CONNECTION events; TEST CONNECTION lost_events");
    assert_eq!(run.code, EXIT_TEST_FAILED, "{run}");

    // The audit log says UNSUPPORTED, and counts it as allowed rather than failed.
    let audit: Value = serde_json::from_str(&lanyard.audit()).expect("the audit log is JSON");
    let results: Vec<(String, String)> = audit
        .as_array()
        .unwrap_or_else(|| panic!("audit records: {audit}"))
        .iter()
        .filter(|r| r["action"] == "connection.test" && r["object_name"] == "events")
        .map(|r| (r["outcome"].as_str().unwrap_or_default().to_owned(), r["detail"]["result"].to_string()))
        .collect();
    assert!(!results.is_empty(), "TEST CONNECTION events is audited: {audit}");
    for result in results {
        assert_eq!(result, ("allowed".to_owned(), r#""UNSUPPORTED""#.to_owned()), "{audit}");
    }
    lanyard.assert_secrets_absent(&[&secret]);
}

#[test]
fn a_missing_connection_is_an_error_and_outranks_a_failed_test() {
    let lanyard = Lanyard::start();
    let run = lanyard.sql("TEST CONNECTION nowhere");
    assert_eq!(run.code, EXIT_STATEMENT, "a missing connection is a statement error\n{run}");
    let line = run.last();
    assert_eq!(line["outcome"], "error", "{run}");
    assert_eq!(line["error"]["code"], "not_found", "{run}");
    assert!(line["error"]["message"].as_str().unwrap_or_default().contains("nowhere"), "{run}");
    assert!(run.stderr.contains("not_found"), "the report names the code\n{run}");

    // A missing connection outranks a failed test in the exit code.
    let dir = TempDir::new("connectivity-outranks");
    let missing = quote(dir.join("missing").to_str().expect("a UTF-8 temp path"));
    lanyard.ok(&format!("CREATE CONNECTION gone TYPE = local OPTIONS (path = {missing})"));
    lanyard.failed("gone");
    let run = lanyard.sql("TEST CONNECTION gone; TEST CONNECTION nowhere");
    assert_eq!(run.code, EXIT_STATEMENT, "{run}");
    lanyard.assert_secrets_absent(&[]);
}

// ---------------------------------------------------------------------------------------------------------
// SFTP, against lanyard-testsupport's SFTP server double

/// The options of an sftp connection to `server` listing `path`, with `fingerprint` pinned (unless `None`).
fn sftp_options(server: &SftpServer, path: &str, fingerprint: Option<&str>) -> String {
    let mut options = format!("host = '{}', port = '{}', path = '{path}'", server.host(), server.port());
    if let Some(fingerprint) = fingerprint {
        options.push_str(&format!(", host_key_fingerprint = '{fingerprint}'"));
    }
    options
}

/// The second line of a PEM private key: its body, distinctive enough for the canary.
fn pem_body_line(pem: &str) -> &str {
    pem.lines().nth(1).expect("a PEM body line")
}

#[test]
fn sftp_passes_with_a_password_and_with_a_private_key() {
    let password = unique_name("canary-sftp-password-");
    let key = SshKeyPair::ed25519();
    let server = SftpServer::start("loader", &password, &key.public);
    std::fs::create_dir(server.root().join("incoming")).expect("a directory to list");
    std::fs::write(server.root().join("incoming").join("a.csv"), "id\n1\n").expect("a file in it");
    let fingerprint = server.host_key_fingerprint();
    let lanyard = Lanyard::start();

    create_credential(
        &lanyard,
        "sftp_password",
        &serde_json::json!({"username": "loader", "password": password}).to_string(),
    );
    let options = sftp_options(&server, "/incoming", Some(&fingerprint));
    lanyard.ok(&format!("CREATE CONNECTION drop_box TYPE = sftp OPTIONS ({options}) CREDENTIAL = sftp_password"));
    let test = lanyard.passed("drop_box");
    assert_eq!(test.server_version.as_deref(), Some("lanyard-sftp-double_1.0 (SFTP 3)"));
    assert_eq!(server.attempts(), [SftpAttempt { user: "loader".into(), method: "password", accepted: true }]);

    // A private key as the plain secret, the user from the option; the login directory by default.
    create_credential(&lanyard, "sftp_key", &key.private_pem);
    let options = format!("{}, username = 'loader'", sftp_options(&server, ".", Some(&fingerprint)));
    lanyard.ok(&format!("CREATE CONNECTION drop_box_key TYPE = sftp OPTIONS ({options}) CREDENTIAL = sftp_key"));
    lanyard.passed("drop_box_key");
    assert_eq!(server.attempts()[1..], [SftpAttempt { user: "loader".into(), method: "publickey", accepted: true }]);

    let expected: BTreeSet<(String, String)> =
        [("drop_box", "ok"), ("drop_box_key", "ok")].map(|(n, s)| (n.into(), s.into())).into();
    assert_eq!(lanyard.statuses(), expected);
    let described = lanyard.describe("CONNECTION", "drop_box");
    assert_eq!(described["server_version"], "lanyard-sftp-double_1.0 (SFTP 3)", "{described:?}");
    lanyard.assert_secrets_absent(&[&password, pem_body_line(&key.private_pem)]);
}

#[test]
fn sftp_fails_for_a_wrong_password_and_a_missing_path() {
    let password = unique_name("canary-sftp-password-");
    let wrong = unique_name("canary-sftp-wrong-");
    let key = SshKeyPair::ed25519();
    let server = SftpServer::start("loader", &password, &key.public);
    let fingerprint = server.host_key_fingerprint();
    let lanyard = Lanyard::start();
    create_credential(&lanyard, "stale", &wrong);
    create_credential(&lanyard, "good", &password);

    let options = format!("{}, username = 'loader'", sftp_options(&server, "/", Some(&fingerprint)));
    lanyard.ok(&format!("CREATE CONNECTION stale_box TYPE = sftp OPTIONS ({options}) CREDENTIAL = stale"));
    let reason = lanyard.failed("stale_box");
    assert_eq!(reason, r#"authentication as "loader" failed (password); the server accepts: publickey, password"#);
    assert_eq!(server.attempts(), [SftpAttempt { user: "loader".into(), method: "password", accepted: false }]);

    let options = format!("{}, username = 'loader'", sftp_options(&server, "/missing", Some(&fingerprint)));
    lanyard.ok(&format!("CREATE CONNECTION lost_box TYPE = sftp OPTIONS ({options}) CREDENTIAL = good"));
    let reason = lanyard.failed("lost_box");
    assert_eq!(reason, r#"listing "/missing" failed: No such file"#);

    let expected: BTreeSet<(String, String)> =
        [("stale_box", "failed"), ("lost_box", "failed")].map(|(n, s)| (n.into(), s.into())).into();
    assert_eq!(lanyard.statuses(), expected);
    lanyard.assert_secrets_absent(&[&password, &wrong]);
}

#[test]
fn sftp_refuses_a_host_key_it_cannot_verify_before_sending_the_credential() {
    let password = unique_name("canary-sftp-password-");
    let key = SshKeyPair::ed25519();
    let server = SftpServer::start("loader", &password, &key.public);
    let lanyard = Lanyard::start();
    create_credential(&lanyard, "good", &password);
    let address = format!("{}:{}", server.host(), server.port());

    // Pinned to another key: refused.
    let other = SshKeyPair::ed25519().fingerprint();
    let options = format!("{}, username = 'loader'", sftp_options(&server, "/", Some(&other)));
    lanyard.ok(&format!("CREATE CONNECTION impostor TYPE = sftp OPTIONS ({options}) CREDENTIAL = good"));
    let reason = lanyard.failed("impostor");
    assert_eq!(
        reason,
        format!(
            r#"the host key of {address} does not match option "host_key_fingerprint": the server offered {}"#,
            server.host_key_fingerprint()
        )
    );

    // Not pinned: refused too, naming the key to pin.
    let options = format!("{}, username = 'loader'", sftp_options(&server, "/", None));
    lanyard.ok(&format!("CREATE CONNECTION unpinned TYPE = sftp OPTIONS ({options}) CREDENTIAL = good"));
    let reason = lanyard.failed("unpinned");
    assert_eq!(
        reason,
        format!(
            r#"the host key of {address} is not verified: option "host_key_fingerprint" is not set; the server offered {} (compare it with `ssh-keygen -l` on the server, then set the option to it)"#,
            server.host_key_fingerprint()
        )
    );
    assert_eq!(server.attempts(), [], "no credential was sent to a server whose key was not verified");

    // Pinning the offered key makes it pass.
    lanyard.ok(&format!(
        "ALTER CONNECTION unpinned SET OPTION host_key_fingerprint = '{}'",
        server.host_key_fingerprint()
    ));
    lanyard.passed("unpinned");
    lanyard.assert_secrets_absent(&[&password]);
}

#[test]
fn test_credential_storage_local_passes_with_its_steps() {
    let lanyard = Lanyard::start();
    let run = lanyard.sql("TEST CREDENTIAL STORAGE local");
    assert_eq!(run.code, 0, "{run}");
    let result = run.last();
    assert_eq!(result["outcome"], "passed", "{run}");
    assert_eq!(result["columns"], serde_json::json!(["step", "status", "micros", "error"]), "{run}");
    let steps = result["rows"].as_array().unwrap_or_else(|| panic!("no steps\n{run}"));
    let names: Vec<&str> = steps.iter().map(|step| step["step"].as_str().unwrap_or_default()).collect();
    assert_eq!(names.len(), 4, "open, write, read back, delete: {names:?}");
    assert!(names[0].contains("master key"), "{names:?}");
    assert!(names[1].starts_with("write scratch profile backend::"), "{names:?}");
    assert!(names[2].starts_with("read backend::") && names[2].ends_with("back and compare"), "{names:?}");
    assert!(names[3].starts_with("delete scratch profile backend::"), "{names:?}");
    let scratch = names[1].trim_start_matches("write scratch profile ");
    assert!(names[2].contains(scratch) && names[3].contains(scratch), "one scratch profile throughout: {names:?}");
    for step in steps {
        assert_eq!(step["status"], "ok", "{step}");
        assert_eq!(step["error"], Value::Null, "{step}");
        assert!(step["micros"].as_i64().is_some_and(|micros| micros >= 0), "{step}");
    }

    // A missing storage is an error; IF EXISTS makes it a no-op.
    let run = lanyard.sql("TEST CREDENTIAL STORAGE nowhere");
    assert_eq!((run.code, run.last()["error"]["code"].as_str()), (EXIT_STATEMENT, Some("not_found")), "{run}");
    let run = lanyard.sql("TEST CREDENTIAL STORAGE IF EXISTS nowhere");
    assert_eq!((run.code, run.last()["outcome"].as_str()), (0, Some("skipped")), "{run}");
    lanyard.assert_secrets_absent(&[]);
}
