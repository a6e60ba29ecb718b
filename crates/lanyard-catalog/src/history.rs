//! Object history: every version of a connection, vault entry, credential storage or link is kept in the audit
//! record of the change that made it (`audit_log.state`, migration 6): the row as the change wrote it, as a JSON
//! object of its columns (a link's also holds its credentials' material version), or `{}` for a drop. It is written
//! by the statement (PostgreSQL) or batch (SQLite) that appends the record — [`Tx::append_audit`] and
//! [`Tx::update_audited`], the only ways a change is audited — so a change with its record always has its version,
//! at the cost of a column in a row written anyway. Read back as typed rows, with the names of the rows a version
//! refers to as they are now (or were when dropped); pruned by setting `state` to NULL: the audit record stays.
//!
//! The catalog only keeps and reads versions; what a version means (a diff, a rollback) is the Control Plane's.

use lanyard_core::{AuditAction, AuditOutcome, ObjectKind};
use serde_json::Value;

use crate::db::{Param, Row};
use crate::error::{CatalogError, Result};
use crate::model::{JsonObject, NewAuditRecord, Record, RecordId, parse_json, parse_vocab};
use crate::store::{Tx, read};
use crate::time::Timestamp;

/// The kinds of object whose versions are kept.
pub const HISTORY_KINDS: [ObjectKind; 4] =
    [ObjectKind::Connection, ObjectKind::VaultEntry, ObjectKind::CredentialStorage, ObjectKind::Link];

/// What `state` holds for a drop.
const DROPPED: &str = "{}";

/// One version of an object, or its drop.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The audit record's sequence number (increasing).
    pub seq: i64,
    /// The object's id.
    pub object_id: String,
    /// The object's name after the change (`db.name` for a link).
    pub object_name: String,
    /// The object's version after the change; `None` for its drop.
    pub version: Option<i64>,
    /// When: the row's `updated_at`; for a drop, the time of its record.
    pub at: Timestamp,
    /// Who made the change, its action and the audit record's detail (the statement's actions, redacted).
    pub change: Change,
    /// The row as the change wrote it, as a JSON object of its columns, with the names of the rows it refers to as
    /// they are now, or were when dropped (`credential_name`, `credential_storage_name`, `storage_backend_name`;
    /// a link's `credential_owned` and `credential_version`); `None` for a drop.
    pub state: Option<JsonObject>,
}

/// Who changed an object, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Who.
    pub principal: String,
    /// What (`connection.alter`, …).
    pub action: AuditAction,
    /// The audit record's detail (no material).
    pub detail: JsonObject,
}

impl HistoryEntry {
    /// The version as the typed row `R`; `None` for a drop.
    pub fn record<R: Record>(&self) -> Result<Option<R>> {
        self.state.as_ref().map(|state| read::<R>(&Row::from_json(state.clone()))).transpose()
    }

    /// The name of a row this version refers to (`credential_name`, …).
    pub fn referred_name(&self, key: &str) -> Option<&str> {
        self.state.as_ref()?.get(key)?.as_str()
    }
}

/// What [`Tx::prune_history`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Versions older than this are pruned, except the newest of an object that still exists.
    pub max_age: Option<std::time::Duration>,
    /// At most this many versions of each object are kept (the newest).
    pub max_versions: Option<u32>,
}

/// The table of a kind whose versions are kept.
pub(crate) fn table(kind: ObjectKind) -> Option<&'static str> {
    match kind {
        ObjectKind::Connection => Some("external_connections"),
        ObjectKind::VaultEntry => Some("vault_entries"),
        ObjectKind::CredentialStorage => Some("vault_backends"),
        ObjectKind::Link => Some("links"),
        _ => None,
    }
}

