//! The `PIPELINE` statements (SingleStore dialect, with Lanyard's `ON CONNECTION` target).

use lanyard_core::{CsvFormat, LoadFormat, Name, ObjectKind, TableRef};
use sqlparser::tokenizer::{Span as TokenSpan, Token};

use super::{PResult, Parser};
use crate::ast::{
    CreatePipeline, DropPipeline, ShowPipelineFiles, ShowPipelines, StartPipeline, Statement, StopPipeline,
};
use crate::keywords::Keyword;

/// The clauses of CREATE PIPELINE after `ON CONNECTION <connection>`, for "expected …" messages.
const CLAUSES: &str = "FORMAT, FIELDS, COLUMNS, LINES, IGNORE, a column list or the end of the statement";

/// The hint for a CREATE PIPELINE without its target connection.
const ON_CONNECTION_HINT: &str = "Name the connection of the target database after the table: \
     CREATE PIPELINE p AS LOAD DATA LINK l 'bucket/prefix/' INTO TABLE public.events ON CONNECTION prod_pg.";

/// The hint for a secret, CONFIG or CREDENTIALS written in a pipeline.
const SECRETS_HINT: &str = "Put them in the link: CREATE LINK ... CONFIG '{...}' CREDENTIALS '{...}'.";

/// The CSV-only clauses, for "… applies to FORMAT CSV".
#[derive(Debug, Clone, Copy)]
enum CsvClause {
    Fields,
    Lines,
    Ignore,
    Columns,
}

impl CsvClause {
    fn label(self) -> &'static str {
        match self {
            Self::Fields => "FIELDS",
            Self::Lines => "LINES TERMINATED BY",
            Self::Ignore => "IGNORE n LINES",
            Self::Columns => "a column list",
        }
    }
}

/// What the clauses after `ON CONNECTION` have said so far, and where each was written (for "given more than once"
/// and "applies to FORMAT CSV").
#[derive(Default)]
struct Clauses {
    json: Option<bool>,
    csv: CsvFormat,
    fields: Option<TokenSpan>,
    lines: Option<TokenSpan>,
    ignore: Option<TokenSpan>,
    columns: Option<TokenSpan>,
}

