//! `stagec check`: reports every diagnostic that `stagec dockerfile` would,
//! without writing anything.

use std::collections::BTreeMap;

use super::args::CheckArgs;
use super::{Failure, compile_loaded, load_spec, report};
use crate::diag::Diagnostics;
use crate::dockerfile::{DockerfileOptions, SyntaxLevel};
use crate::lower::LowerOptions;
use crate::model::Spec;
use crate::resolve::graph::StageGraph;

pub fn run(args: &CheckArgs, color: bool) -> Result<(), Failure> {
    let syntax = match &args.dockerfile_syntax {
        Some(text) => text
            .parse::<SyntaxLevel>()
            .map_err(|error| Failure::usage(format!("--dockerfile-syntax: {error}")))?,
        None => SyntaxLevel::DEFAULT,
    };

    let spec = load_spec(&args.spec)?;
    let mut compilation = compile_loaded(&spec, &BTreeMap::new());
    if let (Some(model), false) = (&compilation.spec, compilation.has_errors()) {
        compilation.diagnostics.extend(backend_diagnostics(
            model,
            &compilation.graph,
            syntax,
            &spec.display_name,
        ));
        compilation.diagnostics.sort();
    }
    if report(&compilation.diagnostics, &spec, &args.spec, color) {
        return Err(Failure::reported());
    }
    Ok(())
}

/// Lowers the spec for each image output and emits its Dockerfile at
/// `syntax`, and returns what lowering and the backend report. `stagec
/// dockerfile` builds one output, chosen with `--target`, so this covers
/// every output it may be asked for. Build args keep their defaults.
fn backend_diagnostics(spec: &Spec, graph: &StageGraph, syntax: SyntaxLevel, spec_path: &str) -> Diagnostics {
    let mut targets: Vec<&str> = spec.images.iter().map(|image| image.stage.as_str()).collect();
    targets.sort_unstable();
    targets.dedup();

    let mut diagnostics = Diagnostics::default();
    for target in targets {
        let lower_options = LowerOptions {
            target: Some(target.to_string()),
            build_args: BTreeMap::new(),
        };
        let emitted = crate::lower::lower(spec, graph, &lower_options).and_then(|build| {
            let options = DockerfileOptions {
                syntax,
                spec_path: spec_path.to_string(),
            };
            crate::dockerfile::emit(&build, &options)
        });
        if let Err(errors) = emitted {
            diagnostics.extend(errors);
        }
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;

    fn backend_codes(source: &str, syntax: SyntaxLevel) -> Vec<Code> {
        let compilation = crate::compile::check(source);
        assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
        let spec = compilation.spec.as_ref().expect("valid KDL");
        backend_diagnostics(spec, &compilation.graph, syntax, "app.kdl")
            .iter()
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn check_reports_what_the_dockerfile_backend_rejects() {
        let source = r#"stage "r" from="alpine:3" {
                env A="line\nbreak"
                run "true" network="none"
                cmd "x"
            }
            image "r" tag="r:1""#;
        let mut codes = backend_codes(source, SyntaxLevel::DEFAULT);
        codes.sort();
        assert_eq!(codes, [Code::NeedsNewerSyntax, Code::UnrepresentableValue]);
    }

    #[test]
    fn check_covers_every_output_at_the_given_level() {
        let source = r#"stage "api" from="alpine:3" { cmd "api" }
            stage "worker" from="alpine:3" { run "true" network="none"; cmd "worker" }
            image "api" tag="api:1" default=#true
            image "worker" tag="worker:1""#;
        assert_eq!(backend_codes(source, SyntaxLevel::DEFAULT), [Code::NeedsNewerSyntax]);
        let newer: SyntaxLevel = "1.3".parse().expect("valid level");
        assert!(backend_codes(source, newer).is_empty());
    }
}
