//! [`AzureKeyVault`]: a faithful double of Azure Key Vault's secrets API and of the Entra ID token endpoint that a
//! client-secret credential calls, served over HTTPS on 127.0.0.1 with a certificate of its own test CA.
//!
//! No Key Vault emulator exists in the registries we can reach, so this double plays the parts of the service that
//! Lanyard's `azure` backend (and the Azure SDK under it) relies on, with the service's own wire format:
//!
//! - **Entra ID**: `POST /{tenant}/oauth2/v2.0/token`, form-encoded `grant_type=client_credentials`, `client_id`,
//!   `client_secret`, `scope`. The right tenant, client and secret with the scope `https://vault.azure.net/.default`
//!   get `{"token_type":"Bearer","expires_in":3599,"access_token":…}`; anything else gets Entra's error JSON
//!   (`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. …",
//!   "error_codes":[7000215],…}` with 401 for a wrong secret; `AADSTS700016` unknown client, `AADSTS90002` unknown
//!   tenant, `AADSTS1002012`/`AADSTS500011` a wrong scope, each with 400).
//! - **The challenge flow**: a vault request without `Authorization` gets 401 with
//!   `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net"`
//!   (the SDK sends its first request unauthenticated, reads the resource from this challenge, asks the credential
//!   for a token of that resource and resends); a bearer token the double did not issue (or has revoked) gets the
//!   same 401 with `AKV10032`.
//! - **Secrets** (every vault request needs `?api-version=`): `PUT /secrets/{name}` (`{"value","contentType","tags"}`;
//!   a new version with a 32-hex id each time), `GET /secrets/{name}[/{version}]`, `DELETE /secrets/{name}` (soft
//!   delete: the secret moves to the deleted secrets; writing its name again answers 409 `Conflict` /
//!   `ObjectIsDeletedButRecoverable` until it is purged), `GET /secrets` and `GET /secrets/{name}/versions` (pages of
//!   at most `maxresults`, default 25, with a `nextLink`), `GET /deletedsecrets`, `GET /deletedsecrets/{name}`,
//!   `DELETE /deletedsecrets/{name}` (purge, 204). Names must match `^[0-9a-zA-Z-]{1,127}$` and values may hold at
//!   most 25 KiB ([`MAX_VALUE_BYTES`]), as in the service; errors are Key Vault's JSON:
//!   `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) … was not found in this key vault. …"}}`
//!   with 404, `BadParameter` with 400, `Forbidden` with 403, `Throttled` with 429.
//! - **Faults on demand** (methods of [`AzureKeyVault`], taking effect on the next authorised vault request):
//!   [`throttle`](AzureKeyVault::throttle) answers 429 with `Retry-After: <seconds>` a given number of times (or
//!   forever), [`deny_access`](AzureKeyVault::deny_access) answers 403 `Forbidden` (`ForbiddenByRbac`), and
//!   [`fail_next`](AzureKeyVault::fail_next) answers a server error, [`stall`](AzureKeyVault::stall) holds every
//!   vault request back for a while; [`revoke_tokens`](AzureKeyVault::revoke_tokens)
//!   forgets every issued token. [`counters`](AzureKeyVault::counters) counts what happened.
//!
//! Vault and token endpoint share one listener: give the SDK [`url`](AzureKeyVault::url) as the vault URL and as
//! the authority host, and trust [`ca_file`](AzureKeyVault::ca_file). Because that URL is not a
//! `*.vault.azure.net` host, the SDK's check that the challenge's resource matches the vault's domain cannot pass;
//! the `azure` backend turns that check off for loopback vault hosts only (see `docs/backends.md` (section `azure`)).
//!
//! Tests write secrets straight into the double ([`set_secret`](AzureKeyVault::set_secret), the way an operator
//! would with `az keyvault secret set`), never through Lanyard. `cargo run -p lanyard-testsupport --bin
//! lanyard-doubles -- azure` starts one from the command line for demos.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::TempDir;

/// The largest secret value the service accepts, in bytes (Key Vault's documented limit is 25 KB).
pub const MAX_VALUE_BYTES: usize = 25 * 1024;

/// The audience of Key Vault tokens: the `resource` of the challenge.
pub const KEY_VAULT_RESOURCE: &str = "https://vault.azure.net";

/// How long an issued token is valid, as Entra ID's `expires_in` says.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// The most names one list page holds, as in the service.
const MAX_PAGE: usize = 25;

