//! `lanyard-connectors` opens real sessions to the systems connections describe: the probe TEST CONNECTION runs
//! ([`probe`]), and connect helpers for programs that embed Lanyard ([`postgres_client`], [`mysql_conn`],
//! [`object_store()`]), which resolve the credential fresh on every call (vault.md rule 6), so a rotation takes effect
//! at the next connect.
//!
//! | type | driver | cargo feature | probe |
//! |---|---|---|---|
//! | `postgresql` | tokio-postgres, TLS through rustls | `postgresql` | `SELECT 1`, then `SHOW server_version` |
//! | `mysql` | mysql_async, TLS through rustls | `mysql` | `SELECT 1`, then `SELECT VERSION()` |
//! | `s3`, `gcs`, `azure_adls`, `local` | object_store | `object-store` | list at most one object under `path` |
//! | `rest`, `git` | reqwest | `rest` | the configured request; `git`: an authenticated GET of `api_url` |
//! | `sftp` | russh + russh-sftp (ring) | `sftp` | SSH handshake with the host key pinned, login, one batch of `path`'s listing |
//!
//! Every other type (`sql_server`, `oracle`, `kafka`, …), and a type whose feature is off, is
//! [`ProbeResult::unsupported`] — not a failure — before its options are read: `no probe for type "kafka" in this
//! build; the connection is stored and resolves its credential, but Lanyard cannot check it` ([`has_probe`] says
//! which types this build checks). `docs/connectors.md` lists each type's options and credential shape.
//!
//! **Links** (TEST LINK) run the same probes: `S3` and `GCS` the `s3` one (GCS through its S3-compatible XML API
//! with HMAC keys; without a `bucket` in CONFIG, a signed ListBuckets proves the keys), `AZURE` the `azure_adls`
//! one, `HTTP` the `rest` one and `MYSQL` the `mysql` one. They read SingleStore's CONFIG and CREDENTIALS keys
//! (`region`, `endpoint_url`, `aws_access_key_id`, `database.hostname`, …), translated in the `links` module;
//! `KAFKA`, `HDFS` and `MONGODB` are unsupported: `no probe for link type KAFKA in this build; …`.
//!
//! **Pipeline sources**: an `S3`, `AZURE` or `GCS` link is a pipeline's source. [`FileSource`] lists the files
//! under a pipeline's path (`'<bucket>/<prefix>'`, a wildcard allowed in the last segment) in key order and reads
//! them, conditional on the listed ETag (a GCS generation), through the link's store with its credentials resolved
//! fresh at each open; [`parse_pipeline_path`] and [`pipeline_source_supported`] check a pipeline without I/O. A
//! `GCS` link whose CREDENTIALS are a service account key (or `{"disable_oauth": true}` for an emulator) is read
//! through GCS's JSON API, which gcp-storage-emulator implements, rather than the XML API it lacks.
//!
//! Rules every connector keeps:
//!
//! - **A failure is a result.** [`probe`] never panics and never returns an error: it returns a [`ProbeResult`] that
//!   passed, failed with a reason, or was unsupported with a notice.
//! - **Bounded.** Each probe and each helper's connect is bounded by the connection's timeout, else its
//!   `connection_timeout` option (seconds), else [`DEFAULT_TIMEOUT`]; running out is `timed out after 10s`.
//! - **No material in messages.** Reasons are built from the drivers' error kinds and messages, never from a
//!   URL with userinfo, a request or a response body; as a last line of defence every occurrence of the credential's
//!   text (the whole secret, each value of a JSON credential, their percent-encoded forms) is replaced by `***`.
//! - **TLS is rustls** (ring provider), never the OS's OpenSSL. A database session uses TLS whenever the server
//!   offers it (`ssl_mode = 'prefer'`, the default; `require`, `verify-ca`, `verify-full` as libpq), and a PostgreSQL
//!   password is sent in clear text only under an explicit `ssl_mode = 'disable'` (or `ssl_enabled = 'false'`).
//!
//! What it is not: it resolves nothing itself (that is `lanyard-resolve`), caches no credential and pools no session;
//! it writes nothing to the catalog (the Control Plane records the probe's result) and knows nothing of SQL statements
//! or the HTTP API.

mod error;
#[cfg(feature = "object-store")]
mod gcs_json;
mod links;
mod source;
// With some probe families compiled out, some of the shared helpers go unused.
#[cfg_attr(
    not(all(feature = "postgresql", feature = "mysql", feature = "object-store", feature = "rest")),
    allow(dead_code)
)]
mod target;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "object-store")]
mod objects;
#[cfg(feature = "postgresql")]
mod postgres;
#[cfg(feature = "rest")]
mod rest;
#[cfg(feature = "sftp")]
mod sftp;

