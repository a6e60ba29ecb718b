//! `cargo xtask bench [NAME...]`: runs benchmarks and records the figures of `spec/quality.md`.
//!
//! Each benchmark in [`BENCHES`] names the cargo bench targets to run and a function that turns their raw
//! output (criterion estimates, metadata files) into [`Figure`]s. The figures are merged into
//! `target/bench/results.json` (a figure replaces the one of the same name from an earlier run; the others
//! stay) and summarised one line each.
//!
//! To add a benchmark, write its bench target, add an entry to [`BENCHES`] and a figures function.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::cargo;
use crate::services::{BAO_BIN_ENV, Emulators, Service, install_moto};

/// A named benchmark: the bench targets to run and how to read the figures they produce.
#[derive(Debug)]
pub struct Bench {
    /// Name given on the command line, e.g. `parse`.
    pub name: &'static str,
    /// Cargo commands to run first, e.g. building a binary the bench executes.
    pub prepare: &'static [&'static [&'static str]],
    /// The emulators the bench targets talk to, started around them (their URLs reach the bench in the same
    /// environment variables as the test suite's).
    pub services: &'static [Service],
    /// Programs the bench targets start themselves, installed first (their paths reach the bench in environment
    /// variables).
    pub programs: &'static [Program],
    /// The `(cargo package, bench target)` pairs to run, in order.
    pub targets: &'static [(&'static str, &'static str)],
    /// Computes the figures from the outputs left under the target directory.
    pub figures: fn(target_dir: &Path) -> Result<Vec<Figure>>,
}

/// A program a bench starts itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// OpenBao's `bao`, installed with the Python emulators ([`install_moto`]); its path in [`BAO_BIN_ENV`].
    Bao,
}

/// Every known benchmark; `cargo xtask bench` with no names runs them all.
pub const BENCHES: &[Bench] = &[
    Bench {
        name: "parse",
        prepare: &[],
        services: &[],
        programs: &[],
        targets: &[("lanyard-sql", "parse")],
        figures: parse_figures,
    },
    Bench {
        name: "catalog",
        prepare: &[],
        services: &[],
        programs: &[],
        targets: &[("lanyard-catalog", "catalog")],
        figures: catalog_figures,
    },
    Bench {
        name: "resolve",
        prepare: &[],
        services: &[],
        programs: &[],
        targets: &[("lanyard-resolve", "resolve")],
        figures: resolve_figures,
    },
    Bench {
        name: "http",
        // `startup_ms` times the release `lanyard` binary, which the bench finds at `<target>/release/lanyard`.
        prepare: &[&["build", "--release", "-p", "lanyard-cli"]],
        services: &[],
        // The OpenBao figures run `bao` servers of their own, pinned like the Lanyard server.
        programs: &[Program::Bao],
        targets: &[("lanyard-server", "http")],
        figures: http_figures,
    },
    Bench {
        name: "cloud_aws",
        prepare: &[],
        services: &[Service::Moto],
        programs: &[],
        targets: &[("lanyard-vault-aws", "resolve_vs_raw")],
        figures: |target_dir| resolve_vs_raw_figures(target_dir, "aws"),
    },
    Bench {
        name: "cloud_vault",
        prepare: &[],
        services: &[Service::Bao],
        programs: &[],
        targets: &[("lanyard-vault-hashicorp", "resolve_vs_raw")],
        figures: |target_dir| resolve_vs_raw_figures(target_dir, "vault"),
    },
    Bench {
        name: "pipeline",
        // The bench runs the `lanyard` binary that `cargo bench` builds beside it (bench profile, i.e. release).
        prepare: &[],
        services: &[Service::Moto],
        programs: &[],
        targets: &[("lanyard-cli", "pipeline")],
        figures: pipeline_figures,
    },
];

/// One measured figure, as stored in `target/bench/results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Figure name from `spec/quality.md`, e.g. `parse_ddl_ns`.
    pub name: String,
    /// The measured value, in `unit`.
    pub value: f64,
    /// Unit of `value`, e.g. `ns`.
    pub unit: String,
    /// The same-run reference value, if the figure has one.
    pub anchor: Option<f64>,
    /// The ratio the target is stated on, if any.
    pub ratio: Option<f64>,
    /// The target, e.g. `ratio <= 1.0`.
    pub target: String,
}

