-- aibt schema, version 11: the compact tables without per-row CHECK constraints (issue 15).
--
-- bar_rows and snapshot_steps checked every stored decimal's type (integer or text) and the
-- position side on every insert. Only two writers fill them: the INSTEAD OF triggers of the
-- market_bars and account_snapshots views, which check the seed's constraints on what they
-- are given and store only integers or text, and aibt's own writer, which encodes the same
-- way (codec::mantissa_value); readers refuse any other form as corrupt. Measured on 308,890
-- rows, the checks were more than half of the time of inserting them (docs/schema.md), so
-- the tables are rebuilt without them (SQLite's generalized ALTER TABLE procedure: a new
-- table, the rows copied, the old one dropped and the new one renamed, then its indexes).
-- The views and triggers name the tables, not their definitions, and are left as they are;
-- legacy_alter_table keeps the rename from re-parsing them while the old table is gone.

PRAGMA legacy_alter_table = ON;

CREATE TABLE bar_rows_v11 (
    series INTEGER NOT NULL,
    ts TEXT NOT NULL,
    open ANY NOT NULL,
    high ANY NOT NULL,
    low ANY NOT NULL,
    close ANY NOT NULL,
    volume ANY NOT NULL,
    PRIMARY KEY (series, ts)
) STRICT, WITHOUT ROWID;
INSERT INTO bar_rows_v11 (series, ts, open, high, low, close, volume)
    SELECT series, ts, open, high, low, close, volume FROM bar_rows;
DROP TABLE bar_rows;
ALTER TABLE bar_rows_v11 RENAME TO bar_rows;

CREATE TABLE snapshot_steps_v11 (
    prefix INTEGER NOT NULL,
    step INTEGER NOT NULL,
    series INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    balance ANY NOT NULL,
    stock_quantity ANY NOT NULL,
    stock_price ANY NOT NULL,
    stock_market_value ANY NOT NULL,
    total_value ANY NOT NULL,
    profit_loss ANY NOT NULL,
    profit_loss_percent ANY NOT NULL,
    margin_used ANY NOT NULL,
    current_balance ANY NOT NULL,
    short_avg_price ANY NOT NULL,
    short_total_cost ANY NOT NULL,
    available_balance ANY NOT NULL,
    total_fees ANY NOT NULL,
    position_side TEXT NOT NULL,
    short_positions INTEGER DEFAULT NULL,
    long_positions INTEGER DEFAULT NULL,
    PRIMARY KEY (prefix, step)
) STRICT, WITHOUT ROWID;
INSERT INTO snapshot_steps_v11
    SELECT prefix, step, series, timestamp, balance, stock_quantity, stock_price,
        stock_market_value, total_value, profit_loss, profit_loss_percent, margin_used,
        current_balance, short_avg_price, short_total_cost, available_balance, total_fees,
        position_side, short_positions, long_positions
    FROM snapshot_steps;
DROP TABLE snapshot_steps;
ALTER TABLE snapshot_steps_v11 RENAME TO snapshot_steps;
CREATE INDEX ix_account_snapshots_timestamp ON snapshot_steps (timestamp);
CREATE INDEX ix_snapshot_steps_series ON snapshot_steps (series);

PRAGMA legacy_alter_table = OFF;
