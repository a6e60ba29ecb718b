//! The audit log, the list filters and `/healthz`.

use lanyard_core::AuditOutcome;
use serde::{Deserialize, Serialize};

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Position in the log.
    pub seq: i64,
    /// When (ISO 8601).
    pub at: String,
    /// Who.
    pub principal: String,
    /// What (`connection.alter`, …; a denial names the operation of the refused route).
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::audit_action))]
    pub action: String,
    /// Which kind of object.
    pub object_kind: String,
    /// Which object, by id.
    pub object_id: Option<String>,
    /// Which object, by name.
    pub object_name: Option<String>,
    /// `allowed`, `denied` or `failed`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::audit_outcome))]
    pub outcome: AuditOutcome,
    /// The redacted change.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

/// `?since=&from=&object=&kind=&limit=&newest=` of `GET /audit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only records after this sequence number.
    pub since: Option<i64>,
    /// Only records about this object (id or name).
    pub object: Option<String>,
    /// At most this many (1..=1000, default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<i64>,
    /// Only records at or after this time (ISO 8601: `2027-01-31`, `2027-01-31T12:00:00Z`).
    #[cfg_attr(feature = "openapi", param(schema_with = crate::schema::instant))]
    pub from: Option<String>,
    /// Only records about this kind of object, as records spell it (`connection`, `vault entry`, `credential storage`,
    /// `link`, `pipeline`, `database`, `principal`, `token`; `_` may stand for the space).
    #[cfg_attr(feature = "openapi", param(schema_with = crate::schema::object_kind))]
    pub kind: Option<String>,
    /// `true`: the newest `limit` matching records instead of the oldest (still returned oldest first).
    pub newest: Option<bool>,
}

/// `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`.
    pub status: String,
}
