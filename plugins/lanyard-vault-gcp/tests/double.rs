//! The `gcp` backend against the Secret Manager double of `lanyard-testsupport` (its v1 REST API and the OAuth2
//! token endpoint its service account key names, on 127.0.0.1): the shared behaviour suite, versions and their
//! retirement, linked names, application default credentials, and the error kinds of Secret Manager's and the token
//! endpoint's answers. Each test starts a double of its own.

use std::sync::Arc;
use std::time::Duration;

use lanyard_core::{BackendId, SecretString, VaultEntryId};
use lanyard_testsupport::{GcpSecretManager, VersionState};
use lanyard_vault::testkit::Fixture;
use lanyard_vault::{
    BackendConfig, BackendEnv, ErrorKind, ExternalName, Profile, Registry, SecretRef, SecretValue, VaultBackend,
    VaultError, select_json_field,
};
use lanyard_vault_gcp::{Config, GcpBackend, KIND};

/// The options that reach `double` with its service account key, plus `extra` (which replace same-named ones).
fn options(double: &GcpSecretManager, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut options = vec![
        ("project_id".to_owned(), double.project_id().to_owned()),
        ("endpoint".to_owned(), double.url().to_owned()),
        ("auth_method".to_owned(), "service_account".to_owned()),
        ("service_account_json".to_owned(), double.service_account_json().to_owned()),
    ];
    for (key, value) in extra {
        options.retain(|(k, _)| k != key);
        options.push(((*key).to_owned(), (*value).to_owned()));
    }
    options
}

fn build(options: Vec<(String, String)>) -> lanyard_vault::Result<Arc<dyn VaultBackend>> {
    Registry::global().expect("registry").build(
        KIND,
        BackendId::new_random(),
        "gcp-test",
        options,
        BackendEnv::default(),
    )
}

/// A backend on `double` through the registry, as the Control Plane builds it.
fn backend_on(double: &GcpSecretManager, extra: &[(&str, &str)]) -> Arc<dyn VaultBackend> {
    build(options(double, extra)).expect("the gcp backend builds on the double's options")
}

fn text(value: &str) -> SecretValue {
    SecretValue::from(SecretString::new(value))
}

fn utf8(value: &SecretValue) -> String {
    String::from_utf8(value.expose_bytes().to_vec()).expect("UTF-8")
}

fn external(name: &str) -> SecretRef {
    SecretRef::External(name.to_owned())
}

/// The base64 lines of the double's private key: none may be in an error or a `Debug`.
fn key_lines(double: &GcpSecretManager) -> Vec<String> {
    let key: serde_json::Value = serde_json::from_str(double.service_account_json()).unwrap();
    key["private_key"].as_str().unwrap().lines().filter(|l| l.len() >= 60).map(str::to_owned).collect()
}

/// Asserts that no line of the key and none of `more` is in the error's text or `Debug`.
fn assert_clean(error: &VaultError, double: &GcpSecretManager, more: &[&str]) {
    let shown = format!("{error} {error:?}");
    for line in key_lines(double) {
        assert!(!shown.contains(&line), "the key is in the error: {shown}");
    }
    for secret in more {
        assert!(!shown.contains(secret), "a secret is in the error: {shown}");
    }
}

/// A double with a backend on it; after a behaviour, no secret may be left.
struct OnDouble {
    double: GcpSecretManager,
    backend: Arc<dyn VaultBackend>,
}

impl OnDouble {
    fn start(prefix: &str) -> Self {
        let double = GcpSecretManager::start();
        let backend = backend_on(&double, &[("prefix", prefix)]);
        Self { double, backend }
    }
}

impl Fixture for OnDouble {
    fn backend(&self) -> &dyn VaultBackend {
        self.backend.as_ref()
    }

    async fn finish(self) {
        assert_eq!(self.double.names(), Vec::<String>::new(), "the behaviour left secrets in Secret Manager");
    }
}

lanyard_vault::behaviour_tests!(mod behaviour: [store, link, ambient_identity] => OnDouble::start(""));
lanyard_vault::behaviour_tests!(mod behaviour_prefixed: [store, link, ambient_identity] => OnDouble::start("team_a-"));

