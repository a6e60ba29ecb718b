//! The measuring half of the cloud plugins' `resolve_vs_raw` benches (`shared/spec/quality.md`): interleaved
//! latencies of a resolve through the plugin and of a raw call to the same server, and the report `cargo xtask bench`
//! reads, `target/bench/resolve_vs_raw_<kind>.json`.

use std::future::Future;
use std::path::PathBuf;
use std::time::Instant;

/// Latencies of both sides, in nanoseconds, one per call.
#[derive(Debug, Default)]
pub struct Latencies {
    resolve_ns: Vec<u128>,
    raw_ns: Vec<u128>,
}

/// Runs `warm_up` untimed rounds, then `samples` timed rounds of one `resolve` and one `raw` call each, alternating
/// which goes first so that drift in the server affects both sides alike.
pub async fn interleave<R, RF, W, WF>(warm_up: usize, samples: usize, mut resolve: R, mut raw: W) -> Latencies
where
    R: FnMut() -> RF,
    RF: Future<Output = ()>,
    W: FnMut() -> WF,
    WF: Future<Output = ()>,
{
    for _ in 0..warm_up {
        resolve().await;
        raw().await;
    }
    let mut latencies = Latencies { resolve_ns: Vec::with_capacity(samples), raw_ns: Vec::with_capacity(samples) };
    for round in 0..samples {
        for resolve_turn in if round % 2 == 0 { [true, false] } else { [false, true] } {
            let started = Instant::now();
            if resolve_turn {
                resolve().await;
                latencies.resolve_ns.push(started.elapsed().as_nanos());
            } else {
                raw().await;
                latencies.raw_ns.push(started.elapsed().as_nanos());
            }
        }
    }
    latencies
}

impl Latencies {
    /// Writes `<target>/bench/resolve_vs_raw_<kind>.json` (`samples`, `resolve_p50_ns`, `resolve_p99_ns`,
    /// `raw_p50_ns`, `raw_p99_ns`) and returns it (`cargo xtask bench` prints the figures).
    pub fn report(mut self, kind: &str) -> serde_json::Value {
        assert!(!self.resolve_ns.is_empty() && !self.raw_ns.is_empty(), "resolve_vs_raw_{kind}: no samples");
        self.resolve_ns.sort_unstable();
        self.raw_ns.sort_unstable();
        let report = serde_json::json!({
            "samples": self.resolve_ns.len(),
            "resolve_p50_ns": percentile(&self.resolve_ns, 0.50),
            "resolve_p99_ns": percentile(&self.resolve_ns, 0.99),
            "raw_p50_ns": percentile(&self.raw_ns, 0.50),
            "raw_p99_ns": percentile(&self.raw_ns, 0.99),
        });
        let dir = bench_target_dir().join("bench");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("resolve_vs_raw_{kind}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        report
    }
}

/// The nearest-rank `q` quantile (0.0–1.0) of sorted samples.
fn percentile(sorted: &[u128], q: f64) -> f64 {
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64
}

/// Cargo's target directory as seen from a running bench: `CARGO_TARGET_DIR`, else three levels above the bench
/// executable (`target/<profile>/deps/<bench>-<hash>`).
pub fn bench_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::current_exe().expect("the bench's path").ancestors().nth(3).expect("a target dir").to_path_buf()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u128> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 0.50), 51.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[7], 0.99), 7.0);
    }
}
