-- aibt schema, version 4 (PostgreSQL): experiments, and what a model's tokens cost.
-- docs/schema.md lists these tables and columns with their reasons.

ALTER TABLE ai_configs
    ADD COLUMN price_input_per_million NUMERIC(38,8) DEFAULT NULL,
    ADD COLUMN price_output_per_million NUMERIC(38,8) DEFAULT NULL;

CREATE TABLE experiments (
    experiment_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    spec JSONB NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'PAUSED', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELLED')),
    error_message TEXT DEFAULT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE experiment_runs (
    experiment_id VARCHAR NOT NULL,
    task_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    role VARCHAR NOT NULL CHECK (role IN ('STRATEGY', 'BASELINE')),
    stock_symbol VARCHAR NOT NULL,
    market_type VARCHAR NOT NULL CHECK (market_type IN ('US', 'COIN')),
    time_granularity VARCHAR NOT NULL CHECK (time_granularity IN ('daily', 'hourly', 'minute')),
    period VARCHAR NOT NULL,
    repeat_index INTEGER NOT NULL DEFAULT 0 CHECK (repeat_index >= 0),
    blind BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (experiment_id, task_id)
);

-- The experiment list, newest first; the experiment of a task.
CREATE INDEX ix_experiments_created_at_experiment_id ON experiments (created_at, experiment_id);
CREATE INDEX ix_experiment_runs_task_id ON experiment_runs (task_id);
