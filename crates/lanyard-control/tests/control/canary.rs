//! The canary (quality.md, "Security"): distinctive secrets given to the Control Plane — a credential's SECRET, a
//! SET SECRET, a storage's secret option — appear nowhere they should not: not in the catalog database's bytes (the
//! SQLite file and its WAL; every table's rows on PostgreSQL), not in the audit log, not in any view or error.

use lanyard_control::{BackendAction, ConnectionAction, EntryAction, Material, NewConnection, NewEntry, ObjectKey};
use lanyard_core::SecretString;

use crate::common::{Db, Env, admin, both, credential, new_backend, new_connection, resolve_text, secret_pairs};

both!(canaries_stay_secret);

/// Asserts that none of `canaries` occurs in `text`.
#[track_caller]
fn clean(what: &str, text: &str, canaries: &[String]) {
    for canary in canaries {
        assert!(!text.contains(canary.as_str()), "{what} contains the canary {canary}");
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn canaries_stay_secret(env: &Env) {
    let plane = &env.plane;
    let canary = |what: &str| format!("canary-{what}-{}", uuid::Uuid::new_v4().simple());
    let secret = canary("secret");
    let rotated = canary("rotated");
    let option = canary("option");
    let option2 = canary("option2");
    let refused = canary("refused");
    let canaries = [secret.clone(), rotated.clone(), option.clone(), option2.clone(), refused.clone()];
    let mut shown = Vec::<String>::new();

    // Stored secrets: a credential, its replacement, a storage's secret option and its replacement.
    let entry = plane.create_entry(&admin(), credential("login", &secret, None)).await.unwrap();
    shown.push(format!("{entry:?}"));
    let request = new_backend("echo", crate::common::ECHO, &[("region", "eu-1"), ("token", &option)]);
    shown.push(format!("{request:?}"));
    shown.push(format!("{:?}", plane.create_backend(&admin(), request).await.unwrap()));
    let connection = plane
        .create_connection(
            &admin(),
            NewConnection { credential: Some("login".into()), ..new_connection("pg", "postgresql", &[("host", "h")]) },
        )
        .await
        .unwrap();
    shown.push(format!("{connection:?}"));
    assert_eq!(resolve_text(env, "pg").await, secret, "the material is there, for those who resolve it");
    let resolved = plane.resolver().resolve(lanyard_core::Name::new("pg").unwrap()).await.unwrap();
    shown.push(format!("{resolved:?}"));
    let actions = [EntryAction::SetSecret(SecretString::new(rotated.clone()))];
    shown.push(format!("{actions:?}"));
    shown.push(format!(
        "{:?}",
        plane.alter_entry(&admin(), &ObjectKey::Name("login".into()), &actions, None).await.unwrap()
    ));
    assert_eq!(resolve_text(env, "pg").await, rotated);
    let backend_actions = [BackendAction::SetOptions(secret_pairs(&[("region", "eu-2"), ("token", &option2)]))];
    shown.push(format!("{backend_actions:?}"));
    shown.push(format!(
        "{:?}",
        plane.alter_backend(&admin(), &ObjectKey::Name("echo".into()), &backend_actions, None).await.unwrap()
    ));
    plane
        .create_entry(
            &admin(),
            NewEntry { material: Material::Linked("x".into()), ..credential("linked", "", Some("echo")) },
        )
        .await
        .unwrap();
    plane
        .create_connection(
            &admin(),
            NewConnection { credential: Some("linked".into()), ..new_connection("via", "rest", &[]) },
        )
        .await
        .unwrap();
    assert_eq!(resolve_text(env, "via").await, format!("{option2}@eu-2"));
    let test = plane.test_connection(&admin(), "pg").await.unwrap();
    shown.push(format!("{test:?}"));
    shown.push(format!("{:?}", plane.test_backend(&admin(), &ObjectKey::Name("echo".into())).await.unwrap()));

    // Refused requests carrying secrets: their errors echo no value.
    let alter_login = async |actions: &[EntryAction]| {
        plane.alter_entry(&admin(), &ObjectKey::Name("login".into()), actions, None).await.map(|_| ())
    };
    let errors = [
        plane.create_entry(&admin(), credential("login", &refused, None)).await.map(|_| ()),
        plane
            .create_entry(&admin(), NewEntry { material: Material::Generate, ..credential("k", &refused, None) })
            .await
            .map(|_| ()),
        alter_login(&[
            EntryAction::SetSecret(SecretString::new(refused.clone())),
            EntryAction::RenameTo("linked".into()),
        ])
        .await,
        alter_login(&[EntryAction::Rotate, EntryAction::SetSecret(SecretString::new(refused.clone()))]).await,
        plane.create_backend(&admin(), new_backend("bad", "memory", &[("bogus", &refused)])).await.map(|_| ()),
        plane.create_backend(&admin(), new_backend("bad", "aws", &[("secret_access_key", &refused)])).await.map(|_| ()),
        plane
            .alter_backend(
                &admin(),
                &ObjectKey::Name("echo".into()),
                &[BackendAction::SetOptions(secret_pairs(&[("token", &refused)]))],
                None,
            )
            .await
            .map(|_| ()),
        plane
            .create_connection(&admin(), new_connection("x", "postgresql", &[("password", &refused)]))
            .await
            .map(|_| ()),
        plane
            .create_connection(
                &admin(),
                new_connection("x", "postgresql", &[("dsn", &format!("postgres://u:{refused}@h/db"))]),
            )
            .await
            .map(|_| ()),
        plane
            .alter_connection(
                &admin(),
                "pg",
                &[ConnectionAction::SetOption { key: "api_key".into(), value: refused.clone() }],
                None,
            )
            .await
            .map(|_| ()),
    ];
    for (index, result) in errors.into_iter().enumerate() {
        let error = result.expect_err("refused");
        clean(&format!("error {index}"), &format!("{error:?} {error}"), &canaries);
    }
    assert_eq!(resolve_text(env, "pg").await, rotated, "the refused SET SECRET left the material alone");
    assert_eq!(
        resolve_text(env, "via").await,
        format!("{option2}@eu-2"),
        "the refused SET OPTIONS left the token alone"
    );

    // Every view the plane hands out.
    shown.push(format!("{:?}", plane.list_connections(&admin(), None).await.unwrap()));
    shown.push(format!("{:?}", plane.get_connection(&admin(), "pg").await.unwrap()));
    shown.push(format!("{:?}", plane.list_entries(&admin(), None).await.unwrap()));
    shown.push(format!("{:?}", plane.get_entry(&admin(), &ObjectKey::Name("login".into())).await.unwrap()));
    shown.push(format!("{:?}", plane.list_backends(&admin(), None).await.unwrap()));
    shown.push(format!("{:?}", plane.get_backend(&admin(), &ObjectKey::Name("echo".into())).await.unwrap()));
    shown.push(format!("{:?}", plane.list_tokens(&admin()).await.unwrap()));
    shown.push(format!("{plane:?}"));
    for (index, text) in shown.iter().enumerate() {
        clean(&format!("view {index}"), text, &canaries);
    }
    // The audit log, as the API returns it.
    let query = lanyard_control::AuditQuery { limit: Some(1000), ..Default::default() };
    let audit = plane.list_audit(&admin(), &query).await.unwrap();
    assert!(audit.len() >= 8, "{audit:?}");
    clean("the audit log", &format!("{audit:?}"), &canaries);

    // The catalog database itself.
    match env.db {
        Db::Sqlite => {
            let mut files = 0;
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let path = env.dir.join(format!("catalog.db{suffix}"));
                let Ok(bytes) = std::fs::read(&path) else { continue };
                files += 1;
                for canary in &canaries {
                    assert!(!contains(&bytes, canary.as_bytes()), "{} contains the canary {canary}", path.display());
                }
            }
            assert!(files >= 2, "the catalog file and its WAL were read");
            // Sanity: the scan would see a plain value, such as a connection option.
            let bytes = [
                std::fs::read(env.dir.join("catalog.db")).unwrap(),
                std::fs::read(env.dir.join("catalog.db-wal")).unwrap(),
            ]
            .concat();
            assert!(contains(&bytes, b"con::pg"), "the scan sees the stored rows");
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(&env.url).await.unwrap();
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            assert!(
                tables.iter().any(|t| t == "local_secrets") && tables.iter().any(|t| t == "audit_log"),
                "{tables:?}"
            );
            let mut dump = String::new();
            for table in &tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT t::text FROM {table} t")).fetch_all(&pool).await.unwrap();
                dump.push_str(&rows.join("\n"));
            }
            pool.close().await;
            assert!(dump.contains("con::pg"), "the dump sees the stored rows");
            clean("the PostgreSQL catalog", &dump, &canaries);
        }
    }
}
