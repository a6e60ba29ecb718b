//! The documents promise only what runs: every ```sql block of the README and `docs/` is checked by the real
//! `lanyard check`. A block followed by "`lanyard check script.sql` prints" must fail exactly as the ```text block
//! after it shows; every other block must parse without an error.

use std::path::{Path, PathBuf};
use std::process::Command;

use lanyard_testsupport::TempDir;

/// The documents whose SQL blocks are checked.
const DOCUMENTS: &[&str] =
    &["README.md", "docs/sql-reference.md", "docs/backends.md", "docs/connectors.md", "docs/cli.md"];

/// What introduces the expected output of a block that is meant to fail.
const EXPECTED_OUTPUT: &str = "`lanyard check script.sql` prints";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One fenced block: its info string, its text and the line its fence opens on.
struct Block {
    info: String,
    text: String,
    line: usize,
    /// The prose between this block's closing fence and the next block.
    after: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    let mut prose = String::new();
    for (index, line) in markdown.lines().enumerate() {
        match &mut open {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    if let Some(last) = blocks.last_mut() {
                        last.after = std::mem::take(&mut prose);
                    }
                    open = Some((info.trim().to_owned(), index + 1, String::new()));
                } else {
                    prose.push_str(line);
                    prose.push('\n');
                }
            }
            Some((info, start, text)) => {
                if line.starts_with("```") {
                    blocks.push(Block {
                        info: std::mem::take(info),
                        text: std::mem::take(text),
                        line: *start,
                        after: String::new(),
                    });
                    open = None;
                    prose.clear();
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "a fenced block is never closed");
    if let Some(last) = blocks.last_mut() {
        last.after = prose;
    }
    blocks
}

/// Runs `lanyard check script.sql` on `sql` in a fresh directory: (exit code, stdout + stderr).
fn check(sql: &str) -> (i32, String) {
    let dir = TempDir::new("docs-check");
    std::fs::write(dir.path().join("script.sql"), sql).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lanyard"))
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
        let markdown = std::fs::read_to_string(workspace_root().join(document))
            .unwrap_or_else(|e| panic!("cannot read {document}: {e}"));
        let all = blocks(&markdown);
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
