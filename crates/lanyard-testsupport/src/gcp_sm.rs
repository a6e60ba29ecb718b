//! [`GcpSecretManager`]: a faithful double of Google Cloud Secret Manager's v1 REST API and of Google's OAuth 2.0
//! token endpoint for service accounts, served over plain HTTP on 127.0.0.1.
//!
//! No Secret Manager emulator that stores and returns payloads exists in the registries we can reach (`gcplocal`
//! routes the API but keeps no data), so this double plays the parts of the service that Lanyard's `gcp` backend
//! (its service-account JWT exchange and its REST client) relies on, with the service's own wire format:
//!
//! - **The token endpoint** `POST /token` ([`token_uri`](GcpSecretManager::token_uri), which the key file names):
//!   form-encoded `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`. The JWT must be RS256,
//!   signed with the private key of a service account the double knows (base64url with or without padding: Lanyard
//!   does not pad, the `gcp_auth` crate does), `iss` its `client_email`, `aud` the token URI, `exp - iat` at most 3600 s, not expired and not issued in
//!   the future (60 s of clock skew either way), and carry a `scope`. The answer is
//!   `{"access_token":"ya29.…","expires_in":3599,"token_type":"Bearer"}`; failures are Google's OAuth errors with 400:
//!   `unsupported_grant_type`, `invalid_request` (no or malformed assertion), `invalid_grant` (`Invalid grant: account
//!   not found`, `Invalid JWT Signature.`, `Invalid JWT: Failed audience check. …`, `Invalid JWT: Token must be a
//!   short-lived token (60 minutes) and in a reasonable timeframe. …`), `invalid_scope`; a `sub` (domain-wide
//!   delegation) is 401 `unauthorized_client`. As with Google, a token is issued for whatever scopes the JWT asks;
//!   the API then refuses one without `https://www.googleapis.com/auth/cloud-platform` (403,
//!   `ACCESS_TOKEN_SCOPE_INSUFFICIENT`).
//! - **Secrets** under `/v1/projects/{project}/…`, where `{project}` is the project id or its number; resource names
//!   in answers always use the number, as the service does. `POST …/secrets?secretId=` (`replication` required,
//!   `automatic` or `userManaged`; `labels` and `annotations`), `GET`/`PATCH` (`updateMask` of `labels`,
//!   `annotations`)/`DELETE …/secrets/{id}` (with every version), `GET …/secrets` (newest first),
//!   `POST …/secrets/{id}:addVersion` (base64 `payload.data`, at most 64 KiB ([`MAX_PAYLOAD_BYTES`]), not empty;
//!   an optional `dataCrc32c`, a decimal int64 string, checked against the CRC-32C (Castagnoli) of the data),
//!   `GET …/versions/{n|latest}` and `…:access` (`latest` is the most recently created version, whatever its
//!   state; the answer names the resolved number), `GET …/versions` (newest first), `POST
//!   …/versions/{n|latest}:enable|:disable|:destroy` (destroying clears the payload and sets `destroyTime`; a destroyed
//!   version cannot change state again). An `etag` given to `DELETE` (query) or to a state change (body) must match.
//!   Secret ids match `[A-Za-z0-9_-]{1,255}`; label keys start with a lowercase letter, keys and values hold at most
//!   63 lowercase letters, digits, `_` and `-`, at most 64 labels.
//! - **Lists** take `pageSize` (0 or absent: 25, the double's choice where Google says "the server decides"; at most
//!   25000), an opaque `pageToken` and a `filter`, and answer `nextPageToken` (absent on the last page) and
//!   `totalSize`. The filter is a subset of Google's list-filtering syntax: terms separated by spaces (or `AND`),
//!   all of which must hold, each optionally negated with `-` or `NOT`; a term is `field:value` (contains; `:*` means
//!   "has the field") or `field=value` (equals), the value optionally in double quotes, case-sensitive. Fields:
//!   `name` (the secret id) and `labels.<key>` for secrets, `state` (`ENABLED`, `DISABLED`, `DESTROYED`, any case)
//!   and `name` (the version number) for versions. Anything else (`OR`, parentheses, other fields) is 400
//!   `INVALID_ARGUMENT`.
//! - **Errors** are Google's JSON: `{"error":{"code":404,"message":"…","status":"NOT_FOUND"}}` (`details` where Google
//!   sends them), with `NOT_FOUND` (`Secret [projects/…] not found or has no versions.`, `Secret Version [projects/…]
//!   not found.`), `ALREADY_EXISTS` (409), `INVALID_ARGUMENT`, `FAILED_PRECONDITION` (`Secret Version [projects/…] is
//!   in DISABLED state.`), `ABORTED` (an etag that does not match, 409), 401 `UNAUTHENTICATED` with
//!   `WWW-Authenticate: Bearer realm="https://accounts.google.com/"` for a missing, unknown, expired or revoked token,
//!   403 `PERMISSION_DENIED` (`Permission 'secretmanager.versions.access' denied for resource '…' (or it may not
//!   exist).`: an unknown project, a service account without access, [`deny_access`](GcpSecretManager::deny_access)).
//!   No message ever holds payload data.
//! - **Faults on demand**, on authenticated API requests (never the token endpoint):
//!   [`throttle`](GcpSecretManager::throttle) answers 429 `RESOURCE_EXHAUSTED` with a `google.rpc.RetryInfo`
//!   (`"retryDelay":"2s"`, fractional as `"1.500s"`), [`deny_access`](GcpSecretManager::deny_access) 403,
//!   [`fail_next`](GcpSecretManager::fail_next) a server error (`503 UNAVAILABLE`, `500 INTERNAL`, …),
//!   [`stall`](GcpSecretManager::stall) holds every API request back; [`revoke_tokens`](GcpSecretManager::revoke_tokens)
//!   forgets every issued token. [`counters`](GcpSecretManager::counters) counts what happened.
//!
//! Two service accounts exist: the one of [`service_account_json`](GcpSecretManager::service_account_json), which
//! may do everything, and the one of
//! [`unauthorized_service_account_json`](GcpSecretManager::unauthorized_service_account_json), which gets tokens but
//! no access to the project (403 on every API request). Their RSA keys (2048 bits, PKCS#8) are made once per process
//! and shared by every double; none is ever written to the repository.
//!
//! Tests write versions straight into the double ([`add_version`](GcpSecretManager::add_version), the way an
//! operator would with `gcloud secrets versions add`), never through Lanyard. `cargo run -p lanyard-testsupport --bin
//! lanyard-doubles -- gcp` starts one from the command line for demos.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::TempDir;

/// The largest payload a secret version may hold, in bytes (Secret Manager's limit: 64 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The OAuth scope the Secret Manager API requires of a token.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The project id every double serves.
pub const GCP_PROJECT_ID: &str = "lanyard-test";

/// The number of that project (resource names in answers use it).
pub const GCP_PROJECT_NUMBER: &str = "123456789012";

/// The grant type of the service-account flow.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long an issued token is valid, as Google's `expires_in` says.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// The clock skew the token endpoint tolerates on `iat` and `exp`, in seconds.
const CLOCK_SKEW_SECS: i64 = 60;

/// The page size when a list request gives none (or 0): "the server decides".
const DEFAULT_PAGE_SIZE: usize = 25;

/// The largest page size; larger ones are capped, as documented.
const MAX_PAGE_SIZE: usize = 25_000;

/// The state of a secret version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionState {
    /// Readable.
    Enabled,
    /// Kept, but `:access` answers 400 `FAILED_PRECONDITION`; it can be enabled again.
    Disabled,
    /// Its payload is gone for good.
    Destroyed,
}

impl VersionState {
    /// The name Google's JSON uses: `ENABLED`, `DISABLED`, `DESTROYED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
            Self::Destroyed => "DESTROYED",
        }
    }
}

impl std::fmt::Display for VersionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for VersionState {
    type Err = String;

    /// `ENABLED`, `DISABLED` or `DESTROYED`, in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_uppercase().as_str() {
            "ENABLED" => Ok(Self::Enabled),
            "DISABLED" => Ok(Self::Disabled),
            "DESTROYED" => Ok(Self::Destroyed),
            _ => Err(format!("unknown secret version state {text:?}")),
        }
    }
}

/// What the double counted; see [`GcpSecretManager::counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcpCounters {
    /// Requests to the token endpoint, answered or refused.
    pub token_requests: u64,
    /// Token requests refused (any OAuth error).
    pub token_failures: u64,
    /// `…/versions/{n|latest}:access` requests that reached the store.
    pub accesses: u64,
    /// `…:addVersion` requests that reached the store.
    pub adds: u64,
    /// List requests (secrets or versions) that reached the store.
    pub lists: u64,
    /// Every other API request that reached the store (create, get, patch, delete, state changes).
    pub others: u64,
    /// Requests answered 429 by [`GcpSecretManager::throttle`].
    pub throttled: u64,
    /// Requests answered 403 `PERMISSION_DENIED` ([`GcpSecretManager::deny_access`], an unknown project, a service
    /// account without access, a token without the cloud-platform scope).
    pub denied: u64,
    /// API requests answered 401 `UNAUTHENTICATED` (no token, or one the double does not know).
    pub unauthenticated: u64,
    /// Requests answered a server error by [`GcpSecretManager::fail_next`].
    pub failed: u64,
    /// API requests held back by [`GcpSecretManager::stall`].
    pub stalled: u64,
}

/// One secret version.
struct Version {
    number: u64,
    /// `None` once destroyed.
    payload: Option<Vec<u8>>,
    state: VersionState,
    create_time: String,
    destroy_time: Option<String>,
    client_checksum: bool,
    etag: String,
}

/// A secret: its metadata and versions, oldest first.
struct Secret {
    /// Creation order among all secrets (lists are newest first).
    sequence: u64,
    create_time: String,
    replication: Value,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    etag: String,
    versions: Vec<Version>,
    next_version: u64,
}

#[derive(Default)]
struct Faults {
    throttle_left: u64,
    retry_delay: Duration,
    deny: bool,
    fail_left: u64,
    fail_status: u16,
    stall: Duration,
}

struct IssuedToken {
    expires: Instant,
    email: String,
    scopes: Vec<String>,
}

#[derive(Default)]
struct Inner {
    secrets: BTreeMap<String, Secret>,
    next_sequence: u64,
    last_etag: u64,
    tokens: HashMap<String, IssuedToken>,
    faults: Faults,
    counters: GcpCounters,
}

impl Inner {
    /// A fresh etag, quoted as the service quotes them (`"\"16…\""`): the current time in microseconds as hex,
    /// strictly increasing.
    fn etag(&mut self) -> String {
        let micros = u64::try_from(now_micros()).unwrap_or_default();
        self.last_etag = micros.max(self.last_etag + 1);
        format!("\"{:x}\"", self.last_etag)
    }

