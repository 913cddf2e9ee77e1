//! `stagec graph`: golden DOT and Mermaid output for every example and a
//! spec with every kind of edge, well-formed SVG that names every stage,
//! and diagnostics for bad specs.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("the stagec binary")
}

fn examples() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs/examples");
    let mut specs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("reading {}: {error}", root.display()))
        .map(|entry| entry.expect("a directory entry").path().join("app.kdl"))
        .filter(|path| path.is_file())
        .collect();
    specs.sort();
    assert!(!specs.is_empty(), "no examples under {}", root.display());
    specs
}

fn example_name(spec: &Path) -> String {
    spec.parent()
        .and_then(Path::file_name)
        .expect("an example directory")
        .to_string_lossy()
        .into_owned()
}

/// A spec with every kind of node and edge. It has an arg in `from=`,
/// context copies and a context bind, and two artifacts over one edge. It
/// also has a bind mount of another stage, a stage based on a stage, an
/// unreachable stage and a check.
const EVERY_EDGE: &str = r#"arg "GO" default="1.19"

stage "builder" from="golang:${GO}" {
    copy "go.mod" "main.go" to="/src/"
    run "go build -o /out/app ." {
        bind "/cfg" from="config" source="/etc/app"
    }
    artifact "app" path="/out/app" kind="executable" linkage="static"
    artifact "doc" path="/out/README"
}

stage "config" from="alpine:3" {
    copy "config" to="/etc/app/"
    artifact "cfg" path="/etc/app" kind="dir"
}

stage "runtime" from="alpine:3" {
    copy artifact="app" from="builder" to="/app"
    copy artifact="doc" from="builder" to="/README"
    copy artifact="cfg" from="config" to="/etc/app"
    cmd "/app"
}

stage "debug" from="builder" {
    cmd "sh"
}

stage "lint" from="golang:${GO}" {
    run "go vet ./..." {
        bind "/src" source="."
    }
}

image "runtime" tag="app:1.0"
check "lint"
"#;

/// Writes EVERY_EDGE and its context files into a new directory.
fn every_edge_spec() -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().expect("temp dir");
    fs::create_dir(directory.path().join("config")).expect("mkdir");
    for file in ["go.mod", "main.go", "config/app.conf"] {
        fs::write(directory.path().join(file), "").expect("write");
    }
    let spec = directory.path().join("app.kdl");
    fs::write(&spec, EVERY_EDGE).expect("write spec");
    (directory, spec)
}

fn graph(spec: &Path, format: &str, extra: &[&str]) -> String {
    let output = stagec()
        .args(["graph", "--format", format])
        .arg(spec)
        .args(extra)
        .output()
        .expect("run stagec graph");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn examples_dot_golden() {
    for spec in examples() {
        insta::assert_snapshot!(format!("dot_{}", example_name(&spec)), graph(&spec, "dot", &[]));
    }
}

#[test]
fn examples_mermaid_golden() {
    for spec in examples() {
        insta::assert_snapshot!(format!("mermaid_{}", example_name(&spec)), graph(&spec, "mermaid", &[]));
    }
}

#[test]
fn every_edge_dot_golden() {
    let (_directory, spec) = every_edge_spec();
    insta::assert_snapshot!("dot_every_edge", graph(&spec, "dot", &[]));
}

#[test]
fn every_edge_mermaid_golden() {
    let (_directory, spec) = every_edge_spec();
    insta::assert_snapshot!("mermaid_every_edge", graph(&spec, "mermaid", &[]));
}

#[test]
fn target_and_build_arg_dot_golden() {
    let (_directory, spec) = every_edge_spec();
    let dot = graph(&spec, "dot", &["--target", "debug", "--build-arg", "GO=1.20"]);
    insta::assert_snapshot!("dot_every_edge_target_debug", dot);
}

/// Parses the SVG and returns the text of every `<text>` element.
fn svg_texts(svg: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(svg).unwrap_or_else(|error| panic!("invalid SVG XML: {error}\n{svg}"));
    assert_eq!(document.root_element().tag_name().name(), "svg");
    document
        .descendants()
        .filter(|node| node.has_tag_name("tspan"))
        .filter_map(|node| node.text().map(str::to_string))
        .collect()
}

#[test]
fn svg_well_formed_with_every_stage() {
    let mut specs: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for spec in examples() {
        let source = fs::read_to_string(&spec).expect("read spec");
        let compilation = stagec::compile::check(&source);
        let model = compilation.spec.expect("example parses");
        let names = model.stages.iter().map(|stage| stage.name.value.clone()).collect();
        specs.push((spec, names));
    }
    let (_directory, every_edge) = every_edge_spec();
    let names = ["builder", "config", "runtime", "debug", "lint"]
        .map(str::to_string)
        .to_vec();
    specs.push((every_edge, names));

    for (spec, names) in specs {
        let svg = graph(&spec, "svg", &[]);
        let texts = svg_texts(&svg);
        for name in names {
            assert!(
                texts.contains(&name),
                "{}: no text {name:?} in {texts:?}",
                spec.display()
            );
        }
    }
}

#[test]
fn svg_written_to_file() {
    let (directory, spec) = every_edge_spec();
    let path = directory.path().join("graph.svg");
    stagec()
        .args(["graph", "--format", "svg", "-o"])
        .arg(&path)
        .arg(&spec)
        .assert()
        .success()
        .stdout("");
    let svg = fs::read_to_string(&path).expect("read SVG");
    assert!(svg_texts(&svg).contains(&"image".to_string()));
}

#[test]
fn output_is_deterministic() {
    let (_directory, spec) = every_edge_spec();
    for format in ["dot", "mermaid", "svg"] {
        assert_eq!(graph(&spec, format, &[]), graph(&spec, format, &[]), "{format}");
    }
}

#[test]
fn spec_error_gives_diagnostic() {
    let directory = tempfile::tempdir().expect("temp dir");
    let spec = directory.path().join("app.kdl");
    fs::write(&spec, "stage \"web\" from=\"alpine:3\" {\n    copy artifact=\"app\" from=\"bulid\" to=\"/app\"\n}\nimage \"web\" tag=\"web:1\"\n")
        .expect("write");
    let output = stagec()
        .args(["graph", "--color", "never"])
        .arg(&spec)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown stage"), "{stderr}");
}

#[test]
fn syntax_error_gives_diagnostic() {
    let directory = tempfile::tempdir().expect("temp dir");
    let spec = directory.path().join("app.kdl");
    fs::write(&spec, "stage \"web\" {\n").expect("write");
    let output = stagec()
        .args(["graph", "--format", "svg", "--color", "never"])
        .arg(&spec)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("SC0001"));
}

#[test]
fn unknown_target_gives_diagnostic() {
    let (_directory, spec) = every_edge_spec();
    let output = stagec()
        .args(["graph", "--target", "runtme", "--color", "never"])
        .arg(&spec)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("runtme"), "{stderr}");
}
