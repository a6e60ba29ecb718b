//! The interactive shell of `lanyard sql` driven through a pseudo-terminal (rexpect), so that the real line editor
//! runs as it does for a person: `\G` and `\x` print vertically, `\timing` prints psql's `Time: … ms`, TAB completes
//! a connection name fetched from the server, `\d` runs SHOW / DESCRIBE CONNECTION, a result taller than the
//! terminal goes through `$PAGER` (and never when stdout is a pipe), and with no server the shell says so and exits 3.
//!
//! Each test waits for what the shell prints (generous timeouts), never for time to pass; times are checked for
//! their shape only.

use std::path::Path;
use std::process::Command;

use lanyard_testsupport::{SqlCli, TempDir, fenced_blocks};
use rexpect::process::WaitStatus;
use rexpect::session::{Options, PtySession, spawn_with_options};

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// How long one expectation may wait (a slow build machine; nothing waits this long when things work).
const TIMEOUT_MS: u64 = 60_000;

/// The prompt in the `default` database.
const PROMPT: &str = "lanyard:default> ";

/// A server and a CLI home of this test's own.
fn start() -> SqlCli {
    SqlCli::start(Path::new(LANYARD), "shell-home")
}

/// `lanyard sql --server <url> <args…>` in a pseudo-terminal `rows` rows high, with the environment `run_client`
/// gives the piped runs (the CLI's home, its history file) plus the admin token, `TERM=xterm` (the line editor
/// refuses a dumb terminal) and `PAGER` (`cat` unless given).
fn spawn(env: &SqlCli, rows: u16, pager: Option<&str>, args: &[&str]) -> PtySession {
    let mut command = Command::new("sh");
    // `stty` sets the terminal's size before the shell reads it; then `exec` replaces `sh` by `lanyard`.
    command.arg("-c").arg(format!("stty rows {rows} cols 120 && exec \"$@\"")).arg("sh").arg(LANYARD);
    command.args(["sql", "--server", env.server.url()]).args(args);
    let home = env.home.path();
    command
        .env("HOME", home)
        .env("LANYARD_HISTORY", env.history())
        .env("LANYARD_TOKEN", env.server.admin_token())
        .env("TERM", "xterm")
        .env("PAGER", pager.unwrap_or("cat"))
        .env_remove("LANYARD_SERVER")
        .env_remove("RUST_LOG")
        .current_dir(home);
    let options = Options::new().timeout_ms(Some(TIMEOUT_MS)).strip_ansi_escape_codes(true);
    spawn_with_options(command, options).expect("lanyard sql starts in a pseudo-terminal")
}

/// The shell, once it shows its first prompt.
fn shell(env: &SqlCli, rows: u16, pager: Option<&str>) -> PtySession {
    let mut session = spawn(env, rows, pager, &[]);
    expect(&mut session, PROMPT);
    session
}

/// Waits for `needle`; returns what came before it. Fails with what was seen so far.
fn expect(session: &mut PtySession, needle: &str) -> String {
    session.exp_string(needle).unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}"))
}

/// Waits for the regular expression `pattern`; returns (what came before, the match).
fn expect_regex(session: &mut PtySession, pattern: &str) -> (String, String) {
    session.exp_regex(pattern).unwrap_or_else(|e| panic!("waiting for /{pattern}/: {e}"))
}

/// Types `line` and Enter.
fn type_line(session: &mut PtySession, line: &str) {
    session.send_line(line).expect("the terminal takes input");
}

/// Types `quit` and waits for the shell to end with exit code 0.
fn quit(mut session: PtySession) {
    type_line(&mut session, "quit");
    session.exp_eof().expect("the shell ends");
    match session.process().wait() {
        Ok(WaitStatus::Exited(_, code)) => assert_eq!(code, 0, "exit code after quit"),
        other => panic!("the shell did not exit normally: {other:?}"),
    }
}

/// The vertical form's row header.
fn row_header(n: usize) -> String {
    let stars = r"\*".repeat(27);
    format!(r"{stars} {n}\. row {stars}")
}

