//! `lanyard-vault` is the plugin API of Lanyard's secret backends: the object-safe async [`VaultBackend`] trait, the
//! [`BackendFactory`] every plugin crate registers with one `inventory::submit!`, the [`Registry`] built from those
//! registrations, option validation, and [`VaultError`], classified by kind and temporary/permanent so that callers
//! decide retries without knowing the backend.
//!
//! Writing a backend (see `docs/backends.md` for the walk-through):
//!
//! 1. implement [`VaultBackend`] for your type: `get` is the read path the resolver uses; `put`, `delete`, `list`
//!    (and `list_stored`, which `lanyard admin gc` uses and which defaults to `list`) and `probe` are the management
//!    path of the Control Plane; [`VaultBackend::capabilities`] says which of them
//!    work, and the defaults answer [`ErrorKind::Unsupported`];
//! 2. map each logical [`Profile`] (`vault::<entry_id>`, `backend::<backend_id>`) to a legal physical name of your
//!    store in [`VaultBackend::physical_name`], applying your configured prefix;
//! 3. declare your option keys in a static [`OptionSpec`] table (secret ones marked, so the Control Plane strips
//!    them out of the catalog into `backend::<id>` in the local backend), and give your config struct a
//!    hand-written `Debug` that leaves secrets out;
//! 4. register: `lanyard_vault::inventory::submit! { BackendFactory::new(env!("CARGO_PKG_NAME"), "kind", "…",
//!    OPTIONS, build) }`;
//! 5. run the behaviour suite of the `testkit` module (cargo feature `testkit`) against an instance: one line,
//!    `lanyard_vault::behaviour_tests!(mod behaviour: [store] => fixture)`, in your tests;
//! 6. link it into the binary: a `vault-<kind>` feature of `lanyard-cli`, one
//!    `#[cfg(feature = "vault-<kind>")] use lanyard_vault_<kind> as _;` line in its `main.rs` (the linker drops a
//!    crate nothing names, and its registration with it), and the kind in its registered-kinds test.
//!
//! What it is not: this crate stores nothing and resolves nothing. It knows nothing about the catalog, connections
//! or HTTP; the resolver (`lanyard-resolve`) and the Control Plane use it, and only the composition root links
//! plugins.

mod error;
mod registry;
mod value;

#[cfg(feature = "testkit")]
pub mod testkit;

use std::fmt;
use std::str::FromStr;

use lanyard_core::{BackendId, OptionMap, VaultEntryId, printable};

pub use async_trait::async_trait;
pub use error::{ErrorKind, Operation, Result, VaultError};
pub use inventory;
pub use registry::{
    BackendConfig, BackendEnv, BackendFactory, BackendOptions, COMMON_OPTIONS, KNOWN_KINDS, KnownKind, OptionSpec,
    Registry, RegistryError,
};
pub use value::{ExternalName, SecretValue, select_json_field};

/// A backend-independent name of stored material.
///
/// Profiles are what the catalog refers to; each backend maps them to a physical name of its own
/// ([`VaultBackend::physical_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    /// The material of a vault entry: `vault::<entry_id>`.
    Entry(VaultEntryId),
    /// A backend's own secret auth options, always kept in the local backend: `backend::<backend_id>`.
    Backend(BackendId),
}

impl Profile {
    /// The prefix of entry profiles.
    pub const ENTRY_PREFIX: &'static str = "vault::";
    /// The prefix of backend profiles.
    pub const BACKEND_PREFIX: &'static str = "backend::";

    /// The profile's name for stores whose names allow no `:` (Key Vault, Secret Manager): `::` becomes `--`, after
    /// `prefix`: `<prefix>vault--<uuid>`, `<prefix>backend--<uuid>`. Reversible by [`Profile::from_dashed_name`], since
    /// a UUID holds no `--`.
    pub fn dashed_name(&self, prefix: &str) -> String {
        match self {
            Self::Entry(id) => format!("{prefix}vault--{id}"),
            Self::Backend(id) => format!("{prefix}backend--{id}"),
        }
    }

