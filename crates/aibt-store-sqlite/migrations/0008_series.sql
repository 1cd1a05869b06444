-- aibt schema, version 8: where a series came from. docs/schema.md lists these columns with
-- their reasons.

-- One row per series that was imported, resampled or downloaded: a sentence saying from which
-- file, which series and time zone, or which provider and with which price adjustment
-- (Yahoo's adjusted and raw prices differ, and the chart does not say which it shows).
CREATE TABLE market_series (
    symbol TEXT NOT NULL,
    market_type TEXT NOT NULL CHECK (market_type IN ('US', 'COIN')),
    granularity TEXT NOT NULL CHECK (granularity IN ('daily', 'hourly', 'minute')),
    description TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (symbol, market_type, granularity)
) STRICT, WITHOUT ROWID;
