//! Starter specs from `stagec init` built on a real Docker Engine, for the
//! stacks whose base images exist offline (`golang:1.19` and `busybox:1`,
//! made by scripts/base-images.sh). The other stacks' templates need images
//! from a registry, so the unit tests only check and lower them.

mod support;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use support::engine::engine_or_skip;

fn init_and_build(dir: &Path, tag: &str) {
    Command::cargo_bin("stagec")
        .expect("stagec")
        .arg("init")
        .arg(dir)
        .assert()
        .success();
    Command::cargo_bin("stagec")
        .expect("stagec")
        .arg("build")
        .arg(dir.join("app.kdl"))
        .args(["--network", "none", "--progress", "plain", "-t", tag])
        .assert()
        .success();
}

#[test]
fn init_go_starter_builds_and_runs() {
    let Some(engine) = engine_or_skip("init_go_starter_builds_and_runs") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join("go.mod"), "module example.com/greeter\n\ngo 1.19\n").expect("go.mod");
    fs::write(
        dir.path().join("main.go"),
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from stagec init\") }\n",
    )
    .expect("main.go");

    init_and_build(dir.path(), "stagec-init-go:test");

    assert_eq!(
        engine.run_image("stagec-init-go:test", &[]).trim(),
        "hello from stagec init"
    );
    assert_eq!(engine.inspect("stagec-init-go:test", "{{.Config.User}}"), "nobody");
    let size = engine.image_size("stagec-init-go:test");
    assert!(
        size < 10_000_000,
        "the runtime image holds only the binary and busybox, got {size} bytes"
    );
    engine.run(["image", "rm", "stagec-init-go:test"]);
}

#[test]
fn init_static_starter_builds() {
    let Some(engine) = engine_or_skip("init_static_starter_builds") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    fs::create_dir_all(dir.path().join("public/css")).expect("mkdir");
    fs::write(dir.path().join("public/index.html"), "<h1>stagec</h1>\n").expect("index");
    fs::write(dir.path().join("public/css/site.css"), "h1{}\n").expect("css");

    init_and_build(dir.path(), "stagec-init-static:test");

    let listing = engine.run_image(
        "stagec-init-static:test",
        &["cat", "/www/index.html", "/www/css/site.css"],
    );
    assert_eq!(listing, "<h1>stagec</h1>\nh1{}\n");
    engine.run(["image", "rm", "stagec-init-static:test"]);
}
