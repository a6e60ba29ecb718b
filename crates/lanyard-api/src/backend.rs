//! Credential storages (vault backends): the view, CREATE and ALTER with its actions, and TEST.

use std::collections::BTreeMap;

use lanyard_core::TestStatus;
use serde::{Deserialize, Serialize};

use crate::SecretOptions;

/// A credential storage; secret options show as `***`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Backend {
    /// Immutable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Plugin kind (`local`, `memory`, `aws`, …).
    #[serde(rename = "type")]
    pub backend_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Options, sorted by key; secret ones appear as `***`.
    pub options: BTreeMap<String, String>,
    /// Whether new entries may use it (ACTIVE / INACTIVE).
    pub active: bool,
    /// The seeded `local` storage.
    pub builtin: bool,
    /// Created (ISO 8601).
    pub created_at: String,
    /// Last changed (ISO 8601).
    pub updated_at: String,
    /// Row version; also the `ETag`.
    pub version: i64,
}

/// `POST /vault/backends` (CREATE CREDENTIAL STORAGE). Options may hold auth secrets (the server strips them into
/// the local vault), so every value is held as a secret; `Debug` shows no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateBackend {
    /// Name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// Plugin kind (`memory`, `aws`, …).
    #[serde(rename = "type")]
    pub backend_type: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Options, secret ones included, in written order.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Options))]
    pub options: SecretOptions,
    /// ACTIVE (default) or INACTIVE.
    #[serde(default = "crate::yes")]
    pub active: bool,
    /// Return an existing storage unchanged (200) instead of 409.
    #[serde(default)]
    pub if_not_exists: bool,
}

/// One ALTER CREDENTIAL STORAGE action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BackendAction {
    /// Replace every option, secret ones included.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Options))]
    SetOptions(SecretOptions),
    /// Set or clear the description.
    SetDescription(Option<String>),
    /// ACTIVE (true) or INACTIVE (false).
    SetActive(bool),
    /// Rename.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    RenameTo(String),
}

/// `PUT /vault/backends/{id}` (ALTER CREDENTIAL STORAGE).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlterBackend {
    /// The actions, in order, all or nothing.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub actions: Vec<BackendAction>,
}

/// One step of TEST CREDENTIAL STORAGE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProbeStep {
    /// What was done.
    pub step: String,
    /// `ok` or `failed`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::test_status))]
    pub status: TestStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// Microseconds.
    pub micros: u64,
}

/// The answer to TEST CREDENTIAL STORAGE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageTest {
    /// `PASSED` or `FAILED`.
    pub result: String,
    /// The trace, in order.
    pub steps: Vec<ProbeStep>,
}

impl StorageTest {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        self.result == crate::PASSED
    }
}
