//! `stagec build` checks its output tags before it connects to the engine,
//! so these tests need no engine.

use std::fs;

use assert_cmd::Command;

const SPEC: &str = r#"
arg "VERSION" default="1.0.0"
stage "s" from="scratch" {
    label "version"="${VERSION}"
}
image "s" tag="greet:${VERSION}"
"#;

fn stagec_build(extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("app.kdl");
    fs::write(&spec, SPEC).expect("write spec");
    Command::cargo_bin("stagec")
        .expect("the stagec binary")
        .args(["build", "--network", "none", "--color", "never"])
        .args(extra)
        .arg(&spec)
        // The checks come first, so no engine is ever reached.
        .env("DOCKER_HOST", "unix:///nonexistent/stagec-test.sock")
        .output()
        .expect("runs stagec")
}

#[test]
fn empty_build_arg_tag_is_sc0705() {
    let output = stagec_build(&["--build-arg", "VERSION="]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("SC0705"), "{stderr}");
    assert!(stderr.contains("invalid image tag `greet:`"), "{stderr}");
    assert!(stderr.contains("app.kdl:6:"), "points at the tag: {stderr}");
}

#[test]
fn build_arg_tag_with_space_is_sc0705() {
    let output = stagec_build(&["--build-arg", "VERSION=a b"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("invalid image tag `greet:a b`"), "{stderr}");
}

#[test]
fn upper_case_command_line_tag_is_usage_error() {
    let output = stagec_build(&["-t", "UPPER:bad"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid value `UPPER:bad` for `-t`"), "{stderr}");
}
