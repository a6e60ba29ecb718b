//! `lanyard-sql` is Lanyard's grammar: the DeltaForge-style `CONNECTION`, `VAULT` / `CREDENTIAL` and
//! `CREDENTIAL STORAGE` statements, the SingleStore-style `DATABASE`, `LINK`, `USE` and `PIPELINE` statements, and
//! Lanyard's object history (`SHOW HISTORY FOR …`, `DESCRIBE … AT …`, `ALTER … ROLLBACK TO VERSION n`).
//!
//! It parses text into an AST with one struct per statement ([`ast`]), prints canonical SQL with secrets redacted
//! (`Display`) or not ([`ast::ToSql::to_sql_unredacted`]), and reports errors with line, column, what was expected and
//! what was found, and the source line with a caret ([`ParseError::render`]).
//!
//! It is built on the `sqlparser` crate's tokenizer and token cursor, the way DataFusion's `DFParser` extends
//! `sqlparser`: quoting, comments and positions come from that well-kept library.
//!
//! What it is not: it does no I/O, has no async code, and knows nothing about whether objects exist, which
//! connection types or backend kinds are installed, or who may run a statement — that is the Control Plane's job.
//!
//! Secret literals (`SECRET '…'`, `SET SECRET '…'`, link `CREDENTIALS '…'`, `SET CREDENTIALS ::k = '…'`, and option
//! values under secret-looking keys) become [`lanyard_core::SecretString`]s the moment they are parsed, and no error
//! ever shows one: messages never quote string literals, and rendered source lines mask them.
//!
//! ```
//! let statements = lanyard_sql::parse("ALTER CONNECTION prod_pg SET CREDENTIAL = prod_pg_password_v2;").unwrap();
//! assert_eq!(statements[0].to_string(), "ALTER CONNECTION prod_pg SET CREDENTIAL = prod_pg_password_v2");
//!
//! let err = lanyard_sql::parse("ALTER CONNECTION c").unwrap_err();
//! assert_eq!(err.to_string(), "line 1, column 19: ALTER CONNECTION needs at least one action");
//! ```

pub mod ast;
mod dialect;
mod error;
mod keywords;
mod parser;
mod source;

pub use ast::{Statement, ToSql};
pub use error::{ParseError, redact_source};
pub use parser::{Script, SpannedStatement};
pub use source::{Location, Span};

/// Parses a script of `;`-separated statements. Returns the first error, if any.
pub fn parse(sql: &str) -> Result<Vec<Statement>, ParseError> {
    parser::parse_script(sql).into_result().map(|statements| statements.into_iter().map(|s| s.statement).collect())
}

/// Parses exactly one statement (a trailing `;` is allowed).
pub fn parse_one(sql: &str) -> Result<Statement, ParseError> {
    let script = parser::parse_script(sql);
    let count = script.statements.len();
    let mut statements = script.into_result()?;
    match count {
        1 => Ok(statements.remove(0).statement),
        0 => {
            Err(ParseError::new(sql, source::LineIndex::new(sql).end(), 1, "expected a statement, found end of input"))
        }
        _ => {
            let second = statements[1].span.start;
            Err(ParseError::new(sql, second, 1, format!("expected one statement, found {count}")))
        }
    }
}

/// Parses a script, recovering after each error at the next `;`, so that every error is reported. Each statement
/// keeps its span in the source.
pub fn parse_script(sql: &str) -> Script {
    parser::parse_script(sql)
}
