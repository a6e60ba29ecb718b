//! What a client may cost: the timeouts and limits of every layer of the transport, and the pieces that enforce
//! those hyper and axum-server do not.
//!
//! | layer | bound | enforced by |
//! |---|---|---|
//! | TCP | connections in total and per client IP | [`Admit`] (an axum-server acceptor holding a slot per connection) |
//! | TLS | handshake time | axum-server's `RustlsAcceptor::handshake_timeout` |
//! | connection | time from accept to the first request's head (also what hyper-util's HTTP/1-or-2 detection waits for) | [`Admit`]'s [`Guarded`] stream |
//! | HTTP/1 head | time to read each request head, idle keep-alive included | hyper's `header_read_timeout` |
//! | HTTP/2 | concurrent streams, keep-alive pings | hyper's HTTP/2 settings |
//! | head size | request target and header bytes | [`head_limits`] (below hyper's own, larger, limits) |
//! | body | whole-body read time and size | [`read_body`] |
//! | request | total time of a handler (the TEST routes excepted: their probe deadline bounds them) | [`request_timeout`] |

use std::collections::HashMap;
use std::future::Ready;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use lanyard_core::ErrorKind;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use crate::error::ApiError;
use crate::metrics::HttpMetrics;

/// The transport's timeouts and limits (`lanyard serve` flags; see docs/operations.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to read a request head (HTTP/1), from the first read of it; also how long an idle keep-alive connection
    /// stays open, and the time from accept to the first request's head (TLS handshake included).
    pub header_timeout: Duration,
    /// Time to read a whole request body, from the moment the request is authenticated.
    pub body_timeout: Duration,
    /// Total time of a request (body read, authentication and handler), except the TEST routes.
    pub request_timeout: Duration,
    /// Time to complete a TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Interval of HTTP/2 keep-alive pings; a ping unanswered for as long closes the connection.
    pub http2_keep_alive: Duration,
    /// Concurrent streams on one HTTP/2 connection.
    pub http2_max_streams: u32,
    /// Open connections in total; more are closed at once.
    pub max_connections: usize,
    /// Open connections from one client IP address; more are closed at once.
    pub max_connections_per_ip: usize,
    /// Bytes of a request target (path and query); longer is `414 uri_too_long`.
    pub max_uri_bytes: usize,
    /// Bytes of a request's header fields (names, values and 4 bytes of separators each); more is
    /// `431 headers_too_large`.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(10),
            http2_keep_alive: Duration::from_secs(30),
            http2_max_streams: 100,
            max_connections: 512,
            max_connections_per_ip: 64,
            max_uri_bytes: 8 << 10,
            max_header_bytes: 32 << 10,
        }
    }
}

impl Limits {
    /// hyper's HTTP/1 read buffer: larger than the head limits [`head_limits`] enforces (so a head over them gets
    /// a problem rather than hyper's own bodiless 431), and at least hyper's default.
    pub(crate) fn http1_buffer(&self) -> usize {
        (self.max_uri_bytes + self.max_header_bytes + (16 << 10)).max(8192 + 4096 * 100)
    }

    /// hyper's HTTP/2 header-list limit, with the same margin.
    pub(crate) fn http2_header_list(&self) -> u32 {
        u32::try_from(self.max_uri_bytes + self.max_header_bytes + (16 << 10)).unwrap_or(u32::MAX)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Connections

/// The open connections, counted in total and per client IP.
pub(crate) struct Connections {
    total: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_per_ip: usize,
    metrics: Arc<HttpMetrics>,
}

impl Connections {
    pub(crate) fn new(limits: &Limits, metrics: Arc<HttpMetrics>) -> Arc<Self> {
        Arc::new(Self {
            total: Arc::new(Semaphore::new(limits.max_connections)),
            per_ip: Mutex::new(HashMap::new()),
            max_per_ip: limits.max_connections_per_ip,
            metrics,
        })
    }

    /// A slot for a connection from `ip`, or which cap refused it.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let permit = Arc::clone(&self.total).try_acquire_owned().map_err(|_| "total")?;
        let mut per_ip = self.per_ip.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let open = per_ip.entry(ip).or_insert(0);
        if *open >= self.max_per_ip {
            return Err("per_ip");
        }
        *open += 1;
        drop(per_ip);
        self.metrics.connection_opened();
        Ok(Slot { connections: Arc::clone(self), ip, _permit: permit })
    }
}

/// One admitted connection; dropping it (when the connection ends) frees its place in both caps.
struct Slot {
    connections: Arc<Connections>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_ip = self.connections.per_ip.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(open) = per_ip.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                per_ip.remove(&self.ip);
            }
        }
        drop(per_ip);
        self.connections.metrics.connection_closed();
    }
}

/// The axum-server acceptor of every connection (under TLS, the inner one, so a refused connection costs no
/// handshake): a connection over a cap is closed at once and counted; an admitted one holds its [`Slot`] until it
/// ends and must send its first request head within the header timeout.
#[derive(Clone)]
pub(crate) struct Admit {
    connections: Arc<Connections>,
    first_request: Duration,
}

