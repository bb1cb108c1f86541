-- Issue 19, information-security incidents (信息安全事件, R-44): a register
-- of its own (restricted access), kept like the major incidents — a
-- document with its state pulled out, and a hash chain of events.
CREATE TABLE security_incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    number      TEXT NOT NULL,
    state       TEXT NOT NULL,
    active      INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    doc         TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT security_incidents_number_key UNIQUE (number)
);
CREATE TABLE security_events (
    incident_id BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    at          TEXT NOT NULL,
    actor       BIGINT,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    data        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    CONSTRAINT security_events_pkey PRIMARY KEY (incident_id, seq)
);
