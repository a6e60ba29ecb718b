//! `postgresql`: tokio-postgres, TLS through rustls.
//!
//! Options: `host` (required), `port` (5432), `database` (`postgres`), `ssl_mode` (`prefer`: TLS when the server
//! offers it; `disable`, `require`, `verify-ca`, `verify-full`; the older `ssl_enabled` is `'false'` = `disable`,
//! `'true'` = `verify-full`), `ssl_root_cert` (a PEM file of trusted roots, replacing the built-in webpki roots).
//!
//! Under every mode but `disable` the server's side of the session is read through [`CleartextGuard`] until
//! authentication is over: a server that declined TLS and asks for the password in clear text gets an error
//! instead, so the password is never written to it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use lanyard_core::ConnectionType;
use lanyard_resolve::{ConnectionRef, ResolvedConnection, Resolver};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::{Client, Config, Connection, NoTls, SimpleQueryMessage};

use crate::Result;
use crate::target::{SslMode, Target, chain, invalid};

/// Resolves `conn` fresh and opens a PostgreSQL session for it. The session's connection task runs on the tokio
/// runtime until the client is dropped.
pub async fn postgres_client(resolver: &Resolver, conn: impl Into<ConnectionRef>) -> Result<Client> {
    let resolved = resolver.resolve(conn).await?;
    connect_postgres(&resolved).await
}

/// Opens a PostgreSQL session for a connection whose credential was just resolved, within its timeout.
pub async fn connect_postgres(conn: &ResolvedConnection) -> Result<Client> {
    let target = Target::of(conn)?;
    target.expect(&[ConnectionType::Postgresql], "postgresql")?;
    target.bounded(connect(&target)).await
}

/// `SELECT 1`, then the server's version.
pub(crate) async fn probe(target: &Target<'_>) -> Result<Option<String>> {
    let client = connect(target).await?;
    client
        .simple_query("SELECT 1")
        .await
        .map_err(|error| target.remote(format_args!("SELECT 1 failed: {}", chain(&error))))?;
    let messages = client
        .simple_query("SHOW server_version")
        .await
        .map_err(|error| target.remote(format_args!("SHOW server_version failed: {}", chain(&error))))?;
    let version = messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => row.get(0).map(|version| format!("PostgreSQL {version}")),
        _ => None,
    });
    Ok(version)
}

async fn connect(target: &Target<'_>) -> Result<Client> {
    let host = target.required("host")?;
    let port = target.number("port", 5432)?;
    let database = target.get_any(&["database", "dbname"]).unwrap_or("postgres");
    // A host that is a directory is a Unix socket: local, so TLS has no part there (libpq ignores sslmode too).
    let mode = if host.starts_with('/') { SslMode::Disable } else { target.ssl_mode()? };
    let login = target.login()?;
    let mut config = Config::new();
    config
        .host(host)
        .port(port)
        .dbname(database)
        .user(&login.user)
        .application_name("lanyard")
        .connect_timeout(target.timeout);
    if let Some(password) = &login.password {
        config.password(password.expose_secret());
    }
    let failed = |error: tokio_postgres::Error| {
        target.remote(format_args!("cannot connect to {host}:{port}: {}", chain(&error)))
    };
    if mode == SslMode::Disable {
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
        drive(connection);
        return Ok(client);
    }
    config.ssl_mode(if mode == SslMode::Prefer {
        tokio_postgres::config::SslMode::Prefer
    } else {
        tokio_postgres::config::SslMode::Require
    });
    let mut maker = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(target, mode).await?);
    let tls = <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
        CleartextGuard<tokio::net::TcpStream>,
    >>::make_tls_connect(&mut maker, host)
    .map_err(|error| invalid(format!("host {host:?} is not a valid TLS server name: {error}")))?;
    let tcp = tokio::net::TcpStream::connect((host, port)).await.map_err(|error| {
        target.remote(format_args!("cannot connect to {host}:{port}: error connecting to server: {error}"))
    })?;
    tune_socket(&tcp, &config).map_err(|error| {
        target.remote(format_args!("cannot connect to {host}:{port}: error setting up the socket: {error}"))
    })?;
    let refused = Arc::new(AtomicBool::new(false));
    let stream = CleartextGuard::new(tcp, Arc::clone(&refused));
    match config.connect_raw(stream, tls).await {
        Ok((client, connection)) => {
            drive(connection);
            Ok(client)
        }
        Err(_) if refused.load(Ordering::SeqCst) => Err(target.remote(format_args!(
            "cannot connect to {host}:{port}: the server does not offer TLS and asked for the password in clear \
             text, so the password was not sent. To send it without TLS, say so on the connection: ssl_mode = \
             'disable' (or ssl_enabled = 'false')"
        ))),
        Err(error) => Err(failed(error)),
    }
}

