#!/usr/bin/env python3
"""Writes crates/aibt-store-sqlite/migrations/0009_compact_snapshots.sql.

The migration's view and triggers repeat one expression per decimal column (decoding a
stored integer mantissa, encoding a text decimal that round-trips); writing them out by hand
thirteen times would invite a typo in one. Run from the repository root:

    python3 tools/schema/compact_snapshots.py
"""
from pathlib import Path

OUT = Path("crates/aibt-store-sqlite/migrations/0009_compact_snapshots.sql")

# (column, scale, default) of the decimal columns a step stores, in the seed's order.
DECIMALS = [
    ("balance", 8, None),
    ("stock_quantity", 8, None),
    ("stock_price", 8, None),
    ("stock_market_value", 8, None),
    ("total_value", 8, None),
    ("profit_loss", 8, None),
    ("profit_loss_percent", 6, None),
    ("margin_used", 8, "'0.00000000'"),
    ("current_balance", 8, None),
    ("short_avg_price", 8, "'0.00000000'"),
    ("short_total_cost", 8, "'0.00000000'"),
    ("available_balance", 8, "'0.00000000'"),
    ("total_fees", 8, "'0.00000000'"),
]
SCALE = {d[0]: d[1] for d in DECIMALS}
NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
# A run's ids are `<task id>-s<bar, 9 digits>`: the prefix is stored once, the bar as an integer.
RUN_ID = "'*-s" + "[0-9]" * 9 + "'"


def decode(x, scale):
    """An integer mantissa at `scale` places as the seed's fixed text; text as it is."""
    unit = 10**scale
    return (f"CASE WHEN typeof({x}) = 'integer' THEN "
            f"(CASE WHEN {x} < 0 THEN '-' ELSE '' END) || (abs({x}) / {unit}) || '.' || "
            f"printf('%0{scale}d', abs({x}) % {unit}) ELSE {x} END")


def encode(v, scale):
    """A decimal text as its integer mantissa when that gives the very same text back
    (at most 18 digits, so it fits and abs() cannot overflow); any other text as it is."""
    digits = "'*." + "[0-9]" * scale + "'"
    mantissa = f"CAST(replace({v}, '.', '') AS INTEGER)"
    return (f"CASE WHEN length({v}) <= 20 AND {v} GLOB {digits} "
            f"AND ({decode(mantissa, scale)}) = {v} THEN {mantissa} ELSE {v} END")


def id_prefix(i):
    return f"CASE WHEN {i} GLOB {RUN_ID} THEN substr({i}, 1, length({i}) - 9) ELSE {i} END"


def id_step(i):
    return f"CASE WHEN {i} GLOB {RUN_ID} THEN CAST(substr({i}, -9) AS INTEGER) ELSE -1 END"


def lots(x):
    return (f"CASE WHEN {x} IS NULL THEN '[]' "
            f"ELSE (SELECT l.json FROM snapshot_lots l WHERE l.lots = {x}) END")


def new(col):
    """NEW.col with the seed's default where it has one."""
    default = {d[0]: d[2] for d in DECIMALS}.get(col)
    if col == "timestamp":
        default = NOW
    if col == "position_side":
        default = "'LONG'"
    if col in ("short_positions", "long_positions"):
        default = "'[]'"
    return f"coalesce(NEW.{col}, {default})" if default else f"NEW.{col}"


def raise_abort(indent, message, condition):
    """A trigger statement refusing the row with SQLite's own wording when `condition` holds."""
    message = message.replace("'", "''")
    return f"{indent}SELECT RAISE(ABORT, '{message}') WHERE {condition};"


