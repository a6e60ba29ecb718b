//! `lanyard-vault-gcp` is the `gcp` vault backend: material kept as GCP Secret Manager secrets, read and written
//! through Secret Manager's v1 REST API on the workspace's reqwest (rustls), with Google OAuth2 access tokens from a
//! service account key or from application default credentials (see `auth`); and the identity lent to `gcs`
//! connections that name the storage.
//!
//! What it is not: a Secret Manager administrator. It creates no project, grants no access and sets no
//! replication policy beyond `automatic`: it adds versions to the secrets under its prefix (creating a secret on
//! its first write), disables or destroys the versions a write replaced (option `previous_versions`), deletes its
//! secrets, reads linked secrets, and lists. It does not retry: the resolver retries by error kind, honouring the
//! `RetryInfo` delay of a 429.
//!
//! Why no Google SDK: Google's Rust client for Secret Manager brings a large generated stack (gax, its own auth
//! crate, protobuf well-known types) for the five REST calls used here, and the general OAuth crates for Google
//! (`gcp_auth`) hide the token endpoint's answer ("token request failed") behind silent retries. The REST calls
//! and the JWT exchange are short and fully tested against the double of `lanyard-testsupport`; the RS256
//! signature is ring's.
//!
//! Options (besides the common ones `lanyard-vault` adds, such as `timeout_ms`; `docs/backends.md` (section `gcp`)
//! has the whole story):
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `project_id` | the key's `project_id` | the project holding the secrets (id or number) |
//! | `auth_method` | `service_account` when `service_account_json` is set | `service_account` or `adc` |
//! | `service_account_json` | — | the service account key file's JSON (**secret**: kept in the local vault) |
//! | `endpoint` | `https://secretmanager.googleapis.com` | the API's base URL; `http://` only to this host (emulators, doubles) |
//! | `prefix` | empty | prefix of secret ids, `[A-Za-z0-9_-]` only |
//! | `previous_versions` | `disable` | what a write does to the versions it replaced: `disable`, `destroy` or `keep` |
//!
//! Secret ids: `<prefix>vault--<entry uuid>` and `<prefix>backend--<backend uuid>`. Linked names: `name`,
//! `name/versions/<n|latest>`, `projects/<project>/secrets/<name>[/versions/<n|latest>]`; the resolver applies
//! `#field`. Material: the payload's bytes as they are (Secret Manager stores bytes, up to 64 KiB, which is also
//! the Control Plane's limit), sent with their CRC32C and checked against the one Secret Manager returns.

mod auth;
mod errors;
mod names;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lanyard_core::{OptionKey, OptionMap, SecretBytes, SecretString, printable};
use lanyard_vault::{
    AmbientIdentity, BackendConfig, Capabilities, ErrorKind, Operation, OptionSpec, ProbeReport, Profile, Result,
    SecretRef, SecretValue, VaultBackend, VaultError, async_trait,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::auth::{CredentialFile, Source, Tokens};
use crate::errors::{Failure, api_error};

/// The kind this crate registers.
pub const KIND: &str = "gcp";

/// The default per-call timeout when `timeout_ms` is not given (the resolver's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// Secret Manager's API endpoint.
pub const GOOGLE_ENDPOINT: &str = "https://secretmanager.googleapis.com";

/// The largest payload Secret Manager stores.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// How many secrets one page of a listing asks for.
const PAGE_SIZE: &str = "250";

/// The annotation of a secret whose version it names holds empty material. Secret Manager keeps no empty payload,
/// so an empty value is written as the one-byte payload `[0]` and this annotation set to its version number; a
/// read of `[0]` checks it (one more call, for that payload only) and answers empty.
pub const EMPTY_ANNOTATION: &str = "lanyard-empty-version";

/// The payload standing for empty material (see [`EMPTY_ANNOTATION`]).
const EMPTY_PAYLOAD: &[u8] = &[0];

/// The CRC32C (Castagnoli) of Secret Manager's `dataCrc32c`.
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "project_id",
        required: false,
        secret: false,
        help: "the project holding the secrets, its id or number (default: the service account key's project_id)",
    },
    OptionSpec {
        name: "auth_method",
        required: false,
        secret: false,
        help: "service_account or adc (application default credentials; default: service_account when \
               service_account_json is given)",
    },
    OptionSpec {
        name: "service_account_json",
        required: false,
        secret: true,
        help: "the service account key file's JSON (service_account)",
    },
    OptionSpec {
        name: "endpoint",
        required: false,
        secret: false,
        help: "the API's base URL (default: https://secretmanager.googleapis.com); http:// only to 127.0.0.1, ::1 \
               or localhost, for emulators and test doubles",
    },
    OptionSpec {
        name: "prefix",
        required: false,
        secret: false,
        help: "prefix of secret ids, A-Z, a-z, 0-9, '_' and '-' only (default: none)",
    },
    OptionSpec {
        name: "previous_versions",
        required: false,
        secret: false,
        help: "what a write does to the versions it replaced: disable (default), destroy or keep",
    },
];

