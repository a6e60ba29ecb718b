//! The `local_secrets` table on either driver: opening the pool (lazily), creating the table, and the few
//! statements the vault runs. Every statement uses `$N` placeholders, which SQLite and PostgreSQL both accept.

use std::str::FromStr;
use std::time::Duration;

use lanyard_vault::ErrorKind;
use sqlx::postgres::{PgConnectOptions, PgPool, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow, SqliteSynchronous};
use sqlx::{Postgres, Row as _, Sqlite, Transaction};

const CREATE_SQLITE: &str = "CREATE TABLE IF NOT EXISTS local_secrets (\
     profile TEXT PRIMARY KEY NOT NULL, \
     nonce BLOB NOT NULL, \
     ciphertext BLOB NOT NULL, \
     key_id TEXT NOT NULL, \
     updated_at BIGINT NOT NULL)";

const CREATE_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS local_secrets (\
     profile TEXT PRIMARY KEY NOT NULL, \
     nonce BYTEA NOT NULL, \
     ciphertext BYTEA NOT NULL, \
     key_id TEXT NOT NULL, \
     updated_at BIGINT NOT NULL)";

/// The fingerprint of the master key the table's rows are under: one row, the key id of the master key the vault
/// was first checked with ([`crate::LocalVault::check_master_key`]), replaced by every rotation in the
/// transaction that re-encrypts. A key id, never a key.
const CREATE_KEY_TABLE: &str = "CREATE TABLE IF NOT EXISTS local_master_key (\
     singleton INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1), \
     key_id TEXT NOT NULL, \
     updated_at BIGINT NOT NULL)";

const SELECT_RECORDED_KEY: &str = "SELECT key_id FROM local_master_key WHERE singleton = 1";
const RECORD_KEY_IF_ABSENT: &str = "INSERT INTO local_master_key (singleton, key_id, updated_at) VALUES (1, $1, $2) \
     ON CONFLICT (singleton) DO NOTHING";
const RECORD_KEY: &str = "INSERT INTO local_master_key (singleton, key_id, updated_at) VALUES (1, $1, $2) \
     ON CONFLICT (singleton) DO UPDATE SET key_id = excluded.key_id, updated_at = excluded.updated_at";
const COUNT_BY_KEY: &str =
    "SELECT key_id, CAST(COUNT(*) AS BIGINT) AS n FROM local_secrets GROUP BY key_id ORDER BY n DESC, key_id";

/// The key of the transaction-level advisory lock that serialises the `CREATE TABLE` of nodes starting together
/// (concurrent `CREATE TABLE IF NOT EXISTS` can fail on PostgreSQL's catalog unique indexes). "lanyloc1" in ASCII.
const CREATE_LOCK_KEY: i64 = 0x6c61_6e79_6c6f_6331;

const UPSERT: &str = "INSERT INTO local_secrets (profile, nonce, ciphertext, key_id, updated_at) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (profile) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, \
     key_id = excluded.key_id, updated_at = excluded.updated_at";
const SELECT_ONE: &str = "SELECT profile, nonce, ciphertext, key_id FROM local_secrets WHERE profile = $1";
const SELECT_ALL: &str = "SELECT profile, nonce, ciphertext, key_id FROM local_secrets ORDER BY profile";
const SELECT_NAMES: &str = "SELECT profile FROM local_secrets";
const SELECT_SUMMARIES: &str =
    "SELECT profile, updated_at, CAST(length(ciphertext) AS BIGINT) AS size FROM local_secrets ORDER BY profile";
const DELETE: &str = "DELETE FROM local_secrets WHERE profile = $1";
const UPDATE: &str =
    "UPDATE local_secrets SET nonce = $2, ciphertext = $3, key_id = $4, updated_at = $5 WHERE profile = $1";

/// How the pool is sized and how long a caller waits for a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSettings {
    pub(crate) max_connections: u32,
    pub(crate) acquire_timeout: Duration,
}

/// One stored row.
pub(crate) struct StoredRow {
    pub(crate) profile: String,
    pub(crate) nonce: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) key_id: String,
}

/// A row to write.
pub(crate) struct NewRow<'a> {
    pub(crate) profile: &'a str,
    pub(crate) nonce: &'a [u8],
    pub(crate) ciphertext: &'a [u8],
    pub(crate) key_id: &'a str,
    pub(crate) updated_at: i64,
}

/// Why a URL cannot be opened.
pub(crate) struct UrlError(pub(crate) String);

