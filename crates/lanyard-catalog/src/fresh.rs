//! Reads served from memory while nothing has been committed: the catalog's [`Stamp`] and the [`Fresh`] cache.
//!
//! The invariant (ARCHITECTURE.md, "Freshness"): a change committed before a read starts is seen by that read, in
//! this process and in any other sharing the catalog. A cache may serve a row only when it can prove that nothing
//! was committed since the row was read.
//!
//! On a SQLite file the proof is `PRAGMA data_version` of a watcher connection that never writes: SQLite changes it
//! whenever any other connection, of this process or another, commits to the file. It is read synchronously on the
//! calling thread (a mutex and one step of a prepared statement: a read transaction of a few microseconds, no hand-off
//! to a driver thread, and no wait: a busy file means no stamp). Most stamps do not even need that: every commit
//! publishes a new WAL-index header in the `-shm` file before it returns, so while the header (read lock-free in the
//! watcher's own shared memory, `walindex.rs`) is the one seen unchanged before and after the last pragma, that
//! pragma's answer is still the stamp — tens of nanoseconds instead of two file locks. A row is cached with the stamp
//! read *before* it was loaded; a later read whose stamp is the same has seen no commit since that load started, so the
//! row is current for it. Any other stamp empties the cache first.
//!
//! On PostgreSQL the stamp is the text of `pg_current_snapshot()` (which transaction ids have completed: xmin, xmax
//! and the ids still in progress, server-wide) and the server's start time. Equal snapshots mean no transaction
//! committed in between, so the same rule holds; a busy server (any writer in any database) only makes the cache miss
//! more often; the start time keeps a promoted replica or a restored cluster, which may hand out the same ids again,
//! from repeating a stamp. Reading it is a round trip, so a request's hot reads (its token, then a connection) share
//! one ([`request_scope`]: the first reads the stamp in the same statement as its row; a commit by the request
//! forgets it); a resolve reads a current stamp.
//!
//! An in-memory SQLite catalog has no stamp ([`crate::Catalog::stamp`] is `None`): every read goes to the database.

use std::hash::Hash;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::Result;
use crate::walindex::{Header, IndexedConnection, WalIndex};

/// A catalog-wide stamp: two equal stamps of the same catalog mean nothing was committed between their reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(StampKind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum StampKind {
    /// SQLite's `PRAGMA data_version` of the watcher: it only grows.
    DataVersion(i64),
    /// PostgreSQL's `pg_current_snapshot()` as text: not ordered here.
    Snapshot(Arc<str>),
}

impl Stamp {
    pub(crate) fn snapshot(text: String) -> Self {
        Self(StampKind::Snapshot(text.into()))
    }

    /// Whether this stamp was surely taken before `other` (only SQLite's counter can tell).
    fn older_than(&self, other: &Stamp) -> bool {
        matches!((&self.0, &other.0), (StampKind::DataVersion(a), StampKind::DataVersion(b)) if a < b)
    }
}

tokio::task_local! {
    static SCOPE: RequestScope;
}

/// The stamp a request read first, per catalog (the address of its shared state), kept for its later reads.
#[derive(Default)]
struct RequestScope {
    stamp: Mutex<Option<(usize, Stamp)>>,
}

/// Runs `request` with a scope in which the stamp its first hot read took (on PostgreSQL, where reading one is a
/// round trip) serves its later hot reads, until the request commits a change. Those reads (a token, then a
/// connection) are then all consistent with one moment after the request started. A resolve does not use it.
pub async fn request_scope<F: Future>(request: F) -> F::Output {
    SCOPE.scope(RequestScope::default(), request).await
}

/// The stamp this request already read for the catalog `owner`, if any.
pub(crate) fn scoped_stamp(owner: usize) -> Option<Stamp> {
    SCOPE
        .try_with(|scope| {
            let stamp = scope.stamp.lock().unwrap_or_else(|e| e.into_inner());
            stamp.as_ref().filter(|(o, _)| *o == owner).map(|(_, s)| s.clone())
        })
        .ok()
        .flatten()
}

/// Keeps `stamp` for this request's later reads of the catalog `owner`.
pub(crate) fn keep_stamp(owner: usize, stamp: &Stamp) {
    let _ =
        SCOPE.try_with(|scope| *scope.stamp.lock().unwrap_or_else(|e| e.into_inner()) = Some((owner, stamp.clone())));
}

