//! CREATE / ALTER / DROP / SHOW / DESCRIBE / TEST CONNECTION.

use std::collections::HashMap;
use std::sync::Arc;

use lanyard_catalog::{
    Backend, Connection, JsonObject, LastTest, Listed, Meta, Page, Timestamp, Tx, VaultEntry, transaction,
};
use lanyard_core::{
    AuditAction, AuditOutcome, BackendId, ConnectionType, ErrorKind, MAX_OPTION_VALUE_BYTES, MAX_OPTIONS, ObjectKind,
    OptionKey, OptionMap, TestStatus, VaultEntryId, is_secret_key, printable, secret_in_value, url_has_password,
};
use serde_json::Value;

use crate::error::{ControlError, Result};
use crate::history::Target;
use crate::model::{ConnectionAction, ConnectionView, Created, NamedRef, NewConnection, TestOutcome};
use crate::{Caller, ControlPlane, Permission, audit, audit_form, detail, refuse_lookalike, snapshot, valid_name};

fn not_found(name: &str) -> ControlError {
    ControlError::new(ErrorKind::NotFound, format!("connection {:?} does not exist", printable(name, 128)))
}

/// Validates one option of connection `connection`: a valid key, a value within [`MAX_OPTION_VALUE_BYTES`], and
/// nothing that looks like a secret, in the key or in the value. Errors never quote the value.
fn check_option(connection: &str, key: &str, value: &str) -> Result<OptionKey> {
    let key = OptionKey::new(key)
        .map_err(|e| ControlError::invalid(format!("invalid option key {:?}: {e}", printable(key, 64))))?;
    if is_secret_key(key.as_str()) {
        return Err(ControlError::invalid(format!(
            "option {:?} looks like a secret; a connection never holds its secret: store it in a vault entry \
             (CREATE CREDENTIAL … SECRET '…') and refer to it with CREDENTIAL = <entry>",
            key.as_str()
        )));
    }
    if value.len() > MAX_OPTION_VALUE_BYTES {
        return Err(ControlError::invalid(format!(
            "option {:?} of connection {:?} is {} bytes long; the limit is {MAX_OPTION_VALUE_BYTES} bytes per value",
            key.as_str(),
            printable(connection, 128),
            value.len()
        )));
    }
    if url_has_password(value) {
        return Err(ControlError::invalid(format!(
            "option {:?} holds a URL with a password; keep the password in a vault entry and use CREDENTIAL = <entry>",
            key.as_str()
        )));
    }
    if let Some(what) = secret_in_value(value) {
        return Err(ControlError::invalid(format!(
            "the value of option {:?} holds what looks like a secret ({what}); option values are shown and stored in \
             plain text: keep the secret in a vault entry (CREATE CREDENTIAL … SECRET '…') and refer to it with \
             CREDENTIAL = <entry>",
            key.as_str()
        )));
    }
    Ok(key)
}

/// Refuses a connection with more than [`MAX_OPTIONS`] options.
fn check_option_count(connection: &str, count: usize) -> Result<()> {
    if count > MAX_OPTIONS {
        return Err(ControlError::invalid(format!(
            "connection {:?} would have {count} options; the limit is {MAX_OPTIONS} options per object",
            printable(connection, 128)
        )));
    }
    Ok(())
}

fn options_object(connection: &str, options: &[(String, String)]) -> Result<JsonObject> {
    check_option_count(connection, options.len())?;
    let mut map = JsonObject::new();
    for (key, value) in options {
        let key = check_option(connection, key, value)?;
        if map.insert(key.as_str().to_owned(), Value::String(value.clone())).is_some() {
            return Err(ControlError::invalid(format!("option {:?} is given twice", key.as_str())));
        }
    }
    Ok(map)
}

/// The type of a new connection, case-insensitively (sql.md); any other type is refused.
fn check_type(connection_type: &str) -> Result<ConnectionType> {
    connection_type.parse().map_err(|_| {
        ControlError::invalid(format!(
            "unknown connection type {:?}; known types are: {}",
            printable(connection_type, 64),
            ConnectionType::spellings().join(", ")
        ))
    })
}

fn check_max_connections(value: Option<i64>) -> Result<Option<i64>> {
    match value {
        Some(n) if !(1..=100_000).contains(&n) => {
            Err(ControlError::invalid(format!("MAX_CONNECTIONS must be between 1 and 100000, not {n}")))
        }
        other => Ok(other),
    }
}

