//! End to end on a real Docker Engine: every image output of every example
//! is built twice, with `stagec build` (LLB, no Dockerfile) and with
//! `docker build` of `stagec dockerfile`'s output. The two images must have
//! the same files (path, type, mode, owner, content digest, link target)
//! and the same configuration. Skipped without an engine, unless
//! STAGEC_E2E=1, which makes a missing engine fail.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sha2::{Digest, Sha256};
use support::engine::{Engine, engine_or_skip};
use support::image::{Tree, config, file_tree, parse_tar};


fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("the stagec binary")
}

/// Returns the stage of every `image` output of the example, in spec order.
fn image_stages(example: &str) -> Vec<String> {
    let source = fs::read_to_string(repo_root().join(format!("specs/examples/{example}/app.kdl"))).expect("readable");
    let spec = stagec::compile::check(&source).spec.expect("a spec");
    spec.images.iter().map(|image| image.stage.value.clone()).collect()
}

/// Builds `stage` of `example` with `stagec build` and returns the tag.
fn build_with_llb(example: &str, stage: &str) -> String {
    let spec = repo_root().join(format!("specs/examples/{example}/app.kdl"));
    build_spec_with_llb(&spec, example, stage)
}

/// Builds `stage` of the spec at `spec` with `stagec build` and returns the
/// tag, named after `name`.
fn build_spec_with_llb(spec: &Path, name: &str, stage: &str) -> String {
    let tag = format!("stagec-e2e-llb/{name}-{stage}:llb");
    let output = stagec()
        .args([
            "build",
            "--network",
            "none",
            "--progress",
            "plain",
            "--target",
            stage,
            "-t",
            &tag,
        ])
        .arg(spec)
        .output()
        .expect("runs stagec");
    assert!(
        output.status.success(),
        "stagec build of {name} ({stage}) failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.trim().starts_with("sha256:"),
        "stagec build prints the image ID, not {printed:?}"
    );
    tag
}

/// Builds `stage` of `example` from `stagec dockerfile`'s output and returns the tag.
fn build_with_dockerfile(engine: &Engine, example: &str, stage: &str) -> String {
    let spec = repo_root().join(format!("specs/examples/{example}/app.kdl"));
    build_spec_with_dockerfile(engine, &spec, example, stage)
}

/// Builds `stage` of the spec at `spec`, with its directory as the context,
/// from `stagec dockerfile`'s output, and returns the tag, named after `name`.
fn build_spec_with_dockerfile(engine: &Engine, spec: &Path, name: &str, stage: &str) -> String {
    let tag = format!("stagec-e2e-llb/{name}-{stage}:dockerfile");
    let out = tempfile::tempdir().expect("temp dir");
    let dockerfile = out.path().join("Dockerfile");
    stagec()
        .args(["dockerfile", "--target", stage, "-o"])
        .arg(&dockerfile)
        .arg(spec)
        .assert()
        .success();
    let context = spec.parent().expect("a spec file has a directory");
    engine.build(&dockerfile, context, &tag, Some(stage));
    tag
}


/// Lists the differences between two trees, for the failure message.
fn tree_differences(llb: &Tree, dockerfile: &Tree) -> Vec<String> {
    let mut differences = Vec::new();
    for (path, entry) in llb {
        match dockerfile.get(path) {
            None => differences.push(format!("only in the stagec build: {path} ({entry})")),
            Some(other) if other != entry => {
                differences.push(format!("{path}: stagec build {entry}, docker build {other}"))
            }
            Some(_) => {}
        }
    }
    for (path, entry) in dockerfile {
        if !llb.contains_key(path) {
            differences.push(format!("only in the docker build: {path} ({entry})"));
        }
    }
    differences
}

fn assert_same_image(engine: &Engine, example: &str) {
    for stage in image_stages(example) {
        let llb = build_with_llb(example, &stage);
        let dockerfile = build_with_dockerfile(engine, example, &stage);
        assert_same_built_images(engine, &llb, &dockerfile, example, &stage);
    }
}

