//! The resolver over the real catalog (SQLite and PostgreSQL, through `CachedCatalog`) with the encrypted local
//! backend: rotation without ALTER, changes committed through another catalog handle seen by the next resolve, and a
//! backend whose secret auth options are kept in the local backend under `backend::<id>` and reach
//! the plugin when it is built. PostgreSQL comes from `LANYARD_TEST_PG` (default the machine's service); a missing
//! server fails the test loudly.

use std::sync::Arc;

use lanyard_catalog::{Backend, Catalog, Connection, JsonObject, Meta, VaultEntry};
use lanyard_core::{LOCAL_BACKEND_ID, Name, SecretString};
use lanyard_resolve::{Auth, CachedCatalog, ResolvedConnection, Resolver};
use lanyard_testsupport::{TempDatabase, TempDir};
use lanyard_vault::{
    BackendConfig, BackendEnv, BackendFactory, Capabilities, ErrorKind, Operation, OptionSpec, ProbeReport, Profile,
    Registry, SecretRef, SecretValue, VaultBackend, VaultError,
};

use lanyard_vault_local as _;

/// A test plugin with a secret option: its `get` answers `<token>@<region>`, so the test sees which options the
/// instance was built with.
#[derive(Debug)]
struct Echo {
    token: String,
    region: String,
}

#[async_trait::async_trait]
impl VaultBackend for Echo {
    fn kind(&self) -> &'static str {
        "echo_test"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { store: false, link: true, ambient_identity: false }
    }
    fn physical_name(&self, profile: &Profile) -> String {
        profile.to_string()
    }
    async fn get(&self, _: &SecretRef) -> lanyard_vault::Result<SecretValue> {
        Ok(SecretValue::from(SecretString::new(format!("{}@{}", self.token, self.region))))
    }
    async fn probe(&self) -> lanyard_vault::Result<ProbeReport> {
        Ok(ProbeReport::default())
    }
}

const ECHO_OPTIONS: &[OptionSpec] = &[
    OptionSpec { name: "region", required: true, secret: false, help: "" },
    OptionSpec { name: "token", required: true, secret: true, help: "" },
];

fn build_echo(config: BackendConfig) -> lanyard_vault::Result<Arc<dyn VaultBackend>> {
    let missing = || VaultError::new(ErrorKind::ConfigInvalid, "echo_test", Operation::Build);
    Ok(Arc::new(Echo {
        token: config.options.secret("token").ok_or_else(missing)?.expose_secret().to_owned(),
        region: config.options.get("region").ok_or_else(missing)?.to_owned(),
    }))
}

lanyard_vault::inventory::submit! {
    BackendFactory::new(env!("CARGO_PKG_NAME"), "echo_test", "test plugin", ECHO_OPTIONS, build_echo)
}

fn object(pairs: &[(&str, &str)]) -> JsonObject {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned()))).collect()
}

fn entry(name: &str, backend: &Backend, external: Option<&str>) -> VaultEntry {
    VaultEntry {
        meta: Meta::new(),
        name: Name::new(name).unwrap(),
        entry_type: lanyard_core::EntryType::Credential,
        algorithm: None,
        key_size: None,
        current_version: 1,
        storage_backend_id: backend.meta.id,
        external_secret_name: external.map(str::to_owned),
        owner_link_id: None,
        description: None,
        expires_at: None,
        rotated_at: None,
    }
}

fn connection(name: &str, entry: &VaultEntry) -> Connection {
    Connection {
        meta: Meta::new(),
        name: Name::new(name).unwrap(),
        connection_type: lanyard_core::ConnectionType::Postgresql,
        description: None,
        options: object(&[("host", "127.0.0.1")]),
        credential_id: Some(entry.meta.id),
        credential_storage_id: None,
        max_connections: None,
        timeout_seconds: None,
        last_test: None,
    }
}

fn text(resolved: &ResolvedConnection) -> String {
    let Auth::Secret(value) = &resolved.auth else { panic!("expected a secret") };
    String::from_utf8(value.expose_bytes().to_vec()).unwrap()
}

