//! docs/diagnostics.md is generated from the code table and the explanation
//! files. This test fails when the committed page is out of date; run it
//! with `UPDATE_DOCS=1` to rewrite the page. It also compiles the examples
//! of every explanation, so that a failing example really reports its code
//! and a fixed example really fixes it.

use std::fs;

use stagec::compile;
use stagec::diag::codes::reference_markdown;
use stagec::diag::{Code, Diagnostics};
use stagec::dockerfile::{self, DockerfileOptions, SyntaxLevel};
use stagec::lower::{LowerOptions, lower};

const DOC_PATH: &str = "docs/diagnostics.md";

/// The Dockerfile backend reports these codes, not `compile::check`.
const BACKEND_CODES: &[Code] = &[Code::NeedsNewerSyntax, Code::UnrepresentableValue];

/// The lock check and the build engine report these codes. They need a
/// lock file or a running engine, so their examples are only compiled.
const ENGINE_CODES: &[Code] = &[
    Code::MissingLock,
    Code::StaleLock,
    Code::MissingArtifact,
    Code::BuildStepFailed,
    Code::UnsupportedByEngine,
];

#[test]
fn diagnostics_doc_is_up_to_date() {
    let generated = reference_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        fs::create_dir_all("docs").expect("create docs/");
        fs::write(DOC_PATH, &generated).expect("write docs/diagnostics.md");
        return;
    }

    let committed = fs::read_to_string(DOC_PATH).unwrap_or_default();
    assert!(
        committed == generated,
        "{DOC_PATH} is out of date; run `UPDATE_DOCS=1 cargo test --test docs_diagnostics` and commit the result"
    );
}

fn codes(diagnostics: &Diagnostics) -> Vec<Code> {
    diagnostics.iter().map(|diagnostic| diagnostic.code).collect()
}

/// Diagnostics for an example, as `stagec dockerfile` reports them: the
/// checks, the context check for SC0305 (against a context that contains
/// `main.go` and `go.mod`), and for the backend codes the Dockerfile
/// backend at its default syntax level.
fn diagnose(code: Code, source: &str) -> Diagnostics {
    let compilation = compile::check(source);
    let mut diagnostics = compilation.diagnostics;
    let Some(spec) = &compilation.spec else {
        return diagnostics;
    };

    if code == Code::MissingContextInput {
        let context = tempfile::tempdir().expect("temp dir");
        for name in ["main.go", "go.mod"] {
            fs::write(context.path().join(name), "").expect("write context file");
        }
        stagec::resolve::check_context_inputs(spec, context.path(), &mut diagnostics);
    }

    if BACKEND_CODES.contains(&code) && !diagnostics.has_errors() {
        let options = DockerfileOptions {
            syntax: SyntaxLevel::DEFAULT,
            spec_path: "app.kdl".to_string(),
        };
        let emitted = lower(spec, &compilation.graph, &LowerOptions::default())
            .and_then(|graph| dockerfile::emit(&graph, &options));
        if let Err(errors) = emitted {
            diagnostics.extend(errors);
        }
    }
    diagnostics
}

#[test]
fn failing_examples_report_their_code() {
    let mut failures = Vec::new();
    for &code in Code::ALL {
        let info = code.info();
        let example = info.failing_example().expect("every explanation has a failing example");
        let diagnostics = diagnose(code, example);
        let found = codes(&diagnostics);

        if ENGINE_CODES.contains(&code) {
            if diagnostics.has_errors() {
                failures.push(format!(
                    "{}: the example must pass `check`, but reports {found:?}",
                    info.code
                ));
            }
            continue;
        }
        if !found.contains(&code) || found.iter().any(|other| *other != code) {
            failures.push(format!(
                "{}: the failing example should report only {code}, but reports {found:?}",
                info.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixed_examples_are_clean() {
    let mut failures = Vec::new();
    for &code in Code::ALL {
        let info = code.info();
        let example = info.fixed_example().expect("every explanation has a fixed example");
        let diagnostics = diagnose(code, example);
        let found = codes(&diagnostics);
        if diagnostics.has_errors() || found.contains(&code) {
            failures.push(format!("{}: the fixed example still reports {found:?}", info.code));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The lock codes are reported by the CLI, not by `compile::check`. Without
/// a lock file, `stagec llb` reports SC0901 for the failing example before
/// it needs an engine. SC0902 needs a lock that `stagec lock` wrote from an
/// engine, so src/lock/check.rs tests it with lock files made in memory.
#[test]
fn missing_lock_example_reports_its_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let example = Code::MissingLock.info().failing_example().expect("a failing example");
    fs::write(dir.path().join("app.kdl"), example).expect("write app.kdl");

    let output = assert_cmd::Command::cargo_bin("stagec")
        .expect("stagec binary")
        .current_dir(dir.path())
        .env_remove("DOCKER_HOST")
        .args(["llb", "app.kdl", "--format", "json", "--message-format", "json"])
        .output()
        .expect("running stagec llb");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("\"code\":\"SC0901\""), "{stderr}");
}
