//! The JSON shapes of the API, as the client sends and reads them (docs/http-api.md is the contract; the
//! end-to-end tests run every statement against the real server, so the two cannot drift apart unnoticed).
//!
//! Requests that carry secret material ([`NewEntry::secret`], [`EntryAction::SetSecret`], backend options) hold it
//! as [`SecretString`] and expose it only while the body is built; their `Debug` prints `***`.

use std::collections::BTreeMap;

use lanyard_core::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// A reference to another object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Ref {
    /// Its id.
    pub id: String,
    /// Its current name.
    pub name: String,
}

/// The last TEST CONNECTION of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LastTest {
    /// When (ISO 8601).
    pub at: String,
    /// `ok` or `failed`.
    pub status: String,
    /// Milliseconds.
    pub latency_ms: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The remote server's version.
    pub server_version: Option<String>,
}

/// A connection, as the server shows it (secret-looking option values masked).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Connection {
    /// Immutable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `con::<name>`.
    pub entity_ref: String,
    /// Connection type (`postgresql`, `s3`, …).
    #[serde(rename = "type")]
    pub connection_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Options, in stored order.
    pub options: Map<String, Value>,
    /// The credential entry.
    pub credential: Option<Ref>,
    /// The credential storage.
    pub credential_storage: Option<Ref>,
    /// Pool limit.
    pub max_connections: Option<i64>,
    /// Connect timeout, seconds.
    pub timeout_seconds: Option<i64>,
    /// `ok`, `failed` or `untested`.
    pub status: String,
    /// The last test.
    pub last_test: Option<LastTest>,
    /// Created (ISO 8601).
    pub created_at: String,
    /// Last changed (ISO 8601).
    pub updated_at: String,
    /// Row version (the `ETag`).
    pub version: i64,
}

/// The answer to TEST CONNECTION.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TestResult {
    /// `PASSED` or `FAILED`.
    pub result: String,
    /// Milliseconds, resolve included.
    pub latency_ms: i64,
    /// The remote server's version.
    pub server_version: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The connection with the result recorded.
    pub connection: Connection,
}

impl TestResult {
    /// Whether the probe passed.
    pub fn passed(&self) -> bool {
        self.result == "PASSED"
    }
}

/// A vault entry (never its material).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Entry {
    /// Immutable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `ENCRYPTION_KEY` or `CREDENTIAL`.
    #[serde(rename = "type")]
    pub entry_type: String,
    /// Metadata.
    pub algorithm: Option<String>,
    /// Metadata, bits.
    pub key_size: Option<i64>,
    /// Material version.
    pub current_version: i64,
    /// The credential storage holding the material.
    pub storage: Ref,
    /// For linked entries, the backend's own name of the secret.
    pub external_secret_name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Advisory expiry (ISO 8601).
    pub expires_at: Option<String>,
    /// Last ROTATE / SET SECRET (ISO 8601).
    pub rotated_at: Option<String>,
    /// Created (ISO 8601).
    pub created_at: String,
    /// Last changed (ISO 8601).
    pub updated_at: String,
    /// Row version (the `ETag`).
    pub version: i64,
}

/// A credential storage (vault backend); secret options show as `***`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Backend {
    /// Immutable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Backend kind (`local`, `aws`, …).
    #[serde(rename = "type")]
    pub backend_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Options, sorted by key.
    pub options: BTreeMap<String, String>,
    /// ACTIVE or INACTIVE.
    pub active: bool,
    /// The seeded `local` storage.
    pub builtin: bool,
    /// Created (ISO 8601).
    pub created_at: String,
    /// Last changed (ISO 8601).
    pub updated_at: String,
    /// Row version (the `ETag`).
    pub version: i64,
}

/// One step of TEST CREDENTIAL STORAGE.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProbeStep {
    /// What was done.
    pub step: String,
    /// `ok` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub micros: u64,
}

/// The answer to TEST CREDENTIAL STORAGE.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StorageTest {
    /// `PASSED` or `FAILED`.
    pub result: String,
    /// The trace, in order.
    pub steps: Vec<ProbeStep>,
}

