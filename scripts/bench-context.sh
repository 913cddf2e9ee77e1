#!/usr/bin/env bash
# Compare `stagec build` of the go-web example with and without 500 MB of
# context files that the spec does not read, on the engine at DOCKER_HOST:
#
#   exports="$(scripts/engine-start.sh)" && eval "$exports" && scripts/bench-context.sh [RUNS]
#
# The unused files have the shape that tests/context_transfer.rs gives them:
# 50 files of 10 MiB of random bytes (two of them beside the used files, as
# main.go.orig and go.mod.bak) and 5,000 files of 512 bytes in 20 nested
# folders. Each run builds both contexts with `--no-cache --network none`,
# each from a new folder, so the engine has no copy of the context from an
# earlier run. The order alternates between runs so that a slow phase of
# the machine does not fall on one context only. The unused files of each
# run are hard links to one set made at the start.
#
# Prints each build's time and bytes sent, then the median time of each
# context over RUNS runs (default 5) and their ratio, with unused files /
# without. A ratio near 1 means that the unused files cost nothing. The
# builds compile Go, so a busy machine moves single runs by a second or more.
#
# STAGEC_BIN selects the stagec binary [default: target/release/stagec,
# built with `cargo build --release` first].
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/.." && pwd)"
cd "$repo"

runs="${1:-5}"
blob_count=50
blob_mib=10
tree_depth=20
files_per_folder=250
small_file_bytes=512

log() {
    printf 'bench-context.sh: %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set; run: exports=\"\$(scripts/engine-start.sh)\" && eval \"\$exports\""

if [ -n "${STAGEC_BIN:-}" ]; then
    stagec="$STAGEC_BIN"
else
    log "building target/release/stagec"
    cargo build --release --quiet --bin stagec
    stagec="$repo/target/release/stagec"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/stagec-bench-context.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Make the unused files once; every run links to them.
log "writing $((blob_count * blob_mib)) MiB of unused files to $work/unused"
mkdir -p "$work/unused/unused/blobs"
for ((index = 0; index < blob_count; index++)); do
    case "$index" in
        0) blob="$work/unused/main.go.orig" ;;
        1) blob="$work/unused/go.mod.bak" ;;
        *) blob="$(printf '%s/unused/unused/blobs/blob-%02d.bin' "$work" "$index")" ;;
    esac
    head -c "$((blob_mib * 1024 * 1024))" /dev/urandom >"$blob"
done
folder="$work/unused/unused/tree"
for ((level = 0; level < tree_depth; level++)); do
    folder="$(printf '%s/level-%02d' "$folder" "$level")"
    mkdir -p "$folder"
    # One read of /dev/urandom, split into the folder's small files.
    head -c "$((files_per_folder * small_file_bytes))" /dev/urandom |
        split -a 3 -d -b "$small_file_bytes" --additional-suffix=.txt - "$folder/file-"
done

# Copy the example into a new folder named by the variant and the run.
# The "padded" variant also gets the unused files.
make_context() {
    local variant="$1" run="$2" dir
    dir="$work/run-$run-$variant"
    mkdir -p "$dir"
    cp specs/examples/go-web/{app.kdl,app.kdl.lock,README.md,go.mod,main.go} "$dir/"
    if [ "$variant" = padded ]; then
        cp -al "$work/unused/." "$dir/"
    fi
    printf '%s\n' "$dir"
}

# Build one context; print "SECONDS BYTES_SENT".
build() {
    local dir="$1" variant="$2" start end bytes
    start="$(date +%s.%N)"
    if ! "$stagec" build --network none --no-cache --progress quiet \
        -t "stagec-bench/context-$variant:1" --metadata-file "$dir/metadata.json" \
        "$dir/app.kdl" >/dev/null 2>"$work/build.log"; then
        cat "$work/build.log" >&2
        die "stagec build of $dir failed"
    fi
    end="$(date +%s.%N)"
    bytes="$(sed -n 's/.*"stagec.context.bytes_sent": *\([0-9]*\).*/\1/p' "$dir/metadata.json")"
    awk -v start="$start" -v end="$end" -v bytes="$bytes" 'BEGIN { printf "%.3f %s\n", end - start, bytes }'
}

median() {
    sort -n | awk '{ values[NR] = $1 } END {
        if (NR % 2) { printf "%.3f\n", values[(NR + 1) / 2] }
        else { printf "%.3f\n", (values[NR / 2] + values[NR / 2 + 1]) / 2 }
    }'
}

plain_times=()
padded_times=()
printf '%-4s %-7s %9s %11s\n' run context seconds bytes_sent
for ((run = 1; run <= runs; run++)); do
    if ((run % 2)); then
        order=(plain padded)
    else
        order=(padded plain)
    fi
    for variant in "${order[@]}"; do
        dir="$(make_context "$variant" "$run")"
        result="$(build "$dir" "$variant")"
        read -r seconds bytes <<<"$result"
        printf '%-4s %-7s %9s %11s\n' "$run" "$variant" "$seconds" "$bytes"
        if [ "$variant" = plain ]; then
            plain_times+=("$seconds")
        else
            padded_times+=("$seconds")
        fi
        rm -rf "$dir"
    done
done

plain_median="$(printf '%s\n' "${plain_times[@]}" | median)"
padded_median="$(printf '%s\n' "${padded_times[@]}" | median)"
printf '\nmedian of %s runs without unused files: %s s\n' "$runs" "$plain_median"
printf 'median of %s runs with unused files:    %s s\n' "$runs" "$padded_median"
awk -v plain="$plain_median" -v padded="$padded_median" \
    'BEGIN { printf "ratio (with / without):              %.2f\n", padded / plain }'
