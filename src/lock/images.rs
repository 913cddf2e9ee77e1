//! The base images a build needs, and the platform each stage runs on.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use super::reference::Reference;
use crate::diag::{Code, Diagnostic, Diagnostics, Span};
use crate::lower::{BuildGraph, Interpolated, StageBase};
use crate::model::interpolate::Part;
use crate::model::{Base, Platform, PlatformSpec, Spec};

/// The platforms of one build: what the image is for, and what the
/// machine that builds it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platforms {
    pub target: Platform,
    pub build: Platform,
}

/// A stage's base image, as one build resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    /// Index of the stage in the build graph.
    pub stage: usize,
    pub reference: Reference,
    /// The platform the stage runs on, which selects the image variant.
    pub platform: Platform,
    /// The `from=` value in the spec.
    pub span: Span,
}

/// Returns the platform each stage of `graph` runs on. A stage based on
/// another stage runs where that one runs. `platform="build"` and
/// `cross-compile=#true` run on the build platform, and a fixed platform is
/// used as written. Every other stage runs on the target platform.
pub fn stage_platforms(graph: &BuildGraph, platforms: &Platforms) -> Vec<Platform> {
    let mut resolved: Vec<Platform> = Vec::with_capacity(graph.stages.len());
    for stage in &graph.stages {
        let platform = match (&stage.base, stage.platform.as_ref().map(|platform| &platform.value)) {
            // Dependency order puts the base stage first.
            (StageBase::Stage(base), _) if *base < resolved.len() => resolved[*base].clone(),
            (_, Some(PlatformSpec::Fixed(platform))) => platform.clone(),
            (_, Some(PlatformSpec::Build)) => platforms.build.clone(),
            _ if stage.cross_compile => platforms.build.clone(),
            _ => platforms.target.clone(),
        };
        resolved.push(platform);
    }
    resolved
}

/// Returns the value of every global arg the graph uses, by name. An arg
/// without a value expands to the empty string, as in a Dockerfile.
pub fn global_arg_values(graph: &BuildGraph) -> BTreeMap<String, String> {
    graph
        .global_args
        .iter()
        .map(|arg| (arg.name.value.clone(), arg.value.clone().unwrap_or_default()))
        .collect()
}

/// Substitutes `${NAME}` parts with `values`; a name without a value expands to nothing.
/// So does `${env:NAME}`, which lowering rejects outside stage fields.
pub fn substitute(value: &Interpolated, values: &BTreeMap<String, String>) -> String {
    value
        .parts
        .iter()
        .map(|part| match part {
            Part::Literal(text) => text.as_str(),
            Part::Arg { name, .. } => values.get(name).map_or("", String::as_str),
            Part::Env { .. } => "",
        })
        .collect()
}

/// Returns the base image of every image-based stage of `graph`, or a
/// diagnostic for each reference that is not a valid image reference
/// once its build args are substituted.
pub fn base_images(graph: &BuildGraph, platforms: &Platforms) -> Result<Vec<BaseImage>, Diagnostics> {
    let stage_platforms = stage_platforms(graph, platforms);
    let values = global_arg_values(graph);
    let mut images = Vec::new();
    let mut diagnostics = Diagnostics::default();

    for (index, stage) in graph.stages.iter().enumerate() {
        let StageBase::Image(written) = &stage.base else {
            continue;
        };
        let text = substitute(written, &values);
        match Reference::parse_normalized(&text) {
            Ok(reference) => images.push(BaseImage {
                stage: index,
                reference,
                platform: stage_platforms[index].clone(),
                span: written.span,
            }),
            Err(reason) => diagnostics.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("invalid image reference `{text}`: {reason}"),
                )
                .label(written.span, "not a valid image reference")
                .help("write a reference such as `alpine:3.19`, `ghcr.io/org/app:1.0` or `alpine@sha256:...`"),
            ),
        }
    }

    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    Ok(images)
}

/// Returns a digest of the base images as the spec writes them: each
/// `from=` image reference with the stage's `platform=`, before build args
/// are substituted. A lock file records it, so that editing the base
/// images of the spec makes the lock stale.
pub fn spec_images_digest(spec: &Spec) -> String {
    let mut lines: Vec<String> = spec
        .stages
        .iter()
        .filter_map(|stage| {
            let Base::Image(reference) = &stage.base else {
                return None;
            };
            let platform = stage
                .platform
                .as_ref()
                .map(|platform| platform.value.to_string())
                .unwrap_or_default();
            let cross = if stage.cross_compile { " cross-compile" } else { "" };
            Some(format!("{}\t{platform}{cross}\n", reference.value))
        })
        .collect();
    lines.sort();
    lines.dedup();

    let mut hasher = Sha256::new();
    for line in lines {
        hasher.update(line.as_bytes());
    }
    format!("sha256:{:x}", hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{LowerOptions, lower};

    fn graph_of(source: &str, options: &LowerOptions) -> BuildGraph {
        let compilation = crate::compile::check(source);
        assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
        let spec = compilation.spec.expect("a spec");
        lower(&spec, &compilation.graph, options).expect("lowers")
    }

    fn platforms() -> Platforms {
        Platforms {
            target: Platform::parse("linux/arm64").expect("valid"),
            build: Platform::parse("linux/amd64").expect("valid"),
        }
    }

    const SPEC: &str = r#"
arg "GO" default="1.19"
stage "tools" from="golang:${GO}" platform="build" {
    run "go version" network="none"
    artifact "app" path="/app" kind="file"
}
stage "cross" from="golang:${GO}" cross-compile=#true {
    copy artifact="app" from="tools" to="/app"
    run "go version" network="none"
    artifact "bin" path="/bin/app" kind="executable" linkage="static"
}
stage "test" from="cross" {
    run "true" network="none"
}
stage "runtime" from="scratch" {
    copy artifact="bin" from="cross" to="/app"
    entrypoint "/app"
}
image "runtime" tag="app:1"
check "test"
"#;

    #[test]
    fn stage_platforms_follow_spec() {
        let graph = graph_of(SPEC, &LowerOptions::default());
        let platforms = stage_platforms(&graph, &platforms());
        let by_name: BTreeMap<&str, String> = graph
            .stages
            .iter()
            .zip(&platforms)
            .map(|(stage, platform)| (stage.name.as_str(), platform.to_string()))
            .collect();
        assert_eq!(by_name["tools"], "linux/amd64");
        assert_eq!(by_name["cross"], "linux/amd64");
        assert_eq!(by_name["test"], "linux/amd64", "a stage runs where its base stage runs");
        assert_eq!(by_name["runtime"], "linux/arm64");
    }

    #[test]
    fn base_images_substitute_args() {
        let options = LowerOptions {
            build_args: BTreeMap::from([("GO".to_string(), "1.20".to_string())]),
            ..LowerOptions::default()
        };
        let graph = graph_of(SPEC, &options);
        let images = base_images(&graph, &platforms()).expect("valid references");
        let references: Vec<String> = images.iter().map(|image| image.reference.to_string()).collect();
        assert_eq!(
            references,
            ["docker.io/library/golang:1.20", "docker.io/library/golang:1.20"]
        );
    }

    #[test]
    fn spec_images_digest_ignores_other_edits() {
        let digest = |source: &str| spec_images_digest(&crate::compile::check(source).spec.expect("a spec"));
        let edited = SPEC.replace("go version", "go env");
        assert_eq!(digest(SPEC), digest(&edited));
        let new_base = SPEC.replace("golang:${GO}\" platform", "golang:1.21\" platform");
        assert_ne!(digest(SPEC), digest(&new_base));
    }
}
