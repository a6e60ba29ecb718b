//! The HTTP transport handed to the Azure SDK: the workspace's `reqwest` (rustls with the webpki roots, plus the
//! roots of the `ca_cert` option), with the backend's call timeout, no redirects and no proxy surprises.
//!
//! The SDK's own reqwest client is left out (its `reqwest` features are off): it would pull in a second reqwest and
//! offers no way to add trusted roots.

use std::fmt;
use std::time::Duration;

use azure_core::error::{Error, ErrorKind as AzureErrorKind};
use azure_core::http::headers::{HeaderName, HeaderValue, Headers};
use azure_core::http::request::{Body, Request};
use azure_core::http::{AsyncRawResponse, HttpClient, Method, StatusCode};

/// How long establishing a connection may take, at most (the call timeout bounds it further).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A reqwest client as the SDK's [`HttpClient`].
pub(crate) struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A client trusting the webpki roots and `extra_roots` (PEM certificates), giving up on a request after
    /// `timeout`.
    pub(crate) fn new(extra_roots: &[reqwest::Certificate], timeout: Duration) -> reqwest::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .use_rustls_tls();
        for root in extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        Ok(Self { client: builder.build()? })
    }
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransport").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let method = match request.method() {
            Method::Delete => reqwest::Method::DELETE,
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Patch => reqwest::Method::PATCH,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            other => {
                return Err(Error::with_message(AzureErrorKind::Other, format!("unsupported HTTP method {other:?}")));
            }
        };
        let mut builder = self.client.request(method, request.url().clone());
        for (name, value) in request.headers().iter() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let builder = match request.body() {
            Body::Bytes(bytes) => builder.body(bytes.clone()),
            Body::SeekableStream(_) => {
                return Err(Error::with_message(AzureErrorKind::Other, "streaming request bodies are not supported"));
            }
        };
        let response = builder.send().await.map_err(transport_error)?;
        let status = StatusCode::from(response.status().as_u16());
        let headers: Headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                let value = value.to_str().ok()?;
                Some((HeaderName::from(name.as_str().to_owned()), HeaderValue::from(value.to_owned())))
            })
            .collect::<std::collections::HashMap<_, _>>()
            .into();
        let body = response.bytes().await.map_err(transport_error)?;
        Ok(AsyncRawResponse::from_bytes(status, headers, body))
    }
}

/// A reqwest failure as the SDK's error: `Connection` when no connection was made, `Io` otherwise; the reqwest
/// error stays the source, so [`crate::errors`] can tell a timeout.
fn transport_error(error: reqwest::Error) -> Error {
    let kind = if error.is_connect() { AzureErrorKind::Connection } else { AzureErrorKind::Io };
    let message = if error.is_timeout() { "the request timed out" } else { "the request failed" };
    Error::with_error(kind, error, message)
}
