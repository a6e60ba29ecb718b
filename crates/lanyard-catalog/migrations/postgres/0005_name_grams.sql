-- SHOW … LIKE without reading every row: a case-insensitive substring search over names, answered from an index of
-- the names' three-character pieces ("grams") rather than by LOWER(name) LIKE '%…%' on every row of the table.
--
-- name_grams holds, for each named row of the tables below, every three-character window of LOWER(name) followed by
-- two U+0001 characters (which no name may contain): so a one- or two-character pattern is the prefix of a gram, and
-- a longer one is made of grams. A search takes the rows that hold every gram of the pattern (at most the rows
-- that match, plus the rare row holding them all apart) and keeps those where LOWER(name) LIKE '%pattern%' as
-- before: the index narrows, it never decides. Triggers keep it in step with every write, in the writing
-- transaction, whoever writes (the server, `lanyard sql --embedded`, an older node); an UPDATE that keeps the name
-- costs a comparison, nothing more. Rows existing before this migration are indexed by it.

CREATE TABLE name_grams (
    tbl  TEXT NOT NULL,
    gram TEXT COLLATE "C" NOT NULL,
    id   TEXT NOT NULL,
    PRIMARY KEY (tbl, gram, id)
);

-- Replaces the grams of one row; TG_ARGV[0] is the name column. NEW.id and OLD.id exist on every indexed table.
CREATE FUNCTION name_grams_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_name TEXT;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM name_grams WHERE tbl = TG_TABLE_NAME AND id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_name := to_jsonb(NEW) ->> TG_ARGV[0];
        INSERT INTO name_grams (tbl, gram, id)
        SELECT TG_TABLE_NAME, substr(lower(new_name) || chr(1) || chr(1), n, 3), NEW.id
        FROM generate_series(1, char_length(new_name)) AS n
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER external_connections_name_grams AFTER INSERT OR DELETE ON external_connections
    FOR EACH ROW EXECUTE FUNCTION name_grams_sync('display_name');
CREATE TRIGGER external_connections_name_grams_update AFTER UPDATE OF display_name ON external_connections
    FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name) EXECUTE FUNCTION name_grams_sync('display_name');
INSERT INTO name_grams (tbl, gram, id)
SELECT 'external_connections', substr(lower(r.display_name) || chr(1) || chr(1), n, 3), r.id
FROM external_connections AS r CROSS JOIN LATERAL generate_series(1, char_length(r.display_name)) AS n
ON CONFLICT DO NOTHING;

CREATE TRIGGER vault_entries_name_grams AFTER INSERT OR DELETE ON vault_entries
    FOR EACH ROW EXECUTE FUNCTION name_grams_sync('display_name');
CREATE TRIGGER vault_entries_name_grams_update AFTER UPDATE OF display_name ON vault_entries
    FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name) EXECUTE FUNCTION name_grams_sync('display_name');
INSERT INTO name_grams (tbl, gram, id)
SELECT 'vault_entries', substr(lower(r.display_name) || chr(1) || chr(1), n, 3), r.id
FROM vault_entries AS r CROSS JOIN LATERAL generate_series(1, char_length(r.display_name)) AS n
ON CONFLICT DO NOTHING;

CREATE TRIGGER vault_backends_name_grams AFTER INSERT OR DELETE ON vault_backends
    FOR EACH ROW EXECUTE FUNCTION name_grams_sync('display_name');
CREATE TRIGGER vault_backends_name_grams_update AFTER UPDATE OF display_name ON vault_backends
    FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name) EXECUTE FUNCTION name_grams_sync('display_name');
INSERT INTO name_grams (tbl, gram, id)
SELECT 'vault_backends', substr(lower(r.display_name) || chr(1) || chr(1), n, 3), r.id
FROM vault_backends AS r CROSS JOIN LATERAL generate_series(1, char_length(r.display_name)) AS n
ON CONFLICT DO NOTHING;

CREATE TRIGGER databases_name_grams AFTER INSERT OR DELETE ON databases
    FOR EACH ROW EXECUTE FUNCTION name_grams_sync('name');
CREATE TRIGGER databases_name_grams_update AFTER UPDATE OF name ON databases
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION name_grams_sync('name');
INSERT INTO name_grams (tbl, gram, id)
SELECT 'databases', substr(lower(r.name) || chr(1) || chr(1), n, 3), r.id
FROM databases AS r CROSS JOIN LATERAL generate_series(1, char_length(r.name)) AS n
ON CONFLICT DO NOTHING;

CREATE TRIGGER links_name_grams AFTER INSERT OR DELETE ON links
    FOR EACH ROW EXECUTE FUNCTION name_grams_sync('name');
CREATE TRIGGER links_name_grams_update AFTER UPDATE OF name ON links
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION name_grams_sync('name');
INSERT INTO name_grams (tbl, gram, id)
SELECT 'links', substr(lower(r.name) || chr(1) || chr(1), n, 3), r.id
FROM links AS r CROSS JOIN LATERAL generate_series(1, char_length(r.name)) AS n
ON CONFLICT DO NOTHING;

-- Lists walk names in code-point order (COLLATE "C"), the order of SQLite and of Rust strings, whatever the
-- database's collation; these indexes let a page start at its continuation key and stop after its last row.
CREATE INDEX external_connections_name_c ON external_connections (display_name COLLATE "C");
CREATE INDEX vault_entries_name_c ON vault_entries (display_name COLLATE "C");
CREATE INDEX vault_backends_name_c ON vault_backends (display_name COLLATE "C");
CREATE INDEX databases_name_c ON databases (name COLLATE "C");
CREATE INDEX links_name_c ON links (database_name COLLATE "C", name COLLATE "C");
CREATE INDEX pipelines_name_c ON pipelines (database_name COLLATE "C", name COLLATE "C");
