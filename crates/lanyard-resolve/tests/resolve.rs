//! The resolver's rules, tested with the memory backend: fresh after every rotation (also under concurrent load),
//! coalesced bursts, bounded retries and deadlines under injected faults, explained errors, and no material in any
//! error, log line or Debug output.

use std::sync::Arc;
use std::time::Duration;

use lanyard_catalog::{Backend, Connection, JsonObject, Link, Meta, VaultEntry};
use lanyard_core::{Name, SecretString};
use lanyard_resolve::{Auth, Cause, ConnectionRef, ResolvedConnection, Resolver, RetryPolicy, StaticCatalog};
use lanyard_vault::{ErrorKind, Profile, Registry, SecretValue, VaultBackend};
use lanyard_vault_memory::{FailKind, Faults, MemoryStore};
use tokio::time::Instant;

#[path = "support/freshness.rs"]
mod freshness;

// The composition root of this test: link the memory plugin so it registers itself.
use lanyard_vault_memory as _;

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

fn object(pairs: &[(&str, &str)]) -> JsonObject {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned()))).collect()
}

/// A catalog with one memory backend (its own store), one entry and one connection using it.
struct World {
    catalog: Arc<StaticCatalog>,
    resolver: Resolver,
    store: Arc<MemoryStore>,
    backend_row: Backend,
    entry: VaultEntry,
    connection: Connection,
}

impl World {
    fn new(backend_options: &[(&str, &str)]) -> Self {
        Self::with_retry(backend_options, RetryPolicy::default())
    }

    fn with_retry(backend_options: &[(&str, &str)], retry: RetryPolicy) -> Self {
        let store_name = format!("resolve-test-{}", uuid_like());
        let mut options = vec![("store", store_name.as_str())];
        options.extend_from_slice(backend_options);
        let mut backend_row = Backend {
            meta: Meta::new(),
            name: name("prod_sm"),
            backend_type: "MEMORY".to_owned(),
            description: None,
            config: object(&options),
            active: true,
        };
        backend_row.meta.version = 1;
        let mut entry = VaultEntry {
            meta: Meta::new(),
            name: name("pg_login"),
            entry_type: lanyard_core::EntryType::Credential,
            algorithm: None,
            key_size: None,
            current_version: 1,
            storage_backend_id: backend_row.meta.id,
            external_secret_name: None,
            owner_link_id: None,
            description: None,
            expires_at: None,
            rotated_at: None,
        };
        entry.meta.version = 1;
        let mut connection = Connection {
            meta: Meta::new(),
            name: name("prod_pg"),
            connection_type: lanyard_core::ConnectionType::Postgresql,
            description: None,
            options: object(&[("host", "127.0.0.1"), ("port", "5432")]),
            credential_id: Some(entry.meta.id),
            credential_storage_id: None,
            max_connections: Some(4),
            timeout_seconds: None,
            last_test: None,
        };
        connection.meta.version = 1;
        let catalog = Arc::new(StaticCatalog::new());
        catalog.put_backend(backend_row.clone());
        catalog.put_entry(entry.clone());
        catalog.put_connection(connection.clone());
        let registry = Registry::global().expect("registry");
        let resolver = Resolver::builder(catalog.clone(), registry).retry(retry).build();
        let store = lanyard_vault_memory::store(&store_name);
        Self { catalog, resolver, store, backend_row, entry, connection }
    }

    async fn backend(&self) -> Arc<dyn VaultBackend> {
        self.resolver.backend(&self.backend_row).await.expect("backend builds")
    }

    /// Writes the entry's material (a rotation in the backend).
    async fn rotate(&self, value: &str) {
        let backend = self.backend().await;
        let faults = self.store.faults();
        self.store.set_faults(Faults::default());
        backend.put(&Profile::Entry(self.entry.meta.id), &SecretValue::from(SecretString::new(value))).await.unwrap();
        self.store.set_faults(faults);
    }

    async fn resolve(&self) -> lanyard_resolve::Result<ResolvedConnection> {
        self.resolver.resolve(self.connection.meta.id).await
    }
}

fn uuid_like() -> String {
    lanyard_core::ConnectionId::new_random().to_string()
}

