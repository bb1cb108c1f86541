-- Issue 18: quality and assessment. Scorecards are versioned (a version is
-- never changed, only added, and every evaluation names the one it used);
-- stores (营业厅); evaluations — QA reviews of tickets, store inspections
-- and calibration reviews, one table for the one scorecard engine; a
-- period's grading of the stores as decided; innovation entries;
-- violations with their steps (appeal, decision, rectification, re-check);
-- staff training records (R-58).
CREATE TABLE quality_scorecards (
    key         TEXT NOT NULL,
    version     BIGINT NOT NULL,
    usage       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_by  BIGINT,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT quality_scorecards_pkey PRIMARY KEY (key, version)
);
CREATE TABLE outlets (
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    region      TEXT NOT NULL,
    manager     TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT outlets_pkey PRIMARY KEY (code)
);
CREATE TABLE quality_evaluations (
    id          BIGSERIAL NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    ticket_id   BIGINT,
    agent       BIGINT,
    scorecard   TEXT NOT NULL,
    version     BIGINT NOT NULL,
    period      TEXT NOT NULL,
    day_from    DATE NOT NULL,
    day_to      DATE NOT NULL,
    score       DOUBLE PRECISION NOT NULL,
    body        TEXT NOT NULL,
    reviewer    BIGINT NOT NULL,
    -- A retried request (Idempotency-Key, a console form's token) meets
    -- the evaluation it made: (caller, scope, key) and the body's fingerprint.
    request_key TEXT,
    request_fp  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT quality_evaluations_pkey PRIMARY KEY (id),
    CONSTRAINT quality_evaluations_request_key UNIQUE (request_key)
);
-- A period's evaluations of a kind (grading, the assessment, the queue).
CREATE INDEX quality_evaluations_period_idx ON quality_evaluations (kind, day_from);
CREATE INDEX quality_evaluations_subject_idx ON quality_evaluations (subject);
CREATE INDEX quality_evaluations_agent_idx ON quality_evaluations (agent, day_from);
CREATE TABLE quality_gradings (
    period      TEXT NOT NULL,
    body        TEXT NOT NULL,
    graded_by   BIGINT NOT NULL,
    graded_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT quality_gradings_pkey PRIMARY KEY (period)
);
CREATE TABLE quality_innovations (
    id          BIGSERIAL NOT NULL,
    agent       BIGINT NOT NULL,
    day         DATE NOT NULL,
    title       TEXT NOT NULL,
    points      DOUBLE PRECISION NOT NULL,
    recorded_by BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT quality_innovations_pkey PRIMARY KEY (id)
);
CREATE INDEX quality_innovations_day_idx ON quality_innovations (day, agent);
CREATE TABLE quality_violations (
    id            BIGSERIAL NOT NULL,
    agent         BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    points        DOUBLE PRECISION NOT NULL,
    ticket_id     BIGINT,
    evaluation_id BIGINT,
    description   TEXT NOT NULL,
    state         TEXT NOT NULL,
    appeal_until  TIMESTAMPTZ NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    appealed_at   TIMESTAMPTZ,
    recorded_by   BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    version       BIGINT NOT NULL,
    CONSTRAINT quality_violations_pkey PRIMARY KEY (id)
);
CREATE INDEX quality_violations_agent_idx ON quality_violations (agent, created_at);
CREATE INDEX quality_violations_state_idx ON quality_violations (state, due_at);
-- Every step, appended and never changed: the violation's audit trail.
CREATE TABLE quality_violation_events (
    id           BIGSERIAL NOT NULL,
    violation_id BIGINT NOT NULL,
    action       TEXT NOT NULL,
    actor        BIGINT NOT NULL,
    note         TEXT NOT NULL,
    state        TEXT NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    CONSTRAINT quality_violation_events_pkey PRIMARY KEY (id)
);
CREATE INDEX quality_violation_events_violation_idx ON quality_violation_events (violation_id, id);
CREATE TABLE staff_training (
    id          BIGSERIAL NOT NULL,
    user_id     BIGINT NOT NULL,
    course      TEXT NOT NULL,
    day         DATE NOT NULL,
    hours       DOUBLE PRECISION NOT NULL,
    result      TEXT NOT NULL,
    certificate TEXT,
    recorded_by BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT staff_training_pkey PRIMARY KEY (id)
);
CREATE INDEX staff_training_user_idx ON staff_training (user_id, day);
