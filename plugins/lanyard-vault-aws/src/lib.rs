//! `lanyard-vault-aws` is the `aws` vault backend: material kept in AWS Secrets Manager under a configured prefix,
//! linked external secrets read by name or ARN (with a version stage or version id), and the plugin's own AWS
//! credentials lent as the ambient identity of connections that name the storage (`ALTER CONNECTION raw_data_s3 SET
//! CREDENTIAL STORAGE = prod_aws_sm_eu` makes the s3 connection sign with them).
//!
//! What it is not: a cache (every `get` is one `GetSecretValue`; the resolver coalesces and bounds calls), nor a
//! retrier (the SDK's own retries are off: the resolver retries by [`ErrorKind`], honouring `Retry-After`). It
//! knows nothing about the catalog; the AWS SDK lives only in this crate, compiled when the binary's `vault-aws`
//! feature is on.
//!
//! Options (besides the common ones `lanyard-vault` adds; `timeout_ms` also bounds each SDK operation):
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `region` | the default chain's (`AWS_REGION`, profile) | AWS region of Secrets Manager (and STS) |
//! | `endpoint_url` | AWS's | another endpoint (`http://127.0.0.1:5000` for moto) |
//! | `secrets_manager_prefix` | `lanyard/` | prefix of physical names: `<prefix>vault/<uuid>`, `<prefix>backend/<uuid>` |
//! | `auth_method` | `default_chain` | `default_chain`, `access_key` or `assume_role` |
//! | `access_key_id` | none | access key id (`access_key`; optional base keys of `assume_role`) |
//! | `secret_access_key` | none | secret access key (secret: stripped from the catalog row) |
//! | `session_token` | none | session token of temporary keys (secret) |
//! | `role_arn` | none | the role to assume (`assume_role`) |
//! | `external_id` | none | external id the role's trust policy requires (`assume_role`) |
//! | `role_session_name` | `lanyard-<backend id>` | session name of the assumed role (`assume_role`) |
//!
//! Linked names (`LINKED EXTERNAL SECRET`): `name-or-arn[#json_key][?version_stage=AWSPREVIOUS|&version_id=…]`; the
//! resolver applies `#json_key`, [`AwsBackend::get`] gets the rest (see [`Locator`]).

mod error;
mod locator;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use lanyard_core::{BackendId, OptionKey, OptionMap, SecretBytes, SecretString};
use lanyard_vault::{
    AmbientIdentity, BackendConfig, Capabilities, ErrorKind, Operation, OptionSpec, ProbeReport, Profile, Result,
    SecretRef, SecretValue, VaultBackend, VaultError, async_trait,
};

pub use error::classify_code;
pub use locator::Locator;

/// The kind this crate registers.
pub const KIND: &str = "aws";

/// The prefix of physical names when `secrets_manager_prefix` is not given.
pub const DEFAULT_PREFIX: &str = "lanyard/";

/// The per-operation timeout when `timeout_ms` is not given (the resolver's default call timeout).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Temporary credentials are lent while they have at least this long left.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

/// The staging label of a version that holds empty material. AWS (and moto) keep no empty `SecretString` or
/// `SecretBinary`, so an empty value is written as the one-byte binary `[0]` with this label, and read back as empty.
pub const EMPTY_STAGE: &str = "LANYARD_EMPTY";

/// AWS's longest secret name.
const MAX_NAME_LEN: usize = 512;

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "region",
        required: false,
        secret: false,
        help: "AWS region of Secrets Manager and STS (default: the default chain's, AWS_REGION or the profile)",
    },
    OptionSpec {
        name: "endpoint_url",
        required: false,
        secret: false,
        help: "endpoint of Secrets Manager and STS instead of AWS's (http:// allowed, e.g. moto)",
    },
    OptionSpec {
        name: "secrets_manager_prefix",
        required: false,
        secret: false,
        help: "prefix of the secret names Lanyard stores (default lanyard/; characters A-Za-z0-9/_+=.@-)",
    },
    OptionSpec {
        name: "auth_method",
        required: false,
        secret: false,
        help: "default_chain, access_key or assume_role (default default_chain)",
    },
    OptionSpec {
        name: "access_key_id",
        required: false,
        secret: false,
        help: "access key id (auth_method access_key; optional base credentials of assume_role)",
    },
    OptionSpec {
        name: "secret_access_key",
        required: false,
        secret: true,
        help: "secret access key that goes with access_key_id",
    },
    OptionSpec { name: "session_token", required: false, secret: true, help: "session token of temporary access keys" },
    OptionSpec { name: "role_arn", required: false, secret: false, help: "ARN of the role to assume (assume_role)" },
    OptionSpec {
        name: "external_id",
        required: false,
        secret: false,
        help: "external id required by the role's trust policy (assume_role)",
    },
    OptionSpec {
        name: "role_session_name",
        required: false,
        secret: false,
        help: "session name of the assumed role (assume_role; default lanyard-<backend id>)",
    },
];

