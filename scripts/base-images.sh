#!/usr/bin/env bash
# Create the base images that the stagec end-to-end tests build on, in the
# engine that DOCKER_HOST points at. No registry is reachable, so each image
# is a root file system made from this machine's Debian packages and loaded
# with `docker import`:
#
#   alpine:3     busybox-static: /bin/busybox and a link for every applet.
#                There is no C library in it, so a binary linked against
#                glibc does not run in it, as in the real Alpine image. In an
#                engine with the containerd image store it is an image index
#                for linux/amd64 and linux/arm64 (see
#                lib/multiplatform-image.sh), for the multi-platform tests.
#   busybox:1    the same image as alpine:3 under a second name: the real
#                busybox image is also one static busybox with its applets
#                (httpd among them), which `stagec init --stack static` uses.
#   golang:1.19  busybox-static plus Debian 12's Go 1.19 toolchain
#                (golang-1.19-go and golang-1.19-src, without the Go test
#                suite) and the glibc files that its binaries load. There is
#                no C compiler, so a package with its own cgo code fails to
#                build. The standard library comes precompiled with cgo, so
#                a `go build` without CGO_ENABLED=0 of a program that uses
#                net still succeeds, and links the binary against glibc: as
#                with the official images, that binary then fails in
#                alpine:3 with "no such file or directory".
#
# An image whose label org.stagec.base-image.revision equals
# base_image_revision below is kept, so a second run takes about a second.
# Raise base_image_revision whenever a recipe changes.
#
# Usage: exports="$(scripts/engine-start.sh)" && eval "$exports" && scripts/base-images.sh
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/engine-env.sh
. "$script_dir/engine-env.sh"
# shellcheck source=scripts/lib/multiplatform-image.sh
. "$script_dir/lib/multiplatform-image.sh"

base_image_revision=1
revision_label=org.stagec.base-image.revision
go_root=/usr/lib/go-1.19
go_share=/usr/share/go-1.19
image_path='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

log() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

docker() {
    "$STAGEC_DOCKER" "$@"
}

