#!/usr/bin/env bash
# Backquotes in single-quoted strings here are Markdown code spans.
# shellcheck disable=SC2016
#
# Check the engine that DOCKER_HOST points at, with the client STAGEC_DOCKER:
#
#   1. Build a two-stage Dockerfile (a CGO_ENABLED=0 Go program built in
#      golang:1.19, copied into alpine:3) with BuildKit and `--network none`,
#      run it with `--network none`, and print the image sizes and build time.
#   2. Build one small Dockerfile per Dockerfile feature, without a
#      `# syntax=` line, so that the engine's built-in frontend parses it.
#      Each Dockerfile checks the feature's effect in a RUN step, so "works"
#      means the feature did what it should, not only that it parsed.
#
# Prints a Markdown report to stdout and exits non-zero if step 1 fails.
# Feature results do not change the exit status, because which features an
# engine supports is what this script reports.
#
# Usage: exports="$(scripts/engine-start.sh)" && eval "$exports" && scripts/base-images.sh && scripts/engine-check.sh
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/engine-env.sh
. "$script_dir/engine-env.sh"

work=""
httpd_pid=""

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

# Label of every image that this script builds, so that cleanup can delete
# the untagged ones.
check_label=org.stagec.engine-check=1

cleanup() {
    docker image prune --force --filter "label=$check_label" >/dev/null 2>&1 || true
    if [ -n "$httpd_pid" ]; then
        kill "$httpd_pid" 2>/dev/null || true
    fi
    if [ -n "$work" ]; then
        rm -rf "$work"
    fi
}

image_size() {
    docker image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1000000 }'
}

write_hello_context() {
    local context="$1"
    mkdir -p "$context"
    cat >"$context/main.go" <<'EOF'
// Serve one HTTP request on the loopback interface and print the response,
// so that running the image checks net/http without a network.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from stagec")
	}))
	response, err := http.Get("http://" + listener.Addr().String() + "/")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body, err := io.ReadAll(response.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(body))
}
EOF
    printf 'module example.com/hello\n\ngo 1.19\n' >"$context/go.mod"
    cat >"$context/Dockerfile" <<'EOF'
FROM golang:1.19 AS builder
WORKDIR /app
COPY go.mod main.go /app/
RUN --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 go build -o /app/main /app/main.go
# A module build, as `go build` runs it for a project with a go.mod.
RUN --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 go build -o /app/main-module .

FROM alpine:3
COPY --from=builder /app/main /app/main
CMD ["/app/main"]
EOF
}

check_two_stage_build() {
    local context="$work/hello" started seconds output
    write_hello_context "$context"

    started="$(date +%s.%N)"
    docker build --network none --no-cache --label "$check_label" --tag stagec-check:hello "$context" >"$work/hello-build.log" 2>&1 || {
        tail -n 30 "$work/hello-build.log" >&2
        die "the two-stage build failed"
    }
    seconds="$(awk -v start="$started" -v end="$(date +%s.%N)" 'BEGIN { print end - start }')"

    output="$(docker run --rm --network none stagec-check:hello)" ||
        die "running stagec-check:hello failed"
    [ "$output" = "hello from stagec" ] ||
        die "stagec-check:hello printed '$output', expected 'hello from stagec'"

    printf '## Two-stage build\n\n'
    printf -- '- engine: %s, client: %s\n' \
        "$(docker version --format '{{.Server.Version}}')" "$(docker version --format '{{.Client.Version}}')"
    printf -- '- build time with --no-cache (the go-build cache mount keeps what earlier runs put in it): %.1f s\n' "$seconds"
    printf -- '- `docker run --network none stagec-check:hello` printed: %s\n' "$output"
    printf -- '- sizes: golang:1.19 %s, alpine:3 %s, stagec-check:hello %s\n\n' \
        "$(image_size golang:1.19)" "$(image_size alpine:3)" "$(image_size stagec-check:hello)"
}

# Print the line of the build log LOG that names the cause of the failure:
# the last line with an error word, or else the last line.
failure_reason() {
    local reason
    reason="$(grep -E 'error|ERROR|failed|unknown|unexpected|invalid' "$1" | tail -n 1)" || true
    if [ -z "$reason" ]; then
        reason="$(grep -v '^[[:space:]]*$' "$1" | tail -n 1)" || true
    fi
    # Drop BuildKit's step prefixes, shorten the registry request, and escape
    # the pipe characters that would end a Markdown table cell.
    printf '%s\n' "$reason" |
        sed -e 's/^#[0-9]* [0-9.]* //' -e 's/^#[0-9]* ERROR: //' -e 's/^ERROR: failed to solve: //' \
            -e 's/failed to do request: Head "[^"]*": //' -e 's/|/\\|/g' |
        cut -c 1-200
}

# Build the Dockerfile on stdin in a context made of the files in
# $work/context, with the extra build flags given, and print one table row.
check_feature() {
    local name="$1" context="$work/feature"
    shift
    rm -rf "$context"
    cp -a "$work/context" "$context"
    cat >"$context/Dockerfile"

    local result
    if docker build --network none --no-cache --label "$check_label" "$@" "$context" >"$work/feature.log" 2>&1; then
        result=works
    else
        result="fails: $(failure_reason "$work/feature.log")"
    fi
    printf '| %s | %s |\n' "$name" "$result"
}

start_loopback_httpd() {
    local port=18734
    mkdir -p "$work/www"
    printf 'remote file\n' >"$work/www/remote.txt"
    /bin/busybox httpd -f -p "127.0.0.1:$port" -h "$work/www" &
    httpd_pid=$!
    remote_url="http://127.0.0.1:$port/remote.txt"
    remote_sha256="$(sha256sum "$work/www/remote.txt" | cut -d ' ' -f 1)"
}

