//! `lanyard-catalog` is Lanyard's system of record: connections, vault entries, backends, links, pipelines,
//! principals, API tokens and the audit log, in an embedded SQLite file or a shared PostgreSQL database.
//!
//! - [`Catalog::open`] takes `sqlite://path` (the file is created if missing, mode 0600; an existing file that is
//!   not a catalog is refused, see [`Catalog::prepare`]) or `postgres://…`, and applies the migrations of
//!   `migrations/<database>/` in one transaction, verifying the checksums of those applied before (on PostgreSQL
//!   under an advisory lock taken before any table is looked at, so nodes may start together on an empty catalog).
//! - Every change happens in a transaction: [`transaction!`] runs a block against a [`Tx`] and commits, retrying
//!   the whole block for a bounded time on a serialization failure (PostgreSQL) or a busy database
//!   (SQLite). It is the one retry primitive ([`Attempts`] paces it): [`Catalog::write`], [`Catalog::insert`] and
//!   the Control Plane's operations all use it. The Control Plane changes several tables and appends the audit record in one `Tx`, so a change without
//!   its record cannot exist.
//! - Rows carry an immutable UUID id, `created_at`, `updated_at` and a `version` that increases on every change;
//!   [`Tx::update`] writes only over the version it read, so concurrent writers never lose an update — the loser
//!   gets [`CatalogError::VersionConflict`]. [`Tx::update_audited`] writes the row and its audit record in one round
//!   trip (a data-modifying `WITH` on PostgreSQL, a two-statement batch on SQLite); both check in the same statement
//!   that every row the record refers to exists, and read anything more only when nothing changed, to say why.
//!   Bookkeeping is not a change and leaves `version` alone: a token's `last_used_at` ([`Tx::touch_token`]), a
//!   connection's last test ([`Tx::record_connection_test`], in `connection_tests` beside the row) and a pipeline's
//!   progress (`runs.rs`).
//!
//! What it is not: it holds no secret material (the local vault plugin owns its own `local_secrets` table), knows
//! nothing of SQL statements, HTTP or permissions, and does not decide what a change means — the Control Plane does.
//!
//! Transaction rules: SQLite runs in WAL mode with `synchronous = FULL`, foreign keys on and a busy timeout; write
//! transactions start with `BEGIN IMMEDIATE` and are serialised within the process, so "database is locked" never
//! reaches a caller. PostgreSQL write transactions run SERIALIZABLE, reads REPEATABLE READ READ ONLY.

// Failpoints stop or kill a process between a transaction's writes and its COMMIT: for crash tests of debug
// builds only. No step of `cargo xtask ci` or `cargo xtask bench` builds an optimised binary with this feature (the
// `no-failpoints` step checks the release build's tree), so a release build with it is a mistake.
#[cfg(all(feature = "failpoints", not(debug_assertions)))]
compile_error!(
    "the `failpoints` feature is for crash tests of debug builds: do not build a release (or bench) binary with it"
);

mod db;
mod error;
mod file;
mod fresh;
mod history;
mod migrate;
mod model;
mod retry;
mod runs;
mod store;
mod time;
mod walindex;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use db::{Param, Row};
pub use error::{CatalogError, Result};
pub use fresh::{FRESH_CAPACITY, Fresh, Stamp, request_scope};
pub use history::{Change, HISTORY_KINDS, HistoryEntry, Retention};
pub use migrate::{MIGRATIONS, Migration, checksum};
pub use model::{
    ApiToken, AuditRecord, Backend, Connection, Database, JsonObject, LastTest, Link, Meta, NewAuditRecord, Pipeline,
    Principal, Record, RecordId, Reference, VaultEntry,
};
pub use retry::{Attempts, MAX_ATTEMPTS, MAX_SIDE_EFFECT_RUNS, RETRY_DEADLINE, Retryable};
pub use runs::{FileCounts, Lease, PipelineFile};
pub use store::{AuditFilter, Listed, Page, Tx, sqlite_list_select};
pub use time::{Timestamp, TimestampError};

