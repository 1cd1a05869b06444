#!/usr/bin/env python3
"""Reference fixtures for aibt's `slippage` from vectorbt 1.2.0.

Runs the SMA(10)/SMA(20) crossover of the backtesting.py fixtures (same CSVs, same pandas
SMAs, backtesting.lib.crossover semantics, the signal of bar i filling at bar i+1's open) with
`vbt.Portfolio.from_signals(..., slippage=s)`, which moves every fill against the trader, and
writes one JSON per scenario to crates/aibt-engine/tests/fixtures/vectorbt/.

    python tools/reference/vectorbt_slippage_fixtures.py            # every scenario
    python tools/reference/vectorbt_slippage_fixtures.py goog_sma_slippage

Before a fixture is written, check_slippage_rules.py re-derives every fill, trade, the cash
and the equity curve from the CSV and the signals alone, in exact decimals, with the rule
aibt implements; the script fails if vectorbt disagrees. See tools/reference/README.md,
"Slippage: what vectorbt 1.2.0 does".
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backtesting_py_fixtures as base  # noqa: E402  (CSV loading, SMA, JSON helpers)
import check_slippage_rules as rules  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import vectorbt as vbt  # noqa: E402

OUT_DIR = base.REPO / "crates" / "aibt-engine" / "tests" / "fixtures" / "vectorbt"
GENERATOR = "tools/reference/vectorbt_slippage_fixtures.py"

SCENARIOS = {
    # name: file, cash, commission, slippage, size_granularity, mode,
    #       the backtesting.py fixture on the same data (its signals must equal ours)
    "goog_sma_slippage": ("GOOG_1d.csv", 10_000, 0.001, 0.001, 1.0, "long", "goog_sma_long"),
    "goog_sma_slippage_reverse": ("GOOG_1d.csv", 10_000, 0.001, 0.001, 1.0, "reverse",
                                  "goog_sma_reverse"),
    "btcusd_1h_sma_slippage": ("BTCUSD_1h.csv", 100_000, 0.001, 0.0005, 1e-8, "long",
                               "btcusd_1h_sma_long"),
}
FAST, SLOW = 10, 20

VBT_CALL = {
    "long": ("vbt.Portfolio.from_signals(close=Close, entries=golden.shift(1), "
             "exits=death.shift(1), price=Open, direction='longonly', size=np.inf, "
             "size_type='amount', init_cash=cash, fees=commission, fixed_fees=0, "
             "slippage=slippage, size_granularity=g where golden.shift(1) else NaN, "
             "min_size=1e-8, lock_cash=False, accumulate=False, upon_long_conflict='ignore')"),
    "reverse": ("vbt.Portfolio.from_signals(close=Close, entries=golden.shift(1), "
                "short_entries=death.shift(1), price=Open, upon_opposite_entry='reverse', "
                "size=np.inf, size_type='amount', init_cash=cash, fees=commission, "
                "fixed_fees=0, slippage=slippage, size_granularity=g where an entry else NaN, "
                "min_size=1e-8, "
                "lock_cash=False, accumulate=False, upon_dir_conflict='ignore')"),
}
STRATEGY = {
    "long": "golden cross: buy all-in; death cross: sell the whole long (flat: nothing)",
    "reverse": ("golden cross: cover any short, then buy all-in on the cash after the cover; "
                "death cross: sell any long, then short all-in on the cash after the sale "
                "(vectorbt does each pair as ONE order of |position| + new size)"),
}


def crossover_signals(df):
    """The crossovers backtesting.py's next() sees (same as base.sma_signals, without a run)."""
    fast = base.sma(df.Close.values, FAST).to_numpy()
    slow = base.sma(df.Close.values, SLOW).to_numpy()
    warmup = int(np.isnan(slow).argmin())
    first_next_bar = 1 + warmup
    n = len(df)
    golden = np.zeros(n, dtype=bool)
    death = np.zeros(n, dtype=bool)
    signals = []
    min_gap = math.inf
    for i in range(first_next_bar, n):
        a0, b0, a1, b1 = fast[i - 1], slow[i - 1], fast[i], slow[i]
        kind = None
        if a0 < b0 and a1 > b1:
            kind, golden[i] = "golden", True
        elif a0 > b0 and a1 < b1:
            kind, death[i] = "death", True
        if kind:
            signals.append({"bar": i, "time": base.jtime(df.index[i]), "kind": kind,
                            "fill_bar": i + 1 if i + 1 < n else None})
        if not (np.isnan(a1) or np.isnan(b1)):
            min_gap = min(min_gap, abs(a1 - b1) / abs(df.Close.iat[i]))
    return fast, slow, first_next_bar, golden, death, signals, min_gap


