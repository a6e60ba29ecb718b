use std::sync::Arc;
use std::time::Duration;

use lanyard_core::{BackendId, SecretString, VaultEntryId};
use lanyard_vault::{BackendEnv, ErrorKind, Profile, Registry, SecretRef, SecretValue, VaultBackend, VaultError};
use tokio::time::Instant;

use crate::{FailKind, Faults, KIND, MemoryBackend, new_backend, store};

/// A store name no other test uses.
fn fresh_store(tag: &str) -> String {
    format!("test-{tag}-{}", VaultEntryId::new_random())
}

fn fresh_profile() -> Profile {
    Profile::Entry(VaultEntryId::new_random())
}

fn text(value: &str) -> SecretValue {
    SecretValue::from(SecretString::new(value))
}

fn build(options: &[(&str, &str)]) -> lanyard_vault::Result<Arc<dyn VaultBackend>> {
    let registry = Registry::global().expect("registry");
    registry.build("MEMORY", BackendId::new_random(), "test", options.iter().copied(), BackendEnv::default())
}

async fn read(backend: &dyn VaultBackend, profile: Profile) -> lanyard_vault::Result<SecretValue> {
    backend.get(&SecretRef::Profile(profile)).await
}

async fn read_text(backend: &dyn VaultBackend, profile: Profile) -> String {
    String::from_utf8(read(backend, profile).await.expect("read").expose_bytes().to_vec()).expect("UTF-8")
}

// The shared behaviour suite: one test per behaviour, on a store of its own each, plain, prefixed and slow.
lanyard_vault::behaviour_tests!(mod behaviour: [store, link, ambient_identity] => new_backend(&fresh_store("behaviour")));
lanyard_vault::behaviour_tests!(
    mod behaviour_prefixed: [store, link, ambient_identity] =>
        MemoryBackend::new(store(&fresh_store("behaviour-prefixed")), "team-a/")
);
lanyard_vault::behaviour_tests!(
    #[tokio::test(start_paused = true)]
    mod behaviour_with_latency: [store, link, ambient_identity] => with_latency(Duration::from_millis(20))
);

/// A backend on a fresh store that adds `latency` to every call.
fn with_latency(latency: Duration) -> Arc<dyn VaultBackend> {
    let name = fresh_store("behaviour-latency");
    store(&name).set_faults(Faults { latency, ..Faults::default() });
    new_backend(&name)
}

#[tokio::test]
async fn the_crate_registers_itself_and_builds_through_the_registry() {
    let registry = Registry::global().expect("registry");
    assert!(registry.kinds().contains(&KIND), "{:?}", registry.kinds());
    let factory = registry.factory("memory").unwrap();
    assert_eq!(factory.crate_name, "lanyard-vault-memory");

    let name = fresh_store("registry");
    let backend =
        build(&[("store", &name), ("prefix", "demo/"), ("latency_ms", "5"), ("retry_after_ms", "250")]).expect("build");
    assert_eq!(backend.kind(), "memory");
    let profile = fresh_profile();
    assert_eq!(backend.physical_name(&profile), format!("demo/{profile}"));
    backend.put(&profile, &text("hello")).await.unwrap();
    let store = store(&name);
    assert_eq!(store.physical_names(), [format!("demo/{profile}")]);
    assert_eq!(store.puts(), 1);
    assert_eq!(
        store.faults(),
        Faults {
            latency: Duration::from_millis(5),
            retry_after: Some(Duration::from_millis(250)),
            ..Faults::default()
        }
    );

    // Building again without fault options keeps the store's faults; instances with the same store share state.
    let again = build(&[("store", &name), ("prefix", "demo/")]).expect("build");
    assert_eq!(store.faults().latency, Duration::from_millis(5));
    assert_eq!(read_text(&*again, profile).await, "hello");
}

#[tokio::test]
async fn the_default_store_is_named_after_the_backend_id() {
    let registry = Registry::global().unwrap();
    let id = BackendId::new_random();
    let backend = registry.build("memory", id, "by-id", std::iter::empty::<(&str, &str)>(), BackendEnv::default());
    let backend = backend.expect("build");
    let profile = fresh_profile();
    backend.put(&profile, &text("x")).await.unwrap();
    assert_eq!(store(&id.to_string()).version(&profile), 1);
}

