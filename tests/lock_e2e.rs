//! End to end on a real Docker Engine: the lock against the engine's image
//! store. Skipped without an engine, unless STAGEC_E2E=1.

mod support;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use support::engine::{Engine, engine_or_skip};

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("the stagec binary")
}

/// Tags a test-only image built from alpine:3 with `ENV GREETING=greeting`.
fn build_base(engine: &Engine, dir: &Path, tag: &str, greeting: &str) {
    let dockerfile = dir.join("Base.Dockerfile");
    fs::write(&dockerfile, format!("FROM alpine:3\nENV GREETING={greeting}\n")).expect("write Dockerfile");
    let context = dir.join("base-context");
    fs::create_dir_all(&context).expect("create context");
    engine.build(&dockerfile, &context, tag, None);
}

#[test]
fn stale_base_image_is_relocked() {
    let Some(engine) = engine_or_skip("stale_base_image_is_relocked") else {
        return;
    };
    let base = "stagec-test/base:1";
    let output_tag = "stagec-test/relocked:1";
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("app.kdl");
    fs::write(
        &spec,
        format!(
            r#"
stage "s" from="{base}" {{
    run "echo $GREETING > /greeting" network="none"
    cmd "cat" "/greeting"
}}
image "s" tag="{output_tag}"
"#
        ),
    )
    .expect("write spec");

    build_base(&engine, dir.path(), base, "old");
    let lock = stagec().arg("lock").arg(&spec).output().expect("runs stagec");
    assert!(lock.status.success(), "{}", String::from_utf8_lossy(&lock.stderr));
    let old_id = engine.inspect(base, "{{.Id}}");

    build_base(&engine, dir.path(), base, "new");
    let new_id = engine.inspect(base, "{{.Id}}");
    assert_ne!(old_id, new_id, "the rebuilt base image has a new ID");

    let build = stagec()
        .args(["build", "--network", "none", "--progress", "plain", "--color", "never"])
        .arg(&spec)
        .output()
        .expect("runs stagec");
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(build.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("changed in the engine: locked {old_id}, engine has {new_id}")),
        "the changed image is named: {stderr}"
    );
    let lock_text = fs::read_to_string(dir.path().join("app.kdl.lock")).expect("lock file");
    assert!(lock_text.contains(&new_id), "{lock_text}");
    assert!(!lock_text.contains(&old_id), "{lock_text}");
    assert_eq!(engine.run_image(output_tag, &[]), "new\n");
    assert!(
        engine.inspect(output_tag, "{{.Config.Env}}").contains("GREETING=new"),
        "the image config comes from the engine's image"
    );

    engine
        .command(["image", "rm", "--force", base, output_tag])
        .output()
        .expect("runs docker");
}

#[test]
fn lock_wrong_platform_fails() {
    let Some(engine) = engine_or_skip("lock_wrong_platform_fails") else {
        return;
    };
    // The engine's alpine:3 has one platform; ask for another one.
    let platform = match engine.inspect("alpine:3", "{{.Os}}/{{.Architecture}}").as_str() {
        "linux/arm64" => "linux/amd64",
        _ => "linux/arm64",
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("app.kdl");
    fs::write(
        &spec,
        "stage \"s\" from=\"alpine:3\" {\n    cmd \"true\"\n}\nimage \"s\" tag=\"stagec-test/platform:1\"\n",
    )
    .expect("write spec");

    let lock = stagec()
        .args(["lock", "--platform", platform])
        .arg(&spec)
        .output()
        .expect("runs stagec");
    let stderr = String::from_utf8_lossy(&lock.stderr);
    assert_eq!(lock.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("not {platform}")), "{stderr}");
    assert!(
        stderr.contains(&format!("docker pull --platform {platform} docker.io/library/alpine:3")),
        "{stderr}"
    );
    assert!(!dir.path().join("app.kdl.lock").exists(), "no lock is written");
}