use std::time::Duration;

use lanyard_core::{ConnectionType, TestStatus};
use lanyard_resolve::{ResolvedConnection, Subject};

pub use error::{ConnectError, Result};
#[cfg(feature = "object-store")]
pub use source::{FileSource, SourceFile};
pub use source::{PipelinePath, parse_pipeline_path, pipeline_source_supported};

#[cfg(feature = "mysql")]
pub use mysql::{connect_mysql, mysql_conn};
/// The MySQL driver, so that callers name the same version as the helpers return.
#[cfg(feature = "mysql")]
pub use mysql_async;
/// The object store crate, so that callers name the same version as the helpers return.
#[cfg(feature = "object-store")]
pub use object_store as object_store_crate;
#[cfg(feature = "object-store")]
pub use objects::{connect_object_store, object_store};
#[cfg(feature = "postgresql")]
pub use postgres::{connect_postgres, postgres_client};
/// The PostgreSQL driver, so that callers name the same version as the helpers return.
#[cfg(feature = "postgresql")]
pub use tokio_postgres;

use target::Target;

/// How long a probe or connect may take when neither the connection's timeout nor its `connection_timeout` option
/// says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a probe found. A failure is a result, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Whether the probe passed.
    pub passed: bool,
    /// Whether the type has no probe in this build: nothing was checked (`passed` is false, and `error` says what
    /// is missing). Not a failure.
    pub unsupported: bool,
    /// The remote server's version, if it reports one (`PostgreSQL 15.19`, the HTTP `Server` header).
    pub server_version: Option<String>,
    /// Why it failed, or why nothing was checked; holds no material.
    pub error: Option<String>,
}

impl ProbeResult {
    /// A passed probe.
    pub fn passed(server_version: Option<String>) -> Self {
        Self { passed: true, unsupported: false, server_version, error: None }
    }

    /// A failed probe.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self { passed: false, unsupported: false, server_version: None, error: Some(reason.into()) }
    }

    /// No probe ran: the type has none in this build; `notice` says so.
    pub fn unsupported(notice: impl Into<String>) -> Self {
        Self { passed: false, unsupported: true, server_version: None, error: Some(notice.into()) }
    }

    /// The status to record: `ok`, `failed` or `unsupported`.
    pub fn status(&self) -> TestStatus {
        match (self.passed, self.unsupported) {
            (true, _) => TestStatus::Ok,
            (false, true) => TestStatus::Unsupported,
            (false, false) => TestStatus::Failed,
        }
    }
}

/// Whether this build has a probe for connection type `kind` (its cargo feature is on).
pub const fn has_probe(kind: ConnectionType) -> bool {
    match kind {
        ConnectionType::Postgresql => cfg!(feature = "postgresql"),
        ConnectionType::Mysql => cfg!(feature = "mysql"),
        ConnectionType::S3 | ConnectionType::Gcs | ConnectionType::AzureAdls | ConnectionType::Local => {
            cfg!(feature = "object-store")
        }
        ConnectionType::Rest | ConnectionType::Git => cfg!(feature = "rest"),
        ConnectionType::Sftp => cfg!(feature = "sftp"),
        ConnectionType::SqlServer | ConnectionType::Oracle | ConnectionType::Kafka => false,
    }
}

/// The notice of a connection or link whose type has no probe in this build: what is missing, and what still
/// holds (the row is stored, its credential resolved), `None` when there is a probe.
fn without_probe(conn: &ResolvedConnection) -> Option<String> {
    let resolved = !matches!(conn.auth, lanyard_resolve::Auth::None);
    match conn.subject() {
        Subject::Link(link) => {
            let kind = links::probe_kind(link.link_type).filter(|kind| has_probe(*kind));
            let credentials = if resolved { " and resolves its credentials" } else { "" };
            kind.is_none().then(|| {
                format!(
                    "{}; the link is stored{credentials}, but Lanyard cannot check it",
                    ConnectError::UnsupportedLink(link.link_type)
                )
            })
        }
        Subject::Connection(_) => {
            let stored = conn.connection_type();
            let kind = stored.parse::<ConnectionType>().ok().filter(|kind| has_probe(*kind));
            let credential = if resolved { " and resolves its credential" } else { "" };
            kind.is_none().then(|| {
                format!(
                    "{}; the connection is stored{credential}, but Lanyard cannot check it",
                    ConnectError::Unsupported(stored.to_owned())
                )
            })
        }
    }
}

