//! `lanyard-vault-azure` is the `azure` vault backend: material kept as Azure Key Vault secrets, read and written
//! through Microsoft's `azure_security_keyvault_secrets` client with an `azure_identity` credential (client secret,
//! managed identity, workload identity or the Azure CLI's login), and the identity lent to `azure_adls`
//! connections that name the storage.
//!
//! What it is not: a Key Vault administrator. It creates no vault, grants no access and never purges: it reads,
//! writes new versions of and (soft-)deletes the secrets under its prefix, reads linked secrets, and lists. It does
//! not retry: the SDK's retries are off, and the resolver retries by error kind, honouring Key Vault's
//! `Retry-After`.
//!
//! Options (besides the common ones `lanyard-vault` adds, such as `timeout_ms`; `docs/backends.md` (section `azure`) has the
//! whole story):
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `key_vault_name` | — | the vault's name: `https://<name>.vault.azure.net` (give this or `vault_url`) |
//! | `vault_url` | — | the vault's URL, for other clouds or a private endpoint (give this or `key_vault_name`) |
//! | `auth_method` | `client_secret` when `client_secret` is set | `client_secret`, `managed_identity`, `workload_identity` or `azure_cli` |
//! | `tenant_id` | — | the directory (tenant) id; required for `client_secret` |
//! | `client_id` | — | the app's client id (`client_secret`), or the user-assigned identity's (`managed_identity`, `workload_identity`) |
//! | `client_secret` | — | the app's client secret (**secret**: kept in the local vault, never in the catalog) |
//! | `prefix` | empty | prefix of physical names, `0-9a-zA-Z-` only |
//! | `authority_host` | Azure public cloud (or `AZURE_AUTHORITY_HOST`) | the Entra ID endpoint, `https://…`; for sovereign clouds and test doubles |
//! | `ca_cert` | none | a PEM file of extra trusted root certificates; for test doubles and TLS-inspecting proxies |
//!
//! Physical names: `<prefix>vault--<entry uuid>` and `<prefix>backend--<backend uuid>` (Key Vault allows only
//! `0-9a-zA-Z-`). Linked names: `name` or `name/version`; the resolver applies `#field`. Material: UTF-8 as is,
//! other bytes base64 with content type `application/octet-stream;base64`, values over Key Vault's 25 KiB limit in
//! parts (see `material`).

mod errors;
mod material;
mod names;
mod transport;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{Secret as AzureSecret, TokenCredential};
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use azure_security_keyvault_secrets::models::{
    SecretClientGetSecretOptions, SecretClientListSecretPropertiesOptions, SetSecretParameters,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use futures::TryStreamExt as _;
use lanyard_core::{OptionKey, OptionMap, SecretBytes, SecretString, printable};
use lanyard_vault::{
    AmbientIdentity, BackendConfig, Capabilities, ErrorKind, Operation, OptionSpec, ProbeReport, Profile, Result,
    SecretRef, SecretValue, VaultBackend, VaultError, async_trait,
};

use crate::errors::{classify, is_not_found};
use crate::material::Stored;

/// The kind this crate registers.
pub const KIND: &str = "azure";

/// The default per-call timeout when `timeout_ms` is not given (the resolver's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// The Key Vault audience of the public cloud; other clouds' vault hosts name their own.
const PUBLIC_VAULT_RESOURCE: &str = "https://vault.azure.net";

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "key_vault_name",
        required: false,
        secret: false,
        help: "the vault's name, for https://<name>.vault.azure.net (give this or vault_url)",
    },
    OptionSpec {
        name: "vault_url",
        required: false,
        secret: false,
        help: "the vault's URL, https://… (give this or key_vault_name)",
    },
    OptionSpec {
        name: "auth_method",
        required: false,
        secret: false,
        help: "client_secret, managed_identity, workload_identity or azure_cli (default: client_secret when \
               client_secret is given)",
    },
    OptionSpec {
        name: "tenant_id",
        required: false,
        secret: false,
        help: "the directory (tenant) id; required for client_secret",
    },
    OptionSpec {
        name: "client_id",
        required: false,
        secret: false,
        help: "the app's client id (client_secret), or a user-assigned identity's (managed_identity, workload_identity)",
    },
    OptionSpec {
        name: "client_secret",
        required: false,
        secret: true,
        help: "the app's client secret (client_secret)",
    },
    OptionSpec {
        name: "prefix",
        required: false,
        secret: false,
        help: "prefix of physical secret names, 0-9a-zA-Z- only (default: none)",
    },
    OptionSpec {
        name: "authority_host",
        required: false,
        secret: false,
        help: "the Entra ID endpoint, https://… (default: the public cloud, or AZURE_AUTHORITY_HOST); for sovereign \
               clouds and test doubles",
    },
    OptionSpec {
        name: "ca_cert",
        required: false,
        secret: false,
        help: "a PEM file of extra trusted root certificates (default: none); for test doubles and TLS-inspecting \
               proxies",
    },
];