/// Compares the configs and file trees of the images `llb` and `dockerfile`.
fn assert_same_built_images(engine: &Engine, llb: &str, dockerfile: &str, example: &str, stage: &str) {
    assert_eq!(
        config(engine, llb),
        config(engine, dockerfile),
        "{example} ({stage}): image configs differ"
    );
    let llb_tree = file_tree(engine, llb);
    assert!(
        llb_tree.contains_key("/etc"),
        "{example} ({stage}): the export has no /etc: {llb_tree:?}"
    );
    let differences = tree_differences(&llb_tree, &file_tree(engine, dockerfile));
    assert!(
        differences.is_empty(),
        "{example} ({stage}): file trees differ:\n{}",
        differences.join("\n")
    );
}

#[test]
fn go_web_same_image_and_runs() {
    let Some(engine) = engine_or_skip("go_web_same_image_and_runs") else {
        return;
    };
    assert_same_image(&engine, "go-web");
    let printed = engine.run_image("stagec-e2e-llb/go-web-runtime:llb", &["/app/main", "-once"]);
    assert_eq!(printed, "go-web: hello from stagec\n");
}

#[test]
fn go_static_scratch_same_image() {
    let Some(engine) = engine_or_skip("go_static_scratch_same_image") else {
        return;
    };
    assert_same_image(&engine, "go-static-scratch");
}

#[test]
fn static_site_same_image() {
    let Some(engine) = engine_or_skip("static_site_same_image") else {
        return;
    };
    assert_same_image(&engine, "static-site");
}

#[test]
fn checked_build_same_image() {
    let Some(engine) = engine_or_skip("checked_build_same_image") else {
        return;
    };
    assert_same_image(&engine, "checked-build");
}

#[test]
fn multi_output_same_images() {
    let Some(engine) = engine_or_skip("multi_output_same_images") else {
        return;
    };
    assert_same_image(&engine, "multi-output");
}

#[test]
fn go_cross_same_image() {
    let Some(engine) = engine_or_skip("go_cross_same_image") else {
        return;
    };
    // A single-platform build for the engine's platform; tests/multiplatform_e2e.rs
    // builds both platforms on the engine with the containerd image store.
    assert_same_image(&engine, "go-cross");
}

/// rust-cross is only checked: no `rust` base image exists offline, so the
/// example has no lock file and neither backend can build it.
#[test]
fn rust_cross_is_check_only() {
    let example = repo_root().join("specs/examples/rust-cross");
    assert!(example.join("app.kdl").is_file());
    assert!(
        !example.join("app.kdl.lock").exists(),
        "rust-cross has a lock file now; build it in a test like the other examples"
    );
    eprintln!("rust_cross_is_check_only: not built, because no rust:1.77 image exists offline");
}

/// `${env:NAME}` in stage fields reads the env of the base image and of
/// the base stages, and both backends build the same image from it.
#[test]
fn env_references_same_image() {
    let Some(engine) = engine_or_skip("env_references_same_image") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let example = repo_root().join("specs/examples/go-web");
    fs::copy(example.join("app.kdl.lock"), dir.path().join("app.kdl.lock")).expect("copy lock");
    fs::write(
        dir.path().join("hello.sh"),
        "#!/bin/sh\necho \"hello from $APP_HOME\"\n",
    )
    .expect("write script");
    let spec = dir.path().join("app.kdl");
    fs::write(
        &spec,
        r#"stage "base" from="alpine:3" {
    env APP_HOME="/opt/app"
}

stage "app" from="base" {
    env PATH="${env:APP_HOME}/bin:${env:PATH}" BEFORE="${env:PATH}" UNSET="[${env:NO_SUCH_VAR}]"
    workdir "${env:APP_HOME}/work"
    label "org.example.path"="${env:PATH}"
    copy "hello.sh" to="${env:APP_HOME}/bin/hello" mode="0755"
    user "${env:NO_SUCH_VAR}"
    cmd "hello"
}

image "app" tag="stagec-e2e/env:1"
"#,
    )
    .expect("write spec");

    let llb = build_spec_with_llb(&spec, "env-references", "app");
    let dockerfile = build_spec_with_dockerfile(&engine, &spec, "env-references", "app");
    assert_same_built_images(&engine, &llb, &dockerfile, "env-references", "app");

    let env = engine.inspect(&dockerfile, "{{json .Config.Env}}");
    let default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    assert!(env.contains(&format!("\"PATH=/opt/app/bin:{default_path}\"")), "{env}");
    assert!(env.contains(&format!("\"BEFORE={default_path}\"")), "{env}");
    assert!(env.contains("\"UNSET=[]\""), "{env}");
    assert_eq!(engine.inspect(&dockerfile, "{{.Config.WorkingDir}}"), "/opt/app/work");
    assert_eq!(engine.run_image(&llb, &[]), "hello from /opt/app\n");
}

