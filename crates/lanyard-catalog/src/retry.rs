//! The one retry primitive of every catalog writer: [`Attempts`] counts the attempts of an operation and paces its
//! reruns (a growing, jittered pause, for at most [`RETRY_DEADLINE`] after the first run), and [`transaction!`](crate::transaction)
//! runs a block in a write transaction with it. [`crate::Catalog::write`], `insert`, `update`, `delete` and every
//! Control Plane operation go through them.
//!
//! Why a macro and not a function taking a closure: a function would take `impl AsyncFnMut(&mut Tx) -> …`, whose
//! future cannot be required to be `Send` on stable Rust (the bound needs return-type notation), so an operation
//! using it could not run inside `tokio::spawn` or an axum handler; the alternative, a closure returning a boxed
//! future borrowing both the transaction and the caller's data, needs a higher-ranked lifetime dance at every call
//! site (`|tx| Box::pin(async move { … })` with scoped lifetimes). The macro expands to plain `async` code in the
//! caller, so the caller's future is `Send` whenever its own data is, and the body reads like straight-line code.

use std::time::Duration;

use crate::error::CatalogError;

/// The most runs of one operation that keeps failing with a retryable error (the first run included): a backstop
/// behind [`RETRY_DEADLINE`], which normally ends the retries first.
pub const MAX_ATTEMPTS: u32 = 200;

/// How long after its first run an operation that keeps failing with a retryable error may still be rerun. Two
/// nodes with 8 clients writing the same few rows of a PostgreSQL catalog (SERIALIZABLE) see serialization
/// failures on a good part of their transactions; a budget of 8 runs (about 0.4 s) left 28 of 4,982 requests with
/// 503, so the budget is time rather than a count. Well below an HTTP client's patience; a request that still
/// fails after it gets 503.
pub const RETRY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// The most runs of a re-plan loop whose every turn has a side effect outside the catalog (the Control Plane's
/// ALTER VAULT … SET SECRET and CREATE/ALTER LINK … CREDENTIALS write the material to the vault before the
/// transaction that checks the plan is still current): each extra turn creates one more secret version in the
/// backend (AWS, HashiCorp…), so these loops keep the count-based budget (about 0.4 s of pauses) rather than
/// [`RETRY_DEADLINE`]. The serialization failures of each turn's transaction are retried inside it, within the
/// same deadline ([`Attempts::side_effects`]).
pub const MAX_SIDE_EFFECT_RUNS: u32 = 8;

/// The ceiling of the pause between two runs: ceilings grow from 4 ms to this, and each pause is a random 50 to
/// 100 % of its ceiling, so that writers which collided do not collide again in step.
const MAX_PAUSE: Duration = Duration::from_millis(250);

/// Whether rerunning the whole transaction may succeed after this error (a serialization failure, a busy
/// database). Implemented by [`CatalogError`] and by the errors of crates that wrap it.
pub trait Retryable {
    /// Whether a rerun may succeed.
    fn is_retryable(&self) -> bool;
}

impl Retryable for CatalogError {
    fn is_retryable(&self) -> bool {
        CatalogError::is_retryable(self)
    }
}

/// The attempts of one operation: call [`Attempts::retry`] after each failed attempt.
///
/// One request has one deadline: a loop that runs transactions inside its own retries (a re-plan loop) hands its
/// deadline to them with [`Attempts::within`] (`transaction!(catalog, within attempts, |tx| …)`), so that the
/// request as a whole stops retrying [`RETRY_DEADLINE`] after its first run, not that much after each inner run.
#[derive(Debug)]
pub struct Attempts {
    failed: u32,
    /// The most runs in all (the first included).
    max_runs: u32,
    /// No rerun starts after this instant (tokio's clock, so that tests with paused time take no real time).
    deadline: tokio::time::Instant,
}

impl Default for Attempts {
    fn default() -> Self {
        Self::new()
    }
}

impl Attempts {
    /// No attempt has failed yet; the deadline, [`RETRY_DEADLINE`], runs from now.
    pub fn new() -> Self {
        Self { failed: 0, max_runs: MAX_ATTEMPTS, deadline: tokio::time::Instant::now() + RETRY_DEADLINE }
    }

    /// For a loop whose every run has a side effect outside the catalog (a write to a vault backend): at most
    /// [`MAX_SIDE_EFFECT_RUNS`] runs, and no rerun after [`RETRY_DEADLINE`].
    pub fn side_effects() -> Self {
        Self { max_runs: MAX_SIDE_EFFECT_RUNS, ..Self::new() }
    }

