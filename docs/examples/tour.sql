-- A tour of every Lanyard statement, in both dialects.
-- Check it offline:   cargo run --release -- check docs/examples/tour.sql
-- See canonical SQL:  cargo run --release -- fmt docs/examples/tour.sql
-- Run it:             cargo run --release -- sql -f docs/examples/tour.sql   (every statement succeeds, every TEST passes)
--
-- To run it you need `lanyard serve` on its default address (http://127.0.0.1:7600, which the REST connection below
-- tests) and moto, the AWS emulator, on 127.0.0.1:5000 (`cargo xtask test` installs it into target/moto-venv):
-- $ target/moto-venv/bin/moto_server -H 127.0.0.1 -p 5000
-- The made-up keys are fine for moto, not for AWS. Nothing here reaches beyond 127.0.0.1: the other hosts are only
-- named, never contacted. The test suite runs this file as written but for those two addresses
-- (crates/lanyard-cli/tests/docs.rs, `the_tour_runs_as_written`), with the pipeline runner off, so that START and
-- STOP PIPELINE only change the pipeline's state.
-- Run by: crates/lanyard-cli/tests/docs.rs, `the_tour_runs_as_written`
-- Needs: vault-aws, vault-hashicorp, vault-local

-- ---------------------------------------------------------------------------------------------------------------
-- DeltaForge dialect: credential storages (vault backends)
-- ---------------------------------------------------------------------------------------------------------------
CREATE CREDENTIAL STORAGE IF NOT EXISTS prod_aws_sm_eu
  TYPE = AWS
  DESCRIPTION 'production secrets, eu-west-1'
  OPTIONS (region = 'eu-west-1', auth_method = 'access_key', access_key_id = 'AKIAEXAMPLE',
           secret_access_key = 'example-only', secrets_manager_prefix = 'lanyard/',
           endpoint_url = 'http://127.0.0.1:5000');
CREATE CREDENTIAL STORAGE 'Team Vault' TYPE = HASHICORP
  OPTIONS (address = 'https://vault.internal:8200', mount = 'secret', auth_method = 'approle',
           role_id = 'lanyard', secret_id = 'example-only')
  INACTIVE;
ALTER CREDENTIAL STORAGE 'Team Vault' SET DESCRIPTION 'team KV v2' ACTIVE;
SHOW CREDENTIAL STORAGES;
SHOW CREDENTIAL STORAGES LIKE 'aws';
-- In DeltaForge statements a name may be a single-quoted string.
DESCRIBE CREDENTIAL STORAGE 'Team Vault';
TEST CREDENTIAL STORAGE prod_aws_sm_eu;

-- ---------------------------------------------------------------------------------------------------------------
-- Vault entries: VAULT and CREDENTIAL name the same object
-- ---------------------------------------------------------------------------------------------------------------
CREATE CREDENTIAL prod_pg_password TYPE = CREDENTIAL
  SECRET '{"username":"app","password":"example-only"}'
  DESCRIPTION 'app login for prod_pg';
CREATE CREDENTIAL prod_pg_password_v2 TYPE = CREDENTIAL
  LINKED EXTERNAL SECRET 'prod/pg/app#password' IN CREDENTIAL STORAGE prod_aws_sm_eu
  EXPIRES '2027-06-30T00:00:00Z';
CREATE VAULT lake_key TYPE = ENCRYPTION_KEY ALGORITHM 'AES-256-GCM' KEY_SIZE 256 GENERATE;
ALTER VAULT lake_key ROTATE;
ALTER CREDENTIAL prod_pg_password SET SECRET '{"username":"app","password":"rotated-example"}';
SHOW VAULTS;
SHOW CREDENTIALS LIKE 'pg';
DESCRIBE CREDENTIAL prod_pg_password;

-- ---------------------------------------------------------------------------------------------------------------
-- Connections
-- ---------------------------------------------------------------------------------------------------------------
CREATE CONNECTION IF NOT EXISTS prod_pg
  TYPE = postgresql
  DESCRIPTION 'primary application database'
  OPTIONS (host = 'db.example.com', port = '5432', database = 'app', ssl_enabled = 'true')
  CREDENTIAL = prod_pg_password
  MAX_CONNECTIONS = 16
  TIMEOUT = 30;
CREATE CONNECTION raw_data_s3 TYPE = s3
  OPTIONS (bucket = 'raw-data')
  CREDENTIAL STORAGE = prod_aws_sm_eu;
CREATE CONNECTION old_name TYPE = rest
  OPTIONS (endpoint = 'http://127.0.0.1:7600/healthz', method = 'GET', expected_status = '200');

