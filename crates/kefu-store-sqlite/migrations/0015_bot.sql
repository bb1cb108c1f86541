-- Issue 16: the smart first line (R-51). A conversation is one row: the
-- session as JSON, encrypted like customers' fields (customers type their
-- numbers and addresses into a chat); `turns` counts its messages, so a
-- save names the count it read and two answers to one session cannot
-- overwrite each other.
CREATE TABLE bot_sessions (
    id         TEXT NOT NULL,
    doc        TEXT NOT NULL,
    turns      BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT bot_sessions_pkey PRIMARY KEY (id)
);
-- The retention job deletes old conversations.
CREATE INDEX bot_sessions_updated_idx ON bot_sessions (updated_at);

-- The editors' queue: questions the knowledge base did not answer (the
-- bot found nothing, was unsure) and "not helpful" votes, with their
-- keywords (a JSON list) to cluster by; the text is encrypted.
CREATE TABLE kb_misses (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL,
    code        TEXT,
    keywords    TEXT NOT NULL,
    session_id  TEXT,
    at          TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT,
    resolution  TEXT
);
-- The queue reads open misses newest first.
CREATE INDEX kb_misses_open_idx ON kb_misses (resolved_at, id);
