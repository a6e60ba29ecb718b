//! The backend behaviour suite (cargo feature `testkit`), in the shape of OpenDAL's `core/tests/behavior`: one async
//! function per behaviour, taking `&dyn VaultBackend`, and [`behaviour_tests!`](crate::behaviour_tests), which a
//! backend's test file invokes once per configuration to get one named `#[tokio::test]` per behaviour that the
//! backend claims the capability for:
//!
//! ```text
//! lanyard_vault::behaviour_tests!(mod behaviour: [store] => my_backend_for_tests().await);
//! ```
//!
//! nextest then lists `…::behaviour::put_then_get`, `…::behaviour::overwrite`, …: a failing behaviour names itself
//! and the others still run. A behaviour whose capability the backend does not claim is not generated at all (it
//! does not "pass"), and the generated `capabilities_are_as_claimed` test checks that the claim is the backend's
//! [`capabilities`](VaultBackend::capabilities), so a backend cannot skip behaviours by under-claiming.
//!
//! Every function uses fresh random profiles, so the suite can run against a shared store, and cleans up after
//! itself. Failures panic with a message naming the backend and the behaviour (this is test support).

use std::future::Future;
use std::sync::Arc;

use futures::future::join_all;
use lanyard_core::{SecretBytes, SecretString, VaultEntryId};

use crate::{Capabilities, ErrorKind, Profile, SecretRef, SecretValue, VaultBackend, select_json_field};

/// What one generated test runs the behaviour against: a backend, and what to check and release after it.
///
/// Any backend is a fixture (`MemoryBackend`, `Arc<dyn VaultBackend>`); a test file wraps one in a type of its own
/// when it has more to check after each behaviour (the local vault checks that no row is left behind).
pub trait Fixture {
    /// The backend under test.
    fn backend(&self) -> &dyn VaultBackend;

    /// Runs after a behaviour passed: further checks, then closing what the fixture holds.
    fn finish(self) -> impl Future<Output = ()>
    where
        Self: Sized,
    {
        async {}
    }
}

impl<T: VaultBackend> Fixture for T {
    fn backend(&self) -> &dyn VaultBackend {
        self
    }
}

impl Fixture for Arc<dyn VaultBackend> {
    fn backend(&self) -> &dyn VaultBackend {
        self.as_ref()
    }
}

