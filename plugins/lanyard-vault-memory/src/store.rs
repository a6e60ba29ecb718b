//! The process-global named stores: material, linked external secrets, fault settings, call counters and version
//! counters, shared by every backend instance built with the same store name.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lanyard_core::SecretBytes;
use lanyard_vault::{ErrorKind, Operation, Profile, SecretValue, VaultError};
use tokio::time::Instant;

use crate::KIND;

static STORES: Mutex<BTreeMap<String, Arc<MemoryStore>>> = Mutex::new(BTreeMap::new());

/// The process-global store called `name`, created empty (no faults, counters at zero) on first use.
///
/// Every backend built with the option `store = '<name>'` shares it, so a test can build a backend through the
/// registry and then inspect and steer it here.
pub fn store(name: &str) -> Arc<MemoryStore> {
    let mut stores = STORES.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(stores.entry(name.to_owned()).or_insert_with(|| Arc::new(MemoryStore::new(name))))
}

/// What an injected fault does to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailKind {
    /// [`ErrorKind::Unavailable`] (temporary).
    #[default]
    Unavailable,
    /// [`ErrorKind::RateLimited`] (temporary), carrying [`Faults::retry_after`].
    RateLimited,
    /// [`ErrorKind::Timeout`] (temporary), answered at once: the backend says it timed out.
    Timeout,
    /// [`ErrorKind::PermissionDenied`] (permanent).
    PermissionDenied,
    /// [`ErrorKind::NotFound`] (permanent).
    NotFound,
    /// [`ErrorKind::Unexpected`] (permanent).
    Unexpected,
    /// The call never completes; only the caller's own timeout (or dropping the future) ends it.
    Hang,
}

impl FailKind {
    /// Every kind, in the order of [`FailKind::label`]'s documentation.
    pub const ALL: [FailKind; 7] = [
        Self::Unavailable,
        Self::RateLimited,
        Self::Timeout,
        Self::PermissionDenied,
        Self::NotFound,
        Self::Unexpected,
        Self::Hang,
    ];

    /// The option value: `unavailable`, `rate_limited`, `timeout`, `permission_denied`, `not_found`, `unexpected`
    /// or `hang`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::Unexpected => "unexpected",
            Self::Hang => "hang",
        }
    }

    /// The error kind a failing call answers, or `None` for [`FailKind::Hang`].
    pub const fn error_kind(self, retry_after: Option<Duration>) -> Option<ErrorKind> {
        Some(match self {
            Self::Unavailable => ErrorKind::Unavailable,
            Self::RateLimited => ErrorKind::RateLimited { retry_after },
            Self::Timeout => ErrorKind::Timeout,
            Self::PermissionDenied => ErrorKind::PermissionDenied,
            Self::NotFound => ErrorKind::NotFound,
            Self::Unexpected => ErrorKind::Unexpected,
            Self::Hang => return None,
        })
    }

    pub(crate) fn labels() -> String {
        Self::ALL.map(Self::label).join(", ")
    }
}

impl fmt::Display for FailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for FailKind {
    type Err = VaultError;

    /// Parses a label, case-insensitively; anything else is a [`ErrorKind::ConfigInvalid`] error listing the labels.
    fn from_str(s: &str) -> Result<Self, VaultError> {
        let wanted = s.trim();
        Self::ALL.into_iter().find(|kind| kind.label().eq_ignore_ascii_case(wanted)).ok_or_else(|| {
            let shown = lanyard_core::printable(wanted, 64);
            VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build)
                .with_detail(format!("option \"fail_kind\" must be one of {}, not {shown:?}", Self::labels()))
        })
    }
}

