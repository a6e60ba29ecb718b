//! CREATE / START / STOP / DROP PIPELINE, SHOW PIPELINES and SHOW FILES FOR PIPELINE: the SingleStore dialect, with
//! Lanyard's target (`INTO TABLE t ON CONNECTION c`).
//!
//! The Control Plane only records what the user wants: a pipeline is created Stopped; START sets it Running, STOP
//! sets it Stopped. The runner (`lanyard-pipelines`, in `lanyard serve`) does the loading: it runs the pipelines whose
//! state is Running, one node at a time per pipeline (a lease in the catalog), and writes their progress (cursor,
//! file states and last error, without changing the pipeline's version; and the state Error after repeated failures,
//! which does). Nothing here waits for the runner: START and STOP return at once and wake this node's runner
//! ([`ControlPlane::pipeline_changes`]; other nodes' runners see the change within their next tick); on STOP the
//! runner stops before its next file, a file being loaded either committing with its ledger row or rolling back.
//!
//! A pipeline refers to its link and its target connection by id, so RENAME CONNECTION and ALTER / CREATE OR REPLACE
//! LINK leave it, its cursor and its files untouched; DROP LINK and DROP CONNECTION are refused while a pipeline
//! uses them. ALTER LINK is refused while a pipeline using the link is Running (`links.rs`).

use lanyard_catalog::{Connection, Link, Listed, Meta, Page, Pipeline, Record as _, Timestamp, Tx, transaction};
use lanyard_core::{AuditAction, ConnectionType, ErrorKind, Name, ObjectKind, PipelineState, TableRef, printable};

use crate::error::{ControlError, Result};
use crate::links::qualified;
use crate::model::{Created, NamedRef, NewPipeline, PipelineFileView, PipelineView};
use crate::{Caller, ControlPlane, Permission, audit, detail, snapshot, valid_name};

fn pipeline_not_found(database: &str, name: &str) -> ControlError {
    ControlError::new(ErrorKind::NotFound, format!("pipeline {:?} does not exist", qualified(database, name)))
}

async fn find_pipeline(tx: &mut Tx, database: &Name, name: &str) -> Result<Pipeline> {
    match tx.find_by_name::<Pipeline>(&[database.as_str(), name]).await? {
        Some(pipeline) => Ok(pipeline),
        None => {
            crate::links::check_database(tx, database).await?;
            Err(pipeline_not_found(database.as_str(), name))
        }
    }
}

/// The link a CREATE PIPELINE names: `link` in the pipeline's database or `db.link`.
async fn find_source_link(tx: &mut Tx, database: &Name, link: &str) -> Result<Link> {
    let (db, name) = match link.split_once('.') {
        Some((db, name)) => (valid_name(ObjectKind::Database, db)?, name),
        None => (database.clone(), link),
    };
    crate::links::find_link(tx, &db, name).await
}

/// The view of a pipeline: its row with the current names of its link and connection, its file counts and who runs
/// it.
async fn view(tx: &mut Tx, row: Pipeline) -> Result<PipelineView> {
    let link: Link = tx.get(row.link_id).await?;
    let connection: Connection = tx.get(row.target_connection_id).await?;
    let files = tx.pipeline_file_counts(row.meta.id).await?;
    let running_on = match (row.state, tx.pipeline_lease(row.meta.id).await?) {
        (PipelineState::Running, Some(lease)) if lease.expires_at > Timestamp::now() => Some(lease.holder),
        _ => None,
    };
    Ok(PipelineView {
        link: NamedRef { id: link.meta.id, name: link.display() },
        connection: NamedRef { id: connection.meta.id, name: connection.name.to_string() },
        files,
        running_on,
        row,
    })
}

/// The link can feed a pipeline (S3, AZURE, GCS in a build with object stores) and `path` is a valid path of its
/// store (`'<bucket or container>/<prefix>'`), checked without I/O by the connectors that will read it.
fn check_source(link: &Link, path: &str) -> Result<()> {
    if path.chars().any(char::is_control) || path.len() > 1024 {
        return Err(ControlError::invalid("the pipeline path must be at most 1024 bytes without control characters"));
    }
    lanyard_connectors::parse_pipeline_path(link.link_type, path).map(drop).map_err(|reason| {
        if lanyard_connectors::pipeline_source_supported(link.link_type).is_err() {
            ControlError::invalid(format!(
                "{reason}: link {:?} cannot feed a pipeline (S3, AZURE and GCS links can)",
                link.display()
            ))
        } else {
            ControlError::invalid(reason)
        }
    })
}

