//! `lanyard apply -f connections.sql [--plan] [--prune]`: a script of CREATE CONNECTION statements is the desired
//! state of the connections it names. The plan compares each with the catalog — create, alter (the fields that
//! differ, shown as SHOW HISTORY shows a change), unchanged, and with `--prune` drop the connections the file does
//! not name — and `--plan` stops there. Otherwise each step is applied on its own, with `If-Match` on the version it
//! was planned from, so a change made by someone else since the plan stops the apply instead of being overwritten.
//!
//! Exit codes: 0 nothing to change (or every change applied), 1 the file is wrong or the apply stopped, 3 the server
//! is unreachable or refused the token, 5 `--plan` found changes.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use lanyard_api::{AlterConnection, Connection, ConnectionAction, CreateConnection, OrderedMap};
use lanyard_client::Client;
use lanyard_core::ErrorKind;
use lanyard_sql::Statement;
use lanyard_sql::ast::CreateConnection as CreateStatement;
use serde_json::Value;

use crate::place::Place;
use crate::remote::ServerArgs;

/// The file is wrong, or the apply stopped.
const EXIT_FAILED: u8 = 1;
/// The server is unreachable or refused the token.
const EXIT_ENVIRONMENT: u8 = 3;
/// `--plan` found changes.
const EXIT_CHANGES: u8 = 5;

/// `lanyard apply` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ApplyArgs {
    /// The script of CREATE CONNECTION statements (`-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE", required = true)]
    file: String,
    /// Print the plan and change nothing; exit 5 when it has changes, 0 when it has none.
    #[arg(long)]
    plan: bool,
    /// Also drop the connections of the catalog that the file does not name.
    #[arg(long)]
    prune: bool,
    #[command(flatten)]
    remote: ServerArgs,
    #[command(flatten)]
    place: Place,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// The connection does not exist.
    Create(Box<CreateConnection>),
    /// It exists at `version` and differs in `changes`.
    Alter { name: String, version: i64, actions: Vec<ConnectionAction>, changes: Vec<String> },
    /// It exists and is as the file says.
    Unchanged { name: String },
    /// `--prune`: it exists at `version` and the file does not name it.
    Drop { name: String, version: i64 },
}

impl Step {
    fn changes_anything(&self) -> bool {
        !matches!(self, Step::Unchanged { .. })
    }

    /// The plan's line for this step.
    fn line(&self) -> String {
        match self {
            Step::Create(request) => format!("+ create connection {:?}", request.name),
            Step::Alter { name, version, changes, .. } => {
                format!("~ alter connection {name:?} (version {version}): {}", changes.join("; "))
            }
            Step::Unchanged { name } => format!("= connection {name:?} unchanged"),
            Step::Drop { name, version } => format!("- drop connection {name:?} (version {version})"),
        }
    }
}

/// `lanyard apply`.
pub(crate) fn run(args: ApplyArgs) -> Result<ExitCode> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: ApplyArgs) -> Result<ExitCode> {
    let text = if args.file == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file))
    };
    let desired = match text.and_then(|text| desired(&text, &args.file)) {
        Ok(desired) => desired,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    let client = match args.remote.client(&args.place.data_dir) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(EXIT_ENVIRONMENT));
        }
    };
    let steps = match plan(&client, &desired, args.prune).await {
        Ok(steps) => steps,
        Err(error) => return Ok(failed(&error)),
    };
    let changes = steps.iter().filter(|s| s.changes_anything()).count();
    for step in &steps {
        println!("{}", step.line());
    }
    if changes == 0 {
        println!("no changes");
        return Ok(ExitCode::SUCCESS);
    }
    if args.plan {
        println!("{changes} to change; run without --plan to apply");
        return Ok(ExitCode::from(EXIT_CHANGES));
    }
    #[cfg(feature = "failpoints")]
    fail::fail_point!("apply::after-plan");
    for step in &steps {
        if let Err(error) = apply(&client, step).await {
            eprintln!("error: {error:#}");
            eprintln!(
                "the apply stopped at {}: the steps before it are applied, the rest are not; run lanyard apply again to \
                 plan from the catalog as it is now",
                step.line()
            );
            return Ok(ExitCode::from(if is_environment(&error) { EXIT_ENVIRONMENT } else { EXIT_FAILED }));
        }
    }
    println!("{changes} changed");
    Ok(ExitCode::SUCCESS)
}

