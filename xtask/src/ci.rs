//! `cargo xtask ci` and `cargo xtask test`: the gate every change must pass.
//!
//! CI is a list of named [`Step`]s run in order; the first failure stops the run and is reported with the
//! step's name. To add a step (for example starting the backend emulators before the test suite), add an
//! entry to [`STEPS`] and a function for it.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cargo;

/// One named step of `cargo xtask ci`.
pub struct Step {
    /// Short name, printed as the step's header and in the failure message.
    pub name: &'static str,
    /// Runs the step from the workspace root.
    pub run: fn(&Path) -> Result<()>,
}

/// The steps of `cargo xtask ci`, in the order they run.
pub const STEPS: &[Step] = &[
    Step { name: "fmt", run: fmt },
    Step { name: "clippy", run: clippy },
    Step { name: "tidy", run: tidy },
    Step { name: "test", run: test },
    Step { name: "minimal-build", run: minimal_build },
    Step { name: "feature-sets", run: feature_sets },
];

/// Runs every step of [`STEPS`], stopping at the first failure, and prints the total time taken.
pub fn ci(root: &Path) -> Result<()> {
    let started = Instant::now();
    let result = run_steps(root, STEPS);
    let elapsed = started.elapsed().as_secs_f64();
    match &result {
        Ok(()) => println!("\nci passed in {elapsed:.1}s"),
        Err(_) => println!("\nci failed after {elapsed:.1}s"),
    }
    result
}

/// Runs `steps` in order, printing a `==> name` header before each; the error names the failed step.
pub fn run_steps(root: &Path, steps: &[Step]) -> Result<()> {
    for step in steps {
        println!("\n==> {}", step.name);
        (step.run)(root).with_context(|| format!("ci step `{}` failed", step.name))?;
    }
    Ok(())
}

/// Formatting must match `rustfmt` exactly.
fn fmt(root: &Path) -> Result<()> {
    cargo(root, &["fmt", "--all", "--", "--check"])
}

/// No clippy warnings in any crate, target or feature combination we build.
fn clippy(root: &Path) -> Result<()> {
    cargo(root, &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"])
}

/// The repository conventions of [`crate::tidy`], checked in process; prints every problem found.
pub fn tidy(root: &Path) -> Result<()> {
    let problems = crate::tidy::check(root);
    if problems.is_empty() {
        println!("tidy: ok");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("{} tidy problem(s)", problems.len())
}

/// The whole test suite: every test with nextest, then the doc tests (which nextest does not run).
///
/// Installs `cargo-nextest` first if it is missing, so that a fresh machine works.
pub fn test(root: &Path) -> Result<()> {
    if !crate::cargo_succeeds(root, &["nextest", "--version"]) {
        println!("cargo-nextest is not installed; installing it");
        cargo(root, &["install", "cargo-nextest", "--locked"])?;
    }
    cargo(root, &["nextest", "run", "--workspace", "--all-features", "--no-fail-fast"])?;
    cargo(root, &["test", "--workspace", "--all-features", "--doc"])
}

/// The binary must still build with every optional feature (every plugin) turned off.
fn minimal_build(root: &Path) -> Result<()> {
    cargo(root, &["build", "-p", "lanyard-cli", "--no-default-features"])
}

/// Each backend feature builds alone, and the binary registers exactly the kinds its features imply: the
/// registered-kinds test runs with no backend, each backend alone, and the default set (`--all-features` ran in
/// `test`).
fn feature_sets(root: &Path) -> Result<()> {
    for features in [
        &["--no-default-features"][..],
        &["--no-default-features", "--features", "vault-local"],
        &["--no-default-features", "--features", "vault-memory"],
        &[],
    ] {
        let mut args = vec!["test", "-p", "lanyard-cli", "--bin", "lanyard"];
        args.extend_from_slice(features);
        cargo(root, &args)?;
    }
    Ok(())
}
