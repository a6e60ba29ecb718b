//! Parse errors: position, what was expected and found, and a rendering of the source line with a caret — with
//! every secret literal on that line redacted.

use std::fmt;

use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::dialect::DIALECT;
use crate::source::{LineIndex, Location};

/// A syntax error.
///
/// `Display` prints `line L, column C: message`; [`ParseError::render`] prints the rustc-style report with the source
/// line and a caret. Neither ever contains the value of a secret literal: the message never quotes string literals,
/// and the rendered line shows secret literals — and every literal whose role is uncertain in the broken text — as
/// `'***'` (the rule is on `Context`); names, LIKE patterns, descriptions and plain option values are shown as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    message: String,
    location: Location,
    hint: Option<String>,
    /// The source line, redacted.
    line_text: String,
    /// 1-based character column of the caret within `line_text`.
    caret_column: usize,
    /// Number of carets.
    caret_width: usize,
}

impl ParseError {
    /// An error at `location` covering `width` characters; the snippet is taken (redacted) from `source`.
    pub(crate) fn new(source: &str, location: Location, width: usize, message: impl Into<String>) -> Self {
        let lines = LineIndex::new(source);
        Self::with(&lines, &Redactions::of(source, &lines), location, width, message)
    }

    /// An error at `location`, with the line index and redactions of its source computed once by the caller.
    pub(crate) fn with(
        lines: &LineIndex<'_>,
        redactions: &Redactions,
        location: Location,
        width: usize,
        message: impl Into<String>,
    ) -> Self {
        let (line_text, caret_column, covered) =
            redact_line(lines, &redactions.ranges, location.line, location.column as usize);
        // A caret under a hidden literal is as wide as the mask, so it does not tell the secret's length.
        let caret_width = covered.unwrap_or(width).max(1);
        Self { message: message.into(), location, hint: None, line_text, caret_column, caret_width }
    }

    /// An error raised by the tokenizer (unterminated literal, bad character). It points at the start of the token
    /// that could not be read, and everything from there on is hidden: it may be an unterminated secret.
    pub(crate) fn tokenizer(
        lines: &LineIndex<'_>,
        redactions: &Redactions,
        err: &sqlparser::tokenizer::TokenizerError,
    ) -> Self {
        let location = redactions.failure.unwrap_or_else(|| lines.location(err.location.line, err.location.column));
        Self::with(lines, redactions, location, 1, tokenizer_message(&err.message))
    }

