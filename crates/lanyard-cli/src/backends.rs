//! `lanyard backends`: the vault backend kinds compiled into this binary, with their option keys, and the known
//! kinds that are not (with the cargo feature that enables them).

use std::fmt::Write as _;

use anyhow::Result;
use lanyard_vault::{KNOWN_KINDS, Registry};

/// Prints the listing; exit 0.
pub(crate) fn run() -> Result<std::process::ExitCode> {
    print!("{}", listing(Registry::global()?));
    Ok(std::process::ExitCode::SUCCESS)
}

/// The listing as text.
pub(crate) fn listing(registry: &Registry) -> String {
    let mut out = String::new();
    for (i, factory) in registry.factories().iter().enumerate() {
        // One blank line between kinds, and before the list of missing ones.
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{} ({})", factory.kind.to_ascii_uppercase(), factory.crate_name);
        let _ = writeln!(out, "  {}", factory.description);
        let width = factory.all_options().map(|spec| spec.name.len()).max().unwrap_or(0);
        for spec in factory.all_options() {
            let mut flags = Vec::new();
            if spec.required {
                flags.push("required");
            }
            if spec.secret {
                flags.push("secret");
            }
            let flags = if flags.is_empty() { String::new() } else { format!(" [{}]", flags.join(", ")) };
            let _ = writeln!(out, "    {:width$}  {}{flags}", spec.name, spec.help);
        }
    }
    let missing: Vec<String> = KNOWN_KINDS
        .iter()
        .filter(|known| !registry.kinds().contains(&known.kind))
        .map(|known| format!("{} (--features {})", known.kind.to_ascii_uppercase(), known.feature))
        .collect();
    if !missing.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "not in this build: {}", missing.join(", "));
    }
    out
}
