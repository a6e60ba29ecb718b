//! [`Client`]: one method per route of the API, typed requests in, typed objects out.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use lanyard_api::{
    AlterBackend, AlterConnection, AlterEntry, AlterLink, AsOfQuery, AuditQuery, AuditRecord, Backend, Connection,
    CreateBackend, CreateConnection, CreateDatabase, CreateEntry, CreateLink, CreatePipeline, Database, Entry,
    HistoryEntry, Link, LinkDefinition, LinkTestResult, Pipeline, PipelineFile, Problem, StorageTest, TestResult,
};
use lanyard_core::SecretString;
use reqwest::header::{HeaderValue, IF_MATCH};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

/// No request body.
const NO_BODY: Option<&()> = None;

/// How a create went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created<T> {
    /// A new object (201).
    New(T),
    /// `if_not_exists` was set and the object existed: it is returned unchanged (200).
    Existing(T),
}

impl<T> Created<T> {
    /// The object either way.
    pub fn into_inner(self) -> T {
        match self {
            Self::New(t) | Self::Existing(t) => t,
        }
    }
}

/// Builds a [`Client`].
#[must_use]
pub struct ClientBuilder {
    base: String,
    token: Option<SecretString>,
    ca_cert_pem: Option<Vec<u8>>,
    timeout: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| lanyard_core::REDACTED))
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The bearer token (never logged, never in errors).
    pub fn token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// Trusts this PEM certificate (a private CA or a self-signed server certificate) besides the system roots.
    pub fn ca_cert_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_cert_pem = Some(pem);
        self
    }

    /// The whole-request timeout (default 60 s; TEST CONNECTION may take as long as the probe's own timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The client.
    pub fn build(self) -> Result<Client> {
        let mut base = Url::parse(&self.base)
            .map_err(|e| Error::Config(format!("invalid server URL {}: {e}", shown(&self.base))))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!("invalid server URL {}: use http:// or https://", shown(&self.base))));
        }
        if base.cannot_be_a_base() || !base.username().is_empty() || base.password().is_some() {
            return Err(Error::Config(
                "invalid server URL: give scheme, host and port only; the token goes in --token or LANYARD_TOKEN"
                    .to_owned(),
            ));
        }
        base.set_query(None);
        base.set_fragment(None);
        let authorization = match &self.token {
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| Error::Config("the token holds characters an HTTP header cannot carry".to_owned()))?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let mut http = reqwest::Client::builder().timeout(self.timeout).connect_timeout(Duration::from_secs(10));
        if let Some(pem) = &self.ca_cert_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| Error::Config(format!("cannot read the CA certificate: {e}")))?;
            http = http.add_root_certificate(cert);
        }
        let http = http.build().map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client { http, base, authorization })
    }
}

