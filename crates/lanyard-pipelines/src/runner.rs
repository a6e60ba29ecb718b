//! The runner: inside `lanyard serve`, it runs every pipeline whose state is Running, each on exactly one node.
//!
//! One supervisor task per node ticks every [`RunnerConfig::tick`], and at once when START or STOP commits on its
//! node ([`Runner::wake_on`]): it lists the Running pipelines, takes the lease of those nobody holds (or whose lease
//! lapsed), renews the leases it holds, and starts one task per pipeline it holds; it stops the task of a pipeline
//! that is no longer Running, was dropped, or whose lease another node took.
//! On shutdown it stops its tasks and gives its leases up, so another node takes over at once.
//!
//! A pipeline task loads batch after batch. Each batch opens a new target session and a new source listing, both
//! resolving their credentials fresh (a rotation needs no other step), lists the files under the pipeline's path, and
//! loads those not loaded yet in key order: each in one target transaction with its ledger row ([`crate::load`]), then
//! records it in the catalog (file state, cursor). The next file is read from the store while one loads (so a pipeline
//! holds at most two files in memory), but loads never overlap within a pipeline. The first batch of a task reconciles
//! the catalog from the target's ledger, so a crash between the target's commit and the catalog's write neither loads a
//! file twice nor forgets it. A file whose rows do not fit is marked Failed (the reason names the line and column) and
//! skipped until its ETag changes; the other files go on. A batch that fails as a whole (source or target unreachable,
//! credentials refused, table missing) is retried with a growing pause, the error kept on the pipeline; after
//! [`RunnerConfig::max_failures`] failures in a row the pipeline's state becomes Error.
//!
//! Exactly once does not depend on the lease: two nodes loading the same file (a lapsed lease still in use) meet at
//! the ledger's primary key in the target, and one of them finds the file loaded.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use lanyard_catalog::{Catalog, CatalogError, Connection, Pipeline, PipelineFile, Timestamp, transaction};
use lanyard_connectors::{FileSource, SourceFile};
use lanyard_core::{ConnectionType, FileState, PipelineId, PipelineState, printable};
use lanyard_resolve::{ConnectionRef, Resolver};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;

use crate::load::{self, FileToLoad, LedgerEntry, LoadError, Loaded};
use crate::metrics::RunnerMetrics;

/// How the runner runs.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// This node's id, the holder name of its leases (stable across restarts of the same node, so a restarted node
    /// takes its own pipelines back at once).
    pub node_id: String,
    /// The pause between two batches of a pipeline that found nothing new.
    pub interval: Duration,
    /// How long a lease lasts unless renewed; another node takes a pipeline over at most this long after its node
    /// died. Renewed every third of it.
    pub lease: Duration,
    /// At most this many files are being loaded at once on this node, over all its pipelines.
    pub max_files_in_flight: usize,
    /// Batches that fail as a whole this many times in a row put the pipeline in state Error.
    pub max_failures: u32,
    /// A file larger than this (as listed) is marked Failed without being read: a file is held in memory whole while
    /// it loads.
    pub max_file_bytes: u64,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            node_id: format!("node-{}", uuid::Uuid::new_v4()),
            interval: Duration::from_secs(5),
            lease: Duration::from_secs(15),
            max_files_in_flight: 4,
            max_failures: 5,
            max_file_bytes: 256 << 20,
        }
    }
}

impl RunnerConfig {
    /// How often the supervisor looks at the catalog: a third of the lease, at most a second (so START and STOP on
    /// another node take effect within a second; on this node they wake the supervisor at once).
    pub fn tick(&self) -> Duration {
        (self.lease / 3).min(Duration::from_secs(1)).max(Duration::from_millis(50))
    }
}

struct Shared {
    catalog: Catalog,
    resolver: Resolver,
    config: RunnerConfig,
    /// Bounds the files in flight over all pipelines of this node.
    slots: Semaphore,
    metrics: Arc<RunnerMetrics>,
}

/// The runner of one node; [`Runner::spawn`] starts it.
pub struct Runner {
    shared: Arc<Shared>,
    wake: Arc<Notify>,
}

/// A started runner; [`RunnerHandle::shutdown`] stops it.
pub struct RunnerHandle {
    stop: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
}