fn check_timeout(value: Option<i64>) -> Result<Option<i64>> {
    match value {
        Some(n) if !(0..=86_400).contains(&n) => {
            Err(ControlError::invalid(format!("TIMEOUT must be between 0 and 86400 seconds, not {n}")))
        }
        other => Ok(other),
    }
}

pub(crate) fn check_description(text: Option<String>) -> Result<Option<String>> {
    match text {
        Some(t) if t.len() > 4096 => {
            Err(ControlError::invalid(format!("a description is at most 4096 bytes, not {}", t.len())))
        }
        other => Ok(other),
    }
}

/// The entry named `name`, usable as a connection's credential.
async fn credential_by_name(tx: &mut Tx, name: &str) -> Result<VaultEntry> {
    match tx.find_by_name::<VaultEntry>(&[name]).await? {
        Some(entry) if entry.owner_link_id.is_none() => Ok(entry),
        Some(_) => Err(ControlError::invalid(format!(
            "vault entry {:?} belongs to a link and cannot be a connection's credential",
            printable(name, 128)
        ))),
        None => Err(ControlError::new(
            ErrorKind::NotFound,
            format!("vault entry {:?} does not exist", printable(name, 128)),
        )),
    }
}

async fn backend_by_name(tx: &mut Tx, name: &str) -> Result<Backend> {
    tx.find_by_name::<Backend>(&[name]).await?.ok_or_else(|| {
        ControlError::new(ErrorKind::NotFound, format!("credential storage {:?} does not exist", printable(name, 128)))
    })
}

/// What a connection's view shows of the rows it refers to: the current names of its credential entry and
/// credential storage, and the entry's expiry.
#[derive(Debug, Default)]
struct Refs {
    credential: Option<NamedRef<VaultEntryId>>,
    credential_expires_at: Option<Timestamp>,
    credential_storage: Option<NamedRef<BackendId>>,
}

impl Refs {
    /// The references of `row`, with the names read together with it (the catalog's connection view); a name that
    /// is missing shows as the id.
    fn read_with(
        row: &Connection,
        entry: Option<String>,
        storage: Option<String>,
        expires_at: Option<Timestamp>,
    ) -> Self {
        Self {
            credential: row.credential_id.map(|id| NamedRef { id, name: entry.unwrap_or_else(|| id.to_string()) }),
            credential_expires_at: row.credential_id.and(expires_at),
            credential_storage: row
                .credential_storage_id
                .map(|id| NamedRef { id, name: storage.unwrap_or_else(|| id.to_string()) }),
        }
    }

    fn set_credential(&mut self, entry: Option<&VaultEntry>) {
        self.credential = entry.map(|e| NamedRef { id: e.meta.id, name: e.name.to_string() });
        self.credential_expires_at = entry.and_then(|e| e.expires_at);
    }

    fn set_storage(&mut self, backend: Option<&Backend>) {
        self.credential_storage = backend.map(|b| NamedRef { id: b.meta.id, name: b.name.to_string() });
    }
}

/// The view of a row, with the names of what it refers to (read by id).
pub(crate) async fn view(tx: &mut Tx, row: Connection) -> Result<ConnectionView> {
    let entry = match row.credential_id {
        Some(id) => tx.find::<VaultEntry>(id).await?,
        None => None,
    };
    let backend = match row.credential_storage_id {
        Some(id) => tx.find::<Backend>(id).await?,
        None => None,
    };
    let (name, expires_at) = (entry.as_ref().map(|e| e.name.to_string()), entry.and_then(|e| e.expires_at));
    let refs = Refs::read_with(&row, name, backend.map(|b| b.name.to_string()), expires_at);
    Ok(to_view(row, refs))
}

fn to_view(row: Connection, refs: Refs) -> ConnectionView {
    let mut options = OptionMap::new();
    for (key, value) in &row.options {
        if let Ok(key) = OptionKey::new(key.clone()) {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            options.insert(key, text);
        }
    }
    ConnectionView {
        id: row.meta.id,
        entity_ref: row.entity_ref(),
        name: row.name.to_string(),
        connection_type: row.connection_type,
        description: row.description,
        options,
        credential: refs.credential,
        credential_expires_at: refs.credential_expires_at,
        credential_storage: refs.credential_storage,
        max_connections: row.max_connections,
        timeout_seconds: row.timeout_seconds,
        last_test: row.last_test,
        created_at: row.meta.created_at,
        updated_at: row.meta.updated_at,
        version: row.meta.version,
        warnings: Vec::new(),
    }
}

