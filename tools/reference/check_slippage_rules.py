#!/usr/bin/env python3
"""aibt's slippage rule, as exact-decimal Python, checked against the vectorbt fixtures that
vectorbt_slippage_fixtures.py writes (crates/aibt-engine/tests/fixtures/vectorbt/). It does
not import vectorbt: it reads only the sample CSV and a fixture's settings and signals.

    python tools/reference/check_slippage_rules.py            # every vectorbt fixture
    python tools/reference/check_slippage_rules.py goog_sma_slippage

The rule (tools/reference/README.md, "Slippage: what vectorbt 1.2.0 does"), with P the raw
fill price (Open of the bar after the signal), s the slippage, c the commission rate:

- a buy or a cover fills at P*(1+s), a sell or a short at P*(1-s);
- commission = |q| * fill price * c, charged on every fill;
- all-in buy: q = floor(cash / (P*(1+s)*(1+c))) in units (1 share, or 1e-8);
- all-in short (margin ratio 1): q = floor(cash / (P*(1-s)*(1+c))); the short locks
  q*P*(1-s) of cash as margin plus its commission;
- a reversal closes first, then sizes the new side on the cash after the close;
- equity at a bar's close = cash + long q*Close, or cash + margin + q*(entry - Close) short.

It runs the rule three ways (check_fixture):

1. rule + vectorbt's cash snap (add_nb zeroes a cash left within 1e-9 of a buy's cost): must
   give vectorbt's orders exactly (sides, bars, sizes to the unit), prices to 1e-14 relative,
   fees, P&L, cash and every equity point to 1e-6;
2. the rule exactly (unbounded decimals);
3. the rule with money rounded the way aibt stores it (fill price, notional, commission and
   margin rounded half away from zero to 8 places; the all-in size the largest whose rounded
   cost fits the cash, as aibt's affordable_quantity finds it).

2 and 3 must give vectorbt's fills with money to 1e-4 (far below a cent); with whole shares
also every size exactly; with 1e-8 units a size may differ by a few units, each difference
explained by the cash the all-in buy saw (explain_size_diffs).
"""
from __future__ import annotations

import csv
import json
import sys
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal as D, getcontext
from pathlib import Path

getcontext().prec = 60

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SAMPLE_DIR = REPO / "crates" / "aibt-data" / "sample"
OUT_DIR = REPO / "crates" / "aibt-engine" / "tests" / "fixtures" / "vectorbt"
FIXTURES = ["goog_sma_slippage", "goog_sma_slippage_reverse", "btcusd_1h_sma_slippage"]

MONEY_TOL = D("1e-6")       # fees, P&L, cash, equity, rule+snap vs vectorbt (a cent is 1e-2)
AIBT_MONEY_TOL = D("1e-4")  # the same, aibt's rule vs vectorbt (its dropped residues)
PRICE_REL_TOL = D("1e-14")  # vectorbt's float price*(1+s) against the exact product


def load(file):
    with open(SAMPLE_DIR / file) as f:
        rows = list(csv.DictReader(f))
    return [{k: D(r[k]) for k in ("open", "close")} for r in rows]


def dec(x):
    return None if x is None else D(repr(x))


