//! Material no catalog row points at (`lanyard admin gc`): what a failed undo or a failed delete after a commit
//! left behind in a credential storage (the "material first, deletes the other way" rule may orphan material, never
//! leave a row without it).
//!
//! A profile is referenced when a catalog row has its id: `vault::<id>` by a vault entry (link-owned entries, named
//! `link::<link id>`, included), `backend::<id>` by a credential storage. The ids are UUIDs, so a profile is matched
//! against every row whatever storage it was found in: two storages sharing one store (the same account and prefix)
//! never take each other's material for an orphan. The storages are listed before the catalog is read, so a row
//! committed before the scan's read is seen; material written for a change that has not committed yet looks
//! orphaned, which is why the caller deletes only material older than a grace period and why
//! [`ControlPlane::delete_orphan`] reads the catalog again first.

use std::collections::HashSet;

use lanyard_catalog::{Backend, NewAuditRecord, Timestamp, VaultEntry, transaction};
use lanyard_core::{AuditAction, AuditOutcome, BackendId, ObjectKind};
use lanyard_vault::{ErrorKind as VaultErrorKind, Profile};
use uuid::Uuid;

use crate::error::Result;
use crate::{Caller, ControlPlane, Permission, detail, snapshot};

/// Material found in a credential storage that no catalog row points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The storage that holds it.
    pub storage_id: BackendId,
    /// The storage's name.
    pub storage: String,
    /// The storage's backend kind.
    pub kind: String,
    /// The logical profile (`vault::<id>`, `backend::<id>`).
    pub profile: Profile,
    /// The backend's own name for it (prefix applied).
    pub key: String,
    /// When it was last written, if the backend records it.
    pub updated_at: Option<Timestamp>,
    /// Its size in bytes, if the backend knows it.
    pub size: Option<u64>,
}

/// What a scan of one credential storage found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageScan {
    /// The storage was listed: how many profiles it holds that the catalog points at, and the orphans.
    Listed {
        /// Profiles a catalog row points at.
        referenced: usize,
        /// Profiles none does.
        orphans: Vec<Orphan>,
    },
    /// The storage could not be listed, and why (its backend cannot list, or the listing failed).
    NotInspected(String),
}

/// One credential storage and what its scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedStorage {
    /// The storage's name.
    pub name: String,
    /// Its backend kind.
    pub kind: String,
    /// What was found.
    pub scan: StorageScan,
}

/// What [`ControlPlane::delete_orphan`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcOutcome {
    /// The material was deleted (and the deletion audited).
    Deleted,
    /// A catalog row points at it now (a change committed after the scan): left alone.
    NowReferenced,
}

/// What the catalog points at: the ids every row of the kinds that point at material has, and the backend names
/// that linked entries read (a linked entry may name a secret that lies in Lanyard's own namespace).
struct Referenced {
    ids: HashSet<Uuid>,
    external_names: HashSet<String>,
}

impl Referenced {
    fn keeps(&self, profile: &Profile, key: &str) -> bool {
        self.ids.contains(&profile_id(profile))
            || self.external_names.iter().any(|name| name == key || name.split(['#', '?']).next() == Some(key))
    }
}

async fn referenced(plane: &ControlPlane) -> Result<Referenced> {
    snapshot!(plane, |tx| {
        let entries: Vec<VaultEntry> = tx.list(None, None).await?;
        let backends: Vec<Backend> = tx.list(None, None).await?;
        Ok(Referenced {
            ids: entries
                .iter()
                .map(|e| *e.meta.id.as_uuid())
                .chain(backends.iter().map(|b| *b.meta.id.as_uuid()))
                .collect(),
            external_names: entries.iter().filter_map(|e| e.external_secret_name.clone()).collect(),
        })
    })
}

fn profile_id(profile: &Profile) -> Uuid {
    match profile {
        Profile::Entry(id) => *id.as_uuid(),
        Profile::Backend(id) => *id.as_uuid(),
    }
}

