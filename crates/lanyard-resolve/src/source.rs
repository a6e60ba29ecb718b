//! Where the resolver reads connections, entries and backends: the [`CatalogSource`] trait, implemented by
//! [`CachedCatalog`] over the real [`Catalog`] (from memory while nothing was committed, else one read transaction
//! per resolve) and by [`StaticCatalog`] (in memory, for embedding and tests).

use rustc_hash::FxHashMap as HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use lanyard_catalog::{Backend, Catalog, CatalogError, Connection, Fresh, Link, Tx, VaultEntry};
use lanyard_core::{BackendId, ConnectionId, LinkId, Name, VaultEntryId};

/// Which connection (or link) to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConnectionRef {
    /// A connection by id (what a running job holds: it survives RENAME).
    Id(ConnectionId),
    /// A connection by display name.
    Name(Name),
    /// A link by id.
    LinkId(LinkId),
    /// A link by database and name.
    Link {
        /// The database.
        database: Name,
        /// The link's name.
        name: Name,
    },
}

impl ConnectionRef {
    /// How messages name it before the row is read: `connection "prod_pg"`.
    pub fn describe(&self) -> String {
        match self {
            Self::Id(id) => format!("connection {id}"),
            Self::Name(name) => format!("connection {:?}", name.as_str()),
            Self::LinkId(id) => format!("link {id}"),
            Self::Link { database, name } => format!("link \"{database}.{name}\""),
        }
    }
}

impl From<ConnectionId> for ConnectionRef {
    fn from(id: ConnectionId) -> Self {
        Self::Id(id)
    }
}

impl From<Name> for ConnectionRef {
    fn from(name: Name) -> Self {
        Self::Name(name)
    }
}

impl From<LinkId> for ConnectionRef {
    fn from(id: LinkId) -> Self {
        Self::LinkId(id)
    }
}

/// The row being resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// An external connection.
    Connection(Arc<Connection>),
    /// A link (its CREDENTIALS JSON is the secret).
    Link(Arc<Link>),
}

impl Subject {
    /// How messages name it: `connection "prod_pg"`, `link "db.my_s3"`.
    pub fn describe(&self) -> String {
        match self {
            Self::Connection(c) => format!("connection {:?}", c.name.as_str()),
            Self::Link(l) => format!("link \"{}.{}\"", l.database, l.name),
        }
    }

    /// The vault entry holding its credential.
    pub fn credential_id(&self) -> Option<VaultEntryId> {
        match self {
            Self::Connection(c) => c.credential_id,
            Self::Link(l) => l.credential_id,
        }
    }

    /// The backend lending its ambient identity (connections only).
    pub fn credential_storage_id(&self) -> Option<BackendId> {
        match self {
            Self::Connection(c) => c.credential_storage_id,
            Self::Link(_) => None,
        }
    }
}

/// Everything one resolve reads from the catalog, as one consistent snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    /// The connection or link.
    pub subject: Subject,
    /// Its vault entry, if it has one and the entry exists.
    pub entry: Option<Arc<VaultEntry>>,
    /// The backend holding the entry's material, if the entry exists and so does its backend.
    pub entry_backend: Option<Arc<Backend>>,
    /// The connection's credential storage, if it has one and it exists.
    pub storage: Option<Arc<Backend>>,
}

/// A catalog the resolver can read. Implement it to embed the resolver over your own store.
#[async_trait]
pub trait CatalogSource: Send + Sync + 'static {
    /// The connection or link and the rows it refers to; `None` if it does not exist. Missing referenced rows
    /// are `None` fields (the resolver reports them as dangling references).
    async fn lookup(&self, target: &ConnectionRef) -> Result<Option<Lookup>, CatalogError>;

    /// A backend row by id.
    async fn backend(&self, id: BackendId) -> Result<Option<Arc<Backend>>, CatalogError>;
}

