//! `lanyard-resolve` turns a connection into what a connect needs — its type, options and credential — reading the
//! credential fresh from its backend on every call, so a rotation takes effect with no ALTER and no restart.
//!
//! The six rules of vault.md:
//!
//! 1. **Fresh.** No material is cached. Every answer comes from a backend read that started after the resolve
//!    began ([`Provenance::read_started_at`] shows it).
//! 2. **Coalesced.** Concurrent resolves of one profile share reads: at most one read in flight and one queued per
//!    profile, so a burst of N resolves costs at most two backend calls (see the `flight` module).
//! 3. **Bounded.** Per backend: a timeout per call (`timeout_ms`, default 5000), a concurrency limit
//!    (`max_concurrent_requests`, default 32) and an optional rate limit (`max_requests_per_second`) shared by all
//!    profiles; temporary failures are retried (at most 3 attempts, exponential backoff with full jitter, at least the
//!    backend's `Retry-After`), never past the caller's deadline.
//! 4. **Explained.** A [`ResolveError`] names the connection, the entry, the backend and the kind — never material.
//! 5. **Measured.** [`Metrics`] counts resolves, backend calls, coalesced waiters, errors by kind and retries, and
//!    records call latency, per backend, ready for `/metrics`.
//! 6. **Embeddable.** [`Resolver`] works over any [`CatalogSource`]: the [`lanyard_catalog::Catalog`] through
//!    [`CachedCatalog`] (no database work while nothing was committed), or a [`StaticCatalog`] filled by the
//!    embedding program.
//!
//! Two auth paths: CREDENTIAL (entry → its backend → material, with linked external names and `#field` JSON
//! selection) and CREDENTIAL STORAGE (the backend lends its ambient identity). When a connection has both, object
//! stores (`s3`, `gcs`, `azure_adls`) use the storage and every other type the credential. Links resolve like
//! connections; their CREDENTIALS JSON is the secret.
//!
//! Backend instances are built from their catalog row (options plus the secret options kept in the local backend
//! under `backend::<id>`) and reused while the row's version is unchanged; an ALTER CREDENTIAL STORAGE bumps the
//! version, and the next resolve builds a new instance. That caches a backend's *configuration*, never an entry's
//! material.
//!
//! What it is not: it writes nothing (the Control Plane writes material and rows), opens no sessions (that is
//! `lanyard-connectors`), and knows nothing of SQL or HTTP.

mod error;
mod flight;
mod metrics;
mod slot;
mod source;

use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lanyard_catalog::{Backend, JsonObject, VaultEntry};
use lanyard_core::{
    BackendId, ConnectionId, ConnectionType, LOCAL_BACKEND_ID, LinkId, LinkType, REDACTED, is_secret_key,
    url_has_password,
};
use lanyard_vault::{
    BackendEnv, ExternalName, Operation, Profile, Registry, SecretRef, VaultBackend, select_json_field,
};
use tokio::time::Instant;

pub use error::{Cause, ResolveError, Result};
/// The vault types a connect needs, re-exported so that connectors never name `lanyard-vault`.
pub use lanyard_vault::{AmbientIdentity, SecretValue};
pub use metrics::{BackendStats, Metrics};
pub use slot::{DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT, RetryPolicy};
pub use source::{CachedCatalog, CatalogSource, ConnectionRef, Lookup, StaticCatalog, Subject};

use flight::Flights;
use slot::{Deadline, Limits, Slot};

/// How long a resolve may take in all when the caller gives no deadline: enough for three attempts at the default
/// call timeout.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(15);

/// Whether a connection of this type uses its CREDENTIAL STORAGE when it has both a credential and a storage: the
/// object stores.
fn ambient_first(kind: Option<ConnectionType>) -> bool {
    matches!(kind, Some(ConnectionType::S3 | ConnectionType::Gcs | ConnectionType::AzureAdls))
}

