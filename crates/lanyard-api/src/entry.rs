//! Vault entries: the view, CREATE and ALTER with its actions.

use lanyard_core::EntryType;
use serde::{Deserialize, Serialize};

use crate::{Ref, Secret, Warning};

/// A vault entry (never its material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    /// Immutable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `ENCRYPTION_KEY` or `CREDENTIAL`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::entry_type))]
    pub entry_type: EntryType,
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
    /// Row version; also the `ETag`.
    pub version: i64,
    /// On the answer of CREATE and ALTER only, when EXPIRES is in the past or within 14 days; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// `POST /vault/entries` (CREATE VAULT / CREDENTIAL). At most one of `secret`, `generate` and
/// `linked_external_secret`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateEntry {
    /// Name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// `ENCRYPTION_KEY` or `CREDENTIAL` (checked by the server, case-insensitively).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::entry_type))]
    pub entry_type: String,
    /// Metadata.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Metadata, bits; the size of GENERATE.
    #[serde(default, deserialize_with = "crate::whole")]
    #[cfg_attr(feature = "openapi", schema(minimum = 64, maximum = 8192, multiple_of = 8))]
    pub key_size: Option<i64>,
    /// SECRET '…'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// GENERATE.
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub generate: bool,
    /// LINKED EXTERNAL SECRET '…'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// One ALTER VAULT / CREDENTIAL action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EntryAction {
    /// New generated material (`null`; ENCRYPTION_KEY only).
    #[serde(serialize_with = "crate::null")]
    Rotate,
    /// Replace the material (CREDENTIAL only).
    SetSecret(Secret),
    /// Set or clear the description.
    SetDescription(Option<String>),
    /// Set or clear the expiry (ISO 8601).
    SetExpires(Option<String>),
    /// Rename.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    RenameTo(String),
}

/// `PUT /vault/entries/{id}` (ALTER VAULT / CREDENTIAL).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlterEntry {
    /// The actions, in order, all or nothing.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub actions: Vec<EntryAction>,
}