/// What the double counted; see [`AzureKeyVault::counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Vault requests answered with the 401 challenge (no token, or one the double does not know).
    pub challenges: u64,
    /// Tokens issued by the token endpoint.
    pub tokens_issued: u64,
    /// Token requests refused (wrong tenant, client, secret or scope).
    pub token_failures: u64,
    /// Authorised `GET /secrets/{name}[/{version}]` requests that reached the store.
    pub gets: u64,
    /// Authorised `PUT /secrets/{name}` requests that reached the store.
    pub puts: u64,
    /// Authorised `DELETE /secrets/{name}` requests that reached the store.
    pub deletes: u64,
    /// Authorised list requests (`GET /secrets`, `…/versions`, `/deletedsecrets`) that reached the store.
    pub lists: u64,
    /// Purges (`DELETE /deletedsecrets/{name}`) that reached the store.
    pub purges: u64,
    /// Requests answered 429 by [`AzureKeyVault::throttle`].
    pub throttled: u64,
    /// Requests answered 403 by [`AzureKeyVault::deny_access`].
    pub denied: u64,
    /// Requests answered a server error by [`AzureKeyVault::fail_next`].
    pub failed: u64,
    /// Vault requests held back by [`AzureKeyVault::stall`].
    pub stalled: u64,
}

/// One version of a secret.
#[derive(Clone)]
struct Version {
    id: String,
    value: String,
    content_type: Option<String>,
    tags: Option<Value>,
    enabled: bool,
    created: u64,
}

/// A secret: its versions, oldest first (the last one is the current one).
#[derive(Clone, Default)]
struct Secret {
    versions: Vec<Version>,
}

struct Deleted {
    secret: Secret,
    deleted_date: u64,
}

#[derive(Default)]
struct Faults {
    throttle_left: u64,
    retry_after_secs: u64,
    deny: bool,
    fail_left: u64,
    fail_status: u16,
    stall: Duration,
}

#[derive(Default)]
struct Inner {
    secrets: BTreeMap<String, Secret>,
    deleted: BTreeMap<String, Deleted>,
    tokens: HashMap<String, Instant>,
    faults: Faults,
    counters: Counters,
}

/// What the server task shares with the handle.
struct Shared {
    tenant_id: String,
    client_id: String,
    client_secret: String,
    /// `https://127.0.0.1:<port>`, for the ids and links in answers.
    base: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running Key Vault double (see the module docs); stopped on drop.
pub struct AzureKeyVault {
    shared: Arc<Shared>,
    ca_pem: String,
    ca_file: PathBuf,
    handle: axum_server::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: TempDir,
}

impl AzureKeyVault {
    /// Starts a double on a free port of 127.0.0.1 with a fresh test CA, tenant, client id and client secret.
    ///
    /// # Panics
    ///
    /// When it cannot bind, make its certificate or start serving.
    pub fn start() -> Self {
        let hex = || uuid::Uuid::new_v4().simple().to_string();
        Self::start_with(
            &uuid::Uuid::new_v4().to_string(),
            &uuid::Uuid::new_v4().to_string(),
            &format!("kvd~{}", hex()),
        )
    }

    /// [`start`](Self::start) with the given tenant id, client (application) id and client secret.
    pub fn start_with(tenant_id: &str, client_id: &str, client_secret: &str) -> Self {
        let (ca_pem, cert_pem, key_pem) = test_ca_and_leaf();
        let dir = TempDir::new("azure-kv-double");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, &ca_pem).unwrap_or_else(|e| panic!("cannot write {}: {e}", ca_file.display()));

        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0 for the Azure double");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().expect("bound address").port();
        let shared = Arc::new(Shared {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            base: format!("https://127.0.0.1:{port}"),
            inner: Mutex::new(Inner::default()),
        });

