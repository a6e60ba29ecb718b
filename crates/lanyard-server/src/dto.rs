//! The JSON wire types of the API and their conversions to and from the Control Plane's typed requests and views.
//! Request types reject unknown fields; secret fields become `SecretString` the moment they are read.

use std::collections::BTreeMap;

use lanyard_control::{
    AuditRecord, BackendAction, BackendView, ConnectionAction, ConnectionView, EntryAction, EntryType, EntryView,
    LastTest, Material, NewBackend, NewConnection, NewEntry, StorageTestOutcome, TestOutcome,
};
use lanyard_core::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// A JSON object, key order kept as sent (serde_json's `preserve_order` is on).
pub type OrderedMap = serde_json::Map<String, serde_json::Value>;

/// A string-to-string map whose values must be strings.
fn string_pairs(map: &OrderedMap, what: &str) -> Result<Vec<(String, String)>, ApiError> {
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(ApiError::invalid(format!("{what} {:?} must be a string", lanyard_core::printable(k, 64)))),
        })
        .collect()
}

/// A reference to another object.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefDto {
    /// Its id.
    pub id: String,
    /// Its current name.
    pub name: String,
}

/// The last TEST CONNECTION.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastTestDto {
    /// When.
    pub at: String,
    /// `ok` or `failed`.
    pub status: String,
    /// Milliseconds.
    pub latency_ms: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The server's version.
    pub server_version: Option<String>,
}

impl From<&LastTest> for LastTestDto {
    fn from(t: &LastTest) -> Self {
        Self {
            at: t.at.to_string(),
            status: t.status.as_str().to_owned(),
            latency_ms: t.latency_ms,
            error: t.error.clone(),
            server_version: t.server_version.clone(),
        }
    }
}

/// A connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionDto {
    /// Immutable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `con::<name>`.
    pub entity_ref: String,
    /// Connection type.
    #[serde(rename = "type")]
    pub connection_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Options; secret-looking values are masked as `***`.
    #[schema(value_type = BTreeMap<String, String>)]
    pub options: OrderedMap,
    /// The credential entry.
    pub credential: Option<RefDto>,
    /// The credential storage.
    pub credential_storage: Option<RefDto>,
    /// Pool limit.
    pub max_connections: Option<i64>,
    /// Connect timeout, seconds.
    pub timeout_seconds: Option<i64>,
    /// `ok`, `failed` or `untested`.
    pub status: String,
    /// The last test.
    pub last_test: Option<LastTestDto>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Row version; also the `ETag`.
    pub version: i64,
}

impl From<ConnectionView> for ConnectionDto {
    fn from(v: ConnectionView) -> Self {
        let status = v.status().to_owned();
        Self {
            id: v.id.to_string(),
            options: v
                .options
                .iter()
                .map(|(k, value)| (k.as_str().to_owned(), serde_json::Value::String(value.redacted().to_owned())))
                .collect(),
            name: v.name,
            entity_ref: v.entity_ref,
            connection_type: v.connection_type.as_str().to_owned(),
            description: v.description,
            credential: v.credential.map(|r| RefDto { id: r.id.to_string(), name: r.name }),
            credential_storage: v.credential_storage.map(|r| RefDto { id: r.id.to_string(), name: r.name }),
            max_connections: v.max_connections,
            timeout_seconds: v.timeout_seconds,
            status,
            last_test: v.last_test.as_ref().map(LastTestDto::from),
            created_at: v.created_at.to_string(),
            updated_at: v.updated_at.to_string(),
            version: v.version,
        }
    }
}

/// POST /connections.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// Name.
    pub name: String,
    /// Connection type.
    #[serde(rename = "type")]
    pub connection_type: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Options (string values).
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub options: OrderedMap,
    /// A vault entry name.
    #[serde(default)]
    pub credential: Option<String>,
    /// A credential storage name.
    #[serde(default)]
    pub credential_storage: Option<String>,
    /// Pool limit.
    #[serde(default)]
    pub max_connections: Option<i64>,
    /// Connect timeout, seconds.
    #[serde(default)]
    pub timeout_seconds: Option<i64>,
    /// Return an existing connection unchanged (200) instead of 409.
    #[serde(default)]
    pub if_not_exists: bool,
}

