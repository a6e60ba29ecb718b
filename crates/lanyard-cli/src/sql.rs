//! `lanyard sql`: SQL against a Lanyard server — inline, from a file, from standard input, or in an interactive
//! shell — through the HTTP adapter of `lanyard-client`, printed as a table, JSON or CSV.
//!
//! Exit codes scripts can rely on (the most severe wins):
//! `0` every statement succeeded; `1` a statement failed or did not parse; `2` the command line was wrong;
//! `3` the server could not be reached or refused the token; `4` every statement ran but a TEST reported FAILED.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use lanyard_client::{Client, Error as ClientError, ErrorKind, ScriptEvent, ScriptSummary, Session, StatementResult};
use lanyard_control::{ADMIN_TOKEN_FILE, AdminBootstrap};
use lanyard_core::SecretString;
use lanyard_server::{ServeOptions, Server};
use lanyard_sql::Span;

use crate::offline::read_script;
use crate::place::{Place, explain};

/// Exit code: a statement failed or did not parse.
const EXIT_STATEMENT: u8 = 1;
/// Exit code: the server could not be reached or refused the token.
const EXIT_ENVIRONMENT: u8 = 3;
/// Exit code: a TEST statement reported FAILED (and nothing else went wrong). UNSUPPORTED (a type without a probe)
/// is not a failure: it exits 0.
const EXIT_TEST_FAILED: u8 = 4;

/// The server used when neither `--server` nor `LANYARD_SERVER` says otherwise.
const DEFAULT_SERVER: &str = "http://127.0.0.1:7600";

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned tables and status lines, for people.
    Table,
    /// One JSON object per statement per line (JSON Lines), rows as objects.
    Json,
    /// CSV with a header row per result set; status lines go to stderr.
    Csv,
}

/// `lanyard sql` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SqlArgs {
    /// SQL to run (one or more `;`-separated statements). Without it and without --file, SQL is read from
    /// standard input, or an interactive shell starts when standard input is a terminal.
    #[arg(value_name = "SQL", conflicts_with = "file", allow_hyphen_values = true)]
    sql: Option<String>,
    /// Run the script in FILE (`-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<String>,
    /// The server's URL.
    #[arg(long, env = "LANYARD_SERVER", value_name = "URL", default_value = DEFAULT_SERVER)]
    server: String,
    /// The API token. Prefer LANYARD_TOKEN or the data dir's admin.token: a token on the command line lands in
    /// shell history and process listings.
    #[arg(long, env = "LANYARD_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Trust this PEM certificate (a private CA or the server's self-signed certificate) for https:// servers.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "table")]
    format: Format,
    /// Run an in-process Control Plane on the data directory instead of talking to a server (no second
    /// terminal needed; do not point it at a data directory a running server uses with SQLite).
    #[arg(long)]
    embedded: bool,
    #[command(flatten)]
    place: Place,
    /// Keep going after a failed statement (and run the statements that parse around a syntax error).
    #[arg(long)]
    continue_on_error: bool,
    /// Start the interactive shell even when standard input is not a terminal.
    #[arg(long, conflicts_with_all = ["sql", "file"])]
    interactive: bool,
    /// Print only results: no status lines.
    #[arg(short, long)]
    quiet: bool,
}

/// `lanyard sql`.
pub(crate) fn run(args: SqlArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("lanyard-sql")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: SqlArgs) -> Result<ExitCode> {
    let input = Input::of(&args)?;
    let (client, embedded) = match connect(&args).await {
        Ok(connected) => connected,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(EXIT_ENVIRONMENT));
        }
    };
    let mut session = Session::new(client);
    let printer = Printer { format: args.format, quiet: args.quiet };
    let code = match input {
        Input::Script { text, origin } => {
            let summary = run_script(&mut session, &printer, &text, &origin, args.continue_on_error).await;
            exit_code(&summary)
        }
        Input::Shell => crate::shell::run(&mut session, &printer).await?,
    };
    if let Some(embedded) = embedded {
        embedded.stop().await;
    }
    Ok(ExitCode::from(code))
}

