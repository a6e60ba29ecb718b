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
    seq         BIGSERIAL PRIMARY KEY,
    audit_seq   BIGINT,
    object_kind TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    object_name TEXT NOT NULL,
    version     BIGINT,
    at          BIGINT NOT NULL,
    state       TEXT
);
CREATE UNIQUE INDEX object_history_version ON object_history (object_kind, object_id, version);
CREATE INDEX object_history_name ON object_history (object_kind, object_name, seq);
CREATE INDEX object_history_at ON object_history (at);

-- The state of the object NEW (an audit record) is about, as the change left it: NULL when it no longer exists.
CREATE FUNCTION object_history_state(kind TEXT, object TEXT) RETURNS JSONB LANGUAGE plpgsql STABLE AS $$
DECLARE
    state JSONB;
BEGIN
    CASE kind
    WHEN 'connection' THEN
        SELECT to_jsonb(r) || jsonb_build_object(
                   'credential_name', (SELECT e.display_name FROM vault_entries AS e WHERE e.id = r.credential_id),
                   'credential_storage_name',
                   (SELECT b.display_name FROM vault_backends AS b WHERE b.id = r.credential_storage_id))
        INTO state FROM external_connections AS r WHERE r.id = object;
    WHEN 'vault entry' THEN
        SELECT to_jsonb(r) || jsonb_build_object(
                   'storage_backend_name',
                   (SELECT b.display_name FROM vault_backends AS b WHERE b.id = r.storage_backend_id))
        INTO state FROM vault_entries AS r WHERE r.id = object;
    WHEN 'credential storage' THEN
        SELECT to_jsonb(r) INTO state FROM vault_backends AS r WHERE r.id = object;
    WHEN 'link' THEN
        SELECT to_jsonb(r) || jsonb_build_object(
                   'credential_name', (SELECT e.display_name FROM vault_entries AS e WHERE e.id = r.credential_id),
                   'credential_owned',
                   (SELECT e.owner_link_id IS NOT NULL FROM vault_entries AS e WHERE e.id = r.credential_id),
                   'credential_version', (SELECT e.current_version FROM vault_entries AS e WHERE e.id = r.credential_id))
        INTO state FROM links AS r WHERE r.id = object;
    ELSE
        state := NULL;
    END CASE;
    RETURN state;
END
$$;

CREATE FUNCTION object_history_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    state JSONB;
BEGIN
    state := object_history_state(NEW.object_kind, NEW.object_id);
    IF state IS NOT NULL THEN
        INSERT INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
        VALUES (NEW.seq, NEW.object_kind, NEW.object_id, COALESCE(NEW.object_name, ''), (state ->> 'version')::BIGINT,
                (state ->> 'updated_at')::BIGINT, state::TEXT)
        ON CONFLICT DO NOTHING;
    ELSIF NEW.action LIKE '%.drop' THEN
        INSERT INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
        VALUES (NEW.seq, NEW.object_kind, NEW.object_id, COALESCE(NEW.object_name, ''), NULL, NEW.at, NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_log_object_history AFTER INSERT ON audit_log FOR EACH ROW
    WHEN (NEW.outcome = 'allowed' AND NEW.object_id IS NOT NULL AND NEW.action IN ('connection.create', 'connection.alter', 'connection.drop', 'vault_entry.create', 'vault_entry.alter', 'vault_entry.drop', 'credential_storage.create', 'credential_storage.alter', 'credential_storage.drop', 'link.create', 'link.alter', 'link.drop'))
    EXECUTE FUNCTION object_history_record();

INSERT INTO object_history (audit_seq, object_kind, object_id, object_name, version, at, state)
SELECT NULL, o.kind, o.id, o.name, o.version, o.updated_at, object_history_state(o.kind, o.id)::TEXT
FROM (
    SELECT 'connection' AS kind, id, display_name AS name, version, updated_at FROM external_connections
    UNION ALL SELECT 'vault entry', id, display_name, version, updated_at FROM vault_entries WHERE owner_link_id IS NULL
    UNION ALL SELECT 'credential storage', id, display_name, version, updated_at FROM vault_backends
    UNION ALL SELECT 'link', id, database_name || '.' || name, version, updated_at FROM links
) AS o;