    /// Adds a hint (a full sentence).
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// What went wrong, e.g. `expected "=" after TYPE, found "("`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where it went wrong.
    pub fn location(&self) -> Location {
        self.location
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// A rustc-style report: `error: …`, ` --> origin:line:col`, the (redacted) source line and a caret.
    /// `origin` is a file name, or empty for inline SQL.
    pub fn render(&self, origin: &str) -> String {
        let line_no = self.location.line.to_string();
        let gutter = " ".repeat(line_no.len());
        let position = if origin.is_empty() {
            format!("{}:{}", self.location.line, self.location.column)
        } else {
            format!("{origin}:{}:{}", self.location.line, self.location.column)
        };
        let mut out = format!("error: {}\n{gutter}--> {position}\n{gutter} |\n", self.message);
        out.push_str(&format!("{line_no} | {}\n", self.line_text));
        out.push_str(&format!(
            "{gutter} | {}{}\n",
            " ".repeat(self.caret_column.saturating_sub(1)),
            "^".repeat(self.caret_width)
        ));
        if let Some(hint) = &self.hint {
            out.push_str(&format!("{gutter} = hint: {hint}\n"));
        }
        out
    }
}

/// `source` with its secret literals (by the rule of rendered errors) replaced by `'***'`: for storing text that may
/// not parse (a shell history line) without the secrets it may hold. Line breaks are kept; control
/// characters become spaces.
pub fn redact_source(source: &str) -> String {
    let lines = LineIndex::new(source);
    let redactions = Redactions::of(source, &lines);
    let count = u32::try_from(source.split('\n').count()).unwrap_or(u32::MAX);
    (1..=count).map(|line| redact_line(&lines, &redactions.ranges, line, 1).0).collect::<Vec<_>>().join("\n")
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.location.line, self.location.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Rewords the tokenizer's messages in our style, without echoing input.
fn tokenizer_message(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    if lower.contains("unterminated string") || lower.contains("unterminated") && lower.contains("literal") {
        "unterminated string literal: a closing ' is missing".to_owned()
    } else if lower.contains("delimiter") || lower.contains("delimited") {
        "unterminated quoted identifier: a closing quote is missing".to_owned()
    } else if lower.contains("comment") {
        "unterminated /* comment".to_owned()
    } else {
        // Keep only the message's first clause; the tokenizer's messages name characters, not literal contents.
        let first = message.split(" at Line").next().unwrap_or(message);
        format!("invalid token: {}", first.trim().trim_end_matches('.').to_lowercase())
    }
}

/// A character range of a secret literal: start and end (exclusive) as (line, column), both 1-based.
#[derive(Debug, Clone, Copy)]
struct SecretRange {
    start: (u32, usize),
    end: (u32, usize),
}

/// Whether `token` is a string literal in the sense of our grammar (single-quoted, or double-quoted in the LINK
/// dialect).
pub(crate) fn is_string_token(token: &Token) -> bool {
    matches!(token, Token::SingleQuotedString(_)) || matches!(token, Token::Word(w) if w.quote_style == Some('"'))
}

/// What a rendered error line hides, computed once per parsed source.
pub(crate) struct Redactions {
    ranges: Vec<SecretRange>,
    /// Where the tokenizer stopped, if it did: the start of the token it could not read.
    failure: Option<Location>,
}

/// Whether `token` is a literal of any quoted kind (`'…'`, `N'…'`, `X'…'`, `E'…'`, `$$…$$`, …).
pub(crate) fn is_quoted_literal(token: &Token) -> bool {
    matches!(
        token,
        Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
    )
}

/// Whether a string literal's content ends in `\`: the sign of a backslash-escaped quote the lexer did not read.
fn ends_in_backslash(token: &Token) -> bool {
    match token {
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.ends_with('\\'),
        Token::Word(w) if w.quote_style.is_some() => w.value.ends_with('\\'),
        _ => false,
    }
}

fn is_word(token: &Token, keyword: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
}

/// How far back [`Context::marker_before`] looks for a secret marker before it gives up and hides the literal.
const MARKER_LOOKBACK: usize = 64;

/// The keywords a statement starts with, for finding the object name right after a statement's head.
const HEAD_VERBS: &[&str] = &["CREATE", "ALTER", "DROP", "SHOW", "DESCRIBE", "DESC", "TEST", "USE", "START", "STOP"];

/// Words that may follow the verb in a statement's head (`SHOW CREATE LINK`, `CREATE OR REPLACE LINK`,
/// `SHOW FILES FOR PIPELINE`, `DROP CREDENTIAL STORAGE IF EXISTS`).
const HEAD_WORDS: &[&str] = &[
    "CONNECTION",
    "CONNECTIONS",
    "VAULT",
    "VAULTS",
    "CREDENTIAL",
    "CREDENTIALS",
    "STORAGE",
    "STORAGES",
    "DATABASE",
    "DATABASES",
    "SCHEMA",
    "SCHEMAS",
    "LINK",
    "LINKS",
    "PIPELINE",
    "PIPELINES",
    "CREATE",
    "FILES",
    "FOR",
    "OR",
    "REPLACE",
    "IF",
    "NOT",
    "EXISTS",
];

/// Where a forward scan is in an `OPTIONS (key = value, …)` list. `Broken` is a list that stopped following that
/// shape: its later literals have no known role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Outside,
    Key,
    KeyEnd,
    KeyPart,
    Value,
    ValueEnd,
    Broken,
}

/// The significant tokens of a source, with what the redaction rule needs to know about their surroundings.
///
/// The rule, the same set `lanyard fmt` masks (see [`crate::ast::ToSql`]), decided from tokens alone since the text
/// did not parse:
/// - hidden: a literal after `SECRET` (not `EXTERNAL SECRET`), after `CREDENTIALS` (not the noun of
///   `SHOW/DROP CREDENTIALS`, nor `CREDENTIALS FROM VAULT`), after `IDENTIFIED BY`, a value under a secret option key
///   or a value with secret-looking text ([`lanyard_core::is_secret_option`]), a `SET CREDENTIALS ::k = …` value, a
///   `SET CONFIG ::k = …` value under a secret config key or with secret-looking text, a CONFIG JSON object holding
///   a secret, and every quoted
///   literal whose role cannot be read from the tokens around it (`pass(word = '…'`, plain SQL, a stray literal);
/// - shown as typed: LIKE patterns, DESCRIPTION, EXPIRES, ALGORITHM and TYPE values, `LINKED EXTERNAL SECRET` names,
///   object names (quoted or not), option and `::` keys, other option values, pipeline paths, `BY` characters and the
///   timestamp of `DESCRIBE … AT '…'`.
struct Context<'t> {
    tokens: Vec<&'t Token>,
    /// Whether each token is a key or a value of an `OPTIONS (…)` list that is well formed up to it.
    in_options: Vec<bool>,
    /// Whether each token is where a statement's head puts the object's name (`DROP CONNECTION <name>`).
    name_slot: Vec<bool>,
    /// Whether each token is in a statement that starts with `DESCRIBE` or `DESC`.
    in_describe: Vec<bool>,
}

