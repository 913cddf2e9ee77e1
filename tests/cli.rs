//! The `stagec` binary as a user runs it: exit codes, output files, stdin,
//! message formats.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

const GO_WEB: &str = "specs/examples/go-web/app.kdl";

fn stagec() -> Command {
    let mut command = Command::cargo_bin("stagec").expect("stagec binary");
    command
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    command
}

fn write_spec(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("app.kdl");
    std::fs::write(&path, text).expect("write spec");
    path
}

const TYPO_SPEC: &str = r#"
stage "builder" from="golang:1.19" {
    artifact "app" path="/app/main"
}
stage "runtime" from="alpine:3" {
    copy artifact="app" from="bulider" to="/app/main"
}
image "runtime" tag="app:1.0"
"#;

#[test]
fn check_example_succeeds() {
    stagec().args(["check", GO_WEB]).assert().success();
}

#[test]
fn check_typo_exits_one_with_suggestion() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(dir.path(), TYPO_SPEC);
    stagec()
        .arg("check")
        .arg(&spec)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SC0101"))
        .stderr(predicate::str::contains("did you mean `builder`?"))
        .stderr(predicate::str::contains("aborting due to 1 previous error"));
}

#[test]
fn check_reads_stdin() {
    stagec()
        .args(["check", "-", "--context", "specs/examples/go-web"])
        .write_stdin(std::fs::read_to_string(GO_WEB).expect("read example"))
        .assert()
        .success();
}

#[test]
fn check_json_has_position_and_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(dir.path(), TYPO_SPEC);
    let output = stagec()
        .arg("check")
        .arg(&spec)
        .args(["--message-format", "json"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    let first: serde_json::Value =
        serde_json::from_str(stderr.lines().next().expect("one line")).expect("valid JSON line");
    assert_eq!(first["code"], "SC0101");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["line"], 6);
    assert_eq!(first["column"], 30);
}

#[test]
fn missing_spec_exits_three() {
    stagec()
        .args(["check", "no/such/app.kdl"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot read spec `no/such/app.kdl`"));
}

#[test]
fn non_utf8_spec_exits_three() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.kdl");
    std::fs::write(&path, b"stage \"a\xff\"").expect("write");
    stagec()
        .arg("check")
        .arg(&path)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not valid UTF-8"));
}

#[test]
fn non_utf8_stdin_spec_names_offset() {
    stagec()
        .args(["check", "-"])
        .write_stdin(&b"stage \"a\xff\""[..])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "the spec on standard input is not valid UTF-8 (invalid byte at offset 8)",
        ));
}

#[test]
fn non_utf8_stdin_for_fmt_names_offset() {
    stagec()
        .args(["fmt", "-"])
        .write_stdin(&b"stage \"a\xff\""[..])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "standard input is not valid UTF-8 (invalid byte at offset 8)",
        ));
}

#[test]
fn tls_flags_without_partner_exit_two() {
    let cases: [&[&str]; 4] = [
        &["--tlscacert", "ca.pem", "--tlscert", "cert.pem"],
        &["--tlscacert", "ca.pem", "--tlskey", "key.pem"],
        &["--tlscert", "cert.pem", "--tlskey", "key.pem"],
        &["--tlsservername", "builder.example.com"],
    ];
    for flags in cases {
        for command in ["build", "lock"] {
            let output = stagec()
                .arg(command)
                .args(["--addr", "tcp://127.0.0.1:1"])
                .args(flags)
                .arg(GO_WEB)
                .output()
                .expect("run stagec");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{command} {flags:?}: {stderr}");
            assert!(
                stderr.contains("required arguments were not provided"),
                "{command} {flags:?}: {stderr}"
            );
        }
    }
}

#[test]
fn unknown_flag_exits_two() {
    stagec().args(["check", "--no-such-flag", GO_WEB]).assert().code(2);
}

#[test]
fn dockerfile_prints_to_stdout() {
    stagec()
        .args(["dockerfile", GO_WEB])
        .assert()
        .success()
        .stdout(predicate::str::contains("FROM golang:1.19 AS builder"))
        .stdout(predicate::str::contains("COPY --from=builder /app/main /app/main"));
}

