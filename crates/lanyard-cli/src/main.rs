//! The `lanyard` binary, Lanyard's composition root.
//!
//! Today it offers the offline commands: `lanyard check FILE...` validates scripts and reports every error with
//! `file:line:col` and a caret; `lanyard fmt [FILE]` prints canonical SQL with secrets redacted unless
//! `--keep-secrets`. The server (`serve`) and the SQL client (`sql`) arrive with their issues.
//!
//! It is the only crate that links vault plugins (behind `vault-*` features), and the only place that prints to the
//! terminal.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod offline;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check { files } => offline::check(&files),
        Command::Fmt { file, keep_secrets } => offline::fmt(file.as_deref(), keep_secrets),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
