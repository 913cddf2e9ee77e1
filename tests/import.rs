//! `stagec import`: the Dockerfile parser and converter through
//! `stagec::import::convert`, the corpus of real-world multi-stage
//! Dockerfiles, the round trip through `stagec dockerfile`, and the command
//! line (output file, stdin, warnings, errors).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use stagec::diag::Severity;
use stagec::dockerfile::{DockerfileOptions, SyntaxLevel};
use stagec::import::{ImportOutput, convert};
use stagec::lower::LowerOptions;

fn stagec() -> Command {
    let mut command = Command::cargo_bin("stagec").expect("stagec binary");
    command
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    command
}

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/import/corpus")
        .expect("corpus directory")
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "Dockerfile"))
        .collect();
    files.sort();
    files
}

/// Converts `dockerfile`, asserting it parses.
fn import(dockerfile: &str) -> ImportOutput {
    let output = convert(dockerfile);
    assert!(
        output.error.is_none(),
        "import failed: {:?}\n{dockerfile}",
        output.error
    );
    output
}

/// Returns the error messages that `stagec check` would print for `spec`
/// at the syntax level the import names: the model checks, and the
/// Dockerfile backend for each image output. Context inputs are not
/// checked, because the corpus has no sources.
fn check_errors(output: &ImportOutput) -> Vec<String> {
    let compilation = stagec::compile::check(&output.spec);
    let mut errors: Vec<String> = compilation
        .diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.severity == Severity::Error)
        .map(|diagnostic| format!("{:?}: {}", diagnostic.code, diagnostic.message))
        .collect();
    let Some(spec) = &compilation.spec else { return errors };
    if !errors.is_empty() {
        return errors;
    }

    let syntax = SyntaxLevel::new(output.syntax_level.unwrap_or(2)).expect("syntax level");
    for image in &spec.images {
        let options = LowerOptions {
            target: Some(image.stage.value.clone()),
            build_args: BTreeMap::new(),
        };
        let emitted = stagec::lower::lower(spec, &compilation.graph, &options).and_then(|graph| {
            let options = DockerfileOptions {
                syntax,
                spec_path: "app.kdl".to_string(),
            };
            stagec::dockerfile::emit(&graph, &options)
        });
        if let Err(diagnostics) = emitted {
            errors.extend(
                diagnostics
                    .iter()
                    .map(|diagnostic| format!("{:?}: {}", diagnostic.code, diagnostic.message)),
            );
        }
    }
    errors
}

/// Runs `stagec dockerfile` for `spec` and returns the Dockerfile without
/// its header comment, which names the spec file.
fn dockerfile_body(spec: &Path, context: &Path) -> String {
    let output = stagec()
        .arg("dockerfile")
        .arg(spec)
        .arg("--context")
        .arg(context)
        .output()
        .expect("run stagec dockerfile");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn corpus_converts_and_checks() {
    let files = corpus();
    assert!(
        files.len() >= 30,
        "the corpus has {} Dockerfiles, expected at least 30",
        files.len()
    );
    for language in ["go-", "rust-", "node-", "python-", "java-", "dotnet-", "c-"] {
        let count = files
            .iter()
            .filter(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with(language))
            })
            .count();
        assert!(
            count >= 3,
            "the corpus has {count} `{language}` Dockerfiles, expected at least 3"
        );
    }

    let mut warning_free = 0;
    for path in &files {
        let source = std::fs::read_to_string(path).expect("read corpus file");
        let output = import(&source);
        let errors = check_errors(&output);
        assert!(
            errors.is_empty(),
            "{}: the imported spec has errors: {errors:#?}\n{}",
            path.display(),
            output.spec
        );
        if output.warnings.is_empty() {
            warning_free += 1;
        }
    }
    println!(
        "{warning_free} of {} corpus Dockerfiles convert without warnings",
        files.len()
    );
    assert!(
        warning_free * 2 > files.len(),
        "only {warning_free} of {} convert without warnings",
        files.len()
    );
}

#[test]
fn corpus_prefixes_never_panic() {
    for path in corpus() {
        let source = std::fs::read_to_string(path).expect("read corpus file");
        for (index, _) in source.char_indices().step_by(7) {
            let _ = convert(&source[..index]);
            let _ = convert(&source[index..]);
        }
    }
}

