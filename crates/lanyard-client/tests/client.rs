//! The client against a stand-in server that records what it receives: names are percent-encoded path segments,
//! ALTER is a GET then a PUT with `If-Match` (re-read on 412, a bounded number of times), IF EXISTS / IF NOT EXISTS map 404 / 200 to clean
//! outcomes, problems become typed errors, and the token travels only in the `Authorization` header. LINK statements
//! address `/databases/{db}/links…`, with the session's database (`USE`, checked) for unqualified names; DATABASE
//! statements address `/databases…`, and dropping the session's database takes the session back to `default`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lanyard_client::{Cell, Client, ErrorKind, Outcome, Session};
use lanyard_core::SecretString;
use serde_json::{Value, json};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    if_match: Option<String>,
    authorization: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct Stand {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Answer 412 to the first PUT.
    conflict_once: Arc<Mutex<bool>>,
    /// The version of `busy`, a connection that changes after every GET (someone else keeps altering it).
    busy_version: Arc<Mutex<i64>>,
}

fn connection(name: &str, version: i64) -> Value {
    json!({
        "id": "6f1c0c1e-0000-4000-8000-000000000001", "name": name, "entity_ref": format!("con::{name}"),
        "type": "postgresql", "description": null, "options": {"host": "h"}, "credential": null,
        "credential_storage": null, "max_connections": null, "timeout_seconds": null, "status": "untested",
        "last_test": null, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "version": version
    })
}

fn link(database: &str, name: &str, version: i64) -> Value {
    json!({
        "id": "6f1c0c1e-0000-4000-8000-000000000002", "database": database, "name": name, "type": "S3",
        "description": null, "config": {"disable_gunzip": false, "region": "us-east-1"},
        "credentials": {"source": "link"}, "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z", "version": version
    })
}

fn database(name: &str) -> Value {
    json!({
        "id": "6f1c0c1e-0000-4000-8000-000000000003", "name": name, "created_at": "2026-01-01T00:00:00Z",
        "version": 1
    })
}

fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = json!({"type": "about:blank", "title": "t", "status": status.as_u16(), "detail": detail, "code": code});
    (status, [("content-type", "application/problem+json")], body.to_string()).into_response()
}

