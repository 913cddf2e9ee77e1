//! End to end: with `--source-date-epoch`, two builds of the same spec and
//! lock file without the build cache produce the same image digest. It runs
//! on the engine with the containerd image store
//! (STAGEC_CONTAINERD_DOCKER_HOST), because the exporter of the classic
//! store in Docker Engine 26.1 ignores the epoch.

mod outputs_support;

use std::path::Path;

use outputs_support::{containerd_engine_or_skip, copy_example, run_ok, stagec_build};

/// 2023-11-14T22:13:20Z.
const EPOCH: &str = "1700000000";

/// Builds `spec` into an OCI tarball without the build cache and returns
/// the image digest from the metadata file.
fn build_digest(host: &str, spec: &Path, work: &Path, run: &str, epoch: Option<&str>) -> String {
    let metadata = work.join(format!("metadata-{run}.json"));
    let mut command = stagec_build(host, spec);
    command
        .arg("--no-cache")
        .arg("-o")
        .arg(format!("type=oci,dest={}", work.join(format!("{run}.tar")).display()))
        .arg("--metadata-file")
        .arg(&metadata);
    if let Some(epoch) = epoch {
        command.env("SOURCE_DATE_EPOCH", epoch);
    }
    run_ok(&mut command);
    let text = std::fs::read_to_string(&metadata).expect("the metadata file");
    let metadata: serde_json::Value = serde_json::from_str(&text).expect("metadata is JSON");
    metadata["containerimage.digest"]
        .as_str()
        .expect("an image digest")
        .to_string()
}

#[test]
fn same_epoch_same_digest() {
    let Some(host) = containerd_engine_or_skip("same_epoch_same_digest") else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let spec = copy_example("go-static-scratch", &work.path().join("src"));

    let first = build_digest(&host, &spec, work.path(), "first", Some(EPOCH));
    let second = build_digest(&host, &spec, work.path(), "second", Some(EPOCH));

    assert!(first.starts_with("sha256:"), "{first}");
    assert_eq!(first, second, "two builds with SOURCE_DATE_EPOCH={EPOCH}");
}

#[test]
fn epoch_flag_sets_created_time() {
    let Some(host) = containerd_engine_or_skip("epoch_flag_sets_created_time") else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let spec = copy_example("go-static-scratch", &work.path().join("src"));
    let tarball = work.path().join("image.tar");

    run_ok(
        stagec_build(&host, &spec)
            .args(["--source-date-epoch", EPOCH, "-o"])
            .arg(format!("type=docker,dest={}", tarball.display())),
    );

    let manifest: serde_json::Value =
        serde_json::from_slice(&outputs_support::tar_file(&tarball, "manifest.json")).expect("manifest.json");
    let config_path = manifest[0]["Config"].as_str().expect("a config path");
    let config: serde_json::Value =
        serde_json::from_slice(&outputs_support::tar_file(&tarball, config_path)).expect("config JSON");
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
}
