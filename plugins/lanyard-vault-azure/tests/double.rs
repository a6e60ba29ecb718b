//! The `azure` backend against the Key Vault double of `lanyard-testsupport` (HTTPS on 127.0.0.1, the challenge
//! flow, Entra ID's token endpoint): the shared behaviour suite, linked names with versions and fields, and the
//! error kinds of Key Vault's and Entra ID's answers. Each test starts a double of its own.

use std::sync::Arc;
use std::time::Duration;

use lanyard_core::{BackendId, SecretBytes, SecretString, VaultEntryId};
use lanyard_testsupport::AzureKeyVault;
use lanyard_vault::testkit::Fixture;
use lanyard_vault::{
    BackendEnv, ErrorKind, ExternalName, Profile, Registry, SecretRef, SecretValue, VaultBackend, VaultError,
    select_json_field,
};
use lanyard_vault_azure::KIND;

/// The options that reach `double` with its client secret, plus `extra`.
fn options(double: &AzureKeyVault, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut options = vec![
        ("vault_url".to_owned(), double.url().to_owned()),
        ("auth_method".to_owned(), "client_secret".to_owned()),
        ("tenant_id".to_owned(), double.tenant_id().to_owned()),
        ("client_id".to_owned(), double.client_id().to_owned()),
        ("client_secret".to_owned(), double.client_secret().to_owned()),
        ("ca_cert".to_owned(), double.ca_file().display().to_string()),
        ("authority_host".to_owned(), double.url().to_owned()),
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
        "azure-test",
        options,
        BackendEnv::default(),
    )
}

