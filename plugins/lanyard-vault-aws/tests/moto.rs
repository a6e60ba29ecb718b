//! The AWS backend against moto, a real third-party Secrets Manager and STS emulator: the shared behaviour suite,
//! linked external secrets (versions, stages, ARNs, `#field`), assume_role through moto's STS, and permission
//! denied from a private moto with IAM checks on.
//!
//! Needs moto: run with `cargo run -p xtask -- test -p lanyard-vault-aws`, which starts it and sets
//! `LANYARD_TEST_MOTO_URL`; without it every test here fails saying so (none is skipped).

#![allow(missing_docs)]

use std::sync::Arc;

use lanyard_core::{BackendId, SecretString, VaultEntryId};
use lanyard_testsupport::{
    MOTO_ACCESS_KEY_ID, MOTO_REGION, MOTO_SECRET_ACCESS_KEY, PrivateMoto, moto_create_secret, moto_put_secret_value,
    moto_url, unique_name,
};
use lanyard_vault::{ErrorKind, ExternalName, Profile, SecretRef, SecretValue, VaultBackend, select_json_field};
use lanyard_vault_aws::{AwsBackend, new_backend};

const CANARY: &str = "canary-aws-7Hq2";

/// A backend on the shared moto with static keys and a prefix of its own (tests share the server).
fn on_moto(prefix: &str) -> AwsBackend {
    new_backend(
        BackendId::new_random(),
        &[
            ("endpoint_url", &moto_url()),
            ("region", MOTO_REGION),
            ("auth_method", "access_key"),
            ("access_key_id", MOTO_ACCESS_KEY_ID),
            ("secret_access_key", MOTO_SECRET_ACCESS_KEY),
            ("secrets_manager_prefix", prefix),
        ],
    )
    .expect("a valid configuration")
}

fn fixture() -> Arc<dyn VaultBackend> {
    Arc::new(on_moto(&format!("{}/", unique_name("lanyard-t-behaviour"))))
}

lanyard_vault::behaviour_tests!(mod behaviour: [store, link, ambient_identity] => fixture());

fn text(value: &SecretValue) -> String {
    String::from_utf8(value.expose_bytes().to_vec()).expect("UTF-8")
}

/// `get` of a linked name as the resolver does it: `#field` split off and applied after the read.
async fn linked(backend: &dyn VaultBackend, name: &str) -> lanyard_vault::Result<SecretValue> {
    let external = ExternalName::parse(name)?;
    let value = backend.get(&SecretRef::External(external.locator)).await?;
    match external.field {
        Some(field) => select_json_field(&value, &field, backend.kind()),
        None => Ok(value),
    }
}

