-- Issue 18: a staff member's changes of team, tier and skills (R-58),
-- written in the transaction that changes the profile; appended, never changed.
CREATE TABLE staff_history (
    id      BIGSERIAL NOT NULL,
    user_id BIGINT NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    by_user BIGINT,
    before  TEXT NOT NULL,
    after   TEXT NOT NULL,
    CONSTRAINT staff_history_pkey PRIMARY KEY (id)
);
CREATE INDEX staff_history_user_idx ON staff_history (user_id, id);