#[test]
fn examples_round_trip_to_same_dockerfile() {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir("specs/examples").expect("examples") {
        let example = entry.expect("example").path();
        let spec = example.join("app.kdl");
        let original = dockerfile_body(&spec, &example);

        let output = stagec()
            .arg("dockerfile")
            .arg(&spec)
            .output()
            .expect("run stagec dockerfile");
        let imported = import(&String::from_utf8_lossy(&output.stdout));
        assert!(
            imported.warnings.is_empty(),
            "{}: {:?}",
            example.display(),
            imported.warnings
        );
        let reimported = dir
            .path()
            .join(format!("{}.kdl", example.file_name().unwrap().to_string_lossy()));
        std::fs::write(&reimported, &imported.spec).expect("write spec");

        assert_eq!(
            dockerfile_body(&reimported, &example),
            original,
            "{}: the imported spec compiles to another Dockerfile:\n{}",
            example.display(),
            imported.spec
        );
    }
}

/// Compiles `spec` and returns its Dockerfile at the lowest syntax level it
/// needs, or the error messages.
fn library_dockerfile(spec: &str) -> Result<String, String> {
    let messages = |diagnostics: &stagec::diag::Diagnostics| {
        format!(
            "{:?}",
            diagnostics
                .iter()
                .map(|diagnostic| &diagnostic.message)
                .collect::<Vec<_>>()
        )
    };
    let compilation = stagec::compile::check(spec);
    let model = compilation.spec.as_ref().filter(|_| !compilation.has_errors());
    let Some(model) = model else {
        return Err(messages(&compilation.diagnostics));
    };

    let graph = stagec::lower::lower(model, &compilation.graph, &LowerOptions::default())
        .map_err(|diagnostics| messages(&diagnostics))?;
    let syntax = stagec::dockerfile::minimum_syntax_level(&graph)
        .unwrap_or(SyntaxLevel::DEFAULT)
        .max(SyntaxLevel::DEFAULT);
    let options = DockerfileOptions {
        syntax,
        spec_path: "app.kdl".to_string(),
    };
    let emitted = stagec::dockerfile::emit(&graph, &options).map_err(|diagnostics| messages(&diagnostics))?;
    Ok(emitted.dockerfile)
}

