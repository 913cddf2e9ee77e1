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
# Prints one line per size and command: the maximum resident set size that
# `/usr/bin/time -v` reports, in KiB, and the wall time. One process per
# measurement, so the numbers include the program's start (about 1 ms).
#
# STAGEC_BIN selects the stagec binary [default: target/release/stagec,
# built with `cargo build --release` first].
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

# Run stagec with ARGS under /usr/bin/time -v; print "MAX_RSS_KIB SECONDS".
measure() {
    local report="$work/time.txt"
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
        END { printf "%s %.2f\n", rss, seconds }' "$report"
}

printf '%-7s %10s %-10s %13s %9s\n' stages spec_bytes command max_rss_kib seconds
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
        result="$(measure "${args[@]}")"
        read -r rss seconds <<<"$result"
        printf '%-7s %10s %-10s %13s %9s\n' "$size" "$spec_bytes" "$command" "$rss" "$seconds"
    done
done
