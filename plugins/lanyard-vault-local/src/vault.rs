//! [`LocalVault`]: the backend itself — encryption, the key state, the `VaultBackend` operations and rotation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use lanyard_core::{BackendId, SecretBytes};
use lanyard_vault::{
    Capabilities, ErrorKind, Operation, ProbeReport, Profile, Result, SecretRef, SecretValue, StoredProfile,
    VaultBackend, VaultError, async_trait,
};
use tokio::sync::{Mutex, OnceCell};

use crate::KIND;
use crate::db::{self, Db, NewRow, PoolSettings, StoredRow};
use crate::key::{
    self, KeyFileError, KeyFiles, KeyRing, MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey, MasterKeySource,
    NEXT_MASTER_KEY_FILE, PREVIOUS_MASTER_KEYS_ENV,
};

/// The length of an AES-GCM nonce in bytes (96 bits).
const NONCE_LEN: usize = 12;
/// The length of the AES-GCM authentication tag at the end of every ciphertext.
const GCM_TAG_LEN: u64 = 16;

/// The longest accepted `prefix`.
const MAX_PREFIX_CHARS: usize = 128;

/// How a [`LocalVault`] is set up besides its master keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalVaultSettings {
    /// Prepended to every profile name to form the row's `profile` column (the physical name); default empty.
    pub prefix: String,
    /// The most connections to the catalog database this vault opens (default 8).
    pub max_connections: u32,
    /// How long an operation waits for a database connection before failing as unavailable (default 5 s).
    pub acquire_timeout: Duration,
}

impl Default for LocalVaultSettings {
    fn default() -> Self {
        Self { prefix: String::new(), max_connections: 8, acquire_timeout: Duration::from_secs(5) }
    }
}

/// What [`LocalVault::rotate_master_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// The id of the key every row is now encrypted with.
    pub new_key_id: String,
    /// How many rows were re-encrypted (every row of `local_secrets`, whatever its prefix).
    pub rows: u64,
    /// How many of them were encrypted with each key before, by key id.
    pub rows_by_old_key: BTreeMap<String, u64>,
    /// The key file that now holds the new key (the file source), or `None` when the key came from the
    /// environment: then the operator must install it as `LANYARD_MASTER_KEY` on every node.
    pub key_file: Option<PathBuf>,
}

/// What [`LocalVault::check_master_key`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKeyCheck {
    /// The key id the catalog holds: the key this vault's rows are under.
    pub key_id: String,
    /// Whether this check recorded it (the first check on this catalog).
    pub recorded_now: bool,
}

/// Lanyard's encrypted local vault: AES-256-GCM ciphertext in the catalog database's `local_secrets` table.
///
/// Cheap to share behind an `Arc`; every method may be called concurrently. Nothing happens on construction: the
/// first operation loads the master key (creating the key file if needed) and creates the table.
pub struct LocalVault {
    db: Db,
    source: MasterKeySource,
    prefix: String,
    ready: OnceCell<Ready>,
    /// Serialises rotations within this process (the database lock serialises them between processes).
    rotation: Mutex<()>,
}

/// What the first operation set up.
struct Ready {
    keys: RwLock<KeyState>,
}

#[derive(Clone)]
struct KeyState {
    ring: Arc<KeyRing>,
    /// The key files as last read (file source only).
    files: Option<KeyFiles>,
}

