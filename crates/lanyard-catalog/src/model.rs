//! The catalog's rows, one struct per table, and the [`Record`] trait the generic store works through.

use std::str::FromStr;

use lanyard_core::{
    AuditAction, AuditOutcome, BackendId, ConnectionId, ConnectionType, DatabaseId, EntryType, LinkId, LinkType,
    LoadFormat, Name, ObjectKind, PipelineId, PipelineState, PrincipalId, Role, TableRef, TestStatus, TokenId,
    UnknownValue, VaultEntryId,
};
use uuid::Uuid;

use crate::db::{Param, Row};
use crate::error::{CatalogError, Result};
use crate::time::Timestamp;

/// A JSON object as stored in `options` / `config` columns (key order kept).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// The columns every row has. `id` is immutable; `version` starts at 1 and increases on every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta<Id> {
    /// Immutable id.
    pub id: Id,
    /// When the row was created.
    pub created_at: Timestamp,
    /// When the row last changed.
    pub updated_at: Timestamp,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl<Id: RecordId> Meta<Id> {
    /// Meta for a row that is about to be inserted (the store fills in the real values).
    pub fn new() -> Self {
        Self {
            id: Id::from_uuid(Uuid::new_v4()),
            created_at: Timestamp::default(),
            updated_at: Timestamp::default(),
            version: 0,
        }
    }
}

impl<Id: RecordId> Default for Meta<Id> {
    fn default() -> Self {
        Self::new()
    }
}

/// The typed ids of `lanyard-core`, as the store sees them.
pub trait RecordId: Copy + Send + Sync + std::fmt::Display + 'static {
    /// Wraps a UUID.
    fn from_uuid(uuid: Uuid) -> Self;
    /// The UUID.
    fn uuid(&self) -> Uuid;
}

macro_rules! record_ids {
    ($($ty:ty),*) => {$(
        impl RecordId for $ty {
            fn from_uuid(uuid: Uuid) -> Self {
                <$ty>::from_uuid(uuid)
            }
            fn uuid(&self) -> Uuid {
                *self.as_uuid()
            }
        }
    )*};
}
record_ids!(ConnectionId, VaultEntryId, BackendId, DatabaseId, LinkId, PipelineId, PrincipalId, TokenId);

/// A reference from one table to another: which column, and what it points at.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    /// The referring column.
    pub column: &'static str,
    /// The table referred to.
    pub table: &'static str,
    /// The kind of object referred to.
    pub kind: ObjectKind,
}

/// A table of the catalog. Implemented by every row struct; the store's generic operations go through it.
pub trait Record: Sized + Send + Sync {
    /// The id type.
    type Id: RecordId;
    /// The table.
    const TABLE: &'static str;
    /// What reads select from: the table, or the table joined with the bookkeeping kept beside its rows (which
    /// [`Record::columns`] never writes, so an update cannot overwrite it and does not bump `version` for it).
    const SELECT_FROM: &'static str = Self::TABLE;
    /// The object kind, for messages.
    const KIND: ObjectKind;
    /// The columns that name a row uniquely (`display_name`, or `database_name` + `name`).
    const NAME_COLUMNS: &'static [&'static str];
    /// Columns that refer to other tables (checked before writes, so a missing target is a clear error).
    const REFERENCES: &'static [Reference] = &[];
    /// Tables that refer to this one and block its deletion: (table, column, kind, name expression).
    const DEPENDENTS: &'static [(&'static str, &'static str, ObjectKind, &'static str)] = &[];

    /// The row's meta columns.
    fn meta(&self) -> &Meta<Self::Id>;
    /// The row's meta columns, mutably (the store sets them).
    fn meta_mut(&mut self) -> &mut Meta<Self::Id>;
    /// The name as shown in messages (`prod_pg`, `db.link`).
    fn display(&self) -> String;
    /// The values of [`Record::NAME_COLUMNS`].
    fn name_values(&self) -> Vec<Param>;
    /// The data columns (id, timestamps and version excluded), each named together with its value, so a column
    /// cannot be bound to another's value. Derived columns (such as `entity_ref`) are computed here.
    fn columns(&self) -> Vec<(&'static str, Param)>;
    /// Reads a row.
    fn from_row(meta: Meta<Self::Id>, row: &Row) -> Result<Self>;
}

pub(crate) fn json_text(object: &JsonObject) -> Param {
    Param::Text(serde_json::Value::Object(object.clone()).to_string())
}

