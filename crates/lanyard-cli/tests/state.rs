//! State that does not surprise, through the real binary against a real `lanyard serve`: twelve `lanyard sql`
//! processes altering one connection at once all succeed (ALTER re-reads and re-sends on 412), TEST CONNECTION
//! running beside them changes no version (its result is bookkeeping beside the row, so it causes no 412 and an
//! ETag survives it), and a node whose master key does not match the catalog's fingerprint refuses to start —
//! with `LANYARD_MASTER_KEY` and with `<data-dir>/master.key` — while every step of a rolling rotation starts.
//! Also: an invalid `LANYARD_MASTER_KEY` refuses to start; a node joining a shared PostgreSQL catalog with another
//! key, or none, refuses; a missing key file is replaced only for a catalog without secrets; a catalog file that
//! is not a catalog (empty, truncated, random, another program's) is refused with `admin.token` untouched; and the
//! data directory and every file in it are private whatever the umask (others' access is taken away, with a
//! warning; a key file others could read is refused).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lanyard_testsupport::{LanyardServer, SqlCli, TempDir};
use lanyard_vault_local::MasterKey;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lanyard");

/// How many `lanyard sql` processes alter the connection at once.
const ALTERS: usize = 12;

/// The most TEST CONNECTION runs beside the ALTERs (the loop stops earlier once every ALTER is done).
const MAX_TESTS: usize = 100;

/// What a `lanyard sql` process needs to reach the server, owned so that threads can use it.
#[derive(Clone)]
struct Target {
    url: String,
    token: String,
    home: PathBuf,
}

impl Target {
    fn of(env: &SqlCli) -> Self {
        Self { url: env.server.url().to_owned(), token: env.server.admin_token(), home: env.home.path().to_owned() }
    }

