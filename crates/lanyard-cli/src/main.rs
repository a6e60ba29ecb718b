//! The `lanyard` binary, Lanyard's composition root.
//!
//! `lanyard serve` runs the Control Plane over HTTP (the data directory, the catalog, the admin bootstrap, TLS,
//! graceful shutdown on SIGINT/SIGTERM); `lanyard token create | list | revoke` manages API tokens on the catalog
//! directly; the offline commands need no server: `lanyard check FILE...` validates scripts and reports every error
//! with `file:line:col` and a caret, `lanyard fmt [FILE]` prints canonical SQL with secrets redacted unless
//! `--keep-secrets`, `lanyard backends` lists the vault backends compiled in, `lanyard admin rotate-master-key`
//! re-encrypts the local vault, and `lanyard admin gc` lists (and with `--delete` removes) material no catalog row
//! points at. `lanyard audit` prints the audit log through the HTTP API; `lanyard apply` makes the connections
//! what a script of CREATE CONNECTION statements says, after printing the plan. `lanyard sql` runs SQL through the HTTP adapter of `lanyard-client` (inline, `-f`, standard input or an
//! interactive shell; `--embedded` serves the data directory in process).
//!
//! It is the only crate that links vault plugins, one cargo feature per plugin (`vault-local`, `vault-memory`, …),
//! and the only place that prints to the terminal.

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[cfg(feature = "vault-local")]
mod admin;
mod apply;
mod audit;
mod backends;
#[cfg(feature = "vault-local")]
mod gc;
mod offline;
mod place;
mod remote;
mod render;
mod serve;
mod shell;
mod sql;
mod tokens;

// Plugins register themselves with `inventory`, but a crate nothing names is dropped by the linker, and its
// registration with it: one line per plugin keeps each linked. `registered_kinds_match_the_enabled_features`
// checks that none is missing.
#[cfg(feature = "vault-aws")]
use lanyard_vault_aws as _;
#[cfg(feature = "vault-azure")]
use lanyard_vault_azure as _;
#[cfg(feature = "vault-gcp")]
use lanyard_vault_gcp as _;
#[cfg(feature = "vault-hashicorp")]
use lanyard_vault_hashicorp as _;
#[cfg(feature = "vault-local")]
use lanyard_vault_local as _;
#[cfg(feature = "vault-memory")]
use lanyard_vault_memory as _;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Lanyard: connections and credentials for data platforms, declared in SQL.
#[derive(Debug, Parser)]
#[command(name = "lanyard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse SQL scripts offline and report every error (exit 1), or "N statements OK" (exit 0).
    Check {
        /// Script files to check; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Print a script as canonical SQL, one statement per line, secrets redacted.
    Fmt {
        /// The script; standard input when absent or `-`.
        file: Option<String>,
        /// Print secret literals as written instead of '***'. Never use this where output is logged.
        #[arg(long)]
        keep_secrets: bool,
    },
    /// List the vault backend kinds compiled into this binary, with their options.
    Backends,
    /// Run SQL against a Lanyard server: inline, from a file (-f), from standard input, or in an interactive shell.
    ///
    /// The token comes from --token, LANYARD_TOKEN, or <data-dir>/admin.token. --embedded runs an in-process
    /// Control Plane on the data directory instead. Exit codes: 0 success, 1 a statement failed or did not
    /// parse, 2 bad command line, 3 server unreachable or token refused, 4 a TEST reported FAILED.
    Sql(sql::SqlArgs),
    /// Run the Control Plane: the HTTP API over the catalog, until SIGINT or SIGTERM.
    ///
    /// On first start it creates the data directory and the catalog, and the `admin` principal: its token is
    /// taken from LANYARD_ADMIN_TOKEN when set, or written to <data-dir>/admin.token (mode 0600). No token is ever
    /// printed. When ready it prints one line to stderr: `lanyard listening on <scheme>://<addr>`.
    Serve(serve::ServeArgs),
    /// Print the audit log through the HTTP API: who changed what, when, and every denial.
    ///
    /// Connects like `lanyard sql` (--server, --token / LANYARD_TOKEN / <data-dir>/admin.token, --ca-cert) and needs
    /// the audit:read permission. Shows the newest --limit records (default 100), oldest first. Exit codes: 0 printed,
    /// 1 the server refused the request, 2 bad command line, 3 server unreachable or token refused.
    Audit(audit::AuditArgs),
    /// Make the catalog's connections what a script of CREATE CONNECTION statements says, after printing the plan.
    ///
    /// Each step is applied with If-Match on the version it was planned from, so a change made since the plan stops
    /// the apply. Connects like `lanyard sql`. Exit codes: 0 nothing to change or everything applied, 1 the file is
    /// wrong or the apply stopped, 2 bad command line, 3 server unreachable or token refused, 5 --plan found changes.
    Apply(apply::ApplyArgs),
    /// Manage API tokens directly on the catalog (the server need not run).
    ///
    /// These commands open the catalog themselves and act as the local administrator (recorded as `local-admin`
    /// in the audit log): whoever can read the data directory (or reach the catalog database) is an admin.
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
    /// Operator commands that work on the data directory directly.
    #[cfg(feature = "vault-local")]
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[cfg(feature = "vault-local")]
#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Re-encrypt every secret of the local vault under a new master key, in one transaction (or finish an
    /// interrupted rotation).
    RotateMasterKey {
        /// The data directory (master.key lives here unless LANYARD_MASTER_KEY is set).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<std::path::PathBuf>,
        /// The catalog database (default: sqlite://<data-dir>/catalog.db).
        #[arg(long, value_name = "URL")]
        catalog: Option<String>,
        /// Rotate to the base64 key held in this environment variable instead of a fresh random key.
        #[arg(long, value_name = "VAR", conflicts_with = "reencrypt")]
        new_key_from_env: Option<String>,
        /// Re-encrypt under the current key (the last step of a rolling rotation).
        #[arg(long)]
        reencrypt: bool,
    },
    /// List the material no catalog row points at, in every credential storage that can list what it holds, and
    /// remove it with --delete (each removal audited as local-admin).
    ///
    /// Works on the catalog directly (the server need not run). Material written less than --min-age ago is kept:
    /// it may belong to a change still in flight. Exit codes: 0 done, 1 a removal failed, 2 bad command line or
    /// the catalog could not be opened.
    Gc(gc::GcArgs),
}