async fn handle(State(stand): State<Stand>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let seen = Seen {
        method: method.clone(),
        path: uri.path().to_owned(),
        if_match: header("if-match"),
        authorization: header("authorization"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    stand.seen.lock().unwrap().push(seen.clone());
    let path = uri.path();
    match (method, path) {
        (Method::GET, "/connections/a%2Fb%20c%25") => axum::Json(connection("a/b c%", 7)).into_response(),
        (Method::PUT, "/connections/a%2Fb%20c%25") => {
            let mut conflict = stand.conflict_once.lock().unwrap();
            if *conflict {
                *conflict = false;
                return problem(StatusCode::PRECONDITION_FAILED, "precondition_failed", "changed");
            }
            axum::Json(connection("renamed", 8)).into_response()
        }
        (Method::GET, "/connections/busy") => {
            let mut version = stand.busy_version.lock().unwrap();
            *version += 1;
            axum::Json(connection("busy", *version)).into_response()
        }
        (Method::PUT, "/connections/busy") => {
            let version = *stand.busy_version.lock().unwrap();
            let detail = format!("connection \"busy\" is at version {}, not {version} (If-Match)", version + 1);
            problem(StatusCode::PRECONDITION_FAILED, "precondition_failed", &detail)
        }
        (Method::POST, "/connections") if seen.body["if_not_exists"] == true => {
            (StatusCode::OK, axum::Json(connection("x", 1))).into_response()
        }
        (Method::POST, "/connections") => {
            problem(StatusCode::BAD_REQUEST, "invalid", "unknown connection type \"carrier_pigeon\"")
        }
        (Method::GET, "/databases") => axum::Json(json!([database("zeta"), database("default"), database("Analytics")]))
            .into_response(),
        (Method::POST, "/databases") if seen.body["name"] == "racy" => {
            problem(StatusCode::CONFLICT, "already_exists", "database \"racy\" already exists")
        }
        (Method::POST, "/databases") if seen.body["if_not_exists"] == true => {
            (StatusCode::OK, axum::Json(database("analytics"))).into_response()
        }
        (Method::POST, "/databases") => (StatusCode::CREATED, axum::Json(database("analytics"))).into_response(),
        (Method::DELETE, "/databases/my%20db" | "/databases/other") => StatusCode::NO_CONTENT.into_response(),
        (Method::DELETE, "/databases/default") => problem(
            StatusCode::CONFLICT,
            "conflict",
            "database \"default\" cannot be dropped: it always exists, and every session starts in it",
        ),
        (Method::GET, "/databases/default/links") => axum::Json(json!([link("default", "analytics_link", 2)])).into_response(),
        (Method::GET, "/databases/my%20db/links") => axum::Json(json!([])).into_response(),
        (Method::GET, "/databases/nowhere/links") => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            "database \"nowhere\" does not exist",
        ),
        (Method::GET, "/databases/my%20db/links/a%2Fb") => axum::Json(link("my db", "a/b", 3)).into_response(),
        (Method::PUT, "/databases/my%20db/links/a%2Fb") => {
            let mut conflict = stand.conflict_once.lock().unwrap();
            if *conflict {
                *conflict = false;
                return problem(StatusCode::PRECONDITION_FAILED, "precondition_failed", "changed");
            }
            axum::Json(link("my db", "a/b", 4)).into_response()
        }
        (Method::POST, "/databases/default/links") if seen.body["name"] == "racy" => {
            problem(StatusCode::CONFLICT, "already_exists", "link \"default.racy\" already exists")
        }
        (Method::POST, "/databases/default/links")
            if seen.body["if_not_exists"] == true || seen.body["or_replace"] == true =>
        {
            (StatusCode::OK, axum::Json(link("default", "analytics_link", 5))).into_response()
        }
        (Method::POST, "/databases/default/links") => {
            (StatusCode::CREATED, axum::Json(link("default", "analytics_link", 1))).into_response()
        }
        (Method::GET, "/databases/default/links/analytics_link/create") => axum::Json(json!({
            "link_name": "analytics_link",
            "create_link": "CREATE LINK `analytics_link` AS S3\n    CONFIG \"{}\"\n    CREDENTIALS <CREDENTIALS REDACTED>",
            "version": 2
        }))
        .into_response(),
        (Method::POST, "/databases/default/links/k/test") => axum::Json(json!({
            "result": "UNSUPPORTED", "latency_ms": 0, "server_version": null,
            "error": "no probe for link type KAFKA in this build"
        }))
        .into_response(),
        _ => problem(StatusCode::NOT_FOUND, "not_found", "connection \"missing\" does not exist"),
    }
}

async fn stand() -> (Stand, Session) {
    let stand = Stand::default();
    let app = Router::new().fallback(handle).with_state(stand.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client =
        Client::builder(format!("http://{addr}")).token(SecretString::new("lyd_canary_token")).build().unwrap();
    (stand, Session::new(client))
}

fn run(sql: &str) -> lanyard_sql::Statement {
    lanyard_sql::parse_one(sql).unwrap()
}

#[tokio::test]
async fn alter_reads_then_puts_with_if_match_and_rereads_once_on_412() {
    let (stand, mut session) = stand().await;
    *stand.conflict_once.lock().unwrap() = true;
    let result =
        session.execute(&run(r#"ALTER CONNECTION "a/b c%" SET OPTION port = '5432' RENAME TO renamed"#)).await.unwrap();
    assert_eq!(result.outcome, Outcome::Ok);
    assert_eq!(result.message, "connection \"a/b c%\" altered (2 actions, version 8, now \"renamed\")");
    let seen = stand.seen.lock().unwrap().clone();
    let calls: Vec<(Method, &str, Option<&str>)> =
        seen.iter().map(|s| (s.method.clone(), s.path.as_str(), s.if_match.as_deref())).collect();
    assert_eq!(
        calls,
        [
            (Method::GET, "/connections/a%2Fb%20c%25", None),
            (Method::PUT, "/connections/a%2Fb%20c%25", Some("\"7\"")),
            (Method::GET, "/connections/a%2Fb%20c%25", None),
            (Method::PUT, "/connections/a%2Fb%20c%25", Some("\"7\"")),
        ]
    );
    assert_eq!(
        seen[1].body,
        json!({"actions": [{"set_option": {"key": "port", "value": "5432"}}, {"rename_to": "renamed"}]})
    );
    assert!(seen.iter().all(|s| s.authorization.as_deref() == Some("Bearer lyd_canary_token")));
}

/// A connection that changes between every GET and its PUT: the ALTER re-reads and re-sends a bounded number of
/// times, each PUT over the version just read, then gives up with a `conflict` error that says what happened.
#[tokio::test]
async fn an_alter_that_always_finds_the_object_changed_gives_up_after_bounded_retries() {
    let (stand, mut session) = stand().await;
    let error = session.execute(&run("ALTER CONNECTION busy SET OPTION port = '5432'")).await.unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::Conflict));
    assert_eq!(
        error.to_string(),
        "connection \"busy\" changed concurrently 10 times; gave up after 10 attempts; run the statement again"
    );
    assert!(!error.is_environment());
    let calls = calls(&stand, 0);
    let expected: Vec<(Method, String, Option<String>)> = (1..=10)
        .flat_map(|version| {
            [
                (Method::GET, "/connections/busy".to_owned(), None),
                (Method::PUT, "/connections/busy".to_owned(), Some(format!("\"{version}\""))),
            ]
        })
        .collect();
    assert_eq!(calls, expected, "each attempt re-reads and sends over the version it just read");
}

#[tokio::test]
async fn if_exists_and_if_not_exists_are_clean_outcomes_and_problems_are_typed() {
    let (_stand, mut session) = stand().await;
    let skipped = session.execute(&run("DROP CONNECTION IF EXISTS missing")).await.unwrap();
    assert_eq!(skipped.outcome, Outcome::Skipped);
    let skipped = session.execute(&run("ALTER CONNECTION IF EXISTS missing RENAME TO y")).await.unwrap();
    assert_eq!(skipped.outcome, Outcome::Skipped);
    let unchanged =
        session.execute(&run("CREATE CONNECTION IF NOT EXISTS x TYPE = postgresql OPTIONS ()")).await.unwrap();
    assert_eq!(unchanged.outcome, Outcome::Unchanged);
    let error = session.execute(&run("CREATE CONNECTION x TYPE = carrier_pigeon OPTIONS ()")).await.unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::Invalid));
    assert_eq!(error.to_string(), "unknown connection type \"carrier_pigeon\"");
    let missing = session.execute(&run("DESCRIBE CONNECTION missing")).await.unwrap_err();
    assert_eq!(missing.kind(), Some(ErrorKind::NotFound));
    assert!(!missing.is_environment());
    // Debug of the session and client never shows the token.
    assert!(!format!("{session:?}").contains("canary"), "{session:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_an_environment_error_naming_the_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder(format!("http://{addr}")).build().unwrap();
    let error = client.list_connections(None).await.unwrap_err();
    assert!(error.is_environment());
    assert!(error.to_string().starts_with(&format!("cannot reach the Lanyard server at http://{addr}")), "{error}");
    let bad = Client::builder("http://user:pw@127.0.0.1:1").build().unwrap_err();
    assert!(bad.to_string().contains("the token goes in --token"), "{bad}");
    let malformed = Client::builder("ftp://user:canary-pw@[::1").build().unwrap_err();
    assert!(!malformed.to_string().contains("canary"), "{malformed}");
}

/// The calls the stand saw since `from`: method, path, If-Match.
fn calls(stand: &Stand, from: usize) -> Vec<(Method, String, Option<String>)> {
    stand.seen.lock().unwrap()[from..].iter().map(|s| (s.method.clone(), s.path.clone(), s.if_match.clone())).collect()
}

#[tokio::test]
async fn use_checks_the_database_and_link_statements_address_the_session_database() {
    let (stand, mut session) = stand().await;
    // An unknown database: the server's error, and the session stays where it was.
    let error = session.execute(&run("USE nowhere")).await.unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::NotFound));
    assert_eq!(error.to_string(), "database \"nowhere\" does not exist");
    assert_eq!(session.database(), "default");
    let used = session.execute(&run("USE `my db`")).await.unwrap();
    assert_eq!(used.message, "database is now \"my db\"");
    assert_eq!(session.database(), "my db");

    // ALTER LINK: GET for the version, then PUT with If-Match and the actions in written order; re-read on 412.
    *stand.conflict_once.lock().unwrap() = true;
    let from = stand.seen.lock().unwrap().len();
    let altered = session
        .execute(&run("ALTER LINK `a/b` SET CREDENTIALS ::aws_access_key_id = 'k2' SET CONFIG ::region = \"eu\""))
        .await
        .unwrap();
    assert_eq!(altered.message, "link \"my db.a/b\" altered (2 actions, version 4)");
    let path = "/databases/my%20db/links/a%2Fb".to_owned();
    assert_eq!(
        calls(&stand, from),
        [
            (Method::GET, path.clone(), None),
            (Method::PUT, path.clone(), Some("\"3\"".to_owned())),
            (Method::GET, path.clone(), None),
            (Method::PUT, path, Some("\"3\"".to_owned())),
        ]
    );
    let body = stand.seen.lock().unwrap().last().unwrap().body.clone();
    assert_eq!(
        body,
        json!({"actions": [
            {"set_credentials_key": {"key": "aws_access_key_id", "value": "k2"}},
            {"set_config_key": {"key": "region", "value": "eu"}},
        ]})
    );
    // The other SET forms, by their wire names.
    let from = stand.seen.lock().unwrap().len();
    session
        .execute(&run("ALTER LINK `a/b` SET CONFIG '{\"region\":\"eu\",\"n\":1}' SET CREDENTIALS FROM VAULT aws_v2"))
        .await
        .unwrap();
    session.execute(&run("ALTER LINK `a/b` SET CREDENTIALS '{\"k\": \"v\"}'")).await.unwrap();
    let seen = stand.seen.lock().unwrap()[from..].to_vec();
    assert_eq!(
        seen[1].body,
        json!({"actions": [{"set_config_json": {"region": "eu", "n": 1}}, {"set_credentials_entry": "aws_v2"}]})
    );
    assert_eq!(seen[3].body, json!({"actions": [{"set_credentials_json": {"k": "v"}}]}));
    // A qualified name overrides the session's database.
    let shown = session.execute(&run("SHOW LINKS ON default")).await.unwrap();
    assert_eq!(shown.columns, ["Link", "Type", "Description", "Config"]);
    assert_eq!(
        shown.rows,
        [vec![
            Cell::from("analytics_link"),
            Cell::from("S3"),
            Cell::Null,
            Cell::from(r#"{"disable_gunzip":false,"region":"us-east-1"}"#),
        ]]
    );
    assert_eq!(shown.message, "1 link in database \"default\"");
}