#[test]
fn g_and_x_print_vertically_and_timing_prints_the_time_of_each_statement() {
    let env = start();
    env.ok("CREATE CONNECTION shop_orders TYPE = postgresql OPTIONS (host = 'db.example.com')");
    let mut shell = shell(&env, 40, None);

    // `\G` ends a statement and prints it vertically, the column names right-aligned.
    type_line(&mut shell, "SHOW CONNECTIONS \\G");
    expect_regex(&mut shell, &format!(r"{}\r?\n +name: shop_orders\r?\n +type: postgresql", row_header(1)));
    expect(&mut shell, PROMPT);

    // `\x` makes every result vertical until `\x off`, as psql's does.
    type_line(&mut shell, "\\x");
    expect(&mut shell, "Expanded display is on.");
    expect(&mut shell, PROMPT);
    type_line(&mut shell, "SHOW CONNECTIONS;");
    expect_regex(&mut shell, &format!(r"{}\r?\n +name: shop_orders", row_header(1)));
    expect(&mut shell, PROMPT);
    type_line(&mut shell, "\\x off");
    expect(&mut shell, "Expanded display is off.");
    expect(&mut shell, PROMPT);
    type_line(&mut shell, "SHOW CONNECTIONS;");
    let table = expect(&mut shell, PROMPT);
    assert!(table.contains("| shop_orders "), "a table again: {table}");
    assert!(!table.contains(" 1. row "), "{table}");

    // `\timing` prints psql's line after every statement, failed ones included; the number is not checked.
    type_line(&mut shell, "\\timing");
    expect(&mut shell, "Timing is on.");
    expect(&mut shell, PROMPT);
    type_line(&mut shell, "SHOW DATABASES; DESCRIBE CONNECTION nowhere;");
    expect_regex(&mut shell, r"1 database[^\r\n]*\r?\n\r?\nTime: \d+\.\d{3} ms\r?\n");
    expect(&mut shell, "connection \"nowhere\" does not exist");
    expect_regex(&mut shell, r"Time: \d+\.\d{3} ms");
    expect(&mut shell, PROMPT);
    type_line(&mut shell, "\\timing off");
    expect(&mut shell, "Timing is off.");
    expect(&mut shell, PROMPT);
    type_line(&mut shell, "SHOW DATABASES;");
    let untimed = expect(&mut shell, PROMPT);
    assert!(!untimed.contains("Time:"), "{untimed}");
    quit(shell);
}

#[test]
fn tab_completes_a_connection_name_and_backslash_d_runs_show_and_describe() {
    let env = start();
    env.ok("CREATE CONNECTION shop_orders TYPE = postgresql OPTIONS (host = 'db.example.com')");
    env.ok("CREATE CONNECTION warehouse TYPE = kafka OPTIONS ()");
    let mut shell = shell(&env, 40, None);

    // A prefix and TAB: the name comes from the server; `;` and Enter run the completed statement.
    shell.send("DESCRIBE CONNECTION sho\t").expect("typing");
    shell.flush().expect("typing");
    expect(&mut shell, "shop_orders");
    type_line(&mut shell, ";");
    let described = expect(&mut shell, PROMPT);
    assert!(described.contains("| name "), "{described}");
    assert!(described.contains("| shop_orders "), "{described}");
    assert!(!described.contains("does not exist"), "the completed name was sent: {described}");

    // A name created in the shell is completed too: the cache is refreshed after a statement that changes objects.
    type_line(&mut shell, "CREATE CONNECTION warm_spare TYPE = kafka OPTIONS ();");
    expect(&mut shell, "connection \"warm_spare\" created");
    expect(&mut shell, PROMPT);
    shell.send("TEST CONNECTION warm_\t").expect("typing");
    shell.flush().expect("typing");
    expect(&mut shell, "warm_spare");
    type_line(&mut shell, ";");
    let tested = expect(&mut shell, PROMPT);
    assert!(!tested.contains("does not exist"), "{tested}");

    // `\d` is SHOW CONNECTIONS, `\d name` DESCRIBE CONNECTION name: the same output as typing them.
    type_line(&mut shell, "\\d");
    let listed = expect(&mut shell, PROMPT);
    for name in ["shop_orders", "warehouse", "warm_spare"] {
        assert!(listed.contains(&format!("| {name} ")), "{name}: {listed}");
    }
    assert!(listed.contains("3 connections"), "{listed}");
    type_line(&mut shell, "\\d warehouse");
    let shortcut = expect(&mut shell, PROMPT);
    assert!(shortcut.contains("| warehouse ") && shortcut.contains("| kafka "), "{shortcut}");
    quit(shell);

    // The history holds the commands as typed and the statements as canonical SQL.
    let history = std::fs::read_to_string(env.history()).unwrap();
    assert!(history.contains("DESCRIBE CONNECTION shop_orders;"), "{history}");
    assert!(history.contains(r"\\d warehouse"), "{history}");
}

