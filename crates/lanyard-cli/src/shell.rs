//! The interactive shell of `lanyard sql` (rustyline): multi-line statements ended by `;` (or the MySQL client's
//! `\G`, which prints the result vertically, and `\g`), `USE`, `help`, and a history file that never holds a
//! secret.
//!
//! History: a statement that parses is recorded as its canonical SQL, in which every secret literal is `'***'`;
//! text that does not parse is recorded with every quoted literal hidden. Recalling a redacted statement and
//! running it is refused by the client (a `'***'` secret is a redaction, not a value). The file is
//! `$LANYARD_HISTORY`, else `~/.lanyard_history`, created with mode 0600.

use std::path::PathBuf;

use anyhow::{Context, Result};
use lanyard_client::Session;
use rustyline::error::ReadlineError;
use rustyline::{Config, DefaultEditor};

use crate::sql::{Printer, exit_code, run_script};

/// The help text of the shell.
const HELP: &str = "\
Statements end with `;` and may span lines; ending one with `\\G` instead prints its rows vertically, one line per
column (as the MySQL client does). Ctrl-C clears the current input; Ctrl-D or `quit` leaves.

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
Session       USE db;   help;   quit

The full reference is docs/sql-reference.md; `lanyard check` parses a script without running it.
";

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

/// Runs the shell until Ctrl-D or `quit`. The exit code is that of the last statement run.
pub(crate) async fn run(session: &mut Session, printer: &Printer) -> Result<u8> {
    let config = Config::builder().auto_add_history(false).max_history_size(2000)?.history_ignore_dups(true)?.build();
    let mut editor = DefaultEditor::with_config(config).context("cannot start the line editor")?;
    let history = history_path();
    if let Some(path) = &history {
        prepare_history(path)?;
        // A missing or unreadable history is not worth refusing to start.
        let _ = editor.load_history(path);
    }
    if !printer.quiet {
        eprintln!("lanyard sql: connected to {}. Type `help;` for help, `quit` to leave.", session.client().base_url());
    }
    let mut buffer = String::new();
    let mut last = 0;
    loop {
        let prompt = if buffer.is_empty() {
            format!("lanyard:{}> ", session.database())
        } else {
            format!("{}-> ", " ".repeat(session.database().len() + 7))
        };
        let line = match tokio::task::block_in_place(|| editor.readline(&prompt)) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(error).context("cannot read input"),
        };
        if buffer.is_empty() {
            match line.trim().trim_end_matches(';').trim() {
                "" => continue,
                "quit" | "exit" | "\\q" => break,
                "help" | "\\?" | "\\h" => {
                    print!("{HELP}");
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
        let entry = history_line(&input);
        let _ = editor.add_history_entry(entry.as_str());
        if let Some(path) = &history {
            // Saved after every statement, so a crash or a kill loses nothing.
            let _ = editor.save_history(path);
        }
        let summary = run_script(session, printer, &input, "", true).await;
        last = exit_code(&summary);
        if summary.environment_error {
            break;
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