    /// The attempts of an operation run inside `outer`'s (a transaction inside a re-plan loop): its own count of
    /// runs, but `outer`'s deadline, so that the nested retries of one request share one deadline.
    pub fn within(outer: &Attempts) -> Self {
        Self { failed: 0, max_runs: MAX_ATTEMPTS, deadline: outer.deadline }
    }

    /// The instant after which no rerun starts.
    pub fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }

    /// Records a failed attempt. When the failure is `retryable`, the deadline has not passed and fewer than the
    /// most runs were made ([`MAX_ATTEMPTS`], or [`MAX_SIDE_EFFECT_RUNS`]), waits a jittered pause (its ceiling
    /// doubling from 4 ms to [`MAX_PAUSE`], never past the deadline) and returns `true`: run again. Otherwise
    /// returns `false` at once.
    pub async fn retry(&mut self, retryable: bool) -> bool {
        self.failed += 1;
        let now = tokio::time::Instant::now();
        if !retryable || self.failed >= self.max_runs || now >= self.deadline {
            return false;
        }
        let ceiling = Duration::from_millis(2u64 << self.failed.min(7)).min(MAX_PAUSE);
        let pause = ceiling.mul_f64(rand::random_range(0.5..=1.0)).min(self.deadline - now);
        tokio::time::sleep(pause).await;
        true
    }
}

/// Runs `$body` (which uses `$tx: &mut Tx`) in a write transaction of `$catalog` (a `&Catalog`) and commits. On a
/// retryable failure ([`Retryable`]) the transaction is rolled back and the whole block runs again, with
/// the pacing of [`Attempts`]; any other error rolls back and is returned. `-> Type` names the block's result
/// type (default `lanyard_catalog::Result<_>`); its error type must convert from [`CatalogError`]. Inside a loop
/// that retries on its own (with `attempts: Attempts`), write `transaction!(catalog, within attempts, |tx| …)`: the
/// transaction's retries then end at that loop's deadline ([`Attempts::within`]).
///
/// ```no_run
/// # use lanyard_catalog::{Catalog, Connection, Result};
/// # async fn example(catalog: &Catalog, row: Connection) -> Result<()> {
/// let stored = lanyard_catalog::transaction!(catalog, |tx| -> Result<_> {
///     let stored = tx.insert(row.clone()).await?;
///     tx.count::<Connection>().await?;
///     Ok(stored)
/// })?;
/// # Ok(())
/// # }
/// ```
#[macro_export]
macro_rules! transaction {
    (@run $catalog:expr, $attempts:ident, |$tx:ident| -> $ret:ty $body:block) => {{
        let mut $attempts = $attempts;
        loop {
            let outcome: $ret = async {
                let mut write = $crate::Catalog::begin_write($catalog).await?;
                let inner: $ret = {
                    let $tx: &mut $crate::Tx = &mut write;
                    async { $body }.await
                };
                match inner {
                    ::core::result::Result::Ok(value) => {
                        write.commit().await?;
                        ::core::result::Result::Ok(value)
                    }
                    ::core::result::Result::Err(error) => {
                        // Roll back now, not when the handle drops, so the writer slot is free during the pause.
                        let _ = write.rollback().await;
                        ::core::result::Result::Err(error)
                    }
                }
            }
            .await;
            match outcome {
                ::core::result::Result::Err(error)
                    if $attempts.retry($crate::Retryable::is_retryable(&error)).await => {}
                other => break other,
            }
        }
    }};
    ($catalog:expr, |$tx:ident| -> $ret:ty $body:block) => {{
        let attempts = $crate::Attempts::new();
        $crate::transaction!(@run $catalog, attempts, |$tx| -> $ret $body)
    }};
    ($catalog:expr, within $outer:ident, |$tx:ident| -> $ret:ty $body:block) => {{
        let attempts = $crate::Attempts::within(&$outer);
        $crate::transaction!(@run $catalog, attempts, |$tx| -> $ret $body)
    }};
    ($catalog:expr, |$tx:ident| $body:block) => {
        $crate::transaction!($catalog, |$tx| -> $crate::Result<_> $body)
    };
}

