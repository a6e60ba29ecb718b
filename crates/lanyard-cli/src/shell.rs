//! The interactive shell of `lanyard sql` (rustyline), with psql's and the mysql client's habits: multi-line
//! statements ended by `;` (or `\G`, which prints the result vertically, and `\g`), `USE`, `help`, `\` commands
//! (`\x` expanded output, `\timing`, `\pager`, the `\d` family of shortcuts for SHOW and DESCRIBE), tab completion
//! of statements, keywords and object names (`complete.rs`), a pager for results taller than the terminal
//! (`pager.rs`), and a history file that never holds a secret.
//!
//! Before anything else the shell asks the server's `/healthz`: when nothing answers it says so, and how to start
//! one, and exits with code 3 rather than greeting the user as connected.
//!
//! History: a statement that parses is recorded as its canonical SQL, in which every secret literal is `'***'`;
//! text that does not parse, and `\` commands, are recorded with every quoted literal hidden. Recalling a redacted
//! statement and running it is refused by the client (a `'***'` secret is a redaction, not a value). The file is
//! `$LANYARD_HISTORY`, else `~/.lanyard_history`, created with mode 0600.

mod complete;
mod pager;

use std::cell::Cell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use lanyard_client::Session;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};

use self::complete::{Names, ShellHelper};
use self::pager::Pager;
use crate::sql::{EXIT_ENVIRONMENT, EXIT_STATEMENT, Printer, exit_code, run_script};

