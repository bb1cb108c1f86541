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
    updated_at TEXT NOT NULL
);

-- Where customers wrote from — an e-mail address, a WeChat openid — by
-- blind index of kind and value, so the next message from there finds its
-- customer, and a reply finds where to go. The value is sealed.
CREATE TABLE customer_contacts (
    contact_idx TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX customer_contacts_customer ON customer_contacts (customer_id, kind, updated_at);
