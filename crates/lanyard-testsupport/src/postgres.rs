//! [`PrivatePostgres`]: a throw-away PostgreSQL cluster with password (SCRAM) logins, for the tests that rotate a
//! database password (the machine's service trusts local logins, so a wrong password would still get in there).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::database::ident;
use crate::{TempDir, block_on, free_port, percent_encode, tail};

/// Overrides where the PostgreSQL server binaries (`initdb`, `pg_ctl`) are looked for.
pub const PG_BINDIR_ENV: &str = "LANYARD_TEST_PG_BINDIR";

/// The system user the cluster runs as when the tests run as root (`initdb` refuses to run as root).
const RUN_AS_WHEN_ROOT: &str = "postgres";

/// How many ports to try when the one picked is taken before the server binds it.
const START_ATTEMPTS: usize = 5;

/// Where the PostgreSQL server binaries are: [`PG_BINDIR_ENV`], else `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/<version>/bin`. (`cargo xtask test` checks the same places before the suite runs.)
///
/// # Panics
///
/// When none of them holds `initdb`.
pub fn pg_bindir() -> PathBuf {
    if let Some(dir) = std::env::var_os(PG_BINDIR_ENV).filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").is_file() {
            return dir;
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "the PostgreSQL server binaries (initdb, pg_ctl) are not installed: no `pg_config --bindir` and no \
             /usr/lib/postgresql/*/bin/initdb; install the PostgreSQL server package or set {PG_BINDIR_ENV}"
        )
    })
}

/// A private PostgreSQL cluster: `initdb --auth=scram-sha-256` in a temporary directory, started with `pg_ctl` on
/// a free port of 127.0.0.1 (unix socket in the same directory, fsync off). The superuser is `postgres` with the
/// password given to [`start`](Self::start). Dropping it stops the server (`pg_ctl stop -m immediate`) and removes
/// the directory.
///
/// When the tests run as root, `initdb` and `pg_ctl` run as the `postgres` system user (`runuser`), which then owns
/// the directory.
pub struct PrivatePostgres {
    dir: TempDir,
    bindir: PathBuf,
    /// `Some("postgres")` when the server runs as that user through `runuser`.
    run_as: Option<&'static str>,
    port: u16,
    superuser_password: String,
    /// `ssl = on` with these PEM files (in the cluster directory): certificate, key.
    tls: Option<(PathBuf, PathBuf)>,
}

impl PrivatePostgres {
    /// The superuser's name.
    pub const SUPERUSER: &'static str = "postgres";

    /// Creates and starts the cluster, and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// When `initdb` or `pg_ctl` fails (the message holds their output and the server log).
    pub fn start(superuser_password: &str) -> Self {
        assert!(!superuser_password.is_empty(), "PrivatePostgres needs a non-empty superuser password");
        let bindir = pg_bindir();
        let run_as = running_as_root().then_some(RUN_AS_WHEN_ROOT);
        let dir = TempDir::new("pg");
        let mut cluster =
            Self { dir, bindir, run_as, port: 0, superuser_password: superuser_password.to_owned(), tls: None };
        cluster.prepare_dir();
        cluster.initdb();
        cluster.start_server();
        cluster
    }

