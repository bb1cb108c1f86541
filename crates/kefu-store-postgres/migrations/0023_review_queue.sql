-- Issue 18: the reviewer queue reads only the reviews made since its
-- cycle began, not every review ever made.
CREATE INDEX quality_evaluations_created_idx ON quality_evaluations (kind, created_at);
