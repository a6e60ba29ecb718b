//! The documents promise only what runs.
//!
//! - Every ```sql block of the README and `docs/` is checked by the real `lanyard check`. A block followed by
//!   "`lanyard check script.sql` prints" must fail exactly as the ```text block after it shows; every other block
//!   must parse without an error.
//! - Every ```text block of the README and `docs/` is output, and says what produces it with a marker comment
//!   `<!-- output: … -->` right before it: a `lanyard …` command, run here on the ```sql block above it and compared
//!   byte for byte (`LANYARD_UPDATE_DOCS=1` rewrites them, to review like a snapshot), or `test <file>, `<fn>``, a
//!   test elsewhere that compares it. Grammar and commands to type use other info strings (```bnf, ```sh).
//! - Every `.sql` file under `docs/` names in its header (`-- Run by: <file>, `<fn>``) the test that runs it as
//!   written against a real server; `docs/examples/tour.sql`, every statement form, is run here.
//! - In the "Links" part of `docs/sql-reference.md`, every ```text block right after a ```sql block is what the
//!   binary prints for it, byte for byte: the seed's examples (`… SHOW CREATE LINK … \G`) run in order against a
//!   real `lanyard serve`, starting from the seed's CREATE LINK; the other blocks are `lanyard fmt`'s canonical form.
//!   `docs/cli.md`'s vertical example is one of those outputs.

use std::path::{Path, PathBuf};
use std::process::Command;

use lanyard_testsupport::{FencedBlock, LanyardServer, TempDir, fenced_blocks, run_client};

/// The documents whose SQL blocks are checked.
const DOCUMENTS: &[&str] = &[
    "README.md",
    "docs/sql-reference.md",
    "docs/backends.md",
    "docs/connectors.md",
    "docs/cli.md",
    "docs/pipelines.md",
];

/// What introduces the expected output of a block that is meant to fail.
const EXPECTED_OUTPUT: &str = "`lanyard check script.sql` prints";

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// The seed document, byte-identical to `shared/seeds/` (checked by `cargo xtask tidy`).
const SEED: &str = include_str!("../../lanyard-sql/tests/seeds/singlestore-alter-link.txt");

/// The header of the first row of the vertical (`\G`) form.
const ROW_1: &str = "*************************** 1. row ***************************";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(document: &str) -> String {
    std::fs::read_to_string(workspace_root().join(document)).unwrap_or_else(|e| panic!("cannot read {document}: {e}"))
}