    /// `lanyard sql --server <url> --format json <statement>`, started and not waited for.
    fn spawn(&self, statement: &str) -> Child {
        Command::new(BIN)
            .args(["sql", "--server", &self.url, "--format", "json", statement])
            .env("LANYARD_TOKEN", &self.token)
            .env("HOME", &self.home)
            .env("LANYARD_HISTORY", self.home.join("history"))
            .env_remove("LANYARD_SERVER")
            .env_remove("RUST_LOG")
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lanyard sql")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The connection's options (`k=v, k=v`) and version, as DESCRIBE shows them.
fn options_and_version(env: &SqlCli, name: &str) -> (BTreeMap<String, String>, i64) {
    let described = env.describe("CONNECTION", name);
    let options = described["options"]
        .as_str()
        .unwrap_or_else(|| panic!("options: {described:?}"))
        .split(", ")
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (options, described["version"].as_i64().unwrap_or_else(|| panic!("version: {described:?}")))
}

#[test]
fn twelve_concurrent_alters_through_the_cli_all_succeed_and_tests_beside_them_cause_no_412() {
    let env = SqlCli::start(Path::new(BIN), "state-alters");
    env.ok("CREATE CONNECTION shared TYPE = postgresql OPTIONS (host = '127.0.0.1', port = '5432', \
         database = 'postgres', username = 'postgres')");
    let target = Target::of(&env);

    // TEST CONNECTION in a loop until every ALTER is done.
    let done = Arc::new(AtomicBool::new(false));
    let tests = {
        let (target, done) = (target.clone(), done.clone());
        std::thread::spawn(move || {
            let mut outputs = Vec::new();
            while !done.load(Ordering::SeqCst) && outputs.len() < MAX_TESTS {
                outputs.push(target.spawn("TEST CONNECTION shared").wait_with_output().unwrap());
            }
            outputs
        })
    };

    // Twelve processes at once, each setting its own option of the same connection.
    let alters: Vec<Child> =
        (0..ALTERS).map(|i| target.spawn(&format!("ALTER CONNECTION shared SET OPTION k{i} = 'v{i}'"))).collect();
    let alters: Vec<Output> = alters.into_iter().map(|child| child.wait_with_output().unwrap()).collect();
    done.store(true, Ordering::SeqCst);
    let tests = tests.join().unwrap();

    for (i, output) in alters.iter().enumerate() {
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(0), "ALTER {i} failed:\n{stdout}{stderr}");
        let result: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        assert_eq!(result["outcome"], "ok", "{result}");
    }
    assert!(!tests.is_empty());
    for output in &tests {
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        // 0: PASSED, 4: FAILED (a result, not an error); either way the statement itself went through.
        assert!(matches!(output.status.code(), Some(0 | 4)), "TEST failed as a statement:\n{stdout}{stderr}");
        assert!(!stderr.contains("precondition") && !stderr.contains("If-Match"), "{stderr}");
    }

    // Every change is there, each exactly once: one version per ALTER, none for the TESTs.
    let (options, version) = options_and_version(&env, "shared");
    for i in 0..ALTERS {
        assert_eq!(options.get(&format!("k{i}")), Some(&format!("v{i}")), "{options:?}");
    }
    assert_eq!(version, 1 + ALTERS as i64, "the TESTs bumped no version");
    let audit = env.audit();
    let count = |action: &str| audit.iter().filter(|r| r["action"] == action && r["object_name"] == "shared").count();
    assert_eq!((count("connection.alter"), count("connection.test")), (ALTERS, tests.len()), "every TEST is audited");
}

#[test]
fn an_etag_survives_a_test_connection() {
    let env = SqlCli::start(Path::new(BIN), "state-etag");
    env.ok("CREATE CONNECTION probed TYPE = rest OPTIONS (endpoint = 'http://127.0.0.1:9/')");
    let url = format!("{}/connections/probed", env.server.url());
    let token = env.server.admin_token();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::new();
    let etag = |http: &reqwest::Client| {
        runtime.block_on(async {
            let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
            assert!(response.status().is_success(), "{response:?}");
            response.headers()["etag"].to_str().unwrap().to_owned()
        })
    };
    let before = etag(&http);
    let run = env.sql(&["TEST CONNECTION probed"], None);
    assert_eq!(run.code, 4, "the probe fails (nothing listens on port 9): {run:?}");
    assert_eq!(etag(&http), before, "TEST CONNECTION leaves the ETag alone");
    let described = env.describe("CONNECTION", "probed");
    assert_eq!(described["status"], "failed", "the result is still shown: {described:?}");

    // A client that read before the TEST writes over the same ETag without a 412.
    let status = runtime.block_on(async {
        let body = serde_json::json!({"actions": [{"set_option": {"key": "after_test", "value": "1"}}]});
        let response = http.put(&url).bearer_auth(&token).header("if-match", &before).json(&body).send().await.unwrap();
        response.status()
    });
    assert_eq!(status.as_u16(), 200);
}

// ---------------------------------------------------------------------------------------------------------
// The master key check at start

/// `lanyard serve` on `data` with these variables: listening, or its exit status and log.
fn serve(data: &Path, vars: &[(&str, &str)]) -> Result<LanyardServer, (ExitStatus, String)> {
    let mut builder = LanyardServer::builder(Path::new(BIN)).data_dir(data);
    for (key, value) in vars {
        builder = builder.env(key, value);
    }
    builder.try_start()
}

/// `lanyard serve` that must refuse to start: its log.
fn refused(data: &Path, vars: &[(&str, &str)]) -> String {
    match serve(data, vars) {
        Ok(server) => panic!("lanyard serve started with a key that does not match:\n{}", server.log()),
        Err((status, log)) => {
            assert!(!status.success(), "{status}\n{log}");
            log
        }
    }
}

fn base64(key: &MasterKey) -> String {
    key.expose_base64().expose_secret().to_owned()
}

/// Writes a key file as lanyard does (mode 0600).
fn write_key_file(path: &Path, key: &MasterKey) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).unwrap();
    writeln!(file, "{}", base64(key)).unwrap();
}