use db::{Pool, RoundTrips};
use store::connection_view;

/// A PostgreSQL catalog connection last lent this long ago or more is pinged before the pool lends it again.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A write transaction from [`Catalog::begin_write`]: use it as a [`Tx`], then [`WriteTx::commit`]. Dropping it
/// rolls back.
pub struct WriteTx {
    tx: Tx,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits every change made through this transaction.
    ///
    /// With the `failpoints` feature, the failpoints `catalog::commit::announce` and then `catalog::commit` are
    /// evaluated here, after every write of the transaction (the audit record included) and before the COMMIT: a
    /// crash test configures `FAILPOINTS` so that the process is killed exactly inside that window (see
    /// docs/operations.md). The first exists to be given `print`, the second `pause`, `sleep` or `panic`.
    pub async fn commit(self) -> Result<()> {
        #[cfg(feature = "failpoints")]
        {
            fail::fail_point!("catalog::commit::announce");
            fail::fail_point!("catalog::commit");
        }
        let committed = self.tx.conn.commit().await;
        // This request's later reads must see its own change: the stamp it kept is from before it.
        fresh::forget_stamp();
        committed
    }

    /// Rolls every change back.
    pub async fn rollback(self) -> Result<()> {
        self.tx.conn.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Tx;

    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}

/// Which database a catalog lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL (or compatible) database shared by several nodes.
    Postgres,
}

/// A handle on the catalog; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Catalog {
    pool: Pool,
    /// SQLite allows one writer at a time: writers of this process queue here instead of on the file lock.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// The change watcher of a SQLite file (see `fresh.rs`); `None` on PostgreSQL and in memory.
    watch: Option<Arc<fresh::Watch>>,
    /// The rows of the hot paths, served while nothing was committed.
    hot: Arc<Hot>,
    /// Whether a PostgreSQL catalog's server has `pg_current_snapshot()` (PostgreSQL 13 and later; some
    /// PostgreSQL-compatible databases have not): without it there is no stamp and every read goes to the database.
    snapshots: bool,
    /// The round trips to the database of this handle and its clones ([`Catalog::round_trips`]).
    trips: RoundTrips,
    /// Whether changes keep their versions in the history (always, but in the benchmark's anchor that measures
    /// what keeping them costs: [`Catalog::keep_history`]).
    history: Arc<std::sync::atomic::AtomicBool>,
}

/// The stamp of a PostgreSQL catalog, as an SQL expression: the server's current snapshot (which transactions have
/// completed), and when the server started, so that a promoted replica or a restored cluster that hands out the same
/// transaction ids again never repeats a stamp.
macro_rules! pg_stamp {
    () => {
        "pg_current_snapshot()::text || '@' || pg_postmaster_start_time()::text"
    };
}

/// Reads the stamp of the PostgreSQL catalog behind `pool`: one round trip.
async fn pg_stamp(pool: &db::PgPool, trips: &RoundTrips) -> Result<Stamp> {
    Ok(Stamp::snapshot(db::pg_scalar(pool, trips, concat!("SELECT ", pg_stamp!())).await?))
}

/// The connection row `GET /connections/{name}` answers with: the row, its entry's and storage's current names and
/// the entry's expiry.
pub type ConnectionView = (Connection, Option<String>, Option<String>, Option<Timestamp>);

#[derive(Default)]
struct Hot {
    tokens: Fresh<String, (ApiToken, Principal)>,
    connections: Fresh<String, Arc<ConnectionView>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("kind", &self.kind()).finish_non_exhaustive()
    }
}

