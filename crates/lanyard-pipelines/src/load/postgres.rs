//! The PostgreSQL target: `COPY … FROM STDIN (FORMAT csv)` in a `READ COMMITTED` transaction that first inserts
//! the ledger row.

use bytes::Bytes;
use futures::SinkExt as _;
use lanyard_core::{LoadFormat, PipelineId, TableRef};
use tokio_postgres::error::DbError;
use tokio_postgres::{Client, IsolationLevel, Transaction};

use super::csv::{Dialect, has_end_of_copy_line, record_of_copy_line};
use super::{Cell, Column, FileToLoad, LEDGER_TABLE, LedgerEntry, LoadError, Loaded, Prepared, Rows, prepare};

/// How many bytes go into one COPY data message.
const COPY_CHUNK: usize = 256 * 1024;

/// Loads `file` into `table` exactly once (see the [module](super) doc): `Earlier` when the ledger already has its
/// key, else its rows and its ledger row in one transaction, or nothing and the reason.
///
/// Creates the ledger table when it is missing. The session must not be inside a transaction.
pub async fn load_postgres(
    client: &mut Client,
    table: &TableRef,
    format: &LoadFormat,
    file: FileToLoad<'_>,
) -> Result<Loaded, LoadError> {
    let target = Target::resolve(client, table).await?;
    if !target.has_ledger {
        create_ledger(client, &target.schema).await?;
    }
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(|e| target_error("begin a transaction", &e))?;
    match load_in(&tx, &target, table, format, &file).await {
        Ok(loaded @ Loaded::Now { rows }) => {
            tx.commit().await.map_err(|e| commit_error(&e))?;
            tracing::debug!(table = %table, key = file.key, rows, "file loaded");
            Ok(loaded)
        }
        Ok(earlier) => {
            tx.rollback().await.map_err(|e| target_error("end the transaction", &e))?;
            Ok(earlier)
        }
        Err(error) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rollback after a failed load failed");
            }
            Err(error)
        }
    }
}

