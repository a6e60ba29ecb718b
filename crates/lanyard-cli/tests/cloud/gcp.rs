//! The `gcp` backend end to end: a real `lanyard serve` (trace logging) with the Secret Manager double of
//! `lanyard-testsupport` (its v1 REST API and the OAuth2 token endpoint its service account key names), a private
//! PostgreSQL cluster with SCRAM logins and gcp-storage-emulator, driven by the real `lanyard sql`.
//!
//! - **Rotation with no ALTER**: the login is a JSON secret added straight to the double and linked as
//!   `LINKED EXTERNAL SECRET 'name#password'`; the password is rotated in the database and as a new version in the
//!   double only; the next TEST CONNECTION passes with no statement in between, and the old password fails.
//! - **Throttling**: 429 RESOURCE_EXHAUSTED with a `RetryInfo` delay is honoured by the resolver's retry, and when it
//!   never clears the error names the connection, the entry, the storage and its kind.
//! - **A refused key** fails TEST CREDENTIAL STORAGE with the token endpoint's reason and shows no key.
//! - **Ambient identity**: a `gcs` connection that names the storage lists gcp-storage-emulator's bucket with the
//!   storage's service account key.
//! - **Canary**: the service account's private key and the passwords are in nothing the CLI printed, not in the
//!   server's log at trace level, not in the audit log, not in any file of the data directory.
//!
//! The binary must be built with the `vault-gcp` feature (the default build has it), PostgreSQL's server binaries
//! must be installed, and `cargo xtask test` must have started gcp-storage-emulator; otherwise the tests fail saying
//! so.

use std::path::Path;
use std::time::Duration;

use lanyard_testsupport::{GcpSecretManager, PrivatePostgres, SqlCli, unique_name};
use serde_json::Value;

use crate::LANYARD;

/// A `lanyard serve` with a GCP credential storage `gcp_sm` on a fresh double, and a PostgreSQL connection
/// `prod_pg` whose credential `pg_login` links the double's secret `pg-app-login#password`.
struct World {
    double: GcpSecretManager,
    pg: PrivatePostgres,
    cli: SqlCli,
    /// The passwords the database has had, for the canary.
    passwords: Vec<String>,
}

/// The linked secret's name in the double.
const SECRET: &str = "pg-app-login";

fn login(password: &str) -> String {
    serde_json::json!({ "username": "app", "password": password }).to_string()
}

/// The lines of the service account's private key (base64, 64 characters each): any of them in an output is a leak.
fn key_lines(double: &GcpSecretManager) -> Vec<String> {
    let key: Value = serde_json::from_str(double.service_account_json()).expect("the key file is JSON");
    let pem = key["private_key"].as_str().expect("the key file has a private key");
    let lines: Vec<String> =
        pem.lines().filter(|l| l.len() >= 60 && !l.starts_with("-----")).map(str::to_owned).collect();
    assert!(lines.len() > 10, "a 2048-bit key has more lines than {lines:?}");
    lines
}

impl World {
    fn start() -> Self {
        let cli = SqlCli::start(Path::new(LANYARD), "cloud-gcp-home");
        let backends = cli.run(
            {
                let mut command = cli.command();
                command.arg("backends");
                command
            },
            None,
        );
        assert!(
            backends.stdout.contains("GCP (lanyard-vault-gcp)"),
            "this lanyard binary has no gcp backend: run these tests with `--features vault-gcp` \
             (cargo nextest run -p lanyard-cli --features vault-gcp --test cloud)\n{}",
            backends.stdout
        );
        let password = unique_name("canary-gcp-pg-1-");
        let pg = PrivatePostgres::start(&unique_name("canary-gcp-super-"));
        pg.create_user("app", &password);
        let double = GcpSecretManager::start();
        double.add_version(SECRET, login(&password).as_bytes());
        let world = Self { double, pg, cli, passwords: vec![password] };
        world.ok(&format!(
            "CREATE CREDENTIAL STORAGE gcp_sm TYPE = GCP OPTIONS ({})",
            world.double.storage_options_sql()
        ));
        world.ok(&format!(
            "CREATE CREDENTIAL pg_login TYPE = CREDENTIAL LINKED EXTERNAL SECRET '{SECRET}#password' \
             IN CREDENTIAL STORAGE gcp_sm"
        ));
        world.ok(&format!(
            "CREATE CONNECTION prod_pg TYPE = postgresql OPTIONS (host = '{}', port = '{}', database = 'postgres', \
             username = 'app') CREDENTIAL = pg_login",
            world.pg.host(),
            world.pg.port()
        ));
        world
    }

    /// Runs one statement from standard input (secrets stay out of the process list); it must succeed.
    fn ok(&self, sql: &str) -> Value {
        let run = self.cli.sql(&["--format", "json", "-f", "-"], Some(sql));
        assert_eq!(run.code, 0, "the statement failed\n{run:?}\nthe server's log ends:\n{}", self.log_tail());
        run.json().pop().expect("one JSON line")
    }

