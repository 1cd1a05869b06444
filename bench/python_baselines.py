#!/usr/bin/env python3
"""Python baselines for the aibt speed benchmark.

Runs the long-only SMA crossover (golden cross -> buy all cash in whole units,
death cross -> close, fills at the next bar's open, commission 0.1% per side,
cash 1,000,000) on INDEX2006_1m.csv tiled to exactly --bars bars (whole
repetitions, each shifted by the file's span + 1 minute, then cut to length), in

  (a) backtesting.py 0.6.6, and
  (b) vectorbt (Portfolio.from_signals), if it is installed;

and again in backtesting.py with a bracket on every entry: buy(sl=Close*(1 - sl/100),
tp=Close*(1 + tp/100)) with Close the signal bar's (--sl-pct 0.1, --tp-pct 0.2; --no-brackets
skips it).

Only the run is timed (not CSV loading, tiling or imports); best of --runs runs.

    python bench/python_baselines.py [--bars 300000] [--fast 10 --slow 20] [--runs 3] [--json]

See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bar inside the timed loop

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "crates" / "aibt-data" / "sample" / "INDEX2006_1m.csv"

CASH = 1_000_000  # defaults; --cash / --commission override
COMMISSION = 0.001


def load_tiled(n_bars: int) -> pd.DataFrame:
    raw = pd.read_csv(DATA, dtype={"timestamp": str})
    ts = pd.to_datetime(raw["timestamp"])
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    base = pd.DatetimeIndex(ts.values)
    cols = {c.capitalize(): raw[c].astype("float64").to_numpy() for c in
            ("open", "high", "low", "close", "volume")}
    n = len(raw)
    reps = max(1, math.ceil(n_bars / n))
    shift = (base[-1] - base[0]) + pd.Timedelta(minutes=1)
    index = base.append([base + shift * k for k in range(1, reps)])
    df = pd.DataFrame({k: np.tile(v, reps) for k, v in cols.items()}, index=index)
    df = df.iloc[:n_bars]
    df.index.name = "timestamp"
    assert df.index.is_monotonic_increasing and df.index.is_unique
    return df


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


def crosses(close: np.ndarray, fast: int, slow: int):
    """golden[i] / death[i]: backtesting.lib.crossover as evaluated at bar i."""
    a = sma(close, fast).to_numpy()
    b = sma(close, slow).to_numpy()
    with np.errstate(invalid="ignore"):
        golden = np.r_[False, (a[:-1] < b[:-1]) & (a[1:] > b[1:])]
        death = np.r_[False, (a[:-1] > b[:-1]) & (a[1:] < b[1:])]
    return golden, death


def best_of(fn, runs):
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, result


# ------------------------------------------------------------------ backtesting.py

def bracket_exits(df, trades, fast, slow):
    """Why each closed trade ended, from backtesting.py's rules (it does not record it; see
    classify_exit in tools/reference/backtesting_py_orders.py): a death cross at bar b closes
    at Open[b+1] ahead of the bracket; otherwise the stop-loss fills at min(Open, SL), the
    take-profit at max(Open, TP)."""
    _, death = crosses(df["Close"].to_numpy(), fast, slow)
    opens, lows, highs = df["Open"].to_numpy(), df["Low"].to_numpy(), df["High"].to_numpy()
    counts = {"signal_exits": 0, "stop_loss_exits": 0, "take_profit_exits": 0, "unclassified_exits": 0}
    for px, sl, tp, bar in zip(trades["ExitPrice"], trades["SL"], trades["TP"], trades["ExitBar"]):
        if bar > 0 and death[bar - 1] and px == opens[bar]:
            counts["signal_exits"] += 1
        elif sl == sl and lows[bar] <= sl and px == min(opens[bar], sl):
            counts["stop_loss_exits"] += 1
        elif tp == tp and highs[bar] >= tp and px == max(opens[bar], tp):
            counts["take_profit_exits"] += 1
        else:
            counts["unclassified_exits"] += 1
    return counts


def bench_backtesting_py(df, fast, slow, runs, cash=CASH, commission=COMMISSION,
                         sl_pct=None, tp_pct=None):
    """With sl_pct / tp_pct, every entry carries that bracket, in percent of the signal bar's
    close (aibt's stop_loss_pct / take_profit_pct, as tests/agreement.rs configures them)."""
    try:
        import backtesting
        from backtesting import Backtest, Strategy
        from backtesting.lib import crossover
    except Exception as e:  # pragma: no cover
        return {"unavailable": f"{type(e).__name__}: {e}"}

    sl_factor = None if sl_pct is None else 1 - sl_pct / 100
    tp_factor = None if tp_pct is None else 1 + tp_pct / 100

    class SmaCross(Strategy):
        n1 = fast
        n2 = slow

        def init(self):
            self.sma1 = self.I(sma, self.data.Close, self.n1)
            self.sma2 = self.I(sma, self.data.Close, self.n2)

        def next(self):
            if crossover(self.sma1, self.sma2):
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()

    class SmaCrossBracket(SmaCross):
        def next(self):
            if crossover(self.sma1, self.sma2):
                close = self.data.Close[-1]
                bracket = {}
                if sl_factor is not None:
                    bracket["sl"] = close * sl_factor
                if tp_factor is not None:
                    bracket["tp"] = close * tp_factor
                self.buy(**bracket)
            elif crossover(self.sma2, self.sma1):
                self.position.close()

    brackets = sl_factor is not None or tp_factor is not None

    def run():
        bt = Backtest(df, SmaCrossBracket if brackets else SmaCross, cash=cash,
                      commission=commission, trade_on_close=False,
                      exclusive_orders=False, finalize_trades=False, hedging=False,
                      margin=1.0, spread=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bt.run()

    best, times, stats = best_of(run, runs)
    trades = stats._trades
    return {
        "version": backtesting.__version__,
        "sl_pct": sl_pct,
        "tp_pct": tp_pct,
        "bars": len(df),
        "seconds": best,
        "runs_seconds": times,
        "bars_per_sec": len(df) / best,
        "final_equity": float(stats["Equity Final [$]"]),
        "trades": int(stats["# Trades"]),
        "open_trades_at_end": len(stats._strategy.trades),
        **(bracket_exits(df, trades, fast, slow) if brackets else {}),
        "timed": "Backtest(...) + run(): indicators, event loop and compute_stats",
    }


# ------------------------------------------------------------------ vectorbt

def bench_vectorbt(df, fast, slow, runs, cash=CASH, commission=COMMISSION):
    try:
        import vectorbt as vbt
    except Exception as e:
        return {"unavailable": f"{type(e).__name__}: {e}"}

    close = df["Close"]
    open_ = df["Open"]

    def run():
        golden, death = crosses(close.to_numpy(), fast, slow)
        # Signal at bar i's close -> market order filled at bar i+1's open:
        # shift the signals one bar and execute at the Open price. A signal on the
        # last bar is dropped, as backtesting.py never fills it either.
        entries = pd.Series(np.r_[False, golden[:-1]], index=df.index)
        exits = pd.Series(np.r_[False, death[:-1]], index=df.index)
        pf = vbt.Portfolio.from_signals(
            close, entries, exits, price=open_, fees=commission, init_cash=cash,
            size=np.inf, size_granularity=1, accumulate=False, freq="1min")
        final = float(pf.final_value())
        closed = int(pf.trades.closed.count())
        open_n = int(pf.trades.open.count())
        return final, closed, open_n

    best, times, (final, closed, open_n) = best_of(run, runs)
    return {
        "version": vbt.__version__,
        "bars": len(df),
        "seconds": best,
        "runs_seconds": times,
        "bars_per_sec": len(df) / best,
        "final_equity": final,
        "trades": closed,
        "open_trades_at_end": open_n,
        "timed": "SMA + crossover signals, Portfolio.from_signals, final_value, trade counts "
                 "(first run includes numba JIT compilation)",
        "fills": "next-bar open (signals shifted one bar, price=Open); equity marked at Close; "
                 "size=np.inf with size_granularity=1 buys floor(cash / (open * (1 + fees))) units",
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=300_000)
    ap.add_argument("--fast", type=int, default=10)
    ap.add_argument("--slow", type=int, default=20)
    ap.add_argument("--cash", type=float, default=CASH)
    ap.add_argument("--commission", type=float, default=COMMISSION)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per library (best is kept)")
    ap.add_argument("--sl-pct", type=float, default=0.1,
                    help="bracket scenario: stop-loss in %% below the signal bar's close")
    ap.add_argument("--tp-pct", type=float, default=0.2,
                    help="bracket scenario: take-profit in %% above the signal bar's close")
    ap.add_argument("--no-brackets", action="store_true", help="skip the bracket scenario")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    df = load_tiled(args.bars)
    res = {
        "bars": len(df),
        "fast": args.fast,
        "slow": args.slow,
        "cash": args.cash,
        "commission": args.commission,
        "data": "INDEX2006_1m.csv tiled",
        "python": sys.version.split()[0],
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "backtesting_py": bench_backtesting_py(df, args.fast, args.slow, args.runs, args.cash, args.commission),
        "vectorbt": bench_vectorbt(df, args.fast, args.slow, args.runs, args.cash, args.commission),
    }
    if not args.no_brackets:
        res["backtesting_py_brackets"] = bench_backtesting_py(
            df, args.fast, args.slow, args.runs, args.cash, args.commission,
            sl_pct=args.sl_pct, tp_pct=args.tp_pct)
    if args.json:
        print(json.dumps(res))
        return
    print(f"bars: {len(df)} (INDEX2006_1m.csv tiled), SMA({args.fast})/SMA({args.slow}), "
          f"cash {args.cash:,.0f}, commission {args.commission:g}, best of {args.runs}")
    for name in ("backtesting_py", "vectorbt", "backtesting_py_brackets"):
        if name not in res:
            continue
        r = res[name]
        if "unavailable" in r:
            print(f"{name}: unavailable ({r['unavailable']})")
            continue
        print(f"{name} {r['version']}: bars={r['bars']} seconds={r['seconds']:.3f} "
              f"bars/sec={r['bars_per_sec']:,.0f} final_equity={r['final_equity']:.2f} "
              f"trades={r['trades']} (+{r['open_trades_at_end']} open)"
              + (f" bracket sl={r['sl_pct']}% tp={r['tp_pct']}%: {r['stop_loss_exits']} stop-loss "
                 f"and {r['take_profit_exits']} take-profit exits" if r.get("sl_pct") is not None
                 or r.get("tp_pct") is not None else ""))


if __name__ == "__main__":
    main()
