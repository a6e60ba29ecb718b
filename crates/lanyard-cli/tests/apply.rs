//! End to end: `lanyard apply` against a real `lanyard serve`. A file that matches the catalog plans "no changes" and
//! exits 0; an out-of-band ALTER is planned back, exactly, and applied; applying twice is a no-op; `--prune` drops
//! what the file does not name; a change made between the plan and the apply stops it, naming the connection, and
//! nothing is overwritten; a file that is not a desired state is refused before anything is read.

use std::path::Path;

use lanyard_testsupport::{Run, SqlCli, TempDir};

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// The desired state: two connections, one with a credential.
const DESIRED: &str = "
CREATE CREDENTIAL pg_login TYPE = CREDENTIAL SECRET '{\"username\":\"app\",\"password\":\"canary-apply-77\"}';
";

const CONNECTIONS: &str = "
-- Managed by lanyard apply.
CREATE CONNECTION warehouse TYPE = postgresql
  OPTIONS (host = 'db.internal', port = '5432', database = 'dw')
  CREDENTIAL = pg_login
  DESCRIPTION 'the warehouse'
  MAX_CONNECTIONS = 8;
CREATE CONNECTION events_api TYPE = rest OPTIONS (endpoint = 'http://127.0.0.1:9/');
";

/// `lanyard apply --server <url> -f <file> <args…>` with the admin token in `LANYARD_TOKEN`.
fn command(env: &SqlCli, file: &Path, args: &[&str]) -> std::process::Command {
    let mut command = env.command();
    command.arg("apply").arg("--server").arg(env.server.url()).arg("-f").arg(file).args(args);
    command.env("LANYARD_TOKEN", env.server.admin_token());
    command
}

fn apply(env: &SqlCli, file: &Path, args: &[&str]) -> Run {
    env.run(command(env, file, args), None)
}

#[test]
fn apply_plans_creates_alters_prunes_and_stops_on_a_concurrent_change() {
    let env = SqlCli::start(Path::new(LANYARD), "apply-home");
    let dir = TempDir::new("apply-files");
    let file = dir.path().join("connections.sql");
    std::fs::write(&file, CONNECTIONS).unwrap();
    env.ok(DESIRED.trim());

    // A first plan creates both; applying does; a second plan is empty and exits 0.
    let planned = apply(&env, &file, &["--plan"]);
    assert_eq!(planned.code, 5, "{planned:?}");
    assert_eq!(
        planned.stdout,
        "+ create connection \"warehouse\"\n+ create connection \"events_api\"\n2 to change; run without --plan to apply\n"
    );
    let applied = apply(&env, &file, &[]);
    assert_eq!(applied.code, 0, "{applied:?}");
    assert!(applied.stdout.ends_with("created connection \"events_api\"\n2 changed\n"), "{applied:?}");
    let warehouse = env.describe("CONNECTION", "warehouse");
    assert_eq!((warehouse["credential"].as_str(), warehouse["max_connections"].as_i64()), (Some("pg_login"), Some(8)));
    let again = apply(&env, &file, &["--plan"]);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "= connection \"warehouse\" unchanged\n= connection \"events_api\" unchanged\nno changes\n")
    );
    let twice = apply(&env, &file, &[]);
    assert_eq!((twice.code, twice.stdout.ends_with("no changes\n")), (0, true), "{twice:?}");

    // An out-of-band ALTER is planned back, exactly that, and applied.
    env.ok("ALTER CONNECTION warehouse SET OPTION host = 'elsewhere' UNSET CREDENTIAL SET TIMEOUT = 30");
    let drift = apply(&env, &file, &["--plan"]);
    assert_eq!(drift.code, 5, "{drift:?}");
    assert_eq!(
        drift.stdout.lines().next().unwrap(),
        "~ alter connection \"warehouse\" (version 2): options.host: \"elsewhere\" -> \"db.internal\"; \
         credential: (none) -> \"pg_login\"; timeout_seconds: 30 -> (none)"
    );
    assert_eq!(apply(&env, &file, &[]).code, 0);
    let back = env.describe("CONNECTION", "warehouse");
    assert_eq!(
        (back["options"].as_str(), back["credential"].as_str()),
        (warehouse["options"].as_str(), Some("pg_login"))
    );
    assert_eq!(back["version"], 3);
    assert_eq!(apply(&env, &file, &["--plan"]).code, 0);

    // --prune drops what the file does not name.
    env.ok("CREATE CONNECTION stray TYPE = rest OPTIONS (endpoint = 'http://127.0.0.1:9/')");
    let pruning = apply(&env, &file, &["--plan", "--prune"]);
    assert_eq!((pruning.code, pruning.stdout.lines().nth(2)), (5, Some("- drop connection \"stray\" (version 1)")));
    assert_eq!(apply(&env, &file, &["--plan"]).code, 0, "without --prune the stray one is left alone");
    assert_eq!(apply(&env, &file, &["--prune"]).code, 0);
    assert!(env.fails("DESCRIBE CONNECTION stray").contains("does not exist"));

    // A change between the plan and the apply stops it: nothing is overwritten.
    env.ok("ALTER CONNECTION events_api SET DESCRIPTION 'drifted'");
    let mut racing = command(&env, &file, &[]);
    racing.env("FAILPOINTS", "apply::after-plan=sleep(3000)").current_dir(env.home.path());
    let racing = std::thread::spawn(move || racing.output().expect("run lanyard apply"));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    env.ok("ALTER CONNECTION events_api SET DESCRIPTION 'changed meanwhile'");
    let output = racing.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("connection \"events_api\" changed since the plan (planned from version 2)"), "{stderr}");
    let events = env.describe("CONNECTION", "events_api");
    assert_eq!((events["description"].as_str(), events["version"].as_i64()), (Some("changed meanwhile"), Some(3)));

    // Not a desired state: refused before anything is read.
    std::fs::write(&file, "CREATE CONNECTION IF NOT EXISTS x TYPE = rest;").unwrap();
    let refused = apply(&env, &file, &["--plan"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("IF NOT EXISTS has no place in a desired state"), "{refused:?}");
    std::fs::write(&file, "DROP CONNECTION x;").unwrap();
    let refused = apply(&env, &file, &["--plan"]);
    assert!(refused.stderr.contains("takes CREATE CONNECTION statements only, not DROP CONNECTION"), "{refused:?}");
    env.assert_no_canary("canary-apply-77");
}
