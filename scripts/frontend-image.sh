#!/usr/bin/env bash
# Build the stagec gateway frontend image and tag it in the engine at
# DOCKER_HOST:
#
#   scripts/frontend-image.sh [TAG]      (default TAG: stagec/frontend:dev)
#
# Builds a statically linked stagec (glibc's static libraries, so no
# shared library is needed on the empty image) in its own target folder,
# target/frontend, copies it into a build context folder beside it, and
# runs `stagec build specs/frontend/app.kdl` with that context. The image
# is the one a spec's `# syntax=TAG` line names; docs/frontend.md explains
# how to publish it.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/.." && pwd)"
cd "$repo"

tag="${1:-stagec/frontend:dev}"
target=x86_64-unknown-linux-gnu
target_dir="$repo/target/frontend"
context="$target_dir/image-context"

log() {
    printf 'frontend-image.sh: %s\n' "$*" >&2
}

log "building a static stagec for $target in $target_dir"
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --locked --profile frontend --target "$target" --target-dir "$target_dir" --bin stagec

binary="$target_dir/$target/frontend/stagec"
# A dynamically linked binary would fail on the empty image with "no such
# file or directory" for its loader, so check before building the image.
if ! program_headers="$(LC_ALL=C readelf -l "$binary" 2>/dev/null)"; then
    log "warning: readelf is missing; the binary's linkage is not checked"
elif printf '%s' "$program_headers" | grep -q 'Requesting program interpreter'; then
    log "error: $binary is dynamically linked; check RUSTFLAGS and the target"
    exit 1
fi

rm -rf "$context"
mkdir -p "$context"
cp "$binary" "$context/stagec"

# The stagec that builds the image is the same static binary.
log "building image $tag"
"$binary" build specs/frontend/app.kdl --context "$context" -t "$tag" --network none --progress plain
