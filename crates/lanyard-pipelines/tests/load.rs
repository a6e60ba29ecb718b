//! The loader against the machine's PostgreSQL and MariaDB: each behaviour is one test per target
//! (`postgres::<name>`, `mysql::<name>`), each in a database of its own. A missing server fails the test.

// The throughput check prints its figure.
#![allow(clippy::print_stderr)]

use std::time::Instant;

use lanyard_core::{CsvFormat, LoadFormat, PipelineId, TableRef};
use lanyard_pipelines::load::{
    FileToLoad, LEDGER_TABLE, LedgerEntry, LoadError, Loaded, MAX_QUOTED_CHARS, ledger_mysql, ledger_postgres,
    load_mysql, load_postgres,
};
use lanyard_testsupport::{MariaDbDatabase, TempDatabase};
use mysql_async::prelude::Queryable as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Postgres,
    Mysql,
}

/// A database of the test's own on one engine, and a second schema (PostgreSQL) or database (MySQL) beside it.
struct Fixture {
    engine: Engine,
    pg: Option<TempDatabase>,
    my: Option<(MariaDbDatabase, MariaDbDatabase)>,
}

impl Fixture {
    fn new(engine: Engine) -> Self {
        match engine {
            Engine::Postgres => Self { engine, pg: Some(TempDatabase::postgres("pipeload")), my: None },
            Engine::Mysql => Self {
                engine,
                pg: None,
                my: Some((MariaDbDatabase::create("pipeload"), MariaDbDatabase::create("pipeload_other"))),
            },
        }
    }

    /// A new session on the test's database.
    async fn session(&self) -> Session {
        match (&self.pg, &self.my) {
            (Some(db), _) => {
                let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"));
                tokio::spawn(connection);
                Session::Pg(client)
            }
            (None, Some((db, _))) => Session::My(
                mysql_async::Conn::new(db.opts())
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}")),
            ),
            (None, None) => unreachable!(),
        }
    }

    /// The other schema or database, created (PostgreSQL: a name that needs quoting).
    async fn other_schema(&self, session: &mut Session) -> String {
        match &self.my {
            Some((_, other)) => other.name().to_owned(),
            None => {
                session.exec("CREATE SCHEMA \"Other \"\"Schema\"").await;
                "Other \"Schema".to_owned()
            }
        }
    }

    /// `name` quoted for the engine.
    fn quote(&self, name: &str) -> String {
        match self.engine {
            Engine::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Engine::Mysql => format!("`{}`", name.replace('`', "``")),
        }
    }
}

enum Session {
    Pg(tokio_postgres::Client),
    My(mysql_async::Conn),
}

impl Session {
    async fn exec(&mut self, sql: &str) {
        match self {
            Self::Pg(client) => client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}")),
            Self::My(conn) => conn.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }

    /// Every value as text (NULL as `None`).
    async fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            Self::Pg(client) => client
                .simple_query(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
                .into_iter()
                .filter_map(|message| match message {
                    tokio_postgres::SimpleQueryMessage::Row(row) => {
                        Some((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect())
                    }
                    _ => None,
                })
                .collect(),
            Self::My(conn) => {
                let rows: Vec<mysql_async::Row> = conn.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
                rows.into_iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| match row.as_ref(i) {
                                Some(mysql_async::Value::NULL) | None => None,
                                Some(mysql_async::Value::Bytes(b)) => Some(String::from_utf8(b.clone()).unwrap()),
                                Some(other) => Some(other.as_sql(false)),
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }

    async fn count(&mut self, table: &str) -> u64 {
        let rows = self.rows(&format!("SELECT COUNT(*) FROM {table}")).await;
        rows[0][0].as_deref().unwrap().parse().unwrap()
    }

    async fn load(&mut self, table: &str, format: &LoadFormat, file: FileToLoad<'_>) -> Result<Loaded, LoadError> {
        let table: TableRef = table.parse().unwrap();
        match self {
            Self::Pg(client) => load_postgres(client, &table, format, file).await,
            Self::My(conn) => load_mysql(conn, &table, format, file).await,
        }
    }

    async fn ledger(&mut self, table: &str, pipeline: PipelineId) -> Vec<LedgerEntry> {
        let table: TableRef = table.parse().unwrap();
        match self {
            Self::Pg(client) => ledger_postgres(client, &table, pipeline).await,
            Self::My(conn) => ledger_mysql(conn, &table, pipeline).await,
        }
        .unwrap()
    }
}

/// A file of a fresh pipeline.
fn file<'a>(pipeline: PipelineId, key: &'a str, body: &'a str) -> FileToLoad<'a> {
    FileToLoad { pipeline, key, etag: Some("\"etag-1\""), body: body.as_bytes() }
}

fn csv() -> LoadFormat {
    LoadFormat::Csv(CsvFormat::default())
}

fn text(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_owned)).collect()
}

const EVENTS: &str = "CREATE TABLE events (id INT NOT NULL, name VARCHAR(200), amount DECIMAL(10,2) NOT NULL, \
                      note VARCHAR(20) DEFAULT 'none')";

/// Ten rows after a header: line `n` holds id `n - 1`.
fn ten_rows(bad_line: Option<(u64, &str)>) -> String {
    let mut body = "id,name,amount\n".to_owned();
    for line in 2..=11u64 {
        let amount = match bad_line {
            Some((bad, value)) if bad == line => value.to_owned(),
            _ => format!("{}.50", line),
        };
        body.push_str(&format!("{},name {},{amount}\n", line - 1, line - 1));
    }
    body
}

macro_rules! on_both {
    ($($test:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Fixture::new(super::Engine::Postgres)).await;
                }
            )+
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Fixture::new(super::Engine::Mysql)).await;
                }
            )+
        }
    };
}

on_both!(
    csv_header_names_the_columns_in_any_order_and_case,
    column_list_custom_delimiter_quote_escape_and_ignored_lines,
    quoted_fields_keep_delimiters_and_line_breaks_and_lines_stay_right,
    json_lines_load_nulls_absent_keys_and_nested_values,
    the_same_file_twice_is_earlier_and_the_ledger_says_so,
    a_bad_value_on_line_7_rejects_the_whole_file,
    null_in_a_not_null_column_and_wrong_field_counts_are_rejected,
    unknown_columns_invalid_json_and_non_objects_are_rejected,
    two_concurrent_loads_of_one_key_load_it_once,
    a_schema_qualified_table_keeps_its_ledger_beside_it,
    a_missing_table_is_a_permanent_target_error,
    an_end_of_copy_line_inside_a_field_is_data,
    empty_files_load_zero_rows_and_are_recorded,
    a_long_bad_value_is_cut_in_the_reason,
    ten_thousand_rows_and_their_rate,
);

async fn csv_header_names_the_columns_in_any_order_and_case(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let body = "amount,ID,Name\n1.50,1,alpha\n2,2,\n3.25,3,\"\"\n";
    let loaded = s.load("events", &csv(), file(PipelineId::new_random(), "a.csv", body)).await.unwrap();
    assert_eq!(loaded, Loaded::Now { rows: 3 });
    assert_eq!(
        s.rows("SELECT id, name, amount, note FROM events ORDER BY id").await,
        vec![
            text(&[Some("1"), Some("alpha"), Some("1.50"), Some("none")]),
            text(&[Some("2"), None, Some("2.00"), Some("none")]),
            text(&[Some("3"), Some(""), Some("3.25"), Some("none")]),
        ],
        "an unquoted empty field is NULL, a quoted one the empty string; a column the file lacks gets its default"
    );
    if fx.engine == Engine::Postgres {
        // `INTO TABLE Events` finds `events`, as PostgreSQL folds unquoted names.
        let loaded = s.load("Public.Events", &csv(), file(PipelineId::new_random(), "b.csv", "id,amount\n4,4\n")).await;
        assert_eq!(loaded.unwrap(), Loaded::Now { rows: 1 });
    }
}

