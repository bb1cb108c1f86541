-- Leases of background jobs: one node at a time runs a job; a lease that
-- is not renewed (its node died) expires and another node takes it over.
CREATE TABLE job_leases (
    job        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