/// Connection types a pipeline loads into.
fn check_target(connection: &Connection) -> Result<()> {
    match connection.connection_type {
        ConnectionType::Postgresql | ConnectionType::Mysql => Ok(()),
        other => Err(ControlError::invalid(format!(
            "connection {:?} is a {other} connection; a pipeline loads into a table of a postgresql or mysql \
             connection",
            connection.name.as_str()
        ))),
    }
}

impl ControlPlane {
    /// SHOW PIPELINES [ON db]: the pipelines of one database, by name.
    pub async fn list_pipelines(&self, caller: &Caller, database: &str) -> Result<Vec<PipelineView>> {
        Ok(self.list_pipelines_page(caller, database, &Page::default()).await?.rows)
    }

    /// One page of [`ControlPlane::list_pipelines`].
    pub async fn list_pipelines_page(
        &self,
        caller: &Caller,
        database: &str,
        page: &Page,
    ) -> Result<Listed<PipelineView>> {
        self.authorize(caller, Permission::PipelinesRead, AuditAction::PipelineList, Some(database)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        snapshot!(self, |tx| {
            crate::links::check_database(tx, &database).await?;
            let Listed { rows, next } = tx.list_page::<Pipeline>(None, Some(database.as_str()), page).await?;
            let mut views = Vec::with_capacity(rows.len());
            for row in rows {
                views.push(view(tx, row).await?);
            }
            Ok(Listed { rows: views, next })
        })
    }

    /// The pipeline `database.name`.
    pub async fn get_pipeline(&self, caller: &Caller, database: &str, name: &str) -> Result<PipelineView> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::PipelinesRead, AuditAction::PipelineGet, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        snapshot!(self, |tx| {
            let row = find_pipeline(tx, &database, name).await?;
            view(tx, row).await
        })
    }

    /// SHOW FILES FOR PIPELINE: every file seen under the pipeline's path, in key order, with its state.
    pub async fn list_pipeline_files(
        &self,
        caller: &Caller,
        database: &str,
        name: &str,
    ) -> Result<Vec<PipelineFileView>> {
        Ok(self.list_pipeline_files_page(caller, database, name, &Page::default()).await?.rows)
    }

