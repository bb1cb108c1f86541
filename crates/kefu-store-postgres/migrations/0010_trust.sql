-- Issue 13 (trust). The addresses each account has logged in from, as a
-- keyed hash: while an account is under attack (too many wrong passwords
-- from anywhere), only these may still try, so an attacker cannot lock the
-- real user out.
CREATE TABLE login_addresses (
    user_id  BIGINT NOT NULL REFERENCES users (id),
    addr_idx TEXT NOT NULL,
    last_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT login_addresses_pkey PRIMARY KEY (user_id, addr_idx)
);

-- An Idempotency-Key is scoped by method and route (kept in `key`), and the
-- request it answered is remembered by a fingerprint of its body, so that
-- the same key with another body is refused instead of replayed.
ALTER TABLE idempotency_keys ADD COLUMN fingerprint TEXT;

-- Need to know: the tickets a transfer involved a person in (from, to,
-- decided by) are among those they may see.
CREATE INDEX transfers_from_idx ON transfers (from_user);
CREATE INDEX transfers_decided_idx ON transfers (decided_by);
