//! `lanyard-control` is the Control Plane service: every API operation on connections, vault entries, credential
//! storages, databases, links, tokens and the audit log, as one function taking a typed request and the [`Caller`].
//!
//! Rules every operation keeps:
//!
//! - **One transaction.** Each change runs in one catalog write transaction together with its audit record, so a
//!   change without its record cannot exist; a failing action leaves row and audit log exactly as before. Names in
//!   actions are resolved to ids inside that transaction. Retryable database failures rerun the transaction
//!   (`lanyard_catalog::transaction!`, the catalog's one retry primitive).
//! - **Material first.** Writes that touch a vault backend store the material before the catalog row that points at
//!   it, and delete it after the row is gone; a failure may orphan material (logged), never leave a row without its
//!   material. Material is written outside the catalog transaction (the local backend keeps its ciphertext in the
//!   same database), and an overwrite that is not followed by a commit is undone.
//! - **Secrets stay secret.** Secret options of credential storages are stripped into the local backend under
//!   `backend::<id>`; connection options that look secret are refused; views and audit details hold no material.
//! - **Authorized.** Every operation checks the caller's permission first; a denial is audited.
//! - **Advice is a warning, not a refusal.** EXPIRES is advisory: CREATE and ALTER of an entry or a connection, and
//!   TEST CONNECTION, return [`Warning`]s on their views (an expiry in the past or within 14 days) and change nothing
//!   else; reads never warn. An entry without material is not advice: it is refused.
//!
//! `lanyard admin gc` finds and removes the material such failures orphan ([`ControlPlane::find_orphans`],
//! [`ControlPlane::delete_orphan`], each removal audited).
//!
//! What it is not: it knows nothing of HTTP, JSON wire types or SQL text (`lanyard-server` and `lanyard-client`
//! do), and it holds no state that several nodes must agree on: everything lives in the catalog.

mod auth;
mod backends;
mod connections;
mod databases;
mod entries;
mod error;
mod gc;
mod history;
mod links;
mod model;
mod pipelines;
mod probe;
mod tokens;
mod warnings;

use std::path::PathBuf;
use std::sync::Arc;

use lanyard_catalog::{Catalog, JsonObject};
use lanyard_core::{AuditAction, AuditOutcome, ErrorKind, ObjectKind};
use lanyard_resolve::{CachedCatalog, Resolver};
use lanyard_vault::{BackendEnv, Registry};

pub use auth::{Caller, Permission, Role, TOKEN_PREFIX, generate_token, hash_token};
pub use connections::ConnectionRead;
pub use error::{ControlError, Result};
pub use gc::{GcOutcome, Orphan, ScannedStorage, StorageScan};
pub use history::{FieldChange, HISTORY_MAX, HISTORY_PAGE, PointInTime, VersionView, parse_instant};
/// The catalog's own error, for [`prepare_catalog`].
pub use lanyard_catalog::CatalogError;
/// Wrap each request in it: on a PostgreSQL catalog the request then reads the catalog's stamp once (see
/// `lanyard_catalog::Stamp`).
pub use lanyard_catalog::request_scope;
/// Catalog and vault types that appear in this crate's views.
pub use lanyard_catalog::{AuditRecord, LastTest, Listed, NewAuditRecord, Page, Retention, Timestamp};

/// Before anything opens a SQLite catalog file: refuses an existing file that is not a Lanyard catalog
/// ([`CatalogError::NotACatalog`]) and creates a missing one with mode 0600 ([`Catalog::prepare`]). Nothing to do
/// for other URLs.
pub async fn prepare_catalog(url: &str) -> std::result::Result<(), CatalogError> {
    Catalog::prepare(url).await
}
pub use lanyard_vault::ProbeStep;
pub use links::{DEFAULT_DATABASE, OWNED_ENTRY_PREFIX, create_statement};
pub use model::{
    AuditQuery, BackendAction, BackendView, ConnectionAction, ConnectionView, Created, CredentialsSource, DatabaseView,
    EntryAction, EntryType, EntryView, LinkAction, LinkCredentialsView, LinkDefinition, LinkTestOutcome, LinkView,
    Material, NamedRef, NewBackend, NewConnection, NewEntry, NewLink, NewPipeline, ObjectKey, PipelineFileView,
    PipelineView, StorageTestOutcome, TestOutcome, TokenView, Warning,
};
pub use probe::{ConnectionProber, Connectors, NoProber, ProbeResult};
pub use tokens::{ADMIN_PRINCIPAL, ADMIN_TOKEN_FILE, AdminBootstrap};

