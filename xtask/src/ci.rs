//! `cargo xtask ci` and `cargo xtask test`: the gate every change must pass.
//!
//! CI is a list of named [`Step`]s run in order; the first failure stops the run and is reported with the
//! step's name. To add a step, add an entry to [`STEPS`] and a function for it.
//!
//! The test suite needs services around it ([`crate::services`]): the `services` step checks the machine
//! (PostgreSQL server binaries, the machine's PostgreSQL and MariaDB), installs `cargo-nextest`, moto, OpenBao's
//! `bao`, gcp-storage-emulator and Azurite; the `test` step starts moto, an OpenBao dev server, Azurite and
//! gcp-storage-emulator on free ports, runs the suite with `LANYARD_TEST_MOTO_URL`, `LANYARD_TEST_BAO_URL`,
//! `LANYARD_TEST_BAO_TOKEN`, `LANYARD_TEST_BAO_BIN`, `LANYARD_TEST_AZURITE_URL` and `LANYARD_TEST_GCS_URL` pointing
//! at them, and kills them all afterwards, whether the tests passed or not.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cargo;
use crate::services::{self, Emulators, Service};

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
    Step { name: "services", run: services },
    Step { name: "test", run: whole_suite },
    Step { name: "fuzz", run: crate::fuzz::ci_step },
    Step { name: "minimal-build", run: minimal_build },
    Step { name: "lean-build", run: lean_build },
    Step { name: "no-failpoints", run: no_failpoints },
    Step { name: "feature-sets", run: feature_sets },
    Step { name: "schemathesis", run: crate::schemathesis::run },
];

/// Runs every step of [`STEPS`], stopping at the first failure, and prints the total time taken.
pub fn ci(root: &Path) -> Result<()> {
    let started = Instant::now();
    print_disk_space(root);
    let result = run_steps(root, STEPS);
    print_disk_space(root);
    let elapsed = started.elapsed().as_secs_f64();
    match &result {
        Ok(()) => println!("\nci passed in {elapsed:.1}s"),
        Err(_) => println!("\nci failed after {elapsed:.1}s"),
    }
    result
}

