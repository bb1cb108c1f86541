-- kefu schema, PostgreSQL. Table, column and constraint names match the
-- SQLite tree, so conflicts map to the same API errors and export/import
-- moves rows column for column. JSON is kept as TEXT, exactly as written.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE customers (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    phone      TEXT NOT NULL,
    id_number  TEXT,
    address    TEXT,
    level      TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT customers_phone_key UNIQUE (phone)
);

CREATE TABLE ticket_numbers (
    day      TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

CREATE TABLE tickets (
    id          BIGSERIAL PRIMARY KEY,
    number      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    type        TEXT NOT NULL,
    priority    TEXT NOT NULL,
    status      TEXT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    first_owner BIGINT NOT NULL REFERENCES users (id),
    assignee    BIGINT REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    next_due_at TIMESTAMPTZ,
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

CREATE TABLE ticket_events (
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id),
    seq        BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    actor      BIGINT REFERENCES users (id),
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    data       TEXT NOT NULL,
    before     TEXT NOT NULL,
    after      TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    CONSTRAINT ticket_events_pkey PRIMARY KEY (ticket_id, seq)
);

CREATE TABLE transfers (
    id                BIGSERIAL PRIMARY KEY,
    ticket_id         BIGINT NOT NULL REFERENCES tickets (id),
    from_user         BIGINT REFERENCES users (id),
    to_user           BIGINT NOT NULL REFERENCES users (id),
    reason            TEXT NOT NULL,
    mode              TEXT NOT NULL,
    state             TEXT NOT NULL,
    result            TEXT,
    customer_feedback TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    decided_at        TIMESTAMPTZ
);
CREATE INDEX transfers_ticket_idx ON transfers (ticket_id, id);
CREATE INDEX transfers_to_idx ON transfers (to_user, state);

CREATE TABLE comments (
    id         BIGSERIAL PRIMARY KEY,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id),
    author     BIGINT NOT NULL REFERENCES users (id),
    body       TEXT NOT NULL,
    internal   BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX comments_ticket_idx ON comments (ticket_id, id);

CREATE TABLE idempotency_keys (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    key        TEXT NOT NULL,
    status     BIGINT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key)
);
