-- aibt schema, version 5: reasoning models, and what each decision cost. docs/schema.md lists
-- these columns with their reasons.

-- A reasoning model's thinking before its answer (its own field or its <think> blocks),
-- kept beside the decision but never read for it, and the thinking's share of the
-- completion tokens when the server reports it.
ALTER TABLE local_decisions ADD COLUMN thinking TEXT DEFAULT NULL;
ALTER TABLE local_decisions ADD COLUMN reasoning_tokens INTEGER DEFAULT NULL CHECK (reasoning_tokens IS NULL OR reasoning_tokens >= 0);

-- What the decision's calls cost by the AI config's prices (0 from the cache; NULL without
-- prices, or when the server reported no tokens to count by).
ALTER TABLE local_decisions ADD COLUMN cost ANY DEFAULT NULL CHECK (cost IS NULL OR typeof(cost) = 'text');

-- How long a reasoning model thinks, passed through as `reasoning_effort`; and a default
-- token limit a thinking model can answer within (400 cut most of them off mid-thought).
-- SQLite cannot change a column's default in place, so the table is rebuilt with the same
-- columns in the same order (it has no indexes, and foreign keys are not enforced).
CREATE TABLE ai_configs_v5 (
    config_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    local_ai_base_url TEXT NOT NULL,
    local_ai_api_key TEXT NOT NULL,
    local_ai_model_name TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    temperature ANY NOT NULL DEFAULT '0.000000' CHECK (typeof(temperature) = 'text'),
    max_tokens INTEGER NOT NULL DEFAULT 2048 CHECK (max_tokens > 0),
    timeout_seconds INTEGER NOT NULL DEFAULT 60 CHECK (timeout_seconds > 0),
    response_format TEXT NOT NULL DEFAULT 'json_schema' CHECK (response_format IN ('json_schema', 'json_object', 'none')),
    max_concurrency INTEGER NOT NULL DEFAULT 4 CHECK (max_concurrency > 0),
    max_retries INTEGER NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
    knowledge_cutoff TEXT DEFAULT NULL,
    price_input_per_million ANY DEFAULT NULL CHECK (price_input_per_million IS NULL OR typeof(price_input_per_million) = 'text'),
    price_output_per_million ANY DEFAULT NULL CHECK (price_output_per_million IS NULL OR typeof(price_output_per_million) = 'text'),
    reasoning_effort TEXT DEFAULT NULL CHECK (reasoning_effort IS NULL OR reasoning_effort IN ('none', 'minimal', 'low', 'medium', 'high', 'xhigh'))
) STRICT;
INSERT INTO ai_configs_v5 (
    config_id, name, local_ai_base_url, local_ai_api_key, local_ai_model_name, created_at,
    updated_at, temperature, max_tokens, timeout_seconds, response_format, max_concurrency,
    max_retries, knowledge_cutoff, price_input_per_million, price_output_per_million
)
SELECT
    config_id, name, local_ai_base_url, local_ai_api_key, local_ai_model_name, created_at,
    updated_at, temperature, max_tokens, timeout_seconds, response_format, max_concurrency,
    max_retries, knowledge_cutoff, price_input_per_million, price_output_per_million
FROM ai_configs;
DROP TABLE ai_configs;
ALTER TABLE ai_configs_v5 RENAME TO ai_configs;

-- Dated context for a symbol (a trend label, a sentiment score, a note): one item a symbol and
-- day, its columns as JSON, and when a decision may first see it (the end of its day, or its
-- publication time), indexed so a task loads what its period can see in one range scan.
CREATE TABLE context_items (
    item_id TEXT PRIMARY KEY NOT NULL,
    stock_symbol TEXT NOT NULL,
    item_date TEXT NOT NULL,
    published_at TEXT DEFAULT NULL,
    visible_at TEXT NOT NULL,
    data TEXT NOT NULL CHECK (json_valid(data)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (stock_symbol, item_date)
) STRICT;
CREATE INDEX idx_context_items_symbol_visible ON context_items (stock_symbol, visible_at);