lanyard_vault::inventory::submit! {
    lanyard_vault::BackendFactory::new(
        env!("CARGO_PKG_NAME"),
        KIND,
        "AWS Secrets Manager; lends its AWS credentials to s3 connections",
        OPTIONS,
        build,
    )
}

fn build(config: BackendConfig) -> Result<Arc<dyn VaultBackend>> {
    Ok(Arc::new(AwsBackend::new(Config::parse(&config)?)))
}

fn invalid(detail: impl Into<String>) -> VaultError {
    VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build).with_detail(detail)
}

/// How the plugin authenticates to AWS (option `auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// The SDK's default credential chain: environment, profile files, web identity, ECS/EC2 instance metadata.
    #[default]
    DefaultChain,
    /// The static `access_key_id` / `secret_access_key` (/ `session_token`) options.
    AccessKey,
    /// STS AssumeRole of `role_arn` (with `external_id`), from the static keys if given, else the default chain.
    AssumeRole,
}

impl AuthMethod {
    const ALL: [AuthMethod; 3] = [Self::DefaultChain, Self::AccessKey, Self::AssumeRole];

    /// The option value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DefaultChain => "default_chain",
            Self::AccessKey => "access_key",
            Self::AssumeRole => "assume_role",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuthMethod {
    type Err = VaultError;

    fn from_str(s: &str) -> Result<Self> {
        let given = s.trim();
        Self::ALL.into_iter().find(|method| method.as_str().eq_ignore_ascii_case(given)).ok_or_else(|| {
            let valid: Vec<_> = Self::ALL.iter().map(|m| m.as_str()).collect();
            invalid(format!(
                "option \"auth_method\" must be one of {}, not {:?}",
                valid.join(", "),
                lanyard_core::printable(given, 64)
            ))
        })
    }
}

/// Static keys. `Debug` shows the key id only.
#[derive(Clone)]
struct StaticKeys {
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
}

impl StaticKeys {
    fn credentials(&self) -> Credentials {
        Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose_secret().to_owned(),
            self.session_token.as_ref().map(|token| token.expose_secret().to_owned()),
            None,
            "lanyard-options",
        )
    }
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKeys")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.is_some())
            .finish_non_exhaustive()
    }
}

/// The validated options. `Debug` leaves out the secret access key and the session token.
#[derive(Clone)]
pub struct Config {
    region: Option<String>,
    endpoint_url: Option<String>,
    prefix: String,
    method: AuthMethod,
    keys: Option<StaticKeys>,
    role_arn: Option<String>,
    external_id: Option<String>,
    role_session_name: String,
    timeout: Duration,
}

