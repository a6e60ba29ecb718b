//! Master keys: the 256-bit AES keys that encrypt every row, where they come from (`LANYARD_MASTER_KEY` or
//! `<data-dir>/master.key`), their non-secret ids, and the key ring that decrypts rows written under earlier keys.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lanyard_core::SecretString;
use lanyard_vault::{ErrorKind, Operation, Result, VaultError};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::KIND;

/// The environment variable holding the master key: 32 bytes, base64.
pub const MASTER_KEY_ENV: &str = "LANYARD_MASTER_KEY";

/// The environment variable holding earlier master keys that may still decrypt rows while a rotation rolls out:
/// base64 keys separated by commas or whitespace. They are never used to encrypt.
pub const PREVIOUS_MASTER_KEYS_ENV: &str = "LANYARD_MASTER_KEY_PREVIOUS";

/// The master key file in the data directory, created with a random key and mode 0600 on first use.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The file a rotation writes the new key to before it re-encrypts; renamed over [`MASTER_KEY_FILE`] once the
/// re-encryption has committed. A leftover one (from an interrupted rotation) is the key new writes use.
pub const NEXT_MASTER_KEY_FILE: &str = "master.key.next";

/// The length of a master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// Domain separation of key ids, so a key id is never a hash that some other system computes over the same key.
const KEY_ID_DOMAIN: &[u8] = b"lanyard-vault-local master key id v1\0";

fn config_error(detail: impl Into<String>) -> VaultError {
    VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Build).with_detail(detail)
}

/// One master key: 32 secret bytes and their id.
///
/// The id (`key_id`, 16 hex characters) is the start of a SHA-256 over a domain-separation prefix and the key: it
/// names the key in rows, errors and reports and reveals nothing about it. `Debug` shows only the id; the bytes are
/// zeroized when the last clone is dropped.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Arc<Zeroizing<[u8; MASTER_KEY_LEN]>>,
    id: String,
}

impl MasterKey {
    /// A fresh random key from the operating system's random number generator.
    pub fn generate() -> Result<Self> {
        use rand::TryRngCore as _;
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        rand::rngs::OsRng.try_fill_bytes(bytes.as_mut()).map_err(|error| {
            VaultError::new(ErrorKind::Unexpected, KIND, Operation::Build)
                .with_detail(format!("the operating system's random number generator failed: {error}"))
        })?;
        Ok(Self::from_array(bytes))
    }

    /// The key whose base64 text is `text` (surrounding whitespace ignored), as `LANYARD_MASTER_KEY` and the key
    /// file hold it. Anything but exactly 32 bytes of standard base64 is a [`ErrorKind::ConfigInvalid`] error that
    /// says what is wrong without quoting the text.
    pub fn from_base64(text: &str) -> Result<Self> {
        Self::parse(text, "the master key")
    }

    /// Parses `text`; `origin` says where it came from, for the error.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Err(config_error(format!("{origin} is empty; {}", generate_hint())));
        }
        let mut decoded = Zeroizing::new([0u8; 2 * MASTER_KEY_LEN]);
        let len = match BASE64.decode_slice(text, decoded.as_mut()) {
            Ok(len) => len,
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                return Err(config_error(format!(
                    "{origin} decodes to more than {} bytes, but a master key is exactly {MASTER_KEY_LEN} bytes; {}",
                    2 * MASTER_KEY_LEN,
                    generate_hint()
                )));
            }
            // The decoder's message names the offending character and its offset: part of the key. Leave it out.
            Err(base64::DecodeSliceError::DecodeError(_)) => {
                return Err(config_error(format!("{origin} is not valid base64; {}", generate_hint())));
            }
        };
        if len != MASTER_KEY_LEN {
            return Err(config_error(format!(
                "{origin} decodes to {len} bytes, but a master key is exactly {MASTER_KEY_LEN} bytes; {}",
                generate_hint()
            )));
        }
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        bytes.copy_from_slice(&decoded[..MASTER_KEY_LEN]);
        Ok(Self::from_array(bytes))
    }

    /// The key with these bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; MASTER_KEY_LEN]>) -> Self {
        Self::from_array(bytes)
    }

    fn from_array(bytes: Zeroizing<[u8; MASTER_KEY_LEN]>) -> Self {
        let digest = Sha256::new().chain_update(KEY_ID_DOMAIN).chain_update(bytes.as_ref()).finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self { bytes: Arc::new(bytes), id }
    }

    /// Reads a key file ([`MASTER_KEY_FILE`] or [`NEXT_MASTER_KEY_FILE`]): it must not be readable or writable by
    /// group or others (mode 0600 or narrower) and must hold exactly 32 bytes of base64.
    pub fn read_file(path: &Path) -> Result<Self> {
        read_key_file(path).map_err(|error| match error {
            KeyFileError::Missing => config_error(format!("master key file {} does not exist", quote(path))),
            KeyFileError::Invalid(error) => error,
        })
    }

    /// The key's id: 16 hex characters, not secret.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as base64 text, for `LANYARD_MASTER_KEY` (the CLI prints it after rotating an environment key).
    /// Every call site is a place where the key leaves its box.
    pub fn expose_base64(&self) -> SecretString {
        SecretString::new(BASE64.encode(self.bytes.as_ref()))
    }

    pub(crate) fn expose_bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

