//! CSV as PostgreSQL's `COPY … (FORMAT csv)` reads it, so that the PostgreSQL target can stream a file into COPY
//! untouched and the MySQL target reads the same rows from it. Kept to those rules on purpose, including the odd
//! ones: a quote may open anywhere in a field (`a"b,c"d` is `ab,cd`), and an escape character other than the quote
//! escapes only the quote and itself.

use std::borrow::Cow;

use lanyard_core::{CsvFormat, TableRef};

use super::columns::find;
use super::{Cell, Column, LoadError, Prepared, Rows};

/// The three characters of a CSV dialect, as bytes (all ASCII).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dialect {
    /// Between fields.
    pub(crate) delimiter: u8,
    /// Around a quoted field (or part of one).
    pub(crate) quote: u8,
    /// Inside quotes, before the quote or itself; the quote when there is no other.
    pub(crate) escape: u8,
}

impl Dialect {
    /// RFC 4180: `,`, `"`, quotes doubled.
    #[cfg(test)]
    pub(crate) const STANDARD: Self = Self { delimiter: b',', quote: b'"', escape: b'"' };

    /// The dialect of `FORMAT CSV …`; a character that is not one ASCII byte other than a line end (which
    /// `LoadFormat::check` refuses at CREATE PIPELINE) is a permanent target error.
    pub(crate) fn of(options: &CsvFormat) -> Result<Self, LoadError> {
        let byte = |what: &str, c: char| match u8::try_from(c) {
            Ok(b) if b.is_ascii() && b != b'\n' && b != b'\r' => Ok(b),
            _ => Err(LoadError::permanent(format!("{what} must be one ASCII character other than a line end"))),
        };
        let delimiter = byte("FIELDS TERMINATED BY", options.delimiter)?;
        let quote = byte("FIELDS ENCLOSED BY", options.enclosed_by)?;
        let escape = match options.escaped_by {
            Some(c) => byte("FIELDS ESCAPED BY", c)?,
            None => quote,
        };
        if delimiter == quote || delimiter == escape {
            return Err(LoadError::permanent("FIELDS TERMINATED BY must differ from ENCLOSED BY and ESCAPED BY"));
        }
        Ok(Self { delimiter, quote, escape })
    }
}

/// A record that cannot be read: an unterminated quoted field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// The line the record starts on.
    pub(crate) line: u64,
}

impl Malformed {
    /// As a [`LoadError::Rejected`].
    pub(crate) fn rejected(self) -> LoadError {
        LoadError::rejected(self.line, None, "unterminated quoted field")
    }
}

/// The records of CSV text, with the line each starts on.
pub(crate) struct Records<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
    dialect: Dialect,
    /// PostgreSQL's COPY line counter for the text (see [`record_of_copy_line`]): one per record, plus one per line
    /// end inside quotes that matches the text's line-end style.
    copy_line: u64,
    /// The byte COPY counts inside quotes: `\n` once the first unquoted line end was `\n`, else `\r`.
    copy_eol: Option<u8>,
}

impl<'a> Records<'a> {
    /// The records of `text`, whose first line is line `first_line` of the file.
    pub(crate) fn new(text: &'a str, first_line: u64, dialect: Dialect) -> Self {
        Self { text, pos: 0, line: first_line, dialect, copy_line: 0, copy_eol: None }
    }

