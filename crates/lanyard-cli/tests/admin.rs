//! End to end: `lanyard admin gc` and `lanyard audit`, the real binary beside a real `lanyard serve`.
//!
//! gc: material written straight into the local vault (as a failed undo would leave it) is listed, kept without
//! `--delete` and while younger than `--min-age`, deleted with `--delete --min-age 0`, every removal audited as
//! `local-admin`; the material the catalog points at (an entry, a link's owned CREDENTIALS) is never touched.
//! audit: the filters (`--since`, `--object [KIND/]NAME`, `--limit`, `--after`), the formats and the exit codes.

use std::path::Path;
use std::process::Command;

use lanyard_core::{BackendId, SecretString, VaultEntryId};
use lanyard_testsupport::{SqlCli, run_client};
use lanyard_vault::{Profile, SecretRef, SecretValue, VaultBackend};
use lanyard_vault_local::{LocalVault, LocalVaultSettings, MasterKeySource};
use serde_json::Value;

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");
const CANARY: &str = "CANARY-gc-4e1f7a";

/// The local vault of a server's data directory, opened as `lanyard admin rotate-master-key` opens it.
async fn local_vault(data_dir: &Path) -> LocalVault {
    let catalog = format!("sqlite://{}", data_dir.join("catalog.db").display());
    let source = MasterKeySource::from_process_env(Some(data_dir)).unwrap();
    LocalVault::open(&catalog, source, LocalVaultSettings::default()).await.unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// `lanyard admin gc --data-dir <server's> --format json <args…>`: its exit code, its result object and stderr.
fn gc(env: &SqlCli, args: &[&str]) -> (i32, Value, String) {
    let mut command = env.command();
    command.args(["admin", "gc", "--format", "json", "--data-dir"]).arg(env.server.data_dir()).args(args);
    let run = env.run(command, None);
    let result = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    (run.code, result, run.stderr)
}

/// The `status` of each row by `key`.
fn statuses(result: &Value) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["key"].as_str().unwrap().to_owned(), row["status"].as_str().unwrap().to_owned()))
        .collect();
    rows.sort();
    rows
}

/// `lanyard audit --server <url> <args…>` with the admin token.
fn audit(env: &SqlCli, args: &[&str]) -> (i32, String, String) {
    let mut command = env.command();
    command.arg("audit").arg("--server").arg(env.server.url()).args(args);
    command.env("LANYARD_TOKEN", env.server.admin_token());
    let run = env.run(command, None);
    (run.code, run.stdout, run.stderr)
}

/// The rows of `lanyard audit --format json`.
fn audit_rows(env: &SqlCli, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = audit(env, &all);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    result["rows"].as_array().unwrap().clone()
}