impl Catalog {
    /// Opens (creating if needed) and migrates the catalog at `url`: `sqlite://path/to/file`, `sqlite::memory:` or
    /// `postgres://user@host:port/database`.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, MIGRATIONS).await
    }

    /// For a SQLite `url`: refuses an existing file that is not a Lanyard catalog ([`CatalogError::NotACatalog`]:
    /// empty, truncated, not SQLite, or another program's database) and creates a missing one as an empty SQLite
    /// database with mode 0600 (and its directory with mode 0700). Nothing else is written. [`Catalog::open`] does
    /// this too; `lanyard serve` calls it first, before anything else opens the file. Other URLs: nothing to do.
    pub async fn prepare(url: &str) -> Result<()> {
        if !url.starts_with("sqlite:") {
            return Ok(());
        }
        let options = SqliteConnectOptions::from_str(url).map_err(|e| CatalogError::InvalidUrl(e.to_string()))?;
        match file::sqlite_path(&options) {
            Some(path) => file::prepare(&path).await,
            None => Ok(()),
        }
    }

    /// [`Catalog::open`] with an explicit migration list (for tests of the migration machinery).
    pub async fn open_with(url: &str, migrations: &[Migration]) -> Result<Self> {
        let mut file_path = None;
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url).map_err(|e| CatalogError::InvalidUrl(e.to_string()))?;
            // Refuse a file that is not a catalog; create a missing one (and its directory) private to its owner.
            file_path = file::sqlite_path(&options);
            if let Some(path) = &file_path {
                file::prepare(path).await?;
            }
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            // No ping before each acquire: it is a round trip to the connection's worker thread per statement, and a
            // broken connection shows up as the statement's own error anyway.
            Pool::Sqlite(
                SqlitePoolOptions::new().max_connections(8).test_before_acquire(false).connect_with(options).await?,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // Our own pool of sqlx connections (`db::PgPool`): sqlx's pings every connection as it comes back.
            let options =
                sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| CatalogError::InvalidUrl(e.to_string()))?;
            Pool::Postgres(db::pg_pool(options))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(CatalogError::InvalidUrl(format!(
                "unsupported scheme {scheme:?}: use sqlite://path or postgres://user@host/database"
            )));
        };
        let trips = RoundTrips::default();
        migrate::apply(&pool, &trips, migrations).await?;
        let watch = match file_path {
            Some(path) => Some(Arc::new(fresh::Watch::open(&path)?)),
            None => None,
        };
        let snapshots = match &pool {
            Pool::Postgres(pg) => {
                let probe = pg_stamp(pg, &trips).await;
                if let Err(error) = &probe {
                    tracing::info!(%error, "no pg_current_snapshot(): every catalog read goes to the database");
                }
                probe.is_ok()
            }
            Pool::Sqlite(_) => false,
        };
        Ok(Self {
            pool,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            watch,
            hot: Arc::default(),
            snapshots,
            trips,
            history: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        })
    }

    /// How many round trips to its database this catalog (and every clone of it) has made so far: one per call that
    /// sends statements and waits for their answer — each query, BEGIN, COMMIT and ROLLBACK, a PostgreSQL stamp
    /// read; a SQLite batch sent in one hand-off counts one. Not counted: the SQLite change watcher's
    /// `PRAGMA data_version` (read on the calling thread, no hand-off) and the ping the PostgreSQL pool sends before
    /// it lends a connection last lent [`PING_AFTER_IDLE`] ago or more. For tests that hold a path to its cost, and for
    /// diagnostics.
    pub fn round_trips(&self) -> u64 {
        self.trips.get()
    }

    /// How many stamps of a SQLite catalog file so far needed `PRAGMA data_version`; the others were proven by the
    /// file's WAL-index header alone (see `fresh.rs`). `None` without a watcher (PostgreSQL, in memory). For tests
    /// and diagnostics.
    pub fn stamp_pragma_reads(&self) -> Option<u64> {
        self.watch.as_ref().map(|watch| watch.pragma_reads())
    }

    /// Which database this catalog lives in.
    pub fn kind(&self) -> DatabaseKind {
        match self.pool {
            Pool::Sqlite(_) => DatabaseKind::Sqlite,
            Pool::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    /// Begins a write transaction. On SQLite the transaction holds this process's writer slot until it is
    /// committed or dropped. Prefer [`transaction!`], which also retries.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        let guard = match self.pool {
            Pool::Sqlite(_) => Some(self.writer.clone().lock_owned().await),
            Pool::Postgres(_) => None,
        };
        Ok(WriteTx {
            tx: Tx { conn: self.pool.begin_write(&self.trips).await?, history: self.history() },
            _guard: guard,
        })
    }

    /// Runs `f` in a write transaction and commits. On a retryable failure (serialization failure, busy database)
    /// the whole transaction is rolled back and `f` runs again, for at most [`RETRY_DEADLINE`], with a short
    /// growing, jittered pause. Any other error rolls back and is returned. The future of an `AsyncFnMut` cannot be
    /// required to be `Send`: where that matters (a server operation), use [`transaction!`] directly.
    pub async fn write<T>(&self, mut f: impl AsyncFnMut(&mut Tx) -> Result<T>) -> Result<T> {
        transaction!(self, |tx| { f(tx).await })
    }

    /// Inserts one row in its own transaction (with the retries of [`transaction!`]).
    pub async fn insert<R: Record + Clone>(&self, record: R) -> Result<R> {
        transaction!(self, |tx| { tx.insert(record.clone()).await })
    }

    /// Updates one row over the version it was read at, in its own transaction (see [`Tx::update`]).
    pub async fn update<R: Record + Clone>(&self, record: R) -> Result<R> {
        transaction!(self, |tx| { tx.update(record.clone()).await })
    }

    /// Deletes one row in its own transaction (see [`Tx::delete`]).
    pub async fn delete<R: Record>(&self, id: R::Id, expected_version: Option<i64>) -> Result<()> {
        transaction!(self, |tx| { tx.delete::<R>(id, expected_version).await })
    }

    /// A handle on which each statement commits on its own, for a change whose one writing statement checks
    /// everything it relies on ([`Tx::update_audited`]: the version it read, the rows it refers to, and its audit
    /// record in the same statement): on PostgreSQL that saves BEGIN and COMMIT, two round trips. `None` on SQLite,
    /// where a change takes the writer slot in a transaction anyway. Use it through [`optimistic!`].
    pub async fn begin_autocommit(&self) -> Result<Option<Tx>> {
        Ok(self.pool.autocommit(&self.trips).await?.map(|conn| Tx { conn, history: self.history() }))
    }

    /// Runs `f` in a read-only transaction (a consistent snapshot).
    pub async fn read<T>(&self, f: impl AsyncFnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        let mut tx = Tx { conn: self.pool.begin_read(&self.trips).await?, history: self.history() };
        let result = f(&mut tx).await;
        let _ = tx.conn.rollback().await;
        result
    }

    /// Whether changes keep their versions (see [`Catalog::keep_history`]).
    fn history(&self) -> bool {
        self.history.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops (or resumes) keeping versions in the history, for this handle and its clones. Lanyard never turns
    /// it off: the benchmark does, for the anchor of `http_put_rps_history` (the same server without history).
    #[doc(hidden)]
    pub fn keep_history(&self, keep: bool) {
        self.history.store(keep, std::sync::atomic::Ordering::Relaxed);
    }

    /// Begins a read-only transaction; dropping it (or [`Tx::rollback`]) ends it.
    pub async fn begin_read(&self) -> Result<Tx> {
        Ok(Tx { conn: self.pool.begin_read(&self.trips).await?, history: self.history() })
    }

    /// The row with `id`.
    pub async fn get<R: Record>(&self, id: R::Id) -> Result<R> {
        let mut tx = self.begin_read().await?;
        let result = tx.get(id).await;
        tx.rollback().await?;
        result
    }

    /// The row named `name` (`[database, name]` for links and pipelines).
    pub async fn get_by_name<R: Record>(&self, name: &[&str]) -> Result<R> {
        let mut tx = self.begin_read().await?;
        let result = tx.get_by_name(name).await;
        tx.rollback().await?;
        result
    }

    /// Every row, optionally filtered (see [`Tx::list`]).
    pub async fn list<R: Record>(&self, like: Option<&str>, database: Option<&str>) -> Result<Vec<R>> {
        let mut tx = self.begin_read().await?;
        let result = tx.list(like, database).await;
        tx.rollback().await?;
        result
    }

    /// The catalog's current [`Stamp`]: on a SQLite file read on this thread without a round trip; on PostgreSQL
    /// one round trip. `None` for an in-memory SQLite, a PostgreSQL-compatible database without
    /// `pg_current_snapshot()`, or when it cannot be read (then callers read the database).
    pub async fn stamp(&self) -> Option<Stamp> {
        let result = match (&self.watch, &self.pool) {
            (Some(watch), _) => watch.stamp(),
            // Boxed, here and at every other database access of a hot read: a future is as large as its largest
            // state and is moved whole (into every future awaiting it, into the server's boxed handler futures), so
            // a driver's future inline costs every read that never reaches the driver kilobytes of copying.
            (None, Pool::Postgres(pool)) if self.snapshots => Box::pin(pg_stamp(pool, &self.trips)).await,
            _ => return None,
        };
        match result {
            Ok(stamp) => Some(stamp),
            Err(error) => {
                tracing::debug!(%error, "no catalog stamp; reading the database");
                None
            }
        }
    }

    /// Which catalog a request's kept stamp belongs to: the address of the state every clone shares.
    fn owner(&self) -> usize {
        Arc::as_ptr(&self.hot) as usize
    }

    /// The row for `key`: from `cache` when nothing was committed since it was read, else from `load` (which reads
    /// the catalog; `None`, a missing row, is not cached). See [`Fresh`] for why this never serves a stale row.
    pub async fn fresh<K, V>(
        &self,
        cache: &Fresh<K, V>,
        key: &K,
        load: impl Future<Output = Result<Option<V>>>,
    ) -> Result<Option<V>>
    where
        K: Eq + std::hash::Hash + Clone,
        V: Clone,
    {
        let stamp = self.stamp().await;
        if let Some(stamp) = &stamp
            && let Some(row) = cache.get(stamp, key)
        {
            return Ok(Some(row));
        }
        let row = load.await?;
        if let (Some(stamp), Some(row)) = (&stamp, &row) {
            cache.put(stamp, key.clone(), row.clone());
        }
        Ok(row)
    }

    /// A hot single-statement read through `cache`: [`Catalog::fresh`] on SQLite. On PostgreSQL a request reads the
    /// stamp once: its first hot read reads the snapshot in the same statement as its row (`pg_current_snapshot()`
    /// of a statement is the snapshot its rows were read at) and keeps it in the [`request_scope`]; the request's
    /// later hot reads are served from memory at that stamp, or read their row and a newer stamp in one statement.
    /// So every hot read of a request is consistent with one moment after the request started, the first costs one
    /// round trip, hit or miss, and the later ones none on a hit. Only these reads of a request (a token, then a
    /// connection) share a stamp; a resolve reads a current one.
    async fn hot_read<V: Clone>(
        &self,
        cache: &Fresh<String, V>,
        key: &str,
        sql: &str,
        params: Vec<Param>,
        parse: impl Fn(&Row) -> Result<V>,
    ) -> Result<Option<V>> {
        if !matches!(self.pool, Pool::Postgres(_)) || !self.snapshots {
            // SQLite reads its stamp without a round trip; a PostgreSQL without snapshots has none and just reads.
            let load = async {
                match Box::pin(self.pool.fetch_optional(&self.trips, sql, params)).await? {
                    Some(row) => parse(&row).map(Some),
                    None => Ok(None),
                }
            };
            return self.fresh(cache, &key.to_owned(), load).await;
        }
        if let Some(stamp) = fresh::scoped_stamp(self.owner())
            && let Some(row) = cache.get(&stamp, &key.to_owned())
        {
            return Ok(Some(row));
        }
        let sql = format!(
            concat!(
                "SELECT s.lanyard_stamp, q.* FROM (SELECT ",
                pg_stamp!(),
                " AS lanyard_stamp) s LEFT JOIN ({}) q ON true"
            ),
            sql
        );
        let row = Box::pin(self.pool.fetch_optional(&self.trips, &sql, params)).await?.ok_or_else(|| {
            CatalogError::Corrupt {
                table: "pg_current_snapshot",
                problem: "the snapshot query returned no row".to_owned(),
            }
        })?;
        let stamp = Stamp::snapshot(row.text("lanyard_stamp")?);
        fresh::keep_stamp(self.owner(), &stamp);
        if row.opt_text("id")?.is_none() {
            return Ok(None);
        }
        let value = parse(&row)?;
        cache.put_at(&stamp, key.to_owned(), value.clone());
        Ok(Some(value))
    }

    /// The API token whose hash is `token_hash` and its principal: from memory while nothing was committed, else in
    /// one statement (the hot path of every authenticated request).
    pub async fn find_token(&self, token_hash: &str) -> Result<Option<(ApiToken, Principal)>> {
        let sql = "SELECT t.id, t.created_at, t.updated_at, t.version, t.display_name, t.principal_id, t.token_hash, \
                   t.last_used_at, t.expires_at, t.revoked_at, p.created_at AS p_created_at, \
                   p.updated_at AS p_updated_at, p.version AS p_version, p.display_name AS p_name, p.role AS p_role \
                   FROM api_tokens t JOIN principals p ON p.id = t.principal_id WHERE t.token_hash = $1";
        let params = vec![Param::Text(token_hash.to_owned())];
        self.hot_read(&self.hot.tokens, token_hash, sql, params, |row| {
            let token: ApiToken = store::read(row)?;
            let principal = Principal {
                meta: Meta {
                    id: token.principal_id,
                    created_at: Timestamp::from_micros(row.int("p_created_at")?),
                    updated_at: Timestamp::from_micros(row.int("p_updated_at")?),
                    version: row.int("p_version")?,
                },
                name: model::parse_name("principals", row.text("p_name")?)?,
                role: model::parse_vocab("principals", "role", &row.text("p_role")?)?,
            };
            Ok((token, principal))
        })
        .await
    }

    /// The connection named `name` with the current names of its credential entry and credential storage, and the
    /// entry's expiry: from memory while nothing was committed, else in one statement (the hot path of
    /// `GET /connections/{name}`). Shared: the same `Arc` for as long as the row is served from memory, so a caller
    /// may keep what it made of it beside it and know it still holds while `Arc::ptr_eq`.
    pub async fn find_connection(&self, name: &str) -> Result<Option<Arc<ConnectionView>>> {
        const SQL: &str = concat!(connection_view!(), " WHERE c.display_name = $1 OR c.display_name = $2");
        // The NFC form (how names are stored now), or the name exactly as given (as an earlier version may have
        // stored it).
        let nfc = lanyard_core::nfc_str(name).into_owned();
        let params = vec![Param::Text(nfc), Param::Text(name.to_owned())];
        self.hot_read(&self.hot.connections, name, SQL, params, |row| store::read_connection_view(row).map(Arc::new))
            .await
    }

    /// Closes every connection (reads after it fail; nothing is served from memory).
    pub async fn close(&self) {
        if let Some(watch) = &self.watch {
            watch.close();
        }
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => db::pg_close(pool).await,
        }
    }
}