impl Runner {
    /// A runner over `catalog`, resolving with `resolver`.
    pub fn new(catalog: Catalog, resolver: Resolver, config: RunnerConfig) -> Self {
        let slots = Semaphore::new(config.max_files_in_flight.max(1));
        let metrics = Arc::new(RunnerMetrics::default());
        Self { shared: Arc::new(Shared { catalog, resolver, config, slots, metrics }), wake: Arc::default() }
    }

    /// The runner's metrics (`/metrics` exports them).
    pub fn metrics(&self) -> Arc<RunnerMetrics> {
        Arc::clone(&self.shared.metrics)
    }

    /// The same runner, also looking at the catalog at once whenever `wake` is notified (START and STOP on this
    /// node: `ControlPlane::pipeline_changes`), besides every [`RunnerConfig::tick`].
    pub fn wake_on(self, wake: Arc<Notify>) -> Self {
        Self { wake, ..self }
    }

    /// Starts the supervisor on the current tokio runtime.
    pub fn spawn(self) -> RunnerHandle {
        let (stop, stopped) = watch::channel(false);
        let shared = self.shared;
        tracing::info!(node = %shared.config.node_id, "pipeline runner started");
        let supervisor = tokio::spawn(supervise(shared, self.wake, stopped));
        RunnerHandle { stop, supervisor }
    }
}

impl RunnerHandle {
    /// Stops every pipeline task of this node (a file being loaded rolls back in the target unless its commit was
    /// already sent; the ledger tells) and gives the leases up.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.supervisor.await;
    }
}

/// The supervisor loop (see the module doc).
async fn supervise(shared: Arc<Shared>, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
    let mut tasks: HashMap<PipelineId, JoinHandle<()>> = HashMap::new();
    let mut ticker = tokio::time::interval(shared.config.tick());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = wake.notified() => {}
            _ = stopped.changed() => break,
        }
        if let Err(error) = tick(&shared, &mut tasks).await {
            tracing::warn!(%error, "pipeline runner: the catalog could not be read; trying again");
        }
    }
    for (id, task) in tasks.drain() {
        task.abort();
        let _ = task.await;
        release(&shared, id).await;
    }
    tracing::info!(node = %shared.config.node_id, "pipeline runner stopped");
}

/// One look at the catalog: start, keep or stop each pipeline task.
async fn tick(shared: &Arc<Shared>, tasks: &mut HashMap<PipelineId, JoinHandle<()>>) -> Result<(), CatalogError> {
    let running: Vec<PipelineId> = shared
        .catalog
        .list::<Pipeline>(None, None)
        .await?
        .into_iter()
        .filter(|p| p.state == PipelineState::Running)
        .map(|p| p.meta.id)
        .collect();
    // Tasks that ended (state Error, pipeline dropped) or whose pipeline is no longer Running.
    let ids: Vec<PipelineId> = tasks.keys().copied().collect();
    for id in ids {
        let ended = tasks.get(&id).is_some_and(JoinHandle::is_finished);
        if ended || !running.contains(&id) {
            if let Some(task) = tasks.remove(&id) {
                task.abort();
                // A task that panicked would be started again at once, forever: the pipeline goes to Error instead.
                if let Err(error) = task.await
                    && error.is_panic()
                {
                    tracing::error!(pipeline = %id, "a pipeline task panicked; the pipeline is put in state Error");
                    let reason = "the runner's task for this pipeline panicked (a bug; the node's log has the panic)";
                    if let Err(e) = record_error(shared, id, reason, true).await {
                        tracing::warn!(pipeline = %id, error = %e, "could not record the pipeline's error");
                    }
                }
            }
            release(shared, id).await;
        }
    }
    let now = Timestamp::now();
    let lease = i64::try_from(shared.config.lease.as_micros()).unwrap_or(i64::MAX);
    let until = Timestamp::from_micros(now.as_micros().saturating_add(lease));
    for id in running {
        let node = shared.config.node_id.clone();
        let held = transaction!(&shared.catalog, |tx| -> Result<_, CatalogError> {
            tx.acquire_pipeline_lease(id, &node, now, until).await
        });
        match (held, tasks.contains_key(&id)) {
            (Ok(true), false) => {
                tracing::info!(pipeline = %id, node = %node, "running pipeline");
                tasks.insert(id, tokio::spawn(run(Arc::clone(shared), id)));
            }
            (Ok(false), true) => {
                tracing::warn!(pipeline = %id, "another node took the pipeline's lease; stopping here");
                if let Some(task) = tasks.remove(&id) {
                    task.abort();
                }
            }
            (Ok(_), _) => {}
            (Err(error), _) => tracing::warn!(pipeline = %id, %error, "could not take or renew a pipeline lease"),
        }
    }
    shared.metrics.leases_held.set(i64::try_from(tasks.len()).unwrap_or(i64::MAX));
    Ok(())
}

