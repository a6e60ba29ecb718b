//! CREATE / ALTER / DROP / SHOW / DESCRIBE / TEST CREDENTIAL STORAGE.
//!
//! A backend's secret options (as its plugin's option table marks them) never reach the catalog: they are kept as
//! one JSON object in the local backend under `backend::<id>`, written before the row and deleted after it.

use std::sync::Arc;

use lanyard_catalog::{Backend, JsonObject, Listed, Meta, Page, Tx, transaction};
use lanyard_core::{
    AuditAction, BackendId, ErrorKind, LOCAL_BACKEND_ID, MAX_OPTION_VALUE_BYTES, MAX_OPTIONS, ObjectKind, SecretString,
    printable,
};
use lanyard_vault::{BackendFactory, Profile, Registry, SecretValue};
use serde_json::Value;

use crate::entries::{Undo, delete_material, not_found};
use crate::error::{ControlError, Result, storage_subject};
use crate::history::Target;
use crate::model::{BackendAction, BackendView, Created, NewBackend, ObjectKey, StorageTestOutcome};
use crate::{Caller, ControlPlane, Permission, audit, audit_form, detail, snapshot, valid_name};

async fn find_backend(tx: &mut Tx, key: &ObjectKey) -> Result<Backend> {
    let row = match key {
        ObjectKey::Id(id) => tx.find::<Backend>(BackendId::from_uuid(*id)).await?,
        ObjectKey::Name(name) => tx.find_by_name::<Backend>(&[name]).await?,
    };
    row.ok_or_else(|| not_found(ObjectKind::CredentialStorage, key))
}

/// The options split by the plugin's table: plain ones for the row, secret ones for `backend::<id>`.
struct Split {
    config: JsonObject,
    secrets: Vec<(String, SecretString)>,
}

impl Split {
    /// The secret options as the JSON object stored under `backend::<id>`.
    fn secret_value(&self) -> Option<SecretValue> {
        if self.secrets.is_empty() {
            return None;
        }
        let object: JsonObject =
            self.secrets.iter().map(|(k, v)| (k.clone(), Value::String(v.expose_secret().to_owned()))).collect();
        let text = SecretString::new(Value::Object(object).to_string());
        Some(SecretValue::from_text(&text))
    }

    fn secret_names(&self) -> Vec<String> {
        self.secrets.iter().map(|(k, _)| k.clone()).collect()
    }
}

/// Validates `options` against the plugin's table and splits them. Builds an instance too (with a throwaway id),
/// so options the plugin rejects at build time are refused before anything is written.
fn split_options(
    factory: &'static BackendFactory,
    name: &str,
    options: &[(String, SecretString)],
    plane: &ControlPlane,
) -> Result<Split> {
    check_limits_and_values(name, options)?;
    let validated =
        factory.validate(options.iter().map(|(k, v)| (k.as_str(), v.expose_secret().to_owned()))).map_err(|e| {
            // The options as written are the problem: no advice about DESCRIBE or ALTER, which concern a stored row.
            let subject = crate::error::storage_subject(name, factory.kind);
            ControlError::invalid(format!("{subject} has invalid options: {}", e.detail().unwrap_or(&e.reason())))
        })?;
    let mut config = JsonObject::new();
    let mut secrets = Vec::new();
    for (key, value) in validated.iter() {
        match value {
            lanyard_core::OptionValue::Secret(secret) => secrets.push((key.to_owned(), secret.clone())),
            lanyard_core::OptionValue::Plain(text) => {
                // A plain option is stored and shown as it is: no secret may hide in it. The AWS access key id is
                // the one plain option that is an access key id by definition (an identifier, not the secret).
                if let Some(found) = lanyard_core::secret_in_value(text)
                    .filter(|f| !(key == "access_key_id" && *f == lanyard_core::SecretPattern::AwsAccessKeyId))
                {
                    return Err(ControlError::invalid(format!(
                        "the value of option {key:?} of credential storage {:?} holds what looks like a secret \
                         ({found}); it would be stored and shown in plain text: give the secret in the option the \
                         backend keeps secret (`lanyard backends` lists them)",
                        printable(name, 128)
                    )));
                }
                config.insert(key.to_owned(), Value::String(text.clone()));
            }
        }
    }
    if factory.kind == "local" {
        // The built-in backend is already running; building a second one would open another pool.
        return Ok(Split { config, secrets });
    }
    let probe = lanyard_vault::BackendConfig {
        backend_id: BackendId::new_random(),
        name: "validation".to_owned(),
        options: validated,
        env: plane.inner.env.clone(),
    };
    (factory.build)(probe).map_err(|e| ControlError::invalid(e.reason()))?;
    Ok(Split { config, secrets })
}

