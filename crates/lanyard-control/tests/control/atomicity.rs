//! All or nothing (quality.md, "Atomicity"): an ALTER with N actions whose k-th action fails, for every k, leaves
//! the row (every column, version included), the vault and the audit log exactly as before.

use lanyard_catalog::{Connection, VaultEntry};
use lanyard_control::{ConnectionAction, EntryAction, EntryType, Material, NewConnection, NewEntry, ObjectKey};
use lanyard_core::{ErrorKind, SecretString};
use lanyard_vault::Profile;

use crate::common::{
    Env, admin, audit_state, both, create_connection, create_credential, create_memory_backend, credential,
    local_contents, material, new_connection, pairs, row, unique_store,
};

both!(alter_connection_fails_at_every_position, alter_vault_fails_at_every_position);

/// What an ALTER must leave untouched when it fails.
#[derive(Debug, PartialEq)]
struct Snapshot<R> {
    row: R,
    local: Vec<(String, Vec<u8>)>,
    memory: Vec<(String, u64)>,
    audit: (usize, Option<i64>),
}

async fn snapshot<R: lanyard_catalog::Record>(env: &Env, name: &str, store: &str) -> Snapshot<R> {
    let memory = lanyard_vault_memory::store(store);
    Snapshot {
        row: row(env, name).await,
        local: local_contents(env).await,
        memory: memory.physical_names().into_iter().map(|n| (n.clone(), memory.version_of(&n))).collect(),
        audit: audit_state(env).await,
    }
}

/// `valid` with its k-th action (1-based) replaced by `failing`.
fn with_failure<A: Clone>(valid: &[A], k: usize, failing: &A) -> Vec<A> {
    let mut actions = valid.to_vec();
    actions[k - 1] = failing.clone();
    actions
}

