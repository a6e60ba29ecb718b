//! CREATE [OR REPLACE] / ALTER / DROP LINK, SHOW LINKS, SHOW CREATE LINK and TEST LINK: the SingleStore dialect.
//!
//! A link lives in a database (a namespace in the `databases` table, `databases.rs`: `default` always exists, any
//! other is made by CREATE DATABASE or comes into being with its first link, in the same transaction, and stays when
//! its last link goes).
//! Its CONFIG is a JSON object shown by SHOW LINKS, so nothing secret-looking is accepted in it. Its CREDENTIALS are
//! either a JSON object kept in a vault entry the link owns (local backend, hidden from SHOW VAULTS, named
//! `link::<link id>`, deleted with the link) or, with `CREDENTIALS FROM VAULT <entry>`, an existing entry whose
//! material is that JSON object (any backend, so a link follows a rotation in AWS, Azure or HashiCorp Vault like a
//! connection does). The link row holds only the entry's id.
//!
//! Material is written before the rows that point at it and deleted after they are gone; a write that is not
//! followed by a commit is undone (`entries::Undo`).

use std::sync::Arc;

use lanyard_catalog::{
    CatalogError, Database, JsonObject, Link, Listed, Meta, Page, Pipeline, Record as _, Timestamp, Tx, VaultEntry,
    transaction,
};
use lanyard_core::{
    AuditAction, AuditOutcome, EntryType, ErrorKind, LOCAL_BACKEND_ID, LinkId, LinkType, MAX_OPTION_KEY_CHARS,
    MAX_OPTION_VALUE_BYTES, MAX_OPTIONS, Name, ObjectKind, PipelineState, SecretString, TestStatus, VaultEntryId,
    is_secret_config_key, printable, secret_in_value, url_has_password,
};
use lanyard_vault::{Profile, SecretRef, SecretValue, VaultBackend};
use serde_json::Value;

use crate::entries::{Undo, delete_material};
use crate::error::{ControlError, Result};
use crate::model::{
    Created, CredentialsSource, LinkAction, LinkCredentialsView, LinkDefinition, LinkTestOutcome, LinkView, NamedRef,
    NewLink,
};
use crate::{Caller, ControlPlane, Permission, audit, audit_form, detail, snapshot, valid_name};

/// The database every session starts in; it always exists.
pub const DEFAULT_DATABASE: &str = "default";

/// The name prefix of the vault entries links own (`link::<link id>`); user entries cannot take it.
pub const OWNED_ENTRY_PREFIX: &str = "link::";

/// A change that lost a race with another, after its retries (or at once when the caller pinned a version with
/// If-Match, which then no longer holds).
fn changed_concurrently(object: &str, pinned: bool) -> ControlError {
    ControlError::new(
        if pinned { ErrorKind::PreconditionFailed } else { ErrorKind::Conflict },
        format!("link {object:?} was changed concurrently; try again"),
    )
}

/// The largest CONFIG or CREDENTIALS object accepted, in bytes of JSON.
const MAX_JSON: usize = 64 * 1024;

/// `db.name`, as messages show a link.
pub(crate) fn qualified(database: &str, name: &str) -> String {
    format!("{}.{}", printable(database, 128), printable(name, 128))
}

fn link_not_found(database: &str, name: &str) -> ControlError {
    ControlError::new(ErrorKind::NotFound, format!("link {:?} does not exist", qualified(database, name)))
}

/// "database … does not exist", with the statement that creates it.
pub(crate) fn database_not_found(database: &str) -> ControlError {
    let shown = printable(database, 128);
    let quoted = if is_bare_identifier(database) { shown.clone() } else { backticked(&shown) };
    ControlError::new(
        ErrorKind::NotFound,
        format!("database {shown:?} does not exist (CREATE DATABASE {quoted} creates it)"),
    )
}

/// Whether SQL can name `name` without quotes: an ASCII letter or `_`, then ASCII letters, digits or `_`.
fn is_bare_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The database exists: `default`, one made by CREATE DATABASE, or one a link was once created in.
pub(crate) async fn check_database(tx: &mut Tx, database: &Name) -> Result<()> {
    match tx.find_by_name::<Database>(&[database.as_str()]).await? {
        Some(_) => Ok(()),
        None => Err(database_not_found(database.as_str())),
    }
}

/// Creates the database if it does not exist yet, in the caller's transaction. Two requests creating the same new
/// database at once: the one that loses the race reruns its transaction, and then finds it.
async fn ensure_database(tx: &mut Tx, database: &Name) -> Result<()> {
    if tx.find_by_name::<Database>(&[database.as_str()]).await?.is_some() {
        return Ok(());
    }
    crate::refuse_lookalike::<Database>(tx, ObjectKind::Database, &[], database, None).await?;
    match tx.insert(Database { meta: Meta::new(), name: database.clone() }).await {
        Ok(_) => Ok(()),
        Err(error @ CatalogError::AlreadyExists { .. }) => Err(ControlError::from(error).retryable()),
        Err(error) => Err(error.into()),
    }
}

