//! The `aws` backend (AWS Secrets Manager) end to end, against moto:
//!
//! - the DeltaForge seed's example: `CREATE CREDENTIAL STORAGE prod_aws_sm_eu TYPE = AWS …` on a private moto that
//!   checks IAM keys, an s3 connection `raw_data_s3` that fails unsigned, `ALTER CONNECTION raw_data_s3 SET CREDENTIAL
//!   STORAGE = prod_aws_sm_eu`, and TEST CONNECTION passing with the storage's identity; its secret key appears in no
//!   file of the data directory (the Control Plane stripped it into `backend::<id>`);
//! - rotation without ALTER: a PostgreSQL login (private scram-sha-256 cluster) linked as `name#password`; the password
//!   changes in the database and a new secret version is written straight into moto, and the next TEST passes with no
//!   statement in between, while `?version_stage=AWSPREVIOUS` still reads the old one, which the database refuses;
//! - faults: wrong keys are permission denied and not retried; a stopped moto is unavailable, within the deadline,
//!   and the reason names connection, credential, storage and kind.
//!
//! Every test ends with the canary check. Needs moto (`cargo xtask test` starts it and installs `moto_server` for
//! the private ones), PostgreSQL's server binaries, and a `lanyard` built with the `vault-aws` feature (`cargo xtask
//! test` builds with `--all-features`); each test fails saying what is missing.

use std::path::Path;
use std::time::{Duration, Instant};

use lanyard_testsupport::{
    MOTO_ACCESS_KEY_ID, MOTO_REGION, PrivateMoto, PrivatePostgres, Run, SqlCli, moto_create_secret,
    moto_put_secret_value, moto_url, unique_name,
};
use serde_json::Value;

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// `lanyard sql` exit code: every statement ran, but a TEST reported FAILED.
const EXIT_TEST_FAILED: i32 = 4;

/// A server at trace level and a CLI home; fails loudly when the binary has no `aws` backend.
fn start() -> SqlCli {
    let cli = SqlCli::start(Path::new(LANYARD), "cli-cloud-aws");
    let backends = cli.run(cli.command_with(&["backends"]), None);
    assert!(
        backends.stdout.contains("AWS (lanyard-vault-aws)"),
        "this lanyard binary was built without the `vault-aws` feature; run the suite with `cargo xtask test` \
         (which builds with --all-features):\n{}",
        backends.stdout
    );
    cli
}

trait CliExt {
    fn command_with(&self, args: &[&str]) -> std::process::Command;
    fn script(&self, sql: &str) -> Run;
    fn ok_script(&self, sql: &str) -> Vec<Value>;
    fn test_connection(&self, name: &str) -> (Run, Value);
}

impl CliExt for SqlCli {
    fn command_with(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.command();
        command.args(args);
        command
    }

    /// `lanyard sql --format json --continue-on-error -f -` with `sql` on standard input (secrets stay out of the
    /// process list).
    fn script(&self, sql: &str) -> Run {
        self.sql(&["--format", "json", "--continue-on-error", "-f", "-"], Some(sql))
    }

    /// A script whose every statement must succeed; its JSON lines.
    fn ok_script(&self, sql: &str) -> Vec<Value> {
        let run = self.script(sql);
        assert_eq!(run.code, 0, "{run:?}");
        run.json()
    }

    /// `TEST CONNECTION <name>`: the run and its one row.
    fn test_connection(&self, name: &str) -> (Run, Value) {
        let run = self.sql(&["--format", "json", &format!("TEST CONNECTION {name}")], None);
        let lines = run.json();
        assert_eq!(lines.len(), 1, "{run:?}");
        let row = lines[0]["rows"][0].clone();
        assert!(row.is_object(), "TEST CONNECTION returns one row: {run:?}");
        (run, row)
    }
}

fn passed(cli: &SqlCli, name: &str) {
    let (run, row) = cli.test_connection(name);
    assert_eq!(
        (run.code, row["result"].as_str(), &row["error"]),
        (0, Some("PASSED"), &Value::Null),
        "TEST CONNECTION {name} must pass: {run:?}\nthe server's log ends:\n{}",
        tail(&cli.server.log(), 40)
    );
}

