-- aibt schema, version 7 (PostgreSQL): tool-using models. docs/schema.md lists these columns
-- with their reasons.

-- In tool mode, every tool call of a decision and its result, in order.
ALTER TABLE local_decisions
    ADD COLUMN tool_transcript JSONB DEFAULT NULL;

-- How an AI config's model gives its decisions (one JSON answer, or tool calls ending in
-- submit_decision), and why its server refused tools once it has: its tasks then take the
-- JSON path without asking again.
ALTER TABLE ai_configs
    ADD COLUMN decision_mode VARCHAR NOT NULL DEFAULT 'json' CHECK (decision_mode IN ('json', 'tools')),
    ADD COLUMN tools_refused TEXT DEFAULT NULL;
