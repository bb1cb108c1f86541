-- Issue 20: the customer's services (业务清单) and their history, the
-- account facts closing needs, and the queue of orders for the BSS.
-- service_number is sealed like the customer's other personal fields.
CREATE TABLE services (
    id              INTEGER PRIMARY KEY,
    customer_id     BIGINT NOT NULL REFERENCES customers (id),
    product_code    TEXT NOT NULL,
    service_number  TEXT NOT NULL,
    number_idx      TEXT NOT NULL,
    state           TEXT NOT NULL,
    monthly_fee_fen BIGINT NOT NULL,
    started_at      TEXT NOT NULL,
    ended_at        TEXT,
    contract_end    TEXT,
    devices_out     INTEGER NOT NULL DEFAULT 0,
    pending         TEXT,
    updated_at      TEXT NOT NULL
);
-- One row per customer, number and product: the import updates it.
CREATE UNIQUE INDEX services_identity_key ON services (customer_id, number_idx, product_code);

CREATE TABLE service_history (
    id           INTEGER PRIMARY KEY,
    service_id   BIGINT NOT NULL,
    customer_id  BIGINT NOT NULL,
    ticket_id    BIGINT,
    order_id     TEXT,
    change       TEXT NOT NULL,
    state        TEXT NOT NULL,
    product_code TEXT NOT NULL,
    at           TEXT NOT NULL
);
CREATE INDEX service_history_customer_idx ON service_history (customer_id, id);

CREATE TABLE customer_accounts (
    customer_id BIGINT PRIMARY KEY,
    balance_fen BIGINT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE bss_jobs (
    order_id      TEXT PRIMARY KEY,
    ticket_id     BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       TEXT NOT NULL,
    claimed_by    TEXT,
    claimed_until TEXT,
    last_error    TEXT
);
CREATE INDEX bss_jobs_due_idx ON bss_jobs (next_at);
