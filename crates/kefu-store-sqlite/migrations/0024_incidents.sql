-- Issue 19, major incidents (重大故障, R-55). The incident is a document
-- with its state and start pulled out for the lists; its events form a
-- hash chain like a ticket's. A ticket's link is the ticket's own column
-- (partial index: unlinked tickets write no entry). One notice row per
-- (incident, notice, customer) is what keeps a customer from being told twice.
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    number      TEXT NOT NULL,
    state       TEXT NOT NULL,
    active      INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    doc         TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT incidents_number_key UNIQUE (number)
);
CREATE INDEX incidents_active_idx ON incidents (active, id);
CREATE TABLE incident_events (
    incident_id BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    at          TEXT NOT NULL,
    actor       BIGINT,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    data        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    CONSTRAINT incident_events_pkey PRIMARY KEY (incident_id, seq)
);
CREATE TABLE incident_notices (
    incident_id BIGINT NOT NULL,
    notice      TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    ticket_id   BIGINT NOT NULL,
    outbox_id   BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    CONSTRAINT incident_notices_pkey PRIMARY KEY (incident_id, notice, customer_id)
);
ALTER TABLE tickets ADD COLUMN incident_id BIGINT;
CREATE INDEX tickets_incident_idx ON tickets (incident_id, id) WHERE incident_id IS NOT NULL;