#[test]
fn a_node_with_the_wrong_master_key_in_the_environment_refuses_to_start() {
    let home = TempDir::new("state-key-env");
    let data = home.join("data");
    let (k1, k2) = (MasterKey::generate().unwrap(), MasterKey::generate().unwrap());
    let (b1, b2) = (base64(&k1), base64(&k2));
    let mut env = SqlCli::with_server(
        Path::new(BIN),
        "state-key-env-cli",
        serve(&data, &[("LANYARD_MASTER_KEY", &b1)]).expect("the first start records the key"),
    );
    env.ok("CREATE CREDENTIAL login TYPE = CREDENTIAL SECRET 'state-canary-secret'");
    assert!(env.server.stop().success());

    let log = refused(&data, &[("LANYARD_MASTER_KEY", &b2)]);
    let expected = format!(
        "error: refusing to start: the master key does not match this catalog: the catalog is keyed to master \
         key {id1}, but the master key read from LANYARD_MASTER_KEY is {id2}; set LANYARD_MASTER_KEY to the \
         key whose id is {id1} (or, while a rotation rolls out, list it in LANYARD_MASTER_KEY_PREVIOUS). Nothing \
         was read or written",
        id1 = k1.id(),
        id2 = k2.id()
    );
    assert!(log.contains(&expected), "{log}");
    assert_eq!(
        operations_md_refusals()[0].replace("e8d9c20e9fb07040", k1.id()).replace("4afddf25367cb7eb", k2.id()),
        expected
    );
    assert!(!log.contains(&b1) && !log.contains(&b2), "no key in the log");
    assert!(!log.contains("listening"), "{log}");

    // `sql --embedded` and `token` open the same catalog and refuse the same way.
    let data_arg = data.to_str().unwrap();
    for args in [
        &["sql", "--embedded", "--data-dir", data_arg, "SHOW CONNECTIONS"][..],
        &["token", "list", "--data-dir", data_arg][..],
    ] {
        let output = Command::new(BIN)
            .args(args)
            .env("LANYARD_MASTER_KEY", &b2)
            .env_remove("LANYARD_MASTER_KEY_PREVIOUS")
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        assert!(text(&output.stderr).contains("refusing to start: the master key does not match"), "{output:?}");
    }

    // A rolling rotation starts at every step: K2 listed as previous, then K2 current with K1 previous.
    let both = format!("{b2},{b1}");
    for vars in [
        [("LANYARD_MASTER_KEY", b1.as_str()), ("LANYARD_MASTER_KEY_PREVIOUS", b2.as_str())],
        [("LANYARD_MASTER_KEY", b2.as_str()), ("LANYARD_MASTER_KEY_PREVIOUS", both.as_str())],
    ] {
        let mut server = serve(&data, &vars).unwrap_or_else(|(_, log)| panic!("{vars:?} refused:\n{log}"));
        assert!(server.stop().success());
    }
    env.assert_no_canary("state-canary-secret");
}

#[test]
fn a_node_with_a_wrong_or_missing_master_key_file_refuses_to_start() {
    let home = TempDir::new("state-key-file");
    let data = home.join("data");
    let mut first = serve(&data, &[]).expect("the first start makes master.key and records it");
    assert!(first.stop().success());
    let path = data.join("master.key");
    let recorded = MasterKey::read_file(&path).unwrap();
    let saved = home.join("master.key.saved");
    std::fs::rename(&path, &saved).unwrap();

    let other = MasterKey::generate().unwrap();
    write_key_file(&path, &other);
    let log = refused(&data, &[]);
    let quoted = format!("{:?}", path.display().to_string());
    let expected = format!(
        "error: refusing to start: the master key does not match this catalog: the catalog is keyed to master \
         key {id1}, but the master key read from {quoted} is {id2}; put the key whose id is {id1} back in \
         {quoted} (from a backup of the data directory), or set LANYARD_MASTER_KEY to it. Nothing was read or \
         written",
        id1 = recorded.id(),
        id2 = other.id()
    );
    assert!(log.contains(&expected), "{log}");
    let documented = |line: &str| {
        line.replace("46440b652a107814", recorded.id())
            .replace("3813c8264d6a0dd8", other.id())
            .replace("\"d2/master.key\"", &quoted)
    };
    assert_eq!(documented(&operations_md_refusals()[1]), expected);

    std::fs::remove_file(&path).unwrap();
    let log = refused(&data, &[]);
    let expected = format!(
        "error: refusing to start: master key file {quoted} does not exist, but this catalog is keyed to master key \
         {id1}; a new key would not match it, so none was made: restore master.key from a backup of the data \
         directory, or set LANYARD_MASTER_KEY to the key whose id is {id1}",
        id1 = recorded.id()
    );
    assert!(log.contains(&expected), "{log}");
    assert_eq!(documented(&operations_md_refusals()[2]), expected);
    assert!(!path.exists(), "no new key was made");

    std::fs::rename(&saved, &path).unwrap();
    let mut restored = serve(&data, &[]).unwrap_or_else(|(_, log)| panic!("the right key refused:\n{log}"));
    assert!(restored.stop().success());
}

/// The `error:` lines of docs/operations.md's block of master-key refusals, which the two tests above produce (but
/// for the key ids and the key file's path, which the document writes as examples).
fn operations_md_refusals() -> Vec<String> {
    let manual = include_str!("../../../docs/operations.md");
    let blocks = lanyard_testsupport::fenced_blocks(manual);
    let block = blocks.iter().find(|b| b.info == "text" && b.text.contains("error: refusing to start"));
    let lines: Vec<String> = block
        .expect("operations.md shows the refusals")
        .text
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    lines
}

