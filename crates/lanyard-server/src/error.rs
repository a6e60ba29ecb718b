//! [`ApiError`]: every error the API returns, as `application/problem+json` (RFC 9457) with a stable `code`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lanyard_api::{PROBLEM_BASE, Problem};
use lanyard_control::ControlError;
use lanyard_core::ErrorKind;
use serde::de::DeserializeOwned;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    kind: ErrorKind,
    detail: String,
    retry_after: Option<std::time::Duration>,
}

/// The HTTP status of a kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorKind::BackendUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::UriTooLong => StatusCode::URI_TOO_LONG,
        ErrorKind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn title_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "not found",
        ErrorKind::AlreadyExists => "already exists",
        ErrorKind::Conflict => "conflict",
        ErrorKind::Invalid => "invalid request",
        ErrorKind::Unauthenticated => "unauthenticated",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::PreconditionFailed => "precondition failed",
        ErrorKind::BackendUnavailable => "backend unavailable",
        ErrorKind::RateLimited => "rate limited",
        ErrorKind::PayloadTooLarge => "payload too large",
        ErrorKind::MethodNotAllowed => "method not allowed",
        ErrorKind::RequestTimeout => "request timeout",
        ErrorKind::UriTooLong => "URI too long",
        ErrorKind::HeadersTooLarge => "request header fields too large",
        _ => "internal error",
    }
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), retry_after: None }
    }

    /// Bad input.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, detail)
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> Self {
        if let Some(internal) = error.internal_detail() {
            // The client sees the message only; the detail goes to the log.
            tracing::error!(kind = error.kind().code(), detail = internal, "request failed");
        }
        Self { kind: error.kind(), detail: error.message().to_owned(), retry_after: error.retry_after() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.kind);
        let detail = if self.kind == ErrorKind::Internal { "internal error".to_owned() } else { self.detail };
        let problem = Problem {
            problem_type: format!("{PROBLEM_BASE}{}", self.kind.code()),
            title: title_of(self.kind).to_owned(),
            status: status.as_u16(),
            detail,
            code: self.kind.code().to_owned(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::openapi::PROBLEM_JSON));
        if self.kind == ErrorKind::Unauthenticated {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"lanyard\""));
        }
        if let Some(after) = self.retry_after {
            let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                headers.insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// A serde message with the input values it echoes removed: `invalid type: string "…"` (a backslash-escaped quote
/// inside does not end it) and the backticked value of `integer `…``, `floating point `…``, `boolean `…`` and
/// `character `…``, any of which may be a secret sent in the wrong field. Field and variant names stay.
fn scrub(message: &str) -> String {
    const VALUE_KINDS: [&str; 4] = ["integer `", "floating point `", "boolean `", "character `"];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    loop {
        let quoted = rest.find(" \"").map(|i| (i, 2, '"'));
        let ticked = VALUE_KINDS
            .iter()
            .filter_map(|kind| rest.find(kind).map(|i| (i, kind.len(), '`')))
            .min_by_key(|(i, _, _)| *i);
        let Some((start, opening, close)) = [quoted, ticked].into_iter().flatten().min_by_key(|(i, _, _)| *i) else {
            break;
        };
        out.push_str(&rest[..start + opening]);
        let after = &rest[start + opening..];
        let mut escaped = false;
        let end = after.char_indices().find_map(|(i, c)| {
            let done = c == close && !escaped;
            escaped = c == '\\' && !escaped;
            done.then_some(i)
        });
        out.push('…');
        match end {
            Some(end) => {
                out.push(close);
                rest = &after[end + 1..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    lanyard_core::printable(&out, 300)
}

/// `Json<T>` read strictly, whose rejections are problems: 413 for bodies over the limit, 400 (`invalid`) for the rest,
/// which includes a JSON object anywhere in the body that repeats a key ([`lanyard_api::json::check_unique_keys`]:
/// serde's structs refuse a repeated field, but a map such as `options` would keep the last value silently).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::invalid("the request body must be JSON with Content-Type: application/json"));
        }
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorKind::PayloadTooLarge, "the request body is larger than 1 MiB")
            } else {
                ApiError::invalid(format!("cannot read the request body: {}", rejection.body_text()))
            }
        })?;
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes).map_err(|rejection| json_rejection(&rejection))?;
        lanyard_api::json::check_unique_keys(&bytes)
            .map_err(|error| ApiError::invalid(format!("invalid JSON body: {}", scrub(&error.to_string()))))?;
        Ok(Self(value))
    }
}

/// Whether `Content-Type` is JSON: `application/json` or `application/<anything>+json`, parameters allowed (as axum's
/// `Json` decides).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(essence) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
    else {
        return false;
    };
    essence == "application/json"
        || essence.strip_prefix("application/").is_some_and(|subtype| subtype.ends_with("+json") && subtype.len() > 5)
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorKind::PayloadTooLarge, "the request body is larger than 1 MiB");
    }
    ApiError::invalid(format!("invalid JSON body: {}", scrub(&rejection.body_text())))
}

/// `Path<T>` whose rejections are 400 problems.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e: PathRejection| ApiError::invalid(format!("invalid path: {}", scrub(&e.body_text()))))
    }
}

/// `Query<T>` whose rejections are 400 problems.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e: QueryRejection| ApiError::invalid(format!("invalid query: {}", scrub(&e.body_text()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_drops_quoted_input() {
        assert_eq!(
            scrub("invalid type: string \"hunter2\", expected i64 at line 1 column 20"),
            "invalid type: string \"…\", expected i64 at line 1 column 20"
        );
        assert_eq!(scrub("unknown field `x`"), "unknown field `x`");
        assert_eq!(
            scrub(r#"invalid type: string "ab\"sekrit-tail", expected struct SecretKeyValue"#),
            "invalid type: string \"…\", expected struct SecretKeyValue"
        );
        assert_eq!(
            scrub("invalid type: integer `918273645`, expected a string at line 1 column 70"),
            "invalid type: integer `…`, expected a string at line 1 column 70"
        );
        assert_eq!(
            scrub("invalid type: floating point `1.5`, expected i64"),
            "invalid type: floating point `…`, expected i64"
        );
        assert_eq!(
            scrub("unknown variant `set_secrets`, expected one of `rotate`"),
            "unknown variant `set_secrets`, expected one of `rotate`"
        );
    }

    #[test]
    fn every_kind_has_a_status() {
        for kind in ErrorKind::ALL {
            let status = status_of(kind);
            assert_eq!(status.is_server_error(), matches!(kind, ErrorKind::Internal | ErrorKind::BackendUnavailable));
        }
    }
}
