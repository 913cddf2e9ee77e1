//! End to end on a real Docker Engine: `docker build -f app.kdl` with the
//! stagec frontend image (made by scripts/frontend-image.sh, which
//! scripts/test.sh runs first) must build the same image as `stagec build`,
//! and report spec errors with their code and line. Skipped without an
//! engine, unless STAGEC_E2E=1, which makes a missing engine or frontend
//! image fail.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use support::engine::{Engine, engine_or_skip};
use support::image::{config, file_tree};

/// The frontend image tag; STAGEC_FRONTEND_IMAGE overrides it.
const DEFAULT_FRONTEND_IMAGE: &str = "stagec/frontend:dev";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn frontend_image() -> String {
    std::env::var("STAGEC_FRONTEND_IMAGE").unwrap_or_else(|_| DEFAULT_FRONTEND_IMAGE.to_string())
}

/// Returns the engine when it has the frontend image, `None` to skip.
fn engine_with_frontend(test: &str) -> Option<Engine> {
    let engine = engine_or_skip(test)?;
    let image = frontend_image();
    let present = engine
        .command(["image", "inspect", "--format", "{{.Id}}", &image])
        .output()
        .is_ok_and(|output| output.status.success());
    if present {
        return Some(engine);
    }
    if std::env::var("STAGEC_E2E").is_ok_and(|value| value == "1") {
        panic!("{test}: the engine has no image {image}; make it with scripts/frontend-image.sh");
    }
    eprintln!("{test}: skipped, the engine has no image {image} (run scripts/frontend-image.sh)");
    None
}

/// Copies an example, with its subfolders, into a temporary folder.
fn example_copy(example: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = repo_root().join("specs/examples").join(example);
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", source.display()))
        .arg(dir.path())
        .status()
        .expect("starts cp");
    assert!(status.success(), "failed to copy {}", source.display());
    dir
}

/// Puts the `# syntax=` line of the frontend image at the top of the spec.
fn add_syntax_line(spec: &Path) {
    let source = fs::read_to_string(spec).expect("readable spec");
    fs::write(spec, format!("# syntax={}\n{source}", frontend_image())).expect("write spec");
}

/// Runs `docker build -f SPEC` on the spec's folder without a network.
fn docker_build(engine: &Engine, spec: &Path, tag: &str, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<std::ffi::OsString> = vec![
        "build".into(),
        "--network".into(),
        "none".into(),
        "--progress".into(),
        "plain".into(),
        "-f".into(),
        spec.into(),
        "-t".into(),
        tag.into(),
    ];
    args.extend(extra.iter().map(std::ffi::OsString::from));
    args.push(spec.parent().expect("a spec has a folder").into());
    engine.command(&args).output().expect("starts the docker client")
}