/// Whether `error` says the server is unreachable or refused the token.
fn is_environment(error: &anyhow::Error) -> bool {
    error.downcast_ref::<lanyard_client::Error>().is_some_and(lanyard_client::Error::is_environment)
}

fn failed(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::from(if is_environment(error) { EXIT_ENVIRONMENT } else { EXIT_FAILED })
}

/// The connections the script declares, in written order: every statement must be a CREATE CONNECTION (without
/// IF NOT EXISTS, which would say nothing about a connection that exists), each name once.
fn desired(text: &str, origin: &str) -> Result<Vec<CreateConnection>> {
    let script = lanyard_sql::parse_script(text);
    if let Some(error) = script.errors.first() {
        bail!("{origin}: {error}");
    }
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for spanned in &script.statements {
        let line = spanned.span.start.line;
        let Statement::CreateConnection(statement) = &spanned.statement else {
            bail!(
                "{origin}:{line}: lanyard apply takes CREATE CONNECTION statements only, not {}",
                spanned.statement.kind()
            );
        };
        if statement.if_not_exists {
            bail!("{origin}:{line}: IF NOT EXISTS has no place in a desired state: the file says what exists");
        }
        if let Some(first) = seen.insert(statement.name.to_string(), line) {
            bail!(
                "{origin}:{line}: connection {:?} is declared twice (first at line {first})",
                statement.name.as_str()
            );
        }
        out.push(request(statement));
    }
    Ok(out)
}

/// The wire form of a CREATE CONNECTION (connections hold no secret: the server refuses secret-looking options).
fn request(s: &CreateStatement) -> CreateConnection {
    CreateConnection {
        name: s.name.as_str().to_owned(),
        connection_type: s.connection_type.as_str().to_owned(),
        description: s.description.clone(),
        options: s.options.iter_exposed().map(|(k, v)| (k.to_owned(), Value::String(v.to_owned()))).collect(),
        credential: s.credential.as_ref().map(|n| n.as_str().to_owned()),
        credential_storage: s.credential_storage.as_ref().map(|n| n.as_str().to_owned()),
        max_connections: s.max_connections.map(i64::from),
        timeout_seconds: s.timeout_seconds.map(i64::from),
        if_not_exists: false,
    }
}

/// The plan: a step per declared connection, then (with `prune`) a drop per connection the file does not name.
async fn plan(client: &Client, desired: &[CreateConnection], prune: bool) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for wanted in desired {
        let step = match client.get_connection(&wanted.name).await {
            Ok(current) => compare(wanted, &current)?,
            Err(error) if error.kind() == Some(ErrorKind::NotFound) => Step::Create(Box::new(wanted.clone())),
            Err(error) => return Err(error.into()),
        };
        steps.push(step);
    }
    if prune {
        for current in client.list_connections(None).await? {
            if !desired.iter().any(|d| d.name == current.name) {
                steps.push(Step::Drop { name: current.name, version: current.version });
            }
        }
    }
    Ok(steps)
}

/// The options as a map (their order is not part of what a connection is).
fn option_map(options: &OrderedMap) -> BTreeMap<&str, &Value> {
    options.iter().map(|(k, v)| (k.as_str(), v)).collect()
}

/// How a value shows in the plan, as SHOW HISTORY shows it.
fn shown<T: Into<Value>>(value: Option<T>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| v.into().to_string())
}