def insert_body(indent="    "):
    out = []
    def fail(message, condition):
        out.append(raise_abort(indent, message, condition))
    for col in ("snapshot_id", "account_id", "market_type", "stock_symbol"):
        fail(f"NOT NULL constraint failed: account_snapshots.{col}", f"NEW.{col} IS NULL")
    for col in [d[0] for d in DECIMALS] + ["initial_balance"]:
        fail(f"CHECK constraint failed: typeof({col}) = 'text'", f"typeof({new(col)}) <> 'text'")
    fail("CHECK constraint failed: market_type IN ('US', 'COIN')", "NEW.market_type NOT IN ('US', 'COIN')")
    fail("CHECK constraint failed: position_side IN ('LONG', 'SHORT')",
         f"{new('position_side')} NOT IN ('LONG', 'SHORT')")
    for col in ("short_positions", "long_positions"):
        fail(f"CHECK constraint failed: json_valid({col})",
             f"typeof({new(col)}) <> 'text' OR NOT json_valid({new(col)})")
    fail("CHECK constraint failed: typeof(timestamp) = 'text'", f"typeof({new('timestamp')}) <> 'text'")
    prefix, step = id_prefix("NEW.snapshot_id"), id_step("NEW.snapshot_id")
    fail("UNIQUE constraint failed: account_snapshots.snapshot_id",
         f"EXISTS (SELECT 1 FROM snapshot_prefixes p JOIN snapshot_steps s ON s.prefix = p.prefix "
         f"WHERE p.id_prefix = {prefix} AND s.step = {step})")
    out.append(f"{indent}INSERT OR IGNORE INTO snapshot_prefixes (id_prefix) VALUES ({prefix});")
    same_series = ("task_id IS NEW.task_id AND account_id = NEW.account_id "
                   "AND market_type = NEW.market_type AND initial_balance = NEW.initial_balance "
                   "AND stock_symbol = NEW.stock_symbol")
    out.append(f"{indent}INSERT INTO snapshot_series (task_id, account_id, market_type, initial_balance, stock_symbol)\n"
               f"{indent}    SELECT NEW.task_id, NEW.account_id, NEW.market_type, NEW.initial_balance, NEW.stock_symbol\n"
               f"{indent}    WHERE NOT EXISTS (SELECT 1 FROM snapshot_series WHERE {same_series});")
    series = f"(SELECT series FROM snapshot_series WHERE {same_series} ORDER BY series LIMIT 1)"
    for col in ("short_positions", "long_positions"):
        out.append(f"{indent}INSERT OR IGNORE INTO snapshot_lots (series, json)\n"
                   f"{indent}    SELECT {series}, {new(col)} WHERE {new(col)} <> '[]';")
    def lot_ref(col):
        return (f"(SELECT lots FROM snapshot_lots WHERE series = {series} "
                f"AND json = {new(col)} AND {new(col)} <> '[]')")
    columns = ["prefix", "step", "series", "timestamp"] + [d[0] for d in DECIMALS] + [
        "position_side", "short_positions", "long_positions"]
    values = [f"(SELECT prefix FROM snapshot_prefixes WHERE id_prefix = {prefix})", step, series,
              new("timestamp")]
    values += [encode(new(col), scale) for col, scale, _ in DECIMALS]
    values += [new("position_side"), lot_ref("short_positions"), lot_ref("long_positions")]
    out.append(f"{indent}INSERT INTO snapshot_steps ({', '.join(columns)})\n{indent}VALUES (\n"
               + ",\n".join(f"{indent}    {v}" for v in values) + f"\n{indent});")
    return "\n".join(out)


def delete_body(indent="    "):
    prefix, step = id_prefix("OLD.snapshot_id"), id_step("OLD.snapshot_id")
    return (f"{indent}DELETE FROM snapshot_steps\n"
            f"{indent}WHERE prefix = (SELECT prefix FROM snapshot_prefixes WHERE id_prefix = {prefix})\n"
            f"{indent}    AND step = {step};")


SEED_COLUMNS = ["snapshot_id", "task_id", "account_id", "balance", "stock_quantity", "stock_price",
                "stock_market_value", "total_value", "profit_loss", "profit_loss_percent", "timestamp",
                "margin_used", "market_type", "initial_balance", "stock_symbol", "current_balance",
                "position_side", "short_avg_price", "short_total_cost", "short_positions",
                "long_positions", "available_balance", "total_fees"]


def view_column(col):
    if col == "snapshot_id":
        return "p.id_prefix || CASE WHEN s.step < 0 THEN '' ELSE printf('%09d', s.step) END"
    if col in ("task_id", "account_id", "market_type", "initial_balance", "stock_symbol"):
        return f"r.{col}"
    if col in SCALE:
        return decode(f"s.{col}", SCALE[col])
    if col in ("short_positions", "long_positions"):
        return lots(f"s.{col}")
    return f"s.{col}"


