//! The parser: `sqlparser`'s tokenizer and token cursor, with Lanyard's statements on top (the way DataFusion's
//! `DFParser` extends `sqlparser`).
//!
//! Each family of statements is parsed in its own child module, all its verbs together (`connection`, `vault`,
//! `storage`, `database`, `link`, `pipeline`, `history`); this module holds what they share: the token cursor, the
//! dispatch on the verb, the common productions (names, strings, option lists, clause and action loops) and the
//! errors.

mod connection;
mod database;
mod history;
mod link;
mod pipeline;
mod storage;
mod vault;

use lanyard_core::{Name, ObjectKind, OptionKey, OptionMap};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::ast::{QualifiedName, Statement};
use crate::dialect::DIALECT;
use crate::error::{ParseError, Redactions, is_string_token, zeroize_tokens};
use crate::keywords::{Keyword, is_keyword};
use crate::source::{LineIndex, Location, Span};

/// A statement and the span of source text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct SpannedStatement {
    /// The statement.
    pub statement: Statement,
    /// From its first token to its last (the terminating `;` excluded).
    pub span: Span,
    /// The spans of an ALTER statement's actions (or ALTER LINK's clauses), in written order: the Control Plane
    /// reports a failing action as `action N: …`, and the CLI underlines the N-th. Empty for other statements.
    pub actions: Vec<Span>,
    /// Whether it ended with the MySQL client's `\G`, which asks for its result to be printed vertically (one line
    /// per column). `;`, `\g` and the end of input print as usual.
    pub vertical: bool,
}

/// The result of parsing a script with error recovery: every statement that parsed, and every error.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Statements in source order.
    pub statements: Vec<SpannedStatement>,
    /// Errors in source order; after an error, parsing resumes after the next `;`.
    pub errors: Vec<ParseError>,
}

impl Script {
    /// The statements, or the first error.
    pub fn into_result(self) -> Result<Vec<SpannedStatement>, ParseError> {
        match self.errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(self.statements),
        }
    }
}

pub(crate) type PResult<T> = Result<T, ParseError>;

/// A family's parser: after the verb, its statement, or `None` when what follows is not the family's.
type Family<'a> = fn(&mut Parser<'a>, Keyword) -> Option<PResult<Statement>>;

/// Parses a whole script, recovering after errors.
pub(crate) fn parse_script(source: &str) -> Script {
    let mut tokens = Vec::new();
    let tokenizer_error = Tokenizer::new(&DIALECT, source).tokenize_with_location_into_buf(&mut tokens).err();
    if tokenizer_error.is_some() {
        // Parse the statements that end before the broken token; report the tokenizer error after them.
        let keep = tokens.iter().rposition(|t| t.token == Token::SemiColon).map_or(0, |i| i + 1);
        zeroize_tokens(tokens.split_off(keep));
    }
    let mut parser = Parser::new(source, tokens);
    let mut script = parser.parse_all();
    if let Some(err) = tokenizer_error {
        script.errors.push(ParseError::tokenizer(&parser.lines, parser.redactions(), &err));
    }
    zeroize_tokens(parser.tokens.into_tokens());
    script
}

pub(crate) struct Parser<'a> {
    tokens: sqlparser::parser::Parser<'static>,
    source: &'a str,
    lines: LineIndex<'a>,
    /// End of the last consumed token (tokenizer line/column; converted only when needed): where "after X" errors
    /// point.
    last_end: sqlparser::tokenizer::Location,
    /// Token index where the current statement starts (possibly at whitespace before it).
    statement_start: usize,
    /// What rendered errors hide, computed at the first error and shared by all (errors stay O(n) in total).
    redactions: std::cell::OnceCell<Redactions>,
    /// The spans of the current statement's ALTER actions (see [`SpannedStatement::actions`]).
    actions: Vec<Span>,
}

/// The object keywords of our statements: a statement that names one of them is ours, even if misspelt.
const OUR_NOUNS: &[Keyword] = &[
    Keyword::Connection,
    Keyword::Connections,
    Keyword::Vault,
    Keyword::Vaults,
    Keyword::Credential,
    Keyword::Credentials,
    Keyword::Storage,
    Keyword::Storages,
    Keyword::Database,
    Keyword::Databases,
    Keyword::Schema,
    Keyword::Schemas,
    Keyword::Link,
    Keyword::Links,
    Keyword::Pipeline,
    Keyword::Pipelines,
];

/// The plural object keywords that SHOW takes.
const OUR_PLURALS: &[Keyword] = &[
    Keyword::Connections,
    Keyword::Vaults,
    Keyword::Credentials,
    Keyword::Databases,
    Keyword::Schemas,
    Keyword::Links,
    Keyword::Pipelines,
];

/// The keywords a statement starts with.
const VERBS: &[Keyword] = &[
    Keyword::Create,
    Keyword::Alter,
    Keyword::Drop,
    Keyword::Show,
    Keyword::Describe,
    Keyword::Desc,
    Keyword::Test,
    Keyword::Use,
    Keyword::Start,
    Keyword::Stop,
];

