//! HTTP metrics: requests by method, route and status, their latency, and the open and refused connections.
//!
//! Every label comes from a closed set, so no request can create a series: `method` is one of the methods the route
//! table uses plus `HEAD` and `OPTIONS`, else `other`; `route` is a route template of the table, else `unmatched`;
//! `status` is a status code this server answers; `cap` is `total` or `per_ip`.

use std::time::Duration;

use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `route` label of a request no route template matched.
pub(crate) const UNMATCHED: &str = "unmatched";
/// The `method` label of a method outside the closed set.
pub(crate) const OTHER: &str = "other";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CapLabels {
    cap: &'static str,
}

pub(crate) struct HttpMetrics {
    registry: Registry,
    /// The `method` label values (besides [`OTHER`]).
    methods: Vec<&'static str>,
    requests: Family<Labels, Counter>,
    duration: Family<RouteLabels, Histogram>,
    open: Gauge,
    refused: Family<CapLabels, Counter>,
}

impl HttpMetrics {
    /// Metrics whose `method` label is one of `methods` (the route table's), `HEAD`, `OPTIONS` or `other`.
    pub(crate) fn new(methods: impl IntoIterator<Item = Method>) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        let duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        let open = Gauge::default();
        let refused = Family::<CapLabels, Counter>::default();
        registry.register("lanyard_http_requests", "HTTP requests by method, route and status", requests.clone());
        registry.register("lanyard_http_request_duration_seconds", "HTTP request latency", duration.clone());
        registry.register("lanyard_http_connections_open", "Open HTTP connections", open.clone());
        registry.register(
            "lanyard_http_connections_refused",
            "Connections closed at once because a connection cap (total or per client IP) was reached",
            refused.clone(),
        );
        // Every method of the closed set is a standard one, whose name is static; looked up once, here.
        let mut closed: Vec<&'static str> =
            methods.into_iter().chain([Method::HEAD, Method::OPTIONS]).map(|m| standard_name(&m)).collect();
        closed.sort_unstable();
        closed.dedup();
        Self { registry, methods: closed, requests, duration, open, refused }
    }

    /// The `method` label of `method`: its name when in the closed set, else [`OTHER`].
    pub(crate) fn method_label(&self, method: &Method) -> &'static str {
        self.methods.iter().copied().find(|name| *name == method.as_str()).unwrap_or(OTHER)
    }

    pub(crate) fn observe(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let method = self.method_label(method);
        self.requests.get_or_create(&Labels { method, route: route.to_owned(), status }).inc();
        self.duration.get_or_create(&RouteLabels { method, route: route.to_owned() }).observe(elapsed.as_secs_f64());
    }

    pub(crate) fn connection_opened(&self) {
        self.open.inc();
    }

    pub(crate) fn connection_closed(&self) {
        self.open.dec();
    }

    pub(crate) fn connection_refused(&self, cap: &'static str) {
        self.refused.get_or_create(&CapLabels { cap }).inc();
    }

    pub(crate) fn encode(&self, out: &mut String) {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut text, &self.registry).is_ok() {
            out.push_str(&text);
        }
    }
}

/// The static name of a standard method (an extension method is [`OTHER`]).
fn standard_name(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ]
    .into_iter()
    .zip(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"])
    .find_map(|(m, name)| (m == method).then_some(name))
    .unwrap_or(OTHER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_table_are_other() {
        let metrics = HttpMetrics::new([Method::GET, Method::PUT]);
        assert_eq!(metrics.method_label(&Method::GET), "GET");
        assert_eq!(metrics.method_label(&Method::HEAD), "HEAD");
        assert_eq!(metrics.method_label(&Method::OPTIONS), "OPTIONS");
        assert_eq!(metrics.method_label(&Method::DELETE), OTHER);
        assert_eq!(metrics.method_label(&Method::from_bytes(b"FROB").unwrap()), OTHER);
    }
}
