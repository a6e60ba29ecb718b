//! `lanyard serve`: the Control Plane over HTTP.
//!
//! Order of start-up: logging, the data directory (created 0700; an existing one has group and other access taken
//! away from it and its files, with a warning), the catalog file (refused when it exists but is not a catalog), the
//! master key check, the catalog (opened and migrated), the admin bootstrap, the listening socket, the signal handlers, then one line `lanyard listening on <scheme>://<addr>` on stderr, then
//! serving until SIGINT or SIGTERM. No token is ever printed: the bootstrap only says where the admin token is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use lanyard_control::AdminBootstrap;
use lanyard_core::SecretString;
use lanyard_server::{LineFormat, ServeError, ServeOptions, Server, TlsFiles};

use crate::place::{Place, explain, redact_url};

/// The environment variable that may hold the admin token.
const ADMIN_TOKEN_ENV: &str = "LANYARD_ADMIN_TOKEN";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `lanyard serve` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    place: Place,
    /// The address to listen on; a non-loopback address needs TLS or --insecure-no-tls.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7600")]
    listen: SocketAddr,
    /// TLS certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (tokens then cross the network in clear text).
    #[arg(long, conflicts_with = "tls_cert")]
    insecure_no_tls: bool,
    /// Log line format (logs go to stderr).
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// Log filter: error, warn, info, debug, trace, or directives like `lanyard_server=debug`; RUST_LOG overrides it.
    #[arg(long, value_name = "FILTER", default_value = "info")]
    log_level: String,
    #[command(flatten)]
    pipelines: PipelineArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    history: HistoryArgs,
}

/// How long the object history keeps versions (docs/operations.md, "Object history and its retention").
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "History")]
pub(crate) struct HistoryArgs {
    /// Days a version is kept (the newest version of an object that exists is always kept; a dropped object's
    /// history goes this long after its drop); 0 keeps versions whatever their age.
    #[arg(long, value_name = "DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(0..=36_500))]
    history_keep_days: u32,
    /// Versions kept per object, the newest; 0 keeps any number.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    history_keep_versions: u32,
    /// Seconds between two prunings of the history (the first runs at start).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    history_prune_interval_s: u64,
}

impl HistoryArgs {
    /// The pruning, or `None` when both limits are off.
    fn pruning(&self) -> Option<lanyard_server::HistoryPruning> {
        use std::time::Duration;
        let retention = lanyard_control::Retention {
            max_age: (self.history_keep_days > 0)
                .then(|| Duration::from_secs(u64::from(self.history_keep_days) * 86_400)),
            max_versions: (self.history_keep_versions > 0).then_some(self.history_keep_versions),
        };
        (retention.max_age.is_some() || retention.max_versions.is_some()).then(|| lanyard_server::HistoryPruning {
            retention,
            interval: Duration::from_secs(self.history_prune_interval_s),
        })
    }
}

/// What one client may cost (docs/operations.md, "Timeouts and limits").
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Timeouts and limits")]
pub(crate) struct LimitArgs {
    /// Milliseconds to read a request head; also how long an idle keep-alive connection stays open, and the time
    /// from accepting a connection to its first request head (TLS handshake included).
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    header_timeout_ms: u64,
    /// Milliseconds to read a whole request body, from the moment the request is authenticated (then 408 request_timeout).
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    body_timeout_ms: u64,
    /// Milliseconds a request may take in total, TEST routes excepted (then 503 backend_unavailable).
    #[arg(long, value_name = "MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(100..=86_400_000))]
    request_timeout_ms: u64,
    /// Milliseconds to complete a TLS handshake.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    tls_handshake_timeout_ms: u64,
    /// Milliseconds between HTTP/2 keep-alive pings; a ping unanswered for as long closes the connection.
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1000..=3_600_000))]
    http2_keep_alive_ms: u64,
    /// Concurrent streams on one HTTP/2 connection.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    http2_max_streams: u32,
    /// Open connections in total; more are closed at once (counted in lanyard_http_connections_refused_total).
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Open connections from one client IP address; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections_per_ip: u64,
    /// Bytes of a request target (path and query); longer is 414 uri_too_long.
    #[arg(long, value_name = "BYTES", default_value_t = 8192, value_parser = clap::value_parser!(u64).range(256..=65_536))]
    max_uri_bytes: u64,
    /// Bytes of a request's header fields; more is 431 headers_too_large.
    #[arg(long, value_name = "BYTES", default_value_t = 32_768, value_parser = clap::value_parser!(u64).range(1024..=262_144))]
    max_header_bytes: u64,
}

