//! AWS SDK errors classified as [`VaultError`]s: by the error code AWS answered, else by HTTP status, else by what
//! failed on the way (no connection, a timeout, no credentials). Details quote AWS's code and message, never
//! material or keys.

use std::error::Error as StdError;
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use lanyard_vault::{ErrorKind, Operation, VaultError};

use crate::KIND;

/// Codes that mean the identity may not do this, or is not who it says.
const DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "ExpiredToken",
    "NotAuthorized",
    "AuthFailure",
    "DecryptionFailure",
];

/// Codes of throttling answers.
const THROTTLED: &[&str] =
    &["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"];

/// Codes of server-side failures.
const UNAVAILABLE: &[&str] = &["InternalServiceError", "InternalFailure", "ServiceUnavailable", "InternalError"];

/// Codes of requests AWS considers malformed.
const INVALID: &[&str] = &[
    "InvalidParameterException",
    "InvalidRequestException",
    "ValidationException",
    "SerializationException",
    "MalformedPolicyDocumentException",
    "InvalidParameterValue",
    "InvalidParameterCombination",
];

/// The kind of an AWS answer with error `code` (if any), HTTP `status` (if any) and `Retry-After` (if any).
///
/// `ResourceNotFoundException` → not found; access denied, unrecognized client, invalid signature, expired token →
/// permission denied; throttling or HTTP 429 → rate limited (with `retry_after`); 5xx and internal errors →
/// unavailable; validation errors → invalid configuration; anything else → unexpected.
pub fn classify_code(code: Option<&str>, status: Option<u16>, retry_after: Option<Duration>) -> ErrorKind {
    let is = |list: &[&str]| code.is_some_and(|code| list.iter().any(|known| known.eq_ignore_ascii_case(code)));
    if code == Some("ResourceNotFoundException") {
        ErrorKind::NotFound
    } else if is(DENIED) {
        ErrorKind::PermissionDenied
    } else if is(THROTTLED) || status == Some(429) {
        ErrorKind::RateLimited { retry_after }
    } else if is(UNAVAILABLE) || status.is_some_and(|status| (500..=599).contains(&status)) {
        ErrorKind::Unavailable
    } else if is(INVALID) {
        ErrorKind::ConfigInvalid
    } else {
        match status {
            Some(401 | 403) => ErrorKind::PermissionDenied,
            Some(404) => ErrorKind::NotFound,
            _ => ErrorKind::Unexpected,
        }
    }
}

/// Whether an answer says the secret is scheduled for deletion (`InvalidRequestException: … because it was marked for
/// deletion`).
pub(crate) fn is_marked_for_deletion(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("InvalidRequestException")
        && message.is_some_and(|message| message.to_ascii_lowercase().contains("marked for deletion"))
}

/// `Retry-After` in seconds (AWS sends whole or fractional seconds); an HTTP date is not honoured.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

/// The error code AWS answered, if it answered one.
pub(crate) fn code<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Option<&str> {
    match error {
        SdkError::ServiceError(_) => error.code(),
        _ => None,
    }
}

/// Classifies an SDK error of an `operation`.
pub(crate) fn from_sdk<E>(error: &SdkError<E, HttpResponse>, operation: Operation) -> VaultError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let new = |kind: ErrorKind, detail: String| VaultError::new(kind, KIND, operation).with_detail(detail);
    match error {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let raw = error.raw_response();
            let status = raw.map(|raw| raw.status().as_u16());
            let retry_after = raw.and_then(|raw| raw.headers().get("retry-after")).and_then(parse_retry_after);
            let code = code(error);
            let kind = match classify_code(code, status, retry_after) {
                // AWS answers InvalidRequestException for a secret scheduled for deletion (a linked secret deleted
                // with a recovery window): for a reader it is gone.
                ErrorKind::ConfigInvalid if is_marked_for_deletion(code, error.message()) => ErrorKind::NotFound,
                kind => kind,
            };
            let mut detail = code.unwrap_or("no error code").to_owned();
            if let Some(message) = error.message().filter(|m| !m.is_empty()) {
                detail.push_str(": ");
                detail.push_str(&lanyard_core::printable(message, 300));
            }
            if let Some(status) = status {
                detail.push_str(&format!(" (HTTP {status})"));
            }
            new(kind, detail)
        }
        SdkError::TimeoutError(_) => new(ErrorKind::Timeout, "no answer within the operation timeout".to_owned()),
        SdkError::DispatchFailure(failure) => {
            if let Some(credentials) = find::<CredentialsError>(error) {
                return from_credentials(credentials, operation);
            }
            let cause = lanyard_core::printable(&DisplayErrorContext(error).to_string(), 400);
            if failure.is_timeout() {
                new(ErrorKind::Timeout, format!("no answer in time: {cause}"))
            } else if failure.is_user() {
                new(ErrorKind::ConfigInvalid, format!("the request could not be sent: {cause}"))
            } else {
                new(ErrorKind::Unavailable, format!("cannot reach AWS: {cause}"))
            }
        }
        _ => {
            if let Some(credentials) = find::<CredentialsError>(error) {
                return from_credentials(credentials, operation);
            }
            let cause = lanyard_core::printable(&DisplayErrorContext(error).to_string(), 400);
            new(ErrorKind::Unexpected, format!("the request could not be built: {cause}"))
        }
    }
}

