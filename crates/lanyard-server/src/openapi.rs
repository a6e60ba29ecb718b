//! The OpenAPI description, generated from the route table (each handler's `#[utoipa::path]`) and the wire types of
//! `lanyard-api`, so it cannot drift: it lists exactly the routes the router serves.
//!
//! A handler's `#[utoipa::path]` names its successes only. Everything else an operation answers is added here, in
//! one place, by [`complete`], from the route's access rule and the shape of its operation ([`Shape`]): the error
//! statuses ([`errors`], each `application/problem+json` with the `Problem` schema), the response headers
//! (`x-request-id` everywhere, `ETag` on a single object, `WWW-Authenticate` on 401, `Retry-After` on 429 and 503),
//! the `If-Match` header where it is read, and the links from a created object to the operations on it (for clients
//! and the stateful phase of the schemathesis step, `cargo xtask schemathesis`).

use std::collections::BTreeMap;

use axum::http::Method;
use lanyard_core::AuditAction;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required};
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
    components(schemas(lanyard_api::Problem, lanyard_api::schema::Name)),
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

/// The content type of every error answer.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// What decides an operation's error answers: its route's access rule and the shape of its operation.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// Who may call it.
    pub(crate) access: Access,
    /// Its method.
    pub(crate) method: Method,
    /// Its path has `{param}`s (so the object it names may not exist).
    pub(crate) templated: bool,
    /// It reads parameters (path, query) that a request can get wrong.
    pub(crate) parameters: bool,
    /// It reads a JSON body.
    pub(crate) body: bool,
}

impl Shape {
    /// It reads `If-Match` (every `PUT` and `DELETE` does; `tests/router.rs` checks each one refuses a malformed one).
    pub(crate) fn reads_if_match(&self) -> bool {
        self.method == Method::PUT || self.method == Method::DELETE
    }

    /// Its audit action's verb: `create`, `alter`, `drop`, `start`, `stop`, `test`, `get`, `list`.
    fn verb(&self) -> Option<&'static str> {
        match self.access {
            Access::Public => None,
            Access::Requires(_, action) => action.as_str().rsplit('.').next(),
        }
    }

    /// It may call a vault backend, which can throttle (429) or be unreachable (503): a write or a test of a vault
    /// entry, a credential storage or a link (whose credentials live in a vault entry), and TEST CONNECTION (which
    /// resolves the credential).
    fn calls_backends(&self) -> bool {
        let Access::Requires(_, action) = self.access else { return false };
        let object = action.as_str().split('.').next().unwrap_or("");
        action == AuditAction::ConnectionTest
            || (matches!(object, "vault_entry" | "credential_storage" | "link")
                && matches!(self.verb(), Some("create" | "alter" | "drop" | "test")))
    }
}

/// The error statuses an operation of this shape can answer, each with what it means there.
pub(crate) fn errors(shape: &Shape) -> Vec<(u16, &'static str)> {
    let secured = matches!(shape.access, Access::Requires(..));
    let mut out = Vec::new();
    if shape.parameters || shape.body || secured || shape.reads_if_match() {
        out.push((400, "invalid: a malformed parameter, header or body, or a value a rule of the object refuses"));
    }
    if secured {
        out.push((401, "unauthenticated: no token, or an unknown, revoked or expired one"));
        out.push((403, "forbidden: the token's role lacks the route's permission (audited)"));
    }
    if shape.templated || shape.body {
        out.push((404, "not_found: the object the path names, or one the body names, does not exist"));
    }
    out.push((408, "request_timeout: the request body did not arrive within the body timeout"));
    if matches!(shape.verb(), Some("create" | "alter" | "drop" | "start" | "stop")) {
        out.push((
            409,
            "already_exists or conflict: the name is taken, the object is still used, or a concurrent change",
        ));
    }
    if shape.reads_if_match() {
        out.push((412, "precondition_failed: If-Match no longer matches the object's version"));
    }
    if shape.body {
        out.push((413, "payload_too_large: the body is larger than 1 MiB"));
    }
    out.push((414, "uri_too_long: the request line is too long"));
    if shape.calls_backends() {
        out.push((429, "rate_limited: a vault backend throttled the call (Retry-After when known)"));
    }
    out.push((431, "headers_too_large: the request's headers are too large"));
    if secured {
        out.push((503, "backend_unavailable: the catalog or a vault backend is unreachable (Retry-After when known)"));
    }
    out
}

