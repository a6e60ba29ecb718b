//! Failed requests — vaultrs's errors, and those of the KV reads made on vaultrs's HTTP client directly — mapped
//! to [`ErrorKind`]s. Details quote the server's status and error messages and the transport's cause, never a
//! request or response body (those may hold material) and never a token.

use std::fmt;
use std::time::Duration;

use lanyard_vault::{ErrorKind, Operation, VaultError};
use vaultrs::error::ClientError;

use crate::KIND;

/// A failed request. `Debug` is written by hand: vaultrs's and rustify's errors carry response bodies (a login's
/// `client_token`, KV material) and `serde_json` errors quoting them, so it shows only the kind and the detail an
/// error message would carry.
pub(crate) enum Failure {
    /// Through a vaultrs API function.
    Client(ClientError),
    /// A direct request the server refused: its status, Vault's error messages and its `Retry-After`.
    Refused { status: u16, errors: Vec<String>, retry_after: Option<Duration> },
    /// A direct request that got no answer: the transport's cause.
    Transport(String),
    /// A direct request whose answer is not what Vault answers.
    Unparsable,
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(error) => {
                let (kind, detail) = classify(error);
                f.debug_struct("Client").field("kind", &kind).field("detail", &detail).finish()
            }
            Self::Refused { status, errors, retry_after } => f
                .debug_struct("Refused")
                .field("status", status)
                .field("errors", errors)
                .field("retry_after", retry_after)
                .finish(),
            Self::Transport(cause) => f.debug_tuple("Transport").field(cause).finish(),
            Self::Unparsable => f.write_str("Unparsable"),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        Self::Client(error)
    }
}

impl Failure {
    /// The HTTP status of a server's refusal, if the failure is one.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::Client(error) => status_of(error),
            Self::Refused { status, .. } => Some(*status),
            Self::Transport(_) | Self::Unparsable => None,
        }
    }

    /// The failure of `operation` on `target` as a [`VaultError`].
    pub(crate) fn into_vault(self, operation: Operation, target: &str) -> VaultError {
        let (kind, detail) = match self {
            Self::Client(error) => classify(&error),
            Self::Refused { status, errors, retry_after } => {
                let (kind, detail) = classify_refusal(status, &errors);
                match kind {
                    ErrorKind::RateLimited { .. } => (ErrorKind::RateLimited { retry_after }, detail),
                    kind => (kind, detail),
                }
            }
            Self::Transport(cause) => (transport_kind(&cause), cause),
            Self::Unparsable => (ErrorKind::Unexpected, "the server's answer could not be parsed".into()),
        };
        VaultError::new(kind, KIND, operation).with_target(target).with_detail(detail)
    }
}

/// The kind of a transport failure from its text: a timeout, or the server unreachable.
fn transport_kind(cause: &str) -> ErrorKind {
    let lower = cause.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") { ErrorKind::Timeout } else { ErrorKind::Unavailable }
}

/// A configuration error at build time.
pub(crate) fn invalid(detail: String) -> VaultError {
    VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build).with_detail(detail)
}

/// The HTTP status of a server's refusal, if the error is one.
pub(crate) fn status_of(error: &ClientError) -> Option<u16> {
    match error {
        ClientError::APIError { code, .. } => Some(*code),
        ClientError::RestClientError { source: rustify::errors::ClientError::ServerResponseError { code, .. } } => {
            Some(*code)
        }
        _ => None,
    }
}

/// The kind of a server's answer with `status` (and its error messages).
pub(crate) fn kind_of_status(status: u16, messages: &[String]) -> ErrorKind {
    match status {
        404 => ErrorKind::NotFound,
        401 | 403 => ErrorKind::PermissionDenied,
        429 => ErrorKind::RateLimited { retry_after: None },
        400 | 405 | 422 => ErrorKind::ConfigInvalid,
        // 412: a performance standby has not caught up yet; 472/473: DR or performance standby.
        412 | 472 | 473 | 500..=599 => ErrorKind::Unavailable,
        _ if messages.iter().any(|m| m.contains("sealed")) => ErrorKind::Unavailable,
        _ => ErrorKind::Unexpected,
    }
}

/// `error` from `operation` on `target` as a [`VaultError`].
pub(crate) fn from_client(error: ClientError, operation: Operation, target: &str) -> VaultError {
    Failure::Client(error).into_vault(operation, target)
}