/// Whether this request's task is inside a [`request_scope`].
#[cfg(test)]
fn in_scope() -> bool {
    SCOPE.try_with(|_| ()).is_ok()
}

/// Forgets the stamp: this request committed a change, and its later reads must see it.
pub(crate) fn forget_stamp() {
    let _ = SCOPE.try_with(|scope| *scope.stamp.lock().unwrap_or_else(|e| e.into_inner()) = None);
}

/// The watcher of a SQLite catalog file: a connection that never writes, and the file's WAL-index header.
pub(crate) struct Watch {
    /// `None` once closed.
    inner: Mutex<Option<Watcher>>,
    /// How many stamps needed `PRAGMA data_version` (for tests and the benchmark's explanation).
    pragma_reads: AtomicU64,
}

struct Watcher {
    /// The connection, with the header of the file's WAL-index in its own shared memory.
    connection: IndexedConnection,
    /// A stable header read before and after a `PRAGMA data_version` that answered this version: while the
    /// header is still this one, nothing was committed since, and the version is still current.
    known: Option<(Header, i64)>,
}

impl Watch {
    /// Opens a watcher on the SQLite file at `path` (it exists: the pool opened and migrated it). It is opened
    /// read-write (a read-only connection to a WAL database needs the `-shm` file to exist already) and then made
    /// `query_only`, so it cannot write.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = rusqlite::Connection::open_with_flags(path, flags).map_err(watch_error)?;
        // Never wait for a lock on the runtime's thread: a busy file (another process's VACUUM, say) is no stamp,
        // and the read goes to the database.
        connection.busy_timeout(Duration::ZERO).map_err(watch_error)?;
        connection.pragma_update(None, "query_only", true).map_err(watch_error)?;
        // Its first read opens the WAL-index, which the connection then keeps open (and in place) until it closes.
        let connection = IndexedConnection::new(connection).map_err(watch_error)?;
        if connection.index().is_none() {
            tracing::info!(
                path = %path.display(),
                "no WAL-index in shared memory: every catalog stamp reads PRAGMA data_version"
            );
        }
        // `IndexedConnection::new` read `data_version` once already: the watcher works.
        Ok(Self { inner: Mutex::new(Some(Watcher { connection, known: None })), pragma_reads: AtomicU64::new(0) })
    }

    /// The current stamp: without SQLite while the WAL-index header is the one last seen around a
    /// `PRAGMA data_version` (no commit since), else that pragma.
    pub(crate) fn stamp(&self) -> Result<Stamp> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let watcher = inner.as_mut().ok_or_else(|| crate::CatalogError::Watch("closed".into()))?;
        let index = watcher.connection.index();
        if let (Some(index), Some((header, version))) = (index, &watcher.known)
            && index.current() == *header
        {
            return Ok(Stamp(StampKind::DataVersion(*version)));
        }
        self.pragma_reads.fetch_add(1, Ordering::Relaxed);
        let before = index.and_then(WalIndex::stable);
        let version = watcher.connection.data_version().map_err(watch_error)?;
        let after = index.and_then(WalIndex::stable);
        // The pragma's read transaction began between the two reads of the header; the same stable header
        // before and after means it read the database as of that header.
        watcher.known = before.filter(|b| after.as_ref() == Some(b)).map(|h| (h, version));
        Ok(Stamp(StampKind::DataVersion(version)))
    }

    /// How many stamps so far read `PRAGMA data_version` (the others were proven by the WAL-index header alone).
    pub(crate) fn pragma_reads(&self) -> u64 {
        self.pragma_reads.load(Ordering::Relaxed)
    }

    /// Closes the watcher connection, before the pool closes its own: the last connection to close checkpoints
    /// the WAL into the file and removes it.
    pub(crate) fn close(&self) {
        drop(self.inner.lock().unwrap_or_else(|e| e.into_inner()).take());
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
    /// Hashed with FxHash, not SipHash: only rows that exist are cached, so a client cannot choose the keys.
    rows: rustc_hash::FxHashMap<K, V>,
}

impl<K: Eq + Hash, V> State<K, V> {
    /// Moves to `stamp` (emptied) unless it is the current one or surely older; whether the cache is at `stamp`.
    fn move_to(&mut self, stamp: &Stamp) -> bool {
        match &self.stamp {
            Some(current) if current == stamp => true,
            Some(current) if stamp.older_than(current) => false,
            _ => {
                self.rows.clear();
                self.stamp = Some(stamp.clone());
                true
            }
        }
    }

