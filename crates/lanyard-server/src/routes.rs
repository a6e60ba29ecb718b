//! The route table: every handler with the access rule it needs. A handler's method and path are written once, in
//! its `#[utoipa::path]`; the router, the OpenAPI document and [`routes`] (which the authorization-matrix test
//! enumerates) are all built from [`table`], so a route cannot exist without an access rule nor be served without
//! being described.

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use lanyard_api::headers::{IfMatch, etag, parse_if_match};
use lanyard_api::{
    AlterBackend, AlterConnection, AlterEntry, AlterLink, AsOfQuery, AuditQuery as AuditQueryParams, AuditRecord,
    Backend, Connection, CreateBackend, CreateConnection, CreateDatabase, CreateEntry, CreateLink, CreatePipeline,
    Database, Entry, Health, HistoryEntry, HistoryQuery, Link, LinkDefinition, LinkTestResult, ListQuery, PageQuery,
    Pipeline, PipelineFile, Problem, StorageTest, TestResult,
};
use lanyard_control::{AuditQuery, Caller, Listed, ObjectKey, Page, Permission, Timestamp};
use lanyard_core::{AuditAction, ErrorKind};
use serde::Serialize;
use utoipa::openapi::path::PathItem;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::convert;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (`/healthz`, `/metrics`, `/openapi.json`).
    Public,
    /// A valid token whose role grants this permission; a denial is audited as this action (the operation the
    /// route runs).
    Requires(Permission, AuditAction),
}

/// One route of the API.
#[derive(Debug, Clone)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path, with `{param}` placeholders.
    pub path: String,
    /// Who may call it.
    pub access: Access,
}

/// A handler with its method, path and OpenAPI operation (from its `#[utoipa::path]`).
pub(crate) type Handler = UtoipaMethodRouter<AppState>;

/// The table: every handler with its access rule. Method and path come from the handler's `#[utoipa::path]`.
pub(crate) fn table() -> Vec<(Access, Handler)> {
    use Access::{Public, Requires};
    use AuditAction as A;
    use Permission as P;
    vec![
        (Public, routes!(healthz)),
        (Public, routes!(metrics)),
        (Public, routes!(openapi)),
        (Requires(P::ConnectionsRead, A::ConnectionList), routes!(list_connections)),
        (Requires(P::ConnectionsWrite, A::ConnectionCreate), routes!(create_connection)),
        (Requires(P::ConnectionsRead, A::ConnectionGet), routes!(get_connection)),
        (Requires(P::ConnectionsWrite, A::ConnectionAlter), routes!(alter_connection)),
        (Requires(P::ConnectionsWrite, A::ConnectionDrop), routes!(drop_connection)),
        (Requires(P::ConnectionsTest, A::ConnectionTest), routes!(test_connection)),
        (Requires(P::ConnectionsRead, A::ConnectionGet), routes!(connection_history)),
        (Requires(P::ConnectionsRead, A::ConnectionGet), routes!(connection_as_of)),
        (Requires(P::VaultRead, A::VaultEntryList), routes!(list_entries)),
        (Requires(P::VaultWrite, A::VaultEntryCreate), routes!(create_entry)),
        (Requires(P::VaultRead, A::VaultEntryGet), routes!(get_entry)),
        (Requires(P::VaultWrite, A::VaultEntryAlter), routes!(alter_entry)),
        (Requires(P::VaultRead, A::VaultEntryGet), routes!(entry_history)),
        (Requires(P::VaultRead, A::VaultEntryGet), routes!(entry_as_of)),
        (Requires(P::VaultWrite, A::VaultEntryDrop), routes!(drop_entry)),
        (Requires(P::VaultRead, A::CredentialStorageList), routes!(list_backends)),
        (Requires(P::VaultWrite, A::CredentialStorageCreate), routes!(create_backend)),
        (Requires(P::VaultRead, A::CredentialStorageGet), routes!(get_backend)),
        (Requires(P::VaultWrite, A::CredentialStorageAlter), routes!(alter_backend)),
        (Requires(P::VaultRead, A::CredentialStorageGet), routes!(backend_history)),
        (Requires(P::VaultRead, A::CredentialStorageGet), routes!(backend_as_of)),
        (Requires(P::VaultWrite, A::CredentialStorageDrop), routes!(drop_backend)),
        (Requires(P::VaultRead, A::CredentialStorageTest), routes!(test_backend)),
        // Databases are the namespaces of links: their routes need the links permissions (the spec has none of
        // their own).
        (Requires(P::LinksRead, A::DatabaseList), routes!(list_databases)),
        (Requires(P::LinksWrite, A::DatabaseCreate), routes!(create_database)),
        (Requires(P::LinksWrite, A::DatabaseDrop), routes!(drop_database)),
        (Requires(P::LinksRead, A::LinkList), routes!(list_links)),
        (Requires(P::LinksWrite, A::LinkCreate), routes!(create_link)),
        (Requires(P::LinksRead, A::LinkGet), routes!(get_link)),
        (Requires(P::LinksWrite, A::LinkAlter), routes!(alter_link)),
        (Requires(P::LinksRead, A::LinkGet), routes!(link_history)),
        (Requires(P::LinksRead, A::LinkGet), routes!(link_as_of)),
        (Requires(P::LinksWrite, A::LinkDrop), routes!(drop_link)),
        (Requires(P::LinksRead, A::LinkGet), routes!(show_create_link)),
        (Requires(P::LinksRead, A::LinkTest), routes!(test_link)),
        (Requires(P::PipelinesRead, A::PipelineList), routes!(list_pipelines)),
        (Requires(P::PipelinesWrite, A::PipelineCreate), routes!(create_pipeline)),
        (Requires(P::PipelinesRead, A::PipelineGet), routes!(get_pipeline)),
        (Requires(P::PipelinesWrite, A::PipelineDrop), routes!(drop_pipeline)),
        (Requires(P::PipelinesWrite, A::PipelineStart), routes!(start_pipeline)),
        (Requires(P::PipelinesWrite, A::PipelineStop), routes!(stop_pipeline)),
        (Requires(P::PipelinesRead, A::PipelineGet), routes!(list_pipeline_files)),
        (Requires(P::AuditRead, A::AuditList), routes!(list_audit)),
    ]
}