image_is_current() {
    local revision
    revision="$(docker image inspect --format "{{ index .Config.Labels \"$revision_label\" }}" "$1" 2>/dev/null)" || return 1
    [ "$revision" = "$base_image_revision" ]
}

# Write a busybox root file system into ROOTFS, with BUSYBOX (default
# /bin/busybox) as its /bin/busybox. The applet list comes from this
# machine's busybox, which is the same Debian release for every architecture.
make_busybox_rootfs() {
    local rootfs="$1" busybox="${2:-/bin/busybox}" applet busybox_version
    busybox_version="$(/bin/busybox --help 2>&1 | sed -n '1s/ multi-call binary.*//p')"
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,usr/local/sbin,etc,root,home,tmp,var/tmp,run,proc,sys,dev}
    chmod 700 "$rootfs/root"
    chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"

    cp "$busybox" "$rootfs/bin/busybox"
    # `busybox --list-full` prints each applet with its usual folder, such
    # as bin/sh, usr/bin/env, usr/bin/wget and usr/sbin/httpd.
    while IFS= read -r applet; do
        [ -e "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
    done < <(/bin/busybox --list-full)

    cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
    cat >"$rootfs/etc/group" <<'EOF'
root:x:0:root
nobody:x:65534:
EOF
    printf 'root:*::0:::::\nnobody:*::0:::::\n' >"$rootfs/etc/shadow"
    chmod 640 "$rootfs/etc/shadow"
    cat >"$rootfs/etc/os-release" <<EOF
NAME="stagec test image"
ID=stagec-busybox
PRETTY_NAME="stagec test image: $busybox_version"
EOF
}

# Copy FILE, and the shared libraries that ldd lists for it, into ROOTFS at
# the paths that ldd prints. A static binary has no libraries to copy.
copy_shared_libraries() {
    local rootfs="$1" file="$2" library
    for library in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*'); do
        if [ ! -e "$rootfs$library" ]; then
            mkdir -p "$rootfs$(dirname "$library")"
            cp -L "$library" "$rootfs$library"
        fi
    done
}

# Add Debian's Go 1.19 toolchain to the busybox root file system in ROOTFS.
add_go_toolchain() {
    local rootfs="$1" file
    [ -x "$go_root/bin/go" ] || die "Go 1.19 not found at $go_root; run scripts/install-engine.sh first"

    mkdir -p "$rootfs/usr/lib" "$rootfs/usr/share"
    cp -a "$go_root" "$rootfs/usr/lib/"
    # The Go test suite (18 MB) is not needed to build programs.
    cp -a "$go_share" "$rootfs/usr/share/"
    rm -rf "$rootfs$go_share/test" "$rootfs$go_root/test"

    ln -s ../lib/go-1.19/bin/go "$rootfs/usr/bin/go"
    ln -s ../lib/go-1.19/bin/gofmt "$rootfs/usr/bin/gofmt"
    # The official golang images keep Go in /usr/local/go.
    ln -s /usr/lib/go-1.19 "$rootfs/usr/local/go"

    while IFS= read -r file; do
        copy_shared_libraries "$rootfs" "$file"
    done < <(find "$go_root/bin" "$go_root/pkg/tool" -type f -perm -u+x)

    # GOPATH as in the official image: writable by every user.
    mkdir -p "$rootfs/go/src" "$rootfs/go/bin"
    chmod -R 1777 "$rootfs/go"
}

# Stream ROOTFS as a tar archive with fixed owners, order and, for files that
# this script created, a fixed time, into `docker import`.
import_rootfs() {
    local rootfs="$1" image="$2" started="$3"
    shift 3
    find "$rootfs" -newer "$started" -exec touch -h -d @0 {} +
    tar --create --directory "$rootfs" --sort=name --numeric-owner --owner=0 --group=0 . |
        docker import \
            --change "LABEL $revision_label=$base_image_revision" \
            "$@" - "$image" >/dev/null
}

make_alpine() {
    local image=alpine:3 work
    if engine_has_containerd_store; then
        # Loading the same layout again is a no-op, so no revision check.
        make_multiplatform_busybox_image "$image"
        return
    fi
    if image_is_current "$image"; then
        log "$image is up to date"
        return
    fi
    log "creating $image from busybox-static"
    work="$(mktemp -d /tmp/stagec-base-image.XXXXXX)"
    touch "$work/started"
    make_busybox_rootfs "$work/rootfs"
    import_rootfs "$work/rootfs" "$image" "$work/started" \
        --change "ENV $image_path" \
        --change 'CMD ["/bin/sh"]'
    rm -rf "$work"
}

make_golang() {
    local image=golang:1.19 work go_version
    if image_is_current "$image"; then
        log "$image is up to date"
        return
    fi
    go_version="$("$go_root/bin/go" env GOVERSION)"
    log "creating $image from busybox-static and Debian's $go_version"
    work="$(mktemp -d /tmp/stagec-base-image.XXXXXX)"
    touch "$work/started"
    make_busybox_rootfs "$work/rootfs"
    add_go_toolchain "$work/rootfs"
    # GOPROXY=off and GOTOOLCHAIN=local make a module download fail at once
    # with a clear message instead of a network timeout. Go 1.19 ignores
    # GOTOOLCHAIN, which Go 1.21 introduced.
    import_rootfs "$work/rootfs" "$image" "$work/started" \
        --change "ENV PATH=/go/bin:/usr/local/go/bin:${image_path#PATH=}" \
        --change "ENV GOLANG_VERSION=${go_version#go}" \
        --change 'ENV GOPATH=/go' \
        --change 'ENV GOPROXY=off' \
        --change 'ENV GOTOOLCHAIN=local' \
        --change 'WORKDIR /go' \
        --change 'CMD ["/bin/sh"]'
    rm -rf "$work"
}

main() {
    [ -x "$STAGEC_DOCKER" ] || die "docker client not found at $STAGEC_DOCKER; run scripts/install-engine.sh first"
    [ -x /bin/busybox ] || die "/bin/busybox not found; run scripts/install-engine.sh first"
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
        die "no engine responds at DOCKER_HOST=$DOCKER_HOST; start one with: eval \"\$(scripts/engine-start.sh)\""

    make_alpine
    docker tag alpine:3 busybox:1
    make_golang
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' alpine:3 >&2
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' golang:1.19 >&2
}

main "$@"