pub(crate) fn parse_json(table: &'static str, text: &str) -> Result<JsonObject> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(CatalogError::Corrupt { table, problem: "a JSON column does not hold an object".to_owned() }),
    }
}

/// A closed-vocabulary column as stored: its one spelling.
fn vocab_param(text: &'static str) -> Param {
    Param::Text(text.to_owned())
}

/// Reads a closed-vocabulary value stored in `table`.`column`; an unknown one is [`CatalogError::UnknownValue`].
pub(crate) fn parse_vocab<V: FromStr<Err = UnknownValue>>(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<V> {
    text.parse().map_err(|error: UnknownValue| CatalogError::UnknownValue {
        table,
        column,
        what: error.what,
        value: error.value,
    })
}

/// Reads the closed-vocabulary column `column` of `row`, a row of `table`.
fn vocab<V: FromStr<Err = UnknownValue>>(row: &Row, table: &'static str, column: &'static str) -> Result<V> {
    parse_vocab(table, column, &row.text(column)?)
}

/// A name read from `table`: checked with [`Name::from_stored`], the invariants names had before NFC and the
/// invisible-character refusal, so that a row an earlier version stored stays readable (and droppable).
pub(crate) fn parse_name(table: &'static str, text: String) -> Result<Name> {
    Name::from_stored(text).map_err(|e| CatalogError::Corrupt { table, problem: e.to_string() })
}

pub(crate) fn parse_id<Id: RecordId>(table: &'static str, text: &str) -> Result<Id> {
    Uuid::parse_str(text)
        .map(Id::from_uuid)
        .map_err(|_| CatalogError::Corrupt { table, problem: "an id is not a UUID".to_owned() })
}

pub(crate) fn opt_id<Id: RecordId>(table: &'static str, text: Option<String>) -> Result<Option<Id>> {
    text.map(|t| parse_id(table, &t)).transpose()
}

fn id_param<Id: RecordId>(id: Option<Id>) -> Param {
    Param::OptText(id.map(|id| id.uuid().hyphenated().to_string()))
}

fn ts_param(ts: Option<Timestamp>) -> Param {
    Param::OptInt(ts.map(Timestamp::as_micros))
}

fn ts(value: Option<i64>) -> Option<Timestamp> {
    value.map(Timestamp::from_micros)
}

/// The [`Record`] methods every row struct writes the same way: `meta`, `meta_mut`, and the name, either a plain
/// `name` or a database-scoped `database.name`.
macro_rules! record_common {
    ($id:ty, named) => {
        record_common!(@meta $id);
        fn display(&self) -> String {
            self.name.to_string()
        }
        fn name_values(&self) -> Vec<Param> {
            vec![Param::Text(self.name.to_string())]
        }
    };
    ($id:ty, scoped) => {
        record_common!(@meta $id);
        fn display(&self) -> String {
            format!("{}.{}", self.database, self.name)
        }
        fn name_values(&self) -> Vec<Param> {
            vec![Param::Text(self.database.to_string()), Param::Text(self.name.to_string())]
        }
    };
    (@meta $id:ty) => {
        fn meta(&self) -> &Meta<$id> {
            &self.meta
        }
        fn meta_mut(&mut self) -> &mut Meta<$id> {
            &mut self.meta
        }
    };
}

/// The outcome of the last TEST CONNECTION: bookkeeping kept beside the connection's row (`connection_tests`),
/// written by [`crate::Tx::record_connection_test`] without changing the connection's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastTest {
    /// When it ran.
    pub at: Timestamp,
    /// Whether the probe passed.
    pub status: TestStatus,
    /// How long it took.
    pub latency_ms: Option<i64>,
    /// Why it failed (redacted).
    pub error: Option<String>,
    /// The server version reported.
    pub server_version: Option<String>,
}

/// A row of `external_connections`.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Id, timestamps, version.
    pub meta: Meta<ConnectionId>,
    /// Unique display name; `entity_ref` is `con::<name>`.
    pub name: Name,
    /// `postgresql`, `s3`, …
    pub connection_type: ConnectionType,
    /// Free text.
    pub description: Option<String>,
    /// The options map (JSON object).
    pub options: JsonObject,
    /// The vault entry holding the credential.
    pub credential_id: Option<VaultEntryId>,
    /// The backend providing ambient identity.
    pub credential_storage_id: Option<BackendId>,
    /// Pool limit.
    pub max_connections: Option<i64>,
    /// Connect timeout.
    pub timeout_seconds: Option<i64>,
    /// The last TEST CONNECTION, as read. Never written by an insert or an update: see
    /// [`crate::Tx::record_connection_test`].
    pub last_test: Option<LastTest>,
}