async fn lookup_in(tx: &mut Tx, target: &ConnectionRef) -> Result<Option<Lookup>, CatalogError> {
    let subject = match target {
        ConnectionRef::Id(id) => tx.find::<Connection>(*id).await?.map(|c| Subject::Connection(Arc::new(c))),
        ConnectionRef::Name(name) => {
            tx.find_by_name::<Connection>(&[name.as_str()]).await?.map(|c| Subject::Connection(Arc::new(c)))
        }
        ConnectionRef::LinkId(id) => tx.find::<Link>(*id).await?.map(|l| Subject::Link(Arc::new(l))),
        ConnectionRef::Link { database, name } => {
            tx.find_by_name::<Link>(&[database.as_str(), name.as_str()]).await?.map(|l| Subject::Link(Arc::new(l)))
        }
    };
    let Some(subject) = subject else { return Ok(None) };
    let entry = match subject.credential_id() {
        Some(id) => tx.find::<VaultEntry>(id).await?.map(Arc::new),
        None => None,
    };
    let entry_backend = match &entry {
        Some(entry) => tx.find::<Backend>(entry.storage_backend_id).await?.map(Arc::new),
        None => None,
    };
    let storage = match subject.credential_storage_id() {
        Some(id) if Some(id) == entry_backend.as_ref().map(|b| b.meta.id) => entry_backend.clone(),
        Some(id) => tx.find::<Backend>(id).await?.map(Arc::new),
        None => None,
    };
    Ok(Some(Lookup { subject, entry, entry_backend, storage }))
}

/// The resolver's source over the real [`Catalog`]: each lookup reads the catalog's current
/// [`lanyard_catalog::Stamp`] (on SQLite no round trip, on PostgreSQL one) and then its rows from memory while
/// nothing was committed since the same lookup last read them, else in one read transaction. A change committed
/// before a resolve starts is always seen.
pub struct CachedCatalog {
    catalog: Catalog,
    lookups: Fresh<ConnectionRef, Lookup>,
    backends: Fresh<BackendId, Arc<Backend>>,
}

impl CachedCatalog {
    /// A source over `catalog`.
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog, lookups: Fresh::new(), backends: Fresh::new() }
    }
}

impl fmt::Debug for CachedCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedCatalog").field("catalog", &self.catalog).field("lookups", &self.lookups).finish()
    }
}

#[async_trait]
impl CatalogSource for CachedCatalog {
    async fn lookup(&self, target: &ConnectionRef) -> Result<Option<Lookup>, CatalogError> {
        let load = async {
            let mut tx = self.catalog.begin_read().await?;
            let result = lookup_in(&mut tx, target).await;
            tx.rollback().await?;
            result
        };
        self.catalog.fresh(&self.lookups, target, load).await
    }

    async fn backend(&self, id: BackendId) -> Result<Option<Arc<Backend>>, CatalogError> {
        let load = async {
            let mut tx = self.catalog.begin_read().await?;
            let result = tx.find::<Backend>(id).await;
            tx.rollback().await?;
            result.map(|row| row.map(Arc::new))
        };
        self.catalog.fresh(&self.backends, &id, load).await
    }
}

/// An in-memory catalog: rows inserted by the embedding program. Useful to embed the resolver without a database,
/// and in benchmarks that measure the resolver alone.
#[derive(Default)]
pub struct StaticCatalog {
    rows: RwLock<Rows>,
}

#[derive(Default)]
struct Rows {
    connections: HashMap<ConnectionId, Arc<Connection>>,
    links: HashMap<LinkId, Arc<Link>>,
    entries: HashMap<VaultEntryId, Arc<VaultEntry>>,
    backends: HashMap<BackendId, Arc<Backend>>,
}

impl fmt::Debug for StaticCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = self.rows.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("StaticCatalog")
            .field("connections", &rows.connections.len())
            .field("links", &rows.links.len())
            .field("entries", &rows.entries.len())
            .field("backends", &rows.backends.len())
            .finish()
    }
}

impl StaticCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Rows> {
        self.rows.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts or replaces a connection.
    pub fn put_connection(&self, row: Connection) {
        self.write().connections.insert(row.meta.id, Arc::new(row));
    }

    /// Inserts or replaces a link.
    pub fn put_link(&self, row: Link) {
        self.write().links.insert(row.meta.id, Arc::new(row));
    }

    /// Inserts or replaces a vault entry.
    pub fn put_entry(&self, row: VaultEntry) {
        self.write().entries.insert(row.meta.id, Arc::new(row));
    }

    /// Inserts or replaces a backend.
    pub fn put_backend(&self, row: Backend) {
        self.write().backends.insert(row.meta.id, Arc::new(row));
    }

