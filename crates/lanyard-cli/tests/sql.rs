//! End to end: the real `lanyard sql` binary against a real `lanyard serve` process. Every example of the ALTER
//! CONNECTION seed with its documented effect; every DeltaForge-dialect statement form of sql.md, with IF EXISTS on
//! missing objects, IF NOT EXISTS on existing ones, and the error cases; the ways SQL comes in (inline, `-f`,
//! stdin, the shell, `--embedded`) and the exit codes; snapshots of tables, JSON, CSV and errors with carets; and
//! the canary: a distinctive secret used throughout is found in no output, no history line and no server log.

use std::path::Path;
use std::process::Command;

use lanyard_testsupport::{SqlCli, TempDir, transcript};
use serde_json::Value;

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// The seed document, byte-identical to `shared/seeds/` (checked by `cargo xtask tidy`).
const SEED: &str = include_str!("../../lanyard-sql/tests/seeds/deltaforge-alter-connection.txt");

/// The harness: a server started with `--log-level trace` and the CLI, everything it printed kept for the canary.
type Env = SqlCli;

/// A server and a CLI home of this test's own.
fn start() -> Env {
    SqlCli::start(Path::new(LANYARD), "cli-home")
}

/// The example statements of the seed, in order, each with its leading comment.
fn seed_examples() -> Vec<(String, String)> {
    let examples = &SEED[SEED.find("-- Change host and enable SSL").expect("the seed's examples")..];
    let mut out = Vec::new();
    let mut comment = String::new();
    let mut current = String::new();
    for line in examples.lines() {
        let line = line.trim();
        if let Some(text) = line.strip_prefix("--") {
            comment = text.trim().to_owned();
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.ends_with(';') {
            out.push((comment.clone(), std::mem::take(&mut current)));
        }
    }
    assert!(current.trim().is_empty(), "unterminated example: {current}");
    out
}

#[test]
fn the_seed_examples_have_their_documented_effect() {
    let env = start();
    let canary = "canary-seed-7f3a9c";
    let setup = format!(
        "CREATE CREDENTIAL prod_pg_password TYPE = CREDENTIAL SECRET '{{\"username\":\"app\",\"password\":\"{canary}-1\"}}';
         CREATE CREDENTIAL prod_pg_password_v2 TYPE = CREDENTIAL SECRET '{{\"username\":\"app\",\"password\":\"{canary}-2\"}}';
         CREATE CREDENTIAL STORAGE prod_aws_sm_eu TYPE = MEMORY DESCRIPTION 'stands in for AWS in this build';
         CREATE CONNECTION prod_pg TYPE = postgresql OPTIONS (host = 'old-db.example.com', port = '5432', database = 'app', sslmode = 'disable') CREDENTIAL = prod_pg_password;
         CREATE CONNECTION raw_data_s3 TYPE = s3 OPTIONS (bucket = 'raw-data', region = 'eu-west-1');
         CREATE CONNECTION old_name TYPE = rest OPTIONS (endpoint = 'http://127.0.0.1:9/');"
    );
    let run = env.sql(&[&setup], None);
    assert_eq!(run.code, 0, "{run:?}");

    let examples = seed_examples();
    assert_eq!(examples.len(), 5, "the seed has five examples: {examples:?}");
    let pg_id = env.describe("CONNECTION", "prod_pg")["id"].clone();
    let old_id = env.describe("CONNECTION", "old_name")["id"].clone();

    // 1. SET OPTIONS replaces the whole map: `sslmode` is gone, the four keys are there in written order.
    let (comment, sql) = &examples[0];
    assert!(comment.contains("replaces options map"), "{comment}");
    let before = env.describe("CONNECTION", "prod_pg")["version"].as_i64().unwrap();
    assert_eq!(env.ok(sql)["outcome"], "ok");
    let pg = env.describe("CONNECTION", "prod_pg");
    assert_eq!(pg["options"], "host=new-db.example.com, port=5432, database=app, ssl_enabled=true");
    assert_eq!(pg["version"].as_i64().unwrap(), before + 1);
    // ALTER never probes.
    assert_eq!(pg["status"], "untested");

    // 2. SET CREDENTIAL stores the entry (by id: the name shown is resolved from it).
    let (comment, sql) = &examples[1];
    assert!(comment.contains("rotated credential"), "{comment}");
    env.ok(sql);
    assert_eq!(env.describe("CONNECTION", "prod_pg")["credential"], "prod_pg_password_v2");

    // 3. SET CREDENTIAL STORAGE.
    let (comment, sql) = &examples[2];
    assert!(comment.contains("cloud-native auth backend"), "{comment}");
    env.ok(sql);
    assert_eq!(env.describe("CONNECTION", "raw_data_s3")["credential_storage"], "prod_aws_sm_eu");

    // 4. RENAME keeps the id; the old name is gone and its entity_ref follows the new name.
    let (comment, sql) = &examples[3];
    assert!(comment.contains("Rename"), "{comment}");
    env.ok(sql);
    let renamed = env.describe("CONNECTION", "new_name");
    assert_eq!(renamed["id"], old_id);
    assert_eq!(renamed["entity_ref"], "con::new_name");
    let missing = env.sql(&["DESCRIBE CONNECTION old_name"], None);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("connection \"old_name\" does not exist"), "{missing:?}");

    // 5. The chain applies in order, atomically, under IF EXISTS; run again it is a clean no-op.
    let (comment, sql) = &examples[4];
    assert!(comment.contains("Chain"), "{comment}");
    env.ok("ALTER CONNECTION prod_pg SET CREDENTIAL = prod_pg_password");
    let result = env.ok(sql);
    assert_eq!(result["outcome"], "ok");
    assert!(result["message"].as_str().unwrap().contains("3 actions"), "{result}");
    let v2 = env.describe("CONNECTION", "prod_pg_v2");
    assert_eq!(v2["id"], pg_id);
    assert_eq!(v2["credential"], "prod_pg_password_v2");
    assert_eq!(v2["options"], "host=new-db.example.com, port=5432, database=app, ssl_enabled=true");
    assert_eq!(v2["status"], "untested");
    let again = env.sql(&["--format", "json", sql], None);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()[0]["outcome"], "skipped");
    assert_eq!(again.json()[0]["message"], "connection \"prod_pg\" does not exist; nothing done");

    // The adapter's calls, as the seed describes: a GET then a PUT with If-Match, one audit record per ALTER.
    let audit = env.audit();
    let alters = audit.iter().filter(|r| r["action"] == "connection.alter").count();
    assert_eq!(alters, 6, "five examples and the reset in between: {audit:?}");
    env.assert_no_canary(canary);
}