        let config = rustls_config(&cert_pem, &key_pem);
        let handle = axum_server::Handle::new();
        let app = axum::Router::new().fallback(handle_request).with_state(shared.clone());
        let server_handle = handle.clone();
        let thread = std::thread::Builder::new()
            .name("azure-kv-double".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the Azure double");
                runtime.block_on(async move {
                    let server = axum_server::from_tcp_rustls(listener, config).handle(server_handle);
                    if let Err(error) = server.serve(app.into_make_service()).await {
                        eprintln!("the Azure Key Vault double stopped: {error}");
                    }
                });
            })
            .expect("a thread for the Azure double");
        // The listener is bound already: connections queue in its backlog until the server task accepts them.
        Self { shared, ca_pem, ca_file, handle, thread: Some(thread), _dir: dir }
    }

    /// The vault URL, `https://127.0.0.1:<port>` (also the authority host of its token endpoint).
    pub fn url(&self) -> &str {
        &self.shared.base
    }

    /// The PEM file of the test CA that signed the double's certificate (the plugin's `ca_cert` option).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The test CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The tenant (directory) id the token endpoint serves.
    pub fn tenant_id(&self) -> &str {
        &self.shared.tenant_id
    }

    /// The client (application) id of the one registered app.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The app's client secret (distinctive: tests use it as a canary).
    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    /// The `OPTIONS (…)` of a `CREATE CREDENTIAL STORAGE … TYPE = AZURE` that reaches this double with the client
    /// secret credential, in SQL (values single-quoted).
    pub fn storage_options_sql(&self) -> String {
        format!(
            "vault_url = '{url}', auth_method = 'client_secret', tenant_id = '{tenant}', client_id = '{client}', \
             client_secret = '{secret}', ca_cert = '{ca}', authority_host = '{url}'",
            url = self.url(),
            tenant = self.tenant_id(),
            client = self.client_id(),
            secret = self.client_secret(),
            ca = self.ca_file.display(),
        )
    }

    /// Writes a new version of the secret `name` straight into the store (as `az keyvault secret set` would);
    /// returns the new version's id.
    ///
    /// # Panics
    ///
    /// When the name is not a legal Key Vault name, or the secret is soft-deleted.
    pub fn set_secret(&self, name: &str, value: &str) -> String {
        assert!(valid_name(name), "{name:?} is not a legal Key Vault secret name (0-9, a-z, A-Z, -; 1 to 127)");
        let mut inner = self.shared.lock();
        assert!(!inner.deleted.contains_key(name), "the secret {name:?} is soft-deleted; purge it first");
        put_version(&mut inner, name, value.to_owned(), None, None)
    }

    /// The current value of `name`, if it exists (not deleted).
    pub fn secret(&self, name: &str) -> Option<String> {
        self.shared.lock().secrets.get(name).and_then(|s| s.versions.last()).map(|v| v.value.clone())
    }

    /// The content type of the current version of `name`.
    pub fn content_type(&self, name: &str) -> Option<String> {
        self.shared.lock().secrets.get(name).and_then(|s| s.versions.last()).and_then(|v| v.content_type.clone())
    }

    /// The version ids of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Vec<String> {
        self.shared
            .lock()
            .secrets
            .get(name)
            .map(|s| s.versions.iter().map(|v| v.id.clone()).collect())
            .unwrap_or_default()
    }

    /// Enables or disables one version (a disabled version answers 403 `Forbidden` / `SecretDisabled`).
    pub fn set_enabled(&self, name: &str, version: &str, enabled: bool) {
        let mut inner = self.shared.lock();
        let found = inner.secrets.get_mut(name).and_then(|s| s.versions.iter_mut().find(|v| v.id == version));
        found.unwrap_or_else(|| panic!("no version {version:?} of {name:?}")).enabled = enabled;
    }

    /// The names of the live secrets, sorted.
    pub fn names(&self) -> Vec<String> {
        self.shared.lock().secrets.keys().cloned().collect()
    }

    /// The names of the soft-deleted secrets, sorted.
    pub fn deleted_names(&self) -> Vec<String> {
        self.shared.lock().deleted.keys().cloned().collect()
    }

    /// The next `times` authorised vault requests answer 429 `Throttled` with `Retry-After: <retry_after seconds>`
    /// (`u64::MAX`: until [`clear_faults`](Self::clear_faults)).
    pub fn throttle(&self, times: u64, retry_after: Duration) {
        let mut inner = self.shared.lock();
        inner.faults.throttle_left = times;
        inner.faults.retry_after_secs = retry_after.as_secs().max(1);
    }

    /// While on, authorised vault requests answer 403 `Forbidden` (`ForbiddenByRbac`).
    pub fn deny_access(&self, deny: bool) {
        self.shared.lock().faults.deny = deny;
    }

    /// The next `times` authorised vault requests answer `status` (500, 503, …) with Key Vault's error JSON.
    pub fn fail_next(&self, times: u64, status: u16) {
        let mut inner = self.shared.lock();
        inner.faults.fail_left = times;
        inner.faults.fail_status = status;
    }

    /// While non-zero, every vault request (not the token endpoint) waits this long before it is answered: a vault
    /// that does not answer in time.
    pub fn stall(&self, delay: Duration) {
        self.shared.lock().faults.stall = delay;
    }

    /// Ends every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults = Faults::default();
    }

    /// Forgets every issued token: the next vault request with one gets the 401 challenge.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// What the double counted so far.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters
    }
}

