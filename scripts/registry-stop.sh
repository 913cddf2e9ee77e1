#!/usr/bin/env bash
# Stop the registry that scripts/registry-start.sh started in
# STAGEC_REGISTRY_DIR [default: /tmp/stagec-registry]. Its storage stays;
# delete the folder to start from an empty registry.
set -euo pipefail

registry_dir="${STAGEC_REGISTRY_DIR:-/tmp/stagec-registry}"
pid_file="$registry_dir/registry.pid"

if [ ! -f "$pid_file" ]; then
    printf 'registry-stop.sh: no registry pid file in %s\n' "$registry_dir" >&2
    exit 0
fi
pid="$(cat "$pid_file")"
if kill -0 "$pid" 2>/dev/null && grep -q docker-registry "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    printf 'registry-stop.sh: registry (pid %s) stopped\n' "$pid" >&2
fi
rm -f "$pid_file"