/// Completes every operation of `doc` (see the module's documentation) and the schemas the derives cannot say.
/// `routes` gives each operation's access rule; `backend_kinds` are the credential storage kinds this build has.
pub(crate) fn complete(doc: &mut utoipa::openapi::OpenApi, routes: &[crate::Route], backend_kinds: &[&str]) {
    complete_schemas(doc, backend_kinds);
    let versioned: Vec<String> = doc
        .components
        .iter()
        .flat_map(|components| &components.schemas)
        .filter(|(_, schema)| matches!(schema, RefOr::T(Schema::Object(o)) if o.properties.contains_key("version")))
        .map(|(name, _)| format!("#/components/schemas/{name}"))
        .collect();
    let links = creation_links(doc);
    for (path, item) in &mut doc.paths.paths {
        for (method, operation) in operations(item) {
            let access = routes
                .iter()
                .find(|route| route.method == method && &route.path == path)
                .map_or(Access::Public, |route| route.access);
            let shape = Shape {
                access,
                method: method.clone(),
                templated: path.contains('{'),
                parameters: operation.parameters.as_ref().is_some_and(|p| !p.is_empty()),
                body: operation.request_body.is_some(),
            };
            // Every path parameter names an object: a name, or for vault entries and storages the id (which is
            // one too). The server refuses what is not a name.
            // A query string cannot carry `null`: an optional query parameter is absent, never null.
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == ParameterIn::Path {
                    parameter.schema = Some(RefOr::Ref(Ref::from_schema_name("Name")));
                }
                if parameter.parameter_in == ParameterIn::Query
                    && let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut()
                    && let SchemaType::Array(types) = &object.schema_type
                {
                    let kept: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
                    if let [only] = kept.as_slice() {
                        object.schema_type = SchemaType::Type(only.clone());
                    }
                }
            }
            if shape.reads_if_match() {
                operation.parameters.get_or_insert_with(Vec::new).push(if_match_parameter());
            }
            // An error a handler declares itself (`/healthz`'s 503) is made a problem answer like the others.
            for (status, response) in &mut operation.responses.responses {
                if let (Ok(code @ 400..=599), RefOr::T(declared)) = (status.parse::<u16>(), &*response) {
                    *response = RefOr::T(problem(code, &declared.description.clone()));
                }
            }
            for (status, meaning) in errors(&shape) {
                operation.responses.responses.insert(status.to_string(), RefOr::T(problem(status, meaning)));
            }
            for (status, response) in &mut operation.responses.responses {
                let RefOr::T(response) = response else { continue };
                response.headers.insert(
                    crate::REQUEST_ID.to_owned(),
                    HeaderBuilder::new()
                        .schema(string())
                        .description(Some("The request's id (the caller's when sane, else a new UUID)"))
                        .build(),
                );
                let single = response
                    .content
                    .get("application/json")
                    .and_then(|c| c.schema.as_ref())
                    .is_some_and(|schema| matches!(schema, RefOr::Ref(r) if versioned.contains(&r.ref_location)));
                if status.starts_with('2') && single {
                    response.headers.insert(
                        "ETag".to_owned(),
                        HeaderBuilder::new()
                            .schema(etag())
                            .description(Some("The object's version, `\"<version>\"`: send it back in If-Match"))
                            .build(),
                    );
                }
                if status == "201"
                    && let Some(found) = links.get(path.as_str())
                {
                    response.links.extend(found.iter().map(|(name, link)| (name.clone(), RefOr::T(link.clone()))));
                }
            }
        }
    }
}

/// A problem answer.
fn problem(status: u16, meaning: &str) -> utoipa::openapi::Response {
    let mut builder = ResponseBuilder::new()
        .description(meaning)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build());
    if status == 401 {
        builder = builder.header(
            "WWW-Authenticate",
            HeaderBuilder::new().schema(string()).description(Some("`Bearer realm=\"lanyard\"`")).build(),
        );
    }
    if status == 429 || status == 503 {
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]+$")).build())
                .description(Some("Seconds to wait before trying again, when known"))
                .build(),
        );
    }
    builder.build()
}

fn string() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).build())
}

/// A strong ETag of this API: `"<version>"`.
fn etag() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^\"[0-9]+\"$")).build())
}

/// The `If-Match` header of the operations that read it.
fn if_match_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("If-Match")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Apply only if the object is still at this version: its ETag, `\"<version>\"` (a strong ETag; a \
             malformed or weak one is 400), or `*` for any version. Without it the change applies unconditionally; a \
             version that no longer matches is 412.",
        ))
        .schema(Some(
            ObjectBuilder::new().schema_type(Type::String).pattern(Some("^(\"[0-9]{1,18}\"|[0-9]{1,18}|\\*)$")).build(),
        ))
        .build()
}