impl std::fmt::Debug for AzureKeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureKeyVault")
            .field("url", &self.url())
            .field("tenant_id", &self.tenant_id())
            .field("client_id", &self.client_id())
            .finish_non_exhaustive()
    }
}

impl Drop for AzureKeyVault {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A test CA and a leaf certificate for 127.0.0.1 and localhost signed by it: (CA PEM, leaf PEM, leaf key PEM).
fn test_ca_and_leaf() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Lanyard Azure double test CA");
    let ca = ca_params.self_signed(&ca_key).expect("a self-signed CA");
    let leaf_key = KeyPair::generate().expect("a leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("leaf parameters");
    leaf_params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).expect("a leaf signed by the CA");
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

fn rustls_config(cert_pem: &str, key_pem: &str) -> axum_server::tls_rustls::RustlsConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>().expect("leaf PEM");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key PEM");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the double's certificate");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config))
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn put_version(
    inner: &mut Inner,
    name: &str,
    value: String,
    content_type: Option<String>,
    tags: Option<Value>,
) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let version = Version { id: id.clone(), value, content_type, tags, enabled: true, created: now_secs() };
    inner.secrets.entry(name.to_owned()).or_default().versions.push(version);
    id
}

/// Key Vault's error JSON.
fn kv_error(status: StatusCode, code: &str, message: &str, inner: Option<&str>) -> Response {
    let mut error = json!({ "code": code, "message": message });
    if let Some(inner) = inner {
        error["innererror"] = json!({ "code": inner });
    }
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], json!({ "error": error }).to_string())
        .into_response()
}

fn json_ok(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
}

/// The one handler: routes on method and path by hand, like the service's front door.
async fn handle_request(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_owned();
    let query: HashMap<String, String> =
        uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    if method == Method::POST && segments.len() == 4 && segments[1..] == ["oauth2", "v2.0", "token"] {
        return token(&shared, segments[0], &body);
    }
    if !matches!(segments.first(), Some(&"secrets" | &"deletedsecrets")) {
        return kv_error(StatusCode::NOT_FOUND, "NotFound", &format!("no such endpoint: {method} {path}"), None);
    }
    let stall = {
        let mut inner = shared.lock();
        if !inner.faults.stall.is_zero() {
            inner.counters.stalled += 1;
        }
        inner.faults.stall
    };
    if !stall.is_zero() {
        tokio::time::sleep(stall).await;
    }
    vault(&shared, &method, &segments, &query, &headers, &body)
}

/// `POST /{tenant}/oauth2/v2.0/token`: the client credentials grant.
fn token(shared: &Shared, tenant: &str, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |key: &str| form.get(key).map(String::as_str).unwrap_or_default();
    let refuse = |status: StatusCode, error: &str, code: u32, description: String| {
        shared.lock().counters.token_failures += 1;
        let trace = uuid::Uuid::new_v4();
        let body = json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {trace}"),
            "error_codes": [code],
            "timestamp": now_secs().to_string(),
            "trace_id": trace.to_string(),
            "correlation_id": trace.to_string(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        });
        json_ok(status, &body)
    };
    if tenant != shared.tenant_id {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", 90002, format!("Tenant '{tenant}' not found."));
    }
    if field("grant_type") != "client_credentials" {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.".into(),
        );
    }
    let client_id = field("client_id");
    if client_id != shared.client_id {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
        );
    }
    if field("client_secret") != shared.client_secret {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret \
                 value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        );
    }
    let scope = field("scope");
    let Some(resource) = scope.strip_suffix("/.default") else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value \
                 with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    };
    if resource.trim_end_matches('/') != KEY_VAULT_RESOURCE {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!("The resource principal named {resource} was not found in the tenant named {tenant}."),
        );
    }
    let access_token = format!("kvd-token-{}", uuid::Uuid::new_v4().simple());
    let mut inner = shared.lock();
    inner.tokens.insert(access_token.clone(), Instant::now() + TOKEN_LIFETIME);
    inner.counters.tokens_issued += 1;
    let secs = TOKEN_LIFETIME.as_secs();
    json_ok(
        StatusCode::OK,
        &json!({ "token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": access_token }),
    )
}

