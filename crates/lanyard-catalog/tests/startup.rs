//! Opening a catalog when the ground is not clean: several nodes opening an empty PostgreSQL catalog at the same
//! moment (each migrates or waits, none fails), and a SQLite catalog file that exists but is not a catalog (empty,
//! truncated, random bytes, another program's database), which is refused with a message saying what is wrong and
//! left exactly as it was. PostgreSQL comes from `LANYARD_TEST_PG` (default: the machine's service); a test that
//! cannot reach it fails.

use std::path::Path;

use lanyard_catalog::{Catalog, CatalogError, MIGRATIONS};
use lanyard_testsupport::{TempDatabase, TempDir};

/// Nodes opening one empty catalog at once, per trial.
const NODES: usize = 6;

/// Trials, each on a fresh database.
const TRIALS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_nodes_opening_an_empty_postgres_catalog_at_once_all_succeed_twenty_times() {
    for trial in 0..TRIALS {
        let db = TempDatabase::postgres("startup");
        // The opens run concurrently (each with its own pool and connections): `Catalog::open`'s future is not
        // `Send`, so they are joined in this task rather than spawned; the database sees six clients at once.
        let opens = futures::future::join_all((0..NODES).map(|_| Catalog::open(db.url()))).await;
        let mut catalogs = Vec::new();
        for (node, open) in opens.into_iter().enumerate() {
            match open {
                Ok(catalog) => catalogs.push(catalog),
                Err(error) => panic!("trial {trial}: node {node} failed to open the empty catalog: {error}"),
            }
        }
        // Every migration applied exactly once.
        let applied: Vec<(i64,)> = {
            use sqlx::Connection as _;
            let mut connection = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query_as("SELECT version FROM lanyard_migrations ORDER BY version")
                .fetch_all(&mut connection)
                .await
                .unwrap()
        };
        let expected: Vec<(i64,)> = MIGRATIONS.iter().map(|m| (m.version,)).collect();
        assert_eq!(applied, expected, "trial {trial}");
        for catalog in catalogs {
            catalog.close().await;
        }
    }
}

/// A real catalog file (migrated, then closed), for the truncation case.
async fn real_catalog(dir: &TempDir) -> Vec<u8> {
    let path = dir.join("real.db");
    let catalog = Catalog::open(&format!("sqlite://{}", path.display())).await.unwrap();
    catalog.close().await;
    std::fs::read(&path).unwrap()
}

/// Another program's SQLite database: tables of its own, no Lanyard table.
async fn foreign_database(path: &Path) {
    use sqlx::Connection as _;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::raw_sql("CREATE TABLE songs (title TEXT); CREATE TABLE albums (name TEXT); INSERT INTO songs VALUES ('x')")
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
}

#[tokio::test]
async fn a_catalog_file_that_is_not_a_catalog_is_refused_and_left_as_it_was() {
    let dir = TempDir::new("not-a-catalog");
    let real = real_catalog(&dir).await;
    assert!(real.len() >= 3 * 4096, "{} bytes", real.len());
    let random: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let foreign_path = dir.join("foreign.db");
    foreign_database(&foreign_path).await;
    let foreign = std::fs::read(&foreign_path).unwrap();

    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("empty", Vec::new(), "it is empty (0 bytes)"),
        (
            "truncated",
            real[..2 * 4096].to_vec(),
            "it is truncated (8192 bytes, but its SQLite header says", // the page count depends on the schema
        ),
        ("cut inside a page", real[..real.len() - 100].to_vec(), "it is truncated ("),
        ("random bytes", random, "it is not a SQLite database (8192 bytes without the SQLite header)"),
        (
            "another program's",
            foreign,
            "it is a SQLite database without Lanyard's tables, perhaps another program's (it holds \"albums\", \
             \"songs\")",
        ),
    ];
    for (case, bytes, problem) in cases {
        let path = dir.join(format!("{}.db", case.replace([' ', '\''], "_")));
        std::fs::write(&path, &bytes).unwrap();
        let url = format!("sqlite://{}", path.display());
        for (what, result) in [("prepare", Catalog::prepare(&url).await), ("open", Catalog::open(&url).await.map(drop))]
        {
            let error = result.expect_err(&format!("{case}: {what} accepted it"));
            assert!(matches!(error, CatalogError::NotACatalog { .. }), "{case}: {error:?}");
            let message = error.to_string();
            let expected_start = format!("catalog file {:?} is not a Lanyard catalog: {problem}", path.display());
            assert!(message.starts_with(&expected_start), "{case}: {message}");
            assert!(
                message.ends_with(
                    ". Nothing was read or written: restore the catalog from a backup, or move it away together with \
                     its -wal and -shm files (where present) to start with a new, empty catalog"
                ),
                "{case}: {message}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{case}: the file changed");
        }
    }
}