#[test]
fn dockerfile_output_writes_both_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("Dockerfile");
    stagec().args(["dockerfile", GO_WEB, "-o"]).arg(&out).assert().success();
    let dockerfile = std::fs::read_to_string(&out).expect("Dockerfile written");
    assert!(dockerfile.starts_with("# Generated by stagec"), "{dockerfile}");
    let ignore = std::fs::read_to_string(dir.path().join("Dockerfile.dockerignore")).expect("ignore file written");
    assert!(ignore.contains("main.go"), "{ignore}");
}

#[test]
fn dockerfile_failed_compile_keeps_existing_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(dir.path(), TYPO_SPEC);
    let out = dir.path().join("Dockerfile");
    std::fs::write(&out, "# Generated by stagec from app.kdl.\nFROM alpine:3\n").expect("write");
    stagec()
        .arg("dockerfile")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1);
    assert_eq!(
        std::fs::read_to_string(&out).expect("still there"),
        "# Generated by stagec from app.kdl.\nFROM alpine:3\n"
    );
}

#[test]
fn dockerfile_refuses_to_overwrite_hand_written_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("Dockerfile");
    std::fs::write(&out, "FROM alpine:3\n").expect("write");
    stagec()
        .args(["dockerfile", GO_WEB, "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    assert_eq!(std::fs::read_to_string(&out).expect("kept"), "FROM alpine:3\n");
    stagec()
        .args(["dockerfile", GO_WEB, "--force", "-o"])
        .arg(&out)
        .assert()
        .success();
}

#[test]
fn dockerfile_check_detects_stale_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("Dockerfile");
    stagec().args(["dockerfile", GO_WEB, "-o"]).arg(&out).assert().success();
    stagec()
        .args(["dockerfile", GO_WEB, "--check"])
        .arg(&out)
        .assert()
        .success();

    let stale = std::fs::read_to_string(&out)
        .expect("read")
        .replace("alpine:3", "alpine:2");
    std::fs::write(&out, stale).expect("write");
    stagec()
        .args(["dockerfile", GO_WEB, "--check"])
        .arg(&out)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("-FROM alpine:2 AS runtime"))
        .stdout(predicate::str::contains("+FROM alpine:3 AS runtime"))
        .stderr(predicate::str::contains("is stale"));
}

#[test]
fn dockerfile_is_deterministic() {
    let first = stagec().args(["dockerfile", GO_WEB]).output().expect("run");
    let second = stagec().args(["dockerfile", GO_WEB]).output().expect("run");
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn invalid_syntax_level_exits_two() {
    stagec()
        .args(["dockerfile", GO_WEB, "--dockerfile-syntax", "9.9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--dockerfile-syntax"));
}

#[test]
fn invalid_build_arg_exits_two() {
    stagec()
        .args(["dockerfile", GO_WEB, "--build-arg", "NOVALUE"])
        .assert()
        .code(2);
}

#[test]
fn explain_prints_code_text() {
    stagec()
        .args(["explain", "SC0101"])
        .assert()
        .success()
        .stdout(predicate::str::contains("SC0101"));
    stagec()
        .args(["explain", "unknown-stage"])
        .assert()
        .success()
        .stdout(predicate::str::contains("SC0101"));
    stagec()
        .args(["explain", "SC0100"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown diagnostic code"));
}

#[test]
fn deny_warnings_fails_on_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(
        dir.path(),
        "stage \"app\" from=\"alpine\" {\n    cmd \"sh\"\n}\nimage \"app\" tag=\"app:1.0\"\n",
    );
    stagec()
        .arg("check")
        .arg(&spec)
        .assert()
        .success()
        .stderr(predicate::str::contains("SC0704"));
    stagec().arg("check").arg(&spec).arg("--deny-warnings").assert().code(1);
}

#[test]
fn completions_and_man_page_generate() {
    stagec()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_stagec()"));
    stagec()
        .args(["completions", "zsh"])
        .assert()
        .success()
        .stdout(predicate::str::contains("#compdef stagec"));
    stagec()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH stagec"))
        .stdout(predicate::str::contains(".TH stagec-dockerfile"));
}

#[test]
fn closed_stdout_pipe_is_not_a_panic() {
    // Regression: writing to a closed pipe (`stagec man | head -1`) panicked.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("stagec"))
        .arg("man")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn stagec");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for stagec");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{:?} {stderr}", output.status);
}

/// Writes `files` (name, contents) into `dir`, creating parent directories.
fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (name, contents) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("file has a parent")).expect("create dirs");
        std::fs::write(path, contents).expect("write file");
    }
}

