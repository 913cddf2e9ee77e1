//! The pipeline steps that the fuzz targets run, shared with
//! tests/fuzz_regressions.rs so that a crash replays through the same code.
//! Each step panics only when stagec breaks one of its own promises: a
//! diagnostic span outside the source, an error without a diagnostic.

#![allow(dead_code)]

use stagec::compile::{self, Compilation};
use stagec::diag::render::{RenderOptions, render_report};
use stagec::dockerfile::{DockerfileOptions, Emitted, SyntaxLevel};
use stagec::llb::lower::{LlbBuild, LlbOptions};
use stagec::llb::{NetworkMode, SourceInfo};
use stagec::lock::{ImageConfig, LockFile, LockedImage, Platforms, base_images, spec_images_digest};
use stagec::lower::{BuildGraph, LowerOptions};
use stagec::model::Platform;

/// Checks `source` and renders its diagnostics as a terminal and as JSON
/// lines would show them.
pub fn check(source: &str) -> Compilation {
    let compilation = compile::check(source);
    assert_spans_inside(&compilation, source);

    let options = RenderOptions {
        color: false,
        unicode: true,
        width: 100,
    };
    let _ = render_report(&compilation.diagnostics, "app.kdl", source, &options, false);
    let _ = stagec::diag::json::render_lines(&compilation.diagnostics, "app.kdl", source);
    compilation
}

/// Every label must point at whole characters of the source, or rendering
/// would slice through one.
fn assert_spans_inside(compilation: &Compilation, source: &str) {
    for diagnostic in compilation.diagnostics.iter() {
        for label in &diagnostic.labels {
            let span = label.span;
            assert!(
                span.end() <= source.len()
                    && source.is_char_boundary(span.start)
                    && source.is_char_boundary(span.end()),
                "{:?} has span {span:?} outside the {}-byte source",
                diagnostic.code,
                source.len()
            );
        }
    }
}

/// Lowers a spec without errors to the backend-neutral graph; `None` when
/// the spec has errors or lowering reports some.
pub fn build_graph(source: &str) -> Option<BuildGraph> {
    let compilation = check(source);
    if compilation.has_errors() {
        return None;
    }
    let spec = compilation.spec.as_ref().expect("a spec without errors has a model");
    stagec::lower::lower(spec, &compilation.graph, &LowerOptions::default())
        .map_err(|errors| assert!(errors.has_errors(), "lowering failed without an error"))
        .ok()
}

/// Emits the Dockerfile at the default and the newest syntax level.
pub fn dockerfile(source: &str) -> Vec<Emitted> {
    let Some(graph) = build_graph(source) else {
        return Vec::new();
    };
    let mut emitted = Vec::new();
    for syntax in [SyntaxLevel::DEFAULT, SyntaxLevel::MAX] {
        let options = DockerfileOptions {
            syntax,
            spec_path: "app.kdl".to_string(),
        };
        match stagec::dockerfile::emit(&graph, &options) {
            Ok(files) => emitted.push(files),
            Err(errors) => assert!(errors.has_errors(), "emission failed without an error"),
        }
    }
    emitted
}

pub fn amd64_platforms() -> Platforms {
    let amd64 = Platform::parse("linux/amd64").expect("a valid platform");
    Platforms {
        target: amd64.clone(),
        build: amd64,
    }
}

/// A lock file that pins every base image of `graph` to an empty
/// configuration, so that lowering runs without an engine.
pub fn fake_lock(spec_images: String, graph: &BuildGraph, platforms: &Platforms) -> Option<LockFile> {
    let needed = base_images(graph, platforms).ok()?;
    let images = needed
        .iter()
        .map(|image| LockedImage {
            reference: image.reference.to_string(),
            platform: image.platform.to_string(),
            image_id: format!("sha256:{}", "0".repeat(64)),
            repo_digests: Vec::new(),
            image_platform: image.platform.to_string(),
            layers: 1,
            config: ImageConfig::default(),
        })
        .collect();
    Some(LockFile::new(spec_images, images))
}

/// Lowers `source` to LLB with a fake lock file, then marshals and dumps
/// the definition of the output and of every check stage.
pub fn llb(source: &str) -> Option<LlbBuild> {
    let compilation = check(source);
    if compilation.has_errors() {
        return None;
    }
    let spec = compilation.spec.as_ref()?;
    let graph = stagec::lower::lower(spec, &compilation.graph, &LowerOptions::default()).ok()?;
    let platforms = amd64_platforms();
    let lock = fake_lock(spec_images_digest(spec), &graph, &platforms)?;
    let options = LlbOptions {
        platforms,
        default_network: NetworkMode::None,
    };
    let build = match stagec::llb::lower::lower(&graph, &lock, &options) {
        Ok(build) => build,
        Err(errors) => {
            assert!(errors.has_errors(), "LLB lowering failed without an error");
            return None;
        }
    };

    let info = SourceInfo {
        filename: "app.kdl".to_string(),
        data: source,
        language: "KDL".to_string(),
    };
    let mut outputs = build.checks();
    outputs.push(build.output);
    for index in outputs {
        let marshalled = build.definition(index, Some(&info));
        let _ = marshalled.to_bytes();
        let _ = stagec::llb::json::dump(&marshalled.definition);
    }
    Some(build)
}

/// Converts Dockerfile text into a spec; a spec that comes out must be
/// KDL that stagec parses, whatever the checks then say about it.
pub fn import(dockerfile: &str) {
    let output = stagec::import::convert(dockerfile);
    if output.error.is_some() {
        assert!(output.spec.is_empty(), "a failed import returned a spec");
        return;
    }
    let compilation = check(&output.spec);
    assert!(
        compilation.spec.is_some(),
        "the imported spec is not valid KDL: {:?}\n{}",
        compilation.diagnostics,
        output.spec
    );
}
