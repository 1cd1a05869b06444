#!/usr/bin/env python3
"""Times the whole `aibt backtest` command (SQLite, every snapshot written) on INDEX2006_1m
tiled to a third of, exactly, and twice --bars bars. Each size: the tiled CSV is imported into
a fresh database once per repetition, then the backtest alone is timed; wall time and the
peak resident memory of the backtest process are reported (best and median of --runs)."""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time

p = argparse.ArgumentParser()
p.add_argument("--bars", type=int, default=300000)
p.add_argument("--runs", type=int, default=5)
p.add_argument("--aibt", required=True)
p.add_argument("--engine-bench", required=True)
p.add_argument("--out", required=True)
a = p.parse_args()

def run_backtest(db):
    cmd = [a.aibt, "--database-url", f"sqlite://{db}", "backtest", "--symbol", "TILED", "--market", "US",
           "--granularity", "minute", "--cash", "1000000", "--format", "json"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, _ = proc.communicate()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"aibt backtest failed: {out[:500]!r}")
    return elapsed, json.loads(out)

def peak_rss_of(db):
    cmd = [a.aibt, "--database-url", f"sqlite://{db}", "backtest", "--symbol", "TILED", "--market", "US",
           "--granularity", "minute", "--cash", "1000000", "--format", "json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024  # KB -> MB

results = []
with tempfile.TemporaryDirectory() as tmp:
    for bars in (a.bars // 3, a.bars, a.bars * 2):
        csv = os.path.join(tmp, f"tiled{bars}.csv")
        subprocess.run([a.engine_bench, "--bars", str(bars), "--write-csv", csv], check=True)
        times, peaks, equity = [], [], None
        for i in range(a.runs):
            db = os.path.join(tmp, f"run{bars}_{i}.db")
            subprocess.run([a.aibt, "--database-url", f"sqlite://{db}", "data", "import", csv, "--symbol", "TILED",
                            "--market", "US", "--granularity", "minute"], check=True, stdout=subprocess.DEVNULL)
            elapsed, out = run_backtest(db)
            times.append(elapsed)
            equity = out["stats"]["equity_final"]
            db2 = os.path.join(tmp, f"mem{bars}_{i}.db")
            if i == 0:
                subprocess.run([a.aibt, "--database-url", f"sqlite://{db2}", "data", "import", csv, "--symbol", "TILED",
                                "--market", "US", "--granularity", "minute"], check=True, stdout=subprocess.DEVNULL)
                peaks.append(peak_rss_of(db2))
            for suffix in ("", "-wal", "-shm"):
                for path in (db + suffix, db2 + suffix):
                    if os.path.exists(path):
                        os.remove(path)
        results.append({
            "bars": bars,
            "best_seconds": min(times),
            "best_bars_per_sec": bars / min(times),
            "median_bars_per_sec": bars / statistics.median(times),
            "all_seconds": times,
            "peak_rss_mb": max(peaks),
            "final_equity": equity,
        })
json.dump({"runs": results}, sys.stdout, indent=1)
