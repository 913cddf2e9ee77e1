#!/usr/bin/env bash
# The main job on the go-web example, from a fresh Debian 12 machine:
#
#   scripts/demo.sh
#
# 1. installs stagec with `cargo install --path .`;
# 2. uses the Docker Engine at DOCKER_HOST (or the default socket) when one
#    responds; otherwise installs and starts the same private engine the
#    tests use, and makes its offline base images (alpine:3, golang:1.19);
# 3. checks the spec, builds it with `stagec build` (LLB straight to the
#    engine's BuildKit), runs the image, and shows the same spec compiled
#    to a Dockerfile.
# A private engine started here is left running; stop it with
# scripts/engine-stop.sh.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/.." && pwd)"
cd "$repo"

log() {
    printf '\ndemo.sh: %s\n' "$*" >&2
}

log "installing stagec (cargo install --path .)"
cargo install --locked --quiet --path .
stagec="${CARGO_HOME:-$HOME/.cargo}/bin/stagec"

# Docker 20.10's client runs BuildKit builds without the buildx plugin.
docker_client="${STAGEC_DOCKER:-docker}"
if ! command -v "$docker_client" >/dev/null 2>&1 || ! "$docker_client" version >/dev/null 2>&1; then
    log "no Docker Engine answers at DOCKER_HOST or the default socket; using the private test engine, started if it is not running"
    "$script_dir/install-engine.sh"
    exports="$("$script_dir/engine-start.sh")"
    eval "$exports"
    "$script_dir/base-images.sh"
    docker_client="$STAGEC_DOCKER"
fi

spec=specs/examples/go-web/app.kdl

log "stagec check $spec"
"$stagec" check "$spec"

# The private engine has no network bridge and no internet, so steps run
# with no network, as the spec's Go program needs none.
log "stagec build $spec --network none"
"$stagec" build "$spec" --network none

log "docker run go-web:1.0 /app/main -once"
"$docker_client" run --rm --network none go-web:1.0 /app/main -once
"$docker_client" image ls go-web:1.0

out="$repo/target/demo/go-web"
mkdir -p "$out"
log "the same spec as a Dockerfile: stagec dockerfile $spec -o $out/Dockerfile"
"$stagec" dockerfile "$spec" -o "$out/Dockerfile"
cat "$out/Dockerfile"
