//! End to end: every example's generated Dockerfile builds on a real Docker
//! Engine with BuildKit and no network, and its images run and print what
//! the example's README promises. Skipped without an engine, unless
//! STAGEC_E2E=1 (set by scripts/test.sh), which makes a missing engine fail.

mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use support::engine::{Engine, engine_or_skip};

/// Writes `stagec dockerfile` output for `example` into a temp dir and
/// returns the Dockerfile path (the ignore file sits beside it).
fn generate(example: &str, extra_args: &[&str], out: &Path) -> PathBuf {
    let spec = format!("specs/examples/{example}/app.kdl");
    let dockerfile = out.join(format!("{example}.Dockerfile"));
    Command::cargo_bin("stagec")
        .expect("stagec binary")
        .args(["dockerfile", &spec, "-o"])
        .arg(&dockerfile)
        .args(extra_args)
        .assert()
        .success();
    dockerfile
}

fn context(example: &str) -> PathBuf {
    PathBuf::from(format!("specs/examples/{example}"))
}

fn build(engine: &Engine, example: &str, extra_args: &[&str], tag: &str, target: Option<&str>) {
    let out = tempfile::tempdir().expect("temp dir");
    let dockerfile = generate(example, extra_args, out.path());
    engine.build(&dockerfile, &context(example), tag, target);
}

#[test]
fn go_web_builds_runs_and_is_small() {
    let Some(engine) = engine_or_skip("go_web_builds_runs_and_is_small") else { return };
    let out = tempfile::tempdir().expect("temp dir");
    let dockerfile = generate("go-web", &[], out.path());

    engine.build(&dockerfile, &context("go-web"), "stagec-e2e/go-web:1.0", None);
    engine.build(&dockerfile, &context("go-web"), "stagec-e2e/go-web-builder:1.0", Some("builder"));

    let printed = engine.run_image("stagec-e2e/go-web:1.0", &["/app/main", "-once"]);
    assert_eq!(printed, "go-web: hello from stagec\n");

    let image = engine.image_size("stagec-e2e/go-web:1.0");
    let builder = engine.image_size("stagec-e2e/go-web-builder:1.0");
    assert!(
        image * 20 < builder,
        "go-web image is {image} bytes, not under 5% of the builder's {builder} bytes"
    );

    assert_eq!(engine.inspect("stagec-e2e/go-web:1.0", "{{json .Config.Cmd}}"), r#"["/app/main"]"#);
    assert_eq!(engine.inspect("stagec-e2e/go-web:1.0", "{{.Config.User}}"), "nobody");
    assert_eq!(engine.inspect("stagec-e2e/go-web:1.0", "{{.Config.WorkingDir}}"), "/app");
    assert_eq!(engine.inspect("stagec-e2e/go-web:1.0", "{{json .Config.ExposedPorts}}"), r#"{"8080/tcp":{}}"#);
    assert_eq!(
        engine.inspect("stagec-e2e/go-web:1.0", "{{json .Config.Healthcheck.Test}}"),
        r#"["CMD","wget","-q","-O","/dev/null","http://127.0.0.1:8080/health"]"#
    );
}

#[test]
fn go_static_scratch_prints_version_from_build_arg() {
    let Some(engine) = engine_or_skip("go_static_scratch_prints_version_from_build_arg") else { return };

    build(&engine, "go-static-scratch", &[], "stagec-e2e/greet:1.0.0", None);
    assert_eq!(engine.run_image("stagec-e2e/greet:1.0.0", &[]), "greet 1.0.0: hello, stagec\n");
    assert_eq!(engine.run_image("stagec-e2e/greet:1.0.0", &["-name", "you"]), "greet 1.0.0: hello, you\n");
    assert_eq!(engine.inspect("stagec-e2e/greet:1.0.0", "{{.Config.User}}"), "65534:65534");
    assert_eq!(
        engine.inspect("stagec-e2e/greet:1.0.0", r#"{{index .Config.Labels "org.opencontainers.image.version"}}"#),
        "1.0.0"
    );

    // The default comes from the spec, an override from --build-arg at
    // generation time changes the ARG default in the Dockerfile.
    build(&engine, "go-static-scratch", &["--build-arg", "VERSION=2.0.0"], "stagec-e2e/greet:2.0.0", None);
    assert_eq!(engine.run_image("stagec-e2e/greet:2.0.0", &[]), "greet 2.0.0: hello, stagec\n");
}

#[test]
fn static_site_serves_generated_pages() {
    let Some(engine) = engine_or_skip("static_site_serves_generated_pages") else { return };

    build(&engine, "static-site", &[], "stagec-e2e/static-site:1.0", None);
    let page = engine.run_image(
        "stagec-e2e/static-site:1.0",
        &["sh", "-c", "httpd -p 8080 -h /www && sleep 1 && wget -q -O - http://127.0.0.1:8080/"],
    );
    assert!(page.contains("<h1>Hello from stagec</h1>"), "{page}");

    // The site directory was copied with owner="nobody:nobody".
    let owners = engine.run_image("stagec-e2e/static-site:1.0", &["sh", "-c", "stat -c '%U:%G' /www /www/index.html"]);
    assert_eq!(owners, "nobody:nobody\nnobody:nobody\n");
}

#[test]
fn checked_build_runs_check_stage_and_image() {
    let Some(engine) = engine_or_skip("checked_build_runs_check_stage_and_image") else { return };
    let out = tempfile::tempdir().expect("temp dir");
    let dockerfile = generate("checked-build", &[], out.path());

    engine.build(&dockerfile, &context("checked-build"), "stagec-e2e/wordfreq-test:1.0", Some("test"));
    engine.build(&dockerfile, &context("checked-build"), "stagec-e2e/wordfreq:1.0", None);
    assert_eq!(engine.run_image("stagec-e2e/wordfreq:1.0", &[]), "9 the\n4 stage\n3 image\n");
}

#[test]
fn multi_output_builds_each_target() {
    let Some(engine) = engine_or_skip("multi_output_builds_each_target") else { return };

    build(&engine, "multi-output", &[], "stagec-e2e/multi-api:1.0", None);
    let api = engine.run_image("stagec-e2e/multi-api:1.0", &["/usr/local/bin/api", "-once"]);
    assert!(api.starts_with("api: 3 pending jobs\n"), "{api}");

    build(&engine, "multi-output", &["--target", "worker"], "stagec-e2e/multi-worker:1.0", None);
    let worker = engine.run_image("stagec-e2e/multi-worker:1.0", &[]);
    assert!(worker.ends_with("worker: processed 3 jobs\n"), "{worker}");
}