    /// Adds a version to `id` (creating the secret with automatic replication if missing); its number.
    fn add_version(&mut self, id: &str, payload: Vec<u8>, client_checksum: bool) -> u64 {
        if !self.secrets.contains_key(id) {
            self.create_secret(id, json!({ "automatic": {} }), BTreeMap::new(), BTreeMap::new());
        }
        let etag = self.etag();
        let secret = self.secrets.get_mut(id).expect("just created");
        secret.next_version += 1;
        let number = secret.next_version;
        secret.versions.push(Version {
            number,
            payload: Some(payload),
            state: VersionState::Enabled,
            create_time: rfc3339_now(),
            destroy_time: None,
            client_checksum,
            etag,
        });
        number
    }

    fn create_secret(
        &mut self,
        id: &str,
        replication: Value,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    ) {
        self.next_sequence += 1;
        let etag = self.etag();
        let secret = Secret {
            sequence: self.next_sequence,
            create_time: rfc3339_now(),
            replication,
            labels,
            annotations,
            etag,
            versions: Vec::new(),
            next_version: 0,
        };
        self.secrets.insert(id.to_owned(), secret);
    }

    fn set_state(&mut self, id: &str, number: u64, state: VersionState) -> Result<(), String> {
        let etag = self.etag();
        let version = self
            .secrets
            .get_mut(id)
            .and_then(|s| s.versions.iter_mut().find(|v| v.number == number))
            .ok_or_else(|| format!("no version {number} of the secret {id:?}"))?;
        version.state = state;
        version.etag = etag;
        if state == VersionState::Destroyed && version.destroy_time.is_none() {
            version.payload = None;
            version.destroy_time = Some(rfc3339_now());
        }
        Ok(())
    }
}

/// A service account the token endpoint knows.
struct Account {
    email: String,
    client_id: String,
    key: &'static ServiceKey,
    /// Whether its tokens may use the project's secrets.
    authorized: bool,
}

/// What the server task shares with the handle.
struct Shared {
    /// `http://127.0.0.1:<port>`.
    base: String,
    accounts: Vec<Account>,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn token_uri(&self) -> String {
        format!("{}/token", self.base)
    }
}

/// An RSA key of a service account: 2048 bits, as Google issues them.
struct ServiceKey {
    /// PKCS#8, PEM (`-----BEGIN PRIVATE KEY-----`), 64-column lines.
    private_pem: String,
    /// PKCS#1 `RSAPublicKey`, DER, as ring's verifier takes it.
    public_der: Vec<u8>,
    /// 40 hex digits, like Google's: a digest of the public key.
    id: String,
}

impl ServiceKey {
    fn generate() -> Self {
        use rsa::pkcs1::EncodeRsaPublicKey as _;
        use rsa::pkcs8::EncodePrivateKey as _;
        let private = rsa::PrivateKey::new(&mut RingRng, 2048).expect("a 2048-bit RSA key");
        let der = private.to_pkcs8_der().expect("the key in PKCS#8");
        let public_der = private.to_public_key().to_pkcs1_der().expect("the public key in PKCS#1").into_vec();
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
        let mut private_pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            private_pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            private_pem.push('\n');
        }
        private_pem.push_str("-----END PRIVATE KEY-----\n");
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &public_der);
        let id = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Self { private_pem, public_der, id }
    }
}

/// The process's service-account key (made on first use: a few seconds in a debug build).
fn main_key() -> &'static ServiceKey {
    static KEY: OnceLock<ServiceKey> = OnceLock::new();
    KEY.get_or_init(ServiceKey::generate)
}

/// The key of the service account without access, made only when a test asks for its key file.
static OTHER_KEY: OnceLock<ServiceKey> = OnceLock::new();

/// A placeholder for the other account's key until it is made: no signature verifies with an empty public key.
static NO_KEY: ServiceKey = ServiceKey { private_pem: String::new(), public_der: Vec::new(), id: String::new() };

/// rsa's key generation wants a `rand_core` generator; ring's `SystemRandom` (the OS's source) is one.
struct RingRng;

impl rsa::rand_core::TryRng for RingRng {
    type Error = ring::error::Unspecified;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), dst)
    }
}

impl rsa::rand_core::TryCryptoRng for RingRng {}

/// A running Secret Manager double (see the module docs); stopped on drop.
pub struct GcpSecretManager {
    shared: Arc<Shared>,
    key_json: String,
    key_file: PathBuf,
    handle: axum_server::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: TempDir,
}

impl GcpSecretManager {
    /// Starts a double on a free port of 127.0.0.1, for the project [`GCP_PROJECT_ID`] (number
    /// [`GCP_PROJECT_NUMBER`]) and the service account `lanyard@lanyard-test.iam.gserviceaccount.com`, and writes
    /// that account's key file (mode 0600) into a temporary directory of its own.
    ///
    /// # Panics
    ///
    /// When it cannot bind, write the key file or start serving.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0 for the GCP double");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().expect("bound address").port();
        let client_id = || {
            let digits: String = uuid::Uuid::new_v4().as_u128().to_string().chars().take(20).collect();
            format!("1{digits}")
        };
        let accounts = vec![
            Account {
                email: format!("lanyard@{GCP_PROJECT_ID}.iam.gserviceaccount.com"),
                client_id: client_id(),
                key: main_key(),
                authorized: true,
            },
            Account {
                email: format!("lanyard-no-access@{GCP_PROJECT_ID}.iam.gserviceaccount.com"),
                client_id: client_id(),
                key: &NO_KEY,
                authorized: false,
            },
        ];
        let shared = Arc::new(Shared {
            base: format!("http://127.0.0.1:{port}"),
            accounts,
            inner: Mutex::new(Inner::default()),
        });
        let key_json = key_file_json(&shared, &shared.accounts[0], main_key());
        let dir = TempDir::new("gcp-sm-double");
        let key_file = dir.join("service-account.json");
        write_private(&key_file, &key_json);

        let handle = axum_server::Handle::new();
        let app = axum::Router::new().fallback(handle_request).with_state(shared.clone());
        let server_handle = handle.clone();
        let thread = std::thread::Builder::new()
            .name("gcp-sm-double".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the GCP double");
                runtime.block_on(async move {
                    let server = axum_server::from_tcp(listener).handle(server_handle);
                    if let Err(error) = server.serve(app.into_make_service()).await {
                        eprintln!("the GCP Secret Manager double stopped: {error}");
                    }
                });
            })
            .expect("a thread for the GCP double");
        // The listener is bound already: connections queue in its backlog until the server task accepts them.
        Self { shared, key_json, key_file, handle, thread: Some(thread), dir }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash: the API is under `/v1/`, the token endpoint at `/token`.
    pub fn url(&self) -> &str {
        &self.shared.base
    }

    /// The token endpoint, `<url>/token` (the key file's `token_uri`, and the JWT's required `aud`).
    pub fn token_uri(&self) -> String {
        self.shared.token_uri()
    }

    /// The project id, [`GCP_PROJECT_ID`].
    pub fn project_id(&self) -> &str {
        GCP_PROJECT_ID
    }

    /// The project number, [`GCP_PROJECT_NUMBER`]: resource names in answers use it.
    pub fn project_number(&self) -> &str {
        GCP_PROJECT_NUMBER
    }

    /// The authorised service account's email (`lanyard@lanyard-test.iam.gserviceaccount.com`).
    pub fn client_email(&self) -> &str {
        &self.shared.accounts[0].email
    }

    /// The authorised service account's key file, as Google issues it (pretty-printed JSON): `type`,
    /// `project_id`, `private_key_id`, `private_key` (PKCS#8 PEM), `client_email`, `client_id`, `auth_uri`,
    /// `token_uri` (= [`token_uri`](Self::token_uri)), `auth_provider_x509_cert_url`, `client_x509_cert_url`,
    /// `universe_domain`.
    pub fn service_account_json(&self) -> &str {
        &self.key_json
    }

    /// Where [`service_account_json`](Self::service_account_json) is written (mode 0600; removed on drop).
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// The private key of the authorised account, PKCS#8 PEM (for tests that sign their own JWTs).
    pub fn private_key_pem(&self) -> &str {
        &main_key().private_pem
    }

    /// The key file of a second service account, `lanyard-no-access@lanyard-test.iam.gserviceaccount.com`: the token
    /// endpoint gives it tokens, but it has no role on the project, so every API request with its token answers 403
    /// `PERMISSION_DENIED`. Its key is made on the first call (a few seconds in a debug build), once per process.
    pub fn unauthorized_service_account_json(&self) -> String {
        let key = OTHER_KEY.get_or_init(ServiceKey::generate);
        key_file_json(&self.shared, &self.shared.accounts[1], key)
    }

    /// The `OPTIONS (…)` body of a `CREATE CREDENTIAL STORAGE … TYPE = GCP` that reaches this double with the key
    /// file (on one line: the key file's JSON compacted), values single-quoted with quotes doubled:
    /// `project_id = '…', endpoint = '<url>', auth_method = 'service_account', service_account_json = '<json>'`.
    pub fn storage_options_sql(&self) -> String {
        let compact: Value = serde_json::from_str(&self.key_json).expect("the key file is JSON");
        format!(
            "project_id = '{}', endpoint = '{}', auth_method = 'service_account', service_account_json = '{}'",
            sql_quote(self.project_id()),
            sql_quote(self.url()),
            sql_quote(&compact.to_string()),
        )
    }

    /// Issues an access token for the authorised account straight away, as if its JWT had been exchanged (like
    /// `gcloud auth print-access-token`); not counted as a token request.
    pub fn issue_token(&self) -> String {
        let token = new_access_token();
        self.shared.lock().tokens.insert(
            token.clone(),
            IssuedToken {
                expires: Instant::now() + TOKEN_LIFETIME,
                email: self.client_email().to_owned(),
                scopes: vec![CLOUD_PLATFORM_SCOPE.to_owned()],
            },
        );
        token
    }

    /// Creates the secret `secret` (automatic replication) with these labels, as `gcloud secrets create` would.
    ///
    /// # Panics
    ///
    /// When the id or a label is not legal, or the secret exists.
    pub fn create_secret(&self, secret: &str, labels: &[(&str, &str)]) {
        assert!(valid_secret_id(secret), "{secret:?} is not a legal secret id ([A-Za-z0-9_-], 1 to 255)");
        let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        if let Err(problem) = check_labels(&labels) {
            panic!("{problem}");
        }
        let mut inner = self.shared.lock();
        assert!(!inner.secrets.contains_key(secret), "the secret {secret:?} exists already");
        inner.create_secret(secret, json!({ "automatic": {} }), labels, BTreeMap::new());
    }

    /// Adds a version holding `payload` to `secret` (created with automatic replication if missing), as `gcloud
    /// secrets versions add` would; returns its number (1, 2, …).
    ///
    /// # Panics
    ///
    /// When the id is not legal, or the payload is empty or larger than [`MAX_PAYLOAD_BYTES`].
    pub fn add_version(&self, secret: &str, payload: &[u8]) -> u64 {
        assert!(valid_secret_id(secret), "{secret:?} is not a legal secret id ([A-Za-z0-9_-], 1 to 255)");
        assert!(
            (1..=MAX_PAYLOAD_BYTES).contains(&payload.len()),
            "a payload holds 1 to {MAX_PAYLOAD_BYTES} bytes, not {}",
            payload.len()
        );
        self.shared.lock().add_version(secret, payload.to_vec(), false)
    }

    /// The payload of a version (`None`: the latest one), if the secret and version exist and the version is
    /// enabled.
    pub fn access(&self, secret: &str, version: Option<u64>) -> Option<Vec<u8>> {
        let inner = self.shared.lock();
        let versions = &inner.secrets.get(secret)?.versions;
        let found = match version {
            None => versions.last(),
            Some(number) => versions.iter().find(|v| v.number == number),
        }?;
        (found.state == VersionState::Enabled).then(|| found.payload.clone()).flatten()
    }

    /// The versions of `secret` with their states, oldest first (empty when the secret does not exist).
    pub fn versions(&self, secret: &str) -> Vec<(u64, VersionState)> {
        let inner = self.shared.lock();
        inner.secrets.get(secret).map(|s| s.versions.iter().map(|v| (v.number, v.state)).collect()).unwrap_or_default()
    }

    /// Sets a version's state (as `gcloud secrets versions disable|enable|destroy` would, without the service's
    /// rule that a destroyed version stays destroyed); destroying clears the payload.
    ///
    /// # Panics
    ///
    /// When the version does not exist.
    pub fn set_version_state(&self, secret: &str, version: u64, state: VersionState) {
        if let Err(problem) = self.shared.lock().set_state(secret, version, state) {
            panic!("{problem}");
        }
    }

    /// The secret ids (short names), sorted.
    pub fn names(&self) -> Vec<String> {
        self.shared.lock().secrets.keys().cloned().collect()
    }

    /// The labels of `secret` (empty when it has none or does not exist).
    pub fn labels(&self, secret: &str) -> BTreeMap<String, String> {
        self.shared.lock().secrets.get(secret).map(|s| s.labels.clone()).unwrap_or_default()
    }

    /// The next `times` authenticated API requests answer 429 `RESOURCE_EXHAUSTED` with a `google.rpc.RetryInfo` of
    /// `retry_delay` (`u64::MAX`: until [`clear_faults`](Self::clear_faults)).
    pub fn throttle(&self, times: u64, retry_delay: Duration) {
        let mut inner = self.shared.lock();
        inner.faults.throttle_left = times;
        inner.faults.retry_delay = retry_delay;
    }

    /// While on, authenticated API requests answer 403 `PERMISSION_DENIED`.
    pub fn deny_access(&self, deny: bool) {
        self.shared.lock().faults.deny = deny;
    }

    /// The next `times` authenticated API requests answer `status` (503 `UNAVAILABLE`, 500 `INTERNAL`, …) with
    /// Google's error JSON.
    pub fn fail_next(&self, times: u64, status: u16) {
        let mut inner = self.shared.lock();
        inner.faults.fail_left = times;
        inner.faults.fail_status = status;
    }

    /// While non-zero, every API request (not the token endpoint) waits this long before it is answered.
    pub fn stall(&self, delay: Duration) {
        self.shared.lock().faults.stall = delay;
    }

    /// Ends every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults = Faults::default();
    }

    /// Forgets every issued access token: the next API request with one answers 401 `UNAUTHENTICATED`.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// What the double counted so far.
    pub fn counters(&self) -> GcpCounters {
        self.shared.lock().counters
    }
}

