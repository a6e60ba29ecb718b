//! The SQLite catalog file: refused when it exists but is not a Lanyard catalog, created private to its owner (mode
//! 0600) when it does not exist.
//!
//! Why here and before the pool: SQLite takes a zero-length file for an empty database and would migrate it as a
//! fresh catalog (an empty catalog, a new admin token), and it creates a missing file with mode 0644 whatever the
//! umask; its `-wal` and `-shm` files then copy the database file's mode.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use sqlx::sqlite::SqliteConnectOptions;

use crate::error::{CatalogError, Result};

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The length of the SQLite database header.
const HEADER_LEN: usize = 100;

/// Tables a fresh catalog file may hold without the migrations table: those the local vault creates when it checks
/// the master key, which happens before the catalog's first migration (a first start interrupted in between).
const FRESH_TABLES: &[&str] = &["local_secrets", "local_master_key"];

/// The file of a SQLite URL's options, or `None` for an in-memory database.
pub(crate) fn sqlite_path(options: &SqliteConnectOptions) -> Option<PathBuf> {
    let path = options.get_filename();
    let text = path.to_string_lossy();
    if text.is_empty() || text == ":memory:" || text.starts_with("file:") {
        return None;
    }
    Some(path.to_owned())
}

fn not_a_catalog(path: &Path, problem: impl Into<String>) -> CatalogError {
    CatalogError::NotACatalog { path: path.display().to_string(), problem: problem.into() }
}

/// Checks the SQLite catalog file at `path`, if it exists; creates it (and its directory) if it does not.
///
/// An existing file must be a SQLite database whose header is whole (its size is the page count its header gives
/// times the page size) and which holds Lanyard's migrations table — or no table at all but the local vault's (a
/// first start that stopped before the migrations). A missing file is created as an empty SQLite database in WAL
/// mode with mode 0600, under a temporary name and then linked into place, so that no other process ever sees it
/// half-made and a zero-length `catalog.db` is never Lanyard's doing.
pub(crate) async fn prepare(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(_) => check(path).await,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => create(path).await,
        Err(error) => Err(not_a_catalog(path, format!("it cannot be inspected: {error}"))),
    }
}

/// Creates `dir` and its parents if missing; a directory created here is private to its owner (0700).
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| CatalogError::InvalidUrl(format!("cannot create the directory {}: {e}", dir.display())))
}

/// Refuses a file that is not a Lanyard catalog.
async fn check(path: &Path) -> Result<()> {
    let metadata = std::fs::metadata(path).map_err(|e| not_a_catalog(path, format!("it cannot be inspected: {e}")))?;
    if !metadata.is_file() {
        return Err(not_a_catalog(path, "it is not a regular file"));
    }
    let len = metadata.len();
    if len == 0 {
        return Err(not_a_catalog(path, "it is empty (0 bytes)"));
    }
    let mut header = Vec::with_capacity(HEADER_LEN);
    std::fs::File::open(path)
        .and_then(|file| file.take(HEADER_LEN as u64).read_to_end(&mut header))
        .map_err(|e| not_a_catalog(path, format!("it cannot be read: {e}")))?;
    if header.len() < SQLITE_MAGIC.len() || &header[..SQLITE_MAGIC.len()] != SQLITE_MAGIC {
        return Err(not_a_catalog(
            path,
            format!("it is not a SQLite database ({len} bytes without the SQLite header)"),
        ));
    }
    if header.len() < HEADER_LEN {
        return Err(not_a_catalog(path, format!("it is truncated ({len} bytes, shorter than the SQLite header)")));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        size => u64::from(size),
    };
    if !page_size.is_power_of_two() || !(512..=65_536).contains(&page_size) {
        return Err(not_a_catalog(path, format!("its SQLite header is damaged (page size {page_size})")));
    }
    let be32 = |at: usize| u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
    // The page count in the header is valid when its "version valid for" matches the change counter (SQLite ≥ 3.7).
    let pages = u64::from(be32(28));
    let expected = pages * page_size;
    let short = if be32(24) == be32(92) && pages > 0 && len < expected {
        Some(format!("it is truncated ({len} bytes, but its SQLite header says {pages} pages of {page_size} bytes)"))
    } else if len % page_size != 0 {
        Some(format!("it is truncated ({len} bytes, not a whole number of pages)"))
    } else {
        None
    };
    if let Some(problem) = short {
        // A crash during a WAL checkpoint can leave the file shorter than its header says while the `-wal` file
        // beside it still holds the pages: SQLite recovers such a file when it opens it. So with a non-empty
        // `-wal`, the size is no proof of damage: SQLite's own check decides.
        if !wal_holds_frames(path) {
            return Err(not_a_catalog(path, problem));
        }
        match quick_check(path).await {
            Ok(outcome) if outcome == "ok" => {}
            Ok(outcome) => {
                let outcome = lanyard_core::printable(&outcome, 200);
                return Err(not_a_catalog(
                    path,
                    format!("{problem}, and SQLite's check of it with its -wal file says {outcome:?}"),
                ));
            }
            Err(e) => {
                return Err(not_a_catalog(
                    path,
                    format!("{problem}, and SQLite cannot read it with its -wal file: {e}"),
                ));
            }
        }
    }
    let tables = tables(path).await.map_err(|e| not_a_catalog(path, format!("SQLite cannot read it: {e}")))?;
    if tables.iter().any(|t| t == "lanyard_migrations") {
        return Ok(());
    }
    let foreign: Vec<&str> = tables.iter().map(String::as_str).filter(|t| !FRESH_TABLES.contains(t)).collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = foreign.iter().take(5).map(|t| format!("{:?}", lanyard_core::printable(t, 64))).collect();
    let more = if foreign.len() > 5 { format!(" and {} more", foreign.len() - 5) } else { String::new() };
    Err(not_a_catalog(
        path,
        format!(
            "it is a SQLite database without Lanyard's tables, perhaps another program's (it holds {}{more})",
            shown.join(", ")
        ),
    ))
}

