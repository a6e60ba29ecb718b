//! End to end: object history through the real `lanyard sql` against a real `lanyard serve`. The seed's five ALTER
//! CONNECTION examples, applied to one connection, are five versions with their diffs in SHOW HISTORY; DESCRIBE … AT
//! shows each version as DESCRIBE showed it then; ROLLBACK TO VERSION 1 restores the first definition as a new
//! version and TEST CONNECTION passes after it (the machine's PostgreSQL); a rollback to a version whose credential
//! was dropped is refused with its name and changes nothing; the history of the other kinds; pruning by
//! `lanyard serve`; and the canary: the credential's secret is in no output, history row, log or catalog file.

use std::path::Path;

use lanyard_testsupport::{SqlCli, pg_admin_url};
use serde_json::Value;

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// The seed document, byte-identical to `shared/seeds/` (checked by `cargo xtask tidy`).
const SEED: &str = include_str!("../../lanyard-sql/tests/seeds/deltaforge-alter-connection.txt");

/// The seed's five example statements, in order, made to act on one connection: the ones written for
/// `raw_data_s3` and `old_name` act on `prod_pg`, and the chain names it by the name the rename gave it.
fn seed_alters_on_one_connection() -> Vec<String> {
    let examples = &SEED[SEED.find("-- Change host and enable SSL").expect("the seed's examples")..];
    let statements: Vec<String> = examples
        .split(';')
        .map(|s| s.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n"))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(statements.len(), 5, "{statements:?}");
    statements
        .into_iter()
        .map(|s| {
            s.replace("CONNECTION raw_data_s3", "CONNECTION prod_pg")
                .replace("CONNECTION old_name", "CONNECTION prod_pg")
                .replace("CONNECTION IF EXISTS prod_pg", "CONNECTION IF EXISTS new_name")
        })
        .collect()
}

/// The properties of a DESCRIBE that a version holds (not the last test, which is not part of a version).
fn definition(described: &serde_json::Map<String, Value>) -> Vec<(String, Value)> {
    ["name", "type", "options", "credential", "credential_storage", "description", "version", "updated_at"]
        .iter()
        .map(|k| ((*k).to_owned(), described.get(*k).cloned().unwrap_or(Value::Null)))
        .collect()
}

fn rows(result: &Value) -> Vec<serde_json::Map<String, Value>> {
    result["rows"].as_array().unwrap().iter().map(|r| r.as_object().unwrap().clone()).collect()
}

#[test]
fn the_seed_alters_are_versions_that_describe_at_shows_and_rollback_restores() {
    let env = SqlCli::start(Path::new(LANYARD), "history-home");
    let canary = "canary-history-51d0e";
    let pg = url::Url::parse(&pg_admin_url()).expect("the PostgreSQL URL");
    let (host, port) = (pg.host_str().unwrap().to_owned(), pg.port().unwrap_or(5432));
    let setup = format!(
        "CREATE CREDENTIAL prod_pg_password TYPE = CREDENTIAL SECRET '{{\"username\":\"postgres\",\"password\":\"{canary}-1\"}}';
         CREATE CREDENTIAL prod_pg_password_v2 TYPE = CREDENTIAL SECRET '{{\"username\":\"postgres\",\"password\":\"{canary}-2\"}}';
         CREATE CREDENTIAL STORAGE prod_aws_sm_eu TYPE = MEMORY DESCRIPTION 'stands in for AWS in this build';
         CREATE CONNECTION prod_pg TYPE = postgresql OPTIONS (host = '{host}', port = '{port}', database = 'postgres') CREDENTIAL = prod_pg_password;"
    );
    let run = env.sql(&[&setup], None);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env.ok("TEST CONNECTION prod_pg")["outcome"], "passed");

    // Version 1, then the seed's five ALTERs: versions 2 to 6, each described as it stands.
    let mut described = vec![env.describe("CONNECTION", "prod_pg")];
    let mut name = "prod_pg";
    for (i, sql) in seed_alters_on_one_connection().iter().enumerate() {
        assert_eq!(env.ok(sql)["outcome"], "ok", "{sql}");
        name = match i {
            3 => "new_name",
            4 => "prod_pg_v2",
            _ => name,
        };
        described.push(env.describe("CONNECTION", name));
    }
    let versions: Vec<i64> = described.iter().map(|d| d["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);

    // SHOW HISTORY: newest first, who, the change, the statement's actions, and what changed.
    let history = env.ok("SHOW HISTORY FOR CONNECTION prod_pg_v2");
    assert_eq!(history["message"], "6 versions of connection \"prod_pg_v2\"", "{history}");
    let history = rows(&history);
    let column = |key: &str| history.iter().map(|r| r[key].clone()).collect::<Vec<_>>();
    assert_eq!(column("Version"), [6, 5, 4, 3, 2, 1].map(Value::from));
    assert_eq!(column("By"), vec![Value::from("admin"); 6]);
    assert_eq!(column("Change")[5], "connection.create");
    assert_eq!(column("Change")[0], "connection.alter");
    let changes = column("Changes");
    assert_eq!(
        changes[4],
        format!(
            "options.host: \"{host}\" -> \"new-db.example.com\"; options.port: \"{port}\" -> \"5432\"; \
             options.database: \"postgres\" -> \"app\"; options.ssl_enabled: (none) -> \"true\""
        )
        .replace("options.port: \"5432\" -> \"5432\"; ", "")
    );
    assert_eq!(changes[3], "credential: \"prod_pg_password\" -> \"prod_pg_password_v2\"");
    assert_eq!(changes[2], "credential_storage: (none) -> \"prod_aws_sm_eu\"");
    assert_eq!(changes[1], "name: \"prod_pg\" -> \"new_name\"");
    // The chain re-sets what version 5 already had: only the rename changed anything.
    assert_eq!(changes[0], "name: \"new_name\" -> \"prod_pg_v2\"");
    assert!(column("Actions")[0].as_str().unwrap().contains("rename_to"), "{:?}", column("Actions"));

    // DESCRIBE … AT VERSION n is what DESCRIBE showed at version n; AT '<instant>' finds the version current then.
    for (n, then) in described.iter().enumerate() {
        let at = env.describe("CONNECTION", &format!("prod_pg_v2 AT VERSION {}", n + 1));
        assert_eq!(definition(&at), definition(then), "version {}", n + 1);
        let instant = then["updated_at"].as_str().unwrap();
        let at = env.describe("CONNECTION", &format!("prod_pg_v2 AT '{instant}'"));
        assert_eq!(at["version"], then["version"], "at {instant}");
    }
    let missing = env.fails("DESCRIBE CONNECTION prod_pg_v2 AT VERSION 9");
    assert!(missing.contains("has no version 9: its history keeps versions 1 to 6"), "{missing}");

    // ROLLBACK TO VERSION 1: a new version with version 1's definition (the name stays), and TEST passes again.
    let rolled = env.ok("ALTER CONNECTION prod_pg_v2 ROLLBACK TO VERSION 1");
    assert_eq!(rolled["outcome"], "ok", "{rolled}");
    let now = env.describe("CONNECTION", "prod_pg_v2");
    assert_eq!(now["version"], 7);
    for key in ["options", "credential", "credential_storage", "description", "type"] {
        assert_eq!(now[key], described[0][key], "{key}");
    }
    assert_eq!(env.ok("TEST CONNECTION prod_pg_v2")["outcome"], "passed");
    let history = rows(&env.ok("SHOW HISTORY FOR CONNECTION prod_pg_v2 LIMIT 1"));
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["Actions"], "[{\"rollback_to_version\":1}]");

    // Refused while the credential of version 3 is dropped: named, and nothing changes.
    env.ok("DROP CREDENTIAL prod_pg_password_v2");
    let refused = env.fails("ALTER CONNECTION prod_pg_v2 ROLLBACK TO VERSION 3");
    assert!(refused.contains("its credential \"prod_pg_password_v2\" no longer exists"), "{refused}");
    assert_eq!(env.describe("CONNECTION", "prod_pg_v2")["version"], 7);

    // The other kinds keep versions too: a rotation is a material version, never the material.
    env.ok(&format!(
        "ALTER CREDENTIAL prod_pg_password SET SECRET '{{\"username\":\"postgres\",\"password\":\"{canary}-5\"}}'"
    ));
    let entry = rows(&env.ok("SHOW HISTORY FOR CREDENTIAL prod_pg_password"));
    assert_eq!(entry.len(), 2);
    assert!(entry[0]["Changes"].as_str().unwrap().contains("material_version: 1 -> 2"), "{entry:?}");
    let was = env.describe("CREDENTIAL", "prod_pg_password AT VERSION 1");
    assert_eq!(was["current_version"], 1, "{was:?}");
    env.ok("ALTER CREDENTIAL STORAGE prod_aws_sm_eu SET DESCRIPTION 'moved'");
    let storage = rows(&env.ok("SHOW HISTORY FOR CREDENTIAL STORAGE prod_aws_sm_eu"));
    assert_eq!(storage[0]["Changes"], "description: \"stands in for AWS in this build\" -> \"moved\"");
    env.ok("CREATE LINK s3_link AS S3 CONFIG '{\"region\":\"eu-west-1\"}' CREDENTIALS '{\"aws_access_key_id\":\"k\",\"aws_secret_access_key\":\"canary-history-51d0e-3\"}'");
    env.ok("ALTER LINK s3_link SET CREDENTIALS '{\"aws_access_key_id\":\"k2\",\"aws_secret_access_key\":\"canary-history-51d0e-4\"}'");
    let link = rows(&env.ok("SHOW HISTORY FOR LINK default.s3_link"));
    assert_eq!(link.len(), 2, "{link:?}");
    assert_eq!(link[0]["Changes"], "credentials_version: 1 -> 2");
    // Only connections roll back in this release; the others say so before anything is sent.
    let refused = env.fails("ALTER LINK s3_link ROLLBACK TO VERSION 1");
    assert!(refused.contains("ROLLBACK TO VERSION is not available for a link in this release"), "{refused}");

    // A dropped connection's history, by its name.
    env.ok("DROP CONNECTION prod_pg_v2");
    let dropped = rows(&env.ok("SHOW HISTORY FOR CONNECTION prod_pg_v2"));
    assert_eq!((dropped[0]["Version"].clone(), dropped[0]["Change"].clone()), (Value::Null, "connection.drop".into()));
    env.assert_no_canary_anywhere(&[canary]);
}

/// `lanyard serve` prunes the history: with at most two versions per object, pruned every second, five changes
/// leave the two newest.
#[test]
fn the_server_prunes_the_history_to_its_retention() {
    let env = SqlCli::start_with(
        Path::new(LANYARD),
        "history-prune-home",
        &["--history-keep-versions", "2", "--history-prune-interval-s", "1"],
    );
    env.ok("CREATE CONNECTION c TYPE = rest OPTIONS (endpoint = 'http://127.0.0.1:9/')");
    for n in 1..=4 {
        env.ok(&format!("ALTER CONNECTION c SET DESCRIPTION 'change {n}'"));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let kept: Vec<Value> =
            rows(&env.ok("SHOW HISTORY FOR CONNECTION c")).iter().map(|r| r["Version"].clone()).collect();
        if kept == [Value::from(5), Value::from(4)] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never pruned to two versions: {kept:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let pruned = env.fails("DESCRIBE CONNECTION c AT VERSION 1");
    assert!(pruned.contains("its history keeps versions 4 to 5"), "{pruned}");
}
