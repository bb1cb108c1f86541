-- Phone, ID number and address are stored encrypted (kefu_store::crypto);
-- lookups and uniqueness go through keyed hashes of phone and ID number.
-- Rows written before this migration are encrypted in batches by the
-- re-encryption job, which also fills the indexes.
ALTER TABLE customers DROP CONSTRAINT customers_phone_key;
ALTER TABLE customers ADD COLUMN phone_idx TEXT;
ALTER TABLE customers ADD COLUMN id_idx TEXT;
CREATE UNIQUE INDEX customers_phone_idx_key ON customers (phone_idx);
CREATE INDEX customers_id_idx ON customers (id_idx) WHERE id_idx IS NOT NULL;
