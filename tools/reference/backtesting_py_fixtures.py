#!/usr/bin/env python3
"""Reference fixtures from backtesting.py 0.6.6 for the aibt engine agreement tests.

Runs an SMA-crossover strategy on sample data with backtesting.py and writes one
JSON file per scenario to crates/aibt-engine/tests/fixtures/backtesting_py/.
Paths are computed relative to this file, so it works from any clone.

    python tools/reference/backtesting_py_fixtures.py

See tools/reference/README.md for the virtualenv set-up. backtesting_py_orders.py (brackets,
limit entries, spread) imports this module's helpers; keep them stable.
"""
from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py shows a tqdm bar if tqdm is installed

import numpy as np
import pandas as pd

import backtesting
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SAMPLE_DIR = REPO / "crates" / "aibt-data" / "sample"
OUT_DIR = REPO / "crates" / "aibt-engine" / "tests" / "fixtures" / "backtesting_py"

COMMON = dict(
    commission=0.001,
    trade_on_close=False,
    exclusive_orders=False,
    finalize_trades=False,
    hedging=False,
    margin=1.0,
    spread=0,
)

SCENARIOS = [
    # name, file, cash, fast, slow, mode
    ("goog_sma_long", "GOOG_1d.csv", 10_000, 10, 20, "long"),
    ("goog_sma_reverse", "GOOG_1d.csv", 10_000, 10, 20, "reverse"),
    ("eurusd_sma_long", "EURUSD_1h.csv", 10_000, 10, 20, "long"),
    ("btcusd_1h_sma_long", "BTCUSD_1h.csv", 100_000, 10, 20, "long"),
]

STRATEGY_CODE = {
    "long": (
        "if crossover(self.sma1, self.sma2): self.buy()\n"
        "elif crossover(self.sma2, self.sma1): self.position.close()"
    ),
    "reverse": (
        "if crossover(self.sma1, self.sma2): self.position.close(); self.buy()\n"
        "elif crossover(self.sma2, self.sma1): self.position.close(); self.sell()"
    ),
}


def load_ohlcv(path: Path) -> pd.DataFrame:
    """Read an aibt sample CSV into the frame backtesting.py expects.

    Index: tz-naive DatetimeIndex (a trailing Z / UTC is dropped, wall time kept).
    Columns: Open, High, Low, Close, Volume as float64.
    """
    raw = pd.read_csv(path, dtype={"timestamp": str})
    idx = pd.to_datetime(raw["timestamp"], utc=False)
    if getattr(idx.dt, "tz", None) is not None:
        idx = idx.dt.tz_localize(None)
    df = pd.DataFrame(
        {
            "Open": raw["open"].astype("float64").values,
            "High": raw["high"].astype("float64").values,
            "Low": raw["low"].astype("float64").values,
            "Close": raw["close"].astype("float64").values,
            "Volume": raw["volume"].astype("float64").values,
        },
        index=pd.DatetimeIndex(idx.values, name="timestamp"),
    )
    return df


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