/// The fault settings of a store; they apply to every call of every backend instance sharing it.
///
/// A call first waits `latency` (with `tokio::time::sleep`, so tests under paused time see it without waiting), then
/// fails if [`MemoryStore::fail_next`] has failures left, else with probability `fail_rate`, else if more than
/// `rate_limit_per_sec` calls were admitted within the last second. A failure of kind [`FailKind::Hang`] never
/// completes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Added to every call.
    pub latency: Duration,
    /// The probability (0.0 to 1.0) that a call fails with `fail_kind`; values outside the range act as 0 or 1.
    pub fail_rate: f64,
    /// What a call failed by `fail_rate` does.
    pub fail_kind: FailKind,
    /// A backend-side throttle: a call arriving when this many calls were admitted within the last second answers
    /// [`ErrorKind::RateLimited`] (and does not count itself). `Some(0)` throttles every call.
    pub rate_limit_per_sec: Option<u32>,
    /// The `retry_after` carried by every [`ErrorKind::RateLimited`] answer, injected or throttled.
    pub retry_after: Option<Duration>,
}

/// A named in-process store shared by the memory backends built with its name; get it with [`store`].
///
/// Every method is synchronous and thread-safe. `Debug` shows counts only, never names or material.
pub struct MemoryStore {
    name: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Profile material by physical name (prefix + profile). Deleted slots keep their version (value `None`).
    profiles: HashMap<String, Slot>,
    /// Linked external secrets by name.
    external: HashMap<String, Slot>,
    faults: Faults,
    fail_next: u32,
    fail_next_kind: FailKind,
    /// Admission times of the calls within the last second, when a throttle is set.
    window: VecDeque<Instant>,
    counters: Counters,
    /// Gets in flight per physical (or external) name.
    gets_in_flight: HashMap<String, u32>,
    /// Gets started per physical (or external) name since the last reset.
    gets_by_name: HashMap<String, u64>,
    max_concurrent_gets: u32,
}

struct Slot {
    profile: Option<Profile>,
    version: u64,
    value: Option<SecretBytes>,
}

impl Slot {
    fn empty(profile: Option<Profile>) -> Self {
        Self { profile, version: 0, value: None }
    }

    fn read(&self) -> Option<SecretValue> {
        let value = self.value.as_ref()?;
        Some(SecretValue::new(value.clone()).with_version(self.version.to_string()))
    }

    fn write(&mut self, value: SecretBytes) -> u64 {
        self.version += 1;
        self.value = Some(value);
        self.version
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    gets: u64,
    puts: u64,
    deletes: u64,
    lists: u64,
    probes: u64,
    calls: u64,
}

/// What the fault settings decided for one call, at its arrival.
pub(crate) struct Admission<'a> {
    pub(crate) latency: Duration,
    pub(crate) verdict: Verdict,
    /// Held while a get is in flight (dropped when the call ends or is cancelled).
    pub(crate) in_flight: Option<InFlight<'a>>,
}

pub(crate) enum Verdict {
    Pass,
    Fail(ErrorKind, String),
    Hang,
}

/// One get in flight for a name; dropping it ends the get.
pub(crate) struct InFlight<'a> {
    store: &'a MemoryStore,
    key: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.store.lock();
        if let Some(count) = state.gets_in_flight.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                state.gets_in_flight.remove(&self.key);
            }
        }
    }
}

