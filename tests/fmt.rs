//! `stagec fmt`: idempotence and unchanged compilation over every spec in
//! the repository (as written and with its layout scrambled), comment
//! preservation, golden output, and the command line's file handling.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kdl::KdlDocument;

/// Lists every `.kdl` file under specs/ and tests/, sorted.
fn all_specs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut specs = Vec::new();
    let mut pending = vec![root.join("specs"), root.join("tests")];
    while let Some(directory) = pending.pop() {
        let entries =
            fs::read_dir(&directory).unwrap_or_else(|error| panic!("reading {}: {error}", directory.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "kdl") {
                specs.push(path);
            }
        }
    }
    specs.sort();
    assert!(specs.len() > 10, "found only {} specs", specs.len());
    specs
}

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("the stagec binary")
}

/// Returns the same spec with another layout: two-space indents, properties in
/// reverse order, and strings that can be bare written bare. Returns `None`
/// when the spec is not valid KDL.
fn scramble(source: &str) -> Option<String> {
    let (header, body) = match source.strip_prefix('#') {
        Some(_) => source.split_at(source.find('\n').map_or(source.len(), |end| end + 1)),
        None => ("", source),
    };
    let mut document = KdlDocument::parse_v2(body).ok()?;
    scramble_nodes(&mut document);
    let text = document.to_string();
    let reindented: Vec<String> = text
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start_matches(' ').len();
            format!("{}{}", " ".repeat(indent / 2 + indent % 2), &line[indent..])
        })
        .collect();
    let scrambled = format!("{header}{}\n", reindented.join("\n"));
    KdlDocument::parse_v2(scrambled.strip_prefix(header).unwrap_or(&scrambled)).ok()?;
    Some(scrambled)
}

fn scramble_nodes(document: &mut KdlDocument) {
    for node in document.nodes_mut() {
        let entries = node.entries_mut();
        let (arguments, mut properties): (Vec<_>, Vec<_>) = entries.drain(..).partition(|entry| entry.name().is_none());
        properties.reverse();
        entries.extend(arguments);
        entries.extend(properties);
        for entry in node.entries_mut() {
            let bare = entry
                .value()
                .as_string()
                .filter(|text| can_be_bare(text))
                .map(str::to_string);
            if let (Some(bare), Some(format)) = (bare, entry.format_mut()) {
                if format.value_repr.starts_with('"') && !format.value_repr.starts_with("\"\"\"") {
                    format.value_repr = bare;
                }
            }
        }
        if let Some(children) = node.children_mut() {
            scramble_nodes(children);
        }
    }
}

/// Returns whether KDL v2 reads `text` as the same string without quotes, by a
/// rule stricter than KDL's own.
fn can_be_bare(text: &str) -> bool {
    let starts_with_letter = text.chars().next().is_some_and(|first| first.is_ascii_alphabetic());
    let keyword = matches!(text, "true" | "false" | "null" | "inf" | "nan");
    starts_with_letter && !keyword && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:@+".contains(c))
}

/// Compiles a spec and returns the exit code and standard output of `stagec
/// dockerfile`, `stagec llb --format json`, and the ops and metadata of
/// `stagec llb` (its source map contains the spec text, so it differs).
fn compiled(spec: &Path, source: &str) -> Vec<(Option<i32>, Vec<u8>)> {
    let directory = spec.parent().expect("a spec directory");
    let lock = PathBuf::from(format!("{}.lock", spec.display()));
    let mut results = Vec::new();
    for arguments in [
        vec!["dockerfile", "-"],
        vec!["llb", "-", "--format", "json", "--platform", "linux/amd64"],
        vec!["llb", "-", "--platform", "linux/amd64", "--force"],
    ] {
        let mut command = stagec();
        command.args(&arguments).arg("--context").arg(directory);
        if arguments[0] == "llb" && lock.is_file() {
            command.arg("--lock").arg(&lock);
        }
        let output = command.write_stdin(source).output().expect("run stagec");
        let stdout = if arguments.len() == 5 && output.status.success() {
            let mut definition: stagec::llb::pb::Definition =
                prost::Message::decode(output.stdout.as_slice()).expect("stdout is a pb.Definition");
            definition.source = None;
            prost::Message::encode_to_vec(&definition)
        } else {
            output.stdout
        };
        results.push((output.status.code(), stdout));
    }
    results
}

fn format_text(source: &str) -> Result<String, stagec::fmt::FormatError> {
    stagec::fmt::format(source)
}

#[test]
fn every_spec_formats_idempotently() {
    let mut formatted_count = 0;
    for spec in all_specs() {
        let source = fs::read_to_string(&spec).expect("read spec");
        let Ok(formatted) = format_text(&source) else {
            assert!(
                KdlDocument::parse_v2(&source).is_err(),
                "{} parses but does not format",
                spec.display()
            );
            continue;
        };
        formatted_count += 1;
        let again = format_text(&formatted).expect("formatted spec formats");
        assert_eq!(again, formatted, "{} changes when formatted twice", spec.display());
    }
    assert!(formatted_count > 10, "only {formatted_count} specs formatted");
}

