//! [`TempDatabase`]: a throw-away catalog location — a SQLite file in a temporary directory, or a fresh database
//! on the machine's PostgreSQL — removed on drop, also when the test fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::{TempDir, block_on, unique_name};

/// The environment variable naming the PostgreSQL server (a URL with a superuser that may create and drop
/// databases) the tests create their databases on.
pub const PG_URL_ENV: &str = "LANYARD_TEST_PG";

/// The default of [`PG_URL_ENV`]: the machine's service, which trusts local logins.
pub const PG_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long connecting to the server of [`PG_URL_ENV`] may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// The file name of the SQLite catalog [`TempDatabase::sqlite`] makes.
const SQLITE_FILE: &str = "catalog.db";

/// The server of [`PG_URL_ENV`] (default [`PG_URL_DEFAULT`]), as given.
pub fn pg_admin_url() -> String {
    std::env::var(PG_URL_ENV).ok().filter(|url| !url.trim().is_empty()).unwrap_or_else(|| PG_URL_DEFAULT.to_owned())
}

/// The URL of the database `database` on the server of [`PG_URL_ENV`]: the admin URL with its path replaced (user,
/// password, host and query are kept). The database need not exist.
///
/// # Panics
///
/// When [`PG_URL_ENV`] is not a URL.
pub fn pg_database_url(database: &str) -> String {
    let admin = pg_admin_url();
    let mut url =
        url::Url::parse(&admin).unwrap_or_else(|e| panic!("{PG_URL_ENV} is not a URL ({e}): {}", redacted(&admin)));
    url.set_path(&format!("/{database}"));
    url.into()
}

/// Which database engine a [`TempDatabase`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatabaseKind {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A database of its own on the server of [`PG_URL_ENV`].
    Postgres,
}

impl DatabaseKind {
    /// Both kinds, SQLite first.
    pub const ALL: [Self; 2] = [Self::Sqlite, Self::Postgres];
}

/// A throw-away catalog location, for a test or a benchmark:
///
/// - [`sqlite`](Self::sqlite): `sqlite://<temp dir>/catalog.db` (the file is not created: the code under test
///   creates it); the directory goes on drop;
/// - [`postgres`](Self::postgres): `CREATE DATABASE lanyard_<tag>_<random>` on the server of [`PG_URL_ENV`]
///   (default [`PG_URL_DEFAULT`]); `DROP DATABASE … WITH (FORCE)` on drop, which also ends the connections the test
///   left open.
///
/// Dropping happens also while a failing test unwinds; a drop that fails then is reported on stderr, and one that
/// fails in a passing test fails it. A missing PostgreSQL fails the test with a message that says how to fix it:
/// nothing skips.
pub struct TempDatabase {
    kind: DatabaseKind,
    url: String,
    /// The SQLite directory.
    dir: Option<TempDir>,
    /// The PostgreSQL database's name.
    database: Option<String>,
}

impl TempDatabase {
    /// A fresh database of `kind` ([`sqlite`](Self::sqlite) or [`postgres`](Self::postgres)).
    pub fn new(kind: DatabaseKind, tag: &str) -> Self {
        match kind {
            DatabaseKind::Sqlite => Self::sqlite(tag),
            DatabaseKind::Postgres => Self::postgres(tag),
        }
    }

    /// `sqlite://<temp>/lanyard-<tag>-<random>/catalog.db`.
    pub fn sqlite(tag: &str) -> Self {
        Self::sqlite_file(tag, SQLITE_FILE)
    }

    /// `sqlite://<temp>/lanyard-<tag>-<random>/<relative>`: `relative` may name directories that do not exist yet.
    pub fn sqlite_file(tag: &str, relative: impl AsRef<Path>) -> Self {
        let relative = relative.as_ref();
        assert!(relative.is_relative(), "a TempDatabase file is relative to its directory: {}", relative.display());
        let dir = TempDir::new(tag);
        let url = format!("sqlite://{}", dir.join(relative).display());
        Self { kind: DatabaseKind::Sqlite, url, dir: Some(dir), database: None }
    }