// ---------------------------------------------------------------------------------------------------------
// More master-key cases, catalog files that are not catalogs, file modes

/// `lanyard sql --embedded --data-dir <data> <statement>` with these variables: its output.
fn embedded(data: &Path, statement: &str, vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(["sql", "--embedded", "--data-dir", data.to_str().unwrap(), statement]);
    for key in ["LANYARD_MASTER_KEY", "LANYARD_MASTER_KEY_PREVIOUS", "LANYARD_ADMIN_TOKEN", "RUST_LOG"] {
        command.env_remove(key);
    }
    command.envs(vars.iter().copied()).env("HOME", data.parent().unwrap()).output().unwrap()
}

#[test]
fn an_invalid_master_key_in_the_environment_refuses_to_start_and_says_where_it_looked() {
    let home = TempDir::new("state-key-invalid");
    let data = home.join("data");
    let hint = "it must be 32 random bytes in base64, as `openssl rand -base64 32` prints them";
    let long = "A".repeat(48); // 36 zero bytes
    let cases = [
        ("not base64", "not*base64*at*all", "LANYARD_MASTER_KEY is not valid base64".to_owned()),
        ("too short", "c2hvcnQ=", "LANYARD_MASTER_KEY decodes to 5 bytes, but a master key is exactly 32 bytes".into()),
        (
            "too long",
            long.as_str(),
            "LANYARD_MASTER_KEY decodes to 36 bytes, but a master key is exactly 32 bytes".into(),
        ),
        ("empty", " ", "LANYARD_MASTER_KEY is empty".into()),
    ];
    for (case, value, problem) in cases {
        let log = refused(&data, &[("LANYARD_MASTER_KEY", value)]);
        let expected = format!("error: refusing to start: {problem}; {hint}");
        assert!(log.lines().any(|line| line == expected), "{case}: {log}");
        assert!(!log.contains(value.trim()) || value.trim().is_empty(), "{case}: the value reached the log");
    }
    // Nothing of the vault was made: no key file, no fingerprint (the next start with a good key records its own).
    assert!(!data.join("master.key").exists());
    let good = MasterKey::generate().unwrap();
    let mut server = serve(&data, &[("LANYARD_MASTER_KEY", &base64(&good))]).expect("a valid key starts");
    assert!(server.log().contains("recorded the fingerprint"), "{}", server.log());
    assert!(server.stop().success());
}

#[test]
fn a_node_joining_a_shared_postgres_catalog_with_another_key_or_none_refuses_to_start() {
    let db = lanyard_testsupport::TempDatabase::postgres("state_join");
    let home = TempDir::new("state-key-join");
    let (k1, k2) = (MasterKey::generate().unwrap(), MasterKey::generate().unwrap());
    let catalog = ["--catalog", db.url()];
    let node = |name: &str, vars: &[(&str, &str)]| {
        let mut builder = LanyardServer::builder(Path::new(BIN)).data_dir(&home.join(name)).args(&catalog);
        for (key, value) in vars {
            builder = builder.env(key, value);
        }
        builder.try_start()
    };
    let mut first = node("a", &[("LANYARD_MASTER_KEY", &base64(&k1))]).expect("the first node records its key");

    // Another key in the environment.
    let Err((status, log)) = node("b", &[("LANYARD_MASTER_KEY", &base64(&k2))]) else {
        panic!("a node with another key joined the catalog");
    };
    assert_eq!(status.code(), Some(2), "{log}");
    let expected = format!(
        "error: refusing to start: the master key does not match this catalog: the catalog is keyed to master key \
         {id1}, but the master key read from LANYARD_MASTER_KEY is {id2}; set LANYARD_MASTER_KEY to the key whose \
         id is {id1}",
        id1 = k1.id(),
        id2 = k2.id()
    );
    assert!(log.contains(&expected), "{log}");

    // No key at all: the new node's data directory has no master.key, and none is made for a keyed catalog.
    let Err((status, log)) = node("c", &[]) else { panic!("a node without the key joined the catalog") };
    assert_eq!(status.code(), Some(2), "{log}");
    let path = home.join("c").join("master.key");
    let expected = format!(
        "error: refusing to start: master key file {:?} does not exist, but this catalog is keyed to master key {}",
        path.display().to_string(),
        k1.id()
    );
    assert!(log.contains(&expected), "{log}");
    assert!(!path.exists(), "a key was made for a keyed catalog");

    // The right key joins.
    let mut second = node("d", &[("LANYARD_MASTER_KEY", &base64(&k1))]).expect("the same key joins");
    assert!(second.stop().success() && first.stop().success());
}

