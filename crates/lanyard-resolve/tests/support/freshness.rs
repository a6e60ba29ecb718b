//! Concurrent resolve loops while a rotator writes new versions, shared by `tests/resolve.rs` (which asserts that
//! every answer is fresh) and `benches/resolve.rs` (which reports the ratio).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use lanyard_resolve::{Auth, ResolvedConnection};
use rand::Rng as _;
use tokio::time::Instant;

/// What the loops saw.
pub(crate) struct Freshness {
    /// Answers read by a backend call that started after the resolve began, carrying at least the version whose
    /// write completed before it began.
    pub(crate) fresh: u64,
    /// All answers.
    pub(crate) total: u64,
    /// The last version the rotator wrote (`v1` is written before the loops start).
    pub(crate) last_version: u64,
}

/// Writes `v1`, then runs `loops` tasks of `resolves` resolves each while a rotator writes `v2`, `v3`, … with a
/// random pause below `max_pause` before each write; stops the rotator when the loops are done.
pub(crate) async fn under_rotation<W, WF, R, RF>(
    write: W,
    resolve: R,
    loops: usize,
    resolves: usize,
    max_pause: Duration,
) -> Freshness
where
    W: Fn(String) -> WF + Send + Sync + 'static,
    WF: Future<Output = ()> + Send,
    R: Fn() -> RF + Send + Sync + 'static,
    RF: Future<Output = ResolvedConnection> + Send,
{
    write("v1".to_owned()).await;
    let committed = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let rotator = {
        let (committed, stop) = (committed.clone(), stop.clone());
        let max_micros = u64::try_from(max_pause.as_micros()).expect("a short pause");
        tokio::spawn(async move {
            let mut version = 1;
            while !stop.load(Ordering::SeqCst) {
                let pause = rand::rng().random_range(0..max_micros);
                tokio::time::sleep(Duration::from_micros(pause)).await;
                version += 1;
                write(format!("v{version}")).await;
                committed.store(version, Ordering::SeqCst);
            }
            version
        })
    };
    let resolve = Arc::new(resolve);
    let tasks: Vec<_> = (0..loops)
        .map(|_| {
            let (resolve, committed) = (resolve.clone(), committed.clone());
            tokio::spawn(async move {
                let (mut fresh, mut total) = (0u64, 0u64);
                for _ in 0..resolves {
                    let floor = committed.load(Ordering::SeqCst);
                    let began = Instant::now();
                    let resolved = resolve().await;
                    let Auth::Secret(value) = &resolved.auth else {
                        panic!("expected a secret, got {:?}", resolved.auth)
                    };
                    let version: u64 = std::str::from_utf8(&value.expose_bytes()[1..]).unwrap().parse().unwrap();
                    total += 1;
                    if version >= floor && resolved.provenance.unwrap().read_started_at >= began {
                        fresh += 1;
                    }
                }
                (fresh, total)
            })
        })
        .collect();
    let (mut fresh, mut total) = (0, 0);
    for task in tasks {
        let (f, t) = task.await.unwrap();
        fresh += f;
        total += t;
    }
    stop.store(true, Ordering::SeqCst);
    let last_version = rotator.await.unwrap();
    Freshness { fresh, total, last_version }
}
