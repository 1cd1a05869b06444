#!/usr/bin/env python3
"""The order rules of tools/reference/README.md ("Orders: what backtesting.py 0.6.6 does"),
restated as a small exact-decimal simulator and checked against the fixtures that
backtesting_py_orders.py wrote. It does not import backtesting.py: it only reads the
sample CSV and a fixture's settings, so agreement shows that the README's rules are complete.

    python tools/reference/check_order_rules.py            # every order fixture
    python tools/reference/check_order_rules.py goog_sma_limit

Money is decimal.Decimal (like aibt); bracket and limit prices are Close * factor in decimal
(backtesting.py computes them in float64; the fixtures' min_relative_trigger_gap shows that
no trigger is close enough for that to matter). Exits, sizes and bars must match exactly,
prices to 1e-12 relative, P&L, cash and every equity point to half a cent.
"""
from __future__ import annotations

import csv
import json
import sys
from decimal import ROUND_FLOOR, Decimal as D, getcontext
from pathlib import Path

getcontext().prec = 50

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SAMPLE_DIR = REPO / "crates" / "aibt-data" / "sample"
OUT_DIR = REPO / "crates" / "aibt-engine" / "tests" / "fixtures" / "backtesting_py"
ORDER_FIXTURES = [
    "goog_sma_bracket", "goog_sma_bracket_reverse", "btcusd_1h_sma_bracket",
    "eurusd_sma_bracket", "goog_sma_limit", "goog_sma_limit_bracket", "goog_sma_spread",
    "goog_sma_bracket_spread",
]


def load(file):
    with open(SAMPLE_DIR / file) as f:
        rows = list(csv.DictReader(f))
    return [{k: D(r[k]) for k in ("open", "high", "low", "close")} for r in rows]


def dec(x):
    return None if x is None else D(repr(x))


def simulate(fx):
    s = fx["settings"]
    bars = load(s["file"])
    n = len(bars)
    cash = D(s["cash"])
    c = dec(s["commission"])
    spread = dec(s["spread"])
    ttl = s["order_ttl_bars"]
    f = {k: dec(s[f"{k}_factor"]) for k in ("long_sl", "long_tp", "short_sl", "short_tp", "limit")}
    signals = {x["bar"]: x["kind"] for x in fx["signals"]}  # crossover bars (SMAs not redone)

    def commission(size, price):
        return abs(size) * price * c

    trades = []   # open: dict(size, entry, bar, sl, tp, armed)
    closed = []
    closes = []   # trades with a pending position.close() order
    entries = []  # pending entry orders: dict(side, limit, sl, tp, placed)
    equity = []

    def close_trade(t, price, i, why):
        nonlocal cash
        trades.remove(t)
        cash += t["size"] * (price - t["entry"]) - commission(t["size"], price)
        closed.append(dict(t, exit=price, exit_bar=i, why=why))

    def test_bracket(t, b, i):
        """SL first (it sits ahead of the TP in the queue), then TP. True if closed."""
        long = t["size"] > 0
        if t["sl"] is not None and (b["low"] <= t["sl"] if long else b["high"] >= t["sl"]):
            close_trade(t, min(b["open"], t["sl"]) if long else max(b["open"], t["sl"]), i, "SL")
            return True
        if t["tp"] is not None and (b["high"] >= t["tp"] if long else b["low"] <= t["tp"]):
            close_trade(t, max(b["open"], t["tp"]) if long else min(b["open"], t["tp"]), i, "TP")
            return True
        return False

    first = fx["first_next_bar"]
    for i in range(first, n):
        b = bars[i]
        # ---- broker: 1. position.close() orders, at the open, unadjusted price
        for t in closes:
            if t in trades:
                close_trade(t, b["open"], i, "signal")
        closes = []
        # ---- 2. brackets of trades that were open before this bar
        for t in list(trades):
            if t["armed"]:
                test_bracket(t, b, i)
        # ---- 3. entry orders, in placing order
        for o in list(entries):
            long = o["side"] > 0
            if o["limit"] is None:
                price = b["open"]
            elif (b["low"] <= o["limit"]) if long else (b["high"] >= o["limit"]):
                price = min(b["open"], o["limit"]) if long else max(b["open"], o["limit"])
            else:
                continue
            entries.remove(o)
            adj = price * (1 + spread) if long else price * (1 - spread)
            # flat here in every scenario, so margin_available == cash
            assert not trades
            units = (cash / (adj + price * c)).to_integral_value(ROUND_FLOOR)
            assert units >= 1
            size = units if long else -units
            cash -= commission(size, adj)
            t = dict(size=size, entry=adj, bar=i, sl=o["sl"], tp=o["tp"], armed=False)
            trades.append(t)
            if o["limit"] is None:
                test_bracket(t, b, i)  # market entry: bracket tested on the entry bar too
        for t in trades:
            t["armed"] = True
        equity.append(cash + sum(t["size"] * (b["close"] - t["entry"]) for t in trades))

        # ---- strategy (next() at the close of bar i)
        if ttl is not None:
            entries = [o for o in entries if i - o["placed"] < ttl]
        kind = signals.get(i)
        if kind is None:
            continue
        mode = s["mode"]
        cl = b["close"]
        if kind == "death" or mode == "reverse":
            closes = list(trades)
        side = +1 if kind == "golden" else (-1 if mode == "reverse" else 0)
        if side:
            p = "long" if side > 0 else "short"
            entries.append(dict(
                side=side, placed=i,
                limit=cl * f["limit"] if (side > 0 and f["limit"] is not None) else None,
                sl=cl * f[f"{p}_sl"] if f[f"{p}_sl"] is not None else None,
                tp=cl * f[f"{p}_tp"] if f[f"{p}_tp"] is not None else None))
    return closed, trades, cash, [D(s["cash"])] * first + equity