impl std::fmt::Debug for GcpSecretManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcpSecretManager")
            .field("url", &self.url())
            .field("project_id", &self.project_id())
            .field("client_email", &self.client_email())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Drop for GcpSecretManager {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A key file as Google issues it (pretty-printed, its fields in Google's order).
fn key_file_json(shared: &Shared, account: &Account, key: &ServiceKey) -> String {
    let encoded_email = account.email.replace('@', "%40");
    let file = json!({
        "type": "service_account",
        "project_id": GCP_PROJECT_ID,
        "private_key_id": key.id,
        "private_key": key.private_pem,
        "client_email": account.email,
        "client_id": account.client_id,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": shared.token_uri(),
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": format!("https://www.googleapis.com/robot/v1/metadata/x509/{encoded_email}"),
        "universe_domain": "googleapis.com",
    });
    let mut text = serde_json::to_string_pretty(&file).expect("JSON");
    text.push('\n');
    text
}

/// Writes `text` to a new file only its owner may read (0600 from the start, never wider).
fn write_private(path: &Path, text: &str) {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    file.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn sql_quote(text: &str) -> String {
    text.replace('\'', "''")
}

fn new_access_token() -> String {
    let random = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    format!("ya29.c.{random}")
}

fn now_micros() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i128).unwrap_or_default()
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// Now in RFC 3339, UTC, with microseconds, as the service writes times (`2026-12-06T23:30:00.123456Z`).
fn rfc3339_now() -> String {
    format!("{:.6}", jiff::Timestamp::now())
}

/// The CRC-32C (Castagnoli) of `data`, as Secret Manager checks it.
pub fn crc32c(data: &[u8]) -> u32 {
    const CASTAGNOLI: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    CASTAGNOLI.checksum(data)
}

/// A protobuf `Duration` in JSON: `2s`, `1.500s`.
fn proto_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}.{:03}s", duration.as_secs(), duration.subsec_millis())
    } else {
        format!("{}.{:09}s", duration.as_secs(), duration.subsec_nanos())
    }
}

fn valid_secret_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Google's label rules: at most 64 labels; keys 1 to 63 characters starting with a lowercase letter; keys and
/// values of lowercase letters, digits, `_` and `-` (international lowercase letters too), values at most 63.
fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    if labels.len() > 64 {
        return Err(format!("A secret may have at most 64 labels, not {}.", labels.len()));
    }
    let allowed = |c: char| c.is_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    for (key, value) in labels {
        let starts_lowercase = key.chars().next().is_some_and(char::is_lowercase);
        if !starts_lowercase || key.chars().count() > 63 || !key.chars().all(allowed) {
            return Err(format!(
                "Label key [{key}] is invalid: keys must start with a lowercase letter and contain at most 63 \
                 lowercase letters, digits, underscores and dashes."
            ));
        }
        if value.chars().count() > 63 || !value.chars().all(allowed) {
            return Err(format!(
                "Label value [{value}] of key [{key}] is invalid: values contain at most 63 lowercase letters, \
                 digits, underscores and dashes."
            ));
        }
    }
    Ok(())
}

/// Google's canonical code name of an HTTP status.
fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// Google's error JSON: `{"error":{"code","message","status"[,"details"]}}`.
fn google_error(status: StatusCode, code: &str, message: &str, details: Option<Value>) -> Response {
    let mut error = json!({ "code": status.as_u16(), "message": message, "status": code });
    if let Some(details) = details {
        error["details"] = details;
    }
    json_ok(status, &json!({ "error": error }))
}

fn json_ok(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], body.to_string()).into_response()
}

/// A refused API request without `details`: Google's error JSON once it becomes a response.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        google_error(self.status, self.code, &self.message, None)
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
}

fn error_info(reason: &str, method: Option<&str>) -> Value {
    let mut metadata = json!({ "service": "secretmanager.googleapis.com" });
    if let Some(method) = method {
        metadata["method"] = json!(format!("google.cloud.secretmanager.v1.SecretManagerService.{method}"));
    }
    json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": metadata,
    })
}

/// The one handler: routes on method and path by hand, like the service's front door.
async fn handle_request(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if path == "/token" {
        if method != Method::POST {
            return google_error(StatusCode::METHOD_NOT_ALLOWED, "INVALID_ARGUMENT", "Method not allowed.", None);
        }
        return token(&shared, &body);
    }
    let query: HashMap<String, String> =
        uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let Some(route) = Route::parse(&method, &segments) else {
        return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("The URL {path} was not found."), None);
    };
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
    api(&shared, &route, &query, &headers, &body)
}

/// An API operation, from its method and path.
#[derive(Debug)]
struct Route {
    op: Op,
    /// The project as the request named it (an id or a number).
    project: String,
    secret: Option<String>,
    version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    ListSecrets,
    CreateSecret,
    GetSecret,
    UpdateSecret,
    DeleteSecret,
    AddVersion,
    ListVersions,
    GetVersion,
    Access,
    Enable,
    Disable,
    Destroy,
}

impl Op {
    /// The IAM permission Google checks, and the RPC's name.
    fn permission_and_rpc(self) -> (&'static str, &'static str) {
        match self {
            Op::ListSecrets => ("secretmanager.secrets.list", "ListSecrets"),
            Op::CreateSecret => ("secretmanager.secrets.create", "CreateSecret"),
            Op::GetSecret => ("secretmanager.secrets.get", "GetSecret"),
            Op::UpdateSecret => ("secretmanager.secrets.update", "UpdateSecret"),
            Op::DeleteSecret => ("secretmanager.secrets.delete", "DeleteSecret"),
            Op::AddVersion => ("secretmanager.versions.add", "AddSecretVersion"),
            Op::ListVersions => ("secretmanager.versions.list", "ListSecretVersions"),
            Op::GetVersion => ("secretmanager.versions.get", "GetSecretVersion"),
            Op::Access => ("secretmanager.versions.access", "AccessSecretVersion"),
            Op::Enable => ("secretmanager.versions.enable", "EnableSecretVersion"),
            Op::Disable => ("secretmanager.versions.disable", "DisableSecretVersion"),
            Op::Destroy => ("secretmanager.versions.destroy", "DestroySecretVersion"),
        }
    }
}

