//! Reads the header of a SQLite WAL-index (the `-shm` file beside a database in WAL mode) without a lock and
//! without SQLite: the catalog's proof that nothing was committed, in nanoseconds instead of a read transaction.
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
//! The file is mapped read-only and shared (`MAP_SHARED`, the same pages SQLite's own connections map) and read with
//! atomic loads; nothing here ever writes it or takes its locks, so it cannot disturb SQLite.
//!
//! The caller keeps a SQLite connection to the database open for as long as a [`WalIndex`] lives: SQLite truncates
//! or deletes the `-shm` file only when no connection holds it open, and a mapping of a truncated file would fault.
//! Only the WAL-index of the unix VFS with a `-shm` file is understood; [`WalIndex::open`] answers `None` when there
//! is no such file (a database not in WAL mode, or in exclusive locking mode), and callers then ask SQLite.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The size of one copy of the header, in bytes.
const HEADER_BYTES: usize = 48;
/// The header's words (native byte order, as SQLite writes them).
const WORDS: usize = HEADER_BYTES / 4;
/// `iVersion` of the WAL-index format this crate reads (`WALINDEX_MAX_VERSION`).
const WALINDEX_VERSION: u32 = 3_007_000;

/// One copy of a WAL-index header, as raw words. Two equal headers of one database mean no commit in between.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header([u32; WORDS]);

impl Header {
    /// `iVersion`: the WAL-index format.
    pub fn version(&self) -> u32 {
        self.0[0]
    }

    /// `iChange`: grows by one with every committed transaction.
    pub fn change_counter(&self) -> u32 {
        self.0[2]
    }

    /// `isInit`: whether a connection has built the index.
    pub fn is_init(&self) -> bool {
        self.0[3].to_ne_bytes()[0] == 1
    }

    /// `mxFrame`: the last valid frame of the WAL (0 after a restart).
    pub fn max_frame(&self) -> u32 {
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

/// A read-only mapping of a database's WAL-index header.
pub struct WalIndex {
    path: PathBuf,
    map: memmap2::Mmap,
}

impl std::fmt::Debug for WalIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalIndex").field("path", &self.path).finish_non_exhaustive()
    }
}

impl WalIndex {
    /// Maps the WAL-index of the database file at `database` (the path SQLite names it by, e.g. rusqlite's
    /// `Connection::path`): the file `<database>-shm`. `None` when there is none, or it is too short or of another
    /// format to hold an initialised header. A SQLite connection to the database must stay open while the result
    /// lives (see the crate documentation).
    pub fn open(database: &Path) -> io::Result<Option<Self>> {
        let mut path = database.as_os_str().to_owned();
        path.push("-shm");
        let path = PathBuf::from(path);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        if file.metadata()?.len() < 2 * HEADER_BYTES as u64 {
            return Ok(None);
        }
        // SAFETY: the mapping is read-only and only ever read through atomic loads (`word`), never through a Rust
        // reference, so a concurrent writer (SQLite, in this process or another) cannot break an aliasing rule. The
        // file holds at least the mapped 96 bytes, and the caller keeps a SQLite connection open, so SQLite does not
        // truncate it below that while the mapping lives (a truncation would fault on read, never corrupt memory).
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().len(2 * HEADER_BYTES).map(&file)? };
        let index = Self { path, map };
        Ok(index.stable().filter(|h| h.version() == WALINDEX_VERSION).map(|_| index))
    }

    /// The `-shm` file this reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Word `i` of the mapping, loaded atomically with acquire ordering.
    fn word(&self, i: usize) -> u32 {
        assert!(i < 2 * WORDS);
        let ptr = self.map.as_ptr().cast::<u32>().wrapping_add(i).cast_mut();
        // SAFETY: `ptr` is inside the mapping (checked above), 4-byte aligned (a mapping starts on a page boundary)
        // and valid while `self.map` lives; the memory is only accessed atomically by this crate.
        #[allow(unsafe_code)]
        let word = unsafe { AtomicU32::from_ptr(ptr) };
        word.load(Ordering::Acquire)
    }

    fn copy(&self, which: usize) -> Header {
        Header(std::array::from_fn(|i| self.word(which * WORDS + i)))
    }

    /// The first copy of the header, as it is now: the copy a writer publishes last. Equal to a [`WalIndex::stable`]
    /// header read earlier, it proves that no commit was published in between.
    pub fn current(&self) -> Header {
        self.copy(0)
    }

    /// The header, when both copies agree and it is initialised: one that no writer was in the middle of
    /// publishing. `None` while a writer publishes, or before any connection built the index.
    pub fn stable(&self) -> Option<Header> {
        let first = self.copy(0);
        std::sync::atomic::fence(Ordering::SeqCst);
        let second = self.copy(1);
        (first == second && first.is_init()).then_some(first)
    }
}

#[cfg(test)]
mod tests {
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
        let index = WalIndex::open(&path).unwrap().expect("a WAL database has a -shm file");
        let reader = rusqlite::Connection::open(&path).unwrap();
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
        let index = WalIndex::open(&path).unwrap().unwrap();
        let before = index.stable().unwrap();
        writer.execute_batch("BEGIN; INSERT INTO t VALUES (1); ROLLBACK;").unwrap();
        assert_eq!(index.current(), before);
    }

    #[test]
    fn a_database_without_a_wal_index_has_none() {
        let dir = Dir::new("rollback-journal");
        let path = dir.0.join("plain.db");
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);").unwrap();
        assert!(WalIndex::open(&path).unwrap().is_none());
    }
}
