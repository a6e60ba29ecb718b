//! The `azure` backend end to end: a real `lanyard serve` (trace logging) with the Azure Key Vault double of
//! `lanyard-testsupport` (HTTPS on 127.0.0.1, the challenge flow, Entra ID's token endpoint) and a private PostgreSQL
//! cluster with SCRAM logins, driven by the real `lanyard sql`.
//!
//! - **Rotation with no ALTER**: the login is a JSON secret written straight into the double and linked as
//!   `LINKED EXTERNAL SECRET 'name#password'`; the password is rotated in the database and as a new secret version in
//!   the double only; the next TEST CONNECTION passes with no statement in between, and the old password fails.
//! - **Throttling**: 429 with `Retry-After` from the double is honoured by the resolver's retry (the TEST passes once
//!   the throttle clears; the double counted the throttled attempts), and when it never clears the error names the
//!   connection, the entry, the storage and its kind.
//! - **Canary**: the client secret and the material are in nothing the CLI printed, not in the server's log at trace
//!   level, not in the audit log, not in any file of the data directory.
//!
//! The binary must be built with the `vault-azure` feature (`cargo nextest run -p lanyard-cli --features
//! vault-azure --test cloud`), and PostgreSQL's server binaries must be installed; otherwise the tests fail saying so.

use std::path::Path;
use std::time::Duration;

use lanyard_testsupport::{AzureKeyVault, PrivatePostgres, SqlCli, unique_name};
use serde_json::Value;

use crate::LANYARD;