impl Connection {
    /// `con::<name>`.
    pub fn entity_ref(&self) -> String {
        format!("con::{}", self.name)
    }
}

impl Record for Connection {
    type Id = ConnectionId;
    const TABLE: &'static str = "external_connections";
    const SELECT_FROM: &'static str = "external_connections \
        LEFT JOIN connection_tests ON connection_tests.connection_id = external_connections.id";
    const KIND: ObjectKind = ObjectKind::Connection;
    const NAME_COLUMNS: &'static [&'static str] = &["display_name"];
    const REFERENCES: &'static [Reference] = &[
        Reference { column: "credential_id", table: "vault_entries", kind: ObjectKind::VaultEntry },
        Reference { column: "credential_storage_id", table: "vault_backends", kind: ObjectKind::CredentialStorage },
    ];
    const DEPENDENTS: &'static [(&'static str, &'static str, ObjectKind, &'static str)] =
        &[("pipelines", "target_connection_id", ObjectKind::Pipeline, "database_name || '.' || name")];

    record_common!(ConnectionId, named);
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("display_name", Param::Text(self.name.to_string())),
            ("entity_ref", Param::Text(self.entity_ref())),
            ("connection_type", vocab_param(self.connection_type.as_str())),
            ("description", Param::OptText(self.description.clone())),
            ("options", json_text(&self.options)),
            ("credential_id", id_param(self.credential_id)),
            ("credential_storage_id", id_param(self.credential_storage_id)),
            ("max_connections", Param::OptInt(self.max_connections)),
            ("timeout_seconds", Param::OptInt(self.timeout_seconds)),
        ]
    }
    fn from_row(meta: Meta<ConnectionId>, row: &Row) -> Result<Self> {
        let t = Self::TABLE;
        let last_test = read_last_test(row)?;
        Ok(Self {
            meta,
            name: parse_name(t, row.text("display_name")?)?,
            connection_type: vocab(row, t, "connection_type")?,
            description: row.opt_text("description")?,
            options: parse_json(t, &row.text("options")?)?,
            credential_id: opt_id(t, row.opt_text("credential_id")?)?,
            credential_storage_id: opt_id(t, row.opt_text("credential_storage_id")?)?,
            max_connections: row.opt_int("max_connections")?,
            timeout_seconds: row.opt_int("timeout_seconds")?,
            last_test,
        })
    }
}

/// The last test of a connection, from the columns of `connection_tests` in `row` (none when they are null).
pub(crate) fn read_last_test(row: &Row) -> Result<Option<LastTest>> {
    Ok(match (row.opt_int("last_tested_at")?, row.opt_text("last_test_status")?) {
        (Some(at), Some(status)) => Some(LastTest {
            at: Timestamp::from_micros(at),
            status: parse_vocab("connection_tests", "last_test_status", &status)?,
            latency_ms: row.opt_int("last_test_latency_ms")?,
            error: row.opt_text("last_test_error")?,
            server_version: row.opt_text("server_version")?,
        }),
        _ => None,
    })
}

/// A row of `vault_entries`.
#[derive(Debug, Clone, PartialEq)]
pub struct VaultEntry {
    /// Id, timestamps, version.
    pub meta: Meta<VaultEntryId>,
    /// Unique display name.
    pub name: Name,
    /// `ENCRYPTION_KEY` or `CREDENTIAL`.
    pub entry_type: EntryType,
    /// Metadata.
    pub algorithm: Option<String>,
    /// Metadata, bits.
    pub key_size: Option<i64>,
    /// The material's version (increases on ROTATE / SET SECRET).
    pub current_version: i64,
    /// The backend holding the material.
    pub storage_backend_id: BackendId,
    /// For linked entries: the backend's own name of the secret.
    pub external_secret_name: Option<String>,
    /// Set when a link owns the entry (hidden from SHOW VAULTS).
    pub owner_link_id: Option<LinkId>,
    /// Free text.
    pub description: Option<String>,
    /// Advisory expiry.
    pub expires_at: Option<Timestamp>,
    /// Last rotation.
    pub rotated_at: Option<Timestamp>,
}

