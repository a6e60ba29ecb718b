//! [`ResolveError`]: why a resolve failed, naming the connection, the entry, the backend and the kind — never the
//! material.

use std::fmt;
use std::time::Duration;

use lanyard_catalog::CatalogError;
use lanyard_vault::{ErrorKind as VaultErrorKind, VaultError};

/// `Result` with [`ResolveError`].
pub type Result<T, E = ResolveError> = std::result::Result<T, E>;

/// What went wrong, without the context.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// The connection or link does not exist.
    #[error("does not exist")]
    NotFound,
    /// A reference points at a row that is gone.
    #[error("{0}")]
    Dangling(String),
    /// The backend failed (after the retries it deserved).
    #[error("{}", .0.reason())]
    Vault(VaultError),
    /// The caller's deadline passed before an answer arrived.
    #[error("no answer within the deadline of {} ms{}", .deadline.as_millis(), .last.as_ref().map(|e| format!(" (last error: {})", e.reason())).unwrap_or_default())]
    DeadlineExceeded {
        /// The deadline the caller gave.
        deadline: Duration,
        /// The last backend error seen, if any.
        last: Option<VaultError>,
    },
    /// The catalog failed.
    #[error("catalog: {0}")]
    Catalog(String),
    /// The backend row's options do not build a backend.
    #[error("{}", .0.reason())]
    Config(VaultError),
}

/// A failed resolve. `Display` reads
/// `connection "prod_pg": credential "pg_login" in backend "prod_sm" (aws): secret not found`.
#[derive(Debug, Clone)]
pub struct ResolveError {
    pub(crate) subject: String,
    pub(crate) entry: Option<String>,
    pub(crate) backend: Option<(String, String)>,
    pub(crate) cause: Cause,
}

impl ResolveError {
    pub(crate) fn new(subject: impl Into<String>, cause: Cause) -> Self {
        Self { subject: subject.into(), entry: None, backend: None, cause }
    }

    pub(crate) fn catalog(subject: impl Into<String>, error: &CatalogError) -> Self {
        Self::new(subject, Cause::Catalog(error.to_string()))
    }

    /// What failed to resolve: `connection "prod_pg"` or `link "db.my_s3"`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The vault entry's name, if the failure concerned one.
    pub fn entry(&self) -> Option<&str> {
        self.entry.as_deref()
    }

    /// The backend's name and kind, if the failure concerned one.
    pub fn backend(&self) -> Option<(&str, &str)> {
        self.backend.as_ref().map(|(name, kind)| (name.as_str(), kind.as_str()))
    }

    /// The cause.
    pub fn cause(&self) -> &Cause {
        &self.cause
    }

    /// The backend error kind, if a backend failed.
    pub fn vault_kind(&self) -> Option<VaultErrorKind> {
        match &self.cause {
            Cause::Vault(error) | Cause::Config(error) => Some(error.kind()),
            Cause::DeadlineExceeded { .. } => Some(VaultErrorKind::Timeout),
            _ => None,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        match &self.cause {
            Cause::Vault(error) => error.is_temporary(),
            Cause::DeadlineExceeded { .. } => true,
            Cause::Catalog(_) => true,
            _ => false,
        }
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.subject)?;
        if !matches!(self.cause, Cause::NotFound) {
            f.write_str(":")?;
        }
        if let Some(entry) = &self.entry {
            write!(f, " credential {entry:?}")?;
        }
        match (&self.backend, &self.entry) {
            (Some((name, kind)), Some(_)) => write!(f, " in backend {name:?} ({kind})")?,
            (Some((name, kind)), None) => write!(f, " credential storage {name:?} ({kind})")?,
            _ => {}
        }
        if self.entry.is_some() || self.backend.is_some() {
            f.write_str(":")?;
        }
        write!(f, " {}", self.cause)
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::Vault(error) | Cause::Config(error) => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use lanyard_vault::Operation;

    use super::*;

    #[test]
    fn messages_name_connection_entry_backend_and_kind() {
        let mut error = ResolveError::new(
            r#"connection "prod_pg""#,
            Cause::Vault(VaultError::new(VaultErrorKind::NotFound, "aws", Operation::Get)),
        );
        error.entry = Some("pg_login".into());
        error.backend = Some(("prod_sm".into(), "aws".into()));
        assert_eq!(
            error.to_string(),
            r#"connection "prod_pg": credential "pg_login" in backend "prod_sm" (aws): secret not found"#
        );
        let missing = ResolveError::new(r#"connection "nope""#, Cause::NotFound);
        assert_eq!(missing.to_string(), r#"connection "nope" does not exist"#);
    }

    /// docs/backends.md quotes one of each kind of message; they are what `Display` prints (`…` stands for a
    /// backend's own detail, which the document does not spell out).
    #[test]
    fn the_documented_messages_are_the_real_ones() {
        let located = |subject: &str, entry: Option<&str>, backend: &str, kind: &'static str, cause: Cause| {
            let mut error = ResolveError::new(subject, cause);
            error.entry = entry.map(Into::into);
            error.backend = Some((backend.into(), kind.into()));
            error.to_string()
        };
        let vault = |kind, backend| VaultError::new(kind, backend, Operation::Get);
        let printed = [
            located(
                r#"connection "prod_pg""#,
                Some("pg_login"),
                "prod_sm",
                "aws",
                Cause::Vault(vault(VaultErrorKind::NotFound, "aws")),
            ),
            located(
                r#"connection "prod_pg""#,
                Some("pg_login"),
                "prod_sm",
                "memory",
                Cause::Vault(
                    vault(VaultErrorKind::Unavailable, "memory")
                        .with_detail("fault injected by the memory backend (fail_next)"),
                ),
            ),
            located(
                r#"connection "prod_pg""#,
                Some("pg_login"),
                "prod_sm",
                "memory",
                Cause::DeadlineExceeded { deadline: Duration::from_millis(50), last: None },
            ),
            located(
                r#"connection "raw_s3""#,
                None,
                "prod_sm",
                "aws",
                Cause::Vault(vault(VaultErrorKind::PermissionDenied, "aws").with_detail("…")),
            ),
            ResolveError::new(r#"connection "nope""#, Cause::NotFound).to_string(),
        ];
        let manual = include_str!("../../../docs/backends.md");
        let opening = "```text\nconnection \"prod_pg\": credential";
        let start = manual.find(opening).expect("docs/backends.md quotes the messages") + "```text\n".len();
        let end = start + manual[start..].find("```").unwrap();
        assert_eq!(&manual[start..end], format!("{}\n", printed.join("\n")));
    }
}
