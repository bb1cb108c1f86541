-- Consecutive wrong passwords and the lock they cause, kept in the
-- database so that every node counts the same attempts.
ALTER TABLE users ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TIMESTAMPTZ;