/// How long the banner waits for `/healthz`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// The help text of the shell, before the list of `\` commands ([`help`] adds it from [`META`]).
const HELP: &str = "\
Statements end with `;` and may span lines; ending one with `\\G` instead prints its rows vertically, one line per
column (as the MySQL client does). TAB completes statements (the list shows each one's skeleton), keywords and the
names of existing objects. Ctrl-C clears the current input or interrupts a running statement; Ctrl-D or `quit` leaves.

Connections   CREATE CONNECTION [IF NOT EXISTS] name TYPE = t OPTIONS (k = 'v', ...) [CREDENTIAL = e]
              [CREDENTIAL STORAGE = s] [DESCRIPTION '...'] [MAX_CONNECTIONS = n] [TIMEOUT = s]
              ALTER CONNECTION [IF EXISTS] name SET OPTIONS (...) | SET OPTION k = 'v' | UNSET OPTION k
                | SET CREDENTIAL = e | SET CREDENTIAL STORAGE = s | RENAME TO new | ...
              DROP | DESCRIBE CONNECTION [IF EXISTS] name; SHOW CONNECTIONS [LIKE 'x']; TEST CONNECTION name
Vault         CREATE CREDENTIAL [IF NOT EXISTS] name TYPE = CREDENTIAL SECRET '...'
              CREATE VAULT name TYPE = ENCRYPTION_KEY GENERATE [KEY_SIZE n]
              ALTER CREDENTIAL name SET SECRET '...' | ROTATE | SET DESCRIPTION '...' | RENAME TO new
              DROP | DESCRIBE { VAULT | CREDENTIAL } [IF EXISTS] name; SHOW { VAULTS | CREDENTIALS }
Storages      CREATE CREDENTIAL STORAGE name TYPE = kind OPTIONS (...); ALTER | DROP | DESCRIBE | TEST
              CREDENTIAL STORAGE name; SHOW CREDENTIAL STORAGES
Databases     CREATE DATABASE [IF NOT EXISTS] db; DROP DATABASE [IF EXISTS] db; SHOW DATABASES [LIKE 'x']
              (SCHEMA is a synonym; DROP refuses while links live in db, and never drops `default`)
Links         CREATE [OR REPLACE] LINK [IF NOT EXISTS] [db.]name AS S3 CONFIG '{...}'
              { CREDENTIALS '{...}' | CREDENTIALS FROM VAULT entry } [DESCRIPTION '...']
              ALTER LINK [db.]name, then one or both, in either order:
                SET CONFIG '{...}' | SET CONFIG ::k = 'v'
                SET CREDENTIALS '{...}' | SET CREDENTIALS ::k = 'v' | SET CREDENTIALS FROM VAULT entry
              DROP LINK [IF EXISTS] [db.]name; SHOW LINKS [ON db]; SHOW CREATE LINK [db.]name \\G
              DESCRIBE | TEST LINK [IF EXISTS] [db.]name   (end a statement with \\G to print it vertically)
Pipelines     CREATE PIPELINE [IF NOT EXISTS] [db.]name AS LOAD DATA LINK [db.]link 'path'
                INTO TABLE [schema.]table ON CONNECTION c [FORMAT { CSV | JSON }] [...]
              START | STOP | DROP PIPELINE [db.]name; SHOW PIPELINES [ON db]; SHOW FILES FOR PIPELINE [db.]name
History       SHOW HISTORY FOR { CONNECTION | VAULT | CREDENTIAL | CREDENTIAL STORAGE | LINK } name [LIMIT n]
              DESCRIBE ... name AT { VERSION n | '2026-12-01T10:00:00Z' }; ALTER ... name ROLLBACK TO VERSION n
Session       USE db;   help;   quit

";

/// The closing lines of the help.
const HELP_END: &str = "
The full reference is docs/sql-reference.md, the shell's is docs/cli.md; `lanyard check` parses a script without
running it.
";

/// One of the shell's `\` commands, for the help and for completion.
pub(crate) struct MetaCommand {
    /// What is typed, e.g. `\dv`.
    pub(crate) name: &'static str,
    /// Its arguments, e.g. `[name]`.
    pub(crate) args: &'static str,
    /// What it does.
    pub(crate) help: &'static str,
}

impl MetaCommand {
    /// `\dv [name]`.
    pub(crate) fn synopsis(&self) -> String {
        if self.args.is_empty() { self.name.to_owned() } else { format!("{} {}", self.name, self.args) }
    }
}

/// The shell's `\` commands. Each of the `\d` family runs the statement it names, exactly as if it were typed.
pub(crate) const META: &[MetaCommand] = &[
    MetaCommand { name: "\\?", args: "", help: "this help (also `help`)" },
    MetaCommand { name: "\\q", args: "", help: "leave (also `quit`, `exit`, Ctrl-D)" },
    MetaCommand { name: "\\x", args: "[on|off]", help: "expanded output: every result vertically, as `\\G` prints it" },
    MetaCommand { name: "\\timing", args: "[on|off]", help: "print how long each statement took (Time: 1.234 ms)" },
    MetaCommand {
        name: "\\pager",
        args: "[on|off]",
        help: "page results taller than the terminal through $PAGER (default: less -FRX)",
    },
    MetaCommand { name: "\\d", args: "[name]", help: "SHOW CONNECTIONS, or DESCRIBE CONNECTION name" },
    MetaCommand { name: "\\dv", args: "[name]", help: "SHOW VAULTS, or DESCRIBE VAULT name (vault entries)" },
    MetaCommand { name: "\\ds", args: "[name]", help: "SHOW CREDENTIAL STORAGES, or DESCRIBE CREDENTIAL STORAGE name" },
    MetaCommand { name: "\\dl", args: "[name]", help: "SHOW LINKS, or DESCRIBE LINK name" },
    MetaCommand { name: "\\dp", args: "[name]", help: "SHOW PIPELINES, or SHOW FILES FOR PIPELINE name" },
    MetaCommand { name: "\\l", args: "", help: "SHOW DATABASES" },
    MetaCommand { name: "\\c", args: "db", help: "USE db" },
];

/// The whole help: the statements, then the `\` commands.
fn help() -> String {
    let mut text = HELP.to_owned();
    text.push_str("Shell commands (a line that starts with `\\`; no `;` needed)\n");
    for meta in META {
        text.push_str(&format!("  {:<18}{}\n", meta.synopsis(), meta.help));
    }
    text.push_str(HELP_END);
    text
}

/// What a `\` command asks for.
#[derive(Debug, PartialEq)]
enum Meta {
    Help,
    Quit,
    /// `\x`: `None` toggles.
    Expanded(Option<bool>),
    /// `\timing`: `None` toggles.
    Timing(Option<bool>),
    /// `\pager`: `None` toggles.
    Pager(Option<bool>),
    /// A shortcut: this SQL runs as if typed.
    Run(String),
}

/// `\` and the letters after it, at most 16 characters: what an error may echo of a line that is not a command.
fn command_word(text: &str) -> String {
    let word: String = text.chars().skip(1).take_while(char::is_ascii_alphanumeric).take(15).collect();
    format!("\\{word}")
}

/// Whether `buffer` ends inside a string literal or quoted name that is not closed yet.
fn in_literal(buffer: &str) -> bool {
    matches!(lanyard_sql::parse(buffer.trim_end()), Err(error) if error.message().starts_with("unterminated"))
}

/// The `\` command on `line` typed after `buffer` (the statement typed so far), if it is one. In the middle of a
/// statement only a command that exists counts, and never inside an open literal.
fn command_at(line: &str, buffer: &str) -> Option<Result<Meta, String>> {
    meta(line).filter(|command| buffer.is_empty() || (command.is_ok() && !in_literal(buffer)))
}

/// The `\` command on `line`, if it is one (`\G` and `\g` end statements instead); `Err` says what is wrong with
/// it.
fn meta(line: &str) -> Option<Result<Meta, String>> {
    let line = line.trim().trim_end_matches(';').trim_end();
    if !line.starts_with('\\') || matches!(line, "\\G" | "\\g") {
        return None;
    }
    let (command, argument) = match line.split_once(char::is_whitespace) {
        Some((command, argument)) => (command, argument.trim()),
        None => (line, ""),
    };
    let switch = |name: &str| -> Result<Option<bool>, String> {
        match argument.to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "on" => Ok(Some(true)),
            "off" => Ok(Some(false)),
            _ => Err(format!("{name} takes on or off")),
        }
    };
    let no_argument = |meta: Meta| {
        if argument.is_empty() { Ok(meta) } else { Err(format!("{command} takes no argument")) }
    };
    // `\d name`: the statement with the name as typed (quoted or `db.`-qualified as the statement reads it).
    let list_or_describe = |list: &str, describe: &str| {
        Ok(Meta::Run(if argument.is_empty() { format!("{list};") } else { format!("{describe} {argument};") }))
    };
    Some(match command {
        "\\?" | "\\h" => Ok(Meta::Help),
        "\\q" => no_argument(Meta::Quit),
        "\\x" => switch(command).map(Meta::Expanded),
        "\\timing" => switch(command).map(Meta::Timing),
        "\\pager" => switch(command).map(Meta::Pager),
        "\\d" => list_or_describe("SHOW CONNECTIONS", "DESCRIBE CONNECTION"),
        "\\dv" => list_or_describe("SHOW VAULTS", "DESCRIBE VAULT"),
        "\\ds" => list_or_describe("SHOW CREDENTIAL STORAGES", "DESCRIBE CREDENTIAL STORAGE"),
        "\\dl" => list_or_describe("SHOW LINKS", "DESCRIBE LINK"),
        "\\dp" => list_or_describe("SHOW PIPELINES", "SHOW FILES FOR PIPELINE"),
        "\\l" => no_argument(Meta::Run("SHOW DATABASES;".to_owned())),
        "\\c" if argument.is_empty() => Err("\\c takes a database: \\c db".to_owned()),
        "\\c" => Ok(Meta::Run(format!("USE {argument};"))),
        // Only the command's own word is echoed: the rest of a mistyped line may be anything, a secret included.
        _ => Err(format!("invalid command {}; \\? lists the shell's commands", command_word(command))),
    })
}