/// The statement keywords, for the "expected a statement" message.
const STATEMENT_STARTS: &str = "CREATE, ALTER, DROP, SHOW, DESCRIBE, TEST, USE, START or STOP";

impl<'a> Parser<'a> {
    fn new(source: &'a str, tokens: Vec<TokenWithSpan>) -> Self {
        let tokens = sqlparser::parser::Parser::new(&DIALECT).with_tokens_with_locations(tokens);
        let lines = LineIndex::new(source);
        Self {
            tokens,
            source,
            lines,
            last_end: sqlparser::tokenizer::Location::new(1, 1),
            statement_start: 0,
            redactions: std::cell::OnceCell::new(),
            actions: Vec::new(),
        }
    }

    fn parse_all(&mut self) -> Script {
        let mut script = Script::default();
        loop {
            while self.eat_terminator() {}
            if self.peek() == &Token::EOF {
                return script;
            }
            let start = self.location_of(self.peek_ref());
            self.statement_start = self.tokens.index();
            self.actions.clear();
            match self.parse_statement().and_then(|s| self.expect_end_of_statement().map(|()| s)) {
                Ok(statement) => {
                    let end = self.last_end();
                    let vertical = self.at_vertical_terminator();
                    let actions = std::mem::take(&mut self.actions);
                    script.statements.push(SpannedStatement { statement, span: Span { start, end }, actions, vertical })
                }
                Err(error) => {
                    script.errors.push(error);
                    self.skip_to_terminator();
                }
            }
        }
    }

    // ----- the token cursor --------------------------------------------------------------------------------------

    pub(crate) fn peek_ref(&self) -> &TokenWithSpan {
        self.tokens.peek_token_ref()
    }

    pub(crate) fn peek(&self) -> &Token {
        &self.tokens.peek_token_ref().token
    }

    pub(crate) fn peek_nth(&self, n: usize) -> &Token {
        &self.tokens.peek_nth_token_ref(n).token
    }

    /// Consumes the next token.
    pub(crate) fn advance(&mut self) {
        let token = self.tokens.peek_token_ref();
        if token.token != Token::EOF {
            self.last_end = token.span.end;
        }
        self.tokens.advance_token();
    }

    /// Where the last consumed token ends.
    pub(crate) fn last_end(&self) -> Location {
        self.lines.location(self.last_end.line, self.last_end.column)
    }

    pub(crate) fn location_of(&self, token: &TokenWithSpan) -> Location {
        if token.token == Token::EOF { self.last_end() } else { self.location_of_span(token.span) }
    }

    /// The start of `span` (the end of the last token for the empty span of end of input).
    pub(crate) fn location_of_span(&self, span: sqlparser::tokenizer::Span) -> Location {
        if span.start.line == 0 { self.last_end() } else { self.lines.location(span.start.line, span.start.column) }
    }

    /// How many characters wide a caret under `span` is (1 for an empty or multi-line span).
    pub(crate) fn caret_width(span: sqlparser::tokenizer::Span) -> usize {
        if span.start.line == 0 || span.start.line != span.end.line {
            1
        } else {
            span.end.column.saturating_sub(span.start.column).max(1) as usize
        }
    }

    /// Whether token `n` ahead is the unquoted keyword `kw`.
    pub(crate) fn peek_nth_kw(&self, n: usize, kw: Keyword) -> bool {
        matches!(self.peek_nth(n), Token::Word(w) if w.quote_style.is_none() && kw.is(&w.value))
    }

    pub(crate) fn peek_kw(&self, kw: Keyword) -> bool {
        self.peek_nth_kw(0, kw)
    }

    /// Which of `keywords` the next token is (as an unquoted word), without consuming it.
    pub(crate) fn peek_keyword_of(&self, keywords: &[Keyword]) -> Option<Keyword> {
        match self.peek() {
            Token::Word(w) if w.quote_style.is_none() => keywords.iter().copied().find(|k| k.is(&w.value)),
            _ => None,
        }
    }

    /// Consumes `kw` if it is next.
    pub(crate) fn eat_kw(&mut self, kw: Keyword) -> bool {
        let found = self.peek_kw(kw);
        if found {
            self.advance();
        }
        found
    }

    /// Consumes the keyword sequence `kws` if all of it is next; otherwise consumes nothing.
    pub(crate) fn eat_kws(&mut self, kws: &[Keyword]) -> bool {
        if kws.iter().enumerate().all(|(n, &kw)| self.peek_nth_kw(n, kw)) {
            kws.iter().for_each(|_| self.advance());
            true
        } else {
            false
        }
    }

    pub(crate) fn expect_kw(&mut self, kw: Keyword, context: &str) -> PResult<()> {
        if self.eat_kw(kw) { Ok(()) } else { Err(self.expected(&format!("{kw} {context}"))) }
    }

