//! The local vault against real databases: the behaviour suite (one test per behaviour) on SQLite and PostgreSQL,
//! master keys from the environment and the data directory, clear errors for wrong keys and tampered rows, rotation,
//! and the check that no plaintext reaches the catalog file. PostgreSQL tests (`postgres::*`, `postgres_*::*`) use
//! the server at `LANYARD_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`), each in its own
//! database; a missing server fails them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use lanyard_core::{BackendId, SecretBytes, VaultEntryId};
use lanyard_testsupport::{DatabaseKind, TempDatabase, TempDir, pg_database_url, unique_name};
use lanyard_vault::testkit::Fixture;
use lanyard_vault::{BackendEnv, Capabilities, ErrorKind, Profile, Registry, SecretRef, SecretValue, VaultBackend};
use lanyard_vault_local::{
    KeyRing, LocalVault, LocalVaultSettings, MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey, MasterKeySource,
    NEXT_MASTER_KEY_FILE, PREVIOUS_MASTER_KEYS_ENV,
};
use sqlx::Row as _;

const CANARY: &str = "canary-7f3a9c-local";

/// A database and a scratch directory of one test, removed on drop (also when the test fails).
struct TestDb {
    url: String,
    db: TempDatabase,
    /// A directory for data dirs and key files.
    dir: TempDir,
}

impl TestDb {
    /// The SQLite file sits in a directory the vault creates.
    fn new(kind: DatabaseKind) -> Self {
        let db = match kind {
            DatabaseKind::Sqlite => TempDatabase::sqlite_file("vault-local", "db/catalog.db"),
            DatabaseKind::Postgres => TempDatabase::postgres("vault_local"),
        };
        Self { url: db.url().to_owned(), db, dir: TempDir::new("vault-local") }
    }

    fn sqlite() -> Self {
        Self::new(DatabaseKind::Sqlite)
    }

    fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    /// A vault on this database with `key` only.
    fn vault(&self, key: &MasterKey) -> LocalVault {
        self.vault_with(keys(key), "")
    }

    /// A vault on this database with `source` and `prefix`.
    fn vault_with(&self, source: MasterKeySource, prefix: &str) -> LocalVault {
        let settings = LocalVaultSettings { prefix: prefix.to_owned(), ..LocalVaultSettings::default() };
        LocalVault::new(&self.url, source, settings).expect("construct local vault")
    }

    /// A data directory (not created: the vault creates it).
    fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    async fn raw(&self) -> Raw {
        if self.is_postgres() {
            Raw::Postgres(sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&self.url).await.unwrap())
        } else {
            Raw::Sqlite(sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&self.url).await.unwrap())
        }
    }
}

/// One `local_secrets` row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawRow {
    profile: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    key_id: String,
}

/// Direct access to the table, bypassing the vault.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

const SELECT: &str = "SELECT profile, nonce, ciphertext, key_id FROM local_secrets ORDER BY profile";
const UPDATE: &str = "UPDATE local_secrets SET nonce = $2, ciphertext = $3, key_id = $4 WHERE profile = $1";

macro_rules! rows {
    ($pool:expr) => {
        sqlx::query(SELECT)
            .fetch_all($pool)
            .await
            .unwrap()
            .iter()
            .map(|r| RawRow {
                profile: r.get("profile"),
                nonce: r.get("nonce"),
                ciphertext: r.get("ciphertext"),
                key_id: r.get("key_id"),
            })
            .collect()
    };
}

/// Runs [`UPDATE`] with the fields of `$row`; the number of rows changed.
macro_rules! update {
    ($pool:expr, $row:expr) => {
        sqlx::query(UPDATE)
            .bind(&$row.profile)
            .bind(&$row.nonce)
            .bind(&$row.ciphertext)
            .bind(&$row.key_id)
            .execute($pool)
            .await
            .unwrap()
            .rows_affected()
    };
}

impl Raw {
    async fn rows(&self) -> Vec<RawRow> {
        match self {
            Raw::Sqlite(pool) => rows!(pool),
            Raw::Postgres(pool) => rows!(pool),
        }
    }

    async fn row(&self, profile: &str) -> RawRow {
        self.rows().await.into_iter().find(|r| r.profile == profile).unwrap_or_else(|| panic!("no row {profile}"))
    }

    /// Overwrites the stored fields of `row.profile`.
    async fn write(&self, row: &RawRow) {
        let changed = match self {
            Raw::Sqlite(pool) => update!(pool, row),
            Raw::Postgres(pool) => update!(pool, row),
        };
        assert_eq!(changed, 1, "raw update of {}", row.profile);
    }

    /// The key id `local_master_key` holds, if any.
    async fn recorded_key(&self) -> Option<String> {
        const SELECT_KEY: &str = "SELECT key_id FROM local_master_key";
        match self {
            Raw::Sqlite(pool) => sqlx::query_scalar(SELECT_KEY).fetch_optional(pool).await.unwrap(),
            Raw::Postgres(pool) => sqlx::query_scalar(SELECT_KEY).fetch_optional(pool).await.unwrap(),
        }
    }