impl StorageTest {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        self.result == "PASSED"
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuditRecord {
    /// Sequence number.
    pub seq: i64,
    /// When (ISO 8601).
    pub at: String,
    /// Who.
    pub principal: String,
    /// What (`connection.alter`, …).
    pub action: String,
    /// Which kind of object.
    pub object_kind: String,
    /// Its id.
    pub object_id: Option<String>,
    /// Its name.
    pub object_name: Option<String>,
    /// `allowed`, `denied` or `failed`.
    pub outcome: String,
    /// The redacted change.
    pub detail: Value,
}

/// A CREATE CONNECTION request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewConnection {
    /// Name.
    pub name: String,
    /// Type (`postgresql`, …).
    pub connection_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Options in written order. Connections hold no secrets: the server refuses secret-looking keys.
    pub options: Vec<(String, String)>,
    /// A vault entry name.
    pub credential: Option<String>,
    /// A credential storage name.
    pub credential_storage: Option<String>,
    /// Pool limit.
    pub max_connections: Option<i64>,
    /// Connect timeout, seconds.
    pub timeout_seconds: Option<i64>,
    /// Return an existing connection unchanged instead of failing.
    pub if_not_exists: bool,
}

impl NewConnection {
    pub(crate) fn body(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.connection_type,
            "description": self.description,
            "options": pairs(&self.options),
            "credential": self.credential,
            "credential_storage": self.credential_storage,
            "max_connections": self.max_connections,
            "timeout_seconds": self.timeout_seconds,
            "if_not_exists": self.if_not_exists,
        })
    }
}

/// One ALTER CONNECTION action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionAction {
    /// Replace the whole options map.
    SetOptions(Vec<(String, String)>),
    /// Add or replace one option.
    SetOption {
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// Remove one option (an error if absent).
    UnsetOption(String),
    /// Point at a vault entry.
    SetCredential(String),
    /// Clear the credential.
    UnsetCredential,
    /// Point at a credential storage.
    SetCredentialStorage(String),
    /// Clear the credential storage.
    UnsetCredentialStorage,
    /// Rename.
    RenameTo(String),
    /// Set the description.
    SetDescription(String),
    /// Set MAX_CONNECTIONS.
    SetMaxConnections(i64),
    /// Set TIMEOUT.
    SetTimeout(i64),
}

impl ConnectionAction {
    pub(crate) fn body(&self) -> Value {
        match self {
            Self::SetOptions(options) => json!({ "set_options": pairs(options) }),
            Self::SetOption { key, value } => json!({ "set_option": { "key": key, "value": value } }),
            Self::UnsetOption(key) => json!({ "unset_option": key }),
            Self::SetCredential(name) => json!({ "set_credential": name }),
            Self::UnsetCredential => json!({ "unset_credential": null }),
            Self::SetCredentialStorage(name) => json!({ "set_credential_storage": name }),
            Self::UnsetCredentialStorage => json!({ "unset_credential_storage": null }),
            Self::RenameTo(name) => json!({ "rename_to": name }),
            Self::SetDescription(text) => json!({ "set_description": text }),
            Self::SetMaxConnections(n) => json!({ "set_max_connections": n }),
            Self::SetTimeout(n) => json!({ "set_timeout": n }),
        }
    }
}

/// Where a new vault entry's material comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NewMaterial {
    /// None yet.
    #[default]
    None,
    /// The caller's value.
    Secret(SecretString),
    /// Random key material made by the server.
    Generate,
    /// A secret that already lives in the backend, by its backend name.
    Linked(String),
}

/// A CREATE VAULT / CREDENTIAL request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEntry {
    /// Name.
    pub name: String,
    /// `ENCRYPTION_KEY` or `CREDENTIAL`.
    pub entry_type: String,
    /// Metadata.
    pub algorithm: Option<String>,
    /// Metadata, bits (also the size GENERATE makes).
    pub key_size: Option<i64>,
    /// The material.
    pub material: NewMaterial,
    /// The credential storage (default: `local`).
    pub storage: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Advisory expiry, ISO 8601.
    pub expires: Option<String>,
    /// Return an existing entry unchanged instead of failing.
    pub if_not_exists: bool,
}

impl NewEntry {
    /// The request body; holds the material exposed, so it must go nowhere but the request.
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "name": self.name,
            "type": self.entry_type,
            "algorithm": self.algorithm,
            "key_size": self.key_size,
            "storage": self.storage,
            "description": self.description,
            "expires": self.expires,
            "if_not_exists": self.if_not_exists,
        });
        match &self.material {
            NewMaterial::None => {}
            NewMaterial::Secret(secret) => body["secret"] = Value::String(secret.expose_secret().to_owned()),
            NewMaterial::Generate => body["generate"] = Value::Bool(true),
            NewMaterial::Linked(name) => body["linked_external_secret"] = Value::String(name.clone()),
        }
        body
    }
}

