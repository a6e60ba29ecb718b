//! Paging of the list routes: `?limit=&cursor=` in, the rows of one page and a `Link: <…>; rel="next"` header out.
//!
//! A list route without `limit` answers every row, as before paging existed. With `limit` (1 to [`MAX_LIMIT`]) it
//! answers at most that many rows in name order and, when more follow, a [`LINK`] header (RFC 8288) whose `next`
//! target is the same request with `cursor` set to a continuation token. The token is opaque to clients: it holds the
//! name of the page's last row, so the next page starts after that name. Paging by name rather than by position keeps
//! it stable under concurrent writes: a row created or dropped meanwhile never shifts another row onto a second page
//! or past the end, and every row that exists during the whole walk is listed exactly once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The largest `limit` a list route accepts.
pub const MAX_LIMIT: u32 = 10_000;

/// The response header that carries the next page's address.
pub const LINK: &str = "link";

/// `?limit=&cursor=` of the list routes that take no `like` (pipelines, pipeline files).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// At most this many rows (1..=10000); without it, every row.
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 10000))]
    pub limit: Option<u32>,
    /// Where to continue: the token of the previous page's `Link: <…>; rel="next"` header.
    pub cursor: Option<String>,
}

/// `?like=&limit=&cursor=` of the list routes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Case-insensitive substring of the name.
    pub like: Option<String>,
    /// At most this many rows (1..=10000); without it, every row.
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 10000))]
    pub limit: Option<u32>,
    /// Where to continue: the token of the previous page's `Link: <…>; rel="next"` header.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The paging part.
    pub fn page(&self) -> PageQuery {
        PageQuery { limit: self.limit, cursor: self.cursor.clone() }
    }
}

/// Why a `cursor` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorError;

impl std::fmt::Display for CursorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("`cursor` is not a continuation token this server issued; take it from a list's `Link` header")
    }
}

impl std::error::Error for CursorError {}

/// The continuation token after the row named `key` (its name parts: `[name]`, or `[database, name]`).
pub fn encode_cursor(key: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// The name parts a continuation token holds.
pub fn decode_cursor(token: &str) -> Result<Vec<String>, CursorError> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| CursorError)?;
    let key: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| CursorError)?;
    // A NUL cannot be stored (PostgreSQL's text refuses it), so no key holds one.
    if key.is_empty() || key.iter().any(|part| part.is_empty() || part.contains('\0')) {
        return Err(CursorError);
    }
    Ok(key)
}

/// The `Link` header value pointing at the next page: `target` (a path with its query) in angle brackets, `rel="next"`.
pub fn next_link(target: &str) -> String {
    format!("<{target}>; rel=\"next\"")
}

/// The target of the `rel="next"` link of a `Link` header value, if it has one.
pub fn parse_next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().strip_prefix('<')?.split_once('>')?;
        params
            .split(';')
            .filter_map(|param| param.trim().split_once('='))
            .any(|(name, value)| {
                name.trim().eq_ignore_ascii_case("rel")
                    && value.trim().trim_matches('"').split_whitespace().any(|rel| rel.eq_ignore_ascii_case("next"))
            })
            .then_some(target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_holds_the_name_it_was_made_from() {
        for key in [vec!["prod_pg".to_owned()], vec!["db".to_owned(), "a, \"b\" ü".to_owned()]] {
            let token = encode_cursor(&key);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
            assert_eq!(decode_cursor(&token), Ok(key));
        }
    }

    #[test]
    fn a_cursor_not_made_here_is_refused() {
        for token in ["", "!!", "bm90IGpzb24", &URL_SAFE_NO_PAD.encode("[]"), &URL_SAFE_NO_PAD.encode("[\"a\\u0000\"]")]
        {
            assert_eq!(decode_cursor(token), Err(CursorError), "{token:?}");
        }
    }

    #[test]
    fn the_next_link_is_found_among_others() {
        let header = format!("</x?page=1>; rel=\"prev\", {}", next_link("/connections?limit=2&cursor=abc"));
        assert_eq!(parse_next_link(&header), Some("/connections?limit=2&cursor=abc"));
        assert_eq!(parse_next_link("</a>; rel=\"prev\""), None);
        assert_eq!(parse_next_link("</a>; rel=next"), Some("/a"));
    }
}