fn assert_success(output: &std::process::Output, command_name: &str) {
    assert!(
        output.status.success(),
        "{command_name} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn stagec_build(spec: &Path, tag: &str) {
    let output = Command::cargo_bin("stagec")
        .expect("the stagec binary")
        .args(["build", "--network", "none", "--progress", "plain", "-t", tag])
        .arg(spec)
        .output()
        .expect("runs stagec");
    assert_success(&output, "stagec build");
}

fn assert_same_images(engine: &Engine, expected: &str, actual: &str) {
    assert_eq!(config(engine, expected), config(engine, actual), "image configs differ");
    let expected_tree = file_tree(engine, expected);
    let actual_tree = file_tree(engine, actual);
    assert!(
        expected_tree.contains_key("/etc"),
        "the export has no /etc: {expected_tree:?}"
    );
    let mut differences = Vec::new();
    for (path, entry) in &expected_tree {
        match actual_tree.get(path) {
            None => differences.push(format!("only in {expected}: {path} ({entry})")),
            Some(other) if other != entry => differences.push(format!("{path}: {expected} {entry}, {actual} {other}")),
            Some(_) => {}
        }
    }
    for (path, entry) in &actual_tree {
        if !expected_tree.contains_key(path) {
            differences.push(format!("only in {actual}: {path} ({entry})"));
        }
    }
    assert!(differences.is_empty(), "file trees differ:\n{}", differences.join("\n"));
}

#[test]
fn frontend_go_web_same_image() {
    let Some(engine) = engine_with_frontend("frontend_go_web_same_image") else {
        return;
    };
    let llb_tag = "stagec-e2e-frontend/go-web:stagec";
    stagec_build(&repo_root().join("specs/examples/go-web/app.kdl"), llb_tag);

    let dir = example_copy("go-web");
    let spec = dir.path().join("app.kdl");
    add_syntax_line(&spec);
    let frontend_tag = "stagec-e2e-frontend/go-web:frontend";
    let output = docker_build(&engine, &spec, frontend_tag, &[]);
    assert_success(&output, "docker build with the frontend");

    assert_same_images(&engine, llb_tag, frontend_tag);
}

#[test]
fn frontend_without_lock_resolves_images() {
    let Some(engine) = engine_with_frontend("frontend_without_lock_resolves_images") else {
        return;
    };
    let llb_tag = "stagec-e2e-frontend/static-site:stagec";
    stagec_build(&repo_root().join("specs/examples/static-site/app.kdl"), llb_tag);

    // Without the lock file, the frontend reads the base image configs
    // through BuildKit; BUILDKIT_SYNTAX selects the frontend instead of a
    // `# syntax=` line.
    let dir = example_copy("static-site");
    fs::remove_file(dir.path().join("app.kdl.lock")).expect("remove the lock file");
    let spec = dir.path().join("app.kdl");
    let syntax = format!("BUILDKIT_SYNTAX={}", frontend_image());
    let frontend_tag = "stagec-e2e-frontend/static-site:frontend";
    let output = docker_build(&engine, &spec, frontend_tag, &["--build-arg", &syntax]);
    assert_success(&output, "docker build with BUILDKIT_SYNTAX");

    assert_same_images(&engine, llb_tag, frontend_tag);
}

#[test]
fn frontend_spec_error_shows_code_and_line() {
    let Some(engine) = engine_with_frontend("frontend_spec_error_shows_code_and_line") else {
        return;
    };
    let dir = example_copy("go-web");
    let spec = dir.path().join("app.kdl");
    let source = fs::read_to_string(&spec)
        .expect("readable spec")
        .replace("from=\"builder\"", "from=\"bulid\"");
    fs::write(&spec, source).expect("write spec");
    add_syntax_line(&spec);

    let output = docker_build(&engine, &spec, "stagec-e2e-frontend/broken:1", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the build must fail:\n{stderr}");
    assert!(stderr.contains("SC0"), "shows the diagnostic code:\n{stderr}");
    assert!(stderr.contains("from=\"bulid\""), "shows the spec line:\n{stderr}");
    assert!(stderr.contains("app.kdl:"), "names the spec file and line:\n{stderr}");
    assert!(
        stderr.contains("help: use one of the stages"),
        "shows the help text:\n{stderr}"
    );
}

#[test]
fn frontend_failed_step_fails_build() {
    let Some(engine) = engine_with_frontend("frontend_failed_step_fails_build") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let example = repo_root().join("specs/examples/go-web");
    fs::copy(example.join("app.kdl.lock"), dir.path().join("app.kdl.lock")).expect("copy lock");
    let spec = dir.path().join("app.kdl");
    let source = format!(
        "# syntax={}\nstage \"app\" from=\"alpine:3\" {{\n    run \"echo broken-step >&2; exit 3\"\n}}\nimage \"app\" tag=\"x:1\"\n",
        frontend_image()
    );
    fs::write(&spec, source).expect("write spec");

    let output = docker_build(&engine, &spec, "stagec-e2e-frontend/fails:1", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the build must fail:\n{stderr}");
    assert!(stderr.contains("broken-step"), "shows the step's output:\n{stderr}");
    assert!(stderr.contains("exit 3"), "names the failed step:\n{stderr}");
}

#[test]
fn frontend_target_and_build_arg() {
    let Some(engine) = engine_with_frontend("frontend_target_and_build_arg") else {
        return;
    };
    let dir = example_copy("go-static-scratch");
    let spec = dir.path().join("app.kdl");
    add_syntax_line(&spec);
    let tag = "stagec-e2e-frontend/greet:frontend";
    let output = docker_build(
        &engine,
        &spec,
        tag,
        &[
            "--target",
            "runtime",
            "--build-arg",
            "VERSION=3.1.4",
            "--label",
            "org.example.e2e=yes",
        ],
    );
    assert_success(&output, "docker build with --target, --build-arg and --label");
    let labels = engine.inspect(tag, "{{json .Config.Labels}}");
    assert!(
        labels.contains(r#""org.opencontainers.image.version":"3.1.4""#),
        "{labels}"
    );
    assert!(labels.contains(r#""org.example.e2e":"yes""#), "{labels}");
}

/// Returns Docker CLI 26.1 with buildx, as scripts/install-engine.sh
/// unpacks it, or `None` when it is not installed.
fn buildx_client() -> Option<(PathBuf, PathBuf)> {
    let prefix =
        PathBuf::from(std::env::var("STAGEC_ENGINE_PREFIX").unwrap_or_else(|_| "/opt/stagec-engine".to_string()));
    let docker = prefix.join("docker-26/usr/bin/docker");
    let config = prefix.join("docker-26/client-config");
    (docker.is_file() && config.is_dir()).then_some((docker, config))
}

fn buildx_command(docker: &Path, config: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(docker);
    command.env("DOCKER_CONFIG", config).env("BUILDX_EXPERIMENTAL", "1");
    command
}

#[test]
fn frontend_buildx_targets_and_error_source() {
    let Some(_engine) = engine_with_frontend("frontend_buildx_targets_and_error_source") else {
        return;
    };
    let Some((docker, config)) = buildx_client() else {
        eprintln!("frontend_buildx_targets_and_error_source: skipped, Docker CLI 26.1 with buildx is not installed");
        return;
    };
    let dir = example_copy("go-web");
    let spec = dir.path().join("app.kdl");
    add_syntax_line(&spec);

    let output = buildx_command(&docker, &config)
        .args(["buildx", "build", "--print", "targets", "-f"])
        .arg(&spec)
        .arg(dir.path())
        .output()
        .expect("starts docker buildx");
    assert_success(&output, "docker buildx build --print targets");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("runtime (default)"), "{stdout}");
    assert!(stdout.contains("image go-web:1.0"), "{stdout}");

    let source = fs::read_to_string(&spec)
        .expect("readable spec")
        .replace("from=\"builder\"", "from=\"bulid\"");
    fs::write(&spec, &source).expect("write spec");
    let line = source
        .lines()
        .position(|line| line.contains("from=\"bulid\""))
        .expect("the broken line")
        + 1;
    let output = buildx_command(&docker, &config)
        .args(["build", "--network", "none", "--progress", "plain", "-f"])
        .arg(&spec)
        .arg(dir.path())
        .output()
        .expect("starts docker build");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the build must fail:\n{stderr}");
    assert!(
        stderr.contains(&format!("app.kdl:{line}\n")),
        "buildx prints the error's source location:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{line} | >>>")),
        "buildx marks the spec line:\n{stderr}"
    );
    assert!(stderr.contains("SC0101"), "{stderr}");
}

/// The frontend must exit once its request ends although BuildKit keeps
/// its standard input open until then. Here the "server" sends only its
/// HTTP/2 SETTINGS frame and never responds, so the request ends when
/// `Ping` times out (15 s), while a read of standard input is still
/// pending. stagec must exit instead of waiting for that read.
#[test]
fn frontend_exits_while_stdin_open() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stagec"))
        .arg("frontend")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts stagec frontend");
    let mut stdin = child.stdin.take().expect("stagec's stdin");
    std::io::Write::write_all(&mut stdin, &[0, 0, 0, 4, 0, 0, 0, 0, 0]).expect("write to stagec");

    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("stagec's status") {
            break Some(status);
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    if status.is_none() {
        let _ = child.kill();
    }
    drop(stdin);
    let output = child.wait_with_output().expect("stagec's output");
    let stderr = String::from_utf8_lossy(&output.stderr);

    let status = status.expect("stagec frontend exits within 60 s while its stdin is open");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("LLBBridge.Ping"), "names the failed call:\n{stderr}");
}

#[test]
fn frontend_buildx_shows_warnings() {
    let Some(_engine) = engine_with_frontend("frontend_buildx_shows_warnings") else {
        return;
    };
    let Some((docker, config)) = buildx_client() else {
        eprintln!("frontend_buildx_shows_warnings: skipped, Docker CLI 26.1 with buildx is not installed");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let example = repo_root().join("specs/examples/go-web");
    fs::copy(example.join("app.kdl.lock"), dir.path().join("app.kdl.lock")).expect("copy lock");
    let spec = dir.path().join("app.kdl");
    let source = format!(
        "# syntax={}\nstage \"unused\" from=\"alpine:3\" {{\n    run \"echo unused\"\n}}\nstage \"app\" from=\"alpine:3\" {{\n    run \"echo app\"\n}}\nimage \"app\" tag=\"x:1\"\n",
        frontend_image()
    );
    fs::write(&spec, source).expect("write spec");

    let output = buildx_command(&docker, &config)
        .args(["build", "--network", "none", "--progress", "plain", "-f"])
        .arg(&spec)
        .arg(dir.path())
        .output()
        .expect("starts docker build");
    assert_success(&output, "docker build of a spec with a warning");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SC0203: stage `unused` is never built"), "{stderr}");
}

/// Cases a buildx user meets. A client config with `proxies` makes the CLI
/// send HTTP_PROXY and NO_PROXY build args that the spec does not declare.
/// A `--secret` must reach the run step but not the image. The outline lists
/// stage args, a `--build-arg` error marks no spec line, and an option error
/// has no gRPC code names.
#[test]
fn frontend_buildx_proxies_outline_and_option_errors() {
    let Some(engine) = engine_with_frontend("frontend_buildx_proxies_outline_and_option_errors") else {
        return;
    };
    let Some((docker, config)) = buildx_client() else {
        eprintln!(
            "frontend_buildx_proxies_outline_and_option_errors: skipped, Docker CLI 26.1 with buildx is not installed"
        );
        return;
    };
    let client_config = tempfile::tempdir().expect("temp dir");
    let mut settings: serde_json::Value =
        serde_json::from_slice(&fs::read(config.join("config.json")).expect("buildx client config"))
            .expect("client config is JSON");
    settings["proxies"] =
        serde_json::json!({"default": {"httpProxy": "http://proxy.invalid:3128", "noProxy": "localhost"}});
    fs::write(client_config.path().join("config.json"), settings.to_string()).expect("write client config");

    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("app.kdl");
    let source = r#"arg "MSG" default="hello"
secret "token"
stage "app" from="alpine:3" {
    arg "MSG"
    arg "LEVEL" default="2"
    run "echo ${MSG} ${LEVEL} > /msg && test \"$(wc -c < /run/secrets/token)\" -eq 16" {
        secret "token"
    }
}
image "app" tag="x:1"
"#;
    fs::write(&spec, source).expect("write spec");
    // Outside the build context, so that only the secret mount can read it.
    let secret_file = client_config.path().join("token.txt");
    // 16 bytes, as the run step checks; the value itself is not in the spec.
    fs::write(&secret_file, "e2e-secret-value").expect("write secret");
    let secret = format!("id=token,src={}", secret_file.display());
    let syntax = format!("BUILDKIT_SYNTAX={}", frontend_image());
    let buildx = |extra: &[&str]| {
        buildx_command(&docker, client_config.path())
            .args([
                "build",
                "--network",
                "none",
                "--progress",
                "plain",
                "--build-arg",
                &syntax,
            ])
            .args(extra)
            .arg("-f")
            .arg(&spec)
            .arg(dir.path())
            .output()
            .expect("starts docker build")
    };

    let tag = "stagec-e2e-frontend/proxies:frontend";
    let output = buildx(&["--secret", &secret, "-t", tag]);
    assert_success(&output, "docker build with proxies in the client config and a secret");
    let saved = engine.run(["save", tag]);
    let secret_in_image = saved
        .stdout
        .windows(b"e2e-secret-value".len())
        .any(|window| window == b"e2e-secret-value");
    assert!(!secret_in_image, "the secret value must not be in the image");

    let output = buildx(&["--print", "outline"]);
    assert_success(&output, "docker buildx build --print outline");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("LEVEL"), "the outline lists stage args:\n{stdout}");
    assert!(
        stdout.contains("TARGET:"),
        "the outline names the default stage:\n{stdout}"
    );

    let output = buildx(&["--build-arg", "NOPE=1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "an unknown --build-arg fails:\n{stderr}");
    assert!(stderr.contains("`NOPE` names no build arg"), "{stderr}");
    assert!(
        !stderr.contains(">>>"),
        "a --build-arg error marks no spec line:\n{stderr}"
    );

    let output = buildx(&["--build-context", &format!("alpine:3={}", dir.path().display())]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a folder context for a base image fails:\n{stderr}"
    );
    assert!(stderr.contains("docker-image://REFERENCE"), "{stderr}");
    assert!(
        !stderr.contains("InvalidArgument:"),
        "no gRPC code names in the message:\n{stderr}"
    );
}
