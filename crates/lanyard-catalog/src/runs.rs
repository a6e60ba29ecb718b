//! The pipeline runner's bookkeeping: the state of each file seen under a pipeline's path (`pipeline_files`), the
//! lease that makes one node at a time run a pipeline (`pipeline_leases`), and its progress on the pipeline's row
//! (cursor, last error), written without a version change. These are not [`crate::Record`]s: they
//! carry no version of their own and go with their pipeline (`ON DELETE CASCADE`). Their truth for "was this file
//! loaded" is the target database's ledger; these rows are what the runner reconciles from it and what users see.

use lanyard_core::{FileState, ObjectKind, PipelineId, PipelineState};

use crate::db::Param;
use crate::error::{CatalogError, Result};
use crate::model::parse_vocab;
use crate::store::{Listed, Page, Tx};
use crate::time::Timestamp;

/// A row of `pipeline_files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineFile {
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// The object's key in its bucket or container.
    pub key: String,
    /// The object's ETag (or version) when it was last seen or loaded.
    pub etag: Option<String>,
    /// Its size in bytes.
    pub size: i64,
    /// Unloaded, Loaded or Failed.
    pub state: FileState,
    /// Rows loaded (Loaded only).
    pub rows: Option<i64>,
    /// Why it failed (Failed only): the line and column of the row that did not fit.
    pub error: Option<String>,
    /// When this row last changed.
    pub updated_at: Timestamp,
}

/// Who holds a pipeline's lease, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The node id of the holder.
    pub holder: String,
    /// When it lapses unless renewed.
    pub expires_at: Timestamp,
}

fn pid(id: PipelineId) -> Param {
    Param::Text(id.as_uuid().hyphenated().to_string())
}

impl Tx {
    /// The files of `pipeline`, in key order.
    pub async fn pipeline_files(&mut self, pipeline: PipelineId) -> Result<Vec<PipelineFile>> {
        Ok(self.pipeline_files_page(pipeline, &Page::default()).await?.rows)
    }

