-- Pipelines that run. The table of 0001 was never served (no API reached it), so it is recreated with what a
-- running pipeline needs: its target (a table reached through a connection), its file format, and the runner's
-- state. Two tables beside it belong to the runner: the state of each file seen under the pipeline's path, and the
-- lease that makes exactly one node run a pipeline at a time. Both go with their pipeline.

DROP TABLE pipelines;

CREATE TABLE pipelines (
    id                   TEXT PRIMARY KEY NOT NULL,
    database_name        TEXT NOT NULL,
    name                 TEXT NOT NULL,
    link_id              TEXT NOT NULL REFERENCES links (id) ON DELETE RESTRICT,
    path                 TEXT NOT NULL,
    target_connection_id TEXT NOT NULL REFERENCES external_connections (id) ON DELETE RESTRICT,
    target_table         TEXT NOT NULL,
    format               TEXT NOT NULL,
    state                TEXT NOT NULL DEFAULT 'Stopped' CHECK (state IN ('Running', 'Stopped', 'Error')),
    cursor               TEXT,
    last_error           TEXT,
    last_error_at        BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    version              BIGINT NOT NULL DEFAULT 1,
    UNIQUE (database_name, name)
);
CREATE INDEX pipelines_link ON pipelines (link_id);
CREATE INDEX pipelines_target ON pipelines (target_connection_id);

-- One row per object seen under a pipeline's path (SingleStore's information_schema.PIPELINES_FILES).
CREATE TABLE pipeline_files (
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    object_key  TEXT NOT NULL,
    etag        TEXT,
    size        BIGINT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('Unloaded', 'Loaded', 'Failed')),
    row_count   BIGINT,
    error       TEXT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (pipeline_id, object_key)
);

-- Which node runs a pipeline, until when (microseconds since the Unix epoch). The holder renews it; any node takes
-- it once it has expired.
CREATE TABLE pipeline_leases (
    pipeline_id TEXT PRIMARY KEY NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
