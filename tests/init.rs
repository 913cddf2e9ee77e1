//! `stagec init` from the command line: detection, the files it writes or
//! refuses to write, and the starter spec passing `stagec check`.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::str::contains;

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("stagec binary")
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

#[test]
fn init_writes_checkable_spec() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "Cargo.toml", "[package]\nname = \"tool\"\n");

    stagec()
        .arg("init")
        .arg(dir.path())
        .assert()
        .success()
        .stderr(contains("for a rust project (found Cargo.toml)"));

    let spec = dir.path().join("app.kdl");
    let text = fs::read_to_string(&spec).expect("app.kdl written");
    assert!(text.contains("cp target/release/tool /out/tool"), "{text}");
    stagec()
        .arg("check")
        .arg("--deny-warnings")
        .arg(&spec)
        .assert()
        .success();
}

#[test]
fn init_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "go.mod", "module example.com/x\n");
    write(dir.path(), "app.kdl", "// mine\n");

    stagec()
        .arg("init")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(contains("already exists; pass --force"));
    assert_eq!(
        fs::read_to_string(dir.path().join("app.kdl")).expect("read"),
        "// mine\n"
    );

    stagec().arg("init").arg(dir.path()).arg("--force").assert().success();
    let text = fs::read_to_string(dir.path().join("app.kdl")).expect("read");
    assert!(text.contains("golang:"), "{text}");
}

#[test]
fn init_empty_dir_lists_markers() {
    let dir = tempfile::tempdir().expect("temp dir");
    stagec()
        .arg("init")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(contains("none of go.mod, Cargo.toml, package.json"))
        .stderr(contains("--stack"));
    assert!(!dir.path().join("app.kdl").exists());
}

#[test]
fn init_print_and_output_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "package.json", "{\"name\":\"web\"}");

    stagec()
        .arg("init")
        .arg(dir.path())
        .arg("--print")
        .assert()
        .success()
        .stdout(contains("from=\"node:20-slim\""));
    assert!(!dir.path().join("app.kdl").exists(), "--print writes no file");

    let out = dir.path().join("specs/build.kdl");
    fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    stagec()
        .arg("init")
        .arg(dir.path())
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert!(out.is_file());
}

#[test]
fn init_stack_flag_overrides_detection() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "go.mod", "module x\n");
    write(dir.path(), "Makefile", "all:\n");

    stagec()
        .arg("init")
        .arg(dir.path())
        .arg("--print")
        .arg("--stack")
        .arg("make")
        .assert()
        .success()
        .stdout(contains("from=\"gcc:13\""));
    stagec()
        .arg("init")
        .arg(dir.path())
        .assert()
        .success()
        .stderr(contains("also found markers of: make"));
}

#[test]
fn init_rejects_unknown_stack_and_missing_dir() {
    stagec().args(["init", "--stack", "cobol"]).assert().code(2);
    stagec()
        .args(["init", "/nonexistent/stagec-init-dir"])
        .assert()
        .code(3)
        .stderr(contains("does not exist; pass the project directory"));
}

#[test]
fn init_spec_mode_like_other_files() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "go.mod", "module example.com/app\n\ngo 1.19\n");
    stagec().arg("init").arg(dir.path()).assert().success();

    // std::fs::write creates files with 0666 minus the umask, as editors do.
    let mode = |name: &str| fs::metadata(dir.path().join(name)).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode("app.kdl"), mode("go.mod"), "app.kdl mode {:o}", mode("app.kdl"));
}

#[test]
fn init_output_dir_missing_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "go.mod", "module example.com/app\n\ngo 1.19\n");
    let output = dir.path().join("missing/app.kdl");

    let result = stagec()
        .arg("init")
        .arg(dir.path())
        .arg("-o")
        .arg(&output)
        .output()
        .expect("run");
    assert_eq!(result.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("does not exist; create it first"), "{stderr}");
    assert!(!stderr.contains(".stagec-"), "temporary file named: {stderr}");
}
