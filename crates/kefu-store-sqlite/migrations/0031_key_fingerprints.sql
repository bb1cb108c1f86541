-- One-way fingerprints of the field keys a database was written with
-- (kefu_store::crypto::fingerprints), never the keys: a node whose key
-- file does not match refuses to start instead of failing every customer
-- read. `name` is `index` or a key id.
CREATE TABLE key_fingerprints (
    name        TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