/// The operations of a path item, with their methods.
pub(crate) fn operations(item: &mut PathItem) -> impl Iterator<Item = (Method, &mut utoipa::openapi::path::Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::OPTIONS, item.options.as_mut()),
        (Method::HEAD, item.head.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
        (Method::TRACE, item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
}

/// Every route of the API.
pub fn routes() -> Vec<Route> {
    let mut all = Vec::new();
    for (access, (_, mut paths, _)) in table() {
        for (path, item) in &mut paths.paths {
            for (method, _) in operations(item) {
                all.push(Route { method, path: path.clone(), access });
            }
        }
    }
    all
}

/// A JSON body with `ETag: "<version>"`.
fn tagged<T: Serialize>(status: StatusCode, version: i64, body: T) -> Response {
    with_etag((status, axum::Json(body)).into_response(), version)
}

/// `response` with the `ETag` of `version`.
fn with_etag(mut response: Response, version: i64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The version an `If-Match` header asks for, parsed strictly by [`lanyard_api::headers::parse_if_match`]: `*` (or
/// no header) asks for none; `"<version>"` for that one; a well-formed ETag that no version carries is 412 at once; a
/// weak, listed, repeated or malformed one is 400.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let fields = headers.get_all(header::IF_MATCH).iter().map(HeaderValue::as_bytes);
    match parse_if_match(fields).map_err(|error| ApiError::invalid(error.to_string()))? {
        None | Some(IfMatch::Any) => Ok(None),
        Some(IfMatch::Version(version)) => Ok(Some(version)),
        Some(IfMatch::Never) => Err(ApiError::new(
            ErrorKind::PreconditionFailed,
            "If-Match names no version of any object: this API's ETags are versions in double quotes, like \"3\"",
        )),
    }
}

type ApiResult = Result<Response, ApiError>;

/// Health: the catalog answers.
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, body = Health), (status = 503, description = "backend_unavailable: the catalog does not answer", body = Problem)))]
async fn healthz(State(state): State<AppState>) -> ApiResult {
    state.control.health().await?;
    Ok(axum::Json(Health { status: "ok".to_owned() }).into_response())
}