impl LocalVault {
    /// A vault keeping its rows in the database at `catalog_url` (`sqlite://path`, `sqlite::memory:` or
    /// `postgres://…`, as the catalog accepts them) with the keys of `source`. No I/O happens here: the pool
    /// connects, the key is loaded and the table is created on first use.
    pub fn new(catalog_url: &str, source: MasterKeySource, settings: LocalVaultSettings) -> Result<Self> {
        let config_error =
            |detail: String| VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build).with_detail(detail);
        let prefix = settings.prefix;
        if prefix.chars().count() > MAX_PREFIX_CHARS || prefix.chars().any(char::is_control) {
            return Err(config_error(format!(
                "option \"prefix\" must be at most {MAX_PREFIX_CHARS} characters without control characters"
            )));
        }
        if settings.max_connections == 0 {
            return Err(config_error("the local backend needs at least one database connection".to_owned()));
        }
        let pool =
            PoolSettings { max_connections: settings.max_connections, acquire_timeout: settings.acquire_timeout };
        // The URL is not quoted: it may hold a password.
        let db = Db::connect_lazy(catalog_url, pool).map_err(|error| {
            config_error(format!("invalid catalog database URL for the local backend: {}", error.0))
        })?;
        Ok(Self { db, source, prefix, ready: OnceCell::new(), rotation: Mutex::new(()) })
    }

    /// [`LocalVault::new`], then loads the master key and creates the table at once, so that configuration and
    /// connection errors show now rather than on first use. The CLI opens the vault this way to rotate its key.
    pub async fn open(catalog_url: &str, source: MasterKeySource, settings: LocalVaultSettings) -> Result<Self> {
        let vault = Self::new(catalog_url, source, settings)?;
        vault.ready(Operation::Build).await?;
        Ok(vault)
    }

    /// The master keys in use (loading them if this is the first operation).
    pub async fn key_ring(&self) -> Result<KeyRing> {
        let ready = self.ready(Operation::Build).await?;
        Ok(KeyRing::clone(&ready.state().ring))
    }

    /// Closes the database connections; later operations fail as unavailable.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Re-encrypts every row of `local_secrets` with `new_key`, in one database transaction that excludes every
    /// other writer (readers go on), with a fresh nonce per row and the row's `key_id` updated; afterwards this
    /// vault encrypts with `new_key` and still decrypts with its earlier keys.
    ///
    /// With the file source, `new_key` is first written to `master.key.next` (mode 0600, never over an existing
    /// file), and renamed over `master.key` once the transaction has committed; vaults of other processes on the
    /// same data directory pick the new key up before their next write. If a row cannot be decrypted (its key is
    /// not in the ring), the transaction changes nothing and the error names the row. Any failure after
    /// `master.key.next` was written leaves it behind, and new writes already use it: finish with
    /// [`LocalVault::resume_rotation`] (a rotation to a different key is refused until then).
    pub async fn rotate_master_key(&self, new_key: MasterKey) -> Result<RotationReport> {
        let _serialised = self.rotation.lock().await;
        let op = Operation::Put;
        let ready = self.ready(op).await?;
        let files = self.source.data_dir().map(|dir| (dir.join(NEXT_MASTER_KEY_FILE), dir.join(MASTER_KEY_FILE)));
        if let Some((next, _)) = &files {
            match key::read_key_file(next) {
                Ok(pending) if pending.id() == new_key.id() => {} // resuming
                Ok(pending) => {
                    return Err(self.rotation_error(format!(
                        "an earlier rotation to master key {} was interrupted ({} exists, and new writes already use \
                         it); finish it first: `lanyard admin rotate-master-key` resumes it",
                        pending.id(),
                        key::quote(next)
                    )));
                }
                Err(KeyFileError::Invalid(error)) => return Err(error),
                Err(KeyFileError::Missing) => {
                    if !key::create_key_file(next, &new_key)? {
                        return Err(self.rotation_error(format!(
                            "another rotation started at the same time ({} appeared); run it again once it is done",
                            key::quote(next)
                        )));
                    }
                }
            }
        }

        let mut tx = self.db.begin_write(true).await.map_err(|e| self.db_error(e, op, None))?;
        // Under the lock, every other writer of this data directory has seen master.key.next or committed before.
        let ring = self.refresh_keys(ready)?.rotated_to(new_key.clone());
        let rows = tx.all_rows().await.map_err(|e| self.db_error(e, op, None))?;
        let mut rows_by_old_key = BTreeMap::new();
        let updated_at = now_micros();
        for row in &rows {
            let plaintext = decrypt(&ring, row, op, &row.profile).map_err(|error| {
                let detail = error.detail().unwrap_or_default();
                self.rotation_error(format!("nothing was re-encrypted: {detail}")).with_target(row.profile.clone())
            })?;
            let (nonce, ciphertext) = encrypt(&new_key, &row.profile, plaintext.expose_secret(), op)?;
            let new_row = NewRow {
                profile: &row.profile,
                nonce: &nonce,
                ciphertext: &ciphertext,
                key_id: new_key.id(),
                updated_at,
            };
            tx.update(new_row).await.map_err(|e| self.db_error(e, op, Some(row.profile.clone())))?;
            *rows_by_old_key.entry(row.key_id.clone()).or_insert(0u64) += 1;
        }
        // The catalog's fingerprint of the master key changes with the rows, or not at all.
        tx.record_key(new_key.id(), updated_at).await.map_err(|e| self.db_error(e, op, None))?;
        tx.commit().await.map_err(|e| self.db_error(e, op, None))?;

        let key_file = match &files {
            Some((next, current)) => {
                key::replace_key_file(next, current)?;
                Some(current.clone())
            }
            None => None,
        };
        let mut state = ready.state();
        state.ring = Arc::new(ring);
        if let Some(files) = &state.files {
            let (ring, files) = files.reload(&state.ring)?;
            state = KeyState { ring: Arc::new(ring), files: Some(files) };
        }
        *ready.keys.write().unwrap_or_else(PoisonError::into_inner) = state;
        Ok(RotationReport { new_key_id: new_key.id().to_owned(), rows: rows.len() as u64, rows_by_old_key, key_file })
    }

    /// Finishes a rotation that was interrupted (the file source's leftover `master.key.next`), re-encrypting every
    /// row with that key; `None` when there is nothing to finish.
    pub async fn resume_rotation(&self) -> Result<Option<RotationReport>> {
        let Some(dir) = self.source.data_dir() else { return Ok(None) };
        match key::read_key_file(&dir.join(NEXT_MASTER_KEY_FILE)) {
            Ok(pending) => self.rotate_master_key(pending).await.map(Some),
            Err(KeyFileError::Missing) => Ok(None),
            Err(KeyFileError::Invalid(error)) => Err(error),
        }
    }

    /// Checks the master key this vault was given against the fingerprint the catalog database holds (the key id
    /// of `local_master_key`), and records it if there is none yet. A node calls this once when it starts, so that
    /// a wrong key stops it there rather than at the first read of a secret.
    ///
    /// Accepted: the recorded key is the current key or one of the previous keys
    /// (`LANYARD_MASTER_KEY_PREVIOUS`, or `master.key` during an interrupted rotation of the key file), so every
    /// step of a rolling rotation starts. Nothing recorded (a new catalog, or one from before the fingerprint
    /// existed): the current key is recorded, unless rows exist and none of them is under a key of this vault.
    /// Anything else is a [`ErrorKind::ConfigInvalid`] error saying which key was read where, which one the
    /// catalog expects, and what to do; it never shows a key.
    pub async fn check_master_key(&self) -> Result<MasterKeyCheck> {
        let op = Operation::Build;
        let ready = self.ready(op).await?;
        let ring = self.refresh_keys(ready)?;
        let db_error = |e| self.db_error(e, op, None);
        let mut recorded_now = false;
        let recorded = match self.db.recorded_key().await.map_err(db_error)? {
            Some(recorded) => recorded,
            None => {
                let rows = self.db.rows_by_key().await.map_err(db_error)?;
                if let Some((foreign, _)) = rows.first().filter(|_| rows.iter().all(|(id, _)| ring.get(id).is_none())) {
                    return Err(self.mismatch(foreign, &ring));
                }
                self.db.record_key_if_absent(ring.current().id(), now_micros()).await.map_err(db_error)?;
                // Another node may have recorded its key first: read what won.
                let recorded = self.db.recorded_key().await.map_err(db_error)?.unwrap_or_default();
                recorded_now = recorded == ring.current().id();
                recorded
            }
        };
        if ring.get(&recorded).is_none() {
            return Err(self.mismatch(&recorded, &ring));
        }
        Ok(MasterKeyCheck { key_id: recorded, recorded_now })
    }

    /// The error of a node whose keys do not include `expected`, the key the catalog's material is under.
    fn mismatch(&self, expected: &str, ring: &KeyRing) -> VaultError {
        let expected = lanyard_core::printable(expected, 64);
        let previous = if ring.previous().is_empty() {
            String::new()
        } else {
            let ids: Vec<&str> = ring.previous().iter().map(MasterKey::id).collect();
            format!(" (also accepted: {})", ids.join(", "))
        };
        let fix = match &self.source {
            MasterKeySource::Keys(_) => format!(
                "set {MASTER_KEY_ENV} to the key whose id is {expected} (or, while a rotation rolls out, list it in \
                 {PREVIOUS_MASTER_KEYS_ENV})"
            ),
            MasterKeySource::File { .. } => format!(
                "put the key whose id is {expected} back in {} (from a backup of the data directory), or set \
                 {MASTER_KEY_ENV} to it",
                self.source.origin()
            ),
        };
        VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build).with_detail(format!(
            "the master key does not match this catalog: the catalog is keyed to master key {expected}, \
             but the master key read from {} is {}{previous}; {fix}. Nothing was read or written",
            self.source.origin(),
            ring.current().id()
        ))
    }

    /// With the key-file source and no `master.key`, refuses to make a new key when the catalog database already
    /// holds local-vault material (or a recorded fingerprint): a new key would not decrypt any of it, and every
    /// secret would look lost. Runs before the key files are loaded (which would create `master.key`).
    async fn refuse_new_key_over_material(&self, op: Operation) -> Result<()> {
        let Some(dir) = self.source.data_dir() else { return Ok(()) };
        let path = dir.join(MASTER_KEY_FILE);
        if !matches!(key::read_key_file(&path), Err(KeyFileError::Missing)) {
            return Ok(());
        }
        let db_error = |e| self.db_error(e, op, None);
        let recorded = self.db.recorded_key().await.map_err(db_error)?;
        let rows = self.db.rows_by_key().await.map_err(db_error)?;
        let count: i64 = rows.iter().map(|(_, n)| n).sum();
        let Some(expected) = recorded.or_else(|| rows.first().map(|(id, _)| id.clone())) else { return Ok(()) };
        let expected = lanyard_core::printable(&expected, 64);
        let held = match count {
            0 => String::new(),
            1 => " and holds 1 secret encrypted under it".to_owned(),
            n => format!(" and holds {n} secrets encrypted under it"),
        };
        Err(VaultError::new(ErrorKind::ConfigInvalid, KIND, op).with_detail(format!(
            "master key file {} does not exist, but this catalog is keyed to master key {expected}{held}; a new key \
             would not match it, so none was made: restore {MASTER_KEY_FILE} from a backup of the data directory, \
             or set {MASTER_KEY_ENV} to the key whose id is {expected}",
            key::quote(&path),
        )))
    }

    fn rotation_error(&self, detail: String) -> VaultError {
        VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Put)
            .with_detail(format!("rotating the master key: {detail}"))
    }

    /// Loads the keys and creates the table, once; a failure is not remembered, so the next call tries again.
    async fn ready(&self, op: Operation) -> Result<&Ready> {
        self.ready
            .get_or_try_init(|| async {
                if let Some(dir) = self.db.sqlite_dir() {
                    std::fs::create_dir_all(&dir).map_err(|error| {
                        VaultError::new(ErrorKind::ConfigInvalid, KIND, op).with_detail(format!(
                            "cannot create the directory of the catalog database {}: {error}",
                            key::quote(&dir)
                        ))
                    })?;
                }
                self.db.create_table().await.map_err(|e| self.db_error(e, op, None))?;
                self.refuse_new_key_over_material(op).await?;
                let (ring, files) = self.source.load()?;
                Ok(Ready { keys: RwLock::new(KeyState { ring: Arc::new(ring), files }) })
            })
            .await
    }

    /// The keys, re-read first if the key files changed since they were last read (another process rotated).
    fn refresh_keys(&self, ready: &Ready) -> Result<KeyRing> {
        let state = ready.state();
        match &state.files {
            Some(files) if files.changed() => {
                let (ring, files) = files.reload(&state.ring)?;
                let state = KeyState { ring: Arc::new(ring), files: Some(files) };
                *ready.keys.write().unwrap_or_else(PoisonError::into_inner) = state.clone();
                Ok(KeyRing::clone(&state.ring))
            }
            _ => Ok(KeyRing::clone(&state.ring)),
        }
    }

    fn db_error(&self, error: sqlx::Error, op: Operation, target: Option<String>) -> VaultError {
        let kind = db::error_kind(&error);
        let error = VaultError::new(kind, KIND, op).with_detail(format!("catalog database: {error}"));
        match target {
            Some(target) => error.with_target(target),
            None => error,
        }
    }

    async fn read(&self, profile: &Profile) -> Result<SecretValue> {
        let op = Operation::Get;
        let target = profile.to_string();
        let ready = self.ready(op).await?;
        let physical = self.physical_name(profile);
        let row = self.db.fetch(&physical).await.map_err(|e| self.db_error(e, op, Some(target.clone())))?;
        let row = row.ok_or_else(|| VaultError::new(ErrorKind::NotFound, KIND, op).with_target(target.clone()))?;
        let mut ring = ready.state().ring;
        if ring.get(&row.key_id).is_none() {
            // Perhaps another process on this data directory rotated since the keys were read.
            ring = Arc::new(self.refresh_keys(ready)?);
        }
        decrypt(&ring, &row, op, &target).map(SecretValue::new).map_err(|error| error.with_target(target))
    }

    async fn write(&self, profile: &Profile, value: &SecretValue) -> Result<()> {
        let op = Operation::Put;
        let target = profile.to_string();
        let ready = self.ready(op).await?;
        let physical = self.physical_name(profile);
        let db_error = |e| self.db_error(e, op, Some(target.clone()));
        let mut tx = self.db.begin_write(false).await.map_err(db_error)?;
        // Under the table's write lock, so a rotation that has begun is seen: we write with the key that survives.
        let ring = self.refresh_keys(ready)?;
        let key = ring.current();
        let (nonce, ciphertext) =
            encrypt(key, &physical, value.expose_bytes(), op).map_err(|error| error.with_target(target.clone()))?;
        let row = NewRow {
            profile: &physical,
            nonce: &nonce,
            ciphertext: &ciphertext,
            key_id: key.id(),
            updated_at: now_micros(),
        };
        tx.upsert(row).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }
}

