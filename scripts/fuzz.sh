#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of what a stranger can feed aibt: bar and context files,
# decimal and date text, a model's replies, strategy templates, request bodies and spec files.
# Builds the targets of fuzz/ with the instrumentation `cargo fuzz build --sanitizer none`
# uses (stable Rust, with RUSTC_BOOTSTRAP for the coverage flags), then runs each for SECONDS
# from its committed corpus (fuzz/corpus/TARGET). New inputs go to a scratch directory; a
# crash leaves its input in fuzz/artifacts/TARGET and fails the script: make it a regression
# test (fuzz/README.md).
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET…]     (default 10 s each, every target)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_EACH="${1:-10}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(csv_import numbers_and_dates model_answer template request_bodies)
fi

export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-target}"
# A target triple, as cargo fuzz gives: the flags then instrument the targets only, not the
# build scripts and macros that run at build time.
HOST="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --locked --bins --target "$HOST"
BIN="$CARGO_TARGET_DIR/$HOST/release"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${TARGETS[@]}"; do
    mkdir -p "$scratch/$target" "artifacts/$target"
    printf '\n--- %s, %s s\n' "$target" "$SECONDS_EACH"
    "$BIN/$target" "$scratch/$target" "corpus/$target" \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1 2>&1 |
        grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==|SUMMARY|.*panicked|Test unit written)' || true
    if [ -n "$(ls -A "artifacts/$target")" ]; then
        echo "fuzz: $target found a crash: $(ls "artifacts/$target")" >&2
        exit 1
    fi
done