/// A backend on `double` through the registry, as the Control Plane builds it.
fn backend_on(double: &AzureKeyVault, extra: &[(&str, &str)]) -> Arc<dyn VaultBackend> {
    build(options(double, extra)).expect("the azure backend builds on the double's options")
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

/// Asserts that neither the double's client secret nor `more` is in the error's text or `Debug`.
fn assert_clean(error: &VaultError, double: &AzureKeyVault, more: &[&str]) {
    let shown = format!("{error} {error:?}");
    for secret in [double.client_secret()].iter().chain(more) {
        assert!(!shown.contains(secret), "a secret is in the error: {shown}");
    }
}

/// A double with a backend on it; after a behaviour, no live secret may be left (deleted ones are soft-deleted).
struct OnDouble {
    double: AzureKeyVault,
    backend: Arc<dyn VaultBackend>,
}

impl OnDouble {
    fn start(prefix: &str) -> Self {
        let double = AzureKeyVault::start();
        let backend = backend_on(&double, &[("prefix", prefix)]);
        Self { double, backend }
    }
}

impl Fixture for OnDouble {
    fn backend(&self) -> &dyn VaultBackend {
        self.backend.as_ref()
    }

    async fn finish(self) {
        assert_eq!(self.double.names(), Vec::<String>::new(), "the behaviour left live secrets in the vault");
    }
}

lanyard_vault::behaviour_tests!(mod behaviour: [store, link, ambient_identity] => OnDouble::start(""));
lanyard_vault::behaviour_tests!(mod behaviour_prefixed: [store, link, ambient_identity] => OnDouble::start("team-a-"));

#[tokio::test]
async fn profiles_become_legal_key_vault_names_under_the_prefix() {
    let on = OnDouble::start("team-a-");
    let profile = Profile::Entry(VaultEntryId::new_random());
    let physical = on.backend.physical_name(&profile);
    assert_eq!(physical, format!("team-a-vault--{}", profile.to_string().trim_start_matches("vault::")));
    on.backend.put(&profile, &text("hello")).await.unwrap();
    assert_eq!(on.double.names(), std::slice::from_ref(&physical));
    assert_eq!(on.double.secret(&physical).as_deref(), Some("hello"));
    assert_eq!(on.double.content_type(&physical), None, "text is stored as it is");
    // Secrets of other prefixes and of people are not profiles of this backend.
    on.double.set_secret("db-password", "x");
    on.double.set_secret(&format!("team-b-vault--{}", VaultEntryId::new_random()), "x");
    assert_eq!(on.backend.list().await.unwrap(), [profile]);
    on.backend.delete(&profile).await.unwrap();
    assert_eq!(on.double.deleted_names(), [physical], "delete is Key Vault's soft delete");
}

#[tokio::test]
async fn list_follows_key_vaults_pages() {
    let on = OnDouble::start("");
    // Key Vault lists at most 25 secrets per page; 40 profiles take two pages and a nextLink.
    let mut written: Vec<Profile> = (0..40).map(|_| Profile::Entry(VaultEntryId::new_random())).collect();
    for profile in &written {
        on.double.set_secret(&on.backend.physical_name(profile), "x");
    }
    written.sort_unstable();
    assert_eq!(on.backend.list().await.unwrap(), written);
    assert_eq!(on.double.counters().lists, 2, "two pages");
    for profile in &written {
        on.backend.delete(profile).await.unwrap();
    }
    on.finish().await;
}

#[tokio::test]
async fn binary_and_large_values_are_stored_within_key_vaults_limits() {
    let on = OnDouble::start("");
    let binary = Profile::Entry(VaultEntryId::new_random());
    on.backend.put(&binary, &SecretValue::new(SecretBytes::new(vec![0, 255, 128, 7]))).await.unwrap();
    let physical = on.backend.physical_name(&binary);
    assert_eq!(on.double.content_type(&physical).as_deref(), Some("application/octet-stream;base64"));
    assert_eq!(on.double.secret(&physical).as_deref(), Some("AP+ABw=="));

    let large = Profile::Entry(VaultEntryId::new_random());
    let bytes: Vec<u8> = (0..60 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    on.backend.put(&large, &SecretValue::new(SecretBytes::new(bytes.clone()))).await.unwrap();
    let physical = on.backend.physical_name(&large);
    let parts: Vec<String> =
        on.double.names().into_iter().filter(|n| n.starts_with(&format!("{physical}--part-"))).collect();
    assert_eq!(parts.len(), 4, "{parts:?}");
    for name in on.double.names() {
        let stored = on.double.secret(&name).unwrap();
        assert!(stored.len() <= lanyard_testsupport::MAX_VALUE_BYTES, "{name} holds {} bytes", stored.len());
    }
    let read = on.backend.get(&SecretRef::Profile(large)).await.unwrap();
    assert!(read.expose_bytes() == bytes, "the large value differs");
    assert_eq!(on.backend.list().await.unwrap().len(), 2, "parts are not profiles");
    // A smaller large value replaces it: the parts it no longer needs are deleted, no old material stays readable.
    let part_names = |on: &OnDouble| -> Vec<String> {
        on.double.names().into_iter().filter(|n| n.starts_with(&format!("{physical}--part-"))).collect()
    };
    let smaller: Vec<u8> = bytes[..40 * 1024].to_vec();
    on.backend.put(&large, &SecretValue::new(SecretBytes::new(smaller.clone()))).await.unwrap();
    assert_eq!(
        part_names(&on),
        [format!("{physical}--part-1"), format!("{physical}--part-2"), format!("{physical}--part-3")]
    );
    let stale = format!("{physical}--part-4");
    assert_eq!(on.double.deleted_names(), std::slice::from_ref(&stale), "the fourth part is (soft-)deleted");
    let read = on.backend.get(&SecretRef::Profile(large)).await.unwrap();
    assert!(read.expose_bytes() == smaller, "the smaller value differs");
    // A small value replaces the large one: every part goes; deleting removes the secret.
    on.backend.put(&large, &text("small now")).await.unwrap();
    assert_eq!(part_names(&on), Vec::<String>::new(), "no part of the large value is left");
    assert_eq!(utf8(&on.backend.get(&SecretRef::Profile(large)).await.unwrap()), "small now");
    on.backend.delete(&large).await.unwrap();
    on.backend.delete(&binary).await.unwrap();
    assert_eq!(on.double.names(), Vec::<String>::new());
}

#[tokio::test]
async fn linked_names_select_versions_and_the_resolver_selects_fields() {
    let double = AzureKeyVault::start();
    let backend = backend_on(&double, &[]);
    let v1 = double.set_secret("pg-login", r#"{"user":"app","password":"first-canary-pw"}"#);
    let v2 = double.set_secret("pg-login", r#"{"user":"app","password":"second-canary-pw"}"#);
    assert_eq!(v1.len(), 32, "Key Vault versions are 32 hex digits: {v1}");
    assert!(v1.bytes().all(|b| b.is_ascii_hexdigit()));

    let current = backend.get(&external("pg-login")).await.unwrap();
    assert_eq!(current.version(), Some(v2.as_str()));
    let name = ExternalName::parse(&format!("pg-login/{v1}#password")).unwrap();
    assert_eq!((name.locator.as_str(), name.field.as_deref()), (format!("pg-login/{v1}").as_str(), Some("password")));
    let old = backend.get(&external(&name.locator)).await.unwrap();
    assert_eq!(old.version(), Some(v1.as_str()));
    let password = select_json_field(&old, "password", KIND).unwrap();
    assert_eq!(utf8(&password), "first-canary-pw");
    assert_eq!(password.version(), Some(v1.as_str()));
    let current_password = select_json_field(&current, "password", KIND).unwrap();
    assert_eq!(utf8(&current_password), "second-canary-pw");

    let missing_version = backend.get(&external("pg-login/0123456789abcdef0123456789abcdef")).await.unwrap_err();
    assert_eq!(missing_version.kind(), ErrorKind::NotFound, "{missing_version}");
    let illegal = backend.get(&external("pg_login")).await.unwrap_err();
    assert_eq!(illegal.kind(), ErrorKind::ConfigInvalid, "{illegal}");
    assert_clean(&missing_version, &double, &["canary-pw"]);
}

#[tokio::test]
async fn the_first_request_is_challenged_then_a_bearer_token_is_used() {
    let double = AzureKeyVault::start();
    // The service's side of the flow, seen by a plain client: no token, a 401 with the challenge.
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(double.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let response =
        client.get(format!("{}/secrets/anything?api-version=2025-07-01", double.url())).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        challenge,
        format!(
            r#"Bearer authorization="https://login.microsoftonline.com/{}", resource="https://vault.azure.net""#,
            double.tenant_id()
        )
    );
    assert_eq!(double.counters().challenges, 1);

    let backend = backend_on(&double, &[]);
    double.set_secret("challenge-test", "value-1");
    assert_eq!(utf8(&backend.get(&external("challenge-test")).await.unwrap()), "value-1");
    let after_first = double.counters();
    assert_eq!((after_first.challenges, after_first.tokens_issued, after_first.gets), (2, 1, 1), "{after_first:?}");
    assert_eq!(utf8(&backend.get(&external("challenge-test")).await.unwrap()), "value-1");
    let after_second = double.counters();
    assert_eq!(
        (after_second.challenges, after_second.tokens_issued, after_second.gets),
        (2, 1, 2),
        "the second request carries the cached token: {after_second:?}"
    );
    // A token Key Vault no longer accepts is challenged; the SDK answers the challenge once, with the token its
    // credential still caches (until that token expires), so the read is refused: permission denied, not retried.
    double.revoke_tokens();
    let refused = backend.get(&external("challenge-test")).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied, "{refused}");
    assert!(refused.to_string().contains("401 Unauthorized"), "{refused}");
    let after_revoke = double.counters();
    assert_eq!((after_revoke.challenges, after_revoke.tokens_issued), (4, 1), "{after_revoke:?}");
}

#[tokio::test]
async fn a_wrong_client_secret_is_permission_denied_and_never_shown() {
    let double = AzureKeyVault::start();
    let wrong = "wrong-canary-client-secret";
    let backend = backend_on(&double, &[("client_secret", wrong)]);
    double.set_secret("db", "x");
    let error = backend.get(&external("db")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert!(!error.is_temporary());
    assert!(error.to_string().contains("AADSTS7000215"), "Entra ID's error code is quoted: {error}");
    assert_clean(&error, &double, &[wrong]);
    assert_eq!(double.counters().token_failures, 1);

    let report = backend.probe().await.unwrap();
    assert!(!report.passed());
    assert_eq!(report.steps.len(), 1, "the probe stops at the token: {report:?}");
    let outcome = report.steps[0].outcome.clone().unwrap_err();
    assert!(outcome.contains("permission denied") && !outcome.contains(wrong), "{outcome}");

    let unknown_tenant = backend_on(&double, &[("tenant_id", "00000000-0000-0000-0000-00000000beef")]);
    let error = unknown_tenant.get(&external("db")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert!(error.to_string().contains("AADSTS90002"), "{error}");
}

#[tokio::test]
async fn throttling_is_rate_limited_with_the_retry_after_of_the_answer() {
    let double = AzureKeyVault::start();
    let backend = backend_on(&double, &[]);
    double.set_secret("busy", "value");
    assert_eq!(utf8(&backend.get(&external("busy")).await.unwrap()), "value");
    double.throttle(1, Duration::from_secs(7));
    let error = backend.get(&external("busy")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited { retry_after: Some(Duration::from_secs(7)) }, "{error}");
    assert!(error.is_temporary());
    assert!(error.to_string().contains("429 Throttled"), "{error}");
    // No retry inside the SDK: the one 429 reached us, and the next call passes.
    assert_eq!(double.counters().throttled, 1);
    assert_eq!(utf8(&backend.get(&external("busy")).await.unwrap()), "value");
}

#[tokio::test]
async fn key_vault_errors_map_to_kinds() {
    let double = AzureKeyVault::start();
    let backend = backend_on(&double, &[]);
    let missing = backend.get(&external("never-written")).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(missing.to_string().contains("404 SecretNotFound"), "{missing}");
    assert_eq!(missing.target(), Some("never-written"));

    double.set_secret("guarded", "x");
    double.deny_access(true);
    let denied = backend.get(&external("guarded")).await.unwrap_err();
    assert_eq!(denied.kind(), ErrorKind::PermissionDenied, "{denied}");
    assert!(denied.to_string().contains("403 Forbidden"), "{denied}");
    double.deny_access(false);

    double.fail_next(1, 503);
    let down = backend.get(&external("guarded")).await.unwrap_err();
    assert_eq!(down.kind(), ErrorKind::Unavailable, "{down}");

    let version = double.versions("guarded").pop().unwrap();
    double.set_enabled("guarded", &version, false);
    let disabled = backend.get(&external("guarded")).await.unwrap_err();
    assert_eq!(disabled.kind(), ErrorKind::PermissionDenied, "{disabled}");

    for error in [&missing, &denied, &down, &disabled] {
        assert_clean(error, &double, &[]);
    }
}

#[tokio::test]
async fn an_unreachable_vault_is_unavailable() {
    let double = AzureKeyVault::start();
    let backend = backend_on(&double, &[]);
    drop(double);
    let error = backend.get(&external("x")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(error.is_temporary());
}

#[tokio::test]
async fn a_vault_that_does_not_answer_in_time_is_a_timeout() {
    let double = AzureKeyVault::start();
    let backend = backend_on(&double, &[("timeout_ms", "300")]);
    double.set_secret("slow", "x");
    double.stall(Duration::from_secs(3));
    let error = backend.get(&external("slow")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.is_temporary());
    assert_eq!(double.counters().stalled, 1);
    double.clear_faults();
}

#[tokio::test]
async fn the_probe_gets_a_token_then_lists_one_secret() {
    let double = AzureKeyVault::start();
    let backend = backend_on(&double, &[]);
    let report = backend.probe().await.unwrap();
    assert!(report.passed(), "{report:?}");
    let steps: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[0].starts_with("get an Entra ID token for https://vault.azure.net/.default"), "{steps:?}");
    assert!(steps[1].starts_with("list one secret"), "{steps:?}");
    assert_eq!(double.counters().lists, 1);
}

#[tokio::test]
async fn the_ambient_identity_is_the_apps_client_secret_and_debug_hides_it() {
    let double = AzureKeyVault::start();
    let backend = backend_on(&double, &[]);
    let identity = backend.ambient_identity().await.unwrap();
    let exposed: Vec<(&str, &str)> = identity.options.iter_exposed().collect();
    assert_eq!(
        exposed,
        [
            ("client_id", double.client_id()),
            ("client_secret", double.client_secret()),
            ("tenant_id", double.tenant_id())
        ]
    );
    assert!(identity.description.contains(double.client_id()), "{}", identity.description);
    for shown in [format!("{identity:?}"), format!("{backend:?}"), identity.options.to_string()] {
        assert!(!shown.contains(double.client_secret()), "{shown}");
    }
    let cli =
        build(vec![("vault_url".into(), double.url().into()), ("auth_method".into(), "azure_cli".into())]).unwrap();
    let lent: Vec<(String, String)> = cli
        .ambient_identity()
        .await
        .unwrap()
        .options
        .iter_exposed()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    assert_eq!(lent, [("azure_auth".to_owned(), "azure_cli".to_owned())], "other methods name their method");
}