#[tokio::test]
async fn create_link_sends_the_credentials_as_a_json_object_or_an_entry_and_reports_each_outcome() {
    let (stand, mut session) = stand().await;
    let created = session
        .execute(&run(
            "CREATE LINK analytics_link AS S3 CONFIG '{\"disable_gunzip\":false}' CREDENTIALS '{\"aws_access_key_id\":\"initial_key_id\",\n\"aws_secret_access_key\":\"initial_secret\"}'",
        ))
        .await
        .unwrap();
    assert_eq!(
        (created.outcome, created.message.as_str()),
        (Outcome::Created, "link \"default.analytics_link\" created")
    );
    let body = stand.seen.lock().unwrap().last().unwrap().body.clone();
    assert_eq!(
        body,
        json!({
            "name": "analytics_link", "type": "S3", "description": null, "config": {"disable_gunzip": false},
            "credentials": {"aws_access_key_id": "initial_key_id", "aws_secret_access_key": "initial_secret"},
        })
    );
    let unchanged = session
        .execute(&run("CREATE LINK IF NOT EXISTS default.analytics_link AS S3 CREDENTIALS FROM VAULT aws"))
        .await
        .unwrap();
    assert_eq!(unchanged.outcome, Outcome::Unchanged);
    assert_eq!(unchanged.message, "link \"default.analytics_link\" exists, unchanged");
    let body = stand.seen.lock().unwrap().last().unwrap().body.clone();
    assert_eq!(body["credentials_entry"], "aws");
    assert_eq!(body["if_not_exists"], true);
    assert!(body.get("credentials").is_none(), "{body}");
    let replaced = session.execute(&run("CREATE OR REPLACE LINK analytics_link AS S3 CONFIG '{}'")).await.unwrap();
    assert_eq!(
        (replaced.outcome, replaced.message.as_str()),
        (Outcome::Ok, "link \"default.analytics_link\" replaced (version 5)")
    );
    // A 409 under IF NOT EXISTS (a concurrent create) is "exists, unchanged" too; without it, an error.
    let racy = session.execute(&run("CREATE LINK IF NOT EXISTS racy AS S3")).await.unwrap();
    assert_eq!(racy.outcome, Outcome::Unchanged);
    let error = session.execute(&run("CREATE LINK racy AS S3")).await.unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::AlreadyExists));
}