impl Config {
    /// Validates the options of `config`: values, and which combinations of auth options make sense.
    pub fn parse(config: &BackendConfig) -> Result<Self> {
        let options = &config.options;
        let text = |key: &str| -> Result<Option<String>> {
            match options.get(key).map(str::trim) {
                Some("") => Err(invalid(format!("option {key:?} must not be empty"))),
                Some(value) => Ok(Some(value.to_owned())),
                None => Ok(None),
            }
        };
        let secret = |key: &str| -> Result<Option<SecretString>> {
            match options.secret(key) {
                Some(value) if value.expose_secret().trim().is_empty() => {
                    Err(invalid(format!("option {key:?} must not be empty")))
                }
                Some(value) => Ok(Some(SecretString::new(value.expose_secret().trim()))),
                None => Ok(None),
            }
        };
        let region = text("region")?;
        if let Some(region) = &region
            && !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(format!(
                "option \"region\" must be an AWS region such as eu-west-1, not {:?}",
                lanyard_core::printable(region, 64)
            )));
        }
        let endpoint_url = text("endpoint_url")?;
        if let Some(endpoint) = &endpoint_url {
            let parsed = url::Url::parse(endpoint).ok().filter(|url| matches!(url.scheme(), "http" | "https"));
            if parsed.is_none_or(|url| url.host_str().is_none()) {
                return Err(invalid(format!(
                    "option \"endpoint_url\" must be an http:// or https:// URL, not {:?}",
                    lanyard_core::printable(endpoint, 200)
                )));
            }
        }
        let prefix = options.get("secrets_manager_prefix").map_or(DEFAULT_PREFIX, str::trim).to_owned();
        if let Some(bad) = prefix.chars().find(|c| !is_name_char(*c)) {
            return Err(invalid(format!(
                "option \"secrets_manager_prefix\" may hold only A-Za-z0-9/_+=.@- (AWS secret names), not {bad:?}"
            )));
        }
        if prefix.len() + "backend/".len() + 36 > MAX_NAME_LEN {
            return Err(invalid(format!(
                "option \"secrets_manager_prefix\" is too long: names under it would exceed AWS's {MAX_NAME_LEN} \
                 characters"
            )));
        }
        let method = options.get("auth_method").map(str::parse::<AuthMethod>).transpose()?.unwrap_or_default();
        let access_key_id = text("access_key_id")?;
        let secret_access_key = secret("secret_access_key")?;
        let session_token = secret("session_token")?;
        let role_arn = text("role_arn")?;
        let external_id = text("external_id")?;
        let role_session_name = text("role_session_name")?;

        let given_keys: Vec<&str> = [
            ("access_key_id", access_key_id.is_some()),
            ("secret_access_key", secret_access_key.is_some()),
            ("session_token", session_token.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect();
        let given_role: Vec<&str> = [
            ("role_arn", role_arn.is_some()),
            ("external_id", external_id.is_some()),
            ("role_session_name", role_session_name.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect();
        if method != AuthMethod::AssumeRole && !given_role.is_empty() {
            return Err(invalid(format!(
                "option(s) {} are used only with auth_method = 'assume_role', not '{method}'",
                given_role.join(", ")
            )));
        }
        let keys = match (access_key_id, secret_access_key) {
            (Some(access_key_id), Some(secret_access_key)) => {
                Some(StaticKeys { access_key_id, secret_access_key, session_token })
            }
            (None, None) if session_token.is_some() => {
                return Err(invalid(
                    "option \"session_token\" needs \"access_key_id\" and \"secret_access_key\" with it",
                ));
            }
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(invalid("options \"access_key_id\" and \"secret_access_key\" go together: give both"));
            }
        };
        match method {
            AuthMethod::DefaultChain if !given_keys.is_empty() => {
                return Err(invalid(format!(
                    "option(s) {} are not used with auth_method = 'default_chain' (the default chain finds its own \
                     credentials); set auth_method = 'access_key' to use them",
                    given_keys.join(", ")
                )));
            }
            AuthMethod::AccessKey if keys.is_none() => {
                return Err(invalid(
                    "auth_method = 'access_key' needs the options \"access_key_id\" and \"secret_access_key\"",
                ));
            }
            AuthMethod::AssumeRole if role_arn.is_none() => {
                return Err(invalid("auth_method = 'assume_role' needs the option \"role_arn\""));
            }
            _ => {}
        }
        let role_session_name = role_session_name.unwrap_or_else(|| format!("lanyard-{}", config.backend_id));
        if !(2..=64).contains(&role_session_name.len())
            || !role_session_name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        {
            return Err(invalid(
                "option \"role_session_name\" must be 2 to 64 characters of A-Za-z0-9_+=,.@- (AWS's rule)",
            ));
        }
        let timeout = options.parse::<u64>("timeout_ms")?.map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        if timeout.is_zero() {
            return Err(invalid("option \"timeout_ms\" must be at least 1"));
        }
        Ok(Self { region, endpoint_url, prefix, method, keys, role_arn, external_id, role_session_name, timeout })
    }

    /// The physical-name prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The auth method.
    pub fn auth_method(&self) -> AuthMethod {
        self.method
    }

    /// What the identity is, for probe steps and traces (no key material).
    fn identity(&self) -> String {
        match self.method {
            AuthMethod::DefaultChain => "AWS default credential chain".to_owned(),
            AuthMethod::AccessKey => "static access key".to_owned(),
            AuthMethod::AssumeRole => format!(
                "role {:?} assumed as session {:?} (from {})",
                self.role_arn.as_deref().unwrap_or_default(),
                self.role_session_name,
                if self.keys.is_some() { "static access key" } else { "the default credential chain" }
            ),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("prefix", &self.prefix)
            .field("auth_method", &self.method)
            .field("keys", &self.keys)
            .field("role_arn", &self.role_arn)
            .field("external_id", &self.external_id)
            .field("role_session_name", &self.role_session_name)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Whether AWS allows `c` in a secret name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)
}

/// The SDK client and the credentials provider it signs with, built on first use.
struct Session {
    client: Client,
    credentials: SharedCredentialsProvider,
}

/// The AWS Secrets Manager backend.
///
/// Capabilities: store, link and ambient identity. `build` only validates options; the SDK configuration (region
/// and credential chains, which are async) is loaded on first use and kept. `Debug` shows the [`Config`] only.
pub struct AwsBackend {
    config: Config,
    session: tokio::sync::OnceCell<Session>,
    /// The last credentials lent as ambient identity, reused while they have [`CREDENTIALS_MARGIN`] left.
    lent: Mutex<Option<Credentials>>,
}

impl AwsBackend {
    /// A backend with the validated `config`; nothing is contacted yet.
    pub fn new(config: Config) -> Self {
        Self { config, session: tokio::sync::OnceCell::new(), lent: Mutex::new(None) }
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The physical name of `profile` parsed back, if it is one of ours.
    fn profile_of(&self, name: &str) -> Option<Profile> {
        let rest = name.strip_prefix(&self.config.prefix)?;
        if let Some(id) = rest.strip_prefix("vault/") {
            format!("{}{id}", Profile::ENTRY_PREFIX).parse().ok()
        } else if let Some(id) = rest.strip_prefix("backend/") {
            format!("{}{id}", Profile::BACKEND_PREFIX).parse().ok()
        } else {
            None
        }
    }

    async fn session(&self, operation: Operation) -> Result<&Session> {
        self.session.get_or_try_init(|| self.connect(operation)).await
    }

    /// Loads the SDK configuration: the HTTPS client, region, endpoint, credentials, no SDK retries, the timeout.
    async fn connect(&self, operation: Operation) -> Result<Session> {
        let config = &self.config;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let timeouts =
            TimeoutConfig::builder().operation_timeout(config.timeout).connect_timeout(config.timeout).build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts);
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &config.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(keys) = &config.keys {
            loader = loader.credentials_provider(keys.credentials());
        }
        let base: SdkConfig = loader.load().await;
        if base.region().is_none() {
            return Err(VaultError::new(ErrorKind::ConfigInvalid, KIND, operation).with_detail(
                "no AWS region: set the option \"region\" (the default chain found none in AWS_REGION or a profile)",
            ));
        }
        let sdk = match config.method {
            AuthMethod::AssumeRole => {
                let role = config.role_arn.clone().unwrap_or_default();
                let mut builder =
                    AssumeRoleProvider::builder(role).configure(&base).session_name(&config.role_session_name);
                if let Some(external_id) = &config.external_id {
                    builder = builder.external_id(external_id);
                }
                let provider = builder.build().await;
                base.into_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build()
            }
            AuthMethod::DefaultChain | AuthMethod::AccessKey => base,
        };
        let credentials = sdk.credentials_provider().ok_or_else(|| {
            VaultError::new(ErrorKind::ConfigInvalid, KIND, operation)
                .with_detail("the AWS SDK configuration has no credentials provider")
        })?;
        Ok(Session { client: Client::new(&sdk), credentials })
    }

    /// Credentials from the plugin's provider, cached while they stay valid for [`CREDENTIALS_MARGIN`].
    async fn credentials(&self, operation: Operation) -> Result<Credentials> {
        {
            let lent = self.lent.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(credentials) = lent.as_ref()
                && credentials.expiry().is_none_or(|expiry| expiry > SystemTime::now() + CREDENTIALS_MARGIN)
            {
                return Ok(credentials.clone());
            }
        }
        let session = self.session(operation).await?;
        let credentials = session
            .credentials
            .provide_credentials()
            .await
            .map_err(|error| error::from_credentials(&error, operation))?;
        *self.lent.lock().unwrap_or_else(|e| e.into_inner()) = Some(credentials.clone());
        Ok(credentials)
    }

    /// The name filters that select our physical names (`<prefix>vault/`, `<prefix>backend/`).
    fn name_filter(&self) -> Filter {
        Filter::builder()
            .key(FilterNameStringType::Name)
            .values(format!("{}vault/", self.config.prefix))
            .values(format!("{}backend/", self.config.prefix))
            .build()
    }

    async fn put_new_version(&self, client: &Client, name: &str, value: &SecretValue) -> Result<()> {
        let (string, binary) = material(value);
        // An empty value is a one-byte binary version carrying the EMPTY_STAGE label (AWS and moto store no empty
        // value); the label moves to whichever version is written empty next, so it only ever marks one.
        let stages = value.is_empty().then(|| vec!["AWSCURRENT".to_owned(), EMPTY_STAGE.to_owned()]);
        client
            .put_secret_value()
            .secret_id(name)
            .set_secret_string(string)
            .set_secret_binary(binary)
            .set_version_stages(stages)
            .send()
            .await
            .map(drop)
            .map_err(|error| error::from_sdk(&error, Operation::Put))
    }
}

/// UTF-8 material as `SecretString`, other bytes as `SecretBinary`; empty material as the binary `[0]` (see
/// [`EMPTY_STAGE`]).
fn material(value: &SecretValue) -> (Option<String>, Option<Blob>) {
    if value.is_empty() {
        return (None, Some(Blob::new(vec![0])));
    }
    match std::str::from_utf8(value.expose_bytes()) {
        Ok(text) => (Some(text.to_owned()), None),
        Err(_) => (None, Some(Blob::new(value.expose_bytes().to_vec()))),
    }
}

impl fmt::Debug for AwsBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsBackend").field("config", &self.config).finish_non_exhaustive()
    }
}