fn generate_hint() -> String {
    format!(
        "it must be {MASTER_KEY_LEN} random bytes in base64, as `openssl rand -base64 {MASTER_KEY_LEN}` prints them"
    )
}

/// The master keys a vault holds: the current one, which encrypts every write, and earlier ones that only decrypt.
///
/// `Debug` shows key ids only.
#[derive(Clone)]
pub struct KeyRing {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl KeyRing {
    /// A ring of one key.
    pub fn new(current: MasterKey) -> Self {
        Self { current, previous: Vec::new() }
    }

    /// Adds a key that decrypts but never encrypts; a key already in the ring is not added twice.
    pub fn with_previous(mut self, key: MasterKey) -> Self {
        self.add_previous(key);
        self
    }

    fn add_previous(&mut self, key: MasterKey) {
        if self.get(key.id()).is_none() {
            self.previous.push(key);
        }
    }

    /// The key every write uses.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// The keys that only decrypt.
    pub fn previous(&self) -> &[MasterKey] {
        &self.previous
    }

    /// The key with id `key_id`, if the ring holds it.
    pub fn get(&self, key_id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current).chain(&self.previous).find(|key| key.id() == key_id)
    }

    /// `current` becomes the key that encrypts; the old current one and every other key of `self` still decrypt.
    pub(crate) fn rotated_to(&self, current: MasterKey) -> Self {
        let mut ring = Self::new(current);
        for key in std::iter::once(&self.current).chain(&self.previous) {
            ring.add_previous(key.clone());
        }
        ring
    }

    /// Every key of `other` that `self` lacks, added as a previous key.
    pub(crate) fn merged_with(mut self, other: &KeyRing) -> Self {
        for key in std::iter::once(&other.current).chain(&other.previous) {
            self.add_previous(key.clone());
        }
        self
    }

    /// `current (also accepted: a, b)`, for messages.
    pub(crate) fn describe(&self) -> String {
        if self.previous.is_empty() {
            self.current.id().to_owned()
        } else {
            let previous: Vec<_> = self.previous.iter().map(MasterKey::id).collect();
            format!("{} (also accepted: {})", self.current.id(), previous.join(", "))
        }
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let previous: Vec<_> = self.previous.iter().map(MasterKey::id).collect();
        f.debug_struct("KeyRing").field("current", &self.current.id()).field("previous", &previous).finish()
    }
}

/// Where a vault's master keys come from.
///
/// `Debug` shows key ids and the directory only.
#[derive(Clone)]
pub enum MasterKeySource {
    /// Keys given directly: `LANYARD_MASTER_KEY` (and `LANYARD_MASTER_KEY_PREVIOUS`), or keys made by a test or
    /// the CLI. A rotation changes the vault's keys in memory only; the operator installs the new key.
    Keys(KeyRing),
    /// `<data_dir>/master.key`, created with a random key (mode 0600) on first use, plus a leftover
    /// `master.key.next` of an interrupted rotation, plus `previous` keys that only decrypt.
    File {
        /// The data directory.
        data_dir: PathBuf,
        /// Keys that only decrypt (from `LANYARD_MASTER_KEY_PREVIOUS`).
        previous: Vec<MasterKey>,
    },
}