#[tokio::test]
async fn options_are_validated() {
    let unknown = build(&[("stroe", "x")]).unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::ConfigInvalid);
    assert!(
        unknown.to_string().contains(
            "unknown option \"stroe\"; valid options are: store, prefix, latency_ms, fail_rate, fail_kind, \
             rate_limit_per_sec, retry_after_ms, timeout_ms"
        ),
        "{unknown}"
    );
    let cases: &[(&str, &str, &str)] = &[
        ("fail_rate", "1.5", "option \"fail_rate\" must be between 0.0 and 1.0, not \"1.5\""),
        ("fail_rate", "-0.1", "option \"fail_rate\" must be between 0.0 and 1.0"),
        ("fail_rate", "NaN", "option \"fail_rate\" must be between 0.0 and 1.0"),
        ("fail_rate", "often", "option \"fail_rate\" must be a number, not \"often\""),
        (
            "fail_kind",
            "boom",
            "option \"fail_kind\" must be one of unavailable, rate_limited, timeout, permission_denied, not_found, \
             unexpected, hang, not \"boom\"",
        ),
        ("latency_ms", "soon", "option \"latency_ms\" must be a non-negative whole number, not \"soon\""),
        ("latency_ms", "-5", "option \"latency_ms\" must be a non-negative whole number"),
        ("rate_limit_per_sec", "0", "option \"rate_limit_per_sec\" must be at least 1"),
        ("retry_after_ms", "1.5", "option \"retry_after_ms\" must be a non-negative whole number"),
        ("store", " ", "option \"store\" must not be empty"),
    ];
    for (key, value, expected) in cases {
        let error = build(&[(key, value)]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{key}={value}: {error}");
        assert!(error.to_string().contains(expected), "{key}={value}: {error}");
    }
    let name = fresh_store("options");
    build(&[("store", &name), ("fail_kind", "Hang"), ("fail_rate", "0"), ("rate_limit_per_sec", "7")]).unwrap();
    let faults = store(&name).faults();
    assert_eq!((faults.fail_kind, faults.rate_limit_per_sec), (FailKind::Hang, Some(7)));
}

#[tokio::test(start_paused = true)]
async fn latency_is_added_to_every_call() {
    let name = fresh_store("latency");
    let backend = build(&[("store", &name), ("latency_ms", "250")]).unwrap();
    let profile = fresh_profile();
    let started = Instant::now();
    backend.put(&profile, &text("slow")).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    let started = Instant::now();
    assert_eq!(read_text(&*backend, profile).await, "slow");
    backend.list().await.unwrap();
    backend.delete(&profile).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(750));
    // Failures take the latency too.
    store(&name).fail_next(1, FailKind::Unavailable);
    let started = Instant::now();
    assert_eq!(read(&*backend, profile).await.unwrap_err().kind(), ErrorKind::Unavailable);
    assert_eq!(started.elapsed(), Duration::from_millis(250));
}

