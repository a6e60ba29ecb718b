//! The probes and connect helpers against real systems on 127.0.0.1: PostgreSQL (5432, user `postgres`), MariaDB
//! (3306, `root` without a password), HTTP servers and an S3-shaped listing served by the test itself, local
//! directories, and lanyard-testsupport's SFTP server double. Connections are resolved the way TEST CONNECTION
//! resolves them: through a `Resolver` over a `StaticCatalog`, with the credential in a memory backend. Links (TEST LINK) go the same way, with SingleStore's
//! CONFIG and CREDENTIALS keys. A database that is not running fails these tests.

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use lanyard_connectors::{ConnectError, ProbeResult};
use lanyard_core::{ConnectionId, LinkType};
use lanyard_testsupport::{SftpAttempt, SftpServer, SshKeyPair};
use serde_json::json;

mod common;

use common::World;

const CANARY: &str = "canary-9fQ2/probe+secret";

/// What only the probes need of the world.
trait Probes {
    /// Adds a link and probes it, as TEST LINK does.
    async fn probe_link(
        &self,
        link_type: LinkType,
        config: serde_json::Value,
        credentials: Option<serde_json::Value>,
    ) -> ProbeResult;

    /// Adds a connection and probes it, as TEST CONNECTION does.
    async fn probe(&self, kind: &str, options: &[(&str, &str)], secret: Option<&str>) -> ProbeResult;
}

impl Probes for World {
    async fn probe_link(
        &self,
        link_type: LinkType,
        config: serde_json::Value,
        credentials: Option<serde_json::Value>,
    ) -> ProbeResult {
        let (id, _) = self.link(link_type, config, credentials).await;
        let resolved = self.resolver.resolve(id).await.expect("resolves");
        let result = lanyard_connectors::probe(&resolved).await;
        if let Some(error) = &result.error {
            assert!(!error.contains(CANARY), "the reason leaks the canary: {error}");
        }
        result
    }

    /// Adds a connection and probes it, as TEST CONNECTION does.
    async fn probe(&self, kind: &str, options: &[(&str, &str)], secret: Option<&str>) -> ProbeResult {
        let id = self.connection(kind, options, secret).await;
        let resolved = self.resolver.resolve(id).await.expect("resolves");
        let result = lanyard_connectors::probe(&resolved).await;
        if let Some(error) = &result.error {
            assert!(!error.contains(CANARY), "the reason leaks the canary: {error}");
        }
        result
    }
}

fn failed(result: &ProbeResult) -> &str {
    assert!(!result.passed && !result.unsupported, "expected a failure, got {result:?}");
    result.error.as_deref().expect("a failure has a reason")
}

/// The notice of a probe that found no probe for its type.
fn unsupported(result: &ProbeResult) -> &str {
    assert!(!result.passed && result.unsupported, "expected no probe, got {result:?}");
    assert_eq!(result.status(), lanyard_core::TestStatus::Unsupported);
    result.error.as_deref().expect("an unsupported probe says what is missing")
}

#[track_caller]
fn assert_passed(result: &ProbeResult) {
    assert!(result.passed, "expected a pass, got {result:?}");
    assert_eq!(result.error, None);
}

/// Serves `router` on a free port of 127.0.0.1; its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

// ---------------------------------------------------------------------------------------------------------
// local

