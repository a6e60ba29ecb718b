//! The SQL parser on arbitrary text: it never panics; every error renders; every statement it accepts prints back
//! to SQL that parses to the same statement, and re-parses from its own span.

#![no_main]

use lanyard_sql::{ToSql, parse_one, parse_script};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let script = parse_script(input);
    for error in &script.errors {
        let _ = (error.render("f.sql"), error.hint(), error.to_string());
    }
    for spanned in &script.statements {
        let statement = &spanned.statement;
        let printed = statement.to_sql_unredacted();
        match parse_one(&printed) {
            Ok(reparsed) => assert_eq!(&reparsed, statement, "the printed statement {printed:?} parses differently"),
            Err(error) => panic!("the printed statement {printed:?} does not parse:\n{}", error.render("")),
        }
        let _ = statement.to_string();
        let from_span = parse_one(spanned.span.slice(input));
        assert_eq!(from_span.as_ref().ok(), Some(statement), "span {:?} of {input:?}", spanned.span);
    }
});
