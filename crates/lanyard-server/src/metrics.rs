//! HTTP metrics: requests by method, route and status, and their latency.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

pub(crate) struct HttpMetrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    duration: Family<RouteLabels, Histogram>,
}

impl HttpMetrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        let duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        registry.register("lanyard_http_requests", "HTTP requests by method, route and status", requests.clone());
        registry.register("lanyard_http_request_duration_seconds", "HTTP request latency", duration.clone());
        Self { registry, requests, duration }
    }

    pub(crate) fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests.get_or_create(&Labels { method: method.to_owned(), route: route.to_owned(), status }).inc();
        self.duration
            .get_or_create(&RouteLabels { method: method.to_owned(), route: route.to_owned() })
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn encode(&self, out: &mut String) {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut text, &self.registry).is_ok() {
            out.push_str(&text);
        }
    }
}
