-- Issue 21: what customers send in.
-- A note that is a message from the customer (an SMS, an e-mail, a WeChat
-- message) names the channel it came by; staff notes have none.
ALTER TABLE comments ADD COLUMN channel TEXT;
-- An e-mail to the customer answers their last message (In-Reply-To).
ALTER TABLE outbox ADD COLUMN in_reply_to TEXT;

-- How far each source (a mailbox) has been read: the UID validity and the
-- last UID taken. Each message's write carries its own key, so a cursor
-- behind the writes only means re-reading, never a second ticket.
CREATE TABLE inbound_cursors (
    source     TEXT PRIMARY KEY,
    validity   BIGINT NOT NULL,
    last_uid   BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- The e-mail addresses customers wrote from, by blind index, so the next
-- mail from one finds its customer. The address is sealed.
CREATE TABLE customer_emails (
    address_idx TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    address     TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX customer_emails_customer ON customer_emails (customer_id);
