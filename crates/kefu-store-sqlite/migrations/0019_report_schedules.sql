-- Issue 17: scheduled reports e-mailed to staff. Staff profiles get a
-- work e-mail address; a schedule names what to send, to whom, how often,
-- and when it runs next (moved on in the same transaction that puts its
-- e-mails in the outbox, so no report goes out twice).
ALTER TABLE users ADD COLUMN email TEXT;
CREATE TABLE report_schedules (
    id          INTEGER NOT NULL,
    owner       BIGINT NOT NULL,
    name        TEXT NOT NULL,
    frequency   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    recipients  TEXT NOT NULL,
    next_run_at TEXT NOT NULL,
    last_run_at TEXT,
    created_at  TEXT NOT NULL,
    CONSTRAINT report_schedules_pkey PRIMARY KEY (id)
);
CREATE INDEX report_schedules_due_idx ON report_schedules (next_run_at);
