//! [`ConnectError`]: why a connect helper failed, with no material in `Display` or `Debug`.

use std::time::Duration;

use lanyard_core::LinkType;
use lanyard_resolve::ResolveError;

/// Why a connect failed. Every message is free of material: driver errors are scrubbed of the credential's text
/// before they are wrapped, and [`ResolveError`] never holds any.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The credential could not be resolved (boxed: it is large, and rare).
    #[error(transparent)]
    Resolve(Box<ResolveError>),
    /// An option or the credential is missing or malformed (`option "host" is required`).
    #[error("{0}")]
    Invalid(String),
    /// The connection's type has no probe in this build (an unknown type, or its cargo feature is off).
    #[error("no probe for type {0:?} in this build")]
    Unsupported(String),
    /// The link's type has no probe in this build (`KAFKA`, `HDFS`, `MONGODB`; or its cargo feature is off).
    #[error("no probe for link type {0} in this build")]
    UnsupportedLink(LinkType),
    /// The link's type cannot be a pipeline's source in this build (`KAFKA`, `HTTP`, …; or the `object-store`
    /// feature is off).
    #[error("no pipeline source for link type {0} in this build")]
    UnsupportedSource(LinkType),
    /// A source file changed or vanished between its listing and its read (its ETag or generation no longer
    /// matches, or it is gone): list again rather than load what was read.
    #[error("{0}")]
    Changed(String),
    /// A helper was asked for a session its connection's type does not open.
    #[error("connection {connection:?} has type {actual:?}, not {expected}")]
    WrongType {
        /// The connection's display name.
        connection: String,
        /// The type it has, as stored.
        actual: String,
        /// What the helper opens (`postgresql`, `an object store type`).
        expected: &'static str,
    },
    /// The remote system refused, failed or could not be reached (the driver's reason, scrubbed).
    #[error("{0}")]
    Remote(String),
    /// The connect did not finish within its timeout.
    #[error("timed out after {}", seconds(*.0))]
    Timeout(Duration),
}

impl From<ResolveError> for ConnectError {
    fn from(error: ResolveError) -> Self {
        Self::Resolve(Box::new(error))
    }
}

/// `10s`, `1.5s`.
fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// The result type of this crate.
pub type Result<T, E = ConnectError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_print_in_seconds() {
        assert_eq!(ConnectError::Timeout(Duration::from_secs(10)).to_string(), "timed out after 10s");
        assert_eq!(ConnectError::Timeout(Duration::from_millis(1500)).to_string(), "timed out after 1.5s");
        assert_eq!(ConnectError::Unsupported("kafka".into()).to_string(), r#"no probe for type "kafka" in this build"#);
        assert_eq!(
            ConnectError::UnsupportedLink(LinkType::Kafka).to_string(),
            "no probe for link type KAFKA in this build"
        );
        assert_eq!(
            ConnectError::UnsupportedSource(LinkType::Kafka).to_string(),
            "no pipeline source for link type KAFKA in this build"
        );
    }
}