/// Classifies a failure of the credentials provider: an STS answer (assume_role) by its code, no credentials as
/// invalid configuration, a provider timeout as timeout, a provider that could not reach its source as unavailable.
pub(crate) fn from_credentials(error: &CredentialsError, operation: Operation) -> VaultError {
    let sts = find::<SdkError<aws_sdk_sts::operation::assume_role::AssumeRoleError, HttpResponse>>(error);
    if let Some(sts) = sts {
        let inner = from_sdk(sts, operation);
        let detail = format!("STS AssumeRole failed: {}", inner.detail().unwrap_or_default());
        return VaultError::new(inner.kind(), KIND, operation).with_detail(detail);
    }
    let cause = lanyard_core::printable(&DisplayErrorContext(error).to_string(), 400);
    let kind = match error {
        CredentialsError::CredentialsNotLoaded(_) | CredentialsError::InvalidConfiguration(_) => {
            ErrorKind::ConfigInvalid
        }
        CredentialsError::ProviderTimedOut(_) => ErrorKind::Timeout,
        CredentialsError::ProviderError(_) => ErrorKind::Unavailable,
        _ => ErrorKind::Unexpected,
    };
    VaultError::new(kind, KIND, operation).with_detail(format!("cannot get AWS credentials: {cause}"))
}

/// The first error of type `T` in the source chain of `error` (itself included).
fn find<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_codes_and_statuses_map_to_kinds() {
        let after = Some(Duration::from_secs(2));
        let cases: &[(Option<&str>, Option<u16>, ErrorKind)] = &[
            (Some("ResourceNotFoundException"), Some(400), ErrorKind::NotFound),
            (Some("AccessDeniedException"), Some(400), ErrorKind::PermissionDenied),
            (Some("UnrecognizedClientException"), Some(400), ErrorKind::PermissionDenied),
            (Some("InvalidSignatureException"), Some(400), ErrorKind::PermissionDenied),
            (Some("ExpiredTokenException"), Some(400), ErrorKind::PermissionDenied),
            (Some("InvalidClientTokenId"), Some(403), ErrorKind::PermissionDenied),
            (Some("AccessDenied"), Some(403), ErrorKind::PermissionDenied),
            (Some("ThrottlingException"), Some(400), ErrorKind::RateLimited { retry_after: after }),
            (None, Some(429), ErrorKind::RateLimited { retry_after: after }),
            (Some("InternalServiceError"), Some(500), ErrorKind::Unavailable),
            (None, Some(503), ErrorKind::Unavailable),
            (None, Some(502), ErrorKind::Unavailable),
            (Some("InvalidParameterException"), Some(400), ErrorKind::ConfigInvalid),
            (Some("InvalidRequestException"), Some(400), ErrorKind::ConfigInvalid),
            (Some("ValidationException"), Some(400), ErrorKind::ConfigInvalid),
            (None, Some(403), ErrorKind::PermissionDenied),
            (None, Some(404), ErrorKind::NotFound),
            (Some("SomethingNew"), Some(400), ErrorKind::Unexpected),
        ];
        for (code, status, kind) in cases {
            assert_eq!(classify_code(*code, *status, after), *kind, "{code:?} {status:?}");
        }
        assert!(classify_code(Some("ThrottlingException"), None, None).is_temporary());
        let deleted = "You can't perform this operation on the secret because it was marked for deletion.";
        assert!(is_marked_for_deletion(Some("InvalidRequestException"), Some(deleted)));
        assert!(!is_marked_for_deletion(Some("InvalidRequestException"), Some("You provided an invalid value")));
        assert!(!is_marked_for_deletion(Some("ValidationException"), Some(deleted)));
        assert!(!classify_code(Some("AccessDeniedException"), None, None).is_temporary());
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("99999999"), Some(Duration::from_secs(3600)));
    }
}