def simulate(fx, rounded=False, snap=False):
    """Replays the signals with aibt's rule. Returns fills, closed and open trades, final
    cash (aibt's: margin of a short excluded), the equity curve and the all-in size gaps.

    rounded: money rounded to 8 places as aibt stores it (see the module docstring).
    snap: vectorbt's add_nb (vectorbt/utils/math_.py): the cash left after a buy is set to
    0 when it is within 1e-9 (relative to the order's cost) or 1e-12 of zero."""
    s = fx["settings"]
    bars = load(s["file"])
    n = len(bars)
    c = dec(s["commission"])
    slip = dec(s["slippage"])
    unit = D(1) if s["whole_units"] else D("1e-8")
    mode = s["mode"]
    eight = D("1e-8")

    def R(x):  # how aibt stores money: scale 8, half away from zero
        return x.quantize(eight, rounding=ROUND_HALF_UP) if rounded else x

    def notional(q, price):
        return R(q * price)

    def commission(q, price):
        return R(notional(q, price) * c)

    def opening_cost(q, price, short):
        x = notional(q, price)
        return (R(x * 1) if short else x) + R(x * c)  # short: margin ratio 1, tax 0

    gaps = []

    def all_in(budget, price, short):
        x = budget / (price * (1 + c)) / unit
        q = x.to_integral_value(ROUND_FLOOR)
        gaps.append(min(x - q, q + 1 - x) / x)
        q *= unit
        if rounded:  # aibt's affordable_quantity: the true maximum under rounding
            while q > 0 and opening_cost(q, price, short) > budget:
                q -= unit
            while opening_cost(q + unit, price, short) <= budget:
                q += unit
        return q

    cash = D(s["cash"])
    cover_cost = D(0)  # the cover of a reversal; vectorbt makes it and the buy one order
    snapped = []   # bars where the snap changed the cash
    pos = None     # open trade: dict(dir, q, entry, fee, margin, bar)
    fills = []     # aibt fills: dict(bar, side, q, price, fee)
    closed = []
    equity = []
    fill_at = {x["fill_bar"]: x["kind"] for x in fx["signals"] if x["fill_bar"] is not None}

    def close_position(i, raw):
        nonlocal cash, pos
        t = pos
        if t["dir"] > 0:
            price = R(raw * (1 - slip))
            fee = commission(t["q"], price)
            cash += notional(t["q"], price) - fee
            pnl = notional(t["q"], price) - notional(t["q"], t["entry"]) - t["fee"] - fee
            fills.append(dict(bar=i, side="sell", q=t["q"], price=price, fee=fee))
        else:
            price = R(raw * (1 + slip))
            fee = commission(t["q"], price)
            pnl = notional(t["q"], t["entry"]) - notional(t["q"], price) - t["fee"] - fee
            cash += t["margin"] + notional(t["q"], t["entry"]) - notional(t["q"], price) - fee
            cover_cost = notional(t["q"], price) + fee
            fills.append(dict(bar=i, side="buy", q=t["q"], price=price, fee=fee))
        closed.append(dict(t, exit_bar=i, exit=price, exit_fee=fee, pnl=pnl))
        pos = None

    def open_position(i, raw, direction):
        nonlocal cash, pos, cover_cost
        price = R(raw * (1 + slip)) if direction > 0 else R(raw * (1 - slip))
        q = all_in(cash, price, direction < 0)
        if q <= 0:
            return
        fee = commission(q, price)
        margin = R(notional(q, price) * 1) if direction < 0 else D(0)
        cost = (notional(q, price) if direction > 0 else margin) + fee
        left = cash - cost
        assert left >= 0
        # vectorbt: new_cash = add_nb(cash, -order cost) in buy_nb (nb.py L191), where its
        # cash also holds a short's proceeds and the order also pays the cover.
        order_cost = cost + cover_cost
        near_zero = left <= max(D("1e-9") * (left + order_cost), D("1e-12"))
        if snap and near_zero:
            # sell_nb snaps the free cash instead (L331); no fixture gets there
            assert direction > 0, "a short leaving ~0 free cash is not modelled"
            snapped.append(dict(bar=i, dropped=left))
            left = D(0)
        cash = left
        cover_cost = D(0)
        pos = dict(dir=direction, q=q, entry=price, fee=fee, margin=margin, bar=i)
        fills.append(dict(bar=i, side="buy" if direction > 0 else "sell", q=q, price=price,
                          fee=fee))

    for i in range(n):
        cover_cost = D(0)
        kind = fill_at.get(i)
        raw = bars[i]["open"]
        if kind == "golden":
            if pos is not None and pos["dir"] < 0:
                close_position(i, raw)
            if pos is None:
                open_position(i, raw, +1)
        elif kind == "death":
            if pos is not None and pos["dir"] > 0:
                close_position(i, raw)
            if mode == "reverse" and pos is None:
                open_position(i, raw, -1)
        cl = bars[i]["close"]
        if pos is None:
            equity.append(cash)
        elif pos["dir"] > 0:
            equity.append(cash + notional(pos["q"], cl))
        else:
            equity.append(cash + pos["margin"] + notional(pos["q"], pos["entry"])
                          - notional(pos["q"], cl))
    return dict(fills=fills, closed=closed, open=[pos] if pos else [], cash=cash,
                equity=equity, gaps=gaps, last_close=bars[-1]["close"], snapped=snapped)


