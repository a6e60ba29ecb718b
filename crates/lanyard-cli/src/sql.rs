//! `lanyard sql`: SQL against a Lanyard server — inline, from a file, from standard input, or in an interactive
//! shell — through the HTTP adapter of `lanyard-client`, printed as a table, JSON or CSV.
//!
//! Exit codes scripts can rely on (the most severe wins):
//! `0` every statement succeeded; `1` a statement failed or did not parse; `2` the command line was wrong;
//! `3` the server could not be reached or refused the token; `4` every statement ran but a TEST reported FAILED.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use lanyard_client::{Client, Error as ClientError, ErrorKind, ScriptEvent, ScriptSummary, Session, StatementResult};
use lanyard_control::{ADMIN_TOKEN_FILE, AdminBootstrap};
use lanyard_core::SecretString;
use lanyard_server::{ServeOptions, Server};
use lanyard_sql::{Location, Span, parse_script};

use crate::offline::read_script;
use crate::place::{Place, explain};
use crate::remote::{ServerArgs, read_token_file};

/// Exit code: a statement failed or did not parse.
pub(crate) const EXIT_STATEMENT: u8 = 1;
/// Exit code: the server could not be reached or refused the token.
pub(crate) const EXIT_ENVIRONMENT: u8 = 3;
/// Exit code: a TEST statement reported FAILED (and nothing else went wrong). UNSUPPORTED (a type without a probe)
/// is not a failure: it exits 0.
const EXIT_TEST_FAILED: u8 = 4;

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
    /// standard input, or an interactive shell starts when standard input is a terminal. An argument that starts
    /// with `-` is a flag, except SQL that starts with a `--` comment (`--` and a space or a line break); anything
    /// else that starts with `-` goes after a `--` argument (`lanyard sql -- "$SQL"`).
    #[arg(value_name = "SQL", conflicts_with = "file")]
    sql: Option<String>,
    /// Run the script in FILE (`-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<String>,
    #[command(flatten)]
    remote: ServerArgs,
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
    let printer = Printer::plain(args.format, args.quiet);
    let code = match input {
        Input::Script { text, origin } => {
            let summary = run_script(&mut session, &printer, &text, &origin, args.continue_on_error).await;
            exit_code(&summary)
        }
        Input::Shell => crate::shell::run(&mut session, printer).await?,
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
    if args.embedded {
        let (url, token, embedded) = start_embedded(&args.place, args.remote.given_token()).await?;
        return Ok((args.remote.client_of(url, Some(token))?, Some(embedded)));
    }
    Ok((args.remote.client(&args.place.data_dir)?, None))
}

/// Opens the data directory's Control Plane and serves it on a loopback port for this process only.
async fn start_embedded(place: &Place, given: Option<SecretString>) -> Result<(String, SecretString, Embedded)> {
    place.create_data_dir("start").await?;
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
            ScriptEvent::Page { offset, page, vertical, .. } => printer.page(page, offset, vertical),
            ScriptEvent::Executed { index, span, statement, vertical, result, streamed } => {
                let elapsed = printer.display.elapsed();
                match result {
                    Ok(result) if streamed => printer.streamed(result, vertical),
                    Ok(result) => printer.result(result, vertical),
                    Err(error) => printer.error(origin, index, span, &statement.to_string(), span.slice(text), error),
                }
                printer.timing(elapsed);
            }
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
    /// The shell's `\x`, `\timing` and pager (all off outside the shell).
    pub(crate) display: crate::shell::Display,
    /// The pages of a long SHOW result so far, where they are not printed as they arrive ([`Printer::streams`]).
    held: std::cell::RefCell<Option<StatementResult>>,
}

impl Printer {
    /// A printer outside the shell: no `\x`, `\timing` or pager.
    pub(crate) fn plain(format: Format, quiet: bool) -> Self {
        Self::new(format, quiet, crate::shell::Display::default())
    }

    /// A printer with the shell's display settings.
    pub(crate) fn new(format: Format, quiet: bool, display: crate::shell::Display) -> Self {
        Self { format, quiet, display, held: std::cell::RefCell::default() }
    }