    async fn close(self) {
        match self {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
    }
}

fn keys(key: &MasterKey) -> MasterKeySource {
    MasterKeySource::Keys(KeyRing::new(key.clone()))
}

fn new_key() -> MasterKey {
    MasterKey::generate().expect("generate master key")
}

fn entry() -> Profile {
    Profile::Entry(VaultEntryId::new_random())
}

fn text(value: &str) -> SecretValue {
    SecretValue::new(SecretBytes::new(value.as_bytes().to_vec()))
}

async fn read(vault: &dyn VaultBackend, profile: Profile) -> lanyard_vault::Result<String> {
    let value = vault.get(&SecretRef::Profile(profile)).await?;
    Ok(String::from_utf8(value.expose_bytes().to_vec()).expect("UTF-8 value"))
}

/// The Unix permission bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Sets the Unix permission bits of `path`.
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

lanyard_testsupport::database_tests!(
    fresh =>
    nodes_starting_together_create_the_table_once,
    a_wrong_master_key_is_a_clear_error,
    a_forged_key_id_or_tampered_ciphertext_is_a_clear_error,
    ciphertext_moved_to_another_profile_does_not_decrypt,
    rotation_re_encrypts_every_row_in_one_go,
    rotation_of_the_key_file_is_seen_by_other_vaults_on_the_data_dir,
    an_interrupted_rotation_resumes_with_its_key,
    a_rotation_stops_at_a_row_it_cannot_decrypt,
    the_master_key_is_checked_against_the_catalog_fingerprint,
    a_catalog_with_material_but_no_fingerprint_records_only_a_key_that_reads_it,
);

fn fresh(kind: DatabaseKind) -> TestDb {
    TestDb::new(kind)
}

// The shared behaviour suite, one test per behaviour: on SQLite and PostgreSQL, with a prefix beside a vault
// without one, and on an in-memory SQLite.
macro_rules! on_databases {
    ($($module:ident => $fixture:expr;)+) => {$(
        lanyard_vault::behaviour_tests!(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            mod $module: [store] => $fixture
        );
    )+};
}
on_databases! {
    sqlite_behaviour => Alone::new(DatabaseKind::Sqlite).await;
    postgres_behaviour => Alone::new(DatabaseKind::Postgres).await;
    sqlite_prefixed_behaviour => Beside::new(DatabaseKind::Sqlite).await;
    postgres_prefixed_behaviour => Beside::new(DatabaseKind::Postgres).await;
}
lanyard_vault::behaviour_tests!(mod in_memory_behaviour: [store] => InMemory::new());

/// A vault alone on its database: after a behaviour, the database holds no row (the behaviours and the probe
/// leave nothing behind).
struct Alone {
    db: TestDb,
    vault: LocalVault,
}

impl Alone {
    /// The vault has created its table, so that `finish` can look at it whatever the behaviour did.
    async fn new(kind: DatabaseKind) -> Self {
        let db = TestDb::new(kind);
        let vault = db.vault(&new_key());
        assert_eq!(vault.list().await.expect("the first use creates the table"), []);
        Self { vault, db }
    }
}

impl Fixture for Alone {
    fn backend(&self) -> &dyn VaultBackend {
        &self.vault
    }

    async fn finish(self) {
        assert!(self.db.raw().await.rows().await.is_empty(), "the suite and the probe leave nothing behind");
        self.vault.close().await;
    }
}

/// A vault with the prefix `tenant-a/` beside one without a prefix on the same table, each holding one profile:
/// after a behaviour of the prefixed one, each still sees only its own.
struct Beside {
    db: TestDb,
    plain: LocalVault,
    tenant: LocalVault,
    mine: Profile,
    theirs: Profile,
}

impl Beside {
    async fn new(kind: DatabaseKind) -> Self {
        let db = TestDb::new(kind);
        let key = new_key();
        let plain = db.vault(&key);
        let tenant = db.vault_with(keys(&key), "tenant-a/");
        let (mine, theirs) = (entry(), entry());
        tenant.put(&mine, &text("tenant value")).await.unwrap();
        plain.put(&theirs, &text("plain value")).await.unwrap();
        Self { db, plain, tenant, mine, theirs }
    }
}

impl Fixture for Beside {
    fn backend(&self) -> &dyn VaultBackend {
        &self.tenant
    }

    async fn finish(self) {
        let Self { db, plain, tenant, mine, theirs } = self;
        assert_eq!(tenant.physical_name(&mine), format!("tenant-a/{mine}"));
        assert_eq!(tenant.list().await.unwrap(), [mine], "a prefixed vault lists only its own profiles");
        assert_eq!(plain.list().await.unwrap(), [theirs], "rows of other prefixes do not parse as profiles");
        let error = plain.get(&SecretRef::Profile(mine)).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        let names: Vec<_> = db.raw().await.rows().await.into_iter().map(|r| r.profile).collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&format!("tenant-a/{mine}")) && names.contains(&theirs.to_string()), "{names:?}");
        plain.close().await;
        tenant.close().await;
    }
}

/// A vault on an in-memory SQLite database.
struct InMemory(LocalVault);

impl InMemory {
    fn new() -> Self {
        Self(LocalVault::new("sqlite::memory:", keys(&new_key()), LocalVaultSettings::default()).unwrap())
    }
}

impl Fixture for InMemory {
    fn backend(&self) -> &dyn VaultBackend {
        &self.0
    }

    async fn finish(self) {
        self.0.close().await;
    }
}