    fn insert(&mut self, key: K, value: V) {
        if self.rows.len() >= FRESH_CAPACITY {
            self.rows.clear();
        }
        self.rows.insert(key, value);
    }
}

impl<K, V> Default for Fresh<K, V> {
    fn default() -> Self {
        Self { state: Mutex::new(State { stamp: None, rows: rustc_hash::FxHashMap::default() }) }
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

    /// The row cached for `key` at `stamp`. A cache at another stamp is emptied and moves to `stamp`, unless
    /// `stamp` is surely older (a read that was overtaken): that one finds nothing and changes nothing.
    pub(crate) fn get(&self, stamp: &Stamp, key: &K) -> Option<V> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.move_to(stamp) { state.rows.get(key).cloned() } else { None }
    }

    /// Caches `value`, read after `stamp` was taken, unless the cache has moved to another stamp meanwhile.
    pub(crate) fn put(&self, stamp: &Stamp, key: K, value: V) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.stamp.as_ref() == Some(stamp) {
            state.insert(key, value);
        }
    }

    /// Caches `value`, read at exactly `stamp` (in the same statement), moving the cache to `stamp` if it is not
    /// surely older.
    pub(crate) fn put_at(&self, stamp: &Stamp, key: K, value: V) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.move_to(stamp) {
            state.insert(key, value);
        }
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

    fn counter(v: i64) -> Stamp {
        Stamp(StampKind::DataVersion(v))
    }

    #[test]
    fn a_row_is_served_only_at_the_stamp_it_was_read_at() {
        let cache: Fresh<&str, i32> = Fresh::new();
        assert_eq!(cache.get(&counter(1), &"a"), None);
        cache.put(&counter(1), "a", 1);
        assert_eq!(cache.get(&counter(1), &"a"), Some(1));
        // A commit: the stamp moves, the row is gone.
        assert_eq!(cache.get(&counter(2), &"a"), None);
        assert!(cache.is_empty());
        // A load that started before the move may not fill the cache at the new stamp.
        cache.put(&counter(1), "a", 1);
        assert_eq!(cache.get(&counter(2), &"a"), None);
        cache.put(&counter(2), "a", 2);
        assert_eq!(cache.get(&counter(2), &"a"), Some(2));
        // A read that was overtaken neither finds the newer row nor takes the cache back.
        assert_eq!(cache.get(&counter(1), &"a"), None);
        assert_eq!(cache.get(&counter(2), &"a"), Some(2));
    }

    #[test]
    fn a_full_cache_is_emptied_before_the_next_row() {
        let cache: Fresh<usize, usize> = Fresh::new();
        assert_eq!(cache.get(&counter(7), &0), None);
        for i in 0..FRESH_CAPACITY {
            cache.put(&counter(7), i, i);
        }
        assert_eq!(cache.len(), FRESH_CAPACITY);
        cache.put(&counter(7), FRESH_CAPACITY, 0);
        assert_eq!(cache.len(), 1);
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;

    #[test]
    fn snapshots_are_compared_for_equality_only_and_put_at_moves_the_cache() {
        let cache: Fresh<&str, i32> = Fresh::new();
        let (a, b) = (Stamp::snapshot("10:12:11".into()), Stamp::snapshot("10:13:".into()));
        cache.put_at(&a, "k", 1);
        assert_eq!(cache.get(&a, &"k"), Some(1));
        cache.put(&b, "k", 2);
        assert_eq!(cache.get(&a, &"k"), Some(1), "put at another stamp changed nothing");
        cache.put_at(&b, "k", 2);
        assert_eq!(cache.get(&b, &"k"), Some(2));
        assert_eq!(cache.get(&a, &"k"), None, "any other snapshot empties the cache");
    }

    #[tokio::test]
    async fn a_request_scope_keeps_one_stamp_per_catalog_until_forgotten() {
        assert!(!in_scope());
        keep_stamp(1, &Stamp::snapshot("1:2:".into()));
        assert_eq!(scoped_stamp(1), None, "outside a scope nothing is kept");
        request_scope(async {
            assert!(in_scope());
            assert_eq!(scoped_stamp(1), None);
            keep_stamp(1, &Stamp::snapshot("1:2:".into()));
            assert_eq!(scoped_stamp(1), Some(Stamp::snapshot("1:2:".into())));
            assert_eq!(scoped_stamp(2), None, "another catalog's stamp");
            forget_stamp();
            assert_eq!(scoped_stamp(1), None);
        })
        .await;
    }
}