    /// One page of [`ControlPlane::list_pipeline_files`].
    pub async fn list_pipeline_files_page(
        &self,
        caller: &Caller,
        database: &str,
        name: &str,
        page: &Page,
    ) -> Result<Listed<PipelineFileView>> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::PipelinesRead, AuditAction::PipelineGet, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        snapshot!(self, |tx| {
            let row = find_pipeline(tx, &database, name).await?;
            Ok(tx.pipeline_files_page(row.meta.id, page).await?)
        })
    }

    /// CREATE PIPELINE [IF NOT EXISTS]: checks the link (an object-store type), the target connection (postgresql or
    /// mysql), the path, the table and the format; the pipeline starts Stopped. `created` is false when IF NOT
    /// EXISTS found it (unchanged).
    pub async fn create_pipeline(&self, caller: &Caller, request: NewPipeline) -> Result<Created<PipelineView>> {
        let object = qualified(&request.database, &request.name);
        self.authorize(caller, Permission::PipelinesWrite, AuditAction::PipelineCreate, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, &request.database)?;
        let name = valid_name(ObjectKind::Pipeline, &request.name)?;
        let table: TableRef =
            request.table.parse().map_err(|e: String| ControlError::invalid(format!("INTO TABLE: {e}")))?;
        request.format.check().map_err(|e| ControlError::invalid(format!("the pipeline's format: {e}")))?;
        transaction!(self.catalog(), |tx| -> Result<_> {
            if let Some(existing) = tx.find_by_name::<Pipeline>(&[database.as_str(), name.as_str()]).await? {
                if request.if_not_exists {
                    return Ok(Created { value: view(tx, existing).await?, created: false });
                }
                return Err(ControlError::new(
                    ErrorKind::AlreadyExists,
                    format!("pipeline {:?} already exists", existing.display()),
                ));
            }
            crate::refuse_lookalike::<Pipeline>(tx, ObjectKind::Pipeline, &[database.as_str()], &name, None).await?;
            crate::links::check_database(tx, &database).await?;
            let link = find_source_link(tx, &database, &request.link).await?;
            check_source(&link, &request.path)?;
            let connection = match tx.find_by_name::<Connection>(&[request.connection.as_str()]).await? {
                Some(connection) => connection,
                None => {
                    return Err(ControlError::new(
                        ErrorKind::NotFound,
                        format!("connection {:?} does not exist", printable(&request.connection, 128)),
                    ));
                }
            };
            check_target(&connection)?;
            let row = tx
                .insert(Pipeline {
                    meta: Meta::new(),
                    database: database.clone(),
                    name: name.clone(),
                    link_id: link.meta.id,
                    path: request.path.clone(),
                    target_connection_id: connection.meta.id,
                    target_table: table.clone(),
                    format: request.format.clone(),
                    state: PipelineState::Stopped,
                    cursor: None,
                    last_error: None,
                })
                .await?;
            let record = audit(
                caller,
                AuditAction::PipelineCreate,
                ObjectKind::Pipeline,
                row.meta.id,
                &row.display(),
                detail([
                    ("link", link.display().into()),
                    ("path", row.path.clone().into()),
                    ("connection", connection.name.to_string().into()),
                    ("table", row.target_table.to_string().into()),
                    ("format", serde_json::to_value(&row.format).unwrap_or_default()),
                ]),
            );
            tx.append_audit(&record).await?;
            Ok(Created { value: view(tx, row).await?, created: true })
        })
    }

    /// START PIPELINE: Running (from Stopped or Error; the last error stays shown, with its time, until a newer one
    /// replaces it). A running pipeline is left as it is.
    pub async fn start_pipeline(&self, caller: &Caller, database: &str, name: &str) -> Result<PipelineView> {
        self.set_pipeline_state(caller, database, name, PipelineState::Running, AuditAction::PipelineStart).await
    }

    /// STOP PIPELINE: Stopped; the cursor and file states are kept. This node's runner stops it before its next file,
    /// another node's within its next tick.
    pub async fn stop_pipeline(&self, caller: &Caller, database: &str, name: &str) -> Result<PipelineView> {
        self.set_pipeline_state(caller, database, name, PipelineState::Stopped, AuditAction::PipelineStop).await
    }

    async fn set_pipeline_state(
        &self,
        caller: &Caller,
        database: &str,
        name: &str,
        state: PipelineState,
        action: AuditAction,
    ) -> Result<PipelineView> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::PipelinesWrite, action, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        let changed = transaction!(self.catalog(), |tx| -> Result<_> {
            let mut row = find_pipeline(tx, &database, name).await?;
            let before = row.state;
            if before != state {
                row.state = state;
                row = tx.update(row).await?;
            }
            let record = audit(
                caller,
                action,
                ObjectKind::Pipeline,
                row.meta.id,
                &row.display(),
                detail([("state_before", before.as_str().into()), ("state", state.as_str().into())]),
            );
            tx.append_audit(&record).await?;
            view(tx, row).await
        })?;
        // This node's runner looks at once (the others at their next tick).
        self.inner.pipeline_changes.notify_one();
        Ok(changed)
    }

    /// DROP PIPELINE [IF EXISTS]: also a running one (the runner stops at its next tick; a file being loaded
    /// commits or rolls back in the target). Its file states and lease go with it; the target's ledger rows stay
    /// (they are the target's record of what was loaded).
    pub async fn drop_pipeline(
        &self,
        caller: &Caller,
        database: &str,
        name: &str,
        if_match: Option<i64>,
    ) -> Result<()> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::PipelinesWrite, AuditAction::PipelineDrop, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        transaction!(self.catalog(), |tx| -> Result<_> {
            let row = find_pipeline(tx, &database, name).await?;
            crate::connections::check_version(ObjectKind::Pipeline, &row.display(), row.meta.version, if_match)?;
            tx.delete::<Pipeline>(row.meta.id, Some(row.meta.version)).await?;
            let record = audit(
                caller,
                AuditAction::PipelineDrop,
                ObjectKind::Pipeline,
                row.meta.id,
                &row.display(),
                detail([("state", row.state.as_str().into()), ("cursor", row.cursor.clone().into())]),
            );
            tx.append_audit(&record).await?;
            Ok(())
        })
    }
}