impl Record for VaultEntry {
    type Id = VaultEntryId;
    const TABLE: &'static str = "vault_entries";
    const KIND: ObjectKind = ObjectKind::VaultEntry;
    const NAME_COLUMNS: &'static [&'static str] = &["display_name"];
    const REFERENCES: &'static [Reference] = &[
        Reference { column: "storage_backend_id", table: "vault_backends", kind: ObjectKind::CredentialStorage },
        Reference { column: "owner_link_id", table: "links", kind: ObjectKind::Link },
    ];
    const DEPENDENTS: &'static [(&'static str, &'static str, ObjectKind, &'static str)] = &[
        ("external_connections", "credential_id", ObjectKind::Connection, "display_name"),
        ("links", "credential_id", ObjectKind::Link, "database_name || '.' || name"),
    ];

    record_common!(VaultEntryId, named);
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("display_name", Param::Text(self.name.to_string())),
            ("entry_type", vocab_param(self.entry_type.as_str())),
            ("algorithm", Param::OptText(self.algorithm.clone())),
            ("key_size", Param::OptInt(self.key_size)),
            ("current_version", Param::Int(self.current_version)),
            ("storage_backend_id", id_param(Some(self.storage_backend_id))),
            ("external_secret_name", Param::OptText(self.external_secret_name.clone())),
            ("owner_link_id", id_param(self.owner_link_id)),
            ("description", Param::OptText(self.description.clone())),
            ("expires_at", ts_param(self.expires_at)),
            ("rotated_at", ts_param(self.rotated_at)),
        ]
    }
    fn from_row(meta: Meta<VaultEntryId>, row: &Row) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self {
            meta,
            name: parse_name(t, row.text("display_name")?)?,
            entry_type: vocab(row, t, "entry_type")?,
            algorithm: row.opt_text("algorithm")?,
            key_size: row.opt_int("key_size")?,
            current_version: row.int("current_version")?,
            storage_backend_id: parse_id(t, &row.text("storage_backend_id")?)?,
            external_secret_name: row.opt_text("external_secret_name")?,
            owner_link_id: opt_id(t, row.opt_text("owner_link_id")?)?,
            description: row.opt_text("description")?,
            expires_at: ts(row.opt_int("expires_at")?),
            rotated_at: ts(row.opt_int("rotated_at")?),
        })
    }
}

/// A row of `vault_backends` (a credential storage).
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    /// Id, timestamps, version.
    pub meta: Meta<BackendId>,
    /// Unique display name.
    pub name: Name,
    /// The plugin kind (`local`, `aws`, …). A `String`, not a closed vocabulary: backends are plugins, and the set
    /// of kinds is whatever plugins the binary was built with (`lanyard_vault::Registry` checks it).
    pub backend_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Non-secret options only; secret ones live in the local backend under `backend::<id>`.
    pub config: JsonObject,
    /// Whether new entries may choose it.
    pub active: bool,
}

impl Record for Backend {
    type Id = BackendId;
    const TABLE: &'static str = "vault_backends";
    const KIND: ObjectKind = ObjectKind::CredentialStorage;
    const NAME_COLUMNS: &'static [&'static str] = &["display_name"];
    const DEPENDENTS: &'static [(&'static str, &'static str, ObjectKind, &'static str)] = &[
        ("vault_entries", "storage_backend_id", ObjectKind::VaultEntry, "display_name"),
        ("external_connections", "credential_storage_id", ObjectKind::Connection, "display_name"),
    ];

    record_common!(BackendId, named);
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("display_name", Param::Text(self.name.to_string())),
            ("backend_type", Param::Text(self.backend_type.clone())),
            ("description", Param::OptText(self.description.clone())),
            ("config", json_text(&self.config)),
            ("active", Param::Bool(self.active)),
        ]
    }
    fn from_row(meta: Meta<BackendId>, row: &Row) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self {
            meta,
            name: parse_name(t, row.text("display_name")?)?,
            backend_type: row.text("backend_type")?,
            description: row.opt_text("description")?,
            config: parse_json(t, &row.text("config")?)?,
            active: row.boolean("active")?,
        })
    }
}

/// A row of `databases`: the namespace of links and pipelines. `default` is seeded; CREATE LINK creates any other.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    /// Id, timestamps, version.
    pub meta: Meta<DatabaseId>,
    /// Unique name.
    pub name: Name,
}

impl Record for Database {
    type Id = DatabaseId;
    const TABLE: &'static str = "databases";
    const KIND: ObjectKind = ObjectKind::Database;
    const NAME_COLUMNS: &'static [&'static str] = &["name"];

    record_common!(DatabaseId, named);
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![("name", Param::Text(self.name.to_string()))]
    }
    fn from_row(meta: Meta<DatabaseId>, row: &Row) -> Result<Self> {
        Ok(Self { meta, name: parse_name(Self::TABLE, row.text("name")?)? })
    }
}

