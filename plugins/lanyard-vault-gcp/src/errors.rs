//! Secret Manager's and Google OAuth's answers classified as [`lanyard_vault::ErrorKind`]s, with a detail quoting
//! the status, Google's status name and message (never a payload: Google's error answers hold none, and a success
//! body is never quoted).
//!
//! Secret Manager errors are `{"error":{"code":404,"message":"…","status":"NOT_FOUND","details":[…]}}`; a 429 carries
//! a `google.rpc.RetryInfo` detail whose `retryDelay` (`"2s"`, `"1.500s"`) becomes the `RetryAfter`. OAuth errors are
//! `{"error":"invalid_grant","error_description":"…"}`.

use std::time::Duration;

use lanyard_core::printable;
use lanyard_vault::{ErrorKind, Operation, VaultError};
use serde::Deserialize;

use crate::KIND;

/// How much of a service message a detail quotes.
const MESSAGE_CHARS: usize = 400;

/// What went wrong with one HTTP exchange.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The service answered with an error status; `body` is its error answer.
    Status { status: u16, body: Vec<u8> },
    /// No answer in time.
    Timeout(String),
    /// No connection, or it broke.
    Transport(String),
    /// A success answer that is not what the API documents.
    Malformed(String),
}

/// The failure of a reqwest call.
pub(crate) fn transport(error: &reqwest::Error) -> Failure {
    let text = printable(&chain(error), MESSAGE_CHARS);
    if error.is_timeout() { Failure::Timeout(text) } else { Failure::Transport(text) }
}

/// The error and its causes, `: `-separated, without repeats; the URL reqwest adds is kept (it names no secret:
/// Secret Manager's URLs hold names, and tokens travel in a header).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[derive(Deserialize)]
struct GoogleError {
    error: Option<GoogleStatus>,
}

#[derive(Deserialize)]
struct GoogleStatus {
    code: Option<u16>,
    message: Option<String>,
    status: Option<String>,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
    error_description: Option<String>,
}

/// The error of a Secret Manager API call: `operation` on `target` (a profile or a linked name).
pub(crate) fn api_error(failure: Failure, operation: Operation, target: Option<&str>) -> VaultError {
    let (kind, detail) = match failure {
        Failure::Status { status, body } => {
            let google = serde_json::from_slice::<GoogleError>(&body).ok().and_then(|e| e.error);
            let name = google.as_ref().and_then(|g| g.status.clone()).unwrap_or_default();
            let message = google.as_ref().and_then(|g| g.message.as_deref()).map(|m| printable(m, MESSAGE_CHARS));
            let retry = google.as_ref().and_then(|g| retry_delay(&g.details));
            let code = google.as_ref().and_then(|g| g.code).unwrap_or(status);
            let kind = kind_of(status, &name, retry, operation);
            let named = if name.is_empty() { String::new() } else { format!(" {}", printable(&name, 40)) };
            let detail = match message {
                Some(message) => format!("Secret Manager answered {code}{named}: {message}"),
                None => format!("Secret Manager answered {status}{named}"),
            };
            (kind, detail)
        }
        Failure::Timeout(text) => (ErrorKind::Timeout, format!("no answer in time: {text}")),
        Failure::Transport(text) => (ErrorKind::Unavailable, format!("cannot reach Secret Manager: {text}")),
        Failure::Malformed(text) => (ErrorKind::Unexpected, format!("Secret Manager's answer is unusable: {text}")),
    };
    let error = VaultError::new(kind, KIND, operation).with_detail(detail);
    match target {
        Some(target) => error.with_target(target),
        None => error,
    }
}

/// The error of getting an access token as `identity` at `endpoint`. A refused credential is `PermissionDenied`;
/// a token endpoint that is down or slow is temporary.
pub(crate) fn token_error(failure: Failure, operation: Operation, identity: &str, endpoint: &str) -> VaultError {
    let (kind, why) = match failure {
        Failure::Status { status, body } => {
            let oauth = serde_json::from_slice::<OAuthError>(&body).ok();
            let code = oauth.as_ref().and_then(|o| o.error.as_deref()).map(|c| format!(" {}", printable(c, 64)));
            let description =
                oauth.as_ref().and_then(|o| o.error_description.as_deref()).map(|d| format!(": {}", printable(d, 300)));
            let kind = match status {
                429 => ErrorKind::RateLimited { retry_after: None },
                408 | 500..=599 => ErrorKind::Unavailable,
                _ => ErrorKind::PermissionDenied,
            };
            (kind, format!("answered {status}{}{}", code.unwrap_or_default(), description.unwrap_or_default()))
        }
        Failure::Timeout(text) => (ErrorKind::Timeout, format!("no answer in time: {text}")),
        Failure::Transport(text) => (ErrorKind::Unavailable, format!("cannot be reached: {text}")),
        Failure::Malformed(text) => (ErrorKind::Unexpected, text),
    };
    VaultError::new(kind, KIND, operation)
        .with_detail(format!("cannot get an access token for {identity}: the token endpoint {endpoint} {why}"))
}