/// Runs `$body` (which uses `$tx: &mut Tx`) as one change that reads what it needs and then makes exactly one
/// write, a statement that itself checks everything the change relies on — [`crate::Tx::update_audited`]: the row
/// at the version the body read, the rows it refers to (and their foreign keys), its audit record in the same
/// statement. On PostgreSQL it runs without a transaction ([`crate::Catalog::begin_autocommit`]: no BEGIN, no
/// COMMIT, two round trips fewer); when the write finds that another change committed to the row since the body
/// read it ([`crate::CatalogError::Overtaken`]), or on any other retryable failure, the whole body runs again,
/// paced by [`Attempts`]. On SQLite it is [`transaction!`]. The body must make no other write (nothing would roll
/// it back) and must not rely on a check that its write does not repeat (a look-alike name, say): such changes
/// use [`transaction!`].
#[macro_export]
macro_rules! optimistic {
    ($catalog:expr, |$tx:ident| -> $ret:ty $body:block) => {{
        let catalog: &$crate::Catalog = $catalog;
        if catalog.kind() == $crate::DatabaseKind::Postgres {
            let mut attempts = $crate::Attempts::new();
            loop {
                let outcome: $ret = async {
                    let ::core::option::Option::Some(mut auto) = catalog.begin_autocommit().await? else {
                        ::core::unreachable!("a PostgreSQL catalog runs statements without a transaction")
                    };
                    let $tx: &mut $crate::Tx = &mut auto;
                    async { $body }.await
                }
                .await;
                match outcome {
                    ::core::result::Result::Err(error)
                        if attempts.retry($crate::Retryable::is_retryable(&error)).await => {}
                    other => break other,
                }
            }
        } else {
            $crate::transaction!(catalog, |$tx| -> $ret $body)
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paused time: the pauses between attempts take no real time.
    #[tokio::test(start_paused = true)]
    async fn an_operation_is_retried_until_the_deadline_and_only_on_retryable_failures() {
        let start = tokio::time::Instant::now();
        let mut attempts = Attempts::new();
        let mut runs = 1;
        while attempts.retry(true).await {
            runs += 1;
        }
        let spent = start.elapsed();
        // Pauses of up to 250 ms (at least half of it once grown): many runs, and the deadline ends them.
        assert!((40..MAX_ATTEMPTS).contains(&runs), "{runs} runs");
        assert!(spent >= RETRY_DEADLINE && spent < RETRY_DEADLINE + MAX_PAUSE, "{spent:?}");
        let mut attempts = Attempts::new();
        assert!(!attempts.retry(false).await, "a permanent failure is not retried");
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_with_side_effects_runs_a_few_times_only() {
        let mut attempts = Attempts::side_effects();
        let mut runs = 1;
        while attempts.retry(true).await {
            runs += 1;
        }
        assert_eq!(runs, MAX_SIDE_EFFECT_RUNS);
    }

    #[tokio::test(start_paused = true)]
    async fn nested_retries_share_the_outer_deadline() {
        let start = tokio::time::Instant::now();
        let outer = Attempts::side_effects();
        tokio::time::sleep(RETRY_DEADLINE - Duration::from_secs(1)).await;
        // An inner operation that keeps failing stops at the outer deadline, 1 s from now, not 10 s from now.
        let mut inner = Attempts::within(&outer);
        while inner.retry(true).await {}
        assert_eq!(inner.deadline(), outer.deadline());
        let spent = start.elapsed();
        assert!(spent >= RETRY_DEADLINE && spent < RETRY_DEADLINE + MAX_PAUSE, "{spent:?}");
    }

    // Real time (the SQLite pool's threads and paused time do not mix); the outer deadline is made already past.
    #[tokio::test]
    async fn a_transaction_within_a_loop_stops_at_the_loops_deadline() {
        let outer = Attempts { deadline: tokio::time::Instant::now(), ..Attempts::side_effects() };
        #[derive(Debug)]
        enum Failure {
            Busy,
            Catalog,
        }
        impl From<CatalogError> for Failure {
            fn from(_: CatalogError) -> Self {
                Failure::Catalog
            }
        }
        impl Retryable for Failure {
            fn is_retryable(&self) -> bool {
                matches!(self, Failure::Busy)
            }
        }
        let catalog = crate::Catalog::open("sqlite::memory:").await.unwrap();
        let mut runs = 0;
        let outcome = crate::transaction!(&catalog, within outer, |_tx| -> Result<(), Failure> {
            runs += 1;
            Err(Failure::Busy)
        });
        assert!(matches!(outcome, Err(Failure::Busy)), "{outcome:?}");
        assert_eq!(runs, 1);
        // A transaction of its own has its own deadline: the same failures are retried.
        let mut runs = 0;
        let outcome = crate::transaction!(&catalog, |_tx| -> Result<(), Failure> {
            runs += 1;
            if runs < 3 { Err(Failure::Busy) } else { Ok(()) }
        });
        assert!(outcome.is_ok(), "{outcome:?}");
        assert_eq!(runs, 3);
    }
}