/// A connection read for `GET /connections/{name}`: the catalog's row with the names it refers to, shared with the
/// catalog's memory of it. Its view ([`ConnectionRead::view`]) depends on nothing else, so whoever derives something
/// from it (the server, the bytes of its answer) may keep that beside it and reuse it for a later read that is
/// [`ConnectionRead::same_row`]: the catalog hands out the same row only while nothing was committed since.
#[derive(Clone)]
pub struct ConnectionRead(Arc<lanyard_catalog::ConnectionView>);

impl ConnectionRead {
    /// What `GET /connections/{name}` shows.
    pub fn view(&self) -> ConnectionView {
        let (row, entry, storage, expires_at) = (*self.0).clone();
        let refs = Refs::read_with(&row, entry, storage, expires_at);
        to_view(row, refs)
    }

    /// Whether `other` is this very row (so anything derived from one holds for the other). Holding a read keeps its
    /// row alive, so a row read later never takes its place in memory.
    pub fn same_row(&self, other: &ConnectionRead) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The row's version (its `ETag`).
    pub fn version(&self) -> i64 {
        self.0.0.meta.version
    }
}

impl std::fmt::Debug for ConnectionRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRead").field("name", &self.0.0.name).field("version", &self.version()).finish()
    }
}

/// Checks `If-Match` against the row's version.
pub(crate) fn check_version(kind: ObjectKind, name: &str, actual: i64, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(expected) if expected != actual => Err(ControlError::new(
            ErrorKind::PreconditionFailed,
            format!("{kind} {name:?} is at version {actual}, not {expected} (If-Match)"),
        )),
        _ => Ok(()),
    }
}

impl ControlPlane {
    /// SHOW CONNECTIONS [LIKE]: every connection whose name contains `like` (case-insensitive).
    pub async fn list_connections(&self, caller: &Caller, like: Option<&str>) -> Result<Vec<ConnectionView>> {
        Ok(self.list_connections_page(caller, like, &Page::default()).await?.rows)
    }

    /// One page of [`ControlPlane::list_connections`].
    pub async fn list_connections_page(
        &self,
        caller: &Caller,
        like: Option<&str>,
        page: &Page,
    ) -> Result<Listed<ConnectionView>> {
        self.authorize(caller, Permission::ConnectionsRead, AuditAction::ConnectionList, None).await?;
        snapshot!(self, |tx| {
            let Listed { rows, next } = tx.list_page::<Connection>(like, None, page).await?;
            // Only the entries and storages this page refers to, each read once.
            let entries: HashMap<_, VaultEntry> = tx
                .find_many::<VaultEntry>(rows.iter().filter_map(|row| row.credential_id))
                .await?
                .into_iter()
                .map(|entry| (entry.meta.id, entry))
                .collect();
            let backends: HashMap<_, Backend> = tx
                .find_many::<Backend>(rows.iter().filter_map(|row| row.credential_storage_id))
                .await?
                .into_iter()
                .map(|backend| (backend.meta.id, backend))
                .collect();
            let rows = rows
                .into_iter()
                .map(|row| {
                    let entry = row.credential_id.and_then(|id| entries.get(&id));
                    let storage = row.credential_storage_id.and_then(|id| backends.get(&id));
                    let refs = Refs::read_with(
                        &row,
                        entry.map(|e| e.name.to_string()),
                        storage.map(|b| b.name.to_string()),
                        entry.and_then(|e| e.expires_at),
                    );
                    to_view(row, refs)
                })
                .collect();
            Ok(Listed { rows, next })
        })
    }

    /// DESCRIBE CONNECTION; the adapter's name lookup.
    pub async fn get_connection(&self, caller: &Caller, name: &str) -> Result<ConnectionView> {
        Ok(self.read_connection(caller, name).await?.view())
    }

