//! `--message-format json` on every command that compiles a spec: each
//! diagnostic is one JSON object on one line of stderr, in the layout that
//! docs/cli.md documents (schema version 1).

mod support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use support::engine::engine_or_skip;

/// An unknown stage in `copy from=`, on line 6. The `ü` before it makes
/// byte offsets and character columns differ.
const TYPO_SPEC: &str = r#"stage "builder" from="alpine:3" {
    run "mkdir -p /out && echo ü > /out/s"
    artifact "s" path="/out/s"
}
stage "runtime" from="alpine:3" {
    label "title"="ü" ; copy artifact="s" from="bulider" to="/s"
}
image "runtime" tag="s:1"
"#;

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("stagec binary")
}

/// Parses every line of `stderr`, failing on a line that is not JSON.
fn json_lines(command: &str, stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("{command}: stderr line is not JSON ({error}): {line}"))
        })
        .collect()
}

fn write_spec(dir: &Path, text: &str) {
    std::fs::write(dir.join("app.kdl"), text).expect("write app.kdl");
}

#[test]
fn json_on_every_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_spec(dir.path(), TYPO_SPEC);

    // The spec has errors, so no command reaches the engine: build and lock
    // fail the same way without one.
    for command in ["check", "dockerfile", "llb", "lock", "build", "graph"] {
        let output = stagec()
            .current_dir(dir.path())
            .env_remove("DOCKER_HOST")
            .args([command, "app.kdl", "--message-format", "json"])
            .output()
            .expect("running stagec");
        assert_eq!(output.status.code(), Some(1), "{command}: exit status");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines = json_lines(command, &stderr);
        assert_eq!(lines.len(), 1, "{command}: one diagnostic, got:\n{stderr}");

        let diagnostic = &lines[0];
        assert_eq!(diagnostic["schema"], 1, "{command}");
        assert_eq!(diagnostic["file"], "app.kdl", "{command}");
        assert_eq!(diagnostic["code"], "SC0101", "{command}");
        assert_eq!(diagnostic["slug"], "unknown-stage", "{command}");
        assert_eq!(diagnostic["severity"], "error", "{command}");
        assert_eq!(
            diagnostic["docs"], "docs/diagnostics.md#sc0101-unknown-stage",
            "{command}"
        );
        assert!(
            diagnostic["help"].as_str().is_some_and(|help| help.contains("builder")),
            "{command}"
        );
    }
}

#[test]
fn json_positions_count_characters() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_spec(dir.path(), TYPO_SPEC);
    let output = stagec()
        .current_dir(dir.path())
        .args(["check", "app.kdl", "--message-format", "json"])
        .output()
        .expect("running stagec");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let diagnostic = &json_lines("check", &stderr)[0];

    let line = TYPO_SPEC.lines().nth(5).expect("line 6");
    let column_in_bytes = line.find("\"bulider\"").expect("the typo") + 1;
    let column_in_chars = line[..column_in_bytes - 1].chars().count() + 1;
    assert_ne!(
        column_in_bytes, column_in_chars,
        "the test line needs a multi-byte character"
    );

    assert_eq!(diagnostic["line"], 6);
    assert_eq!(diagnostic["column"], column_in_chars);
    assert_eq!(diagnostic["end_line"], 6);
    assert_eq!(diagnostic["end_column"], column_in_chars + "\"bulider\"".len());

    let offset = TYPO_SPEC.find("\"bulider\"").expect("the typo");
    assert_eq!(diagnostic["offset"], offset);
    assert_eq!(diagnostic["end_offset"], offset + "\"bulider\"".len());

    let primary = &diagnostic["labels"][0];
    assert_eq!(primary["primary"], true);
    assert_eq!(primary["offset"], offset);
    assert_eq!(primary["line"], diagnostic["line"]);
    assert_eq!(primary["column"], diagnostic["column"]);
}

#[test]
fn json_warnings_do_not_fail() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_spec(
        dir.path(),
        "stage \"a\" from=\"alpine:3\" {\n    cmd \"true\"\n}\nstage \"unused\" from=\"alpine:3\" {\n    cmd \"true\"\n}\nimage \"a\" tag=\"a:1\"\n",
    );
    let output = stagec()
        .current_dir(dir.path())
        .args(["check", "app.kdl", "--message-format", "json"])
        .output()
        .expect("running stagec");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines = json_lines("check", &stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(lines[0]["severity"], "warning");
    assert_eq!(lines[0]["code"], "SC0203");
}

/// A failed `run` step: its log lines are in the diagnostic's `log` field,
/// not printed as lines of their own.
#[test]
fn json_build_step_failure_carries_log() {
    let Some(_engine) = engine_or_skip("json_build_step_failure_carries_log") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    write_spec(
        dir.path(),
        "stage \"a\" from=\"alpine:3\" {\n    run \"echo step-log-ü && exit 3\"\n    cmd \"true\"\n}\nimage \"a\" tag=\"stagec-json/failed:1\"\n",
    );
    let output = stagec()
        .current_dir(dir.path())
        .args(["build", "app.kdl", "--message-format", "json", "--progress", "quiet"])
        .args(["--network", "none", "--no-cache"])
        .output()
        .expect("running stagec");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);

    // Progress is quiet, but notices such as the lock file update are plain
    // text: readers take the lines that start with `{`.
    let objects: Vec<&str> = stderr.lines().filter(|line| line.starts_with('{')).collect();
    let diagnostics = json_lines("build", &objects.join("\n"));
    assert!(
        !stderr.lines().any(|line| line.starts_with("  | ")),
        "log lines printed outside the JSON:\n{stderr}"
    );

    let failed = diagnostics
        .iter()
        .find(|diagnostic| diagnostic["code"] == "SC0904")
        .unwrap_or_else(|| panic!("no SC0904 diagnostic:\n{stderr}"));
    assert_eq!(failed["line"], 2);
    assert_eq!(failed["column"], 5);
    let log: Vec<&str> = failed["log"]
        .as_array()
        .unwrap_or_else(|| panic!("no log field: {failed}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(log.iter().any(|line| line.contains("step-log-ü")), "{log:?}");
}