#[tokio::test]
async fn profiles_become_secret_ids_under_the_prefix_and_writes_retire_older_versions() {
    let on = OnDouble::start("team_a-");
    let profile = Profile::Entry(VaultEntryId::new_random());
    let id = on.backend.physical_name(&profile);
    assert_eq!(id, format!("team_a-vault--{}", profile.to_string().trim_start_matches("vault::")));
    on.backend.put(&profile, &text("first")).await.unwrap();
    assert_eq!(on.double.names(), std::slice::from_ref(&id));
    assert_eq!(on.double.labels(&id).get("managed-by").map(String::as_str), Some("lanyard"));
    on.backend.put(&profile, &SecretValue::new(lanyard_core::SecretBytes::new(vec![0, 255, 128]))).await.unwrap();
    // Binary material is stored as it is: Secret Manager keeps bytes.
    assert_eq!(on.double.access(&id, None).as_deref(), Some(&[0u8, 255, 128][..]));
    let read = on.backend.get(&SecretRef::Profile(profile)).await.unwrap();
    assert_eq!(read.version(), Some("2"));
    // The default policy disables what a write replaced.
    assert_eq!(on.double.versions(&id), [(1, VersionState::Disabled), (2, VersionState::Enabled)]);
    // Secrets of other prefixes and of people are not profiles of this backend.
    on.double.add_version("db-password", b"x");
    on.double.add_version(&format!("team_b-vault--{}", VaultEntryId::new_random()), b"x");
    assert_eq!(on.backend.list().await.unwrap(), [profile]);
    on.backend.delete(&profile).await.unwrap();
    assert!(!on.double.names().contains(&id), "delete removes the secret with its versions");
    on.backend.delete(&profile).await.expect("deleting what is not there succeeds");
}

/// Secret Manager keeps no empty payload: empty material is `[0]` plus an annotation naming its version, while a
/// real one-byte `[0]` (an operator's, or a later write) stays `[0]`.
#[tokio::test]
async fn empty_material_is_marked_and_a_real_zero_byte_is_not_mistaken_for_it() {
    let double = GcpSecretManager::start();
    let backend = backend_on(&double, &[]);
    let profile = Profile::Entry(VaultEntryId::new_random());
    let id = backend.physical_name(&profile);
    backend.put(&profile, &SecretValue::new(lanyard_core::SecretBytes::new(Vec::new()))).await.unwrap();
    assert_eq!(double.access(&id, None).as_deref(), Some(&[0u8][..]));
    let read = backend.get(&SecretRef::Profile(profile)).await.unwrap();
    assert_eq!((read.expose_bytes(), read.version()), (&b""[..], Some("1")));
    backend.put(&profile, &SecretValue::new(lanyard_core::SecretBytes::new(vec![0]))).await.unwrap();
    let read = backend.get(&SecretRef::Profile(profile)).await.unwrap();
    assert_eq!((read.expose_bytes(), read.version()), (&[0u8][..], Some("2")), "version 2 is a real zero byte");
    double.add_version("operator-zero", &[0]);
    assert_eq!(backend.get(&external("operator-zero")).await.unwrap().expose_bytes(), [0]);
    backend.delete(&profile).await.unwrap();
}

#[tokio::test]
async fn previous_versions_are_disabled_destroyed_or_kept() {
    let double = GcpSecretManager::start();
    for (policy, older) in
        [("destroy", VersionState::Destroyed), ("keep", VersionState::Enabled), ("disable", VersionState::Disabled)]
    {
        let backend = backend_on(&double, &[("previous_versions", policy)]);
        let profile = Profile::Entry(VaultEntryId::new_random());
        let id = backend.physical_name(&profile);
        for value in ["one", "two", "three"] {
            backend.put(&profile, &text(value)).await.unwrap();
        }
        assert_eq!(
            double.versions(&id),
            [(1, older), (2, older), (3, VersionState::Enabled)],
            "previous_versions = {policy}"
        );
        assert_eq!(utf8(&backend.get(&SecretRef::Profile(profile)).await.unwrap()), "three");
        let first = backend.get(&external(&format!("{id}/versions/1"))).await;
        match older {
            VersionState::Enabled => assert_eq!(utf8(&first.unwrap()), "one"),
            _ => assert_eq!(first.unwrap_err().kind(), ErrorKind::NotFound, "{policy}"),
        }
        backend.delete(&profile).await.unwrap();
    }
    let error = build(options(&double, &[("previous_versions", "shred")])).unwrap_err();
    assert!(error.to_string().contains("disable, destroy or keep"), "{error}");
}