lanyard_vault::inventory::submit! {
    lanyard_vault::BackendFactory::new(
        env!("CARGO_PKG_NAME"),
        KIND,
        "Azure Key Vault secrets, with a client secret, managed identity, workload identity or Azure CLI login",
        OPTIONS,
        build,
    )
}

fn build(config: BackendConfig) -> Result<Arc<dyn VaultBackend>> {
    Ok(Arc::new(AzureBackend::new(Config::parse(&config)?)?))
}

/// How the backend authenticates to Entra ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// An app registration's client secret (`tenant_id`, `client_id`, `client_secret`).
    ClientSecret,
    /// The managed identity of the Azure host (system-assigned, or user-assigned with `client_id`).
    ManagedIdentity,
    /// Workload identity federation (AKS): `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`.
    WorkloadIdentity,
    /// The login of the Azure CLI (`az login`) on the server's host.
    AzureCli,
}

impl AuthMethod {
    const ALL: [(&'static str, AuthMethod); 4] = [
        ("client_secret", Self::ClientSecret),
        ("managed_identity", Self::ManagedIdentity),
        ("workload_identity", Self::WorkloadIdentity),
        ("azure_cli", Self::AzureCli),
    ];

    /// The option value.
    pub fn label(self) -> &'static str {
        Self::ALL.iter().find(|(_, m)| *m == self).map(|(l, _)| *l).unwrap_or_default()
    }
}

/// The validated options. `Debug` leaves the client secret out.
pub struct Config {
    vault_url: url::Url,
    auth_method: AuthMethod,
    tenant_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    prefix: String,
    authority_host: Option<String>,
    ca_cert: Option<std::path::PathBuf>,
    extra_roots: Vec<reqwest::Certificate>,
    timeout: Duration,
}

impl Config {
    /// Validates the options of `config`.
    pub fn parse(config: &BackendConfig) -> Result<Self> {
        let options = &config.options;
        let invalid =
            |detail: String| VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build).with_detail(detail);
        let text = |key: &str| options.get(key).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);

        let vault_url = match (text("key_vault_name"), text("vault_url")) {
            (Some(_), Some(_)) => {
                return Err(invalid("give either \"key_vault_name\" or \"vault_url\", not both".into()));
            }
            (None, None) => return Err(invalid("missing option: \"key_vault_name\" or \"vault_url\"".into())),
            (Some(name), None) => {
                let legal = (3..=24).contains(&name.len()) && names::is_legal_text(&name);
                if !legal {
                    return Err(invalid(format!(
                        "option \"key_vault_name\" must be 3 to 24 characters of 0-9, a-z, A-Z and '-', not {:?}",
                        printable(&name, 64)
                    )));
                }
                format!("https://{name}.vault.azure.net")
            }
            (None, Some(url)) => url,
        };
        let vault_url = url::Url::parse(&vault_url)
            .ok()
            .filter(|u| u.scheme() == "https" && u.host_str().is_some())
            .ok_or_else(|| {
                invalid(format!("option \"vault_url\" must be an https:// URL, not {:?}", printable(&vault_url, 200)))
            })?;

        let client_secret = options.secret("client_secret").filter(|s| !s.expose_secret().is_empty()).cloned();
        let auth_method = match text("auth_method") {
            Some(method) => AuthMethod::ALL
                .iter()
                .find(|(label, _)| label.eq_ignore_ascii_case(&method))
                .map(|(_, m)| *m)
                .ok_or_else(|| {
                    invalid(format!(
                        "option \"auth_method\" must be one of client_secret, managed_identity, workload_identity, \
                         azure_cli; not {:?}",
                        printable(&method, 64)
                    ))
                })?,
            None if client_secret.is_some() => AuthMethod::ClientSecret,
            None => {
                return Err(invalid(
                    "missing option \"auth_method\" (client_secret, managed_identity, workload_identity or azure_cli)"
                        .into(),
                ));
            }
        };
        let tenant_id = text("tenant_id");
        let client_id = text("client_id");
        match auth_method {
            AuthMethod::ClientSecret => {
                let missing: Vec<&str> = [
                    ("tenant_id", tenant_id.is_none()),
                    ("client_id", client_id.is_none()),
                    ("client_secret", client_secret.is_none()),
                ]
                .into_iter()
                .filter_map(|(key, missing)| missing.then_some(key))
                .collect();
                if !missing.is_empty() {
                    return Err(invalid(format!("auth_method client_secret needs option(s): {}", missing.join(", "))));
                }
            }
            _ if client_secret.is_some() => {
                return Err(invalid(format!(
                    "option \"client_secret\" is only used with auth_method client_secret, not {}",
                    auth_method.label()
                )));
            }
            _ => {}
        }

        let prefix = options.get("prefix").unwrap_or_default().trim().to_owned();
        if !names::is_legal_text(&prefix) || prefix.len() > names::MAX_PREFIX {
            return Err(invalid(format!(
                "option \"prefix\" may hold only 0-9, a-z, A-Z and '-', at most {} characters (Key Vault's secret \
                 names allow nothing else), not {:?}",
                names::MAX_PREFIX,
                printable(&prefix, 80)
            )));
        }

        let authority_host = text("authority_host");
        if let Some(host) = &authority_host {
            let ok = url::Url::parse(host).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
            if !ok {
                return Err(invalid(format!(
                    "option \"authority_host\" must be an https:// URL, not {:?}",
                    printable(host, 200)
                )));
            }
        }

        let ca_cert = text("ca_cert").map(std::path::PathBuf::from);
        let extra_roots = match &ca_cert {
            None => Vec::new(),
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| invalid(format!("cannot read option \"ca_cert\" {}: {e}", path.display())))?;
                let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    invalid(format!("option \"ca_cert\" {} is not a PEM certificate bundle: {e}", path.display()))
                })?;
                if roots.is_empty() {
                    return Err(invalid(format!("option \"ca_cert\" {} holds no certificate", path.display())));
                }
                roots
            }
        };
        let timeout = options.parse::<u64>("timeout_ms")?.map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        Ok(Self {
            vault_url,
            auth_method,
            tenant_id,
            client_id,
            client_secret,
            prefix,
            authority_host,
            ca_cert,
            extra_roots,
            timeout,
        })
    }

    /// Whether the vault is on this host itself: no real Key Vault can be, so the SDK's check that the challenge's
    /// resource matches the vault's domain is off for it (a test double, or a tunnel).
    fn vault_is_loopback(&self) -> bool {
        match self.vault_url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        }
    }

    /// The token scope of the vault: `https://vault.azure.net/.default` for the public cloud (and loopback
    /// vaults), else the vault host's domain (`https://vault.azure.cn/.default` for `x.vault.azure.cn`).
    fn scope(&self) -> String {
        let host = self.vault_url.host_str().unwrap_or_default();
        let resource = match host.split_once('.') {
            Some((_, domain))
                if !self.vault_is_loopback() && domain.contains('.') && host.parse::<IpAddr>().is_err() =>
            {
                format!("https://{domain}")
            }
            _ => PUBLIC_VAULT_RESOURCE.to_owned(),
        };
        format!("{resource}/.default")
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("vault_url", &self.vault_url.as_str())
            .field("auth_method", &self.auth_method)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| lanyard_core::REDACTED))
            .field("prefix", &self.prefix)
            .field("authority_host", &self.authority_host)
            .field("ca_cert", &self.ca_cert)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The Azure Key Vault backend.
