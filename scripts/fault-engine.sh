#!/usr/bin/env bash
# Start, break and stop a throwaway Docker Engine for the engine fault tests
# (tests/engine_faults_e2e.rs). Each engine has its own state folder, so the
# tests never stop or fill the engine that other tests share.
#
#   scripts/fault-engine.sh start DIR [TMPFS_SIZE]
#       Start an engine in DIR with engine-start.sh and load alpine:3 into
#       it from the engine at DOCKER_HOST. With TMPFS_SIZE (such as 160m),
#       the data root is a tmpfs of that size, so a build can fill it.
#       Prints the engine's variables, as engine-start.sh does.
#   scripts/fault-engine.sh kill DIR
#       Send SIGKILL to the engine's dockerd, as a crash would.
#   scripts/fault-engine.sh stop DIR
#       Stop the engine, unmount its tmpfs and delete DIR.
#
# Runs as root, like engine-start.sh.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

usage() {
    die "usage: ${0##*/} start DIR [TMPFS_SIZE] | kill DIR | stop DIR"
}

# The tmpfs sits beside DIR, not inside it: engine-start.sh and
# engine-stop.sh unmount everything below DIR, the data root included.
tmpfs_dir() {
    printf '%s.tmpfs\n' "$1"
}

start() {
    local dir="$1" size="${2:-}" source_host="${DOCKER_HOST:-unix:///tmp/stagec-engine/docker.sock}"
    mkdir -p "$dir"
    if [ -n "$size" ]; then
        local data
        data="$(tmpfs_dir "$dir")"
        mkdir -p "$data"
        mountpoint -q "$data" || mount -t tmpfs -o "size=$size,mode=0711" tmpfs "$data"
        # dockerd resolves a symbolic link given as --data-root.
        ln -sfn "$data" "$dir/data"
    fi

    local exports
    exports="$(env -u DOCKER_HOST STAGEC_ENGINE_DIR="$dir" STAGEC_STORAGE_DRIVER="${STAGEC_STORAGE_DRIVER:-}" \
        "$script_dir/engine-start.sh")"
    eval "$exports"

    # The engine has no registry to pull from, so the base image comes from
    # the engine that the other tests use.
    DOCKER_HOST="$source_host" "$STAGEC_DOCKER" save alpine:3 | "$STAGEC_DOCKER" load >/dev/null ||
        die "failed to copy alpine:3 from $source_host into the engine in $dir"
    printf '%s\n' "$exports"
}

kill_dockerd() {
    local dir="$1" pid
    pid="$(cat "$dir/dockerd.pid" 2>/dev/null)" || die "no dockerd pid file in $dir"
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" != "" ] || die "dockerd (pid $pid) of $dir is not running"
    log "killing dockerd (pid $pid) of $dir"
    kill -KILL "$pid"
}

stop() {
    local dir="$1" data
    data="$(tmpfs_dir "$dir")"
    if [ -d "$dir" ]; then
        env -u DOCKER_HOST STAGEC_ENGINE_DIR="$dir" "$script_dir/engine-stop.sh" || log "warning: engine-stop.sh failed for $dir"
    fi
    if [ -d "$data" ]; then
        # Overlay mounts of a killed engine may remain below the tmpfs.
        umount -R "$data" 2>/dev/null || umount -R -l "$data" 2>/dev/null || true
        rmdir "$data" 2>/dev/null || log "warning: $data is not empty after unmounting"
    fi
    # Never delete through a mount that is still in place.
    if awk -v dir="$dir" 'index($5, dir) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        die "mounts remain below $dir; not deleting it"
    fi
    rm -rf "$dir"
}

[ "$#" -ge 2 ] || usage
case "$1" in
    start) start "$2" "${3:-}" ;;
    kill) kill_dockerd "$2" ;;
    stop) stop "$2" ;;
    *) usage ;;
esac
