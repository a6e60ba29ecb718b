//! Typed result sets: what a statement returns, ready to print as a table, JSON or CSV.

use std::fmt;

use serde::Serialize;

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// No value (SQL NULL).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
}

impl Cell {
    /// Text, or NULL for `None`.
    pub fn text(value: Option<impl Into<String>>) -> Self {
        value.map_or(Self::Null, |v| Self::Text(v.into()))
    }

    /// An integer, or NULL for `None`.
    pub fn int(value: Option<i64>) -> Self {
        value.map_or(Self::Null, Self::Int)
    }
}

impl From<&str> for Cell {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for Cell {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<i64> for Cell {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Cell {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl fmt::Display for Cell {
    /// Plain text; NULL prints as nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => Ok(()),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// A warning the server gave with a write's answer (`{code, message}`): the statement succeeded, but the caller
/// should know (an EXPIRES in the past or within 14 days, a connection whose credential expires soon).
pub use lanyard_api::Warning;

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It did what it says (a query answered, a change applied).
    Ok,
    /// A new object was created.
    Created,
    /// IF NOT EXISTS found the object: nothing changed.
    Unchanged,
    /// IF EXISTS found no object: nothing was done.
    Skipped,
    /// A TEST passed.
    Passed,
    /// A TEST ran and failed: a result, not a statement error.
    Failed,
    /// A TEST found no probe for the type in the server's build: the credential resolved, nothing else was checked.
    /// Neither a failure nor an error.
    Unsupported,
}

/// The result of one statement: a message, and columns + rows for statements that return data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementResult {
    /// The statement as canonical SQL, secrets redacted.
    pub statement: String,
    /// How it ended.
    pub outcome: Outcome,
    /// One line for people, e.g. `connection "prod_pg" altered (2 actions, version 4)`.
    pub message: String,
    /// Column names; empty for statements that return no rows.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
    /// What the server warned about; empty for most statements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl StatementResult {
    /// A result with a status line and no rows.
    pub fn message(statement: String, outcome: Outcome, message: impl Into<String>) -> Self {
        Self {
            statement,
            outcome,
            message: message.into(),
            columns: Vec::new(),
            rows: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn with_warnings(mut self, warnings: Vec<Warning>) -> Self {
        self.warnings = warnings;
        self
    }

    /// The same result with a table: `columns`, and rows each as long.
    pub fn with_rows(mut self, columns: &[&str], rows: Vec<Vec<Cell>>) -> Self {
        debug_assert!(rows.iter().all(|r| r.len() == columns.len()));
        self.columns = columns.iter().map(|c| (*c).to_owned()).collect();
        self.rows = rows;
        self
    }

    /// Whether the statement returns a table (even an empty one).
    pub fn has_rows(&self) -> bool {
        !self.columns.is_empty()
    }
}