#[test]
fn every_deltaforge_statement_form_runs_with_its_documented_outcome() {
    let env = start();
    let canary = "canary-forms-51d0e2";
    let script = format!(
        "
-- credential storages
CREATE CREDENTIAL STORAGE mem TYPE = MEMORY DESCRIPTION 'test store' OPTIONS (latency_ms = '0') ACTIVE;
CREATE CREDENTIAL STORAGE IF NOT EXISTS mem TYPE = MEMORY;
CREATE CREDENTIAL STORAGE mem TYPE = MEMORY;
CREATE CREDENTIAL STORAGE sleepy TYPE = MEMORY INACTIVE;
CREATE CREDENTIAL STORAGE keychain TYPE = OS_KEYCHAIN;
CREATE CREDENTIAL STORAGE cloud TYPE = GCP OPTIONS (project_id = 'p');
SHOW CREDENTIAL STORAGES;
SHOW CREDENTIAL STORAGES LIKE 'ME';
DESCRIBE CREDENTIAL STORAGE mem;
DESCRIBE CREDENTIAL STORAGE 'local';
DESCRIBE CREDENTIAL STORAGE IF EXISTS nowhere;
TEST CREDENTIAL STORAGE local;
TEST CREDENTIAL STORAGE IF EXISTS nowhere;
TEST CREDENTIAL STORAGE nowhere;
ALTER CREDENTIAL STORAGE mem SET DESCRIPTION 'renamed soon' SET OPTIONS (latency_ms = '1') INACTIVE ACTIVE RENAME TO mem2;
ALTER CREDENTIAL STORAGE IF EXISTS nowhere SET DESCRIPTION 'x';
ALTER CREDENTIAL STORAGE local RENAME TO elsewhere;
-- vault entries, both nouns
CREATE CREDENTIAL pg_login TYPE = CREDENTIAL SECRET '{canary}' DESCRIPTION 'app login' EXPIRES '2030-01-01';
CREATE CREDENTIAL IF NOT EXISTS pg_login TYPE = CREDENTIAL SECRET '{canary}-other';
CREATE CREDENTIAL pg_login TYPE = CREDENTIAL SECRET '{canary}';
CREATE VAULT data_key TYPE = ENCRYPTION_KEY ALGORITHM 'AES-256-GCM' KEY_SIZE 256 GENERATE IN CREDENTIAL STORAGE mem2;
CREATE VAULT linked TYPE = CREDENTIAL LINKED EXTERNAL SECRET 'team/db#password' IN CREDENTIAL STORAGE mem2;
CREATE VAULT asleep TYPE = CREDENTIAL SECRET '{canary}' IN CREDENTIAL STORAGE sleepy;
CREATE VAULT bad TYPE = CREDENTIAL GENERATE;
SHOW VAULTS;
SHOW CREDENTIALS LIKE 'LOG';
DESCRIBE VAULT data_key;
DESCRIBE CREDENTIAL IF EXISTS nothing;
DESCRIBE CREDENTIAL nothing;
ALTER VAULT data_key ROTATE SET DESCRIPTION 'rotated';
ALTER CREDENTIAL pg_login SET SECRET '{canary}-2' SET EXPIRES '2031-06-30T12:00:00Z';
ALTER CREDENTIAL pg_login ROTATE;
ALTER VAULT data_key SET SECRET '{canary}';
ALTER CREDENTIAL pg_login SET SECRET '***';
ALTER CREDENTIAL IF EXISTS nothing ROTATE;
ALTER CREDENTIAL linked RENAME TO linked2;
-- connections
CREATE CONNECTION prod_pg TYPE = postgresql DESCRIPTION 'main' OPTIONS (host = 'db.example.com', port = '5432') CREDENTIAL = pg_login MAX_CONNECTIONS = 10 TIMEOUT = 30;
CREATE CONNECTION IF NOT EXISTS prod_pg TYPE postgresql OPTIONS ();
CREATE CONNECTION prod_pg TYPE = postgresql OPTIONS ();
CREATE CONNECTION lake TYPE = s3 OPTIONS (bucket = 'b') CREDENTIAL STORAGE = mem2;
CREATE CONNECTION stream TYPE = kafka OPTIONS ();
CREATE CONNECTION weird TYPE = carrier_pigeon OPTIONS ();
CREATE CONNECTION leaky TYPE = postgresql OPTIONS (password = '{canary}');
CREATE CONNECTION dangling TYPE = postgresql OPTIONS () CREDENTIAL = nothing;
SHOW CONNECTIONS;
SHOW CONNECTIONS LIKE 'PROD';
DESCRIBE CONNECTION IF EXISTS nothing;
ALTER CONNECTION prod_pg SET OPTION sslmode = 'require' UNSET OPTION port SET DESCRIPTION 'primary' SET MAX_CONNECTIONS = 20 SET TIMEOUT = 5;
ALTER CONNECTION prod_pg UNSET OPTION port;
ALTER CONNECTION prod_pg UNSET CREDENTIAL SET CREDENTIAL STORAGE = mem2 UNSET CREDENTIAL STORAGE SET CREDENTIAL = pg_login;
ALTER CONNECTION prod_pg RENAME TO lake;
ALTER CONNECTION IF EXISTS nothing RENAME TO something;
ALTER CONNECTION nothing RENAME TO something;
TEST CONNECTION stream;
TEST CONNECTION nothing;
-- drops
DROP CREDENTIAL pg_login;
DROP CREDENTIAL STORAGE mem2;
DROP CREDENTIAL STORAGE local;
DROP CONNECTION prod_pg;
DROP CONNECTION IF EXISTS prod_pg;
DROP CONNECTION prod_pg;
DROP CREDENTIAL pg_login;
DROP VAULT IF EXISTS pg_login;
DROP VAULT data_key;
DROP VAULT linked2;
DROP CONNECTION lake;
DROP CREDENTIAL STORAGE mem2;
DROP CREDENTIAL STORAGE IF EXISTS mem2;
SHOW CONNECTIONS;
"
    );
    let (run, lines) = env.json(&script);
    assert_eq!(run.code, 1, "statement errors make exit code 1:\n{}", run.stderr);
    // Every statement ran (continue-on-error) and reported on its own line.
    let statements = script.lines().filter(|l| l.ends_with(';')).count();
    assert_eq!(lines.len(), statements, "{}", transcript(&lines));
    let transcript = transcript(&lines).lines().map(mask_volatile).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!("every_form", transcript);

    // Effects the transcript cannot show.
    let rows = |v: &Value| v["rows"].as_array().unwrap().clone();
    let at = |prefix: &str| {
        lines
            .iter()
            .find(|l| l["statement"].as_str().is_some_and(|s| s.starts_with(prefix)))
            .unwrap_or_else(|| panic!("{prefix}"))
    };
    let show_storages = rows(at("SHOW CREDENTIAL STORAGES"));
    assert!(show_storages.iter().any(|r| r["name"] == "local" && r["builtin"] == true));
    let step_rows = rows(at("TEST CREDENTIAL STORAGE local"));
    assert!(step_rows.len() >= 3 && step_rows.iter().all(|r| r["status"] == "ok"), "{step_rows:?}");
    let described = rows(at("DESCRIBE VAULT data_key"));
    let prop = |rows: &[Value], p: &str| rows.iter().find(|r| r["property"] == p).unwrap()["value"].clone();
    assert_eq!(prop(&described, "key_size"), 256);
    assert_eq!(prop(&described, "storage"), "mem2");
    assert_eq!(prop(&described, "algorithm"), "AES-256-GCM");
    env.assert_no_canary(canary);
}