impl Admit {
    pub(crate) fn new(connections: Arc<Connections>, limits: &Limits) -> Self {
        Self { connections, first_request: limits.header_timeout }
    }
}

impl<S> axum_server::accept::Accept<TcpStream, S> for Admit {
    type Stream = Guarded<TcpStream>;
    type Service = Started<S>;
    type Future = Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let ip = match stream.peer_addr() {
            Ok(addr) => addr.ip(),
            Err(error) => return std::future::ready(Err(error)),
        };
        let slot = match self.connections.admit(ip) {
            Ok(slot) => slot,
            Err(cap) => {
                self.connections.metrics.connection_refused(cap);
                tracing::debug!(%ip, cap, "connection refused: over the connection cap");
                // Dropping the stream closes it.
                return std::future::ready(Err(io::Error::other("over the connection cap")));
            }
        };
        let started = Arc::new(AtomicBool::new(false));
        let stream = Guarded {
            inner: stream,
            deadline: Some(Box::pin(tokio::time::sleep(self.first_request))),
            started: Arc::clone(&started),
            _slot: slot,
        };
        std::future::ready(Ok((stream, Started { inner: service, started })))
    }
}

/// A connection's stream: until its first request reaches the service, a read past the deadline fails (which ends
/// the connection). This bounds what hyper does not: a connection that sends nothing, or trickles the bytes
/// hyper-util reads to tell HTTP/1 from HTTP/2, or an HTTP/2 connection that opens no stream.
pub(crate) struct Guarded<I> {
    inner: I,
    deadline: Option<Pin<Box<Sleep>>>,
    started: Arc<AtomicBool>,
    _slot: Slot,
}

impl<I: AsyncRead + Unpin> AsyncRead for Guarded<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(deadline) = this.deadline.as_mut() {
            if this.started.load(Ordering::Relaxed) {
                this.deadline = None;
            } else if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request head within the header timeout",
                )));
            }
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Guarded<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A connection's service: marks the connection's first request (which disarms [`Guarded`]'s deadline).
#[derive(Clone)]
pub(crate) struct Started<S> {
    inner: S,
    started: Arc<AtomicBool>,
}

impl<S: tower::Service<R>, R> tower::Service<R> for Started<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.started.store(true, Ordering::Relaxed);
        self.inner.call(request)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Middleware

/// `414 uri_too_long` and `431 headers_too_large` as problems, for heads under hyper's own (bodiless) limits.
pub(crate) fn head_limits(limits: &Limits, request: &Request) -> Result<(), ApiError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.scheme_str().map_or(0, |s| s.len() + 3);
    if target > limits.max_uri_bytes {
        return Err(ApiError::new(
            ErrorKind::UriTooLong,
            format!("the request target is {target} bytes long; the limit is {} bytes", limits.max_uri_bytes),
        ));
    }
    let headers: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if headers > limits.max_header_bytes {
        return Err(ApiError::new(
            ErrorKind::HeadersTooLarge,
            format!("the header fields are {headers} bytes; the limit is {} bytes", limits.max_header_bytes),
        ));
    }
    Ok(())
}

/// Reads the whole request body within the body timeout (`408 request_timeout`) and the size limit
/// (`413 payload_too_large`) before the handler runs; the handler then reads it from memory.
pub(crate) async fn read_body(limits: &Limits, request: Request) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    if axum::body::HttpBody::is_end_stream(&body) {
        return Ok(Request::from_parts(parts, body));
    }
    let limited = http_body_util::Limited::new(body, crate::MAX_BODY);
    let bytes = match tokio::time::timeout(limits.body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            return Err(
                ApiError::new(ErrorKind::PayloadTooLarge, "the request body is larger than 1 MiB").into_response()
            );
        }
        Ok(Err(_)) => {
            return Err(
                ApiError::invalid("the request body could not be read (the client ended it early?)").into_response()
            );
        }
        Err(_) => {
            return Err(ApiError::new(
                ErrorKind::RequestTimeout,
                format!("the request body did not arrive within {} ms", limits.body_timeout.as_millis()),
            )
            .into_response());
        }
    };
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Bounds a whole request (authentication, body, handler) by the request timeout: past it, `503
/// backend_unavailable` (the client may retry; the request may have been applied).
pub(crate) async fn within_request_timeout(limits: &Limits, request: impl Future<Output = Response>) -> Response {
    match tokio::time::timeout(limits.request_timeout, request).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorKind::BackendUnavailable,
            "the request did not complete within the server's request timeout (it may have been applied)",
        )
        .into_response(),
    }
}

/// `true` for a TEST route (TEST CONNECTION, TEST LINK, TEST CREDENTIAL STORAGE), which the request timeout does not
/// bound: a probe's own deadline does (the object's `TIMEOUT`, up to a day).
pub(crate) fn is_probe(access: crate::Access) -> bool {
    use lanyard_core::AuditAction as A;
    matches!(access, crate::Access::Requires(_, A::ConnectionTest | A::LinkTest | A::CredentialStorageTest))
}
