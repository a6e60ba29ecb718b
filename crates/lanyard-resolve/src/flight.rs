//! Coalescing without staleness (vault.md rules 1 and 2).
//!
//! Per profile there is at most one read in flight and at most one queued batch. A resolve that finds no read in
//! flight starts one itself, inline. A resolve that finds one in flight joins the queued batch, creating it if
//! needed; the queued batch's read starts when the in-flight read finishes, so it started after every one of its
//! waiters began, and it answers all of them. A burst of N concurrent resolves therefore costs at most two backend
//! calls, and a profile is read at most about once per round trip, yet no answer is older than its request.
//!
//! Queued reads run on a spawned task, so a waiter that gives up (its deadline passed, its future was dropped)
//! never strands the others; a batch whose waiters all left is skipped.

use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, Mutex};

use lanyard_core::BackendId;
use lanyard_vault::{Operation, SecretRef, SecretValue};
use tokio::sync::watch;
use tokio::time::{Instant, timeout_at};

use crate::error::Cause;
use crate::metrics::DEADLINE_EXCEEDED;
use crate::slot::{Deadline, Slot};

/// A read's answer: the material and when the read that produced it started.
pub(crate) type Outcome = Result<(SecretValue, Instant), Cause>;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    backend: BackendId,
    version: i64,
    secret: SecretRef,
}

/// A queued read and its waiters.
struct Batch {
    answer: watch::Sender<Option<Outcome>>,
    /// The latest deadline among the waiters: the read may take that long.
    deadline: Mutex<Deadline>,
}

#[derive(Default)]
struct State {
    running: bool,
    queued: Option<Arc<Batch>>,
}

/// The in-flight and queued reads of every profile.
#[derive(Default)]
pub(crate) struct Flights {
    states: Mutex<HashMap<Key, State>>,
}

enum Role {
    Lead,
    Wait(watch::Receiver<Option<Outcome>>),
}

impl Flights {
    /// The material of `secret` in `slot`, read by a backend call that started after this call began.
    pub(crate) async fn fetch(self: &Arc<Self>, slot: &Arc<Slot>, secret: &SecretRef, deadline: Deadline) -> Outcome {
        slot.metrics.resolves.inc();
        let key = Key { backend: slot.id, version: slot.version, secret: secret.clone() };
        let role = {
            let mut states = self.lock();
            let state = states.entry(key.clone()).or_default();
            if state.running {
                let batch = state.queued.get_or_insert_with(|| {
                    Arc::new(Batch { answer: watch::Sender::new(None), deadline: Mutex::new(deadline) })
                });
                let mut latest = batch.deadline.lock().unwrap_or_else(|e| e.into_inner());
                if deadline.at > latest.at {
                    *latest = deadline;
                }
                Role::Wait(batch.answer.subscribe())
            } else {
                state.running = true;
                Role::Lead
            }
        };
        match role {
            Role::Lead => {
                let _finish = Finish { flights: Arc::clone(self), key, slot: Arc::clone(slot) };
                read(slot, secret, deadline).await
            }
            Role::Wait(mut answer) => {
                slot.metrics.coalesced.inc();
                match timeout_at(deadline.at, answer.wait_for(Option::is_some)).await {
                    Ok(Ok(outcome)) => outcome.clone().unwrap_or_else(|| Err(deadline.exceeded(None))),
                    // The batch was dropped unanswered (the runtime is shutting down).
                    Ok(Err(_)) => Err(deadline.exceeded(None)),
                    Err(_) => {
                        slot.metrics.error(DEADLINE_EXCEEDED);
                        Err(deadline.exceeded(None))
                    }
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, State>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The read in flight for `key` has finished (or was abandoned): start the queued batch, if any.
    fn finish(self: &Arc<Self>, key: Key, slot: Arc<Slot>) {
        let next = {
            let mut states = self.lock();
            let Some(state) = states.get_mut(&key) else { return };
            match state.queued.take() {
                Some(batch) => batch,
                None => {
                    states.remove(&key);
                    return;
                }
            }
        };
        // `running` stays true: the queued batch is now the read in flight.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime left to run it: dropping the batch tells its waiters.
            self.lock().remove(&key);
            return;
        };
        let flights = Arc::clone(self);
        runtime.spawn(async move {
            let _finish = Finish { flights, key: key.clone(), slot: Arc::clone(&slot) };
            if next.answer.receiver_count() == 0 {
                return; // every waiter gave up
            }
            let deadline = *next.deadline.lock().unwrap_or_else(|e| e.into_inner());
            let outcome = read(&slot, &key.secret, deadline).await;
            next.answer.send_replace(Some(outcome));
        });
    }
}

/// Calls [`Flights::finish`] when the read ends, however it ends (completion, cancellation, panic).
struct Finish {
    flights: Arc<Flights>,
    key: Key,
    slot: Arc<Slot>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        let key = self.key.clone();
        self.flights.finish(key, Arc::clone(&self.slot));
    }
}

async fn read(slot: &Slot, secret: &SecretRef, deadline: Deadline) -> Outcome {
    let backend = &slot.backend;
    slot.call(Operation::Get, deadline, || backend.get(secret)).await
}