/// How results are shown in the shell: `\x`, `\timing` and the pager. [`Printer`] holds one; outside the shell it
/// is the default, with everything off.
#[derive(Debug, Default)]
pub(crate) struct Display {
    /// `\x`: every result vertically.
    pub(crate) expanded: bool,
    /// `\timing`: when the statement being timed began; `None` while timing is off.
    clock: Option<Cell<Instant>>,
    /// The pager, while `\pager` is on.
    pager: Option<Pager>,
}

impl Display {
    /// How long the statement being timed has taken, when `\timing` is on.
    pub(crate) fn elapsed(&self) -> Option<Duration> {
        self.clock.as_ref().map(|clock| clock.get().elapsed())
    }

    /// Starts timing the next statement.
    pub(crate) fn restart_clock(&self) {
        if let Some(clock) = &self.clock {
            clock.set(Instant::now());
        }
    }

    /// Whether the pager is on (`\pager`): results are then shown whole, not a page of a long list at a time.
    pub(crate) fn pages(&self) -> bool {
        self.pager.is_some()
    }

    /// Shows `text` through the pager if it is on and `text` is taller than the terminal stdout is; whether it did.
    pub(crate) fn page(&self, text: &str) -> bool {
        self.pager.as_ref().is_some_and(|pager| pager.page(text))
    }
}