///
/// Capabilities: store, link and ambient identity. `Debug` shows the vault URL, auth method and prefix.
pub struct AzureBackend {
    config: Config,
    credential: Arc<dyn TokenCredential>,
    client: SecretClient,
}

impl AzureBackend {
    /// A backend for validated options: builds the credential and the client (no request is sent yet).
    pub fn new(config: Config) -> Result<Self> {
        let build_error = |what: &str, error: &dyn fmt::Display| {
            VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build)
                .with_detail(format!("cannot build the {what}: {}", printable(&error.to_string(), 300)))
        };
        let transport = transport::ReqwestTransport::new(&config.extra_roots, config.timeout)
            .map_err(|e| build_error("HTTP client", &e))?;
        let client_options = ClientOptions {
            transport: Some(Transport::new(Arc::new(transport))),
            // The resolver retries by error kind and honours Retry-After; the SDK's own retries would multiply
            // them and hide the 429s.
            retry: RetryOptions::none(),
            cloud: config.authority_host.as_ref().map(|host| {
                let mut custom = azure_core::cloud::CustomConfiguration::default();
                custom.authority_host = host.clone();
                Arc::new(custom.into())
            }),
            ..ClientOptions::default()
        };
        let credential: Arc<dyn TokenCredential> = match config.auth_method {
            AuthMethod::ClientSecret => {
                let (Some(tenant), Some(client), Some(secret)) =
                    (&config.tenant_id, &config.client_id, &config.client_secret)
                else {
                    return Err(VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build)
                        .with_detail("auth_method client_secret needs tenant_id, client_id and client_secret"));
                };
                ClientSecretCredential::new(
                    tenant,
                    client.clone(),
                    AzureSecret::new(secret.expose_secret().to_owned()),
                    Some(ClientSecretCredentialOptions { client_options: client_options.clone() }),
                )
                .map_err(|e| build_error("client secret credential", &e))?
            }
            AuthMethod::ManagedIdentity => ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: config.client_id.clone().map(UserAssignedId::ClientId),
                client_options: client_options.clone(),
            }))
            .map_err(|e| build_error("managed identity credential", &e))?,
            AuthMethod::WorkloadIdentity => {
                let mut options = WorkloadIdentityCredentialOptions {
                    client_id: config.client_id.clone(),
                    tenant_id: config.tenant_id.clone(),
                    ..Default::default()
                };
                options.credential_options.client_options = client_options.clone();
                WorkloadIdentityCredential::new(Some(options))
                    .map_err(|e| build_error("workload identity credential", &e))?
            }
            AuthMethod::AzureCli => AzureCliCredential::new(Some(AzureCliCredentialOptions {
                tenant_id: config.tenant_id.clone(),
                ..Default::default()
            }))
            .map_err(|e| build_error("Azure CLI credential", &e))?,
        };
        let options = SecretClientOptions {
            client_options,
            verify_challenge_resource: Some(!config.vault_is_loopback()),
            ..SecretClientOptions::default()
        };
        let client = SecretClient::new(config.vault_url.as_str(), credential.clone(), Some(options))
            .map_err(|e| build_error("Key Vault client", &e))?;
        Ok(Self { config, credential, client })
    }

    /// The vault URL.
    pub fn vault_url(&self) -> &str {
        self.config.vault_url.as_str()
    }

    /// Reads the secret `name` (a version of it, if given) and decodes it; `target` names it in errors. A current
    /// value whose part is gone is read once more: a write of a smaller value replaced the manifest and deleted the
    /// parts it no longer needs while this read followed the old one.
    async fn read(&self, name: &str, version: Option<&str>, target: &str) -> Result<SecretValue> {
        let mut again = version.is_none();
        loop {
            let (value, content_type, read_version) = self.read_raw(name, version, target).await?;
            let bytes = if content_type.as_deref().is_some_and(is_parts) {
                match self.read_parts(&value, target).await {
                    Err(error) if again && error.kind() == ErrorKind::NotFound => {
                        again = false;
                        continue;
                    }
                    read => read?,
                }
            } else {
                material::decode(value, content_type.as_deref()).map_err(|problem| self.unusable(target, problem))?
            };
            let value = SecretValue::new(bytes);
            return Ok(match read_version {
                Some(version) => value.with_version(version),
                None => value,
            });
        }
    }

    /// One GET: the value, its content type and its version id.
    async fn read_raw(
        &self,
        name: &str,
        version: Option<&str>,
        target: &str,
    ) -> Result<(String, Option<String>, Option<String>)> {
        let options = SecretClientGetSecretOptions {
            secret_version: version.map(str::to_owned),
            ..SecretClientGetSecretOptions::default()
        };
        let response = self
            .client
            .get_secret(name, Some(options))
            .await
            .map_err(|e| classify(&e, Operation::Get, Some(target)))?;
        let secret = response.into_model().map_err(|e| classify(&e, Operation::Get, Some(target)))?;
        let read_version = secret.id.as_deref().and_then(version_of);
        let value = secret.value.ok_or_else(|| self.unusable(target, "Key Vault returned no value"))?;
        Ok((value, secret.content_type, read_version))
    }

    /// The material a manifest of parts stands for: each part at its recorded version.
    async fn read_parts(&self, manifest: &str, target: &str) -> Result<SecretBytes> {
        let (parts, len) = material::parse_manifest(manifest)
            .ok_or_else(|| self.unusable(target, "its manifest of parts is invalid"))?;
        let mut bytes = Vec::with_capacity(len);
        for (name, version) in &parts {
            let (value, content_type, _) = self.read_raw(name, Some(version), target).await?;
            let part =
                material::decode(value, content_type.as_deref()).map_err(|problem| self.unusable(target, problem))?;
            bytes.extend_from_slice(part.expose_secret());
        }
        if bytes.len() != len {
            drop(SecretBytes::new(bytes));
            return Err(self.unusable(target, "its parts do not add up to the recorded length"));
        }
        Ok(SecretBytes::new(bytes))
    }

    /// Writes one value; returns its version id.
    async fn write(&self, name: &str, value: String, content_type: Option<&str>, target: &str) -> Result<String> {
        let parameters = SetSecretParameters {
            value: Some(value),
            content_type: content_type.map(str::to_owned),
            ..SetSecretParameters::default()
        };
        let body = parameters.try_into().map_err(|e| classify(&e, Operation::Put, Some(target)))?;
        let response =
            self.client.set_secret(name, body, None).await.map_err(|e| classify(&e, Operation::Put, Some(target)))?;
        let secret = response.into_model().map_err(|e| classify(&e, Operation::Put, Some(target)))?;
        Ok(secret.id.as_deref().and_then(version_of).unwrap_or_default())
    }

    /// Soft-deletes `name`; `Ok(false)` when it did not exist.
    async fn remove(&self, name: &str, target: &str) -> Result<bool> {
        match self.client.delete_secret(name, None).await {
            Ok(_) => Ok(true),
            Err(error) if is_not_found(&error) => Ok(false),
            Err(error) => Err(classify(&error, Operation::Delete, Some(target))),
        }
    }

    /// Deletes the parts `<physical>--part-<n>` past `count`, the parts the value just written uses, until one is
    /// missing. The secret is read again first: should a concurrent write of a larger value have landed since, its
    /// parts are kept. A reader that followed the old manifest and finds a part gone reads again ([`Self::read`]).
    async fn remove_stale_parts(&self, physical: &str, count: usize, target: &str) -> Result<()> {
        let current = match self.read_raw(physical, None, target).await {
            Ok((value, content_type, _)) => {
                let value = SecretString::new(value);
                if content_type.as_deref().is_some_and(is_parts) {
                    material::parse_manifest(value.expose_secret()).map_or(0, |(parts, _)| parts.len())
                } else {
                    0
                }
            }
            Err(error) if error.kind() == ErrorKind::NotFound => 0,
            Err(error) => return Err(error),
        };
        for n in count.max(current) + 1.. {
            if !self.remove(&names::part(physical, n), target).await? {
                break;
            }
        }
        Ok(())
    }

    fn unusable(&self, target: &str, problem: &str) -> VaultError {
        VaultError::new(ErrorKind::Unexpected, KIND, Operation::Get)
            .with_target(target)
            .with_detail(format!("the stored secret is unusable: {problem}"))
    }

    /// Every secret name in the vault (all pages), `limit` at most.
    async fn secret_names(&self, limit: Option<usize>, operation: Operation) -> Result<Vec<String>> {
        let options = SecretClientListSecretPropertiesOptions {
            maxresults: limit.map(|l| i32::try_from(l).unwrap_or(25)),
            ..SecretClientListSecretPropertiesOptions::default()
        };
        let mut pager = self.client.list_secret_properties(Some(options)).map_err(|e| classify(&e, operation, None))?;
        let mut found = Vec::new();
        while let Some(item) = pager.try_next().await.map_err(|e| classify(&e, operation, None))? {
            if let Some(name) = item.id.as_deref().and_then(name_of) {
                found.push(name);
            }
            if limit.is_some_and(|l| found.len() >= l) {
                break;
            }
        }
        Ok(found)
    }
}

