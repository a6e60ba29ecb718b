//! The OpenAPI description, generated from the handlers' annotations and the wire types, so it cannot drift.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::dto::*;
use crate::error::Problem;
use crate::routes::*;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("lyd_…").build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Lanyard Control Plane", description = "Connections, vault entries and credential storages. Errors are application/problem+json."),
    paths(
        healthz, metrics, openapi,
        list_connections, create_connection, get_connection, alter_connection, drop_connection, test_connection,
        list_entries, create_entry, get_entry, alter_entry, drop_entry,
        list_backends, create_backend, get_backend, alter_backend, drop_backend, test_backend,
        list_audit,
    ),
    components(schemas(Problem, ConnectionDto, CreateConnection, AlterConnection, ConnectionActionDto, KeyValue,
        TestResultDto, EntryDto, CreateEntry, AlterEntry, EntryActionDto, BackendDto, CreateBackend, AlterBackend,
        BackendActionDto, StorageTestDto, ProbeStepDto, AuditDto, Health, RefDto, LastTestDto, SecretField)),
    modifiers(&Bearer),
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}
