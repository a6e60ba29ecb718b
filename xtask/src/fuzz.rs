//! `cargo xtask fuzz`: the coverage-guided fuzz targets of `fuzz/` (cargo-fuzz, libFuzzer), each run for a fixed
//! time from its kept corpus.
//!
//! - cargo-fuzz is installed from crates.io at the pinned [`CARGO_FUZZ_VERSION`] when `cargo fuzz` is missing or
//!   another version.
//! - The machine has one stable toolchain; cargo-fuzz's AddressSanitizer build passes `-Zsanitizer=address`, a
//!   nightly-only flag, so the build runs with `RUSTC_BOOTSTRAP=1` (the stable compiler then accepts it). Nothing
//!   else is built that way: the fuzz crate is its own workspace with its own target directory (`target/fuzz`).
//! - The kept corpus (`fuzz/corpus/<target>/`, in git) is read only: new inputs go to `target/fuzz/corpus/<target>/`,
//!   listed first so libFuzzer writes there, so a CI run leaves the tree clean. `cargo xtask fuzz --keep` merges
//!   what a run found into the kept corpus (`-merge=1`: only inputs that add coverage).
//! - A crash stops the step with the seed and the reproducer's directory (`target/fuzz/artifacts/<target>/`); the
//!   fix comes with a regression test built from that input.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};

/// The fuzz targets, in the order they run (each is `fuzz/fuzz_targets/<name>.rs`).
pub const TARGETS: [&str; 3] = ["parse", "request_json", "headers"];

/// The cargo-fuzz release installed when `cargo fuzz` is missing or another version.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// How long each target runs in `cargo xtask ci`.
pub const CI_SECONDS: u64 = 60;

/// What to fuzz and how.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// The targets (all of [`TARGETS`] when empty).
    pub targets: Vec<String>,
    /// Seconds per target.
    pub seconds: u64,
    /// Merge the inputs a run found into the kept corpus afterwards.
    pub keep: bool,
}

/// The `fuzz` step of `cargo xtask ci`: every target for [`CI_SECONDS`].
pub fn ci_step(root: &Path) -> Result<()> {
    run(root, &FuzzOptions { targets: Vec::new(), seconds: CI_SECONDS, keep: false })
}

/// Installs cargo-fuzz if needed, builds the targets, then runs each for `options.seconds` from its corpus.
pub fn run(root: &Path, options: &FuzzOptions) -> Result<()> {
    let targets: Vec<&str> = if options.targets.is_empty() {
        TARGETS.to_vec()
    } else {
        for name in &options.targets {
            ensure!(
                TARGETS.contains(&name.as_str()),
                "no fuzz target {name:?}; the targets are {}",
                TARGETS.join(", ")
            );
        }
        options.targets.iter().map(String::as_str).collect()
    };
    install(root)?;
    let target_dir = crate::ci::target_dir(root)?.join("fuzz");
    // Build every target first, so each run's time is fuzzing time.
    let build_started = Instant::now();
    cargo_fuzz(root, &["build"], &target_dir).context("cannot build the fuzz targets")?;
    println!("fuzz targets built in {:.0} s", build_started.elapsed().as_secs_f64());
    for name in targets {
        let kept = root.join("fuzz/corpus").join(name);
        let found = target_dir.join("corpus").join(name);
        let artifacts = target_dir.join("artifacts").join(name);
        for dir in [&found, &artifacts] {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let seed = seed();
        println!("fuzz target {name}: {} s from {} (seed {seed})", options.seconds, kept.display());
        let mut libfuzzer = vec![
            format!("-artifact_prefix={}/", artifacts.display()),
            format!("-max_total_time={}", options.seconds),
            format!("-seed={seed}"),
            "-print_final_stats=1".to_owned(),
        ];
        let dict = root.join("fuzz").join(format!("{name}.dict"));
        if dict.is_file() {
            libfuzzer.push(format!("-dict={}", dict.display()));
        }
        let started = Instant::now();
        let mut args = vec!["run", name, path_str(&found)?, path_str(&kept)?, "--"];
        args.extend(libfuzzer.iter().map(String::as_str));
        cargo_fuzz(root, &args, &target_dir).with_context(|| {
            format!("fuzz target {name} failed (seed {seed}); the input is in {}", artifacts.display())
        })?;
        println!("fuzz target {name}: no failure in {:.0} s (seed {seed})", started.elapsed().as_secs_f64());
        if options.keep {
            let merge = ["run", name, path_str(&kept)?, path_str(&found)?, "--", "-merge=1"];
            cargo_fuzz(root, &merge, &target_dir).with_context(|| format!("cannot merge the corpus of {name}"))?;
        }
    }
    Ok(())
}

/// A libFuzzer seed from the clock, printed so a run can be repeated (`-seed=`).
fn seed() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.subsec_nanos());
    nanos.max(1)
}

/// A path as UTF-8 (for the command line).
fn path_str(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))
}

/// `cargo fuzz <subcommand> --fuzz-dir fuzz --target-dir <target_dir> <arguments>` from the workspace root, with
/// `RUSTC_BOOTSTRAP=1` (this module's doc says why).
fn cargo_fuzz(root: &Path, args: &[&str], target_dir: &Path) -> Result<()> {
    let (subcommand, rest) = args.split_first().context("no cargo fuzz subcommand")?;
    let mut command = Command::new(crate::cargo_program());
    command
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", subcommand, "--fuzz-dir", "fuzz", "--target-dir"])
        .arg(target_dir)
        .args(rest);
    println!("$ {command:?}");
    let status = command.status().context("could not start `cargo fuzz`")?;
    ensure!(status.success(), "`cargo fuzz {subcommand}` failed ({status})");
    Ok(())
}

/// Installs cargo-fuzz [`CARGO_FUZZ_VERSION`] unless `cargo fuzz --version` already names it.
fn install(root: &Path) -> Result<()> {
    let version = Command::new(crate::cargo_program())
        .args(["fuzz", "--version"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    match version {
        Some(version) if version.ends_with(CARGO_FUZZ_VERSION) => Ok(()),
        found => {
            match found {
                Some(other) => println!("{other} is installed; installing cargo-fuzz {CARGO_FUZZ_VERSION}"),
                None => println!("cargo-fuzz is not installed; installing cargo-fuzz {CARGO_FUZZ_VERSION}"),
            }
            crate::cargo(root, &["install", "cargo-fuzz", "--locked", "--version", CARGO_FUZZ_VERSION])
        }
    }
}

/// Every target of [`TARGETS`] has its source and a non-empty kept corpus, and every source is a target (a tidy
/// check).
pub fn check_layout(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for name in TARGETS {
        if !root.join("fuzz/fuzz_targets").join(format!("{name}.rs")).is_file() {
            problems.push(format!("fuzz target {name} has no source fuzz/fuzz_targets/{name}.rs"));
        }
        if std::fs::read_dir(root.join("fuzz/corpus").join(name)).map_or(0, Iterator::count) == 0 {
            problems.push(format!("fuzz target {name} has no kept corpus in fuzz/corpus/{name}/"));
        }
    }
    for entry in std::fs::read_dir(root.join("fuzz/fuzz_targets")).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".rs") else { continue };
        if !TARGETS.contains(&name) {
            problems.push(format!("fuzz/fuzz_targets/{file} is not in xtask's fuzz::TARGETS, so CI never runs it"));
        }
    }
    problems
}
