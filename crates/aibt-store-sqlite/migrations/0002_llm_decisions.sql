-- aibt schema, version 2: what an LLM decision needs to be auditable and repeatable.
-- docs/schema.md lists these columns with their reasons.

-- Each decision keeps the prompt the model received, its hash (the cache key's message
-- part), the model's raw answer, the decision parsed from it (or the error that made it a
-- failed decision), the tokens it cost, whether it came from the cache, and how many calls
-- it took (retries included).
ALTER TABLE local_decisions ADD COLUMN prompt TEXT DEFAULT NULL;
ALTER TABLE local_decisions ADD COLUMN prompt_hash TEXT DEFAULT NULL;
ALTER TABLE local_decisions ADD COLUMN raw_answer TEXT DEFAULT NULL;
ALTER TABLE local_decisions ADD COLUMN parsed_decision TEXT DEFAULT NULL CHECK (parsed_decision IS NULL OR json_valid(parsed_decision));
ALTER TABLE local_decisions ADD COLUMN error TEXT DEFAULT NULL;
ALTER TABLE local_decisions ADD COLUMN prompt_tokens INTEGER DEFAULT NULL;
ALTER TABLE local_decisions ADD COLUMN completion_tokens INTEGER DEFAULT NULL;
ALTER TABLE local_decisions ADD COLUMN from_cache INTEGER NOT NULL DEFAULT 0 CHECK (from_cache IN (0, 1));
ALTER TABLE local_decisions ADD COLUMN llm_calls INTEGER NOT NULL DEFAULT 0;

-- How to call a model: sampling, limits, the structured-output mode the server supports,
-- and the model's training cutoff (a task ending before it may be recalled, not predicted).
ALTER TABLE ai_configs ADD COLUMN temperature ANY NOT NULL DEFAULT '0.000000' CHECK (typeof(temperature) = 'text');
ALTER TABLE ai_configs ADD COLUMN max_tokens INTEGER NOT NULL DEFAULT 400 CHECK (max_tokens > 0);
ALTER TABLE ai_configs ADD COLUMN timeout_seconds INTEGER NOT NULL DEFAULT 60 CHECK (timeout_seconds > 0);
ALTER TABLE ai_configs ADD COLUMN response_format TEXT NOT NULL DEFAULT 'json_schema' CHECK (response_format IN ('json_schema', 'json_object', 'none'));
ALTER TABLE ai_configs ADD COLUMN max_concurrency INTEGER NOT NULL DEFAULT 4 CHECK (max_concurrency > 0);
ALTER TABLE ai_configs ADD COLUMN max_retries INTEGER NOT NULL DEFAULT 3 CHECK (max_retries >= 0);
ALTER TABLE ai_configs ADD COLUMN knowledge_cutoff TEXT DEFAULT NULL;

-- Answers of models, under a hash of everything that determines them (base URL, model,
-- messages, answer schema, sampling parameters): the same request is never paid for twice.
CREATE TABLE llm_cache (
    cache_key TEXT PRIMARY KEY NOT NULL,
    base_url TEXT NOT NULL,
    model TEXT NOT NULL,
    response TEXT NOT NULL CHECK (json_valid(response)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