def rel(a, b):
    return abs(a - b) / abs(b)


def compare(fx, sim, label, size_units_tol=0, money_tol=MONEY_TOL, price_abs_tol=D(0)):
    """Asserts that the fixture (vectorbt) and the simulation agree: sizes to within
    size_units_tol units, money to money_tol. Returns the worst gaps and the fills and trades
    whose size differs."""
    name = fx["scenario"]
    unit = D(1) if fx["settings"]["whole_units"] else D("1e-8")
    worst = dict(price_rel=D(0), money=D(0), equity=D(0), size_diffs=[])

    def money(a, b, what):
        d = abs(a - b)
        assert d < money_tol, (name, label, what, a, b)
        worst["money"] = max(worst["money"], d)

    def price(a, b, what):
        r = rel(a, b)
        assert r < PRICE_REL_TOL or abs(a - b) <= price_abs_tol, (name, label, what, a, b)
        worst["price_rel"] = max(worst["price_rel"], r)

    def size(vbt_size, q, what):
        v = dec(vbt_size)
        k = v.quantize(unit)
        assert rel(v, k) < D("1e-12"), (name, label, what, v)  # a float k * unit
        assert size_units_tol is None or abs(k - q) <= size_units_tol * unit, \
            (name, label, what, v, q)
        if k != q:
            worst["size_diffs"].append(dict(what=what, vectorbt=k, rule=q))

    # vectorbt fills a reversal as ONE order of |position| + new size; aibt as two fills at
    # the same bar, side and price. Group aibt's fills by bar to compare.
    grouped = []
    for f in sim["fills"]:
        g = grouped[-1] if grouped else None
        if g and g["bar"] == f["bar"]:
            assert g["side"] == f["side"] and g["price"] == f["price"]
            g["q"] += f["q"]
            g["fee"] += f["fee"]
            g["parts"] += 1
        else:
            grouped.append(dict(f, parts=1))
    orders = fx["orders"]
    assert len(grouped) == len(orders), (name, label, len(grouped), len(orders))
    for g, o in zip(grouped, orders):
        assert (g["bar"], g["side"]) == (o["bar"], o["side"]), (name, label, g, o)
        size(o["size"], g["q"], ("order", o["bar"]))
        price(g["price"], dec(o["price"]), ("order price", o["bar"]))
        money(g["fee"], dec(o["fees"]), ("order fees", o["bar"]))

    assert len(sim["closed"]) == len(fx["trades"]), (name, label)
    for t, x in zip(sim["closed"], fx["trades"]):
        assert (t["bar"], t["exit_bar"], "long" if t["dir"] > 0 else "short") == \
            (x["EntryBar"], x["ExitBar"], x["Direction"]), (name, label, t, x)
        size(x["Size"], t["q"], ("trade", t["bar"]))
        price(t["entry"], dec(x["EntryPrice"]), ("entry", t["bar"]))
        price(t["exit"], dec(x["ExitPrice"]), ("exit", t["bar"]))
        money(t["fee"], dec(x["EntryFees"]), ("entry fees", t["bar"]))
        money(t["exit_fee"], dec(x["ExitFees"]), ("exit fees", t["bar"]))
        money(t["pnl"], dec(x["PnL"]), ("pnl", t["bar"]))

    assert len(sim["open"]) == len(fx["open_trades_at_end"]), (name, label)
    for t, x in zip(sim["open"], fx["open_trades_at_end"]):
        assert (t["bar"], "long" if t["dir"] > 0 else "short") == \
            (x["EntryBar"], x["Direction"]), (name, label, t, x)
        size(x["Size"], t["q"], ("open trade", t["bar"]))
        price(t["entry"], dec(x["EntryPrice"]), ("open entry", t["bar"]))
        money(t["fee"], dec(x["EntryFees"]), ("open entry fees", t["bar"]))
        mark = t["dir"] * t["q"] * (sim["last_close"] - t["entry"]) - t["fee"]
        money(mark, dec(x["UnrealizedPnL"]), ("open pnl", t["bar"]))

    # vectorbt's cash holds a short's proceeds; aibt's cash has the margin taken out instead.
    vbt_cash = sim["cash"]
    for t in sim["open"]:
        if t["dir"] < 0:
            vbt_cash += t["margin"] + t["q"] * t["entry"]
    money(vbt_cash, dec(fx["final_cash"]), "final cash")
    assert len(sim["equity"]) == len(fx["equity"]) == fx["settings"]["bars"]
    for i, (a, b) in enumerate(zip(sim["equity"], fx["equity"])):
        d = abs(a - dec(b))
        assert d < money_tol, (name, label, "equity", i, a, b)
        worst["equity"] = max(worst["equity"], d)
    money(sim["equity"][-1], dec(fx["final_equity"]), "final equity")
    return worst


