//! `lanyard-server` is the HTTP transport of the Control Plane: the route table, the conversions between the wire
//! types of `lanyard-api` and the Control Plane's typed requests and views, bearer-token authentication and per-route permissions, `application/problem+json` errors with stable codes, `ETag` /
//! `If-Match`, a 1 MiB body limit, request ids, `/healthz`, `/metrics`, `/openapi.json`, TLS (rustls), graceful
//! shutdown, and the timeouts and connection caps that bound what one client can cost ([`Limits`]).
//!
//! What it is not: it makes no decision about objects — every request becomes one call of `lanyard-control`,
//! which checks, applies and audits it. It defines no wire type (`lanyard-api` does) and re-exports no crate. It is
//! the only crate (with `lanyard-client`) that knows HTTP.

mod bodies;
mod convert;
mod error;
mod limits;
mod logging;
mod metrics;
mod openapi;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use lanyard_control::{Caller, ControlPlane};
use lanyard_core::ErrorKind;

pub use error::{ApiError, status_of};
pub use lanyard_pipelines::RunnerConfig;
pub use limits::Limits;
pub use logging::LineFormat;
pub use routes::{Access, Route, routes};

/// The largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

/// The request id header (taken from the request when sane, generated otherwise, always echoed).
pub const REQUEST_ID: &str = "x-request-id";

/// What every handler shares: one pointer, so that the state a layer or handler takes per request costs one
/// reference count, not one per field.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

/// The fields of [`AppState`].
pub(crate) struct Shared {
    control: ControlPlane,
    metrics: Arc<metrics::HttpMetrics>,
    /// The pipeline runner's metrics, when this server runs one.
    pipelines: Option<Arc<lanyard_pipelines::RunnerMetrics>>,
    /// The OpenAPI document, built with the router from the same table (set once the router is built).
    openapi: std::sync::OnceLock<utoipa::openapi::OpenApi>,
    /// The answers of `GET /connections/{name}`, kept beside the rows they were made from.
    bodies: bodies::ConnectionBodies,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The router over `control`: every route of [`routes`], each behind its access rule, and the OpenAPI document of
/// exactly those routes.
pub fn router(control: ControlPlane) -> Router {
    router_with(control, None, &Limits::default(), http_metrics())
}

/// The HTTP metrics, whose `method` label set is the route table's methods (plus `HEAD`, `OPTIONS` and `other`).
fn http_metrics() -> Arc<metrics::HttpMetrics> {
    Arc::new(metrics::HttpMetrics::new(routes().into_iter().map(|route| route.method)))
}

/// [`router`] with these limits and metrics, also exporting a pipeline runner's metrics on `/metrics`.
///
/// Layers, outermost first: `observe` (request id, log line, metrics, then the 414/431 limits of the request head),
/// routing; then per route one `guard_route`: the request timeout (not on the TEST routes) around authentication,
/// `read_body` (body timeout and size) and the handler. One layer per route rather than one per concern: every
/// layer boxes and moves the future of all it wraps, which cost a GET about a tenth of its throughput.
fn router_with(
    control: ControlPlane,
    pipelines: Option<Arc<lanyard_pipelines::RunnerMetrics>>,
    limits: &Limits,
    metrics: Arc<metrics::HttpMetrics>,
) -> Router {
    let state = AppState(Arc::new(Shared {
        control,
        metrics,
        pipelines,
        openapi: std::sync::OnceLock::new(),
        bodies: bodies::ConnectionBodies::default(),
    }));
    let mut api = utoipa_axum::router::OpenApiRouter::with_openapi(openapi::base());
    for (access, handler) in routes::table() {
        let (schemas, paths, method_router) = openapi::secure(access, handler);
        let guard = Guard { state: state.clone(), limits: *limits, access };
        let method_router = method_router.route_layer(middleware::from_fn_with_state(guard, guard_route));
        api = api.routes((schemas, paths, method_router));
    }
    let (router, mut document) = api.split_for_parts();
    openapi::complete(&mut document, &routes::routes(), &state.control.registry().kinds());
    if state.openapi.set(document).is_err() {
        unreachable!("the state was made above, and its document is set only here");
    }
    router
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state((state.clone(), *limits), observe))
        .with_state(state)
}

/// What the one layer of a route needs: the state, the limits and the route's access rule.
#[derive(Clone)]
struct Guard {
    state: AppState,
    limits: Limits,
    access: Access,
}

/// The layer of every route: within the request timeout (except on the TEST routes, whose probes have deadlines of
/// their own), authentication and the route's permission, then the whole body ([`limits::read_body`]), then the
/// handler.
async fn guard_route(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let admitted = async {
        let request = match guard.access {
            Access::Public => request,
            // Boxed: the future of every route's layer is moved whole, and this one is the largest part of it.
            Access::Requires(permission, action) => {
                match Box::pin(authenticate(&guard.state, permission, action, request)).await {
                    Ok(request) => request,
                    Err(refused) => return refused,
                }
            }
        };
        match limits::read_body(&guard.limits, request).await {
            Ok(request) => next.run(request).await,
            Err(refused) => refused,
        }
    };
    if limits::is_probe(guard.access) {
        admitted.await
    } else {
        limits::within_request_timeout(&guard.limits, admitted).await
    }
}