#[tokio::test]
async fn fail_next_fails_exactly_n_calls_then_succeeds() {
    let name = fresh_store("fail-next");
    let backend = new_backend(&name);
    let store = store(&name);
    let profile = fresh_profile();
    backend.put(&profile, &text("v")).await.unwrap();
    for kind in FailKind::ALL.into_iter().filter(|k| *k != FailKind::Hang) {
        store.fail_next(3, kind);
        for attempt in 0..3 {
            let error = read(&*backend, profile).await.unwrap_err();
            assert_eq!(error.kind(), kind.error_kind(None).unwrap(), "{kind} attempt {attempt}: {error}");
            assert_eq!(error.backend(), "memory");
            assert_eq!(error.target(), Some(profile.to_string().as_str()));
            assert!(error.to_string().contains("fault injected by the memory backend (fail_next)"), "{error}");
        }
        assert_eq!(read_text(&*backend, profile).await, "v", "after {kind}");
    }
    // fail_next counts calls of every operation, and takes precedence over fail_rate.
    store.fail_next(2, FailKind::PermissionDenied);
    assert_eq!(backend.list().await.unwrap_err().kind(), ErrorKind::PermissionDenied);
    store.set_faults(Faults { fail_rate: 1.0, fail_kind: FailKind::Unexpected, ..Faults::default() });
    assert_eq!(backend.put(&profile, &text("w")).await.unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(backend.delete(&profile).await.unwrap_err().kind(), ErrorKind::Unexpected);
    let error = backend.get(&SecretRef::External("x".into())).await.unwrap_err();
    assert!(error.to_string().contains("fault injected by the memory backend (fail_rate)"), "{error}");
    store.set_faults(Faults::default());
    store.fail_next(5, FailKind::Timeout);
    store.fail_next(0, FailKind::Timeout);
    assert_eq!(read_text(&*backend, profile).await, "v");
}

#[tokio::test]
async fn fail_rate_fails_about_that_share_of_calls() {
    let name = fresh_store("fail-rate");
    let backend = build(&[("store", &name), ("fail_rate", "0.5"), ("fail_kind", "not_found")]).unwrap();
    let mut failures = 0;
    for _ in 0..400 {
        match backend.list().await {
            Ok(_) => {}
            Err(error) => {
                assert_eq!(error.kind(), ErrorKind::NotFound);
                failures += 1;
            }
        }
    }
    // Binomial(400, 0.5): 100..=300 fails with probability far below 1e-20.
    assert!((100..=300).contains(&failures), "{failures} of 400 calls failed");
}

#[tokio::test]
async fn injected_rate_limits_carry_retry_after() {
    let name = fresh_store("retry-after");
    let backend = build(&[("store", &name), ("retry_after_ms", "1500")]).unwrap();
    let store = store(&name);
    store.fail_next(1, FailKind::RateLimited);
    let error = read(&*backend, fresh_profile()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited { retry_after: Some(Duration::from_millis(1500)) });
    assert_eq!(error.retry_after(), Some(Duration::from_millis(1500)));
    assert!(error.is_temporary());
    store.set_faults(Faults::default());
    store.fail_next(1, FailKind::RateLimited);
    assert_eq!(read(&*backend, fresh_profile()).await.unwrap_err().retry_after(), None);
}

#[tokio::test(start_paused = true)]
async fn hang_never_completes() {
    let name = fresh_store("hang");
    let backend = build(&[("store", &name), ("fail_rate", "1"), ("fail_kind", "hang")]).unwrap();
    let store = store(&name);
    let profile = fresh_profile();
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(3600), read(&*backend, profile)).await;
    assert!(outcome.is_err(), "a hanging call must not complete");
    assert_eq!(started.elapsed(), Duration::from_secs(3600));
    assert!(tokio::time::timeout(Duration::from_secs(60), backend.put(&profile, &text("x"))).await.is_err());
    assert!(tokio::time::timeout(Duration::from_secs(60), backend.probe()).await.is_err());
    // A cancelled get is no longer in flight.
    assert_eq!(store.gets_in_flight(), 0);
    assert_eq!((store.gets(), store.puts(), store.probes()), (1, 1, 1));

    store.set_faults(Faults::default());
    store.fail_next(1, FailKind::Hang);
    assert!(tokio::time::timeout(Duration::from_secs(60), backend.list()).await.is_err());
    backend.list().await.expect("only one call hangs");
}

#[tokio::test(start_paused = true)]
async fn rate_limit_per_sec_throttles() {
    let name = fresh_store("throttle");
    let backend =
        build(&[("store", &name), ("rate_limit_per_sec", "3"), ("retry_after_ms", "200")]).expect("build memory");
    let profile = fresh_profile();
    backend.put(&profile, &text("v")).await.unwrap();
    read(&*backend, profile).await.unwrap();
    read(&*backend, profile).await.unwrap();
    let error = read(&*backend, profile).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited { retry_after: Some(Duration::from_millis(200)) });
    assert!(error.to_string().contains("more than 3 calls within one second"), "{error}");
    // Rejected calls do not count; the window slides.
    tokio::time::sleep(Duration::from_millis(999)).await;
    assert!(backend.list().await.is_err());
    tokio::time::sleep(Duration::from_millis(1)).await;
    for _ in 0..3 {
        read(&*backend, profile).await.unwrap();
    }
    assert!(read(&*backend, profile).await.is_err());
    let store = store(&name);
    assert_eq!((store.gets(), store.puts(), store.lists(), store.calls()), (7, 1, 1, 9));
}