#[test]
fn every_example_is_covered() {
    let mut examples: Vec<String> = fs::read_dir(repo_root().join("specs/examples"))
        .expect("readable examples")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    examples.sort();
    assert_eq!(
        examples,
        [
            "checked-build",
            "go-cross",
            "go-static-scratch",
            "go-web",
            "multi-output",
            "rust-cross",
            "static-site"
        ]
    );
}

#[test]
fn missing_artifact_points_at_declaration() {
    let Some(_engine) = engine_or_skip("missing_artifact_points_at_declaration") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let example = repo_root().join("specs/examples/go-web");
    for name in ["go.mod", "main.go", "app.kdl.lock"] {
        fs::copy(example.join(name), dir.path().join(name)).expect("copy example file");
    }
    // The build writes /app/main, but the artifact names /app/server.
    let source = fs::read_to_string(example.join("app.kdl")).expect("readable").replace(
        "artifact \"app\" path=\"/app/main\"",
        "artifact \"app\" path=\"/app/server\"",
    );
    let spec = dir.path().join("app.kdl");
    fs::write(&spec, &source).expect("write spec");

    let output = stagec()
        .args([
            "build",
            "--network",
            "none",
            "--progress",
            "quiet",
            "--color",
            "never",
            "-t",
            "stagec-e2e-llb/broken:1",
        ])
        .arg(&spec)
        .output()
        .expect("runs stagec");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SC0903"), "{stderr}");
    assert!(stderr.contains("did not produce `/app/server`"), "{stderr}");
    let line = source
        .lines()
        .position(|line| line.contains("/app/server"))
        .expect("the artifact line")
        + 1;
    assert!(
        stderr.contains(&format!("app.kdl:{line}:")),
        "the diagnostic points at line {line}:\n{stderr}"
    );
}

#[test]
fn failing_run_is_sc0904() {
    let Some(_engine) = engine_or_skip("failing_run_is_sc0904") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let example = repo_root().join("specs/examples/go-web");
    fs::copy(example.join("app.kdl.lock"), dir.path().join("app.kdl.lock")).expect("copy lock");
    let spec = dir.path().join("app.kdl");
    fs::write(&spec, "stage \"app\" from=\"alpine:3\" {\n    run \"echo broken >&2; exit 3\"\n}\nimage \"app\" tag=\"stagec-e2e-llb/fails:1\"\n")
        .expect("write spec");

    let output = stagec()
        .args(["build", "--network", "none", "--progress", "quiet", "--color", "never"])
        .arg(&spec)
        .output()
        .expect("runs stagec");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SC0904"), "{stderr}");
    assert!(stderr.contains("app.kdl:2:"), "points at the run step:\n{stderr}");
    assert!(stderr.contains("broken"), "shows the step's last log lines:\n{stderr}");
}