def rel(a, b):
    return abs(D(a) - D(b)) / max(abs(D(b)), D("1e-12"))


def check(name):
    fx = json.loads((OUT_DIR / f"{name}.json").read_text())
    closed, open_, cash, equity = simulate(fx)
    exp = fx["trades"]
    key = lambda t: t["EntryBar"]  # noqa: E731
    closed.sort(key=lambda t: t["bar"])
    exp = sorted(exp, key=key)
    assert len(closed) == len(exp), (name, len(closed), len(exp))
    worst_px = D(0)
    for ours, theirs in zip(closed, exp):
        assert (ours["bar"], ours["exit_bar"], int(ours["size"]), ours["why"]) == \
            (theirs["EntryBar"], theirs["ExitBar"], theirs["Size"], theirs["exit_reason"]), \
            (name, ours, theirs)
        for a, b in ((ours["entry"], theirs["EntryPrice"]), (ours["exit"], theirs["ExitPrice"])):
            worst_px = max(worst_px, rel(a, dec(b)))
        pnl = ours["size"] * (ours["exit"] - ours["entry"]) \
            - abs(ours["size"]) * (ours["entry"] + ours["exit"]) * dec(fx["settings"]["commission"])
        assert abs(pnl - dec(theirs["PnL"])) < D("0.005"), (name, pnl, theirs)
    assert worst_px < D("1e-12"), (name, worst_px)
    assert [(t["bar"], int(t["size"])) for t in open_] == \
        [(t["EntryBar"], t["Size"]) for t in fx["open_trades_at_end"]], name
    assert abs(cash - dec(fx["final_cash"])) < D("0.005"), (name, cash, fx["final_cash"])
    assert len(equity) == len(fx["equity"])
    worst_eq = max(abs(a - dec(b)) for a, b in zip(equity, fx["equity"]))
    assert worst_eq < D("0.005"), (name, worst_eq)
    final = equity[-1]
    assert abs(final - dec(fx["stats"]["Equity Final [$]"])) < D("0.005")
    print(f"{name:26s} ok: {len(closed)} trades (+{len(open_)} open), final equity "
          f"{final:.6f}, worst equity point off by {worst_eq:.2e}, worst price rel {worst_px:.1e}")


def main(names):
    for name in names or ORDER_FIXTURES:
        check(name)


if __name__ == "__main__":
    main(sys.argv[1:])
