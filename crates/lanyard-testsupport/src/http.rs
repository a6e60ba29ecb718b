//! Plain-HTTP requests to the services on 127.0.0.1 (moto, `/healthz`), through `reqwest` on a runtime of their own
//! ([`block_on`]), so the blocking helpers work inside and outside a tokio runtime alike.

use std::time::Duration;

use crate::block_on;

/// How long one request may take, connection included.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// A response, fully read.
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The headers, names in lower case, values as text (lossy).
    pub(crate) headers: Vec<(String, String)>,
    /// The body as text (lossy).
    pub(crate) body: String,
}

impl Response {
    /// The first value of header `name` (lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// Sends one request to `path` on `base` (`http://host:port`; a path in `base` is replaced by `path`) and reads
/// the whole response. No proxy is used, whatever the environment says. The error is the cause's text.
pub(crate) fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let url = reqwest::Url::parse(base).and_then(|base| base.join(path)).map_err(|e| format!("{e}: {base}"))?;
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| format!("{e}: {method}"))?;
    block_on(move || async move {
        let client = reqwest::Client::builder().no_proxy().timeout(REQUEST_LIMIT).build()?;
        let mut request = client.request(method, url).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let body = response.bytes().await?;
        Ok(Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
    })
    .map_err(|e: reqwest::Error| error_chain(&e))
}

/// An error and its sources, `: `-separated (reqwest's own text is only "error sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