/// Where the SQL comes from.
enum Input {
    /// A whole script: inline, a file, or piped standard input.
    Script { text: String, origin: String },
    /// The interactive shell.
    Shell,
}

impl Input {
    fn of(args: &SqlArgs) -> Result<Self> {
        if let Some(sql) = &args.sql {
            return Ok(Self::Script { text: sql.clone(), origin: String::new() });
        }
        let origin = |path: &str| if path == "-" { "<stdin>".to_owned() } else { path.to_owned() };
        match args.file.as_deref() {
            Some(path) => Ok(Self::Script { text: read_script(path)?, origin: origin(path) }),
            None if args.interactive || std::io::stdin().is_terminal() => Ok(Self::Shell),
            None => Ok(Self::Script { text: read_script("-")?, origin: origin("-") }),
        }
    }
}

/// A Control Plane served in this process on a loopback port, for `--embedded`.
struct Embedded {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), lanyard_server::ServeError>>,
}

impl Embedded {
    async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("warning: the embedded Control Plane stopped with an error: {error}"),
            Err(error) => eprintln!("warning: the embedded Control Plane failed: {error}"),
        }
    }
}

/// The client for `args`: the given server, or an embedded Control Plane.
async fn connect(args: &SqlArgs) -> Result<(Client, Option<Embedded>)> {
    let given = args.token.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(SecretString::new);
    let (url, token, embedded) = if args.embedded {
        let (url, token, embedded) = start_embedded(&args.place, given).await?;
        (url, Some(token), Some(embedded))
    } else {
        let token = match given {
            Some(token) => Some(token),
            None => read_token_file(&args.place.data_dir)?,
        };
        (args.server.clone(), token, None)
    };
    let mut builder = Client::builder(url);
    if let Some(token) = token {
        builder = builder.token(token);
    }
    if let Some(path) = &args.ca_cert {
        let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        builder = builder.ca_cert_pem(pem);
    }
    Ok((builder.build()?, embedded))
}

/// `<data-dir>/admin.token`, when it exists.
fn read_token_file(data_dir: &Path) -> Result<Option<SecretString>> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(SecretString::new(text.trim().to_owned()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the token file {}", path.display())),
    }
}

/// Opens the data directory's Control Plane and serves it on a loopback port for this process only.
async fn start_embedded(place: &Place, given: Option<SecretString>) -> Result<(String, SecretString, Embedded)> {
    place.create_data_dir()?;
    let control = place.open().await?;
    let from_env = crate::serve::admin_token_from_env()?;
    let bootstrap =
        control.bootstrap_admin(from_env.as_ref()).await.map_err(explain).context("admin bootstrap failed")?;
    let token = match (given, bootstrap, from_env) {
        (Some(token), _, _) => token,
        (None, AdminBootstrap::FromEnvironment, Some(token)) => token,
        _ => read_token_file(&place.data_dir)?.with_context(|| {
            format!(
                "no token: {} is missing; pass --token or set LANYARD_TOKEN",
                place.data_dir.join(ADMIN_TOKEN_FILE).display()
            )
        })?,
    };
    let options = ServeOptions { listen: SocketAddr::from(([127, 0, 0, 1], 0)), ..ServeOptions::default() };
    let server = Server::bind(control, &options).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let addr = server.local_addr().context("cannot read the embedded server's address")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Ok((format!("http://{addr}"), token, Embedded { stop, task }))
}

/// Runs a script, printing each result as it comes, and reports failures with their position.
pub(crate) async fn run_script(
    session: &mut Session,
    printer: &Printer,
    text: &str,
    origin: &str,
    continue_on_error: bool,
) -> ScriptSummary {
    let summary = session
        .run_script(text, continue_on_error, |event| match event {
            ScriptEvent::ParseError(error) => printer.parse_error(error, origin),
            ScriptEvent::Executed { index, span, statement, vertical, result } => match result {
                Ok(result) => printer.result(result, vertical),
                Err(error) => printer.error(origin, index, span, &statement.to_string(), error),
            },
        })
        .await;
    printer.summary(&summary, continue_on_error);
    summary
}

