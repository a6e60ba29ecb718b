//! CREATE / ALTER / DROP VAULT (= CREDENTIAL): material goes to the backend under `vault::<id>` and never to the
//! catalog, GENERATE and ROTATE only for keys, SET SECRET only for credentials, the next resolve sees new material,
//! dependents block DROP, and material is written before the row (a failed write leaves no row).

use lanyard_catalog::{Connection, VaultEntry};
use lanyard_control::{EntryAction, EntryType, Material, NamedRef, NewConnection, NewEntry, ObjectKey};
use lanyard_core::{ErrorKind, LOCAL_BACKEND_ID, SecretString};
use lanyard_vault::{Profile, SecretValue};
use lanyard_vault_memory::FailKind;

use crate::common::{
    Env, admin, assert_error, assert_error_contains, audit_state, both, create_connection, create_credential,
    create_memory_backend, credential, exists, last_audit, local_backend, local_contents, material, material_in,
    new_connection, resolve_text, row, unique_store,
};

both!(
    secret_material_lives_in_the_backend,
    generate_and_rotate_keys,
    set_secret_reaches_the_next_resolve,
    drop_is_refused_while_referenced_and_deletes_material,
    linked_entries,
    material_first_with_a_failing_backend,
);

fn key_entry(name: &str, key_size: Option<i64>) -> NewEntry {
    NewEntry {
        entry_type: EntryType::EncryptionKey,
        material: Material::Generate,
        key_size,
        algorithm: Some("AES-256-GCM".into()),
        ..credential(name, "", None)
    }
}

fn name(entry: &str) -> ObjectKey {
    ObjectKey::Name(entry.to_owned())
}