/// A `lanyard serve` with an AZURE credential storage `kv` on a fresh double, and a PostgreSQL connection `prod_pg`
/// whose credential `pg_login` links the double's secret `pg-app-login#password`.
struct World {
    double: AzureKeyVault,
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

impl World {
    fn start() -> Self {
        let cli = SqlCli::start(Path::new(LANYARD), "cloud-azure-home");
        let backends = cli.run(
            {
                let mut command = cli.command();
                command.arg("backends");
                command
            },
            None,
        );
        assert!(
            backends.stdout.contains("AZURE (lanyard-vault-azure)"),
            "this lanyard binary has no azure backend: run these tests with `--features vault-azure` \
             (cargo nextest run -p lanyard-cli --features vault-azure --test cloud)\n{}",
            backends.stdout
        );
        let password = unique_name("canary-az-pg-1-");
        let pg = PrivatePostgres::start(&unique_name("canary-az-super-"));
        pg.create_user("app", &password);
        let double = AzureKeyVault::start();
        double.set_secret(SECRET, &login(&password));
        let world = Self { double, pg, cli, passwords: vec![password] };
        world
            .ok(&format!("CREATE CREDENTIAL STORAGE kv TYPE = AZURE OPTIONS ({})", world.double.storage_options_sql()));
        world.ok(&format!(
            "CREATE CREDENTIAL pg_login TYPE = CREDENTIAL LINKED EXTERNAL SECRET '{SECRET}#password' \
             IN CREDENTIAL STORAGE kv"
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

    /// `TEST CONNECTION prod_pg`: exit code, result and error.
    fn test(&self) -> (i32, String, Option<String>) {
        let run = self.cli.sql(&["--format", "json", "TEST CONNECTION prod_pg"], None);
        let lines = run.json();
        let row = &lines.last().unwrap_or_else(|| panic!("no JSON line\n{run:?}"))["rows"][0];
        let result = row["result"].as_str().unwrap_or_else(|| panic!("no result\n{run:?}")).to_owned();
        (run.code, result, row["error"].as_str().map(str::to_owned))
    }

    fn passes(&self, when: &str) {
        let (code, result, error) = self.test();
        assert_eq!(
            (code, result.as_str(), error.as_deref()),
            (0, "PASSED", None),
            "TEST CONNECTION prod_pg {when}\nthe server's log ends:\n{}",
            self.log_tail()
        );
    }

    /// Rotates the password in the database and, as a new version of the linked secret, in the double only.
    fn rotate(&mut self) -> String {
        let password = unique_name("canary-az-pg-next-");
        self.pg.set_password("app", &password);
        let version = self.double.set_secret(SECRET, &login(&password));
        self.passwords.push(password);
        version
    }

    fn log_tail(&self) -> String {
        let log = self.cli.server.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The canary: neither the client secret nor any password went anywhere.
    fn assert_no_secret_anywhere(&self) {
        let mut canaries: Vec<&str> = self.passwords.iter().map(String::as_str).collect();
        canaries.push(self.double.client_secret());
        self.cli.assert_no_canary_anywhere(&canaries);
    }
}

#[test]
fn a_key_vault_rotation_needs_no_alter() {
    let mut world = World::start();
    let probe = world.ok("TEST CREDENTIAL STORAGE kv");
    assert_eq!(probe["outcome"], "passed", "{probe}");
    let steps: Vec<&str> = probe["rows"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps.len(), 2, "token, then list one secret: {steps:?}");
    assert!(steps[0].contains("Entra ID token") && steps[1].starts_with("list one secret"), "{steps:?}");

    world.passes("with the first password");
    let gets = world.double.counters().gets;

    // The rotation happens in the database and in Key Vault only: no statement in between.
    let old = world.passwords[0].clone();
    let version = world.rotate();
    assert_eq!(world.double.versions(SECRET).last(), Some(&version));
    world.passes("right after the rotation, with no statement in between");
    assert_eq!(world.double.counters().gets, gets + 1, "the TEST read the secret fresh from the vault");

    let refused = world.pg.try_connect("app", &old).expect_err("the old password must be refused");
    assert!(refused.contains("password authentication failed"), "{refused}");
    world.pg.try_connect("app", world.passwords.last().unwrap()).expect("the new password works");

    // The storage's client secret is not in its catalog row: DESCRIBE shows no value for it.
    let described = world.ok("DESCRIBE CREDENTIAL STORAGE kv");
    assert!(!described.to_string().contains(world.double.client_secret()), "{described}");
    world.assert_no_secret_anywhere();
}

#[test]
fn throttling_is_retried_after_retry_after_and_explained_when_it_never_clears() {
    let world = World::start();
    world.passes("before any throttling");
    let before = world.double.counters();

    // Two 429s with Retry-After: 1, then an answer: the resolver waits and retries, and the TEST passes.
    world.double.throttle(2, Duration::from_secs(1));
    world.passes("while the vault throttles twice");
    let after = world.double.counters();
    assert_eq!(after.throttled, before.throttled + 2, "{after:?}");
    assert_eq!(after.gets, before.gets + 1, "one read got through after the throttle: {after:?}");
    let log = world.cli.server.log();
    let delays: Vec<u64> = log
        .lines()
        .filter(|line| line.contains("retrying a temporary backend failure"))
        .filter_map(|line| line.split("delay_ms=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert_eq!(delays.len(), 2, "two retries in the trace log: {}", world.log_tail());
    assert!(delays.iter().all(|ms| *ms >= 1000), "each retry waited at least Retry-After (1 s): {delays:?}");

    // A throttle that never clears: the TEST fails, and the error names connection, entry, storage and kind.
    world.double.throttle(u64::MAX, Duration::from_secs(1));
    let (code, result, error) = world.test();
    world.double.clear_faults();
    assert_eq!((code, result.as_str()), (4, "FAILED"), "{error:?}");
    let error = error.expect("a FAILED test says why");
    for part in [r#""prod_pg""#, r#""pg_login""#, r#""kv""#, "(azure)", "rate limited", "429 Throttled"] {
        assert!(error.contains(part), "the error must name {part}: {error}");
    }
    let throttled = world.double.counters().throttled - after.throttled;
    assert_eq!(throttled, 3, "three attempts, all throttled: {throttled}");

    world.passes("once the throttle cleared");
    world.assert_no_secret_anywhere();
}

#[test]
fn a_wrong_client_secret_fails_the_probe_without_showing_either_secret() {
    let world = World::start();
    let wrong = unique_name("canary-az-wrong-secret-");
    let options = world.double.storage_options_sql().replace(world.double.client_secret(), &wrong);
    world.ok(&format!("ALTER CREDENTIAL STORAGE kv SET OPTIONS ({options})"));
    let run = world.cli.sql(&["--format", "json", "TEST CREDENTIAL STORAGE kv"], None);
    let result = run.json().pop().expect("one JSON line");
    assert_eq!(result["outcome"], "failed", "{run:?}");
    let text = result.to_string();
    assert!(text.contains("permission denied") && text.contains("AADSTS7000215"), "{text}");
    let (code, outcome, error) = world.test();
    assert_eq!((code, outcome.as_str()), (4, "FAILED"), "{error:?}");
    assert!(error.unwrap_or_default().contains("permission denied"));
    let mut canaries: Vec<&str> = world.passwords.iter().map(String::as_str).collect();
    canaries.extend([world.double.client_secret(), wrong.as_str()]);
    world.cli.assert_no_canary_anywhere(&canaries);
}
