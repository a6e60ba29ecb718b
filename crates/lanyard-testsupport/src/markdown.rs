//! [`fenced_blocks`]: the fenced code blocks of a Markdown document, for the tests that hold the README and `docs/`
//! to what the binary does.

/// One fenced code block: its info string, its text, the line its fence opens on, and the prose around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencedBlock {
    /// The info string after the opening fence (`sql`, `text`, …), trimmed; empty when there is none.
    pub info: String,
    /// The lines between the fences, each ending in `\n`, with the opening fence's indentation removed.
    pub text: String,
    /// The 1-based line of the opening fence.
    pub line: usize,
    /// The prose between the previous block (or the document's start) and this block.
    pub before: String,
    /// The prose between this block's closing fence and the next block (or the document's end).
    pub after: String,
}

/// Every fenced code block of `markdown`, in order. A fence is a line whose first non-blank characters are
/// ```` ``` ````; an indented block (inside a list item) loses its fence's indentation from each of its lines.
///
/// # Panics
///
/// When a block is never closed: a document with a broken fence is a bug to fix, not to read around.
pub fn fenced_blocks(markdown: &str) -> Vec<FencedBlock> {
    let mut blocks: Vec<FencedBlock> = Vec::new();
    // The block being read: info string, opening line, indentation, text.
    let mut open: Option<(String, usize, usize, String)> = None;
    let mut prose = String::new();
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let is_fence = trimmed.starts_with("```");
        match &mut open {
            None if is_fence => {
                if let Some(last) = blocks.last_mut() {
                    last.after.clone_from(&prose);
                }
                let indent = line.len() - trimmed.len();
                open = Some((trimmed.trim_start_matches('`').trim().to_owned(), index + 1, indent, String::new()));
            }
            None => {
                prose.push_str(line);
                prose.push('\n');
            }
            Some((info, start, _, text)) if is_fence => {
                blocks.push(FencedBlock {
                    info: std::mem::take(info),
                    text: std::mem::take(text),
                    line: *start,
                    before: std::mem::take(&mut prose),
                    after: String::new(),
                });
                open = None;
            }
            Some((_, _, indent, text)) => {
                let strip = line.len() - line.trim_start_matches(' ').len();
                text.push_str(&line[strip.min(*indent)..]);
                text.push('\n');
            }
        }
    }
    if let Some((_, start, _, _)) = open {
        panic!("the fenced block opened on line {start} is never closed");
    }
    if let Some(last) = blocks.last_mut() {
        last.after = prose;
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_come_with_their_info_text_line_and_prose() {
        let markdown = "# Title\nIntro.\n\n```sql\nSELECT 1;\n```\nBetween.\n```\nplain\n```\nEnd.\n";
        let blocks = fenced_blocks(markdown);
        assert_eq!(
            blocks,
            [
                FencedBlock {
                    info: "sql".into(),
                    text: "SELECT 1;\n".into(),
                    line: 4,
                    before: "# Title\nIntro.\n\n".into(),
                    after: "Between.\n".into(),
                },
                FencedBlock {
                    info: String::new(),
                    text: "plain\n".into(),
                    line: 8,
                    before: "Between.\n".into(),
                    after: "End.\n".into(),
                },
            ]
        );
    }

    #[test]
    fn an_indented_block_loses_its_fences_indentation_only() {
        let markdown = "- item:\n\n  ```text\n  first\n      indented\n  ```\n";
        let blocks = fenced_blocks(markdown);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].info, "text");
        assert_eq!(blocks[0].text, "first\n    indented\n");
    }

    #[test]
    fn an_unclosed_block_is_a_loud_failure() {
        let panic = std::panic::catch_unwind(|| fenced_blocks("text\n```sql\nSELECT 1;\n")).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a formatted panic message");
        assert_eq!(message, "the fenced block opened on line 2 is never closed");
    }
}
