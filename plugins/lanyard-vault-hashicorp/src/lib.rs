//! `lanyard-vault-hashicorp` is the `hashicorp` vault backend: material kept in a HashiCorp Vault (or OpenBao) KV
//! version 2 secrets engine under a mount and a prefix, and `LINKED EXTERNAL SECRET`s read from any path of that
//! mount, through [`vaultrs`]. It authenticates with a fixed token or with AppRole (login, token cached and renewed
//! at two thirds of its TTL, one forced re-login when the server answers 403), can work in a Vault namespace, and
//! trusts an extra CA for `https://` addresses.
//!
//! Options (besides the common ones `lanyard-vault` adds, such as `timeout_ms`, which is also the HTTP timeout of
//! one request):
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `address` | required | the server, `https://vault.example.com:8200` (or `http://` for a local dev server) |
//! | `mount` | `secret` | the KV v2 mount |
//! | `namespace` | none | the Vault namespace (`X-Vault-Namespace` on every request) |
//! | `prefix` | `lanyard` | the folder, within the mount, under which profiles are stored |
//! | `auth_method` | `token` | `token` or `approle` |
//! | `token` | — | the token (secret), for `auth_method = token` |
//! | `role_id`, `secret_id` | — | the AppRole credentials (`secret_id` secret), for `auth_method = approle`; the AppRole auth method is expected at `approle/` |
//! | `ca_cert` | none | path of a PEM file with the CA certificate(s) to trust for an `https://` address |
//!
//! Layout: the material of the profile `vault::<uuid>` lives in the KV v2 secret `<prefix>/vault/<uuid>` of the
//! mount (`backend::<uuid>` in `<prefix>/backend/<uuid>`), as one field, [`MATERIAL_FIELD`], holding the bytes in
//! standard base64, so binary and large values round-trip; each write is a new KV version (reported as the value's
//! version); `delete` removes the metadata and every version. A linked external secret `path[?version=N]` is read
//! from `<mount>/data/<path>` (the prefix does not apply) and its `data` object comes back as JSON text, for the
//! resolver to pick a `#field` from; its version is the KV version read.
//!
//! The process environment (`VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_CACERT`, …) is ignored: only the options count.
//!
//! Reads go straight to vaultrs's own HTTP client (its TLS settings, CA and timeout, the headers its middleware
//! adds): that skips rustify's request and response copies on the resolver's hot path and keeps a 429's
//! `Retry-After`, which vaultrs's errors drop; so does the probe's read of the mount
//! (`sys/internal/ui/mounts/<mount>`), which vaultrs has no function for. Everything else (login, renewal, lookup,
//! writes, lists, deletes) uses vaultrs's API functions.
//!
//! What it is not: no other secrets engine (KV v1, database, …), no auth method but token and AppRole, no client
//! certificates, and no caching of material (every `get` is a read; only the AppRole token is cached).

mod auth;
mod errors;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lanyard_core::{SecretBytes, SecretString};
use lanyard_vault::{
    BackendConfig, Capabilities, ErrorKind, Operation, OptionSpec, ProbeReport, Profile, Result, SecretRef,
    SecretValue, VaultBackend, VaultError, async_trait,
};
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};

pub use auth::AuthStats;
use auth::{Auth, Authed};
use errors::invalid;

/// The kind this crate registers.
pub const KIND: &str = "hashicorp";

/// The KV v2 field that holds a profile's material, base64-encoded (standard alphabet, padded).
pub const MATERIAL_FIELD: &str = "material_b64";

/// The default KV v2 mount.
pub const DEFAULT_MOUNT: &str = "secret";

/// The default prefix (folder within the mount) of stored profiles.
pub const DEFAULT_PREFIX: &str = "lanyard";

/// The mount of the AppRole auth method.
pub const APPROLE_MOUNT: &str = "approle";

