-- Lanyard quick start, links: SingleStore's LINK statements against S3 — here moto, the AWS emulator on your machine.
--
-- Run it statement by statement in the shell (`lanyard sql`, or `lanyard sql --embedded` without a server), and run
-- the `-- $` line in another terminal first, from the repository root: `cargo xtask test` (or `cargo xtask ci`)
-- installs moto into target/moto-venv. The keys below are made up (AWS's documentation examples): moto accepts any
-- key, AWS would not. The whole file is run by the test suite (tests/links.rs, `the_links_quickstart_works_as_written`),
-- so it works as written.
-- Run by: crates/lanyard-cli/tests/links.rs, `the_links_quickstart_works_as_written`

-- $ target/moto-venv/bin/moto_server -H 127.0.0.1 -p 5000

-- 1. A link is a named connection in a database (`default` until you USE another). CONFIG says where, and is shown
--    to anyone who may read links: never put a secret in it. CREDENTIALS go to a vault entry that the link owns;
--    no statement shows them again, and history and logs show '***'.
CREATE LINK analytics_link AS S3
  CONFIG '{"region":"us-east-1","endpoint_url":"http://127.0.0.1:5000","disable_gunzip":false}'
  CREDENTIALS '{"aws_access_key_id":"AKIAIOSFODNN7EXAMPLE",
                "aws_secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}';

-- 2. TEST LINK (a Lanyard addition) resolves the credentials fresh and probes the service: with no `bucket` in
--    CONFIG, a signed ListBuckets to `endpoint_url`. PASSED (against AWS these made-up keys would be FAILED:
--    InvalidAccessKeyId; a failed probe is a result, not an error).
TEST LINK analytics_link;

-- 3. ALTER LINK changes one key in place (`::key = value`; the seed writes the value double-quoted, which works too)
--    or replaces the whole JSON object (SET CONFIG '{…}'). The link keeps its id and everything that uses it.
ALTER LINK analytics_link SET CONFIG ::region = "us-west-2";

-- 4. SHOW CREATE LINK ending in \G prints vertically, as the mysql client does. CONFIG keeps the order its keys
--    were written in (an updated key keeps its place); the credentials are never shown.
SHOW CREATE LINK analytics_link \G
SHOW LINKS;

-- 5. Rotate the secret: one credential key changes, the other stays. No re-create, no restart: the next TEST
--    (and every connect) resolves the new secret. PASSED again.
ALTER LINK analytics_link SET CREDENTIALS ::aws_secret_access_key = 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY';
TEST LINK analytics_link;

-- 6. Links live in databases: `staging` comes into being with its first link, and USE makes it the one that
--    unqualified names (and SHOW LINKS) refer to.
CREATE LINK staging.analytics_link AS S3
  CONFIG '{"endpoint_url":"http://127.0.0.1:5000"}'
  CREDENTIALS '{"aws_access_key_id":"AKIAI44QH8DHBEXAMPLE",
                "aws_secret_access_key":"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"}';
USE staging;
SHOW LINKS;
TEST LINK analytics_link;

-- 7. DROP LINK deletes the link and its credentials; `staging` stays, empty. Back to `default`.
DROP LINK analytics_link;
SHOW LINKS;
USE default;
SHOW LINKS;
