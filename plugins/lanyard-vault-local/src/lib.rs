//! `lanyard-vault-local` is Lanyard's encrypted local vault, backend kind `local` (SQL also accepts `OS_KEYCHAIN`),
//! the backend every catalog is seeded with. It keeps each profile's material as AES-256-GCM ciphertext in the
//! table `local_secrets` of the catalog database, so every node sharing a PostgreSQL catalog sees it.
//!
//! What it is not: it knows nothing about the catalog crate (it depends on `lanyard-catalog` only to test that no
//! plaintext reaches the catalog file). It opens its own sqlx pool to the catalog's database URL
//! ([`lanyard_vault::BackendEnv::catalog_url`]: `sqlite://path`, `sqlite::memory:` or `postgres://…`) and owns
//! its two tables (`local_secrets` and the fingerprint's `local_master_key`), which it creates on first use
//! (`CREATE TABLE IF NOT EXISTS`, guarded on PostgreSQL by a transaction-level advisory lock so nodes starting
//! together do not race). It is not an OS keychain, does not link external secrets and lends no ambient identity;
//! and it never returns material in an error, a log line or `Debug`.
//!
//! # Storage
//!
//! `local_secrets(profile TEXT PRIMARY KEY, nonce, ciphertext, key_id TEXT, updated_at BIGINT)`; `nonce` and
//! `ciphertext` are BLOB on SQLite and BYTEA on PostgreSQL, `updated_at` is microseconds since the Unix epoch.
//! `profile` is the physical name: the backend's `prefix` option (default empty) followed by the logical profile
//! (`vault::<entry_id>`, `backend::<backend_id>`). Every write encrypts with a fresh random 96-bit nonce and the
//! physical name as associated data, so ciphertext copied to another row does not decrypt. `key_id` names the
//! master key that encrypted the row: 16 hex characters of a SHA-256 over a domain-separation prefix and the key,
//! which reveal nothing about the key.
//!
//! # Master key
//!
//! - `LANYARD_MASTER_KEY`, if set: exactly 32 bytes in standard base64 (`openssl rand -base64 32`). Anything else
//!   is a configuration error saying what is wrong, without quoting the value.
//! - Otherwise `<data-dir>/master.key`, created on first use with a random key, in base64, with mode 0600 from the
//!   start (written to a fresh temporary file, then hard-linked into place, so two processes never clobber each
//!   other and nobody reads a half-written key). An existing file is refused if its mode is wider than 0600, or if
//!   it does not hold exactly 32 bytes of base64.
//! - Neither (no variable, no data directory): a configuration error explaining both ways.
//! - `LANYARD_MASTER_KEY_PREVIOUS` (base64 keys separated by commas or whitespace) adds keys that only decrypt.
//!
//! A row whose `key_id` is not a configured key, or whose authentication fails, is a `ConfigInvalid` error naming
//! both key ids — never garbage, never a permission error.
//!
//! # The fingerprint
//!
//! `local_master_key(singleton INTEGER PRIMARY KEY CHECK (singleton = 1), key_id TEXT, updated_at BIGINT)`, created
//! beside `local_secrets`, holds the key id of the master key the catalog is keyed to (an id, never a key).
//! [`LocalVault::check_master_key`] records the current key's id when none is recorded (unless rows exist and none
//! is under a key of the vault) and otherwise refuses, with a `ConfigInvalid` error saying where the key was read
//! (`LANYARD_MASTER_KEY` or the key file's path), which key the catalog expects and what to do, unless the recorded
//! key is the current or a previous key of the vault — so every step of the rolling rotation below passes. A
//! rotation records the new key in the transaction that re-encrypts. The CLI runs the check before a node starts.
//! With the key-file source and no `master.key`, a vault whose database holds rows or a recorded fingerprint
//! refuses to make a new key (every operation fails saying so) instead of starting under a key that decrypts
//! nothing.
//!
//! # Rotating the master key (`lanyard admin rotate-master-key`)
//!
//! [`LocalVault::rotate_master_key`] re-encrypts every row in one database transaction that excludes other
//! writers (readers go on), each with a fresh nonce and the new `key_id`. The CLI opens the vault with
//! [`LocalVault::open`] and calls [`LocalVault::resume_rotation`], which finishes an interrupted rotation; if there
//! was none, it calls `rotate_master_key` with a generated key (key files), a key the operator supplies through an
//! environment variable (environment keys: the CLI never prints a key), or the current key. It prints the
//! [`RotationReport`].
//!
//! - **Key file** (one node, or nodes sharing one data directory): the new key is written to `master.key.next`
//!   (0600) first; the transaction re-encrypts; then `master.key.next` is renamed over `master.key`. A vault that
//!   finds `master.key.next` uses it as its current key (it is the key that survives) and keeps `master.key` for
//!   reading, and every write re-checks the key files under the table's write lock, so servers running on the same
//!   data directory keep working during and after the rotation. If the rotation stops half-way, run it again: it
//!   resumes with the key in `master.key.next`. Never delete `master.key.next` by hand. Nodes with data directories
//!   of their own would each need a copy of the key file: use `LANYARD_MASTER_KEY` for them instead.
//! - **Environment key** (several nodes): `rotate_master_key` changes the rows and this process's keys only; the
//!   operator makes and installs the new key. With the nodes stopped: rotate, set `LANYARD_MASTER_KEY` to
//!   the new key everywhere, start. Rolling, without downtime: (1) make a new key K2 (`openssl rand -base64 32`) and
//!   add it to `LANYARD_MASTER_KEY_PREVIOUS` on every node, restarting them one by one; (2) rotate to K2
//!   (`rotate_master_key(MasterKey::from_base64(K2)?)`) — every node can read every row now; (3) set
//!   `LANYARD_MASTER_KEY` to K2 with the old key in `LANYARD_MASTER_KEY_PREVIOUS` on every node; (4) rotate to K2
//!   once more (`rotate_master_key(ring.current().clone())`), which re-encrypts what lagging nodes wrote with the old
//!   key in the meantime, and remove `LANYARD_MASTER_KEY_PREVIOUS`.
//!
//! # Use
//!
//! The registry builds it from [`BackendConfig`] (option `prefix`; the master key from the process environment and
//! [`lanyard_vault::BackendEnv::data_dir`]); tests and the CLI construct [`LocalVault`] directly with a
//! [`MasterKeySource`]. Construction does no I/O.

