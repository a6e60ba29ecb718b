//! The HashiCorp Vault backend end to end, against OpenBao (the shared dev server of `cargo xtask test`, and
//! private ones for the faults): a PostgreSQL password rotated in the database and in OpenBao only needs no
//! statement in Lanyard; a sealed, a revoked and a stopped server fail as they should; and no token, secret_id or
//! password appears in any output, log, audit record or file of the data directory.

use std::path::Path;
use std::time::{Duration, Instant};

use lanyard_testsupport::{BaoApi, PrivateBao, PrivatePostgres, SqlCli, shared_bao, unique_name};
use serde_json::{Value, json};

const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");

/// Runs `sql` (which may hold secrets: it goes on standard input, never on the command line) as JSON; the run's
/// exit code and its JSON lines.
fn run(env: &SqlCli, sql: &str) -> (i32, Vec<Value>) {
    let run = env.sql(&["--format", "json", "--continue-on-error", "-f", "-"], Some(sql));
    let lines = run.json();
    (run.code, lines)
}

/// Runs one statement that must succeed.
fn ok(env: &SqlCli, sql: &str) -> Value {
    let (code, mut lines) = run(env, sql);
    assert_eq!(code, 0, "the statement failed: {lines:?}");
    lines.pop().expect("one JSON line")
}

/// `TEST CONNECTION name`: the result (`PASSED`/`FAILED`) and the error, whether reported as a FAILED row or as a
/// failed statement.
fn test_connection(env: &SqlCli, name: &str) -> (String, Option<String>) {
    let (_, lines) = run(env, &format!("TEST CONNECTION {name}"));
    let line = lines.last().expect("one JSON line");
    if let Some(row) = line["rows"].as_array().and_then(|rows| rows.first()) {
        return (row["result"].as_str().unwrap_or_default().to_owned(), row["error"].as_str().map(str::to_owned));
    }
    ("ERROR".to_owned(), line["error"]["message"].as_str().map(str::to_owned))
}

/// The value of the resolver's counter `name` for the backend `storage`, from the server's `/metrics`, which must
/// answer 200 and have the series (the resolver creates a backend's series, at 0, on its first resolve): a missing
/// one is a failure, not a zero.
fn resolver_counter(env: &SqlCli, name: &str, storage: &str) -> u64 {
    let url = format!("{}/metrics", env.server.url());
    let (status, text) = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let response = reqwest::get(url).await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    })
    .join()
    .unwrap();
    assert_eq!(status, 200, "GET /metrics: {text}");
    let series = format!("lanyard_resolve_{name}_total{{backend=\"{storage}\",kind=\"hashicorp\"}} ");
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no series {series:?} in /metrics:\n{text}"));
    value.trim().parse().unwrap_or_else(|_| panic!("{series}{value}: not a count"))
}

/// A private PostgreSQL with the user `app` logging in with `password`.
fn postgres_with_app(password: &str) -> PrivatePostgres {
    let pg = PrivatePostgres::start(&unique_name("canary-pg-super-"));
    pg.create_user("app", password);
    pg
}

/// `CREATE CONNECTION prod_pg` to `pg` as `app`, with the credential `pg_login`.
fn create_pg_connection(env: &SqlCli, pg: &PrivatePostgres) {
    ok(
        env,
        &format!(
            "CREATE CONNECTION prod_pg TYPE = postgresql OPTIONS (host = '{}', port = '{}', database = 'postgres', \
             username = 'app') CREDENTIAL = pg_login",
            pg.host(),
            pg.port()
        ),
    );
}

#[test]
fn a_password_rotated_in_openbao_needs_no_alter() {
    let bao = shared_bao();
    let (old, new) = (unique_name("canary-bao-P1-"), unique_name("canary-bao-P2-"));
    let pg = postgres_with_app(&old);
    let mount = unique_name("kv-e2e-");
    bao.enable_kv2(&mount);
    bao.kv_put(&mount, "apps/db", &json!({ "username": "app", "password": old }));
    let policy = unique_name("lanyard-e2e-");
    // The storage only holds links: the AppRole may read the secrets under apps/ and nothing else (no list, nothing
    // under the prefix), and the probe passes on that.
    bao.put_policy(&policy, &format!("path \"{mount}/data/apps/*\" {{ capabilities = [\"read\"] }}\n"));
    let role = bao.create_approle(&unique_name("lanyard-e2e-"), &[&policy], 600);

    let env = SqlCli::start(Path::new(LANYARD), "cli-hashicorp");
    ok(
        &env,
        &format!(
            "CREATE CREDENTIAL STORAGE team_vault TYPE = HASHICORP OPTIONS (address = '{}', mount = '{mount}', \
             prefix = 'lanyard', auth_method = 'approle', role_id = '{}', secret_id = '{}')",
            bao.url(),
            role.role_id,
            role.secret_id
        ),
    );
    let tested = ok(&env, "TEST CREDENTIAL STORAGE team_vault");
    assert_eq!(tested["outcome"], "passed", "{tested}");
    let steps: Vec<&str> = tested["rows"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["token lookup-self", &format!("read mount {mount}/")], "{tested}");

    ok(
        &env,
        "CREATE CREDENTIAL pg_login TYPE = CREDENTIAL LINKED EXTERNAL SECRET 'apps/db#password' IN CREDENTIAL STORAGE team_vault",
    );
    create_pg_connection(&env, &pg);
    assert_eq!(test_connection(&env, "prod_pg"), ("PASSED".to_owned(), None));

    // The password changes in PostgreSQL and, as a new KV version, in OpenBao: never through Lanyard.
    pg.set_password("app", &new);
    assert_eq!(bao.kv_put(&mount, "apps/db", &json!({ "username": "app", "password": new })), 2);
    assert_eq!(test_connection(&env, "prod_pg"), ("PASSED".to_owned(), None), "no statement in between");
    assert!(pg.try_connect("app", &old).is_err(), "the old password must no longer work");
    pg.try_connect("app", &new).unwrap();

    env.assert_no_canary_anywhere(&[&old, &new, &role.secret_id, bao.token()]);
}