/// The connection type that talks to the same system as a link of type `link_type`: `S3` → `s3`, `AZURE` →
/// `azure_adls`, `GCS` → `gcs`, `HTTP` → `rest`, `MYSQL` → `mysql`, `KAFKA` → `kafka`; `HDFS` and `MONGODB` have
/// none. The spellings differ (`AZURE` is not `azure_adls`), so this is a table, not a parse.
pub fn link_connection_type(link_type: LinkType) -> Option<ConnectionType> {
    match link_type {
        LinkType::S3 => Some(ConnectionType::S3),
        LinkType::Azure => Some(ConnectionType::AzureAdls),
        LinkType::Gcs => Some(ConnectionType::Gcs),
        LinkType::Http => Some(ConnectionType::Rest),
        LinkType::Mysql => Some(ConnectionType::Mysql),
        LinkType::Kafka => Some(ConnectionType::Kafka),
        LinkType::Hdfs | LinkType::Mongodb => None,
    }
}

/// What was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResolvedId {
    /// A connection.
    Connection(ConnectionId),
    /// A link.
    Link(LinkId),
}

/// How the connect authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credential.
    None,
    /// Material from a vault entry (a password, a token, a JSON document).
    Secret(SecretValue),
    /// The ambient identity of the connection's credential storage.
    Ambient(AmbientIdentity),
}

impl Auth {
    /// `none`, `secret` or `ambient` (for logs).
    pub fn label(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Secret(_) => "secret",
            Self::Ambient(_) => "ambient",
        }
    }
}

/// Where the answer came from (for traces and freshness checks). No material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The backend's display name.
    pub backend: String,
    /// The backend kind.
    pub backend_kind: &'static str,
    /// The vault entry's name, for the CREDENTIAL path.
    pub entry: Option<String>,
    /// When the backend call that produced the answer started; always after the resolve began.
    pub read_started_at: Instant,
    /// The backend's version of the material, if it reports one.
    pub material_version: Option<String>,
}

/// Everything a connect needs. The row is shared with the catalog lookup, not copied.
#[derive(Clone)]
pub struct ResolvedConnection {
    subject: Subject,
    /// The credential.
    pub auth: Auth,
    /// Where the credential came from, unless `auth` is [`Auth::None`].
    pub provenance: Option<Provenance>,
}

impl ResolvedConnection {
    /// The connection or link.
    pub fn id(&self) -> ResolvedId {
        match &self.subject {
            Subject::Connection(c) => ResolvedId::Connection(c.meta.id),
            Subject::Link(l) => ResolvedId::Link(l.meta.id),
        }
    }

    /// The row it was resolved from.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// Its display name (`prod_pg`, `db.my_s3`).
    pub fn name(&self) -> Cow<'_, str> {
        match &self.subject {
            Subject::Connection(c) => Cow::Borrowed(c.name.as_str()),
            Subject::Link(l) => Cow::Owned(format!("{}.{}", l.database, l.name)),
        }
    }

    /// Its type's spelling (`postgresql`, `s3`; for links the link type, `S3`, `KAFKA`), for messages.
    pub fn connection_type(&self) -> &'static str {
        match &self.subject {
            Subject::Connection(c) => c.connection_type.as_str(),
            Subject::Link(l) => l.link_type.as_str(),
        }
    }

    /// The connection type it connects as: a connection's own type; for a link, the connection type of the same
    /// system (see [`link_connection_type`]), or `None` when there is none (`HDFS`, `MONGODB`).
    pub fn kind(&self) -> Option<ConnectionType> {
        match &self.subject {
            Subject::Connection(c) => Some(c.connection_type),
            Subject::Link(l) => link_connection_type(l.link_type),
        }
    }

    /// Its options (links: CONFIG).
    pub fn options(&self) -> Options<'_> {
        match &self.subject {
            Subject::Connection(c) => Options(&c.options),
            Subject::Link(l) => Options(&l.config),
        }
    }

    /// Pool limit (connections only).
    pub fn max_connections(&self) -> Option<i64> {
        match &self.subject {
            Subject::Connection(c) => c.max_connections,
            Subject::Link(_) => None,
        }
    }

    /// Connect timeout in seconds (connections only).
    pub fn timeout_seconds(&self) -> Option<i64> {
        match &self.subject {
            Subject::Connection(c) => c.timeout_seconds,
            Subject::Link(_) => None,
        }
    }
}

impl fmt::Debug for ResolvedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedConnection")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("connection_type", &self.connection_type())
            .field("options", &self.options())
            .field("auth", &self.auth)
            .field("provenance", &self.provenance)
            .finish()
    }
}

/// A connection's options, as text. `Debug` masks values under secret-looking keys and URLs with passwords.
#[derive(Clone, Copy)]
pub struct Options<'a>(&'a JsonObject);