/// Where the history lives.
fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LANYARD_HISTORY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|home| PathBuf::from(home).join(".lanyard_history"))
}

/// Creates the history file with mode 0600 if it does not exist, so rustyline never creates it world-readable.
fn prepare_history(path: &std::path::Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("cannot open the history file {}", path.display()))?;
    Ok(())
}

/// What the history records for `input`: canonical SQL with secrets as `'***'` when it parses (each statement ended
/// as it was, `\G` or `;`), otherwise the text with every quoted literal hidden. One line either way.
pub(crate) fn history_line(input: &str) -> String {
    let text = match lanyard_sql::parse_script(input).into_result() {
        Ok(statements) => statements.iter().map(crate::offline::terminated).collect::<Vec<_>>().join(" "),
        Err(_) => lanyard_sql::redact_source(input),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `buffer` holds complete statements: it ends with `;`, `\G` or `\g` outside any literal or comment.
fn is_complete(buffer: &str) -> bool {
    let trimmed = buffer.trim_end();
    if !(trimmed.ends_with(';') || trimmed.ends_with("\\G") || trimmed.ends_with("\\g")) {
        return false;
    }
    match lanyard_sql::parse(trimmed) {
        Ok(_) => true,
        Err(error) => !error.message().starts_with("unterminated"),
    }
}

/// The shell's line editor.
type LineEditor = Editor<ShellHelper, FileHistory>;

/// Runs the shell until Ctrl-D or `quit`. The exit code is that of the last input run, or 3 when no server answers
/// at the start.
pub(crate) async fn run(session: &mut Session, mut printer: Printer) -> Result<u8> {
    if let Err(message) = check_health(session.client()).await {
        eprint!("{message}");
        return Ok(EXIT_ENVIRONMENT);
    }
    let config = Config::builder()
        .auto_add_history(false)
        .max_history_size(2000)?
        .history_ignore_dups(true)?
        .completion_type(CompletionType::List)
        .build();
    let mut editor: LineEditor = Editor::with_config(config).context("cannot start the line editor")?;
    let names = Names::new(session.client().clone(), tokio::runtime::Handle::current(), session.database());
    editor.set_helper(Some(ShellHelper { pending: String::new(), names }));
    let history = history_path();
    if let Some(path) = &history {
        prepare_history(path)?;
        // A missing or unreadable history is not worth refusing to start.
        let _ = editor.load_history(path);
    }
    printer.display.pager = Pager::from_env();
    let mut interrupts = Interrupts::new();
    if !printer.quiet {
        eprintln!(
            "lanyard sql: connected to {}. Type `help` or `\\?` for help, `quit` to leave.",
            session.client().base_url()
        );
    }
    let mut buffer = String::new();
    let mut last = 0;
    loop {
        let prompt = if buffer.is_empty() {
            format!("lanyard:{}> ", session.database())
        } else {
            format!("{}-> ", " ".repeat(session.database().len() + 7))
        };
        if let Some(helper) = editor.helper_mut() {
            helper.pending.clone_from(&buffer);
        }
        let line = match tokio::task::block_in_place(|| editor.readline(&prompt)) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(error).context("cannot read input"),
        };
        // `\` commands act at once, also in the middle of a statement; those that run one only outside it. In the
        // middle of a statement only a command that exists counts, and never inside an open literal: there a line
        // that starts with `\` is the statement's text (a pasted `\"key\":\"…\"` line of JSON), never echoed or kept.
        if let Some(command) = command_at(&line, &buffer) {
            if command.is_ok() {
                record(&mut editor, history.as_ref(), &lanyard_sql::redact_source(line.trim()));
            }
            let sql = match command {
                Ok(Meta::Run(sql)) if buffer.is_empty() => sql,
                Ok(Meta::Run(_)) => {
                    eprintln!("error: end the statement being typed first (with `;`), or clear it with Ctrl-C");
                    continue;
                }
                Ok(Meta::Quit) => break,
                Ok(setting) => {
                    set(&mut printer, setting);
                    continue;
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    continue;
                }
            };
            match execute(session, &printer, &mut interrupts, &sql, &editor).await {
                Ok(code) => last = code,
                Err(code) => {
                    last = code;
                    break;
                }
            }
            continue;
        }
        if buffer.is_empty() {
            match line.trim().trim_end_matches(';').trim() {
                "" => continue,
                "quit" | "exit" => break,
                "help" => {
                    print!("{}", help());
                    continue;
                }
                _ => {}
            }
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !is_complete(&buffer) {
            continue;
        }
        let input = std::mem::take(&mut buffer);
        record(&mut editor, history.as_ref(), &history_line(&input));
        match execute(session, &printer, &mut interrupts, &input, &editor).await {
            Ok(code) => last = code,
            Err(code) => {
                last = code;
                break;
            }
        }
    }
    Ok(last)
}

/// Asks the server's `/healthz` before the shell greets anyone; the report, with what to do, when it does not
/// answer or is not ready.
async fn check_health(client: &lanyard_client::Client) -> Result<(), String> {
    let url = client.base_url();
    let hint = format!(
        "hint: no Lanyard server answers at {url}. Start one with `lanyard serve` (in another terminal), give the \
         URL of a running one with --server URL or LANYARD_SERVER, or run the Control Plane in this process with \
         `lanyard sql --embedded`.\n"
    );
    match tokio::time::timeout(HEALTH_TIMEOUT, client.health()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error @ lanyard_client::Error::Api(_))) => {
            Err(format!("error: the Lanyard server at {url} is not ready (GET /healthz): {error}\n"))
        }
        Ok(Err(error)) => Err(format!("error: {error}\n{hint}")),
        Err(_) => Err(format!(
            "error: the server at {url} did not answer GET /healthz within {} s\n{hint}",
            HEALTH_TIMEOUT.as_secs()
        )),
    }
}