/// A client of one Lanyard server. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    authorization: Option<HeaderValue>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl Client {
    /// A builder for the server at `base` (`http://127.0.0.1:7600`).
    pub fn builder(base: impl Into<String>) -> ClientBuilder {
        ClientBuilder { base: base.into(), token: None, ca_cert_pem: None, timeout: Duration::from_secs(60) }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<Value> {
        self.call(Method::GET, &["healthz"], NO_BODY, None, "GET /healthz").await.map(|(_, v)| v)
    }

    // Connections

    /// `GET /connections[?like=]` (SHOW CONNECTIONS).
    pub async fn list_connections(&self, like: Option<&str>) -> Result<Vec<Connection>> {
        self.get_list(&["connections"], like).await
    }

    /// [`Client::list_connections`] a page ([`PAGE_SIZE`] rows) at a time, to show a long list as it arrives.
    pub fn list_connections_pages(&self, like: Option<&str>) -> Pages<Connection> {
        self.pages(&["connections"], like)
    }

    /// `GET /connections/{name}` (DESCRIBE CONNECTION, the adapter's name lookup).
    pub async fn get_connection(&self, name: &str) -> Result<Connection> {
        self.get_json(&["connections", name]).await
    }

    /// `POST /connections` (CREATE CONNECTION).
    pub async fn create_connection(&self, request: &CreateConnection) -> Result<Created<Connection>> {
        self.create(&["connections"], request).await
    }

    /// `PUT /connections/{name}` with the actions in order, applied atomically (ALTER CONNECTION). With
    /// `if_match`, a connection changed since that version is refused with `precondition_failed`.
    pub async fn alter_connection(
        &self,
        name: &str,
        request: &AlterConnection,
        if_match: Option<i64>,
    ) -> Result<Connection> {
        self.typed(Method::PUT, &["connections", name], Some(request), if_match).await
    }

    /// `DELETE /connections/{name}` (DROP CONNECTION).
    pub async fn drop_connection(&self, name: &str, if_match: Option<i64>) -> Result<()> {
        self.call(Method::DELETE, &["connections", name], NO_BODY, if_match, "DELETE").await.map(drop)
    }

    /// `POST /connections/{name}/test` (TEST CONNECTION): a failed probe is a result, not an error.
    pub async fn test_connection(&self, name: &str) -> Result<TestResult> {
        self.typed(Method::POST, &["connections", name, "test"], NO_BODY, None).await
    }

    // Vault entries

    /// `GET /vault/entries[?like=]` (SHOW VAULTS).
    pub async fn list_entries(&self, like: Option<&str>) -> Result<Vec<Entry>> {
        self.get_list(&["vault", "entries"], like).await
    }

    /// [`Client::list_entries`] a page ([`PAGE_SIZE`] rows) at a time, to show a long list as it arrives.
    pub fn list_entries_pages(&self, like: Option<&str>) -> Pages<Entry> {
        self.pages(&["vault", "entries"], like)
    }

    /// `GET /vault/entries/{id-or-name}` (DESCRIBE VAULT).
    pub async fn get_entry(&self, key: &str) -> Result<Entry> {
        self.get_json(&["vault", "entries", key]).await
    }

    /// `POST /vault/entries` (CREATE VAULT / CREDENTIAL).
    pub async fn create_entry(&self, request: &CreateEntry) -> Result<Created<Entry>> {
        self.create(&["vault", "entries"], request).await
    }

    /// `PUT /vault/entries/{id-or-name}` (ALTER VAULT / CREDENTIAL).
    pub async fn alter_entry(&self, key: &str, request: &AlterEntry, if_match: Option<i64>) -> Result<Entry> {
        self.typed(Method::PUT, &["vault", "entries", key], Some(request), if_match).await
    }

    /// `DELETE /vault/entries/{id-or-name}` (DROP VAULT / CREDENTIAL).
    pub async fn drop_entry(&self, key: &str, if_match: Option<i64>) -> Result<()> {
        self.call(Method::DELETE, &["vault", "entries", key], NO_BODY, if_match, "DELETE").await.map(drop)
    }

    // Credential storages

    /// `GET /vault/backends[?like=]` (SHOW CREDENTIAL STORAGES).
    pub async fn list_backends(&self, like: Option<&str>) -> Result<Vec<Backend>> {
        self.get_list(&["vault", "backends"], like).await
    }

    /// [`Client::list_backends`] a page ([`PAGE_SIZE`] rows) at a time, to show a long list as it arrives.
    pub fn list_backends_pages(&self, like: Option<&str>) -> Pages<Backend> {
        self.pages(&["vault", "backends"], like)
    }

    /// `GET /vault/backends/{id-or-name}` (DESCRIBE CREDENTIAL STORAGE).
    pub async fn get_backend(&self, key: &str) -> Result<Backend> {
        self.get_json(&["vault", "backends", key]).await
    }

    /// `POST /vault/backends` (CREATE CREDENTIAL STORAGE).
    pub async fn create_backend(&self, request: &CreateBackend) -> Result<Created<Backend>> {
        self.create(&["vault", "backends"], request).await
    }

    /// `PUT /vault/backends/{id-or-name}` (ALTER CREDENTIAL STORAGE).
    pub async fn alter_backend(&self, key: &str, request: &AlterBackend, if_match: Option<i64>) -> Result<Backend> {
        self.typed(Method::PUT, &["vault", "backends", key], Some(request), if_match).await
    }

    /// `DELETE /vault/backends/{id-or-name}` (DROP CREDENTIAL STORAGE).
    pub async fn drop_backend(&self, key: &str, if_match: Option<i64>) -> Result<()> {
        self.call(Method::DELETE, &["vault", "backends", key], NO_BODY, if_match, "DELETE").await.map(drop)
    }

    /// `POST /vault/backends/{id-or-name}/test` (TEST CREDENTIAL STORAGE).
    pub async fn test_backend(&self, key: &str) -> Result<StorageTest> {
        self.typed(Method::POST, &["vault", "backends", key, "test"], NO_BODY, None).await
    }

    // Databases

    /// `GET /databases[?like=]` (SHOW DATABASES).
    pub async fn list_databases(&self, like: Option<&str>) -> Result<Vec<Database>> {
        self.get_list(&["databases"], like).await
    }

    /// [`Client::list_databases`] a page ([`PAGE_SIZE`] rows) at a time, to show a long list as it arrives.
    pub fn list_databases_pages(&self, like: Option<&str>) -> Pages<Database> {
        self.pages(&["databases"], like)
    }

    /// `POST /databases` (CREATE DATABASE [IF NOT EXISTS]). [`Created::Existing`] when `if_not_exists` found it.
    pub async fn create_database(&self, request: &CreateDatabase) -> Result<Created<Database>> {
        self.create(&["databases"], request).await
    }

    /// `DELETE /databases/{db}` (DROP DATABASE): refused while links or pipelines live in it, and for `default`.
    pub async fn drop_database(&self, database: &str, if_match: Option<i64>) -> Result<()> {
        self.call(Method::DELETE, &["databases", database], NO_BODY, if_match, "DELETE").await.map(drop)
    }

    // Links (database-scoped)

    /// `GET /databases/{db}/links[?like=]` (SHOW LINKS; USE checks with it that the database exists).
    pub async fn list_links(&self, database: &str, like: Option<&str>) -> Result<Vec<Link>> {
        self.get_list(&["databases", database, "links"], like).await
    }

    /// [`Client::list_links`] a page ([`PAGE_SIZE`] rows) at a time, to show a long list as it arrives.
    pub fn list_links_pages(&self, database: &str, like: Option<&str>) -> Pages<Link> {
        self.pages(&["databases", database, "links"], like)
    }

    /// `GET /databases/{db}/links/{name}` (the adapter's lookup before ALTER LINK; `version` is the ETag).
    pub async fn get_link(&self, database: &str, name: &str) -> Result<Link> {
        self.get_json(&["databases", database, "links", name]).await
    }

    /// `POST /databases/{db}/links` (CREATE [OR REPLACE] LINK [IF NOT EXISTS]). [`Created::Existing`] when the link
    /// existed: returned unchanged under `if_not_exists`, replaced in place under `or_replace`.
    pub async fn create_link(&self, database: &str, request: &CreateLink) -> Result<Created<Link>> {
        self.create(&["databases", database, "links"], request).await
    }

    /// `PUT /databases/{db}/links/{name}` with one or two actions, applied together (ALTER LINK). With `if_match`, a
    /// link changed since that version is refused with `precondition_failed`.
    pub async fn alter_link(
        &self,
        database: &str,
        name: &str,
        request: &AlterLink,
        if_match: Option<i64>,
    ) -> Result<Link> {
        self.typed(Method::PUT, &["databases", database, "links", name], Some(request), if_match).await
    }

    /// `DELETE /databases/{db}/links/{name}` (DROP LINK).
    pub async fn drop_link(&self, database: &str, name: &str, if_match: Option<i64>) -> Result<()> {
        self.call(Method::DELETE, &["databases", database, "links", name], NO_BODY, if_match, "DELETE").await.map(drop)
    }

    /// `GET /databases/{db}/links/{name}/create` (SHOW CREATE LINK).
    pub async fn show_create_link(&self, database: &str, name: &str) -> Result<LinkDefinition> {
        self.get_json(&["databases", database, "links", name, "create"]).await
    }

    /// `POST /databases/{db}/links/{name}/test` (TEST LINK): a failed probe is a result, not an error.
    pub async fn test_link(&self, database: &str, name: &str) -> Result<LinkTestResult> {
        self.typed(Method::POST, &["databases", database, "links", name, "test"], NO_BODY, None).await
    }

    // Pipelines (database-scoped)

    /// `GET /databases/{db}/pipelines` (SHOW PIPELINES).
    pub async fn list_pipelines(&self, database: &str) -> Result<Vec<Pipeline>> {
        self.get_list(&["databases", database, "pipelines"], None).await
    }

    /// [`Client::list_pipelines`] a page ([`PAGE_SIZE`] rows) at a time, to show a long list as it arrives.
    pub fn list_pipelines_pages(&self, database: &str) -> Pages<Pipeline> {
        self.pages(&["databases", database, "pipelines"], None)
    }

    /// `GET /databases/{db}/pipelines/{name}`.
    pub async fn get_pipeline(&self, database: &str, name: &str) -> Result<Pipeline> {
        self.get_json(&["databases", database, "pipelines", name]).await
    }

    /// `POST /databases/{db}/pipelines` (CREATE PIPELINE [IF NOT EXISTS]). [`Created::Existing`] when
    /// `if_not_exists` found it.
    pub async fn create_pipeline(&self, database: &str, request: &CreatePipeline) -> Result<Created<Pipeline>> {
        self.create(&["databases", database, "pipelines"], request).await
    }

    /// `POST /databases/{db}/pipelines/{name}/start` (START PIPELINE).
    pub async fn start_pipeline(&self, database: &str, name: &str) -> Result<Pipeline> {
        self.typed(Method::POST, &["databases", database, "pipelines", name, "start"], NO_BODY, None).await
    }

    /// `POST /databases/{db}/pipelines/{name}/stop` (STOP PIPELINE).
    pub async fn stop_pipeline(&self, database: &str, name: &str) -> Result<Pipeline> {
        self.typed(Method::POST, &["databases", database, "pipelines", name, "stop"], NO_BODY, None).await
    }

    /// `DELETE /databases/{db}/pipelines/{name}` (DROP PIPELINE).
    pub async fn drop_pipeline(&self, database: &str, name: &str, if_match: Option<i64>) -> Result<()> {
        self.call(Method::DELETE, &["databases", database, "pipelines", name], NO_BODY, if_match, "DELETE")
            .await
            .map(drop)
    }

    /// `GET /databases/{db}/pipelines/{name}/files` (SHOW FILES FOR PIPELINE).
    pub async fn list_pipeline_files(&self, database: &str, name: &str) -> Result<Vec<PipelineFile>> {
        self.get_list(&["databases", database, "pipelines", name, "files"], None).await
    }

    /// [`Client::list_pipeline_files`] a page ([`PAGE_SIZE`] rows) at a time, to show a long list as it arrives.
    pub fn list_pipeline_files_pages(&self, database: &str, name: &str) -> Pages<PipelineFile> {
        self.pages(&["databases", database, "pipelines", name, "files"], None)
    }

    // History

    /// `GET <object>/history[?limit=]` (SHOW HISTORY): `object` is the object's path (`["connections", name]`,
    /// `["vault", "entries", key]`, `["vault", "backends", key]`, `["databases", db, "links", name]`).
    pub async fn history(&self, object: &[&str], limit: Option<u32>) -> Result<Vec<HistoryEntry>> {
        let segments: Vec<&str> = object.iter().copied().chain(["history"]).collect();
        let mut url = self.url(&segments);
        if let Some(limit) = limit {
            url.query_pairs_mut().append_pair("limit", &limit.to_string());
        }
        let what = format!("GET /{}", segments.join("/"));
        let request = self.request(Method::GET, url, NO_BODY, None);
        decode(self.send(request, &what).await?.1, &what)
    }

    /// `GET <object>/as-of?version=` or `?at=` (DESCRIBE … AT): the object as it was, in the shape of its view.
    pub async fn as_of<T: DeserializeOwned>(&self, object: &[&str], point: &AsOfQuery) -> Result<T> {
        let segments: Vec<&str> = object.iter().copied().chain(["as-of"]).collect();
        let mut url = self.url(&segments);
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(version) = point.version {
                pairs.append_pair("version", &version.to_string());
            }
            if let Some(at) = &point.at {
                pairs.append_pair("at", at);
            }
        }
        let what = format!("GET /{}", segments.join("/"));
        let request = self.request(Method::GET, url, NO_BODY, None);
        decode(self.send(request, &what).await?.1, &what)
    }

    // Audit

    /// `GET /audit`.
    pub async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let mut url = self.url(&["audit"]);
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(since) = query.since {
                pairs.append_pair("since", &since.to_string());
            }
            if let Some(object) = &query.object {
                pairs.append_pair("object", object);
            }
            if let Some(limit) = query.limit {
                pairs.append_pair("limit", &limit.to_string());
            }
            if let Some(from) = &query.from {
                pairs.append_pair("from", from);
            }
            if let Some(kind) = &query.kind {
                pairs.append_pair("kind", kind);
            }
            if let Some(newest) = query.newest {
                pairs.append_pair("newest", if newest { "true" } else { "false" });
            }
        }
        let request = self.request(Method::GET, url, NO_BODY, None);
        decode(self.send(request, "GET /audit").await?.1, "GET /audit")
    }

    // Plumbing

    /// `base` + path segments, each percent-encoded (a name may hold `/`, `%`, spaces, Unicode).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            // A base URL that passed `build` can be a base.
            let Ok(mut path) = url.path_segments_mut() else { unreachable!("checked in ClientBuilder::build") };
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    /// A request; the body is serialised straight into it (secret fields are exposed only there).
    fn request<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        if_match: Option<i64>,
    ) -> RequestBuilder {
        let mut request = self.http.request(method, url);
        if let Some(authorization) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization.clone());
        }
        if let Some(version) = if_match {
            request = request.header(IF_MATCH, format!("\"{version}\""));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
    }

    /// Sends, turning a problem into [`Error::Api`] and a transport failure into [`Error::Transport`].
    async fn send(&self, request: RequestBuilder, what: &str) -> Result<(StatusCode, Value)> {
        self.send_paged(request, what).await.map(|(status, value, _)| (status, value))
    }

    /// [`Client::send`], also returning the target of the answer's `Link: <…>; rel="next"` header, if any.
    async fn send_paged(&self, request: RequestBuilder, what: &str) -> Result<(StatusCode, Value, Option<String>)> {
        let response = request.send().await.map_err(|e| Error::Transport {
            url: self.base.as_str().trim_end_matches('/').to_owned(),
            reason: transport_reason(&e),
        })?;
        let next = response
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| lanyard_api::paging::parse_next_link(value).map(str::to_owned));
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| Error::Transport {
            url: self.base.as_str().trim_end_matches('/').to_owned(),
            reason: transport_reason(&e),
        })?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok((status, Value::Null, next));
            }
            let value = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Protocol { what: what.to_owned(), reason: format!("the body is not JSON: {e}") })?;
            return Ok((status, value, next));
        }
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => Err(Error::Api(problem)),
            Err(_) => Err(Error::Api(Problem {
                problem_type: String::new(),
                status: status.as_u16(),
                code: String::new(),
                title: status.canonical_reason().unwrap_or("error").to_owned(),
                detail: format!("{what}: HTTP {status} without a problem body"),
            })),
        }
    }

    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
        if_match: Option<i64>,
        what: &str,
    ) -> Result<(StatusCode, Value)> {
        let request = self.request(method, self.url(segments), body, if_match);
        self.send(request, what).await
    }

    async fn typed<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
        if_match: Option<i64>,
    ) -> Result<T> {
        let what = format!("{method} /{}", segments.join("/"));
        let (_, value) = self.call(method, segments, body, if_match, &what).await?;
        decode(value, &what)
    }

    async fn get_json<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T> {
        self.typed(Method::GET, segments, NO_BODY, None).await
    }

    /// Every row of a list route, fetched [`PAGE_SIZE`] rows at a time.
    async fn get_list<T: DeserializeOwned>(&self, segments: &[&str], like: Option<&str>) -> Result<Vec<T>> {
        let mut pages = self.pages(segments, like);
        let mut rows = Vec::new();
        while let Some(page) = pages.next_page().await? {
            rows.extend(page);
        }
        Ok(rows)
    }

    /// The pages of a list route, [`PAGE_SIZE`] rows each, fetched as they are asked for.
    fn pages<T: DeserializeOwned>(&self, segments: &[&str], like: Option<&str>) -> Pages<T> {
        let mut url = self.url(segments);
        {
            let mut query = url.query_pairs_mut();
            if let Some(like) = like {
                query.append_pair("like", like);
            }
            query.append_pair("limit", &PAGE_SIZE.to_string());
        }
        Pages { client: self.clone(), next: Some(url), what: format!("GET /{}", segments.join("/")), rows: PhantomData }
    }

    async fn create<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<Created<T>> {
        let what = format!("POST /{}", segments.join("/"));
        let (status, value) = self.call(Method::POST, segments, Some(body), None, &what).await?;
        let object = decode(value, &what)?;
        Ok(if status == StatusCode::CREATED { Created::New(object) } else { Created::Existing(object) })
    }
}