#[test]
fn gc_lists_orphaned_material_and_deletes_it_only_when_asked() {
    let env = SqlCli::start(Path::new(LANYARD), "gc-home");
    let setup = format!(
        "CREATE VAULT kept TYPE = CREDENTIAL SECRET '{CANARY}-kept';
         CREATE LINK l AS S3 CONFIG '{{\"region\":\"us-east-1\"}}' CREDENTIALS '{{\"aws_access_key_id\":\"AKIA\",\"aws_secret_access_key\":\"{CANARY}-link\"}}';"
    );
    let run = env.sql(&[&setup], None);
    assert_eq!(run.code, 0, "{run:?}");

    // Orphans, as a failed undo or a failed delete after a commit leaves them: an entry's and a storage's profile.
    let orphan_entry = Profile::Entry(VaultEntryId::new_random());
    let orphan_backend = Profile::Backend(BackendId::new_random());
    let rt = runtime();
    let vault = rt.block_on(local_vault(env.server.data_dir()));
    let referenced = rt.block_on(async {
        let referenced = vault.list().await.unwrap();
        for profile in [orphan_entry, orphan_backend] {
            let value = SecretValue::from_text(&SecretString::new(format!("{CANARY}-orphan")));
            vault.put(&profile, &value).await.unwrap();
        }
        referenced
    });
    // The entry and the link's owned CREDENTIALS.
    assert_eq!(referenced.len(), 2, "{referenced:?}");
    let orphans = {
        let mut keys = vec![orphan_entry.to_string(), orphan_backend.to_string()];
        keys.sort();
        keys
    };

    // Listed, not deleted.
    let (code, result, stderr) = gc(&env, &[]);
    assert_eq!(code, 0, "{result}\n{stderr}");
    assert_eq!(
        result["columns"],
        serde_json::json!(["storage", "backend", "kind", "key", "size", "updated_at", "status"])
    );
    assert_eq!(statuses(&result), orphans.iter().map(|k| (k.clone(), "orphaned".to_owned())).collect::<Vec<_>>());
    let row = &result["rows"].as_array().unwrap()[0];
    assert_eq!(row["storage"], "local");
    assert_eq!(row["backend"], "local");
    assert_eq!(row["size"], format!("{CANARY}-orphan").len());
    assert!(row["updated_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{row}");
    let message = result["message"].as_str().unwrap();
    assert!(
        message.starts_with("2 orphaned profiles in 1 of 1 credential storage (2 referenced, left alone)"),
        "{message}"
    );
    assert!(message.contains("run again with --delete"), "{message}");
    assert_eq!(stderr, "", "in JSON the status line is the object's message");
    let after_listing = rt.block_on(vault.list()).unwrap();
    assert_eq!(after_listing.len(), 4, "{after_listing:?}");

    // --delete keeps what was written less than --min-age (default 1h) ago: it may belong to a change in flight.
    let (code, result, _) = gc(&env, &["--delete"]);
    assert_eq!(code, 0, "{result}");
    for (_, status) in statuses(&result) {
        assert_eq!(status, "kept: written less than --min-age ago");
    }
    assert_eq!(rt.block_on(vault.list()).unwrap().len(), 4);

    // --delete --min-age 0 removes the orphans and nothing else.
    let (code, result, _) = gc(&env, &["--delete", "--min-age", "0"]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(statuses(&result), orphans.iter().map(|k| (k.clone(), "deleted".to_owned())).collect::<Vec<_>>());
    let left = rt.block_on(vault.list()).unwrap();
    assert_eq!(left, referenced);
    for profile in &left {
        rt.block_on(vault.get(&SecretRef::Profile(*profile))).unwrap();
    }
    // The entry still works through the server.
    assert_eq!(env.describe("VAULT", "kept")["name"], "kept");

    // A second run finds nothing.
    let (code, result, _) = gc(&env, &["--delete", "--min-age", "0"]);
    assert_eq!(code, 0);
    assert_eq!(result["rows"], serde_json::json!([]));
    assert!(result["message"].as_str().unwrap().starts_with("0 orphaned profiles"), "{result}");

    // Each removal is audited as local-admin, about the storage, naming the profile (never the material).
    let records = audit_rows(&env, &["--object", "storage/local"]);
    let gc_records: Vec<&Value> = records.iter().filter(|r| r["action"] == "credential_storage.gc").collect();
    assert_eq!(gc_records.len(), 2, "{records:?}");
    let mut audited: Vec<String> = gc_records
        .iter()
        .map(|r| {
            assert_eq!(r["principal"], "local-admin");
            assert_eq!(r["outcome"], "allowed");
            assert_eq!(r["object_name"], "local");
            let detail: Value = serde_json::from_str(r["detail"].as_str().unwrap()).unwrap();
            detail["profile"].as_str().unwrap().to_owned()
        })
        .collect();
    audited.sort();
    assert_eq!(audited, orphans);
    rt.block_on(vault.close());
    env.assert_no_canary(CANARY);
}

#[test]
fn gc_needs_an_existing_catalog() {
    let dir = lanyard_testsupport::TempDir::new("gc-empty");
    let mut command = Command::new(LANYARD);
    command.args(["admin", "gc", "--data-dir"]).arg(dir.join("nothing"));
    let out = run_client(command, dir.path(), b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("no catalog in"), "{stderr}");
}

#[test]
fn audit_reads_the_log_through_the_api_with_filters() {
    let env = SqlCli::start(Path::new(LANYARD), "audit-home");
    let run = env.sql(
        &["CREATE CONNECTION twin TYPE = rest OPTIONS (endpoint = 'http://127.0.0.1:9/');
           CREATE VAULT twin TYPE = CREDENTIAL SECRET 'CANARY-audit-1';
           ALTER CONNECTION twin SET DESCRIPTION = 'second change';"],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");

    // By name: both objects called twin; by kind and name: one of them.
    let both = audit_rows(&env, &["--object", "twin"]);
    let actions: Vec<&str> = both.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["connection.create", "vault_entry.create", "connection.alter"]);
    let connection = audit_rows(&env, &["--object", "connection/twin"]);
    let actions: Vec<&str> = connection.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["connection.create", "connection.alter"]);
    let entry = audit_rows(&env, &["--object", "vault/twin"]);
    assert_eq!(entry.len(), 1);
    assert_eq!(entry[0]["object_kind"], "vault entry");

    // --limit keeps the newest, oldest first; --after pages forward from a seq.
    let newest = audit_rows(&env, &["--object", "twin", "--limit", "1"]);
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0]["action"], "connection.alter");
    let first_seq = both[0]["seq"].as_i64().unwrap().to_string();
    let after = audit_rows(&env, &["--object", "twin", "--after", &first_seq]);
    assert_eq!(after.len(), 2);
    assert_eq!(after[0]["action"], "vault_entry.create");

    // --since: a duration back from now or a time.
    assert_eq!(audit_rows(&env, &["--object", "twin", "--since", "1h"]).len(), 3);
    assert_eq!(audit_rows(&env, &["--object", "twin", "--since", "2999-01-01"]).len(), 0);

    // Table and CSV come from the renderers of `lanyard sql`.
    let (code, table, _) = audit(&env, &["--object", "connection/twin"]);
    assert_eq!(code, 0);
    assert!(table.starts_with("| seq "), "{table}");
    assert!(table.contains("| connection.alter "), "{table}");
    assert!(table.contains("\n2 audit records\n"), "{table}");
    let (code, csv, stderr) = audit(&env, &["--object", "connection/twin", "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(csv.starts_with("seq,at,principal,action,object_kind,object_name,object_id,outcome,detail\n"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert_eq!(stderr, "2 audit records\n");

    // A bad --since is a command-line error.
    let (code, _, stderr) = audit(&env, &["--since", "yesterday"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is neither a time nor a duration"), "{stderr}");
    env.assert_no_canary("CANARY-audit-1");
}

#[test]
fn audit_exits_3_when_the_server_is_unreachable_or_refuses_the_token() {
    let env = SqlCli::start(Path::new(LANYARD), "audit-env");
    let mut command = env.command();
    command.args(["audit", "--server", env.server.url(), "--token", "lyd_not-a-token"]);
    let run = env.run(command, None);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("hint: pass --token"), "{run:?}");

    let port = lanyard_testsupport::free_port();
    let mut command = env.command();
    command.args(["audit", "--server", &format!("http://127.0.0.1:{port}"), "--token", "x"]);
    let run = env.run(command, None);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("cannot reach"), "{run:?}");
}
