//! `lanyard token create | list | revoke`: API tokens, managed on the catalog directly as the local administrator.
//!
//! A token is printed exactly once, by `create`, on stdout (and nowhere else, ever); `list` shows names, roles and
//! dates, never tokens or their hashes.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use lanyard_control::{Caller, ControlPlane, Role, Timestamp, TokenView};

use crate::place::{Place, explain};

/// The principal recorded in the audit log for token and admin commands run on the data directory.
pub(crate) const LOCAL_ADMIN: &str = "local-admin";

/// What `lanyard token` does.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token for a principal (created with the role if new) and print it once, on stdout.
    Create {
        #[command(flatten)]
        place: Place,
        /// The principal the token belongs to (the token row is named <name>/<8 hex>).
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The principal's role: admin, operator (reads, connections:test, pipelines:write) or viewer (reads).
        #[arg(long, value_name = "ROLE", value_parser = parse_role)]
        role: Role,
        /// When the token stops working: ISO 8601, such as 2027-01-31 or 2027-01-31T12:00:00Z (UTC unless an
        /// offset is given).
        #[arg(long, value_name = "ISO8601", value_parser = parse_expiry)]
        expires: Option<Timestamp>,
    },
    /// List every token: name, principal, role, created, last used, expires, revoked (never the tokens).
    List {
        #[command(flatten)]
        place: Place,
    },
    /// Revoke a token by its name or id, or every live token of a principal by the principal's name.
    Revoke {
        #[command(flatten)]
        place: Place,
        /// A token name (alice/3f9c1a2b), a token id, or a principal name.
        target: String,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse::<Role>().map_err(|_| {
        let spellings = Role::spellings();
        let (last, first) = spellings.split_last().expect("there are roles");
        format!("unknown role {:?}: use {} or {last}", lanyard_core::printable(text, 40), first.join(", "))
    })
}

fn parse_expiry(text: &str) -> Result<Timestamp, String> {
    let at = Timestamp::parse(text).map_err(|e| e.to_string())?;
    if at <= Timestamp::now() {
        return Err(format!("{at} is in the past"));
    }
    Ok(at)
}

/// Runs one token command.
pub(crate) fn run(command: TokenCommand) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let place = match &command {
            TokenCommand::Create { place, .. } | TokenCommand::List { place } | TokenCommand::Revoke { place, .. } => {
                place.clone()
            }
        };
        let control = open(&place).await?;
        let caller = Caller::local(LOCAL_ADMIN, Role::Admin);
        let outcome = execute(&control, &caller, command).await;
        control.close().await;
        outcome
    })
}

/// Opens an existing catalog: token and admin commands never create a data directory of their own.
pub(crate) async fn open(place: &Place) -> Result<ControlPlane> {
    if place.catalog.is_none() && !place.data_dir.join("catalog.db").is_file() {
        bail!(
            "no catalog in {}: start `lanyard serve --data-dir {}` once, or give --data-dir/--catalog",
            place.data_dir.display(),
            place.data_dir.display()
        );
    }
    place.open().await
}

async fn execute(control: &ControlPlane, caller: &Caller, command: TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Create { name, role, expires, .. } => {
            let (view, token) = control
                .create_token(caller, &name, role, expires)
                .await
                .map_err(explain)
                .with_context(|| format!("cannot create a token for {name:?}"))?;
            println!("{}", token.expose_secret());
            eprintln!(
                "created token {} (id {}) for principal {} (role {}{}). It is shown once, above: store it now; \
                 it cannot be shown again (revoke it and create another if it is lost).",
                view.name,
                view.id,
                view.principal,
                view.role,
                view.expires_at.map(|at| format!(", expires {}", short(at))).unwrap_or_default(),
            );
        }
        TokenCommand::List { .. } => {
            let mut tokens = control.list_tokens(caller).await.map_err(explain)?;
            tokens.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.name.cmp(&b.name)));
            print!("{}", table(&tokens));
        }
        TokenCommand::Revoke { target, .. } => {
            let revoked = control
                .revoke_token(caller, &target)
                .await
                .map_err(explain)
                .with_context(|| format!("cannot revoke {target:?}"))?;
            for token in &revoked {
                println!(
                    "revoked token {} (id {}, principal {}, role {})",
                    token.name, token.id, token.principal, token.role
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A timestamp to the second: `2026-11-20T22:40:03Z`.
fn short(at: Timestamp) -> String {
    let text = at.to_string();
    match text.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text,
    }
}

/// The token listing: a header and one aligned row per token.
fn table(tokens: &[TokenView]) -> String {
    let when = |at: Option<Timestamp>| at.map_or_else(|| "-".to_owned(), short);
    let mut rows = vec![["NAME", "PRINCIPAL", "ROLE", "CREATED", "LAST USED", "EXPIRES", "REVOKED"].map(str::to_owned)];
    for t in tokens {
        rows.push([
            t.name.clone(),
            t.principal.clone(),
            t.role.to_string(),
            short(t.created_at),
            when(t.last_used_at),
            when(t.expires_at),
            when(t.revoked_at),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if tokens.is_empty() {
        out.push_str("(no tokens)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_columns_and_shows_no_secret() {
        let token = TokenView {
            id: lanyard_core::TokenId::new_random(),
            name: "ops/1a2b3c4d".into(),
            principal: "ops".into(),
            role: Role::Operator,
            created_at: Timestamp::parse("2026-01-02T03:04:05.678Z").unwrap(),
            last_used_at: None,
            expires_at: Some(Timestamp::parse("2027-01-31").unwrap()),
            revoked_at: None,
        };
        assert_eq!(
            table(&[token]),
            "NAME          PRINCIPAL  ROLE      CREATED               LAST USED  EXPIRES               REVOKED\n\
             ops/1a2b3c4d  ops        operator  2026-01-02T03:04:05Z  -          2027-01-31T00:00:00Z  -\n"
        );
        assert_eq!(table(&[]), "NAME  PRINCIPAL  ROLE  CREATED  LAST USED  EXPIRES  REVOKED\n(no tokens)\n");
    }

    #[test]
    fn expiries_must_parse_and_lie_ahead() {
        assert!(parse_expiry("2999-01-01").is_ok());
        assert!(parse_expiry("2000-01-01").unwrap_err().contains("in the past"));
        assert!(parse_expiry("next tuesday").unwrap_err().contains("expected ISO 8601"));
        assert_eq!(parse_role("Viewer"), Ok(Role::Viewer));
        assert!(parse_role("root").unwrap_err().contains("admin, operator or viewer"));
    }
}