check_features() {
    local context="$work/context"
    mkdir -p "$context/a/b"
    printf 'content\n' >"$context/file.txt"
    printf 'keep\n' >"$context/keep.txt"
    printf 'skip\n' >"$context/drop.skip"
    printf 'nested\n' >"$context/a/b/nested.txt"
    printf 's3cret' >"$work/secret.txt"
    ssh-keygen -q -t ed25519 -N '' -f "$work/ssh-key"
    start_loopback_httpd

    printf '## Dockerfile features without a `# syntax=` line\n\n'
    printf '| feature | result |\n| --- | --- |\n'

    check_feature '`RUN --mount=type=cache`' <<'EOF'
FROM alpine:3
RUN --mount=type=cache,target=/cache,id=stagec-check echo cached > /cache/probe
RUN --mount=type=cache,target=/cache,id=stagec-check test "$(cat /cache/probe)" = cached
EOF
    check_feature '`RUN --mount=type=secret`' --secret "id=x,src=$work/secret.txt" <<'EOF'
FROM alpine:3
RUN --mount=type=secret,id=x test "$(cat /run/secrets/x)" = s3cret
EOF
    check_feature '`RUN --mount=type=secret,id=x,env=X`' --secret "id=x,src=$work/secret.txt" <<'EOF'
FROM alpine:3
RUN --mount=type=secret,id=x,env=X test "$X" = s3cret
EOF
    check_feature '`RUN --mount=type=ssh`' --ssh "default=$work/ssh-key" <<'EOF'
FROM alpine:3
RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK"
EOF
    check_feature '`RUN --mount=type=tmpfs`' <<'EOF'
FROM alpine:3
RUN --mount=type=tmpfs,target=/scratch grep -q ' /scratch tmpfs ' /proc/mounts
EOF
    check_feature '`RUN --mount=type=bind`' <<'EOF'
FROM alpine:3
RUN --mount=type=bind,source=file.txt,target=/bound test "$(cat /bound)" = content
EOF
    check_feature '`RUN --network=none`' <<'EOF'
FROM alpine:3
RUN --network=none test "$(ls /sys/class/net)" = lo
EOF
    check_feature '`RUN <<EOF` heredoc' <<'EOF'
FROM alpine:3
RUN <<EOT
echo first > /heredoc
echo second >> /heredoc
EOT
RUN test "$(cat /heredoc)" = "$(printf 'first\nsecond')"
EOF
    check_feature '`COPY <<EOF` heredoc' <<'EOF'
FROM alpine:3
COPY <<EOT /heredoc.txt
inline
EOT
RUN test "$(cat /heredoc.txt)" = inline
EOF
    check_feature '`COPY --chmod=0755`' <<'EOF'
FROM alpine:3
COPY --chmod=0755 file.txt /file.txt
RUN test "$(stat -c %a /file.txt)" = 755
EOF
    check_feature '`COPY --chown=65534:65534`' <<'EOF'
FROM alpine:3
COPY --chown=65534:65534 file.txt /file.txt
RUN test "$(stat -c %u:%g /file.txt)" = 65534:65534
EOF
    check_feature '`COPY --link`' <<'EOF'
FROM alpine:3
COPY --link file.txt /linked/file.txt
RUN test "$(cat /linked/file.txt)" = content
EOF
    check_feature '`COPY --exclude`' <<'EOF'
FROM alpine:3
COPY --exclude=*.skip . /copied/
RUN test -e /copied/keep.txt && test ! -e /copied/drop.skip
EOF
    check_feature '`COPY --parents`' <<'EOF'
FROM alpine:3
COPY --parents a/b/nested.txt /copied/
RUN test -e /copied/a/b/nested.txt
EOF
    check_feature '`FROM --platform=$BUILDPLATFORM`, `ARG TARGETARCH`' <<'EOF'
FROM --platform=$BUILDPLATFORM alpine:3
ARG TARGETOS TARGETARCH
RUN test "$TARGETOS/$TARGETARCH" = linux/amd64
EOF
    check_feature '`ADD --checksum` (HTTP on loopback)' <<EOF
FROM alpine:3
ADD --checksum=sha256:$remote_sha256 $remote_url /remote.txt
RUN test "\$(cat /remote.txt)" = "remote file"
EOF
    check_feature '`ADD --checksum` with a wrong checksum (must fail)' <<EOF
FROM alpine:3
ADD --checksum=sha256:$(printf '0%.0s' $(seq 64)) $remote_url /remote.txt
EOF
    check_feature '`# syntax=docker/dockerfile:1` (needs a registry)' <<'EOF'
# syntax=docker/dockerfile:1
FROM alpine:3
RUN true
EOF
    printf '\n'
}

main() {
    [ -x "$STAGEC_DOCKER" ] || die "docker client not found at $STAGEC_DOCKER; run scripts/install-engine.sh first"
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
        die "no engine responds at DOCKER_HOST=$DOCKER_HOST; start one with: eval \"\$(scripts/engine-start.sh)\""
    local image
    for image in alpine:3 golang:1.19; do
        docker image inspect "$image" >/dev/null 2>&1 ||
            die "image $image not found; run scripts/base-images.sh first"
    done

    work="$(mktemp -d /tmp/stagec-engine-check.XXXXXX)"
    trap cleanup EXIT

    check_two_stage_build
    check_features
}

main "$@"