/// Runs the benchmarks called `names` (all of them if empty), then records and prints their figures.
pub fn run(root: &Path, names: &[String]) -> Result<()> {
    let benches = select(names)?;
    let target_dir = crate::metadata(root)?.target_directory.into_std_path_buf();

    let mut figures = Vec::new();
    for bench in benches {
        for args in bench.prepare {
            cargo(root, args)?;
        }
        let mut programs = Vec::new();
        for program in bench.programs {
            match program {
                Program::Bao => {
                    let bao = install_moto(root, &target_dir, false)?.join("bin/bao");
                    programs.push((BAO_BIN_ENV, bao.to_string_lossy().into_owned()));
                }
            }
        }
        let running = Emulators::start(root, &target_dir, bench.services, "bench")?;
        let mut env = running.env();
        env.extend(programs.iter().map(|(name, value)| (*name, value.as_str())));
        for (package, target) in bench.targets {
            // `cargo bench` builds with the optimised `bench` profile.
            crate::cargo_with_env(root, &["bench", "-p", package, "--bench", target], &env)?;
        }
        running.stop(true);
        figures.extend(
            (bench.figures)(&target_dir)
                .with_context(|| format!("reading the results of benchmark `{}`", bench.name))?,
        );
    }

    let results = target_dir.join("bench/results.json");
    let previous = if results.exists() {
        let text = fs::read_to_string(&results).with_context(|| format!("reading {}", results.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a list of figures; delete it and run again", results.display()))?
    } else {
        Vec::new()
    };
    let merged = merge(previous, figures.clone());
    fs::create_dir_all(target_dir.join("bench"))?;
    fs::write(&results, serde_json::to_string_pretty(&merged)? + "\n")
        .with_context(|| format!("writing {}", results.display()))?;

    println!();
    for figure in &figures {
        println!("{}", summary_line(figure));
    }
    println!("\nwrote {}", results.display());
    Ok(())
}

/// The benchmarks called `names`, in table order; all of them when `names` is empty.
fn select(names: &[String]) -> Result<Vec<&'static Bench>> {
    if let Some(unknown) = names.iter().find(|name| !BENCHES.iter().any(|b| b.name == **name)) {
        let known: Vec<_> = BENCHES.iter().map(|bench| bench.name).collect();
        bail!("unknown benchmark `{unknown}` (known: {})", known.join(", "));
    }
    Ok(BENCHES.iter().filter(|bench| names.is_empty() || names.iter().any(|name| name == bench.name)).collect())
}

/// `previous` with every figure named in `new` replaced by the new one, sorted by name.
pub fn merge(previous: Vec<Figure>, new: Vec<Figure>) -> Vec<Figure> {
    let mut merged: Vec<Figure> =
        previous.into_iter().filter(|old| !new.iter().any(|figure| figure.name == old.name)).collect();
    merged.extend(new);
    merged.sort_by(|a, b| a.name.cmp(&b.name));
    merged
}

/// Whether `figure` meets its target, for targets of the form `[ratio] <op> <number> [comment]` with `<op>`
/// one of `<=`, `<`, `>=`, `>`, `==`; `None` for targets that cannot be evaluated from the numbers.
pub fn verdict(figure: &Figure) -> Option<bool> {
    let target = figure.target.trim();
    let (subject, rest) = match target.strip_prefix("ratio ") {
        Some(rest) => (figure.ratio?, rest),
        None => (figure.value, target),
    };
    let mut words = rest.split_whitespace();
    let op = words.next()?;
    let bound: f64 = words.next()?.parse().ok()?;
    match op {
        "<=" => Some(subject <= bound),
        "<" => Some(subject < bound),
        ">=" => Some(subject >= bound),
        ">" => Some(subject > bound),
        "==" => Some(subject == bound),
        _ => None,
    }
}

/// One summary line, e.g. `parse_ddl_ns  812.3 ns  anchor 2104.0  ratio 0.39  target ratio <= 1.0  [ok]`.
pub fn summary_line(figure: &Figure) -> String {
    let mut line = format!("{}  {:.1} {}", figure.name, figure.value, figure.unit);
    if let Some(anchor) = figure.anchor {
        line += &format!("  anchor {anchor:.1}");
    }
    if let Some(ratio) = figure.ratio {
        line += &format!("  ratio {ratio:.2}");
    }
    line += &format!("  target {}", figure.target);
    match verdict(figure) {
        Some(true) => line += "  [ok]",
        Some(false) => line += "  [MISS]",
        None => {}
    }
    line
}

/// Reads and parses a JSON file a benchmark wrote.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The median time per iteration, in nanoseconds, that criterion recorded for `group/function`.
fn criterion_median_ns(target_dir: &Path, group: &str, function: &str) -> Result<f64> {
    let path = target_dir.join("criterion").join(group).join(function).join("new/estimates.json");
    let estimates: serde_json::Value = read_json(&path)?;
    estimates["median"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("{} has no median.point_estimate", path.display()))
}

// ---------------------------------------------------------------------------------------------------------
// parse: crates/lanyard-sql/benches/parse.rs

/// What `benches/parse.rs` writes to `target/bench/parse-meta.json` about its inputs.
#[derive(Debug, Clone, Deserialize)]
pub struct ParseMeta {
    /// Statements in the Lanyard DDL corpus parsed per `parse/lanyard_corpus` iteration.
    pub corpus_statements: u64,
    /// Statements in the sqlparser anchor corpus parsed per `parse/sqlparser_anchor` iteration.
    pub anchor_statements: u64,
    /// Options in the statement of `parse_scaling/options_10`.
    pub options_small: u64,
    /// Options in the statement of `parse_scaling/options_1000`.
    pub options_large: u64,
}

/// Criterion medians of the parse benchmark, in nanoseconds per iteration.
#[derive(Debug, Clone)]
pub struct ParseMedians {
    /// `parse/lanyard_corpus`: the whole Lanyard corpus.
    pub lanyard_corpus: f64,
    /// `parse/sqlparser_anchor`: the whole anchor corpus, parsed by sqlparser.
    pub sqlparser_anchor: f64,
    /// `parse_scaling/options_10`: one statement with few options.
    pub options_small: f64,
    /// `parse_scaling/options_1000`: one statement with many options.
    pub options_large: f64,
    /// `parse_scaling/stress_long`: one very long statement.
    pub stress_long: f64,
    /// `parse_scaling/stress_nested`: one deeply nested statement.
    pub stress_nested: f64,
}

/// Reads the parse benchmark's outputs and computes its figures.
fn parse_figures(target_dir: &Path) -> Result<Vec<Figure>> {
    let meta_path = target_dir.join("bench/parse-meta.json");
    let meta: ParseMeta = read_json(&meta_path)?;
    ensure!(
        meta.corpus_statements > 0 && meta.anchor_statements > 0,
        "{}: the corpora must not be empty",
        meta_path.display()
    );
    ensure!(
        0 < meta.options_small && meta.options_small < meta.options_large,
        "{}: options_small must be below options_large",
        meta_path.display()
    );
    let median = |group, function| criterion_median_ns(target_dir, group, function);
    let medians = ParseMedians {
        lanyard_corpus: median("parse", "lanyard_corpus")?,
        sqlparser_anchor: median("parse", "sqlparser_anchor")?,
        options_small: median("parse_scaling", "options_10")?,
        options_large: median("parse_scaling", "options_1000")?,
        stress_long: median("parse_scaling", "stress_long")?,
        stress_nested: median("parse_scaling", "stress_nested")?,
    };
    Ok(parse_figures_from(&medians, &meta))
}

/// The parse figures: `parse_ddl_ns`, `parse_scaling` and the two informational stress figures.
pub fn parse_figures_from(medians: &ParseMedians, meta: &ParseMeta) -> Vec<Figure> {
    let per_statement = medians.lanyard_corpus / meta.corpus_statements as f64;
    let anchor_per_statement = medians.sqlparser_anchor / meta.anchor_statements as f64;

    // Time growth for 100x more options; with the standard 10 vs 1000 options this is simply
    // options_1000 / options_10. Linear parsing gives about 100.
    let size_factor = meta.options_large as f64 / meta.options_small as f64;
    let growth = medians.options_large / medians.options_small * (100.0 / size_factor);

    let stress = |name: &str, value: f64| Figure {
        name: name.to_owned(),
        value,
        unit: "ns".to_owned(),
        anchor: None,
        ratio: None,
        target: "completes without stack overflow".to_owned(),
    };
    vec![
        Figure {
            name: "parse_ddl_ns".to_owned(),
            value: per_statement,
            unit: "ns".to_owned(),
            anchor: Some(anchor_per_statement),
            ratio: Some(per_statement / anchor_per_statement),
            target: "ratio <= 1.0".to_owned(),
        },
        Figure {
            name: "parse_scaling".to_owned(),
            value: growth,
            unit: "x per 100x size".to_owned(),
            anchor: Some(medians.options_small),
            ratio: Some(growth),
            target: "<= 150 (linear)".to_owned(),
        },
        stress("parse_stress_long_ns", medians.stress_long),
        stress("parse_stress_nested_ns", medians.stress_nested),
    ]
}

/// Reads the catalog benchmark's criterion outputs: point reads/s and single-row update transactions/s on SQLite
/// and PostgreSQL, each against the raw driver doing the same work in the same run.
fn catalog_figures(target_dir: &Path) -> Result<Vec<Figure>> {
    let median = |function: &str| criterion_median_ns(target_dir, "catalog", function);
    let mut figures = Vec::new();
    for (database, suffix) in [("sqlite", ""), ("postgres", "_pg")] {
        for (operation, name) in [("point_read", "catalog_point_reads_per_s"), ("update", "catalog_update_tps")] {
            let ours = median(&format!("{database}_{operation}"))?;
            let raw = median(&format!("{database}_raw_{operation}"))?;
            figures.push(catalog_figure(&format!("{name}{suffix}"), ours, raw));
        }
    }
    Ok(figures)
}

/// A throughput figure from two per-operation medians (ns): value and anchor in operations per second.
pub fn catalog_figure(name: &str, ours_ns: f64, raw_ns: f64) -> Figure {
    let value = 1e9 / ours_ns;
    let anchor = 1e9 / raw_ns;
    Figure {
        name: name.to_owned(),
        value,
        unit: "ops/s".to_owned(),
        anchor: Some(anchor),
        ratio: Some(value / anchor),
        target: "reported against the raw driver (no target in quality.md)".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------------------
// resolve: crates/lanyard-resolve/benches/resolve.rs

/// What `benches/resolve.rs` writes to `target/bench/resolve-meta.json`: the counted (not timed) figures.
#[derive(Debug, Clone, Deserialize)]
pub struct ResolveMeta {
    /// Backend calls per burst of `n` concurrent resolves.
    pub burst_backend_calls: Vec<Burst>,
    /// Backend calls per second for one profile under 64 resolve loops.
    pub steady_calls_per_second: f64,
    /// The backend's measured round trip, in seconds.
    pub steady_rtt_seconds: f64,
    /// Answers read by a backend call that started after their resolve began (and at least as new as the version
    /// committed before it).
    pub fresh_answers: u64,
    /// All answers.
    pub answers: u64,
    /// Rotations during the run.
    pub rotations: u64,
    /// Resolves over a PostgreSQL catalog against bare `SELECT 1`s.
    pub catalog_pg: CatalogPg,
}

/// Resolve latency over a PostgreSQL catalog and its round-trip anchor, in nanoseconds.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogPg {
    /// Resolve p50.
    pub p50_ns: f64,
    /// Resolve p99.
    pub p99_ns: f64,
    /// `SELECT 1` p50.
    pub select_p50_ns: f64,
    /// `SELECT 1` p99.
    pub select_p99_ns: f64,
}

/// One burst.
#[derive(Debug, Clone, Deserialize)]
pub struct Burst {
    /// Concurrent resolves.
    pub n: u64,
    /// Backend calls they cost.
    pub calls: u64,
}

fn resolve_figures(target_dir: &Path) -> Result<Vec<Figure>> {
    let meta_path = target_dir.join("bench/resolve-meta.json");
    let meta: ResolveMeta = read_json(&meta_path)?;
    let direct = criterion_median_ns(target_dir, "resolve", "backend_direct")?;
    let resolve = criterion_median_ns(target_dir, "resolve", "resolve_static")?;
    let catalog = criterion_median_ns(target_dir, "resolve", "resolve_catalog")?;
    let mut figures = resolve_figures_from(resolve, direct, &meta)?;
    figures.extend(resolve_catalog_figures(catalog, resolve, &meta.catalog_pg));
    Ok(figures)
}

/// `resolve_catalog_ns` (over a SQLite catalog, against the in-memory catalog's resolve), its ratio, and
/// `resolve_catalog_pg_ns` (p50 over PostgreSQL against a bare `SELECT 1`; the p99s in the unit).
pub fn resolve_catalog_figures(catalog_ns: f64, static_ns: f64, pg: &CatalogPg) -> Vec<Figure> {
    vec![
        Figure {
            name: "resolve_catalog_ns".to_owned(),
            value: catalog_ns,
            unit: "ns (median, SQLite catalog)".to_owned(),
            anchor: Some(static_ns),
            ratio: Some(catalog_ns / static_ns),
            target: "<= 5000".to_owned(),
        },
        Figure {
            name: "resolve_catalog_vs_memory".to_owned(),
            value: catalog_ns,
            unit: "ns (median, SQLite catalog, against the in-memory catalog)".to_owned(),
            anchor: Some(static_ns),
            ratio: Some(catalog_ns / static_ns),
            target: "ratio <= 2.0".to_owned(),
        },
        Figure {
            name: "resolve_catalog_pg_ns".to_owned(),
            value: pg.p50_ns,
            unit: format!(
                "ns p50 (p99 {:.0}; SELECT 1 p99 {:.0}), PostgreSQL catalog against a bare SELECT 1",
                pg.p99_ns, pg.select_p99_ns
            ),
            anchor: Some(pg.select_p50_ns),
            ratio: Some(pg.p50_ns / pg.select_p50_ns),
            target: "ratio <= 1.5 (one round trip at most)".to_owned(),
        },
    ]
}

/// The resolver's figures: `resolve_overhead_ns`, `burst_backend_calls` (the worst N, and one per N),
/// `steady_calls_per_key` and `fresh_ratio`.
pub fn resolve_figures_from(resolve_ns: f64, direct_ns: f64, meta: &ResolveMeta) -> Result<Vec<Figure>> {
    ensure!(meta.answers > 0 && !meta.burst_backend_calls.is_empty(), "resolve-meta.json holds no measurements");
    ensure!(meta.steady_rtt_seconds > 0.0, "resolve-meta.json: the round trip must be positive");
    let count = |name: String, value: f64, target: &str| Figure {
        name,
        value,
        unit: "calls".to_owned(),
        anchor: None,
        ratio: None,
        target: target.to_owned(),
    };
    let mut figures = vec![Figure {
        name: "resolve_overhead_ns".to_owned(),
        value: resolve_ns - direct_ns,
        unit: "ns".to_owned(),
        anchor: Some(direct_ns),
        ratio: Some(resolve_ns / direct_ns),
        target: "<= 1000".to_owned(),
    }];
    let worst = meta.burst_backend_calls.iter().map(|b| b.calls).max().unwrap_or_default();
    figures.push(count("burst_backend_calls".to_owned(), worst as f64, "<= 2 (worst of N = 10, 100, 1000)"));
    for burst in &meta.burst_backend_calls {
        figures.push(count(format!("burst_backend_calls_n{}", burst.n), burst.calls as f64, "<= 2"));
    }
    let bound = 1.0 / meta.steady_rtt_seconds + 1.0;
    figures.push(Figure {
        name: "steady_calls_per_key".to_owned(),
        value: meta.steady_calls_per_second,
        unit: "calls/s".to_owned(),
        anchor: Some(bound),
        ratio: Some(meta.steady_calls_per_second / bound),
        target: "ratio <= 1.0 (at most 1/RTT + 1)".to_owned(),
    });
    figures.push(Figure {
        name: "fresh_ratio".to_owned(),
        value: meta.fresh_answers as f64 / meta.answers as f64,
        unit: format!("of {} answers, {} rotations", meta.answers, meta.rotations),
        anchor: None,
        ratio: None,
        target: "== 1".to_owned(),
    });
    Ok(figures)
}

// ---------------------------------------------------------------------------------------------------------
// http: crates/lanyard-server/benches/http.rs

/// What `benches/http.rs` writes to `target/bench/http-meta.json` (the fields the figures need; it holds more).
#[derive(Debug, Clone, Deserialize)]
pub struct HttpMeta {
    /// `GET /connections/{name}` against a bare axum handler answering the same bytes.
    pub get: HttpThroughput,
    /// `PUT /connections/{name}` on SQLite against raw single-row UPDATE transactions.
    pub put: HttpThroughput,
    /// The same on PostgreSQL.
    pub put_pg: HttpThroughput,
    /// The catalog work of that PUT alone (no HTTP, no Control Plane) against the same anchor.
    pub put_pg_sql: HttpThroughput,
    /// `PUT` on SQLite with the object history kept, against the same server with history off.
    pub put_history: HttpThroughput,
    /// The same on PostgreSQL.
    pub put_pg_history: HttpThroughput,
    /// `lanyard serve` from exec to the first 200 on /healthz, against `lanyard --version`.
    pub startup: HttpStartup,
    /// `GET /connections/{name}` against OpenBao's GET of a KV v2 secret (dev server, in memory).
    pub get_openbao: HttpThroughput,
    /// `PUT /connections/{name}` on SQLite against OpenBao's KV v2 write on integrated storage (raft).
    pub put_openbao: HttpThroughput,
    /// Latencies over a catalog of 100,000 connections against one of 100.
    pub scale: HttpScale,
    /// Resident memory of a server over 100,000 connections, idle and under the GET load.
    pub rss: HttpRss,
}

/// Latencies of `scale`: the large catalog (value) against the small one (anchor).
#[derive(Debug, Clone, Deserialize)]
pub struct HttpScale {
    /// Connections in the small and in the large catalog.
    pub connections: (u64, u64),
    /// Connections of either catalog whose name holds the LIKE pattern.
    pub like_matches: u64,
    /// `GET /connections/{name}`, names drawn from the whole catalog.
    pub get: HttpLatencies,
    /// The same GET over the same 100 rows in both catalogs.
    pub get_hot: HttpLatencies,
    /// `GET /connections?like=<pattern>`.
    pub like: HttpLatencies,
}

/// Medians over the rounds of both sides' p50 and p99, microseconds.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpLatencies {
    /// Timed requests per round and side.
    pub samples: u64,
    /// The measured side's p50.
    pub p50_us: f64,
    /// The measured side's p99.
    pub p99_us: f64,
    /// The anchor's p50.
    pub anchor_p50_us: f64,
    /// The anchor's p99.
    pub anchor_p99_us: f64,
}

/// Resident memory of `rss`, MiB.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpRss {
    /// Connections in the catalog.
    pub connections: u64,
    /// Connections of the GET load.
    pub concurrency: u64,
    /// Length of the load, seconds.
    pub load_seconds: f64,
    /// The largest reading before the load.
    pub idle_max_mib: f64,
    /// The largest reading under load.
    pub max_mib: f64,
    /// Mean of the last 10 s of the load minus mean of the 10 s after its first 10 s (the caches' warm-up).
    pub growth_mib: f64,
    /// The load's 200 answers per second.
    pub rps: f64,
    /// The load's other answers.
    pub errors: u64,
}

