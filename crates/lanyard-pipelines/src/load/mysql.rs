//! The MySQL / MariaDB target: multi-row `INSERT` statements in a `READ COMMITTED` transaction that first inserts
//! the ledger row, with `STRICT_ALL_TABLES` in the session's `sql_mode` for the load.

use std::ops::Range;

use lanyard_core::{LoadFormat, PipelineId, TableRef};
use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, IsolationLevel, Transaction, TxOpts};

use super::{Cell, Column, FileToLoad, LEDGER_TABLE, LedgerEntry, LoadError, Loaded, prepare};

/// The most rows one `INSERT` statement carries.
pub const MYSQL_BATCH_ROWS: usize = 1000;

/// The most bytes of SQL one `INSERT` statement grows to before it is cut (well under the smallest default
/// `max_allowed_packet`, 4 MiB).
const BATCH_BYTES: usize = 1024 * 1024;

/// The longest object key the ledger's `VARBINARY(1024)` key column holds (S3's and GCS's own limit).
const MAX_KEY_BYTES: usize = 1024;

/// Loads `file` into `table` exactly once (see the [module](super) doc): `Earlier` when the ledger already has its
/// key, else its rows and its ledger row in one transaction, or nothing and the reason.
///
/// Creates the ledger table when it is missing. A table named without a database is in the session's current
/// database. The session's `sql_mode` gets `STRICT_ALL_TABLES` for the load and is put back after. The session must
/// not be inside a transaction.
pub async fn load_mysql(
    conn: &mut Conn,
    table: &TableRef,
    format: &LoadFormat,
    file: FileToLoad<'_>,
) -> Result<Loaded, LoadError> {
    if file.key.len() > MAX_KEY_BYTES {
        return Err(LoadError::permanent(format!(
            "the object key is {} bytes long; the MySQL ledger holds keys of at most {MAX_KEY_BYTES}",
            file.key.len()
        )));
    }
    let target = Target::resolve(conn, table).await?;
    if !target.has_ledger {
        create_ledger(conn, &target.database).await?;
    }
    let saved: String = conn
        .query_first("SELECT @@SESSION.sql_mode")
        .await
        .map_err(|e| target_error("read the session's sql_mode", &e))?
        .unwrap_or_default();
    let mode = strict(&saved);
    let no_backslash_escapes = mode.split(',').any(|m| m.trim().eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES"));
    conn.exec_drop("SET SESSION sql_mode = ?", (&mode,)).await.map_err(|e| target_error("set sql_mode", &e))?;
    let result = transaction(conn, &target, table, format, &file, no_backslash_escapes).await;
    if let Err(error) = conn.exec_drop("SET SESSION sql_mode = ?", (&saved,)).await {
        // The load's outcome stands; a session that cannot run this is lost anyway.
        tracing::debug!(error = %error, "could not put the session's sql_mode back");
    }
    result
}

/// The ledger of `pipeline` in `table`'s database (the session's current one for a table named without one), by
/// key; empty when there is no ledger table.
pub async fn ledger_mysql(
    conn: &mut Conn,
    table: &TableRef,
    pipeline: PipelineId,
) -> Result<Vec<LedgerEntry>, LoadError> {
    let Some(database) = database_of(conn, table).await? else { return Ok(Vec::new()) };
    if !has_table(conn, &database, LEDGER_TABLE).await? {
        return Ok(Vec::new());
    }
    let rows: Vec<(Vec<u8>, Option<String>, i64, i64)> = conn
        .exec(
            format!(
                "SELECT object_key, etag, rows_loaded, TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', loaded_at) \
                 FROM {} WHERE pipeline_id = ? ORDER BY object_key",
                ledger_name(&database)
            ),
            (pipeline.to_string(),),
        )
        .await
        .map_err(|e| target_error("read the ledger", &e))?;
    rows.into_iter()
        .map(|(key, etag, rows, loaded_at_micros)| {
            let key = String::from_utf8(key).map_err(|_| {
                LoadError::permanent(format!("the ledger {} holds a key that is not UTF-8", ledger_name(&database)))
            })?;
            Ok(LedgerEntry { key, etag, rows: u64::try_from(rows).unwrap_or(0), loaded_at_micros })
        })
        .collect()
}

/// The target table as found in the database.
struct Target {
    /// Its database.
    database: String,
    /// `` `database`.`table` ``.
    qualified: String,
    /// Its columns, in order.
    columns: Vec<Column>,
    /// Whether the database has the ledger table.
    has_ledger: bool,
}

impl Target {
    async fn resolve(conn: &mut Conn, table: &TableRef) -> Result<Self, LoadError> {
        let Some(database) = database_of(conn, table).await? else {
            return Err(LoadError::permanent(format!(
                "table \"{table}\" names no database and the session has none: name it as database.table"
            )));
        };
        let rows: Vec<(String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (&database, table.table.as_str()),
            )
            .await
            .map_err(|e| target_error(&format!("look up table \"{table}\""), &e))?;
        if rows.is_empty() {
            return Err(LoadError::permanent(format!(
                "table \"{database}.{}\" does not exist, or this user may not see it",
                table.table
            )));
        }
        // Only a transactional engine rolls a file back whole: MyISAM, Aria or MEMORY would keep the rows inserted
        // before a bad one while the ledger row (InnoDB) rolls back.
        let engine: Option<Option<String>> = conn
            .exec_first(
                "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&database, table.table.as_str()),
            )
            .await
            .map_err(|e| target_error(&format!("look up table \"{table}\""), &e))?;
        if let Some(Some(engine)) = engine
            && !TRANSACTIONAL_ENGINES.iter().any(|known| engine.eq_ignore_ascii_case(known))
        {
            return Err(LoadError::permanent(format!(
                "table \"{database}.{}\" uses the {engine} engine, which has no transactions: a pipeline loads each \
                 file all or nothing, so it needs a transactional table (InnoDB)",
                table.table
            )));
        }
        let columns = rows
            .into_iter()
            .map(|(name, extra)| {
                let extra = extra.to_ascii_uppercase();
                let generated = ["VIRTUAL GENERATED", "STORED GENERATED", "PERSISTENT GENERATED"]
                    .iter()
                    .any(|kind| extra.contains(kind));
                Column { name, generated }
            })
            .collect();
        let has_ledger = has_table(conn, &database, LEDGER_TABLE).await?;
        let qualified = format!("{}.{}", ident(&database), ident(table.table.as_str()));
        Ok(Self { database, qualified, columns, has_ledger })
    }
}

/// Engines that roll a transaction back whole.
const TRANSACTIONAL_ENGINES: &[&str] = &["InnoDB", "XtraDB", "TokuDB", "RocksDB", "NDB", "ndbcluster"];

/// The database `table` is in: its own, else the session's current one.
async fn database_of(conn: &mut Conn, table: &TableRef) -> Result<Option<String>, LoadError> {
    match &table.schema {
        Some(schema) => Ok(Some(schema.as_str().to_owned())),
        None => Ok(conn
            .query_first::<Option<String>, _>("SELECT DATABASE()")
            .await
            .map_err(|e| target_error("read the session's database", &e))?
            .flatten()),
    }
}

async fn has_table(conn: &mut Conn, database: &str, table: &str) -> Result<bool, LoadError> {
    let count: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (database, table),
        )
        .await
        .map_err(|e| target_error(&format!("look up table \"{database}.{table}\""), &e))?;
    Ok(count.unwrap_or(0) > 0)
}