impl CreateConnection {
    /// The typed request.
    pub fn into_request(self) -> Result<NewConnection, ApiError> {
        Ok(NewConnection {
            options: string_pairs(&self.options, "option")?,
            name: self.name,
            connection_type: self.connection_type,
            description: self.description,
            credential: self.credential,
            credential_storage: self.credential_storage,
            max_connections: self.max_connections,
            timeout_seconds: self.timeout_seconds,
            if_not_exists: self.if_not_exists,
        })
    }
}

/// One key/value pair.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// One ALTER CONNECTION action: an object with exactly one key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectionActionDto {
    /// Replace the whole options map.
    #[schema(value_type = BTreeMap<String, String>)]
    SetOptions(OrderedMap),
    /// Add or replace one option.
    SetOption(KeyValue),
    /// Remove one option.
    UnsetOption(String),
    /// Point at a vault entry (by name).
    SetCredential(String),
    /// Clear the credential (`null`).
    UnsetCredential,
    /// Point at a credential storage (by name).
    SetCredentialStorage(String),
    /// Clear the credential storage (`null`).
    UnsetCredentialStorage,
    /// Rename.
    RenameTo(String),
    /// Set (or, with `null`, clear) the description.
    SetDescription(Option<String>),
    /// Set (or clear) MAX_CONNECTIONS.
    SetMaxConnections(Option<i64>),
    /// Set (or clear) TIMEOUT.
    SetTimeout(Option<i64>),
}

impl ConnectionActionDto {
    fn into_action(self) -> Result<ConnectionAction, ApiError> {
        Ok(match self {
            Self::SetOptions(map) => ConnectionAction::SetOptions(string_pairs(&map, "option")?),
            Self::SetOption(kv) => ConnectionAction::SetOption { key: kv.key, value: kv.value },
            Self::UnsetOption(key) => ConnectionAction::UnsetOption(key),
            Self::SetCredential(name) => ConnectionAction::SetCredential(name),
            Self::UnsetCredential => ConnectionAction::UnsetCredential,
            Self::SetCredentialStorage(name) => ConnectionAction::SetCredentialStorage(name),
            Self::UnsetCredentialStorage => ConnectionAction::UnsetCredentialStorage,
            Self::RenameTo(name) => ConnectionAction::RenameTo(name),
            Self::SetDescription(text) => ConnectionAction::SetDescription(text),
            Self::SetMaxConnections(n) => ConnectionAction::SetMaxConnections(n),
            Self::SetTimeout(n) => ConnectionAction::SetTimeout(n),
        })
    }
}

/// PUT /connections/{name}.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlterConnection {
    /// The actions, applied in order, all or nothing.
    pub actions: Vec<ConnectionActionDto>,
}

impl AlterConnection {
    /// The typed actions.
    pub fn into_actions(self) -> Result<Vec<ConnectionAction>, ApiError> {
        self.actions.into_iter().map(ConnectionActionDto::into_action).collect()
    }
}

/// The result of TEST CONNECTION.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResultDto {
    /// `PASSED` or `FAILED`.
    pub result: String,
    /// Milliseconds.
    pub latency_ms: i64,
    /// The server's version.
    pub server_version: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The connection, with the result recorded.
    pub connection: ConnectionDto,
}

impl From<TestOutcome> for TestResultDto {
    fn from(t: TestOutcome) -> Self {
        Self {
            result: if t.passed { "PASSED" } else { "FAILED" }.to_owned(),
            latency_ms: t.latency_ms,
            server_version: t.server_version,
            error: t.error,
            connection: t.connection.into(),
        }
    }
}

/// A vault entry (never its material).
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryDto {
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
    /// The credential storage.
    pub storage: RefDto,
    /// Linked entries only.
    pub external_secret_name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Advisory expiry.
    pub expires_at: Option<String>,
    /// Last rotation.
    pub rotated_at: Option<String>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Row version; also the `ETag`.
    pub version: i64,
}

impl From<EntryView> for EntryDto {
    fn from(v: EntryView) -> Self {
        Self {
            id: v.id.to_string(),
            name: v.name,
            entry_type: v.entry_type.as_str().to_owned(),
            algorithm: v.algorithm,
            key_size: v.key_size,
            current_version: v.current_version,
            storage: RefDto { id: v.backend.id.to_string(), name: v.backend.name },
            external_secret_name: v.external_secret_name,
            description: v.description,
            expires_at: v.expires_at.map(|t| t.to_string()),
            rotated_at: v.rotated_at.map(|t| t.to_string()),
            created_at: v.created_at.to_string(),
            updated_at: v.updated_at.to_string(),
            version: v.version,
        }
    }
}

