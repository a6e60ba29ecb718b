//! The SQL → HTTP adapter: every DeltaForge-dialect statement becomes its API calls, exactly as
//! control-plane.md describes (ALTER = GET to resolve, then PUT with the ordered actions and `If-Match`), and comes
//! back as a typed [`StatementResult`].

use lanyard_core::{Name, OptionMap, SecretString};
use lanyard_sql::ast::{self, Statement};
use lanyard_sql::{ParseError, Span};

use crate::error::{Error, Result};
use crate::http::{Client, Created};
use crate::result::{Cell, Outcome, StatementResult};
use lanyard_api::{
    AlterBackend, AlterConnection, AlterEntry, Backend, BackendAction, Connection, ConnectionAction, CreateBackend,
    CreateConnection, CreateEntry, Entry, EntryAction, KeyValue, OrderedMap, Secret, SecretOptions,
};
use lanyard_core::ErrorKind;

/// How many times ALTER re-reads and re-sends when the object changed between its GET and its PUT (412).
const ALTER_ATTEMPTS: usize = 3;

/// The database a session starts in (for the LINK dialect's unqualified names).
pub const DEFAULT_DATABASE: &str = "default";

/// A SQL session against one server: a [`Client`] plus the session state (`USE`).
#[derive(Debug, Clone)]
pub struct Session {
    client: Client,
    database: Name,
}

/// One step of [`Session::run_script`], reported as it happens.
#[derive(Debug)]
pub enum ScriptEvent<'a> {
    /// A statement that could not be parsed (nothing was sent for it).
    ParseError(&'a ParseError),
    /// A statement was sent; here is how it went.
    Executed {
        /// Its 1-based position among the script's statements.
        index: usize,
        /// Where it is in the source.
        span: Span,
        /// The statement.
        statement: &'a Statement,
        /// Its result.
        result: &'a Result<StatementResult>,
    },
}

/// What a script run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptSummary {
    /// Statements in the script (parsed or not).
    pub statements: usize,
    /// Statements sent that succeeded.
    pub succeeded: usize,
    /// Statements sent that failed.
    pub failed: usize,
    /// Statements that could not be parsed.
    pub parse_errors: usize,
    /// TEST statements whose probe FAILED (a result, counted apart from errors).
    pub tests_failed: usize,
    /// Whether the run stopped because the server was unreachable or refused the token.
    pub environment_error: bool,
    /// Statements never sent because the run stopped early.
    pub not_run: usize,
}

impl ScriptSummary {
    /// Whether every statement parsed and succeeded.
    pub fn is_success(&self) -> bool {
        self.failed == 0 && self.parse_errors == 0 && !self.environment_error
    }
}