/// Runs `lanyard check script.sql` on `sql` in a fresh directory: (exit code, stdout + stderr).
fn check(sql: &str) -> (i32, String) {
    let dir = TempDir::new("docs-check");
    std::fs::write(dir.path().join("script.sql"), sql).unwrap();
    let output = Command::new(LANYARD)
        .args(["check", "script.sql"])
        .current_dir(dir.path())
        .output()
        .expect("run lanyard check");
    let mut text = String::from_utf8(output.stdout).unwrap();
    text.push_str(&String::from_utf8(output.stderr).unwrap());
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn every_sql_block_of_the_documents_does_what_the_documents_say() {
    let mut checked = 0;
    let mut failing = 0;
    for document in DOCUMENTS {
        let markdown = read(document);
        let all = fenced_blocks(&markdown);
        for (index, block) in all.iter().enumerate() {
            if block.info != "sql" {
                continue;
            }
            checked += 1;
            let (code, output) = check(&block.text);
            let place = format!("{document}:{}", block.line);
            if block.after.contains(EXPECTED_OUTPUT) {
                failing += 1;
                let expected = all.get(index + 1).filter(|next| next.info == "text").unwrap_or_else(|| {
                    panic!("{place}: the expected output after {EXPECTED_OUTPUT:?} is not a text block")
                });
                assert_eq!(code, 1, "{place}: lanyard check should fail:\n{output}");
                assert_eq!(output, expected.text, "{place}: the documented output differs from lanyard check's");
            } else {
                assert_eq!(code, 0, "{place}: this SQL block does not parse:\n{output}");
            }
        }
    }
    // The reference alone has more than twenty blocks, and one documented failure.
    assert!(checked > 20, "only {checked} SQL blocks found");
    assert!(failing >= 1, "the documented failing script was not found");
}

/// The blocks of `markdown` under the level-2 heading `heading`, up to the next level-2 heading.
fn section_blocks(markdown: &str, heading: &str) -> Vec<FencedBlock> {
    let lines: Vec<&str> = markdown.lines().collect();
    let start = lines.iter().position(|l| *l == heading).unwrap_or_else(|| panic!("no heading {heading:?}")) + 1;
    let end = lines[start..].iter().position(|l| l.starts_with("## ")).map_or(lines.len(), |at| start + at) + 1;
    fenced_blocks(markdown).into_iter().filter(|b| (start..end).contains(&b.line)).collect()
}

/// What one `lanyard` run printed.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `lanyard <args…>` in `home` with `stdin`, and `token` in `LANYARD_TOKEN` if given.
fn lanyard(home: &Path, args: &[&str], stdin: &str, token: Option<&str>) -> Run {
    let mut command = Command::new(LANYARD);
    command.args(args);
    if let Some(token) = token {
        command.env("LANYARD_TOKEN", token);
    }
    let output = run_client(command, home, stdin.as_bytes());
    Run {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[test]
fn the_links_reference_shows_what_the_binary_prints() {
    let server = LanyardServer::start(Path::new(LANYARD), &[]);
    let home = TempDir::new("docs-links");
    let token = server.admin_token();
    let sql = |statements: &str| lanyard(home.path(), &["sql", "--server", server.url(), statements], "", Some(&token));

    let reference = read("docs/sql-reference.md");
    let blocks = section_blocks(&reference, "## Links");
    let mut created = false;
    let mut ran = Vec::new();
    let mut formatted = 0;
    for pair in blocks.windows(2) {
        let [statements, output] = pair else { unreachable!("windows of two") };
        if statements.info != "sql" || output.info != "text" {
            continue;
        }
        let place = format!("docs/sql-reference.md:{}", output.line);
        if statements.text.contains("\\G") {
            // One of the seed's examples, as the seed writes it, run where the previous one left the link.
            assert!(created, "{place}: an example comes before the seed's CREATE LINK");
            for line in statements.text.lines() {
                assert!(SEED.lines().any(|l| l.trim() == line.trim()), "{place}: {line:?} is not the seed's text");
            }
            let run = sql(&statements.text);
            assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{place}: {run:?}");
            let at = run.stdout.find(ROW_1).unwrap_or_else(|| panic!("{place}: nothing vertical: {run:?}"));
            let (altered, shown) = run.stdout.split_at(at);
            assert!(
                altered.starts_with("link \"default.analytics_link\" altered (") && altered.lines().count() == 1,
                "{place}: {altered:?}"
            );
            // The statement's output, then the blank line that ends every result set.
            assert_eq!(shown, format!("{}\n", output.text), "{place}: the text block is not what lanyard sql prints");
            ran.push(output.text.clone());
        } else {
            let run = lanyard(home.path(), &["fmt"], &statements.text, None);
            assert_eq!(run.code, 0, "{place}: {run:?}");
            assert_eq!(run.stdout, output.text, "{place}: the text block is not what lanyard fmt prints");
            formatted += 1;
            if statements.text.starts_with("CREATE LINK analytics_link AS S3\n") {
                // The seed's link, which its examples start from.
                let run = sql(&statements.text);
                assert_eq!(
                    (run.code, run.stdout.as_str()),
                    (0, "link \"default.analytics_link\" created\n"),
                    "{run:?}"
                );
                created = true;
            }
        }
    }
    assert_eq!(ran.len(), 7, "the seven ALTER LINK examples of the seed, each with its output");
    assert_eq!(formatted, 3, "the seed's CREATE LINK, the other CREATE LINK forms, the canonical ALTER LINK forms");

    // docs/cli.md shows the vertical form with one of these outputs (its shell transcript, with `\x`, is checked in
    // tests/shell.rs).
    let cli = fenced_blocks(&read("docs/cli.md"));
    let vertical: Vec<&FencedBlock> =
        cli.iter().filter(|b| b.text.contains(ROW_1) && b.text.contains("Create Link: ")).collect();
    assert_eq!(vertical.len(), 1, "docs/cli.md's example of \\G");
    assert!(ran.contains(&vertical[0].text), "docs/cli.md:{}: not an output shown in the reference", vertical[0].line);
}

/// Every `.sql` file under `dir`, as paths relative to `root`.
fn sql_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sql_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// Whether the source before a `fn` ends with a test attribute (`#[test]`, `#[tokio::test…]`).
fn is_test(before: &str) -> bool {
    let before = before.trim_end();
    let attribute = before.strip_suffix("async").unwrap_or(before).trim_end().lines().last().unwrap_or_default().trim();
    attribute == "#[test]" || attribute.starts_with("#[tokio::test")
}

/// A header line of a documented script: `-- <key>: <value>`.
fn header<'a>(script: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("-- {key}: ");
    script.lines().take_while(|l| l.starts_with("--") || l.is_empty()).find_map(|l| l.strip_prefix(prefix.as_str()))
}

/// Every SQL file under `docs/` says in its header which test runs it (`-- Run by: <test file>, `<test>``), and
/// that test exists, is a test, and reads the file. With the test named, the script is run as written (each named
/// test asserts that every statement succeeds and what its TESTs report).
#[test]
fn every_sql_file_under_docs_names_the_test_that_runs_it() {
    let root = workspace_root().canonicalize().unwrap();
    let mut files = Vec::new();
    sql_files(&root, &root.join("docs"), &mut files);
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for relative in &files {
        let script = std::fs::read_to_string(root.join(relative)).unwrap();
        let run_by = header(&script, "Run by")
            .unwrap_or_else(|| panic!("{relative}: no `-- Run by: <test file>, `<test>`` line in its header"));
        let (test_file, test) = run_by.split_once(", ").expect("`<test file>, `<test>``");
        let test = test.trim_matches('`');
        let source = std::fs::read_to_string(root.join(test_file))
            .unwrap_or_else(|e| panic!("{relative}: the test file {test_file} it names: {e}"));
        let at =
            source.find(&format!("fn {test}()")).unwrap_or_else(|| panic!("{relative}: no fn {test} in {test_file}"));
        assert!(is_test(&source[..at]), "{relative}: {test_file}'s {test} is not a test");
        let name = Path::new(relative).file_name().unwrap().to_str().unwrap();
        assert!(source.contains(name), "{relative}: {test_file} does not read {name}");
    }
}

/// `docs/examples/tour.sql`, every statement form in one script.
const TOUR: &str = include_str!("../../../docs/examples/tour.sql");

/// Where the tour expects moto and the Lanyard server.
const TOUR_MOTO: &str = "http://127.0.0.1:5000";
const TOUR_SERVER: &str = "endpoint = 'http://127.0.0.1:7600/healthz'";

/// The tour, run as written against a real `lanyard serve` (runner off) and the suite's moto: every statement
/// succeeds and every TEST passes (exit 0, nothing on stderr).
#[test]
fn the_tour_runs_as_written() {
    // The build must have every backend the header names: a test that needs one fails loudly without it.
    let needs = header(TOUR, "Needs").expect("the tour's `-- Needs:` line");
    let backends = lanyard(Path::new("."), &["backends"], "", None);
    for feature in needs.split(", ") {
        let kind = feature.strip_prefix("vault-").expect("a vault-* feature").to_ascii_uppercase();
        assert!(
            backends.stdout.lines().any(|l| l.starts_with(&format!("{kind} ("))),
            "the tour needs {feature}; run the suite with it (cargo xtask test runs --all-features):\n{}",
            backends.stdout
        );
    }
    let moto = lanyard_testsupport::moto_url();
    let server = LanyardServer::start(Path::new(LANYARD), &["--no-pipelines"]);
    let home = TempDir::new("docs-tour");
    assert_eq!(TOUR.matches(TOUR_SERVER).count(), 1, "the REST connection tests the server");
    assert!(TOUR.contains(TOUR_MOTO));
    let script = home.path().join("tour.sql");
    std::fs::write(
        &script,
        TOUR.replace(TOUR_MOTO, &moto).replace(TOUR_SERVER, &format!("endpoint = '{}/healthz'", server.url())),
    )
    .unwrap();
    let token = server.admin_token();
    let run = lanyard(
        home.path(),
        &["sql", "--server", server.url(), "--format", "json", "-f", script.to_str().unwrap()],
        "",
        Some(&token),
    );
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let lines: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (_, checked) = check(TOUR);
    let statements: usize = checked.trim().strip_suffix(" statements OK").and_then(|n| n.parse().ok()).unwrap();
    assert_eq!(lines.len(), statements, "one result per statement: {}", run.stdout);
    let tests: Vec<String> = lines
        .iter()
        .filter(|l| l["statement"].as_str().is_some_and(|s| s.starts_with("TEST ")))
        .map(|l| format!("{} {}", l["statement"].as_str().unwrap(), l["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tests,
        ["TEST CREDENTIAL STORAGE prod_aws_sm_eu passed", "TEST CONNECTION new_name passed"],
        "{}",
        run.stdout
    );
    // Where the tour leaves things: everything it made is gone again, but for `default`.
    let after = lanyard(
        home.path(),
        &["sql", "--server", server.url(), "--format", "json", "SHOW CONNECTIONS; SHOW CREDENTIALS; SHOW DATABASES"],
        "",
        Some(&token),
    );
    assert_eq!(after.code, 0, "{after:?}");
    let rows: Vec<usize> = after
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["rows"].as_array().unwrap().len())
        .collect();
    assert_eq!(rows, [0, 0, 1], "{}", after.stdout);
}

/// Every document of the project: the README and everything under `docs/`.
fn all_documents() -> Vec<String> {
    let mut documents = vec!["README.md".to_owned()];
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    names.sort();
    documents.extend(names);
    documents
}

/// What produces an output block: the marker `<!-- output: … -->` on the last line of prose before it.
#[derive(Debug)]
enum Producer {
    /// `lanyard …` (optionally `echo "…" | lanyard …`, optionally `| tail -1`), run here on the nearest ```sql block
    /// above it.
    Command { stdin: Option<String>, args: Vec<String>, last_line: bool, merged: bool },
    /// `test <file>, `<fn>``: a test elsewhere compares the block with what the binary prints.
    Test { file: String, test: String },
}

/// Splits a marker's command line into words; `"…"` groups words (no escapes: markers are short).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    assert!(!quoted, "unbalanced quotes in {line:?}");
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn producer(marker: &str) -> Producer {
    if let Some(rest) = marker.strip_prefix("test ") {
        let (file, test) = rest.split_once(", ").expect("`test <file>, `<fn>``");
        return Producer::Test { file: file.to_owned(), test: test.trim_matches('`').to_owned() };
    }
    let (command, last_line) = match marker.strip_suffix(" | tail -1") {
        Some(command) => (command, true),
        None => (marker, false),
    };
    let (command, merged) = match command.strip_suffix(" 2>&1") {
        Some(command) => (command, true),
        None => (command, false),
    };
    let (stdin, command) = match command.strip_prefix("echo ") {
        Some(rest) => {
            let (text, command) = rest.split_once(" | ").expect("echo \"…\" | lanyard …");
            (Some(format!("{}\n", text.trim_matches('"'))), command)
        }
        None => (None, command),
    };
    let mut args = words(command);
    assert_eq!(args.first().map(String::as_str), Some("lanyard"), "a marker command runs lanyard: {marker:?}");
    args.remove(0);
    Producer::Command { stdin, args, last_line, merged }
}

/// `expired 2531 days ago` → `expired N days ago`: how long ago a date was depends on the day the test runs.
fn mask_days(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" days ago") {
        let digits = rest[..at].chars().rev().take_while(char::is_ascii_digit).count();
        out.push_str(&rest[..at - digits]);
        out.push_str(if digits > 0 { "N" } else { "" });
        out.push_str(" days ago");
        rest = &rest[at + " days ago".len()..];
    }
    out.push_str(rest);
    out
}

/// Runs `lanyard <args…>` in `home` with `stdin`, both output streams into one file in the order they were written
/// (as a terminal shows them).
fn lanyard_merged(home: &Path, args: &[&str], stdin: &str) -> String {
    let path = home.join("merged-output");
    let file = std::fs::File::create(&path).unwrap();
    let mut command = Command::new(LANYARD);
    command
        .args(args)
        .env("HOME", home)
        .env("LANYARD_HISTORY", home.join("history"))
        .env_remove("LANYARD_SERVER")
        .env_remove("RUST_LOG")
        .current_dir(home)
        .stdin(std::process::Stdio::piped())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    let mut child = command.spawn().expect("run lanyard");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    child.wait().unwrap();
    std::fs::read_to_string(path).unwrap()
}

/// Every ```text block of the README and `docs/` shows what the binary prints, and says what produces it: a marker
/// `<!-- output: … -->` as the last line of prose before it. A `lanyard …` command is run here, on the nearest
/// ```sql block above (written to the `.sql` file the command names, or given on standard input when it reads `-`),
/// and its standard output then standard error (or, with `2>&1`, both as written, as a terminal shows them) must be
/// the block, byte for byte but for day counts (`expired N days ago`). A `test <file>, `<fn>`` names the
/// test that compares it; that test must exist and read the document. Blocks that are not output (grammar, commands
/// to type) use another info string: ```bnf, ```sh.
#[test]
fn every_output_block_says_what_produces_it_and_is_that_output() {
    let root = workspace_root();
    let mut run = 0;
    let mut delegated = 0;
    for document in all_documents() {
        let markdown = read(&document);
        let blocks = fenced_blocks(&markdown);
        let mut updates = Vec::new();
        for (index, block) in blocks.iter().enumerate() {
            if block.info != "text" {
                continue;
            }
            let place = format!("{document}:{}", block.line);
            let marker = block
                .before
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| l.trim().strip_prefix("<!-- output: "))
                .and_then(|l| l.strip_suffix(" -->"))
                .unwrap_or_else(|| panic!("{place}: a text block without `<!-- output: … -->` right before it"));
            match producer(marker) {
                Producer::Test { file, test } => {
                    let source = std::fs::read_to_string(root.join(&file))
                        .unwrap_or_else(|e| panic!("{place}: the test file {file}: {e}"));
                    let at = source
                        .find(&format!("fn {test}()"))
                        .unwrap_or_else(|| panic!("{place}: no fn {test} in {file}"));
                    assert!(is_test(&source[..at]), "{place}: {file}'s {test} is not a test");
                    let name = Path::new(&document).file_name().unwrap().to_str().unwrap();
                    assert!(source.contains(name), "{place}: {file} does not read {name}");
                    delegated += 1;
                }
                Producer::Command { stdin, args, last_line, merged } => {
                    let dir = TempDir::new("docs-output");
                    let sql = blocks[..index].iter().rev().find(|b| b.info == "sql").map(|b| b.text.clone());
                    let mut input = stdin.unwrap_or_default();
                    for arg in &args {
                        let needs_sql = arg.ends_with(".sql") || (arg == "-" && input.is_empty());
                        if !needs_sql {
                            continue;
                        }
                        let sql = sql.as_deref().unwrap_or_else(|| panic!("{place}: no ```sql block above for {arg}"));
                        if arg.ends_with(".sql") {
                            std::fs::write(dir.path().join(arg), sql).unwrap();
                        } else {
                            input = sql.to_owned();
                        }
                    }
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let mut printed = if merged {
                        lanyard_merged(dir.path(), &args, &input)
                    } else {
                        let output = lanyard(dir.path(), &args, &input, None);
                        output.stdout + &output.stderr
                    };
                    if last_line {
                        printed = format!("{}\n", printed.lines().last().unwrap_or_default());
                    }
                    if std::env::var_os(UPDATE_DOCS).is_some() {
                        updates.push((block.line, printed));
                    } else {
                        assert_eq!(
                            mask_days(&printed),
                            mask_days(&block.text),
                            "{place}: not what `{marker}` prints (see {UPDATE_DOCS})"
                        );
                    }
                    run += 1;
                }
            }
        }
        if !updates.is_empty() {
            rewrite_blocks(&document, &markdown, &updates);
        }
    }
    assert!(run >= 10 && delegated >= 5, "{run} blocks produced here, {delegated} by named tests");
}

/// Set to rewrite the output blocks that commands produce with what they print now (`LANYARD_UPDATE_DOCS=1 cargo
/// xtask test -p lanyard-cli -E 'test(every_output_block)'`); review the diff as you would a snapshot's.
const UPDATE_DOCS: &str = "LANYARD_UPDATE_DOCS";

/// Replaces the text of the blocks whose opening fence is on the given lines, keeping each fence's indentation.
fn rewrite_blocks(document: &str, markdown: &str, updates: &[(usize, String)]) {
    let mut lines: Vec<String> = markdown.lines().map(str::to_owned).collect();
    for (fence, text) in updates.iter().rev() {
        let indent: String = lines[fence - 1].chars().take_while(|c| *c == ' ').collect();
        let close = (*fence..lines.len()).find(|&i| lines[i].trim_start().starts_with("```")).expect("a closing fence");
        let body = text.lines().map(|l| if l.is_empty() { String::new() } else { format!("{indent}{l}") });
        lines.splice(*fence..close, body);
    }
    let mut rewritten = lines.join("\n");
    rewritten.push('\n');
    std::fs::write(workspace_root().join(document), rewritten).unwrap();
}
