//! `mysql` (MySQL and MariaDB): mysql_async, TLS through rustls.
//!
//! Options: `host` (required), `port` (3306), `database` (none), `ssl_mode` (`prefer`: TLS when the server offers
//! it, else plain text, as the MySQL client's `PREFERRED`; `disable`, `require`, `verify-ca`, `verify-full`; the
//! older `ssl_enabled` is `'false'` = `disable`, `'true'` = `verify-full`), `ssl_root_cert` (a PEM file of trusted
//! roots, replacing the built-in webpki roots). mysql_async never sends a password with `mysql_clear_password`.

use std::path::PathBuf;

use lanyard_core::ConnectionType;
use lanyard_resolve::{ConnectionRef, ResolvedConnection, Resolver};
use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, DriverError, OptsBuilder, SslOpts};

use crate::Result;
use crate::target::{SslMode, Target, chain};

/// Resolves `conn` fresh and opens a MySQL session for it.
pub async fn mysql_conn(resolver: &Resolver, conn: impl Into<ConnectionRef>) -> Result<Conn> {
    let resolved = resolver.resolve(conn).await?;
    connect_mysql(&resolved).await
}

/// Opens a MySQL session for a connection whose credential was just resolved, within its timeout.
pub async fn connect_mysql(conn: &ResolvedConnection) -> Result<Conn> {
    let target = Target::of(conn)?;
    target.expect(&[ConnectionType::Mysql], "mysql")?;
    target.bounded(connect(&target)).await
}

/// `SELECT 1`, then `SELECT VERSION()`: `MariaDB 10.11.9-MariaDB-…` or `MySQL 8.0.36`.
pub(crate) async fn probe(target: &Target<'_>) -> Result<Option<String>> {
    let mut conn = connect(target).await?;
    let result = async {
        conn.query_drop("SELECT 1")
            .await
            .map_err(|error| target.remote(format_args!("SELECT 1 failed: {}", chain(&error))))?;
        conn.query_first::<String, _>("SELECT VERSION()")
            .await
            .map_err(|error| target.remote(format_args!("SELECT VERSION() failed: {}", chain(&error))))
    }
    .await;
    if let Err(error) = conn.disconnect().await {
        tracing::debug!(error = %target.scrub(&chain(&error)), "mysql disconnect failed");
    }
    let version = result?;
    Ok(version.map(|version| {
        if version.to_ascii_lowercase().contains("mariadb") {
            format!("MariaDB {version}")
        } else {
            format!("MySQL {version}")
        }
    }))
}

async fn connect(target: &Target<'_>) -> Result<Conn> {
    let host = target.required("host")?;
    let port = target.number("port", 3306)?;
    let database = target.get_any(&["database", "dbname"]);
    let mode = target.ssl_mode()?;
    let login = target.login()?;
    let opts = OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port)
        .user(Some(login.user.as_str()))
        .pass(login.password.as_ref().map(|password| password.expose_secret()))
        .db_name(database)
        // Probe the server the options name, over TCP, even when it offers a local socket.
        .prefer_socket(false);
    let failed =
        |error: mysql_async::Error| target.remote(format_args!("cannot connect to {host}:{port}: {}", chain(&error)));
    if mode == SslMode::Disable {
        return Conn::new(opts).await.map_err(failed);
    }
    ensure_crypto_provider();
    let mut ssl = SslOpts::default();
    let root_cert = target.get("ssl_root_cert");
    if let Some(path) = root_cert {
        ssl = ssl.with_root_certs(vec![PathBuf::from(path).into()]).with_disable_built_in_roots(true);
    }
    ssl = match mode {
        SslMode::VerifyFull => ssl,
        SslMode::VerifyCa => ssl.with_danger_skip_domain_validation(true),
        SslMode::Prefer | SslMode::Require if root_cert.is_some() => ssl.with_danger_skip_domain_validation(true),
        SslMode::Prefer | SslMode::Require | SslMode::Disable => ssl.with_danger_accept_invalid_certs(true),
    };
    match Conn::new(opts.clone().ssl_opts(ssl)).await {
        Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)) if mode == SslMode::Prefer => {
            // The server offers no TLS: plain text, as the MySQL client's PREFERRED does.
            Conn::new(opts).await.map_err(failed)
        }
        other => other.map_err(failed),
    }
}

/// mysql_async builds its rustls configuration with the process's default crypto provider; install ring's if the
/// process has none yet (several providers compiled in leave the choice to the program).
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing the race to another thread installing one is fine: there is a provider either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::target::tests::{CANARY, json_secret, secret, target};

    #[tokio::test]
    async fn a_failed_connect_names_the_server_and_never_the_password() {
        for auth in [json_secret(json!({"username": "root", "password": CANARY})), secret(CANARY)] {
            let target = target("mysql", &[("host", "127.0.0.1"), ("port", "1"), ("user", "root")], &auth, 5);
            let error = super::probe(&target).await.err().unwrap().to_string();
            assert!(error.starts_with("cannot connect to 127.0.0.1:1: "), "{error}");
            assert!(!error.contains(CANARY) && !error.contains("canary"), "{error}");
        }
    }
}
