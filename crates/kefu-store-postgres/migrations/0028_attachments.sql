-- Issue 21: the index of evidence files on tickets (R-3). The bytes are in
-- the data directory, encrypted, named by `blob` (a keyed hash of the
-- content, so the same file stored twice is kept once). The file name is
-- sealed like other free text.
CREATE TABLE attachments (
    id           TEXT PRIMARY KEY,
    ticket_id    BIGINT NOT NULL REFERENCES tickets (id),
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    blob         TEXT NOT NULL,
    source       TEXT NOT NULL,
    added_by     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
-- A ticket's files (the ticket page, export, purge).
CREATE INDEX attachments_ticket ON attachments (ticket_id, created_at);
-- Whether stored bytes are still named (the orphan sweep).
CREATE INDEX attachments_blob ON attachments (blob);