    /// Whether the pages of a long SHOW result are printed as they arrive: in the table and CSV formats, unless the
    /// shell's pager is on (it shows a result whole). JSON prints one object per statement, so it waits for the
    /// last page.
    fn streams(&self) -> bool {
        self.format != Format::Json && !self.display.pages()
    }

    /// A page of a long SHOW result (`offset` rows came before it): printed at once where the printer
    /// [streams](Printer::streams), else held until the statement's end. A table's header is printed with the first
    /// page only; each page is aligned on its own, as psql's `FETCH_COUNT` does.
    pub(crate) fn page(&self, page: &StatementResult, offset: usize, vertical: bool) {
        if !self.streams() {
            let mut held = self.held.borrow_mut();
            match held.as_mut() {
                Some(held) => held.rows.extend(page.rows.iter().cloned()),
                None => *held = Some(page.clone()),
            }
            return;
        }
        let text = match self.format {
            Format::Table if vertical || self.display.expanded => crate::render::vertical_from(page, offset),
            Format::Table if offset == 0 => crate::render::table(page),
            Format::Table => crate::render::table_rows(page),
            Format::Csv if offset == 0 => crate::render::csv(page),
            Format::Csv => crate::render::csv_rows(page),
            Format::Json => return,
        };
        self.out(&text);
    }

    /// The end of a SHOW whose rows came in pages: the status line after the rows printed already, or the whole
    /// result where the pages were held.
    pub(crate) fn streamed(&self, result: &StatementResult, vertical: bool) {
        if let Some(mut whole) = self.held.borrow_mut().take() {
            whole.outcome = result.outcome;
            whole.message.clone_from(&result.message);
            whole.warnings.clone_from(&result.warnings);
            return self.result(&whole, vertical);
        }
        match self.format {
            Format::Table => {
                if !self.quiet {
                    self.out(&format!("{}\n\n", result.message));
                }
                self.warnings(result);
            }
            Format::Csv => {
                self.status(&result.message);
                self.warnings(result);
            }
            Format::Json => self.result(result, vertical),
        }
    }

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

    /// Result text on stdout, through the shell's pager when it is on and the text is taller than the terminal.
    fn emit(&self, text: &str) {
        if !self.display.page(text) {
            self.out(text);
        }
    }

    /// A statement's result; `vertical` (the statement ended with `\G`, or the shell's `\x` is on) prints its rows as
    /// the MySQL client's vertical form in the table format, and changes nothing in JSON and CSV, which have one
    /// shape each. The rows and their status line are written at once, so a pager gets them together.
    pub(crate) fn result(&self, result: &StatementResult, vertical: bool) {
        match self.format {
            Format::Table => {
                let mut text = String::new();
                if result.has_rows() {
                    let vertical = vertical || self.display.expanded;
                    text = if vertical { crate::render::vertical(result) } else { crate::render::table(result) };
                }
                if !self.quiet {
                    text.push_str(&result.message);
                    text.push('\n');
                    if result.has_rows() {
                        text.push('\n');
                    }
                }
                self.emit(&text);
                self.warnings(result);
            }
            Format::Json => self.emit(&format!("{}\n", crate::render::json(result))),
            Format::Csv => {
                if result.has_rows() {
                    self.emit(&crate::render::csv(result));
                }
                self.status(&result.message);
                self.warnings(result);
            }
        }
    }