/// Bearer token → [`Caller`] → the route's permission (a denial is audited by the Control Plane); the request with
/// its caller, or the answer that refuses it.
async fn authenticate(
    state: &AppState,
    permission: lanyard_control::Permission,
    action: lanyard_core::AuditAction,
    mut request: Request,
) -> Result<Request, Response> {
    let fields = request.headers().get_all(header::AUTHORIZATION).iter().map(HeaderValue::as_bytes);
    let token = match lanyard_api::headers::bearer_token(fields) {
        Ok(token) => token,
        Err(error) if error.is_unauthenticated() => {
            return Err(ApiError::new(ErrorKind::Unauthenticated, error.to_string()).into_response());
        }
        Err(error) => return Err(ApiError::invalid(error.to_string()).into_response()),
    };
    let caller: Caller = match state.control.authenticate(token).await {
        Ok(caller) => caller,
        Err(error) => return Err(ApiError::from(error).into_response()),
    };
    if let Err(error) = state.control.authorize(&caller, permission, action, Some(request.uri().path())).await {
        return Err(ApiError::from(error).into_response());
    }
    logging::record_principal(caller.principal.as_str());
    request.extensions_mut().insert(caller);
    Ok(request)
}

/// Request id, a tracing span, an access log line and the HTTP metrics, around the limits of the request head
/// (414/431) and everything after them.
async fn observe(State((state, limits)): State<(AppState, Limits)>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        // A v4 id from the thread's CSPRNG (rand's `ThreadRng`, seeded from the OS): `Uuid::new_v4` asks the
        // kernel (`getrandom`) on every call, a syscall per request. Encoded into a buffer, not through `Display`.
        .map_or_else(
            || {
                let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
                id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).to_owned()
            },
            str::to_owned,
        );
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or(metrics::UNMATCHED, MatchedPath::as_str).to_owned();
    let context = logging::RequestContext::new(id, method, route);
    // One catalog stamp per request (a round trip on PostgreSQL), forgotten when the request commits a change.
    let handled = lanyard_control::request_scope(async {
        let response = match limits::head_limits(&limits, &request) {
            Ok(()) => next.run(request).await,
            Err(refused) => refused.into_response(),
        };
        let status = response.status();
        let elapsed = started.elapsed();
        // Inside the request's context, so that the line carries it.
        tracing::info!(
            status = status.as_u16(),
            micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "handled"
        );
        (response, elapsed)
    });
    let mut scoped = std::pin::pin!(context.scope(handled));
    let (mut response, elapsed) = scoped.as_mut().await;
    let Some(context) = scoped.take_value() else { unreachable!("the scope's value is taken once, here") };
    state.metrics.observe(&context.method, &context.route, response.status().as_u16(), elapsed);
    if let Ok(value) = HeaderValue::from_str(&context.id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The writer every log line of a server goes through, and the guard that writes out what is still buffered when
/// dropped (hold it until the server has stopped).
///
/// Formatting stays on the thread that logs; writing moves to a thread of its own (`tracing-appender`), which
/// writes whatever lines have queued up in one `write` to `out` as soon as it has taken them all. One `write` per
/// access line cost more than a third of a GET's throughput (`cargo xtask bench http`). A line reaches `out` a moment
/// after it was logged, not later: the thread writes as soon as its queue is empty, and never drops a line (a full
/// queue of 128,000 lines makes the logging thread wait instead). A process killed with SIGKILL loses the lines
/// still queued at that instant.
pub fn log_writer<W: std::io::Write + Send + 'static>(
    out: W,
) -> (tracing_appender::non_blocking::NonBlocking, LogGuard) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("lanyard-log")
        .finish(std::io::BufWriter::with_capacity(64 << 10, out))
}

/// Writes out the lines [`log_writer`] still holds when dropped.
pub type LogGuard = tracing_appender::non_blocking::WorkerGuard;

/// TLS files (PEM).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (default 127.0.0.1:7600).
    pub listen: SocketAddr,
    /// TLS, if any.
    pub tls: Option<TlsFiles>,
    /// Allow plain HTTP on a non-loopback address.
    pub insecure_no_tls: bool,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub grace: Duration,
    /// Run the pipelines whose state is Running (`lanyard serve`); `None` for a server that only answers the API
    /// (`lanyard sql --embedded`, benches, tests of the API).
    pub pipelines: Option<lanyard_pipelines::RunnerConfig>,
    /// Timeouts and connection caps.
    pub limits: Limits,
    /// Prune the object history (`lanyard serve`); `None` keeps every version.
    pub history: Option<HistoryPruning>,
}

/// How `lanyard serve` prunes the object history: once at start, then every `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPruning {
    /// What is kept.
    pub retention: lanyard_control::Retention,
    /// Between two prunings.
    pub interval: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7600)),
            tls: None,
            insecure_no_tls: false,
            grace: Duration::from_secs(30),
            pipelines: None,
            limits: Limits::default(),
            history: None,
        }
    }
}