async fn column_list_custom_delimiter_quote_escape_and_ignored_lines(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let format = LoadFormat::Csv(CsvFormat {
        delimiter: ';',
        enclosed_by: '\'',
        escaped_by: Some('\\'),
        ignore_lines: 2,
        columns: Some(vec!["name".into(), "id".into(), "amount".into()]),
    });
    let body = "exported by some tool\nid;name;amount (ignored too)\n'semi;colon';1;1\n'it\\'s \\\\ ok';2;2\n";
    let loaded = s.load("events", &format, file(PipelineId::new_random(), "b.csv", body)).await.unwrap();
    assert_eq!(loaded, Loaded::Now { rows: 2 });
    assert_eq!(
        s.rows("SELECT id, name FROM events ORDER BY id").await,
        vec![text(&[Some("1"), Some("semi;colon")]), text(&[Some("2"), Some("it's \\ ok")])]
    );
    // The lines a bad value is reported at count the ignored ones.
    let bad = "x\ny\n'a';1;1\n'b';2;oops\n";
    let error = s.load("events", &format, file(PipelineId::new_random(), "c.csv", bad)).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 4, column: Some(c), .. } if c == "amount"), "{error:?}");
}

async fn quoted_fields_keep_delimiters_and_line_breaks_and_lines_stay_right(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let good =
        "id,name,amount\n1,\"two\nlines\",1\n2,\"a \"\"quoted\"\", with comma\",2\n3,\"three\r\nline\nfield\",3\n";
    let loaded = s.load("events", &csv(), file(PipelineId::new_random(), "good.csv", good)).await.unwrap();
    assert_eq!(loaded, Loaded::Now { rows: 3 });
    assert_eq!(
        s.rows("SELECT name FROM events ORDER BY id").await,
        vec![
            text(&[Some("two\nlines")]),
            text(&[Some("a \"quoted\", with comma")]),
            text(&[Some("three\r\nline\nfield")])
        ]
    );
    let bad = format!("{good}4,ok,4\n5,\"five\nlines\n\",abc\n");
    let error = s.load("events", &csv(), file(PipelineId::new_random(), "bad.csv", &bad)).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 9, column: Some(c), .. } if c == "amount"), "{error:?}");
    let unterminated = "id,name,amount\n1,a,1\n2,\"open\n3,b,3\n";
    let error = s.load("events", &csv(), file(PipelineId::new_random(), "open.csv", unterminated)).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 3, .. }), "{error:?}");
    assert_eq!(s.count("events").await, 3, "the rejected files left nothing");
}

async fn json_lines_load_nulls_absent_keys_and_nested_values(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec("CREATE TABLE docs (id BIGINT NOT NULL, name VARCHAR(100), doc TEXT, flag BOOLEAN, score DECIMAL(30,0))")
        .await;
    let body = concat!(
        "{\"id\": 1, \"name\": \"a \\\"b\\\" \\u00e9\", \"doc\": {\"k\": [1, 2, null]}, \"flag\": true}\n",
        "\n",
        "{\"id\": 2, \"name\": null, \"score\": 123456789012345678901234567890}\r\n",
        "{\"ID\": 3, \"doc\": \"plain\", \"flag\": false, \"doc2\": null}\n",
    );
    let error = s.load("docs", &LoadFormat::Json, file(PipelineId::new_random(), "x.json", body)).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 4, column: Some(c), .. } if c == "doc2"), "{error:?}");
    let body = body.replace(", \"doc2\": null", "");
    let loaded = s.load("docs", &LoadFormat::Json, file(PipelineId::new_random(), "y.json", &body)).await.unwrap();
    assert_eq!(loaded, Loaded::Now { rows: 3 });
    let (t, f) = match fx.engine {
        Engine::Postgres => ("t", "f"),
        Engine::Mysql => ("1", "0"),
    };
    assert_eq!(
        s.rows("SELECT id, name, doc, flag, score FROM docs ORDER BY id").await,
        vec![
            text(&[Some("1"), Some("a \"b\" é"), Some("{\"k\": [1, 2, null]}"), Some(t), None]),
            text(&[Some("2"), None, None, None, Some("123456789012345678901234567890")]),
            text(&[Some("3"), None, Some("plain"), Some(f), None]),
        ]
    );
}

