//! The OpenAPI description, generated from the route table (each handler's `#[utoipa::path]`) and the wire types of
//! `lanyard-api`, so it cannot drift: it lists exactly the routes the router serves.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{Access, Handler, operations};

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

/// What the document says besides the routes: its title and the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "Lanyard Control Plane", description = "Connections, vault entries and credential storages. Errors are application/problem+json."),
    components(schemas(lanyard_api::Problem)),
    modifiers(&Bearer),
)]
struct ApiDoc;

/// The document every router starts from.
pub(crate) fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Marks the operations of a route that needs a token with the bearer security requirement, from its access rule.
pub(crate) fn secure(access: Access, (schemas, mut paths, router): Handler) -> Handler {
    if let Access::Requires(..) = access {
        for item in paths.paths.values_mut() {
            for (_, operation) in operations(item) {
                operation.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
            }
        }
    }
    (schemas, paths, router)
}
