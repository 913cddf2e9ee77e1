#!/usr/bin/env bash
# Run every stagec test, end-to-end tests included, on a Debian 12 machine
# as root:
#
#   scripts/test.sh [extra cargo test arguments]
#
# Installs the engine and tools (scripts/install-engine.sh), starts a private
# Docker Engine (scripts/engine-start.sh), makes the local base images
# (scripts/base-images.sh), runs `cargo test` with STAGEC_E2E=1 so the
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

stop_engine() {
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

export STAGEC_E2E=1
log "running cargo test (DOCKER_HOST=$DOCKER_HOST)"
cargo test --locked --all-targets "$@"
