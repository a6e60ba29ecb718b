//! End to end for links: the real `lanyard sql` binary against a real `lanyard serve` process.
//!
//! Every example of the SingleStore ALTER LINK seed is typed exactly as written (inline, from a file and in the
//! shell), and the output of each `SHOW CREATE LINK … \G` is compared with the seed's: CONFIG as JSON, the rest of
//! the shape exactly (the mysql client's vertical form, `Link Name`, `Create Link`, `AS S3`,
//! `CREDENTIALS <CREDENTIALS REDACTED>`). Then every LINK statement form with its IF EXISTS / IF NOT EXISTS / OR
//! REPLACE outcome, USE, SHOW LINKS ON, CREDENTIALS FROM VAULT and TEST LINK; every DATABASE statement form (CREATE
//! [IF NOT EXISTS], DROP [IF EXISTS], SHOW DATABASES, the SCHEMA synonyms, and DROP of the session's database); and
//! the error cases, each with its message and proof that nothing changed. A canary in every credential is found in no
//! output, no history line, no server log, no audit record and no file of the data directory. Last, the README's links
//! quick start: `docs/quickstart-links.sql` run as written against the suite's moto, its output compared with the
//! README's.

use std::path::Path;
use std::process::{Command, Output};

use lanyard_testsupport::{SqlCli, fenced_blocks, moto_url, run_client, transcript};
use serde_json::Value;

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// The seed document, byte-identical to `shared/seeds/` (checked by `cargo xtask tidy`).
const SEED: &str = include_str!("../../lanyard-sql/tests/seeds/singlestore-alter-link.txt");

/// The credentials the seed writes: none may ever be shown.
const SEED_SECRETS: &[&str] = &["initial_key_id", "initial_secret", "rotated_key_id", "final_key_id", "final_secret"];

/// The header of each row of the vertical form.
const ROW_1: &str = "*************************** 1. row ***************************";

/// The harness: a server started with `--log-level trace` and the CLI, everything it printed kept for the canary.
type Env = SqlCli;

/// A server and a CLI home of this test's own.
fn start() -> Env {
    SqlCli::start(Path::new(LANYARD), "cli-links")
}

/// `SHOW CREATE LINK name`: the `Create Link` text.
fn create_link_text(env: &Env, name: &str) -> String {
    let result = env.ok(&format!("SHOW CREATE LINK {name}"));
    result["rows"][0]["Create Link"].as_str().unwrap().to_owned()
}

/// One example of the seed: its statements as written (with the comment before them), and, when it ends with
/// `SHOW CREATE LINK … \G`, the output lines the seed shows for it.
#[derive(Debug)]
struct Example {
    sql: String,
    expected: Vec<String>,
}

/// The examples of the seed, in order: the CREATE LINK the examples use, then each ALTER LINK with its
/// `SHOW CREATE LINK … \G` and the output shown. Statement lines are kept exactly as the seed writes them.
fn seed_examples() -> Vec<Example> {
    let start = SEED.find("The examples use the following link").expect("the seed's examples");
    let end = SEED.find("Last modified").expect("the end of the seed's examples");
    let statement_start = ["CREATE LINK", "ALTER LINK", "SHOW CREATE LINK", "--"];
    let output_start = ["Link Name:", "Create Link:", "CONFIG \"", "CREDENTIALS <"];
    let mut examples = Vec::new();
    let mut sql = String::new();
    let mut in_statement = false;
    let mut expected: Option<Vec<String>> = None;
    let flush = |sql: &mut String, expected: &mut Option<Vec<String>>, examples: &mut Vec<Example>| {
        if !sql.is_empty() {
            examples.push(Example { sql: std::mem::take(sql), expected: expected.take().unwrap_or_default() });
        }
        *expected = None;
    };
    for line in SEED[start..end].lines() {
        let trimmed = line.trim();
        if in_statement || statement_start.iter().any(|s| trimmed.starts_with(s)) {
            if !in_statement && expected.is_some() {
                flush(&mut sql, &mut expected, &mut examples);
            }
            sql.push_str(line);
            sql.push('\n');
            if trimmed.starts_with("--") && !in_statement {
                continue;
            }
            in_statement = !(trimmed.ends_with(';') || trimmed.ends_with("\\G"));
            if trimmed.ends_with("\\G") {
                expected = Some(Vec::new());
            }
        } else if let Some(lines) = expected.as_mut().filter(|_| output_start.iter().any(|s| trimmed.starts_with(s))) {
            lines.push(trimmed.to_owned());
        } else if !trimmed.is_empty() {
            // Prose ("Note: …", the next bullet): whatever came before is complete.
            flush(&mut sql, &mut expected, &mut examples);
        }
    }
    flush(&mut sql, &mut expected, &mut examples);
    examples
}

