//! [`MariaDbUser`]: a user with a password on the machine's MariaDB, created through its root account;
//! [`MariaDbDatabase`]: a database of a test's own there, with [`MariaDbDatabase::execute`] and
//! [`MariaDbDatabase::query_i64`] to set up and check it.

use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, Opts, OptsBuilder};

use crate::{block_on, percent_encode, unique_name};

/// The environment variable naming the MariaDB (root) the tests use.
pub const MARIADB_ENV: &str = "LANYARD_TEST_MARIADB";

/// The default of [`MARIADB_ENV`]: the machine's MariaDB, root with an empty password.
pub const MARIADB_DEFAULT: &str = "mysql://root@127.0.0.1:3306";

/// The hosts each user is created for: any host, and the two names a connection from this machine can get
/// (with and without `skip_name_resolve`), so that no more specific account shadows ours.
const HOSTS: &[&str] = &["%", "127.0.0.1", "localhost"];

/// A MariaDB user `lanyard_t_<random>` with a password, on the server of [`MARIADB_ENV`] (default
/// [`MARIADB_DEFAULT`]), for every host a test may connect from. It has no privileges beyond logging in. Dropping
/// it drops the user.
pub struct MariaDbUser {
    name: String,
    root: Opts,
}

impl MariaDbUser {
    /// Creates the user with `password`.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached as root, or refuses the statement.
    pub fn create(password: &str) -> Self {
        let user = Self { name: unique_name("lanyard_t_"), root: root_opts() };
        let accounts = user.accounts_identified_by(password);
        user.as_root(&format!("create the MariaDB user {}", user.name), move |sql_mode| {
            format!("CREATE USER {}", accounts(sql_mode))
        });
        user
    }

    /// The user's name (`lanyard_t_<random>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's host (from [`MARIADB_ENV`]).
    pub fn host(&self) -> String {
        self.root.ip_or_hostname().to_owned()
    }

    /// The server's port (from [`MARIADB_ENV`]).
    pub fn port(&self) -> u16 {
        self.root.tcp_port()
    }

    /// `mysql://<name>:<password>@<host>:<port>`, the password percent-encoded.
    pub fn url(&self, password: &str) -> String {
        format!("mysql://{}:{}@{}:{}", self.name, percent_encode(password), self.host(), self.port())
    }

    /// Changes the password (`ALTER USER … IDENTIFIED BY`): the old one stops working at once.
    pub fn set_password(&self, password: &str) {
        let accounts = self.accounts_identified_by(password);
        self.as_root(&format!("set the password of the MariaDB user {}", self.name), move |sql_mode| {
            format!("ALTER USER {}", accounts(sql_mode))
        });
    }

    /// Connects as this user with `password` over TCP and runs `SELECT 1`; the server's error text when it refuses
    /// (`Access denied for user …`).
    pub fn try_connect(&self, password: &str) -> Result<(), String> {
        let opts = OptsBuilder::from_opts(self.root.clone())
            .user(Some(self.name.clone()))
            .pass(Some(password.to_owned()))
            .db_name(None::<String>)
            .prefer_socket(false);
        block_on(move || async move {
            let mut conn = Conn::new(opts).await?;
            conn.query_drop("SELECT 1").await?;
            conn.disconnect().await
        })
        .map_err(|e| e.to_string())
    }