#[tokio::test]
async fn drop_show_create_and_test_link_map_to_their_routes() {
    let (stand, mut session) = stand().await;
    let skipped = session.execute(&run("DROP LINK IF EXISTS missing")).await.unwrap();
    assert_eq!(
        (skipped.outcome, skipped.message.as_str()),
        (Outcome::Skipped, "link \"default.missing\" does not exist; nothing done")
    );
    assert!(session.execute(&run("DROP LINK missing")).await.is_err());
    let definition = session.execute(&run("SHOW CREATE LINK analytics_link \\G")).await.unwrap();
    assert_eq!(definition.columns, ["Link Name", "Create Link"]);
    assert_eq!(definition.rows[0][0], Cell::from("analytics_link"));
    assert!(definition.rows[0][1].to_string().contains("\n    CREDENTIALS <CREDENTIALS REDACTED>"));
    let test = session.execute(&run("TEST LINK k")).await.unwrap();
    assert_eq!(test.outcome, Outcome::Unsupported);
    assert_eq!(test.message, "link \"default.k\": UNSUPPORTED in 0 ms");
    assert_eq!(test.rows[0][0], Cell::from("UNSUPPORTED"));
    assert_eq!(test.rows[0][3], Cell::from("no probe for link type KAFKA in this build"));
    let skipped = session.execute(&run("TEST LINK IF EXISTS missing")).await.unwrap();
    assert_eq!(skipped.outcome, Outcome::Skipped);
    let paths: Vec<String> = calls(&stand, 0).into_iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    assert_eq!(
        paths,
        [
            "DELETE /databases/default/links/missing",
            "DELETE /databases/default/links/missing",
            "GET /databases/default/links/analytics_link/create",
            "POST /databases/default/links/k/test",
            "POST /databases/default/links/missing/test",
        ]
    );
    // A redacted credential value is refused before anything is sent.
    let refused = session.execute(&run("ALTER LINK l SET CREDENTIALS ::aws_secret_access_key = '***'")).await;
    assert!(refused.unwrap_err().to_string().contains("that is a redaction"));
    assert_eq!(calls(&stand, 0).len(), 5);
}

