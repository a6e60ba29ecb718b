//! `lanyard-vault-memory` is the `memory` vault backend: secrets kept in process memory, in named stores shared by
//! every instance built with the same `store` option, with fault injection (latency, failures of a chosen kind,
//! hangs, a backend-side throttle), call counters and a version counter per profile. It exists for tests (the
//! resolver's retry, timeout and coalescing tests steer it through [`store`]) and for demos.
//!
//! What it is not: a place for real credentials. Nothing is persisted, nothing is encrypted beyond the process's own
//! memory, every node has its own stores, and a restart forgets everything. It is never for production and is not
//! enabled by default in release builds of `lanyard` (cargo feature `vault-memory`).
//!
//! Options (besides the common ones `lanyard-vault` adds, such as `timeout_ms`):
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `store` | the backend id | name of the process-global store; instances with the same name share state |
//! | `prefix` | empty | prefix of physical names (`<prefix>vault::<uuid>`) |
//! | `latency_ms` | 0 | added to every call |
//! | `fail_rate` | 0 | probability (0.0–1.0) that a call fails with `fail_kind` |
//! | `fail_kind` | `unavailable` | what a failing call does, one of the [`FailKind`] labels (`hang` never answers) |
//! | `rate_limit_per_sec` | none | more calls than this within one second answer `RateLimited` |
//! | `retry_after_ms` | none | the `retry_after` carried by `RateLimited` answers |
//!
//! Fault options are settings of the store: building an instance with any of them replaces the store's [`Faults`]
//! (unset ones take their defaults); building one without them leaves the store's faults as they are.

mod store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lanyard_core::{OptionMap, SecretString, VaultEntryId};
use lanyard_vault::{
    AmbientIdentity, BackendConfig, Capabilities, ErrorKind, Operation, OptionSpec, ProbeReport, Profile, Result,
    SecretRef, SecretValue, VaultBackend, VaultError, async_trait,
};

pub use store::{FailKind, Faults, MemoryStore, store};
use store::{InFlight, Verdict};

/// The kind this crate registers.
pub const KIND: &str = "memory";

const FAULT_OPTIONS: [&str; 5] = ["latency_ms", "fail_rate", "fail_kind", "rate_limit_per_sec", "retry_after_ms"];

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "store",
        required: false,
        secret: false,
        help: "name of the process-global store; instances with the same name share state (default: the backend id)",
    },
    OptionSpec { name: "prefix", required: false, secret: false, help: "prefix of physical names (default: none)" },
    OptionSpec {
        name: "latency_ms",
        required: false,
        secret: false,
        help: "fault injection: milliseconds added to every call (default 0)",
    },
    OptionSpec {
        name: "fail_rate",
        required: false,
        secret: false,
        help: "fault injection: probability from 0.0 to 1.0 that a call fails with fail_kind (default 0)",
    },
    OptionSpec {
        name: "fail_kind",
        required: false,
        secret: false,
        help: "fault injection: unavailable, rate_limited, timeout, permission_denied, not_found, unexpected or hang \
               (default unavailable)",
    },
    OptionSpec {
        name: "rate_limit_per_sec",
        required: false,
        secret: false,
        help: "fault injection: more calls than this within one second answer rate_limited (default: no limit)",
    },
    OptionSpec {
        name: "retry_after_ms",
        required: false,
        secret: false,
        help: "fault injection: the retry-after of rate_limited answers, in milliseconds (default: none)",
    },
];

lanyard_vault::inventory::submit! {
    lanyard_vault::BackendFactory::new(
        env!("CARGO_PKG_NAME"),
        "memory",
        "secrets in process memory with fault injection and call counters, for tests and demos (never for production)",
        OPTIONS,
        build,
    )
}

fn build(config: BackendConfig) -> Result<Arc<dyn VaultBackend>> {
    let config = Config::parse(&config)?;
    let store = store(&config.store);
    if let Some(faults) = config.faults {
        store.set_faults(faults);
    }
    Ok(Arc::new(MemoryBackend::new(store, config.prefix)))
}

/// A memory backend on the process-global store `store_name` (see [`store`]), without prefix, for direct use
/// without the registry.
pub fn new_backend(store_name: &str) -> Arc<dyn VaultBackend> {
    Arc::new(MemoryBackend::new(store(store_name), ""))
}

/// The validated options.
struct Config {
    store: String,
    prefix: String,
    faults: Option<Faults>,
}

impl Config {
    fn parse(config: &BackendConfig) -> Result<Self> {
        let options = &config.options;
        let invalid =
            |detail: String| VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build).with_detail(detail);
        let store = match options.get("store") {
            Some(name) if name.trim().is_empty() => return Err(invalid("option \"store\" must not be empty".into())),
            Some(name) => name.trim().to_owned(),
            None => config.backend_id.to_string(),
        };
        let prefix = options.get("prefix").unwrap_or_default().to_owned();
        if prefix.chars().any(char::is_control) {
            return Err(invalid("option \"prefix\" must not contain control characters".into()));
        }
        if !FAULT_OPTIONS.iter().any(|key| options.get(key).is_some()) {
            return Ok(Self { store, prefix, faults: None });
        }
        let fail_rate = options.parse::<f64>("fail_rate")?.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&fail_rate) {
            let given = options.get("fail_rate").unwrap_or_default();
            return Err(invalid(format!("option \"fail_rate\" must be between 0.0 and 1.0, not {given:?}")));
        }
        let fail_kind = options.get("fail_kind").map(str::parse::<FailKind>).transpose()?.unwrap_or_default();
        let rate_limit_per_sec = options.parse::<u32>("rate_limit_per_sec")?;
        if rate_limit_per_sec == Some(0) {
            return Err(invalid(
                "option \"rate_limit_per_sec\" must be at least 1 (to throttle every call, set fail_rate = 1 and \
                 fail_kind = rate_limited)"
                    .into(),
            ));
        }
        let faults = Faults {
            latency: Duration::from_millis(options.parse::<u64>("latency_ms")?.unwrap_or(0)),
            fail_rate,
            fail_kind,
            rate_limit_per_sec,
            retry_after: options.parse::<u64>("retry_after_ms")?.map(Duration::from_millis),
        };
        Ok(Self { store, prefix, faults: Some(faults) })
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("store", &self.store)
            .field("prefix", &self.prefix)
            .field("faults", &self.faults)
            .finish()
    }
}