#[tokio::test]
async fn a_missing_catalog_file_is_created_private_and_a_fresh_one_opens() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("fresh-catalog");
    let path = dir.join("new/dir/catalog.db");
    let url = format!("sqlite://{}", path.display());
    Catalog::prepare(&url).await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    // Made, not yet migrated: a valid, empty SQLite file in WAL mode that the next open takes as fresh.
    let header = std::fs::read(&path).unwrap();
    assert!(header.starts_with(b"SQLite format 3\0") && header.len() == 4096, "{} bytes", header.len());
    assert_eq!((header[18], header[19]), (2, 2), "WAL mode");
    Catalog::prepare(&url).await.unwrap();
    let catalog = Catalog::open(&url).await.unwrap();
    for suffix in ["-wal", "-shm"] {
        let side = dir.join(format!("new/dir/catalog.db{suffix}"));
        assert_eq!(mode(&side), 0o600, "{}", side.display());
    }
    catalog.close().await;
    // A file left by the local vault's key check alone (a first start stopped before the migrations) is fresh too.
    let vault_only = dir.join("vault-only.db");
    {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&vault_only).create_if_missing(true);
        let mut connection = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::raw_sql("CREATE TABLE local_secrets (profile TEXT); CREATE TABLE local_master_key (key_id TEXT)")
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    }
    Catalog::open(&format!("sqlite://{}", vault_only.display())).await.unwrap().close().await;
}

/// A crash during a WAL checkpoint can leave the main file shorter than its header's page count while the `-wal`
/// beside it holds every page: SQLite recovers it, so it is a catalog, not a truncated file. Without the `-wal` the
/// same bytes are refused.
#[tokio::test]
async fn a_short_catalog_file_whose_wal_holds_its_pages_is_accepted() {
    use sqlx::Connection as _;
    let dir = TempDir::new("wal-recovery");
    let live = dir.join("live.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&live)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .pragma("wal_autocheckpoint", "0");
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE lanyard_migrations (version INTEGER); CREATE TABLE rows (v BLOB); \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) \
         INSERT INTO rows SELECT randomblob(2000) FROM n",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    // The checkpoint writes the pages (and the header's new page count) to the main file; the -wal keeps its
    // frames until the next write. A copy of both, with the main file cut after its first page, is what a crash in
    // the middle of that checkpoint leaves.
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut connection).await.unwrap();
    let main = std::fs::read(&live).unwrap();
    let wal = std::fs::read(dir.join("live.db-wal")).unwrap();
    connection.close().await.unwrap();
    assert!(main.len() >= 10 * 4096 && !wal.is_empty(), "{} bytes, -wal {} bytes", main.len(), wal.len());
    let crashed = dir.join("crashed.db");
    std::fs::write(&crashed, &main[..4096]).unwrap();
    let url = format!("sqlite://{}", crashed.display());
    // Without its -wal: truncated.
    let error = Catalog::prepare(&url).await.expect_err("a truncated file without -wal was accepted");
    assert!(error.to_string().contains("it is truncated (4096 bytes, but its SQLite header says"), "{error}");
    // With it: SQLite recovers every row.
    std::fs::write(dir.join("crashed.db-wal"), &wal).unwrap();
    Catalog::prepare(&url).await.unwrap_or_else(|e| panic!("a file SQLite recovers was refused: {e}"));
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&crashed);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM rows").fetch_one(&mut connection).await.unwrap();
    assert_eq!(rows, 40);
    connection.close().await.unwrap();
}

/// A catalog moved away without its `-wal`: a new catalog is not made there (SQLite would apply the old frames to
/// it); the refusal names the `-wal` file, and nothing is created.
#[tokio::test]
async fn a_wal_file_without_its_catalog_is_refused() {
    let dir = TempDir::new("stale-wal");
    let path = dir.join("catalog.db");
    let wal = dir.join("catalog.db-wal");
    std::fs::write(&wal, b"frames of a catalog that was moved away").unwrap();
    let url = format!("sqlite://{}", path.display());
    for (what, result) in [("prepare", Catalog::prepare(&url).await), ("open", Catalog::open(&url).await.map(drop))] {
        let error = result.expect_err(&format!("{what}: a catalog was made over a stale -wal"));
        assert!(matches!(error, CatalogError::NotACatalog { .. }), "{what}: {error:?}");
        let expected = format!(
            "catalog file {:?} is not a Lanyard catalog: it is missing, but its write-ahead log {:?} is there (was \
             the catalog moved away without it?)",
            path.display(),
            wal.display()
        );
        assert!(error.to_string().starts_with(&expected), "{what}: {error}");
        assert!(!path.exists(), "{what}: the catalog file was made");
    }
    // Once the -wal is moved away too, a new catalog is made.
    std::fs::remove_file(&wal).unwrap();
    Catalog::open(&url).await.unwrap().close().await;
}