/// Opens a real session for `conn` (whose credential was just resolved) and runs the minimal probe of its type,
/// within its timeout. Never panics, never fails: a failure is a [`ProbeResult`] with a reason free of material. A
/// type without a probe in this build is [`ProbeResult::unsupported`], before its options are read.
pub async fn probe(conn: &ResolvedConnection) -> ProbeResult {
    if let Some(notice) = without_probe(conn) {
        tracing::debug!(connection = %conn.name(), notice, "no probe");
        return ProbeResult::unsupported(notice);
    }
    let result = match Target::of(conn) {
        Ok(target) => {
            let outcome = target.bounded(probe_target(&target)).await;
            outcome.map_err(|error| target.scrub(&error.to_string()))
        }
        Err(error) => Err(target::Scrubber::of(&conn.auth).apply(&error.to_string())),
    };
    match result {
        Ok(server_version) => {
            tracing::debug!(connection = %conn.name(), server_version, "probe passed");
            ProbeResult::passed(server_version)
        }
        Err(reason) => {
            tracing::debug!(connection = %conn.name(), reason, "probe failed");
            ProbeResult::failed(reason)
        }
    }
}

/// Runs the probe of `target`'s type; the server version on success.
async fn probe_target(target: &Target<'_>) -> Result<Option<String>> {
    match target.kind {
        #[cfg(feature = "postgresql")]
        Some(lanyard_core::ConnectionType::Postgresql) => postgres::probe(target).await,
        #[cfg(feature = "mysql")]
        Some(lanyard_core::ConnectionType::Mysql) => mysql::probe(target).await,
        #[cfg(feature = "object-store")]
        Some(
            lanyard_core::ConnectionType::S3
            | lanyard_core::ConnectionType::Gcs
            | lanyard_core::ConnectionType::AzureAdls
            | lanyard_core::ConnectionType::Local,
        ) => objects::probe(target).await,
        #[cfg(feature = "rest")]
        Some(lanyard_core::ConnectionType::Rest) => rest::probe_rest(target).await,
        #[cfg(feature = "rest")]
        Some(lanyard_core::ConnectionType::Git) => rest::probe_git(target).await,
        #[cfg(feature = "sftp")]
        Some(lanyard_core::ConnectionType::Sftp) => sftp::probe(target).await,
        _ => Err(target.unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use lanyard_resolve::Auth;

    use crate::target::tests::target;

    #[tokio::test]
    async fn types_without_a_probe_in_this_build_say_so() {
        let families = [
            ("postgresql", cfg!(feature = "postgresql")),
            ("mysql", cfg!(feature = "mysql")),
            ("s3", cfg!(feature = "object-store")),
            ("local", cfg!(feature = "object-store")),
            ("rest", cfg!(feature = "rest")),
            ("git", cfg!(feature = "rest")),
            ("kafka", false),
            ("Kafka", false),
        ];
        let auth = Auth::None;
        for (kind, _) in families.into_iter().filter(|(_, compiled_in)| !compiled_in) {
            let error = super::probe_target(&target(kind, &[], &auth, 1)).await.err().unwrap();
            assert_eq!(error.to_string(), format!("no probe for type {kind:?} in this build"));
        }
    }

    #[tokio::test]
    async fn link_types_whose_probe_is_compiled_out_say_so_in_link_words() {
        use lanyard_core::{ConnectionType, LinkType};

        use crate::target::{Credential, LinkOptions, Target};
        let families = [
            (LinkType::S3, ConnectionType::S3, cfg!(feature = "object-store")),
            (LinkType::Azure, ConnectionType::AzureAdls, cfg!(feature = "object-store")),
            (LinkType::Http, ConnectionType::Rest, cfg!(feature = "rest")),
            (LinkType::Mysql, ConnectionType::Mysql, cfg!(feature = "mysql")),
            // What KAFKA would run if it were translated: no connector has a kafka probe.
            (LinkType::Kafka, ConnectionType::Kafka, false),
        ];
        let auth = Auth::None;
        for (link_type, kind, _) in families.into_iter().filter(|(_, _, compiled_in)| !compiled_in) {
            let target =
                Target::link("db.l", link_type, kind, LinkOptions::default(), &auth, Credential::None).unwrap();
            let error = super::probe_target(&target).await.err().unwrap();
            assert_eq!(error.to_string(), format!("no probe for link type {link_type} in this build"));
        }
    }
}