/// The link `database.name`; a missing database is reported as such.
pub(crate) async fn find_link(tx: &mut Tx, database: &Name, name: &str) -> Result<Link> {
    match tx.find_by_name::<Link>(&[database.as_str(), name]).await? {
        Some(link) => Ok(link),
        None => {
            check_database(tx, database).await?;
            Err(link_not_found(database.as_str(), name))
        }
    }
}

/// Every key of `value`, at any depth: its path (nested keys joined with `/`, since keys themselves may hold dots,
/// such as `ssl.key.location`), the key itself, and its value.
fn walk<'a>(path: &str, map: &'a JsonObject, out: &mut Vec<(String, &'a str, &'a Value)>) {
    for (key, value) in map {
        let here = if path.is_empty() { key.clone() } else { format!("{path}/{key}") };
        walk_value(&here, value, out);
        out.push((here, key.as_str(), value));
    }
}

fn walk_value<'a>(path: &str, value: &'a Value, out: &mut Vec<(String, &'a str, &'a Value)>) {
    match value {
        Value::Object(map) => walk(path, map, out),
        // A string inside an array is checked as a value of the array's key (`hosts/…`).
        Value::Array(items) => items.iter().for_each(|item| match item {
            Value::String(_) => out.push((path.to_owned(), "", item)),
            other => walk_value(path, other, out),
        }),
        _ => {}
    }
}

/// CONFIG holds no secrets (SHOW LINKS shows it): a secret-looking key ([`is_secret_config_key`]), at any depth, or a
/// URL with a password is refused with a hint to move it to CREDENTIALS; so is an oversized object. Its top-level
/// keys follow [`check_key`], as those of SET CONFIG ::key do.
fn check_config(link: &str, config: &JsonObject) -> Result<()> {
    let size = serde_json::to_string(config).map_or(0, |t| t.len());
    if size > MAX_JSON {
        return Err(ControlError::invalid(format!("CONFIG is {size} bytes of JSON; the limit is {MAX_JSON}")));
    }
    for key in config.keys() {
        check_key("CONFIG", key)?;
    }
    let mut keys = Vec::new();
    walk("", config, &mut keys);
    // Array items are walked too (their key is empty) but are not keys.
    let count = keys.iter().filter(|(_, key, _)| !key.is_empty()).count();
    if count > MAX_OPTIONS {
        return Err(ControlError::invalid(format!(
            "CONFIG of link {:?} has {count} keys; the limit is {MAX_OPTIONS} options per object",
            printable(link, 128),
        )));
    }
    for (path, key, value) in keys {
        if is_secret_config_key(key) {
            return Err(ControlError::invalid(format!(
                "CONFIG key {:?} looks like a secret; CONFIG is shown by SHOW LINKS and holds no secrets: move it to \
                 CREDENTIALS (ALTER LINK … SET CREDENTIALS ::{} = '…')",
                printable(&path, 64),
                printable(key, 64)
            )));
        }
        if let Value::String(text) = value
            && url_has_password(text)
        {
            return Err(ControlError::invalid(format!(
                "CONFIG key {:?} holds a URL with a password; keep the password in CREDENTIALS",
                printable(&path, 64)
            )));
        }
        if let Value::String(text) = value {
            if text.len() > MAX_OPTION_VALUE_BYTES {
                return Err(ControlError::invalid(format!(
                    "CONFIG key {:?} of link {:?} is {} bytes long; the limit is {MAX_OPTION_VALUE_BYTES} bytes per \
                     value",
                    printable(&path, 64),
                    printable(link, 128),
                    text.len()
                )));
            }
            if let Some(found) = secret_in_value(text) {
                return Err(ControlError::invalid(format!(
                    "the value of CONFIG key {:?} holds what looks like a secret ({found}); CONFIG is shown by SHOW \
                     LINKS and holds no secrets: move it to CREDENTIALS",
                    printable(&path, 64)
                )));
            }
        }
    }
    Ok(())
}

/// A top-level key of CONFIG or CREDENTIALS: 1..=128 characters, no control characters.
fn check_key(side: &str, key: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > MAX_OPTION_KEY_CHARS || key.chars().any(char::is_control) {
        return Err(ControlError::invalid(format!(
            "a {side} key is 1 to {MAX_OPTION_KEY_CHARS} characters without control characters, not {:?}",
            printable(key, 64)
        )));
    }
    Ok(())
}

/// The credentials object of `text`; errors never quote it.
fn parse_credentials(text: &SecretString) -> Result<JsonObject> {
    if text.len() > MAX_JSON {
        return Err(ControlError::invalid(format!(
            "CREDENTIALS is {} bytes of JSON; the limit is {MAX_JSON}",
            text.len()
        )));
    }
    match serde_json::from_str::<Value>(text.expose_secret()) {
        Ok(Value::Object(map)) => {
            for key in map.keys() {
                check_key("CREDENTIALS", key)?;
            }
            Ok(map)
        }
        Ok(_) => Err(ControlError::invalid("CREDENTIALS must be a JSON object ({...})")),
        Err(e) => Err(ControlError::invalid(format!(
            "CREDENTIALS is not valid JSON (line {} column {} of the object)",
            e.line(),
            e.column()
        ))),
    }
}