/// One throughput measurement and its anchor (medians of alternating rounds).
#[derive(Debug, Clone, Deserialize)]
pub struct HttpThroughput {
    /// Concurrent clients on both sides.
    pub concurrency: u64,
    /// Successful requests per second.
    pub rps: f64,
    /// The anchor's operations per second.
    pub anchor_rps: f64,
    /// Non-200 answers, not counted in `rps`.
    pub errors: u64,
    /// The anchor's failed operations (non-200 answers of a peer), not counted in `anchor_rps`.
    #[serde(default)]
    pub anchor_errors: u64,
}

/// Startup times, medians over `runs`.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpStartup {
    /// Measured starts.
    pub runs: u64,
    /// Exec of `lanyard serve` on an empty data dir to the first 200 on /healthz, ms.
    pub median_ms: f64,
    /// Exec of `lanyard --version` to its exit, ms.
    pub anchor_median_ms: f64,
}

fn http_figures(target_dir: &Path) -> Result<Vec<Figure>> {
    let meta_path = target_dir.join("bench/http-meta.json");
    let meta: HttpMeta = read_json(&meta_path)?;
    http_figures_from(&meta)
}

/// The HTTP figures: `http_get_rps`, `http_put_rps`, `http_put_rps_pg`, `http_get_rps_vs_openbao` and
/// `http_put_rps_vs_openbao` (throughput against the same-run anchor), `startup_ms` (a time, with process spawn cost
/// as the anchor), `catalog_scale` and `catalog_scale_like` (p50 latency over 100,000 connections against 100) and
/// `serve_rss_mb` and `serve_rss_growth_mb` (resident memory under load against idle, and its growth).
pub fn http_figures_from(meta: &HttpMeta) -> Result<Vec<Figure>> {
    let throughput = |name: &str, clients: &str, measured: &HttpThroughput, target: &str| -> Result<Figure> {
        ensure!(measured.anchor_rps > 0.0, "http-meta.json: the anchor of {name} did no work");
        let mut unit = format!("req/s at {} {clients}", measured.concurrency);
        if measured.errors > 0 {
            unit += &format!(", {} non-200 answers not counted", measured.errors);
        }
        if measured.anchor_errors > 0 {
            unit += &format!(", {} failed anchor operations not counted", measured.anchor_errors);
        }
        Ok(Figure {
            name: name.to_owned(),
            value: measured.rps,
            unit,
            anchor: Some(measured.anchor_rps),
            ratio: Some(measured.rps / measured.anchor_rps),
            target: target.to_owned(),
        })
    };
    ensure!(meta.startup.runs > 0 && meta.startup.median_ms > 0.0, "http-meta.json holds no startup measurement");
    let scale = &meta.scale;
    let (small, large) = scale.connections;
    for (what, latencies) in [("get", &scale.get), ("get_hot", &scale.get_hot), ("like", &scale.like)] {
        ensure!(
            latencies.samples > 0 && latencies.anchor_p50_us > 0.0 && latencies.anchor_p50_us.is_finite(),
            "http-meta.json: scale.{what} holds no measurement"
        );
    }
    let rss = &meta.rss;
    ensure!(
        rss.idle_max_mib > 0.0 && rss.max_mib > 0.0 && rss.growth_mib.is_finite(),
        "http-meta.json: rss holds no measurement"
    );
    let mut load = format!("{} s of GETs at {} connections, {:.0} req/s", rss.load_seconds, rss.concurrency, rss.rps);
    if rss.errors > 0 {
        load += &format!(", {} non-200 answers", rss.errors);
    }
    Ok(vec![
        throughput("http_get_rps", "connections", &meta.get, "ratio >= 0.5")?,
        throughput("http_put_rps", "clients", &meta.put, "ratio >= 0.3")?,
        throughput("http_put_rps_pg", "clients", &meta.put_pg, "ratio >= 0.5")?,
        throughput(
            "http_put_rps_pg_sql",
            "clients (the catalog work of the PUT alone, through lanyard-catalog)",
            &meta.put_pg_sql,
            "report: the most http_put_rps_pg can reach",
        )?,
        throughput(
            "http_put_rps_history",
            "clients (anchor: the same server with history off)",
            &meta.put_history,
            "ratio >= 0.9",
        )?,
        throughput(
            "http_put_rps_pg_history",
            "clients (anchor: the same server with history off)",
            &meta.put_pg_history,
            "ratio >= 0.9",
        )?,
        Figure {
            name: "startup_ms".to_owned(),
            value: meta.startup.median_ms,
            unit: format!("ms (median of {})", meta.startup.runs),
            anchor: Some(meta.startup.anchor_median_ms),
            ratio: Some(meta.startup.median_ms / meta.startup.anchor_median_ms),
            target: "<= 300".to_owned(),
        },
        throughput("http_get_rps_vs_openbao", "connections", &meta.get_openbao, "ratio >= 1.0")?,
        throughput("http_put_rps_vs_openbao", "clients", &meta.put_openbao, "ratio >= 1.0")?,
        Figure {
            name: "catalog_scale".to_owned(),
            value: scale.get.p50_us,
            unit: format!(
                "µs p50 of GET /connections/{{name}}, sequential, names from the whole catalog, {large} vs {small} \
                 connections (p99 {:.0} vs {:.0}; the same {small} rows in both: p50 {:.0} vs {:.0})",
                scale.get.p99_us, scale.get.anchor_p99_us, scale.get_hot.p50_us, scale.get_hot.anchor_p50_us
            ),
            anchor: Some(scale.get.anchor_p50_us),
            ratio: Some(scale.get.p50_us / scale.get.anchor_p50_us),
            target: "ratio <= 1.5".to_owned(),
        },
        Figure {
            name: "catalog_scale_like".to_owned(),
            value: scale.like.p50_us,
            unit: format!(
                "µs p50 of GET /connections?like= matching {} names, sequential, {large} vs {small} connections \
                 (p99 {:.0} vs {:.0})",
                scale.like_matches, scale.like.p99_us, scale.like.anchor_p99_us
            ),
            anchor: Some(scale.like.anchor_p50_us),
            ratio: Some(scale.like.p50_us / scale.like.anchor_p50_us),
            target: "ratio <= 1.5 (bounded by the matches, not the table)".to_owned(),
        },
        Figure {
            name: "serve_rss_mb".to_owned(),
            value: rss.max_mib,
            unit: format!("MiB resident, the most under load ({load}), {} connections; anchor: idle", rss.connections),
            anchor: Some(rss.idle_max_mib),
            ratio: Some(rss.max_mib / rss.idle_max_mib),
            target: "report".to_owned(),
        },
        Figure {
            name: "serve_rss_growth_mb".to_owned(),
            value: rss.growth_mib,
            unit: format!(
                "MiB, mean of the last 10 s minus mean of the 10 s after a 10 s warm-up ({load}); anchor: the most"
            ),
            anchor: Some(rss.max_mib),
            ratio: Some(rss.growth_mib / rss.max_mib),
            target: "ratio <= 0.05 (no growth over the run)".to_owned(),
        },
    ])
}

