//! The rendering of answers: messages for changes, columns and rows for SHOW and DESCRIBE.

use lanyard_api::{
    Backend, Connection, Database, Entry, HistoryEntry, Link, LinkCredentials, LinkDefinition, LinkTestResult,
    Pipeline, PipelineFile, TestResult,
};
use lanyard_core::ErrorKind;

use crate::error::Result;
use crate::http::Created;
use crate::result::{Cell, Outcome, StatementResult};

pub(super) fn skipped(sql: String, noun: &str, name: &str) -> StatementResult {
    StatementResult::message(sql, Outcome::Skipped, format!("{noun} {name:?} does not exist; nothing done"))
}

pub(super) fn created_result<T>(
    sql: String,
    noun: &str,
    name: &str,
    if_not_exists: bool,
    created: Result<Created<T>>,
) -> Result<StatementResult> {
    match created {
        Ok(Created::New(_)) => Ok(StatementResult::message(sql, Outcome::Created, format!("{noun} {name:?} created"))),
        Ok(Created::Existing(_)) => Ok(unchanged(sql, noun, name)),
        // An older server, or a race the server resolved with 409: IF NOT EXISTS means "exists, unchanged".
        Err(e) if if_not_exists && e.kind() == Some(ErrorKind::AlreadyExists) => Ok(unchanged(sql, noun, name)),
        Err(e) => Err(e),
    }
}

pub(super) fn unchanged(sql: String, noun: &str, name: &str) -> StatementResult {
    StatementResult::message(sql, Outcome::Unchanged, format!("{noun} {name:?} exists, unchanged"))
}

pub(super) fn altered_result(
    sql: String,
    noun: &str,
    name: &str,
    now: &str,
    actions: usize,
    version: i64,
) -> StatementResult {
    let plural = if actions == 1 { "" } else { "s" };
    let renamed = if now == name { String::new() } else { format!(", now {now:?}") };
    StatementResult::message(
        sql,
        Outcome::Ok,
        format!("{noun} {name:?} altered ({actions} action{plural}, version {version}{renamed})"),
    )
}

pub(super) fn dropped(
    sql: String,
    noun: &str,
    name: &str,
    if_exists: bool,
    done: Result<()>,
) -> Result<StatementResult> {
    match done {
        Ok(()) => Ok(StatementResult::message(sql, Outcome::Ok, format!("{noun} {name:?} dropped"))),
        Err(e) if if_exists && e.kind() == Some(ErrorKind::NotFound) => Ok(skipped(sql, noun, name)),
        Err(e) => Err(e),
    }
}