def main():
    decimal_columns = "\n".join(
        f"    {col} ANY NOT NULL CHECK (typeof({col}) IN ('integer', 'text'))," for col, _, _ in DECIMALS)
    view = ",\n".join(f"    {view_column(c)} AS {c}" for c in SEED_COLUMNS)
    sql = f"""-- aibt schema, version 9: snapshots stored compactly (issue 15). Generated by
-- tools/schema/compact_snapshots.py; docs/schema.md describes the layout.
--
-- A backtest writes one snapshot per bar, and most of a snapshot repeats: the task, the
-- account, the symbol and the initial balance never change within a run, the lot lists change
-- only with a trade, and the id is the task's id with a bar number. The seed's
-- `account_snapshots` becomes a view with every seed column, over
--   snapshot_prefixes  an id's text before its bar number, once;
--   snapshot_series    the columns a run repeats (task, account, market, initial balance,
--                      symbol), once per distinct combination;
--   snapshot_lots      each distinct non-empty lot list of a series, once;
--   snapshot_steps     the rest: the bar number, the time, the decimals as integer mantissas
--                      (text when a value has more digits than 18 or another form), the side
--                      and references to the lot lists.
-- Inserting into, updating or deleting from the view works as on the seed's table, with its
-- defaults and checks (INSTEAD OF triggers), so raw SQL written for the seed keeps working.
-- The seed's indexes serve the view: the primary key by snapshot_prefixes' unique prefix and
-- snapshot_steps' (prefix, step) key, task_id and account_id through snapshot_series and the
-- series index of the steps, timestamp on the steps.

DROP INDEX ix_account_snapshots_task_id;
DROP INDEX ix_account_snapshots_account_id;
DROP INDEX ix_account_snapshots_timestamp;
ALTER TABLE account_snapshots RENAME TO account_snapshots_v8;

CREATE TABLE snapshot_prefixes (
    prefix INTEGER PRIMARY KEY,
    id_prefix TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE snapshot_series (
    series INTEGER PRIMARY KEY,
    task_id TEXT DEFAULT NULL,
    account_id TEXT NOT NULL,
    market_type TEXT NOT NULL CHECK (market_type IN ('US', 'COIN')),
    initial_balance ANY NOT NULL CHECK (typeof(initial_balance) = 'text'),
    stock_symbol TEXT NOT NULL
) STRICT;

CREATE TABLE snapshot_lots (
    lots INTEGER PRIMARY KEY,
    series INTEGER NOT NULL,
    json TEXT NOT NULL CHECK (json_valid(json)),
    UNIQUE (series, json)
) STRICT;

CREATE TABLE snapshot_steps (
    prefix INTEGER NOT NULL,
    step INTEGER NOT NULL,
    series INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
{decimal_columns}
    position_side TEXT NOT NULL CHECK (position_side IN ('LONG', 'SHORT')),
    short_positions INTEGER DEFAULT NULL,
    long_positions INTEGER DEFAULT NULL,
    PRIMARY KEY (prefix, step)
) STRICT, WITHOUT ROWID;

CREATE INDEX ix_account_snapshots_task_id ON snapshot_series (task_id);
CREATE INDEX ix_account_snapshots_account_id ON snapshot_series (account_id);
CREATE INDEX ix_account_snapshots_timestamp ON snapshot_steps (timestamp);
CREATE INDEX ix_snapshot_steps_series ON snapshot_steps (series);

-- Every seed column with the two parts of the id, which aibt pages by (a plain column reference
-- through a view keeps its index usable; the id's text is an expression).
CREATE VIEW snapshot_rows AS
SELECT
    p.id_prefix AS id_prefix,
    s.step AS step,
{view}
FROM snapshot_steps s
JOIN snapshot_prefixes p ON p.prefix = s.prefix
JOIN snapshot_series r ON r.series = s.series;

CREATE VIEW account_snapshots AS
SELECT {', '.join(SEED_COLUMNS)} FROM snapshot_rows;

CREATE TRIGGER account_snapshots_insert INSTEAD OF INSERT ON account_snapshots
BEGIN
{insert_body()}
END;

CREATE TRIGGER account_snapshots_delete INSTEAD OF DELETE ON account_snapshots
BEGIN
{delete_body()}
END;

CREATE TRIGGER account_snapshots_update INSTEAD OF UPDATE ON account_snapshots
BEGIN
{delete_body()}
    INSERT INTO account_snapshots ({', '.join(SEED_COLUMNS)})
    VALUES ({', '.join('NEW.' + c for c in SEED_COLUMNS)});
END;

INSERT INTO account_snapshots ({', '.join(SEED_COLUMNS)})
SELECT {', '.join(SEED_COLUMNS)} FROM account_snapshots_v8;
DROP TABLE account_snapshots_v8;
"""
    OUT.write_text(sql)


if __name__ == "__main__":
    main()