async fn nodes_starting_together_create_the_table_once(db: &TestDb) {
    let key = new_key();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(6));
    let nodes: Vec<_> = (0..6)
        .map(|_| {
            let (vault, start) = (db.vault(&key), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let listed = vault.list().await;
                vault.close().await;
                listed
            })
        })
        .collect();
    for node in nodes {
        assert_eq!(node.await.unwrap().expect("first use on every node"), []);
    }
}

async fn a_wrong_master_key_is_a_clear_error(db: &TestDb) {
    let (right, wrong) = (new_key(), new_key());
    let writer = db.vault(&right);
    let profile = entry();
    writer.put(&profile, &text(CANARY)).await.unwrap();
    let reader = db.vault(&wrong);
    let error = reader.get(&SecretRef::Profile(profile)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    assert!(!error.is_temporary());
    let message = error.to_string();
    let expected = format!(
        "material of \"{profile}\" was encrypted with master key {}, but the configured master key is {};",
        right.id(),
        wrong.id()
    );
    assert!(message.contains(&expected), "{message}");
    assert!(message.contains("LANYARD_MASTER_KEY"), "the error says how to fix it: {message}");
    assert!(!message.contains(CANARY));
    // A ring holding the right key as a previous one reads it.
    let both = db.vault_with(MasterKeySource::Keys(KeyRing::new(wrong.clone()).with_previous(right.clone())), "");
    assert_eq!(read(&both, profile).await.unwrap(), CANARY);
    for vault in [writer, reader, both] {
        vault.close().await;
    }
}

async fn a_forged_key_id_or_tampered_ciphertext_is_a_clear_error(db: &TestDb) {
    let (right, other) = (new_key(), new_key());
    let writer = db.vault(&right);
    let (forged, tampered) = (entry(), entry());
    writer.put(&forged, &text(CANARY)).await.unwrap();
    writer.put(&tampered, &text(CANARY)).await.unwrap();
    let raw = db.raw().await;

    // The row claims to be encrypted with the reader's key, but it is not.
    let mut row = raw.row(&forged.to_string()).await;
    row.key_id = other.id().to_owned();
    raw.write(&row).await;
    let reader = db.vault(&other);
    let error = reader.get(&SecretRef::Profile(forged)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    assert!(
        error.to_string().contains(&format!(
            "material of \"{forged}\" could not be decrypted: wrong master key or tampered ciphertext"
        )),
        "{error}"
    );

    // One flipped bit of ciphertext, or a changed nonce, fails authentication.
    let mut row = raw.row(&tampered.to_string()).await;
    row.ciphertext[0] ^= 1;
    raw.write(&row).await;
    let error = writer.get(&SecretRef::Profile(tampered)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    assert!(error.to_string().contains("wrong master key or tampered ciphertext"), "{error}");
    row.ciphertext[0] ^= 1;
    row.nonce.truncate(5);
    raw.write(&row).await;
    let error = writer.get(&SecretRef::Profile(tampered)).await.unwrap_err();
    assert!(error.to_string().contains("wrong master key or tampered ciphertext"), "{error}");
    assert!(!error.to_string().contains(CANARY));
    raw.close().await;
    writer.close().await;
    reader.close().await;
}

async fn ciphertext_moved_to_another_profile_does_not_decrypt(db: &TestDb) {
    let vault = db.vault(&new_key());
    let (source, target) = (entry(), entry());
    vault.put(&source, &text("source material")).await.unwrap();
    vault.put(&target, &text("target material")).await.unwrap();
    let raw = db.raw().await;
    let moved = RawRow { profile: target.to_string(), ..raw.row(&source.to_string()).await };
    raw.write(&moved).await;
    let error = vault.get(&SecretRef::Profile(target)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    assert!(error.to_string().contains("wrong master key or tampered ciphertext"), "{error}");
    assert_eq!(read(&vault, source).await.unwrap(), "source material");
    raw.close().await;
    vault.close().await;
}

async fn rotation_re_encrypts_every_row_in_one_go(db: &TestDb) {
    let (old, new) = (new_key(), new_key());
    let vault = db.vault(&old);
    let tenant = db.vault_with(keys(&old), "tenant/");
    let values: Vec<(Profile, String)> = (0..12).map(|i| (entry(), format!("value-{i}"))).collect();
    for (profile, value) in &values {
        vault.put(profile, &text(value)).await.unwrap();
    }
    let tenant_profile = entry();
    tenant.put(&tenant_profile, &text("tenant value")).await.unwrap();
    let before = db.raw().await.rows().await;

    let report = vault.rotate_master_key(new.clone()).await.unwrap();
    assert_eq!(report.new_key_id, new.id());
    assert_eq!(report.rows, 13, "every row, whatever its prefix: {report:?}");
    assert_eq!(report.rows_by_old_key.get(old.id()), Some(&13));
    assert_eq!(report.key_file, None, "keys given directly are not written anywhere");

    for (profile, value) in &values {
        assert_eq!(&read(&vault, *profile).await.unwrap(), value, "{profile} after rotation");
    }
    let after = db.raw().await.rows().await;
    assert!(after.iter().all(|row| row.key_id == new.id()), "every row has the new key id");
    for (old_row, new_row) in before.iter().zip(&after) {
        assert_eq!(old_row.profile, new_row.profile);
        assert_ne!(old_row.nonce, new_row.nonce, "every row gets a fresh nonce");
    }
    let ring = vault.key_ring().await.unwrap();
    assert_eq!(ring.current().id(), new.id(), "the vault now writes with the new key");
    assert!(ring.get(old.id()).is_some(), "and still reads the old one");
    let fresh = entry();
    vault.put(&fresh, &text("after")).await.unwrap();
    assert_eq!(db.raw().await.row(&fresh.to_string()).await.key_id, new.id());

    let old_only = db.vault(&old);
    let error = old_only.get(&SecretRef::Profile(values[0].0)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
    assert!(error.to_string().contains(&format!("encrypted with master key {}", new.id())), "{error}");
    let new_only = db.vault_with(keys(&new), "tenant/");
    assert_eq!(read(&new_only, tenant_profile).await.unwrap(), "tenant value");

    // Rotating to the current key again is allowed (it sweeps rows other nodes wrote with an older key).
    let again = vault.rotate_master_key(new.clone()).await.unwrap();
    assert_eq!(again.rows, 14);
    assert_eq!(again.rows_by_old_key.keys().collect::<Vec<_>>(), [new.id()]);
    for vault in [vault, tenant, old_only, new_only] {
        vault.close().await;
    }
}

async fn rotation_of_the_key_file_is_seen_by_other_vaults_on_the_data_dir(db: &TestDb) {
    let data_dir = db.data_dir("data");
    let file = |data_dir: &Path| MasterKeySource::File { data_dir: data_dir.to_owned(), previous: Vec::new() };
    let server = db.vault_with(file(&data_dir), "");
    let (early, late) = (entry(), entry());
    server.put(&early, &text("early")).await.unwrap();
    let old = MasterKey::read_file(&data_dir.join(MASTER_KEY_FILE)).unwrap();

    let admin = LocalVault::open(&db.url, file(&data_dir), LocalVaultSettings::default()).await.unwrap();
    let new = new_key();
    let report = admin.rotate_master_key(new.clone()).await.unwrap();
    assert_eq!(report.key_file.as_deref(), Some(data_dir.join(MASTER_KEY_FILE).as_path()));
    assert_eq!(report.rows_by_old_key.get(old.id()), Some(&1));
    assert_eq!(MasterKey::read_file(&data_dir.join(MASTER_KEY_FILE)).unwrap().id(), new.id());
    assert_eq!(mode(&data_dir.join(MASTER_KEY_FILE)), 0o600);
    assert!(!data_dir.join(NEXT_MASTER_KEY_FILE).exists(), "master.key.next was renamed over master.key");

    // The server loaded the old key before the rotation: it reads the re-encrypted row and writes with the new key.
    assert_eq!(read(&server, early).await.unwrap(), "early");
    server.put(&late, &text("late")).await.unwrap();
    let raw = db.raw().await;
    assert_eq!(raw.row(&late.to_string()).await.key_id, new.id());
    assert_eq!(server.key_ring().await.unwrap().current().id(), new.id());
    raw.close().await;

    let restarted = db.vault_with(file(&data_dir), "");
    assert_eq!(read(&restarted, early).await.unwrap(), "early");
    assert_eq!(read(&restarted, late).await.unwrap(), "late");
    assert_eq!(restarted.key_ring().await.unwrap().previous().len(), 0, "the old key is gone from disk");
    for vault in [server, admin, restarted] {
        vault.close().await;
    }
}

async fn an_interrupted_rotation_resumes_with_its_key(db: &TestDb) {
    let data_dir = db.data_dir("data");
    let source = MasterKeySource::File { data_dir: data_dir.clone(), previous: Vec::new() };
    let vault = db.vault_with(source.clone(), "");
    let before = entry();
    vault.put(&before, &text("before")).await.unwrap();
    let old = vault.key_ring().await.unwrap().current().clone();

    // A rotation that wrote master.key.next and stopped before its transaction.
    let pending = new_key();
    write_key_file(&data_dir.join(NEXT_MASTER_KEY_FILE), &pending);
    let during = entry();
    vault.put(&during, &text("during")).await.unwrap();
    let raw = db.raw().await;
    assert_eq!(raw.row(&during.to_string()).await.key_id, pending.id(), "new writes use the surviving key");
    let reopened = db.vault_with(source.clone(), "");
    let ring = reopened.key_ring().await.unwrap();
    assert_eq!((ring.current().id(), ring.get(old.id()).is_some()), (pending.id(), true));
    assert_eq!(read(&reopened, before).await.unwrap(), "before");

    let error = vault.rotate_master_key(new_key()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    assert!(error.to_string().contains("was interrupted"), "{error}");
    assert_eq!(MasterKey::read_file(&data_dir.join(NEXT_MASTER_KEY_FILE)).unwrap().id(), pending.id(), "untouched");

    let report = vault.resume_rotation().await.unwrap().expect("there is a rotation to finish");
    assert_eq!((report.new_key_id.as_str(), report.rows), (pending.id(), 2));
    assert!(!data_dir.join(NEXT_MASTER_KEY_FILE).exists());
    assert_eq!(MasterKey::read_file(&data_dir.join(MASTER_KEY_FILE)).unwrap().id(), pending.id());
    assert!(raw.rows().await.iter().all(|row| row.key_id == pending.id()));
    assert_eq!(vault.resume_rotation().await.unwrap(), None, "nothing left to finish");
    let fresh = db.vault_with(source, "");
    assert_eq!(read(&fresh, before).await.unwrap(), "before");
    assert_eq!(read(&fresh, during).await.unwrap(), "during");
    raw.close().await;
    for vault in [vault, reopened, fresh] {
        vault.close().await;
    }
}

async fn a_rotation_stops_at_a_row_it_cannot_decrypt(db: &TestDb) {
    let (stranger, mine, new) = (new_key(), new_key(), new_key());
    let foreign = entry();
    db.vault(&stranger).put(&foreign, &text("foreign")).await.unwrap();
    let vault = db.vault(&mine);
    let own = entry();
    vault.put(&own, &text("own")).await.unwrap();
    let before = db.raw().await.rows().await;
    let error = vault.rotate_master_key(new.clone()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    let message = error.to_string();
    assert!(message.contains("nothing was re-encrypted") && message.contains(stranger.id()), "{message}");
    assert_eq!(db.raw().await.rows().await, before, "the transaction changed nothing");
    assert_eq!(vault.key_ring().await.unwrap().current().id(), mine.id());
    vault.close().await;
}

/// The first check records the key's fingerprint (its key id, never the key); a vault whose keys do not include
/// the recorded one is refused with a message naming where its key came from, which key the catalog expects and
/// what to do; a rotation moves the fingerprint in its transaction, and every step of a rolling rotation passes.
async fn the_master_key_is_checked_against_the_catalog_fingerprint(db: &TestDb) {
    let (k1, k2) = (new_key(), new_key());
    let first = db.vault(&k1);
    let check = first.check_master_key().await.unwrap();
    assert_eq!((check.key_id.as_str(), check.recorded_now), (k1.id(), true));
    let again = first.check_master_key().await.unwrap();
    assert_eq!((again.key_id.as_str(), again.recorded_now), (k1.id(), false), "recorded once");
    let raw = db.raw().await;
    assert_eq!(raw.recorded_key().await.as_deref(), Some(k1.id()));
    first.put(&entry(), &text(CANARY)).await.unwrap();

    let wrong = db.vault(&k2);
    let error = wrong.check_master_key().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    let message = error.to_string();
    let expected = format!(
        "the master key does not match this catalog: the catalog is keyed to master key {}, but the \
         master key read from LANYARD_MASTER_KEY is {}; set LANYARD_MASTER_KEY to the key whose id is {} (or, \
         while a rotation rolls out, list it in LANYARD_MASTER_KEY_PREVIOUS). Nothing was read or written",
        k1.id(),
        k2.id(),
        k1.id()
    );
    assert!(message.contains(&expected), "{message}");
    for secret in [k1.expose_base64(), k2.expose_base64()] {
        assert!(!message.contains(secret.expose_secret()), "no key in the message");
    }
    assert!(!message.contains(CANARY));
    assert_eq!(raw.recorded_key().await.as_deref(), Some(k1.id()), "a refused check records nothing");

    // Rolling rotation: (1) K2 added as a previous key; (2) rotated to K2; (3) K2 current, K1 previous; (4) K2 only.
    let step1 = db.vault_with(MasterKeySource::Keys(KeyRing::new(k1.clone()).with_previous(k2.clone())), "");
    assert_eq!(step1.check_master_key().await.unwrap().key_id, k1.id());
    let report = step1.rotate_master_key(k2.clone()).await.unwrap();
    assert_eq!(report.new_key_id, k2.id());
    assert_eq!(raw.recorded_key().await.as_deref(), Some(k2.id()), "the rotation moved the fingerprint");
    let lagging = db.vault_with(MasterKeySource::Keys(KeyRing::new(k1.clone()).with_previous(k2.clone())), "");
    assert_eq!(lagging.check_master_key().await.unwrap().key_id, k2.id(), "a node restarted between steps 2 and 3");
    let step3 = db.vault_with(MasterKeySource::Keys(KeyRing::new(k2.clone()).with_previous(k1.clone())), "");
    assert_eq!(step3.check_master_key().await.unwrap().key_id, k2.id());
    let step4 = db.vault(&k2);
    assert_eq!(step4.check_master_key().await.unwrap().key_id, k2.id());
    let old_only = db.vault(&k1);
    let error = old_only.check_master_key().await.unwrap_err();
    assert!(error.to_string().contains(&format!("is keyed to master key {}", k2.id())), "{error}");
    raw.close().await;
    for vault in [first, wrong, step1, lagging, step3, step4, old_only] {
        vault.close().await;
    }
}

/// A catalog written before the fingerprint existed holds rows but no fingerprint: the first check records its key
/// only if some row is under it.
async fn a_catalog_with_material_but_no_fingerprint_records_only_a_key_that_reads_it(db: &TestDb) {
    let (k1, k2) = (new_key(), new_key());
    let writer = db.vault(&k1);
    writer.put(&entry(), &text(CANARY)).await.unwrap();
    let wrong = db.vault(&k2);
    let error = wrong.check_master_key().await.unwrap_err();
    assert!(error.to_string().contains(&format!("is keyed to master key {}", k1.id())), "{error}");
    let raw = db.raw().await;
    assert_eq!(raw.recorded_key().await, None);
    let check = db.vault(&k1).check_master_key().await.unwrap();
    assert_eq!((check.key_id.as_str(), check.recorded_now), (k1.id(), true));
    assert_eq!(raw.recorded_key().await.as_deref(), Some(k1.id()));
    raw.close().await;
    writer.close().await;
    wrong.close().await;
}

/// With the key file: a wrong `master.key` is refused naming the file; a missing one is not silently replaced by a
/// new key while the catalog holds material.
#[tokio::test]
async fn a_wrong_or_missing_key_file_is_refused_naming_the_file() {
    let db = TestDb::sqlite();
    let data_dir = db.data_dir("data");
    let source = MasterKeySource::File { data_dir: data_dir.clone(), previous: Vec::new() };
    let first = db.vault_with(source.clone(), "");
    let recorded = first.check_master_key().await.unwrap().key_id;
    first.put(&entry(), &text(CANARY)).await.unwrap();
    first.close().await;
    let path = data_dir.join(MASTER_KEY_FILE);

    // Another key in master.key.
    std::fs::rename(&path, data_dir.join("master.key.saved")).unwrap();
    let other = new_key();
    write_key_file(&path, &other);
    let error = db.vault_with(source.clone(), "").check_master_key().await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&format!(
            "the catalog is keyed to master key {recorded}, but the master key read from {:?} is {}; put \
             the key whose id is {recorded} back in {:?} (from a backup of the data directory), or set \
             LANYARD_MASTER_KEY to it",
            path.display().to_string(),
            other.id(),
            path.display().to_string()
        )),
        "{message}"
    );

    // No master.key at all: refused before a new one is made.
    std::fs::remove_file(&path).unwrap();
    let vault = db.vault_with(source.clone(), "");
    let error = vault.check_master_key().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    assert!(
        error.to_string().contains(&format!(
            "master key file {:?} does not exist, but this catalog is keyed to master key {recorded} and holds 1 \
             secret encrypted under it; a new key would not match it, so none was made: restore master.key from a \
             backup of the data directory, or set LANYARD_MASTER_KEY to the key whose id is {recorded}",
            path.display().to_string()
        )),
        "{error}"
    );
    let error = vault.put(&entry(), &text("x")).await.unwrap_err();
    assert!(error.to_string().contains("so none was made"), "every operation refuses: {error}");
    assert!(!path.exists(), "no new key file was made");

    // The right key back: the vault works again.
    std::fs::rename(data_dir.join("master.key.saved"), &path).unwrap();
    let restored = db.vault_with(source, "");
    assert_eq!(restored.check_master_key().await.unwrap().key_id, recorded);
    assert_eq!(restored.list().await.unwrap().len(), 1);
    for vault in [vault, restored] {
        vault.close().await;
    }
}

/// Writes a key file the way a rotation does (0600), for simulating an interrupted one.
fn write_key_file(path: &Path, key: &MasterKey) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).unwrap();
    writeln!(file, "{}", key.expose_base64().expose_secret()).unwrap();
}

#[tokio::test]
async fn the_registry_builds_the_local_kind_from_the_environment() {
    let db = TestDb::sqlite();
    let registry = Registry::global().expect("registry");
    assert!(registry.kinds().contains(&"local"));
    let env = BackendEnv { catalog_url: Some(db.url.clone()), data_dir: Some(db.data_dir("data")) };
    let backend = registry
        .build("OS_KEYCHAIN", BackendId::new_random(), "local", [("prefix", "node/")], env.clone())
        .expect("build the local backend through the registry");
    assert_eq!(backend.kind(), "local");
    assert_eq!(backend.capabilities(), Capabilities { store: true, link: false, ambient_identity: false });
    let profile = entry();
    assert_eq!(backend.physical_name(&profile), format!("node/{profile}"));
    backend.put(&profile, &text("through the registry")).await.unwrap();
    assert_eq!(read(backend.as_ref(), profile).await.unwrap(), "through the registry");
    assert!(backend.probe().await.unwrap().passed());
    backend.delete(&profile).await.unwrap();
    let error = backend.get(&SecretRef::External("prod/db".into())).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");

    let error = registry.build("local", BackendId::new_random(), "local", [("region", "x")], env.clone()).unwrap_err();
    assert!(error.to_string().contains("unknown option \"region\"; valid options are: prefix"), "{error}");
    let no_catalog = BackendEnv { catalog_url: None, ..env.clone() };
    let error = registry.build("local", BackendId::new_random(), "local", NO_OPTIONS, no_catalog).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
    assert!(error.to_string().contains("no catalog URL"), "{error}");
    let mysql = BackendEnv { catalog_url: Some("mysql://root:hunter2@db/lanyard".into()), ..env };
    let error = registry.build("local", BackendId::new_random(), "local", NO_OPTIONS, mysql).unwrap_err();
    assert!(error.to_string().contains("unsupported scheme \"mysql\""), "{error}");
    assert!(!error.to_string().contains("hunter2"), "the URL's password is not echoed: {error}");
}

const NO_OPTIONS: [(&str, &str); 0] = [];

#[tokio::test]
async fn the_key_file_is_created_0600_reused_and_refused_when_too_open() {
    let db = TestDb::sqlite();
    let data_dir = db.data_dir("nested/data");
    let source = MasterKeySource::File { data_dir: data_dir.clone(), previous: Vec::new() };
    let first = db.vault_with(source.clone(), "");
    assert!(!data_dir.exists(), "construction does no I/O");
    let profile = entry();
    first.put(&profile, &text("kept")).await.unwrap();
    let path = data_dir.join(MASTER_KEY_FILE);
    assert_eq!(mode(&path), 0o600, "created with mode 0600");
    let content = std::fs::read_to_string(&path).unwrap();
    assert_eq!(content.trim_end().len(), 44, "32 bytes of base64");
    let key = MasterKey::read_file(&path).unwrap();
    assert_eq!(first.key_ring().await.unwrap().current().id(), key.id());
    assert!(!format!("{first:?}").contains(content.trim_end()), "Debug shows key ids only");
    assert!(format!("{first:?}").contains(key.id()));

    let second = db.vault_with(source.clone(), "");
    assert_eq!(read(&second, profile).await.unwrap(), "kept", "the second open reuses the key");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), content, "and leaves the file alone");

    set_mode(&path, 0o644);
    let error = LocalVault::open(&db.url, source.clone(), LocalVaultSettings::default()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    assert!(error.to_string().contains("has mode 0644, but it must be readable by its owner only (0600)"), "{error}");
    assert!(!error.to_string().contains(content.trim_end()));

    set_mode(&path, 0o400);
    let read_only = LocalVault::open(&db.url, source.clone(), LocalVaultSettings::default()).await;
    assert_eq!(read_only.expect("0400 is narrower than 0600").key_ring().await.unwrap().current().id(), key.id());
    set_mode(&path, 0o600);
    std::fs::write(&path, "c2hvcnQ=\n").unwrap();
    let error = LocalVault::open(&db.url, source.clone(), LocalVaultSettings::default()).await.unwrap_err();
    assert!(error.to_string().contains("decodes to 5 bytes, but a master key is exactly 32 bytes"), "{error}");
    std::fs::write(&path, "not base64 at all!\n").unwrap();
    let error = LocalVault::open(&db.url, source, LocalVaultSettings::default()).await.unwrap_err();
    assert!(error.to_string().contains("is not valid base64"), "{error}");
    assert!(!error.to_string().contains("at all"), "the content is not echoed: {error}");
    for vault in [first, second] {
        vault.close().await;
    }
}

/// Eight vaults on eight threads open the same fresh data directory at once: exactly one key file is created,
/// every vault loads that key, and no temporary file is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn processes_racing_to_create_the_key_file_agree_on_one_key() {
    let db = TestDb::sqlite();
    let data_dir = db.data_dir("data");
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let vault = db.vault_with(MasterKeySource::File { data_dir: data_dir.clone(), previous: Vec::new() }, "");
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let id = vault.key_ring().await.map(|ring| ring.current().id().to_owned());
                vault.close().await;
                id
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap().expect("load the key"));
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        ids.first().map(String::as_str),
        Some(MasterKey::read_file(&data_dir.join(MASTER_KEY_FILE)).unwrap().id())
    );
    let leftovers: Vec<_> = std::fs::read_dir(&data_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, [MASTER_KEY_FILE], "no temporary files are left behind");
}

