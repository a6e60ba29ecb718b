//! Authentication, the admin bootstrap, and token management.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lanyard_catalog::{ApiToken, Meta, Principal, Timestamp, transaction};
use lanyard_core::{AuditAction, AuditOutcome, ErrorKind, Name, ObjectKind, PrincipalId, SecretString, TokenId};

use crate::auth::{Caller, Role, generate_token, hash_token, plausible_token};
use crate::error::{ControlError, Result};
use crate::model::TokenView;
use crate::{ControlPlane, audit, detail, snapshot};

/// The bootstrap principal.
pub const ADMIN_PRINCIPAL: &str = "admin";

/// The file in the data directory that receives the generated admin token (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The token row that holds the hash of `LANYARD_ADMIN_TOKEN`.
const ENV_TOKEN_NAME: &str = "admin/env";

/// How often `last_used_at` is written per token and node.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// What the admin bootstrap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// The admin principal was created and its token written to this file (mode 0600).
    Created(PathBuf),
    /// The admin token is the one given in the environment (stored as a hash).
    FromEnvironment,
    /// The admin principal already existed; nothing was changed.
    Existing,
}

fn unauthenticated(message: &str) -> ControlError {
    ControlError::new(ErrorKind::Unauthenticated, message)
}

fn token_view(token: &ApiToken, principal: &Principal) -> Result<TokenView> {
    Ok(TokenView {
        id: token.meta.id,
        name: token.name.to_string(),
        principal: principal.name.to_string(),
        role: principal.role,
        created_at: token.meta.created_at,
        last_used_at: token.last_used_at,
        expires_at: token.expires_at,
        revoked_at: token.revoked_at,
    })
}

/// A new token row holding `hash`.
fn new_token(principal_id: PrincipalId, name: Name, hash: &str, expires_at: Option<Timestamp>) -> ApiToken {
    ApiToken {
        meta: Meta::new(),
        name,
        principal_id,
        token_hash: hash.to_owned(),
        last_used_at: None,
        expires_at,
        revoked_at: None,
    }
}

/// A token row's name: the principal's name and a short random suffix (`alice/3f9c1a2b`).
fn token_name(principal: &str) -> Result<Name> {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    Ok(Name::new(format!("{principal}/{suffix}"))?)
}

