//! Migrations: plain SQL files per database, applied in one transaction at open, recorded with SHA-256 checksums.

use sha2::{Digest, Sha256};

use crate::db::{Conn, Param, Pool, RoundTrips};
use crate::error::{CatalogError, Result};
use crate::time::Timestamp;

/// One migration: its number, name and SQL for each database.
pub struct Migration {
    /// Sequence number, starting at 1.
    pub version: i64,
    /// Short description (the file name without number and extension).
    pub name: &'static str,
    /// SQLite flavour.
    pub sqlite: &'static str,
    /// PostgreSQL flavour.
    pub postgres: &'static str,
}

/// Every migration this build knows, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "databases",
        sqlite: include_str!("../migrations/sqlite/0002_databases.sql"),
        postgres: include_str!("../migrations/postgres/0002_databases.sql"),
    },
    Migration {
        version: 3,
        name: "pipelines",
        sqlite: include_str!("../migrations/sqlite/0003_pipelines.sql"),
        postgres: include_str!("../migrations/postgres/0003_pipelines.sql"),
    },
    Migration {
        version: 4,
        name: "connection_tests",
        sqlite: include_str!("../migrations/sqlite/0004_connection_tests.sql"),
        postgres: include_str!("../migrations/postgres/0004_connection_tests.sql"),
    },
    Migration {
        version: 5,
        name: "name_grams",
        sqlite: include_str!("../migrations/sqlite/0005_name_grams.sql"),
        postgres: include_str!("../migrations/postgres/0005_name_grams.sql"),
    },
    Migration {
        version: 6,
        name: "object_history",
        sqlite: include_str!("../migrations/sqlite/0006_object_history.sql"),
        postgres: include_str!("../migrations/postgres/0006_object_history.sql"),
    },
];

/// SHA-256 of a migration's text, hex.
pub fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// The key of the transaction-level advisory lock that serialises the migrations of nodes starting together on one
/// PostgreSQL catalog.
const MIGRATION_LOCK_KEY: i64 = 7_468_376_167;

/// Applies what is missing of `migrations`, all in one transaction; verifies the checksums of those applied before.
///
/// On PostgreSQL several nodes may start at once on an empty catalog. The transaction's first statement takes an
/// advisory lock, before anything looks at a table (the migrations table included); the transaction runs READ
/// COMMITTED, so what follows the lock sees whatever the node that held it before committed, and re-checks which
/// migrations are applied after acquiring it: one node applies them, the others wait and then find them done.
pub(crate) async fn apply(pool: &Pool, trips: &RoundTrips, migrations: &[Migration]) -> Result<()> {
    let mut conn = pool.begin_migration(trips).await?;
    let result = apply_in(&mut conn, pool, migrations).await;
    match result {
        Ok(()) => conn.commit().await,
        Err(e) => {
            let _ = conn.rollback().await;
            Err(e)
        }
    }
}

async fn apply_in(conn: &mut Conn, pool: &Pool, migrations: &[Migration]) -> Result<()> {
    if matches!(pool, Pool::Postgres(_)) {
        // Before any look at a table; released by the COMMIT or ROLLBACK of this transaction.
        conn.execute("SELECT pg_advisory_xact_lock($1)", vec![Param::Int(MIGRATION_LOCK_KEY)]).await?;
    }
    conn.execute_script(
        "CREATE TABLE IF NOT EXISTS lanyard_migrations (\
            version BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied =
        conn.fetch_all("SELECT version, name, checksum FROM lanyard_migrations ORDER BY version", vec![]).await?;
    for row in &applied {
        let version = row.int("version")?;
        let name = row.text("name")?;
        let Some(known) = migrations.iter().find(|m| m.version == version) else {
            return Err(CatalogError::Migration {
                version,
                name,
                problem: "applied to this catalog but unknown to this build; upgrade lanyard".to_owned(),
            });
        };
        let sql = if matches!(pool, Pool::Sqlite(_)) { known.sqlite } else { known.postgres };
        if row.text("checksum")? != checksum(sql) {
            return Err(CatalogError::Migration {
                version,
                name,
                problem: "its SQL has changed since it was applied (checksum mismatch); restore the original file"
                    .to_owned(),
            });
        }
    }
    for migration in migrations.iter().filter(|m| m.version > applied.len() as i64) {
        let sql = if matches!(pool, Pool::Sqlite(_)) { migration.sqlite } else { migration.postgres };
        conn.execute_script(sql).await.map_err(|e| CatalogError::Migration {
            version: migration.version,
            name: migration.name.to_owned(),
            problem: e.to_string(),
        })?;
        conn.execute(
            "INSERT INTO lanyard_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
            vec![
                Param::Int(migration.version),
                Param::Text(migration.name.to_owned()),
                Param::Text(checksum(sql)),
                Param::Int(Timestamp::now().as_micros()),
            ],
        )
        .await?;
    }
    Ok(())
}
