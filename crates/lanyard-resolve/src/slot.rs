//! One built backend with its bounds: per-call timeout, concurrency limit, optional rate limit, and retries of
//! temporary failures with exponential backoff, full jitter and `Retry-After`, never past the caller's deadline.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lanyard_core::BackendId;
use lanyard_vault::{ErrorKind, Operation, VaultBackend, VaultError};
use rand::Rng;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, sleep_until, timeout_at};

use crate::error::Cause;
use crate::metrics::{BackendMetrics, DEADLINE_EXCEEDED};

/// Default timeout of one backend call (`timeout_ms`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);
/// Default number of backend calls in flight at once per backend (`max_concurrent_requests`).
pub const DEFAULT_CONCURRENCY: u32 = 32;

/// How temporary failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (vault.md: at most 3).
    pub max_attempts: u32,
    /// The backoff before the second attempt; it doubles per attempt.
    pub base_delay: Duration,
    /// The largest backoff (a `Retry-After` may ask for more, and is honoured).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 3, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based): full jitter over the exponential ceiling, but at least
    /// the backend's `Retry-After`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.base_delay.saturating_mul(1 << (attempt - 1).min(16)).min(self.max_delay);
        let jitter = Duration::from_micros(rand::rng().random_range(0..=ceiling.as_micros() as u64));
        jitter.max(retry_after.unwrap_or_default())
    }
}

/// Spaces calls `interval` apart (one token, refilled at the configured rate), shared by every profile.
struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// Reserves the next slot; `None` if it would come after `deadline` (nothing is reserved then).
    fn reserve(&self, deadline: Instant) -> Option<Instant> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let at = (*next).max(Instant::now());
        if at > deadline {
            return None;
        }
        *next = at + self.interval;
        Some(at)
    }
}

/// A backend instance built from one version of its catalog row.
pub(crate) struct Slot {
    pub(crate) id: BackendId,
    pub(crate) version: i64,
    pub(crate) name: String,
    backend_type: String,
    pub(crate) backend: Arc<dyn VaultBackend>,
    pub(crate) metrics: BackendMetrics,
    call_timeout: Duration,
    permits: Semaphore,
    rate: Option<RateLimiter>,
    retry: RetryPolicy,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("name", &self.name)
            .field("kind", &self.backend.kind())
            .finish_non_exhaustive()
    }
}

/// The bounds of one backend, from its common options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) call_timeout: Duration,
    pub(crate) concurrency: u32,
    pub(crate) per_second: Option<u32>,
}

/// A caller's deadline: when, and how long it was when it was set (for messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) budget: Duration,
}

impl Deadline {
    pub(crate) fn after(budget: Duration) -> Self {
        Self { at: Instant::now() + budget, budget }
    }

    pub(crate) fn exceeded(&self, last: Option<VaultError>) -> Cause {
        Cause::DeadlineExceeded { deadline: self.budget, last }
    }
}

impl Slot {
    pub(crate) fn new(
        row: &lanyard_catalog::Backend,
        backend: Arc<dyn VaultBackend>,
        limits: Limits,
        retry: RetryPolicy,
        metrics: BackendMetrics,
    ) -> Self {
        let rate = limits
            .per_second
            .filter(|n| *n > 0)
            .map(|n| RateLimiter { interval: Duration::from_secs(1) / n, next: Mutex::new(Instant::now()) });
        Self {
            id: row.meta.id,
            version: row.meta.version,
            name: row.name.to_string(),
            backend_type: row.backend_type.clone(),
            backend,
            metrics,
            call_timeout: limits.call_timeout,
            permits: Semaphore::new(limits.concurrency.max(1) as usize),
            rate,
            retry,
        }
    }

    /// Whether this instance was built from `row` as it is now (same version, name and type).
    pub(crate) fn built_from(&self, row: &lanyard_catalog::Backend) -> bool {
        self.version == row.meta.version && self.name == row.name.as_str() && self.backend_type == row.backend_type
    }

    pub(crate) fn kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// Runs `op` under the backend's bounds, retrying temporary failures. Returns the value and when the
    /// successful attempt started.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        operation: Operation,
        deadline: Deadline,
        op: F,
    ) -> Result<(T, Instant), Cause>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = lanyard_vault::Result<T>>,
    {
        let mut last: Option<VaultError> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(rate) = &self.rate {
                let Some(at) = rate.reserve(deadline.at) else {
                    self.metrics.error(DEADLINE_EXCEEDED);
                    return Err(deadline.exceeded(last));
                };
                sleep_until(at).await;
            }
            let Ok(Ok(permit)) = timeout_at(deadline.at, self.permits.acquire()).await else {
                self.metrics.error(DEADLINE_EXCEEDED);
                return Err(deadline.exceeded(last));
            };
            let started = Instant::now();
            let own_timeout = started + self.call_timeout;
            self.metrics.calls.inc();
            let outcome = timeout_at(own_timeout.min(deadline.at), op()).await;
            drop(permit);
            self.metrics.observe(started.elapsed());
            let error = match outcome {
                Ok(Ok(value)) => return Ok((value, started)),
                Ok(Err(error)) => error,
                Err(_) if deadline.at < own_timeout => {
                    self.metrics.error(DEADLINE_EXCEEDED);
                    return Err(deadline.exceeded(last));
                }
                Err(_) => VaultError::new(ErrorKind::Timeout, self.kind(), operation)
                    .with_detail(format!("no answer within {} ms", self.call_timeout.as_millis())),
            };
            self.metrics.error(error.kind().label());
            if !error.is_temporary() || attempt >= self.retry.max_attempts {
                tracing::debug!(backend = %self.name, kind = self.kind(), attempt, error = %error, "backend call failed");
                return Err(Cause::Vault(error));
            }
            let delay = self.retry.delay(attempt, error.retry_after());
            if Instant::now() + delay >= deadline.at {
                // No time left for another attempt: the backend's own error says more than "deadline exceeded".
                return Err(Cause::Vault(error));
            }
            self.metrics.retries.inc();
            tracing::debug!(
                backend = %self.name,
                kind = self.kind(),
                operation = operation.verb(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "retrying a temporary backend failure"
            );
            last = Some(error);
            sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_below_the_ceiling_and_honours_retry_after() {
        let policy = RetryPolicy::default();
        for attempt in 1..=5 {
            for _ in 0..200 {
                let delay = policy.delay(attempt, None);
                let ceiling = (policy.base_delay * (1 << (attempt - 1))).min(policy.max_delay);
                assert!(delay <= ceiling, "attempt {attempt}: {delay:?} > {ceiling:?}");
            }
        }
        let after = Duration::from_millis(1500);
        assert!((0..100).all(|_| policy.delay(1, Some(after)) >= after));
        // Full jitter spreads the delays: not all equal.
        let delays: std::collections::HashSet<_> = (0..50).map(|_| policy.delay(3, None)).collect();
        assert!(delays.len() > 10);
    }
}