/// Where the Control Plane keeps its state.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// `sqlite://…` or `postgres://…`.
    pub catalog_url: String,
    /// The data directory (master key, admin token).
    pub data_dir: PathBuf,
}

/// The Control Plane. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct ControlPlane {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Catalog,
    registry: &'static Registry,
    resolver: Resolver,
    data_dir: Option<PathBuf>,
    env: BackendEnv,
    prober: Arc<dyn ConnectionProber>,
    /// When each token's `last_used_at` was last written by this node, so it is written at most once a minute.
    touched: std::sync::Mutex<rustc_hash::FxHashMap<lanyard_core::TokenId, std::time::Instant>>,
    /// Notified when START or STOP PIPELINE committed here ([`ControlPlane::pipeline_changes`]).
    pipeline_changes: Arc<tokio::sync::Notify>,
    /// On PostgreSQL, the connection rows as this node last wrote them, by name: the copy an ALTER CONNECTION tries
    /// first, without reading the row (its UPDATE checks the version). Never served to a reader.
    written: std::sync::Mutex<rustc_hash::FxHashMap<String, lanyard_catalog::Connection>>,
}

/// How many connection rows [`Inner::written`] holds; a full map is emptied before the next (it saves a round
/// trip; it is not needed for anything to be right).
const WRITTEN_CAPACITY: usize = 4096;

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane").field("catalog", &self.inner.catalog).finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// Opens (and migrates) the catalog of `config` and builds the Control Plane over the backends of `registry`.
    pub async fn open(config: &ControlConfig, registry: &'static Registry) -> Result<Self> {
        let catalog = Catalog::open(&config.catalog_url).await?;
        let env = BackendEnv { catalog_url: Some(config.catalog_url.clone()), data_dir: Some(config.data_dir.clone()) };
        Ok(Self::new(catalog, registry, env))
    }

    /// The Control Plane over an open catalog.
    pub fn new(catalog: Catalog, registry: &'static Registry, env: BackendEnv) -> Self {
        let data_dir = env.data_dir.clone();
        let resolver = Resolver::new(Arc::new(CachedCatalog::new(catalog.clone())), registry, env.clone());
        Self {
            inner: Arc::new(Inner {
                catalog,
                registry,
                resolver,
                data_dir,
                env,
                prober: Arc::new(Connectors),
                touched: std::sync::Mutex::default(),
                pipeline_changes: Arc::default(),
                written: std::sync::Mutex::default(),
            }),
        }
    }

    /// The same Control Plane with `prober` running TEST CONNECTION (the default, [`Connectors`], runs the real
    /// probes of `lanyard-connectors`; [`NoProber`] reports that no probe exists for any type).
    pub fn with_prober(self, prober: Arc<dyn ConnectionProber>) -> Self {
        let inner = Inner {
            catalog: self.inner.catalog.clone(),
            registry: self.inner.registry,
            resolver: self.inner.resolver.clone(),
            data_dir: self.inner.data_dir.clone(),
            env: self.inner.env.clone(),
            prober,
            touched: std::sync::Mutex::default(),
            pipeline_changes: Arc::clone(&self.inner.pipeline_changes),
            written: std::sync::Mutex::default(),
        };
        Self { inner: Arc::new(inner) }
    }

    /// Notified each time START or STOP PIPELINE commits through this Control Plane, so that the runner of this
    /// node looks at the catalog at once rather than at its next tick (other nodes see the change at their next
    /// tick). A notification that finds no one waiting is kept for the next wait.
    pub fn pipeline_changes(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.inner.pipeline_changes)
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The resolver (its metrics are served on `/metrics`).
    pub fn resolver(&self) -> &Resolver {
        &self.inner.resolver
    }

    /// The backend registry.
    pub fn registry(&self) -> &'static Registry {
        self.inner.registry
    }

    /// Closes the catalog's connections.
    pub async fn close(&self) {
        self.inner.catalog.close().await;
    }

    /// Checks that the catalog answers (for `/healthz`).
    pub async fn health(&self) -> Result<()> {
        let mut tx = self.catalog().begin_read().await?;
        tx.count::<lanyard_catalog::Backend>().await?;
        tx.rollback().await?;
        Ok(())
    }

    /// Checks `permission`; a denial is audited (outcome `denied`) and returned as [`ErrorKind::Forbidden`] naming
    /// the permission. `action` and `object` say what was attempted, for the audit record.
    pub async fn authorize(
        &self,
        caller: &Caller,
        permission: Permission,
        action: AuditAction,
        object: Option<&str>,
    ) -> Result<()> {
        if caller.may(permission) {
            return Ok(());
        }
        let record = NewAuditRecord {
            principal: caller.principal.clone(),
            action,
            object_kind: action_kind(action),
            object_id: None,
            object_name: object.map(|o| lanyard_core::printable(o, 256)),
            outcome: AuditOutcome::Denied,
            detail: detail([("permission", permission.as_str().into()), ("role", caller.role.as_str().into())]),
        };
        // Boxed: the hot path (allowed) never reaches it, and its transaction's future inline would make every
        // authorization's future kilobytes larger (futures are moved whole).
        Box::pin(self.deny(
            record,
            format!("permission {permission} is required; principal {:?} has role {}", caller.principal, caller.role),
        ))
        .await
    }

    /// Audits a denial (in its own transaction) and returns the [`ErrorKind::Forbidden`] error with `message`.
    pub(crate) async fn deny(&self, record: NewAuditRecord, message: String) -> Result<()> {
        lanyard_catalog::transaction!(self.catalog(), |tx| {
            tx.append_audit(&record).await?;
            Ok(())
        })?;
        tracing::info!(principal = %record.principal, action = %record.action, "denied");
        Err(ControlError::new(ErrorKind::Forbidden, message))
    }

    /// Audit records, oldest first: at most `query.limit` ([`AUDIT_PAGE`] without one).
    pub async fn list_audit(&self, caller: &Caller, query: &AuditQuery) -> Result<Vec<lanyard_catalog::AuditRecord>> {
        self.authorize(caller, Permission::AuditRead, AuditAction::AuditList, None).await?;
        let limit = query.limit.unwrap_or(AUDIT_PAGE);
        if !(1..=1000).contains(&limit) {
            return Err(ControlError::invalid(format!("limit must be between 1 and 1000, not {limit}")));
        }
        let mut tx = self.catalog().begin_read().await?;
        let filter = lanyard_catalog::AuditFilter {
            since: query.since,
            from: query.from,
            object: query.object.clone(),
            kind: query.kind,
            limit,
            newest: query.newest,
        };
        let records = tx.query_audit(&filter).await?;
        tx.rollback().await?;
        Ok(records)
    }
}

