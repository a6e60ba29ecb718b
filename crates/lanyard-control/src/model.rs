//! The typed requests the Control Plane accepts and the redacted views it returns. These are plain Rust types:
//! the HTTP wire types (JSON, OpenAPI) live in `lanyard-server`, which converts to and from these.

use lanyard_catalog::JsonObject;
use lanyard_catalog::{LastTest, Timestamp};
use lanyard_core::{
    BackendId, ConnectionId, DatabaseId, LinkId, LinkType, OptionMap, SecretString, TestStatus, TokenId, VaultEntryId,
};

/// How an object is named in a request path: by id or by name. `PUT /vault/entries/{id}` accepts both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectKey {
    /// A UUID.
    Id(uuid::Uuid),
    /// A display name.
    Name(String),
}

impl ObjectKey {
    /// A UUID-shaped key is an id; anything else is a name.
    pub fn parse(text: &str) -> Self {
        match uuid::Uuid::try_parse(text) {
            Ok(id) => Self::Id(id),
            Err(_) => Self::Name(text.to_owned()),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name(name) => f.write_str(&lanyard_core::printable(name, 128)),
        }
    }
}

/// What a create returns: the object, and whether it was created now (`false`: IF NOT EXISTS found it).
#[derive(Debug, Clone)]
pub struct Created<T> {
    /// The object as stored.
    pub value: T,
    /// Whether this request created it.
    pub created: bool,
}

/// Something the caller of a write that succeeded should know, like MySQL's `SHOW WARNINGS`: an EXPIRES in the past
/// or near, a connection whose credential expires soon. Writes that can warn say so in their views' `warnings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The stable code.
    pub code: lanyard_core::WarningCode,
    /// One line for people, naming the object (no material).
    pub message: String,
}

/// A reference to another object, by id and its current name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRef<Id> {
    /// The id stored on the row.
    pub id: Id,
    /// The referenced object's current name.
    pub name: String,
}

// ---------------------------------------------------------------------------------------------------------
// Connections

/// CREATE CONNECTION.
#[derive(Debug, Clone, Default)]
pub struct NewConnection {
    /// The name.
    pub name: String,
    /// The type (`postgresql`, `s3`, …).
    pub connection_type: String,
    /// Free text.
    pub description: Option<String>,
    /// The options, in order.
    pub options: Vec<(String, String)>,
    /// A vault entry name.
    pub credential: Option<String>,
    /// A credential storage name.
    pub credential_storage: Option<String>,
    /// Pool limit (≥ 1).
    pub max_connections: Option<i64>,
    /// Connect timeout in seconds (≥ 0).
    pub timeout_seconds: Option<i64>,
    /// Return an existing connection of that name unchanged instead of failing.
    pub if_not_exists: bool,
}

/// One ALTER CONNECTION action. Actions apply in order, all or nothing. Its `Serialize` is the audit record's form
/// of the action (connection actions hold no secrets: secret-looking options are refused).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionAction {
    /// SET OPTIONS (…): replaces the whole map.
    #[serde(serialize_with = "audit::pairs")]
    SetOptions(Vec<(String, String)>),
    /// SET OPTION k = 'v': adds or replaces one key.
    SetOption {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// UNSET OPTION k: removes one key (an error if absent).
    UnsetOption(String),
    /// SET CREDENTIAL = entry.
    SetCredential(String),
    /// UNSET CREDENTIAL.
    #[serde(serialize_with = "audit::null")]
    UnsetCredential,
    /// SET CREDENTIAL STORAGE = backend.
    SetCredentialStorage(String),
    /// UNSET CREDENTIAL STORAGE.
    #[serde(serialize_with = "audit::null")]
    UnsetCredentialStorage,
    /// RENAME TO new.
    RenameTo(String),
    /// SET DESCRIPTION '…' (`None` clears it).
    SetDescription(Option<String>),
    /// SET MAX_CONNECTIONS = n (`None` clears it).
    SetMaxConnections(Option<i64>),
    /// SET TIMEOUT = s (`None` clears it).
    SetTimeout(Option<i64>),
    /// ROLLBACK TO VERSION n: restores that version's options, credential, credential storage, description,
    /// MAX_CONNECTIONS and TIMEOUT (not its name).
    RollbackToVersion(i64),
}