    /// [`ControlPlane::get_connection`], as the catalog row its view is made from (see [`ConnectionRead`]).
    pub async fn read_connection(&self, caller: &Caller, name: &str) -> Result<ConnectionRead> {
        self.authorize(caller, Permission::ConnectionsRead, AuditAction::ConnectionGet, Some(name)).await?;
        // One statement: the row and the names it refers to, as of one snapshot.
        Ok(ConnectionRead(self.catalog().find_connection(name).await?.ok_or_else(|| not_found(name))?))
    }

    /// SHOW HISTORY FOR CONNECTION: its versions, newest first (also of a dropped connection, by its last name).
    pub async fn connection_history(
        &self,
        caller: &Caller,
        name: &str,
        limit: Option<i64>,
    ) -> Result<Vec<crate::VersionView>> {
        self.authorize(caller, Permission::ConnectionsRead, AuditAction::ConnectionGet, Some(name)).await?;
        snapshot!(self, |tx| { crate::history::history::<Connection>(tx, Target::Name(&[name], name), limit).await })
    }

    /// DESCRIBE CONNECTION … AT: the connection as it was at `point`, its references by the names they had then.
    /// It shows no last test (a test is not part of a version).
    pub async fn connection_as_of(
        &self,
        caller: &Caller,
        name: &str,
        point: crate::PointInTime,
    ) -> Result<ConnectionView> {
        self.authorize(caller, Permission::ConnectionsRead, AuditAction::ConnectionGet, Some(name)).await?;
        let (entry, row) = snapshot!(self, |tx| {
            crate::history::as_of::<Connection>(tx, Target::Name(&[name], name), point).await
        })?;
        let names = |key| entry.referred_name(key).map(str::to_owned);
        let refs = Refs::read_with(&row, names("credential_name"), names("credential_storage_name"), None);
        Ok(to_view(row, refs))
    }

    /// CREATE CONNECTION. Never contacts the remote system.
    pub async fn create_connection(&self, caller: &Caller, request: NewConnection) -> Result<Created<ConnectionView>> {
        self.authorize(caller, Permission::ConnectionsWrite, AuditAction::ConnectionCreate, Some(&request.name))
            .await?;
        let name = valid_name(ObjectKind::Connection, &request.name)?;
        let connection_type = check_type(&request.connection_type)?;
        let options = options_object(&request.name, &request.options)?;
        let max_connections = check_max_connections(request.max_connections)?;
        let timeout_seconds = check_timeout(request.timeout_seconds)?;
        let description = check_description(request.description.clone())?;
        let mut created = transaction!(self.catalog(), |tx| -> Result<_> {
            if let Some((existing, entry, storage, expires_at)) = tx.find_connection(name.as_str()).await? {
                if request.if_not_exists {
                    let refs = Refs::read_with(&existing, entry, storage, expires_at);
                    return Ok(Created { value: to_view(existing, refs), created: false });
                }
                return Err(ControlError::new(
                    ErrorKind::AlreadyExists,
                    format!("connection {:?} already exists", name.as_str()),
                ));
            }
            refuse_lookalike::<Connection>(tx, ObjectKind::Connection, &[], &name, None).await?;
            // The view is made of what is read here: no read after the write.
            let mut refs = Refs::default();
            if let Some(entry) = &request.credential {
                refs.set_credential(Some(&credential_by_name(tx, entry).await?));
            }
            if let Some(backend) = &request.credential_storage {
                refs.set_storage(Some(&backend_by_name(tx, backend).await?));
            }
            let credential_id = refs.credential.as_ref().map(|e| e.id);
            let credential_storage_id = refs.credential_storage.as_ref().map(|b| b.id);
            let row = Connection {
                meta: Meta::new(),
                name: name.clone(),
                connection_type,
                description: description.clone(),
                options: options.clone(),
                credential_id,
                credential_storage_id,
                max_connections,
                timeout_seconds,
                last_test: None,
            };
            let row = tx.insert(row).await?;
            let record = audit(
                caller,
                AuditAction::ConnectionCreate,
                ObjectKind::Connection,
                row.meta.id,
                row.name.as_str(),
                detail([
                    ("type", connection_type.as_str().into()),
                    ("options", Value::Object(options.clone())),
                    ("credential", request.credential.clone().into()),
                    ("credential_storage", request.credential_storage.clone().into()),
                ]),
            );
            tx.append_audit(&record).await?;
            Ok(Created { value: to_view(row, refs), created: true })
        })?;
        if created.created {
            created.value.warnings = crate::warnings::connection(&created.value, Timestamp::now());
        }
        Ok(created)
    }