/// `path` with `suffix` appended to its name (`catalog.db` → `catalog.db-wal`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether the database at `path` has a non-empty `-wal` file beside it (frames SQLite applies when it opens it).
fn wal_holds_frames(path: &Path) -> bool {
    std::fs::metadata(sibling(path, "-wal")).is_ok_and(|m| m.is_file() && m.len() > 0)
}

/// SQLite's `PRAGMA quick_check` of the database at `path` (with its `-wal`), read-only: `"ok"` when it is whole.
async fn quick_check(path: &Path) -> std::result::Result<String, sqlx::Error> {
    use sqlx::Connection as _;
    let options = SqliteConnectOptions::new().filename(path).read_only(true).create_if_missing(false);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await?;
    let rows: std::result::Result<Vec<String>, _> =
        sqlx::query_scalar("PRAGMA quick_check").fetch_all(&mut connection).await;
    let _ = connection.close().await;
    Ok(rows?.join("; "))
}

/// The tables of the SQLite database at `path`, read through a read-only connection (nothing is written to a file
/// that may be another program's).
async fn tables(path: &Path) -> std::result::Result<Vec<String>, sqlx::Error> {
    use sqlx::Connection as _;
    let options = SqliteConnectOptions::new().filename(path).read_only(true).create_if_missing(false);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await?;
    let tables = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(&mut connection)
        .await;
    let _ = connection.close().await;
    tables
}

/// Creates the catalog file: an empty SQLite database in WAL mode, mode 0600, made under a temporary name and
/// hard-linked into place (which fails if another process made it first: then that one is checked; without hard
/// links, see [`put_in_place`]). Refused when a `-wal` file of the missing catalog is there.
async fn create(path: &Path) -> Result<()> {
    use sqlx::Connection as _;
    // A `-wal` file without its database: the catalog was moved away without it. SQLite would apply its frames to
    // the new file (a new catalog made of an old one's pages), so refuse; nothing is written.
    let wal = sibling(path, "-wal");
    if std::fs::symlink_metadata(&wal).is_ok() {
        return Err(not_a_catalog(
            path,
            format!(
                "it is missing, but its write-ahead log {:?} is there (was the catalog moved away without it?)",
                wal.display()
            ),
        ));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let io_error = |what: &str, e: std::io::Error| {
        CatalogError::InvalidUrl(format!("cannot {what} the catalog file {}: {e}", path.display()))
    };
    let made = async {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&temp).map_err(|e| io_error("create", e))?;
        set_private(&file).map_err(|e| io_error("restrict", e))?;
        drop(file);
        // WAL mode is kept in the file's header: writing it gives the file its first page.
        let options = SqliteConnectOptions::new()
            .filename(&temp)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .create_if_missing(false);
        let connection = sqlx::SqliteConnection::connect_with(&options).await?;
        connection.close().await?;
        std::fs::File::open(&temp).and_then(|f| f.sync_all()).map_err(|e| io_error("sync", e))?;
        Ok::<_, CatalogError>(())
    };
    let made = made.await;
    let linked = made.and_then(|()| {
        put_in_place(&temp, path, |from, to| std::fs::hard_link(from, to)).map_err(|e| io_error("create", e))
    });
    for suffix in ["", "-wal", "-shm"] {
        let mut leftover = temp.clone().into_os_string();
        leftover.push(suffix);
        let _ = std::fs::remove_file(leftover);
    }
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    match linked? {
        true => Ok(()),
        false => Box::pin(check(path)).await,
    }
}

/// Puts the finished file `temp` at `path` unless a file is there already (then `false`): by `link` (a hard link,
/// so that no process ever sees `path` half-written) or, on a filesystem without hard links, by creating `path`
/// (`create_new`, mode 0600) and copying `temp` into it.
fn put_in_place(
    temp: &Path,
    path: &Path,
    link: impl FnOnce(&Path, &Path) -> std::io::Result<()>,
) -> std::io::Result<bool> {
    match link(temp, path) {
        Ok(()) => return Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(_) => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    let copied = set_private(&file)
        .and_then(|()| std::io::copy(&mut std::fs::File::open(temp)?, &mut file))
        .and_then(|_| file.sync_all());
    if let Err(e) = copied {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(true)
}

/// Mode 0600 exactly, whatever the umask (which may have left less; never more).
fn set_private(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_hard_links_the_file_is_copied_into_place_private() {
        let dir = std::env::temp_dir().join(format!("lanyard-put-in-place-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let (temp, path) = (dir.join("temp"), dir.join("catalog.db"));
        std::fs::write(&temp, b"SQLite format 3\0 and the rest").unwrap();
        let unsupported = |_: &Path, _: &Path| Err(std::io::Error::from(std::io::ErrorKind::Unsupported));
        assert!(put_in_place(&temp, &path, unsupported).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&temp).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // A file already there (another process made it first) is left alone: `false`, then it is checked.
        std::fs::write(&path, b"theirs").unwrap();
        assert!(!put_in_place(&temp, &path, unsupported).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
