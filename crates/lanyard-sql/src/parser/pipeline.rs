//! The `PIPELINE` statements (SingleStore dialect).

use lanyard_core::ObjectKind;
use sqlparser::tokenizer::Token;

use super::{PResult, Parser};
use crate::ast::{
    CreatePipeline, DropPipeline, LoadOptions, LoadToken, ShowPipelines, StartPipeline, Statement, StopPipeline,
};
use crate::keywords::Keyword;

impl Parser<'_> {
    /// After the verb: `{CREATE | DROP | START | STOP} PIPELINE …` or `SHOW PIPELINES …`; `None` when the statement
    /// is not about pipelines.
    pub(super) fn parse_pipeline_statement(&mut self, verb: Keyword) -> Option<PResult<Statement>> {
        Some(match verb {
            Keyword::Create if self.eat_kw(Keyword::Pipeline) => self.parse_create_pipeline().map(Into::into),
            Keyword::Drop if self.eat_kw(Keyword::Pipeline) => self.parse_if_exists().and_then(|if_exists| {
                self.parse_qualified_name(ObjectKind::Pipeline).map(|name| DropPipeline { if_exists, name }.into())
            }),
            Keyword::Show if self.eat_kw(Keyword::Pipelines) => {
                self.parse_on_database().map(|database| ShowPipelines { database }.into())
            }
            Keyword::Start | Keyword::Stop => self.parse_start_stop(verb),
            _ => return None,
        })
    }

    /// After `START` or `STOP`.
    fn parse_start_stop(&mut self, verb: Keyword) -> PResult<Statement> {
        self.expect_kw(Keyword::Pipeline, &format!("after {verb}"))?;
        let name = self.parse_qualified_name(ObjectKind::Pipeline)?;
        Ok(if verb == Keyword::Start { StartPipeline { name }.into() } else { StopPipeline { name }.into() })
    }

    /// After `CREATE PIPELINE`.
    fn parse_create_pipeline(&mut self) -> PResult<CreatePipeline> {
        let if_not_exists = self.parse_if_not_exists()?;
        let name = self.parse_qualified_name(ObjectKind::Pipeline)?;
        self.expect_kw(Keyword::As, "after the pipeline name")?;
        self.expect_kw(Keyword::Load, "after AS")?;
        self.expect_kw(Keyword::Data, "after LOAD")?;
        self.expect_kw(Keyword::Link, "after LOAD DATA (pipelines load through a link)")?;
        let link = self.parse_qualified_name(ObjectKind::Link)?;
        let path = self.parse_link_string("the path")?;
        self.expect_kw(Keyword::Into, "after the path")?;
        self.expect_kw(Keyword::Table, "after INTO")?;
        let table = self.parse_qualified_name(ObjectKind::Database).map_err(|_| self.expected("a table name"))?;
        let load_options = self.parse_load_options()?;
        Ok(CreatePipeline { if_not_exists, name, link, path, table, load_options })
    }

    /// The rest of a `LOAD DATA` clause after the table (`FIELDS TERMINATED BY ','`, `FORMAT CSV`, a column list, …),
    /// kept verbatim for the pipeline engine. Secrets have no place there: a pipeline's credentials come from its link.
    fn parse_load_options(&mut self) -> PResult<Option<LoadOptions>> {
        if self.at_end_of_statement() {
            return Ok(None);
        }
        // LOAD DATA clauses start with a keyword (`FIELDS`, `FORMAT`, `SET`, …) or a column list.
        if !matches!(self.peek(), Token::Word(w) if w.quote_style.is_none()) && self.peek() != &Token::LParen {
            return Err(
                self.expected("LOAD DATA options (FIELDS, FORMAT, a column list, …) or the end of the statement")
            );
        }
        let mut tokens = Vec::new();
        while !self.at_end_of_statement() {
            // Secrets belong to the link: refuse SECRET, CREDENTIALS, CONFIG, and a string under a secret-looking
            // name (`password = '…'`); `SET password_hash = SHA2(@pw, 256)` is fine.
            let secret_value = matches!(self.peek(), Token::Word(w) if lanyard_core::is_secret_key(&w.value))
                && (matches!(self.peek_nth(1), Token::SingleQuotedString(_))
                    || self.peek_nth(1) == &Token::Eq && matches!(self.peek_nth(2), Token::SingleQuotedString(_)));
            if secret_value
                || self.peek_kw(Keyword::Credentials)
                || self.peek_kw(Keyword::Secret)
                || self.peek_kw(Keyword::Config)
            {
                return Err(self
                    .error_here("a pipeline takes its configuration and credentials from its link")
                    .with_hint("Put them in the link: CREATE LINK ... CONFIG '{...}' CREDENTIALS '{...}'."));
            }
            tokens.push(match self.peek() {
                Token::Word(w) => LoadToken::Word { value: w.value.clone(), quote: w.quote_style },
                Token::SingleQuotedString(text) => LoadToken::String(text.clone()),
                Token::Number(n, long) => LoadToken::Other(if *long { format!("{n}L") } else { n.clone() }),
                other if crate::error::is_quoted_literal(other) => {
                    return Err(self.expected("LOAD DATA options with single-quoted strings only"));
                }
                other => LoadToken::Other(other.to_string()),
            });
            self.advance();
        }
        Ok(Some(LoadOptions(tokens)))
    }
}
