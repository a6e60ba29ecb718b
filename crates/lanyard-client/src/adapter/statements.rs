//! What each statement becomes in HTTP calls.

use std::borrow::Cow;

use lanyard_api::{
    AlterBackend, AlterConnection, AlterEntry, AlterLink, AsOfQuery, Backend, BackendAction, ConfigKeyValue,
    Connection, ConnectionAction, CreateBackend, CreateConnection, CreateDatabase, CreateEntry, CreateLink,
    CreatePipeline, Entry, EntryAction, KeyValue, Link, LinkAction, OrderedMap, Secret, SecretJson, SecretKeyValue,
    SecretOptions,
};
use lanyard_core::{ErrorKind, OptionMap, SecretString};
use lanyard_sql::ast::{self, QualifiedName, Statement};

use super::retry::Attempts;
use super::rows::*;
use super::{DEFAULT_DATABASE, Session};
use crate::error::{Error, Result};
use crate::http::{Created, Pages};
use crate::result::{Cell, Outcome, StatementResult, Warning};

/// Hands each page of `pages` to `sink` as it arrives, rendered by `render` (the page's rows, the count so far), and
/// returns the whole list's result without rows: its columns and the status line counting every row. The first
/// page always goes to `sink`, even empty (so an empty list still shows its header); later empty pages do not.
async fn stream<T: serde::de::DeserializeOwned>(
    mut pages: Pages<T>,
    sink: &mut impl FnMut(&StatementResult),
    render: impl Fn(&[T], usize) -> StatementResult,
) -> Result<StatementResult> {
    let mut total = 0;
    let mut first = true;
    while let Some(rows) = pages.next_page().await? {
        total += rows.len();
        if first || !rows.is_empty() {
            sink(&render(&rows, total));
        }
        first = false;
    }
    Ok(render(&[], total))
}

impl Session {
    /// Runs one statement.
    pub async fn execute(&mut self, statement: &Statement) -> Result<StatementResult> {
        let mut rows = Vec::new();
        let mut streamed = false;
        let mut result = self
            .execute_streaming(statement, &mut |page: &StatementResult| {
                streamed = true;
                rows.extend(page.rows.iter().cloned());
            })
            .await?;
        if streamed {
            result.rows = rows;
        }
        Ok(result)
    }