async fn release(shared: &Shared, id: PipelineId) {
    let node = shared.config.node_id.clone();
    let released =
        transaction!(&shared.catalog, |tx| -> Result<_, CatalogError> { tx.release_pipeline_lease(id, &node).await });
    if let Err(error) = released {
        tracing::warn!(pipeline = %id, %error, "could not give a pipeline lease up; it lapses by itself");
    }
}

/// What one batch did.
enum Batch {
    /// The pipeline is gone or no longer Running.
    Gone,
    /// Files were loaded (or failed): look again at once.
    Progress,
    /// Nothing new.
    Idle,
}

/// A pipeline task: batch after batch, with back-off on failures (see the module doc).
async fn run(shared: Arc<Shared>, id: PipelineId) {
    let mut failures = 0u32;
    let mut reconciled = false;
    loop {
        match batch(&shared, id, &mut reconciled).await {
            Ok(Batch::Gone) => return,
            Ok(Batch::Progress) => failures = 0,
            Ok(Batch::Idle) => {
                failures = 0;
                tokio::time::sleep(shared.config.interval).await;
            }
            Err(error) => {
                failures += 1;
                shared.metrics.batch_failures.inc();
                let give_up = failures >= shared.config.max_failures;
                tracing::warn!(pipeline = %id, failures, %error, "pipeline batch failed");
                if let Err(e) = record_error(&shared, id, &error, give_up).await {
                    tracing::warn!(pipeline = %id, error = %e, "could not record the pipeline's error");
                }
                if give_up {
                    return;
                }
                reconciled = false;
                tokio::time::sleep(backoff(shared.config.interval, failures)).await;
            }
        }
    }
}

/// The pause after the `failures`-th failure in a row: the interval, doubled each time, at most a minute.
fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(6);
    interval.saturating_mul(factor).min(Duration::from_secs(60)).max(Duration::from_millis(100))
}

/// Keeps `error` on the pipeline (without a version change) and, with `give_up`, sets its state to Error (a change
/// of state: the version moves), unless it was stopped or dropped meanwhile.
async fn record_error(shared: &Shared, id: PipelineId, error: &str, give_up: bool) -> Result<(), CatalogError> {
    let error = printable(error, 2000);
    transaction!(&shared.catalog, |tx| -> Result<_, CatalogError> {
        let state = tx.record_pipeline_progress(id, None, Some((Timestamp::now(), &error))).await?;
        if give_up && state == Some(PipelineState::Running) {
            let mut row: Pipeline = tx.get(id).await?;
            row.state = PipelineState::Error;
            tx.update(row).await?;
        }
        Ok(())
    })
}

/// The target session of one batch.
enum Session {
    Postgres(tokio_postgres::Client),
    Mysql(mysql_async::Conn),
}

impl Session {
    /// Resolves the connection fresh and connects.
    async fn open(resolver: &Resolver, connection: &Connection) -> Result<Self, String> {
        let target = ConnectionRef::Id(connection.meta.id);
        let name = connection.name.as_str();
        match connection.connection_type {
            ConnectionType::Postgresql => lanyard_connectors::postgres_client(resolver, target)
                .await
                .map(Session::Postgres)
                .map_err(|e| format!("target connection {name:?}: {e}")),
            ConnectionType::Mysql => lanyard_connectors::mysql_conn(resolver, target)
                .await
                .map(Session::Mysql)
                .map_err(|e| format!("target connection {name:?}: {e}")),
            other => Err(format!(
                "target connection {name:?} is a {other} connection; pipelines load into postgresql or mysql"
            )),
        }
    }

