//! Google OAuth2 access tokens, the three ways Google's own client libraries get them:
//!
//! - **A service account key** (`auth_method = service_account`, or the file `GOOGLE_APPLICATION_CREDENTIALS` names):
//!   a JWT (`iss` = the key's `client_email`, `aud` = its `token_uri`, `scope`, one hour) signed RS256 with the key's
//!   private key, exchanged at the key's `token_uri` (grant `urn:ietf:params:oauth:grant-type:jwt-bearer`).
//! - **A user's refresh token** (an `authorized_user` file: what `gcloud auth application-default login` writes):
//!   exchanged at the file's `token_uri` (default `https://oauth2.googleapis.com/token`).
//! - **The metadata server** of a Google Cloud host (GCE, GKE, Cloud Run): `GET
//!   /computeMetadata/v1/instance/service-accounts/default/token` with `Metadata-Flavor: Google`, at
//!   `GCE_METADATA_HOST` (as Google's libraries read it) or `metadata.google.internal`.
//!
//! Application default credentials (`auth_method = adc`) look in that order: `GOOGLE_APPLICATION_CREDENTIALS`, then
//! gcloud's file (`$CLOUDSDK_CONFIG/application_default_credentials.json`, else
//! `~/.config/gcloud/application_default_credentials.json`), then the metadata server.
//!
//! Tokens are kept until a minute before they expire (they are credentials to the service, not material) and
//! dropped when the service refuses one, so a revoked token costs one extra exchange. Concurrent callers share one
//! exchange. There are no retries here: the resolver retries by error kind.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lanyard_core::{SecretString, printable};
use lanyard_vault::{ErrorKind, Operation, Result, VaultError};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject as _;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::KIND;
use crate::errors::{self, Failure};

/// The scope every token asks for: Secret Manager's API is under `cloud-platform`.
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Google's token endpoint, for `authorized_user` files that name none.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The metadata server's host when `GCE_METADATA_HOST` is not set.
const METADATA_HOST: &str = "metadata.google.internal";

/// How long before its expiry a token is replaced.
const EARLY: Duration = Duration::from_secs(60);

/// The parts of a service account key file that the JWT flow uses. `Debug` leaves the private key out.
pub(crate) struct ServiceAccountKey {
    pub client_email: String,
    pub token_uri: String,
    pub project_id: Option<String>,
    /// The key file's JSON, which a `gcs` connection signs with when the storage lends its identity.
    pub json: SecretString,
    signer: RsaKeyPair,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

/// A credential file as Google writes them: a service account key or a user's refresh token.
#[derive(Debug)]
pub(crate) enum CredentialFile {
    ServiceAccount(Box<ServiceAccountKey>),
    AuthorizedUser { client_id: String, client_secret: SecretString, refresh_token: SecretString, token_uri: String },
}

/// The raw JSON of a credential file; every field optional so that a missing one is named, never a serde message
/// (which could quote a value).
#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    token_uri: Option<String>,
    project_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
}

