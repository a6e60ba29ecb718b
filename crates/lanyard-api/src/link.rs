//! Links (the SingleStore dialect): the view, CREATE [OR REPLACE], ALTER and its actions, SHOW CREATE LINK and the
//! result of TEST LINK. Links are database-scoped: their routes live under `/databases/{db}/links`.

use lanyard_core::LinkType;
use serde::{Deserialize, Serialize};

use crate::{OrderedMap, Ref, Secret, SecretJson};

/// Where a link's CREDENTIALS live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum LinkCredentials {
    /// In a vault entry the link owns (written with `CREDENTIALS '{…}'`, deleted with the link, hidden from SHOW
    /// VAULTS).
    Link,
    /// In an existing vault entry (`CREDENTIALS FROM VAULT <entry>`), shared and left alone by DROP LINK.
    VaultEntry {
        /// The entry.
        entry: Ref,
    },
}

/// A link, as the server shows it: never its credentials, only where they live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Link {
    /// Immutable id (kept by ALTER and CREATE OR REPLACE).
    pub id: String,
    /// The database it lives in.
    pub database: String,
    /// Its name, unique within the database.
    pub name: String,
    /// `S3`, `AZURE`, `GCS`, `HDFS`, `HTTP`, `KAFKA`, `MONGODB` or `MYSQL`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::link_type))]
    pub link_type: LinkType,
    /// Free text.
    pub description: Option<String>,
    /// CONFIG, in stored order (it holds no secrets).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: OrderedMap,
    /// Where CREDENTIALS live; `null` when the link has none.
    pub credentials: Option<LinkCredentials>,
    /// Created (ISO 8601).
    pub created_at: String,
    /// Last changed (ISO 8601).
    pub updated_at: String,
    /// Row version; also the `ETag`.
    pub version: i64,
}

/// `POST /databases/{db}/links` (CREATE [OR REPLACE] LINK [IF NOT EXISTS]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    /// Name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// Link type (case-insensitive).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::link_type))]
    pub link_type: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// CONFIG: a JSON object without secrets.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Config))]
    pub config: OrderedMap,
    /// CREDENTIALS: a JSON object, stored in a vault entry the link owns. Not together with `credentials_entry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Credentials>))]
    pub credentials: Option<SecretJson>,
    /// CREDENTIALS FROM VAULT: the name of an existing vault entry whose material is the credentials JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_entry: Option<String>,
    /// Replace an existing link of that name in place (its id and dependents kept; the type must not change).
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub or_replace: bool,
    /// Return an existing link unchanged (200) instead of 409.
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub if_not_exists: bool,
}

/// `{"key": …, "value": …}` for a CONFIG key (any JSON value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigKeyValue {
    /// The top-level key.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::ConfigKey))]
    pub key: String,
    /// The value.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub value: serde_json::Value,
}

/// `{"key": …, "value": …}` for a CREDENTIALS key (the value is secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SecretKeyValue {
    /// The top-level key.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::ConfigKey))]
    pub key: String,
    /// The value.
    pub value: Secret,
}

/// One ALTER LINK action: an object with exactly one key. At most one CONFIG and one CREDENTIALS action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LinkAction {
    /// SET CONFIG '{…}': replace the whole CONFIG (`{}` clears it).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Config))]
    SetConfigJson(OrderedMap),
    /// SET CONFIG ::key = value: add or update one top-level key.
    SetConfigKey(ConfigKeyValue),
    /// SET CREDENTIALS '{…}': replace the whole CREDENTIALS (stored in a vault entry the link owns).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Credentials))]
    SetCredentialsJson(SecretJson),
    /// SET CREDENTIALS ::key = 'value': add or update one top-level credential key.
    SetCredentialsKey(SecretKeyValue),
    /// SET CREDENTIALS FROM VAULT <entry>: take the credentials from an existing vault entry.
    SetCredentialsEntry(String),
}

/// `PUT /databases/{db}/links/{name}` (ALTER LINK).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlterLink {
    /// One or two actions, applied together, all or nothing.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 2))]
    pub actions: Vec<LinkAction>,
}

/// `GET /databases/{db}/links/{name}/create` (SHOW CREATE LINK): the columns of the SingleStore result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkDefinition {
    /// `Link Name`.
    pub link_name: String,
    /// `Create Link`: the statement, CONFIG as an escaped JSON string, `CREDENTIALS <CREDENTIALS REDACTED>`.
    pub create_link: String,
    /// The link's version (also the `ETag`).
    pub version: i64,
}

/// The answer to TEST LINK: a failed probe is a result, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkTestResult {
    /// `PASSED`, `FAILED` or `UNSUPPORTED` (the type has no probe in the server's build: nothing was checked).
    pub result: String,
    /// Milliseconds, resolve included.
    pub latency_ms: i64,
    /// The remote server's version.
    pub server_version: Option<String>,
    /// Why it failed, or why it could not be checked.
    pub error: Option<String>,
}

impl LinkTestResult {
    /// Whether the probe passed.
    pub fn passed(&self) -> bool {
        self.result == crate::PASSED
    }
}
