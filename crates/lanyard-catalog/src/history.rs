//! Object history: the versions `object_history` keeps of connections, vault entries, credential storages and links
//! (migration 0006, whose trigger on `audit_log` writes them), read back as typed rows, and pruned.
//!
//! The catalog only keeps and reads versions; what a version means (a diff, a rollback) is the Control Plane's.

use lanyard_core::{AuditAction, ObjectKind};

use crate::db::{Param, Row};
use crate::error::Result;
use crate::model::{JsonObject, Record, parse_json, parse_vocab};
use crate::store::{Tx, read};
use crate::time::Timestamp;

/// The kinds of object whose versions are kept.
pub const HISTORY_KINDS: [ObjectKind; 4] =
    [ObjectKind::Connection, ObjectKind::VaultEntry, ObjectKind::CredentialStorage, ObjectKind::Link];

/// One version of an object, or its drop.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// Position in the history (increasing).
    pub seq: i64,
    /// The object's id.
    pub object_id: String,
    /// The object's name after the change (`db.name` for a link).
    pub object_name: String,
    /// The object's version after the change; `None` for its drop.
    pub version: Option<i64>,
    /// When.
    pub at: Timestamp,
    /// The change: who made it, its action and the audit record's detail (the statement's actions, redacted).
    /// `None` for the baseline of an object that existed before its catalog kept history.
    pub change: Option<Change>,
    /// The row as the change wrote it, as a JSON object of its columns and the names of the rows it referred to
    /// (`credential_name`, `credential_storage_name`, `storage_backend_name`, `credential_version`); `None` for a
    /// drop.
    pub state: Option<JsonObject>,
}

/// Who changed an object, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The audit record's sequence number.
    pub audit_seq: i64,
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

    /// A name of a row this version referred to, as it was then (`credential_name`, …).
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

const HISTORY_SELECT: &str = "SELECT h.seq, h.object_id, h.object_name, h.version, h.at, h.state, \
     a.seq AS audit_seq, a.principal, a.action, a.detail \
     FROM object_history h LEFT JOIN audit_log a ON a.seq = h.audit_seq";

fn read_entry(row: &Row) -> Result<HistoryEntry> {
    const T: &str = "object_history";
    let change = match row.opt_int("audit_seq")? {
        None => None,
        Some(audit_seq) => Some(Change {
            audit_seq,
            principal: row.text("principal")?,
            action: parse_vocab("audit_log", "action", &row.text("action")?)?,
            detail: parse_json("audit_log", &row.text("detail")?)?,
        }),
    };
    Ok(HistoryEntry {
        seq: row.int("seq")?,
        object_id: row.text("object_id")?,
        object_name: row.text("object_name")?,
        version: row.opt_int("version")?,
        at: Timestamp::from_micros(row.int("at")?),
        change,
        state: row.opt_text("state")?.map(|text| parse_json(T, &text)).transpose()?,
    })
}

/// The kind as `object_history` stores it (the audit log's noun). Of another kind than [`HISTORY_KINDS`], nothing is
/// kept, so nothing is found.
fn kind_param(kind: ObjectKind) -> Param {
    Param::Text(kind.noun().to_owned())
}

impl Tx {
    /// The id of the object of kind `R` named `name` (its name columns' values, as for [`Tx::find_by_name`]), or, if
    /// none exists now, of the last one that had that name (`display`, as history keeps it: `db.name` for a link),
    /// so the history of a dropped object is found by its name. `None` when no object ever had it.
    pub async fn history_object<R: Record>(&mut self, name: &[&str], display: &str) -> Result<Option<String>> {
        if let Some(row) = self.find_by_name::<R>(name).await? {
            return Ok(Some(row.meta().id.to_string()));
        }
        let sql = "SELECT object_id FROM object_history WHERE object_kind = $1 AND object_name = $2 \
                   ORDER BY seq DESC LIMIT 1";
        let params = vec![kind_param(R::KIND), Param::Text(lanyard_core::nfc_str(display).into_owned())];
        self.conn.fetch_optional(sql, params).await?.map(|row| row.text("object_id")).transpose()
    }