    /// The shell's `\timing` line after a statement, psql's `Time: 12.345 ms` (on stdout in the table format, on
    /// stderr beside the status lines otherwise); nothing when timing is off.
    fn timing(&self, elapsed: Option<std::time::Duration>) {
        let Some(elapsed) = elapsed else { return };
        let line = format!("Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0);
        match self.format {
            Format::Table => self.out(&format!("{line}\n")),
            Format::Json | Format::Csv => eprintln!("{line}"),
        }
        self.display.restart_clock();
    }

    /// The server's warnings about a statement that succeeded, one `warning: …` line each on stderr, also with
    /// --quiet (they are diagnostics, not status). JSON carries them in the result's `warnings` field instead.
    fn warnings(&self, result: &StatementResult) {
        for warning in &result.warnings {
            eprintln!("warning: {}", warning.message);
        }
    }

    fn parse_error(&self, error: &lanyard_sql::ParseError, origin: &str) {
        eprint!("{}", error.render(origin));
        if self.format == Format::Json {
            let location = error.location();
            let mut line = serde_json::json!({
                "statement": null,
                "outcome": "error",
                "error": { "code": "syntax", "message": error.message() },
                "line": location.line,
                "column": location.column,
            });
            if let Some(hint) = error.hint() {
                line["error"]["hint"] = hint.into();
            }
            self.out(&format!("{line}\n"));
        }
    }

    /// A statement the server refused: `statement` is its canonical SQL, `source` its text as written at `span`.
    fn error(&self, origin: &str, index: usize, span: Span, statement: &str, source: &str, error: &ClientError) {
        let message = error.to_string();
        let target = locate(span, source, statement, &message);
        let mut report = render_error(origin, &target, statement, &message);
        if let Some(code) = error.kind() {
            let gutter = " ".repeat(target.at.line.to_string().len());
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
                "line": target.at.line,
                "column": target.at.column,
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

/// What a refused statement's report points at: the failing action when the message says `action N: …`, else the
/// object the message names (its first quoted name), else the statement's first keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    /// Where it is in the source (the `-->` line and the JSON `line`/`column`).
    pub(crate) at: Location,
    /// Where it is in the canonical statement: character column (0-based) and width of the caret.
    pub(crate) column: usize,
    pub(crate) width: usize,
}

/// Finds what `message` blames in a statement written as `source` at `span` and printed as `statement`.
pub(crate) fn locate(span: Span, source: &str, statement: &str, message: &str) -> Target {
    if let Some(n) = failing_action(message) {
        let action = |text: &str| parse_script(text).statements.first().and_then(|s| s.actions.get(n - 1).copied());
        if let (Some(written), Some(printed)) = (action(source), action(statement)) {
            let width = if printed.start.line == printed.end.line {
                (printed.end.column - printed.start.column) as usize
            } else {
                statement.chars().count() - (printed.start.column as usize - 1)
            };
            return Target {
                at: absolute(span.start, written.start),
                column: printed.start.column as usize - 1,
                width: width.max(1),
            };
        }
    }
    let first_word = (0, statement.split_whitespace().next().map_or(1, |w| w.chars().count()));
    let (column, width) = named_object(statement, message).unwrap_or(first_word);
    let at = named_object(source, message).map_or(span.start, |(chars, _)| {
        let before: String = source.chars().take(chars).collect();
        let line = before.matches('\n').count() as u32;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
        absolute(span.start, Location { line: line + 1, column, offset: before.len() })
    });
    Target { at, column, width }
}

/// The N of an `action N: …` in a Control Plane message: which action of an ALTER failed (1-based).
fn failing_action(message: &str) -> Option<usize> {
    message.match_indices("action ").find_map(|(i, _)| {
        let rest = &message[i + "action ".len()..];
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n = rest[..digits].parse::<usize>().ok()?;
        (rest[digits..].starts_with(':') && n > 0).then_some(n)
    })
}

/// A location inside a statement's text (1-based, relative to its start) made absolute in the script, given where
/// the statement starts.
fn absolute(start: Location, local: Location) -> Location {
    if local.line <= 1 {
        Location { line: start.line, column: start.column + local.column - 1, offset: start.offset + local.offset }
    } else {
        Location { line: start.line + local.line - 1, column: local.column, offset: start.offset + local.offset }
    }
}

/// A rustc-style report of a statement the server refused: the message, the position of what failed in the source,
/// the statement as canonical SQL (secret literals are `'***'`, nothing else is hidden) and a caret under what
/// failed (see [`Target`]).
pub(crate) fn render_error(origin: &str, target: &Target, statement: &str, message: &str) -> String {
    let line_no = target.at.line.to_string();
    let gutter = " ".repeat(line_no.len());
    let position = if origin.is_empty() {
        format!("{}:{}", target.at.line, target.at.column)
    } else {
        format!("{origin}:{}:{}", target.at.line, target.at.column)
    };
    format!(
        "error: {message}\n{gutter}--> {position}\n{gutter} |\n{line_no} | {statement}\n{gutter} | {}{}\n",
        " ".repeat(target.column),
        "^".repeat(target.width.max(1))
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
    use super::*;

    /// A statement written as `source` on line 3 of a script, at column 5.
    fn report(source: &str, message: &str) -> (String, Target) {
        let at = Location { line: 3, column: 5, offset: 40 };
        let span = Span { start: at, end: at };
        let statement = lanyard_sql::parse_one(source).expect("the test statement parses").to_string();
        let target = locate(span, source, &statement, message);
        (render_error("", &target, &statement, message), target)
    }

    #[test]
    fn the_caret_points_at_the_object_the_message_names() {
        let (report, target) = report("DROP CONNECTION prod_pg", "connection \"prod_pg\" does not exist");
        assert_eq!(
            report,
            "error: connection \"prod_pg\" does not exist\n --> 3:21\n  |\n3 | DROP CONNECTION prod_pg\n  |                 ^^^^^^^\n"
        );
        assert_eq!((target.at.line, target.at.column), (3, 21));
    }

    #[test]
    fn a_link_named_db_dot_name_is_found_where_the_statement_wrote_it_unqualified() {
        let (shown, _) = report("ALTER LINK nope SET CONFIG ::a = 1", "link \"default.nope\" does not exist");
        assert!(shown.ends_with("3 | ALTER LINK nope SET CONFIG ::a = 1\n  |            ^^^^\n"), "{shown}");
        let (shown, _) = report("ALTER LINK `my link` SET CONFIG ::a = 1", "link \"db.my link\" x");
        assert!(shown.ends_with("  |            ^^^^^^^^^\n"), "{shown}");
        let (shown, _) = report("SHOW CREATE LINK db1.l", "link \"db1.l\" does not exist");
        assert!(shown.ends_with("  |                  ^^^^^\n"), "{shown}");
    }

    /// Before: the caret sat under the object's name and the position was the statement's start, whatever action
    /// failed. After: `action 2: …` underlines action 2, and the position is where action 2 is written.
    #[test]
    fn the_caret_and_the_position_point_at_the_failing_action() {
        let source = "ALTER  CONNECTION prod_pg\n  SET DESCRIPTION 'main'\n  SET OPTION port = 'x'";
        let message = "connection \"prod_pg\": action 2: option \"port\" must be a number";
        let (rendered, target) = report(source, message);
        assert_eq!(
            rendered,
            "error: connection \"prod_pg\": action 2: option \"port\" must be a number\n --> 5:3\n  |\n5 | ALTER CONNECTION prod_pg SET DESCRIPTION 'main' SET OPTION port = 'x'\n  |                                                 ^^^^^^^^^^^^^^^^^^^^^\n"
        );
        assert_eq!(
            (target.at.line, target.at.column, target.at.offset),
            (5, 3, 40 + source.find("SET OPTION").unwrap())
        );
        // On the statement's first line, the column counts from the statement's start in the script.
        let (_, target) =
            report("ALTER CREDENTIAL k ROTATE RENAME TO k2", "action 2: vault entry \"k2\" already exists");
        assert_eq!((target.at.line, target.at.column), (3, 5 + 26));
        assert_eq!((target.column, target.width), (26, 12));
    }

    #[test]
    fn only_a_numbered_action_followed_by_a_colon_counts() {
        assert_eq!(failing_action("action 2: bad"), Some(2));
        assert_eq!(failing_action("connection \"c\": action 12: bad"), Some(12));
        assert_eq!(failing_action("an action that failed: 2"), None);
        assert_eq!(failing_action("action 0: bad"), None);
        // An action number beyond the statement's actions falls back to the named object.
        let (_, target) = report("DROP CONNECTION c", "action 3: connection \"c\" is in use");
        assert_eq!(target.column, 16);
    }
}