fn secret_text(resolved: &ResolvedConnection) -> String {
    match &resolved.auth {
        Auth::Secret(value) => String::from_utf8(value.expose_bytes().to_vec()).unwrap(),
        other => panic!("expected a secret, got {other:?}"),
    }
}

#[tokio::test]
async fn the_next_resolve_after_a_rotation_returns_the_new_value() {
    let world = World::new(&[]);
    world.rotate("password-v1").await;
    let first = world.resolve().await.unwrap();
    assert_eq!(secret_text(&first), "password-v1");
    assert_eq!(first.connection_type(), "postgresql");
    assert_eq!(first.options().get("host").as_deref(), Some("127.0.0.1"));
    assert_eq!(first.max_connections(), Some(4));
    let provenance = first.provenance.as_ref().unwrap();
    assert_eq!((provenance.backend.as_str(), provenance.backend_kind), ("prod_sm", "memory"));
    assert_eq!(provenance.entry.as_deref(), Some("pg_login"));
    assert_eq!(provenance.material_version.as_deref(), Some("1"));

    world.rotate("password-v2").await;
    let second = world.resolve().await.unwrap();
    assert_eq!(secret_text(&second), "password-v2");
    assert_eq!(second.provenance.unwrap().material_version.as_deref(), Some("2"));
    // Resolving by name and by id give the same answer; nothing is cached between them.
    let by_name = world.resolver.resolve(ConnectionRef::Name(name("prod_pg"))).await.unwrap();
    assert_eq!(secret_text(&by_name), "password-v2");
    assert_eq!(world.store.gets(), 3);
}