/// Replaces what changes from run to run (timestamps, ids, scratch profile names, latencies) with placeholders.
fn mask_volatile(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..].iter().take(36).collect();
        if rest.len() == 36 && is_uuid(&rest) {
            out.push_str("<uuid>");
            i += 36;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    // `in N ms` latencies.
    if let Some(at) = out.find(" in ")
        && out[at + 4..].ends_with(" ms")
        && out[at + 4..out.len() - 3].chars().all(|c| c.is_ascii_digit())
    {
        out.replace_range(at + 4..out.len() - 3, "N");
    }
    out
}

fn is_uuid(s: &str) -> bool {
    s.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// Replaces the values of `DESCRIBE`'s volatile properties (ids, timestamps) in `text` by placeholders.
fn mask_described(env: &Env, what: &str, name: &str, text: &str) -> String {
    let described = env.describe(what, name);
    let mut text = text.to_owned();
    for key in ["id", "created_at", "updated_at", "rotated_at", "last_tested_at"] {
        if let Some(value) = described.get(key).and_then(Value::as_str) {
            // Same width, so the table stays aligned.
            let placeholder = format!("<{key}>");
            text = text.replace(value, &format!("{placeholder:<width$}", width = value.chars().count()));
        }
    }
    text
}

#[test]
fn tables_json_csv_and_errors_with_carets_look_like_this() {
    let env = start();
    let setup = "CREATE CREDENTIAL pg_login TYPE = CREDENTIAL SECRET 'canary-snap-0b1c' DESCRIPTION 'app login';
        CREATE CONNECTION prod_pg TYPE = postgresql DESCRIPTION 'orders, \"main\"' OPTIONS (host = 'db.example.com', port = '5432', database = 'app') CREDENTIAL = pg_login TIMEOUT = 10;
        CREATE CONNECTION lake TYPE = local OPTIONS (path = '/nonexistent/lake');";
    assert_eq!(env.sql(&[setup], None).code, 0);

    let table = env.sql(&["SHOW CONNECTIONS; DESCRIBE CONNECTION prod_pg"], None);
    assert_eq!(table.code, 0, "{table:?}");
    insta::assert_snapshot!("table", mask_described(&env, "CONNECTION", "prod_pg", &table.stdout));

    let json = env.sql(&["--format", "json", "SHOW CONNECTIONS LIKE 'prod'; DROP CONNECTION IF EXISTS nothing"], None);
    assert_eq!(json.code, 0, "{json:?}");
    insta::assert_snapshot!("json", json.stdout);

    let csv = env.sql(&["--format", "csv", "SHOW CONNECTIONS"], None);
    assert_eq!(csv.code, 0, "{csv:?}");
    insta::assert_snapshot!("csv", format!("--- stdout\n{}--- stderr\n{}", csv.stdout, csv.stderr));

    // A script file whose third statement names a missing entry: the report points at the name, in the file.
    let script = env.home.join("change.sql");
    std::fs::write(
        &script,
        "-- move prod_pg to its new login\nSHOW CONNECTIONS;\nALTER CONNECTION prod_pg\n  SET CREDENTIAL = pg_login_v2\n  RENAME TO prod;\nDROP CONNECTION lake;\n",
    )
    .unwrap();
    let failed = env.sql(&["-f", script.to_str().unwrap()], None);
    assert_eq!(failed.code, 1, "{failed:?}");
    let stderr = failed.stderr.replace(script.to_str().unwrap(), "change.sql");
    insta::assert_snapshot!("script_error", stderr);
    // It stopped there: `lake` still exists, and prod_pg is unchanged.
    assert_eq!(env.describe("CONNECTION", "lake")["name"], "lake");
    assert_eq!(env.describe("CONNECTION", "prod_pg")["credential"], "pg_login");

    // A syntax error: nothing of the script runs, and the caret points into the source.
    let syntax = env.sql(&["DROP CONNECTION lake;\nALTER CONNECTION prod_pg SET CREDENTIAL = ;\n"], None);
    assert_eq!(syntax.code, 1, "{syntax:?}");
    insta::assert_snapshot!("syntax_error", syntax.stderr);
    assert_eq!(env.describe("CONNECTION", "lake")["name"], "lake");

    // A failed TEST prints its row and exits 4.
    let test = env.sql(&["TEST CONNECTION lake"], None);
    assert_eq!(test.code, 4, "{test:?}");
    assert!(test.stdout.contains("| FAILED "), "{test:?}");
    env.assert_no_canary("canary-snap-0b1c");
}

/// Issue 16, "messages that help" (before → after): a server error for action 2 of an ALTER underlines action 2 and
/// its JSON line carries action 2's line and column (before: the object's name, and the statement's start); after a
/// syntax error only secret literals read `'***'` (before: every literal, even a LIKE pattern); a misspelt statement
/// keyword gets "did you mean" (before: "is plain SQL").
#[test]
fn errors_point_at_the_failing_action_and_hide_only_secrets() {
    let env = start();
    let setup = "CREATE CREDENTIAL pg_login TYPE = CREDENTIAL SECRET 'canary-msg-7e2d';
        CREATE CONNECTION prod_pg TYPE = postgresql OPTIONS (host = 'db.example.com') CREDENTIAL = pg_login;";
    assert_eq!(env.sql(&[setup], None).code, 0);

    let script =
        "SHOW CONNECTIONS;\nALTER CONNECTION prod_pg\n  SET DESCRIPTION 'orders'\n  SET CREDENTIAL = pg_login_v2;\n";
    let failed = env.sql(&[script], None);
    assert_eq!(failed.code, 1, "{failed:?}");
    insta::assert_snapshot!("action_error", failed.stderr);
    let json = env.sql(&["--format", "json", script], None);
    let line: Value = serde_json::from_str(json.stdout.lines().last().expect("an error line")).unwrap();
    assert_eq!((line["line"].as_u64(), line["column"].as_u64()), (Some(4), Some(3)), "{line}");
    assert_eq!(line["error"]["code"], "not_found", "{line}");

    let broken = "SHOW CONNECTIONS LIKE 'prod%' oops;\n\
                  CREATE CREDENTIAL pg_v2 TYPE = CREDENTIAL SECRET 'canary-msg-7e2d' DESCRIPTION 'v2' oops;\n\
                  SHOW CONECTIONS;";
    let syntax = env.sql(&["--continue-on-error", broken], None);
    assert_eq!(syntax.code, 1, "{syntax:?}");
    insta::assert_snapshot!("redacted_syntax_errors", syntax.stderr);
    let json = env.sql(&["--format", "json", broken], None);
    let hint: Vec<Value> =
        json.stdout.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["error"]["hint"].clone()).collect();
    assert_eq!(hint.last(), Some(&Value::from("Did you mean SHOW CONNECTIONS?")), "{json:?}");
    env.assert_no_canary("canary-msg-7e2d");
}

