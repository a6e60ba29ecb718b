//! The request headers the API reads itself, parsed strictly and once: `If-Match` (RFC 9110 §13.1.1) and
//! `Authorization: Bearer` (RFC 6750 §2.1), and the `ETag` the server answers with. The server applies these; the
//! fuzz target `headers` runs them on arbitrary bytes.
//!
//! Strict means: an ETag of this API is strong (`"3"`), so a weak one (`W/"3"`), which RFC 9110 forbids in
//! `If-Match`, is refused rather than matched; a header that is not an entity-tag list is refused; and a request
//! carries at most one `If-Match` and exactly one `Authorization` field, so no proxy or client library can make the
//! server read a value other than the one the sender meant.

use std::fmt;

/// The `ETag` of a version: the version's digits, double-quoted (a strong entity tag).
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// What an `If-Match` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version (the object must exist).
    Any,
    /// `"<version>"`: exactly this version.
    Version(i64),
    /// A well-formed strong entity tag that no version of this API ever carries (`"abc"`, `"007"`, or digits past
    /// `i64`): the precondition is false, whatever the object's version (RFC 9110: 412).
    Never,
}

/// Why a header was refused. Its `Display` is the problem's detail; it echoes an `If-Match` value (shortened, control
/// characters dropped) but never any part of an `Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// More than one field of a header that must appear at most once.
    Repeated {
        /// The header's name.
        header: &'static str,
        /// How many fields the request had.
        count: usize,
    },
    /// `If-Match` is not `*` or a strong entity tag.
    MalformedIfMatch(String),
    /// `If-Match` holds a weak entity tag.
    WeakIfMatch(String),
    /// `If-Match` lists several entity tags.
    ListIfMatch(String),
    /// No `Authorization` header.
    MissingAuthorization,
    /// `Authorization` is not `Bearer <token>`.
    NotBearer,
    /// `Authorization: Bearer` with a value that is not a token68.
    MalformedBearer,
}

impl HeaderError {
    /// Whether the answer is 401 (the credentials are missing or unusable) rather than 400 (the request is malformed).
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self, Self::MissingAuthorization | Self::NotBearer | Self::MalformedBearer)
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Repeated { header, count } => {
                write!(f, "the request has {count} {header} headers; send exactly one")
            }
            Self::MalformedIfMatch(value) => write!(
                f,
                "If-Match must be * or an ETag of this API (a version in double quotes, like \"3\"), not {value}"
            ),
            Self::WeakIfMatch(value) => write!(
                f,
                "If-Match {value} is a weak ETag; If-Match compares strong ETags only (RFC 9110 §13.1.1): send the ETag as the server gave it, like \"3\""
            ),
            Self::ListIfMatch(value) => {
                write!(f, "If-Match {value} lists several ETags; send exactly one (the ETag the object was read with)")
            }
            Self::MissingAuthorization => f.write_str("this route needs Authorization: Bearer <token>"),
            Self::NotBearer => {
                f.write_str("the Authorization header must use the Bearer scheme: Authorization: Bearer <token>")
            }
            Self::MalformedBearer => f.write_str(
                "the bearer token is malformed: Authorization: Bearer <token> with the token as the server issued it",
            ),
        }
    }
}

impl std::error::Error for HeaderError {}

/// A header value shown in an error: quoted, at most 40 characters, control characters dropped.
fn shown(value: &[u8]) -> String {
    format!("{:?}", lanyard_core::printable(&String::from_utf8_lossy(value), 40))
}

