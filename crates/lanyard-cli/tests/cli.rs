//! The `lanyard` binary's offline commands, run as a real process; output is snapshot-tested with `insta`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const CANARY: &str = "CANARY-cli-5d4c3b";

fn lanyard(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lanyard");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A script file in a fresh temporary directory.
fn script(name: &str, body: &str) -> (tempdir::Dir, PathBuf) {
    let dir = tempdir::Dir::new();
    let path = dir.0.join(name);
    std::fs::write(&path, body).unwrap();
    (dir, path)
}

mod tempdir {
    /// A uniquely named directory under the system temp dir, removed on drop.
    pub(crate) struct Dir(pub(crate) std::path::PathBuf);

    impl Dir {
        pub(crate) fn new() -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "lanyard-cli-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn check_reports_ok_count() {
    let out = lanyard(&["check", "-"], Some("SHOW CONNECTIONS; DROP LINK IF EXISTS db.l;\nUSE db"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "3 statements OK\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn check_reports_every_error_with_file_line_col_and_caret() {
    let body = "SHOW CONNECTIONS;\nALTER CONNECTION c;\nCREATE VAULT k TYPE = CREDENTIAL GENERATE SECRET 'CANARY-cli-5d4c3b';\n\
                ALTER LINK l SET CONFIG '{}' SET CONFIG '{}';\nSHOW VAULTS;\n";
    let (_dir, path) = script("broken.sql", body);
    let out = lanyard(&["check", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr).replace(path.to_str().unwrap(), "broken.sql");
    assert!(!stderr.contains(CANARY));
    insta::assert_snapshot!(stderr);
}

#[test]
fn check_ignores_a_byte_order_mark() {
    let out = lanyard(&["check", "-"], Some("\u{feff}SHOW CONNECTIONS;"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1 statement OK\n");
}

#[test]
fn check_accepts_several_files_and_counts_across_them() {
    let (_a, a) = script("a.sql", "SHOW LINKS;");
    let (_b, b) = script("b.sql", "SHOW VAULTS; SHOW PIPELINES;");
    let out = lanyard(&["check", a.to_str().unwrap(), b.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "3 statements OK\n");
}

#[test]
fn check_of_a_missing_file_is_a_usage_error() {
    let out = lanyard(&["check", "/nonexistent/lanyard.sql"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read \"/nonexistent/lanyard.sql\""), "{}", text(&out.stderr));
}

#[test]
fn fmt_prints_canonical_sql_with_secrets_redacted() {
    let input = "create credential pg type credential secret 'CANARY-cli-5d4c3b';\n\
                 alter link l set credentials ::password = \"CANARY-cli-5d4c3b\" set config ::region = 'eu';\n\
                 create connection c type postgresql options (host='h', password='CANARY-cli-5d4c3b') credential pg;";
    let out = lanyard(&["fmt"], Some(input));
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains(CANARY));
    insta::assert_snapshot!(stdout);
}

#[test]
fn fmt_keep_secrets_prints_the_values() {
    let out = lanyard(&["fmt", "--keep-secrets", "-"], Some("ALTER CREDENTIAL pg SET SECRET 'CANARY-cli-5d4c3b'"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "ALTER CREDENTIAL pg SET SECRET 'CANARY-cli-5d4c3b';\n");
}

#[test]
fn check_and_fmt_accept_the_mysql_clients_backslash_g_and_fmt_keeps_it() {
    let input = "ALTER LINK analytics_link\nSET CONFIG ::region = \"us-east-1\";\nSHOW CREATE LINK analytics_link \\G\n\
                 SHOW LINKS\\g TEST LINK l\\G";
    let out = lanyard(&["check", "-"], Some(input));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "4 statements OK\n");
    let out = lanyard(&["fmt"], Some(input));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // `\G` asks for vertical output when the script runs, so it is kept; `\g` is the same as `;`.
    assert_eq!(
        text(&out.stdout),
        "ALTER LINK analytics_link SET CONFIG ::region = 'us-east-1';\nSHOW CREATE LINK analytics_link \\G\n\
         SHOW LINKS;\nTEST LINK l \\G\n"
    );
}

#[test]
fn fmt_of_a_broken_script_prints_errors_and_fails() {
    let out = lanyard(&["fmt"], Some("CREATE VAULT v TYPE = CREDENTIAL SECRET 'CANARY-cli-5d4c3b"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert!(!stderr.contains(CANARY));
    insta::assert_snapshot!(stderr);
}

#[test]
fn the_shipped_tour_script_checks_clean_and_formats_stably() {
    let tour = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/examples/tour.sql");
    let out = lanyard(&["check", tour], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "63 statements OK\n");
    // fmt is idempotent: formatting the formatted (unredacted) script changes nothing.
    let once = lanyard(&["fmt", "--keep-secrets", tour], None);
    assert_eq!(once.status.code(), Some(0), "{}", text(&once.stderr));
    let twice = lanyard(&["fmt", "--keep-secrets"], Some(&text(&once.stdout)));
    assert_eq!(twice.status.code(), Some(0), "{}", text(&twice.stderr));
    assert_eq!(text(&once.stdout), text(&twice.stdout));
}

/// Every subcommand refuses a flag it does not have with clap's usage error (exit 2), and a near miss gets the
/// "a similar argument exists" tip. `lanyard sql --bogus` used to run `--bogus` as a SQL comment and exit 0.
#[test]
fn unknown_flags_are_errors_with_a_suggestion_on_every_subcommand() {
    let cases: &[(&[&str], &str, Option<&str>)] = &[
        (&["--bogus"], "--bogus", None),
        (&["check", "--bogus", "-"], "--bogus", None),
        (&["fmt", "--keep-secret"], "--keep-secret", Some("--keep-secrets")),
        (&["backends", "--bogus"], "--bogus", None),
        (&["sql", "--bogus"], "--bogus", None),
        (&["sql", "--formt", "json", "SHOW VAULTS"], "--formt", Some("--format")),
        (&["sql", "--bogus", "SHOW VAULTS"], "--bogus", None),
        (&["serve", "--listn", "127.0.0.1:0"], "--listn", Some("--listen")),
        (&["apply", "-f", "x.sql", "--plna"], "--plna", Some("--plan")),
        (&["token", "create", "--nam", "x", "--role", "viewer"], "--nam", Some("--name")),
        (&["token", "list", "--data-di", "x"], "--data-di", Some("--data-dir")),
        (&["token", "revoke", "--bogus", "x"], "--bogus", None),
        (&["admin", "rotate-master-key", "--reencrypted"], "--reencrypted", Some("--reencrypt")),
        (&["admin", "gc", "--delet"], "--delet", Some("--delete")),
        (&["audit", "--sinse", "1h"], "--sinse", Some("--since")),
    ];
    for (args, flag, similar) in cases {
        let out = lanyard(args, Some(""));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
        assert!(stderr.contains(&format!("error: unexpected argument '{flag}' found")), "{args:?}: {stderr}");
        if let Some(similar) = similar {
            assert!(stderr.contains(&format!("tip: a similar argument exists: '{similar}'")), "{args:?}: {stderr}");
        }
    }
}

/// SQL that starts with a `--` comment still runs, inline (before or after flags) and after `--`: it is parsed and
/// sent, here to a server that is not there (exit 3, not the usage error's 2).
#[test]
fn sql_starting_with_a_comment_is_read_as_sql() {
    let sql = "-- why\nSHOW VAULTS";
    for args in [
        vec!["sql", "--server", "http://127.0.0.1:9", "--token", "x", sql],
        vec!["sql", sql, "--server", "http://127.0.0.1:9", "--token", "x"],
        vec!["sql", "--server", "http://127.0.0.1:9", "--token", "x", "--", sql],
    ] {
        let out = lanyard(&args, None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains("cannot reach the Lanyard server"), "{args:?}: {stderr}");
    }
}