/// The kind of an HTTP status and Google status name, for `operation`.
fn kind_of(status: u16, name: &str, retry_after: Option<Duration>, operation: Operation) -> ErrorKind {
    match (status, name) {
        (429, _) | (_, "RESOURCE_EXHAUSTED") => ErrorKind::RateLimited { retry_after },
        (404, _) | (_, "NOT_FOUND") => ErrorKind::NotFound,
        // Reading a disabled or destroyed version: nothing readable there. Elsewhere (an organisation policy, a
        // disabled encryption key) it is a configuration to fix.
        (_, "FAILED_PRECONDITION") if operation == Operation::Get => ErrorKind::NotFound,
        (_, "FAILED_PRECONDITION") => ErrorKind::ConfigInvalid,
        (401 | 403, _) | (_, "PERMISSION_DENIED" | "UNAUTHENTICATED") => ErrorKind::PermissionDenied,
        (504, _) | (_, "DEADLINE_EXCEEDED") => ErrorKind::Timeout,
        (500..=599, _) | (_, "UNAVAILABLE" | "INTERNAL") => ErrorKind::Unavailable,
        (400, _) | (_, "INVALID_ARGUMENT") => ErrorKind::ConfigInvalid,
        _ => ErrorKind::Unexpected,
    }
}

/// The `retryDelay` of a `google.rpc.RetryInfo` detail: a protobuf `Duration` in JSON (`"2s"`, `"1.500s"`).
fn retry_delay(details: &[serde_json::Value]) -> Option<Duration> {
    details.iter().find_map(|detail| {
        let kind = detail.get("@type")?.as_str()?;
        if !kind.ends_with("google.rpc.RetryInfo") {
            return None;
        }
        let seconds: f64 = detail.get("retryDelay")?.as_str()?.strip_suffix('s')?.parse().ok()?;
        (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, body: &str) -> Failure {
        Failure::Status { status: code, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn google_errors_map_to_kinds_with_their_message() {
        let not_found = r#"{"error":{"code":404,"message":"Secret [projects/1/secrets/x] not found or has no versions.","status":"NOT_FOUND"}}"#;
        let error = api_error(status(404, not_found), Operation::Get, Some("x"));
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert!(error.to_string().contains("Secret Manager answered 404 NOT_FOUND: Secret [projects/1/secrets/x]"));
        let throttled = r#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.500s"}]}}"#;
        let error = api_error(status(429, throttled), Operation::Get, None);
        assert_eq!(error.kind(), ErrorKind::RateLimited { retry_after: Some(Duration::from_millis(1500)) });
        let disabled = r#"{"error":{"code":400,"message":"is in DISABLED state.","status":"FAILED_PRECONDITION"}}"#;
        assert_eq!(api_error(status(400, disabled), Operation::Get, None).kind(), ErrorKind::NotFound);
        assert_eq!(api_error(status(400, disabled), Operation::Put, None).kind(), ErrorKind::ConfigInvalid);
        let denied = r#"{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(api_error(status(403, denied), Operation::Get, None).kind(), ErrorKind::PermissionDenied);
        assert_eq!(api_error(status(503, "<html>"), Operation::Get, None).kind(), ErrorKind::Unavailable);
        let invalid = r#"{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(api_error(status(400, invalid), Operation::Put, None).kind(), ErrorKind::ConfigInvalid);
        assert_eq!(api_error(status(409, "{}"), Operation::Put, None).kind(), ErrorKind::Unexpected);
        assert_eq!(api_error(Failure::Timeout("t".into()), Operation::Get, None).kind(), ErrorKind::Timeout);
    }

    #[test]
    fn token_errors_name_the_identity_endpoint_and_oauth_error() {
        let body = r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#;
        let error = token_error(status(400, body), Operation::Probe, "service account a@b", "https://x/token");
        assert_eq!(error.kind(), ErrorKind::PermissionDenied);
        assert!(
            error.to_string().contains(
                "cannot get an access token for service account a@b: the token endpoint https://x/token answered \
                 400 invalid_grant: Invalid JWT Signature."
            ),
            "{error}"
        );
        assert_eq!(token_error(status(503, ""), Operation::Get, "i", "e").kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn retry_delays_are_protobuf_durations() {
        let info = |delay: &str| {
            vec![serde_json::json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})]
        };
        assert_eq!(retry_delay(&info("2s")), Some(Duration::from_secs(2)));
        assert_eq!(retry_delay(&info("0.250s")), Some(Duration::from_millis(250)));
        assert_eq!(retry_delay(&info("soon")), None);
        assert_eq!(retry_delay(&[serde_json::json!({"@type": "other"})]), None);
    }
}