    /// One page of [`Tx::pipeline_files`]: the files after the key `page.after` (one part: the object key), in
    /// code-point order of their keys.
    pub async fn pipeline_files_page(&mut self, pipeline: PipelineId, page: &Page) -> Result<Listed<PipelineFile>> {
        let key = self.conn.in_name_order("object_key");
        let mut params = vec![pid(pipeline)];
        let mut after = String::new();
        if let Some(start) = &page.after {
            let [start] = start.as_slice() else {
                return Err(CatalogError::InvalidCursor {
                    kind: ObjectKind::Pipeline,
                    problem: format!("it holds {} parts, a file's key is one", start.len()),
                });
            };
            params.push(Param::Text(start.clone()));
            after = format!(" AND {key} > $2");
        }
        let sql = format!(
            "SELECT object_key, etag, size, state, row_count, error, updated_at FROM pipeline_files \
             WHERE pipeline_id = $1{after} ORDER BY {key}{}",
            page.sql_limit()
        );
        let rows = self.conn.fetch_all(&sql, params).await?;
        let files = rows
            .iter()
            .map(|row| {
                Ok(PipelineFile {
                    pipeline_id: pipeline,
                    key: row.text("object_key")?,
                    etag: row.opt_text("etag")?,
                    size: row.int("size")?,
                    state: parse_vocab("pipeline_files", "state", &row.text("state")?)?,
                    rows: row.opt_int("row_count")?,
                    error: row.opt_text("error")?,
                    updated_at: Timestamp::from_micros(row.int("updated_at")?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        page.cut(files, |file| Ok(vec![file.key.clone()]))
    }

    /// Writes `file` (inserted, or replacing the row of the same pipeline and key).
    pub async fn put_pipeline_file(&mut self, file: &PipelineFile) -> Result<()> {
        let sql = "INSERT INTO pipeline_files (pipeline_id, object_key, etag, size, state, row_count, error, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                   ON CONFLICT (pipeline_id, object_key) DO UPDATE SET etag = excluded.etag, size = excluded.size, \
                   state = excluded.state, row_count = excluded.row_count, error = excluded.error, \
                   updated_at = excluded.updated_at";
        let params = vec![
            pid(file.pipeline_id),
            Param::Text(file.key.clone()),
            Param::OptText(file.etag.clone()),
            Param::Int(file.size),
            Param::Text(file.state.as_str().to_owned()),
            Param::OptInt(file.rows),
            Param::OptText(file.error.clone()),
            Param::Int(file.updated_at.as_micros()),
        ];
        self.conn.execute(sql, params).await.map(|_| ())
    }

    /// Records the runner's progress on a pipeline — the last key loaded (only ever moved forward) and, if given, the
    /// last error — without changing its version: progress is not a change anyone made, and a client holding the
    /// pipeline's ETag must not go stale because a file loaded. Returns the pipeline's state, or `None` when it is
    /// gone.
    pub async fn record_pipeline_progress(
        &mut self,
        pipeline: PipelineId,
        loaded: Option<&str>,
        error: Option<(Timestamp, &str)>,
    ) -> Result<Option<PipelineState>> {
        let sql = "SELECT state, cursor FROM pipelines WHERE id = $1";
        let Some(row) = self.conn.fetch_optional(sql, vec![pid(pipeline)]).await? else { return Ok(None) };
        let state: PipelineState = parse_vocab("pipelines", "state", &row.text("state")?)?;
        let cursor = row.opt_text("cursor")?;
        if let Some(key) = loaded.filter(|key| cursor.as_deref() < Some(*key)) {
            let sql = "UPDATE pipelines SET cursor = $2 WHERE id = $1";
            self.conn.execute(sql, vec![pid(pipeline), Param::Text(key.to_owned())]).await?;
        }
        if let Some((at, error)) = error {
            let sql = "UPDATE pipelines SET last_error = $2, last_error_at = $3 WHERE id = $1";
            let params = vec![pid(pipeline), Param::Text(error.to_owned()), Param::Int(at.as_micros())];
            self.conn.execute(sql, params).await?;
        }
        Ok(Some(state))
    }

    /// Per state, how many files `pipeline` has and how many rows its loaded files held.
    pub async fn pipeline_file_counts(&mut self, pipeline: PipelineId) -> Result<FileCounts> {
        let sql = "SELECT state, COUNT(*) AS n, CAST(COALESCE(SUM(row_count), 0) AS BIGINT) AS row_total FROM pipeline_files \
                   WHERE pipeline_id = $1 GROUP BY state";
        let mut counts = FileCounts::default();
        for row in self.conn.fetch_all(sql, vec![pid(pipeline)]).await? {
            let n = row.int("n")?;
            match parse_vocab::<FileState>("pipeline_files", "state", &row.text("state")?)? {
                FileState::Loaded => {
                    counts.loaded = n;
                    counts.rows = row.int("row_total")?;
                }
                FileState::Unloaded => counts.unloaded = n,
                FileState::Failed => counts.failed = n,
            }
        }
        Ok(counts)
    }

    /// Takes or renews the lease of `pipeline` for `holder` until `expires_at`, if it is free, lapsed (before
    /// `now`) or already `holder`'s. Returns whether `holder` holds it now.
    pub async fn acquire_pipeline_lease(
        &mut self,
        pipeline: PipelineId,
        holder: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool> {
        let sql = "INSERT INTO pipeline_leases (pipeline_id, holder, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (pipeline_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                   WHERE pipeline_leases.holder = excluded.holder OR pipeline_leases.expires_at < $4";
        let params = vec![
            pid(pipeline),
            Param::Text(holder.to_owned()),
            Param::Int(expires_at.as_micros()),
            Param::Int(now.as_micros()),
        ];
        Ok(self.conn.execute(sql, params).await? == 1)
    }

    /// Gives up `holder`'s lease of `pipeline` (nothing happens if another node holds it).
    pub async fn release_pipeline_lease(&mut self, pipeline: PipelineId, holder: &str) -> Result<()> {
        let sql = "DELETE FROM pipeline_leases WHERE pipeline_id = $1 AND holder = $2";
        self.conn.execute(sql, vec![pid(pipeline), Param::Text(holder.to_owned())]).await.map(|_| ())
    }

    /// The lease of `pipeline`, if any (also a lapsed one).
    pub async fn pipeline_lease(&mut self, pipeline: PipelineId) -> Result<Option<Lease>> {
        let sql = "SELECT holder, expires_at FROM pipeline_leases WHERE pipeline_id = $1";
        match self.conn.fetch_optional(sql, vec![pid(pipeline)]).await? {
            Some(row) => Ok(Some(Lease {
                holder: row.text("holder")?,
                expires_at: Timestamp::from_micros(row.int("expires_at")?),
            })),
            None => Ok(None),
        }
    }
}

/// How many files of a pipeline are in each state, and the rows of the loaded ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Files loaded.
    pub loaded: i64,
    /// Files seen and not loaded yet.
    pub unloaded: i64,
    /// Files that did not fit.
    pub failed: i64,
    /// Rows loaded, over all loaded files.
    pub rows: i64,
}
