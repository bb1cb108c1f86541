-- Issue 17: the KPI rollups (R-30), filled by the rollup job from the
-- ticket change feed (intake writes nothing here).
-- Each ticket's facts as its cells count them (JSON: facts and dims).
CREATE TABLE kpi_facts (
    ticket_id   BIGINT NOT NULL,
    rev         BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    ticket_type TEXT NOT NULL,
    repeated    BOOLEAN NOT NULL,
    -- Whom the facts count for (0: nobody) and the first and last day
    -- they count on: a report of one person crossed with categories,
    -- which no cell grain holds, reads that person's facts.
    first_owner BIGINT NOT NULL,
    resolver    BIGINT NOT NULL,
    day_from    TEXT NOT NULL,
    day_to      TEXT NOT NULL,
    doc         TEXT NOT NULL,
    CONSTRAINT kpi_facts_pkey PRIMARY KEY (ticket_id)
);
-- Repeat contacts: a customer's tickets of one type.
CREATE INDEX kpi_facts_customer_idx ON kpi_facts (customer_id, ticket_type);
CREATE INDEX kpi_facts_owner_idx ON kpi_facts (first_owner, day_to);
CREATE INDEX kpi_facts_resolver_idx ON kpi_facts (resolver, day_to);
CREATE INDEX kpi_facts_days_idx ON kpi_facts (day_to);
-- Summed facts per grain (kpi::Grain: cuboid and day/month), measure, day,
-- basis, scope and dimensions (0 or '' where the grain leaves one out).
-- A report names its grain, its few measures and a range of days: the
-- key's order makes each a seek and a short range.
CREATE TABLE kpi_cells (
    grain       SMALLINT NOT NULL,
    basis       TEXT NOT NULL,
    day         TEXT NOT NULL,
    scope       TEXT NOT NULL,
    team        BIGINT NOT NULL,
    agent       BIGINT NOT NULL,
    channel     TEXT NOT NULL,
    ticket_type TEXT NOT NULL,
    priority    TEXT NOT NULL,
    measure     TEXT NOT NULL,
    n           BIGINT NOT NULL,
    sum         DOUBLE PRECISION NOT NULL,
    sum_working DOUBLE PRECISION NOT NULL,
    CONSTRAINT kpi_cells_pkey PRIMARY KEY (grain, measure, day, basis, scope, team, agent, channel, ticket_type, priority)
) WITHOUT ROWID;
-- The rollup job's place in the feed (one row).
CREATE TABLE kpi_mark (
    id      INTEGER NOT NULL,
    settled TEXT,
    version BIGINT NOT NULL,
    CONSTRAINT kpi_mark_pkey PRIMARY KEY (id)
);
INSERT INTO kpi_mark (id, settled, version) VALUES (1, NULL, 0);