impl Ready {
    fn state(&self) -> KeyState {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl fmt::Debug for LocalVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let database = match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        };
        let ring = self.ready.get().map(|ready| ready.state().ring);
        f.debug_struct("LocalVault")
            .field("database", &database)
            .field("prefix", &self.prefix)
            .field("source", &self.source)
            .field("keys", &ring)
            .finish()
    }
}

#[async_trait]
impl VaultBackend for LocalVault {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { store: true, link: false, ambient_identity: false }
    }

    fn physical_name(&self, profile: &Profile) -> String {
        format!("{}{profile}", self.prefix)
    }

    async fn get(&self, secret: &SecretRef) -> Result<SecretValue> {
        match secret {
            SecretRef::Profile(profile) => self.read(profile).await,
            SecretRef::External(name) => Err(self
                .unsupported(Operation::Get, Some(name.clone()))
                .with_detail("the local backend stores material; it does not link external secrets")),
        }
    }

    async fn put(&self, profile: &Profile, value: &SecretValue) -> Result<()> {
        self.write(profile, value).await
    }

    async fn delete(&self, profile: &Profile) -> Result<()> {
        let op = Operation::Delete;
        self.ready(op).await?;
        let physical = self.physical_name(profile);
        self.db.delete(&physical).await.map_err(|e| self.db_error(e, op, Some(profile.to_string())))
    }

    async fn list(&self) -> Result<Vec<Profile>> {
        let op = Operation::List;
        self.ready(op).await?;
        let names = self.db.names().await.map_err(|e| self.db_error(e, op, None))?;
        let profiles: BTreeSet<Profile> = names
            .iter()
            .filter_map(|name| name.strip_prefix(self.prefix.as_str()))
            .filter_map(|name| name.parse().ok())
            .collect();
        Ok(profiles.into_iter().collect())
    }

    /// With each row's `updated_at` and the material's size (the ciphertext less the 16-byte GCM tag).
    async fn list_stored(&self) -> Result<Vec<StoredProfile>> {
        let op = Operation::List;
        self.ready(op).await?;
        let rows = self.db.summaries().await.map_err(|e| self.db_error(e, op, None))?;
        let mut stored: Vec<StoredProfile> = rows
            .into_iter()
            .filter_map(|(name, updated_at, size)| {
                let profile = name.strip_prefix(self.prefix.as_str())?.parse().ok()?;
                let size = u64::try_from(size).ok().map(|size| size.saturating_sub(GCM_TAG_LEN));
                Some(StoredProfile { profile, updated_at_micros: Some(updated_at), size })
            })
            .collect();
        stored.sort_unstable_by_key(|s| s.profile);
        stored.dedup_by_key(|s| s.profile);
        Ok(stored)
    }

    async fn probe(&self) -> Result<ProbeReport> {
        let mut report = ProbeReport::default();
        let opened = report
            .run("load the master key and open the local_secrets table", async {
                let ready = self.ready(Operation::Probe).await?;
                Ok(ready.state().ring.current().id().to_owned())
            })
            .await;
        if opened.is_none() {
            return Ok(report);
        }
        let profile = Profile::Backend(BackendId::new_random());
        let scratch: [u8; 16] = rand::random();
        let value = SecretValue::new(SecretBytes::new(scratch.to_vec()));
        if report.run(format!("write scratch profile {profile}"), self.put(&profile, &value)).await.is_some() {
            report
                .run(format!("read {profile} back and compare"), async {
                    let read = self.get(&SecretRef::Profile(profile)).await?;
                    if read.expose_bytes() == value.expose_bytes() {
                        Ok(())
                    } else {
                        Err(VaultError::new(ErrorKind::Unexpected, KIND, Operation::Probe)
                            .with_target(profile.to_string())
                            .with_detail("the value read back differs from the value written"))
                    }
                })
                .await;
            report.run(format!("delete scratch profile {profile}"), self.delete(&profile)).await;
        }
        Ok(report)
    }
}