/// Parses the `If-Match` fields of a request (`values`, in order): none asks for nothing (`Ok(None)`).
///
/// The grammar is RFC 9110's `"*" / 1#entity-tag` restricted to what this API can honour: `*` or one strong entity
/// tag; a bare version (`3`, which several HTTP clients send for `"3"` after stripping the quotes) is read as that
/// version. Optional whitespace around the value is allowed; anything else is [`HeaderError`].
pub fn parse_if_match<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Option<IfMatch>, HeaderError> {
    let mut values = values.into_iter();
    let Some(value) = values.next() else { return Ok(None) };
    let more = values.count();
    if more > 0 {
        return Err(HeaderError::Repeated { header: "If-Match", count: more + 1 });
    }
    let text = value.trim_ascii();
    if text == b"*" {
        return Ok(Some(IfMatch::Any));
    }
    // A bare version (`3`): not an entity tag, but what many clients send after stripping the quotes; read as `"3"`.
    if !text.is_empty() && text.iter().all(u8::is_ascii_digit) {
        return Ok(Some(version_of(text)));
    }
    let Some((tag, rest)) = entity_tag(text) else {
        return Err(HeaderError::MalformedIfMatch(shown(value)));
    };
    let rest = rest.trim_ascii_start();
    if !rest.is_empty() {
        // A list (`"1", "2"`) is well-formed HTTP but names several versions; anything else is not HTTP at all.
        return Err(match rest.strip_prefix(b",").map(|r| r.trim_ascii()).and_then(entity_list) {
            Some(()) => HeaderError::ListIfMatch(shown(value)),
            None => HeaderError::MalformedIfMatch(shown(value)),
        });
    }
    match tag {
        Tag::Weak => Err(HeaderError::WeakIfMatch(shown(value))),
        Tag::Strong(opaque) => Ok(Some(version_of(opaque))),
    }
}

/// One parsed entity tag: a strong one with its opaque part (between the quotes), or a weak one.
enum Tag<'a> {
    Strong(&'a [u8]),
    Weak,
}

/// `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE`, `etagc = %x21 / %x23-7E / obs-text`: the tag and what follows it.
fn entity_tag(text: &[u8]) -> Option<(Tag<'_>, &[u8])> {
    let (weak, text) = match text.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let body = text.strip_prefix(b"\"")?;
    let end = body.iter().position(|&b| b == b'"')?;
    let opaque = &body[..end];
    if !opaque.iter().all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80) {
        return None;
    }
    let tag = if weak { Tag::Weak } else { Tag::Strong(opaque) };
    Some((tag, &body[end + 1..]))
}

/// Whether `text` is a comma-separated list of entity tags (empty elements allowed, as RFC 9110 §5.6.1 says).
fn entity_list(mut text: &[u8]) -> Option<()> {
    loop {
        text = text.trim_ascii_start();
        if text.is_empty() {
            return Some(());
        }
        if let Some(rest) = text.strip_prefix(b",") {
            text = rest;
            continue;
        }
        let (_, rest) = entity_tag(text)?;
        let rest = rest.trim_ascii_start();
        if rest.is_empty() {
            return Some(());
        }
        text = rest.strip_prefix(b",")?;
    }
}

/// The version a strong tag names: canonical decimal digits of a positive `i64` (as [`etag`] writes them), else
/// [`IfMatch::Never`].
fn version_of(opaque: &[u8]) -> IfMatch {
    let canonical =
        !opaque.is_empty() && opaque.iter().all(u8::is_ascii_digit) && (opaque == b"0" || opaque[0] != b'0');
    if !canonical {
        return IfMatch::Never;
    }
    std::str::from_utf8(opaque)
        .ok()
        .and_then(|digits| digits.parse::<i64>().ok())
        .map_or(IfMatch::Never, IfMatch::Version)
}

