//! Unit tests that need no AWS: options, physical names, and the error mapping of real SDK calls against a tiny
//! local HTTP server that answers what moto never does (throttling, 5xx, silence).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use lanyard_core::{BackendId, VaultEntryId};

use super::*;

const CANARY_SECRET: &str = "canary-sak-Zq81";
const CANARY_TOKEN: &str = "canary-token-Zq81";

fn backend(options: &[(&str, &str)]) -> Result<AwsBackend> {
    new_backend(BackendId::new_random(), options)
}

fn config_error(options: &[(&str, &str)]) -> String {
    let error = backend(options).expect_err("the options must be rejected");
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    error.to_string()
}

#[test]
fn the_crate_registers_itself() {
    let registry = lanyard_vault::Registry::global().unwrap();
    let factory = registry.factory("AWS").unwrap();
    assert_eq!(factory.crate_name, "lanyard-vault-aws");
    assert!(factory.is_secret_option("secret_access_key") && factory.is_secret_option("session_token"));
    assert!(!factory.is_secret_option("access_key_id") && !factory.is_secret_option("role_arn"));
}

#[test]
fn auth_options_are_checked_together() {
    let keys = [("auth_method", "access_key"), ("access_key_id", "AKIDTEST"), ("secret_access_key", CANARY_SECRET)];
    assert_eq!(backend(&keys).unwrap().config().auth_method(), AuthMethod::AccessKey);
    assert_eq!(backend(&[]).unwrap().config().auth_method(), AuthMethod::DefaultChain);
    let role = [("auth_method", "ASSUME_ROLE"), ("role_arn", "arn:aws:iam::123456789012:role/r"), ("external_id", "x")];
    assert_eq!(backend(&role).unwrap().config().auth_method(), AuthMethod::AssumeRole);

    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("auth_method", "access_key")], "auth_method = 'access_key' needs the options"),
        (&[("auth_method", "access_key"), ("access_key_id", "A")], "go together: give both"),
        (&[("secret_access_key", CANARY_SECRET)], "go together: give both"),
        (
            &[("access_key_id", "A"), ("secret_access_key", CANARY_SECRET)],
            "are not used with auth_method = 'default_chain'",
        ),
        (&[("auth_method", "assume_role")], "auth_method = 'assume_role' needs the option \"role_arn\""),
        (&[("role_arn", "arn:aws:iam::1:role/r")], "are used only with auth_method = 'assume_role'"),
        (
            &[("auth_method", "access_key"), ("access_key_id", "A"), ("secret_access_key", "B"), ("external_id", "e")],
            "external_id are used only with auth_method = 'assume_role', not 'access_key'",
        ),
        (&[("auth_method", "sso")], "option \"auth_method\" must be one of default_chain, access_key, assume_role"),
        (&[("session_token", CANARY_TOKEN), ("auth_method", "access_key")], "needs \"access_key_id\""),
        (&[("endpoint_url", "127.0.0.1:5000")], "option \"endpoint_url\" must be an http:// or https:// URL"),
        (&[("region", "EU West")], "option \"region\" must be an AWS region"),
        (&[("secrets_manager_prefix", "team a/")], "may hold only A-Za-z0-9/_+=.@-"),
        (&[("region", "")], "option \"region\" must not be empty"),
        (&[("timeout_ms", "0")], "option \"timeout_ms\" must be at least 1"),
    ];
    for (options, expected) in cases {
        let error = config_error(options);
        assert!(error.contains(expected), "{options:?}: {error}");
        assert!(!error.contains(CANARY_SECRET) && !error.contains(CANARY_TOKEN), "{error}");
    }
}

#[test]
fn debug_leaves_out_the_secret_options() {
    let backend = backend(&[
        ("auth_method", "access_key"),
        ("access_key_id", "AKIDTEST"),
        ("secret_access_key", CANARY_SECRET),
        ("session_token", CANARY_TOKEN),
        ("region", "eu-west-1"),
    ])
    .unwrap();
    let debug = format!("{backend:?}");
    assert!(debug.contains("AKIDTEST") && debug.contains("eu-west-1"), "{debug}");
    assert!(!debug.contains(CANARY_SECRET) && !debug.contains(CANARY_TOKEN), "{debug}");
}

#[test]
fn physical_names_are_legal_aws_names_under_the_prefix_and_parse_back() {
    let backend = backend(&[("secrets_manager_prefix", "team-a/prod/")]).unwrap();
    let entry = Profile::Entry(VaultEntryId::new_random());
    let own = Profile::Backend(BackendId::new_random());
    for profile in [entry, own] {
        let name = backend.physical_name(&profile);
        assert!(name.starts_with("team-a/prod/"), "{name}");
        assert!(name.chars().all(is_name_char), "{name}");
        assert_eq!(backend.profile_of(&name), Some(profile));
    }
    assert!(backend.physical_name(&entry).starts_with("team-a/prod/vault/"));
    assert!(backend.physical_name(&own).starts_with("team-a/prod/backend/"));
    assert_eq!(backend.profile_of("team-a/prod/vault/not-a-uuid"), None);
    assert_eq!(backend.profile_of("other/vault/00000000-0000-0000-0000-000000000000"), None);
    let default = self::backend(&[]).unwrap();
    assert!(default.physical_name(&entry).starts_with(DEFAULT_PREFIX));
}

