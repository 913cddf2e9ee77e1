//! End to end on a real Docker Engine: builds whose image configuration
//! or definition is megabytes large, and the errors of a failed step.
//! Each `stagec build` runs under a timeout, so a build that hangs fails
//! the test instead of stalling CI. Skipped without an engine, unless
//! STAGEC_E2E=1.

mod support;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use support::engine::engine_or_skip;

/// Time allowed for one `stagec build` of a one-step spec. Such a build
/// takes about a second on the shared test engine.
const BUILD_TIMEOUT: Duration = Duration::from_secs(120);

/// Writes `app.kdl` with one stage from `alpine:3` and `body` in it.
fn write_spec(dir: &Path, body: &str, tag: &str) -> std::path::PathBuf {
    let spec = dir.join("app.kdl");
    let source = format!("stage \"app\" from=\"alpine:3\" {{\n{body}\n}}\nimage \"app\" tag=\"{tag}\"\n");
    std::fs::write(&spec, source).expect("writable temp dir");
    spec
}

/// Runs `stagec build` on `spec` and returns its output. A build that does
/// not end within `BUILD_TIMEOUT` is killed and fails the test.
fn build(spec: &Path) -> std::process::Output {
    let output = Command::cargo_bin("stagec")
        .expect("the stagec binary")
        .args(["build", "--network", "none", "--progress", "plain"])
        .arg(spec)
        .timeout(BUILD_TIMEOUT)
        .output()
        .expect("runs stagec");
    // assert_cmd kills the process at the timeout, which leaves no exit code.
    assert!(
        output.status.code().is_some(),
        "stagec build did not end within {} s:\n{}",
        BUILD_TIMEOUT.as_secs(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn large_label_builds() {
    let Some(engine) = engine_or_skip("large_label_builds") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let value = "x".repeat(2_621_440);
    let tag = "stagec-e2e-limits/large-label:1";
    let spec = write_spec(
        dir.path(),
        &format!("    label \"big\"=\"{value}\"\n    cmd \"true\""),
        tag,
    );

    let output = build(&spec);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "build of a 2.5 MB label failed:\n{stderr}");

    let label_length = engine.inspect(tag, "{{len .Config.Labels.big}}");
    assert_eq!(label_length, value.len().to_string());
    engine.run(["image", "rm", tag]);
}

#[test]
fn oversized_label_fails_fast() {
    if engine_or_skip("oversized_label_fails_fast").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let value = "x".repeat(5 << 20);
    let spec = write_spec(
        dir.path(),
        &format!("    label \"big\"=\"{value}\"\n    cmd \"true\""),
        "stagec-e2e-limits/oversized-label:1",
    );

    let output = build(&spec);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a 5 MB label exceeds the engine's 4 MiB message limit"
    );
    assert!(stderr.contains("the LLB definition ("), "{stderr}");
    assert!(stderr.contains("larger than max"), "{stderr}");
    assert!(!stderr.contains("lost the connection"), "{stderr}");
}

#[test]
fn oversized_image_config_fails_fast() {
    if engine_or_skip("oversized_image_config_fails_fast").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    // Five copies of a 1 MiB arg make a 5 MiB label, so only the image
    // configuration, and not the LLB definition, exceeds the 4 MiB limit.
    let value = "x".repeat(1 << 20);
    let spec = dir.path().join("app.kdl");
    let source = format!(
        "arg \"BIG\" default=\"{value}\"\n\
         stage \"app\" from=\"alpine:3\" {{\n    label \"big\"=\"${{BIG}}${{BIG}}${{BIG}}${{BIG}}${{BIG}}\"\n}}\n\
         image \"app\" tag=\"stagec-e2e-limits/oversized-config:1\"\n"
    );
    std::fs::write(&spec, source).expect("writable temp dir");

    let output = build(&spec);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a 5 MiB image configuration exceeds the engine's 4 MiB message limit"
    );
    assert!(stderr.contains("the image configuration ("), "{stderr}");
    assert!(stderr.contains("larger than max"), "{stderr}");
}

#[test]
fn failed_step_reports_only_step_error() {
    if engine_or_skip("failed_step_reports_only_step_error").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("input.txt"), "input\n").expect("writable temp dir");
    // The copy makes the build read the context through the session, which
    // the engine tears down once the step fails.
    let spec = write_spec(
        dir.path(),
        "    copy \"input.txt\" to=\"/input.txt\"\n    run \"cat /input.txt; echo step-output >&2; exit 3\"",
        "stagec-e2e-limits/failed-step:1",
    );

    // The teardown races with the end of the build, so a few runs make a
    // wrong message likely to show.
    for _ in 0..3 {
        let output = build(&spec);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "the step exits with 3");
        assert!(stderr.contains("exit code: 3"), "{stderr}");
        assert!(stderr.contains("step-output"), "{stderr}");
        assert!(!stderr.contains("lost the connection"), "{stderr}");
        assert!(!stderr.contains("h2 protocol error"), "{stderr}");
    }
}