/// Adds `entry` to the history and saves it at once, so a crash or a kill loses nothing.
fn record(editor: &mut LineEditor, history: Option<&PathBuf>, entry: &str) {
    let entry = entry.split_whitespace().collect::<Vec<_>>().join(" ");
    let _ = editor.add_history_entry(entry.as_str());
    if let Some(path) = history {
        let _ = editor.save_history(path);
    }
}

/// Applies a `\` command that changes a setting, saying what it is now in psql's words.
fn set(printer: &mut Printer, setting: Meta) {
    let on_off = |on: bool| if on { "on" } else { "off" };
    let display = &mut printer.display;
    match setting {
        Meta::Help => print!("{}", help()),
        Meta::Expanded(on) => {
            display.expanded = on.unwrap_or(!display.expanded);
            println!("Expanded display is {}.", on_off(display.expanded));
        }
        Meta::Timing(on) => {
            let on = on.unwrap_or(display.clock.is_none());
            display.clock = on.then(|| Cell::new(Instant::now()));
            println!("Timing is {}.", on_off(on));
        }
        Meta::Pager(on) => {
            if on.unwrap_or(display.pager.is_none()) {
                match Pager::from_env() {
                    Some(pager) => {
                        println!("Pager `{}` is used for results taller than the terminal.", pager.command());
                        display.pager = Some(pager);
                    }
                    None => eprintln!("error: PAGER is set but empty: name a pager command, or unset it for less -FRX"),
                }
            } else {
                display.pager = None;
                println!("Pager usage is off.");
            }
        }
        Meta::Quit | Meta::Run(_) => {}
    }
}