/// The ledger of `pipeline` in `table`'s schema (PostgreSQL's `search_path` decides for a table named without one;
/// its current schema when the table does not exist), by key; empty when there is no ledger table.
pub async fn ledger_postgres(
    client: &Client,
    table: &TableRef,
    pipeline: PipelineId,
) -> Result<Vec<LedgerEntry>, LoadError> {
    let where_ = client
        .query_one(
            "WITH s AS (SELECT COALESCE((SELECT n.nspname::text FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.oid = COALESCE(to_regclass($1), to_regclass($4))), \
                 $2, current_schema()::text) AS schema) \
             SELECT schema, to_regclass(format('%I.%I', schema, $3::text)) IS NOT NULL FROM s",
            &[
                &qualified_text(table, false),
                &table.schema.as_ref().map(|s| s.as_str()),
                &LEDGER_TABLE,
                &qualified_text(table, true),
            ],
        )
        .await
        .map_err(|e| target_error("find the ledger", &e))?;
    let schema: Option<String> = where_.try_get(0).map_err(|e| target_error("find the ledger", &e))?;
    let exists: Option<bool> = where_.try_get(1).map_err(|e| target_error("find the ledger", &e))?;
    let (Some(schema), Some(true)) = (schema, exists) else { return Ok(Vec::new()) };
    let rows = client
        .query(
            &format!(
                "SELECT object_key, etag, rows_loaded, (extract(epoch FROM loaded_at) * 1000000)::int8 \
                 FROM {} WHERE pipeline_id = $1::text::uuid ORDER BY object_key COLLATE \"C\"",
                ledger_name(&schema)
            ),
            &[&pipeline.to_string()],
        )
        .await
        .map_err(|e| target_error("read the ledger", &e))?;
    rows.iter()
        .map(|row| {
            let rows: i64 = row.try_get(2)?;
            Ok(LedgerEntry {
                key: row.try_get(0)?,
                etag: row.try_get(1)?,
                rows: u64::try_from(rows).unwrap_or(0),
                loaded_at_micros: row.try_get(3)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(|e| target_error("read the ledger", &e))
}

/// The target table as found in the database.
struct Target {
    /// Its schema.
    schema: String,
    /// `"schema"."table"`.
    qualified: String,
    /// Its columns, in order.
    columns: Vec<Column>,
    /// Whether the schema has the ledger table.
    has_ledger: bool,
}

impl Target {
    async fn resolve(client: &Client, table: &TableRef) -> Result<Self, LoadError> {
        let rows = client
            .query(
                "SELECT n.nspname::text, c.relname::text, a.attname::text, a.attgenerated <> '', \
                     to_regclass(format('%I.%I', n.nspname, $2::text)) IS NOT NULL \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 WHERE c.oid = COALESCE(to_regclass($1), to_regclass($3)) ORDER BY a.attnum",
                &[&qualified_text(table, false), &LEDGER_TABLE, &qualified_text(table, true)],
            )
            .await
            .map_err(|e| target_error(&format!("look up table \"{table}\""), &e))?;
        let Some(first) = rows.first() else {
            let place = if table.schema.is_some() { "" } else { " in the session's search_path" };
            return Err(LoadError::permanent(format!("table \"{table}\" does not exist{place}")));
        };
        let read = |e: tokio_postgres::Error| target_error(&format!("look up table \"{table}\""), &e);
        let schema: String = first.try_get(0).map_err(read)?;
        let name: String = first.try_get(1).map_err(read)?;
        let has_ledger: bool = first.try_get(4).map_err(read)?;
        let mut columns = Vec::with_capacity(rows.len());
        for row in &rows {
            let column: Option<String> = row.try_get(2).map_err(read)?;
            let generated: Option<bool> = row.try_get(3).map_err(read)?;
            if let Some(name) = column {
                columns.push(Column { name, generated: generated.unwrap_or(false) });
            }
        }
        let qualified = format!("{}.{}", ident(&schema), ident(&name));
        Ok(Self { schema, qualified, columns, has_ledger })
    }
}

/// Creates the ledger table in `schema`; another session creating it at the same moment is fine.
async fn create_ledger(client: &Client, schema: &str) -> Result<(), LoadError> {
    let ddl = format!(
        "CREATE TABLE IF NOT EXISTS {} (\
             pipeline_id uuid NOT NULL, \
             object_key text NOT NULL, \
             etag text, \
             rows_loaded bigint NOT NULL, \
             loaded_at timestamptz NOT NULL DEFAULT now(), \
             PRIMARY KEY (pipeline_id, object_key))",
        ledger_name(schema)
    );
    match client.batch_execute(&ddl).await {
        Ok(()) => Ok(()),
        // Two sessions creating the table at once: the loser fails on the catalog's unique index (pg_type's name,
        // 23505), on the table's row type that the winner just created ("type … already exists", 42710), or finds
        // the table once the winner committed (42P07). Either way it is there now.
        Err(e) if matches!(e.as_db_error().map(|db| db.code().code()), Some("23505" | "42710" | "42P07")) => Ok(()),
        Err(e) => Err(target_error(&format!("create the ledger table {}", ledger_name(schema)), &e)),
    }
}

/// Inside the transaction: the ledger row first, then the rows, then the ledger row's count.
async fn load_in(
    tx: &Transaction<'_>,
    target: &Target,
    table: &TableRef,
    format: &LoadFormat,
    file: &FileToLoad<'_>,
) -> Result<Loaded, LoadError> {
    let ledger = ledger_name(&target.schema);
    let pipeline = file.pipeline.to_string();
    let inserted = tx
        .execute(
            &format!(
                "INSERT INTO {ledger} (pipeline_id, object_key, etag, rows_loaded) \
                 VALUES ($1::text::uuid, $2, $3, 0) ON CONFLICT (pipeline_id, object_key) DO NOTHING"
            ),
            &[&pipeline, &file.key, &file.etag],
        )
        .await
        .map_err(|e| target_error("write the ledger row", &e))?;
    if inserted == 0 {
        // Another load of this key committed (we waited for it if it was running).
        let row = tx
            .query_one(
                &format!("SELECT rows_loaded FROM {ledger} WHERE pipeline_id = $1::text::uuid AND object_key = $2"),
                &[&pipeline, &file.key],
            )
            .await
            .map_err(|e| target_error("read the ledger row", &e))?;
        let rows: i64 = row.try_get(0).map_err(|e| target_error("read the ledger row", &e))?;
        return Ok(Loaded::Earlier { rows: u64::try_from(rows).unwrap_or(0) });
    }
    let prepared = prepare(format, file.body, table, &target.columns)?;
    let rows = copy(tx, target, &prepared).await?;
    tx.execute(
        &format!("UPDATE {ledger} SET rows_loaded = $3 WHERE pipeline_id = $1::text::uuid AND object_key = $2"),
        &[&pipeline, &file.key, &i64::try_from(rows).unwrap_or(i64::MAX)],
    )
    .await
    .map_err(|e| target_error("write the ledger row", &e))?;
    Ok(Loaded::Now { rows })
}

/// Where COPY's line numbers are in the file.
enum Locator<'a> {
    /// The file's CSV text as sent, and its first line.
    Csv { data: &'a str, first_line: u64, dialect: Dialect },
    /// Rewritten as COPY text, one line per record: the file line of each.
    Lines(Vec<u64>),
}

impl Locator<'_> {
    /// The file line of the record COPY's line `n` (1-based) names.
    fn line(&self, n: u64) -> u64 {
        match self {
            Self::Csv { data, first_line, dialect } => record_of_copy_line(data, *first_line, *dialect, n),
            Self::Lines(lines) => {
                usize::try_from(n).ok().and_then(|n| lines.get(n.checked_sub(1)?)).copied().unwrap_or(0)
            }
        }
    }
}

/// Runs the COPY of `prepared` and returns the rows it added.
async fn copy(tx: &Transaction<'_>, target: &Target, prepared: &Prepared<'_>) -> Result<u64, LoadError> {
    let names: Vec<&str> = prepared.columns.iter().map(|&i| target.columns[i].name.as_str()).collect();
    let columns: Vec<String> = names.iter().map(|n| ident(n)).collect();
    let (payload, options, locator) = match &prepared.rows {
        // The file as it is: PostgreSQL parses it.
        Rows::Csv { data, first_line, dialect } if !has_end_of_copy_line(data) => {
            let Dialect { delimiter, quote, escape } = *dialect;
            if [delimiter, quote, escape].contains(&0) {
                return Err(LoadError::permanent(
                    "PostgreSQL cannot take a NUL byte as a CSV delimiter, quote or escape",
                ));
            }
            let options = format!(
                "FORMAT csv, DELIMITER {}, QUOTE {}, ESCAPE {}",
                char_literal(delimiter),
                char_literal(quote),
                char_literal(escape)
            );
            let locator = Locator::Csv { data, first_line: *first_line, dialect: *dialect };
            (Bytes::copy_from_slice(data.as_bytes()), options, locator)
        }
        rows => {
            let (encoded, lines) = encode(rows, &names)?;
            (Bytes::from(encoded), "FORMAT text".to_owned(), Locator::Lines(lines))
        }
    };
    if payload.is_empty() || names.is_empty() {
        return Ok(0);
    }
    let sql = format!("COPY {} ({}) FROM STDIN ({options})", target.qualified, columns.join(", "));
    let failed = |e: tokio_postgres::Error| copy_error(&e, &locator, &target.columns);
    let sink = tx.copy_in::<_, Bytes>(&sql).await.map_err(failed)?;
    futures::pin_mut!(sink);
    let mut offset = 0;
    while offset < payload.len() {
        let end = (offset + COPY_CHUNK).min(payload.len());
        sink.feed(payload.slice(offset..end)).await.map_err(failed)?;
        offset = end;
    }
    sink.as_mut().finish().await.map_err(failed)
}

/// The rows in COPY's text format (tab between values, `\N` for NULL, backslash escapes), so that each record is
/// exactly one line; with the file line of each record.
fn encode(rows: &Rows<'_>, names: &[&str]) -> Result<(Vec<u8>, Vec<u64>), LoadError> {
    let mut out = Vec::new();
    let mut lines = Vec::new();
    rows.for_each(names, |line, cells| {
        lines.push(line);
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            match cell {
                Cell::Null => out.extend_from_slice(b"\\N"),
                Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
                Cell::Text(text) => {
                    for &b in text.as_bytes() {
                        match b {
                            b'\\' => out.extend_from_slice(b"\\\\"),
                            b'\n' => out.extend_from_slice(b"\\n"),
                            b'\r' => out.extend_from_slice(b"\\r"),
                            b'\t' => out.extend_from_slice(b"\\t"),
                            _ => out.push(b),
                        }
                    }
                }
            }
        }
        out.push(b'\n');
        Ok(())
    })?;
    Ok((out, lines))
}

/// What a failed COPY means: a data error (SQLSTATE classes 22 and 23) is the file's, with the line COPY's context
/// names; anything else is the target's.
fn copy_error(error: &tokio_postgres::Error, locator: &Locator<'_>, columns: &[Column]) -> LoadError {
    let Some(db) = error.as_db_error() else { return target_error("load the rows", error) };
    if !is_data_error(db) {
        return target_error("load the rows", error);
    }
    let (record, context_column) = copy_context(db.where_(), columns);
    let column = db
        .column()
        .map(str::to_owned)
        .or(context_column)
        .or_else(|| quoted_after(db.message(), "missing data for column \"").map(str::to_owned));
    LoadError::rejected(record.map_or(0, |n| locator.line(n)), column.as_deref(), data_reason(db))
}

/// What a failed COMMIT means: a deferred constraint is the file's (at no known line), anything else the target's.
fn commit_error(error: &tokio_postgres::Error) -> LoadError {
    match error.as_db_error() {
        Some(db) if is_data_error(db) => LoadError::rejected(0, db.column(), data_reason(db)),
        _ => target_error("commit", error),
    }
}

/// Data exceptions (22) and integrity constraint violations (23).
fn is_data_error(db: &DbError) -> bool {
    matches!(db.code().code().get(..2), Some("22" | "23"))
}

/// The server's message, and its detail (`Key (id)=(1) already exists.`) when there is one.
fn data_reason(db: &DbError) -> String {
    match db.detail() {
        Some(detail) => format!("{}: {detail}", db.message()),
        None => db.message().to_owned(),
    }
}

/// The record number and column of COPY's error context: `COPY t, line 3, column b: "x"` (one line of `where_`).
fn copy_context(where_: Option<&str>, columns: &[Column]) -> (Option<u64>, Option<String>) {
    for context in where_.unwrap_or_default().lines() {
        let Some(rest) = context.strip_prefix("COPY ") else { continue };
        let Some(at) = rest.find(", line ") else { continue };
        let after = &rest[at + ", line ".len()..];
        let digits = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
        let Ok(record) = after[..digits].parse::<u64>() else { continue };
        let column = after[digits..].strip_prefix(", column ").and_then(|tail| {
            columns
                .iter()
                .map(|c| c.name.as_str())
                .filter(|name| tail.starts_with(name) && matches!(tail[name.len()..].chars().next(), None | Some(':')))
                .max_by_key(|name| name.len())
                .map(str::to_owned)
        });
        return (Some(record), column);
    }
    (None, None)
}

/// The text between `prefix` and the next `"` in `message`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    rest.find('"').map(|end| &rest[..end])
}

/// A failure of the target while doing `what`: temporary for connection problems, serialization failures and
/// deadlocks, lock and statement timeouts, shutdowns, read-only standbys and lack of resources; permanent otherwise
/// (a missing table, a permission).
fn target_error(what: &str, error: &tokio_postgres::Error) -> LoadError {
    match error.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let temporary =
                matches!(code.get(..2), Some("08" | "40" | "53" | "57" | "58")) || matches!(code, "55P03" | "25006");
            LoadError::target(format!("cannot {what}: {}", db.message()), temporary)
        }
        None => LoadError::target(format!("cannot {what}: {error}"), true),
    }
}