/// A storage on `bao` with token auth, a KV secret `apps/db` holding `password`, and `prod_pg` linked to it.
fn private_setup(env: &SqlCli, bao: &BaoApi, token: &str, pg: &PrivatePostgres, password: &str) {
    bao.kv_put("secret", "apps/db", &json!({ "username": "app", "password": password }));
    ok(
        env,
        &format!(
            "CREATE CREDENTIAL STORAGE private_vault TYPE = HASHICORP OPTIONS (address = '{}', auth_method = 'token', \
             token = '{token}', timeout_ms = '1000')",
            bao.url()
        ),
    );
    ok(
        env,
        "CREATE CREDENTIAL pg_login TYPE = CREDENTIAL LINKED EXTERNAL SECRET 'apps/db#password' IN CREDENTIAL STORAGE private_vault",
    );
    create_pg_connection(env, pg);
    assert_eq!(test_connection(env, "prod_pg"), ("PASSED".to_owned(), None));
}

#[test]
fn a_sealed_openbao_is_a_temporary_error_naming_connection_entry_backend_and_kind() {
    let password = unique_name("canary-bao-sealed-");
    let pg = postgres_with_app(&password);
    let bao = PrivateBao::start();
    let env = SqlCli::start(Path::new(LANYARD), "cli-hashicorp-sealed");
    private_setup(&env, bao.api(), bao.root_token(), &pg, &password);
    let retries_before = resolver_counter(&env, "retries", "private_vault");

    bao.seal();
    let (result, error) = test_connection(&env, "prod_pg");
    let error = error.unwrap_or_else(|| panic!("a sealed server fails the test ({result})"));
    assert_ne!(result, "PASSED");
    for part in ["prod_pg", "pg_login", "private_vault", "hashicorp", "backend unavailable", "sealed"] {
        assert!(error.contains(part), "{part:?} missing in {error:?}");
    }
    // Temporary: the resolver retried it.
    assert!(resolver_counter(&env, "retries", "private_vault") > retries_before, "a sealed server is retried");
    env.assert_no_canary_anywhere(&[&password, bao.root_token()]);
}

#[test]
fn a_revoked_token_is_permission_denied_and_not_retried() {
    let password = unique_name("canary-bao-revoked-");
    let pg = postgres_with_app(&password);
    let bao = PrivateBao::start();
    bao.api().put_policy("apps", &BaoApi::kv_policy("secret", "apps/"));
    let token = bao.api().create_token(&["apps"], 600);
    let env = SqlCli::start(Path::new(LANYARD), "cli-hashicorp-revoked");
    private_setup(&env, bao.api(), &token, &pg, &password);

    bao.api().revoke_token(&token);
    let (calls, retries) =
        (resolver_counter(&env, "backend_calls", "private_vault"), resolver_counter(&env, "retries", "private_vault"));
    let (result, error) = test_connection(&env, "prod_pg");
    let error = error.unwrap_or_else(|| panic!("a revoked token fails the test ({result})"));
    for part in ["prod_pg", "pg_login", "private_vault", "hashicorp", "permission denied"] {
        assert!(error.contains(part), "{part:?} missing in {error:?}");
    }
    // One backend call, no retry: a permanent kind.
    assert_eq!(resolver_counter(&env, "backend_calls", "private_vault"), calls + 1);
    assert_eq!(resolver_counter(&env, "retries", "private_vault"), retries);
    env.assert_no_canary_anywhere(&[&password, &token]);
}

#[test]
fn a_stopped_openbao_is_unavailable_within_the_deadline() {
    let password = unique_name("canary-bao-stopped-");
    let pg = postgres_with_app(&password);
    let mut bao = PrivateBao::start();
    let env = SqlCli::start(Path::new(LANYARD), "cli-hashicorp-stopped");
    let root = bao.root_token().to_owned();
    private_setup(&env, bao.api(), &root, &pg, &password);

    bao.stop();
    let started = Instant::now();
    let (result, error) = test_connection(&env, "prod_pg");
    let elapsed = started.elapsed();
    let error = error.unwrap_or_else(|| panic!("a stopped server fails the test ({result})"));
    for part in ["prod_pg", "pg_login", "private_vault", "hashicorp", "backend unavailable"] {
        assert!(error.contains(part), "{part:?} missing in {error:?}");
    }
    assert!(elapsed < Duration::from_secs(30), "TEST CONNECTION took {elapsed:?}");
    env.assert_no_canary_anywhere(&[&password, &root]);
}
