//! One conformance suite, run against SQLite (a temporary file) and PostgreSQL (the service on 127.0.0.1:5432,
//! `LANYARD_TEST_PG` to override; each test creates and drops its own database). Test names say which backend they
//! ran on. A missing PostgreSQL fails the `postgres_*` tests loudly: they never skip.

use std::collections::BTreeMap;
use std::sync::Arc;

use lanyard_catalog::{
    ApiToken, Backend, Catalog, CatalogError, Connection, HistoryEntry, JsonObject, LastTest, Link, Listed, MIGRATIONS,
    Meta, Migration, NewAuditRecord, Page, Pipeline, PipelineFile, Principal, Record, Retention, Timestamp, VaultEntry,
};
use lanyard_core::{
    AuditAction, AuditOutcome, ConnectionType, EntryType, FileState, LOCAL_BACKEND_ID, LinkType, LoadFormat, Name,
    ObjectKind, PipelineState, TestStatus,
};
use lanyard_testsupport::{DatabaseKind, TempDatabase};

/// A catalog in a fresh database, removed when dropped (also when the test fails).
struct TestDb {
    url: String,
    kind: DatabaseKind,
    _db: TempDatabase,
}

impl TestDb {
    async fn open(&self) -> Catalog {
        Catalog::open(&self.url).await.expect("open catalog")
    }
}

/// A fresh database of `kind`; the SQLite file sits in directories that `open` creates.
fn fresh(kind: DatabaseKind) -> TestDb {
    let db = match kind {
        DatabaseKind::Sqlite => TempDatabase::sqlite_file("catalog", "nested/dir/catalog.db"),
        DatabaseKind::Postgres => TempDatabase::postgres("catalog"),
    };
    TestDb { url: db.url().to_owned(), kind, _db: db }
}

lanyard_testsupport::database_tests!(
    fresh =>
    migrations_are_idempotent_and_seed_the_local_backend,
    a_tampered_migration_is_detected,
    connections_round_trip_with_typed_errors,
    names_are_unique_and_links_are_unique_per_database,
    list_filters_case_insensitively_without_wildcards,
    references_are_checked_and_dependents_block_deletes,
    pipeline_rows_files_and_leases,
    audit_records_append_in_order,
    a_transaction_that_fails_at_its_last_step_changes_nothing,
    concurrent_version_checked_updates_lose_nothing,
    an_unknown_vocabulary_value_is_an_error_naming_column_and_value,
    a_connection_test_is_bookkeeping_beside_the_row,
    migration_4_moves_the_last_test_beside_the_row,
    names_stored_before_normalisation_stay_listable_findable_and_droppable,
    a_change_committed_elsewhere_is_seen_by_the_next_hot_read,
    an_audited_update_is_one_round_trip_and_tells_its_misses_apart,
    a_writer_between_read_and_update_is_a_conflict_or_a_rerun,
    pages_walk_every_row_once_while_rows_come_and_go,
    like_narrows_by_name_grams_that_follow_every_write,
    migration_5_indexes_the_names_already_there,
    optimistic_changes_overtaken_by_others_rerun_and_lose_nothing,
    history_keeps_every_version_as_written,
    history_is_pruned_by_count_and_by_age,
    migration_6_starts_each_history_at_the_next_change,
);

fn name(n: &str) -> Name {
    Name::new(n).unwrap()
}

fn connection(n: &str) -> Connection {
    let mut options = JsonObject::new();
    options.insert("host".into(), "db.example.com".into());
    options.insert("port".into(), "5432".into());
    Connection {
        meta: Meta::new(),
        name: name(n),
        connection_type: ConnectionType::Postgresql,
        description: Some("primary".into()),
        options,
        credential_id: None,
        credential_storage_id: None,
        max_connections: Some(8),
        timeout_seconds: None,
        last_test: None,
    }
}

fn entry(n: &str) -> VaultEntry {
    VaultEntry {
        meta: Meta::new(),
        name: name(n),
        entry_type: EntryType::Credential,
        algorithm: None,
        key_size: None,
        current_version: 1,
        storage_backend_id: LOCAL_BACKEND_ID,
        external_secret_name: None,
        owner_link_id: None,
        description: None,
        expires_at: None,
        rotated_at: None,
    }
}

fn pipeline(link_id: lanyard_core::LinkId, connection: lanyard_core::ConnectionId) -> Pipeline {
    Pipeline {
        meta: Meta::new(),
        database: name("db"),
        name: name("p"),
        link_id,
        path: "bucket/".into(),
        target_connection_id: connection,
        target_table: "public.t".parse().unwrap(),
        format: LoadFormat::Json,
        state: PipelineState::Stopped,
        cursor: None,
        last_error: None,
    }
}

fn link(db: &str, n: &str) -> Link {
    Link {
        meta: Meta::new(),
        database: name(db),
        name: name(n),
        link_type: LinkType::S3,
        description: None,
        config: JsonObject::new(),
        credential_id: None,
    }
}

async fn migrations_are_idempotent_and_seed_the_local_backend(db: &TestDb) {
    let first = db.open().await;
    first.close().await;
    let catalog = db.open().await; // applying twice is a no-op
    let local: Backend = catalog.get(LOCAL_BACKEND_ID).await.unwrap();
    assert_eq!((local.name.as_str(), local.backend_type.as_str(), local.active), ("local", "local", true));
    let backends: Vec<Backend> = catalog.list(None, None).await.unwrap();
    assert_eq!(backends.len(), 1, "the local backend is seeded exactly once");
    let databases: Vec<lanyard_catalog::Database> = catalog.list(None, None).await.unwrap();
    assert_eq!(
        databases.iter().map(|d| (d.meta.id, d.name.as_str())).collect::<Vec<_>>(),
        [(lanyard_core::DEFAULT_DATABASE_ID, "default")],
        "the default database is seeded exactly once"
    );
    catalog.close().await;
}

async fn a_tampered_migration_is_detected(db: &TestDb) {
    db.open().await.close().await;
    let tampered = [Migration {
        version: 1,
        name: "initial",
        sqlite: "CREATE TABLE x (y INTEGER);",
        postgres: "CREATE TABLE x (y INTEGER);",
    }];
    let error = Catalog::open_with(&db.url, &tampered).await.unwrap_err();
    assert!(
        matches!(&error, CatalogError::Migration { version: 1, problem, .. } if problem.contains("checksum")),
        "{error}"
    );
    // A catalog migrated by a newer build is refused by an older one.
    let error = Catalog::open_with(&db.url, &[]).await.unwrap_err();
    assert!(error.to_string().contains("unknown to this build"), "{error}");
    let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions, (1..=6).collect::<Vec<_>>(), "migrations are numbered from 1, in order");
}

async fn connections_round_trip_with_typed_errors(db: &TestDb) {
    let catalog = db.open().await;
    let created = catalog.write(async |tx| tx.insert(connection("prod_pg")).await).await.unwrap();
    assert_eq!(created.meta.version, 1);
    assert_eq!(created.entity_ref(), "con::prod_pg");
    let by_id: Connection = catalog.get(created.meta.id).await.unwrap();
    let by_name: Connection = catalog.get_by_name(&["prod_pg"]).await.unwrap();
    assert_eq!(by_id, created);
    assert_eq!(by_name, created);
    assert_eq!(by_id.options.keys().collect::<Vec<_>>(), ["host", "port"], "option order is kept");

    // Rename keeps the id; the old name is gone.
    let mut renamed = created.clone();
    renamed.name = name("prod_pg_v2");
    let renamed = catalog.write(async |tx| tx.update(renamed.clone()).await).await.unwrap();
    assert_eq!((renamed.meta.id, renamed.meta.version), (created.meta.id, 2));
    assert!(renamed.meta.updated_at >= created.meta.updated_at);
    let missing = catalog.get_by_name::<Connection>(&["prod_pg"]).await.unwrap_err();
    assert!(matches!(&missing, CatalogError::NotFound { kind: ObjectKind::Connection, name } if name == "prod_pg"));
    assert_eq!(missing.to_string(), "connection \"prod_pg\" does not exist");

    // A stale version is a version conflict, not a crash.
    let stale = catalog.write(async |tx| tx.update(created.clone()).await).await.unwrap_err();
    assert!(matches!(stale, CatalogError::VersionConflict { expected: 1, actual: 2, .. }), "{stale}");

    // Duplicates are "already exists".
    let dup = catalog.write(async |tx| tx.insert(connection("prod_pg_v2")).await).await.unwrap_err();
    assert!(matches!(&dup, CatalogError::AlreadyExists { kind: ObjectKind::Connection, name } if name == "prod_pg_v2"));

    // Delete with a stale expected version is refused; with the right one it works.
    let refused = catalog.write(async |tx| tx.delete::<Connection>(created.meta.id, Some(1)).await).await.unwrap_err();
    assert!(matches!(refused, CatalogError::VersionConflict { .. }));
    catalog.write(async |tx| tx.delete::<Connection>(created.meta.id, Some(2)).await).await.unwrap();
    let gone = catalog.get::<Connection>(created.meta.id).await.unwrap_err();
    assert!(matches!(gone, CatalogError::NotFound { .. }));
    catalog.close().await;
}

async fn names_are_unique_and_links_are_unique_per_database(db: &TestDb) {
    let catalog = db.open().await;
    catalog.write(async |tx| tx.insert(link("db1", "l")).await).await.unwrap();
    catalog.write(async |tx| tx.insert(link("db2", "l")).await).await.unwrap();
    let dup = catalog.write(async |tx| tx.insert(link("db1", "l")).await).await.unwrap_err();
    assert!(matches!(&dup, CatalogError::AlreadyExists { kind: ObjectKind::Link, name } if name == "db1.l"), "{dup}");
    let in_db1: Vec<Link> = catalog.list(None, Some("db1")).await.unwrap();
    assert_eq!(in_db1.len(), 1);
    let found: Link = catalog.get_by_name(&["db2", "l"]).await.unwrap();
    assert_eq!(found.database.as_str(), "db2");
    // Names are case-sensitive.
    catalog.write(async |tx| tx.insert(connection("Prod")).await).await.unwrap();
    catalog.write(async |tx| tx.insert(connection("prod")).await).await.unwrap();
    catalog.close().await;
}