    /// `TEST CONNECTION <name>`: exit code, result and error.
    fn test(&self, connection: &str) -> (i32, String, Option<String>) {
        let run = self.cli.sql(&["--format", "json", &format!("TEST CONNECTION {connection}")], None);
        let lines = run.json();
        let row = &lines.last().unwrap_or_else(|| panic!("no JSON line\n{run:?}"))["rows"][0];
        let result = row["result"].as_str().unwrap_or_else(|| panic!("no result\n{run:?}")).to_owned();
        (run.code, result, row["error"].as_str().map(str::to_owned))
    }

    fn passes(&self, connection: &str, when: &str) {
        let (code, result, error) = self.test(connection);
        assert_eq!(
            (code, result.as_str(), error.as_deref()),
            (0, "PASSED", None),
            "TEST CONNECTION {connection} {when}\nthe server's log ends:\n{}",
            self.log_tail()
        );
    }

    /// Rotates the password in the database and, as a new version of the linked secret, in the double only.
    fn rotate(&mut self) -> u64 {
        let password = unique_name("canary-gcp-pg-next-");
        self.pg.set_password("app", &password);
        let version = self.double.add_version(SECRET, login(&password).as_bytes());
        self.passwords.push(password);
        version
    }

    fn log_tail(&self) -> String {
        let log = self.cli.server.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The canary: neither the private key nor any password went anywhere.
    fn assert_no_secret_anywhere(&self, more: &[&str]) {
        let lines = key_lines(&self.double);
        let mut canaries: Vec<&str> = self.passwords.iter().map(String::as_str).collect();
        canaries.extend(lines.iter().map(String::as_str));
        canaries.extend(more);
        self.cli.assert_no_canary_anywhere(&canaries);
    }
}

#[test]
fn a_secret_manager_rotation_needs_no_alter() {
    let mut world = World::start();
    let probe = world.ok("TEST CREDENTIAL STORAGE gcp_sm");
    assert_eq!(probe["outcome"], "passed", "{probe}");
    let steps: Vec<&str> = probe["rows"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps.len(), 2, "token, then list one secret: {steps:?}");
    assert!(steps[0].starts_with("get an access token for service account"), "{steps:?}");
    assert!(steps[1].starts_with("list one secret of projects/"), "{steps:?}");

    world.passes("prod_pg", "with the first password");
    let accesses = world.double.counters().accesses;

    // The rotation happens in the database and in Secret Manager only: no statement in between.
    let old = world.passwords[0].clone();
    let version = world.rotate();
    assert_eq!(version, 2);
    world.passes("prod_pg", "right after the rotation, with no statement in between");
    assert_eq!(world.double.counters().accesses, accesses + 1, "the TEST read the secret fresh from Secret Manager");

    let refused = world.pg.try_connect("app", &old).expect_err("the old password must be refused");
    assert!(refused.contains("password authentication failed"), "{refused}");
    world.pg.try_connect("app", world.passwords.last().unwrap()).expect("the new password works");

    // An entry Lanyard stores itself lands as a secret of the double; the storage's key is not in its catalog row.
    world.ok("CREATE VAULT api_token TYPE = CREDENTIAL SECRET 'canary-gcp-stored-1' IN CREDENTIAL STORAGE gcp_sm");
    let stored: Vec<String> = world.double.names().into_iter().filter(|n| n.starts_with("vault--")).collect();
    assert_eq!(stored.len(), 1, "{:?}", world.double.names());
    assert_eq!(world.double.access(&stored[0], None).as_deref(), Some(&b"canary-gcp-stored-1"[..]));
    let described = world.ok("DESCRIBE CREDENTIAL STORAGE gcp_sm");
    for line in key_lines(&world.double) {
        assert!(!described.to_string().contains(&line), "{described}");
    }
    world.assert_no_secret_anywhere(&["canary-gcp-stored-1"]);
}

#[test]
fn throttling_is_retried_after_its_retry_info_and_explained_when_it_never_clears() {
    let world = World::start();
    world.passes("prod_pg", "before any throttling");
    let before = world.double.counters();

    // Two 429s with a RetryInfo of 1 s, then an answer: the resolver waits and retries, and the TEST passes.
    world.double.throttle(2, Duration::from_secs(1));
    world.passes("prod_pg", "while Secret Manager throttles twice");
    let after = world.double.counters();
    assert_eq!(after.throttled, before.throttled + 2, "{after:?}");
    assert_eq!(after.accesses, before.accesses + 1, "one read got through after the throttle: {after:?}");
    let log = world.cli.server.log();
    let delays: Vec<u64> = log
        .lines()
        .filter(|line| line.contains("retrying a temporary backend failure"))
        .filter_map(|line| line.split("delay_ms=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert_eq!(delays.len(), 2, "two retries in the trace log: {}", world.log_tail());
    assert!(delays.iter().all(|ms| *ms >= 1000), "each retry waited at least the RetryInfo delay (1 s): {delays:?}");

    // A throttle that never clears: the TEST fails, and the error names connection, entry, storage and kind.
    world.double.throttle(u64::MAX, Duration::from_secs(1));
    let (code, result, error) = world.test("prod_pg");
    world.double.clear_faults();
    assert_eq!((code, result.as_str()), (4, "FAILED"), "{error:?}");
    let error = error.expect("a FAILED test says why");
    for part in [r#""prod_pg""#, r#""pg_login""#, r#""gcp_sm""#, "(gcp)", "rate limited", "429 RESOURCE_EXHAUSTED"] {
        assert!(error.contains(part), "the error must name {part}: {error}");
    }
    let throttled = world.double.counters().throttled - after.throttled;
    assert_eq!(throttled, 3, "three attempts, all throttled: {throttled}");

    world.passes("prod_pg", "once the throttle cleared");
    world.assert_no_secret_anywhere(&[]);
}

#[test]
fn a_key_the_token_endpoint_refuses_fails_the_probe_without_showing_the_key() {
    let world = World::start();
    // The same key under another service account's name: its signature does not verify for that account.
    let intruder = unique_name("intruder-");
    let options =
        world.double.storage_options_sql().replace(world.double.client_email(), &format!("{intruder}@x.test"));
    world.ok(&format!("ALTER CREDENTIAL STORAGE gcp_sm SET OPTIONS ({options})"));
    let run = world.cli.sql(&["--format", "json", "TEST CREDENTIAL STORAGE gcp_sm"], None);
    let result = run.json().pop().expect("one JSON line");
    assert_eq!(result["outcome"], "failed", "{run:?}");
    let text = result.to_string();
    assert!(text.contains("permission denied") && text.contains("invalid_grant"), "{text}");
    assert!(text.contains(&intruder), "the refused identity is named: {text}");
    let (code, outcome, error) = world.test("prod_pg");
    assert_eq!((code, outcome.as_str()), (4, "FAILED"), "{error:?}");
    assert!(error.unwrap_or_default().contains("permission denied"));
    world.assert_no_secret_anywhere(&[]);
}

/// A `gcs` connection that names a GCP storage as its CREDENTIAL STORAGE signs with the storage's service account key
/// (lent as its ambient identity) and lists gcp-storage-emulator's bucket through the JSON API, at the key's
/// `gcs_base_url`. The connection cannot send the storage's token elsewhere: its own `endpoint` option is not used.
#[test]
fn a_gcs_connection_lists_its_bucket_with_the_storages_identity() {
    let world = World::start();
    let gcs = lanyard_testsupport::gcs_url();
    let bucket = unique_name("lanyard-gcp-ambient-");
    lanyard_testsupport::gcs_create_bucket(&gcs, &bucket);
    lanyard_testsupport::gcs_put_object(&gcs, &bucket, "landing/one.csv", b"a,b\n");
    // A storage whose key names the emulator as its GCS base URL (object_store's convention).
    let mut key: Value = serde_json::from_str(world.double.service_account_json()).unwrap();
    key["gcs_base_url"] = Value::String(gcs.clone());
    world.ok(&format!(
        "CREATE CREDENTIAL STORAGE lake_sm TYPE = GCP OPTIONS (project_id = '{}', endpoint = '{}', \
         service_account_json = '{}')",
        world.double.project_id(),
        world.double.url(),
        key.to_string().replace('\'', "''")
    ));
    world.ok(&format!(
        "CREATE CONNECTION lake TYPE = gcs OPTIONS (bucket = '{bucket}', path = 'landing') CREDENTIAL STORAGE = lake_sm"
    ));
    world.passes("lake", "with the storage's identity");

    world.ok(&format!(
        "CREATE CONNECTION nowhere TYPE = gcs OPTIONS (bucket = '{bucket}-missing') CREDENTIAL STORAGE = lake_sm"
    ));
    let (code, outcome, error) = world.test("nowhere");
    assert_eq!((code, outcome.as_str()), (4, "FAILED"), "{error:?}");
    assert!(error.unwrap_or_default().contains("listing failed"));

    // The connection's own `endpoint` does not redirect the storage's token: the key's base URL is used.
    world.ok(&format!(
        "CREATE CONNECTION elsewhere TYPE = gcs OPTIONS (bucket = '{bucket}', endpoint = 'http://127.0.0.1:9') \
         CREDENTIAL STORAGE = lake_sm"
    ));
    world.passes("elsewhere", "with the key's base URL, not the connection's endpoint");
    world.assert_no_secret_anywhere(&[]);
}
