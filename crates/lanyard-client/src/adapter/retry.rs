//! The adapter's one retry primitive: [`Attempts`] counts the runs of an ALTER's read-then-write and paces its
//! reruns after a 412 (a growing, jittered pause, at most [`ALTER_ATTEMPTS`] runs), the way the catalog's
//! `Attempts` paces its transactions — that one lives below the API and is not reachable from a client.
//!
//! Why ALTER may re-read and re-send at all: its actions are stated without reference to the version it read (SET
//! to a value, UNSET, RENAME TO, ROTATE, SET SECRET; the server applies each to the row as it finds it), so sending
//! them again over the newer version gives exactly what running the two statements one after the other would.
//! Nothing else retries: CREATE, DROP, TEST, START and STOP send no `If-Match`, and a 412 can only answer an ALTER.

use std::time::Duration;

/// How many times an ALTER reads and writes when the object keeps changing between its GET and its PUT.
pub(crate) const ALTER_ATTEMPTS: u32 = 10;

/// The pause after the first failed attempt; it doubles after each one, up to [`MAX_PAUSE`], plus as much again
/// at random.
const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// The longest pause before the jitter.
const MAX_PAUSE: Duration = Duration::from_millis(640);

/// The attempts of one ALTER: call [`Attempts::retry`] after each run that found the object changed.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    failed: u32,
}

impl Attempts {
    /// No attempt has failed yet.
    pub(crate) const fn new() -> Self {
        Self { failed: 0 }
    }

    /// How many attempts have failed.
    pub(crate) const fn failed(&self) -> u32 {
        self.failed
    }

    /// Records a failed attempt. When fewer than [`ALTER_ATTEMPTS`] have run, waits a growing, jittered pause (so
    /// writers that collided do not collide again in step) and returns `true`: run again. Otherwise `false`, at once.
    pub(crate) async fn retry(&mut self) -> bool {
        self.failed += 1;
        if self.failed >= ALTER_ATTEMPTS {
            return false;
        }
        tokio::time::sleep(pause(self.failed)).await;
        true
    }
}

/// The pause after `failed` failed attempts: the doubling base plus up to as much again, at random.
fn pause(failed: u32) -> Duration {
    let base = FIRST_PAUSE.saturating_mul(1 << (failed - 1).min(10)).min(MAX_PAUSE);
    let jitter = rand::random_range(0..=base.as_micros() as u64);
    base + Duration::from_micros(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paused time: the pauses take no real time.
    #[tokio::test(start_paused = true)]
    async fn an_alter_runs_at_most_alter_attempts_times() {
        let mut attempts = Attempts::new();
        let mut runs = 1;
        while attempts.retry().await {
            runs += 1;
        }
        assert_eq!((runs, attempts.failed()), (ALTER_ATTEMPTS, ALTER_ATTEMPTS));
    }

    #[test]
    fn pauses_grow_up_to_a_bound_and_are_jittered() {
        for failed in 1..ALTER_ATTEMPTS {
            let base = (FIRST_PAUSE * 2u32.pow(failed - 1)).min(MAX_PAUSE);
            let pauses: Vec<Duration> = (0..64).map(|_| pause(failed)).collect();
            assert!(pauses.iter().all(|p| *p >= base && *p <= 2 * base), "{failed}: {pauses:?}");
            assert!(pauses.iter().any(|p| *p != pauses[0]), "jittered: {pauses:?}");
        }
    }
}
