//! Errors of the client: a problem the server answered with, or a failure to reach it or read its answer.

use lanyard_api::Problem;
use lanyard_core::ErrorKind;

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
    /// The object kept changing under a read-modify-write (ALTER): every attempt found a newer version, and the
    /// adapter gave up after its bounded retries. Its kind is [`ErrorKind::Conflict`].
    #[error("{0}")]
    Conflict(String),
    /// The client refused to send the statement (e.g. a secret literal that is a redaction, `'***'`).
    #[error("{0}")]
    Refused(String),
}

fn problem_text(p: &Problem) -> String {
    if p.detail.is_empty() { format!("{} ({})", p.title, p.status) } else { p.detail.clone() }
}

impl Error {
    /// The kind of the server's problem (its stable code), if it answered with one this client knows.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Api(p) => p.kind(),
            Self::Conflict(_) => Some(ErrorKind::Conflict),
            _ => None,
        }
    }

    /// Whether this says the server is unreachable or refused the caller's identity: the environment is wrong,
    /// not the statement.
    pub fn is_environment(&self) -> bool {
        matches!(self, Self::Transport { .. } | Self::Config(_)) || self.kind() == Some(ErrorKind::Unauthenticated)
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