/// What a change's audit record asks of the history: a version of the row (`Some(false)`), the mark of its drop
/// (`Some(true)`), or nothing (`None`: a denial, a failure, a read, a TEST, or an object of another kind).
pub(crate) fn kept(record: &NewAuditRecord) -> Option<bool> {
    use AuditAction as A;
    if record.outcome != AuditOutcome::Allowed || record.object_id.is_none() || table(record.object_kind).is_none() {
        return None;
    }
    match record.action {
        A::ConnectionCreate
        | A::ConnectionAlter
        | A::VaultEntryCreate
        | A::VaultEntryAlter
        | A::CredentialStorageCreate
        | A::CredentialStorageAlter
        | A::LinkCreate
        | A::LinkAlter => Some(false),
        A::ConnectionDrop | A::VaultEntryDrop | A::CredentialStorageDrop | A::LinkDrop => Some(true),
        _ => None,
    }
}

/// The state of row `r` of `kind`'s table, as text. SQLite has no row-to-JSON function, so its form lists the
/// columns: a migration that adds one must add it here (`history_keeps_every_version_as_written` reads every field
/// back).
fn state(kind: ObjectKind, postgres: bool) -> &'static str {
    if postgres {
        match kind {
            ObjectKind::Connection => "row_to_json(r)::TEXT",
            ObjectKind::VaultEntry => "row_to_json(r)::TEXT",
            ObjectKind::CredentialStorage => "row_to_json(r)::TEXT",
            ObjectKind::Link => {
                "(row_to_json(r)::JSONB || jsonb_build_object('credential_version', (SELECT e.current_version FROM vault_entries AS e WHERE e.id = r.credential_id), 'credential_owned', (SELECT e.owner_link_id IS NOT NULL FROM vault_entries AS e WHERE e.id = r.credential_id)))::TEXT"
            }
            _ => "NULL",
        }
    } else {
        match kind {
            ObjectKind::Connection => {
                "json_object('id', r.id, 'display_name', r.display_name, 'entity_ref', r.entity_ref, 'connection_type', r.connection_type, 'description', r.description, 'options', r.options, 'credential_id', r.credential_id, 'credential_storage_id', r.credential_storage_id, 'max_connections', r.max_connections, 'timeout_seconds', r.timeout_seconds, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version)"
            }
            ObjectKind::VaultEntry => {
                "json_object('id', r.id, 'display_name', r.display_name, 'entry_type', r.entry_type, 'algorithm', r.algorithm, 'key_size', r.key_size, 'current_version', r.current_version, 'storage_backend_id', r.storage_backend_id, 'external_secret_name', r.external_secret_name, 'owner_link_id', r.owner_link_id, 'description', r.description, 'expires_at', r.expires_at, 'rotated_at', r.rotated_at, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version)"
            }
            ObjectKind::CredentialStorage => {
                "json_object('id', r.id, 'display_name', r.display_name, 'backend_type', r.backend_type, 'description', r.description, 'config', r.config, 'active', r.active, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version)"
            }
            ObjectKind::Link => {
                "json_object('id', r.id, 'database_name', r.database_name, 'name', r.name, 'link_type', r.link_type, 'description', r.description, 'config', r.config, 'credential_id', r.credential_id, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version, 'credential_version', (SELECT e.current_version FROM vault_entries AS e WHERE e.id = r.credential_id), 'credential_owned', (SELECT json(CASE WHEN e.owner_link_id IS NOT NULL THEN 'true' ELSE 'false' END) FROM vault_entries AS e WHERE e.id = r.credential_id))"
            }
            _ => "NULL",
        }
    }
}

/// `row` as `state` holds it, made from its columns: the JSON object the statements' own forms make (text as a
/// string, integers as numbers, NULL as null, a boolean as `true`/`false`), with its id, timestamps and version.
pub(crate) fn row_json<R: Record>(row: &R) -> String {
    let meta = row.meta();
    let mut object = JsonObject::new();
    object.insert("id".to_owned(), meta.id.uuid().hyphenated().to_string().into());
    for (column, value) in row.columns() {
        let value = match value {
            Param::Text(text) => Value::String(text),
            Param::OptText(text) => text.map_or(Value::Null, Value::String),
            Param::Int(n) => n.into(),
            Param::OptInt(n) => n.map_or(Value::Null, Value::from),
            Param::Bool(b) => b.into(),
        };
        object.insert(column.to_owned(), value);
    }
    object.insert("created_at".to_owned(), meta.created_at.as_micros().into());
    object.insert("updated_at".to_owned(), meta.updated_at.as_micros().into());
    object.insert("version".to_owned(), meta.version.into());
    Value::Object(object).to_string()
}