// ---------------------------------------------------------------------------------------------------------
// cloud: plugins/lanyard-vault-<kind>/benches/resolve_vs_raw.rs

/// What a plugin's `resolve_vs_raw` bench writes to `target/bench/resolve_vs_raw_<kind>.json`: latency percentiles of
/// resolves through the plugin and of raw calls to the same server, interleaved in one run.
#[derive(Debug, Clone, Deserialize)]
pub struct ResolveVsRaw {
    /// Resolves (and as many raw calls) measured.
    pub samples: u64,
    /// Median resolve, ns.
    pub resolve_p50_ns: f64,
    /// 99th percentile resolve, ns.
    pub resolve_p99_ns: f64,
    /// Median raw call, ns.
    pub raw_p50_ns: f64,
    /// 99th percentile raw call, ns.
    pub raw_p99_ns: f64,
}

fn resolve_vs_raw_figures(target_dir: &Path, kind: &str) -> Result<Vec<Figure>> {
    let meta: ResolveVsRaw = read_json(&target_dir.join(format!("bench/resolve_vs_raw_{kind}.json")))?;
    resolve_vs_raw_figures_from(kind, &meta)
}

/// `resolve_vs_raw_<kind>` (the p50s) and `resolve_vs_raw_<kind>_p99`, each a ratio to the raw call, target ≤ 1.05.
pub fn resolve_vs_raw_figures_from(kind: &str, meta: &ResolveVsRaw) -> Result<Vec<Figure>> {
    ensure!(meta.samples > 0 && meta.raw_p50_ns > 0.0 && meta.raw_p99_ns > 0.0, "resolve_vs_raw_{kind}: no samples");
    let figure = |suffix: &str, percentile: &str, ours: f64, raw: f64| Figure {
        name: format!("resolve_vs_raw_{kind}{suffix}"),
        value: ours / 1000.0,
        unit: format!("µs {percentile} of {} resolves", meta.samples),
        anchor: Some(raw / 1000.0),
        ratio: Some(ours / raw),
        target: "ratio <= 1.05".to_owned(),
    };
    Ok(vec![
        figure("", "p50", meta.resolve_p50_ns, meta.raw_p50_ns),
        figure("_p99", "p99", meta.resolve_p99_ns, meta.raw_p99_ns),
    ])
}