impl<'a> Options<'a> {
    /// The value of `key`: text as stored (numbers and booleans in their JSON form).
    pub fn get(&self, key: &str) -> Option<Cow<'a, str>> {
        self.0.get(key).map(json_text)
    }

    /// Every option, in stored order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> + 'a {
        self.0.iter().map(|(key, value)| (key.as_str(), json_text(value)))
    }

    /// The number of options.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in self.iter() {
            if is_secret_key(key) || url_has_password(&value) {
                map.entry(&key, &REDACTED);
            } else {
                map.entry(&key, &value);
            }
        }
        map.finish()
    }
}

/// Builds a [`Resolver`].
pub struct ResolverBuilder {
    source: Arc<dyn CatalogSource>,
    registry: &'static Registry,
    env: BackendEnv,
    retry: RetryPolicy,
    deadline: Duration,
}

impl ResolverBuilder {
    /// Where backends find the catalog URL and data dir (the local backend needs them).
    pub fn env(mut self, env: BackendEnv) -> Self {
        self.env = env;
        self
    }

    /// The retry policy (default: 3 attempts, 100 ms base, 2 s ceiling).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The deadline of [`Resolver::resolve`] (default [`DEFAULT_DEADLINE`]).
    pub fn default_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The resolver.
    pub fn build(self) -> Resolver {
        Resolver {
            inner: Arc::new(Inner {
                source: self.source,
                registry: self.registry,
                env: self.env,
                retry: self.retry,
                deadline: self.deadline,
                slots: Mutex::default(),
                flights: Arc::default(),
                metrics: Metrics::new(),
            }),
        }
    }
}

/// Resolves connections fresh on every call. Cheap to clone; clones share backends, reads in flight and metrics.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    source: Arc<dyn CatalogSource>,
    registry: &'static Registry,
    env: BackendEnv,
    retry: RetryPolicy,
    deadline: Duration,
    slots: Mutex<HashMap<BackendId, Arc<Slot>>>,
    flights: Arc<Flights>,
    metrics: Metrics,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("kinds", &self.inner.registry.kinds())
            .field("retry", &self.inner.retry)
            .field("deadline", &self.inner.deadline)
            .finish_non_exhaustive()
    }
}

/// The context of an error: which entry, which backend (named only if the resolve fails).
#[derive(Default)]
struct Context {
    entry: Option<Arc<VaultEntry>>,
    backend: Option<Arc<Backend>>,
}