/// The exit code of a run.
pub(crate) fn exit_code(summary: &ScriptSummary) -> u8 {
    if summary.environment_error {
        EXIT_ENVIRONMENT
    } else if summary.failed > 0 || summary.parse_errors > 0 {
        EXIT_STATEMENT
    } else if summary.tests_failed > 0 {
        EXIT_TEST_FAILED
    } else {
        0
    }
}

/// Prints results and errors in the chosen format: data on stdout, diagnostics on stderr.
pub(crate) struct Printer {
    pub(crate) format: Format,
    pub(crate) quiet: bool,
}

impl Printer {
    fn out(&self, text: &str) {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        // A closed pipe (`| head`) is not an error worth a panic.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    fn status(&self, line: &str) {
        if self.quiet {
            return;
        }
        match self.format {
            Format::Table => self.out(&format!("{line}\n")),
            Format::Json | Format::Csv => eprintln!("{line}"),
        }
    }

    /// A statement's result; `vertical` (the statement ended with `\G`) prints its rows as the MySQL client's vertical
    /// form in the table format, and changes nothing in JSON and CSV, which have one shape each.
    pub(crate) fn result(&self, result: &StatementResult, vertical: bool) {
        match self.format {
            Format::Table => {
                if result.has_rows() {
                    let rows = if vertical { crate::render::vertical(result) } else { crate::render::table(result) };
                    self.out(&rows);
                }
                self.status(&result.message);
                if !self.quiet && result.has_rows() {
                    self.out("\n");
                }
            }
            Format::Json => self.out(&format!("{}\n", crate::render::json(result))),
            Format::Csv => {
                if result.has_rows() {
                    self.out(&crate::render::csv(result));
                }
                self.status(&result.message);
            }
        }
    }

    fn parse_error(&self, error: &lanyard_sql::ParseError, origin: &str) {
        eprint!("{}", error.render(origin));
        if self.format == Format::Json {
            let location = error.location();
            let line = serde_json::json!({
                "statement": null,
                "outcome": "error",
                "error": { "code": "syntax", "message": error.message() },
                "line": location.line,
                "column": location.column,
            });
            self.out(&format!("{line}\n"));
        }
    }

    fn error(&self, origin: &str, index: usize, span: Span, statement: &str, error: &ClientError) {
        let message = error.to_string();
        let mut report = render_error(origin, span, statement, &message);
        if let Some(code) = error.kind() {
            let gutter = " ".repeat(span.start.line.to_string().len());
            report.push_str(&format!("{gutter} = code: {code} (statement {index})\n"));
        }
        if error.kind() == Some(ErrorKind::Unauthenticated) {
            report.push_str("hint: pass --token, set LANYARD_TOKEN, or run where <data-dir>/admin.token is readable\n");
        }
        eprint!("{report}");
        if self.format == Format::Json {
            let line = serde_json::json!({
                "statement": statement,
                "outcome": "error",
                "error": { "code": error.kind().map(ErrorKind::code), "message": message },
                "line": span.start.line,
                "column": span.start.column,
            });
            self.out(&format!("{line}\n"));
        }
    }

    fn summary(&self, summary: &ScriptSummary, continue_on_error: bool) {
        let failed = summary.failed + summary.parse_errors;
        if failed == 0 {
            return;
        }
        let mut line = format!(
            "{failed} of {} statement{} failed",
            summary.statements,
            if summary.statements == 1 { "" } else { "s" }
        );
        if summary.not_run > 0 {
            line.push_str(&format!("; {} not run", summary.not_run));
            if summary.parse_errors > 0 && summary.succeeded == 0 && summary.failed == 0 && !continue_on_error {
                line.push_str(" (a script with a syntax error runs nothing; see --continue-on-error)");
            }
        }
        eprintln!("{line}");
    }
}

