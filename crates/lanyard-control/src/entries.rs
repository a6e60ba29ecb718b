//! CREATE / ALTER / DROP / SHOW / DESCRIBE VAULT (= CREDENTIAL).
//!
//! Material is written before the row that points at it and deleted after the row is gone. A write of material
//! that is not followed by a commit is undone: a new profile is deleted, an overwritten one gets its previous
//! material back.

use std::sync::Arc;

use lanyard_catalog::{Backend, Listed, Meta, Page, Timestamp, Tx, VaultEntry, transaction};
use lanyard_core::{AuditAction, ErrorKind, LOCAL_BACKEND_ID, ObjectKind, SecretString, VaultEntryId, printable};
use lanyard_vault::{ExternalName, Profile, SecretRef, SecretValue, VaultBackend};
use rand::TryRngCore as _;

use crate::error::{ControlError, Result, storage_subject};
use crate::history::Target;
use crate::model::{Created, EntryAction, EntryType, EntryView, Material, NamedRef, NewEntry, ObjectKey};
use crate::{Caller, ControlPlane, Permission, audit, audit_form, detail, snapshot, valid_name};

/// The largest secret accepted, in bytes.
const MAX_SECRET: usize = 64 * 1024;

pub(crate) fn not_found(kind: ObjectKind, key: &ObjectKey) -> ControlError {
    ControlError::new(ErrorKind::NotFound, format!("{kind} {:?} does not exist", key.to_string()))
}

/// The row for `key`, by id or by name; link-owned entries are not reachable this way.
async fn find_entry(tx: &mut Tx, key: &ObjectKey) -> Result<VaultEntry> {
    let row = match key {
        ObjectKey::Id(id) => tx.find::<VaultEntry>(VaultEntryId::from_uuid(*id)).await?,
        ObjectKey::Name(name) => tx.find_by_name::<VaultEntry>(&[name]).await?,
    };
    row.filter(|r| r.owner_link_id.is_none()).ok_or_else(|| not_found(ObjectKind::VaultEntry, key))
}

/// The entry already named `name`: its view with IF NOT EXISTS, an AlreadyExists error without it.
async fn existing_entry(tx: &mut Tx, name: &lanyard_core::Name, if_not_exists: bool) -> Result<Option<EntryView>> {
    let Some(existing) = tx.find_by_name::<VaultEntry>(&[name.as_str()]).await? else {
        crate::refuse_lookalike::<VaultEntry>(tx, ObjectKind::VaultEntry, &[], name, None).await?;
        return Ok(None);
    };
    if if_not_exists && existing.owner_link_id.is_none() {
        return Ok(Some(view(tx, existing).await?));
    }
    Err(ControlError::new(ErrorKind::AlreadyExists, format!("vault entry {:?} already exists", name.as_str())))
}

/// A valid name for a user's entry: the names of the entries links own (`link::…`) are reserved.
fn entry_name(name: &str) -> Result<lanyard_core::Name> {
    let name = valid_name(ObjectKind::VaultEntry, name)?;
    if name.as_str().starts_with(crate::OWNED_ENTRY_PREFIX) {
        return Err(ControlError::invalid(format!(
            "vault entry names starting with {:?} are reserved for the CREDENTIALS of links",
            crate::OWNED_ENTRY_PREFIX
        )));
    }
    Ok(name)
}

fn parse_expiry(text: Option<&str>) -> Result<Option<Timestamp>> {
    text.map(|t| Timestamp::parse(t).map_err(|e| ControlError::invalid(e.to_string()))).transpose()
}

/// CREATE without SECRET, GENERATE or LINKED EXTERNAL SECRET: an entry without material could only fail later, at
/// connect time.
fn no_material(name: &lanyard_core::Name, entry_type: EntryType) -> ControlError {
    let ways = match entry_type {
        EntryType::EncryptionKey => "SECRET '<value>', GENERATE or LINKED EXTERNAL SECRET '<external_name>'",
        EntryType::Credential => "SECRET '<value>' or LINKED EXTERNAL SECRET '<external_name>'",
    };
    ControlError::invalid(format!(
        "vault entry {:?} has no material; give it one of {ways} (an entry without material can never be resolved)",
        name.as_str()
    ))
}

fn check_key_size(size: Option<i64>) -> Result<Option<i64>> {
    match size {
        Some(bits) if !(64..=8192).contains(&bits) || bits % 8 != 0 => {
            Err(ControlError::invalid(format!("KEY_SIZE must be a multiple of 8 between 64 and 8192 bits, not {bits}")))
        }
        other => Ok(other),
    }
}

