//! Errors of the client: a problem the server answered with, or a failure to reach it or read its answer.

use std::fmt;

use serde::Deserialize;

/// The stable error codes of the API (`application/problem+json` `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `not_found` (404)
    NotFound,
    /// `already_exists` (409)
    AlreadyExists,
    /// `conflict` (409)
    Conflict,
    /// `invalid` (400)
    Invalid,
    /// `unauthenticated` (401)
    Unauthenticated,
    /// `forbidden` (403)
    Forbidden,
    /// `precondition_failed` (412)
    PreconditionFailed,
    /// `backend_unavailable` (503)
    BackendUnavailable,
    /// `rate_limited` (429)
    RateLimited,
    /// `payload_too_large` (413)
    PayloadTooLarge,
    /// `internal` (500)
    Internal,
    /// A code this client does not know (a newer server), or none.
    Other,
}

impl ErrorCode {
    /// Every known code with its wire form.
    const ALL: [(ErrorCode, &'static str); 11] = [
        (Self::NotFound, "not_found"),
        (Self::AlreadyExists, "already_exists"),
        (Self::Conflict, "conflict"),
        (Self::Invalid, "invalid"),
        (Self::Unauthenticated, "unauthenticated"),
        (Self::Forbidden, "forbidden"),
        (Self::PreconditionFailed, "precondition_failed"),
        (Self::BackendUnavailable, "backend_unavailable"),
        (Self::RateLimited, "rate_limited"),
        (Self::PayloadTooLarge, "payload_too_large"),
        (Self::Internal, "internal"),
    ];

    /// The code of a wire string.
    pub fn parse(code: &str) -> Self {
        Self::ALL.iter().find(|(_, s)| *s == code).map_or(Self::Other, |(c, _)| *c)
    }

    /// The wire string (`other` for unknown codes).
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(c, _)| *c == self).map_or("other", |(_, s)| s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 9457 problem the server answered with. It never holds secret material (the server guarantees it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// The stable code as sent.
    #[serde(default)]
    pub code: String,
    /// A short summary of the kind.
    #[serde(default)]
    pub title: String,
    /// What was wrong, naming the object.
    #[serde(default)]
    pub detail: String,
}

impl Problem {
    /// The code, typed.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::parse(&self.code)
    }
}

/// What went wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a problem.
    #[error("{}", problem_text(.0))]
    Api(Problem),
    /// The server could not be reached, or the exchange broke off.
    #[error("cannot reach the Lanyard server at {url}: {reason}")]
    Transport {
        /// The server's base URL.
        url: String,
        /// Why (from the HTTP stack; never holds the token).
        reason: String,
    },
    /// The server's answer was not what the API promises.
    #[error("unexpected answer from the server ({what}): {reason}")]
    Protocol {
        /// Which call.
        what: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The client was set up wrongly (a bad URL, a token with characters a header cannot carry, …).
    #[error("{0}")]
    Config(String),
    /// The client refused to send the statement (e.g. a secret literal that is a redaction, `'***'`).
    #[error("{0}")]
    Refused(String),
    /// The statement is valid SQL but this client cannot run it (e.g. LINK statements before the API serves them).
    #[error("{0}")]
    Unsupported(String),
}

fn problem_text(p: &Problem) -> String {
    if p.detail.is_empty() { format!("{} ({})", p.title, p.status) } else { p.detail.clone() }
}

impl Error {
    /// The API error code, if the server answered with a problem.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api(p) => Some(p.code()),
            _ => None,
        }
    }

    /// Whether this says the server is unreachable or refused the caller's identity: the environment is wrong,
    /// not the statement.
    pub fn is_environment(&self) -> bool {
        matches!(self, Self::Transport { .. } | Self::Config(_))
            || matches!(self.code(), Some(ErrorCode::Unauthenticated))
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