/// The pool of either driver.
#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// A pool that connects on first use: no I/O happens here, and no task is spawned (so this works outside a
    /// runtime). Idle connections are kept rather than reaped, which also keeps `sqlite::memory:` alive.
    pub(crate) fn connect_lazy(url: &str, settings: PoolSettings) -> Result<Self, UrlError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url).map_err(|e| UrlError(e.to_string()))?;
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            Ok(Self::Sqlite(pool_options::<Sqlite>(settings).connect_lazy_with(options)))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).map_err(|e| UrlError(e.to_string()))?;
            Ok(Self::Postgres(pool_options::<Postgres>(settings).connect_lazy_with(options)))
        } else {
            let scheme = lanyard_core::printable(url.split(':').next().unwrap_or_default(), 32);
            Err(UrlError(format!("unsupported scheme {scheme:?}: use sqlite://path or postgres://user@host/database")))
        }
    }

    /// The directory of the SQLite file, which must exist before the first connection.
    pub(crate) fn sqlite_dir(&self) -> Option<std::path::PathBuf> {
        let Self::Sqlite(pool) = self else { return None };
        let options = pool.connect_options();
        let filename = options.get_filename();
        if filename.to_string_lossy().starts_with("file:") {
            return None; // an in-memory database
        }
        filename.parent().filter(|dir| !dir.as_os_str().is_empty()).map(ToOwned::to_owned)
    }

    /// Creates the tables (`local_secrets`, `local_master_key`) if they do not exist.
    ///
    /// On SQLite the first connections to a new file switch it to WAL mode, which needs an exclusive lock that the
    /// busy timeout does not wait for: processes opening a fresh file together can get "database is locked". That
    /// is retried a bounded number of times with a short growing pause.
    pub(crate) async fn create_table(&self) -> sqlx::Result<()> {
        match self {
            Self::Sqlite(pool) => {
                let mut attempt = 0u32;
                loop {
                    let created = async {
                        sqlx::query(CREATE_SQLITE).execute(pool).await?;
                        sqlx::query(CREATE_KEY_TABLE).execute(pool).await
                    };
                    match created.await {
                        Ok(_) => break,
                        Err(error) if is_sqlite_busy(&error) && attempt < 8 => {
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(2 << attempt)).await;
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CREATE_LOCK_KEY).execute(&mut *tx).await?;
                sqlx::query(CREATE_POSTGRES).execute(&mut *tx).await?;
                sqlx::query(CREATE_KEY_TABLE).execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// The row of `profile`, if any.
    pub(crate) async fn fetch(&self, profile: &str) -> sqlx::Result<Option<StoredRow>> {
        Ok(match self {
            Self::Sqlite(pool) => {
                sqlx::query(SELECT_ONE).bind(profile).fetch_optional(pool).await?.map(|r| sqlite_row(&r)).transpose()?
            }
            Self::Postgres(pool) => {
                sqlx::query(SELECT_ONE).bind(profile).fetch_optional(pool).await?.map(|r| pg_row(&r)).transpose()?
            }
        })
    }

    /// The key id recorded in `local_master_key`, if any.
    pub(crate) async fn recorded_key(&self) -> sqlx::Result<Option<String>> {
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(SELECT_RECORDED_KEY).fetch_optional(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(SELECT_RECORDED_KEY).fetch_optional(pool).await,
        }
    }

    /// Records `key_id` unless a key is recorded already (another node may have been first).
    pub(crate) async fn record_key_if_absent(&self, key_id: &str, updated_at: i64) -> sqlx::Result<()> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query(RECORD_KEY_IF_ABSENT).bind(key_id).bind(updated_at).execute(pool).await?;
            }
            Self::Postgres(pool) => {
                sqlx::query(RECORD_KEY_IF_ABSENT).bind(key_id).bind(updated_at).execute(pool).await?;
            }
        };
        Ok(())
    }

    /// How many rows each key id encrypted, most first.
    pub(crate) async fn rows_by_key(&self) -> sqlx::Result<Vec<(String, i64)>> {
        match self {
            Self::Sqlite(pool) => sqlx::query_as(COUNT_BY_KEY).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_as(COUNT_BY_KEY).fetch_all(pool).await,
        }
    }

    /// Every stored profile name.
    pub(crate) async fn names(&self) -> sqlx::Result<Vec<String>> {
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(SELECT_NAMES).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(SELECT_NAMES).fetch_all(pool).await,
        }
    }

    /// Every stored profile name with its `updated_at` and the length of its ciphertext: no material is read.
    pub(crate) async fn summaries(&self) -> sqlx::Result<Vec<(String, i64, i64)>> {
        match self {
            Self::Sqlite(pool) => sqlx::query_as(SELECT_SUMMARIES).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_as(SELECT_SUMMARIES).fetch_all(pool).await,
        }
    }

    /// Deletes the row of `profile`, if any.
    pub(crate) async fn delete(&self, profile: &str) -> sqlx::Result<()> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query(DELETE).bind(profile).execute(pool).await?;
            }
            Self::Postgres(pool) => {
                sqlx::query(DELETE).bind(profile).execute(pool).await?;
            }
        };
        Ok(())
    }

    /// Begins a write transaction holding the table's write lock: on SQLite `BEGIN IMMEDIATE` (the database's one
    /// write lock); on PostgreSQL `ROW EXCLUSIVE` for a write, which a rotation's `EXCLUSIVE` excludes, or
    /// `EXCLUSIVE` for a rotation, which excludes every other writer but no reader.
    pub(crate) async fn begin_write(&self, exclusive: bool) -> sqlx::Result<WriteTx> {
        Ok(match self {
            Self::Sqlite(pool) => WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let lock = if exclusive {
                    "LOCK TABLE local_secrets IN EXCLUSIVE MODE"
                } else {
                    "LOCK TABLE local_secrets IN ROW EXCLUSIVE MODE"
                };
                sqlx::query(lock).execute(&mut *tx).await?;
                WriteTx::Postgres(tx)
            }
        })
    }

    /// Closes every connection.
    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