#[tokio::test]
async fn counters_count_calls_and_reset() {
    let name = fresh_store("counters");
    let backend = new_backend(&name);
    let store = store(&name);
    let profile = fresh_profile();
    backend.put(&profile, &text("v")).await.unwrap();
    read(&*backend, profile).await.unwrap();
    read(&*backend, fresh_profile()).await.unwrap_err();
    backend.get(&SecretRef::External("ext".into())).await.unwrap_err();
    backend.list().await.unwrap();
    backend.delete(&profile).await.unwrap();
    assert!(backend.probe().await.unwrap().passed());
    backend.ambient_identity().await.unwrap();
    assert_eq!(
        (store.gets(), store.puts(), store.deletes(), store.lists(), store.probes(), store.calls()),
        (3, 1, 1, 1, 1, 8)
    );
    assert_eq!(store.gets_of(&backend.physical_name(&profile)), 1);
    assert_eq!(store.gets_of("ext"), 1);
    store.reset_counters();
    assert_eq!((store.gets(), store.puts(), store.calls(), store.gets_of("ext")), (0, 0, 0, 0));
    assert_eq!(store.max_concurrent_gets(), 0);
}

#[tokio::test(start_paused = true)]
async fn max_concurrent_gets_is_the_peak_per_name() {
    let name = fresh_store("concurrency");
    let backend = new_backend(&name);
    let store = store(&name);
    let (a, b) = (fresh_profile(), fresh_profile());
    backend.put(&a, &text("a")).await.unwrap();
    backend.put(&b, &text("b")).await.unwrap();
    store.set_faults(Faults { latency: Duration::from_millis(10), ..Faults::default() });

    // Sequential reads, and concurrent reads of different names, never overlap on one name.
    read(&*backend, a).await.unwrap();
    read(&*backend, a).await.unwrap();
    let (x, y) = tokio::join!(read(&*backend, a), read(&*backend, b));
    x.unwrap();
    y.unwrap();
    assert_eq!(store.max_concurrent_gets(), 1);

    let (x, y, z) = tokio::join!(read(&*backend, a), read(&*backend, a), read(&*backend, a));
    assert_eq!(read_text(&*backend, b).await, "b");
    for value in [x, y, z] {
        assert_eq!(value.unwrap().expose_bytes(), b"a");
    }
    assert_eq!(store.max_concurrent_gets(), 3);
    assert_eq!(store.gets_of(&backend.physical_name(&a)), 6);
    assert_eq!(store.gets_in_flight(), 0);
    store.reset_counters();
    assert_eq!(store.max_concurrent_gets(), 0);
}

#[tokio::test]
async fn versions_count_puts_per_profile() {
    let name = fresh_store("versions");
    let backend = new_backend(&name);
    let store = store(&name);
    let profile = fresh_profile();
    assert_eq!(store.version(&profile), 0);
    backend.put(&profile, &text("one")).await.unwrap();
    assert_eq!(store.version(&profile), 1);
    assert_eq!(read(&*backend, profile).await.unwrap().version(), Some("1"));
    backend.put(&profile, &text("two")).await.unwrap();
    assert_eq!(store.version(&profile), 2);
    let value = read(&*backend, profile).await.unwrap();
    assert_eq!((value.expose_bytes(), value.version()), (&b"two"[..], Some("2")));
    backend.delete(&profile).await.unwrap();
    assert_eq!(store.version(&profile), 2);
    backend.put(&profile, &text("three")).await.unwrap();
    assert_eq!(read(&*backend, profile).await.unwrap().version(), Some("3"));
    assert_eq!(store.version_of(&backend.physical_name(&profile)), 3);
    assert_eq!(store.version(&fresh_profile()), 0);

    // Prefixes separate material within one store.
    let other = MemoryBackend::new(Arc::clone(&store), "other/");
    assert_eq!(read(&other, profile).await.unwrap_err().kind(), ErrorKind::NotFound);
    other.put(&profile, &text("elsewhere")).await.unwrap();
    assert_eq!(store.version_of(&other.physical_name(&profile)), 1);
    assert_eq!(backend.list().await.unwrap(), [profile]);
    assert_eq!(other.list().await.unwrap(), [profile]);
    assert_eq!(store.len(), 2);
}