impl LimitArgs {
    fn limits(&self) -> lanyard_server::Limits {
        use std::time::Duration;
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        lanyard_server::Limits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            tls_handshake_timeout: Duration::from_millis(self.tls_handshake_timeout_ms),
            http2_keep_alive: Duration::from_millis(self.http2_keep_alive_ms),
            http2_max_streams: self.http2_max_streams,
            max_connections: count(self.max_connections),
            max_connections_per_ip: count(self.max_connections_per_ip),
            max_uri_bytes: count(self.max_uri_bytes),
            max_header_bytes: count(self.max_header_bytes),
        }
    }
}

/// How this node runs pipelines.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Pipelines")]
pub(crate) struct PipelineArgs {
    /// Run no pipelines on this node (it still serves the API, START and STOP included; other nodes run them).
    #[arg(long)]
    no_pipelines: bool,
    /// This node's name in pipeline leases (default: the id kept in <data-dir>/node.id, made on first start).
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// Milliseconds between two looks at a pipeline's path when the last found nothing new.
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pipeline_interval_ms: u64,
    /// Milliseconds a pipeline lease lasts unless renewed: another node takes a pipeline over at most this long after
    /// the node running it died.
    #[arg(long, value_name = "MS", default_value_t = 15000, value_parser = clap::value_parser!(u64).range(300..=3_600_000))]
    pipeline_lease_ms: u64,
    /// Batches failing this many times in a row put a pipeline in state Error.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pipeline_max_failures: u32,
    /// At most this many files loading at once on this node, over all its pipelines.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    pipeline_files_in_flight: u64,
    /// A file larger than this many MiB is marked Failed without being read (a file is held in memory while it loads).
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pipeline_max_file_mib: u64,
}

impl PipelineArgs {
    /// The runner's configuration, or `None` with `--no-pipelines`. The node id is `--node-id`, else the one kept
    /// in `<data-dir>/node.id` (created on first start), so a restarted node takes its own leases back at once.
    fn config(&self, data_dir: &std::path::Path) -> Result<Option<lanyard_server::RunnerConfig>> {
        if self.no_pipelines {
            return Ok(None);
        }
        let node_id = match &self.node_id {
            Some(id) if id.trim().is_empty() || id.chars().any(char::is_control) => {
                bail!("--node-id must be a non-empty name without control characters")
            }
            Some(id) => id.clone(),
            None => node_id(data_dir)?,
        };
        Ok(Some(lanyard_server::RunnerConfig {
            node_id,
            interval: std::time::Duration::from_millis(self.pipeline_interval_ms),
            lease: std::time::Duration::from_millis(self.pipeline_lease_ms),
            max_files_in_flight: usize::try_from(self.pipeline_files_in_flight).unwrap_or(4),
            max_failures: self.pipeline_max_failures,
            max_file_bytes: self.pipeline_max_file_mib << 20,
        }))
    }
}

/// The node id kept in `<data-dir>/node.id`, made on first start.
fn node_id(data_dir: &std::path::Path) -> Result<String> {
    let path = data_dir.join("node.id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
    let id = format!("node-{}", uuid::Uuid::new_v4());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    // Private like every file of the data directory, whatever the umask.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, format!("{id}\n").as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// Installs the stderr logger, writing through [`lanyard_server::log_writer`]; what the returned guard holds is
/// written out when it is dropped. `RUST_LOG`, when set and not empty, overrides `--log-level`.
fn init_logging(format: LogFormat, level: &str) -> Result<lanyard_server::LogGuard> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        // The parse error repeats its cause in its own message: show it once.
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(&directives).map_err(|e| anyhow::anyhow!("invalid RUST_LOG {directives:?}: {e}"))?
        }
        _ => EnvFilter::try_new(level).map_err(|e| anyhow::anyhow!("invalid --log-level {level:?}: {e}"))?,
    };
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let (writer, guard) = lanyard_server::log_writer(std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.with_ansi(colour).event_format(LineFormat::Text).try_init(),
        LogFormat::Json => builder
            .with_ansi(false)
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(LineFormat::Json)
            .try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    Ok(guard)
}

