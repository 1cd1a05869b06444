-- aibt schema, version 5 (PostgreSQL): reasoning models, and what each decision cost.
-- docs/schema.md lists these columns with their reasons.

-- A reasoning model's thinking before its answer (its own field or its <think> blocks),
-- kept beside the decision but never read for it, and the thinking's share of the
-- completion tokens when the server reports it.
ALTER TABLE local_decisions
    ADD COLUMN thinking TEXT DEFAULT NULL,
    ADD COLUMN reasoning_tokens INTEGER DEFAULT NULL CHECK (reasoning_tokens IS NULL OR reasoning_tokens >= 0),
    -- What the decision's calls cost by the AI config's prices (0 from the cache; NULL
    -- without prices, or when the server reported no tokens to count by).
    ADD COLUMN cost NUMERIC(38,8) DEFAULT NULL;

-- How long a reasoning model thinks, passed through as `reasoning_effort`.
ALTER TABLE ai_configs
    ADD COLUMN reasoning_effort VARCHAR DEFAULT NULL CHECK (reasoning_effort IS NULL OR reasoning_effort IN ('none', 'minimal', 'low', 'medium', 'high', 'xhigh'));

-- A default token limit a thinking model can answer within (400 cut most of them off
-- mid-thought).
ALTER TABLE ai_configs ALTER COLUMN max_tokens SET DEFAULT 2048;

-- Dated context for a symbol (a trend label, a sentiment score, a note): one item a symbol and
-- day, its columns as JSON, and when a decision may first see it (the end of its day, or its
-- publication time), indexed so a task loads what its period can see in one range scan.
CREATE TABLE context_items (
    item_id VARCHAR PRIMARY KEY,
    stock_symbol VARCHAR NOT NULL,
    item_date DATE NOT NULL,
    published_at TIMESTAMPTZ DEFAULT NULL,
    visible_at TIMESTAMPTZ NOT NULL,
    data JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (stock_symbol, item_date)
);
CREATE INDEX idx_context_items_symbol_visible ON context_items (stock_symbol, visible_at);
