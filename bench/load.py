#!/usr/bin/env python3
"""The API under load while tasks run: 64 concurrent clients on 127.0.0.1 for 60 s against the
task, decision and trade lists of `aibt serve`, while four model tasks run in its worker.

What runs, all on this machine:
  - a fake OpenAI-compatible model (this script, a thread per request) that answers each
    decision after DELAY_MS, so each of the four tasks commits a decision every ~DELAY_MS;
  - `aibt serve` (release build) on a fresh SQLite file, its worker running the four tasks;
  - wrk (Debian's package) with CONNECTIONS connections for DURATION seconds, each request a
    list picked in turn from the task list, a stored task's decisions and its trades.

Before the load starts, a completed rule backtest gives the decision and trade lists rows to
page through (2,148 GOOG days). First, as the baseline of the same run, the same clients load
/healthz (which reads nothing) for a sixth of the time. Prints wrk's latency distribution (p50,
p90, p99) of the lists and of the baseline, requests per second, errors (non-2xx answers and
socket errors), and how far the four tasks got meanwhile; writes target/bench/load.json; exits
non-zero on any error.

    python3 bench/load.py [--duration 60] [--connections 64] [--threads 2] [--delay-ms 50]
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
AIBT = os.path.join(ROOT, "target", "release", "aibt")
SAMPLES = os.path.join(ROOT, "crates", "aibt-data", "sample")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeModel(BaseHTTPRequestHandler):
    delay = 0.05
    calls = 0
    lock = threading.Lock()

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        time.sleep(FakeModel.delay)
        with FakeModel.lock:
            FakeModel.calls += 1
            n = FakeModel.calls
        action = ["BUY", "HOLD", "SELL", "HOLD"][n % 4]
        content = json.dumps({"action": action, "confidence": 0.6, "reasoning": "load"})
        body = json.dumps({
            "id": f"load-{n}", "object": "chat.completion", "model": "fake",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # aibt hanging up on a call in flight when it stops is not news.
        pass


def call(base, method, path, body=None, content_type="application/json"):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("content-type", content_type)
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read()
    return json.loads(text) if text else None


def wait_for(predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"timed out waiting for {what}")


WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def parse_ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--delay-ms", type=int, default=50)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    if not os.path.exists(AIBT):
        sys.exit(f"{AIBT} is missing: cargo build --release -p aibt")

    FakeModel.delay = args.delay_ms / 1000
    model_port = free_port()
    model = QuietServer(("127.0.0.1", model_port), FakeModel)
    threading.Thread(target=model.serve_forever, daemon=True).start()

    work = tempfile.mkdtemp(prefix="aibt-load-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, AIBT_SECRET_KEY_FILE=os.path.join(work, "secret.key"), RUST_LOG="warn")
    server = subprocess.Popen(
        [AIBT, "serve", "--addr", f"127.0.0.1:{port}",
         "--database-url", f"sqlite://{work}/load.db"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"))
    try:
        wait_for(lambda: call(base, "GET", "/healthz"), 30, "aibt serve")
        for file, symbol, granularity in [("GOOG_1d.csv", "GOOG", "daily"),
                                          ("INDEX2006_1m.csv", "INDEX", "minute")]:
            with open(os.path.join(SAMPLES, file), "rb") as f:
                call(base, "POST",
                     f"/api/v1/market-data/import?symbol={symbol}&market_type=US&time_granularity={granularity}",
                     f.read(), "text/csv")
        account = call(base, "POST", "/api/v1/accounts",
                       {"market_type": "US", "initial_balance": "100000"})["account_id"]
        # A finished backtest whose decisions and trades the clients page through.
        stored = call(base, "POST", "/api/v1/tasks",
                      {"account_id": account, "stock_symbol": "GOOG", "strategy": "builtin:sma-cross",
                       "options": {"record_holds": True}, "start": True})["task_id"]
        wait_for(lambda: call(base, "GET", f"/api/v1/tasks/{stored}")["status"] == "COMPLETED",
                 120, "the stored backtest")
        prompt = call(base, "POST", "/api/v1/prompt-templates",
                      {"content": "{{ symbol }} at {{ now }}: close {{ bars[-1].close }}. Decide."})["prompt_id"]
        config = call(base, "POST", "/api/v1/ai-configs",
                      {"name": "load", "local_ai_base_url": f"http://127.0.0.1:{model_port}/v1",
                       "local_ai_model_name": "fake", "max_concurrency": 8})["config_id"]
        running = []
        for _ in range(4):
            running.append(call(base, "POST", "/api/v1/tasks",
                                {"account_id": account, "stock_symbol": "INDEX", "time_granularity": "minute",
                                 "strategy": "template", "user_prompt_id": prompt, "ai_config_id": config,
                                 "options": {"cache": "off"}, "start": True})["task_id"])
        wait_for(lambda: all(call(base, "GET", f"/api/v1/tasks/{t}")["processed_items"] > 0
                             for t in running), 60, "the four tasks to start")
        before = {t: call(base, "GET", f"/api/v1/tasks/{t}")["processed_items"] for t in running}

        paths = [
            "/api/v1/tasks?limit=50",
            f"/api/v1/tasks/{stored}/decisions?limit=100",
            f"/api/v1/tasks/{stored}/trades?limit=100",
        ]
        script = os.path.join(work, "lists.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths))
        def run_wrk(seconds, *extra):
            return subprocess.run(
                ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s",
                 "--latency", "--timeout", "10s", *extra],
                capture_output=True, text=True, check=True).stdout
        # The baseline, in the same run: the same clients on /healthz, which reads nothing.
        health = run_wrk(max(5, args.duration // 6), base + "/healthz")
        wrk = run_wrk(args.duration, "-s", script, base)
        after = {t: call(base, "GET", f"/api/v1/tasks/{t}") for t in running}
    finally:
        server.terminate()
        server.wait(timeout=30)
        model.shutdown()

    print(wrk)
    latency = {p: parse_ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)$", wrk, re.M)}
    health_latency = {p: parse_ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)$", health, re.M)}
    total = int(re.search(r"(\d+) requests in", wrk).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk)
    result = {
        "connections": args.connections,
        "duration_s": args.duration,
        "requests": total,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1)),
        "p50_ms": latency.get("50"),
        "p90_ms": latency.get("90"),
        "p99_ms": latency.get("99"),
        "healthz_p50_ms": health_latency.get("50"),
        "healthz_p99_ms": health_latency.get("99"),
        "p99_over_healthz_p99": round(latency["99"] / health_latency["99"], 2),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
        "decisions_made_meanwhile": sum(after[t]["processed_items"] - before[t] for t in running),
        "tasks_still_running": sum(after[t]["status"] == "RUNNING" for t in running),
    }
    os.makedirs(os.path.join(ROOT, "target", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "target", "bench", "load.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    if result["non_2xx"] or result["socket_errors"]:
        sys.exit("errors under load")


if __name__ == "__main__":
    main()
