//! What a pipeline needs to know about its files and its target, shared by the grammar, the wire, the catalog and the
//! runner: [`LoadFormat`] (how a file's bytes become rows) and [`TableRef`] (the table they go into).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Name;

/// How a pipeline reads its files. Columns are matched by name: a CSV file's header row (or the column list of
/// `LOAD DATA … (a, b, c)`, when the files have no header) and a JSON line's keys name the target's columns.
///
/// On the wire and in the catalog: `{"format":"CSV","delimiter":",",…}` or `{"format":"JSON"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "UPPERCASE")]
pub enum LoadFormat {
    /// Delimited text (RFC 4180 by default).
    Csv(CsvFormat),
    /// JSON lines: one object per line; keys name columns, `null` and absent keys load as NULL, nested values as
    /// their JSON text. Blank lines are skipped.
    Json,
}

impl Default for LoadFormat {
    fn default() -> Self {
        Self::Csv(CsvFormat::default())
    }
}

/// The options of `FORMAT CSV` (SingleStore's `FIELDS … LINES …` clauses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvFormat {
    /// `FIELDS TERMINATED BY` (default `,`).
    pub delimiter: char,
    /// `FIELDS [OPTIONALLY] ENCLOSED BY` (default `"`); inside a quoted field it is escaped by doubling it.
    pub enclosed_by: char,
    /// `FIELDS ESCAPED BY`: a character that escapes the next one inside a quoted field (none by default).
    pub escaped_by: Option<char>,
    /// `IGNORE n LINES`: lines skipped at the top of each file, before the header (or the data).
    pub ignore_lines: u32,
    /// The column list `(a, b, …)`: the files have no header row and their fields map to these columns in order.
    /// Without it, the first line (after the ignored ones) is the header naming the columns.
    pub columns: Option<Vec<String>>,
}

impl Default for CsvFormat {
    fn default() -> Self {
        Self { delimiter: ',', enclosed_by: '"', escaped_by: None, ignore_lines: 0, columns: None }
    }
}

impl LoadFormat {
    /// Checks what the types cannot: single-byte ASCII delimiters and quotes, distinct from each other and from
    /// line ends, and a column list without empty or repeated names. The message names the clause.
    pub fn check(&self) -> Result<(), String> {
        let Self::Csv(csv) = self else { return Ok(()) };
        let ascii = |what: &str, c: char| {
            if !c.is_ascii() || c == '\n' || c == '\r' {
                Err(format!("{what} must be one ASCII character other than a line end, not {c:?}"))
            } else {
                Ok(())
            }
        };
        ascii("FIELDS TERMINATED BY", csv.delimiter)?;
        ascii("FIELDS ENCLOSED BY", csv.enclosed_by)?;
        if csv.delimiter == csv.enclosed_by {
            return Err("FIELDS TERMINATED BY and ENCLOSED BY must differ".to_owned());
        }
        if let Some(escape) = csv.escaped_by {
            ascii("FIELDS ESCAPED BY", escape)?;
            if escape == csv.delimiter {
                return Err("FIELDS ESCAPED BY and TERMINATED BY must differ".to_owned());
            }
        }
        if let Some(columns) = &csv.columns {
            if columns.is_empty() {
                return Err("the column list is empty".to_owned());
            }
            for (i, column) in columns.iter().enumerate() {
                if column.trim().is_empty() {
                    return Err(format!("column {} of the column list is empty", i + 1));
                }
                if columns[..i].contains(column) {
                    return Err(format!("column {column:?} appears twice in the column list"));
                }
            }
        }
        Ok(())
    }
}

/// The table a pipeline loads into: `table` or `schema.table` (a PostgreSQL schema, a MySQL database).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableRef {
    /// The schema (PostgreSQL) or database (MySQL); the connection's default when absent.
    pub schema: Option<Name>,
    /// The table.
    pub table: Name,
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.table),
            None => write!(f, "{}", self.table),
        }
    }
}

impl std::str::FromStr for TableRef {
    type Err = String;

    /// `table` or `schema.table` (split at the first dot).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = |part: &str| Name::new(part).map_err(|e| format!("table name {text:?}: {e}"));
        match text.split_once('.') {
            Some((schema, table)) => Ok(Self { schema: Some(name(schema)?), table: name(table)? }),
            None => Ok(Self { schema: None, table: name(text)? }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_format_wire_form() {
        let csv = LoadFormat::default();
        let json = serde_json::to_string(&csv).unwrap();
        assert_eq!(
            json,
            r#"{"format":"CSV","delimiter":",","enclosed_by":"\"","escaped_by":null,"ignore_lines":0,"columns":null}"#
        );
        assert_eq!(serde_json::from_str::<LoadFormat>(&json).unwrap(), csv);
        assert_eq!(serde_json::from_str::<LoadFormat>(r#"{"format":"CSV"}"#).unwrap(), csv);
        assert_eq!(serde_json::from_str::<LoadFormat>(r#"{"format":"JSON"}"#).unwrap(), LoadFormat::Json);
        let error = serde_json::from_str::<LoadFormat>(r#"{"format":"CSV","delimeter":";"}"#).unwrap_err();
        assert!(error.to_string().contains("delimeter"), "{error}");
    }

    #[test]
    fn check_names_the_clause() {
        let bad = |csv: CsvFormat| LoadFormat::Csv(csv).check().unwrap_err();
        assert!(bad(CsvFormat { delimiter: '"', ..CsvFormat::default() }).contains("must differ"));
        assert!(bad(CsvFormat { delimiter: 'é', ..CsvFormat::default() }).contains("FIELDS TERMINATED BY"));
        let twice = CsvFormat { columns: Some(vec!["a".into(), "a".into()]), ..CsvFormat::default() };
        assert!(bad(twice).contains("twice"));
        assert!(LoadFormat::Json.check().is_ok());
    }

    #[test]
    fn table_ref_round_trips() {
        let t: TableRef = "public.events".parse().unwrap();
        assert_eq!(t.schema.as_ref().map(Name::as_str), Some("public"));
        assert_eq!(t.to_string(), "public.events");
        assert_eq!("events".parse::<TableRef>().unwrap().to_string(), "events");
        assert!("".parse::<TableRef>().is_err());
    }
}
