//! [`VaultError`]: what went wrong at the plugin boundary, classified so that callers decide retries from the kind
//! alone.

use std::fmt;
use std::time::Duration;

/// `Result` with [`VaultError`].
pub type Result<T, E = VaultError> = std::result::Result<T, E>;

/// The classification of a backend failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The secret (profile or external name) does not exist.
    NotFound,
    /// The backend refused the configured identity.
    PermissionDenied,
    /// The backend's options are wrong (unknown key, missing key, bad value), or the stored material is unusable
    /// (for example a wrong master key).
    ConfigInvalid,
    /// The backend cannot do this (see [`crate::Capabilities`]), or the kind is not compiled in.
    Unsupported,
    /// The backend throttled us; retry after the given delay if it said one.
    RateLimited {
        /// The backend's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The backend is unreachable or answered a server error.
    Unavailable,
    /// The call did not finish within its timeout.
    Timeout,
    /// Anything else (a bug, an answer we do not understand).
    Unexpected,
}

impl ErrorKind {
    /// Whether a retry may succeed: rate limits, unavailability and timeouts are temporary; everything else is
    /// permanent.
    pub const fn is_temporary(self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable | Self::Timeout)
    }

    /// A stable snake_case label, for metrics and problem codes.
    pub const fn label(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::PermissionDenied => "permission_denied",
            Self::ConfigInvalid => "config_invalid",
            Self::Unsupported => "unsupported",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Unexpected => "unexpected",
        }
    }

    /// Every kind, for exhaustive tests and metric labels.
    pub const ALL: [ErrorKind; 8] = [
        Self::NotFound,
        Self::PermissionDenied,
        Self::ConfigInvalid,
        Self::Unsupported,
        Self::RateLimited { retry_after: None },
        Self::Unavailable,
        Self::Timeout,
        Self::Unexpected,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("secret not found"),
            Self::PermissionDenied => f.write_str("permission denied"),
            Self::ConfigInvalid => f.write_str("invalid configuration"),
            Self::Unsupported => f.write_str("not supported"),
            Self::RateLimited { retry_after: Some(after) } => {
                write!(f, "rate limited (retry after {} ms)", after.as_millis())
            }
            Self::RateLimited { retry_after: None } => f.write_str("rate limited"),
            Self::Unavailable => f.write_str("backend unavailable"),
            Self::Timeout => f.write_str("timed out"),
            Self::Unexpected => f.write_str("unexpected error"),
        }
    }
}

/// The backend operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Building the backend from its options.
    Build,
    /// A read.
    Get,
    /// A write.
    Put,
    /// A delete.
    Delete,
    /// A listing.
    List,
    /// A probe.
    Probe,
    /// Lending the ambient identity.
    AmbientIdentity,
}

impl Operation {
    /// The lowercase verb.
    pub const fn verb(self) -> &'static str {
        match self {
            Self::Build => "configure",
            Self::Get => "read",
            Self::Put => "write",
            Self::Delete => "delete",
            Self::List => "list",
            Self::Probe => "probe",
            Self::AmbientIdentity => "lend identity",
        }
    }
}

/// A backend failure: its kind, the backend kind, the operation, and the profile or external name it concerned.
///
/// It never carries material: `detail` is written by the plugin from the backend's answer (status, error code,
/// message) and must not quote values. `Display` reads `write "vault::…" in aws backend: permission denied: …`;
/// [`VaultError::reason`] is the part after the context, for callers that give their own context (the resolver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultError {
    kind: ErrorKind,
    backend: &'static str,
    operation: Operation,
    target: Option<String>,
    detail: Option<String>,
}

impl VaultError {
    /// A new error of `kind` from `backend` (its kind string) doing `operation`.
    pub fn new(kind: ErrorKind, backend: &'static str, operation: Operation) -> Self {
        Self { kind, backend, operation, target: None, detail: None }
    }

    /// Names the profile, physical name or external name concerned.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Adds what the backend said (never material).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether a retry may succeed (from the kind alone).
    pub fn is_temporary(&self) -> bool {
        self.kind.is_temporary()
    }

    /// The backend's `Retry-After`, if it was rate limited and said one.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self.kind {
            ErrorKind::RateLimited { retry_after } => retry_after,
            _ => None,
        }
    }

    /// The backend kind.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The profile or external name concerned.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// What the backend said.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The kind and detail without the context: `secret not found` or `backend unavailable: connection refused`.
    pub fn reason(&self) -> String {
        match &self.detail {
            Some(detail) => format!("{}: {detail}", self.kind),
            None => self.kind.to_string(),
        }
    }
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation.verb())?;
        if let Some(target) = &self.target {
            write!(f, " {target:?}")?;
        }
        write!(f, " in {} backend: {}", self.backend, self.reason())
    }
}

impl std::error::Error for VaultError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_unavailability_and_timeouts_are_temporary() {
        let temporary: Vec<_> = ErrorKind::ALL.iter().filter(|k| k.is_temporary()).map(|k| k.label()).collect();
        assert_eq!(temporary, ["rate_limited", "unavailable", "timeout"]);
    }

    #[test]
    fn display_names_operation_target_backend_and_kind() {
        let error = VaultError::new(ErrorKind::NotFound, "aws", Operation::Get)
            .with_target("prod/db")
            .with_detail("ResourceNotFoundException");
        assert_eq!(error.to_string(), r#"read "prod/db" in aws backend: secret not found: ResourceNotFoundException"#);
        let limited = VaultError::new(
            ErrorKind::RateLimited { retry_after: Some(Duration::from_millis(1500)) },
            "azure",
            Operation::Get,
        );
        assert_eq!(limited.reason(), "rate limited (retry after 1500 ms)");
        assert_eq!(limited.retry_after(), Some(Duration::from_millis(1500)));
    }
}
