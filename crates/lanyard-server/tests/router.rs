//! In-process tests of the router (tower `oneshot`): every route, the seed's ALTER CONNECTION behaviours through
//! the PUT body, ETag / If-Match, the authorization matrix over the route table, bad input, and the OpenAPI
//! description against the table.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use lanyard_control::{Caller, ControlPlane, Permission, Role};
use lanyard_server::{Access, routes};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use lanyard_vault_local as _;
use lanyard_vault_memory as _;

const ADMIN_TOKEN: &str = "lyd_router-test-admin-token-0123456789";

struct World {
    router: Router,
    control: ControlPlane,
    admin: String,
    operator: String,
    viewer: String,
    revoked: String,
    _dir: Dir,
    /// The PostgreSQL database of [`world_on`] (dropped with the world).
    _database: Option<lanyard_testsupport::TempDatabase>,
    /// Where the catalog is.
    catalog_url: String,
}

struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn world() -> World {
    world_on(lanyard_testsupport::DatabaseKind::Sqlite).await
}

/// A world whose catalog is a SQLite file in its directory, or a PostgreSQL database of its own.
async fn world_on(kind: lanyard_testsupport::DatabaseKind) -> World {
    let dir = std::env::temp_dir().join(format!("lanyard-router-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = match kind {
        lanyard_testsupport::DatabaseKind::Sqlite => None,
        lanyard_testsupport::DatabaseKind::Postgres => Some(lanyard_testsupport::TempDatabase::postgres("router")),
    };
    let catalog_url = match &database {
        Some(database) => database.url().to_owned(),
        None => format!("sqlite://{}/catalog.db", dir.display()),
    };
    let config = lanyard_control::ControlConfig { catalog_url: catalog_url.clone(), data_dir: dir.clone() };
    let registry = lanyard_vault::Registry::global().unwrap();
    let control = ControlPlane::open(&config, registry).await.unwrap();
    control.bootstrap_admin(Some(&ADMIN_TOKEN.into())).await.unwrap();
    let root = Caller::local("test", Role::Admin);
    let token = |name: &str, role| {
        let control = control.clone();
        let root = root.clone();
        let name = name.to_owned();
        async move { control.create_token(&root, &name, role, None).await.unwrap().1.expose_secret().to_owned() }
    };
    let operator = token("ops", Role::Operator).await;
    let viewer = token("view", Role::Viewer).await;
    let revoked = token("gone", Role::Admin).await;
    control.revoke_token(&root, "gone").await.unwrap();
    World {
        router: lanyard_server::router(control.clone()),
        control,
        admin: ADMIN_TOKEN.to_owned(),
        operator,
        viewer,
        revoked,
        _dir: Dir(dir),
        _database: database,
        catalog_url,
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    fn is_problem(&self) -> bool {
        self.headers.get(header::CONTENT_TYPE).is_some_and(|v| v == "application/problem+json")
    }

    fn code(&self) -> String {
        assert!(self.is_problem(), "{} is not a problem: {}", self.status, String::from_utf8_lossy(&self.body));
        self.json()["code"].as_str().unwrap().to_owned()
    }

    fn etag(&self) -> String {
        self.headers.get(header::ETAG).expect("an ETag").to_str().unwrap().to_owned()
    }
}

impl World {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.raw(method, path, token, bytes, headers).await
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, body }
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send(method, path, Some(&self.admin.clone()), body, &[]).await
    }

    /// A credential, a memory storage and a connection using both.
    async fn seed(&self) {
        let r = self.admin(Method::POST, "/vault/entries", Some(json!({"name": "pg_login", "type": "CREDENTIAL", "secret": "{\"username\":\"u\",\"password\":\"p\"}"}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
        let r = self
            .admin(
                Method::POST,
                "/vault/entries",
                Some(json!({"name": "prod_pg_password_v2", "type": "CREDENTIAL", "secret": "v2"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let r = self
            .admin(
                Method::POST,
                "/databases/analytics/links",
                Some(json!({"name": "analytics_link", "type": "S3", "config": {"disable_gunzip": false},
                    "credentials": {"aws_access_key_id": "initial_key_id", "aws_secret_access_key": "initial_secret"}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
        let store = format!("router-{}", uuid::Uuid::new_v4());
        let r = self
            .admin(
                Method::POST,
                "/vault/backends",
                Some(json!({"name": "prod_aws_sm_eu", "type": "memory", "options": {"store": store}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
        let r = self
            .admin(
                Method::POST,
                "/connections",
                Some(json!({"name": "prod_pg", "type": "postgresql", "options": {"host": "db", "port": "5432"}, "credential": "pg_login"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
        let r = self
            .admin(
                Method::POST,
                "/connections",
                Some(json!({"name": "raw_data_s3", "type": "s3", "options": {"bucket": "b"}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let warehouse = json!({"name": "warehouse", "type": "postgresql", "options": {"host": "db"}});
        assert_eq!(self.admin(Method::POST, "/connections", Some(warehouse)).await.status, StatusCode::CREATED);
        let r = self.admin(
            Method::POST,
            "/databases/analytics/links",
            Some(json!({"name": "pipeline_link", "type": "S3"})),
        );
        assert_eq!(r.await.status, StatusCode::CREATED);
        let r =
            self.admin(Method::POST, "/databases/analytics/pipelines", Some(pipeline_body("events_pipeline"))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    }

    async fn audit_len(&self) -> usize {
        self.admin(Method::GET, "/audit?limit=1000", None).await.json().as_array().unwrap().len()
    }

    /// The audited actions starting with `prefix` (`link.`, `database.`), oldest first.
    async fn audit_actions(&self, prefix: &str) -> Vec<String> {
        let audit = self.admin(Method::GET, "/audit?limit=1000", None).await.json();
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["action"].as_str())
            .filter(|a| a.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn connections_routes_follow_the_seed() {
    let w = world().await;
    w.seed().await;

    // SHOW CONNECTIONS [LIKE] and DESCRIBE.
    let list = w.admin(Method::GET, "/connections?like=PROD", None).await;
    assert_eq!(list.status, StatusCode::OK);
    let names: Vec<_> =
        list.json().as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["prod_pg"]);
    let got = w.admin(Method::GET, "/connections/prod_pg", None).await;
    let before = got.json();
    assert_eq!(got.etag(), format!("\"{}\"", before["version"]));
    assert_eq!(before["entity_ref"], "con::prod_pg");
    assert_eq!(before["credential"]["name"], "pg_login");
    assert_eq!(before["status"], "untested");
    let id = before["id"].as_str().unwrap().to_owned();

    // SET OPTIONS replaces the whole map.
    let r = w
        .admin(Method::PUT, "/connections/prod_pg", Some(json!({"actions": [{"set_options": {"host": "new-db.example.com", "port": "5432", "database": "app", "ssl_enabled": "true"}}]})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.json()["options"],
        json!({"host": "new-db.example.com", "port": "5432", "database": "app", "ssl_enabled": "true"})
    );

    // SET CREDENTIAL stores the entry's id.
    let entry = w.admin(Method::GET, "/vault/entries/prod_pg_password_v2", None).await.json();
    let r = w
        .admin(
            Method::PUT,
            "/connections/prod_pg",
            Some(json!({"actions": [{"set_credential": "prod_pg_password_v2"}]})),
        )
        .await;
    assert_eq!(r.json()["credential"]["id"], entry["id"]);

    // SET CREDENTIAL STORAGE stores the storage's id.
    let storage = w.admin(Method::GET, "/vault/backends/prod_aws_sm_eu", None).await.json();
    let r = w
        .admin(
            Method::PUT,
            "/connections/raw_data_s3",
            Some(json!({"actions": [{"set_credential_storage": "prod_aws_sm_eu"}]})),
        )
        .await;
    assert_eq!(r.json()["credential_storage"]["id"], storage["id"]);

    // RENAME keeps the id; the old name is then 404.
    let r = w.admin(Method::PUT, "/connections/raw_data_s3", Some(json!({"actions": [{"rename_to": "raw_s3"}]}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["entity_ref"], "con::raw_s3");
    assert_eq!(w.admin(Method::GET, "/connections/raw_data_s3", None).await.code(), "not_found");

    // The chained example, in order.
    let chained = json!({"actions": [
        {"set_options": {"host": "new-db.example.com", "port": "5432", "database": "app", "ssl_enabled": "true"}},
        {"set_credential": "pg_login"},
        {"rename_to": "prod_pg_v2"},
    ]});
    let r = w.admin(Method::PUT, "/connections/prod_pg", Some(chained)).await;
    assert_eq!(r.status, StatusCode::OK);
    let after = r.json();
    assert_eq!(after["id"], id.as_str());
    assert_eq!(after["name"], "prod_pg_v2");
    assert_eq!(after["credential"]["name"], "pg_login");
    assert_eq!(w.admin(Method::GET, "/connections/prod_pg", None).await.status, StatusCode::NOT_FOUND);

    // All or nothing: for each k, a failing k-th action leaves row and audit log as they were.
    for k in 0..4 {
        let mut actions = vec![
            json!({"set_option": {"key": "a", "value": "1"}}),
            json!({"unset_option": "ssl_enabled"}),
            json!({"rename_to": "renamed"}),
            json!({"set_description": "d"}),
        ];
        actions.insert(k, json!({"set_credential": "no_such_entry"}));
        let row_before = w.admin(Method::GET, "/connections/prod_pg_v2", None).await.body;
        let audit_before = w.audit_len().await;
        let r = w.admin(Method::PUT, "/connections/prod_pg_v2", Some(json!({"actions": actions}))).await;
        assert_eq!(r.code(), "not_found", "k = {k}");
        assert!(r.json()["detail"].as_str().unwrap().contains(&format!("action {}", k + 1)), "{}", r.json());
        assert_eq!(w.admin(Method::GET, "/connections/prod_pg_v2", None).await.body, row_before, "k = {k}");
        assert_eq!(w.audit_len().await, audit_before, "k = {k}");
    }

    // ETag / If-Match.
    let current = w.admin(Method::GET, "/connections/prod_pg_v2", None).await;
    let etag = current.etag();
    let stale = format!("\"{}\"", current.json()["version"].as_i64().unwrap() - 1);
    let body = json!({"actions": [{"set_option": {"key": "k", "value": "v"}}]});
    let r = w
        .send(Method::PUT, "/connections/prod_pg_v2", Some(&w.admin), Some(body.clone()), &[("if-match", &stale)])
        .await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::PRECONDITION_FAILED, "precondition_failed"));
    let r = w.send(Method::PUT, "/connections/prod_pg_v2", Some(&w.admin), Some(body), &[("if-match", &etag)]).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = w.send(Method::DELETE, "/connections/prod_pg_v2", Some(&w.admin), None, &[("if-match", &etag)]).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);

    // A rename onto an existing name is a 409.
    let r = w.admin(Method::PUT, "/connections/prod_pg_v2", Some(json!({"actions": [{"rename_to": "raw_s3"}]}))).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::CONFLICT, "already_exists"));

    // IF NOT EXISTS: 200 with the row unchanged; without it 409.
    let again = json!({"name": "raw_s3", "type": "s3", "options": {}, "if_not_exists": true});
    let r = w.admin(Method::POST, "/connections", Some(again)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["options"], json!({"bucket": "b"}));
    let r = w.admin(Method::POST, "/connections", Some(json!({"name": "raw_s3", "type": "s3"}))).await;
    assert_eq!(r.code(), "already_exists");

    // TEST CONNECTION runs the real probe and records its result: the host does not resolve, so FAILED with the
    // driver's reason, not an error.
    let r = w.admin(Method::POST, "/connections/prod_pg_v2/test", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let result = r.json();
    assert_eq!(result["result"], "FAILED");
    assert!(result["error"].as_str().unwrap().starts_with("cannot connect to new-db.example.com:5432: "), "{result}");
    assert_eq!(result["connection"]["status"], "failed");
    assert_eq!(w.admin(Method::POST, "/connections/nope/test", None).await.code(), "not_found");

    // DROP, then 404; dropping the entry a connection uses is refused with the dependent named.
    let r = w.admin(Method::DELETE, "/vault/entries/pg_login", None).await;
    assert_eq!(r.code(), "conflict");
    assert!(r.json()["detail"].as_str().unwrap().contains("prod_pg_v2"));
    assert_eq!(w.admin(Method::DELETE, "/connections/prod_pg_v2", None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(w.admin(Method::DELETE, "/connections/prod_pg_v2", None).await.code(), "not_found");
    assert_eq!(w.admin(Method::DELETE, "/vault/entries/pg_login", None).await.status, StatusCode::NO_CONTENT);

    // Every change above left one audit record; the audit route filters by object.
    let audit = w.admin(Method::GET, &format!("/audit?object={id}"), None).await.json();
    let actions: Vec<_> = audit.as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap().to_owned()).collect();
    assert_eq!(actions.first().map(String::as_str), Some("connection.create"));
    assert_eq!(actions.last().map(String::as_str), Some("connection.drop"));
    assert_eq!(actions.iter().filter(|a| *a == "connection.alter").count(), 4, "{actions:?}");
    // `newest` takes the last `limit` records (still oldest first); `kind` and `from` filter too.
    let newest = w.admin(Method::GET, &format!("/audit?object={id}&limit=2&newest=true"), None).await.json();
    let newest: Vec<_> = newest.as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap().to_owned()).collect();
    assert_eq!(newest, actions[actions.len() - 2..]);
    let by_kind = w.admin(Method::GET, &format!("/audit?object={id}&kind=vault_entry"), None).await.json();
    assert_eq!(by_kind, serde_json::json!([]));
    let by_kind = w.admin(Method::GET, &format!("/audit?object={id}&kind=connection"), None).await.json();
    assert_eq!(by_kind.as_array().unwrap().len(), actions.len());
    let later = w.admin(Method::GET, &format!("/audit?object={id}&from=2999-01-01"), None).await.json();
    assert_eq!(later, serde_json::json!([]));
    let r = w.admin(Method::GET, "/audit?kind=table", None).await;
    assert_eq!(r.code(), "invalid");
    assert!(r.json()["detail"].as_str().unwrap().contains("unknown object kind \"table\""), "{:?}", r.json());
    let r = w.admin(Method::GET, "/audit?from=yesterday", None).await;
    assert_eq!(r.code(), "invalid");
    drop(w.control);
}

#[tokio::test]
async fn vault_entry_and_storage_routes() {
    let w = world().await;
    w.seed().await;
    let entries = w.admin(Method::GET, "/vault/entries?like=pg", None).await.json();
    assert_eq!(entries.as_array().unwrap().len(), 2);
    let entry = w.admin(Method::GET, "/vault/entries/pg_login", None).await;
    let id = entry.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(entry.json()["storage"]["name"], "local");
    assert_eq!(w.admin(Method::GET, &format!("/vault/entries/{id}"), None).await.json()["name"], "pg_login");

    let r = w
        .admin(
            Method::PUT,
            &format!("/vault/entries/{id}"),
            Some(json!({"actions": [{"set_secret": "rotated"}, {"set_description": "d"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["current_version"], 2);
    let r = w.admin(Method::PUT, "/vault/entries/pg_login", Some(json!({"actions": [{"rotate": null}]}))).await;
    assert_eq!(r.code(), "invalid");
    assert!(r.json()["detail"].as_str().unwrap().contains("CREDENTIAL"));

    let r = w
        .admin(Method::POST, "/vault/entries", Some(json!({"name": "k", "type": "ENCRYPTION_KEY", "generate": true})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["key_size"], 256);
    let r = w.admin(Method::PUT, "/vault/entries/k", Some(json!({"actions": [{"rotate": null}]}))).await;
    assert_eq!(r.json()["current_version"], 2);
    let r = w
        .admin(
            Method::POST,
            "/vault/entries",
            Some(json!({"name": "x", "type": "CREDENTIAL", "secret": "a", "generate": true})),
        )
        .await;
    assert_eq!(r.code(), "invalid");

    // Storages: list, describe, alter, test, drop; the seeded local one is protected.
    let storages = w.admin(Method::GET, "/vault/backends", None).await.json();
    let names: Vec<_> = storages.as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["local", "prod_aws_sm_eu"]);
    let r = w
        .admin(
            Method::PUT,
            "/vault/backends/prod_aws_sm_eu",
            Some(json!({"actions": [{"set_description": "eu"}, {"set_active": false}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["active"], false);
    let r = w.admin(Method::POST, "/vault/backends/local/test", None).await;
    assert_eq!(r.json()["result"], "PASSED", "{}", r.json());
    let r = w.admin(Method::POST, "/vault/backends/prod_aws_sm_eu/test", None).await;
    assert!(r.json()["steps"].as_array().is_some_and(|s| !s.is_empty()));
    assert_eq!(w.admin(Method::DELETE, "/vault/backends/local", None).await.code(), "conflict");
    assert_eq!(
        w.admin(Method::POST, "/vault/backends", Some(json!({"name": "l2", "type": "OS_KEYCHAIN"}))).await.code(),
        "invalid"
    );
    let r = w.admin(Method::POST, "/vault/backends", Some(json!({"name": "a", "type": "gcp"}))).await;
    assert!(r.json()["detail"].as_str().unwrap().contains("--features vault-gcp"), "{}", r.json());
    assert_eq!(w.admin(Method::DELETE, "/vault/backends/prod_aws_sm_eu", None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(w.admin(Method::DELETE, &format!("/vault/entries/{id}"), None).await.code(), "conflict");
}

/// One row of the route table of docs/http-api.md: method, path, permission (`none` for public routes) and the
/// status of a successful call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Documented {
    method: String,
    path: String,
    permission: String,
    success: u16,
}

/// The route table of docs/http-api.md, the contract.
fn documented() -> Vec<Documented> {
    let doc = include_str!("../../../docs/http-api.md");
    let rows: Vec<Documented> = doc
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let (method, path) = cells.first()?.trim_matches('`').split_once(' ')?;
            if !matches!(method, "GET" | "POST" | "PUT" | "DELETE") {
                return None;
            }
            let path = path.split(['[', '?']).next()?.to_owned();
            let success = cells.get(3)?.split_whitespace().next()?.parse().ok()?;
            Some(Documented { method: method.to_owned(), path, permission: cells.get(1)?.to_string(), success })
        })
        .collect();
    assert!(!rows.is_empty(), "docs/http-api.md has no route table");
    rows
}

/// The documented row of a route of the table.
fn documented_row(route: &lanyard_server::Route) -> Documented {
    let permission = match route.access {
        Access::Public => "none".to_owned(),
        Access::Requires(p, _) => p.as_str().to_owned(),
    };
    documented()
        .into_iter()
        .find(|d| d.method == route.method.as_str() && d.path == route.path && d.permission == permission)
        .unwrap_or_else(|| panic!("{} {} ({permission}) is not in docs/http-api.md", route.method, route.path))
}

#[test]
fn the_route_table_is_the_documented_one() {
    let mut documented: Vec<(String, String, String)> =
        documented().into_iter().map(|d| (d.method, d.path, d.permission)).collect();
    let mut served: Vec<(String, String, String)> = routes()
        .iter()
        .map(|r| {
            let d = documented_row(r);
            (d.method, d.path, d.permission)
        })
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(served.len(), documented.len(), "routes served vs documented in docs/http-api.md");
    assert_eq!(served, documented);
}

/// A concrete path for a route pattern, pointing at objects that exist.
fn concrete(path: &str) -> String {
    let id = if path.starts_with("/vault/backends/") { "prod_aws_sm_eu" } else { "pg_login" };
    let name = if path.contains("/pipelines/") {
        "events_pipeline"
    } else if path.starts_with("/databases/") {
        "analytics_link"
    } else {
        "prod_pg"
    };
    let path = path.replace("{db}", "analytics").replace("{name}", name).replace("{id}", id);
    // A point-in-time read needs its point: version 1 is kept for every object the world seeds.
    if path.ends_with("/as-of") { format!("{path}?version=1") } else { path }
}

/// CREATE PIPELINE `name` in `analytics`, reading through `pipeline_link` (not `analytics_link`, which the matrix
/// ALTERs: a pipeline started by the matrix would refuse that) into a table of `warehouse` (not `prod_pg`, which
/// tests drop).
fn pipeline_body(name: &str) -> Value {
    json!({"name": name, "link": "pipeline_link", "path": "bucket/events/", "connection": "warehouse", "table": "events"})
}

/// The body of a call of the route by `who`: creations make an object of their own per caller.
fn body_for(method: &Method, path: &str, who: &str) -> Option<Value> {
    let name = format!("matrix_{}", who.replace(' ', "_"));
    match (method.as_str(), path) {
        ("POST", "/connections") => Some(json!({"name": name, "type": "rest"})),
        ("PUT", "/connections/{name}") => Some(json!({"actions": [{"set_description": "m"}]})),
        ("POST", "/vault/entries") => Some(json!({"name": name, "type": "CREDENTIAL", "secret": "s"})),
        ("PUT", "/vault/entries/{id}") => Some(json!({"actions": [{"set_description": "m"}]})),
        ("POST", "/vault/backends") => Some(json!({"name": name, "type": "memory"})),
        ("PUT", "/vault/backends/{id}") => Some(json!({"actions": [{"set_description": "m"}]})),
        ("POST", "/databases") => Some(json!({"name": name})),
        ("POST", "/databases/{db}/links") => Some(json!({"name": name, "type": "S3"})),
        ("POST", "/databases/{db}/pipelines") => Some(pipeline_body(&name)),
        ("PUT", "/databases/{db}/links/{name}") => {
            Some(json!({"actions": [{"set_config_key": {"key": "region", "value": "us-east-1"}}]}))
        }
        _ => None,
    }
}

impl World {
    /// For a DELETE route, a fresh object with no dependents for `who` to drop, and the path that names it; for
    /// any other route, the concrete path.
    async fn target(&self, route: &lanyard_server::Route, who: &str) -> String {
        if route.method != Method::DELETE {
            return concrete(&route.path);
        }
        let name = format!("doomed_{}", who.replace(' ', "_"));
        let (collection, body) = match route.path.as_str() {
            "/connections/{name}" => ("/connections", json!({"name": name, "type": "rest"})),
            "/vault/entries/{id}" => ("/vault/entries", json!({"name": name, "type": "CREDENTIAL", "secret": "s"})),
            "/vault/backends/{id}" => ("/vault/backends", json!({"name": name, "type": "memory"})),
            "/databases/{db}" => ("/databases", json!({"name": name})),
            "/databases/{db}/links/{name}" => ("/databases/analytics/links", json!({"name": name, "type": "S3"})),
            "/databases/{db}/pipelines/{name}" => ("/databases/analytics/pipelines", pipeline_body(&name)),
            other => panic!("no disposable object for DELETE {other}"),
        };
        let r = self.admin(Method::POST, collection, Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
        format!("{collection}/{name}")
    }
}

#[tokio::test]
async fn link_routes_follow_the_seed() {
    let w = world().await;
    let created = w
        .admin(
            Method::POST,
            "/databases/default/links",
            Some(json!({"name": "analytics_link", "type": "S3", "config": {"disable_gunzip": false},
                "credentials": {"aws_access_key_id": "initial_key_id", "aws_secret_access_key": "initial_secret"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.headers[header::ETAG], "\"1\"");
    let link = created.json();
    assert_eq!((link["type"].as_str(), link["database"].as_str()), (Some("S3"), Some("default")));
    assert_eq!(link["credentials"], json!({"source": "link"}));
    let r = w
        .send(
            Method::PUT,
            "/databases/default/links/analytics_link",
            Some(&w.admin),
            Some(json!({"actions": [{"set_config_key": {"key": "region", "value": "us-east-1"}}]})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["config"], json!({"disable_gunzip": false, "region": "us-east-1"}));
    // A stale If-Match is 412 and changes nothing.
    let stale = w
        .send(
            Method::PUT,
            "/databases/default/links/analytics_link",
            Some(&w.admin),
            Some(json!({"actions": [{"set_config_json": {}}]})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!((stale.status, stale.code().as_str()), (StatusCode::PRECONDITION_FAILED, "precondition_failed"));
    let definition = w.admin(Method::GET, "/databases/default/links/analytics_link/create", None).await.json();
    assert_eq!(
        definition,
        json!({"link_name": "analytics_link", "version": 2, "create_link": concat!(
            "CREATE LINK `analytics_link` AS S3\n",
            "    CONFIG \"{\\\"disable_gunzip\\\":false,\\\"region\\\":\\\"us-east-1\\\"}\"\n",
            "    CREDENTIALS <CREDENTIALS REDACTED>")})
    );
    // OR REPLACE answers 200 and keeps the id; IF NOT EXISTS answers 200 unchanged.
    let replaced = w
        .admin(
            Method::POST,
            "/databases/default/links",
            Some(json!({"name": "analytics_link", "type": "s3", "or_replace": true, "credentials": {"k": "v"}})),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.json()["id"], link["id"]);
    let again = w
        .admin(
            Method::POST,
            "/databases/default/links",
            Some(json!({"name": "analytics_link", "type": "AZURE", "if_not_exists": true})),
        )
        .await;
    assert_eq!((again.status, again.json()["type"].as_str()), (StatusCode::OK, Some("S3")));
    let listed = w.admin(Method::GET, "/databases/default/links?like=ANALYTICS", None).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let r = w.admin(Method::GET, "/databases/elsewhere/links", None).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
    // Owned credentials are hidden from SHOW VAULTS.
    let entries = w.admin(Method::GET, "/vault/entries", None).await.json();
    assert_eq!(entries, json!([]));
    let r = w.admin(Method::DELETE, "/databases/default/links/analytics_link", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = w.admin(Method::GET, "/databases/default/links/analytics_link", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(w.audit_actions("link.").await, ["link.create", "link.alter", "link.create", "link.drop"]);
}

#[tokio::test]
async fn database_routes_create_list_and_drop() {
    let w = world().await;
    let names = |reply: &Reply| -> Vec<String> {
        reply.json().as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_owned()).collect()
    };
    let seeded = w.admin(Method::GET, "/databases", None).await;
    assert_eq!(seeded.status, StatusCode::OK);
    assert_eq!(
        seeded.json(),
        json!([{"id": "00000000-0000-0000-0000-000000000002", "name": "default",
            "created_at": "1970-01-01T00:00:00.000000Z", "version": 1}])
    );

    // CREATE DATABASE: 201 with an ETag; again 409; with if_not_exists 200 and the same database.
    let created = w.admin(Method::POST, "/databases", Some(json!({"name": "analytics"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(created.headers[header::ETAG], "\"1\"");
    let database = created.json();
    assert_eq!((database["name"].as_str(), database["version"].as_i64()), (Some("analytics"), Some(1)));
    let again = w.admin(Method::POST, "/databases", Some(json!({"name": "analytics"}))).await;
    assert_eq!((again.status, again.code().as_str()), (StatusCode::CONFLICT, "already_exists"));
    let found = w.admin(Method::POST, "/databases", Some(json!({"name": "analytics", "if_not_exists": true}))).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.json(), database);
    // The empty database answers its links route (what USE asks).
    assert_eq!(w.admin(Method::GET, "/databases/analytics/links", None).await.json(), json!([]));
    assert_eq!(names(&w.admin(Method::GET, "/databases", None).await), ["analytics", "default"]);
    assert_eq!(names(&w.admin(Method::GET, "/databases?like=ANA", None).await), ["analytics"]);

    // DROP: refused while a link lives in the database (naming it), for `default`, for an unknown database and
    // at a stale version; then 204, and the database's routes answer 404.
    let r = w.admin(Method::POST, "/databases/analytics/links", Some(json!({"name": "l", "type": "S3"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let busy = w.admin(Method::DELETE, "/databases/analytics", None).await;
    assert_eq!((busy.status, busy.code().as_str()), (StatusCode::CONFLICT, "conflict"));
    assert_eq!(
        busy.json()["detail"],
        "cannot drop database \"analytics\": it still holds link analytics.l; drop it first"
    );
    let default = w.admin(Method::DELETE, "/databases/default", None).await;
    assert_eq!((default.status, default.code().as_str()), (StatusCode::CONFLICT, "conflict"));
    assert!(default.json()["detail"].as_str().unwrap().contains("cannot be dropped"), "{}", default.json());
    let unknown = w.admin(Method::DELETE, "/databases/nowhere", None).await;
    assert_eq!((unknown.status, unknown.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(unknown.json()["detail"], "database \"nowhere\" does not exist (CREATE DATABASE nowhere creates it)");
    assert_eq!(w.admin(Method::DELETE, "/databases/analytics/links/l", None).await.status, StatusCode::NO_CONTENT);
    let stale = w.send(Method::DELETE, "/databases/analytics", Some(&w.admin), None, &[("if-match", "\"2\"")]).await;
    assert_eq!((stale.status, stale.code().as_str()), (StatusCode::PRECONDITION_FAILED, "precondition_failed"));
    let r = w.send(Method::DELETE, "/databases/analytics", Some(&w.admin), None, &[("if-match", "\"1\"")]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(w.admin(Method::GET, "/databases/analytics/links", None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(names(&w.admin(Method::GET, "/databases", None).await), ["default"]);

    assert_eq!(w.audit_actions("database.").await, ["database.create", "database.drop"]);
}

#[tokio::test]
async fn authorization_matrix_covers_every_route() {
    let w = world().await;
    w.seed().await;
    let table = routes();
    assert_eq!(table.len(), documented().len(), "the route table against docs/http-api.md");
    for route in &table {
        let success = StatusCode::from_u16(documented_row(route).success).unwrap();
        let callers: [(&str, Option<&str>, Option<Role>); 6] = [
            ("no token", None, None),
            ("bad token", Some("lyd_not-a-real-token"), None),
            ("revoked token", Some(&w.revoked), None),
            ("viewer", Some(&w.viewer), Some(Role::Viewer)),
            ("operator", Some(&w.operator), Some(Role::Operator)),
            ("admin", Some(&w.admin), Some(Role::Admin)),
        ];
        for (who, token, role) in callers {
            let path = w.target(route, who).await;
            let body = body_for(&route.method, &route.path, who);
            let audit_before = w.audit_len().await;
            let r = w.send(route.method.clone(), &path, token, body, &[]).await;
            let what = format!("{} {path} as {who}: {} {}", route.method, r.status, String::from_utf8_lossy(&r.body));
            match (route.access, role) {
                (Access::Public, _) => assert_eq!(r.status, success, "{what}"),
                (Access::Requires(..), None) => {
                    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(r.code(), "unauthenticated");
                    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
                }
                (Access::Requires(permission, action), Some(role)) if !permission.granted_to(role) => {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
                    assert!(r.json()["detail"].as_str().unwrap().contains(permission.as_str()), "{what}");
                    // The denial is audited.
                    let audit = w.admin(Method::GET, "/audit?limit=1000", None).await.json();
                    let audit = audit.as_array().unwrap();
                    assert_eq!(audit.len(), audit_before + 1, "{what}");
                    assert_eq!(audit.last().unwrap()["outcome"], "denied");
                    assert_eq!(audit.last().unwrap()["action"], action.as_str(), "{what}");
                }
                // Allowed: the documented status of a successful call, nothing less.
                (Access::Requires(..), Some(_)) => assert_eq!(r.status, success, "{what}"),
            }
        }
    }
    // Every permission of the spec is used by some route.
    for p in Permission::ALL {
        assert!(table.iter().any(|r| matches!(r.access, Access::Requires(q, _) if q == p)), "{p}");
    }
}

#[tokio::test]
async fn openapi_describes_exactly_the_route_table() {
    let w = world().await;
    let r = w.send(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    let mut described: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            described.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut table: Vec<(String, String)> = routes().iter().map(|r| (r.method.to_string(), r.path.clone())).collect();
    described.sort();
    table.sort();
    assert_eq!(described, table);
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // The bearer requirement comes from each route's access rule; every body a route names is a component.
    for route in routes() {
        let operation = &doc["paths"][&route.path][route.method.as_str().to_lowercase()];
        let secured = operation["security"] == json!([{"bearer": []}]);
        assert_eq!(secured, route.access != Access::Public, "{} {}: {operation}", route.method, route.path);
    }
    for schema in [
        "Connection",
        "CreateConnection",
        "AlterConnection",
        "Entry",
        "Backend",
        "Database",
        "CreateDatabase",
        "Pipeline",
        "CreatePipeline",
        "PipelineFile",
        "AuditRecord",
        "Problem",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem_never_a_5xx() {
    let w = world().await;
    w.seed().await;
    let token = w.admin.clone();
    let raw_bodies: Vec<(&str, Vec<u8>)> = vec![
        ("malformed JSON", b"{\"name\": ".to_vec()),
        ("not an object", b"[1,2,3]".to_vec()),
        ("wrong type", br#"{"name": 5, "type": "s3"}"#.to_vec()),
        ("unknown field", br#"{"name": "x", "type": "s3", "colour": "red"}"#.to_vec()),
        ("option not a string", br#"{"name": "x", "type": "s3", "options": {"a": 1}}"#.to_vec()),
        ("invalid UTF-8", vec![b'{', 0xff, 0xfe, b'}']),
        ("huge body", json!({"name": "x".repeat(2 << 20), "type": "s3"}).to_string().into_bytes()),
    ];
    for (what, body) in raw_bodies {
        for path in ["/connections", "/vault/entries", "/vault/backends", "/databases", "/databases/default/links"] {
            let r = w.raw(Method::POST, path, Some(&token), Some(body.clone()), &[]).await;
            assert!(r.status.is_client_error(), "{what} on {path}: {}", r.status);
            assert!(r.is_problem(), "{what} on {path}");
            if what == "huge body" {
                assert_eq!((r.status, r.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
            }
        }
    }
    let odd_names = [
        "",
        " lead",
        "trail ",
        &"n".repeat(10_000),
        "tab\there",
        "nul\0",
        "naïve-ünïcödé-名前",
        "x'; DROP TABLE external_connections; --",
        "../../etc/passwd",
        "%2F",
    ];
    for name in odd_names {
        let r = w.admin(Method::POST, "/connections", Some(json!({"name": name, "type": "s3"}))).await;
        assert!(!r.status.is_server_error(), "{name:?}: {}", r.status);
        assert!(r.status.is_success() || r.is_problem(), "{name:?}");
        let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
        for method in [Method::GET, Method::DELETE] {
            let r = w.send(method.clone(), &format!("/connections/{encoded}"), Some(&token), None, &[]).await;
            assert!(!r.status.is_server_error(), "{method} {name:?}: {}", r.status);
        }
        let r = w.admin(Method::PUT, "/connections/prod_pg", Some(json!({"actions": [{"rename_to": name}]}))).await;
        assert!(!r.status.is_server_error(), "rename to {name:?}");
        if r.status.is_success() {
            let back = w
                .admin(
                    Method::PUT,
                    &format!("/connections/{encoded}"),
                    Some(json!({"actions": [{"rename_to": "prod_pg"}]})),
                )
                .await;
            assert_eq!(back.status, StatusCode::OK);
        }
    }
    let wrong = [
        json!({"actions": []}),
        json!({"actions": [{}]}),
        json!({"actions": [{"set_option": {"key": "k"}}]}),
        json!({"actions": [{"set_options": {"password": "x"}}]}),
        json!({"actions": [{"set_max_connections": -1}]}),
        json!({"actions": [{"set_timeout": "soon"}]}),
        json!({"actions": [{"rename_to": "a", "set_credential": "b"}]}),
        json!({"actions": "rename"}),
    ];
    for body in wrong {
        let r = w.admin(Method::PUT, "/connections/prod_pg", Some(body.clone())).await;
        assert!(r.status.is_client_error() && r.is_problem(), "{body}: {}", r.status);
    }
    let wrong_links = [
        json!({"name": "l", "type": "S3", "config": "{}"}),
        json!({"name": "l", "type": "S3", "config": {"password": "x"}}),
        json!({"name": "l", "type": "S3", "credentials": "not an object"}),
        json!({"name": "l", "type": "S3", "credentials": [1]}),
        json!({"name": "l", "type": "S3", "credentials": {"a": "b"}, "credentials_entry": "pg_login"}),
        json!({"name": "l", "type": "SFTP"}),
        json!({"name": "l", "type": "S3", "or_replace": true, "if_not_exists": true}),
    ];
    for body in wrong_links {
        let r = w.admin(Method::POST, "/databases/default/links", Some(body.clone())).await;
        assert!(r.status.is_client_error() && r.is_problem(), "{body}: {}", r.status);
    }
    for body in [
        json!({"actions": []}),
        json!({"actions": [{"set_config_json": {}}, {"set_config_key": {"key": "a", "value": 1}}]}),
        json!({"actions": [{"set_credentials_json": {}}, {"set_credentials_entry": "pg_login"}]}),
        json!({"actions": [{"set_credentials_key": {"key": "a", "value": 1}}]}),
    ] {
        let r = w.admin(Method::PUT, "/databases/analytics/links/analytics_link", Some(body.clone())).await;
        assert!(r.status.is_client_error() && r.is_problem(), "{body}: {}", r.status);
    }
    for body in [json!({}), json!({"name": 5}), json!({"name": ""}), json!({"name": "d", "if_not_exists": "yes"})] {
        let r = w.admin(Method::POST, "/databases", Some(body.clone())).await;
        assert!(r.status.is_client_error() && r.is_problem(), "{body}: {}", r.status);
    }
    for path in ["/databases/%00/links", "/databases/nowhere/links/x", "/databases/analytics/links/%20x/create"] {
        let r = w.send(Method::GET, path, Some(&token), None, &[]).await;
        assert!(r.status.is_client_error() && r.is_problem(), "{path}: {}", r.status);
    }
    for (headers, path) in [
        (&[("if-match", "yesterday")][..], "/connections/prod_pg"),
        (&[][..], "/audit?limit=0"),
        (&[][..], "/audit?since=x"),
        (&[][..], "/connections?colour=red"),
    ] {
        let r = w
            .send(
                if path.starts_with("/connections/") { Method::PUT } else { Method::GET },
                path,
                Some(&token),
                Some(json!({"actions": [{"set_description": "x"}]})),
                headers,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path} {headers:?}");
    }
    let r = w.send(Method::PATCH, "/connections/prod_pg", Some(&token), None, &[]).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    assert!(r.is_problem());
    assert_eq!(r.json()["status"], 405, "the problem's status is the response's");
    let r = w.send(Method::GET, "/nowhere", Some(&token), None, &[]).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn canary_never_leaves_the_server() {
    let w = world().await;
    let canary = format!("canary-{}", uuid::Uuid::new_v4());
    let mut replies = Vec::new();
    replies.push(
        w.admin(Method::POST, "/vault/entries", Some(json!({"name": "c", "type": "CREDENTIAL", "secret": canary})))
            .await,
    );
    replies.push(
        w.admin(Method::PUT, "/vault/entries/c", Some(json!({"actions": [{"set_secret": format!("{canary}-2")}]})))
            .await,
    );
    replies.push(
        w.admin(
            Method::POST,
            "/vault/entries",
            Some(json!({"name": "bad", "type": "CREDENTIAL", "secret": canary, "key_size": "many"})),
        )
        .await,
    );
    replies.push(
        w.admin(
            Method::POST,
            "/vault/entries",
            Some(json!({"name": "bad", "type": "CREDENTIAL", "secret": {"nested": canary}})),
        )
        .await,
    );
    replies.push(
        w.admin(
            Method::POST,
            "/connections",
            Some(
                json!({"name": "c", "type": "rest", "credential": "c", "options": {"endpoint": "https://api.example"}}),
            ),
        )
        .await,
    );
    replies.push(
        w.admin(
            Method::POST,
            "/connections",
            Some(json!({"name": "d", "type": "rest", "options": {"api_token": canary}})),
        )
        .await,
    );
    replies.push(
        w.admin(Method::POST, "/connections", Some(json!({"name": "e", "type": "rest", "max_connections": canary})))
            .await,
    );
    replies.push(w.admin(Method::POST, "/connections/c/test", None).await);
    let link = json!({"name": "l", "type": "S3", "credentials": {"aws_secret_access_key": canary}});
    replies.push(w.admin(Method::POST, "/databases/default/links", Some(link)).await);
    let broken = format!(r#"{{"name": "l2", "type": "S3", "credentials": {{"k": "{canary}"}}"#);
    replies.push(w.raw(Method::POST, "/databases/default/links", Some(&w.admin), Some(broken.into_bytes()), &[]).await);
    let alter = json!({"actions": [{"set_credentials_key": {"key": "aws_access_key_id", "value": canary}}]});
    replies.push(w.admin(Method::PUT, "/databases/default/links/l", Some(alter)).await);
    let in_config = json!({"actions": [{"set_config_key": {"key": "secret_key", "value": canary}}]});
    replies.push(w.admin(Method::PUT, "/databases/default/links/l", Some(in_config)).await);
    // Secrets in the wrong shape: serde's messages would echo them.
    let digits: String = canary.chars().filter(char::is_ascii_digit).collect();
    let numeric =
        format!(r#"{{"actions":[{{"set_credentials_key":{{"key":"aws_secret_access_key","value":9{digits}}}}}]}}"#);
    replies
        .push(w.raw(Method::PUT, "/databases/default/links/l", Some(&w.admin), Some(numeric.into_bytes()), &[]).await);
    let escaped = format!(r#"{{"actions":[{{"set_credentials_key":"ab\"{canary}"}}]}}"#);
    replies
        .push(w.raw(Method::PUT, "/databases/default/links/l", Some(&w.admin), Some(escaped.into_bytes()), &[]).await);
    let nested = json!({"actions": [{"set_credentials_key": {"key": "k", "value": {"inner": canary}}}]});
    replies.push(w.admin(Method::PUT, "/databases/default/links/l", Some(nested)).await);
    replies.push(w.admin(Method::GET, "/databases/default/links", None).await);
    replies.push(w.admin(Method::GET, "/databases/default/links/l", None).await);
    replies.push(w.admin(Method::GET, "/databases/default/links/l/create", None).await);
    replies.push(w.admin(Method::POST, "/databases/default/links/l/test", None).await);
    replies.push(w.admin(Method::GET, "/vault/entries", None).await);
    replies.push(w.admin(Method::GET, "/vault/entries/c", None).await);
    replies.push(w.admin(Method::GET, "/audit?limit=1000", None).await);
    replies.push(w.send(Method::GET, "/metrics", None, None, &[]).await);
    for (i, r) in replies.iter().enumerate() {
        let body = String::from_utf8_lossy(&r.body);
        let secret_part = &canary["canary-".len()..];
        assert!(!body.contains(secret_part), "reply {i} leaks the canary: {body}");
        let digits: String = canary.chars().filter(char::is_ascii_digit).collect();
        assert!(!body.contains(&digits), "reply {i} leaks the canary's digits: {body}");
        for (name, value) in &r.headers {
            assert!(
                !value.to_str().unwrap_or_default().contains(secret_part),
                "reply {i} header {name} leaks the canary"
            );
        }
    }
    assert!(replies[5].code() == "invalid", "a secret-looking connection option is refused");
}

#[tokio::test]
async fn metrics_and_health_are_public_and_requests_carry_ids() {
    let w = world().await;
    w.seed().await;
    let r = w.send(Method::GET, "/healthz", None, None, &[("x-request-id", "abc-123")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.get("x-request-id").unwrap(), "abc-123");
    let r = w.admin(Method::GET, "/connections", None).await;
    assert!(uuid::Uuid::parse_str(r.headers.get("x-request-id").unwrap().to_str().unwrap()).is_ok());
    w.admin(Method::POST, "/connections/prod_pg/test", None).await;
    let text = String::from_utf8(w.send(Method::GET, "/metrics", None, None, &[]).await.body).unwrap();
    assert!(
        text.contains("lanyard_http_requests_total{method=\"GET\",route=\"/connections\",status=\"200\"}"),
        "{text}"
    );
    assert!(text.contains("lanyard_resolve_resolves_total"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
}

/// 8 clients × 200 random ALTERs on three rows: every acknowledged change is in the final state, which equals a
/// serial replay of the acknowledged requests in commit order (each response's version is its commit position).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_alters_lose_no_update() {
    let w = std::sync::Arc::new(world().await);
    let rows = ["r0", "r1", "r2"];
    for row in rows {
        let r = w.admin(Method::POST, "/connections", Some(json!({"name": row, "type": "rest"}))).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let mut tasks = Vec::new();
    for client in 0..8u64 {
        let w = std::sync::Arc::clone(&w);
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut seed = client.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for n in 0..200u64 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let row = rows[usize::try_from(seed % 3).unwrap()];
                let key = format!("k{}", seed % 5);
                let action = if seed % 7 == 0 {
                    json!({"set_options": {key.clone(): format!("{client}.{n}")}})
                } else {
                    json!({"set_option": {"key": key, "value": format!("{client}.{n}")}})
                };
                let r = w
                    .admin(Method::PUT, &format!("/connections/{row}"), Some(json!({"actions": [action.clone()]})))
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
                acknowledged.push((row, r.json()["version"].as_i64().unwrap(), action));
            }
            acknowledged
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_by_key(|(row, version, _)| (*row, *version));
    for row in rows {
        let mut expected = serde_json::Map::new();
        let mut versions = Vec::new();
        for (_, version, action) in all.iter().filter(|(r, _, _)| *r == row) {
            versions.push(*version);
            if let Some(map) = action.get("set_options") {
                expected = map.as_object().unwrap().clone();
            } else {
                let kv = &action["set_option"];
                expected.insert(kv["key"].as_str().unwrap().to_owned(), kv["value"].clone());
            }
        }
        let expected_versions: Vec<i64> = (2..2 + i64::try_from(versions.len()).unwrap()).collect();
        assert_eq!(versions, expected_versions, "every acknowledged change of {row} has its own version");
        let stored = w.admin(Method::GET, &format!("/connections/{row}"), None).await.json();
        assert_eq!(stored["options"], Value::Object(expected), "{row}");
    }
}

/// The most round trips to the catalog one `PUT /connections/{name}` with one `set_option` may cost on SQLite, once
/// the token's last use is recorded (at most once a minute): the token's row (read again because the previous PUT
/// committed), BEGIN, the connection's row, the versioned UPDATE with its reference checks, its audit row and the
/// read-back of the names its answer shows (one batch), COMMIT. It was 10 before the checks and the audit row were
/// folded into the UPDATE.
const PUT_ROUND_TRIPS_SQLITE: u64 = 5;

/// The same on PostgreSQL: no BEGIN and no COMMIT (`lanyard_catalog::optimistic!`), and no read of the connection's
/// row, since this node wrote it last (the warm-up PUT) and the UPDATE checks its version: the token's row with the
/// catalog's stamp, then the UPDATE with its checks, its audit row and the names its answer shows in one statement.
/// It was 3 with the read.
const PUT_ROUND_TRIPS_POSTGRES: u64 = 2;

/// Issue 18, "fewer statements per write": a PUT costs at most [`PUT_ROUND_TRIPS_SQLITE`] or
/// [`PUT_ROUND_TRIPS_POSTGRES`], counted by the catalog itself, for a connection that refers to a credential entry
/// and a credential storage (whose names its answer shows), and the answer is what a read afterwards shows.
async fn a_put_costs_few_round_trips(kind: lanyard_testsupport::DatabaseKind) {
    let w = world_on(kind).await;
    let r = w
        .admin(
            Method::POST,
            "/vault/entries",
            Some(json!({"name": "login", "type": "CREDENTIAL", "secret": "s", "expires": "2020-01-01"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let body = json!({"name": "api", "type": "rest", "options": {"endpoint": "http://127.0.0.1:9/"},
        "credential": "login", "credential_storage": "local"});
    let r = w.admin(Method::POST, "/connections", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let put = |value: &str| json!({"actions": [{"set_option": {"key": "k", "value": value}}]});
    let r = w.admin(Method::PUT, "/connections/api", Some(put("warm-up"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));

    let catalog = w.control.catalog();
    let before = catalog.round_trips();
    let r = w.admin(Method::PUT, "/connections/api", Some(put("v"))).await;
    let spent = catalog.round_trips() - before;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let most = match kind {
        lanyard_testsupport::DatabaseKind::Sqlite => PUT_ROUND_TRIPS_SQLITE,
        lanyard_testsupport::DatabaseKind::Postgres => PUT_ROUND_TRIPS_POSTGRES,
    };
    assert!(spent <= most, "a PUT of one set_option cost {spent} round trips on {kind:?}, not at most {most}");

    let put = r.json();
    assert_eq!(put["version"], 3);
    assert_eq!(r.etag(), "\"3\"");
    assert_eq!(put["options"]["k"], "v");
    assert_eq!(put["credential"]["name"], "login");
    assert_eq!(put["credential_storage"]["name"], "local");
    assert_eq!(put["credential_expires_at"], "2020-01-01T00:00:00.000000Z");
    assert_eq!(put["warnings"][0]["code"], "credential_expired", "{put}");
    let mut got = w.admin(Method::GET, "/connections/api", None).await.json();
    let mut put = put;
    put.as_object_mut().unwrap().remove("warnings");
    got.as_object_mut().unwrap().remove("warnings");
    assert_eq!(put, got, "the PUT answers what a GET then reads");
    let audit = w.admin(Method::GET, "/audit?object=api&limit=1000", None).await.json();
    let last = audit.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["detail"]["to_version"].as_i64()),
        (Some("connection.alter"), Some(3)),
        "{last}"
    );
}

/// `GET /connections/{name}` answers bytes kept beside the catalog row they were made from, and only while the catalog
/// hands out that row: a change to the connection, to the name of the entry it refers to (another table; the
/// connection's own row is unchanged), and a change made by another handle on the catalog (another node) all show in
/// the next GET, and an unchanged connection answers the same bytes as before.
async fn get_answers_change_with_everything_they_show(kind: lanyard_testsupport::DatabaseKind) {
    let w = world_on(kind).await;
    let r = w
        .admin(Method::POST, "/vault/entries", Some(json!({"name": "login", "type": "CREDENTIAL", "secret": "s"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let body = json!({"name": "api", "type": "rest", "options": {"endpoint": "http://127.0.0.1:9/"},
        "credential": "login", "credential_storage": "local"});
    assert_eq!(w.admin(Method::POST, "/connections", Some(body)).await.status, StatusCode::CREATED);
    let first = w.admin(Method::GET, "/connections/api", None).await;
    let again = w.admin(Method::GET, "/connections/api", None).await;
    assert_eq!((first.status, &first.body), (again.status, &again.body), "an unchanged connection changed its answer");
    assert_eq!(again.etag(), "\"1\"");

    let put = json!({"actions": [{"set_option": {"key": "k", "value": "v"}}]});
    assert_eq!(w.admin(Method::PUT, "/connections/api", Some(put)).await.status, StatusCode::OK);
    let got = w.admin(Method::GET, "/connections/api", None).await;
    assert_eq!((got.json()["options"]["k"].clone(), got.etag()), (json!("v"), "\"2\"".to_owned()));

    let rename = json!({"actions": [{"rename_to": "login_v2"}]});
    let r = w.admin(Method::PUT, "/vault/entries/login", Some(rename)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let got = w.admin(Method::GET, "/connections/api", None).await.json();
    assert_eq!((got["credential"]["name"].clone(), got["version"].clone()), (json!("login_v2"), json!(2)), "{got}");

    // Another handle on the same catalog, as another node (or `lanyard sql --embedded`) would be.
    let other = lanyard_catalog::Catalog::open(&w.catalog_url).await.unwrap();
    let (mut row, ..) = (*other.find_connection("api").await.unwrap().unwrap()).clone();
    row.description = Some("changed elsewhere".to_owned());
    other.update(row).await.unwrap();
    let got = w.admin(Method::GET, "/connections/api", None).await.json();
    assert_eq!((got["description"].clone(), got["version"].clone()), (json!("changed elsewhere"), json!(3)), "{got}");
    other.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_answers_change_with_everything_they_show_on_sqlite() {
    get_answers_change_with_everything_they_show(lanyard_testsupport::DatabaseKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_answers_change_with_everything_they_show_on_postgres() {
    get_answers_change_with_everything_they_show(lanyard_testsupport::DatabaseKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_costs_few_round_trips_on_sqlite() {
    a_put_costs_few_round_trips(lanyard_testsupport::DatabaseKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_costs_few_round_trips_on_postgres() {
    a_put_costs_few_round_trips(lanyard_testsupport::DatabaseKind::Postgres).await;
}

/// The writes that can warn carry `warnings: [{code, message}]`, left out when empty and never on reads; the
/// connection view shows its credential's expiry; an entry with no material is refused for HTTP clients too.
#[tokio::test]
async fn writes_carry_warnings_and_an_entry_needs_material() {
    let w = world().await;
    let r = w
        .admin(
            Method::POST,
            "/vault/entries",
            Some(json!({"name": "old", "type": "CREDENTIAL", "secret": "s", "expires": "2020-01-01"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let warnings = r.json()["warnings"].clone();
    assert_eq!(warnings.as_array().map(Vec::len), Some(1), "{warnings}");
    assert_eq!(warnings[0]["code"], "expired");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(message.starts_with(r#"vault entry "old" expired "#), "{message}");
    let r = w.admin(Method::PUT, "/vault/entries/old", Some(json!({"actions": [{"set_description": "d"}]}))).await;
    assert_eq!(r.json()["warnings"][0]["code"], "expired");
    let r =
        w.admin(Method::POST, "/vault/entries", Some(json!({"name": "ok", "type": "CREDENTIAL", "secret": "s"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.json().get("warnings").is_none(), "no warnings, no field: {}", r.json());
    assert!(w.admin(Method::GET, "/vault/entries/old", None).await.json().get("warnings").is_none());

    let body =
        json!({"name": "api", "type": "rest", "options": {"endpoint": "http://127.0.0.1:9/"}, "credential": "old"});
    let r = w.admin(Method::POST, "/connections", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let created = r.json();
    assert_eq!(created["credential_expires_at"], "2020-01-01T00:00:00.000000Z");
    assert_eq!(created["warnings"][0]["code"], "credential_expired", "{created}");
    let r = w.admin(Method::PUT, "/connections/api", Some(json!({"actions": [{"set_description": "d"}]}))).await;
    assert_eq!(r.json()["warnings"][0]["code"], "credential_expired");
    let r = w.admin(Method::POST, "/connections/api/test", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["warnings"][0]["code"], "credential_expired", "{}", r.json());
    assert!(r.json()["connection"].get("warnings").is_none());
    let got = w.admin(Method::GET, "/connections/api", None).await.json();
    assert_eq!(
        (got["credential_expires_at"].as_str(), got.get("warnings")),
        (Some("2020-01-01T00:00:00.000000Z"), None)
    );
    let listed = w.admin(Method::GET, "/connections", None).await.json();
    assert_eq!(listed[0]["credential_expires_at"], "2020-01-01T00:00:00.000000Z");

    let r = w.admin(Method::POST, "/vault/entries", Some(json!({"name": "k2", "type": "ENCRYPTION_KEY"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid".to_owned()));
    assert_eq!(
        r.json()["detail"],
        "vault entry \"k2\" has no material; give it one of SECRET '<value>', GENERATE or LINKED EXTERNAL SECRET \
         '<external_name>' (an entry without material can never be resolved)"
    );
    assert_eq!(w.admin(Method::GET, "/vault/entries/k2", None).await.code(), "not_found");

    let doc = w.send(Method::GET, "/openapi.json", None, None, &[]).await.json();
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["Warning"]["properties"]["code"].is_object(), "{}", schemas["Warning"]);
    for schema in ["Entry", "Connection", "TestResult"] {
        assert!(schemas[schema]["properties"]["warnings"].is_object(), "{schema}: {}", schemas[schema]);
    }
}

/// Issue 17, point 7: If-Match compares strong ETags only and a malformed one is refused; a request carries exactly one
/// Authorization header; no JSON object in a body repeats a key (top level or nested), and nothing is applied.
#[tokio::test]
async fn if_match_authorization_and_json_keys_are_read_strictly() {
    let w = world().await;
    w.seed().await;
    let token = w.admin.clone();
    let current = w.admin(Method::GET, "/connections/prod_pg", None).await;
    let version = current.json()["version"].as_i64().unwrap();
    assert_eq!(current.etag(), format!("\"{version}\""));
    let body = json!({"actions": [{"set_option": {"key": "k", "value": "v"}}]});
    let world = &w;
    let put = |if_match: String| {
        let (token, body) = (token.clone(), body.clone());
        async move {
            let headers = [("if-match", if_match.as_str())];
            world.send(Method::PUT, "/connections/prod_pg", Some(&token), Some(body), &headers).await
        }
    };
    for (value, detail) in [
        (format!("\"{version}"), "If-Match must be * or an ETag of this API"),
        (format!("{version}x"), "If-Match must be * or an ETag of this API"),
        (format!("W/\"{version}\""), "is a weak ETag"),
        (format!("\"{version}\", \"{}\"", version + 1), "lists several ETags"),
    ] {
        let r = put(value.clone()).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "invalid"), "{value}");
        assert!(r.json()["detail"].as_str().unwrap().contains(detail), "{value}: {}", r.json());
    }
    let r = put("\"abc\"".to_owned()).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::PRECONDITION_FAILED, "precondition_failed"));
    let both = w
        .send(
            Method::DELETE,
            "/connections/prod_pg",
            Some(&token),
            None,
            &[("if-match", &current.etag()), ("if-match", &current.etag())],
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST, "two If-Match headers");
    assert!(both.json()["detail"].as_str().unwrap().contains("2 If-Match headers"), "{}", both.json());
    // Nothing above changed the connection.
    assert_eq!(w.admin(Method::GET, "/connections/prod_pg", None).await.json()["version"], version);

    // Exactly one Authorization header: a second one, even a valid token twice, is refused; so is another scheme.
    let two = w.send(Method::GET, "/connections", Some(&token), None, &[("authorization", "Bearer lyd_other")]).await;
    assert_eq!((two.status, two.code().as_str()), (StatusCode::BAD_REQUEST, "invalid"));
    assert!(two.json()["detail"].as_str().unwrap().contains("2 Authorization headers"), "{}", two.json());
    let bearer = format!("Bearer {token}");
    let twice = [("authorization", bearer.as_str()), ("authorization", bearer.as_str())];
    assert_eq!(w.send(Method::GET, "/connections", None, None, &twice).await.status, StatusCode::BAD_REQUEST);
    let glued = format!("Bearer{token}");
    for value in ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer a b", glued.as_str()] {
        let r = w.send(Method::GET, "/connections", None, None, &[("authorization", value)]).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthenticated"), "{value}");
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE), "{value}");
    }
    let lower = format!("bearer  {token}");
    let lower = w.send(Method::GET, "/connections", None, None, &[("authorization", &lower)]).await;
    assert_eq!(lower.status, StatusCode::OK, "the scheme is case-insensitive, several spaces allowed");

    // Repeated JSON keys, at the top level and inside options or actions, are 400 naming the key; nothing is created.
    let bodies: [(&str, &[u8]); 4] = [
        ("top level", br#"{"name": "dup", "type": "s3", "name": "dup2"}"#),
        ("options", br#"{"name": "dup", "type": "s3", "options": {"bucket": "a", "bucket": "b"}}"#),
        ("escaped", br#"{"name": "dup", "type": "s3", "options": {"bucket": "a", "\u0062ucket": "b"}}"#),
        (
            "description",
            br#"{"name": "dup", "type": "s3", "options": {"a": "1"}, "description": "d", "description": "e"}"#,
        ),
    ];
    for (what, body) in bodies {
        let r = w.raw(Method::POST, "/connections", Some(&token), Some(body.to_vec()), &[]).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "invalid"), "{what}");
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("duplicate"), "{what}: {detail}");
        assert_eq!(w.admin(Method::GET, "/connections/dup", None).await.status, StatusCode::NOT_FOUND, "{what}");
    }
    let alter = br#"{"actions": [{"set_option": {"key": "k", "value": "v", "value": "w"}}]}"#.to_vec();
    let r = w.raw(Method::PUT, "/connections/prod_pg", Some(&token), Some(alter), &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let secret = br#"{"name": "e", "type": "CREDENTIAL", "secret": "hunter2-canary", "secret": "hunter3-canary"}"#;
    let r = w.raw(Method::POST, "/vault/entries", Some(&token), Some(secret.to_vec()), &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!String::from_utf8_lossy(&r.body).contains("canary"), "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(w.admin(Method::GET, "/connections/prod_pg", None).await.json()["version"], version);
}

/// The document served at `/openapi.json`.
async fn openapi_document() -> Value {
    let w = world().await;
    let r = w.send(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    r.json()
}

/// Follows a `$ref` of the document (one level).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/").expect("a schema reference");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn every_operation_lists_the_answers_its_access_rule_and_shape_imply() {
    let doc = openapi_document().await;
    for route in routes() {
        let label = format!("{} {}", route.method, route.path);
        let operation = &doc["paths"][&route.path][route.method.as_str().to_lowercase()];
        let responses = operation["responses"].as_object().unwrap();
        let has = |status: u16| responses.contains_key(&status.to_string());
        let secured = route.access != Access::Public;
        let body = operation["requestBody"].is_object();
        let templated = route.path.contains('{');
        let reads_if_match = route.method == Method::PUT || route.method == Method::DELETE;
        assert_eq!(has(401), secured, "{label}: 401");
        assert_eq!(has(403), secured, "{label}: 403");
        assert_eq!(has(503), secured || route.path == "/healthz", "{label}: 503");
        assert_eq!(has(404), templated || body, "{label}: 404");
        assert_eq!(has(412), reads_if_match, "{label}: 412");
        assert_eq!(has(413), body, "{label}: 413");
        assert!(!has(415), "{label}: the server answers a body without Content-Type: application/json with 400");
        assert_eq!(has(400), secured || body || templated || operation["parameters"].is_array(), "{label}: 400");
        for status in [408, 414, 431] {
            assert!(has(status), "{label}: {status}, which the HTTP stack answers for any route");
        }
        if let Access::Requires(_, action) = route.access {
            let writes = ["create", "alter", "drop", "start", "stop"].iter().any(|v| action.as_str().ends_with(v));
            assert_eq!(has(409), writes, "{label}: 409");
        }
        let if_match = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "If-Match" && p["in"] == "header");
        assert_eq!(if_match, reads_if_match, "{label}: the If-Match parameter");
        for (status, response) in responses {
            assert!(response["headers"]["x-request-id"].is_object(), "{label} {status}: x-request-id");
            let code: u16 = status.parse().unwrap();
            if code >= 400 {
                let content = response["content"].as_object().unwrap();
                assert_eq!(content.keys().collect::<Vec<_>>(), ["application/problem+json"], "{label} {status}");
                assert_eq!(
                    content["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
                    "{label} {status}"
                );
            }
            assert_eq!(response["headers"]["WWW-Authenticate"].is_object(), code == 401, "{label} {status}");
            assert_eq!(response["headers"]["Retry-After"].is_object(), code == 429 || code == 503, "{label} {status}");
        }
        // Path parameters are those of the path, and name objects: the Name schema. Query parameters are optional
        // and never null (a query string cannot say null).
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap();
            match parameter["in"].as_str().unwrap() {
                "path" => {
                    assert!(route.path.contains(&format!("{{{name}}}")), "{label}: {parameter}");
                    assert_eq!(parameter["schema"]["$ref"], "#/components/schemas/Name", "{label}: {parameter}");
                }
                "query" => {
                    assert_eq!(parameter["required"], false, "{label}: {parameter}");
                    let schema = &parameter["schema"];
                    let strings =
                        schema["oneOf"].as_array().is_some_and(|one| one.iter().all(|s| s["type"] == "string"));
                    assert!(schema["type"].is_string() || strings, "{label}: {parameter}");
                }
                "header" => assert_eq!(name, "If-Match", "{label}"),
                other => panic!("{label}: a parameter in {other}"),
            }
        }
    }
}

#[tokio::test]
async fn single_objects_carry_an_etag_and_the_description_says_so() {
    let w = world().await;
    w.seed().await;
    let doc = w.send(Method::GET, "/openapi.json", None, None, &[]).await.json();
    for (path, get) in [
        ("/connections/prod_pg", "/connections/{name}"),
        ("/vault/entries/pg_login", "/vault/entries/{id}"),
        ("/connections", "/connections"),
    ] {
        let r = w.admin(Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let documented = doc["paths"][get]["get"]["responses"]["200"]["headers"]["ETag"].is_object();
        assert_eq!(r.headers.contains_key(header::ETAG), documented, "{path}");
        assert!(r.headers.contains_key("x-request-id"), "{path}");
    }
}

#[tokio::test]
async fn every_put_and_delete_reads_if_match() {
    let w = world().await;
    for route in routes().into_iter().filter(|r| r.method == Method::PUT || r.method == Method::DELETE) {
        let path = concrete(&route.path);
        let body = body_for(&route.method, &route.path, "admin");
        let r = w.send(route.method.clone(), &path, Some(&w.admin.clone()), body, &[("if-match", "nope")]).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid".to_owned()), "{} {path}", route.method);
        assert!(r.json()["detail"].as_str().unwrap().contains("If-Match"), "{}", r.json());
    }
}

#[tokio::test]
async fn request_schemas_carry_the_limits_the_server_enforces() {
    let doc = openapi_document().await;
    let schemas = &doc["components"]["schemas"];
    let name = &schemas["Name"];
    assert_eq!(name["minLength"], 1);
    assert_eq!(name["maxLength"], lanyard_core::MAX_NAME_CHARS);
    // Every name a request gives an object (creations, RENAME TO) is the Name schema.
    for (schema, property) in [
        ("CreateConnection", "name"),
        ("CreateEntry", "name"),
        ("CreateBackend", "name"),
        ("CreateDatabase", "name"),
        ("CreateLink", "name"),
        ("CreatePipeline", "name"),
    ] {
        let found = resolve(&doc, &schemas[schema]["properties"][property]);
        assert_eq!(found["minLength"], 1, "{schema}.{property}: {found}");
        assert!(schemas[schema]["required"].as_array().unwrap().contains(&json!(property)), "{schema}");
    }
    for action in ["ConnectionAction", "EntryAction", "BackendAction"] {
        let rename = schemas[action]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|variant| variant["properties"].get("rename_to"))
            .unwrap_or_else(|| panic!("{action} has no rename_to"));
        assert_eq!(resolve(&doc, rename)["minLength"], 1, "{action}.rename_to");
        // An action is an object with exactly its one key.
        for variant in schemas[action]["oneOf"].as_array().unwrap().iter().filter(|v| v["type"] == "object") {
            assert_eq!(variant["additionalProperties"], false, "{action}: {variant}");
        }
    }
    for alter in ["AlterConnection", "AlterEntry", "AlterBackend", "AlterLink"] {
        assert_eq!(schemas[alter]["properties"]["actions"]["minItems"], 1, "{alter}");
        assert_eq!(schemas[alter]["additionalProperties"], false, "{alter}");
    }
    assert_eq!(schemas["AlterLink"]["properties"]["actions"]["maxItems"], 2);
    let options = &schemas["Options"];
    assert_eq!(options["maxProperties"], lanyard_core::MAX_OPTIONS);
    assert_eq!(options["additionalProperties"]["maxLength"], lanyard_core::MAX_OPTION_VALUE_BYTES);
    let types = schemas["CreateConnection"]["properties"]["type"]["enum"].as_array().unwrap();
    assert_eq!(types.len(), lanyard_core::ConnectionType::ALL.len());
    let kinds = schemas["CreateBackend"]["properties"]["type"]["enum"].as_array().unwrap();
    assert!(kinds.contains(&json!("memory")) && !kinds.contains(&json!("local")), "{kinds:?}");
}

#[test]
fn the_name_pattern_is_the_rule_of_names() {
    let pattern = regex::Regex::new(&lanyard_api::schema::name_pattern()).unwrap();
    let samples = [
        "prod_pg",
        "Prod DB",
        "x",
        "naïve",
        "日本語",
        " lead",
        "trail ",
        "\tx",
        "a\nb",
        "a\u{7f}b",
        "a\u{85}b",
        "a\u{a0}",
        "\u{3000}x",
        "a b",
        "a\u{200b}b",
        "-",
        "'",
        "a\u{9f}",
        "a\u{202e}b",
        "a\u{2028}b",
        "a\u{fe0f}",
        "a\u{e0041}b",
        "\u{ad}x",
    ];
    for sample in samples {
        assert_eq!(
            pattern.is_match(sample),
            lanyard_core::Name::validate(sample).is_ok() && sample.chars().count() <= lanyard_core::MAX_NAME_CHARS,
            "{sample:?}"
        );
    }
    // Bidirectional controls are refused by the pattern (and by name normalisation on the server).
    assert!(!pattern.is_match("a\u{202e}b"));
    let key = regex::Regex::new(&lanyard_api::schema::option_key_pattern()).unwrap();
    for sample in ["host", "ssl_enabled", "a b", "a\tb", "", "x\u{3000}", "a\u{200b}b", "k\u{e0001}"] {
        assert_eq!(key.is_match(sample), lanyard_core::OptionKey::new(sample).is_ok(), "{sample:?}");
    }
}

#[tokio::test]
async fn a_link_config_key_follows_the_rule_of_set_config_key() {
    let w = world().await;
    for config in [json!({"": "x"}), json!({"a\u{9b}b": "x"}), json!({"k".repeat(129): "x"})] {
        let body = json!({"name": "keys", "type": "S3", "config": config});
        let r = w.admin(Method::POST, "/databases/default/links", Some(body)).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid".to_owned()), "{config}");
        assert!(
            r.json()["detail"].as_str().unwrap().starts_with("a CONFIG key is 1 to 128 characters"),
            "{}",
            r.json()
        );
    }
    let ok = w
        .admin(
            Method::POST,
            "/databases/default/links",
            Some(json!({"name": "keys", "type": "S3", "config": {"region": "eu"}})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
}

/// The `next` target of a reply's `Link` header.
fn next_of(reply: &Reply) -> Option<String> {
    let link = reply.headers.get(header::LINK)?.to_str().unwrap();
    lanyard_api::paging::parse_next_link(link).map(str::to_owned)
}

/// Walks a list route page by page, following `Link: <…>; rel="next"`; every name of every page, and how many pages.
async fn walk_pages(w: &World, first: &str, key: &str) -> (Vec<String>, usize) {
    let (mut names, mut pages, mut target) = (Vec::new(), 0, Some(first.to_owned()));
    while let Some(path) = target {
        let reply = w.admin(Method::GET, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&reply.body));
        names.extend(reply.json().as_array().unwrap().iter().map(|row| row[key].as_str().unwrap().to_owned()));
        pages += 1;
        target = next_of(&reply);
        if let Some(next) = &target {
            assert!(next.starts_with(first.split('?').next().unwrap()), "{next} is not the same route");
        }
    }
    (names, pages)
}

/// Every list route pages: `limit` cuts the answer, a `Link` header points at the next page with the same filter
/// and a continuation token, the walk lists every row once in name order, and the last page has no `Link`. Without
/// `limit` the whole list comes at once, with no `Link`. A limit out of range or a token the server did not issue is
/// a 400 that says which parameter is wrong.
#[tokio::test]
async fn every_list_route_pages_with_limit_and_a_continuation_link() {
    let w = world().await;
    let mut expected: Vec<String> = (0..7).map(|i| format!("conn_{i}")).collect();
    expected.push("Zeta".to_owned());
    for name in &expected {
        let body = json!({"name": name, "type": "postgresql", "options": {"host": "h"}});
        assert_eq!(w.admin(Method::POST, "/connections", Some(body)).await.status, StatusCode::CREATED);
    }
    expected.sort();
    let (names, pages) = walk_pages(&w, "/connections?limit=3", "name").await;
    assert_eq!((names, pages), (expected.clone(), 3));
    let whole = w.admin(Method::GET, "/connections", None).await;
    assert_eq!((whole.json().as_array().unwrap().len(), next_of(&whole)), (8, None));
    // The filter travels with the token: LIKE 'CONN_' a page of two at a time.
    let (names, pages) = walk_pages(&w, "/connections?like=CONN_&limit=2", "name").await;
    assert_eq!((names.len(), pages), (7, 4));
    assert!(names.iter().all(|n| n.starts_with("conn_")), "{names:?}");

    for path in ["/vault/entries", "/vault/backends", "/databases", "/databases/default/links"] {
        let whole = w.admin(Method::GET, path, None).await;
        let all: Vec<String> =
            whole.json().as_array().unwrap().iter().map(|row| row["name"].as_str().unwrap().to_owned()).collect();
        let (names, _) = walk_pages(&w, &format!("{path}?limit=1"), "name").await;
        assert_eq!(names, all, "{path}");
    }
    for _ in 0..3 {
        let n = uuid::Uuid::new_v4().simple().to_string();
        let body = json!({"name": format!("l{}", &n[..8]), "type": "S3"});
        assert_eq!(w.admin(Method::POST, "/databases/default/links", Some(body)).await.status, StatusCode::CREATED);
    }
    let (names, pages) = walk_pages(&w, "/databases/default/links?limit=2", "name").await;
    assert_eq!((names.len(), pages), (3, 2));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let (_, pages) = walk_pages(&w, "/databases/default/pipelines?limit=5", "name").await;
    assert_eq!(pages, 1);

    // The audit log continues with `since`: a full page links to the records after its last one.
    let first = w.admin(Method::GET, "/audit?limit=2", None).await;
    let seqs: Vec<i64> = first.json().as_array().unwrap().iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    let next = next_of(&first).expect("a full audit page links to the next");
    assert!(next.contains(&format!("since={}", seqs[1])) && next.contains("limit=2"), "{next}");
    let second = w.admin(Method::GET, &next, None).await;
    assert!(second.json()[0]["seq"].as_i64().unwrap() > seqs[1]);

    for (query, blamed) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=-1", "limit"),
        ("cursor=not-a-token", "cursor"),
        ("cursor=W10", "cursor"),
    ] {
        let reply = w.admin(Method::GET, &format!("/connections?{query}"), None).await;
        assert_eq!((reply.status, reply.code().as_str()), (StatusCode::BAD_REQUEST, "invalid"), "{query}");
        let detail = reply.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(blamed), "{query}: {detail}");
    }
    // A token of a link list ([database, name]) on the connections route: refused, not misread.
    let link_token = lanyard_api::paging::encode_cursor(&["default".to_owned(), "x".to_owned()]);
    let reply = w.admin(Method::GET, &format!("/connections?limit=2&cursor={link_token}"), None).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::BAD_REQUEST, "invalid"));
    assert!(reply.json()["detail"].as_str().unwrap().contains("continuation token"), "{}", reply.json());
}

/// The history of a connection over HTTP: each ALTER is a version with its diff; a point-in-time read by version and
/// by instant; ROLLBACK TO VERSION as an ALTER action (a new version, history kept), refused while the credential
/// it would restore is dropped; a viewer reads the history but cannot roll back; a dropped connection's history is
/// still found by its name.
#[tokio::test]
async fn connection_history_as_of_and_rollback() {
    let w = world().await;
    w.seed().await;
    let alter = |actions: Value| w.admin(Method::PUT, "/connections/hist", Some(json!({ "actions": actions })));
    let r = w
        .admin(
            Method::POST,
            "/connections",
            Some(json!({"name": "hist", "type": "postgresql", "options": {"host": "a"}, "credential": "pg_login"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let created_at = r.json()["updated_at"].as_str().unwrap().to_owned();
    assert_eq!(alter(json!([{"set_option": {"key": "host", "value": "b"}}])).await.status, StatusCode::OK);
    let r = alter(json!([{"set_credential": "prod_pg_password_v2"}, {"set_description": "moved"}])).await;
    assert_eq!(r.status, StatusCode::OK);

    let history = w.admin(Method::GET, "/connections/hist/history", None).await;
    assert_eq!(history.status, StatusCode::OK, "{}", String::from_utf8_lossy(&history.body));
    let history = history.json();
    let versions: Vec<i64> = history.as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [3, 2, 1]);
    assert_eq!(history[0]["action"], "connection.alter");
    assert_eq!(history[0]["principal"], "admin");
    assert_eq!(history[0]["actions"], json!([{"set_credential": "prod_pg_password_v2"}, {"set_description": "moved"}]));
    assert_eq!(
        history[0]["changes"],
        json!([
            {"field": "description", "after": "moved"},
            {"field": "credential", "before": "pg_login", "after": "prod_pg_password_v2"},
        ])
    );
    assert_eq!(history[1]["changes"], json!([{"field": "options.host", "before": "a", "after": "b"}]));
    assert_eq!(history[2]["action"], "connection.create");
    let limited = w.admin(Method::GET, "/connections/hist/history?limit=1", None).await.json();
    assert_eq!(limited, json!([history[0].clone()]), "the version before the page is still diffed against");

    let v1 = w.admin(Method::GET, "/connections/hist/as-of?version=1", None).await.json();
    assert_eq!((v1["version"].as_i64(), v1["options"]["host"].as_str()), (Some(1), Some("a")));
    assert_eq!(v1["credential"]["name"], "pg_login");
    let then = w.admin(Method::GET, &format!("/connections/hist/as-of?at={created_at}"), None).await.json();
    assert_eq!(then["version"], 1, "{then}");
    for (query, code, status) in [
        ("version=9", "invalid", StatusCode::BAD_REQUEST),
        ("at=1999-01-01T00:00:00Z", "invalid", StatusCode::BAD_REQUEST),
        ("version=1&at=2026-01-01T00:00:00Z", "invalid", StatusCode::BAD_REQUEST),
        ("", "invalid", StatusCode::BAD_REQUEST),
        ("at=yesterday", "invalid", StatusCode::BAD_REQUEST),
    ] {
        let r = w.admin(Method::GET, &format!("/connections/hist/as-of?{query}"), None).await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "{query}: {}", r.json());
    }
    let r = w.admin(Method::GET, "/connections/hist/as-of?version=9", None).await;
    assert_eq!(r.json()["detail"], "connection \"hist\" has no version 9: its history keeps versions 1 to 3");

    // A viewer reads the history; rolling back needs connections:write.
    let r = w.send(Method::GET, "/connections/hist/history", Some(&w.viewer), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = json!({"actions": [{"rollback_to_version": 1}]});
    let r = w.send(Method::PUT, "/connections/hist", Some(&w.viewer), Some(body.clone()), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Rollback: a new version with version 1's definition, If-Match honoured.
    let stale = w.send(Method::PUT, "/connections/hist", Some(&w.admin), Some(body.clone()), &[("if-match", "\"2\"")]);
    assert_eq!(stale.await.status, StatusCode::PRECONDITION_FAILED);
    let r =
        w.send(Method::PUT, "/connections/hist", Some(&w.admin), Some(body.clone()), &[("if-match", "\"3\"")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let rolled = r.json();
    assert_eq!((rolled["version"].as_i64(), rolled["options"]["host"].as_str()), (Some(4), Some("a")));
    assert_eq!((rolled["credential"]["name"].as_str(), rolled["description"].as_str()), (Some("pg_login"), None));
    let history = w.admin(Method::GET, "/connections/hist/history", None).await.json();
    assert_eq!(history.as_array().unwrap().len(), 4, "history is never rewritten");
    assert_eq!(history[0]["actions"], json!([{"rollback_to_version": 1}]));
    let r = alter(json!([{"rollback_to_version": 7}])).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "invalid"));

    // Refused while the credential version 3 used is dropped; nothing changes.
    let r = w.admin(Method::DELETE, "/vault/entries/prod_pg_password_v2", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&r.body));
    let r = alter(json!([{"rollback_to_version": 3}])).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::CONFLICT, "conflict"));
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("credential \"prod_pg_password_v2\" no longer exists"), "{detail}");
    assert_eq!(w.admin(Method::GET, "/connections/hist", None).await.json()["version"], 4);

    // A dropped connection's history, by its name.
    assert_eq!(w.admin(Method::DELETE, "/connections/hist", None).await.status, StatusCode::NO_CONTENT);
    let history = w.admin(Method::GET, "/connections/hist/history", None).await.json();
    assert_eq!((history[0]["version"].clone(), history[0]["action"].clone()), (Value::Null, json!("connection.drop")));
    let r = w.admin(Method::GET, "/connections/never/history", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// A history is read by the name as given: a name one character longer than an existing one is not that one (the
/// key's display form, shortened for messages, once stood in for it).
#[tokio::test]
async fn a_history_is_read_by_the_whole_name() {
    let w = world().await;
    let name = "0".repeat(128);
    let r = w.admin(Method::POST, "/vault/backends", Some(json!({"name": name, "type": "memory"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(w.admin(Method::GET, &format!("/vault/backends/{name}/history"), None).await.status, StatusCode::OK);
    let longer = format!("{name}0");
    for path in [format!("/vault/backends/{longer}/history"), format!("/vault/entries/{longer}/history")] {
        let r = w.admin(Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", String::from_utf8_lossy(&r.body));
    }
}