    /// Runs one statement; a SHOW of a list reads it a page at a time and hands each page to `sink` as it arrives,
    /// then returns the whole list's status line with its columns and no rows. Any other statement returns its
    /// result whole and `sink` is not called. (`Session::execute` collects the pages into one result.)
    pub async fn execute_streaming(
        &mut self,
        statement: &Statement,
        sink: &mut impl FnMut(&StatementResult),
    ) -> Result<StatementResult> {
        refuse_redacted_secrets(statement)?;
        let sql = statement.to_string();
        match statement {
            Statement::CreateConnection(s) => self.create_connection(sql, s).await,
            Statement::AlterConnection(s) => self.alter_connection(sql, s).await,
            Statement::DropConnection(s) => {
                let done = self.client.drop_connection(s.name.as_str(), None).await;
                dropped(sql, "connection", s.name.as_str(), s.if_exists, done)
            }
            Statement::ShowConnections(s) => {
                let pages = self.client.list_connections_pages(s.like.as_deref());
                stream(pages, sink, |rows, total| show_connections(sql.clone(), rows, total)).await
            }
            Statement::DescribeConnection(s) => {
                let found = match &s.at {
                    Some(point) => self.client.as_of(&["connections", s.name.as_str()], &as_of(point)).await,
                    None => self.client.get_connection(s.name.as_str()).await,
                };
                described(sql, "connection", s.name.as_str(), s.if_exists, found, describe_connection)
            }
            Statement::TestConnection(s) => {
                let test = self.client.test_connection(s.name.as_str()).await?;
                let warnings = test.warnings.clone();
                Ok(probe_result(sql, "connection", s.name.as_str(), test.into()).with_warnings(warnings))
            }
            Statement::CreateVault(s) => self.create_entry(sql, s).await,
            Statement::AlterVault(s) => self.alter_entry(sql, s).await,
            Statement::DropVault(s) => {
                let done = self.client.drop_entry(s.name.as_str(), None).await;
                dropped(sql, "vault entry", s.name.as_str(), s.if_exists, done)
            }
            Statement::DescribeVault(s) => {
                let found = match &s.at {
                    Some(point) => self.client.as_of(&["vault", "entries", s.name.as_str()], &as_of(point)).await,
                    None => self.client.get_entry(s.name.as_str()).await,
                };
                described(sql, "vault entry", s.name.as_str(), s.if_exists, found, describe_entry)
            }
            Statement::ShowVaults(s) => {
                let pages = self.client.list_entries_pages(s.like.as_deref());
                stream(pages, sink, |rows, total| show_entries(sql.clone(), rows, total)).await
            }
            Statement::CreateCredentialStorage(s) => self.create_backend(sql, s).await,
            Statement::AlterCredentialStorage(s) => self.alter_backend(sql, s).await,
            Statement::DropCredentialStorage(s) => {
                let done = self.client.drop_backend(s.name.as_str(), None).await;
                dropped(sql, "credential storage", s.name.as_str(), s.if_exists, done)
            }
            Statement::ShowCredentialStorages(s) => {
                let pages = self.client.list_backends_pages(s.like.as_deref());
                stream(pages, sink, |rows, total| show_backends(sql.clone(), rows, total)).await
            }
            Statement::DescribeCredentialStorage(s) => {
                let found = match &s.at {
                    Some(point) => self.client.as_of(&["vault", "backends", s.name.as_str()], &as_of(point)).await,
                    None => self.client.get_backend(s.name.as_str()).await,
                };
                described(sql, "credential storage", s.name.as_str(), s.if_exists, found, describe_backend)
            }
            Statement::TestCredentialStorage(s) => match self.client.test_backend(s.name.as_str()).await {
                Err(e) if s.if_exists && e.kind() == Some(ErrorKind::NotFound) => {
                    Ok(skipped(sql, "credential storage", s.name.as_str()))
                }
                Err(e) => Err(e),
                Ok(test) => {
                    let outcome = if test.passed() { Outcome::Passed } else { Outcome::Failed };
                    let message = format!("credential storage {:?}: {}", s.name.as_str(), test.result);
                    let rows = test
                        .steps
                        .into_iter()
                        .map(|step| {
                            vec![
                                Cell::Text(step.step),
                                Cell::from(step.status.as_str()),
                                Cell::Int(i64::try_from(step.micros).unwrap_or(i64::MAX)),
                                Cell::text(step.error),
                            ]
                        })
                        .collect();
                    Ok(StatementResult::message(sql, outcome, message)
                        .with_rows(&["step", "status", "micros", "error"], rows))
                }
            },
            Statement::CreateDatabase(s) => {
                let request = CreateDatabase { name: s.name.as_str().to_owned(), if_not_exists: s.if_not_exists };
                let created = self.client.create_database(&request).await;
                created_result(sql, "database", s.name.as_str(), s.if_not_exists, created)
            }
            Statement::DropDatabase(s) => self.drop_database(sql, s).await,
            Statement::ShowDatabases(s) => {
                let pages = self.client.list_databases_pages(s.like.as_deref());
                stream(pages, sink, |rows, total| show_databases(sql.clone(), rows, total)).await
            }
            Statement::Use(s) => {
                // The database must exist (`default`, or one made by CREATE DATABASE or a CREATE LINK into it): the
                // server's answer says why not, and the session stays where it was.
                self.client.list_links_pages(s.database.as_str(), None).next_page().await?;
                self.database = s.database.clone();
                Ok(StatementResult::message(sql, Outcome::Ok, format!("database is now {:?}", s.database.as_str())))
            }
            Statement::CreateLink(s) => self.create_link(sql, s).await,
            Statement::AlterLink(s) => self.alter_link(sql, s).await,
            Statement::DropLink(s) => {
                let (database, name) = self.link_path(&s.name);
                let done = self.client.drop_link(database, name, None).await;
                dropped(sql, "link", &shown(database, name), s.if_exists, done)
            }
            Statement::ShowLinks(s) => {
                let database = s.database.as_ref().unwrap_or(&self.database).as_str();
                let pages = self.client.list_links_pages(database, s.like.as_deref());
                stream(pages, sink, |rows, total| show_links(sql.clone(), database, rows, total)).await
            }
            Statement::ShowCreateLink(s) => {
                let (database, name) = self.link_path(&s.name);
                let definition = self.client.show_create_link(database, name).await?;
                Ok(show_create_link(sql, &shown(database, name), definition))
            }
            Statement::DescribeLink(s) => {
                let (database, name) = self.link_path(&s.name);
                let found = match &s.at {
                    Some(point) => self.client.as_of(&["databases", database, "links", name], &as_of(point)).await,
                    None => self.client.get_link(database, name).await,
                };
                described(sql, "link", &shown(database, name), s.if_exists, found, describe_link)
            }
            Statement::TestLink(s) => {
                let (database, name) = self.link_path(&s.name);
                match self.client.test_link(database, name).await {
                    Err(e) if s.if_exists && e.kind() == Some(ErrorKind::NotFound) => {
                        Ok(skipped(sql, "link", &shown(database, name)))
                    }
                    Err(e) => Err(e),
                    Ok(test) => Ok(probe_result(sql, "link", &shown(database, name), test.into())),
                }
            }
            Statement::CreatePipeline(s) => {
                let (database, name) = self.link_path(&s.name);
                let (link_database, link) = self.link_path(&s.link);
                let request = CreatePipeline {
                    name: name.to_owned(),
                    link: shown(link_database, link),
                    path: s.path.clone(),
                    connection: s.connection.as_str().to_owned(),
                    table: s.table.to_string(),
                    format: s.format.clone(),
                    if_not_exists: s.if_not_exists,
                };
                let created = self.client.create_pipeline(database, &request).await;
                created_result(sql, "pipeline", &shown(database, name), s.if_not_exists, created)
            }
            Statement::StartPipeline(s) => {
                let (database, name) = self.link_path(&s.name);
                let pipeline = self.client.start_pipeline(database, name).await?;
                let message = format!("pipeline {:?} is {}", shown(database, name), pipeline.state);
                Ok(StatementResult::message(sql, Outcome::Ok, message))
            }
            Statement::StopPipeline(s) => {
                let (database, name) = self.link_path(&s.name);
                let pipeline = self.client.stop_pipeline(database, name).await?;
                let message = format!("pipeline {:?} is {}", shown(database, name), pipeline.state);
                Ok(StatementResult::message(sql, Outcome::Ok, message))
            }
            Statement::DropPipeline(s) => {
                let (database, name) = self.link_path(&s.name);
                let done = self.client.drop_pipeline(database, name, None).await;
                dropped(sql, "pipeline", &shown(database, name), s.if_exists, done)
            }
            Statement::ShowPipelines(s) => {
                let database = s.database.as_ref().unwrap_or(&self.database).as_str();
                let pages = self.client.list_pipelines_pages(database);
                stream(pages, sink, |rows, total| show_pipelines(sql.clone(), database, rows, total)).await
            }
            Statement::ShowPipelineFiles(s) => {
                let (database, name) = self.link_path(&s.name);
                let pages = self.client.list_pipeline_files_pages(database, name);
                let shown = shown(database, name);
                stream(pages, sink, |rows, total| show_pipeline_files(sql.clone(), &shown, rows, total)).await
            }
            Statement::ShowHistory(s) => {
                let (noun, shown, path): (&str, String, Vec<&str>) = match &s.object {
                    ast::HistoryObject::Connection(name) => {
                        ("connection", name.to_string(), vec!["connections", name.as_str()])
                    }
                    ast::HistoryObject::Vault { name, .. } => {
                        ("vault entry", name.to_string(), vec!["vault", "entries", name.as_str()])
                    }
                    ast::HistoryObject::CredentialStorage(name) => {
                        ("credential storage", name.to_string(), vec!["vault", "backends", name.as_str()])
                    }
                    ast::HistoryObject::Link(name) => {
                        let (database, name) = self.link_path(name);
                        ("link", shown(database, name), vec!["databases", database, "links", name])
                    }
                };
                let versions = self.client.history(&path, s.limit).await?;
                Ok(show_history(sql, noun, &shown, &versions))
            }
        }
    }

