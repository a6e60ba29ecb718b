//! The edge between the wire and the Control Plane: `lanyard_api` requests into the control plane's typed
//! requests, its views into `lanyard_api` views. Nothing here is a type of its own.

use std::collections::BTreeMap;

use lanyard_api as api;
use lanyard_control::{
    AuditRecord, BackendAction, BackendView, ConnectionAction, ConnectionView, CredentialsSource, DatabaseView,
    EntryAction, EntryType, EntryView, LastTest, LinkAction, LinkCredentialsView, LinkDefinition, LinkTestOutcome,
    LinkView, Material, NamedRef, NewBackend, NewConnection, NewEntry, NewLink, NewPipeline, PipelineFileView,
    PipelineView, StorageTestOutcome, TestOutcome, Warning,
};
use lanyard_core::{SecretString, TestStatus};

use crate::error::ApiError;

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// A string-to-string map whose values must be strings.
fn string_pairs(map: &api::OrderedMap, what: &str) -> Result<Vec<(String, String)>> {
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(ApiError::invalid(format!("{what} {:?} must be a string", lanyard_core::printable(k, 64)))),
        })
        .collect()
}

fn secret_pairs(options: api::SecretOptions) -> Vec<(String, SecretString)> {
    options.0.into_iter().map(|(k, v)| (k, v.0)).collect()
}

fn reference<Id: std::fmt::Display>(r: NamedRef<Id>) -> api::Ref {
    api::Ref { id: r.id.to_string(), name: r.name }
}

fn result(passed: bool) -> String {
    if passed { api::PASSED } else { api::FAILED }.to_owned()
}

fn last_test(t: &LastTest) -> api::LastTest {
    api::LastTest {
        at: t.at.to_string(),
        status: t.status,
        latency_ms: t.latency_ms,
        error: t.error.clone(),
        server_version: t.server_version.clone(),
    }
}

/// A connection view.
pub(crate) fn connection(v: ConnectionView) -> api::Connection {
    let status = v.status().to_owned();
    api::Connection {
        id: v.id.to_string(),
        options: v
            .options
            .iter()
            .map(|(k, value)| (k.as_str().to_owned(), serde_json::Value::String(value.redacted().to_owned())))
            .collect(),
        last_test: v.last_test.as_ref().map(last_test),
        name: v.name,
        entity_ref: v.entity_ref,
        connection_type: v.connection_type.as_str().to_owned(),
        description: v.description,
        credential: v.credential.map(reference),
        credential_expires_at: v.credential_expires_at.map(|t| t.to_string()),
        credential_storage: v.credential_storage.map(reference),
        max_connections: v.max_connections,
        timeout_seconds: v.timeout_seconds,
        status,
        created_at: v.created_at.to_string(),
        updated_at: v.updated_at.to_string(),
        version: v.version,
        warnings: warnings(v.warnings),
    }
}

/// The warnings of a write's answer.
fn warnings(warnings: Vec<Warning>) -> Vec<api::Warning> {
    warnings.into_iter().map(|w| api::Warning { code: w.code.as_str().to_owned(), message: w.message }).collect()
}

/// CREATE CONNECTION.
pub(crate) fn new_connection(body: api::CreateConnection) -> Result<NewConnection> {
    Ok(NewConnection {
        options: string_pairs(&body.options, "option")?,
        name: body.name,
        connection_type: body.connection_type,
        description: body.description,
        credential: body.credential,
        credential_storage: body.credential_storage,
        max_connections: body.max_connections,
        timeout_seconds: body.timeout_seconds,
        if_not_exists: body.if_not_exists,
    })
}

