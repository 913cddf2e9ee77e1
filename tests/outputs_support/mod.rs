//! Helpers of the output, cache and reproducibility end-to-end tests: a
//! copy of an example spec in a temporary folder, the engine with the
//! containerd image store, and the test registry. The tests build a copy
//! because a build rewrites a stale lock file, and the committed lock files
//! must stay as they are.
//!
//! scripts/test.sh starts both and exports STAGEC_CONTAINERD_DOCKER_HOST,
//! STAGEC_REGISTRY and STAGEC_REGISTRY_DOCKER_CONFIG. Without them a test
//! is skipped with the reason, unless STAGEC_E2E=1, which makes it fail.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies `specs/examples/NAME` into `target` and returns the spec's path.
pub fn copy_example(name: &str, target: &Path) -> PathBuf {
    let source = repo_root().join("specs/examples").join(name);
    copy_dir(&source, target);
    target.join("app.kdl")
}

fn copy_dir(source: &Path, target: &Path) {
    fs::create_dir_all(target).expect("create the example copy");
    for entry in fs::read_dir(source).expect("read the example") {
        let entry = entry.expect("read an example entry");
        let path = entry.path();
        let destination = target.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &destination);
        } else {
            fs::copy(&path, &destination).expect("copy an example file");
        }
    }
}

fn e2e_required() -> bool {
    std::env::var("STAGEC_E2E").is_ok_and(|value| value == "1")
}

/// Skips or, with STAGEC_E2E=1, fails the test for `reason`.
pub fn skip(test: &str, reason: &str) {
    if e2e_required() {
        panic!("{test}: STAGEC_E2E=1 but {reason}");
    }
    eprintln!("{test}: skipped, {reason}");
}

/// Returns the DOCKER_HOST of the engine with the containerd image store.
pub fn containerd_engine_or_skip(test: &str) -> Option<String> {
    match std::env::var("STAGEC_CONTAINERD_DOCKER_HOST") {
        Ok(host) if !host.is_empty() => Some(host),
        _ => {
            skip(
                test,
                "STAGEC_CONTAINERD_DOCKER_HOST is not set (scripts/test.sh starts an engine with the containerd image store)",
            );
            None
        }
    }
}

/// The test registry and the Docker client configuration with its credentials.
pub struct Registry {
    pub address: String,
    pub docker_config: PathBuf,
    pub user: String,
    pub password: String,
}

impl Registry {
    /// Returns the tags of `repository`, read with curl from the registry API.
    pub fn tags(&self, repository: &str) -> String {
        let output = std::process::Command::new("curl")
            .args(["-s", "-u"])
            .arg(format!("{}:{}", self.user, self.password))
            .arg(format!("http://{}/v2/{repository}/tags/list", self.address))
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

pub fn registry_or_skip(test: &str) -> Option<Registry> {
    let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    match (
        variable("STAGEC_REGISTRY"),
        variable("STAGEC_REGISTRY_DOCKER_CONFIG"),
        variable("STAGEC_REGISTRY_USER"),
        variable("STAGEC_REGISTRY_PASSWORD"),
    ) {
        (Some(address), Some(docker_config), Some(user), Some(password)) => Some(Registry {
            address,
            docker_config: PathBuf::from(docker_config),
            user,
            password,
        }),
        _ => {
            skip(test, "no test registry (start one with scripts/registry-start.sh)");
            None
        }
    }
}

/// Returns `stagec build SPEC --network none --progress plain` for the
/// engine at `docker_host`.
pub fn stagec_build(docker_host: &str, spec: &Path) -> Command {
    let mut command = Command::cargo_bin("stagec").expect("the stagec binary");
    command
        .env("DOCKER_HOST", docker_host)
        .env_remove("SOURCE_DATE_EPOCH")
        .arg("build")
        .arg(spec)
        .args(["--network", "none", "--progress", "plain"]);
    command
}

/// Runs `command` and panics with its output unless it succeeds.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command.output().expect("run stagec");
    assert!(
        output.status.success(),
        "stagec failed with {}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Returns the names of the entries of the tarball at `path`, read with tar.
pub fn tar_entries(path: &Path) -> Vec<String> {
    let output = std::process::Command::new("tar")
        .arg("-tf")
        .arg(path)
        .output()
        .expect("run tar");
    assert!(output.status.success(), "tar -tf {} failed", path.display());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Returns one file of the tarball at `path`, read with tar.
pub fn tar_file(path: &Path, member: &str) -> Vec<u8> {
    let output = std::process::Command::new("tar")
        .arg("-xOf")
        .arg(path)
        .arg(member)
        .output()
        .expect("run tar");
    assert!(output.status.success(), "tar -xOf {} {member} failed", path.display());
    output.stdout
}