#[test]
fn a_missing_master_key_file_is_replaced_only_for_a_catalog_without_secrets() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = TempDir::new("state-key-new");
    let data = home.join("data");
    // A fresh catalog: the key file is made (0600) and its fingerprint recorded.
    let mut server = serve(&data, &[]).expect("a fresh start");
    assert!(server.stop().success());
    let path = data.join("master.key");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let key = MasterKey::read_file(&path).unwrap();
    let created = embedded(&data, "CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET 'state-new-key-secret'", &[]);
    assert!(created.status.success(), "{created:?}");

    // A catalog holding a secret, whose fingerprint was never recorded (a catalog from before fingerprints): the
    // key file gone, no new one is made.
    std::fs::remove_file(&path).unwrap();
    let db = data.join("catalog.db");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use sqlx::Connection as _;
        let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query("DELETE FROM local_master_key").execute(&mut connection).await.unwrap();
        connection.close().await.unwrap();
    });
    let log = refused(&data, &[]);
    let expected = format!(
        "error: refusing to start: master key file {:?} does not exist, but this catalog is keyed to master key {id} \
         and holds 1 secret encrypted under it; a new key would not match it, so none was made",
        path.display().to_string(),
        id = key.id()
    );
    assert!(log.contains(&expected), "{log}");
    assert!(!path.exists(), "a key was made over a secret");
}

/// The data of a `lanyard serve` whose data directory holds `catalog.db` with these bytes and an `admin.token`.
fn refused_catalog(bytes: &[u8]) -> (String, String) {
    let home = TempDir::new("state-bad-catalog");
    let data = home.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("catalog.db"), bytes).unwrap();
    let token = "lyd_the-token-of-the-lost-catalog-0123456789";
    std::fs::write(data.join("admin.token"), format!("{token}\n")).unwrap();
    // Modes start-up would narrow: the refusal comes first, so they stay as they were ("Nothing was … written").
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("admin.token"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let Err((status, log)) = serve(&data, &[]) else { panic!("lanyard serve took a file that is not a catalog") };
    assert_eq!(status.code(), Some(2), "{log}");
    assert_eq!((mode(&data), mode(&data.join("admin.token"))), (0o755, 0o644), "modes changed before the refusal");
    assert_eq!(std::fs::read(data.join("catalog.db")).unwrap(), bytes, "the catalog file changed");
    assert_eq!(std::fs::read_to_string(data.join("admin.token")).unwrap(), format!("{token}\n"), "admin.token");
    assert!(!data.join("master.key").exists(), "a master key was made");
    let line = log.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("{log}")).to_owned();
    (line, format!("{:?}", data.join("catalog.db").display().to_string()))
}

#[test]
fn a_catalog_file_that_is_not_a_catalog_is_refused_at_start_and_admin_token_kept() {
    // A real catalog, to truncate.
    let home = TempDir::new("state-real-catalog");
    let data = home.join("data");
    let mut server = serve(&data, &[]).expect("a fresh start");
    assert!(server.stop().success());
    let real = std::fs::read(data.join("catalog.db")).unwrap();
    let mut other = Vec::new();
    // Another program's SQLite database, made by sqlx like any other program would.
    {
        let path = home.join("other.db");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            use sqlx::Connection as _;
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
            let mut connection = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
            sqlx::raw_sql("CREATE TABLE moz_places (url TEXT)").execute(&mut connection).await.unwrap();
            connection.close().await.unwrap();
        });
        other.extend(std::fs::read(&path).unwrap());
    }
    let random: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let tail = "Nothing was read or written: restore the catalog from a backup, or move it away together with its -wal \
                and -shm files (where present) to start with a new, empty catalog";
    let cases: [(&str, Vec<u8>, String); 4] = [
        ("zero-length", Vec::new(), "it is empty (0 bytes)".to_owned()),
        (
            "truncated",
            real[..4096].to_vec(),
            format!(
                "it is truncated (4096 bytes, but its SQLite header says {} pages of 4096 bytes)",
                real.len() / 4096
            ),
        ),
        ("random bytes", random, "it is not a SQLite database (4096 bytes without the SQLite header)".to_owned()),
        (
            "another program's",
            other,
            "it is a SQLite database without Lanyard's tables, perhaps another program's (it holds \"moz_places\")"
                .to_owned(),
        ),
    ];
    for (case, bytes, problem) in cases {
        let (line, quoted) = refused_catalog(&bytes);
        assert_eq!(
            line,
            format!("error: refusing to start: catalog file {quoted} is not a Lanyard catalog: {problem}. {tail}"),
            "{case}"
        );
    }
}

