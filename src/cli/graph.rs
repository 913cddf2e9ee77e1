//! `stagec graph`: draws a checked spec as DOT, Mermaid or SVG.

use super::args::{GraphArgs, GraphFormat};
use super::files::write_atomic;
use super::{Failure, compile_loaded, load_spec, parse_build_args, report, write_stdout};
use crate::graph::GraphOptions;
use crate::lower::LowerOptions;

pub fn run(args: &GraphArgs, color: bool) -> Result<(), Failure> {
    let build_args = parse_build_args(&args.build_args)?;
    let spec = load_spec(&args.spec)?;
    let mut compilation = compile_loaded(&spec, &build_args);

    // Lowering reports an unknown or ambiguous --target the way `stagec
    // dockerfile` and `stagec llb` do.
    if let (Some(model), false, Some(target)) = (&compilation.spec, compilation.has_errors(), &args.target) {
        let options = LowerOptions {
            target: Some(target.clone()),
            build_args: build_args.clone(),
        };
        if let Err(diagnostics) = crate::lower::lower(model, &compilation.graph, &options) {
            compilation.diagnostics.extend(diagnostics);
            compilation.diagnostics.sort();
        }
    }
    if report(&compilation.diagnostics, &spec, &args.spec, color) {
        return Err(Failure::reported());
    }
    let Some(model) = &compilation.spec else {
        return Err(Failure::reported());
    };

    let options = GraphOptions {
        target: args.target.clone(),
        build_args,
    };
    let graph = crate::graph::build(model, &compilation.graph, &options);
    let text = match args.format {
        GraphFormat::Dot => crate::graph::dot::write(&graph),
        GraphFormat::Mermaid => crate::graph::mermaid::write(&graph),
        GraphFormat::Svg => crate::graph::svg::write(&graph).map_err(|message| Failure {
            code: super::EXIT_FAILURE,
            message: Some(message),
        })?,
    };

    match &args.output {
        Some(path) => write_atomic(path, &text),
        None => write_stdout(text.as_bytes()),
    }
}
