//! The tokenizer dialect: standard SQL strings (`''` is the only escape), `"…"` and `` `…` `` quoted identifiers.

use sqlparser::dialect::Dialect;

/// Lanyard's dialect for `sqlparser`'s tokenizer.
#[derive(Debug, Default)]
pub(crate) struct LanyardDialect;

impl Dialect for LanyardDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '$'
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '"' || ch == '`'
    }
}

pub(crate) static DIALECT: LanyardDialect = LanyardDialect;