    /// ALTER CONNECTION: `actions` in order, all or nothing, in one transaction with the audit record. With
    /// `if_match`, the row must still be at that version.
    pub async fn alter_connection(
        &self,
        caller: &Caller,
        name: &str,
        actions: &[ConnectionAction],
        if_match: Option<i64>,
    ) -> Result<ConnectionView> {
        self.authorize(caller, Permission::ConnectionsWrite, AuditAction::ConnectionAlter, Some(name)).await?;
        if actions.is_empty() {
            return Err(ControlError::invalid("ALTER CONNECTION needs at least one action"));
        }
        // Round trips: the row (one read), then the versioned UPDATE with the audit append, which also checks the
        // references and reads back what the view shows of them (one round trip, `Tx::update_connection_audited`).
        // On PostgreSQL that is all (`optimistic!`: no transaction, since the UPDATE checks the version read and the
        // references itself, and the whole change reruns when another overtook it), and the read is skipped when this
        // node wrote the row last: the change is first tried on that copy ([`ControlPlane::alter_remembered`]). A
        // rename, whose look-alike check reads other rows that the UPDATE cannot re-check, runs SERIALIZABLE, with
        // BEGIN and COMMIT, like every change on SQLite.
        let renames = actions.iter().any(|action| matches!(action, ConnectionAction::RenameTo(_)));
        let remembered = if renames { None } else { self.alter_remembered(caller, name, actions, if_match).await };
        let (mut altered, row) = match remembered {
            Some(altered) => altered,
            None if renames => transaction!(self.catalog(), |tx| -> Result<_> {
                alter_in(tx, caller, name, actions, if_match, None).await
            })?,
            None => lanyard_catalog::optimistic!(self.catalog(), |tx| -> Result<_> {
                alter_in(tx, caller, name, actions, if_match, None).await
            })?,
        };
        self.remember_connection(name, row);
        altered.warnings = crate::warnings::connection(&altered, Timestamp::now());
        Ok(altered)
    }

    /// ALTER CONNECTION on PostgreSQL, tried once without a transaction on the copy of the row this node wrote
    /// last, if it has one: the UPDATE checks that the row is still at that copy's version (and the If-Match check
    /// and every action ran on that copy), and the view's names and last test are read by the UPDATE itself, so a
    /// change made on a current copy is exactly the change made on a row read now. `None` when there is no copy or
    /// the attempt failed for any reason (a copy overtaken by another node's change, say, or an error that a stale
    /// copy may have caused): the caller then makes the change as usual, from a row it reads, which tells the real
    /// outcome. A failed attempt wrote nothing: its one write is the statement that checks the version.
    async fn alter_remembered(
        &self,
        caller: &Caller,
        name: &str,
        actions: &[ConnectionAction],
        if_match: Option<i64>,
    ) -> Option<(ConnectionView, Connection)> {
        if self.catalog().kind() != lanyard_catalog::DatabaseKind::Postgres {
            return None;
        }
        let copy = self.inner.written.lock().unwrap_or_else(|e| e.into_inner()).remove(name)?;
        let mut tx = self.catalog().begin_autocommit().await.ok()??;
        match alter_in(&mut tx, caller, name, actions, if_match, Some(copy)).await {
            Ok(altered) => Some(altered),
            Err(error) => {
                tracing::debug!(connection = %printable(name, 128), %error, "the copy this node wrote last did not do");
                None
            }
        }
    }

    /// Keeps `row`, as this node just wrote it, for the next [`ControlPlane::alter_remembered`] (PostgreSQL only),
    /// forgetting the copy under `former`, the name it was altered by (the old name of a rename).
    fn remember_connection(&self, former: &str, row: Connection) {
        if self.catalog().kind() != lanyard_catalog::DatabaseKind::Postgres {
            return;
        }
        let mut written = self.inner.written.lock().unwrap_or_else(|e| e.into_inner());
        written.remove(former);
        if written.len() >= crate::WRITTEN_CAPACITY {
            written.clear();
        }
        written.insert(row.name.to_string(), row);
    }

