-- Object history: every version of every connection, vault entry, credential storage and link, as it was written.
--
-- object_history holds one row per version: the row as its change wrote it (`state`, a JSON object of its columns,
-- plus the names of the rows it referred to at that moment), when (`at`: the row's updated_at; for a drop, the time
-- of its record), the audit record of the change (`audit_seq`: who, the statement's actions), and, for a DROP, a
-- row without state or version. It is written by one trigger on
-- audit_log: every change to these objects appends its audit record in its own transaction, after (or, on
-- PostgreSQL, in the same statement as) its write, so the trigger reads the row as the change left it, whoever
-- wrote it and by whichever path (a single-statement ALTER, `lanyard sql --embedded`, an older node). A read or a
-- TEST is never recorded (only the change actions are), and a version is recorded once (the unique index). The
-- state holds no secret material: connections refuse secret-looking options, a storage's secret options live in
-- the local vault, and a vault entry's row holds only its material's version number.
--
-- Rows existing before this migration get one baseline version each (no audit record). Retention is the server's
-- (`lanyard serve` prunes by age and by count per object); nothing else deletes from this table.

CREATE TABLE object_history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    audit_seq   INTEGER,
    object_kind TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    object_name TEXT NOT NULL,
    version     INTEGER,
    at          INTEGER NOT NULL,
    state       TEXT
);
CREATE UNIQUE INDEX object_history_version ON object_history (object_kind, object_id, version);
CREATE INDEX object_history_name ON object_history (object_kind, object_name, seq);
CREATE INDEX object_history_at ON object_history (at);

CREATE TRIGGER audit_log_object_history AFTER INSERT ON audit_log
    WHEN NEW.outcome = 'allowed' AND NEW.object_id IS NOT NULL AND NEW.action IN ('connection.create', 'connection.alter', 'connection.drop', 'vault_entry.create', 'vault_entry.alter', 'vault_entry.drop', 'credential_storage.create', 'credential_storage.alter', 'credential_storage.drop', 'link.create', 'link.alter', 'link.drop')
BEGIN
    INSERT OR IGNORE INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
    SELECT NEW.seq, NEW.object_kind, NEW.object_id, COALESCE(NEW.object_name, ''), r.version, r.updated_at, json_object('id', r.id, 'display_name', r.display_name, 'entity_ref', r.entity_ref, 'connection_type', r.connection_type, 'description', r.description, 'options', r.options, 'credential_id', r.credential_id, 'credential_storage_id', r.credential_storage_id, 'max_connections', r.max_connections, 'timeout_seconds', r.timeout_seconds, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version, 'credential_name', (SELECT e.display_name FROM vault_entries AS e WHERE e.id = r.credential_id), 'credential_storage_name', (SELECT b.display_name FROM vault_backends AS b WHERE b.id = r.credential_storage_id))
    FROM external_connections AS r WHERE NEW.object_kind = 'connection' AND r.id = NEW.object_id;
    INSERT OR IGNORE INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
    SELECT NEW.seq, NEW.object_kind, NEW.object_id, COALESCE(NEW.object_name, ''), r.version, r.updated_at, json_object('id', r.id, 'display_name', r.display_name, 'entry_type', r.entry_type, 'algorithm', r.algorithm, 'key_size', r.key_size, 'current_version', r.current_version, 'storage_backend_id', r.storage_backend_id, 'external_secret_name', r.external_secret_name, 'owner_link_id', r.owner_link_id, 'description', r.description, 'expires_at', r.expires_at, 'rotated_at', r.rotated_at, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version, 'storage_backend_name', (SELECT b.display_name FROM vault_backends AS b WHERE b.id = r.storage_backend_id))
    FROM vault_entries AS r WHERE NEW.object_kind = 'vault entry' AND r.id = NEW.object_id;
    INSERT OR IGNORE INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
    SELECT NEW.seq, NEW.object_kind, NEW.object_id, COALESCE(NEW.object_name, ''), r.version, r.updated_at, json_object('id', r.id, 'display_name', r.display_name, 'backend_type', r.backend_type, 'description', r.description, 'config', r.config, 'active', r.active, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version)
    FROM vault_backends AS r WHERE NEW.object_kind = 'credential storage' AND r.id = NEW.object_id;
    INSERT OR IGNORE INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
    SELECT NEW.seq, NEW.object_kind, NEW.object_id, COALESCE(NEW.object_name, ''), r.version, r.updated_at, json_object('id', r.id, 'database_name', r.database_name, 'name', r.name, 'link_type', r.link_type, 'description', r.description, 'config', r.config, 'credential_id', r.credential_id, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version, 'credential_name', (SELECT e.display_name FROM vault_entries AS e WHERE e.id = r.credential_id), 'credential_owned', (SELECT json(CASE WHEN e.owner_link_id IS NOT NULL THEN 'true' ELSE 'false' END) FROM vault_entries AS e WHERE e.id = r.credential_id), 'credential_version', (SELECT e.current_version FROM vault_entries AS e WHERE e.id = r.credential_id))
    FROM links AS r WHERE NEW.object_kind = 'link' AND r.id = NEW.object_id;
    INSERT INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
    SELECT NEW.seq, NEW.object_kind, NEW.object_id, COALESCE(NEW.object_name, ''), NULL, NEW.at, NULL
    WHERE NEW.action LIKE '%.drop';
