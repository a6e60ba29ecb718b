//! SHOW HISTORY, DESCRIBE … AT and what ROLLBACK TO VERSION reads: the versions the catalog keeps
//! (`lanyard_catalog::HistoryEntry`), turned into what a user reads — who, when, the statement's actions, and a diff
//! field by field against the version before, with references by name and no secret material.
//!
//! Reading a history needs the object's read permission; rolling back is an ALTER action and needs its write
//! permission.

use lanyard_catalog::{HistoryEntry, Record, Timestamp, Tx};
use lanyard_core::{AuditAction, ErrorKind, ObjectKind, is_secret_key, printable};
use serde_json::Value;

use crate::error::{ControlError, Result};

/// How many versions SHOW HISTORY returns when the request gives no limit, and the most it returns.
pub const HISTORY_PAGE: i64 = 100;
/// The most versions one SHOW HISTORY returns.
pub const HISTORY_MAX: i64 = 1000;

/// Which version DESCRIBE … AT shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointInTime {
    /// `AT VERSION n`.
    Version(i64),
    /// `AT '2026-12-01T10:00:00Z'`: the version current then.
    At(Timestamp),
}

/// One version of an object, as SHOW HISTORY shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionView {
    /// The version after the change; `None` for the drop.
    pub version: Option<i64>,
    /// The object's name after the change.
    pub name: String,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub principal: String,
    /// The change.
    pub action: AuditAction,
    /// The statement's actions, as audited (redacted), for an ALTER.
    pub actions: Option<Value>,
    /// The fields that changed from the version before.
    pub changes: Vec<FieldChange>,
}

/// One field that changed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// `description`, `credential`, `options.host`, …
    pub field: String,
    /// Before; `None` when it had no value.
    pub before: Option<Value>,
    /// After; `None` when it has none.
    pub after: Option<Value>,
}

/// The columns a user reads in a diff, as (stored column, field shown): the rest (id, timestamps, the version,
/// derived columns, ids whose names are shown instead) are not part of a definition.
const FIELDS: &[(&str, &str)] = &[
    ("display_name", "name"),
    ("name", "name"),
    ("connection_type", "type"),
    ("link_type", "type"),
    ("backend_type", "type"),
    ("entry_type", "type"),
    ("description", "description"),
    ("options", "options"),
    ("config", "config"),
    ("credential_name", "credential"),
    ("credential_storage_name", "credential_storage"),
    ("storage_backend_name", "storage"),
    ("external_secret_name", "external_secret_name"),
    ("algorithm", "algorithm"),
    ("key_size", "key_size"),
    ("current_version", "material_version"),
    ("credential_version", "credentials_version"),
    ("expires_at", "expires_at"),
    ("rotated_at", "rotated_at"),
    ("max_connections", "max_connections"),
    ("timeout_seconds", "timeout_seconds"),
    ("active", "active"),
];

/// Columns holding a JSON object as text, diffed key by key.
const OBJECT_FIELDS: &[&str] = &["options", "config"];
/// Columns holding microseconds since the epoch, shown as RFC 3339.
const TIME_FIELDS: &[&str] = &["expires_at", "rotated_at"];

/// The fields of a version's state as a user reads them, in [`FIELDS`] order (`options.k` for each key of an object
/// column; a key that looks secret shows `***`, though none is ever stored).
fn fields(state: Option<&lanyard_catalog::JsonObject>) -> Vec<(String, Value)> {
    let Some(state) = state else { return Vec::new() };
    // A link's own CREDENTIALS live in an entry of its own, whose internal name says nothing: its material version
    // (`credentials_version`) is what changes.
    let owned = state.get("credential_owned").is_some_and(|v| v == &Value::Bool(true) || v == &Value::from(1));
    let mut out = Vec::new();
    for (column, field) in FIELDS {
        if owned && *column == "credential_name" {
            continue;
        }
        let Some(value) = state.get(*column) else { continue };
        if value.is_null() {
            continue;
        }
        if OBJECT_FIELDS.contains(column) {
            let object = match value {
                Value::String(text) => serde_json::from_str::<Value>(text).unwrap_or(Value::Null),
                other => other.clone(),
            };
            if let Value::Object(map) = object {
                for (key, value) in map {
                    let value = if is_secret_key(&key) { Value::String("***".into()) } else { value };
                    out.push((format!("{field}.{key}"), value));
                }
            }
        } else if TIME_FIELDS.contains(column) {
            let shown =
                value.as_i64().map_or(value.clone(), |micros| Timestamp::from_micros(micros).to_string().into());
            out.push(((*field).to_owned(), shown));
        } else if *column == "active" {
            // SQLite keeps a boolean as 0/1.
            let active = value.as_bool().unwrap_or_else(|| value.as_i64() != Some(0));
            out.push(((*field).to_owned(), Value::Bool(active)));
        } else {
            out.push(((*field).to_owned(), value.clone()));
        }
    }
    out
}