    /// Where the next record starts, in bytes of the text.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The line the next record starts on.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Reads the next record's fields into `fields` (cleared first; an unquoted empty field is [`Cell::Null`])
    /// and returns the line it starts on, or `None` at the end of the text.
    pub(crate) fn next_into(&mut self, fields: &mut Vec<Cell<'a>>) -> Result<Option<u64>, Malformed> {
        let bytes = self.text.as_bytes();
        if self.pos >= bytes.len() {
            return Ok(None);
        }
        let Dialect { delimiter, quote, escape } = self.dialect;
        let start_line = self.line;
        self.copy_line += 1;
        fields.clear();
        loop {
            let field_start = self.pos;
            // Once a quote is seen the field is built here; `segment` is where the bytes not yet copied start.
            let mut built: Option<String> = None;
            let mut segment = self.pos;
            let mut in_quote = false;
            let (field_end, last) = loop {
                let Some(&c) = bytes.get(self.pos) else {
                    if in_quote {
                        return Err(Malformed { line: start_line });
                    }
                    break (self.pos, true);
                };
                if in_quote {
                    let next = bytes.get(self.pos + 1).copied();
                    if c == escape && (next == Some(escape) || next == Some(quote)) {
                        let out = built.get_or_insert_with(String::new);
                        out.push_str(&self.text[segment..self.pos]);
                        out.push(char::from(bytes[self.pos + 1]));
                        self.pos += 2;
                        segment = self.pos;
                        continue;
                    }
                    if c == quote {
                        let out = built.get_or_insert_with(String::new);
                        out.push_str(&self.text[segment..self.pos]);
                        in_quote = false;
                        self.pos += 1;
                        segment = self.pos;
                        continue;
                    }
                    if c == b'\n' || (c == b'\r' && next != Some(b'\n')) {
                        self.line += 1;
                    }
                    if c == self.copy_eol.unwrap_or(b'\r') {
                        self.copy_line += 1;
                    }
                    self.pos += 1;
                } else if c == delimiter {
                    self.pos += 1;
                    break (self.pos - 1, false);
                } else if c == b'\n' || c == b'\r' {
                    self.copy_eol.get_or_insert(c);
                    let end = self.pos;
                    self.pos += if c == b'\r' && bytes.get(self.pos + 1) == Some(&b'\n') { 2 } else { 1 };
                    self.line += 1;
                    break (end, true);
                } else if c == quote {
                    let out = built.get_or_insert_with(String::new);
                    out.push_str(&self.text[segment..self.pos]);
                    in_quote = true;
                    self.pos += 1;
                    segment = self.pos;
                } else {
                    self.pos += 1;
                }
            };
            let cell = match built {
                Some(mut out) => {
                    out.push_str(&self.text[segment..field_end]);
                    Cell::Text(Cow::Owned(out))
                }
                None if field_start == field_end => Cell::Null,
                None => Cell::Text(Cow::Borrowed(&self.text[field_start..field_end])),
            };
            fields.push(cell);
            if last {
                return Ok(Some(start_line));
            }
        }
    }
}

/// The byte offset after the first `lines` lines of `text` (a line ends at `\n`, `\r\n` or `\r`), or its length.
fn skip_lines(text: &str, lines: u32) -> (usize, u64) {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut skipped = 0;
    while skipped < lines && pos < bytes.len() {
        match bytes[pos] {
            b'\n' => skipped += 1,
            b'\r' if bytes.get(pos + 1) != Some(&b'\n') => skipped += 1,
            _ => {}
        }
        pos += 1;
    }
    (pos, u64::from(skipped))
}

/// Reads the header (or takes the column list), matches the names to `table_columns`, and finds the data.
pub(crate) fn prepare<'a>(
    options: &CsvFormat,
    text: &'a str,
    table: &TableRef,
    table_columns: &[Column],
) -> Result<Prepared<'a>, LoadError> {
    let dialect = Dialect::of(options)?;
    let (skip, skipped) = skip_lines(text, options.ignore_lines);
    let rest = &text[skip..];
    let mut records = Records::new(rest, 1 + skipped, dialect);
    let columns = match &options.columns {
        Some(names) => {
            let mut columns = Vec::with_capacity(names.len());
            for name in names {
                let index = find(name, table_columns).map_err(|m| {
                    LoadError::permanent(format!("the pipeline's column list: {}", m.reason(name, table)))
                })?;
                if columns.contains(&index) {
                    let reason = format!("the pipeline's column list names column \"{name}\" twice");
                    return Err(LoadError::permanent(reason));
                }
                columns.push(index);
            }
            columns
        }
        None => {
            let mut header = Vec::new();
            let Some(line) = records.next_into(&mut header).map_err(Malformed::rejected)? else {
                // An empty file: no header, no rows.
                return Ok(Prepared { columns: Vec::new(), rows: Rows::Csv { data: "", first_line: 1, dialect } });
            };
            let mut columns = Vec::with_capacity(header.len());
            for (i, name) in header.iter().enumerate() {
                let name = match name {
                    Cell::Text(name) if !name.is_empty() => name,
                    _ => return Err(LoadError::rejected(line, None, format!("header field {} is empty", i + 1))),
                };
                let index = find(name, table_columns)
                    .map_err(|m| LoadError::rejected(line, Some(name), m.reason(name, table)))?;
                if columns.contains(&index) {
                    let column = table_columns[index].name.as_str();
                    let reason = format!("the header names column \"{column}\" twice");
                    return Err(LoadError::rejected(line, Some(column), reason));
                }
                columns.push(index);
            }
            columns
        }
    };
    let data = rest[records.position()..].trim_end_matches(['\n', '\r']);
    Ok(Prepared { columns, rows: Rows::Csv { data, first_line: records.line(), dialect } })
}

