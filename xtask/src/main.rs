//! `cargo xtask`: Lanyard's project automation (CI gate, tests, conventions, benchmarks).
//!
//! Run it through the cargo alias in `.cargo/config.toml`, from anywhere in the repository:
//!
//! - `cargo xtask ci` — fmt check, clippy with warnings denied, tidy, the test services (pre-flight, moto,
//!   OpenBao, Azurite, gcp-storage-emulator), the whole test suite with them running, and a
//!   `--no-default-features` build of the binary; stops at the first failing step;
//! - `cargo xtask test [NEXTEST ARGS...]` — the test suite only, with the emulators started around it
//!   (arguments, if any, go to `cargo nextest run` instead of `--workspace`, e.g.
//!   `cargo xtask test -p lanyard-testsupport`);
//! - `cargo xtask schemathesis` — schemathesis against a fresh `lanyard serve` (also a step of `ci`);
//! - `cargo xtask tidy` — repository conventions (crate layering, crate docs, test attributes, manifests, seeds);
//! - `cargo xtask fuzz [TARGET...] [--seconds N] [--keep]` — the coverage-guided fuzz targets of `fuzz/`;
//! - `cargo xtask bench [NAME...]` — benchmarks, recorded in `target/bench/results.json`.
//!
//! The logic lives in the `xtask` library so it can be tested; this file only parses the command line.

// xtask is a command-line tool: printing to the terminal is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Project automation for Lanyard.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything CI checks: fmt, clippy, tidy, services, tests, minimal build. Stops at the first failure.
    Ci,
    /// The test suite with its services (moto, OpenBao, Azurite, gcp-storage-emulator) around it: nextest, then doc
    /// tests.
    ///
    /// Arguments, if any, go to `cargo nextest run` in place of `--workspace` (and the doc tests are skipped),
    /// e.g. `cargo xtask test -p lanyard-testsupport` or `cargo xtask test -p lanyard-cli -- serve`.
    Test {
        /// Arguments for `cargo nextest run`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        nextest_args: Vec<String>,
    },
    /// Checks that /openapi.json describes the server: schemathesis (every operation, every check, the stateful
    /// phase) against a fresh `lanyard serve`, bounded in time; prints its seed (LANYARD_SCHEMATHESIS_SEED replays
    /// one) and run time.
    Schemathesis,
    /// Repository conventions: crate layering, crate docs, test attributes, manifests, seed copies.
    Tidy,
    /// Runs the coverage-guided fuzz targets of fuzz/ (cargo-fuzz, installed if missing), each from its kept corpus.
    Fuzz {
        /// Targets to run (all when none are given): parse, request_json, headers.
        targets: Vec<String>,
        /// Seconds per target.
        #[arg(long, default_value_t = xtask::fuzz::CI_SECONDS)]
        seconds: u64,
        /// Afterwards, merge what the run found into the kept corpus (fuzz/corpus/<target>/), keeping only inputs
        /// that add coverage.
        #[arg(long)]
        keep: bool,
    },
    /// Runs benchmarks and writes their figures to target/bench/results.json.
    Bench {
        /// Benchmarks to run (all when none are given).
        names: Vec<String>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let root = xtask::workspace_root();
    match cli.command {
        Command::Ci => xtask::ci::ci(&root),
        Command::Test { nextest_args } => xtask::ci::test(&root, &nextest_args),
        Command::Tidy => xtask::ci::tidy(&root),
        Command::Fuzz { targets, seconds, keep } => {
            xtask::fuzz::run(&root, &xtask::fuzz::FuzzOptions { targets, seconds, keep })
        }
        Command::Schemathesis => xtask::schemathesis::run(&root),
        Command::Bench { names } => xtask::bench::run(&root, &names),
    }
}
