//! `rest` and `git`: reqwest with rustls. Redirects are not followed (the probe judges the endpoint's own answer, and
//! a credential never travels to a host the connection does not name); response bodies are never read.

use lanyard_core::SecretString;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderName, HeaderValue, SERVER};
use reqwest::{Method, RequestBuilder, Url};

use crate::Result;
use crate::target::{Credential, Target, chain, invalid};

/// `rest`: sends `method` (`GET`) to `endpoint` and passes iff the status is `expected_status` (200). A plain
/// credential is a bearer token; a JSON object credential is a set of headers. The server version is the `Server`
/// header.
pub(crate) async fn probe_rest(target: &Target<'_>) -> Result<Option<String>> {
    let endpoint = url(target, "endpoint")?;
    let method = target.get("method").unwrap_or("GET").to_ascii_uppercase();
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| invalid(format!("{} is not an HTTP method", target.describe("method"))))?;
    let expected = target.number("expected_status", 200)?;
    if !(100..=599).contains(&expected) {
        return Err(invalid(format!("{} must be an HTTP status from 100 to 599", target.describe("expected_status"))));
    }
    let mut request = client(target)?.request(method, endpoint);
    match target.credential()? {
        Credential::Text(token) => request = request.header(AUTHORIZATION, bearer(&token)?),
        Credential::Fields(fields) => {
            for (name, value) in fields.iter() {
                let header = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| invalid(format!("credential field {name:?} is not an HTTP header name")))?;
                let mut value = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                    invalid(format!("the value of credential field {name:?} is not a valid HTTP header value"))
                })?;
                value.set_sensitive(true);
                request = request.header(header, value);
            }
        }
        Credential::None | Credential::Ambient(_) => {}
    }
    let (status, server) = send(target, request).await?;
    if status == expected {
        Ok(server)
    } else {
        Err(target.remote(format_args!("expected status {expected}, got {status}")))
    }
}

/// `git`: an authenticated GET of `api_url`; passes on any 2xx. The credential is a token (plain, or a JSON
/// object's `token`).
pub(crate) async fn probe_git(target: &Target<'_>) -> Result<Option<String>> {
    let api_url = url(target, "api_url")?;
    let mut request = client(target)?.get(api_url).header(ACCEPT, "application/json");
    match target.credential()? {
        Credential::Text(token) => request = request.header(AUTHORIZATION, bearer(&token)?),
        Credential::Fields(fields) => {
            let token = fields
                .get(&["token", "access_token", "password"])
                .ok_or_else(|| invalid(r#"a git credential is a token, or a JSON object with a "token" field"#))?;
            request = request.header(AUTHORIZATION, bearer(token)?);
        }
        Credential::None | Credential::Ambient(_) => {}
    }
    let (status, server) = send(target, request).await?;
    if (200..300).contains(&status) {
        Ok(server)
    } else {
        Err(target.remote(format_args!("expected a 2xx status, got {status}")))
    }
}

/// Option `key` as an http(s) URL without a password. The URL itself is never quoted.
fn url(target: &Target<'_>, key: &str) -> Result<Url> {
    let named = || target.describe(key);
    let url = Url::parse(target.required(key)?).map_err(|_| invalid(format!("{} is not a URL", named())))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("{} must be an http:// or https:// URL", named())));
    }
    if url.password().is_some() {
        return Err(invalid(format!("{} must not hold a password; use a credential", named())));
    }
    Ok(url)
}

fn client(target: &Target<'_>) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(target.timeout)
        .connect_timeout(target.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("lanyard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| target.remote(format_args!("cannot build the HTTP client: {}", describe(error))))
}

fn bearer(token: &SecretString) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| invalid("the token is not a valid HTTP header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Sends `request`; its status and `Server` header. The body is dropped unread.
async fn send(target: &Target<'_>, request: RequestBuilder) -> Result<(u16, Option<String>)> {
    let response = request.send().await.map_err(|error| target.remote(describe(error)))?;
    let server = response.headers().get(SERVER).and_then(|value| value.to_str().ok()).map(str::to_owned);
    Ok((response.status().as_u16(), server))
}

/// The error and its causes, without the URL (which could carry a token in its query).
fn describe(error: reqwest::Error) -> String {
    chain(&error.without_url())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::target::tests::{CANARY, json_secret, secret, target};

    #[tokio::test]
    async fn failures_never_quote_the_token_the_headers_or_the_url() {
        let token = secret(CANARY);
        let headers = json_secret(json!({"X-Api-Key": CANARY}));
        let endpoint = "http://127.0.0.1:1/v1/health";
        for auth in [&token, &headers] {
            let rest = target("rest", &[("endpoint", endpoint)], auth, 5);
            let error = super::probe_rest(&rest).await.err().unwrap().to_string();
            assert!(!error.contains(CANARY) && !error.contains("canary"), "{error}");
            assert!(!error.contains("/v1/health"), "the URL is not quoted: {error}");
            let git = target("git", &[("api_url", endpoint)], auth, 5);
            let error = super::probe_git(&git).await.err().unwrap().to_string();
            assert!(!error.contains(CANARY) && !error.contains("canary"), "{error}");
        }
    }

    #[tokio::test]
    async fn endpoints_are_checked_without_being_quoted() {
        let auth = secret(CANARY);
        let with_password = target("rest", &[("endpoint", "http://u:hunter22@127.0.0.1:1/")], &auth, 5);
        let error = super::probe_rest(&with_password).await.err().unwrap().to_string();
        assert_eq!(error, r#"option "endpoint" must not hold a password; use a credential"#);
        let not_a_url = target("rest", &[("endpoint", "not a url")], &auth, 5);
        assert_eq!(super::probe_rest(&not_a_url).await.err().unwrap().to_string(), r#"option "endpoint" is not a URL"#);
        let method = target("rest", &[("endpoint", "http://127.0.0.1:1/"), ("method", "GE T")], &auth, 5);
        assert_eq!(
            super::probe_rest(&method).await.err().unwrap().to_string(),
            r#"option "method" is not an HTTP method"#
        );
    }
}
