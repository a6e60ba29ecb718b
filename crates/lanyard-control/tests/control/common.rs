//! The per-test environment (a database and a data directory of its own, the Control Plane over them), a test
//! backend plugin with a secret option, and the helpers the tests share.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use lanyard_catalog::{AuditRecord, Backend, Connection, Record, VaultEntry};
use lanyard_control::{
    BackendView, Caller, ConnectionView, ControlError, ControlPlane, EntryType, EntryView, Material, NewBackend,
    NewConnection, NewEntry, Role,
};
use lanyard_core::{ErrorKind, LOCAL_BACKEND_ID, SecretString, VaultEntryId};
use lanyard_testsupport::{TempDatabase, TempDir};
use lanyard_vault::{
    BackendConfig, BackendEnv, BackendFactory, Capabilities, Operation, OptionSpec, ProbeReport, ProbeStep, Profile,
    Registry, SecretRef, SecretValue, VaultBackend, VaultError,
};

// ---------------------------------------------------------------------------------------------------------
// The environment

/// Which catalog database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
}

/// One test's Control Plane, catalog database and scratch directory. Dropping it (also when the test panics)
/// removes the directory and drops the PostgreSQL database.
pub(crate) struct Env {
    pub(crate) plane: ControlPlane,
    pub(crate) url: String,
    pub(crate) db: Db,
    /// The scratch directory (on SQLite, the one holding `catalog.db`); the data directory (master key, admin
    /// token) is `dir/data`.
    pub(crate) dir: PathBuf,
    _database: TempDatabase,
    /// The scratch directory on PostgreSQL.
    _scratch: Option<TempDir>,
}

impl Env {
    pub(crate) async fn sqlite() -> Self {
        let database = TempDatabase::sqlite("control");
        let dir = database.sqlite_path().and_then(|path| Some(path.parent()?.to_owned())).expect("a SQLite file");
        Self::open(Db::Sqlite, database, dir, None).await
    }

    pub(crate) async fn postgres() -> Self {
        let scratch = TempDir::new("control");
        Self::open(Db::Postgres, TempDatabase::postgres("control"), scratch.path().to_owned(), Some(scratch)).await
    }

    async fn open(db: Db, database: TempDatabase, dir: PathBuf, scratch: Option<TempDir>) -> Self {
        let url = database.url().to_owned();
        let catalog = lanyard_catalog::Catalog::open(&url).await.expect("open and migrate the catalog");
        let env = BackendEnv { catalog_url: Some(url.clone()), data_dir: Some(dir.join("data")) };
        let plane = ControlPlane::new(catalog, registry(), env);
        Self { plane, url, db, dir, _database: database, _scratch: scratch }
    }

    /// The data directory the plane was given.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Closes the catalog; the database and directory go when `self` is dropped.
    pub(crate) async fn finish(self) {
        self.plane.close().await;
    }

    /// One text column of one row, read with plain SQL (to see what is stored, not what the model computes).
    pub(crate) async fn raw_text(&self, sql: &str, id: &str) -> Option<String> {
        match self.db {
            Db::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
                let value = sqlx::query_scalar(sql).bind(id).fetch_optional(&pool).await.unwrap();
                pool.close().await;
                value
            }
            Db::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
                let value = sqlx::query_scalar(sql).bind(id).fetch_optional(&pool).await.unwrap();
                pool.close().await;
                value
            }
        }
    }
}

/// Runs each named `async fn(&Env)` of the enclosing module as two tests, `<name>::sqlite` and `<name>::postgres`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let env = crate::common::Env::sqlite().await;
                super::$name(&env).await;
                env.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let env = crate::common::Env::postgres().await;
                super::$name(&env).await;
                env.finish().await;
            }
        }
    )*};
}
pub(crate) use both;

pub(crate) fn registry() -> &'static Registry {
    Registry::global().expect("the registry of the linked plugins")
}