impl<'t> Context<'t> {
    fn new(tokens: Vec<&'t Token>) -> Self {
        let mut in_options = vec![false; tokens.len()];
        let mut name_slot = vec![false; tokens.len()];
        let mut in_describe = vec![false; tokens.len()];
        let mut list = List::Outside;
        let mut statement_start = true;
        let mut describing = false;
        for i in 0..tokens.len() {
            let token = tokens[i];
            if statement_start {
                describing = is_word(token, "DESCRIBE") || is_word(token, "DESC");
            }
            in_describe[i] = describing;
            list = match (list, token) {
                (_, Token::SemiColon) => List::Outside,
                (List::Outside | List::Broken, Token::LParen)
                    if i > 0 && is_word(tokens[i - 1], "OPTIONS")
                        || i > 1 && tokens[i - 1] == &Token::Eq && is_word(tokens[i - 2], "OPTIONS") =>
                {
                    List::Key
                }
                (List::Broken, Token::RParen) => List::Outside,
                (List::Outside | List::Broken, _) => list,
                (List::Key, Token::Word(_) | Token::SingleQuotedString(_)) => List::KeyEnd,
                (List::Key, Token::RParen) if tokens[i - 1] == &Token::LParen => List::Outside,
                (List::KeyEnd, Token::Period) => List::KeyPart,
                (List::KeyPart, Token::Word(w)) if w.quote_style.is_none() => List::KeyEnd,
                (List::KeyEnd, Token::Eq) => List::Value,
                (List::Value, Token::SingleQuotedString(_) | Token::Number(..)) => List::ValueEnd,
                (List::Value, Token::Word(w))
                    if w.quote_style.is_none() && ["TRUE", "FALSE"].iter().any(|b| w.value.eq_ignore_ascii_case(b)) =>
                {
                    List::ValueEnd
                }
                (List::ValueEnd, Token::Comma) => List::Key,
                (List::ValueEnd, Token::RParen) => List::Outside,
                _ => List::Broken,
            };
            in_options[i] = matches!(list, List::KeyEnd | List::ValueEnd);
            if statement_start && HEAD_VERBS.iter().any(|v| is_word(token, v)) {
                let mut j = i + 1;
                while j < tokens.len() && HEAD_WORDS.iter().any(|w| is_word(tokens[j], w)) {
                    j += 1;
                }
                let only_verb = j == i + 1 && !is_word(token, "USE");
                if j < tokens.len() && !only_verb {
                    name_slot[j] = true;
                }
            }
            statement_start = token == &Token::SemiColon;
        }
        Self { tokens, in_options, name_slot, in_describe }
    }

    /// Whether a secret marker comes between the last value before `i` (a literal, a number, or the start of the
    /// statement) and `i`: `SECRET`, the `CREDENTIALS` clause, `IDENTIFIED`, or a secret-looking word. A literal
    /// after one is hidden even where it looks harmless, so a stray token between a marker and its secret
    /// (`SECRET TYPE = '…'`, `password BOGUS = '…'`) does not reveal it.
    fn marker_before(&self, i: usize) -> bool {
        for (steps, j) in (0..i).rev().enumerate() {
            let token = self.tokens[j];
            if is_string_token(token)
                || is_quoted_literal(token)
                || matches!(token, Token::Number(..) | Token::SemiColon)
            {
                return false;
            }
            // So many tokens without a value: no statement of ours looks like that. Hidden, and the walk stays short.
            if steps >= MARKER_LOOKBACK {
                return true;
            }
            let Token::Word(w) = token else { continue };
            if w.quote_style.is_some() {
                continue;
            }
            let marker = match w.value.to_ascii_uppercase().as_str() {
                "SECRET" => !self.word_before(j, 1, "EXTERNAL"),
                "CREDENTIALS" => {
                    !self.credentials_is_noun(j) && !self.tokens.get(j + 1).is_some_and(|t| is_word(t, "FROM"))
                }
                "IDENTIFIED" => true,
                // Keywords of our grammar that look secret but take a name, a type or a number.
                "CREDENTIAL" | "ENCRYPTION_KEY" | "KEY_SIZE" => false,
                _ => lanyard_core::is_secret_key(&w.value),
            };
            if marker {
                return true;
            }
        }
        false
    }