/// A connection as the API shows it.
#[derive(Debug, Clone)]
pub struct ConnectionView {
    /// Immutable id.
    pub id: ConnectionId,
    /// Display name.
    pub name: String,
    /// `con::<name>`.
    pub entity_ref: String,
    /// The type.
    pub connection_type: lanyard_core::ConnectionType,
    /// Free text.
    pub description: Option<String>,
    /// The options; secret-looking values are masked when printed (`OptionValue::redacted`).
    pub options: OptionMap,
    /// The credential entry.
    pub credential: Option<NamedRef<VaultEntryId>>,
    /// The credential entry's (advisory) expiry.
    pub credential_expires_at: Option<Timestamp>,
    /// The credential storage.
    pub credential_storage: Option<NamedRef<BackendId>>,
    /// Pool limit.
    pub max_connections: Option<i64>,
    /// Connect timeout, seconds.
    pub timeout_seconds: Option<i64>,
    /// The last TEST CONNECTION.
    pub last_test: Option<LastTest>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Row version (the ETag).
    pub version: i64,
    /// What CREATE or ALTER warns about (the credential expires soon); empty on reads.
    pub warnings: Vec<Warning>,
}

impl ConnectionView {
    /// `ok`, `failed`, `unsupported` or `untested`.
    pub fn status(&self) -> &str {
        self.last_test.as_ref().map_or("untested", |t| t.status.as_str())
    }
}

/// The result of TEST CONNECTION: a failure is a result, not an error.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// Whether the probe passed.
    pub passed: bool,
    /// `ok`, `failed`, or `unsupported` (the type has no probe in this build).
    pub status: TestStatus,
    /// How long it took, milliseconds.
    pub latency_ms: i64,
    /// The server's version, if the probe reports one.
    pub server_version: Option<String>,
    /// Why it failed (no material).
    pub error: Option<String>,
    /// The connection after the result was recorded.
    pub connection: ConnectionView,
    /// What the test warns about (the credential expires soon).
    pub warnings: Vec<Warning>,
}

// ---------------------------------------------------------------------------------------------------------
// Vault entries

/// `ENCRYPTION_KEY` or `CREDENTIAL`: the closed vocabulary of `lanyard-core`.
pub use lanyard_core::EntryType;

/// Where a new entry's material comes from.
#[derive(Debug, Clone, Default)]
pub enum Material {
    /// No material: refused by CREATE (an entry without material cannot be used; it would fail only at connect
    /// time). What an HTTP request without `secret`, `generate` and `linked_external_secret` becomes.
    #[default]
    None,
    /// SECRET '…'.
    Secret(SecretString),
    /// GENERATE (ENCRYPTION_KEY only).
    Generate,
    /// LINKED EXTERNAL SECRET '…': a pointer; nothing is written.
    Linked(String),
}

/// CREATE VAULT / CREDENTIAL.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// The name.
    pub name: String,
    /// The type.
    pub entry_type: EntryType,
    /// Metadata.
    pub algorithm: Option<String>,
    /// Metadata, bits (also the size of GENERATE, default 256).
    pub key_size: Option<i64>,
    /// The material.
    pub material: Material,
    /// The credential storage name (default: the seeded `local`).
    pub backend: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Advisory expiry, ISO 8601.
    pub expires_at: Option<String>,
    /// Return an existing entry of that name unchanged instead of failing.
    pub if_not_exists: bool,
}

