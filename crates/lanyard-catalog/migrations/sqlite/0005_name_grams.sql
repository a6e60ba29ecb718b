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
    gram TEXT NOT NULL,
    id   TEXT NOT NULL,
    PRIMARY KEY (tbl, gram, id)
) WITHOUT ROWID;

-- The character positions 1..512 (names hold at most 128 characters), for the triggers, which cannot use WITH.
CREATE TABLE name_gram_positions (n INTEGER PRIMARY KEY NOT NULL);
INSERT INTO name_gram_positions (n)
WITH RECURSIVE p(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM p WHERE n < 512) SELECT n FROM p;

CREATE TRIGGER external_connections_name_grams_insert AFTER INSERT ON external_connections BEGIN
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'external_connections', substr(lower(NEW.display_name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.display_name);
END;
CREATE TRIGGER external_connections_name_grams_update AFTER UPDATE OF display_name ON external_connections WHEN OLD.display_name IS NOT NEW.display_name BEGIN
    DELETE FROM name_grams WHERE tbl = 'external_connections' AND id = OLD.id;
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'external_connections', substr(lower(NEW.display_name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.display_name);
END;
CREATE TRIGGER external_connections_name_grams_delete AFTER DELETE ON external_connections BEGIN
    DELETE FROM name_grams WHERE tbl = 'external_connections' AND id = OLD.id;
END;
INSERT OR IGNORE INTO name_grams (tbl, gram, id)
SELECT 'external_connections', substr(lower(r.display_name) || char(1, 1), n, 3), r.id FROM external_connections AS r JOIN name_gram_positions ON n <= length(r.display_name);

CREATE TRIGGER vault_entries_name_grams_insert AFTER INSERT ON vault_entries BEGIN
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'vault_entries', substr(lower(NEW.display_name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.display_name);
END;
CREATE TRIGGER vault_entries_name_grams_update AFTER UPDATE OF display_name ON vault_entries WHEN OLD.display_name IS NOT NEW.display_name BEGIN
    DELETE FROM name_grams WHERE tbl = 'vault_entries' AND id = OLD.id;
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'vault_entries', substr(lower(NEW.display_name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.display_name);
END;
CREATE TRIGGER vault_entries_name_grams_delete AFTER DELETE ON vault_entries BEGIN
    DELETE FROM name_grams WHERE tbl = 'vault_entries' AND id = OLD.id;
END;
INSERT OR IGNORE INTO name_grams (tbl, gram, id)
SELECT 'vault_entries', substr(lower(r.display_name) || char(1, 1), n, 3), r.id FROM vault_entries AS r JOIN name_gram_positions ON n <= length(r.display_name);

CREATE TRIGGER vault_backends_name_grams_insert AFTER INSERT ON vault_backends BEGIN
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'vault_backends', substr(lower(NEW.display_name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.display_name);
END;
CREATE TRIGGER vault_backends_name_grams_update AFTER UPDATE OF display_name ON vault_backends WHEN OLD.display_name IS NOT NEW.display_name BEGIN
    DELETE FROM name_grams WHERE tbl = 'vault_backends' AND id = OLD.id;
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'vault_backends', substr(lower(NEW.display_name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.display_name);
END;
CREATE TRIGGER vault_backends_name_grams_delete AFTER DELETE ON vault_backends BEGIN
    DELETE FROM name_grams WHERE tbl = 'vault_backends' AND id = OLD.id;
END;
INSERT OR IGNORE INTO name_grams (tbl, gram, id)
SELECT 'vault_backends', substr(lower(r.display_name) || char(1, 1), n, 3), r.id FROM vault_backends AS r JOIN name_gram_positions ON n <= length(r.display_name);

CREATE TRIGGER databases_name_grams_insert AFTER INSERT ON databases BEGIN
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'databases', substr(lower(NEW.name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.name);
END;
CREATE TRIGGER databases_name_grams_update AFTER UPDATE OF name ON databases WHEN OLD.name IS NOT NEW.name BEGIN
    DELETE FROM name_grams WHERE tbl = 'databases' AND id = OLD.id;
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'databases', substr(lower(NEW.name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.name);
END;
CREATE TRIGGER databases_name_grams_delete AFTER DELETE ON databases BEGIN
    DELETE FROM name_grams WHERE tbl = 'databases' AND id = OLD.id;
END;
INSERT OR IGNORE INTO name_grams (tbl, gram, id)
SELECT 'databases', substr(lower(r.name) || char(1, 1), n, 3), r.id FROM databases AS r JOIN name_gram_positions ON n <= length(r.name);

CREATE TRIGGER links_name_grams_insert AFTER INSERT ON links BEGIN
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'links', substr(lower(NEW.name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.name);
END;
CREATE TRIGGER links_name_grams_update AFTER UPDATE OF name ON links WHEN OLD.name IS NOT NEW.name BEGIN
    DELETE FROM name_grams WHERE tbl = 'links' AND id = OLD.id;
    INSERT OR IGNORE INTO name_grams (tbl, gram, id) SELECT 'links', substr(lower(NEW.name) || char(1, 1), n, 3), NEW.id FROM name_gram_positions WHERE n <= length(NEW.name);
END;
CREATE TRIGGER links_name_grams_delete AFTER DELETE ON links BEGIN
    DELETE FROM name_grams WHERE tbl = 'links' AND id = OLD.id;
END;
INSERT OR IGNORE INTO name_grams (tbl, gram, id)
SELECT 'links', substr(lower(r.name) || char(1, 1), n, 3), r.id FROM links AS r JOIN name_gram_positions ON n <= length(r.name);