// ---------------------------------------------------------------------------------------------------------
// pipeline: crates/lanyard-cli/benches/pipeline.rs

/// What `benches/pipeline.rs` writes to `target/bench/pipeline_rows_per_sec.json` (the fields the figure needs; it
/// also holds every run's times and the diagnostics).
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineMeta {
    /// Files per run.
    pub files: u64,
    /// Rows per file.
    pub rows_per_file: u64,
    /// Runs of each side.
    pub repetitions: u64,
    /// The measured side's polling interval, ms.
    pub poll_ms: u64,
    /// Rows/s from START to all files loaded (median run).
    pub rows_per_sec: f64,
    /// Rows/s of `psql \copy` of the same files, one after another in one psql session (median run).
    pub anchor_rows_per_sec: f64,
}

fn pipeline_figures(target_dir: &Path) -> Result<Vec<Figure>> {
    let meta: PipelineMeta = read_json(&target_dir.join("bench/pipeline_rows_per_sec.json"))?;
    pipeline_figures_from(&meta)
}

/// `pipeline_rows_per_sec`: a real pipeline's rows/s from moto's S3 into PostgreSQL against `psql \copy` of the
/// same files from disk, target ratio ≥ 0.5.
pub fn pipeline_figures_from(meta: &PipelineMeta) -> Result<Vec<Figure>> {
    ensure!(
        meta.rows_per_sec > 0.0 && meta.anchor_rows_per_sec > 0.0 && meta.repetitions > 0,
        "pipeline_rows_per_sec.json holds no measurement"
    );
    Ok(vec![Figure {
        name: "pipeline_rows_per_sec".to_owned(),
        value: meta.rows_per_sec,
        unit: format!(
            "rows/s ({} files x {} rows, median of {}, polled every {} ms)",
            meta.files, meta.rows_per_file, meta.repetitions, meta.poll_ms
        ),
        anchor: Some(meta.anchor_rows_per_sec),
        ratio: Some(meta.rows_per_sec / meta.anchor_rows_per_sec),
        target: "ratio >= 0.5".to_owned(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_vs_raw_figures_are_p50_and_p99_ratios() {
        let meta = ResolveVsRaw {
            samples: 2000,
            resolve_p50_ns: 1_050_000.0,
            resolve_p99_ns: 3_000_000.0,
            raw_p50_ns: 1_000_000.0,
            raw_p99_ns: 2_000_000.0,
        };
        let figures = resolve_vs_raw_figures_from("aws", &meta).unwrap();
        assert_eq!(figures[0].name, "resolve_vs_raw_aws");
        assert_eq!(figures[0].value, 1050.0);
        assert_eq!(figures[0].anchor, Some(1000.0));
        assert_eq!(verdict(&figures[0]), Some(true));
        assert_eq!(figures[1].name, "resolve_vs_raw_aws_p99");
        assert_eq!(figures[1].ratio, Some(1.5));
        assert_eq!(verdict(&figures[1]), Some(false));
        let empty = ResolveVsRaw { samples: 0, ..meta };
        assert!(resolve_vs_raw_figures_from("aws", &empty).is_err());
    }

    #[test]
    fn the_pipeline_figure_is_rows_per_second_against_psql_copy() {
        let json = r#"{"files": 100, "rows_per_file": 10000, "bytes": 1, "repetitions": 3, "poll_ms": 50,
            "rows_per_sec": 150000.0, "anchor_rows_per_sec": 250000.0, "pipeline_seconds": [6.6],
            "anchor_seconds": [4.0], "moto_get_seconds": 1.0}"#;
        let meta: PipelineMeta = serde_json::from_str(json).unwrap();
        let figures = pipeline_figures_from(&meta).unwrap();
        assert_eq!(figures.len(), 1);
        let figure = &figures[0];
        assert_eq!(figure.name, "pipeline_rows_per_sec");
        assert_eq!((figure.value, figure.anchor, figure.ratio), (150000.0, Some(250000.0), Some(0.6)));
        assert_eq!(figure.unit, "rows/s (100 files x 10000 rows, median of 3, polled every 50 ms)");
        assert_eq!(verdict(figure), Some(true));
        let empty = PipelineMeta { anchor_rows_per_sec: 0.0, ..meta };
        assert!(pipeline_figures_from(&empty).is_err());
    }

    #[test]
    fn resolve_figures_subtract_the_direct_call_and_bound_the_steady_rate() {
        let meta = ResolveMeta {
            burst_backend_calls: vec![Burst { n: 10, calls: 2 }, Burst { n: 1000, calls: 3 }],
            steady_calls_per_second: 45.0,
            steady_rtt_seconds: 0.02,
            fresh_answers: 99,
            answers: 100,
            rotations: 7,
            catalog_pg: CatalogPg { p50_ns: 90_000.0, p99_ns: 200_000.0, select_p50_ns: 60_000.0, select_p99_ns: 1.0 },
        };
        let figures = resolve_figures_from(1400.0, 400.0, &meta).unwrap();
        let by_name = |name: &str| figures.iter().find(|f| f.name == name).unwrap().clone();
        assert_eq!(by_name("resolve_overhead_ns").value, 1000.0);
        assert_eq!(verdict(&by_name("resolve_overhead_ns")), Some(true));
        assert_eq!(by_name("burst_backend_calls").value, 3.0);
        assert_eq!(verdict(&by_name("burst_backend_calls")), Some(false));
        assert_eq!(by_name("steady_calls_per_key").anchor, Some(51.0));
        assert_eq!(verdict(&by_name("steady_calls_per_key")), Some(true));
        assert_eq!(verdict(&by_name("fresh_ratio")), Some(false));

        let catalog = resolve_catalog_figures(3000.0, 1000.0, &meta.catalog_pg);
        assert_eq!(catalog.iter().map(verdict).collect::<Vec<_>>(), [Some(true), Some(false), Some(true)]);
        assert_eq!(catalog[2].ratio, Some(1.5));
        assert!(catalog[2].unit.contains("p99 200000"), "{}", catalog[2].unit);
    }

    #[test]
    fn http_figures_are_throughputs_against_their_anchors_and_a_startup_time() {
        let json = r#"{
            "get": {"concurrency": 32, "rps": 6000.0, "anchor_rps": 30000.0, "errors": 0, "rounds": []},
            "put": {"concurrency": 16, "rps": 1500.0, "anchor_rps": 3000.0, "errors": 2},
            "put_pg": {"concurrency": 16, "rps": 1000.0, "anchor_rps": 1800.0, "errors": 0},
            "put_pg_sql": {"concurrency": 16, "rps": 900.0, "anchor_rps": 2000.0, "errors": 0},
            "put_history": {"concurrency": 16, "rps": 1400.0, "anchor_rps": 1500.0, "errors": 0},
            "put_pg_history": {"concurrency": 16, "rps": 950.0, "anchor_rps": 1000.0, "errors": 0},
            "startup": {"runs": 7, "median_ms": 120.0, "anchor_median_ms": 2.0, "serve_ms": []},
            "get_openbao": {"concurrency": 32, "rps": 12000.0, "anchor_rps": 4000.0, "errors": 0, "anchor_errors": 3},
            "put_openbao": {"concurrency": 16, "rps": 1500.0, "anchor_rps": 2000.0, "errors": 0, "anchor_errors": 0},
            "scale": {
                "connections": [100, 100000], "like_pattern": "Ledger", "like_matches": 10,
                "get": {"samples": 2000, "p50_us": 150.0, "p99_us": 400.0, "anchor_p50_us": 100.0,
                        "anchor_p99_us": 300.0, "rounds": []},
                "get_hot": {"samples": 2000, "p50_us": 101.0, "p99_us": 1.0, "anchor_p50_us": 100.0,
                            "anchor_p99_us": 1.0},
                "like": {"samples": 100, "p50_us": 30000.0, "p99_us": 1.0, "anchor_p50_us": 200.0,
                         "anchor_p99_us": 1.0}
            },
            "rss": {"connections": 100000, "concurrency": 32, "load_seconds": 60.0, "idle_max_mib": 40.0,
                    "max_mib": 80.0, "growth_mib": 2.0, "rps": 9000.0, "errors": 0, "idle_mib": [40.0]}
        }"#;
        let meta: HttpMeta = serde_json::from_str(json).unwrap();
        let figures = http_figures_from(&meta).unwrap();
        let names: Vec<_> = figures.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "http_get_rps",
                "http_put_rps",
                "http_put_rps_pg",
                "http_put_rps_pg_sql",
                "http_put_rps_history",
                "http_put_rps_pg_history",
                "startup_ms",
                "http_get_rps_vs_openbao",
                "http_put_rps_vs_openbao",
                "catalog_scale",
                "catalog_scale_like",
                "serve_rss_mb",
                "serve_rss_growth_mb",
            ]
        );
        let by_name = |name: &str| figures.iter().find(|f| f.name == name).unwrap();

        let get = &figures[0];
        assert_eq!((get.value, get.anchor, get.ratio), (6000.0, Some(30000.0), Some(0.2)));
        assert_eq!(get.unit, "req/s at 32 connections");
        assert_eq!(verdict(get), Some(false));

        let put = &figures[1];
        assert_eq!(put.ratio, Some(0.5));
        assert_eq!(put.unit, "req/s at 16 clients, 2 non-200 answers not counted");
        assert_eq!(verdict(put), Some(true));

        assert_eq!(verdict(&figures[2]), Some(true));
        let sql = by_name("http_put_rps_pg_sql");
        assert_eq!((sql.value, sql.anchor, sql.ratio), (900.0, Some(2000.0), Some(0.45)));
        assert_eq!(verdict(sql), None, "a report, not a target");
        let history = by_name("http_put_rps_history");
        assert_eq!((history.value, history.anchor), (1400.0, Some(1500.0)));
        assert_eq!(verdict(history), Some(true), "0.93 >= 0.9");
        assert_eq!(verdict(by_name("http_put_rps_pg_history")), Some(true), "0.95 >= 0.9");

        let startup = by_name("startup_ms");
        assert_eq!((startup.value, startup.anchor, startup.ratio), (120.0, Some(2.0), Some(60.0)));
        assert_eq!(verdict(startup), Some(true));

        let get_openbao = by_name("http_get_rps_vs_openbao");
        assert_eq!(get_openbao.ratio, Some(3.0));
        assert_eq!(get_openbao.unit, "req/s at 32 connections, 3 failed anchor operations not counted");
        assert_eq!(verdict(get_openbao), Some(true));
        assert_eq!(verdict(by_name("http_put_rps_vs_openbao")), Some(false));

        let scale = by_name("catalog_scale");
        assert_eq!((scale.value, scale.anchor, scale.ratio), (150.0, Some(100.0), Some(1.5)));
        assert_eq!(verdict(scale), Some(true));
        assert!(scale.unit.contains("100000 vs 100 connections (p99 400 vs 300; the same 100 rows"), "{}", scale.unit);
        let like = by_name("catalog_scale_like");
        assert_eq!(like.ratio, Some(150.0));
        assert_eq!(verdict(like), Some(false));

        let rss = by_name("serve_rss_mb");
        assert_eq!((rss.value, rss.anchor, rss.ratio), (80.0, Some(40.0), Some(2.0)));
        assert_eq!(verdict(rss), None);
        let growth = by_name("serve_rss_growth_mb");
        assert_eq!((growth.value, growth.anchor, growth.ratio), (2.0, Some(80.0), Some(0.025)));
        assert_eq!(verdict(growth), Some(true));

        let missing =
            serde_json::from_str::<HttpMeta>(r#"{"get": {"concurrency": 1, "rps": 1, "anchor_rps": 1, "errors": 0}}"#);
        assert!(missing.is_err());
    }

    #[test]
    fn catalog_figures_are_throughputs_against_the_raw_driver() {
        let figure = catalog_figure("catalog_update_tps", 2_000_000.0, 1_000_000.0);
        assert_eq!(figure.value, 500.0);
        assert_eq!(figure.anchor, Some(1000.0));
        assert_eq!(figure.ratio, Some(0.5));
    }

    fn figure(name: &str, value: f64, ratio: Option<f64>, target: &str) -> Figure {
        Figure { name: name.to_owned(), value, unit: "ns".to_owned(), anchor: None, ratio, target: target.to_owned() }
    }

    #[test]
    fn parse_figures_are_per_statement_and_per_100x() {
        let medians = ParseMedians {
            lanyard_corpus: 60_000.0,
            sqlparser_anchor: 120_000.0,
            options_small: 1_000.0,
            options_large: 110_000.0,
            stress_long: 5_000.0,
            stress_nested: 7_000.0,
        };
        let meta = ParseMeta { corpus_statements: 60, anchor_statements: 60, options_small: 10, options_large: 1000 };
        let figures = parse_figures_from(&medians, &meta);
        let names: Vec<_> = figures.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["parse_ddl_ns", "parse_scaling", "parse_stress_long_ns", "parse_stress_nested_ns"]);

        let ddl = &figures[0];
        assert_eq!(ddl.value, 1000.0);
        assert_eq!(ddl.anchor, Some(2000.0));
        assert_eq!(ddl.ratio, Some(0.5));
        assert_eq!(verdict(ddl), Some(true));

        let scaling = &figures[1];
        assert_eq!(scaling.value, 110.0);
        assert_eq!(scaling.ratio, Some(110.0));
        assert_eq!(scaling.anchor, Some(1000.0));
        assert_eq!(verdict(scaling), Some(true));

        assert_eq!(figures[2].value, 5000.0);
        assert_eq!(figures[3].anchor, None);
        assert_eq!(verdict(&figures[3]), None);
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(&figure("a", 9.0, Some(1.2), "ratio <= 1.0")), Some(false));
        assert_eq!(verdict(&figure("a", 9.0, Some(0.6), "ratio >= 0.5")), Some(true));
        assert_eq!(verdict(&figure("a", 9.0, None, "ratio <= 1.0")), None);
        assert_eq!(verdict(&figure("a", 151.0, None, "<= 150 (linear)")), Some(false));
        assert_eq!(verdict(&figure("a", 1.0, None, "== 1.0")), Some(true));
        assert_eq!(verdict(&figure("a", 1.0, None, "completes")), None);
    }

    #[test]
    fn summary_line_shows_everything_known() {
        let ddl = Figure {
            name: "parse_ddl_ns".to_owned(),
            value: 812.3,
            unit: "ns".to_owned(),
            anchor: Some(2104.0),
            ratio: Some(812.3 / 2104.0),
            target: "ratio <= 1.0".to_owned(),
        };
        assert_eq!(summary_line(&ddl), "parse_ddl_ns  812.3 ns  anchor 2104.0  ratio 0.39  target ratio <= 1.0  [ok]");
        let stress = figure("parse_stress_long_ns", 5000.0, None, "completes");
        assert_eq!(summary_line(&stress), "parse_stress_long_ns  5000.0 ns  target completes");
    }

    #[test]
    fn merge_replaces_by_name_and_sorts() {
        let previous = vec![figure("zeta", 1.0, None, ""), figure("parse_ddl_ns", 1.0, None, "")];
        let new = vec![figure("parse_ddl_ns", 2.0, None, ""), figure("alpha", 3.0, None, "")];
        let merged = merge(previous, new);
        let got: Vec<_> = merged.iter().map(|f| (f.name.as_str(), f.value)).collect();
        assert_eq!(got, [("alpha", 3.0), ("parse_ddl_ns", 2.0), ("zeta", 1.0)]);
    }

    #[test]
    fn unknown_benchmark_names_are_rejected() {
        assert_eq!(select(&[]).unwrap().len(), BENCHES.len());
        let err = select(&["nope".to_owned()]).unwrap_err().to_string();
        assert!(err.starts_with("unknown benchmark `nope` (known: parse"), "{err}");
    }
}