impl CredentialFile {
    /// Reads a credential file's JSON; `what` names it in errors (`option "service_account_json"`, the file's path).
    /// Errors say which field is missing or wrong, never a value.
    pub(crate) fn parse(json: &str, what: &str) -> std::result::Result<Self, String> {
        let raw: RawFile = serde_json::from_str(json).map_err(|e| {
            // serde's own message may quote a value: say only what and where.
            let problem = match e.classify() {
                serde_json::error::Category::Data => "a field is not a string, or it is not an object",
                serde_json::error::Category::Eof => "the JSON ends early",
                serde_json::error::Category::Syntax | serde_json::error::Category::Io => "invalid JSON",
            };
            format!(
                "{what} is not a Google credential file (a JSON object): {problem} at line {} column {}",
                e.line(),
                e.column()
            )
        })?;
        let field = |value: Option<String>, name: &str| {
            value
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{what} has no \"{name}\""))
        };
        match raw.kind.as_deref() {
            Some("service_account") => {
                let client_email = field(raw.client_email, "client_email")?;
                let token_uri = field(raw.token_uri, "token_uri")?;
                check_endpoint(&token_uri).map_err(|problem| format!("{what}: \"token_uri\" {problem}"))?;
                let pem = raw.private_key.ok_or_else(|| format!("{what} has no \"private_key\""))?;
                let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
                    .map_err(|_| format!("{what}: \"private_key\" is not a PKCS#8 PEM private key"))?;
                let signer = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
                    .map_err(|_| format!("{what}: \"private_key\" is not an RSA key Google could have issued"))?;
                let project_id = raw.project_id.filter(|p| !p.trim().is_empty());
                Ok(Self::ServiceAccount(Box::new(ServiceAccountKey {
                    client_email,
                    token_uri,
                    project_id,
                    json: SecretString::new(json),
                    signer,
                })))
            }
            Some("authorized_user") => {
                let token_uri = raw.token_uri.unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned());
                check_endpoint(&token_uri).map_err(|problem| format!("{what}: \"token_uri\" {problem}"))?;
                Ok(Self::AuthorizedUser {
                    client_id: field(raw.client_id, "client_id")?,
                    client_secret: SecretString::new(field(raw.client_secret, "client_secret")?),
                    refresh_token: SecretString::new(field(raw.refresh_token, "refresh_token")?),
                    token_uri,
                })
            }
            Some(other) => Err(format!(
                "{what} is a {:?} credential file; Lanyard reads \"service_account\" and \"authorized_user\" ones",
                printable(other, 40)
            )),
            None => Err(format!("{what} has no \"type\" (\"service_account\" or \"authorized_user\")")),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::ServiceAccount(key) => format!("service account {}", key.client_email),
            Self::AuthorizedUser { client_id, .. } => format!("user credentials of OAuth client {client_id}"),
        }
    }
}

/// `https://…`, or `http://` to this host only (an emulator or a test double): a bearer token or a signed
/// assertion never travels in clear over a network.
pub(crate) fn check_endpoint(url: &str) -> std::result::Result<url::Url, String> {
    let parsed = url::Url::parse(url.trim()).map_err(|_| format!("must be a URL, not {:?}", printable(url, 200)))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not hold a user or password".to_owned());
    }
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(format!(
            "must be https:// (http:// only to 127.0.0.1, ::1 or localhost), not {:?}",
            printable(url, 200)
        )),
        _ => Err(format!("must be an https:// URL, not {:?}", printable(url, 200))),
    }
}

/// Where tokens come from.
#[derive(Debug)]
pub(crate) enum Source {
    /// A credential file (the `service_account_json` option, or one application default credentials found).
    File(CredentialFile),
    /// The metadata server at this base URL (`http://<host>`).
    Metadata(url::Url),
}

impl Source {
    /// Application default credentials, looked up in `env` (the server's environment) and the file system.
    pub(crate) fn application_default(env: &dyn Fn(&str) -> Option<String>) -> std::result::Result<Self, String> {
        let env = |key: &str| env(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") {
            let what = format!("GOOGLE_APPLICATION_CREDENTIALS file {path}");
            let json = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {what}: {e}"))?;
            return CredentialFile::parse(&json, &what).map(Self::File);
        }
        let gcloud = env("CLOUDSDK_CONFIG")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|home| Path::new(&home).join(".config/gcloud")))
            .map(|dir| dir.join("application_default_credentials.json"));
        if let Some(path) = gcloud.filter(|p| p.is_file()) {
            let what = format!("gcloud's application default credentials {}", path.display());
            let json = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {what}: {e}"))?;
            return CredentialFile::parse(&json, &what).map(Self::File);
        }
        let host = env("GCE_METADATA_HOST").unwrap_or_else(|| METADATA_HOST.to_owned());
        let base =
            url::Url::parse(&format!("http://{host}"))
                .ok()
                .filter(|u| u.path() == "/" && u.query().is_none())
                .ok_or_else(|| format!("GCE_METADATA_HOST must be a host[:port], not {:?}", printable(&host, 100)))?;
        Ok(Self::Metadata(base))
    }

    /// What identity this is, for messages and the probe.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::File(file) => file.describe(),
            Self::Metadata(base) => format!("the metadata server's default service account ({base})"),
        }
    }

    /// The service account key file's JSON, when the credentials are one.
    pub(crate) fn key_json(&self) -> Option<&SecretString> {
        match self {
            Self::File(CredentialFile::ServiceAccount(key)) => Some(&key.json),
            _ => None,
        }
    }

    /// The project the credentials name, if any.
    pub(crate) fn project_id(&self) -> Option<&str> {
        match self {
            Self::File(CredentialFile::ServiceAccount(key)) => key.project_id.as_deref(),
            _ => None,
        }
    }
}