async fn secret_material_lives_in_the_backend(env: &Env) {
    let plane = &env.plane;
    let secret = r#"{"username":"app","password":"pw-4f1d"}"#;
    let created = plane
        .create_entry(
            &admin(),
            NewEntry {
                description: Some("the app login".into()),
                expires_at: Some("2031-06-30".into()),
                ..credential("pg_login", secret, None)
            },
        )
        .await
        .unwrap();
    assert!(created.created);
    let view = created.value;
    assert_eq!(
        (view.name.as_str(), view.entry_type, view.current_version, view.version),
        ("pg_login", EntryType::Credential, 1, 1)
    );
    assert_eq!(view.backend, NamedRef { id: LOCAL_BACKEND_ID, name: "local".into() }, "the default storage is local");
    assert_eq!((view.external_secret_name.as_deref(), view.rotated_at), (None, None));
    assert!(view.expires_at.is_some());
    assert!(!format!("{view:?}").contains("pw-4f1d"));

    // The material is in the local backend under vault::<id>, and nowhere in the row.
    let local = local_backend(env).await;
    assert_eq!(material_in(&local, view.id).await.as_deref(), Some(secret.as_bytes()));
    assert!(local.list().await.unwrap().contains(&Profile::Entry(view.id)));
    assert_eq!(local.physical_name(&Profile::Entry(view.id)), format!("vault::{}", view.id));
    let stored: VaultEntry = row(env, "pg_login").await;
    assert_eq!(stored.storage_backend_id, LOCAL_BACKEND_ID);
    assert!(!format!("{stored:?}").contains("pw-4f1d"), "the catalog row holds no material");
    let record = last_audit(env).await;
    assert_eq!(record.record.action.as_str(), "vault_entry.create");
    assert_eq!(record.record.detail["material"], "secret");
    assert!(!format!("{record:?}").contains("pw-4f1d"));

    // A connection using it resolves to the material.
    create_connection(
        env,
        NewConnection { credential: Some("pg_login".into()), ..new_connection("pg", "postgresql", &[]) },
    )
    .await;
    assert_eq!(resolve_text(env, "pg").await, secret);

    // DESCRIBE and SHOW, by name and by id.
    let by_id = plane.get_entry(&admin(), &ObjectKey::Id(*view.id.as_uuid())).await.unwrap();
    assert_eq!((by_id.name.as_str(), by_id.version), ("pg_login", 1));
    assert_eq!(plane.get_entry(&admin(), &name("pg_login")).await.unwrap().id, view.id);
    assert_error(
        plane.get_entry(&admin(), &name("nope")).await,
        ErrorKind::NotFound,
        r#"vault entry "nope" does not exist"#,
    );
    create_credential(env, "Other_Login", "x").await;
    let mut listed: Vec<String> =
        plane.list_entries(&admin(), Some("LOGIN")).await.unwrap().into_iter().map(|e| e.name).collect();
    listed.sort();
    assert_eq!(listed, ["Other_Login", "pg_login"]);

    // IF NOT EXISTS returns the entry unchanged (and does not touch its material); a duplicate is an error.
    let before = audit_state(env).await;
    let again = plane
        .create_entry(&admin(), NewEntry { if_not_exists: true, ..credential("pg_login", "different", None) })
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!((again.value.id, again.value.current_version), (view.id, 1));
    assert_eq!(material(env, "pg_login").await.as_deref(), Some(secret.as_bytes()));
    assert_eq!(audit_state(env).await, before);
    assert_error(
        plane.create_entry(&admin(), credential("pg_login", "different", None)).await,
        ErrorKind::AlreadyExists,
        r#"vault entry "pg_login" already exists"#,
    );
    assert_eq!(
        material(env, "pg_login").await.as_deref(),
        Some(secret.as_bytes()),
        "a refused duplicate keeps the material"
    );
    assert_error(
        plane.create_entry(&admin(), credential("x", "s", Some("nope"))).await,
        ErrorKind::NotFound,
        r#"credential storage "nope" does not exist"#,
    );
    assert_error(
        plane.create_entry(&admin(), NewEntry { expires_at: Some("soon".into()), ..credential("x", "s", None) }).await,
        ErrorKind::Invalid,
        r#"invalid timestamp "soon": expected ISO 8601, such as 2027-01-31 or 2027-01-31T12:00:00Z"#,
    );
    let huge = "x".repeat(64 * 1024 + 1);
    assert_error(
        plane.create_entry(&admin(), credential("x", &huge, None)).await,
        ErrorKind::Invalid,
        "a secret is at most 65536 bytes, not 65537 bytes",
    );
    assert_error(
        plane.alter_entry(&admin(), &name("pg_login"), &[EntryAction::SetSecret(SecretString::new(huge))], None).await,
        ErrorKind::Invalid,
        "a secret is at most 65536 bytes, not 65537 bytes",
    );
    assert!(!exists::<VaultEntry>(env, "x").await);
    assert_eq!(material(env, "pg_login").await.as_deref(), Some(secret.as_bytes()));
}