/// Creates the ledger table in `database` (outside any transaction: DDL commits). Concurrent creators are fine:
/// `IF NOT EXISTS` under the server's metadata lock.
async fn create_ledger(conn: &mut Conn, database: &str) -> Result<(), LoadError> {
    let ddl = format!(
        "CREATE TABLE IF NOT EXISTS {} (\
             pipeline_id CHAR(36) CHARACTER SET ascii NOT NULL, \
             object_key VARBINARY({MAX_KEY_BYTES}) NOT NULL, \
             etag VARCHAR(1024), \
             rows_loaded BIGINT NOT NULL, \
             loaded_at DATETIME(6) NOT NULL, \
             PRIMARY KEY (pipeline_id, object_key)) ENGINE = InnoDB",
        ledger_name(database)
    );
    match conn.query_drop(&ddl).await {
        Ok(()) => Ok(()),
        // ER_TABLE_EXISTS_ERROR, should a server report the race rather than wait it out.
        Err(mysql_async::Error::Server(e)) if e.code == 1050 => Ok(()),
        Err(e) => Err(target_error(&format!("create the ledger table {}", ledger_name(database)), &e)),
    }
}

/// BEGIN, the load, then COMMIT (or ROLLBACK and the reason); `Earlier` read after the rollback.
async fn transaction(
    conn: &mut Conn,
    target: &Target,
    table: &TableRef,
    format: &LoadFormat,
    file: &FileToLoad<'_>,
    no_backslash_escapes: bool,
) -> Result<Loaded, LoadError> {
    let mut options = TxOpts::default();
    options.with_isolation_level(IsolationLevel::ReadCommitted);
    let mut tx = conn.start_transaction(options).await.map_err(|e| target_error("begin a transaction", &e))?;
    let result = load_in(&mut tx, target, table, format, file, no_backslash_escapes).await;
    let rows = match result {
        Ok(Some(rows)) => {
            tx.commit().await.map_err(|e| target_error("commit", &e))?;
            tracing::debug!(table = %table, key = file.key, rows, "file loaded");
            return Ok(Loaded::Now { rows });
        }
        Ok(None) => {
            tx.rollback().await.map_err(|e| target_error("end the transaction", &e))?;
            // Another load of this key committed (we waited for it if it was running); read its count.
            let rows: Option<i64> = conn
                .exec_first(
                    format!(
                        "SELECT rows_loaded FROM {} WHERE pipeline_id = ? AND object_key = ?",
                        ledger_name(&target.database)
                    ),
                    (file.pipeline.to_string(), file.key),
                )
                .await
                .map_err(|e| target_error("read the ledger row", &e))?;
            rows.ok_or_else(|| LoadError::target("the ledger row this load waited for was deleted meanwhile", true))?
        }
        Err(error) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rollback after a failed load failed");
            }
            return Err(error);
        }
    };
    Ok(Loaded::Earlier { rows: u64::try_from(rows).unwrap_or(0) })
}