#[test]
fn long_results_go_through_the_pager_on_a_terminal_and_never_when_piped() {
    let env = start();
    let creates: String = (1..=12)
        .map(|i| format!("CREATE CONNECTION conn_{i:02} TYPE = kafka OPTIONS ();"))
        .collect::<Vec<_>>()
        .join("\n");
    let setup = env.sql(&[&creates], None);
    assert_eq!(setup.code, 0, "{setup:?}");
    // A stand-in for less: it notes each run, and frames what it was given.
    let script = env.home.join("pager.sh");
    std::fs::write(&script, "echo run >> \"$HOME/pager.log\"\necho PAGER-BEGIN\ncat\necho PAGER-END\n").unwrap();
    let pager = format!("sh {}", script.display());
    let log = env.home.join("pager.log");
    let runs = || std::fs::read_to_string(&log).map_or(0, |text| text.lines().count());

    // A terminal 10 rows high: a short result is printed as it is, a taller one goes through the pager.
    let mut shell = shell(&env, 10, Some(&pager));
    type_line(&mut shell, "SHOW DATABASES;");
    let short = expect(&mut shell, PROMPT);
    assert!(short.contains("| default "), "{short}");
    assert!(!short.contains("PAGER-BEGIN"), "{short}");
    type_line(&mut shell, "SHOW CONNECTIONS;");
    let paged = expect(&mut shell, "PAGER-END");
    let paged = &paged[paged.find("PAGER-BEGIN").expect("the pager ran")..];
    assert!(paged.contains("| conn_01 ") && paged.contains("| conn_12 "), "{paged}");
    assert!(paged.contains("12 connections"), "the status line is paged with its rows: {paged}");
    expect(&mut shell, PROMPT);
    // `\pager off` prints everything directly.
    type_line(&mut shell, "\\pager off");
    expect(&mut shell, "Pager usage is off.");
    expect(&mut shell, PROMPT);
    type_line(&mut shell, "SHOW CONNECTIONS;");
    let direct = expect(&mut shell, PROMPT);
    assert!(direct.contains("| conn_12 ") && !direct.contains("PAGER-BEGIN"), "{direct}");
    quit(shell);
    assert_eq!(runs(), 1, "the pager ran for the tall result only");

    // Piped, the shell never pages, however tall the result.
    let mut piped = env.command();
    piped.args(["sql", "--server", env.server.url(), "--interactive"]);
    piped.env("LANYARD_TOKEN", env.server.admin_token()).env("PAGER", &pager);
    let run = env.run(piped, Some("SHOW CONNECTIONS;\nquit\n"));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("| conn_01 ") && run.stdout.contains("| conn_12 "), "{run:?}");
    assert!(!run.stdout.contains("PAGER-BEGIN"), "{run:?}");
    assert_eq!(runs(), 1, "the pager did not run for piped output");
}

