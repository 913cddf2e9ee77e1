//! `stagec import`: converts a Dockerfile into a spec and prints or writes it.

use std::io::Read;
use std::path::Path;

use super::args::ImportArgs;
use super::files::write_atomic;
use super::{EXIT_FAILURE, Failure, write_stdout};

pub fn run(args: &ImportArgs) -> Result<(), Failure> {
    let (name, source) = read_dockerfile(&args.dockerfile)?;
    let output = crate::import::convert(&source);

    if let Some(error) = &output.error {
        eprintln!("error: {name}:{}:{}: {}", error.line, error.column, error.message);
        eprintln!("  help: {}", error.help);
        return Err(Failure::reported());
    }
    for warning in &output.warnings {
        eprintln!("warning: {name}:{}: {}", warning.line, warning.message);
    }
    if let Some(minor) = output.syntax_level {
        eprintln!(
            "note: the spec uses features of Dockerfile syntax 1.{minor}; pass `--dockerfile-syntax 1.{minor}` to `stagec check` and `stagec dockerfile`"
        );
    }
    if args.deny_warnings && !output.warnings.is_empty() {
        eprintln!(
            "error: {} warning(s) and --deny-warnings; nothing was written",
            output.warnings.len()
        );
        return Err(Failure {
            code: EXIT_FAILURE,
            message: None,
        });
    }

    match &args.output {
        Some(path) => {
            if path.exists() && !args.force {
                return Err(Failure::usage(format!(
                    "`{}` exists; refusing to overwrite it (pass --force to replace it)",
                    path.display()
                )));
            }
            write_atomic(path, &output.spec)?;
            tracing::info!(output = %path.display(), "wrote spec");
            Ok(())
        }
        None => write_stdout(output.spec.as_bytes()),
    }
}

fn read_dockerfile(path: &Path) -> Result<(String, String), Failure> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|error| Failure::io(format!("cannot read the Dockerfile from standard input: {error}")))?;
        let source = String::from_utf8(bytes).map_err(|error| {
            Failure::io(format!(
                "the Dockerfile on standard input is not valid UTF-8 (invalid byte at offset {}); convert it to UTF-8 first",
                error.utf8_error().valid_up_to()
            ))
        })?;
        return Ok(("<stdin>".to_string(), source));
    }
    let bytes =
        std::fs::read(path).map_err(|error| Failure::io(format!("cannot read `{}`: {error}", path.display())))?;
    let source = String::from_utf8(bytes).map_err(|error| {
        Failure::io(format!(
            "`{}` is not valid UTF-8 (invalid byte at offset {})",
            path.display(),
            error.utf8_error().valid_up_to()
        ))
    })?;
    Ok((path.display().to_string(), source))
}