/// One ALTER VAULT / CREDENTIAL action. Its `Serialize` is the audit record's form of the action: the material of
/// SET SECRET is never written, only the action's name (so is ROTATE's).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryAction {
    /// ROTATE (ENCRYPTION_KEY only): new material.
    Rotate,
    /// SET DESCRIPTION (`None` clears).
    SetDescription(Option<String>),
    /// SET EXPIRES, ISO 8601 (`None` clears).
    SetExpires(Option<String>),
    /// RENAME TO.
    RenameTo(String),
    /// SET SECRET '…' (CREDENTIAL only).
    #[serde(untagged, serialize_with = "audit::set_secret")]
    SetSecret(SecretString),
}

impl EntryAction {
    /// A name for the audit log, without material.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Rotate => "rotate",
            Self::SetSecret(_) => "set_secret",
            Self::SetDescription(_) => "set_description",
            Self::SetExpires(_) => "set_expires",
            Self::RenameTo(_) => "rename_to",
        }
    }
}

/// A vault entry as the API shows it (never its material).
#[derive(Debug, Clone)]
pub struct EntryView {
    /// Immutable id.
    pub id: VaultEntryId,
    /// Display name.
    pub name: String,
    /// The type.
    pub entry_type: EntryType,
    /// Metadata.
    pub algorithm: Option<String>,
    /// Metadata, bits.
    pub key_size: Option<i64>,
    /// Increases on ROTATE / SET SECRET.
    pub current_version: i64,
    /// The backend holding the material.
    pub backend: NamedRef<BackendId>,
    /// For linked entries.
    pub external_secret_name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Advisory expiry.
    pub expires_at: Option<Timestamp>,
    /// Last rotation.
    pub rotated_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Row version (the ETag).
    pub version: i64,
    /// What CREATE or ALTER warns about (EXPIRES in the past or near); empty on reads.
    pub warnings: Vec<Warning>,
}

// ---------------------------------------------------------------------------------------------------------
// Credential storages

/// CREATE CREDENTIAL STORAGE. Every option value is held as a secret until the plugin's table says which ones
/// are not; the secret ones never reach the catalog.
#[derive(Debug, Clone)]
pub struct NewBackend {
    /// The name.
    pub name: String,
    /// The kind (`LOCAL`, `aws`, … case-insensitive; `OS_KEYCHAIN` is `local`).
    pub backend_type: String,
    /// Free text.
    pub description: Option<String>,
    /// The options.
    pub options: Vec<(String, SecretString)>,
    /// Whether new entries may choose it (default true).
    pub active: bool,
    /// Return an existing storage of that name unchanged instead of failing.
    pub if_not_exists: bool,
}

/// One ALTER CREDENTIAL STORAGE action. Its `Serialize` is the audit record's form of the action: its name only
/// ([`BackendAction::label`]); the options, possibly secret, are audited apart, by name.
#[derive(Debug, Clone)]
pub enum BackendAction {
    /// SET OPTIONS (…): replaces the whole map, secret options included.
    SetOptions(Vec<(String, SecretString)>),
    /// SET DESCRIPTION (`None` clears).
    SetDescription(Option<String>),
    /// ACTIVE / INACTIVE.
    SetActive(bool),
    /// RENAME TO.
    RenameTo(String),
}

impl BackendAction {
    /// A name for the audit log, without values.
    pub fn label(&self) -> &'static str {
        match self {
            Self::SetOptions(_) => "set_options",
            Self::SetDescription(_) => "set_description",
            Self::SetActive(true) => "active",
            Self::SetActive(false) => "inactive",
            Self::RenameTo(_) => "rename_to",
        }
    }
}

impl serde::Serialize for BackendAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

/// The audit forms of action values that are not their plain serialisation.
mod audit {
    use lanyard_core::SecretString;
    use serde::Serializer;
    use serde::ser::SerializeMap;

    /// Options as a JSON object, in written order.
    pub(super) fn pairs<S: Serializer>(pairs: &[(String, String)], serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(pairs.len()))?;
        for (key, value) in pairs {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }

    /// `{"<action>": null}` for an action without a value.
    pub(super) fn null<S: Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }

    /// SET SECRET as its name alone: the material is never serialised.
    pub(super) fn set_secret<S: Serializer>(_: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("set_secret")
    }
}