#[tokio::test]
async fn linked_secrets_are_read_by_name_arn_stage_version_and_field() {
    let url = moto_url();
    let backend = on_moto("lanyard-t-unused/");
    let name = unique_name("lanyard-t/linked/");
    let arn = moto_create_secret(&url, MOTO_REGION, &name, r#"{"username":"app","password":"first-pw"}"#);
    let first = backend.get(&SecretRef::External(name.clone())).await.unwrap();
    let first_version = first.version().expect("a version id").to_owned();
    let second_version =
        moto_put_secret_value(&url, MOTO_REGION, &name, r#"{"username":"app","password":"second-pw"}"#);

    let current = linked(&backend, &format!("{name}#password")).await.unwrap();
    assert_eq!((text(&current).as_str(), current.version()), ("second-pw", Some(second_version.as_str())));
    let previous = linked(&backend, &format!("{name}#password?version_stage=AWSPREVIOUS")).await.unwrap();
    assert_eq!((text(&previous).as_str(), previous.version()), ("first-pw", Some(first_version.as_str())));
    let by_id = linked(&backend, &format!("{name}?version_id={first_version}#username")).await.unwrap();
    assert_eq!(text(&by_id), "app");
    let by_arn = linked(&backend, &format!("{arn}#password")).await.unwrap();
    assert_eq!(text(&by_arn), "second-pw");

    let unknown = linked(&backend, &format!("{name}?stage=AWSPREVIOUS")).await.unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::ConfigInvalid, "{unknown}");
    assert!(unknown.to_string().contains(r#"unknown query key "stage""#), "{unknown}");
    let no_field = linked(&backend, &format!("{name}#pwd")).await.unwrap_err();
    assert!(!no_field.to_string().contains("second-pw"), "{no_field}");
    let missing = linked(&backend, &format!("{name}-missing#password")).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(missing.to_string().contains(&format!("{name}-missing")), "{missing}");
}

#[tokio::test]
async fn material_is_stored_under_the_prefix_with_versions() {
    let prefix = format!("{}/", unique_name("lanyard-t-versions"));
    let backend = on_moto(&prefix);
    let profile = Profile::Entry(VaultEntryId::new_random());
    backend.put(&profile, &SecretValue::from(SecretString::new("one"))).await.unwrap();
    let one = backend.get(&SecretRef::Profile(profile)).await.unwrap();
    backend.put(&profile, &SecretValue::from(SecretString::new("two"))).await.unwrap();
    let two = backend.get(&SecretRef::Profile(profile)).await.unwrap();
    assert_eq!(text(&two), "two");
    assert!(one.version().is_some() && one.version() != two.version(), "{one:?} {two:?}");
    // The physical name is what a linked name reads: the same secret, the previous version under AWSPREVIOUS.
    let physical = backend.physical_name(&profile);
    assert!(physical.starts_with(&format!("{prefix}vault/")), "{physical}");
    let previous = linked(&backend, &format!("{physical}?version_stage=AWSPREVIOUS")).await.unwrap();
    assert_eq!(text(&previous), "one");
    // Empty material, which AWS does not store as such, survives overwrites both ways.
    for value in ["", "three", "", "four"] {
        backend.put(&profile, &SecretValue::from(SecretString::new(value))).await.unwrap();
        assert_eq!(text(&backend.get(&SecretRef::Profile(profile)).await.unwrap()), value);
    }
    assert_eq!(backend.list().await.unwrap(), [profile]);
    backend.delete(&profile).await.unwrap();
    assert_eq!(backend.list().await.unwrap(), []);
}

#[tokio::test]
async fn assume_role_with_an_external_id_reads_with_temporary_credentials_from_sts() {
    let backend = new_backend(
        BackendId::new_random(),
        &[
            ("endpoint_url", &moto_url()),
            ("region", MOTO_REGION),
            ("auth_method", "assume_role"),
            ("role_arn", "arn:aws:iam::123456789012:role/lanyard-reader"),
            ("external_id", "lanyard-external-id"),
            ("role_session_name", "lanyard-test"),
            ("access_key_id", MOTO_ACCESS_KEY_ID),
            ("secret_access_key", MOTO_SECRET_ACCESS_KEY),
            ("secrets_manager_prefix", &format!("{}/", unique_name("lanyard-t-role"))),
        ],
    )
    .unwrap();
    let report = backend.probe().await.unwrap();
    assert!(report.passed(), "{report:?}");
    assert!(report.steps[0].step.contains("lanyard-reader"), "{report:?}");
    let identity = backend.ambient_identity().await.unwrap();
    let options: std::collections::BTreeMap<&str, &str> = identity.options.iter_exposed().collect();
    let key = options["access_key_id"];
    assert_ne!(key, MOTO_ACCESS_KEY_ID, "the lent key is the role session's, not the base key");
    assert!(options.contains_key("secret_access_key"), "{identity:?}");
    assert!(options.get("session_token").is_some_and(|token| !token.is_empty()), "temporary credentials carry a token");
    assert!(identity.description.contains("assumed as session \"lanyard-test\""), "{}", identity.description);
    // Cached while valid: the same session is lent again.
    let again = backend.ambient_identity().await.unwrap();
    assert_eq!(again.options.iter_exposed().collect::<Vec<_>>(), identity.options.iter_exposed().collect::<Vec<_>>());

    let profile = Profile::Entry(VaultEntryId::new_random());
    backend.put(&profile, &SecretValue::from(SecretString::new("via-role"))).await.unwrap();
    assert_eq!(text(&backend.get(&SecretRef::Profile(profile)).await.unwrap()), "via-role");
    backend.delete(&profile).await.unwrap();
}

#[tokio::test]
async fn wrong_keys_are_permission_denied_on_a_moto_that_checks_them() {
    let (moto, key) = PrivateMoto::with_iam_user();
    let with = |access_key_id: &str, secret: &str| {
        new_backend(
            BackendId::new_random(),
            &[
                ("endpoint_url", moto.url()),
                ("region", MOTO_REGION),
                ("auth_method", "access_key"),
                ("access_key_id", access_key_id),
                ("secret_access_key", secret),
            ],
        )
        .unwrap()
    };
    let good = with(&key.id, &key.secret);
    let profile = Profile::Entry(VaultEntryId::new_random());
    good.put(&profile, &SecretValue::from(SecretString::new(CANARY))).await.unwrap();
    assert_eq!(text(&good.get(&SecretRef::Profile(profile)).await.unwrap()), CANARY);
    assert!(good.probe().await.unwrap().passed());

    for backend in [with(&key.id, &format!("{CANARY}-wrong")), with("AKIAUNKNOWNKEY00", CANARY)] {
        let error = backend.get(&SecretRef::Profile(profile)).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
        assert!(!error.is_temporary());
        let shown = format!("{error} {error:?} {backend:?}");
        assert!(!shown.contains(CANARY), "{shown}");
        let report = backend.probe().await.unwrap();
        assert!(!report.passed(), "{report:?}");
        let failed = report.steps.iter().find_map(|step| step.outcome.as_ref().err()).unwrap();
        assert!(failed.contains("permission denied"), "{report:?}");
        assert!(!format!("{report:?}").contains(CANARY), "{report:?}");
    }
    // assume_role signed with a wrong base key: STS refuses, and the error says so.
    let role = new_backend(
        BackendId::new_random(),
        &[
            ("endpoint_url", moto.url()),
            ("region", MOTO_REGION),
            ("auth_method", "assume_role"),
            ("role_arn", "arn:aws:iam::123456789012:role/lanyard-reader"),
            ("access_key_id", &key.id),
            ("secret_access_key", &format!("{CANARY}-wrong")),
        ],
    )
    .unwrap();
    let error = role.get(&SecretRef::Profile(profile)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert!(error.to_string().contains("STS AssumeRole failed"), "{error}");
    assert!(!error.to_string().contains(CANARY), "{error}");
    let error = role.ambient_identity().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    good.delete(&profile).await.unwrap();
}

#[tokio::test]
async fn a_stopped_moto_is_unavailable() {
    let (moto, key) = PrivateMoto::with_iam_user();
    let backend = new_backend(
        BackendId::new_random(),
        &[
            ("endpoint_url", moto.url()),
            ("region", MOTO_REGION),
            ("auth_method", "access_key"),
            ("access_key_id", &key.id),
            ("secret_access_key", &key.secret),
            ("timeout_ms", "2000"),
        ],
    )
    .unwrap();
    assert!(backend.probe().await.unwrap().passed());
    drop(moto);
    let started = std::time::Instant::now();
    let error = backend.get(&SecretRef::External("prod/db".into())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(error.is_temporary());
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
}