/// What changed from `before` to `after`, field by field: changed and added fields in `after`'s order, then removed
/// ones.
pub(crate) fn diff(
    before: Option<&lanyard_catalog::JsonObject>,
    after: Option<&lanyard_catalog::JsonObject>,
) -> Vec<FieldChange> {
    let (old, new) = (fields(before), fields(after));
    let mut changes = Vec::new();
    for (field, value) in &new {
        let was = old.iter().find(|(f, _)| f == field).map(|(_, v)| v);
        if was != Some(value) {
            changes.push(FieldChange { field: field.clone(), before: was.cloned(), after: Some(value.clone()) });
        }
    }
    if after.is_some() {
        for (field, value) in &old {
            if !new.iter().any(|(f, _)| f == field) {
                changes.push(FieldChange { field: field.clone(), before: Some(value.clone()), after: None });
            }
        }
    }
    changes
}

/// The versions of `entries` (newest first) as SHOW HISTORY shows them, each diffed against the entry after it in
/// the list, or, for the last, against `base` (the version before it, when the history keeps one).
pub(crate) fn views(entries: &[HistoryEntry], base: Option<&HistoryEntry>) -> Vec<VersionView> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let before = entries.get(i + 1).or(base).and_then(|e| e.state.as_ref());
            view(entry, before)
        })
        .collect()
}

/// One version as SHOW HISTORY shows it, diffed against `before`.
pub(crate) fn view(entry: &HistoryEntry, before: Option<&lanyard_catalog::JsonObject>) -> VersionView {
    let change = &entry.change;
    VersionView {
        version: entry.version,
        name: entry.object_name.clone(),
        at: entry.at,
        principal: change.principal.clone(),
        action: change.action,
        actions: change.detail.get("actions").cloned(),
        changes: if entry.state.is_some() { diff(before, entry.state.as_ref()) } else { Vec::new() },
    }
}

/// Which object a history request is about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// A vault entry or storage by the key of its route: a UUID, or its whole name as given (the key's `Display`
    /// shortens a long one for messages).
    Key(&'a crate::ObjectKey),
    /// By its name columns' values (`[name]`, or `[database, name]` for a link) and its name as history keeps it
    /// (`db.name` for a link): the object that has it now or, once dropped, the last one that had it.
    Name(&'a [&'a str], &'a str),
}

impl Target<'_> {
    fn shown(&self) -> String {
        match self {
            Target::Key(key) => key.to_string(),
            Target::Name(_, display) => printable(display, 128),
        }
    }
}

/// The history of the object of kind `R` that `target` names, newest first, at most `limit` versions.
pub(crate) async fn history<R: Record>(
    tx: &mut Tx,
    target: Target<'_>,
    limit: Option<i64>,
) -> Result<Vec<VersionView>> {
    let limit = match limit {
        None => HISTORY_PAGE,
        Some(n) if (1..=HISTORY_MAX).contains(&n) => n,
        Some(n) => return Err(ControlError::invalid(format!("a history limit is 1 to {HISTORY_MAX}, not {n}"))),
    };
    let id = object_id::<R>(tx, target).await?;
    let mut entries = tx.history(R::KIND, &id, limit + 1).await?;
    let base = if entries.len() as i64 > limit { entries.pop() } else { None };
    Ok(views(&entries, base.as_ref()))
}

/// The id of the object `target` names: an error when no object of kind `R` has (or had) it.
async fn object_id<R: Record>(tx: &mut Tx, target: Target<'_>) -> Result<String> {
    let found = match target {
        // By id: the object that exists, or one the history still holds something of (a version or its drop).
        Target::Key(crate::ObjectKey::Id(uuid)) => {
            let id = uuid.hyphenated().to_string();
            let exists = tx.find::<R>(<R::Id as lanyard_catalog::RecordId>::from_uuid(*uuid)).await?.is_some();
            (exists || !tx.history(R::KIND, &id, 1).await?.is_empty()).then_some(id)
        }
        Target::Key(crate::ObjectKey::Name(name)) => tx.history_object::<R>(&[name], name).await?,
        Target::Name(name, display) => tx.history_object::<R>(name, display).await?,
    };
    found.ok_or_else(|| {
        ControlError::new(
            ErrorKind::NotFound,
            format!("{} {:?} does not exist and has no history", R::KIND, target.shown()),
        )
    })
}