lanyard_vault::inventory::submit! {
    lanyard_vault::BackendFactory::new(
        env!("CARGO_PKG_NAME"),
        KIND,
        "GCP Secret Manager secrets, with a service account key or application default credentials",
        OPTIONS,
        build,
    )
}

fn build(config: BackendConfig) -> Result<Arc<dyn VaultBackend>> {
    let env = |key: &str| std::env::var(key).ok();
    Ok(Arc::new(GcpBackend::new(Config::parse(&config, &env)?)?))
}

/// How the backend gets its access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The service account key in `service_account_json`.
    ServiceAccount,
    /// Application default credentials: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, the metadata server.
    Adc,
}

impl AuthMethod {
    /// The option value.
    pub fn label(self) -> &'static str {
        match self {
            Self::ServiceAccount => "service_account",
            Self::Adc => "adc",
        }
    }
}

/// What a write does to the versions it replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousVersions {
    /// Disabled: unreadable, and an operator can enable one again (a rollback); the default.
    Disable,
    /// Destroyed: the payload is gone for good.
    Destroy,
    /// Left enabled (readable as `name/versions/<n>`).
    Keep,
}

impl PreviousVersions {
    const ALL: [(&'static str, PreviousVersions); 3] =
        [("disable", Self::Disable), ("destroy", Self::Destroy), ("keep", Self::Keep)];
}

/// The validated options. `Debug` leaves the key out.
pub struct Config {
    project: String,
    auth_method: AuthMethod,
    /// The key's JSON, lent to `gcs` connections as their ambient identity (`service_account` only).
    key_json: Option<SecretString>,
    source: Source,
    endpoint: url::Url,
    prefix: String,
    previous: PreviousVersions,
    timeout: Duration,
}

impl Config {
    /// Validates the options of `config`; `env` reads the server's environment (application default credentials).
    pub fn parse(config: &BackendConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let options = &config.options;
        let invalid =
            |detail: String| VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build).with_detail(detail);
        let text = |key: &str| options.get(key).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);

        let key_json = options.secret("service_account_json").filter(|s| !s.expose_secret().trim().is_empty()).cloned();
        let auth_method = match text("auth_method").as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("service_account") => AuthMethod::ServiceAccount,
            Some("adc") => AuthMethod::Adc,
            Some(other) => {
                return Err(invalid(format!(
                    "option \"auth_method\" must be service_account or adc, not {:?}",
                    printable(other, 64)
                )));
            }
            None if key_json.is_some() => AuthMethod::ServiceAccount,
            None => {
                return Err(invalid(
                    "missing option \"auth_method\" (service_account with service_account_json, or adc)".into(),
                ));
            }
        };
        let source = match (auth_method, &key_json) {
            (AuthMethod::ServiceAccount, Some(json)) => {
                let file =
                    CredentialFile::parse(json.expose_secret(), "option \"service_account_json\"").map_err(invalid)?;
                if !matches!(file, CredentialFile::ServiceAccount(_)) {
                    return Err(invalid(
                        "option \"service_account_json\" must be a service account key (\"type\": \
                         \"service_account\")"
                            .into(),
                    ));
                }
                Source::File(file)
            }
            (AuthMethod::ServiceAccount, None) => {
                return Err(invalid("auth_method service_account needs option \"service_account_json\"".into()));
            }
            (AuthMethod::Adc, Some(_)) => {
                return Err(invalid(
                    "option \"service_account_json\" is only used with auth_method service_account, not adc".into(),
                ));
            }
            (AuthMethod::Adc, None) => Source::application_default(env).map_err(invalid)?,
        };

