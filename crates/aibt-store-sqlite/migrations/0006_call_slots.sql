-- aibt schema, version 6: an AI config's calls in flight, counted across every process on
-- the database. docs/schema.md lists this table with its reasons.

-- One row per call slot a process holds: a call claims a free slot (or one whose lease ran
-- out, its holder having died) before it goes out and deletes it when its answer is in, so
-- at most max_concurrency calls of a config are in flight whichever workers send them.
CREATE TABLE ai_call_slots (
    config_id TEXT NOT NULL,
    slot INTEGER NOT NULL CHECK (slot >= 0),
    holder TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (config_id, slot)
) WITHOUT ROWID;
