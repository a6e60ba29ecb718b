//! The resolver's metrics, per backend: resolves, backend calls, coalesced waiters, retries, errors by kind and call
//! latency, in a Prometheus registry ready to be exported (`/metrics`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    backend: String,
    kind: String,
    error: String,
}

/// The error label of resolves whose caller's deadline passed.
pub(crate) const DEADLINE_EXCEEDED: &str = "deadline_exceeded";

type HistogramFamily = Family<BackendLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs … ~6.5 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The resolver's metric families.
pub struct Metrics {
    registry: Registry,
    resolves: Family<BackendLabels, Counter>,
    calls: Family<BackendLabels, Counter>,
    coalesced: Family<BackendLabels, Counter>,
    retries: Family<BackendLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    latency: HistogramFamily,
    by_name: Mutex<HashMap<String, BackendMetrics>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty families, registered under the `lanyard_resolve_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("lanyard_resolve");
        let resolves = Family::default();
        let calls = Family::default();
        let coalesced = Family::default();
        let retries = Family::default();
        let errors = Family::default();
        let latency = HistogramFamily::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("resolves", "Resolves that reached a backend", resolves.clone());
        registry.register("backend_calls", "Calls made to the backend (every attempt counts)", calls.clone());
        registry.register("coalesced_waiters", "Resolves answered by a read shared with others", coalesced.clone());
        registry.register("retries", "Backend calls retried after a temporary failure", retries.clone());
        registry.register("errors", "Failed backend calls, by error kind", errors.clone());
        registry.register("backend_call_duration_seconds", "Latency of one backend call", latency.clone());
        Self { registry, resolves, calls, coalesced, retries, errors, latency, by_name: Mutex::default() }
    }

    /// The handles of one backend (created on first use).
    pub(crate) fn backend(&self, name: &str, kind: &str) -> BackendMetrics {
        let mut by_name = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(metrics) = by_name.get(name).filter(|m| m.labels.kind == kind) {
            return metrics.clone();
        }
        let labels = BackendLabels { backend: name.to_owned(), kind: kind.to_owned() };
        let metrics = BackendMetrics {
            resolves: self.resolves.get_or_create(&labels).clone(),
            calls: self.calls.get_or_create(&labels).clone(),
            coalesced: self.coalesced.get_or_create(&labels).clone(),
            retries: self.retries.get_or_create(&labels).clone(),
            latency: self.latency.get_or_create(&labels).clone(),
            errors: self.errors.clone(),
            labels,
        };
        by_name.insert(name.to_owned(), metrics.clone());
        metrics
    }

    /// The counters of the backend named `name` so far (zero if it was never used).
    pub fn stats(&self, name: &str) -> BackendStats {
        let by_name = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        let Some(metrics) = by_name.get(name) else { return BackendStats::default() };
        let errors = lanyard_vault::ErrorKind::ALL
            .iter()
            .map(|kind| kind.label())
            .chain([DEADLINE_EXCEEDED])
            .map(|label| (label, metrics.error_count(label)))
            .filter(|(_, count)| *count > 0)
            .collect();
        BackendStats {
            resolves: metrics.resolves.get(),
            backend_calls: metrics.calls.get(),
            coalesced_waiters: metrics.coalesced.get(),
            retries: metrics.retries.get(),
            errors,
        }
    }

    /// Appends the Prometheus text exposition of every family to `out` (without the final `# EOF`).
    pub fn encode(&self, out: &mut String) -> fmt::Result {
        let mut text = String::new();
        prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)?;
        out.push_str(&text);
        Ok(())
    }
}

/// A snapshot of one backend's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendStats {
    /// Resolves that reached the backend.
    pub resolves: u64,
    /// Backend calls (attempts).
    pub backend_calls: u64,
    /// Resolves answered by a read shared with others.
    pub coalesced_waiters: u64,
    /// Retried calls.
    pub retries: u64,
    /// Failed calls by error kind label (`rate_limited`, `timeout`, …).
    pub errors: BTreeMap<&'static str, u64>,
}

/// The metric handles of one backend, fetched once so the hot path only touches atomics.
#[derive(Clone)]
pub(crate) struct BackendMetrics {
    labels: BackendLabels,
    pub(crate) resolves: Counter,
    pub(crate) calls: Counter,
    pub(crate) coalesced: Counter,
    pub(crate) retries: Counter,
    latency: Histogram,
    errors: Family<ErrorLabels, Counter>,
}

impl BackendMetrics {
    fn error_labels(&self, error: &str) -> ErrorLabels {
        ErrorLabels { backend: self.labels.backend.clone(), kind: self.labels.kind.clone(), error: error.to_owned() }
    }

    /// Failed calls of this kind so far; reading does not create the series.
    fn error_count(&self, error: &str) -> u64 {
        self.errors.get(&self.error_labels(error)).map_or(0, |counter| counter.get())
    }

    pub(crate) fn error(&self, error: &str) {
        self.errors.get_or_create(&self.error_labels(error)).inc();
    }

    pub(crate) fn observe(&self, latency: Duration) {
        self.latency.observe(latency.as_secs_f64());
    }
}
