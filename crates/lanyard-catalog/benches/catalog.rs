//! Catalog benchmarks for `cargo xtask bench catalog` (see `shared/spec/quality.md`):
//!
//! - `catalog/sqlite_point_read` vs `catalog/sqlite_raw_point_read`: `Catalog::get` of one connection by id, against
//!   the same `SELECT … WHERE id = $1` through sqlx directly on the same file (WAL, `synchronous = FULL`).
//! - `catalog/sqlite_update` vs `catalog/sqlite_raw_update`: one version-checked single-row update transaction, against
//!   a raw `BEGIN IMMEDIATE; UPDATE …; COMMIT` with the same durability setting.
//! - the same four on PostgreSQL (a database created for the run and dropped after), raw anchors through sqlx.
//!
//! Each iteration is one operation, so operations per second = 1e9 / median ns.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lanyard_catalog::{Catalog, Connection, JsonObject, Meta};
use lanyard_core::{ConnectionType, Name};
use lanyard_testsupport::TempDatabase;

fn connection(name: &str) -> Connection {
    let mut options = JsonObject::new();
    options.insert("host".into(), "db.example.com".into());
    options.insert("port".into(), "5432".into());
    Connection {
        meta: Meta::new(),
        name: Name::new(name).unwrap(),
        connection_type: ConnectionType::Postgresql,
        description: Some("bench".into()),
        options,
        credential_id: None,
        credential_storage_id: None,
        max_connections: None,
        timeout_seconds: None,
        last_test: None,
    }
}

const SELECT: &str = "SELECT id, created_at, updated_at, version, display_name, entity_ref, connection_type, description, \
                      options, credential_id, credential_storage_id, max_connections, timeout_seconds \
                      FROM external_connections WHERE id = $1";
const UPDATE: &str =
    "UPDATE external_connections SET description = $2, updated_at = $3, version = version + 1 WHERE id = $1";

fn bench_backend(c: &mut Criterion, label: &str, url: &str, rt: &tokio::runtime::Runtime) {
    let catalog = rt.block_on(Catalog::open(url)).unwrap();
    let row = rt.block_on(catalog.insert(connection(&format!("bench_{label}")))).unwrap();
    let id = row.meta.id;
    let id_text = id.to_string();
    let mut group = c.benchmark_group("catalog");

    group.bench_function(format!("{label}_point_read"), |b| {
        b.to_async(rt).iter(|| async { black_box(catalog.get::<Connection>(id).await.unwrap()) })
    });
    let current = std::cell::RefCell::new(row);
    group.bench_function(format!("{label}_update"), |b| {
        b.to_async(rt).iter(|| async {
            let mut next = current.borrow().clone();
            next.description = Some(format!("v{}", next.meta.version));
            let stored = catalog.update(next).await.unwrap();
            *current.borrow_mut() = stored;
        })
    });

    if label == "sqlite" {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true);
        let pool =
            rt.block_on(sqlx::sqlite::SqlitePoolOptions::new().max_connections(8).connect_with(options)).unwrap();
        group.bench_function("sqlite_raw_point_read", |b| {
            b.to_async(rt).iter(|| async {
                let mut tx = pool.begin().await.unwrap();
                black_box(sqlx::query(SELECT).bind(&id_text).fetch_one(&mut *tx).await.unwrap());
                tx.rollback().await.unwrap();
            })
        });
        group.bench_function("sqlite_raw_update", |b| {
            b.to_async(rt).iter(|| async {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                sqlx::query(UPDATE).bind(&id_text).bind("raw").bind(1_i64).execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            })
        });
        rt.block_on(pool.close());
    } else {
        let pool = rt.block_on(sqlx::postgres::PgPoolOptions::new().max_connections(16).connect(url)).unwrap();
        group.bench_function("postgres_raw_point_read", |b| {
            b.to_async(rt).iter(|| async {
                let mut tx = pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.unwrap();
                black_box(sqlx::query(SELECT).bind(&id_text).fetch_one(&mut *tx).await.unwrap());
                tx.rollback().await.unwrap();
            })
        });
        group.bench_function("postgres_raw_update", |b| {
            b.to_async(rt).iter(|| async {
                let mut tx = pool.begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE").await.unwrap();
                sqlx::query(UPDATE).bind(&id_text).bind("raw").bind(1_i64).execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            })
        });
        rt.block_on(pool.close());
    }
    group.finish();
    rt.block_on(catalog.close());
}

fn catalog(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let sqlite = TempDatabase::sqlite("bench");
    bench_backend(c, "sqlite", sqlite.url(), &rt);
    drop(sqlite);

    let postgres = TempDatabase::postgres("bench");
    bench_backend(c, "postgres", postgres.url(), &rt);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3))
}

criterion_group!(name = benches; config = config(); targets = catalog);
criterion_main!(benches);
