//! The route table: every route with the permission it needs, and its handler. The router is built from this
//! table only, so a route cannot exist without an access rule, and the authorization-matrix test enumerates it.

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use lanyard_control::{AuditQuery, Caller, ObjectKey, Permission};
use lanyard_core::AuditAction;
use lanyard_core::ErrorKind;
use serde::Serialize;

use crate::AppState;
use crate::dto::*;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (`/healthz`, `/metrics`, `/openapi.json`).
    Public,
    /// A valid token whose role grants this permission.
    Requires(Permission),
}

/// One route of the API.
#[derive(Debug, Clone)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path, with `{param}` placeholders.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What a denial is audited as (the operation the route runs); `None` for public routes.
    pub action: Option<AuditAction>,
}

type Handler = MethodRouter<AppState>;

/// The table: (method, path, permission, what a denial is audited as, handler); public routes need neither.
pub(crate) fn table() -> Vec<(Route, Handler)> {
    use AuditAction as A;
    use Permission as P;
    let public = |method: Method, path: &'static str, handler: Handler| {
        (Route { method, path, access: Access::Public, action: None }, handler)
    };
    let r = |method: Method, path: &'static str, permission: Permission, action: AuditAction, handler: Handler| {
        (Route { method, path, access: Access::Requires(permission), action: Some(action) }, handler)
    };
    vec![
        public(Method::GET, "/healthz", get(healthz)),
        public(Method::GET, "/metrics", get(metrics)),
        public(Method::GET, "/openapi.json", get(openapi)),
        r(Method::GET, "/connections", P::ConnectionsRead, A::ConnectionList, get(list_connections)),
        r(Method::POST, "/connections", P::ConnectionsWrite, A::ConnectionCreate, post(create_connection)),
        r(Method::GET, "/connections/{name}", P::ConnectionsRead, A::ConnectionGet, get(get_connection)),
        r(Method::PUT, "/connections/{name}", P::ConnectionsWrite, A::ConnectionAlter, put(alter_connection)),
        r(Method::DELETE, "/connections/{name}", P::ConnectionsWrite, A::ConnectionDrop, delete(drop_connection)),
        r(Method::POST, "/connections/{name}/test", P::ConnectionsTest, A::ConnectionTest, post(test_connection)),
        r(Method::GET, "/vault/entries", P::VaultRead, A::VaultEntryList, get(list_entries)),
        r(Method::POST, "/vault/entries", P::VaultWrite, A::VaultEntryCreate, post(create_entry)),
        r(Method::GET, "/vault/entries/{id}", P::VaultRead, A::VaultEntryGet, get(get_entry)),
        r(Method::PUT, "/vault/entries/{id}", P::VaultWrite, A::VaultEntryAlter, put(alter_entry)),
        r(Method::DELETE, "/vault/entries/{id}", P::VaultWrite, A::VaultEntryDrop, delete(drop_entry)),
        r(Method::GET, "/vault/backends", P::VaultRead, A::CredentialStorageList, get(list_backends)),
        r(Method::POST, "/vault/backends", P::VaultWrite, A::CredentialStorageCreate, post(create_backend)),
        r(Method::GET, "/vault/backends/{id}", P::VaultRead, A::CredentialStorageGet, get(get_backend)),
        r(Method::PUT, "/vault/backends/{id}", P::VaultWrite, A::CredentialStorageAlter, put(alter_backend)),
        r(Method::DELETE, "/vault/backends/{id}", P::VaultWrite, A::CredentialStorageDrop, delete(drop_backend)),
        r(Method::POST, "/vault/backends/{id}/test", P::VaultRead, A::CredentialStorageTest, post(test_backend)),
        r(Method::GET, "/audit", P::AuditRead, A::AuditList, get(list_audit)),
    ]
}

/// Every route of the API.
pub fn routes() -> Vec<Route> {
    table().into_iter().map(|(route, _)| route).collect()
}

/// A JSON body with `ETag: "<version>"`.
fn tagged<T: Serialize>(status: StatusCode, version: i64, body: T) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The version an `If-Match` header asks for: `"3"`, `W/"3"` or `3`; `*` (or no header) asks for none.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().map_err(|_| ApiError::invalid("If-Match must be ASCII"))?.trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        ApiError::invalid(format!(
            "If-Match must be an ETag of this API (\"<version>\"), not {:?}",
            lanyard_core::printable(text, 40)
        ))
    })
}

type ApiResult = Result<Response, ApiError>;

