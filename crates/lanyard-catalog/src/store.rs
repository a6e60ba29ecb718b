//! The transaction handle and the generic operations every table supports.

use lanyard_core::ObjectKind;

use crate::ConnectionView;
use crate::db::{Conn, Param, Row};
use crate::error::{CatalogError, Result};
use crate::model::{
    AuditRecord, Connection, LastTest, Meta, NewAuditRecord, Record, RecordId, parse_id, parse_json, parse_vocab,
};
use crate::time::Timestamp;

/// Where a page of a list starts and how many rows it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The name of the last row already seen (the values of [`Record::NAME_COLUMNS`]): the page starts after it in
    /// name order. `None` starts at the first row.
    pub after: Option<Vec<String>>,
    /// At most this many rows; `None`: every row from `after` on.
    pub limit: Option<u32>,
}

impl Page {
    /// The `LIMIT` clause of the page's SELECT (with a leading space; empty without a limit): one row more than
    /// asked, which tells whether another page follows.
    pub(crate) fn sql_limit(&self) -> String {
        self.limit.map_or(String::new(), |limit| format!(" LIMIT {}", u64::from(limit) + 1))
    }

    /// The page of `rows` (read with [`Page::sql_limit`]): at most `limit` of them, and the key (`key` of the last
    /// one) to continue from when the extra row says more follow.
    pub(crate) fn cut<R>(&self, mut rows: Vec<R>, key: impl Fn(&R) -> Result<Vec<String>>) -> Result<Listed<R>> {
        let next = match self.limit.map(|limit| limit as usize) {
            Some(limit) if rows.len() > limit => {
                rows.truncate(limit);
                rows.last().map(key).transpose()?
            }
            _ => None,
        };
        Ok(Listed { rows, next })
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<R> {
    /// The rows, in name order.
    pub rows: Vec<R>,
    /// The name of the last row when more rows follow it: the `after` of the next page. `None` on the last page.
    pub next: Option<Vec<String>>,
}

/// An open catalog transaction. Everything done through one `Tx` commits or rolls back together; the Control Plane
/// changes several tables and appends the audit record through the same `Tx`.
pub struct Tx {
    pub(crate) conn: Conn,
    /// Whether changes keep their versions ([`crate::Catalog::keep_history`]).
    pub(crate) history: bool,
}

fn id_text<Id: RecordId>(id: Id) -> Param {
    Param::Text(id.uuid().hyphenated().to_string())
}

pub(crate) fn read<R: Record>(row: &Row) -> Result<R> {
    let meta = Meta {
        id: parse_id(R::TABLE, &row.text("id")?)?,
        created_at: Timestamp::from_micros(row.int("created_at")?),
        updated_at: Timestamp::from_micros(row.int("updated_at")?),
        version: row.int("version")?,
    };
    R::from_row(meta, row)
}

/// The read of a connection's view without its condition: the row, its last test (`connection_tests`), the names of
/// its credential entry and credential storage and the entry's expiry, in one statement. Read by
/// [`crate::Catalog::find_connection`] (the hot path of `GET /connections/{name}`) and [`Tx::find_connection`] (the
/// write path of `PUT`); [`read_connection_view`] reads its rows.
macro_rules! connection_view {
    () => {
        "SELECT c.*, t.last_tested_at, t.last_test_status, t.last_test_latency_ms, t.last_test_error, \
         t.server_version, e.display_name AS e_name, b.display_name AS b_name, e.expires_at AS e_expires_at \
         FROM external_connections c \
         LEFT JOIN connection_tests t ON t.connection_id = c.id \
         LEFT JOIN vault_entries e ON e.id = c.credential_id \
         LEFT JOIN vault_backends b ON b.id = c.credential_storage_id"
    };
}
pub(crate) use connection_view;

/// A row of [`connection_view!`].
pub(crate) fn read_connection_view(row: &Row) -> Result<ConnectionView> {
    let expires_at = row.opt_int("e_expires_at")?.map(Timestamp::from_micros);
    Ok((read(row)?, row.opt_text("e_name")?, row.opt_text("b_name")?, expires_at))
}

/// The columns of `audit_log` an append writes, in the order of [`audit_values`].
const AUDIT_COLUMNS: &str = "at, principal, action, object_kind, object_id, object_name, outcome, detail";

/// The placeholders (`$start, …`) and the values of [`AUDIT_COLUMNS`] for `record`, appended at `at`.
fn audit_values(record: &NewAuditRecord, at: Timestamp, start: usize) -> (String, Vec<Param>) {
    let params = vec![
        Param::Int(at.as_micros()),
        Param::Text(record.principal.clone()),
        Param::Text(record.action.as_str().to_owned()),
        Param::Text(record.object_kind.noun().to_owned()),
        Param::OptText(record.object_id.clone()),
        Param::OptText(record.object_name.clone()),
        Param::Text(record.outcome.as_str().to_owned()),
        Param::Text(serde_json::Value::Object(record.detail.clone()).to_string()),
    ];
    let placeholders: Vec<String> = (start..start + params.len()).map(|i| format!("${i}")).collect();
    (placeholders.join(", "), params)
}

/// The id a reference column holds, if any.
fn reference_id(value: &Param) -> Option<&String> {
    match value {
        Param::Text(id) | Param::OptText(Some(id)) => Some(id),
        _ => None,
    }
}

/// The versioned UPDATE of `record` at `now`: `$1` its id, `$2` the version it was read at, `$3` the new
/// `updated_at`, then its columns. It changes the row only if the row is still at that version and every row the
/// record refers to exists (an `EXISTS` per reference in its `WHERE`), so checking the references costs no round
/// trip of its own; when it changes nothing, [`Tx::not_updated`] tells why.
fn update_statement<R: Record>(record: &R, now: Timestamp) -> (String, Vec<Param>) {
    const FIRST_COLUMN: usize = 4;
    let columns = record.columns();
    let assignments: Vec<String> =
        columns.iter().enumerate().map(|(i, (column, _))| format!("{column} = ${}", i + FIRST_COLUMN)).collect();
    let mut conditions = vec!["id = $1 AND version = $2".to_owned()];
    for reference in R::REFERENCES {
        let index = columns
            .iter()
            .position(|(column, _)| *column == reference.column)
            .expect("a reference column is one of the record's columns");
        if reference_id(&columns[index].1).is_some() {
            conditions.push(format!("EXISTS (SELECT 1 FROM {} WHERE id = ${})", reference.table, index + FIRST_COLUMN));
        }
    }
    let sql = format!(
        "UPDATE {} SET updated_at = $3, version = version + 1, {} WHERE {}",
        R::TABLE,
        assignments.join(", "),
        conditions.join(" AND ")
    );
    let mut params = vec![id_text(record.meta().id), Param::Int(record.meta().version), Param::Int(now.as_micros())];
    params.extend(columns.into_iter().map(|(_, value)| value));
    (sql, params)
}

/// `record` as [`update_statement`] stores it: the next version, updated at `now`.
fn as_updated<R: Record>(mut record: R, now: Timestamp) -> R {
    let meta = record.meta_mut();
    meta.version += 1;
    meta.updated_at = now;
    record
}

/// A write's error, with a unique violation told as [`CatalogError::AlreadyExists`] of `record`.
fn name_taken<R: Record>(error: CatalogError, record: &R) -> CatalogError {
    match error {
        CatalogError::Database(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            CatalogError::AlreadyExists { kind: R::KIND, name: record.display() }
        }
        other => other,
    }
}

/// `name_columns = $start, …` joined with AND.
fn name_condition(columns: &[&str], start: usize) -> String {
    columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", start + i)).collect::<Vec<_>>().join(" AND ")
}

impl Tx {
    /// Ends a read transaction (a write transaction is committed by [`crate::Catalog::write`]).
    pub async fn rollback(self) -> Result<()> {
        self.conn.rollback().await
    }

    /// Inserts `record` as a new row: a fresh id unless the caller chose one, `version` 1, both timestamps now.
    pub async fn insert<R: Record>(&mut self, mut record: R) -> Result<R> {
        let columns = record.columns();
        self.check_references(&record, &columns).await?;
        let now = Timestamp::now();
        {
            let meta = record.meta_mut();
            meta.created_at = now;
            meta.updated_at = now;
            meta.version = 1;
        }
        let meta = record.meta();
        let mut bound = vec![
            ("id", id_text(meta.id)),
            ("created_at", Param::Int(now.as_micros())),
            ("updated_at", Param::Int(now.as_micros())),
            ("version", Param::Int(1)),
        ];
        bound.extend(columns);
        let names: Vec<&str> = bound.iter().map(|(column, _)| *column).collect();
        let placeholders: Vec<String> = (1..=bound.len()).map(|i| format!("${i}")).collect();
        let sql = format!("INSERT INTO {} ({}) VALUES ({})", R::TABLE, names.join(", "), placeholders.join(", "));
        let params = bound.into_iter().map(|(_, value)| value).collect();
        match self.conn.execute(&sql, params).await {
            Ok(_) => Ok(record),
            Err(e) => Err(name_taken(e, &record)),
        }
    }

    /// The row with `id`, if any.
    pub async fn find<R: Record>(&mut self, id: R::Id) -> Result<Option<R>> {
        let sql = format!("SELECT * FROM {} WHERE id = $1", R::SELECT_FROM);
        self.conn.fetch_optional(&sql, vec![id_text(id)]).await?.map(|row| read(&row)).transpose()
    }

    /// The rows with these ids (each once, in no particular order; ids without a row are left out). One statement
    /// per 1000 ids, so a page of a list reads the rows it refers to without reading the whole table.
    pub async fn find_many<R: Record>(&mut self, ids: impl IntoIterator<Item = R::Id>) -> Result<Vec<R>> {
        let mut ids: Vec<R::Id> = ids.into_iter().collect();
        ids.sort_unstable_by_key(RecordId::uuid);
        ids.dedup_by_key(|id| id.uuid());
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!("SELECT * FROM {} WHERE id IN ({})", R::SELECT_FROM, placeholders.join(", "));
            let params = chunk.iter().map(|id| id_text(*id)).collect();
            for row in self.conn.fetch_all(&sql, params).await? {
                out.push(read(&row)?);
            }
        }
        Ok(out)
    }

    /// The row with `id`; [`CatalogError::NotFound`] otherwise.
    pub async fn get<R: Record>(&mut self, id: R::Id) -> Result<R> {
        self.find(id).await?.ok_or_else(|| CatalogError::NotFound { kind: R::KIND, name: id.to_string() })
    }

    /// The row named `name` (for links and pipelines: `[database, name]`), if any. Names are stored in NFC
    /// ([`lanyard_core::Name`]), so `name` is looked up in NFC too: `Cafe\u{301}` finds `Café`; a row an earlier
    /// version stored in another form is found too (by the NFC of its name, on a miss).
    pub async fn find_by_name<R: Record>(&mut self, name: &[&str]) -> Result<Option<R>> {
        let sql = format!("SELECT * FROM {} WHERE {}", R::SELECT_FROM, name_condition(R::NAME_COLUMNS, 1));
        let nfc: Vec<String> = name.iter().map(|n| lanyard_core::nfc_str(n).into_owned()).collect();
        let params = nfc.iter().cloned().map(Param::Text).collect();
        if let Some(row) = self.conn.fetch_optional(&sql, params).await? {
            return read(&row).map(Some);
        }
        let Some(stored) = self.stored_spelling::<R>(&nfc).await? else { return Ok(None) };
        let params = nfc[..nfc.len() - 1].iter().cloned().chain([stored]).map(Param::Text).collect();
        self.conn.fetch_optional(&sql, params).await?.map(|row| read(&row)).transpose()
    }

    /// After a miss on the NFC name `nfc` (for links and pipelines `[database, name]`): the stored spelling of a
    /// row written before names were normalised, which may hold another form of the name (decomposed `e` + U+0301),
    /// whose NFC is the one asked for. A scan of the names of the table (of the database for links and pipelines).
    async fn stored_spelling<R: Record>(&mut self, nfc: &[String]) -> Result<Option<String>> {
        let (scope, last) = nfc.split_at(nfc.len() - 1);
        let (scope_columns, name_column) = R::NAME_COLUMNS.split_at(R::NAME_COLUMNS.len() - 1);
        let filter =
            if scope.is_empty() { String::new() } else { format!(" WHERE {}", name_condition(scope_columns, 1)) };
        let names = format!("SELECT {} AS name FROM {}{filter}", name_column[0], R::TABLE);
        let scope_params = scope.iter().cloned().map(Param::Text).collect();
        for stored in self.conn.fetch_all(&names, scope_params).await? {
            let stored = stored.text("name")?;
            if stored != last[0] && lanyard_core::nfc_str(&stored) == last[0].as_str() {
                return Ok(Some(stored));
            }
        }
        Ok(None)
    }

    /// The connection named `name` with the current names of its credential entry and credential storage and the
    /// entry's expiry (what its view shows), as of this transaction, in one statement: the read of a write that
    /// answers with the view, so that the view needs no read after the write. Names as [`Tx::find_by_name`].
    pub async fn find_connection(&mut self, name: &str) -> Result<Option<ConnectionView>> {
        const BY_NAME: &str = concat!(connection_view!(), " WHERE c.display_name = $1");
        let nfc = lanyard_core::nfc_str(name).into_owned();
        if let Some(row) = self.conn.fetch_optional(BY_NAME, vec![Param::Text(nfc.clone())]).await? {
            return read_connection_view(&row).map(Some);
        }
        let Some(stored) = self.stored_spelling::<Connection>(&[nfc]).await? else { return Ok(None) };
        self.conn
            .fetch_optional(BY_NAME, vec![Param::Text(stored)])
            .await?
            .map(|row| read_connection_view(&row))
            .transpose()
    }

    /// The name of a row other than `except` whose name looks like `name` without being it
    /// ([`lanyard_core::Name::looks_like`]: the same UTS #39 skeleton), among the rows of `scope` (for links and
    /// pipelines: `[database]`; empty otherwise).
    ///
    /// Run it in the write transaction that inserts or renames the row: it reads every name of the table (of the
    /// database), so on PostgreSQL (SERIALIZABLE) a concurrent insert of a look-alike makes one of the two
    /// transactions fail with a serialization failure and rerun, and on SQLite the write lock serialises them; either
    /// way the second one sees the first.
    pub async fn find_lookalike<R: Record>(
        &mut self,
        scope: &[&str],
        name: &lanyard_core::Name,
        except: Option<R::Id>,
    ) -> Result<Option<String>> {
        let (scope_columns, name_column) = R::NAME_COLUMNS.split_at(R::NAME_COLUMNS.len() - 1);
        let mut conditions: Vec<String> =
            scope_columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
        let mut params: Vec<Param> = scope.iter().map(|s| Param::Text(lanyard_core::nfc_str(s).into_owned())).collect();
        if let Some(id) = except {
            params.push(id_text(id));
            conditions.push(format!("id <> ${}", params.len()));
        }
        let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
        let sql = format!("SELECT {} AS name FROM {}{filter}", name_column[0], R::TABLE);
        for row in self.conn.fetch_all(&sql, params).await? {
            let existing = row.text("name")?;
            if name.looks_like(&existing) {
                return Ok(Some(existing));
            }
        }
        Ok(None)
    }

    /// Records when an API token was last used, without changing its version (a bookkeeping column, not a change
    /// anyone made).
    pub async fn touch_token(&mut self, id: lanyard_core::TokenId, at: Timestamp) -> Result<()> {
        let sql = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";
        self.conn.execute(sql, vec![id_text(id), Param::Int(at.as_micros())]).await.map(|_| ())
    }

    /// Records the outcome of a TEST CONNECTION beside the connection's row (`connection_tests`), replacing the
    /// previous one, without changing the connection's version or `updated_at`: a probe is bookkeeping, not a
    /// change anyone made, so a client holding the connection's ETag stays current. Returns whether the connection
    /// still exists (a missing one records nothing).
    pub async fn record_connection_test(&mut self, id: lanyard_core::ConnectionId, test: &LastTest) -> Result<bool> {
        let sql = "INSERT INTO connection_tests (connection_id, last_tested_at, last_test_status, \
                   last_test_latency_ms, last_test_error, server_version) \
                   SELECT id, $2, $3, $4, $5, $6 FROM external_connections WHERE id = $1 \
                   ON CONFLICT (connection_id) DO UPDATE SET last_tested_at = excluded.last_tested_at, \
                   last_test_status = excluded.last_test_status, last_test_latency_ms = excluded.last_test_latency_ms, \
                   last_test_error = excluded.last_test_error, server_version = excluded.server_version";
        let params = vec![
            id_text(id),
            Param::Int(test.at.as_micros()),
            Param::Text(test.status.as_str().to_owned()),
            Param::OptInt(test.latency_ms),
            Param::OptText(test.error.clone()),
            Param::OptText(test.server_version.clone()),
        ];
        Ok(self.conn.execute(sql, params).await? == 1)
    }

    /// The row named `name`; [`CatalogError::NotFound`] otherwise.
    pub async fn get_by_name<R: Record>(&mut self, name: &[&str]) -> Result<R> {
        self.find_by_name(name).await?.ok_or_else(|| CatalogError::NotFound { kind: R::KIND, name: name.join(".") })
    }

    /// Every row, ordered by name, optionally only those whose name contains `like` (case-insensitive, no
    /// wildcards) and, for database-scoped tables, only those of `database`.
    pub async fn list<R: Record>(&mut self, like: Option<&str>, database: Option<&str>) -> Result<Vec<R>> {
        Ok(self.list_page(like, database, &Page::default()).await?.rows)
    }

    /// One [`Page`] of [`Tx::list`]: the rows after `page.after` in name order, at most `page.limit` of them, and
    /// the key to continue from when more follow.
    ///
    /// A `like` search narrows the table with the name-gram index (migration 0005: every three-character window of
    /// each name, kept by triggers) and then keeps the rows whose `LOWER(name)` contains the pattern, so its cost
    /// follows the matches, not the table; a list without `like` walks the name index from `after`. Paging by key
    /// (not by offset) is stable under concurrent writes: a row inserted or dropped elsewhere never shifts the rows of
    /// the next page, and each row that exists throughout the walk is returned exactly once.
    pub async fn list_page<R: Record>(
        &mut self,
        like: Option<&str>,
        database: Option<&str>,
        page: &Page,
    ) -> Result<Listed<R>> {
        let (sql, params) = list_select::<R>(&|column| self.conn.in_name_order(column), like, database, page)?;
        let rows: Vec<R> = self.conn.fetch_all(&sql, params).await?.iter().map(read).collect::<Result<_>>()?;
        page.cut(rows, list_key)
    }

    /// Writes `record` over the stored row if the stored version is still `record.meta.version`; returns the row as
    /// stored, with `version + 1` and a new `updated_at`. A changed row is a [`CatalogError::VersionConflict`], a
    /// missing one [`CatalogError::NotFound`], a reference to a row that does not exist
    /// [`CatalogError::MissingReference`] (checked in the same statement). One round trip when it succeeds.
    pub async fn update<R: Record>(&mut self, record: R) -> Result<R> {
        let now = Timestamp::now();
        let (sql, params) = update_statement(&record, now);
        let changed = self.conn.execute(&sql, params).await.map_err(|e| name_taken(e, &record))?;
        if changed == 0 {
            return Err(self.not_updated(&record).await);
        }
        Ok(as_updated(record, now))
    }

    /// [`Tx::update`], and the audit record `audit` makes of the row as it will be stored, appended in the same
    /// round trip; returns the row as stored and the record's sequence number. On PostgreSQL it is one statement
    /// (the UPDATE in a data-modifying `WITH`; the INSERT of the audit row selects from its `RETURNING`, so it
    /// inserts nothing when no row changed); on SQLite one batch of two statements, sent in one hand-off (the INSERT
    /// guarded by `changes() = 1`). When the row did not change nothing is appended and the error is
    /// [`Tx::update`]'s; either way the record commits or rolls back with the update, as part of this transaction.
    pub async fn update_audited<R: Record>(
        &mut self,
        record: R,
        audit: impl FnOnce(&R) -> NewAuditRecord,
    ) -> Result<(R, i64)> {
        let (stored, rows) = self.update_audited_answering(record, audit, None).await?;
        Ok((stored, rows[0].int("seq")?))
    }

    /// [`Tx::update_audited`] of a connection, answering with its view as stored: the row (with its last test) and
    /// the current names of the entry and storage it refers to, and the entry's expiry, read by the write itself. So
    /// the answer holds even when the caller changed the row from a copy read earlier, checked only by its version:
    /// an entry renamed since, or a test recorded since (which leaves the version as it is), shows as it is now. In
    /// the same round trip: on PostgreSQL the main query of the statement's `WITH` reads them beside the audit row it
    /// inserted; on SQLite a third statement of the batch reads them (only when the audit row was inserted).
    pub async fn update_connection_audited(
        &mut self,
        row: Connection,
        audit: impl FnOnce(&Connection) -> NewAuditRecord,
    ) -> Result<(ConnectionView, i64)> {
        /// The names and the last test of the row as `changed` (the UPDATE's `RETURNING *`) holds it.
        const POSTGRES: &str = "SELECT l.seq, t.last_tested_at, t.last_test_status, t.last_test_latency_ms, \
            t.last_test_error, t.server_version, e.display_name AS e_name, b.display_name AS b_name, \
            e.expires_at AS e_expires_at \
            FROM logged l CROSS JOIN changed c \
            LEFT JOIN connection_tests t ON t.connection_id = c.id \
            LEFT JOIN vault_entries e ON e.id = c.credential_id \
            LEFT JOIN vault_backends b ON b.id = c.credential_storage_id";
        const SQLITE: &str = concat!(connection_view!(), " WHERE c.id = $1 AND changes() = 1");
        let postgres = self.conn.is_postgres();
        let answer = if postgres { POSTGRES } else { SQLITE };
        let (mut stored, rows) = self.update_audited_answering(row, audit, Some(answer)).await?;
        let (logged, view) = match (postgres, rows.as_slice()) {
            (true, [row, ..]) => (row, row),
            (false, [logged, view, ..]) => (logged, view),
            _ => {
                return Err(CatalogError::Corrupt {
                    table: "external_connections",
                    problem: "the connection just updated was not read back with its audit row".to_owned(),
                });
            }
        };
        stored.last_test = crate::model::read_last_test(view)?;
        let expires_at = view.opt_int("e_expires_at")?.map(Timestamp::from_micros);
        let seq = logged.int("seq")?;
        Ok(((stored, view.opt_text("e_name")?, view.opt_text("b_name")?, expires_at), seq))
    }

    /// [`Tx::update_audited`], answering with the rows of the statement: the audit row's `seq`, then what `answer`
    /// reads (on PostgreSQL the main query of the statement, over `changed`, the row as updated, and `logged`, the
    /// audit row inserted, with its `seq`; on SQLite a statement after the INSERT in the same batch). Never empty.
    async fn update_audited_answering<R: Record>(
        &mut self,
        record: R,
        audit: impl FnOnce(&R) -> NewAuditRecord,
        answer: Option<&str>,
    ) -> Result<(R, Vec<Row>)> {
        let now = Timestamp::now();
        let (update, mut params) = update_statement(&record, now);
        let read_at = record.meta().version;
        let stored = as_updated(record, now);
        let record = audit(&stored);
        let (values, audit_params) = audit_values(&record, now, params.len() + 1);
        params.extend(audit_params);
        let postgres = self.conn.is_postgres();
        // The version the record keeps: on PostgreSQL the row the UPDATE returned, on SQLite the row read by id.
        // A connection's version is the row this ALTER writes, as JSON made here: no read-back or JSON building in
        // the statement on the hot path of PUT /connections/{name} (`http_put_rps_history`).
        let state = if self.history && R::KIND == ObjectKind::Connection && crate::history::kept(&record) == Some(false)
        {
            params.push(Param::Text(crate::history::row_json(&stored)));
            format!("${}", params.len())
        } else {
            self.history_state(&record, postgres, &mut params)
        };
        let sql = match (postgres, answer) {
            (true, answer) => format!(
                "WITH changed AS ({update} RETURNING *), \
                 logged AS (INSERT INTO audit_log ({AUDIT_COLUMNS}, state) SELECT {values}, {state} FROM changed r \
                 RETURNING seq) {}",
                answer.unwrap_or("SELECT seq FROM logged")
            ),
            (false, answer) => format!(
                "{update}; INSERT INTO audit_log ({AUDIT_COLUMNS}, state) SELECT {values}, {state} WHERE changes() = 1 \
                 RETURNING seq{}",
                answer.map(|a| format!("; {a}")).unwrap_or_default()
            ),
        };
        let rows = match self.conn.fetch_all(&sql, params).await {
            Ok(rows) => rows,
            // Without a transaction, a row this one refers to was deleted between the statement's snapshot (its
            // EXISTS) and its foreign-key check: run the change again, which finds it gone.
            Err(error) if self.conn.is_autocommit() && error.sqlstate().as_deref() == Some("23503") => {
                return Err(CatalogError::Overtaken { kind: R::KIND, name: stored.display() });
            }
            Err(error) => return Err(name_taken(error, &stored)),
        };
        if rows.is_empty() {
            let mut read = stored;
            read.meta_mut().version = read_at;
            return Err(self.not_updated(&read).await);
        }
        Ok((stored, rows))
    }

    /// Deletes the row with `id` (if `expected_version` is given, only at that version). Refused with
    /// [`CatalogError::StillReferenced`] while other rows refer to it.
    pub async fn delete<R: Record>(&mut self, id: R::Id, expected_version: Option<i64>) -> Result<()> {
        let current: R = self.get(id).await?;
        if let Some(expected) = expected_version.filter(|&v| v != current.meta().version) {
            return Err(CatalogError::VersionConflict {
                kind: R::KIND,
                name: current.display(),
                expected,
                actual: current.meta().version,
            });
        }
        let mut dependents = Vec::new();
        for (table, column, kind, name) in R::DEPENDENTS {
            let sql = format!("SELECT {name} AS dependent FROM {table} WHERE {column} = $1 ORDER BY 1");
            for row in self.conn.fetch_all(&sql, vec![id_text(id)]).await? {
                dependents.push((*kind, row.text("dependent")?));
            }
        }
        if !dependents.is_empty() {
            return Err(CatalogError::StillReferenced { kind: R::KIND, name: current.display(), dependents });
        }
        let sql = format!("DELETE FROM {} WHERE id = $1 AND version = $2", R::TABLE);
        let changed = self.conn.execute(&sql, vec![id_text(id), Param::Int(current.meta().version)]).await?;
        if changed == 0 {
            return Err(self.missing_or_conflict::<R>(id, &current.display(), current.meta().version).await);
        }
        Ok(())
    }

    /// The `state` an audit record is appended with (`history.rs`), adding the object's id to `params` when the
    /// expression reads the row by it; NULL when this catalog keeps no history ([`crate::Catalog::keep_history`]).
    fn history_state(&self, record: &NewAuditRecord, changed: bool, params: &mut Vec<Param>) -> String {
        if !self.history {
            return "NULL".to_owned();
        }
        let id = params.len() + 1;
        let state = crate::history::state_expression(record, self.conn.is_postgres(), changed, id);
        if state.contains(&format!("${id}")) {
            params.push(Param::OptText(record.object_id.clone()));
        }
        state
    }

    /// Appends an audit record; returns its sequence number. When the record is a change of an object whose versions
    /// are kept (`history.rs`), it is appended with the row as this transaction has it now (or the mark of a drop).
    pub async fn append_audit(&mut self, record: &NewAuditRecord) -> Result<i64> {
        let (values, mut params) = audit_values(record, Timestamp::now(), 1);
        let state = self.history_state(record, false, &mut params);
        let sql = format!("INSERT INTO audit_log ({AUDIT_COLUMNS}, state) VALUES ({values}, {state}) RETURNING seq");
        let row = self.conn.fetch_optional(&sql, params).await?.ok_or_else(|| CatalogError::Corrupt {
            table: "audit_log",
            problem: "INSERT … RETURNING returned no row".to_owned(),
        })?;
        row.int("seq")
    }

    /// Audit records after `since` (a sequence number), oldest first, optionally only those about `object` (an id or
    /// a name), at most `limit`.
    pub async fn list_audit(
        &mut self,
        since: Option<i64>,
        object: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        let filter = AuditFilter { since, object: object.map(str::to_owned), limit, ..AuditFilter::default() };
        self.query_audit(&filter).await
    }

    /// Audit records matching `filter`, oldest first.
    pub async fn query_audit(&mut self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut params = vec![Param::Int(filter.since.unwrap_or(0)), Param::Int(filter.limit)];
        let mut conditions = String::new();
        if let Some(object) = &filter.object {
            params.push(Param::Text(object.clone()));
            conditions.push_str(&format!(" AND (object_id = ${n} OR object_name = ${n})", n = params.len()));
        }
        if let Some(kind) = filter.kind {
            params.push(Param::Text(kind.noun().to_owned()));
            conditions.push_str(&format!(" AND object_kind = ${}", params.len()));
        }
        if let Some(from) = filter.from {
            params.push(Param::Int(from.as_micros()));
            conditions.push_str(&format!(" AND at >= ${}", params.len()));
        }
        let order = if filter.newest { "DESC" } else { "" };
        let sql = format!(
            "SELECT seq, at, principal, action, object_kind, object_id, object_name, outcome, detail FROM audit_log \
             WHERE seq > $1{conditions} ORDER BY seq {order} LIMIT $2"
        );
        let rows = self.conn.fetch_all(&sql, params).await?;
        let mut records = rows
            .iter()
            .map(|row| {
                let kind = row.text("object_kind")?;
                Ok(AuditRecord {
                    seq: row.int("seq")?,
                    at: Timestamp::from_micros(row.int("at")?),
                    record: NewAuditRecord {
                        principal: row.text("principal")?,
                        action: parse_vocab("audit_log", "action", &row.text("action")?)?,
                        object_kind: object_kind(&kind)?,
                        object_id: row.opt_text("object_id")?,
                        object_name: row.opt_text("object_name")?,
                        outcome: parse_vocab("audit_log", "outcome", &row.text("outcome")?)?,
                        detail: parse_json("audit_log", &row.text("detail")?)?,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if filter.newest {
            records.reverse();
        }
        Ok(records)
    }

    /// Counts rows of a table (for tests and diagnostics).
    pub async fn count<R: Record>(&mut self) -> Result<i64> {
        let row = self.conn.fetch_optional(&format!("SELECT COUNT(*) AS n FROM {}", R::TABLE), vec![]).await?;
        row.map_or(Ok(0), |row| row.int("n"))
    }

    /// Checks that every id in a reference column of `columns` (the record's [`Record::columns`]) exists.
    async fn check_references<R: Record>(&mut self, record: &R, columns: &[(&'static str, Param)]) -> Result<()> {
        for reference in R::REFERENCES {
            let value = columns.iter().find(|(column, _)| *column == reference.column).map(|(_, value)| value);
            let Some(id) = reference_id(value.expect("a reference column is one of the record's columns")).cloned()
            else {
                continue;
            };
            let sql = format!("SELECT 1 AS present FROM {} WHERE id = $1", reference.table);
            if self.conn.fetch_optional(&sql, vec![Param::Text(id.clone())]).await?.is_none() {
                return Err(CatalogError::MissingReference {
                    kind: reference.kind,
                    id,
                    referrer: R::KIND,
                    name: record.display(),
                });
            }
        }
        Ok(())
    }

    /// Why a versioned write of `record` (at the version it was read at) changed no row: a reference it holds is
    /// missing ([`CatalogError::MissingReference`], told first, as when references were checked before the write),
    /// the row is gone ([`CatalogError::NotFound`]) or at another version ([`CatalogError::VersionConflict`]). Only
    /// this miss path reads these; a write that succeeds never does.
    ///
    /// Without a transaction ([`crate::optimistic!`]) the row was read by an earlier statement, so the version is
    /// told first: a row that moved since is [`CatalogError::Overtaken`] (the whole change runs again on the new
    /// row), whatever its references are now — they may be ones the change never named.
    async fn not_updated<R: Record>(&mut self, record: &R) -> CatalogError {
        let (id, name, read_at) = (record.meta().id, record.display(), record.meta().version);
        if self.conn.is_autocommit() {
            match self.missing_or_conflict::<R>(id, &name, read_at).await {
                CatalogError::VersionConflict { kind, name, actual, .. } if actual != read_at => {
                    return CatalogError::Overtaken { kind, name };
                }
                CatalogError::VersionConflict { .. } => {}
                other => return other,
            }
        }
        let columns = record.columns();
        if let Err(error) = self.check_references(record, &columns).await {
            return error;
        }
        self.missing_or_conflict::<R>(id, &name, read_at).await
    }

    async fn missing_or_conflict<R: Record>(&mut self, id: R::Id, name: &str, expected: i64) -> CatalogError {
        let sql = format!("SELECT version FROM {} WHERE id = $1", R::TABLE);
        match self.conn.fetch_optional(&sql, vec![id_text(id)]).await {
            Ok(Some(row)) => match row.int("version") {
                Ok(actual) => CatalogError::VersionConflict { kind: R::KIND, name: name.to_owned(), expected, actual },
                Err(e) => e,
            },
            Ok(None) => CatalogError::NotFound { kind: R::KIND, name: name.to_owned() },
            Err(e) => e,
        }
    }
}

/// The SELECT of [`Tx::list_page`] and its parameters; `in_name_order` writes a name column as it orders and pages
/// (see [`crate::db::Conn::in_name_order`]).
pub(crate) fn list_select<R: Record>(
    in_name_order: &dyn Fn(&str) -> String,
    like: Option<&str>,
    database: Option<&str>,
    page: &Page,
) -> Result<(String, Vec<Param>)> {
    let name_column = R::NAME_COLUMNS.last().copied().unwrap_or("display_name");
    let order: Vec<String> = R::NAME_COLUMNS.iter().map(|column| in_name_order(column)).collect();
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    if let Some(like) = like {
        let pattern = lanyard_core::nfc_str(like).to_lowercase();
        if let Some(narrowing) = gram_condition(R::TABLE, &pattern, &mut params) {
            conditions.push(narrowing);
        }
        params.push(Param::Text(format!("%{}%", escape_like(&pattern))));
        conditions.push(format!("LOWER({name_column}) LIKE ${} ESCAPE '\\'", params.len()));
    }
    if let (Some(database), true) = (database, R::NAME_COLUMNS.len() == 2) {
        params.push(Param::Text(database.to_owned()));
        conditions.push(format!("database_name = ${}", params.len()));
    }
    if let Some(after) = &page.after {
        if after.len() != R::NAME_COLUMNS.len() {
            return Err(CatalogError::InvalidCursor {
                kind: R::KIND,
                problem: format!("it holds {} name parts, a {} has {}", after.len(), R::KIND, R::NAME_COLUMNS.len()),
            });
        }
        let first = params.len() + 1;
        params.extend(after.iter().map(|part| Param::Text(part.clone())));
        let marks: Vec<String> = (first..first + after.len()).map(|i| format!("${i}")).collect();
        conditions.push(format!("({}) > ({})", order.join(", "), marks.join(", ")));
    }
    let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    // One more row than asked tells whether another page follows.
    let sql = format!("SELECT * FROM {}{filter} ORDER BY {}{}", R::SELECT_FROM, order.join(", "), page.sql_limit());
    Ok((sql, params))
}

/// The SELECT of a SQLite `LIKE` search of `R`'s list and its (text) parameters, for tests that read its query plan.
#[doc(hidden)]
pub fn sqlite_list_select<R: Record>(like: &str) -> (String, Vec<String>) {
    let (sql, params) = list_select::<R>(&str::to_owned, Some(like), None, &Page::default()).unwrap_or_default();
    let params = params.into_iter().filter_map(|param| if let Param::Text(text) = param { Some(text) } else { None });
    (sql, params.collect())
}

/// The condition that narrows a `like` search of `table` to the rows whose name holds every gram of `pattern` (see
/// migration 0005), binding what it needs into `params`; `None` for an empty pattern (every row matches).
///
/// A pattern of one or two characters is the prefix of a gram (names are indexed with two U+0001 characters after
/// them, which no name holds), so a range of the index finds it; a longer one takes the rows holding each of its
/// first [`MAX_SEARCH_GRAMS`] distinct three-character windows.
fn gram_condition(table: &'static str, pattern: &str, params: &mut Vec<Param>) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    if chars.is_empty() {
        return None;
    }
    params.push(Param::Text(table.to_owned()));
    let table_mark = params.len();
    if chars.len() < 3 {
        // Every gram starting with the pattern: from the pattern itself to the pattern followed by the greatest
        // characters (a gram has three).
        let top: String = chars.iter().copied().chain(std::iter::repeat_n(char::MAX, 3 - chars.len())).collect();
        params.push(Param::Text(pattern.to_owned()));
        params.push(Param::Text(top));
        return Some(format!(
            "{table}.id IN (SELECT id FROM name_grams WHERE tbl = ${table_mark} AND gram >= ${} AND gram <= ${})",
            table_mark + 1,
            table_mark + 2
        ));
    }
    let mut grams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    grams.sort_unstable();
    grams.dedup();
    grams.truncate(MAX_SEARCH_GRAMS);
    let count = grams.len();
    let marks: Vec<String> = grams
        .into_iter()
        .map(|gram| {
            params.push(Param::Text(gram));
            format!("${}", params.len())
        })
        .collect();
    Some(format!(
        "{table}.id IN (SELECT id FROM name_grams WHERE tbl = ${table_mark} AND gram IN ({}) GROUP BY id \
         HAVING COUNT(*) = {count})",
        marks.join(", ")
    ))
}

/// The most grams of a pattern a search looks up (a longer pattern is narrowed by these and then checked whole).
const MAX_SEARCH_GRAMS: usize = 8;

/// The name of `row` as a list key: the values of [`Record::NAME_COLUMNS`], which are text.
fn list_key<R: Record>(row: &R) -> Result<Vec<String>> {
    row.name_values()
        .into_iter()
        .map(|value| match value {
            Param::Text(text) => Ok(text),
            _ => Err(CatalogError::Corrupt { table: R::TABLE, problem: "a name column is not text".to_owned() }),
        })
        .collect()
}

/// Escapes `%`, `_` and `\` so a LIKE pattern matches them literally.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Which audit records [`Tx::query_audit`] returns: every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    /// Only records after this sequence number.
    pub since: Option<i64>,
    /// Only records at or after this time.
    pub from: Option<Timestamp>,
    /// Only records about this object (its id or its name).
    pub object: Option<String>,
    /// Only records about this kind of object.
    pub kind: Option<ObjectKind>,
    /// At most this many.
    pub limit: i64,
    /// The newest `limit` matching records rather than the oldest (still returned oldest first).
    pub newest: bool,
}

fn object_kind(noun: &str) -> Result<ObjectKind> {
    [
        ObjectKind::Connection,
        ObjectKind::VaultEntry,
        ObjectKind::CredentialStorage,
        ObjectKind::Link,
        ObjectKind::Pipeline,
        ObjectKind::Database,
        ObjectKind::Principal,
        ObjectKind::Token,
    ]
    .into_iter()
    .find(|k| k.noun() == noun)
    .ok_or_else(|| CatalogError::Corrupt { table: "audit_log", problem: format!("unknown object kind {noun:?}") })
}