    async fn create_connection(&self, sql: String, s: &ast::CreateConnection) -> Result<StatementResult> {
        let request = CreateConnection {
            name: s.name.as_str().to_owned(),
            connection_type: s.connection_type.as_str().to_owned(),
            description: s.description.clone(),
            options: exposed_pairs(&s.options),
            credential: s.credential.as_ref().map(|n| n.as_str().to_owned()),
            credential_storage: s.credential_storage.as_ref().map(|n| n.as_str().to_owned()),
            max_connections: s.max_connections.map(i64::from),
            timeout_seconds: s.timeout_seconds.map(i64::from),
            if_not_exists: s.if_not_exists,
        };
        let created = self.client.create_connection(&request).await;
        let warnings = new_warnings(&created, |c: &Connection| &c.warnings);
        created_result(sql, "connection", s.name.as_str(), s.if_not_exists, created).map(|r| r.with_warnings(warnings))
    }

    async fn alter_connection(&self, sql: String, s: &ast::AlterConnection) -> Result<StatementResult> {
        let request = AlterConnection { actions: s.actions.iter().map(connection_action).collect::<Result<_>>()? };
        let name = s.name.as_str();
        alter(
            (sql, "connection", s.name.as_str(), s.if_exists, request.actions.len()),
            async || self.client.get_connection(name).await,
            // The connection routes take the name: If-Match makes sure it is still the object just read.
            async |current: &Connection| self.client.alter_connection(name, &request, Some(current.version)).await,
        )
        .await
    }