#[test]
fn sql_comes_inline_from_files_stdin_and_the_shell_with_reliable_exit_codes() {
    let env = start();
    let canary = "canary-modes-93e1d4";

    // Standard input (piped), and `-f -`.
    let piped = env.sql(&[], Some(&format!("CREATE CREDENTIAL c1 TYPE = CREDENTIAL SECRET '{canary}';\nSHOW VAULTS;")));
    assert_eq!(piped.code, 0, "{piped:?}");
    assert!(piped.stdout.contains("| c1 "), "{piped:?}");
    let dash = env.sql(&["-f", "-", "--format", "csv", "--quiet"], Some("SHOW VAULTS"));
    assert_eq!(dash.code, 0, "{dash:?}");
    assert!(dash.stdout.starts_with("name,type,algorithm,storage"), "{dash:?}");

    // --continue-on-error runs the rest and still exits 1.
    let go_on = env.sql(
        &["--continue-on-error", "DROP CONNECTION nothing; CREATE CONNECTION after TYPE = kafka OPTIONS ()"],
        None,
    );
    assert_eq!(go_on.code, 1, "{go_on:?}");
    assert!(go_on.stdout.contains("connection \"after\" created"), "{go_on:?}");
    assert!(go_on.stderr.contains("1 of 2 statements failed"), "{go_on:?}");

    // Exit codes: 2 for a bad command line, 3 for an unreachable server or a refused token.
    let usage = env.sql(&["--format", "yaml", "SHOW VAULTS"], None);
    assert_eq!(usage.code, 2, "{usage:?}");
    let mut refused = Command::new(LANYARD);
    refused.args(["sql", "--server", env.server.url(), "--token", "lyd_not_a_token", "SHOW VAULTS"]);
    let refused = env.run(refused, None);
    assert_eq!(refused.code, 3, "{refused:?}");
    assert!(refused.stderr.contains("hint: pass --token"), "{refused:?}");
    let port = lanyard_testsupport::free_port();
    let mut unreachable = Command::new(LANYARD);
    unreachable.args(["sql", "--server", &format!("http://127.0.0.1:{port}"), "--token", "x", "SHOW VAULTS"]);
    let unreachable = env.run(unreachable, None);
    assert_eq!(unreachable.code, 3, "{unreachable:?}");
    assert!(unreachable.stderr.contains("cannot reach the Lanyard server"), "{unreachable:?}");
    // A statement the server refuses is a statement error (exit 1) naming the reason.
    let pipelines = env.sql(&["SHOW PIPELINES ON nowhere"], None);
    assert_eq!(pipelines.code, 1, "{pipelines:?}");
    assert!(pipelines.stderr.contains("database \"nowhere\" does not exist"), "{pipelines:?}");

    // `\G` prints vertically inline, from a file and from stdin; `\g` and `;` print tables; JSON and CSV keep their
    // one shape.
    let vertical = env.sql(&["SHOW VAULTS \\G"], None);
    assert_eq!(vertical.code, 0, "{vertical:?}");
    let stars = "*".repeat(27);
    assert_eq!(
        vertical.stdout,
        format!(
            "{stars} 1. row {stars}\n           name: c1\n           type: CREDENTIAL\n      algorithm: NULL\n        \
             storage: local\ncurrent_version: 1\n     expires_at: NULL\n     rotated_at: NULL\n1 vault entry\n\n"
        ),
        "{vertical:?}"
    );
    let script = env.home.join("vertical.sql");
    std::fs::write(&script, "SHOW VAULTS\\G\nSHOW VAULTS\\g\nSHOW VAULTS;\n").unwrap();
    for run in [
        env.sql(&["-f", script.to_str().unwrap()], None),
        env.sql(&[], Some("SHOW VAULTS\\G\nSHOW VAULTS\\g\nSHOW VAULTS;\n")),
    ] {
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.stdout.matches(" 1. row ").count(), 1, "{run:?}");
        assert_eq!(run.stdout.matches("| name ").count(), 2, "{run:?}");
    }
    for format in ["json", "csv"] {
        let with = env.sql(&["--format", format, "SHOW VAULTS \\G"], None);
        let without = env.sql(&["--format", format, "SHOW VAULTS"], None);
        assert_eq!((with.code, &with.stdout), (0, &without.stdout), "{format}: {with:?}");
    }

    // The shell: multi-line statements, `\G`, help, and a history file (mode 0600) that holds no secret.
    let input = format!(
        "help\nCREATE CREDENTIAL c2\n  TYPE = CREDENTIAL\n  SECRET '{canary}-2';\nALTER CREDENTIAL c2 SET SECRET '{canary}-3' oops;\nSHOW VAULTS;\nDESCRIBE CREDENTIAL c2\n\\G\nquit\n"
    );
    let shell = env.sql(&["--interactive"], Some(&input));
    assert_eq!(shell.code, 0, "{shell:?}");
    assert!(shell.stdout.contains("Statements end with `;`"), "help: {shell:?}");
    assert!(shell.stdout.contains("vault entry \"c2\" created"), "{shell:?}");
    assert!(shell.stdout.contains(&format!("{stars} 1. row {stars}\nproperty: id\n   value: ")), "{shell:?}");
    assert!(shell.stderr.contains("error: expected"), "the syntax error is reported: {shell:?}");
    let history = std::fs::read_to_string(env.history()).unwrap();
    assert!(history.contains("CREATE CREDENTIAL c2 TYPE = CREDENTIAL SECRET '***';"), "{history}");
    assert!(history.contains("ALTER CREDENTIAL c2 SET SECRET '***' oops;"), "{history}");
    // rustyline's history file escapes `\` as `\\`.
    assert!(history.contains(r"DESCRIBE CREDENTIAL c2 \\G"), "{history}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.history()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "history file mode");
    }
    // Recalling a redacted line is refused, not stored as the secret '***'.
    let recalled = env.sql(&["ALTER CREDENTIAL c2 SET SECRET '***'"], None);
    assert_eq!(recalled.code, 1, "{recalled:?}");
    assert!(recalled.stderr.contains("that is a redaction"), "{recalled:?}");
    env.assert_no_canary(canary);
}

