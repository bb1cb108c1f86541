-- Every breached deadline (R-13), recorded with the alert that raised it,
-- for the on-time rates and breach counts of the KPIs (R-30).
CREATE TABLE sla_breaches (
    id          INTEGER PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id),
    kind        TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    breached_at TEXT NOT NULL
);
CREATE INDEX sla_breaches_ticket_idx ON sla_breaches (ticket_id);
CREATE INDEX sla_breaches_at_idx ON sla_breaches (breached_at);
