-- Issue 16: the knowledge base (R-50). The current version of each article
-- (its content as JSON, category and status beside it for lists), every
-- version in kb_versions, and a revision number per write — deletions kept
-- as tombstones — that the search indexes follow as a change feed.
CREATE TABLE kb_articles (
    code       TEXT NOT NULL,
    doc        TEXT NOT NULL,
    category   TEXT NOT NULL,
    status     TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    rev        BIGINT NOT NULL,
    deleted    INTEGER NOT NULL,
    CONSTRAINT kb_articles_pkey PRIMARY KEY (code),
    CONSTRAINT kb_articles_rev_key UNIQUE (rev)
);
CREATE INDEX kb_articles_category_idx ON kb_articles (category, code);

CREATE TABLE kb_versions (
    code       TEXT NOT NULL REFERENCES kb_articles (code),
    version    BIGINT NOT NULL,
    doc        TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    at         TEXT NOT NULL,
    CONSTRAINT kb_versions_pkey PRIMARY KEY (code, version)
);

-- The administrators' search lexicon (words kept whole, synonym groups),
-- beside the shipped one: one row; its revision tells each node to reload.
CREATE TABLE search_lexicon (
    id         BIGINT NOT NULL,
    doc        TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    rev        BIGINT NOT NULL,
    CONSTRAINT search_lexicon_pkey PRIMARY KEY (id),
    CONSTRAINT search_lexicon_one_row CHECK (id = 1)
);

-- "Was this helpful?" votes on articles, from staff and customers, with
-- the reason when not; the editors read them to mend the articles.
CREATE TABLE kb_feedback (
    id       INTEGER PRIMARY KEY,
    code     TEXT NOT NULL REFERENCES kb_articles (code),
    helpful  INTEGER NOT NULL,
    reason   TEXT,
    source   TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX kb_feedback_code_idx ON kb_feedback (code, id);