#[tokio::test]
async fn database_errors_are_classified() {
    let no_database = pg_database_url(&unique_name("lanyard_no_such_database_"));
    let vault = LocalVault::new(&no_database, keys(&new_key()), LocalVaultSettings::default()).unwrap();
    let error = vault.list().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
    assert!(error.to_string().contains("does not exist"), "{error}");
}

#[test]
fn the_environment_key_is_validated_without_echoing_it() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(*v))
    };
    let data_dir = Path::new("/nonexistent/lanyard-data");
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[(MASTER_KEY_ENV, "not*base64*secret")], "LANYARD_MASTER_KEY is not valid base64"),
        (
            &[(MASTER_KEY_ENV, "c2hvcnQtc2VjcmV0")],
            "LANYARD_MASTER_KEY decodes to 12 bytes, but a master key is exactly 32 bytes",
        ),
        (&[(MASTER_KEY_ENV, "")], "LANYARD_MASTER_KEY is empty"),
        (
            &[(
                MASTER_KEY_ENV,
                "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh",
            )],
            "LANYARD_MASTER_KEY decodes to more than 64 bytes",
        ),
        (
            &[
                (MASTER_KEY_ENV, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
                (PREVIOUS_MASTER_KEYS_ENV, "AAEC, secret!"),
            ],
            "key 1 of 2 in LANYARD_MASTER_KEY_PREVIOUS decodes to 3 bytes",
        ),
        (
            &[(PREVIOUS_MASTER_KEYS_ENV, "a-secret-thing")],
            "key 1 of 1 in LANYARD_MASTER_KEY_PREVIOUS is not valid base64",
        ),
    ];
    for (vars, expected) in cases {
        let error = MasterKeySource::from_env(env(vars), Some(data_dir)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid, "{error}");
        let message = error.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("openssl rand -base64 32"), "the error says how to make a key: {message}");
        assert!(!message.contains("secret"), "the value is not echoed: {message}");
    }

    let error = MasterKeySource::from_env(env(&[]), None).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
    let message = error.to_string();
    assert!(message.contains("set LANYARD_MASTER_KEY") && message.contains("data directory"), "{message}");

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const PREVIOUS: &str = "IB8eHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";
    let (key, previous) = (KEY, PREVIOUS);
    let source =
        MasterKeySource::from_env(env(&[(MASTER_KEY_ENV, KEY), (PREVIOUS_MASTER_KEYS_ENV, PREVIOUS)]), Some(data_dir))
            .unwrap();
    let MasterKeySource::Keys(ring) = &source else { panic!("the variable wins over the data directory: {source:?}") };
    assert_eq!(ring.current().id(), MasterKey::from_base64(key).unwrap().id());
    assert_eq!(ring.previous().len(), 1);
    assert_eq!(ring.current().id().len(), 16);
    assert!(ring.current().id().bytes().all(|b| b.is_ascii_hexdigit()));
    let shown = format!("{source:?}");
    assert!(!shown.contains(key) && !shown.contains(previous) && shown.contains(ring.current().id()), "{shown}");
    assert_eq!(ring.current().expose_base64().expose_secret(), key);

    let source = MasterKeySource::from_env(env(&[]), Some(data_dir)).unwrap();
    assert!(matches!(source, MasterKeySource::File { .. }), "{source:?}");
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() {
    let settings =
        LocalVaultSettings { acquire_timeout: std::time::Duration::from_millis(300), ..LocalVaultSettings::default() };
    let vault = LocalVault::new("postgres://lanyard:hunter2@127.0.0.1:1/lanyard", keys(&new_key()), settings).unwrap();
    let profile = entry();
    for error in [
        vault.get(&SecretRef::Profile(profile)).await.unwrap_err(),
        vault.put(&profile, &text(CANARY)).await.unwrap_err(),
        vault.list().await.unwrap_err(),
    ] {
        assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
        assert!(error.is_temporary());
        assert!(!error.to_string().contains("hunter2") && !error.to_string().contains(CANARY), "{error}");
    }
    let report = vault.probe().await.unwrap();
    assert!(!report.passed(), "{report:?}");
}

