//! `lanyard check` and `lanyard fmt`: the commands that need no server.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use lanyard_sql::{SpannedStatement, ToSql};

/// Reads a script from a file, or from standard input for `-`. A UTF-8 byte-order mark, as some editors write, is
/// dropped.
pub(crate) fn read_script(path: &str) -> anyhow::Result<String> {
    let text = if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read standard input")?;
        text
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path:?}"))?
    };
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// `lanyard check FILE...`: exit 0 when every file parses, 1 when any error was found, 2 when a file is unreadable.
pub(crate) fn check(files: &[String]) -> anyhow::Result<ExitCode> {
    let mut statements = 0;
    let mut errors = 0;
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for file in files {
        let text = read_script(file)?;
        let script = lanyard_sql::parse_script(&text);
        statements += script.statements.len();
        let origin = if file == "-" { "<stdin>" } else { file.as_str() };
        for error in &script.errors {
            errors += 1;
            writeln!(err, "{}", error.render(origin))?;
        }
    }
    if errors == 0 {
        println!("{statements} statement{} OK", if statements == 1 { "" } else { "s" });
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            err,
            "{errors} error{} ({statements} statement{} OK)",
            if errors == 1 { "" } else { "s" },
            if statements == 1 { "" } else { "s" }
        )?;
        Ok(ExitCode::from(1))
    }
}

/// `lanyard fmt [FILE]`: canonical SQL on stdout; errors as in `check` and exit 1.
pub(crate) fn fmt(file: Option<&str>, keep_secrets: bool) -> anyhow::Result<ExitCode> {
    let path = file.unwrap_or("-");
    let text = read_script(path)?;
    let script = lanyard_sql::parse_script(&text);
    if !script.errors.is_empty() {
        let origin = if path == "-" { "<stdin>" } else { path };
        for error in &script.errors {
            eprintln!("{}", error.render(origin));
        }
        return Ok(ExitCode::from(1));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for statement in &script.statements {
        let sql = if keep_secrets { statement.statement.to_sql_unredacted() } else { statement.statement.to_string() };
        writeln!(out, "{sql}{}", terminator(statement))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How a statement ends when printed back: ` \G` when it asked for vertical output (so the script keeps printing
/// the same way), otherwise `;`.
fn terminator(statement: &SpannedStatement) -> &'static str {
    if statement.vertical { " \\G" } else { ";" }
}

/// A statement as canonical SQL, secrets redacted, with its terminator.
pub(crate) fn terminated(statement: &SpannedStatement) -> String {
    format!("{}{}", statement.statement, terminator(statement))
}
