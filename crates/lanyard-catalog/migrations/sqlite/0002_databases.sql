-- Databases: the namespaces of links and pipelines. `default` always exists; CREATE LINK into another database
-- creates it (in the link's transaction), and it stays when its last link is dropped, so a session that USEs it keeps
-- working. Ids are UUID text, timestamps microseconds since the Unix epoch.

CREATE TABLE databases (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);

-- The seeded `default` database (fixed id).
INSERT INTO databases (id, name, created_at, updated_at, version)
VALUES ('00000000-0000-0000-0000-000000000002', 'default', 0, 0, 1);
