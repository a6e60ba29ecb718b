//! The shell's pager: a result taller than the terminal goes through `$PAGER` (default `less -FRX`), as psql does;
//! never when stdout is not a terminal, so piped output is always plain.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

/// The pager used when `PAGER` is not set: `-F` quits at once when the text fits after all, `-R` keeps colours,
/// `-X` leaves the text on the screen after quitting.
pub(crate) const DEFAULT_PAGER: &str = "less -FRX";

/// A pager command, run through `sh -c` like git and psql run `$PAGER`.
#[derive(Debug)]
pub(crate) struct Pager {
    command: String,
    /// Set once the command could not be run, so the warning is printed once.
    broken: Cell<bool>,
}

impl Pager {
    /// The pager `$PAGER` names, else [`DEFAULT_PAGER`]; `None` when `PAGER` is set but empty (psql's way of saying
    /// "no pager").
    pub(crate) fn from_env() -> Option<Self> {
        let command = match std::env::var("PAGER") {
            Ok(command) if command.trim().is_empty() => return None,
            Ok(command) => command,
            Err(_) => DEFAULT_PAGER.to_owned(),
        };
        Some(Self { command, broken: Cell::new(false) })
    }

    /// The command line.
    pub(crate) fn command(&self) -> &str {
        &self.command
    }

    /// Shows `text` through the pager when stdout is a terminal and `text` does not fit on it (with a line left
    /// for the next prompt). Returns whether it did; when it did not, the caller prints `text` itself.
    pub(crate) fn page(&self, text: &str) -> bool {
        let stdout = std::io::stdout();
        if self.broken.get() || !stdout.is_terminal() {
            return false;
        }
        let Some((terminal_size::Width(width), terminal_size::Height(height))) =
            terminal_size::terminal_size_of(&stdout)
        else {
            return false;
        };
        if screen_rows(text, usize::from(width)) < usize::from(height) {
            return false;
        }
        self.run(text)
    }

    /// Runs the pager on `text` and waits for it. A pager that cannot be run (the shell's 126 and 127 exit codes)
    /// is reported once and the text printed directly.
    fn run(&self, text: &str) -> bool {
        let _ = std::io::stdout().flush();
        let child = Command::new("sh").arg("-c").arg(&self.command).stdin(Stdio::piped()).spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(error) => return self.broke(&error.to_string()),
        };
        if let Some(mut stdin) = child.stdin.take() {
            // The reader may quit before reading everything (`q` in less): a broken pipe is not an error.
            let _ = stdin.write_all(text.as_bytes());
        }
        match child.wait() {
            Ok(status) if matches!(status.code(), Some(126 | 127)) => self.broke(&format!("it exited with {status}")),
            Ok(_) => true,
            Err(error) => self.broke(&error.to_string()),
        }
    }

    fn broke(&self, why: &str) -> bool {
        self.broken.set(true);
        eprintln!(
            "warning: cannot run the pager `{}` ({why}); results are printed directly. Set PAGER, or turn it off \
             with \\pager off",
            self.command
        );
        false
    }
}

/// How many terminal rows `text` takes on a terminal `width` columns wide (a long line wraps).
fn screen_rows(text: &str, width: usize) -> usize {
    let width = width.max(1);
    text.lines().map(|line| line.chars().count().div_ceil(width).max(1)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_wrapped_lines_and_empty_ones() {
        assert_eq!(screen_rows("", 80), 0);
        assert_eq!(screen_rows("a\n\nb\n", 80), 3);
        assert_eq!(screen_rows(&"x".repeat(81), 80), 2);
        assert_eq!(screen_rows(&"x".repeat(80), 80), 1);
        assert_eq!(screen_rows("é\n", 0), 1);
    }
}