    /// DROP DATABASE [IF EXISTS]; when it drops the session's current database, the session goes back to
    /// `default` (which always exists), and the message says so.
    async fn drop_database(&mut self, sql: String, s: &ast::DropDatabase) -> Result<StatementResult> {
        let done = self.client.drop_database(s.name.as_str(), None).await;
        let dropped_current = done.is_ok() && s.name == self.database;
        let mut result = dropped(sql, "database", s.name.as_str(), s.if_exists, done)?;
        if dropped_current {
            self.database = Session::default_database();
            result.message.push_str(&format!("; the session's database is now {DEFAULT_DATABASE:?}"));
        }
        Ok(result)
    }

    /// The database and name a LINK statement addresses: the session's database unless the name is qualified.
    fn link_path<'a>(&'a self, name: &'a QualifiedName) -> (&'a str, &'a str) {
        (name.database.as_ref().unwrap_or(&self.database).as_str(), name.name.as_str())
    }

    async fn create_link(&self, sql: String, s: &ast::CreateLink) -> Result<StatementResult> {
        let (database, name) = self.link_path(&s.name);
        let (credentials, credentials_entry) = match &s.credentials {
            None => (None, None),
            Some(ast::CredentialsSource::Json(text)) => (Some(SecretJson(text.clone())), None),
            Some(ast::CredentialsSource::Entry(entry)) => (None, Some(entry.as_str().to_owned())),
        };
        let request = CreateLink {
            name: name.to_owned(),
            link_type: s.link_type.as_str().to_owned(),
            description: s.description.clone(),
            config: s.config.clone().unwrap_or_default(),
            credentials,
            credentials_entry,
            or_replace: s.or_replace,
            if_not_exists: s.if_not_exists,
        };
        let created = self.client.create_link(database, &request).await;
        let shown = shown(database, name);
        match created {
            // OR REPLACE of an existing link: the server answers 200 with the replaced link (a new link is version
            // 1; a replaced one keeps its id and counts on, so a 201 for a replace is recognised too).
            Ok(Created::Existing(link) | Created::New(link)) if s.or_replace && link.version > 1 => {
                Ok(StatementResult::message(
                    sql,
                    Outcome::Ok,
                    format!("link {shown:?} replaced (version {})", link.version),
                ))
            }
            // IF NOT EXISTS: 200 with the link it found, "exists, unchanged".
            other => created_result(sql, "link", &shown, s.if_not_exists, other),
        }
    }

    async fn alter_link(&self, sql: String, s: &ast::AlterLink) -> Result<StatementResult> {
        let (database, name) = self.link_path(&s.name);
        let request = AlterLink { actions: s.clauses.iter().map(link_action).collect::<Result<_>>()? };
        alter(
            (sql, "link", &shown(database, name), false, request.actions.len()),
            async || self.client.get_link(database, name).await,
            // Links are never renamed: If-Match makes sure the PUT changes the version just read.
            async |current: &Link| self.client.alter_link(database, name, &request, Some(current.version)).await,
        )
        .await
    }

    async fn create_entry(&self, sql: String, s: &ast::CreateVault) -> Result<StatementResult> {
        let mut request = CreateEntry {
            name: s.name.as_str().to_owned(),
            entry_type: s.entry_type.as_str().to_owned(),
            algorithm: s.algorithm.clone(),
            key_size: s.key_size.map(i64::from),
            storage: s.storage.as_ref().map(|n| n.as_str().to_owned()),
            description: s.description.clone(),
            expires: s.expires.clone(),
            if_not_exists: s.if_not_exists,
            ..CreateEntry::default()
        };
        match &s.material {
            ast::Material::Secret(secret) => request.secret = Some(Secret(secret.clone())),
            ast::Material::Generate => request.generate = true,
            ast::Material::LinkedExternal(name) => request.linked_external_secret = Some(name.clone()),
        }
        let created = self.client.create_entry(&request).await;
        let warnings = new_warnings(&created, |e: &Entry| &e.warnings);
        created_result(sql, "vault entry", s.name.as_str(), s.if_not_exists, created).map(|r| r.with_warnings(warnings))
    }

    async fn alter_entry(&self, sql: String, s: &ast::AlterVault) -> Result<StatementResult> {
        let actions = s
            .actions
            .iter()
            .map(|a| {
                Ok(match a {
                    ast::AlterVaultAction::Rotate => EntryAction::Rotate,
                    ast::AlterVaultAction::SetSecret(secret) => EntryAction::SetSecret(Secret(secret.clone())),
                    ast::AlterVaultAction::SetDescription(text) => EntryAction::SetDescription(Some(text.clone())),
                    ast::AlterVaultAction::SetExpires(text) => EntryAction::SetExpires(Some(text.clone())),
                    ast::AlterVaultAction::RenameTo(name) => EntryAction::RenameTo(name.as_str().to_owned()),
                    ast::AlterVaultAction::RollbackToVersion(_) => return Err(no_rollback("a vault entry")),
                })
            })
            .collect::<Result<_>>()?;
        let request = AlterEntry { actions };
        alter(
            (sql, "vault entry", s.name.as_str(), s.if_exists, request.actions.len()),
            async || self.client.get_entry(s.name.as_str()).await,
            // By id: the id is immutable, so a concurrent rename cannot send the change elsewhere.
            async |current: &Entry| self.client.alter_entry(&current.id, &request, Some(current.version)).await,
        )
        .await
    }

    async fn create_backend(&self, sql: String, s: &ast::CreateCredentialStorage) -> Result<StatementResult> {
        let request = CreateBackend {
            name: s.name.as_str().to_owned(),
            backend_type: s.kind.as_str().to_owned(),
            description: s.description.clone(),
            options: secret_pairs(&s.options),
            active: s.active.unwrap_or(true),
            if_not_exists: s.if_not_exists,
        };
        let created = self.client.create_backend(&request).await;
        created_result(sql, "credential storage", s.name.as_str(), s.if_not_exists, created)
    }

    async fn alter_backend(&self, sql: String, s: &ast::AlterCredentialStorage) -> Result<StatementResult> {
        let actions = s
            .actions
            .iter()
            .map(|a| {
                Ok(match a {
                    ast::AlterCredentialStorageAction::SetOptions(options) => {
                        BackendAction::SetOptions(secret_pairs(options))
                    }
                    ast::AlterCredentialStorageAction::SetDescription(text) => {
                        BackendAction::SetDescription(Some(text.clone()))
                    }
                    ast::AlterCredentialStorageAction::SetActive(active) => BackendAction::SetActive(*active),
                    ast::AlterCredentialStorageAction::RenameTo(name) => {
                        BackendAction::RenameTo(name.as_str().to_owned())
                    }
                    ast::AlterCredentialStorageAction::RollbackToVersion(_) => {
                        return Err(no_rollback("a credential storage"));
                    }
                })
            })
            .collect::<Result<_>>()?;
        let request = AlterBackend { actions };
        alter(
            (sql, "credential storage", s.name.as_str(), s.if_exists, request.actions.len()),
            async || self.client.get_backend(s.name.as_str()).await,
            async |current: &Backend| self.client.alter_backend(&current.id, &request, Some(current.version)).await,
        )
        .await
    }
}