/// The SQL expression of the `state` an audit record is appended with: for a version, the row read by id (`$id`,
/// its placeholder) from its table or, with `changed`, the row `changed` that the appending statement wrote
/// (PostgreSQL's data-modifying `WITH`); `{}` for a drop; NULL for any other record.
pub(crate) fn state_expression(record: &NewAuditRecord, postgres: bool, changed: bool, id: usize) -> String {
    let (Some(dropped), Some(table)) = (kept(record), table(record.object_kind)) else { return "NULL".to_owned() };
    if dropped {
        return format!("'{DROPPED}'");
    }
    let state = state(record.object_kind, postgres);
    if changed { state.to_owned() } else { format!("(SELECT {state} FROM {table} r WHERE r.id = ${id})") }
}

/// The version a `state` column holds, as SQL.
fn version_of_state(postgres: bool) -> &'static str {
    if postgres { "(state::JSONB ->> 'version')::BIGINT" } else { "json_extract(state, '$.version')" }
}

/// The `updated_at` a `state` column holds, as SQL (the record's time for a drop).
fn time_of_state(postgres: bool) -> &'static str {
    if postgres {
        "COALESCE((state::JSONB ->> 'updated_at')::BIGINT, at)"
    } else {
        "COALESCE(json_extract(state, '$.updated_at'), at)"
    }
}

const HISTORY_SELECT: &str = "SELECT seq, at, principal, action, object_id, object_name, detail, state FROM audit_log";

fn read_entry(row: &Row) -> Result<HistoryEntry> {
    const T: &str = "audit_log";
    let state = parse_json(T, &row.text("state")?)?;
    let (version, at, state) = if state.is_empty() {
        (None, Timestamp::from_micros(row.int("at")?), None)
    } else {
        let number = |key: &str| state.get(key).and_then(Value::as_i64);
        let corrupt = || CatalogError::Corrupt { table: T, problem: "a kept version has no version or time".into() };
        let version = number("version").ok_or_else(corrupt)?;
        let at = Timestamp::from_micros(number("updated_at").ok_or_else(corrupt)?);
        (Some(version), at, Some(state))
    };
    Ok(HistoryEntry {
        seq: row.int("seq")?,
        object_id: row.text("object_id")?,
        object_name: row.opt_text("object_name")?.unwrap_or_default(),
        version,
        at,
        change: Change {
            principal: row.text("principal")?,
            action: parse_vocab(T, "action", &row.text("action")?)?,
            detail: parse_json(T, &row.text("detail")?)?,
        },
        state,
    })
}

/// The kind as the audit log spells it.
fn kind_param(kind: ObjectKind) -> Param {
    Param::Text(kind.noun().to_owned())
}

impl Tx {
    /// The id of the object of kind `R` named `name` (its name columns' values, as for [`Tx::find_by_name`]), or, if
    /// none exists now, of the last one dropped under that name (`display`, as the audit log keeps it: `db.name`
    /// for a link), so the history of a dropped object is found by its name. `None` when neither exists.
    pub async fn history_object<R: Record>(&mut self, name: &[&str], display: &str) -> Result<Option<String>> {
        if let Some(row) = self.find_by_name::<R>(name).await? {
            return Ok(Some(row.meta().id.to_string()));
        }
        let sql = format!(
            "SELECT object_id FROM audit_log WHERE object_kind = $1 AND object_name = $2 AND state = '{DROPPED}' \
             ORDER BY seq DESC LIMIT 1"
        );
        let params = vec![kind_param(R::KIND), Param::Text(lanyard_core::nfc_str(display).into_owned())];
        self.conn.fetch_optional(&sql, params).await?.map(|row| row.text("object_id")).transpose()
    }