/// One `INSERT` statement: its SQL and, for each row, its file line and where its `(…)` is in the SQL.
struct Batch {
    sql: String,
    rows: Vec<(u64, Range<usize>)>,
}

/// Inside the transaction: the ledger row first (`None` when the key is there already), the rows, the ledger
/// row's count.
async fn load_in(
    tx: &mut Transaction<'_>,
    target: &Target,
    table: &TableRef,
    format: &LoadFormat,
    file: &FileToLoad<'_>,
    no_backslash_escapes: bool,
) -> Result<Option<u64>, LoadError> {
    let ledger = ledger_name(&target.database);
    let pipeline = file.pipeline.to_string();
    let insert = format!(
        "INSERT INTO {ledger} (pipeline_id, object_key, etag, rows_loaded, loaded_at) \
         VALUES (?, ?, ?, 0, UTC_TIMESTAMP(6))"
    );
    match tx.exec_drop(insert, (&pipeline, file.key.as_bytes(), file.etag)).await {
        Ok(()) => {}
        // ER_DUP_ENTRY: the key is in the ledger.
        Err(mysql_async::Error::Server(e)) if e.code == 1062 => return Ok(None),
        Err(e) => return Err(target_error("write the ledger row", &e)),
    }
    let prepared = prepare(format, file.body, table, &target.columns)?;
    let names: Vec<&str> = prepared.columns.iter().map(|&i| target.columns[i].name.as_str()).collect();
    let prefix = format!(
        "INSERT INTO {} ({}) VALUES ",
        target.qualified,
        names.iter().map(|n| ident(n)).collect::<Vec<_>>().join(", ")
    );
    let mut batches: Vec<Batch> = Vec::new();
    let mut batch = Batch { sql: prefix.clone(), rows: Vec::new() };
    prepared.rows.for_each(&names, |line, cells| {
        if !batch.rows.is_empty() {
            if batch.rows.len() >= MYSQL_BATCH_ROWS || batch.sql.len() >= BATCH_BYTES {
                batches.push(std::mem::replace(&mut batch, Batch { sql: prefix.clone(), rows: Vec::new() }));
            } else {
                batch.sql.push_str(", ");
            }
        }
        let start = batch.sql.len();
        push_row(&mut batch.sql, cells, no_backslash_escapes);
        batch.rows.push((line, start..batch.sql.len()));
        Ok(())
    })?;
    if !batch.rows.is_empty() {
        batches.push(batch);
    }
    let mut loaded = 0;
    for batch in &batches {
        match tx.query_drop(&batch.sql).await {
            Ok(()) => loaded += tx.affected_rows(),
            Err(error) => return Err(batch_error(tx, &prefix, batch, error, &target.columns).await),
        }
    }
    tx.exec_drop(
        format!("UPDATE {ledger} SET rows_loaded = ? WHERE pipeline_id = ? AND object_key = ?"),
        (loaded, &pipeline, file.key.as_bytes()),
    )
    .await
    .map_err(|e| target_error("write the ledger row", &e))?;
    Ok(Some(loaded))
}

