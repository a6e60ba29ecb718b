//! `lanyard-doubles azure`, run as a real process: what it prints is what `docs/backends.md` shows (up to the parts
//! the document elides with `…` and the values that change every run: ports, ids, secrets, temporary paths), and the
//! double it starts answers on the URL it printed.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

/// Replaces every run of four or more lowercase hex digits (ports, uuids, versions, secrets, temporary names) by `#`,
/// so that a document written on one run matches the output of another.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 4 {
            out.push('#');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || ('a'..='f').contains(&c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[test]
fn lanyard_doubles_azure_prints_what_the_backends_manual_shows_and_serves_it() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanyard-doubles"))
        .arg("azure")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start lanyard-doubles");
    let mut printed = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.expect("read lanyard-doubles' output");
        let last = line.starts_with("Serving until");
        printed.push_str(&line);
        printed.push('\n');
        if last {
            break;
        }
    }
    assert!(printed.contains("Serving until Ctrl-C"), "lanyard-doubles stopped early:\n{printed}");

    // The double answers where it says it listens: an unauthenticated request gets Key Vault's challenge.
    let url = printed.lines().next().and_then(|line| line.rsplit_once(' ')).map(|(_, url)| url.to_owned()).unwrap();
    let ca = printed.lines().find_map(|line| line.trim().strip_prefix("CA certificate")).unwrap().trim().to_owned();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("the printed CA file exists")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = runtime.block_on(async {
        let client = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
        client.get(format!("{url}/secrets/x?api-version=2025-07-01")).send().await.unwrap().status()
    });
    assert_eq!(status.as_u16(), 401, "the double's challenge");

    // Closing its input stops it.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());

    // The manual's transcript: each of its lines, split at `…`, appears in the output in order.
    let manual = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/backends.md")).unwrap();
    let block = manual
        .split("```text\n$ cargo run -p lanyard-testsupport --bin lanyard-doubles -- azure\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/backends.md shows a run of lanyard-doubles azure");
    let output = normalize(&printed);
    let mut at = 0;
    for line in block.lines().filter(|line| !line.trim().is_empty()) {
        for fragment in line.split('…').map(normalize).filter(|fragment| !fragment.trim().is_empty()) {
            let found = output[at..].find(fragment.trim()).unwrap_or_else(|| {
                panic!("docs/backends.md shows {fragment:?} (in {line:?}), which lanyard-doubles does not print here:\n{printed}")
            });
            at += found + fragment.trim().len();
        }
    }
}