fn link_action(clause: &ast::LinkSet) -> Result<LinkAction> {
    use ast::LinkSet as S;
    Ok(match clause {
        S::ConfigJson(config) => LinkAction::SetConfigJson(config.clone()),
        S::ConfigKey { key, value } => {
            LinkAction::SetConfigKey(ConfigKeyValue { key: key.clone(), value: value.clone() })
        }
        S::CredentialsJson(credentials) => LinkAction::SetCredentialsJson(SecretJson(credentials.clone())),
        S::CredentialsKey { key, value } => {
            LinkAction::SetCredentialsKey(SecretKeyValue { key: key.clone(), value: Secret(value.clone()) })
        }
        S::CredentialsEntry(entry) => LinkAction::SetCredentialsEntry(entry.as_str().to_owned()),
        S::RollbackToVersion(_) => return Err(no_rollback("a link")),
    })
}

/// The point of DESCRIBE … AT, as the `as-of` route takes it.
fn as_of(point: &ast::PointInTime) -> AsOfQuery {
    match point {
        ast::PointInTime::Version(version) => AsOfQuery { version: Some(*version), at: None },
        ast::PointInTime::Time(at) => AsOfQuery { version: None, at: Some(at.clone()) },
    }
}

/// ROLLBACK TO VERSION of an object other than a connection: the grammar has it, this release does not carry it out.
fn no_rollback(what: &str) -> Error {
    Error::Refused(format!(
        "ROLLBACK TO VERSION is not available for {what} in this release (connections only); DESCRIBE … AT VERSION n \
         shows that version, to restore with ALTER"
    ))
}