fn check_secret(secret: &SecretString) -> Result<()> {
    if secret.len() > MAX_SECRET {
        return Err(ControlError::invalid(format!(
            "a secret is at most {MAX_SECRET} bytes, not {} bytes",
            secret.len()
        )));
    }
    Ok(())
}

/// GENERATE / ROTATE: `key_size` bits from the OS CSPRNG plus a 128-bit salt, as `{"key":"<hex>","salt":"<hex>"}`
/// (so `#key` selects the key alone).
fn generate_key(bits: i64) -> SecretValue {
    let mut key = vec![0u8; usize::try_from(bits / 8).unwrap_or(32)];
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.try_fill_bytes(&mut key).expect("the OS random number generator is available");
    rand::rngs::OsRng.try_fill_bytes(&mut salt).expect("the OS random number generator is available");
    let key_hex = zeroize::Zeroizing::new(hex::encode(&key));
    let salt_hex = hex::encode(salt);
    let fields = std::collections::BTreeMap::from([("key", key_hex.as_str()), ("salt", salt_hex.as_str())]);
    let text = SecretString::new(serde_json::to_string(&fields).expect("a map of strings serializes"));
    zeroize::Zeroize::zeroize(&mut key);
    SecretValue::from_text(&text)
}

/// A write of material that can be undone until the catalog commits.
pub(crate) struct Undo {
    backend: Arc<dyn VaultBackend>,
    profile: Profile,
    previous: Option<SecretValue>,
}

impl Undo {
    /// Writes `value` under `profile`, remembering what was there.
    pub(crate) async fn write(
        backend: Arc<dyn VaultBackend>,
        profile: Profile,
        value: &SecretValue,
    ) -> lanyard_vault::Result<Self> {
        let previous = match backend.get(&SecretRef::Profile(profile)).await {
            Ok(previous) => Some(previous),
            Err(error) if error.kind() == lanyard_vault::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        backend.put(&profile, value).await?;
        Ok(Self { backend, profile, previous })
    }

    /// Puts back what was there before (or deletes the new profile). Failures are logged: they orphan material.
    pub(crate) async fn undo(self) {
        let outcome = match &self.previous {
            Some(previous) => self.backend.put(&self.profile, previous).await,
            None => self.backend.delete(&self.profile).await,
        };
        match outcome {
            Ok(()) => {}
            // The entry existed: its row still points at the profile, which now holds the new material although the
            // change failed. gc keeps referenced material, so the way back is the statement itself.
            Err(error) if self.previous.is_some() => tracing::error!(
                profile = %self.profile,
                backend = self.backend.kind(),
                %error,
                "could not undo a material write: the entry now holds the material its failed change wrote; run the \
                 change again (or SET SECRET the material it should hold)"
            ),
            Err(error) => tracing::error!(
                profile = %self.profile,
                backend = self.backend.kind(),
                %error,
                "could not undo a material write: the new material is left behind under this profile in this backend \
                 (`lanyard admin gc` lists it and removes it with --delete)"
            ),
        }
    }
}

/// Deletes material after its row is gone; a failure orphans it (logged).
pub(crate) async fn delete_material(backend: Arc<dyn VaultBackend>, profile: Profile) {
    if let Err(error) = backend.delete(&profile).await {
        tracing::warn!(
            %profile,
            backend = backend.kind(),
            %error,
            "material left behind under this profile in this backend after its catalog row was deleted \
             (`lanyard admin gc` lists it and removes it with --delete)"
        );
    }
}

pub(crate) fn entry_view(row: VaultEntry, backend_name: String) -> Result<EntryView> {
    Ok(EntryView {
        id: row.meta.id,
        entry_type: row.entry_type,
        name: row.name.to_string(),
        algorithm: row.algorithm,
        key_size: row.key_size,
        current_version: row.current_version,
        backend: NamedRef { id: row.storage_backend_id, name: backend_name },
        external_secret_name: row.external_secret_name,
        description: row.description,
        expires_at: row.expires_at,
        rotated_at: row.rotated_at,
        created_at: row.meta.created_at,
        updated_at: row.meta.updated_at,
        version: row.meta.version,
        warnings: Vec::new(),
    })
}

async fn view(tx: &mut Tx, row: VaultEntry) -> Result<EntryView> {
    let backend = tx.find::<Backend>(row.storage_backend_id).await?;
    let name = backend.map_or_else(|| row.storage_backend_id.to_string(), |b| b.name.to_string());
    entry_view(row, name)
}

impl ControlPlane {
    /// The backend instance of a row (built from its options and the secrets kept under `backend::<id>`).
    pub(crate) async fn instance(&self, row: &Backend) -> Result<Arc<dyn VaultBackend>> {
        self.resolver().backend(row).await.map_err(|error| match error.cause() {
            lanyard_resolve::Cause::Vault(vault) | lanyard_resolve::Cause::Config(vault) => {
                ControlError::from_vault(vault.clone(), &storage_subject(row.name.as_str(), &row.backend_type))
            }
            _ => error.into(),
        })
    }

