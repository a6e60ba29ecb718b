//! Object history: `GET …/history` (the versions of a connection, vault entry, credential storage or link, newest
//! first, each with a redacted diff against the one before) and `GET …/as-of` (the object as it was at a version or
//! an instant, in the shape of its usual view).

use serde::{Deserialize, Serialize};

/// `?limit=` of `GET …/history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// At most this many versions, the newest (1..=1000, default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<i64>,
}

/// `?version=` or `?at=` of `GET …/as-of`: exactly one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// The version (1 or more).
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub version: Option<i64>,
    /// An instant (RFC 3339: `2026-12-01T10:00:00Z`): the version current then.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::schema::instant))]
    pub at: Option<String>,
}

/// One version of an object, or its drop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    /// The object's version after the change; `null` for its drop.
    pub version: Option<i64>,
    /// The object's name after the change (`db.name` for a link).
    pub name: String,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub principal: String,
    /// The change (`connection.create`, `connection.alter`, `connection.drop`, …).
    pub action: String,
    /// The statement's actions, as the audit log keeps them (redacted), when the change was an ALTER.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Value>))]
    pub actions: Option<serde_json::Value>,
    /// What changed from the version before (the one before it in this history), field by field; every field for
    /// the oldest version the history keeps; empty for a drop. References are shown by name; no secret material.
    pub changes: Vec<FieldChange>,
}

/// One field that changed between two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldChange {
    /// The field (`description`, `credential`, `options.host`, …).
    pub field: String,
    /// Its value before; absent when it had none.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Value>))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// Its value after; absent when it has none.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Value>))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}