/// The HTTP timeout of one request when `timeout_ms` is not set.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "address",
        required: true,
        secret: false,
        help: "the Vault or OpenBao server, e.g. https://vault.example.com:8200",
    },
    OptionSpec { name: "mount", required: false, secret: false, help: "the KV version 2 mount (default secret)" },
    OptionSpec {
        name: "namespace",
        required: false,
        secret: false,
        help: "the Vault namespace, sent as X-Vault-Namespace (default: none)",
    },
    OptionSpec {
        name: "prefix",
        required: false,
        secret: false,
        help: "folder within the mount under which profiles are stored (default lanyard)",
    },
    OptionSpec { name: "auth_method", required: false, secret: false, help: "token or approle (default token)" },
    OptionSpec { name: "token", required: false, secret: true, help: "the Vault token, for auth_method token" },
    OptionSpec {
        name: "role_id",
        required: false,
        secret: false,
        help: "the AppRole role_id, for auth_method approle",
    },
    OptionSpec {
        name: "secret_id",
        required: false,
        secret: true,
        help: "the AppRole secret_id, for auth_method approle",
    },
    OptionSpec {
        name: "ca_cert",
        required: false,
        secret: false,
        help: "path of a PEM file with the CA certificate(s) to trust for an https address",
    },
];

lanyard_vault::inventory::submit! {
    lanyard_vault::BackendFactory::new(
        env!("CARGO_PKG_NAME"),
        KIND,
        "HashiCorp Vault or OpenBao KV version 2, with token or AppRole auth",
        OPTIONS,
        build,
    )
}

fn build(config: BackendConfig) -> Result<Arc<dyn VaultBackend>> {
    Ok(Arc::new(HashicorpBackend::new(&config)?))
}

/// How the backend authenticates.
#[derive(Clone)]
enum AuthMethod {
    /// A fixed token.
    Token(SecretString),
    /// AppRole login at [`APPROLE_MOUNT`].
    AppRole { role_id: String, secret_id: SecretString },
}

/// The validated options.
#[derive(Clone)]
struct Config {
    address: String,
    mount: String,
    namespace: Option<String>,
    /// Empty, or ends with `/`.
    prefix: String,
    auth: AuthMethod,
    ca_cert: Option<PathBuf>,
    timeout: Duration,
}

impl Config {
    fn parse(config: &BackendConfig) -> Result<Self> {
        let options = &config.options;
        let address = options.get("address").unwrap_or_default().trim().trim_end_matches('/').to_owned();
        match address.split_once("://") {
            Some(("http" | "https", host)) if !host.is_empty() && !host.contains(char::is_whitespace) => {}
            _ => {
                return Err(invalid(format!(
                    "option \"address\" must be an http:// or https:// URL, not {:?}",
                    lanyard_core::printable(&address, 200)
                )));
            }
        }
        let mount = options.get("mount").unwrap_or(DEFAULT_MOUNT).trim().trim_matches('/').to_owned();
        if mount.is_empty() || !legal_path(&mount) {
            return Err(invalid("option \"mount\" must be a path like secret or team/kv".into()));
        }
        let namespace = options.get("namespace").map(|ns| ns.trim().trim_matches('/').to_owned());
        if namespace.as_deref().is_some_and(|ns| ns.is_empty() || !legal_path(ns)) {
            return Err(invalid("option \"namespace\" must be a namespace path like team or team/dev".into()));
        }
        let prefix = options.get("prefix").unwrap_or(DEFAULT_PREFIX).trim().trim_matches('/').to_owned();
        if !prefix.is_empty() && !legal_path(&prefix) {
            return Err(invalid("option \"prefix\" must be a folder path like lanyard or team/lanyard".into()));
        }
        let prefix = if prefix.is_empty() { prefix } else { format!("{prefix}/") };
        let method = options.get("auth_method").unwrap_or("token").trim().to_ascii_lowercase();
        let auth = match method.as_str() {
            "token" => {
                if options.get("role_id").is_some() || options.secret("secret_id").is_some() {
                    return Err(invalid(
                        "options \"role_id\" and \"secret_id\" are for auth_method approle, not token".into(),
                    ));
                }
                let token = options
                    .secret("token")
                    .filter(|token| !token.expose_secret().trim().is_empty())
                    .ok_or_else(|| invalid("auth_method token needs the option \"token\"".into()))?;
                AuthMethod::Token(token.clone())
            }
            "approle" => {
                if options.secret("token").is_some() {
                    return Err(invalid("option \"token\" is for auth_method token, not approle".into()));
                }
                let role_id = options.get("role_id").map(str::trim).filter(|id| !id.is_empty());
                let secret_id = options.secret("secret_id").filter(|id| !id.expose_secret().trim().is_empty());
                let (Some(role_id), Some(secret_id)) = (role_id, secret_id) else {
                    return Err(invalid("auth_method approle needs the options \"role_id\" and \"secret_id\"".into()));
                };
                AuthMethod::AppRole { role_id: role_id.to_owned(), secret_id: secret_id.clone() }
            }
            other => {
                return Err(invalid(format!(
                    "option \"auth_method\" must be token or approle, not {:?}",
                    lanyard_core::printable(other, 40)
                )));
            }
        };
        let ca_cert = options.get("ca_cert").map(|path| PathBuf::from(path.trim()));
        if let Some(path) = &ca_cert {
            let pem = std::fs::read_to_string(path)
                .map_err(|error| invalid(format!("option \"ca_cert\": cannot read {}: {error}", path.display())))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(invalid(format!("option \"ca_cert\": {} holds no PEM certificate", path.display())));
            }
        }
        let timeout = options.parse::<u64>("timeout_ms")?.map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        Ok(Self { address, mount, namespace, prefix, auth, ca_cert, timeout })
    }

    fn method_name(&self) -> &'static str {
        match self.auth {
            AuthMethod::Token(_) => "token",
            AuthMethod::AppRole { .. } => "approle",
        }
    }
}