/// Stages that do not depend on each other, as separate blocks, and an output.
const INDEPENDENT_STAGES: [&str; 4] = [
    "stage \"gen\" from=\"scratch\" {\n    copy \"a.txt\" to=\"/out/a\"\n    artifact \"a\" path=\"/out/a\"\n}\n",
    "stage \"base\" from=\"scratch\" {\n    workdir \"/srv\"\n}\n",
    "stage \"runtime\" from=\"base\" {\n    copy artifact=\"a\" from=\"gen\" to=\"/srv/a\"\n    cmd \"/srv/a\"\n}\n",
    "image \"runtime\" tag=\"r:1\"\n",
];

#[test]
fn stage_order_does_not_change_dockerfile_or_llb() {
    let dir = tempfile::tempdir().expect("temp dir");
    let orders = [[0, 1, 2, 3], [1, 0, 2, 3], [2, 1, 0, 3]];
    let mut outputs = Vec::new();
    for (index, order) in orders.iter().enumerate() {
        let spec: String = order.iter().map(|&block| INDEPENDENT_STAGES[block]).collect();
        let project = dir.path().join(format!("p{index}"));
        write_files(&project, &[("app.kdl", &spec), ("a.txt", "a\n")]);

        stagec()
            .current_dir(&project)
            .args(["dockerfile", "app.kdl", "-o", "Dockerfile"])
            .assert()
            .success();
        let dockerfile = std::fs::read(project.join("Dockerfile")).expect("Dockerfile written");
        let ignore = std::fs::read(project.join("Dockerfile.dockerignore")).expect("ignore file written");
        // The binary definition embeds the spec text for error locations,
        // so compare the ops, which the JSON format lists one per line.
        let llb = stagec()
            .current_dir(&project)
            .args(["llb", "app.kdl", "--format", "json"])
            .output()
            .expect("run stagec llb");
        assert!(llb.status.success(), "{}", String::from_utf8_lossy(&llb.stderr));
        let dockerfile = String::from_utf8(dockerfile).expect("UTF-8 Dockerfile");
        let ignore = String::from_utf8(ignore).expect("UTF-8 ignore file");
        outputs.push((dockerfile, ignore, String::from_utf8(llb.stdout).expect("UTF-8 JSON")));
    }
    for output in &outputs[1..] {
        assert_eq!(output.0, outputs[0].0, "Dockerfile");
        assert_eq!(output.1, outputs[0].1, "ignore file");
        assert_eq!(output.2, outputs[0].2, "LLB definition");
    }
}

#[test]
fn header_regenerate_command_has_output_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The build args must be declared: unknown --build-arg names are errors.
    let spec = format!(
        "arg \"A\" default=\"0\"\narg \"Z\"\n{}",
        std::fs::read_to_string("specs/examples/multi-output/app.kdl").expect("read example")
    );
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("build")).expect("create dirs");
    std::fs::write(project.join("app.kdl"), spec).expect("write spec");
    let context = std::fs::canonicalize("specs/examples/multi-output").expect("example directory");

    stagec()
        .current_dir(&project)
        .args(["dockerfile", "./app.kdl", "-o", "build/Custom.df", "--target", "worker"])
        .args([
            "--build-arg",
            "Z=last word",
            "--build-arg",
            "A=1",
            "--dockerfile-syntax",
            "1.4",
            "--context",
        ])
        .arg(&context)
        .assert()
        .success();
    let written = std::fs::read_to_string(project.join("build/Custom.df")).expect("written");
    let command = written
        .lines()
        .nth(2)
        .expect("a command line")
        .trim_start_matches("#   ")
        .to_string();
    let build_dir = std::fs::canonicalize(project.join("build")).expect("build dir");
    let context_from_build = pathdiff(&context, &build_dir);
    assert_eq!(
        command,
        format!(
            "stagec dockerfile ../app.kdl -o Custom.df --target worker --build-arg A=1 --build-arg 'Z=last word' \
             --dockerfile-syntax 1.4 --context {context_from_build}"
        )
    );
    assert!(written.contains("AS worker"), "{written}");

    // Following the header in the file's directory writes the same file.
    std::fs::remove_file(project.join("build/Custom.df")).expect("remove");
    let words = shell_words(&command);
    stagec()
        .current_dir(project.join("build"))
        .args(&words[1..])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(project.join("build/Custom.df")).expect("rewritten"),
        written
    );
}

