-- Issue 16: the tickets' change feed for the search index of each node.
-- Every write already sets updated_at; this index lets a node read what
-- changed since its mark without scanning, at one index entry per write.
CREATE INDEX tickets_updated_idx ON tickets (updated_at, id);
-- Changes of a ticket counted, so the feed can tell a ticket it indexed
-- from the same ticket changed again within one clock tick.
ALTER TABLE tickets ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