/// Whether `path` is a plain slash-separated path: no empty, `.` or `..` segment, no `?`, `#`, `%`, whitespace or
/// control characters.
fn legal_path(path: &str) -> bool {
    path.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..")
        && !path.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '%' | '\\'))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Config");
        debug
            .field("address", &self.address)
            .field("mount", &self.mount)
            .field("namespace", &self.namespace)
            .field("prefix", &self.prefix)
            .field("auth_method", &self.method_name());
        if let AuthMethod::AppRole { role_id, .. } = &self.auth {
            debug.field("role_id", role_id);
        }
        debug.field("ca_cert", &self.ca_cert).field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// The backend. `Debug` shows the address, mount, namespace, prefix and auth method, never a token or secret_id.
pub struct HashicorpBackend {
    config: Config,
    auth: Auth,
}

impl HashicorpBackend {
    /// Builds the backend from validated options (as the registry does). No request is made: a wrong address or
    /// credential shows on the first call, or in [`VaultBackend::probe`].
    pub fn new(config: &BackendConfig) -> Result<Self> {
        let config = Config::parse(config)?;
        // reqwest (through vaultrs) is built without a bundled crypto provider: use ring, as the rest of Lanyard.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another thread installing one is fine: one is installed either way.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let mut settings = VaultClientSettingsBuilder::default();
        settings
            .address(&config.address)
            .token(String::new())
            .verify(true)
            .identity(None)
            .timeout(Some(config.timeout))
            .ca_certs(config.ca_cert.iter().map(|path| path.to_string_lossy().into_owned()).collect())
            .namespace(config.namespace.clone());
        let settings = settings.build().map_err(|error| invalid(format!("cannot configure the client: {error}")))?;
        let client =
            VaultClient::new(settings).map_err(|error| invalid(format!("cannot build the client: {error}")))?;
        let auth = Auth::new(Arc::new(client), config.auth.clone());
        Ok(Self { config, auth })
    }

    /// How often it logged in and renewed its token (AppRole), for tests and diagnostics.
    pub fn auth_stats(&self) -> AuthStats {
        self.auth.stats()
    }

    /// The KV path (within the mount) of a profile.
    fn path_of(&self, profile: &Profile) -> String {
        match profile {
            Profile::Entry(id) => format!("{}vault/{id}", self.config.prefix),
            Profile::Backend(id) => format!("{}backend/{id}", self.config.prefix),
        }
    }

    /// Reads `path` (at `version`, else the current one): the `data` object and the version read.
    ///
    /// `GET <mount>/data/<path>` goes straight to vaultrs's HTTP client ([`auth::Authed::get_json`]): this is the
    /// resolver's hot path.
    async fn read(
        &self,
        operation: Operation,
        target: &str,
        path: &str,
        version: Option<u64>,
    ) -> Result<(serde_json::Map<String, serde_json::Value>, u64)> {
        #[derive(serde::Deserialize)]
        struct Answer {
            data: Option<Read>,
        }
        #[derive(serde::Deserialize)]
        struct Read {
            data: serde_json::Value,
            metadata: Metadata,
        }
        #[derive(serde::Deserialize)]
        struct Metadata {
            version: u64,
        }
        let mut url = format!("{}/v1/{}/data/{path}", self.config.address, self.config.mount);
        if let Some(version) = version {
            url.push_str(&format!("?version={version}"));
        }
        let answer: Answer = self
            .auth
            .call(operation, target, |client: Authed| {
                let url = url.clone();
                async move { client.get_json::<Answer>(&url).await }
            })
            .await?;
        let Some(read) = answer.data else {
            return Err(VaultError::new(ErrorKind::Unexpected, KIND, operation)
                .with_target(target)
                .with_detail("the KV answer has no data"));
        };
        let version = read.metadata.version;
        match read.data {
            serde_json::Value::Object(data) => Ok((data, version)),
            // A deleted (not destroyed) version reads as 404 on current servers; an old server answers null data.
            serde_json::Value::Null => Err(VaultError::new(ErrorKind::NotFound, KIND, operation)
                .with_target(target)
                .with_detail(format!("version {version} is deleted"))),
            _ => Err(VaultError::new(ErrorKind::Unexpected, KIND, operation)
                .with_target(target)
                .with_detail("the KV answer's data is not a JSON object")),
        }
    }