/// The text of every vertical block in `stdout` (after each `1. row` header, up to the status line that follows
/// it), as lines.
fn vertical_blocks(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .match_indices(ROW_1)
        .map(|(at, _)| {
            stdout[at + ROW_1.len()..]
                .lines()
                .skip(1)
                .take_while(|l| !l.starts_with("link \""))
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// The JSON object inside a `CONFIG "…"` line (the escaped JSON string, unescaped and parsed).
fn config_of(line: &str) -> Value {
    let literal = line.trim().strip_prefix("CONFIG ").unwrap_or_else(|| panic!("not a CONFIG line: {line:?}"));
    let text: String = serde_json::from_str(literal).unwrap_or_else(|e| panic!("not a JSON string ({e}): {line}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Compares our vertical SHOW CREATE LINK block with the seed's output: `Link Name` right-aligned as the mysql
/// client does, `Create Link` and `CREDENTIALS <CREDENTIALS REDACTED>` exactly, CONFIG as JSON (SingleStore does
/// not promise a key order).
fn assert_seed_shape(shown: &[String], expected: &[String], context: &str) {
    assert_eq!(expected.len(), 4, "the seed shows four lines: {expected:?}");
    assert_eq!(shown.len(), 4, "{context}: {shown:#?}");
    assert_eq!(shown[0], "  Link Name: analytics_link", "{context}");
    assert_eq!(shown[0].trim_start(), expected[0], "{context}");
    assert_eq!(shown[1], "Create Link: CREATE LINK `analytics_link` AS S3", "{context}");
    assert_eq!(shown[1], expected[1], "{context}");
    assert!(shown[2].starts_with("    CONFIG \""), "{context}: {:?}", shown[2]);
    assert_eq!(config_of(&shown[2]), config_of(&expected[2]), "{context}: CONFIG");
    assert_eq!(shown[3], "    CREDENTIALS <CREDENTIALS REDACTED>", "{context}");
    assert_eq!(shown[3].trim_start(), expected[3], "{context}");
}

#[test]
fn every_seed_example_typed_as_written_shows_the_seeds_output() {
    let env = start();
    let examples = seed_examples();
    assert_eq!(examples.len(), 8, "the CREATE LINK and seven ALTER LINK examples: {examples:#?}");
    assert!(examples[0].sql.starts_with("CREATE LINK analytics_link AS S3\n"), "{examples:#?}");
    assert!(examples[0].expected.is_empty());

    // The CREATE LINK, inline, exactly as written (its CREDENTIALS literal spans two lines).
    let created = env.sql(&[&examples[0].sql], None);
    assert_eq!(created.code, 0, "{created:?}");
    assert_eq!(created.stdout, "link \"default.analytics_link\" created\n");

    // Each ALTER LINK and its SHOW CREATE LINK … \G, inline, as the seed writes them.
    for (i, example) in examples[1..].iter().enumerate() {
        let version = i64::try_from(i).unwrap() + 2;
        let run = env.sql(&[&example.sql], None);
        assert_eq!(run.code, 0, "{example:#?}\n{run:?}");
        let actions = example.sql.matches("SET ").count();
        let plural = if actions == 1 { "action" } else { "actions" };
        let altered = format!("link \"default.analytics_link\" altered ({actions} {plural}, version {version})\n");
        assert!(run.stdout.starts_with(&format!("{altered}{ROW_1}\n")), "{example:#?}\n{}", run.stdout);
        let blocks = vertical_blocks(&run.stdout);
        assert_eq!(blocks.len(), 1, "{}", run.stdout);
        assert_seed_shape(&blocks[0], &example.expected, &example.sql);
        assert!(run.stdout.ends_with("CREDENTIALS <CREDENTIALS REDACTED>\nlink \"default.analytics_link\"\n\n"));
    }

    // The last example's CONFIG is the written object, in written order (the seed shows SingleStore's own order).
    let last = create_link_text(&env, "analytics_link");
    assert!(last.contains(r#"CONFIG "{\"region\":\"us-west-2\",\"disable_gunzip\":true}""#), "{last}");

    // One audit record per ALTER, each with its actions (credential values redacted).
    let audit = env.audit();
    let alters: Vec<&Value> = audit.iter().filter(|r| r["action"] == "link.alter").collect();
    assert_eq!(alters.len(), 7, "{audit:#?}");
    env.assert_no_canary_anywhere(SEED_SECRETS);
}

#[test]
fn the_seed_runs_as_one_script_from_a_file_and_in_the_shell() {
    let env = start();
    let examples = seed_examples();
    let expected: Vec<&Vec<String>> = examples.iter().filter(|e| !e.expected.is_empty()).map(|e| &e.expected).collect();
    assert_eq!(expected.len(), 7);
    let script: String = examples.iter().map(|e| e.sql.as_str()).collect();

    let file = env.home.join("seed.sql");
    std::fs::write(&file, &script).unwrap();
    let from_file = env.sql(&["-f", file.to_str().unwrap()], None);
    assert_eq!(from_file.code, 0, "{from_file:?}");
    let blocks = vertical_blocks(&from_file.stdout);
    assert_eq!(blocks.len(), 7, "{}", from_file.stdout);
    for (shown, expected) in blocks.iter().zip(&expected) {
        assert_seed_shape(shown, expected, "from a file");
    }

    // The shell, line by line: `;` and `\G` end statements, the comment joins the statement after it.
    env.ok("DROP LINK analytics_link");
    let shell = env.sql(&["--interactive"], Some(&format!("{script}quit\n")));
    assert_eq!(shell.code, 0, "{shell:?}");
    let blocks = vertical_blocks(&shell.stdout);
    assert_eq!(blocks.len(), 7, "{}", shell.stdout);
    for (shown, expected) in blocks.iter().zip(&expected) {
        assert_seed_shape(shown, expected, "in the shell");
    }
    // The history keeps each statement's terminator and no credential.
    let history = std::fs::read_to_string(env.history()).unwrap();
    assert_eq!(history.matches(r"SHOW CREATE LINK analytics_link \\G").count(), 7, "{history}");
    assert!(history.contains("SET CREDENTIALS ::aws_access_key_id = '***';"), "{history}");

    // With --format json or csv, `\G` changes nothing: one shape per format.
    for format in ["json", "csv"] {
        let with = env.sql(&["--format", format, "SHOW CREATE LINK analytics_link \\G"], None);
        let without = env.sql(&["--format", format, "SHOW CREATE LINK analytics_link;"], None);
        assert_eq!(with.code, 0, "{with:?}");
        assert_eq!(with.stdout, without.stdout, "{format}");
    }
    let json = env.ok("SHOW CREATE LINK analytics_link \\G");
    assert_eq!(json["columns"], serde_json::json!(["Link Name", "Create Link"]));
    env.assert_no_canary_anywhere(SEED_SECRETS);
}

/// `latency N ms` in TEST messages.
fn mask_latency(line: &str) -> String {
    match line.find(" in ") {
        Some(at) if line.ends_with(" ms") && line[at + 4..line.len() - 3].chars().all(|c| c.is_ascii_digit()) => {
            format!("{} in N ms", &line[..at])
        }
        _ => line.to_owned(),
    }
}

#[test]
fn every_link_statement_form_runs_with_its_documented_outcome() {
    let env = start();
    let canary = "canary-links-6e2b91";
    let script = format!(
        r#"
-- an entry for CREDENTIALS FROM VAULT, and one that cannot be a link's credentials
CREATE CREDENTIAL aws_analytics TYPE = CREDENTIAL SECRET '{{"aws_access_key_id":"{canary}-id","aws_secret_access_key":"{canary}-vault"}}';
CREATE VAULT data_key TYPE = ENCRYPTION_KEY GENERATE;
-- CREATE [OR REPLACE] LINK [IF NOT EXISTS]
CREATE LINK analytics_link AS S3 CONFIG '{{"region":"us-east-1"}}' CREDENTIALS '{{"aws_access_key_id":"k1","aws_secret_access_key":"{canary}-1"}}' DESCRIPTION 'raw data';
CREATE LINK IF NOT EXISTS analytics_link AS S3 CONFIG '{{"region":"ignored"}}';
CREATE LINK analytics_link AS S3;
CREATE OR REPLACE LINK analytics_link AS S3 CONFIG '{{"region":"eu-west-1"}}' CREDENTIALS FROM VAULT aws_analytics DESCRIPTION 'raw data';
CREATE OR REPLACE LINK analytics_link AS KAFKA;
CREATE OR REPLACE LINK fresh AS GCS CREDENTIALS '{{"service_account_json":"{canary}-gcs"}}';
CREATE LINK db1.events AS KAFKA CONFIG '{{"security.protocol":"SASL_SSL"}}' CREDENTIALS '{{"sasl.username":"u","sasl.password":"{canary}-kafka"}}';
CREATE LINK shared AS S3 CREDENTIALS FROM VAULT "aws_analytics";
CREATE LINK dangling AS S3 CREDENTIALS FROM VAULT nothing;
CREATE LINK keyed AS S3 CREDENTIALS FROM VAULT data_key;
CREATE LINK leaky AS S3 CONFIG '{{"aws_secret_access_key":"{canary}-config"}}';
-- SHOW LINKS [ON db] [LIKE], SHOW CREATE LINK
SHOW LINKS;
SHOW LINKS LIKE 'ANALYTICS';
SHOW LINKS ON db1;
SHOW LINKS ON nowhere;
SHOW CREATE LINK analytics_link;
SHOW CREATE LINK db1.events \G
SHOW CREATE LINK nothing;
DESCRIBE LINK analytics_link;
DESCRIBE LINK IF EXISTS nothing;
-- ALTER LINK
ALTER LINK analytics_link SET CONFIG ::region = "us-east-1";
ALTER LINK analytics_link SET CONFIG ::max_retries = 3;
ALTER LINK analytics_link SET CONFIG '{{}}';
ALTER LINK analytics_link SET CREDENTIALS '{{"aws_access_key_id":"k2","aws_secret_access_key":"{canary}-2"}}' SET CONFIG ::disable_gunzip = true;
ALTER LINK analytics_link SET CREDENTIALS ::aws_secret_access_key = '{canary}-3';
ALTER LINK shared SET CREDENTIALS ::aws_access_key_id = 'k3';
ALTER LINK shared SET CONFIG ::region = 'eu-central-1' SET CREDENTIALS '{{"aws_access_key_id":"k4","aws_secret_access_key":"{canary}-4"}}';
ALTER LINK fresh SET CREDENTIALS FROM VAULT aws_analytics;
ALTER LINK db1.events SET CONFIG ::sasl.mechanism = 'PLAIN';
ALTER LINK analytics_link SET CONFIG ::password = '{canary}-5';
ALTER LINK nothing SET CONFIG ::region = 'x';
ALTER LINK nowhere.l SET CONFIG ::region = 'x';
-- TEST LINK
TEST LINK db1.events;
TEST LINK IF EXISTS nothing;
TEST LINK nothing;
-- USE
USE nowhere;
USE db1;
SHOW LINKS;
SHOW CREATE LINK events;
DROP LINK IF EXISTS analytics_link;
USE default;
-- DROP LINK [IF EXISTS]
DROP LINK shared;
DROP LINK IF EXISTS shared;
DROP LINK shared;
DROP LINK db1.events;
SHOW LINKS ON db1;
SHOW LINKS;
"#
    );
    let (run, lines) = env.json(&script);
    assert_eq!(run.code, 1, "statement errors make exit code 1:\n{}", run.stderr);
    let statements = script.lines().filter(|l| l.ends_with(';') || l.ends_with("\\G")).count();
    assert_eq!(lines.len(), statements, "{}", transcript(&lines));
    let transcript = transcript(&lines).lines().map(mask_latency).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!("every_link_form", transcript);

    // What the transcript cannot show.
    // The result of the statement written `prefix` exactly, or else of the first one starting with it.
    let at = |prefix: &str| {
        let statement = |l: &&Value| l["statement"].as_str().map(str::to_owned);
        lines
            .iter()
            .find(|l| statement(l).is_some_and(|s| s == prefix))
            .or_else(|| lines.iter().find(|l| statement(l).is_some_and(|s| s.starts_with(prefix))))
            .unwrap_or_else(|| panic!("{prefix}"))
    };
    let outcome = |prefix: &str| at(prefix)["outcome"].as_str().unwrap().to_owned();
    assert_eq!(outcome("CREATE LINK analytics_link AS S3 CONFIG"), "created");
    assert_eq!(outcome("CREATE LINK IF NOT EXISTS analytics_link"), "unchanged");
    assert_eq!(outcome("CREATE OR REPLACE LINK analytics_link AS S3"), "ok");
    assert_eq!(outcome("CREATE OR REPLACE LINK fresh"), "created");
    assert_eq!(outcome("TEST LINK IF EXISTS nothing"), "skipped");
    assert_eq!(outcome("DROP LINK IF EXISTS shared"), "skipped");
    let error = |prefix: &str| {
        let line = at(prefix);
        assert_eq!(line["outcome"], "error", "{prefix}: {line}");
        format!("{}: {}", line["error"]["code"].as_str().unwrap(), line["error"]["message"].as_str().unwrap())
    };
    assert!(error("CREATE LINK analytics_link AS S3").starts_with("already_exists: "));
    let type_change = error("CREATE OR REPLACE LINK analytics_link AS KAFKA");
    assert!(type_change.starts_with("invalid: ") && type_change.contains("KAFKA"), "{type_change}");
    assert!(error("CREATE LINK dangling").starts_with("not_found: vault entry \"nothing\""));
    assert!(error("CREATE LINK keyed").starts_with("invalid: vault entry \"data_key\" is an ENCRYPTION_KEY"));
    assert!(error("CREATE LINK leaky").contains("CONFIG key \"aws_secret_access_key\" looks like a secret"));
    assert!(error("SHOW LINKS ON nowhere").starts_with("not_found: database \"nowhere\" does not exist"));
    assert!(error("USE nowhere").starts_with("not_found: database \"nowhere\" does not exist"));
    assert!(error("ALTER LINK nothing").starts_with("not_found: link \"default.nothing\" does not exist"));
    assert!(error("ALTER LINK nowhere.l").starts_with("not_found: database \"nowhere\" does not exist"));
    assert!(error("ALTER LINK shared SET CREDENTIALS ::aws_access_key_id").contains("CREDENTIALS FROM VAULT"));
    assert!(error("TEST LINK nothing").starts_with("not_found: "));

    let rows = |prefix: &str| at(prefix)["rows"].as_array().unwrap().clone();
    let names = |rows: &[Value]| rows.iter().map(|r| r["Link"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(
        at("SHOW LINKS").as_object().unwrap()["columns"],
        serde_json::json!(["Link", "Type", "Description", "Config"])
    );
    assert_eq!(names(&rows("SHOW LINKS")), ["analytics_link", "fresh", "shared"]);
    assert_eq!(names(&rows("SHOW LINKS LIKE")), ["analytics_link"]);
    let on_db1 = rows("SHOW LINKS ON db1");
    assert_eq!(names(&on_db1), ["events"]);
    assert_eq!(on_db1[0]["Type"], "KAFKA");
    assert_eq!(on_db1[0]["Config"], r#"{"security.protocol":"SASL_SSL"}"#);
    assert_eq!(rows("SHOW LINKS")[0]["Description"], "raw data");
    assert_eq!(rows("SHOW LINKS")[1]["Description"], Value::Null);

    // OR REPLACE took the credentials from the vault entry; SHOW CREATE LINK names it.
    let replaced = &rows("SHOW CREATE LINK analytics_link")[0];
    assert_eq!(replaced["Link Name"], "analytics_link");
    assert_eq!(
        replaced["Create Link"],
        "CREATE LINK `analytics_link` AS S3\n    CONFIG \"{\\\"region\\\":\\\"eu-west-1\\\"}\"\n    CREDENTIALS FROM VAULT `aws_analytics`\n    DESCRIPTION 'raw data'"
    );
    // A link in another database, and the same through USE.
    let events = "CREATE LINK `events` AS KAFKA\n    CONFIG \"{\\\"security.protocol\\\":\\\"SASL_SSL\\\"}\"\n    \
                  CREDENTIALS <CREDENTIALS REDACTED>";
    assert_eq!(rows("SHOW CREATE LINK db1.events")[0]["Create Link"], events);
    // After ALTER LINK db1.events SET CONFIG ::sasl.mechanism = 'PLAIN': a new (dotted) key goes last.
    let altered = events.replace("SASL_SSL\\\"}", "SASL_SSL\\\",\\\"sasl.mechanism\\\":\\\"PLAIN\\\"}");
    assert_eq!(rows("SHOW CREATE LINK events")[0]["Create Link"], altered.as_str());
    assert_eq!(at("USE db1")["message"], "database is now \"db1\"");
    // SHOW LINKS without ON lists the session's database: default, then db1 after USE db1, then default again.
    let show_links: Vec<Vec<String>> =
        lines.iter().filter(|l| l["statement"] == "SHOW LINKS").map(|l| names(l["rows"].as_array().unwrap())).collect();
    assert_eq!(
        show_links,
        [vec!["analytics_link", "fresh", "shared"], vec!["events"], vec!["analytics_link", "fresh"]]
    );
    // DROP LINK IF EXISTS under USE db1 looked in db1, not in default.
    assert_eq!(
        at("DROP LINK IF EXISTS analytics_link")["message"],
        "link \"db1.analytics_link\" does not exist; nothing done"
    );

    // TEST LINK of a type without a probe: UNSUPPORTED, a result and not an error, with what is missing.
    let test = at("TEST LINK db1.events");
    assert_eq!(test["outcome"], "unsupported");
    assert_eq!(test["columns"], serde_json::json!(["result", "latency_ms", "server_version", "error"]));
    assert_eq!(test["rows"][0]["result"], "UNSUPPORTED");
    let reason = test["rows"][0]["error"].as_str().unwrap();
    assert_eq!(
        reason,
        "no probe for link type KAFKA in this build; the link is stored and resolves its credentials, but Lanyard \
         cannot check it"
    );
    // DESCRIBE LINK: properties, and of the credentials only where they live.
    let described: std::collections::BTreeMap<String, Value> = rows("DESCRIBE LINK analytics_link")
        .iter()
        .map(|r| (r["property"].as_str().unwrap().to_owned(), r["value"].clone()))
        .collect();
    assert_eq!(described["credentials"], "vault entry aws_analytics");
    assert_eq!(described["config"], r#"{"region":"eu-west-1"}"#);
    assert_eq!((described["database"].as_str(), described["type"].as_str()), (Some("default"), Some("S3")));
    assert_eq!(outcome("DESCRIBE LINK IF EXISTS nothing"), "skipped");

    // The state at the end: ALTERs applied in place, FROM VAULT where asked, the dropped links gone.
    let analytics = create_link_text(&env, "analytics_link");
    assert_eq!(
        analytics,
        "CREATE LINK `analytics_link` AS S3\n    CONFIG \"{\\\"disable_gunzip\\\":true}\"\n    CREDENTIALS <CREDENTIALS REDACTED>\n    DESCRIPTION 'raw data'"
    );
    assert!(create_link_text(&env, "fresh").contains("\n    CREDENTIALS FROM VAULT `aws_analytics`"));
    let final_links = env.ok("SHOW LINKS");
    assert_eq!(names(final_links["rows"].as_array().unwrap()), ["analytics_link", "fresh"]);
    // A database stays when its last link goes: a session that USEs it keeps working.
    let empty = env.ok("SHOW LINKS ON db1");
    assert_eq!(empty["rows"], serde_json::json!([]), "{empty}");
    env.assert_no_canary_anywhere(&[canary]);
}

#[test]
fn every_database_statement_form_runs_with_its_documented_outcome() {
    let env = start();
    let long = "d".repeat(129);
    let script = format!(
        r#"
-- SHOW DATABASES, CREATE DATABASE [IF NOT EXISTS]; SCHEMA is a synonym
SHOW DATABASES;
CREATE DATABASE analytics;
CREATE DATABASE analytics;
CREATE DATABASE IF NOT EXISTS analytics;
CREATE SCHEMA `my db`;
CREATE DATABASE {long};
SHOW DATABASES;
SHOW SCHEMAS LIKE 'ANA';
-- an empty database can be used at once; CREATE LINK still creates its database
USE analytics;
SHOW LINKS;
CREATE LINK events AS S3 CONFIG '{{"region":"us-east-1"}}';
CREATE LINK staging.events AS S3;
SHOW DATABASES;
-- DROP DATABASE [IF EXISTS]
DROP DATABASE analytics;
DROP DATABASE default;
DROP DATABASE nowhere;
DROP DATABASE IF EXISTS nowhere;
SHOW LINKS ON nowhere;
DROP LINK events;
DROP DATABASE analytics;
SHOW LINKS;
USE analytics;
SHOW LINKS ON analytics;
DROP SCHEMA IF EXISTS `my db`;
DROP DATABASE IF EXISTS `my db`;
DROP LINK staging.events;
DROP DATABASE staging;
SHOW DATABASES;
"#
    );
    let (run, lines) = env.json(&script);
    assert_eq!(run.code, 1, "statement errors make exit code 1:\n{}", run.stderr);
    let statements = script.lines().filter(|l| l.ends_with(';')).count();
    assert_eq!(lines.len(), statements, "{}", transcript(&lines));
    // The name that is too long is refused by the parser, which does not echo it: the line shows `(line 8)`.
    insta::assert_snapshot!("every_database_form", transcript(&lines));

    // What the transcript cannot show: the rows, in the one column MySQL prints, sorted by name.
    let shown: Vec<Vec<String>> = lines
        .iter()
        .filter(|l| l["statement"].as_str().is_some_and(|s| s.starts_with("SHOW DATABASES")))
        .map(|l| {
            assert_eq!(l["columns"], serde_json::json!(["Database"]), "{l}");
            l["rows"].as_array().unwrap().iter().map(|r| r["Database"].as_str().unwrap().to_owned()).collect()
        })
        .collect();
    assert_eq!(
        shown,
        [
            vec!["default"],
            vec!["analytics", "default", "my db"],
            vec!["analytics"],
            vec!["analytics", "default", "my db", "staging"],
            vec!["default"],
        ]
    );
    // After DROP DATABASE of the session's database, unqualified names are in `default` again.
    let in_default = lines.iter().filter(|l| l["statement"] == "SHOW LINKS").map(|l| l["message"].clone());
    assert_eq!(
        in_default.collect::<Vec<_>>(),
        ["0 links in database \"analytics\"", "0 links in database \"default\""]
    );
    // Each change is audited (a database made by CREATE LINK is recorded as the link's creation).
    let audited: Vec<(String, String)> = env
        .audit()
        .iter()
        .filter(|r| r["action"].as_str().is_some_and(|a| a.starts_with("database.")))
        .map(|r| (r["action"].as_str().unwrap().to_owned(), r["object_name"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [
        ("database.create", "analytics"),
        ("database.create", "my db"),
        ("database.drop", "analytics"),
        ("database.drop", "my db"),
        ("database.drop", "staging"),
    ];
    assert_eq!(audited, expected.map(|(a, n)| (a.to_owned(), n.to_owned())));

    // In the shell, whose session lives across inputs: the next statement runs in `default`.
    let input = "CREATE DATABASE scratch;\nUSE scratch;\nDROP DATABASE scratch;\nSHOW LINKS;\nquit\n";
    let shell = env.sql(&["--interactive"], Some(input));
    assert_eq!(shell.code, 0, "{shell:?}");
    assert!(shell.stdout.contains("the session's database is now \"default\""), "{shell:?}");
    assert!(shell.stdout.ends_with("0 links in database \"default\"\n\n"), "{shell:?}");
}

#[test]
fn bad_link_statements_are_refused_with_a_clear_message_and_change_nothing() {
    let env = start();
    let canary = "canary-refused-0c47d5";
    env.ok(&format!(
        "CREATE LINK analytics_link AS S3 CONFIG '{{\"disable_gunzip\":false}}' CREDENTIALS '{{\"aws_access_key_id\":\"k\",\"aws_secret_access_key\":\"{canary}\"}}'"
    ));
    env.ok("CREATE LINK db1.other AS MYSQL CONFIG '{\"host\":\"127.0.0.1\"}'");
    let state = |env: &Env| {
        (
            create_link_text(env, "analytics_link"),
            env.ok("SHOW LINKS")["rows"].clone(),
            env.ok("SHOW LINKS ON db1")["rows"].clone(),
            env.audit().len(),
        )
    };
    let before = state(&env);

    let long = "l".repeat(129);
    let cases: Vec<(String, &str)> = vec![
        // Syntax errors: nothing is sent.
        ("ALTER LINK analytics_link SET CONFIG 'not json'".to_owned(), "SET CONFIG is not valid JSON"),
        ("ALTER LINK analytics_link SET CONFIG '[\"region\"]'".to_owned(), "SET CONFIG must be a JSON object"),
        (format!("ALTER LINK analytics_link SET CREDENTIALS '{canary} not json'"), "SET CREDENTIALS is not valid JSON"),
        (format!("ALTER LINK analytics_link SET CREDENTIALS '\"{canary}\"'"), "SET CREDENTIALS must be a JSON object"),
        ("CREATE LINK other AS S3 CONFIG 'region=us-east-1'".to_owned(), "CONFIG is not valid JSON"),
        (format!("CREATE LINK other AS S3 CREDENTIALS '[\"{canary}\"]'"), "CREDENTIALS must be a JSON object"),
        (
            "ALTER LINK analytics_link SET CONFIG '{}' SET CONFIG ::region = 'us-east-1'".to_owned(),
            "ALTER LINK accepts at most one SET CONFIG clause",
        ),
        (
            format!("ALTER LINK analytics_link SET CREDENTIALS FROM VAULT e SET CREDENTIALS ::k = '{canary}'"),
            "ALTER LINK accepts at most one SET CREDENTIALS clause",
        ),
        (format!("CREATE LINK {long} AS S3"), "invalid link name: name is 129 characters long; the limit is 128"),
        (format!("SHOW CREATE LINK db1.{long}"), "invalid link name: name is 129 characters long"),
        (
            "CREATE OR REPLACE LINK IF NOT EXISTS l AS S3".to_owned(),
            "OR REPLACE and IF NOT EXISTS cannot be used together",
        ),
        // Refused by the Control Plane.
        ("ALTER LINK nothing SET CONFIG ::region = 'us-east-1'".to_owned(), "link \"default.nothing\" does not exist"),
        (
            format!("ALTER LINK nothing SET CREDENTIALS ::aws_secret_access_key = '{canary}'"),
            "link \"default.nothing\" does not exist",
        ),
        ("CREATE OR REPLACE LINK analytics_link AS GCS".to_owned(), "cannot change its type to GCS"),
        ("CREATE LINK analytics_link AS S3".to_owned(), "link \"default.analytics_link\" already exists"),
        ("ALTER LINK nowhere.analytics_link SET CONFIG '{}'".to_owned(), "database \"nowhere\" does not exist"),
        ("SHOW LINKS ON nowhere".to_owned(), "database \"nowhere\" does not exist"),
        ("SHOW CREATE LINK nowhere.analytics_link".to_owned(), "database \"nowhere\" does not exist"),
        ("DROP LINK nowhere.analytics_link".to_owned(), "database \"nowhere\" does not exist"),
        ("USE nowhere".to_owned(), "database \"nowhere\" does not exist"),
        ("ALTER LINK analytics_link SET CONFIG ::token = 'x'".to_owned(), "CONFIG key \"token\" looks like a secret"),
        (
            "ALTER LINK analytics_link SET CONFIG ::region = 'eu' SET CREDENTIALS FROM VAULT nothing".to_owned(),
            "vault entry \"nothing\" does not exist",
        ),
        ("ALTER LINK analytics_link SET CREDENTIALS ::aws_secret_access_key = '***'".to_owned(), "that is a redaction"),
    ];
    for (sql, message) in &cases {
        let stderr = env.fails(sql);
        assert!(stderr.starts_with("error: "), "{sql}\n{stderr}");
        assert!(stderr.contains(message), "{sql}\nexpected {message:?} in:\n{stderr}");
        // Located: the report points into the statement.
        assert!(stderr.contains("\n --> 1:") && stderr.contains("\n1 | "), "{sql}\n{stderr}");
    }
    assert_eq!(state(&env), before, "a refused statement changed something");

    // USE of an unknown database leaves the session where it was: in the shell, the next statement still runs in
    // `default`.
    let shell = env.sql(&["--interactive"], Some("USE nowhere;\nSHOW LINKS;\nquit\n"));
    assert!(shell.stderr.contains("database \"nowhere\" does not exist"), "{shell:?}");
    assert!(shell.stdout.contains("| analytics_link |") && shell.stdout.contains("1 link in database \"default\""));
    env.assert_no_canary_anywhere(&[canary]);
}

/// `docs/quickstart-links.sql`, as the README tells a newcomer to use it.
const QUICKSTART_LINKS: &str = include_str!("../../../docs/quickstart-links.sql");

/// The README, whose links quick start shows an excerpt of that file and what its `SHOW CREATE LINK … \G` prints.
const README: &str = include_str!("../../../README.md");

/// Where the quick start expects moto (`-- $ target/moto-venv/bin/moto_server -H 127.0.0.1 -p 5000`).
const QUICKSTART_MOTO: &str = "http://127.0.0.1:5000";

/// The README's section on the links quick start.
const README_LINKS_SECTION: &str = "## Quick start: a link to S3";

/// `lanyard fmt` of `sql`: its statements in canonical form, one per line.
fn canonical(home: &Path, sql: &str) -> Vec<String> {
    let mut command = Command::new(LANYARD);
    command.arg("fmt");
    let Output { status, stdout, stderr } = run_client(command, home, sql.as_bytes());
    assert!(status.success(), "lanyard fmt failed on:\n{sql}\n{}", String::from_utf8_lossy(&stderr));
    String::from_utf8(stdout).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn the_links_quickstart_works_as_written() {
    let moto = moto_url();
    let env = start();
    // The made-up credentials of the file: none may be shown, logged or stored in plain text.
    let credentials = [
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AKIAI44QH8DHBEXAMPLE",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    ];
    for credential in credentials {
        assert!(QUICKSTART_LINKS.contains(credential), "{credential} is no longer in the quick start");
    }
    // The other terminal's line starts moto where the file expects it; the suite's moto is already running.
    assert!(
        QUICKSTART_LINKS.lines().any(|l| l == "-- $ target/moto-venv/bin/moto_server -H 127.0.0.1 -p 5000"),
        "the quick start no longer starts moto on 127.0.0.1:5000"
    );

    // The file as written, but for moto's address, from a file as `lanyard sql -f` runs it.
    assert!(QUICKSTART_LINKS.contains(QUICKSTART_MOTO));
    let script = env.home.join("quickstart-links.sql");
    std::fs::write(&script, QUICKSTART_LINKS.replace(QUICKSTART_MOTO, &moto)).unwrap();
    let run = env.sql(&["-f", script.to_str().unwrap()], None);
    assert_eq!(run.code, 0, "every statement succeeds and every TEST passes: {run:?}");
    assert_eq!(run.stderr, "", "{run:?}");

    // Each TEST LINK passed: the first with the keys of CREATE LINK, the second after the secret changed, the third
    // in the second database.
    let tests: Vec<String> = run
        .stdout
        .lines()
        .filter(|l| l.contains("\": PASSED in ") || l.contains("\": FAILED in "))
        .map(mask_latency)
        .collect();
    assert_eq!(
        tests,
        [
            "link \"default.analytics_link\": PASSED in N ms",
            "link \"default.analytics_link\": PASSED in N ms",
            "link \"staging.analytics_link\": PASSED in N ms",
        ],
        "{}",
        run.stdout
    );

    // The README shows exactly what `SHOW CREATE LINK analytics_link \G` prints, up to the blank line after it.
    let readme = fenced_blocks(README);
    let shown: Vec<_> = readme.iter().filter(|b| b.info == "text" && b.text.contains(ROW_1)).collect();
    assert_eq!(shown.len(), 1, "the README shows one vertical result");
    let at = run.stdout.find(ROW_1).expect("the \\G result");
    assert_eq!(run.stdout.matches(ROW_1).count(), 1, "{}", run.stdout);
    let end = at + run.stdout[at..].find("\n\n").expect("the blank line after a result") + 1;
    let printed = run.stdout[at..end].replace(&moto, QUICKSTART_MOTO);
    assert_eq!(printed, shown[0].text, "README.md:{}: not what lanyard sql prints", shown[0].line);

    // The README's excerpt is the file's statements, in the file's order.
    let start = README.find(README_LINKS_SECTION).expect("the README's links quick start");
    let section_end = README[start + 3..].find("\n## ").map_or(README.len(), |at| start + 3 + at);
    let excerpt: Vec<String> = fenced_blocks(&README[start..section_end])
        .iter()
        .filter(|b| b.info == "sql")
        .flat_map(|b| canonical(env.home.path(), &b.text))
        .collect();
    assert!(excerpt.len() >= 6, "{excerpt:#?}");
    let file = canonical(env.home.path(), QUICKSTART_LINKS);
    let mut rest = file.iter();
    for statement in &excerpt {
        assert!(rest.any(|s| s == statement), "the README's {statement:?} is not in the file, in this order");
    }

    // Where the file leaves things: the link altered in `default`, `staging` empty (a database stays when its last
    // link goes).
    let config = &env.ok("SHOW LINKS")["rows"][0]["Config"];
    let expected = format!(r#"{{"region":"us-west-2","endpoint_url":"{moto}","disable_gunzip":false}}"#);
    assert_eq!(config.as_str(), Some(expected.as_str()));
    assert_eq!(env.ok("SHOW LINKS ON staging")["rows"], serde_json::json!([]));
    env.assert_no_canary_anywhere(&credentials);
}