/// The server's side of a PostgreSQL session, read through before handing it on: when the server answers the
/// SSLRequest with `N` (no TLS) and then asks for the password in clear text (AuthenticationCleartextPassword,
/// `R` with code 3), the read fails, so tokio-postgres never writes the password. After `S` (TLS follows) or
/// AuthenticationOk, bytes pass through untouched.
struct CleartextGuard<S> {
    inner: S,
    state: GuardState,
    refused: Arc<AtomicBool>,
}

#[derive(Clone, Copy)]
enum GuardState {
    /// The one-byte answer to SSLRequest.
    SslAnswer,
    /// A message's type byte and length.
    Header { bytes: [u8; 5], have: usize },
    /// A message's body; for an `R` message, its first four bytes are the authentication code.
    Body { remaining: usize, auth: bool, code: [u8; 4], have: usize },
    /// TLS started or authentication is over.
    Through,
}

impl<S> CleartextGuard<S> {
    fn new(inner: S, refused: Arc<AtomicBool>) -> Self {
        Self { inner, state: GuardState::SslAnswer, refused }
    }

    /// Advances the state over one byte from the server; `false` when it completes a cleartext-password request.
    fn step(&mut self, byte: u8) -> bool {
        self.state = match self.state {
            GuardState::SslAnswer if byte == b'S' => GuardState::Through,
            GuardState::SslAnswer if byte == b'N' => GuardState::Header { bytes: [0; 5], have: 0 },
            // An error message instead of an answer: read it as a message.
            GuardState::SslAnswer => GuardState::Header { bytes: [byte, 0, 0, 0, 0], have: 1 },
            GuardState::Header { mut bytes, have } => {
                bytes[have] = byte;
                if have + 1 < bytes.len() {
                    GuardState::Header { bytes, have: have + 1 }
                } else {
                    let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
                    match length.saturating_sub(4) {
                        0 => GuardState::Header { bytes: [0; 5], have: 0 },
                        remaining => GuardState::Body { remaining, auth: bytes[0] == b'R', code: [0; 4], have: 0 },
                    }
                }
            }
            GuardState::Body { remaining, auth, mut code, mut have } => {
                if auth && have < 4 {
                    code[have] = byte;
                    have += 1;
                    if have == 4 && u32::from_be_bytes(code) == 3 {
                        return false;
                    }
                }
                match remaining - 1 {
                    0 if auth && have == 4 && u32::from_be_bytes(code) == 0 => GuardState::Through,
                    0 => GuardState::Header { bytes: [0; 5], have: 0 },
                    remaining => GuardState::Body { remaining, auth, code, have },
                }
            }
            GuardState::Through => GuardState::Through,
        };
        true
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CleartextGuard<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if matches!(self.state, GuardState::Through) {
            return Poll::Ready(Ok(()));
        }
        for index in before..buf.filled().len() {
            let byte = buf.filled()[index];
            if !self.step(byte) {
                self.refused.store(true, Ordering::SeqCst);
                buf.set_filled(before);
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the server asked for the password in clear text without TLS",
                )));
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CleartextGuard<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What tokio-postgres does to the sockets it opens itself, done to the one opened here (to watch the cleartext
/// password request): `TCP_NODELAY`, since the protocol's small messages must not wait for Nagle's algorithm, and
/// TCP keepalive after the config's idle time (2 hours by default, as libpq), so a long pipeline session notices a
/// peer that vanished.
fn tune_socket(tcp: &tokio::net::TcpStream, config: &Config) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    if config.get_keepalives() {
        let mut keepalive = socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
        if let Some(interval) = config.get_keepalives_interval() {
            keepalive = keepalive.with_interval(interval);
        }
        if let Some(retries) = config.get_keepalives_retries() {
            keepalive = keepalive.with_retries(retries);
        }
        socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}

/// Runs the session's connection task until the client goes away.
fn drive<S, T>(connection: Connection<S, T>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "postgresql session ended with an error");
        }
    });
}

