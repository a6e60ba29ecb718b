//! The thin portable layer over the two drivers: one SQL text (with `$N` placeholders, which both SQLite and
//! PostgreSQL accept), parameters as [`Param`], rows read through [`Row`]'s typed accessors. Every call that sends
//! statements to the database counts one round trip in [`RoundTrips`].

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool::managed::{Metrics, Object, RecycleError, RecycleResult};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow, PgTransactionManager};
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Connection as _, Row as _, Sqlite, Transaction, TransactionManager as _};

use crate::error::{CatalogError, Result};

/// A value bound to a `$N` placeholder; what [`crate::Record::columns`] pairs with each column.
#[derive(Debug, Clone)]
pub enum Param {
    /// TEXT, not null.
    Text(String),
    /// TEXT or NULL.
    OptText(Option<String>),
    /// BIGINT, not null.
    Int(i64),
    /// BIGINT or NULL.
    OptInt(Option<i64>),
    /// BOOLEAN (INTEGER 0/1 on SQLite).
    Bool(bool),
}

/// One result row of either driver, read through typed accessors.
pub struct Row(RowInner);

enum RowInner {
    Sqlite(SqliteRow),
    Postgres(PgRow),
    /// A row as a JSON object of its columns: a version the history keeps (`audit_log.state`, see `history.rs`).
    Json(serde_json::Map<String, serde_json::Value>),
}

macro_rules! accessor {
    ($name:ident, $ty:ty, $json:path) => {
        #[doc = concat!("The column `column` as `", stringify!($ty), "`.")]
        pub fn $name(&self, column: &str) -> Result<$ty> {
            match &self.0 {
                RowInner::Sqlite(row) => row.try_get::<$ty, _>(column).map_err(CatalogError::from),
                RowInner::Postgres(row) => row.try_get::<$ty, _>(column).map_err(CatalogError::from),
                RowInner::Json(object) => $json(object.get(column)).ok_or_else(|| CatalogError::Corrupt {
                    table: "audit_log",
                    problem: format!("the state's {column:?} is missing or not a {}", stringify!($ty)),
                }),
            }
        }
    };
}

/// The JSON forms of a column's value: both databases write TEXT as a string and BIGINT as a number; a boolean is
/// `true`/`false` from PostgreSQL and `1`/`0` from SQLite; an absent key reads as NULL only for nullable columns.
mod json {
    use serde_json::Value;

    pub(super) fn text(value: Option<&Value>) -> Option<String> {
        value?.as_str().map(str::to_owned)
    }
    pub(super) fn opt_text(value: Option<&Value>) -> Option<Option<String>> {
        match value {
            None | Some(Value::Null) => Some(None),
            Some(value) => text(Some(value)).map(Some),
        }
    }
    pub(super) fn int(value: Option<&Value>) -> Option<i64> {
        value?.as_i64()
    }
    pub(super) fn opt_int(value: Option<&Value>) -> Option<Option<i64>> {
        match value {
            None | Some(Value::Null) => Some(None),
            Some(value) => int(Some(value)).map(Some),
        }
    }
    pub(super) fn boolean(value: Option<&Value>) -> Option<bool> {
        match value? {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => n.as_i64().map(|n| n != 0),
            _ => None,
        }
    }
}

impl Row {
    accessor!(text, String, json::text);
    accessor!(opt_text, Option<String>, json::opt_text);
    accessor!(int, i64, json::int);
    accessor!(opt_int, Option<i64>, json::opt_int);
    accessor!(boolean, bool, json::boolean);

    /// A row read from a JSON object of its columns (a version the history keeps).
    pub(crate) fn from_json(object: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(RowInner::Json(object))
    }
}

/// How many round trips a catalog handle (and its clones) made to its database: each call that sends statements
/// and waits for their answer — a query, BEGIN, COMMIT, ROLLBACK — counts one, whatever the number of statements it
/// sends (a SQLite batch is one hand-off to the connection's worker thread). A relaxed atomic add per call; read by
/// tests that hold a path to its number of round trips ([`crate::Catalog::round_trips`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct RoundTrips(Arc<AtomicU64>);

