//! Reads the header of a SQLite WAL-index (the `-shm` file beside a database in WAL mode) without a lock and
//! without running a statement: the catalog's proof that nothing was committed, in nanoseconds instead of a read
//! transaction.
//!
//! Every commit to a WAL database publishes a new WAL-index header (its change counter `iChange` grows, its last
//! valid frame `mxFrame` and checksums change) before `COMMIT` returns, and SQLite itself decides whether another
//! connection committed by comparing this header with the copy it read last
//! ([`walIndexTryHdr`](https://sqlite.org/src/file/src/wal.c), documented in
//! <https://sqlite.org/walformat.html#the_wal_index_file_format>). The header is stored twice: a writer writes the
//! second copy, a memory barrier, then the first. So:
//!
//! - a header whose two copies agree ([`WalIndex::stable`]) is one a writer finished publishing;
//! - when the first copy ([`WalIndex::current`]) still equals a stable header read earlier, no commit was published
//!   in between, and none that returned before this read started: its last store (the first copy) would be seen.
//!
//! The header is read in SQLite's own mapping of the `-shm` file, the one the given connection uses (reached through
//! `SQLITE_FCNTL_FILE_POINTER` and the VFS's `xShmMap` of region 0, which the connection mapped already), with
//! atomic loads. No second descriptor of the `-shm` file is ever opened: closing one would release every POSIX lock
//! this process holds on the file — SQLite's own, including the lock that tells other processes the index is in use
//! (sqlite.org/howtocorrupt.html, 2.2) — and another process could then rebuild the index under this one. Nothing here
//! writes the memory or takes a lock.
//!
//! The pointer is valid while the connection it came from is open and stays in WAL mode, so the two live together in
//! an [`IndexedConnection`], which owns the connection and lets it do nothing but read `PRAGMA data_version`: no
//! statement can close it, switch its journal mode or otherwise unmap the memory while a [`WalIndex`] is borrowed.
//! The index is `None` when the connection keeps no WAL-index in shared memory (a database not in WAL mode, or one in
//! exclusive locking mode).

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};

use rusqlite::ffi;

/// The size of one copy of the header, in bytes.
const HEADER_BYTES: usize = 48;
/// The header's words (native byte order, as SQLite writes them).
const WORDS: usize = HEADER_BYTES / 4;
/// `iVersion` of the WAL-index format this module reads (`WALINDEX_MAX_VERSION`).
const WALINDEX_VERSION: u32 = 3_007_000;

/// One copy of a WAL-index header, as raw words. Two equal headers of one database mean no commit in between.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header([u32; WORDS]);

impl Header {
    /// `iVersion`: the WAL-index format.
    pub(crate) fn version(&self) -> u32 {
        self.0[0]
    }

    /// `iChange`: grows by one with every committed transaction.
    pub(crate) fn change_counter(&self) -> u32 {
        self.0[2]
    }

    /// `isInit`: whether a connection has built the index.
    pub(crate) fn is_init(&self) -> bool {
        self.0[3].to_ne_bytes()[0] == 1
    }

    /// `mxFrame`: the last valid frame of the WAL (0 after a restart).
    pub(crate) fn max_frame(&self) -> u32 {
        self.0[4]
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("version", &self.version())
            .field("change_counter", &self.change_counter())
            .field("is_init", &self.is_init())
            .field("max_frame", &self.max_frame())
            .finish_non_exhaustive()
    }
}

/// The WAL-index header of a database, in the shared memory of one of its SQLite connections.
pub(crate) struct WalIndex {
    /// The two copies of the header (24 words, the first copy first), 4-byte aligned, in SQLite's mapping of
    /// region 0.
    header: *const AtomicU32,
}

// SAFETY: the pointer refers to shared memory that lives as long as the connection (the constructor's contract) and
// is only ever read through atomic loads, from any thread.
#[allow(unsafe_code)]
unsafe impl Send for WalIndex {}
// SAFETY: as for `Send`: `&WalIndex` only allows atomic loads.
#[allow(unsafe_code)]
unsafe impl Sync for WalIndex {}

impl std::fmt::Debug for WalIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalIndex").field("current", &self.current()).finish()
    }
}

/// A SQLite connection that only reads `PRAGMA data_version`, with the WAL-index header of its database.
pub(crate) struct IndexedConnection {
    /// Declared before `connection`, so that it is dropped first.
    index: Option<WalIndex>,
    connection: rusqlite::Connection,
}

impl std::fmt::Debug for IndexedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedConnection").field("index", &self.index).finish_non_exhaustive()
    }
}

