-- Issue 16: trained models shared by the nodes (R-52). The node holding
-- the training job's lease publishes a model here; the others load the
-- newest revision instead of training their own. One row per model name.
CREATE TABLE trained_models (
    name        TEXT NOT NULL,
    rev         BIGINT NOT NULL,
    doc         TEXT NOT NULL,
    store_count BIGINT NOT NULL,
    trained_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT trained_models_pkey PRIMARY KEY (name)
);