#[test]
fn embedded_mode_needs_no_server_and_keeps_its_data() {
    let env = start();
    let data = TempDir::new("embedded");
    let run = |sql: &str| {
        let mut command = Command::new(LANYARD);
        command.args(["sql", "--embedded", "--data-dir"]).arg(data.join("data")).args(["--format", "json", sql]);
        command.env_remove("LANYARD_TOKEN").env_remove("LANYARD_ADMIN_TOKEN");
        env.run(command, None)
    };
    let first = run(
        "CREATE CREDENTIAL k TYPE = CREDENTIAL SECRET 'canary-embed-44'; CREATE CONNECTION here TYPE = local OPTIONS (path = '/') CREDENTIAL = k; TEST CONNECTION here",
    );
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(first.json()[2]["outcome"], "passed", "{first:?}");
    let second = run("SHOW CONNECTIONS");
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(second.json()[0]["rows"][0]["name"], "here");
    assert_eq!(second.json()[0]["rows"][0]["status"], "ok");
    // The data directory is a normal one: a server started on it sees the same catalog.
    let admin = std::fs::read_to_string(data.join("data").join("admin.token")).unwrap();
    assert!(admin.starts_with("lyd_"));
    env.assert_no_canary("canary-embed-44");
}

/// `docs/quickstart.sql`, as the README tells a newcomer to use it.
const QUICKSTART: &str = include_str!("../../../docs/quickstart.sql");