/// The rustls configuration of `mode`: `verify-full` checks the chain against the roots (`ssl_root_cert` if set,
/// else the webpki roots) and the host name; `verify-ca` the chain only; `prefer` and `require` nothing (libpq's
/// meaning), unless `ssl_root_cert` is set, when they check the chain as `verify-ca` does. Handshake signatures are
/// always checked. The ring provider.
async fn tls_config(target: &Target<'_>, mode: SslMode) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let root_cert = target.get("ssl_root_cert");
    match root_cert {
        Some(path) => {
            let pem = tokio::fs::read(path)
                .await
                .map_err(|error| invalid(format!("cannot read ssl_root_cert {path:?}: {error}")))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert =
                    cert.map_err(|_| invalid(format!("ssl_root_cert {path:?} is not a PEM certificate file")))?;
                roots.add(cert).map_err(|error| invalid(format!("ssl_root_cert {path:?}: {error}")))?;
            }
            if roots.is_empty() {
                return Err(invalid(format!("ssl_root_cert {path:?} holds no certificate")));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid(format!("TLS configuration: {error}")))?;
    let webpki = || {
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots.clone()), Arc::clone(&provider))
            .build()
            .map_err(|error| invalid(format!("TLS configuration: {error}")))
    };
    let config = match mode {
        SslMode::VerifyFull => builder.with_root_certificates(roots.clone()).with_no_client_auth(),
        SslMode::VerifyCa => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(ChainOnly(webpki()?))).with_no_client_auth()
        }
        SslMode::Prefer | SslMode::Require if root_cert.is_some() => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(ChainOnly(webpki()?))).with_no_client_auth()
        }
        SslMode::Prefer | SslMode::Require | SslMode::Disable => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(Arc::clone(&provider))))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// `verify-ca`: the certificate chain must lead to a trusted root; the name in it is not compared with `host`.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name: a name error means the chain was good.
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without `ssl_root_cert`: encryption without authentication of the server, as libpq
/// does; the handshake signatures are still checked.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::target::tests::{CANARY, json_secret, secret, target};

    /// The socket opened for a TLS session gets what tokio-postgres gives its own: no Nagle delay, and keepalive
    /// after the configured idle time.
    #[tokio::test]
    async fn the_socket_has_nodelay_and_keepalive_like_tokio_postgres_own() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        assert!(!tcp.nodelay().unwrap());
        let mut config = super::Config::new();
        config.keepalives_idle(std::time::Duration::from_secs(600));
        super::tune_socket(&tcp, &config).unwrap();
        assert!(tcp.nodelay().unwrap());
        let socket = socket2::SockRef::from(&tcp);
        assert!(socket.keepalive().unwrap());
        #[cfg(target_os = "linux")]
        assert_eq!(socket.tcp_keepalive_time().unwrap(), std::time::Duration::from_secs(600));
    }

    #[tokio::test]
    async fn a_failed_connect_names_the_server_and_never_the_password() {
        // Port 1 on the loopback: nothing listens there, so the connect is refused at once.
        for auth in [json_secret(json!({"username": "postgres", "password": CANARY})), secret(CANARY)] {
            let target =
                target("postgresql", &[("host", "127.0.0.1"), ("port", "1"), ("username", "postgres")], &auth, 5);
            let error = super::probe(&target).await.err().unwrap().to_string();
            assert!(error.starts_with("cannot connect to 127.0.0.1:1: "), "{error}");
            assert!(!error.contains(CANARY) && !error.contains("canary"), "{error}");
        }
    }

    #[tokio::test]
    async fn options_are_checked_before_connecting() {
        let auth = secret(CANARY);
        let missing = target("postgresql", &[("username", "u")], &auth, 5);
        assert_eq!(
            super::probe(&missing).await.err().unwrap().to_string(),
            r#"option "host" is required for type "postgresql""#
        );
        let bad = target("postgresql", &[("host", "h"), ("ssl_enabled", "maybe"), ("username", "u")], &auth, 5);
        assert_eq!(
            super::probe(&bad).await.err().unwrap().to_string(),
            r#"option "ssl_enabled" must be 'true' or 'false'"#
        );
    }
}