        let project = match text("project_id").or_else(|| source.project_id().map(str::to_owned)) {
            Some(project) if names::is_project(&project) => project,
            Some(project) => {
                return Err(invalid(format!(
                    "option \"project_id\" must be a project id (6 to 30 of a-z, 0-9 and '-', starting with a \
                     letter) or a project number, not {:?}",
                    printable(&project, 64)
                )));
            }
            None => {
                return Err(invalid(format!(
                    "missing option \"project_id\" (the {} names none)",
                    match auth_method {
                        AuthMethod::ServiceAccount => "service account key",
                        AuthMethod::Adc => "application default credentials' identity",
                    }
                )));
            }
        };

        let endpoint = text("endpoint").unwrap_or_else(|| GOOGLE_ENDPOINT.to_owned());
        let endpoint = auth::check_endpoint(&endpoint)
            .map_err(|problem| invalid(format!("option \"endpoint\" {problem}")))
            .and_then(|url| {
                if url.cannot_be_a_base() || url.query().is_some() {
                    Err(invalid(format!("option \"endpoint\" must be a base URL, not {:?}", printable(&endpoint, 200))))
                } else {
                    Ok(url)
                }
            })?;

        let prefix = options.get("prefix").unwrap_or_default().trim().to_owned();
        if !names::is_legal_text(&prefix) || prefix.len() > names::MAX_PREFIX {
            return Err(invalid(format!(
                "option \"prefix\" may hold only A-Z, a-z, 0-9, '_' and '-', at most {} characters (Secret \
                 Manager's secret ids allow nothing else), not {:?}",
                names::MAX_PREFIX,
                printable(&prefix, 80)
            )));
        }
        let previous = match text("previous_versions") {
            None => PreviousVersions::Disable,
            Some(value) => PreviousVersions::ALL
                .iter()
                .find(|(label, _)| label.eq_ignore_ascii_case(&value))
                .map(|(_, p)| *p)
                .ok_or_else(|| {
                    invalid(format!(
                        "option \"previous_versions\" must be disable, destroy or keep, not {:?}",
                        printable(&value, 64)
                    ))
                })?,
        };
        let timeout = options.parse::<u64>("timeout_ms")?.map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        // What a `gcs` connection signs with: the option's key, or the key file application default credentials
        // found (so the connector signs as the identity the storage found, not as whatever it would look up itself).
        let key_json = match auth_method {
            AuthMethod::ServiceAccount => key_json,
            AuthMethod::Adc => source.key_json().cloned(),
        };
        Ok(Self { project, auth_method, key_json, source, endpoint, prefix, previous, timeout })
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("project", &self.project)
            .field("auth_method", &self.auth_method)
            .field("identity", &self.source.describe())
            .field("endpoint", &self.endpoint.as_str())
            .field("prefix", &self.prefix)
            .field("previous_versions", &self.previous)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The GCP Secret Manager backend.
///
/// Capabilities: store, link and ambient identity. `Debug` shows the project, identity, endpoint and prefix.
pub struct GcpBackend {
    project: String,
    auth_method: AuthMethod,
    key_json: Option<SecretString>,
    endpoint: String,
    prefix: String,
    previous: PreviousVersions,
    tokens: Tokens,
    http: reqwest::Client,
}

/// A request: method, path under `/v1/`, query, JSON body.
struct Call<'a> {
    method: Method,
    path: String,
    query: &'a [(&'a str, &'a str)],
    body: Option<Value>,
}