#[tokio::test]
async fn database_statements_map_to_their_routes_and_drop_of_the_current_one_goes_back_to_default() {
    let (stand, mut session) = stand().await;
    // SHOW DATABASES: one column, `Database`, in the order the server answers (the server lists by name, a page at
    // a time, so the client shows each page as it comes and does not sort).
    let shown = session.execute(&run("SHOW SCHEMAS LIKE 'a'")).await.unwrap();
    assert_eq!(shown.columns, ["Database"]);
    assert_eq!(shown.rows, [vec![Cell::from("zeta")], vec![Cell::from("default")], vec![Cell::from("Analytics")]]);
    assert_eq!(shown.message, "3 databases");
    // CREATE DATABASE [IF NOT EXISTS]: 201 created, 200 "exists, unchanged", and a 409 under IF NOT EXISTS (a
    // concurrent create) is "exists, unchanged" too.
    let created = session.execute(&run("CREATE DATABASE analytics")).await.unwrap();
    assert_eq!((created.outcome, created.message.as_str()), (Outcome::Created, "database \"analytics\" created"));
    assert_eq!(stand.seen.lock().unwrap().last().unwrap().body, json!({"name": "analytics"}));
    let unchanged = session.execute(&run("CREATE SCHEMA IF NOT EXISTS analytics")).await.unwrap();
    assert_eq!(
        (unchanged.outcome, unchanged.message.as_str()),
        (Outcome::Unchanged, "database \"analytics\" exists, unchanged")
    );
    assert_eq!(stand.seen.lock().unwrap().last().unwrap().body, json!({"name": "analytics", "if_not_exists": true}));
    assert_eq!(session.execute(&run("CREATE DATABASE IF NOT EXISTS racy")).await.unwrap().outcome, Outcome::Unchanged);
    let error = session.execute(&run("CREATE DATABASE racy")).await.unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::AlreadyExists));

    // DROP DATABASE [IF EXISTS]: 404 is skipped under IF EXISTS; another database leaves the session alone.
    let skipped = session.execute(&run("DROP DATABASE IF EXISTS missing")).await.unwrap();
    assert_eq!(
        (skipped.outcome, skipped.message.as_str()),
        (Outcome::Skipped, "database \"missing\" does not exist; nothing done")
    );
    assert_eq!(session.execute(&run("DROP DATABASE missing")).await.unwrap_err().kind(), Some(ErrorKind::NotFound));
    session.execute(&run("USE `my db`")).await.unwrap();
    let other = session.execute(&run("DROP DATABASE other")).await.unwrap();
    assert_eq!(other.message, "database \"other\" dropped");
    assert_eq!(session.database(), "my db");
    // The session's own database: the session goes back to `default`, and says so.
    let dropped = session.execute(&run("DROP SCHEMA `my db`")).await.unwrap();
    assert_eq!(
        (dropped.outcome, dropped.message.as_str()),
        (Outcome::Ok, "database \"my db\" dropped; the session's database is now \"default\"")
    );
    assert_eq!(session.database(), "default");
    let refused = session.execute(&run("DROP DATABASE default")).await.unwrap_err();
    assert_eq!(refused.kind(), Some(ErrorKind::Conflict));
    assert_eq!(session.database(), "default");

    let paths: Vec<String> = calls(&stand, 0).into_iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    assert_eq!(
        paths,
        [
            "GET /databases",
            "POST /databases",
            "POST /databases",
            "POST /databases",
            "POST /databases",
            "DELETE /databases/missing",
            "DELETE /databases/missing",
            "GET /databases/my%20db/links",
            "DELETE /databases/other",
            "DELETE /databases/my%20db",
            "DELETE /databases/default",
        ]
    );
}