    /// The token `back` places before `i`, if any.
    fn before(&self, i: usize, back: usize) -> Option<&'t Token> {
        i.checked_sub(back).map(|j| self.tokens[j])
    }

    fn word_before(&self, i: usize, back: usize, keyword: &str) -> bool {
        self.before(i, back).is_some_and(|t| is_word(t, keyword))
    }

    /// Whether `CREDENTIALS` at `j` is the object noun of a statement (`SHOW CREDENTIALS`, `DROP CREDENTIALS x`, a
    /// misspelt `CREDENTIAL`), not the link clause that takes a secret.
    fn credentials_is_noun(&self, j: usize) -> bool {
        j > 0 && HEAD_VERBS.iter().any(|v| is_word(self.tokens[j - 1], v))
    }

    /// The key of a `key = value` pair whose `=` is at `eq`, and the index of the token before the key: a bare
    /// (possibly dotted) word, a quoted word or a single-quoted string.
    fn key_before(&self, eq: usize) -> Option<(String, Option<usize>)> {
        let mut k = eq.checked_sub(1)?;
        let mut key = match self.tokens[k] {
            Token::Word(w) => w.value.clone(),
            Token::SingleQuotedString(s) => s.clone(),
            _ => return None,
        };
        while k >= 2 && self.tokens[k - 1] == &Token::Period && matches!(self.tokens[k - 2], Token::Word(_)) {
            if let Token::Word(w) = self.tokens[k - 2] {
                key = format!("{}.{key}", w.value);
            }
            k -= 2;
        }
        Some((key, k.checked_sub(1)))
    }

    /// Whether the value at `i` (a literal or a bare word) sits where a secret goes, whatever its kind: right after
    /// `SECRET` or `CREDENTIALS` (an `=` between allowed), after `IDENTIFIED BY`, or after `key =` with a
    /// secret-looking key (`password = x`, `SET CREDENTIALS ::k = x`).
    fn is_secret_position(&self, i: usize) -> bool {
        let tokens = &self.tokens;
        let eq = i > 0 && tokens[i - 1] == &Token::Eq;
        let j = if eq { i - 1 } else { i };
        let Some(prev) = j.checked_sub(1).map(|p| tokens[p]) else { return false };
        if is_word(prev, "SECRET") {
            // `LINKED EXTERNAL SECRET 'name'` names a secret of the backend; it is not one.
            return !self.word_before(j, 2, "EXTERNAL");
        }
        if is_word(prev, "BY") && self.word_before(j, 2, "IDENTIFIED") {
            return true;
        }
        if is_word(prev, "CREDENTIALS") {
            // `CREDENTIALS FROM VAULT entry` names an entry: those two keywords are not a bare secret.
            let from_vault =
                !eq && is_word(tokens[i], "FROM") && tokens.get(i + 1).is_some_and(|t| is_word(t, "VAULT"));
            return !from_vault && !self.credentials_is_noun(j - 1);
        }
        if !eq {
            return false;
        }
        let Some((key, before_key)) = self.key_before(j) else { return false };
        let before_key = before_key.map(|b| tokens[b]);
        if before_key == Some(&Token::DoubleColon) {
            // `SET CREDENTIALS ::k = v` is always secret; `SET CONFIG ::k = v` under a secret-looking key.
            let clause = self.key_before(j).and_then(|(_, b)| b).and_then(|b| b.checked_sub(1)).map(|c| tokens[c]);
            return !clause.is_some_and(|c| is_word(c, "CONFIG")) || lanyard_core::is_secret_key(&key);
        }
        let in_list = matches!(before_key, Some(Token::LParen | Token::Comma));
        // `CREDENTIAL = entry` (a connection's clause, outside an option list) names a vault entry.
        if !in_list && key.eq_ignore_ascii_case("CREDENTIAL") {
            return false;
        }
        lanyard_core::is_secret_key(&key)
    }

    /// Whether the literal at `i`, whose text is `value`, is in a position known to hold no secret (see [`Context`]).
    /// Anything else is hidden.
    fn is_shown_literal(&self, i: usize, value: &str) -> bool {
        let tokens = &self.tokens;
        let next = tokens.get(i + 1).copied();
        // Keys: `::"key"`, or `'key' =` in an option list.
        if self.before(i, 1) == Some(&Token::DoubleColon) && next == Some(&Token::Eq) {
            return true;
        }
        if next == Some(&Token::Eq)
            && self.in_options[i]
            && matches!(self.before(i, 1), Some(Token::LParen | Token::Comma))
        {
            return true;
        }
        if self.marker_before(i) {
            return false;
        }
        if self.name_slot[i] {
            return true;
        }
        if self.is_secret_position(i) {
            return false;
        }
        let eq = self.before(i, 1) == Some(&Token::Eq);
        let j = if eq { i - 1 } else { i };
        let Some(prev) = self.before(j, 1) else { return false };
        if let Token::Word(w) = prev
            && w.quote_style.is_none()
        {
            let shown = match w.value.to_ascii_uppercase().as_str() {
                "LIKE" | "DESCRIPTION" | "EXPIRES" | "ALGORITHM" | "TYPE" => true,
                "SECRET" => self.word_before(j, 2, "EXTERNAL"),
                "TO" => self.word_before(j, 2, "RENAME"),
                "VAULT" => self.word_before(j, 2, "FROM"),
                "STORAGE" => self.word_before(j, 2, "CREDENTIAL") && !self.word_before(j, 3, "UNSET"),
                "CONNECTION" => self.word_before(j, 2, "ON"),
                "BY" => ["TERMINATED", "ENCLOSED", "ESCAPED"].iter().any(|k| self.word_before(j, 2, k)),
                "CONFIG" => config_holds_no_secret(value),
                // The timestamp of `DESCRIBE … AT '…'`.
                "AT" => self.in_describe[j] && !crate::ast::is_secret_text(value),
                _ => false,
            };
            if shown {
                return true;
            }
        }
        if eq {
            let Some((key, before_key)) = self.key_before(j) else { return false };
            let before_key = before_key.map(|b| tokens[b]);
            if before_key == Some(&Token::DoubleColon) {
                // `SET CONFIG ::key = value`, shown unless `fmt` masks it.
                let clause = self.key_before(j).and_then(|(_, b)| b).and_then(|b| b.checked_sub(1)).map(|c| tokens[c]);
                return clause.is_some_and(|c| is_word(c, "CONFIG"))
                    && !lanyard_core::is_secret_config_key(&key)
                    && !crate::ast::is_secret_text(value);
            }
            let after_list_punct = matches!(before_key, Some(Token::LParen | Token::Comma));
            let in_list = self.in_options[i] && after_list_punct;
            if !after_list_punct && key.eq_ignore_ascii_case("CREDENTIAL") {
                return true; // `[SET] CREDENTIAL = entry`: a name, as `is_secret_position` decided
            }
            // `ALTER CONNECTION c SET OPTION key = value`.
            let single_set = before_key.is_some_and(|t| is_word(t, "OPTION"))
                && self.key_before(j).and_then(|(_, b)| b).is_some_and(|b| self.word_before(b, 1, "SET"));
            return (in_list || single_set) && !lanyard_core::is_secret_option(&key, value);
        }
        // The path of `LOAD DATA LINK [db.]link 'path'`.
        let mut k = j - 1;
        if matches!(tokens[k], Token::Word(_)) {
            if k >= 2 && tokens[k - 1] == &Token::Period {
                k -= 2;
            }
            return k >= 2 && is_word(tokens[k - 1], "LINK") && is_word(tokens[k - 2], "DATA");
        }
        false
    }
}

