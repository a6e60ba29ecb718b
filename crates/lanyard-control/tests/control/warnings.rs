//! Warnings on the answers of writes (an EXPIRES in the past or within 14 days, a connection whose credential expires
//! soon), never on reads and never a refusal; and the refusal of an entry with no material.

use lanyard_catalog::{Timestamp, VaultEntry};
use lanyard_control::{
    ConnectionAction, EntryAction, EntryType, Material, NewConnection, NewEntry, NoProber, ObjectKey, Warning,
};
use lanyard_core::{ErrorKind, WarningCode};

use crate::common::{
    Env, admin, assert_error, audit_state, both, create_connection, credential, exists, new_connection,
};

both!(
    an_expiry_in_the_past_or_within_14_days_warns,
    a_connection_whose_credential_expires_soon_warns,
    an_entry_without_material_is_refused,
);

const DAY: i64 = 86_400_000_000;

/// An EXPIRES `days` days and an hour from now (the hour keeps the day count whole while the test runs).
fn in_days(days: i64) -> String {
    Timestamp::from_micros(Timestamp::now().as_micros() + days * DAY + DAY / 24).to_string()
}

fn expiring(name: &str, expires: &str) -> NewEntry {
    NewEntry { expires_at: Some(expires.to_owned()), ..credential(name, "s3cr3t", None) }
}

fn codes(warnings: &[Warning]) -> Vec<WarningCode> {
    warnings.iter().map(|w| w.code).collect()
}

