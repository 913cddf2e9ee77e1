//! Golden tests of rendered diagnostics. Every `tests/diagnostics/CODE-slug.kdl`
//! spec must report its code; its rendering (no colour, Unicode, 100
//! columns) is compared with `tests/diagnostics/snapshots/CODE-slug.snap`.
//! Accept changed output with `INSTA_UPDATE=always cargo test --test diagnostics`,
//! then review the `.snap` diff.

use std::fs;
use std::path::{Path, PathBuf};

use stagec::compile;
use stagec::diag::render::{RenderOptions, render_all};
use stagec::diag::{Code, Diagnostics, json};

const SPEC_DIR: &str = "tests/diagnostics";

/// The build context for specs that read it (SC0305), relative to the
/// crate root so that the rendered path does not depend on the machine.
const CONTEXT_DIR: &str = "tests/diagnostics/context";

fn specs() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = fs::read_dir(SPEC_DIR)
        .expect("tests/diagnostics exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "kdl"))
        .collect();
    specs.sort();
    specs
}

/// Compiles a spec the way `stagec check` does. Only the SC0305 spec has a
/// build context to check its inputs against.
fn diagnose(path: &Path) -> (String, Diagnostics) {
    let source = fs::read_to_string(path).expect("readable spec");
    let compilation = compile::check(&source);
    let mut diagnostics = compilation.diagnostics;
    let reads_context = file_stem(path).starts_with(Code::MissingContextInput.as_str());
    if let (true, Some(spec)) = (reads_context, &compilation.spec) {
        stagec::resolve::check_context_inputs(spec, Path::new(CONTEXT_DIR), &mut diagnostics);
        diagnostics.sort();
    }
    (source, diagnostics)
}

fn file_stem(path: &Path) -> String {
    path.file_stem().expect("spec file name").to_string_lossy().into_owned()
}

fn render(path: &Path, source: &str, diagnostics: &Diagnostics) -> String {
    let name = format!("{}.kdl", file_stem(path));
    render_all(
        diagnostics,
        &name,
        source,
        &RenderOptions {
            color: false,
            unicode: true,
            width: 100,
        },
    )
}

#[test]
fn every_spec_reports_its_code() {
    let specs = specs();
    assert!(!specs.is_empty(), "no specs in {SPEC_DIR}");

    let mut failures = Vec::new();
    for path in &specs {
        let stem = file_stem(path);
        let (code_text, slug) = stem.split_once('-').expect("file name is CODE-slug");
        let code = Code::parse(code_text).unwrap_or_else(|| panic!("{stem}: unknown code {code_text}"));
        assert_eq!(
            code.info().slug,
            slug,
            "{stem}: the slug of {code_text} is {}",
            code.info().slug
        );

        let (_, diagnostics) = diagnose(path);
        let codes: Vec<Code> = diagnostics.iter().map(|diagnostic| diagnostic.code).collect();
        if !codes.contains(&code) || codes.iter().any(|other| *other != code) {
            failures.push(format!("{stem} should report only {code}, but reports {codes:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_checked_code_has_a_spec() {
    // The Dockerfile backend, the lock check and the build engine report
    // these, not `compile::check`.
    let backend_codes = [
        Code::NeedsNewerSyntax,
        Code::UnrepresentableValue,
        Code::MissingLock,
        Code::StaleLock,
        Code::MissingArtifact,
        Code::BuildStepFailed,
        Code::UnsupportedByEngine,
    ];
    let stems: Vec<String> = specs().iter().map(|path| file_stem(path)).collect();
    for code in Code::ALL.iter().filter(|code| !backend_codes.contains(code)) {
        let info = code.info();
        let stem = format!("{}-{}", info.code, info.slug);
        assert!(stems.contains(&stem), "missing {SPEC_DIR}/{stem}.kdl");
    }
}

#[test]
fn rendered_diagnostics_match_snapshots() {
    for path in specs() {
        let (source, diagnostics) = diagnose(&path);
        let rendered = render(&path, &source, &diagnostics);
        insta::with_settings!({
            snapshot_path => "diagnostics/snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(file_stem(&path), rendered);
        });
    }
}

#[test]
fn json_rendering_matches_snapshot() {
    let path = Path::new(SPEC_DIR).join("SC0101-unknown-stage.kdl");
    let (source, diagnostics) = diagnose(&path);
    let lines = json::render_lines(&diagnostics, "SC0101-unknown-stage.kdl", &source);
    let pretty: Vec<String> = lines
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            serde_json::to_string_pretty(&value).expect("JSON value serializes")
        })
        .collect();
    insta::with_settings!({
        snapshot_path => "diagnostics/snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("SC0101-unknown-stage.json", pretty.join("\n"));
    });
}