    pub(crate) fn eat_token(&mut self, token: &Token) -> bool {
        let found = self.peek() == token;
        if found {
            self.advance();
        }
        found
    }

    pub(crate) fn expect_token(&mut self, token: &Token, context: &str) -> PResult<()> {
        if self.eat_token(token) { Ok(()) } else { Err(self.expected(&format!("\"{token}\" {context}"))) }
    }

    /// `[=]`: an optional equals sign.
    pub(crate) fn eat_eq(&mut self) {
        self.eat_token(&Token::Eq);
    }

    /// `IF NOT EXISTS`
    pub(crate) fn parse_if_not_exists(&mut self) -> PResult<bool> {
        if self.peek_kw(Keyword::If) {
            if self.eat_kws(&[Keyword::If, Keyword::Not, Keyword::Exists]) {
                return Ok(true);
            }
            self.advance();
            return Err(self.expected("NOT EXISTS after IF"));
        }
        Ok(false)
    }

    /// `IF EXISTS`
    pub(crate) fn parse_if_exists(&mut self) -> PResult<bool> {
        if self.peek_kw(Keyword::If) {
            self.advance();
            self.expect_kw(Keyword::Exists, "after IF")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn eat_terminator(&mut self) -> bool {
        if self.eat_token(&Token::SemiColon) {
            return true;
        }
        // The MySQL client's `\G` ("show vertically", in the SingleStore examples) and `\g` ("go") end a statement;
        // `parse_all` has recorded which one before it is eaten here.
        if self.at_backslash_g() {
            self.advance();
            self.advance();
            return true;
        }
        false
    }

    /// Whether the next tokens are the MySQL client's `\G` or `\g`.
    fn at_backslash_g(&self) -> bool {
        self.peek() == &Token::Backslash && self.peek_nth_kw(1, Keyword::G)
    }

    /// Whether the next tokens are `\G` (upper case): the MySQL client's "print vertically". `\g` is its "go", a
    /// plain terminator.
    fn at_vertical_terminator(&self) -> bool {
        self.at_backslash_g() && matches!(self.peek_nth(1), Token::Word(w) if w.value == "G")
    }

    /// Whether the statement ends here (`;`, `\G` or the end of input).
    pub(crate) fn at_end_of_statement(&self) -> bool {
        matches!(self.peek(), Token::EOF | Token::SemiColon) || self.at_backslash_g()
    }

    fn expect_end_of_statement(&mut self) -> PResult<()> {
        if self.at_end_of_statement() { Ok(()) } else { Err(self.expected("\";\" or the end of the statement")) }
    }

    fn skip_to_terminator(&mut self) {
        while !self.at_end_of_statement() {
            self.advance();
        }
    }

    // ----- errors ------------------------------------------------------------------------------------------------

    fn redactions(&self) -> &Redactions {
        self.redactions.get_or_init(|| Redactions::of(self.source, &self.lines))
    }

    /// An error at `location`, `width` characters wide.
    pub(crate) fn error_at(&self, location: Location, width: usize, message: impl Into<String>) -> ParseError {
        ParseError::with(&self.lines, self.redactions(), location, width, message)
    }

    /// An error at the next token.
    pub(crate) fn error_here(&self, message: impl Into<String>) -> ParseError {
        let token = self.peek_ref();
        let location = self.location_of(token);
        let width = if token.token == Token::EOF { 1 } else { Self::caret_width(token.span) };
        self.error_at(location, width, message)
    }

    /// An error at the end of the previous token ("after X").
    pub(crate) fn error_after(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.last_end(), 1, message)
    }

    /// `expected <what>, found <next token>`.
    pub(crate) fn expected(&self, what: &str) -> ParseError {
        // A token inside what errors hide (a piece of a secret literal the lexer split) is named by its kind only.
        let token = self.peek_ref();
        let bare = matches!(&token.token, Token::Word(w) if w.quote_style.is_none())
            || matches!(token.token, Token::Number(..));
        if bare && self.redactions().hides(self.location_of(token)) {
            return self.expected_secret(what);
        }
        self.error_here(format!("expected {what}, found {}", describe(self.peek())))
    }

    /// `expected <what>, found <kind of the next token>`, for secret positions: a secret written without quotes
    /// (`SECRET hunter2`) is named by its kind only.
    pub(crate) fn expected_secret(&self, what: &str) -> ParseError {
        let found = match self.peek() {
            Token::Word(w) if w.quote_style.is_none() => "a bare word".to_owned(),
            Token::Word(_) => "a quoted identifier".to_owned(),
            Token::Number(..) => "a number".to_owned(),
            other @ (Token::EOF | Token::SemiColon | Token::Comma | Token::LParen | Token::RParen | Token::Eq) => {
                describe(other)
            }
            _ => "a literal".to_owned(),
        };
        self.error_here(format!("expected {what}, found {found}"))
    }

    /// A secret value as a single-quoted string (`SECRET '…'`, `SET SECRET '…'`).
    pub(crate) fn parse_secret_string(&mut self, what: &str) -> PResult<lanyard_core::SecretString> {
        match self.peek() {
            Token::SingleQuotedString(s) => {
                let s = lanyard_core::SecretString::new(s.clone());
                self.advance();
                Ok(s)
            }
            _ => Err(self.expected_secret(&format!("{what} as a single-quoted string"))),
        }
    }

    /// A secret value in the LINK dialect: single- or double-quoted.
    pub(crate) fn parse_link_secret_string(&mut self, what: &str) -> PResult<lanyard_core::SecretString> {
        if is_string_token(self.peek()) {
            return self.parse_link_string(what).map(lanyard_core::SecretString::new);
        }
        Err(self.expected_secret(&format!("{what} as a quoted string")))
    }

    // ----- common productions ------------------------------------------------------------------------------------

    /// A name: a bare or quoted identifier, or (where DeltaForge allows it) a single-quoted string.
    pub(crate) fn parse_name(&mut self, kind: ObjectKind) -> PResult<Name> {
        let text = match self.peek() {
            Token::Word(w) => w.value.clone(),
            Token::SingleQuotedString(s) => s.clone(),
            _ => return Err(self.expected(&format!("a {kind} name"))),
        };
        let name = Name::new(text).map_err(|e| self.error_here(format!("invalid {kind} name: {e}")))?;
        self.advance();
        Ok(name)
    }

    /// `[db.]name` (identifiers only, SingleStore style).
    pub(crate) fn parse_qualified_name(&mut self, kind: ObjectKind) -> PResult<QualifiedName> {
        let first = self.parse_ident(kind)?;
        if self.eat_token(&Token::Period) {
            let name = self.parse_ident(kind)?;
            return Ok(QualifiedName { database: Some(first), name });
        }
        Ok(QualifiedName { database: None, name: first })
    }

    /// A bare or quoted identifier (no string literal).
    pub(crate) fn parse_ident(&mut self, kind: ObjectKind) -> PResult<Name> {
        if !matches!(self.peek(), Token::Word(_)) {
            return Err(self.expected(&format!("a {kind} name")));
        }
        self.parse_name(kind)
    }

    /// A single-quoted string literal (never echoed in errors).
    pub(crate) fn parse_string(&mut self, what: &str) -> PResult<String> {
        match self.peek() {
            Token::SingleQuotedString(s) => {
                let s = s.clone();
                self.advance();
                Ok(s)
            }
            _ => Err(self.expected(&format!("{what} as a single-quoted string"))),
        }
    }

    /// A string literal in the LINK dialect: single- or double-quoted.
    pub(crate) fn parse_link_string(&mut self, what: &str) -> PResult<String> {
        if is_string_token(self.peek()) {
            let s = match self.peek() {
                Token::SingleQuotedString(s) => s.clone(),
                Token::Word(w) => w.value.clone(),
                _ => unreachable!("is_string_token admits only these"),
            };
            self.advance();
            return Ok(s);
        }
        Err(self.expected(&format!("{what} as a quoted string")))
    }

    /// A non-negative whole number that fits in 32 bits.
    pub(crate) fn parse_u32(&mut self, what: &str) -> PResult<u32> {
        match self.peek() {
            Token::Number(n, _) => {
                let value = n.parse::<u32>().map_err(|_| {
                    self.error_here(format!("{what} must be a whole number between 0 and {}", u32::MAX))
                })?;
                self.advance();
                Ok(value)
            }
            _ => Err(self.expected(&format!("{what} (a whole number)"))),
        }
    }

    /// An option key: an identifier, a dotted identifier (`sasl.mechanism`), or a quoted one.
    pub(crate) fn parse_option_key(&mut self) -> PResult<OptionKey> {
        let mut key = match self.peek() {
            Token::Word(w) => w.value.clone(),
            Token::SingleQuotedString(s) => s.clone(),
            _ => return Err(self.expected("an option key")),
        };
        let quoted = !matches!(self.peek(), Token::Word(w) if w.quote_style.is_none());
        self.advance();
        while !quoted
            && self.peek() == &Token::Period
            && matches!(self.peek_nth(1), Token::Word(w) if w.quote_style.is_none())
        {
            self.advance();
            if let Token::Word(w) = self.peek() {
                key.push('.');
                key.push_str(&w.value);
            }
            self.advance();
        }
        OptionKey::new(key).map_err(|e| match e {
            // The key may be a quoted string holding anything, even a misplaced secret: describe it, do not echo it.
            lanyard_core::Error::InvalidOptionKey { problem, .. } => {
                self.error_after(format!("invalid option key: it {problem}"))
            }
            other => self.error_after(other.kind().code()),
        })
    }

    /// `=` after an option key (the message is built only when it is missing).
    pub(crate) fn expect_eq_after_key(&mut self, key: &OptionKey) -> PResult<()> {
        if self.eat_token(&Token::Eq) {
            return Ok(());
        }
        Err(self.expected(&format!("\"=\" after option key {}", Self::key_for_message(key))))
    }

    /// How a key is named in messages: quoted when it is a plain (dotted) identifier, otherwise described, since a
    /// quoted key could hold anything.
    pub(crate) fn key_for_message(key: &OptionKey) -> String {
        if crate::ast::is_bare_key(key.as_str()) { format!("\"{key}\"") } else { "the quoted key".to_owned() }
    }

    /// An option value: a string, or a bare number or boolean (kept as text).
    pub(crate) fn parse_option_value(&mut self, key: &OptionKey) -> PResult<String> {
        let value = match self.peek() {
            Token::SingleQuotedString(s) => s.clone(),
            Token::Number(n, _) => n.clone(),
            Token::Word(w)
                if w.quote_style.is_none() && (Keyword::True.is(&w.value) || Keyword::False.is(&w.value)) =>
            {
                w.value.to_ascii_lowercase()
            }
            _ => {
                let what = "an option value (a single-quoted string, a number, TRUE or FALSE)";
                return Err(if key.is_secret() { self.expected_secret(what) } else { self.expected(what) });
            }
        };
        self.advance();
        Ok(value)
    }

    /// `(key = 'value', …)`, possibly empty; a key given twice is an error.
    pub(crate) fn parse_option_list(&mut self) -> PResult<OptionMap> {
        self.expect_token(&Token::LParen, "to open the option list")?;
        let mut options = OptionMap::new();
        if self.eat_token(&Token::RParen) {
            return Ok(options);
        }
        loop {
            let key_location = self.peek_ref().span;
            let key = self.parse_option_key()?;
            self.expect_eq_after_key(&key)?;
            let value = self.parse_option_value(&key)?;
            if options.contains_key(key.as_str()) {
                let location = self.location_of_span(key_location);
                return Err(self.error_at(
                    location,
                    key.as_str().chars().count(),
                    format!("option {} is given more than once", Self::key_for_message(&key)),
                ));
            }
            options.insert(key, value);
            if self.eat_token(&Token::RParen) {
                return Ok(options);
            }
            if !self.eat_token(&Token::Comma) {
                return Err(self.expected("\",\" or \")\" in the option list"));
            }
        }
    }

    /// A type word after `TYPE [=]`: a bare identifier or a single-quoted string.
    pub(crate) fn parse_type_word(&mut self, what: &str) -> PResult<String> {
        let word = match self.peek() {
            Token::Word(w) if w.quote_style.is_none() => w.value.clone(),
            Token::SingleQuotedString(s) if crate::ast::is_bare_identifier(s) => s.clone(),
            _ => return Err(self.expected(what)),
        };
        self.advance();
        Ok(word)
    }

    /// The actions of an ALTER statement, at least one: `action` reads one, or returns `None` when none is next.
    /// Without any: "<statement> needs at least one action" with `hint` at the end of the statement, otherwise
    /// "expected <expected>".
    pub(crate) fn parse_alter_actions<A>(
        &mut self,
        statement: &str,
        hint: &str,
        expected: &str,
        mut action: impl FnMut(&mut Self) -> PResult<Option<A>>,
    ) -> PResult<Vec<A>> {
        let mut actions = Vec::new();
        loop {
            let start = self.location_of(self.peek_ref());
            let Some(next) = action(self)? else { break };
            actions.push(next);
            self.record_action(start);
        }
        if actions.is_empty() {
            if self.at_end_of_statement() {
                return Err(self.error_after(format!("{statement} needs at least one action")).with_hint(hint));
            }
            return Err(self.expected(expected));
        }
        Ok(actions)
    }

    /// Records that an ALTER action started at `start` and ends with the last consumed token.
    pub(crate) fn record_action(&mut self, start: Location) {
        let end = self.last_end();
        self.actions.push(Span { start, end });
    }

    /// The clauses of a CREATE statement, which come in any order, each at most once. While one of `clauses` is next,
    /// `clause` reads it (its keyword not yet consumed; the span is the keyword's) and returns the clause's label and
    /// whether it was given before, which is an error pointing at the second occurrence.
    pub(crate) fn parse_create_clauses(
        &mut self,
        statement: &str,
        clauses: &[Keyword],
        mut clause: impl FnMut(&mut Self, Keyword, sqlparser::tokenizer::Span) -> PResult<(&'static str, bool)>,
    ) -> PResult<()> {
        while let Some(keyword) = self.peek_keyword_of(clauses) {
            let start = self.peek_ref().span;
            let (label, again) = clause(self, keyword, start)?;
            if again {
                return Err(self.clause_twice(start, label, statement));
            }
        }
        Ok(())
    }

    /// `KEYWORD [=] value`: consumes the clause keyword and an optional `=`, reads the value into `slot` and says
    /// whether the slot was already filled.
    pub(crate) fn clause_value<T>(
        &mut self,
        slot: &mut Option<T>,
        value: impl FnOnce(&mut Self) -> PResult<T>,
    ) -> PResult<bool> {
        self.advance();
        self.eat_eq();
        Ok(slot.replace(value(self)?).is_some())
    }

    /// "<clause> is given more than once in <statement>", pointing at the second occurrence.
    fn clause_twice(&self, at: sqlparser::tokenizer::Span, clause: &str, statement: &str) -> crate::ParseError {
        let location = self.location_of_span(at);
        self.error_at(location, Self::caret_width(at), format!("{clause} is given more than once in {statement}"))
    }

    /// `LIKE 'pattern'`, if present.
    pub(crate) fn parse_like(&mut self) -> PResult<Option<String>> {
        if self.eat_kw(Keyword::Like) { self.parse_string("the LIKE pattern").map(Some) } else { Ok(None) }
    }

    /// `{ON | IN | FROM} db`, if present.
    pub(crate) fn parse_on_database(&mut self) -> PResult<Option<Name>> {
        if self.eat_kw(Keyword::On) || self.eat_kw(Keyword::In) || self.eat_kw(Keyword::From) {
            return self.parse_ident(ObjectKind::Database).map(Some);
        }
        Ok(None)
    }

    /// `[IF EXISTS] name`, the whole of a DROP, DESCRIBE or TEST statement after its object keyword.
    pub(crate) fn parse_if_exists_name(&mut self, kind: ObjectKind) -> PResult<(bool, Name)> {
        let if_exists = self.parse_if_exists()?;
        Ok((if_exists, self.parse_name(kind)?))
    }

    // ----- statements --------------------------------------------------------------------------------------------

    /// Reads the verb, then lets each family of statements claim what follows it (the families' parsers are in
    /// this module's children, one file each). A family claims a statement when the words after the verb are its
    /// own; the order matters only where two families share a word: `CREDENTIAL STORAGE` is tried before the vault's
    /// `CREDENTIAL`.
    fn parse_statement(&mut self) -> PResult<Statement> {
        let Some(verb) = self.peek_keyword_of(VERBS) else {
            return Err(self.not_ours(format!("a statement ({STATEMENT_STARTS})")));
        };
        self.advance();
        let verb = if verb == Keyword::Desc { Keyword::Describe } else { verb };
        let families: [Family<'a>; 7] = [
            Self::parse_connection_statement,
            Self::parse_storage_statement,
            Self::parse_vault_statement,
            Self::parse_database_statement,
            Self::parse_link_statement,
            Self::parse_pipeline_statement,
            Self::parse_history_statement,
        ];
        for family in families {
            if let Some(statement) = family(self, verb) {
                return statement;
            }
        }
        Err(match verb {
            Keyword::Create => self.not_ours(
                "CONNECTION, VAULT, CREDENTIAL, CREDENTIAL STORAGE, DATABASE, LINK or PIPELINE after CREATE".to_owned(),
            ),
            Keyword::Alter => {
                self.not_ours("CONNECTION, VAULT, CREDENTIAL, CREDENTIAL STORAGE or LINK after ALTER".to_owned())
            }
            Keyword::Drop => self.not_ours(
                "CONNECTION, VAULT, CREDENTIAL, CREDENTIAL STORAGE, DATABASE, LINK or PIPELINE after DROP".to_owned(),
            ),
            Keyword::Show => self.not_ours(
                "CONNECTIONS, VAULTS, CREDENTIALS, CREDENTIAL STORAGES, DATABASES, LINKS, PIPELINES, CREATE LINK, \
                 FILES FOR PIPELINE or HISTORY FOR after SHOW"
                    .to_owned(),
            ),
            Keyword::Describe => {
                self.not_ours("CONNECTION, VAULT, CREDENTIAL, CREDENTIAL STORAGE or LINK after DESCRIBE".to_owned())
            }
            Keyword::Test => self.expected("CONNECTION, CREDENTIAL STORAGE or LINK after TEST"),
            // USE, START and STOP belong to one family each, which always claims them.
            _ => self.not_ours(format!("a statement ({STATEMENT_STARTS})")),
        })
    }

    /// The error for a statement we do not recognise. When `sqlparser` accepts the statement as standard SQL, the
    /// error says so: plain SQL is not ours to run.
    fn not_ours(&self, expected: String) -> ParseError {
        let error = self.expected(&expected);
        let Some(statement_start) = (self.statement_start..)
            .take_while(|&i| self.tokens.token_at(i).token != Token::EOF)
            .find(|&i| !matches!(self.tokens.token_at(i).token, Token::Whitespace(_)))
        else {
            return error;
        };
        let end = self.statement_end_offset();
        let start_token = self.tokens.token_at(statement_start);
        let start = self.lines.location(start_token.span.start.line, start_token.span.start.column);
        let text = &self.source[start.offset..end.max(start.offset)];
        if self.peek_keyword_of(OUR_NOUNS).is_some() {
            // `SHOW CONNECTION`, `DROP LINKS`, …: one of ours, misspelt; say what was expected.
            let plural = if self.peek_kw(Keyword::Credential) && self.peek_nth_kw(1, Keyword::Storage) {
                Some("CREDENTIAL STORAGES".to_owned())
            } else {
                match self.peek() {
                    Token::Word(w) => Keyword::lookup(&format!("{}S", w.value))
                        .filter(|plural| OUR_PLURALS.contains(plural))
                        .map(|plural| plural.as_str().to_owned()),
                    _ => None,
                }
            };
            return match plural {
                Some(plural) if self.statement_label(self.statement_start).starts_with("SHOW") => {
                    error.with_hint(format!("SHOW takes the plural form: SHOW {plural}."))
                }
                _ => match self.suggestion(statement_start) {
                    Some(suggestion) => error.with_hint(format!("Did you mean {suggestion}?")),
                    None => error,
                },
            };
        }
        // A statement keyword misspelt (`SHOW CONECTIONS`, `CRAETE LINK`): one of ours, whatever sqlparser thinks.
        if let Some(suggestion) = self.suggestion(statement_start) {
            return error.with_hint(format!("Did you mean {suggestion}?"));
        }
        let generic = sqlparser::dialect::GenericDialect {};
        match sqlparser::parser::Parser::parse_sql(&generic, text) {
            Ok(statements) if !statements.is_empty() => {
                let label = self.statement_label(statement_start);
                self.error_at(start, label.chars().count(), format!("{label} is plain SQL, which lanyard does not run"))
                    .with_hint("Lanyard accepts CONNECTION, VAULT, CREDENTIAL, CREDENTIAL STORAGE, DATABASE, LINK, PIPELINE and USE statements; run plain SQL against the database itself.")
            }
            _ => error,
        }
    }

    /// Byte offset where the current statement ends (the next `;` or the end of input).
    fn statement_end_offset(&self) -> usize {
        let mut i = self.tokens.index();
        loop {
            let token = self.tokens.token_at(i);
            match token.token {
                Token::EOF => return self.source.len(),
                Token::SemiColon => return self.lines.location(token.span.start.line, token.span.start.column).offset,
                _ => i += 1,
            }
        }
    }

    /// Up to `count` plain words (letters and `_`, unquoted) from token `start`, upper-cased: a statement's keywords.
    fn leading_words(&self, start: usize, count: usize) -> Vec<String> {
        (start..)
            .map(|i| &self.tokens.token_at(i).token)
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .take(count)
            .map_while(|t| match t {
                Token::Word(w)
                    if w.quote_style.is_none() && w.value.chars().all(|c| c.is_ascii_alphabetic() || c == '_') =>
                {
                    Some(w.value.to_ascii_uppercase())
                }
                _ => None,
            })
            .collect()
    }

    /// The statement form (`SHOW CONNECTIONS`, `CREATE CREDENTIAL STORAGE`, …) closest to the first words of the
    /// statement starting at token `start`, by Damerau-Levenshtein distance over the whole form: a form is suggested
    /// when at most one character in five differs (`SHOW CONECTIONS`, `CRAETE LINK`, `DESCRIBE CONECTION`), so that
    /// plain SQL (`SHOW TABLES`, `DROP TABLE`) gets none.
    fn suggestion(&self, start: usize) -> Option<String> {
        let words: Vec<String> = self.leading_words(start, 4);
        // Every form, and the CREDENTIAL spelling of each VAULT form (`SHOW CREDENTIALS`, `DROP CREDENTIAL`).
        let aliases = Statement::KINDS
            .iter()
            .filter(|k| k.ends_with("VAULT") || k.ends_with("VAULTS"))
            .map(|k| k.replace("VAULT", "CREDENTIAL"));
        let forms = Statement::KINDS.iter().map(|k| (*k).to_owned()).chain(aliases);
        forms
            .filter_map(|form| {
                let count = form.split(' ').count();
                if words.len() < count {
                    return None;
                }
                let typed = words[..count].join(" ");
                let distance = strsim::damerau_levenshtein(&typed, &form);
                (distance > 0 && distance * 5 <= form.len()).then_some((distance, form))
            })
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, form)| form)
    }

