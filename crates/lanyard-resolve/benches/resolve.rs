//! Resolver benchmarks for `cargo xtask bench resolve` (see `shared/spec/quality.md`):
//!
//! - `resolve/resolve_static` vs `resolve/backend_direct` (criterion): one resolve of a connection whose entry lives in
//!   a memory backend with no latency, uncontended, against calling that backend's `get` directly. The difference is
//!   `resolve_overhead_ns`. The catalog lookup is the in-memory [`StaticCatalog`]'s, so the figure is the resolver's
//!   own cost; a catalog database read adds its own (measured by `cargo xtask bench catalog`).
//! - `resolve/resolve_catalog` (criterion): the same resolve over the real catalog, a SQLite file, through
//!   [`CachedCatalog`] (nothing committed meanwhile, so the rows come from memory after a lock-free read of the
//!   WAL-index header).
//!   Against `resolve_static`: `resolve_catalog_ns`.
//! - `resolve_catalog_pg`: the same over a PostgreSQL catalog (the machine's service, `LANYARD_TEST_PG` to
//!   override), p50 and p99 of 2,000 resolves interleaved with 2,000 bare `SELECT 1` on a pool of the same size:
//!   `resolve_catalog_pg_ns`, in round trips.
//! - `burst_backend_calls`: N = 10, 100, 1000 concurrent resolves of one connection against a 20 ms backend; backend
//!   calls per burst.
//! - `steady_calls_per_key`: 64 resolve loops for 2 s against a 20 ms backend; backend calls per second for the one
//!   profile, against 1/RTT + 1 with the RTT measured in the same run.
//! - `fresh_ratio`: 32 resolve loops while a rotator writes new versions at random intervals; the share of answers
//!   read by a backend call that started after the resolve began and carrying at least the version committed before
//!   it began.
//!
//! The PostgreSQL times and the last three (counts, not times) are written to `target/bench/resolve-meta.json`.

#![allow(missing_docs, clippy::print_stdout)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use criterion::Criterion;
use lanyard_catalog::{Backend, Catalog, Connection, VaultEntry};
use lanyard_core::{BackendId, SecretString};
use lanyard_resolve::{Auth, CachedCatalog, CatalogSource, Resolver, StaticCatalog};
use lanyard_testsupport::TempDatabase;
use lanyard_vault::{Profile, Registry, SecretRef, SecretValue, VaultBackend};
use lanyard_vault_memory::{Faults, MemoryStore};
use tokio::time::Instant;

use lanyard_vault_memory as _;

#[path = "../tests/support/freshness.rs"]
mod freshness;

struct World {
    resolver: Resolver,
    backend: Arc<dyn VaultBackend>,
    store: Arc<MemoryStore>,
    entry: Profile,
    connection: lanyard_core::ConnectionId,
}

/// The bench's rows in a new in-memory catalog: a memory backend over the store `store_name`, a credential in it and
/// a postgresql connection using it.
fn rows(store_name: &str) -> (Arc<StaticCatalog>, Backend, Connection, VaultEntry) {
    let catalog = Arc::new(StaticCatalog::new());
    let backend = catalog.add_backend(BackendId::new_random(), "bench_memory", "memory", &[("store", store_name)]);
    let (connection, entry) = catalog.add_postgresql_with_credential("bench_pg", "bench_login", backend.meta.id, None);
    (catalog, backend, connection, entry)
}

/// A resolver over `source`, which holds `connection` and its credential `entry` in the memory store `store_name`.
fn world_over(source: Arc<dyn CatalogSource>, store_name: &str, connection: &Connection, entry: &VaultEntry) -> World {
    World {
        resolver: Resolver::builder(source, Registry::global().unwrap()).build(),
        backend: lanyard_vault_memory::new_backend(store_name),
        store: lanyard_vault_memory::store(store_name),
        entry: Profile::Entry(entry.meta.id),
        connection: connection.meta.id,
    }
}

fn world(store_name: &str, latency: Duration) -> World {
    let (catalog, _, connection, entry) = rows(store_name);
    let world = world_over(catalog, store_name, &connection, &entry);
    world.store.set_faults(Faults { latency, ..Faults::default() });
    world
}

/// The rows of a [`world`] copied into the real catalog at `url`, and a resolver over it.
async fn catalog_world(url: &str, store_name: &str) -> (World, Catalog) {
    let (_, backend, connection, entry) = rows(store_name);
    let catalog = Catalog::open(url).await.unwrap();
    catalog.insert(backend).await.unwrap();
    catalog.insert(entry.clone()).await.unwrap();
    catalog.insert(connection.clone()).await.unwrap();
    let source = Arc::new(CachedCatalog::new(catalog.clone()));
    (world_over(source, store_name, &connection, &entry), catalog)
}

