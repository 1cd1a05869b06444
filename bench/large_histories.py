#!/usr/bin/env python3
"""Large histories (issue 15): what a user waits for with a long minute file, measured with the
release `aibt` binary on INDEX2006_1m tiled to --bars bars (default 308,890), each figure
beside its target and, where it has one, the baseline measured in the same run.

  1. the whole `aibt backtest --data FILE` (import, run, every snapshot, statistics) on a fresh
     SQLite file, against backtesting.py's `Backtest.run` on the same bars (its seconds are
     passed in by bench/run.sh from bench/python_baselines.py of the same run);
  2. `aibt data import FILE` alone, and `aibt backtest` alone on the imported series (run and
     every snapshot stored), in bars per second;
  3. bytes per stored snapshot in SQLite, indexes included: the pages of the snapshot tables
     and their indexes (SQLite's dbstat), and, as the issue first measured it, the whole file
     less the imported bars over the number of snapshots;
  4. the same import and run on PostgreSQL (a fresh database on --pg, skipped when the server
     does not answer);
  5. --large-bars bars (default 10,000,000; 0 skips it): the import, then the run with every
     snapshot stored, with the run's peak resident memory against the same run at --bars
     (flat means the same), then `aibt serve` on that
     database and the p50/p99 of the list endpoints (tasks, the task's snapshots from its middle
     with the cursor a client would hold, its trades, its decisions), one client, keep-alive,
     against /healthz as the baseline.

Wall times are the best of --runs (each run on a fresh database); memory is ru_maxrss of the
aibt process (wait4). Prints a table and writes one JSON object to --out/large_histories.json.

    python3 bench/large_histories.py --aibt target/release/aibt --engine-bench ENGINE_BENCH \
        [--bars 308890] [--runs 3] [--large-bars 10000000] [--backtesting-py-seconds S]
"""
import argparse
import http.client
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

SERIES = ["--symbol", "TILED", "--market", "US", "--granularity", "minute"]
RUN = ["--cash", "1000000", "--format", "json"]


