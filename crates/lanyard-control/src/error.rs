//! [`ControlError`]: what a Control Plane operation reports, classified by [`ErrorKind`] so the server can pick the
//! HTTP status and the stable problem code without knowing where the error came from.

use std::fmt;

use lanyard_catalog::CatalogError;
use lanyard_core::ErrorKind;
use lanyard_resolve::ResolveError;
use lanyard_vault::{ErrorKind as VaultErrorKind, VaultError};

/// `Result` with [`ControlError`].
pub type Result<T, E = ControlError> = std::result::Result<T, E>;

/// A failed Control Plane operation.
///
/// `Display` is the message a client may see: it names the object and what was wrong, and never holds secret
/// material. For [`ErrorKind::Internal`] the client sees only "internal error"; [`ControlError::internal_detail`]
/// carries what the server log needs.
#[derive(Debug, Clone)]
pub struct ControlError {
    kind: ErrorKind,
    message: String,
    internal: Option<String>,
    retry_after: Option<std::time::Duration>,
    retryable: bool,
}

impl ControlError {
    /// An error of `kind` with a client-facing `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), internal: None, retry_after: None, retryable: false }
    }

    /// Bad input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// A change that conflicts with the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// A bug or an unexpected failure: the client sees "internal error", the log sees `detail`.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: "internal error".to_owned(),
            internal: Some(detail.into()),
            retry_after: None,
            retryable: false,
        }
    }

    /// The same error, marked retryable: the transaction that met it is rerun (`lanyard_catalog::transaction!`).
    pub(crate) fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// The classification.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The client-facing message (for [`ErrorKind::Internal`], just "internal error").
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What the server log should record beyond the message, for internal and unavailable errors.
    pub fn internal_detail(&self) -> Option<&str> {
        self.internal.as_deref()
    }

    /// How long a rate-limited caller should wait, if the backend said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after
    }

    /// Whether rerunning the whole transaction may succeed (a serialization failure or a busy database).
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The same error with `context` in front of its message (`vault entry "k": …`).
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        if self.kind != ErrorKind::Internal {
            self.message = format!("{context}: {}", self.message);
        }
        self
    }
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ControlError {}

impl lanyard_catalog::Retryable for ControlError {
    fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl From<CatalogError> for ControlError {
    fn from(error: CatalogError) -> Self {
        let retryable = error.is_retryable();
        let mut out = match error.kind() {
            ErrorKind::Internal => Self::internal(error.to_string()),
            ErrorKind::BackendUnavailable => Self {
                kind: ErrorKind::BackendUnavailable,
                message: "the catalog database is unavailable".to_owned(),
                internal: Some(error.to_string()),
                retry_after: None,
                retryable: false,
            },
            kind => Self::new(kind, error.to_string()),
        };
        out.retryable = retryable;
        out
    }
}

/// The problem kind of a backend failure.
pub(crate) fn vault_kind(kind: VaultErrorKind) -> ErrorKind {
    match kind {
        VaultErrorKind::NotFound => ErrorKind::NotFound,
        VaultErrorKind::ConfigInvalid | VaultErrorKind::Unsupported => ErrorKind::Invalid,
        VaultErrorKind::RateLimited { .. } => ErrorKind::RateLimited,
        VaultErrorKind::PermissionDenied | VaultErrorKind::Unavailable | VaultErrorKind::Timeout => {
            ErrorKind::BackendUnavailable
        }
        _ => ErrorKind::Internal,
    }
}

impl ControlError {
    /// A backend failure as a user reads it: `subject` (`credential storage "prod_sm" (aws)`) cannot do what, why,
    /// and what to do ([`VaultError::explain`]). The internal wording — the operation's name and the physical name
    /// it concerned, `write "lanyard/vault/…" in aws backend: …` — goes to the log only.
    pub(crate) fn from_vault(error: VaultError, subject: &str) -> Self {
        let kind = vault_kind(error.kind());
        tracing::info!(
            backend = error.backend(),
            operation = error.operation().verb(),
            target = error.target().unwrap_or(""),
            %error,
            "backend call failed"
        );
        // A VaultError never carries material (its contract), so its text may reach the client.
        let mut out = if kind == ErrorKind::Internal {
            Self::internal(error.to_string())
        } else {
            Self::new(kind, error.explain(subject))
        };
        out.retry_after = error.retry_after();
        out
    }
}

/// The subject of a backend failure in messages: `credential storage "prod_sm" (aws)`.
pub(crate) fn storage_subject(name: &str, backend_type: &str) -> String {
    format!("credential storage {name:?} ({})", lanyard_vault::Registry::canonical_kind(backend_type))
}

/// A backend failure where the storage's name is not at hand: the subject is the backend kind.
impl From<VaultError> for ControlError {
    fn from(error: VaultError) -> Self {
        let subject = format!("the {} backend", error.backend());
        Self::from_vault(error, &subject)
    }
}

impl From<ResolveError> for ControlError {
    fn from(error: ResolveError) -> Self {
        let kind = match error.vault_kind() {
            Some(kind) => vault_kind(kind),
            None => match error.cause() {
                lanyard_resolve::Cause::NotFound => ErrorKind::NotFound,
                lanyard_resolve::Cause::DeadlineExceeded { .. } => ErrorKind::BackendUnavailable,
                lanyard_resolve::Cause::Catalog(_) => ErrorKind::BackendUnavailable,
                _ => ErrorKind::Invalid,
            },
        };
        if kind == ErrorKind::Internal { Self::internal(error.to_string()) } else { Self::new(kind, error.to_string()) }
    }
}

impl From<lanyard_core::NameError> for ControlError {
    fn from(error: lanyard_core::NameError) -> Self {
        Self::invalid(error.to_string())
    }
}