/// A credential storage as the API shows it.
#[derive(Debug, Clone)]
pub struct BackendView {
    /// Immutable id.
    pub id: BackendId,
    /// Display name.
    pub name: String,
    /// The plugin kind.
    pub backend_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Non-secret options.
    pub options: Vec<(String, String)>,
    /// The names of the secret options that are set (their values are never shown).
    pub secret_options: Vec<String>,
    /// Whether new entries may choose it.
    pub active: bool,
    /// Whether this is the seeded local backend.
    pub builtin: bool,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Row version (the ETag).
    pub version: i64,
}

/// The result of TEST CREDENTIAL STORAGE.
#[derive(Debug, Clone)]
pub struct StorageTestOutcome {
    /// Whether every step passed.
    pub passed: bool,
    /// The steps.
    pub steps: Vec<lanyard_vault::ProbeStep>,
}

// ---------------------------------------------------------------------------------------------------------
// Links

/// Where a new link's CREDENTIALS come from.
#[derive(Debug, Clone)]
pub enum CredentialsSource {
    /// `CREDENTIALS '{…}'`: the JSON object's text, stored in a vault entry the link owns.
    Json(SecretString),
    /// `CREDENTIALS FROM VAULT <entry>`: an existing vault entry whose material is the credentials JSON.
    Entry(String),
}

/// CREATE [OR REPLACE] LINK [IF NOT EXISTS].
#[derive(Debug, Clone)]
pub struct NewLink {
    /// The database.
    pub database: String,
    /// The name.
    pub name: String,
    /// The link type (case-insensitive).
    pub link_type: String,
    /// Free text.
    pub description: Option<String>,
    /// CONFIG (no secrets).
    pub config: JsonObject,
    /// CREDENTIALS, if any.
    pub credentials: Option<CredentialsSource>,
    /// Replace an existing link in place.
    pub or_replace: bool,
    /// Return an existing link unchanged instead of failing.
    pub if_not_exists: bool,
}

/// One ALTER LINK action. At most one changes CONFIG and at most one CREDENTIALS. Its `Serialize` is the audit
/// record's form of the action: CONFIG as written (it holds no secrets), CREDENTIALS by key names only.
#[derive(Debug, Clone)]
pub enum LinkAction {
    /// SET CONFIG '{…}'.
    ConfigJson(JsonObject),
    /// SET CONFIG ::key = value.
    ConfigKey {
        /// The top-level key.
        key: String,
        /// The value.
        value: serde_json::Value,
    },
    /// SET CREDENTIALS '{…}' (the object's text).
    CredentialsJson(SecretString),
    /// SET CREDENTIALS ::key = 'value'.
    CredentialsKey {
        /// The top-level key.
        key: String,
        /// The value.
        value: SecretString,
    },
    /// SET CREDENTIALS FROM VAULT <entry>.
    CredentialsEntry(String),
}

impl LinkAction {
    /// Whether the action changes CONFIG (otherwise CREDENTIALS).
    pub fn is_config(&self) -> bool {
        matches!(self, Self::ConfigJson(_) | Self::ConfigKey { .. })
    }
}

impl serde::Serialize for LinkAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Self::ConfigJson(config) => map.serialize_entry("set_config_json", config)?,
            Self::ConfigKey { key, value } => {
                map.serialize_entry("set_config_key", &serde_json::json!({ "key": key, "value": value }))?;
            }
            Self::CredentialsJson(_) => map.serialize_entry("set_credentials_json", "***")?,
            Self::CredentialsKey { key, .. } => {
                map.serialize_entry("set_credentials_key", &serde_json::json!({ "key": key, "value": "***" }))?;
            }
            Self::CredentialsEntry(entry) => map.serialize_entry("set_credentials_entry", entry)?,
        }
        map.end()
    }
}

/// A database (the namespace of links and pipelines) as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseView {
    /// Immutable id (`default`'s is fixed: `lanyard_core::DEFAULT_DATABASE_ID`).
    pub id: DatabaseId,
    /// The name.
    pub name: String,
    /// Created (the seeded `default`: the Unix epoch).
    pub created_at: Timestamp,
    /// Row version (the ETag).
    pub version: i64,
}

