//! The `PIPELINE` subset that makes links meaningful (SingleStore dialect).

use lanyard_core::Name;

use super::{Printer, QualifiedName, ToSql};

/// The `LOAD DATA` clauses after the target table, as tokens (comments and spacing dropped), printed canonically with
/// single spaces. They never hold secrets: the parser refuses SECRET, CREDENTIALS, CONFIG and strings under
/// secret-looking names there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions(pub Vec<LoadToken>);

/// One token of [`LoadOptions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadToken {
    /// A keyword or identifier, with its quote character if it was quoted.
    Word {
        /// The word, unquoted.
        value: String,
        /// `"` or `` ` `` for a quoted identifier.
        quote: Option<char>,
    },
    /// A single-quoted string.
    String(String),
    /// A number or a symbol, as written.
    Other(String),
}

impl ToSql for LoadOptions {
    /// Tokens separated by one space, except none before `,` and `)` and none after `(`: spacing that can never
    /// merge two tokens into one when read back.
    fn print(&self, p: &mut Printer) {
        for token in &self.0 {
            match token {
                LoadToken::Other(text) if matches!(text.as_str(), "," | ")") => p.punct(text),
                LoadToken::Word { value, quote } => p.kw(&quoted(value, *quote)),
                LoadToken::String(text) => p.string(text),
                LoadToken::Other(text) => p.kw(text),
            }
        }
    }
}

fn quoted(value: &str, quote: Option<char>) -> String {
    match quote {
        Some(q) => {
            let doubled: String = value.chars().flat_map(|c| if c == q { vec![c, c] } else { vec![c] }).collect();
            format!("{q}{doubled}{q}")
        }
        None => value.to_owned(),
    }
}

/// `CREATE PIPELINE [IF NOT EXISTS] [db.]name AS LOAD DATA LINK [db.]link 'path' INTO TABLE [db.]table [load options]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePipeline {
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The pipeline's name.
    pub name: QualifiedName,
    /// The link it loads through (referenced by id once created).
    pub link: QualifiedName,
    /// The path within the link's source (bucket/prefix, topic, …).
    pub path: String,
    /// The target table.
    pub table: QualifiedName,
    /// Whatever follows the table (`(col, …)`, `FIELDS TERMINATED BY ','`, `FORMAT JSON`, …): Lanyard stores it
    /// for the pipeline engine and does not interpret it.
    pub load_options: Option<LoadOptions>,
}

impl ToSql for CreatePipeline {
    fn print(&self, p: &mut Printer) {
        p.kw("CREATE PIPELINE");
        p.kw_if(self.if_not_exists, "IF NOT EXISTS");
        p.qualified_name(&self.name);
        p.kw("AS LOAD DATA LINK");
        p.qualified_name(&self.link);
        p.string(&self.path);
        p.kw("INTO TABLE");
        p.qualified_name(&self.table);
        if let Some(options) = &self.load_options {
            options.print(p);
        }
    }
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