async fn list_filters_case_insensitively_without_wildcards(db: &TestDb) {
    let catalog = db.open().await;
    for n in ["Prod_PG", "prod_mysql", "staging", "100%_real", "a_b"] {
        catalog.write(async |tx| tx.insert(connection(n)).await).await.unwrap();
    }
    let names = async |like: &str| -> Vec<String> {
        let rows: Vec<Connection> = catalog.list(Some(like), None).await.unwrap();
        rows.into_iter().map(|c| c.name.to_string()).collect()
    };
    assert_eq!(names("PROD").await, ["Prod_PG", "prod_mysql"]);
    assert_eq!(names("%").await, ["100%_real"], "% is literal, not a wildcard");
    assert_eq!(names("_").await, ["100%_real", "Prod_PG", "a_b", "prod_mysql"].map(String::from).to_vec().tap_sort());
    assert!(names("nothing").await.is_empty());
    catalog.close().await;
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<String> {
    fn tap_sort(mut self) -> Self {
        self.sort();
        self
    }
}

async fn references_are_checked_and_dependents_block_deletes(db: &TestDb) {
    let catalog = db.open().await;
    // A reference to a missing entry is refused with a clear error.
    let mut dangling = connection("c");
    dangling.credential_id = Some(lanyard_core::VaultEntryId::new_random());
    let error = catalog.write(async |tx| tx.insert(dangling.clone()).await).await.unwrap_err();
    assert!(matches!(error, CatalogError::MissingReference { kind: ObjectKind::VaultEntry, .. }), "{error}");

    let pw = catalog.write(async |tx| tx.insert(entry("pg_login")).await).await.unwrap();
    let mut c = connection("c");
    c.credential_id = Some(pw.meta.id);
    let c = catalog.write(async |tx| tx.insert(c.clone()).await).await.unwrap();
    let mut l = link("db", "l");
    l.credential_id = Some(pw.meta.id);
    let l = catalog.write(async |tx| tx.insert(l.clone()).await).await.unwrap();
    let p = pipeline(l.meta.id, c.meta.id);
    catalog.write(async |tx| tx.insert(p.clone()).await).await.unwrap();
    // The pipeline's target connection cannot go either.
    let error = catalog.write(async |tx| tx.delete::<Connection>(c.meta.id, None).await).await.unwrap_err();
    assert_eq!(error.to_string(), "connection \"c\" is still referenced by pipeline \"db.p\"");

    let error = catalog.write(async |tx| tx.delete::<VaultEntry>(pw.meta.id, None).await).await.unwrap_err();
    match &error {
        CatalogError::StillReferenced { kind: ObjectKind::VaultEntry, name, dependents } => {
            assert_eq!(name, "pg_login");
            assert_eq!(dependents, &[(ObjectKind::Connection, "c".to_owned()), (ObjectKind::Link, "db.l".to_owned())]);
        }
        other => panic!("{other}"),
    }
    assert_eq!(error.to_string(), "vault entry \"pg_login\" is still referenced by connection \"c\", link \"db.l\"");
    let error = catalog.write(async |tx| tx.delete::<Link>(l.meta.id, None).await).await.unwrap_err();
    assert!(error.to_string().contains("pipeline \"db.p\""), "{error}");
    let error = catalog.write(async |tx| tx.delete::<Backend>(LOCAL_BACKEND_ID, None).await).await.unwrap_err();
    assert!(matches!(error, CatalogError::StillReferenced { .. }));
    catalog.close().await;
}

/// A pipeline row round-trips (format, table, last error); its files are upserted by key and counted per state;
/// its lease goes to one holder at a time until it lapses; files and lease go with the pipeline.
async fn pipeline_rows_files_and_leases(db: &TestDb) {
    let catalog = db.open().await;
    let c = catalog.write(async |tx| tx.insert(connection("c")).await).await.unwrap();
    let l = catalog.write(async |tx| tx.insert(link("db", "l")).await).await.unwrap();
    let mut p = pipeline(l.meta.id, c.meta.id);
    p.last_error = Some((Timestamp::from_micros(1_700_000_000_000_000), "file \"a\" line 2: bad".into()));
    let p = catalog.write(async |tx| tx.insert(p.clone()).await).await.unwrap();
    let read: Pipeline = catalog.get(p.meta.id).await.unwrap();
    assert_eq!(read, p);
    assert_eq!(read.target_table.to_string(), "public.t");

    let file = |key: &str, state: FileState, rows: Option<i64>| PipelineFile {
        pipeline_id: p.meta.id,
        key: key.into(),
        etag: Some(format!("\"{key}\"")),
        size: 10,
        state,
        rows,
        error: None,
        updated_at: Timestamp::from_micros(1),
    };
    catalog
        .write(async |tx| {
            tx.put_pipeline_file(&file("b", FileState::Unloaded, None)).await?;
            tx.put_pipeline_file(&file("a", FileState::Loaded, Some(3))).await?;
            tx.put_pipeline_file(&file("b", FileState::Loaded, Some(4))).await?;
            tx.put_pipeline_file(&file("c", FileState::Failed, None)).await
        })
        .await
        .unwrap();
    let files = catalog.read(async |tx| tx.pipeline_files(p.meta.id).await).await.unwrap();
    assert_eq!(
        files.iter().map(|f| (f.key.as_str(), f.state)).collect::<Vec<_>>(),
        [("a", FileState::Loaded), ("b", FileState::Loaded), ("c", FileState::Failed)]
    );
    assert_eq!(files[1], file("b", FileState::Loaded, Some(4)));
    // Progress moves the cursor forward only and keeps the last error, without a version change.
    let state = catalog
        .write(async |tx| {
            tx.record_pipeline_progress(p.meta.id, Some("b"), None).await?;
            tx.record_pipeline_progress(p.meta.id, Some("a"), Some((Timestamp::from_micros(5), "late"))).await
        })
        .await
        .unwrap();
    assert_eq!(state, Some(PipelineState::Stopped));
    let after: Pipeline = catalog.get(p.meta.id).await.unwrap();
    assert_eq!(after.cursor.as_deref(), Some("b"));
    assert_eq!(after.last_error, Some((Timestamp::from_micros(5), "late".to_owned())));
    assert_eq!(after.meta.version, p.meta.version, "progress is not a change");
    let counts = catalog.read(async |tx| tx.pipeline_file_counts(p.meta.id).await).await.unwrap();
    assert_eq!((counts.loaded, counts.unloaded, counts.failed, counts.rows), (2, 0, 1, 7));

    let at = |s: i64| Timestamp::from_micros(s * 1_000_000);
    let take = |holder: &'static str, now: i64| {
        let catalog = catalog.clone();
        async move {
            catalog.write(async |tx| tx.acquire_pipeline_lease(p.meta.id, holder, at(now), at(now + 10)).await).await
        }
    };
    assert!(take("n1", 100).await.unwrap(), "a free lease is taken");
    assert!(!take("n2", 105).await.unwrap(), "a held lease is not");
    assert!(take("n1", 105).await.unwrap(), "the holder renews it");
    assert!(!take("n2", 114).await.unwrap(), "renewed until 115");
    assert!(take("n2", 116).await.unwrap(), "a lapsed lease is taken over");
    let lease = catalog.read(async |tx| tx.pipeline_lease(p.meta.id).await).await.unwrap().unwrap();
    assert_eq!((lease.holder.as_str(), lease.expires_at), ("n2", at(126)));
    catalog.write(async |tx| tx.release_pipeline_lease(p.meta.id, "n1").await).await.unwrap();
    assert!(catalog.read(async |tx| tx.pipeline_lease(p.meta.id).await).await.unwrap().is_some(), "not n1's");
    catalog.write(async |tx| tx.release_pipeline_lease(p.meta.id, "n2").await).await.unwrap();
    assert!(take("n1", 117).await.unwrap(), "a released lease is free");

    catalog.write(async |tx| tx.delete::<Pipeline>(p.meta.id, None).await).await.unwrap();
    assert!(catalog.read(async |tx| tx.pipeline_files(p.meta.id).await).await.unwrap().is_empty());
    assert!(catalog.read(async |tx| tx.pipeline_lease(p.meta.id).await).await.unwrap().is_none());
    catalog.close().await;
}

async fn audit_records_append_in_order(db: &TestDb) {
    let catalog = db.open().await;
    for i in 0..5 {
        let mut detail = JsonObject::new();
        detail.insert("i".into(), i.into());
        let record = NewAuditRecord {
            principal: "admin".into(),
            action: AuditAction::ConnectionAlter,
            object_kind: ObjectKind::Connection,
            object_id: None,
            object_name: Some(if i % 2 == 0 { "even".into() } else { "odd".into() }),
            outcome: AuditOutcome::Allowed,
            detail,
        };
        catalog.write(async |tx| tx.append_audit(&record).await).await.unwrap();
    }
    let all = catalog.read(async |tx| tx.list_audit(None, None, 100).await).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let even = catalog.read(async |tx| tx.list_audit(None, Some("even"), 100).await).await.unwrap();
    assert_eq!(even.len(), 3);
    let since = catalog.read(async |tx| tx.list_audit(Some(all[2].seq), None, 100).await).await.unwrap();
    assert_eq!(since.len(), 2);
    assert_eq!(all[4].record.detail["i"], 4);
    catalog.close().await;
}

/// Snapshot of every table the test touches, to compare before and after.
async fn snapshot(catalog: &Catalog) -> (Vec<Connection>, Vec<VaultEntry>, Vec<Backend>, usize) {
    (
        catalog.list(None, None).await.unwrap(),
        catalog.list(None, None).await.unwrap(),
        catalog.list(None, None).await.unwrap(),
        catalog.read(async |tx| tx.list_audit(None, None, 1000).await).await.unwrap().len(),
    )
}