    /// `'name'@'host' IDENTIFIED BY '<password>'` for every host, quoted for the server's `sql_mode`.
    fn accounts_identified_by(&self, password: &str) -> impl FnOnce(&str) -> String + Send + 'static {
        let (name, password) = (self.name.clone(), password.to_owned());
        move |sql_mode| {
            let no_backslash_escapes = sql_mode.contains("NO_BACKSLASH_ESCAPES");
            let quote = |text: &str| mysql_async::Value::from(text).as_sql(no_backslash_escapes);
            HOSTS
                .iter()
                .map(|host| format!("{}@{} IDENTIFIED BY {}", quote(&name), quote(host), quote(&password)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// Runs the statement `make_sql(@@sql_mode)` as root. Panics with `what` and the server's error (never the
    /// statement, which may hold a password).
    fn as_root(&self, what: &str, make_sql: impl FnOnce(&str) -> String + Send) {
        let opts = self.root.clone();
        let result = block_on(move || async move {
            let mut conn = Conn::new(opts).await?;
            let sql_mode: String = conn.query_first("SELECT @@SESSION.sql_mode").await?.unwrap_or_default();
            conn.query_drop(make_sql(&sql_mode)).await?;
            conn.disconnect().await
        });
        if let Err(e) = result {
            panic!(
                "cannot {what} on MariaDB at {}:{} as {}: {e}; is it running? ({MARIADB_ENV} overrides {MARIADB_DEFAULT})",
                self.host(),
                self.port(),
                self.root.user().unwrap_or("root"),
            );
        }
    }
}

/// The user and the server, without the root account's options (they hold root's password).
impl std::fmt::Debug for MariaDbUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MariaDbUser")
            .field("name", &self.name)
            .field("host", &self.root.ip_or_hostname())
            .field("port", &self.root.tcp_port())
            .finish_non_exhaustive()
    }
}

impl Drop for MariaDbUser {
    fn drop(&mut self) {
        let name = self.name.clone();
        let drop_user = move |sql_mode: &str| {
            let quote = |text: &str| mysql_async::Value::from(text).as_sql(sql_mode.contains("NO_BACKSLASH_ESCAPES"));
            let accounts: Vec<String> = HOSTS.iter().map(|host| format!("{}@{}", quote(&name), quote(host))).collect();
            format!("DROP USER IF EXISTS {}", accounts.join(", "))
        };
        let what = format!("drop the MariaDB user {}", self.name);
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.as_root(&what, drop_user))).is_err() {
            eprintln!("lanyard-testsupport: could not {what}");
        }
    }
}

/// A database `lanyard_<tag>_<random>` on the server of [`MARIADB_ENV`] (default [`MARIADB_DEFAULT`]), created as
/// root; dropped on drop, also when the test fails.
pub struct MariaDbDatabase {
    name: String,
    root: Opts,
}

impl MariaDbDatabase {
    /// Creates the database.
    ///
    /// # Panics
    ///
    /// When `tag` is not lowercase letters, digits and `_`, or the server cannot be reached as root or refuses.
    pub fn create(tag: &str) -> Self {
        assert!(
            !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "a MariaDbDatabase tag is lowercase letters, digits and `_`: {tag:?}"
        );
        let database = Self { name: unique_name(&format!("lanyard_{tag}_")), root: root_opts() };
        let sql = format!("CREATE DATABASE `{}`", database.name);
        if let Err(e) = root_statement(database.root.clone(), sql) {
            panic!(
                "MariaDB is required and cannot create the test database {} ({e}): start it, or point {MARIADB_ENV} \
                 at a server whose root may create databases",
                database.name
            );
        }
        database
    }

    /// The database's name (`lanyard_<tag>_<random>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Root's options with this database as the default one (TCP, never the unix socket).
    pub fn opts(&self) -> Opts {
        OptsBuilder::from_opts(self.root.clone()).db_name(Some(self.name.clone())).into()
    }

    /// Runs `sql` (one or more statements) in the database, as root.
    ///
    /// # Panics
    ///
    /// When the statements fail: the message has them and the server's error.
    pub fn execute(&self, sql: &str) {
        let opts = self.opts();
        let statements = sql.to_owned();
        let result = block_on(move || async move {
            let mut conn = Conn::new(opts).await?;
            conn.query_drop(statements).await?;
            conn.disconnect().await
        });
        if let Err(e) = result {
            panic!("{sql}: {e} (in the MariaDB database {})", self.name);
        }
    }

    /// The first column of the first row of `sql` in the database, as root, as an integer (`count(*)`, …).
    ///
    /// # Panics
    ///
    /// When the query fails or returns no row: the message has it and the server's error.
    pub fn query_i64(&self, sql: &str) -> i64 {
        let opts = self.opts();
        let query = sql.to_owned();
        let result = block_on(move || async move {
            let mut conn = Conn::new(opts).await?;
            let value: Option<i64> = conn.query_first(query).await?;
            conn.disconnect().await?;
            Ok::<_, mysql_async::Error>(value)
        });
        match result {
            Ok(Some(value)) => value,
            Ok(None) => panic!("{sql}: no row (in the MariaDB database {})", self.name),
            Err(e) => panic!("{sql}: {e} (in the MariaDB database {})", self.name),
        }
    }
}