/// Where a link's CREDENTIALS live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCredentialsView {
    /// In a vault entry the link owns.
    Owned,
    /// In an existing vault entry.
    Entry(NamedRef<VaultEntryId>),
}

/// A link as the API shows it (never its credentials).
#[derive(Debug, Clone)]
pub struct LinkView {
    /// Immutable id.
    pub id: LinkId,
    /// The database.
    pub database: String,
    /// The name.
    pub name: String,
    /// The type.
    pub link_type: LinkType,
    /// Free text.
    pub description: Option<String>,
    /// CONFIG, in stored order.
    pub config: JsonObject,
    /// Where CREDENTIALS live, if the link has any.
    pub credentials: Option<LinkCredentialsView>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Row version (the ETag).
    pub version: i64,
}

/// SHOW CREATE LINK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkDefinition {
    /// `Link Name`.
    pub link_name: String,
    /// `Create Link`.
    pub create_link: String,
    /// The link's version.
    pub version: i64,
}

/// The result of TEST LINK: a failure is a result, not an error.
#[derive(Debug, Clone)]
pub struct LinkTestOutcome {
    /// Whether the probe passed.
    pub passed: bool,
    /// `ok`, `failed`, or `unsupported` (the type has no probe in this build).
    pub status: TestStatus,
    /// How long it took, milliseconds.
    pub latency_ms: i64,
    /// The server's version, if the probe reports one.
    pub server_version: Option<String>,
    /// Why it failed (no material).
    pub error: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Pipelines

/// CREATE PIPELINE.
#[derive(Debug, Clone)]
pub struct NewPipeline {
    /// The database it lives in.
    pub database: String,
    /// The name.
    pub name: String,
    /// The link: `link` (in `database`) or `db.link`.
    pub link: String,
    /// `'<bucket>/<prefix>'`.
    pub path: String,
    /// The target connection's name.
    pub connection: String,
    /// The target table: `table` or `schema.table`.
    pub table: String,
    /// How files become rows.
    pub format: lanyard_core::LoadFormat,
    /// Return an existing pipeline unchanged.
    pub if_not_exists: bool,
}

/// A pipeline as the API shows it: its row, the current names of what it refers to, its file counts and the node
/// running it.
#[derive(Debug, Clone)]
pub struct PipelineView {
    /// The row.
    pub row: lanyard_catalog::Pipeline,
    /// Its link (`db.link`).
    pub link: NamedRef<LinkId>,
    /// Its target connection.
    pub connection: NamedRef<lanyard_core::ConnectionId>,
    /// Files per state, and rows loaded.
    pub files: lanyard_catalog::FileCounts,
    /// The node holding its lease, while it runs.
    pub running_on: Option<String>,
}

/// One file of a pipeline.
pub type PipelineFileView = lanyard_catalog::PipelineFile;

// ---------------------------------------------------------------------------------------------------------
// Tokens and audit

/// An API token as listed (never the token).
#[derive(Debug, Clone)]
pub struct TokenView {
    /// Id.
    pub id: TokenId,
    /// Its name.
    pub name: String,
    /// Whose.
    pub principal: String,
    /// The principal's role.
    pub role: crate::Role,
    /// Created.
    pub created_at: Timestamp,
    /// Last used (updated at most once a minute).
    pub last_used_at: Option<Timestamp>,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// Revocation.
    pub revoked_at: Option<Timestamp>,
}

/// Which audit records to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only records after this sequence number.
    pub since: Option<i64>,
    /// Only records about this object (id or name).
    pub object: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
    /// Only records at or after this time.
    pub from: Option<lanyard_catalog::Timestamp>,
    /// Only records about this kind of object.
    pub kind: Option<lanyard_core::ObjectKind>,
    /// The newest `limit` matching records rather than the oldest (still oldest first).
    pub newest: bool,
}
