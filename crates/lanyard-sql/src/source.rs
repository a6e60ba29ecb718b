//! Positions in the source text.

use std::fmt;

/// A position in the source: 1-based line and column (in characters), and the 0-based byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Location {
    /// Line, starting at 1.
    pub line: u32,
    /// Column in characters, starting at 1.
    pub column: u32,
    /// Byte offset from the start of the source.
    pub offset: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A half-open range of the source: `start` is the first character, `end` the position just after the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First character.
    pub start: Location,
    /// Just after the last character.
    pub end: Location,
}

impl Span {
    /// The source text this span covers.
    pub fn slice<'a>(&self, source: &'a str) -> &'a str {
        &source[self.start.offset..self.end.offset]
    }
}

/// Maps the tokenizer's line/column pairs to byte offsets.
pub(crate) struct LineIndex<'a> {
    source: &'a str,
    /// Byte offset at which each line starts.
    starts: Vec<usize>,
    /// For a non-ASCII source, the byte offset of every character, so that a column maps to an offset in O(1)
    /// (for ASCII, the column is the offset). Empty for ASCII sources.
    char_offsets: Vec<usize>,
    /// For a non-ASCII source, the index in `char_offsets` of each line's first character.
    line_chars: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        let (char_offsets, line_chars) = if source.is_ascii() {
            (Vec::new(), Vec::new())
        } else {
            let char_offsets: Vec<usize> = source.char_indices().map(|(i, _)| i).collect();
            let line_chars = starts.iter().map(|&start| char_offsets.partition_point(|&o| o < start)).collect();
            (char_offsets, line_chars)
        };
        Self { source, starts, char_offsets, line_chars }
    }

    /// The text of line `line` (1-based), without its line terminator.
    pub(crate) fn line_text(&self, line: u32) -> &'a str {
        let index = (line.max(1) - 1) as usize;
        let Some(&start) = self.starts.get(index) else {
            return "";
        };
        let end = self.starts.get(index + 1).map_or(self.source.len(), |&next| next - 1);
        self.source[start..end].trim_end_matches('\r')
    }

    /// The location of a tokenizer line/column pair (clamped to the source).
    pub(crate) fn location(&self, line: u64, column: u64) -> Location {
        let line = line.max(1);
        let column = column.max(1);
        let Some(&start) = self.starts.get((line - 1) as usize) else {
            return self.end();
        };
        let text = &self.source[start..];
        let skip = (column - 1) as usize;
        let within = if self.char_offsets.is_empty() {
            skip.min(text.len())
        } else {
            let line_end = self.starts.get(line as usize).map_or(self.source.len(), |&next| next);
            let index = self.line_chars[(line - 1) as usize] + skip;
            self.char_offsets.get(index).map_or(line_end, |&o| o.min(line_end)) - start
        };
        Location { line: line as u32, column: column as u32, offset: start + within }
    }

    /// The location just after the last character.
    pub(crate) fn end(&self) -> Location {
        let line = self.starts.len();
        let start = self.starts[line - 1];
        let column = self.source[start..].chars().count() + 1;
        Location { line: line as u32, column: column as u32, offset: self.source.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_and_unicode_columns_to_offsets() {
        let src = "ab\né€x\r\nlast";
        let index = LineIndex::new(src);
        assert_eq!(index.location(1, 1).offset, 0);
        assert_eq!(index.location(2, 3).offset, src.find('x').unwrap());
        assert_eq!(index.line_text(2), "é€x");
        assert_eq!(index.line_text(3), "last");
        assert_eq!(index.end(), Location { line: 3, column: 5, offset: src.len() });
        assert_eq!(index.location(9, 1), index.end());
    }
}
