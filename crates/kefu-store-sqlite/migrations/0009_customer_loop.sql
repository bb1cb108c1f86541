-- The customer loop (issue 7): the outbox of messages to customers, written
-- in the transaction of the change that causes them and delivered by the
-- outbox worker; the return-visit tasks, a projection of each ticket's
-- current visit for the queue and the coverage figures.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    ticket_id       BIGINT REFERENCES tickets (id),
    kind            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    claimed_by      TEXT,
    claimed_until   TEXT,
    last_error      TEXT,
    provider_id     TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    delivered_at    TEXT
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_ticket_idx ON outbox (ticket_id);
CREATE INDEX outbox_provider_idx ON outbox (provider_id) WHERE provider_id IS NOT NULL;

CREATE TABLE visits (
    ticket_id    BIGINT PRIMARY KEY REFERENCES tickets (id),
    team_id      BIGINT,
    method       TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    resolved_at  TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    satisfaction INTEGER,
    nps          INTEGER,
    visited_at   TEXT
);
CREATE INDEX visits_resolved_idx ON visits (resolved_at);
CREATE INDEX visits_state_idx ON visits (state, due_at);