/// The kind of object an operation is about, for audit records of denials (the permission alone cannot say:
/// `links:write` covers links and databases).
fn action_kind(action: AuditAction) -> ObjectKind {
    use AuditAction as A;
    match action {
        A::ConnectionList
        | A::ConnectionGet
        | A::ConnectionCreate
        | A::ConnectionAlter
        | A::ConnectionDrop
        | A::ConnectionTest => ObjectKind::Connection,
        A::VaultEntryList | A::VaultEntryGet | A::VaultEntryCreate | A::VaultEntryAlter | A::VaultEntryDrop => {
            ObjectKind::VaultEntry
        }
        A::CredentialStorageList
        | A::CredentialStorageGet
        | A::CredentialStorageCreate
        | A::CredentialStorageAlter
        | A::CredentialStorageDrop
        | A::CredentialStorageTest
        | A::CredentialStorageGc => ObjectKind::CredentialStorage,
        A::LinkList | A::LinkGet | A::LinkCreate | A::LinkAlter | A::LinkDrop | A::LinkTest => ObjectKind::Link,
        A::PipelineList | A::PipelineGet | A::PipelineCreate | A::PipelineStart | A::PipelineStop | A::PipelineDrop => {
            ObjectKind::Pipeline
        }
        A::DatabaseList | A::DatabaseCreate | A::DatabaseDrop => ObjectKind::Database,
        A::TokenCreate | A::TokenList | A::TokenReplace | A::TokenRevoke => ObjectKind::Token,
        A::AuditList => ObjectKind::Principal,
    }
}