    /// The history of object `id` of kind `kind`, newest first, at most `limit` entries.
    pub async fn history(&mut self, kind: ObjectKind, id: &str, limit: i64) -> Result<Vec<HistoryEntry>> {
        let sql = format!(
            "{HISTORY_SELECT} WHERE object_id = $2 AND object_kind = $1 AND state IS NOT NULL ORDER BY seq DESC LIMIT $3"
        );
        let params = vec![kind_param(kind), Param::Text(id.to_owned()), Param::Int(limit)];
        let rows = self.conn.fetch_all(&sql, params).await?;
        let mut entries = rows.iter().map(read_entry).collect::<Result<Vec<_>>>()?;
        self.name_references(kind, &mut entries).await?;
        Ok(entries)
    }

    /// Version `version` of object `id`, if the history still keeps it.
    pub async fn history_version(&mut self, kind: ObjectKind, id: &str, version: i64) -> Result<Option<HistoryEntry>> {
        let filter = format!("{} = $3", version_of_state(self.conn.is_postgres()));
        self.history_one(kind, id, &filter, Param::Int(version)).await
    }

    /// What object `id` was at `at`: the last entry at or before it (a drop, if it was dropped by then). `None` when
    /// the history keeps nothing that old (the object did not exist yet, or those versions were pruned).
    pub async fn history_at(&mut self, kind: ObjectKind, id: &str, at: Timestamp) -> Result<Option<HistoryEntry>> {
        let filter = format!("{} <= $3", time_of_state(self.conn.is_postgres()));
        self.history_one(kind, id, &filter, Param::Int(at.as_micros())).await
    }

    async fn history_one(
        &mut self,
        kind: ObjectKind,
        id: &str,
        filter: &str,
        value: Param,
    ) -> Result<Option<HistoryEntry>> {
        let sql = format!(
            "{HISTORY_SELECT} WHERE object_id = $2 AND object_kind = $1 AND state IS NOT NULL AND {filter} \
             ORDER BY seq DESC LIMIT 1"
        );
        let params = vec![kind_param(kind), Param::Text(id.to_owned()), value];
        let Some(row) = self.conn.fetch_optional(&sql, params).await? else { return Ok(None) };
        let mut entries = vec![read_entry(&row)?];
        self.name_references(kind, &mut entries).await?;
        Ok(entries.pop())
    }

    /// The oldest and newest versions the history keeps of object `id` (for messages): `None` when it keeps none.
    pub async fn history_span(&mut self, kind: ObjectKind, id: &str) -> Result<Option<(i64, i64)>> {
        let version = version_of_state(self.conn.is_postgres());
        let sql = format!(
            "SELECT MIN({version}) AS lo, MAX({version}) AS hi FROM audit_log \
             WHERE object_id = $2 AND object_kind = $1 AND state IS NOT NULL AND state <> '{DROPPED}'"
        );
        let params = vec![kind_param(kind), Param::Text(id.to_owned())];
        let Some(row) = self.conn.fetch_optional(&sql, params).await? else { return Ok(None) };
        Ok(row.opt_int("lo")?.zip(row.opt_int("hi")?))
    }

