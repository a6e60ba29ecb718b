//! Reads served from memory while nothing has been committed: the catalog's [`Stamp`] and the [`Fresh`] cache.
//!
//! The invariant (ARCHITECTURE.md, "Freshness"): a change committed before a read starts is seen by that read, in
//! this process and in any other sharing the catalog. A cache may serve a row only when it can prove that nothing
//! was committed since the row was read.
//!
//! On a SQLite file the proof is `PRAGMA data_version` of a watcher connection that never writes: SQLite changes
//! it whenever any other connection, of this process or another, commits to the file. It is read synchronously on
//! the calling thread (a mutex and one step of a prepared statement, about a microsecond: no hand-off to a driver
//! thread). A row is cached with the stamp read *before* it was loaded; a later read whose stamp is the same has
//! seen no commit since that load started, so the row is current for it. Any other stamp empties the cache first.
//!
//! PostgreSQL and in-memory SQLite catalogs have no such stamp ([`crate::Catalog::stamp`] is `None`): there every
//! read goes to the database, one statement, as before.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::Result;

/// A catalog-wide stamp: two equal stamps of the same catalog mean nothing was committed between their reads.
/// Stamps only grow (SQLite's `data_version` counts the changes the watcher has seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(i64);

/// The watcher connection of a SQLite catalog file.
pub(crate) struct Watch {
    /// `None` once closed.
    connection: Mutex<Option<rusqlite::Connection>>,
}

impl Watch {
    /// Opens a watcher on the SQLite file at `path` (it exists: the pool opened and migrated it). It is opened
    /// read-write (a read-only connection to a WAL database needs the `-shm` file to exist already) and then made
    /// `query_only`, so it cannot write.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = rusqlite::Connection::open_with_flags(path, flags).map_err(watch_error)?;
        connection.busy_timeout(Duration::from_secs(1)).map_err(watch_error)?;
        connection.pragma_update(None, "query_only", true).map_err(watch_error)?;
        let watch = Self { connection: Mutex::new(Some(connection)) };
        watch.stamp()?;
        Ok(watch)
    }

    /// The current stamp.
    pub(crate) fn stamp(&self) -> Result<Stamp> {
        let connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let connection = connection.as_ref().ok_or_else(|| crate::CatalogError::Watch("closed".into()))?;
        let mut statement = connection.prepare_cached("PRAGMA data_version").map_err(watch_error)?;
        statement.query_row([], |row| row.get::<_, i64>(0)).map(Stamp).map_err(watch_error)
    }

    /// Closes the watcher connection, before the pool closes its own: the last connection to close checkpoints
    /// the WAL into the file and removes it.
    pub(crate) fn close(&self) {
        drop(self.connection.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

fn watch_error(error: rusqlite::Error) -> crate::CatalogError {
    crate::CatalogError::Watch(error.to_string())
}

/// How many rows a [`Fresh`] cache holds; a full cache is emptied before the next insert (the rows are re-read on
/// demand, so this bounds memory, not correctness).
pub const FRESH_CAPACITY: usize = 16_384;

/// Rows read from the catalog, served while the catalog's [`Stamp`] is the one they were read at. Use it through
/// [`crate::Catalog::fresh`]. Only rows that exist are cached (a miss is read again), so unknown keys sent by a
/// client cannot fill it.
pub struct Fresh<K, V> {
    state: Mutex<State<K, V>>,
}

struct State<K, V> {
    stamp: Option<Stamp>,
    rows: HashMap<K, V>,
}

impl<K, V> Default for Fresh<K, V> {
    fn default() -> Self {
        Self { state: Mutex::new(State { stamp: None, rows: HashMap::new() }) }
    }
}

impl<K, V> std::fmt::Debug for Fresh<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("Fresh").field("stamp", &state.stamp).field("rows", &state.rows.len()).finish()
    }
}

impl<K: Eq + Hash, V: Clone> Fresh<K, V> {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The row cached for `key` at `stamp`. A cache at an older stamp is emptied and moves to `stamp`; a read
    /// holding an older stamp than the cache's (it was overtaken) finds nothing and changes nothing.
    pub(crate) fn get(&self, stamp: Stamp, key: &K) -> Option<V> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.stamp {
            Some(current) if current == stamp => state.rows.get(key).cloned(),
            Some(current) if current > stamp => None,
            _ => {
                state.rows.clear();
                state.stamp = Some(stamp);
                None
            }
        }
    }

    /// Caches `value`, read after `stamp` was taken, unless the cache has moved to another stamp meanwhile.
    pub(crate) fn put(&self, stamp: Stamp, key: K, value: V) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.stamp != Some(stamp) {
            return;
        }
        if state.rows.len() >= FRESH_CAPACITY {
            state.rows.clear();
        }
        state.rows.insert(key, value);
    }

    /// How many rows it holds (for tests).
    pub fn len(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).rows.len()
    }

    /// Whether it holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_served_only_at_the_stamp_it_was_read_at() {
        let cache: Fresh<&str, i32> = Fresh::new();
        assert_eq!(cache.get(Stamp(1), &"a"), None);
        cache.put(Stamp(1), "a", 1);
        assert_eq!(cache.get(Stamp(1), &"a"), Some(1));
        // A commit: the stamp moves, the row is gone.
        assert_eq!(cache.get(Stamp(2), &"a"), None);
        assert!(cache.is_empty());
        // A load that started before the move may not fill the cache at the new stamp.
        cache.put(Stamp(1), "a", 1);
        assert_eq!(cache.get(Stamp(2), &"a"), None);
        cache.put(Stamp(2), "a", 2);
        assert_eq!(cache.get(Stamp(2), &"a"), Some(2));
        // A read that was overtaken neither finds the newer row nor takes the cache back.
        assert_eq!(cache.get(Stamp(1), &"a"), None);
        assert_eq!(cache.get(Stamp(2), &"a"), Some(2));
    }

    #[test]
    fn a_full_cache_is_emptied_before_the_next_row() {
        let cache: Fresh<usize, usize> = Fresh::new();
        assert_eq!(cache.get(Stamp(7), &0), None);
        for i in 0..FRESH_CAPACITY {
            cache.put(Stamp(7), i, i);
        }
        assert_eq!(cache.len(), FRESH_CAPACITY);
        cache.put(Stamp(7), FRESH_CAPACITY, 0);
        assert_eq!(cache.len(), 1);
    }
}