    /// `SELECT` or `CREATE TABLE`: the first one or two keywords of a statement, for messages.
    fn statement_label(&self, start: usize) -> String {
        let words: Vec<String> = self.leading_words(start, 2);
        let second_is_object = words.len() == 2
            && matches!(words[0].as_str(), "CREATE" | "ALTER" | "DROP" | "SHOW" | "DESCRIBE" | "TRUNCATE");
        if second_is_object { words.join(" ") } else { words.into_iter().next().unwrap_or_default() }
    }
}

/// How a token is named in "found …": never the content of a string literal.
pub(crate) fn describe(token: &Token) -> String {
    match token {
        Token::EOF => "end of input".to_owned(),
        Token::Word(w) if w.quote_style.is_none() => {
            if is_keyword(&w.value) {
                w.value.to_ascii_uppercase()
            } else {
                format!("\"{}\"", truncate(&w.value))
            }
        }
        Token::Word(w) if w.quote_style == Some('"') => "a double-quoted string or identifier".to_owned(),
        Token::Word(w) => format!("quoted identifier `{}`", truncate(&w.value)),
        Token::SingleQuotedString(_) => "a string literal".to_owned(),
        Token::Number(n, _) => format!("number {}", truncate(n)),
        Token::Whitespace(_) => "whitespace".to_owned(),
        other => {
            let text = other.to_string();
            if text.contains(['\'', '"']) || text.chars().count() > 8 {
                "a literal".to_owned()
            } else {
                format!("\"{text}\"")
            }
        }
    }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.chars().filter(|c| !c.is_control()).collect()
    } else {
        let mut out: String = s.chars().filter(|c| !c.is_control()).take(MAX).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verticals(sql: &str) -> Vec<bool> {
        let script = parse_script(sql);
        assert!(script.errors.is_empty(), "{:?}", script.errors);
        script.statements.iter().map(|s| s.vertical).collect()
    }

    #[test]
    fn backslash_upper_g_asks_for_vertical_output_and_other_terminators_do_not() {
        assert_eq!(verticals("SHOW CREATE LINK l \\G"), [true]);
        assert_eq!(verticals("SHOW CREATE LINK l\\G\nSHOW LINKS;\nUSE db \\g SHOW LINKS"), [true, false, false, false]);
        // `\G` then `;` is one vertical statement (the `;` ends nothing more).
        assert_eq!(verticals("SHOW LINKS \\G;\nSHOW LINKS ;"), [true, false]);
        assert_eq!(verticals("ALTER LINK l\n    SET CONFIG ::region = \"us-east-1\"\\G"), [true]);
    }

    #[test]
    fn alter_statements_carry_the_span_of_each_action() {
        let sql = "SHOW LINKS;\nALTER CONNECTION c SET DESCRIPTION 'd'\n  SET OPTION host = 'h' RENAME TO c2;\nALTER LINK l SET CONFIG '{}' SET CREDENTIALS FROM VAULT e";
        let script = parse_script(sql);
        assert!(script.errors.is_empty(), "{:?}", script.errors);
        let actions = |n: usize| script.statements[n].actions.iter().map(|a| a.slice(sql)).collect::<Vec<_>>();
        assert!(actions(0).is_empty());
        assert_eq!(actions(1), ["SET DESCRIPTION 'd'", "SET OPTION host = 'h'", "RENAME TO c2"]);
        assert_eq!(script.statements[1].actions[1].start, Location { line: 3, column: 3, offset: 53 });
        assert_eq!(actions(2), ["SET CONFIG '{}'", "SET CREDENTIALS FROM VAULT e"]);
    }

    #[test]
    fn rollback_to_version_is_an_action_with_its_own_span() {
        let sql = "ALTER CONNECTION c SET DESCRIPTION 'd' ROLLBACK TO VERSION 3;\n\
                   ALTER VAULT v ROLLBACK TO VERSION 2 RENAME TO w;\n\
                   ALTER CREDENTIAL STORAGE s INACTIVE ROLLBACK TO VERSION 1;\n\
                   ALTER LINK db.l SET CONFIG '{}' ROLLBACK\n  TO VERSION 4 SET CREDENTIALS FROM VAULT e;\n\
                   DESCRIBE CONNECTION c AT VERSION 3";
        let script = parse_script(sql);
        assert!(script.errors.is_empty(), "{:?}", script.errors);
        let actions = |n: usize| script.statements[n].actions.iter().map(|a| a.slice(sql)).collect::<Vec<_>>();
        assert_eq!(actions(0), ["SET DESCRIPTION 'd'", "ROLLBACK TO VERSION 3"]);
        assert_eq!(actions(1), ["ROLLBACK TO VERSION 2", "RENAME TO w"]);
        assert_eq!(actions(2), ["INACTIVE", "ROLLBACK TO VERSION 1"]);
        assert_eq!(actions(3), ["SET CONFIG '{}'", "ROLLBACK\n  TO VERSION 4", "SET CREDENTIALS FROM VAULT e"]);
        assert!(actions(4).is_empty(), "AT is not an action");
    }

    #[test]
    fn the_span_of_a_vertical_statement_stops_before_the_terminator() {
        let sql = "SHOW CREATE LINK db1.l \\G";
        let script = parse_script(sql);
        assert_eq!(script.statements[0].span.slice(sql), "SHOW CREATE LINK db1.l");
    }
}