async fn a_transaction_that_fails_at_its_last_step_changes_nothing(db: &TestDb) {
    let catalog = db.open().await;
    let c = catalog.write(async |tx| tx.insert(connection("c")).await).await.unwrap();
    let before = snapshot(&catalog).await;
    let error = catalog
        .write(async |tx| {
            let e = tx.insert(entry("new_entry")).await?;
            let mut changed = c.clone();
            changed.credential_id = Some(e.meta.id);
            changed.name = name("renamed");
            tx.update(changed).await?;
            tx.append_audit(&NewAuditRecord {
                principal: "admin".into(),
                action: AuditAction::ConnectionAlter,
                object_kind: ObjectKind::Connection,
                object_id: Some(c.meta.id.to_string()),
                object_name: Some("c".into()),
                outcome: AuditOutcome::Allowed,
                detail: JsonObject::new(),
            })
            .await?;
            // The last step fails: a duplicate name.
            tx.insert(connection("renamed")).await
        })
        .await
        .unwrap_err();
    assert!(matches!(error, CatalogError::AlreadyExists { .. }), "{error}");
    assert_eq!(snapshot(&catalog).await, before, "every table is unchanged");
    catalog.close().await;
}

async fn concurrent_version_checked_updates_lose_nothing(db: &TestDb) {
    const TASKS: usize = 8;
    const UPDATES: usize = 200;
    const ROWS: usize = 3;
    let catalog = db.open().await;
    let mut ids = Vec::new();
    for r in 0..ROWS {
        let mut c = connection(&format!("row{r}"));
        c.options = JsonObject::new();
        ids.push(catalog.write(async |tx| tx.insert(c.clone()).await).await.unwrap().meta.id);
    }
    let ids = Arc::new(ids);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let catalog = catalog.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            // (row, version after the update, the key it added) for every committed update.
            let mut committed = Vec::new();
            let mut conflicts = 0;
            for i in 0..UPDATES {
                let row = (task + i) % ROWS;
                let current: Connection = catalog.get(ids[row]).await.unwrap();
                let mut next = current.clone();
                let key = format!("t{task}_{i}");
                next.options.insert(key.clone(), serde_json::Value::from(i));
                next.description = Some(key.clone());
                match catalog.update(next).await {
                    Ok(stored) => committed.push((row, stored.meta.version, key)),
                    Err(CatalogError::VersionConflict { .. }) => conflicts += 1,
                    Err(other) => panic!("an update failed with something other than a version conflict: {other}"),
                }
            }
            (committed, conflicts)
        }));
    }
    let mut by_row: BTreeMap<usize, Vec<(i64, String)>> = BTreeMap::new();
    let mut total_conflicts = 0;
    for task in tasks {
        let (committed, conflicts) = task.await.unwrap();
        total_conflicts += conflicts;
        for (row, version, key) in committed {
            by_row.entry(row).or_default().push((version, key));
        }
    }
    let mut total_committed = 0;
    for (row, mut updates) in by_row {
        updates.sort();
        total_committed += updates.len();
        // Versions are 2, 3, …: each committed update is exactly one step, none lost or applied twice.
        let versions: Vec<i64> = updates.iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, (2..2 + updates.len() as i64).collect::<Vec<_>>(), "row {row}");
        // Serial replay of the committed updates in commit order gives the stored state.
        let mut replay = JsonObject::new();
        for (i, (_, key)) in updates.iter().enumerate() {
            let value: usize = key.rsplit('_').next().unwrap().parse().unwrap();
            replay.insert(key.clone(), serde_json::Value::from(value));
            let _ = i;
        }
        let stored: Connection = catalog.get(ids[row]).await.unwrap();
        assert_eq!(stored.options, replay, "row {row}");
        assert_eq!(stored.description.as_deref(), updates.last().map(|(_, k)| k.as_str()));
        assert_eq!(stored.meta.version, 1 + updates.len() as i64);
    }
    assert_eq!(total_committed + total_conflicts, TASKS * UPDATES);
    assert!(total_committed >= ROWS, "some updates commit");
    catalog.close().await;
}