#[test]
fn failed_step_logs_before_summary() {
    let Some(_engine) = engine_or_skip("failed_step_logs_before_summary") else {
        return;
    };
    let source = "stage \"app\" from=\"alpine:3\" {\n    run \"echo last-line >&2; exit 3\"\n}\nimage \"app\" tag=\"stagec-e2e-llb/fails-order:1\"\n";
    let (_dir, spec) = spec_in_temp_dir(source, &[]);
    let output = stagec_build(&spec, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");

    let diagnostic = stderr.find("SC0904").expect("the failed step is SC0904");
    let log = stderr.find("  | last-line").expect("the step's log line is shown");
    let summary = stderr
        .find("error: aborting due to 1 previous error")
        .expect("the summary line is shown");
    assert!(diagnostic < log, "the log follows the diagnostic:\n{stderr}");
    assert!(log < summary, "the summary line comes last:\n{stderr}");
}

#[test]
fn parse_tar_reads_ustar_and_pax() {
    fn header(name: &str, kind: u8, size: usize, link: &str) -> Vec<u8> {
        let mut block = vec![0u8; 512];
        block[..name.len()].copy_from_slice(name.as_bytes());
        block[100..107].copy_from_slice(b"0000755");
        block[108..115].copy_from_slice(b"0000001");
        block[116..123].copy_from_slice(b"0000002");
        block[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        block[156] = kind;
        block[157..157 + link.len()].copy_from_slice(link.as_bytes());
        block
    }
    fn padded(body: &[u8]) -> Vec<u8> {
        let mut data = body.to_vec();
        data.resize(body.len().div_ceil(512) * 512, 0);
        data
    }
    let long = format!("dir/{}", "x".repeat(120));
    let record = format!("path={long}\n");
    let pax = format!("{} {record}", record.len() + 4);
    let mut stream = header("dir/", b'5', 0, "");
    stream.extend(header("dir/a", b'0', 3, ""));
    stream.extend(padded(b"abc"));
    stream.extend(header("PaxHeaders/x", b'x', pax.len(), ""));
    stream.extend(padded(pax.as_bytes()));
    stream.extend(header("ignored", b'2', 0, "a"));
    stream.extend(vec![0u8; 1024]);

    let tree = parse_tar(&stream);
    assert_eq!(tree["/dir"], "dir mode 0755 owner 1:2");
    assert_eq!(
        tree["/dir/a"],
        format!("file {:x} mode 0755 owner 1:2", Sha256::digest(b"abc"))
    );
    assert_eq!(tree[&format!("/{long}")], "symlink a mode 0755 owner 1:2");
    assert_eq!(tree.len(), 3);
}

/// Writes `source` as app.kdl in a new folder, with the context files
/// `files` (path, content) beside it, and returns the folder and the spec.
fn spec_in_temp_dir(source: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files {
        let full = dir.path().join(path);
        fs::create_dir_all(full.parent().expect("a file has a parent")).expect("create folders");
        fs::write(full, content).expect("write a context file");
    }
    let spec = dir.path().join("app.kdl");
    fs::write(&spec, source).expect("write spec");
    (dir, spec)
}

/// Runs `stagec build` with plain progress, no network and `extra` flags,
/// and returns its output.
fn stagec_build(spec: &std::path::Path, extra: &[&str]) -> std::process::Output {
    stagec()
        .args(["build", "--network", "none", "--progress", "plain", "--color", "never"])
        .args(extra)
        .arg(spec)
        .output()
        .expect("runs stagec")
}

/// Returns the major version of the engine, such as 26 for `26.1.5+dfsg1`.
fn engine_major_version(engine: &Engine) -> u32 {
    let output = engine.run(["version", "--format", "{{.Server.Version}}"]);
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    version
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or_else(|| panic!("the engine version {version:?} has no major number"))
}

#[test]
fn image_config_every_field() {
    let Some(engine) = engine_or_skip("image_config_every_field") else {
        return;
    };
    let tag = "stagec-e2e-llb/config-fields:1";
    let source = format!(
        r#"stage "app" from="alpine:3" {{
    workdir "/srv/app"
    env GREETING="hello"
    env MODE="test"
    user "nobody"
    expose 8080 "53/udp"
    label "org.opencontainers.image.title"="config-fields"
    label "com.example.team"="build"
    volume "/data" "/cache"
    stopsignal "SIGQUIT"
    healthcheck "wget" "-q" "-O" "/dev/null" "http://127.0.0.1:8080/" interval="15s" timeout="2s" start-period="5s" retries=4
    entrypoint "/bin/sh" "-c"
    cmd "echo $GREETING"
}}
image "app" tag="{tag}"
"#
    );
    let (_dir, spec) = spec_in_temp_dir(&source, &[]);
    let output = stagec_build(&spec, &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let config: serde_json::Value =
        serde_json::from_str(&engine.inspect(tag, "{{json .Config}}")).expect("the config is JSON");
    assert_eq!(config["Cmd"], serde_json::json!(["echo $GREETING"]));
    assert_eq!(config["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(
        config["Env"],
        serde_json::json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "GREETING=hello",
            "MODE=test"
        ])
    );
    assert_eq!(config["WorkingDir"], "/srv/app");
    assert_eq!(config["User"], "nobody");
    assert_eq!(
        config["ExposedPorts"],
        serde_json::json!({"53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(config["Labels"]["org.opencontainers.image.title"], "config-fields");
    assert_eq!(config["Labels"]["com.example.team"], "build");
    assert_eq!(
        config["Labels"]["org.stagec.base-image.revision"], "1",
        "the base image's labels are kept"
    );
    assert_eq!(
        config["Healthcheck"],
        serde_json::json!({
            "Test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
            "Interval": 15_000_000_000u64,
            "Timeout": 2_000_000_000u64,
            "StartPeriod": 5_000_000_000u64,
            "Retries": 4
        })
    );
    assert_eq!(config["Volumes"], serde_json::json!({"/cache": {}, "/data": {}}));
    assert_eq!(config["StopSignal"], "SIGQUIT");
    assert_eq!(engine.run_image(tag, &[]), "hello\n");
}

#[test]
fn target_and_tag_override() {
    let Some(engine) = engine_or_skip("target_and_tag_override") else {
        return;
    };
    let example = repo_root().join("specs/examples/go-web");
    let spec_tag = "stagec-e2e-llb/override-spec-tag:1";
    let source = fs::read_to_string(example.join("app.kdl"))
        .expect("readable")
        .replace("tag=\"go-web:1.0\"", &format!("tag=\"{spec_tag}\""));
    let main_go = fs::read_to_string(example.join("main.go")).expect("readable");
    let go_mod = fs::read_to_string(example.join("go.mod")).expect("readable");
    let (_dir, spec) = spec_in_temp_dir(&source, &[("main.go", &main_go), ("go.mod", &go_mod)]);
    engine
        .command(["image", "rm", "--force", spec_tag])
        .output()
        .expect("runs docker");

    let first = "stagec-e2e-llb/override:builder";
    let second = "stagec-e2e-llb/override:builder-again";
    let output = stagec_build(&spec, &["--target", "builder", "-t", first, "-t", second]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let image_id = String::from_utf8_lossy(&output.stdout).trim().to_string();

    assert_eq!(engine.inspect(first, "{{.Id}}"), image_id);
    assert_eq!(engine.inspect(second, "{{.Id}}"), image_id);
    let spec_tag_exists = engine
        .command(["image", "inspect", spec_tag])
        .output()
        .expect("runs docker")
        .status
        .success();
    assert!(!spec_tag_exists, "-t replaces the spec's tag");
    // The builder stage has the Go toolchain and the program it built.
    assert_eq!(
        engine.run_image(
            first,
            &[
                "sh",
                "-c",
                "test -x /usr/local/go/bin/go && test -x /app/main && echo builder"
            ]
        ),
        "builder\n"
    );
}

#[test]
fn context_copy_patterns_every_engine() {
    let Some(engine) = engine_or_skip("context_copy_patterns_every_engine") else {
        return;
    };
    let tag = "stagec-e2e-llb/copy-patterns:1";
    let source = format!(
        r#"stage "app" from="alpine:3" {{
    copy "src" to="/app/src/" {{
        include "**/*.go" "data/*.txt"
        exclude "**/*_test.go"
    }}
    copy "notes.txt" to="/app/"
}}
image "app" tag="{tag}"
"#
    );
    let files = [
        ("src/main.go", "package main\n"),
        ("src/main_test.go", "package main\n"),
        ("src/util/u.go", "package util\n"),
        ("src/util/u_test.go", "package util\n"),
        ("src/README.md", "readme\n"),
        ("src/data/a.txt", "a\n"),
        ("src/data/b.bin", "b\n"),
        ("notes.txt", "notes\n"),
    ];
    let (_dir, spec) = spec_in_temp_dir(&source, &files);
    let output = stagec_build(&spec, &["--no-cache"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Docker Engine 20.10 (BuildKit 0.8) has no copy patterns, so the
    // files are filtered when the context is sent.
    if engine_major_version(&engine) < 23 {
        assert!(
            stderr.contains("[internal] load build context for [app 2/3] COPY src"),
            "{stderr}"
        );
    }

    assert_eq!(
        engine.run_image(tag, &["sh", "-c", "find /app | sort"]),
        "/app\n/app/notes.txt\n/app/src\n/app/src/data\n/app/src/data/a.txt\n/app/src/main.go\n/app/src/util\n/app/src/util/u.go\n"
    );
}

/// `[[]` is a class that matches a literal `[`, as in `docker build`, so
/// `a[[]1].txt` copies the file `a[1].txt`.
#[test]
fn copy_bracket_class_literal_file() {
    let Some(engine) = engine_or_skip("copy_bracket_class_literal_file") else {
        return;
    };
    let tag = "stagec-e2e-llb/copy-bracket:1";
    let source = format!(
        r#"stage "app" from="alpine:3" {{
    copy "a[[]1].txt" to="/files/"
}}
image "app" tag="{tag}"
"#
    );
    let (_dir, spec) = spec_in_temp_dir(&source, &[("a[1].txt", "one\n"), ("a1].txt", "other\n")]);
    let output = stagec_build(&spec, &["--no-cache"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");

    assert_eq!(
        engine.run_image(tag, &["sh", "-c", "ls /files && cat '/files/a[1].txt'"]),
        "a[1].txt\none\n"
    );
}

#[test]
fn secret_env_needs_docker_23() {
    let Some(engine) = engine_or_skip("secret_env_needs_docker_23") else {
        return;
    };
    let tag = "stagec-e2e-llb/secret-env:1";
    let source = format!(
        r#"secret "token" required=#true
stage "app" from="alpine:3" {{
    run "test -n \"$TOKEN\" && echo token-read > /result" {{
        secret "token" env="TOKEN"
    }}
    cmd "cat" "/result"
}}
image "app" tag="{tag}"
"#
    );
    let (_dir, spec) = spec_in_temp_dir(&source, &[]);
    let output = stagec()
        .args([
            "build",
            "--network",
            "none",
            "--progress",
            "quiet",
            "--message-format",
            "json",
        ])
        .args(["--secret", "id=token,env=STAGEC_E2E_SECRET", "--no-cache"])
        .arg(&spec)
        .env("STAGEC_E2E_SECRET", "not-in-the-image")
        .output()
        .expect("runs stagec");
    let stderr = String::from_utf8_lossy(&output.stderr);

    if engine_major_version(&engine) >= 23 {
        assert!(output.status.success(), "{stderr}");
        assert_eq!(engine.run_image(tag, &[]), "token-read\n");
        return;
    }
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let diagnostic: serde_json::Value = stderr
        .lines()
        .find(|line| line.contains("\"SC0905\""))
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no SC0905 diagnostic:\n{stderr}"));
    let version = engine.run(["version", "--format", "{{.Server.Version}}"]);
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    assert_eq!(
        diagnostic["message"],
        format!(
            "a secret as an environment variable (`env=`) needs Docker Engine 23.0 or newer, \
             and the engine is Docker Engine {version}"
        )
    );
    assert_eq!(diagnostic["line"], 4, "points at `env=`: {diagnostic}");
    assert_eq!(diagnostic["column"], 28, "points at `env=`: {diagnostic}");
    let help = diagnostic["help"].as_str().unwrap_or_default();
    assert!(help.contains("mount the secret as a file"), "{diagnostic}");
}

/// Returns whether a process with exactly `argv` runs on this machine.
/// Build steps run in containers of the local engine, so they show up here.
fn process_running(argv: &[&str]) -> bool {
    let wanted: Vec<u8> = argv.iter().flat_map(|arg| arg.bytes().chain([0])).collect();
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| cmdline == wanted)
}

fn wait_for(what: &str, timeout: std::time::Duration, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn ctrl_c_cancels_build() {
    let Some(_engine) = engine_or_skip("ctrl_c_cancels_build") else {
        return;
    };
    let seconds = format!("{}", 5000 + std::process::id() % 1000);
    let source = format!(
        "stage \"app\" from=\"alpine:3\" {{\n    run \"exec sleep {seconds}\"\n}}\nimage \"app\" tag=\"stagec-e2e-llb/ctrl-c:1\"\n"
    );
    let (_dir, spec) = spec_in_temp_dir(&source, &[]);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stagec"))
        .args(["build", "--network", "none", "--progress", "tty", "--no-cache"])
        .arg(&spec)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts stagec");
    wait_for("the step to start", std::time::Duration::from_secs(60), || {
        process_running(&["sleep", &seconds])
    });

    let pid = i32::try_from(child.id()).expect("a pid fits in i32");
    // SAFETY: kill only sends a signal to the child process started above.
    let sent = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(sent, 0, "sending SIGINT to stagec");
    let output = child.wait_with_output().expect("stagec ends");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.ends_with("\x1b[?25hstagec: build canceled\n"),
        "the view shows the cursor again before the last message: {stderr:?}"
    );
    assert!(stderr.contains("CANCELED [app 2/2] RUN exec sleep"), "{stderr:?}");
    wait_for(
        "the engine to stop the step",
        std::time::Duration::from_secs(30),
        || !process_running(&["sleep", &seconds]),
    );
}

/// Starts a registry on 127.0.0.1 that requires Basic authentication and
/// has no images, and returns its port and the `Authorization` headers it
/// receives.
fn start_fake_registry() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let port = listener.local_addr().expect("a bound address").port();
    let authorizations = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = authorizations.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("a socket clone"));
            let mut authorization = None;
            let mut line = String::new();
            // Reading ends at the blank line after the headers, or at an
            // error, such as the bytes of a TLS handshake, which are not text.
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
                let header = line.trim_end().to_string();
                line.clear();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    authorization = Some(value.trim().to_string());
                }
            }
            let response = match authorization {
                Some(value) => {
                    seen.lock().expect("registry lock").push(value);
                    let body = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
                    format!(
                        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                         Docker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                }
                None => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"stagec-test\"\r\n\
                         Docker-Distribution-API-Version: registry/2.0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string(),
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, authorizations)
}

