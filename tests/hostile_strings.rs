//! Hostile strings in every field that reaches a Dockerfile, an LLB
//! definition or an image. Each value of the table in hostile/table.rs is
//! placed in each field, alone, and compiled. It must either be rejected
//! with a diagnostic that points into the spec, or compile with both
//! backends. Then the accepted values of all fields are built on the real
//! engine with `stagec build` and with `docker build` of `stagec
//! dockerfile`, and each must land in both images byte for byte (file
//! content, env, label, argv, path), with no instruction or op injected.
//!
//! The builds are batched: one image holds every field that takes many
//! values, and one small image per value holds the fields that take one
//! (workdir, user, shell-form commands, stop signal, tag).

mod support;

#[path = "../fuzz/fuzz_targets/pipeline.rs"]
mod pipeline;

#[path = "hostile/fields.rs"]
mod fields;
#[path = "hostile/image.rs"]
mod image;
#[path = "hostile/table.rs"]
mod table;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use fields::{Accepted, Field};
use stagec::dockerfile::{DockerfileOptions, SyntaxLevel};
use stagec::lower::LowerOptions;
use support::engine::{Engine, engine_or_skip};
use table::Hostile;

/// Errors, as `CODE message`, of checking a spec and of each backend.
#[derive(Debug, Default)]
struct Outcome {
    check: Vec<String>,
    dockerfile: Vec<String>,
    llb: Vec<String>,
}

/// Returns the errors, after checking that each points into the spec.
fn errors(diagnostics: &stagec::diag::Diagnostics, source: &str) -> Vec<String> {
    let errors: Vec<&stagec::diag::Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    for error in &errors {
        let span = error.primary_span();
        assert!(
            !error.labels.is_empty() && span.end() <= source.len(),
            "{:?} `{}` has no label inside the spec",
            error.code,
            error.message
        );
    }
    errors.iter().map(|d| format!("{:?} {}", d.code, d.message)).collect()
}

/// Compiles `source` with both backends, without an engine.
fn classify(source: &str) -> Outcome {
    let compilation = stagec::compile::check(source);
    let mut outcome = Outcome {
        check: errors(&compilation.diagnostics, source),
        ..Outcome::default()
    };
    if !outcome.check.is_empty() {
        return outcome;
    }
    let spec = compilation.spec.as_ref().expect("a spec without errors");
    let graph = match stagec::lower::lower(spec, &compilation.graph, &LowerOptions::default()) {
        Ok(graph) => graph,
        Err(found) => {
            outcome.check = errors(&found, source);
            return outcome;
        }
    };

    let options = DockerfileOptions {
        syntax: SyntaxLevel::DEFAULT,
        spec_path: "app.kdl".to_string(),
    };
    if let Err(found) = stagec::dockerfile::emit(&graph, &options) {
        outcome.dockerfile = errors(&found, source);
    }
    let platforms = pipeline::amd64_platforms();
    let lock = pipeline::fake_lock(stagec::lock::spec_images_digest(spec), &graph, &platforms)
        .expect("base images of an accepted spec resolve");
    let llb_options = stagec::llb::lower::LlbOptions {
        platforms,
        default_network: stagec::llb::NetworkMode::None,
    };
    if let Err(found) = stagec::llb::lower::lower(&graph, &lock, &llb_options) {
        outcome.llb = errors(&found, source);
    }
    outcome
}

/// The values each backend accepted, per field.
struct Classified {
    llb: Accepted,
    dockerfile: Accepted,
}

/// Places every value in every field alone, and returns the accepted ones.
fn classify_all(values: &[Hostile]) -> Classified {
    let mut classified = Classified {
        llb: Accepted::default(),
        dockerfile: Accepted::default(),
    };
    let mut report = String::new();
    for field in Field::ALL {
        let mut rejected = Vec::new();
        for (index, hostile) in values.iter().enumerate() {
            let source = fields::single_value_spec(field, index, &hostile.value);
            let outcome = classify(&source);
            if outcome.check.is_empty() && outcome.llb.is_empty() {
                classified.llb.add(field, index);
            }
            if outcome.check.is_empty() && outcome.dockerfile.is_empty() {
                classified.dockerfile.add(field, index);
            }
            for (by, found) in [
                ("check", outcome.check),
                ("dockerfile", outcome.dockerfile),
                ("llb", outcome.llb),
            ] {
                if let Some(first) = found.first() {
                    rejected.push(format!(
                        "{} by {by}: {}",
                        hostile.name,
                        first.chars().take(120).collect::<String>()
                    ));
                }
            }
        }
        report.push_str(&format!("{field:?}: {} rejections\n", rejected.len()));
        for line in rejected {
            report.push_str(&format!("    {line}\n"));
        }
    }
    eprintln!("{report}");
    classified
}

#[test]
fn table_has_forty_values() {
    let values = table::table();
    assert!(values.len() >= 40, "{} values", values.len());
    let mut names: Vec<&str> = values.iter().map(|hostile| hostile.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), values.len(), "value names are unique");
}