/// The quick start, run as written against a private PostgreSQL cluster with password logins (scram-sha-256): the
/// SQL goes through `lanyard sql` piece by piece, the `-- $ psql … -c "…"` lines run on the cluster where they
/// appear. Only the port is changed, to the private cluster's.
#[test]
fn the_quickstart_works_as_written() {
    let env = start();
    let postgres = lanyard_testsupport::PrivatePostgres::start("quickstart-superuser");
    let mut outcomes = Vec::new();
    let mut pending = String::new();
    let flush = |pending: &mut String, outcomes: &mut Vec<String>| {
        if pending.trim().is_empty() {
            return;
        }
        let sql = pending.replace("port = '5432'", &format!("port = '{}'", postgres.port()));
        let run = env.sql(&["--format", "json", &sql], None);
        assert!(run.code == 0 || run.code == 4, "{sql}\n{run:?}");
        outcomes.extend(run.json().iter().map(|l| format!("{} {}", l["outcome"].as_str().unwrap(), l["statement"])));
        pending.clear();
    };
    for line in QUICKSTART.lines() {
        if let Some(command) = line.strip_prefix("-- $ ") {
            flush(&mut pending, &mut outcomes);
            let sql = command.split_once(" -c \"").map(|(_, rest)| rest.trim_end_matches('"')).expect("-c \"…\"");
            postgres.execute_as_superuser(sql);
        } else {
            pending.push_str(line);
            pending.push('\n');
        }
    }
    flush(&mut pending, &mut outcomes);
    let tests: Vec<&str> =
        outcomes.iter().filter(|o| o.contains("TEST CONNECTION")).map(|o| o.split(' ').next().unwrap()).collect();
    assert_eq!(tests, ["passed", "failed", "passed"], "{outcomes:#?}");
    let described = env.describe("CONNECTION", "app_db");
    assert_eq!(described["status"], "ok");
    assert!(described["server_version"].as_str().unwrap().starts_with("PostgreSQL"), "{described:?}");
    // The connection row was never altered: the three tests are bookkeeping beside it, so it is still at version 1.
    assert_eq!(described["version"], 1, "{described:?}");
    // The old password no longer logs in.
    assert!(postgres.try_connect("app", "first-Passw0rd").is_err());
    // The README shows what the last TEST prints, but for the latency and the server's version.
    let readme = lanyard_testsupport::fenced_blocks(include_str!("../../../README.md"));
    let shown = readme.iter().find(|b| b.info == "text" && b.text.contains("connection \"app_db\": PASSED in "));
    let shown = shown.expect("the README shows a TEST CONNECTION of app_db");
    let run = env.sql(&["TEST CONNECTION app_db"], None);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(masked_cells(&run.stdout), masked_cells(&shown.text), "README.md:{}: {}", shown.line, run.stdout);
    env.assert_no_canary("Passw0rd");
}

/// A table and its status lines, cell by cell: numbers as `N`, a PostgreSQL version as `PostgreSQL`, separator
/// rows dropped, so that outputs from different runs and servers compare (column widths follow the values).
fn masked_cells(printed: &str) -> Vec<Vec<String>> {
    let mask = |word: &str| {
        if !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
            "N".to_owned()
        } else if word.starts_with("PostgreSQL ") {
            "PostgreSQL".to_owned()
        } else {
            word.to_owned()
        }
    };
    printed
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with("|-"))
        .map(|line| match line.strip_prefix('|') {
            Some(row) => row.trim_end_matches('|').split('|').map(|cell| mask(cell.trim())).collect(),
            None => line.split(' ').map(mask).collect(),
        })
        .collect()
}

/// `expired 2532 days ago` → `expired N days ago`: how long ago 2020 was depends on the day the test runs.
fn mask_days_ago(text: &str) -> String {
    let mut out = String::new();
    for (i, piece) in text.split("expired ").enumerate() {
        if i > 0 {
            out.push_str("expired ");
            if let Some(digits) =
                piece.find(" days ago").filter(|&n| n > 0 && piece[..n].chars().all(|c| c.is_ascii_digit()))
            {
                out.push('N');
                out.push_str(&piece[digits..]);
                continue;
            }
        }
        out.push_str(piece);
    }
    out
}

