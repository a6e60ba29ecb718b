//! Tests against a real OpenBao: the shared dev server `cargo xtask test` starts (unique prefixes, mounts, roles
//! and namespaces keep tests apart), and private ones for sealing and stopping. Without `cargo xtask test` they
//! fail loudly.

use std::time::Duration;

use lanyard_core::{BackendId, SecretString, VaultEntryId};
use lanyard_testsupport::{BaoApi, PrivateBao, shared_bao, unique_name};
use lanyard_vault::{
    BackendConfig, BackendEnv, ErrorKind, Profile, Registry, SecretRef, SecretValue, VaultBackend, select_json_field,
};
use serde_json::json;

use crate::{AuthStats, HashicorpBackend, KIND};

/// Builds the backend through the registry's option validation, as the Control Plane does.
fn build(options: &[(&str, &str)]) -> lanyard_vault::Result<HashicorpBackend> {
    let factory = Registry::global().expect("registry").factory(KIND)?;
    let options = factory.validate(options.iter().copied())?;
    HashicorpBackend::new(&BackendConfig {
        backend_id: BackendId::new_random(),
        name: "test".into(),
        options,
        env: BackendEnv::default(),
    })
}

/// A backend on the shared OpenBao with its root token, under a prefix of its own in the dev server's `secret/`.
fn root_backend() -> HashicorpBackend {
    let bao = shared_bao();
    let prefix = unique_name("lanyard-t-");
    build(&[("address", bao.url()), ("token", bao.token()), ("prefix", &prefix)]).expect("build")
}

fn text(value: &SecretValue) -> String {
    String::from_utf8(value.expose_bytes().to_vec()).expect("UTF-8")
}

async fn external(backend: &dyn VaultBackend, name: &str) -> lanyard_vault::Result<SecretValue> {
    backend.get(&SecretRef::External(name.to_owned())).await
}

fn fresh_profile() -> Profile {
    Profile::Entry(VaultEntryId::new_random())
}

lanyard_vault::behaviour_tests!(mod behaviour: [store, link] => root_backend());

#[test]
fn the_crate_registers_itself_with_its_options() {
    let registry = Registry::global().expect("registry");
    let factory = registry.factory("HASHICORP").unwrap();
    assert_eq!(factory.crate_name, "lanyard-vault-hashicorp");
    for secret in ["token", "secret_id"] {
        assert!(factory.is_secret_option(secret), "{secret}");
    }
    for plain in ["address", "mount", "namespace", "prefix", "auth_method", "role_id", "ca_cert"] {
        assert!(factory.option(plain).is_some_and(|spec| !spec.secret), "{plain}");
    }
}

#[test]
fn options_are_checked_without_quoting_secrets() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("address", "vault.local:8200"), ("token", "t")], "must be an http:// or https:// URL"),
        (&[("address", "http://127.0.0.1:1")], "auth_method token needs the option \"token\""),
        (&[("address", "http://127.0.0.1:1"), ("auth_method", "ldap"), ("token", "t")], "must be token or approle"),
        (&[("address", "http://127.0.0.1:1"), ("auth_method", "approle"), ("role_id", "r")], "needs the options"),
        (
            &[("address", "http://127.0.0.1:1"), ("auth_method", "approle"), ("token", "canary-tok")],
            "is for auth_method token",
        ),
        (&[("address", "http://127.0.0.1:1"), ("token", "t"), ("mount", "a/../b")], "option \"mount\""),
        (&[("address", "http://127.0.0.1:1"), ("token", "t"), ("ca_cert", "/nonexistent.pem")], "cannot read"),
        (&[("address", "http://127.0.0.1:1"), ("token", "t"), ("region", "x")], "unknown option \"region\""),
    ];
    for (options, expected) in cases {
        let error = build(options).expect_err("invalid options");
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
        assert!(error.to_string().contains(expected), "{error} (expected {expected:?})");
        assert!(!error.to_string().contains("canary-tok"), "{error}");
    }
    let backend = build(&[
        ("address", "http://127.0.0.1:1/"),
        ("auth_method", "approle"),
        ("role_id", "role-1"),
        ("secret_id", "canary-secret-id"),
        ("prefix", "/team/a/"),
    ])
    .unwrap();
    let debug = format!("{backend:?}");
    assert!(debug.contains("role-1") && debug.contains("team/a/") && !debug.contains("canary"), "{debug}");
    let id = VaultEntryId::new_random();
    assert_eq!(backend.physical_name(&Profile::Entry(id)), format!("team/a/vault/{id}"));
}