/// The material of a credentials object: its compact JSON text, keys in order.
fn material(credentials: &JsonObject) -> SecretValue {
    SecretValue::from_text(&SecretString::new(Value::Object(credentials.clone()).to_string()))
}

fn parse_type(text: &str) -> Result<LinkType> {
    text.parse().map_err(|_| {
        ControlError::invalid(format!(
            "unknown link type {:?}; link types are: {}",
            printable(text, 64),
            LinkType::spellings().join(", ")
        ))
    })
}

/// The name of the vault entry a link owns.
fn owned_entry_name(link: LinkId) -> Name {
    Name::new(format!("{OWNED_ENTRY_PREFIX}{link}")).expect("a prefix and a UUID make a valid name")
}

/// The entry `name` as a link's CREDENTIALS FROM VAULT: a CREDENTIAL entry no link owns.
async fn credentials_entry(tx: &mut Tx, name: &str) -> Result<VaultEntry> {
    match tx.find_by_name::<VaultEntry>(&[name]).await? {
        Some(entry) if entry.owner_link_id.is_some() => Err(ControlError::new(
            ErrorKind::NotFound,
            format!("vault entry {:?} does not exist", printable(name, 128)),
        )),
        Some(entry) if entry.entry_type != EntryType::Credential => Err(ControlError::invalid(format!(
            "vault entry {:?} is an ENCRYPTION_KEY; CREDENTIALS FROM VAULT takes a CREDENTIAL entry whose secret is \
             the credentials JSON object",
            printable(name, 128)
        ))),
        Some(entry) => Ok(entry),
        None => Err(ControlError::new(
            ErrorKind::NotFound,
            format!("vault entry {:?} does not exist", printable(name, 128)),
        )),
    }
}

/// Where a link's CREDENTIALS are now.
#[derive(Debug, Clone)]
enum Current {
    None,
    Owned(VaultEntry),
    Entry(VaultEntry),
}

async fn current_credentials(tx: &mut Tx, link: &Link) -> Result<Current> {
    let Some(id) = link.credential_id else { return Ok(Current::None) };
    match tx.find::<VaultEntry>(id).await? {
        Some(entry) if entry.owner_link_id == Some(link.meta.id) => Ok(Current::Owned(entry)),
        Some(entry) => Ok(Current::Entry(entry)),
        None => Err(ControlError::new(
            ErrorKind::Internal,
            format!("link {:?} refers to vault entry {id}, which does not exist", link.display()),
        )),
    }
}

/// Where a link's CREDENTIALS go.
enum Target {
    /// Unchanged.
    Keep,
    /// None.
    None,
    /// A JSON object in the owned entry.
    Owned(JsonObject),
    /// A JSON object in the owned entry, made of the current one with one key set (read at write time).
    OwnedKey { key: String, value: SecretString },
    /// An existing entry.
    Entry(VaultEntry),
}

/// Refuses a change to a link while a RUNNING pipeline uses it, naming the pipelines.
async fn check_not_running(tx: &mut Tx, link: &Link, what: &str) -> Result<()> {
    let running: Vec<String> = tx
        .list::<Pipeline>(None, None)
        .await?
        .into_iter()
        .filter(|p| p.link_id == link.meta.id && p.state == PipelineState::Running)
        .map(|p| format!("{}.{}", p.database, p.name))
        .collect();
    if running.is_empty() {
        return Ok(());
    }
    Err(ControlError::new(
        ErrorKind::Conflict,
        format!(
            "{what} link {:?}: pipeline{} {} {} running and must be stopped or paused first (STOP PIPELINE …)",
            link.display(),
            if running.len() == 1 { "" } else { "s" },
            running.join(", "),
            if running.len() == 1 { "is" } else { "are" },
        ),
    ))
}

/// The view of a link, with the name of its external credentials entry.
async fn view(tx: &mut Tx, link: Link) -> Result<LinkView> {
    let credentials = match current_credentials(tx, &link).await? {
        Current::None => None,
        Current::Owned(_) => Some(LinkCredentialsView::Owned),
        Current::Entry(entry) => {
            Some(LinkCredentialsView::Entry(NamedRef { id: entry.meta.id, name: entry.name.to_string() }))
        }
    };
    Ok(to_view(link, credentials))
}

fn to_view(link: Link, credentials: Option<LinkCredentialsView>) -> LinkView {
    LinkView {
        id: link.meta.id,
        database: link.database.to_string(),
        name: link.name.to_string(),
        link_type: link.link_type,
        description: link.description,
        config: link.config,
        credentials,
        created_at: link.meta.created_at,
        updated_at: link.meta.updated_at,
        version: link.meta.version,
    }
}