async fn put(world: &World, value: &str) {
    let faults = world.store.faults();
    world.store.set_faults(Faults::default());
    world.backend.put(&world.entry, &SecretValue::from(SecretString::new(value))).await.unwrap();
    world.store.set_faults(faults);
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let world = world("bench-overhead", Duration::ZERO);
    rt.block_on(put(&world, r#"{"username":"app","password":"bench-password"}"#));
    let secret = SecretRef::Profile(world.entry);
    let mut group = c.benchmark_group("resolve");
    group.bench_function("backend_direct", |b| {
        b.to_async(&rt).iter(|| async { black_box(world.backend.get(&secret).await.unwrap()) })
    });
    group.bench_function("resolve_static", |b| {
        b.to_async(&rt).iter(|| async {
            let resolved = world.resolver.resolve(world.connection).await.unwrap();
            assert!(matches!(resolved.auth, Auth::Secret(_)));
            black_box(resolved)
        })
    });
    let db = TempDatabase::sqlite("bench_resolve");
    let (catalog_world, catalog) = rt.block_on(catalog_world(db.url(), "bench-catalog"));
    rt.block_on(put(&catalog_world, r#"{"username":"app","password":"bench-password"}"#));
    group.bench_function("resolve_catalog", |b| {
        b.to_async(&rt).iter(|| async {
            let resolved = catalog_world.resolver.resolve(catalog_world.connection).await.unwrap();
            assert!(matches!(resolved.auth, Auth::Secret(_)));
            black_box(resolved)
        })
    });
    group.finish();
    rt.block_on(catalog.close());
}

/// p50 and p99 in nanoseconds of `samples`.
fn percentiles(mut samples: Vec<u64>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64;
    (at(0.5), at(0.99))
}

/// Resolves over a PostgreSQL catalog and bare `SELECT 1`s, interleaved: ((p50, p99) resolve, (p50, p99) select).
fn resolve_over_postgres(rt: &tokio::runtime::Runtime) -> ((f64, f64), (f64, f64)) {
    const N: usize = 2_000;
    let db = TempDatabase::postgres("bench_resolve");
    rt.block_on(async {
        let (world, catalog) = catalog_world(db.url(), "bench-catalog-pg").await;
        put(&world, r#"{"username":"app","password":"bench-password"}"#).await;
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(16).connect(db.url()).await.unwrap();
        for _ in 0..200 {
            world.resolver.resolve(world.connection).await.unwrap();
            sqlx::query("SELECT 1").execute(&pool).await.unwrap();
        }
        let (mut resolves, mut selects) = (Vec::with_capacity(N), Vec::with_capacity(N));
        for _ in 0..N {
            let began = std::time::Instant::now();
            black_box(world.resolver.resolve(world.connection).await.unwrap());
            resolves.push(began.elapsed().as_nanos() as u64);
            let began = std::time::Instant::now();
            sqlx::query("SELECT 1").execute(&pool).await.unwrap();
            selects.push(began.elapsed().as_nanos() as u64);
        }
        pool.close().await;
        catalog.close().await;
        (percentiles(resolves), percentiles(selects))
    })
}

/// Backend calls for a burst of `n` concurrent resolves.
fn burst(rt: &tokio::runtime::Runtime, n: usize) -> u64 {
    let world = Arc::new(world(&format!("bench-burst-{n}"), Duration::from_millis(20)));
    rt.block_on(async {
        put(&world, "burst").await;
        world.store.reset_counters();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let world = world.clone();
                tokio::spawn(async move { world.resolver.resolve(world.connection).await.unwrap() })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    world.store.gets()
}

/// (backend calls per second for one profile, mean backend round trip in seconds).
fn steady(rt: &tokio::runtime::Runtime) -> (f64, f64) {
    let world = Arc::new(world("bench-steady", Duration::from_millis(20)));
    rt.block_on(async {
        put(&world, "steady").await;
        world.store.reset_counters();
        let stop = Arc::new(AtomicBool::new(false));
        let loops: Vec<_> = (0..64)
            .map(|_| {
                let (world, stop) = (world.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        world.resolver.resolve(world.connection).await.unwrap();
                    }
                })
            })
            .collect();
        let began = Instant::now();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let calls = world.store.gets();
        let elapsed = began.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for task in loops {
            task.await.unwrap();
        }
        // The round trip, measured on the same backend right after.
        let direct = Instant::now();
        let secret = SecretRef::Profile(world.entry);
        for _ in 0..10 {
            world.backend.get(&secret).await.unwrap();
        }
        (calls as f64 / elapsed, direct.elapsed().as_secs_f64() / 10.0)
    })
}

/// (fresh answers, all answers, rotations).
fn fresh(rt: &tokio::runtime::Runtime) -> (u64, u64, u64) {
    let world = Arc::new(world("bench-fresh", Duration::from_millis(1)));
    let (writer, reader) = (world.clone(), world);
    let load = rt.block_on(freshness::under_rotation(
        move |value| {
            let world = writer.clone();
            async move { put(&world, &value).await }
        },
        move || {
            let world = reader.clone();
            async move { world.resolver.resolve(world.connection).await.unwrap() }
        },
        32,
        100,
        Duration::from_micros(5000),
    ));
    (load.fresh, load.total, load.last_version - 1)
}

fn target_dir() -> PathBuf {
    // target/<profile>/deps/resolve-<hash> → target
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::current_exe().expect("bench path").ancestors().nth(3).expect("target dir").to_path_buf()
    })
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    overhead(&mut criterion);
    criterion.final_summary();
    // `cargo test --benches`, listing, or a criterion filter (`cargo bench … -- resolve_static`): criterion only.
    if std::env::args().skip(1).any(|arg| arg == "--list" || arg == "--test" || !arg.starts_with('-')) {
        return;
    }

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let bursts: Vec<(usize, u64)> = [10, 100, 1000].into_iter().map(|n| (n, burst(&rt, n))).collect();
    let (steady_calls, rtt) = steady(&rt);
    let (fresh_answers, answers, rotations) = fresh(&rt);
    let ((pg_p50, pg_p99), (select_p50, select_p99)) = resolve_over_postgres(&rt);
    let meta = serde_json::json!({
        "catalog_pg": {"p50_ns": pg_p50, "p99_ns": pg_p99, "select_p50_ns": select_p50, "select_p99_ns": select_p99},
        "burst_backend_calls": bursts.iter().map(|(n, calls)| serde_json::json!({"n": n, "calls": calls})).collect::<Vec<_>>(),
        "steady_calls_per_second": steady_calls,
        "steady_rtt_seconds": rtt,
        "fresh_answers": fresh_answers,
        "answers": answers,
        "rotations": rotations,
    });
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("resolve-meta.json"), serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    println!("{meta:#}");
}