    /// The history of object `id` of kind `kind`, newest first, at most `limit` entries.
    pub async fn history(&mut self, kind: ObjectKind, id: &str, limit: i64) -> Result<Vec<HistoryEntry>> {
        let sql =
            format!("{HISTORY_SELECT} WHERE h.object_kind = $1 AND h.object_id = $2 ORDER BY h.seq DESC LIMIT $3");
        let params = vec![kind_param(kind), Param::Text(id.to_owned()), Param::Int(limit)];
        self.conn.fetch_all(&sql, params).await?.iter().map(read_entry).collect()
    }

    /// Version `version` of object `id`, if the history still keeps it.
    pub async fn history_version(&mut self, kind: ObjectKind, id: &str, version: i64) -> Result<Option<HistoryEntry>> {
        let sql = format!("{HISTORY_SELECT} WHERE h.object_kind = $1 AND h.object_id = $2 AND h.version = $3");
        let params = vec![kind_param(kind), Param::Text(id.to_owned()), Param::Int(version)];
        self.conn.fetch_optional(&sql, params).await?.as_ref().map(read_entry).transpose()
    }

    /// What object `id` was at `at`: the last entry at or before it (a drop, if it was dropped by then). `None` when
    /// the history keeps nothing that old (the object did not exist yet, or those versions were pruned).
    pub async fn history_at(&mut self, kind: ObjectKind, id: &str, at: Timestamp) -> Result<Option<HistoryEntry>> {
        let sql = format!(
            "{HISTORY_SELECT} WHERE h.object_kind = $1 AND h.object_id = $2 AND h.at <= $3 \
             ORDER BY h.seq DESC LIMIT 1"
        );
        let params = vec![kind_param(kind), Param::Text(id.to_owned()), Param::Int(at.as_micros())];
        self.conn.fetch_optional(&sql, params).await?.as_ref().map(read_entry).transpose()
    }

    /// The oldest and newest versions the history keeps of object `id` (for messages): `None` when it keeps none.
    pub async fn history_span(&mut self, kind: ObjectKind, id: &str) -> Result<Option<(i64, i64)>> {
        let sql = "SELECT MIN(version) AS lo, MAX(version) AS hi FROM object_history \
                   WHERE object_kind = $1 AND object_id = $2";
        let params = vec![kind_param(kind), Param::Text(id.to_owned())];
        let Some(row) = self.conn.fetch_optional(sql, params).await? else { return Ok(None) };
        Ok(row.opt_int("lo")?.zip(row.opt_int("hi")?))
    }

    /// Prunes the history as `retention` says, as of `now`: versions beyond the newest `max_versions` of each object,
    /// and versions older than `max_age` — except the newest entry of each object, so an object that still exists
    /// keeps its current version; an object whose drop is older than `max_age` loses its whole history. Returns how
    /// many entries were deleted.
    pub async fn prune_history(&mut self, retention: Retention, now: Timestamp) -> Result<u64> {
        let mut deleted = 0;
        if let Some(keep) = retention.max_versions {
            let sql = "DELETE FROM object_history WHERE seq IN (SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER \
                       (PARTITION BY object_kind, object_id ORDER BY seq DESC) AS n FROM object_history) AS ranked \
                       WHERE n > $1)";
            deleted += self.conn.execute(sql, vec![Param::Int(i64::from(keep.max(1)))]).await?;
        }
        if let Some(age) = retention.max_age {
            let age = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            let cutoff = Param::Int(now.as_micros().saturating_sub(age));
            let older = "DELETE FROM object_history WHERE at < $1 AND EXISTS (SELECT 1 FROM object_history AS newer \
                         WHERE newer.object_kind = object_history.object_kind \
                         AND newer.object_id = object_history.object_id AND newer.seq > object_history.seq)";
            deleted += self.conn.execute(older, vec![cutoff.clone()]).await?;
            let dropped = "DELETE FROM object_history WHERE version IS NULL AND at < $1";
            deleted += self.conn.execute(dropped, vec![cutoff]).await?;
        }
        Ok(deleted)
    }
}
