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
        let index = LineIndex::new(source);
        let secrets = secret_literal_ranges(source, &index);
        let (line_text, caret_column) = redact_line(&index, &secrets, location.line, location.column as usize, None);
        Self { message: message.into(), location, hint: None, line_text, caret_column, caret_width: width.max(1) }
    }

    /// An error raised by the tokenizer (unterminated literal, bad character): the rest of the line after the error
    /// position is hidden, since it may be an unterminated secret.
    pub(crate) fn tokenizer(source: &str, err: &sqlparser::tokenizer::TokenizerError) -> Self {
        let index = LineIndex::new(source);
        let location = index.location(err.location.line, err.location.column);
        let secrets = secret_literal_ranges(source, &index);
        let (line_text, caret_column) =
            redact_line(&index, &secrets, location.line, location.column as usize, Some(location.column as usize));
        let message = tokenizer_message(&err.message);
        Self { message, location, hint: None, line_text, caret_column, caret_width: 1 }
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

/// The ranges of every secret literal in `source`, from a fresh tokenization (partial if the source does not
/// tokenize completely).
fn secret_literal_ranges(source: &str, index: &LineIndex<'_>) -> Vec<SecretRange> {
    let mut buffer: Vec<TokenWithSpan> = Vec::new();
    let tokenized = Tokenizer::new(&DIALECT, source).tokenize_with_location_into_buf(&mut buffer);
    let significant: Vec<&TokenWithSpan> =
        buffer.iter().filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF)).collect();
    let tokens: Vec<&Token> = significant.iter().map(|t| &t.token).collect();
    let mut ranges = Vec::new();
    for (i, token) in significant.iter().enumerate() {
        // Every single-quoted literal is hidden: in a broken statement its role cannot be trusted (a typo turns
        // `password = '…'` into `pass(word = '…'`), and the message and caret say what is wrong without it.
        let hidden = match &token.token {
            Token::SingleQuotedString(_) => true,
            Token::Word(w) if w.quote_style == Some('"') => may_be_string(&tokens, i),
            _ => false,
        };
        if hidden {
            let start = index.location(token.span.start.line, token.span.start.column);
            let end = index.location(token.span.end.line, token.span.end.column);
            ranges
                .push(SecretRange { start: (start.line, start.column as usize), end: (end.line, end.column as usize) });
        }
    }
    if let Err(error) = tokenized {
        // Nothing after a tokenizer failure is classified: hide it all (it may be an unterminated secret).
        let start = index.location(error.location.line, error.location.column);
        ranges.push(SecretRange { start: (start.line, start.column as usize), end: (u32::MAX, usize::MAX) });
    }
    zeroize_tokens(buffer);
    ranges
}

/// Overwrites the string payloads of `tokens` before they are freed.
pub(crate) fn zeroize_tokens(tokens: Vec<TokenWithSpan>) {
    use zeroize::Zeroize;
    for mut token in tokens {
        match &mut token.token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.zeroize(),
            Token::Word(w) => w.value.zeroize(),
            _ => {}
        }
    }
}

/// The text of `line` with secret literals replaced, and `column` mapped into it. With `cut_from`, everything from
/// that column on is hidden as well.
fn redact_line(
    index: &LineIndex<'_>,
    secrets: &[SecretRange],
    line: u32,
    column: usize,
    cut_from: Option<usize>,
) -> (String, usize) {
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
        let to = if ends_here { range.end.1 } else { line_end };
        let quote = chars.get(from.saturating_sub(1)).copied().filter(|_| starts_here).unwrap_or('\'');
        let mut replacement = String::new();
        if starts_here {
            replacement.push(quote);
        }
        replacement.push_str(lanyard_core::REDACTED);
        if ends_here {
            replacement.push(quote);
        }
        pieces.push((from, to.min(line_end), replacement));
    }
    if let Some(cut) = cut_from {
        pieces.retain(|(from, _, _)| *from < cut);
        if cut < line_end {
            pieces.push((cut, line_end, "…".to_owned()));
        }
    }
    pieces.sort_by_key(|(from, _, _)| *from);

    let mut out = String::with_capacity(chars.len());
    let mut caret = column;
    let mut mapped = None;
    let mut next = 1;
    let mut shift: isize = 0;
    for (from, to, replacement) in &pieces {
        if *from < next {
            continue; // overlapping ranges cannot happen, but never panic on them
        }
        out.extend(&chars[next - 1..from - 1]);
        if mapped.is_none() && column < *from {
            mapped = Some((column as isize + shift) as usize);
        } else if mapped.is_none() && column < *to {
            mapped = Some((*from as isize + shift) as usize);
        }
        out.push_str(replacement);
        shift += replacement.chars().count() as isize - (*to as isize - *from as isize);
        next = *to;
    }
    if next <= chars.len() {
        out.extend(&chars[next - 1..]);
    }
    if mapped.is_none() {
        caret = (column as isize + shift).max(1) as usize;
    }
    (out, mapped.unwrap_or(caret))
}