    /// SHOW VAULTS [LIKE]: link-owned entries are hidden.
    pub async fn list_entries(&self, caller: &Caller, like: Option<&str>) -> Result<Vec<EntryView>> {
        Ok(self.list_entries_page(caller, like, &Page::default()).await?.rows)
    }

    /// One page of [`ControlPlane::list_entries`]. The page is cut before the link-owned entries are left out, so
    /// it may hold fewer than `page.limit` entries (even none) and still have a `next`.
    pub async fn list_entries_page(
        &self,
        caller: &Caller,
        like: Option<&str>,
        page: &Page,
    ) -> Result<Listed<EntryView>> {
        self.authorize(caller, Permission::VaultRead, AuditAction::VaultEntryList, None).await?;
        snapshot!(self, |tx| {
            let Listed { rows, next } = tx.list_page::<VaultEntry>(like, None, page).await?;
            // Only the storages this page refers to.
            let backends: Vec<Backend> = tx.find_many(rows.iter().map(|row| row.storage_backend_id)).await?;
            let rows = rows
                .into_iter()
                .filter(|r| r.owner_link_id.is_none())
                .map(|row| {
                    let name = backends
                        .iter()
                        .find(|b| b.meta.id == row.storage_backend_id)
                        .map_or_else(|| row.storage_backend_id.to_string(), |b| b.name.to_string());
                    entry_view(row, name)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Listed { rows, next })
        })
    }

    /// SHOW HISTORY FOR { VAULT | CREDENTIAL }: its versions, newest first (each rotation is one, with its material
    /// version; never the material).
    pub async fn entry_history(
        &self,
        caller: &Caller,
        key: &ObjectKey,
        limit: Option<i64>,
    ) -> Result<Vec<crate::VersionView>> {
        self.authorize(caller, Permission::VaultRead, AuditAction::VaultEntryGet, Some(&key.to_string())).await?;
        let target = Target::Key(key);
        snapshot!(self, |tx| { crate::history::history::<VaultEntry>(tx, target, limit).await })
    }

    /// DESCRIBE { VAULT | CREDENTIAL } … AT: the entry as it was at `point`, its storage by the name it had then.
    pub async fn entry_as_of(&self, caller: &Caller, key: &ObjectKey, point: crate::PointInTime) -> Result<EntryView> {
        self.authorize(caller, Permission::VaultRead, AuditAction::VaultEntryGet, Some(&key.to_string())).await?;
        let target = Target::Key(key);
        let (entry, row) = snapshot!(self, |tx| { crate::history::as_of::<VaultEntry>(tx, target, point).await })?;
        let storage = entry
            .referred_name("storage_backend_name")
            .map_or_else(|| row.storage_backend_id.to_string(), str::to_owned);
        entry_view(row, storage)
    }

    /// DESCRIBE VAULT.
    pub async fn get_entry(&self, caller: &Caller, key: &ObjectKey) -> Result<EntryView> {
        self.authorize(caller, Permission::VaultRead, AuditAction::VaultEntryGet, Some(&key.to_string())).await?;
        snapshot!(self, |tx| {
            let row = find_entry(tx, key).await?;
            view(tx, row).await
        })
    }

    /// CREATE VAULT / CREDENTIAL: material (SECRET or GENERATE) goes to the backend first, then the row.
    pub async fn create_entry(&self, caller: &Caller, request: NewEntry) -> Result<Created<EntryView>> {
        self.authorize(caller, Permission::VaultWrite, AuditAction::VaultEntryCreate, Some(&request.name)).await?;
        let name = entry_name(&request.name)?;
        let key_size = check_key_size(request.key_size)?;
        let expires_at = parse_expiry(request.expires_at.as_deref())?;
        let description = crate::connections::check_description(request.description.clone())?;
        let external = match &request.material {
            Material::Generate if request.entry_type != EntryType::EncryptionKey => {
                return Err(ControlError::invalid("GENERATE is only allowed for TYPE = ENCRYPTION_KEY"));
            }
            Material::Secret(secret) => {
                check_secret(secret)?;
                None
            }
            Material::Linked(external) => {
                ExternalName::parse(external).map_err(|e| ControlError::invalid(e.reason()))?;
                Some(external.clone())
            }
            Material::None => return Err(no_material(&name, request.entry_type)),
            Material::Generate => None,
        };
        // Plan in a snapshot: the name, the backend, its capabilities.
        let planned = snapshot!(self, |tx| {
            if let Some(existing) = existing_entry(tx, &name, request.if_not_exists).await? {
                return Ok(Err(existing));
            }
            let backend = match &request.backend {
                Some(backend) => tx.find_by_name::<Backend>(&[backend]).await?.ok_or_else(|| {
                    ControlError::new(
                        ErrorKind::NotFound,
                        format!("credential storage {:?} does not exist", printable(backend, 128)),
                    )
                })?,
                None => tx.get::<Backend>(LOCAL_BACKEND_ID).await?,
            };
            if !backend.active {
                return Err(ControlError::invalid(format!(
                    "credential storage {:?} is INACTIVE; new entries cannot use it",
                    backend.name.as_str()
                )));
            }
            Ok(Ok(backend))
        })?;
        let backend_row = match planned {
            Ok(row) => row,
            Err(existing) => return Ok(Created { value: existing, created: false }),
        };
        let instance = self.instance(&backend_row).await?;
        let capabilities = instance.capabilities();
        let id = VaultEntryId::new_random();
        let profile = Profile::Entry(id);
        let value = match &request.material {
            Material::Secret(secret) => Some(SecretValue::from_text(secret)),
            Material::Generate => Some(generate_key(key_size.unwrap_or(256))),
            Material::Linked(_) | Material::None => None,
        };
        if external.is_some() && !capabilities.link {
            return Err(ControlError::invalid(format!(
                "credential storage {:?} ({}) cannot link external secrets",
                backend_row.name.as_str(),
                instance.kind()
            )));
        }
        if value.is_some() && !capabilities.store {
            return Err(ControlError::invalid(format!(
                "credential storage {:?} ({}) cannot store material; use LINKED EXTERNAL SECRET",
                backend_row.name.as_str(),
                instance.kind()
            )));
        }
        let undo = match &value {
            Some(value) => Some(Undo::write(Arc::clone(&instance), profile, value).await.map_err(|e| {
                ControlError::from_vault(e, &storage_subject(backend_row.name.as_str(), &backend_row.backend_type))
            })?),
            None => None,
        };
        let generated = matches!(request.material, Material::Generate);
        let outcome = transaction!(self.catalog(), |tx| -> Result<_> {
            if let Some(existing) = existing_entry(tx, &name, request.if_not_exists).await? {
                return Ok(Created { value: existing, created: false });
            }
            let row = VaultEntry {
                meta: Meta { id, ..Meta::new() },
                name: name.clone(),
                entry_type: request.entry_type,
                algorithm: request.algorithm.clone(),
                key_size: key_size.or(generated.then_some(256)),
                current_version: 1,
                storage_backend_id: backend_row.meta.id,
                external_secret_name: external.clone(),
                owner_link_id: None,
                description: description.clone(),
                expires_at,
                rotated_at: None,
            };
            let row = tx.insert(row).await?;
            let record = audit(
                caller,
                AuditAction::VaultEntryCreate,
                ObjectKind::VaultEntry,
                row.meta.id,
                row.name.as_str(),
                detail([
                    ("type", request.entry_type.as_str().into()),
                    ("backend", backend_row.name.as_str().into()),
                    (
                        "material",
                        match &request.material {
                            Material::Secret(_) => "secret",
                            Material::Generate => "generated",
                            Material::Linked(_) => "linked",
                            Material::None => "none",
                        }
                        .into(),
                    ),
                    ("external_secret_name", external.clone().into()),
                ]),
            );
            tx.append_audit(&record).await?;
            Ok(Created { value: entry_view(row, backend_row.name.to_string())?, created: true })
        });
        match outcome {
            Ok(mut created) => {
                if !created.created
                    && let Some(undo) = undo
                {
                    undo.undo().await;
                }
                if created.created {
                    created.value.warnings = crate::warnings::entry(&created.value, Timestamp::now());
                }
                Ok(created)
            }
            Err(error) => {
                if let Some(undo) = undo {
                    undo.undo().await;
                }
                Err(error)
            }
        }
    }

    /// ALTER VAULT / CREDENTIAL: the actions are checked in a snapshot, new material (ROTATE, SET SECRET) is
    /// written, then the row changes in one transaction with the audit record. A concurrent change to the same
    /// entry reruns the whole operation.
    pub async fn alter_entry(
        &self,
        caller: &Caller,
        key: &ObjectKey,
        actions: &[EntryAction],
        if_match: Option<i64>,
    ) -> Result<EntryView> {
        self.authorize(caller, Permission::VaultWrite, AuditAction::VaultEntryAlter, Some(&key.to_string())).await?;
        if actions.is_empty() {
            return Err(ControlError::invalid("ALTER VAULT needs at least one action"));
        }
        for action in actions {
            if let EntryAction::SetSecret(secret) = action {
                check_secret(secret)?;
            }
        }
        // A concurrent change between the plan and the write reruns the whole operation, paced like a retried
        // transaction.
        let labels = audit_form(actions);
        // Every turn writes the material to the vault again (a new secret version in the backend): a few turns
        // only, and the turn's transaction retries within this loop's deadline, so the request has one deadline.
        let mut attempts = lanyard_catalog::Attempts::side_effects();
        loop {
            let (before, planned, backend_row) = snapshot!(self, |tx| {
                let before = find_entry(tx, key).await?;
                crate::connections::check_version(
                    ObjectKind::VaultEntry,
                    before.name.as_str(),
                    before.meta.version,
                    if_match,
                )?;
                let mut row = before.clone();
                let mut material = None;
                let now = Timestamp::now();
                for (index, action) in actions.iter().enumerate() {
                    plan(tx, &mut row, action, &mut material, now)
                        .await
                        .map_err(|e| e.context(format!("action {}", index + 1)))?;
                }
                let backend_row = tx.get::<Backend>(row.storage_backend_id).await?;
                Ok((before, (row, material), backend_row))
            })?;
            let (row, material) = planned;
            let undo = match &material {
                Some(value) => {
                    let instance = self.instance(&backend_row).await?;
                    if !instance.capabilities().store {
                        return Err(ControlError::invalid(format!(
                            "credential storage {:?} ({}) cannot store material",
                            backend_row.name.as_str(),
                            instance.kind()
                        )));
                    }
                    let subject = storage_subject(backend_row.name.as_str(), &backend_row.backend_type);
                    Some(
                        Undo::write(instance, Profile::Entry(row.meta.id), value)
                            .await
                            .map_err(|e| ControlError::from_vault(e, &subject))?,
                    )
                }
                None => None,
            };
            let outcome = transaction!(self.catalog(), within attempts, |tx| -> Result<_> {
                let current =
                    tx.find::<VaultEntry>(row.meta.id).await?.ok_or_else(|| not_found(ObjectKind::VaultEntry, key))?;
                if current.meta.version != before.meta.version {
                    return Ok(None);
                }
                // The plan ran in a read-only snapshot: a look-alike created since then is seen only here, in the
                // transaction that writes the new name (a look-alike of another row is not a version change).
                if row.name != before.name {
                    crate::refuse_lookalike::<VaultEntry>(
                        tx,
                        ObjectKind::VaultEntry,
                        &[],
                        &row.name,
                        Some(row.meta.id),
                    )
                    .await?;
                }
                let (stored, _) = tx
                    .update_audited(row.clone(), |stored| {
                        audit(
                            caller,
                            AuditAction::VaultEntryAlter,
                            ObjectKind::VaultEntry,
                            stored.meta.id,
                            stored.name.as_str(),
                            detail([
                                ("actions", labels.clone()),
                                ("from_version", before.meta.version.into()),
                                ("to_version", stored.meta.version.into()),
                                ("current_version", stored.current_version.into()),
                            ]),
                        )
                    })
                    .await?;
                Ok(Some(entry_view(stored, backend_row.name.to_string())?))
            });
            match outcome {
                Ok(Some(mut view)) => {
                    view.warnings = crate::warnings::entry(&view, Timestamp::now());
                    return Ok(view);
                }
                // Changed between plan and write: our material is the newest write, so keep it and plan again.
                Ok(None) if if_match.is_none() && attempts.retry(true).await => {}
                Ok(None) => {
                    if let Some(undo) = undo {
                        undo.undo().await;
                    }
                    return Err(ControlError::new(
                        if if_match.is_some() { ErrorKind::PreconditionFailed } else { ErrorKind::Conflict },
                        format!("vault entry {:?} was changed concurrently; try again", before.name.as_str()),
                    ));
                }
                Err(error) => {
                    if let Some(undo) = undo {
                        undo.undo().await;
                    }
                    return Err(error);
                }
            }
        }
    }

    /// DROP VAULT / CREDENTIAL: refused while connections or links refer to it; the row goes first, then its
    /// material (a linked external secret is left alone).
    pub async fn drop_entry(&self, caller: &Caller, key: &ObjectKey, if_match: Option<i64>) -> Result<()> {
        self.authorize(caller, Permission::VaultWrite, AuditAction::VaultEntryDrop, Some(&key.to_string())).await?;
        let (row, backend_row) = transaction!(self.catalog(), |tx| -> Result<_> {
            let row = find_entry(tx, key).await?;
            crate::connections::check_version(ObjectKind::VaultEntry, row.name.as_str(), row.meta.version, if_match)?;
            let backend_row = tx.get::<Backend>(row.storage_backend_id).await?;
            tx.delete::<VaultEntry>(row.meta.id, Some(row.meta.version)).await?;
            let record = audit(
                caller,
                AuditAction::VaultEntryDrop,
                ObjectKind::VaultEntry,
                row.meta.id,
                row.name.as_str(),
                detail([("backend", backend_row.name.as_str().into())]),
            );
            tx.append_audit(&record).await?;
            Ok((row, backend_row))
        })?;
        if row.external_secret_name.is_none() {
            match self.instance(&backend_row).await {
                Ok(instance) => delete_material(instance, Profile::Entry(row.meta.id)).await,
                Err(error) => {
                    tracing::warn!(
                        profile = %Profile::Entry(row.meta.id),
                        backend = backend_row.name.as_str(),
                        %error,
                        "material left behind under this profile in this credential storage: the storage could not \
                         be opened after the entry's catalog row was deleted (`lanyard admin gc` lists it)"
                    )
                }
            }
        }
        Ok(())
    }
}

/// Applies one action to `row` in memory; new material goes to `material`.
async fn plan(
    tx: &mut Tx,
    row: &mut VaultEntry,
    action: &EntryAction,
    material: &mut Option<SecretValue>,
    now: Timestamp,
) -> Result<()> {
    let entry_type = row.entry_type;
    let linked = row.external_secret_name.is_some();
    match action {
        EntryAction::Rotate | EntryAction::SetSecret(_) if linked => {
            return Err(ControlError::invalid(format!(
                "vault entry {:?} links an external secret; change it in its backend",
                row.name.as_str()
            )));
        }
        EntryAction::Rotate => {
            if entry_type != EntryType::EncryptionKey {
                return Err(ControlError::invalid(format!(
                    "ROTATE applies to ENCRYPTION_KEY entries; {:?} is a CREDENTIAL entry: use SET SECRET",
                    row.name.as_str()
                )));
            }
            *material = Some(generate_key(row.key_size.unwrap_or(256)));
            row.current_version += 1;
            row.rotated_at = Some(now);
        }
        EntryAction::SetSecret(secret) => {
            if entry_type != EntryType::Credential {
                return Err(ControlError::invalid(format!(
                    "SET SECRET applies to CREDENTIAL entries; {:?} is an ENCRYPTION_KEY entry: use ROTATE",
                    row.name.as_str()
                )));
            }
            *material = Some(SecretValue::from_text(secret));
            row.current_version += 1;
            row.rotated_at = Some(now);
        }
        EntryAction::SetDescription(text) => {
            row.description = crate::connections::check_description(text.clone())?;
        }
        EntryAction::SetExpires(text) => row.expires_at = parse_expiry(text.as_deref())?,
        EntryAction::RenameTo(new_name) => {
            let new_name = entry_name(new_name)?;
            // The stored row still has its old name: renaming back to it (RENAME TO x RENAME TO <old>) is no clash.
            let holder = tx.find_by_name::<VaultEntry>(&[new_name.as_str()]).await?;
            if holder.is_some_and(|other| other.meta.id != row.meta.id) {
                return Err(ControlError::new(
                    ErrorKind::AlreadyExists,
                    format!("vault entry {:?} already exists", new_name.as_str()),
                ));
            }
            crate::refuse_lookalike::<VaultEntry>(tx, ObjectKind::VaultEntry, &[], &new_name, Some(row.meta.id))
                .await?;
            row.name = new_name;
        }
    }
    Ok(())
}
