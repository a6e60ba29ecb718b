-- Lanyard quick start: a PostgreSQL connection whose password lives in the vault, tested, rotated, tested again.
--
-- Run it statement by statement in the shell (`lanyard sql`, or `lanyard sql --embedded` without a server), and
-- run each `-- $` line in another terminal when you reach it: those are the database side of the story. The
-- passwords below are examples; use your own (in psql, `\password app` keeps one out of your shell history). The whole file is run by the test suite (tests/sql.rs,
-- `the_quickstart_works_as_written`), so it works as written.
-- Run by: crates/lanyard-cli/tests/sql.rs, `the_quickstart_works_as_written`

-- $ psql -h 127.0.0.1 -U postgres -c "CREATE ROLE app LOGIN PASSWORD 'first-Passw0rd'"

-- 1. The secret goes into a vault entry (the encrypted local vault unless you say IN CREDENTIAL STORAGE …).
--    No statement ever shows it again; history and logs show '***'.
CREATE CREDENTIAL app_login TYPE = CREDENTIAL
  SECRET '{"username": "app", "password": "first-Passw0rd"}'
  DESCRIPTION 'login of the app role';

-- 2. The connection refers to the entry by name; it never holds the secret itself.
CREATE CONNECTION app_db TYPE = postgresql
  OPTIONS (host = '127.0.0.1', port = '5432', database = 'postgres')
  CREDENTIAL = app_login
  DESCRIPTION 'the app database';

-- 3. TEST resolves the credential fresh, logs in, runs SELECT 1 and reads the server version: PASSED.
TEST CONNECTION app_db;

-- 4. Rotate. First the database side…
-- $ psql -h 127.0.0.1 -U postgres -c "ALTER ROLE app PASSWORD 'second-Passw0rd'"

--    …so the stored password no longer works: FAILED (a result, not an error; the reason is recorded).
TEST CONNECTION app_db;

--    Then the vault side. No ALTER CONNECTION, no restart: every connect resolves the secret fresh.
ALTER CREDENTIAL app_login SET SECRET '{"username": "app", "password": "second-Passw0rd"}';

-- 5. PASSED again, with the new password.
TEST CONNECTION app_db;
DESCRIBE CONNECTION app_db;
SHOW CONNECTIONS;