    /// The profile a [`Profile::dashed_name`] under `prefix` stands for; `None` for any other name.
    pub fn from_dashed_name(prefix: &str, name: &str) -> Option<Self> {
        let (kind, id) = name.strip_prefix(prefix)?.split_once("--")?;
        let logical = match kind {
            "vault" => format!("{}{id}", Self::ENTRY_PREFIX),
            "backend" => format!("{}{id}", Self::BACKEND_PREFIX),
            _ => return None,
        };
        logical.parse().ok()
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Entry(id) => write!(f, "{}{id}", Self::ENTRY_PREFIX),
            Self::Backend(id) => write!(f, "{}{id}", Self::BACKEND_PREFIX),
        }
    }
}

impl FromStr for Profile {
    type Err = VaultError;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || {
            VaultError::new(ErrorKind::ConfigInvalid, "vault", Operation::List)
                .with_detail(format!("{:?} is not a profile name (vault::<uuid> or backend::<uuid>)", printable(s, 80)))
        };
        if let Some(id) = s.strip_prefix(Self::ENTRY_PREFIX) {
            id.parse().map(Self::Entry).map_err(|_| invalid())
        } else if let Some(id) = s.strip_prefix(Self::BACKEND_PREFIX) {
            id.parse().map(Self::Backend).map_err(|_| invalid())
        } else {
            Err(invalid())
        }
    }
}

/// What a read asks a backend for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// Material this backend stores under a profile.
    Profile(Profile),
    /// A secret that already lives in the backend and is only linked (`LINKED EXTERNAL SECRET`), in the backend's
    /// own syntax minus the generic `#field` selector, which the caller applies.
    External(String),
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Profile(p) => p.fmt(f),
            Self::External(name) => write!(f, "external secret {name:?}"),
        }
    }
}

/// One profile a backend holds, with what the backend knows about it without reading it: never the material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredProfile {
    /// The profile.
    pub profile: Profile,
    /// When its material was last written, in microseconds since the Unix epoch, if the backend records it.
    pub updated_at_micros: Option<i64>,
    /// The size of its material in bytes, if the backend knows it.
    pub size: Option<u64>,
}

impl StoredProfile {
    /// A profile about which nothing else is known.
    pub const fn bare(profile: Profile) -> Self {
        Self { profile, updated_at_micros: None, size: None }
    }
}

/// What a backend can do. Operations outside its capabilities fail with [`ErrorKind::Unsupported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// It stores material under profiles (`put`, `delete`, `list`).
    pub store: bool,
    /// It resolves linked external secrets.
    pub link: bool,
    /// It provides an ambient identity for connections (CREDENTIAL STORAGE auth, e.g. AWS credentials for S3).
    pub ambient_identity: bool,
}

/// The ambient identity a backend lends to connections that use it as their CREDENTIAL STORAGE.
///
/// The options use the connection types' own keys (`aws_access_key_id`, `client_secret`, …); secret-looking keys are
/// masked by [`OptionMap`] wherever it is printed.
#[derive(Debug, Clone, PartialEq)]
pub struct AmbientIdentity {
    /// The backend kind lending the identity.
    pub backend_kind: &'static str,
    /// What it is, for traces: `"AWS default credential chain"`, `"client secret of app …"`.
    pub description: String,
    /// Concrete credentials, if the backend has them; empty means "use the provider's own default chain".
    pub options: OptionMap,
}

/// One step of a backend probe (TEST CREDENTIAL STORAGE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeStep {
    /// What was done: `"write scratch profile"`, `"token lookup-self"`.
    pub step: String,
    /// `Ok(())`, or why it failed (no material).
    pub outcome: std::result::Result<(), String>,
    /// How long it took, in microseconds.
    pub micros: u64,
}

/// The trace of a probe; it passed when every step passed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeReport {
    /// The steps, in order.
    pub steps: Vec<ProbeStep>,
}

