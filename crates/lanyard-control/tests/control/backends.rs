//! CREATE / ALTER / DROP / SHOW / TEST CREDENTIAL STORAGE: the seeded local backend is fixed, INACTIVE storages take
//! no new entries, dependents block DROP, kinds not compiled in name their feature, option keys are checked, and
//! secret options never reach the catalog (they live in the local backend under `backend::<id>`).

use lanyard_catalog::{Backend, VaultEntry};
use lanyard_control::{BackendAction, NewBackend, NewConnection, NewEntry, ObjectKey};
use lanyard_core::{ErrorKind, LOCAL_BACKEND_ID, SecretString};
use lanyard_vault::{Profile, SecretRef};

use crate::common::{
    ECHO, Env, admin, assert_error, assert_error_contains, audit_state, both, create_connection, create_credential,
    create_memory_backend, credential, exists, last_audit, local_backend, memory_backend, new_connection, registry,
    resolve_text, row, secret_pairs, unique_store,
};

both!(
    memory_storages,
    the_local_backend_is_fixed,
    inactive_storages_and_drop_dependents,
    kinds_and_options_are_checked,
    test_backend_reports_steps,
    secret_options_are_stripped,
);

fn by_name(name: &str) -> ObjectKey {
    ObjectKey::Name(name.to_owned())
}

fn echo_backend(name: &str, region: &str, token: &str) -> NewBackend {
    NewBackend {
        name: name.to_owned(),
        backend_type: "Secret_Echo".to_owned(),
        description: None,
        options: secret_pairs(&[("region", region), ("token", token)]),
        active: true,
        if_not_exists: false,
    }
}

