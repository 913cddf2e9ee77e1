//! The Go and static-site cookbook specs of the user guide, built from the
//! text of their pages on a real Docker Engine, with `stagec build` and with
//! the Dockerfile that `stagec dockerfile` writes. The other cookbook pages
//! need base images from a registry, which the offline engine does not
//! have, so tests/guide_examples.rs only compiles them.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use support::engine::{Engine, engine_or_skip};

/// Returns the first complete spec (a block with a top-level `stage`) of a
/// cookbook page: the spec that the page is about.
fn cookbook_spec(page: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/guide/cookbook")
        .join(page);
    let markdown = fs::read_to_string(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));

    let mut rest = markdown.as_str();
    while let Some(start) = rest.find("```kdl\n") {
        let body = &rest[start + "```kdl\n".len()..];
        let end = body
            .find("\n```")
            .unwrap_or_else(|| panic!("{}: unclosed ```kdl block", path.display()));
        let block = &body[..=end];
        if block.lines().any(|line| line.starts_with("stage \"")) {
            return block.to_string();
        }
        rest = &body[end..];
    }
    panic!("{} has no complete spec", path.display());
}

fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().expect("a file in a directory")).expect("create directory");
        fs::write(&path, text).unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
    }
}

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("stagec binary")
}

/// Builds the spec in `dir` with `stagec build` and returns the command's output.
fn stagec_build(dir: &Path, tag: &str, build_args: &[&str]) -> std::process::Output {
    let mut command = stagec();
    command.current_dir(dir).args([
        "build",
        "app.kdl",
        "--network",
        "none",
        "--progress",
        "plain",
        "-t",
        tag,
    ]);
    for build_arg in build_args {
        command.args(["--build-arg", build_arg]);
    }
    command.output().expect("running stagec build")
}

/// Writes the Dockerfile of the spec in `dir` and builds it with the docker client.
fn docker_build(engine: &Engine, dir: &Path, tag: &str) {
    stagec()
        .current_dir(dir)
        .args(["dockerfile", "app.kdl", "-o", "Dockerfile"])
        .assert()
        .success();
    engine.build(&dir.join("Dockerfile"), dir, tag, None);
}

const GO_MAIN: &str = r#"package main

import (
	"fmt"
	"net/http"
	"os"

	"example.com/server/internal/greeting"
)

var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version)
		return
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, greeting.Hello("stagec"))
	})
	http.ListenAndServe(":8080", nil)
}
"#;

const GO_GREETING: &str = "package greeting\n\nfunc Hello(name string) string { return \"hello, \" + name }\n";

const GO_GREETING_TEST: &str = r#"package greeting

import "testing"

func TestHello(t *testing.T) {
	if got := Hello("x"); got != "hello, x" {
		t.Fatalf("Hello(\"x\") = %q", got)
	}
}
"#;

/// The project layout that the Go page describes: module files at the
/// root, the main package in cmd/server, a package under internal/.
fn go_project(dir: &Path, greeting_test: &str) {
    write_files(
        dir,
        &[
            ("app.kdl", &cookbook_spec("go.md")),
            ("go.mod", "module example.com/server\n\ngo 1.19\n"),
            ("go.sum", ""),
            ("cmd/server/main.go", GO_MAIN),
            ("internal/greeting/greeting.go", GO_GREETING),
            ("internal/greeting/greeting_test.go", greeting_test),
            ("README.md", "# server\n"),
        ],
    );
}

#[test]
fn cookbook_go_builds_and_runs() {
    let Some(engine) = engine_or_skip("cookbook_go_builds_and_runs") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    go_project(dir.path(), GO_GREETING_TEST);

    let tag = "stagec-guide/go:llb";
    let output = stagec_build(dir.path(), tag, &["VERSION=1.4.2"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stagec build failed:\n{stderr}");
    assert!(
        stderr.contains("check stage `test`"),
        "the test stage did not run:\n{stderr}"
    );

    assert_eq!(engine.run_image(tag, &["--version"]), "1.4.2\n");
    assert_eq!(engine.inspect(tag, "{{.Config.User}}"), "65534:65534");
    let size = engine.image_size(tag);
    assert!(
        size < 10_000_000,
        "the image should hold one static binary, got {size} bytes"
    );

    let dockerfile_tag = "stagec-guide/go:dockerfile";
    docker_build(&engine, dir.path(), dockerfile_tag);
    assert_eq!(engine.run_image(dockerfile_tag, &["--version"]), "dev\n");

    engine.run(["image", "rm", tag, dockerfile_tag]);
}

/// The Go page states that a failing test fails the build of the image.
#[test]
fn cookbook_go_failing_test_fails_build() {
    let Some(_engine) = engine_or_skip("cookbook_go_failing_test_fails_build") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let failing = GO_GREETING_TEST.replace("\"hello, x\"", "\"goodbye, x\"");
    go_project(dir.path(), &failing);

    let output = stagec_build(dir.path(), "stagec-guide/go:failing-test", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stagec build should fail:\n{stderr}");
    assert!(
        stderr.contains("SC0904"),
        "the failed test step should be reported as SC0904:\n{stderr}"
    );
}

#[test]
fn cookbook_static_site_builds_and_runs() {
    let Some(engine) = engine_or_skip("cookbook_static_site_builds_and_runs") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(
        dir.path(),
        &[
            ("app.kdl", &cookbook_spec("static-site.md")),
            (
                "site/index.html",
                "<!doctype html>\n<html>\n  <body>\n    <h1>Hello</h1>\n  </body>\n</html>\n",
            ),
            ("site/css/site.css", "h1 { color: teal; }\n"),
            ("README.md", "# site\n"),
        ],
    );

    let tag = "stagec-guide/site:llb";
    let output = stagec_build(dir.path(), tag, &[]);
    assert!(
        output.status.success(),
        "stagec build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let dockerfile_tag = "stagec-guide/site:dockerfile";
    docker_build(&engine, dir.path(), dockerfile_tag);

    for image in [tag, dockerfile_tag] {
        let page = engine.run_image(image, &["cat", "/www/index.html", "/www/css/site.css"]);
        assert_eq!(
            page, "<!doctype html>\n<html>\n<body>\n<h1>Hello</h1>\n</body>\n</html>\nh1 { color: teal; }\n",
            "{image}: the builder strips the HTML's indentation and copies the CSS"
        );
        let owner = engine.run_image(image, &["stat", "-c", "%u:%g", "/www/index.html"]);
        assert_eq!(owner.trim(), "65534:65534", "{image}: files owned by nobody");
        assert_eq!(engine.inspect(image, "{{.Config.User}}"), "nobody");
        assert_eq!(
            engine.inspect(image, "{{json .Config.Cmd}}"),
            r#"["httpd","-f","-v","-p","8080","-h","/www"]"#
        );
    }

    engine.run(["image", "rm", tag, dockerfile_tag]);
}