// ---------------------------------------------------------------------------------------------------------
// A test plugin with a secret option

/// The kind of [`Echo`].
pub(crate) const ECHO: &str = "secret_echo";

/// A test backend whose option `token` is secret: it links any external name and answers `<token>@<region>`, so a
/// test sees which options (secret ones included) the instance was built with.
#[derive(Debug)]
struct Echo {
    region: String,
    token: SecretString,
}

#[async_trait::async_trait]
impl VaultBackend for Echo {
    fn kind(&self) -> &'static str {
        ECHO
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { store: false, link: true, ambient_identity: false }
    }
    fn physical_name(&self, profile: &Profile) -> String {
        profile.to_string()
    }
    async fn get(&self, _: &SecretRef) -> lanyard_vault::Result<SecretValue> {
        Ok(SecretValue::from(SecretString::new(format!("{}@{}", self.token.expose_secret(), self.region))))
    }
    async fn probe(&self) -> lanyard_vault::Result<ProbeReport> {
        Ok(ProbeReport { steps: vec![ProbeStep { step: "echo".to_owned(), outcome: Ok(()), micros: 0 }] })
    }
}

const ECHO_OPTIONS: &[OptionSpec] = &[
    OptionSpec { name: "region", required: true, secret: false, help: "where" },
    OptionSpec { name: "token", required: true, secret: true, help: "the secret" },
];

fn build_echo(config: BackendConfig) -> lanyard_vault::Result<Arc<dyn VaultBackend>> {
    let missing = || VaultError::new(lanyard_vault::ErrorKind::ConfigInvalid, ECHO, Operation::Build);
    Ok(Arc::new(Echo {
        region: config.options.get("region").ok_or_else(missing)?.to_owned(),
        token: config.options.secret("token").ok_or_else(missing)?.clone(),
    }))
}

lanyard_vault::inventory::submit! {
    BackendFactory::new(env!("CARGO_PKG_NAME"), ECHO, "test plugin with a secret option", ECHO_OPTIONS, build_echo)
}

/// The kind of the same plugin with an optional secret option (`token` defaults to `none`), so SET OPTIONS can
/// leave no secret option at all.
pub(crate) const OPTIONAL_ECHO: &str = "secret_echo_optional";

const OPTIONAL_ECHO_OPTIONS: &[OptionSpec] = &[
    OptionSpec { name: "region", required: true, secret: false, help: "where" },
    OptionSpec { name: "token", required: false, secret: true, help: "the secret" },
];

fn build_optional_echo(config: BackendConfig) -> lanyard_vault::Result<Arc<dyn VaultBackend>> {
    let missing = || VaultError::new(lanyard_vault::ErrorKind::ConfigInvalid, OPTIONAL_ECHO, Operation::Build);
    Ok(Arc::new(Echo {
        region: config.options.get("region").ok_or_else(missing)?.to_owned(),
        token: config.options.secret("token").cloned().unwrap_or_else(|| SecretString::new("none")),
    }))
}

lanyard_vault::inventory::submit! {
    BackendFactory::new(
        env!("CARGO_PKG_NAME"),
        OPTIONAL_ECHO,
        "test plugin with an optional secret option",
        OPTIONAL_ECHO_OPTIONS,
        build_optional_echo,
    )
}

// ---------------------------------------------------------------------------------------------------------
// Callers, requests

pub(crate) fn admin() -> Caller {
    Caller::local("tester", Role::Admin)
}