#[tokio::test]
async fn list_follows_the_pages() {
    let on = OnDouble::start("");
    // 260 profiles: more than one page of 250.
    let mut written: Vec<Profile> = (0..260).map(|_| Profile::Entry(VaultEntryId::new_random())).collect();
    for profile in &written {
        on.double.add_version(&on.backend.physical_name(profile), b"x");
    }
    let lists = on.double.counters().lists;
    written.sort_unstable();
    assert_eq!(on.backend.list().await.unwrap(), written);
    assert_eq!(on.double.counters().lists, lists + 2, "two pages");
    for profile in &written {
        on.backend.delete(profile).await.unwrap();
    }
    on.finish().await;
}

#[tokio::test]
async fn linked_names_select_versions_and_projects_and_the_resolver_selects_fields() {
    let double = GcpSecretManager::start();
    let backend = backend_on(&double, &[]);
    let v1 = double.add_version("pg-login", br#"{"user":"app","password":"first-canary-pw"}"#);
    let v2 = double.add_version("pg-login", br#"{"user":"app","password":"second-canary-pw"}"#);
    assert_eq!((v1, v2), (1, 2));

    let current = backend.get(&external("pg-login")).await.unwrap();
    assert_eq!(current.version(), Some("2"));
    let name = ExternalName::parse("pg-login/versions/1#password").unwrap();
    assert_eq!((name.locator.as_str(), name.field.as_deref()), ("pg-login/versions/1", Some("password")));
    let old = backend.get(&external(&name.locator)).await.unwrap();
    assert_eq!(old.version(), Some("1"));
    assert_eq!(utf8(&select_json_field(&old, "password", KIND).unwrap()), "first-canary-pw");
    assert_eq!(utf8(&select_json_field(&current, "password", KIND).unwrap()), "second-canary-pw");
    let latest = backend.get(&external("pg-login/versions/latest")).await.unwrap();
    assert_eq!(latest.version(), Some("2"));
    // The full resource name, by project id and by project number.
    for project in [double.project_id(), double.project_number()] {
        let full = backend.get(&external(&format!("projects/{project}/secrets/pg-login/versions/1"))).await.unwrap();
        assert_eq!(full.version(), Some("1"), "{project}");
    }

    let missing_version = backend.get(&external("pg-login/versions/9")).await.unwrap_err();
    assert_eq!(missing_version.kind(), ErrorKind::NotFound, "{missing_version}");
    double.set_version_state("pg-login", 1, VersionState::Disabled);
    let disabled = backend.get(&external("pg-login/versions/1")).await.unwrap_err();
    assert_eq!(disabled.kind(), ErrorKind::NotFound, "{disabled}");
    assert!(disabled.to_string().contains("FAILED_PRECONDITION"), "{disabled}");
    let illegal = backend.get(&external("pg.login")).await.unwrap_err();
    assert_eq!(illegal.kind(), ErrorKind::ConfigInvalid, "{illegal}");
    for error in [&missing_version, &disabled, &illegal] {
        assert_clean(error, &double, &["canary-pw"]);
    }
}

#[tokio::test]
async fn one_token_serves_many_calls_and_a_revoked_one_is_replaced_once() {
    let double = GcpSecretManager::start();
    let backend = backend_on(&double, &[]);
    double.add_version("tok", b"value-1");
    for _ in 0..3 {
        assert_eq!(utf8(&backend.get(&external("tok")).await.unwrap()), "value-1");
    }
    assert_eq!(double.counters().token_requests, 1, "the token is cached");
    double.revoke_tokens();
    assert_eq!(utf8(&backend.get(&external("tok")).await.unwrap()), "value-1");
    let after = double.counters();
    assert_eq!((after.token_requests, after.unauthenticated), (2, 1), "one 401, one new token: {after:?}");
}

#[tokio::test]
async fn a_key_the_token_endpoint_refuses_is_permission_denied_and_never_shown() {
    let double = GcpSecretManager::start();
    // The key under another account's name: its signature does not verify for that account.
    let json =
        double.service_account_json().replace(double.client_email(), "intruder@lanyard-test.iam.gserviceaccount.com");
    let backend = backend_on(&double, &[("service_account_json", &json)]);
    double.add_version("db", b"x");
    let error = backend.get(&external("db")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert!(!error.is_temporary());
    assert!(error.to_string().contains("invalid_grant"), "the token endpoint's error is quoted: {error}");
    assert!(error.to_string().contains("intruder@lanyard-test.iam.gserviceaccount.com"), "{error}");
    assert_clean(&error, &double, &[]);
    let counters = double.counters();
    assert_eq!(
        (counters.accesses, counters.unauthenticated, counters.lists, counters.others),
        (0, 0, 0, 0),
        "no API call without a token: {counters:?}"
    );

    // The right account signed with another key: the signature does not verify.
    let mut forged: serde_json::Value = serde_json::from_str(double.service_account_json()).unwrap();
    let other: serde_json::Value = serde_json::from_str(&double.unauthorized_service_account_json()).unwrap();
    forged["private_key"] = other["private_key"].clone();
    let forged = backend_on(&double, &[("service_account_json", &forged.to_string())]);
    let error = forged.get(&external("db")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert!(error.to_string().contains("Invalid JWT Signature."), "{error}");

    let report = backend.probe().await.unwrap();
    assert!(!report.passed());
    assert_eq!(report.steps.len(), 1, "the probe stops at the token: {report:?}");
    assert!(report.steps[0].outcome.clone().unwrap_err().contains("permission denied"), "{report:?}");
}

#[tokio::test]
async fn throttling_is_rate_limited_with_the_retry_info_delay() {
    let double = GcpSecretManager::start();
    let backend = backend_on(&double, &[]);
    double.add_version("busy", b"value");
    assert_eq!(utf8(&backend.get(&external("busy")).await.unwrap()), "value");
    double.throttle(1, Duration::from_millis(7500));
    let error = backend.get(&external("busy")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited { retry_after: Some(Duration::from_millis(7500)) }, "{error}");
    assert!(error.is_temporary());
    assert!(error.to_string().contains("429 RESOURCE_EXHAUSTED"), "{error}");
    // No hidden retry: the one 429 reached us, and the next call passes.
    assert_eq!(double.counters().throttled, 1);
    assert_eq!(utf8(&backend.get(&external("busy")).await.unwrap()), "value");
}

#[tokio::test]
async fn secret_manager_errors_map_to_kinds() {
    let double = GcpSecretManager::start();
    let backend = backend_on(&double, &[]);
    let missing = backend.get(&external("never-written")).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(missing.to_string().contains("404 NOT_FOUND"), "{missing}");
    assert_eq!(missing.target(), Some("never-written"));

    double.add_version("guarded", b"x");
    double.deny_access(true);
    let denied = backend.get(&external("guarded")).await.unwrap_err();
    assert_eq!(denied.kind(), ErrorKind::PermissionDenied, "{denied}");
    assert!(denied.to_string().contains("403 PERMISSION_DENIED"), "{denied}");
    double.deny_access(false);

    double.fail_next(1, 503);
    let down = backend.get(&external("guarded")).await.unwrap_err();
    assert_eq!(down.kind(), ErrorKind::Unavailable, "{down}");
    assert!(down.is_temporary());
    for error in [&missing, &denied, &down] {
        assert_clean(error, &double, &[]);
    }
}

#[tokio::test]
async fn an_unreachable_or_silent_secret_manager_is_unavailable_or_a_timeout() {
    let double = GcpSecretManager::start();
    let backend = backend_on(&double, &[("timeout_ms", "300")]);
    double.add_version("slow", b"x");
    assert_eq!(utf8(&backend.get(&external("slow")).await.unwrap()), "x");
    double.stall(Duration::from_secs(3));
    let error = backend.get(&external("slow")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    double.clear_faults();
    drop(double);
    let error = backend.get(&external("x")).await.unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Unavailable), "{error}");
    assert!(error.is_temporary());
}

#[tokio::test]
async fn the_probe_gets_a_token_then_lists_one_secret() {
    let double = GcpSecretManager::start();
    let backend = backend_on(&double, &[("prefix", "team_a-")]);
    let report = backend.probe().await.unwrap();
    assert!(report.passed(), "{report:?}");
    let steps: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            format!("get an access token for service account {} (service_account)", double.client_email()),
            format!("list one secret of projects/{} under prefix team_a- at {}", double.project_id(), double.url()),
        ]
    );
    assert_eq!(double.counters().lists, 1);
}

/// Application default credentials from `GOOGLE_APPLICATION_CREDENTIALS` (a key file), through the same exchange.
#[tokio::test]
async fn application_default_credentials_read_the_key_file_the_environment_names() {
    let double = GcpSecretManager::start();
    let dir = lanyard_testsupport::TempDir::new("gcp-adc");
    let file = dir.join("key.json");
    std::fs::write(&file, double.service_account_json()).unwrap();
    let path = file.display().to_string();
    let env = |key: &str| (key == "GOOGLE_APPLICATION_CREDENTIALS").then(|| path.clone());
    let pairs = [("project_id", double.project_id()), ("endpoint", double.url()), ("auth_method", "adc")];
    let validated = Registry::global().unwrap().factory("gcp").unwrap().validate(pairs).unwrap();
    let config = BackendConfig {
        backend_id: BackendId::new_random(),
        name: "adc".into(),
        options: validated,
        env: BackendEnv::default(),
    };
    let backend = GcpBackend::new(Config::parse(&config, &env).unwrap()).unwrap();
    double.add_version("adc-secret", b"through adc");
    assert_eq!(utf8(&backend.get(&external("adc-secret")).await.unwrap()), "through adc");
    let identity = backend.ambient_identity().await.unwrap();
    let lent: Vec<(&str, &str)> = identity.options.iter_exposed().collect();
    assert_eq!(lent, [("service_account_key", double.service_account_json())], "adc lends the key file it found");
    assert!(
        identity.description.starts_with("application default credentials: service account"),
        "{}",
        identity.description
    );

    let nowhere = |key: &str| (key == "GOOGLE_APPLICATION_CREDENTIALS").then(|| "/nonexistent/key.json".to_owned());
    let error = Config::parse(&config, &nowhere).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
    assert!(
        error.to_string().contains("cannot read GOOGLE_APPLICATION_CREDENTIALS file /nonexistent/key.json"),
        "{error}"
    );
}

#[tokio::test]
async fn the_ambient_identity_is_the_key_and_debug_hides_it() {
    let double = GcpSecretManager::start();
    let backend = backend_on(&double, &[]);
    let identity = backend.ambient_identity().await.unwrap();
    let exposed: Vec<(&str, &str)> = identity.options.iter_exposed().collect();
    assert_eq!(exposed, [("service_account_key", double.service_account_json())]);
    assert_eq!(identity.description, format!("service account {}", double.client_email()));
    for line in key_lines(&double) {
        for shown in [format!("{identity:?}"), format!("{backend:?}"), identity.options.to_string()] {
            assert!(!shown.contains(&line), "{shown}");
        }
    }
}

#[test]
fn an_http_endpoint_elsewhere_than_this_host_is_refused() {
    let double = GcpSecretManager::start();
    let error = build(options(&double, &[("endpoint", "http://secretmanager.googleapis.com")])).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
    assert!(error.to_string().contains("http:// only to 127.0.0.1"), "{error}");
}