#[test]
fn with_no_server_the_shell_says_so_and_how_to_start_one_and_exits_3() {
    let home = TempDir::new("shell-home");
    let port = lanyard_testsupport::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut command = Command::new("sh");
    command.arg("-c").arg("stty rows 40 cols 200 && exec \"$@\"").arg("sh").arg(LANYARD);
    command.args(["sql", "--server", &url]).env("HOME", home.path()).env("TERM", "xterm").current_dir(home.path());
    command.env("LANYARD_HISTORY", home.join("history")).env_remove("LANYARD_SERVER").env_remove("LANYARD_TOKEN");
    let options = Options::new().timeout_ms(Some(TIMEOUT_MS)).strip_ansi_escape_codes(true);
    let mut shell = spawn_with_options(command, options).expect("lanyard sql starts in a pseudo-terminal");
    let said = shell.exp_eof().expect("the shell ends by itself");
    assert!(said.contains(&format!("error: cannot reach the Lanyard server at {url}")), "{said}");
    assert!(said.contains("hint: no Lanyard server answers at"), "{said}");
    assert!(said.contains("`lanyard serve`") && said.contains("--server URL") && said.contains("--embedded"), "{said}");
    assert!(!said.contains("connected to"), "{said}");
    assert!(!said.contains(PROMPT), "{said}");
    match shell.process().wait() {
        Ok(WaitStatus::Exited(_, code)) => assert_eq!(code, 3, "the documented 'server unreachable' exit code"),
        other => panic!("the shell did not exit normally: {other:?}"),
    }
}

#[test]
fn ctrl_c_stops_waiting_for_a_running_statement_and_the_shell_goes_on() {
    let env = start();
    // A "database" that accepts the connection and never answers: the probe waits until it is interrupted.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    env.ok(&format!(
        "CREATE CONNECTION silent TYPE = postgresql OPTIONS (host = '127.0.0.1', port = '{port}', username = 'u') \
         TIMEOUT = 60"
    ));
    let mut shell = shell(&env, 40, None);
    type_line(&mut shell, "TEST CONNECTION silent;");
    // The server's probe has connected: the statement is running.
    let (_probe, _) = silent.accept().unwrap();
    shell.send_control('c').expect("Ctrl-C");
    expect(&mut shell, "interrupted: stopped waiting for the server");
    expect(&mut shell, PROMPT);
    // The next statement runs to its end: the Ctrl-C is not held against it.
    type_line(&mut shell, "\\d");
    let listed = expect(&mut shell, PROMPT);
    assert!(listed.contains("| silent ") && listed.contains("1 connection"), "{listed}");
    quit(shell);
}

/// docs/cli.md's fenced block that starts with `start`.
fn cli_md_block(start: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    let markdown = std::fs::read_to_string(&path).unwrap();
    let blocks: Vec<String> =
        fenced_blocks(&markdown).into_iter().filter(|b| b.text.starts_with(start)).map(|b| b.text).collect();
    assert_eq!(blocks.len(), 1, "docs/cli.md has one block starting with {start:?}");
    blocks.into_iter().next().unwrap()
}

/// `Time: 12.238 ms` with the number left out.
fn without_times(text: &str) -> String {
    text.lines()
        .map(|line| if line.starts_with("Time: ") && line.ends_with(" ms") { "Time: <n> ms" } else { line })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_session_in_cli_md_is_what_the_shell_prints() {
    let env = start();
    let block = cli_md_block("lanyard:default> CREATE CONNECTION prod_pg");
    // The lines after a prompt are what was typed; the others what the shell printed (the prompts themselves are
    // not printed when stdin is a pipe).
    let mut input = String::new();
    let mut printed = String::new();
    for line in block.lines() {
        match line.strip_prefix(PROMPT) {
            Some(typed) => input.push_str(&format!("{typed}\n")),
            None => printed.push_str(&format!("{line}\n")),
        }
    }
    let run = env.sql(&["--interactive"], Some(&input));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(without_times(&run.stdout), without_times(&printed), "docs/cli.md's session drifted from the shell");
}

#[test]
fn the_no_server_message_in_cli_md_is_what_the_shell_prints() {
    let home = TempDir::new("shell-home");
    let port = lanyard_testsupport::free_port();
    let mut command = Command::new(LANYARD);
    command.args(["sql", "--interactive", "--server", &format!("http://127.0.0.1:{port}")]);
    let output = lanyard_testsupport::run_client(command, home.path(), b"");
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap().replace(&port.to_string(), "7600");
    assert_eq!(
        stderr,
        cli_md_block("error: cannot reach the Lanyard server"),
        "docs/cli.md's no-server message drifted"
    );
}