async fn generate_and_rotate_keys(env: &Env) {
    let plane = &env.plane;
    let before = (audit_state(env).await, local_contents(env).await);
    assert_error(
        plane.create_entry(&admin(), NewEntry { material: Material::Generate, ..credential("c", "", None) }).await,
        ErrorKind::Invalid,
        "GENERATE is only allowed for TYPE = ENCRYPTION_KEY",
    );
    assert_error(
        plane.create_entry(&admin(), key_entry("k", Some(100))).await,
        ErrorKind::Invalid,
        "KEY_SIZE must be a multiple of 8 between 64 and 8192 bits, not 100",
    );
    assert!(!exists::<VaultEntry>(env, "c").await);
    assert_eq!((audit_state(env).await, local_contents(env).await), before, "refusals write nothing");

    // GENERATE: KEY_SIZE bits (default 256) plus a salt, hex, as {"key","salt"}.
    let key = |bytes: Vec<u8>| -> (String, String) {
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        (value["key"].as_str().unwrap().to_owned(), value["salt"].as_str().unwrap().to_owned())
    };
    let default = plane.create_entry(&admin(), key_entry("k256", None)).await.unwrap().value;
    assert_eq!(
        (default.entry_type, default.key_size, default.algorithm.as_deref()),
        (EntryType::EncryptionKey, Some(256), Some("AES-256-GCM"))
    );
    let (k256, salt) = key(material(env, "k256").await.unwrap());
    assert_eq!((k256.len(), salt.len()), (64, 32));
    assert!(k256.bytes().chain(salt.bytes()).all(|b| b.is_ascii_hexdigit()));
    let small = plane.create_entry(&admin(), key_entry("k128", Some(128))).await.unwrap().value;
    assert_eq!(small.key_size, Some(128));
    let (k128, _) = key(material(env, "k128").await.unwrap());
    assert_eq!(k128.len(), 32);
    assert_ne!(k128, k256[..32], "keys are random");

    // ROTATE: new material, version + 1, rotated_at set.
    let rotated = plane.alter_entry(&admin(), &name("k256"), &[EntryAction::Rotate], None).await.unwrap();
    assert_eq!((rotated.current_version, rotated.version), (2, 2));
    assert!(rotated.rotated_at.is_some());
    let (new_key, new_salt) = key(material(env, "k256").await.unwrap());
    assert_eq!(new_key.len(), 64, "ROTATE keeps the key size");
    assert_ne!((new_key, new_salt), (k256, salt));
    assert_eq!(last_audit(env).await.record.detail["actions"], serde_json::json!(["rotate"]));

    // ROTATE on a CREDENTIAL and SET SECRET on an ENCRYPTION_KEY are errors naming the type.
    create_credential(env, "login", "pw").await;
    let before = (audit_state(env).await, local_contents(env).await, row::<VaultEntry>(env, "login").await);
    assert_error(
        plane.alter_entry(&admin(), &name("login"), &[EntryAction::Rotate], None).await,
        ErrorKind::Invalid,
        r#"action 1: ROTATE applies to ENCRYPTION_KEY entries; "login" is a CREDENTIAL entry: use SET SECRET"#,
    );
    assert_error(
        plane.alter_entry(&admin(), &name("k128"), &[EntryAction::SetSecret(SecretString::new("x"))], None).await,
        ErrorKind::Invalid,
        r#"action 1: SET SECRET applies to CREDENTIAL entries; "k128" is an ENCRYPTION_KEY entry: use ROTATE"#,
    );
    assert_error(
        plane.alter_entry(&admin(), &name("login"), &[], None).await,
        ErrorKind::Invalid,
        "ALTER VAULT needs at least one action",
    );
    assert_error(
        plane.alter_entry(&admin(), &name("login"), &[EntryAction::SetDescription(None)], Some(5)).await,
        ErrorKind::PreconditionFailed,
        r#"vault entry "login" is at version 1, not 5 (If-Match)"#,
    );
    assert_eq!((audit_state(env).await, local_contents(env).await, row::<VaultEntry>(env, "login").await), before);
}