#[test]
fn registry_credentials_from_docker_config() {
    let Some(_engine) = engine_or_skip("registry_credentials_from_docker_config") else {
        return;
    };
    use base64::Engine as _;
    let (port, authorizations) = start_fake_registry();
    let image = format!("127.0.0.1:{port}/stagec/auth-probe:1");
    let source = format!(
        "stage \"app\" from=\"{image}\" {{\n    cmd \"true\"\n}}\nimage \"app\" tag=\"stagec-e2e-llb/auth:1\"\n"
    );
    let (dir, spec) = spec_in_temp_dir(&source, &[]);

    // The image is not in the engine's store, so the lock is written here
    // instead of by `stagec lock`.
    let model = stagec::compile::check(&source).spec.expect("a spec");
    let platform = match std::env::consts::ARCH {
        "aarch64" => "linux/arm64",
        _ => "linux/amd64",
    };
    let locked = stagec::lock::LockedImage {
        reference: stagec::lock::Reference::parse_normalized(&image)
            .expect("a valid reference")
            .to_string(),
        platform: platform.to_string(),
        image_id: format!("sha256:{}", "0".repeat(64)),
        repo_digests: Vec::new(),
        image_platform: platform.to_string(),
        layers: 1,
        config: stagec::lock::ImageConfig::default(),
    };
    let lock = stagec::lock::LockFile::new(stagec::lock::spec_images_digest(&model), vec![locked]);
    fs::write(stagec::lock::lock_path(&spec), lock.to_text()).expect("write the lock");

    let docker_config = dir.path().join("docker-config");
    fs::create_dir(&docker_config).expect("create the config folder");
    let credentials = base64::engine::general_purpose::STANDARD.encode("stagec-user:stagec-password");
    let config = serde_json::json!({"auths": {format!("127.0.0.1:{port}"): {"auth": credentials}}});
    fs::write(docker_config.join("config.json"), config.to_string()).expect("write config.json");

    let output = stagec()
        .args(["build", "--network", "none", "--progress", "plain", "--color", "never"])
        .arg(&spec)
        .env("DOCKER_CONFIG", &docker_config)
        .output()
        .expect("runs stagec");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "the registry has no image: {stderr}");
    let seen = authorizations.lock().expect("registry lock").clone();
    assert!(
        seen.contains(&format!("Basic {credentials}")),
        "the engine sent the credentials of config.json: {seen:?}\n{stderr}"
    );
}