def shift1(mask, index):
    """Signal at bar i -> order at bar i+1 (a signal on the last bar never fills)."""
    out = np.zeros_like(mask)
    out[1:] = mask[:-1]
    return pd.Series(out, index=index)


def granularity_per_bar(df, mode, granularity, golden, death):
    """size_granularity on the bars where an order opens a position, NaN on pure exits.

    On an exit, vectorbt floors the position itself: size // g * g (nb.py L293-294). For
    g = 1e-8 that floor is numpy's exact floor of size / float(1e-8), and float(1e-8) is
    1.0000000000000000209e-8, so a position of k units held as the float nearest k*1e-8 floors
    to k - 1 whenever that float is below k*float(1e-8); add_nb then zeroes the unit left
    over (the 1e-8 is lost, never sold). With g on every bar 8 of the 18 BTC exits lose a
    unit. An exit sells the whole position, which is already a whole number of units, so
    no granularity there is the rule itself."""
    opens = shift1(golden, df.index) if mode == "long" else \
        shift1(golden, df.index) | shift1(death, df.index)
    return pd.Series(np.where(opens.to_numpy(), granularity, np.nan), index=df.index)


def run_vectorbt(df, mode, cash, commission, slippage, granularity, golden, death):
    common = dict(
        close=df.Close, price=df.Open, size=np.inf, size_type="amount", init_cash=float(cash),
        fees=commission, fixed_fees=0.0, slippage=slippage,
        size_granularity=granularity_per_bar(df, mode, granularity, golden, death),
        min_size=1e-8, max_size=np.inf, lock_cash=False, allow_partial=True, accumulate=False,
        reject_prob=0.0, raise_reject=False, use_stops=False, cash_sharing=False,
    )
    if mode == "long":
        return vbt.Portfolio.from_signals(
            entries=shift1(golden, df.index), exits=shift1(death, df.index),
            direction="longonly", upon_long_conflict="ignore", **common)
    return vbt.Portfolio.from_signals(
        entries=shift1(golden, df.index), short_entries=shift1(death, df.index),
        upon_opposite_entry="reverse", upon_dir_conflict="ignore",
        upon_long_conflict="ignore", upon_short_conflict="ignore", **common)


def orders_of(pf, df):
    out = []
    for r in pf.orders.records_arr:
        i = int(r["idx"])
        buy = int(r["side"]) == 0
        out.append({
            "bar": i, "time": base.jtime(df.index[i]), "side": "buy" if buy else "sell",
            "size": base.jfloat(r["size"]), "raw_price": base.jfloat(df.Open.iat[i]),
            "price": base.jfloat(r["price"]), "fees": base.jfloat(r["fees"]),
        })
    return out


def trades_of(pf, df):
    closed, open_ = [], []
    for r in pf.trades.records_arr:  # exit trades, in order of their entry
        long = int(r["direction"]) == 0
        e, x = int(r["entry_idx"]), int(r["exit_idx"])
        row = {
            "Size": base.jfloat(r["size"]),
            "Direction": "long" if long else "short",
            "EntryBar": e, "EntryTime": base.jtime(df.index[e]),
            "EntryPrice": base.jfloat(r["entry_price"]), "EntryFees": base.jfloat(r["entry_fees"]),
        }
        if int(r["status"]) == 1:  # closed
            row.update({
                "ExitBar": x, "ExitTime": base.jtime(df.index[x]),
                "ExitPrice": base.jfloat(r["exit_price"]), "ExitFees": base.jfloat(r["exit_fees"]),
                "Commission": base.jfloat(r["entry_fees"] + r["exit_fees"]),
                "PnL": base.jfloat(r["pnl"]), "ReturnPct": base.jfloat(r["return"]),
            })
            closed.append(row)
        else:
            assert x == len(df) - 1 and r["exit_fees"] == 0.0
            row.update({
                "MarkPrice": base.jfloat(r["exit_price"]),
                "UnrealizedPnL": base.jfloat(r["pnl"]),
            })
            open_.append(row)
    return closed, open_