impl Route {
    fn parse(method: &Method, segments: &[String]) -> Option<Self> {
        let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (op, project, secret, version) = match (method, parts.as_slice()) {
            (&Method::GET, ["v1", "projects", p, "secrets"]) => (Op::ListSecrets, p, None, None),
            (&Method::POST, ["v1", "projects", p, "secrets"]) => (Op::CreateSecret, p, None, None),
            (_, ["v1", "projects", p, "secrets", last]) => {
                let (secret, verb) = split_verb(last);
                let op = match (method, verb) {
                    (&Method::GET, None) => Op::GetSecret,
                    (&Method::PATCH, None) => Op::UpdateSecret,
                    (&Method::DELETE, None) => Op::DeleteSecret,
                    (&Method::POST, Some("addVersion")) => Op::AddVersion,
                    _ => return None,
                };
                (op, p, Some(secret), None)
            }
            (&Method::GET, ["v1", "projects", p, "secrets", s, "versions"]) => (Op::ListVersions, p, Some(*s), None),
            (_, ["v1", "projects", p, "secrets", s, "versions", last]) => {
                let (version, verb) = split_verb(last);
                let op = match (method, verb) {
                    (&Method::GET, None) => Op::GetVersion,
                    (&Method::GET, Some("access")) => Op::Access,
                    (&Method::POST, Some("enable")) => Op::Enable,
                    (&Method::POST, Some("disable")) => Op::Disable,
                    (&Method::POST, Some("destroy")) => Op::Destroy,
                    _ => return None,
                };
                (op, p, Some(*s), Some(version))
            }
            _ => return None,
        };
        Some(Self {
            op,
            project: (*project).to_owned(),
            secret: secret.map(str::to_owned),
            version: version.map(str::to_owned),
        })
    }

    /// The resource the request names, as it names it (for permission messages).
    fn requested_resource(&self) -> String {
        let mut name = format!("projects/{}", self.project);
        if let Some(secret) = &self.secret {
            name.push_str(&format!("/secrets/{secret}"));
        }
        if let Some(version) = &self.version {
            name.push_str(&format!("/versions/{version}"));
        }
        name
    }
}

/// `name:verb` → (`name`, `verb`).
fn split_verb(segment: &str) -> (&str, Option<&str>) {
    match segment.split_once(':') {
        Some((name, verb)) => (name, Some(verb)),
        None => (segment, None),
    }
}

/// `POST /token`: the JWT-bearer grant of a service account.
fn token(shared: &Shared, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let outcome = exchange(shared, &form);
    let mut inner = shared.lock();
    inner.counters.token_requests += 1;
    match outcome {
        Ok(issued) => {
            let access_token = new_access_token();
            inner.tokens.insert(access_token.clone(), issued);
            json_ok(
                StatusCode::OK,
                &json!({
                    "access_token": access_token,
                    "expires_in": TOKEN_LIFETIME.as_secs(),
                    "token_type": "Bearer",
                }),
            )
        }
        Err((status, error, description)) => {
            inner.counters.token_failures += 1;
            json_ok(status, &json!({ "error": error, "error_description": description }))
        }
    }
}

type OAuthError = (StatusCode, &'static str, String);

/// Checks a JWT-bearer grant; the token to issue.
fn exchange(shared: &Shared, form: &HashMap<String, String>) -> Result<IssuedToken, OAuthError> {
    let bad = |error: &'static str, description: &str| (StatusCode::BAD_REQUEST, error, description.to_owned());
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or_default();
    if grant_type != JWT_BEARER {
        return Err(bad("unsupported_grant_type", &format!("Invalid grant_type: {grant_type}")));
    }
    let Some(assertion) = form.get("assertion") else {
        return Err(bad("invalid_request", "Missing required parameter: assertion"));
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header_part, claims_part, signature_part] = parts.as_slice() else {
        return Err(bad("invalid_request", "Invalid JWT: the assertion is not three base64url parts."));
    };
    let decode_json = |part: &str| -> Option<Value> { serde_json::from_slice(&base64url(part)?).ok() };
    let (Some(jwt_header), Some(claims), Some(signature)) =
        (decode_json(header_part), decode_json(claims_part), base64url(signature_part))
    else {
        return Err(bad("invalid_request", "Invalid JWT: the assertion is not three base64url parts."));
    };
    if jwt_header["alg"] != "RS256" {
        return Err(bad("invalid_grant", "Invalid JWT Signature."));
    }
    let iss = claims["iss"].as_str().unwrap_or_default();
    let Some(account) = shared.accounts.iter().find(|a| a.email == iss) else {
        return Err(bad("invalid_grant", "Invalid grant: account not found"));
    };
    let key = if account.authorized { account.key } else { OTHER_KEY.get().unwrap_or(&NO_KEY) };
    let signed = &assertion[..header_part.len() + 1 + claims_part.len()];
    let verifier =
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &key.public_der);
    if verifier.verify(signed.as_bytes(), &signature).is_err() {
        return Err(bad("invalid_grant", "Invalid JWT Signature."));
    }
    if claims["aud"].as_str() != Some(shared.token_uri().as_str()) {
        return Err(bad(
            "invalid_grant",
            &format!("Invalid JWT: Failed audience check. The right audience is {}", shared.token_uri()),
        ));
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(bad("invalid_grant", "Invalid JWT: iat and exp must be present and be numbers."));
    };
    let now = now_secs();
    if exp <= iat || exp - iat > 3600 || iat > now + CLOCK_SKEW_SECS || exp < now - CLOCK_SKEW_SECS {
        return Err(bad(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your \
             iat and exp values in the JWT claim.",
        ));
    }
    if claims["sub"].as_str().is_some_and(|sub| !sub.is_empty()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any \
             of the scopes requested."
                .to_owned(),
        ));
    }
    let scopes: Vec<String> =
        claims["scope"].as_str().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() {
        return Err(bad("invalid_scope", "Invalid OAuth scope or ID token audience provided."));
    }
    Ok(IssuedToken { expires: Instant::now() + TOKEN_LIFETIME, email: account.email.clone(), scopes })
}

/// base64url, padded (as `gcp_auth` writes it) or not (as the JWT spec says).
fn base64url(part: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const URL_SAFE_ANY: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    URL_SAFE_ANY.decode(part).ok()
}

/// Protobuf JSON `bytes`: standard or URL-safe base64, padded or not.
fn proto_bytes(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const STANDARD_ANY: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    STANDARD_ANY.decode(text).ok().or_else(|| base64url(text))
}

/// The 401 for a request without a usable token.
fn unauthenticated(shared: &Shared, missing: bool, rpc: &str) -> Response {
    shared.lock().counters.unauthenticated += 1;
    let (message, reason, challenge) = if missing {
        (
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or \
             other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "CREDENTIALS_MISSING",
            r#"Bearer realm="https://accounts.google.com/""#,
        )
    } else {
        (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other \
             valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#,
        )
    };
    let mut response = google_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        message,
        Some(json!([error_info(reason, Some(rpc))])),
    );
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

fn permission_denied(inner: &mut Inner, route: &Route) -> Response {
    inner.counters.denied += 1;
    let (permission, _) = route.op.permission_and_rpc();
    let resource = route.requested_resource();
    google_error(
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        &format!("Permission '{permission}' denied for resource '{resource}' (or it may not exist)."),
        Some(json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "IAM_PERMISSION_DENIED",
            "domain": "secretmanager.googleapis.com",
            "metadata": { "permission": permission, "resource": resource },
        }])),
    )
}

/// An API request: authentication, faults, the project, then the operation.
fn api(shared: &Shared, route: &Route, query: &HashMap<String, String>, headers: &HeaderMap, body: &[u8]) -> Response {
    let (_, rpc) = route.op.permission_and_rpc();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let Some(bearer) = authorization.and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    else {
        return unauthenticated(shared, true, rpc);
    };
    let mut inner = shared.lock();
    let Some(issued) = inner.tokens.get(bearer.trim()).filter(|t| t.expires > Instant::now()) else {
        drop(inner);
        return unauthenticated(shared, false, rpc);
    };
    let scoped = issued.scopes.iter().any(|s| s == CLOUD_PLATFORM_SCOPE);
    let authorized = shared.accounts.iter().any(|a| a.email == issued.email && a.authorized);
    if inner.faults.fail_left > 0 {
        inner.faults.fail_left -= 1;
        inner.counters.failed += 1;
        let status = StatusCode::from_u16(inner.faults.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match status.as_u16() {
            503 => "The service is currently unavailable.",
            504 => "Deadline expired before operation could complete.",
            _ => "Internal error encountered.",
        };
        return google_error(status, status_name(status), message, None);
    }
    if inner.faults.throttle_left > 0 {
        if inner.faults.throttle_left != u64::MAX {
            inner.faults.throttle_left -= 1;
        }
        inner.counters.throttled += 1;
        let delay = proto_duration(inner.faults.retry_delay);
        let mut info = error_info("RATE_LIMIT_EXCEEDED", Some(rpc));
        info["metadata"]["quota_metric"] = json!("secretmanager.googleapis.com/access_requests");
        info["metadata"]["quota_limit"] = json!("AccessRequestsPerMinutePerProject");
        info["metadata"]["consumer"] = json!(format!("projects/{GCP_PROJECT_NUMBER}"));
        return google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            &format!(
                "Quota exceeded for quota metric 'Access requests' and limit 'Access requests per minute per project' \
                 of service 'secretmanager.googleapis.com' for consumer 'project_number:{GCP_PROJECT_NUMBER}'."
            ),
            Some(json!([
                info,
                { "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay },
            ])),
        );
    }
    if !scoped {
        inner.counters.denied += 1;
        return google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
            Some(json!([error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", Some(rpc))])),
        );
    }
    let known_project = route.project == GCP_PROJECT_ID || route.project == GCP_PROJECT_NUMBER;
    if inner.faults.deny || !authorized || !known_project {
        return permission_denied(&mut inner, route);
    }
    operation(&mut inner, route, query, body).unwrap_or_else(IntoResponse::into_response)
}

/// `projects/<number>/secrets/<id>`.
fn secret_name(id: &str) -> String {
    format!("projects/{GCP_PROJECT_NUMBER}/secrets/{id}")
}

fn version_name(id: &str, number: u64) -> String {
    format!("{}/versions/{number}", secret_name(id))
}

fn secret_json(id: &str, secret: &Secret) -> Value {
    let mut answer = json!({
        "name": secret_name(id),
        "replication": secret.replication,
        "createTime": secret.create_time,
    });
    if !secret.labels.is_empty() {
        answer["labels"] = json!(secret.labels);
    }
    answer["etag"] = json!(secret.etag);
    if !secret.annotations.is_empty() {
        answer["annotations"] = json!(secret.annotations);
    }
    answer
}

fn version_json(id: &str, secret: &Secret, version: &Version) -> Value {
    let mut answer = json!({
        "name": version_name(id, version.number),
        "createTime": version.create_time,
    });
    if let Some(destroyed) = &version.destroy_time {
        answer["destroyTime"] = json!(destroyed);
    }
    answer["state"] = json!(version.state.as_str());
    answer["replicationStatus"] = replication_status(&secret.replication);
    answer["etag"] = json!(version.etag);
    if version.client_checksum {
        answer["clientSpecifiedPayloadChecksum"] = json!(true);
    }
    answer
}

/// A version's `replicationStatus` from its secret's `replication`.
fn replication_status(replication: &Value) -> Value {
    match replication.get("userManaged") {
        Some(managed) => {
            let replicas: Vec<Value> = managed["replicas"]
                .as_array()
                .map(|replicas| replicas.iter().map(|r| json!({ "location": r["location"] })).collect())
                .unwrap_or_default();
            json!({ "userManaged": { "replicas": replicas } })
        }
        None => json!({ "automatic": {} }),
    }
}

fn secret_not_found(id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("Secret [{}] not found.", secret_name(id)))
}

/// Which version a path names.
enum Which {
    Latest,
    Number(u64),
}

fn parse_version(text: &str) -> Option<Which> {
    match text {
        "latest" => Some(Which::Latest),
        _ => text.parse::<u64>().ok().filter(|n| *n > 0).map(Which::Number),
    }
}

/// The version a path names, or the answer that it does not exist.
fn find_version<'a>(inner: &'a Inner, id: &str, which: &str) -> Result<(&'a Secret, &'a Version), ApiError> {
    let Some(parsed) = parse_version(which) else {
        return Err(invalid(&format!(
            "Invalid secret version id [{which}]: it must be a positive version number or 'latest'."
        )));
    };
    let Some(secret) = inner.secrets.get(id) else {
        return Err(match parsed {
            Which::Latest => ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("Secret [{}] not found or has no versions.", secret_name(id)),
            ),
            Which::Number(n) => ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("Secret Version [{}] not found.", version_name(id, n)),
            ),
        });
    };
    let found = match parsed {
        Which::Latest => secret.versions.last().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("Secret [{}] not found or has no versions.", secret_name(id)),
            )
        })?,
        Which::Number(n) => secret.versions.iter().find(|v| v.number == n).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("Secret Version [{}] not found.", version_name(id, n)),
            )
        })?,
    };
    Ok((secret, found))
}

