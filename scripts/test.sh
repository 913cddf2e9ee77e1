#!/usr/bin/env bash
# Run every stagec test, end-to-end tests included, on a Debian 12 machine
# as root:
#
#   scripts/test.sh [extra cargo test arguments]
#
# Installs the engine and tools (scripts/install-engine.sh), starts a private
# Docker Engine (scripts/engine-start.sh), makes the local base images
# (scripts/base-images.sh) and the stagec frontend image
# (scripts/frontend-image.sh), runs `cargo test` with STAGEC_E2E=1 so the
# end-to-end tests must run rather than skip, and stops the engine on exit,
# also when a step fails.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/.." && pwd)"
cd "$repo"

log() {
    printf 'test.sh: %s\n' "$*" >&2
}

log "installing the engine and test tools"
"$script_dir/install-engine.sh"

# An engine that was already running (a developer's, or another run's) is
# left running; only an engine this script starts is stopped at the end.
# shellcheck source=scripts/engine-env.sh
. "$script_dir/engine-env.sh"
started_engine=1
if [ -x "$STAGEC_DOCKER" ] && "$STAGEC_DOCKER" version >/dev/null 2>&1; then
    started_engine=0
fi

# The output and cache tests also use a second engine with the containerd
# image store and a private registry, which this script always starts and stops.
containerd_engine_dir="${STAGEC_CONTAINERD_ENGINE_DIR:-/tmp/stagec-containerd-engine}"

stop_engine() {
    "$script_dir/registry-stop.sh" || log "warning: registry-stop.sh failed"
    STAGEC_ENGINE_DIR="$containerd_engine_dir" "$script_dir/engine-stop.sh" ||
        log "warning: engine-stop.sh failed for $containerd_engine_dir"
    if [ "$started_engine" = 1 ]; then
        log "stopping the engine"
        "$script_dir/engine-stop.sh" || log "warning: engine-stop.sh failed"
    fi
}
trap stop_engine EXIT

log "starting the engine"
exports="$("$script_dir/engine-start.sh")"
eval "$exports"

log "making the base images"
"$script_dir/base-images.sh"

# tests/frontend_e2e.rs builds with this image as the spec's `# syntax=`
# frontend, so it must contain the stagec under test.
log "making the stagec frontend image"
"$script_dir/frontend-image.sh"

log "starting the engine with the containerd image store in $containerd_engine_dir"
containerd_exports="$(STAGEC_ENGINE_DIR="$containerd_engine_dir" STAGEC_ENGINE_CONTAINERD_STORE=1 \
    DOCKER_HOST="unix://$containerd_engine_dir/docker.sock" "$script_dir/engine-start.sh")"
containerd_host="$(printf '%s\n' "$containerd_exports" | sed -n 's/^export DOCKER_HOST=//p')"
DOCKER_HOST="$containerd_host" "$script_dir/base-images.sh"
STAGEC_ENGINE_DIR="$containerd_engine_dir" "$script_dir/containerd-store-names.sh"
export STAGEC_CONTAINERD_DOCKER_HOST="$containerd_host"

log "starting the test registry"
registry_exports="$("$script_dir/registry-start.sh")"
eval "$registry_exports"

# Multi-platform builds run foreign RUN steps with QEMU; registering the
# handlers needs root and binfmt_misc, and the tests skip without them.
if command -v update-binfmts >/dev/null; then
    update-binfmts --enable qemu-aarch64 2>/dev/null || log "warning: cannot register the QEMU aarch64 handler"
fi

export STAGEC_E2E=1
log "running cargo test (DOCKER_HOST=$DOCKER_HOST)"
cargo test --locked --all-targets "$@"
