-- Issue 17: report exports, made by a background job on whichever node
-- claims them and kept in the database in parts (every node can serve
-- the download; a file of any size never sits in memory whole).
CREATE TABLE report_exports (
    id            INTEGER NOT NULL,
    owner         BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    format        TEXT NOT NULL,
    request       TEXT NOT NULL,
    state         TEXT NOT NULL,
    done_rows     BIGINT NOT NULL,
    total_rows    BIGINT,
    parts         INTEGER NOT NULL,
    bytes         BIGINT NOT NULL,
    error         TEXT,
    claimed_by    TEXT,
    claimed_until TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT,
    CONSTRAINT report_exports_pkey PRIMARY KEY (id)
);
-- The job's queue: the oldest waiting or abandoned export first.
CREATE INDEX report_exports_state_idx ON report_exports (state, id);
CREATE INDEX report_exports_owner_idx ON report_exports (owner, id);
CREATE TABLE report_export_parts (
    export_id BIGINT NOT NULL,
    seq       INTEGER NOT NULL,
    data      BLOB NOT NULL,
    CONSTRAINT report_export_parts_pkey PRIMARY KEY (export_id, seq)
);