/// At most [`MAX_OPTIONS`] options of at most [`MAX_OPTION_VALUE_BYTES`] bytes each, secret ones included.
fn check_limits_and_values(name: &str, options: &[(String, SecretString)]) -> Result<()> {
    if options.len() > MAX_OPTIONS {
        return Err(ControlError::invalid(format!(
            "credential storage {:?} would have {} options; the limit is {MAX_OPTIONS} options per object",
            printable(name, 128),
            options.len()
        )));
    }
    for (key, value) in options {
        if value.expose_secret().len() > MAX_OPTION_VALUE_BYTES {
            return Err(ControlError::invalid(format!(
                "option {:?} of credential storage {:?} is {} bytes long; the limit is {MAX_OPTION_VALUE_BYTES} bytes \
                 per value",
                printable(key, 64),
                printable(name, 128),
                value.expose_secret().len()
            )));
        }
    }
    Ok(())
}

/// The plugin of `backend_type` for the storage `name`; a kind that is unknown or not compiled in is explained.
fn factory_for(registry: &'static Registry, name: &str, backend_type: &str) -> Result<&'static BackendFactory> {
    registry.factory(backend_type).map_err(|e| ControlError::from_vault(e, &storage_subject(name, backend_type)))
}

/// The names of the secret options a row has (read from the plugin table: the secrets themselves are elsewhere).
fn backend_view(row: Backend, secret_options: Vec<String>) -> BackendView {
    BackendView {
        id: row.meta.id,
        builtin: row.meta.id == LOCAL_BACKEND_ID,
        name: row.name.to_string(),
        backend_type: row.backend_type,
        description: row.description,
        options: row
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect(),
        secret_options,
        active: row.active,
        created_at: row.meta.created_at,
        updated_at: row.meta.updated_at,
        version: row.meta.version,
    }
}

impl ControlPlane {
    /// The names of the secret options kept for `row` (an empty list when none are, or when they cannot be read).
    async fn secret_option_names(&self, row: &Backend) -> Vec<String> {
        let Ok(factory) = self.registry().factory(&row.backend_type) else { return Vec::new() };
        if row.meta.id == LOCAL_BACKEND_ID || !factory.options.iter().any(|o| o.secret) {
            return Vec::new();
        }
        let Ok(instance) = self.local_instance().await else { return Vec::new() };
        match instance.get(&lanyard_vault::SecretRef::Profile(Profile::Backend(row.meta.id))).await {
            Ok(value) => serde_json::from_slice::<JsonObject>(value.expose_bytes())
                .map(|object| object.keys().cloned().collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    async fn local_instance(&self) -> Result<Arc<dyn lanyard_vault::VaultBackend>> {
        let local = self.catalog().get::<Backend>(LOCAL_BACKEND_ID).await?;
        self.instance(&local).await
    }

    /// SHOW CREDENTIAL STORAGES [LIKE].
    pub async fn list_backends(&self, caller: &Caller, like: Option<&str>) -> Result<Vec<BackendView>> {
        Ok(self.list_backends_page(caller, like, &Page::default()).await?.rows)
    }

    /// One page of [`ControlPlane::list_backends`].
    pub async fn list_backends_page(
        &self,
        caller: &Caller,
        like: Option<&str>,
        page: &Page,
    ) -> Result<Listed<BackendView>> {
        self.authorize(caller, Permission::VaultRead, AuditAction::CredentialStorageList, None).await?;
        let Listed { rows, next } = snapshot!(self, |tx| { Ok(tx.list_page::<Backend>(like, None, page).await?) })?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let secrets = self.secret_option_names(&row).await;
            out.push(backend_view(row, secrets));
        }
        Ok(Listed { rows: out, next })
    }

    /// SHOW HISTORY FOR CREDENTIAL STORAGE: its versions, newest first (its plain options; the secret ones are kept
    /// in the local vault, not in history).
    pub async fn backend_history(
        &self,
        caller: &Caller,
        key: &ObjectKey,
        limit: Option<i64>,
    ) -> Result<Vec<crate::VersionView>> {
        self.authorize(caller, Permission::VaultRead, AuditAction::CredentialStorageGet, Some(&key.to_string()))
            .await?;
        let target = Target::Key(key);
        snapshot!(self, |tx| { crate::history::history::<Backend>(tx, target, limit).await })
    }

    /// DESCRIBE CREDENTIAL STORAGE … AT: the storage as it was at `point`. Its secret options are not versioned, so
    /// the view lists none.
    pub async fn backend_as_of(
        &self,
        caller: &Caller,
        key: &ObjectKey,
        point: crate::PointInTime,
    ) -> Result<BackendView> {
        self.authorize(caller, Permission::VaultRead, AuditAction::CredentialStorageGet, Some(&key.to_string()))
            .await?;
        let target = Target::Key(key);
        let (_, row) = snapshot!(self, |tx| { crate::history::as_of::<Backend>(tx, target, point).await })?;
        Ok(backend_view(row, Vec::new()))
    }

    /// DESCRIBE CREDENTIAL STORAGE.
    pub async fn get_backend(&self, caller: &Caller, key: &ObjectKey) -> Result<BackendView> {
        self.authorize(caller, Permission::VaultRead, AuditAction::CredentialStorageGet, Some(&key.to_string()))
            .await?;
        let row = snapshot!(self, |tx| { find_backend(tx, key).await })?;
        let secrets = self.secret_option_names(&row).await;
        Ok(backend_view(row, secrets))
    }

    /// CREATE CREDENTIAL STORAGE.
    pub async fn create_backend(&self, caller: &Caller, request: NewBackend) -> Result<Created<BackendView>> {
        self.authorize(caller, Permission::VaultWrite, AuditAction::CredentialStorageCreate, Some(&request.name))
            .await?;
        let name = valid_name(ObjectKind::CredentialStorage, &request.name)?;
        let kind = Registry::canonical_kind(&request.backend_type);
        if kind == "local" {
            return Err(ControlError::invalid(
                "the local backend is built in (credential storage \"local\"); another LOCAL storage cannot be created",
            ));
        }
        let factory = factory_for(self.registry(), name.as_str(), &kind)?;
        let split = split_options(factory, name.as_str(), &request.options, self)?;
        let description = crate::connections::check_description(request.description.clone())?;
        let existing = snapshot!(self, |tx| { Ok(tx.find_by_name::<Backend>(&[name.as_str()]).await?) })?;
        if let Some(existing) = existing {
            if request.if_not_exists {
                let secrets = self.secret_option_names(&existing).await;
                return Ok(Created { value: backend_view(existing, secrets), created: false });
            }
            return Err(ControlError::new(
                ErrorKind::AlreadyExists,
                format!("credential storage {:?} already exists", name.as_str()),
            ));
        }
        let id = BackendId::new_random();
        let undo = match split.secret_value() {
            Some(value) => Some(Undo::write(self.local_instance().await?, Profile::Backend(id), &value).await?),
            None => None,
        };
        let outcome = transaction!(self.catalog(), |tx| -> Result<_> {
            let row = Backend {
                meta: Meta { id, ..Meta::new() },
                name: name.clone(),
                backend_type: factory.kind.to_owned(),
                description: description.clone(),
                config: split.config.clone(),
                active: request.active,
            };
            crate::refuse_lookalike::<Backend>(tx, ObjectKind::CredentialStorage, &[], &row.name, None).await?;
            let row = tx.insert(row).await?;
            let record = audit(
                caller,
                AuditAction::CredentialStorageCreate,
                ObjectKind::CredentialStorage,
                row.meta.id,
                row.name.as_str(),
                detail([
                    ("type", factory.kind.into()),
                    ("options", Value::Object(split.config.clone())),
                    ("secret_options", split.secret_names().into()),
                    ("active", request.active.into()),
                ]),
            );
            tx.append_audit(&record).await?;
            Ok(row)
        });
        match outcome {
            Ok(row) => Ok(Created { value: backend_view(row, split.secret_names()), created: true }),
            Err(error) => {
                if let Some(undo) = undo {
                    undo.undo().await;
                }
                if error.kind() == ErrorKind::AlreadyExists && request.if_not_exists {
                    let existing =
                        snapshot!(self, |tx| { find_backend(tx, &ObjectKey::Name(name.to_string())).await })?;
                    let secrets = self.secret_option_names(&existing).await;
                    return Ok(Created { value: backend_view(existing, secrets), created: false });
                }
                Err(error)
            }
        }
    }

    /// ALTER CREDENTIAL STORAGE. SET OPTIONS replaces the whole map, secret options included (the kept secrets
    /// are replaced, or deleted when none remain). The seeded local backend cannot be renamed or deactivated.
    pub async fn alter_backend(
        &self,
        caller: &Caller,
        key: &ObjectKey,
        actions: &[BackendAction],
        if_match: Option<i64>,
    ) -> Result<BackendView> {
        self.authorize(caller, Permission::VaultWrite, AuditAction::CredentialStorageAlter, Some(&key.to_string()))
            .await?;
        if actions.is_empty() {
            return Err(ControlError::invalid("ALTER CREDENTIAL STORAGE needs at least one action"));
        }
        let before = snapshot!(self, |tx| { find_backend(tx, key).await })?;
        crate::connections::check_version(
            ObjectKind::CredentialStorage,
            before.name.as_str(),
            before.meta.version,
            if_match,
        )?;
        let builtin = before.meta.id == LOCAL_BACKEND_ID;
        let factory = factory_for(self.registry(), before.name.as_str(), &before.backend_type)?;
        let mut row = before.clone();
        let mut new_secrets: Option<Split> = None;
        for (index, action) in actions.iter().enumerate() {
            let context = format!("action {}", index + 1);
            match action {
                BackendAction::SetOptions(options) => {
                    let split =
                        split_options(factory, before.name.as_str(), options, self).map_err(|e| e.context(&context))?;
                    if builtin && !split.secrets.is_empty() {
                        return Err(ControlError::invalid("the local backend has no secret options").context(&context));
                    }
                    row.config = split.config.clone();
                    new_secrets = Some(split);
                }
                BackendAction::SetDescription(text) => {
                    row.description =
                        crate::connections::check_description(text.clone()).map_err(|e| e.context(&context))?;
                }
                BackendAction::SetActive(active) => {
                    if builtin && !active {
                        return Err(ControlError::conflict("the built-in local backend cannot be made INACTIVE")
                            .context(&context));
                    }
                    row.active = *active;
                }
                BackendAction::RenameTo(new_name) => {
                    let new_name =
                        valid_name(ObjectKind::CredentialStorage, new_name).map_err(|e| e.context(&context))?;
                    if builtin && new_name != row.name {
                        return Err(
                            ControlError::conflict("the built-in local backend cannot be renamed").context(&context)
                        );
                    }
                    row.name = new_name;
                }
            }
        }
        // New secrets go in first; with none left, the kept ones are deleted after the commit.
        let undo = match new_secrets.as_ref().and_then(Split::secret_value) {
            Some(value) => {
                Some(Undo::write(self.local_instance().await?, Profile::Backend(row.meta.id), &value).await?)
            }
            None => None,
        };
        let labels = audit_form(actions);
        let outcome = transaction!(self.catalog(), |tx| -> Result<_> {
            if row.name != before.name {
                crate::refuse_lookalike::<Backend>(
                    tx,
                    ObjectKind::CredentialStorage,
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
                        AuditAction::CredentialStorageAlter,
                        ObjectKind::CredentialStorage,
                        stored.meta.id,
                        stored.name.as_str(),
                        detail([
                            ("actions", labels.clone()),
                            ("options", Value::Object(stored.config.clone())),
                            ("secret_options", new_secrets.as_ref().map(Split::secret_names).into()),
                            ("from_version", before.meta.version.into()),
                            ("to_version", stored.meta.version.into()),
                        ]),
                    )
                })
                .await?;
            Ok(stored)
        });
        match outcome {
            Ok(stored) => {
                let secrets = match &new_secrets {
                    Some(split) if split.secrets.is_empty() && !builtin => {
                        // The change is committed: a failure here orphans the old secrets, it does not fail the call.
                        match self.local_instance().await {
                            Ok(local) => delete_material(local, Profile::Backend(stored.meta.id)).await,
                            Err(error) => {
                                tracing::warn!(
                                    backend = %stored.meta.id,
                                    %error,
                                    "secret options left behind (the storage still exists, so `lanyard admin gc` keeps \
                                     them): run the same ALTER CREDENTIAL STORAGE … SET OPTIONS again to remove them"
                                )
                            }
                        }
                        Vec::new()
                    }
                    Some(split) => split.secret_names(),
                    None => self.secret_option_names(&stored).await,
                };
                Ok(backend_view(stored, secrets))
            }
            Err(error) => {
                if let Some(undo) = undo {
                    undo.undo().await;
                }
                let error = if error.kind() == ErrorKind::Conflict && if_match.is_some() {
                    ControlError::new(ErrorKind::PreconditionFailed, error.message().to_owned())
                } else {
                    error
                };
                Err(error)
            }
        }
    }

    /// DROP CREDENTIAL STORAGE: refused for the built-in local backend and while entries or connections refer
    /// to it; the kept secret options are deleted after the row.
    pub async fn drop_backend(&self, caller: &Caller, key: &ObjectKey, if_match: Option<i64>) -> Result<()> {
        self.authorize(caller, Permission::VaultWrite, AuditAction::CredentialStorageDrop, Some(&key.to_string()))
            .await?;
        let row = transaction!(self.catalog(), |tx| -> Result<_> {
            let row = find_backend(tx, key).await?;
            if row.meta.id == LOCAL_BACKEND_ID {
                return Err(ControlError::conflict("the built-in local backend cannot be dropped"));
            }
            crate::connections::check_version(
                ObjectKind::CredentialStorage,
                row.name.as_str(),
                row.meta.version,
                if_match,
            )?;
            tx.delete::<Backend>(row.meta.id, Some(row.meta.version)).await?;
            let record = audit(
                caller,
                AuditAction::CredentialStorageDrop,
                ObjectKind::CredentialStorage,
                row.meta.id,
                row.name.as_str(),
                detail([("type", row.backend_type.clone().into())]),
            );
            tx.append_audit(&record).await?;
            Ok(row)
        })?;
        match self.local_instance().await {
            Ok(local) => delete_material(local, Profile::Backend(row.meta.id)).await,
            Err(error) => {
                tracing::warn!(backend = %row.meta.id, %error, "secret options left behind (`lanyard admin gc` lists them)")
            }
        }
        Ok(())
    }

    /// TEST CREDENTIAL STORAGE: the plugin's non-destructive probe, step by step.
    pub async fn test_backend(&self, caller: &Caller, key: &ObjectKey) -> Result<StorageTestOutcome> {
        self.authorize(caller, Permission::VaultRead, AuditAction::CredentialStorageTest, Some(&key.to_string()))
            .await?;
        let row = snapshot!(self, |tx| { find_backend(tx, key).await })?;
        let report = match self.instance(&row).await {
            Ok(instance) => instance.probe().await.unwrap_or_else(|error| lanyard_vault::ProbeReport {
                steps: vec![lanyard_vault::ProbeStep {
                    step: "probe".to_owned(),
                    outcome: Err(error.reason()),
                    micros: 0,
                }],
            }),
            Err(error) => lanyard_vault::ProbeReport {
                steps: vec![lanyard_vault::ProbeStep {
                    step: "build the backend from its options".to_owned(),
                    outcome: Err(error.message().to_owned()),
                    micros: 0,
                }],
            },
        };
        Ok(StorageTestOutcome { passed: report.passed(), steps: report.steps })
    }
}