/// A local HTTP server that answers every request with `status`, `headers` and `body` (or never, when `hang`),
/// counting requests.
struct Answering {
    url: String,
    requests: Arc<AtomicUsize>,
    _server: tokio::task::JoinHandle<()>,
}

async fn answering(status: u16, headers: &[(&'static str, &'static str)], body: &'static str, hang: bool) -> Answering {
    let requests = Arc::new(AtomicUsize::new(0));
    let mut header_map = HeaderMap::new();
    header_map.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    for (name, value) in headers {
        header_map.insert(*name, HeaderValue::from_static(value));
    }
    let counter = Arc::clone(&requests);
    let handler = move || {
        let counter = Arc::clone(&counter);
        let header_map = header_map.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            if hang {
                std::future::pending::<()>().await;
            }
            (StatusCode::from_u16(status).unwrap(), header_map, body)
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Answering { url, requests, _server: server }
}

fn against(url: &str, timeout_ms: &str) -> AwsBackend {
    backend(&[
        ("endpoint_url", url),
        ("region", "us-east-1"),
        ("auth_method", "access_key"),
        ("access_key_id", "AKIDTEST"),
        ("secret_access_key", CANARY_SECRET),
        ("session_token", CANARY_TOKEN),
        ("timeout_ms", timeout_ms),
    ])
    .unwrap()
}

async fn read_error(backend: &AwsBackend) -> VaultError {
    let error = backend.get(&SecretRef::External("prod/db".into())).await.expect_err("the read must fail");
    let text = format!("{error} {error:?}");
    assert!(!text.contains(CANARY_SECRET) && !text.contains(CANARY_TOKEN), "{text}");
    assert_eq!(error.target(), Some("prod/db"), "{error}");
    error
}

#[tokio::test]
async fn throttling_exception_is_rate_limited_with_retry_after_and_not_retried_by_the_sdk() {
    let server =
        answering(400, &[("retry-after", "2")], r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#, false)
            .await;
    let error = read_error(&against(&server.url, "5000")).await;
    assert_eq!(error.kind(), ErrorKind::RateLimited { retry_after: Some(Duration::from_secs(2)) }, "{error}");
    assert!(error.to_string().contains("ThrottlingException: Rate exceeded (HTTP 400)"), "{error}");
    assert_eq!(server.requests.load(Ordering::SeqCst), 1, "the SDK's own retries are off");
}

#[tokio::test]
async fn http_429_without_a_code_is_rate_limited() {
    let server = answering(429, &[], "{}", false).await;
    let error = read_error(&against(&server.url, "5000")).await;
    assert_eq!(error.kind(), ErrorKind::RateLimited { retry_after: None }, "{error}");
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    let server = answering(500, &[], r#"{"__type":"InternalServiceError","message":"try again"}"#, false).await;
    let error = read_error(&against(&server.url, "5000")).await;
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    let bare = answering(503, &[], "", false).await;
    assert_eq!(read_error(&against(&bare.url, "5000")).await.kind(), ErrorKind::Unavailable);
}

#[tokio::test]
async fn denied_and_not_found_answers_keep_their_kind() {
    let denied = answering(
        400,
        &[],
        r#"{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}"#,
        false,
    )
    .await;
    assert_eq!(read_error(&against(&denied.url, "5000")).await.kind(), ErrorKind::PermissionDenied);
    let missing = answering(
        400,
        &[],
        r#"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#,
        false,
    )
    .await;
    assert_eq!(read_error(&against(&missing.url, "5000")).await.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = read_error(&against(&url, "5000")).await;
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(error.to_string().contains("cannot reach AWS"), "{error}");
}

#[tokio::test]
async fn a_silent_server_times_out_within_timeout_ms() {
    let server = answering(200, &[], "{}", true).await;
    let started = std::time::Instant::now();
    let error = read_error(&against(&server.url, "300")).await;
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn ambient_identity_lends_the_static_keys_under_the_s3_connectors_names() {
    let backend = against("http://127.0.0.1:9", "5000");
    let identity = backend.ambient_identity().await.unwrap();
    let options: Vec<(&str, &str)> = identity.options.iter_exposed().collect();
    assert_eq!(
        options,
        [("access_key_id", "AKIDTEST"), ("secret_access_key", CANARY_SECRET), ("session_token", CANARY_TOKEN)]
    );
    assert_eq!(identity.backend_kind, "aws");
    let shown = format!("{identity:?} {}", identity.description);
    assert!(!shown.contains(CANARY_SECRET) && !shown.contains(CANARY_TOKEN), "{shown}");
}