impl<'a> Call<'a> {
    fn new(method: Method, path: String) -> Self {
        Self { method, path, query: &[], body: None }
    }
}

impl GcpBackend {
    /// A backend for validated options: builds the HTTP client (no request is sent yet).
    pub fn new(config: Config) -> Result<Self> {
        let client = || {
            reqwest::Client::builder()
                .timeout(config.timeout)
                .connect_timeout(config.timeout)
                // A bearer token never follows a redirect.
                .redirect(reqwest::redirect::Policy::none())
        };
        let built = |built: reqwest::Result<reqwest::Client>| {
            built.map_err(|e| {
                VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build)
                    .with_detail(format!("cannot build the HTTP client: {}", printable(&e.to_string(), 300)))
            })
        };
        let http = built(client().build())?;
        let metadata_http = built(client().no_proxy().build())?;
        Ok(Self {
            project: config.project,
            auth_method: config.auth_method,
            key_json: config.key_json,
            endpoint: config.endpoint.as_str().trim_end_matches('/').to_owned(),
            prefix: config.prefix,
            previous: config.previous,
            tokens: Tokens::new(config.source, http.clone(), metadata_http),
            http,
        })
    }

    /// The project the secrets live in.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// `projects/<project>/secrets/<id>`.
    fn secret_path(&self, project: Option<&str>, id: &str) -> String {
        format!("projects/{}/secrets/{id}", project.unwrap_or(&self.project))
    }

    /// One API call with a bearer token; a refused token (401) is replaced once. The answer's JSON, or the
    /// classified error of `operation` on `target`.
    async fn call(&self, call: Call<'_>, operation: Operation, target: Option<&str>) -> Result<Value> {
        let url = format!("{}/v1/{}", self.endpoint, call.path);
        let mut again = true;
        loop {
            let token = self.tokens.token(operation).await.map_err(|e| match target {
                Some(target) => e.with_target(target),
                None => e,
            })?;
            let mut request =
                self.http.request(call.method.clone(), &url).bearer_auth(token.expose_secret()).query(call.query);
            if let Some(body) = &call.body {
                request = request.json(body);
            } else if call.method == Method::POST {
                request = request.json(&json!({}));
            }
            let response = request.send().await.map_err(|e| api_error(errors::transport(&e), operation, target))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| api_error(errors::transport(&e), operation, target))?;
            if status == reqwest::StatusCode::UNAUTHORIZED && again {
                again = false;
                self.tokens.forget(&token).await;
                continue;
            }
            if !status.is_success() {
                return Err(api_error(
                    Failure::Status { status: status.as_u16(), body: body.to_vec() },
                    operation,
                    target,
                ));
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&body)
                .map_err(|_| api_error(Failure::Malformed("the answer is not JSON".into()), operation, target));
        }
    }

    /// Reads a version (`latest` or a number) of a secret; `target` names it in errors. `profile`: the secret is one
    /// Lanyard writes, where `[0]` may stand for empty material.
    async fn access(
        &self,
        project: Option<&str>,
        id: &str,
        version: &str,
        target: &str,
        profile: bool,
    ) -> Result<SecretValue> {
        let path = format!("{}/versions/{version}:access", self.secret_path(project, id));
        let answer = self.call(Call::new(Method::GET, path), Operation::Get, Some(target)).await?;
        let unusable = |problem: &str| {
            VaultError::new(ErrorKind::Unexpected, KIND, Operation::Get)
                .with_target(target)
                .with_detail(format!("Secret Manager's answer is unusable: {problem}"))
        };
        let payload = answer.get("payload").ok_or_else(|| unusable("it holds no payload"))?;
        let data = payload.get("data").and_then(Value::as_str).unwrap_or_default();
        let bytes = SecretBytes::new(STANDARD.decode(data).map_err(|_| unusable("its payload is not base64"))?);
        if let Some(expected) = payload.get("dataCrc32c").and_then(crc_of)
            && CRC32C.checksum(bytes.expose_secret()) != expected
        {
            return Err(unusable("its payload does not match its CRC32C checksum"));
        }
        let version = answer.get("name").and_then(Value::as_str).and_then(names::version_of).map(str::to_owned);
        let bytes = match (profile && bytes.expose_secret() == EMPTY_PAYLOAD, &version) {
            (true, Some(version)) if self.marked_empty(project, id, version, target).await? => {
                SecretBytes::new(Vec::new())
            }
            _ => bytes,
        };
        let value = SecretValue::new(bytes);
        Ok(match version {
            Some(version) => value.with_version(version),
            None => value,
        })
    }

    /// Whether the secret's [`EMPTY_ANNOTATION`] names `version`.
    async fn marked_empty(&self, project: Option<&str>, id: &str, version: &str, target: &str) -> Result<bool> {
        let secret =
            self.call(Call::new(Method::GET, self.secret_path(project, id)), Operation::Get, Some(target)).await?;
        Ok(secret.pointer(&format!("/annotations/{EMPTY_ANNOTATION}")).and_then(Value::as_str) == Some(version))
    }

    /// Sets the secret's [`EMPTY_ANNOTATION`] to `version`, keeping its other annotations; `secret` is the
    /// secret as just read.
    async fn mark_empty(&self, id: &str, secret: &Value, version: u64, target: &str) -> Result<()> {
        let path = self.secret_path(None, id);
        let mut annotations = secret.get("annotations").cloned().unwrap_or_else(|| json!({}));
        if let Some(map) = annotations.as_object_mut() {
            map.insert(EMPTY_ANNOTATION.to_owned(), Value::String(version.to_string()));
        }
        let call = Call {
            method: Method::PATCH,
            path,
            query: &[("updateMask", "annotations")],
            body: Some(json!({ "annotations": annotations })),
        };
        self.call(call, Operation::Put, Some(target)).await.map(drop)
    }

    /// Writes empty material to secret `id` (which exists): the annotation is set to the number the new version will
    /// most likely get *before* the `[0]` version is added, so that no reader ever sees `[0]` unmarked and a failed
    /// write leaves the current value readable; should another write take that number meanwhile, the annotation is
    /// set again to the number the version got.
    async fn put_empty(&self, id: &str, target: &str) -> Result<u64> {
        let path = self.secret_path(None, id);
        let secret = self.call(Call::new(Method::GET, path.clone()), Operation::Put, Some(target)).await?;
        let latest = format!("{path}/versions/latest");
        let newest = match self.call(Call::new(Method::GET, latest), Operation::Put, Some(target)).await {
            Ok(version) => version.get("name").and_then(Value::as_str).and_then(names::version_of).map(str::to_owned),
            Err(error) if error.kind() == ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        let predicted = newest.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0) + 1;
        self.mark_empty(id, &secret, predicted, target).await?;
        let version = self.add_version(id, EMPTY_PAYLOAD, target).await?;
        if version != predicted {
            let secret = self.call(Call::new(Method::GET, path), Operation::Put, Some(target)).await?;
            self.mark_empty(id, &secret, version, target).await?;
        }
        Ok(version)
    }

    /// Adds a version holding `bytes` to secret `id`; returns its number.
    async fn add_version(&self, id: &str, bytes: &[u8], target: &str) -> Result<u64> {
        let body = json!({
            "payload": { "data": STANDARD.encode(bytes), "dataCrc32c": CRC32C.checksum(bytes).to_string() }
        });
        let path = format!("{}:addVersion", self.secret_path(None, id));
        let call = Call { method: Method::POST, path, query: &[], body: Some(body) };
        let answer = self.call(call, Operation::Put, Some(target)).await?;
        answer.get("name").and_then(Value::as_str).and_then(names::version_of).and_then(|v| v.parse().ok()).ok_or_else(
            || {
                VaultError::new(ErrorKind::Unexpected, KIND, Operation::Put)
                    .with_target(target)
                    .with_detail("Secret Manager's answer to addVersion names no version")
            },
        )
    }

    /// Creates the secret `id` (automatic replication, labelled as Lanyard's); one that exists already is fine (a
    /// concurrent first write).
    async fn create(&self, id: &str, target: &str) -> Result<()> {
        let body = json!({ "replication": { "automatic": {} }, "labels": { "managed-by": "lanyard" } });
        let path = format!("projects/{}/secrets", self.project);
        let call = Call { method: Method::POST, path, query: &[("secretId", id)], body: Some(body) };
        match self.call(call, Operation::Put, Some(target)).await {
            Ok(_) => Ok(()),
            Err(error) if error.detail().is_some_and(|d| d.contains("ALREADY_EXISTS")) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The numbers of the versions of `id` in `state` (`ENABLED`, `DISABLED`), every page.
    async fn versions_in(&self, id: &str, state: &str, target: &str) -> Result<Vec<u64>> {
        let filter = format!("state:{state}");
        let path = format!("{}/versions", self.secret_path(None, id));
        let listed =
            self.list_pages(path, "versions", PAGE_SIZE, Some(&filter), false, Operation::Put, Some(target)).await?;
        Ok(listed
            .iter()
            .filter(|v| v.get("state").and_then(Value::as_str) == Some(state))
            .filter_map(|v| v.get("name").and_then(Value::as_str).and_then(names::version_of))
            .filter_map(|v| v.parse::<u64>().ok())
            .collect())
    }

    /// The `items` of a list call on `path` (`filter` as Google's), every page, or the first page only.
    #[allow(clippy::too_many_arguments)]
    async fn list_pages(
        &self,
        path: String,
        items: &str,
        page_size: &str,
        filter: Option<&str>,
        first_page_only: bool,
        operation: Operation,
        target: Option<&str>,
    ) -> Result<Vec<Value>> {
        let mut listed = Vec::new();
        let mut page = String::new();
        loop {
            let mut query = vec![("pageSize", page_size)];
            if let Some(filter) = filter {
                query.push(("filter", filter));
            }
            if !page.is_empty() {
                query.push(("pageToken", page.as_str()));
            }
            let call = Call { method: Method::GET, path: path.clone(), query: &query, body: None };
            let mut answer = self.call(call, operation, target).await?;
            if let Some(Value::Array(values)) = answer.get_mut(items).map(Value::take) {
                listed.extend(values);
            }
            match answer.get("nextPageToken").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                Some(next) if !first_page_only => page = next.to_owned(),
                _ => return Ok(listed),
            }
        }
    }

    /// Applies `previous_versions` to the versions of `id` older than `newest`.
    async fn retire(&self, id: &str, newest: u64, target: &str) -> Result<()> {
        let (states, action): (&[&str], &str) = match self.previous {
            PreviousVersions::Keep => return Ok(()),
            PreviousVersions::Disable => (&["ENABLED"], "disable"),
            PreviousVersions::Destroy => (&["ENABLED", "DISABLED"], "destroy"),
        };
        for state in states {
            for version in self.versions_in(id, state, target).await? {
                if version >= newest {
                    continue;
                }
                let path = format!("{}/versions/{version}:{action}", self.secret_path(None, id));
                match self.call(Call::new(Method::POST, path), Operation::Put, Some(target)).await {
                    // Retired by a concurrent write already.
                    Err(error) if matches!(error.kind(), ErrorKind::NotFound) => {}
                    other => drop(other?),
                }
            }
        }
        Ok(())
    }

    /// Secret ids of the project, every page (`limit`: stop after that many), optionally filtered by Google's
    /// `filter`.
    async fn secret_ids(
        &self,
        limit: Option<usize>,
        filter: Option<&str>,
        operation: Operation,
    ) -> Result<Vec<String>> {
        let size = limit.map_or_else(|| PAGE_SIZE.to_owned(), |l| l.to_string());
        let path = format!("projects/{}/secrets", self.project);
        // A limited listing (the probe) reads one page, whatever it holds.
        let listed = self.list_pages(path, "secrets", &size, filter, limit.is_some(), operation, None).await?;
        Ok(listed
            .iter()
            .filter_map(|s| s.get("name").and_then(Value::as_str))
            .filter_map(names::id_of)
            .map(str::to_owned)
            .collect())
    }
}

