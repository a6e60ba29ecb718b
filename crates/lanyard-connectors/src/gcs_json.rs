//! GCS's JSON API, for `GCS` links whose CREDENTIALS are a service account key: listing (`objects.list`, a raw key
//! prefix, every page) and reading (`objects.get` with `alt=media`, conditional on the listed generation), with a
//! bearer token that `object_store`'s credential signs from the key (a self-signed JWT: no token exchange).
//!
//! Why not `object_store`'s GCS client: it lists through the XML API (`GET /<bucket>?list-type=2`), which emulators
//! such as gcp-storage-emulator do not implement (it answers 501), and its reads want `ETag` and `Last-Modified`
//! headers they do not send. The JSON API is what every GCS emulator implements, and the real service too.
//!
//! The base URL is CONFIG `endpoint_url`, else the key's `gcs_base_url` (`object_store`'s convention), else
//! `https://storage.googleapis.com`. A key with `"disable_oauth": true` (again `object_store`'s convention, for
//! emulators) sends no `Authorization` header and needs no private key.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use object_store::gcp::{GcpCredentialProvider, GoogleCloudStorageBuilder};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use url::Url;

use crate::Result;
use crate::source::SourceFile;
use crate::target::{Credential, Fields, Target, chain, invalid, utf8};
use lanyard_core::SecretString;

/// GCS's API endpoint.
pub(crate) const GCS_API: &str = "https://storage.googleapis.com";

/// How many objects one page of a listing asks for (GCS's maximum).
const PAGE: &str = "1000";

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The object is no longer the listed generation, or is gone (412, 404 on a read).
    Changed,
    /// No answer (or no next chunk) within the timeout.
    Timeout,
    /// Anything else: the status and GCS's message, or the transport's reason.
    Failed(String),
}

/// A JSON API client for one bucket.
pub(crate) struct GcsJson {
    base: Url,
    bucket: String,
    client: reqwest::Client,
    /// `None`: `disable_oauth`, no token.
    credentials: Option<GcpCredentialProvider>,
}

/// The service account key a `GCS` target signs with, if it has one: a JSON object as the target's credential
/// (a link's CREDENTIALS, a connection's secret), or the `service_account_key` a credential storage lends.
pub(crate) fn service_account_key(target: &Target<'_>) -> Result<Option<SecretString>> {
    Ok(match target.credential()? {
        Credential::Fields(_) => match target.auth {
            lanyard_resolve::Auth::Secret(value) => Some(SecretString::new(utf8(value)?.trim())),
            _ => None,
        },
        Credential::Ambient(Some(fields)) => {
            fields.get(&["service_account_key", "google_service_account_key"]).cloned()
        }
        _ => None,
    })
}