impl Resolver {
    /// A builder over `source`, building backends from `registry`.
    pub fn builder(source: Arc<dyn CatalogSource>, registry: &'static Registry) -> ResolverBuilder {
        ResolverBuilder {
            source,
            registry,
            env: BackendEnv::default(),
            retry: RetryPolicy::default(),
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// A resolver with default settings.
    pub fn new(source: Arc<dyn CatalogSource>, registry: &'static Registry, env: BackendEnv) -> Self {
        Self::builder(source, registry).env(env).build()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Resolves `target` within the default deadline.
    pub async fn resolve(&self, target: impl Into<ConnectionRef>) -> Result<ResolvedConnection> {
        self.resolve_within(target, self.inner.deadline).await
    }

    /// Resolves `target`; gives up with [`Cause::DeadlineExceeded`] (or the last backend error) after `budget`.
    pub async fn resolve_within(
        &self,
        target: impl Into<ConnectionRef>,
        budget: Duration,
    ) -> Result<ResolvedConnection> {
        let target = target.into();
        let deadline = Deadline::after(budget);
        let lookup = match self.inner.source.lookup(&target).await {
            Ok(Some(lookup)) => lookup,
            Ok(None) => return Err(ResolveError::new(target.describe(), Cause::NotFound)),
            Err(error) => return Err(ResolveError::catalog(target.describe(), &error)),
        };
        let mut context = Context::default();
        let result = self.resolve_lookup(&lookup, deadline, &mut context).await.map_err(|cause| ResolveError {
            subject: lookup.subject.describe(),
            entry: context.entry.map(|entry| entry.name.to_string()),
            backend: context.backend.map(|b| (b.name.to_string(), Registry::canonical_kind(&b.backend_type))),
            cause,
        });
        match &result {
            Ok(resolved) => tracing::trace!(
                connection = %resolved.name(),
                backend = resolved.provenance.as_ref().map(|p| p.backend.as_str()),
                material_version = resolved.provenance.as_ref().and_then(|p| p.material_version.as_deref()),
                auth = resolved.auth.label(),
                "resolved"
            ),
            Err(error) => tracing::debug!(error = %error, "resolve failed"),
        }
        result
    }

    async fn resolve_lookup(
        &self,
        lookup: &Lookup,
        deadline: Deadline,
        context: &mut Context,
    ) -> std::result::Result<ResolvedConnection, Cause> {
        let Lookup { subject, entry, entry_backend, storage } = lookup;
        let mut resolved = ResolvedConnection { subject: subject.clone(), auth: Auth::None, provenance: None };
        let ambient = match (subject.credential_id(), subject.credential_storage_id()) {
            (Some(_), Some(_)) => ambient_first(resolved.kind()),
            (None, Some(_)) => true,
            _ => false,
        };
        if ambient {
            let id = subject.credential_storage_id().expect("checked above");
            let Some(storage) = storage else {
                return Err(Cause::Dangling(format!("credential storage {id} does not exist (dangling reference)")));
            };
            context.backend = Some(Arc::clone(storage));
            let slot = self.slot(storage, deadline).await?;
            slot.metrics.resolves.inc();
            let backend = Arc::clone(&slot.backend);
            let (identity, started) =
                slot.call(Operation::AmbientIdentity, deadline, || backend.ambient_identity()).await?;
            resolved.provenance = Some(Provenance {
                backend: slot.name.clone(),
                backend_kind: slot.kind(),
                entry: None,
                read_started_at: started,
                material_version: None,
            });
            resolved.auth = Auth::Ambient(identity);
        } else if let Some(entry_id) = subject.credential_id() {
            let Some(entry) = entry else {
                return Err(Cause::Dangling(format!("credential {entry_id} does not exist (dangling reference)")));
            };
            context.entry = Some(Arc::clone(entry));
            let Some(backend) = entry_backend else {
                return Err(Cause::Dangling(format!(
                    "its credential storage {} does not exist (dangling reference)",
                    entry.storage_backend_id
                )));
            };
            context.backend = Some(Arc::clone(backend));
            let (value, started, slot) = self.read_entry(entry, backend, deadline).await?;
            resolved.provenance = Some(Provenance {
                backend: slot.name.clone(),
                backend_kind: slot.kind(),
                entry: Some(entry.name.to_string()),
                read_started_at: started,
                material_version: value.version().map(str::to_owned),
            });
            resolved.auth = Auth::Secret(value);
        }
        Ok(resolved)
    }

    async fn read_entry(
        &self,
        entry: &VaultEntry,
        backend: &Backend,
        deadline: Deadline,
    ) -> std::result::Result<(SecretValue, Instant, Arc<Slot>), Cause> {
        let slot = self.slot(backend, deadline).await?;
        let (secret, field) = match &entry.external_secret_name {
            Some(name) => {
                let name = ExternalName::parse(name).map_err(Cause::Config)?;
                (SecretRef::External(name.locator), name.field)
            }
            None => (SecretRef::Profile(Profile::Entry(entry.meta.id)), None),
        };
        let (value, started) = self.inner.flights.fetch(&slot, &secret, deadline).await?;
        let value = match field {
            Some(field) => select_json_field(&value, &field, slot.kind()).map_err(Cause::Vault)?,
            None => value,
        };
        Ok((value, started, slot))
    }

    /// The backend instance of `row`, built on first use and rebuilt when the row's version changes.
    pub async fn backend(&self, row: &Backend) -> Result<Arc<dyn VaultBackend>> {
        let deadline = Deadline::after(self.inner.deadline);
        match self.slot(row, deadline).await {
            Ok(slot) => Ok(Arc::clone(&slot.backend)),
            Err(cause) => {
                let mut error = ResolveError::new(format!("credential storage {:?}", row.name.as_str()), cause);
                error.backend = Some((row.name.to_string(), Registry::canonical_kind(&row.backend_type)));
                Err(error)
            }
        }
    }

    async fn slot(&self, row: &Backend, deadline: Deadline) -> std::result::Result<Arc<Slot>, Cause> {
        if let Some(slot) = self.cached(row) {
            return Ok(slot);
        }
        let registry = self.inner.registry;
        let factory = registry.factory(&row.backend_type).map_err(Cause::Config)?;
        let options: Vec<(String, String)> =
            row.config.iter().map(|(key, value)| (key.clone(), json_text(value).into_owned())).collect();
        let has_secret_options = factory.options.iter().any(|spec| spec.secret);
        let mut secrets = Vec::new();
        if has_secret_options && row.meta.id != LOCAL_BACKEND_ID {
            secrets = self.backend_secrets(row.meta.id, deadline).await?;
        }
        let validated = factory.validate_with_secrets(options, secrets).map_err(Cause::Config)?;
        let limits = Limits {
            call_timeout: validated
                .parse::<u64>("timeout_ms")
                .map_err(Cause::Config)?
                .map_or(DEFAULT_TIMEOUT, Duration::from_millis),
            concurrency: validated
                .parse::<u32>("max_concurrent_requests")
                .map_err(Cause::Config)?
                .unwrap_or(DEFAULT_CONCURRENCY),
            per_second: validated.parse::<u32>("max_requests_per_second").map_err(Cause::Config)?,
        };
        let config = lanyard_vault::BackendConfig {
            backend_id: row.meta.id,
            name: row.name.to_string(),
            options: validated,
            env: self.inner.env.clone(),
        };
        let backend = (factory.build)(config).map_err(Cause::Config)?;
        let metrics = self.inner.metrics.backend(row.name.as_str(), factory.kind);
        let slot = Arc::new(Slot::new(row, backend, limits, self.inner.retry, metrics));
        let mut slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        let current = slots.entry(row.meta.id).or_insert_with(|| Arc::clone(&slot));
        if current.version < slot.version || !current.built_from(row) {
            *current = Arc::clone(&slot);
        }
        Ok(Arc::clone(current))
    }

    fn cached(&self, row: &Backend) -> Option<Arc<Slot>> {
        let slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.get(&row.meta.id).filter(|slot| slot.built_from(row)).cloned()
    }

    /// A backend's secret options, kept in the local backend under `backend::<id>` as a JSON object.
    async fn backend_secrets(
        &self,
        id: BackendId,
        deadline: Deadline,
    ) -> std::result::Result<Vec<(String, lanyard_core::SecretString)>, Cause> {
        let local = match self.inner.source.backend(LOCAL_BACKEND_ID).await {
            Ok(Some(local)) => local,
            Ok(None) => return Err(Cause::Dangling("the local backend does not exist".to_owned())),
            Err(error) => return Err(Cause::Catalog(error.to_string())),
        };
        let slot = Box::pin(self.slot(&local, deadline)).await?;
        let profile = SecretRef::Profile(Profile::Backend(id));
        let backend = Arc::clone(&slot.backend);
        let value = match slot.call(Operation::Get, deadline, || backend.get(&profile)).await {
            Ok((value, _)) => value,
            Err(Cause::Vault(error)) if error.kind() == lanyard_vault::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(cause) => return Err(cause),
        };
        let invalid = || {
            Cause::Config(
                lanyard_vault::VaultError::new(lanyard_vault::ErrorKind::ConfigInvalid, "local", Operation::Get)
                    .with_target(format!("backend::{id}"))
                    .with_detail("the stored secret options are not a JSON object of strings"),
            )
        };
        let object: JsonObject = serde_json::from_slice(value.expose_bytes()).map_err(|_| invalid())?;
        object
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => Ok((key, lanyard_core::SecretString::new(text))),
                _ => Err(invalid()),
            })
            .collect()
    }
}

fn json_text(value: &serde_json::Value) -> Cow<'_, str> {
    match value {
        serde_json::Value::String(text) => Cow::Borrowed(text),
        other => Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_link_type_connects_as_the_connection_type_of_its_system() {
        let table: Vec<_> = LinkType::ALL.iter().map(|t| (t.as_str(), link_connection_type(*t))).collect();
        assert_eq!(
            table,
            [
                ("S3", Some(ConnectionType::S3)),
                ("AZURE", Some(ConnectionType::AzureAdls)),
                ("GCS", Some(ConnectionType::Gcs)),
                ("HDFS", None),
                ("HTTP", Some(ConnectionType::Rest)),
                ("KAFKA", Some(ConnectionType::Kafka)),
                ("MONGODB", None),
                ("MYSQL", Some(ConnectionType::Mysql)),
            ]
        );
    }
}