/// Prints the space left where the builds go (`df -h`): a step that fills the disk dies in the linker or writing
/// metadata, far from the cause; this line tells it at once.
fn print_disk_space(root: &Path) {
    let _ = std::process::Command::new("df").arg("-h").arg(root).status();
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

/// The repository conventions of [`crate::tidy`], checked in process; prints every problem (and note) found.
pub fn tidy(root: &Path) -> Result<()> {
    let crate::tidy::Report { problems, notes } = crate::tidy::check(root);
    for note in &notes {
        println!("tidy: note: {note}");
    }
    if problems.is_empty() {
        println!("tidy: ok");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("{} tidy problem(s)", problems.len())
}

/// `cargo xtask test [NEXTEST ARGS...]`: [`services()`], then the suite with the emulators around it
/// ([`suite`]).
pub fn test(root: &Path, nextest_args: &[String]) -> Result<()> {
    services(root)?;
    suite(root, nextest_args)
}

/// What the suite needs before it can run: the machine checks of [`services::preflight`], `cargo-nextest`
/// (installed if missing, so that a fresh machine works), moto, `bao` and gcp-storage-emulator in
/// `target/moto-venv` ([`services::install_moto`]) and Azurite in `target/azurite-npm` ([`services::install_azurite`]).
pub fn services(root: &Path) -> Result<()> {
    services::preflight()?;
    if !crate::cargo_succeeds(root, &["nextest", "--version"]) {
        println!("cargo-nextest is not installed; installing it");
        cargo(root, &["install", "cargo-nextest", "--locked"])?;
    }
    let target = target_dir(root)?;
    services::install_moto(root, &target, true)?;
    services::install_azurite(root, &target, true)?;
    Ok(())
}

/// The whole suite: [`suite`] with no filter.
fn whole_suite(root: &Path) -> Result<()> {
    suite(root, &[])
}

/// Starts every emulator ([`Service::ALL`]: moto, an OpenBao dev server, Azurite, gcp-storage-emulator), runs
/// `cargo nextest run --all-features` with their environment ([`Emulators::env`]) set, then stops them.
///
/// With no `nextest_args` that is the whole workspace (`--workspace --no-fail-fast`) followed by the doc tests
/// (which nextest does not run); otherwise the arguments go to nextest as they are (`-p lanyard-testsupport`,
/// a test-name filter, …) and the doc tests are skipped. Expects [`services()`] to have run.
pub fn suite(root: &Path, nextest_args: &[String]) -> Result<()> {
    let target = target_dir(root)?;
    let emulators = Emulators::start(root, &target, &Service::ALL, "suite")?;

    let mut args = vec!["nextest", "run", "--all-features"];
    if nextest_args.is_empty() {
        args.extend(["--workspace", "--no-fail-fast"]);
    } else {
        args.extend(nextest_args.iter().map(String::as_str));
    }
    let result = crate::cargo_with_env(root, &args, &emulators.env());
    // Killed here, whatever the tests did (and by Drop on any early return).
    emulators.stop(result.is_ok());
    result?;
    if nextest_args.is_empty() {
        cargo(root, &["test", "--workspace", "--all-features", "--doc"])?;
    }
    Ok(())
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR` and the config, as cargo does).
pub(crate) fn target_dir(root: &Path) -> Result<PathBuf> {
    Ok(crate::metadata(root)?.target_directory.into_std_path_buf())
}

/// The binary must still build with every optional feature (every plugin) turned off.
fn minimal_build(root: &Path) -> Result<()> {
    cargo(root, &["build", "-p", "lanyard-cli", "--no-default-features"])
}

/// The lean core, `--no-default-features --features vault-local`, builds and links no cloud SDK: `cargo tree` of
/// that build names no crate of [`CLOUD_SDK_PREFIXES`].
fn lean_build(root: &Path) -> Result<()> {
    let lean = ["-p", "lanyard-cli", "--no-default-features", "--features", "vault-local"];
    let tree = cargo_tree(root, &lean)?;
    let sdks = cloud_sdk_crates(&tree);
    if !sdks.is_empty() {
        bail!("the lean build (`{}`) links cloud SDK crates: {}", lean.join(" "), sdks.join(", "));
    }
    let mut crates: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    crates.sort_unstable();
    crates.dedup();
    println!("lean-build: {} crates, none of a cloud SDK", crates.len());
    let mut build = vec!["build"];
    build.extend(lean);
    cargo(root, &build)
}

/// `cargo tree -e normal,build --prefix none --format {p} <selection>`: one `name vX.Y.Z …` line per crate of that
/// build (echoed first, like every command a step runs).
fn cargo_tree(root: &Path, selection: &[&str]) -> Result<String> {
    let mut args = vec!["tree", "-e", "normal,build", "--prefix", "none", "--format", "{p}"];
    args.extend(selection);
    println!("$ cargo {}", args.join(" "));
    let output = std::process::Command::new(crate::cargo_program())
        .args(&args)
        .current_dir(root)
        .output()
        .context("could not run `cargo tree`")?;
    if !output.status.success() {
        bail!("`cargo tree` failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    String::from_utf8(output.stdout).context("`cargo tree` printed non-UTF-8")
}

/// The release build (`lanyard-cli`'s default features) links no failpoint: the `fail` crate, which the tests'
/// `--all-features` build brings in through the `failpoints` feature, is not in its `cargo tree`.
fn no_failpoints(root: &Path) -> Result<()> {
    let tree = cargo_tree(root, &["-p", "lanyard-cli"])?;
    if tree.lines().any(|line| line.split_whitespace().next() == Some("fail")) {
        bail!("the release build of lanyard-cli links the `fail` crate: the `failpoints` feature leaked into it");
    }
    println!("no-failpoints: the release build links no `fail` crate");
    Ok(())
}

/// Name prefixes of the cloud SDKs' crates, which only the cloud plugins may pull in.
pub const CLOUD_SDK_PREFIXES: &[&str] = &["aws-", "azure_", "vaultrs", "google-", "gcp_auth", "yup-oauth2"];

/// The distinct crates of a `cargo tree --prefix none --format {p}` listing whose names start with a cloud SDK prefix.
pub fn cloud_sdk_crates(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| CLOUD_SDK_PREFIXES.iter().any(|prefix| name.starts_with(prefix)))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Each backend feature builds alone, and the binary registers exactly the kinds its features imply: the
/// registered-kinds test runs with no backend, each backend alone, and the default set (`--all-features` ran in
/// `test`). The backend features are read from `lanyard-cli`'s manifest (every `vault-*` feature), so a new plugin
/// is covered without touching this file.
fn feature_sets(root: &Path) -> Result<()> {
    let metadata = crate::metadata(root)?;
    let cli = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == "lanyard-cli")
        .context("lanyard-cli is not in the workspace")?;
    let backends = backend_features(cli.features.keys().map(String::as_str));
    if backends.is_empty() {
        bail!("lanyard-cli has no vault-* feature: the feature-sets step would check nothing");
    }
    let mut sets: Vec<Vec<String>> = vec![vec!["--no-default-features".to_owned()]];
    for feature in &backends {
        sets.push(vec!["--no-default-features".to_owned(), "--features".to_owned(), feature.clone()]);
    }
    sets.push(Vec::new());
    for features in sets {
        let mut args = vec!["test", "-p", "lanyard-cli", "--bin", "lanyard"];
        args.extend(features.iter().map(String::as_str));
        cargo(root, &args)?;
    }
    Ok(())
}

/// The backend features among a crate's features (`vault-<kind>`), sorted.
pub fn backend_features<'a>(features: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut backends: Vec<String> =
        features.into_iter().filter(|f| f.starts_with("vault-")).map(str::to_owned).collect();
    backends.sort();
    backends
}

#[cfg(test)]
mod tests {
    #[test]
    fn cloud_sdk_crates_are_found_by_name() {
        let tree = "lanyard-cli v0.0.0 (/w/crates/lanyard-cli)\nserde v1.0.0\naws-sdk-sts v1.0.0\naws-sdk-sts v1.0.0 (*)\n\
                    azure_core v1.0.0\nvaultrs v0.8.0\nawsome v1.0.0\n";
        assert_eq!(super::cloud_sdk_crates(tree), ["aws-sdk-sts", "azure_core", "vaultrs"]);
        assert!(super::cloud_sdk_crates("serde v1\ntokio v1\n").is_empty());
    }

    #[test]
    fn backend_features_are_the_vault_features() {
        let features = ["default", "full", "vault-memory", "vault-local", "testkit"];
        assert_eq!(super::backend_features(features), ["vault-local", "vault-memory"]);
    }
}
