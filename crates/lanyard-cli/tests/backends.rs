//! `lanyard backends` and `lanyard admin rotate-master-key`, run as a real process.

use std::path::Path;
use std::process::{Command, Output};

use lanyard_core::{SecretString, VaultEntryId};
use lanyard_vault::{Profile, SecretRef, SecretValue, VaultBackend};
use lanyard_vault_local::{LocalVault, LocalVaultSettings, MasterKeySource};

fn lanyard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args(args)
        .env_remove("LANYARD_MASTER_KEY")
        .env_remove("LANYARD_MASTER_KEY_PREVIOUS")
        .output()
        .expect("run lanyard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn backends_lists_the_compiled_in_kinds_with_their_options_and_the_missing_ones() {
    let output = lanyard(&["backends"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_eq!(stdout.contains("LOCAL (lanyard-vault-local)"), cfg!(feature = "vault-local"), "{stdout}");
    assert_eq!(stdout.contains("MEMORY (lanyard-vault-memory)"), cfg!(feature = "vault-memory"), "{stdout}");
    assert_eq!(stdout.contains("AWS (lanyard-vault-aws)"), cfg!(feature = "vault-aws"), "{stdout}");
    // A kind whose plugin is not compiled in names the feature that compiles it in.
    assert_eq!(stdout.contains("AWS (--features vault-aws)"), !cfg!(feature = "vault-aws"), "{stdout}");
    assert_eq!(stdout.contains("GCP (lanyard-vault-gcp)"), cfg!(feature = "vault-gcp"), "{stdout}");
    assert_eq!(stdout.contains("GCP (--features vault-gcp)"), !cfg!(feature = "vault-gcp"), "{stdout}");
    if cfg!(all(feature = "vault-local", feature = "vault-memory")) {
        insta::assert_snapshot!(stdout);
        // docs/backends.md shows this output: it must be what the binary prints.
        let doc = include_str!("../../../docs/backends.md");
        let block = doc
            .split("```text\n$ lanyard backends            # the default build with --features vault-memory\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("docs/backends.md shows the output of `lanyard backends`");
        assert_eq!(block, stdout, "docs/backends.md's `lanyard backends` block differs from the real output");
    }
}

/// Every cargo feature `KNOWN_KINDS` tells users to turn on is a feature of this crate: a hint never names a
/// feature that does not exist.
#[test]
fn known_kinds_name_only_features_that_exist() {
    let manifest = include_str!("../Cargo.toml");
    let features: Vec<&str> = manifest
        .lines()
        .skip_while(|line| line.trim() != "[features]")
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.starts_with('#'))
        .collect();
    assert!(features.contains(&"vault-local"), "{features:?}");
    for known in lanyard_vault::KNOWN_KINDS {
        let feature = known.feature;
        assert!(features.contains(&feature), "{}: feature {feature:?} is not in {features:?}", known.kind);
    }
}

fn vault(data_dir: &Path) -> LocalVault {
    let url = format!("sqlite://{}", data_dir.join("catalog.db").display());
    let source = MasterKeySource::File { data_dir: data_dir.to_owned(), previous: Vec::new() };
    LocalVault::new(&url, source, LocalVaultSettings::default()).unwrap()
}

#[cfg(feature = "vault-local")]
#[tokio::test]
async fn rotate_master_key_re_encrypts_the_local_vault_and_keeps_every_secret_readable() {
    let dir = std::env::temp_dir().join(format!("lanyard-admin-test-{}", VaultEntryId::new_random()));
    std::fs::create_dir_all(&dir).unwrap();
    let profiles: Vec<Profile> = (0..3).map(|_| Profile::Entry(VaultEntryId::new_random())).collect();
    let before = {
        let vault = vault(&dir);
        for (i, profile) in profiles.iter().enumerate() {
            vault.put(profile, &SecretValue::from(SecretString::new(format!("secret-{i}")))).await.unwrap();
        }
        let id = vault.key_ring().await.unwrap().current().id().to_owned();
        vault.close().await;
        id
    };

    let output = lanyard(&["admin", "rotate-master-key", "--data-dir", dir.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("re-encrypted 3 rows under master key"), "{stdout}");
    assert!(stdout.contains(&format!("3 rows were under master key {before}")), "{stdout}");
    assert!(stdout.contains("the new key is in"), "{stdout}");

    let vault = vault(&dir);
    let after = vault.key_ring().await.unwrap().current().id().to_owned();
    assert_ne!(before, after);
    assert!(stdout.contains(&after), "{stdout}");
    for (i, profile) in profiles.iter().enumerate() {
        let value = vault.get(&SecretRef::Profile(*profile)).await.unwrap();
        assert_eq!(value.expose_bytes(), format!("secret-{i}").as_bytes());
    }
    vault.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "vault-local")]
#[test]
fn rotate_master_key_to_a_missing_environment_variable_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("lanyard-admin-test-{}", VaultEntryId::new_random()));
    let output = lanyard(&[
        "admin",
        "rotate-master-key",
        "--data-dir",
        dir.to_str().unwrap(),
        "--new-key-from-env",
        "LANYARD_TEST_NO_SUCH_VARIABLE",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("environment variable LANYARD_TEST_NO_SUCH_VARIABLE is not set"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "vault-local")]
#[test]
fn rotate_master_key_never_generates_and_prints_an_environment_key() {
    let dir = std::env::temp_dir().join(format!("lanyard-admin-test-{}", VaultEntryId::new_random()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = "q2ZpbmFsLWNhbmFyeS1tYXN0ZXIta2V5LTMyYnl0ZXM=";
    let output = Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .args(["admin", "rotate-master-key", "--data-dir", dir.to_str().unwrap()])
        .env("LANYARD_MASTER_KEY", key)
        .env_remove("LANYARD_MASTER_KEY_PREVIOUS")
        .output()
        .expect("run lanyard");
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("pass --new-key-from-env VAR"), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The errors docs/backends.md quotes for a kind that has no plugin, an unknown kind and bad options are what a user
/// gets from those statements. The document shows the default build's list of kinds; this suite's build also has
/// MEMORY, which is taken out of the real messages before comparing.
#[test]
fn the_documented_kind_and_option_errors_are_the_real_ones() {
    if !cfg!(feature = "vault-memory") {
        panic!("the option errors are MEMORY's: run with --features vault-memory (cargo xtask test does)");
    }
    let home = lanyard_testsupport::TempDir::new("backends-doc-errors");
    let statements = "CREATE CREDENTIAL STORAGE s TYPE = vaultx;\n\
                      CREATE CREDENTIAL STORAGE m TYPE = MEMORY OPTIONS (timeout_ms = 'soon');\n\
                      CREATE CREDENTIAL STORAGE m TYPE = MEMORY OPTIONS (stroe = 'x');\n";
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanyard"));
    command.args(["sql", "--embedded", "--continue-on-error", "--format", "json", "-f", "-"]);
    let output = lanyard_testsupport::run_client(command, home.path(), statements.as_bytes());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let messages: Vec<String> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .map(|line| line["error"]["message"].as_str().expect("every statement fails").replace(", MEMORY", ""))
        .collect();
    let doc = include_str!("../../../docs/backends.md");
    let blocks = lanyard_testsupport::fenced_blocks(doc);
    let shown = |first: &str| {
        let block = blocks.iter().find(|b| b.info == "text" && b.text.starts_with(first));
        block.unwrap_or_else(|| panic!("docs/backends.md no longer shows {first:?}")).text.clone()
    };
    assert_eq!(shown("credential storage \"s\" (vaultx)"), format!("{}\n", messages[0]));
    assert_eq!(
        shown("credential storage \"m\" (memory) has invalid options"),
        format!("{}\n{}\n", messages[1], messages[2])
    );
}