/// What a failed `INSERT` means. A data error is the file's: its row is the server's `at row N`, or else the first
/// row the server refuses when the statement's rows are replayed one by one (the failed statement was undone as a
/// whole, and the transaction is rolled back afterwards anyway).
async fn batch_error(
    tx: &mut Transaction<'_>,
    prefix: &str,
    batch: &Batch,
    error: mysql_async::Error,
    columns: &[Column],
) -> LoadError {
    let mysql_async::Error::Server(server) = &error else { return target_error("load the rows", &error) };
    if !is_data_error(server.code) {
        return target_error("load the rows", &error);
    }
    // The statement's `at row N` is not the file's line: the error says the line.
    let rejected = |line: u64, message: &str| {
        let reason = message.rfind(" at row ").map_or(message, |at| &message[..at]);
        LoadError::rejected(line, column_of(message, columns).as_deref(), reason)
    };
    let numbered = at_row(&server.message).and_then(|n| batch.rows.get(n.checked_sub(1)?));
    if let Some((line, _)) = numbered.or(if batch.rows.len() == 1 { batch.rows.first() } else { None }) {
        return rejected(*line, &server.message);
    }
    for (line, range) in &batch.rows {
        match tx.query_drop(format!("{prefix}{}", &batch.sql[range.clone()])).await {
            Ok(()) => {}
            Err(mysql_async::Error::Server(e)) if is_data_error(e.code) => return rejected(*line, &e.message),
            Err(other) => return target_error("load the rows", &other),
        }
    }
    rejected(0, &server.message)
}

/// MySQL's data errors: a value the column refuses, NULL in a NOT NULL column, a missing value without default,
/// duplicate keys, foreign keys, check constraints, invalid JSON.
fn is_data_error(code: u16) -> bool {
    matches!(
        code,
        1048 | 1062
            | 1136
            | 1216
            | 1217
            | 1264
            | 1265
            | 1292
            | 1300
            | 1364
            | 1366
            | 1367
            | 1406
            | 1411
            | 1451
            | 1452
            | 1557
            | 1586
            | 1690
            | 1859
            | 1918
            | 3140
            | 3819
            | 4025
    )
}

/// The row of MySQL's `… at row N`.
fn at_row(message: &str) -> Option<usize> {
    let rest = &message[message.rfind(" at row ")? + " at row ".len()..];
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

/// The table column a MySQL message names: `for column 'x'`, ``for column `db`.`t`.`x` ``, `Column 'x'`,
/// `Field 'x'` (the last such mention that is one of `columns`).
fn column_of(message: &str, columns: &[Column]) -> Option<String> {
    let mut mentions: Vec<(usize, &str)> = Vec::new();
    for marker in ["column ", "Column ", "Field "] {
        for (at, _) in message.match_indices(marker) {
            let rest = &message[at + marker.len()..];
            let name = if let Some(quoted) = rest.strip_prefix('\'') {
                quoted.split('\'').next()
            } else if rest.starts_with('`') {
                // `db`.`t`.`col`: the last part.
                let mut last = None;
                let mut rest = rest;
                while let Some(part) = rest.strip_prefix('`') {
                    let Some(end) = part.find('`') else { break };
                    last = Some(&part[..end]);
                    rest = &part[end + 1..];
                    match rest.strip_prefix('.') {
                        Some(more) => rest = more,
                        None => break,
                    }
                }
                last
            } else {
                None
            };
            if let Some(name) = name {
                mentions.push((at, name));
            }
        }
    }
    mentions.sort_by_key(|(at, _)| *at);
    mentions
        .iter()
        .rev()
        .find_map(|(_, name)| columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)).map(|c| c.name.clone()))
}

/// `(v1, v2, …)` of one row.
fn push_row(sql: &mut String, cells: &[Cell<'_>], no_backslash_escapes: bool) {
    sql.push('(');
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        match cell {
            Cell::Null => sql.push_str("NULL"),
            Cell::Bool(b) => sql.push_str(if *b { "TRUE" } else { "FALSE" }),
            Cell::Text(text) => push_literal(sql, text, no_backslash_escapes),
        }
    }
    sql.push(')');
}