    /// Lists the keys under `folder` (within the mount); an absent folder lists nothing.
    async fn list_folder(&self, operation: Operation, folder: &str) -> Result<Vec<String>> {
        let mount = self.config.mount.clone();
        let folder = folder.to_owned();
        let target = format!("{}/{folder}", self.config.mount);
        let listed = self
            .auth
            .call(operation, &target, move |client: Authed| {
                let (mount, folder) = (mount.clone(), folder.clone());
                async move { vaultrs::kv2::list(&client, &mount, &folder).await }
            })
            .await;
        match listed {
            Ok(keys) => Ok(keys),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }
}

impl HashicorpBackend {
    /// `GET sys/internal/ui/mounts/<mount>` (Vault answers it for any token with some capability under the mount,
    /// 403 otherwise or when there is no such mount): the mount must be a KV version 2 secrets engine.
    async fn check_mount(&self) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Answer {
            data: Option<Mount>,
        }
        #[derive(serde::Deserialize)]
        struct Mount {
            #[serde(rename = "type", default)]
            engine: String,
            #[serde(default)]
            options: Option<HashMap<String, serde_json::Value>>,
        }
        let mount = &self.config.mount;
        let url = format!("{}/v1/sys/internal/ui/mounts/{mount}", self.config.address);
        let target = format!("{mount}/");
        let answer: Answer = self
            .auth
            .call(Operation::Probe, &target, |client: Authed| {
                let url = url.clone();
                async move { client.get_json::<Answer>(&url).await }
            })
            .await?;
        let not_kv2 = |what: String| {
            VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Probe)
                .with_target(target.clone())
                .with_detail(format!("the mount \"{mount}/\" is {what}, not a KV version 2 secrets engine"))
        };
        let Some(info) = answer.data else { return Err(not_kv2("described without data".into())) };
        let version = info.options.as_ref().and_then(|options| options.get("version")).map(|version| match version {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        });
        match (info.engine.as_str(), version.as_deref()) {
            ("kv", Some("2")) => Ok(()),
            ("kv" | "generic", _) => Err(not_kv2("KV version 1".into())),
            (engine, _) => Err(not_kv2(format!("a {:?} secrets engine", lanyard_core::printable(engine, 40)))),
        }
    }
}

impl fmt::Debug for HashicorpBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashicorpBackend").field("config", &self.config).finish_non_exhaustive()
    }
}

/// A linked external name, `path[?version=N]`, split.
fn parse_external(locator: &str) -> Result<(String, Option<u64>)> {
    let bad = |detail: String| {
        VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Get)
            .with_target(lanyard_core::printable(locator, 200))
            .with_detail(detail)
    };
    let (path, query) = match locator.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (locator, None),
    };
    let path = path.trim().trim_matches('/');
    if path.is_empty() || !legal_path(path) {
        return Err(bad("a linked Vault secret is a path within the mount, like app/db or app/db?version=3".into()));
    }
    let mut version = None;
    for pair in query.into_iter().flat_map(|query| query.split('&')) {
        match pair.split_once('=') {
            Some(("version", number)) => match number.parse::<u64>() {
                Ok(number) if number > 0 => version = Some(number),
                _ => return Err(bad(format!("version must be a positive whole number, not {number:?}"))),
            },
            _ => {
                return Err(bad(format!(
                    "unknown query {:?}: only ?version=N is understood",
                    lanyard_core::printable(pair, 60)
                )));
            }
        }
    }
    Ok((path.to_owned(), version))
}

