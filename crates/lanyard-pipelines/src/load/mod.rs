//! Loading one file into a target table, exactly once: [`load_postgres`] and [`load_mysql`] turn a file's bytes
//! ([`LoadFormat`]: CSV or JSON lines) into rows of a PostgreSQL or MySQL/MariaDB table, in **one transaction of
//! the target** that also writes the file's row of the ledger. Either both are there or neither is; a file is never
//! half-loaded and never loaded twice.
//!
//! # The ledger
//!
//! Each target keeps the table `lanyard_pipeline_ledger`, one row per file a pipeline loaded, in the schema
//! (PostgreSQL) or database (MySQL) of the table it loads — for a table named without a schema, the one the table is
//! found in (PostgreSQL's `search_path`; MySQL's current database). The loader creates it when it is missing (two
//! loaders creating it at the same moment is fine); a role that may not create tables in that schema needs it
//! created beforehand, with the statement below.
//!
//! | column | PostgreSQL | MySQL / MariaDB | holds |
//! |---|---|---|---|
//! | `pipeline_id` | `uuid` | `CHAR(36)` | the pipeline's id (SHOW PIPELINES has it) |
//! | `object_key` | `text` | `VARBINARY(1024)`, UTF-8 (`CAST(object_key AS CHAR)` reads it) | the file's key |
//! | `etag` | `text` | `VARCHAR(1024)` | the file's ETag or version when it was loaded, if the store gave one |
//! | `rows_loaded` | `bigint` | `BIGINT` | how many rows the file added |
//! | `loaded_at` | `timestamptz` | `DATETIME(6)`, UTC | when its transaction ran |
//!
//! The primary key is `(pipeline_id, object_key)`. Loading a file starts by inserting its ledger row, before any of
//! its rows: a second loader of the same key (another node, a retry after a crash) waits on that row and then finds
//! it there, and reports [`Loaded::Earlier`] without loading anything. A key counts once whatever its ETag: a file
//! rewritten under the same key is not loaded again.
//!
//! Users may read the ledger (it is the answer to "was this file loaded, when, how many rows"); nothing else should
//! write to it. Without its row this loader would load a key again, but the runner also skips every file the catalog
//! records as Loaded (and only ever adds ledger keys to the catalog), so deleting a ledger row does not reload a file:
//! upload it under a new key for that.
//!
//! ```sql
//! -- PostgreSQL
//! CREATE TABLE IF NOT EXISTS "<schema>".lanyard_pipeline_ledger (
//!     pipeline_id uuid NOT NULL,
//!     object_key text NOT NULL,
//!     etag text,
//!     rows_loaded bigint NOT NULL,
//!     loaded_at timestamptz NOT NULL DEFAULT now(),
//!     PRIMARY KEY (pipeline_id, object_key)
//! );
//! -- MySQL / MariaDB
//! CREATE TABLE IF NOT EXISTS `<database>`.lanyard_pipeline_ledger (
//!     pipeline_id CHAR(36) CHARACTER SET ascii NOT NULL,
//!     object_key VARBINARY(1024) NOT NULL,
//!     etag VARCHAR(1024),
//!     rows_loaded BIGINT NOT NULL,
//!     loaded_at DATETIME(6) NOT NULL,
//!     PRIMARY KEY (pipeline_id, object_key)
//! ) ENGINE = InnoDB;
//! ```
//!
//! # Formats
//!
//! A file is UTF-8 (a leading byte-order mark is dropped). Columns are matched by name — exactly, or else ignoring
//! case when that names one column — and a table column the file does not name gets its default.
//!
//! **CSV** follows PostgreSQL's `COPY … (FORMAT csv)` rules, for both targets: records end at a line end outside
//! quotes; `ENCLOSED BY` quotes a field or part of one, and inside quotes a doubled quote stands for the quote (or,
//! with `ESCAPED BY c`, `c` before the quote or before `c` stands for that character); an **unquoted empty field is
//! NULL**, a quoted one (`""`) the empty string. `IGNORE n LINES` skips `n` lines first; then, without a column list,
//! the next record is the header naming the columns. Blank lines at the end of a file are ignored; a blank line
//! elsewhere is a record of one empty field.
//!
//! **JSON lines**: one object per line, blank lines skipped; each key names a column, `null` and a key absent from a
//! line load as NULL (a key that some line has is a column of every row), strings as their text, numbers as written,
//! `true`/`false` as the target's boolean text (PostgreSQL `true`/`false`, MySQL `TRUE`/`FALSE`, i.e. 1/0), and
//! nested objects and arrays as their JSON text.
//!
//! # Targets
//!
//! PostgreSQL: `COPY "schema"."table" (columns) FROM STDIN (FORMAT csv, DELIMITER …, QUOTE …, ESCAPE …)` with the
//! file's CSV bytes streamed as they are, so the server does the parsing, as `psql \copy` would. JSON lines (and a
//! CSV file with a line that is `\.` alone, which COPY before PostgreSQL 18 takes for the end of the data) are
//! rewritten in COPY's text format, one line per row. The transaction is `READ COMMITTED`. COPY's error context
//! (`COPY t, line 3, column b: "x"`) names a line by COPY's own count, which is mapped back to the record's first
//! line in the file. A table named with capitals that does not exist as written is looked up in lowercase, the way
//! PostgreSQL folds unquoted names.
//!
//! MySQL / MariaDB: multi-row ``INSERT INTO `db`.`table` (columns) VALUES (…), (…)`` statements of up to
//! [`MYSQL_BATCH_ROWS`] rows in one `READ COMMITTED` transaction, with `STRICT_ALL_TABLES` added to the session's
//! `sql_mode` for the load (and the mode put back after), so a value the column refuses is an error rather than a
//! warning and a silently changed value. A refused row is found from the server's `at row N`, or, when the message
//! has none (`Column 'x' cannot be null`), by replaying the failed statement's rows one by one inside the doomed
//! transaction. `LOAD DATA LOCAL INFILE` is not used: MySQL 8 servers refuse it by default (`local_infile=OFF`)
//! and its field rules (`\N`, backslash escapes) differ from the CSV rules above.
//!
//! # Errors
//!
//! [`LoadError::Rejected`]: the file does not fit the table (wrong field count, a value the column's type refuses, a
//! NULL in a NOT NULL column, a header column the table lacks, invalid JSON, a line that is not an object, bytes
//! that are not UTF-8); nothing of it was loaded and loading it again fails the same way. [`LoadError::Target`]: the
//! target failed for a reason that is not this file's rows (a missing table, a permission, a lost connection, a
//! deadlock); `temporary` says whether trying again later may help without anyone changing anything. A reason quotes
//! at most the offending value, cut to [`MAX_QUOTED_CHARS`] characters.
//!
//! If a load's future is dropped before it finishes, the session may be left inside the transaction: discard it.