/// A string literal, escaped for the session's `sql_mode`.
fn push_literal(sql: &mut String, text: &str, no_backslash_escapes: bool) {
    sql.push('\'');
    for c in text.chars() {
        match c {
            '\'' if no_backslash_escapes => sql.push_str("''"),
            _ if no_backslash_escapes => sql.push(c),
            '\0' => sql.push_str("\\0"),
            '\n' => sql.push_str("\\n"),
            '\r' => sql.push_str("\\r"),
            '\x1a' => sql.push_str("\\Z"),
            '\\' | '\'' | '"' => {
                sql.push('\\');
                sql.push(c);
            }
            c => sql.push(c),
        }
    }
    sql.push('\'');
}

/// `mode` with `STRICT_ALL_TABLES` added.
fn strict(mode: &str) -> String {
    if mode.split(',').any(|m| m.trim().eq_ignore_ascii_case("STRICT_ALL_TABLES")) {
        mode.to_owned()
    } else if mode.trim().is_empty() {
        "STRICT_ALL_TABLES".to_owned()
    } else {
        format!("{mode},STRICT_ALL_TABLES")
    }
}

/// A failure of the target while doing `what`: temporary for lost connections, deadlocks, lock waits, timeouts,
/// shutdowns, too many connections and read-only servers; permanent otherwise (a missing table, a permission).
fn target_error(what: &str, error: &mysql_async::Error) -> LoadError {
    match error {
        mysql_async::Error::Server(e) => {
            let temporary = matches!(
                e.code,
                1021 | 1040 | 1053 | 1203 | 1205 | 1213 | 1290 | 1317 | 1792 | 1836 | 1927 | 1969 | 2006 | 2013 | 3024
            );
            LoadError::target(format!("cannot {what}: {}", e.message), temporary)
        }
        other => LoadError::target(format!("cannot {what}: {other}"), true),
    }
}

/// `` `name` ``, backticks doubled.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `` `database`.lanyard_pipeline_ledger ``.
fn ledger_name(database: &str) -> String {
    format!("{}.{LEDGER_TABLE}", ident(database))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(names: &[&str]) -> Vec<Column> {
        names.iter().map(|n| Column { name: (*n).to_owned(), generated: false }).collect()
    }

    #[test]
    fn messages_give_the_row_and_the_column() {
        let table = columns(&["id", "amount"]);
        let mariadb = "Incorrect integer value: 'column `x`' for column `db`.`t`.`amount` at row 12";
        assert_eq!(at_row(mariadb), Some(12));
        assert_eq!(column_of(mariadb, &table).as_deref(), Some("amount"));
        let mysql = "Incorrect integer value: 'x' for column 'id' at row 1";
        assert_eq!((at_row(mysql), column_of(mysql, &table).as_deref()), (Some(1), Some("id")));
        assert_eq!(column_of("Column 'Amount' cannot be null", &table).as_deref(), Some("amount"));
        assert_eq!(column_of("Field 'id' doesn't have a default value", &table).as_deref(), Some("id"));
        assert_eq!(at_row("Column 'amount' cannot be null"), None);
        assert_eq!(column_of("Duplicate entry '1' for key 'PRIMARY'", &table), None);
    }

    #[test]
    fn literals_are_escaped_for_the_sql_mode() {
        let mut sql = String::new();
        push_row(&mut sql, &[Cell::Text("it's \\ \"q\"\n\0".into()), Cell::Null, Cell::Bool(true)], false);
        assert_eq!(sql, "('it\\'s \\\\ \\\"q\\\"\\n\\0', NULL, TRUE)");
        let mut sql = String::new();
        push_literal(&mut sql, "it's \\", true);
        assert_eq!(sql, "'it''s \\'");
    }

    #[test]
    fn strict_mode_is_added_once() {
        assert_eq!(strict(""), "STRICT_ALL_TABLES");
        assert_eq!(strict("ANSI_QUOTES"), "ANSI_QUOTES,STRICT_ALL_TABLES");
        assert_eq!(strict("STRICT_ALL_TABLES,ANSI"), "STRICT_ALL_TABLES,ANSI");
        assert_eq!(ident("a`b"), "`a``b`");
    }
}