/// The 401 challenge.
fn challenge(shared: &Shared, message: &str) -> Response {
    shared.lock().counters.challenges += 1;
    let mut response = kv_error(StatusCode::UNAUTHORIZED, "Unauthorized", message, None);
    let value = format!(
        r#"Bearer authorization="https://login.microsoftonline.com/{}", resource="{KEY_VAULT_RESOURCE}""#,
        shared.tenant_id
    );
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(&value).expect("header value"));
    response
}

/// A vault request: authentication, faults, api-version, then the operation.
fn vault(
    shared: &Shared,
    method: &Method,
    segments: &[&str],
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = bearer else {
        return challenge(shared, "AKV10000: Request is missing a Bearer or PoP token.");
    };
    let mut inner = shared.lock();
    let valid = inner.tokens.get(token).is_some_and(|expires| *expires > Instant::now());
    if !valid {
        drop(inner);
        return challenge(shared, "AKV10032: Invalid issuer. Expected one of the tenant's issuers.");
    }
    if inner.faults.fail_left > 0 {
        inner.faults.fail_left -= 1;
        inner.counters.failed += 1;
        let status = StatusCode::from_u16(inner.faults.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return kv_error(status, "InternalServerError", "The service encountered an internal error.", None);
    }
    if inner.faults.throttle_left > 0 {
        if inner.faults.throttle_left != u64::MAX {
            inner.faults.throttle_left -= 1;
        }
        inner.counters.throttled += 1;
        let after = inner.faults.retry_after_secs;
        let mut response = kv_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Throttled",
            "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
            None,
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(after));
        return response;
    }
    if inner.faults.deny {
        inner.counters.denied += 1;
        return kv_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!(
                "Caller is not authorized to perform action on resource. If role assignments, deny assignments or \
                 role definitions were changed recently, please observe propagation time. Caller: appid={}",
                shared.client_id
            ),
            Some("ForbiddenByRbac"),
        );
    }
    let api_version = query.get("api-version").map(String::as_str).unwrap_or_default();
    if api_version.is_empty() {
        return kv_error(StatusCode::BAD_REQUEST, "BadParameter", "The api-version query parameter is missing.", None);
    }
    let base = &shared.base;
    match (method, segments) {
        (&Method::GET, ["secrets"]) => {
            inner.counters.lists += 1;
            let names: Vec<(String, Value)> = inner
                .secrets
                .iter()
                .filter_map(|(name, s)| s.versions.last().map(|v| (name.clone(), properties(base, name, v, false))))
                .collect();
            page(base, "/secrets", api_version, query, names)
        }
        (&Method::GET, ["secrets", name, "versions"]) => {
            inner.counters.lists += 1;
            let Some(secret) = inner.secrets.get(*name) else { return not_found(name) };
            let versions = secret.versions.iter().map(|v| (v.id.clone(), properties(base, name, v, true))).collect();
            page(base, &format!("/secrets/{name}/versions"), api_version, query, versions)
        }
        (&Method::GET, ["secrets", name]) | (&Method::GET, ["secrets", name, ""]) => {
            inner.counters.gets += 1;
            get(&inner, base, name, None)
        }
        (&Method::GET, ["secrets", name, version]) => {
            inner.counters.gets += 1;
            get(&inner, base, name, Some(version))
        }
        (&Method::PUT, ["secrets", name]) => {
            inner.counters.puts += 1;
            set(&mut inner, base, name, body)
        }
        (&Method::DELETE, ["secrets", name]) => {
            inner.counters.deletes += 1;
            let Some(secret) = inner.secrets.remove(*name) else { return not_found(name) };
            let deleted_date = now_secs();
            let mut answer = deleted_bundle(base, name, &secret, deleted_date);
            if let Some(current) = secret.versions.last() {
                answer["value"] = Value::Null;
                answer["id"] = json!(format!("{base}/secrets/{name}/{}", current.id));
            }
            inner.deleted.insert((*name).to_owned(), Deleted { secret, deleted_date });
            json_ok(StatusCode::OK, &answer)
        }
        (&Method::GET, ["deletedsecrets"]) => {
            inner.counters.lists += 1;
            let names = inner
                .deleted
                .iter()
                .map(|(n, d)| (n.clone(), deleted_bundle(base, n, &d.secret, d.deleted_date)))
                .collect();
            page(base, "/deletedsecrets", api_version, query, names)
        }
        (&Method::GET, ["deletedsecrets", name]) => match inner.deleted.get(*name) {
            Some(d) => json_ok(StatusCode::OK, &deleted_bundle(base, name, &d.secret, d.deleted_date)),
            None => deleted_not_found(name),
        },
        (&Method::DELETE, ["deletedsecrets", name]) => {
            inner.counters.purges += 1;
            match inner.deleted.remove(*name) {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => deleted_not_found(name),
            }
        }
        _ => kv_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadParameter",
            &format!("The requested resource does not support http method '{method}'."),
            None,
        ),
    }
}

