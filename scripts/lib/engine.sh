# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are used by the callers
# Functions shared by engine-start.sh and engine-stop.sh. The caller sources
# engine-env.sh first and runs with `set -euo pipefail`.

log() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

require_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (dockerd and containerd need it); current uid is $(id -u)"
}

# Select the binaries of $STAGEC_ENGINE into DOCKERD, DOCKERD_DIR and CONTAINERD.
select_engine() {
    case "$STAGEC_ENGINE" in
        trixie)
            DOCKERD_DIR="$STAGEC_ENGINE_PREFIX/docker-26"
            DOCKERD="$DOCKERD_DIR/usr/sbin/dockerd"
            ;;
        bookworm)
            DOCKERD_DIR=/
            DOCKERD=/usr/sbin/dockerd
            ;;
        *)
            die "invalid STAGEC_ENGINE '$STAGEC_ENGINE': expected 'trixie' or 'bookworm'"
            ;;
    esac
    CONTAINERD=/usr/bin/containerd
}

# Engine state file paths, all inside STAGEC_ENGINE_DIR.
set_engine_paths() {
    ENGINE_DIR="$STAGEC_ENGINE_DIR"
    DOCKER_SOCKET="$ENGINE_DIR/docker.sock"
    DOCKERD_PIDFILE="$ENGINE_DIR/dockerd.pid"
    DOCKERD_LOG="$ENGINE_DIR/dockerd.log"
    CONTAINERD_SOCKET="$ENGINE_DIR/containerd.sock"
    CONTAINERD_PIDFILE="$ENGINE_DIR/containerd.pid"
    CONTAINERD_LOG="$ENGINE_DIR/containerd.log"
    CONTAINERD_CONFIG="$ENGINE_DIR/containerd.toml"
    DATA_ROOT="$ENGINE_DIR/data"
    EXEC_ROOT="$ENGINE_DIR/exec"
    LOCK_FILE="$ENGINE_DIR/engine.lock"
}

# Take an exclusive lock on the engine folder on file descriptor 9, so that a
# start and a stop of the same engine never run at the same time. Children
# that outlive the script must be started with `9>&-`.
lock_engine_dir() {
    mkdir -p "$ENGINE_DIR"
    exec 9>"$LOCK_FILE"
    flock -w 120 9 || die "timed out after 120 s waiting for the lock $LOCK_FILE held by another engine script"
}

# Print the pid stored in PIDFILE if that process is alive and runs a binary
# whose base name is NAME, so that a recycled pid is never taken for ours.
live_pid() {
    local pidfile="$1" name="$2" pid exe
    [ -s "$pidfile" ] || return 1
    pid="$(cat "$pidfile")"
    case "$pid" in
        '' | *[!0-9]*) return 1 ;;
    esac
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
    exe="${exe% (deleted)}"
    [ "${exe##*/}" = "$name" ] || return 1
    printf '%s\n' "$pid"
}

# Succeed if PID is alive. A zombie counts as dead: it has exited, and its
# parent may never reap it (daemons started by engine-start.sh get the
# system's init as parent, and some container init processes do not reap).
process_running() {
    local state
    state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# Send SIGTERM to PID and wait up to TIMEOUT seconds, then send SIGKILL.
terminate_pid() {
    local pid="$1" what="$2" timeout="$3" waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while process_running "$pid"; do
        if [ "$waited" -ge $((timeout * 10)) ]; then
            log "$what (pid $pid) still running after ${timeout} s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            return 0
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# Delete the containers that a killed dockerd left running. dockerd keeps the
# runc state of its containers in EXEC_ROOT/runtime-runc/<namespace>, and its
# BuildKit keeps the state of RUN steps in DATA_ROOT/buildkit/executor.
delete_leftover_containers() {
    local root id
    for root in "$EXEC_ROOT"/runtime-runc/* "$DATA_ROOT/buildkit/executor"; do
        [ -d "$root" ] || continue
        for id in $(runc --root "$root" list --quiet 2>/dev/null); do
            log "deleting leftover container $id (runc root $root)"
            runc --root "$root" delete --force "$id" ||
                log "warning: failed to delete container $id"
        done
    done
}

# Kill containerd shims left over from our containerd. A shim is recognized by
# the `-address <our containerd socket>` pair on its command line.
kill_leftover_shims() {
    local proc pid args
    for proc in /proc/[0-9]*; do
        pid="${proc#/proc/}"
        # A process may exit between the glob and the read, so hide that error.
        args="$({ tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null)" || continue
        case "$args" in
            *containerd-shim*" -address $CONTAINERD_SOCKET "*)
                log "killing leftover containerd shim (pid $pid)"
                kill -KILL "$pid" 2>/dev/null || true
                ;;
        esac
    done
}

# Unmount everything mounted below DIR, deepest first. dockerd and containerd
# leave overlay, bind and namespace mounts there when they are killed.
unmount_below() {
    local dir="$1" mountpoint
    # Field 5 of mountinfo is the mount point, with spaces escaped as \040.
    awk -v prefix="$dir/" '
        { path = $5; gsub(/\\040/, " ", path) }
        index(path, prefix) == 1 || path == substr(prefix, 1, length(prefix) - 1) { print length(path) "\t" path }
    ' /proc/self/mountinfo | sort -rn | cut -f2- |
        while IFS= read -r mountpoint; do
            umount "$mountpoint" 2>/dev/null || umount -l "$mountpoint" ||
                log "warning: failed to unmount $mountpoint"
        done
}

# Stop dockerd and containerd of ENGINE_DIR if they run, and clean up their
# mounts, sockets and pid files. The data root is kept.
stop_engine() {
    local pid
    if pid="$(live_pid "$DOCKERD_PIDFILE" dockerd)"; then
        log "stopping dockerd (pid $pid)"
        # dockerd gives running containers 15 s to stop before it kills them.
        terminate_pid "$pid" dockerd 40
    fi
    if pid="$(live_pid "$CONTAINERD_PIDFILE" containerd)"; then
        log "stopping containerd (pid $pid)"
        terminate_pid "$pid" containerd 20
    fi
    delete_leftover_containers
    kill_leftover_shims
    unmount_below "$ENGINE_DIR"
    rm -f "$DOCKER_SOCKET" "$DOCKERD_PIDFILE" "$CONTAINERD_PIDFILE" \
        "$CONTAINERD_SOCKET" "$CONTAINERD_SOCKET.ttrpc"
}
