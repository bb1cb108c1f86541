-- Organisation, dispatch, transfers to teams and departments, staff
-- notices (R-16…R-20).
CREATE TABLE departments (
    id         INTEGER PRIMARY KEY,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT departments_code_key UNIQUE (code)
);

CREATE TABLE teams (
    id            INTEGER PRIMARY KEY,
    department_id BIGINT NOT NULL REFERENCES departments (id),
    code          TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    CONSTRAINT teams_code_key UNIQUE (code)
);

-- A team's lead, apart from the team so that teams and users do not refer
-- to each other.
CREATE TABLE team_leads (
    team_id BIGINT PRIMARY KEY REFERENCES teams (id),
    user_id BIGINT NOT NULL REFERENCES users (id)
);

-- The working profile: team, tier (NULL: the role's), skills (JSON),
-- capacity (NULL: the policy's default), on duty.
ALTER TABLE users ADD COLUMN team_id BIGINT REFERENCES teams (id);
ALTER TABLE users ADD COLUMN tier INTEGER;
ALTER TABLE users ADD COLUMN skills TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN capacity INTEGER;
ALTER TABLE users ADD COLUMN on_duty INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN last_assigned_at TEXT;

-- Queue columns of the list API, each behind an index that answers its
-- queue at a million tickets: open (weighs on a handler), team, tier, who
-- may accept a pending transfer, earliest warning time.
ALTER TABLE tickets ADD COLUMN is_open INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tickets ADD COLUMN team_id BIGINT;
ALTER TABLE tickets ADD COLUMN tier INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tickets ADD COLUMN transfer_key TEXT;
ALTER TABLE tickets ADD COLUMN next_warn_at TEXT;
UPDATE tickets SET
    tier = COALESCE(json_extract(doc, '$.tier'), 1),
    transfer_key = CASE WHEN json_extract(doc, '$.transfer_to') IS NOT NULL
                        THEN 'u:' || json_extract(doc, '$.transfer_to') END,
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

-- Transfers go to a person, a team or a department; who decided is kept.
CREATE TABLE transfers_new (
    id                INTEGER PRIMARY KEY,
    ticket_id         INTEGER NOT NULL REFERENCES tickets (id),
    from_user         INTEGER REFERENCES users (id),
    to_user           INTEGER REFERENCES users (id),
    to_team           BIGINT REFERENCES teams (id),
    to_department     BIGINT REFERENCES departments (id),
    decided_by        BIGINT REFERENCES users (id),
    reason            TEXT NOT NULL,
    mode              TEXT NOT NULL,
    state             TEXT NOT NULL,
    result            TEXT,
    customer_feedback TEXT,
    created_at        TEXT NOT NULL,
    decided_at        TEXT
);
INSERT INTO transfers_new (id, ticket_id, from_user, to_user, decided_by, reason, mode, state, result,
                           customer_feedback, created_at, decided_at)
    SELECT id, ticket_id, from_user, to_user, CASE WHEN state <> 'pending' THEN to_user END, reason, mode, state,
           result, customer_feedback, created_at, decided_at FROM transfers;
DROP TABLE transfers;
ALTER TABLE transfers_new RENAME TO transfers;
CREATE INDEX transfers_ticket_idx ON transfers (ticket_id, id);
CREATE INDEX transfers_to_idx ON transfers (to_user, state);

-- Colleagues mentioned in a note (JSON list of user ids).
ALTER TABLE comments ADD COLUMN mentions TEXT NOT NULL DEFAULT '[]';

-- Staff notices (站内通知), written in the transaction of the change that
-- causes them.
CREATE TABLE notices (
    id         INTEGER PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    ticket_id  BIGINT REFERENCES tickets (id),
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    message_zh TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at    TEXT
);
CREATE INDEX notices_user_idx ON notices (user_id, id);
CREATE INDEX notices_ticket_idx ON notices (ticket_id);