/// The memory backend: one view (a prefix) of a [`MemoryStore`].
///
/// Capabilities: store, link (external names are looked up in the store's external table, see
/// [`MemoryStore::set_external`]) and ambient identity (an empty one naming the store). `Debug` shows the store's
/// name and the prefix, never material.
pub struct MemoryBackend {
    store: Arc<MemoryStore>,
    prefix: String,
}

impl MemoryBackend {
    /// A backend on `store` whose physical names are `prefix` followed by the profile.
    pub fn new(store: Arc<MemoryStore>, prefix: impl Into<String>) -> Self {
        Self { store, prefix: prefix.into() }
    }

    /// The store it reads and writes.
    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.store
    }

    /// Its physical-name prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Counts the call and applies the store's faults: latency, then a hang or an injected failure. `get_key` is
    /// the physical or external name of a read, which stays in flight while the returned guard lives.
    async fn enter(&self, op: Operation, target: Option<&str>, get_key: Option<&str>) -> Result<Option<InFlight<'_>>> {
        let admission = self.store.admit(op, get_key);
        if !admission.latency.is_zero() {
            tokio::time::sleep(admission.latency).await;
        }
        match admission.verdict {
            Verdict::Pass => Ok(admission.in_flight),
            Verdict::Hang => std::future::pending().await,
            Verdict::Fail(kind, detail) => {
                let error = VaultError::new(kind, KIND, op).with_detail(detail);
                Err(match target {
                    Some(target) => error.with_target(target),
                    None => error,
                })
            }
        }
    }

    fn not_found(&self, target: String) -> VaultError {
        VaultError::new(ErrorKind::NotFound, KIND, Operation::Get)
            .with_target(target)
            .with_detail(format!("no such secret in memory store {:?}", self.store.name()))
    }
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend").field("store", &self.store.name()).field("prefix", &self.prefix).finish()
    }
}

#[async_trait]
impl VaultBackend for MemoryBackend {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { store: true, link: true, ambient_identity: true }
    }

    fn physical_name(&self, profile: &Profile) -> String {
        format!("{}{profile}", self.prefix)
    }

    async fn get(&self, secret: &SecretRef) -> Result<SecretValue> {
        match secret {
            SecretRef::Profile(profile) => {
                let physical = self.physical_name(profile);
                let target = profile.to_string();
                let _in_flight = self.enter(Operation::Get, Some(&target), Some(&physical)).await?;
                self.store.read_profile(&physical).ok_or_else(|| self.not_found(target))
            }
            SecretRef::External(name) => {
                let _in_flight = self.enter(Operation::Get, Some(name), Some(name)).await?;
                self.store.read_external(name).ok_or_else(|| self.not_found(name.clone()))
            }
        }
    }

    async fn put(&self, profile: &Profile, value: &SecretValue) -> Result<()> {
        self.enter(Operation::Put, Some(&profile.to_string()), None).await?;
        self.store.write_profile(&self.physical_name(profile), *profile, value);
        Ok(())
    }

    async fn delete(&self, profile: &Profile) -> Result<()> {
        self.enter(Operation::Delete, Some(&profile.to_string()), None).await?;
        self.store.delete_profile(&self.physical_name(profile));
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Profile>> {
        self.enter(Operation::List, None, None).await?;
        Ok(self.store.profiles_under(&self.prefix))
    }

    /// Passes the store's faults once (as the first step), then writes, reads back and removes a scratch profile
    /// without counting those as puts, gets or deletes. Nothing is left behind, not even the scratch version.
    async fn probe(&self) -> Result<ProbeReport> {
        let mut report = ProbeReport::default();
        let reach = format!("reach memory store {:?}", self.store.name());
        if report.run(reach, async { self.enter(Operation::Probe, None, None).await.map(drop) }).await.is_none() {
            return Ok(report);
        }
        let scratch = Profile::Entry(VaultEntryId::new_random());
        let physical = self.physical_name(&scratch);
        let value = SecretValue::from(SecretString::new(format!("lanyard probe {scratch}")));
        report
            .run("write scratch profile", async {
                self.store.write_profile(&physical, scratch, &value);
                Ok(())
            })
            .await;
        report
            .run("read scratch profile", async {
                match self.store.read_profile(&physical) {
                    Some(read) if read.expose_bytes() == value.expose_bytes() => Ok(()),
                    Some(_) => Err(VaultError::new(ErrorKind::Unexpected, KIND, Operation::Probe)
                        .with_target(scratch.to_string())
                        .with_detail("read back a different value than was written")),
                    None => Err(self.not_found(scratch.to_string())),
                }
            })
            .await;
        report
            .run("delete scratch profile", async {
                self.store.purge_profile(&physical);
                Ok(())
            })
            .await;
        Ok(report)
    }

    async fn ambient_identity(&self) -> Result<AmbientIdentity> {
        self.enter(Operation::AmbientIdentity, None, None).await?;
        Ok(AmbientIdentity {
            backend_kind: KIND,
            description: format!("memory store {:?}", self.store.name()),
            options: OptionMap::new(),
        })
    }
}

#[cfg(test)]
mod tests;