#[async_trait]
impl VaultBackend for HashicorpBackend {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { store: true, link: true, ambient_identity: false }
    }

    /// `<prefix>/vault/<uuid>` (or `<prefix>/backend/<uuid>`), the KV path within the mount.
    fn physical_name(&self, profile: &Profile) -> String {
        self.path_of(profile)
    }

    async fn get(&self, secret: &SecretRef) -> Result<SecretValue> {
        match secret {
            SecretRef::Profile(profile) => {
                let target = profile.to_string();
                let (mut data, version) = self.read(Operation::Get, &target, &self.path_of(profile), None).await?;
                let encoded = match data.remove(MATERIAL_FIELD) {
                    Some(serde_json::Value::String(encoded)) => encoded,
                    _ => {
                        return Err(VaultError::new(ErrorKind::Unexpected, KIND, Operation::Get)
                            .with_target(target)
                            .with_detail(format!(
                                "the KV secret has no text field {MATERIAL_FIELD:?}; it was not written by lanyard"
                            )));
                    }
                };
                drop(data);
                let material = BASE64.decode(encoded.as_bytes()).map_err(|_| {
                    VaultError::new(ErrorKind::Unexpected, KIND, Operation::Get)
                        .with_target(profile.to_string())
                        .with_detail(format!("the field {MATERIAL_FIELD:?} is not base64"))
                })?;
                Ok(SecretValue::new(SecretBytes::new(material)).with_version(version.to_string()))
            }
            SecretRef::External(locator) => {
                let (path, version) = parse_external(locator)?;
                let target = lanyard_core::printable(locator, 200);
                let (data, read_version) = self.read(Operation::Get, &target, &path, version).await?;
                let text = serde_json::Value::Object(data).to_string();
                Ok(SecretValue::from(SecretString::new(text)).with_version(read_version.to_string()))
            }
        }
    }

    async fn put(&self, profile: &Profile, value: &SecretValue) -> Result<()> {
        let mount = self.config.mount.clone();
        let path = self.path_of(profile);
        let data = Arc::new(HashMap::from([(MATERIAL_FIELD, SecretString::new(BASE64.encode(value.expose_bytes())))]));
        self.auth
            .call(Operation::Put, &profile.to_string(), move |client: Authed| {
                let (mount, path, data) = (mount.clone(), path.clone(), data.clone());
                async move {
                    let data: HashMap<&str, &str> = data.iter().map(|(k, v)| (*k, v.expose_secret())).collect();
                    vaultrs::kv2::set(&client, &mount, &path, &data).await.map(drop)
                }
            })
            .await
    }

    async fn delete(&self, profile: &Profile) -> Result<()> {
        let mount = self.config.mount.clone();
        let path = self.path_of(profile);
        let deleted = self
            .auth
            .call(Operation::Delete, &profile.to_string(), move |client: Authed| {
                let (mount, path) = (mount.clone(), path.clone());
                async move { vaultrs::kv2::delete_metadata(&client, &mount, &path).await }
            })
            .await;
        match deleted {
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    async fn list(&self) -> Result<Vec<Profile>> {
        let mut profiles = Vec::new();
        for (folder, make) in [
            ("vault/", (|id| id.parse().ok().map(Profile::Entry)) as fn(&str) -> Option<Profile>),
            ("backend/", |id| id.parse().ok().map(Profile::Backend)),
        ] {
            let folder = format!("{}{folder}", self.config.prefix);
            for key in self.list_folder(Operation::List, &folder).await? {
                // Sub-folders end in '/'; anything that is not a profile id is not ours.
                if let Some(profile) = make(&key) {
                    profiles.push(profile);
                }
            }
        }
        profiles.sort();
        Ok(profiles)
    }

    /// Two steps: `token lookup-self` (after an AppRole login, for that method), then a read of the mount
    /// ([`HashicorpBackend::check_mount`]), which any token with some capability under the mount may make — a
    /// storage used only for linked secrets under a read-only policy passes.
    async fn probe(&self) -> Result<ProbeReport> {
        let mut report = ProbeReport::default();
        let lookup = report
            .run("token lookup-self", async {
                self.auth
                    .call(Operation::Probe, "token", |client: Authed| async move {
                        vaultrs::token::lookup_self(&client).await.map(drop)
                    })
                    .await
            })
            .await;
        if lookup.is_none() {
            return Ok(report);
        }
        let step = format!("read mount {}/", self.config.mount);
        report.run(step, self.check_mount()).await;
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