fn etag_mismatch() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "ABORTED",
        "The etag provided in the request does not match the current etag of the resource.",
    )
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(invalid("Invalid JSON payload received. The request body must be a JSON object.")),
    }
}

/// A string map field (`labels`, `annotations`) of a request body.
fn string_map(body: &Value, field: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(v) => Ok((k.clone(), v.to_owned())),
                None => Err(invalid(&format!("Invalid value at 'secret.{field}[{k}]': expected a string."))),
            })
            .collect(),
        Some(_) => Err(invalid(&format!("Invalid value at 'secret.{field}': expected an object."))),
    }
}

fn operation(
    inner: &mut Inner,
    route: &Route,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<Response, ApiError> {
    if let Some(id) = &route.secret
        && !valid_secret_id(id)
    {
        return Err(invalid(&format!(
            "Invalid secret id [{id}]: it must be 1 to 255 characters of letters, digits, underscores and hyphens."
        )));
    }
    let id = route.secret.as_deref().unwrap_or_default();
    let which = route.version.as_deref().unwrap_or_default();
    match route.op {
        Op::ListSecrets => {
            inner.counters.lists += 1;
            let filter = Filter::parse(query.get("filter").map(String::as_str).unwrap_or_default(), false)?;
            let items: Vec<(u64, Value)> = inner
                .secrets
                .iter()
                .filter(|(id, secret)| filter.matches_secret(id, secret))
                .map(|(id, secret)| (secret.sequence, secret_json(id, secret)))
                .collect();
            page(query, items, "secrets")
        }
        Op::CreateSecret => {
            inner.counters.others += 1;
            let Some(new_id) = query.get("secretId").filter(|s| !s.is_empty()) else {
                return Err(invalid("The request must specify a secret_id."));
            };
            if !valid_secret_id(new_id) {
                return Err(invalid(&format!(
                    "Invalid secret id [{new_id}]: it must be 1 to 255 characters of letters, digits, underscores and \
                     hyphens."
                )));
            }
            let body = parse_body(body)?;
            let replication = check_replication(&body["replication"])?;
            let (labels, annotations) = (string_map(&body, "labels")?, string_map(&body, "annotations")?);
            check_labels(&labels).map_err(|problem| invalid(&problem))?;
            if inner.secrets.contains_key(new_id.as_str()) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "ALREADY_EXISTS",
                    format!("Secret [{}] already exists.", secret_name(new_id)),
                ));
            }
            inner.create_secret(new_id, replication, labels, annotations);
            Ok(json_ok(StatusCode::OK, &secret_json(new_id, &inner.secrets[new_id.as_str()])))
        }
        Op::GetSecret => {
            inner.counters.others += 1;
            let secret = inner.secrets.get(id).ok_or_else(|| secret_not_found(id))?;
            Ok(json_ok(StatusCode::OK, &secret_json(id, secret)))
        }
        Op::UpdateSecret => {
            inner.counters.others += 1;
            let body = parse_body(body)?;
            let mask = query.get("updateMask").map(String::as_str).unwrap_or_default();
            if mask.is_empty() {
                return Err(invalid("The request must specify an update_mask."));
            }
            let (labels, annotations) = (string_map(&body, "labels")?, string_map(&body, "annotations")?);
            let fields: Vec<&str> = mask.split(',').map(str::trim).collect();
            if let Some(unsupported) = fields.iter().find(|f| !matches!(**f, "labels" | "annotations")) {
                return Err(invalid(&format!(
                    "The update_mask field [{unsupported}] cannot be updated by this double."
                )));
            }
            if fields.contains(&"labels") {
                check_labels(&labels).map_err(|problem| invalid(&problem))?;
            }
            if !inner.secrets.contains_key(id) {
                return Err(secret_not_found(id));
            }
            let etag = inner.etag();
            let secret = inner.secrets.get_mut(id).expect("checked");
            if fields.contains(&"labels") {
                secret.labels = labels;
            }
            if fields.contains(&"annotations") {
                secret.annotations = annotations;
            }
            secret.etag = etag;
            Ok(json_ok(StatusCode::OK, &secret_json(id, secret)))
        }
        Op::DeleteSecret => {
            inner.counters.others += 1;
            let secret = inner.secrets.get(id).ok_or_else(|| secret_not_found(id))?;
            if query.get("etag").is_some_and(|etag| *etag != secret.etag) {
                return Err(etag_mismatch());
            }
            inner.secrets.remove(id);
            Ok(json_ok(StatusCode::OK, &json!({})))
        }
        Op::AddVersion => {
            inner.counters.adds += 1;
            let body = parse_body(body)?;
            let payload = check_payload(&body["payload"])?;
            if !inner.secrets.contains_key(id) {
                return Err(secret_not_found(id));
            }
            let client_checksum = body["payload"].get("dataCrc32c").is_some_and(|c| !c.is_null());
            inner.add_version(id, payload, client_checksum);
            let secret = &inner.secrets[id];
            let version = secret.versions.last().expect("just added");
            Ok(json_ok(StatusCode::OK, &version_json(id, secret, version)))
        }
        Op::ListVersions => {
            inner.counters.lists += 1;
            let filter = Filter::parse(query.get("filter").map(String::as_str).unwrap_or_default(), true)?;
            let secret = inner.secrets.get(id).ok_or_else(|| secret_not_found(id))?;
            let items: Vec<(u64, Value)> = secret
                .versions
                .iter()
                .filter(|v| filter.matches_version(v))
                .map(|v| (v.number, version_json(id, secret, v)))
                .collect();
            page(query, items, "versions")
        }
        Op::GetVersion => {
            inner.counters.others += 1;
            let (secret, version) = find_version(inner, id, which)?;
            Ok(json_ok(StatusCode::OK, &version_json(id, secret, version)))
        }
        Op::Access => {
            inner.counters.accesses += 1;
            let (_, version) = find_version(inner, id, which)?;
            let Some(payload) = version.payload.as_ref().filter(|_| version.state == VersionState::Enabled) else {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "FAILED_PRECONDITION",
                    format!("Secret Version [{}] is in {} state.", version_name(id, version.number), version.state),
                ));
            };
            Ok(json_ok(
                StatusCode::OK,
                &json!({
                    "name": version_name(id, version.number),
                    "payload": {
                        "data": base64::engine::general_purpose::STANDARD.encode(payload),
                        "dataCrc32c": crc32c(payload).to_string(),
                    },
                }),
            ))
        }
        Op::Enable | Op::Disable | Op::Destroy => {
            inner.counters.others += 1;
            let body = parse_body(body)?;
            let (_, version) = find_version(inner, id, which)?;
            let (number, state) = (version.number, version.state);
            if body["etag"].as_str().is_some_and(|etag| !etag.is_empty() && etag != version.etag) {
                return Err(etag_mismatch());
            }
            if state == VersionState::Destroyed {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "FAILED_PRECONDITION",
                    format!("Secret Version [{}] is in DESTROYED state.", version_name(id, number)),
                ));
            }
            let target = match route.op {
                Op::Enable => VersionState::Enabled,
                Op::Disable => VersionState::Disabled,
                _ => VersionState::Destroyed,
            };
            inner.set_state(id, number, target).expect("the version exists");
            let (secret, version) = find_version(inner, id, &number.to_string())?;
            Ok(json_ok(StatusCode::OK, &version_json(id, secret, version)))
        }
    }
}

/// `replication` of a new secret: `{"automatic":{}}` or `{"userManaged":{"replicas":[{"location":"…"}, …]}}`.
fn check_replication(replication: &Value) -> Result<Value, ApiError> {
    if let Some(automatic) = replication.get("automatic") {
        if !automatic.is_object() {
            return Err(invalid("Invalid value at 'secret.replication.automatic': expected an object."));
        }
        return Ok(json!({ "automatic": automatic }));
    }
    if let Some(managed) = replication.get("userManaged") {
        let replicas = managed["replicas"].as_array().filter(|r| !r.is_empty());
        let Some(replicas) = replicas else {
            return Err(invalid("Secret.replication.user_managed.replicas must not be empty."));
        };
        if replicas.iter().any(|r| r["location"].as_str().is_none_or(str::is_empty)) {
            return Err(invalid("Each replica of Secret.replication.user_managed must specify a location."));
        }
        return Ok(json!({ "userManaged": managed }));
    }
    Err(invalid("Secret.replication must be specified."))
}