/// Runs statements on the test database behind the catalog's back (as a hand edit or a newer build would), on one
/// connection so that a SQLite PRAGMA applies to the statements after it.
async fn raw_sql(db: &TestDb, statements: &[&str]) {
    match db.kind {
        DatabaseKind::Sqlite => {
            let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&db.url).await.unwrap();
            for statement in statements {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        DatabaseKind::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&db.url).await.unwrap();
            for statement in statements {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
}

async fn an_unknown_vocabulary_value_is_an_error_naming_column_and_value(db: &TestDb) {
    let catalog = db.open().await;
    let c = catalog.insert(connection("c")).await.unwrap();
    let e = catalog.insert(entry("e")).await.unwrap();
    let record = NewAuditRecord {
        principal: "admin".into(),
        action: AuditAction::ConnectionAlter,
        object_kind: ObjectKind::Connection,
        object_id: None,
        object_name: Some("c".into()),
        outcome: AuditOutcome::Allowed,
        detail: JsonObject::new(),
    };
    catalog.write(async |tx| tx.append_audit(&record).await).await.unwrap();
    // entry_type has a CHECK constraint: lift it, as a catalog written by a newer build would have.
    let lift_check = match db.kind {
        DatabaseKind::Sqlite => "PRAGMA ignore_check_constraints = ON",
        DatabaseKind::Postgres => "ALTER TABLE vault_entries DROP CONSTRAINT vault_entries_entry_type_check",
    };
    raw_sql(
        db,
        &[
            lift_check,
            "UPDATE external_connections SET connection_type = 'mongodb'",
            "UPDATE vault_entries SET entry_type = 'PASSWORD'",
            "UPDATE audit_log SET action = 'connection.explode'",
        ],
    )
    .await;

    let error = catalog.get::<Connection>(c.meta.id).await.unwrap_err();
    let CatalogError::UnknownValue { table, column, value, .. } = &error else { panic!("{error:?}") };
    assert_eq!((*table, *column, value.as_str()), ("external_connections", "connection_type", "mongodb"));
    assert_eq!(
        error.to_string(),
        r#"catalog row in external_connections is invalid: column connection_type holds unknown connection type "mongodb""#
    );
    assert_eq!(error.kind(), lanyard_core::ErrorKind::Internal);
    let error = catalog.find_connection("c").await.unwrap_err();
    assert!(error.to_string().contains(r#"column connection_type holds unknown connection type "mongodb""#), "{error}");
    // Never read as a default (an unknown entry type used to become CREDENTIAL).
    let error = catalog.get::<VaultEntry>(e.meta.id).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"catalog row in vault_entries is invalid: column entry_type holds unknown entry type "PASSWORD""#
    );
    let error = catalog.read(async |tx| tx.list_audit(None, None, 10).await).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"catalog row in audit_log is invalid: column action holds unknown audit action "connection.explode""#
    );
    catalog.close().await;
}

fn last_test(at: i64, status: TestStatus, error: Option<&str>) -> LastTest {
    LastTest {
        at: Timestamp::from_micros(at),
        status,
        latency_ms: Some(12),
        error: error.map(str::to_owned),
        server_version: Some("PostgreSQL 16.4".into()),
    }
}

/// The last TEST CONNECTION lives in `connection_tests`: recording it changes neither the version nor `updated_at`,
/// every read shows it, an update (ALTER) written over the version it read keeps it, a newer test replaces it, and
/// it goes with its connection.
async fn a_connection_test_is_bookkeeping_beside_the_row(db: &TestDb) {
    let catalog = db.open().await;
    let c = catalog.insert(connection("c")).await.unwrap();
    let other = catalog.insert(connection("other")).await.unwrap();
    let first = last_test(1_700_000_000_000_000, TestStatus::Ok, None);
    assert!(catalog.write(async |tx| tx.record_connection_test(c.meta.id, &first).await).await.unwrap());

    let read: Connection = catalog.get(c.meta.id).await.unwrap();
    assert_eq!(read.last_test.as_ref(), Some(&first));
    assert_eq!((read.meta.version, read.meta.updated_at), (1, c.meta.updated_at), "bookkeeping bumps nothing");
    let by_name: Connection = catalog.get_by_name(&["c"]).await.unwrap();
    assert_eq!(by_name, read);
    let (found, _, _, _) = catalog.find_connection("c").await.unwrap().expect("found").as_ref().clone();
    assert_eq!(found, read);
    let listed: Vec<Connection> = catalog.list(None, None).await.unwrap();
    assert_eq!(listed.iter().map(|c| c.last_test.is_some()).collect::<Vec<_>>(), [true, false], "{listed:?}");
    assert_eq!(listed[1].meta.id, other.meta.id);

    // An ALTER over version 1 that read no test (it read before the probe) neither conflicts nor erases the test.
    let mut stale = c.clone();
    stale.description = Some("altered".into());
    assert_eq!(stale.last_test, None);
    let updated = catalog.update(stale).await.unwrap();
    assert_eq!(updated.meta.version, 2);
    let read: Connection = catalog.get(c.meta.id).await.unwrap();
    assert_eq!((read.description.as_deref(), read.last_test.as_ref()), (Some("altered"), Some(&first)));

    let second = last_test(1_700_000_000_000_001, TestStatus::Failed, Some("password authentication failed"));
    assert!(catalog.write(async |tx| tx.record_connection_test(c.meta.id, &second).await).await.unwrap());
    let read: Connection = catalog.get(c.meta.id).await.unwrap();
    assert_eq!((read.meta.version, read.last_test), (2, Some(second.clone())));

    // A connection dropped meanwhile records nothing; a dropped one takes its test with it.
    let gone = lanyard_core::ConnectionId::new_random();
    assert!(!catalog.write(async |tx| tx.record_connection_test(gone, &second).await).await.unwrap());
    catalog.delete::<Connection>(c.meta.id, Some(2)).await.unwrap();
    assert_eq!(raw_count(db, "SELECT COUNT(*) FROM connection_tests").await, 0);
    catalog.close().await;
}

/// A catalog tested before migration 4 keeps each connection's last test: it moves from the row's columns to
/// `connection_tests`.
async fn migration_4_moves_the_last_test_beside_the_row(db: &TestDb) {
    let old = Catalog::open_with(&db.url, &MIGRATIONS[..3]).await.unwrap();
    let c = old.insert(connection("c")).await.unwrap();
    old.insert(connection("untested")).await.unwrap();
    old.close().await;
    let id = c.meta.id.to_string();
    let update = format!(
        "UPDATE external_connections SET last_tested_at = 1700000000000000, last_test_status = 'failed', \
         last_test_latency_ms = 12, last_test_error = 'password authentication failed', \
         server_version = 'PostgreSQL 16.4' WHERE id = '{id}'"
    );
    raw_sql(db, &[&update]).await;
    let catalog = db.open().await;
    let read: Connection = catalog.get(c.meta.id).await.unwrap();
    let expected = last_test(1_700_000_000_000_000, TestStatus::Failed, Some("password authentication failed"));
    assert_eq!((read.meta.version, read.last_test), (1, Some(expected)));
    let untested: Connection = catalog.get_by_name(&["untested"]).await.unwrap();
    assert_eq!(untested.last_test, None);
    assert_eq!(raw_count(db, "SELECT COUNT(*) FROM connection_tests").await, 1);
    catalog.close().await;
}

/// The one integer a query returns, read behind the catalog's back.
async fn raw_count(db: &TestDb, sql: &str) -> i64 {
    match db.kind {
        DatabaseKind::Sqlite => {
            let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&db.url).await.unwrap();
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
        DatabaseKind::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&db.url).await.unwrap();
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }
}

/// A name an earlier version stored with an invisible character (U+200B, an emoji's U+FE0F) or in decomposed form
/// (`e` + U+0301) is read back as stored: the table stays listable, the row can be found (the decomposed one by its
/// NFC too, and a new `Café` is taken for it) and dropped.
async fn names_stored_before_normalisation_stay_listable_findable_and_droppable(db: &TestDb) {
    let catalog = db.open().await;
    let stored = ["zero\u{200B}width", "heart\u{2764}\u{FE0F}", "Cafe\u{301}"];
    for (i, old) in stored.iter().enumerate() {
        let row = catalog.insert(connection(&format!("old{i}"))).await.unwrap();
        let id = row.meta.id.to_string();
        raw_sql(db, &[&format!("UPDATE external_connections SET display_name = '{old}' WHERE id = '{id}'")]).await;
    }
    let listed: Vec<String> =
        catalog.list::<Connection>(None, None).await.unwrap().into_iter().map(|c| c.name.into_string()).collect();
    let mut expected: Vec<String> = stored.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    // Found by the name as stored, and the decomposed one by its NFC as well.
    for old in stored {
        let found = catalog.read(async |tx| tx.find_by_name::<Connection>(&[old]).await).await.unwrap();
        assert_eq!(found.map(|c| c.name.into_string()).as_deref(), Some(old));
    }
    let composed = catalog.read(async |tx| tx.find_by_name::<Connection>(&["Caf\u{e9}"]).await).await.unwrap();
    assert_eq!(composed.map(|c| c.name.into_string()).as_deref(), Some("Cafe\u{301}"));
    // The write path's read of a connection with its names finds them the same way.
    for (asked, stored) in stored.iter().map(|s| (*s, *s)).chain([("Caf\u{e9}", "Cafe\u{301}")]) {
        let found = catalog.read(async |tx| tx.find_connection(asked).await).await.unwrap();
        assert_eq!(found.map(|(c, ..)| c.name.into_string()).as_deref(), Some(stored), "{asked:?}");
    }
    let missing = catalog.read(async |tx| tx.find_by_name::<Connection>(&["Cafe"]).await).await.unwrap();
    assert!(missing.is_none());
    // And dropped.
    for old in stored {
        let row = catalog.read(async |tx| tx.find_by_name::<Connection>(&[old]).await).await.unwrap().unwrap();
        catalog.delete::<Connection>(row.meta.id, Some(row.meta.version)).await.unwrap();
    }
    assert!(catalog.list::<Connection>(None, None).await.unwrap().is_empty());
    catalog.close().await;
}

/// Rounds of change-then-read in the freshness test.
const FRESH_ROUNDS: usize = 50;

/// The hot reads ([`Catalog::find_connection`], [`Catalog::find_token`]) may come from memory, but a change
/// committed before a read starts is seen by it: through another handle on the same database (as another process
/// or node would commit it), round after round; through the same handle; and behind the catalog's back. The
/// catalog's stamp moves on every commit. The rounds run outside and inside a request scope (where PostgreSQL reads
/// its stamp once, with the first row).
async fn a_change_committed_elsewhere_is_seen_by_the_next_hot_read(db: &TestDb) {
    let (here, there) = (db.open().await, db.open().await);
    let c = here.insert(connection("c")).await.unwrap();
    let principal = here
        .insert(Principal { meta: Meta::new(), name: name("ops"), role: lanyard_core::Role::Viewer })
        .await
        .unwrap();
    let token = ApiToken {
        meta: Meta::new(),
        name: name("ops/1"),
        principal_id: principal.meta.id,
        token_hash: "h1".into(),
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
    };
    let token = here.insert(token).await.unwrap();

    // The stamp moves on every commit, through this handle or another; on SQLite (a file only this test uses) it
    // stays put while nothing is committed. (A PostgreSQL snapshot moves whenever any database of the server is
    // written, as other tests do meanwhile.)
    let stamp = here.stamp().await.expect("a catalog file or a PostgreSQL database has a stamp");
    here.find_connection("c").await.unwrap();
    if db.kind == DatabaseKind::Sqlite {
        assert_eq!(here.stamp().await.as_ref(), Some(&stamp), "a read moved the stamp");
        // While nothing is committed, the WAL-index header alone proves the stamp: no pragma, no file lock.
        let pragmas = here.stamp_pragma_reads().expect("a SQLite file has a watcher");
        for _ in 0..100 {
            assert_eq!(here.stamp().await.as_ref(), Some(&stamp));
        }
        assert_eq!(here.stamp_pragma_reads(), Some(pragmas), "an unchanged header still read the pragma");
    }
    let mut changed: Connection = here.get(c.meta.id).await.unwrap();
    changed.description = Some("by this handle".into());
    here.update(changed).await.unwrap();
    let moved = here.stamp().await.unwrap();
    assert_ne!(moved, stamp, "a commit through this handle left the stamp");
    let mut changed: Connection = there.get(c.meta.id).await.unwrap();
    changed.description = Some("by another handle".into());
    there.update(changed).await.unwrap();
    assert_ne!(here.stamp().await.unwrap(), moved, "a commit through another handle left the stamp");

    for round in 0..FRESH_ROUNDS {
        // Odd rounds read as requests do (a scope each: one stamp per request), even rounds without.
        let scoped = round % 2 == 1;
        // Twice: the second read may come from memory.
        for _ in 0..2 {
            hot_reads(&here, scoped).await;
        }
        let mut changed: Connection = there.get(c.meta.id).await.unwrap();
        changed.description = Some(format!("round {round}"));
        changed.options.insert("round".into(), round.to_string().into());
        there.update(changed).await.unwrap();
        let (seen, token, _) = hot_reads(&here, scoped).await;
        assert_eq!(seen.description, Some(format!("round {round}")), "round {round}: a stale row");
        assert_eq!(seen.options["round"], round.to_string(), "round {round}: a stale row");
        assert_eq!(token.revoked_at, None);
    }

    let mut revoked: ApiToken = there.get(token.meta.id).await.unwrap();
    revoked.revoked_at = Some(Timestamp::now());
    there.update(revoked).await.unwrap();
    let (_, seen, _) = hot_reads(&here, true).await;
    assert!(seen.revoked_at.is_some(), "a revocation committed elsewhere was not seen");
    let mut renamed: Principal = there.get(principal.meta.id).await.unwrap();
    renamed.role = lanyard_core::Role::Admin;
    there.update(renamed).await.unwrap();
    let (_, _, seen) = hot_reads(&here, false).await;
    assert_eq!(seen.role, lanyard_core::Role::Admin, "a role change committed elsewhere was not seen");

    // Inside one request, a change the request commits itself is seen by its later reads.
    lanyard_catalog::request_scope(async {
        hot_reads(&here, false).await;
        let mut changed: Connection = here.get(c.meta.id).await.unwrap();
        changed.description = Some("own write".into());
        here.update(changed).await.unwrap();
        let (seen, ..) = hot_reads(&here, false).await;
        assert_eq!(seen.description.as_deref(), Some("own write"), "a request missed its own change");
    })
    .await;

    // Commits interleaved with checkpoints that restart the WAL (the header's frame count falls back to zero):
    // every one is seen by the next read.
    if db.kind == DatabaseKind::Sqlite {
        for round in 0..20 {
            let mut changed: Connection = there.get(c.meta.id).await.unwrap();
            changed.description = Some(format!("checkpointed {round}"));
            there.update(changed).await.unwrap();
            let (seen, ..) = here.find_connection("c").await.unwrap().expect("found").as_ref().clone();
            assert_eq!(seen.description, Some(format!("checkpointed {round}")), "round {round}: a stale row");
            let (seen, ..) = here.find_connection("c").await.unwrap().expect("found").as_ref().clone();
            assert_eq!(seen.description, Some(format!("checkpointed {round}")));
            raw_sql(db, &["PRAGMA wal_checkpoint(TRUNCATE)"]).await;
        }
    }

    raw_sql(db, &["UPDATE external_connections SET description = 'raw'"]).await;
    let (seen, ..) = here.find_connection("c").await.unwrap().expect("found").as_ref().clone();
    assert_eq!(seen.description.as_deref(), Some("raw"), "a write behind the catalog's back was not seen");
    there.delete::<Connection>(c.meta.id, None).await.unwrap();
    assert!(here.find_connection("c").await.unwrap().is_none(), "a dropped connection is still found");
    here.close().await;
    there.close().await;
}

/// Connection `c` and token `h1` with its principal, read through the hot paths; `scoped`: as one request.
async fn hot_reads(catalog: &Catalog, scoped: bool) -> (Connection, ApiToken, Principal) {
    let reads = async {
        let (connection, ..) = catalog.find_connection("c").await.unwrap().expect("connection c").as_ref().clone();
        let (token, principal) = catalog.find_token("h1").await.unwrap().expect("token h1");
        (connection, token, principal)
    };
    if scoped { lanyard_catalog::request_scope(reads).await } else { reads.await }
}

/// A record of an ALTER of `row`, for the audited-update tests.
fn alter_record(row: &Connection) -> NewAuditRecord {
    let mut detail = JsonObject::new();
    detail.insert("to_version".into(), row.meta.version.into());
    NewAuditRecord {
        principal: "admin".into(),
        action: AuditAction::ConnectionAlter,
        object_kind: ObjectKind::Connection,
        object_id: Some(row.meta.id.to_string()),
        object_name: Some(row.name.to_string()),
        outcome: AuditOutcome::Allowed,
        detail,
    }
}

async fn audit_len(catalog: &Catalog) -> usize {
    catalog.read(async |tx| tx.list_audit(None, None, 1000).await).await.unwrap().len()
}

/// `Tx::update_audited` writes the row and its audit record in one round trip (with the references checked in the
/// same statement), and `Tx::update` the row in one; when nothing changed, the error is the one the separate checks
/// gave before (a missing reference first, then a missing row, then a version conflict), and no audit record is
/// appended. Also through `Tx::find_connection`, the write path's read of a connection with its names.
async fn an_audited_update_is_one_round_trip_and_tells_its_misses_apart(db: &TestDb) {
    let catalog = db.open().await;
    let login = catalog.insert(entry("login")).await.unwrap();
    let mut c = connection("c");
    c.credential_id = Some(login.meta.id);
    c.credential_storage_id = Some(LOCAL_BACKEND_ID);
    let c = catalog.insert(c).await.unwrap();
    catalog.insert(connection("other")).await.unwrap();

    let read = catalog.read(async |tx| tx.find_connection("c").await).await.unwrap().expect("the row and its names");
    assert_eq!(read, (c.clone(), Some("login".to_owned()), Some("local".to_owned()), None));
    assert_eq!(catalog.read(async |tx| tx.find_connection("nope").await).await.unwrap(), None);

    // One round trip between BEGIN and COMMIT, the audit record appended with it.
    let mut next = c.clone();
    next.options.insert("k".into(), "v".into());
    let trips = catalog.round_trips();
    let (stored, seq) = catalog.write(async |tx| tx.update_audited(next.clone(), alter_record).await).await.unwrap();
    assert_eq!(catalog.round_trips() - trips, 3, "BEGIN, the UPDATE with its audit row, COMMIT");
    assert_eq!((stored.meta.version, stored.options.get("k")), (2, Some(&"v".into())));
    assert_eq!(catalog.get::<Connection>(c.meta.id).await.unwrap(), stored);
    let audit = catalog.read(async |tx| tx.list_audit(None, None, 1000).await).await.unwrap();
    let last = audit.last().unwrap();
    assert_eq!((last.seq, last.at, &last.record), (seq, stored.meta.updated_at, &alter_record(&stored)));
    let trips = catalog.round_trips();
    let stored = catalog.write(async |tx| tx.update(stored.clone()).await).await.unwrap();
    assert_eq!((catalog.round_trips() - trips, stored.meta.version), (3, 3), "BEGIN, the UPDATE, COMMIT");

    // The misses, each told apart, with nothing appended.
    let appended = audit_len(&catalog).await;
    let audited =
        async |row: Connection| catalog.write(async |tx| tx.update_audited(row.clone(), alter_record).await).await;
    let plain = async |row: Connection| catalog.write(async |tx| tx.update(row.clone()).await).await;
    let stale = c.clone();
    for error in [audited(stale.clone()).await.unwrap_err(), plain(stale).await.unwrap_err()] {
        assert!(matches!(error, CatalogError::VersionConflict { expected: 1, actual: 3, .. }), "{error}");
    }
    let ghost = Connection { meta: Meta { version: 1, ..Meta::new() }, ..connection("ghost") };
    for error in [audited(ghost.clone()).await.unwrap_err(), plain(ghost).await.unwrap_err()] {
        assert!(matches!(&error, CatalogError::NotFound { kind: ObjectKind::Connection, name } if name == "ghost"));
    }
    let missing_entry = lanyard_core::VaultEntryId::new_random();
    let missing_storage = lanyard_core::BackendId::new_random();
    for (version, credential, storage) in [
        (3, Some(missing_entry), Some(LOCAL_BACKEND_ID)),
        (1, Some(missing_entry), None),
        (3, Some(login.meta.id), Some(missing_storage)),
    ] {
        // The same error as the check before the write gave, also over a stale version (references come first).
        let dangling = Connection {
            meta: Meta { version, ..stored.meta.clone() },
            credential_id: credential,
            credential_storage_id: storage,
            ..stored.clone()
        };
        let (kind, id) = match credential {
            Some(id) if id == missing_entry => (ObjectKind::VaultEntry, id.to_string()),
            _ => (ObjectKind::CredentialStorage, missing_storage.to_string()),
        };
        let expected = format!("{kind} {id} referenced by connection \"c\" does not exist");
        for error in [audited(dangling.clone()).await.unwrap_err(), plain(dangling.clone()).await.unwrap_err()] {
            assert!(
                matches!(&error, CatalogError::MissingReference { kind: k, referrer: ObjectKind::Connection, .. } if *k == kind)
            );
            assert_eq!(error.to_string(), expected);
        }
    }
    let taken = Connection { name: name("other"), ..stored.clone() };
    for error in [audited(taken.clone()).await.unwrap_err(), plain(taken).await.unwrap_err()] {
        assert!(
            matches!(&error, CatalogError::AlreadyExists { kind: ObjectKind::Connection, name } if name == "other")
        );
    }
    assert_eq!(audit_len(&catalog).await, appended, "no miss appends an audit record");
    assert_eq!(catalog.get::<Connection>(c.meta.id).await.unwrap(), stored, "no miss changes the row");
    catalog.close().await;
}

/// Another writer commits between a write's read of a row and its update. When the read was in an earlier
/// transaction, the update is a version conflict (and appends nothing); on PostgreSQL, when the read was in the same
/// transaction, it is a serialization failure that `transaction!` reruns, and the rerun, reading again, commits.
/// (On SQLite a write transaction holds the write lock from its BEGIN: no writer gets in between.)
async fn a_writer_between_read_and_update_is_a_conflict_or_a_rerun(db: &TestDb) {
    let (here, there) = (db.open().await, db.open().await);
    let c = here.insert(connection("c")).await.unwrap();
    let appended = audit_len(&here).await;
    let read: Connection = here.get(c.meta.id).await.unwrap();
    let mut elsewhere = read.clone();
    elsewhere.description = Some("elsewhere".into());
    there.update(elsewhere).await.unwrap();
    let mut mine = read.clone();
    mine.description = Some("mine".into());
    let error = here.write(async |tx| tx.update_audited(mine.clone(), alter_record).await).await.unwrap_err();
    assert!(matches!(error, CatalogError::VersionConflict { expected: 1, actual: 2, .. }), "{error}");
    assert_eq!(audit_len(&here).await, appended);

    if db.kind == DatabaseKind::Postgres {
        let mut runs = 0;
        let (stored, _) = lanyard_catalog::transaction!(&here, |tx| -> lanyard_catalog::Result<_> {
            runs += 1;
            let mut row: Connection = tx.get(c.meta.id).await?;
            if runs == 1 {
                // Committed after this transaction's snapshot, before its update.
                let mut elsewhere = row.clone();
                elsewhere.description = Some("in between".into());
                there.update(elsewhere).await.unwrap();
            }
            row.options.insert(format!("run{runs}"), "x".into());
            tx.update_audited(row, alter_record).await
        })
        .unwrap();
        assert_eq!(runs, 2, "the first run failed to serialize and was rerun");
        assert_eq!((stored.meta.version, stored.description.as_deref()), (4, Some("in between")));
        assert!(stored.options.contains_key("run2") && !stored.options.contains_key("run1"));
        assert_eq!(audit_len(&here).await, appended + 1, "one record, of the run that committed");
    }
    here.close().await;
    there.close().await;
}

/// One page of connections (`like`, after `after`, at most `limit`).
async fn connection_page(
    catalog: &Catalog,
    like: Option<&str>,
    after: Option<Vec<String>>,
    limit: u32,
) -> Listed<Connection> {
    let page = Page { after, limit: Some(limit) };
    catalog.read(async |tx| tx.list_page(like, None, &page).await).await.unwrap()
}

/// Every name of a walk through the pages of `like` (`limit` rows a page), calling `between` after each page.
async fn walk(catalog: &Catalog, like: Option<&str>, limit: u32, mut between: impl AsyncFnMut(usize)) -> Vec<String> {
    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let listed = connection_page(catalog, like, after, limit).await;
        assert!(listed.rows.len() <= limit as usize, "a page holds at most its limit");
        seen.extend(listed.rows.iter().map(|c| c.name.to_string()));
        pages += 1;
        between(pages).await;
        match listed.next {
            Some(next) => {
                assert_eq!(Some(&next[0]), seen.last(), "the next page starts after the last row shown");
                after = Some(next);
            }
            None => return seen,
        }
    }
}