mod db;
mod key;
mod vault;

use std::sync::Arc;

use lanyard_vault::{
    BackendConfig, BackendFactory, ErrorKind, Operation, OptionSpec, Result, VaultBackend, VaultError,
};

pub use key::{
    KeyRing, MASTER_KEY_ENV, MASTER_KEY_FILE, MASTER_KEY_LEN, MasterKey, MasterKeySource, NEXT_MASTER_KEY_FILE,
    PREVIOUS_MASTER_KEYS_ENV,
};
pub use vault::{LocalVault, LocalVaultSettings, MasterKeyCheck, RotationReport};

/// The backend kind.
pub const KIND: &str = "local";

/// The options of the `local` kind. Nothing secret lives here: the master key comes from the environment or the
/// data directory.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec {
    name: "prefix",
    required: false,
    secret: false,
    help: "prefix of this backend's physical profile names in local_secrets (default: none)",
}];

lanyard_vault::inventory::submit! {
    BackendFactory::new(
        env!("CARGO_PKG_NAME"),
        "local",
        "AES-256-GCM encrypted material in the catalog database, under a master key from LANYARD_MASTER_KEY or the data directory",
        OPTIONS,
        build,
    )
}

/// Builds a vault from validated options; reads `LANYARD_MASTER_KEY` from the process environment. No I/O.
fn build(config: BackendConfig) -> Result<Arc<dyn VaultBackend>> {
    let url = config.env.catalog_url.as_deref().ok_or_else(|| {
        VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build).with_detail(
            "the local backend keeps its ciphertext in the catalog database, but it was given no catalog URL",
        )
    })?;
    let source = MasterKeySource::from_process_env(config.env.data_dir.as_deref())?;
    let settings = LocalVaultSettings {
        prefix: config.options.get("prefix").unwrap_or_default().to_owned(),
        ..Default::default()
    };
    Ok(Arc::new(LocalVault::new(url, source, settings)?))
}