/// Runs `input` as a script that goes on after a failed statement; Ctrl-C stops waiting for it. The exit code, as
/// `Err` when the shell must stop (the server is gone or refuses the token). Names for completion are fetched
/// again after a statement that may have changed them.
async fn execute(
    session: &mut Session,
    printer: &Printer,
    interrupts: &mut Interrupts,
    input: &str,
    editor: &LineEditor,
) -> Result<u8, u8> {
    interrupts.forget().await;
    printer.display.restart_clock();
    let summary = tokio::select! {
        biased;
        summary = run_script(session, printer, input, "", true) => Some(summary),
        () = interrupts.next() => None,
    };
    let changes = lanyard_sql::parse_script(input)
        .statements
        .iter()
        .any(|s| !matches!(s.statement.kind().split(' ').next(), Some("SHOW" | "DESCRIBE" | "TEST")));
    if let Some(helper) = editor.helper().filter(|_| changes || summary.is_none()) {
        helper.names.invalidate(session.database());
    }
    let Some(summary) = summary else {
        eprintln!(
            "interrupted: stopped waiting for the server; what the statement asked for may have been done all the \
             same (check with SHOW or DESCRIBE)"
        );
        return Ok(EXIT_STATEMENT);
    };
    if summary.environment_error { Err(exit_code(&summary)) } else { Ok(exit_code(&summary)) }
}

