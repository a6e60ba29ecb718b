//! Azure SDK errors classified as [`lanyard_vault::ErrorKind`]s, with a detail quoting the service's status, error
//! code and message (never a value: Key Vault's and Entra ID's error answers hold none).

use std::time::Duration;

use azure_core::error::ErrorKind as AzureErrorKind;
use azure_core::http::StatusCode;
use azure_core::http::headers::{HeaderName, Headers};
use lanyard_core::printable;
use lanyard_vault::{ErrorKind, Operation, VaultError};

use crate::KIND;

/// How much of a service message a detail quotes.
const MESSAGE_CHARS: usize = 400;

/// The classified error of `operation` on `target`.
pub(crate) fn classify(error: &azure_core::Error, operation: Operation, target: Option<&str>) -> VaultError {
    let (kind, detail) = kind_and_detail(error);
    let error = VaultError::new(kind, KIND, operation).with_detail(detail);
    match target {
        Some(target) => error.with_target(target),
        None => error,
    }
}

/// Whether the error is Key Vault's 404 (`SecretNotFound`).
pub(crate) fn is_not_found(error: &azure_core::Error) -> bool {
    matches!(error.kind(), AzureErrorKind::HttpResponse { status: StatusCode::NotFound, .. })
}

fn kind_and_detail(error: &azure_core::Error) -> (ErrorKind, String) {
    let message = printable(&error.to_string(), MESSAGE_CHARS);
    match error.kind() {
        AzureErrorKind::HttpResponse { status, error_code, raw_response } => {
            let code = error_code.as_deref().map(|c| format!(" {}", printable(c, 64))).unwrap_or_default();
            let detail = format!("Key Vault answered {}{code}: {message}", u16::from(*status));
            let retry_after = raw_response.as_ref().and_then(|r| retry_after(r.headers()));
            (kind_of_status(*status, retry_after), detail)
        }
        AzureErrorKind::Credential => {
            // The credential wraps what went wrong: Entra ID's answer, or a transport failure.
            let (kind, _) = error
                .source()
                .and_then(|s| s.downcast_ref::<azure_core::Error>())
                .map(kind_and_detail)
                .unwrap_or((ErrorKind::PermissionDenied, String::new()));
            let kind = match kind {
                temporary if temporary.is_temporary() => temporary,
                _ => ErrorKind::PermissionDenied,
            };
            (kind, format!("cannot get an Entra ID token: {message}"))
        }
        AzureErrorKind::Connection => (ErrorKind::Unavailable, format!("cannot connect: {}", chain(error))),
        AzureErrorKind::Io if timed_out(error) => (ErrorKind::Timeout, format!("no answer in time: {}", chain(error))),
        AzureErrorKind::Io => (ErrorKind::Unavailable, chain(error)),
        _ => (ErrorKind::Unexpected, message),
    }
}

/// The kind a Key Vault or Entra ID status means.
fn kind_of_status(status: StatusCode, retry_after: Option<Duration>) -> ErrorKind {
    match u16::from(status) {
        404 => ErrorKind::NotFound,
        401 | 403 => ErrorKind::PermissionDenied,
        429 => ErrorKind::RateLimited { retry_after },
        408 => ErrorKind::Timeout,
        400 => ErrorKind::ConfigInvalid,
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Unexpected,
    }
}

/// `Retry-After` (seconds, as Key Vault sends it; an HTTP date is read too), or `retry-after-ms` /
/// `x-ms-retry-after-ms`.
pub(crate) fn retry_after(headers: &Headers) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = headers.get_optional_str(&HeaderName::from_static(name)).and_then(|v| v.trim().parse().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = headers.get_optional_str(&HeaderName::from_static("retry-after"))?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = azure_core::time::parse_rfc7231(value).ok()?;
    let now = azure_core::time::OffsetDateTime::now_utc();
    Some(Duration::try_from(at - now).unwrap_or_default())
}

fn timed_out(error: &azure_core::Error) -> bool {
    sources(error).into_iter().any(|e| e.downcast_ref::<reqwest::Error>().is_some_and(reqwest::Error::is_timeout))
}

/// The error and its sources, outermost first.
fn sources<'a>(error: &'a (dyn std::error::Error + 'static)) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut all = vec![error];
    while let Some(source) = all[all.len() - 1].source() {
        all.push(source);
    }
    all
}

/// The error and its causes, `: `-separated.
fn chain(error: &azure_core::Error) -> String {
    let text: Vec<String> = sources(error).into_iter().map(|e| e.to_string()).collect();
    let mut unique: Vec<String> = Vec::new();
    for part in text {
        if !unique.iter().any(|u| u.contains(&part)) {
            unique.push(part);
        }
    }
    printable(&unique.join(": "), MESSAGE_CHARS)
}

use std::error::Error as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        let after = Some(Duration::from_secs(2));
        assert_eq!(kind_of_status(StatusCode::NotFound, None), ErrorKind::NotFound);
        assert_eq!(kind_of_status(StatusCode::Unauthorized, None), ErrorKind::PermissionDenied);
        assert_eq!(kind_of_status(StatusCode::Forbidden, None), ErrorKind::PermissionDenied);
        assert_eq!(kind_of_status(StatusCode::TooManyRequests, after), ErrorKind::RateLimited { retry_after: after });
        assert_eq!(kind_of_status(StatusCode::ServiceUnavailable, None), ErrorKind::Unavailable);
        assert_eq!(kind_of_status(StatusCode::InternalServerError, None), ErrorKind::Unavailable);
        assert_eq!(kind_of_status(StatusCode::BadRequest, None), ErrorKind::ConfigInvalid);
        assert_eq!(kind_of_status(StatusCode::Conflict, None), ErrorKind::Unexpected);
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut headers = Headers::new();
        headers.insert("retry-after", "3");
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("x-ms-retry-after-ms", "1500");
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&Headers::new()), None);
    }
}