fn pool_options<DB: sqlx::Database>(settings: PoolSettings) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(None)
        .max_lifetime(None)
}

/// An open write transaction; dropping it rolls back.
pub(crate) enum WriteTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

macro_rules! bind_row {
    ($sql:expr, $row:expr) => {
        sqlx::query($sql)
            .bind($row.profile)
            .bind($row.nonce)
            .bind($row.ciphertext)
            .bind($row.key_id)
            .bind($row.updated_at)
    };
}

impl WriteTx {
    /// Inserts or replaces a row.
    pub(crate) async fn upsert(&mut self, row: NewRow<'_>) -> sqlx::Result<()> {
        match self {
            Self::Sqlite(tx) => {
                bind_row!(UPSERT, row).execute(&mut **tx).await?;
            }
            Self::Postgres(tx) => {
                bind_row!(UPSERT, row).execute(&mut **tx).await?;
            }
        };
        Ok(())
    }

    /// Replaces an existing row's ciphertext.
    pub(crate) async fn update(&mut self, row: NewRow<'_>) -> sqlx::Result<()> {
        match self {
            Self::Sqlite(tx) => {
                bind_row!(UPDATE, row).execute(&mut **tx).await?;
            }
            Self::Postgres(tx) => {
                bind_row!(UPDATE, row).execute(&mut **tx).await?;
            }
        };
        Ok(())
    }

    /// Records `key_id` as the key every row is under (a rotation, in its transaction).
    pub(crate) async fn record_key(&mut self, key_id: &str, updated_at: i64) -> sqlx::Result<()> {
        match self {
            Self::Sqlite(tx) => {
                sqlx::query(RECORD_KEY).bind(key_id).bind(updated_at).execute(&mut **tx).await?;
            }
            Self::Postgres(tx) => {
                sqlx::query(RECORD_KEY).bind(key_id).bind(updated_at).execute(&mut **tx).await?;
            }
        };
        Ok(())
    }

    /// Every row, by profile.
    pub(crate) async fn all_rows(&mut self) -> sqlx::Result<Vec<StoredRow>> {
        match self {
            Self::Sqlite(tx) => sqlx::query(SELECT_ALL).fetch_all(&mut **tx).await?.iter().map(sqlite_row).collect(),
            Self::Postgres(tx) => sqlx::query(SELECT_ALL).fetch_all(&mut **tx).await?.iter().map(pg_row).collect(),
        }
    }

    /// Commits.
    pub(crate) async fn commit(self) -> sqlx::Result<()> {
        match self {
            Self::Sqlite(tx) => tx.commit().await,
            Self::Postgres(tx) => tx.commit().await,
        }
    }
}

fn sqlite_row(row: &SqliteRow) -> sqlx::Result<StoredRow> {
    Ok(StoredRow {
        profile: row.try_get("profile")?,
        nonce: row.try_get("nonce")?,
        ciphertext: row.try_get("ciphertext")?,
        key_id: row.try_get("key_id")?,
    })
}

fn pg_row(row: &PgRow) -> sqlx::Result<StoredRow> {
    Ok(StoredRow {
        profile: row.try_get("profile")?,
        nonce: row.try_get("nonce")?,
        ciphertext: row.try_get("ciphertext")?,
        key_id: row.try_get("key_id")?,
    })
}

/// Whether SQLite answered busy or locked.
fn is_sqlite_busy(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else { return false };
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && db.code().and_then(|code| code.parse::<u32>().ok()).is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// The vault's error kind for a database error. Unavailable (worth a retry): connection and I/O failures, pool
/// timeouts, PostgreSQL connection exceptions (class 08), insufficient resources (53), operator intervention
/// (57P), serialization failures and deadlocks, SQLite busy/locked, I/O errors and files it cannot open.
/// Permission denied: PostgreSQL authentication failures (class 28) and missing privileges (42501). Invalid
/// configuration: a PostgreSQL database that does not exist (3D000). Anything else is unexpected.
pub(crate) fn error_kind(error: &sqlx::Error) -> ErrorKind {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => ErrorKind::Unavailable,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes (extended ones carry them in the low byte): BUSY 5, LOCKED 6, IOERR 10,
                // CANTOPEN 14.
                match code.parse::<u32>().map(|c| c & 0xff) {
                    Ok(5 | 6 | 10 | 14) => ErrorKind::Unavailable,
                    _ => ErrorKind::Unexpected,
                }
            } else if code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || matches!(code, "40001" | "40P01")
            {
                ErrorKind::Unavailable
            } else if code.starts_with("28") || code == "42501" {
                ErrorKind::PermissionDenied
            } else if code == "3D000" {
                ErrorKind::ConfigInvalid
            } else {
                ErrorKind::Unexpected
            }
        }
        _ => ErrorKind::Unexpected,
    }
}
