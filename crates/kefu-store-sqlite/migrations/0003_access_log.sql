-- Access log (R-41): every reveal of a full personal field and every
-- export, with who, when, what and why. Append-only: kefu never updates or
-- deletes a row.
CREATE TABLE access_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      BIGINT REFERENCES users (id),
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    field      TEXT,
    reason     TEXT NOT NULL
);
CREATE INDEX access_log_at_idx ON access_log (at, id);