#[test]
fn build_arg_and_platform_flags() {
    let Some(engine) = engine_or_skip("build_arg_and_platform_flags") else {
        return;
    };
    let source = r#"arg "VERSION" default="1.0"
stage "app" from="alpine:3" {
    arg "VERSION"
    run "echo \"version $VERSION\" > /version"
    label "org.opencontainers.image.version"="${VERSION}"
    cmd "cat" "/version"
}
image "app" tag="stagec-e2e-llb/build-arg:${VERSION}"
"#;
    let (_dir, spec) = spec_in_temp_dir(source, &[]);
    let platform = match std::env::consts::ARCH {
        "aarch64" => "linux/arm64",
        _ => "linux/amd64",
    };
    let output = stagec_build(&spec, &["--build-arg", "VERSION=2.5", "--platform", platform]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let tag = "stagec-e2e-llb/build-arg:2.5";
    assert_eq!(engine.run_image(tag, &[]), "version 2.5\n");
    assert_eq!(
        engine.inspect(tag, "{{index .Config.Labels \"org.opencontainers.image.version\"}}"),
        "2.5"
    );
    assert_eq!(engine.inspect(tag, "{{.Os}}/{{.Architecture}}"), platform);
}

#[test]
fn secret_file_from_env_source() {
    let Some(engine) = engine_or_skip("secret_file_from_env_source") else {
        return;
    };
    let tag = "stagec-e2e-llb/secret-file:1";
    let source = format!(
        r#"secret "token" required=#true
stage "app" from="alpine:3" {{
    run "sha256sum < /run/secrets/token > /token.sha256" {{
        secret "token" target="/run/secrets/token"
    }}
    cmd "cat" "/token.sha256"
}}
image "app" tag="{tag}"
"#
    );
    let (_dir, spec) = spec_in_temp_dir(&source, &[]);
    let secret = format!("stagec-e2e-secret-{}", std::process::id());
    let output = stagec()
        .args(["build", "--network", "none", "--progress", "plain", "--no-cache"])
        .args(["--secret", "id=token,env=STAGEC_E2E_SECRET"])
        .arg(&spec)
        .env("STAGEC_E2E_SECRET", &secret)
        .output()
        .expect("runs stagec");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains(&secret),
        "the progress output shows the secret: {stderr}"
    );

    assert_eq!(
        engine.run_image(tag, &[]),
        format!("{:x}  -\n", Sha256::digest(secret.as_bytes()))
    );
    let saved = engine.run(["save", tag]).stdout;
    let found = saved.windows(secret.len()).any(|window| window == secret.as_bytes());
    assert!(!found, "the secret value is in the saved image");
}