/// A JSON object from key/value pairs.
pub(crate) fn detail<const N: usize>(pairs: [(&str, serde_json::Value); N]) -> JsonObject {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The audit form of ALTER actions: their `Serialize`, which writes no material. It cannot fail (every map key is a
/// string); were it to, the record would say `null` rather than lose the change.
pub(crate) fn audit_form<T: serde::Serialize>(actions: &[T]) -> serde_json::Value {
    serde_json::to_value(actions).unwrap_or_default()
}

/// An audit record of an allowed change.
pub(crate) fn audit(
    caller: &Caller,
    action: AuditAction,
    kind: ObjectKind,
    id: impl std::fmt::Display,
    name: &str,
    detail: JsonObject,
) -> NewAuditRecord {
    NewAuditRecord {
        principal: caller.principal.clone(),
        action,
        object_kind: kind,
        object_id: Some(id.to_string()),
        object_name: Some(name.to_owned()),
        outcome: AuditOutcome::Allowed,
        detail,
    }
}

/// Runs `$body` in a read transaction (a consistent snapshot).
macro_rules! snapshot {
    ($plane:expr, |$tx:ident| $body:block) => {{
        let mut read = $plane.catalog().begin_read().await?;
        let outcome: $crate::Result<_> = {
            let $tx: &mut lanyard_catalog::Tx = &mut read;
            async { $body }.await
        };
        let _ = read.rollback().await;
        outcome
    }};
}
pub(crate) use snapshot;

/// How many audit records [`ControlPlane::list_audit`] returns when the query gives no limit.
pub const AUDIT_PAGE: i64 = 100;

/// Refuses `name` for a new or renamed object of `kind` when another one of the same table (and `scope`: the
/// database of a link or pipeline) has a name that looks like it ([`lanyard_core::Name::looks_like`]): `pаyroll`
/// with a Cyrillic `а` next to `payroll`. Call it in the write transaction that inserts or renames the row, after
/// the exact-name check; `except` is the row being renamed.
pub(crate) async fn refuse_lookalike<R: lanyard_catalog::Record>(
    tx: &mut lanyard_catalog::Tx,
    kind: ObjectKind,
    scope: &[&str],
    name: &lanyard_core::Name,
    except: Option<R::Id>,
) -> Result<()> {
    let Some(existing) = tx.find_lookalike::<R>(scope, name, except).await? else { return Ok(()) };
    let new: Vec<char> = name.as_str().chars().collect();
    let old: Vec<char> = existing.chars().collect();
    let first_difference = new
        .iter()
        .zip(&old)
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map(|(index, (a, b))| {
            format!(
                " (character {index} is U+{:04X} in the new name and U+{:04X} in the existing one)",
                *a as u32, *b as u32
            )
        })
        .filter(|_| new.len() == old.len())
        .unwrap_or_default();
    Err(ControlError::new(
        ErrorKind::AlreadyExists,
        format!(
            "{kind} {:?} looks like the existing {kind} {:?}: the names differ only in characters that look \
             alike{first_difference}; choose a name that reads differently",
            name.as_str(),
            lanyard_core::printable(&existing, 128)
        ),
    ))
}

/// Validates a name from a request.
pub(crate) fn valid_name(kind: ObjectKind, name: &str) -> Result<lanyard_core::Name> {
    lanyard_core::Name::new(name)
        .map_err(|e| ControlError::invalid(format!("invalid {kind} name {:?}: {e}", lanyard_core::printable(name, 64))))
}