/// Prometheus metrics: HTTP requests, the resolver's backend calls and, on a node that runs pipelines, the runner's
/// files, rows and failures.
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "Prometheus text", content_type = "application/openmetrics-text")))]
async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = String::new();
    state.metrics.encode(&mut text);
    let _ = state.control.resolver().metrics().encode(&mut text);
    if let Some(pipelines) = &state.pipelines {
        let _ = pipelines.encode(&mut text);
    }
    text.push_str("# EOF\n");
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

/// This API's OpenAPI description, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
async fn openapi(State(state): State<AppState>) -> Response {
    axum::Json(state.openapi.get()).into_response()
}

/// SHOW CONNECTIONS.
#[utoipa::path(get, path = "/connections", tag = "connections", params(ListQuery), responses((status = 200, body = [Connection], headers(("link" = String, description = "With `limit`, when more rows follow: `<the next page>; rel=\"next\"`")))))]
async fn list_connections(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult {
    let listed = state.control.list_connections_page(&caller, query.like.as_deref(), &page(&query.page())?).await?;
    listed_answer(&uri, &query, listed, convert::connection)
}

/// CREATE CONNECTION: 201, or 200 with `if_not_exists` when it already exists (unchanged).
#[utoipa::path(post, path = "/connections", tag = "connections", request_body = CreateConnection, responses((status = 201, body = Connection), (status = 200, body = Connection)))]
async fn create_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateConnection>,
) -> ApiResult {
    let created = state.control.create_connection(&caller, convert::new_connection(body)?).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(status, created.value.version, convert::connection(created.value)))
}

/// DESCRIBE CONNECTION.
#[utoipa::path(get, path = "/connections/{name}", tag = "connections", params(("name" = String, Path)), responses((status = 200, body = Connection)))]
async fn get_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult {
    let read = state.control.read_connection(&caller, &name).await?;
    let body = match state.bodies.get(&name, &read) {
        Some(body) => body,
        None => {
            let body = serde_json::to_vec(&convert::connection(read.view()))
                .map_err(|e| ApiError::new(ErrorKind::Internal, format!("cannot write the answer: {e}")))?;
            let body = axum::body::Bytes::from(body);
            state.bodies.put(&name, read.clone(), body.clone());
            body
        }
    };
    let response = ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    Ok(with_etag(response, read.version()))
}