/// A name as SingleStore's SHOW CREATE prints it: in backticks, a backtick doubled.
fn backticked(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// SHOW CREATE LINK's statement, in the seed's shape:
///
/// ```text
/// CREATE LINK `analytics_link` AS S3
///     CONFIG "{\"disable_gunzip\":false}"
///     CREDENTIALS <CREDENTIALS REDACTED>
/// ```
///
/// CONFIG is its compact JSON (stored key order) as a double-quoted string with `"` and `\` escaped. CREDENTIALS
/// kept by the link are never shown; CREDENTIALS FROM VAULT shows the entry's name (not secret); a DESCRIPTION
/// follows on its own line.
pub fn create_statement(view: &LinkView) -> String {
    let mut text = format!("CREATE LINK {} AS {}", backticked(&view.name), view.link_type.as_str());
    let config = Value::Object(view.config.clone()).to_string();
    text.push_str("\n    CONFIG ");
    text.push_str(&Value::String(config).to_string());
    match &view.credentials {
        Some(LinkCredentialsView::Owned) => text.push_str("\n    CREDENTIALS <CREDENTIALS REDACTED>"),
        Some(LinkCredentialsView::Entry(entry)) => {
            text.push_str("\n    CREDENTIALS FROM VAULT ");
            text.push_str(&backticked(&entry.name));
        }
        None => {}
    }
    if let Some(description) = &view.description {
        text.push_str("\n    DESCRIPTION '");
        text.push_str(&description.replace('\'', "''"));
        text.push('\'');
    }
    text
}

/// What a planned change does to the owned entry, decided in the snapshot and carried out in the transaction.
struct Plan {
    /// The link row as it will be stored (credential_id set).
    row: Link,
    /// The version the row had when planned (0 for a new link).
    before_version: Option<i64>,
    /// The owned entry now, if any.
    owned: Option<VaultEntry>,
    /// The owned entry afterwards: `Some(id)` with new material (overwritten when it is `owned`'s id).
    new_owned: Option<VaultEntryId>,
    /// What to write as new material (the JSON object), or the key update to apply to the current material.
    target: Target,
}

impl ControlPlane {
    /// The backend instance that keeps links' own CREDENTIALS (the seeded local backend).
    async fn link_backend(&self) -> Result<Arc<dyn VaultBackend>> {
        let row = snapshot!(self, |tx| { Ok(tx.get::<lanyard_catalog::Backend>(LOCAL_BACKEND_ID).await?) })?;
        self.instance(&row).await
    }

    /// The material of `plan`'s target, written under the profile of the *new* owned entry; `None` when no material
    /// changes. Stored credentials are never overwritten in place: each change writes a new profile, which no reader
    /// sees before the commit that points the link at it, and which the undo deletes if that commit does not happen;
    /// the replaced profile is deleted after the commit. A `::key` update merges into the committed credentials.
    async fn write_link_material(&self, plan: &Plan) -> Result<Option<Undo>> {
        let Some(id) = plan.new_owned else { return Ok(None) };
        let backend = self.link_backend().await?;
        let value = match &plan.target {
            Target::Owned(credentials) => material(credentials),
            Target::OwnedKey { key, value } => {
                let mut credentials = match &plan.owned {
                    Some(owned) => {
                        let current = match backend.get(&SecretRef::Profile(Profile::Entry(owned.meta.id))).await {
                            Ok(current) => current,
                            // Material is never overwritten, only replaced under a new id and deleted after the
                            // commit that replaced it: gone means another change committed meanwhile. Plan again.
                            Err(error) if error.kind() == lanyard_vault::ErrorKind::NotFound => {
                                return Err(ControlError::conflict("the link's CREDENTIALS were changed concurrently")
                                    .retryable());
                            }
                            Err(error) => return Err(error.into()),
                        };
                        let text = std::str::from_utf8(current.expose_bytes()).map_err(|_| {
                            ControlError::new(ErrorKind::Internal, "a link's stored CREDENTIALS are not UTF-8")
                        })?;
                        match serde_json::from_str::<Value>(text) {
                            Ok(Value::Object(map)) => map,
                            _ => {
                                return Err(ControlError::new(
                                    ErrorKind::Internal,
                                    "a link's stored CREDENTIALS are not a JSON object",
                                ));
                            }
                        }
                    }
                    None => JsonObject::new(),
                };
                credentials.insert(key.clone(), Value::String(value.expose_secret().to_owned()));
                let value = material(&credentials);
                if value.expose_bytes().len() > MAX_JSON {
                    return Err(ControlError::invalid(format!(
                        "CREDENTIALS would be {} bytes of JSON; the limit is {MAX_JSON}",
                        value.expose_bytes().len()
                    )));
                }
                value
            }
            Target::Keep | Target::None | Target::Entry(_) => return Ok(None),
        };
        Ok(Some(Undo::write(backend, Profile::Entry(id), &value).await?))
    }

    /// Carries out `plan` inside a transaction: the link row, the owned entry row (inserted, bumped or deleted),
    /// then the audit record. Returns the stored link and the owned entry whose material must go after commit.
    async fn store_link(
        &self,
        tx: &mut Tx,
        plan: &Plan,
        record: impl FnOnce(&Link) -> lanyard_catalog::NewAuditRecord,
    ) -> Result<(Link, Option<VaultEntryId>)> {
        let now = Timestamp::now();
        let stored = match plan.before_version {
            None => {
                let scope = [plan.row.database.as_str()];
                crate::refuse_lookalike::<Link>(tx, ObjectKind::Link, &scope, &plan.row.name, None).await?;
                tx.insert(plan.row.clone()).await?
            }
            Some(_) => tx.update(plan.row.clone()).await?,
        };
        let mut orphaned = None;
        match (&plan.owned, plan.new_owned) {
            (owned, Some(id)) => {
                // The replaced entry goes first: both are named `link::<link id>`.
                if let Some(old) = owned {
                    tx.delete::<VaultEntry>(old.meta.id, None).await?;
                    orphaned = Some(old.meta.id);
                }
                tx.insert(VaultEntry {
                    meta: Meta { id, ..Meta::new() },
                    name: owned_entry_name(stored.meta.id),
                    entry_type: EntryType::Credential,
                    algorithm: None,
                    key_size: None,
                    current_version: owned.as_ref().map_or(1, |old| old.current_version + 1),
                    storage_backend_id: LOCAL_BACKEND_ID,
                    external_secret_name: None,
                    owner_link_id: Some(stored.meta.id),
                    description: Some(format!("CREDENTIALS of link {}", stored.display())),
                    expires_at: None,
                    rotated_at: owned.as_ref().map(|_| now),
                })
                .await?;
            }
            (Some(owned), None) if !matches!(plan.target, Target::Keep) => {
                tx.delete::<VaultEntry>(owned.meta.id, None).await?;
                orphaned = Some(owned.meta.id);
            }
            _ => {}
        }
        tx.append_audit(&record(&stored)).await?;
        Ok((stored, orphaned))
    }

    /// Deletes the material of an owned entry whose row is gone.
    async fn forget_owned(&self, id: Option<VaultEntryId>) {
        let Some(id) = id else { return };
        match self.link_backend().await {
            Ok(backend) => delete_material(backend, Profile::Entry(id)).await,
            Err(error) => tracing::warn!(
                profile = %Profile::Entry(id),
                %error,
                "a link's CREDENTIALS are left behind in the local backend: it could not be opened \
                 (`lanyard admin gc` lists them)"
            ),
        }
    }

    /// SHOW LINKS [ON db] [LIKE]: the links of one database, by name.
    pub async fn list_links(&self, caller: &Caller, database: &str, like: Option<&str>) -> Result<Vec<LinkView>> {
        Ok(self.list_links_page(caller, database, like, &Page::default()).await?.rows)
    }

    /// One page of [`ControlPlane::list_links`].
    pub async fn list_links_page(
        &self,
        caller: &Caller,
        database: &str,
        like: Option<&str>,
        page: &Page,
    ) -> Result<Listed<LinkView>> {
        self.authorize(caller, Permission::LinksRead, AuditAction::LinkList, Some(database)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        snapshot!(self, |tx| {
            check_database(tx, &database).await?;
            let Listed { rows, next } = tx.list_page::<Link>(like, Some(database.as_str()), page).await?;
            let mut views = Vec::with_capacity(rows.len());
            for row in rows {
                views.push(view(tx, row).await?);
            }
            Ok(Listed { rows: views, next })
        })
    }

    /// The link `database.name`.
    pub async fn get_link(&self, caller: &Caller, database: &str, name: &str) -> Result<LinkView> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::LinksRead, AuditAction::LinkGet, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        snapshot!(self, |tx| {
            let row = find_link(tx, &database, name).await?;
            view(tx, row).await
        })
    }

    /// SHOW HISTORY FOR LINK: its versions, newest first (a change of its own CREDENTIALS shows as a new material
    /// version, never the material).
    pub async fn link_history(
        &self,
        caller: &Caller,
        database: &str,
        name: &str,
        limit: Option<i64>,
    ) -> Result<Vec<crate::VersionView>> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::LinksRead, AuditAction::LinkGet, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        let columns = [database.as_str(), name];
        let target = crate::history::Target::Name(&columns, &object);
        snapshot!(self, |tx| { crate::history::history::<Link>(tx, target, limit).await })
    }

    /// DESCRIBE LINK … AT: the link as it was at `point`.
    pub async fn link_as_of(
        &self,
        caller: &Caller,
        database: &str,
        name: &str,
        point: crate::PointInTime,
    ) -> Result<LinkView> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::LinksRead, AuditAction::LinkGet, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        let columns = [database.as_str(), name];
        let target = crate::history::Target::Name(&columns, &object);
        let (entry, row) = snapshot!(self, |tx| { crate::history::as_of::<Link>(tx, target, point).await })?;
        let owned = entry
            .state
            .as_ref()
            .and_then(|s| s.get("credential_owned"))
            .is_some_and(|v| v == &Value::Bool(true) || v == &Value::from(1));
        let credentials = row.credential_id.map(|id| {
            if owned {
                LinkCredentialsView::Owned
            } else {
                let name = entry.referred_name("credential_name").map_or_else(|| id.to_string(), str::to_owned);
                LinkCredentialsView::Entry(NamedRef { id, name })
            }
        });
        Ok(to_view(row, credentials))
    }

    /// SHOW CREATE LINK: the definition in SingleStore's shape (see [`create_statement`]).
    pub async fn show_create_link(&self, caller: &Caller, database: &str, name: &str) -> Result<LinkDefinition> {
        let view = self.get_link(caller, database, name).await?;
        Ok(LinkDefinition { link_name: view.name.clone(), create_link: create_statement(&view), version: view.version })
    }

    /// CREATE [OR REPLACE] LINK [IF NOT EXISTS]. OR REPLACE keeps the link's id (so its pipelines and their
    /// cursors) and refuses a change of type. `created` is false when IF NOT EXISTS found the link (unchanged) and
    /// when OR REPLACE replaced it.
    pub async fn create_link(&self, caller: &Caller, request: NewLink) -> Result<Created<LinkView>> {
        let object = qualified(&request.database, &request.name);
        self.authorize(caller, Permission::LinksWrite, AuditAction::LinkCreate, Some(&object)).await?;
        if request.or_replace && request.if_not_exists {
            return Err(ControlError::invalid("OR REPLACE and IF NOT EXISTS cannot be used together"));
        }
        let database = valid_name(ObjectKind::Database, &request.database)?;
        let name = valid_name(ObjectKind::Link, &request.name)?;
        let link_type = parse_type(&request.link_type)?;
        let description = crate::connections::check_description(request.description.clone())?;
        check_config(&format!("{database}.{name}"), &request.config)?;
        let credentials = match &request.credentials {
            Some(CredentialsSource::Json(text)) => Some(parse_credentials(text)?),
            _ => None,
        };
        // Every turn writes the material to the vault again (a new secret version in the backend): a few turns
        // only, and the turn's transaction retries within this loop's deadline, so the request has one deadline.
        let mut attempts = lanyard_catalog::Attempts::side_effects();
        loop {
            let planned = snapshot!(self, |tx| {
                let existing = tx.find_by_name::<Link>(&[database.as_str(), name.as_str()]).await?;
                let (mut row, owned) = match existing {
                    Some(existing) if request.if_not_exists => return Ok(Err(view(tx, existing).await?)),
                    Some(existing) if !request.or_replace => {
                        return Err(ControlError::new(
                            ErrorKind::AlreadyExists,
                            format!(
                                "link {:?} already exists (CREATE OR REPLACE LINK replaces it in place)",
                                existing.display()
                            ),
                        ));
                    }
                    Some(existing) => {
                        if existing.link_type != link_type {
                            return Err(ControlError::invalid(format!(
                                "link {:?} is a {} link; CREATE OR REPLACE LINK cannot change its type to {} \
                                 (DROP LINK it, then CREATE LINK)",
                                existing.display(),
                                existing.link_type,
                                link_type
                            )));
                        }
                        check_not_running(tx, &existing, "cannot replace").await?;
                        let owned = match current_credentials(tx, &existing).await? {
                            Current::Owned(entry) => Some(entry),
                            _ => None,
                        };
                        (existing, owned)
                    }
                    None => (
                        Link {
                            meta: Meta::new(),
                            database: database.clone(),
                            name: name.clone(),
                            link_type,
                            description: None,
                            config: JsonObject::new(),
                            credential_id: None,
                        },
                        None,
                    ),
                };
                let before_version = (row.meta.version > 0).then_some(row.meta.version);
                row.description = description.clone();
                row.config = request.config.clone();
                let (target, new_owned) = match (&request.credentials, &credentials) {
                    (Some(CredentialsSource::Entry(entry)), _) => {
                        let entry = credentials_entry(tx, entry).await?;
                        row.credential_id = Some(entry.meta.id);
                        (Target::Entry(entry), None)
                    }
                    (_, Some(object)) => {
                        let id = VaultEntryId::new_random();
                        row.credential_id = Some(id);
                        (Target::Owned(object.clone()), Some(id))
                    }
                    _ => {
                        row.credential_id = None;
                        (Target::None, None)
                    }
                };
                Ok(Ok(Plan { row, before_version, owned, new_owned, target }))
            })?;
            let plan = match planned {
                Ok(plan) => plan,
                Err(existing) => return Ok(Created { value: existing, created: false }),
            };
            let undo = self.write_link_material(&plan).await?;
            let credentials_label = match &plan.target {
                Target::Entry(entry) => format!("vault entry {}", entry.name),
                Target::Owned(_) => "link".to_owned(),
                _ => "none".to_owned(),
            };
            let outcome = transaction!(self.catalog(), within attempts, |tx| -> Result<_> {
                let current = tx.find_by_name::<Link>(&[database.as_str(), name.as_str()]).await?;
                ensure_database(tx, &database).await?;
                match (&current, plan.before_version) {
                    (Some(current), _) if request.if_not_exists => return Ok(Err(view(tx, current.clone()).await?)),
                    (Some(current), Some(version)) if current.meta.version == version => {
                        // Checked again here: a pipeline started since the plan does not change the link's version.
                        check_not_running(tx, current, "cannot replace").await?;
                    }
                    (None, None) => {}
                    _ => return Ok(Ok(None)),
                }
                let (stored, orphaned) = self
                    .store_link(tx, &plan, |stored| {
                        audit(
                            caller,
                            AuditAction::LinkCreate,
                            ObjectKind::Link,
                            stored.meta.id,
                            &stored.display(),
                            detail([
                                ("type", stored.link_type.as_str().into()),
                                ("replaced", plan.before_version.is_some().into()),
                                ("config", Value::Object(stored.config.clone())),
                                ("credentials", credentials_label.clone().into()),
                            ]),
                        )
                    })
                    .await?;
                Ok(Ok(Some((view(tx, stored).await?, orphaned))))
            });
            if !matches!(outcome, Ok(Ok(Some(_))))
                && let Some(undo) = undo
            {
                undo.undo().await;
            }
            match outcome {
                Ok(Ok(Some((view, orphaned)))) => {
                    self.forget_owned(orphaned).await;
                    // A replaced link is not a new one: `created` says whether this request made the link.
                    return Ok(Created { value: view, created: plan.before_version.is_none() });
                }
                Ok(Err(existing)) => return Ok(Created { value: existing, created: false }),
                Ok(Ok(None)) if attempts.retry(true).await => {}
                Ok(Ok(None)) => return Err(changed_concurrently(&object, false)),
                Err(error) => return Err(error),
            }
        }
    }

    /// ALTER LINK: one SET CONFIG and/or one SET CREDENTIALS, applied together in place (the id, the pipelines and
    /// their cursors are untouched), all or nothing. Refused while a RUNNING pipeline uses the link.
    pub async fn alter_link(
        &self,
        caller: &Caller,
        database: &str,
        name: &str,
        actions: &[LinkAction],
        if_match: Option<i64>,
    ) -> Result<LinkView> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::LinksWrite, AuditAction::LinkAlter, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        check_link_actions(&format!("{database}.{name}"), actions)?;
        let labels = audit_form(actions);
        // Every turn writes the material to the vault again (a new secret version in the backend): a few turns
        // only, and the turn's transaction retries within this loop's deadline, so the request has one deadline.
        let mut attempts = lanyard_catalog::Attempts::side_effects();
        loop {
            let plan = snapshot!(self, |tx| {
                let before = find_link(tx, &database, name).await?;
                crate::connections::check_version(ObjectKind::Link, &before.display(), before.meta.version, if_match)?;
                check_not_running(tx, &before, "cannot alter").await?;
                let current = current_credentials(tx, &before).await?;
                let mut row = before.clone();
                let owned = match &current {
                    Current::Owned(entry) => Some(entry.clone()),
                    _ => None,
                };
                let mut target = Target::Keep;
                let mut new_owned = None;
                for action in actions {
                    match action {
                        LinkAction::ConfigJson(config) => row.config = config.clone(),
                        LinkAction::ConfigKey { key, value } => {
                            check_key("CONFIG", key)?;
                            // An existing key keeps its place; a new one goes last.
                            row.config.insert(key.clone(), value.clone());
                        }
                        LinkAction::CredentialsJson(text) => {
                            let id = VaultEntryId::new_random();
                            target = Target::Owned(parse_credentials(text)?);
                            new_owned = Some(id);
                        }
                        LinkAction::CredentialsKey { key, value } => {
                            check_key("CREDENTIALS", key)?;
                            if let Current::Entry(entry) = &current {
                                return Err(ControlError::invalid(format!(
                                    "link {:?} takes its CREDENTIALS from vault entry {:?} (CREDENTIALS FROM VAULT): \
                                     change them there (ALTER CREDENTIAL {} SET SECRET '…'), or give the link its \
                                     own with SET CREDENTIALS '{{…}}'",
                                    before.display(),
                                    entry.name.as_str(),
                                    entry.name.as_str()
                                )));
                            }
                            let id = VaultEntryId::new_random();
                            target = Target::OwnedKey { key: key.clone(), value: value.clone() };
                            new_owned = Some(id);
                        }
                        LinkAction::CredentialsEntry(entry) => {
                            target = Target::Entry(credentials_entry(tx, entry).await?);
                        }
                    }
                }
                check_config(&row.display(), &row.config)?;
                row.credential_id = match (&target, new_owned) {
                    (_, Some(id)) => Some(id),
                    (Target::Entry(entry), _) => Some(entry.meta.id),
                    _ => row.credential_id,
                };
                Ok(Plan { row, before_version: Some(before.meta.version), owned, new_owned, target })
            })?;
            let undo = match self.write_link_material(&plan).await {
                Ok(undo) => undo,
                // The credentials a `::key` update merges into were replaced meanwhile: plan again.
                Err(error) if error.is_retryable() && if_match.is_none() && attempts.retry(true).await => continue,
                Err(error) if error.is_retryable() => return Err(changed_concurrently(&object, if_match.is_some())),
                Err(error) => return Err(error),
            };
            let outcome = transaction!(self.catalog(), within attempts, |tx| -> Result<_> {
                let current = tx.find::<Link>(plan.row.meta.id).await?;
                let Some(current) = current.filter(|c| Some(c.meta.version) == plan.before_version) else {
                    return Ok(None);
                };
                // Checked again here: a pipeline started since the plan does not change the link's version.
                check_not_running(tx, &current, "cannot alter").await?;
                let (stored, orphaned) = self
                    .store_link(tx, &plan, |stored| {
                        audit(
                            caller,
                            AuditAction::LinkAlter,
                            ObjectKind::Link,
                            stored.meta.id,
                            &stored.display(),
                            detail([
                                ("actions", labels.clone()),
                                ("from_version", plan.before_version.into()),
                                ("to_version", stored.meta.version.into()),
                            ]),
                        )
                    })
                    .await?;
                Ok(Some((view(tx, stored).await?, orphaned)))
            });
            if !matches!(outcome, Ok(Some(_)))
                && let Some(undo) = undo
            {
                undo.undo().await;
            }
            match outcome {
                Ok(Some((view, orphaned))) => {
                    self.forget_owned(orphaned).await;
                    return Ok(view);
                }
                // Changed between plan and write: plan again from the new state (a `::key` update must merge into
                // the newest credentials), unless the caller pinned a version.
                Ok(None) if if_match.is_none() && attempts.retry(true).await => {}
                Ok(None) => return Err(changed_concurrently(&object, if_match.is_some())),
                Err(error) => return Err(error),
            }
        }
    }

    /// DROP LINK: refused while pipelines use it (they are listed); the row (and the entry the link owns) goes
    /// first, then the owned material. CREDENTIALS FROM VAULT entries are left alone.
    pub async fn drop_link(&self, caller: &Caller, database: &str, name: &str, if_match: Option<i64>) -> Result<()> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::LinksWrite, AuditAction::LinkDrop, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        let orphaned = transaction!(self.catalog(), |tx| -> Result<_> {
            let row = find_link(tx, &database, name).await?;
            crate::connections::check_version(ObjectKind::Link, &row.display(), row.meta.version, if_match)?;
            let owned = match current_credentials(tx, &row).await? {
                Current::Owned(entry) => Some(entry.meta.id),
                _ => None,
            };
            // The owned entry's row goes with the link's (ON DELETE CASCADE).
            tx.delete::<Link>(row.meta.id, Some(row.meta.version)).await?;
            let record = audit(
                caller,
                AuditAction::LinkDrop,
                ObjectKind::Link,
                row.meta.id,
                &row.display(),
                detail([("type", row.link_type.as_str().into())]),
            );
            tx.append_audit(&record).await?;
            Ok(owned)
        })?;
        self.forget_owned(orphaned).await;
        Ok(())
    }

    /// TEST LINK (a Lanyard addition): resolves the link's CREDENTIALS fresh and runs the probe of its type. A
    /// failed probe is a result, not an error. Nothing is stored on the link; the test is audited.
    pub async fn test_link(&self, caller: &Caller, database: &str, name: &str) -> Result<LinkTestOutcome> {
        let object = qualified(database, name);
        self.authorize(caller, Permission::LinksRead, AuditAction::LinkTest, Some(&object)).await?;
        let database = valid_name(ObjectKind::Database, database)?;
        let row = snapshot!(self, |tx| { find_link(tx, &database, name).await })?;
        let (result, latency_ms) = self.probe(lanyard_resolve::ConnectionRef::LinkId(row.meta.id)).await;
        let record = lanyard_catalog::NewAuditRecord {
            outcome: if result.status() == TestStatus::Failed { AuditOutcome::Failed } else { AuditOutcome::Allowed },
            ..audit(
                caller,
                AuditAction::LinkTest,
                ObjectKind::Link,
                row.meta.id,
                &row.display(),
                detail([
                    ("result", result.status().result().into()),
                    ("latency_ms", latency_ms.into()),
                    ("error", result.error.clone().into()),
                ]),
            )
        };
        transaction!(self.catalog(), |tx| -> Result<_> {
            tx.append_audit(&record).await?;
            Ok(())
        })?;
        Ok(LinkTestOutcome {
            passed: result.passed,
            status: result.status(),
            latency_ms,
            server_version: result.server_version,
            error: result.error,
        })
    }
}

/// ALTER LINK takes one or two actions, at most one for CONFIG and at most one for CREDENTIALS (sql.md).
fn check_link_actions(link: &str, actions: &[LinkAction]) -> Result<()> {
    if actions.is_empty() {
        return Err(ControlError::invalid("ALTER LINK needs at least one SET CONFIG or SET CREDENTIALS clause"));
    }
    let config = actions.iter().filter(|a| a.is_config()).count();
    if config > 1 {
        return Err(ControlError::invalid("ALTER LINK accepts at most one SET CONFIG clause"));
    }
    if actions.len() - config > 1 {
        return Err(ControlError::invalid("ALTER LINK accepts at most one SET CREDENTIALS clause"));
    }
    for action in actions {
        if let LinkAction::ConfigJson(config) = action {
            check_config(link, config)?;
        }
    }
    Ok(())
}