    async fn ledger(&mut self, pipeline: &Pipeline) -> Result<Vec<LedgerEntry>, LoadError> {
        match self {
            Session::Postgres(client) => load::ledger_postgres(client, &pipeline.target_table, pipeline.meta.id).await,
            Session::Mysql(conn) => load::ledger_mysql(conn, &pipeline.target_table, pipeline.meta.id).await,
        }
    }

    async fn load(&mut self, pipeline: &Pipeline, file: FileToLoad<'_>) -> Result<Loaded, LoadError> {
        match self {
            Session::Postgres(client) => {
                load::load_postgres(client, &pipeline.target_table, &pipeline.format, file).await
            }
            Session::Mysql(conn) => load::load_mysql(conn, &pipeline.target_table, &pipeline.format, file).await,
        }
    }
}

/// A target failure as the pipeline's error.
fn target_error(table: &lanyard_core::TableRef, error: LoadError) -> String {
    match error {
        LoadError::Target { reason, .. } => format!("target table {table}: {reason}"),
        LoadError::Rejected { line, column, reason } => {
            format!(
                "target table {table}: line {line}{}: {reason}",
                column.map(|c| format!(", column {c}")).unwrap_or_default()
            )
        }
    }
}

/// Which files of `listed` are still to load: not Loaded, and not Failed at the same ETag.
fn to_load(listed: Vec<SourceFile>, known: &BTreeMap<String, PipelineFile>) -> Vec<SourceFile> {
    listed
        .into_iter()
        .filter(|file| match known.get(&file.key) {
            Some(seen) if seen.state == FileState::Loaded => false,
            Some(seen) if seen.state == FileState::Failed => seen.etag != file.etag,
            _ => true,
        })
        .collect()
}

/// The files the catalog records for pipeline `id`, by key.
async fn known_files(shared: &Shared, id: PipelineId) -> Result<BTreeMap<String, PipelineFile>, CatalogError> {
    let files = shared.catalog.read(async |tx| tx.pipeline_files(id).await).await?;
    Ok(files.into_iter().map(|file| (file.key.clone(), file)).collect())
}