    /// [`start`](Self::start) with TLS on (`ssl = on`): the server's certificate is for the host name `localhost`
    /// only (not `127.0.0.1`, so a `verify-full` client that connects to `127.0.0.1` must fail), signed by a test CA
    /// made with rcgen. Returns the cluster and the CA certificate (PEM).
    pub fn start_with_tls(superuser_password: &str) -> (Self, String) {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        assert!(!superuser_password.is_empty(), "PrivatePostgres needs a non-empty superuser password");
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "Lanyard private PostgreSQL test CA");
        let ca = ca_params.self_signed(&ca_key).expect("a self-signed CA");
        let leaf_key = KeyPair::generate().expect("a server key");
        let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).expect("server parameters");
        leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
        let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).expect("a server certificate signed by the CA");

        let bindir = pg_bindir();
        let run_as = running_as_root().then_some(RUN_AS_WHEN_ROOT);
        let dir = TempDir::new("pg");
        let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
        let mut cluster = Self {
            dir,
            bindir,
            run_as,
            port: 0,
            superuser_password: superuser_password.to_owned(),
            tls: Some((cert.clone(), key.clone())),
        };
        cluster.prepare_dir();
        fs::write(&cert, leaf.pem()).expect("write server.crt");
        fs::write(&key, leaf_key.serialize_pem()).expect("write server.key");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod server.key");
        if let Some(user) = cluster.run_as {
            let (uid, gid) = (id_of(user, "-u"), id_of(user, "-g"));
            for path in [&cert, &key] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .unwrap_or_else(|e| panic!("cannot chown {} to {user}: {e}", path.display()));
            }
        }
        cluster.initdb();
        cluster.start_server();
        (cluster, ca.pem())
    }

    /// The directory (owned by the user the server runs as) and the password file for `initdb`.
    fn prepare_dir(&self) {
        let root = self.dir.path();
        let pwfile = self.pwfile();
        fs::write(&pwfile, format!("{}\n", self.superuser_password))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", pwfile.display()));
        fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600)).expect("chmod the password file");
        fs::set_permissions(root, fs::Permissions::from_mode(0o700)).expect("chmod the cluster directory");
        if let Some(user) = self.run_as {
            let (uid, gid) = (id_of(user, "-u"), id_of(user, "-g"));
            for path in [root, pwfile.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .unwrap_or_else(|e| panic!("cannot chown {} to {user}: {e}", path.display()));
            }
        }
    }

    fn pwfile(&self) -> PathBuf {
        self.dir.join("pwfile")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// A command for one of the server binaries, as the server's user, in the cluster directory.
    fn tool(&self, name: &str) -> Command {
        let program = self.bindir.join(name);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        // The developer's PG* variables must not redirect the tools.
        for var in ["PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGOPTIONS"] {
            command.env_remove(var);
        }
        command
    }

    fn initdb(&self) {
        let mut command = self.tool("initdb");
        command
            .arg("-D")
            .arg(self.data_dir())
            .args(["--auth=scram-sha-256", "--username", Self::SUPERUSER, "--encoding=UTF8", "--locale=C", "--no-sync"])
            .arg(format!("--pwfile={}", self.pwfile().display()));
        let output = run(&mut command, "initdb");
        let _ = fs::remove_file(self.pwfile());
        if !output.status.success() {
            panic!("initdb failed ({}):\n{}{}", output.status, self.run_as_hint(), show(&output));
        }
    }

    /// `pg_ctl start` on a free port; another port when the one picked was taken meanwhile.
    fn start_server(&mut self) {
        let mut failures = String::new();
        for _ in 0..START_ATTEMPTS {
            self.port = free_port();
            let options = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{socket_dir}' \
                 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB \
                 -c max_connections=40 -c log_min_error_statement=panic{tls}",
                port = self.port,
                socket_dir = self.dir.path().display(),
                tls = match &self.tls {
                    Some((cert, key)) =>
                        format!(" -c ssl=on -c ssl_cert_file='{}' -c ssl_key_file='{}'", cert.display(), key.display()),
                    None => String::new(),
                },
            );
            let mut command = self.tool("pg_ctl");
            command.arg("-D").arg(self.data_dir()).arg("-l").arg(self.log_path());
            command.args(["-w", "-t", "60", "-o", &options, "start"]);
            let output = run(&mut command, "pg_ctl start");
            if output.status.success() {
                return;
            }
            let log = self.log();
            failures.push_str(&format!(
                "pg_ctl start on port {} failed ({}):\n{}--- postgres.log ---\n{log}\n",
                self.port,
                output.status,
                show(&output)
            ));
            let port_taken = log.contains("could not bind") || log.contains("could not create any TCP/IP sockets");
            if !port_taken {
                break;
            }
            self.stop_server(); // in case it half started
        }
        panic!("the private PostgreSQL cluster did not start:\n{failures}");
    }

    /// How to fix a failure that comes from running as root.
    fn run_as_hint(&self) -> String {
        match self.run_as {
            Some(user) => format!(
                "(running as root, so initdb and pg_ctl run as the `{user}` user via runuser; that user needs to \
                 exist and to reach {} and {})\n",
                self.bindir.display(),
                self.dir.path().display()
            ),
            None => String::new(),
        }
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host the server listens on: `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// `postgres://<user>:<password>@127.0.0.1:<port>/postgres`, user and password percent-encoded.
    pub fn url(&self, user: &str, password: &str) -> String {
        self.database_url(user, password, "postgres")
    }

    /// [`url`](Self::url) for another database.
    pub fn database_url(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            percent_encode(user),
            percent_encode(password),
            self.port,
            percent_encode(database)
        )
    }

    /// The server's log so far (connection failures, errors; statements are never logged).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path())
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path().display()))
    }

    /// Runs `sql` (one or more statements, simple query protocol) as the superuser in the `postgres` database.
    ///
    /// # Panics
    ///
    /// When a statement fails (the message holds the error but not the SQL, which may hold a password).
    pub fn execute_as_superuser(&self, sql: &str) {
        let options = self.connect_options(Self::SUPERUSER, &self.superuser_password);
        let result = block_on(move || async move {
            let mut connection = options.connect().await?;
            sqlx::raw_sql(sql).execute(&mut connection).await?;
            connection.close().await
        });
        if let Err(e) = result {
            panic!("SQL as the superuser on the private PostgreSQL (port {}) failed: {e}", self.port);
        }
    }

    /// The first column of the first row of `sql`, run as the superuser in the `postgres` database, as an integer.
    pub fn query_i64_as_superuser(&self, sql: &str) -> i64 {
        let options = self.connect_options(Self::SUPERUSER, &self.superuser_password);
        let result = block_on(move || async move {
            let mut connection = options.connect().await?;
            let value: i64 = sqlx::query_scalar(sql).fetch_one(&mut connection).await?;
            connection.close().await?;
            Ok::<_, sqlx::Error>(value)
        });
        result.unwrap_or_else(|e| panic!("{sql} on the private PostgreSQL (port {}) failed: {e}", self.port))
    }

    /// `CREATE ROLE <name> LOGIN PASSWORD '<password>'`.
    pub fn create_user(&self, name: &str, password: &str) {
        self.execute_as_superuser(&format!("CREATE ROLE {} LOGIN PASSWORD {}", ident(name), literal(password)));
    }

    /// `ALTER ROLE <name> PASSWORD '<password>'`: the old password stops working at once (sessions already open
    /// stay open).
    pub fn set_password(&self, name: &str, password: &str) {
        self.execute_as_superuser(&format!("ALTER ROLE {} PASSWORD {}", ident(name), literal(password)));
    }

    /// `CREATE DATABASE <name> OWNER <owner>`.
    pub fn create_database(&self, name: &str, owner: &str) {
        self.execute_as_superuser(&format!("CREATE DATABASE {} OWNER {}", ident(name), ident(owner)));
    }

    /// Connects as `user` with `password` to the `postgres` database and runs `SELECT 1`; the error text when the
    /// server refuses (`password authentication failed for user …`).
    pub fn try_connect(&self, user: &str, password: &str) -> Result<(), String> {
        let options = self.connect_options(user, password);
        block_on(move || async move {
            let mut connection = options.connect().await?;
            sqlx::query("SELECT 1").execute(&mut connection).await?;
            connection.close().await
        })
        .map_err(|e| e.to_string())
    }

    /// Connect options that ignore the developer's `PG*` variables and `.pgpass`: only what is given counts.
    fn connect_options(&self, user: &str, password: &str) -> PgConnectOptions {
        PgConnectOptions::new_without_pgpass()
            .host("127.0.0.1")
            .port(self.port)
            .username(user)
            .password(password)
            .database("postgres")
            .ssl_mode(PgSslMode::Disable)
            .options([("statement_timeout", "60000")])
            .disable_statement_logging()
    }

    /// `pg_ctl stop -m immediate`; if that fails, SIGKILL to the postmaster. Never panics (runs in `Drop`).
    fn stop_server(&self) {
        let pid_file = self.data_dir().join("postmaster.pid");
        if !pid_file.exists() {
            return;
        }
        let mut command = self.tool("pg_ctl");
        command.arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w", "-t", "30", "stop"]);
        match command.output() {
            Ok(output) if output.status.success() => {}
            stopped => {
                eprintln!("lanyard-testsupport: pg_ctl stop failed ({stopped:?}); killing the postmaster");
                if let Some(pid) =
                    fs::read_to_string(&pid_file).ok().and_then(|text| text.lines().next().map(str::to_owned))
                {
                    let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
                }
            }
        }
    }
}