/// Generates one `#[tokio::test]` per behaviour of this module, in a module of its own, for the behaviours whose
/// capability the backend claims:
///
/// ```text
/// lanyard_vault::behaviour_tests!(mod behaviour: [store] => fixture().await);
/// lanyard_vault::behaviour_tests!(
///     #[tokio::test(start_paused = true)]
///     mod behaviour_with_latency: [store, link, ambient_identity] => slow_fixture()
/// );
/// ```
///
/// - the attributes (default `#[tokio::test]`) go on every generated test;
/// - the capabilities are field names of [`Capabilities`](crate::Capabilities); `capabilities_are_as_claimed`
///   checks them against the backend's own;
/// - the expression makes a [`Fixture`] (it may `.await`); it is evaluated once per test, in a module that sees
///   the invoking module's items (`use super::*`).
///
/// Adding a behaviour: write its `pub async fn` here and name it in the arm of its capability below.
#[macro_export]
macro_rules! behaviour_tests {
    (mod $module:ident: [$($capability:ident),* $(,)?] => $fixture:expr $(,)?) => {
        $crate::behaviour_tests!(#[tokio::test] mod $module: [$($capability),*] => $fixture);
    };
    ($(#[$test:meta])+ mod $module:ident: [$($capability:ident),* $(,)?] => $fixture:expr $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;

            $(#[$test])+
            #[allow(clippy::needless_update)] // when every capability is claimed
            async fn capabilities_are_as_claimed() {
                let fixture = $fixture;
                let claimed = $crate::Capabilities { $($capability: true,)* ..$crate::Capabilities::default() };
                $crate::testkit::capabilities_are_as_claimed($crate::testkit::Fixture::backend(&fixture), claimed);
                $crate::testkit::Fixture::finish(fixture).await;
            }

            $crate::behaviour_tests!(@tests [$(#[$test])+] $fixture; physical_names);
            $crate::behaviour_tests!(@capabilities [$(#[$test])+] $fixture; $($capability),*);
        }
    };
    (@capabilities $attributes:tt $fixture:expr;) => {};
    (@capabilities $attributes:tt $fixture:expr; $capability:ident $(, $rest:ident)*) => {
        $crate::behaviour_tests!(@capability $capability $attributes $fixture);
        $crate::behaviour_tests!(@capabilities $attributes $fixture; $($rest),*);
    };
    (@capability store $attributes:tt $fixture:expr) => {
        $crate::behaviour_tests!(@tests $attributes $fixture;
            put_then_get, overwrite, delete, not_found, binary_values, large_values, concurrent_access,
            json_field_selection, list, probe);
    };
    // No behaviour needs these yet; a backend may claim them.
    (@capability link $attributes:tt $fixture:expr) => {};
    (@capability ambient_identity $attributes:tt $fixture:expr) => {};
    (@tests $attributes:tt $fixture:expr; $($behaviour:ident),+) => {
        $($crate::behaviour_tests!(@test $attributes $fixture; $behaviour);)+
    };
    (@test [$($attribute:tt)+] $fixture:expr; $behaviour:ident) => {
        $($attribute)+
        async fn $behaviour() {
            let fixture = $fixture;
            $crate::testkit::$behaviour($crate::testkit::Fixture::backend(&fixture)).await;
            $crate::testkit::Fixture::finish(fixture).await;
        }
    };
}

fn fresh() -> Profile {
    Profile::Entry(VaultEntryId::new_random())
}

fn text(value: &str) -> SecretValue {
    SecretValue::from(SecretString::new(value))
}

async fn get(backend: &dyn VaultBackend, profile: Profile) -> crate::Result<SecretValue> {
    backend.get(&SecretRef::Profile(profile)).await
}

async fn must_get(backend: &dyn VaultBackend, profile: Profile) -> Vec<u8> {
    match get(backend, profile).await {
        Ok(value) => value.expose_bytes().to_vec(),
        Err(error) => panic!("{} backend: reading {profile} after writing it failed: {error}", backend.kind()),
    }
}

async fn must_put(backend: &dyn VaultBackend, profile: Profile, value: &SecretValue) {
    if let Err(error) = backend.put(&profile, value).await {
        panic!("{} backend: writing {profile} failed: {error}", backend.kind());
    }
}

async fn must_delete(backend: &dyn VaultBackend, profile: Profile) {
    if let Err(error) = backend.delete(&profile).await {
        panic!("{} backend: deleting {profile} failed: {error}", backend.kind());
    }
}

/// The backend claims exactly the capabilities it has, so the behaviours generated for it (and those left out)
/// are the right ones.
pub fn capabilities_are_as_claimed(backend: &dyn VaultBackend, claimed: Capabilities) {
    assert_eq!(
        backend.capabilities(),
        claimed,
        "{} backend: the capabilities given to behaviour_tests! are not the backend's own",
        backend.kind()
    );
}

/// What is written is read back, byte for byte.
pub async fn put_then_get(backend: &dyn VaultBackend) {
    let profile = fresh();
    must_put(backend, profile, &text("s3cr3t-value")).await;
    assert_eq!(must_get(backend, profile).await, b"s3cr3t-value", "{} backend: put then get", backend.kind());
    must_delete(backend, profile).await;
}

/// A second write replaces the first; the next read returns it.
pub async fn overwrite(backend: &dyn VaultBackend) {
    let profile = fresh();
    must_put(backend, profile, &text("first")).await;
    must_put(backend, profile, &text("second")).await;
    assert_eq!(must_get(backend, profile).await, b"second", "{} backend: overwrite", backend.kind());
    for round in 0..5 {
        let value = format!("round-{round}");
        must_put(backend, profile, &text(&value)).await;
        assert_eq!(must_get(backend, profile).await, value.as_bytes(), "{} backend: overwrite {round}", backend.kind());
    }
    must_delete(backend, profile).await;
}

/// A deleted profile is gone; deleting again (or deleting what never existed) succeeds.
pub async fn delete(backend: &dyn VaultBackend) {
    let profile = fresh();
    must_put(backend, profile, &text("doomed")).await;
    must_delete(backend, profile).await;
    let error = get(backend, profile).await.expect_err("a deleted profile must not be readable");
    assert_eq!(error.kind(), ErrorKind::NotFound, "{} backend: read after delete: {error}", backend.kind());
    must_delete(backend, profile).await;
    must_delete(backend, fresh()).await;
}

/// Reading what was never written is `NotFound`, naming the profile, and its message holds no material.
pub async fn not_found(backend: &dyn VaultBackend) {
    let profile = fresh();
    let error = get(backend, profile).await.expect_err("an unknown profile must not be readable");
    assert_eq!(error.kind(), ErrorKind::NotFound, "{} backend: {error}", backend.kind());
    assert!(!error.is_temporary());
    assert_eq!(error.backend(), backend.kind());
    let target = error.target().unwrap_or_default();
    let physical = backend.physical_name(&profile);
    assert!(
        target.contains(&profile.to_string()) || target.contains(&physical),
        "{} backend: a not-found error must name the profile or its physical name, got {error}",
        backend.kind()
    );
}

/// Binary material, every byte value included (NUL, invalid UTF-8), survives unchanged.
pub async fn binary_values(backend: &dyn VaultBackend) {
    let profile = fresh();
    let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    must_put(backend, profile, &SecretValue::new(SecretBytes::new(bytes.clone()))).await;
    assert_eq!(must_get(backend, profile).await, bytes, "{} backend: binary value", backend.kind());
    let empty = fresh();
    must_put(backend, empty, &SecretValue::new(SecretBytes::new(Vec::new()))).await;
    assert_eq!(must_get(backend, empty).await, b"", "{} backend: empty value", backend.kind());
    must_delete(backend, profile).await;
    must_delete(backend, empty).await;
}

/// A 60 KiB value (just under AWS Secrets Manager's 64 KiB limit) survives unchanged.
pub async fn large_values(backend: &dyn VaultBackend) {
    let profile = fresh();
    let large: Vec<u8> = (0..60 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    must_put(backend, profile, &SecretValue::new(SecretBytes::new(large.clone()))).await;
    assert!(must_get(backend, profile).await == large, "{} backend: 60 KiB value differs", backend.kind());
    must_delete(backend, profile).await;
}

/// Sixteen concurrent writers and readers on distinct profiles, and racing writers on one profile: every read
/// returns a value that some writer wrote, never a torn or mixed one.
pub async fn concurrent_access(backend: &dyn VaultBackend) {
    let profiles: Vec<Profile> = (0..16).map(|_| fresh()).collect();
    join_all(profiles.iter().enumerate().map(|(i, profile)| async move {
        let value = format!("value-{i}");
        must_put(backend, *profile, &text(&value)).await;
        assert_eq!(must_get(backend, *profile).await, value.as_bytes(), "{} backend: concurrent", backend.kind());
    }))
    .await;
    let shared = fresh();
    must_put(backend, shared, &text("writer-start")).await;
    let written: Vec<String> = (0..16).map(|i| format!("writer-{i:02}")).collect();
    let all = &written;
    join_all(written.iter().map(|value| async move {
        must_put(backend, shared, &text(value)).await;
        let read = String::from_utf8(must_get(backend, shared).await).expect("UTF-8 written");
        assert!(
            read == "writer-start" || all.contains(&read),
            "{} backend: a racing read returned a value nobody wrote",
            backend.kind()
        );
    }))
    .await;
    let last = String::from_utf8(must_get(backend, shared).await).unwrap();
    assert!(written.contains(&last), "{} backend: the final value is not one of the writes", backend.kind());
    for profile in profiles.into_iter().chain([shared]) {
        must_delete(backend, profile).await;
    }
}

/// A JSON secret read back selects its fields (the resolver applies `#field` this way).
pub async fn json_field_selection(backend: &dyn VaultBackend) {
    let profile = fresh();
    must_put(backend, profile, &text(r#"{"username":"app","password":"pa\"ss","port":5432}"#)).await;
    let value = get(backend, profile).await.expect("read JSON secret");
    let field = |name| select_json_field(&value, name, backend.kind()).map(|v| v.expose_bytes().to_vec());
    assert_eq!(field("username").unwrap(), b"app");
    assert_eq!(field("password").unwrap(), br#"pa"ss"#);
    assert_eq!(field("port").unwrap(), b"5432");
    let missing = field("nope").expect_err("a missing field is an error");
    assert!(!missing.to_string().contains("pa\"ss"), "the error must not quote the material");
    must_delete(backend, profile).await;
}

/// `list` shows written profiles and not deleted ones, sorted; `list_stored` shows the same ones.
pub async fn list(backend: &dyn VaultBackend) {
    let (kept, dropped) = (fresh(), fresh());
    must_put(backend, kept, &text("kept")).await;
    must_put(backend, dropped, &text("dropped")).await;
    must_delete(backend, dropped).await;
    let listed = backend.list().await.unwrap_or_else(|e| panic!("{} backend: list failed: {e}", backend.kind()));
    assert!(listed.contains(&kept), "{} backend: list misses a written profile", backend.kind());
    assert!(!listed.contains(&dropped), "{} backend: list shows a deleted profile", backend.kind());
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "{} backend: list must be sorted", backend.kind());
    // `list_stored` names the same profiles (other behaviours may write beside this one: only these two are
    // compared); a size it reports is the material's.
    let stored = backend.list_stored().await.unwrap_or_else(|e| panic!("{} backend: list_stored: {e}", backend.kind()));
    assert!(
        !stored.iter().any(|s| s.profile == dropped),
        "{} backend: list_stored shows a deleted profile",
        backend.kind()
    );
    let kept_entry = stored
        .iter()
        .find(|s| s.profile == kept)
        .unwrap_or_else(|| panic!("{} backend: list_stored misses a written profile", backend.kind()));
    if let Some(size) = kept_entry.size {
        assert_eq!(size, 4, "{} backend: list_stored reports a wrong size", backend.kind());
    }
    must_delete(backend, kept).await;
}

/// The probe passes against a healthy backend and leaves nothing behind.
pub async fn probe(backend: &dyn VaultBackend) {
    let before = backend.list().await.expect("list").len();
    let report = backend.probe().await.unwrap_or_else(|e| panic!("{} backend: probe failed: {e}", backend.kind()));
    assert!(report.passed(), "{} backend: probe did not pass: {report:?}", backend.kind());
    assert_eq!(backend.list().await.expect("list").len(), before, "{} backend: probe left material", backend.kind());
}

/// Physical names are distinct per profile and stable.
pub async fn physical_names(backend: &dyn VaultBackend) {
    let (a, b) = (fresh(), fresh());
    assert_ne!(backend.physical_name(&a), backend.physical_name(&b));
    assert_eq!(backend.physical_name(&a), backend.physical_name(&a));
}