/// A `dataCrc32c`: an int64 in JSON, which Google writes as a string.
fn crc_of(value: &Value) -> Option<u32> {
    let number = match value {
        Value::String(text) => text.parse::<u64>().ok()?,
        Value::Number(number) => number.as_u64()?,
        _ => return None,
    };
    u32::try_from(number).ok()
}

impl fmt::Debug for GcpBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcpBackend")
            .field("project", &self.project)
            .field("auth_method", &self.auth_method)
            .field("identity", &self.tokens.source().describe())
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl VaultBackend for GcpBackend {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { store: true, link: true, ambient_identity: true }
    }

    fn physical_name(&self, profile: &Profile) -> String {
        names::physical(&self.prefix, profile)
    }

    async fn get(&self, secret: &SecretRef) -> Result<SecretValue> {
        match secret {
            SecretRef::Profile(profile) => {
                let id = self.physical_name(profile);
                self.access(None, &id, "latest", &profile.to_string(), true).await
            }
            SecretRef::External(locator) => {
                let linked = names::linked(locator)?;
                self.access(linked.project, linked.secret, linked.version, locator, false).await
            }
        }
    }

    /// Adds a version (creating the secret on its first write), then disables or destroys the versions before it
    /// (`previous_versions`; a failure there is logged, not returned: the write itself succeeded). The new version is
    /// the `latest` every reader gets from the moment it is added. Empty material is the payload `[0]` with the
    /// secret's [`EMPTY_ANNOTATION`] naming its version (see [`GcpBackend::put_empty`]).
    async fn put(&self, profile: &Profile, value: &SecretValue) -> Result<()> {
        let id = self.physical_name(profile);
        let target = profile.to_string();
        let bytes = value.expose_bytes();
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Put)
                .with_target(target)
                .with_detail(format!(
                    "Secret Manager stores at most {MAX_PAYLOAD_BYTES} bytes per version, not {}",
                    bytes.len()
                )));
        }
        let add = || async {
            if bytes.is_empty() {
                self.put_empty(&id, &target).await
            } else {
                self.add_version(&id, bytes, &target).await
            }
        };
        // A NotFound here is the secret's 404 (FAILED_PRECONDITION is no `NotFound` outside reads).
        let version = match add().await {
            Err(error) if error.kind() == ErrorKind::NotFound => {
                self.create(&id, &target).await?;
                add().await?
            }
            added => added?,
        };
        // The new version is live: retiring the older ones is housekeeping, and its failure (a 429, a missing
        // `versions.disable` permission) must not report the write as failed.
        if let Err(error) = self.retire(&id, version, &target).await {
            tracing::warn!(secret = %id, %error, "the write succeeded, but its older versions could not be retired");
        }
        Ok(())
    }

    /// Deletes the secret with all its versions. Deleting what is not there succeeds.
    async fn delete(&self, profile: &Profile) -> Result<()> {
        let target = profile.to_string();
        let path = self.secret_path(None, &self.physical_name(profile));
        match self.call(Call::new(Method::DELETE, path), Operation::Delete, Some(&target)).await {
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
            other => other.map(drop),
        }
    }

    async fn list(&self) -> Result<Vec<Profile>> {
        let mut profiles: Vec<Profile> = self
            .secret_ids(None, None, Operation::List)
            .await?
            .iter()
            .filter_map(|id| names::profile(&self.prefix, id))
            .collect();
        profiles.sort_unstable();
        profiles.dedup();
        Ok(profiles)
    }

    /// Two steps: an access token for the configured identity, then a listing of one secret of the project (under
    /// the prefix, when there is one).
    async fn probe(&self) -> Result<ProbeReport> {
        let mut report = ProbeReport::default();
        let identity = self.tokens.source().describe();
        let token = report
            .run(format!("get an access token for {identity} ({})", self.auth_method.label()), async {
                self.tokens.token(Operation::Probe).await.map(drop)
            })
            .await;
        if token.is_none() {
            return Ok(report);
        }
        let filter = (!self.prefix.is_empty()).then(|| format!("name:\"{}\"", self.prefix));
        let under = if self.prefix.is_empty() { String::new() } else { format!(" under prefix {}", self.prefix) };
        report
            .run(format!("list one secret of projects/{}{under} at {}", self.project, self.endpoint), async {
                self.secret_ids(Some(1), filter.as_deref(), Operation::Probe).await.map(drop)
            })
            .await;
        Ok(report)
    }

    /// What the `gcs` connector signs with to act as this storage's identity: the service account key
    /// (`service_account_key`: the option's, or the key file application default credentials found), or nothing
    /// when application default credentials are a user's or the metadata server's (the connector then looks them
    /// up itself, with `object_store`'s own order).
    async fn ambient_identity(&self) -> Result<AmbientIdentity> {
        let mut options = OptionMap::new();
        if let (Some(json), Ok(key)) = (&self.key_json, OptionKey::new("service_account_key")) {
            options.insert(key, json.expose_secret());
        }
        let description = match self.auth_method {
            AuthMethod::ServiceAccount => self.tokens.source().describe(),
            AuthMethod::Adc => format!("application default credentials: {}", self.tokens.source().describe()),
        };
        Ok(AmbientIdentity { backend_kind: KIND, description, options })
    }
}