impl MasterKeySource {
    /// The source the environment describes: `LANYARD_MASTER_KEY` if it is set (it must then be valid), else the
    /// key file in `data_dir`; with neither, a [`ErrorKind::ConfigInvalid`] error explaining both ways.
    /// `LANYARD_MASTER_KEY_PREVIOUS` adds decrypt-only keys to either. `lookup` reads a variable (tests inject
    /// one; [`MasterKeySource::from_process_env`] uses the process environment). No file is touched here.
    pub fn from_env(lookup: impl Fn(&str) -> Option<OsString>, data_dir: Option<&Path>) -> Result<Self> {
        let current = match lookup(MASTER_KEY_ENV) {
            Some(value) => Some(MasterKey::parse(env_text(value, MASTER_KEY_ENV)?.expose_secret(), MASTER_KEY_ENV)?),
            None => None,
        };
        let previous = match lookup(PREVIOUS_MASTER_KEYS_ENV) {
            Some(value) => {
                let value = env_text(value, PREVIOUS_MASTER_KEYS_ENV)?;
                let texts: Vec<&str> = value
                    .expose_secret()
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|t| !t.is_empty())
                    .collect();
                let count = texts.len();
                texts
                    .into_iter()
                    .enumerate()
                    .map(|(i, text)| {
                        MasterKey::parse(text, &format!("key {} of {count} in {PREVIOUS_MASTER_KEYS_ENV}", i + 1))
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            None => Vec::new(),
        };
        if let Some(current) = current {
            let mut ring = KeyRing::new(current);
            for key in previous {
                ring.add_previous(key);
            }
            return Ok(Self::Keys(ring));
        }
        match data_dir {
            Some(dir) => Ok(Self::File { data_dir: dir.to_owned(), previous }),
            None => Err(config_error(format!(
                "the local backend has no master key: set {MASTER_KEY_ENV} to {MASTER_KEY_LEN} random bytes in \
                 base64 (`openssl rand -base64 {MASTER_KEY_LEN}`), or give lanyard a data directory, where it keeps \
                 the key in {MASTER_KEY_FILE} (created on first start)"
            ))),
        }
    }

    /// [`MasterKeySource::from_env`] on the process environment.
    pub fn from_process_env(data_dir: Option<&Path>) -> Result<Self> {
        Self::from_env(|name| std::env::var_os(name), data_dir)
    }

    /// Where the current key was read from, for messages: `LANYARD_MASTER_KEY`, or the key file's path.
    pub fn origin(&self) -> String {
        match self {
            Self::Keys(_) => MASTER_KEY_ENV.to_owned(),
            Self::File { data_dir, .. } => quote(&data_dir.join(MASTER_KEY_FILE)),
        }
    }

    /// The key file's directory, for the file source.
    pub(crate) fn data_dir(&self) -> Option<&Path> {
        match self {
            Self::Keys(_) => None,
            Self::File { data_dir, .. } => Some(data_dir),
        }
    }

    /// The ring to start with: for the file source this reads the key files, creating `master.key` if it is
    /// missing. Blocking file I/O on a few small files, once.
    pub(crate) fn load(&self) -> Result<(KeyRing, Option<KeyFiles>)> {
        match self {
            Self::Keys(ring) => Ok((ring.clone(), None)),
            Self::File { data_dir, previous } => {
                create_private_dir(data_dir)?;
                let path = data_dir.join(MASTER_KEY_FILE);
                if let Err(KeyFileError::Missing) = read_key_file(&path) {
                    create_key_file(&path, &MasterKey::generate()?)?;
                }
                let (mut ring, files) = KeyFiles::read(data_dir)?;
                for key in previous {
                    ring.add_previous(key.clone());
                }
                Ok((ring, Some(files)))
            }
        }
    }
}

impl fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keys(ring) => f.debug_tuple("Keys").field(ring).finish(),
            Self::File { data_dir, previous } => {
                let previous: Vec<_> = previous.iter().map(MasterKey::id).collect();
                f.debug_struct("File").field("data_dir", data_dir).field("previous", &previous).finish()
            }
        }
    }
}

fn env_text(value: OsString, name: &str) -> Result<SecretString> {
    value
        .into_string()
        .map(SecretString::new)
        .map_err(|_| config_error(format!("{name} is not valid base64 (it is not even UTF-8); {}", generate_hint())))
}

/// What the key files of a data directory looked like when they were last read: a vault re-reads them when this
/// changes, so a rotation by another process on the same directory is seen before the next write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyFiles {
    dir: PathBuf,
    current: Option<FileStamp>,
    next: Option<FileStamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        let metadata = fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = {
            use std::os::unix::fs::MetadataExt as _;
            (metadata.dev(), metadata.ino())
        };
        Some(Self {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            #[cfg(unix)]
            inode,
        })
    }
}