impl RoundTrips {
    /// Counts one round trip.
    pub(crate) fn count(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The round trips so far.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// An open transaction on either driver, and the counter of its round trips.
pub(crate) struct Conn {
    tx: ConnTx,
    trips: RoundTrips,
}

enum ConnTx {
    Sqlite(Transaction<'static, Sqlite>),
    /// A PostgreSQL connection in a transaction its BEGIN opened.
    Postgres(PgHandle),
    /// A PostgreSQL connection outside any transaction: each statement commits on its own (see
    /// [`crate::Catalog::begin_autocommit`]).
    PostgresAuto(PgHandle),
}

macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Text(v) => query.bind(v),
                Param::OptText(v) => query.bind(v),
                Param::Int(v) => query.bind(v),
                Param::OptInt(v) => query.bind(v),
                Param::Bool(v) => query.bind(v),
            };
        }
        query
    }};
}

impl Conn {
    /// Whether this is a PostgreSQL transaction (which takes a data-modifying `WITH` where SQLite takes a batch).
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.tx, ConnTx::Postgres(_) | ConnTx::PostgresAuto(_))
    }

    /// Without a transaction a statement may commit a change as it returns: the request's kept stamp (see
    /// `fresh.rs`) is from before it, and its later reads must see the change.
    fn forget_if_autocommit(&self) {
        if self.is_autocommit() {
            crate::fresh::forget_stamp();
        }
    }

    /// Whether each statement commits on its own (no transaction around them).
    pub(crate) fn is_autocommit(&self) -> bool {
        matches!(self.tx, ConnTx::PostgresAuto(_))
    }

    /// How a name column is written where it orders or pages a list: code-point order on both databases (SQLite's
    /// BINARY is that already; on PostgreSQL `COLLATE "C"`, indexed by migration 0005), so a page ends and the next
    /// starts at the same place whatever the database's collation.
    pub(crate) fn in_name_order(&self, column: &str) -> String {
        match self.tx {
            ConnTx::Sqlite(_) => column.to_owned(),
            ConnTx::Postgres(_) | ConnTx::PostgresAuto(_) => format!("{column} COLLATE \"C\""),
        }
    }

    /// The connection the next statement runs on: the transaction's, or the bare one of an autocommit handle. Its
    /// round trip is counted here, and without a transaction the request's kept stamp is forgotten first (see
    /// [`Conn::forget_if_autocommit`]).
    fn statement(&mut self) -> Driver<'_> {
        self.trips.count();
        self.forget_if_autocommit();
        match &mut self.tx {
            ConnTx::Sqlite(tx) => Driver::Sqlite(tx),
            ConnTx::Postgres(handle) | ConnTx::PostgresAuto(handle) => Driver::Postgres(handle),
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64> {
        Ok(match self.statement() {
            Driver::Sqlite(c) => bind_params!(sqlx::query(sql), params).execute(c).await?.rows_affected(),
            Driver::Postgres(h) => h.run(|c| bind_params!(sqlx::query(sql), params).execute(c)).await?.rows_affected(),
        })
    }

    /// Runs a query; returns every row. On SQLite `sql` may be a batch of statements separated by `;`, sent in one
    /// hand-off (a `$N` is the N-th of `params` in every statement of it); the rows are those of all of them.
    pub(crate) async fn fetch_all(&mut self, sql: &str, params: Vec<Param>) -> Result<Vec<Row>> {
        Ok(match self.statement() {
            Driver::Sqlite(c) => bind_params!(sqlx::query(sql), params)
                .fetch_all(c)
                .await?
                .into_iter()
                .map(|r| Row(RowInner::Sqlite(r)))
                .collect(),
            Driver::Postgres(h) => h
                .run(|c| bind_params!(sqlx::query(sql), params).fetch_all(c))
                .await?
                .into_iter()
                .map(|r| Row(RowInner::Postgres(r)))
                .collect(),
        })
    }

    /// Runs a query; returns its first row, if any.
    pub(crate) async fn fetch_optional(&mut self, sql: &str, params: Vec<Param>) -> Result<Option<Row>> {
        Ok(match self.statement() {
            Driver::Sqlite(c) => {
                bind_params!(sqlx::query(sql), params).fetch_optional(c).await?.map(|r| Row(RowInner::Sqlite(r)))
            }
            Driver::Postgres(h) => h
                .run(|c| bind_params!(sqlx::query(sql), params).fetch_optional(c))
                .await?
                .map(|r| Row(RowInner::Postgres(r))),
        })
    }

    /// Runs several statements separated by `;` (migrations).
    pub(crate) async fn execute_script(&mut self, sql: &str) -> Result<()> {
        match self.statement() {
            Driver::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(drop)?,
            Driver::Postgres(h) => h.run(|c| sqlx::raw_sql(sql).execute(c)).await.map(drop)?,
        }
        Ok(())
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<()> {
        self.end(true).await
    }

    /// Rolls back.
    pub(crate) async fn rollback(self) -> Result<()> {
        self.end(false).await
    }

    /// Ends the transaction with COMMIT or ROLLBACK: one round trip. Without a transaction (autocommit) every
    /// statement committed already and there is nothing to end: none.
    async fn end(self, commit: bool) -> Result<()> {
        let Conn { tx, trips } = self;
        match tx {
            ConnTx::PostgresAuto(_) => return Ok(()),
            ConnTx::Sqlite(tx) => {
                trips.count();
                if commit { tx.commit().await? } else { tx.rollback().await? }
            }
            ConnTx::Postgres(mut h) => {
                trips.count();
                h.run(if commit { PgTransactionManager::commit } else { PgTransactionManager::rollback }).await?;
            }
        }
        Ok(())
    }
}

/// The driver connection one statement runs on.
enum Driver<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgHandle),
}