#[async_trait]
impl VaultBackend for AwsBackend {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { store: true, link: true, ambient_identity: true }
    }

    fn physical_name(&self, profile: &Profile) -> String {
        match profile {
            Profile::Entry(id) => format!("{}vault/{id}", self.config.prefix),
            Profile::Backend(id) => format!("{}backend/{id}", self.config.prefix),
        }
    }

    async fn get(&self, secret: &SecretRef) -> Result<SecretValue> {
        let (locator, target) = match secret {
            SecretRef::Profile(profile) => (Locator::name(self.physical_name(profile)), profile.to_string()),
            SecretRef::External(name) => (Locator::parse(name)?, name.clone()),
        };
        let with_target = |error: VaultError| error.with_target(target.clone());
        let session = self.session(Operation::Get).await.map_err(with_target)?;
        let mut answer = session
            .client
            .get_secret_value()
            .secret_id(&locator.secret_id)
            .set_version_stage(locator.version_stage.clone())
            .set_version_id(locator.version_id.clone())
            .send()
            .await
            .map_err(|error| with_target(error::from_sdk(&error, Operation::Get)))?;
        let empty = answer.version_stages().iter().any(|stage| stage == EMPTY_STAGE);
        let bytes = match (answer.secret_string.take(), answer.secret_binary.take()) {
            (_, Some(_)) if empty => Vec::new(),
            (Some(text), _) => text.into_bytes(),
            (None, Some(binary)) => binary.into_inner(),
            (None, None) => {
                return Err(with_target(
                    VaultError::new(ErrorKind::Unexpected, KIND, Operation::Get)
                        .with_detail("the secret version has neither SecretString nor SecretBinary"),
                ));
            }
        };
        let value = SecretValue::new(SecretBytes::new(bytes));
        Ok(match answer.version_id.take() {
            Some(version) => value.with_version(version),
            None => value,
        })
    }

    async fn put(&self, profile: &Profile, value: &SecretValue) -> Result<()> {
        let target = profile.to_string();
        let session = self.session(Operation::Put).await.map_err(|e| e.with_target(target.clone()))?;
        let name = self.physical_name(profile);
        // An empty value needs its staging label, which only PutSecretValue sets: create the secret without one.
        let (string, binary) = if value.is_empty() { (None, None) } else { material(value) };
        let created = session
            .client
            .create_secret()
            .name(&name)
            .description(format!("lanyard material of {profile}"))
            .set_secret_string(string)
            .set_secret_binary(binary)
            .send()
            .await;
        match created {
            Ok(_) if !value.is_empty() => Ok(()),
            Ok(_) => self.put_new_version(&session.client, &name, value).await.map_err(|e| e.with_target(target)),
            Err(error) if error::code(&error) == Some("ResourceExistsException") => {
                self.put_new_version(&session.client, &name, value).await.map_err(|e| e.with_target(target))
            }
            Err(error) => Err(error::from_sdk(&error, Operation::Put).with_target(target)),
        }
    }

    async fn delete(&self, profile: &Profile) -> Result<()> {
        let target = profile.to_string();
        let session = self.session(Operation::Delete).await.map_err(|e| e.with_target(target.clone()))?;
        let deleted = session
            .client
            .delete_secret()
            .secret_id(self.physical_name(profile))
            .force_delete_without_recovery(true)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = error::from_sdk(&error, Operation::Delete).with_target(target);
                if error.kind() == ErrorKind::NotFound { Ok(()) } else { Err(error) }
            }
        }
    }

    async fn list(&self) -> Result<Vec<Profile>> {
        let session = self.session(Operation::List).await?;
        let mut profiles = Vec::new();
        let mut next_token = None;
        loop {
            let page = session
                .client
                .list_secrets()
                .filters(self.name_filter())
                .max_results(100)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|error| error::from_sdk(&error, Operation::List).with_target(self.config.prefix.clone()))?;
            profiles.extend(page.secret_list().iter().filter_map(|entry| self.profile_of(entry.name()?)));
            match page.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => break,
            }
        }
        profiles.sort_unstable();
        profiles.dedup();
        Ok(profiles)
    }

    /// Resolves the plugin's credentials, then lists at most one secret under the prefix (`ListSecrets`
    /// `MaxResults=1` with a name filter): reachability, region, endpoint and the identity's read permission,
    /// without writing anything.
    async fn probe(&self) -> Result<ProbeReport> {
        let mut report = ProbeReport::default();
        let step = format!("get credentials ({})", self.config.identity());
        if report.run(step, self.credentials(Operation::Probe)).await.is_none() {
            return Ok(report);
        }
        let step = format!("list one secret under prefix {:?}", self.config.prefix);
        report
            .run(step, async {
                let session = self.session(Operation::Probe).await?;
                session
                    .client
                    .list_secrets()
                    .filters(self.name_filter())
                    .max_results(1)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|error| error::from_sdk(&error, Operation::Probe).with_target(self.config.prefix.clone()))
            })
            .await;
        Ok(report)
    }

    /// The credentials the plugin itself signs with, under the keys the s3 connector reads: `access_key_id`,
    /// `secret_access_key` and, for temporary credentials, `session_token`.
    async fn ambient_identity(&self) -> Result<AmbientIdentity> {
        let credentials = self.credentials(Operation::AmbientIdentity).await?;
        let mut options = OptionMap::new();
        let mut insert = |key: &str, value: &str| {
            options.insert(OptionKey::new(key).expect("a valid option key"), value);
        };
        insert("access_key_id", credentials.access_key_id());
        insert("secret_access_key", credentials.secret_access_key());
        if let Some(token) = credentials.session_token() {
            insert("session_token", token);
        }
        Ok(AmbientIdentity { backend_kind: KIND, description: self.config.identity(), options })
    }
}

/// A backend for direct use without the registry (tests, benchmarks): `options` are validated as the registry
/// does, `backend_id` names the backend.
pub fn new_backend(backend_id: BackendId, options: &[(&str, &str)]) -> Result<AwsBackend> {
    let factory = lanyard_vault::Registry::global().map_err(|error| invalid(error.to_string()))?.factory(KIND)?;
    let options = factory.validate(options.iter().map(|(key, value)| (*key, *value)))?;
    let config = BackendConfig { backend_id, name: "aws".to_owned(), options, env: Default::default() };
    Ok(AwsBackend::new(Config::parse(&config)?))
}

#[cfg(test)]
mod tests;
