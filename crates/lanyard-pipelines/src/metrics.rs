//! The runner's metrics, for this node and without labels (their number does not grow with the catalog): files
//! loaded and failed, rows loaded, batches that failed, leases held, and how long a file took from read to commit.

use std::fmt;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The runner's metric families (`lanyard_pipeline_*`), exported on `/metrics` by `lanyard serve`.
pub struct RunnerMetrics {
    registry: Registry,
    pub(crate) files_loaded: Counter,
    pub(crate) files_failed: Counter,
    pub(crate) rows_loaded: Counter,
    pub(crate) batch_failures: Counter,
    pub(crate) leases_held: Gauge,
    file_seconds: Histogram,
}

impl fmt::Debug for RunnerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerMetrics").finish_non_exhaustive()
    }
}

impl Default for RunnerMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let files_loaded = Counter::default();
        let files_failed = Counter::default();
        let rows_loaded = Counter::default();
        let batch_failures = Counter::default();
        let leases_held = Gauge::default();
        // 1 ms … ~65 s
        let file_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        registry.register("lanyard_pipeline_files_loaded", "Files loaded by this node", files_loaded.clone());
        registry.register(
            "lanyard_pipeline_files_failed",
            "Files whose rows did not fit, marked Failed by this node",
            files_failed.clone(),
        );
        registry.register("lanyard_pipeline_rows_loaded", "Rows loaded by this node", rows_loaded.clone());
        registry.register(
            "lanyard_pipeline_batch_failures",
            "Batches that failed as a whole (source, target or catalog) on this node",
            batch_failures.clone(),
        );
        registry.register("lanyard_pipeline_leases_held", "Pipelines this node runs now", leases_held.clone());
        registry.register(
            "lanyard_pipeline_file_duration_seconds",
            "One file, from reading it to the target's commit",
            file_seconds.clone(),
        );
        Self { registry, files_loaded, files_failed, rows_loaded, batch_failures, leases_held, file_seconds }
    }
}

impl RunnerMetrics {
    pub(crate) fn observe_file(&self, elapsed: Duration) {
        self.file_seconds.observe(elapsed.as_secs_f64());
    }

    /// Appends the Prometheus text exposition of every family to `out` (without the final `# EOF`).
    pub fn encode(&self, out: &mut String) -> fmt::Result {
        let mut text = String::new();
        prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)?;
        out.push_str(&text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exported() {
        let metrics = RunnerMetrics::default();
        metrics.files_loaded.inc();
        metrics.rows_loaded.inc_by(10);
        metrics.observe_file(Duration::from_millis(3));
        let mut text = String::new();
        metrics.encode(&mut text).unwrap();
        for line in [
            "lanyard_pipeline_files_loaded_total 1",
            "lanyard_pipeline_rows_loaded_total 10",
            "lanyard_pipeline_files_failed_total 0",
            "lanyard_pipeline_batch_failures_total 0",
            "lanyard_pipeline_leases_held 0",
            "lanyard_pipeline_file_duration_seconds_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
        }
    }
}