/// A secret literal that reads `***` is a redaction copied from history, a log or `lanyard fmt`, not a value:
/// storing it would silently replace a real secret.
fn refuse_redacted_secrets(statement: &Statement) -> Result<()> {
    let redacted = |s: &SecretString| s.expose_secret() == lanyard_core::REDACTED;
    let options = |o: &OptionMap| o.iter().any(|(k, v)| k.is_secret() && v.expose() == lanyard_core::REDACTED);
    let found = match statement {
        Statement::CreateVault(s) => matches!(&s.material, ast::Material::Secret(secret) if redacted(secret)),
        Statement::AlterVault(s) => {
            s.actions.iter().any(|a| matches!(a, ast::AlterVaultAction::SetSecret(secret) if redacted(secret)))
        }
        Statement::CreateCredentialStorage(s) => options(&s.options),
        Statement::AlterCredentialStorage(s) => {
            s.actions.iter().any(|a| matches!(a, ast::AlterCredentialStorageAction::SetOptions(o) if options(o)))
        }
        // A whole CREDENTIALS object cannot read `***` (it is checked to be a JSON object); one key's value can.
        Statement::AlterLink(s) => {
            s.clauses.iter().any(|c| matches!(c, ast::LinkSet::CredentialsKey { value, .. } if redacted(value)))
        }
        _ => false,
    };
    if found {
        return Err(Error::Refused(
            "a secret literal reads '***': that is a redaction (from history, a log or `lanyard fmt`), not a \
             secret; type the secret itself"
                .to_owned(),
        ));
    }
    Ok(())
}

/// The warnings on the answer of a create that created.
fn new_warnings<T>(created: &Result<Created<T>>, warnings: impl Fn(&T) -> &Vec<Warning>) -> Vec<Warning> {
    match created {
        Ok(Created::New(object)) => warnings(object).clone(),
        _ => Vec::new(),
    }
}

/// What [`alter`] needs to know of an object it read.
trait Versioned {
    /// Its name now, as messages show it.
    fn name(&self) -> Cow<'_, str>;
    /// Its row version (the ETag).
    fn version(&self) -> i64;
    /// What the server warned about in its answer to the ALTER.
    fn warnings(&self) -> Vec<Warning> {
        Vec::new()
    }
}

macro_rules! versioned {
    ($($ty:ty $(=> $warnings:ident)?),*) => {
        $(impl Versioned for $ty {
            fn name(&self) -> Cow<'_, str> {
                Cow::Borrowed(&self.name)
            }

            fn version(&self) -> i64 {
                self.version
            }

            $(fn warnings(&self) -> Vec<Warning> {
                self.$warnings.clone()
            })?
        })*
    };
}