#[tokio::test]
async fn stored_profiles_report_kv_versions() {
    let backend = root_backend();
    let profile = fresh_profile();
    for (round, value) in ["one", "two", "three"].into_iter().enumerate() {
        backend.put(&profile, &SecretValue::from(SecretString::new(value))).await.unwrap();
        let read = backend.get(&SecretRef::Profile(profile)).await.unwrap();
        assert_eq!((text(&read).as_str(), read.version()), (value, Some((round + 1).to_string().as_str())));
    }
    // Stored as one base64 field of a KV v2 secret at <prefix>/vault/<uuid> in `secret/`.
    let raw = shared_bao().must("GET", &format!("secret/data/{}", backend.physical_name(&profile)), None);
    assert_eq!(raw["data"]["data"], json!({ "material_b64": "dGhyZWU=" }), "{raw}");
    backend.delete(&profile).await.unwrap();
}

#[tokio::test]
async fn linked_secrets_read_the_kv_data_object_at_a_version() {
    let bao = shared_bao();
    let backend = root_backend();
    let path = unique_name("apps/t-");
    bao.kv_put("secret", &path, &json!({ "username": "app", "password": "first" }));
    bao.kv_put("secret", &path, &json!({ "username": "app", "password": "second", "port": 5432 }));

    let current = external(&backend, &path).await.unwrap();
    assert_eq!(current.version(), Some("2"));
    assert_eq!(text(&select_json_field(&current, "password", KIND).unwrap()), "second");
    assert_eq!(text(&select_json_field(&current, "port", KIND).unwrap()), "5432");
    let first = external(&backend, &format!("{path}?version=1")).await.unwrap();
    assert_eq!(first.version(), Some("1"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text(&first)).unwrap(),
        json!({ "username": "app", "password": "first" })
    );
    // A leading slash is the same path; the prefix does not apply to links.
    assert_eq!(external(&backend, &format!("/{path}")).await.unwrap().version(), Some("2"));

    for (name, kind) in [
        (format!("{path}?version=9"), ErrorKind::NotFound),
        (unique_name("apps/missing-"), ErrorKind::NotFound),
        (format!("{path}?version=x"), ErrorKind::ConfigInvalid),
        (format!("{path}?stage=old"), ErrorKind::ConfigInvalid),
        ("a/../b".to_owned(), ErrorKind::ConfigInvalid),
    ] {
        let error = external(&backend, &name).await.expect_err(&name);
        assert_eq!(error.kind(), kind, "{name}: {error}");
        assert!(!error.to_string().contains("second"), "{error}");
    }
}