/// Paging: a walk of any page size lists every row once, in code-point order of the names (the same on both
/// databases, whatever PostgreSQL's collation: `B` before `a`, `Z` before `é`); the last page has no `next`, even
/// when it is exactly full. Rows created and dropped while a walk is under way shift nothing: each row that exists
/// throughout is listed exactly once, one created after the walk's position is listed, one created before it or
/// dropped before the walk reaches it is not.
async fn pages_walk_every_row_once_while_rows_come_and_go(db: &TestDb) {
    let catalog = db.open().await;
    let mut names: Vec<String> = (0..20).map(|i| format!("c{:02}", i * 2)).collect();
    names.extend(["B", "a", "Z", "é", "ab"].map(String::from));
    for n in &names {
        catalog.insert(connection(n)).await.unwrap();
    }
    names.sort();
    assert_eq!(&names[..5], ["B", "Z", "a", "ab", "c00"], "code-point order");
    assert_eq!(names.last().map(String::as_str), Some("é"));
    for limit in [1, 4, 5, 25, 26, 1000] {
        assert_eq!(walk(&catalog, None, limit, async |_| {}).await, names, "limit {limit}");
    }
    let all = connection_page(&catalog, None, None, 25).await;
    assert_eq!((all.rows.len(), all.next), (25, None), "a full last page has no next");

    // Rows come and go between pages of a walk of 5: after page 2 (which ends at "c04"), c01 is created behind the
    // walk, c39 ahead of it, and c20, not reached yet, is dropped.
    let walked = walk(&catalog, None, 5, async |pages| {
        if pages == 2 {
            catalog.insert(connection("c01")).await.unwrap();
            catalog.insert(connection("c39")).await.unwrap();
            let c20: Connection = catalog.get_by_name(&["c20"]).await.unwrap();
            catalog.write(async |tx| tx.delete::<Connection>(c20.meta.id, None).await).await.unwrap();
        }
    })
    .await;
    let mut expected: Vec<String> = names.iter().filter(|n| *n != "c20").cloned().collect();
    expected.push("c39".to_owned());
    expected.sort();
    assert_eq!(walked, expected);

    // A key of another list's shape is refused, not misread.
    let page = Page { after: Some(vec!["default".to_owned(), "x".to_owned()]), limit: Some(2) };
    let error = catalog.read(async |tx| tx.list_page::<Connection>(None, None, &page).await).await.unwrap_err();
    assert!(matches!(error, CatalogError::InvalidCursor { kind: ObjectKind::Connection, .. }), "{error}");
    // Links page within their database by [database, name].
    for (d, n) in [("d1", "x1"), ("d1", "x2"), ("d1", "x3"), ("d2", "x0")] {
        catalog.insert(link(d, n)).await.unwrap();
    }
    let first = Page { after: None, limit: Some(2) };
    let listed: Listed<Link> = catalog.read(async |tx| tx.list_page(None, Some("d1"), &first).await).await.unwrap();
    assert_eq!(listed.next, Some(vec!["d1".to_owned(), "x2".to_owned()]));
    let second = Page { after: listed.next, limit: Some(2) };
    let listed: Listed<Link> = catalog.read(async |tx| tx.list_page(None, Some("d1"), &second).await).await.unwrap();
    assert_eq!(
        (listed.rows.iter().map(|l| l.name.to_string()).collect::<Vec<_>>(), listed.next),
        (vec!["x3".to_owned()], None)
    );
    catalog.close().await;
}

