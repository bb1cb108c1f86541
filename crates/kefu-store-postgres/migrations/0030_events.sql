-- Issue 22: events for the systems around kefu (webhooks, the TMF621 hub,
-- the NATS stream).
-- The transactional outbox: one row per audit event, written in the
-- ticket's own transaction, so an event is neither lost nor sent before its
-- change commits. The fan-out turns rows into deliveries (`fanned`), the
-- NATS publisher publishes them (`published`); rows done with are pruned.
-- Only ids and the action: the event's content is read from the audit trail.
CREATE TABLE event_outbox (
    id        BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    action    TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    fanned    BOOLEAN NOT NULL DEFAULT FALSE,
    published BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX event_outbox_fan ON event_outbox (id) WHERE NOT fanned;
CREATE INDEX event_outbox_publish ON event_outbox (id) WHERE NOT published;

-- Endpoints: kefu's own webhooks (kind `webhook`, by administrators) and
-- TMF621 hub subscriptions (kind `tmf`, with the hub's query). The signing
-- secret is sealed. `failures` counts failed attempts in a row.
CREATE TABLE webhooks (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    query           TEXT NOT NULL,
    secret          TEXT NOT NULL,
    description     TEXT NOT NULL,
    owner           BIGINT NOT NULL REFERENCES users (id),
    enabled         BOOLEAN NOT NULL,
    failures        INTEGER NOT NULL,
    disabled_reason TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- The delivery log: one row per event and endpoint, with its payload
-- (sealed: a TMF ticket may name the customer), its state (`pending`,
-- `delivered`, `failed` = given up) and the last attempt's outcome.
CREATE TABLE webhook_deliveries (
    id           BIGSERIAL PRIMARY KEY,
    webhook_id   BIGINT NOT NULL REFERENCES webhooks (id),
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    ticket_id    BIGINT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_at      TIMESTAMPTZ NOT NULL,
    last_status  INTEGER,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ
);
-- Each endpoint's line, oldest first (delivery in order, the log's pages).
CREATE INDEX webhook_deliveries_line ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, id) WHERE state = 'pending';
-- A purged ticket's deliveries go with it.
CREATE INDEX webhook_deliveries_ticket ON webhook_deliveries (ticket_id);