/// Whether a content type marks a manifest of parts.
fn is_parts(content_type: &str) -> bool {
    content_type.eq_ignore_ascii_case(material::PARTS)
}

/// The version id at the end of a secret id (`https://…/secrets/<name>/<version>`).
fn version_of(id: &str) -> Option<String> {
    let path = url::Url::parse(id).ok()?.path().trim_end_matches('/').to_owned();
    let mut segments = path.rsplit('/');
    let version = segments.next()?;
    let name = segments.next()?;
    (segments.next() == Some("secrets") && !name.is_empty() && !version.is_empty()).then(|| version.to_owned())
}

/// The secret name of a secret id (`https://…/secrets/<name>[/<version>]`).
fn name_of(id: &str) -> Option<String> {
    let url = url::Url::parse(id).ok()?;
    let mut segments = url.path_segments()?;
    (segments.next() == Some("secrets")).then(|| segments.next().map(str::to_owned)).flatten().filter(|n| !n.is_empty())
}

/// Splits a linked name `name[/version]`, checking both against Key Vault's rules.
fn linked(locator: &str) -> Result<(&str, Option<&str>)> {
    let (name, version) = match locator.split_once('/') {
        Some((name, version)) => (name, Some(version)),
        None => (locator, None),
    };
    let legal_version = version.is_none_or(|v| !v.is_empty() && v.len() <= 64 && names::is_legal_text(v));
    if !names::is_legal(name) || !legal_version {
        return Err(VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Get)
            .with_target(printable(locator, 200))
            .with_detail(
                "a linked Key Vault secret is `name` or `name/version`: a name of 1 to 127 characters of 0-9, a-z, \
                 A-Z and '-', and a version id",
            ));
    }
    Ok((name, version))
}

