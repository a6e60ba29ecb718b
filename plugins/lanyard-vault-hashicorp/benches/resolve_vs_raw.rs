//! `resolve_vs_raw` for the HashiCorp backend (quality.md): a resolve through `lanyard_resolve::Resolver` over this
//! plugin against a raw `reqwest` GET of the same KV v2 path, interleaved, N times each, against the same OpenBao
//! (the shared dev server of `cargo xtask test`, from `LANYARD_TEST_BAO_URL` and `LANYARD_TEST_BAO_TOKEN`; without
//! them it fails loudly). Both read the password field of one KV v2 secret: the resolve through a connection whose
//! credential is `LINKED EXTERNAL SECRET '<path>#password'` in a `hashicorp` storage whose token is kept, as in
//! production, in the local backend's `backend::<id>` (a memory store stands in for it here); the raw call parses
//! the JSON and takes the field. Writes `target/bench/resolve_vs_raw_vault.json` =
//! `{"samples": N, "resolve_p50_ns", "resolve_p99_ns", "raw_p50_ns", "raw_p99_ns"}`.

#![allow(missing_docs, clippy::print_stdout)]

use std::sync::Arc;

use lanyard_catalog::{Backend, Connection, JsonObject, Meta, VaultEntry};
use lanyard_core::{LOCAL_BACKEND_ID, Name, SecretString};
use lanyard_resolve::{Auth, Resolver, StaticCatalog};
use lanyard_testsupport::{interleave, shared_bao, unique_name};
use lanyard_vault::{Profile, Registry, SecretValue};

use lanyard_vault_hashicorp as _;
use lanyard_vault_memory as _;

/// Samples per side (quality.md asks for at least 2000).
const SAMPLES: usize = 5000;
/// Unmeasured rounds first (connection pools, the AppRole-free token path, the resolver's backend slot).
const WARMUP: usize = 200;

fn object(pairs: &[(&str, &str)]) -> JsonObject {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned()))).collect()
}

fn main() {
    let bao = shared_bao();
    let path = unique_name("bench/resolve-vs-raw-");
    bao.kv_put("secret", &path, &serde_json::json!({ "username": "app", "password": "bench-password" }));

    // The catalog: a memory store standing in for the local backend, the hashicorp storage, a linked entry and a
    // PostgreSQL connection using it.
    let store = unique_name("bench-local-");
    let mut local = Backend {
        meta: Meta::new(),
        name: Name::new("local").unwrap(),
        backend_type: "memory".into(),
        description: None,
        config: object(&[("store", &store)]),
        active: true,
    };
    local.meta.id = LOCAL_BACKEND_ID;
    local.meta.version = 1;
    let mut vault = Backend {
        meta: Meta::new(),
        name: Name::new("bench_vault").unwrap(),
        backend_type: "hashicorp".into(),
        description: None,
        config: object(&[("address", bao.url()), ("auth_method", "token")]),
        active: true,
    };
    vault.meta.version = 1;
    let mut entry = VaultEntry {
        meta: Meta::new(),
        name: Name::new("bench_login").unwrap(),
        entry_type: lanyard_core::EntryType::Credential,
        algorithm: None,
        key_size: None,
        current_version: 1,
        storage_backend_id: vault.meta.id,
        external_secret_name: Some(format!("{path}#password")),
        owner_link_id: None,
        description: None,
        expires_at: None,
        rotated_at: None,
    };
    entry.meta.version = 1;
    let mut connection = Connection {
        meta: Meta::new(),
        name: Name::new("bench_pg").unwrap(),
        connection_type: lanyard_core::ConnectionType::Postgresql,
        description: None,
        options: object(&[("host", "127.0.0.1"), ("port", "5432"), ("username", "app")]),
        credential_id: Some(entry.meta.id),
        credential_storage_id: None,
        max_connections: None,
        timeout_seconds: None,
        last_test: None,
    };
    connection.meta.version = 1;
    let catalog = Arc::new(StaticCatalog::new());
    catalog.put_backend(local);
    catalog.put_backend(vault.clone());
    catalog.put_entry(entry);
    catalog.put_connection(connection.clone());
    let registry = Registry::global().expect("registry");
    let resolver = Resolver::builder(catalog, registry).build();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The storage's token, stripped out of its row into backend::<id> of the local backend, as the Control Plane does.
    let secrets = serde_json::json!({ "token": bao.token() }).to_string();
    rt.block_on(
        lanyard_vault_memory::new_backend(&store)
            .put(&Profile::Backend(vault.meta.id), &SecretValue::from(SecretString::new(secrets))),
    )
    .expect("store the token");

    let raw = reqwest::Client::builder().no_proxy().build().unwrap();
    let raw_url = format!("{}/v1/secret/data/{path}", bao.url());
    let token = bao.token();
    let resolve_once = || async {
        let resolved = resolver.resolve(connection.meta.id).await.expect("resolve");
        match resolved.auth {
            Auth::Secret(value) => assert_eq!(value.expose_bytes(), b"bench-password"),
            other => panic!("resolved to {other:?}"),
        }
    };
    let raw_once = || async {
        let response = raw.get(&raw_url).header("X-Vault-Token", token).send().await.expect("raw GET");
        assert!(response.status().is_success(), "raw GET answered {}", response.status());
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["data"]["data"]["password"], "bench-password");
    };

    let report = rt.block_on(interleave(WARMUP, SAMPLES, resolve_once, raw_once)).report("vault");
    println!("{report:#}");
    shared_bao().must("DELETE", &format!("secret/metadata/{path}"), None);
}
