//! `resolve_vs_raw_aws` (`shared/spec/quality.md`): the latency of a resolve through `lanyard_resolve::Resolver` over
//! this plugin against the latency of a raw `aws-sdk-secretsmanager` `GetSecretValue` of the same secret, on the same
//! moto server, in the same run.
//!
//! The connection's credential is a `LINKED EXTERNAL SECRET` naming a secret created in moto, so both sides make the
//! very same request; the resolver reads its catalog from an in-memory `StaticCatalog` (the catalog database's own
//! cost is `cargo xtask bench catalog`'s), and the storage's secret key comes from a memory backend standing in for
//! the local one, as `backend::<id>`. The raw client is configured as the plugin configures its own (same HTTP client,
//! no SDK retries). After a warm-up, N resolves and N raw calls are interleaved, alternating which goes first, and
//! the p50 and p99 of each are written to `target/bench/resolve_vs_raw_aws.json`:
//! `{"samples": N, "resolve_p50_ns": …, "resolve_p99_ns": …, "raw_p50_ns": …, "raw_p99_ns": …}`.
//!
//! Needs moto: `LANYARD_TEST_MOTO_URL` (set by `cargo xtask bench` / `cargo xtask test`); fails loudly without it.

#![allow(missing_docs, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use lanyard_core::{BackendId, LOCAL_BACKEND_ID, SecretString};
use lanyard_resolve::{Auth, Resolver, StaticCatalog};
use lanyard_testsupport::{
    MOTO_ACCESS_KEY_ID, MOTO_REGION, MOTO_SECRET_ACCESS_KEY, interleave, moto_create_secret, moto_url, unique_name,
};
use lanyard_vault::{Profile, Registry, SecretValue};

use lanyard_vault_aws as _;
use lanyard_vault_memory as _;

/// Interleaved samples of each side.
const SAMPLES: usize = 5000;
/// Untimed calls of each side first (connection pools, the plugin's lazy SDK set-up, moto's caches).
const WARM_UP: usize = 200;

/// A resolver over a static catalog: the local backend (a memory store holding the storage's secret key), the aws
/// storage on moto, a credential linked to `secret_name`, and a postgresql connection using it.
async fn resolver(url: &str, secret_name: &str) -> (Resolver, lanyard_core::ConnectionId) {
    let catalog = Arc::new(StaticCatalog::new());
    let store = unique_name("bench-local-");
    catalog.add_backend(LOCAL_BACKEND_ID, "local", "memory", &[("store", &store)]);
    let options = [
        ("region", MOTO_REGION),
        ("endpoint_url", url),
        ("auth_method", "access_key"),
        ("access_key_id", MOTO_ACCESS_KEY_ID),
    ];
    let aws = catalog.add_backend(BackendId::new_random(), "bench_sm", "aws", &options);
    let kept = serde_json::json!({ "secret_access_key": MOTO_SECRET_ACCESS_KEY }).to_string();
    lanyard_vault_memory::new_backend(&store)
        .put(&Profile::Backend(aws.meta.id), &SecretValue::from(SecretString::new(kept)))
        .await
        .unwrap();
    let (connection, _) =
        catalog.add_postgresql_with_credential("bench_pg", "bench_login", aws.meta.id, Some(secret_name));
    (Resolver::builder(catalog, Registry::global().unwrap()).build(), connection.meta.id)
}

/// A raw Secrets Manager client configured as the plugin configures its own.
async fn raw_client(url: &str) -> aws_sdk_secretsmanager::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let timeout = Duration::from_secs(5);
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).connect_timeout(timeout).build())
        .region(Region::new(MOTO_REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY, None, None, "bench"))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

fn main() {
    // `cargo test --benches` or a listing: nothing to measure.
    if std::env::args().skip(1).any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let url = moto_url();
    let secret_name = unique_name("lanyard-bench/resolve-vs-raw-");
    let payload = r#"{"username":"bench","password":"bench-password"}"#;
    moto_create_secret(&url, MOTO_REGION, &secret_name, payload);

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (resolver, connection) = resolver(&url, &secret_name).await;
        let raw = raw_client(&url).await;
        let resolve_once = || async {
            let resolved = resolver.resolve(connection).await.expect("resolve through the aws plugin");
            match &resolved.auth {
                Auth::Secret(value) => assert_eq!(value.expose_bytes(), payload.as_bytes()),
                other => panic!("expected a secret, got {other:?}"),
            }
        };
        let raw_once = || async {
            let answer = raw.get_secret_value().secret_id(&secret_name).send().await.expect("raw GetSecretValue");
            assert_eq!(answer.secret_string(), Some(payload));
        };
        let report = interleave(WARM_UP, SAMPLES, resolve_once, raw_once).await.report("aws");
        println!("{report:#}");
    });
}