END;

INSERT INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
SELECT NULL, 'connection', r.id, r.display_name, r.version, r.updated_at, json_object('id', r.id, 'display_name', r.display_name, 'entity_ref', r.entity_ref, 'connection_type', r.connection_type, 'description', r.description, 'options', r.options, 'credential_id', r.credential_id, 'credential_storage_id', r.credential_storage_id, 'max_connections', r.max_connections, 'timeout_seconds', r.timeout_seconds, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version, 'credential_name', (SELECT e.display_name FROM vault_entries AS e WHERE e.id = r.credential_id), 'credential_storage_name', (SELECT b.display_name FROM vault_backends AS b WHERE b.id = r.credential_storage_id)) FROM external_connections AS r WHERE 1 = 1;
INSERT INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
SELECT NULL, 'vault entry', r.id, r.display_name, r.version, r.updated_at, json_object('id', r.id, 'display_name', r.display_name, 'entry_type', r.entry_type, 'algorithm', r.algorithm, 'key_size', r.key_size, 'current_version', r.current_version, 'storage_backend_id', r.storage_backend_id, 'external_secret_name', r.external_secret_name, 'owner_link_id', r.owner_link_id, 'description', r.description, 'expires_at', r.expires_at, 'rotated_at', r.rotated_at, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version, 'storage_backend_name', (SELECT b.display_name FROM vault_backends AS b WHERE b.id = r.storage_backend_id)) FROM vault_entries AS r WHERE 1 = 1 AND r.owner_link_id IS NULL;
INSERT INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
SELECT NULL, 'credential storage', r.id, r.display_name, r.version, r.updated_at, json_object('id', r.id, 'display_name', r.display_name, 'backend_type', r.backend_type, 'description', r.description, 'config', r.config, 'active', r.active, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version) FROM vault_backends AS r WHERE 1 = 1;
INSERT INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
SELECT NULL, 'link', r.id, r.database_name || '.' || r.name, r.version, r.updated_at, json_object('id', r.id, 'database_name', r.database_name, 'name', r.name, 'link_type', r.link_type, 'description', r.description, 'config', r.config, 'credential_id', r.credential_id, 'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version, 'credential_name', (SELECT e.display_name FROM vault_entries AS e WHERE e.id = r.credential_id), 'credential_owned', (SELECT json(CASE WHEN e.owner_link_id IS NOT NULL THEN 'true' ELSE 'false' END) FROM vault_entries AS e WHERE e.id = r.credential_id), 'credential_version', (SELECT e.current_version FROM vault_entries AS e WHERE e.id = r.credential_id)) FROM links AS r WHERE 1 = 1;