pub(super) fn described<T>(
    sql: String,
    noun: &str,
    name: &str,
    if_exists: bool,
    found: Result<T>,
    describe: fn(&T) -> Vec<(&'static str, Cell)>,
) -> Result<StatementResult> {
    match found {
        Ok(object) => {
            let rows = describe(&object).into_iter().map(|(k, v)| vec![Cell::from(k), v]).collect();
            Ok(StatementResult::message(sql, Outcome::Ok, format!("{noun} {name:?}"))
                .with_rows(&["property", "value"], rows))
        }
        Err(e) if if_exists && e.kind() == Some(ErrorKind::NotFound) => {
            Ok(skipped(sql, noun, name).with_rows(&["property", "value"], Vec::new()))
        }
        Err(e) => Err(e),
    }
}

/// `1 connection`, `2 connections`.
///
/// The `show_*` functions below render `rows` (the whole list, or one page of it) and count `total` rows in the
/// status line: the whole list's length, known once its last page has arrived.
pub(super) fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

pub(super) fn show_connections(sql: String, connections: &[Connection], total: usize) -> StatementResult {
    let rows = connections
        .iter()
        .map(|c| {
            vec![
                Cell::from(c.name.as_str()),
                Cell::from(c.connection_type.as_str()),
                Cell::from(c.status.as_str()),
                Cell::text(c.credential.as_ref().map(|r| r.name.as_str())),
                Cell::text(c.credential_storage.as_ref().map(|r| r.name.as_str())),
                Cell::text(c.credential_expires_at.as_deref()),
            ]
        })
        .collect();
    StatementResult::message(sql, Outcome::Ok, count(total, "connection", "connections"))
        .with_rows(&["name", "type", "status", "credential", "credential_storage", "credential_expires_at"], rows)
}

/// How an expiry reads now: `expires in 3 days`, `expired 2 days ago` (by this machine's clock); NULL without one.
fn expiry(expires_at: Option<&str>) -> Cell {
    let Some(text) = expires_at else { return Cell::Null };
    match text.parse::<jiff::Timestamp>() {
        Ok(at) => {
            let remaining = at.as_microsecond().saturating_sub(jiff::Timestamp::now().as_microsecond());
            Cell::Text(lanyard_core::expiry_phrase(remaining))
        }
        // Not a timestamp this side reads (a newer server's format): say nothing rather than something wrong.
        Err(_) => Cell::Null,
    }
}

/// `key=value, …` in stored order (the server has masked secret-looking values).
pub(super) fn options_text<'a>(options: impl Iterator<Item = (&'a String, String)>) -> String {
    options.map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

pub(super) fn describe_connection(c: &Connection) -> Vec<(&'static str, Cell)> {
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
        ("credential_expires_at", Cell::text(c.credential_expires_at.as_deref())),
        ("credential_expiry", expiry(c.credential_expires_at.as_deref())),
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

pub(super) fn show_entries(sql: String, entries: &[Entry], total: usize) -> StatementResult {
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
    StatementResult::message(sql, Outcome::Ok, count(total, "vault entry", "vault entries"))
        .with_rows(&["name", "type", "algorithm", "storage", "current_version", "expires_at", "rotated_at"], rows)
}

pub(super) fn describe_entry(e: &Entry) -> Vec<(&'static str, Cell)> {
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
        ("expiry", expiry(e.expires_at.as_deref())),
        ("created_at", Cell::from(e.created_at.as_str())),
        ("updated_at", Cell::from(e.updated_at.as_str())),
        ("rotated_at", Cell::text(e.rotated_at.as_deref())),
    ]
}

pub(super) fn show_backends(sql: String, backends: &[Backend], total: usize) -> StatementResult {
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
    StatementResult::message(sql, Outcome::Ok, count(total, "credential storage", "credential storages"))
        .with_rows(&["name", "type", "state", "builtin", "description"], rows)
}

pub(super) fn describe_backend(b: &Backend) -> Vec<(&'static str, Cell)> {
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

/// SHOW DATABASES, in the one column MySQL and SingleStore print, `Database` (by name: the server lists in code-point
/// order).
pub(super) fn show_databases(sql: String, databases: &[Database], total: usize) -> StatementResult {
    let message = count(total, "database", "databases");
    let rows = databases.iter().map(|d| vec![Cell::Text(d.name.clone())]).collect();
    StatementResult::message(sql, Outcome::Ok, message).with_rows(&["Database"], rows)
}

/// SHOW LINKS, in SingleStore's columns: `Link`, `Type`, `Description`, `Config` (the compact JSON text, in stored
/// key order).
pub(super) fn show_links(sql: String, database: &str, links: &[Link], total: usize) -> StatementResult {
    let rows = links
        .iter()
        .map(|l| {
            vec![
                Cell::from(l.name.as_str()),
                Cell::from(l.link_type.as_str()),
                Cell::text(l.description.as_deref()),
                Cell::Text(serde_json::Value::Object(l.config.clone()).to_string()),
            ]
        })
        .collect();
    let message = format!("{} in database {database:?}", count(total, "link", "links"));
    StatementResult::message(sql, Outcome::Ok, message).with_rows(&["Link", "Type", "Description", "Config"], rows)
}

/// SHOW PIPELINES: SingleStore's `Pipelines_in_<db>` and `State`, then the node running it (its lease holder, while
/// Running), where it reads, where it loads, its cursor, its files and its last error.
pub(super) fn show_pipelines(sql: String, database: &str, pipelines: &[Pipeline], total: usize) -> StatementResult {
    let rows = pipelines
        .iter()
        .map(|p| {
            vec![
                Cell::from(p.name.as_str()),
                Cell::from(p.state.as_str()),
                Cell::text(p.running_on.as_deref()),
                Cell::from(p.link.name.as_str()),
                Cell::from(p.path.as_str()),
                Cell::Text(format!("{} ON CONNECTION {}", p.table, p.connection.name)),
                Cell::text(p.cursor.as_deref()),
                Cell::Int(p.files.loaded),
                Cell::Int(p.files.unloaded),
                Cell::Int(p.files.failed),
                Cell::Int(p.files.rows),
                Cell::text(p.last_error.as_deref()),
            ]
        })
        .collect();
    let message = format!("{} in database {database:?}", count(total, "pipeline", "pipelines"));
    StatementResult::message(sql, Outcome::Ok, message).with_rows(
        &[
            &format!("Pipelines_in_{database}"),
            "State",
            "Running_on",
            "Link",
            "Path",
            "Target",
            "Cursor",
            "Files_loaded",
            "Files_unloaded",
            "Files_failed",
            "Rows_loaded",
            "Last_error",
        ],
        rows,
    )
}

/// SHOW FILES FOR PIPELINE: SingleStore's `PIPELINES_FILES` columns that apply, plus the rows and the reason.
pub(super) fn show_pipeline_files(sql: String, shown: &str, files: &[PipelineFile], total: usize) -> StatementResult {
    let rows = files
        .iter()
        .map(|f| {
            vec![
                Cell::from(f.key.as_str()),
                Cell::Int(f.size),
                Cell::from(f.state.as_str()),
                f.rows.map_or(Cell::Null, Cell::Int),
                Cell::text(f.error.as_deref()),
                Cell::from(f.updated_at.as_str()),
            ]
        })
        .collect();
    let message = format!("{} of pipeline {shown:?}", count(total, "file", "files"));
    StatementResult::message(sql, Outcome::Ok, message)
        .with_rows(&["File_name", "File_size", "File_state", "Rows", "Error", "Updated_at"], rows)
}

/// SHOW HISTORY: one row per version, newest first: the version (empty for the drop), when, who, the change, the
/// statement's actions as audited, and what changed (`field: before -> after`, `(none)` for no value).
pub(super) fn show_history(sql: String, noun: &str, shown: &str, versions: &[HistoryEntry]) -> StatementResult {
    let value = |v: &Option<serde_json::Value>| v.as_ref().map_or_else(|| "(none)".to_owned(), |v| v.to_string());
    let rows = versions
        .iter()
        .map(|v| {
            let changes: Vec<String> =
                v.changes.iter().map(|c| format!("{}: {} -> {}", c.field, value(&c.before), value(&c.after))).collect();
            vec![
                v.version.map_or(Cell::Null, Cell::Int),
                Cell::from(v.at.as_str()),
                Cell::from(v.principal.as_str()),
                Cell::from(v.action.as_str()),
                Cell::text(v.actions.as_ref().map(|a| a.to_string()).as_deref()),
                Cell::from(changes.join("; ").as_str()),
            ]
        })
        .collect();
    let message = format!("{} of {noun} {shown:?}", count(versions.len(), "version", "versions"));
    StatementResult::message(sql, Outcome::Ok, message)
        .with_rows(&["Version", "At", "By", "Change", "Actions", "Changes"], rows)
}

/// SHOW CREATE LINK, in SingleStore's columns: `Link Name` and `Create Link` (the server's multi-line statement).
pub(super) fn show_create_link(sql: String, shown: &str, definition: LinkDefinition) -> StatementResult {
    StatementResult::message(sql, Outcome::Ok, format!("link {shown:?}")).with_rows(
        &["Link Name", "Create Link"],
        vec![vec![Cell::Text(definition.link_name), Cell::Text(definition.create_link)]],
    )
}

/// What a TEST CONNECTION or TEST LINK probe answered.
pub(super) struct Probe {
    /// `PASSED`, `FAILED` or `UNSUPPORTED`.
    pub(super) result: String,
    /// Milliseconds, resolve included.
    pub(super) latency_ms: i64,
    /// The remote server's version.
    pub(super) server_version: Option<String>,
    /// Why it failed.
    pub(super) error: Option<String>,
}

impl From<LinkTestResult> for Probe {
    fn from(test: LinkTestResult) -> Self {
        Self {
            result: test.result,
            latency_ms: test.latency_ms,
            server_version: test.server_version,
            error: test.error,
        }
    }
}

impl From<TestResult> for Probe {
    fn from(test: TestResult) -> Self {
        Self {
            result: test.result,
            latency_ms: test.latency_ms,
            server_version: test.server_version,
            error: test.error,
        }
    }
}

/// TEST CONNECTION and TEST LINK: PASSED (or FAILED, a result and not an error; or UNSUPPORTED, its `error` the
/// notice of what is missing) with its latency, as one row.
pub(super) fn probe_result(sql: String, noun: &str, shown: &str, probe: Probe) -> StatementResult {
    let outcome = match probe.result.as_str() {
        lanyard_api::PASSED => Outcome::Passed,
        lanyard_api::UNSUPPORTED => Outcome::Unsupported,
        _ => Outcome::Failed,
    };
    let message = format!("{noun} {shown:?}: {} in {} ms", probe.result, probe.latency_ms);
    StatementResult::message(sql, outcome, message).with_rows(
        &["result", "latency_ms", "server_version", "error"],
        vec![vec![
            Cell::Text(probe.result),
            Cell::Int(probe.latency_ms),
            Cell::text(probe.server_version),
            Cell::text(probe.error),
        ]],
    )
}

/// DESCRIBE LINK: the link's properties; of its credentials only where they live (`link`: a vault entry the link owns;
/// `vault entry <name>`: CREDENTIALS FROM VAULT; NULL: none).
pub(super) fn describe_link(l: &Link) -> Vec<(&'static str, Cell)> {
    let credentials = l.credentials.as_ref().map(|c| match c {
        LinkCredentials::Link => "link".to_owned(),
        LinkCredentials::VaultEntry { entry } => format!("vault entry {}", entry.name),
    });
    vec![
        ("id", Cell::from(l.id.as_str())),
        ("database", Cell::from(l.database.as_str())),
        ("name", Cell::from(l.name.as_str())),
        ("type", Cell::from(l.link_type.as_str())),
        ("description", Cell::text(l.description.as_deref())),
        ("config", Cell::Text(serde_json::Value::Object(l.config.clone()).to_string())),
        ("credentials", Cell::text(credentials)),
        ("created_at", Cell::from(l.created_at.as_str())),
        ("updated_at", Cell::from(l.updated_at.as_str())),
        ("version", Cell::Int(l.version)),
    ]
}
