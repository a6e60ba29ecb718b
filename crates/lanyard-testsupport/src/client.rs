//! [`run_client`]: the `lanyard` client (`lanyard sql`, `lanyard token`, …) as a process of its own, isolated from
//! the developer's environment.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `command` (a `lanyard` client invocation) in `home`, writes `stdin` to its standard input and closes it,
/// and returns its whole output. `HOME` and the current directory are `home`, the history file is `home/history`,
/// and `LANYARD_SERVER` and `RUST_LOG` are unset, so that nothing of the developer's set-up leaks in.
///
/// # Panics
///
/// When the program cannot be started, or its standard input cannot be written.
pub fn run_client(mut command: Command, home: &Path, stdin: &[u8]) -> Output {
    command
        .env("HOME", home)
        .env("LANYARD_HISTORY", home.join("history"))
        .env_remove("LANYARD_SERVER")
        .env_remove("RUST_LOG")
        .current_dir(home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = command.get_program().to_owned();
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .unwrap_or_else(|e| panic!("cannot write to the standard input of {}: {e}", program.display()));
    child.wait_with_output().unwrap_or_else(|e| panic!("cannot wait for {}: {e}", program.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TempDir;

    #[test]
    fn the_client_runs_in_its_home_without_the_developers_variables() {
        let home = TempDir::new("client-test");
        let mut command = Command::new("sh");
        command
            .args(["-c", r#"cat; echo "|$HOME|$LANYARD_HISTORY|${LANYARD_SERVER-unset}|${RUST_LOG-unset}|$(pwd)|""#]);
        command.env("LANYARD_SERVER", "http://elsewhere").env("RUST_LOG", "trace");
        let output = run_client(command, home.path(), b"from stdin\n");
        assert!(output.status.success());
        let home = home.path().display();
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            format!("from stdin\n|{home}|{home}/history|unset|unset|{home}|\n")
        );
    }
}
