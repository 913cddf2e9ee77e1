#!/usr/bin/env bash
# Time and peak memory of `stagec check`, `stagec dockerfile` and
# `stagec llb` on specs at and past the limits a hostile pull request can
# reach: 10,000 stages (independent, and as one `from` chain), 1 MB
# strings, `from` chains 100 and 10,000 deep, and a 10 MB spec file.
#
#   scripts/bench-limits.sh [CASE...]      # default: every case
#
# A case passes when stagec exits 0, or exits 1 with diagnostics (a clean
# rejection); a crash, a signal (stack overflow aborts with SIGABRT or
# SIGSEGV) or more than LIMIT_RSS_MIB of peak memory fails the script.
# Prints one line per case and command: exit status, maximum resident set
# size from `/usr/bin/time -v` in KiB, wall time, and the first diagnostic
# code when stagec rejected the spec.
#
# STAGEC_BIN selects the stagec binary [default: target/release/stagec,
# built with `cargo build --release` first]. Needs no engine.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
limit_rss_mib="${LIMIT_RSS_MIB:-1024}"

log() {
    printf 'bench-limits.sh: %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

[ -x /usr/bin/time ] || die "/usr/bin/time not found; install Debian's time package"
command -v python3 >/dev/null || die "python3 not found; it writes the generated specs"

if [ -n "${STAGEC_BIN:-}" ]; then
    stagec="$STAGEC_BIN"
else
    log "building target/release/stagec"
    cargo build --release --quiet --bin stagec
    stagec="$repo/target/release/stagec"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/stagec-bench-limits.XXXXXX")"
trap 'rm -rf "$work"' EXIT

all_cases=(stages-10000 from-chain-10000 from-chain-100 strings-1mb file-10mb)
cases=("$@")
if [ "${#cases[@]}" -eq 0 ]; then
    cases=("${all_cases[@]}")
fi

# Writes the spec of case $1 to $2.
write_case() {
    python3 - "$1" "$2" <<'PY'
import sys

case, path = sys.argv[1], sys.argv[2]
out = []
if case == "stages-10000":
    # 10,000 independent stages, each with an artifact, and one image
    # stage that copies all of them.
    for i in range(10000):
        out.append(f'stage "s{i}" from="alpine:3" {{\n    run "echo {i} > /out"\n    artifact "out" path="/out"\n}}\n')
    out.append('stage "all" from="alpine:3" {\n')
    for i in range(10000):
        out.append(f'    copy artifact="out" from="s{i}" to="/in/{i}"\n')
    out.append('}\nimage "all" tag="wide:1"\n')
elif case.startswith("from-chain-"):
    depth = int(case.rsplit("-", 1)[1])
    out.append('stage "s0" from="alpine:3" {\n    run "echo 0 > /out"\n}\n')
    for i in range(1, depth):
        out.append(f'stage "s{i}" from="s{i - 1}" {{\n    env LEVEL="{i}"\n}}\n')
    out.append(f'image "s{depth - 1}" tag="deep:1"\n')
elif case == "strings-1mb":
    big = "x" * (1 << 20)
    out.append('stage "app" from="alpine:3" {\n')
    out.append(f'    env BIG="{big}"\n    label "big"="{big}"\n')
    out.append(f'    run "echo {big} > /dev/null"\n    cmd "{big}"\n}}\nimage "app" tag="big:1"\n')
elif case == "file-10mb":
    # About 10 MB of ordinary steps: 1,000 stages of 140 runs each.
    for i in range(1000):
        out.append(f'stage "s{i}" from="alpine:3" {{\n')
        for j in range(140):
            out.append(f'    run "echo stage {i} step {j} of a ten megabyte spec file > /dev/null"\n')
        out.append('    run "echo done > /out"\n    artifact "out" path="/out"\n}\n')
    out.append('stage "all" from="alpine:3" {\n')
    for i in range(1000):
        out.append(f'    copy artifact="out" from="s{i}" to="/in/{i}"\n')
    out.append('}\nimage "all" tag="big-file:1"\n')
else:
    sys.exit(f"unknown case {case}")
open(path, "w").write("".join(out))
PY
}

# The lock file of a spec whose only base image is alpine:3, as
# scripts/bench-compile.sh writes it.
write_lock() {
    local digest
    digest="sha256:$(printf 'alpine:3\t\n' | sha256sum | cut -d' ' -f1)"
    cat >"$1" <<JSON
{
  "stagec-lock-format": 1,
  "spec-images": "$digest",
  "images": [
    {
      "reference": "docker.io/library/alpine:3",
      "platform": "linux/amd64",
      "image-id": "sha256:02fa8607055dbd84e319d597197f231acbdc670a0aadf55b32adc3498b85162b",
      "image-platform": "linux/amd64",
      "layers": 1,
      "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["/bin/sh"]
      }
    }
  ]
}
JSON
}

failed=0
printf '%-17s %10s %-10s %4s %12s %8s %s\n' case spec_bytes command exit max_rss_kib seconds diagnostic
for case in "${cases[@]}"; do
    spec="$work/$case.kdl"
    write_case "$case" "$spec"
    write_lock "$spec.lock"
    spec_bytes="$(wc -c <"$spec")"
    for command in check dockerfile llb; do
        case "$command" in
            llb) args=(llb --platform linux/amd64 --format json "$spec") ;;
            *) args=("$command" --message-format json "$spec") ;;
        esac
        report="$work/time.txt"
        status=0
        /usr/bin/time -v -o "$report" "$stagec" "${args[@]}" >/dev/null 2>"$work/stderr.txt" || status=$?
        rss="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$report")"
        seconds="$(awk -F': ' '/Elapsed \(wall clock\) time/ {
            count = split($2, parts, ":"); s = 0
            for (i = 1; i <= count; i++) { s = s * 60 + parts[i] }
            printf "%.2f", s }' "$report")"
        code="$(grep -o '"code":"SC[0-9]*"\|SC[0-9][0-9][0-9][0-9]' "$work/stderr.txt" | head -n 1 | tr -d '"' | sed 's/code://' || true)"
        printf '%-17s %10s %-10s %4s %12s %8s %s\n' "$case" "$spec_bytes" "$command" "$status" "$rss" "$seconds" "${code:--}"

        if [ "$status" -gt 1 ] || { [ "$status" = 1 ] && [ -z "$code" ]; }; then
            log "$case: stagec $command failed without a diagnostic (exit $status):"
            tail -n 5 "$work/stderr.txt" >&2
            failed=1
        fi
        if [ "${rss:-0}" -gt $((limit_rss_mib * 1024)) ]; then
            log "$case: stagec $command used more than $limit_rss_mib MiB"
            failed=1
        fi
    done
done
exit "$failed"
