-- Object history: every version of every connection, vault entry, credential storage and link, as it was written,
-- kept in the audit record of the change that made it.
--
-- `state` holds, for an allowed create or alter of one of these objects, the row as the change wrote it (a JSON object
-- of its columns; a link's also its credentials' material version and whether they are its own), and `{}` for its drop;
-- NULL for every other record. The catalog writes it in the statement (PostgreSQL) or batch (SQLite) that appends the
-- record, so a change with its record always has its version, for a column of a row written anyway (`cargo xtask bench
-- http`, http_put_rps_history). It holds no secret material: connections refuse secret-looking options, a storage's
-- secret options live in the local vault, and a vault entry's row holds only its material's version number.
--
-- Two partial indexes, paid only by the records that hold a state: an object's versions in order, and dropped
-- objects by their last name. Retention is the server's (`lanyard serve` prunes by age and by count per object by
-- setting `state` to NULL: the audit record stays). Objects that existed before this migration have no version until
-- their next change.

ALTER TABLE audit_log ADD COLUMN state TEXT;
CREATE INDEX audit_log_history ON audit_log (object_id, seq) WHERE state IS NOT NULL;
CREATE INDEX audit_log_dropped ON audit_log (object_kind, object_name) WHERE state = '{}';