/// `payload` of `:addVersion`: base64 `data` (1 byte to 64 KiB) and an optional `dataCrc32c` that must match.
fn check_payload(payload: &Value) -> Result<Vec<u8>, ApiError> {
    let data = match payload.get("data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => proto_bytes(text)
            .ok_or_else(|| invalid("Invalid value at 'payload.data' (TYPE_BYTES), Base64 decoding failed."))?,
        Some(_) => return Err(invalid("Invalid value at 'payload.data' (TYPE_BYTES): expected a base64 string.")),
    };
    if data.is_empty() {
        return Err(invalid("Secret Payload cannot be empty."));
    }
    if data.len() > MAX_PAYLOAD_BYTES {
        return Err(invalid(&format!(
            "Secret Payload cannot be larger than 64KiB: it holds {} bytes, the limit is {MAX_PAYLOAD_BYTES}.",
            data.len()
        )));
    }
    let given = match payload.get("dataCrc32c") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.parse::<i64>().map_err(|_| {
            invalid("Invalid value at 'payload.data_crc32c' (TYPE_INT64): expected a decimal integer.")
        })?),
        Some(Value::Number(number)) => Some(number.as_i64().ok_or_else(|| {
            invalid("Invalid value at 'payload.data_crc32c' (TYPE_INT64): expected a decimal integer.")
        })?),
        Some(_) => {
            return Err(invalid("Invalid value at 'payload.data_crc32c' (TYPE_INT64): expected a decimal integer."));
        }
    };
    if given.is_some_and(|given| given != i64::from(crc32c(&data))) {
        return Err(invalid(
            "Checksum mismatch: payload.data_crc32c does not match the CRC32C of the payload data received. The data \
             may have been corrupted in transit.",
        ));
    }
    Ok(data)
}

/// One page of a list, newest first: `items` are (cursor, JSON), a larger cursor being newer; the page token is the
/// last cursor shown, base64url-encoded.
fn page(query: &HashMap<String, String>, mut items: Vec<(u64, Value)>, field: &str) -> Result<Response, ApiError> {
    items.sort_by_key(|(cursor, _)| std::cmp::Reverse(*cursor));
    let size = match query.get("pageSize").map(|s| s.parse::<i64>()) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(0)) => DEFAULT_PAGE_SIZE,
        Some(Ok(n)) if n > 0 => usize::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE),
        Some(_) => return Err(invalid("page_size must be a non-negative integer.")),
    };
    let after = match query.get("pageToken").filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => {
            let cursor = base64url(token)
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.strip_prefix("after:").and_then(|n| n.parse::<u64>().ok()));
            match cursor {
                Some(cursor) => Some(cursor),
                None => return Err(invalid("Invalid page token.")),
            }
        }
    };
    let total = items.len();
    let rest: Vec<&(u64, Value)> = items.iter().filter(|(cursor, _)| after.is_none_or(|a| *cursor < a)).collect();
    let shown: Vec<Value> = rest.iter().take(size).map(|(_, item)| item.clone()).collect();
    let mut answer = json!({});
    if !shown.is_empty() {
        answer[field] = json!(shown);
    }
    if rest.len() > size {
        let last = rest[size - 1].0;
        answer["nextPageToken"] =
            json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{last}")));
    }
    answer["totalSize"] = json!(total);
    Ok(json_ok(StatusCode::OK, &answer))
}

/// A list filter: terms that must all hold (see the module docs).
#[derive(Debug, Default)]
struct Filter {
    terms: Vec<Term>,
}

#[derive(Debug)]
struct Term {
    negated: bool,
    field: String,
    /// `:` (contains / has) or `=` (equals).
    equals: bool,
    value: String,
}

impl Filter {
    fn parse(text: &str, versions: bool) -> Result<Self, ApiError> {
        Self::parse_terms(text, versions).map_err(|problem| invalid(&problem))
    }

    fn parse_terms(text: &str, versions: bool) -> Result<Self, String> {
        let mut words = Vec::new();
        let mut current = String::new();
        let mut quoted = false;
        for c in text.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    current.push(c);
                }
                c if c.is_whitespace() && !quoted => {
                    if !current.is_empty() {
                        words.push(std::mem::take(&mut current));
                    }
                }
                c => current.push(c),
            }
        }
        if quoted {
            return Err(format!("Invalid filter [{text}]: unbalanced quotes."));
        }
        if !current.is_empty() {
            words.push(current);
        }
        let mut terms = Vec::new();
        let mut negate_next = false;
        for word in words {
            match word.as_str() {
                "AND" => continue,
                "NOT" => {
                    negate_next = true;
                    continue;
                }
                "OR" => return Err(format!("Invalid filter [{text}]: OR is not supported by this double.")),
                _ => {}
            }
            let (negated, rest) = match word.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (negate_next, word.as_str()),
            };
            negate_next = false;
            let at =
                rest.find([':', '=']).ok_or_else(|| format!("Invalid filter [{text}]: [{word}] has no operator."))?;
            let (field, value) = (&rest[..at], &rest[at + 1..]);
            let equals = rest[at..].starts_with('=');
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            let known = if versions {
                matches!(field, "state" | "name")
            } else {
                field == "name" || field.strip_prefix("labels.").is_some_and(|k| !k.is_empty())
            };
            if !known || field.is_empty() {
                return Err(format!("Invalid filter [{text}]: unsupported field [{field}]."));
            }
            if field == "state" && value.parse::<VersionState>().is_err() {
                return Err(format!("Invalid filter [{text}]: unknown state [{value}]."));
            }
            terms.push(Term { negated, field: field.to_owned(), equals, value: value.to_owned() });
        }
        Ok(Self { terms })
    }

    fn matches_secret(&self, id: &str, secret: &Secret) -> bool {
        self.terms.iter().all(|term| {
            let actual = match term.field.strip_prefix("labels.") {
                Some(key) => secret.labels.get(key).map(String::as_str),
                None => Some(id),
            };
            term.holds(actual)
        })
    }

    fn matches_version(&self, version: &Version) -> bool {
        self.terms.iter().all(|term| {
            if term.field == "state" {
                let wanted = term.value.parse::<VersionState>().ok();
                return (Some(version.state) == wanted) != term.negated;
            }
            term.holds(Some(&version.number.to_string()))
        })
    }
}