#[tokio::test]
async fn linked_external_secrets_resolve() {
    let name = fresh_store("external");
    let backend = new_backend(&name);
    let store = store(&name);
    let missing = backend.get(&SecretRef::External("prod/db".into())).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert_eq!(missing.target(), Some("prod/db"));
    assert_eq!(store.set_external("prod/db", text(r#"{"user":"app","password":"pw"}"#)), 1);
    let value = backend.get(&SecretRef::External("prod/db".into())).await.unwrap();
    assert_eq!(value.version(), Some("1"));
    let password = lanyard_vault::select_json_field(&value, "password", KIND).unwrap();
    assert_eq!(password.expose_bytes(), b"pw");
    assert_eq!(store.set_external("prod/db".to_owned(), text("rotated")), 2);
    let value = backend.get(&SecretRef::External("prod/db".into())).await.unwrap();
    assert_eq!((value.expose_bytes(), value.version()), (&b"rotated"[..], Some("2")));
    assert_eq!(store.external_version("prod/db"), 2);
    // External secrets are not profiles.
    assert!(backend.list().await.unwrap().is_empty());
    assert_eq!(store.len(), 1);
    assert!(store.remove_external("prod/db"));
    assert!(!store.remove_external("prod/db"));
    assert!(store.is_empty());
    assert_eq!(backend.get(&SecretRef::External("prod/db".into())).await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn capabilities_ambient_identity_and_probe() {
    let name = fresh_store("probe");
    let backend = new_backend(&name);
    let store = store(&name);
    let capabilities = backend.capabilities();
    assert!(capabilities.store && capabilities.link && capabilities.ambient_identity);
    let identity = backend.ambient_identity().await.unwrap();
    assert_eq!(identity.backend_kind, "memory");
    assert!(identity.description.contains(&name), "{}", identity.description);
    assert!(identity.options.is_empty());

    let report = backend.probe().await.unwrap();
    assert!(report.passed(), "{report:?}");
    assert_eq!(report.steps.len(), 4);
    assert!(store.is_empty() && store.physical_names().is_empty());
    assert_eq!((store.puts(), store.gets(), store.deletes()), (0, 0, 0));

    store.fail_next(1, FailKind::PermissionDenied);
    let report = backend.probe().await.unwrap();
    assert!(!report.passed());
    assert_eq!(report.steps.len(), 1);
    let outcome = report.steps[0].outcome.as_ref().unwrap_err();
    assert!(outcome.contains("permission denied"), "{outcome}");
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_canary_never_shows_in_debug_or_errors() {
    const CANARY: &str = "canary-7f3e9a";
    let name = fresh_store("canary");
    let backend = build(&[("store", &name), ("retry_after_ms", "10")]).unwrap();
    let store = store(&name);
    let profile = fresh_profile();
    backend.put(&profile, &text(CANARY)).await.unwrap();
    store.set_external("linked", text(CANARY));
    let value = read(&*backend, profile).await.unwrap();
    assert_eq!(value.expose_bytes(), CANARY.as_bytes());

    let mut shown =
        vec![format!("{backend:?}"), format!("{store:?}"), format!("{value:?}"), format!("{:?}", store.faults())];
    let mut errors: Vec<VaultError> = Vec::new();
    for kind in FailKind::ALL.into_iter().filter(|k| *k != FailKind::Hang) {
        store.fail_next(1, kind);
        errors.push(read(&*backend, profile).await.unwrap_err());
    }
    errors.push(read(&*backend, fresh_profile()).await.unwrap_err());
    errors.push(backend.get(&SecretRef::External("missing".into())).await.unwrap_err());
    let json = lanyard_vault::select_json_field(&value, "password", KIND).unwrap_err();
    errors.push(json);
    for error in &errors {
        shown.push(format!("{error:?}"));
        shown.push(error.to_string());
    }
    shown.push(format!("{:?}", backend.probe().await.unwrap()));
    for text in shown {
        assert!(!text.contains(CANARY), "material leaked: {text}");
    }
}