#[tokio::test]
async fn a_mount_that_does_not_exist_is_a_configuration_error() {
    let bao = shared_bao();
    let backend = build(&[("address", bao.url()), ("token", bao.token()), ("mount", "no-such-mount")]).unwrap();
    let error = backend.get(&SecretRef::Profile(fresh_profile())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
}

/// An AppRole on the shared server whose policy allows `prefix` in `secret/`, with tokens living `ttl_secs`.
fn approle_backend(bao: &BaoApi, prefix: &str, ttl_secs: u64) -> (HashicorpBackend, lanyard_testsupport::AppRole) {
    let policy = unique_name("lanyard-t-");
    bao.put_policy(&policy, &BaoApi::kv_policy("secret", &format!("{prefix}/")));
    let role = bao.create_approle(&unique_name("lanyard-t-"), &[&policy], ttl_secs);
    let backend = build(&[
        ("address", bao.url()),
        ("auth_method", "approle"),
        ("role_id", &role.role_id),
        ("secret_id", &role.secret_id),
        ("prefix", prefix),
    ])
    .unwrap();
    (backend, role)
}

/// Revokes every token AppRole issued for `role` (found through their accessors, as an operator would).
fn revoke_tokens_of_role(bao: &BaoApi, role: &str) -> usize {
    let accessors = bao.must("LIST", "auth/token/accessors", None);
    let mut revoked = 0;
    for accessor in accessors["data"]["keys"].as_array().expect("accessors") {
        let accessor = accessor.as_str().unwrap();
        let (status, info) = bao.call("POST", "auth/token/lookup-accessor", Some(&json!({ "accessor": accessor })));
        if status == 200 && info["data"]["meta"]["role_name"] == role {
            bao.must("POST", "auth/token/revoke-accessor", Some(&json!({ "accessor": accessor })));
            revoked += 1;
        }
    }
    revoked
}

#[tokio::test]
async fn approle_logs_in_once_and_again_once_after_its_token_is_revoked() {
    let bao = shared_bao();
    let prefix = unique_name("lanyard-t-");
    let (backend, role) = approle_backend(&bao, &prefix, 600);
    let profile = fresh_profile();
    backend.put(&profile, &SecretValue::from(SecretString::new("v1"))).await.unwrap();
    assert_eq!(text(&backend.get(&SecretRef::Profile(profile)).await.unwrap()), "v1");
    assert_eq!(backend.auth_stats(), AuthStats { logins: 1, renewals: 0, forced_relogins: 0, renewal_failures: 0 });

    assert_eq!(revoke_tokens_of_role(&bao, &role.role), 1);
    // The cached token is refused (403): one new login, one retry, and the read succeeds.
    assert_eq!(text(&backend.get(&SecretRef::Profile(profile)).await.unwrap()), "v1");
    assert_eq!(backend.auth_stats(), AuthStats { logins: 2, renewals: 0, forced_relogins: 1, renewal_failures: 0 });

    // Outside its policy: 403 again after the one re-login; permission denied, not retried further.
    let outside = build(&[
        ("address", bao.url()),
        ("auth_method", "approle"),
        ("role_id", &role.role_id),
        ("secret_id", &role.secret_id),
        ("prefix", &unique_name("elsewhere-")),
    ])
    .unwrap();
    let error = outside.get(&SecretRef::Profile(profile)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert_eq!(outside.auth_stats(), AuthStats { logins: 2, renewals: 0, forced_relogins: 1, renewal_failures: 0 });
    assert!(!error.to_string().contains(&role.secret_id));

    // A wrong secret_id: the login is refused; permission denied, and the secret_id is quoted nowhere.
    let wrong = build(&[
        ("address", bao.url()),
        ("auth_method", "approle"),
        ("role_id", &role.role_id),
        ("secret_id", "canary-wrong-secret-id"),
        ("prefix", &prefix),
    ])
    .unwrap();
    let error = wrong.get(&SecretRef::Profile(profile)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert!(error.to_string().contains("approle login"), "{error}");
    assert!(!format!("{error} {error:?} {wrong:?}").contains("canary"), "{error}");
    backend.delete(&profile).await.unwrap();
}

#[tokio::test]
async fn approle_tokens_are_renewed_before_their_ttl_ends() {
    let bao = shared_bao();
    let prefix = unique_name("lanyard-t-");
    // Tokens live 6 s (renewable up to 60 s): renewal is due after 4 s, 2 s before the token expires.
    let (backend, _role) = approle_backend(&bao, &prefix, 6);
    let profile = fresh_profile();
    backend.put(&profile, &SecretValue::from(SecretString::new("steady"))).await.unwrap();
    // Read until the token has been renewed twice (about 8 s), with a bound far beyond that for a loaded machine
    // but within the max TTL (past it the token could not be renewed any more). Every read succeeds.
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    while backend.auth_stats().renewals < 2 {
        assert!(std::time::Instant::now() < deadline, "no second renewal within 45 s: {:?}", backend.auth_stats());
        assert_eq!(text(&backend.get(&SecretRef::Profile(profile)).await.unwrap()), "steady");
        tokio::time::sleep(Duration::from_millis(200)).await; // pacing, not synchronisation: the loop waits on the counter
    }
    // A successful renew-self proves the token was renewed before it expired. A stall longer than the 2 s margin
    // may still let one expire; the backend must then have noticed (a failed renewal, or a 403 forcing a login),
    // and every login is accounted for by one of those.
    let stats = backend.auth_stats();
    assert_eq!(stats.logins, 1 + stats.forced_relogins + stats.renewal_failures, "{stats:?}");
    backend.delete(&profile).await.unwrap();
}

#[tokio::test]
async fn a_missing_approle_mount_is_a_configuration_error() {
    // A namespace of its own has no AppRole enabled: OpenBao answers the anonymous login 403 permission denied.
    let bao = shared_bao();
    let namespace = unique_name("lanyard-t-");
    bao.create_namespace(&namespace);
    let backend = build(&[
        ("address", bao.url()),
        ("namespace", &namespace),
        ("auth_method", "approle"),
        ("role_id", "some-role"),
        ("secret_id", "canary-secret-id"),
    ])
    .unwrap();
    let error = backend.get(&SecretRef::Profile(fresh_profile())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    let expected = format!("no AppRole auth method is enabled at \"approle/\" in namespace \"{namespace}\"");
    assert!(error.to_string().contains(&expected), "{error}");
    assert!(!format!("{error} {error:?}").contains("canary"), "{error}");
    assert!(!backend.probe().await.unwrap().passed());

    // A server that routes the login answers 404 no handler for route.
    let unrouted = stub("404 Not Found", "", "no handler for route auth/approle/login. route entry not found.");
    let backend = build(&[
        ("address", &unrouted),
        ("auth_method", "approle"),
        ("role_id", "some-role"),
        ("secret_id", "canary-secret-id"),
    ])
    .unwrap();
    let error = backend.get(&SecretRef::Profile(fresh_profile())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    assert!(error.to_string().contains("no AppRole auth method is enabled at \"approle/\" (the server"), "{error}");

    // Where AppRole is enabled, a wrong secret_id is still the identity refused.
    let role = bao.create_approle(&unique_name("lanyard-t-"), &["default"], 600);
    let wrong = build(&[
        ("address", bao.url()),
        ("auth_method", "approle"),
        ("role_id", &role.role_id),
        ("secret_id", "canary-wrong-secret-id"),
    ])
    .unwrap();
    assert_eq!(wrong.get(&SecretRef::Profile(fresh_profile())).await.unwrap_err().kind(), ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn the_probe_reads_the_mount_which_a_read_only_policy_may_do() {
    let bao = shared_bao();
    // Only read on some linked secrets: no list anywhere, nothing under the prefix.
    let policy = unique_name("lanyard-t-");
    let apps = unique_name("apps-t-");
    bao.put_policy(&policy, &format!("path \"secret/data/{apps}/*\" {{ capabilities = [\"read\"] }}\n"));
    let token = bao.create_token(&[&policy], 600);
    let backend = build(&[("address", bao.url()), ("token", &token)]).unwrap();
    let report = backend.probe().await.unwrap();
    assert!(report.passed(), "{report:?}");
    let steps: Vec<&str> = report.steps.iter().map(|step| step.step.as_str()).collect();
    assert_eq!(steps, ["token lookup-self", "read mount secret/"]);

    // A mount the token has nothing under (or that does not exist) is refused.
    let elsewhere = build(&[("address", bao.url()), ("token", &token), ("mount", "no-such-mount")]).unwrap();
    let report = elsewhere.probe().await.unwrap();
    let outcome = report.steps[1].outcome.as_ref().unwrap_err();
    assert!(outcome.contains("permission denied") && outcome.contains("403"), "{outcome}");

    // A KV version 1 mount, or another engine, fails the step and says so.
    let kv1 = unique_name("kv1-t-");
    bao.must("POST", &format!("sys/mounts/{kv1}"), Some(&json!({ "type": "kv", "options": { "version": "1" } })));
    let transit = unique_name("transit-t-");
    bao.must("POST", &format!("sys/mounts/{transit}"), Some(&json!({ "type": "transit" })));
    for (mount, what) in
        [(&kv1, "is KV version 1".to_owned()), (&transit, "is a \"transit\" secrets engine".to_owned())]
    {
        let backend = build(&[("address", bao.url()), ("token", bao.token()), ("mount", mount)]).unwrap();
        let report = backend.probe().await.unwrap();
        assert!(!report.passed(), "{report:?}");
        let outcome = report.steps[1].outcome.as_ref().unwrap_err();
        let expected = format!("the mount \"{mount}/\" {what}, not a KV version 2 secrets engine");
        assert!(outcome.contains("invalid configuration"), "{outcome}");
        assert!(outcome.contains(&expected), "{outcome}");
    }
}

#[tokio::test]
async fn a_namespace_is_sent_on_every_request() {
    let bao = shared_bao();
    let namespace = unique_name("lanyard-t-");
    bao.create_namespace(&namespace);
    let in_namespace = bao.in_namespace(&namespace);
    in_namespace.enable_kv2("secret");
    in_namespace.kv_put("secret", "app/db", &json!({ "password": "in-namespace" }));
    // AppRole inside the namespace, too.
    in_namespace.put_policy("kv", &BaoApi::kv_policy("secret", "app/"));
    let role = in_namespace.create_approle("app", &["kv"], 600);

    let token_backend = build(&[("address", bao.url()), ("token", bao.token()), ("namespace", &namespace)]).unwrap();
    let read = external(&token_backend, "app/db").await.unwrap();
    assert_eq!(text(&select_json_field(&read, "password", KIND).unwrap()), "in-namespace");
    let approle_backend = build(&[
        ("address", bao.url()),
        ("namespace", &namespace),
        ("auth_method", "approle"),
        ("role_id", &role.role_id),
        ("secret_id", &role.secret_id),
    ])
    .unwrap();
    assert_eq!(external(&approle_backend, "app/db").await.unwrap().version(), Some("1"));
    // Without the namespace the path is not there.
    let root = build(&[("address", bao.url()), ("token", bao.token())]).unwrap();
    assert_eq!(external(&root, "app/db").await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn a_revoked_token_is_permission_denied_and_permanent() {
    let bao = shared_bao();
    let prefix = unique_name("lanyard-t-");
    let policy = unique_name("lanyard-t-");
    bao.put_policy(&policy, &BaoApi::kv_policy("secret", &format!("{prefix}/")));
    let token = bao.create_token(&[&policy], 600);
    let backend = build(&[("address", bao.url()), ("token", &token), ("prefix", &prefix)]).unwrap();
    let profile = fresh_profile();
    backend.put(&profile, &SecretValue::from(SecretString::new("x"))).await.unwrap();
    assert!(backend.probe().await.unwrap().passed());
    bao.revoke_token(&token);
    let error = backend.get(&SecretRef::Profile(profile)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert!(!error.is_temporary());
    assert!(!format!("{error} {error:?} {backend:?}").contains(&token), "the token leaked");
    let report = backend.probe().await.unwrap();
    assert!(!report.passed());
    assert_eq!(report.steps.len(), 1, "the probe stops at the lookup: {report:?}");
    assert_eq!(report.steps[0].step, "token lookup-self");
    assert_eq!(backend.auth_stats(), AuthStats::default(), "token auth never logs in");
    shared_bao().must("DELETE", &format!("secret/metadata/{}", backend.physical_name(&profile)), None);
}

#[tokio::test]
async fn a_sealed_server_is_unavailable_and_temporary() {
    let bao = PrivateBao::start();
    let backend = build(&[("address", bao.url()), ("token", bao.root_token())]).unwrap();
    let profile = fresh_profile();
    backend.put(&profile, &SecretValue::from(SecretString::new("before the seal"))).await.unwrap();
    bao.seal();
    let error = backend.get(&SecretRef::Profile(profile)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(error.is_temporary());
    assert!(error.to_string().contains("503") && error.to_string().contains("sealed"), "{error}");
    let report = backend.probe().await.unwrap();
    assert!(!report.passed(), "{report:?}");
}

#[tokio::test]
async fn a_stopped_server_is_unavailable_and_a_silent_one_times_out() {
    let mut bao = PrivateBao::start();
    let backend = build(&[("address", bao.url()), ("token", bao.root_token())]).unwrap();
    bao.stop();
    let error = backend.get(&SecretRef::Profile(fresh_profile())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(error.is_temporary());

    // A listener that never answers: the request times out after timeout_ms.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", silent.local_addr().unwrap());
    let backend = build(&[("address", &address), ("token", "t"), ("timeout_ms", "300")]).unwrap();
    let started = std::time::Instant::now();
    let error = backend.get(&SecretRef::Profile(fresh_profile())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

/// A one-shot HTTP server on 127.0.0.1 answering every request with `status` and a Vault error document; its URL.
fn stub(status: &'static str, extra_headers: &'static str, message: &'static str) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let body = format!("{{\"errors\":[\"{message}\"]}}");
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{extra_headers}Content-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[tokio::test]
async fn throttling_and_standby_answers_are_temporary_kinds() {
    // Vault's rate-limit quotas answer 429 with Retry-After: reads honour it; the other operations go through
    // vaultrs, which passes no headers on, so there the delay is unknown and the resolver's own backoff applies.
    let throttled = stub("429 Too Many Requests", "Retry-After: 2\r\n", "request path kv: rate limit quota exceeded");
    let backend = build(&[("address", &throttled), ("token", "t")]).unwrap();
    let error = backend.get(&SecretRef::Profile(fresh_profile())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited { retry_after: Some(Duration::from_secs(2)) }, "{error}");
    assert!(error.is_temporary() && error.to_string().contains("rate limit quota exceeded"), "{error}");
    let error = backend.list().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited { retry_after: None }, "{error}");

    let standby = stub("503 Service Unavailable", "", "Vault is sealed");
    let backend = build(&[("address", &standby), ("token", "t")]).unwrap();
    let error = backend.get(&SecretRef::Profile(fresh_profile())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");

    let bad = stub("400 Bad Request", "", "invalid request");
    let backend = build(&[("address", &bad), ("token", "t")]).unwrap();
    let error = backend.get(&SecretRef::Profile(fresh_profile())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
}

#[tokio::test]
async fn an_https_server_is_trusted_through_ca_cert_only() {
    let bao = PrivateBao::start_tls();
    let ca = bao.ca_cert().expect("a TLS server has a CA").to_str().unwrap().to_owned();
    assert!(bao.url().starts_with("https://127.0.0.1:"), "{}", bao.url());
    let trusted = build(&[("address", bao.url()), ("token", bao.root_token()), ("ca_cert", &ca)]).unwrap();
    let profile = fresh_profile();
    trusted.put(&profile, &SecretValue::from(SecretString::new("over tls"))).await.unwrap();
    assert_eq!(text(&trusted.get(&SecretRef::Profile(profile)).await.unwrap()), "over tls");
    assert!(trusted.probe().await.unwrap().passed());

    // Without the CA the certificate is not trusted: unavailable, and the cause says so.
    let untrusted = build(&[("address", bao.url()), ("token", bao.root_token())]).unwrap();
    let error = untrusted.get(&SecretRef::Profile(profile)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(error.to_string().to_lowercase().contains("certificate"), "{error}");
}
