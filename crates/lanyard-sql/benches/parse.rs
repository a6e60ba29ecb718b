//! Parser benchmarks for `cargo xtask bench parse` (see `shared/spec/quality.md`):
//!
//! - `parse/lanyard_corpus`: one iteration parses every statement of the grammar test corpus (all statement kinds,
//!   both dialects), one `parse_one` call per statement.
//! - `parse/sqlparser_anchor`: the same number of the closest standard analogues (`CREATE SERVER … OPTIONS`,
//!   `ALTER TABLE`, `DROP … IF EXISTS`, `SHOW`, `DESCRIBE`, `USE`), parsed by `sqlparser` in the same process.
//! - `parse_scaling/options_10` and `options_1000`: one CREATE CONNECTION with 10 and 1000 options.
//! - `parse_scaling/stress_long` (an ALTER with 10 000 actions) and `stress_nested` (a CONFIG nested 100 000 deep):
//!   they must complete, with no stack overflow.
//!
//! Besides criterion's own output, it writes `target/bench/parse-meta.json` with the corpus sizes.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sqlparser::dialect::GenericDialect;

/// Every statement of the grammar test files that is expected to parse.
fn lanyard_corpus() -> Vec<String> {
    let files = [
        include_str!("../tests/testdata/connection"),
        include_str!("../tests/testdata/vault"),
        include_str!("../tests/testdata/storage"),
        include_str!("../tests/testdata/link"),
        include_str!("../tests/testdata/pipeline"),
    ];
    let mut corpus = Vec::new();
    for file in files {
        for case in file.split("parse\n").skip(1) {
            let input = case.split("\n----\n").next().unwrap().trim();
            if lanyard_sql::parse_one(input).is_ok() {
                corpus.push(input.to_owned());
            }
        }
    }
    corpus
}

/// Standard-SQL analogues of our statement shapes, cycled to the corpus size.
fn anchor_corpus(len: usize) -> Vec<String> {
    let shapes = [
        "CREATE SERVER prod_pg FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.example.com', port '5432', dbname 'app', sslmode 'require')",
        "CREATE SERVER IF NOT EXISTS raw_s3 FOREIGN DATA WRAPPER s3_fdw OPTIONS (bucket 'raw-data', region 'eu-west-1')",
        "CREATE SERVER api TYPE 'rest' FOREIGN DATA WRAPPER http_fdw OPTIONS (endpoint 'https://api.example.com/health', method 'GET')",
        "ALTER TABLE prod_pg RENAME TO prod_pg_v2",
        "ALTER TABLE prod_pg ADD COLUMN host VARCHAR(255) DEFAULT 'new-db.example.com', ADD COLUMN port INT DEFAULT 5432",
        "ALTER TABLE connections ALTER COLUMN credential SET DEFAULT 'prod_pg_password_v2'",
        "DROP TABLE IF EXISTS prod_pg",
        "DROP VIEW analytics_link",
        "SHOW TABLES LIKE 'prod'",
        "SHOW COLUMNS FROM connections",
        "DESCRIBE connections",
        "USE db1",
    ];
    shapes.iter().cycle().take(len).map(|s| (*s).to_owned()).collect()
}

fn options_statement(n: usize) -> String {
    let options: Vec<String> = (0..n).map(|i| format!("key_{i} = 'value number {i}'")).collect();
    format!("CREATE CONNECTION c TYPE = postgresql OPTIONS ({}) CREDENTIAL = pg_login", options.join(", "))
}

fn write_meta(corpus: usize, anchor: usize) {
    // target/<profile>/deps/parse-<hash> → target
    let target = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::env::current_exe().expect("bench path").ancestors().nth(3).expect("target dir").to_path_buf()
    });
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    let meta = serde_json::json!({
        "corpus_statements": corpus,
        "anchor_statements": anchor,
        "options_small": 10,
        "options_large": 1000,
    });
    std::fs::write(dir.join("parse-meta.json"), meta.to_string()).expect("write parse-meta.json");
}

fn parse(c: &mut Criterion) {
    let corpus = lanyard_corpus();
    assert!(corpus.len() >= 50, "the corpus must hold at least 50 statements, has {}", corpus.len());
    let anchor = anchor_corpus(corpus.len());
    let dialect = GenericDialect {};
    for sql in &anchor {
        sqlparser::parser::Parser::parse_sql(&dialect, sql).unwrap_or_else(|e| panic!("anchor {sql}: {e}"));
    }
    write_meta(corpus.len(), anchor.len());

    let mut group = c.benchmark_group("parse");
    group.bench_function("lanyard_corpus", |b| {
        b.iter(|| {
            for sql in &corpus {
                black_box(lanyard_sql::parse_one(black_box(sql)).unwrap());
            }
        })
    });
    group.bench_function("sqlparser_anchor", |b| {
        b.iter(|| {
            for sql in &anchor {
                black_box(sqlparser::parser::Parser::parse_sql(&dialect, black_box(sql)).unwrap());
            }
        })
    });
    group.finish();
}

fn scaling(c: &mut Criterion) {
    let small = options_statement(10);
    let large = options_statement(1000);
    let long = format!("ALTER CONNECTION c {}", "SET TIMEOUT = 30 ".repeat(10_000));
    let nested = format!("CREATE LINK l AS S3 CONFIG '{{\"a\":{}1{}}}'", "[".repeat(100_000), "]".repeat(100_000));
    assert!(lanyard_sql::parse_one(&long).is_ok());
    assert!(lanyard_sql::parse_one(&nested).is_err(), "nesting beyond serde_json's limit is an error, not a crash");

    let mut group = c.benchmark_group("parse_scaling");
    group.bench_function("options_10", |b| b.iter(|| black_box(lanyard_sql::parse_one(black_box(&small)).unwrap())));
    group.bench_function("options_1000", |b| b.iter(|| black_box(lanyard_sql::parse_one(black_box(&large)).unwrap())));
    group.bench_function("stress_long", |b| b.iter(|| black_box(lanyard_sql::parse_one(black_box(&long)).unwrap())));
    group
        .bench_function("stress_nested", |b| b.iter(|| black_box(lanyard_sql::parse_one(black_box(&nested)).is_err())));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3))
}

criterion_group!(name = benches; config = config(); targets = parse, scaling);
criterion_main!(benches);