fn without_comments(dockerfile: &str) -> String {
    dockerfile
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn focused_specs_round_trip_to_same_dockerfile() {
    let mut failures = Vec::new();
    let mut round_tripped = 0;
    for entry in std::fs::read_dir("tests/dockerfile").expect("focused specs") {
        let path = entry.expect("focused spec").path();
        if path.extension().is_none_or(|ext| ext != "kdl") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("read spec");
        // Specs that are meant to fail have nothing to round-trip.
        let Ok(original) = library_dockerfile(&source) else {
            continue;
        };

        round_tripped += 1;
        let imported = import(&original);
        match library_dockerfile(&imported.spec) {
            Ok(again) if without_comments(&again) == without_comments(&original) => {}
            Ok(again) => failures.push(format!(
                "{}: another Dockerfile:\n{again}\n---\n{original}",
                path.display()
            )),
            Err(errors) => failures.push(format!("{}: {errors}\n{}", path.display(), imported.spec)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(round_tripped >= 10, "only {round_tripped} focused specs compiled");
}

#[test]
fn continuation_comment_and_blank_lines() {
    let output = import("FROM alpine:3\nRUN echo a \\\n# a comment\n\n    && echo b\n");
    assert!(output.spec.contains(r#"run "echo a     && echo b""#), "{}", output.spec);
}

#[test]
fn escape_directive_backtick() {
    let output = import("# escape=`\nFROM alpine:3\nRUN echo a `\n  b\nWORKDIR C:\\dir\n");
    assert!(output.spec.contains(r#"run "echo a   b""#), "{}", output.spec);
}

#[test]
fn directive_after_comment_is_comment() {
    let output = import("# a comment\n# escape=`\nFROM alpine:3\nRUN echo a \\\n  b\n");
    assert!(output.spec.contains(r#"run "echo a   b""#), "{}", output.spec);
}

#[test]
fn heredoc_run_script_and_quoted_marker() {
    let output = import("FROM alpine:3\nRUN <<EOF\nset -e\necho \"$HOME\"\nEOF\nRUN cat <<'END' > /x\n$literal\nEND\n");
    assert!(
        output.spec.contains("        set -e\n        echo \"$HOME\"\n"),
        "{}",
        output.spec
    );
    assert!(
        output.spec.contains("cat <<'END' > /x\n        $literal\n        END"),
        "{}",
        output.spec
    );
}

#[test]
fn heredoc_dash_strips_tabs() {
    let output = import("FROM alpine:3\nRUN <<-EOF\n\techo hi\n\tEOF\nCMD [\"true\"]\n");
    assert!(output.spec.contains(r#"run "echo hi""#), "{}", output.spec);
}

#[test]
fn heredoc_copy_becomes_run() {
    let output = import("FROM alpine:3\nWORKDIR /etc\nCOPY <<EOF app.conf\nport=1\nEOF\n");
    assert!(
        output.spec.contains("cat > '/etc/app.conf' <<'STAGEC_EOF'"),
        "{}",
        output.spec
    );
    assert_eq!(output.warnings.len(), 1);
    assert_eq!(output.warnings[0].line, 3);
}

#[test]
fn exec_and_shell_forms() {
    let output = import("FROM alpine:3\nRUN [\"echo\", \"a\"]\nRUN [\"true\"]\nRUN [not json\nCMD echo $HOME\n");
    assert!(output.spec.contains(r#"run "echo" "a""#), "{}", output.spec);
    assert!(output.spec.contains(r#"run "true" exec=#true"#), "{}", output.spec);
    assert!(output.spec.contains(r#"run "[not json""#), "{}", output.spec);
    assert!(output.spec.contains(r#"cmd shell="echo $HOME""#), "{}", output.spec);
}

#[test]
fn global_args_and_from_variables() {
    let output = import("ARG BASE=alpine\nARG TAG=3\nFROM ${BASE}:$TAG AS app\nARG TAG\nLABEL tag=$TAG\n");
    assert!(
        output.spec.contains(r#"arg "BASE" default="alpine""#),
        "{}",
        output.spec
    );
    assert!(
        output.spec.contains(r#"stage "app" from="${BASE}:${TAG}""#),
        "{}",
        output.spec
    );
    assert!(output.spec.contains(r#"    arg "TAG""#), "{}", output.spec);
    assert!(output.spec.contains(r#"label "tag"="${TAG}""#), "{}", output.spec);
    assert!(check_errors(&output).is_empty(), "{:?}", check_errors(&output));
}

#[test]
fn from_variable_with_modifier_uses_default() {
    let output = import("FROM alpine:${TAG:-3}\n");
    assert!(output.spec.contains(r#"from="alpine:3""#), "{}", output.spec);
    assert_eq!(output.warnings.len(), 1);
}

#[test]
fn env_then_reference_is_env() {
    let output = import("FROM alpine:3\nENV DIR=/srv NAME=\"a b\"\nWORKDIR $DIR/app\nENV PATH=/x:$PATH\n");
    assert!(output.spec.contains(r#"env DIR="/srv" NAME="a b""#), "{}", output.spec);
    assert!(output.spec.contains(r#"workdir "${env:DIR}/app""#), "{}", output.spec);
    assert!(output.spec.contains(r#"env PATH="/x:${env:PATH}""#), "{}", output.spec);
}

#[test]
fn legacy_env_form() {
    let output = import("FROM alpine:3\nENV GREETING hello world\n");
    assert!(output.spec.contains(r#"env GREETING="hello world""#), "{}", output.spec);
}

#[test]
fn copy_from_declares_unique_artifacts() {
    let output = import(
        "FROM alpine:3 AS build\nRUN true\nFROM alpine:3\nCOPY --from=build /a/app /usr/bin/app\nCOPY --from=0 /b/app /opt/app\nCOPY --from=build /a/app /srv/app\n",
    );
    assert!(
        output.spec.contains(r#"artifact "app" path="/a/app""#),
        "{}",
        output.spec
    );
    assert!(
        output.spec.contains(r#"artifact "app-2" path="/b/app""#),
        "{}",
        output.spec
    );
    assert!(
        output
            .spec
            .contains(r#"copy artifact="app" from="build" to="/srv/app""#),
        "{}",
        output.spec
    );
    assert!(check_errors(&output).is_empty(), "{:?}", check_errors(&output));
}

#[test]
fn copy_from_image_gets_stage() {
    let output = import("FROM alpine:3\nCOPY --from=nginx:1.27 /etc/nginx/nginx.conf /etc/\n");
    assert!(
        output.spec.contains(r#"stage "nginx" from="nginx:1.27""#),
        "{}",
        output.spec
    );
    assert!(
        output
            .spec
            .contains(r#"copy artifact="nginx.conf" from="nginx" to="/etc/""#),
        "{}",
        output.spec
    );
}

#[test]
fn copy_flags_and_relative_destination() {
    let output = import(
        "FROM alpine:3\nWORKDIR /app\nCOPY --chown=1000:1000 --chmod=755 run.sh lib/ ./\nCOPY /etc/x.conf conf/\n",
    );
    assert!(
        output
            .spec
            .contains(r#"copy "run.sh" "lib/" to="/app/" owner="1000:1000" mode="0755""#),
        "{}",
        output.spec
    );
    assert!(
        output.spec.contains(r#"copy "etc/x.conf" to="/app/conf/""#),
        "{}",
        output.spec
    );
}

#[test]
fn mounts_and_network() {
    let output = import(
        "FROM golang:1.22 AS b\nWORKDIR /src\nRUN --network=none --mount=type=cache,target=/root/.cache,sharing=locked,id=go \\\n  --mount=type=secret,id=tok,required=false --mount=type=bind,target=. --mount=type=tmpfs,target=/tmp go build\n",
    );
    assert!(output.spec.contains(r#"network="none""#), "{}", output.spec);
    assert!(
        output.spec.contains(r#"cache "/root/.cache" id="go" sharing="locked""#),
        "{}",
        output.spec
    );
    assert!(
        output.spec.contains(r#"secret "tok" required=#false"#),
        "{}",
        output.spec
    );
    assert!(output.spec.contains(r#"bind "/src""#), "{}", output.spec);
    assert!(output.spec.contains(r#"tmpfs "/tmp""#), "{}", output.spec);
    assert!(output.spec.contains("secret \"tok\"\n"), "{}", output.spec);
    assert_eq!(output.syntax_level, Some(3));
}

#[test]
fn secret_and_ssh_mounts_default_to_not_required() {
    let output = import(
        "FROM alpine:3\nRUN --mount=type=secret,id=a --mount=type=secret,id=b,required --mount=type=ssh,required=true true\n",
    );
    assert!(output.spec.contains(r#"secret "a" required=#false"#), "{}", output.spec);
    assert!(output.spec.contains("secret \"b\"\n"), "{}", output.spec);
    assert!(output.spec.contains("        ssh\n"), "{}", output.spec);
}

#[test]
fn json_copy_items_process_escapes() {
    let output = import(
        r#"FROM alpine:3
COPY ["a \\$x.txt", "/d/\\$HOME/"]
VOLUME ["/v/\\$y"]
"#,
    );
    assert!(
        output.spec.contains(r#"copy "a $x.txt" to="/d/$HOME/""#),
        "{}",
        output.spec
    );
    assert!(output.spec.contains(r#"volume "/v/$y""#), "{}", output.spec);
}

#[test]
fn context_path_with_inner_dotdot_is_kept() {
    let output = import("FROM alpine:3\nCOPY src/sub/../lib/ [<]<x /d/\nCOPY ../up /d/\n");
    assert!(
        output.spec.contains(r#"copy "src/sub/../lib/" "<<x" to="/d/""#),
        "{}",
        output.spec
    );
    assert_eq!(output.warnings.len(), 1, "{:?}", output.warnings);
}

#[test]
fn bind_from_stage_declares_artifact() {
    let output = import(
        "FROM alpine:3 AS tools\nRUN true\nFROM alpine:3\nRUN --mount=type=bind,from=tools,source=/opt/bin,target=/t ls /t\n",
    );
    assert!(
        output.spec.contains(r#"bind "/t" from="tools" source="/opt/bin""#),
        "{}",
        output.spec
    );
    assert!(
        output.spec.contains(r#"artifact "bin" path="/opt/bin" kind="dir""#),
        "{}",
        output.spec
    );
    assert!(check_errors(&output).is_empty(), "{:?}", check_errors(&output));
}

#[test]
fn build_platform_with_target_args_cross_compiles() {
    let output =
        import("FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build\n");
    assert!(
        output.spec.contains(r#"platform="build" cross-compile=#true"#),
        "{}",
        output.spec
    );
}

#[test]
fn unsupported_kept_as_comments() {
    let output = import(
        "FROM alpine:3\nONBUILD RUN echo hi\nADD https://example.com/x.tgz /x\nMAINTAINER me\nCOPY --from=alpine:3 /bin/*.sh /x/\n",
    );
    let lines: Vec<usize> = output.warnings.iter().map(|warning| warning.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5]);
    assert!(
        output.spec.contains("// stagec import: line 2: ONBUILD"),
        "{}",
        output.spec
    );
    assert!(output.spec.contains("    // ONBUILD RUN echo hi"), "{}", output.spec);
    assert!(
        output.spec.contains("    // ADD https://example.com/x.tgz /x"),
        "{}",
        output.spec
    );
    assert!(check_errors(&output).is_empty(), "{:?}", check_errors(&output));
}

#[test]
fn stage_names_made_valid_and_unique() {
    let output = import(
        "FROM alpine:3 AS Build\nRUN true\nFROM build AS context\nRUN true\nFROM alpine:3\nCOPY --from=context /x /x\n",
    );
    assert!(
        output.spec.contains(r#"stage "build" from="alpine:3""#),
        "{}",
        output.spec
    );
    assert!(
        output.spec.contains(r#"stage "context-stage" from="build""#),
        "{}",
        output.spec
    );
    assert!(output.spec.contains(r#"from="context-stage""#), "{}", output.spec);
}

#[test]
fn syntax_error_unknown_instruction() {
    let output = convert("FROM alpine:3\n  RUNN echo\n");
    let error = output.error.expect("syntax error");
    assert_eq!((error.line, error.column), (2, 3));
    assert!(
        error.message.contains("unknown instruction `RUNN`"),
        "{}",
        error.message
    );
}

#[test]
fn syntax_error_unterminated_heredoc() {
    let error = convert("FROM alpine:3\nRUN <<EOF\necho\n").error.expect("syntax error");
    assert_eq!(error.line, 2);
    assert!(
        error.message.contains("heredoc `EOF` is not terminated"),
        "{}",
        error.message
    );
}

#[test]
fn syntax_error_instruction_before_from() {
    let error = convert("RUN echo\nFROM alpine:3\n").error.expect("syntax error");
    assert_eq!((error.line, error.column), (1, 1));
}

#[test]
fn syntax_error_unclosed_quote() {
    let error = convert("FROM alpine:3\nENV A=\"b\n").error.expect("syntax error");
    assert_eq!(error.line, 2);
    assert!(error.message.contains("double quote"), "{}", error.message);
}

#[test]
fn copy_from_index_beyond_stages_is_error() {
    let dockerfile = "FROM alpine:3 AS build\nRUN true\nFROM alpine:3\nCOPY --from=5 /out /out\n";
    let error = convert(dockerfile).error.expect("invalid stage index");
    assert_eq!((error.line, error.column), (4, 1));
    assert!(
        error.message.contains("`--from=5` names stage index 5"),
        "{}",
        error.message
    );
    assert!(error.message.contains("invalid stage index"), "{}", error.message);
    assert!(error.help.contains("earlier stage"), "{}", error.help);
}

#[test]
fn copy_from_negative_index_is_error() {
    let error = convert("FROM alpine:3\nCOPY --from=-1 /out /out\n")
        .error
        .expect("invalid stage index");
    assert_eq!(error.line, 2);
    assert!(error.message.contains("stage index -1"), "{}", error.message);
}

#[test]
fn copy_from_index_of_own_stage_is_error() {
    // Stage 1 is the stage being converted, which cannot copy from itself.
    let error = convert("FROM alpine:3\nFROM alpine:3\nCOPY --from=1 /out /out\n")
        .error
        .expect("copy from itself");
    assert_eq!(error.line, 3);
    assert!(
        error.message.contains("names the stage this COPY is in"),
        "{}",
        error.message
    );
}

#[test]
fn copy_from_earlier_index_still_converts() {
    let output = convert("FROM alpine:3 AS build\nRUN true\nFROM alpine:3\nCOPY --from=0 /out /out\n");
    assert!(output.error.is_none(), "{:?}", output.error);
    assert!(output.spec.contains("from=\"build\""), "{}", output.spec);
}

#[test]
fn cli_copy_from_index_beyond_stages_exits_one() {
    stagec()
        .args(["import", "-"])
        .write_stdin("FROM alpine:3\nCOPY --from=5 /out /out\n")
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "error: <stdin>:2:1: `--from=5` names stage index 5",
        ));
}

#[test]
fn syntax_error_no_from() {
    assert!(convert("# only a comment\n").error.is_some());
    assert!(convert("").error.is_some());
}

#[test]
fn cli_prints_spec_and_warnings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(&dockerfile, "FROM alpine:3\nONBUILD RUN true\nCMD [\"true\"]\n").expect("write");
    stagec()
        .arg("import")
        .arg(&dockerfile)
        .assert()
        .success()
        .stdout(predicate::str::contains("stage \"stage-0\" from=\"alpine:3\""))
        .stderr(predicate::str::contains("Dockerfile:2: ONBUILD"));
}

#[test]
fn cli_deny_warnings_fails() {
    stagec()
        .args(["import", "-", "--deny-warnings"])
        .write_stdin("FROM alpine:3\nONBUILD RUN true\n")
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("--deny-warnings"));
}

#[test]
fn cli_syntax_error_has_line_and_column() {
    stagec()
        .args(["import", "-"])
        .write_stdin("FROM alpine:3\nCOPPY a b\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: <stdin>:2:1: unknown instruction `COPPY`",
        ))
        .stderr(predicate::str::contains("help:"));
}

#[test]
fn cli_output_refuses_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("app.kdl");
    let input = "FROM alpine:3\nCMD [\"true\"]\n";
    stagec()
        .args(["import", "-", "-o"])
        .arg(&spec)
        .write_stdin(input)
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
    assert!(
        std::fs::read_to_string(&spec)
            .expect("spec written")
            .contains("image \"stage-0\"")
    );

    std::fs::write(&spec, "// mine\n").expect("write");
    stagec()
        .args(["import", "-", "-o"])
        .arg(&spec)
        .write_stdin(input)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    assert_eq!(std::fs::read_to_string(&spec).expect("read"), "// mine\n");

    stagec()
        .args(["import", "-", "--force", "-o"])
        .arg(&spec)
        .write_stdin(input)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&spec)
            .expect("read")
            .contains("stage \"stage-0\"")
    );
}

#[test]
fn cli_non_utf8_stdin_names_offset() {
    stagec()
        .args(["import", "-"])
        .write_stdin(&b"FROM alpine:3\nRUN echo \xfe\n"[..])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "the Dockerfile on standard input is not valid UTF-8 (invalid byte at offset 23)",
        ));
}

#[test]
fn cli_missing_file_is_io_error() {
    stagec()
        .args(["import", "no/such/Dockerfile"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot read `no/such/Dockerfile`"));
}

#[test]
fn random_token_sequences_never_panic() {
    let keywords = [
        "RUN ",
        "COPY ",
        "ADD ",
        "ENV ",
        "ARG ",
        "WORKDIR ",
        "HEALTHCHECK ",
        "CMD ",
        "USER ",
        "FROM ",
        "EXPOSE ",
        "VOLUME ",
        "LABEL ",
        "SHELL ",
        "ONBUILD ",
        "ENTRYPOINT ",
    ];
    let tokens = [
        "--from=",
        "--mount=type=",
        "cache,target=",
        "bind,from=a,source=",
        "--chmod=",
        "--platform=",
        "--link ",
        "<<EOF",
        "<<-'X'",
        "\nEOF",
        "\n\tX",
        "\\\n",
        "$",
        "${",
        "}",
        ":-",
        "\"",
        "'",
        "[",
        "]",
        "\"a\",",
        "=",
        " ",
        "\t",
        "#",
        "`",
        " AS ",
        "a",
        "/",
        ".",
        "..",
        ",",
        "0",
        "\u{202e}",
        "é",
        "scratch",
        "*",
        "NONE",
        "CMD ",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut converted = 0;
    for _ in 0..3000 {
        let mut source = "FROM alpine:3 AS a\n".to_string();
        for _ in 0..3 {
            source.push_str(keywords[next(keywords.len())]);
            source.push_str("a ");
            for _ in 0..3 {
                source.push_str(tokens[next(tokens.len())]);
            }
            source.push('\n');
        }
        let output = convert(&source);
        if output.error.is_some() {
            continue;
        }
        converted += 1;
        // Whatever converts must at least be KDL that stagec parses.
        let compilation = stagec::compile::check(&output.spec);
        let kdl_errors = compilation
            .diagnostics
            .iter()
            .filter(|diagnostic| format!("{:?}", diagnostic.code) == "KdlSyntax")
            .count();
        assert_eq!(kdl_errors, 0, "{source:?} gave invalid KDL:\n{}", output.spec);
    }
    assert!(
        converted > 100,
        "only {converted} of 3000 random Dockerfiles converted; the test exercises little"
    );
}

#[test]
fn tmpfs_size_with_unit() {
    let output = import("FROM alpine:3\nRUN --mount=type=tmpfs,target=/tmp,size=64m df /tmp\n");
    assert!(output.spec.contains(r#"tmpfs "/tmp" size=67108864"#), "{}", output.spec);
    assert!(output.warnings.is_empty(), "{:?}", output.warnings);
    assert_eq!(output.syntax_level, Some(4));

    let output = import("FROM alpine:3\nRUN --mount=type=tmpfs,target=/tmp,size=1.5GiB df /tmp\n");
    assert!(
        output.spec.contains(r#"tmpfs "/tmp" size=1610612736"#),
        "{}",
        output.spec
    );

    let output = import("FROM alpine:3\nRUN --mount=type=tmpfs,target=/tmp,size=lots df /tmp\n");
    assert!(output.spec.contains("tmpfs \"/tmp\"\n"), "{}", output.spec);
    assert_eq!(output.warnings.len(), 1, "{:?}", output.warnings);
    assert!(
        output.warnings[0].message.contains("size `lots`"),
        "{:?}",
        output.warnings
    );
}

#[test]
fn heredoc_copy_expands_unquoted_marker() {
    let output = import("FROM alpine:3\nARG VERSION=dev\nCOPY <<EOF /etc/version\nv=$VERSION\nEOF\n");
    assert!(
        output.spec.contains("cat > '/etc/version' <<STAGEC_EOF\n"),
        "{}",
        output.spec
    );
    assert_eq!(output.warnings.len(), 1, "{:?}", output.warnings);

    let output = import("FROM alpine:3\nARG VERSION=dev\nCOPY <<\"EOF\" /etc/version\nv=$VERSION\nEOF\n");
    assert!(
        output.spec.contains("cat > '/etc/version' <<'STAGEC_EOF'"),
        "{}",
        output.spec
    );

    let output = import("FROM alpine:3\nARG V=1\nCOPY <<EOF /etc/v\n$V `date`\nEOF\n");
    assert_eq!(output.warnings.len(), 2, "{:?}", output.warnings);
}

#[test]
fn label_legacy_form() {
    let output = import("FROM alpine:3\nLABEL maintainer Some Body <sb@example.com>\n");
    assert!(
        output
            .spec
            .contains(r#"label "maintainer"="Some Body <sb@example.com>""#),
        "{}",
        output.spec
    );
    assert!(output.warnings.is_empty(), "{:?}", output.warnings);
}
