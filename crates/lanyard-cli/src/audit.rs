//! `lanyard audit`: the audit log, read through the HTTP API (`GET /audit`) with the connection flags and token
//! discovery of `lanyard sql`, printed by the same renderers. The server redacts the records; nothing here adds to
//! them.
//!
//! Exit codes: `0` the records were printed; `1` the server refused the request (a missing permission, a filter
//! it rejects); `2` the command line was wrong; `3` the server could not be reached or refused the token.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use lanyard_api::{AuditQuery, AuditRecord};
use lanyard_client::{Cell, ErrorKind, Outcome, StatementResult};
use lanyard_control::Timestamp;

use crate::place::DEFAULT_DATA_DIR;
use crate::remote::ServerArgs;
use crate::sql::{Format, Printer};

/// `lanyard audit` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuditArgs {
    /// Only records from this time on: ISO 8601 (2027-01-31, 2027-01-31T12:00:00Z) or a duration back from now
    /// (90s, 30m, 12h, 7d, 2w, "1h 30m").
    #[arg(long, value_name = "TIME|DURATION", value_parser = parse_since)]
    since: Option<Timestamp>,
    /// Only records about this object: its name or id, or KIND/NAME with KIND one of connection, vault, storage,
    /// link (db.name), pipeline, database, principal, token.
    #[arg(long, value_name = "[KIND/]NAME")]
    object: Option<String>,
    /// At most this many records (1 to 1000): the newest ones, unless --after is given.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=1000))]
    limit: i64,
    /// Only records after this sequence number, oldest first (to read on from the last `seq` seen).
    #[arg(long, value_name = "SEQ")]
    after: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "table")]
    format: Format,
    #[command(flatten)]
    remote: ServerArgs,
    /// The data directory whose admin.token is used when no token is given.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
}

/// Exit code: the server refused the request.
const EXIT_REFUSED: u8 = 1;
/// Exit code: the server could not be reached or refused the token.
const EXIT_ENVIRONMENT: u8 = 3;

/// `--since`: an ISO 8601 time, or a duration back from now.
fn parse_since(text: &str) -> Result<Timestamp, String> {
    if let Ok(at) = Timestamp::parse(text) {
        return Ok(at);
    }
    let micros = duration_micros(text).ok_or_else(|| {
        format!(
            "{:?} is neither a time nor a duration: use ISO 8601 (2027-01-31, 2027-01-31T12:00:00Z) or a \
             duration such as 30m, 12h or 7d",
            lanyard_core::printable(text, 64)
        )
    })?;
    Ok(Timestamp::from_micros(Timestamp::now().as_micros().saturating_sub(micros)))
}

/// A non-negative duration (`30m`, `12h`, `7d`, `2w`, `1h 30m`; a day is 24 hours) in microseconds, as `--min-age`
/// and `lanyard audit --since` read it.
pub(crate) fn duration_micros(text: &str) -> Option<i64> {
    let span: jiff::Span = text.trim().parse().ok()?;
    let duration = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok()?;
    i64::try_from(duration.as_micros()).ok().filter(|micros| *micros >= 0)
}

/// `--object`: `KIND/NAME` when KIND is an object kind (`vault entry` as the API spells it), else the whole text
/// as a name or id (token names hold a `/`).
fn split_object(text: &str) -> (Option<&'static str>, &str) {
    let Some((kind, name)) = text.split_once('/') else { return (None, text) };
    let kind = match kind.to_ascii_lowercase().replace('_', " ").as_str() {
        "connection" => "connection",
        "vault" | "credential" | "vault entry" => "vault entry",
        "storage" | "credential storage" => "credential storage",
        "link" => "link",
        "pipeline" => "pipeline",
        "database" => "database",
        "principal" => "principal",
        "token" => "token",
        _ => return (None, text),
    };
    (Some(kind), name)
}