/// SHOW HISTORY FOR CONNECTION: its versions, newest first, each with what changed; also of a dropped connection,
/// by the name it last had.
#[utoipa::path(get, path = "/connections/{name}/history", tag = "connections", params(("name" = String, Path), HistoryQuery), responses((status = 200, body = [HistoryEntry])))]
async fn connection_history(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult {
    let versions = state.control.connection_history(&caller, &name, query.limit).await?;
    Ok(axum::Json(versions.into_iter().map(convert::version).collect::<Vec<_>>()).into_response())
}

/// DESCRIBE CONNECTION … AT: the connection as it was at a version (`?version=`) or an instant (`?at=`).
#[utoipa::path(get, path = "/connections/{name}/as-of", tag = "connections", params(("name" = String, Path), AsOfQuery), responses((status = 200, body = Connection)))]
async fn connection_as_of(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult {
    let point = convert::point_in_time(&query)?;
    let view = state.control.connection_as_of(&caller, &name, point).await?;
    Ok(axum::Json(convert::connection(view)).into_response())
}

/// ALTER CONNECTION: the actions in order, atomically.
#[utoipa::path(put, path = "/connections/{name}", tag = "connections", params(("name" = String, Path)), request_body = AlterConnection, responses((status = 200, body = Connection)))]
async fn alter_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AlterConnection>,
) -> ApiResult {
    let expected = if_match(&headers)?;
    let actions = convert::connection_actions(body)?;
    let view = state.control.alter_connection(&caller, &name, &actions, expected).await?;
    Ok(tagged(StatusCode::OK, view.version, convert::connection(view)))
}

/// DROP CONNECTION.
#[utoipa::path(delete, path = "/connections/{name}", tag = "connections", params(("name" = String, Path)), responses((status = 204)))]
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
#[utoipa::path(post, path = "/connections/{name}/test", tag = "connections", params(("name" = String, Path)), responses((status = 200, body = TestResult)))]
async fn test_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult {
    let outcome = state.control.test_connection(&caller, &name).await?;
    Ok(axum::Json(convert::test_result(outcome)).into_response())
}

/// SHOW DATABASES [LIKE]: by name.
#[utoipa::path(get, path = "/databases", tag = "databases", params(ListQuery), responses((status = 200, body = [Database], headers(("link" = String, description = "With `limit`, when more rows follow: `<the next page>; rel=\"next\"`")))))]
async fn list_databases(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult {
    let listed = state.control.list_databases_page(&caller, query.like.as_deref(), &page(&query.page())?).await?;
    listed_answer(&uri, &query, listed, convert::database)
}

/// CREATE DATABASE: 201, or 200 with `if_not_exists` when it already exists (unchanged).
#[utoipa::path(post, path = "/databases", tag = "databases", request_body = CreateDatabase, responses((status = 201, body = Database), (status = 200, body = Database)))]
async fn create_database(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateDatabase>,
) -> ApiResult {
    let created = state.control.create_database(&caller, &body.name, body.if_not_exists).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(status, created.value.version, convert::database(created.value)))
}

/// DROP DATABASE: 409 while links or pipelines live in it; `default` cannot be dropped (409).
#[utoipa::path(delete, path = "/databases/{db}", tag = "databases", params(("db" = String, Path)), responses((status = 204)))]
async fn drop_database(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(database): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult {
    state.control.drop_database(&caller, &database, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// SHOW LINKS [ON db] [LIKE]: 404 when the database does not exist.
#[utoipa::path(get, path = "/databases/{db}/links", tag = "links", params(("db" = String, Path), ListQuery), responses((status = 200, body = [Link], headers(("link" = String, description = "With `limit`, when more rows follow: `<the next page>; rel=\"next\"`")))))]
async fn list_links(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(database): ApiPath<String>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult {
    let page = page(&query.page())?;
    let listed = state.control.list_links_page(&caller, &database, query.like.as_deref(), &page).await?;
    listed_answer(&uri, &query, listed, convert::link)
}

/// CREATE [OR REPLACE] LINK [IF NOT EXISTS]: 201 when created; 200 when `or_replace` replaced it in place, or when
/// `if_not_exists` found it (unchanged).
#[utoipa::path(post, path = "/databases/{db}/links", tag = "links", params(("db" = String, Path)), request_body = CreateLink, responses((status = 201, body = Link), (status = 200, body = Link)))]
async fn create_link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(database): ApiPath<String>,
    ApiJson(body): ApiJson<CreateLink>,
) -> ApiResult {
    let created = state.control.create_link(&caller, convert::new_link(database, body)?).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(status, created.value.version, convert::link(created.value)))
}

/// The link (the adapter's lookup before ALTER).
#[utoipa::path(get, path = "/databases/{db}/links/{name}", tag = "links", params(("db" = String, Path), ("name" = String, Path)), responses((status = 200, body = Link)))]
async fn get_link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
) -> ApiResult {
    let view = state.control.get_link(&caller, &database, &name).await?;
    Ok(tagged(StatusCode::OK, view.version, convert::link(view)))
}

/// SHOW HISTORY FOR LINK: its versions, newest first; also of a dropped link, by the name it last had.
#[utoipa::path(get, path = "/databases/{db}/links/{name}/history", tag = "links", params(("db" = String, Path), ("name" = String, Path), HistoryQuery), responses((status = 200, body = [HistoryEntry])))]
async fn link_history(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult {
    let versions = state.control.link_history(&caller, &database, &name, query.limit).await?;
    Ok(axum::Json(versions.into_iter().map(convert::version).collect::<Vec<_>>()).into_response())
}

/// DESCRIBE LINK … AT: the link as it was at a version (`?version=`) or an instant (`?at=`).
#[utoipa::path(get, path = "/databases/{db}/links/{name}/as-of", tag = "links", params(("db" = String, Path), ("name" = String, Path), AsOfQuery), responses((status = 200, body = Link)))]
async fn link_as_of(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult {
    let point = convert::point_in_time(&query)?;
    let view = state.control.link_as_of(&caller, &database, &name, point).await?;
    Ok(axum::Json(convert::link(view)).into_response())
}

/// ALTER LINK: one CONFIG and/or one CREDENTIALS action, together, atomically.
#[utoipa::path(put, path = "/databases/{db}/links/{name}", tag = "links", params(("db" = String, Path), ("name" = String, Path)), request_body = AlterLink, responses((status = 200, body = Link)))]
async fn alter_link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AlterLink>,
) -> ApiResult {
    let expected = if_match(&headers)?;
    let actions = convert::link_actions(body);
    let view = state.control.alter_link(&caller, &database, &name, &actions, expected).await?;
    Ok(tagged(StatusCode::OK, view.version, convert::link(view)))
}

/// DROP LINK: 409 while pipelines use it.
#[utoipa::path(delete, path = "/databases/{db}/links/{name}", tag = "links", params(("db" = String, Path), ("name" = String, Path)), responses((status = 204)))]
async fn drop_link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    state.control.drop_link(&caller, &database, &name, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// SHOW CREATE LINK: the definition in SingleStore's shape, credentials redacted.
#[utoipa::path(get, path = "/databases/{db}/links/{name}/create", tag = "links", params(("db" = String, Path), ("name" = String, Path)), responses((status = 200, body = LinkDefinition)))]
async fn show_create_link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
) -> ApiResult {
    let definition = state.control.show_create_link(&caller, &database, &name).await?;
    Ok(tagged(StatusCode::OK, definition.version, convert::link_definition(definition)))
}

/// TEST LINK: a failed probe is a 200 with `result: FAILED`.
#[utoipa::path(post, path = "/databases/{db}/links/{name}/test", tag = "links", params(("db" = String, Path), ("name" = String, Path)), responses((status = 200, body = LinkTestResult)))]
async fn test_link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
) -> ApiResult {
    let outcome = state.control.test_link(&caller, &database, &name).await?;
    Ok(axum::Json(convert::link_test(outcome)).into_response())
}

/// SHOW PIPELINES [ON db]: 404 when the database does not exist.
#[utoipa::path(get, path = "/databases/{db}/pipelines", tag = "pipelines", params(("db" = String, Path), PageQuery), responses((status = 200, body = [Pipeline], headers(("link" = String, description = "With `limit`, when more rows follow: `<the next page>; rel=\"next\"`")))))]
async fn list_pipelines(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(database): ApiPath<String>,
    uri: Uri,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult {
    let listed = state.control.list_pipelines_page(&caller, &database, &page(&query)?).await?;
    listed_answer(&uri, &query, listed, convert::pipeline)
}

/// CREATE PIPELINE [IF NOT EXISTS]: 201 when created (Stopped); 200 when `if_not_exists` found it (unchanged).
#[utoipa::path(post, path = "/databases/{db}/pipelines", tag = "pipelines", params(("db" = String, Path)), request_body = CreatePipeline, responses((status = 201, body = Pipeline), (status = 200, body = Pipeline)))]
async fn create_pipeline(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(database): ApiPath<String>,
    ApiJson(body): ApiJson<CreatePipeline>,
) -> ApiResult {
    let created = state.control.create_pipeline(&caller, convert::new_pipeline(database, body)).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(status, created.value.row.meta.version, convert::pipeline(created.value)))
}

/// The pipeline, with its cursor, last error, file counts and the node running it.
#[utoipa::path(get, path = "/databases/{db}/pipelines/{name}", tag = "pipelines", params(("db" = String, Path), ("name" = String, Path)), responses((status = 200, body = Pipeline)))]
async fn get_pipeline(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
) -> ApiResult {
    let view = state.control.get_pipeline(&caller, &database, &name).await?;
    Ok(tagged(StatusCode::OK, view.row.meta.version, convert::pipeline(view)))
}

/// DROP PIPELINE: also a running one; its file states go with it, the target's ledger rows stay.
#[utoipa::path(delete, path = "/databases/{db}/pipelines/{name}", tag = "pipelines", params(("db" = String, Path), ("name" = String, Path)), responses((status = 204)))]
async fn drop_pipeline(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    state.control.drop_pipeline(&caller, &database, &name, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// START PIPELINE: Running (a running pipeline is left as it is).
#[utoipa::path(post, path = "/databases/{db}/pipelines/{name}/start", tag = "pipelines", params(("db" = String, Path), ("name" = String, Path)), responses((status = 200, body = Pipeline)))]
async fn start_pipeline(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
) -> ApiResult {
    let view = state.control.start_pipeline(&caller, &database, &name).await?;
    Ok(tagged(StatusCode::OK, view.row.meta.version, convert::pipeline(view)))
}

/// STOP PIPELINE: Stopped, cursor and file states kept.
#[utoipa::path(post, path = "/databases/{db}/pipelines/{name}/stop", tag = "pipelines", params(("db" = String, Path), ("name" = String, Path)), responses((status = 200, body = Pipeline)))]
async fn stop_pipeline(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
) -> ApiResult {
    let view = state.control.stop_pipeline(&caller, &database, &name).await?;
    Ok(tagged(StatusCode::OK, view.row.meta.version, convert::pipeline(view)))
}

/// SHOW FILES FOR PIPELINE: every file seen under the pipeline's path, in key order, with its state.
#[utoipa::path(get, path = "/databases/{db}/pipelines/{name}/files", tag = "pipelines", params(("db" = String, Path), ("name" = String, Path), PageQuery), responses((status = 200, body = [PipelineFile], headers(("link" = String, description = "With `limit`, when more rows follow: `<the next page>; rel=\"next\"`")))))]
async fn list_pipeline_files(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((database, name)): ApiPath<(String, String)>,
    uri: Uri,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult {
    let listed = state.control.list_pipeline_files_page(&caller, &database, &name, &page(&query)?).await?;
    listed_answer(&uri, &query, listed, convert::pipeline_file)
}

/// SHOW VAULTS.
#[utoipa::path(get, path = "/vault/entries", tag = "vault", params(ListQuery), responses((status = 200, body = [Entry], headers(("link" = String, description = "With `limit`, when more rows follow: `<the next page>; rel=\"next\"`")))))]
async fn list_entries(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult {
    let listed = state.control.list_entries_page(&caller, query.like.as_deref(), &page(&query.page())?).await?;
    listed_answer(&uri, &query, listed, convert::entry)
}

/// CREATE VAULT / CREDENTIAL.
#[utoipa::path(post, path = "/vault/entries", tag = "vault", request_body = CreateEntry, responses((status = 201, body = Entry), (status = 200, body = Entry)))]
async fn create_entry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateEntry>,
) -> ApiResult {
    let created = state.control.create_entry(&caller, convert::new_entry(body)?).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(status, created.value.version, convert::entry(created.value)))
}

/// DESCRIBE VAULT (by id or name).
#[utoipa::path(get, path = "/vault/entries/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), responses((status = 200, body = Entry)))]
async fn get_entry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let view = state.control.get_entry(&caller, &ObjectKey::parse(&id)).await?;
    Ok(tagged(StatusCode::OK, view.version, convert::entry(view)))
}

/// SHOW HISTORY FOR { VAULT | CREDENTIAL } (by id or name): its versions, newest first.
#[utoipa::path(get, path = "/vault/entries/{id}/history", tag = "vault", params(("id" = String, Path, description = "id or name"), HistoryQuery), responses((status = 200, body = [HistoryEntry])))]
async fn entry_history(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult {
    let versions = state.control.entry_history(&caller, &ObjectKey::parse(&id), query.limit).await?;
    Ok(axum::Json(versions.into_iter().map(convert::version).collect::<Vec<_>>()).into_response())
}

/// DESCRIBE { VAULT | CREDENTIAL } … AT (by id or name).
#[utoipa::path(get, path = "/vault/entries/{id}/as-of", tag = "vault", params(("id" = String, Path, description = "id or name"), AsOfQuery), responses((status = 200, body = Entry)))]
async fn entry_as_of(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult {
    let point = convert::point_in_time(&query)?;
    let view = state.control.entry_as_of(&caller, &ObjectKey::parse(&id), point).await?;
    Ok(axum::Json(convert::entry(view)).into_response())
}

/// ALTER VAULT / CREDENTIAL.
#[utoipa::path(put, path = "/vault/entries/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), request_body = AlterEntry, responses((status = 200, body = Entry)))]
async fn alter_entry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AlterEntry>,
) -> ApiResult {
    let expected = if_match(&headers)?;
    let view =
        state.control.alter_entry(&caller, &ObjectKey::parse(&id), &convert::entry_actions(body), expected).await?;
    Ok(tagged(StatusCode::OK, view.version, convert::entry(view)))
}

/// DROP VAULT / CREDENTIAL.
#[utoipa::path(delete, path = "/vault/entries/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), responses((status = 204)))]
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
#[utoipa::path(get, path = "/vault/backends", tag = "vault", params(ListQuery), responses((status = 200, body = [Backend], headers(("link" = String, description = "With `limit`, when more rows follow: `<the next page>; rel=\"next\"`")))))]
async fn list_backends(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult {
    let listed = state.control.list_backends_page(&caller, query.like.as_deref(), &page(&query.page())?).await?;
    listed_answer(&uri, &query, listed, convert::backend)
}

/// CREATE CREDENTIAL STORAGE.
#[utoipa::path(post, path = "/vault/backends", tag = "vault", request_body = CreateBackend, responses((status = 201, body = Backend), (status = 200, body = Backend)))]
async fn create_backend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateBackend>,
) -> ApiResult {
    let created = state.control.create_backend(&caller, convert::new_backend(body)).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(tagged(status, created.value.version, convert::backend(created.value)))
}

/// DESCRIBE CREDENTIAL STORAGE (by id or name).
#[utoipa::path(get, path = "/vault/backends/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), responses((status = 200, body = Backend)))]
async fn get_backend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let view = state.control.get_backend(&caller, &ObjectKey::parse(&id)).await?;
    Ok(tagged(StatusCode::OK, view.version, convert::backend(view)))
}

/// SHOW HISTORY FOR CREDENTIAL STORAGE (by id or name): its versions, newest first.
#[utoipa::path(get, path = "/vault/backends/{id}/history", tag = "vault", params(("id" = String, Path, description = "id or name"), HistoryQuery), responses((status = 200, body = [HistoryEntry])))]
async fn backend_history(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult {
    let versions = state.control.backend_history(&caller, &ObjectKey::parse(&id), query.limit).await?;
    Ok(axum::Json(versions.into_iter().map(convert::version).collect::<Vec<_>>()).into_response())
}

/// DESCRIBE CREDENTIAL STORAGE … AT (by id or name); its secret options are not versioned and not listed.
#[utoipa::path(get, path = "/vault/backends/{id}/as-of", tag = "vault", params(("id" = String, Path, description = "id or name"), AsOfQuery), responses((status = 200, body = Backend)))]
async fn backend_as_of(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult {
    let point = convert::point_in_time(&query)?;
    let view = state.control.backend_as_of(&caller, &ObjectKey::parse(&id), point).await?;
    Ok(axum::Json(convert::backend(view)).into_response())
}

/// ALTER CREDENTIAL STORAGE.
#[utoipa::path(put, path = "/vault/backends/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), request_body = AlterBackend, responses((status = 200, body = Backend)))]
async fn alter_backend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AlterBackend>,
) -> ApiResult {
    let expected = if_match(&headers)?;
    let view =
        state.control.alter_backend(&caller, &ObjectKey::parse(&id), &convert::backend_actions(body), expected).await?;
    Ok(tagged(StatusCode::OK, view.version, convert::backend(view)))
}

/// DROP CREDENTIAL STORAGE.
#[utoipa::path(delete, path = "/vault/backends/{id}", tag = "vault", params(("id" = String, Path, description = "id or name")), responses((status = 204)))]
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
#[utoipa::path(post, path = "/vault/backends/{id}/test", tag = "vault", params(("id" = String, Path, description = "id or name")), responses((status = 200, body = StorageTest)))]
async fn test_backend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let outcome = state.control.test_backend(&caller, &ObjectKey::parse(&id)).await?;
    Ok(axum::Json(convert::storage_test(outcome)).into_response())
}

/// The audit log, oldest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQueryParams), responses((status = 200, body = [AuditRecord], headers(("link" = String, description = "With `limit`, when more rows follow: `<the next page>; rel=\"next\"`")))))]
async fn list_audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
    ApiQuery(query): ApiQuery<AuditQueryParams>,
) -> ApiResult {
    let from = match query.from.as_deref() {
        Some(text) => Some(Timestamp::parse(text).map_err(|e| ApiError::invalid(format!("from: {e}")))?),
        None => None,
    };
    let kind = match query.kind.as_deref() {
        Some(text) => Some(convert::object_kind(text).ok_or_else(|| {
            ApiError::invalid(format!(
                "kind: unknown object kind {:?}: use connection, vault entry, credential storage, link, pipeline, \
                 database, principal or token",
                lanyard_core::printable(text, 64)
            ))
        })?),
        None => None,
    };
    let newest = query.newest.unwrap_or(false);
    let audit_query =
        AuditQuery { since: query.since, object: query.object.clone(), limit: query.limit, from, kind, newest };
    let records = state.control.list_audit(&caller, &audit_query).await?;
    // A full page of the oldest-first walk may have more after it: the next page starts after its last record.
    let full = i64::try_from(records.len()).ok() == Some(query.limit.unwrap_or(lanyard_control::AUDIT_PAGE));
    let next =
        records.last().filter(|_| full && !newest).map(|last| AuditQueryParams { since: Some(last.seq), ..query });
    let records: Vec<_> = records.into_iter().map(convert::audit_record).collect();
    with_next(&uri, axum::Json(records).into_response(), next.as_ref())
}

/// The [`Page`] a list request asks for: `limit` within 1..=[`MAX_LIMIT`](lanyard_api::paging::MAX_LIMIT), `cursor`
/// a token this server issued.
fn page(query: &PageQuery) -> Result<Page, ApiError> {
    use lanyard_api::paging::{MAX_LIMIT, decode_cursor};
    if let Some(limit) = query.limit.filter(|limit| !(1..=MAX_LIMIT).contains(limit)) {
        return Err(ApiError::invalid(format!("limit: {limit} is out of range; give 1 to {MAX_LIMIT}")));
    }
    let after = query.cursor.as_deref().map(decode_cursor).transpose().map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(Page { after, limit: query.limit })
}

/// A query of a list route that can point at the page after another.
trait Continued: Serialize + Clone {
    /// This query, continuing after the row named `key`.
    fn continued(&self, key: &[String]) -> Self;
}

impl Continued for ListQuery {
    fn continued(&self, key: &[String]) -> Self {
        Self { cursor: Some(lanyard_api::paging::encode_cursor(key)), ..self.clone() }
    }
}

impl Continued for PageQuery {
    fn continued(&self, key: &[String]) -> Self {
        Self { cursor: Some(lanyard_api::paging::encode_cursor(key)), ..self.clone() }
    }
}

/// The answer of a list route: the page's rows as a JSON array and, when more follow, a `Link` header whose `next`
/// target is this request (its path and `query`) continuing after the page's last row.
fn listed_answer<V, T: Serialize, Q: Continued>(
    uri: &Uri,
    query: &Q,
    listed: Listed<V>,
    convert: impl Fn(V) -> T,
) -> ApiResult {
    let rows: Vec<T> = listed.rows.into_iter().map(convert).collect();
    let next = listed.next.map(|key| query.continued(&key));
    with_next(uri, axum::Json(rows).into_response(), next.as_ref())
}

/// `response` with a `Link: <path?query>; rel="next"` header when `next` is given.
fn with_next<Q: Serialize>(uri: &Uri, mut response: Response, next: Option<&Q>) -> ApiResult {
    if let Some(next) = next {
        let query = serde_urlencoded::to_string(next).map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?;
        let target = lanyard_api::paging::next_link(&format!("{}?{query}", uri.path()));
        let value = HeaderValue::from_str(&target).map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?;
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

/// 404 for paths the table does not have.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "no such route")
}

/// 405 for methods a path does not have.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorKind::MethodNotAllowed, "method not allowed on this path")
}
