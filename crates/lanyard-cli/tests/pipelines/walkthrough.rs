//! `docs/quickstart-pipelines.sql`, the script `docs/pipelines.md` walks through, run as written: its `-- $` lines
//! with `sh -c` (all but the one that starts moto: the suite's moto runs already), its SQL with the real `lanyard sql`
//! against a real `lanyard serve`, its "wait until" lines by polling SHOW PIPELINES. Only moto's address and the
//! database's name are replaced (a database of this run's own, dropped at the end). What the document shows of
//! SHOW PIPELINES and SHOW FILES FOR PIPELINE is what the binary prints at one of those waits, but for
//! the time stamps.

use std::path::{Path, PathBuf};
use std::process::Command;

use lanyard_testsupport::{fenced_blocks, moto_url, pg_bindir, unique_name};
use serde_json::Value;
use sqlx::{Connection as _, PgConnection};

use crate::{start, wait_for};

const SCRIPT: &str = include_str!("../../../../docs/quickstart-pipelines.sql");
const SCRIPT_PATH: &str = "docs/quickstart-pipelines.sql";
const WALKTHROUGH: &str = include_str!("../../../../docs/pipelines.md");

/// The line that starts moto in the user's other terminal.
const MOTO_LINE: &str = "-- $ target/moto-venv/bin/moto_server -H 127.0.0.1 -p 5000";
/// Where the script expects moto, and the database and the role it creates (the role's name holds the database's,
/// so both are replaced).
const SCRIPT_MOTO: &str = "http://127.0.0.1:5000";
const SCRIPT_DATABASE: &str = "quickstart_pipelines";
const SCRIPT_ROLE: &str = "quickstart_pipelines_loader";
/// The PostgreSQL the script's `psql`, `createdb` and CONNECTION use.
const SCRIPT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
/// The pipeline the script creates.
const PIPELINE: &str = "events";

const WAIT: &str = "-- wait until SHOW PIPELINES shows ";
const FAILS: &str = "-- fails: ";
const SHELL: &str = "-- $ ";

/// One step of the script, in its order.
#[derive(Debug)]
enum Step {
    /// A `-- $` line, for `sh -c`.
    Shell(String),
    /// SQL text for one `lanyard sql -f`; with `fails`, its last statement must fail with that text in the error.
    Sql { text: String, fails: Option<String> },
    /// `-- wait until SHOW PIPELINES shows Column = value, …`: (column, value) pairs.
    Wait(String, Vec<(String, Value)>),
}

/// The script's steps, after the replacements.
fn steps(script: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut sql = String::new();
    let flush = |sql: &mut String, steps: &mut Vec<Step>, fails: Option<String>| {
        let has_statement = sql.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
        assert!(has_statement || fails.is_none(), "{SCRIPT_PATH}: `{FAILS}` follows no statement");
        if has_statement {
            steps.push(Step::Sql { text: std::mem::take(sql), fails });
        }
        sql.clear();
    };
    for line in script.lines() {
        if let Some(command) = line.strip_prefix(SHELL) {
            flush(&mut sql, &mut steps, None);
            if !command.starts_with("target/moto-venv/bin/moto_server") {
                steps.push(Step::Shell(command.to_owned()));
            }
        } else if let Some(conditions) = line.strip_prefix(WAIT) {
            flush(&mut sql, &mut steps, None);
            steps.push(Step::Wait(conditions.to_owned(), parse_conditions(conditions)));
        } else if let Some(error) = line.strip_prefix(FAILS) {
            flush(&mut sql, &mut steps, Some(error.to_owned()));
        } else {
            sql.push_str(line);
            sql.push('\n');
        }
    }
    flush(&mut sql, &mut steps, None);
    steps
}

/// `Files_loaded = 3, Cursor = 'events/0003.csv'`: integers as numbers, quoted text as strings.
fn parse_conditions(text: &str) -> Vec<(String, Value)> {
    text.split(", ")
        .map(|condition| {
            let (column, value) = condition
                .split_once(" = ")
                .unwrap_or_else(|| panic!("{SCRIPT_PATH}: {condition:?} is not `Column = value`"));
            let value = match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                Some(text) => Value::from(text),
                None => Value::from(
                    value.parse::<i64>().unwrap_or_else(|_| panic!("{SCRIPT_PATH}: {value:?} is no number or 'text'")),
                ),
            };
            (column.to_owned(), value)
        })
        .collect()
}

/// `tool` in one of the directories of `path`.
fn find_tool(tool: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path).map(|dir| dir.join(tool)).find(|candidate| candidate.is_file())
}

