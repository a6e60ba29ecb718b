//! `lanyard-doubles azure` and `lanyard-doubles gcp`, run as real processes: what each prints is what
//! `docs/backends.md` shows (up to the parts the document elides with `…` and the values that change every run: ports,
//! ids, secrets, temporary paths), and the double it starts answers on the URL it printed.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

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

/// Starts `lanyard-doubles <kind>` and reads what it prints up to "Serving until …".
fn start_doubles(kind: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanyard-doubles"))
        .arg(kind)
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
    (child, printed)
}

/// Closing its input stops it.
fn stop_doubles(mut child: Child) {
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

/// The manual's transcript of `lanyard-doubles <kind>`: each of its lines, split at `…`, appears in the output in
/// order.
fn assert_the_manual_shows(kind: &str, printed: &str) {
    let manual = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/backends.md")).unwrap();
    let block = manual
        .split(&format!("```text\n$ cargo run -p lanyard-testsupport --bin lanyard-doubles -- {kind}\n"))
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("docs/backends.md shows a run of lanyard-doubles {kind}"));
    let output = normalize(printed);
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

/// The value printed after `label` on a line of its own (`  label   value   (remark)`).
fn printed_value(printed: &str, label: &str) -> String {
    let line = printed.lines().find_map(|line| line.trim().strip_prefix(label)).unwrap_or_else(|| panic!("no {label}"));
    line.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn lanyard_doubles_azure_prints_what_the_backends_manual_shows_and_serves_it() {
    let (child, printed) = start_doubles("azure");

    // The double answers where it says it listens: an unauthenticated request gets Key Vault's challenge.
    let url = printed.lines().next().and_then(|line| line.rsplit_once(' ')).map(|(_, url)| url.to_owned()).unwrap();
    let ca = printed_value(&printed, "CA certificate");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("the printed CA file exists")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = runtime.block_on(async {
        let client = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
        client.get(format!("{url}/secrets/x?api-version=2025-07-01")).send().await.unwrap().status()
    });
    assert_eq!(status.as_u16(), 401, "the double's challenge");

    stop_doubles(child);
    assert_the_manual_shows("azure", &printed);
}

/// The lines of the shell recipe `lanyard-doubles gcp` prints: from `b64() …` to the end of the last `curl`.
fn gcp_recipe(printed: &str) -> String {
    let start = printed.find("  b64()").expect("the recipe starts with b64()");
    let end = printed[start..].find("\n\n").map_or(printed.len(), |end| start + end);
    printed[start..end].to_owned()
}

#[test]
fn lanyard_doubles_gcp_prints_what_the_backends_manual_shows_and_its_recipe_works() {
    let (child, printed) = start_doubles("gcp");

    // The key file it names is the service account's, readable by its owner only.
    let key_file = printed_value(&printed, "key file");
    let key: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    assert_eq!(key["client_email"].as_str(), Some(printed_value(&printed, "client email").as_str()));
    assert_eq!(key["token_uri"].as_str(), Some(printed_value(&printed, "token URI").as_str()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // Without a token: Google's 401.
    let url = printed_value(&printed, "endpoint");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = runtime.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        client.get(format!("{url}/v1/projects/lanyard-test/secrets")).send().await.unwrap().status()
    });
    assert_eq!(status.as_u16(), 401);

    // The recipe, run by bash as printed: a JWT signed by openssl gets a token, the secret and its version are made.
    for tool in ["bash", "openssl", "jq", "curl", "base64"] {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().unwrap().status.success();
        assert!(found, "the printed recipe needs {tool}, which is not on PATH: install it (apt-get install {tool})");
    }
    let recipe = gcp_recipe(&printed);
    let run = Command::new("bash").arg("-c").arg(&recipe).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{recipe}\n{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        stdout.contains(r#""name":"projects/123456789012/secrets/demo-login/versions/1""#)
            && stdout.contains(r#""state":"ENABLED""#),
        "the recipe did not add a version:\n{recipe}\n{stdout}"
    );

    stop_doubles(child);
    assert_the_manual_shows("gcp", &printed);
}