versioned!(Connection => warnings, Entry => warnings, Backend);

impl Versioned for Link {
    /// `db.name`, as link messages show it (a link is never renamed).
    fn name(&self) -> Cow<'_, str> {
        Cow::Owned(shown(&self.database, &self.name))
    }

    fn version(&self) -> i64 {
        self.version
    }
}

/// A link as messages name it: `db.name`, as the Control Plane's errors do.
fn shown(database: &str, name: &str) -> String {
    format!("{database}.{name}")
}

/// ALTER as the seed describes: `read` the object (which resolves its name and gives its version), then `write` the
/// actions with `If-Match`. When the object changed between the two (412) — or, under IF EXISTS, vanished (404) —
/// read again and re-send, paced by [`Attempts`] (see `retry.rs` for why re-sending is correct); after
/// [`ALTER_ATTEMPTS`](super::retry::ALTER_ATTEMPTS) runs that all found it changed, give up with a `conflict` error that says so. `what` is the
/// statement, the object's noun and name, IF EXISTS, and the number of actions.
async fn alter<T: Versioned>(
    (sql, noun, name, if_exists, actions): (String, &str, &str, bool, usize),
    read: impl AsyncFn() -> Result<T>,
    write: impl AsyncFn(&T) -> Result<T>,
) -> Result<StatementResult> {
    let mut attempts = Attempts::new();
    loop {
        let current = match read().await {
            Err(e) if if_exists && e.kind() == Some(ErrorKind::NotFound) => return Ok(skipped(sql, noun, name)),
            other => other?,
        };
        match write(&current).await {
            Err(e)
                if e.kind() == Some(ErrorKind::PreconditionFailed)
                    || (if_exists && e.kind() == Some(ErrorKind::NotFound)) =>
            {
                if !attempts.retry().await {
                    let n = attempts.failed();
                    return Err(Error::Conflict(format!(
                        "{noun} {name:?} changed concurrently {n} times; gave up after {n} attempts; run the \
                         statement again"
                    )));
                }
            }
            other => {
                let altered = other?;
                return Ok(altered_result(sql, noun, name, &altered.name(), actions, altered.version())
                    .with_warnings(altered.warnings()));
            }
        }
    }
}

fn connection_action(action: &ast::AlterConnectionAction) -> Result<ConnectionAction> {
    use ast::AlterConnectionAction as A;
    Ok(match action {
        A::SetOptions(options) => ConnectionAction::SetOptions(exposed_pairs(options)),
        A::SetOption { key, value } => {
            ConnectionAction::SetOption(KeyValue { key: key.as_str().to_owned(), value: value.expose().to_owned() })
        }
        A::UnsetOption(key) => ConnectionAction::UnsetOption(key.as_str().to_owned()),
        A::SetCredential(name) => ConnectionAction::SetCredential(name.as_str().to_owned()),
        A::UnsetCredential => ConnectionAction::UnsetCredential,
        A::SetCredentialStorage(name) => ConnectionAction::SetCredentialStorage(name.as_str().to_owned()),
        A::UnsetCredentialStorage => ConnectionAction::UnsetCredentialStorage,
        A::RenameTo(name) => ConnectionAction::RenameTo(name.as_str().to_owned()),
        A::SetDescription(text) => ConnectionAction::SetDescription(Some(text.clone())),
        A::SetMaxConnections(n) => ConnectionAction::SetMaxConnections(Some(i64::from(*n))),
        A::SetTimeout(n) => ConnectionAction::SetTimeout(Some(i64::from(*n))),
        A::RollbackToVersion(version) => ConnectionAction::RollbackToVersion(*version),
    })
}

/// Connection options as sent: connections hold no secrets, and the server refuses secret-looking keys with a
/// message that says to use CREDENTIAL — it never echoes the value.
fn exposed_pairs(options: &OptionMap) -> OrderedMap {
    options.iter_exposed().map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned()))).collect()
}

/// Storage options may hold auth secrets: every value travels as a secret until the body is built.
fn secret_pairs(options: &OptionMap) -> SecretOptions {
    SecretOptions(options.iter_exposed().map(|(k, v)| (k.to_owned(), Secret::new(v))).collect())
}