impl MemoryStore {
    fn new(name: &str) -> Self {
        Self { name: name.to_owned(), state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// The current fault settings.
    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Makes the next `n` calls (of any operation, on any instance sharing the store, counted at their arrival)
    /// fail with `kind`, before `fail_rate` and the throttle are considered; then calls behave as before. Replaces
    /// a previous `fail_next`; `n = 0` cancels it.
    pub fn fail_next(&self, n: u32, kind: FailKind) {
        let mut state = self.lock();
        state.fail_next = n;
        state.fail_next_kind = kind;
    }

    /// Reads started since the last reset (failed and cancelled ones included).
    pub fn gets(&self) -> u64 {
        self.lock().counters.gets
    }

    /// Writes started since the last reset.
    pub fn puts(&self) -> u64 {
        self.lock().counters.puts
    }

    /// Deletes started since the last reset.
    pub fn deletes(&self) -> u64 {
        self.lock().counters.deletes
    }

    /// Listings started since the last reset.
    pub fn lists(&self) -> u64 {
        self.lock().counters.lists
    }

    /// Probes started since the last reset (a probe's own write, read and delete are not counted as such).
    pub fn probes(&self) -> u64 {
        self.lock().counters.probes
    }

    /// Every call started since the last reset: gets, puts, deletes, lists, probes and ambient identity requests.
    pub fn calls(&self) -> u64 {
        self.lock().counters.calls
    }

    /// Reads started for one name since the last reset: a physical name (prefix + profile, see
    /// `VaultBackend::physical_name`) or a linked external name.
    pub fn gets_of(&self, name: &str) -> u64 {
        self.lock().gets_by_name.get(name).copied().unwrap_or(0)
    }

    /// Reads in flight right now, over all names.
    pub fn gets_in_flight(&self) -> u64 {
        self.lock().gets_in_flight.values().map(|&n| u64::from(n)).sum()
    }

    /// The peak number of reads in flight at the same time for any single name (physical or external) since the
    /// last reset. A get is in flight from its arrival (before the injected latency) until it answers or its
    /// future is dropped.
    pub fn max_concurrent_gets(&self) -> u32 {
        self.lock().max_concurrent_gets
    }

    /// Sets every call counter to zero; the concurrency peak restarts from the reads in flight now.
    pub fn reset_counters(&self) {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.counters = Counters::default();
        state.gets_by_name.clear();
        state.max_concurrent_gets = state.gets_in_flight.values().copied().max().unwrap_or(0);
    }

    /// The version of `profile`'s material: 0 if it was never written, +1 on every put (deletes do not reset it).
    ///
    /// Counted per physical name; if instances with different prefixes wrote the same profile into this store, this
    /// is the highest of their versions (see [`MemoryStore::version_of`]).
    pub fn version(&self, profile: &Profile) -> u64 {
        let state = self.lock();
        state
            .profiles
            .values()
            .filter(|slot| slot.profile.as_ref() == Some(profile))
            .map(|s| s.version)
            .max()
            .unwrap_or(0)
    }

    /// The version of the material under a physical name (prefix + profile): 0 if it was never written.
    pub fn version_of(&self, physical_name: &str) -> u64 {
        self.lock().profiles.get(physical_name).map_or(0, |slot| slot.version)
    }

    /// Creates or replaces the linked external secret `name` (reachable as `SecretRef::External(name)`); returns its
    /// new version (1 on creation, +1 on every replacement), which reads report.
    pub fn set_external(&self, name: impl Into<String>, value: SecretValue) -> u64 {
        let mut state = self.lock();
        state.external.entry(name.into()).or_insert_with(|| Slot::empty(None)).write(value.secret_bytes().clone())
    }

    /// Removes the linked external secret `name`; returns whether it existed. Its version is kept.
    pub fn remove_external(&self, name: &str) -> bool {
        let mut state = self.lock();
        state.external.get_mut(name).and_then(|slot| slot.value.take()).is_some()
    }

    /// The version of the linked external secret `name`: 0 if it was never set.
    pub fn external_version(&self, name: &str) -> u64 {
        self.lock().external.get(name).map_or(0, |slot| slot.version)
    }

    /// The number of secrets held: profile material under every prefix plus linked external secrets.
    pub fn len(&self) -> usize {
        let state = self.lock();
        state.profiles.values().chain(state.external.values()).filter(|slot| slot.value.is_some()).count()
    }

    /// Whether the store holds no secret.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The physical names (prefix + profile) holding material, under every prefix, sorted.
    pub fn physical_names(&self) -> Vec<String> {
        let state = self.lock();
        let mut names: Vec<_> =
            state.profiles.iter().filter(|(_, slot)| slot.value.is_some()).map(|(name, _)| name.clone()).collect();
        names.sort_unstable();
        names
    }

    /// Counts a call and decides its fate. `get_key` is the physical or external name of a read.
    pub(crate) fn admit(&self, op: Operation, get_key: Option<&str>) -> Admission<'_> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let counters = &mut state.counters;
        counters.calls += 1;
        match op {
            Operation::Get => counters.gets += 1,
            Operation::Put => counters.puts += 1,
            Operation::Delete => counters.deletes += 1,
            Operation::List => counters.lists += 1,
            Operation::Probe => counters.probes += 1,
            _ => {}
        }
        let in_flight = get_key.map(|key| {
            let count = state.gets_in_flight.entry(key.to_owned()).or_default();
            *count += 1;
            state.max_concurrent_gets = state.max_concurrent_gets.max(*count);
            *state.gets_by_name.entry(key.to_owned()).or_default() += 1;
            InFlight { store: self, key: key.to_owned() }
        });
        let faults = &state.faults;
        let inject = |kind: FailKind, why: &str| match kind.error_kind(faults.retry_after) {
            Some(kind) => Verdict::Fail(kind, format!("fault injected by the memory backend ({why})")),
            None => Verdict::Hang,
        };
        let verdict = if state.fail_next > 0 {
            state.fail_next -= 1;
            inject(state.fail_next_kind, "fail_next")
        } else if faults.fail_rate > 0.0 && rand::random::<f64>() < faults.fail_rate {
            inject(faults.fail_kind, "fail_rate")
        } else if let Some(limit) = faults.rate_limit_per_sec {
            let now = Instant::now();
            while state.window.front().is_some_and(|&at| now.duration_since(at) >= Duration::from_secs(1)) {
                state.window.pop_front();
            }
            if state.window.len() >= limit as usize {
                Verdict::Fail(
                    ErrorKind::RateLimited { retry_after: faults.retry_after },
                    format!("more than {limit} calls within one second (rate_limit_per_sec)"),
                )
            } else {
                state.window.push_back(now);
                Verdict::Pass
            }
        } else {
            Verdict::Pass
        };
        Admission { latency: faults.latency, verdict, in_flight }
    }

    pub(crate) fn read_profile(&self, physical_name: &str) -> Option<SecretValue> {
        self.lock().profiles.get(physical_name).and_then(Slot::read)
    }

    pub(crate) fn read_external(&self, name: &str) -> Option<SecretValue> {
        self.lock().external.get(name).and_then(Slot::read)
    }

    pub(crate) fn write_profile(&self, physical_name: &str, profile: Profile, value: &SecretValue) -> u64 {
        let mut state = self.lock();
        let slot = state.profiles.entry(physical_name.to_owned()).or_insert_with(|| Slot::empty(Some(profile)));
        slot.write(value.secret_bytes().clone())
    }

    /// Drops the material and keeps the version, so a later write continues the count.
    pub(crate) fn delete_profile(&self, physical_name: &str) {
        if let Some(slot) = self.lock().profiles.get_mut(physical_name) {
            slot.value = None;
        }
    }

    /// Forgets a physical name entirely, version included (for the probe's scratch profile).
    pub(crate) fn purge_profile(&self, physical_name: &str) {
        self.lock().profiles.remove(physical_name);
    }

    /// The profiles holding material under `prefix`, sorted.
    pub(crate) fn profiles_under(&self, prefix: &str) -> Vec<Profile> {
        let state = self.lock();
        let mut profiles: Vec<Profile> = state
            .profiles
            .iter()
            .filter(|(_, slot)| slot.value.is_some())
            .filter_map(|(name, _)| name.strip_prefix(prefix)?.parse().ok())
            .collect();
        profiles.sort_unstable();
        profiles
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        let held = |slots: &HashMap<String, Slot>| slots.values().filter(|slot| slot.value.is_some()).count();
        f.debug_struct("MemoryStore")
            .field("name", &self.name)
            .field("profiles", &held(&state.profiles))
            .field("external", &held(&state.external))
            .field("faults", &state.faults)
            .field("fail_next", &state.fail_next)
            .field("counters", &state.counters)
            .finish()
    }
}