/// The issue's security test: material written through the local backend into the catalog's own SQLite file is
/// nowhere in that file or its write-ahead log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_reaches_the_catalog_file() {
    let db = TestDb::sqlite();
    let catalog = lanyard_catalog::Catalog::open(&db.url).await.expect("open the catalog");
    let vault = db.vault(&new_key());
    let profiles: Vec<Profile> = (0..3).map(|_| entry()).collect();
    for profile in &profiles {
        vault.put(profile, &text(CANARY)).await.unwrap();
        assert_eq!(read(&vault, *profile).await.unwrap(), CANARY);
    }
    vault.put(&profiles[0], &text(&format!("{CANARY}-overwritten"))).await.unwrap();
    vault.delete(&profiles[1]).await.unwrap();
    assert!(!format!("{vault:?}").contains(CANARY));

    let file = PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
    // While open, the write-ahead log holds the latest pages.
    let checked = assert_no_canary_in(&file);
    assert!(checked.contains(&"-wal"), "the write-ahead log was checked while open: {checked:?}");
    vault.close().await;
    catalog.close().await;
    // Closed, the log has been checkpointed into the database file (and usually removed).
    let checked = assert_no_canary_in(&file);
    assert!(checked.contains(&""), "the database file was checked: {checked:?}");
    // The rows are there, only encrypted.
    let raw = db.raw().await;
    assert_eq!(raw.rows().await.len(), 2);
    raw.close().await;
}