/// What a case-insensitive substring search must answer, computed here from the names themselves.
fn containing(names: &[&str], like: &str) -> Vec<String> {
    let mut found: Vec<String> =
        names.iter().filter(|n| n.to_lowercase().contains(&like.to_lowercase())).map(|n| (*n).to_owned()).collect();
    found.sort();
    found
}

/// The gram rows of one object.
async fn grams_of(db: &TestDb, id: impl std::fmt::Display) -> i64 {
    raw_count(db, &format!("SELECT COUNT(*) FROM name_grams WHERE id = '{id}'")).await
}

/// LIKE over the name grams answers what a scan of every name would, for patterns of every length (one and two
/// characters find the grams they begin, longer ones all their grams), at the start, middle and end of names, with
/// `%` and `_` literal, and after renames and drops (the triggers keep the grams in step; a drop leaves none).
async fn like_narrows_by_name_grams_that_follow_every_write(db: &TestDb) {
    let catalog = db.open().await;
    let mut names = vec!["Prod_PG", "prod_mysql", "staging", "100%_real", "a_b", "xy", "mixedCASE_name", "ïcône_db"];
    for n in &names {
        catalog.insert(connection(n)).await.unwrap();
    }
    let search = async |like: &str| -> Vec<String> {
        let listed = connection_page(&catalog, Some(like), None, 1000).await;
        listed.rows.into_iter().map(|c| c.name.to_string()).collect()
    };
    let patterns = [
        "p",
        "P",
        "g",
        "pg",
        "PG",
        "y",
        "xy",
        "rod",
        "ROD_M",
        "od_p",
        "stag",
        "ging",
        "%",
        "_",
        "%_",
        "0%_r",
        "case_n",
        "ïc",
        "cône",
        "db",
        "a_b",
        "nothing",
        "xyz",
        "mixedcase_name",
    ];
    for like in patterns {
        assert_eq!(search(like).await, containing(&names, like), "LIKE {like:?}");
    }

    let staging: Connection = catalog.get_by_name(&["staging"]).await.unwrap();
    let grams_before = grams_of(db, staging.meta.id).await;
    assert_eq!(grams_before, 7, "one gram per character of \"staging\"");
    let mut renamed = staging.clone();
    renamed.name = name("Stage_Two");
    catalog.write(async |tx| tx.update(renamed.clone()).await).await.unwrap();
    names.retain(|n| *n != "staging");
    names.push("Stage_Two");
    for like in ["ging", "stag", "two", "e_t", "o"] {
        assert_eq!(search(like).await, containing(&names, like), "after the rename, LIKE {like:?}");
    }
    // An update that keeps the name keeps its grams.
    let mut described: Connection = catalog.get_by_name(&["Stage_Two"]).await.unwrap();
    described.description = Some("changed".to_owned());
    catalog.write(async |tx| tx.update(described.clone()).await).await.unwrap();
    assert_eq!(grams_of(db, described.meta.id).await, 9);

    let xy: Connection = catalog.get_by_name(&["xy"]).await.unwrap();
    catalog.write(async |tx| tx.delete::<Connection>(xy.meta.id, None).await).await.unwrap();
    names.retain(|n| *n != "xy");
    assert_eq!(search("xy").await, Vec::<String>::new());
    assert_eq!(grams_of(db, xy.meta.id).await, 0, "a dropped row leaves no grams");

    // A search pages like a list: one match at a time.
    let prod = walk(&catalog, Some("prod"), 1, async |_| {}).await;
    assert_eq!(prod, containing(&names, "prod"));

    // Vault entries, credential storages, databases and links are indexed the same way; links per database.
    catalog.insert(entry("prod_secret")).await.unwrap();
    let entries: Vec<VaultEntry> = catalog.list(Some("D_SEC"), None).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.name.to_string()).collect::<Vec<_>>(), ["prod_secret"]);
    for (d, n) in [("d1", "orders"), ("d2", "orders_2"), ("d1", "users")] {
        catalog.insert(link(d, n)).await.unwrap();
    }
    let links: Vec<Link> = catalog.list(Some("order"), Some("d1")).await.unwrap();
    assert_eq!(links.iter().map(|l| l.name.to_string()).collect::<Vec<_>>(), ["orders"]);
    let databases: Vec<lanyard_catalog::Database> = catalog.list(Some("FAUL"), None).await.unwrap();
    assert_eq!(databases.iter().map(|d| d.name.to_string()).collect::<Vec<_>>(), ["default"]);
    catalog.close().await;
}

/// Migration 5 indexes the names of rows written before it, so a catalog upgraded in place searches them at once.
async fn migration_5_indexes_the_names_already_there(db: &TestDb) {
    let old = Catalog::open_with(&db.url, &MIGRATIONS[..4]).await.unwrap();
    old.insert(connection("legacy_orders")).await.unwrap();
    old.insert(connection("legacy_users")).await.unwrap();
    old.insert(entry("legacy_key")).await.unwrap();
    old.close().await;
    let catalog = db.open().await;
    let found: Vec<Connection> = catalog.list(Some("ORDERS"), None).await.unwrap();
    assert_eq!(found.iter().map(|c| c.name.to_string()).collect::<Vec<_>>(), ["legacy_orders"]);
    let found: Vec<VaultEntry> = catalog.list(Some("y_k"), None).await.unwrap();
    assert_eq!(found.len(), 1);
    let table = <Connection as Record>::TABLE;
    let indexed = raw_count(db, &format!("SELECT COUNT(DISTINCT id) FROM name_grams WHERE tbl = '{table}'")).await;
    assert_eq!(indexed, 2);
    catalog.close().await;
}

/// On SQLite, a LIKE search reads the gram index and the rows it names, never the whole table (the query plan says
/// how SQLite runs it: a `SCAN` of the table would be the full scan this index exists to avoid).
#[tokio::test]
async fn sqlite_like_reads_the_gram_index_not_the_table() {
    let db = fresh(DatabaseKind::Sqlite);
    let catalog = db.open().await;
    catalog.close().await;
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&db.url).await.unwrap();
    for like in ["x", "xy", "xyz", "wxyz"] {
        let (sql, params) = lanyard_catalog::sqlite_list_select::<Connection>(like);
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for param in params {
            query = query.bind(param);
        }
        let plan: Vec<String> = query.fetch_all(&pool).await.unwrap().into_iter().map(|row| row.3).collect();
        let plan = plan.join("\n");
        assert!(plan.contains("name_grams"), "LIKE {like:?} does not use the grams:\n{plan}");
        assert!(!plan.contains("SCAN external_connections"), "LIKE {like:?} scans the table:\n{plan}");
    }
    pool.close().await;
}

/// PostgreSQL: pooled connections are pinged only after sitting idle for [`lanyard_catalog::PING_AFTER_IDLE`]; the
/// server ending every one of them (a restart, a failover, an administrator's `pg_terminate_backend`) costs no
/// request after that: each idle one fails its ping and is replaced.
#[tokio::test]
async fn postgres_connections_ended_by_the_server_are_replaced_after_idling() {
    let db = fresh(DatabaseKind::Postgres);
    let catalog = db.open().await;
    let c = catalog.insert(connection("c")).await.unwrap();
    // Several pooled connections, all in use a moment ago.
    futures::future::join_all((0..4).map(|_| catalog.get::<Connection>(c.meta.id))).await;
    for round in 0..3 {
        let ended = end_sessions(&db.url).await;
        assert!(ended > 0, "round {round}: the catalog held no connection to end");
        tokio::time::sleep(lanyard_catalog::PING_AFTER_IDLE + std::time::Duration::from_millis(200)).await;
        let mut changed: Connection = catalog.get(c.meta.id).await.expect("a read after the server ended the pool");
        changed.description = Some(format!("round {round}"));
        catalog.update(changed).await.expect("a write after the server ended the pool");
        let seen = catalog.find_connection("c").await.unwrap().expect("found").0.clone();
        assert_eq!(seen.description, Some(format!("round {round}")));
    }
    catalog.close().await;
}

/// PostgreSQL: connections the server ends while they are in steady use (no idle second, so no ping before they are
/// lent) fail at most the one statement each that finds them ended, and are never lent again: within as many reads
/// as the pool held connections, every read succeeds.
#[tokio::test]
async fn postgres_connections_ended_by_the_server_while_in_use_fail_once_each() {
    let db = fresh(DatabaseKind::Postgres);
    let catalog = db.open().await;
    let c = catalog.insert(connection("c")).await.unwrap();
    futures::future::join_all((0..4).map(|_| catalog.get::<Connection>(c.meta.id))).await;
    let ended = end_sessions(&db.url).await;
    assert!(ended > 0, "the catalog held no connection to end");
    let mut failed = 0;
    for _ in 0..ended {
        failed += usize::from(catalog.get::<Connection>(c.meta.id).await.is_err());
    }
    assert!(failed <= ended, "{failed} reads failed over {ended} ended connections");
    for read in 0..20 {
        catalog.get::<Connection>(c.meta.id).await.unwrap_or_else(|e| panic!("read {read} after the ended ones: {e}"));
    }
    catalog.close().await;
}