/// One batch of pipeline `id` (see the module doc). The source is listed first; the target is connected to only
/// when there is something to load.
async fn batch(shared: &Shared, id: PipelineId, reconciled: &mut bool) -> Result<Batch, String> {
    let catalog_error = |e: CatalogError| format!("the catalog: {e}");
    let (pipeline, connection) = {
        let Some(pipeline) =
            shared.catalog.read(async |tx| tx.find::<Pipeline>(id).await).await.map_err(catalog_error)?
        else {
            return Ok(Batch::Gone);
        };
        if pipeline.state != PipelineState::Running {
            return Ok(Batch::Gone);
        }
        let connection: Connection = shared.catalog.get(pipeline.target_connection_id).await.map_err(catalog_error)?;
        (pipeline, connection)
    };
    let source = FileSource::open(&shared.resolver, pipeline.link_id, &pipeline.path)
        .await
        .map_err(|e| format!("source {}: {e}", printable(&pipeline.path, 200)))?;
    let listed = source.list().await.map_err(|e| format!("listing {}: {e}", source.location()))?;
    let mut known = known_files(shared, id).await.map_err(catalog_error)?;
    if to_load(listed.clone(), &known).is_empty() {
        return Ok(Batch::Idle);
    }
    let mut session = Session::open(&shared.resolver, &connection).await?;
    if !*reconciled {
        let ledger = session.ledger(&pipeline).await.map_err(|e| target_error(&pipeline.target_table, e))?;
        if reconcile(shared, &pipeline, ledger).await.map_err(catalog_error)? {
            known = known_files(shared, id).await.map_err(catalog_error)?;
        }
        *reconciled = true;
    }
    let todo = to_load(listed, &known);
    // New files show as Unloaded until they are loaded.
    let unseen: Vec<PipelineFile> = todo
        .iter()
        .filter(|file| !known.contains_key(&file.key))
        .map(|file| file_row(id, file, FileState::Unloaded, None, None))
        .collect();
    if !unseen.is_empty() {
        // A DROP PIPELINE while this batch listed took the pipeline (and its files) away: nothing to record.
        let present = transaction!(&shared.catalog, |tx| -> Result<_, CatalogError> {
            if tx.find::<Pipeline>(id).await?.is_none() {
                return Ok(false);
            }
            for file in &unseen {
                tx.put_pipeline_file(file).await?;
            }
            Ok(true)
        })
        .map_err(catalog_error)?;
        if !present {
            return Ok(Batch::Gone);
        }
    }
    // The next file is read while this one loads: the loads stay one at a time and in key order, the store's
    // latency overlaps them. A failed read ahead fails the batch once the file before it is loaded and recorded, as a
    // failed read in its own turn would.
    let (todo, source) = (&todo, &source);
    let fetch_next = |i: usize| async move {
        match todo.get(i + 1) {
            Some(next) => Some(fetch(shared, source, next).await),
            None => None,
        }
    };
    let mut progress = false;
    let mut read_ahead = None;
    for (i, file) in todo.iter().enumerate() {
        let fetched = match read_ahead.take() {
            Some(fetched) => fetched?,
            None => fetch(shared, source, file).await?,
        };
        let (row, error, next) = match fetched {
            Fetched::TooBig => {
                let message = format!(
                    "file {:?} is {} bytes, over this node's limit of {} (--pipeline-max-file-mib); split it",
                    file.key, file.size, shared.config.max_file_bytes
                );
                shared.metrics.files_failed.inc();
                let row = file_row(id, file, FileState::Failed, None, Some(message.clone()));
                (row, Some(message), fetch_next(i).await)
            }
            // Replaced or deleted since the listing: the next listing says what is there now.
            Fetched::Changed(reason) => {
                tracing::info!(pipeline = %id, key = %file.key, %reason, "a file changed after it was listed; later");
                read_ahead = fetch_next(i).await;
                continue;
            }
            Fetched::Body(body) => {
                let _slot = shared.slots.acquire().await.map_err(|_| "the runner is shutting down".to_owned())?;
                let started = std::time::Instant::now();
                let load = session.load(
                    &pipeline,
                    FileToLoad { pipeline: id, key: &file.key, etag: file.etag.as_deref(), body: &body },
                );
                let (outcome, next) = tokio::join!(load, fetch_next(i));
                let (row, error) = match outcome {
                    Ok(loaded) => {
                        if let Loaded::Now { rows } = loaded {
                            shared.metrics.files_loaded.inc();
                            shared.metrics.rows_loaded.inc_by(rows);
                            shared.metrics.observe_file(started.elapsed());
                        }
                        let rows = i64::try_from(loaded.rows()).unwrap_or(i64::MAX);
                        (file_row(id, file, FileState::Loaded, Some(rows), None), None)
                    }
                    Err(LoadError::Rejected { line, column, reason }) => {
                        let column = column.map(|c| format!(", column {c}")).unwrap_or_default();
                        let message = format!("file {:?} line {line}{column}: {reason}", file.key);
                        shared.metrics.files_failed.inc();
                        (file_row(id, file, FileState::Failed, None, Some(message.clone())), Some(message))
                    }
                    Err(error) => return Err(target_error(&pipeline.target_table, error)),
                };
                (row, error, next)
            }
        };
        progress = true;
        // STOP or DROP since this batch began: stop here, before the next file.
        if !record_file(shared, &row, error).await.map_err(catalog_error)? {
            return Ok(Batch::Gone);
        }
        read_ahead = next;
    }
    Ok(if progress { Batch::Progress } else { Batch::Idle })
}

/// What reading one listed file gave.
enum Fetched {
    /// Its bytes.
    Body(bytes::Bytes),
    /// Larger than [`RunnerConfig::max_file_bytes`] as listed: not read.
    TooBig,
    /// Replaced or deleted since the listing (the reason).
    Changed(String),
}

/// Reads `file` unless it is too big; any error but a change since the listing is the batch's, as the pipeline's
/// error text.
async fn fetch(shared: &Shared, source: &FileSource, file: &SourceFile) -> Result<Fetched, String> {
    if file.size > shared.config.max_file_bytes {
        return Ok(Fetched::TooBig);
    }
    match source.read(file).await {
        Ok(body) => Ok(Fetched::Body(body)),
        Err(lanyard_connectors::ConnectError::Changed(reason)) => Ok(Fetched::Changed(reason)),
        Err(e) => Err(format!("reading {:?} from {}: {e}", file.key, source.location())),
    }
}

