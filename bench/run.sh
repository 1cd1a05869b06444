#!/usr/bin/env bash
# aibt's speed benchmark, in one run:
#   1. backtesting.py 0.6.6 and vectorbt (if installed) on INDEX2006_1m tiled to BARS bars;
#   2. aibt's engine on the same bars, strategy and fees (in memory);
#      1 and 2 again with a bracket on every entry (stop-loss SL_PCT%, take-profit TP_PCT%
#      of the signal bar's close; backtesting.py only);
#   3. the whole `aibt backtest` command, writing every snapshot to a fresh SQLite file,
#      at BARS/3, BARS and 2×BARS bars (for memory flatness);
#   4. large histories (bench/large_histories.py): the whole `aibt backtest --data FILE`
#      against backtesting.py's run of step 1, the import and the run alone, bytes per stored
#      snapshot, the same on PostgreSQL, and LARGE_BARS bars (memory, API latency).
# Prints bars/s of each and the ratios; writes target/bench/engine.json and
# target/bench/large_histories.json.
#
#   bench/run.sh [BARS]          (default 308890, INDEX2006_1m tiled ten times; SL_PCT=0.1
#                                 TP_PCT=0.2 LARGE_BARS=10000000 in the environment,
#                                 LARGE_BARS=0 skips the ten million bars)
#
# The Python side needs the venv of tools/reference (created here if missing; the PyPI
# registry must be reachable the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
BARS="${1:-308890}"
LARGE_BARS="${LARGE_BARS:-10000000}"
SL_PCT="${SL_PCT:-0.1}"
TP_PCT="${TP_PCT:-0.2}"
VENV="${AIBT_PYREF_VENV:-$HOME/.cache/aibt/pyref}"
OUT=target/bench
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then
    echo "creating the Python reference venv in $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r tools/reference/requirements.txt
fi

echo "building release binaries…" >&2
cargo build --release --quiet -p aibt
cargo bench --no-run --quiet -p aibt-engine --bench engine 2>/dev/null
ENGINE_BENCH=$(ls -t target/release/deps/engine-* | grep -v '\.d$' | head -1)

echo "python baselines ($BARS bars)…" >&2
"$VENV/bin/python" bench/python_baselines.py --bars "$BARS" --sl-pct "$SL_PCT" --tp-pct "$TP_PCT" \
    --json > "$OUT/python.json"

echo "aibt engine ($BARS bars)…" >&2
"$ENGINE_BENCH" --bars "$BARS" --runs 5 --json > "$OUT/aibt_engine.json"
echo "aibt engine with brackets ($BARS bars)…" >&2
"$ENGINE_BENCH" --bars "$BARS" --runs 5 --stop-loss-pct "$SL_PCT" --take-profit-pct "$TP_PCT" \
    --json > "$OUT/aibt_engine_brackets.json"

echo "aibt backtest end to end…" >&2
python3 bench/end_to_end.py --bars "$BARS" --engine-bench "$ENGINE_BENCH" --aibt target/release/aibt --out "$OUT" > "$OUT/end_to_end.json"

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
py = json.load(open(f"{out}/python.json"))
eng = json.load(open(f"{out}/aibt_engine.json"))
eng_br = json.load(open(f"{out}/aibt_engine_brackets.json"))
e2e = json.load(open(f"{out}/end_to_end.json"))
bt = py["backtesting_py"]
bt_br = py["backtesting_py_brackets"]
vb = py.get("vectorbt", {})

def same(engine, python):
    return (abs(float(engine["final_equity"]) - python["final_equity"]) < 0.005
            and engine["closed_trades"] == python["trades"])

def table(title, rows):
    print(f"\n{title}")
    print(f"{'':28}{'bars/s':>14}{'final equity':>16}{'closed trades':>15}")
    for name, rate, equity, trades in rows:
        equity = f"{equity:.2f}" if equity is not None else "—"
        print(f"{name:28}{rate:>14,.0f}{equity:>16}{str(trades):>15}")

rows = [("backtesting.py 0.6.6", bt["bars_per_sec"], bt.get("final_equity"), bt.get("trades"))]
if "bars_per_sec" in vb:
    rows.append(("vectorbt", vb["bars_per_sec"], vb.get("final_equity"), vb.get("trades")))
rows.append(("aibt engine (in memory)", eng["bars_per_sec"], float(eng["final_equity"]), eng["closed_trades"]))
table("plain: market entries, the death cross closes", rows)
print()
print(f"aibt engine / backtesting.py: {eng['bars_per_sec'] / bt['bars_per_sec']:8.1f}x   (target ≥ 50x)")
if "bars_per_sec" in vb:
    print(f"aibt engine / vectorbt:       {eng['bars_per_sec'] / vb['bars_per_sec']:8.2f}x   (target ≥ 2x)")
else:
    print(f"vectorbt: {vb.get('unavailable', 'not measured')}")
print(f"same result as backtesting.py (final equity to the cent, closed trades): {'yes' if same(eng, bt) else 'NO'}")

table(f"brackets: every entry with a stop-loss {bt_br['sl_pct']}% and take-profit {bt_br['tp_pct']}% "
      "of the signal bar's close", [
    ("backtesting.py 0.6.6", bt_br["bars_per_sec"], bt_br.get("final_equity"), bt_br.get("trades")),
    ("aibt engine (in memory)", eng_br["bars_per_sec"], float(eng_br["final_equity"]), eng_br["closed_trades"]),
])
print()
print(f"aibt engine / backtesting.py: {eng_br['bars_per_sec'] / bt_br['bars_per_sec']:8.1f}x   (target ≥ 50x)")
print(f"exits by stop-loss / take-profit: backtesting.py {bt_br['stop_loss_exits']} / {bt_br['take_profit_exits']}, "
      f"aibt {eng_br['stop_loss_exits']} / {eng_br['take_profit_exits']}")
print(f"same result as backtesting.py (final equity to the cent, closed trades): {'yes' if same(eng_br, bt_br) else 'NO'}")

print("\nwhole `aibt backtest` command, every snapshot written to SQLite:")
for run in e2e["runs"]:
    print(f"  {run['bars']:>8,} bars: best {run['best_seconds']:.2f} s = {run['best_bars_per_sec']:>9,.0f} bars/s, "
          f"median {run['median_bars_per_sec']:>9,.0f} bars/s, peak memory {run['peak_rss_mb']:.0f} MB")
print("  (target ≥ 200,000 bars/s, memory flat in the bar count)")
json.dump({"python": py, "aibt_engine": eng, "aibt_engine_brackets": eng_br, "end_to_end": e2e},
          open(f"{out}/engine.json", "w"), indent=1)
PY

echo "large histories ($BARS bars, then $LARGE_BARS)…" >&2
BACKTESTING_PY_SECONDS=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['backtesting_py']['seconds'])" "$OUT/python.json")
python3 bench/large_histories.py --aibt target/release/aibt --engine-bench "$ENGINE_BENCH" \
    --bars "$BARS" --large-bars "$LARGE_BARS" --backtesting-py-seconds "$BACKTESTING_PY_SECONDS" \
    --out "$OUT"