fn not_found(name: &str) -> Response {
    kv_error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        &format!(
            "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you \
             may be able to recover it using the correct recovery command. For help resolving this issue, please see \
             https://go.microsoft.com/fwlink/?linkid=2125182"
        ),
        None,
    )
}

fn deleted_not_found(name: &str) -> Response {
    kv_error(StatusCode::NOT_FOUND, "SecretNotFound", &format!("Deleted Secret not found: {name}"), None)
}

fn attributes(version: &Version) -> Value {
    json!({
        "enabled": version.enabled,
        "created": version.created,
        "updated": version.created,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    })
}

/// A list item: id, attributes, content type, tags (never the value).
fn properties(base: &str, name: &str, version: &Version, with_version: bool) -> Value {
    let id =
        if with_version { format!("{base}/secrets/{name}/{}", version.id) } else { format!("{base}/secrets/{name}") };
    let mut item = json!({ "id": id, "attributes": attributes(version) });
    if let Some(content_type) = &version.content_type {
        item["contentType"] = json!(content_type);
    }
    if let Some(tags) = &version.tags {
        item["tags"] = tags.clone();
    }
    item
}

fn bundle(base: &str, name: &str, version: &Version) -> Value {
    let mut bundle = properties(base, name, version, true);
    bundle["value"] = json!(version.value);
    bundle
}

fn deleted_bundle(base: &str, name: &str, secret: &Secret, deleted_date: u64) -> Value {
    let mut answer = secret.versions.last().map(|v| properties(base, name, v, false)).unwrap_or_else(|| json!({}));
    answer["recoveryId"] = json!(format!("{base}/deletedsecrets/{name}"));
    answer["deletedDate"] = json!(deleted_date);
    answer["scheduledPurgeDate"] = json!(deleted_date + 90 * 86_400);
    answer
}

fn get(inner: &Inner, base: &str, name: &str, version: Option<&str>) -> Response {
    let Some(secret) = inner.secrets.get(name) else { return not_found(name) };
    let found = match version {
        None => secret.versions.last(),
        Some(id) => secret.versions.iter().find(|v| v.id == id),
    };
    let Some(found) = found else {
        return kv_error(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            &format!("A secret with (name/id) {name}/{} was not found in this key vault.", version.unwrap_or_default()),
            None,
        );
    };
    if !found.enabled {
        return kv_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
            Some("SecretDisabled"),
        );
    }
    json_ok(StatusCode::OK, &bundle(base, name, found))
}

fn set(inner: &mut Inner, base: &str, name: &str, body: &[u8]) -> Response {
    if !valid_name(name) {
        return kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The request URI contains an invalid name: secret names may only contain alphanumeric characters and \
             dashes and must be between 1 and 127 characters long.",
            None,
        );
    }
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(_) => {
            return kv_error(StatusCode::BAD_REQUEST, "BadParameter", "The request body is not valid JSON.", None);
        }
    };
    let Some(value) = parsed.get("value").and_then(Value::as_str) else {
        return kv_error(StatusCode::BAD_REQUEST, "BadParameter", "Property 'value' is required.", None);
    };
    if value.len() > MAX_VALUE_BYTES {
        return kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            &format!("The secret value is too large: its size must not exceed {MAX_VALUE_BYTES} bytes."),
            None,
        );
    }
    if inner.deleted.contains_key(name) {
        return kv_error(
            StatusCode::CONFLICT,
            "Conflict",
            &format!(
                "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this \
                 state, the secret can only be recovered or purged."
            ),
            Some("ObjectIsDeletedButRecoverable"),
        );
    }
    let content_type = parsed.get("contentType").and_then(Value::as_str).map(str::to_owned);
    let tags = parsed.get("tags").filter(|t| t.is_object()).cloned();
    put_version(inner, name, value.to_owned(), content_type, tags);
    let current = inner.secrets[name].versions.last().expect("just written");
    json_ok(StatusCode::OK, &bundle(base, name, current))
}