/// Health: the catalog answers.
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, body = Health), (status = 503, body = Problem)))]
async fn healthz(State(state): State<AppState>) -> ApiResult {
    state.control.health().await?;
    Ok(axum::Json(Health { status: "ok".to_owned() }).into_response())
}

/// Prometheus metrics: HTTP requests and the resolver's backend calls.
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "Prometheus text", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = String::new();
    state.metrics.encode(&mut text);
    let _ = state.control.resolver().metrics().encode(&mut text);
    text.push_str("# EOF\n");
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

/// This API's OpenAPI description, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
async fn openapi() -> Response {
    axum::Json(crate::openapi::document()).into_response()
}

/// SHOW CONNECTIONS.
#[utoipa::path(get, path = "/connections", tag = "connections", params(LikeQuery), security(("bearer" = [])), responses((status = 200, body = [ConnectionDto])))]
async fn list_connections(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<LikeQuery>,
) -> ApiResult {
    let views = state.control.list_connections(&caller, query.like.as_deref()).await?;
    Ok(axum::Json(views.into_iter().map(ConnectionDto::from).collect::<Vec<_>>()).into_response())
}

/// CREATE CONNECTION: 201, or 200 with `if_not_exists` when it already exists (unchanged).
#[utoipa::path(post, path = "/connections", tag = "connections", request_body = CreateConnection, security(("bearer" = [])), responses((status = 201, body = ConnectionDto), (status = 200, body = ConnectionDto), (status = 409, body = Problem)))]
async fn create_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateConnection>,
) -> ApiResult {
    let created = state.control.create_connection(&caller, body.into_request()?).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(status, created.value.version, ConnectionDto::from(created.value)))
}

/// DESCRIBE CONNECTION.
#[utoipa::path(get, path = "/connections/{name}", tag = "connections", params(("name" = String, Path)), security(("bearer" = [])), responses((status = 200, body = ConnectionDto), (status = 404, body = Problem)))]
async fn get_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult {
    let view = state.control.get_connection(&caller, &name).await?;
    Ok(tagged(StatusCode::OK, view.version, ConnectionDto::from(view)))
}

/// ALTER CONNECTION: the actions in order, atomically.
#[utoipa::path(put, path = "/connections/{name}", tag = "connections", params(("name" = String, Path)), request_body = AlterConnection, security(("bearer" = [])), responses((status = 200, body = ConnectionDto), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn alter_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AlterConnection>,
) -> ApiResult {
    let expected = if_match(&headers)?;
    let actions = body.into_actions()?;
    let view = state.control.alter_connection(&caller, &name, &actions, expected).await?;
    Ok(tagged(StatusCode::OK, view.version, ConnectionDto::from(view)))
}

/// DROP CONNECTION.
#[utoipa::path(delete, path = "/connections/{name}", tag = "connections", params(("name" = String, Path)), security(("bearer" = [])), responses((status = 204), (status = 404, body = Problem)))]
async fn drop_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult {
    state.control.drop_connection(&caller, &name, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// TEST CONNECTION: a failed probe is a 200 with `result: FAILED`.
#[utoipa::path(post, path = "/connections/{name}/test", tag = "connections", params(("name" = String, Path)), security(("bearer" = [])), responses((status = 200, body = TestResultDto), (status = 404, body = Problem)))]
async fn test_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult {
    let outcome = state.control.test_connection(&caller, &name).await?;
    Ok(axum::Json(TestResultDto::from(outcome)).into_response())
}

/// SHOW VAULTS.
#[utoipa::path(get, path = "/vault/entries", tag = "vault", params(LikeQuery), security(("bearer" = [])), responses((status = 200, body = [EntryDto])))]
async fn list_entries(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<LikeQuery>,
) -> ApiResult {
    let views = state.control.list_entries(&caller, query.like.as_deref()).await?;
    Ok(axum::Json(views.into_iter().map(EntryDto::from).collect::<Vec<_>>()).into_response())
}

/// CREATE VAULT / CREDENTIAL.
#[utoipa::path(post, path = "/vault/entries", tag = "vault", request_body = CreateEntry, security(("bearer" = [])), responses((status = 201, body = EntryDto), (status = 200, body = EntryDto), (status = 409, body = Problem)))]
async fn create_entry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateEntry>,
) -> ApiResult {
    let created = state.control.create_entry(&caller, body.into_request()?).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(status, created.value.version, EntryDto::from(created.value)))
}