async fn memory_storages(env: &Env) {
    let plane = &env.plane;
    let store = unique_store();
    let created = plane
        .create_backend(&admin(), NewBackend { description: Some("for tests".into()), ..memory_backend("mem", &store) })
        .await
        .unwrap();
    assert!(created.created);
    let view = created.value;
    assert_eq!(
        (view.name.as_str(), view.backend_type.as_str(), view.description.as_deref()),
        ("mem", "memory", Some("for tests"))
    );
    assert_eq!(view.options, [("store".to_owned(), store.clone())]);
    assert!(view.secret_options.is_empty());
    assert_eq!((view.active, view.builtin, view.version), (true, false, 1));
    let stored: Backend = row(env, "mem").await;
    assert_eq!(stored.config.get("store").and_then(|v| v.as_str()), Some(store.as_str()));
    assert_eq!(last_audit(env).await.record.action.as_str(), "credential_storage.create");

    // It stores material.
    let entry = plane.create_entry(&admin(), credential("e", "pw", Some("mem"))).await.unwrap().value;
    assert_eq!(entry.backend.name, "mem");
    assert_eq!(lanyard_vault_memory::store(&store).physical_names(), [format!("vault::{}", entry.id)]);

    // IF NOT EXISTS, duplicates, DESCRIBE, SHOW.
    let before = audit_state(env).await;
    let again = plane
        .create_backend(&admin(), NewBackend { if_not_exists: true, ..memory_backend("mem", "another") })
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!((again.value.id, again.value.options.clone()), (view.id, vec![("store".to_owned(), store.clone())]));
    assert_eq!(audit_state(env).await, before);
    assert_error(
        plane.create_backend(&admin(), memory_backend("mem", "another")).await,
        ErrorKind::AlreadyExists,
        r#"credential storage "mem" already exists"#,
    );
    assert_eq!(plane.get_backend(&admin(), &by_name("mem")).await.unwrap().id, view.id);
    assert_eq!(plane.get_backend(&admin(), &ObjectKey::Id(*view.id.as_uuid())).await.unwrap().name, "mem");
    assert_error(
        plane.get_backend(&admin(), &by_name("nope")).await,
        ErrorKind::NotFound,
        r#"credential storage "nope" does not exist"#,
    );
    let mut names: Vec<String> =
        plane.list_backends(&admin(), None).await.unwrap().into_iter().map(|b| b.name).collect();
    names.sort();
    assert_eq!(names, ["local", "mem"]);
    let like: Vec<String> =
        plane.list_backends(&admin(), Some("ME")).await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(like, ["mem"]);

    // ALTER: description, rename, options (the whole map).
    let altered = plane
        .alter_backend(
            &admin(),
            &by_name("mem"),
            &[
                BackendAction::SetDescription(Some("renamed".into())),
                BackendAction::RenameTo("mem2".into()),
                BackendAction::SetOptions(secret_pairs(&[("store", &store), ("prefix", "p/")])),
            ],
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!((altered.name.as_str(), altered.version, altered.description.as_deref()), ("mem2", 2, Some("renamed")));
    let mut options = altered.options.clone();
    options.sort();
    assert_eq!(options, [("prefix".to_owned(), "p/".to_owned()), ("store".to_owned(), store.clone())]);
    assert!(!exists::<Backend>(env, "mem").await);
    assert_eq!(plane.get_entry(&admin(), &ObjectKey::Name("e".into())).await.unwrap().backend.name, "mem2");
    assert_error(
        plane.alter_backend(&admin(), &by_name("mem2"), &[BackendAction::SetActive(false)], Some(1)).await,
        ErrorKind::PreconditionFailed,
        r#"credential storage "mem2" is at version 2, not 1 (If-Match)"#,
    );
    assert_error(
        plane.alter_backend(&admin(), &by_name("mem2"), &[BackendAction::RenameTo("local".into())], None).await,
        ErrorKind::AlreadyExists,
        r#"credential storage "local" already exists"#,
    );
    assert_eq!(row::<Backend>(env, "mem2").await.meta.version, 2);
}

async fn the_local_backend_is_fixed(env: &Env) {
    let plane = &env.plane;
    let local = plane.get_backend(&admin(), &by_name("local")).await.unwrap();
    assert_eq!(
        (local.id, local.builtin, local.active, local.backend_type.as_str()),
        (LOCAL_BACKEND_ID, true, true, "local")
    );
    let stored: Backend = plane.catalog().get(LOCAL_BACKEND_ID).await.unwrap();
    let before = audit_state(env).await;
    let ids = [by_name("local"), ObjectKey::Id(*LOCAL_BACKEND_ID.as_uuid())];

    for key in &ids {
        assert_error(
            plane.drop_backend(&admin(), key, None).await,
            ErrorKind::Conflict,
            "the built-in local backend cannot be dropped",
        );
        assert_error(
            plane.alter_backend(&admin(), key, &[BackendAction::RenameTo("mine".into())], None).await,
            ErrorKind::Conflict,
            "action 1: the built-in local backend cannot be renamed",
        );
        assert_error(
            plane.alter_backend(&admin(), key, &[BackendAction::SetActive(false)], None).await,
            ErrorKind::Conflict,
            "action 1: the built-in local backend cannot be made INACTIVE",
        );
        assert_error(
            plane
                .alter_backend(
                    &admin(),
                    key,
                    &[BackendAction::SetDescription(Some("x".into())), BackendAction::SetActive(false)],
                    None,
                )
                .await,
            ErrorKind::Conflict,
            "action 2: the built-in local backend cannot be made INACTIVE",
        );
    }
    for kind in ["LOCAL", "local", "OS_KEYCHAIN", "os_keychain", " Local "] {
        for if_not_exists in [false, true] {
            let request = NewBackend {
                name: if if_not_exists { "local".into() } else { "another_local".into() },
                backend_type: kind.into(),
                description: None,
                options: Vec::new(),
                active: true,
                if_not_exists,
            };
            assert_error(
                plane.create_backend(&admin(), request).await,
                ErrorKind::Invalid,
                r#"the local backend is built in (credential storage "local"); another LOCAL storage cannot be created"#,
            );
        }
    }
    assert!(!exists::<Backend>(env, "another_local").await);
    assert_eq!(plane.catalog().get::<Backend>(LOCAL_BACKEND_ID).await.unwrap(), stored);
    assert_eq!(audit_state(env).await, before);

    // What may change: its description, and renaming to its own name.
    let altered = plane
        .alter_backend(
            &admin(),
            &by_name("local"),
            &[BackendAction::SetDescription(Some("the seeded one".into())), BackendAction::RenameTo("local".into())],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (altered.name.as_str(), altered.description.as_deref(), altered.builtin),
        ("local", Some("the seeded one"), true)
    );
    create_credential(env, "still_works", "pw").await;
}

async fn inactive_storages_and_drop_dependents(env: &Env) {
    let plane = &env.plane;
    let store = unique_store();
    let created = plane
        .create_backend(&admin(), NewBackend { active: false, ..memory_backend("cold", &store) })
        .await
        .unwrap()
        .value;
    assert!(!created.active);
    let before = audit_state(env).await;
    assert_error(
        plane.create_entry(&admin(), credential("e", "pw", Some("cold"))).await,
        ErrorKind::Invalid,
        r#"credential storage "cold" is INACTIVE; new entries cannot use it"#,
    );
    assert!(!exists::<VaultEntry>(env, "e").await);
    assert!(lanyard_vault_memory::store(&store).physical_names().is_empty(), "nothing was written");
    assert_eq!(audit_state(env).await, before);

    plane.alter_backend(&admin(), &by_name("cold"), &[BackendAction::SetActive(true)], None).await.unwrap();
    plane.create_entry(&admin(), credential("e", "pw", Some("cold"))).await.unwrap();
    // An entry already in a storage that goes INACTIVE keeps working.
    plane.alter_backend(&admin(), &by_name("cold"), &[BackendAction::SetActive(false)], None).await.unwrap();
    create_connection(env, NewConnection { credential: Some("e".into()), ..new_connection("c", "postgresql", &[]) })
        .await;
    assert_eq!(resolve_text(env, "c").await, "pw");

    // DROP is refused while entries use it, and while connections name it as their storage.
    let stored: Backend = row(env, "cold").await;
    assert_error(
        plane.drop_backend(&admin(), &by_name("cold"), None).await,
        ErrorKind::Conflict,
        r#"credential storage "cold" is still referenced by vault entry "e""#,
    );
    plane.drop_connection(&admin(), "c", None).await.unwrap();
    plane.drop_entry(&admin(), &ObjectKey::Name("e".into()), None).await.unwrap();
    create_connection(
        env,
        NewConnection { credential_storage: Some("cold".into()), ..new_connection("s3", "s3", &[("bucket", "b")]) },
    )
    .await;
    assert_error(
        plane.drop_backend(&admin(), &by_name("cold"), None).await,
        ErrorKind::Conflict,
        r#"credential storage "cold" is still referenced by connection "s3""#,
    );
    assert_eq!(row::<Backend>(env, "cold").await, stored);
    plane.drop_connection(&admin(), "s3", None).await.unwrap();
    assert_error(
        plane.drop_backend(&admin(), &by_name("cold"), Some(1)).await,
        ErrorKind::PreconditionFailed,
        r#"credential storage "cold" is at version 3, not 1 (If-Match)"#,
    );
    plane.drop_backend(&admin(), &by_name("cold"), Some(3)).await.unwrap();
    assert!(!exists::<Backend>(env, "cold").await);
    assert_eq!(last_audit(env).await.record.action.as_str(), "credential_storage.drop");
    assert_error(
        plane.drop_backend(&admin(), &by_name("cold"), None).await,
        ErrorKind::NotFound,
        r#"credential storage "cold" does not exist"#,
    );
}

async fn kinds_and_options_are_checked(env: &Env) {
    let plane = &env.plane;
    let before = audit_state(env).await;
    let request = |kind: &str, options: &[(&str, &str)]| NewBackend {
        name: "s".into(),
        backend_type: kind.into(),
        description: None,
        options: secret_pairs(options),
        active: true,
        if_not_exists: false,
    };
    // Before, the internal wording reached the user: "configure in vault backend: not supported: …".
    let message = assert_error_contains(
        plane.create_backend(&admin(), request("Gcp", &[("region", "eu-west-1")])).await,
        ErrorKind::Invalid,
        &["credential storage \"s\" (gcp) cannot be set up: backend kind \"gcp\" is not enabled in this build"],
    );
    assert!(!message.contains("configure in") && !message.contains("not supported"), "{message}");
    // A kind whose plugin is not linked into this test names the feature that compiles it in.
    for (kind, feature) in [
        ("aws", "vault-aws"),
        ("AWS", "vault-aws"),
        ("AZURE", "vault-azure"),
        ("gcp", "vault-gcp"),
        ("HashiCorp", "vault-hashicorp"),
    ] {
        assert_error_contains(
            plane.create_backend(&admin(), request(kind, &[("region", "eu-west-1")])).await,
            ErrorKind::Invalid,
            &[&format!(
                "backend kind {:?} is not enabled in this build; rebuild lanyard with `--features {feature}`",
                kind.to_ascii_lowercase()
            )],
        );
    }
    let kinds: Vec<String> = registry().kinds().iter().map(|k| k.to_ascii_uppercase()).collect();
    assert_error_contains(
        plane.create_backend(&admin(), request("nosuch", &[])).await,
        ErrorKind::Invalid,
        &[&format!(r#"unknown backend kind "nosuch"; available kinds: {}"#, kinds.join(", "))],
    );

    // Unknown option keys are refused with the valid ones listed; required ones must be there; values are checked.
    let memory = registry().factory("memory").unwrap();
    let valid: Vec<&str> = memory.all_options().map(|o| o.name).collect();
    assert_error(
        plane.create_backend(&admin(), request("memory", &[("store", "x"), ("bogus", "1")])).await,
        ErrorKind::Invalid,
        &format!(
            r#"credential storage "s" (memory) has invalid options: unknown option "bogus"; valid options are: {}"#,
            valid.join(", ")
        ),
    );
    assert_error_contains(
        plane.create_backend(&admin(), request(ECHO, &[("token", "t")])).await,
        ErrorKind::Invalid,
        &["missing required option(s): region"],
    );
    assert_error_contains(
        plane.create_backend(&admin(), request("memory", &[("fail_rate", "2")])).await,
        ErrorKind::Invalid,
        &[r#"option "fail_rate" must be between 0.0 and 1.0, not "2""#],
    );
    assert_error_contains(
        plane.create_backend(&admin(), request("memory", &[("timeout_ms", "soon")])).await,
        ErrorKind::Invalid,
        &[r#"option "timeout_ms" must be a non-negative whole number, not "soon""#],
    );
    assert!(!exists::<Backend>(env, "s").await);
    assert_eq!(audit_state(env).await, before);

    // The same checks on ALTER … SET OPTIONS, which leaves the row as it was.
    create_memory_backend(env, "mem", &unique_store()).await;
    let stored: Backend = row(env, "mem").await;
    let before = audit_state(env).await;
    assert_error(
        plane
            .alter_backend(
                &admin(),
                &by_name("mem"),
                &[BackendAction::SetOptions(secret_pairs(&[("bogus", "1")]))],
                None,
            )
            .await,
        ErrorKind::Invalid,
        &format!(
            r#"action 1: credential storage "mem" (memory) has invalid options: unknown option "bogus"; valid options are: {}"#,
            valid.join(", ")
        ),
    );
    assert_eq!(row::<Backend>(env, "mem").await, stored);
    assert_eq!(audit_state(env).await, before);
}

async fn test_backend_reports_steps(env: &Env) {
    let plane = &env.plane;
    let local = plane.test_backend(&admin(), &by_name("local")).await.unwrap();
    assert!(local.passed, "{:?}", local.steps);
    assert!(local.steps.len() >= 3, "{:?}", local.steps);
    assert!(local.steps.iter().all(|s| s.outcome.is_ok()));
    assert!(local.steps.iter().any(|s| s.step.starts_with("write scratch profile")), "{:?}", local.steps);
    assert!(
        local_backend(env).await.list().await.unwrap().is_empty(),
        "the probe is non-destructive: its scratch profile is gone"
    );

    let store = unique_store();
    let mem = create_memory_backend(env, "mem", &store).await;
    let report = plane.test_backend(&admin(), &ObjectKey::Id(*mem.id.as_uuid())).await.unwrap();
    assert!(report.passed && !report.steps.is_empty(), "{:?}", report.steps);
    assert_eq!(lanyard_vault_memory::store(&store).probes(), 1);

    // A failing backend fails its test: a result, not an error.
    lanyard_vault_memory::store(&store)
        .set_faults(lanyard_vault_memory::Faults { fail_rate: 1.0, ..Default::default() });
    let report = plane.test_backend(&admin(), &by_name("mem")).await.unwrap();
    assert!(!report.passed, "{:?}", report.steps);
    assert!(
        report.steps.iter().any(|s| s.outcome.as_ref().is_err_and(|e| e.contains("backend unavailable"))),
        "{:?}",
        report.steps
    );
    lanyard_vault_memory::store(&store).set_faults(lanyard_vault_memory::Faults::default());

    assert_error(
        plane.test_backend(&admin(), &by_name("nope")).await,
        ErrorKind::NotFound,
        r#"credential storage "nope" does not exist"#,
    );
}

async fn secret_options_are_stripped(env: &Env) {
    let plane = &env.plane;
    let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
    let view = plane.create_backend(&admin(), echo_backend("echo", "eu-1", &token)).await.unwrap().value;
    assert_eq!(view.backend_type, ECHO);
    assert_eq!(view.options, [("region".to_owned(), "eu-1".to_owned())]);
    assert_eq!(view.secret_options, ["token"]);
    assert!(!format!("{view:?}").contains(&token));

    // The row holds the plain options only.
    let stored: Backend = row(env, "echo").await;
    assert_eq!(serde_json::Value::Object(stored.config.clone()), serde_json::json!({"region": "eu-1"}));
    assert!(!format!("{stored:?}").contains(&token));
    assert_eq!(
        env.raw_text("SELECT config FROM vault_backends WHERE id = $1", &view.id.to_string()).await.as_deref(),
        Some(r#"{"region":"eu-1"}"#)
    );
    // The secret ones are in the local backend under backend::<id>.
    let local = local_backend(env).await;
    let kept = |local: std::sync::Arc<dyn lanyard_vault::VaultBackend>| async move {
        match local.get(&SecretRef::Profile(Profile::Backend(view.id))).await {
            Ok(value) => Some(serde_json::from_slice::<serde_json::Value>(value.expose_bytes()).unwrap()),
            Err(e) if e.kind() == lanyard_vault::ErrorKind::NotFound => None,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(kept(local.clone()).await, Some(serde_json::json!({ "token": token })));
    let record = last_audit(env).await;
    assert_eq!(record.record.detail["secret_options"], serde_json::json!(["token"]));
    assert!(!format!("{record:?}").contains(&token));
    assert_eq!(plane.get_backend(&admin(), &by_name("echo")).await.unwrap().secret_options, ["token"]);

    // The plugin is built with them: a linked entry resolves through it.
    plane
        .create_entry(
            &admin(),
            NewEntry {
                material: lanyard_control::Material::Linked("anything".into()),
                ..credential("ext", "", Some("echo"))
            },
        )
        .await
        .unwrap();
    create_connection(env, NewConnection { credential: Some("ext".into()), ..new_connection("c", "rest", &[]) }).await;
    assert_eq!(resolve_text(env, "c").await, format!("{token}@eu-1"));
    // It cannot store material.
    assert_error(
        plane.create_entry(&admin(), credential("stored", "pw", Some("echo"))).await,
        ErrorKind::Invalid,
        r#"credential storage "echo" (secret_echo) cannot store material; use LINKED EXTERNAL SECRET"#,
    );

    // SET OPTIONS replaces the map, and the kept secrets with it.
    let token2 = format!("tok-{}", uuid::Uuid::new_v4().simple());
    let altered = plane
        .alter_backend(
            &admin(),
            &by_name("echo"),
            &[BackendAction::SetOptions(vec![
                ("region".into(), SecretString::new("us-2")),
                ("token".into(), SecretString::new(token2.clone())),
            ])],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (altered.options.clone(), altered.secret_options.clone()),
        (vec![("region".to_owned(), "us-2".to_owned())], vec!["token".to_owned()])
    );
    assert_eq!(kept(local.clone()).await, Some(serde_json::json!({ "token": token2 })));
    assert!(!format!("{:?}", row::<Backend>(env, "echo").await).contains(&token2));
    assert_eq!(resolve_text(env, "c").await, format!("{token2}@us-2"), "the next resolve uses the new options");

    // A failed ALTER puts the previous secrets back.
    create_memory_backend(env, "taken", &unique_store()).await;
    let before = (row::<Backend>(env, "echo").await, audit_state(env).await);
    assert_error(
        plane
            .alter_backend(
                &admin(),
                &by_name("echo"),
                &[
                    BackendAction::SetOptions(secret_pairs(&[("region", "ap-3"), ("token", "never-kept")])),
                    BackendAction::RenameTo("taken".into()),
                ],
                None,
            )
            .await,
        ErrorKind::AlreadyExists,
        r#"credential storage "taken" already exists"#,
    );
    assert_eq!((row::<Backend>(env, "echo").await, audit_state(env).await), before);
    assert_eq!(kept(local.clone()).await, Some(serde_json::json!({ "token": token2 })));
    assert_eq!(resolve_text(env, "c").await, format!("{token2}@us-2"));
    // A secret option is required for this plugin: SET OPTIONS without it is refused.
    assert_error_contains(
        plane
            .alter_backend(
                &admin(),
                &by_name("echo"),
                &[BackendAction::SetOptions(secret_pairs(&[("region", "x")]))],
                None,
            )
            .await,
        ErrorKind::Invalid,
        &["action 1: ", "missing required option(s): token"],
    );

    // With no secret option left, SET OPTIONS deletes the kept ones; adding one back keeps it again.
    let optional =
        NewBackend { backend_type: crate::common::OPTIONAL_ECHO.into(), ..echo_backend("opt", "eu-1", &token) };
    let opt = plane.create_backend(&admin(), optional).await.unwrap().value;
    let kept_opt = |local: std::sync::Arc<dyn lanyard_vault::VaultBackend>| async move {
        local.get(&SecretRef::Profile(Profile::Backend(opt.id))).await.ok().map(|v| v.expose_bytes().to_vec())
    };
    assert_eq!(kept_opt(local.clone()).await, Some(serde_json::json!({ "token": token }).to_string().into_bytes()));
    let altered = plane
        .alter_backend(
            &admin(),
            &by_name("opt"),
            &[BackendAction::SetOptions(secret_pairs(&[("region", "eu-9")]))],
            None,
        )
        .await
        .unwrap();
    assert!(altered.secret_options.is_empty());
    assert_eq!(kept_opt(local.clone()).await, None, "no secret option left: backend::<id> is deleted");
    assert!(plane.get_backend(&admin(), &by_name("opt")).await.unwrap().secret_options.is_empty());
    let linked =
        NewEntry { material: lanyard_control::Material::Linked("x".into()), ..credential("opt_ext", "", Some("opt")) };
    plane.create_entry(&admin(), linked).await.unwrap();
    create_connection(
        env,
        NewConnection { credential: Some("opt_ext".into()), ..new_connection("opt_c", "rest", &[]) },
    )
    .await;
    assert_eq!(resolve_text(env, "opt_c").await, "none@eu-9");
    plane
        .alter_backend(
            &admin(),
            &by_name("opt"),
            &[BackendAction::SetOptions(secret_pairs(&[("region", "eu-9"), ("token", "t3")]))],
            None,
        )
        .await
        .unwrap();
    assert_eq!(resolve_text(env, "opt_c").await, "t3@eu-9");
    assert_eq!(plane.get_backend(&admin(), &by_name("opt")).await.unwrap().secret_options, ["token"]);
    plane.drop_connection(&admin(), "opt_c", None).await.unwrap();
    plane.drop_entry(&admin(), &ObjectKey::Name("opt_ext".into()), None).await.unwrap();
    plane.drop_backend(&admin(), &by_name("opt"), None).await.unwrap();
    assert_eq!(kept_opt(local.clone()).await, None);

    // DROP deletes the kept secrets after the row.
    plane.drop_connection(&admin(), "c", None).await.unwrap();
    plane.drop_entry(&admin(), &ObjectKey::Name("ext".into()), None).await.unwrap();
    plane.drop_backend(&admin(), &by_name("echo"), None).await.unwrap();
    assert!(!exists::<Backend>(env, "echo").await);
    assert_eq!(kept(local.clone()).await, None, "DROP deletes backend::<id>");
    assert!(local.list().await.unwrap().is_empty());
}