async fn the_same_file_twice_is_earlier_and_the_ledger_says_so(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let pipeline = PipelineId::new_random();
    let body = ten_rows(None);
    let before = now_micros();
    assert_eq!(s.load("events", &csv(), file(pipeline, "dir/one.csv", &body)).await.unwrap(), Loaded::Now { rows: 10 });
    assert_eq!(
        s.load("events", &csv(), file(pipeline, "dir/one.csv", &body)).await.unwrap(),
        Loaded::Earlier { rows: 10 }
    );
    // Even changed, the same key is not loaded again.
    assert_eq!(
        s.load("events", &csv(), file(pipeline, "dir/one.csv", "garbage")).await.unwrap(),
        Loaded::Earlier { rows: 10 }
    );
    assert_eq!(s.count("events").await, 10);
    // Another pipeline's ledger is its own.
    let other = PipelineId::new_random();
    assert_eq!(s.load("events", &csv(), file(other, "dir/one.csv", &body)).await.unwrap(), Loaded::Now { rows: 10 });
    assert_eq!(s.count("events").await, 20);

    let entries = s.ledger("events", pipeline).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (entries[0].key.as_str(), entries[0].etag.as_deref(), entries[0].rows),
        ("dir/one.csv", Some("\"etag-1\""), 10)
    );
    let at = entries[0].loaded_at_micros;
    assert!(at >= before - 5_000_000 && at <= now_micros() + 5_000_000, "loaded_at {at} is not about now ({before})");

    // Deleting the ledger row makes the file load again.
    s.exec(&format!(
        "DELETE FROM {LEDGER_TABLE} WHERE object_key = 'dir/one.csv' AND rows_loaded = 10 AND etag IS NOT NULL"
    ))
    .await;
    assert!(s.ledger("events", pipeline).await.is_empty());
    assert_eq!(s.load("events", &csv(), file(pipeline, "dir/one.csv", &body)).await.unwrap(), Loaded::Now { rows: 10 });
    assert_eq!(s.ledger("events", pipeline).await.len(), 1);
}

async fn a_bad_value_on_line_7_rejects_the_whole_file(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    if fx.engine == Engine::Mysql {
        // Without strict mode MariaDB would store 0 with a warning: the loader turns it on for the load.
        s.exec("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'").await;
    }
    let pipeline = PipelineId::new_random();
    let error = s.load("events", &csv(), file(pipeline, "f.csv", &ten_rows(Some((7, "abc"))))).await.unwrap_err();
    match &error {
        LoadError::Rejected { line, column, reason } => {
            assert_eq!((*line, column.as_deref()), (7, Some("amount")), "{error}");
            assert!(reason.contains("abc"), "the reason quotes the value: {reason}");
            assert!(!reason.contains("row"), "and names no row of a statement: {reason}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(s.count("events").await, 0, "nothing of the file was loaded");
    if fx.engine == Engine::Mysql {
        let mode = s.rows("SELECT @@SESSION.sql_mode").await;
        assert_eq!(mode, vec![text(&[Some("NO_ENGINE_SUBSTITUTION")])], "and the session's sql_mode is put back");
    }
    assert!(s.ledger("events", pipeline).await.is_empty(), "and the ledger does not have it");
    // The file fixed under the same key loads.
    assert_eq!(
        s.load("events", &csv(), file(pipeline, "f.csv", &ten_rows(None))).await.unwrap(),
        Loaded::Now { rows: 10 }
    );
}

async fn null_in_a_not_null_column_and_wrong_field_counts_are_rejected(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let null = "id,name,amount\n1,a,1\n2,b,2\n3,c,\n4,d,4\n";
    let error = s.load("events", &csv(), file(PipelineId::new_random(), "n.csv", null)).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 4, column: Some(c), .. } if c == "amount"), "{error:?}");
    let long = "id,name,amount\n1,a,1\n2,b,2,extra\n";
    let error = s.load("events", &csv(), file(PipelineId::new_random(), "l.csv", long)).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 3, column: None, .. }), "{error:?}");
    let short = "id,name,amount\n1,a,1\n2,b\n";
    let error = s.load("events", &csv(), file(PipelineId::new_random(), "s.csv", short)).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 3, column: Some(c), .. } if c == "amount"), "{error:?}");
    // A NOT NULL column without default that the file does not name.
    s.exec("CREATE TABLE strict_t (id INT NOT NULL, must VARCHAR(10) NOT NULL)").await;
    let error = s.load("strict_t", &csv(), file(PipelineId::new_random(), "m.csv", "id\n1\n")).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 2, column: Some(c), .. } if c == "must"), "{error:?}");
    assert_eq!(s.count("events").await + s.count("strict_t").await, 0);
}