#[cfg(test)]
mod tests {
    use lanyard_core::BackendId;
    use lanyard_vault::{BackendEnv, Registry};

    use super::*;

    fn build(options: &[(&str, &str)]) -> Result<Arc<dyn VaultBackend>> {
        let registry = Registry::global().expect("registry");
        registry.build("GCP", BackendId::new_random(), "test", options.iter().copied(), BackendEnv::default())
    }

    fn config_error(options: &[(&str, &str)]) -> String {
        let error = build(options).expect_err("invalid options");
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
        error.to_string()
    }

    #[test]
    fn options_are_validated_and_errors_hold_no_key() {
        let broken_key = r#"{"type":"service_account","client_email":"a@b","token_uri":"https://x/t","private_key":"canary-secret-value"}"#;
        let error = config_error(&[("project_id", "lanyard-test"), ("service_account_json", broken_key)]);
        assert!(error.contains("\"private_key\" is not a PKCS#8 PEM private key"), "{error}");
        assert!(!error.contains("canary"), "{error}");
        assert!(config_error(&[("project_id", "lanyard-test")]).contains("missing option \"auth_method\""));
        let stray = config_error(&[("auth_method", "adc"), ("service_account_json", "{\"canary\":1}")]);
        assert!(stray.contains("only used with auth_method service_account") && !stray.contains("canary"), "{stray}");
        assert!(config_error(&[("auth_method", "service_account")]).contains("needs option \"service_account_json\""));
        assert!(config_error(&[("auth_method", "kerberos")]).contains("service_account or adc"));
        let unknown = config_error(&[("auth_method", "adc"), ("region", "x")]);
        assert!(unknown.contains("unknown option \"region\""), "{unknown}");
    }

    #[test]
    fn retired_versions_policy_labels() {
        assert_eq!(PreviousVersions::ALL.map(|(l, _)| l), ["disable", "destroy", "keep"]);
        assert_eq!(crc_of(&json!("4294967295")), Some(u32::MAX));
        assert_eq!(crc_of(&json!(17)), Some(17));
        assert_eq!(crc_of(&json!("4294967296")), None);
        // The CRC32C check value of "123456789" (RFC 3720).
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
    }
}
