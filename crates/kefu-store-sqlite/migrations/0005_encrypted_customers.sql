-- Phone, ID number and address are stored encrypted (kefu_store::crypto);
-- lookups and uniqueness go through keyed hashes of phone and ID number.
-- The table is rebuilt so that the old unique constraint on the (now
-- encrypted, random) phone column goes: it would only cost writes. Rows
-- written before this migration are encrypted in batches by the
-- re-encryption job, which also fills the indexes.
CREATE TABLE customers_new (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    phone      TEXT NOT NULL,
    phone_idx  TEXT,
    id_number  TEXT,
    id_idx     TEXT,
    address    TEXT,
    level      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO customers_new (id, name, phone, id_number, address, level, created_at, updated_at)
    SELECT id, name, phone, id_number, address, level, created_at, updated_at FROM customers;
DROP TABLE customers;
ALTER TABLE customers_new RENAME TO customers;
CREATE UNIQUE INDEX customers_phone_idx_key ON customers (phone_idx);
CREATE INDEX customers_id_idx ON customers (id_idx) WHERE id_idx IS NOT NULL;