async fn unknown_columns_invalid_json_and_non_objects_are_rejected(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let error = s.load("events", &csv(), file(PipelineId::new_random(), "u.csv", "id,nope\n1,2\n")).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 1, column: Some(c), .. } if c == "nope"), "{error:?}");
    let json = LoadFormat::Json;
    let invalid = "{\"id\": 1, \"amount\": 1}\n{\"id\": 2, \"amount\": }\n";
    let error = s.load("events", &json, file(PipelineId::new_random(), "i.json", invalid)).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 2, column: None, .. }), "{error:?}");
    let array = "{\"id\": 1, \"amount\": 1}\n\n[1, 2]\n";
    let error = s.load("events", &json, file(PipelineId::new_random(), "a.json", array)).await.unwrap_err();
    assert!(
        matches!(&error, LoadError::Rejected { line: 3, column: None, reason } if reason.contains("not a JSON object")),
        "{error:?}"
    );
    // A value with line breaks before the bad one: the line is still the file's.
    let bad_value = "{\"id\": 1, \"name\": \"a\\nb\\r\\nc\", \"amount\": 1}\n{\"id\": 2, \"amount\": \"lots\"}\n";
    let error = s.load("events", &json, file(PipelineId::new_random(), "v.json", bad_value)).await.unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 2, column: Some(c), .. } if c == "amount"), "{error:?}");
    let latin1 = b"id,name,amount\n1,caf\xe9,1\n";
    let error = s
        .load("events", &csv(), FileToLoad { pipeline: PipelineId::new_random(), key: "l1", etag: None, body: latin1 })
        .await
        .unwrap_err();
    assert!(matches!(&error, LoadError::Rejected { line: 2, column: None, .. }), "{error:?}");
    assert_eq!(s.count("events").await, 0);
}

