//! The client against a stand-in server that records what it receives: names are percent-encoded path segments,
//! ALTER is a GET then a PUT with `If-Match` (re-read once on 412), IF EXISTS / IF NOT EXISTS map 404 / 200 to clean
//! outcomes, problems become typed errors, and the token travels only in the `Authorization` header.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lanyard_client::{Client, ErrorKind, Outcome, Session};
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
        (Method::POST, "/connections") if seen.body["if_not_exists"] == true => {
            (StatusCode::OK, axum::Json(connection("x", 1))).into_response()
        }
        (Method::POST, "/connections") => {
            problem(StatusCode::BAD_REQUEST, "invalid", "unknown connection type \"carrier_pigeon\"")
        }
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