impl ControlPlane {
    /// Lists every credential storage whose backend can list and reports the material no catalog row points at
    /// (never the material itself). Needs `vault:write`; reads only.
    pub async fn find_orphans(&self, caller: &Caller) -> Result<Vec<ScannedStorage>> {
        self.authorize(caller, Permission::VaultWrite, AuditAction::CredentialStorageGc, None).await?;
        let storages: Vec<Backend> = snapshot!(self, |tx| { Ok(tx.list(None, None).await?) })?;
        let mut listed = Vec::with_capacity(storages.len());
        for row in &storages {
            let outcome = match self.instance(row).await {
                Err(error) => Err(format!("cannot open it: {}", error.message())),
                Ok(instance) if !instance.capabilities().store => Err("its backend stores no material".to_owned()),
                Ok(instance) => match instance.list_stored().await {
                    Ok(stored) => Ok((instance, stored)),
                    Err(error) if error.kind() == VaultErrorKind::Unsupported => {
                        Err(format!("its backend ({}) cannot list what it holds", instance.kind()))
                    }
                    Err(error) => Err(format!("listing failed: {error}")),
                },
            };
            listed.push((row, outcome));
        }
        // The catalog is read after the listings: a row that committed before this read is seen.
        let referenced = referenced(self).await?;
        Ok(listed
            .into_iter()
            .map(|(row, outcome)| {
                let scan = match outcome {
                    Err(reason) => StorageScan::NotInspected(reason),
                    Ok((instance, stored)) => {
                        let (kept, orphans): (Vec<_>, Vec<_>) = stored
                            .into_iter()
                            .partition(|s| referenced.keeps(&s.profile, &instance.physical_name(&s.profile)));
                        let orphans = orphans
                            .into_iter()
                            .map(|s| Orphan {
                                storage_id: row.meta.id,
                                storage: row.name.to_string(),
                                kind: row.backend_type.clone(),
                                profile: s.profile,
                                key: instance.physical_name(&s.profile),
                                updated_at: s.updated_at_micros.map(Timestamp::from_micros),
                                size: s.size,
                            })
                            .collect();
                        StorageScan::Listed { referenced: kept.len(), orphans }
                    }
                };
                ScannedStorage { name: row.name.to_string(), kind: row.backend_type.clone(), scan }
            })
            .collect())
    }

    /// Deletes one orphan found by [`ControlPlane::find_orphans`], after reading the catalog again (a row that
    /// points at it now keeps it), and appends a `credential_storage.gc` audit record about the storage: `allowed`
    /// with the profile and key, or `failed` with the reason when the backend refused the delete. Needs
    /// `vault:write`.
    pub async fn delete_orphan(&self, caller: &Caller, orphan: &Orphan) -> Result<GcOutcome> {
        self.authorize(caller, Permission::VaultWrite, AuditAction::CredentialStorageGc, Some(&orphan.storage)).await?;
        if referenced(self).await?.keeps(&orphan.profile, &orphan.key) {
            return Ok(GcOutcome::NowReferenced);
        }
        let row = self.catalog().get::<Backend>(orphan.storage_id).await?;
        let instance = self.instance(&row).await?;
        let deleted = instance.delete(&orphan.profile).await;
        let mut fields = detail([
            ("profile", orphan.profile.to_string().into()),
            ("key", orphan.key.clone().into()),
            ("backend", row.backend_type.clone().into()),
        ]);
        if let Some(at) = orphan.updated_at {
            fields.insert("updated_at".to_owned(), at.to_string().into());
        }
        if let Some(size) = orphan.size {
            fields.insert("size".to_owned(), size.into());
        }
        if let Err(error) = &deleted {
            fields.insert("error".to_owned(), error.to_string().into());
        }
        let record = NewAuditRecord {
            principal: caller.principal.clone(),
            action: AuditAction::CredentialStorageGc,
            object_kind: ObjectKind::CredentialStorage,
            object_id: Some(row.meta.id.to_string()),
            object_name: Some(row.name.to_string()),
            outcome: if deleted.is_ok() { AuditOutcome::Allowed } else { AuditOutcome::Failed },
            detail: fields,
        };
        transaction!(self.catalog(), |tx| {
            tx.append_audit(&record).await?;
            Ok(())
        })?;
        deleted?;
        tracing::info!(profile = %orphan.profile, storage = %row.name, "deleted orphaned material");
        Ok(GcOutcome::Deleted)
    }
}

#[cfg(test)]
mod tests {
    use lanyard_core::{BackendId, VaultEntryId};

    use super::*;

    /// Material is kept when a row has its id, or when a linked entry names it (whole, or before `#field` or
    /// `?version`), so that an entry linked to a name in Lanyard's own namespace never loses its secret to gc.
    #[test]
    fn referenced_material_is_kept_by_id_or_by_a_linked_entrys_name() {
        let (entry, backend, linked_away) =
            (VaultEntryId::new_random(), BackendId::new_random(), VaultEntryId::new_random());
        let referenced = Referenced {
            ids: [*entry.as_uuid(), *backend.as_uuid()].into_iter().collect(),
            external_names: [format!("lanyard/vault/{linked_away}#password")].into_iter().collect(),
        };
        assert!(referenced.keeps(&Profile::Entry(entry), "lanyard/vault/x"));
        assert!(referenced.keeps(&Profile::Backend(backend), "lanyard/backend/x"));
        assert!(referenced.keeps(&Profile::Entry(linked_away), &format!("lanyard/vault/{linked_away}")));
        let orphan = VaultEntryId::new_random();
        assert!(!referenced.keeps(&Profile::Entry(orphan), &format!("lanyard/vault/{orphan}")));
    }
}