async fn two_concurrent_loads_of_one_key_load_it_once(fx: Fixture) {
    let mut setup = fx.session().await;
    setup.exec(EVENTS).await;
    let (mut a, mut b) = (fx.session().await, fx.session().await);
    let pipeline = PipelineId::new_random();
    let body = ten_rows(None);
    let format = csv();
    // The first round also races to create the ledger table.
    for key in ["k1", "k2", "k3", "k4"] {
        let (x, y) = tokio::join!(
            a.load("events", &format, file(pipeline, key, &body)),
            b.load("events", &format, file(pipeline, key, &body)),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        let now = [x, y].iter().filter(|l| matches!(l, Loaded::Now { .. })).count();
        assert_eq!(now, 1, "exactly one load of {key} is Now: {x:?}, {y:?}");
        assert_eq!((x.rows(), y.rows()), (10, 10));
    }
    assert_eq!(setup.count("events").await, 40);
    assert_eq!(setup.ledger("events", pipeline).await.len(), 4);
}

async fn a_schema_qualified_table_keeps_its_ledger_beside_it(fx: Fixture) {
    let mut s = fx.session().await;
    let schema = fx.other_schema(&mut s).await;
    let qualified = format!("{}.events", fx.quote(&schema));
    s.exec(&EVENTS.replace("TABLE events", &format!("TABLE {qualified}"))).await;
    let table = format!("{schema}.events");
    let pipeline = PipelineId::new_random();
    assert_eq!(
        s.load(&table, &csv(), file(pipeline, "q.csv", &ten_rows(None))).await.unwrap(),
        Loaded::Now { rows: 10 }
    );
    assert_eq!(s.count(&qualified).await, 10);
    assert_eq!(s.ledger(&table, pipeline).await.len(), 1);
    let ledger = format!("{}.{LEDGER_TABLE}", fx.quote(&schema));
    assert_eq!(s.count(&ledger).await, 1, "the ledger is in the table's own schema");
    assert!(s.ledger("events", pipeline).await.is_empty(), "and not in the session's default one");
}

async fn a_missing_table_is_a_permanent_target_error(fx: Fixture) {
    let mut s = fx.session().await;
    let error = s.load("nowhere", &csv(), file(PipelineId::new_random(), "x.csv", "id\n1\n")).await.unwrap_err();
    assert!(
        matches!(&error, LoadError::Target { temporary: false, reason } if reason.contains("nowhere")),
        "{error:?}"
    );
    assert!(s.ledger("nowhere", PipelineId::new_random()).await.is_empty());
}

async fn an_end_of_copy_line_inside_a_field_is_data(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let body = "id,name,amount\n1,\"x\n\\.\ny\",1\n2,\\.,2\n";
    let loaded = s.load("events", &csv(), file(PipelineId::new_random(), "eoc.csv", body)).await.unwrap();
    assert_eq!(loaded, Loaded::Now { rows: 2 });
    assert_eq!(
        s.rows("SELECT name FROM events ORDER BY id").await,
        vec![text(&[Some("x\n\\.\ny")]), text(&[Some("\\.")])]
    );
}

async fn empty_files_load_zero_rows_and_are_recorded(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let pipeline = PipelineId::new_random();
    for (key, body, format) in [
        ("empty.csv", "", csv()),
        ("header.csv", "id,name,amount\r\n\r\n", csv()),
        ("blank.json", "\n \n", LoadFormat::Json),
    ] {
        assert_eq!(
            s.load("events", &format, file(pipeline, key, body)).await.unwrap(),
            Loaded::Now { rows: 0 },
            "{key}"
        );
    }
    let entries = s.ledger("events", pipeline).await;
    let keys: Vec<(&str, u64)> = entries.iter().map(|e| (e.key.as_str(), e.rows)).collect();
    assert_eq!(keys, [("blank.json", 0), ("empty.csv", 0), ("header.csv", 0)]);
}

async fn a_long_bad_value_is_cut_in_the_reason(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let value = "9".repeat(3000);
    let body = format!("id,name,amount\n1,a,{value}\n");
    let error = s.load("events", &csv(), file(PipelineId::new_random(), "long.csv", &body)).await.unwrap_err();
    let LoadError::Rejected { line: 2, column: Some(column), reason } = &error else { panic!("{error:?}") };
    assert_eq!(column, "amount");
    assert!(!reason.contains(&"9".repeat(MAX_QUOTED_CHARS + 1)), "{reason}");
}

async fn ten_thousand_rows_and_their_rate(fx: Fixture) {
    let mut s = fx.session().await;
    s.exec(EVENTS).await;
    let mut body = "id,name,amount\n".to_owned();
    for i in 0..10_000 {
        body.push_str(&format!("{i},\"name number {i}, quoted\",{}.{:02}\n", i * 3, i % 100));
    }
    let started = Instant::now();
    let loaded = s.load("events", &csv(), file(PipelineId::new_random(), "big.csv", &body)).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(loaded, Loaded::Now { rows: 10_000 });
    assert_eq!(s.count("events").await, 10_000);
    let engine = fx.engine;
    eprintln!(
        "{engine:?}: 10,000 CSV rows ({} KiB) in {elapsed:?}: {:.0} rows/s",
        body.len() / 1024,
        10_000.0 / elapsed.as_secs_f64()
    );
}

fn now_micros() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since.as_micros()).unwrap()
}

/// A table without transactions (MyISAM) would keep the rows inserted before a bad one: refused before anything is
/// inserted, naming the engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_refuses_a_table_without_transactions() {
    let fx = Fixture::new(Engine::Mysql);
    let mut s = fx.session().await;
    s.exec("CREATE TABLE plain (id INT NOT NULL) ENGINE = MyISAM").await;
    let error = s.load("plain", &csv(), file(PipelineId::new_random(), "x.csv", "id\n1\nx\n")).await.unwrap_err();
    assert!(
        matches!(&error, LoadError::Target { temporary: false, reason }
            if reason.contains("uses the MyISAM engine") && reason.contains("InnoDB")),
        "{error:?}"
    );
    assert_eq!(s.rows("SELECT count(*) FROM plain").await, [[Some("0".to_owned())]]);
}