/// The database's name, without the root account's options (they hold root's password).
impl std::fmt::Debug for MariaDbDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MariaDbDatabase").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Drop for MariaDbDatabase {
    fn drop(&mut self) {
        if let Err(e) = root_statement(self.root.clone(), format!("DROP DATABASE IF EXISTS `{}`", self.name)) {
            let message = format!("lanyard-testsupport: cannot drop the MariaDB database {}: {e}", self.name);
            if std::thread::panicking() {
                eprintln!("{message}");
            } else {
                panic!("{message}");
            }
        }
    }
}

/// Runs `sql` as root; the server's error text when it fails.
fn root_statement(root: Opts, sql: String) -> Result<(), String> {
    block_on(move || async move {
        let mut conn = Conn::new(root).await?;
        conn.query_drop(sql).await?;
        conn.disconnect().await
    })
    .map_err(|e| e.to_string())
}

/// The root account's options from [`MARIADB_ENV`] (TCP, never the unix socket).
fn root_opts() -> Opts {
    let url = std::env::var(MARIADB_ENV).ok().filter(|url| !url.trim().is_empty());
    let url = url.as_deref().unwrap_or(MARIADB_DEFAULT);
    let opts = Opts::from_url(url).unwrap_or_else(|e| panic!("{MARIADB_ENV} is not a mysql:// URL ({e})"));
    OptsBuilder::from_opts(opts).prefer_socket(false).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_checks_passwords_and_rotates_them() {
        let first = r"it's \ first";
        let user = MariaDbUser::create(first);
        assert!(user.name().starts_with("lanyard_t_"), "{}", user.name());
        user.try_connect(first).unwrap();
        let refused = user.try_connect("wrong").unwrap_err();
        assert!(refused.contains("Access denied"), "{refused}");

        user.set_password("second");
        user.try_connect("second").unwrap();
        let refused = user.try_connect(first).unwrap_err();
        assert!(refused.contains("Access denied"), "{refused}");

        assert_eq!(user.url("p@ss"), format!("mysql://{}:p%40ss@{}:{}", user.name(), user.host(), user.port()));
        let opts = Opts::from_url(&user.url("p@ss")).unwrap();
        assert_eq!(opts.pass(), Some("p@ss"));
    }

    #[test]
    fn a_database_is_created_and_dropped() {
        let exists = |name: String| -> bool {
            block_on(move || async move {
                let mut conn = Conn::new(root_opts()).await.unwrap();
                let found: Option<String> = conn
                    .exec_first("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (name,))
                    .await
                    .unwrap();
                conn.disconnect().await.unwrap();
                found.is_some()
            })
        };
        let database = MariaDbDatabase::create("db_test");
        let name = database.name().to_owned();
        assert!(name.starts_with("lanyard_db_test_") && exists(name.clone()), "{name}");
        let opts = database.opts();
        let current: Option<String> = block_on(move || async move {
            let mut conn = Conn::new(opts).await.unwrap();
            conn.query_drop("CREATE TABLE t (x INT)").await.unwrap();
            let current = conn.query_first("SELECT DATABASE()").await.unwrap();
            conn.disconnect().await.unwrap();
            current
        });
        assert_eq!(current.as_deref(), Some(name.as_str()));
        database.execute("INSERT INTO t VALUES (1), (2); INSERT INTO t VALUES (3)");
        assert_eq!(database.query_i64("SELECT count(*) FROM t"), 3);
        assert!(!format!("{database:?}").contains("mysql://"));
        drop(database);
        assert!(!exists(name));
    }

    #[test]
    fn drop_drops_the_user() {
        let accounts = |name: String| -> usize {
            block_on(move || async move {
                let mut conn = Conn::new(root_opts()).await.unwrap();
                let count = conn.exec_first("SELECT COUNT(*) FROM mysql.user WHERE User = ?", (name,)).await.unwrap();
                conn.disconnect().await.unwrap();
                count.unwrap()
            })
        };
        let user = MariaDbUser::create("pw");
        let name = user.name().to_owned();
        assert_eq!(accounts(name.clone()), HOSTS.len());
        drop(user);
        assert_eq!(accounts(name), 0);
    }
}