/// A shell script that runs `lanyard` with umask 000, so every mode below is lanyard's own doing.
fn lanyard_with_umask_000(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("lanyard-umask-000");
    std::fs::write(&path, format!("#!/bin/sh\numask 000\nexec '{BIN}' \"$@\"\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[test]
fn the_data_dir_and_every_file_in_it_are_private_whatever_the_umask() {
    let home = TempDir::new("state-modes");
    let bin = lanyard_with_umask_000(home.path());
    let data = home.join("data");
    let server = LanyardServer::builder(&bin).data_dir(&data).start();
    // While it runs: the catalog's -wal and -shm exist (WAL mode), next to everything else.
    let env = SqlCli::with_server(Path::new(BIN), "state-modes-cli", server);
    env.ok("CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET 'state-mode-secret'");
    assert_eq!(mode(&data), 0o700);
    let names: Vec<String> =
        std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    for expected in ["catalog.db", "catalog.db-wal", "catalog.db-shm", "master.key", "admin.token", "node.id"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    for name in &names {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    drop(env);

    // A data directory the operator made beforehand, readable by others, with a catalog file others can read:
    // each is narrowed, with a warning naming it.
    use std::os::unix::fs::PermissionsExt as _;
    let set = |path: &Path, mode: u32| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    set(&data, 0o755);
    set(&data.join("catalog.db"), 0o644);
    set(&data.join("node.id"), 0o640);
    // An executable file keeps its owner's execute bit: only group and other bits go.
    std::fs::write(data.join("hook.sh"), "#!/bin/sh\n").unwrap();
    set(&data.join("hook.sh"), 0o755);
    // A symbolic link in the directory is not followed: its target keeps its mode, and a warning says so.
    let outside = home.join("outside.txt");
    std::fs::write(&outside, "not lanyard's\n").unwrap();
    set(&outside, 0o644);
    std::os::unix::fs::symlink(&outside, data.join("linked.txt")).unwrap();
    let mut server = LanyardServer::builder(&bin).data_dir(&data).start();
    let log = server.log();
    let link_warning = format!(
        "the data file {} is a symbolic link: not followed, its target's mode was not checked",
        data.join("linked.txt").display()
    );
    assert!(log.contains(&link_warning), "{link_warning}\n{log}");
    assert_eq!(mode(&outside), 0o644, "the link's target was changed");
    assert_eq!(mode(&data.join("hook.sh")), 0o700);
    for (what, path, from, to) in [
        ("the data directory", data.clone(), "0755", "0700"),
        ("the data file", data.join("catalog.db"), "0644", "0600"),
        ("the data file", data.join("node.id"), "0640", "0600"),
        ("the data file", data.join("hook.sh"), "0755", "0700"),
    ] {
        let expected = format!(
            "{what} {} had mode {from}: group or others could reach it; changed it to {to} (check who may have read \
             it)",
            path.display()
        );
        assert!(log.contains(&expected), "{expected}\n{log}");
    }
    assert_eq!((mode(&data), mode(&data.join("catalog.db")), mode(&data.join("node.id"))), (0o700, 0o600, 0o600));
    assert!(server.stop().success());

    // A data directory reached through a symbolic link: the directory's own mode is read (0700), not the link's
    // (always 0777), so no warning and nothing changed.
    std::fs::remove_file(data.join("linked.txt")).unwrap();
    let via_link = home.join("data-link");
    std::os::unix::fs::symlink(&data, &via_link).unwrap();
    let mut server = LanyardServer::builder(&bin).data_dir(&via_link).start();
    let log = server.log();
    assert!(!log.contains("had mode"), "{log}");
    assert_eq!(mode(&data), 0o700);
    assert!(server.stop().success());

    // A key file others could read is refused, not fixed: the key must be taken as seen.
    set(&data.join("master.key"), 0o644);
    let log = refused(&data, &[]);
    assert!(log.contains("has mode 0644, but it must be readable by its owner only (0600)"), "{log}");
    assert_eq!(mode(&data.join("master.key")), 0o644);
}