async fn set_secret_reaches_the_next_resolve(env: &Env) {
    let plane = &env.plane;
    let created = create_credential(env, "login", r#"{"password":"v1"}"#).await;
    create_connection(
        env,
        NewConnection { credential: Some("login".into()), ..new_connection("pg", "postgresql", &[]) },
    )
    .await;
    let connection_before: Connection = row(env, "pg").await;
    assert_eq!(resolve_text(env, "pg").await, r#"{"password":"v1"}"#);

    let altered = plane
        .alter_entry(
            &admin(),
            &name("login"),
            &[EntryAction::SetSecret(SecretString::new(r#"{"password":"v2"}"#))],
            None,
        )
        .await
        .unwrap();
    assert_eq!((altered.id, altered.current_version, altered.version), (created.id, 2, 2));
    assert!(altered.rotated_at.is_some());
    assert_eq!(material(env, "login").await.as_deref(), Some(&br#"{"password":"v2"}"#[..]));
    // No ALTER CONNECTION in between: the next resolve reads the new material.
    assert_eq!(resolve_text(env, "pg").await, r#"{"password":"v2"}"#);
    assert_eq!(row::<Connection>(env, "pg").await, connection_before, "the connection row did not change");
    let record = last_audit(env).await;
    assert_eq!(record.record.detail["actions"], serde_json::json!(["set_secret"]));
    assert_eq!(record.record.detail["current_version"], 2);
    assert!(!format!("{record:?}").contains("v2\""));

    // RENAME TO and back within one ALTER is no conflict with itself.
    let back = plane
        .alter_entry(
            &admin(),
            &name("login"),
            &[EntryAction::RenameTo("login_tmp".into()), EntryAction::RenameTo("login".into())],
            None,
        )
        .await
        .unwrap();
    assert_eq!((back.name.as_str(), back.version, back.current_version), ("login", 3, 2));

    // Twice more, also through the id.
    plane
        .alter_entry(
            &admin(),
            &ObjectKey::Id(*created.id.as_uuid()),
            &[EntryAction::SetSecret(SecretString::new("v3")), EntryAction::SetDescription(Some("third".into()))],
            Some(3),
        )
        .await
        .unwrap();
    assert_eq!(resolve_text(env, "pg").await, "v3");
    assert_eq!(row::<VaultEntry>(env, "login").await.current_version, 3);
}

async fn drop_is_refused_while_referenced_and_deletes_material(env: &Env) {
    let plane = &env.plane;
    let entry = create_credential(env, "login", "pw").await;
    for connection in ["b_user", "a_user"] {
        create_connection(
            env,
            NewConnection { credential: Some("login".into()), ..new_connection(connection, "postgresql", &[]) },
        )
        .await;
    }
    let before = (audit_state(env).await, row::<VaultEntry>(env, "login").await);
    assert_error(
        plane.drop_entry(&admin(), &name("login"), None).await,
        ErrorKind::Conflict,
        r#"vault entry "login" is still referenced by connection "a_user", connection "b_user""#,
    );
    assert_eq!((audit_state(env).await, row::<VaultEntry>(env, "login").await), before);
    assert_eq!(material(env, "login").await.as_deref(), Some(&b"pw"[..]), "a refused DROP keeps the material");

    plane.drop_connection(&admin(), "a_user", None).await.unwrap();
    plane.drop_connection(&admin(), "b_user", None).await.unwrap();
    assert_error(
        plane.drop_entry(&admin(), &name("login"), Some(9)).await,
        ErrorKind::PreconditionFailed,
        r#"vault entry "login" is at version 1, not 9 (If-Match)"#,
    );
    plane.drop_entry(&admin(), &name("login"), Some(1)).await.unwrap();
    assert!(!exists::<VaultEntry>(env, "login").await);
    let local = local_backend(env).await;
    assert_eq!(material_in(&local, entry.id).await, None, "DROP deletes the material");
    assert!(!local.list().await.unwrap().contains(&Profile::Entry(entry.id)));
    assert_eq!(last_audit(env).await.record.action.as_str(), "vault_entry.drop");
    assert_error(
        plane.drop_entry(&admin(), &name("login"), None).await,
        ErrorKind::NotFound,
        r#"vault entry "login" does not exist"#,
    );

    // In a memory storage too.
    let store = unique_store();
    create_memory_backend(env, "mem", &store).await;
    let in_memory = plane.create_entry(&admin(), credential("m", "pw", Some("mem"))).await.unwrap().value;
    assert_eq!(lanyard_vault_memory::store(&store).physical_names(), [format!("vault::{}", in_memory.id)]);
    plane.drop_entry(&admin(), &name("m"), None).await.unwrap();
    assert!(lanyard_vault_memory::store(&store).physical_names().is_empty());
}

async fn linked_entries(env: &Env) {
    let plane = &env.plane;
    let store = unique_store();
    create_memory_backend(env, "mem", &store).await;
    let memory = lanyard_vault_memory::store(&store);
    memory.set_external("prod/db", SecretValue::from(SecretString::new(r#"{"username":"u","password":"p1"}"#)));

    let linked = plane
        .create_entry(
            &admin(),
            NewEntry { material: Material::Linked("prod/db#password".into()), ..credential("ext", "", Some("mem")) },
        )
        .await
        .unwrap()
        .value;
    assert_eq!(linked.external_secret_name.as_deref(), Some("prod/db#password"));
    assert!(memory.physical_names().is_empty(), "LINKED writes nothing");
    create_connection(env, NewConnection { credential: Some("ext".into()), ..new_connection("c", "postgresql", &[]) })
        .await;
    assert_eq!(resolve_text(env, "c").await, "p1");
    memory.set_external("prod/db", SecretValue::from(SecretString::new(r#"{"username":"u","password":"p2"}"#)));
    assert_eq!(resolve_text(env, "c").await, "p2", "a change in the backend is the next resolve's answer");

    assert_error_contains(
        plane.alter_entry(&admin(), &name("ext"), &[EntryAction::SetSecret(SecretString::new("x"))], None).await,
        ErrorKind::Invalid,
        &[r#"action 1: vault entry "ext" links an external secret"#],
    );
    // The local backend cannot link.
    assert_error(
        plane
            .create_entry(
                &admin(),
                NewEntry { material: Material::Linked("anything".into()), ..credential("l", "", None) },
            )
            .await,
        ErrorKind::Invalid,
        r#"credential storage "local" (local) cannot link external secrets"#,
    );

    // DROP leaves the external secret alone.
    plane.drop_connection(&admin(), "c", None).await.unwrap();
    plane.drop_entry(&admin(), &name("ext"), None).await.unwrap();
    assert_eq!(memory.external_version("prod/db"), 2);
    assert!(memory.len() == 1, "the external secret is still there");
}

async fn material_first_with_a_failing_backend(env: &Env) {
    let plane = &env.plane;
    let store_name = unique_store();
    create_memory_backend(env, "flaky", &store_name).await;
    let store = lanyard_vault_memory::store(&store_name);
    let before = audit_state(env).await;
    let entries_before = plane.list_entries(&admin(), None).await.unwrap().len();

    // The backend fails the write path's first call (the read of what is there).
    store.fail_next(1, FailKind::Unavailable);
    assert_error_contains(
        plane.create_entry(&admin(), credential("c1", "pw", Some("flaky"))).await,
        ErrorKind::BackendUnavailable,
        &["memory backend", "backend unavailable"],
    );
    store.reset_counters();
    store.fail_next(1, FailKind::PermissionDenied);
    assert_error_contains(
        plane.create_entry(&admin(), credential("c1", "pw", Some("flaky"))).await,
        ErrorKind::BackendUnavailable,
        &["permission denied"],
    );
    assert_eq!(store.puts(), 0, "a failing read stops the write");
    // The put itself fails (the read before it answers that nothing is there).
    store.fail_next(2, FailKind::NotFound);
    let error = plane.create_entry(&admin(), credential("c1", "pw", Some("flaky"))).await.expect_err("fails");
    assert_eq!(store.puts(), 1, "the put was attempted");
    assert!(error.message().contains("memory backend"), "{error:?}");
    store.fail_next(0, FailKind::Unavailable);
    store.set_faults(lanyard_vault_memory::Faults { fail_rate: 1.0, ..Default::default() });
    assert_error_contains(
        plane.create_entry(&admin(), credential("c1", "pw", Some("flaky"))).await,
        ErrorKind::BackendUnavailable,
        &["backend unavailable"],
    );
    store.set_faults(lanyard_vault_memory::Faults::default());

    assert!(!exists::<VaultEntry>(env, "c1").await, "no row without its material");
    assert_eq!(plane.list_entries(&admin(), None).await.unwrap().len(), entries_before);
    assert_eq!(audit_state(env).await, before, "the audit log is unchanged");
    assert!(store.physical_names().is_empty());

    // Healthy again: the entry is created, material first.
    let created = plane.create_entry(&admin(), credential("c1", "pw", Some("flaky"))).await.unwrap().value;
    assert_eq!(store.physical_names(), [format!("vault::{}", created.id)]);

    // SET SECRET against a failing backend: the version and the material stay.
    let row_before: VaultEntry = row(env, "c1").await;
    let audit_before = audit_state(env).await;
    store.set_faults(lanyard_vault_memory::Faults { fail_rate: 1.0, ..Default::default() });
    assert_error_contains(
        plane.alter_entry(&admin(), &name("c1"), &[EntryAction::SetSecret(SecretString::new("pw2"))], None).await,
        ErrorKind::BackendUnavailable,
        &["backend unavailable"],
    );
    store.set_faults(lanyard_vault_memory::Faults::default());
    assert_eq!(row::<VaultEntry>(env, "c1").await, row_before);
    assert_eq!(audit_state(env).await, audit_before);
    assert_eq!(material(env, "c1").await.as_deref(), Some(&b"pw"[..]));
}
