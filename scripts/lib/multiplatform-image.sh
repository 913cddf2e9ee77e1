# shellcheck shell=bash
# Make alpine:3 a multi-platform image (linux/amd64 and linux/arm64) in an
# engine with the containerd image store. Sourced by scripts/base-images.sh,
# which defines make_busybox_rootfs, log, die, docker, image_path,
# revision_label and base_image_revision.
# shellcheck disable=SC2154 # the variables above come from base-images.sh
#
# Each platform's root file system is the busybox-static layout of
# base-images.sh: /bin/busybox of this machine for amd64, and bookworm's
# busybox-static:arm64, which scripts/install-engine.sh unpacks, for arm64.
# The script writes an OCI image layout whose index.json names one image
# index with both manifests, and loads it with `docker load`. Layers are
# uncompressed tarballs with fixed owners, order and times, and the
# configuration has a fixed creation time, so every run gives the same
# digests and loading again changes nothing.

busybox_arm64="${STAGEC_ENGINE_PREFIX:-/opt/stagec-engine}/busybox-arm64/bin/busybox"

# Print the sha256 digest of FILE as sha256:HEX.
oci_digest() {
    printf 'sha256:%s' "$(sha256sum "$1" | cut -d ' ' -f 1)"
}

# Move FILE into the layout's blobs under its digest and print a descriptor
# with MEDIA_TYPE and, optionally, PLATFORM_JSON.
oci_add_blob() {
    local layout="$1" file="$2" media_type="$3" platform_json="${4:-}" digest size
    digest="$(oci_digest "$file")"
    size="$(stat -c %s "$file")"
    mv "$file" "$layout/blobs/sha256/${digest#sha256:}"
    printf '{"mediaType":"%s","digest":"%s","size":%s%s}' "$media_type" "$digest" "$size" \
        "${platform_json:+,\"platform\":$platform_json}"
}

# Write the layer, configuration and manifest of ARCHITECTURE (with VARIANT,
# which may be empty) into LAYOUT and print the manifest's descriptor.
oci_add_platform_image() {
    local layout="$1" work="$2" architecture="$3" variant="$4" busybox="$5"
    local rootfs="$work/rootfs-$architecture" layer="$work/layer-$architecture.tar"
    local variant_json="" layer_descriptor diff_id config_descriptor platform_json

    make_busybox_rootfs "$rootfs" "$busybox"
    find "$rootfs" -exec touch -h -d @0 {} +
    tar --create --directory "$rootfs" --sort=name --numeric-owner --owner=0 --group=0 . >"$layer"
    diff_id="$(oci_digest "$layer")"
    layer_descriptor="$(oci_add_blob "$layout" "$layer" application/vnd.oci.image.layer.v1.tar)"

    if [ -n "$variant" ]; then
        variant_json=",\"variant\":\"$variant\""
    fi
    printf '{"architecture":"%s","config":{"Env":["%s"],"Cmd":["/bin/sh"],"Labels":{"%s":"%s"}},"created":"1970-01-01T00:00:00Z","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}%s}' \
        "$architecture" "$image_path" "$revision_label" "$base_image_revision" "$diff_id" "$variant_json" \
        >"$work/config-$architecture.json"
    config_descriptor="$(oci_add_blob "$layout" "$work/config-$architecture.json" application/vnd.oci.image.config.v1+json)"

    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
        "$config_descriptor" "$layer_descriptor" >"$work/manifest-$architecture.json"
    platform_json="{\"architecture\":\"$architecture\",\"os\":\"linux\"$variant_json}"
    oci_add_blob "$layout" "$work/manifest-$architecture.json" application/vnd.oci.image.manifest.v1+json "$platform_json"
}

# Make IMAGE (a docker.io/library name such as alpine:3) for linux/amd64
# and linux/arm64 and load it into the engine.
make_multiplatform_busybox_image() {
    local image="$1" work layout amd64_manifest arm64_manifest index_descriptor
    [ -x "$busybox_arm64" ] || die "$busybox_arm64 not found; run scripts/install-engine.sh first"

    log "creating $image for linux/amd64 and linux/arm64 from busybox-static"
    work="$(mktemp -d /tmp/stagec-base-image.XXXXXX)"
    layout="$work/layout"
    mkdir -p "$layout/blobs/sha256"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

    amd64_manifest="$(oci_add_platform_image "$layout" "$work" amd64 "" /bin/busybox)"
    arm64_manifest="$(oci_add_platform_image "$layout" "$work" arm64 v8 "$busybox_arm64")"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s]}' \
        "$amd64_manifest" "$arm64_manifest" >"$work/index.json"
    index_descriptor="$(oci_add_blob "$layout" "$work/index.json" application/vnd.oci.image.index.v1+json)"

    # `docker load` on the containerd store names the image after the
    # io.containerd.image.name annotation.
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
        "${index_descriptor%\}},\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/$image\",\"org.opencontainers.image.ref.name\":\"${image#*:}\"}}" \
        >"$layout/index.json"

    tar --create --directory "$layout" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 . |
        docker load >/dev/null
    rm -rf "$work"
}

# Return whether the engine at DOCKER_HOST keeps images in containerd's
# image store, which can hold an image index of several platforms.
engine_has_containerd_store() {
    docker info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q 'io.containerd.snapshotter'
}
