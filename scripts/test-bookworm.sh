#!/usr/bin/env bash
# Run the end-to-end tests of `stagec build` and the engine client against
# the oldest supported engine, Debian 12's Docker Engine 20.10 (BuildKit
# 0.8), as root:
#
#   scripts/test-bookworm.sh [extra cargo test arguments]
#
# Starts the private bookworm engine (STAGEC_ENGINE=bookworm
# scripts/engine-start.sh, state in /tmp/stagec-engine-bookworm), makes the
# local base images, runs the engine, LLB and build tests with STAGEC_E2E=1
# so that they must run rather than skip, and stops the engine on exit, also
# when a step fails. As in scripts/test.sh, a bookworm engine that was
# already running is left running. The default engine (Docker Engine 26.1)
# is not touched. Run scripts/install-engine.sh once first.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/.." && pwd)"
cd "$repo"

log() {
    printf 'test-bookworm.sh: %s\n' "$*" >&2
}

# The engine scripts read these; a DOCKER_HOST or state folder of the
# default engine in the caller's environment must not leak in.
export STAGEC_ENGINE=bookworm
unset DOCKER_HOST STAGEC_ENGINE_DIR STAGEC_DOCKER

# shellcheck source=scripts/engine-env.sh
. "$script_dir/engine-env.sh"
started_engine=1
if [ -x "$STAGEC_DOCKER" ] && "$STAGEC_DOCKER" version >/dev/null 2>&1; then
    started_engine=0
fi

stop_engine() {
    if [ "$started_engine" = 1 ]; then
        log "stopping the bookworm engine"
        "$script_dir/engine-stop.sh" || log "warning: engine-stop.sh failed"
    fi
}
trap stop_engine EXIT

log "starting the bookworm engine"
exports="$("$script_dir/engine-start.sh")"
eval "$exports"

log "making the base images"
"$script_dir/base-images.sh"

export STAGEC_E2E=1
log "running the end-to-end tests (DOCKER_HOST=$DOCKER_HOST, $("$STAGEC_DOCKER" version --format 'Docker Engine {{.Server.Version}}'))"
cargo test --locked --test build_e2e --test engine --test llb "$@"