#[test]
fn examples_are_formatted() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs");
    for spec in all_specs().into_iter().filter(|spec| spec.starts_with(&examples)) {
        let source = fs::read_to_string(&spec).expect("read spec");
        if let Ok(formatted) = format_text(&source) {
            assert_eq!(
                formatted,
                source,
                "{} is not in the canonical layout; run stagec fmt",
                spec.display()
            );
        }
    }
}

#[test]
fn scrambled_specs_format_back_and_compile_alike() {
    let mut compared = 0;
    let mut built = 0;
    for spec in all_specs() {
        let source = fs::read_to_string(&spec).expect("read spec");
        let Some(scrambled) = scramble(&source) else {
            continue;
        };
        let formatted = format_text(&scrambled).unwrap_or_else(|error| {
            panic!(
                "{}: scrambled spec does not format: {error:?}\n{scrambled}",
                spec.display()
            )
        });
        assert_eq!(
            format_text(&formatted).expect("formats again"),
            formatted,
            "{}",
            spec.display()
        );
        let before = compiled(&spec, &scrambled);
        assert_eq!(
            before,
            compiled(&spec, &formatted),
            "{}: the formatted spec compiles differently",
            spec.display()
        );
        compared += 1;
        if before.iter().all(|(code, _)| *code == Some(0)) {
            built += 1;
        }
    }
    assert!(compared > 10, "only {compared} specs compared");
    // Specs that fail alike prove little; the examples must build.
    assert!(
        built >= 5,
        "only {built} scrambled specs compiled to a Dockerfile and LLB"
    );
}

const MESSY: &str = r#"# syntax=example/stagec:1
// header comment


/* block */ stage builder /-"gone" from=golang:1.19 { // after brace
  // inner
  workdir "/src"; copy to="/src/" "go.mod" "main.go" // trailing
      run "go build -o /out/app ." network=none {
            env CGO_ENABLED="0" A="1"
            cache "/root/.cache" sharing="locked" id="go"
      }
  /- user "bob"
  run """
      set -eu
      echo "}" hi
      """
    artifact "app" kind="executable" \ // why the linkage
        path="/out/app" linkage="static"
  /* end */
} // after stage
/-stage "b" {
  x
}



stage "runtime" from="alpine:3" {
    copy artifact="app" from="builder" to="/app" mode=0o755
    cmd "/app"
}
stage "empty" from=scratch {
}
image "runtime" default=#true tag="app:1.0" /* tail */
check empty
// final
"#;

#[test]
fn messy_spec_golden() {
    let formatted = format_text(MESSY).expect("formats");
    insta::assert_snapshot!("messy", formatted);
}

#[test]
fn messy_spec_keeps_every_comment() {
    let formatted = format_text(MESSY).expect("formats");
    for comment in [
        "// header comment",
        "/* block */",
        "/-\"gone\"",
        "// after brace",
        "// inner",
        "// trailing",
        "/- user \"bob\"",
        "// why the linkage",
        "/* end */",
        "// after stage",
        "/-stage \"b\" {\n  x\n}",
        "/* tail */",
        "// final",
    ] {
        assert!(formatted.contains(comment), "lost {comment:?}:\n{formatted}");
    }
    assert!(formatted.starts_with("# syntax=example/stagec:1\n"), "{formatted}");
}

#[test]
fn messy_spec_compiles_alike() {
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs/examples/go-web/app.kdl");
    let formatted = format_text(MESSY).expect("formats");
    assert_eq!(compiled(&spec, MESSY), compiled(&spec, &formatted));
}

#[test]
fn property_order_canonical() {
    let formatted =
        format_text("stage \"a\" libc=\"musl\" from=\"alpine:3\" {\n    env B=\"1\" A=\"2\"\n}\n").expect("formats");
    assert_eq!(
        formatted,
        "stage \"a\" from=\"alpine:3\" libc=\"musl\" {\n    env B=\"1\" A=\"2\"\n}\n"
    );
}

#[test]
fn repeated_property_keeps_last_value() {
    let formatted = format_text("copy to=\"/b\" \"x\" from=\"s\" to=\"/a\"\n").expect("formats");
    assert_eq!(formatted, "copy \"x\" from=\"s\" to=\"/b\" to=\"/a\"\n");
}

#[test]
fn blank_line_runs_collapse() {
    let formatted = format_text("\n\narg \"A\"\n\n\n\narg \"B\"\narg \"C\"\n\n").expect("formats");
    assert_eq!(formatted, "arg \"A\"\n\narg \"B\"\narg \"C\"\n");
}

#[test]
fn empty_spec_stays_empty() {
    assert_eq!(format_text("").expect("formats"), "");
    assert_eq!(format_text("\n\n").expect("formats"), "");
    assert_eq!(
        format_text("// only a comment\n").expect("formats"),
        "// only a comment\n"
    );
}