/// One page of a listing: items after `$skiptoken` (the last key of the previous page), at most `maxresults`.
fn page(
    base: &str,
    path: &str,
    api_version: &str,
    query: &HashMap<String, String>,
    items: Vec<(String, Value)>,
) -> Response {
    let max = query.get("maxresults").and_then(|m| m.parse::<usize>().ok()).unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let after = query.get("$skiptoken").map(String::as_str);
    let mut items = items;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let rest: Vec<&(String, Value)> = items.iter().filter(|(key, _)| after.is_none_or(|a| key.as_str() > a)).collect();
    let shown: Vec<Value> = rest.iter().take(max).map(|(_, item)| item.clone()).collect();
    let next = (rest.len() > max).then(|| {
        let last = &rest[max - 1].0;
        format!("{base}{path}?api-version={api_version}&$skiptoken={last}&maxresults={max}")
    });
    json_ok(StatusCode::OK, &json!({ "value": shown, "nextLink": next }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain HTTPS client trusting the double's CA.
    fn client(double: &AzureKeyVault) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(double.ca_pem().as_bytes()).unwrap();
        reqwest::Client::builder().add_root_certificate(ca).no_proxy().build().unwrap()
    }

    async fn token(double: &AzureKeyVault, secret: &str, scope: &str) -> (u16, Value) {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", double.client_id()),
            ("client_secret", secret),
            ("scope", scope),
        ];
        let url = format!("{}/{}/oauth2/v2.0/token", double.url(), double.tenant_id());
        let response = client(double).post(url).form(&form).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn call(
        double: &AzureKeyVault,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", double.url());
        let mut request = client(double).request(method, url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    #[tokio::test]
    async fn the_token_endpoint_answers_like_entra_id() {
        let double = AzureKeyVault::start();
        let (status, answer) = token(&double, double.client_secret(), "https://vault.azure.net/.default").await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["token_type"], "Bearer");
        assert!(answer["access_token"].as_str().is_some_and(|t| !t.is_empty()));
        let (status, answer) = token(&double, "wrong", "https://vault.azure.net/.default").await;
        assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_client")), "{answer}");
        assert_eq!(answer["error_codes"], json!([7000215]));
        assert!(answer["error_description"].as_str().unwrap().starts_with("AADSTS7000215: Invalid client secret"));
        let (status, answer) = token(&double, double.client_secret(), "https://vault.azure.net").await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_scope")), "{answer}");
        let (status, answer) = token(&double, double.client_secret(), "https://storage.azure.com/.default").await;
        assert_eq!((status, answer["error_codes"].clone()), (400, json!([500011])), "{answer}");
        let counters = double.counters();
        assert_eq!((counters.tokens_issued, counters.token_failures), (1, 3));
    }

    #[tokio::test]
    async fn secrets_have_versions_soft_delete_limits_and_pages() {
        let double = AzureKeyVault::start();
        let (_, answer) = token(&double, double.client_secret(), "https://vault.azure.net/.default").await;
        let bearer = answer["access_token"].as_str().unwrap().to_owned();
        let api = "api-version=2025-07-01";
        let put = |name: &str, value: &str| {
            let (double, bearer) = (&double, &bearer);
            let (path, body) = (format!("/secrets/{name}?{api}"), json!({ "value": value }));
            async move { call(double, bearer, reqwest::Method::PUT, &path, Some(body)).await }
        };
        let (status, first) = put("db", "one").await;
        assert_eq!(status, 200, "{first}");
        let (_, second) = put("db", "two").await;
        let first_id = first["id"].as_str().unwrap();
        let version = first_id.rsplit('/').next().unwrap();
        assert!(first_id.starts_with(&format!("{}/secrets/db/", double.url())), "{first_id}");
        assert_eq!(version.len(), 32);
        let (status, old) =
            call(&double, &bearer, reqwest::Method::GET, &format!("/secrets/db/{version}?{api}"), None).await;
        assert_eq!((status, old["value"].as_str()), (200, Some("one")));
        let (_, current) = call(&double, &bearer, reqwest::Method::GET, &format!("/secrets/db?{api}"), None).await;
        assert_eq!(current["id"], second["id"]);

        let (status, too_big) = put("big", &"x".repeat(MAX_VALUE_BYTES + 1)).await;
        assert_eq!((status, too_big["error"]["code"].as_str()), (400, Some("BadParameter")), "{too_big}");
        let (status, bad_name) = put("bad_name", "x").await;
        assert_eq!(status, 400, "{bad_name}");
        let (status, missing) =
            call(&double, &bearer, reqwest::Method::GET, &format!("/secrets/nope?{api}"), None).await;
        assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("SecretNotFound")), "{missing}");
        let (status, no_version) = call(&double, &bearer, reqwest::Method::GET, "/secrets/db", None).await;
        assert_eq!(status, 400, "{no_version}");

        let (status, deleted) =
            call(&double, &bearer, reqwest::Method::DELETE, &format!("/secrets/db?{api}"), None).await;
        assert_eq!(status, 200, "{deleted}");
        assert_eq!(deleted["recoveryId"], format!("{}/deletedsecrets/db", double.url()));
        let (status, conflict) = put("db", "three").await;
        assert_eq!(
            (status, conflict["error"]["innererror"]["code"].as_str()),
            (409, Some("ObjectIsDeletedButRecoverable"))
        );
        let (status, _) =
            call(&double, &bearer, reqwest::Method::DELETE, &format!("/deletedsecrets/db?{api}"), None).await;
        assert_eq!(status, 204);
        assert_eq!(put("db", "three").await.0, 200, "a purged name can be used again");

        for i in 0..30 {
            double.set_secret(&format!("page-{i:02}"), "x");
        }
        let mut names = Vec::new();
        let mut next = Some(format!("{}/secrets?{api}", double.url()));
        while let Some(url) = next {
            let path = url.strip_prefix(double.url()).unwrap().to_owned();
            let (status, page) = call(&double, &bearer, reqwest::Method::GET, &path, None).await;
            assert_eq!(status, 200, "{page}");
            let items = page["value"].as_array().unwrap();
            assert!(items.len() <= MAX_PAGE);
            names.extend(items.iter().map(|i| i["id"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()));
            next = page["nextLink"].as_str().map(str::to_owned);
        }
        assert_eq!(names.len(), 31, "{names:?}");
        assert!(names.windows(2).all(|w| w[0] < w[1]));
    }

    #[tokio::test]
    async fn requests_without_a_known_token_are_challenged_and_faults_apply_to_the_rest() {
        let double = AzureKeyVault::start();
        let response = client(&double).get(format!("{}/secrets/x?api-version=7.4", double.url())).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_owned();
        assert!(challenge.ends_with(r#"resource="https://vault.azure.net""#), "{challenge}");
        let (status, _) = call(&double, "made-up", reqwest::Method::GET, "/secrets/x?api-version=7.4", None).await;
        assert_eq!(status, 401);
        let (_, answer) = token(&double, double.client_secret(), "https://vault.azure.net/.default").await;
        let bearer = answer["access_token"].as_str().unwrap().to_owned();
        double.set_secret("x", "v");
        double.throttle(1, Duration::from_secs(3));
        let response = client(&double)
            .get(format!("{}/secrets/x?api-version=7.4", double.url()))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        assert_eq!((response.status().as_u16(), response.headers()[header::RETRY_AFTER].to_str().unwrap()), (429, "3"));
        double.deny_access(true);
        let (status, denied) = call(&double, &bearer, reqwest::Method::GET, "/secrets/x?api-version=7.4", None).await;
        assert_eq!((status, denied["error"]["code"].as_str()), (403, Some("Forbidden")));
        double.clear_faults();
        let (status, found) = call(&double, &bearer, reqwest::Method::GET, "/secrets/x?api-version=7.4", None).await;
        assert_eq!((status, found["value"].as_str()), (200, Some("v")));
        let counters = double.counters();
        assert_eq!((counters.challenges, counters.throttled, counters.denied, counters.gets), (2, 1, 1, 1));
    }
}
