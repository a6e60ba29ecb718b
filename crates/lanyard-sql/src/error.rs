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
/// and the rendered line shows every single-quoted literal (and every double-quoted one in a value position) as
/// `'***'`.
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

/// `source` with every quoted literal, and every value in a secret position, replaced by `'***'`: for storing text
/// that may not parse (a shell history line) without the secrets it may hold. Line breaks are kept; control
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

/// Whether the double-quoted word at `i` (whitespace removed) may be a string rather than a name: a LINK-dialect value
/// (`SET CREDENTIALS ::k = "…"`, `DESCRIPTION "…"`). It is treated as one when a value marker — `=`, `::`, `SECRET`,
/// `CREDENTIALS`, `CONFIG`, `DESCRIPTION` or a secret-looking word — comes in the four tokens before it, so a stray
/// token between a marker and the literal does not make it look like a name.
fn may_be_string(tokens: &[&Token], i: usize) -> bool {
    let marker = |t: &Token| match t {
        Token::Eq | Token::DoubleColon => true,
        Token::Word(w) if w.quote_style.is_none() => {
            ["SECRET", "CREDENTIALS", "CONFIG", "DESCRIPTION"].iter().any(|k| w.value.eq_ignore_ascii_case(k))
                || lanyard_core::is_secret_key(&w.value)
        }
        _ => false,
    };
    tokens[i.saturating_sub(4)..i].iter().any(|t| marker(t))
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

/// Whether the token at `i` (whitespace removed) is where a secret value goes, whatever its kind: right after
/// `SECRET` or `CREDENTIALS` (an `=` between allowed; not the `FROM` of `CREDENTIALS FROM VAULT`), or after `key =` with a secret-looking key (`password = x`,
/// `SET CREDENTIALS ::k = x`). A bare word or a number there is hidden like a string.
pub(crate) fn is_secret_position(tokens: &[&Token], i: usize) -> bool {
    let mut j = i;
    let eq = j > 0 && tokens[j - 1] == &Token::Eq;
    if eq {
        j -= 1;
    }
    let Some(prev) = j.checked_sub(1).map(|p| tokens[p]) else { return false };
    if is_word(prev, "SECRET") {
        return true;
    }
    if is_word(prev, "CREDENTIALS") {
        // `CREDENTIALS FROM VAULT entry` names an entry: those two keywords are not a bare secret.
        let from_vault = !eq && is_word(tokens[i], "FROM") && tokens.get(i + 1).is_some_and(|t| is_word(t, "VAULT"));
        return !from_vault;
    }
    eq && match prev {
        Token::Word(w) => {
            lanyard_core::is_secret_key(&w.value)
                || j.checked_sub(2).is_some_and(|p| tokens[p] == &Token::DoubleColon)
                    && j.checked_sub(3).is_some_and(|p| is_word(tokens[p], "CREDENTIALS"))
        }
        _ => false,
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
        let tokens: Vec<&Token> = significant.iter().map(|t| &t.token).collect();
        let mut ranges = Vec::new();
        for (i, token) in significant.iter().enumerate() {
            // Every quoted literal is hidden: in a broken statement its role cannot be trusted (a typo turns
            // `password = '…'` into `pass(word = '…'`), and the message and caret say what is wrong without it.
            // So is anything in a secret position, and a double-quoted word where a value may go.
            let value_like = matches!(token.token, Token::Word(_) | Token::Number(..));
            let hidden = is_quoted_literal(&token.token)
                || value_like && is_secret_position(&tokens, i)
                || matches!(&token.token, Token::Word(w) if w.quote_style == Some('"') && may_be_string(&tokens, i));
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
    fn redact_source_hides_every_literal_and_keeps_the_lines() {
        let text = "CREATE CREDENTIAL c TYPE = CREDENTIAL\n  SECRET 'hunter2' GARBAGE 'x'";
        let redacted = redact_source(text);
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
        // A quoted entry name is hidden like any literal in a value position.
        assert_eq!(
            redact_source("CREATE LINK l AS S3 CREDENTIALS FROM VAULT 'e' x"),
            "CREATE LINK l AS S3 CREDENTIALS FROM VAULT '***' x"
        );
    }
}