mod columns;
mod csv;
mod json;
mod mysql;
mod postgres;

use std::borrow::Cow;

use lanyard_core::{LoadFormat, PipelineId, TableRef};

pub use mysql::{MYSQL_BATCH_ROWS, ledger_mysql, load_mysql};
pub use postgres::{ledger_postgres, load_postgres};

/// The name of the ledger table, in the target table's schema (PostgreSQL) or database (MySQL).
pub const LEDGER_TABLE: &str = "lanyard_pipeline_ledger";

/// The most characters of one value a [`LoadError`] reason quotes; longer values are cut with `…`.
pub const MAX_QUOTED_CHARS: usize = 64;

/// The longest reason a [`LoadError`] carries, in characters.
const MAX_REASON_CHARS: usize = 400;

/// One file of a pipeline, to load.
#[derive(Debug, Clone, Copy)]
pub struct FileToLoad<'a> {
    /// The pipeline loading it: the ledger row is `(pipeline, key)`.
    pub pipeline: PipelineId,
    /// The file's key in the object store.
    pub key: &'a str,
    /// The file's ETag or version, if the store gave one; recorded in the ledger.
    pub etag: Option<&'a str>,
    /// The file's bytes.
    pub body: &'a [u8],
}

/// What loading a file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// The file was loaded now, in one transaction with its ledger row.
    Now {
        /// Rows added to the table.
        rows: u64,
    },
    /// The ledger already had this key: nothing was loaded now.
    Earlier {
        /// The rows its earlier load added, as the ledger says.
        rows: u64,
    },
}

impl Loaded {
    /// The rows the file added, now or earlier.
    pub fn rows(&self) -> u64 {
        match *self {
            Self::Now { rows } | Self::Earlier { rows } => rows,
        }
    }
}