/// The step that takes `current` to `wanted`: unchanged, or an ALTER of the fields that differ.
fn compare(wanted: &CreateConnection, current: &Connection) -> Result<Step> {
    if !wanted.connection_type.eq_ignore_ascii_case(&current.connection_type) {
        bail!(
            "connection {:?} is TYPE = {} in the catalog and {} in the file: a type cannot be altered; drop the \
             connection first (or run with --prune after removing it from the file)",
            wanted.name,
            current.connection_type,
            wanted.connection_type
        );
    }
    let mut actions = Vec::new();
    let mut changes = Vec::new();
    let (now, then) = (option_map(&wanted.options), option_map(&current.options));
    if now != then {
        for (key, value) in &now {
            if then.get(key) != Some(value) {
                changes.push(format!(
                    "options.{key}: {} -> {}",
                    shown(then.get(key).copied().cloned()),
                    shown(Some((*value).clone()))
                ));
            }
        }
        for (key, value) in &then {
            if !now.contains_key(key) {
                changes.push(format!("options.{key}: {} -> (none)", shown(Some((*value).clone()))));
            }
        }
        actions.push(ConnectionAction::SetOptions(wanted.options.clone()));
    }
    let current_credential = current.credential.as_ref().map(|r| r.name.clone());
    if wanted.credential != current_credential {
        changes.push(format!("credential: {} -> {}", shown(current_credential), shown(wanted.credential.clone())));
        actions.push(match &wanted.credential {
            Some(name) => ConnectionAction::SetCredential(name.clone()),
            None => ConnectionAction::UnsetCredential,
        });
    }
    let current_storage = current.credential_storage.as_ref().map(|r| r.name.clone());
    if wanted.credential_storage != current_storage {
        changes.push(format!(
            "credential_storage: {} -> {}",
            shown(current_storage),
            shown(wanted.credential_storage.clone())
        ));
        actions.push(match &wanted.credential_storage {
            Some(name) => ConnectionAction::SetCredentialStorage(name.clone()),
            None => ConnectionAction::UnsetCredentialStorage,
        });
    }
    if wanted.description != current.description {
        changes.push(format!(
            "description: {} -> {}",
            shown(current.description.clone()),
            shown(wanted.description.clone())
        ));
        actions.push(ConnectionAction::SetDescription(wanted.description.clone()));
    }
    if wanted.max_connections != current.max_connections {
        changes.push(format!(
            "max_connections: {} -> {}",
            shown(current.max_connections),
            shown(wanted.max_connections)
        ));
        actions.push(ConnectionAction::SetMaxConnections(wanted.max_connections));
    }
    if wanted.timeout_seconds != current.timeout_seconds {
        changes.push(format!(
            "timeout_seconds: {} -> {}",
            shown(current.timeout_seconds),
            shown(wanted.timeout_seconds)
        ));
        actions.push(ConnectionAction::SetTimeout(wanted.timeout_seconds));
    }
    Ok(if actions.is_empty() {
        Step::Unchanged { name: wanted.name.clone() }
    } else {
        Step::Alter { name: wanted.name.clone(), version: current.version, actions, changes }
    })
}

/// Applies one step, with `If-Match` on the version it was planned from.
async fn apply(client: &Client, step: &Step) -> Result<()> {
    let stale = |name: &str, version: i64| {
        format!("connection {name:?} changed since the plan (planned from version {version}): nothing was overwritten")
    };
    match step {
        Step::Unchanged { .. } => {}
        Step::Create(request) => match client.create_connection(request).await {
            Ok(_) => println!("created connection {:?}", request.name),
            Err(error) if error.kind() == Some(ErrorKind::AlreadyExists) => {
                bail!("connection {:?} was created since the plan: nothing was overwritten", request.name)
            }
            Err(error) => return Err(error.into()),
        },
        Step::Alter { name, version, actions, .. } => {
            let request = AlterConnection { actions: actions.clone() };
            match client.alter_connection(name, &request, Some(*version)).await {
                Ok(altered) => println!("altered connection {name:?} (version {})", altered.version),
                Err(error) if error.kind() == Some(ErrorKind::PreconditionFailed) => bail!(stale(name, *version)),
                Err(error) if error.kind() == Some(ErrorKind::NotFound) => {
                    bail!("connection {name:?} was dropped since the plan")
                }
                Err(error) => return Err(error.into()),
            }
        }
        Step::Drop { name, version } => match client.drop_connection(name, Some(*version)).await {
            Ok(()) => println!("dropped connection {name:?}"),
            Err(error) if error.kind() == Some(ErrorKind::PreconditionFailed) => bail!(stale(name, *version)),
            Err(error) => return Err(error.into()),
        },
    }
    Ok(())
}