/// A cached access token.
struct Cached {
    token: SecretString,
    renew_at: SystemTime,
}

/// Access tokens of one [`Source`], cached.
pub(crate) struct Tokens {
    source: Source,
    http: reqwest::Client,
    /// For the metadata server: link-local, never through `HTTP_PROXY`.
    metadata_http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens").field("source", &self.source).finish_non_exhaustive()
    }
}

/// A token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

impl Tokens {
    pub(crate) fn new(source: Source, http: reqwest::Client, metadata_http: reqwest::Client) -> Self {
        Self { source, http, metadata_http, cached: Mutex::new(None) }
    }

    pub(crate) fn source(&self) -> &Source {
        &self.source
    }

    /// A valid access token: the cached one, else a new one. Concurrent callers share one exchange.
    pub(crate) async fn token(&self, operation: Operation) -> Result<SecretString> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref().filter(|c| SystemTime::now() < c.renew_at) {
            return Ok(current.token.clone());
        }
        let (token, lifetime) = self.exchange(operation).await?;
        let renew_at = SystemTime::now() + lifetime.saturating_sub(EARLY).max(Duration::from_secs(1));
        *cached = Some(Cached { token: token.clone(), renew_at });
        Ok(token)
    }

    /// Forgets the cached token if it is still `refused` (the service refused it; another caller may have replaced
    /// it already).
    pub(crate) async fn forget(&self, refused: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.token.expose_secret() == refused.expose_secret()) {
            *cached = None;
        }
    }

    async fn exchange(&self, operation: Operation) -> Result<(SecretString, Duration)> {
        let failed = |failure: Failure| {
            let endpoint = match &self.source {
                Source::File(CredentialFile::ServiceAccount(key)) => key.token_uri.clone(),
                Source::File(CredentialFile::AuthorizedUser { token_uri, .. }) => token_uri.clone(),
                Source::Metadata(base) => base.to_string(),
            };
            errors::token_error(failure, operation, &self.source.describe(), &endpoint)
        };
        let request = match &self.source {
            Source::File(CredentialFile::ServiceAccount(key)) => {
                let assertion =
                    SecretString::new(jwt(key).map_err(|detail| {
                        VaultError::new(ErrorKind::Unexpected, KIND, operation).with_detail(detail)
                    })?);
                self.http.post(&key.token_uri).form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.expose_secret()),
                ])
            }
            Source::File(CredentialFile::AuthorizedUser { client_id, client_secret, refresh_token, token_uri }) => {
                self.http.post(token_uri).form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", client_secret.expose_secret()),
                    ("refresh_token", refresh_token.expose_secret()),
                ])
            }
            Source::Metadata(base) => {
                let url = base
                    .join("computeMetadata/v1/instance/service-accounts/default/token")
                    .map_err(|e| failed(Failure::Transport(e.to_string())))?;
                self.metadata_http.get(url).header("Metadata-Flavor", "Google")
            }
        };
        let response = request.send().await.map_err(|e| failed(errors::transport(&e)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| failed(errors::transport(&e)))?;
        if !status.is_success() {
            return Err(failed(Failure::Status { status: status.as_u16(), body: body.to_vec() }));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| failed(Failure::Malformed("the token answer is not JSON".into())))?;
        drop(body);
        let token = answer
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| failed(Failure::Malformed("the token answer has no access_token".into())))?;
        Ok((SecretString::new(token), Duration::from_secs(answer.expires_in.unwrap_or(3600))))
    }
}