/// The connection pool of either driver.
#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The pool of PostgreSQL catalog connections. Not sqlx's own pool: that one pings every connection as it comes
/// back (a hard-coded round trip per use, an eighth of a PUT's server time); this one hands a connection back as it
/// was left, and [`PgHandle`] sees to it that only a clean one is left: no transaction open, no answer unread.
pub(crate) type PgPool = deadpool::managed::Pool<PgManager>;

/// Opens the PostgreSQL catalog connections of a [`PgPool`], and pings one last lent [`crate::PING_AFTER_IDLE`] ago
/// or more (deadpool tells when a connection was last handed out, not when it came back, so one held that long is
/// pinged too) before it is lent again, so that after a failover or a server restart a stale one is replaced, not
/// failed. One lent a moment ago is not pinged: a ping per use would be a second round trip for each hot read.
pub(crate) struct PgManager {
    pub(crate) options: PgConnectOptions,
}

impl deadpool::managed::Manager for PgManager {
    type Type = PgConnection;
    type Error = sqlx::Error;

    /// Connects, trying again with a growing pause for [`PG_CONNECT_TIMEOUT`] while the server refuses connections,
    /// has too many (`53300`, also while it notices connections just dropped) or is starting up (`57P03`), as
    /// sqlx's own pool does: a restarting PostgreSQL costs a wait, not a failed request. Past that, the last error
    /// (the cause, not a timeout); any other error at once.
    async fn create(&self) -> Result<PgConnection, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + PG_CONNECT_TIMEOUT;
        let mut pause = Duration::from_millis(10);
        loop {
            let error = match tokio::time::timeout_at(deadline, PgConnection::connect_with(&self.options)).await {
                Ok(Ok(connection)) => return Ok(connection),
                Ok(Err(error)) => error,
                Err(_) => return Err(sqlx::Error::PoolTimedOut),
            };
            let transient = match &error {
                sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
                sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("53300" | "57P03")),
                _ => false,
            };
            if !transient || tokio::time::Instant::now() + pause >= deadline {
                return Err(error);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    async fn recycle(&self, connection: &mut PgConnection, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if PgTransactionManager::get_transaction_depth(connection) != 0 {
            return Err(RecycleError::message("left inside a transaction"));
        }
        if metrics.last_used() < crate::PING_AFTER_IDLE {
            return Ok(());
        }
        connection.ping().await.map_err(|error| {
            tracing::info!(%error, "an idle catalog connection is gone; replacing it");
            RecycleError::Backend(error)
        })
    }
}

/// How long [`PgManager::create`] keeps trying to connect.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long taking a connection from the pool may take in all: waiting for a free one, pinging idle ones (each ping
/// that fails moves on to the next) and connecting. A little more than [`PG_CONNECT_TIMEOUT`], so that a connection
/// that cannot be made fails with its cause.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(12);

/// How long a rollback of a transaction dropped open may take before its connection is closed instead.
const PG_ROLLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the pool of a PostgreSQL catalog: at most 16 connections, opened on first use.
pub(crate) fn pg_pool(options: PgConnectOptions) -> PgPool {
    deadpool::managed::Pool::builder(PgManager { options })
        .max_size(16)
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .expect("a runtime is given")
}

/// Takes a connection from `pool`, within [`PG_ACQUIRE_TIMEOUT`]. Dropping deadpool's `get` half-way is safe: a
/// connection it was checking is detached.
async fn pg_get(pool: &PgPool) -> Result<PgHandle> {
    use deadpool::managed::PoolError;
    let Ok(got) = tokio::time::timeout(PG_ACQUIRE_TIMEOUT, pool.get()).await else {
        return Err(sqlx::Error::PoolTimedOut.into());
    };
    match got {
        Ok(object) => Ok(PgHandle { object: Some(object), sending: false }),
        Err(PoolError::Backend(error)) => Err(error.into()),
        Err(PoolError::Closed) => Err(sqlx::Error::PoolClosed.into()),
        Err(PoolError::Timeout(_) | PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_)) => {
            Err(sqlx::Error::PoolTimedOut.into())
        }
    }
}

