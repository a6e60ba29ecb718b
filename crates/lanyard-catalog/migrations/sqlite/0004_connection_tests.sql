-- The last TEST CONNECTION of each connection moves beside its row: a probe is bookkeeping, not a change anyone
-- made, so it must not bump the connection's version (a client holding the connection's ETag would go stale after
-- a probe, and an ALTER racing a TEST would fail with 412). One row per tested connection, written without a
-- version, gone with its connection. The columns keep their names; what 0001 stored on the row is moved here.

CREATE TABLE connection_tests (
    connection_id        TEXT PRIMARY KEY NOT NULL REFERENCES external_connections (id) ON DELETE CASCADE,
    last_tested_at       INTEGER NOT NULL,
    last_test_status     TEXT NOT NULL,
    last_test_latency_ms INTEGER,
    last_test_error      TEXT,
    server_version       TEXT
);

INSERT INTO connection_tests (connection_id, last_tested_at, last_test_status, last_test_latency_ms, last_test_error,
                              server_version)
SELECT id, last_tested_at, last_test_status, last_test_latency_ms, last_test_error, server_version
FROM external_connections WHERE last_tested_at IS NOT NULL AND last_test_status IS NOT NULL;

ALTER TABLE external_connections DROP COLUMN last_tested_at;
ALTER TABLE external_connections DROP COLUMN last_test_status;
ALTER TABLE external_connections DROP COLUMN last_test_latency_ms;
ALTER TABLE external_connections DROP COLUMN last_test_error;
ALTER TABLE external_connections DROP COLUMN server_version;
