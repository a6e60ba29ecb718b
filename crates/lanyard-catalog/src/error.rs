//! Typed catalog errors.

use lanyard_core::{ErrorKind, ObjectKind};

/// `Result` with [`CatalogError`].
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// What can go wrong in the catalog. Messages name the object kind and quote names.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// No object with that name or id.
    #[error("{kind} {name:?} does not exist")]
    NotFound {
        /// The kind of object.
        kind: ObjectKind,
        /// Its name, or its id when looked up by id.
        name: String,
    },
    /// An object with that name already exists.
    #[error("{kind} {name:?} already exists")]
    AlreadyExists {
        /// The kind of object.
        kind: ObjectKind,
        /// The name.
        name: String,
    },
    /// The row changed since it was read (optimistic concurrency).
    #[error("{kind} {name:?} was changed concurrently: expected version {expected}, found {actual}")]
    VersionConflict {
        /// The kind of object.
        kind: ObjectKind,
        /// Its name.
        name: String,
        /// The version the caller read.
        expected: i64,
        /// The version now stored.
        actual: i64,
    },
    /// The row refers to an object that does not exist.
    #[error("{kind} {id} referenced by {referrer} {name:?} does not exist")]
    MissingReference {
        /// The kind of the missing object.
        kind: ObjectKind,
        /// Its id.
        id: String,
        /// The kind of the referring object.
        referrer: ObjectKind,
        /// The referring object's name.
        name: String,
    },
    /// A change that read its row outside a transaction ([`crate::optimistic!`]) found, at its write, that another
    /// change had committed to the row since: it is run again on the new row.
    #[error("{kind} {name:?} was changed by another writer at the same moment; try again")]
    Overtaken {
        /// The kind of object.
        kind: ObjectKind,
        /// Its name.
        name: String,
    },
    /// The object is still referenced and cannot be deleted.
    #[error("{kind} {name:?} is still referenced by {}", dependents.iter().map(|(k, n)| format!("{k} {n:?}")).collect::<Vec<_>>().join(", "))]
    StillReferenced {
        /// The kind of object.
        kind: ObjectKind,
        /// Its name.
        name: String,
        /// The dependents, by kind and name.
        dependents: Vec<(ObjectKind, String)>,
    },
    /// A list was asked to start after a key that no list of this kind has (a continuation token of another list,
    /// or made up).
    #[error("the continuation token is not one of a {kind} list: {problem}")]
    InvalidCursor {
        /// The kind of object listed.
        kind: ObjectKind,
        /// What is wrong with it.
        problem: String,
    },
    /// A stored value could not be read back (corrupt row, unknown enum value).
    #[error("catalog row in {table} is invalid: {problem}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A closed-vocabulary column holds a value this build does not know (never read as a default).
    #[error("catalog row in {table} is invalid: column {column} holds unknown {what} {value:?}")]
    UnknownValue {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The vocabulary (`entry type`, `role`, …).
        what: &'static str,
        /// The stored value (printable, shortened).
        value: String,
    },
    /// A migration that was applied has been changed since, or the catalog is newer than this build.
    #[error("catalog migration {version} ({name}): {problem}")]
    Migration {
        /// The migration's number.
        version: i64,
        /// Its name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The SQLite catalog file exists but is not a Lanyard catalog (empty, truncated, not SQLite, another
    /// program's database); nothing was written to it.
    #[error(
        "catalog file {path:?} is not a Lanyard catalog: {problem}. Nothing was read or written: restore the \
         catalog from a backup, or move it away together with its -wal and -shm files (where present) to start \
         with a new, empty catalog"
    )]
    NotACatalog {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The catalog URL is not one we can open.
    #[error("invalid catalog URL: {0}")]
    InvalidUrl(String),
    /// A database error (connection lost, I/O, constraint the catalog did not anticipate).
    #[error("catalog database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The watcher connection that tells whether anything was committed (SQLite) could not be opened or read.
    #[error("catalog change watcher: {0}")]
    Watch(String),
}

impl CatalogError {
    /// The shared error kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Self::VersionConflict { .. } | Self::Overtaken { .. } | Self::StillReferenced { .. } => ErrorKind::Conflict,
            Self::MissingReference { .. }
            | Self::InvalidCursor { .. }
            | Self::InvalidUrl(_)
            | Self::NotACatalog { .. } => ErrorKind::Invalid,
            Self::Corrupt { .. } | Self::UnknownValue { .. } | Self::Migration { .. } => ErrorKind::Internal,
            Self::Database(_) | Self::Watch(_) => ErrorKind::BackendUnavailable,
        }
    }

    /// The SQLSTATE (PostgreSQL) or extended result code (SQLite) of a database error, if this is one.
    pub(crate) fn sqlstate(&self) -> Option<String> {
        let Self::Database(sqlx::Error::Database(db)) = self else { return None };
        db.code().map(|code| code.into_owned())
    }

    /// Whether retrying the whole transaction may succeed: a serialization failure or deadlock on PostgreSQL, a
    /// busy or locked database on SQLite, an optimistic change overtaken by another ([`CatalogError::Overtaken`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Overtaken { .. })
            || matches!(self.sqlstate().as_deref(), Some("40001" | "40P01" | "5" | "6" | "261" | "262" | "517"))
    }
}

impl From<sqlx::Error> for CatalogError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}