class SmaLong(Strategy):
    fast = 10
    slow = 20

    def init(self):
        self.sma1 = self.I(sma, self.data.Close, self.fast)
        self.sma2 = self.I(sma, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()


class SmaReverse(Strategy):
    fast = 10
    slow = 20

    def init(self):
        self.sma1 = self.I(sma, self.data.Close, self.fast)
        self.sma2 = self.I(sma, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


# ---------------------------------------------------------------- JSON helpers

def jfloat(x):
    """Python float with full (repr-exact) precision; NaN/inf -> None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def jtime(t):
    if t is None or (isinstance(t, float) and math.isnan(t)) or t is pd.NaT:
        return None
    return pd.Timestamp(t).isoformat()


def jtimedelta(td):
    if td is None or td is pd.NaT or (isinstance(td, float) and math.isnan(td)):
        return None
    td = pd.Timedelta(td)
    return {"str": str(td), "seconds": td.total_seconds()}


def jvalue(v):
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return jtime(v)
    if isinstance(v, pd.Timedelta):
        return jtimedelta(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return jfloat(v)
    raise TypeError(f"unexpected stats value {v!r} ({type(v)})")


# ---------------------------------------------------------------- pieces shared with
# backtesting_py_orders.py (which imports them)

def run_backtest(df, strat, cash, settings, **params):
    """Run backtesting.py; return (stats, backtesting.py's own UserWarnings)."""
    bt = Backtest(df, strat, cash=cash, **settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = bt.run(**params)
    # Keep backtesting.py's own UserWarnings (e.g. trades left open, canceled orders);
    # drop library deprecation noise that depends on the pandas version.
    warn_msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)
                 and not issubclass(w.category, (DeprecationWarning, FutureWarning))]
    return stats, warn_msgs


def sma_signals(df, stats, fast, slow):
    """Check the strategy's SMAs against pandas; list the crossovers next() saw.

    Returns (sma_fast, sma_slow, warmup, first_next_bar, signals, min_relative_sma_gap).
    """
    strategy = stats._strategy
    sma1 = np.asarray(strategy.sma1, dtype=float)
    sma2 = np.asarray(strategy.sma2, dtype=float)
    # After run() the indicator attributes are the full-length arrays again
    # only if the last slice covered everything; recompute to be safe.
    sma1_full = sma(df.Close.values, fast).to_numpy()
    sma2_full = sma(df.Close.values, slow).to_numpy()
    assert len(sma1) == len(df) and np.array_equal(sma1, sma1_full, equal_nan=True)
    assert len(sma2) == len(df) and np.array_equal(sma2, sma2_full, equal_nan=True)

    # Signals as backtesting.lib.crossover sees them on each next() call (bar i).
    warmup = int(np.isnan(sma2_full).argmin())  # == backtesting's _indicator_warmup_nbars
    first_next_bar = 1 + warmup
    signals = []
    min_gap = math.inf
    for i in range(first_next_bar, len(df)):
        a0, b0, a1, b1 = sma1_full[i - 1], sma2_full[i - 1], sma1_full[i], sma2_full[i]
        if a0 < b0 and a1 > b1:
            signals.append({"bar": i, "time": jtime(df.index[i]), "kind": "golden"})
        elif a0 > b0 and a1 < b1:
            signals.append({"bar": i, "time": jtime(df.index[i]), "kind": "death"})
        if not (np.isnan(a1) or np.isnan(b1)):
            min_gap = min(min_gap, abs(a1 - b1) / abs(df.Close.iat[i]))
    return sma1_full, sma2_full, warmup, first_next_bar, signals, min_gap


def stats_context_of(df, warmup, first_next_bar):
    """Inputs of compute_stats' annualisation, as backtesting/_stats.py derives them."""
    period = pd.Series(df.index[-100:]).diff().dropna().median()  # backtesting._util._data_period
    freq_days = period.days
    have_weekends = bool(df.index.day_of_week.to_series().between(5, 6).mean() > 2 / 7 * .6)
    return {
        "data_period_seconds": period.total_seconds(),
        "annual_trading_days": (52 if freq_days == 7 else 12 if freq_days == 31 else
                                1 if freq_days == 365 else (365 if have_weekends else 252)),
        "have_weekends": have_weekends,
        "returns_resample_freq": {7: "W", 31: "ME", 365: "YE"}.get(freq_days, "D"),
        "timedelta_stats_ceiled_to": getattr(period, "resolution_string", None),
        "buy_and_hold_reference_bar": warmup,
        "first_next_bar": first_next_bar,
    }


def stats_dict(stats):
    """Every non-underscore entry of the stats Series, JSON-ready."""
    return {key: jvalue(val) for key, val in stats.items() if not key.startswith("_")}


def trade_row(row):
    """One row of stats._trades (an itertuples row), JSON-ready."""
    return {
        "Size": int(row.Size),
        "EntryBar": int(row.EntryBar),
        "ExitBar": int(row.ExitBar),
        "EntryPrice": jfloat(row.EntryPrice),
        "ExitPrice": jfloat(row.ExitPrice),
        "PnL": jfloat(row.PnL),
        "Commission": jfloat(row.Commission),
        "ReturnPct": jfloat(row.ReturnPct),
        "EntryTime": jtime(row.EntryTime),
        "ExitTime": jtime(row.ExitTime),
        "Duration": pd.Timedelta(row.Duration).total_seconds(),
    }


def open_trade_row(df, broker, t):
    """A trade still open at the end (finalize_trades=False keeps it out of stats)."""
    entry_commission = broker._commission(t.size, t.entry_price)
    return {
        "Size": int(t.size),
        "EntryBar": int(t.entry_bar),
        "EntryPrice": jfloat(t.entry_price),
        "EntryTime": jtime(t.entry_time),
        "EntryCommission": jfloat(entry_commission),
        "MarkPrice": jfloat(df.Close.iat[-1]),
        "UnrealizedPnLGross": jfloat(t.size * (df.Close.iat[-1] - t.entry_price)),
    }


def write_fixture(name, out):
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    with open(path, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    return path


# ---------------------------------------------------------------- scenarios

def run_scenario(name, file, cash, fast, slow, mode):
    df = load_ohlcv(SAMPLE_DIR / file)
    strat = SmaLong if mode == "long" else SmaReverse
    stats, warn_msgs = run_backtest(df, strat, cash, COMMON, fast=fast, slow=slow)
    strategy = stats._strategy
    sma1_full, sma2_full, warmup, first_next_bar, signals, min_gap = \
        sma_signals(df, stats, fast, slow)
    stats_context = stats_context_of(df, warmup, first_next_bar)
    stats_out = stats_dict(stats)
    trades = [trade_row(row) for row in stats._trades.itertuples(index=False)]
    broker = strategy._broker  # same object the strategy traded through
    open_trades = [open_trade_row(df, broker, t) for t in strategy.trades]
    equity = [jfloat(x) for x in stats._equity_curve["Equity"].to_numpy()]

    out = {
        "scenario": name,
        "generator": "tools/reference/backtesting_py_fixtures.py",
        "backtesting_version": backtesting.__version__,
        "pandas_version": pd.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "settings": {
            "file": file,
            "bars": len(df),
            "cash": cash,
            "fast": fast,
            "slow": slow,
            "mode": mode,
            **COMMON,
            "size": "default (Strategy._FULL_EQUITY = 1 - sys.float_info.epsilon)",
            "indicator": "pd.Series(close).rolling(n).mean() via Strategy.I",
            "crossover": "backtesting.lib.crossover: a[-2] < b[-2] and a[-1] > b[-1]",
            "strategy_next": STRATEGY_CODE[mode],
            "index": "timestamp parsed by pandas, tz dropped (wall time kept)",
        },
        "first_next_bar": first_next_bar,
        "buy_and_hold_reference_bar": warmup,
        "stats_context": stats_context,
        "stats": stats_out,
        "trades": trades,
        "open_trades_at_end": open_trades,
        "final_cash": jfloat(broker._cash),
        "equity": equity,
        "signals": signals,
        "min_relative_sma_gap": jfloat(min_gap),
        "indicators": {
            "sma_fast": [jfloat(x) for x in sma1_full],
            "sma_slow": [jfloat(x) for x in sma2_full],
        },
        "warnings": warn_msgs,
    }
    path = write_fixture(name, out)
    print(f"{name:22s} bars={len(df):5d} final_equity={float(stats['Equity Final [$]'])!r} "
          f"trades={stats['# Trades']} open={len(open_trades)} "
          f"signals={len(signals)} -> {path.relative_to(REPO)}")
    return out


def main():
    for sc in SCENARIOS:
        run_scenario(*sc)


if __name__ == "__main__":
    main()