/// A secret in a request body: held as a `SecretString` from the moment it is read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct SecretField(pub SecretString);

/// POST /vault/entries.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntry {
    /// Name.
    pub name: String,
    /// `ENCRYPTION_KEY` or `CREDENTIAL`.
    #[serde(rename = "type")]
    pub entry_type: String,
    /// Metadata.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Metadata, bits; the size of GENERATE.
    #[serde(default)]
    pub key_size: Option<i64>,
    /// SECRET '…'.
    #[serde(default)]
    pub secret: Option<SecretField>,
    /// GENERATE.
    #[serde(default)]
    pub generate: bool,
    /// LINKED EXTERNAL SECRET '…'.
    #[serde(default)]
    pub linked_external_secret: Option<String>,
    /// IN CREDENTIAL STORAGE (default `local`).
    #[serde(default)]
    pub storage: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// ISO 8601.
    #[serde(default)]
    pub expires: Option<String>,
    /// Return an existing entry unchanged (200) instead of 409.
    #[serde(default)]
    pub if_not_exists: bool,
}

impl CreateEntry {
    /// The typed request.
    pub fn into_request(self) -> Result<NewEntry, ApiError> {
        let entry_type = self.entry_type.parse::<EntryType>().map_err(|_| {
            ApiError::invalid(format!(
                "unknown entry type {:?}: use ENCRYPTION_KEY or CREDENTIAL",
                lanyard_core::printable(&self.entry_type, 40)
            ))
        })?;
        let material = match (self.secret, self.generate, self.linked_external_secret) {
            (None, false, None) => Material::None,
            (Some(secret), false, None) => Material::Secret(secret.0),
            (None, true, None) => Material::Generate,
            (None, false, Some(name)) => Material::Linked(name),
            _ => {
                return Err(ApiError::invalid("secret, generate and linked_external_secret are mutually exclusive"));
            }
        };
        Ok(NewEntry {
            name: self.name,
            entry_type,
            algorithm: self.algorithm,
            key_size: self.key_size,
            material,
            backend: self.storage,
            description: self.description,
            expires_at: self.expires,
            if_not_exists: self.if_not_exists,
        })
    }
}

/// One ALTER VAULT action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EntryActionDto {
    /// New generated material (`null`).
    Rotate,
    /// Replace the material.
    SetSecret(SecretField),
    /// Set or clear the description.
    SetDescription(Option<String>),
    /// Set or clear the expiry (ISO 8601).
    SetExpires(Option<String>),
    /// Rename.
    RenameTo(String),
}

/// PUT /vault/entries/{id}.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlterEntry {
    /// The actions, in order, all or nothing.
    pub actions: Vec<EntryActionDto>,
}

impl AlterEntry {
    /// The typed actions.
    pub fn into_actions(self) -> Vec<EntryAction> {
        self.actions
            .into_iter()
            .map(|a| match a {
                EntryActionDto::Rotate => EntryAction::Rotate,
                EntryActionDto::SetSecret(secret) => EntryAction::SetSecret(secret.0),
                EntryActionDto::SetDescription(text) => EntryAction::SetDescription(text),
                EntryActionDto::SetExpires(text) => EntryAction::SetExpires(text),
                EntryActionDto::RenameTo(name) => EntryAction::RenameTo(name),
            })
            .collect()
    }
}

/// A credential storage.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackendDto {
    /// Immutable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Plugin kind.
    #[serde(rename = "type")]
    pub backend_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Options; secret ones appear as `***`.
    pub options: BTreeMap<String, String>,
    /// Whether new entries may use it.
    pub active: bool,
    /// The seeded local backend.
    pub builtin: bool,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Row version; also the `ETag`.
    pub version: i64,
}

impl From<BackendView> for BackendDto {
    fn from(v: BackendView) -> Self {
        let mut options: BTreeMap<String, String> = v.options.into_iter().collect();
        for key in v.secret_options {
            options.insert(key, lanyard_core::REDACTED.to_owned());
        }
        Self {
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
}

/// Option values of a credential storage, held as secrets until the plugin says which are not.
fn secret_pairs(map: &OrderedMap) -> Result<Vec<(String, SecretString)>, ApiError> {
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), SecretString::new(s.clone()))),
            _ => Err(ApiError::invalid(format!("option {:?} must be a string", lanyard_core::printable(k, 64)))),
        })
        .collect()
}