/// How many rows the client asks for per page of a list.
pub const PAGE_SIZE: u32 = 1000;

/// The pages of one list, in order: each [`Pages::next_page`] fetches the page the previous answer's `Link` header
/// pointed at, so a long list is read (and can be shown) a page at a time.
#[derive(Debug)]
pub struct Pages<T> {
    client: Client,
    next: Option<Url>,
    what: String,
    rows: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Pages<T> {
    /// The next page's rows; `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>> {
        let Some(url) = self.next.take() else { return Ok(None) };
        let request = self.client.request(Method::GET, url.clone(), NO_BODY, None);
        let (_, value, next) = self.client.send_paged(request, &self.what).await?;
        if let Some(target) = next {
            // The next page is this route with the link's query. Only the query is taken from the server's answer:
            // the token is never sent to another host a header names, and a server behind a proxy that adds a path
            // prefix (which the server does not see) is still reached through that prefix.
            let Some((_, query)) = target.split_once('?') else {
                return Err(Error::Protocol {
                    what: self.what.clone(),
                    reason: "the next page's link has no query".to_owned(),
                });
            };
            let mut url = url;
            url.set_query(Some(query));
            self.next = Some(url);
        }
        decode(value, &self.what).map(Some)
    }
}

/// A server URL as an error may quote it: not at all when it may carry userinfo (`user:password@`).
fn shown(url: &str) -> String {
    if url.contains('@') { "(not shown: it holds an `@`)".to_owned() } else { format!("{url:?}") }
}

fn decode<T: DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Protocol { what: what.to_owned(), reason: e.to_string() })
}

/// The cause chain of a transport error, without the URL (the caller names the server once).
fn transport_reason(error: &reqwest::Error) -> String {
    let mut reason = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = cause.source();
    }
    reason
}