fn now_micros() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

fn cipher(key: &MasterKey) -> Aes256Gcm {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.expose_bytes()))
}

/// Encrypts `plaintext` for the row `physical` (the associated data) with a fresh random nonce.
fn encrypt(key: &MasterKey, physical: &str, plaintext: &[u8], op: Operation) -> Result<([u8; NONCE_LEN], Vec<u8>)> {
    use rand::TryRngCore as _;
    let unexpected = |detail: &str| VaultError::new(ErrorKind::Unexpected, KIND, op).with_detail(detail.to_owned());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|_| unexpected("the operating system's random number generator failed"))?;
    let ciphertext = cipher(key)
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: physical.as_bytes() })
        .map_err(|_| unexpected("the material is too large to encrypt"))?;
    Ok((nonce, ciphertext))
}

/// Decrypts a row with the ring's key of the row's `key_id`; `label` names the material in messages. A key that
/// is not in the ring and a failed authentication are both [`ErrorKind::ConfigInvalid`]: the data is fine, the
/// configuration does not fit it (or the row was tampered with).
fn decrypt(ring: &KeyRing, row: &StoredRow, op: Operation, label: &str) -> Result<SecretBytes> {
    let config_error = |detail: String| VaultError::new(ErrorKind::ConfigInvalid, KIND, op).with_detail(detail);
    let Some(key) = ring.get(&row.key_id) else {
        let stored = lanyard_core::printable(&row.key_id, 64);
        return Err(config_error(format!(
            "material of {label:?} was encrypted with master key {stored}, but the configured master key is {}; \
             configure the key it was written with ({MASTER_KEY_ENV}, or {MASTER_KEY_FILE} in the data directory), \
             or list it in {PREVIOUS_MASTER_KEYS_ENV} while a key rotation rolls out",
            ring.describe()
        )));
    };
    let tampered = || {
        config_error(format!(
            "material of {label:?} could not be decrypted: wrong master key or tampered ciphertext (master key {})",
            key.id()
        ))
    };
    if row.nonce.len() != NONCE_LEN {
        return Err(tampered());
    }
    cipher(key)
        .decrypt(Nonce::from_slice(&row.nonce), Payload { msg: &row.ciphertext, aad: row.profile.as_bytes() })
        .map(SecretBytes::new)
        .map_err(|_| tampered())
}
