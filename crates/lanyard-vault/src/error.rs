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

impl ErrorKind {
    /// What a user can do about a failure of this kind, if there is something to say beyond the backend's own words:
    /// the clause after `; ` in [`VaultError::explain`]. `operation` tells option problems (at build) from unusable
    /// material (at a read), whose detail already says what to do.
    pub const fn advice(self, operation: Operation) -> Option<&'static str> {
        match (self, operation) {
            (Self::NotFound, _) => Some("check the secret's name, and that it still exists in the backend"),
            (Self::PermissionDenied, _) => Some(
                "check that the storage's credentials are valid and allowed to do this (ALTER CREDENTIAL STORAGE … \
                 SET OPTIONS to change them)",
            ),
            (Self::ConfigInvalid, Operation::Build) => Some(
                "check the storage's options (DESCRIBE CREDENTIAL STORAGE) and fix them with ALTER CREDENTIAL STORAGE",
            ),
            (Self::RateLimited { .. }, _) => Some("try again later"),
            (Self::Unavailable, _) => {
                Some("check that the backend is reachable from the Lanyard server, then try again")
            }
            (Self::Timeout, _) => Some("try again, or raise the storage's timeout_ms option"),
            _ => None,
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

    /// What the operation does, as a user reads it after "cannot": `store the secret`, `be set up`.
    pub const fn phrase(self) -> &'static str {
        match self {
            Self::Build => "be set up",
            Self::Get => "read the secret",
            Self::Put => "store the secret",
            Self::Delete => "delete the secret",
            Self::List => "list its secrets",
            Self::Probe => "be probed",
            Self::AmbientIdentity => "lend its identity",
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

    /// The error as a sentence for a user of `subject` (`credential storage "prod_sm" (aws)`): what it cannot do,
    /// why, and what to do, e.g. `credential storage "prod_sm" (aws) cannot store the secret: permission denied:
    /// AccessDeniedException; check that the storage's credentials …`. It leaves out the internal operation name and
    /// the physical name concerned, which `Display` has for the log.
    pub fn explain(&self, subject: &str) -> String {
        // An unsupported kind or unusable options are explained by the detail alone (`backend kind "gcp" is not
        // available yet: …`); the kind's label would only repeat it.
        let reason = match (&self.detail, self.kind) {
            (Some(detail), ErrorKind::Unsupported | ErrorKind::ConfigInvalid) => detail.clone(),
            _ => self.reason(),
        };
        let mut out = format!("{subject} cannot {}: {reason}", self.operation.phrase());
        if let Some(advice) = self.kind.advice(self.operation) {
            out.push_str("; ");
            out.push_str(advice);
        }
        out
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

    /// Before: `configure in vault backend: not supported: …` reached users. After: a sentence naming the storage,
    /// what it cannot do, why, and what to do, without the operation's internal name or the physical name.
    #[test]
    fn explain_is_a_sentence_without_internal_names() {
        let denied = VaultError::new(ErrorKind::PermissionDenied, "aws", Operation::Put)
            .with_target("lanyard/vault/0193")
            .with_detail("AccessDeniedException");
        let text = denied.explain(r#"credential storage "prod_sm" (aws)"#);
        assert_eq!(
            text,
            "credential storage \"prod_sm\" (aws) cannot store the secret: permission denied: AccessDeniedException; \
             check that the storage's credentials are valid and allowed to do this (ALTER CREDENTIAL STORAGE … SET \
             OPTIONS to change them)"
        );
        assert!(!text.contains("lanyard/vault/0193") && !text.contains(" write "), "{text}");
        let missing = VaultError::new(ErrorKind::Unsupported, "vault", Operation::Build).with_detail(
            r#"backend kind "gcp" is not enabled in this build; rebuild lanyard with `--features vault-gcp`"#,
        );
        assert_eq!(
            missing.explain(r#"credential storage "cloud" (gcp)"#),
            r#"credential storage "cloud" (gcp) cannot be set up: backend kind "gcp" is not enabled in this build; rebuild lanyard with `--features vault-gcp`"#
        );
        let timeout = VaultError::new(ErrorKind::Timeout, "hashicorp", Operation::Get)
            .explain("credential storage \"v\" (hashicorp)");
        assert!(
            timeout.ends_with("cannot read the secret: timed out; try again, or raise the storage's timeout_ms option"),
            "{timeout}"
        );
    }
}