#[tokio::test]
async fn local_passes_on_an_existing_directory_and_fails_on_a_missing_one() {
    let world = World::new("connectors");
    let dir = std::env::temp_dir().join(format!("lanyard-connectors-{}", ConnectionId::new_random()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/a.txt"), b"a").unwrap();
    let path = dir.to_str().unwrap();
    assert_passed(&world.probe("local", &[("path", path)], None).await);
    // An empty directory passes too.
    assert_passed(&world.probe("LOCAL", &[("path", dir.join("sub/").to_str().unwrap())], None).await);

    let missing = dir.join("missing");
    let result = world.probe("local", &[("path", missing.to_str().unwrap())], None).await;
    let reason = failed(&result);
    assert!(
        reason.starts_with(&format!("local path {:?} is not an existing directory: ", missing.to_str().unwrap())),
        "{reason}"
    );
    let file = world.probe("local", &[("path", dir.join("sub/a.txt").to_str().unwrap())], None).await;
    assert!(failed(&file).ends_with("is not a directory"), "{file:?}");
    assert_eq!(failed(&world.probe("local", &[], None).await), r#"option "path" is required for type "local""#);

    // The helper returns a store rooted at the path.
    let id = world.connection("local", &[("path", path)], None).await;
    let store = lanyard_connectors::object_store(&world.resolver, id).await.unwrap();
    use lanyard_connectors::object_store_crate::ObjectStoreExt as _;
    let meta = store.head(&"sub/a.txt".into()).await.unwrap();
    assert_eq!(meta.size, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------------------
// rest and git

const TOKEN: &str = "canary-9fQ2/probe+secret";

/// An API that wants `Bearer <TOKEN>` on `/health`, POST on `/submit` (201), `X-Api-Key` + `X-Tenant` on
/// `/headers`; its 401 echoes the Authorization header in the body, as careless servers do.
fn api() -> Router {
    async fn health(headers: HeaderMap) -> impl IntoResponse {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if auth == format!("Bearer {TOKEN}") {
            ([(header::SERVER, "test-api/1.2")], "ok").into_response()
        } else {
            (StatusCode::UNAUTHORIZED, format!("bad credentials: {auth}")).into_response()
        }
    }
    async fn submit() -> impl IntoResponse {
        StatusCode::CREATED
    }
    async fn with_headers(headers: HeaderMap) -> StatusCode {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if get("x-api-key").as_deref() == Some(TOKEN) && get("x-tenant").as_deref() == Some("acme") {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        }
    }
    Router::new()
        .route("/health", get(health))
        .route("/submit", post(submit))
        .route("/headers", get(with_headers))
        .route("/api/user", get(health))
}

#[tokio::test]
async fn rest_checks_method_expected_status_and_credentials() {
    let world = World::new("connectors");
    let base = serve(api()).await;
    let health = format!("{base}/health");

    // A plain credential is a bearer token; the Server header is the version.
    let ok = world.probe("rest", &[("endpoint", &health)], Some(TOKEN)).await;
    assert_passed(&ok);
    assert_eq!(ok.server_version.as_deref(), Some("test-api/1.2"));

    // A wrong token: the status is the reason, and the body (echoing the header) is never read.
    let wrong = world.probe("rest", &[("endpoint", &health)], Some("canary-wrong")).await;
    assert_eq!(failed(&wrong), "expected status 200, got 401");
    let none = world.probe("REST", &[("endpoint", &health)], None).await;
    assert_eq!(failed(&none), "expected status 200, got 401");

    // Method and expected status.
    let submit = format!("{base}/submit");
    assert_passed(
        &world.probe("rest", &[("endpoint", &submit), ("method", "post"), ("expected_status", "201")], None).await,
    );
    let get_on_post = world.probe("rest", &[("endpoint", &submit), ("expected_status", "201")], None).await;
    assert_eq!(failed(&get_on_post), "expected status 201, got 405");
    let wrong_status = world.probe("rest", &[("endpoint", &submit), ("method", "POST")], None).await;
    assert_eq!(failed(&wrong_status), "expected status 200, got 201");

    // A JSON credential is a set of headers.
    let headers = format!("{base}/headers");
    let json = json!({"X-Api-Key": TOKEN, "X-Tenant": "acme"}).to_string();
    assert_passed(&world.probe("rest", &[("endpoint", &headers)], Some(&json)).await);
    let partial = json!({"X-Api-Key": TOKEN}).to_string();
    assert_eq!(
        failed(&world.probe("rest", &[("endpoint", &headers)], Some(&partial)).await),
        "expected status 200, got 403"
    );

    // Nothing listening: the reason says so, without the URL.
    let closed = world.probe("rest", &[("endpoint", "http://127.0.0.1:1/secret-path")], Some(TOKEN)).await;
    let reason = failed(&closed);
    assert!(!reason.contains("secret-path") && reason.contains("onnect"), "{reason}");
    assert_eq!(
        failed(&world.probe("rest", &[], Some(TOKEN)).await),
        r#"option "endpoint" is required for type "rest""#
    );
}

#[tokio::test]
async fn git_is_an_authenticated_get_of_the_api_url() {
    let world = World::new("connectors");
    let base = serve(api()).await;
    let user = format!("{base}/api/user");
    assert_passed(&world.probe("git", &[("api_url", &user)], Some(TOKEN)).await);
    let json = json!({"token": TOKEN}).to_string();
    assert_passed(&world.probe("git", &[("api_url", &user)], Some(&json)).await);
    assert_eq!(
        failed(&world.probe("git", &[("api_url", &user)], Some("canary-bad")).await),
        "expected a 2xx status, got 401"
    );
    let missing = format!("{base}/api/nope");
    assert_eq!(
        failed(&world.probe("git", &[("api_url", &missing)], Some(TOKEN)).await),
        "expected a 2xx status, got 404"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_after_the_connection_timeout() {
    let world = World::new("connectors");
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let endpoint = format!("http://{address}/");
    let result = world.probe("rest", &[("endpoint", &endpoint), ("connection_timeout", "1")], Some(TOKEN)).await;
    assert_eq!(failed(&result), "timed out after 1s");
    let result = world
        .probe(
            "postgresql",
            &[("host", "127.0.0.1"), ("port", &address.port().to_string()), ("connection_timeout", "1")],
            Some(r#"{"username":"postgres"}"#),
        )
        .await;
    assert_eq!(failed(&result), "timed out after 1s");
    held.abort();
}

// ---------------------------------------------------------------------------------------------------------
// s3, against an S3-shaped listing served here (moto and the real thing are tested elsewhere)

/// Answers ListObjectsV2 path-style (`GET /{bucket}?list-type=2`): bucket `present` is empty and wants a request
/// signed with access key `AKIDTEST`; any other bucket does not exist.
fn s3_api() -> Router {
    async fn list(
        axum::extract::Path(bucket): axum::extract::Path<String>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if bucket != "present" {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
            return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/xml")], body).into_response();
        }
        if !auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
            return StatusCode::FORBIDDEN.into_response();
        }
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>present</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>";
        ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
    }
    /// ListBuckets (`GET /`), for requests signed with access key `AKIDTEST`.
    async fn buckets(headers: HeaderMap) -> axum::response::Response {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message><AWSAccessKeyId>echoed</AWSAccessKeyId></Error>";
            return (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "application/xml")], body).into_response();
        }
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListAllMyBucketsResult><Buckets><Bucket><Name>present</Name></Bucket></Buckets></ListAllMyBucketsResult>";
        ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
    }
    Router::new().route("/", get(buckets)).route("/{bucket}", get(list))
}

#[tokio::test]
async fn s3_lists_path_style_at_an_http_endpoint() {
    let world = World::new("connectors");
    let endpoint = serve(s3_api()).await;
    let keys = json!({"access_key_id": "AKIDTEST", "secret_access_key": CANARY}).to_string();
    assert_passed(
        &world.probe("s3", &[("bucket", "present"), ("endpoint", &endpoint), ("path", "raw/")], Some(&keys)).await,
    );
    let missing = world.probe("s3", &[("bucket", "absent"), ("endpoint", &endpoint)], Some(&keys)).await;
    let reason = failed(&missing);
    assert!(reason.starts_with("listing failed: ") && reason.contains("NoSuchBucket"), "{reason}");
    // Unsigned requests (no credential) are refused by this bucket.
    let unsigned = world.probe("s3", &[("bucket", "present"), ("endpoint", &endpoint)], None).await;
    assert!(failed(&unsigned).contains("403"), "{unsigned:?}");
}

// ---------------------------------------------------------------------------------------------------------
// postgresql (127.0.0.1:5432, trust authentication)

const PG: &[(&str, &str)] = &[("host", "127.0.0.1"), ("port", "5432"), ("database", "postgres")];

#[tokio::test]
async fn postgresql_passes_with_the_server_version() {
    let world = World::new("connectors");
    let login = json!({"username": "postgres", "password": CANARY}).to_string();
    let result = world.probe("postgresql", PG, Some(&login)).await;
    assert_passed(&result);
    let version = result.server_version.unwrap();
    assert!(version.starts_with("PostgreSQL 1"), "{version}");

    // A plain secret is the password; the user comes from the options. Defaults: port 5432, database postgres.
    let options = [("host", "127.0.0.1"), ("username", "postgres")];
    assert_passed(&world.probe("PostgreSQL", &options, Some(CANARY)).await);
    let no_user = world.probe("postgresql", PG, Some(CANARY)).await;
    assert!(failed(&no_user).starts_with("no user to connect as"), "{no_user:?}");

    // A database that does not exist: the server's reason.
    let options = [("host", "127.0.0.1"), ("database", "no_such_db"), ("user", "postgres")];
    let reason = world.probe("postgresql", &options, None).await;
    assert!(failed(&reason).contains(r#"database "no_such_db" does not exist"#), "{reason:?}");
}

#[tokio::test]
async fn postgresql_on_a_closed_port_fails_with_the_reason_not_a_timeout() {
    let world = World::new("connectors");
    let options = [("host", "127.0.0.1"), ("port", "1"), ("username", "postgres"), ("connection_timeout", "30")];
    let started = Instant::now();
    let result = world.probe("postgresql", &options, Some(CANARY)).await;
    let reason = failed(&result);
    assert!(reason.starts_with("cannot connect to 127.0.0.1:1: error connecting to server: "), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(30), "a refused connect is not waited out");
}

/// `ssl_enabled = 'true'` makes TLS required and verified: the built-in roots do not trust a local server's
/// certificate (or the server has no TLS at all), so the probe fails at the handshake. When the server does offer
/// TLS with a readable certificate for `localhost`, that certificate as `ssl_root_cert` makes it pass.
#[tokio::test]
async fn postgresql_with_ssl_enabled_requires_and_verifies_tls() {
    let world = World::new("connectors");
    let login = r#"{"username":"postgres"}"#;
    let tls = [("host", "127.0.0.1"), ("ssl_enabled", "true")];
    let result = world.probe("postgresql", &tls, Some(login)).await;
    let reason = failed(&result);
    assert!(reason.starts_with("cannot connect to 127.0.0.1:5432: error performing TLS handshake: "), "{reason}");

    // What does the server offer?
    let id = world.connection("postgresql", PG, Some(login)).await;
    let client = lanyard_connectors::postgres_client(&world.resolver, id).await.expect("plain session");
    let ssl = client.query_one("SHOW ssl", &[]).await.unwrap().get::<_, String>(0);
    if ssl == "on" {
        assert!(reason.contains("certificate"), "the handshake fails on the certificate: {reason}");
        let cert = client.query_one("SHOW ssl_cert_file", &[]).await.unwrap().get::<_, String>(0);
        if std::path::Path::new(&cert).is_absolute() && std::fs::read(&cert).is_ok() {
            let trusted = [("host", "localhost"), ("ssl_enabled", "true"), ("ssl_root_cert", cert.as_str())];
            let result = world.probe("postgresql", &trusted, Some(login)).await;
            // A certificate issued for another name still fails, on the name.
            if result.passed {
                assert!(result.server_version.unwrap().starts_with("PostgreSQL"));
            } else {
                assert!(failed(&result).contains("NotValidForName"), "{result:?}");
            }
        }
    } else {
        assert!(reason.contains("server does not support TLS"), "{reason}");
    }
}

#[tokio::test]
async fn postgres_client_resolves_and_connects() {
    let world = World::new("connectors");
    let id = world.connection("postgresql", PG, Some(r#"{"user":"postgres"}"#)).await;
    let client = lanyard_connectors::postgres_client(&world.resolver, id).await.unwrap();
    let row = client.query_one("SELECT 40 + 2", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);

    // The helpers refuse a connection of another type, and explain a missing one.
    let rest = world.connection("rest", &[("endpoint", "http://127.0.0.1:1/")], None).await;
    let error = lanyard_connectors::postgres_client(&world.resolver, rest).await.err().unwrap();
    assert!(matches!(error, ConnectError::WrongType { .. }), "{error}");
    assert!(error.to_string().ends_with(r#"has type "rest", not postgresql"#), "{error}");
    let error = lanyard_connectors::postgres_client(&world.resolver, ConnectionId::new_random()).await.err().unwrap();
    assert!(matches!(error, ConnectError::Resolve(_)), "{error}");
}

// ---------------------------------------------------------------------------------------------------------
// mysql (MariaDB at 127.0.0.1:3306, root without a password)

const MARIADB: &[(&str, &str)] = &[("host", "127.0.0.1"), ("port", "3306")];

#[tokio::test]
async fn mysql_passes_against_mariadb_with_its_version() {
    let world = World::new("connectors");
    let result = world.probe("mysql", MARIADB, Some(r#"{"username":"root","password":""}"#)).await;
    assert_passed(&result);
    let version = result.server_version.unwrap();
    assert!(version.starts_with("MariaDB ") && version.contains("MariaDB"), "{version}");

    // No credential: the user from the options, no password.
    assert_passed(&world.probe("MySQL", &[("host", "127.0.0.1"), ("user", "root")], None).await);

    // A wrong password: the server's reason, never the password.
    let wrong = json!({"username": "root", "password": CANARY}).to_string();
    let result = world.probe("mysql", MARIADB, Some(&wrong)).await;
    assert!(failed(&result).contains("Access denied for user 'root'"), "{result:?}");

    // Required TLS against a server without it fails.
    let tls = [("host", "127.0.0.1"), ("user", "root"), ("ssl_enabled", "true")];
    let result = world.probe("mysql", &tls, None).await;
    assert!(failed(&result).starts_with("cannot connect to 127.0.0.1:3306: "), "{result:?}");
}

#[tokio::test]
async fn mysql_conn_resolves_and_connects() {
    use lanyard_connectors::mysql_async::prelude::Queryable as _;
    let world = World::new("connectors");
    let id = world.connection("mysql", &[("host", "127.0.0.1"), ("username", "root")], None).await;
    let mut conn = lanyard_connectors::mysql_conn(&world.resolver, id).await.unwrap();
    let answer: Option<i64> = conn.query_first("SELECT 40 + 2").await.unwrap();
    assert_eq!(answer, Some(42));
    conn.disconnect().await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------
// types without a probe

#[tokio::test]
async fn types_without_a_probe_are_unsupported_and_say_so() {
    let world = World::new("connectors");
    for kind in ["kafka", "sql_server", "oracle", "KAFKA"] {
        // Even an option the probe would refuse does not make it a failure: nothing reads the options.
        let options = [("bootstrap_servers", "127.0.0.1:9092"), ("connection_timeout", "soon")];
        let result = world.probe(kind, &options, Some(CANARY)).await;
        // The catalog stores a type in its one spelling, so `KAFKA` comes back as `kafka`.
        assert_eq!(
            unsupported(&result),
            format!(
                "no probe for type {:?} in this build; the connection is stored and resolves its credential, but \
                 Lanyard cannot check it",
                kind.to_ascii_lowercase()
            )
        );
    }
    let result = world.probe("kafka", &[], None).await;
    assert_eq!(
        unsupported(&result),
        r#"no probe for type "kafka" in this build; the connection is stored, but Lanyard cannot check it"#
    );
}

// ---------------------------------------------------------------------------------------------------------
// sftp, against lanyard-testsupport's SFTP server double (the end-to-end cases are in lanyard-cli's connectivity
// tests)

#[tokio::test]
async fn sftp_tries_the_key_then_the_password_and_says_what_it_tried() {
    let world = World::new("connectors");
    let key = SshKeyPair::ed25519();
    let server = SftpServer::start("loader", CANARY, &key.public);
    let (port, fingerprint) = (server.port().to_string(), server.host_key_fingerprint());
    let options = [("host", "127.0.0.1"), ("port", port.as_str()), ("host_key_fingerprint", fingerprint.as_str())];
    let stranger = SshKeyPair::ed25519();

    // A key the server does not know, then the right password: the password gets in. The root is empty: an empty
    // listing passes.
    let both = json!({"username": "loader", "private_key": stranger.private_pem, "password": CANARY});
    let result = world.probe("sftp", &options, Some(&both.to_string())).await;
    assert_passed(&result);
    assert_eq!(result.server_version.as_deref(), Some("lanyard-sftp-double_1.0 (SFTP 3)"));
    let attempt = |method, accepted| SftpAttempt { user: "loader".into(), method, accepted };
    assert_eq!(server.attempts(), [attempt("publickey", false), attempt("password", true)]);

    // Neither gets in: the reason names both methods.
    let wrong = json!({"username": "loader", "private_key": stranger.private_pem, "password": "canary-wrong-pw"});
    let result = world.probe("sftp", &options, Some(&wrong.to_string())).await;
    assert_eq!(
        failed(&result),
        r#"authentication as "loader" failed (publickey, password); the server accepts: publickey, password"#
    );
    assert!(!result.error.as_deref().unwrap_or_default().contains("canary-wrong-pw"));

    // A private key that does not parse is said so, before any attempt.
    let attempts = server.attempts().len();
    let broken =
        json!({"username": "loader", "private_key": format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{CANARY}\n")});
    let result = world.probe("sftp", &options, Some(&broken.to_string())).await;
    assert!(failed(&result).starts_with("the credential's private key cannot be read: "), "{result:?}");
    assert_eq!(server.attempts().len(), attempts, "nothing was sent");
}

// ---------------------------------------------------------------------------------------------------------
// links: the same probes, with SingleStore's keys

#[tokio::test]
async fn s3_links_list_their_bucket_or_else_the_buckets() {
    let world = World::new("connectors");
    let endpoint = serve(s3_api()).await;
    let keys = json!({"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": CANARY});
    let config = json!({"region": "us-east-1", "endpoint_url": endpoint, "disable_gunzip": true});
    // The seed's shape (no bucket): a signed ListBuckets proves the keys.
    assert_passed(&world.probe_link(LinkType::S3, config.clone(), Some(keys.clone())).await);
    let wrong = json!({"aws_access_key_id": "AKIDOTHER", "aws_secret_access_key": CANARY});
    let result = world.probe_link(LinkType::S3, config.clone(), Some(wrong)).await;
    assert_eq!(
        failed(&result),
        "listing the buckets failed: status 403 Forbidden: InvalidAccessKeyId: The AWS Access Key Id you provided \
         does not exist in our records."
    );
    // With a bucket (a Lanyard CONFIG key), the probe of an s3 connection.
    let with_bucket = json!({"region": "us-east-1", "endpoint_url": endpoint, "bucket": "present"});
    assert_passed(&world.probe_link(LinkType::S3, with_bucket, Some(keys.clone())).await);
    let absent = json!({"endpoint_url": endpoint, "bucket": "absent"});
    let result = world.probe_link(LinkType::S3, absent, Some(keys)).await;
    assert!(failed(&result).contains("NoSuchBucket"), "{result:?}");
    // Half a key is refused before any request.
    let half = json!({"aws_access_key_id": "AKIDTEST"});
    assert_eq!(
        failed(&world.probe_link(LinkType::S3, config, Some(half)).await),
        r#"an S3 link's CREDENTIALS need both "aws_access_key_id" and "aws_secret_access_key""#
    );
}

#[tokio::test]
async fn http_links_send_their_headers_or_token_to_their_url() {
    let world = World::new("connectors");
    let base = serve(api()).await;
    let health = json!({"url": format!("{base}/health")});
    let ok = world.probe_link(LinkType::Http, health.clone(), Some(json!({"token": TOKEN}))).await;
    assert_passed(&ok);
    assert_eq!(ok.server_version.as_deref(), Some("test-api/1.2"));
    let wrong = world.probe_link(LinkType::Http, health.clone(), Some(json!({"token": "canary-wrong"}))).await;
    assert_eq!(failed(&wrong), "expected status 200, got 401");
    let headers = json!({"headers": {"X-Api-Key": TOKEN, "X-Tenant": "acme"}});
    assert_passed(&world.probe_link(LinkType::Http, json!({"url": format!("{base}/headers")}), Some(headers)).await);
    let submit = json!({"url": format!("{base}/submit"), "method": "POST", "expected_status": 201});
    assert_passed(&world.probe_link(LinkType::Http, submit, None).await);
    assert_eq!(
        failed(&world.probe_link(LinkType::Http, json!({}), Some(json!({"token": TOKEN}))).await),
        r#"CONFIG key "url" is required for link type HTTP"#
    );
}

#[tokio::test]
async fn mysql_links_read_singlestores_database_keys() {
    let world = World::new("connectors");
    let config = json!({"database.hostname": "127.0.0.1", "database.port": 3306, "database.exclude.list": "x"});
    let root = json!({"database.user": "root", "database.password": ""});
    let result = world.probe_link(LinkType::Mysql, config.clone(), Some(root.clone())).await;
    assert_passed(&result);
    assert!(result.server_version.unwrap().starts_with("MariaDB "));
    let wrong = json!({"database.user": "root", "database.password": CANARY});
    let result = world.probe_link(LinkType::Mysql, config.clone(), Some(wrong)).await;
    assert!(failed(&result).contains("Access denied for user 'root'"), "{result:?}");
    // The connect helper takes a link too.
    use lanyard_connectors::mysql_async::prelude::Queryable as _;
    let (id, _) = world.link(LinkType::Mysql, config, Some(root)).await;
    let mut conn = lanyard_connectors::mysql_conn(&world.resolver, id).await.unwrap();
    let answer: Option<i64> = conn.query_first("SELECT 40 + 2").await.unwrap();
    assert_eq!(answer, Some(42));
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn kafka_hdfs_and_mongodb_links_have_no_probe() {
    let world = World::new("connectors");
    for link_type in [LinkType::Kafka, LinkType::Hdfs, LinkType::Mongodb] {
        let config = json!({"bootstrap_servers": "127.0.0.1:9092"});
        let result = world.probe_link(link_type, config, Some(json!({"password": CANARY}))).await;
        assert_eq!(
            unsupported(&result),
            format!(
                "no probe for link type {link_type} in this build; the link is stored and resolves its \
                 credentials, but Lanyard cannot check it"
            )
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// TLS by default (issue 17, point 8)

/// A private PostgreSQL cluster with `ssl = on` (certificate for `localhost`, signed by a test CA), the CA written
/// to a file, and the superuser's login as a JSON credential.
fn tls_cluster() -> (lanyard_testsupport::PrivatePostgres, lanyard_testsupport::TempDir, String, String) {
    let (cluster, ca) = lanyard_testsupport::PrivatePostgres::start_with_tls(CANARY);
    let dir = lanyard_testsupport::TempDir::new("ca");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let login = json!({"username": "postgres", "password": CANARY}).to_string();
    (cluster, dir, ca_file.display().to_string(), login)
}

/// Whether the session of `client` is encrypted, as the server sees it.
async fn session_uses_tls(client: &tokio_postgres::Client) -> bool {
    client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap().get(0)
}

/// No TLS option at all: the session is encrypted (the server offers TLS), as libpq's default `prefer` does, and
/// the probe passes although the certificate is not one the built-in roots trust. `ssl_mode = 'disable'` (or the
/// older `ssl_enabled = 'false'`) is plain text.
#[tokio::test]
async fn postgresql_uses_tls_by_default_when_the_server_offers_it() {
    let (cluster, _dir, _ca, login) = tls_cluster();
    let world = World::new("connectors");
    let port = cluster.port().to_string();
    let options = [("host", "127.0.0.1"), ("port", port.as_str())];
    let result = world.probe("postgresql", &options, Some(&login)).await;
    assert!(result.passed, "{result:?}");
    let id = world.connection("postgresql", &options, Some(&login)).await;
    let client = lanyard_connectors::postgres_client(&world.resolver, id).await.unwrap();
    assert!(session_uses_tls(&client).await, "the default session is TLS");
    for plain in [("ssl_mode", "disable"), ("ssl_enabled", "false")] {
        let id = world.connection("postgresql", &[options[0], options[1], plain], Some(&login)).await;
        let client = lanyard_connectors::postgres_client(&world.resolver, id).await.unwrap();
        assert!(!session_uses_tls(&client).await, "{plain:?} is plain text");
    }
    let id = world.connection("postgresql", &[options[0], options[1], ("ssl_mode", "require")], Some(&login)).await;
    let client = lanyard_connectors::postgres_client(&world.resolver, id).await.unwrap();
    assert!(session_uses_tls(&client).await, "require");
}

/// `verify-full` checks the certificate against `ssl_root_cert` and the host name; `verify-ca` the chain only.
#[tokio::test]
async fn postgresql_verify_full_checks_the_ca_and_the_host_name() {
    let (cluster, _dir, ca, login) = tls_cluster();
    let world = World::new("connectors");
    let port = cluster.port().to_string();
    let port = ("port", port.as_str());
    let full = ("ssl_mode", "verify-full");
    let root = ("ssl_root_cert", ca.as_str());

    let result = world.probe("postgresql", &[("host", "localhost"), port, full, root], Some(&login)).await;
    assert!(result.passed, "the right CA and the certificate's name: {result:?}");
    let reason =
        failed(&world.probe("postgresql", &[("host", "127.0.0.1"), port, full, root], Some(&login)).await).to_owned();
    assert!(
        reason.starts_with(&format!("cannot connect to 127.0.0.1:{}: error performing TLS handshake: ", port.1))
            && reason.contains("not valid for name"),
        "a certificate for localhost does not do for 127.0.0.1: {reason}"
    );
    let reason =
        failed(&world.probe("postgresql", &[("host", "localhost"), port, full], Some(&login)).await).to_owned();
    assert!(reason.contains("UnknownIssuer"), "the built-in roots do not know the test CA: {reason}");
    // The older spelling means the same.
    let result =
        world.probe("postgresql", &[("host", "localhost"), port, ("ssl_enabled", "true"), root], Some(&login)).await;
    assert!(result.passed, "{result:?}");
    // verify-ca: the chain is checked, the name is not.
    let ca_only = ("ssl_mode", "verify-ca");
    assert!(world.probe("postgresql", &[("host", "127.0.0.1"), port, ca_only, root], Some(&login)).await.passed);
    let reason =
        failed(&world.probe("postgresql", &[("host", "127.0.0.1"), port, ca_only], Some(&login)).await).to_owned();
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    // A mode that does not exist, and two options that disagree.
    let reason = failed(
        &world.probe("postgresql", &[("host", "localhost"), port, ("ssl_mode", "sometimes")], Some(&login)).await,
    )
    .to_owned();
    assert_eq!(reason, "option \"ssl_mode\" must be 'disable', 'prefer', 'require', 'verify-ca' or 'verify-full'");
    let both = [("host", "localhost"), port, ("ssl_mode", "require"), ("ssl_enabled", "false")];
    assert!(failed(&world.probe("postgresql", &both, Some(&login)).await).contains("disagree"));
}

/// A fake PostgreSQL on 127.0.0.1 that declines TLS and asks for the password in clear text: what it received.
async fn fake_cleartext_server() -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut length = [0u8; 4];
        socket.read_exact(&mut length).await.unwrap();
        let mut rest = vec![0u8; u32::from_be_bytes(length) as usize - 4];
        socket.read_exact(&mut rest).await.unwrap();
        received.extend_from_slice(&length);
        received.extend_from_slice(&rest);
        if rest[..4] == 80877103u32.to_be_bytes() {
            // SSLRequest: no TLS here. Then the startup message.
            socket.write_all(b"N").await.unwrap();
            socket.read_exact(&mut length).await.unwrap();
            let mut startup = vec![0u8; u32::from_be_bytes(length) as usize - 4];
            socket.read_exact(&mut startup).await.unwrap();
            received.extend_from_slice(&startup);
        }
        // AuthenticationCleartextPassword.
        socket.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await.unwrap();
        // Whatever comes, until the client hangs up (or has sent its password message).
        let mut chunk = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, socket.read(&mut chunk)).await {
            if n == 0 {
                break;
            }
            received.extend_from_slice(&chunk[..n]);
            if received.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()) {
                break;
            }
        }
        received
    });
    (port, task)
}

/// The default never answers a cleartext-password request without TLS: the fake server receives no password, and
/// the reason says how to allow it. Said explicitly (`ssl_mode = 'disable'`), the password goes, which shows the
/// fake server would have seen it.
#[tokio::test]
async fn a_cleartext_password_request_without_tls_gets_no_password_by_default() {
    let world = World::new("connectors");
    let login = json!({"username": "app", "password": CANARY}).to_string();
    let contains_canary = |bytes: &[u8]| bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes());

    for extra in [None, Some(("ssl_mode", "prefer"))] {
        let (port, server) = fake_cleartext_server().await;
        let port = port.to_string();
        let mut options = vec![("host", "127.0.0.1"), ("port", port.as_str())];
        options.extend(extra);
        let reason = failed(&world.probe("postgresql", &options, Some(&login)).await).to_owned();
        assert_eq!(
            reason,
            format!(
                "cannot connect to 127.0.0.1:{port}: the server does not offer TLS and asked for the password in \
                 clear text, so the password was not sent. To send it without TLS, say so on the connection: \
                 ssl_mode = 'disable' (or ssl_enabled = 'false')"
            )
        );
        let received = server.await.unwrap();
        assert!(!received.is_empty(), "the fake server was reached");
        assert!(!contains_canary(&received), "the password reached the fake server");
    }

    for explicit in [("ssl_mode", "disable"), ("ssl_enabled", "false")] {
        let (port, server) = fake_cleartext_server().await;
        let port = port.to_string();
        let _ =
            world.probe("postgresql", &[("host", "127.0.0.1"), ("port", port.as_str()), explicit], Some(&login)).await;
        assert!(contains_canary(&server.await.unwrap()), "{explicit:?}: the password is sent when asked for");
    }
}