/// ALTER CONNECTION.
pub(crate) fn connection_actions(body: api::AlterConnection) -> Result<Vec<ConnectionAction>> {
    use api::ConnectionAction as A;
    body.actions
        .into_iter()
        .map(|action| {
            Ok(match action {
                A::SetOptions(map) => ConnectionAction::SetOptions(string_pairs(&map, "option")?),
                A::SetOption(kv) => ConnectionAction::SetOption { key: kv.key, value: kv.value },
                A::UnsetOption(key) => ConnectionAction::UnsetOption(key),
                A::SetCredential(name) => ConnectionAction::SetCredential(name),
                A::UnsetCredential => ConnectionAction::UnsetCredential,
                A::SetCredentialStorage(name) => ConnectionAction::SetCredentialStorage(name),
                A::UnsetCredentialStorage => ConnectionAction::UnsetCredentialStorage,
                A::RenameTo(name) => ConnectionAction::RenameTo(name),
                A::SetDescription(text) => ConnectionAction::SetDescription(text),
                A::SetMaxConnections(n) => ConnectionAction::SetMaxConnections(n),
                A::SetTimeout(n) => ConnectionAction::SetTimeout(n),
                A::RollbackToVersion(version) => ConnectionAction::RollbackToVersion(version),
            })
        })
        .collect()
}

/// The result of TEST CONNECTION.
pub(crate) fn test_result(t: TestOutcome) -> api::TestResult {
    api::TestResult {
        result: t.status.result().to_owned(),
        latency_ms: t.latency_ms,
        server_version: t.server_version,
        error: t.error,
        connection: connection(t.connection),
        warnings: warnings(t.warnings),
    }
}

/// A vault entry view.
pub(crate) fn entry(v: EntryView) -> api::Entry {
    api::Entry {
        id: v.id.to_string(),
        entry_type: v.entry_type,
        name: v.name,
        algorithm: v.algorithm,
        key_size: v.key_size,
        current_version: v.current_version,
        storage: reference(v.backend),
        external_secret_name: v.external_secret_name,
        description: v.description,
        expires_at: v.expires_at.map(|t| t.to_string()),
        rotated_at: v.rotated_at.map(|t| t.to_string()),
        created_at: v.created_at.to_string(),
        updated_at: v.updated_at.to_string(),
        version: v.version,
        warnings: warnings(v.warnings),
    }
}

/// CREATE VAULT / CREDENTIAL.
pub(crate) fn new_entry(body: api::CreateEntry) -> Result<NewEntry> {
    let entry_type = body.entry_type.parse::<EntryType>().map_err(|_| {
        ApiError::invalid(format!(
            "unknown entry type {:?}: use ENCRYPTION_KEY or CREDENTIAL",
            lanyard_core::printable(&body.entry_type, 40)
        ))
    })?;
    let material = match (body.secret, body.generate, body.linked_external_secret) {
        (None, false, None) => Material::None,
        (Some(secret), false, None) => Material::Secret(secret.0),
        (None, true, None) => Material::Generate,
        (None, false, Some(name)) => Material::Linked(name),
        _ => return Err(ApiError::invalid("secret, generate and linked_external_secret are mutually exclusive")),
    };
    Ok(NewEntry {
        name: body.name,
        entry_type,
        algorithm: body.algorithm,
        key_size: body.key_size,
        material,
        backend: body.storage,
        description: body.description,
        expires_at: body.expires,
        if_not_exists: body.if_not_exists,
    })
}

/// ALTER VAULT / CREDENTIAL.
pub(crate) fn entry_actions(body: api::AlterEntry) -> Vec<EntryAction> {
    use api::EntryAction as A;
    body.actions
        .into_iter()
        .map(|action| match action {
            A::Rotate => EntryAction::Rotate,
            A::SetSecret(secret) => EntryAction::SetSecret(secret.0),
            A::SetDescription(text) => EntryAction::SetDescription(text),
            A::SetExpires(text) => EntryAction::SetExpires(text),
            A::RenameTo(name) => EntryAction::RenameTo(name),
        })
        .collect()
}

/// A credential storage view: secret options show as `***`.
pub(crate) fn backend(v: BackendView) -> api::Backend {
    let mut options: BTreeMap<String, String> = v.options.into_iter().collect();
    for key in v.secret_options {
        options.insert(key, lanyard_core::REDACTED.to_owned());
    }
    api::Backend {
        id: v.id.to_string(),
        name: v.name,
        backend_type: v.backend_type,
        description: v.description,
        options,
        active: v.active,
        builtin: v.builtin,
        created_at: v.created_at.to_string(),
        updated_at: v.updated_at.to_string(),
        version: v.version,
    }
}

