#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a given number of seconds each,
# at the lowest CPU priority and one job per target, and reports crashes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # default: 60 seconds, all targets
#   FUZZ_MINIMIZE=1 scripts/fuzz.sh 600       # then merge new inputs into fuzz/corpus/ with cmin
#   FUZZ_SANITIZER=address scripts/fuzz.sh    # slower, also checks memory errors in unsafe code
#
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets stable rustc
# accept the -Z flags that cargo-fuzz passes. Inputs found in a run go to a
# scratch directory, so the committed corpora change only with FUZZ_MINIMIZE=1.
# Crashes, out-of-memory inputs (-rss_limit_mb) and hangs (-timeout) are
# written to fuzz/artifacts/TARGET/. Exit status 1 when any target found one.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
shift || true
sanitizer="${FUZZ_SANITIZER:-none}"
timeout_seconds="${FUZZ_TIMEOUT:-10}"
log_dir="${FUZZ_LOG_DIR:-$root/fuzz/logs}"

export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "error: cargo-fuzz is missing; install it with: cargo install cargo-fuzz" >&2
    exit 2
fi

cd "$root/fuzz"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

nice -n 19 cargo fuzz build --sanitizer "$sanitizer" 2>&1 | tail -n 3
mkdir -p "$log_dir"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failed=0
printf '%-12s %8s %12s %8s\n' target seconds execs findings
for target in "${targets[@]}"; do
    corpus="$root/fuzz/corpus/$target"
    mkdir -p "$corpus" "$scratch/$target" "$root/fuzz/artifacts/$target"
    before="$(find "$root/fuzz/artifacts/$target" -type f | wc -l)"
    log="$log_dir/$target.log"

    # libFuzzer exits non-zero on its first finding; the summary below reports it.
    started="$(date +%s)"
    nice -n 19 cargo fuzz run --sanitizer "$sanitizer" "$target" "$scratch/$target" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=1024 \
        -timeout="$timeout_seconds" -print_final_stats=1 >"$log" 2>&1 || true

    elapsed=$(($(date +%s) - started))
    after="$(find "$root/fuzz/artifacts/$target" -type f | wc -l)"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    findings=$((after - before))
    printf '%-12s %8s %12s %8s\n' "$target" "$elapsed" "${execs:-?}" "$findings"
    if [ "$findings" -gt 0 ] || grep -q '^==[0-9]*== ERROR: libFuzzer' "$log"; then
        failed=1
        grep -E 'panicked at|ERROR: libFuzzer|Test unit written' "$log" | head -n 5 | sed 's/^/    /'
    fi

    if [ "${FUZZ_MINIMIZE:-0}" = 1 ]; then
        cp -n "$scratch/$target"/* "$corpus"/ 2>/dev/null || true
        nice -n 19 cargo fuzz cmin --sanitizer "$sanitizer" "$target" "$corpus" >>"$log" 2>&1
    fi
done

if [ "$failed" = 1 ]; then
    echo "findings under fuzz/artifacts/; logs under ${log_dir}; add each as a test in tests/fuzz_regressions.rs" >&2
fi
exit "$failed"