/// PostgreSQL: a catalog opened while its server still refuses connections (starting up, restarting) waits for it, as
/// sqlx's pool did, rather than failing at once. The server here is a proxy to the real one that starts listening a
/// second late.
#[tokio::test]
async fn postgres_catalog_opened_before_its_server_listens_waits_for_it() {
    let db = fresh(DatabaseKind::Postgres);
    let real: std::net::SocketAddr = {
        let authority = db.url.split('@').nth(1).unwrap().split('/').next().unwrap();
        tokio::net::lookup_host(authority).await.unwrap().next().unwrap()
    };
    let late = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let listener = tokio::net::TcpListener::bind(late).await.unwrap();
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(real).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    let url = db.url.replacen(&real.to_string(), &late.to_string(), 1);
    assert_ne!(url, db.url, "the test database's URL names {real}");
    let started = std::time::Instant::now();
    let catalog = lanyard_catalog::Catalog::open(&url).await.expect("the catalog opens once its server listens");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "connected before the server listened");
    catalog.insert(connection("c")).await.unwrap();
    catalog.close().await;
}

/// Runs `query` on a session of its own on the database at `url`, with that database's name as `$1`, and returns the
/// number its one row holds.
async fn count_sessions(url: &str, query: &str) -> i64 {
    use sqlx::Connection as _;
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(query).bind(database).fetch_one(&mut admin).await.unwrap();
    n
}

/// Ends every session of the database at `url` but the asker's (as a restart or an administrator would); how many.
async fn end_sessions(url: &str) -> usize {
    let query = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()";
    usize::try_from(count_sessions(url, query).await).unwrap()
}

/// Sessions of the database at `url` that sit inside a transaction (`idle in transaction`), other than the asker's.
async fn idle_in_transaction(url: &str) -> i64 {
    let query = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() \
                 AND state LIKE 'idle in transaction%'";
    count_sessions(url, query).await
}

/// PostgreSQL: the catalog's own pool hands a connection back only as it found it. A write transaction dropped
/// without COMMIT (a request cancelled between two statements) is rolled back at once, not left open holding its row
/// lock until the connection's next use; one cancelled while its statement waits (here on a lock held by another
/// session) is closed, so its late answer can never be read as another statement's. Either way nothing of it
/// commits, the next write of the same row goes through, and no session stays inside a transaction.
#[tokio::test]
async fn postgres_connections_come_back_clean_from_cancelled_transactions() {
    use sqlx::Connection as _;
    let db = fresh(DatabaseKind::Postgres);
    let catalog = db.open().await;
    let c = catalog.insert(connection("c")).await.unwrap();

    // Dropped between statements: the UPDATE's row lock must not outlive the transaction.
    let mut tx = catalog.begin_write().await.unwrap();
    let mut changed: Connection = tx.get(c.meta.id).await.unwrap();
    changed.description = Some("dropped".to_owned());
    tx.update(changed).await.unwrap();
    drop(tx);
    let other = db.open().await;
    let mut row: Connection = other.get(c.meta.id).await.unwrap();
    assert_eq!(row.description, c.description, "a dropped transaction committed");
    row.description = Some("after the drop".to_owned());
    let row = tokio::time::timeout(std::time::Duration::from_secs(5), other.update(row))
        .await
        .expect("the dropped transaction still holds its row lock")
        .unwrap();

    // Cancelled while its statement waits on another session's lock.
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut admin).await.unwrap();
    sqlx::query("LOCK TABLE external_connections IN ACCESS EXCLUSIVE MODE").execute(&mut admin).await.unwrap();
    let mut changed = row.clone();
    changed.description = Some("cancelled".to_owned());
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), catalog.update(changed)).await;
    assert!(waited.is_err(), "the write did not wait for the lock");
    sqlx::query("COMMIT").execute(&mut admin).await.unwrap();
    // Every pooled connection is used at once: a reused one would answer with the cancelled statement's result.
    let reads = futures::future::join_all((0..16).map(|_| catalog.get::<Connection>(c.meta.id))).await;
    for read in reads {
        assert_eq!(read.unwrap().description.as_deref(), Some("after the drop"));
    }
    let mut last: Connection = catalog.get(c.meta.id).await.unwrap();
    last.description = Some("last".to_owned());
    catalog.update(last).await.expect("a write after the cancelled one");
    assert_eq!(idle_in_transaction(&db.url).await, 0, "a session was left inside a transaction");
    catalog.close().await;
    other.close().await;
}

/// Writes of one `optimistic!` writer in the concurrent test.
const OPTIMISTIC_WRITES: i64 = 40;

/// `optimistic!`: on PostgreSQL a change runs without a transaction (no BEGIN, no COMMIT), so another change may
/// commit between its read and its write; the write then changes nothing and the whole change reruns on the new row.
/// Forced once (another handle commits inside the first run: two runs, both changes kept), then two handles altering
/// one row at once, each its own option, lose nothing: every write has its own version and its audit record. On
/// SQLite it is a write transaction (one run).
async fn optimistic_changes_overtaken_by_others_rerun_and_lose_nothing(db: &TestDb) {
    let (here, there) = (db.open().await, db.open().await);
    let c = here.insert(connection("c")).await.unwrap();
    let audited = audit_len(&here).await;

    if db.kind == DatabaseKind::Postgres {
        let trips = here.round_trips();
        let (runs, stored) = overtaken_once(&here, "mine", async || {
            let mut other: Connection = there.get(c.meta.id).await?;
            other.description = Some("by the other handle".into());
            there.update(other).await.map(drop)
        })
        .await;
        assert_eq!(runs, 2, "the overtaken change ran again");
        // First run: the read, the write that changed nothing and the read that tells why; second: read and write.
        assert_eq!(here.round_trips() - trips, 5, "no BEGIN, no COMMIT");
        assert_eq!(stored.meta.version, 3);
        let seen: Connection = here.get(c.meta.id).await.unwrap();
        assert_eq!(seen.description.as_deref(), Some("by the other handle"), "the other change was lost");
        assert_eq!(seen.options["mine"], "yes");
        assert_eq!(audit_len(&here).await, audited + 1, "an overtaken write appended no audit record");

        // Overtaken by a change that drops the reference the first run read, and the entry it named: the rerun
        // succeeds on the new row; the entry the change never named is no "missing reference".
        let e = here.insert(entry("e")).await.unwrap();
        let mut with_entry: Connection = here.get(c.meta.id).await.unwrap();
        with_entry.credential_id = Some(e.meta.id);
        here.update(with_entry).await.unwrap();
        let (runs, stored) = overtaken_once(&here, "second", async || {
            let mut other: Connection = there.get(c.meta.id).await?;
            other.credential_id = None;
            there.update(other).await?;
            there.delete::<VaultEntry>(e.meta.id, None).await
        })
        .await;
        assert_eq!((runs, stored.credential_id), (2, None));
    }

    let before: Connection = here.get(c.meta.id).await.unwrap();
    let audited = audit_len(&here).await;
    let writer = |catalog: Catalog, key: &'static str| async move {
        let mut versions = Vec::new();
        for n in 0..OPTIMISTIC_WRITES {
            let (row, _) = lanyard_catalog::optimistic!(&catalog, |tx| -> lanyard_catalog::Result<_> {
                let mut row = tx.find_by_name::<Connection>(&["c"]).await?.expect("c");
                row.options.insert(key.into(), n.to_string().into());
                tx.update_audited(row, alter_record).await
            })
            .unwrap();
            versions.push(row.meta.version);
        }
        versions
    };
    let (mine, theirs) = tokio::join!(writer(here.clone(), "here"), writer(there.clone(), "there"));
    let mut versions: Vec<i64> = mine.into_iter().chain(theirs).collect();
    versions.sort_unstable();
    let expected: Vec<i64> = (before.meta.version + 1..=before.meta.version + 2 * OPTIMISTIC_WRITES).collect();
    assert_eq!(versions, expected, "two acknowledged writes share a version, or one is missing");
    let after: Connection = here.get(c.meta.id).await.unwrap();
    let last = (OPTIMISTIC_WRITES - 1).to_string();
    assert_eq!((&after.options["here"], &after.options["there"]), (&last.clone().into(), &last.into()));
    let writes = usize::try_from(2 * OPTIMISTIC_WRITES).unwrap();
    assert_eq!(audit_len(&here).await, audited + writes, "one audit record per write");
    here.close().await;
    there.close().await;
}

/// An `optimistic!` change of connection `c` that sets option `key` to "yes", overtaken in its first run, between its
/// read and its write, by `interloper` (a commit through another handle): how many runs it took, and the row stored.
async fn overtaken_once(
    catalog: &Catalog,
    key: &str,
    interloper: impl AsyncFnOnce() -> lanyard_catalog::Result<()>,
) -> (u32, Connection) {
    let mut interloper = Some(interloper);
    let mut runs = 0;
    let (stored, _) = lanyard_catalog::optimistic!(catalog, |tx| -> lanyard_catalog::Result<_> {
        runs += 1;
        let mut row = tx.find_by_name::<Connection>(&["c"]).await?.expect("c");
        if let Some(interloper) = interloper.take() {
            interloper().await?;
        }
        row.options.insert(key.into(), "yes".into());
        tx.update_audited(row, alter_record).await
    })
    .unwrap();
    (runs, stored)
}

/// An allowed change record about `row`.
fn change_record<R: Record>(action: AuditAction, row: &R) -> NewAuditRecord {
    NewAuditRecord {
        principal: "alice".into(),
        action,
        object_kind: R::KIND,
        object_id: Some(row.meta().id.to_string()),
        object_name: Some(row.display()),
        outcome: AuditOutcome::Allowed,
        detail: JsonObject::new(),
    }
}