/// Why a file was not loaded. Nothing of it was: the transaction was rolled back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file does not fit the table; nothing of it was loaded. Permanent for this version of the file.
    #[error("{}", rejected_message(*line, column.as_deref(), reason))]
    Rejected {
        /// The 1-based line of the file where the offending record starts; 0 when the target did not say which
        /// (a constraint checked at commit).
        line: u64,
        /// The target column's name, when known.
        column: Option<String>,
        /// What was wrong, quoting at most the offending value.
        reason: String,
    },
    /// The target failed in a way that is not about this file's rows (connection lost, timeout, deadlock,
    /// serialization failure, missing table, permission): may succeed later.
    #[error("{reason}")]
    Target {
        /// What failed.
        reason: String,
        /// Whether trying again later may succeed with no change by anyone (a lost connection, a deadlock), as
        /// opposed to needing one (a missing table, a permission).
        temporary: bool,
    },
}

impl LoadError {
    /// Whether trying the same file again later may succeed with no change by anyone.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Target { temporary: true, .. })
    }

    /// A [`LoadError::Rejected`], its reason cut.
    pub(crate) fn rejected(line: u64, column: Option<&str>, reason: impl Into<String>) -> Self {
        Self::Rejected { line, column: column.map(str::to_owned), reason: cut_reason(&reason.into()) }
    }

    /// A permanent [`LoadError::Target`], its reason cut.
    pub(crate) fn permanent(reason: impl Into<String>) -> Self {
        Self::Target { reason: cut_reason(&reason.into()), temporary: false }
    }

    /// A [`LoadError::Target`], its reason cut.
    pub(crate) fn target(reason: impl Into<String>, temporary: bool) -> Self {
        Self::Target { reason: cut_reason(&reason.into()), temporary }
    }
}

fn rejected_message(line: u64, column: Option<&str>, reason: &str) -> String {
    match (line, column) {
        (0, None) => reason.to_owned(),
        (0, Some(column)) => format!("column \"{column}\": {reason}"),
        (line, None) => format!("line {line}: {reason}"),
        (line, Some(column)) => format!("line {line}, column \"{column}\": {reason}"),
    }
}

/// One row of a pipeline's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The file's key in the object store.
    pub key: String,
    /// Its ETag or version when it was loaded, if the store gave one.
    pub etag: Option<String>,
    /// The rows it added.
    pub rows: u64,
    /// When its transaction ran, in microseconds since the Unix epoch (UTC).
    pub loaded_at_micros: i64,
}

/// One value of a row on its way to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell<'a> {
    /// SQL NULL.
    Null,
    /// Text the target converts to the column's type.
    Text(Cow<'a, str>),
    /// A JSON boolean.
    Bool(bool),
}

/// A file made ready to load: which table columns it fills, in the file's order, and where its rows are.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    /// Indices into the table's columns, one per field of a record.
    pub(crate) columns: Vec<usize>,
    /// The rows.
    pub(crate) rows: Rows<'a>,
}