    /// Creates the database `lanyard_<tag>_<random>` on the server of [`PG_URL_ENV`].
    ///
    /// # Panics
    ///
    /// When `tag` is not lowercase letters, digits and `_`, or the server cannot be reached or refuses.
    pub fn postgres(tag: &str) -> Self {
        assert!(
            !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "a TempDatabase tag is lowercase letters, digits and `_`: {tag:?}"
        );
        let database = unique_name(&format!("lanyard_{tag}_"));
        let url = pg_database_url(&database);
        if let Err(error) = admin(&format!("CREATE DATABASE {}", ident(&database))) {
            panic!(
                "PostgreSQL is required and cannot create the test database {database} ({error}): start it, or \
                 point {PG_URL_ENV} at a server that trusts local logins"
            );
        }
        Self { kind: DatabaseKind::Postgres, url, dir: None, database: Some(database) }
    }

    /// The database URL (`sqlite://…` or `postgres://…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which engine it is on.
    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// Whether it is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.kind == DatabaseKind::Postgres
    }

    /// The PostgreSQL database's name (`None` for SQLite).
    pub fn database_name(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// Runs `sql` (one or more statements) in the PostgreSQL database.
    ///
    /// # Panics
    ///
    /// On SQLite, or when the statements fail.
    pub fn execute(&self, sql: &str) {
        let url = self.postgres_url();
        let result = block_on(move || async move {
            let mut connection = PgConnection::connect(&url).await?;
            sqlx::raw_sql(sql).execute(&mut connection).await?;
            connection.close().await
        });
        if let Err(error) = result {
            panic!("{sql}: {error}");
        }
    }

    /// The first column of the first row of `sql` in the PostgreSQL database, as an integer (`count(*)`, …).
    ///
    /// # Panics
    ///
    /// On SQLite, or when the query fails or returns no integer.
    pub fn query_i64(&self, sql: &str) -> i64 {
        let url = self.postgres_url();
        let result = block_on(move || async move {
            let mut connection = PgConnection::connect(&url).await?;
            let value: i64 = sqlx::query_scalar(sql).fetch_one(&mut connection).await?;
            connection.close().await?;
            Ok::<_, sqlx::Error>(value)
        });
        result.unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    fn postgres_url(&self) -> String {
        assert!(self.is_postgres(), "a PostgreSQL database is needed here");
        self.url.clone()
    }

    /// The SQLite file (`None` on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.url.strip_prefix("sqlite://").filter(|_| self.dir.is_some()).map(PathBuf::from)
    }
}

/// The kind and where it is; no URL, which may hold the password of [`PG_URL_ENV`].
impl std::fmt::Debug for TempDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempDatabase")
            .field("kind", &self.kind)
            .field("dir", &self.dir.as_ref().map(TempDir::path))
            .field("database", &self.database)
            .finish()
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        // The `dir` field removes the SQLite directory after this.
        let Some(database) = self.database.take() else { return };
        if let Err(error) = admin(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&database))) {
            let message = format!("lanyard-testsupport: cannot drop the test database {database}: {error}");
            if std::thread::panicking() {
                eprintln!("{message}");
            } else {
                panic!("{message}");
            }
        }
    }
}

/// Declares, for each `test`, `sqlite::<test>` and `postgres::<test>`: multi-threaded `#[tokio::test]`s (two
/// workers) that run `super::<test>(&fixture).await` on a fixture of their own, `super::<make>(DatabaseKind::…)`.
/// The fixture usually holds a [`TempDatabase`], so its database goes when the test ends, passing or failing.
///
/// ```text
/// fn fresh(kind: DatabaseKind) -> TempDatabase { TempDatabase::new(kind, "mine") }
/// async fn round_trips(db: &TempDatabase) { /* … */ }
/// lanyard_testsupport::database_tests!(fresh => round_trips);
/// ```
#[macro_export]
macro_rules! database_tests {
    ($make:ident => $($test:ident),+ $(,)?) => {
        mod sqlite {
            $crate::database_tests!(@kind Sqlite $make => $($test),+);
        }
        mod postgres {
            $crate::database_tests!(@kind Postgres $make => $($test),+);
        }
    };
    (@kind $kind:ident $make:ident => $($test:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let fixture = super::$make($crate::DatabaseKind::$kind);
                super::$test(&fixture).await;
            }
        )+
    };
}

