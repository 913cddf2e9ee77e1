use std::collections::BTreeMap;

use super::args::DockerfileArgs;
use super::files::{diff_against, ensure_replaceable, ignore_path, write_atomic};
use super::{Failure, compile_loaded, load_spec, report, write_stdout};
use crate::dockerfile::{DockerfileOptions, SyntaxLevel};
use crate::lower::LowerOptions;

pub fn run(args: &DockerfileArgs, color: bool) -> Result<(), Failure> {
    let syntax = match &args.dockerfile_syntax {
        Some(text) => text.parse::<SyntaxLevel>().map_err(|error| Failure::usage(format!("--dockerfile-syntax: {error}")))?,
        None => SyntaxLevel::DEFAULT,
    };
    let build_args = parse_build_args(&args.build_args)?;

    let spec = load_spec(&args.spec)?;
    let mut compilation = compile_loaded(&spec);
    let emitted = match (&compilation.spec, compilation.has_errors()) {
        (Some(model), false) => {
            let lower_options = LowerOptions { target: args.target.clone(), build_args };
            let result = crate::lower::lower(model, &compilation.graph, &lower_options).and_then(|graph| {
                let options = DockerfileOptions { syntax, spec_path: spec.display_name.clone() };
                crate::dockerfile::emit(&graph, &options)
            });
            match result {
                Ok(emitted) => Some(emitted),
                Err(diagnostics) => {
                    compilation.diagnostics.extend(diagnostics);
                    compilation.diagnostics.sort();
                    None
                }
            }
        }
        _ => None,
    };

    if report(&compilation.diagnostics, &spec, &args.spec, color) {
        return Err(Failure::reported());
    }
    // Without errors, lowering and emission always produce output.
    let Some(emitted) = emitted else { return Err(Failure::reported()) };

    if let Some(path) = &args.check {
        let mut stale = false;
        for (file, expected) in [(path.clone(), &emitted.dockerfile), (ignore_path(path), &emitted.dockerignore)] {
            if let Some(diff) = diff_against(&file, expected)? {
                write_stdout(diff.as_bytes())?;
                stale = true;
            }
        }
        if stale {
            eprintln!(
                "error: `{}` is stale; regenerate it with `stagec dockerfile {} -o {}`",
                path.display(),
                spec.display_name,
                path.display()
            );
            return Err(Failure::reported());
        }
        return Ok(());
    }

    match &args.output {
        Some(path) => {
            let ignore = ignore_path(path);
            ensure_replaceable(path, args.force)?;
            ensure_replaceable(&ignore, args.force)?;
            write_atomic(path, &emitted.dockerfile)?;
            write_atomic(&ignore, &emitted.dockerignore)?;
        }
        None => write_stdout(emitted.dockerfile.as_bytes())?,
    }
    Ok(())
}

fn parse_build_args(values: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    let mut args = BTreeMap::new();
    for value in values {
        let Some((name, text)) = value.split_once('=') else {
            return Err(Failure::usage(format!("--build-arg `{value}` must be NAME=VALUE")));
        };
        if !crate::model::interpolate::is_arg_name(name) {
            return Err(Failure::usage(format!(
                "--build-arg `{value}`: `{name}` is not a valid arg name (letters, digits and _, not starting with a digit)"
            )));
        }
        args.insert(name.to_string(), text.to_string());
    }
    Ok(args)
}