impl GcsJson {
    /// The client of a `GCS` target for `bucket`, when it signs with a service account key: a link's CREDENTIALS
    /// or a connection's secret (the key's JSON), or the key a `gcp` credential storage lends as its ambient
    /// identity (`service_account_key`). No I/O.
    pub(crate) fn new(target: &Target<'_>, bucket: &str) -> Result<Self> {
        let key =
            service_account_key(target)?.ok_or_else(|| invalid("a GCS service account key must be a JSON object"))?;
        let fields = Fields::parse(key.expose_secret())
            .ok_or_else(|| invalid("a GCS service account key must be a JSON object"))?;
        // A link's CONFIG may name the API's base URL. A connection's may not: its store (`object_store`) reads only
        // the key's `gcs_base_url`, and a connection that names a storage must not send that storage's token to a
        // host of its own choosing.
        let endpoint = if target.is_link() { target.get("endpoint") } else { None };
        let (base, named) = match (endpoint, fields.get(&["gcs_base_url"])) {
            (Some(endpoint), _) => (endpoint.to_owned(), target.describe("endpoint")),
            (None, Some(base)) => (base.expose_secret().to_owned(), r#"the key's "gcs_base_url""#.to_owned()),
            (None, None) => (GCS_API.to_owned(), String::new()),
        };
        let base = Url::parse(base.trim())
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
            .filter(|url| url.username().is_empty() && url.password().is_none())
            .ok_or_else(|| invalid(format!("{named} must be an http:// or https:// URL without user or password")))?;
        let disabled = fields.get(&["disable_oauth"]).is_some_and(|flag| flag.expose_secret().trim() == "true");
        let credentials = match disabled {
            true => None,
            false => {
                let key = key.expose_secret();
                let store = GoogleCloudStorageBuilder::new()
                    .with_service_account_key(key)
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|error| target.remote(format_args!("the service account key: {}", chain(&error))))?;
                Some(store.credentials().clone())
            }
        };
        let client = reqwest::Client::builder()
            .connect_timeout(target.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("lanyard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| target.remote(format_args!("cannot build the HTTP client: {}", chain(&error))))?;
        Ok(Self { base, bucket: bucket.to_owned(), client, credentials })
    }

    /// `<base>/storage/v1/b/<bucket>/o[/<key>]`.
    fn url(&self, key: Option<&str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(["storage", "v1", "b", &self.bucket, "o"]);
            if let Some(key) = key {
                // One segment: a `/` in the key is encoded as `%2F`, as the JSON API wants.
                segments.push(key);
            }
        }
        url
    }

    /// Sends a GET of `url` with the bearer token, bounded by `timeout` until the answer's head.
    async fn get(&self, url: Url, timeout: Duration) -> Result<reqwest::Response, Failure> {
        let mut request = self.client.get(url);
        if let Some(credentials) = &self.credentials {
            let credential = credentials.get_credential().await.map_err(|error| {
                Failure::Failed(format!("cannot sign with the service account key: {}", chain(&error)))
            })?;
            if !credential.bearer.is_empty() {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", credential.bearer))
                    .map_err(|_| Failure::Failed("the signed token is not a valid HTTP header value".to_owned()))?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
        }
        match tokio::time::timeout(timeout, request.send()).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Err(error)) => Err(Failure::Failed(chain(&error.without_url()))),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Every object whose name starts with `prefix`, page after page; unsorted.
    pub(crate) async fn list(&self, prefix: &str, timeout: Duration) -> Result<Vec<SourceFile>, Failure> {
        let mut files = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.url(None);
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("maxResults", PAGE);
                if !prefix.is_empty() {
                    query.append_pair("prefix", prefix);
                }
                if let Some(token) = &page_token {
                    query.append_pair("pageToken", token);
                }
            }
            let page = self.json(url, timeout).await?;
            for item in page["items"].as_array().into_iter().flatten() {
                files.push(source_file(item)?);
            }
            match page["nextPageToken"].as_str().filter(|token| !token.is_empty()) {
                Some(token) => page_token = Some(token.to_owned()),
                None => return Ok(files),
            }
        }
    }