/// Whether a CONFIG literal is a JSON object that `lanyard fmt` would print unmasked (no secret-looking key at any
/// depth, no string with secret-looking text). Anything else — text that is not JSON, a secret inside — is hidden
/// whole.
fn config_holds_no_secret(text: &str) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else { return false };
    let mut masked = value.clone();
    crate::ast::mask_config_secrets(&mut masked);
    value.is_object() && masked == value
}

/// The text of a literal token that may be shown (single-quoted, or a double-quoted word); `None` for the other
/// literal kinds, which our grammar does not use and which are always hidden.
fn literal_text(token: &Token) -> Option<&str> {
    match token {
        Token::SingleQuotedString(s) => Some(s),
        Token::Word(w) if w.quote_style == Some('"') => Some(&w.value),
        _ => None,
    }
}

impl Redactions {
    /// Whether the character at `location` is hidden.
    pub(crate) fn hides(&self, location: Location) -> bool {
        let at = (location.line, location.column as usize);
        self.ranges.iter().any(|r| r.start <= at && at < r.end)
    }

    /// Tokenizes `source` afresh (partially, if it does not tokenize completely) and finds what to hide.
    pub(crate) fn of(source: &str, lines: &LineIndex<'_>) -> Self {
        let mut buffer: Vec<TokenWithSpan> = Vec::new();
        let tokenized = Tokenizer::new(&DIALECT, source).tokenize_with_location_into_buf(&mut buffer);
        let significant: Vec<&TokenWithSpan> =
            buffer.iter().filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF)).collect();
        let context = Context::new(significant.iter().map(|t| &t.token).collect());
        let mut ranges = Vec::new();
        for (i, token) in significant.iter().enumerate() {
            // Only secret literals are hidden, by the rule on [`Context`]: in a secret position, or a quoted literal
            // whose position is not known to be harmless. A double-quoted word is a literal where a value may go.
            let value_like = matches!(token.token, Token::Word(_) | Token::Number(..));
            // Every double-quoted word is judged as a literal: one far from its marker (`CREDENTIALS x y z w "{…}"`)
            // is hidden unless its position is known to be harmless, as a single-quoted one is.
            let literal =
                is_quoted_literal(&token.token) || matches!(&token.token, Token::Word(w) if w.quote_style == Some('"'));
            let hidden = if literal {
                !literal_text(&token.token).is_some_and(|text| context.is_shown_literal(i, text))
            } else {
                value_like && context.is_secret_position(i)
            };
            if hidden {
                let start = lines.location(token.span.start.line, token.span.start.column);
                // A literal that ends in a backslash was written with backslash escapes (`"{\"k\":\"v\"}"`, as
                // SHOW CREATE LINK prints CONFIG), which this lexer does not read: the rest of the value came out as
                // other tokens. Hide everything up to the end of the statement.
                let end = if ends_in_backslash(&token.token) {
                    significant[i..].iter().find(|t| t.token == Token::SemiColon).map_or((u32::MAX, usize::MAX), |t| {
                        let at = lines.location(t.span.start.line, t.span.start.column);
                        (at.line, at.column as usize)
                    })
                } else {
                    let end = lines.location(token.span.end.line, token.span.end.column);
                    (end.line, end.column as usize)
                };
                ranges.push(SecretRange { start: (start.line, start.column as usize), end });
            }
        }
        let failure = tokenized.is_err().then(|| {
            // The failing token starts where the last token read ends.
            let end = buffer.iter().rev().find(|t| t.token != Token::EOF).map(|t| t.span.end);
            end.map_or(Location { line: 1, column: 1, offset: 0 }, |end| lines.location(end.line, end.column))
        });
        if let Some(start) = failure {
            // Nothing after a tokenizer failure is classified: hide it all (it may be an unterminated secret).
            ranges.push(SecretRange { start: (start.line, start.column as usize), end: (u32::MAX, usize::MAX) });
        }
        zeroize_tokens(buffer);
        Self { ranges, failure }
    }
}