/// DESCRIBE VAULT (by id or name).
#[utoipa::path(get, path = "/vault/entries/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), security(("bearer" = [])), responses((status = 200, body = EntryDto), (status = 404, body = Problem)))]
async fn get_entry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let view = state.control.get_entry(&caller, &ObjectKey::parse(&id)).await?;
    Ok(tagged(StatusCode::OK, view.version, EntryDto::from(view)))
}

/// ALTER VAULT / CREDENTIAL.
#[utoipa::path(put, path = "/vault/entries/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), request_body = AlterEntry, security(("bearer" = [])), responses((status = 200, body = EntryDto), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn alter_entry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AlterEntry>,
) -> ApiResult {
    let expected = if_match(&headers)?;
    let view = state.control.alter_entry(&caller, &ObjectKey::parse(&id), &body.into_actions(), expected).await?;
    Ok(tagged(StatusCode::OK, view.version, EntryDto::from(view)))
}

/// DROP VAULT / CREDENTIAL.
#[utoipa::path(delete, path = "/vault/entries/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), security(("bearer" = [])), responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn drop_entry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult {
    state.control.drop_entry(&caller, &ObjectKey::parse(&id), if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// SHOW CREDENTIAL STORAGES.
#[utoipa::path(get, path = "/vault/backends", tag = "vault", params(LikeQuery), security(("bearer" = [])), responses((status = 200, body = [BackendDto])))]
async fn list_backends(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<LikeQuery>,
) -> ApiResult {
    let views = state.control.list_backends(&caller, query.like.as_deref()).await?;
    Ok(axum::Json(views.into_iter().map(BackendDto::from).collect::<Vec<_>>()).into_response())
}

/// CREATE CREDENTIAL STORAGE.
#[utoipa::path(post, path = "/vault/backends", tag = "vault", request_body = CreateBackend, security(("bearer" = [])), responses((status = 201, body = BackendDto), (status = 200, body = BackendDto), (status = 409, body = Problem)))]
async fn create_backend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateBackend>,
) -> ApiResult {
    let created = state.control.create_backend(&caller, body.into_request()?).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(status, created.value.version, BackendDto::from(created.value)))
}

/// DESCRIBE CREDENTIAL STORAGE (by id or name).
#[utoipa::path(get, path = "/vault/backends/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), security(("bearer" = [])), responses((status = 200, body = BackendDto), (status = 404, body = Problem)))]
async fn get_backend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let view = state.control.get_backend(&caller, &ObjectKey::parse(&id)).await?;
    Ok(tagged(StatusCode::OK, view.version, BackendDto::from(view)))
}

/// ALTER CREDENTIAL STORAGE.
#[utoipa::path(put, path = "/vault/backends/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), request_body = AlterBackend, security(("bearer" = [])), responses((status = 200, body = BackendDto), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn alter_backend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AlterBackend>,
) -> ApiResult {
    let expected = if_match(&headers)?;
    let view = state.control.alter_backend(&caller, &ObjectKey::parse(&id), &body.into_actions()?, expected).await?;
    Ok(tagged(StatusCode::OK, view.version, BackendDto::from(view)))
}

/// DROP CREDENTIAL STORAGE.
#[utoipa::path(delete, path = "/vault/backends/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), security(("bearer" = [])), responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn drop_backend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult {
    state.control.drop_backend(&caller, &ObjectKey::parse(&id), if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// TEST CREDENTIAL STORAGE.
#[utoipa::path(post, path = "/vault/backends/{id}/test", tag = "vault", params(("id" = String, Path, description = "id or name")), security(("bearer" = [])), responses((status = 200, body = StorageTestDto), (status = 404, body = Problem)))]
async fn test_backend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let outcome = state.control.test_backend(&caller, &ObjectKey::parse(&id)).await?;
    Ok(axum::Json(StorageTestDto::from(outcome)).into_response())
}

/// The audit log, oldest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQueryDto), security(("bearer" = [])), responses((status = 200, body = [AuditDto])))]
async fn list_audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<AuditQueryDto>,
) -> ApiResult {
    let query = AuditQuery { since: query.since, object: query.object, limit: query.limit };
    let records = state.control.list_audit(&caller, &query).await?;
    Ok(axum::Json(records.into_iter().map(AuditDto::from).collect::<Vec<_>>()).into_response())
}

/// 404 for paths the table does not have.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "no such route")
}

/// 405 for methods a path does not have.
pub(crate) async fn method_not_allowed() -> Response {
    let mut response = ApiError::invalid("method not allowed on this path").into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}