impl KeyFiles {
    /// Reads `master.key` (which must exist) and a leftover `master.key.next`; the latter, if present, is the
    /// current key (it is the one that survives the rotation), the former a previous one.
    fn read(dir: &Path) -> Result<(KeyRing, Self)> {
        let (current_path, next_path) = (dir.join(MASTER_KEY_FILE), dir.join(NEXT_MASTER_KEY_FILE));
        // Stamp before reading, so a change during the read is seen by the next check.
        let files =
            Self { dir: dir.to_owned(), current: FileStamp::of(&current_path), next: FileStamp::of(&next_path) };
        let current = MasterKey::read_file(&current_path)?;
        let ring = match read_key_file(&next_path) {
            Ok(next) => KeyRing::new(next).with_previous(current),
            Err(KeyFileError::Missing) => KeyRing::new(current),
            Err(KeyFileError::Invalid(error)) => return Err(error),
        };
        Ok((ring, files))
    }

    /// Whether the files changed since they were read.
    pub(crate) fn changed(&self) -> bool {
        FileStamp::of(&self.dir.join(MASTER_KEY_FILE)) != self.current
            || FileStamp::of(&self.dir.join(NEXT_MASTER_KEY_FILE)) != self.next
    }

    /// Re-reads the files; the keys of `old` stay in the ring as previous keys.
    pub(crate) fn reload(&self, old: &KeyRing) -> Result<(KeyRing, Self)> {
        let (ring, files) = Self::read(&self.dir)?;
        Ok((ring.merged_with(old), files))
    }
}

pub(crate) enum KeyFileError {
    Missing,
    Invalid(VaultError),
}

pub(crate) fn quote(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// Reads and validates one key file.
pub(crate) fn read_key_file(path: &Path) -> std::result::Result<MasterKey, KeyFileError> {
    let invalid = |detail: String| KeyFileError::Invalid(config_error(detail));
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(KeyFileError::Missing),
        Err(error) => return Err(invalid(format!("cannot open master key file {}: {error}", quote(path)))),
    };
    let metadata =
        file.metadata().map_err(|error| invalid(format!("cannot inspect master key file {}: {error}", quote(path))))?;
    if !metadata.is_file() {
        return Err(invalid(format!("master key file {} is not a regular file", quote(path))));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & !0o600 != 0 {
            return Err(invalid(format!(
                "master key file {} has mode {mode:04o}, but it must be readable by its owner only (0600); \
                 fix it with `chmod 600 {}` after checking who may have read it",
                quote(path),
                path.display()
            )));
        }
    }
    // A key file is 45 bytes; anything much longer is not one (and is not read into memory whole).
    let mut text = Zeroizing::new(Vec::with_capacity(256));
    io::Read::take(&mut file, 4096)
        .read_to_end(&mut text)
        .map_err(|error| invalid(format!("cannot read master key file {}: {error}", quote(path))))?;
    let text = std::str::from_utf8(&text)
        .map_err(|_| invalid(format!("master key file {} is not valid base64 (not UTF-8)", quote(path))))?;
    MasterKey::parse(text, &format!("master key file {}", quote(path))).map_err(KeyFileError::Invalid)
}

/// Creates the data directory (and its parents) if missing; a directory we create is private to its owner.
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|error| config_error(format!("cannot create the data directory {}: {error}", quote(dir))))
}

/// Publishes `key` at `path` without ever clobbering an existing file: the key is written and synced to a fresh
/// temporary file created with mode 0600 (`create_new`), then hard-linked to `path`, which fails if `path` exists
/// — so a reader never sees a half-written key and two processes never overwrite each other. Returns whether
/// `path` was created (false: it existed already).
pub(crate) fn create_key_file(path: &Path, key: &MasterKey) -> Result<bool> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", uuid_like()));
    let io_error = |what: &str, error: io::Error| config_error(format!("cannot {what} {}: {error}", quote(path)));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = options.open(&temp).and_then(|mut file| {
        let mut text = Zeroizing::new([0u8; 64]);
        let len = BASE64.encode_slice(key.expose_bytes(), text.as_mut()).map_err(io::Error::other)?;
        file.write_all(&text[..len])?;
        file.write_all(b"\n")?;
        file.sync_all()
    });
    if let Err(error) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_error("write master key file", error));
    }
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            sync_dir(dir);
            Ok(true)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(io_error("create master key file", error)),
    }
}

/// Renames `from` over `to` and syncs the directory.
pub(crate) fn replace_key_file(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|error| {
        config_error(format!("cannot rename master key file {} to {}: {error}", quote(from), quote(to)))
    })?;
    sync_dir(to.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// Makes a rename or link durable. Best effort: some platforms cannot open or sync a directory.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// 16 random hex characters for temporary file names.
fn uuid_like() -> String {
    let value: u64 = rand::random();
    format!("{value:016x}")
}
