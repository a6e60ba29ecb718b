//! Authentication: the token every request carries, and for AppRole its life cycle — log in on first use, renew
//! the token (`renew-self`) at two thirds of its TTL or log in again when it cannot be renewed, and when the
//! server answers 403 log in once more and retry the request once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lanyard_core::SecretString;
use lanyard_vault::{ErrorKind, Operation, Result, VaultError};
use tokio::sync::Mutex;
use tokio::time::Instant;
use vaultrs::api::{AuthInfo, EndpointMiddleware};
use vaultrs::client::{Client, VaultClient, VaultClientSettings};

use crate::errors::{Failure, chain, from_client, status_of};
use crate::{APPROLE_MOUNT, AuthMethod, KIND};

/// How often the backend logged in and renewed its token. Token auth never does either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthStats {
    /// AppRole logins, forced ones included.
    pub logins: u64,
    /// Successful `renew-self` calls.
    pub renewals: u64,
    /// Logins forced by a 403 answer (each followed by one retry of the refused request).
    pub forced_relogins: u64,
    /// `renew-self` calls that failed (a login followed): the token had expired or been revoked in between.
    pub renewal_failures: u64,
}

/// A token obtained by an AppRole login.
struct Session {
    token: SecretString,
    /// Bumped by every login, so that a forced re-login after a 403 happens once for all the requests that were
    /// refused with the same token.
    generation: u64,
    /// When to renew (or log in again); `None` for a token that never expires.
    refresh_at: Option<Instant>,
    /// Whether to try `renew-self` at `refresh_at` (false: log in again).
    renewable: bool,
    /// The TTL the login granted.
    login_ttl: Duration,
}

/// The client, the auth method and, for AppRole, the cached session.
pub(crate) struct Auth {
    client: Arc<VaultClient>,
    method: AuthMethod,
    session: Mutex<Option<Session>>,
    logins: AtomicU64,
    renewals: AtomicU64,
    forced_relogins: AtomicU64,
    renewal_failures: AtomicU64,
}

/// The shared client with one token: what vaultrs's API functions take.
pub(crate) struct Authed {
    client: Arc<VaultClient>,
    middle: EndpointMiddleware,
}

impl Client for Authed {
    fn http(&self) -> &rustify::clients::reqwest::Client {
        &self.client.http
    }

    fn middle(&self) -> &EndpointMiddleware {
        &self.middle
    }

    fn settings(&self) -> &VaultClientSettings {
        &self.client.settings
    }

    fn set_token(&mut self, token: &str) {
        token.clone_into(&mut self.middle.token);
    }
}

impl Authed {
    /// `GET <url>` on vaultrs's own HTTP client (its TLS settings, CA and timeout), with the token and namespace
    /// headers vaultrs's middleware would add: the KV read path, without rustify's request and response copies
    /// (they cost about a tenth of a local read), and with the `Retry-After` of a 429, which vaultrs drops.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> std::result::Result<T, Failure> {
        let mut request = self.client.http.http.get(url).header("X-Vault-Token", self.middle.token.as_str());
        if let Some(namespace) = &self.middle.namespace {
            request = request.header("X-Vault-Namespace", namespace.as_str());
        }
        let response = request.send().await.map_err(|error| Failure::Transport(chain(&error)))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|error| Failure::Transport(chain(&error)))?;
        if !(200..300).contains(&status) {
            #[derive(serde::Deserialize)]
            struct Errors {
                #[serde(default)]
                errors: Vec<String>,
            }
            let errors = serde_json::from_slice::<Errors>(&body).map(|e| e.errors).unwrap_or_default();
            return Err(Failure::Refused { status, errors, retry_after });
        }
        serde_json::from_slice(&body).map_err(|_| Failure::Unparsable)
    }

    /// Whether an AppRole login handler answers at [`APPROLE_MOUNT`]: an anonymous login with an empty role_id
    /// is refused with anything but 403 (a request to no login handler is). No answer counts as served, so that
    /// a transport failure leaves the original refusal as it is.
    async fn approle_login_is_served(&self) -> bool {
        let url =
            format!("{}/v1/auth/{APPROLE_MOUNT}/login", self.client.settings.address.as_str().trim_end_matches('/'));
        let mut request =
            self.client.http.http.post(url).header("Content-Type", "application/json").body(r#"{"role_id":""}"#);
        if let Some(namespace) = &self.middle.namespace {
            request = request.header("X-Vault-Namespace", namespace.as_str());
        }
        request.send().await.map_or(true, |response| response.status().as_u16() != 403)
    }
}

