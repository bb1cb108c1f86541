-- The customer loop (issue 7; same tables and columns as the SQLite tree): the outbox of messages to customers, written
-- in the transaction of the change that causes them and delivered by the
-- outbox worker; the return-visit tasks, a projection of each ticket's
-- current visit for the queue and the coverage figures.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    ticket_id       BIGINT REFERENCES tickets (id),
    kind            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    claimed_by      TEXT,
    claimed_until   TIMESTAMPTZ,
    last_error      TEXT,
    provider_id     TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_ticket_idx ON outbox (ticket_id);
CREATE INDEX outbox_provider_idx ON outbox (provider_id) WHERE provider_id IS NOT NULL;

CREATE TABLE visits (
    ticket_id    BIGINT PRIMARY KEY REFERENCES tickets (id),
    team_id      BIGINT,
    method       TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    resolved_at  TIMESTAMPTZ NOT NULL,
    due_at       TIMESTAMPTZ NOT NULL,
    satisfaction BIGINT,
    nps          BIGINT,
    visited_at   TIMESTAMPTZ
);
CREATE INDEX visits_resolved_idx ON visits (resolved_at);
CREATE INDEX visits_state_idx ON visits (state, due_at);
