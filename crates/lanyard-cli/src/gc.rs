//! `lanyard admin gc [--delete]`: material no catalog row points at, in every credential storage whose backend can
//! list what it holds, listed (never the material) and removed only with `--delete`, each removal audited as
//! `local-admin` (action `credential_storage.gc`).
//!
//! It needs no server: like `lanyard token` it opens the catalog (and through it the storages, with the master key
//! of the data directory) directly, so it works when the server is down, and whoever runs it could read the
//! material anyway. It may run beside a server: material written for a change that has not committed yet looks
//! orphaned for a moment, so only material last written more than `--min-age` ago is removed, material whose age the
//! backend cannot tell only with `--min-age 0`, and the catalog is read again before each removal.

use std::process::ExitCode;

use anyhow::{Context, Result};
use lanyard_client::{Cell, Outcome, StatementResult};
use lanyard_control::{Caller, GcOutcome, Orphan, Role, ScannedStorage, StorageScan, Timestamp};
use lanyard_vault::Profile;

use crate::place::{Place, explain};
use crate::sql::{Format, Printer};
use crate::tokens::LOCAL_ADMIN;

/// `lanyard admin gc` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GcArgs {
    #[command(flatten)]
    place: Place,
    /// Remove the orphaned material listed as `orphaned` (without it, nothing is changed).
    #[arg(long)]
    delete: bool,
    /// Keep material written less than this long ago (it may belong to a change still in flight): 30m, 1h, 2d;
    /// `0` also removes material whose age the backend cannot tell (run it so only when no server is writing).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_age)]
    min_age: i64,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "table")]
    format: Format,
}

/// `--min-age`, in microseconds.
fn parse_age(text: &str) -> Result<i64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    crate::audit::duration_micros(text)
        .ok_or_else(|| format!("{:?} is not a duration: use 0, 30m, 1h or 2d", lanyard_core::printable(text, 64)))
}

/// What became of one orphan.
enum Fate {
    /// Listed only.
    Orphaned,
    /// Too recent to remove, or of unknown age.
    Kept(&'static str),
    /// Removed.
    Deleted,
    /// A catalog row points at it now.
    NowReferenced,
    /// The removal failed.
    Failed(String),
}

impl Fate {
    fn text(&self) -> String {
        match self {
            Self::Orphaned => "orphaned".to_owned(),
            Self::Kept(why) => format!("kept: {why}"),
            Self::Deleted => "deleted".to_owned(),
            Self::NowReferenced => "kept: a catalog row points at it now".to_owned(),
            Self::Failed(why) => format!("not deleted: {why}"),
        }
    }
}

/// `lanyard admin gc`.
pub(crate) fn run(args: GcArgs) -> Result<ExitCode> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let control = crate::tokens::open(&args.place).await?;
        let outcome = collect(&control, &args).await;
        control.close().await;
        outcome
    })
}

async fn collect(control: &lanyard_control::ControlPlane, args: &GcArgs) -> Result<ExitCode> {
    let caller = Caller::local(LOCAL_ADMIN, Role::Admin);
    let scanned = control.find_orphans(&caller).await.map_err(explain).context("cannot scan the storages")?;
    let now = Timestamp::now().as_micros();
    let mut rows = Vec::new();
    let mut failed = 0;
    for storage in &scanned {
        let StorageScan::Listed { orphans, .. } = &storage.scan else { continue };
        for orphan in orphans {
            let fate = if !args.delete {
                Fate::Orphaned
            } else {
                match orphan.updated_at {
                    Some(at) if now.saturating_sub(at.as_micros()) < args.min_age => {
                        Fate::Kept("written less than --min-age ago")
                    }
                    None if args.min_age > 0 => Fate::Kept("age unknown (see --min-age 0)"),
                    _ => match control.delete_orphan(&caller, orphan).await {
                        Ok(GcOutcome::Deleted) => Fate::Deleted,
                        Ok(GcOutcome::NowReferenced) => Fate::NowReferenced,
                        Err(error) => {
                            failed += 1;
                            Fate::Failed(explain(error).to_string())
                        }
                    },
                }
            };
            rows.push(row(orphan, &fate));
        }
    }
    let printer = Printer::plain(args.format, false);
    printer.result(&result(rows, &scanned, args.delete), false);
    for storage in &scanned {
        if let StorageScan::NotInspected(reason) = &storage.scan {
            eprintln!("note: credential storage {:?} ({}) was not inspected: {reason}", storage.name, storage.kind);
        }
    }
    Ok(if failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn row(orphan: &Orphan, fate: &Fate) -> Vec<Cell> {
    let kind = match orphan.profile {
        Profile::Entry(_) => "vault entry material",
        Profile::Backend(_) => "storage secret options",
    };
    vec![
        Cell::from(orphan.storage.as_str()),
        Cell::from(orphan.kind.as_str()),
        Cell::from(kind),
        Cell::from(orphan.key.as_str()),
        Cell::int(orphan.size.and_then(|s| i64::try_from(s).ok())),
        Cell::text(orphan.updated_at.map(|at| at.to_string())),
        Cell::Text(fate.text()),
    ]
}

fn result(rows: Vec<Vec<Cell>>, scanned: &[ScannedStorage], delete: bool) -> StatementResult {
    let inspected = scanned.iter().filter(|s| matches!(s.scan, StorageScan::Listed { .. })).count();
    let referenced: usize = scanned
        .iter()
        .map(|s| match &s.scan {
            StorageScan::Listed { referenced, .. } => *referenced,
            StorageScan::NotInspected(_) => 0,
        })
        .sum();
    let orphans = rows.len();
    let mut message = format!(
        "{orphans} orphaned profile{} in {inspected} of {} credential storage{} ({referenced} referenced, left alone)",
        if orphans == 1 { "" } else { "s" },
        scanned.len(),
        if scanned.len() == 1 { "" } else { "s" },
    );
    if !delete && orphans > 0 {
        message.push_str("; nothing deleted: run again with --delete to remove them");
    }
    StatementResult::message("lanyard admin gc".to_owned(), Outcome::Ok, message)
        .with_rows(&["storage", "backend", "kind", "key", "size", "updated_at", "status"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_age_reads_durations_and_zero() {
        assert_eq!(parse_age("0"), Ok(0));
        assert_eq!(parse_age("1h"), Ok(3_600_000_000));
        assert_eq!(parse_age("2d"), Ok(2 * 24 * 3_600_000_000));
        assert!(parse_age("soon").unwrap_err().contains("is not a duration"));
    }
}