/// Runs one query on `pool` outside any transaction and returns its one text value: one round trip.
pub(crate) async fn pg_scalar(pool: &PgPool, trips: &RoundTrips, sql: &'static str) -> Result<String> {
    trips.count();
    let mut handle = pg_get(pool).await?;
    Ok(handle.run(|c| sqlx::query_scalar(sql).fetch_one(c)).await?)
}

/// Closes every idle connection of `pool` politely (the server sees a Terminate, not a dropped socket), then the
/// pool: connections in use are closed as they come back.
pub(crate) async fn pg_close(pool: &PgPool) {
    let idle = pool.retain(|_, _| false).removed;
    pool.close();
    for connection in idle {
        let _ = connection.close().await;
    }
}

/// A connection taken from a [`PgPool`]. Dropped, it goes back to the pool only as it was found there: one dropped
/// while a statement's answer was still coming (its future was cancelled) is closed, and one dropped inside a
/// transaction is rolled back first, on a task of its own, and closed if that fails.
pub(crate) struct PgHandle {
    object: Option<Object<PgManager>>,
    /// A statement was sent and its whole answer not yet read.
    sending: bool,
}

impl PgHandle {
    /// Runs `statement` on the connection. Until it answered, the connection is marked as sending: if this future is
    /// dropped before, so is the connection. It stays marked after an error other than the server's answer to the
    /// statement (a `Database` error that does not end the session, or no row where one was wanted): an I/O or
    /// protocol error leaves the connection broken or out of step, and sqlx never marks it so itself, so only
    /// dropping it keeps the pool from lending it again.
    async fn run<'c, T, F>(&'c mut self, statement: impl FnOnce(&'c mut PgConnection) -> F) -> sqlx::Result<T>
    where
        F: Future<Output = sqlx::Result<T>>,
    {
        let PgHandle { object, sending } = self;
        *sending = true;
        let answer = statement(object.as_mut().expect("taken only on drop")).await;
        let in_step = match &answer {
            Ok(_) | Err(sqlx::Error::RowNotFound) => true,
            // Class 08 (connection exception) and 57P (the server ending the session: shutdown, terminated by an
            // administrator) come with the connection's end.
            Err(sqlx::Error::Database(error)) => {
                !error.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
            }
            Err(_) => false,
        };
        if in_step {
            *sending = false;
        }
        answer
    }
}

impl Drop for PgHandle {
    fn drop(&mut self) {
        let Some(mut object) = self.object.take() else { return };
        if self.sending {
            drop(Object::take(object));
            return;
        }
        if PgTransactionManager::get_transaction_depth(&object) == 0 {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let rollback = PgTransactionManager::rollback(&mut object);
                    if !matches!(tokio::time::timeout(PG_ROLLBACK_TIMEOUT, rollback).await, Ok(Ok(()))) {
                        drop(Object::take(object));
                    }
                });
            }
            Err(_) => drop(Object::take(object)),
        }
    }
}