/// `"name"`, quotes doubled.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema".lanyard_pipeline_ledger`.
fn ledger_name(schema: &str) -> String {
    format!("{}.{LEDGER_TABLE}", ident(schema))
}

/// The table's name as `to_regclass` reads it: `"schema"."table"` or `"table"`; `folded`, in lowercase, as
/// PostgreSQL folds unquoted names (so that `INTO TABLE Events` finds `events` when there is no `"Events"`).
fn qualified_text(table: &TableRef, folded: bool) -> String {
    let part = |name: &str| if folded { ident(&name.to_lowercase()) } else { ident(name) };
    match &table.schema {
        Some(schema) => format!("{}.{}", part(schema.as_str()), part(table.table.as_str())),
        None => part(table.table.as_str()),
    }
}

/// A one-character string literal that reads the same whatever `standard_conforming_strings` is.
fn char_literal(b: u8) -> String {
    match b {
        b'\\' => "E'\\\\'".to_owned(),
        b'\'' => "E'\\''".to_owned(),
        _ => format!("E'{}'", char::from(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(names: &[&str]) -> Vec<Column> {
        names.iter().map(|n| Column { name: (*n).to_owned(), generated: false }).collect()
    }

    #[test]
    fn copy_context_gives_the_record_and_the_column() {
        let table = columns(&["a", "a: b", "amount"]);
        assert_eq!(
            copy_context(Some("COPY t, line 7, column amount: \"x\""), &table),
            (Some(7), Some("amount".to_owned()))
        );
        assert_eq!(
            copy_context(Some("COPY t, line 2, column a: b: \"x\""), &table),
            (Some(2), Some("a: b".to_owned()))
        );
        assert_eq!(copy_context(Some("COPY t, line 3: \"1,2,3\""), &table), (Some(3), None));
        assert_eq!(copy_context(Some("PL/pgSQL function f()\nCOPY t, line 12"), &table), (Some(12), None));
        assert_eq!(copy_context(Some("SQL statement"), &table), (None, None));
        assert_eq!(copy_context(None, &table), (None, None));
        assert_eq!(quoted_after("missing data for column \"amount\"", "missing data for column \""), Some("amount"));
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        let table = TableRef {
            schema: Some(lanyard_core::Name::new("s\"x").unwrap()),
            table: lanyard_core::Name::new("t").unwrap(),
        };
        assert_eq!(qualified_text(&table, false), "\"s\"\"x\".\"t\"");
        let table: TableRef = "Public.Events".parse().unwrap();
        assert_eq!(qualified_text(&table, true), "\"public\".\"events\"");
        assert_eq!(char_literal(b'\\'), "E'\\\\'");
        assert_eq!(char_literal(b'\''), "E'\\''");
        assert_eq!(char_literal(b';'), "E';'");
    }

    #[test]
    fn encoded_rows_are_one_line_each() {
        let rows = Rows::Json(vec![
            (3, vec![Cell::Text("a\"b\\".into()), Cell::Null, Cell::Bool(true)]),
            (5, vec![Cell::Text("".into()), Cell::Text("x\t,\r\ny".into()), Cell::Bool(false)]),
        ]);
        let (out, lines) = encode(&rows, &["a", "b", "c"]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a\"b\\\\\t\\N\ttrue\n\tx\\t,\\r\\ny\tfalse\n");
        assert_eq!(lines, [3, 5]);
        let locator = Locator::Lines(lines);
        assert_eq!([1, 2, 3].map(|n| locator.line(n)), [3, 5, 0]);
    }
}