impl IndexedConnection {
    /// Takes `connection` (set up as the caller wants: its busy timeout, `query_only`) and finds its WAL-index,
    /// after one `PRAGMA data_version` that makes it open the WAL and map the index.
    pub(crate) fn new(connection: rusqlite::Connection) -> rusqlite::Result<Self> {
        let mut indexed = Self { index: None, connection };
        indexed.data_version()?;
        // SAFETY: the index is kept in `indexed` beside the connection, dropped before it, and the connection runs
        // nothing but `PRAGMA data_version` from now on (which cannot leave WAL mode or unmap the index).
        #[allow(unsafe_code)]
        let index = unsafe { WalIndex::of(&indexed.connection) };
        indexed.index = index;
        Ok(indexed)
    }

    /// `PRAGMA data_version` of the connection: a read transaction.
    pub(crate) fn data_version(&self) -> rusqlite::Result<i64> {
        self.connection.prepare_cached("PRAGMA data_version")?.query_row([], |row| row.get(0))
    }

    /// The WAL-index header of the database, if SQLite keeps it in shared memory.
    pub(crate) fn index(&self) -> Option<&WalIndex> {
        self.index.as_ref()
    }
}

impl WalIndex {
    /// The WAL-index of the main database of `connection`, as SQLite maps it for that connection; `None` when it
    /// keeps none in shared memory (not in WAL mode, exclusive locking, no WAL read yet).
    ///
    /// # Safety
    ///
    /// The result must be dropped before `connection` is closed or leaves WAL mode, and `connection` must not be used
    /// from another thread during this call.
    #[allow(unsafe_code)]
    unsafe fn of(connection: &rusqlite::Connection) -> Option<Self> {
        let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0)).ok()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return None;
        }
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: `handle()` is the connection's open `sqlite3*`, used on this thread only (the caller's promise);
        // SQLITE_FCNTL_FILE_POINTER writes the main database's `sqlite3_file*` into `file`.
        let rc = unsafe {
            ffi::sqlite3_file_control(
                connection.handle(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_FILE_POINTER,
                (&raw mut file).cast::<c_void>(),
            )
        };
        if rc != ffi::SQLITE_OK || file.is_null() {
            return None;
        }
        // SAFETY: `file` is the connection's open file; its method table lives as long as it does.
        let methods = unsafe { (*file).pMethods };
        // SAFETY: as above; `iVersion` >= 2 means the table has the shared-memory methods.
        if methods.is_null() || unsafe { (*methods).iVersion } < 2 {
            return None;
        }
        // SAFETY: as above.
        let shm_map = unsafe { (*methods).xShmMap }?;
        let mut region: *mut c_void = std::ptr::null_mut();
        // SAFETY: region 0 of 32 KiB (SQLite's WAL-index page size) without extending the file (`bExtend` = 0): the
        // connection already mapped it for its WAL read, so this returns that mapping (or null if there is none).
        let rc = unsafe { shm_map(file, 0, 32 * 1024, 0, &raw mut region) };
        if rc != ffi::SQLITE_OK || region.is_null() {
            return None;
        }
        let index = Self { header: region.cast::<AtomicU32>().cast_const() };
        (index.current().version() == WALINDEX_VERSION).then_some(index)
    }

    /// Word `i` of the two copies of the header.
    fn word(&self, i: usize) -> u32 {
        assert!(i < 2 * WORDS);
        // SAFETY: `header` points to SQLite's mapping of at least 32 KiB, 4-byte aligned, valid while the connection
        // is open (the constructor's contract); Rust only reads it atomically. SQLite writes it with plain stores
        // from C, in this process or another, as it does for its own lock-free reads of the header.
        #[allow(unsafe_code)]
        let word = unsafe { &*self.header.add(i) };
        word.load(Ordering::Relaxed)
    }

    fn copy(&self, which: usize) -> Header {
        let header = Header(std::array::from_fn(|i| self.word(which * WORDS + i)));
        std::sync::atomic::fence(Ordering::Acquire);
        header
    }

    /// The first copy of the header, as it is now: the copy a writer publishes last. Equal to a [`WalIndex::stable`]
    /// header read earlier, it proves that no commit was published in between.
    pub(crate) fn current(&self) -> Header {
        self.copy(0)
    }

    /// The header, when both copies agree and it is initialised: one that no writer was in the middle of
    /// publishing. `None` while a writer publishes, or before any connection built the index.
    pub(crate) fn stable(&self) -> Option<Header> {
        let first = self.copy(0);
        let second = self.copy(1);
        (first == second && first.is_init()).then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("lanyard-walindex-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn wal_database(dir: &Dir) -> (rusqlite::Connection, PathBuf) {
        let path = dir.0.join("catalog.db");
        let connection = rusqlite::Connection::open(&path).unwrap();
        let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        connection.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        let path = PathBuf::from(connection.path().unwrap());
        (connection, path)
    }

    #[test]
    fn every_commit_of_any_connection_changes_the_header_and_a_read_does_not() {
        let dir = Dir::new("commits");
        let (writer, path) = wal_database(&dir);
        let reader = rusqlite::Connection::open(&path).unwrap();
        let watcher = IndexedConnection::new(rusqlite::Connection::open(&path).unwrap()).unwrap();
        let index = watcher.index().expect("a WAL database has its index in shared memory");
        let mut seen = index.stable().unwrap();
        for round in 0..200_i64 {
            // Any connection, with checkpoints (which restart the WAL) in between.
            let connection = if round % 2 == 0 { &writer } else { &reader };
            connection.execute("INSERT INTO t VALUES (?1)", [round]).unwrap();
            let now = index.stable().expect("no writer is publishing");
            assert_ne!(now, seen, "commit {round} left the header unchanged");
            assert_eq!(index.current(), now);
            let count: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(count, round + 1);
            assert_eq!(index.current(), now, "a read changed the header");
            if round % 10 == 9 {
                writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
            }
            seen = index.stable().unwrap();
        }
        assert!(seen.change_counter() > 0);
    }

    #[test]
    fn a_rolled_back_transaction_leaves_the_header_as_it_was() {
        let dir = Dir::new("rollback");
        let (writer, path) = wal_database(&dir);
        let watcher = IndexedConnection::new(rusqlite::Connection::open(&path).unwrap()).unwrap();
        let index = watcher.index().unwrap();
        let before = index.stable().unwrap();
        writer.execute_batch("BEGIN; INSERT INTO t VALUES (1); ROLLBACK;").unwrap();
        assert_eq!(index.current(), before);
    }

    /// Descriptors of this process open on `file`.
    fn descriptors_of(file: &std::path::Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target == file)
            .count()
    }

    /// POSIX locks this process holds on `file` (from `/proc/locks`: `id: POSIX ADVISORY READ pid maj:min:inode …`).
    fn posix_locks_on(file: &std::path::Path) -> usize {
        use std::os::unix::fs::MetadataExt as _;
        let inode = std::fs::metadata(file).unwrap().ino().to_string();
        let pid = std::process::id().to_string();
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.get(1) == Some(&"POSIX") && f.get(4) == Some(&pid.as_str()))
            .filter(|f| f.get(5).and_then(|id| id.rsplit(':').next()) == Some(inode.as_str()))
            .count()
    }

    /// Closing any descriptor of the `-shm` file would drop SQLite's POSIX locks on it for the whole process (among
    /// them the one that tells other processes the index is in use), so finding the index must open none: it reads
    /// SQLite's own mapping, and SQLite's locks stay.
    #[test]
    fn finding_the_index_opens_no_descriptor_of_the_shm_file_and_keeps_sqlites_locks() {
        let dir = Dir::new("descriptors");
        let (writer, path) = wal_database(&dir);
        let shm = PathBuf::from(format!("{}-shm", path.display()));
        let before = descriptors_of(&shm);
        assert!(before >= 1, "SQLite holds the -shm file open");
        assert!(posix_locks_on(&shm) >= 1, "SQLite holds a lock on the -shm file");
        let watcher = IndexedConnection::new(rusqlite::Connection::open(&path).unwrap()).unwrap();
        assert!(watcher.index().unwrap().stable().is_some());
        // The watcher's own connection shares the process's one descriptor of the file (SQLite keeps one per
        // inode); the index added none.
        assert_eq!(descriptors_of(&shm), before);
        assert!(posix_locks_on(&shm) >= 1, "finding the index released SQLite's locks on the -shm file");
        drop(watcher);
        assert_eq!(descriptors_of(&shm), before);
        assert!(posix_locks_on(&shm) >= 1, "dropping the watcher released the writer's locks");
        drop(writer);
    }

    #[test]
    fn a_database_without_a_wal_index_has_none() {
        let dir = Dir::new("rollback-journal");
        let path = dir.0.join("plain.db");
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);").unwrap();
        let watcher = IndexedConnection::new(connection).unwrap();
        assert!(watcher.index().is_none());
    }
}