/// CREATE CREDENTIAL STORAGE.
pub(crate) fn new_backend(body: api::CreateBackend) -> NewBackend {
    NewBackend {
        options: secret_pairs(body.options),
        name: body.name,
        backend_type: body.backend_type,
        description: body.description,
        active: body.active,
        if_not_exists: body.if_not_exists,
    }
}

/// ALTER CREDENTIAL STORAGE.
pub(crate) fn backend_actions(body: api::AlterBackend) -> Vec<BackendAction> {
    use api::BackendAction as A;
    body.actions
        .into_iter()
        .map(|action| match action {
            A::SetOptions(options) => BackendAction::SetOptions(secret_pairs(options)),
            A::SetDescription(text) => BackendAction::SetDescription(text),
            A::SetActive(active) => BackendAction::SetActive(active),
            A::RenameTo(name) => BackendAction::RenameTo(name),
        })
        .collect()
}

/// The result of TEST CREDENTIAL STORAGE.
pub(crate) fn storage_test(t: StorageTestOutcome) -> api::StorageTest {
    api::StorageTest {
        result: result(t.passed),
        steps: t
            .steps
            .into_iter()
            .map(|s| api::ProbeStep {
                step: s.step,
                status: if s.outcome.is_ok() { TestStatus::Ok } else { TestStatus::Failed },
                error: s.outcome.err(),
                micros: s.micros,
            })
            .collect(),
    }
}

/// One version of SHOW HISTORY.
pub(crate) fn version(v: lanyard_control::VersionView) -> api::HistoryEntry {
    api::HistoryEntry {
        version: v.version,
        name: v.name,
        at: v.at.to_string(),
        principal: v.principal,
        action: v.action.as_str().to_owned(),
        actions: v.actions,
        changes: v
            .changes
            .into_iter()
            .map(|c| api::FieldChange { field: c.field, before: c.before, after: c.after })
            .collect(),
    }
}

/// The point in time of `?version=` / `?at=`: exactly one.
pub(crate) fn point_in_time(query: &api::AsOfQuery) -> Result<lanyard_control::PointInTime> {
    match (query.version, query.at.as_deref()) {
        (Some(version), None) if version >= 1 => Ok(lanyard_control::PointInTime::Version(version)),
        (Some(version), None) => Err(ApiError::invalid(format!("version: {version} is not a version; give 1 or more"))),
        (None, Some(at)) => Ok(lanyard_control::PointInTime::At(
            lanyard_control::parse_instant(at).map_err(|e| ApiError::invalid(format!("at: {}", e.message())))?,
        )),
        _ => Err(ApiError::invalid("give exactly one of version (a version number) and at (an RFC 3339 instant)")),
    }
}

/// An audit record.
pub(crate) fn audit_record(r: AuditRecord) -> api::AuditRecord {
    api::AuditRecord {
        seq: r.seq,
        at: r.at.to_string(),
        outcome: r.record.outcome,
        principal: r.record.principal,
        action: r.record.action.to_string(),
        object_kind: r.record.object_kind.noun().to_owned(),
        object_id: r.record.object_id,
        object_name: r.record.object_name,
        detail: serde_json::Value::Object(r.record.detail),
    }
}

/// An object kind as audit records spell it (`vault entry`; `vault_entry` too).
pub(crate) fn object_kind(text: &str) -> Option<lanyard_core::ObjectKind> {
    use lanyard_core::ObjectKind as K;
    let wanted = text.trim().replace('_', " ");
    [K::Connection, K::VaultEntry, K::CredentialStorage, K::Link, K::Pipeline, K::Database, K::Principal, K::Token]
        .into_iter()
        .find(|kind| kind.noun().eq_ignore_ascii_case(&wanted))
}

