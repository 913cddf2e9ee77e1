#!/usr/bin/env bash
# Peak memory and wall time of `stagec check`, `stagec dockerfile` and
# `stagec llb` on generated chains of 10, 100, 1,000 and 10,000 stages:
#
#   scripts/bench-compile.sh [SIZES...]
#
# The chains have the shape of `chain_spec` in benches/compile.rs: stage sN
# is based on alpine:3, copies the artifact of stage sN-1 and runs one
# command, and the last stage is the image output. The specs and their lock
# file go to a temporary folder, which is removed at the end. Needs no
# engine: the lock file is written here for the linux/amd64 platform.
#
# Prints one line per size and command: the largest maximum resident set
# size that `/usr/bin/time -v` reports over RUNS processes, in KiB, and the
# median wall time in milliseconds, from hyperfine (at least 10 runs) when it
# is installed. The times include the program's start. A last block
# measures the go-web example the same way. The first and last lines give the
# date, the CPU and the load average.
#
# STAGEC_BIN selects the stagec binary [default: target/release/stagec,
# built with `cargo build --release` first]. RUNS sets how many processes
# each measurement starts [default: 5].
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/.." && pwd)"
cd "$repo"

sizes=("$@")
if [ "${#sizes[@]}" -eq 0 ]; then
    sizes=(10 100 1000 10000)
fi

log() {
    printf 'bench-compile.sh: %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

[ -x /usr/bin/time ] || die "/usr/bin/time not found; install Debian's time package"
for size in "${sizes[@]}"; do
    [[ "$size" =~ ^[1-9][0-9]*$ ]] || die "each size must be a positive integer, not '$size'"
done

if [ -n "${STAGEC_BIN:-}" ]; then
    stagec="$STAGEC_BIN"
else
    log "building target/release/stagec"
    cargo build --release --quiet --bin stagec
    stagec="$repo/target/release/stagec"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/stagec-bench-compile.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Write the chain of STAGES stages to FILE.
write_chain() {
    local stages="$1" file="$2"
    awk -v stages="$stages" 'BEGIN {
        printf "stage \"s0\" from=\"alpine:3\" {\n    run \"echo 0 > /out\"\n    artifact \"out\" path=\"/out\"\n}\n"
        for (i = 1; i < stages; i++) {
            printf "stage \"s%d\" from=\"alpine:3\" {\n", i
            printf "    copy artifact=\"out\" from=\"s%d\" to=\"/in\"\n", i - 1
            printf "    run \"cat /in > /out; echo %d >> /out\"\n", i
            printf "    artifact \"out\" path=\"/out\"\n}\n"
        }
        printf "image \"s%d\" tag=\"chain:1.0\"\n", stages - 1
    }' >"$file"
}

# Write to FILE the lock file of a spec whose only base image is alpine:3.
# Its spec-images digest is the SHA-256 of one line per distinct `from=`
# image and `platform=` value ("alpine:3", a tab, no platform, a newline),
# as spec_images_digest in src/lock/images.rs computes it. If that format
# changes, `stagec llb` rejects the lock with SC0902 and this script fails.
# The image entry is the alpine:3 of the committed example lock files.
write_lock() {
    local digest
    digest="sha256:$(printf 'alpine:3\t\n' | sha256sum | cut -d' ' -f1)"
    cat >"$1" <<EOF
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
        "Env": [
          "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ],
        "Cmd": [
          "/bin/sh"
        ]
      }
    }
  ]
}
EOF
}

runs="${RUNS:-5}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"

# Run stagec with ARGS under /usr/bin/time -v, RUNS times; print
# "MAX_RSS_KIB MEDIAN_MILLISECONDS".
measure() {
    local report="$work/time.txt" samples="$work/samples.txt"
    : >"$samples"
    for _ in $(seq "$runs"); do
        if ! /usr/bin/time -v -o "$report" "$stagec" "$@" >/dev/null 2>"$work/stderr.txt"; then
            cat "$work/stderr.txt" >&2
            die "stagec $* failed"
        fi
        awk -F': ' '
            /Maximum resident set size/ { rss = $2 }
            /Elapsed \(wall clock\) time/ {
                count = split($2, parts, ":")
                seconds = 0
                for (i = 1; i <= count; i++) { seconds = seconds * 60 + parts[i] }
            }
            END { printf "%s %.3f\n", rss, seconds * 1000 }' "$report" >>"$samples"
    done
    local median
    median="$(sort -k2,2n "$samples" | awk '
        { ms[NR] = $2 }
        END {
            middle = int((NR + 1) / 2)
            printf "%.0f", (NR % 2) ? ms[middle] : (ms[middle] + ms[middle + 1]) / 2
        }')"
    # /usr/bin/time counts wall time in steps of 10 ms, so take the median
    # from hyperfine when it is installed.
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup 2 --runs "$((runs < 10 ? 10 : runs))" --export-json "$work/hyperfine.json" \
            "$(printf '%q ' "$stagec" "$@")" >/dev/null 2>&1 || die "hyperfine failed on stagec $*"
        median="$(awk -F': ' '/"median"/ { gsub(/,/, "", $2); printf "%.2f", $2 * 1000; exit }' "$work/hyperfine.json")"
    fi
    printf '%s %s\n' "$(sort -n "$samples" | tail -1 | cut -d' ' -f1)" "$median"
}

print_row() {
    printf '%-9s %10s %-10s %13s %11s\n' "$@"
}

# The machine and its load, which moves the wall times on a shared machine.
machine() {
    local model
    model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    printf '# %s, nproc %s, %s, load average %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" \
        "${model:-unknown CPU}" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
}

machine
print_row stages spec_bytes command max_rss_kib median_ms
for size in "${sizes[@]}"; do
    spec="$work/chain-$size.kdl"
    write_chain "$size" "$spec"
    write_lock "$spec.lock"
    spec_bytes="$(wc -c <"$spec")"
    for command in check dockerfile llb; do
        case "$command" in
            llb) args=(llb --platform linux/amd64 "$spec") ;;
            *) args=("$command" "$spec") ;;
        esac
        read -r rss ms <<<"$(measure "${args[@]}")"
        print_row "$size" "$spec_bytes" "$command" "$rss" "$ms"
    done
done

# The go-web example with its committed lock file.
example="$repo/specs/examples/go-web/app.kdl"
example_bytes="$(wc -c <"$example")"
for command in check dockerfile llb; do
    case "$command" in
        llb) args=(llb --platform linux/amd64 "$example") ;;
        *) args=("$command" "$example") ;;
    esac
    read -r rss ms <<<"$(measure "${args[@]}")"
    print_row go-web "$example_bytes" "$command" "$rss" "$ms"
done
machine