impl Term {
    fn holds(&self, actual: Option<&str>) -> bool {
        let hit = match actual {
            None => false,
            Some(_) if !self.equals && self.value == "*" => true,
            Some(actual) if self.equals => actual == self.value,
            Some(actual) => actual.contains(self.value.as_str()),
        };
        hit != self.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// Signs `claims` with the PKCS#8 PEM `key` (ring, RS256), the header and encoding as `gcp_auth` 0.12.6 writes
    /// them: `{"alg":"RS256","typ":"JWT"}`, base64url with padding (or without, `padded = false`).
    fn jwt(key_pem: &str, claims: &Value, padded: bool) -> String {
        let body: String = key_pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body).unwrap();
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        let encode = |bytes: &[u8]| if padded { URL_SAFE.encode(bytes) } else { URL_SAFE_NO_PAD.encode(bytes) };
        let mut jwt = encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        jwt.push('.');
        jwt.push_str(&encode(claims.to_string().as_bytes()));
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), jwt.as_bytes(), &mut signature)
            .unwrap();
        jwt.push('.');
        jwt.push_str(&encode(&signature));
        jwt
    }

    /// The claims `gcp_auth` 0.12.6 sends (`sub` null, `exp` 5 s short of an hour).
    fn claims(double: &GcpSecretManager, email: &str) -> Value {
        let iat = now_secs();
        json!({ "iss": email, "aud": double.token_uri(), "exp": iat + 3595, "iat": iat, "sub": null,
                "scope": CLOUD_PLATFORM_SCOPE })
    }

    async fn exchange(double: &GcpSecretManager, grant_type: &str, assertion: &str) -> (u16, Value) {
        let form = [("grant_type", grant_type), ("assertion", assertion)];
        let response = client().post(double.token_uri()).form(&form).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn token_for(double: &GcpSecretManager, key_pem: &str, claims: &Value) -> String {
        let (status, answer) = exchange(double, JWT_BEARER, &jwt(key_pem, claims, true)).await;
        assert_eq!(status, 200, "{answer}");
        answer["access_token"].as_str().unwrap().to_owned()
    }

    struct Answer {
        status: u16,
        headers: reqwest::header::HeaderMap,
        body: Value,
        text: String,
    }

    async fn call(
        double: &GcpSecretManager,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = client().request(method, format!("{}{path}", double.url()));
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        Answer { status, headers, body, text }
    }

    fn add_body(payload: &[u8], crc: Option<String>) -> Value {
        let mut payload_json = json!({ "data": STANDARD.encode(payload) });
        if let Some(crc) = crc {
            payload_json["dataCrc32c"] = json!(crc);
        }
        json!({ "payload": payload_json })
    }

    fn error(answer: &Answer) -> (u16, &str, &str) {
        assert_eq!(answer.body["error"]["code"].as_u64(), Some(u64::from(answer.status)), "{}", answer.text);
        (
            answer.status,
            answer.body["error"]["status"].as_str().unwrap_or_default(),
            answer.body["error"]["message"].as_str().unwrap_or_default(),
        )
    }

    const GET: reqwest::Method = reqwest::Method::GET;
    const POST: reqwest::Method = reqwest::Method::POST;

    #[test]
    fn crc32c_and_durations_are_googles() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283, "the CRC-32C check value");
        assert_eq!(proto_duration(Duration::from_secs(2)), "2s");
        assert_eq!(proto_duration(Duration::from_millis(1500)), "1.500s");
        assert!(rfc3339_now().ends_with('Z') && rfc3339_now().len() == "2026-12-06T23:30:00.123456Z".len());
    }

    #[tokio::test]
    async fn the_key_file_is_googles_and_a_jwt_like_gcp_auths_gets_a_token() {
        let double = GcpSecretManager::start();
        let file: Value = serde_json::from_str(double.service_account_json()).unwrap();
        let keys: Vec<&str> = file.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "type",
                "project_id",
                "private_key_id",
                "private_key",
                "client_email",
                "client_id",
                "auth_uri",
                "token_uri",
                "auth_provider_x509_cert_url",
                "client_x509_cert_url",
                "universe_domain"
            ]
        );
        assert_eq!(file["type"], "service_account");
        assert_eq!(file["token_uri"], double.token_uri());
        assert_eq!(file["client_email"], double.client_email());
        assert_eq!(file["project_id"], double.project_id());
        let pem = file["private_key"].as_str().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n") && pem.ends_with("-----END PRIVATE KEY-----\n"));
        assert_eq!(file["private_key_id"].as_str().unwrap().len(), 40);
        assert_eq!(std::fs::read_to_string(double.key_file()).unwrap(), double.service_account_json());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(double.key_file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let options = double.storage_options_sql();
        assert!(options.starts_with(&format!("project_id = 'lanyard-test', endpoint = '{}', ", double.url())));
        assert!(options.contains("auth_method = 'service_account', service_account_json = '{\"type\":"), "{options}");

        for padded in [true, false] {
            let assertion = jwt(pem, &claims(&double, double.client_email()), padded);
            assert_eq!(assertion.contains('='), padded, "gcp_auth pads: the double must take both");
            let (status, answer) = exchange(&double, JWT_BEARER, &assertion).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["token_type"], "Bearer");
            assert_eq!(answer["expires_in"], 3599);
            assert!(answer["access_token"].as_str().unwrap().starts_with("ya29."), "{answer}");
            let token = answer["access_token"].as_str().unwrap();
            let listed = call(&double, token, GET, "/v1/projects/lanyard-test/secrets", None).await;
            assert_eq!((listed.status, listed.text.as_str()), (200, r#"{"totalSize":0}"#));
        }
        assert_eq!((double.counters().token_requests, double.counters().token_failures), (2, 0));
    }

    #[tokio::test]
    async fn the_token_endpoint_refuses_what_google_refuses() {
        let double = GcpSecretManager::start();
        let pem = double.private_key_pem().to_owned();
        let good = claims(&double, double.client_email());
        let refused = |claims: Value| {
            let (double, pem) = (&double, &pem);
            async move { exchange(double, JWT_BEARER, &jwt(pem, &claims, true)).await }
        };

        // A signature that does not verify: one byte of it changed.
        let assertion = jwt(&pem, &good, false);
        let (head, signature) = assertion.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[10] ^= 1;
        let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes));
        let (status, answer) = exchange(&double, JWT_BEARER, &forged).await;
        assert_eq!(
            (status, &answer),
            (400, &json!({"error":"invalid_grant","error_description":"Invalid JWT Signature."}))
        );
        // Claims changed after signing.
        let (_, tampered_claims) = head.split_once('.').unwrap();
        let mut other = good.clone();
        other["scope"] = json!("https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/drive");
        let swapped = assertion.replace(tampered_claims, &URL_SAFE_NO_PAD.encode(other.to_string()));
        assert_eq!(exchange(&double, JWT_BEARER, &swapped).await.1["error_description"], "Invalid JWT Signature.");

        let mut wrong_aud = good.clone();
        wrong_aud["aud"] = json!("https://oauth2.googleapis.com/token");
        let (status, answer) = refused(wrong_aud).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")));
        assert!(answer["error_description"].as_str().unwrap().starts_with("Invalid JWT: Failed audience check."));

        let now = now_secs();
        for (iat, exp) in [(now - 7200, now - 3600), (now, now + 7200), (now + 600, now + 1200), (now, now)] {
            let mut times = good.clone();
            times["iat"] = json!(iat);
            times["exp"] = json!(exp);
            let (status, answer) = refused(times).await;
            assert_eq!(status, 400, "{answer}");
            assert!(
                answer["error_description"].as_str().unwrap().starts_with("Invalid JWT: Token must be a short-lived")
            );
        }

        let mut stranger = good.clone();
        stranger["iss"] = json!("someone@elsewhere.iam.gserviceaccount.com");
        assert_eq!(refused(stranger).await.1["error_description"], "Invalid grant: account not found");
        let mut no_scope = good.clone();
        no_scope.as_object_mut().unwrap().remove("scope");
        assert_eq!(refused(no_scope).await.1["error"], "invalid_scope");
        let mut delegated = good.clone();
        delegated["sub"] = json!("admin@example.com");
        assert_eq!(refused(delegated).await, (401, refused_json("unauthorized_client")));
        let (status, answer) = exchange(&double, "client_credentials", &jwt(&pem, &good, true)).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("unsupported_grant_type")));
        let (status, answer) = exchange(&double, JWT_BEARER, "not-a-jwt").await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_request")));

        let counters = double.counters();
        assert_eq!((counters.token_requests, counters.token_failures), (12, 12));
        assert!(double.shared.lock().tokens.is_empty(), "no refused request left a token");
    }

    fn refused_json(error: &str) -> Value {
        json!({
            "error": error,
            "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not \
                authorized for any of the scopes requested.",
        })
    }

    #[tokio::test]
    async fn secrets_and_versions_follow_the_rest_api() {
        let double = GcpSecretManager::start();
        let token = double.issue_token();
        let t = token.as_str();
        let base = "/v1/projects/lanyard-test/secrets";

        let created = call(
            &double,
            t,
            POST,
            &format!("{base}?secretId=db-login"),
            Some(json!({ "replication": { "automatic": {} }, "labels": { "owner": "lanyard", "env": "prod" } })),
        )
        .await;
        assert_eq!(created.status, 200, "{}", created.text);
        assert_eq!(created.body["name"], "projects/123456789012/secrets/db-login", "names use the project number");
        assert_eq!(created.body["replication"], json!({ "automatic": {} }));
        assert_eq!(created.body["labels"], json!({ "env": "prod", "owner": "lanyard" }));
        assert!(created.body["etag"].as_str().unwrap().starts_with('"'));
        assert!(created.body["createTime"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok());
        assert_eq!(double.labels("db-login").get("env").map(String::as_str), Some("prod"));

        let again = call(
            &double,
            t,
            POST,
            &format!("{base}?secretId=db-login"),
            Some(json!({ "replication": { "automatic": {} } })),
        )
        .await;
        assert_eq!(
            error(&again),
            (409, "ALREADY_EXISTS", "Secret [projects/123456789012/secrets/db-login] already exists.")
        );
        for (query, body) in [
            ("secretId=bad.id", json!({ "replication": { "automatic": {} } })),
            ("secretId=fine", json!({})),
            ("secretId=fine", json!({ "replication": { "automatic": {} }, "labels": { "Env": "x" } })),
            ("secretId=fine", json!({ "replication": { "userManaged": { "replicas": [] } } })),
            ("", json!({ "replication": { "automatic": {} } })),
        ] {
            let refused = call(&double, t, POST, &format!("{base}?{query}"), Some(body)).await;
            assert_eq!(error(&refused).0, 400, "{}", refused.text);
            assert_eq!(error(&refused).1, "INVALID_ARGUMENT");
        }
        assert_eq!(double.names(), ["db-login"]);

        // addVersion: the checksum, when given, must be the data's CRC-32C; at most 64 KiB; not empty.
        let canary = b"canary-payload-7f3a".to_vec();
        let add = |payload: Vec<u8>, crc: Option<String>| {
            let (double, path) = (&double, format!("{base}/db-login:addVersion"));
            async move { call(double, t, POST, &path, Some(add_body(&payload, crc))).await }
        };
        let first = add(canary.clone(), Some(crc32c(&canary).to_string())).await;
        assert_eq!(first.status, 200, "{}", first.text);
        assert_eq!(first.body["name"], "projects/123456789012/secrets/db-login/versions/1");
        assert_eq!(first.body["state"], "ENABLED");
        assert_eq!(first.body["clientSpecifiedPayloadChecksum"], true);
        assert_eq!(first.body["replicationStatus"], json!({ "automatic": {} }));
        let corrupted = add(canary.clone(), Some((crc32c(&canary) ^ 1).to_string())).await;
        assert_eq!(error(&corrupted).0, 400);
        assert!(error(&corrupted).2.starts_with("Checksum mismatch"), "{}", corrupted.text);
        let largest = add(vec![b'x'; MAX_PAYLOAD_BYTES], None).await;
        assert_eq!(largest.status, 200, "{}", largest.text);
        assert!(largest.body.get("clientSpecifiedPayloadChecksum").is_none());
        let too_large = add(vec![b'x'; MAX_PAYLOAD_BYTES + 1], None).await;
        assert_eq!(error(&too_large).0, 400, "{}", too_large.text);
        assert!(error(&too_large).2.starts_with("Secret Payload cannot be larger than 64KiB"));
        assert_eq!(error(&add(Vec::new(), None).await).1, "INVALID_ARGUMENT");
        let missing = call(&double, t, POST, &format!("{base}/nope:addVersion"), Some(add_body(b"x", None))).await;
        assert_eq!(error(&missing), (404, "NOT_FOUND", "Secret [projects/123456789012/secrets/nope] not found."));
        let third = double.add_version("db-login", b"third");
        assert_eq!(third, 3);

        // access: by number, by `latest` (the answer names the number), by the project's number.
        let by_number = call(&double, t, GET, &format!("{base}/db-login/versions/1:access"), None).await;
        assert_eq!(by_number.status, 200, "{}", by_number.text);
        assert_eq!(STANDARD.decode(by_number.body["payload"]["data"].as_str().unwrap()).unwrap(), canary);
        assert_eq!(by_number.body["payload"]["dataCrc32c"], crc32c(&canary).to_string());
        let latest =
            call(&double, t, GET, "/v1/projects/123456789012/secrets/db-login/versions/latest:access", None).await;
        assert_eq!(latest.body["name"], "projects/123456789012/secrets/db-login/versions/3");
        assert_eq!(latest.body["payload"]["data"], STANDARD.encode("third"));

        // disable, enable, destroy; `latest` is the newest version whatever its state.
        let disabled =
            call(&double, t, POST, &format!("{base}/db-login/versions/latest:disable"), Some(json!({}))).await;
        assert_eq!((disabled.status, disabled.body["state"].as_str()), (200, Some("DISABLED")), "{}", disabled.text);
        let refused = call(&double, t, GET, &format!("{base}/db-login/versions/latest:access"), None).await;
        assert_eq!(
            error(&refused),
            (
                400,
                "FAILED_PRECONDITION",
                "Secret Version [projects/123456789012/secrets/db-login/versions/3] is in DISABLED state."
            )
        );
        assert_eq!(double.access("db-login", None), None);
        let stale =
            call(&double, t, POST, &format!("{base}/db-login/versions/3:enable"), Some(json!({ "etag": "\"1\"" })))
                .await;
        assert_eq!(error(&stale).1, "ABORTED");
        let etag = disabled.body["etag"].clone();
        let enabled =
            call(&double, t, POST, &format!("{base}/db-login/versions/3:enable"), Some(json!({ "etag": etag }))).await;
        assert_eq!(enabled.body["state"], "ENABLED", "{}", enabled.text);
        assert_eq!(double.access("db-login", None).as_deref(), Some(&b"third"[..]));
        let destroyed = call(&double, t, POST, &format!("{base}/db-login/versions/1:destroy"), None).await;
        assert_eq!(destroyed.body["state"], "DESTROYED", "{}", destroyed.text);
        assert!(destroyed.body["destroyTime"].is_string());
        let gone = call(&double, t, GET, &format!("{base}/db-login/versions/1:access"), None).await;
        assert_eq!(
            error(&gone).2,
            "Secret Version [projects/123456789012/secrets/db-login/versions/1] is in DESTROYED state."
        );
        let revive = call(&double, t, POST, &format!("{base}/db-login/versions/1:enable"), None).await;
        assert_eq!(error(&revive).1, "FAILED_PRECONDITION");
        assert_eq!(
            double.versions("db-login"),
            [(1, VersionState::Destroyed), (2, VersionState::Enabled), (3, VersionState::Enabled)]
        );
        let metadata = call(&double, t, GET, &format!("{base}/db-login/versions/1"), None).await;
        assert_eq!((metadata.body["state"].as_str(), metadata.body.get("payload")), (Some("DESTROYED"), None));
        let no_version = call(&double, t, GET, &format!("{base}/db-login/versions/9:access"), None).await;
        assert_eq!(
            error(&no_version),
            (404, "NOT_FOUND", "Secret Version [projects/123456789012/secrets/db-login/versions/9] not found.")
        );
        let no_secret = call(&double, t, GET, &format!("{base}/nope/versions/latest:access"), None).await;
        assert_eq!(error(&no_secret).2, "Secret [projects/123456789012/secrets/nope] not found or has no versions.");

        // Versions list newest first, with a state filter.
        let enabled = call(&double, t, GET, &format!("{base}/db-login/versions?filter=state:ENABLED"), None).await;
        let names: Vec<&str> =
            enabled.body["versions"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["projects/123456789012/secrets/db-login/versions/3", "projects/123456789012/secrets/db-login/versions/2"]
        );
        assert_eq!(enabled.body["totalSize"], 2);
        let not_destroyed =
            call(&double, t, GET, &format!("{base}/db-login/versions?filter=NOT%20state%3Adestroyed"), None).await;
        assert_eq!(not_destroyed.body["totalSize"], 2, "{}", not_destroyed.text);

        // PATCH labels, GET, DELETE with every version.
        let patched = call(
            &double,
            t,
            reqwest::Method::PATCH,
            &format!("{base}/db-login?updateMask=labels"),
            Some(json!({ "labels": { "env": "staging" } })),
        )
        .await;
        assert_eq!(patched.body["labels"], json!({ "env": "staging" }), "{}", patched.text);
        let fetched = call(&double, t, GET, "/v1/projects/123456789012/secrets/db-login", None).await;
        assert_eq!(fetched.body["etag"], patched.body["etag"]);
        let deleted = call(&double, t, reqwest::Method::DELETE, &format!("{base}/db-login"), None).await;
        assert_eq!((deleted.status, deleted.text.as_str()), (200, "{}"));
        assert!(double.names().is_empty() && double.versions("db-login").is_empty());
        let after = call(&double, t, GET, &format!("{base}/db-login"), None).await;
        assert_eq!(error(&after).0, 404);

        let counters = double.counters();
        assert_eq!((counters.adds, counters.accesses, counters.lists), (6, 6, 2));
        for answer in [&corrupted, &too_large, &refused, &gone] {
            assert!(!answer.text.contains("canary") && !answer.text.contains("third"), "{}", answer.text);
        }
    }

    #[tokio::test]
    async fn lists_come_in_pages_newest_first_and_filter() {
        let double = GcpSecretManager::start();
        let t = double.issue_token();
        for i in 0..30 {
            let env = if i % 3 == 0 { "prod" } else { "dev" };
            double.create_secret(&format!("app-{i:02}"), &[("env", env)]);
        }
        double.create_secret("other", &[]);
        let list = |query: String| {
            let (double, t) = (&double, &t);
            async move { call(double, t, GET, &format!("/v1/projects/lanyard-test/secrets?{query}"), None).await }
        };
        let ids = |answer: &Answer| -> Vec<String> {
            answer.body["secrets"]
                .as_array()
                .map(|s| s.iter().map(|s| s["name"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()).collect())
                .unwrap_or_default()
        };

        let first = list(String::new()).await;
        assert_eq!((ids(&first).len(), first.body["totalSize"].as_u64()), (DEFAULT_PAGE_SIZE, Some(31)));
        assert_eq!(ids(&first)[0], "other", "newest first");
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = list(format!("pageSize=7&pageToken={token}")).await;
            assert_eq!(page.status, 200, "{}", page.text);
            assert!(ids(&page).len() <= 7);
            all.extend(ids(&page));
            match page.body["nextPageToken"].as_str() {
                Some(next) => token = next.to_owned(),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..30).rev().map(|i| format!("app-{i:02}")).collect();
        expected.insert(0, "other".to_owned());
        assert_eq!(all, expected);

        let prod = list("filter=labels.env%3Dprod".to_owned()).await;
        assert_eq!(
            ids(&prod),
            ["app-27", "app-24", "app-21", "app-18", "app-15", "app-12", "app-09", "app-06", "app-03", "app-00"]
        );
        let named = list("filter=name%3Aapp-2%20-labels.env%3Aprod".to_owned()).await;
        assert_eq!(ids(&named), ["app-29", "app-28", "app-26", "app-25", "app-23", "app-22", "app-20"]);
        let labelled = list("filter=labels.env%3A*".to_owned()).await;
        assert_eq!(labelled.body["totalSize"], 30);
        for bad in ["filter=name%3Aa%20OR%20name%3Ab", "filter=created%3Ax", "pageToken=garbage", "pageSize=-1"] {
            let refused = list(bad.to_owned()).await;
            assert_eq!(error(&refused).1, "INVALID_ARGUMENT", "{bad}: {}", refused.text);
        }
        let none = list("filter=name%3Azzz".to_owned()).await;
        assert_eq!(none.text, r#"{"totalSize":0}"#);
    }

    #[tokio::test]
    async fn authentication_permission_and_faults_have_googles_shapes() {
        let double = GcpSecretManager::start();
        double.add_version("db", b"canary-value-91c2");
        let access = "/v1/projects/lanyard-test/secrets/db/versions/latest:access";

        let anonymous = call(&double, "", GET, access, None).await;
        assert_eq!(error(&anonymous).0, 401);
        assert_eq!(error(&anonymous).1, "UNAUTHENTICATED");
        assert_eq!(anonymous.headers[header::WWW_AUTHENTICATE], r#"Bearer realm="https://accounts.google.com/""#);
        assert_eq!(anonymous.body["error"]["details"][0]["reason"], "CREDENTIALS_MISSING");
        let made_up = call(&double, "ya29.made-up", GET, access, None).await;
        assert_eq!(error(&made_up).1, "UNAUTHENTICATED");
        assert!(made_up.headers[header::WWW_AUTHENTICATE].to_str().unwrap().contains(r#"error="invalid_token""#));

        let t = token_for(&double, double.private_key_pem(), &claims(&double, double.client_email())).await;
        let elsewhere =
            call(&double, &t, GET, "/v1/projects/someone-else/secrets/db/versions/latest:access", None).await;
        assert_eq!(
            error(&elsewhere),
            (
                403,
                "PERMISSION_DENIED",
                "Permission 'secretmanager.versions.access' denied for resource \
                 'projects/someone-else/secrets/db/versions/latest' (or it may not exist)."
            )
        );
        let mut narrow = claims(&double, double.client_email());
        narrow["scope"] = json!("https://www.googleapis.com/auth/devstorage.read_only");
        let narrow = token_for(&double, double.private_key_pem(), &narrow).await;
        let scoped = call(&double, &narrow, GET, access, None).await;
        assert_eq!(error(&scoped), (403, "PERMISSION_DENIED", "Request had insufficient authentication scopes."));

        double.throttle(2, Duration::from_millis(1500));
        for _ in 0..2 {
            let throttled = call(&double, &t, GET, access, None).await;
            assert_eq!(error(&throttled).1, "RESOURCE_EXHAUSTED");
            assert_eq!(throttled.status, 429);
            let retry = throttled.body["error"]["details"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
                .unwrap_or_else(|| panic!("no RetryInfo: {}", throttled.text));
            assert_eq!(retry["retryDelay"], "1.500s");
        }
        assert_eq!(call(&double, &t, GET, access, None).await.status, 200, "the throttle ran out");

        double.deny_access(true);
        let denied = call(&double, &t, GET, access, None).await;
        assert_eq!(
            error(&denied).2,
            "Permission 'secretmanager.versions.access' denied for resource 'projects/lanyard-test/secrets/db/versions/latest' (or it may not exist)."
        );
        double.deny_access(false);
        double.fail_next(1, 503);
        let unavailable = call(&double, &t, GET, access, None).await;
        assert_eq!(error(&unavailable), (503, "UNAVAILABLE", "The service is currently unavailable."));
        double.fail_next(1, 500);
        assert_eq!(error(&call(&double, &t, GET, access, None).await).1, "INTERNAL");

        double.stall(Duration::from_millis(300));
        let started = Instant::now();
        assert_eq!(call(&double, &t, GET, access, None).await.status, 200);
        assert!(started.elapsed() >= Duration::from_millis(300));
        double.clear_faults();

        double.revoke_tokens();
        let revoked = call(&double, &t, GET, access, None).await;
        assert_eq!(error(&revoked).1, "UNAUTHENTICATED");

        let counters = double.counters();
        assert_eq!(
            (counters.unauthenticated, counters.denied, counters.throttled, counters.failed, counters.stalled),
            (3, 3, 2, 2, 1)
        );
        assert_eq!((counters.token_requests, counters.accesses), (2, 2));
        for answer in [&anonymous, &made_up, &elsewhere, &scoped, &denied, &unavailable, &revoked] {
            assert!(!answer.text.contains("canary"), "{}", answer.text);
        }
    }

    #[tokio::test]
    async fn a_service_account_without_a_role_gets_tokens_but_no_access() {
        let double = GcpSecretManager::start();
        double.add_version("db", b"v");
        let file: Value = serde_json::from_str(&double.unauthorized_service_account_json()).unwrap();
        let (email, pem) = (file["client_email"].as_str().unwrap(), file["private_key"].as_str().unwrap());
        assert_ne!(email, double.client_email());
        assert_ne!(
            file["private_key_id"],
            serde_json::from_str::<Value>(double.service_account_json()).unwrap()["private_key_id"]
        );
        // Its JWT signed with the other account's key does not verify.
        let (status, _) =
            exchange(&double, JWT_BEARER, &jwt(double.private_key_pem(), &claims(&double, email), true)).await;
        assert_eq!(status, 400);
        let t = token_for(&double, pem, &claims(&double, email)).await;
        let denied = call(&double, &t, GET, "/v1/projects/lanyard-test/secrets/db/versions/1:access", None).await;
        assert_eq!(error(&denied).1, "PERMISSION_DENIED");
        assert!(error(&denied).2.starts_with("Permission 'secretmanager.versions.access' denied"));
    }
}
