//! `cargo xtask schemathesis` (also a step of `cargo xtask ci`): checks that `/openapi.json` describes exactly what
//! the server does.
//!
//! It builds the `lanyard` binary (debug), starts `lanyard serve` on a free port of 127.0.0.1 with a fresh data
//! directory (so the catalog is empty and the first start writes the admin token), and runs schemathesis against the
//! server's own `/openapi.json` with the admin token: every operation, every check (schemathesis's default; not
//! `--checks all`, which would override the per-operation settings of [`CONFIG`]), every phase
//! (examples, coverage, fuzzing and the stateful phase, which follows the description's links from a created object to
//! the operations on it). The run is bounded ([`MAX_EXAMPLES`] per operation, killed after [`TIME_LIMIT`]); its seed
//! (random, or `LANYARD_SCHEMATHESIS_SEED`) and run time are printed, and any failure of any check fails the step.
//!
//! schemathesis comes from PyPI with the exact pins of [`REQUIREMENTS`], installed into `target/schemathesis-venv`;
//! its settings are in [`CONFIG`], each departure from schemathesis's defaults explained there and printed by the
//! step.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::services::{Process, free_port, install_venv, on_a_free_port, wait_until_answering};

/// The pinned requirements, relative to the workspace root.
pub const REQUIREMENTS: &str = "xtask/schemathesis-requirements.txt";

/// schemathesis's configuration (`--config-file`), relative to the workspace root.
pub const CONFIG: &str = "xtask/schemathesis.toml";

/// Test cases per operation and phase.
pub const MAX_EXAMPLES: u32 = 40;

/// The whole schemathesis run is killed (and the step fails) past this.
pub const TIME_LIMIT: Duration = Duration::from_secs(300);

/// The environment variable that fixes the seed (to replay a failure).
pub const SEED_ENV: &str = "LANYARD_SCHEMATHESIS_SEED";

/// Builds the binary, starts a fresh server and runs schemathesis against it (see the module's documentation).
pub fn run(root: &Path) -> Result<()> {
    let target = crate::ci::target_dir(root)?;
    let venv = install_venv(root, &target, "schemathesis", REQUIREMENTS, &["bin/st"], true)?;
    crate::cargo(root, &["build", "-p", "lanyard-cli", "--bin", "lanyard"])?;
    let binary = target.join("debug/lanyard");

    let work = work_dir(&target);
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("cannot remove {}", work.display()))?;
    }
    let data = work.join("data");
    fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let log = work.join("server.log");
    let (server, port) = start_server(&binary, &data, &log)?;
    let token = fs::read_to_string(data.join("admin.token")).context("the server wrote no admin.token")?;

    print_config(root)?;
    let seed = match std::env::var(SEED_ENV) {
        Ok(text) => text.trim().parse::<u64>().with_context(|| format!("{SEED_ENV} must be a number, not {text:?}"))?,
        Err(_) => random_seed()?,
    };
    let url = format!("http://127.0.0.1:{port}/openapi.json");
    let examples = MAX_EXAMPLES.to_string();
    let seed_text = seed.to_string();
    let header = format!("Authorization: Bearer {}", token.trim());
    let report = work.join("report");
    let args: Vec<&str> = vec![
        "run",
        &url,
        // Every check: schemathesis runs all of them unless told otherwise, and `--checks all` here would also
        // override the few per-operation exceptions of the config file (printed above).
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        &examples,
        "--seed",
        &seed_text,
        // One worker: hypothesis 6.170 is not thread-safe when it describes a failing strategy (an internal
        // "AST constructor recursion depth mismatch" error with two).
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--report",
        "junit",
        "--report-dir",
        report.to_str().context("the target directory's path is not UTF-8")?,
        "-H",
        &header,
    ];
    println!(
        "schemathesis: seed {seed} (replay with {SEED_ENV}={seed} cargo xtask schemathesis), {MAX_EXAMPLES} examples \
         per operation and phase, at most {} s, against {url}",
        TIME_LIMIT.as_secs()
    );
    let started = Instant::now();
    let mut command = Command::new(venv.join("bin/st"));
    command
        .arg("--config-file")
        .arg(root.join(CONFIG))
        .args(&args)
        .current_dir(&work)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "");
    let mut child = Process(command.spawn().context("cannot start schemathesis (st)")?);
    let status = loop {
        if let Some(status) = child.0.try_wait()? {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            drop(child);
            drop(server);
            bail!("schemathesis did not finish within {} s (seed {seed})", TIME_LIMIT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let elapsed = started.elapsed().as_secs_f64();
    drop(server);
    println!("schemathesis: seed {seed}, ran {elapsed:.1} s, {status}");
    if !status.success() {
        bail!(
            "schemathesis found failures (seed {seed}; the server's log is {}, the JUnit report is in {})",
            log.display(),
            report.display()
        );
    }
    Ok(())
}

/// Starts `lanyard serve` on a free port with `data` as its data directory; waits until `/healthz` answers 200.
fn start_server(binary: &Path, data: &Path, log: &Path) -> Result<(Process, u16)> {
    on_a_free_port(|| {
        let port = free_port()?;
        let out = fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(binary)
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--no-pipelines", "--log-level", "warn"])
            .env_remove("LANYARD_ADMIN_TOKEN")
            .env_remove("LANYARD_MASTER_KEY")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut process = Process(child);
        Ok(wait_until_answering(&mut process, "lanyard serve", port, "/healthz", |s| s == 200, log)?
            .map(|()| (process, port)))
    })
}

/// Prints the settings that depart from schemathesis's defaults (the config file, comments included).
fn print_config(root: &Path) -> Result<()> {
    let path = root.join(CONFIG);
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    println!("schemathesis: settings from {CONFIG}:");
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        println!("  {line}");
    }
    Ok(())
}

/// A random seed from the OS.
fn random_seed() -> Result<u64> {
    let mut bytes = [0u8; 8];
    fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    // Kept to 48 bits, so it is short to type back.
    Ok(u64::from_le_bytes(bytes) >> 16)
}

/// The directory schemathesis runs in (its report and the server's data and log).
pub fn work_dir(target: &Path) -> PathBuf {
    target.join("schemathesis")
}
