#!/usr/bin/env bash
# Start a private Docker Engine for the stagec end-to-end tests and print the
# variables that point a docker client at it:
#
#   eval "$(scripts/engine-start.sh)"
#
# eval hides a failed start because it returns its own status, so scripts
# that stop on errors should use:
#
#   exports="$(scripts/engine-start.sh)" && eval "$exports"
#
# The engine is STAGEC_ENGINE's dockerd (see engine-env.sh) with its own
# containerd, data root, exec root, pid files, logs and unix socket, all in
# STAGEC_ENGINE_DIR, so it never shares state with a system dockerd or
# containerd. It listens on no TCP port and sets up no iptables rules and no
# bridge network, so a container has only a loopback interface unless it runs
# with `--network host`. Registry requests go to a closed loopback port (see
# STAGEC_ENGINE_PROXY below), so the engine sends nothing off the machine.
#
# The storage driver is the first that applies of:
#   1. STAGEC_STORAGE_DRIVER, if set;
#   2. the driver whose folder in the data root already contains layers;
#   3. overlay2, if a test overlay mount in STAGEC_ENGINE_DIR works;
#   4. fuse-overlayfs, if /dev/fuse and the fuse-overlayfs binary exist;
#   5. vfs.
#
# Running it while the engine responds only prints the variables again.
# Diagnostics go to stderr, the variables to stdout.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/engine-env.sh
. "$script_dir/engine-env.sh"
# shellcheck source=scripts/lib/engine.sh
. "$script_dir/lib/engine.sh"

start_timeout="${STAGEC_ENGINE_TIMEOUT:-60}"

print_exports() {
    printf 'export STAGEC_ENGINE=%q\n' "$STAGEC_ENGINE"
    printf 'export STAGEC_ENGINE_DIR=%q\n' "$ENGINE_DIR"
    printf 'export DOCKER_HOST=%q\n' "unix://$DOCKER_SOCKET"
    printf 'export STAGEC_DOCKER=%q\n' "$STAGEC_DOCKER"
    printf 'export DOCKER_BUILDKIT=1\n'
    if [ -n "${DOCKER_CONFIG:-}" ]; then
        printf 'export DOCKER_CONFIG=%q\n' "$DOCKER_CONFIG"
    fi
}

engine_responds() {
    DOCKER_HOST="unix://$DOCKER_SOCKET" "$STAGEC_DOCKER" version \
        --format '{{.Server.Version}}' >/dev/null 2>&1
}

# Print the storage driver to use for DATA_ROOT.
choose_storage_driver() {
    local driver probe
    if [ -n "${STAGEC_STORAGE_DRIVER:-}" ]; then
        printf '%s\n' "$STAGEC_STORAGE_DRIVER"
        return
    fi
    # dockerd refuses to start with another driver than the one whose
    # images the data root already contains.
    for driver in overlay2 fuse-overlayfs vfs; do
        if [ -d "$DATA_ROOT/$driver" ] && [ -n "$(ls -A "$DATA_ROOT/$driver")" ]; then
            printf '%s\n' "$driver"
            return
        fi
    done

    probe="$(mktemp -d "$ENGINE_DIR/overlay-probe.XXXXXX")"
    mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
    if mount -t overlay overlay \
        -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
        "$probe/merged" 2>/dev/null; then
        umount "$probe/merged"
        rm -rf "$probe"
        printf 'overlay2\n'
        return
    fi
    rm -rf "$probe"
    log "an overlay mount failed in $ENGINE_DIR, so overlay2 is not usable"
    if [ -c /dev/fuse ] && command -v fuse-overlayfs >/dev/null; then
        printf 'fuse-overlayfs\n'
    else
        printf 'vfs\n'
    fi
}

write_containerd_config() {
    # Every socket and folder of this containerd is inside ENGINE_DIR. The
    # CRI plugin is for Kubernetes and only slows the start.
    cat >"$CONTAINERD_CONFIG" <<EOF
version = 2
root = "$ENGINE_DIR/containerd/root"
state = "$ENGINE_DIR/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$CONTAINERD_SOCKET"

[ttrpc]
  address = "$CONTAINERD_SOCKET.ttrpc"

[debug]
  address = ""
EOF
}

# Wait until CHECK succeeds, while the process PID is alive, up to TIMEOUT
# seconds. On failure print the tail of LOG and exit.
wait_until() {
    local what="$1" pid="$2" log_file="$3" timeout="$4"
    shift 4
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        if ! process_running "$pid"; then
            log "$what exited during startup; last lines of $log_file:"
            tail -n 30 "$log_file" >&2 || true
            stop_engine
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "timed out after ${timeout} s waiting for $what; last lines of $log_file:"
            tail -n 30 "$log_file" >&2 || true
            stop_engine
            exit 1
        fi
        sleep 0.25
    done
}

rotate_log() {
    if [ -f "$1" ]; then
        mv -f "$1" "$1.old"
    fi
}

start_containerd() {
    write_containerd_config
    rotate_log "$CONTAINERD_LOG"
    log "starting containerd: $CONTAINERD --config $CONTAINERD_CONFIG (log: $CONTAINERD_LOG)"
    env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        setsid "$CONTAINERD" --config "$CONTAINERD_CONFIG" \
        </dev/null >"$CONTAINERD_LOG" 2>&1 9>&- &
    echo $! >"$CONTAINERD_PIDFILE"
    wait_until containerd "$!" "$CONTAINERD_LOG" "$start_timeout" test -S "$CONTAINERD_SOCKET"
}