pub(crate) fn pairs(options: &[(&str, &str)]) -> Vec<(String, String)> {
    options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

pub(crate) fn secret_pairs(options: &[(&str, &str)]) -> Vec<(String, SecretString)> {
    options.iter().map(|(k, v)| ((*k).to_owned(), SecretString::new(*v))).collect()
}

/// A unique name for a memory store (stores are process-global).
pub(crate) fn unique_store() -> String {
    format!("store-{}", uuid::Uuid::new_v4().simple())
}

/// CREATE CREDENTIAL `name` TYPE = CREDENTIAL SECRET `secret` [IN CREDENTIAL STORAGE `backend`].
pub(crate) fn credential(name: &str, secret: &str, backend: Option<&str>) -> NewEntry {
    NewEntry {
        name: name.to_owned(),
        entry_type: EntryType::Credential,
        algorithm: None,
        key_size: None,
        material: Material::Secret(SecretString::new(secret)),
        backend: backend.map(str::to_owned),
        description: None,
        expires_at: None,
        if_not_exists: false,
    }
}

pub(crate) async fn create_credential(env: &Env, name: &str, secret: &str) -> EntryView {
    env.plane.create_entry(&admin(), credential(name, secret, None)).await.expect("create credential").value
}

/// CREATE CREDENTIAL STORAGE `name` TYPE = `backend_type` OPTIONS (`options`).
pub(crate) fn new_backend(name: &str, backend_type: &str, options: &[(&str, &str)]) -> NewBackend {
    NewBackend {
        name: name.to_owned(),
        backend_type: backend_type.to_owned(),
        description: None,
        options: secret_pairs(options),
        active: true,
        if_not_exists: false,
    }
}

/// CREATE CREDENTIAL STORAGE `name` TYPE = MEMORY OPTIONS (store = '<store>').
pub(crate) fn memory_backend(name: &str, store: &str) -> NewBackend {
    new_backend(name, "MEMORY", &[("store", store)])
}

pub(crate) async fn create_memory_backend(env: &Env, name: &str, store: &str) -> BackendView {
    env.plane.create_backend(&admin(), memory_backend(name, store)).await.expect("create memory storage").value
}

pub(crate) fn new_connection(name: &str, connection_type: &str, options: &[(&str, &str)]) -> NewConnection {
    NewConnection {
        name: name.to_owned(),
        connection_type: connection_type.to_owned(),
        options: pairs(options),
        ..NewConnection::default()
    }
}

pub(crate) async fn create_connection(env: &Env, request: NewConnection) -> ConnectionView {
    env.plane.create_connection(&admin(), request).await.expect("create connection").value
}

// ---------------------------------------------------------------------------------------------------------
// Observing state

/// The catalog row named `name`.
pub(crate) async fn row<R: Record>(env: &Env, name: &str) -> R {
    env.plane.catalog().get_by_name::<R>(&[name]).await.unwrap_or_else(|e| panic!("{} {name:?}: {e}", R::TABLE))
}

/// Whether a row named `name` exists.
pub(crate) async fn exists<R: Record + Send + 'static>(env: &Env, name: &str) -> bool {
    let name = name.to_owned();
    env.plane.catalog().read(async move |tx| tx.find_by_name::<R>(&[name.as_str()]).await).await.unwrap().is_some()
}

/// A connection's options as a sorted map.
pub(crate) fn options_of(row: &Connection) -> BTreeMap<String, String> {
    row.options.iter().map(|(k, v)| (k.clone(), v.as_str().expect("string option").to_owned())).collect()
}

