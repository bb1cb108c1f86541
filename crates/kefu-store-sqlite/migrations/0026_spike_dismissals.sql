-- Issue 19: a spike proposal a supervisor dismissed (not an incident): the
-- bucket stays quiet in the proposals until the alarm's window has passed.
CREATE TABLE spike_dismissals (
    bucket       TEXT NOT NULL,
    until_at     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    dismissed_by BIGINT NOT NULL,
    dismissed_at TEXT NOT NULL
);
CREATE INDEX spike_dismissals_until_idx ON spike_dismissals (until_at);