impl Parser<'_> {
    /// After the verb: `{CREATE | DROP | START | STOP} PIPELINE …`, `SHOW PIPELINES …` or `SHOW FILES FOR PIPELINE …`;
    /// `None` when the statement is not about pipelines.
    pub(super) fn parse_pipeline_statement(&mut self, verb: Keyword) -> Option<PResult<Statement>> {
        Some(match verb {
            Keyword::Create if self.eat_kw(Keyword::Pipeline) => self.parse_create_pipeline().map(Into::into),
            Keyword::Drop if self.eat_kw(Keyword::Pipeline) => self.parse_if_exists().and_then(|if_exists| {
                self.parse_qualified_name(ObjectKind::Pipeline).map(|name| DropPipeline { if_exists, name }.into())
            }),
            Keyword::Show if self.eat_kw(Keyword::Pipelines) => {
                self.parse_on_database().map(|database| ShowPipelines { database }.into())
            }
            Keyword::Show if self.eat_kw(Keyword::Files) => self.parse_show_files(),
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

    /// After `SHOW FILES`.
    fn parse_show_files(&mut self) -> PResult<Statement> {
        self.expect_kw(Keyword::For, "after SHOW FILES")?;
        self.expect_kw(Keyword::Pipeline, "after SHOW FILES FOR")?;
        let name = self.parse_qualified_name(ObjectKind::Pipeline)?;
        Ok(ShowPipelineFiles { name }.into())
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
        self.refuse_secrets()?;
        self.expect_kw(Keyword::Into, "after the path")?;
        self.expect_kw(Keyword::Table, "after INTO")?;
        let table = self.parse_table_ref()?;
        let connection = self.parse_on_connection()?;
        let format = self.parse_load_clauses()?;
        Ok(CreatePipeline { if_not_exists, name, link, path, table, connection, format })
    }

    /// A secret, CONFIG or CREDENTIALS written in a pipeline (SingleStore's `LOAD DATA S3 '…' CONFIG '…'
    /// CREDENTIALS '…'` form, or a `password = '…'`): an error, since a pipeline takes them from its link.
    fn refuse_secrets(&self) -> PResult<()> {
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
                .with_hint(SECRETS_HINT));
        }
        Ok(())
    }

    /// The target table: `table` or `schema.table` (identifiers).
    fn parse_table_ref(&mut self) -> PResult<TableRef> {
        let first = self.parse_table_part("table name", "")?;
        if self.eat_token(&Token::Period) {
            let table = self.parse_table_part("table name", " after the schema and \".\"")?;
            return Ok(TableRef { schema: Some(first), table });
        }
        Ok(TableRef { schema: None, table: first })
    }

    /// One identifier of a table reference or of a column list; `noun` ("table name") and `context` word the errors.
    fn parse_table_part(&mut self, noun: &str, context: &str) -> PResult<Name> {
        let Token::Word(w) = self.peek() else { return Err(self.expected(&format!("a {noun}{context}"))) };
        let name = Name::new(w.value.clone()).map_err(|e| self.error_here(format!("invalid {noun}: {e}")))?;
        self.advance();
        Ok(name)
    }

    /// `ON CONNECTION <connection>`: required, since Lanyard has no tables of its own.
    fn parse_on_connection(&mut self) -> PResult<Name> {
        if !self.eat_kw(Keyword::On) {
            let what = "ON CONNECTION <connection> after the table (a pipeline loads into a table of a Lanyard \
                        CONNECTION)";
            let error = self.expected(what);
            return Err(error.with_hint(ON_CONNECTION_HINT));
        }
        self.expect_kw(Keyword::Connection, "after ON (the target table is reached through a Lanyard CONNECTION)")
            .map_err(|e| e.with_hint(ON_CONNECTION_HINT))?;
        self.parse_name(ObjectKind::Connection)
    }

    /// The clauses after `ON CONNECTION <connection>`, in any order, each at most once; then the checks that need
    /// all of them: the CSV-only clauses are refused with FORMAT JSON.
    fn parse_load_clauses(&mut self) -> PResult<LoadFormat> {
        let mut clauses = Clauses::default();
        while !self.at_end_of_statement() {
            let start = self.peek_ref().span;
            if self.peek_kw(Keyword::Format) {
                self.advance();
                let json = self.parse_format()?;
                if clauses.json.replace(json).is_some() {
                    return Err(self.clause_twice(start, "FORMAT", "CREATE PIPELINE"));
                }
            } else if self.peek_kw(Keyword::Fields) || self.peek_kw(Keyword::Columns) {
                self.advance();
                if clauses.fields.replace(start).is_some() {
                    return Err(self.clause_twice(start, "FIELDS or COLUMNS", "CREATE PIPELINE"));
                }
                self.parse_fields(&mut clauses.csv)?;
                self.check_format(&clauses.csv, start)?;
            } else if self.peek_kw(Keyword::Lines) {
                self.advance();
                if clauses.lines.replace(start).is_some() {
                    return Err(self.clause_twice(start, "LINES", "CREATE PIPELINE"));
                }
                self.parse_lines()?;
            } else if self.peek_kw(Keyword::Ignore) {
                self.advance();
                if clauses.ignore.replace(start).is_some() {
                    return Err(self.clause_twice(start, "IGNORE", "CREATE PIPELINE"));
                }
                clauses.csv.ignore_lines = self.parse_u32("the number of lines to ignore")?;
                self.expect_kw(Keyword::Lines, "after IGNORE <n>")?;
            } else if self.peek() == &Token::LParen {
                if clauses.columns.replace(start).is_some() {
                    return Err(self.clause_twice(start, "the column list", "CREATE PIPELINE"));
                }
                clauses.csv.columns = Some(self.parse_column_list()?);
                self.check_format(&clauses.csv, start)?;
            } else {
                self.refuse_secrets()?;
                return Err(self.expected(CLAUSES));
            }
        }
        if clauses.json != Some(true) {
            return Ok(LoadFormat::Csv(clauses.csv));
        }
        let csv_only = [
            (CsvClause::Fields, clauses.fields),
            (CsvClause::Lines, clauses.lines),
            (CsvClause::Ignore, clauses.ignore),
            (CsvClause::Columns, clauses.columns),
        ];
        // The first CSV-only clause in the text.
        let first = csv_only
            .into_iter()
            .filter_map(|(clause, span)| span.map(|span| (clause, span)))
            .min_by_key(|(_, span)| (span.start.line, span.start.column));
        if let Some((clause, span)) = first {
            let location = self.location_of_span(span);
            return Err(self
                .error_at(location, Self::caret_width(span), format!("{} applies to FORMAT CSV", clause.label()))
                .with_hint(
                    "FORMAT JSON reads one object per line and matches its keys to the table's columns by name: \
                     drop the clause, or use FORMAT CSV.",
                ));
        }
        Ok(LoadFormat::Json)
    }

    /// After `FORMAT`: `CSV` (false) or `JSON` (true).
    fn parse_format(&mut self) -> PResult<bool> {
        if self.eat_kw(Keyword::Csv) {
            Ok(false)
        } else if self.eat_kw(Keyword::Json) {
            Ok(true)
        } else {
            Err(self.expected("CSV or JSON after FORMAT"))
        }
    }

    /// [`LoadFormat::check`] on what is known so far, its message pointing at the clause that starts at `at`. Run
    /// after each clause that can break it (FIELDS as a whole, the column list): their checks are independent, so no
    /// clause is blamed for a later one.
    fn check_format(&self, csv: &CsvFormat, at: TokenSpan) -> PResult<()> {
        LoadFormat::Csv(csv.clone()).check().map_err(|message| {
            let location = self.location_of_span(at);
            self.error_at(location, Self::caret_width(at), message)
        })
    }

    /// After `FIELDS` or `COLUMNS`: `[TERMINATED BY 'c'] [[OPTIONALLY] ENCLOSED BY 'c'] [ESCAPED BY 'c']`, at least
    /// one, in any order, each at most once.
    fn parse_fields(&mut self, csv: &mut CsvFormat) -> PResult<()> {
        let (mut terminated, mut enclosed, mut escaped) = (false, false, false);
        loop {
            let start = self.peek_ref().span;
            let (label, seen) = if self.eat_kw(Keyword::Terminated) {
                self.expect_kw(Keyword::By, "after TERMINATED")?;
                csv.delimiter = self.parse_one_char("FIELDS TERMINATED BY")?;
                ("TERMINATED BY", std::mem::replace(&mut terminated, true))
            } else if self.peek_kw(Keyword::Enclosed) || self.peek_kw(Keyword::Optionally) {
                if self.eat_kw(Keyword::Optionally) {
                    self.expect_kw(Keyword::Enclosed, "after OPTIONALLY")?;
                } else {
                    self.advance();
                }
                self.expect_kw(Keyword::By, "after ENCLOSED")?;
                csv.enclosed_by = self.parse_one_char("FIELDS ENCLOSED BY")?;
                ("ENCLOSED BY", std::mem::replace(&mut enclosed, true))
            } else if self.eat_kw(Keyword::Escaped) {
                self.expect_kw(Keyword::By, "after ESCAPED")?;
                // `ESCAPED BY ''` turns escaping off, as in MySQL.
                csv.escaped_by = self.parse_char_value("FIELDS ESCAPED BY", true)?;
                ("ESCAPED BY", std::mem::replace(&mut escaped, true))
            } else if terminated || enclosed || escaped {
                return Ok(());
            } else {
                return Err(self.expected("TERMINATED BY, [OPTIONALLY] ENCLOSED BY or ESCAPED BY after FIELDS"));
            };
            if seen {
                return Err(self.clause_twice(start, label, "FIELDS"));
            }
        }
    }

    /// After `LINES`: `TERMINATED BY` a line end (`'\n'` or `'\r\n'`), the only line terminator the loader knows.
    fn parse_lines(&mut self) -> PResult<()> {
        self.expect_kw(Keyword::Terminated, "after LINES (pipelines support only LINES TERMINATED BY)")?;
        self.expect_kw(Keyword::By, "after TERMINATED")?;
        let at = self.peek_ref().span;
        let text = self.parse_link_string("the line terminator")?;
        let value = unescape(&text).map_err(|problem| self.clause_value_error(at, "LINES TERMINATED BY", problem))?;
        if value != "\n" && value != "\r\n" {
            let location = self.location_of_span(at);
            return Err(self
                .error_at(
                    location,
                    Self::caret_width(at),
                    "LINES TERMINATED BY accepts only a line end ('\\n' or '\\r\\n')",
                )
                .with_hint(
                    "Files are read line by line: write LINES TERMINATED BY '\\n' (a '\\r' before it is \
                            accepted too), or leave the clause out.",
                ));
        }
        Ok(())
    }

    /// A one-character clause value.
    fn parse_one_char(&mut self, clause: &str) -> PResult<char> {
        let value = self.parse_char_value(clause, false)?;
        value.ok_or_else(|| self.error_after(format!("{clause} takes one character")))
    }

    /// A one-character clause value (`'\t'`, `','`), single- or double-quoted, with MySQL backslash escapes; an
    /// empty string is `None` when `empty_is_none`, an error otherwise.
    fn parse_char_value(&mut self, clause: &str, empty_is_none: bool) -> PResult<Option<char>> {
        let at = self.peek_ref().span;
        let text = self.parse_link_string(&format!("the character of {clause}"))?;
        let value = unescape(&text).map_err(|problem| self.clause_value_error(at, clause, problem))?;
        let mut chars = value.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(Some(c)),
            (None, _) if empty_is_none => Ok(None),
            (first, _) => {
                let count = if first.is_none() { "none".to_owned() } else { value.chars().count().to_string() };
                let problem = format!("one character, found {count}");
                Err(self.clause_value_error(at, clause, &problem))
            }
        }
    }

    /// "<clause> takes <problem>", at the value's string literal.
    fn clause_value_error(&self, at: TokenSpan, clause: &str, problem: &str) -> crate::ParseError {
        let location = self.location_of_span(at);
        self.error_at(location, Self::caret_width(at), format!("{clause} takes {problem}"))
            .with_hint("Write one character, or one of the escapes '\\t', '\\n', '\\r', '\\\\'.")
    }

    /// `(column, …)`: identifiers; `()` is read so that the check can say the list is empty.
    fn parse_column_list(&mut self) -> PResult<Vec<String>> {
        self.expect_token(&Token::LParen, "to open the column list")?;
        let mut columns = Vec::new();
        if self.eat_token(&Token::RParen) {
            return Ok(columns);
        }
        loop {
            columns.push(self.parse_table_part("column name", "")?.as_str().to_owned());
            if self.eat_token(&Token::RParen) {
                return Ok(columns);
            }
            if !self.eat_token(&Token::Comma) {
                return Err(self.expected("\",\" or \")\" in the column list"));
            }
        }
    }
}

/// [`crate::ast::unescape_clause_value`], with its problem worded for "<clause> takes …".
fn unescape(text: &str) -> Result<String, &'static str> {
    crate::ast::unescape_clause_value(text).ok_or("only the backslash escapes \\t, \\n, \\r, \\\\, \\' and \\\"")
}
