//! The `PIPELINE` subset that makes links meaningful (SingleStore dialect), with Lanyard's `ON CONNECTION` target.

use lanyard_core::{CsvFormat, LoadFormat, Name, TableRef};

use super::{Printer, QualifiedName, ToSql};

/// `CREATE PIPELINE [IF NOT EXISTS] [db.]name AS LOAD DATA LINK [db.]link 'path'
/// INTO TABLE [schema.]table ON CONNECTION connection [FORMAT {CSV | JSON}] [FIELDS …] [LINES TERMINATED BY …]
/// [IGNORE n LINES] [(column, …)]`
///
/// `LINES TERMINATED BY` accepts only a line end, which is what the loader splits on anyway, so it leaves no trace
/// in the tree and is never printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePipeline {
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The pipeline's name.
    pub name: QualifiedName,
    /// The link it loads from (referenced by id once created).
    pub link: QualifiedName,
    /// The path within the link's object store (bucket/prefix).
    pub path: String,
    /// The target table, `[schema.]table` within the target connection's database.
    pub table: TableRef,
    /// The Lanyard CONNECTION through which the target table is reached (a Lanyard extension).
    pub connection: Name,
    /// How the files' bytes become rows: `FORMAT`, `FIELDS`, `IGNORE n LINES` and the column list. Checked with
    /// [`LoadFormat::check`] when parsed.
    pub format: LoadFormat,
}

impl ToSql for CreatePipeline {
    /// Every clause that differs from its default, in the order `FORMAT`, `FIELDS` (`TERMINATED BY`, `ENCLOSED BY`,
    /// `ESCAPED BY`), `IGNORE n LINES`, column list; `FORMAT CSV` and default `FIELDS` sub-clauses are left out.
    fn print(&self, p: &mut Printer) {
        p.kw("CREATE PIPELINE");
        p.kw_if(self.if_not_exists, "IF NOT EXISTS");
        p.qualified_name(&self.name);
        p.kw("AS LOAD DATA LINK");
        p.qualified_name(&self.link);
        p.string(&self.path);
        p.kw("INTO TABLE");
        p.table(&self.table);
        p.kw("ON CONNECTION");
        p.name(&self.connection);
        match &self.format {
            LoadFormat::Json => p.kw("FORMAT JSON"),
            LoadFormat::Csv(csv) => print_csv(csv, p),
        }
    }
}

fn print_csv(csv: &CsvFormat, p: &mut Printer) {
    let default = CsvFormat::default();
    let terminated = (csv.delimiter != default.delimiter).then_some(csv.delimiter);
    let enclosed = (csv.enclosed_by != default.enclosed_by).then_some(csv.enclosed_by);
    if terminated.is_some() || enclosed.is_some() || csv.escaped_by.is_some() {
        p.kw("FIELDS");
        let char_clause = |p: &mut Printer, c: &char| p.string(&escape_char(*c));
        p.optional("TERMINATED BY", terminated.as_ref(), char_clause);
        p.optional("ENCLOSED BY", enclosed.as_ref(), char_clause);
        p.optional("ESCAPED BY", csv.escaped_by.as_ref(), char_clause);
    }
    if csv.ignore_lines > 0 {
        p.clause("IGNORE", &csv.ignore_lines, Printer::number);
        p.kw("LINES");
    }
    if let Some(columns) = &csv.columns {
        p.column_list(columns);
    }
}

/// The text of a one-character clause value (`FIELDS TERMINATED BY '\t'`) as it is written between the quotes: a
/// tab, a line feed, a carriage return and a backslash in the MySQL escape form (`\t`, `\n`, `\r`, `\\`), anything
/// else as itself (a quote is doubled by the string printer).
pub(crate) fn escape_char(c: char) -> String {
    match c {
        '\t' => "\\t".to_owned(),
        '\n' => "\\n".to_owned(),
        '\r' => "\\r".to_owned(),
        '\\' => "\\\\".to_owned(),
        other => other.to_string(),
    }
}

/// Reads the MySQL backslash escapes of a one-character clause value, as the string arrives from the tokenizer
/// (which reads standard SQL strings: `''` is its only escape, and a backslash is an ordinary character). Understood:
/// `\t`, `\n`, `\r`, `\\`, `\'`, `\"`; a backslash at the very end is itself (`'\'` is one backslash, as in standard
/// SQL). Any other escape is an error, so that a MySQL escape Lanyard does not know (`\Z`, `\0`) is never read as
/// two characters: `None`.
pub(crate) fn unescape_clause_value(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            None | Some('\\') => '\\',
            Some('t') => '\t',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('\'') => '\'',
            Some('"') => '"',
            Some(_) => return None,
        });
    }
    Some(out)
}

qualified_name_statement!(
    /// `START PIPELINE [db.]name`
    StartPipeline,
    "pipeline"
);
qualified_name_statement!(
    /// `STOP PIPELINE [db.]name`
    StopPipeline,
    "pipeline"
);
qualified_name_statement!(
    /// `SHOW FILES FOR PIPELINE [db.]name`: the pipeline's files and their states (SingleStore's
    /// `information_schema.PIPELINES_FILES`).
    ShowPipelineFiles,
    "pipeline"
);

/// `DROP PIPELINE [IF EXISTS] [db.]name`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropPipeline {
    /// `IF EXISTS`: a missing pipeline is a clean no-op.
    pub if_exists: bool,
    /// The pipeline.
    pub name: QualifiedName,
}

impl ToSql for DropPipeline {
    fn print(&self, p: &mut Printer) {
        p.kw("DROP PIPELINE");
        p.kw_if(self.if_exists, "IF EXISTS");
        p.qualified_name(&self.name);
    }
}

/// `SHOW PIPELINES [{ON | IN | FROM} db]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowPipelines {
    /// The database; the session's current one when absent.
    pub database: Option<Name>,
}

impl ToSql for ShowPipelines {
    fn print(&self, p: &mut Printer) {
        p.kw("SHOW PIPELINES");
        p.optional("ON", self.database.as_ref(), Printer::backquoted_name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_read_back_what_they_print() {
        for c in ['\t', '\n', '\r', '\\', '\'', '"', ',', '|', 'é'] {
            assert_eq!(unescape_clause_value(&escape_char(c)).as_deref(), Some(c.to_string().as_str()), "{c:?}");
        }
        assert_eq!(unescape_clause_value("\\").as_deref(), Some("\\"));
        assert_eq!(unescape_clause_value("\\r\\n").as_deref(), Some("\r\n"));
        assert!(unescape_clause_value("\\Z").is_none());
        assert!(unescape_clause_value("\\0").is_none());
    }
}