/// Returns `path` relative to `base`, both absolute, with `..` steps.
fn pathdiff(path: &Path, base: &Path) -> String {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut parts = vec!["..".to_string(); base.len() - common];
    parts.extend(
        path[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Splits a command line whose only quoting is POSIX single quotes.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                }
                in_word = false;
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn check_accepts_any_spelling_of_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    let project = dir.path().join("project");
    let spec = std::fs::read_to_string(GO_WEB).expect("read example");
    write_files(&project, &[("app.kdl", &spec), ("go.mod", ""), ("main.go", "")]);
    stagec()
        .current_dir(&project)
        .args(["dockerfile", "app.kdl", "-o", "Dockerfile"])
        .assert()
        .success();

    let absolute_spec = project.join("app.kdl");
    let absolute_file = project.join("Dockerfile");
    stagec()
        .current_dir(&project)
        .args(["dockerfile", "./app.kdl", "--check", "./Dockerfile"])
        .assert()
        .success();
    stagec()
        .current_dir(&project)
        .arg("dockerfile")
        .arg(&absolute_spec)
        .arg("--check")
        .arg(&absolute_file)
        .assert()
        .success();
    stagec()
        .current_dir(dir.path())
        .args(["dockerfile", "project/app.kdl", "--check", "project/Dockerfile"])
        .assert()
        .success();
    let written = std::fs::read_to_string(&absolute_file).expect("read");
    assert!(
        !written.contains(&dir.path().display().to_string()),
        "absolute path in {written}"
    );
}

#[test]
fn header_for_standard_input_has_no_command() {
    stagec()
        .args(["dockerfile", "-", "--context", "specs/examples/go-web"])
        .write_stdin(std::fs::read_to_string(GO_WEB).expect("read example"))
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "# Generated by stagec from standard input. Do not edit by hand.\n\n",
        ));
}

#[test]
fn check_missing_file_is_not_stale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("Dockerfile");
    stagec()
        .args(["dockerfile", GO_WEB, "--check"])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "does not exist; generate it with `stagec dockerfile",
        ))
        .stderr(predicate::str::contains("is stale").not());
}

#[test]
fn output_file_mode_follows_umask() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("Dockerfile");
    let binary = assert_cmd::cargo::cargo_bin("stagec");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 027 && exec \"$0\" dockerfile \"$1\" -o \"$2\"")
        .arg(&binary)
        .arg(GO_WEB)
        .arg(&out)
        .status()
        .expect("run stagec under sh");
    assert!(status.success());
    let mode = |path: &Path| std::fs::metadata(path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o640);
    assert_eq!(mode(&dir.path().join("Dockerfile.dockerignore")), 0o640);

    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o604)).expect("chmod");
    stagec().args(["dockerfile", GO_WEB, "-o"]).arg(&out).assert().success();
    assert_eq!(mode(&out), 0o604, "a replaced file keeps its mode");
}

#[test]
fn missing_context_directory_exits_three() {
    stagec()
        .args(["check", GO_WEB, "--context", "no/such/dir"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("build context `no/such/dir` not found"));
    stagec()
        .args(["check", GO_WEB, "--context", GO_WEB])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("is not a directory"));
}

#[test]
fn symlink_leaving_context_is_sc0303() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = "stage \"r\" from=\"alpine:3\" {\n    copy \"etclink/hostname\" \"hostlink\" to=\"/d/\"\n    cmd \"cat\" \"/d/hostname\"\n}\nimage \"r\" tag=\"r:1\"\n";
    let spec_path = write_spec(dir.path(), spec);
    std::os::unix::fs::symlink("/etc", dir.path().join("etclink")).expect("link");
    std::fs::write(dir.path().join("outside"), "x").expect("write");
    std::fs::create_dir(dir.path().join("ctx")).expect("create context");
    std::os::unix::fs::symlink("../outside", dir.path().join("ctx/hostlink")).expect("link");
    std::os::unix::fs::symlink("/etc", dir.path().join("ctx/etclink")).expect("link");
    stagec()
        .arg("check")
        .arg(&spec_path)
        .arg("--context")
        .arg(dir.path().join("ctx"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SC0303"))
        .stderr(predicate::str::contains("symbolic link `etclink`"))
        .stderr(predicate::str::contains("symbolic link `hostlink`"));
}

#[test]
fn arg_shadowed_by_env_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(
        dir.path(),
        "arg \"V\" default=\"arg-value\"\nstage \"r\" from=\"alpine:3\" {\n    env V=\"env-value\"\n    label \"l\"=\"${V}\"\n    cmd \"pwd\"\n}\nimage \"r\" tag=\"r:1\"\n",
    );
    stagec()
        .arg("dockerfile")
        .arg(&spec)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SC0601"))
        .stderr(predicate::str::contains("would read env var `V`, not build arg `V`"));
}

