#!/usr/bin/env python3
"""Reference indicator values from TA-Lib for the aibt-core indicator tests.

Input: the first 300 bars of crates/aibt-data/sample/GOOG_1d.csv.
Output: crates/aibt-core/tests/fixtures/talib_goog_300.json (paths relative to this file).

    python tools/reference/talib_fixtures.py
"""
from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import talib

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
INPUT = REPO / "crates" / "aibt-data" / "sample" / "GOOG_1d.csv"
OUTPUT = REPO / "crates" / "aibt-core" / "tests" / "fixtures" / "talib_goog_300.json"
N_BARS = 300


def jlist(arr):
    out = []
    for x in np.asarray(arr, dtype=np.float64):
        x = float(x)
        out.append(x if math.isfinite(x) else None)
    return out


def ta_c_version():
    v = getattr(talib, "__ta_version__", None)
    if isinstance(v, bytes):
        v = v.decode("ascii", "replace")
    return v


def main():
    with open(INPUT, newline="") as f:
        rows = list(csv.DictReader(f))[:N_BARS]
    assert len(rows) == N_BARS
    cols = {k: [r[k] for r in rows] for k in ("timestamp", "open", "high", "low", "close")}
    # float() of the decimal string == the nearest double, as Rust's str::parse::<f64> gives.
    o, h, l, c = (np.array([float(v) for v in cols[k]], dtype=np.float64)
                  for k in ("open", "high", "low", "close"))

    calls = {}
    outputs = {}

    def record(name, call, result):
        calls[name] = call
        outputs[name] = jlist(result)

    record("sma_20", "talib.SMA(close, timeperiod=20)", talib.SMA(c, timeperiod=20))
    record("ema_20", "talib.EMA(close, timeperiod=20)", talib.EMA(c, timeperiod=20))
    record("rsi_14", "talib.RSI(close, timeperiod=14)", talib.RSI(c, timeperiod=14))
    macd, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    mcall = "talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)"
    record("macd_12_26_9.macd", mcall + "[0]", macd)
    record("macd_12_26_9.signal", mcall + "[1]", signal)
    record("macd_12_26_9.hist", mcall + "[2]", hist)
    upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
    bcall = "talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)"
    record("bbands_20_2_2.upper", bcall + "[0]", upper)
    record("bbands_20_2_2.middle", bcall + "[1]", middle)
    record("bbands_20_2_2.lower", bcall + "[2]", lower)
    record("atr_14", "talib.ATR(high, low, close, timeperiod=14)", talib.ATR(h, l, c, timeperiod=14))

    first_valid = {k: next((i for i, v in enumerate(vals) if v is not None), None)
                   for k, vals in outputs.items()}

    out = {
        "generator": "tools/reference/talib_fixtures.py",
        "library": "TA-Lib (PyPI package TA-Lib, C library bundled in the wheel)",
        "talib_version": talib.__version__,
        "talib_c_version": ta_c_version(),
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "source_file": "crates/aibt-data/sample/GOOG_1d.csv",
        "bars": N_BARS,
        "notes": [
            "Inputs are given as the exact decimal strings from the CSV; TA-Lib received "
            "float(s) of each (float64, round-to-nearest).",
            "Outputs are float64 written with repr-exact precision; null where TA-Lib returned NaN "
            "(the lookback period).",
            "TA-Lib compatibility mode is the default (TA_COMPATIBILITY_DEFAULT). EMA is seeded "
            "with the SMA of the first `timeperiod` values. RSI and ATR use Wilder smoothing; "
            "ATR is seeded with the simple mean of the first 14 true ranges (TR at bar 0 is not used). "
            "MACD: both EMAs are seeded at the slow EMA's seed bar (25 here): the fast EMA(12) starts "
            "from the SMA of closes 14..25, not 0..11 (a from-bar-0 EMA12 differs by up to ~0.28 on "
            "this data); the signal is an EMA(9) of MACD seeded with the SMA of MACD 25..33, so all "
            "three outputs start at bar 33. BBANDS uses the population standard deviation (divide by n).",
            "TA-Lib's SMA/BBANDS use a running sum, so last-bit differences from a "
            "per-window sum are expected; compare with a small relative tolerance.",
        ],
        "calls": calls,
        "first_valid_index": first_valid,
        "input": {
            "timestamp": cols["timestamp"],
            "open": cols["open"],
            "high": cols["high"],
            "low": cols["low"],
            "close": cols["close"],
        },
        "outputs": outputs,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUTPUT, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"talib {talib.__version__}: wrote {OUTPUT.relative_to(REPO)} "
          f"({N_BARS} bars, {len(outputs)} series); first valid index: {first_valid}")


if __name__ == "__main__":
    main()
