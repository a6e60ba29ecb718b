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

use lanyard_core::{BackendId, LOCAL_BACKEND_ID, SecretString};
use lanyard_resolve::{Auth, Resolver, StaticCatalog};
use lanyard_testsupport::{interleave, shared_bao, unique_name};
use lanyard_vault::{Profile, Registry, SecretValue};

use lanyard_vault_hashicorp as _;
use lanyard_vault_memory as _;

/// Samples per side (quality.md asks for at least 2000).
const SAMPLES: usize = 5000;
/// Unmeasured rounds first (connection pools, the AppRole-free token path, the resolver's backend slot).
const WARMUP: usize = 200;

fn main() {
    let bao = shared_bao();
    let path = unique_name("bench/resolve-vs-raw-");
    bao.kv_put("secret", &path, &serde_json::json!({ "username": "app", "password": "bench-password" }));

    // The catalog: a memory store standing in for the local backend, the hashicorp storage, a linked entry and a
    // PostgreSQL connection using it.
    let catalog = Arc::new(StaticCatalog::new());
    let store = unique_name("bench-local-");
    catalog.add_backend(LOCAL_BACKEND_ID, "local", "memory", &[("store", &store)]);
    let options = [("address", bao.url()), ("auth_method", "token")];
    let vault = catalog.add_backend(BackendId::new_random(), "bench_vault", "hashicorp", &options);
    let linked = format!("{path}#password");
    let (connection, _) =
        catalog.add_postgresql_with_credential("bench_pg", "bench_login", vault.meta.id, Some(&linked));
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
