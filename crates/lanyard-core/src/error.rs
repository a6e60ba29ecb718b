//! Error kinds shared by every layer, and the validation errors of this crate.

use std::fmt;

use crate::name::NameError;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// User input made fit to quote in a message: control characters (which could forge extra lines in a terminal or a
/// log) and invisible characters (bidirectional controls, which could reorder the message around the quote; see
/// [`crate::name::invisible_character`]) dropped, and at most `max_chars` characters kept.
pub fn printable(text: &str, max_chars: usize) -> String {
    text.chars().filter(|&c| !c.is_control() && crate::name::invisible_character(c).is_none()).take(max_chars).collect()
}

/// The kinds of object the catalog holds, as named in messages (`connection "prod_pg" does not exist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// An external connection.
    Connection,
    /// A vault entry (`VAULT` / `CREDENTIAL`).
    VaultEntry,
    /// A credential storage (vault backend).
    CredentialStorage,
    /// A link (SingleStore dialect).
    Link,
    /// A pipeline.
    Pipeline,
    /// A database (the namespace of links and pipelines).
    Database,
    /// A principal.
    Principal,
    /// An API token.
    Token,
}

impl ObjectKind {
    /// The lowercase noun used in messages.
    pub const fn noun(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::VaultEntry => "vault entry",
            Self::CredentialStorage => "credential storage",
            Self::Link => "link",
            Self::Pipeline => "pipeline",
            Self::Database => "database",
            Self::Principal => "principal",
            Self::Token => "token",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// The classification every Lanyard error maps to. The Control Plane turns it into an HTTP status and a stable
/// problem `code`; the CLI into an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The object does not exist.
    NotFound,
    /// An object with that name already exists.
    AlreadyExists,
    /// The change conflicts with the current state (version conflict, still referenced, wrong state).
    Conflict,
    /// The input is malformed or violates a rule.
    Invalid,
    /// No valid credentials were presented.
    Unauthenticated,
    /// The principal lacks a permission.
    Forbidden,
    /// An `If-Match` precondition no longer holds.
    PreconditionFailed,
    /// A vault backend or remote system is unavailable.
    BackendUnavailable,
    /// A rate limit was hit.
    RateLimited,
    /// The request is too large.
    PayloadTooLarge,
    /// The path exists but not with this HTTP method (the web server's own answer).
    MethodNotAllowed,
    /// The client did not send its request (its body) in time (the web server's own answer).
    RequestTimeout,
    /// The request target (path and query) is longer than the server accepts.
    UriTooLong,
    /// The request's header fields are larger than the server accepts.
    HeadersTooLarge,
    /// A bug or an unexpected failure; details go to the server log only.
    Internal,
}

impl ErrorKind {
    /// The stable problem code (`not_found`, `already_exists`, …).
    pub const fn code(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::Conflict => "conflict",
            Self::Invalid => "invalid",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::PreconditionFailed => "precondition_failed",
            Self::BackendUnavailable => "backend_unavailable",
            Self::RateLimited => "rate_limited",
            Self::PayloadTooLarge => "payload_too_large",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "headers_too_large",
            Self::Internal => "internal",
        }
    }

    /// The kind of a stable problem code (what a client reads back); `None` for a code this version does not know.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// Every kind, for exhaustive tests and documentation.
    pub const ALL: [ErrorKind; 15] = [
        Self::NotFound,
        Self::AlreadyExists,
        Self::Conflict,
        Self::Invalid,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::PreconditionFailed,
        Self::BackendUnavailable,
        Self::RateLimited,
        Self::PayloadTooLarge,
        Self::MethodNotAllowed,
        Self::RequestTimeout,
        Self::UriTooLong,
        Self::HeadersTooLarge,
        Self::Internal,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Validation errors of the core types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An invalid object name.
    #[error("invalid {kind} name: {source}")]
    InvalidName {
        /// What kind of object the name was for.
        kind: ObjectKind,
        /// What is wrong with it.
        source: NameError,
    },
    /// An invalid option key.
    #[error("invalid option key {key:?}: {problem}")]
    InvalidOptionKey {
        /// The key, truncated and stripped of control characters.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A string that is not a valid id.
    #[error("invalid {kind} {input:?}: expected a UUID")]
    InvalidId {
        /// The id type.
        kind: &'static str,
        /// The input, truncated.
        input: String,
    },
}

impl Error {
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidName { .. } | Self::InvalidOptionKey { .. } | Self::InvalidId { .. } => ErrorKind::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_drops_control_characters_and_truncates() {
        assert_eq!(printable("a\nb\u{1b}[2Jc", 10), "ab[2Jc");
        assert_eq!(printable("abcdef", 3), "abc");
    }

    #[test]
    fn codes_are_unique_snake_case() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ErrorKind::from_code("teapot"), None);
        let mut codes: Vec<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert!(codes.iter().all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn messages_name_the_object_kind() {
        let err = Error::InvalidName { kind: ObjectKind::Connection, source: NameError::Empty };
        assert_eq!(err.to_string(), "invalid connection name: name must not be empty");
        assert_eq!(err.kind(), ErrorKind::Invalid);
    }
}