/// Asserts that the canary is in none of the database file and its companions; returns the suffixes it read.
fn assert_no_canary_in(file: &Path) -> Vec<&'static str> {
    let mut checked = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = PathBuf::from(format!("{}{suffix}", file.display()));
        let Ok(bytes) = std::fs::read(&path) else { continue };
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "the canary is in {} in plain text",
            path.display()
        );
        checked.push(suffix);
    }
    checked
}

/// docs/backends.md quotes the two wrong-key errors as a user reads them (`VaultError::explain`, which the Control
/// Plane uses), with `vault::…` for the entry and two example key ids: they are what the vault says, but for those.
#[tokio::test]
async fn the_documented_wrong_key_errors_are_the_real_ones() {
    let db = TestDb::sqlite();
    let (right, wrong) = (new_key(), new_key());
    let writer = db.vault(&right);
    let (moved, forged) = (entry(), entry());
    writer.put(&moved, &text(CANARY)).await.unwrap();
    writer.put(&forged, &text(CANARY)).await.unwrap();
    let raw = db.raw().await;
    let mut row = raw.row(&forged.to_string()).await;
    row.key_id = wrong.id().to_owned();
    raw.write(&row).await;
    let reader = db.vault(&wrong);
    let mut printed = String::new();
    for profile in [moved, forged] {
        // As users read it: the Control Plane explains a backend error with the storage's name and kind.
        let error = reader
            .get(&SecretRef::Profile(profile))
            .await
            .unwrap_err()
            .explain(r#"credential storage "local" (local)"#);
        let shown = error
            .replace(&profile.to_string(), "vault::…")
            .replace(right.id(), "5f0c1a9e2b7d4c31")
            .replace(wrong.id(), "9a41d07c3e5b28f6");
        printed.push_str(&shown);
        printed.push('\n');
    }
    let manual = include_str!("../../../docs/backends.md");
    let at = manual.find("was encrypted with master key 5f0c1a9e2b7d4c31").expect("docs/backends.md quotes the error");
    let start = manual[..at].rfind("```text\n").expect("in a text block") + "```text\n".len();
    let end = start + manual[start..].find("```").unwrap();
    assert_eq!(&manual[start..end], printed, "docs/backends.md's wrong-key errors are not the vault's");
    raw.close().await;
    writer.close().await;
    reader.close().await;
}
