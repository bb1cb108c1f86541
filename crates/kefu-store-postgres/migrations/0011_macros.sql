-- Issue 15: canned replies and macros. Shared ones belong to everyone,
-- the rest to their owner; a name is unique per owner. The body is free
-- text, sealed like every other (personal data inline as ciphertext).
CREATE TABLE macros (
    id         BIGSERIAL PRIMARY KEY,
    owner_id   BIGINT NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    shared     BOOLEAN NOT NULL,
    body       TEXT,
    internal   BOOLEAN NOT NULL,
    priority   TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT macros_owner_name_key UNIQUE (owner_id, name)
);
CREATE INDEX macros_shared_idx ON macros (shared);
