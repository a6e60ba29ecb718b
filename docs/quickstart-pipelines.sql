-- Lanyard quick start, pipelines: CSV files in an S3 bucket (moto, the AWS emulator on your machine) loaded into a
-- table of your PostgreSQL, each file exactly once, by the runner inside `lanyard serve`. docs/pipelines.md explains
-- each step and what SHOW PIPELINES and SHOW FILES FOR PIPELINE print.
--
-- You need `lanyard serve` running (the runner is part of it: `lanyard sql --embedded` runs no pipelines), moto,
-- curl, and psql and createdb for a PostgreSQL on 127.0.0.1:5432 where `postgres` may log in over TCP (if it asks
-- for a password, as Debian's package does, export PGPASSWORD for the `-- $` lines). Run the `-- $` lines in
-- another terminal, from the repository root: `cargo xtask test` (or `cargo xtask ci`) installs moto into
-- target/moto-venv. The S3 keys are made up (AWS's documentation examples): moto takes any key and checks no
-- signature, AWS would not. Run the SQL statement by statement in `lanyard sql`.
-- Where a line says "wait until", repeat SHOW PIPELINES until it shows that (a few seconds: the runner looks for
-- new files every 5 seconds by default). The whole file is run by the test suite
-- (crates/lanyard-cli/tests/pipelines/walkthrough.rs), so it works as written.
-- Run by: crates/lanyard-cli/tests/pipelines/walkthrough.rs, `the_pipelines_walkthrough_runs_as_written`

-- $ target/moto-venv/bin/moto_server -H 127.0.0.1 -p 5000

-- The source: a bucket with three CSV files under events/, each with a header row naming the columns.
-- $ curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY -X PUT http://127.0.0.1:5000/quickstart-events
-- $ printf 'id,name,amount\n1,widget,9.50\n2,"gadget, large",12.00\n' | curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY -T - http://127.0.0.1:5000/quickstart-events/events/0001.csv
-- $ printf 'id,name,amount\n3,sprocket,0.75\n4,flange,\n' | curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY -T - http://127.0.0.1:5000/quickstart-events/events/0002.csv
-- $ printf 'id,name,amount\n5,gear,3.20\n6,bolt,0.10\n' | curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY -T - http://127.0.0.1:5000/quickstart-events/events/0003.csv

-- The target: a role that loads, a database it owns (so it may create the ledger table there), the table.
-- $ psql -h 127.0.0.1 -U postgres -c "CREATE ROLE quickstart_pipelines_loader LOGIN PASSWORD 'first-Passw0rd'"
-- $ createdb -h 127.0.0.1 -U postgres -O quickstart_pipelines_loader quickstart_pipelines
-- $ psql -h 127.0.0.1 -U postgres -d quickstart_pipelines -c "CREATE TABLE events (id integer PRIMARY KEY, name text NOT NULL, amount numeric(12, 2)); ALTER TABLE events OWNER TO quickstart_pipelines_loader"

-- 1. The source side: a link to the bucket's store. A pipeline's path names the bucket; the link does not.
CREATE LINK s3_events AS S3
  CONFIG '{"region":"us-east-1","endpoint_url":"http://127.0.0.1:5000"}'
  CREDENTIALS '{"aws_access_key_id":"AKIAIOSFODNN7EXAMPLE",
                "aws_secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}';

-- 2. The target side: a connection to the database, its login in a vault entry of its own. TEST CONNECTION: PASSED.
CREATE CREDENTIAL warehouse_login TYPE = CREDENTIAL
  SECRET '{"username": "quickstart_pipelines_loader", "password": "first-Passw0rd"}';
CREATE CONNECTION warehouse TYPE = postgresql
  OPTIONS (host = '127.0.0.1', port = '5432', database = 'quickstart_pipelines')
  CREDENTIAL = warehouse_login;
TEST CONNECTION warehouse;

-- 3. The pipeline: the files under 'quickstart-events/events/' into public.events. CSV with a header row is the
--    default format. A new pipeline is Stopped and has loaded nothing.
CREATE PIPELINE events AS LOAD DATA LINK s3_events 'quickstart-events/events/'
  INTO TABLE public.events ON CONNECTION warehouse;
SHOW PIPELINES;

-- 4. START: the runner lists the path and loads the new files in key order, each in one transaction of the target
--    with its row of the ledger (lanyard_pipeline_ledger, beside the table).
START PIPELINE events;
-- wait until SHOW PIPELINES shows Files_loaded = 3, Rows_loaded = 6, Cursor = 'events/0003.csv'
SHOW PIPELINES;
SHOW FILES FOR PIPELINE events;

-- 5. The link of a running pipeline cannot change: ALTER LINK fails, naming the pipeline.
ALTER LINK s3_events SET CONFIG ::region = "eu-west-1";
-- fails: pipeline default.events is running and must be stopped or paused first (STOP PIPELINE …)

-- 6. Stop it, and ALTER LINK succeeds: a new region, a rotated secret. The cursor and the file states stay.
STOP PIPELINE events;
ALTER LINK s3_events SET CONFIG ::region = "eu-west-1";
ALTER LINK s3_events SET CREDENTIALS ::aws_secret_access_key = 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY';
-- wait until SHOW PIPELINES shows State = 'Stopped', Files_loaded = 3, Cursor = 'events/0003.csv'

-- 7. Two more files; START reads with the new CONFIG and CREDENTIALS. Only the new files load: 5 files, 10 rows.
-- $ printf 'id,name,amount\n7,washer,0.05\n8,rivet,0.02\n' | curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY -T - http://127.0.0.1:5000/quickstart-events/events/0004.csv
-- $ printf 'id,name,amount\n9,spring,1.10\n10,pin,0.01\n' | curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY -T - http://127.0.0.1:5000/quickstart-events/events/0005.csv
START PIPELINE events;
-- wait until SHOW PIPELINES shows Files_loaded = 5, Rows_loaded = 10, Cursor = 'events/0005.csv'
-- $ psql -h 127.0.0.1 -U postgres -d quickstart_pipelines -c "SELECT object_key, rows_loaded FROM lanyard_pipeline_ledger"

-- 8. A row that does not fit the table: 'n/a' is no number. The whole file is Failed, with its line and column, and
--    none of its rows is loaded; the pipeline goes on with the next files.
-- $ printf 'id,name,amount\n11,nut,0.03\n12,cog,n/a\n' | curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY -T - http://127.0.0.1:5000/quickstart-events/events/0006.csv
-- wait until SHOW PIPELINES shows Files_failed = 1
SHOW FILES FOR PIPELINE events;

-- 9. The target's password rotates while the pipeline runs: change it in the database, then in the vault entry.
--    The next batch logs in with the new one; no STOP, no ALTER PIPELINE. (A batch between the two steps fails
--    with PostgreSQL's `password authentication failed` in Last_error, and is retried.)
-- $ psql -h 127.0.0.1 -U postgres -c "ALTER ROLE quickstart_pipelines_loader PASSWORD 'second-Passw0rd'"
ALTER CREDENTIAL warehouse_login SET SECRET '{"username": "quickstart_pipelines_loader", "password": "second-Passw0rd"}';
-- $ printf 'id,name,amount\n13,axle,7.00\n' | curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY -T - http://127.0.0.1:5000/quickstart-events/events/0007.csv
-- wait until SHOW PIPELINES shows Files_loaded = 6, Rows_loaded = 11, Cursor = 'events/0007.csv'

-- 10. STOP and DROP. DROP PIPELINE forgets the file states; the table keeps its rows and the ledger its rows.
STOP PIPELINE events;
DROP PIPELINE events;
SHOW PIPELINES;
