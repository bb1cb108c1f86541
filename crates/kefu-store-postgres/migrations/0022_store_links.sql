-- Issue 18, stores. Tickets taken at or about a store (营业厅) name it, so that the
-- store's page lists them. Kept in the ticket document too; the column is
-- for the filter. The index is partial: a ticket without a store (most of
-- them) writes no entry, so intake pays nothing for it.
ALTER TABLE tickets ADD COLUMN store_code TEXT;
CREATE INDEX tickets_store_idx ON tickets (store_code, created_at) WHERE store_code IS NOT NULL;
-- A store's report that it rectified what a failing inspection found. The
-- task itself is derived from the store's inspections (its next inspection
-- is the re-check); only the report is a fact of its own, one per task.
CREATE TABLE store_rectifications (
    inspection_id BIGINT NOT NULL,
    store_code    TEXT NOT NULL,
    note          TEXT NOT NULL,
    reported_by   BIGINT NOT NULL,
    reported_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT store_rectifications_pkey PRIMARY KEY (inspection_id)
);
CREATE INDEX store_rectifications_store_idx ON store_rectifications (store_code);