start_dockerd() {
    local driver="$1"
    # containerd's image store names snapshotters, not graph drivers.
    if [ "${STAGEC_ENGINE_CONTAINERD_STORE:-0}" = 1 ] && [ "$driver" = overlay2 ]; then
        driver=overlayfs
    fi
    local -a args=(
        # An empty configuration file, so that /etc/docker/daemon.json of a
        # system engine is not read.
        --config-file "$ENGINE_DIR/daemon.json"
        --data-root "$DATA_ROOT"
        --exec-root "$EXEC_ROOT"
        --pidfile "$DOCKERD_PIDFILE"
        --host "unix://$DOCKER_SOCKET"
        --containerd "$CONTAINERD_SOCKET"
        --storage-driver "$driver"
        --iptables=false
        --ip-masq=false
        --ip-forward=false
        --bridge=none
        --exec-opt native.cgroupdriver=cgroupfs
        --cgroup-parent "/stagec-engine-$STAGEC_ENGINE"
        # Debian's docker-init is a symlink to tini-static from the tini
        # package, and the unpacked Debian 13 tree has no tini-static.
        --init-path /usr/bin/tini-static
    )
    # NOTE: dockerd 20.10 (STAGEC_ENGINE=bookworm) also creates its trust key
    # /etc/docker/key.json, outside ENGINE_DIR, and has no flag to move it.
    if [ -n "${STAGEC_DOCKERD_ARGS:-}" ]; then
        # Extra flags for debugging, such as --debug, separated by spaces.
        # shellcheck disable=SC2206
        args+=($STAGEC_DOCKERD_ARGS)
    fi

    # STAGEC_ENGINE_CONTAINERD_STORE=1 keeps images in containerd's image
    # store, whose BuildKit has the oci, docker and image exporters, cache
    # export and multi-platform images (see docs/outputs.md).
    if [ "${STAGEC_ENGINE_CONTAINERD_STORE:-0}" = 1 ]; then
        printf '{"features": {"containerd-snapshotter": true}}\n' >"$ENGINE_DIR/daemon.json"
    else
        printf '{}\n' >"$ENGINE_DIR/daemon.json"
    fi
    rotate_log "$DOCKERD_LOG"
    log "starting $DOCKERD ($("$DOCKERD" --version)) with storage driver $driver (log: $DOCKERD_LOG)"
    # The engine's own docker-proxy comes first in PATH. containerd, runc
    # and the shims come from Debian 12's packages in /usr/bin and /usr/sbin.
    #
    # Every registry request of dockerd and its BuildKit (a pull, a FROM
    # image missing from the local store, a `# syntax=` frontend, an ADD of
    # an http:// URL) goes through the proxy at STAGEC_ENGINE_PROXY. Its
    # default is a closed loopback port, so such a request fails at once
    # with "proxyconnect ... connection refused" and no packet leaves the
    # machine. Go's HTTP client never proxies loopback addresses, so servers
    # on 127.0.0.1 stay reachable. An empty STAGEC_ENGINE_PROXY turns this off.
    local proxy="${STAGEC_ENGINE_PROXY-http://127.0.0.1:9}"
    local -a proxy_env=()
    if [ -n "$proxy" ]; then
        proxy_env=(HTTP_PROXY="$proxy" HTTPS_PROXY="$proxy" "NO_PROXY=localhost,127.0.0.0/8,::1")
    fi
    # `env -i` keeps the caller's variables, such as DOCKER_HOST or a proxy,
    # out of the daemon.
    env -i HOME=/root "${proxy_env[@]}" \
        PATH="$DOCKERD_DIR/usr/sbin:$DOCKERD_DIR/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        setsid "$DOCKERD" "${args[@]}" </dev/null >"$DOCKERD_LOG" 2>&1 9>&- &
    local pid=$!
    wait_until dockerd "$pid" "$DOCKERD_LOG" "$start_timeout" engine_responds
}

main() {
    require_root
    select_engine
    set_engine_paths

    [ -x "$DOCKERD" ] || die "dockerd not found at $DOCKERD; run scripts/install-engine.sh first"
    [ -x "$CONTAINERD" ] || die "containerd not found at $CONTAINERD; run scripts/install-engine.sh first"
    [ -x "$STAGEC_DOCKER" ] || die "docker client not found at $STAGEC_DOCKER; run scripts/install-engine.sh first"
    command -v flock >/dev/null || die "flock not found; install Debian's util-linux package"

    lock_engine_dir

    if live_pid "$DOCKERD_PIDFILE" dockerd >/dev/null && engine_responds; then
        log "engine already running at unix://$DOCKER_SOCKET"
        print_exports
        return
    fi

    # Clean up what a killed or half-started engine left behind.
    stop_engine

    local driver
    driver="$(choose_storage_driver)"
    start_containerd
    start_dockerd "$driver"

    log "engine ready at unix://$DOCKER_SOCKET ($(
        DOCKER_HOST="unix://$DOCKER_SOCKET" "$STAGEC_DOCKER" version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}'
    ), storage driver $driver)"
    print_exports
}

main "$@"
