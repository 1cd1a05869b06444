-- aibt schema, version 4: experiments, and what a model's tokens cost. docs/schema.md lists
-- these tables and columns with their reasons.

-- Money per million prompt and completion tokens, so that an experiment can report what its
-- model runs cost (NULL: the price is unknown, as for a local model).
ALTER TABLE ai_configs ADD COLUMN price_input_per_million ANY DEFAULT NULL CHECK (price_input_per_million IS NULL OR typeof(price_input_per_million) = 'text');
ALTER TABLE ai_configs ADD COLUMN price_output_per_million ANY DEFAULT NULL CHECK (price_output_per_million IS NULL OR typeof(price_output_per_million) = 'text');

-- An experiment: a grid of ordinary tasks judged together on one leaderboard. The spec is
-- kept as the user gave it, so that every process reads the same experiment.
CREATE TABLE experiments (
    experiment_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL CHECK (json_valid(spec)),
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'PAUSED', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELLED')),
    error_message TEXT DEFAULT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- One task of an experiment and its place in the grid. Clustered on the experiment, so that
-- its runs are one range of the key.
CREATE TABLE experiment_runs (
    experiment_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('STRATEGY', 'BASELINE')),
    stock_symbol TEXT NOT NULL,
    market_type TEXT NOT NULL CHECK (market_type IN ('US', 'COIN')),
    time_granularity TEXT NOT NULL CHECK (time_granularity IN ('daily', 'hourly', 'minute')),
    period TEXT NOT NULL,
    repeat_index INTEGER NOT NULL DEFAULT 0 CHECK (repeat_index >= 0),
    blind INTEGER NOT NULL DEFAULT 0 CHECK (blind IN (0, 1)),
    PRIMARY KEY (experiment_id, task_id)
) STRICT, WITHOUT ROWID;

-- The experiment list, newest first; the experiment of a task.
CREATE INDEX ix_experiments_created_at_experiment_id ON experiments (created_at, experiment_id);
CREATE INDEX ix_experiment_runs_task_id ON experiment_runs (task_id);