#[test]
fn warnings_print_after_the_status_line_and_in_json_and_an_entry_without_material_is_refused() {
    let env = start();
    // Three days and an hour ahead: "expires in 3 days" while the test runs.
    let soon = lanyard_control::Timestamp::from_micros(
        lanyard_control::Timestamp::now().as_micros() + 3 * 86_400_000_000 + 3_600_000_000,
    )
    .to_string();
    let script = format!(
        "CREATE CREDENTIAL old_login TYPE = CREDENTIAL SECRET 'canary-warn-4e1b' EXPIRES '2020-01-01';
         CREATE CREDENTIAL soon_login TYPE = CREDENTIAL SECRET 'canary-warn-4e1b' EXPIRES '{soon}';
         CREATE CREDENTIAL far_login TYPE = CREDENTIAL SECRET 'canary-warn-4e1b' EXPIRES '2099-01-01';
         CREATE CONNECTION pg TYPE = postgresql OPTIONS (host = '127.0.0.1', port = '9') CREDENTIAL = soon_login;
         CREATE CONNECTION api TYPE = rest OPTIONS (endpoint = 'http://127.0.0.1:9/') CREDENTIAL = far_login;
         ALTER CONNECTION api SET CREDENTIAL = old_login;
         SHOW CONNECTIONS;"
    );
    // Table: the status line on stdout, then one `warning: …` line per warning on stderr; here both streams go to
    // one pipe, as on a terminal, to show the order.
    let mut merged = Command::new("sh");
    merged.args(["-c", "exec \"$0\" sql --server \"$1\" \"$2\" 2>&1", LANYARD, env.server.url(), &script]);
    merged.env("LANYARD_TOKEN", env.server.admin_token());
    let table = env.run(merged, None);
    assert_eq!(table.code, 0, "warnings do not fail a statement: {table:?}");
    // The table's cell keeps its width; the messages get the short placeholder.
    let shown = table.stdout.replace(&format!("{soon} |"), &format!("{:<27} |", "<soon>")).replace(&soon, "<soon>");
    insta::assert_snapshot!("warnings_table", mask_days_ago(&shown));
    let separate = env.sql(&["SHOW CONNECTIONS"], None);
    assert_eq!((separate.code, separate.stderr.as_str()), (0, ""), "reads never warn: {separate:?}");

    // JSON: a `warnings` array of {code, message} on the results that have any, and no field on the others.
    let json = env.sql(
        &[
            "--format",
            "json",
            "ALTER CREDENTIAL soon_login SET DESCRIPTION 'd'; ALTER CREDENTIAL far_login SET DESCRIPTION 'd'",
        ],
        None,
    );
    assert_eq!(json.code, 0, "{json:?}");
    insta::assert_snapshot!("warnings_json", json.stdout.replace(&soon, "<soon>"));
    assert_eq!(json.stderr, "", "in JSON the warnings are in the output only");

    // TEST CONNECTION warns too, whatever the probe says; CSV prints the warnings on stderr.
    let (test, lines) = env.json("TEST CONNECTION pg");
    assert_eq!(test.code, 4, "the probe of 127.0.0.1:9 fails: {test:?}");
    assert_eq!(lines[0]["warnings"][0]["code"], "credential_expires_soon", "{}", lines[0]);
    let csv = env.sql(&["--format", "csv", "ALTER CONNECTION api SET DESCRIPTION 'd'"], None);
    assert_eq!(csv.code, 0, "{csv:?}");
    let csv_stderr = mask_days_ago(&csv.stderr);
    assert_eq!(
        csv_stderr,
        "connection \"api\" altered (1 action, version 3)\nwarning: connection \"api\" uses vault entry \"old_login\", \
         which expired N days ago (EXPIRES 2020-01-01T00:00:00.000000Z)\n"
    );
    // --quiet drops the status line, not the warnings.
    let quiet = env.sql(&["--quiet", "ALTER CREDENTIAL old_login SET DESCRIPTION 'q'"], None);
    assert_eq!((quiet.code, quiet.stdout.as_str()), (0, ""), "{quiet:?}");
    assert!(quiet.stderr.starts_with("warning: vault entry \"old_login\" expired "), "{quiet:?}");

    // DESCRIBE shows the expiry and how it reads.
    let described = env.describe("CREDENTIAL", "soon_login");
    assert_eq!(
        (described["expires_at"].as_str(), described["expiry"].as_str()),
        (Some(soon.as_str()), Some("expires in 3 days"))
    );
    let connection = env.describe("CONNECTION", "pg");
    assert_eq!(connection["credential_expires_at"].as_str(), Some(soon.as_str()));
    assert_eq!(connection["credential_expiry"], "expires in 3 days");
    let far = env.describe("CREDENTIAL", "far_login");
    assert!(far["expiry"].as_str().is_some_and(|e| e.starts_with("expires in ") && e.ends_with(" days")), "{far:?}");

    // No material: refused by the parser, with the ways to give material; nothing is sent.
    let refused = env.sql(&["CREATE VAULT k2 TYPE = ENCRYPTION_KEY"], None);
    assert_eq!(refused.code, 1, "{refused:?}");
    insta::assert_snapshot!("no_material", refused.stderr);
    let missing = env.sql(&["DESCRIBE VAULT k2"], None);
    assert_eq!(missing.code, 1, "{missing:?}");
    env.assert_no_canary("canary-warn-4e1b");
}

