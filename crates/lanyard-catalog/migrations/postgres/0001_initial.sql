-- Lanyard catalog, initial schema (PostgreSQL). Ids are UUID text, timestamps are microseconds since the Unix epoch,
-- JSON is text. Every row has a version that increases on every change.

CREATE TABLE vault_backends (
    id           TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL UNIQUE,
    backend_type TEXT NOT NULL,
    description  TEXT,
    config       TEXT NOT NULL DEFAULT '{}',
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE links (
    id            TEXT PRIMARY KEY NOT NULL,
    database_name TEXT NOT NULL,
    name          TEXT NOT NULL,
    link_type     TEXT NOT NULL,
    description   TEXT,
    config        TEXT NOT NULL DEFAULT '{}',
    credential_id TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1,
    UNIQUE (database_name, name)
);

CREATE TABLE vault_entries (
    id                   TEXT PRIMARY KEY NOT NULL,
    display_name         TEXT NOT NULL UNIQUE,
    entry_type           TEXT NOT NULL CHECK (entry_type IN ('ENCRYPTION_KEY', 'CREDENTIAL')),
    algorithm            TEXT,
    key_size             BIGINT,
    current_version      BIGINT NOT NULL DEFAULT 1,
    storage_backend_id   TEXT NOT NULL REFERENCES vault_backends (id) ON DELETE RESTRICT,
    external_secret_name TEXT,
    owner_link_id        TEXT REFERENCES links (id) ON DELETE CASCADE,
    description          TEXT,
    expires_at           BIGINT,
    rotated_at           BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    version              BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX vault_entries_backend ON vault_entries (storage_backend_id);

CREATE TABLE external_connections (
    id                    TEXT PRIMARY KEY NOT NULL,
    display_name          TEXT NOT NULL UNIQUE,
    entity_ref            TEXT NOT NULL UNIQUE,
    connection_type       TEXT NOT NULL,
    description           TEXT,
    options               TEXT NOT NULL DEFAULT '{}',
    credential_id         TEXT REFERENCES vault_entries (id) ON DELETE RESTRICT,
    credential_storage_id TEXT REFERENCES vault_backends (id) ON DELETE RESTRICT,
    max_connections       BIGINT,
    timeout_seconds       BIGINT,
    last_tested_at        BIGINT,
    last_test_status      TEXT,
    last_test_latency_ms  BIGINT,
    last_test_error       TEXT,
    server_version        TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    version               BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX external_connections_credential ON external_connections (credential_id);
CREATE INDEX external_connections_storage ON external_connections (credential_storage_id);

CREATE TABLE pipelines (
    id            TEXT PRIMARY KEY NOT NULL,
    database_name TEXT NOT NULL,
    name          TEXT NOT NULL,
    link_id       TEXT NOT NULL REFERENCES links (id) ON DELETE RESTRICT,
    path          TEXT NOT NULL,
    target_table  TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'Stopped' CHECK (state IN ('Running', 'Paused', 'Stopped')),
    cursor        TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1,
    UNIQUE (database_name, name)
);
CREATE INDEX pipelines_link ON pipelines (link_id);

CREATE TABLE principals (
    id           TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL UNIQUE,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE RESTRICT,
    token_hash   TEXT NOT NULL UNIQUE,
    last_used_at BIGINT,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX api_tokens_principal ON api_tokens (principal_id);

CREATE TABLE audit_log (
    seq         BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    principal   TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id   TEXT,
    object_name TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_object ON audit_log (object_kind, object_id);

-- The seeded local backend (fixed id, name `local`).
INSERT INTO vault_backends (id, display_name, backend_type, description, config, active, created_at, updated_at, version)
VALUES ('00000000-0000-0000-0000-000000000001', 'local', 'local', 'the built-in encrypted local vault', '{}', TRUE, 0, 0, 1);