pub(crate) fn map(options: &[(&str, &str)]) -> BTreeMap<String, String> {
    options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Every audit record, oldest first.
pub(crate) async fn audit_log(env: &Env) -> Vec<AuditRecord> {
    env.plane.catalog().read(async |tx| tx.list_audit(None, None, i64::MAX).await).await.unwrap()
}

/// The audit log's size and last sequence number.
pub(crate) async fn audit_state(env: &Env) -> (usize, Option<i64>) {
    let log = audit_log(env).await;
    (log.len(), log.last().map(|r| r.seq))
}

/// The last audit record.
pub(crate) async fn last_audit(env: &Env) -> AuditRecord {
    audit_log(env).await.pop().expect("an audit record")
}

/// The seeded local backend's instance.
pub(crate) async fn local_backend(env: &Env) -> Arc<dyn VaultBackend> {
    let local: Backend = env.plane.catalog().get(LOCAL_BACKEND_ID).await.unwrap();
    env.plane.resolver().backend(&local).await.expect("the local backend builds")
}

/// Everything the local backend holds: each profile with its material.
pub(crate) async fn local_contents(env: &Env) -> Vec<(String, Vec<u8>)> {
    let local = local_backend(env).await;
    let mut out = Vec::new();
    for profile in local.list().await.expect("list the local backend") {
        let value = local.get(&SecretRef::Profile(profile)).await.expect("read a listed profile");
        out.push((profile.to_string(), value.expose_bytes().to_vec()));
    }
    out
}

/// The material of entry `id` in `backend`, or `None` when there is none.
pub(crate) async fn material_in(backend: &Arc<dyn VaultBackend>, id: VaultEntryId) -> Option<Vec<u8>> {
    match backend.get(&SecretRef::Profile(Profile::Entry(id))).await {
        Ok(value) => Some(value.expose_bytes().to_vec()),
        Err(error) if error.kind() == lanyard_vault::ErrorKind::NotFound => None,
        Err(error) => panic!("read vault::{id}: {error}"),
    }
}

/// The material of the entry named `name`, read through its own backend.
pub(crate) async fn material(env: &Env, name: &str) -> Option<Vec<u8>> {
    let entry: VaultEntry = row(env, name).await;
    let backend: Backend = env.plane.catalog().get(entry.storage_backend_id).await.unwrap();
    let instance = env.plane.resolver().backend(&backend).await.unwrap();
    material_in(&instance, entry.meta.id).await
}

/// The text a connection resolves to now (its credential's material, read fresh).
pub(crate) async fn resolve_text(env: &Env, connection: &str) -> String {
    let resolved = env
        .plane
        .resolver()
        .resolve(lanyard_core::Name::new(connection).unwrap())
        .await
        .unwrap_or_else(|e| panic!("resolve {connection}: {e}"));
    let lanyard_resolve::Auth::Secret(value) = &resolved.auth else { panic!("{connection}: expected a secret") };
    String::from_utf8(value.expose_bytes().to_vec()).unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// Errors

/// Asserts that `result` failed with `kind` and exactly `message`.
#[track_caller]
pub(crate) fn assert_error<T: std::fmt::Debug>(result: Result<T, ControlError>, kind: ErrorKind, message: &str) {
    let error = result.expect_err("the operation must fail");
    assert_eq!((error.kind(), error.message()), (kind, message), "{error:?}");
}

/// Asserts that `result` failed with `kind` and a message containing every one of `parts`; returns the message.
#[track_caller]
pub(crate) fn assert_error_contains<T: std::fmt::Debug>(
    result: Result<T, ControlError>,
    kind: ErrorKind,
    parts: &[&str],
) -> String {
    let error = result.expect_err("the operation must fail");
    assert_eq!(error.kind(), kind, "{error:?}");
    for part in parts {
        assert!(error.message().contains(part), "{:?} does not contain {part:?}", error.message());
    }
    error.message().to_owned()
}

/// CREATE PIPELINE `database.name` from link `link` (`'bucket/prefix/'`) into `public.events` of connection
/// `connection`, CSV.
pub(crate) fn new_pipeline(database: &str, name: &str, link: &str, connection: &str) -> lanyard_control::NewPipeline {
    lanyard_control::NewPipeline {
        database: database.into(),
        name: name.into(),
        link: link.into(),
        path: "bucket/events/".into(),
        connection: connection.into(),
        table: "public.events".into(),
        format: lanyard_core::LoadFormat::default(),
        if_not_exists: false,
    }
}

/// A postgresql connection named `name` (nothing listens at its address: pipelines are not run here).
pub(crate) async fn create_target(env: &Env, name: &str) -> ConnectionView {
    create_connection(env, new_connection(name, "postgresql", &[("host", "127.0.0.1"), ("port", "1")])).await
}