-- The examples of the ALTER CONNECTION reference, verbatim:
-- Change host and enable SSL (replaces options map)
ALTER CONNECTION prod_pg
SET OPTIONS (host = 'new-db.example.com', port = '5432', database = 'app', ssl_enabled = 'true');
-- Swap to a rotated credential
ALTER CONNECTION prod_pg SET CREDENTIAL = prod_pg_password_v2;
-- Swap the cloud-native auth backend
ALTER CONNECTION raw_data_s3 SET CREDENTIAL STORAGE = prod_aws_sm_eu;
-- Rename a connection
ALTER CONNECTION old_name RENAME TO new_name;
-- Chain multiple actions
ALTER CONNECTION IF EXISTS prod_pg
SET OPTIONS (host = 'new-db.example.com', port = '5432', database = 'app', ssl_enabled = 'true')
SET CREDENTIAL = prod_pg_password_v2
RENAME TO prod_pg_v2;

-- Lanyard extensions, same atomicity:
ALTER CONNECTION prod_pg_v2 SET OPTION port = '6432' UNSET OPTION ssl_enabled SET TIMEOUT = 10;
SHOW CONNECTIONS;
SHOW CONNECTIONS LIKE 'prod';
DESCRIBE CONNECTION prod_pg_v2;
-- History (a Lanyard extension): every change is a version, read back and restored as a new one.
SHOW HISTORY FOR CONNECTION prod_pg_v2 LIMIT 3;
DESCRIBE CONNECTION prod_pg_v2 AT VERSION 1;
ALTER CONNECTION prod_pg_v2 ROLLBACK TO VERSION 4;
SHOW HISTORY FOR CREDENTIAL prod_pg_password_v2;
-- A probe: the REST connection asks the Lanyard server itself whether it is healthy.
TEST CONNECTION new_name;

-- ---------------------------------------------------------------------------------------------------------------
-- SingleStore dialect: links and pipelines
-- ---------------------------------------------------------------------------------------------------------------
CREATE DATABASE IF NOT EXISTS analytics;
SHOW DATABASES;
USE analytics;
CREATE LINK analytics_link AS S3
CONFIG '{"disable_gunzip":false}'
CREDENTIALS '{"aws_access_key_id":"initial_key_id",
"aws_secret_access_key":"initial_secret"}';
ALTER LINK analytics_link
SET CONFIG ::region = "us-east-1";
SHOW CREATE LINK analytics_link \G
ALTER LINK analytics_link
SET CONFIG '{"region":"eu-central-1","disable_gunzip":true,"endpoint_url":"http://127.0.0.1:5000"}'
SET CREDENTIALS ::aws_access_key_id = 'rotated_key_id';
SHOW HISTORY FOR LINK analytics_link;
DESCRIBE LINK analytics_link AT VERSION 1;
SHOW LINKS;
SHOW LINKS ON analytics;

-- The target is a table of a database reached through a Lanyard CONNECTION (a Lanyard extension).
CREATE PIPELINE IF NOT EXISTS events_pipeline AS
  LOAD DATA LINK analytics_link 'raw-data/events/'
  INTO TABLE public.events ON CONNECTION prod_pg_v2
  FORMAT CSV
  FIELDS TERMINATED BY '\t' OPTIONALLY ENCLOSED BY '"'
  LINES TERMINATED BY '\n'
  IGNORE 1 LINES
  (id, kind, payload);
CREATE PIPELINE clicks_pipeline AS
  LOAD DATA LINK analytics_link 'raw-data/clicks/' INTO TABLE clicks ON CONNECTION prod_pg_v2 FORMAT JSON;
START PIPELINE events_pipeline;
SHOW PIPELINES;
SHOW FILES FOR PIPELINE events_pipeline;
STOP PIPELINE events_pipeline;

-- ---------------------------------------------------------------------------------------------------------------
-- Clean up, in dependency order
-- ---------------------------------------------------------------------------------------------------------------
DROP PIPELINE IF EXISTS events_pipeline;
DROP PIPELINE clicks_pipeline;
DROP LINK IF EXISTS analytics.analytics_link;
USE default;
DROP DATABASE analytics;
DROP CONNECTION IF EXISTS prod_pg_v2;
DROP CONNECTION raw_data_s3;
DROP CONNECTION new_name;
SHOW HISTORY FOR CONNECTION new_name;
DROP CREDENTIAL prod_pg_password;
DROP CREDENTIAL prod_pg_password_v2;
DROP VAULT IF EXISTS lake_key;
DROP CREDENTIAL STORAGE 'Team Vault';
DROP CREDENTIAL STORAGE IF EXISTS prod_aws_sm_eu;