/// Ctrl-C while a statement runs. (While a line is edited the terminal is in raw mode and the line editor reads
/// Ctrl-C as a key.) Once this is set up, SIGINT no longer ends the process: a Ctrl-C meant for the pager leaves the
/// shell alone.
struct Interrupts {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn new() -> Self {
        #[cfg(unix)]
        {
            Self { signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok() }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Forgets a Ctrl-C that came while no statement ran (one pressed in the pager), so that it does not interrupt
    /// the next statement.
    async fn forget(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal {
            tokio::select! {
                biased;
                _ = signal.recv() => {}
                () = std::future::ready(()) => {}
            }
        }
    }

    /// The next Ctrl-C.
    async fn next(&mut self) {
        #[cfg(unix)]
        match &mut self.signal {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In the middle of a statement, a line that starts with `\` is a command only if it is one and the statement is
    /// not inside an open literal: a pasted line of escaped JSON is the statement's text, not an invalid command
    /// echoed to the terminal and kept in history.
    #[test]
    fn a_line_of_escaped_json_inside_a_statement_is_text_not_a_command() {
        let pasted = r#"  \"aws_secret_access_key\":\"canary-shell-9d2e\"}";"#;
        assert!(command_at(pasted, "CREATE LINK l AS S3 CREDENTIALS \"{\n").is_none());
        assert!(command_at(pasted, "CREATE LINK l AS S3\n").is_none(), "not a command that exists");
        assert!(command_at("\\x", "CREATE LINK l AS S3 CREDENTIALS \"{\n").is_none(), "inside a literal");
        assert_eq!(command_at("\\x", "CREATE LINK l AS S3\n"), Some(Ok(Meta::Expanded(None))));
        assert!(command_at(pasted, "").is_some_and(|c| c.is_err()), "alone, it is an invalid command");
    }

    #[test]
    fn history_lines_never_hold_secrets() {
        assert_eq!(
            history_line("CREATE CREDENTIAL c TYPE = CREDENTIAL\n  SECRET 'hunter2';"),
            "CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET '***';"
        );
        assert_eq!(
            history_line("ALTER CREDENTIAL c SET SECRET 'hunter2' oops;"),
            "ALTER CREDENTIAL c SET SECRET '***' oops;"
        );
    }

    #[test]
    fn statements_are_complete_at_a_semicolon_outside_literals() {
        assert!(is_complete("SHOW CONNECTIONS;\n"));
        assert!(!is_complete("SHOW CONNECTIONS\n"));
        assert!(!is_complete("CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET 'a;\n"));
        // A statement with a syntax error is complete: it runs and reports the error.
        assert!(is_complete("SHOW NONSENSE;"));
    }

    #[test]
    fn a_backslash_g_ends_a_statement_and_stays_in_the_history() {
        assert!(is_complete("SHOW CREATE LINK analytics_link \\G\n"));
        assert!(is_complete("SHOW LINKS\\g"));
        assert!(!is_complete("ALTER LINK l SET CREDENTIALS ::k = 'a \\G\n"));
        assert_eq!(
            history_line("ALTER LINK l\n  SET CREDENTIALS ::k = 'hunter2';\nSHOW CREATE LINK l \\G"),
            "ALTER LINK l SET CREDENTIALS ::k = '***'; SHOW CREATE LINK l \\G"
        );
    }

    #[test]
    fn backslash_commands_are_settings_or_the_statements_they_stand_for() {
        let run = |sql: &str| Some(Ok(Meta::Run(sql.to_owned())));
        assert_eq!(meta("\\d"), run("SHOW CONNECTIONS;"));
        assert_eq!(meta("  \\d prod_pg;"), run("DESCRIBE CONNECTION prod_pg;"));
        assert_eq!(meta("\\dv"), run("SHOW VAULTS;"));
        assert_eq!(meta("\\dv pg_login"), run("DESCRIBE VAULT pg_login;"));
        assert_eq!(meta("\\ds local"), run("DESCRIBE CREDENTIAL STORAGE local;"));
        assert_eq!(meta("\\dl db1.events"), run("DESCRIBE LINK db1.events;"));
        assert_eq!(meta("\\dp p"), run("SHOW FILES FOR PIPELINE p;"));
        assert_eq!(meta("\\l"), run("SHOW DATABASES;"));
        assert_eq!(meta("\\c analytics"), run("USE analytics;"));
        assert_eq!(meta("\\x"), Some(Ok(Meta::Expanded(None))));
        assert_eq!(meta("\\x ON"), Some(Ok(Meta::Expanded(Some(true)))));
        assert_eq!(meta("\\timing off"), Some(Ok(Meta::Timing(Some(false)))));
        assert_eq!(meta("\\pager"), Some(Ok(Meta::Pager(None))));
        assert_eq!(meta("\\q"), Some(Ok(Meta::Quit)));
        assert_eq!(meta("\\?"), Some(Ok(Meta::Help)));
        // `\G` and `\g` end statements; SQL is not a command.
        assert_eq!(meta("\\G"), None);
        assert_eq!(meta("\\g"), None);
        assert_eq!(meta("SHOW CONNECTIONS;"), None);
        // What is wrong is said.
        assert_eq!(meta("\\x maybe"), Some(Err("\\x takes on or off".to_owned())));
        assert_eq!(meta("\\l x"), Some(Err("\\l takes no argument".to_owned())));
        assert_eq!(meta("\\c"), Some(Err("\\c takes a database: \\c db".to_owned())));
        assert_eq!(meta("\\zz"), Some(Err("invalid command \\zz; \\? lists the shell's commands".to_owned())));
        // A line that is not a command is never echoed past the command's own word.
        let pasted = r#"\"aws_secret_access_key\":\"canary-shell-9d2e\"}";"#;
        assert_eq!(meta(pasted), Some(Err("invalid command \\; \\? lists the shell's commands".to_owned())));
        let long = format!("\\{}", "a".repeat(40));
        assert!(meta(&long).unwrap().unwrap_err().starts_with(&format!("invalid command \\{};", "a".repeat(15))));
    }

    #[test]
    fn every_command_in_the_help_works_and_every_shortcut_runs_sql_that_parses() {
        let help = help();
        for command in META {
            assert!(help.contains(&format!("  {}", command.synopsis())), "{} is not in the help", command.name);
            let argument = match command.args {
                "[name]" | "db" => " some_name",
                _ => "",
            };
            match meta(&format!("{}{argument}", command.name)) {
                Some(Ok(Meta::Run(sql))) => {
                    lanyard_sql::parse_one(&sql).unwrap_or_else(|e| panic!("{}: {sql}: {e}", command.name));
                }
                Some(Ok(_)) => {}
                other => panic!("{} is not understood: {other:?}", command.name),
            }
        }
        // And every statement kind is in the help.
        for kind in lanyard_sql::Statement::KINDS {
            let words: Vec<&str> = kind.split(' ').collect();
            let last = words.last().unwrap();
            assert!(help.contains(last), "{kind} is not in the help");
        }
    }
}