/// `TEST CONNECTION <name>` that must fail as a result; its reason.
fn failed(cli: &SqlCli, name: &str) -> String {
    let (run, row) = cli.test_connection(name);
    assert_eq!((run.code, row["result"].as_str()), (EXIT_TEST_FAILED, Some("FAILED")), "{run:?}");
    row["error"].as_str().unwrap_or_else(|| panic!("a FAILED test says why: {run:?}")).to_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The value of one metric line `name{labels…} value` whose labels contain every one of `labels`.
fn metric(cli: &SqlCli, name: &str, labels: &[&str]) -> f64 {
    let url = format!("{}/metrics", cli.server.url());
    let token = cli.server.admin_token();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let text = runtime.block_on(async {
        let response = reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap();
        assert!(response.status().is_success(), "{response:?}");
        response.text().await.unwrap()
    });
    let values: Vec<f64> = text
        .lines()
        .filter(|line| line.starts_with(name) && labels.iter().all(|label| line.contains(label)))
        .map(|line| {
            let value = line.rsplit_once(' ').map(|(_, value)| value).unwrap_or_default();
            value.parse::<f64>().unwrap_or_else(|_| panic!("not a sample line: {line}"))
        })
        .collect();
    // A missing series would read as 0 and prove nothing.
    assert!(!values.is_empty(), "/metrics has no {name} series with {labels:?}");
    values.iter().sum()
}

/// The storage options for static keys against `url`.
fn storage_options(url: &str, key_id: &str, secret: &str) -> String {
    format!(
        "region = '{MOTO_REGION}', endpoint_url = '{url}', auth_method = 'access_key', access_key_id = '{key_id}', \
         secret_access_key = '{secret}'"
    )
}

#[test]
fn the_seed_example_lends_the_storages_identity_to_an_s3_connection() {
    let (moto, key) = PrivateMoto::with_iam_user();
    let bucket = unique_name("lanyard-raw-");
    moto.create_bucket(&bucket, &key);
    let cli = start();

    // Auth options that do not go together are refused when the storage is created, naming no value.
    let refused = cli.fails(&format!(
        "CREATE CREDENTIAL STORAGE prod_aws_sm_eu TYPE = AWS OPTIONS (access_key_id = '{}', secret_access_key = '{}')",
        key.id, key.secret
    ));
    assert!(refused.contains("set auth_method = 'access_key' to use them"), "{refused}");

    cli.ok_script(&format!(
        "CREATE CREDENTIAL STORAGE prod_aws_sm_eu TYPE = AWS DESCRIPTION 'Secrets Manager, eu' OPTIONS ({}, \
         secrets_manager_prefix = 'lanyard/eu/');",
        storage_options(moto.url(), &key.id, &key.secret)
    ));
    let probe = cli.ok("TEST CREDENTIAL STORAGE prod_aws_sm_eu");
    assert_eq!(probe["outcome"], "passed", "{probe}");
    let steps: Vec<&str> = probe["rows"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["get credentials (static access key)", "list one secret under prefix \"lanyard/eu/\""]);

    // Unsigned, moto (IAM checks on) refuses the listing.
    let options = format!("bucket = '{bucket}', region = '{MOTO_REGION}', endpoint = '{}'", moto.url());
    cli.ok(&format!("CREATE CONNECTION raw_data_s3 TYPE = s3 OPTIONS ({options})"));
    let reason = failed(&cli, "raw_data_s3");
    assert!(reason.contains("listing failed"), "{reason}");

    // The seed's statement: from now on the connection signs with the storage's identity.
    cli.ok("ALTER CONNECTION raw_data_s3 SET CREDENTIAL STORAGE = prod_aws_sm_eu");
    passed(&cli, "raw_data_s3");

    // The secret key is not in the row: DESCRIBE shows the storage without it, and no file holds it.
    let described = cli.describe("CREDENTIAL STORAGE", "prod_aws_sm_eu");
    let shown = serde_json::to_string(&described).unwrap();
    assert!(shown.contains(&key.id) || shown.contains("access_key_id"), "{shown}");
    assert!(!shown.contains(&key.secret), "{shown}");
    cli.assert_no_canary_anywhere(&[&key.secret]);
}

#[test]
fn a_rotated_postgresql_password_is_read_fresh_from_secrets_manager_with_no_alter() {
    let url = moto_url();
    let superuser = unique_name("canary-aws-pg-super-");
    let (old, new) = (unique_name("canary-aws-P1-"), unique_name("canary-aws-P2-"));
    let (secret_key, session_token) = (unique_name("canary-aws-sak-"), unique_name("canary-aws-tok-"));
    let pg = PrivatePostgres::start(&superuser);
    pg.create_user("app", &old);
    let name = unique_name("lanyard-t/e2e/pg-");
    let login = |password: &str| serde_json::json!({ "username": "app", "password": password }).to_string();
    moto_create_secret(&url, MOTO_REGION, &name, &login(&old));

    let cli = start();
    cli.ok_script(&format!(
        "CREATE CREDENTIAL STORAGE sm TYPE = AWS OPTIONS ({}, session_token = '{session_token}');
         CREATE CREDENTIAL pg_login TYPE = CREDENTIAL LINKED EXTERNAL SECRET '{name}#password' IN CREDENTIAL STORAGE sm;
         CREATE CREDENTIAL pg_login_before TYPE = CREDENTIAL
           LINKED EXTERNAL SECRET '{name}#password?version_stage=AWSPREVIOUS' IN CREDENTIAL STORAGE sm;
         CREATE CONNECTION prod_pg TYPE = postgresql
           OPTIONS (host = '{host}', port = '{port}', database = 'postgres', username = 'app') CREDENTIAL = pg_login;
         CREATE CONNECTION prod_pg_before TYPE = postgresql
           OPTIONS (host = '{host}', port = '{port}', database = 'postgres', username = 'app')
           CREDENTIAL = pg_login_before;",
        storage_options(&url, MOTO_ACCESS_KEY_ID, &secret_key),
        host = pg.host(),
        port = pg.port(),
    ));
    passed(&cli, "prod_pg");

    // Rotation in the database and in Secrets Manager only, never through Lanyard.
    pg.set_password("app", &new);
    moto_put_secret_value(&url, MOTO_REGION, &name, &login(&new));
    passed(&cli, "prod_pg");
    let refused = pg.try_connect("app", &old).expect_err("the old password must be refused");
    assert!(refused.contains("password authentication failed"), "{refused}");
    pg.try_connect("app", &new).expect("the new password works");
    // AWSPREVIOUS is the old password now, which the database refuses.
    let reason = failed(&cli, "prod_pg_before");
    assert!(reason.contains("password authentication failed"), "{reason}");

    cli.assert_no_canary_anywhere(&[&secret_key, &session_token, &old, &new, &superuser]);
}

#[test]
fn wrong_keys_are_denied_without_retries_and_a_stopped_moto_is_unavailable_within_the_deadline() {
    let (moto, key) = PrivateMoto::with_iam_user();
    let wrong_secret = unique_name("canary-aws-wrong-");
    let material = unique_name("canary-aws-material-");
    let cli = start();
    cli.ok_script(&format!(
        "CREATE CREDENTIAL STORAGE private_sm TYPE = AWS OPTIONS ({good}, timeout_ms = '2000');
         CREATE CREDENTIAL stored_login TYPE = CREDENTIAL SECRET '{material}' IN CREDENTIAL STORAGE private_sm;
         CREATE CONNECTION stored_pg TYPE = postgresql
           OPTIONS (host = '127.0.0.1', port = '9', database = 'postgres', username = 'app') CREDENTIAL = stored_login;
         CREATE CREDENTIAL STORAGE wrong_sm TYPE = AWS OPTIONS ({wrong});
         CREATE CREDENTIAL wrong_login TYPE = CREDENTIAL LINKED EXTERNAL SECRET 'prod/db#password'
           IN CREDENTIAL STORAGE wrong_sm;
         CREATE CONNECTION wrong_pg TYPE = postgresql
           OPTIONS (host = '127.0.0.1', port = '9', database = 'postgres', username = 'app') CREDENTIAL = wrong_login;",
        good = storage_options(moto.url(), &key.id, &key.secret),
        wrong = storage_options(moto.url(), &key.id, &wrong_secret),
    ));
    assert!(cli.ok("TEST CREDENTIAL STORAGE private_sm")["outcome"] == "passed");

    // Wrong keys: permission denied, permanent, so the resolver does not retry.
    let reason = failed(&cli, "wrong_pg");
    for part in ["wrong_pg", "wrong_login", "wrong_sm", "(aws)", "permission denied"] {
        assert!(reason.contains(part), "the reason names {part:?}: {reason}");
    }
    assert_eq!(metric(&cli, "lanyard_resolve_retries", &["backend=\"wrong_sm\""]), 0.0);
    assert_eq!(metric(&cli, "lanyard_resolve_backend_calls", &["backend=\"wrong_sm\""]), 1.0);
    let probe = cli.sql(&["--format", "json", "TEST CREDENTIAL STORAGE wrong_sm"], None);
    let probe = &probe.json()[0];
    assert_eq!(probe["outcome"], "failed", "{probe}");
    assert!(probe.to_string().contains("permission denied"), "{probe}");

    // The stored credential resolves (its material went to moto through the plugin); then moto stops.
    let reason = failed(&cli, "stored_pg");
    assert!(!reason.contains("aws"), "the resolve passed, the connect to port 9 failed: {reason}");
    drop(moto);
    let started = Instant::now();
    let reason = failed(&cli, "stored_pg");
    let elapsed = started.elapsed();
    for part in ["stored_pg", "stored_login", "private_sm", "(aws)", "unavailable"] {
        assert!(reason.contains(part), "the reason names {part:?}: {reason}");
    }
    assert!(elapsed < Duration::from_secs(15), "TEST CONNECTION's resolve deadline is 10 s, it took {elapsed:?}");

    cli.assert_no_canary_anywhere(&[&key.secret, &wrong_secret, &material]);
}