    /// DROP CONNECTION.
    pub async fn drop_connection(&self, caller: &Caller, name: &str, if_match: Option<i64>) -> Result<()> {
        self.authorize(caller, Permission::ConnectionsWrite, AuditAction::ConnectionDrop, Some(name)).await?;
        self.inner.written.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
        transaction!(self.catalog(), |tx| -> Result<_> {
            let row = tx.find_by_name::<Connection>(&[name]).await?.ok_or_else(|| not_found(name))?;
            check_version(ObjectKind::Connection, name, row.meta.version, if_match)?;
            tx.delete::<Connection>(row.meta.id, Some(row.meta.version)).await?;
            let record = audit(
                caller,
                AuditAction::ConnectionDrop,
                ObjectKind::Connection,
                row.meta.id,
                row.name.as_str(),
                detail([("type", row.connection_type.as_str().into())]),
            );
            tx.append_audit(&record).await?;
            Ok(())
        })
    }

    /// TEST CONNECTION: resolves the credential fresh, runs the type's probe, records the result beside the row
    /// (without changing its version: the ETag a client holds stays valid) and returns it. A failed probe is a result, not an error; a missing connection is an error.
    pub async fn test_connection(&self, caller: &Caller, name: &str) -> Result<TestOutcome> {
        self.authorize(caller, Permission::ConnectionsTest, AuditAction::ConnectionTest, Some(name)).await?;
        let row =
            snapshot!(self, |tx| { tx.find_by_name::<Connection>(&[name]).await?.ok_or_else(|| not_found(name)) })?;
        let (result, latency_ms) = self.probe(lanyard_resolve::ConnectionRef::Id(row.meta.id)).await;
        let test = LastTest {
            at: Timestamp::now(),
            status: result.status(),
            latency_ms: Some(latency_ms),
            error: result.error.clone(),
            server_version: result.server_version.clone(),
        };
        let connection = transaction!(self.catalog(), |tx| -> Result<_> {
            // Bookkeeping beside the row, by id (it may have been altered or renamed meanwhile): the version, and so
            // the ETag, stay as they are.
            if !tx.record_connection_test(row.meta.id, &test).await? {
                return Err(not_found(name));
            }
            let current = tx.find::<Connection>(row.meta.id).await?.ok_or_else(|| not_found(name))?;
            let record = lanyard_catalog::NewAuditRecord {
                outcome: if result.status() == TestStatus::Failed {
                    AuditOutcome::Failed
                } else {
                    AuditOutcome::Allowed
                },
                ..audit(
                    caller,
                    AuditAction::ConnectionTest,
                    ObjectKind::Connection,
                    current.meta.id,
                    current.name.as_str(),
                    detail([
                        ("result", result.status().result().into()),
                        ("latency_ms", latency_ms.into()),
                        ("error", result.error.clone().into()),
                    ]),
                )
            };
            tx.append_audit(&record).await?;
            view(tx, current).await
        })?;
        let warnings = crate::warnings::connection(&connection, Timestamp::now());
        Ok(TestOutcome {
            warnings,
            passed: result.passed,
            status: result.status(),
            latency_ms,
            server_version: result.server_version,
            error: result.error,
            connection,
        })
    }
}

/// The body of ALTER CONNECTION: reads the row (unless given `copy`, one read earlier), applies `actions` in order
/// and writes it with its audit record in one statement (the only write: see `lanyard_catalog::optimistic!`), which
/// answers with what the view shows of the rows it refers to. Returns the view and the row as stored.
async fn alter_in(
    tx: &mut Tx,
    caller: &Caller,
    name: &str,
    actions: &[ConnectionAction],
    if_match: Option<i64>,
    copy: Option<Connection>,
) -> Result<(ConnectionView, Connection)> {
    let before = match copy {
        Some(row) => row,
        None => tx.find_connection(name).await?.ok_or_else(|| not_found(name))?.0,
    };
    check_version(ObjectKind::Connection, name, before.meta.version, if_match)?;
    let mut row = before.clone();
    for (index, action) in actions.iter().enumerate() {
        apply(tx, &mut row, action).await.map_err(|e| e.context(format!("action {}", index + 1)))?;
    }
    let ((row, entry, storage, expires_at), _) = tx
        .update_connection_audited(row, |row| {
            audit(
                caller,
                AuditAction::ConnectionAlter,
                ObjectKind::Connection,
                row.meta.id,
                row.name.as_str(),
                detail([
                    ("actions", audit_form(actions)),
                    ("from_version", before.meta.version.into()),
                    ("to_version", row.meta.version.into()),
                    ("renamed_from", if before.name == row.name { Value::Null } else { before.name.as_str().into() }),
                ]),
            )
        })
        .await?;
    let refs = Refs::read_with(&row, entry, storage, expires_at);
    Ok((to_view(row.clone(), refs), row))
}