/// The API query of `args`.
fn query(args: &AuditArgs) -> AuditQuery {
    let (kind, object) = match args.object.as_deref() {
        Some(text) => {
            let (kind, name) = split_object(text);
            (kind.map(str::to_owned), Some(name.to_owned()))
        }
        None => (None, None),
    };
    AuditQuery {
        since: args.after,
        object,
        limit: Some(args.limit),
        from: args.since.map(|at| at.to_string()),
        kind,
        newest: Some(args.after.is_none()),
    }
}

/// The records as a result set, for the renderers of `lanyard sql`.
fn result(records: &[AuditRecord], args: &AuditArgs) -> StatementResult {
    let columns = ["seq", "at", "principal", "action", "object_kind", "object_name", "object_id", "outcome", "detail"];
    let rows = records
        .iter()
        .map(|r| {
            vec![
                Cell::Int(r.seq),
                Cell::from(r.at.as_str()),
                Cell::from(r.principal.as_str()),
                Cell::from(r.action.as_str()),
                Cell::from(r.object_kind.as_str()),
                Cell::text(r.object_name.clone()),
                Cell::text(r.object_id.clone()),
                Cell::from(r.outcome.as_str()),
                Cell::Text(r.detail.to_string()),
            ]
        })
        .collect();
    let count = records.len();
    let mut message = format!("{count} audit record{}", if count == 1 { "" } else { "s" });
    if i64::try_from(count).is_ok_and(|n| n == args.limit) {
        message.push_str(if args.after.is_some() {
            "; more may follow: --after the last seq"
        } else {
            "; older ones may exist: raise --limit or use --since/--after"
        });
    }
    StatementResult::message("lanyard audit".to_owned(), Outcome::Ok, message).with_rows(&columns, rows)
}

/// `lanyard audit`.
pub(crate) fn run(args: AuditArgs) -> Result<ExitCode> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let client = match args.remote.client(&args.data_dir) {
            Ok(client) => client,
            Err(error) => {
                eprintln!("error: {error:#}");
                return Ok(ExitCode::from(EXIT_ENVIRONMENT));
            }
        };
        match client.audit(&query(&args)).await {
            Ok(records) => {
                Printer::plain(args.format, false).result(&result(&records, &args), false);
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => {
                eprintln!("error: {error}");
                if error.kind() == Some(ErrorKind::Unauthenticated) {
                    eprintln!("hint: pass --token, set LANYARD_TOKEN, or run where <data-dir>/admin.token is readable");
                }
                Ok(ExitCode::from(if error.is_environment() { EXIT_ENVIRONMENT } else { EXIT_REFUSED }))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_times_and_durations_back_from_now() {
        assert_eq!(parse_since("2027-01-31").unwrap(), Timestamp::parse("2027-01-31T00:00:00Z").unwrap());
        let before = Timestamp::now().as_micros();
        let at = parse_since("2h").unwrap().as_micros();
        let after = Timestamp::now().as_micros();
        let hours = 2 * 3600 * 1_000_000;
        assert!((before - hours..=after - hours).contains(&at), "{at}");
        let week = parse_since("1w").unwrap().as_micros();
        let now = Timestamp::now().as_micros();
        assert!((after - 7 * 24 * hours / 2..=now - 7 * 24 * hours / 2).contains(&week), "{week}");
        assert!(parse_since("1h 30m").is_ok());
        let error = parse_since("yesterday").unwrap_err();
        assert!(error.contains("is neither a time nor a duration"), "{error}");
    }

    #[test]
    fn objects_may_name_their_kind() {
        assert_eq!(split_object("prod_pg"), (None, "prod_pg"));
        assert_eq!(split_object("connection/prod_pg"), (Some("connection"), "prod_pg"));
        assert_eq!(split_object("vault/pg_login"), (Some("vault entry"), "pg_login"));
        assert_eq!(split_object("storage/local"), (Some("credential storage"), "local"));
        assert_eq!(split_object("link/default.l"), (Some("link"), "default.l"));
        // A token's name holds a `/`: not a kind, the whole text is the name.
        assert_eq!(split_object("alice/3f9c1a2b"), (None, "alice/3f9c1a2b"));
        assert_eq!(split_object("token/alice/3f9c1a2b"), (Some("token"), "alice/3f9c1a2b"));
    }
}