/// For each creating operation (`POST <collection>` answering 201), links from its answer to every operation on
/// `<collection>/{param}…`: the new object's `name` for the last parameter, the request's own path parameters for
/// the others. Keyed by the collection's path.
fn creation_links(doc: &utoipa::openapi::OpenApi) -> BTreeMap<String, Vec<(String, utoipa::openapi::link::Link)>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (collection, item) in &doc.paths.paths {
        let creates = item.post.as_ref().is_some_and(|post| post.responses.responses.contains_key("201"));
        if !creates {
            continue;
        }
        for (path, target) in &doc.paths.paths {
            let Some(rest) = path.strip_prefix(collection.as_str()).and_then(|rest| rest.strip_prefix("/{")) else {
                continue;
            };
            let Some((param, _)) = rest.split_once('}') else { continue };
            let mut target = target.clone();
            for (_, operation) in operations(&mut target) {
                let Some(id) = operation.operation_id.clone() else { continue };
                let mut link = LinkBuilder::new().parameter(param, "$response.body#/name");
                for own in collection.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(p, _)| p) {
                    link = link.parameter(own, format!("$request.path.{own}"));
                }
                // utoipa 5.5 writes the Link's `operation_id` field as `operation_id`, not OpenAPI's `operationId`:
                // the key goes in as an extension (which is written as it is) instead.
                let link = link
                    .extensions(Some(Extensions::from_iter([("operationId", serde_json::Value::from(id.clone()))])))
                    .build();
                out.entry(collection.clone()).or_default().push((id, link));
            }
        }
    }
    out
}

/// What the derives of `lanyard-api` cannot say:
/// - an action (serde's externally tagged enum: an object with exactly one key) allows no other key;
/// - ALTER LINK takes at most one CONFIG and one CREDENTIALS action; CREATE LINK not both OR REPLACE and IF NOT EXISTS;
/// - a new credential storage's `type` is one of the kinds this build has, `local` excepted (it is built in).
fn complete_schemas(doc: &mut utoipa::openapi::OpenApi, backend_kinds: &[&str]) {
    let Some(components) = doc.components.as_mut() else { return };
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::OneOf(one_of)) = schema else { continue };
        for item in &mut one_of.items {
            if let RefOr::T(Schema::Object(variant)) = item
                && variant.properties.len() == 1
                && variant.required.len() == 1
            {
                variant.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
    // ALTER LINK: at most one CONFIG action and one CREDENTIALS action. utoipa has no `contains`; the keywords go in
    // as extensions, which are written as they are.
    if let Some(RefOr::T(Schema::Object(alter))) = components.schemas.get_mut("AlterLink") {
        let at_most_one = |variants: &[&str]| {
            let any: Vec<serde_json::Value> =
                variants.iter().map(|v| serde_json::json!({"type": "object", "required": [v]})).collect();
            serde_json::json!({"properties": {"actions": {"contains": {"anyOf": any}, "minContains": 0, "maxContains": 1}}})
        };
        let all_of = serde_json::json!([
            at_most_one(&["set_config_json", "set_config_key"]),
            at_most_one(&["set_credentials_json", "set_credentials_key", "set_credentials_entry"]),
        ]);
        alter.extensions.get_or_insert_with(Extensions::default).insert("allOf".to_owned(), all_of);
    }
    // CREATE LINK: OR REPLACE and IF NOT EXISTS exclude each other.
    if let Some(RefOr::T(Schema::Object(create))) = components.schemas.get_mut("CreateLink") {
        let both = serde_json::json!({
            "properties": {"or_replace": {"const": true}, "if_not_exists": {"const": true}},
            "required": ["or_replace", "if_not_exists"],
        });
        create.extensions.get_or_insert_with(Extensions::default).insert("not".to_owned(), both);
    }
    if let Some(RefOr::T(Schema::Object(create))) = components.schemas.get_mut("CreateBackend") {
        let kinds: Vec<&str> = backend_kinds.iter().copied().filter(|kind| *kind != "local").collect();
        create.properties.insert(
            "type".to_owned(),
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("A credential storage kind of this build (`local` is built in)"))
                    .enum_values(Some(kinds))
                    .build(),
            )),
        );
    }
}
