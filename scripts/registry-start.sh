#!/usr/bin/env bash
# Start a private registry for the stagec output and cache tests: Debian's
# docker-registry (distribution 2.8) on 127.0.0.1 with htpasswd (bcrypt)
# authentication, its own configuration and storage in STAGEC_REGISTRY_DIR
# [default: /tmp/stagec-registry], and print the variables that point the
# tests at it:
#
#   exports="$(scripts/registry-start.sh)" && eval "$exports"
#
# STAGEC_REGISTRY_PORT sets the port [default: 5000]. The credentials go into
# a Docker client configuration at $STAGEC_REGISTRY_DIR/docker-config, whose
# path is printed as STAGEC_REGISTRY_DOCKER_CONFIG; pass it as DOCKER_CONFIG
# to the command that pushes. Docker Engine treats 127.0.0.0/8 as an insecure
# registry by default, so plain HTTP works without engine configuration.
#
# Running it while the registry responds only prints the variables again.
set -euo pipefail

registry_dir="${STAGEC_REGISTRY_DIR:-/tmp/stagec-registry}"
port="${STAGEC_REGISTRY_PORT:-5000}"
user=stagec
password=stagec-test-password
address="127.0.0.1:$port"

log() {
    printf 'registry-start.sh: %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

print_exports() {
    printf 'export STAGEC_REGISTRY=%q\n' "$address"
    printf 'export STAGEC_REGISTRY_DIR=%q\n' "$registry_dir"
    printf 'export STAGEC_REGISTRY_USER=%q\n' "$user"
    printf 'export STAGEC_REGISTRY_PASSWORD=%q\n' "$password"
    printf 'export STAGEC_REGISTRY_DOCKER_CONFIG=%q\n' "$registry_dir/docker-config"
}

# The registry returns 401 for /v2/ when it runs with authentication.
registry_responds() {
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://$address/v2/" 2>/dev/null || true)"
    [ "$code" = 401 ] || [ "$code" = 200 ]
}

command -v docker-registry >/dev/null || die "docker-registry not found; run scripts/install-engine.sh first"
command -v htpasswd >/dev/null || die "htpasswd not found; run scripts/install-engine.sh first (apache2-utils)"
command -v curl >/dev/null || die "curl not found"

mkdir -p "$registry_dir/storage" "$registry_dir/docker-config"
pid_file="$registry_dir/registry.pid"

if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null && registry_responds; then
    log "registry already running at $address"
    print_exports
    exit 0
fi

htpasswd -Bbn "$user" "$password" >"$registry_dir/htpasswd" 2>/dev/null
cat >"$registry_dir/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $registry_dir/storage
  delete:
    enabled: true
http:
  addr: $address
auth:
  htpasswd:
    realm: stagec-test-registry
    path: $registry_dir/htpasswd
CONFIG

auth="$(printf '%s:%s' "$user" "$password" | base64 -w0)"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$address" "$auth" >"$registry_dir/docker-config/config.json"

log "starting docker-registry on $address (log: $registry_dir/registry.log)"
setsid docker-registry serve "$registry_dir/config.yml" </dev/null >"$registry_dir/registry.log" 2>&1 &
echo $! >"$pid_file"

deadline=$((SECONDS + 20))
until registry_responds; do
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        tail -n 20 "$registry_dir/registry.log" >&2 || true
        die "docker-registry exited during startup"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "timed out waiting for docker-registry on $address"
    sleep 0.2
done
log "registry ready at $address"
print_exports
