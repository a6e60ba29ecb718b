//! Test support for Lanyard's suites: the services and harnesses that end-to-end tests need, in one place.
//!
//! **Dev-dependency only.** Crates list it under `[dev-dependencies]`; `cargo xtask tidy` rejects it anywhere else,
//! and it depends on no workspace crate itself. It is not part of the product and holds no product logic.
//!
//! - [`TempDir`] (removed on drop) and [`free_port`];
//! - [`TempDatabase`]: a throw-away catalog location, a SQLite file or a database of its own on the machine's
//!   PostgreSQL ([`PG_URL_ENV`]), removed on drop also when the test fails;
//! - moto, the AWS emulator that `cargo xtask test` starts around the suite: [`moto_url`] (from
//!   [`MOTO_URL_ENV`]), [`moto_reset`], [`moto_create_bucket`], [`moto_put_object`], [`moto_create_secret`],
//!   [`moto_put_secret_value`];
//! - Azurite, the Azure Blob Storage emulator that `cargo xtask test` starts around the suite: [`azurite_url`]
//!   (from [`AZURITE_URL_ENV`]), [`azurite_create_container`], [`azurite_put_blob`], signed with the well-known
//!   [`AZURITE_ACCOUNT`] and [`AZURITE_ACCOUNT_KEY`];
//! - gcp-storage-emulator (Google Cloud Storage's JSON API), which `cargo xtask test` starts around the suite:
//!   [`gcs_url`] (from [`GCS_URL_ENV`]), [`gcs_create_bucket`], [`gcs_put_object`];
//! - [`PrivateMoto`]: a moto of the test's own with IAM access control on (keys and signatures checked), an IAM user
//!   and [`PrivateMoto::rotate_access_key`], for rotation tests; killed on drop;
//! - OpenBao (a real Vault-API server) that `cargo xtask test` starts around the suite: [`shared_bao`] (from
//!   [`BAO_URL_ENV`] and [`BAO_TOKEN_ENV`]) and [`BaoApi`]'s helpers (KV v2 mounts and versions, AppRole,
//!   policies, tokens, namespaces); [`PrivateBao`]: a dev server of the test's own to seal or stop;
//! - [`PrivatePostgres`]: a PostgreSQL cluster of the test's own (`initdb --auth=scram-sha-256`) on a free port, for
//!   the tests that need password logins (the machine's service trusts local logins);
//! - [`MariaDbUser`]: a MariaDB user with a password on the machine's MariaDB, dropped on drop; [`MariaDbDatabase`]:
//!   a database of the test's own there, dropped on drop;
//! - [`LanyardServer`]: a real `lanyard serve` process on `127.0.0.1:0` with a temporary data directory and its
//!   log in a file, killed on drop; [`run_client`]: a `lanyard` client process, isolated from the developer's
//!   environment;
//! - [`AzureKeyVault`]: a faithful double of Azure Key Vault's secrets API and its Entra ID token endpoint over
//!   HTTPS on 127.0.0.1 (challenge flow, versions, soft delete, 404 `SecretNotFound`, 429 with `Retry-After` on
//!   demand, request counters); `lanyard-doubles azure` starts one from the command line;
//! - [`GcpSecretManager`]: a faithful double of Google Cloud Secret Manager's v1 REST API and Google's OAuth 2.0
//!   token endpoint over HTTP on 127.0.0.1 (service-account JWTs checked with the key's RSA signature, secrets and
//!   numbered versions, `:access` with CRC-32C, disable/enable/destroy, pages and filters, Google's JSON errors, 429
//!   `RESOURCE_EXHAUSTED` with `RetryInfo` on demand, request counters); `lanyard-doubles gcp` starts one from the
//!   command line;
//! - [`SftpServer`]: an SFTP server double on 127.0.0.1 (russh's SSH server, russh-sftp's subsystem) that lists a
//!   temporary directory to one user with a password or a public key ([`SshKeyPair`]), and records every
//!   authentication attempt;
//! - [`LogCapture`]: a log destination a test reads back, for the tests that check log lines;
//! - [`fenced_blocks`]: the fenced code blocks of a Markdown document, for the tests that hold the README and
//!   `docs/` to what the binary prints.
//!
//! Conventions: every helper blocks and panics with a loud, complete message when something fails (in a test a
//! failure is a failed test: the message says what went wrong, the captured output, and how to fix it). Nothing
//! skips. The helpers that need async I/O run it on a thread of their own, so they may be called from a
//! `#[tokio::test]` as well as from a plain `#[test]`. `docs/testing.md` describes the whole set-up.

// Drop impls report on stderr what they could not clean up, and a failing test's server log.
#![allow(clippy::print_stderr)]