/// The `PATH` for the script's shell lines: the test's, with PostgreSQL's client programs added when `psql` is not
/// on it. Panics naming a tool the script uses that is not there.
fn shell_path() -> std::ffi::OsString {
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if find_tool("psql", &path).is_none() {
        let mut dirs = vec![pg_bindir()];
        dirs.extend(std::env::split_paths(&path));
        path = std::env::join_paths(dirs).expect("a PATH");
    }
    for tool in ["sh", "printf", "curl", "createdb", "psql"] {
        assert!(
            find_tool(tool, &path).is_some(),
            "{SCRIPT_PATH} runs `{tool}`, which is not on the PATH ({}): install it (Debian: apt-get install {})",
            path.to_string_lossy(),
            if tool == "curl" { "curl" } else { "postgresql-client" }
        );
    }
    path
}

/// Drops the script's database and role at the end, also when the test fails.
struct DropDatabase {
    database: String,
    role: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (database, role) = (&self.database, &self.role);
        // Two statements: DROP DATABASE runs in no transaction, and the role owns the database.
        let statements = [
            format!(r#"DROP DATABASE IF EXISTS "{database}" WITH (FORCE)"#),
            format!(r#"DROP ROLE IF EXISTS "{role}""#),
        ];
        let dropped = block_on(async {
            let mut connection = PgConnection::connect(&format!("{SCRIPT_POSTGRES}/postgres")).await?;
            for sql in &statements {
                sqlx::raw_sql(sql).execute(&mut connection).await?;
            }
            connection.close().await
        });
        if let Err(e) = dropped {
            let message = format!("walkthrough: cannot drop the database {database} and the role {role}: {e}");
            if std::thread::panicking() {
                #[allow(clippy::print_stderr)] // a second panic would abort; the test's own failure is reported
                {
                    eprintln!("{message}");
                }
            } else {
                panic!("{message}");
            }
        }
    }
}

/// The integer `sql` (`SELECT count(*) …`) returns in the database at `url`.
fn count(url: &str, sql: &str) -> i64 {
    let value = block_on(async {
        let mut connection = PgConnection::connect(url).await?;
        let value: i64 = sqlx::query_scalar(sql).fetch_one(&mut connection).await?;
        connection.close().await?;
        Ok::<_, sqlx::Error>(value)
    });
    value.unwrap_or_else(|e| panic!("{sql} in {url}: {e}"))
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime").block_on(future)
}

/// A table as `lanyard sql` prints it, its time stamps (`Updated_at`, always 27 characters) and node ids
/// (`Running_on`, `node-<uuid>`, always 41) masked in place, so the layout is compared too.
fn masked(printed: &str) -> String {
    let mut text = String::new();
    for line in printed.trim_end().lines() {
        let cells: Vec<String> = line
            .split('|')
            .map(|cell| {
                let value = cell.trim();
                let b = value.as_bytes();
                let is_time = b.len() == 27 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && value.ends_with('Z');
                let is_node = value.strip_prefix("node-").is_some_and(|id| uuid::Uuid::parse_str(id).is_ok());
                if is_time {
                    cell.replace(value, "<time stamp>               ")
                } else if is_node {
                    cell.replace(value, "<node id: node-uuid>                     ")
                } else {
                    cell.to_owned()
                }
            })
            .collect();
        text.push_str(&cells.join("|"));
        text.push('\n');
    }
    text
}

#[test]
fn the_pipelines_walkthrough_runs_as_written() {
    assert!(SCRIPT.lines().any(|l| l == MOTO_LINE), "{SCRIPT_PATH} no longer starts moto on 127.0.0.1:5000");
    assert!(SCRIPT.contains(SCRIPT_MOTO) && SCRIPT.contains(SCRIPT_DATABASE) && SCRIPT.contains(SCRIPT_ROLE));
    assert!(SCRIPT.contains(&format!("CREATE PIPELINE {PIPELINE} AS")));
    let moto = moto_url();
    let database = unique_name("lanyard_walkthrough_");
    let _drop = DropDatabase { database: database.clone(), role: SCRIPT_ROLE.replace(SCRIPT_DATABASE, &database) };
    let script = SCRIPT.replace(SCRIPT_MOTO, &moto).replace(SCRIPT_DATABASE, &database);
    let steps = steps(&script);
    let path = shell_path();
    let env = start("pipe-walkthrough");

    // What SHOW PIPELINES and SHOW FILES FOR PIPELINE printed at each wait, for the document's blocks.
    let mut shown: Vec<String> = Vec::new();
    let mut waits = 0;
    // The errors of the statements the script shows failing.
    let mut refusals = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        match step {
            Step::Shell(command) => {
                let output = Command::new("sh")
                    .arg("-c")
                    .arg(command)
                    .env("PATH", &path)
                    .current_dir(env.home.path())
                    .output()
                    .unwrap_or_else(|e| panic!("cannot run sh: {e}"));
                assert!(
                    output.status.success(),
                    "{SCRIPT_PATH}, step {index}: `{command}` failed ({}):\n{}{}",
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Step::Sql { text, fails } => refusals.extend(run_sql(&env, index, text, fails.as_deref())),
            Step::Wait(text, conditions) => {
                waits += 1;
                wait_for(&env, PIPELINE, text, |row| conditions.iter().all(|(column, value)| &row[column] == value));
                for statement in ["SHOW PIPELINES", &format!("SHOW FILES FOR PIPELINE {PIPELINE}")] {
                    let run = env.sql(&[statement], None);
                    assert_eq!(run.code, 0, "{run:?}");
                    shown.push(masked(&run.stdout.replace(&moto, SCRIPT_MOTO)));
                }
            }
        }
    }
    assert!(waits >= 4, "{SCRIPT_PATH} waits {waits} times");

    // Where the script leaves things: 11 rows from 6 files, the failed file's none; the pipeline dropped.
    let target = format!("{SCRIPT_POSTGRES}/{database}");
    let rows = |sql: &str| count(&target, sql);
    assert_eq!(rows("SELECT count(*) FROM events"), 11);
    assert_eq!(rows("SELECT count(*) FROM events WHERE id IN (11, 12)"), 0, "the failed file loaded nothing");
    assert_eq!(rows("SELECT count(*) FROM events WHERE amount IS NULL"), 1, "an empty field is NULL");
    assert_eq!(rows("SELECT count(*) FROM events WHERE name = 'gadget, large'"), 1);
    assert_eq!(rows("SELECT count(*) FROM lanyard_pipeline_ledger"), 6);
    let owner = format!(
        "SELECT count(*) FROM pg_tables WHERE tablename IN ('events', 'lanyard_pipeline_ledger') AND tableowner = '{}'",
        SCRIPT_ROLE.replace(SCRIPT_DATABASE, &database)
    );
    assert_eq!(rows(&owner), 2, "the role loads, and created the ledger itself");
    assert_eq!(env.ok("SHOW PIPELINES")["rows"], serde_json::json!([]));

    // Every SHOW PIPELINES or SHOW FILES output in docs/pipelines.md is one the binary printed at a wait.
    let mut compared = [0, 0];
    for block in fenced_blocks(WALKTHROUGH).iter().filter(|b| b.info == "text") {
        let kind = if block.text.starts_with("| Pipelines_in_") {
            0
        } else if block.text.starts_with("| File_name ") {
            1
        } else {
            continue;
        };
        compared[kind] += 1;
        let documented = masked(&block.text);
        assert!(
            shown.contains(&documented),
            "docs/pipelines.md:{}: not what lanyard sql printed at any wait of {SCRIPT_PATH}:\n{}\nprinted:\n{}",
            block.line,
            block.text,
            shown.join("\n")
        );
    }
    assert!(compared[0] >= 1 && compared[1] >= 1, "docs/pipelines.md shows {compared:?} outputs");
    // And the refusal it quotes is the server's, word for word.
    assert!(!refusals.is_empty(), "{SCRIPT_PATH} shows no statement failing");
    let flat = WALKTHROUGH.split_whitespace().collect::<Vec<_>>().join(" ");
    for refusal in &refusals {
        assert!(flat.contains(refusal.as_str()), "docs/pipelines.md does not quote the refusal {refusal:?}");
    }

    env.assert_no_canary_anywhere(&[
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "first-Passw0rd",
        "second-Passw0rd",
    ]);
}

/// Runs `text` with `lanyard sql -f`, each statement reported as JSON; every statement succeeds, but for the last one
/// when `fails` is given: it fails, and its error contains `fails`. Returns that error.
fn run_sql(env: &lanyard_testsupport::SqlCli, index: usize, text: &str, fails: Option<&str>) -> Option<String> {
    let file: &Path = &env.home.join(format!("step-{index}.sql"));
    std::fs::write(file, text).unwrap();
    let run = env.sql(&["--format", "json", "--continue-on-error", "-f", file.to_str().unwrap()], None);
    let results = run.json();
    assert!(!results.is_empty(), "{SCRIPT_PATH}, step {index}: nothing ran: {run:?}");
    let last = results.len() - 1;
    let mut refusal = None;
    for (i, result) in results.iter().enumerate() {
        let failed = result["outcome"] == "error";
        if i == last
            && let Some(expected) = fails
        {
            let message = result["error"]["message"].as_str().unwrap_or_default();
            assert!(
                failed && message.contains(expected),
                "{SCRIPT_PATH}, step {index}: expected {expected:?}: {result}"
            );
            refusal = Some(message.to_owned());
        } else {
            assert!(!failed, "{SCRIPT_PATH}, step {index}: {result}\n{text}");
        }
    }
    assert_eq!(run.code, if fails.is_some() { 1 } else { 0 }, "{SCRIPT_PATH}, step {index}: {run:?}");
    refusal
}