/// Overwrites the payloads of `tokens` that can hold a secret (string literals and quoted words) before they are
/// freed. Bare words are keywords, names and keys: never secret.
pub(crate) fn zeroize_tokens(tokens: Vec<TokenWithSpan>) {
    use zeroize::Zeroize;
    for mut token in tokens {
        match &mut token.token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.zeroize(),
            Token::Word(w) if w.quote_style.is_some() => w.value.zeroize(),
            _ => {}
        }
    }
}

/// The text of `line` with hidden literals replaced, `column` mapped into it, and — when the column falls inside a
/// hidden literal — the width of its mask.
fn redact_line(
    index: &LineIndex<'_>,
    secrets: &[SecretRange],
    line: u32,
    column: usize,
) -> (String, usize, Option<usize>) {
    // Control characters (tabs, stray carriage returns) print as one space each, so the caret stays aligned.
    let chars: Vec<char> = index.line_text(line).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let line_end = chars.len() + 1;
    // Character ranges [from, to) on this line, 1-based, with their replacement.
    let mut pieces: Vec<(usize, usize, String)> = Vec::new();
    for range in secrets {
        if range.start.0 > line || range.end.0 < line {
            continue;
        }
        let starts_here = range.start.0 == line;
        let ends_here = range.end.0 == line;
        let from = if starts_here { range.start.1 } else { 1 };
        let to = if ends_here { range.end.1.min(line_end) } else { line_end };
        if from >= line_end && !(starts_here && from == line_end) {
            continue;
        }
        let quote = chars.get(from.saturating_sub(1)).copied().filter(|c| starts_here && matches!(c, '\'' | '"'));
        let mut replacement = String::new();
        replacement.extend(quote);
        replacement.push_str(if range.end.0 == u32::MAX { "…" } else { lanyard_core::REDACTED });
        if ends_here {
            replacement.extend(quote);
        }
        pieces.push((from, to.max(from), replacement));
    }
    pieces.sort_by_key(|(from, _, _)| *from);

    let mut out = String::with_capacity(chars.len());
    let mut mapped = None;
    let mut covered = None;
    let mut next = 1;
    let mut shift: isize = 0;
    for (from, to, replacement) in &pieces {
        if *from < next {
            continue; // overlapping ranges cannot happen, but never panic on them
        }
        out.extend(&chars[next - 1..(from - 1).min(chars.len())]);
        if mapped.is_none() && column < *from {
            mapped = Some((column as isize + shift) as usize);
        } else if mapped.is_none() && (column < *to || column == *from) {
            mapped = Some((*from as isize + shift) as usize);
            covered = Some(replacement.chars().count());
        }
        out.push_str(replacement);
        shift += replacement.chars().count() as isize - (*to as isize - *from as isize);
        next = *to;
    }
    if next <= chars.len() {
        out.extend(&chars[next - 1..]);
    }
    let caret = mapped.unwrap_or_else(|| (column as isize + shift).max(1) as usize);
    (out, caret, covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_source_hides_secret_literals_and_keeps_the_lines() {
        let text = "CREATE CREDENTIAL c TYPE = CREDENTIAL\n  SECRET 'hunter2' GARBAGE 'x'";
        let redacted = redact_source(text);
        // The literal after GARBAGE has no known role in this broken statement: hidden too.
        assert_eq!(redacted, "CREATE CREDENTIAL c TYPE = CREDENTIAL\n  SECRET '***' GARBAGE '***'");
        // An unterminated literal hides everything after its start.
        assert_eq!(redact_source("SET SECRET 'hunter2"), "SET SECRET '…");
        // A bare word in a secret position is hidden too.
        assert!(!redact_source("CREATE STORAGE s OPTIONS (password = hunter2)").contains("hunter2"));
        assert_eq!(redact_source("CREATE LINK l AS S3 CREDENTIALS hunter2"), "CREATE LINK l AS S3 CREDENTIALS ***");
    }

    #[test]
    fn credentials_from_vault_is_shown_but_a_bare_word_after_credentials_is_not() {
        assert_eq!(
            redact_source("ALTER LINK l SET CREDENTIALS FROM VAULT entry oops"),
            "ALTER LINK l SET CREDENTIALS FROM VAULT entry oops"
        );
        // `FROM` alone may be a mistyped bare secret: hidden.
        assert_eq!(redact_source("CREATE LINK l AS S3 CREDENTIALS from"), "CREATE LINK l AS S3 CREDENTIALS ***");
        // A quoted entry name is a name, as `lanyard fmt` shows it.
        assert_eq!(
            redact_source("CREATE LINK l AS S3 CREDENTIALS FROM VAULT 'e' x"),
            "CREATE LINK l AS S3 CREDENTIALS FROM VAULT 'e' x"
        );
    }

    /// Before: every quoted literal read `'***'`, and a name after `DROP CREDENTIALS` too. After: what `lanyard fmt`
    /// shows is shown as typed.
    #[test]
    fn names_patterns_descriptions_and_plain_options_are_shown_as_typed() {
        for shown in [
            "DROP CREDENTIALS prod_pw oops",
            "DROP CREDENTIALS 'prod_pw' oops",
            "SHOW CONNECTIONS LIKE 'prod%' oops",
            "ALTER CONNECTION c SET DESCRIPTION = 'the main db' oops",
            "CREATE CREDENTIAL STORAGE s TYPE = aws DESCRIPTION 'eu' OPTIONS (region = 'eu-west-1') oops",
            "CREATE CONNECTION c TYPE = postgres CREDENTIAL = pg_login OPTIONS (host = 'db', 'sslmode' = 'require') x",
            "ALTER CONNECTION c SET CREDENTIAL = 'pg_login' oops",
            "ALTER CONNECTION c SET OPTION host = 'db.internal' SET OPTIONS = (port = 5432, 'sslmode' = 'require') x",
            "CREATE VAULT v TYPE = CREDENTIAL LINKED EXTERNAL SECRET 'prod/db' EXPIRES '2030-01-01' oops",
            "CREATE VAULT k TYPE = ENCRYPTION_KEY ALGORITHM = 'AES' GENERATE oops",
            "ALTER VAULT v RENAME TO 'v2' oops",
            "CREATE LINK l AS S3 CONFIG '{\"region\":\"us-east-1\"}' DESCRIPTION \"raw files\" oops",
            "ALTER LINK l SET CONFIG ::region = 'us-east-1' oops",
            "ALTER LINK l SET CREDENTIALS ::\"aws key\" = '***' oops",
            "CREATE PIPELINE p AS LOAD DATA LINK db.l 'bucket/in/' INTO TABLE t ON CONNECTION 'c' FIELDS TERMINATED BY ';' x",
            "USE 'analytics' oops",
            "DESCRIBE CONNECTION c AT '2026-12-01T10:00:00Z' oops",
            "DESC LINK db.l AT '2026-13-01' oops",
        ] {
            assert_eq!(redact_source(shown), shown);
        }
    }

    /// Canary secrets in every position `lanyard fmt` masks, and in positions a broken statement leaves unknown:
    /// none reaches a rendered error or `redact_source`.
    #[test]
    fn no_canary_secret_leaks_from_a_broken_statement() {
        let canary = "CANARYsecret42";
        // A secret far from its marker: past the lookback, the literal is hidden anyway.
        let long = format!("ALTER CREDENTIAL c SET SECRET {} 'CANARYsecret42'", "w ".repeat(70));
        let statements = [
            "CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET 'CANARYsecret42' oops",
            "CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET = \"CANARYsecret42\" oops",
            "ALTER CREDENTIAL c SET SECRET 'CANARYsecret42' oops",
            "ALTER CREDENTIAL c SET SECRET CANARYsecret42 oops",
            "CREATE CREDENTIAL c TYPE = CREDENTIAL 'CANARYsecret42' oops",
            "CREATE CONNECTION c TYPE = postgres OPTIONS (host = 'h', password = 'CANARYsecret42') oops",
            "CREATE CONNECTION c TYPE = postgres OPTIONS (url = 'postgres://u:CANARYsecret42@h/db') oops",
            "CREATE CONNECTION c TYPE = postgres OPTIONS (host = 'h', pass(word = 'CANARYsecret42') oops",
            "CREATE CONNECTION c TYPE = postgres OPTIONS (credential = 'CANARYsecret42') oops",
            "CREATE CONNECTION c TYPE = postgres password = 'CANARYsecret42' oops",
            "ALTER CONNECTION c SET OPTION api_token = 'CANARYsecret42' oops",
            "ALTER CONNECTION c SET OPTION p SET assword = 'CANARYsecret42' oops",
            "ALTER CONNECTION c SET OPTIONS (host = 'h', p,assword = 'CANARYsecret42') oops",
            "ALTER CREDENTIAL c SET SECRET TYPE = 'CANARYsecret42' oops",
            "ALTER CONNECTION c SET OPTIONS (private_key = 'CANARYsecret42') oops",
            "CREATE CREDENTIAL STORAGE s TYPE = aws OPTIONS (secret_access_key = 'CANARYsecret42') oops",
            "CREATE LINK l AS S3 CREDENTIALS '{\"aws_secret_access_key\":\"CANARYsecret42\"}' oops",
            "CREATE LINK l AS S3 CREDENTIALS = \"{'k': 'CANARYsecret42'}\" oops",
            // A double-quoted literal far from its marker is judged like a single-quoted one.
            "CREATE LINK l AS S3 CREDENTIALS x y z w \"{k: CANARYsecret42}\" oops",
            "CREATE LINK l AS S3 CONFIG '{\"nested\":{\"password\":\"CANARYsecret42\"}}' oops",
            "CREATE LINK l AS S3 CONFIG '{\"endpoint\":\"http://u:CANARYsecret42@h\"}' oops",
            "CREATE LINK l AS S3 CONFIG 'not json CANARYsecret42' oops",
            "ALTER LINK l SET CREDENTIALS ::aws_access_key_id = 'CANARYsecret42' oops",
            "ALTER LINK l SET CREDENTIALS ::region = \"CANARYsecret42\" oops",
            "ALTER LINK l SET CREDENTIALS :: 'CANARYsecret42'",
            "ALTER LINK l SET CONFIG ::secret = 'CANARYsecret42' oops",
            "ALTER LINK l SET CONFIG ::endpoint = 'https://u:CANARYsecret42@h' oops",
            "CREATE USER bob IDENTIFIED BY 'CANARYsecret42' oops",
            "CREATE USER bob IDENTIFIED BY CANARYsecret42",
            "SELECT 'CANARYsecret42'",
            "DROP CONNECTION c 'CANARYsecret42'",
            "CREATE PIPELINE p AS LOAD DATA LINK l 'x' INTO TABLE t ON CONNECTION c password = 'CANARYsecret42'",
            "ALTER CREDENTIAL c SET SECRET 'CANARYsecret42",
            // `AT '…'` shows a timestamp only in a DESCRIBE statement, and never secret-looking text.
            "CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET AT 'CANARYsecret42' oops",
            "SHOW HISTORY FOR CONNECTION c AT 'CANARYsecret42'",
            "DESCRIBE CONNECTION c; SHOW HISTORY FOR CONNECTION c AT 'CANARYsecret42'",
            "DESCRIBE CONNECTION c AT 'postgres://u:CANARYsecret42@h' oops",
            long.as_str(),
        ];
        for sql in statements {
            let redacted = redact_source(sql);
            assert!(!redacted.contains(canary), "{sql} -> {redacted}");
            let error = crate::parse(sql).expect_err(sql);
            let rendered = error.render("f.sql");
            assert!(!rendered.contains(canary), "{sql} ->\n{rendered}");
            assert!(!error.to_string().contains(canary), "{sql} -> {error}");
        }
    }
}