/// POST /vault/backends.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBackend {
    /// Name.
    pub name: String,
    /// Plugin kind (`memory`, `aws`, …).
    #[serde(rename = "type")]
    pub backend_type: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Options, secret ones included (they are stripped into the local backend).
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub options: OrderedMap,
    /// ACTIVE (default) or INACTIVE.
    #[serde(default = "yes")]
    pub active: bool,
    /// Return an existing storage unchanged (200) instead of 409.
    #[serde(default)]
    pub if_not_exists: bool,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for CreateBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateBackend")
            .field("name", &self.name)
            .field("type", &self.backend_type)
            .finish_non_exhaustive()
    }
}

impl CreateBackend {
    /// The typed request.
    pub fn into_request(self) -> Result<NewBackend, ApiError> {
        Ok(NewBackend {
            options: secret_pairs(&self.options)?,
            name: self.name,
            backend_type: self.backend_type,
            description: self.description,
            active: self.active,
            if_not_exists: self.if_not_exists,
        })
    }
}

/// One ALTER CREDENTIAL STORAGE action.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BackendActionDto {
    /// Replace every option, secret ones included.
    #[schema(value_type = BTreeMap<String, String>)]
    SetOptions(OrderedMap),
    /// Set or clear the description.
    SetDescription(Option<String>),
    /// ACTIVE (true) or INACTIVE (false).
    SetActive(bool),
    /// Rename.
    RenameTo(String),
}

/// PUT /vault/backends/{id}.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlterBackend {
    /// The actions, in order, all or nothing.
    pub actions: Vec<BackendActionDto>,
}

impl std::fmt::Debug for AlterBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlterBackend").field("actions", &self.actions.len()).finish()
    }
}

impl AlterBackend {
    /// The typed actions.
    pub fn into_actions(self) -> Result<Vec<BackendAction>, ApiError> {
        self.actions
            .into_iter()
            .map(|a| {
                Ok(match a {
                    BackendActionDto::SetOptions(map) => BackendAction::SetOptions(secret_pairs(&map)?),
                    BackendActionDto::SetDescription(text) => BackendAction::SetDescription(text),
                    BackendActionDto::SetActive(active) => BackendAction::SetActive(active),
                    BackendActionDto::RenameTo(name) => BackendAction::RenameTo(name),
                })
            })
            .collect()
    }
}

/// One probe step.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeStepDto {
    /// What was done.
    pub step: String,
    /// `ok` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Microseconds.
    pub micros: u64,
}

/// The result of TEST CREDENTIAL STORAGE.
#[derive(Debug, Serialize, ToSchema)]
pub struct StorageTestDto {
    /// `PASSED` or `FAILED`.
    pub result: String,
    /// The steps.
    pub steps: Vec<ProbeStepDto>,
}

impl From<StorageTestOutcome> for StorageTestDto {
    fn from(t: StorageTestOutcome) -> Self {
        Self {
            result: if t.passed { "PASSED" } else { "FAILED" }.to_owned(),
            steps: t
                .steps
                .into_iter()
                .map(|s| ProbeStepDto {
                    step: s.step,
                    status: if s.outcome.is_ok() { "ok" } else { "failed" }.to_owned(),
                    error: s.outcome.err(),
                    micros: s.micros,
                })
                .collect(),
        }
    }
}

/// An audit record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditDto {
    /// Position in the log.
    pub seq: i64,
    /// When.
    pub at: String,
    /// Who.
    pub principal: String,
    /// What.
    pub action: String,
    /// Which kind of object.
    pub object_kind: String,
    /// Which object, by id.
    pub object_id: Option<String>,
    /// Which object, by name.
    pub object_name: Option<String>,
    /// `allowed`, `denied` or `failed`.
    pub outcome: String,
    /// The redacted change.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditRecord> for AuditDto {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            at: r.at.to_string(),
            principal: r.record.principal,
            action: r.record.action.as_str().to_owned(),
            object_kind: r.record.object_kind.noun().to_owned(),
            object_id: r.record.object_id,
            object_name: r.record.object_name,
            outcome: r.record.outcome.as_str().to_owned(),
            detail: serde_json::Value::Object(r.record.detail),
        }
    }
}

/// `?like=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LikeQuery {
    /// Case-insensitive substring of the name.
    pub like: Option<String>,
}

/// `?since=&object=&limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQueryDto {
    /// Only records after this sequence number.
    pub since: Option<i64>,
    /// Only records about this object (id or name).
    pub object: Option<String>,
    /// At most this many (1..=1000, default 100).
    pub limit: Option<i64>,
}

/// `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}
