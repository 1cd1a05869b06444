#!/usr/bin/env bash
# The API's OpenAPI description is a contract: schemathesis generates requests from
# /api/openapi.json and checks every answer against it (--checks all). This runs it against a
# real `aibt serve` holding one stored backtest, once without a token and once with one, with a
# fixed seed and a bounded number of examples so CI spends about two minutes here.
#
#   bash scripts/schemathesis.sh            # uses target/debug/aibt (cargo build -p aibt first)
#   AIBT_BIN=path/to/aibt bash scripts/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

AIBT_BIN="${AIBT_BIN:-${CARGO_TARGET_DIR:-target}/debug/aibt}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-15}"
SEED="${SCHEMATHESIS_SEED:-1}"
SCHEMATHESIS_PIN="schemathesis==4.32.5"

# A Python of 3.12 or later where there is one: CPython 3.11.7's ast module raises a spurious
# "AST constructor recursion depth mismatch" (gh-106905, fixed later), which hypothesis's
# lambda descriptions hit now and then in the middle of a run.
python_for_venv() {
    local candidate
    for candidate in "${SCHEMATHESIS_PYTHON:-}" "$HOME"/.pyenv/versions/3.13*/bin/python3 \
        "$HOME"/.pyenv/versions/3.12*/bin/python3 python3.13 python3.12 python3; do
        [ -n "$candidate" ] && command -v "$candidate" > /dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2> /dev/null \
            || [ "$candidate" = python3 ]; then
            echo "$candidate"
            return
        fi
    done
}
PYTHON_FOR_VENV="$(python_for_venv)"
PY_VERSION="$("$PYTHON_FOR_VENV" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/aibt/schemathesis-py$PY_VERSION}"

if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version 2>&1 | grep -qF "${SCHEMATHESIS_PIN##*==}"; then
    "$PYTHON_FOR_VENV" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "$SCHEMATHESIS_PIN"
fi
echo "schemathesis: $("$VENV/bin/st" --version 2>&1 | head -1) on Python $PY_VERSION"

work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2> /dev/null && wait "$server" 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT

db="sqlite://$work/st.db"
# Downloads go nowhere: a closed port on this machine refuses at once (no outside network is
# assumed or used), and the cache lives and dies with this run.
export AIBT_YAHOO_URL="http://127.0.0.1:9" AIBT_BINANCE_URL="http://127.0.0.1:9" AIBT_CACHE_DIR="$work/cache"
"$AIBT_BIN" backtest --database-url "$db" --symbol GOOG > /dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() { # run LABEL [TOKEN]
    local label="$1" token="${2:-}" port
    port="$(free_port)"
    if [ -n "$token" ]; then
        AIBT_API_TOKEN="$token" "$AIBT_BIN" serve --database-url "$db" --addr "127.0.0.1:$port" \
            > "$work/serve-$label.log" 2>&1 &
    else
        "$AIBT_BIN" serve --database-url "$db" --addr "127.0.0.1:$port" > "$work/serve-$label.log" 2>&1 &
    fi
    server=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/healthz" > /dev/null && break
        sleep 0.1
    done
    local auth=()
    [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
    printf '\n--- schemathesis %s\n' "$label"
    local status=0
    "$VENV/bin/st" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/api/openapi.json" "${auth[@]}" \
        --checks all --max-examples "$EXAMPLES" --seed "$SEED" --workers 2 \
        --no-color || status=$?
    if ! kill -0 "$server" 2> /dev/null; then
        local code=0
        wait "$server" || code=$?
        echo "aibt serve exited during the run (status $code); the end of its log:" >&2
        tail -n 40 "$work/serve-$label.log" >&2
        status=1
    fi
    if [ "$status" -ne 0 ] && [ -n "${SCHEMATHESIS_KEEP:-}" ]; then
        cp "$work/serve-$label.log" "$SCHEMATHESIS_KEEP"
    fi
    kill "$server" 2> /dev/null || true
    wait "$server" 2> /dev/null || true
    server=""
    return "$status"
}

run "without a token"
run "with a token" "st-token-$RANDOM$RANDOM"