/// The object of kind `R` that `target` names as it was at `point`, with the entry that holds it: an error naming
/// what the history keeps when it has no such version, or when the object had been dropped by then.
pub(crate) async fn as_of<R: Record>(tx: &mut Tx, target: Target<'_>, point: PointInTime) -> Result<(HistoryEntry, R)> {
    let id = object_id::<R>(tx, target).await?;
    let kind = R::KIND;
    let shown = target.shown();
    let entry = match point {
        PointInTime::Version(version) => tx.history_version(kind, &id, version).await?,
        PointInTime::At(at) => tx.history_at(kind, &id, at).await?,
    };
    let Some(entry) = entry else {
        let kept = match tx.history_span(kind, &id).await? {
            Some((first, last)) => format!("its history keeps versions {first} to {last}"),
            None => "its history keeps no version".to_owned(),
        };
        let what = match point {
            PointInTime::Version(version) => format!("version {version}"),
            PointInTime::At(at) => format!("version at {at}"),
        };
        // Invalid, not NotFound: the object exists (or did), the point does not (and `DESCRIBE IF EXISTS … AT` must
        // not read this as a missing object).
        return Err(ControlError::invalid(format!("{kind} {shown:?} has no {what}: {kept}")));
    };
    match entry.record::<R>()? {
        Some(row) => Ok((entry, row)),
        None => Err(ControlError::invalid(format!("{kind} {shown:?} had been dropped by then (at {})", entry.at))),
    }
}

/// Version `version` of object `id` of kind `R`, for ROLLBACK TO VERSION: an error naming what the history keeps when
/// it no longer has it.
pub(crate) async fn version_of<R: Record>(
    tx: &mut Tx,
    id: &str,
    display: &str,
    version: i64,
) -> Result<(HistoryEntry, R)> {
    let kind: ObjectKind = R::KIND;
    let shown = printable(display, 128);
    let found = match tx.history_version(kind, id, version).await? {
        Some(entry) => entry.record::<R>()?.map(|row| (entry, row)),
        None => None,
    };
    found.ok_or_else(|| {
        ControlError::invalid(format!(
            "cannot roll {kind} {shown:?} back to version {version}: the history does not keep it"
        ))
    })
}

impl crate::ControlPlane {
    /// Prunes the history as `retention` says (the server's periodic task; every node may run it: pruning what is
    /// already pruned changes nothing). Returns how many versions were deleted.
    pub async fn prune_history(&self, retention: lanyard_catalog::Retention) -> Result<u64> {
        let now = Timestamp::now();
        Ok(lanyard_catalog::transaction!(self.catalog(), |tx| -> lanyard_catalog::Result<_> {
            tx.prune_history(retention, now).await
        })?)
    }
}

/// Parses the instant of `AT '…'` / `?at=`.
pub fn parse_instant(text: &str) -> Result<Timestamp> {
    Timestamp::parse(text).map_err(|e| {
        ControlError::invalid(format!(
            "{:?} is not an instant ({e}); write an RFC 3339 time such as 2026-12-01T10:00:00Z",
            printable(text, 64)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pairs: Value) -> lanyard_catalog::JsonObject {
        pairs.as_object().unwrap().clone()
    }

    #[test]
    fn a_diff_names_each_changed_field_with_references_by_name_and_options_by_key() {
        let v1 = state(serde_json::json!({
            "id": "x", "version": 1, "display_name": "c", "description": "old", "credential_id": "e1",
            "credential_name": "login", "options": "{\"host\":\"a\",\"port\":\"5432\"}", "max_connections": null,
        }));
        let v2 = state(serde_json::json!({
            "id": "x", "version": 2, "display_name": "c", "description": null, "credential_id": "e2",
            "credential_name": "login2", "options": "{\"host\":\"b\",\"sslmode\":\"require\"}", "max_connections": 4,
        }));
        let changes = diff(Some(&v1), Some(&v2));
        let shown: Vec<(&str, Option<&Value>, Option<&Value>)> =
            changes.iter().map(|c| (c.field.as_str(), c.before.as_ref(), c.after.as_ref())).collect();
        let (a, b, login, login2) = ("a".into(), "b".into(), "login".into(), "login2".into());
        let (require, four, old, port) = ("require".into(), 4.into(), "old".into(), "5432".into());
        assert_eq!(
            shown,
            [
                ("options.host", Some(&a), Some(&b)),
                ("options.sslmode", None, Some(&require)),
                ("credential", Some(&login), Some(&login2)),
                ("max_connections", None, Some(&four)),
                ("description", Some(&old), None),
                ("options.port", Some(&port), None),
            ]
        );
        assert!(diff(Some(&v2), Some(&v2)).is_empty(), "an unchanged version has no diff");
        assert_eq!(diff(None, Some(&v1)).len(), 5, "the first version shows every field");
        assert!(diff(Some(&v1), None).is_empty(), "a drop shows none");
    }

    #[test]
    fn a_secret_looking_key_never_shows_its_value() {
        let v = state(serde_json::json!({ "config": "{\"password\":\"hunter2\",\"region\":\"eu\"}" }));
        let shown = diff(None, Some(&v));
        assert_eq!(shown[0].after, Some("***".into()));
        assert_eq!(shown[1].after, Some("eu".into()));
    }
}