/// Where a prepared file's rows are.
#[derive(Debug)]
pub(crate) enum Rows<'a> {
    /// CSV records: `data` (after the ignored lines and the header, trailing blank lines cut) starts at `first_line`.
    Csv { data: &'a str, first_line: u64, dialect: csv::Dialect },
    /// Parsed JSON lines, each with its line and one cell per column.
    Json(Vec<(u64, Vec<Cell<'a>>)>),
}

impl<'a> Rows<'a> {
    /// Calls `each(line, cells)` for every row in order; `cells` has one cell per column of `columns`. A CSV record
    /// with the wrong number of fields is [`LoadError::Rejected`], naming the first missing column if it is short.
    pub(crate) fn for_each(
        &self,
        columns: &[&str],
        mut each: impl FnMut(u64, &[Cell<'a>]) -> Result<(), LoadError>,
    ) -> Result<(), LoadError> {
        match self {
            Self::Csv { data, first_line, dialect } => {
                let mut records = csv::Records::new(data, *first_line, *dialect);
                let mut fields = Vec::with_capacity(columns.len());
                while let Some(line) = records.next_into(&mut fields).map_err(csv::Malformed::rejected)? {
                    if fields.len() != columns.len() {
                        let missing = columns.get(fields.len()).copied();
                        let reason = format!("expected {} fields, found {}", columns.len(), fields.len());
                        return Err(LoadError::rejected(line, missing, reason));
                    }
                    each(line, &fields)?;
                }
                Ok(())
            }
            Self::Json(rows) => rows.iter().try_for_each(|(line, cells)| each(*line, cells)),
        }
    }
}

/// A table column, as the loader needs it.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    /// Its name, as the target spells it.
    pub(crate) name: String,
    /// Whether it is computed by the target (a generated column), so a file may not set it.
    pub(crate) generated: bool,
}

/// Turns `body` into rows for `table_columns` (the target table `table`'s columns), or says why it cannot.
pub(crate) fn prepare<'a>(
    format: &LoadFormat,
    body: &'a [u8],
    table: &TableRef,
    table_columns: &[Column],
) -> Result<Prepared<'a>, LoadError> {
    let text = utf8(body)?;
    match format {
        LoadFormat::Csv(options) => csv::prepare(options, text, table, table_columns),
        LoadFormat::Json => json::prepare(text, table, table_columns),
    }
}

/// `body` as text without a leading byte-order mark, or the line of its first byte that is not UTF-8.
fn utf8(body: &[u8]) -> Result<&str, LoadError> {
    match std::str::from_utf8(body) {
        Ok(text) => Ok(text.strip_prefix('\u{feff}').unwrap_or(text)),
        Err(error) => {
            let good = &body[..error.valid_up_to()];
            let line = 1 + good.iter().filter(|&&b| b == b'\n').count() as u64;
            Err(LoadError::rejected(line, None, "the file is not UTF-8 text"))
        }
    }
}

/// `reason` with every quoted run longer than [`MAX_QUOTED_CHARS`] cut, and cut as a whole to
/// [`MAX_REASON_CHARS`], for reasons that quote values (the targets' messages do).
pub(crate) fn cut_reason(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len().min(MAX_REASON_CHARS + 8));
    let mut chars = reason.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if matches!(c, '\'' | '"' | '`') {
            // A quoted run: copy up to MAX_QUOTED_CHARS of it, skip the rest up to the closing quote.
            let mut quoted = 0;
            let mut skipped = false;
            while let Some(&next) = chars.peek() {
                if next == c {
                    break;
                }
                chars.next();
                if quoted < MAX_QUOTED_CHARS {
                    out.push(next);
                    quoted += 1;
                } else {
                    skipped = true;
                }
            }
            if skipped {
                out.push('…');
            }
            if let Some(close) = chars.next() {
                out.push(close);
            }
        }
    }
    cut(&out, MAX_REASON_CHARS)
}

/// `text` cut to `max` characters, with `…` when it was longer.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_quote_at_most_a_cut_value() {
        let long = "x".repeat(500);
        let reason = cut_reason(&format!("invalid input syntax for type integer: \"{long}\""));
        assert_eq!(reason, format!("invalid input syntax for type integer: \"{}…\"", "x".repeat(MAX_QUOTED_CHARS)));
        assert_eq!(cut_reason("Column 'amount' cannot be null"), "Column 'amount' cannot be null");
        assert_eq!(cut_reason("unbalanced 'quote"), "unbalanced 'quote");
        assert_eq!(cut(&"é".repeat(10), 3), "ééé…");
        assert!(cut_reason(&"y".repeat(2000)).chars().count() <= MAX_REASON_CHARS + 1);
    }

    #[test]
    fn text_must_be_utf8_and_loses_its_bom() {
        assert_eq!(utf8("\u{feff}a,b\n".as_bytes()).unwrap(), "a,b\n");
        let error = utf8(b"a\nb\nc\xff\n").unwrap_err();
        assert_eq!(error, LoadError::rejected(3, None, "the file is not UTF-8 text"));
        assert_eq!(error.to_string(), "line 3: the file is not UTF-8 text");
    }

    #[test]
    fn messages_say_where() {
        assert_eq!(
            LoadError::rejected(7, Some("amount"), "bad").to_string(),
            "line 7, column \"amount\": bad".to_owned()
        );
        assert!(LoadError::target("lost", true).is_temporary());
        assert!(!LoadError::permanent("no table").is_temporary());
    }
}