/// A link view.
pub(crate) fn link(v: LinkView) -> api::Link {
    api::Link {
        id: v.id.to_string(),
        database: v.database,
        name: v.name,
        link_type: v.link_type,
        description: v.description,
        config: v.config,
        credentials: v.credentials.map(|c| match c {
            LinkCredentialsView::Owned => api::LinkCredentials::Link,
            LinkCredentialsView::Entry(entry) => api::LinkCredentials::VaultEntry { entry: reference(entry) },
        }),
        created_at: v.created_at.to_string(),
        updated_at: v.updated_at.to_string(),
        version: v.version,
    }
}

pub(crate) fn database(v: DatabaseView) -> api::Database {
    api::Database { id: v.id.to_string(), name: v.name, created_at: v.created_at.to_string(), version: v.version }
}

/// CREATE [OR REPLACE] LINK in database `database`.
pub(crate) fn new_link(database: String, body: api::CreateLink) -> Result<NewLink> {
    let credentials = match (body.credentials, body.credentials_entry) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give either credentials (a JSON object) or credentials_entry (a vault entry name), not both",
            ));
        }
        (Some(json), None) => Some(CredentialsSource::Json(json.0)),
        (None, Some(entry)) => Some(CredentialsSource::Entry(entry)),
        (None, None) => None,
    };
    Ok(NewLink {
        database,
        name: body.name,
        link_type: body.link_type,
        description: body.description,
        config: body.config,
        credentials,
        or_replace: body.or_replace,
        if_not_exists: body.if_not_exists,
    })
}

/// ALTER LINK.
pub(crate) fn link_actions(body: api::AlterLink) -> Vec<LinkAction> {
    use api::LinkAction as A;
    body.actions
        .into_iter()
        .map(|action| match action {
            A::SetConfigJson(config) => LinkAction::ConfigJson(config),
            A::SetConfigKey(kv) => LinkAction::ConfigKey { key: kv.key, value: kv.value },
            A::SetCredentialsJson(json) => LinkAction::CredentialsJson(json.0),
            A::SetCredentialsKey(kv) => LinkAction::CredentialsKey { key: kv.key, value: kv.value.0 },
            A::SetCredentialsEntry(entry) => LinkAction::CredentialsEntry(entry),
        })
        .collect()
}

/// SHOW CREATE LINK.
pub(crate) fn link_definition(d: LinkDefinition) -> api::LinkDefinition {
    api::LinkDefinition { link_name: d.link_name, create_link: d.create_link, version: d.version }
}

/// The result of TEST LINK.
pub(crate) fn link_test(t: LinkTestOutcome) -> api::LinkTestResult {
    api::LinkTestResult {
        result: t.status.result().to_owned(),
        latency_ms: t.latency_ms,
        server_version: t.server_version,
        error: t.error,
    }
}

pub(crate) fn pipeline(v: PipelineView) -> api::Pipeline {
    let row = v.row;
    api::Pipeline {
        id: row.meta.id.to_string(),
        database: row.database.to_string(),
        name: row.name.to_string(),
        link: reference(v.link),
        path: row.path,
        connection: reference(v.connection),
        table: row.target_table.to_string(),
        format: row.format,
        state: row.state,
        cursor: row.cursor,
        last_error_at: row.last_error.as_ref().map(|(at, _)| at.to_string()),
        last_error: row.last_error.map(|(_, error)| error),
        files: api::FileCounts {
            loaded: v.files.loaded,
            unloaded: v.files.unloaded,
            failed: v.files.failed,
            rows: v.files.rows,
        },
        running_on: v.running_on,
        created_at: row.meta.created_at.to_string(),
        updated_at: row.meta.updated_at.to_string(),
        version: row.meta.version,
    }
}

pub(crate) fn pipeline_file(f: PipelineFileView) -> api::PipelineFile {
    api::PipelineFile {
        key: f.key,
        state: f.state,
        rows: f.rows,
        size: f.size,
        etag: f.etag,
        error: f.error,
        updated_at: f.updated_at.to_string(),
    }
}

/// CREATE PIPELINE in database `database`.
pub(crate) fn new_pipeline(database: String, body: api::CreatePipeline) -> NewPipeline {
    NewPipeline {
        database,
        name: body.name,
        link: body.link,
        path: body.path,
        connection: body.connection,
        table: body.table,
        format: body.format,
        if_not_exists: body.if_not_exists,
    }
}