impl Auth {
    pub(crate) fn new(client: Arc<VaultClient>, method: AuthMethod) -> Self {
        Self {
            client,
            method,
            session: Mutex::new(None),
            logins: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
            forced_relogins: AtomicU64::new(0),
            renewal_failures: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> AuthStats {
        AuthStats {
            logins: self.logins.load(Ordering::Relaxed),
            renewals: self.renewals.load(Ordering::Relaxed),
            forced_relogins: self.forced_relogins.load(Ordering::Relaxed),
            renewal_failures: self.renewal_failures.load(Ordering::Relaxed),
        }
    }

    /// Runs `request` with the current token. For AppRole, a 403 answer forces one new login and one retry; a
    /// second 403 is the answer.
    pub(crate) async fn call<T, E, F, Fut>(&self, operation: Operation, target: &str, request: F) -> Result<T>
    where
        F: Fn(Authed) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<Failure>,
    {
        let (token, generation) = self.token(operation, target).await?;
        match request(self.authed(&token)).await.map_err(Into::into) {
            Ok(value) => Ok(value),
            Err(failure) if failure.status() == Some(403) && matches!(self.method, AuthMethod::AppRole { .. }) => {
                tracing::debug!(backend = KIND, "the server refused the AppRole token (403); logging in again once");
                self.relogin(operation, target, generation).await?;
                let (token, _) = self.token(operation, target).await?;
                request(self.authed(&token)).await.map_err(|error| error.into().into_vault(operation, target))
            }
            Err(failure) => Err(failure.into_vault(operation, target)),
        }
    }

    fn authed(&self, token: &SecretString) -> Authed {
        let mut middle = self.client.middle.clone();
        token.expose_secret().clone_into(&mut middle.token);
        Authed { client: self.client.clone(), middle }
    }

    /// The token to use and its session's generation: the fixed one, or the AppRole session's, logging in or
    /// renewing first when it is due.
    async fn token(&self, operation: Operation, target: &str) -> Result<(SecretString, u64)> {
        if let AuthMethod::Token(token) = &self.method {
            return Ok((token.clone(), 0));
        }
        let mut session = self.session.lock().await;
        if let Some(current) = session.as_mut() {
            let due = current.refresh_at.is_some_and(|at| Instant::now() >= at);
            if !due {
                return Ok((current.token.clone(), current.generation));
            }
            if current.renewable && self.renew(current).await {
                return Ok((current.token.clone(), current.generation));
            }
        }
        let generation = session.as_ref().map_or(1, |current| current.generation + 1);
        let fresh = self.login(operation, target, generation).await?;
        let token = fresh.token.clone();
        *session = Some(fresh);
        Ok((token, generation))
    }

    /// Logs in again unless another request already did since `generation` was handed out.
    async fn relogin(&self, operation: Operation, target: &str, generation: u64) -> Result<()> {
        let mut session = self.session.lock().await;
        if session.as_ref().is_some_and(|current| current.generation != generation) {
            return Ok(());
        }
        self.forced_relogins.fetch_add(1, Ordering::Relaxed);
        *session = Some(self.login(operation, target, generation + 1).await?);
        Ok(())
    }

    /// `renew-self`; on success updates the session and returns true. A token close to its max TTL (the renewal
    /// granted less than a third of the login's TTL) is marked for a new login at its next refresh.
    async fn renew(&self, current: &mut Session) -> bool {
        match vaultrs::token::renew_self(&self.authed(&current.token), None).await {
            Ok(info) => {
                self.renewals.fetch_add(1, Ordering::Relaxed);
                let ttl = Duration::from_secs(info.lease_duration);
                current.refresh_at = refresh_at(ttl);
                current.renewable = info.renewable && ttl * 3 >= current.login_ttl;
                true
            }
            Err(error) => {
                self.renewal_failures.fetch_add(1, Ordering::Relaxed);
                let error = from_client(error, Operation::Get, "token");
                tracing::debug!(backend = KIND, %error, "token renewal failed; logging in again");
                false
            }
        }
    }

    async fn login(&self, operation: Operation, target: &str, generation: u64) -> Result<Session> {
        let AuthMethod::AppRole { role_id, secret_id } = &self.method else { unreachable!("only AppRole logs in") };
        let anonymous = self.authed(&SecretString::new(""));
        let info: AuthInfo =
            match vaultrs::auth::approle::login(&anonymous, APPROLE_MOUNT, role_id, secret_id.expose_secret()).await {
                Ok(info) => info,
                Err(error) => return Err(self.login_error(&anonymous, error, operation, target).await),
            };
        self.logins.fetch_add(1, Ordering::Relaxed);
        let ttl = Duration::from_secs(info.lease_duration);
        Ok(Session {
            token: SecretString::new(info.client_token),
            generation,
            refresh_at: refresh_at(ttl),
            renewable: info.renewable,
            login_ttl: ttl,
        })
    }

    /// A refused AppRole login as a [`VaultError`]. No AppRole auth method at [`APPROLE_MOUNT`] is a configuration
    /// error: a server answers an anonymous request to a path no login handler serves with 403 `permission denied`
    /// (or 404 `no handler for route` when it routes it), so a 403 is told apart by a second anonymous login with
    /// an empty role_id, which AppRole refuses with another status (400 or 500 `missing role_id`) before any
    /// check of the identity. Any other refusal (a wrong role_id or secret_id answers 400) is the identity refused:
    /// permission denied.
    async fn login_error(
        &self,
        anonymous: &Authed,
        error: vaultrs::error::ClientError,
        operation: Operation,
        target: &str,
    ) -> VaultError {
        let no_route = matches!(&error, vaultrs::error::ClientError::APIError { code: 404, errors }
            if errors.iter().any(|m| m.contains("no handler for route")));
        let unmounted = no_route || (status_of(&error) == Some(403) && !anonymous.approle_login_is_served().await);
        let error = from_client(error, operation, target);
        let refusal = error.detail().unwrap_or_default();
        let (kind, detail) = if unmounted {
            (
                ErrorKind::ConfigInvalid,
                format!(
                    "approle login: no AppRole auth method is enabled at \"{APPROLE_MOUNT}/\"{} ({refusal})",
                    self.client
                        .settings
                        .namespace
                        .as_ref()
                        .map(|ns| format!(" in namespace \"{ns}\""))
                        .unwrap_or_default()
                ),
            )
        } else {
            let kind = match error.kind() {
                ErrorKind::ConfigInvalid | ErrorKind::NotFound => ErrorKind::PermissionDenied,
                kind => kind,
            };
            (kind, format!("approle login: {refusal}"))
        };
        VaultError::new(kind, KIND, operation).with_target(target).with_detail(detail)
    }
}

/// Two thirds into a TTL from now; `None` for a zero TTL (a token that does not expire).
fn refresh_at(ttl: Duration) -> Option<Instant> {
    (!ttl.is_zero()).then(|| Instant::now() + ttl * 2 / 3)
}