    /// Lists at most one object of the bucket: passes when the bucket exists and the key may list it.
    /// Lists at most one object (under `prefix`, when given).
    pub(crate) async fn probe(&self, prefix: Option<&str>, timeout: Duration) -> Result<(), Failure> {
        let mut url = self.url(None);
        url.query_pairs_mut().append_pair("maxResults", "1");
        if let Some(prefix) = prefix.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
            url.query_pairs_mut().append_pair("prefix", &format!("{prefix}/"));
        }
        self.json(url, timeout).await.map(|_| ())
    }

    /// The object's bytes; conditional on its generation when the listing gave one.
    pub(crate) async fn read(&self, file: &SourceFile, timeout: Duration) -> Result<Bytes, Failure> {
        let mut url = self.url(Some(&file.key));
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("alt", "media");
            if let Some(generation) = &file.version {
                query.append_pair("ifGenerationMatch", generation);
            }
        }
        let mut response = self.get(url, timeout).await?;
        match response.status() {
            status if status.is_success() => {}
            StatusCode::PRECONDITION_FAILED | StatusCode::NOT_FOUND => return Err(Failure::Changed),
            _ => return Err(failed(response, timeout).await),
        }
        let mut bytes = BytesMut::with_capacity(usize::try_from(file.size).unwrap_or(0));
        loop {
            match tokio::time::timeout(timeout, response.chunk()).await {
                Err(_) => return Err(Failure::Timeout),
                Ok(Err(error)) => return Err(Failure::Failed(chain(&error.without_url()))),
                Ok(Ok(None)) => return Ok(bytes.freeze()),
                Ok(Ok(Some(chunk))) => bytes.extend_from_slice(&chunk),
            }
        }
    }

    /// A JSON answer of a GET, or why not.
    async fn json(&self, url: Url, timeout: Duration) -> Result<serde_json::Value, Failure> {
        let response = self.get(url, timeout).await?;
        if !response.status().is_success() {
            return Err(failed(response, timeout).await);
        }
        let body = match tokio::time::timeout(timeout, response.bytes()).await {
            Err(_) => return Err(Failure::Timeout),
            Ok(Err(error)) => return Err(Failure::Failed(chain(&error.without_url()))),
            Ok(Ok(body)) => body,
        };
        serde_json::from_slice(&body).map_err(|error| Failure::Failed(format!("the answer is not JSON: {error}")))
    }
}

/// A listed object resource as a [`SourceFile`].
fn source_file(item: &serde_json::Value) -> Result<SourceFile, Failure> {
    let text = |key: &str| item[key].as_str().map(str::to_owned);
    let key = text("name").ok_or_else(|| Failure::Failed("a listed object has no name".to_owned()))?;
    // The JSON API sends sizes as decimal strings (64-bit values do not fit a JSON number everywhere).
    let size = match &item["size"] {
        serde_json::Value::String(size) => size.parse().ok(),
        other => other.as_u64(),
    }
    .ok_or_else(|| Failure::Failed(format!("the listed object {key:?} has no size")))?;
    Ok(SourceFile { key, etag: text("etag"), version: text("generation"), size })
}

/// An unsuccessful answer: its status and, from a JSON error document, GCS's message.
async fn failed(response: reqwest::Response, timeout: Duration) -> Failure {
    let status = response.status();
    let body = tokio::time::timeout(timeout, response.bytes()).await.ok().and_then(Result::ok);
    let message = body
        .and_then(|body| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .and_then(|document| document["error"]["message"].as_str().map(|text| lanyard_core::printable(text, 300)));
    match message {
        Some(message) => Failure::Failed(format!("status {status}: {message}")),
        None => Failure::Failed(format!("status {status}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn gcs_source_object_names_are_one_encoded_segment_under_the_bucket() {
        let client = GcsJson {
            base: Url::parse("http://127.0.0.1:4443/").unwrap(),
            bucket: "bkt".into(),
            client: reqwest::Client::new(),
            credentials: None,
        };
        assert_eq!(client.url(None).as_str(), "http://127.0.0.1:4443/storage/v1/b/bkt/o");
        assert_eq!(
            client.url(Some("in/a b?.csv")).as_str(),
            "http://127.0.0.1:4443/storage/v1/b/bkt/o/in%2Fa%20b%3F.csv"
        );
    }

    #[test]
    fn listed_resources_become_source_files() {
        let item = json!({"name": "in/a.csv", "size": "12", "etag": "CJ+1", "generation": "1700"});
        let file = source_file(&item).unwrap();
        assert_eq!(
            file,
            SourceFile { key: "in/a.csv".into(), etag: Some("CJ+1".into()), version: Some("1700".into()), size: 12 }
        );
        assert!(matches!(source_file(&json!({"size": "1"})), Err(Failure::Failed(_))));
        assert!(matches!(source_file(&json!({"name": "x"})), Err(Failure::Failed(_))));
    }
}
