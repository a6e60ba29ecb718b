//! Every example statement of the two seed documents (`tests/seeds/`, byte-identical copies of `shared/seeds/`,
//! which `cargo xtask tidy` checks) parses, prints canonically, and round-trips. The statements are extracted from
//! the documents themselves, so an example cannot be forgotten; `testdata/seeds` holds the expected canonical forms.

use lanyard_sql::{Statement, ToSql, parse_one};

/// Statements of a seed: each starts at a line beginning with one of `starts` and ends at a line ending with `;` or
/// `\G`.
fn extract(text: &str, starts: &[&str]) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_none() && starts.iter().any(|s| trimmed.starts_with(s)) {
            current = Some(String::new());
        }
        if let Some(statement) = current.as_mut() {
            statement.push_str(trimmed);
            statement.push('\n');
            if trimmed.ends_with(';') || trimmed.ends_with("\\G") {
                statements.push(current.take().unwrap());
            }
        }
    }
    assert!(current.is_none(), "unterminated statement in seed: {current:?}");
    statements
}

fn check_all(statements: &[String]) -> Vec<Statement> {
    statements
        .iter()
        .map(|sql| {
            let statement =
                parse_one(sql).unwrap_or_else(|e| panic!("seed example does not parse:\n{sql}\n{}", e.render("seed")));
            assert_eq!(parse_one(&statement.to_sql_unredacted()).unwrap(), statement);
            statement
        })
        .collect()
}

#[test]
fn deltaforge_seed_examples_parse() {
    let text = include_str!("seeds/deltaforge-alter-connection.txt");
    // The examples follow the reference table; the syntax synopsis at the top is not SQL.
    let examples = &text[text.find("-- Change host").expect("examples section")..];
    let statements = check_all(&extract(examples, &["ALTER CONNECTION"]));
    assert_eq!(statements.len(), 5, "the seed has five example statements");
    let printed: Vec<String> = statements.iter().map(ToString::to_string).collect();
    assert_eq!(
        printed,
        [
            "ALTER CONNECTION prod_pg SET OPTIONS (host = 'new-db.example.com', port = '5432', database = 'app', ssl_enabled = 'true')",
            "ALTER CONNECTION prod_pg SET CREDENTIAL = prod_pg_password_v2",
            "ALTER CONNECTION raw_data_s3 SET CREDENTIAL STORAGE = prod_aws_sm_eu",
            "ALTER CONNECTION old_name RENAME TO new_name",
            "ALTER CONNECTION IF EXISTS prod_pg SET OPTIONS (host = 'new-db.example.com', port = '5432', database = 'app', ssl_enabled = 'true') SET CREDENTIAL = prod_pg_password_v2 RENAME TO prod_pg_v2",
        ]
    );
}

#[test]
fn singlestore_seed_examples_parse() {
    let text = include_str!("seeds/singlestore-alter-link.txt");
    let examples = &text[text.find("The examples use the following link").expect("examples section")..];
    let texts = extract(examples, &["CREATE LINK", "ALTER LINK", "SHOW CREATE LINK"]);
    let statements = check_all(&texts);
    // Each `SHOW CREATE LINK … \G` asks for vertical output, as the seed prints it; nothing else does.
    for (text, statement) in texts.iter().zip(&statements) {
        let script = lanyard_sql::parse_script(text);
        assert_eq!(script.statements[0].vertical, statement.kind() == "SHOW CREATE LINK", "{text}");
    }
    let count = |kind: &str| statements.iter().filter(|s| s.kind() == kind).count();
    assert_eq!((count("CREATE LINK"), count("ALTER LINK"), count("SHOW CREATE LINK")), (1, 7, 7));
    // The credentials of the seed never show in canonical output.
    for statement in &statements {
        let shown = statement.to_string();
        for secret in ["initial_secret", "final_secret", "rotated_key_id", "initial_key_id"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