/// Applies one action to `row` in memory; names are resolved through `tx`.
async fn apply(tx: &mut Tx, row: &mut Connection, action: &ConnectionAction) -> Result<()> {
    match action {
        ConnectionAction::SetOptions(pairs) => row.options = options_object(row.name.as_str(), pairs)?,
        ConnectionAction::SetOption { key, value } => {
            let key = check_option(row.name.as_str(), key, value)?;
            row.options.insert(key.as_str().to_owned(), Value::String(value.clone()));
            check_option_count(row.name.as_str(), row.options.len())?;
        }
        ConnectionAction::UnsetOption(key) => {
            if row.options.remove(key.as_str()).is_none() {
                return Err(ControlError::invalid(format!(
                    "connection {:?} has no option {:?}",
                    row.name.as_str(),
                    printable(key, 64)
                )));
            }
        }
        ConnectionAction::SetCredential(entry) => {
            row.credential_id = Some(credential_by_name(tx, entry).await?.meta.id);
        }
        ConnectionAction::UnsetCredential => row.credential_id = None,
        ConnectionAction::SetCredentialStorage(backend) => {
            row.credential_storage_id = Some(backend_by_name(tx, backend).await?.meta.id);
        }
        ConnectionAction::UnsetCredentialStorage => row.credential_storage_id = None,
        ConnectionAction::RenameTo(new_name) => {
            let new_name = valid_name(ObjectKind::Connection, new_name)?;
            // The stored row still has its old name: renaming back to it (RENAME TO x RENAME TO <old>) is no clash.
            let holder = tx.find_by_name::<Connection>(&[new_name.as_str()]).await?;
            if holder.is_some_and(|other| other.meta.id != row.meta.id) {
                return Err(ControlError::new(
                    ErrorKind::AlreadyExists,
                    format!("connection {:?} already exists", new_name.as_str()),
                ));
            }
            refuse_lookalike::<Connection>(tx, ObjectKind::Connection, &[], &new_name, Some(row.meta.id)).await?;
            row.name = new_name;
        }
        ConnectionAction::SetDescription(text) => row.description = check_description(text.clone())?,
        ConnectionAction::SetMaxConnections(n) => row.max_connections = check_max_connections(*n)?,
        ConnectionAction::SetTimeout(n) => row.timeout_seconds = check_timeout(*n)?,
        ConnectionAction::RollbackToVersion(version) => {
            let id = row.meta.id.to_string();
            let (kept, old) = crate::history::version_of::<Connection>(tx, &id, row.name.as_str(), *version).await?;
            // The references are restored by id, and only while what they referred to exists: an entry of the same
            // name created since is another secret.
            let refused = |what: &str, key: &str| {
                ControlError::new(
                    ErrorKind::Conflict,
                    format!(
                        "cannot roll connection {:?} back to version {version}: its {what} {:?} no longer exists",
                        row.name.as_str(),
                        kept.referred_name(key).unwrap_or("?")
                    ),
                )
            };
            if let Some(id) = old.credential_id
                && tx.find::<VaultEntry>(id).await?.is_none()
            {
                return Err(refused("credential", "credential_name"));
            }
            if let Some(id) = old.credential_storage_id
                && tx.find::<Backend>(id).await?.is_none()
            {
                return Err(refused("credential storage", "credential_storage_name"));
            }
            // Checked as an ALTER checks them today: a rule made stricter since that version holds for it too.
            let pairs: Vec<(String, String)> = old
                .options
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect();
            row.options = options_object(row.name.as_str(), &pairs)?;
            row.credential_id = old.credential_id;
            row.credential_storage_id = old.credential_storage_id;
            row.description = check_description(old.description)?;
            row.max_connections = check_max_connections(old.max_connections)?;
            row.timeout_seconds = check_timeout(old.timeout_seconds)?;
        }
    }
    Ok(())
}
