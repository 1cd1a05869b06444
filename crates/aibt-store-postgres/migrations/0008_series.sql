-- aibt schema, version 8 (PostgreSQL): where a series came from. docs/schema.md lists these
-- columns with their reasons.

-- One row per series that was imported, resampled or downloaded: a sentence saying from which
-- file, which series and time zone, or which provider and with which price adjustment.
CREATE TABLE market_series (
    symbol VARCHAR NOT NULL,
    market_type VARCHAR NOT NULL CHECK (market_type IN ('US', 'COIN')),
    granularity VARCHAR NOT NULL CHECK (granularity IN ('daily', 'hourly', 'minute')),
    description TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (symbol, market_type, granularity)
);