/// One ALTER VAULT / CREDENTIAL action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryAction {
    /// New key material (ENCRYPTION_KEY only).
    Rotate,
    /// Replace the material (CREDENTIAL only).
    SetSecret(SecretString),
    /// Set the description.
    SetDescription(String),
    /// Set the advisory expiry (ISO 8601).
    SetExpires(String),
    /// Rename.
    RenameTo(String),
}

impl EntryAction {
    /// The action's body; SET SECRET's holds the material exposed.
    pub(crate) fn body(&self) -> Value {
        match self {
            Self::Rotate => json!({ "rotate": null }),
            Self::SetSecret(secret) => json!({ "set_secret": secret.expose_secret() }),
            Self::SetDescription(text) => json!({ "set_description": text }),
            Self::SetExpires(text) => json!({ "set_expires": text }),
            Self::RenameTo(name) => json!({ "rename_to": name }),
        }
    }
}

/// A CREATE CREDENTIAL STORAGE request. Options may hold auth secrets (the server strips them into the local
/// vault), so they are all held as secrets here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBackend {
    /// Name.
    pub name: String,
    /// Backend kind (`aws`, `hashicorp`, …).
    pub backend_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Options in written order.
    pub options: Vec<(String, SecretString)>,
    /// ACTIVE (default) or INACTIVE.
    pub active: bool,
    /// Return an existing storage unchanged instead of failing.
    pub if_not_exists: bool,
}

impl NewBackend {
    pub(crate) fn body(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.backend_type,
            "description": self.description,
            "options": secret_pairs(&self.options),
            "active": self.active,
            "if_not_exists": self.if_not_exists,
        })
    }
}

/// One ALTER CREDENTIAL STORAGE action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendAction {
    /// Replace the whole options map (secret options are stripped into the local vault again).
    SetOptions(Vec<(String, SecretString)>),
    /// Set the description.
    SetDescription(String),
    /// ACTIVE (`true`) or INACTIVE.
    SetActive(bool),
    /// Rename.
    RenameTo(String),
}

impl BackendAction {
    pub(crate) fn body(&self) -> Value {
        match self {
            Self::SetOptions(options) => json!({ "set_options": secret_pairs(options) }),
            Self::SetDescription(text) => json!({ "set_description": text }),
            Self::SetActive(active) => json!({ "set_active": active }),
            Self::RenameTo(name) => json!({ "rename_to": name }),
        }
    }
}

fn pairs(options: &[(String, String)]) -> Map<String, Value> {
    options.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()
}

fn secret_pairs(options: &[(String, SecretString)]) -> Map<String, Value> {
    options.iter().map(|(k, v)| (k.clone(), Value::String(v.expose_secret().to_owned()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_requests_never_shows_material() {
        let entry = NewEntry {
            name: "e".into(),
            entry_type: "CREDENTIAL".into(),
            material: NewMaterial::Secret(SecretString::new("canary-wire-1")),
            ..NewEntry::default()
        };
        let action = EntryAction::SetSecret(SecretString::new("canary-wire-2"));
        let backend = NewBackend {
            name: "b".into(),
            backend_type: "aws".into(),
            description: None,
            options: vec![("secret_access_key".into(), SecretString::new("canary-wire-3"))],
            active: true,
            if_not_exists: false,
        };
        let text = format!("{entry:?} {action:?} {backend:?}");
        assert!(!text.contains("canary"), "{text}");
        // …while the bodies carry it to the server.
        assert_eq!(entry.body()["secret"], "canary-wire-1");
        assert_eq!(action.body()["set_secret"], "canary-wire-2");
        assert_eq!(backend.body()["options"]["secret_access_key"], "canary-wire-3");
    }

    #[test]
    fn unit_actions_are_objects_with_a_null_value() {
        assert_eq!(ConnectionAction::UnsetCredential.body(), json!({"unset_credential": null}));
        assert_eq!(EntryAction::Rotate.body(), json!({"rotate": null}));
    }
}