impl ProbeReport {
    /// Whether every step passed (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.outcome.is_ok())
    }

    /// Runs `step`, timing it, and records its outcome; returns whether it passed.
    pub async fn run<T, F>(&mut self, name: impl Into<String>, step: F) -> Option<T>
    where
        F: Future<Output = Result<T>>,
    {
        let started = std::time::Instant::now();
        let outcome = step.await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let (value, outcome) = match outcome {
            Ok(value) => (Some(value), Ok(())),
            Err(error) => (None, Err(error.to_string())),
        };
        self.steps.push(ProbeStep { step: name.into(), outcome, micros });
        value
    }
}

/// A secret backend. Object safe; used as `Arc<dyn VaultBackend>`.
///
/// Implementations must never put material into an error, a log line or a `Debug` output. Every method may be
/// called concurrently.
#[async_trait]
pub trait VaultBackend: Send + Sync + fmt::Debug + 'static {
    /// The stable kind (`local`, `aws`, …), as registered.
    fn kind(&self) -> &'static str;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// The backend's own name for a profile, with its configured prefix applied (for messages, listings and gc).
    fn physical_name(&self, profile: &Profile) -> String;

    /// The read path: the current material of a profile or of a linked external secret.
    async fn get(&self, secret: &SecretRef) -> Result<SecretValue>;

    /// Stores (or overwrites) the material of a profile.
    async fn put(&self, profile: &Profile, _value: &SecretValue) -> Result<()> {
        Err(self.unsupported(Operation::Put, Some(profile.to_string())))
    }

    /// Deletes the material of a profile. Idempotent: deleting what is not there succeeds.
    async fn delete(&self, profile: &Profile) -> Result<()> {
        Err(self.unsupported(Operation::Delete, Some(profile.to_string())))
    }

    /// The profiles this backend holds material for (under its prefix), sorted.
    async fn list(&self) -> Result<Vec<Profile>> {
        Err(self.unsupported(Operation::List, None))
    }

    /// [`VaultBackend::list`] with what the backend knows of each profile (when it was written, its size), for
    /// `lanyard admin gc`. The default knows nothing beyond the names; a backend that records more says so here.
    async fn list_stored(&self) -> Result<Vec<StoredProfile>> {
        Ok(self.list().await?.into_iter().map(StoredProfile::bare).collect())
    }

    /// A non-destructive check that the backend is reachable and the configured identity may use it.
    async fn probe(&self) -> Result<ProbeReport>;

    /// The identity this backend lends to connections that name it as their CREDENTIAL STORAGE.
    async fn ambient_identity(&self) -> Result<AmbientIdentity> {
        Err(self.unsupported(Operation::AmbientIdentity, None))
    }

    /// The error for an operation outside [`VaultBackend::capabilities`].
    fn unsupported(&self, operation: Operation, target: Option<String>) -> VaultError {
        let error = VaultError::new(ErrorKind::Unsupported, self.kind(), operation);
        match target {
            Some(target) => error.with_target(target),
            None => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_through_their_names() {
        let entry = Profile::Entry(VaultEntryId::new_random());
        let backend = Profile::Backend(BackendId::new_random());
        for profile in [entry, backend] {
            assert_eq!(profile.to_string().parse::<Profile>().unwrap(), profile);
        }
        assert!(entry.to_string().starts_with("vault::"));
        assert!(backend.to_string().starts_with("backend::"));
        let error = "vault::nope".parse::<Profile>().unwrap_err();
        assert!(error.to_string().contains("is not a profile name"), "{error}");
        assert!("entry::x".parse::<Profile>().is_err());
    }

    #[test]
    fn probe_report_passes_only_when_every_step_passes() {
        let mut report = ProbeReport::default();
        assert!(!report.passed());
        report.steps.push(ProbeStep { step: "a".into(), outcome: Ok(()), micros: 1 });
        assert!(report.passed());
        report.steps.push(ProbeStep { step: "b".into(), outcome: Err("no".into()), micros: 1 });
        assert!(!report.passed());
    }
}