/// Everything but the superuser's password.
impl std::fmt::Debug for PrivatePostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivatePostgres")
            .field("dir", &self.dir)
            .field("bindir", &self.bindir)
            .field("run_as", &self.run_as)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "lanyard-testsupport: private PostgreSQL on port {} at a failed test; its log:\n{}",
                self.port,
                tail(&self.log(), 40)
            );
        }
        self.stop_server();
        // The TempDir field removes the directory (root may remove the postgres user's files; an ordinary user
        // owns them).
    }
}

/// Runs a command to completion, panicking if it cannot be started at all.
fn run(command: &mut Command, what: &str) -> Output {
    command.output().unwrap_or_else(|e| panic!("cannot run {what} ({command:?}): {e}"))
}

/// A command's captured output, for failure messages.
fn show(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}\n",
        String::from_utf8_lossy(&output.stdout).trim_end(),
        String::from_utf8_lossy(&output.stderr).trim_end()
    )
}

/// Whether this process runs as root (the owner of `/proc/self`).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// `id -u <user>` or `id -g <user>`.
fn id_of(user: &str, flag: &str) -> u32 {
    let output = Command::new("id").args([flag, user]).output().unwrap_or_else(|e| panic!("cannot run `id`: {e}"));
    assert!(
        output.status.success(),
        "running as root, initdb must run as the `{user}` user, which does not exist: create it \
         (`useradd --system {user}`) or run the tests as an ordinary user ({})",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8_lossy(&output.stdout).trim().parse().unwrap_or_else(|e| panic!("`id {flag} {user}`: {e}"))
}

/// A quoted SQL string literal (standard_conforming_strings is on: backslashes are literal).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_cluster_checks_passwords_and_rotates_them() {
        let pg = PrivatePostgres::start("super secret");
        assert_ne!(pg.port(), 5432);
        pg.try_connect(PrivatePostgres::SUPERUSER, "super secret").unwrap();
        let refused = pg.try_connect(PrivatePostgres::SUPERUSER, "wrong").unwrap_err();
        assert!(refused.contains("password authentication failed"), "{refused}");

        // A password with quotes and a backslash round-trips through the SQL quoting.
        let first = r"it's \ first";
        pg.create_user("app user", first);
        pg.try_connect("app user", first).unwrap();
        let refused = pg.try_connect("app user", "first").unwrap_err();
        assert!(refused.contains("password authentication failed"), "{refused}");

        pg.set_password("app user", "second");
        pg.try_connect("app user", "second").unwrap();
        let refused = pg.try_connect("app user", first).unwrap_err();
        assert!(refused.contains("password authentication failed"), "{refused}");

        // The URL carries the credentials percent-encoded, and sqlx reads them back.
        let url = pg.url("app user", "p@ss:/word");
        assert_eq!(url, format!("postgres://app%20user:p%40ss%3A%2Fword@127.0.0.1:{}/postgres", pg.port()));
        let options: PgConnectOptions = url.parse().unwrap();
        assert_eq!(options.get_username(), "app user");

        pg.create_database("app db", "app user");
        assert!(pg.database_url("app user", "second", "app db").ends_with("/app%20db"));
        assert!(!pg.log().contains("second"), "no password in the server log:\n{}", pg.log());
    }

    #[test]
    fn drop_stops_the_server_and_removes_the_directory() {
        let pg = PrivatePostgres::start("pw");
        let (port, dir) = (pg.port(), pg.dir.path().to_owned());
        assert!(dir.join("data/postmaster.pid").is_file());
        drop(pg);
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "port {port} still answers");
    }

    #[test]
    fn sql_failures_panic_with_the_error_but_not_the_statement() {
        let pg = PrivatePostgres::start("pw");
        let panic = std::panic::catch_unwind(|| pg.set_password("nobody", "hunter2")).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("does not exist"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn quoting() {
        assert_eq!(literal(r"it's \n"), r"'it''s \n'");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
    }
}