fn file_row(
    id: PipelineId,
    file: &SourceFile,
    state: FileState,
    rows: Option<i64>,
    error: Option<String>,
) -> PipelineFile {
    PipelineFile {
        pipeline_id: id,
        key: file.key.clone(),
        etag: file.etag.clone(),
        size: i64::try_from(file.size).unwrap_or(i64::MAX),
        state,
        rows,
        error,
        updated_at: Timestamp::now(),
    }
}

/// Records a file's outcome: its row, and on the pipeline the cursor (a loaded file) or the last error (a failed
/// one), without changing the pipeline's version. Returns whether the pipeline is still Running (false: it was
/// stopped or dropped meanwhile; a dropped pipeline's file rows went with it, so nothing is written).
async fn record_file(shared: &Shared, file: &PipelineFile, error: Option<String>) -> Result<bool, CatalogError> {
    transaction!(&shared.catalog, |tx| -> Result<_, CatalogError> {
        // Progress first: it also says whether the pipeline still exists (its file rows need it).
        let loaded = (file.state == FileState::Loaded).then_some(file.key.as_str());
        let error = error.as_deref().map(|error| (Timestamp::now(), error));
        let Some(state) = tx.record_pipeline_progress(file.pipeline_id, loaded, error).await? else {
            return Ok(false);
        };
        tx.put_pipeline_file(file).await?;
        Ok(state == PipelineState::Running)
    })
}

/// Makes the catalog agree with the target's ledger: every key the ledger holds is Loaded, and the cursor is at
/// least the greatest of them. Returns whether it changed a file's state.
async fn reconcile(shared: &Shared, pipeline: &Pipeline, ledger: Vec<LedgerEntry>) -> Result<bool, CatalogError> {
    let id = pipeline.meta.id;
    transaction!(&shared.catalog, |tx| -> Result<_, CatalogError> {
        // The cursor first: it also says whether the pipeline still exists (its file rows need it).
        let greatest = ledger.iter().map(|entry| entry.key.as_str()).max();
        if tx.record_pipeline_progress(id, greatest, None).await?.is_none() {
            return Ok(false);
        }
        let known: HashMap<String, PipelineFile> =
            tx.pipeline_files(id).await?.into_iter().map(|file| (file.key.clone(), file)).collect();
        let mut fixed = 0;
        for entry in &ledger {
            if known.get(&entry.key).is_some_and(|file| file.state == FileState::Loaded) {
                continue;
            }
            let size = known.get(&entry.key).map_or(0, |file| file.size);
            tx.put_pipeline_file(&PipelineFile {
                pipeline_id: id,
                key: entry.key.clone(),
                etag: entry.etag.clone(),
                size,
                state: FileState::Loaded,
                rows: Some(i64::try_from(entry.rows).unwrap_or(i64::MAX)),
                error: None,
                updated_at: Timestamp::now(),
            })
            .await?;
            fixed += 1;
        }
        if fixed > 0 {
            tracing::info!(pipeline = %id, files = fixed, "reconciled file states from the target's ledger");
        }
        Ok(fixed > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_after_failures_doubles_up_to_a_minute() {
        let interval = Duration::from_secs(5);
        let pauses: Vec<u64> = (1..=6).map(|n| backoff(interval, n).as_secs()).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 60, 60]);
        assert_eq!(backoff(Duration::from_millis(10), 1), Duration::from_millis(100), "at least 100 ms");
        assert_eq!(backoff(interval, 1000), Duration::from_secs(60), "no overflow");
    }

    #[test]
    fn the_supervisor_ticks_at_a_third_of_the_lease_at_most_every_second() {
        let tick = |lease_ms| RunnerConfig { lease: Duration::from_millis(lease_ms), ..RunnerConfig::default() }.tick();
        assert_eq!(tick(15_000), Duration::from_secs(1));
        assert_eq!(tick(1_500), Duration::from_millis(500));
        assert_eq!(tick(60), Duration::from_millis(50));
    }
}