fn main() -> ExitCode {
    // Crash tests only: the failpoints `FAILPOINTS` configures, kept for the life of the process.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse_from(sql_comments_last(std::env::args_os().collect()));
    let outcome = match cli.command {
        Command::Check { files } => offline::check(&files),
        Command::Fmt { file, keep_secrets } => offline::fmt(file.as_deref(), keep_secrets),
        Command::Backends => backends::run(),
        Command::Sql(args) => sql::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Token { command } => tokens::run(command),
        #[cfg(feature = "vault-local")]
        Command::Admin {
            command: AdminCommand::RotateMasterKey { data_dir, catalog, new_key_from_env, reencrypt },
        } => {
            let new_key = match (new_key_from_env, reencrypt) {
                (Some(var), _) => admin::NewKey::FromEnv(var),
                (None, true) => admin::NewKey::Current,
                (None, false) => admin::NewKey::Generate,
            };
            admin::rotate_master_key(data_dir, catalog, new_key)
        }
        #[cfg(feature = "vault-local")]
        Command::Admin { command: AdminCommand::Gc(args) } => gc::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// `lanyard sql` flags that take a value as the next argument.
const SQL_VALUE_FLAGS: &[&str] =
    &["-f", "--file", "--server", "--token", "--ca-cert", "--format", "--data-dir", "--catalog"];

/// Inline SQL that begins with a `--` comment (`--` then a space or a line break: no flag looks like that) is moved
/// after a `--` argument, so that clap reads it as the SQL while every other argument that starts with `-` stays a
/// flag, and an unknown one an error. Only for `lanyard sql`, and only before an explicit `--`.
fn sql_comments_last(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).and_then(|a| a.to_str()) != Some("sql") {
        return args;
    }
    let is_comment = |arg: &std::ffi::OsString| {
        arg.to_str()
            .and_then(|a| a.strip_prefix("--"))
            .and_then(|rest| rest.chars().next())
            .is_some_and(char::is_whitespace)
    };
    let mut moved = Vec::new();
    let mut i = 2;
    while i < args.len() {
        let arg = args[i].to_str().unwrap_or_default();
        if arg == "--" {
            break;
        }
        let after_value_flag = args[i - 1].to_str().is_some_and(|prev| SQL_VALUE_FLAGS.contains(&prev));
        if !after_value_flag && is_comment(&args[i]) {
            moved.push(args.remove(i));
        } else {
            i += 1;
        }
    }
    if !moved.is_empty() {
        if !args.iter().any(|a| a == "--") {
            args.push("--".into());
        }
        args.extend(moved);
    }
    args
}

#[cfg(test)]
mod tests {
    use lanyard_vault::Registry;

    use super::sql_comments_last;

    fn moved(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(std::ffi::OsString::from).collect();
        sql_comments_last(args).into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn inline_sql_that_starts_with_a_comment_is_read_as_sql() {
        let sql = "-- note\nSHOW VAULTS";
        assert_eq!(
            moved(&["lanyard", "sql", sql, "--format", "json"]),
            ["lanyard", "sql", "--format", "json", "--", sql]
        );
        // Flags, a flag's value, an explicit `--` and other commands are left alone.
        assert_eq!(moved(&["lanyard", "sql", "--bogus"]), ["lanyard", "sql", "--bogus"]);
        assert_eq!(moved(&["lanyard", "sql", "--token", "-- x"]), ["lanyard", "sql", "--token", "-- x"]);
        assert_eq!(moved(&["lanyard", "sql", "--", sql]), ["lanyard", "sql", "--", sql]);
        assert_eq!(moved(&["lanyard", "fmt", sql]), ["lanyard", "fmt", sql]);
    }

    /// Every `vault-*` feature that is on registers its kind, and nothing else registers: a plugin whose `use … as _`
    /// line is missing fails here.
    #[test]
    fn registered_kinds_match_the_enabled_features() {
        let mut expected = Vec::new();
        if cfg!(feature = "vault-aws") {
            expected.push("aws");
        }
        if cfg!(feature = "vault-azure") {
            expected.push("azure");
        }
        if cfg!(feature = "vault-gcp") {
            expected.push("gcp");
        }
        if cfg!(feature = "vault-hashicorp") {
            expected.push("hashicorp");
        }
        if cfg!(feature = "vault-local") {
            expected.push("local");
        }
        if cfg!(feature = "vault-memory") {
            expected.push("memory");
        }
        expected.sort_unstable();
        assert_eq!(Registry::global().expect("no duplicate registrations").kinds(), expected);
    }
}
