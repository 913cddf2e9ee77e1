#!/usr/bin/env bash
# Give every image of an engine with the containerd image store a second
# name with its manifest digest, NAME:TAG@sha256:DIGEST, in the engine's
# containerd (namespace moby):
#
#   STAGEC_ENGINE_DIR=/tmp/outputs-engine scripts/containerd-store-names.sh
#
# stagec pins base images by digest from the lock file. Docker Engine 26.1's
# BuildKit on the containerd store looks such a pinned reference up in the
# local store by its full name and, when that name is missing, asks the
# registry. Images pulled from a registry are found there; the test images
# of scripts/base-images.sh were imported and exist under their tag only, so
# this script adds the pinned name. It is test setup for an offline machine,
# not a step that users of a registry need.
set -euo pipefail

engine_dir="${STAGEC_ENGINE_DIR:?set STAGEC_ENGINE_DIR to the engine folder}"
socket="$engine_dir/containerd.sock"
[ -S "$socket" ] || {
    printf 'containerd-store-names.sh: error: no containerd socket at %s\n' "$socket" >&2
    exit 1
}

ctr_moby() {
    ctr --address "$socket" --namespace moby "$@"
}

ctr_moby images list --quiet | while read -r name; do
    case "$name" in
        *@sha256:*) continue ;;
    esac
    digest="$(ctr_moby images list "name==$name" | awk 'NR == 2 { print $3 }')"
    [ -n "$digest" ] || continue
    pinned="$name@$digest"
    if ! ctr_moby images list --quiet "name==$pinned" | grep -q .; then
        ctr_moby images tag "$name" "$pinned" >/dev/null
        printf 'containerd-store-names.sh: added %s\n' "$pinned" >&2
    fi
done