/// The part that needs no engine: every value in every field is rejected
/// with a located diagnostic or compiles with both backends.
#[test]
fn values_rejected_or_compiled() {
    let values = table::table();
    let accepted = classify_all(&values).llb;
    // Each free-text field takes some of the values, or the test would
    // only prove that stagec rejects everything. Ports and signals have a
    // grammar that no hostile value meets.
    for field in Field::ALL
        .into_iter()
        .filter(|field| !matches!(field, Field::Expose | Field::StopSignal))
    {
        assert!(
            !accepted.indexes(field).is_empty(),
            "{field:?} accepts none of the values"
        );
    }
}

/// BuildKit trims the include patterns that select context files, so the
/// LLB backend could not send a file named " ".
#[test]
fn llb_rejects_edge_whitespace_path() {
    let source = "stage \"a\" from=\"alpine:3\" {\n    copy \" \" to=\"/x\"\n}\nimage \"a\" tag=\"a:1\"\n";
    let outcome = classify(source);
    assert!(outcome.check.is_empty(), "{:?}", outcome.check);
    assert!(
        outcome.llb.iter().any(|error| error.contains("whitespace")),
        "{:?}",
        outcome.llb
    );
}

/// Linux rejects an argument of 128 KiB or more when the step's process starts.
#[test]
fn llb_rejects_oversized_run_argument() {
    let long = "x".repeat(200_000);
    let source = format!("stage \"a\" from=\"alpine:3\" {{\n    run \"echo {long}\"\n}}\nimage \"a\" tag=\"a:1\"\n");
    let outcome = classify(&source);
    assert!(outcome.check.is_empty(), "{:?}", outcome.check);
    assert!(
        outcome.llb.iter().any(|error| error.contains("Linux's limit")),
        "{:?}",
        outcome.llb
    );
}

/// A NUL ends a path, argument or env entry early, so the check rejects it in any string.
#[test]
fn nul_is_rejected_in_every_field() {
    let values = table::table();
    let index = values
        .iter()
        .position(|hostile| hostile.name == "nul")
        .expect("the table has a NUL value");
    for field in Field::ALL.into_iter().filter(|field| *field != Field::FileContent) {
        let outcome = classify(&fields::single_value_spec(field, index, &values[index].value));
        assert!(!outcome.check.is_empty(), "{field:?} accepted a NUL character");
    }
}

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("the stagec binary")
}

/// Builds `stage` of the spec at `spec` with `stagec build`.
fn build_with_llb(spec: &Path, stage: &str, tag: &str) {
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
            tag,
        ])
        .arg(spec)
        .output()
        .expect("runs stagec");
    assert!(
        output.status.success(),
        "stagec build of {stage} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds `stage` of the spec at `spec` with `docker build` of `stagec dockerfile`.
fn build_with_dockerfile(engine: &Engine, spec: &Path, stage: &str, tag: &str) {
    let out = tempfile::tempdir().expect("temp dir");
    let dockerfile = out.path().join("Dockerfile");
    stagec()
        .args(["dockerfile", "--target", stage, "-o"])
        .arg(&dockerfile)
        .arg(spec)
        .assert()
        .success();
    engine.build(&dockerfile, spec.parent().expect("a directory"), tag, Some(stage));
}

#[test]
fn accepted_values_land_byte_for_byte() {
    let Some(engine) = engine_or_skip("accepted_values_land_byte_for_byte") else {
        return;
    };
    let values = table::table();
    let classified = classify_all(&values);

    let mut failures: Vec<String> = Vec::new();
    let mut sources = String::new();
    for (backend, accepted) in [
        ("stagec build", &classified.llb),
        ("docker build", &classified.dockerfile),
    ] {
        // Each backend builds the values it accepts: the Dockerfile backend
        // rejects some that LLB can carry, such as a 100 kB argument.
        let context = tempfile::tempdir().expect("temp dir");
        let spec = context.path().join("app.kdl");
        let batch = fields::batch_spec(accepted, &values);
        fs::write(&spec, &batch.source).expect("writes the spec");
        for (name, content) in &batch.context_files {
            fs::write(context.path().join(name), content).expect("writes a context file");
        }
        sources.push_str(&format!("{backend} spec:\n{}\n", batch.source));

        for stage in &batch.stages {
            // The process id keeps two test runs on one engine from reading
            // each other's images.
            let tag = format!(
                "stagec-hostile-{}/{stage}:{}",
                std::process::id(),
                backend.replace(' ', "-")
            );
            if backend == "stagec build" {
                build_with_llb(&spec, stage, &tag);
            } else {
                build_with_dockerfile(&engine, &spec, stage, &tag);
            }
            let config = image::config(&engine, &tag);
            let files = image::files(&engine, &tag);
            for problem in fields::verify(accepted, &values, stage, &config, &files) {
                failures.push(format!("{backend}, stage {stage}: {problem}"));
            }
            engine.run(["image", "rm", tag.as_str()]);
        }
    }
    assert!(
        failures.is_empty(),
        "{} values did not land as written:\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        sources.chars().take(20_000).collect::<String>()
    );
}