def run_scenario(name):
    file, cash, commission, slippage, granularity, mode, bt_twin = SCENARIOS[name]
    df = base.load_ohlcv(base.SAMPLE_DIR / file)
    fast, slow, first_next_bar, golden, death, signals, min_gap = crossover_signals(df)
    twin = base.OUT_DIR / f"{bt_twin}.json"
    if twin.exists():  # same crossovers as the backtesting.py fixture on these data
        theirs = json.loads(twin.read_text())["signals"]
        assert [(s["bar"], s["kind"]) for s in signals] == \
            [(s["bar"], s["kind"]) for s in theirs], (name, bt_twin)

    pf = run_vectorbt(df, mode, cash, commission, slippage, granularity, golden, death)
    orders = orders_of(pf, df)
    trades, open_trades = trades_of(pf, df)
    value = pf.value().to_numpy()
    cash_curve = pf.cash().to_numpy()
    position = pf.assets().to_numpy()

    out = {
        "scenario": name,
        "generator": GENERATOR,
        "vectorbt_version": vbt.__version__,
        "pandas_version": pd.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "settings": {
            "file": file,
            "bars": len(df),
            "cash": cash,
            "commission": commission,
            "min_commission": 0,
            "slippage": slippage,
            "size_granularity": granularity,
            "whole_units": granularity == 1.0,
            "short_margin": 1.0,
            "mode": mode,
            "fast": FAST,
            "slow": SLOW,
            "strategy": STRATEGY[mode],
            "fill": "a signal at bar i fills at Open[i+1] (signals shifted one bar, price=Open)",
            "size": "np.inf (all-in), floored to size_granularity on entry bars; an exit "
                    "sells the whole position (no granularity there, see "
                    "granularity_per_bar)",
            "indicator": "pd.Series(close).rolling(n).mean()",
            "crossover": "backtesting.lib.crossover: a[-2] < b[-2] and a[-1] > b[-1], "
                         "evaluated from bar 1 + warmup",
            "vectorbt_call": VBT_CALL[mode],
            "index": "timestamp parsed by pandas, tz dropped (wall time kept)",
        },
        "first_next_bar": first_next_bar,
        "trades": trades,
        "open_trades_at_end": open_trades,
        "orders": orders,
        "final_cash": base.jfloat(cash_curve[-1]),
        "final_position": base.jfloat(position[-1]),
        "final_equity": base.jfloat(value[-1]),
        "total_fees": base.jfloat(sum(o["fees"] for o in orders)),
        "equity": [base.jfloat(x) for x in value],
        "signals": signals,
        "min_relative_sma_gap": base.jfloat(min_gap),
    }
    # The exact-decimal re-derivation (aibt's rule); raises if vectorbt disagrees.
    report = rules.check_fixture(out)
    for key in ("orders", "trades", "open_trades_at_end"):
        for row, q, q8 in zip(out[key], report["rule_sizes"][key],
                              report["rule_8dp_sizes"][key], strict=True):
            row["rule_size"] = q
            row["rule_8dp_size"] = q8
    out["min_relative_size_gap"] = report["min_relative_size_gap"]
    out["exact_check"] = report["summary"]

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    with open(path, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"{name:26s} bars={len(df):5d} trades={len(trades)} open={len(open_trades)} "
          f"final_equity={out['final_equity']!r} -> {path.relative_to(base.REPO)}")
    return out


def main(names):
    for name in names or SCENARIOS:
        run_scenario(name)


if __name__ == "__main__":
    main(sys.argv[1:])
