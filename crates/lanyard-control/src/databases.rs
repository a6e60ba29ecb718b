//! CREATE DATABASE, DROP DATABASE and SHOW DATABASES: the namespaces links and pipelines live in (rows of the
//! `databases` table).
//!
//! `default` is seeded and can never be dropped. Any other database is created by CREATE DATABASE, or by the first
//! CREATE LINK into it (in that link's transaction, `links::ensure_database`), and stays until DROP DATABASE, which is
//! refused while a link or a pipeline lives in it.
//!
//! Permissions: the spec has no databases permission, and a database is only ever the namespace of links (and of
//! pipelines, which load through links), so SHOW DATABASES needs `links:read` and CREATE / DROP DATABASE need
//! `links:write`, the permissions of the statements that already create databases implicitly (CREATE LINK) and
//! check that they exist (USE, SHOW LINKS ON).

use lanyard_catalog::{CatalogError, Database, Link, Listed, Meta, Page, Pipeline, Record as _, transaction};
use lanyard_core::{AuditAction, ErrorKind, ObjectKind, printable};

use crate::error::{ControlError, Result};
use crate::links::{DEFAULT_DATABASE, database_not_found};
use crate::model::{Created, DatabaseView};
use crate::{Caller, ControlPlane, Permission, audit, detail, snapshot, valid_name};

/// How many links (and, apart, pipelines) a refused DROP DATABASE names before it only counts the rest.
const NAMED_DEPENDENTS: usize = 10;

fn to_view(row: Database) -> DatabaseView {
    DatabaseView {
        id: row.meta.id,
        name: row.name.to_string(),
        created_at: row.meta.created_at,
        version: row.meta.version,
    }
}

/// `link a.x, a.y` or `links a.x, a.y, … and 3 more`: what a refused DROP DATABASE says is still in the database.
fn listed(noun: &str, names: &[String]) -> String {
    let plural = if names.len() == 1 { "" } else { "s" };
    let shown = names.iter().take(NAMED_DEPENDENTS).map(String::as_str).collect::<Vec<_>>().join(", ");
    match names.len().saturating_sub(NAMED_DEPENDENTS) {
        0 => format!("{noun}{plural} {shown}"),
        more => format!("{noun}{plural} {shown} and {more} more"),
    }
}

impl ControlPlane {
    /// SHOW DATABASES [LIKE]: every database whose name contains `like` (case-insensitive), by name.
    pub async fn list_databases(&self, caller: &Caller, like: Option<&str>) -> Result<Vec<DatabaseView>> {
        Ok(self.list_databases_page(caller, like, &Page::default()).await?.rows)
    }

    /// One page of [`ControlPlane::list_databases`] (by name in code-point order on every catalog database,
    /// whatever its collation: see [`lanyard_catalog::Tx::list_page`]).
    pub async fn list_databases_page(
        &self,
        caller: &Caller,
        like: Option<&str>,
        page: &Page,
    ) -> Result<Listed<DatabaseView>> {
        self.authorize(caller, Permission::LinksRead, AuditAction::DatabaseList, None).await?;
        snapshot!(self, |tx| {
            let Listed { rows, next } = tx.list_page::<Database>(like, None, page).await?;
            Ok(Listed { rows: rows.into_iter().map(to_view).collect(), next })
        })
    }

    /// CREATE DATABASE [IF NOT EXISTS]. `created` is false when IF NOT EXISTS found the database (unchanged, and
    /// not audited); without it an existing database is [`ErrorKind::AlreadyExists`].
    pub async fn create_database(
        &self,
        caller: &Caller,
        name: &str,
        if_not_exists: bool,
    ) -> Result<Created<DatabaseView>> {
        self.authorize(caller, Permission::LinksWrite, AuditAction::DatabaseCreate, Some(name)).await?;
        let name = valid_name(ObjectKind::Database, name)?;
        transaction!(self.catalog(), |tx| -> Result<_> {
            if let Some(existing) = tx.find_by_name::<Database>(&[name.as_str()]).await? {
                if if_not_exists {
                    return Ok(Created { value: to_view(existing), created: false });
                }
                return Err(ControlError::new(
                    ErrorKind::AlreadyExists,
                    format!("database {:?} already exists", name.as_str()),
                ));
            }
            crate::refuse_lookalike::<Database>(tx, ObjectKind::Database, &[], &name, None).await?;
            let stored = match tx.insert(Database { meta: Meta::new(), name: name.clone() }).await {
                Ok(stored) => stored,
                // Created by a concurrent request since the lookup: rerun, and answer as if it had been there.
                Err(error @ CatalogError::AlreadyExists { .. }) => return Err(ControlError::from(error).retryable()),
                Err(error) => return Err(error.into()),
            };
            let record = audit(
                caller,
                AuditAction::DatabaseCreate,
                ObjectKind::Database,
                stored.meta.id,
                name.as_str(),
                detail([]),
            );
            tx.append_audit(&record).await?;
            Ok(Created { value: to_view(stored), created: true })
        })
    }

    /// DROP DATABASE: refused for `default` ([`ErrorKind::Invalid`]) and while links or pipelines live in the
    /// database ([`ErrorKind::Conflict`], naming them); with `if_match`, only at that version.
    pub async fn drop_database(&self, caller: &Caller, name: &str, if_match: Option<i64>) -> Result<()> {
        self.authorize(caller, Permission::LinksWrite, AuditAction::DatabaseDrop, Some(name)).await?;
        let name = valid_name(ObjectKind::Database, name)?;
        if name.as_str() == DEFAULT_DATABASE {
            return Err(ControlError::conflict(format!(
                "database {DEFAULT_DATABASE:?} cannot be dropped: it always exists, and every session starts in it"
            )));
        }
        transaction!(self.catalog(), |tx| -> Result<_> {
            let Some(row) = tx.find_by_name::<Database>(&[name.as_str()]).await? else {
                return Err(database_not_found(name.as_str()));
            };
            crate::connections::check_version(ObjectKind::Database, name.as_str(), row.meta.version, if_match)?;
            let links: Vec<String> =
                tx.list::<Link>(None, Some(name.as_str())).await?.iter().map(|l| l.display()).collect();
            let pipelines: Vec<String> =
                tx.list::<Pipeline>(None, Some(name.as_str())).await?.iter().map(|p| p.display()).collect();
            if !links.is_empty() || !pipelines.is_empty() {
                let held: Vec<String> = [("link", &links), ("pipeline", &pipelines)]
                    .into_iter()
                    .filter(|(_, names)| !names.is_empty())
                    .map(|(noun, names)| listed(noun, names))
                    .collect();
                return Err(ControlError::conflict(format!(
                    "cannot drop database {:?}: it still holds {}; drop {} first",
                    printable(name.as_str(), 128),
                    held.join(" and "),
                    if links.len() + pipelines.len() == 1 { "it" } else { "them" },
                )));
            }
            tx.delete::<Database>(row.meta.id, Some(row.meta.version)).await?;
            let record =
                audit(caller, AuditAction::DatabaseDrop, ObjectKind::Database, row.meta.id, name.as_str(), detail([]));
            tx.append_audit(&record).await?;
            Ok(())
        })
    }
}