/// A rustc-style report of a statement the server refused: the message, the statement's position in the source,
/// the statement as canonical SQL (secret literals are `'***'`, nothing else is hidden) and a caret under the
/// object the message names (its first quoted name), or under the first keyword.
pub(crate) fn render_error(origin: &str, span: Span, statement: &str, message: &str) -> String {
    let line_no = span.start.line.to_string();
    let gutter = " ".repeat(line_no.len());
    let position = if origin.is_empty() {
        format!("{}:{}", span.start.line, span.start.column)
    } else {
        format!("{origin}:{}:{}", span.start.line, span.start.column)
    };
    let (column, width) = named_object(statement, message)
        .unwrap_or_else(|| (0, statement.split_whitespace().next().map_or(1, |w| w.chars().count())));
    format!(
        "error: {message}\n{gutter}--> {position}\n{gutter} |\n{line_no} | {statement}\n{gutter} | {}{}\n",
        " ".repeat(column),
        "^".repeat(width.max(1))
    )
}

/// Where in `statement` (character column, 0-based, and width) the first `"name"` of `message` appears as a
/// whole word, written bare or quoted; not in the statement's first two words (its keywords).
fn named_object(statement: &str, message: &str) -> Option<(usize, usize)> {
    let start = message.find('"')? + 1;
    let len = message[start..].find('"')?;
    let name = &message[start..start + len];
    if name.is_empty() {
        return None;
    }
    let keywords_end = statement.match_indices(' ').nth(1).map_or(0, |(i, _)| i);
    // A link is named `db.name` in messages; the statement may have written the name alone.
    let unqualified = name.split_once('.').map(|(_, rest)| rest).filter(|rest| !rest.is_empty());
    let candidates = [format!("\"{name}\""), format!("`{name}`"), name.to_owned()]
        .into_iter()
        .chain(unqualified.into_iter().flat_map(|n| [format!("`{n}`"), n.to_owned()]));
    for candidate in candidates {
        let found = statement.match_indices(candidate.as_str()).find(|(i, _)| {
            let before = statement[..*i].chars().next_back();
            let after = statement[i + candidate.len()..].chars().next();
            let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            *i > keywords_end && boundary(before) && boundary(after)
        });
        if let Some((i, _)) = found {
            return Some((statement[..i].chars().count(), candidate.chars().count()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use lanyard_sql::Location;

    use super::*;

    fn span() -> Span {
        let at = Location { line: 3, column: 1, offset: 0 };
        Span { start: at, end: at }
    }

    #[test]
    fn the_caret_points_at_the_object_the_message_names() {
        let report = render_error("", span(), "DROP CONNECTION prod_pg", "connection \"prod_pg\" does not exist");
        assert_eq!(
            report,
            "error: connection \"prod_pg\" does not exist\n --> 3:1\n  |\n3 | DROP CONNECTION prod_pg\n  |                 ^^^^^^^\n"
        );
    }

    #[test]
    fn a_link_named_db_dot_name_is_found_where_the_statement_wrote_it_unqualified() {
        let message = "link \"default.nope\" does not exist";
        let report = render_error("", span(), "ALTER LINK nope SET CONFIG ::a = 1", message);
        assert!(report.ends_with("3 | ALTER LINK nope SET CONFIG ::a = 1\n  |            ^^^^\n"), "{report}");
        let report = render_error("", span(), "ALTER LINK `my link` SET CONFIG ::a = 1", "link \"db.my link\" x");
        assert!(report.ends_with("  |            ^^^^^^^^^\n"), "{report}");
        let report = render_error("", span(), "SHOW CREATE LINK db1.l", "link \"db1.l\" does not exist");
        assert!(report.ends_with("  |                  ^^^^^\n"), "{report}");
    }
}