/// A row of `links` (database-scoped).
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Id, timestamps, version.
    pub meta: Meta<LinkId>,
    /// The database the link lives in.
    pub database: Name,
    /// Unique within the database.
    pub name: Name,
    /// `S3`, `KAFKA`, …
    pub link_type: LinkType,
    /// Free text.
    pub description: Option<String>,
    /// CONFIG (no secrets).
    pub config: JsonObject,
    /// The vault entry holding CREDENTIALS.
    pub credential_id: Option<VaultEntryId>,
}

impl Record for Link {
    type Id = LinkId;
    const TABLE: &'static str = "links";
    const KIND: ObjectKind = ObjectKind::Link;
    const NAME_COLUMNS: &'static [&'static str] = &["database_name", "name"];
    // `credential_id` is not checked here: the entry a link owns refers to the link (`owner_link_id`), so it is
    // inserted right after the link, in the same transaction; the Control Plane resolves every other entry by name.
    const DEPENDENTS: &'static [(&'static str, &'static str, ObjectKind, &'static str)] =
        &[("pipelines", "link_id", ObjectKind::Pipeline, "database_name || '.' || name")];

    record_common!(LinkId, scoped);
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("database_name", Param::Text(self.database.to_string())),
            ("name", Param::Text(self.name.to_string())),
            ("link_type", vocab_param(self.link_type.as_str())),
            ("description", Param::OptText(self.description.clone())),
            ("config", json_text(&self.config)),
            ("credential_id", id_param(self.credential_id)),
        ]
    }
    fn from_row(meta: Meta<LinkId>, row: &Row) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self {
            meta,
            database: parse_name(t, row.text("database_name")?)?,
            name: parse_name(t, row.text("name")?)?,
            link_type: vocab(row, t, "link_type")?,
            description: row.opt_text("description")?,
            config: parse_json(t, &row.text("config")?)?,
            credential_id: opt_id(t, row.opt_text("credential_id")?)?,
        })
    }
}

/// A row of `pipelines` (database-scoped): the definition, the state the user asked for (or `Error`, set by the
/// runner), and the runner's progress: the last key loaded and the last error.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Id, timestamps, version.
    pub meta: Meta<PipelineId>,
    /// The database the pipeline lives in.
    pub database: Name,
    /// Unique within the database.
    pub name: Name,
    /// The link it reads through.
    pub link_id: LinkId,
    /// SingleStore's `'<bucket>/<prefix>'` within the link's object store.
    pub path: String,
    /// The connection the target table is reached through.
    pub target_connection_id: ConnectionId,
    /// The target table.
    pub target_table: TableRef,
    /// How its files become rows.
    pub format: LoadFormat,
    /// `Running`, `Stopped` or `Error`.
    pub state: PipelineState,
    /// The last object key loaded (keys load in order within a batch).
    pub cursor: Option<String>,
    /// The last failure the runner kept (a file that did not fit, a target or source that failed), and when.
    pub last_error: Option<(Timestamp, String)>,
}

impl Record for Pipeline {
    type Id = PipelineId;
    const TABLE: &'static str = "pipelines";
    const KIND: ObjectKind = ObjectKind::Pipeline;
    const NAME_COLUMNS: &'static [&'static str] = &["database_name", "name"];
    const REFERENCES: &'static [Reference] = &[
        Reference { column: "link_id", table: "links", kind: ObjectKind::Link },
        Reference { column: "target_connection_id", table: "external_connections", kind: ObjectKind::Connection },
    ];

    record_common!(PipelineId, scoped);
    fn columns(&self) -> Vec<(&'static str, Param)> {
        let format = serde_json::to_string(&self.format).expect("a LoadFormat always serializes");
        vec![
            ("database_name", Param::Text(self.database.to_string())),
            ("name", Param::Text(self.name.to_string())),
            ("link_id", id_param(Some(self.link_id))),
            ("path", Param::Text(self.path.clone())),
            ("target_connection_id", id_param(Some(self.target_connection_id))),
            ("target_table", Param::Text(self.target_table.to_string())),
            ("format", Param::Text(format)),
            ("state", vocab_param(self.state.as_str())),
            ("cursor", Param::OptText(self.cursor.clone())),
            ("last_error", Param::OptText(self.last_error.as_ref().map(|(_, error)| error.clone()))),
            ("last_error_at", ts_param(self.last_error.as_ref().map(|(at, _)| *at))),
        ]
    }
    fn from_row(meta: Meta<PipelineId>, row: &Row) -> Result<Self> {
        let t = Self::TABLE;
        let corrupt = |problem: String| CatalogError::Corrupt { table: t, problem };
        let format = serde_json::from_str(&row.text("format")?)
            .map_err(|e| corrupt(format!("the format column does not hold a load format: {e}")))?;
        let last_error = match (row.opt_int("last_error_at")?, row.opt_text("last_error")?) {
            (Some(at), Some(error)) => Some((Timestamp::from_micros(at), error)),
            _ => None,
        };
        Ok(Self {
            meta,
            database: parse_name(t, row.text("database_name")?)?,
            name: parse_name(t, row.text("name")?)?,
            link_id: parse_id(t, &row.text("link_id")?)?,
            path: row.text("path")?,
            target_connection_id: parse_id(t, &row.text("target_connection_id")?)?,
            target_table: row.text("target_table")?.parse().map_err(corrupt)?,
            format,
            state: vocab(row, t, "state")?,
            cursor: row.opt_text("cursor")?,
            last_error,
        })
    }
}