impl Pool {
    /// Begins a transaction that will write: SQLite takes the write lock at once (`BEGIN IMMEDIATE`), so a
    /// transaction never fails half-way on lock upgrade; PostgreSQL runs SERIALIZABLE.
    pub(crate) async fn begin_write(&self, trips: &RoundTrips) -> Result<Conn> {
        self.begin(trips, "BEGIN IMMEDIATE", "BEGIN ISOLATION LEVEL SERIALIZABLE").await
    }

    /// Begins the transaction that applies the migrations. On PostgreSQL it runs READ COMMITTED, so that each
    /// statement sees what committed before it: the caller takes the migration lock first, and every look at a
    /// table after it sees the work of a node that held the lock before (a SERIALIZABLE or REPEATABLE READ
    /// transaction would keep the snapshot taken by the lock statement itself, before that node committed).
    pub(crate) async fn begin_migration(&self, trips: &RoundTrips) -> Result<Conn> {
        self.begin(trips, "BEGIN IMMEDIATE", "BEGIN ISOLATION LEVEL READ COMMITTED").await
    }

    /// Begins a transaction with the BEGIN statement of its driver: one round trip.
    async fn begin(&self, trips: &RoundTrips, sqlite: &'static str, postgres: &'static str) -> Result<Conn> {
        trips.count();
        let tx = match self {
            Pool::Sqlite(pool) => ConnTx::Sqlite(pool.begin_with(sqlite).await?),
            Pool::Postgres(pool) => {
                let mut handle = pg_get(pool).await?;
                handle.run(|c| PgTransactionManager::begin(c, Some(Cow::Borrowed(postgres)))).await?;
                ConnTx::Postgres(handle)
            }
        };
        Ok(Conn { tx, trips: trips.clone() })
    }

    /// Runs one query outside any explicit transaction (a single statement is its own consistent snapshot) and
    /// returns its first row: one round trip instead of BEGIN, SELECT, ROLLBACK.
    pub(crate) async fn fetch_optional(
        &self,
        trips: &RoundTrips,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<Option<Row>> {
        trips.count();
        Ok(match self {
            Pool::Sqlite(pool) => {
                bind_params!(sqlx::query(sql), params).fetch_optional(pool).await?.map(|r| Row(RowInner::Sqlite(r)))
            }
            Pool::Postgres(pool) => {
                let mut handle = pg_get(pool).await?;
                handle
                    .run(|c| bind_params!(sqlx::query(sql), params).fetch_optional(c))
                    .await?
                    .map(|r| Row(RowInner::Postgres(r)))
            }
        })
    }

    /// A PostgreSQL connection outside any transaction (`None` on SQLite): no BEGIN, no COMMIT, each statement
    /// its own transaction (READ COMMITTED, the server's default).
    pub(crate) async fn autocommit(&self, trips: &RoundTrips) -> Result<Option<Conn>> {
        match self {
            Pool::Sqlite(_) => Ok(None),
            Pool::Postgres(pool) => {
                Ok(Some(Conn { tx: ConnTx::PostgresAuto(pg_get(pool).await?), trips: trips.clone() }))
            }
        }
    }

    /// Begins a read-only transaction with a consistent snapshot.
    pub(crate) async fn begin_read(&self, trips: &RoundTrips) -> Result<Conn> {
        self.begin(trips, "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await
    }
}