async fn alter_connection_fails_at_every_position(env: &Env) {
    let plane = &env.plane;
    let store = unique_store();
    let cred_a = create_credential(env, "cred_a", "material-a").await;
    create_credential(env, "cred_b", "material-b").await;
    create_memory_backend(env, "mem", &store).await;
    // Material in the memory store too, so "the vault" covers both backends.
    plane.create_entry(&admin(), credential("in_memory", "material-m", Some("mem"))).await.unwrap();
    create_connection(
        env,
        NewConnection {
            credential: Some("cred_a".into()),
            description: Some("before".into()),
            max_connections: Some(4),
            ..new_connection("target", "postgresql", &[("host", "h1"), ("port", "5432")])
        },
    )
    .await;
    create_connection(env, new_connection("taken", "postgresql", &[])).await;

    let valid = [
        ConnectionAction::SetOption { key: "ssl_enabled".into(), value: "true".into() },
        ConnectionAction::SetCredential("cred_b".into()),
        ConnectionAction::SetOptions(pairs(&[("host", "h2"), ("port", "6432")])),
        ConnectionAction::SetCredentialStorage("mem".into()),
        ConnectionAction::SetDescription(Some("after".into())),
        ConnectionAction::RenameTo("target_renamed".into()),
    ];
    // Each way an action can fail: a missing entry or storage, an absent key, a taken name, a secret-looking key,
    // an out-of-range number.
    let failures: [(ConnectionAction, ErrorKind, &str); 6] = [
        (
            ConnectionAction::SetCredential("missing_entry".into()),
            ErrorKind::NotFound,
            r#"vault entry "missing_entry" does not exist"#,
        ),
        (
            ConnectionAction::SetCredentialStorage("missing_storage".into()),
            ErrorKind::NotFound,
            r#"credential storage "missing_storage" does not exist"#,
        ),
        (ConnectionAction::UnsetOption("absent".into()), ErrorKind::Invalid, r#"has no option "absent""#),
        (ConnectionAction::RenameTo("taken".into()), ErrorKind::AlreadyExists, r#"connection "taken" already exists"#),
        (
            ConnectionAction::SetOption { key: "password".into(), value: "x".into() },
            ErrorKind::Invalid,
            r#"option "password" looks like a secret"#,
        ),
        (
            ConnectionAction::SetMaxConnections(Some(0)),
            ErrorKind::Invalid,
            "MAX_CONNECTIONS must be between 1 and 100000, not 0",
        ),
    ];

    let before: Snapshot<Connection> = snapshot(env, "target", &store).await;
    assert_eq!(before.row.credential_id, Some(cred_a.id));
    for k in 1..=valid.len() {
        for (failing, kind, message) in &failures {
            let actions = with_failure(&valid, k, failing);
            let error = plane.alter_connection(&admin(), "target", &actions, None).await.expect_err("must fail");
            assert_eq!(error.kind(), *kind, "k = {k}, {failing:?}: {error:?}");
            assert!(
                error.message().starts_with(&format!("action {k}: ")) && error.message().contains(message),
                "k = {k}: {:?}",
                error.message()
            );
            let after: Snapshot<Connection> = snapshot(env, "target", &store).await;
            assert_eq!(after, before, "k = {k}, {failing:?}: the failed ALTER changed something");
            assert!(!crate::common::exists::<Connection>(env, "target_renamed").await);
        }
    }

    // The same actions without a failure apply, all of them, as one new version.
    let view = plane.alter_connection(&admin(), "target", &valid, Some(1)).await.unwrap();
    assert_eq!((view.name.as_str(), view.version, view.description.as_deref()), ("target_renamed", 2, Some("after")));
    let after: Connection = row(env, "target_renamed").await;
    assert_eq!(after.meta.id, before.row.meta.id);
    assert_eq!(crate::common::options_of(&after), crate::common::map(&[("host", "h2"), ("port", "6432")]));
    assert_eq!(audit_state(env).await.0, before.audit.0 + 1);
}

async fn alter_vault_fails_at_every_position(env: &Env) {
    let plane = &env.plane;
    let store = unique_store();
    create_memory_backend(env, "mem", &store).await;
    create_credential(env, "api_cred", "s1").await;
    create_credential(env, "other", "o1").await;
    let in_memory = plane.create_entry(&admin(), credential("mem_cred", "m1", Some("mem"))).await.unwrap().value;
    plane
        .create_entry(
            &admin(),
            NewEntry {
                material: Material::Generate,
                entry_type: EntryType::EncryptionKey,
                ..credential("key1", "", None)
            },
        )
        .await
        .unwrap();
    create_connection(
        env,
        NewConnection { credential: Some("api_cred".into()), ..new_connection("uses", "rest", &[]) },
    )
    .await;

    // The brief's case first: SET SECRET, then a RENAME TO a name that exists.
    let before: Snapshot<VaultEntry> = snapshot(env, "api_cred", &store).await;
    let error = plane
        .alter_entry(
            &admin(),
            &ObjectKey::Name("api_cred".into()),
            &[EntryAction::SetSecret(SecretString::new("s2")), EntryAction::RenameTo("other".into())],
            None,
        )
        .await
        .expect_err("the rename fails");
    assert_eq!(
        (error.kind(), error.message()),
        (ErrorKind::AlreadyExists, r#"action 2: vault entry "other" already exists"#)
    );
    assert_eq!(snapshot::<VaultEntry>(env, "api_cred", &store).await, before);
    assert_eq!(material(env, "api_cred").await.as_deref(), Some(&b"s1"[..]));
    assert_eq!(crate::common::resolve_text(env, "uses").await, "s1", "connections still resolve the old material");

    let secret = |s: &str| EntryAction::SetSecret(SecretString::new(s));
    let valid = [
        EntryAction::SetDescription(Some("d".into())),
        secret("s2"),
        EntryAction::SetExpires(Some("2030-01-31T12:00:00Z".into())),
        EntryAction::RenameTo("renamed".into()),
    ];
    let failures: [(EntryAction, ErrorKind, &str); 4] = [
        (EntryAction::RenameTo("other".into()), ErrorKind::AlreadyExists, r#"vault entry "other" already exists"#),
        (EntryAction::RenameTo("key1".into()), ErrorKind::AlreadyExists, r#"vault entry "key1" already exists"#),
        (EntryAction::SetExpires(Some("next tuesday".into())), ErrorKind::Invalid, "invalid timestamp"),
        (EntryAction::Rotate, ErrorKind::Invalid, "ROTATE applies to ENCRYPTION_KEY entries"),
    ];
    for (name, expected_material) in [("api_cred", &b"s1"[..]), ("mem_cred", &b"m1"[..])] {
        let before: Snapshot<VaultEntry> = snapshot(env, name, &store).await;
        let memory_version = lanyard_vault_memory::store(&store).version(&Profile::Entry(in_memory.id));
        for k in 1..=valid.len() {
            for (failing, kind, message) in &failures {
                let actions = with_failure(&valid, k, failing);
                let error = plane
                    .alter_entry(&admin(), &ObjectKey::Name(name.into()), &actions, None)
                    .await
                    .expect_err("must fail");
                assert_eq!(error.kind(), *kind, "{name}, k = {k}: {error:?}");
                assert!(
                    error.message().starts_with(&format!("action {k}: ")) && error.message().contains(message),
                    "{name}, k = {k}: {:?}",
                    error.message()
                );
                let after: Snapshot<VaultEntry> = snapshot(env, name, &store).await;
                assert_eq!(after, before, "{name}, k = {k}, {}: the failed ALTER changed something", failing.label());
                assert_eq!(material(env, name).await.as_deref(), Some(expected_material));
                assert_eq!(
                    lanyard_vault_memory::store(&store).version(&Profile::Entry(in_memory.id)),
                    memory_version,
                    "no material was written, not even temporarily"
                );
            }
        }
        // A key entry refuses SET SECRET at any position, naming its type.
        let error = plane
            .alter_entry(
                &admin(),
                &ObjectKey::Name("key1".into()),
                &[EntryAction::SetDescription(None), EntryAction::Rotate, secret("x")],
                None,
            )
            .await
            .expect_err("SET SECRET on a key");
        assert!(error.message().starts_with("action 3: SET SECRET applies to CREDENTIAL entries"), "{error}");
    }

    // Without a failure, the same actions apply: new material, one new version, one audit record.
    let audit_before = audit_state(env).await;
    let view = plane.alter_entry(&admin(), &ObjectKey::Name("api_cred".into()), &valid, Some(1)).await.unwrap();
    assert_eq!((view.name.as_str(), view.current_version, view.version), ("renamed", 2, 2));
    assert_eq!(material(env, "renamed").await.as_deref(), Some(&b"s2"[..]));
    assert_eq!(audit_state(env).await.0, audit_before.0 + 1);
    assert_eq!(crate::common::resolve_text(env, "uses").await, "s2");
}