/// The admin token from the environment, when set and not empty.
pub(crate) fn admin_token_from_env() -> Result<Option<SecretString>> {
    match std::env::var(ADMIN_TOKEN_ENV) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(SecretString::new(value.trim().to_owned()))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{ADMIN_TOKEN_ENV} is not valid UTF-8"),
    }
}

/// `lanyard serve`.
pub(crate) fn run(args: ServeArgs) -> Result<ExitCode> {
    // Held to the end: dropping it writes out the lines still queued.
    let _log = init_logging(args.log_format, &args.log_level)?;
    let options = ServeOptions {
        listen: args.listen,
        tls: match (args.tls_cert.clone(), args.tls_key.clone()) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        },
        insecure_no_tls: args.insecure_no_tls,
        limits: args.limits.limits(),
        history: args.history.pruning(),
        ..ServeOptions::default()
    };
    // Refuse plain HTTP on a public address before anything is created or opened.
    options.check().map_err(serve_error)?;
    let env_token = admin_token_from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lanyard-serve")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, options, env_token))
}

async fn serve(args: ServeArgs, mut options: ServeOptions, env_token: Option<SecretString>) -> Result<ExitCode> {
    let place = &args.place;
    for warning in place.secure_data_dir("start").await? {
        tracing::warn!("{warning}");
    }
    options.pipelines = args.pipelines.config(&place.data_dir)?;
    let catalog_url = place.catalog_url();
    tracing::info!(data_dir = %place.data_dir.display(), catalog = %redact_url(&catalog_url), "opening the catalog");
    let control = place.open().await?;

    match control.bootstrap_admin(env_token.as_ref()).await.map_err(explain).context("admin bootstrap failed")? {
        AdminBootstrap::Created(path) => {
            tracing::info!(path = %path.display(), "created the admin principal; its token is in this file (mode 0600)");
            eprintln!("admin token written to {}", path.display());
        }
        AdminBootstrap::FromEnvironment => {
            tracing::info!("the admin token is the one in {ADMIN_TOKEN_ENV}");
            eprintln!("admin token from {ADMIN_TOKEN_ENV}");
        }
        AdminBootstrap::Existing => tracing::debug!("the admin principal exists; its tokens are unchanged"),
    }
    drop(env_token);

    let server = match Server::bind(control.clone(), &options).await {
        Ok(server) => server,
        Err(error) => {
            control.close().await;
            return Err(serve_error(error));
        }
    };
    // The handlers are installed before the address is announced, so a signal sent by whoever read the line is
    // never lost (nor fatal).
    let shutdown = lanyard_server::shutdown_signal().context("cannot install the signal handlers")?;
    let addr = server.local_addr().context("cannot read the bound address")?;
    let scheme = server.scheme();
    tracing::info!(%addr, scheme, "listening");
    eprintln!("lanyard listening on {scheme}://{addr}");
    server.run(shutdown).await.map_err(serve_error)?;
    Ok(ExitCode::SUCCESS)
}

/// A [`ServeError`] as one message: its `Display` already includes the underlying cause.
fn serve_error(error: ServeError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags' defaults are the server's own (`Limits::default()`), which docs/operations.md's table states.
    #[test]
    fn the_limit_flags_default_to_the_servers_limits() {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            limits: LimitArgs,
        }
        let flags = <Flags as clap::Parser>::try_parse_from(["lanyard"]).unwrap();
        assert_eq!(flags.limits.limits(), lanyard_server::Limits::default());
    }
}