/// 32 resolve loops against a backend with latency while a rotator writes new versions: every answer comes from a
/// read that started after its resolve began, and carries at least the version whose write completed before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_fresh_under_concurrent_load_with_random_rotations() {
    let world = Arc::new(World::new(&[("latency_ms", "1")]));
    let writer = world.clone();
    let reader = world.clone();
    let load = freshness::under_rotation(
        move |value| {
            let world = writer.clone();
            async move { world.rotate(&value).await }
        },
        move || {
            let world = reader.clone();
            async move { world.resolve().await.unwrap() }
        },
        32,
        40,
        Duration::from_micros(3000),
    )
    .await;
    let (fresh, total, rotations) = (load.fresh, load.total, load.last_version);
    assert!(rotations > 5, "the rotator must have rotated during the load ({rotations})");
    assert_eq!(fresh, total, "fresh ratio {fresh}/{total}");
    assert!(world.store.max_concurrent_gets() <= 1, "at most one read in flight per profile");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_1000_concurrent_resolves_costs_at_most_two_backend_calls() {
    let world = Arc::new(World::new(&[("latency_ms", "20")]));
    world.rotate("burst-secret").await;
    world.store.reset_counters();
    let resolves = (0..1000).map(|_| {
        let world = world.clone();
        tokio::spawn(async move { secret_text(&world.resolve().await.unwrap()) })
    });
    let answers = futures::future::join_all(resolves).await;
    assert!(answers.into_iter().all(|a| a.unwrap() == "burst-secret"));
    assert!(world.store.gets() <= 2, "{} backend calls", world.store.gets());
    assert!(world.store.max_concurrent_gets() <= 1);
    let stats = world.resolver.metrics().stats("prod_sm");
    assert_eq!(stats.resolves, 1000);
    assert_eq!(stats.backend_calls, world.store.gets());
    assert!(stats.coalesced_waiters >= 998, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn temporary_failures_are_retried_and_permanent_ones_are_not() {
    let world = World::new(&[]);
    world.rotate("after-retries").await;
    world.store.reset_counters();

    world.store.fail_next(2, FailKind::Unavailable);
    assert_eq!(secret_text(&world.resolve().await.unwrap()), "after-retries");
    assert_eq!(world.store.gets(), 3, "two failures, then success on the third attempt");
    assert_eq!(world.resolver.metrics().stats("prod_sm").retries, 2);

    world.store.reset_counters();
    world.store.fail_next(3, FailKind::Unavailable);
    let error = world.resolve().await.unwrap_err();
    assert_eq!(world.store.gets(), 3, "at most three attempts");
    assert_eq!(error.vault_kind(), Some(ErrorKind::Unavailable));
    assert!(error.is_temporary());
    assert!(
        error.to_string().starts_with(
            r#"connection "prod_pg": credential "pg_login" in backend "prod_sm" (memory): backend unavailable"#
        ),
        "{error}"
    );

    for kind in [FailKind::PermissionDenied, FailKind::NotFound, FailKind::Unexpected] {
        world.store.reset_counters();
        world.store.fail_next(1, kind);
        let error = world.resolve().await.unwrap_err();
        assert_eq!(world.store.gets(), 1, "{kind} is permanent: no retry");
        assert!(!error.is_temporary());
        assert_eq!(error.vault_kind(), kind.error_kind(None));
    }
    let stats = world.resolver.metrics().stats("prod_sm");
    assert_eq!(stats.errors.get("unavailable"), Some(&5));
    assert_eq!(stats.errors.get("permission_denied"), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn rate_limited_answers_are_retried_after_their_retry_after() {
    let world = World::new(&[("retry_after_ms", "1500")]);
    world.rotate("patient").await;
    world.store.reset_counters();
    world.store.fail_next(1, FailKind::RateLimited);
    let began = Instant::now();
    let resolved = world.resolve().await.unwrap();
    assert_eq!(secret_text(&resolved), "patient");
    assert!(began.elapsed() >= Duration::from_millis(1500), "waited only {:?}", began.elapsed());
    assert_eq!(world.store.gets(), 2);

    // A Retry-After beyond the caller's deadline is not waited for: the 429 is reported at once.
    world.store.reset_counters();
    world.store.fail_next(1, FailKind::RateLimited);
    let began = Instant::now();
    let error = world.resolver.resolve_within(world.connection.meta.id, Duration::from_millis(1000)).await.unwrap_err();
    assert!(began.elapsed() < Duration::from_millis(1000));
    assert_eq!(error.vault_kind(), Some(ErrorKind::RateLimited { retry_after: Some(Duration::from_millis(1500)) }));
    assert!(
        error
            .to_string()
            .ends_with("rate limited (retry after 1500 ms): fault injected by the memory backend (fail_next)"),
        "{error}"
    );
    assert_eq!(world.store.gets(), 1);
}

#[tokio::test(start_paused = true)]
async fn hangs_time_out_per_call_and_never_outlive_the_deadline() {
    let world = World::new(&[("timeout_ms", "200")]);
    world.rotate("never").await;
    world.store.reset_counters();
    world.store.set_faults(Faults { fail_rate: 1.0, fail_kind: FailKind::Hang, ..Faults::default() });

    // Enough time for three attempts: each times out after 200 ms, then the backend's timeout is reported.
    let began = Instant::now();
    let error = world.resolver.resolve_within(world.connection.meta.id, Duration::from_secs(10)).await.unwrap_err();
    assert_eq!(world.store.gets(), 3);
    assert_eq!(error.vault_kind(), Some(ErrorKind::Timeout));
    assert!(error.to_string().contains("timed out: no answer within 200 ms"), "{error}");
    assert!(began.elapsed() < Duration::from_secs(10));

    // A deadline shorter than the call timeout ends the resolve at the deadline.
    world.store.reset_counters();
    let began = Instant::now();
    let error = world.resolver.resolve_within(world.connection.meta.id, Duration::from_millis(50)).await.unwrap_err();
    let elapsed = began.elapsed();
    assert!(elapsed >= Duration::from_millis(50) && elapsed < Duration::from_millis(60), "{elapsed:?}");
    assert!(matches!(error.cause(), Cause::DeadlineExceeded { .. }));
    assert!(error.to_string().contains("no answer within the deadline of 50 ms"), "{error}");

    // Latency alone (no failure) beyond the call timeout: every attempt times out, all within the deadline.
    world.store.set_faults(Faults { latency: Duration::from_secs(3), ..Faults::default() });
    let began = Instant::now();
    let error = world.resolver.resolve_within(world.connection.meta.id, Duration::from_secs(1)).await.unwrap_err();
    assert!(began.elapsed() <= Duration::from_secs(1), "{:?}", began.elapsed());
    assert_eq!(error.vault_kind(), Some(ErrorKind::Timeout), "{error}");
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_spaces_backend_calls() {
    let world = World::new(&[("max_requests_per_second", "10")]);
    world.rotate("limited").await;
    let began = Instant::now();
    for _ in 0..5 {
        world.resolve().await.unwrap();
    }
    // Five calls at 10/s: the fifth starts 400 ms after the first.
    assert!(began.elapsed() >= Duration::from_millis(400), "{:?}", began.elapsed());
    // A deadline that the rate limit would overrun fails without calling the backend.
    let calls = world.store.gets();
    world.resolve().await.unwrap();
    let error = world.resolver.resolve_within(world.connection.meta.id, Duration::from_millis(10)).await.unwrap_err();
    assert!(matches!(error.cause(), Cause::DeadlineExceeded { .. }), "{error}");
    assert_eq!(world.store.gets(), calls + 1);
}

#[tokio::test]
async fn errors_name_the_connection_entry_backend_and_kind() {
    let world = World::new(&[]);
    let missing = world.resolve().await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!(
            r#"connection "prod_pg": credential "pg_login" in backend "prod_sm" (memory): secret not found: no such secret in memory store "{}""#,
            world.store.name()
        )
    );
    assert_eq!(missing.entry(), Some("pg_login"));
    assert_eq!(missing.backend(), Some(("prod_sm", "memory")));

    let unknown = world.resolver.resolve(ConnectionRef::Name(name("nope"))).await.unwrap_err();
    assert_eq!(unknown.to_string(), r#"connection "nope" does not exist"#);

    world.catalog.remove_entry(world.entry.meta.id);
    let dangling = world.resolve().await.unwrap_err();
    assert_eq!(
        dangling.to_string(),
        format!(r#"connection "prod_pg": credential {} does not exist (dangling reference)"#, world.entry.meta.id)
    );
    world.catalog.put_entry(world.entry.clone());
    world.catalog.remove_backend(world.backend_row.meta.id);
    let dangling = world.resolve().await.unwrap_err();
    assert!(
        dangling.to_string().ends_with(&format!(
            r#"credential "pg_login": its credential storage {} does not exist (dangling reference)"#,
            world.backend_row.meta.id
        )),
        "{dangling}"
    );

    // A backend kind not compiled in names the cargo feature that compiles it in.
    let mut gcp = world.backend_row.clone();
    gcp.backend_type = "GCP".to_owned();
    world.catalog.put_backend(gcp);
    let error = world.resolve().await.unwrap_err();
    assert!(error.to_string().contains(r#"backend kind "GCP" is not enabled in this build"#), "{error}");
    assert!(error.to_string().contains("--features vault-gcp"), "{error}");
}

#[tokio::test]
async fn linked_external_secrets_select_json_fields() {
    let world = World::new(&[]);
    world
        .store
        .set_external("team/db", SecretValue::from(SecretString::new(r#"{"username":"app","password":"pw-1"}"#)));
    let mut entry = world.entry.clone();
    entry.external_secret_name = Some("team/db#password".to_owned());
    world.catalog.put_entry(entry.clone());
    assert_eq!(secret_text(&world.resolve().await.unwrap()), "pw-1");
    world
        .store
        .set_external("team/db", SecretValue::from(SecretString::new(r#"{"username":"app","password":"pw-2"}"#)));
    assert_eq!(secret_text(&world.resolve().await.unwrap()), "pw-2", "linked secrets are fresh too");
    entry.external_secret_name = Some("team/db#pwd".to_owned());
    world.catalog.put_entry(entry);
    let error = world.resolve().await.unwrap_err();
    assert!(error.to_string().ends_with(r#"the secret has no field "pwd" (fields: password, username)"#), "{error}");
    assert!(!error.to_string().contains("pw-2"));
}

#[tokio::test]
async fn credential_storages_lend_their_ambient_identity_and_links_resolve_like_connections() {
    let world = World::new(&[]);
    let mut s3 = world.connection.clone();
    s3.meta = Meta::new();
    s3.name = name("lake");
    s3.connection_type = lanyard_core::ConnectionType::S3;
    s3.credential_storage_id = Some(world.backend_row.meta.id);
    world.catalog.put_connection(s3.clone());
    let resolved = world.resolver.resolve(s3.meta.id).await.unwrap();
    // Both are set and the type is an object store: the storage wins.
    match &resolved.auth {
        Auth::Ambient(identity) => assert_eq!(identity.backend_kind, "memory"),
        other => panic!("expected ambient identity, got {other:?}"),
    }

    world.rotate(r#"{"aws_access_key_id":"AKIA","aws_secret_access_key":"link-secret"}"#).await;
    let link = Link {
        meta: Meta::new(),
        database: name("db"),
        name: name("my_s3"),
        link_type: lanyard_core::LinkType::S3,
        description: None,
        config: object(&[("region", "us-east-1")]),
        credential_id: Some(world.entry.meta.id),
    };
    world.catalog.put_link(link.clone());
    let resolved =
        world.resolver.resolve(ConnectionRef::Link { database: name("db"), name: name("my_s3") }).await.unwrap();
    assert_eq!(resolved.name(), "db.my_s3");
    assert_eq!(resolved.connection_type(), "S3");
    assert_eq!(resolved.options().get("region").as_deref(), Some("us-east-1"));
    assert!(secret_text(&resolved).contains("link-secret"));
    let no_credential =
        Connection { meta: Meta::new(), name: name("open"), credential_id: None, ..world.connection.clone() };
    world.catalog.put_connection(no_credential.clone());
    let resolved = world.resolver.resolve(no_credential.meta.id).await.unwrap();
    assert!(matches!(resolved.auth, Auth::None) && resolved.provenance.is_none());
}

#[tokio::test]
async fn an_altered_backend_row_builds_a_new_instance() {
    let world = World::new(&[]);
    world.rotate("in-first-store").await;
    assert_eq!(secret_text(&world.resolve().await.unwrap()), "in-first-store");
    let mut altered = world.backend_row.clone();
    let second_store = format!("resolve-test-{}", uuid_like());
    altered.config = object(&[("store", &second_store)]);
    altered.meta.version += 1;
    world.catalog.put_backend(altered);
    let error = world.resolve().await.unwrap_err();
    assert_eq!(error.vault_kind(), Some(ErrorKind::NotFound), "the new options are in effect: {error}");
}

#[test]
fn a_canary_secret_appears_in_no_error_log_line_or_debug_output() {
    const CANARY: &str = "canary-5d41402a-resolve";
    // Every log line at trace level.
    let capture = lanyard_testsupport::LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    let mut outputs = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let world = World::new(&[]);
            // A URL with a password among the connection's options is masked too.
            let mut connection = world.connection.clone();
            connection.options.insert("dsn".into(), format!("postgres://app:{CANARY}@127.0.0.1/db").into());
            world.catalog.put_connection(connection);
            world.rotate(&serde_json::json!({ "password": CANARY }).to_string()).await;
            let resolved = world.resolve().await.unwrap();
            assert!(secret_text(&resolved).contains(CANARY));
            outputs.push(format!("{resolved:?}"));
            outputs.push(format!("{:?}", resolved.auth));
            outputs.push(format!("{:?}", world.resolver));
            outputs.push(format!("{:?}", world.store));
            // Errors after the material was read: a bad field selection, retries, a failure.
            let mut entry = world.entry.clone();
            world.store.set_external("canary/doc", SecretValue::from(SecretString::new(CANARY)));
            entry.external_secret_name = Some("canary/doc#password".to_owned());
            world.catalog.put_entry(entry);
            let error = world.resolve().await.unwrap_err();
            outputs.push(error.to_string());
            outputs.push(format!("{error:?}"));
            world.catalog.put_entry(world.entry.clone());
            world.store.fail_next(3, FailKind::Unavailable);
            let error = world.resolve().await.unwrap_err();
            outputs.push(format!("{error} {error:?}"));
            let mut metrics = String::new();
            world.resolver.metrics().encode(&mut metrics).unwrap();
            assert!(
                metrics.contains(r#"lanyard_resolve_backend_calls_total{backend="prod_sm",kind="memory"}"#),
                "{metrics}"
            );
            outputs.push(metrics);
        });
    });
    let logs = capture.text();
    assert!(logs.contains("retrying a temporary backend failure"), "the log capture works: {logs}");
    assert!(logs.contains("resolved"), "{logs}");
    outputs.push(logs);
    for output in outputs {
        assert!(!output.contains(CANARY), "the canary leaked into: {output}");
    }
}