#[test]
fn syntax_error_is_a_diagnostic() {
    match format_text("stage \"a\" {\n") {
        Err(stagec::fmt::FormatError::Syntax(errors)) => assert!(!errors.is_empty()),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn cli_rewrites_only_changed_files() {
    let directory = tempfile::tempdir().expect("temp dir");
    let messy = directory.path().join("messy.kdl");
    let clean = directory.path().join("clean.kdl");
    fs::write(&messy, "arg  A default=x\n").expect("write");
    fs::write(&clean, "arg \"A\"\n").expect("write");
    let clean_modified = fs::metadata(&clean)
        .and_then(|metadata| metadata.modified())
        .expect("mtime");
    std::thread::sleep(std::time::Duration::from_millis(20));

    stagec()
        .arg("fmt")
        .arg(&messy)
        .arg(&clean)
        .assert()
        .success()
        .stdout("");
    assert_eq!(fs::read_to_string(&messy).expect("read"), "arg \"A\" default=\"x\"\n");
    let clean_after = fs::metadata(&clean)
        .and_then(|metadata| metadata.modified())
        .expect("mtime");
    assert_eq!(clean_after, clean_modified, "an unchanged file was written");
}

#[test]
fn cli_check_prints_diff_and_writes_nothing() {
    let directory = tempfile::tempdir().expect("temp dir");
    let spec = directory.path().join("app.kdl");
    fs::write(&spec, "arg  A\n").expect("write");

    let output = stagec().args(["fmt", "--check"]).arg(&spec).output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("-arg  A\n+arg \"A\"\n"), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not formatted"));
    assert_eq!(fs::read_to_string(&spec).expect("read"), "arg  A\n");

    fs::write(&spec, "arg \"A\"\n").expect("write");
    stagec()
        .args(["fmt", "--check"])
        .arg(&spec)
        .assert()
        .success()
        .stdout("");
}

#[test]
fn cli_diff_exits_zero() {
    let directory = tempfile::tempdir().expect("temp dir");
    let spec = directory.path().join("app.kdl");
    fs::write(&spec, "arg  A\n").expect("write");
    let output = stagec().args(["fmt", "--diff"]).arg(&spec).output().expect("run");
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("+arg \"A\""));
    assert_eq!(fs::read_to_string(&spec).expect("read"), "arg  A\n");
}

#[test]
fn cli_stdin_to_stdout() {
    stagec()
        .args(["fmt", "-"])
        .write_stdin("arg  A\n")
        .assert()
        .success()
        .stdout("arg \"A\"\n");
}

#[test]
fn cli_syntax_error_leaves_file() {
    let directory = tempfile::tempdir().expect("temp dir");
    let spec = directory.path().join("app.kdl");
    fs::write(&spec, "stage \"a\" {\n  run true\n").expect("write");
    let output = stagec()
        .args(["fmt", "--color", "never"])
        .arg(&spec)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("SC0001"));
    assert_eq!(fs::read_to_string(&spec).expect("read"), "stage \"a\" {\n  run true\n");
}

#[test]
fn cli_missing_file_is_io_error() {
    let output = stagec().args(["fmt", "/nonexistent/app.kdl"]).output().expect("run");
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read spec"));
}

#[test]
fn cli_symlink_target_rewritten() {
    let directory = tempfile::tempdir().expect("temp dir");
    let spec = directory.path().join("app.kdl");
    let link = directory.path().join("link.kdl");
    fs::write(&spec, "arg  A\n").expect("write");
    std::os::unix::fs::symlink(&spec, &link).expect("symlink");

    stagec().arg("fmt").arg(&link).assert().success();
    assert!(
        fs::symlink_metadata(&link).expect("stat link").file_type().is_symlink(),
        "the link was replaced"
    );
    assert_eq!(fs::read_to_string(&spec).expect("read"), "arg \"A\"\n");
}

#[test]
fn cli_read_only_file_left_alone() {
    use std::os::unix::fs::PermissionsExt;

    let directory = tempfile::tempdir().expect("temp dir");
    let spec = directory.path().join("app.kdl");
    fs::write(&spec, "arg  A\n").expect("write");
    fs::set_permissions(&spec, fs::Permissions::from_mode(0o444)).expect("chmod");

    let output = stagec().arg("fmt").arg(&spec).output().expect("run");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is read-only"), "{stderr}");
    assert_eq!(fs::read_to_string(&spec).expect("read"), "arg  A\n");
    let mode = fs::metadata(&spec).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o444);

    stagec().args(["fmt", "--check"]).arg(&spec).assert().code(1);
}

#[test]
fn cli_check_stdin_messages() {
    let output = stagec()
        .args(["fmt", "--check", "-"])
        .write_stdin("arg  A\n")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the spec on standard input is not formatted"),
        "{stderr}"
    );
    assert!(!stderr.contains("stagec fmt <stdin>"), "{stderr}");

    let output = stagec()
        .args(["fmt", "-"])
        .write_stdin(vec![0xff_u8, 0xfe])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the spec on standard input is not valid UTF-8"),
        "{stderr}"
    );
}
