"""Reference fixtures for aibt's bar resampling (minute bars -> hourly or daily), computed by pandas.

    /root/.cache/aibt/pyresample/bin/python tools/reference/resample_fixtures.py

(venv: see tools/reference/requirements-resample.txt.) No arguments; deterministic; prints one line
per fixture. Reads minute CSVs from crates/aibt-data/sample/ and writes
crates/aibt-data/tests/fixtures/resample/<SOURCE>_<bar>_<zone>.csv.

The semantics (what aibt implements):

- Timestamps are UTC (`...Z`); a naive timestamp (INDEX2006_1m) is read as UTC, as aibt reads it.
- With a time zone, the UTC index is converted to the zone (`tz_convert`) before resampling, so
  buckets start at local hour / local midnight boundaries (DST is pandas' business).
- `df.resample(rule, closed="left", label="left", origin="start_day")` with rule "1h" or "1D",
  aggregated as open=first, high=max, low=min, close=last, volume=sum.
- Buckets that had no bar are dropped (row count per bucket > 0); nothing is forward-filled.
- Labels: an hourly bucket is the UTC instant of its start (`2013-10-04T08:00:00Z`; in
  Asia/Kolkata, +05:30, that is `...T07:30:00Z`); a daily bucket is the session's LOCAL date at
  00:00 UTC (a New York day 2013-10-04 -> `2013-10-04T00:00:00Z`), as aibt stores daily bars.
- Values are written as plain decimals without exponent, trailing zeros after the point and a
  bare trailing point stripped (`167.650` -> `167.65`, `7422.0` -> `7422`, `20000` -> `20000`).
"""
import csv
import decimal
import pathlib
from decimal import Decimal

import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "crates" / "aibt-data" / "sample"
OUT = ROOT / "crates" / "aibt-data" / "tests" / "fixtures" / "resample"

COLUMNS = ["open", "high", "low", "close", "volume"]
AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}

# (output name, source file, rule, time zone or None for UTC)
FIXTURES = [
    ("SPY_1m_hourly_utc", "SPY_1m.csv", "1h", None),
    ("SPY_1m_daily_utc", "SPY_1m.csv", "1D", None),
    ("SPY_1m_daily_new_york", "SPY_1m.csv", "1D", "America/New_York"),
    # SPY trades within one UTC date; a crypto day in New York crosses UTC midnight.
    ("BTCUSD_1m_daily_new_york", "BTCUSD_1m.csv", "1D", "America/New_York"),
    ("SPY_1m_hourly_kolkata", "SPY_1m.csv", "1h", "Asia/Kolkata"),
    ("BTCUSD_1m_hourly_utc", "BTCUSD_1m.csv", "1h", None),
    ("BTCUSD_1m_daily_utc", "BTCUSD_1m.csv", "1D", None),
    ("BTCUSD_1m_daily_shanghai", "BTCUSD_1m.csv", "1D", "Asia/Shanghai"),
    ("INDEX2006_1m_daily_utc", "INDEX2006_1m.csv", "1D", None),
]

# Exact decimal sums of up to a few thousand 8-place volumes need far fewer than 60 digits.
decimal.getcontext().prec = 60


def load(name):
    """The CSV as strings: a UTC DatetimeIndex and the five value columns as text."""
    with open(SAMPLE / name, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["timestamp"] + COLUMNS, (name, rows[0])
    body = rows[1:]
    # utc=True reads a naive timestamp (INDEX2006_1m) as UTC and converts `Z` ones trivially.
    index = pd.DatetimeIndex(
        pd.to_datetime([r[0] for r in body], format="ISO8601", utc=True), name="timestamp"
    )
    assert index.is_monotonic_increasing and index.is_unique, name
    text = {c: [r[i + 1] for r in body] for i, c in enumerate(COLUMNS)}
    return index, text


def resample(df, rule, tz):
    """pandas' bucket aggregation plus the row count per bucket; empty buckets dropped."""
    if tz is not None:
        df = df.tz_convert(tz)
    r = df.resample(rule, closed="left", label="left", origin="start_day")
    out = r.agg(AGG)
    count = r["close"].count()
    assert out.index.equals(count.index)
    return out[count > 0], count[count > 0]


def label(ts, rule):
    """The fixture's timestamp for a bucket whose (local) start is ts."""
    if rule == "1h":
        return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rule == "1D" and (ts.hour, ts.minute, ts.second) == (0, 0, 0), ts
    # The local date of the session, stamped at 00:00 UTC.
    return ts.strftime("%Y-%m-%dT00:00:00Z")


def fmt(d):
    """A Decimal as a plain string: no exponent, no trailing zeros after the point, no bare point."""
    assert isinstance(d, Decimal) and d.is_finite(), d
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def scale(strings):
    """The largest number of decimal places in a column (the quantum of any exact sum)."""
    places = max(-Decimal(s).as_tuple().exponent for s in strings)
    return Decimal(1).scaleb(-max(places, 0))


def build(source, rule, tz):
    index, text = load(source)
    # Decimal (object columns) so that first/max/min/last pick the source values unchanged and
    # sum is exact: float64 sums of 8-place BTC volumes carry binary rounding error, and the
    # fixture should state the exact bucket totals aibt's decimal arithmetic must produce.
    dec = pd.DataFrame(
        {c: pd.Series([Decimal(s) for s in text[c]], index=index, dtype=object) for c in COLUMNS}
    )
    flt = pd.DataFrame(
        {c: pd.Series([float(s) for s in text[c]], index=index, dtype="float64") for c in COLUMNS}
    )
    exact, count = resample(dec, rule, tz)
    approx, count_f = resample(flt, rule, tz)

    # Cross-check against the same resampling in float64: identical buckets and counts, the
    # selected prices identical, and every float sum equal to the exact sum once rounded to the
    # source's decimal places.
    assert exact.index.equals(approx.index) and count.equals(count_f), source
    assert int(count.sum()) == len(index), (source, int(count.sum()), len(index))
    vol_quantum = scale(text["volume"])
    for ts in exact.index:
        e, a = exact.loc[ts], approx.loc[ts]
        for c in ("open", "high", "low", "close"):
            assert isinstance(e[c], Decimal), (source, ts, c, type(e[c]))
            assert float(e[c]) == a[c], (source, ts, c, e[c], a[c])
        assert isinstance(e["volume"], Decimal), (source, ts, type(e["volume"]))
        rounded = Decimal(repr(float(a["volume"]))).quantize(vol_quantum)
        assert rounded == e["volume"], (source, ts, e["volume"], a["volume"])
        assert e["low"] <= min(e["open"], e["close"]) and e["high"] >= max(e["open"], e["close"])

    rows = [[label(ts, rule)] + [fmt(exact.loc[ts, c]) for c in COLUMNS] for ts in exact.index]
    labels = [r[0] for r in rows]
    assert labels == sorted(labels) and len(set(labels)) == len(labels), source
    return rows


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, source, rule, tz in FIXTURES:
        rows = build(source, rule, tz)
        path = OUT / f"{name}.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["timestamp"] + COLUMNS)
            w.writerows(rows)
        print(
            f"{path.relative_to(ROOT)}: {len(rows)} rows "
            f"({source}, {rule}, {tz or 'UTC'}, {rows[0][0]} .. {rows[-1][0]})"
        )


if __name__ == "__main__":
    main()