/// The bearer token of a request's `Authorization` fields (`values`, in order): exactly one field, the `Bearer`
/// scheme (any case, RFC 9110 §11.1), one or more spaces, then a token68 (RFC 9110 §11.2).
pub fn bearer_token<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<&'a str, HeaderError> {
    let mut values = values.into_iter();
    let Some(value) = values.next() else { return Err(HeaderError::MissingAuthorization) };
    let more = values.count();
    if more > 0 {
        return Err(HeaderError::Repeated { header: "Authorization", count: more + 1 });
    }
    let value = value.trim_ascii();
    let scheme_end = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case(b"bearer") {
        return Err(HeaderError::NotBearer);
    }
    let token = value[scheme_end..].trim_ascii_start();
    if !is_token68(token) {
        return Err(HeaderError::MalformedBearer);
    }
    std::str::from_utf8(token).map_err(|_| HeaderError::MalformedBearer)
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(token: &[u8]) -> bool {
    let body_len = token.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    body_len > 0 && token[..body_len].iter().all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn if_match(values: &[&str]) -> Result<Option<IfMatch>, HeaderError> {
        parse_if_match(values.iter().map(|v| v.as_bytes()))
    }

    #[test]
    fn if_match_takes_star_and_one_strong_etag() {
        assert_eq!(if_match(&[]), Ok(None));
        assert_eq!(if_match(&["*"]), Ok(Some(IfMatch::Any)));
        assert_eq!(if_match(&["\"3\""]), Ok(Some(IfMatch::Version(3))));
        assert_eq!(if_match(&[" \"12\"\t"]), Ok(Some(IfMatch::Version(12))));
        assert_eq!(if_match(&[&etag(i64::MAX)]), Ok(Some(IfMatch::Version(i64::MAX))));
        assert_eq!(if_match(&["3"]), Ok(Some(IfMatch::Version(3))), "a bare version is that version");
        assert_eq!(if_match(&["03"]), Ok(Some(IfMatch::Never)));
    }

    #[test]
    fn well_formed_tags_that_are_no_version_never_match() {
        for value in ["\"abc\"", "\"\"", "\"007\"", "\"-1\"", "\"+1\"", "\"99999999999999999999\"", "\"\u{e9}\""] {
            assert_eq!(if_match(&[value]), Ok(Some(IfMatch::Never)), "{value}");
        }
    }

    #[test]
    fn if_match_refuses_what_is_not_one_strong_etag() {
        let malformed = ["\"1", "\"1 \"", "-1", "1\"", "", "W/", "**", "\"1\"x", "W/1", "w/\"1\"", "\"a\"b\""];
        for value in malformed {
            assert!(matches!(if_match(&[value]), Err(HeaderError::MalformedIfMatch(_))), "{value:?}");
        }
        assert!(matches!(if_match(&["W/\"1\""]), Err(HeaderError::WeakIfMatch(_))));
        assert!(matches!(if_match(&["\"1\", \"2\""]), Err(HeaderError::ListIfMatch(_))));
        assert!(matches!(if_match(&["\"1\", W/\"2\""]), Err(HeaderError::ListIfMatch(_))));
        assert!(matches!(if_match(&["\"1\", x"]), Err(HeaderError::MalformedIfMatch(_))));
        assert_eq!(if_match(&["\"1\"", "\"1\""]), Err(HeaderError::Repeated { header: "If-Match", count: 2 }));
    }

    #[test]
    fn if_match_errors_show_the_value_without_control_characters() {
        let error = if_match(&["\"1\u{7}\n"]).unwrap_err().to_string();
        assert!(error.ends_with(r#"not "\"1""#), "{error}");
    }

    #[test]
    fn bearer_takes_exactly_one_token68() {
        fn token(values: &[&'static str]) -> Result<&'static str, HeaderError> {
            bearer_token(values.iter().map(|v| v.as_bytes()))
        }
        assert_eq!(token(&["Bearer lyd_abc-_"]), Ok("lyd_abc-_"));
        assert_eq!(token(&["bearer  lyd_x=="]), Ok("lyd_x=="));
        assert_eq!(token(&["BEARER lyd_x"]), Ok("lyd_x"));
        assert_eq!(token(&[]), Err(HeaderError::MissingAuthorization));
        assert_eq!(token(&["Basic dXNlcjpwYXNz"]), Err(HeaderError::NotBearer));
        assert_eq!(token(&["Bearerlyd_x"]), Err(HeaderError::NotBearer));
        for bad in ["Bearer", "Bearer ", "Bearer a b", "Bearer ==", "Bearer a=b", "Bearer a\u{7f}", "Bearer é"] {
            assert_eq!(token(&[bad]), Err(HeaderError::MalformedBearer), "{bad:?}");
        }
        assert_eq!(
            token(&["Bearer lyd_a", "Bearer lyd_b"]),
            Err(HeaderError::Repeated { header: "Authorization", count: 2 })
        );
    }

    #[test]
    fn no_authorization_error_echoes_the_value() {
        for value in ["Bearer sekrit sekrit", "Basic sekrit", "Bearer sekrit\u{1}"] {
            let error = bearer_token([value.as_bytes()]).unwrap_err().to_string();
            assert!(!error.contains("sekrit"), "{error}");
        }
    }
}