impl ServeOptions {
    /// Checks the options that need no I/O: plain HTTP on a non-loopback address needs `insecure_no_tls`.
    pub fn check(&self) -> Result<(), ServeError> {
        if self.tls.is_none() && !self.listen.ip().is_loopback() && !self.insecure_no_tls {
            return Err(ServeError::PlainOnPublicAddress(self.listen));
        }
        Ok(())
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Plain HTTP on a non-loopback address without `--insecure-no-tls`.
    #[error(
        "refusing to serve plain HTTP on {0}, which is not a loopback address: give --tls-cert and --tls-key, or --insecure-no-tls"
    )]
    PlainOnPublicAddress(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS files could not be loaded.
    #[error("cannot load TLS certificate/key: {0}")]
    Tls(String),
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A bound server, not yet serving.
pub struct Server {
    control: ControlPlane,
    listener: std::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    grace: Duration,
    pipelines: Option<lanyard_pipelines::RunnerConfig>,
    limits: Limits,
    history: Option<HistoryPruning>,
}

impl Server {
    /// Binds `options.listen` (checking the TLS rules and loading the certificate).
    pub async fn bind(control: ControlPlane, options: &ServeOptions) -> Result<Self, ServeError> {
        options.check()?;
        let tls = match &options.tls {
            Some(files) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(|e| ServeError::Tls(e.to_string()))?;
                Some(config)
            }
            None => None,
        };
        let listener = std::net::TcpListener::bind(options.listen)
            .map_err(|source| ServeError::Bind { addr: options.listen, source })?;
        listener.set_nonblocking(true)?;
        if options.tls.is_none() && !options.listen.ip().is_loopback() {
            tracing::warn!(addr = %options.listen, "serving plain HTTP on a non-loopback address (--insecure-no-tls)");
        }
        Ok(Self {
            control,
            listener,
            tls,
            grace: options.grace,
            pipelines: options.pipelines.clone(),
            limits: options.limits,
            history: options.history,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves (and runs the pipelines, when configured to) until `shutdown` completes, then stops accepting, lets
    /// in-flight requests finish (up to the grace period), stops the pipeline runner (giving its leases up) and
    /// closes the catalog.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let runner = self.pipelines.map(|config| {
            let catalog = self.control.catalog().clone();
            lanyard_pipelines::Runner::new(catalog, self.control.resolver().clone(), config)
                .wake_on(self.control.pipeline_changes())
        });
        let metrics = http_metrics();
        let limits = self.limits;
        let app = router_with(
            self.control.clone(),
            runner.as_ref().map(lanyard_pipelines::Runner::metrics),
            &limits,
            Arc::clone(&metrics),
        );
        let runner = runner.map(lanyard_pipelines::Runner::spawn);
        let pruner = self.history.map(|pruning| tokio::spawn(prune_history(self.control.clone(), pruning)));
        let handle = axum_server::Handle::new();
        let grace = self.grace;
        let signal_handle = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            signal_handle.graceful_shutdown(Some(grace));
        });
        let service = app.into_make_service();
        let admit = limits::Admit::new(limits::Connections::new(&limits, metrics), &limits);
        match self.tls {
            Some(tls) => {
                let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
                    .handshake_timeout(limits.tls_handshake_timeout)
                    .acceptor(admit);
                let mut server = axum_server::from_tcp(self.listener).acceptor(acceptor);
                configure(server.http_builder(), &limits);
                server.handle(handle).serve(service).await?;
            }
            None => {
                let mut server = axum_server::from_tcp(self.listener).acceptor(admit);
                configure(server.http_builder(), &limits);
                server.handle(handle).serve(service).await?;
            }
        }
        if let Some(runner) = runner {
            runner.shutdown().await;
        }
        if let Some(pruner) = pruner {
            pruner.abort();
            let _ = pruner.await;
        }
        self.control.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Prunes the object history now and then every `pruning.interval`, until aborted. A failure is logged and tried
/// again at the next turn.
async fn prune_history(control: ControlPlane, pruning: HistoryPruning) {
    let mut ticks = tokio::time::interval(pruning.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match control.prune_history(pruning.retention).await {
            Ok(0) => tracing::debug!("history pruned: nothing to prune"),
            Ok(deleted) => tracing::info!(deleted, "history pruned"),
            Err(error) => tracing::warn!(%error, "cannot prune the history; trying again later"),
        }
    }
}

/// hyper's side of [`Limits`]: the HTTP/1 header-read timeout (which hyper 1.12 also runs while a keep-alive
/// connection waits for its next request) and read buffer, the HTTP/2 keep-alive pings, streams and header list.
fn configure(builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>, limits: &Limits) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.http1_buffer());
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(limits.http2_keep_alive)
        .keep_alive_timeout(limits.http2_keep_alive)
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(limits.http2_header_list());
}

/// A future that completes on SIGINT or SIGTERM, with both handlers installed when this returns (unlike a lazy
/// `async fn`, which installs them only when first polled), so a signal sent right after start-up is never lost.
#[cfg(unix)]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "shutdown requested");
    })
}

/// A future that completes on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