#[test]
fn run_text_starting_with_dash_is_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(
        dir.path(),
        "stage \"r\" from=\"alpine:3\" {\n    run \"-x\"\n    cmd \"pwd\"\n}\nimage \"r\" tag=\"r:1\"\n",
    );
    stagec()
        .arg("dockerfile")
        .arg(&spec)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SC0004"))
        .stderr(predicate::str::contains("reads as an option"));
}

#[test]
fn unknown_build_arg_is_an_error() {
    stagec()
        .args([
            "dockerfile",
            "specs/examples/go-static-scratch/app.kdl",
            "--build-arg",
            "VERSON=2.0.0",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SC0601"))
        .stderr(predicate::str::contains("VERSION"));
    stagec()
        .args([
            "llb",
            "specs/examples/go-static-scratch/app.kdl",
            "--format",
            "json",
            "--build-arg",
            "VERSON=2.0.0",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SC0601"));
}

/// Runs `stagec ARGS` against an engine socket that accepts connections but
/// never responds, sends SIGINT once stagec has connected, and returns the
/// exit code and stderr.
fn interrupt_while_connecting(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = write_spec(
        dir.path(),
        "stage \"app\" from=\"alpine:3\" {\n    cmd \"true\"\n}\nimage \"app\" tag=\"stagec-test/silent:1\"\n",
    );
    let socket = dir.path().join("silent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind a unix socket");

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stagec"))
        .args(args)
        .arg(&spec)
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts stagec");
    // Keep the connection open and silent until stagec ends.
    let (_connection, _) = listener.accept().expect("stagec connects");
    std::thread::sleep(std::time::Duration::from_millis(300));

    let started = std::time::Instant::now();
    let pid = i32::try_from(child.id()).expect("a pid fits in i32");
    // SAFETY: kill only sends a signal to the child process started above.
    let sent = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(sent, 0, "sending SIGINT to stagec");
    let output = child.wait_with_output().expect("stagec ends");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "stagec ended {:?} after SIGINT",
        started.elapsed()
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn build_ctrl_c_while_connecting() {
    let (code, stderr) = interrupt_while_connecting(&["build", "--network", "none", "--progress", "plain"]);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("stagec: build canceled"), "{stderr}");
}

#[test]
fn lock_ctrl_c_while_connecting() {
    let (code, stderr) = interrupt_while_connecting(&["lock"]);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("stagec: lock canceled"), "{stderr}");
}

#[test]
fn log_lines_without_colour_in_pipe() {
    let output = stagec()
        .args(["-v", "check", GO_WEB])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .output()
        .expect("runs stagec");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("INFO"), "the spec load is logged: {stderr:?}");
    assert!(!stderr.contains('\x1b'), "no escape codes on a pipe: {stderr:?}");
}

/// A directory the user cannot write to is named in the error, not the
/// random temporary file stagec tried to create there. Root passes every
/// permission check, so the command runs as `nobody` through setpriv.
#[test]
fn unwritable_output_dir_named_not_temp_file() {
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    let has_setpriv = std::process::Command::new("setpriv").arg("--version").output().is_ok();
    if !is_root || !has_setpriv {
        eprintln!("unwritable_output_dir_named_not_temp_file: skipped, needs root and setpriv");
        return;
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("app.kdl");
    std::fs::write(
        &spec,
        "stage \"web\" from=\"alpine:3\" {\n    cmd \"true\"\n}\n\nimage \"web\" tag=\"web:1\"\n",
    )
    .expect("spec");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o555)).expect("chmod");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");

    let output = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("stagec"))
        .arg("dockerfile")
        .arg(&spec)
        .arg("-o")
        .arg(locked.join("Dockerfile"))
        .output()
        .expect("run stagec as nobody");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot create a file in"), "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(!stderr.contains(".stagec-"), "{stderr}");
}
