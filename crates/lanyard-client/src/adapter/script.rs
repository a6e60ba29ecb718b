//! Running a whole script: parse all of it first, then send statement after statement.

use lanyard_sql::ast::Statement;
use lanyard_sql::{ParseError, Span};

use super::Session;
use crate::error::Result;
use crate::result::{Outcome, StatementResult};

/// One step of [`Session::run_script`], reported as it happens.
#[derive(Debug)]
pub enum ScriptEvent<'a> {
    /// A statement that could not be parsed (nothing was sent for it).
    ParseError(&'a ParseError),
    /// A page of a long SHOW result, as it arrived; the statement's [`ScriptEvent::Executed`] follows the last page
    /// with `streamed` set and the status line of the whole list.
    Page {
        /// The statement's 1-based position among the script's statements.
        index: usize,
        /// Whether it ended with `\G` (see [`ScriptEvent::Executed`]).
        vertical: bool,
        /// How many rows of the result came before this page's.
        offset: usize,
        /// The page: the result's columns and this page's rows.
        page: &'a StatementResult,
    },
    /// A statement was sent; here is how it went.
    Executed {
        /// Its 1-based position among the script's statements.
        index: usize,
        /// Where it is in the source.
        span: Span,
        /// The statement.
        statement: &'a Statement,
        /// Whether it ended with `\G`: its result is to be printed vertically, one line per column, as the MySQL
        /// client does. How a statement was written, not what it returned, so it travels here and not in the
        /// result.
        vertical: bool,
        /// Its result. When `streamed`, its rows came before in [`ScriptEvent::Page`]s and it holds the columns
        /// and the status line only.
        result: &'a Result<StatementResult>,
        /// Whether the rows were handed out in [`ScriptEvent::Page`]s.
        streamed: bool,
    },
}

/// What a script run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptSummary {
    /// Statements in the script (parsed or not).
    pub statements: usize,
    /// Statements sent that succeeded.
    pub succeeded: usize,
    /// Statements sent that failed.
    pub failed: usize,
    /// Statements that could not be parsed.
    pub parse_errors: usize,
    /// TEST statements whose probe FAILED (a result, counted apart from errors).
    pub tests_failed: usize,
    /// Whether the run stopped because the server was unreachable or refused the token.
    pub environment_error: bool,
    /// Statements never sent because the run stopped early.
    pub not_run: usize,
}

impl ScriptSummary {
    /// Whether every statement parsed and succeeded.
    pub fn is_success(&self) -> bool {
        self.failed == 0 && self.parse_errors == 0 && !self.environment_error
    }
}

impl Session {
    /// Runs a script: parses all of it first, then sends statement after statement.
    ///
    /// A script with a syntax error runs nothing unless `continue_on_error` is set, so a typo at line 40 cannot
    /// leave the first 39 statements applied. Without `continue_on_error` the run stops at the first failed
    /// statement; with it, it goes on. An unreachable server or a refused token always stops the run. A TEST
    /// whose probe fails is a result, not an error, and never stops the run. `on_event` sees each step as it
    /// happens, in source order.
    pub async fn run_script(
        &mut self,
        sql: &str,
        continue_on_error: bool,
        mut on_event: impl FnMut(ScriptEvent<'_>),
    ) -> ScriptSummary {
        let script = lanyard_sql::parse_script(sql);
        let mut summary = ScriptSummary {
            statements: script.statements.len() + script.errors.len(),
            parse_errors: script.errors.len(),
            ..ScriptSummary::default()
        };
        let mut errors = script.errors.iter().peekable();
        if !script.errors.is_empty() && !continue_on_error {
            errors.for_each(|e| on_event(ScriptEvent::ParseError(e)));
            summary.not_run = script.statements.len();
            return summary;
        }
        let total = script.statements.len();
        for (i, spanned) in script.statements.iter().enumerate() {
            while let Some(error) = errors.next_if(|e| e.location().offset < spanned.span.start.offset) {
                on_event(ScriptEvent::ParseError(error));
            }
            let (mut offset, mut streamed) = (0, false);
            let vertical = spanned.vertical;
            let result = self
                .execute_streaming(&spanned.statement, &mut |page: &StatementResult| {
                    on_event(ScriptEvent::Page { index: i + 1, vertical, offset, page });
                    offset += page.rows.len();
                    streamed = true;
                })
                .await;
            match &result {
                Ok(r) => {
                    summary.succeeded += 1;
                    if r.outcome == Outcome::Failed {
                        summary.tests_failed += 1;
                    }
                }
                Err(e) => {
                    summary.failed += 1;
                    summary.environment_error |= e.is_environment();
                }
            }
            let stop = result.as_ref().err().is_some_and(|e| e.is_environment() || !continue_on_error);
            on_event(ScriptEvent::Executed {
                index: i + 1,
                span: spanned.span,
                statement: &spanned.statement,
                vertical: spanned.vertical,
                result: &result,
                streamed,
            });
            if stop {
                summary.not_run = total - i - 1;
                return summary;
            }
        }
        errors.for_each(|e| on_event(ScriptEvent::ParseError(e)));
        summary
    }
}