async fn an_expiry_in_the_past_or_within_14_days_warns(env: &Env) {
    let plane = &env.plane;

    // In the past: created all the same (EXPIRES is advisory), with a warning that says how long ago.
    let old = plane.create_entry(&admin(), expiring("old", "2020-01-01")).await.unwrap();
    assert!(old.created);
    assert_eq!(codes(&old.value.warnings), [WarningCode::Expired]);
    let message = &old.value.warnings[0].message;
    assert!(message.starts_with(r#"vault entry "old" expired "#), "{message}");
    assert!(message.ends_with(" days ago (EXPIRES 2020-01-01T00:00:00.000000Z)"), "{message}");
    assert!(exists::<VaultEntry>(env, "old").await);

    // Within 14 days.
    let at = in_days(3);
    let soon = plane.create_entry(&admin(), expiring("soon", &at)).await.unwrap();
    let expected = Warning {
        code: WarningCode::ExpiresSoon,
        message: format!(r#"vault entry "soon" expires in 3 days (EXPIRES {at})"#),
    };
    assert_eq!(soon.value.warnings, std::slice::from_ref(&expected));

    // Later than 14 days, or no expiry: nothing to say.
    let later = plane.create_entry(&admin(), expiring("later", &in_days(15))).await.unwrap();
    assert_eq!(later.value.warnings, []);
    let never = plane.create_entry(&admin(), credential("never", "x", None)).await.unwrap();
    assert_eq!(never.value.warnings, []);

    // Reads never warn; IF NOT EXISTS that finds the entry changed nothing and warns about nothing.
    assert_eq!(plane.get_entry(&admin(), &ObjectKey::Name("old".into())).await.unwrap().warnings, []);
    assert!(plane.list_entries(&admin(), None).await.unwrap().iter().all(|e| e.warnings.is_empty()));
    let again = plane.create_entry(&admin(), NewEntry { if_not_exists: true, ..expiring("old", "2020-01-01") }).await;
    let again = again.unwrap();
    assert_eq!((again.created, again.value.warnings), (false, vec![]));

    // ALTER warns about the expiry the entry has after it: one it sets, or one it keeps.
    let alter = |name: &'static str, action: EntryAction| async move {
        plane.alter_entry(&admin(), &ObjectKey::Name(name.to_owned()), &[action], None).await.unwrap().warnings
    };
    let warnings = alter("later", EntryAction::SetExpires(Some("2021-06-30".into()))).await;
    assert_eq!(codes(&warnings), [WarningCode::Expired]);
    assert_eq!(alter("soon", EntryAction::SetDescription(Some("d".into()))).await, [expected]);
    assert_eq!(alter("old", EntryAction::SetExpires(Some(in_days(90)))).await, []);
    assert_eq!(alter("old", EntryAction::SetExpires(None)).await, []);
}

async fn a_connection_whose_credential_expires_soon_warns(env: &Env) {
    let plane = &env.plane;
    let at = in_days(2);
    plane.create_entry(&admin(), expiring("soon", &at)).await.unwrap();
    plane.create_entry(&admin(), expiring("old", "2020-01-01")).await.unwrap();
    plane.create_entry(&admin(), expiring("fresh", &in_days(400))).await.unwrap();
    let soon_warning = Warning {
        code: WarningCode::CredentialExpiresSoon,
        message: format!(r#"connection "pg" uses vault entry "soon", which expires in 2 days (EXPIRES {at})"#),
    };

    // CREATE CONNECTION … CREDENTIAL = soon.
    let created = plane
        .create_connection(
            &admin(),
            NewConnection { credential: Some("soon".into()), ..new_connection("pg", "postgresql", &[("host", "h")]) },
        )
        .await
        .unwrap();
    assert_eq!(created.value.warnings, std::slice::from_ref(&soon_warning));
    assert_eq!(created.value.credential_expires_at.map(|t| t.to_string()), Some(at.clone()));

    // Reads show the expiry, never warnings.
    let got = plane.get_connection(&admin(), "pg").await.unwrap();
    assert_eq!((got.credential_expires_at.map(|t| t.to_string()), got.warnings), (Some(at.clone()), vec![]));
    let listed = plane.list_connections(&admin(), None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].credential_expires_at.map(|t| t.to_string()), &listed[0].warnings), (Some(at), &vec![]));

    // TEST CONNECTION warns too, whatever the probe says.
    let unprobed = plane.clone().with_prober(std::sync::Arc::new(NoProber));
    let tested = unprobed.test_connection(&admin(), "pg").await.unwrap();
    assert_eq!(tested.warnings, [soon_warning]);

    // ALTER: to an expired credential, to a fresh one, then to none.
    let alter = |action: ConnectionAction| async move { plane.alter_connection(&admin(), "pg", &[action], None).await };
    let altered = alter(ConnectionAction::SetCredential("old".into())).await.unwrap();
    assert_eq!(codes(&altered.warnings), [WarningCode::CredentialExpired]);
    let message = &altered.warnings[0].message;
    assert!(message.starts_with(r#"connection "pg" uses vault entry "old", which expired "#), "{message}");
    assert!(message.ends_with(" days ago (EXPIRES 2020-01-01T00:00:00.000000Z)"), "{message}");
    let altered = alter(ConnectionAction::SetCredential("fresh".into())).await.unwrap();
    assert_eq!(altered.warnings, []);
    assert!(altered.credential_expires_at.is_some(), "the expiry is shown even when it is far");
    let altered = alter(ConnectionAction::UnsetCredential).await.unwrap();
    assert_eq!((altered.credential_expires_at, altered.warnings), (None, vec![]));
    assert_eq!(unprobed.test_connection(&admin(), "pg").await.unwrap().warnings, []);

    // A connection with no credential at all.
    let plain = create_connection(env, new_connection("api", "rest", &[("endpoint", "http://127.0.0.1:9/")])).await;
    assert_eq!((plain.credential_expires_at, plain.warnings), (None, vec![]));
}

async fn an_entry_without_material_is_refused(env: &Env) {
    let plane = &env.plane;
    let before = audit_state(env).await;
    let none = |name: &str, entry_type| NewEntry { entry_type, material: Material::None, ..credential(name, "", None) };
    assert_error(
        plane.create_entry(&admin(), none("k2", EntryType::EncryptionKey)).await,
        ErrorKind::Invalid,
        r#"vault entry "k2" has no material; give it one of SECRET '<value>', GENERATE or LINKED EXTERNAL SECRET '<external_name>' (an entry without material can never be resolved)"#,
    );
    assert_error(
        plane.create_entry(&admin(), none("c2", EntryType::Credential)).await,
        ErrorKind::Invalid,
        r#"vault entry "c2" has no material; give it one of SECRET '<value>' or LINKED EXTERNAL SECRET '<external_name>' (an entry without material can never be resolved)"#,
    );
    assert!(!exists::<VaultEntry>(env, "k2").await && !exists::<VaultEntry>(env, "c2").await);
    assert_eq!(audit_state(env).await, before, "a refused CREATE leaves no audit record");
}