def grouped_sizes(sim):
    """The simulation's sizes laid out as the fixture's orders, trades and open trades."""
    orders, last = [], None  # a reversal's two fills are one vectorbt order (see compare)
    for f in sim["fills"]:
        if last is not None and last["bar"] == f["bar"]:
            last["q"] += f["q"]
        else:
            last = dict(bar=f["bar"], q=f["q"])
            orders.append(last)
    return {
        "orders": [format(o["q"], "f") for o in orders],
        "trades": [format(t["q"], "f") for t in sim["closed"]],
        "open_trades_at_end": [format(t["q"], "f") for t in sim["open"]],
    }


def explain_size_diffs(fx, sim, diffs):
    """A size that differs from vectorbt's must be explained by the cash the all-in buy saw:
    more cash, more units, and no more extra units than the cash difference pays for, plus
    one. Only long-only scenarios can get here (the buys are then made flat: cash = equity)."""
    name = fx["scenario"]
    unit = D(1) if fx["settings"]["whole_units"] else D("1e-8")
    c = dec(fx["settings"]["commission"])
    out = []
    for d in diffs:
        what, bar = d["what"][0], d["what"][1]
        if what != "order":  # the trade rows repeat the orders' sizes
            continue
        assert fx["settings"]["mode"] == "long", (name, d)
        fill = next(f for f in sim["fills"] if f["bar"] == bar)
        if fill["side"] == "sell":  # an exit sells what the entry bought
            continue
        gap = sim["equity"][bar - 1] - dec(fx["equity"][bar - 1])  # flat then: cash only
        extra = d["rule"] - d["vectorbt"]
        assert (extra > 0) == (gap > 0), (name, d, gap)
        assert abs(extra) <= (abs(gap) / (fill["price"] * (1 + c)) // unit + 1) * unit, \
            (name, d, gap)
        out.append({"bar": bar, "vectorbt": format(d["vectorbt"], "f"),
                    "rule": format(d["rule"], "f"), "units": int(extra / unit),
                    "cash_gap": float(gap)})
    return out


def check_fixture(fx):
    """Checks a fixture dict (from disk, or from vectorbt_slippage_fixtures.py before it is
    written) against the rule. Returns the facts worth recording in the fixture."""
    name = fx["scenario"]
    whole = fx["settings"]["whole_units"]
    # 1. vectorbt is the rule plus its cash snap: every size exact, money to 1e-6.
    vb = simulate(fx, snap=True)
    w_vb = compare(fx, vb, "rule+snap")
    assert not w_vb["size_diffs"], name
    # 2. aibt's rule, exactly and with aibt's 8-place money. With whole shares: the same sizes
    #    as vectorbt, to the unit. With 1e-8 units, the all-in buy leaves under one unit's
    #    cost of cash, which vectorbt's snap drops; that, or the 8-place rounding, moves the
    #    cash by a few 1e-8 dollars, enough to move a later all-in floor by a few units.
    #    Each such difference must be explained by the cash difference (explain_size_diffs).
    ex = simulate(fx)
    w_ex = compare(fx, ex, "rule", size_units_tol=0 if whole else None,
                   money_tol=AIBT_MONEY_TOL)
    rd = simulate(fx, rounded=True)
    w_rd = compare(fx, rd, "rule, 8-place money", size_units_tol=0 if whole else None,
                   money_tol=AIBT_MONEY_TOL, price_abs_tol=D("5e-9") + D("1e-12"))
    # Whole shares: no buy leaves cash within 1e-9 of its cost, no snap. 1e-8 units: the
    # residue is under 1e-8 / size of the cost, so every buy snaps.
    buys = sum(1 for f in vb["fills"] if f["side"] == "buy")
    assert len(vb["snapped"]) == (0 if whole else buys), name
    drift = max(abs(a - b) for a, b in zip(ex["equity"], rd["equity"]))
    diffs_ex = explain_size_diffs(fx, ex, w_ex["size_diffs"])
    diffs_rd = explain_size_diffs(fx, rd, w_rd["size_diffs"])
    units = [abs(d["units"]) for d in diffs_ex + diffs_rd]
    return {
        "rule_sizes": grouped_sizes(ex),
        "rule_8dp_sizes": grouped_sizes(rd),
        "min_relative_size_gap": float(min(ex["gaps"])),
        "summary": {
            "checker": "tools/reference/check_slippage_rules.py",
            "fills": len(ex["fills"]),
            "exact_final_cash": str(ex["cash"]),
            "exact_final_equity": str(ex["equity"][-1]),
            "aibt_8dp_final_equity": str(rd["equity"][-1]),
            "worst_equity_point_rule_vs_vectorbt": float(w_ex["equity"]),
            "worst_money_rule_vs_vectorbt": float(w_ex["money"]),
            "worst_price_rel_rule_vs_vectorbt": float(w_ex["price_rel"]),
            "worst_equity_point_8dp_vs_vectorbt": float(w_rd["equity"]),
            "worst_money_8dp_vs_vectorbt": float(w_rd["money"]),
            "exact_vs_8dp_equity_drift": float(drift),
            "max_size_difference_units": max(units, default=0),
            "size_differences_rule_vs_vectorbt": diffs_ex,
            "size_differences_8dp_vs_vectorbt": diffs_rd,
            "vectorbt_cash_snaps": [
                {"bar": x["bar"], "dropped": str(x["dropped"])} for x in vb["snapped"]],
            "worst_equity_point_rule_plus_snap_vs_vectorbt": float(w_vb["equity"]),
            "min_relative_size_gap_rule_plus_snap": float(min(vb["gaps"])),
        },
    }


def main(names):
    for name in names or FIXTURES:
        fx = json.loads((OUT_DIR / f"{name}.json").read_text())
        report = check_fixture(fx)
        assert report["min_relative_size_gap"] == fx["min_relative_size_gap"], name
        assert report["summary"] == fx["exact_check"], name
        for key in ("orders", "trades", "open_trades_at_end"):
            assert [o["rule_size"] for o in fx[key]] == report["rule_sizes"][key], name
            assert [o["rule_8dp_size"] for o in fx[key]] == report["rule_8dp_sizes"][key], name
        s = report["summary"]
        print(f"{name:26s} ok: {len(fx['trades'])} trades (+{len(fx['open_trades_at_end'])} "
              f"open), {s['fills']} fills, final equity {s['exact_final_equity']} (8-place "
              f"money {s['aibt_8dp_final_equity']}); vectorbt's within "
              f"{s['worst_equity_point_rule_vs_vectorbt']:.1e} at every bar, sizes within "
              f"{s['max_size_difference_units']} units")


if __name__ == "__main__":
    main(sys.argv[1:])