/// The file line of the record PostgreSQL's COPY names as `line n` of `data`. COPY's count is neither records nor
/// physical lines: one per record, plus one per line end inside quotes that matches the text's line-end style
/// (`\n`, or `\r` for `\r\n` and `\r` files, and `\r` while the first record is read, before the style is known),
/// and it names the line a record ends on. Past the end, or at a malformed record, the line reading stopped at.
pub(crate) fn record_of_copy_line(data: &str, first_line: u64, dialect: Dialect, n: u64) -> u64 {
    let mut records = Records::new(data, first_line, dialect);
    let mut fields = Vec::new();
    loop {
        match records.next_into(&mut fields) {
            Ok(Some(start)) if records.copy_line >= n => return start,
            Ok(Some(_)) => {}
            Ok(None) => return records.line(),
            Err(malformed) => return malformed.line,
        }
    }
}

/// Whether a line of `data` is `\.` alone, which PostgreSQL's COPY (before version 18) reads as the end of the data
/// even in CSV: such a file is rewritten rather than streamed. Quotes are not considered, so a `\.` line inside a
/// quoted field also answers yes (and costs only the rewrite).
pub(crate) fn has_end_of_copy_line(data: &str) -> bool {
    let bytes = data.as_bytes();
    let mut from = 0;
    while let Some(found) = bytes[from..].iter().position(|&b| b == b'\\') {
        let at = from + found;
        let line_start = at == 0 || matches!(bytes[at - 1], b'\n' | b'\r');
        let dot = bytes.get(at + 1) == Some(&b'.');
        let line_end = matches!(bytes.get(at + 2), None | Some(b'\n') | Some(b'\r'));
        if line_start && dot && line_end {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    type Read = Vec<(u64, Vec<Option<String>>)>;

    fn read(text: &str, dialect: Dialect) -> Result<Read, Malformed> {
        let mut records = Records::new(text, 1, dialect);
        let mut fields = Vec::new();
        let mut out = Vec::new();
        while let Some(line) = records.next_into(&mut fields)? {
            let fields = fields
                .iter()
                .map(|f| match f {
                    Cell::Null => None,
                    Cell::Text(t) => Some(t.to_string()),
                    Cell::Bool(b) => Some(b.to_string()),
                })
                .collect();
            out.push((line, fields));
        }
        Ok(out)
    }

    fn s(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn fields_follow_postgresql_csv_rules() {
        let rows = read("a,\"b,c\",,\"\"\n\"x\"\"y\",a\"b,c\"d\r\nlast", Dialect::STANDARD).unwrap();
        assert_eq!(
            rows,
            vec![(1, vec![s("a"), s("b,c"), None, s("")]), (2, vec![s("x\"y"), s("ab,cd")]), (3, vec![s("last")]),]
        );
    }

    #[test]
    fn quoted_line_ends_are_data_and_lines_are_still_counted() {
        let rows = read("1,\"two\nlines\"\n2,\"three\r\n\r\nlines\"\n3,x\n", Dialect::STANDARD).unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 3, 6]);
        assert_eq!(rows[1].1[1], s("three\r\n\r\nlines"));
    }

    #[test]
    fn copy_line_numbers_map_to_the_records_they_name() {
        // What PostgreSQL 15 reported for these files (psql \copy, the last record's bad value): lines 7, 6 and 4.
        let at = |data: &str, n| record_of_copy_line(data, 10, Dialect::STANDARD, n);
        let nl = "1,\"two\nlines\",1\n2,\"a\r\nb\",2\n3,\"x\ny\nz\",3\n4,ok,abc\n";
        assert_eq!([1, 2, 3, 4, 5, 6, 7].map(|n| at(nl, n)), [10, 12, 12, 14, 14, 14, 17]);
        let first_cr = "1,\"a\r\nb\",1\n2,\"x\ny\nz\",3\n4,ok,abc\n";
        assert_eq!(at(first_cr, 6), 15);
        let crlf = "1,\"a\nb\",1\r\n2,\"x\r\ny\nz\",3\r\n4,ok,abc\r\n";
        assert_eq!(at(crlf, 4), 15);
        assert_eq!(at(crlf, 99), 16);
    }

    #[test]
    fn an_escape_escapes_only_the_quote_and_itself() {
        let dialect = Dialect { delimiter: b';', quote: b'\'', escape: b'\\' };
        let rows = read("'it\\'s';'a\\\\b';'c\\d';'x''y'\n", dialect).unwrap();
        assert_eq!(rows, vec![(1, vec![s("it's"), s("a\\b"), s("c\\d"), s("xy")])]);
    }

    #[test]
    fn an_unterminated_quote_names_the_line_its_record_starts_on() {
        assert_eq!(read("a\nb,\"open\nmore\n", Dialect::STANDARD), Err(Malformed { line: 2 }));
    }

    #[test]
    fn blank_lines_are_one_null_field_and_trailing_ones_are_cut() {
        assert_eq!(
            read("a\n\nb", Dialect::STANDARD).unwrap(),
            vec![(1, vec![s("a")]), (2, vec![None]), (3, vec![s("b")])]
        );
        let table = [Column { name: "a".into(), generated: false }];
        let prepared = prepare(&CsvFormat::default(), "a\n1\n\n\r\n", &"t".parse().unwrap(), &table).unwrap();
        assert!(matches!(prepared.rows, Rows::Csv { data: "1", first_line: 2, .. }), "{prepared:?}");
    }

    #[test]
    fn ignored_lines_and_the_header_set_the_first_data_line() {
        let table: Vec<Column> =
            ["id", "name"].iter().map(|n| Column { name: (*n).into(), generated: false }).collect();
        let options = CsvFormat { ignore_lines: 2, ..CsvFormat::default() };
        let prepared = prepare(&options, "junk\r\nmore junk\nname,ID\nx,1\n", &"t".parse().unwrap(), &table).unwrap();
        assert_eq!(prepared.columns, [1, 0]);
        assert!(matches!(prepared.rows, Rows::Csv { data: "x,1", first_line: 4, .. }), "{prepared:?}");

        let error = prepare(&options, "a\nb\nid,nope\n", &"s.t".parse().unwrap(), &table).unwrap_err();
        assert_eq!(error, LoadError::rejected(3, Some("nope"), "column \"nope\" does not exist in table \"s.t\""));
        let twice = prepare(&CsvFormat::default(), "id,Id\n", &"t".parse().unwrap(), &table).unwrap_err();
        assert_eq!(twice, LoadError::rejected(1, Some("id"), "the header names column \"id\" twice"));
        let empty = prepare(&CsvFormat::default(), "id,\n", &"t".parse().unwrap(), &table).unwrap_err();
        assert_eq!(empty, LoadError::rejected(1, None, "header field 2 is empty"));
    }

    #[test]
    fn a_column_list_replaces_the_header() {
        let table: Vec<Column> =
            ["id", "name"].iter().map(|n| Column { name: (*n).into(), generated: false }).collect();
        let options = CsvFormat { columns: Some(vec!["name".into(), "id".into()]), ..CsvFormat::default() };
        let prepared = prepare(&options, "x,1\n", &"t".parse().unwrap(), &table).unwrap();
        assert_eq!(prepared.columns, [1, 0]);
        assert!(matches!(prepared.rows, Rows::Csv { data: "x,1", first_line: 1, .. }));
        let options = CsvFormat { columns: Some(vec!["nope".into()]), ..CsvFormat::default() };
        let error = prepare(&options, "x\n", &"t".parse().unwrap(), &table).unwrap_err();
        assert!(!error.is_temporary() && matches!(error, LoadError::Target { .. }), "{error:?}");
    }

    #[test]
    fn end_of_copy_lines_are_found() {
        assert!(has_end_of_copy_line("\\.\n1"));
        assert!(has_end_of_copy_line("1\n\\."));
        assert!(has_end_of_copy_line("1\r\n\\.\r\n2"));
        assert!(!has_end_of_copy_line("1\n\\.x\n2\\.\n\\"));
    }
}