impl Session {
    /// A session in the `default` database.
    pub fn new(client: Client) -> Self {
        let database = Name::new(DEFAULT_DATABASE).unwrap_or_else(|_| unreachable!("a valid name"));
        Self { client, database }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The current database (`USE`).
    pub fn database(&self) -> &str {
        self.database.as_str()
    }

    /// Runs a script: parses all of it first, then sends statement after statement.
    ///
    /// A script with a syntax error runs nothing unless `continue_on_error` is set, so a typo at line 40 cannot
    /// leave the first 39 statements applied. Without `continue_on_error` the run stops at the first failed
    /// statement; with it, it goes on. An unreachable server or a refused token always stops the run. A TEST
    /// whose probe fails is a result, not an error, and never stops the run. `on_event` sees each step as it
    /// happens, in source order.
    pub async fn run_script(
        &mut self,
        sql: &str,
        continue_on_error: bool,
        mut on_event: impl FnMut(ScriptEvent<'_>),
    ) -> ScriptSummary {
        let script = lanyard_sql::parse_script(sql);
        let mut summary = ScriptSummary {
            statements: script.statements.len() + script.errors.len(),
            parse_errors: script.errors.len(),
            ..ScriptSummary::default()
        };
        let mut errors = script.errors.iter().peekable();
        if !script.errors.is_empty() && !continue_on_error {
            errors.for_each(|e| on_event(ScriptEvent::ParseError(e)));
            summary.not_run = script.statements.len();
            return summary;
        }
        let total = script.statements.len();
        for (i, spanned) in script.statements.iter().enumerate() {
            while let Some(error) = errors.next_if(|e| e.location().offset < spanned.span.start.offset) {
                on_event(ScriptEvent::ParseError(error));
            }
            let result = self.execute(&spanned.statement).await;
            match &result {
                Ok(r) => {
                    summary.succeeded += 1;
                    if r.outcome == Outcome::Failed {
                        summary.tests_failed += 1;
                    }
                }
                Err(e) => {
                    summary.failed += 1;
                    summary.environment_error |= e.is_environment();
                }
            }
            let stop = result.as_ref().err().is_some_and(|e| e.is_environment() || !continue_on_error);
            on_event(ScriptEvent::Executed {
                index: i + 1,
                span: spanned.span,
                statement: &spanned.statement,
                result: &result,
            });
            if stop {
                summary.not_run = total - i - 1;
                return summary;
            }
        }
        errors.for_each(|e| on_event(ScriptEvent::ParseError(e)));
        summary
    }

    /// Runs one statement.
    pub async fn execute(&mut self, statement: &Statement) -> Result<StatementResult> {
        refuse_redacted_secrets(statement)?;
        let sql = statement.to_string();
        match statement {
            Statement::CreateConnection(s) => self.create_connection(sql, s).await,
            Statement::AlterConnection(s) => self.alter_connection(sql, s).await,
            Statement::DropConnection(s) => {
                let done = self.client.drop_connection(s.name.as_str(), None).await;
                dropped(sql, "connection", &s.name, s.if_exists, done)
            }
            Statement::ShowConnections(s) => {
                let connections = self.client.list_connections(s.like.as_deref()).await?;
                Ok(show_connections(sql, &connections))
            }
            Statement::DescribeConnection(s) => {
                let found = self.client.get_connection(s.name.as_str()).await;
                described(sql, "connection", &s.name, s.if_exists, found, describe_connection)
            }
            Statement::TestConnection(s) => {
                let test = self.client.test_connection(s.name.as_str()).await?;
                let outcome = if test.passed() { Outcome::Passed } else { Outcome::Failed };
                let message = format!("connection {:?}: {} in {} ms", s.name.as_str(), test.result, test.latency_ms);
                Ok(StatementResult::message(sql, outcome, message).with_rows(
                    &["result", "latency_ms", "server_version", "error"],
                    vec![vec![
                        Cell::from(test.result.as_str()),
                        Cell::Int(test.latency_ms),
                        Cell::text(test.server_version),
                        Cell::text(test.error),
                    ]],
                ))
            }
            Statement::CreateVault(s) => self.create_entry(sql, s).await,
            Statement::AlterVault(s) => self.alter_entry(sql, s).await,
            Statement::DropVault(s) => {
                let done = self.client.drop_entry(s.name.as_str(), None).await;
                dropped(sql, "vault entry", &s.name, s.if_exists, done)
            }
            Statement::DescribeVault(s) => {
                let found = self.client.get_entry(s.name.as_str()).await;
                described(sql, "vault entry", &s.name, s.if_exists, found, describe_entry)
            }
            Statement::ShowVaults(s) => {
                let entries = self.client.list_entries(s.like.as_deref()).await?;
                Ok(show_entries(sql, &entries))
            }
            Statement::CreateCredentialStorage(s) => self.create_backend(sql, s).await,
            Statement::AlterCredentialStorage(s) => self.alter_backend(sql, s).await,
            Statement::DropCredentialStorage(s) => {
                let done = self.client.drop_backend(s.name.as_str(), None).await;
                dropped(sql, "credential storage", &s.name, s.if_exists, done)
            }
            Statement::ShowCredentialStorages(s) => {
                let backends = self.client.list_backends(s.like.as_deref()).await?;
                Ok(show_backends(sql, &backends))
            }
            Statement::DescribeCredentialStorage(s) => {
                let found = self.client.get_backend(s.name.as_str()).await;
                described(sql, "credential storage", &s.name, s.if_exists, found, describe_backend)
            }
            Statement::TestCredentialStorage(s) => match self.client.test_backend(s.name.as_str()).await {
                Err(e) if s.if_exists && e.kind() == Some(ErrorKind::NotFound) => {
                    Ok(skipped(sql, "credential storage", &s.name))
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
            Statement::Use(s) => {
                self.database = s.database.clone();
                Ok(StatementResult::message(sql, Outcome::Ok, format!("database is now {:?}", s.database.as_str())))
            }
            Statement::CreateLink(_)
            | Statement::AlterLink(_)
            | Statement::DropLink(_)
            | Statement::ShowLinks(_)
            | Statement::ShowCreateLink(_)
            | Statement::CreatePipeline(_)
            | Statement::StartPipeline(_)
            | Statement::StopPipeline(_)
            | Statement::DropPipeline(_)
            | Statement::ShowPipelines(_) => Err(Error::Unsupported(format!(
                "{} is not served by this Control Plane yet: the LINK and PIPELINE API is a later release \
                 (`lanyard check` and `lanyard fmt` accept it)",
                statement.kind()
            ))),
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
        created_result(sql, "connection", &s.name, s.if_not_exists, created)
    }

    async fn alter_connection(&self, sql: String, s: &ast::AlterConnection) -> Result<StatementResult> {
        let request = AlterConnection { actions: s.actions.iter().map(connection_action).collect() };
        let name = s.name.as_str();
        alter(
            (sql, "connection", &s.name, s.if_exists, request.actions.len()),
            async || self.client.get_connection(name).await,
            // The connection routes take the name: If-Match makes sure it is still the object just read.
            async |current: &Connection| self.client.alter_connection(name, &request, Some(current.version)).await,
        )
        .await
    }

    async fn create_entry(&self, sql: String, s: &ast::CreateVault) -> Result<StatementResult> {
        let mut request = CreateEntry {
            name: s.name.as_str().to_owned(),
            entry_type: s.entry_type.keyword().to_owned(),
            algorithm: s.algorithm.clone(),
            key_size: s.key_size.map(i64::from),
            storage: s.storage.as_ref().map(|n| n.as_str().to_owned()),
            description: s.description.clone(),
            expires: s.expires.clone(),
            if_not_exists: s.if_not_exists,
            ..CreateEntry::default()
        };
        match &s.material {
            None => {}
            Some(ast::Material::Secret(secret)) => request.secret = Some(Secret(secret.clone())),
            Some(ast::Material::Generate) => request.generate = true,
            Some(ast::Material::LinkedExternal(name)) => request.linked_external_secret = Some(name.clone()),
        }
        let created = self.client.create_entry(&request).await;
        created_result(sql, "vault entry", &s.name, s.if_not_exists, created)
    }

    async fn alter_entry(&self, sql: String, s: &ast::AlterVault) -> Result<StatementResult> {
        let actions = s
            .actions
            .iter()
            .map(|a| match a {
                ast::AlterVaultAction::Rotate => EntryAction::Rotate,
                ast::AlterVaultAction::SetSecret(secret) => EntryAction::SetSecret(Secret(secret.clone())),
                ast::AlterVaultAction::SetDescription(text) => EntryAction::SetDescription(Some(text.clone())),
                ast::AlterVaultAction::SetExpires(text) => EntryAction::SetExpires(Some(text.clone())),
                ast::AlterVaultAction::RenameTo(name) => EntryAction::RenameTo(name.as_str().to_owned()),
            })
            .collect();
        let request = AlterEntry { actions };
        alter(
            (sql, "vault entry", &s.name, s.if_exists, request.actions.len()),
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
        created_result(sql, "credential storage", &s.name, s.if_not_exists, created)
    }

    async fn alter_backend(&self, sql: String, s: &ast::AlterCredentialStorage) -> Result<StatementResult> {
        let actions = s
            .actions
            .iter()
            .map(|a| match a {
                ast::AlterCredentialStorageAction::SetOptions(options) => {
                    BackendAction::SetOptions(secret_pairs(options))
                }
                ast::AlterCredentialStorageAction::SetDescription(text) => {
                    BackendAction::SetDescription(Some(text.clone()))
                }
                ast::AlterCredentialStorageAction::SetActive(active) => BackendAction::SetActive(*active),
                ast::AlterCredentialStorageAction::RenameTo(name) => BackendAction::RenameTo(name.as_str().to_owned()),
            })
            .collect();
        let request = AlterBackend { actions };
        alter(
            (sql, "credential storage", &s.name, s.if_exists, request.actions.len()),
            async || self.client.get_backend(s.name.as_str()).await,
            async |current: &Backend| self.client.alter_backend(&current.id, &request, Some(current.version)).await,
        )
        .await
    }
}

/// A secret literal that reads `***` is a redaction copied from history, a log or `lanyard fmt`, not a value:
/// storing it would silently replace a real secret.
fn refuse_redacted_secrets(statement: &Statement) -> Result<()> {
    let redacted = |s: &SecretString| s.expose_secret() == lanyard_core::REDACTED;
    let options = |o: &OptionMap| o.iter().any(|(k, v)| k.is_secret() && v.expose() == lanyard_core::REDACTED);
    let found = match statement {
        Statement::CreateVault(s) => matches!(&s.material, Some(ast::Material::Secret(secret)) if redacted(secret)),
        Statement::AlterVault(s) => {
            s.actions.iter().any(|a| matches!(a, ast::AlterVaultAction::SetSecret(secret) if redacted(secret)))
        }
        Statement::CreateCredentialStorage(s) => options(&s.options),
        Statement::AlterCredentialStorage(s) => {
            s.actions.iter().any(|a| matches!(a, ast::AlterCredentialStorageAction::SetOptions(o) if options(o)))
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

/// What [`alter`] needs to know of an object it read.
trait Versioned {
    /// Its name now.
    fn name(&self) -> &str;
    /// Its row version (the ETag).
    fn version(&self) -> i64;
}

macro_rules! versioned {
    ($($ty:ty),*) => {
        $(impl Versioned for $ty {
            fn name(&self) -> &str {
                &self.name
            }

            fn version(&self) -> i64 {
                self.version
            }
        })*
    };
}

versioned!(Connection, Entry, Backend);

/// ALTER as the seed describes: `read` the object (which resolves its name and gives its version), then `write` the
/// actions with `If-Match`. When the object changed between the two (412) — or, under IF EXISTS, vanished (404) —
/// read again, at most [`ALTER_ATTEMPTS`] times. `what` is the statement, the object's noun and name, IF EXISTS, and
/// the number of actions.
async fn alter<T: Versioned>(
    (sql, noun, name, if_exists, actions): (String, &str, &Name, bool, usize),
    read: impl AsyncFn() -> Result<T>,
    write: impl AsyncFn(&T) -> Result<T>,
) -> Result<StatementResult> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = match read().await {
            Err(e) if if_exists && e.kind() == Some(ErrorKind::NotFound) => return Ok(skipped(sql, noun, name)),
            other => other?,
        };
        match write(&current).await {
            Err(e) if attempt < ALTER_ATTEMPTS && e.kind() == Some(ErrorKind::PreconditionFailed) => continue,
            Err(e) if attempt < ALTER_ATTEMPTS && if_exists && e.kind() == Some(ErrorKind::NotFound) => continue,
            other => {
                let altered = other?;
                return Ok(altered_result(sql, noun, name, altered.name(), actions, altered.version()));
            }
        }
    }
}

fn connection_action(action: &ast::AlterConnectionAction) -> ConnectionAction {
    use ast::AlterConnectionAction as A;
    match action {
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
    }
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

fn skipped(sql: String, noun: &str, name: &Name) -> StatementResult {
    StatementResult::message(sql, Outcome::Skipped, format!("{noun} {:?} does not exist; nothing done", name.as_str()))
}

fn created_result<T>(
    sql: String,
    noun: &str,
    name: &Name,
    if_not_exists: bool,
    created: Result<Created<T>>,
) -> Result<StatementResult> {
    match created {
        Ok(Created::New(_)) => {
            Ok(StatementResult::message(sql, Outcome::Created, format!("{noun} {:?} created", name.as_str())))
        }
        Ok(Created::Existing(_)) => Ok(unchanged(sql, noun, name)),
        // An older server, or a race the server resolved with 409: IF NOT EXISTS means "exists, unchanged".
        Err(e) if if_not_exists && e.kind() == Some(ErrorKind::AlreadyExists) => Ok(unchanged(sql, noun, name)),
        Err(e) => Err(e),
    }
}

fn unchanged(sql: String, noun: &str, name: &Name) -> StatementResult {
    StatementResult::message(sql, Outcome::Unchanged, format!("{noun} {:?} exists, unchanged", name.as_str()))
}

fn altered_result(sql: String, noun: &str, name: &Name, now: &str, actions: usize, version: i64) -> StatementResult {
    let plural = if actions == 1 { "" } else { "s" };
    let renamed = if now == name.as_str() { String::new() } else { format!(", now {now:?}") };
    StatementResult::message(
        sql,
        Outcome::Ok,
        format!("{noun} {:?} altered ({actions} action{plural}, version {version}{renamed})", name.as_str()),
    )
}

fn dropped(sql: String, noun: &str, name: &Name, if_exists: bool, done: Result<()>) -> Result<StatementResult> {
    match done {
        Ok(()) => Ok(StatementResult::message(sql, Outcome::Ok, format!("{noun} {:?} dropped", name.as_str()))),
        Err(e) if if_exists && e.kind() == Some(ErrorKind::NotFound) => Ok(skipped(sql, noun, name)),
        Err(e) => Err(e),
    }
}

fn described<T>(
    sql: String,
    noun: &str,
    name: &Name,
    if_exists: bool,
    found: Result<T>,
    describe: fn(&T) -> Vec<(&'static str, Cell)>,
) -> Result<StatementResult> {
    match found {
        Ok(object) => {
            let rows = describe(&object).into_iter().map(|(k, v)| vec![Cell::from(k), v]).collect();
            Ok(StatementResult::message(sql, Outcome::Ok, format!("{noun} {:?}", name.as_str()))
                .with_rows(&["property", "value"], rows))
        }
        Err(e) if if_exists && e.kind() == Some(ErrorKind::NotFound) => {
            Ok(skipped(sql, noun, name).with_rows(&["property", "value"], Vec::new()))
        }
        Err(e) => Err(e),
    }
}

/// `1 connection`, `2 connections`.
fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

fn show_connections(sql: String, connections: &[Connection]) -> StatementResult {
    let rows = connections
        .iter()
        .map(|c| {
            vec![
                Cell::from(c.name.as_str()),
                Cell::from(c.connection_type.as_str()),
                Cell::from(c.status.as_str()),
                Cell::text(c.credential.as_ref().map(|r| r.name.as_str())),
                Cell::text(c.credential_storage.as_ref().map(|r| r.name.as_str())),
            ]
        })
        .collect();
    StatementResult::message(sql, Outcome::Ok, count(connections.len(), "connection", "connections"))
        .with_rows(&["name", "type", "status", "credential", "credential_storage"], rows)
}

/// `key=value, …` in stored order (the server has masked secret-looking values).
fn options_text<'a>(options: impl Iterator<Item = (&'a String, String)>) -> String {
    options.map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

fn describe_connection(c: &Connection) -> Vec<(&'static str, Cell)> {
    let test = c.last_test.as_ref();
    let options =
        options_text(c.options.iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned))));
    vec![
        ("id", Cell::from(c.id.as_str())),
        ("name", Cell::from(c.name.as_str())),
        ("entity_ref", Cell::from(c.entity_ref.as_str())),
        ("type", Cell::from(c.connection_type.as_str())),
        ("description", Cell::text(c.description.as_deref())),
        ("options", Cell::Text(options)),
        ("credential", Cell::text(c.credential.as_ref().map(|r| r.name.as_str()))),
        ("credential_storage", Cell::text(c.credential_storage.as_ref().map(|r| r.name.as_str()))),
        ("max_connections", Cell::int(c.max_connections)),
        ("timeout_seconds", Cell::int(c.timeout_seconds)),
        ("status", Cell::from(c.status.as_str())),
        ("last_tested_at", Cell::text(test.map(|t| t.at.as_str()))),
        ("last_test_latency_ms", Cell::int(test.and_then(|t| t.latency_ms))),
        ("last_test_error", Cell::text(test.and_then(|t| t.error.as_deref()))),
        ("server_version", Cell::text(test.and_then(|t| t.server_version.as_deref()))),
        ("created_at", Cell::from(c.created_at.as_str())),
        ("updated_at", Cell::from(c.updated_at.as_str())),
        ("version", Cell::Int(c.version)),
    ]
}

fn show_entries(sql: String, entries: &[Entry]) -> StatementResult {
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                Cell::from(e.name.as_str()),
                Cell::from(e.entry_type.as_str()),
                Cell::text(e.algorithm.as_deref()),
                Cell::from(e.storage.name.as_str()),
                Cell::Int(e.current_version),
                Cell::text(e.expires_at.as_deref()),
                Cell::text(e.rotated_at.as_deref()),
            ]
        })
        .collect();
    StatementResult::message(sql, Outcome::Ok, count(entries.len(), "vault entry", "vault entries"))
        .with_rows(&["name", "type", "algorithm", "storage", "current_version", "expires_at", "rotated_at"], rows)
}

fn describe_entry(e: &Entry) -> Vec<(&'static str, Cell)> {
    vec![
        ("id", Cell::from(e.id.as_str())),
        ("name", Cell::from(e.name.as_str())),
        ("type", Cell::from(e.entry_type.as_str())),
        ("algorithm", Cell::text(e.algorithm.as_deref())),
        ("key_size", Cell::int(e.key_size)),
        ("current_version", Cell::Int(e.current_version)),
        ("storage", Cell::from(e.storage.name.as_str())),
        ("external_secret_name", Cell::text(e.external_secret_name.as_deref())),
        ("description", Cell::text(e.description.as_deref())),
        ("expires_at", Cell::text(e.expires_at.as_deref())),
        ("created_at", Cell::from(e.created_at.as_str())),
        ("updated_at", Cell::from(e.updated_at.as_str())),
        ("rotated_at", Cell::text(e.rotated_at.as_deref())),
    ]
}

fn show_backends(sql: String, backends: &[Backend]) -> StatementResult {
    let rows = backends
        .iter()
        .map(|b| {
            vec![
                Cell::from(b.name.as_str()),
                Cell::from(b.backend_type.as_str()),
                Cell::from(if b.active { "ACTIVE" } else { "INACTIVE" }),
                Cell::Bool(b.builtin),
                Cell::text(b.description.as_deref()),
            ]
        })
        .collect();
    StatementResult::message(sql, Outcome::Ok, count(backends.len(), "credential storage", "credential storages"))
        .with_rows(&["name", "type", "state", "builtin", "description"], rows)
}

fn describe_backend(b: &Backend) -> Vec<(&'static str, Cell)> {
    vec![
        ("id", Cell::from(b.id.as_str())),
        ("name", Cell::from(b.name.as_str())),
        ("type", Cell::from(b.backend_type.as_str())),
        ("description", Cell::text(b.description.as_deref())),
        ("options", Cell::Text(options_text(b.options.iter().map(|(k, v)| (k, v.clone()))))),
        ("state", Cell::from(if b.active { "ACTIVE" } else { "INACTIVE" })),
        ("builtin", Cell::Bool(b.builtin)),
        ("created_at", Cell::from(b.created_at.as_str())),
        ("updated_at", Cell::from(b.updated_at.as_str())),
        ("version", Cell::Int(b.version)),
    ]
}