impl fmt::Debug for AzureBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBackend")
            .field("vault_url", &self.vault_url())
            .field("auth_method", &self.config.auth_method)
            .field("prefix", &self.config.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl VaultBackend for AzureBackend {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { store: true, link: true, ambient_identity: true }
    }

    fn physical_name(&self, profile: &Profile) -> String {
        names::physical(&self.config.prefix, profile)
    }

    async fn get(&self, secret: &SecretRef) -> Result<SecretValue> {
        match secret {
            SecretRef::Profile(profile) => {
                let physical = self.physical_name(profile);
                self.read(&physical, None, &profile.to_string()).await
            }
            SecretRef::External(locator) => {
                let (name, version) = linked(locator)?;
                self.read(name, version, locator).await
            }
        }
    }

    /// Writes a new version: parts first (each a new version of `<name>--part-<n>`), then the secret itself, so a
    /// reader never sees a manifest whose parts are not written yet. Then the parts an earlier, larger value left
    /// beyond the new value's own are deleted, so no old material stays readable under a part name (see
    /// [`AzureBackend::remove_stale_parts`]).
    async fn put(&self, profile: &Profile, value: &SecretValue) -> Result<()> {
        let physical = self.physical_name(profile);
        let target = profile.to_string();
        let count = match material::encode(value.expose_bytes()) {
            Stored::Single { value, content_type } => {
                self.write(&physical, value, content_type, &target).await?;
                0
            }
            Stored::Parts(parts) => {
                let mut written = Vec::with_capacity(parts.len());
                for (i, part) in parts.iter().enumerate() {
                    let name = names::part(&physical, i + 1);
                    let version =
                        self.write(&name, material::encode_part(part), Some(material::BASE64), &target).await?;
                    written.push((name, version));
                }
                drop(parts.into_iter().map(SecretBytes::new).collect::<Vec<_>>());
                let manifest = material::manifest(&written, value.len());
                self.write(&physical, manifest, Some(material::PARTS), &target).await?;
                written.len()
            }
        };
        self.remove_stale_parts(&physical, count, &target).await
    }

    /// Soft-deletes the secret, then any parts an earlier large value left (`--part-1`, `--part-2`, … until one
    /// is missing). Deleting what is not there succeeds.
    async fn delete(&self, profile: &Profile) -> Result<()> {
        let physical = self.physical_name(profile);
        let target = profile.to_string();
        self.remove(&physical, &target).await?;
        for n in 1.. {
            if !self.remove(&names::part(&physical, n), &target).await? {
                break;
            }
        }
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Profile>> {
        let mut profiles: Vec<Profile> = self
            .secret_names(None, Operation::List)
            .await?
            .iter()
            .filter_map(|name| names::profile(&self.config.prefix, name))
            .collect();
        profiles.sort_unstable();
        profiles.dedup();
        Ok(profiles)
    }

    /// Two steps: an Entra ID token for the vault's audience, then a listing of one secret (which also goes through
    /// Key Vault's challenge).
    async fn probe(&self) -> Result<ProbeReport> {
        let mut report = ProbeReport::default();
        let scope = self.config.scope();
        let token_step = format!("get an Entra ID token for {scope} ({})", self.config.auth_method.label());
        let token = report
            .run(token_step, async {
                self.credential
                    .get_token(&[scope.as_str()], None)
                    .await
                    .map(drop)
                    .map_err(|e| classify(&e, Operation::Probe, None))
            })
            .await;
        if token.is_none() {
            return Ok(report);
        }
        report
            .run(format!("list one secret of {}", self.vault_url()), async {
                self.secret_names(Some(1), Operation::Probe).await.map(drop)
            })
            .await;
        Ok(report)
    }

    /// What the `azure_adls` connector signs with to act as this storage's identity: see [`ambient`].
    async fn ambient_identity(&self) -> Result<AmbientIdentity> {
        let (description, options) = ambient(&self.config, |key| std::env::var(key).ok());
        Ok(AmbientIdentity { backend_kind: KIND, description, options })
    }
}

/// The identity lent to `azure_adls` connections, with the keys the connector reads, so they sign as the identity
/// this storage is configured with and never as whatever else the server's environment holds:
///
/// - `client_secret`: `client_id`, `client_secret`, `tenant_id`;
/// - `managed_identity`: `azure_auth = managed_identity`, the user-assigned identity's `client_id` (none for the
///   system-assigned one), and `msi_endpoint` when the host names its own (`IDENTITY_ENDPOINT`, App Service);
/// - `workload_identity`: `azure_auth = workload_identity`, `client_id`, `tenant_id` (the options, else
///   `AZURE_CLIENT_ID` / `AZURE_TENANT_ID`, as the backend's credential reads them), `federated_token_file`
///   (`AZURE_FEDERATED_TOKEN_FILE`) and `authority_host` (the option, else `AZURE_AUTHORITY_HOST`) when set;
/// - `azure_cli`: `azure_auth = azure_cli`.
///
/// `env` reads the server's environment variables.
fn ambient(config: &Config, env: impl Fn(&str) -> Option<String>) -> (String, OptionMap) {
    let env = |key: &str| env(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let mut options = OptionMap::new();
    let mut lend = |key: &str, value: Option<String>| {
        if let (Ok(key), Some(value)) = (OptionKey::new(key), value) {
            options.insert(key, value);
        }
    };
    let description = match config.auth_method {
        AuthMethod::ClientSecret => {
            lend("client_id", config.client_id.clone());
            lend("client_secret", config.client_secret.as_ref().map(|s| s.expose_secret().to_owned()));
            lend("tenant_id", config.tenant_id.clone());
            format!(
                "client secret of app {} in tenant {}",
                config.client_id.as_deref().unwrap_or_default(),
                config.tenant_id.as_deref().unwrap_or_default()
            )
        }
        AuthMethod::ManagedIdentity => {
            lend("azure_auth", Some(AuthMethod::ManagedIdentity.label().to_owned()));
            lend("client_id", config.client_id.clone());
            lend("msi_endpoint", env("IDENTITY_ENDPOINT"));
            match &config.client_id {
                Some(id) => format!("user-assigned managed identity {id}"),
                None => "system-assigned managed identity".to_owned(),
            }
        }
        AuthMethod::WorkloadIdentity => {
            let client_id = config.client_id.clone().or_else(|| env("AZURE_CLIENT_ID"));
            let tenant_id = config.tenant_id.clone().or_else(|| env("AZURE_TENANT_ID"));
            let description = format!(
                "workload identity {} in tenant {}",
                client_id.as_deref().unwrap_or_default(),
                tenant_id.as_deref().unwrap_or_default()
            );
            lend("azure_auth", Some(AuthMethod::WorkloadIdentity.label().to_owned()));
            lend("client_id", client_id);
            lend("tenant_id", tenant_id);
            lend("federated_token_file", env("AZURE_FEDERATED_TOKEN_FILE"));
            lend("authority_host", config.authority_host.clone().or_else(|| env("AZURE_AUTHORITY_HOST")));
            description
        }
        AuthMethod::AzureCli => {
            lend("azure_auth", Some(AuthMethod::AzureCli.label().to_owned()));
            "Azure CLI login of the server's host".to_owned()
        }
    };
    (description, options)
}

#[cfg(test)]
mod tests {
    use lanyard_core::BackendId;
    use lanyard_vault::{BackendEnv, Registry};

    use super::*;

    fn build(options: &[(&str, &str)]) -> Result<Arc<dyn VaultBackend>> {
        let registry = Registry::global().expect("registry");
        registry.build("AZURE", BackendId::new_random(), "test", options.iter().copied(), BackendEnv::default())
    }

    fn config_error(options: &[(&str, &str)]) -> String {
        let error = build(options).expect_err("invalid options");
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
        error.to_string()
    }

    #[test]
    fn options_are_validated() {
        let secret = [("tenant_id", "t"), ("client_id", "c"), ("client_secret", "canary-secret-value")];
        let with = |extra: &[(&'static str, &'static str)]| [&secret[..], extra].concat();
        assert!(config_error(&secret).contains("missing option: \"key_vault_name\" or \"vault_url\""));
        let both = with(&[("key_vault_name", "kv1"), ("vault_url", "https://kv1.vault.azure.net")]);
        assert!(config_error(&both).contains("not both"));
        assert!(config_error(&with(&[("vault_url", "http://kv1.vault.azure.net")])).contains("https://"));
        assert!(config_error(&with(&[("key_vault_name", "a_b")])).contains("3 to 24 characters"));
        assert!(config_error(&with(&[("key_vault_name", "kv1"), ("prefix", "a/b")])).contains("0-9, a-z"));
        assert!(config_error(&with(&[("key_vault_name", "kv1"), ("auth_method", "kerberos")])).contains("one of"));
        let needs = config_error(&[("key_vault_name", "kv1"), ("auth_method", "client_secret"), ("tenant_id", "t")]);
        assert!(needs.contains("needs option(s): client_id, client_secret"), "{needs}");
        let stray = config_error(&with(&[("key_vault_name", "kv1"), ("auth_method", "azure_cli")]));
        assert!(stray.contains("only used with auth_method client_secret"), "{stray}");
        assert!(config_error(&[("key_vault_name", "kv1")]).contains("missing option \"auth_method\""));
        let ca = config_error(&with(&[("key_vault_name", "kv1"), ("ca_cert", "/nonexistent/ca.pem")]));
        assert!(ca.contains("cannot read option \"ca_cert\""), "{ca}");
        for message in [stray, needs, ca] {
            assert!(!message.contains("canary"), "{message}");
        }
        let unknown = config_error(&[("key_vault_name", "kv1"), ("region", "x")]);
        assert!(unknown.contains("unknown option \"region\""), "{unknown}");
    }

    #[test]
    fn a_valid_configuration_builds_and_hides_its_secret() {
        let backend = build(&[
            ("key_vault_name", "kv-prod-1"),
            ("tenant_id", "t"),
            ("client_id", "c"),
            ("client_secret", "canary-secret-value"),
            ("prefix", "team-a-"),
        ])
        .expect("build");
        assert!(format!("{backend:?}").contains("https://kv-prod-1.vault.azure.net/"));
        assert!(!format!("{backend:?}").contains("canary"));
        let profile = Profile::Entry(lanyard_core::VaultEntryId::new_random());
        assert!(backend.physical_name(&profile).starts_with("team-a-vault--"));
        for method in ["managed_identity", "azure_cli"] {
            build(&[("vault_url", "https://kv.vault.azure.cn"), ("auth_method", method)]).expect(method);
        }
        // Workload identity reads its tenant, client and token file from the environment (AKS sets them); here
        // there is none, which is a configuration error, not a panic.
        let workload = build(&[("key_vault_name", "kv1"), ("auth_method", "workload_identity")]).unwrap_err();
        assert_eq!(workload.kind(), ErrorKind::ConfigInvalid, "{workload}");
        assert!(workload.to_string().contains("workload identity credential"), "{workload}");
    }

    #[test]
    fn the_scope_follows_the_vault_domain() {
        let config = |url: &str| {
            let options = lanyard_vault::Registry::global()
                .unwrap()
                .factory("azure")
                .unwrap()
                .validate([("vault_url", url), ("auth_method", "azure_cli")])
                .unwrap();
            Config::parse(&BackendConfig {
                backend_id: BackendId::new_random(),
                name: "t".into(),
                options,
                env: BackendEnv::default(),
            })
            .unwrap()
        };
        assert_eq!(config("https://kv1.vault.azure.net").scope(), "https://vault.azure.net/.default");
        assert_eq!(config("https://kv1.vault.azure.cn/").scope(), "https://vault.azure.cn/.default");
        assert_eq!(config("https://127.0.0.1:8443").scope(), "https://vault.azure.net/.default");
        assert!(config("https://127.0.0.1:8443").vault_is_loopback());
        assert!(config("https://localhost:8443").vault_is_loopback());
        assert!(!config("https://kv1.vault.azure.net").vault_is_loopback());
    }

    /// Every auth method lends what identifies its identity, so `azure_adls` never falls back to whatever the
    /// server's environment would sign as.
    #[test]
    fn the_ambient_identity_names_the_configured_identity() {
        let config = |options: &[(&str, &str)]| {
            let options = Registry::global().unwrap().factory("azure").unwrap().validate(options.iter().copied());
            Config::parse(&BackendConfig {
                backend_id: BackendId::new_random(),
                name: "t".into(),
                options: options.unwrap(),
                env: BackendEnv::default(),
            })
            .unwrap()
        };
        let env = [
            ("AZURE_CLIENT_ID", "env-client"),
            ("AZURE_TENANT_ID", "env-tenant"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token"),
        ];
        let lent = |options: &[(&str, &str)], env: &[(&str, &str)]| {
            let (description, map) =
                ambient(&config(options), |key| env.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()));
            let pairs: Vec<(String, String)> = map.iter_exposed().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            (description, pairs)
        };
        let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let vault = ("key_vault_name", "kv1");

        let (description, map) = lent(&[vault, ("auth_method", "managed_identity"), ("client_id", "mi-client")], &env);
        assert_eq!(
            map,
            pairs(&[
                ("azure_auth", "managed_identity"),
                ("client_id", "mi-client"),
                ("msi_endpoint", "http://127.0.0.1:41000/msi/token")
            ])
        );
        assert_eq!(description, "user-assigned managed identity mi-client");
        let (_, map) = lent(&[vault, ("auth_method", "managed_identity")], &[]);
        assert_eq!(map, pairs(&[("azure_auth", "managed_identity")]), "the system-assigned identity");

        let (_, map) = lent(&[vault, ("auth_method", "azure_cli"), ("tenant_id", "t")], &env);
        assert_eq!(map, pairs(&[("azure_auth", "azure_cli")]));

        // The options win over the environment, as in the backend's own credential.
        let workload = [
            vault,
            ("auth_method", "workload_identity"),
            ("client_id", "wi-client"),
            ("authority_host", "https://a.test"),
        ];
        let (description, map) = lent(&workload, &env);
        assert_eq!(
            map,
            pairs(&[
                ("azure_auth", "workload_identity"),
                ("client_id", "wi-client"),
                ("tenant_id", "env-tenant"),
                ("federated_token_file", "/var/run/secrets/azure/tokens/azure-identity-token"),
                ("authority_host", "https://a.test"),
            ])
        );
        assert_eq!(description, "workload identity wi-client in tenant env-tenant");
    }

    #[test]
    fn ids_give_names_and_versions() {
        let id = "https://kv1.vault.azure.net/secrets/db-login/0123456789abcdef0123456789abcdef";
        assert_eq!(version_of(id).as_deref(), Some("0123456789abcdef0123456789abcdef"));
        assert_eq!(name_of(id).as_deref(), Some("db-login"));
        assert_eq!(version_of("https://kv1.vault.azure.net/secrets/db-login"), None);
        assert_eq!(name_of("https://kv1.vault.azure.net/secrets/db-login").as_deref(), Some("db-login"));
    }

    #[test]
    fn linked_names_are_name_or_name_slash_version() {
        assert_eq!(linked("db-login").unwrap(), ("db-login", None));
        assert_eq!(linked("db-login/abc123").unwrap(), ("db-login", Some("abc123")));
        for bad in ["db_login", "db-login/", "a/b/c", "../x", "db login"] {
            assert_eq!(linked(bad).unwrap_err().kind(), ErrorKind::ConfigInvalid, "{bad}");
        }
    }
}