async fn rotation_and_backend_secrets(url: &str, data_dir: &std::path::Path) {
    let catalog = Catalog::open(url).await.expect("open catalog");
    let env = BackendEnv { catalog_url: Some(url.to_owned()), data_dir: Some(data_dir.to_owned()) };
    let resolver = Resolver::new(Arc::new(CachedCatalog::new(catalog.clone())), Registry::global().unwrap(), env);
    let local_row: Backend = catalog.get(LOCAL_BACKEND_ID).await.unwrap();
    let local = resolver.backend(&local_row).await.unwrap();

    // CREDENTIAL in the local backend: a rotation in the backend is the next resolve's answer, no ALTER.
    let login = catalog.insert(entry("pg_login", &local_row, None)).await.unwrap();
    let pg = catalog.insert(connection("prod_pg", &login)).await.unwrap();
    let profile = Profile::Entry(login.meta.id);
    local.put(&profile, &SecretValue::from(SecretString::new(r#"{"password":"v1"}"#))).await.unwrap();
    assert_eq!(text(&resolver.resolve(pg.meta.id).await.unwrap()), r#"{"password":"v1"}"#);
    local.put(&profile, &SecretValue::from(SecretString::new(r#"{"password":"v2"}"#))).await.unwrap();
    assert_eq!(text(&resolver.resolve(pg.meta.id).await.unwrap()), r#"{"password":"v2"}"#);

    // A backend whose secret option lives in the local backend under backend::<id>, not in the catalog row.
    let mut echo = Backend {
        meta: Meta::new(),
        name: Name::new("echo").unwrap(),
        backend_type: "ECHO_TEST".into(),
        description: None,
        config: object(&[("region", "eu-1")]),
        active: true,
    };
    echo.meta = catalog.insert(echo.clone()).await.unwrap().meta;
    let echo_profile = Profile::Backend(echo.meta.id);
    local.put(&echo_profile, &SecretValue::from(SecretString::new(r#"{"token":"tok-1"}"#))).await.unwrap();
    let linked = catalog.insert(entry("linked", &echo, Some("anything"))).await.unwrap();
    let via_echo = catalog.insert(connection("via_echo", &linked)).await.unwrap();
    assert_eq!(text(&resolver.resolve(via_echo.meta.id).await.unwrap()), "tok-1@eu-1");

    // ALTER CREDENTIAL STORAGE: new secret option, row version bumped: the next resolve uses a new instance.
    local.put(&echo_profile, &SecretValue::from(SecretString::new(r#"{"token":"tok-2"}"#))).await.unwrap();
    let mut altered = echo.clone();
    altered.description = Some("rotated token".into());
    catalog.update(altered).await.unwrap();
    assert_eq!(text(&resolver.resolve(via_echo.meta.id).await.unwrap()), "tok-2@eu-1");

    // Lookups come from memory while nothing was committed (`CachedCatalog`), yet a change committed through another
    // handle on the same catalog, as another process or node would commit it, is seen by the very next resolve.
    let elsewhere = Catalog::open(url).await.expect("open catalog again");
    // Each round runs as one request would: its hot read keeps a stamp (PostgreSQL), and the change lands from
    // another task (outside the request) after that; the resolve starts later and must see it.
    for round in 0..20 {
        let region = format!("r{round}");
        lanyard_catalog::request_scope(async {
            for _ in 0..2 {
                assert!(text(&resolver.resolve(via_echo.meta.id).await.unwrap()).starts_with("tok-2@"));
            }
            catalog.find_connection("via_echo").await.unwrap().expect("via_echo");
            let (elsewhere, written, id) = (elsewhere.clone(), region.clone(), echo.meta.id);
            tokio::spawn(async move {
                let mut altered: Backend = elsewhere.get(id).await.unwrap();
                altered.config = object(&[("region", &written)]);
                elsewhere.update(altered).await.unwrap();
            })
            .await
            .unwrap();
            assert_eq!(text(&resolver.resolve(via_echo.meta.id).await.unwrap()), format!("tok-2@{region}"), "stale");
        })
        .await;
    }
    elsewhere.close().await;

    // Without its stored secret option the backend does not build, and the error says which option is missing.
    local.delete(&echo_profile).await.unwrap();
    let mut altered: Backend = catalog.get(echo.meta.id).await.unwrap();
    altered.description = None;
    catalog.update(altered).await.unwrap();
    let error = resolver.resolve(via_echo.meta.id).await.unwrap_err();
    assert!(error.to_string().contains("missing required option(s): token"), "{error}");
    assert!(
        error.to_string().starts_with(r#"connection "via_echo": credential "linked" in backend "echo" (echo_test)"#)
    );
    catalog.close().await;
}

#[tokio::test]
async fn sqlite_catalog_rotation_and_backend_secrets() {
    let (db, dir) = (TempDatabase::sqlite("resolve"), TempDir::new("resolve"));
    rotation_and_backend_secrets(db.url(), dir.path()).await;
}

#[tokio::test]
async fn postgres_catalog_rotation_and_backend_secrets() {
    let (db, dir) = (TempDatabase::postgres("resolve"), TempDir::new("resolve"));
    rotation_and_backend_secrets(db.url(), dir.path()).await;
}
