-- aibt schema, version 2 (PostgreSQL): what an LLM decision needs to be auditable and
-- repeatable. docs/schema.md lists these columns with their reasons.

ALTER TABLE local_decisions
    ADD COLUMN prompt TEXT DEFAULT NULL,
    ADD COLUMN prompt_hash VARCHAR DEFAULT NULL,
    ADD COLUMN raw_answer TEXT DEFAULT NULL,
    ADD COLUMN parsed_decision JSONB DEFAULT NULL,
    ADD COLUMN error TEXT DEFAULT NULL,
    ADD COLUMN prompt_tokens INTEGER DEFAULT NULL,
    ADD COLUMN completion_tokens INTEGER DEFAULT NULL,
    ADD COLUMN from_cache BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN llm_calls INTEGER NOT NULL DEFAULT 0;

ALTER TABLE ai_configs
    ADD COLUMN temperature NUMERIC(10,6) NOT NULL DEFAULT 0,
    ADD COLUMN max_tokens INTEGER NOT NULL DEFAULT 400 CHECK (max_tokens > 0),
    ADD COLUMN timeout_seconds INTEGER NOT NULL DEFAULT 60 CHECK (timeout_seconds > 0),
    ADD COLUMN response_format VARCHAR NOT NULL DEFAULT 'json_schema'
        CHECK (response_format IN ('json_schema', 'json_object', 'none')),
    ADD COLUMN max_concurrency INTEGER NOT NULL DEFAULT 4 CHECK (max_concurrency > 0),
    ADD COLUMN max_retries INTEGER NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
    ADD COLUMN knowledge_cutoff DATE DEFAULT NULL;

CREATE TABLE llm_cache (
    cache_key VARCHAR PRIMARY KEY,
    base_url VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    response JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