/// Runs one statement on the server of [`PG_URL_ENV`] as its admin; the error says where (password left out).
fn admin(sql: &str) -> Result<(), String> {
    let admin_url = pg_admin_url();
    let options: sqlx::postgres::PgConnectOptions =
        admin_url.parse().map_err(|e| format!("{PG_URL_ENV} is not a PostgreSQL URL: {e}"))?;
    let options = options.disable_statement_logging();
    let sql = sql.to_owned();
    let result = block_on(move || async move {
        let connecting = tokio::time::timeout(CONNECT_LIMIT, PgConnection::connect_with(&options));
        let mut connection = match connecting.await {
            Ok(connected) => connected.map_err(|e| e.to_string())?,
            Err(_) => return Err(format!("no connection within {CONNECT_LIMIT:?}")),
        };
        sqlx::raw_sql(&sql).execute(&mut connection).await.map_err(|e| e.to_string())?;
        connection.close().await.map_err(|e| e.to_string())
    });
    result.map_err(|e| format!("{}: {e}", redacted(&admin_url)))
}

/// `url` without its password, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.into()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// A quoted SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `name` exists on the server of [`PG_URL_ENV`].
    fn exists(name: &str) -> bool {
        let options: sqlx::postgres::PgConnectOptions = pg_admin_url().parse().unwrap();
        let name = name.to_owned();
        block_on(move || async move {
            let mut connection = PgConnection::connect_with(&options).await.unwrap();
            let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_optional(&mut connection)
                .await
                .unwrap();
            found.is_some()
        })
    }

    #[test]
    fn a_sqlite_database_is_a_file_in_a_directory_removed_on_drop() {
        let db = TempDatabase::sqlite("db-test");
        assert_eq!(db.kind(), DatabaseKind::Sqlite);
        let path = db.sqlite_path().unwrap();
        assert_eq!(db.url(), format!("sqlite://{}", path.display()));
        assert!(path.ends_with(SQLITE_FILE));
        let dir = path.parent().unwrap().to_owned();
        assert!(dir.is_dir() && !path.exists(), "the directory exists, the file does not yet");
        std::fs::write(&path, "x").unwrap();
        drop(db);
        assert!(!dir.exists());

        let nested = TempDatabase::sqlite_file("db-test", "a/b/c.db");
        assert!(nested.url().ends_with("/a/b/c.db"), "{}", nested.url());
        assert!(!nested.is_postgres());
    }

    #[tokio::test]
    async fn a_postgres_database_is_created_and_dropped_with_open_connections() {
        let db = TempDatabase::postgres("db_test");
        let name = db.database.clone().unwrap();
        assert!(name.starts_with("lanyard_db_test_"), "{name}");
        assert!(db.url().ends_with(&format!("/{name}")), "{}", db.url());
        assert!(exists(&name));
        // A connection the test leaves open does not keep the database alive.
        let mut open = PgConnection::connect(db.url()).await.unwrap();
        sqlx::query("CREATE TABLE t (x int)").execute(&mut open).await.unwrap();
        assert!(!format!("{db:?}").contains("postgres://"), "{db:?}");
        drop(db);
        assert!(!exists(&name));
    }

    #[test]
    fn a_postgres_database_is_dropped_when_the_test_panics() {
        let mut name = String::new();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let db = TempDatabase::new(DatabaseKind::Postgres, "db_test");
            name = db.database.clone().unwrap();
            panic!("the test fails");
        }));
        assert!(caught.is_err());
        assert!(!name.is_empty() && !exists(&name), "{name} is left behind");
    }

    #[test]
    fn database_urls_keep_everything_but_the_path() {
        assert_eq!(url::Url::parse(&pg_database_url("x_1")).unwrap().path(), "/x_1");
        assert_eq!(redacted("postgres://u:hunter2@h:1/db?sslmode=disable"), "postgres://u:***@h:1/db?sslmode=disable");
        assert_eq!(redacted("not a url"), "(not a URL)");
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
    }
}
