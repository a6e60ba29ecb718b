//! Data-driven grammar cases: `tests/testdata/*`, each case an input script, `----`, then the canonical (redacted)
//! form of every statement or the rendered errors. `REWRITE=1 cargo test -p lanyard-sql --test grammar` rewrites
//! the expectations; review the diff before committing it.
//!
//! Besides the printed expectation, every statement that parses is checked for the round-trip contract:
//! `parse(to_sql_unredacted(s)) == s`, and its span re-parses to the same statement.

use std::fmt::Write;

use lanyard_sql::{ToSql, parse_one, parse_script};

fn run_parse(input: &str) -> String {
    let script = parse_script(input);
    let mut out = String::new();
    for spanned in &script.statements {
        let statement = &spanned.statement;
        let unredacted = statement.to_sql_unredacted();
        let reparsed = parse_one(&unredacted)
            .unwrap_or_else(|e| panic!("unredacted form does not parse:\n{unredacted}\n{}", e.render("")));
        assert_eq!(&reparsed, statement, "round trip changed the statement:\n{unredacted}");
        let redacted = statement.to_string();
        let from_span = parse_one(spanned.span.slice(input))
            .unwrap_or_else(|e| panic!("span {:?} does not parse:\n{}", spanned.span, e.render("")));
        assert_eq!(&from_span, statement, "span re-parse differs");
        writeln!(out, "{redacted}").unwrap();
    }
    for error in &script.errors {
        out.push_str(&error.render(""));
    }
    out
}

#[test]
fn grammar_cases() {
    datadriven::walk("tests/testdata", |file| {
        file.run(|case| match case.directive.as_str() {
            "parse" => run_parse(&case.input),
            other => panic!("unknown directive {other:?}"),
        })
    });
}
