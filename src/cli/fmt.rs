//! `stagec fmt`: rewrites specs in the canonical layout, or with `--check`
//! and `--diff` shows what would change without writing.

use std::io::{Read, Write};
use std::path::Path;

use super::args::{FmtArgs, MessageFormat};
use super::files::write_atomic;
use super::{EXIT_FAILURE, EXIT_IO, Failure, terminal_width, write_stdout};
use crate::diag::Diagnostics;
use crate::diag::render::{RenderOptions, render_report};
use crate::fmt::FormatError;

/// The outcome of one file, from best to worst; the run exits with the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Unchanged,
    Changed,
    /// The file would change under `--check`, or could not be formatted.
    Failed,
    Io,
}

pub fn run(args: &FmtArgs, color: bool) -> Result<(), Failure> {
    let mut worst = Outcome::Unchanged;
    for path in &args.files {
        let outcome = format_file(path, args, color);
        worst = worst.max(outcome);
    }

    match worst {
        Outcome::Unchanged | Outcome::Changed => Ok(()),
        Outcome::Failed => Err(Failure {
            code: EXIT_FAILURE,
            message: None,
        }),
        Outcome::Io => Err(Failure {
            code: EXIT_IO,
            message: None,
        }),
    }
}

fn format_file(path: &Path, args: &FmtArgs, color: bool) -> Outcome {
    let from_stdin = path == Path::new("-");
    let name = if from_stdin {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let source = match read_source(path, from_stdin) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::Io;
        }
    };

    let formatted = match crate::fmt::format(&source) {
        Ok(formatted) => formatted,
        Err(FormatError::Syntax(errors)) => {
            print_diagnostics(errors, &name, &source, args.message_format, color);
            return Outcome::Failed;
        }
        Err(FormatError::Unsupported(reason)) => {
            eprintln!("error: cannot format `{name}`: {reason}; the file is unchanged");
            return Outcome::Failed;
        }
    };

    let changed = formatted != source;
    if args.check || args.diff {
        if changed {
            let diff = similar::TextDiff::from_lines(&source, &formatted)
                .unified_diff()
                .context_radius(3)
                .header(&name, &format!("{name} (formatted)"))
                .to_string();
            if write_stdout(diff.as_bytes()).is_err() {
                return Outcome::Io;
            }
        }
        return match (changed, args.check) {
            (true, true) => {
                if from_stdin {
                    eprintln!("error: the spec on standard input is not formatted; `stagec fmt -` prints it formatted");
                } else {
                    eprintln!("error: `{name}` is not formatted; run `stagec fmt {name}`");
                }
                Outcome::Failed
            }
            (true, false) => Outcome::Changed,
            (false, _) => Outcome::Unchanged,
        };
    }

    if from_stdin {
        return match write_stdout(formatted.as_bytes()) {
            Ok(()) => Outcome::Changed,
            Err(failure) => {
                eprintln!("error: {}", failure.message.unwrap_or_default());
                Outcome::Io
            }
        };
    }
    if !changed {
        tracing::info!(path = %name, "already formatted");
        return Outcome::Unchanged;
    }
    // Renaming over a symbolic link would replace the link with a file, so
    // the file it points to is written instead.
    let target = match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(target) => target,
            Err(error) => {
                eprintln!("error: cannot resolve the symbolic link `{name}`: {error}");
                return Outcome::Io;
            }
        },
        _ => path.to_path_buf(),
    };
    // Renaming a new file over a read-only one would succeed and drop the
    // protection, so such a file is reported instead of written.
    if std::fs::metadata(&target).is_ok_and(|metadata| metadata.permissions().readonly()) {
        eprintln!(
            "error: cannot write `{name}`: the file is read-only; make it writable (`chmod u+w {name}`) \
             to format it, or use `stagec fmt --diff {name}`"
        );
        return Outcome::Io;
    }
    match write_atomic(&target, &formatted) {
        Ok(()) => Outcome::Changed,
        Err(failure) => {
            eprintln!("error: {}", failure.message.unwrap_or_default());
            Outcome::Io
        }
    }
}

fn read_source(path: &Path, from_stdin: bool) -> Result<String, String> {
    let bytes = if from_stdin {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|error| format!("cannot read the spec from standard input: {error}"))?;
        bytes
    } else {
        std::fs::read(path).map_err(|error| format!("cannot read spec `{}`: {error}", path.display()))?
    };
    let name = if from_stdin {
        "on standard input".to_string()
    } else {
        format!("`{}`", path.display())
    };
    String::from_utf8(bytes).map_err(|error| {
        format!(
            "the spec {name} is not valid UTF-8 (invalid byte at offset {}); KDL files must be UTF-8",
            error.utf8_error().valid_up_to()
        )
    })
}

fn print_diagnostics(
    errors: Vec<crate::diag::Diagnostic>,
    name: &str,
    source: &str,
    format: MessageFormat,
    color: bool,
) {
    let mut diagnostics = Diagnostics::default();
    diagnostics.extend(errors);
    diagnostics.sort();
    let text = match format {
        MessageFormat::Human => {
            let options = RenderOptions {
                color,
                unicode: true,
                width: terminal_width(),
            };
            render_report(&diagnostics, name, source, &options, false)
        }
        MessageFormat::Json => crate::diag::json::render_lines(&diagnostics, name, source),
    };
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
