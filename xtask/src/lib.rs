//! Project automation for Lanyard, in the `cargo xtask` style.
//!
//! This library holds the logic behind the `cargo xtask` commands so that it can be unit tested and, for
//! [`tidy`], also run as an ordinary test (`xtask/tests/tidy.rs`). The binary in `main.rs` is only the
//! command-line front end.
//!
//! It is not part of the product: nothing here is published or linked by any Lanyard crate.

// xtask is a command-line tool: printing to the terminal is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod bench;
pub mod ci;
pub mod fuzz;
pub mod schemathesis;
pub mod services;
pub mod tidy;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

/// The workspace root: the directory holding the virtual `Cargo.toml`, one level above this crate.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one directory below the workspace root")
        .to_path_buf()
}

/// The cargo to run sub-commands with: the one that is running us (`$CARGO`), else `cargo` from `PATH`.
pub(crate) fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs `cargo <args>` in `root`, echoing the command first, and fails if it does not exit successfully.
pub fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    cargo_with_env(root, args, &[])
}

/// [`cargo`] with extra environment variables for the child (echoed with the command; the values of variables
/// whose name ends in `_TOKEN` are shown as `***`).
pub fn cargo_with_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let shown = format!("cargo {}", args.join(" "));
    let vars: String = env
        .iter()
        .map(|(key, value)| if key.ends_with("_TOKEN") { format!("{key}=*** ") } else { format!("{key}={value} ") })
        .collect();
    println!("$ {vars}{shown}");
    let status = Command::new(cargo_program())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    ensure!(status.success(), "`{shown}` failed ({status})");
    Ok(())
}

/// Runs `cargo <args>` in `root` with its output discarded and reports only whether it succeeded.
///
/// Used to probe for optional tools such as `cargo nextest`.
pub fn cargo_succeeds(root: &Path, args: &[&str]) -> bool {
    Command::new(cargo_program())
        .args(args)
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Reads the workspace's `cargo metadata` (workspace members only, no dependency resolution).
pub fn metadata(root: &Path) -> Result<cargo_metadata::Metadata> {
    cargo_metadata::MetadataCommand::new()
        .cargo_path(cargo_program())
        .manifest_path(root.join("Cargo.toml"))
        .no_deps()
        .exec()
        .context("`cargo metadata` failed")
}