/// A one-hour JWT assertion for `key`, signed RS256.
fn jwt(key: &ServiceAccountKey) -> std::result::Result<String, String> {
    let now =
        SystemTime::now().duration_since(UNIX_EPOCH).map_err(|_| "the clock is before 1970".to_owned())?.as_secs();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": key.client_email,
        "scope": SCOPE,
        "aud": key.token_uri,
        "iat": now,
        "exp": now + 3600,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let message = format!("{header}.{claims}");
    let mut signature = vec![0; key.signer.public().modulus_len()];
    key.signer
        .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message.as_bytes(), &mut signature)
        .map_err(|_| "cannot sign the token request with the service account key".to_owned())?;
    Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        assert!(check_endpoint("https://oauth2.googleapis.com/token").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080/token").is_ok());
        assert!(check_endpoint("http://localhost:8080").is_ok());
        assert!(check_endpoint("http://[::1]:8080").is_ok());
        assert!(check_endpoint("http://oauth2.googleapis.com/token").unwrap_err().contains("must be https://"));
        assert!(check_endpoint("ftp://x").unwrap_err().contains("https://"));
        assert!(check_endpoint("nope").unwrap_err().contains("must be a URL"));
        assert!(check_endpoint("https://u:p@x.test/token").unwrap_err().contains("user or password"));
    }

    #[test]
    fn credential_files_name_what_is_wrong_and_never_a_value() {
        let what = "option \"service_account_json\"";
        let error = CredentialFile::parse("[\"canary-secret\"]", what).unwrap_err();
        assert!(error.contains("is not a Google credential file") && !error.contains("canary"), "{error}");
        let error = CredentialFile::parse(r#"{"type":"service_account","client_email":"a@b"}"#, what).unwrap_err();
        assert!(error.contains("has no \"token_uri\""), "{error}");
        let key = r#"{"type":"service_account","client_email":"a@b","token_uri":"https://x/token",
                      "private_key":"canary-secret"}"#;
        let error = CredentialFile::parse(key, what).unwrap_err();
        assert!(error.contains("not a PKCS#8 PEM private key") && !error.contains("canary"), "{error}");
        let key = r#"{"type":"service_account","client_email":"a@b","token_uri":"http://evil.test/token",
                      "private_key":"x"}"#;
        assert!(CredentialFile::parse(key, what).unwrap_err().contains("\"token_uri\" must be https://"));
        let error = CredentialFile::parse(r#"{"type":"external_account"}"#, what).unwrap_err();
        assert!(error.contains("\"external_account\" credential file"), "{error}");
        let user = r#"{"type":"authorized_user","client_id":"c","client_secret":"canary-secret","refresh_token":"r"}"#;
        let file = CredentialFile::parse(user, what).unwrap();
        assert!(!format!("{file:?}").contains("canary"), "{file:?}");
        assert_eq!(file.describe(), "user credentials of OAuth client c");
    }

    #[test]
    fn application_default_credentials_are_looked_up_in_googles_order() {
        let dir = std::env::temp_dir().join(format!("lanyard-gcp-adc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let user = dir.join("application_default_credentials.json");
        std::fs::write(&user, r#"{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}"#)
            .unwrap();
        let dir_text = dir.display().to_string();
        let with = |pairs: Vec<(&'static str, String)>| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
        };
        // gcloud's file under CLOUDSDK_CONFIG.
        let found = Source::application_default(&with(vec![("CLOUDSDK_CONFIG", dir_text.clone())])).unwrap();
        assert_eq!(found.describe(), "user credentials of OAuth client c");
        // GOOGLE_APPLICATION_CREDENTIALS comes first: here a file that does not exist, which is an error, not a
        // fall-through.
        let missing = dir.join("missing.json").display().to_string();
        let error = Source::application_default(&with(vec![
            ("GOOGLE_APPLICATION_CREDENTIALS", missing),
            ("CLOUDSDK_CONFIG", dir_text),
        ]))
        .unwrap_err();
        assert!(error.starts_with("cannot read GOOGLE_APPLICATION_CREDENTIALS file"), "{error}");
        // Nothing else: the metadata server, at GCE_METADATA_HOST when set.
        let metadata = Source::application_default(&with(vec![("GCE_METADATA_HOST", "127.0.0.1:9".into())])).unwrap();
        assert_eq!(metadata.describe(), "the metadata server's default service account (http://127.0.0.1:9/)");
        let default = Source::application_default(&with(vec![])).unwrap();
        assert!(default.describe().contains("http://metadata.google.internal/"), "{}", default.describe());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