mod azure_kv;
mod azurite;
mod bao;
mod bench;
mod cli;
mod client;
mod database;
mod dirs;
mod gcp_sm;
mod gcs;
mod http;
mod logs;
mod mariadb;
mod markdown;
mod moto;
mod moto_iam;
mod postgres;
mod server;
mod sftp;

pub use azure_kv::{AzureKeyVault, Counters as AzureKeyVaultCounters, KEY_VAULT_RESOURCE, MAX_VALUE_BYTES};
pub use azurite::{
    AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, AZURITE_URL_ENV, azurite_create_container, azurite_put_blob, azurite_url,
};
pub use bao::{
    AppRole, BAO_BIN_ENV, BAO_TOKEN_ENV, BAO_URL_ENV, BaoApi, PrivateBao, bao_bin, bao_token, bao_url, shared_bao,
};
pub use bench::{Latencies, bench_target_dir, interleave};
pub use cli::{Run, SqlCli, transcript};
pub use client::run_client;
pub use database::{DatabaseKind, PG_URL_DEFAULT, PG_URL_ENV, TempDatabase, pg_admin_url, pg_database_url};
pub use dirs::{TempDir, free_port, unique_name};
pub use gcp_sm::{
    CLOUD_PLATFORM_SCOPE, GCP_PROJECT_ID, GCP_PROJECT_NUMBER, GcpCounters, GcpSecretManager, MAX_PAYLOAD_BYTES,
    VersionState, crc32c,
};
pub use gcs::{GCS_URL_ENV, GcsObject, gcs_create_bucket, gcs_put_object, gcs_url};
pub use logs::LogCapture;
pub use mariadb::{MARIADB_DEFAULT, MARIADB_ENV, MariaDbDatabase, MariaDbUser};
pub use markdown::{FencedBlock, fenced_blocks};
pub use moto::{
    MOTO_ACCESS_KEY_ID, MOTO_REGION, MOTO_SECRET_ACCESS_KEY, MOTO_URL_ENV, moto_create_bucket, moto_create_secret,
    moto_put_object, moto_put_secret_value, moto_reset, moto_url,
};
pub use moto_iam::{AccessKey, MOTO_SERVER_ENV, PrivateMoto};
pub use postgres::{PG_BINDIR_ENV, PrivatePostgres, pg_bindir};
pub use server::{LanyardServer, LanyardServerBuilder};
pub use sftp::{SFTP_DOUBLE_SOFTWARE, SftpAttempt, SftpServer, SshKeyPair};

/// Runs the future `make()` returns to completion on a current-thread runtime on a thread of its own, so that
/// blocking helpers work inside and outside a tokio runtime alike. The future is built on that thread (it need not
/// be `Send`). A panic in it is re-raised here, message intact.
pub(crate) fn block_on<M, F>(make: M) -> F::Output
where
    M: FnOnce() -> F + Send,
    F: Future,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("cannot build a tokio runtime")
                    .block_on(make())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The URL of an emulator that `cargo xtask test` starts, from its environment variable `env` (read as `value`),
/// without a trailing `/`.
///
/// # Panics
///
/// When the variable is unset or blank: the test was not started by `cargo xtask test` (or `ci`).
pub(crate) fn emulator_url(value: Option<String>, service: &str, env: &str) -> String {
    match value {
        Some(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_owned(),
        _ => panic!(
            "{service} is not running: run the suite with `cargo xtask test` (or ci), which starts it \
             ({env} is not set; to run one test by hand, see docs/testing.md)"
        ),
    }
}

/// The last `lines` lines of `text`, for failure messages.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes everything but the unreserved characters, for user names and passwords in URLs.
pub(crate) fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// An object key for a URL path: each `/`-separated segment percent-encoded, the `/` kept.
pub(crate) fn encode_key(key: &str) -> String {
    key.split('/').map(percent_encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_key_keeps_the_slashes() {
        assert_eq!(encode_key("in/a b.csv"), "in/a%20b.csv");
    }

    #[test]
    fn percent_encode_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("abc-._~XYZ09"), "abc-._~XYZ09");
        assert_eq!(percent_encode("p@ss:w/rd?#%é"), "p%40ss%3Aw%2Frd%3F%23%25%C3%A9");
    }

    #[tokio::test]
    async fn block_on_works_inside_a_runtime() {
        assert_eq!(block_on(|| async { 41 + 1 }), 42);
    }

    #[test]
    fn block_on_reraises_the_panic_message() {
        let caught = std::panic::catch_unwind(|| block_on(|| async { panic!("boom inside") })).unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"boom inside"));
    }
}