def run(cmd, **kw):
    """Runs a command; returns (seconds, peak RSS in MB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err.decode(errors='replace')[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, out


def fresh_sqlite(tmp, name):
    path = os.path.join(tmp, name)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return path


def sqlite_bytes(db):
    """(snapshot bytes per snapshot by dbstat, (file - bars) per snapshot, snapshots)."""
    c = sqlite3.connect(db)
    snapshots = c.execute("SELECT count(*) FROM account_snapshots").fetchone()[0]
    pages = dict(c.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    tables = {name for (name,) in c.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') "
        "AND (name LIKE 'snapshot%' OR tbl_name LIKE 'snapshot%')")}
    snapshot_bytes = sum(v for k, v in pages.items() if k in tables)
    # The bars' own pages: the table before migration 10, its two tables and index after.
    bar_pages = {"market_bars", "bar_series", "bar_rows", "sqlite_autoindex_bar_series_1"}
    bars = sum(v for k, v in pages.items() if k in bar_pages)
    c.close()
    size = os.path.getsize(db)
    return snapshot_bytes / snapshots, (size - bars) / snapshots, snapshots


def sqlite_figures(a, csv, bars, tmp):
    whole, imports, runs = [], [], []
    out = {}
    for i in range(a.runs):
        db = fresh_sqlite(tmp, f"split{i}.db")
        url = f"sqlite://{db}"
        seconds, rss, _ = run([a.aibt, "--database-url", url, "data", "import", csv] + SERIES)
        imports.append(seconds)
        seconds, rss, _ = run([a.aibt, "--database-url", url, "backtest"] + SERIES + RUN)
        runs.append(seconds)
        out["run_peak_rss_mb"] = max(out.get("run_peak_rss_mb", 0), rss)
        fresh_sqlite(tmp, f"split{i}.db")
        db = fresh_sqlite(tmp, f"whole{i}.db")
        url = f"sqlite://{db}"
        seconds, rss, stdout = run([a.aibt, "--database-url", url, "backtest", "--data", csv]
                                   + SERIES + RUN)
        whole.append(seconds)
        out["whole_peak_rss_mb"] = max(out.get("whole_peak_rss_mb", 0), rss)
        out["final_equity"] = json.loads(stdout)["stats"]["equity_final"]
        if i == 0:
            per_snapshot, file_per_snapshot, snapshots = sqlite_bytes(db)
            out.update(snapshot_bytes=per_snapshot, file_bytes_less_bars=file_per_snapshot,
                       snapshots=snapshots, file_mb=os.path.getsize(db) / 1e6,
                       wal_left_mb=os.path.getsize(db + "-wal") / 1e6
                       if os.path.exists(db + "-wal") else 0.0)
        fresh_sqlite(tmp, f"whole{i}.db")
    out.update(bars=bars, whole_seconds=min(whole), import_seconds=min(imports),
               run_seconds=min(runs), import_bars_per_sec=bars / min(imports),
               run_bars_per_sec=bars / min(runs), whole_all=whole)
    return out


def pg_answers(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def pg_figures(a, csv, bars):
    host, port = a.pg.rsplit(":", 1)
    if not pg_answers(host, int(port)):
        return {"skipped": f"no PostgreSQL on {a.pg}"}
    imports, runs = [], []
    for i in range(a.runs):
        name = f"aibt_bench_{os.getpid()}_{i}"
        psql = ["psql", "-h", host, "-p", port, "-U", "postgres", "-q", "-c"]
        subprocess.run(psql + [f"DROP DATABASE IF EXISTS {name}"], check=True)
        subprocess.run(psql + [f"CREATE DATABASE {name}"], check=True)
        url = f"postgres://postgres@{host}:{port}/{name}"
        try:
            seconds, _, _ = run([a.aibt, "--database-url", url, "data", "import", csv] + SERIES)
            imports.append(seconds)
            seconds, _, _ = run([a.aibt, "--database-url", url, "backtest"] + SERIES + RUN)
            runs.append(seconds)
        finally:
            subprocess.run(psql + [f"DROP DATABASE IF EXISTS {name}"], check=True)
    return {"import_seconds": min(imports), "run_seconds": min(runs),
            "import_bars_per_sec": bars / min(imports), "run_bars_per_sec": bars / min(runs)}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def latencies(conn, path, n):
    out = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        out.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            sys.exit(f"GET {path}: {response.status} {body[:300]!r}")
    return out


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def api_figures(a, db, requests):
    port = free_port()
    server = subprocess.Popen([a.aibt, "--database-url", f"sqlite://{db}", "serve", "--addr",
                               f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies(conn, "/healthz", 20)
        conn.request("GET", "/api/v1/tasks?limit=1")
        task = json.loads(conn.getresponse().read())["items"][0]["task_id"]
        # The cursor a client holds in the middle of the run: the id of the middle bar.
        middle = f"{task}-s{task_count_middle(db):09d}"
        paths = {
            "healthz (baseline)": "/healthz",
            "tasks": "/api/v1/tasks?limit=50",
            "snapshots, middle page": f"/api/v1/tasks/{task}/snapshots?limit=100&cursor={middle}",
            "trades": f"/api/v1/tasks/{task}/trades?limit=100",
            "decisions": f"/api/v1/tasks/{task}/decisions?limit=100",
        }
        out = {}
        for name, path in paths.items():
            latencies(conn, path, 20)
            values = latencies(conn, path, requests)
            out[name] = {"p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99),
                         "requests": requests}
        return out
    finally:
        server.terminate()
        server.wait()


def task_count_middle(db):
    c = sqlite3.connect(db)
    n = c.execute("SELECT count(*) FROM snapshot_steps").fetchone()[0]
    c.close()
    return n // 2


def large_figures(a, tmp, small_rss):
    csv = os.path.join(tmp, f"tiled{a.large_bars}.csv")
    subprocess.run([a.engine_bench, "--bars", str(a.large_bars), "--write-csv", csv], check=True,
                   stdout=subprocess.DEVNULL)
    db = fresh_sqlite(tmp, "large.db")
    url = f"sqlite://{db}"
    import_seconds, import_rss, _ = run([a.aibt, "--database-url", url, "data", "import", csv]
                                        + SERIES)
    os.remove(csv)
    seconds, rss, _ = run([a.aibt, "--database-url", url, "backtest"] + SERIES + RUN)
    per_snapshot, file_per_snapshot, snapshots = sqlite_bytes(db)
    out = {"bars": a.large_bars, "import_seconds": import_seconds,
           "import_peak_rss_mb": import_rss, "run_seconds": seconds, "peak_rss_mb": rss,
           "peak_rss_at_bars_mb": small_rss, "snapshot_bytes": per_snapshot,
           "file_bytes_less_bars": file_per_snapshot, "snapshots": snapshots,
           "file_mb": os.path.getsize(db) / 1e6,
           "api": api_figures(a, db, a.requests)}
    fresh_sqlite(tmp, "large.db")
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--aibt", required=True)
    p.add_argument("--engine-bench", required=True)
    p.add_argument("--bars", type=int, default=308_890)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--large-bars", type=int, default=10_000_000)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--pg", default="127.0.0.1:5432")
    p.add_argument("--backtesting-py-seconds", type=float)
    p.add_argument("--out", default="target/bench")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, f"tiled{a.bars}.csv")
        subprocess.run([a.engine_bench, "--bars", str(a.bars), "--write-csv", csv], check=True,
                       stdout=subprocess.DEVNULL)
        result = {"sqlite": sqlite_figures(a, csv, a.bars, tmp), "postgres": pg_figures(a, csv, a.bars)}
        if a.large_bars:
            result["large"] = large_figures(a, tmp, result["sqlite"]["run_peak_rss_mb"])
    result["backtesting_py_seconds"] = a.backtesting_py_seconds
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "large_histories.json"), "w") as f:
        json.dump(result, f, indent=1)
    report(result)


def report(r):
    s, pg = r["sqlite"], r["postgres"]
    bt = r["backtesting_py_seconds"]
    print(f"\nlarge histories: {s['bars']:,} minute bars, SQLite unless named")
    rows = []
    if bt:
        rows.append(("whole `aibt backtest --data`", f"{s['whole_seconds']:.2f} s",
                     f"backtesting.py {bt:.2f} s: {bt / s['whole_seconds']:.2f}x", "≥ 2x"))
    else:
        rows.append(("whole `aibt backtest --data`", f"{s['whole_seconds']:.2f} s", "", "≥ 2x"))
    rows.append(("import alone", f"{s['import_bars_per_sec']:,.0f} bars/s",
                 f"{s['import_bars_per_sec'] / 1e6:.2f}x the target", "≥ 1,000,000"))
    rows.append(("run + every snapshot", f"{s['run_bars_per_sec']:,.0f} bars/s",
                 f"{s['run_bars_per_sec'] / 5e5:.2f}x the target", "≥ 500,000"))
    rows.append(("bytes a snapshot (tables+indexes)", f"{s['snapshot_bytes']:.0f}",
                 f"file less bars: {s['file_bytes_less_bars']:.0f}", "≤ 250"))
    rows.append(("write-ahead log left", f"{s['wal_left_mb']:.1f} MB", f"file {s['file_mb']:.0f} MB", ""))
    if "skipped" in pg:
        rows.append(("PostgreSQL", pg["skipped"], "", ""))
    else:
        rows.append(("PostgreSQL import", f"{pg['import_bars_per_sec']:,.0f} bars/s", "", ""))
        rows.append(("PostgreSQL run + every snapshot", f"{pg['run_bars_per_sec']:,.0f} bars/s",
                     f"{pg['run_bars_per_sec'] / 1.5e5:.2f}x the target", "≥ 150,000"))
    if "large" in r:
        big = r["large"]
        rows.append((f"{big['bars']:,} bars: import", f"{big['import_seconds']:.1f} s",
                     f"{big['bars'] / big['import_seconds']:,.0f} bars/s, "
                     f"peak {big['import_peak_rss_mb']:.0f} MB", ""))
        rows.append(("  run + every snapshot", f"{big['run_seconds']:.1f} s",
                     f"{big['bars'] / big['run_seconds']:,.0f} bars/s", ""))
        rows.append(("  run's peak resident memory", f"{big['peak_rss_mb']:.0f} MB",
                     f"{big['peak_rss_at_bars_mb']:.0f} MB at {s['bars']:,} bars", "< 200 MB, flat"))
        rows.append(("  bytes a snapshot", f"{big['snapshot_bytes']:.0f}",
                     f"file less bars: {big['file_bytes_less_bars']:.0f}", "≤ 250"))
        base = big["api"]["healthz (baseline)"]
        for name, lat in big["api"].items():
            rows.append((f"  GET {name}", f"p99 {lat['p99_ms']:.2f} ms",
                         f"p50 {lat['p50_ms']:.2f} ms; healthz p99 {base['p99_ms']:.2f} ms",
                         "" if name.startswith("healthz") else "p99 < 10 ms"))
    width = max(len(row[0]) for row in rows) + 2
    for name, value, beside, target in rows:
        print(f"  {name:<{width}}{value:>22}   {beside:<44}{target}")


if __name__ == "__main__":
    main()