/// Issue 17, what the Control Plane accepts, as a user of `lanyard sql` meets it: a look-alike of an existing name
/// (Cyrillic `а`), a name with a bidirectional override, a secret inside an option value (not echoed), and too many
/// options; each refused with what was wrong and where, and nothing of them stored.
#[test]
fn look_alike_names_invisible_characters_and_secrets_in_values_are_refused() {
    let env = start();
    assert_eq!(
        env.sql(&["CREATE CONNECTION payroll TYPE = postgresql OPTIONS (host = 'db.example.com');"], None).code,
        0
    );
    let options: Vec<String> = (0..=lanyard_core::MAX_OPTIONS).map(|i| format!("k{i} = 'v'")).collect();
    let script = format!(
        "CREATE CONNECTION \"p\u{430}yroll\" TYPE = postgresql OPTIONS (host = 'db.example.com');\n\
         CREATE CONNECTION \"pay\u{202E}llor\" TYPE = postgresql OPTIONS (host = 'db.example.com');\n\
         CREATE CONNECTION notes TYPE = postgresql OPTIONS (host = 'db.example.com', note = 'password=canary-input-5d1e');\n\
         CREATE CONNECTION wide TYPE = rest OPTIONS ({});\n\
         SHOW CONNECTIONS;\n",
        options.join(", ")
    );
    let refused = env.sql(&["--continue-on-error", &script], None);
    assert_eq!(refused.code, 1, "{refused:?}");
    // The caret lines would carry the 129 options of the last statement: only the messages are kept.
    let messages: Vec<&str> =
        refused.stderr.lines().filter(|l| l.starts_with("error") || l.trim_start().starts_with("= code")).collect();
    insta::assert_snapshot!("input_refusals", messages.join("\n"));
    assert!(refused.stdout.contains("payroll") && !refused.stdout.contains("notes"), "{refused:?}");
    assert!(!refused.stdout.contains("wide"), "{refused:?}");
    env.assert_no_canary("canary-input-5d1e");

    // A link's CONFIG with secret-looking text, as a whole object and as one `::key`: refused by the Control Plane,
    // and masked wherever the statement is shown again (the echo under an error, a syntax error's caret line, the
    // shell history).
    assert_eq!(env.sql(&["CREATE LINK api AS HTTP CONFIG '{\"url\":\"https://api.example.com\"}';"], None).code, 0);
    let links = "CREATE LINK api2 AS HTTP CONFIG '{\"url\":\"https://x\",\"note\":\"token: canary-input-link-1\"}';\n\
                 ALTER LINK api SET CONFIG ::note = 'password=canary-input-link-2';\n\
                 ALTER LINK api SET CONFIG ::note = 'password=canary-input-link-3' oops;\n\
                 CREATE LINK api3 AS HTTP CONFIG '{\"note\":\"Bearer canary-input-link-4-abcdefghijklmnop\"}' oops;\n";
    let refused = env.sql(&["--continue-on-error", links], None);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert_eq!(refused.stderr.matches("holds what looks like a secret").count(), 2, "{refused:?}");
    assert_eq!(refused.stderr.matches("found \"oops\"").count(), 2, "{refused:?}");
    let shell = env.sql(&["--interactive"], Some(&format!("{links}quit\n")));
    assert_eq!(shell.stderr.matches("holds what looks like a secret").count(), 2, "{shell:?}");
    let history = std::fs::read_to_string(env.history()).unwrap();
    for line in [
        r#"CREATE LINK api2 AS HTTP CONFIG '{"url":"https://x","note":"***"}';"#,
        "ALTER LINK api SET CONFIG ::note = '***';",
        "ALTER LINK api SET CONFIG ::note = '***' oops;",
        "CREATE LINK api3 AS HTTP CONFIG '***' oops;",
    ] {
        assert!(history.contains(line), "{line} is not in the history:\n{history}");
    }
    let shown = env.sql(&["SHOW LINKS"], None);
    assert!(
        shown.stdout.contains("api") && !shown.stdout.contains("api2") && !shown.stdout.contains("note"),
        "{shown:?}"
    );
    env.assert_no_canary("canary-input-link");
}

/// A SHOW longer than a page (the client reads 1000 rows per request) prints as it arrives: in the table and CSV
/// formats the header once and then every row once, in the server's name order; `\G` numbers its rows on across
/// pages; JSON is one object with every row; the status line counts them all. The server's log proves the rows came
/// in three requests, not one.
#[test]
fn a_long_show_streams_page_by_page_with_one_header() {
    const N: usize = 2_345;
    let env = start();
    let names: Vec<String> = (0..N).map(|i| format!("c{i:05}")).collect();
    let script: String =
        names.iter().map(|name| format!("CREATE CONNECTION {name} TYPE = local OPTIONS (path = '/');\n")).collect();
    let created = env.sql(&["--quiet", "-f", "-"], Some(&script));
    assert_eq!(created.code, 0, "{}", created.stderr);
    let lists = || -> u64 {
        let metrics = env.server.metrics();
        let line = metrics.lines().find(|line| {
            line.starts_with("lanyard_http_requests_total{")
                && ["method=\"GET\"", "route=\"/connections\"", "status=\"200\""]
                    .iter()
                    .all(|label| line.contains(label))
        });
        line.map_or(0, |line| line.rsplit(' ').next().unwrap().parse().unwrap())
    };
    let lists_before = lists();

    let table = env.sql(&["SHOW CONNECTIONS"], None);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let header_lines = table.stdout.lines().filter(|line| line.contains("credential_storage")).count();
    assert_eq!(header_lines, 1, "one header over every page:\n{}", &table.stdout[..2000]);
    let listed: Vec<&str> = table
        .stdout
        .lines()
        .filter_map(|line| line.split_whitespace().find(|word| word.starts_with('c') && word.len() == 6))
        .collect();
    assert_eq!(listed, names, "every row once, in name order");
    assert!(
        table.stdout.trim_end().ends_with(&format!("{N} connections")),
        "{}",
        &table.stdout[table.stdout.len() - 300..]
    );

    let csv = env.sql(&["--format", "csv", "SHOW CONNECTIONS"], None);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines[0], "name,type,status,credential,credential_storage,credential_expires_at");
    let rows: Vec<&str> = lines[1..].iter().map(|line| line.split(',').next().unwrap()).collect();
    assert_eq!(rows, names, "the CSV header once, then every row once");

    let vertical = env.sql(&["-f", "-"], Some("SHOW CONNECTIONS \\G\n"));
    assert_eq!(vertical.code, 0, "{}", vertical.stderr);
    let numbered: Vec<usize> = vertical
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("*************************** "))
        .map(|rest| rest.split('.').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbered, (1..=N).collect::<Vec<_>>(), "\\G numbers rows on across pages");

    let (_, json) = env.json("SHOW CONNECTIONS");
    assert_eq!(json.len(), 1, "one JSON object per statement");
    let rows: Vec<&str> = json[0]["rows"].as_array().unwrap().iter().map(|row| row["name"].as_str().unwrap()).collect();
    assert_eq!(rows, names);

    // Four SHOWs of three pages each (1000, 1000, 345 rows).
    assert_eq!(lists() - lists_before, 4 * 3, "each SHOW read three pages");
}
