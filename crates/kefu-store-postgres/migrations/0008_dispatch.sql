-- Organisation, dispatch, transfers to teams and departments, staff
-- notices (R-16…R-20). Same tables and columns as the SQLite tree.
CREATE TABLE departments (
    id         BIGSERIAL PRIMARY KEY,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT departments_code_key UNIQUE (code)
);

CREATE TABLE teams (
    id            BIGSERIAL PRIMARY KEY,
    department_id BIGINT NOT NULL REFERENCES departments (id),
    code          TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT teams_code_key UNIQUE (code)
);

CREATE TABLE team_leads (
    team_id BIGINT PRIMARY KEY REFERENCES teams (id),
    user_id BIGINT NOT NULL REFERENCES users (id)
);

ALTER TABLE users ADD COLUMN team_id BIGINT REFERENCES teams (id);
ALTER TABLE users ADD COLUMN tier BIGINT;
ALTER TABLE users ADD COLUMN skills TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN capacity BIGINT;
ALTER TABLE users ADD COLUMN on_duty BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN last_assigned_at TIMESTAMPTZ;

ALTER TABLE tickets ADD COLUMN is_open BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tickets ADD COLUMN team_id BIGINT;
ALTER TABLE tickets ADD COLUMN tier BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tickets ADD COLUMN transfer_key TEXT;
ALTER TABLE tickets ADD COLUMN next_warn_at TIMESTAMPTZ;
UPDATE tickets SET
    tier = COALESCE((doc::jsonb ->> 'tier')::bigint, 1),
    transfer_key = CASE WHEN doc::jsonb ->> 'transfer_to' IS NOT NULL THEN 'u:' || (doc::jsonb ->> 'transfer_to') END,
    is_open = CASE WHEN status IN ('resolved', 'result_notified', 'confirmed', 'visited', 'reviewed', 'withdrawn',
                                   'rejected', 'processed', 'confirmation_sent', 'archived') THEN 0 ELSE 1 END;
CREATE INDEX tickets_open_assignee_idx ON tickets (assignee, created_at) WHERE is_open = 1;
CREATE INDEX tickets_unassigned_idx ON tickets (created_at) WHERE is_open = 1 AND assignee IS NULL;
CREATE INDEX tickets_team_idx ON tickets (team_id, created_at) WHERE team_id IS NOT NULL;
CREATE INDEX tickets_team_open_idx ON tickets (team_id, created_at) WHERE is_open = 1;
CREATE INDEX tickets_transfer_key_idx ON tickets (transfer_key) WHERE transfer_key IS NOT NULL;
-- Warning = some warn time passed and no due time: both answered from the index.
CREATE INDEX tickets_due_warn_idx ON tickets (next_due_at, next_warn_at) WHERE next_due_at IS NOT NULL;
-- (The index on next_due_at alone stays: it serves overdue, most urgent first,
-- in index order.)

ALTER TABLE transfers ALTER COLUMN to_user DROP NOT NULL;
ALTER TABLE transfers ADD COLUMN to_team BIGINT REFERENCES teams (id);
ALTER TABLE transfers ADD COLUMN to_department BIGINT REFERENCES departments (id);
ALTER TABLE transfers ADD COLUMN decided_by BIGINT REFERENCES users (id);
UPDATE transfers SET decided_by = to_user WHERE state <> 'pending';

ALTER TABLE comments ADD COLUMN mentions TEXT NOT NULL DEFAULT '[]';

CREATE TABLE notices (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    ticket_id  BIGINT REFERENCES tickets (id),
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    message_zh TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at    TIMESTAMPTZ
);
CREATE INDEX notices_user_idx ON notices (user_id, id);
CREATE INDEX notices_ticket_idx ON notices (ticket_id);
