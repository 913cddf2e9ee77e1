# shellcheck shell=bash
# Settings shared by the stagec engine scripts. Source it from bash:
#
#   . scripts/engine-env.sh
#
# It only sets and exports variables, so it is safe to source from an
# interactive shell. Every variable keeps a value that is already set.
#
#   STAGEC_ENGINE         which dockerd to run: "trixie" (Debian 13's
#                         docker.io 26.1, the default) or "bookworm"
#                         (Debian 12's docker.io 20.10, the oldest supported)
#   STAGEC_CLI            which docker client to use: "bookworm" (Debian 12's
#                         /usr/bin/docker 20.10, the default) or "trixie"
#                         (Debian 13's docker CLI 26.1 with docker-buildx 0.13)
#   STAGEC_ENGINE_PREFIX  where install-engine.sh unpacks the Debian 13
#                         packages (default /opt/stagec-engine)
#   STAGEC_ENGINE_DIR     state folder of one engine: sockets, pid files,
#                         logs, the data root and the exec root (default
#                         /tmp/stagec-engine, or /tmp/stagec-engine-bookworm
#                         for STAGEC_ENGINE=bookworm)
#   STAGEC_DOCKER         absolute path of the docker client
#   DOCKER_HOST           unix socket of the engine in STAGEC_ENGINE_DIR
#   DOCKER_BUILDKIT       1, so that `docker build` uses BuildKit

export STAGEC_ENGINE="${STAGEC_ENGINE:-trixie}"
export STAGEC_CLI="${STAGEC_CLI:-bookworm}"
export STAGEC_ENGINE_PREFIX="${STAGEC_ENGINE_PREFIX:-/opt/stagec-engine}"

# The two engines get separate state folders because a data root written by
# dockerd 26.1 is not meant to be opened by dockerd 20.10.
if [ "$STAGEC_ENGINE" = bookworm ]; then
    export STAGEC_ENGINE_DIR="${STAGEC_ENGINE_DIR:-/tmp/stagec-engine-bookworm}"
else
    export STAGEC_ENGINE_DIR="${STAGEC_ENGINE_DIR:-/tmp/stagec-engine}"
fi

if [ "$STAGEC_CLI" = trixie ]; then
    export STAGEC_DOCKER="${STAGEC_DOCKER:-$STAGEC_ENGINE_PREFIX/docker-26/usr/bin/docker}"
    # The 26.1 client runs BuildKit builds only through the buildx plugin,
    # which install-engine.sh registers in this client configuration folder.
    export DOCKER_CONFIG="${DOCKER_CONFIG:-$STAGEC_ENGINE_PREFIX/docker-26/client-config}"
else
    export STAGEC_DOCKER="${STAGEC_DOCKER:-/usr/bin/docker}"
fi

export DOCKER_HOST="${DOCKER_HOST:-unix://$STAGEC_ENGINE_DIR/docker.sock}"
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-1}"
