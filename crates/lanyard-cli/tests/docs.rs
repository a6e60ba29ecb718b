//! The documents promise only what runs.
//!
//! - Every ```sql block of the README and `docs/` is checked by the real `lanyard check`. A block followed by
//!   "`lanyard check script.sql` prints" must fail exactly as the ```text block after it shows; every other block
//!   must parse without an error.
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