    /// Puts a backend of `kind` named `name` with the plain `options` and returns its row: a fixture for tests,
    /// benches and embedders. Secret options belong in `backend::<id>` of the backend whose id is
    /// [`lanyard_core::LOCAL_BACKEND_ID`], as the Control Plane keeps them.
    pub fn add_backend(&self, id: BackendId, name: &str, kind: &str, options: &[(&str, &str)]) -> Backend {
        let mut row = Backend {
            meta: lanyard_catalog::Meta::new(),
            name: Name::new(name).unwrap_or_else(|e| panic!("backend name {name:?}: {e}")),
            backend_type: kind.to_owned(),
            description: None,
            config: options
                .iter()
                .map(|(key, value)| ((*key).to_owned(), serde_json::Value::String((*value).to_owned())))
                .collect(),
            active: true,
        };
        row.meta.id = id;
        row.meta.version = 1;
        self.put_backend(row.clone());
        row
    }

    /// Puts a credential entry named `entry` in `storage` (a `LINKED EXTERNAL SECRET` when `external` is given) and
    /// a postgresql connection named `connection` on 127.0.0.1 using it; returns both rows. A fixture, as
    /// [`StaticCatalog::add_backend`].
    pub fn add_postgresql_with_credential(
        &self,
        connection: &str,
        entry: &str,
        storage: BackendId,
        external: Option<&str>,
    ) -> (Connection, VaultEntry) {
        let mut credential = VaultEntry {
            meta: lanyard_catalog::Meta::new(),
            name: Name::new(entry).unwrap_or_else(|e| panic!("entry name {entry:?}: {e}")),
            entry_type: lanyard_core::EntryType::Credential,
            algorithm: None,
            key_size: None,
            current_version: 1,
            storage_backend_id: storage,
            external_secret_name: external.map(str::to_owned),
            owner_link_id: None,
            description: None,
            expires_at: None,
            rotated_at: None,
        };
        credential.meta.version = 1;
        let mut row = Connection {
            meta: lanyard_catalog::Meta::new(),
            name: Name::new(connection).unwrap_or_else(|e| panic!("connection name {connection:?}: {e}")),
            connection_type: lanyard_core::ConnectionType::Postgresql,
            description: None,
            options: [("host", "127.0.0.1"), ("port", "5432"), ("database", "app"), ("username", "app")]
                .iter()
                .map(|(key, value)| ((*key).to_owned(), serde_json::Value::String((*value).to_owned())))
                .collect(),
            credential_id: Some(credential.meta.id),
            credential_storage_id: None,
            max_connections: None,
            timeout_seconds: None,
            last_test: None,
        };
        row.meta.version = 1;
        self.put_entry(credential.clone());
        self.put_connection(row.clone());
        (row, credential)
    }

    /// Removes a vault entry (leaving references to it dangling).
    pub fn remove_entry(&self, id: VaultEntryId) {
        self.write().entries.remove(&id);
    }

    /// Removes a backend (leaving references to it dangling).
    pub fn remove_backend(&self, id: BackendId) {
        self.write().backends.remove(&id);
    }
}

#[async_trait]
impl CatalogSource for StaticCatalog {
    async fn lookup(&self, target: &ConnectionRef) -> Result<Option<Lookup>, CatalogError> {
        let rows = self.rows.read().unwrap_or_else(|e| e.into_inner());
        let subject = match target {
            ConnectionRef::Id(id) => rows.connections.get(id).cloned().map(Subject::Connection),
            ConnectionRef::Name(name) => {
                rows.connections.values().find(|c| &c.name == name).cloned().map(Subject::Connection)
            }
            ConnectionRef::LinkId(id) => rows.links.get(id).cloned().map(Subject::Link),
            ConnectionRef::Link { database, name } => {
                rows.links.values().find(|l| &l.database == database && &l.name == name).cloned().map(Subject::Link)
            }
        };
        let Some(subject) = subject else { return Ok(None) };
        let entry = subject.credential_id().and_then(|id| rows.entries.get(&id).cloned());
        let entry_backend = entry.as_ref().and_then(|e| rows.backends.get(&e.storage_backend_id).cloned());
        let storage = subject.credential_storage_id().and_then(|id| rows.backends.get(&id).cloned());
        Ok(Some(Lookup { subject, entry, entry_backend, storage }))
    }

    async fn backend(&self, id: BackendId) -> Result<Option<Arc<Backend>>, CatalogError> {
        Ok(self.rows.read().unwrap_or_else(|e| e.into_inner()).backends.get(&id).cloned())
    }
}
