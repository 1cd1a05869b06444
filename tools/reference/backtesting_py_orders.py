#!/usr/bin/env python3
"""Reference fixtures from backtesting.py 0.6.6 for orders beyond "market, next open":
stop-loss / take-profit brackets, limit entries (with a time-to-live) and spread.

Same SMA(10)/SMA(20) crossover and JSON layout as backtesting_py_fixtures.py (whose helpers
this imports), plus per trade the bracket (`SL`, `TP`), why it ended (`exit_reason`) and a
log of every entry order. Writes crates/aibt-engine/tests/fixtures/backtesting_py/<name>.json.

    python tools/reference/backtesting_py_orders.py

The rules these fixtures exercise are written out in tools/reference/README.md, section
"Orders: what backtesting.py 0.6.6 does".
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backtesting_py_fixtures as base  # noqa: E402  (sets TQDM_DISABLE before backtesting)
from backtesting_py_fixtures import (  # noqa: E402
    COMMON, SAMPLE_DIR, jfloat, jtime, load_ohlcv, open_trade_row, run_backtest,
    sma, sma_signals, stats_context_of, stats_dict, trade_row, write_fixture,
)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import backtesting  # noqa: E402
from backtesting import Strategy  # noqa: E402
from backtesting.lib import crossover  # noqa: E402

GENERATOR = "tools/reference/backtesting_py_orders.py"

# name, file, cash, mode, strategy parameters, Backtest settings that differ from COMMON.
# Factors multiply the signal bar's Close (self.data.Close[-1]) in binary floating point.
GOOG_BRACKET = dict(long_sl=0.95, long_tp=1.10)
SCENARIOS = [
    ("goog_sma_bracket", "GOOG_1d.csv", 10_000, "long", GOOG_BRACKET, {}),
    ("goog_sma_bracket_reverse", "GOOG_1d.csv", 10_000, "reverse",
     dict(GOOG_BRACKET, short_sl=1.05, short_tp=0.90), {}),
    ("btcusd_1h_sma_bracket", "BTCUSD_1h.csv", 100_000, "long",
     dict(long_sl=0.98, long_tp=1.04), {}),
    # Tight enough that some exit bars reach both SL and TP (SL wins) and many market entries
    # are stopped out on their own entry bar.
    ("eurusd_sma_bracket", "EURUSD_1h.csv", 10_000, "long",
     dict(long_sl=0.9985, long_tp=1.0015), {}),
    ("goog_sma_limit", "GOOG_1d.csv", 10_000, "long", dict(limit=0.99, ttl=1), {}),
    # Brackets of a limit entry are not tested on the fill bar (backtesting.py warns instead);
    # with 3% / 3% that happens 5 times here.
    ("goog_sma_limit_bracket", "GOOG_1d.csv", 10_000, "long",
     dict(long_sl=0.97, long_tp=1.03, limit=0.99, ttl=1), {}),
    ("goog_sma_spread", "GOOG_1d.csv", 10_000, "long", {}, dict(spread=0.001)),
    ("goog_sma_bracket_spread", "GOOG_1d.csv", 10_000, "long", GOOG_BRACKET,
     dict(spread=0.001)),
]


class SmaOrders(Strategy):
    """SMA crossover whose entries may carry a bracket and/or a limit price.

    mode "long":    golden cross -> buy(limit?, sl?, tp?); death cross -> position.close()
    mode "reverse": golden cross -> position.close(); buy(...)
                    death cross  -> position.close(); sell(...)
    ttl (order_ttl_bars): an entry order still unfilled `ttl` bars after the bar it was
    placed on is cancelled at the start of next(), i.e. after the broker has tried to fill
    it on that bar. The order can therefore fill on bars placed+1 .. placed+ttl only.

    Besides trading, it logs what the fixture needs: every entry order and its fate, the
    bracket each trade carried at entry, and the bars where position.close() was called.
    """
    fast = 10
    slow = 20
    mode = "long"
    long_sl = None
    long_tp = None
    short_sl = None
    short_tp = None
    limit = None
    ttl = None

    def init(self):
        self.sma1 = self.I(sma, self.data.Close, self.fast)
        self.sma2 = self.I(sma, self.data.Close, self.slow)
        self.order_log = []        # one dict per entry order, in placing order
        self.pending = {}          # Order -> its order_log dict, while unfilled
        self.close_calls = {}      # id(Trade) -> bar of the position.close() that targets it
        self.entry_snapshot = {}   # id(Trade) -> {"sl", "tp", "order"} as seen at entry
        self._n_closed_seen = 0

    # ------------------------------------------------------------ bookkeeping

    def _track_fills(self, i):
        """Attach trades that appeared since the last next() to the order that made them."""
        closed = self.closed_trades
        new = [t for t in self.trades if id(t) not in self.entry_snapshot]
        new += [t for t in closed[self._n_closed_seen:] if id(t) not in self.entry_snapshot]
        self._n_closed_seen = len(closed)
        live = set(map(id, self.orders))
        gone = [o for o in self.pending if id(o) not in live]
        assert len(gone) <= 1 and len(new) <= len(gone), (i, gone, new)
        for o in gone:
            rec = self.pending.pop(o)
            if new:
                (t,) = new
                assert t.entry_bar == i and (t.size > 0) == (rec["side"] == "buy")
                rec.update(status="filled", fill_bar=i, fill_time=jtime(self.data.index[-1]),
                           fill_price=t.entry_price, size=int(t.size))
                self.entry_snapshot[id(t)] = {"sl": t.sl, "tp": t.tp, "order": rec["index"]}
            else:  # removed by the broker: "canceled ... due to insufficient margin"
                rec.update(status="rejected", rejected_bar=i)

    def _entry(self, side, i):
        close = self.data.Close[-1]
        if side > 0:
            sl = None if self.long_sl is None else close * self.long_sl
            tp = None if self.long_tp is None else close * self.long_tp
        else:
            sl = None if self.short_sl is None else close * self.short_sl
            tp = None if self.short_tp is None else close * self.short_tp
        # The limit rule is for the long entry (the only limit scenario is long-only).
        limit = None if (self.limit is None or side < 0) else close * self.limit
        kwargs = {k: v for k, v in (("limit", limit), ("sl", sl), ("tp", tp)) if v is not None}
        order = self.buy(**kwargs) if side > 0 else self.sell(**kwargs)
        rec = {"index": len(self.order_log), "placed_bar": i, "placed_time": jtime(self.data.index[-1]),
               "side": "buy" if side > 0 else "sell", "reference_close": float(close),
               "limit": limit, "sl": sl, "tp": tp, "status": "pending_at_end"}
        assert order.limit == (None if limit is None else float(limit))
        assert order.sl == (None if sl is None else float(sl))
        assert order.tp == (None if tp is None else float(tp))
        self.order_log.append(rec)
        self.pending[order] = rec

    def _close(self, i):
        for t in self.trades:
            self.close_calls[id(t)] = i
        self.position.close()

    # ------------------------------------------------------------ strategy

    def next(self):
        i = len(self.data) - 1
        self._track_fills(i)
        if self.ttl is not None:
            for o, rec in list(self.pending.items()):
                if i - rec["placed_bar"] >= self.ttl:
                    o.cancel()
                    del self.pending[o]
                    rec.update(status="cancelled", cancelled_bar=i)
        if crossover(self.sma1, self.sma2):
            if self.mode == "reverse":
                self._close(i)
            self._entry(+1, i)
        elif crossover(self.sma2, self.sma1):
            self._close(i)
            if self.mode == "reverse":
                self._entry(-1, i)


def strategy_code(mode, p):
    def fmt(f):
        return f"self.data.Close[-1]*{f!r}"

    def args(side):
        out = []
        if side == "buy" and p.get("limit") is not None:
            out.append(f"limit={fmt(p['limit'])}")
        for k in ("sl", "tp"):
            f = p.get(f"{'long' if side == 'buy' else 'short'}_{k}")
            if f is not None:
                out.append(f"{k}={fmt(f)}")
        return ", ".join(out)

    lines = []
    if p.get("ttl") is not None:
        lines.append(f"for o in entry orders placed >= {p['ttl']} bars ago and still unfilled: "
                     "o.cancel()  # first, before the signals")
    if mode == "long":
        lines.append(f"if crossover(self.sma1, self.sma2): self.buy({args('buy')})")
        lines.append("elif crossover(self.sma2, self.sma1): self.position.close()")
    else:
        lines.append("if crossover(self.sma1, self.sma2): "
                     f"self.position.close(); self.buy({args('buy')})")
        lines.append("elif crossover(self.sma2, self.sma1): "
                     f"self.position.close(); self.sell({args('sell')})")
    return "\n".join(lines)


# ---------------------------------------------------------------- exit reasons

def classify_exit(df, t, close_calls):
    """Why a closed trade ended, re-derived from backtesting.py's rules and checked.

    "signal": the strategy's position.close() of bar b filled at Open[b+1] (such an order
    sits at the head of the queue, so it beats the trade's SL/TP on that bar).
    "SL" / "TP": the bracket order filled; the price must be exactly what
    _Broker._process_orders computes (stop: min/max(Open, sl); limit: max/min(Open, tp)).
    """
    o, h, lo = (df.Open.iat[t.exit_bar], df.High.iat[t.exit_bar], df.Low.iat[t.exit_bar])
    px, sl, tp, long = t.exit_price, t.sl, t.tp, t.size > 0
    if id(t) in close_calls and t.exit_bar == close_calls[id(t)] + 1:
        assert px == o, (t, px, o)
        return "signal"
    sl_hit = sl is not None and (lo <= sl if long else h >= sl)
    tp_hit = tp is not None and (h >= tp if long else lo <= tp)
    candidates = []
    if sl_hit and px == (min(o, sl) if long else max(o, sl)):
        candidates.append("SL")
    if tp_hit and px == (max(o, tp) if long else min(o, tp)):
        candidates.append("TP")
    assert len(candidates) == 1, (t, candidates, o, h, lo)
    # SL precedes TP in the order queue: a TP exit means the SL was not touched.
    assert candidates != ["TP"] or not sl_hit, t
    return candidates[0]


def bracket_deferred(df, t, entry_kind):
    """True when a limit entry's own bar reached its SL or TP: backtesting.py does not test
    the bracket on that bar (it warns "A contingent SL/TP order would execute in the same bar
    its parent stop/limit order was turned into a trade") and tests it from the next bar."""
    if entry_kind != "limit" or (t.sl is None and t.tp is None):
        return False
    assert t.exit_bar > t.entry_bar, t
    h, lo = df.High.iat[t.entry_bar], df.Low.iat[t.entry_bar]
    long = t.size > 0
    return bool((t.sl is not None and (lo <= t.sl if long else h >= t.sl)) or
                (t.tp is not None and (h >= t.tp if long else lo <= t.tp)))


def trigger_gaps(df, closed, open_trades, orders):
    """Smallest relative distance between a live order's trigger price and the bar extreme it
    was tested against (Low/High), over every bar the order was tested on. Far above 1e-12,
    so computing Close*factor in decimal instead of binary cannot flip a trigger."""
    gap = math.inf
    last = len(df) - 1
    for t in list(closed) + list(open_trades):
        long = t.size > 0
        end = t.exit_bar if t.exit_bar is not None else last
        for b in range(t.entry_bar, end + 1):
            h, lo = df.High.iat[b], df.Low.iat[b]
            if t.sl is not None:
                gap = min(gap, abs((lo if long else h) - t.sl) / t.sl)
            if t.tp is not None:
                gap = min(gap, abs((h if long else lo) - t.tp) / t.tp)
    for rec in orders:
        if rec["limit"] is None:
            continue
        stop = rec.get("fill_bar") or rec.get("cancelled_bar") or rec.get("rejected_bar")
        for b in range(rec["placed_bar"] + 1, (stop if stop is not None else last) + 1):
            x = df.Low.iat[b] if rec["side"] == "buy" else df.High.iat[b]
            gap = min(gap, abs(x - rec["limit"]) / rec["limit"])
    return gap


# ---------------------------------------------------------------- scenarios

def run_scenario(name, file, cash, mode, params, overrides):
    df = load_ohlcv(SAMPLE_DIR / file)
    settings = dict(COMMON, **overrides)
    fast, slow = 10, 20
    stats, warn_msgs = run_backtest(df, SmaOrders, cash, settings,
                                    fast=fast, slow=slow, mode=mode, **params)
    strategy = stats._strategy
    broker = strategy._broker
    sma1_full, sma2_full, warmup, first_next_bar, signals, min_gap = \
        sma_signals(df, stats, fast, slow)
    for rec in strategy.order_log:
        for k in ("limit", "sl", "tp", "fill_price"):
            if k in rec:
                rec[k] = jfloat(rec[k])

    closed = broker.closed_trades
    trades_df = stats._trades
    assert len(trades_df) == len(closed)
    trades = []
    reasons = {"SL": 0, "TP": 0, "signal": 0}
    for row, t in zip(trades_df.itertuples(index=False), closed):
        assert (row.EntryBar, row.ExitBar, row.Size) == (t.entry_bar, t.exit_bar, t.size)
        snap = strategy.entry_snapshot[id(t)]
        # The bracket as recorded at entry is still the one in stats._trades (never modified).
        assert (snap["sl"], snap["tp"]) == (t.sl, t.tp), (snap, t.sl, t.tp)
        assert (jfloat(row.SL), jfloat(row.TP)) == (jfloat(t.sl), jfloat(t.tp))
        reason = classify_exit(df, t, strategy.close_calls)
        reasons[reason] += 1
        long = t.size > 0
        h, lo = df.High.iat[t.exit_bar], df.Low.iat[t.exit_bar]
        entry_kind = "limit" if strategy.order_log[snap["order"]]["limit"] is not None \
            else "market"
        rec = trade_row(row)
        rec.update({
            "SL": jfloat(t.sl),
            "TP": jfloat(t.tp),
            "Tag": t.tag,
            "exit_reason": reason,
            "entry_order": snap["order"],
            "entry_kind": entry_kind,
            "same_bar_exit": bool(t.entry_bar == t.exit_bar),
            "bracket_deferred": bracket_deferred(df, t, entry_kind),
            # Did the exit bar's range reach both bracket prices? (then SL won, see README)
            "exit_bar_touched_sl_and_tp": bool(
                t.sl is not None and t.tp is not None
                and (lo <= t.sl if long else h >= t.sl)
                and (h >= t.tp if long else lo <= t.tp)),
        })
        trades.append(rec)

    open_trades = []
    for t in strategy.trades:
        rec = open_trade_row(df, broker, t)
        rec.update({"SL": jfloat(t.sl), "TP": jfloat(t.tp), "Tag": t.tag,
                    "entry_order": strategy.entry_snapshot[id(t)]["order"]})
        open_trades.append(rec)
    n_orders = {s: sum(r["status"] == s for r in strategy.order_log)
                for s in ("filled", "cancelled", "rejected", "pending_at_end")}
    equity = [jfloat(x) for x in stats._equity_curve["Equity"].to_numpy()]

    out = {
        "scenario": name,
        "generator": GENERATOR,
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
            **settings,
            "size": "default (Strategy._FULL_EQUITY = 1 - sys.float_info.epsilon)",
            "indicator": "pd.Series(close).rolling(n).mean() via Strategy.I",
            "crossover": "backtesting.lib.crossover: a[-2] < b[-2] and a[-1] > b[-1]",
            "long_sl_factor": params.get("long_sl"),
            "long_tp_factor": params.get("long_tp"),
            "short_sl_factor": params.get("short_sl"),
            "short_tp_factor": params.get("short_tp"),
            "limit_factor": params.get("limit"),
            "order_ttl_bars": params.get("ttl"),
            "factor_rule": "price = self.data.Close[-1] * factor (float64) at the signal bar",
            "strategy_next": strategy_code(mode, params),
            "index": "timestamp parsed by pandas, tz dropped (wall time kept)",
        },
        "first_next_bar": first_next_bar,
        "buy_and_hold_reference_bar": warmup,
        "stats_context": stats_context_of(df, warmup, first_next_bar),
        "stats": stats_dict(stats),
        "trades": trades,
        "exit_reasons": reasons,
        "open_trades_at_end": open_trades,
        "final_cash": jfloat(broker._cash),
        "equity": equity,
        "orders": strategy.order_log,
        "order_counts": n_orders,
        "signals": signals,
        "min_relative_sma_gap": jfloat(min_gap),
        "min_relative_trigger_gap": jfloat(
            trigger_gaps(df, closed, strategy.trades, strategy.order_log)),
        "indicators": {
            "sma_fast": [jfloat(x) for x in sma1_full],
            "sma_slow": [jfloat(x) for x in sma2_full],
        },
        "warnings": warn_msgs,
    }
    path = write_fixture(name, out)
    print(f"{name:26s} bars={len(df):5d} final_equity={float(stats['Equity Final [$]'])!r} "
          f"trades={stats['# Trades']} open={len(open_trades)} exits={reasons} "
          f"orders={n_orders} -> {path.relative_to(base.REPO)}")
    return out


def main(names=None):
    for sc in SCENARIOS:
        if names and sc[0] not in names:
            continue
        run_scenario(*sc)


if __name__ == "__main__":
    main(sys.argv[1:])
