#!/usr/bin/env bash
# Stop the private Docker Engine that engine-start.sh started for
# STAGEC_ENGINE_DIR: dockerd first, so that it stops its containers, then
# containerd and any shim of it that is left. Then unmount everything below
# STAGEC_ENGINE_DIR and remove the sockets and pid files, so that the next
# start begins clean. The data root, and with it the images, is kept.
#
# Safe to run when the engine is not running, and to run twice.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/engine-env.sh
. "$script_dir/engine-env.sh"
# shellcheck source=scripts/lib/engine.sh
. "$script_dir/lib/engine.sh"

require_root
select_engine
set_engine_paths

if [ ! -d "$ENGINE_DIR" ]; then
    log "nothing to stop: $ENGINE_DIR does not exist"
    exit 0
fi

lock_engine_dir
stop_engine
log "engine in $ENGINE_DIR stopped"
