-- kefu schema, SQLite. Constraint names match the PostgreSQL tree so that
-- conflicts map to the same API errors. Times are TEXT in one fixed RFC 3339
-- form (microseconds, Z), so they sort and compare as strings.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    phone      TEXT NOT NULL,
    id_number  TEXT,
    address    TEXT,
    level      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT customers_phone_key UNIQUE (phone)
);

-- Last sequence drawn per Shanghai day: numbers are never reused.
CREATE TABLE ticket_numbers (
    day      TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);

-- The ticket document (JSON, without id and customer) plus the columns the
-- list filters use, each indexed.
CREATE TABLE tickets (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    type        TEXT NOT NULL,
    priority    TEXT NOT NULL,
    status      TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    first_owner INTEGER NOT NULL REFERENCES users (id),
    assignee    INTEGER REFERENCES users (id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    -- Earliest running deadline; filled by the SLA engine.
    next_due_at TEXT,
    doc         TEXT NOT NULL,
    CONSTRAINT tickets_number_key UNIQUE (number)
);
CREATE INDEX tickets_created_idx     ON tickets (created_at, id);
CREATE INDEX tickets_status_idx      ON tickets (status, created_at);
CREATE INDEX tickets_type_idx        ON tickets (type, created_at);
CREATE INDEX tickets_priority_idx    ON tickets (priority, created_at);
CREATE INDEX tickets_channel_idx     ON tickets (channel, created_at);
CREATE INDEX tickets_assignee_idx    ON tickets (assignee, created_at);
CREATE INDEX tickets_first_owner_idx ON tickets (first_owner, created_at);
CREATE INDEX tickets_customer_idx    ON tickets (customer_id, created_at);
CREATE INDEX tickets_next_due_idx    ON tickets (next_due_at) WHERE next_due_at IS NOT NULL;

-- Append-only audit trail, hash-chained per ticket (R-43).
CREATE TABLE ticket_events (
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    seq        INTEGER NOT NULL,
    at         TEXT NOT NULL,
    actor      INTEGER REFERENCES users (id),
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    data       TEXT NOT NULL,
    before     TEXT NOT NULL,
    after      TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    CONSTRAINT ticket_events_pkey PRIMARY KEY (ticket_id, seq)
) WITHOUT ROWID;

-- Transfer records (R-18).
CREATE TABLE transfers (
    id                INTEGER PRIMARY KEY,
    ticket_id         INTEGER NOT NULL REFERENCES tickets (id),
    from_user         INTEGER REFERENCES users (id),
    to_user           INTEGER NOT NULL REFERENCES users (id),
    reason            TEXT NOT NULL,
    mode              TEXT NOT NULL,
    state             TEXT NOT NULL,
    result            TEXT,
    customer_feedback TEXT,
    created_at        TEXT NOT NULL,
    decided_at        TEXT
);
CREATE INDEX transfers_ticket_idx ON transfers (ticket_id, id);
CREATE INDEX transfers_to_idx ON transfers (to_user, state);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    author     INTEGER NOT NULL REFERENCES users (id),
    body       TEXT NOT NULL,
    internal   INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX comments_ticket_idx ON comments (ticket_id, id);

-- Responses kept for Idempotency-Key replays, per user.
CREATE TABLE idempotency_keys (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    key        TEXT NOT NULL,
    status     INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
