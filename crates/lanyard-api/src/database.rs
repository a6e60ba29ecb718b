//! Databases, the namespaces links and pipelines live in: the view, and CREATE DATABASE's body. `default` always
//! exists; SHOW DATABASES lists them, DROP DATABASE is `DELETE /databases/{db}`.

use serde::{Deserialize, Serialize};

/// A database, as the server shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Database {
    /// Immutable id (`default`'s is `00000000-0000-0000-0000-000000000002`).
    pub id: String,
    /// Its name, unique.
    pub name: String,
    /// Created (ISO 8601; the seeded `default`: the Unix epoch).
    pub created_at: String,
    /// Row version; also the `ETag`.
    pub version: i64,
}

/// `POST /databases` (CREATE DATABASE [IF NOT EXISTS]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateDatabase {
    /// Name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// Return an existing database unchanged (200) instead of 409.
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub if_not_exists: bool,
}