    /// Adds to each version's state the names of the rows it refers to, as they are now, or as they were when
    /// dropped (the last audit record about them).
    async fn name_references(&mut self, kind: ObjectKind, entries: &mut [HistoryEntry]) -> Result<()> {
        let references: &[(&str, ObjectKind, &str)] = match kind {
            ObjectKind::Connection => &[
                ("credential_id", ObjectKind::VaultEntry, "credential_name"),
                ("credential_storage_id", ObjectKind::CredentialStorage, "credential_storage_name"),
            ],
            ObjectKind::VaultEntry => &[("storage_backend_id", ObjectKind::CredentialStorage, "storage_backend_name")],
            ObjectKind::Link => &[("credential_id", ObjectKind::VaultEntry, "credential_name")],
            _ => &[],
        };
        let mut known: std::collections::HashMap<String, (Option<String>, bool)> = std::collections::HashMap::new();
        for entry in entries.iter_mut() {
            let Some(state) = entry.state.as_mut() else { continue };
            for (column, target, key) in references {
                let Some(id) = state.get(*column).and_then(Value::as_str).map(str::to_owned) else { continue };
                if !known.contains_key(&id) {
                    let found = self.name_of(*target, &id).await?;
                    known.insert(id.clone(), found);
                }
                let (name, owned) = known[&id].clone();
                if let Some(name) = name {
                    state.insert((*key).to_owned(), name.into());
                }
                // A link's version says whether its credentials were its own when it was written; the catalog as it
                // is now answers only for a version written without it.
                if kind == ObjectKind::Link && state.get("credential_owned").is_none_or(Value::is_null) {
                    state.insert("credential_owned".to_owned(), owned.into());
                }
            }
        }
        Ok(())
    }

    /// The name of object `id` of `kind` now, or, if it is gone, the name its last audit record gave it; and, for a
    /// vault entry, whether a link owns it.
    async fn name_of(&mut self, kind: ObjectKind, id: &str) -> Result<(Option<String>, bool)> {
        if let Some(table) = table(kind) {
            let owner = if kind == ObjectKind::VaultEntry { "owner_link_id" } else { "NULL" };
            let sql = format!("SELECT display_name, {owner} AS owner FROM {table} WHERE id = $1");
            if let Some(row) = self.conn.fetch_optional(&sql, vec![Param::Text(id.to_owned())]).await? {
                return Ok((Some(row.text("display_name")?), row.opt_text("owner")?.is_some()));
            }
        }
        let sql = "SELECT object_name FROM audit_log WHERE object_kind = $1 AND object_id = $2 \
                   AND object_name IS NOT NULL ORDER BY seq DESC LIMIT 1";
        let row = self.conn.fetch_optional(sql, vec![kind_param(kind), Param::Text(id.to_owned())]).await?;
        Ok((row.map(|row| row.text("object_name")).transpose()?, false))
    }

    /// Prunes the history as `retention` says, as of `now`: versions beyond the newest `max_versions` of each object,
    /// and versions older than `max_age` — except the newest entry of each object, so an object that still exists
    /// keeps its current version; an object whose drop is older than `max_age` loses its whole history. A pruned
    /// version leaves its audit record as it was but for the copy of the row. Returns how many were pruned.
    pub async fn prune_history(&mut self, retention: Retention, now: Timestamp) -> Result<u64> {
        let mut pruned = 0;
        if let Some(keep) = retention.max_versions {
            let sql = "UPDATE audit_log SET state = NULL WHERE seq IN (SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER \
                       (PARTITION BY object_id ORDER BY seq DESC) AS n FROM audit_log WHERE state IS NOT NULL) AS ranked \
                       WHERE n > $1)";
            pruned += self.conn.execute(sql, vec![Param::Int(i64::from(keep.max(1)))]).await?;
        }
        if let Some(age) = retention.max_age {
            let age = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            let cutoff = Param::Int(now.as_micros().saturating_sub(age));
            let older = "UPDATE audit_log SET state = NULL WHERE state IS NOT NULL AND at < $1 AND EXISTS \
                         (SELECT 1 FROM audit_log AS newer WHERE newer.object_id = audit_log.object_id \
                         AND newer.state IS NOT NULL AND newer.seq > audit_log.seq)";
            pruned += self.conn.execute(older, vec![cutoff.clone()]).await?;
            let dropped = format!("UPDATE audit_log SET state = NULL WHERE state = '{DROPPED}' AND at < $1");
            pruned += self.conn.execute(&dropped, vec![cutoff]).await?;
        }
        Ok(pruned)
    }
}