/// Inserts `row` with its create record, as the Control Plane does.
async fn create_audited<R: Record + Clone + 'static>(catalog: &Catalog, row: R, action: AuditAction) -> R {
    catalog
        .write(async |tx| {
            let row = tx.insert(row.clone()).await?;
            tx.append_audit(&change_record(action, &row)).await?;
            Ok(row)
        })
        .await
        .unwrap()
}

async fn history_of(catalog: &Catalog, kind: ObjectKind, id: impl std::fmt::Display) -> Vec<HistoryEntry> {
    let id = id.to_string();
    catalog.read(async |tx| tx.history(kind, &id, 100).await).await.unwrap()
}

/// The trigger on `audit_log` keeps each version of the four kinds as the change wrote it, through every write path
/// (an audited update in a transaction, the single statement without one on PostgreSQL, a create, a drop), and
/// reads it back field for field as the typed row; reads, TESTs and denied records keep nothing; a dropped object's
/// history is found by its name.
async fn history_keeps_every_version_as_written(db: &TestDb) {
    let catalog = db.open().await;
    let login = create_audited(&catalog, entry("login"), AuditAction::VaultEntryCreate).await;
    let mut c = connection("c");
    c.credential_id = Some(login.meta.id);
    c.credential_storage_id = Some(LOCAL_BACKEND_ID);
    let v1 = create_audited(&catalog, c, AuditAction::ConnectionCreate).await;
    let mut next = v1.clone();
    next.options.insert("sslmode".into(), "require".into());
    next.credential_storage_id = None;
    let (v2, _) = catalog.write(async |tx| tx.update_audited(next.clone(), alter_record).await).await.unwrap();
    // The path of ALTER CONNECTION on PostgreSQL: one statement, no transaction.
    let mut next = v2.clone();
    next.description = None;
    next.max_connections = None;
    next.timeout_seconds = Some(30);
    let v3 = match catalog.begin_autocommit().await.unwrap() {
        Some(mut tx) => tx.update_connection_audited(next, alter_record).await.unwrap().0.0,
        None => catalog.write(async |tx| tx.update_audited(next.clone(), alter_record).await).await.unwrap().0,
    };
    // Neither a read, a TEST nor a denied change is a version.
    let mut denied = alter_record(&v3);
    denied.outcome = AuditOutcome::Denied;
    let tested = NewAuditRecord { action: AuditAction::ConnectionTest, ..alter_record(&v3) };
    let got = NewAuditRecord { action: AuditAction::ConnectionGet, ..alter_record(&v3) };
    for record in [denied, tested, got] {
        catalog.write(async |tx| tx.append_audit(&record).await).await.unwrap();
    }

    let history = history_of(&catalog, ObjectKind::Connection, v1.meta.id).await;
    assert_eq!(history.iter().map(|h| h.version).collect::<Vec<_>>(), [Some(3), Some(2), Some(1)]);
    for (entry, row) in history.iter().zip([&v3, &v2, &v1]) {
        assert_eq!(entry.record::<Connection>().unwrap().as_ref(), Some(row), "version {}", row.meta.version);
        assert_eq!(entry.at, row.meta.updated_at);
        assert_eq!(entry.object_name, "c");
    }
    let change = &history[2].change;
    assert_eq!((change.principal.as_str(), change.action), ("alice", AuditAction::ConnectionCreate));
    assert_eq!(history[1].change.detail.get("to_version"), Some(&2.into()));
    assert_eq!(history[2].referred_name("credential_name"), Some("login"));
    assert_eq!(history[2].referred_name("credential_storage_name"), Some("local"));
    assert_eq!(history[1].referred_name("credential_storage_name"), None);

    // The other kinds, created and changed.
    let backend = create_audited(
        &catalog,
        Backend {
            meta: Meta::new(),
            name: name("vaulty"),
            backend_type: "hashicorp".into(),
            description: None,
            config: [("address".to_owned(), "http://127.0.0.1:8200".into())].into_iter().collect(),
            active: false,
        },
        AuditAction::CredentialStorageCreate,
    )
    .await;
    let mut rotated = login.clone();
    rotated.current_version = 2;
    rotated.rotated_at = Some(v3.meta.updated_at);
    let rotated = catalog
        .write(async |tx| {
            let row = tx.update(rotated.clone()).await?;
            tx.append_audit(&change_record(AuditAction::VaultEntryAlter, &row)).await?;
            Ok(row)
        })
        .await
        .unwrap();
    let l = create_audited(&catalog, link("db", "l"), AuditAction::LinkCreate).await;
    let kept = history_of(&catalog, ObjectKind::CredentialStorage, backend.meta.id).await;
    assert_eq!(kept[0].record::<Backend>().unwrap(), Some(backend.clone()));
    let kept = history_of(&catalog, ObjectKind::VaultEntry, login.meta.id).await;
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].record::<VaultEntry>().unwrap(), Some(rotated));
    assert_eq!(kept[1].record::<VaultEntry>().unwrap(), Some(login.clone()));
    assert_eq!(kept[0].referred_name("storage_backend_name"), Some("local"));
    let kept = history_of(&catalog, ObjectKind::Link, l.meta.id).await;
    assert_eq!((kept[0].record::<Link>().unwrap(), kept[0].object_name.as_str()), (Some(l.clone()), "db.l"));

    // Point in time, one version, the span.
    let id = v1.meta.id.to_string();
    let at = catalog.read(async |tx| tx.history_at(ObjectKind::Connection, &id, v2.meta.updated_at).await).await;
    assert_eq!(at.unwrap().map(|h| h.version), Some(Some(2)));
    let before = Timestamp::from_micros(v1.meta.updated_at.as_micros() - 1);
    let at = catalog.read(async |tx| tx.history_at(ObjectKind::Connection, &id, before).await).await;
    assert_eq!(at.unwrap(), None, "nothing before the create");
    let one = catalog.read(async |tx| tx.history_version(ObjectKind::Connection, &id, 2).await).await.unwrap();
    assert_eq!(one.unwrap().record::<Connection>().unwrap(), Some(v2.clone()));
    let span = catalog.read(async |tx| tx.history_span(ObjectKind::Connection, &id).await).await.unwrap();
    assert_eq!(span, Some((1, 3)));

    // A drop keeps the history, found by name afterwards.
    catalog
        .write(async |tx| {
            tx.delete::<Connection>(v3.meta.id, Some(3)).await?;
            tx.append_audit(&change_record(AuditAction::ConnectionDrop, &v3)).await
        })
        .await
        .unwrap();
    let found = catalog.read(async |tx| tx.history_object::<Connection>(&["c"], "c").await).await.unwrap();
    assert_eq!(found, Some(id.clone()));
    let history = history_of(&catalog, ObjectKind::Connection, &id).await;
    assert_eq!(history.iter().map(|h| h.version).collect::<Vec<_>>(), [None, Some(3), Some(2), Some(1)]);
    assert_eq!((history[0].state.as_ref(), history[0].record::<Connection>().unwrap()), (None, None));
    let none = catalog.read(async |tx| tx.history_object::<Connection>(&["never"], "never").await).await;
    assert_eq!(none.unwrap(), None);
    catalog.close().await;
}

/// Retention: by count, the newest versions of each object stay; by age, old versions go but an existing object
/// keeps its newest, and a dropped object's whole history goes once its drop is old.
async fn history_is_pruned_by_count_and_by_age(db: &TestDb) {
    let catalog = db.open().await;
    let mut c = create_audited(&catalog, connection("c"), AuditAction::ConnectionCreate).await;
    for n in 0..5 {
        c.description = Some(format!("change {n}"));
        c = catalog.write(async |tx| tx.update_audited(c.clone(), alter_record).await).await.unwrap().0;
    }
    let gone = create_audited(&catalog, connection("gone"), AuditAction::ConnectionCreate).await;
    catalog
        .write(async |tx| {
            tx.delete::<Connection>(gone.meta.id, None).await?;
            tx.append_audit(&change_record(AuditAction::ConnectionDrop, &gone)).await
        })
        .await
        .unwrap();
    let versions = async |id: lanyard_core::ConnectionId| {
        history_of(&catalog, ObjectKind::Connection, id).await.iter().map(|h| h.version).collect::<Vec<_>>()
    };
    let retention = Retention { max_age: None, max_versions: Some(3) };
    let now = Timestamp::now();
    let pruned = catalog.write(async |tx| tx.prune_history(retention, now).await).await.unwrap();
    assert_eq!(pruned, 3);
    assert_eq!(versions(c.meta.id).await, [Some(6), Some(5), Some(4)]);
    assert_eq!(versions(gone.meta.id).await, [None, Some(1)]);

    let retention = Retention { max_age: Some(std::time::Duration::from_secs(3600)), max_versions: None };
    let pruned = catalog.write(async |tx| tx.prune_history(retention, now).await).await.unwrap();
    assert_eq!(pruned, 0, "nothing is an hour old");
    let later = Timestamp::from_micros(now.as_micros() + 7_200_000_000);
    let pruned = catalog.write(async |tx| tx.prune_history(retention, later).await).await.unwrap();
    assert_eq!(pruned, 4, "two old versions of c, and the whole history of the dropped one");
    assert_eq!(versions(c.meta.id).await, [Some(6)]);
    assert_eq!(versions(gone.meta.id).await, Vec::<Option<i64>>::new());
    catalog.close().await;
}

/// Objects that existed before migration 6 have no version until their next change, which is their first.
async fn migration_6_starts_each_history_at_the_next_change(db: &TestDb) {
    let old = Catalog::open_with(&db.url, &MIGRATIONS[..5]).await.unwrap();
    let mut c = old.insert(connection("legacy")).await.unwrap();
    c.description = Some("changed".into());
    let c = old.update(c).await.unwrap();
    old.close().await;
    let catalog = db.open().await;
    assert_eq!(history_of(&catalog, ObjectKind::Connection, c.meta.id).await, Vec::new());
    let next = catalog.write(async |tx| tx.update_audited(c.clone(), alter_record).await).await.unwrap().0;
    let history = history_of(&catalog, ObjectKind::Connection, c.meta.id).await;
    assert_eq!(history.iter().map(|h| h.version).collect::<Vec<_>>(), [Some(3)]);
    assert_eq!(history[0].record::<Connection>().unwrap(), Some(next));
    catalog.close().await;
}