/// The kind and detail of a refusal with `code` and Vault's error messages.
fn classify_refusal(code: u16, errors: &[String]) -> (ErrorKind, String) {
    let mut kind = kind_of_status(code, errors);
    if code == 404 && errors.iter().any(|m| m.contains("no handler for route")) {
        // No such mount (or not a KV v2 one): the configuration is wrong, not the secret missing.
        kind = ErrorKind::ConfigInvalid;
    }
    // Vault's messages may be multi-line lists ("1 error occurred:\n\t* permission denied\n\n"): one line each.
    let messages: Vec<String> = errors
        .iter()
        .map(|m| lanyard_core::printable(&m.split_whitespace().collect::<Vec<_>>().join(" "), 300))
        .collect();
    let detail = if messages.is_empty() {
        format!("the server answered {code}")
    } else {
        format!("the server answered {code}: {}", messages.join("; "))
    };
    (kind, detail)
}

fn classify(error: &ClientError) -> (ErrorKind, String) {
    match error {
        ClientError::APIError { code, errors } => classify_refusal(*code, errors),
        ClientError::RestClientError { source } => classify_rest(source),
        ClientError::ResponseEmptyError | ClientError::ResponseDataEmptyError => {
            (ErrorKind::Unexpected, "the server's answer was empty".into())
        }
        ClientError::JsonParseError { .. } => (ErrorKind::Unexpected, "the server's answer could not be parsed".into()),
        other => (ErrorKind::Unexpected, other.to_string()),
    }
}

fn classify_rest(error: &rustify::errors::ClientError) -> (ErrorKind, String) {
    use rustify::errors::ClientError as Rest;
    match error {
        Rest::ServerResponseError { code, .. } => {
            (kind_of_status(*code, &[]), format!("the server answered {code} (no Vault error document)"))
        }
        Rest::RequestError { source, .. } | Rest::ResponseError { source } => {
            let chain = chain(source.as_ref());
            (transport_kind(&chain), chain)
        }
        Rest::ResponseParseError { .. } | Rest::ResponseConversionError { .. } | Rest::DataParseError { .. } => {
            (ErrorKind::Unexpected, "the server's answer could not be parsed".into())
        }
        other => (ErrorKind::Unexpected, other.to_string()),
    }
}

/// An error and its causes, `: `-separated (reqwest's own text is only "error sending request"). The causes are
/// transport errors (connect, TLS, timeout), which hold no body.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    lanyard_core::printable(&text, 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(kind_of_status(404, &[]), ErrorKind::NotFound);
        assert_eq!(kind_of_status(403, &["permission denied".into()]), ErrorKind::PermissionDenied);
        assert_eq!(kind_of_status(503, &["Vault is sealed".into()]), ErrorKind::Unavailable);
        assert_eq!(kind_of_status(429, &[]), ErrorKind::RateLimited { retry_after: None });
        assert_eq!(kind_of_status(400, &[]), ErrorKind::ConfigInvalid);
        assert_eq!(kind_of_status(500, &[]), ErrorKind::Unavailable);
        assert_eq!(kind_of_status(418, &[]), ErrorKind::Unexpected);
    }

    #[test]
    fn a_missing_mount_is_a_configuration_error() {
        let error = ClientError::APIError {
            code: 404,
            errors: vec!["no handler for route \"nope/data/x\". route entry not found.".into()],
        };
        let error = from_client(error, Operation::Get, "x");
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
        assert!(error.to_string().contains("the server answered 404: no handler for route"), "{error}");
        let missing = from_client(ClientError::APIError { code: 404, errors: vec![] }, Operation::Get, "x");
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert_eq!(missing.to_string(), "read \"x\" in hashicorp backend: secret not found: the server answered 404");
    }

    #[test]
    fn debug_never_shows_a_response_body() {
        const CANARY: &str = "canary-hvs.body-token";
        let login_reply = format!("{{\"auth\":{{\"client_token\":\"{CANARY}\",\"lease_duration\":\"x\"}}}}");
        // A body vaultrs could not parse: serde_json's error quotes the offending value.
        let parse = serde_json::from_str::<u64>(&format!("\"{CANARY}\"")).unwrap_err();
        assert!(parse.to_string().contains(CANARY), "the case must hold the canary: {parse}");
        let failures = [
            Failure::Client(ClientError::JsonParseError { source: parse }),
            Failure::Client(ClientError::RestClientError {
                source: rustify::errors::ClientError::ServerResponseError { code: 502, content: Some(login_reply) },
            }),
            Failure::Client(ClientError::APIError { code: 403, errors: vec!["permission denied".into()] }),
        ];
        for failure in &failures {
            let debug = format!("{failure:?}");
            assert!(!debug.contains(CANARY), "{debug}");
        }
        assert_eq!(
            format!("{:?}", failures[1]),
            "Client { kind: Unavailable, detail: \"the server answered 502 (no Vault error document)\" }"
        );
        assert!(format!("{:?}", failures[2]).contains("403: permission denied"), "{:?}", failures[2]);
    }
}
