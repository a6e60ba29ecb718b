//! `postgresql`: tokio-postgres, TLS through rustls.
//!
//! Options: `host` (required), `port` (5432), `database` (`postgres`), `ssl_enabled` (`'false'`; `'true'` makes TLS
//! required), `ssl_root_cert` (a PEM file of trusted roots, replacing the built-in webpki roots).

use std::sync::Arc;

use lanyard_core::ConnectionType;
use lanyard_resolve::{ConnectionRef, ResolvedConnection, Resolver};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, Connection, NoTls, SimpleQueryMessage};

use crate::Result;
use crate::target::{Target, chain, invalid};

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
    let tls = target.flag("ssl_enabled", false)?;
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
    if tls {
        config.ssl_mode(SslMode::Require);
        let connector = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(target).await?);
        let (client, connection) = config.connect(connector).await.map_err(failed)?;
        drive(connection);
        Ok(client)
    } else {
        config.ssl_mode(SslMode::Disable);
        let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
        drive(connection);
        Ok(client)
    }
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

/// The rustls configuration: the roots of `ssl_root_cert` if set, else the webpki roots; the ring provider.
async fn tls_config(target: &Target<'_>) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let mut roots = rustls::RootCertStore::empty();
    match target.get("ssl_root_cert") {
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
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid(format!("TLS configuration: {error}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::target::tests::{CANARY, json_secret, secret, target};

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
