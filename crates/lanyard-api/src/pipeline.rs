//! Pipelines (the SingleStore dialect, with Lanyard's target extension): the view, CREATE PIPELINE's body and the
//! files view. Pipelines are database-scoped: their routes live under `/databases/{db}/pipelines`.

use lanyard_core::{FileState, LoadFormat, PipelineState};
use serde::{Deserialize, Serialize};

use crate::Ref;

/// A pipeline, as the server shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pipeline {
    /// Immutable id.
    pub id: String,
    /// The database it lives in.
    pub database: String,
    /// Its name, unique within the database.
    pub name: String,
    /// The link it reads through (`name` is `db.link`).
    pub link: Ref,
    /// `'<bucket>/<prefix>'` within the link's object store.
    pub path: String,
    /// The connection the target table is reached through.
    pub connection: Ref,
    /// The target table (`table` or `schema.table`).
    pub table: String,
    /// How files become rows.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub format: LoadFormat,
    /// `Running`, `Stopped` or `Error`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::pipeline_state))]
    pub state: PipelineState,
    /// The last object key loaded.
    pub cursor: Option<String>,
    /// The last failure the runner kept (a file that did not fit, a source or target that failed).
    pub last_error: Option<String>,
    /// When `last_error` happened (ISO 8601).
    pub last_error_at: Option<String>,
    /// Files per state, and rows loaded.
    pub files: FileCounts,
    /// The node running it now (its lease holder), when it is running.
    pub running_on: Option<String>,
    /// Created (ISO 8601).
    pub created_at: String,
    /// Last changed (ISO 8601).
    pub updated_at: String,
    /// Row version; also the `ETag`.
    pub version: i64,
}

/// How many of a pipeline's files are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileCounts {
    /// Loaded.
    pub loaded: i64,
    /// Seen, not loaded yet.
    pub unloaded: i64,
    /// A row did not fit.
    pub failed: i64,
    /// Rows loaded, over all loaded files.
    pub rows: i64,
}

/// `POST /databases/{db}/pipelines` (CREATE PIPELINE [IF NOT EXISTS]). The pipeline starts Stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePipeline {
    /// Name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// The link: `link` (in the pipeline's database) or `db.link`.
    pub link: String,
    /// `'<bucket>/<prefix>'` within the link's object store.
    pub path: String,
    /// The connection (postgresql or mysql) the target table is reached through.
    pub connection: String,
    /// The target table: `table` or `schema.table`.
    pub table: String,
    /// How files become rows (default CSV with a header row).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::LoadFormat))]
    pub format: LoadFormat,
    /// Return an existing pipeline unchanged (200) instead of 409.
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub if_not_exists: bool,
}

/// One file of a pipeline (`GET /databases/{db}/pipelines/{name}/files`, SHOW FILES FOR PIPELINE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelineFile {
    /// The object's key in its bucket or container.
    pub key: String,
    /// `Unloaded`, `Loaded` or `Failed`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::file_state))]
    pub state: FileState,
    /// Rows loaded (Loaded only).
    pub rows: Option<i64>,
    /// Its size in bytes.
    pub size: i64,
    /// Its ETag when last seen.
    pub etag: Option<String>,
    /// Why it failed: the file, line and column of the row that did not fit.
    pub error: Option<String>,
    /// When its state last changed (ISO 8601).
    pub updated_at: String,
}