/// A row of `principals`.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// Id, timestamps, version.
    pub meta: Meta<PrincipalId>,
    /// Unique name.
    pub name: Name,
    /// `admin`, `operator` or `viewer`.
    pub role: Role,
}

impl Record for Principal {
    type Id = PrincipalId;
    const TABLE: &'static str = "principals";
    const KIND: ObjectKind = ObjectKind::Principal;
    const NAME_COLUMNS: &'static [&'static str] = &["display_name"];
    const DEPENDENTS: &'static [(&'static str, &'static str, ObjectKind, &'static str)] =
        &[("api_tokens", "principal_id", ObjectKind::Token, "display_name")];

    record_common!(PrincipalId, named);
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![("display_name", Param::Text(self.name.to_string())), ("role", vocab_param(self.role.as_str()))]
    }
    fn from_row(meta: Meta<PrincipalId>, row: &Row) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self { meta, name: parse_name(t, row.text("display_name")?)?, role: vocab(row, t, "role")? })
    }
}

/// A row of `api_tokens`: the token's hash, never the token.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    /// Id, timestamps, version.
    pub meta: Meta<TokenId>,
    /// Unique name.
    pub name: Name,
    /// Whose token it is.
    pub principal_id: PrincipalId,
    /// Hash of the token (hex).
    pub token_hash: String,
    /// Last successful use.
    pub last_used_at: Option<Timestamp>,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// Revocation.
    pub revoked_at: Option<Timestamp>,
}

impl Record for ApiToken {
    type Id = TokenId;
    const TABLE: &'static str = "api_tokens";
    const KIND: ObjectKind = ObjectKind::Token;
    const NAME_COLUMNS: &'static [&'static str] = &["display_name"];
    const REFERENCES: &'static [Reference] =
        &[Reference { column: "principal_id", table: "principals", kind: ObjectKind::Principal }];

    record_common!(TokenId, named);
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("display_name", Param::Text(self.name.to_string())),
            ("principal_id", id_param(Some(self.principal_id))),
            ("token_hash", Param::Text(self.token_hash.clone())),
            ("last_used_at", ts_param(self.last_used_at)),
            ("expires_at", ts_param(self.expires_at)),
            ("revoked_at", ts_param(self.revoked_at)),
        ]
    }
    fn from_row(meta: Meta<TokenId>, row: &Row) -> Result<Self> {
        let t = Self::TABLE;
        Ok(Self {
            meta,
            name: parse_name(t, row.text("display_name")?)?,
            principal_id: parse_id(t, &row.text("principal_id")?)?,
            token_hash: row.text("token_hash")?,
            last_used_at: ts(row.opt_int("last_used_at")?),
            expires_at: ts(row.opt_int("expires_at")?),
            revoked_at: ts(row.opt_int("revoked_at")?),
        })
    }
}

/// An audit record to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditRecord {
    /// Who.
    pub principal: String,
    /// What (`connection.alter`, …).
    pub action: AuditAction,
    /// Which kind of object.
    pub object_kind: ObjectKind,
    /// Which object, by id.
    pub object_id: Option<String>,
    /// Which object, by name.
    pub object_name: Option<String>,
    /// `allowed`, `denied` or `failed`.
    pub outcome: AuditOutcome,
    /// Redacted detail (JSON object).
    pub detail: JsonObject,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Position in the log (increasing).
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// The record as appended.
    pub record: NewAuditRecord,
}