/// Writes `token` to `path` with mode 0600, atomically (a temporary file renamed over the target).
fn write_token_file(path: &Path, token: &SecretString) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{ADMIN_TOKEN_FILE}.{}", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&temporary)?;
        file.write_all(token.expose_secret().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

impl ControlPlane {
    /// Turns a presented bearer token into a [`Caller`]. Unknown, revoked and expired tokens are
    /// [`ErrorKind::Unauthenticated`], with messages that do not tell which.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        if !plausible_token(token) {
            return Err(unauthenticated("the bearer token is not valid"));
        }
        let hash = hash_token(token);
        let found = self.catalog().find_token(&hash).await?;
        let Some((row, principal)) = found else {
            return Err(unauthenticated("the bearer token is not valid"));
        };
        let now = Timestamp::now();
        if row.revoked_at.is_some() {
            return Err(unauthenticated("the bearer token has been revoked"));
        }
        if row.expires_at.is_some_and(|at| at <= now) {
            return Err(unauthenticated("the bearer token has expired"));
        }
        let caller = Caller { principal: principal.name.to_string(), role: principal.role };
        self.touch(row.meta.id, now).await;
        Ok(caller)
    }

    /// Writes `last_used_at` at most once a minute per token on this node; a failure only costs the bookkeeping.
    async fn touch(&self, id: TokenId, now: Timestamp) {
        {
            let mut touched = self.inner.touched.lock().unwrap_or_else(|e| e.into_inner());
            if touched.get(&id).is_some_and(|at| at.elapsed() < TOUCH_EVERY) {
                return;
            }
            touched.insert(id, Instant::now());
        }
        // Boxed: once a minute at most, and its transaction's future inline would make every authentication's
        // future kilobytes larger (futures are moved whole).
        let outcome: Result<()> = Box::pin(async {
            transaction!(self.catalog(), |tx| -> Result<_> {
                tx.touch_token(id, now).await?;
                Ok(())
            })
        })
        .await;
        if let Err(error) = outcome {
            tracing::warn!(token = %id, %error, "could not record the token's last use");
        }
    }

    /// Creates the `admin` principal on first start. With `env_token` (from `LANYARD_ADMIN_TOKEN`) that token is
    /// the admin's, stored as a hash (a changed value replaces the previous one). Without it, a new token is written
    /// to `<data-dir>/admin.token` with mode 0600 — only when the principal does not exist yet.
    pub async fn bootstrap_admin(&self, env_token: Option<&SecretString>) -> Result<AdminBootstrap> {
        let system = Caller::local("lanyard", Role::Admin);
        if let Some(token) = env_token {
            if !plausible_token(token.expose_secret()) || token.len() < 16 {
                return Err(ControlError::invalid(
                    "LANYARD_ADMIN_TOKEN must be 16 to 256 printable ASCII characters without spaces",
                ));
            }
            let hash = hash_token(token.expose_secret());
            transaction!(self.catalog(), |tx| -> Result<_> {
                let principal = match tx.find_by_name::<Principal>(&[ADMIN_PRINCIPAL]).await? {
                    Some(p) => p,
                    None => {
                        let p = Principal { meta: Meta::new(), name: Name::new(ADMIN_PRINCIPAL)?, role: Role::Admin };
                        tx.insert(p).await?
                    }
                };
                match tx.find_by_name::<ApiToken>(&[ENV_TOKEN_NAME]).await? {
                    Some(existing) if existing.token_hash == hash && existing.revoked_at.is_none() => {}
                    Some(mut existing) => {
                        existing.token_hash = hash.clone();
                        existing.revoked_at = None;
                        tx.update(existing).await?;
                        let record = audit(
                            &system,
                            AuditAction::TokenReplace,
                            ObjectKind::Token,
                            principal.meta.id,
                            ENV_TOKEN_NAME,
                            detail([]),
                        );
                        tx.append_audit(&record).await?;
                    }
                    None => {
                        let row = new_token(principal.meta.id, Name::new(ENV_TOKEN_NAME)?, &hash, None);
                        let row = tx.insert(row).await?;
                        let record = audit(
                            &system,
                            AuditAction::TokenCreate,
                            ObjectKind::Token,
                            row.meta.id,
                            ENV_TOKEN_NAME,
                            detail([("role", Role::Admin.as_str().into())]),
                        );
                        tx.append_audit(&record).await?;
                    }
                }
                Ok(())
            })?;
            return Ok(AdminBootstrap::FromEnvironment);
        }
        let exists = snapshot!(self, |tx| { Ok(tx.find_by_name::<Principal>(&[ADMIN_PRINCIPAL]).await?.is_some()) })?;
        if exists {
            return Ok(AdminBootstrap::Existing);
        }
        let dir = self.inner.data_dir.clone().ok_or_else(|| {
            ControlError::invalid("no data directory to write admin.token to; set LANYARD_ADMIN_TOKEN")
        })?;
        let path = dir.join(ADMIN_TOKEN_FILE);
        let token = generate_token();
        write_token_file(&path, &token)
            .map_err(|e| ControlError::invalid(format!("cannot write {}: {e}", path.display())))?;
        let hash = hash_token(token.expose_secret());
        let outcome = transaction!(self.catalog(), |tx| -> Result<_> {
            if tx.find_by_name::<Principal>(&[ADMIN_PRINCIPAL]).await?.is_some() {
                return Ok(false);
            }
            let p = Principal { meta: Meta::new(), name: Name::new(ADMIN_PRINCIPAL)?, role: Role::Admin };
            let principal = tx.insert(p).await?;
            let row = new_token(principal.meta.id, token_name(ADMIN_PRINCIPAL)?, &hash, None);
            let row = tx.insert(row).await?;
            let record = audit(
                &system,
                AuditAction::TokenCreate,
                ObjectKind::Token,
                row.meta.id,
                row.name.as_str(),
                detail([("role", Role::Admin.as_str().into())]),
            );
            tx.append_audit(&record).await?;
            Ok(true)
        });
        match outcome {
            Ok(true) => Ok(AdminBootstrap::Created(path)),
            Ok(false) => {
                // Another node created the admin between our read and our write: our token is worthless.
                let _ = std::fs::remove_file(&path);
                Ok(AdminBootstrap::Existing)
            }
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                Err(error)
            }
        }
    }

    /// Creates a token for `principal` (created with `role` if it does not exist; an existing principal must have
    /// that role). Returns the token once; only its hash is stored. Admin only.
    pub async fn create_token(
        &self,
        caller: &Caller,
        principal: &str,
        role: Role,
        expires_at: Option<Timestamp>,
    ) -> Result<(TokenView, SecretString)> {
        self.require_admin(caller, AuditAction::TokenCreate).await?;
        let name = crate::valid_name(ObjectKind::Principal, principal)?;
        if name.as_str().contains('/') {
            return Err(ControlError::invalid("a principal name must not contain '/'"));
        }
        let token = generate_token();
        let hash = hash_token(token.expose_secret());
        let view = transaction!(self.catalog(), |tx| -> Result<_> {
            let principal = match tx.find_by_name::<Principal>(&[name.as_str()]).await? {
                Some(p) if p.role != role => {
                    return Err(ControlError::conflict(format!(
                        "principal {:?} already exists with role {}; its tokens all carry that role",
                        name.as_str(),
                        p.role
                    )));
                }
                Some(p) => p,
                None => {
                    crate::refuse_lookalike::<Principal>(tx, ObjectKind::Principal, &[], &name, None).await?;
                    tx.insert(Principal { meta: Meta::new(), name: name.clone(), role }).await?
                }
            };
            let row = new_token(principal.meta.id, token_name(name.as_str())?, &hash, expires_at);
            let row = tx.insert(row).await?;
            let record = audit(
                caller,
                AuditAction::TokenCreate,
                ObjectKind::Token,
                row.meta.id,
                row.name.as_str(),
                detail([("role", role.as_str().into())]),
            );
            tx.append_audit(&record).await?;
            token_view(&row, &principal)
        })?;
        Ok((view, token))
    }

    /// Every token (never the tokens themselves). Admin only.
    pub async fn list_tokens(&self, caller: &Caller) -> Result<Vec<TokenView>> {
        self.require_admin(caller, AuditAction::TokenList).await?;
        snapshot!(self, |tx| {
            let principals: Vec<Principal> = tx.list(None, None).await?;
            let tokens: Vec<ApiToken> = tx.list(None, None).await?;
            tokens
                .iter()
                .filter_map(|t| principals.iter().find(|p| p.meta.id == t.principal_id).map(|p| token_view(t, p)))
                .collect()
        })
    }

    /// Revokes a token by its name or id, or every live token of a principal by the principal's name. Admin only.
    pub async fn revoke_token(&self, caller: &Caller, target: &str) -> Result<Vec<TokenView>> {
        self.require_admin(caller, AuditAction::TokenRevoke).await?;
        transaction!(self.catalog(), |tx| -> Result<_> {
            let principals: Vec<Principal> = tx.list(None, None).await?;
            let tokens: Vec<ApiToken> = tx.list(None, None).await?;
            let by_principal = principals.iter().find(|p| p.name.as_str() == target).map(|p| p.meta.id);
            let chosen: Vec<ApiToken> = tokens
                .into_iter()
                .filter(|t| {
                    t.name.as_str() == target || t.meta.id.to_string() == target || Some(t.principal_id) == by_principal
                })
                .filter(|t| t.revoked_at.is_none())
                .collect();
            if chosen.is_empty() {
                return Err(ControlError::new(
                    ErrorKind::NotFound,
                    format!("no live token or principal {:?}", lanyard_core::printable(target, 64)),
                ));
            }
            let now = Timestamp::now();
            let mut out = Vec::new();
            for mut token in chosen {
                token.revoked_at = Some(now);
                let (token, _) = tx
                    .update_audited(token, |token| {
                        audit(
                            caller,
                            AuditAction::TokenRevoke,
                            ObjectKind::Token,
                            token.meta.id,
                            token.name.as_str(),
                            detail([]),
                        )
                    })
                    .await?;
                let principal = principals.iter().find(|p| p.meta.id == token.principal_id);
                if let Some(principal) = principal {
                    out.push(token_view(&token, principal)?);
                }
            }
            Ok(out)
        })
    }

    async fn require_admin(&self, caller: &Caller, action: AuditAction) -> Result<()> {
        if caller.role == Role::Admin {
            return Ok(());
        }
        let record = lanyard_catalog::NewAuditRecord {
            principal: caller.principal.clone(),
            action,
            object_kind: ObjectKind::Token,
            object_id: None,
            object_name: None,
            outcome: AuditOutcome::Denied,
            detail: detail([("role", caller.role.as_str().into())]),
        };
        self.deny(
            record,
            format!(
                "managing tokens requires the admin role; principal {:?} has role {}",
                caller.principal, caller.role
            ),
        )
        .await
    }
}
