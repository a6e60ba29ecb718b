//! Connections: the view, CREATE, ALTER and its actions, and the result of TEST CONNECTION.

use lanyard_core::TestStatus;
use serde::{Deserialize, Serialize};

use crate::{OrderedMap, Warning};

/// A reference to another object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ref {
    /// Its id.
    pub id: String,
    /// Its current name.
    pub name: String,
}

/// The last TEST CONNECTION of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastTest {
    /// When (ISO 8601).
    pub at: String,
    /// `ok`, `failed` or `unsupported` (the type has no probe in the server's build).
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::test_status))]
    pub status: TestStatus,
    /// Milliseconds.
    pub latency_ms: Option<i64>,
    /// Why it failed, or why it could not be checked.
    pub error: Option<String>,
    /// The remote server's version.
    pub server_version: Option<String>,
}

/// A connection, as the server shows it (secret-looking option values masked as `***`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Options, in stored order; secret-looking values are masked as `***`.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub options: OrderedMap,
    /// The credential entry.
    pub credential: Option<Ref>,
    /// The credential entry's (advisory) expiry (ISO 8601), when it has one.
    #[serde(default)]
    pub credential_expires_at: Option<String>,
    /// The credential storage.
    pub credential_storage: Option<Ref>,
    /// Pool limit.
    pub max_connections: Option<i64>,
    /// Connect timeout, seconds.
    pub timeout_seconds: Option<i64>,
    /// `ok`, `failed`, `unsupported` or `untested`.
    pub status: String,
    /// The last test.
    pub last_test: Option<LastTest>,
    /// Created (ISO 8601).
    pub created_at: String,
    /// Last changed (ISO 8601).
    pub updated_at: String,
    /// Row version; also the `ETag`.
    pub version: i64,
    /// On the answer of CREATE and ALTER only, when the credential's expiry is past or within 14 days; left out when
    /// empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// `POST /connections` (CREATE CONNECTION). Connections hold no secrets: the server refuses secret-looking keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// Name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// Connection type.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::connection_type))]
    pub connection_type: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Options, in written order (string values).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Options))]
    pub options: OrderedMap,
    /// A vault entry name.
    #[serde(default)]
    pub credential: Option<String>,
    /// A credential storage name.
    #[serde(default)]
    pub credential_storage: Option<String>,
    /// Pool limit.
    #[serde(default, deserialize_with = "crate::whole")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::MaxConnections))]
    pub max_connections: Option<i64>,
    /// Connect timeout, seconds.
    #[serde(default, deserialize_with = "crate::whole")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::TimeoutSeconds))]
    pub timeout_seconds: Option<i64>,
    /// Return an existing connection unchanged (200) instead of 409.
    #[serde(default)]
    pub if_not_exists: bool,
}

/// One key/value pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// Key.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::OptionKey))]
    pub key: String,
    /// Value.
    pub value: String,
}

/// One ALTER CONNECTION action: an object with exactly one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectionAction {
    /// Replace the whole options map.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Options))]
    SetOptions(OrderedMap),
    /// Add or replace one option.
    SetOption(KeyValue),
    /// Remove one option (an error if absent).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::OptionKey))]
    UnsetOption(String),
    /// Point at a vault entry (by name).
    SetCredential(String),
    /// Clear the credential (`null`).
    #[serde(serialize_with = "crate::null")]
    UnsetCredential,
    /// Point at a credential storage (by name).
    SetCredentialStorage(String),
    /// Clear the credential storage (`null`).
    #[serde(serialize_with = "crate::null")]
    UnsetCredentialStorage,
    /// Rename.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    RenameTo(String),
    /// Set (or, with `null`, clear) the description.
    SetDescription(Option<String>),
    /// Set (or clear) MAX_CONNECTIONS.
    #[serde(deserialize_with = "crate::whole")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::MaxConnections))]
    SetMaxConnections(Option<i64>),
    /// Set (or clear) TIMEOUT.
    #[serde(deserialize_with = "crate::whole")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::TimeoutSeconds))]
    SetTimeout(Option<i64>),
    /// Restore the definition of an earlier version the history keeps (its options, credential, credential storage,
    /// description, MAX_CONNECTIONS and TIMEOUT; not its name), as a new version.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Version))]
    RollbackToVersion(i64),
}

/// `PUT /connections/{name}` (ALTER CONNECTION).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlterConnection {
    /// The actions, applied in order, all or nothing.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub actions: Vec<ConnectionAction>,
}

/// The answer to TEST CONNECTION: a failed probe is a result, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestResult {
    /// `PASSED`, `FAILED` or `UNSUPPORTED` (the type has no probe in the server's build: nothing was checked).
    pub result: String,
    /// Milliseconds, resolve included.
    pub latency_ms: i64,
    /// The remote server's version.
    pub server_version: Option<String>,
    /// Why it failed, or why it could not be checked.
    pub error: Option<String>,
    /// The connection, with the result recorded.
    pub connection: Connection,
    /// When the credential's expiry is past or within 14 days; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl TestResult {
    /// Whether the probe passed.
    pub fn passed(&self) -> bool {
        self.result == crate::PASSED
    }
}
