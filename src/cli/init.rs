//! `stagec init`: write a starter spec for the project in a directory.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::args::{InitArgs, StackArg};
use super::{EXIT_FAILURE, Failure, write_stdout};
use crate::init::{self, Stack};

pub fn run(args: &InitArgs) -> Result<(), Failure> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    if !dir.is_dir() {
        let problem = if dir.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(Failure::io(format!(
            "`{}` {problem}; pass the project directory (default: the current directory)",
            dir.display()
        )));
    }

    let starter = init::starter(&dir, args.stack.map(stack_of)).map_err(|error| match error {
        init::InitError::NoMarkers { .. } => Failure {
            code: EXIT_FAILURE,
            message: Some(format!(
                "{error}\nhelp: choose a template with --stack (one of: {})",
                stack_names()
            )),
        },
        init::InitError::Read { .. } => Failure::io(error.to_string()),
    })?;

    if args.print {
        return write_stdout(starter.spec.as_bytes());
    }

    let path = args.output.clone().unwrap_or_else(|| dir.join("app.kdl"));
    write_new(&path, &starter.spec, args.force)?;

    let mut stderr = std::io::stderr().lock();
    let chosen = if args.stack.is_some() {
        "chosen with --stack".to_string()
    } else {
        format!("found {}", starter.stack.markers())
    };
    let _ = writeln!(
        stderr,
        "wrote {} for a {} project ({chosen})",
        path.display(),
        starter.stack
    );
    if !starter.other_stacks.is_empty() {
        let others: Vec<&str> = starter.other_stacks.iter().map(|stack| stack.name()).collect();
        let _ = writeln!(
            stderr,
            "note: also found markers of: {}; pick one with --stack",
            others.join(", ")
        );
    }
    let _ = writeln!(stderr, "next: stagec check {0} && stagec build {0}", path.display());
    Ok(())
}

fn stack_of(arg: StackArg) -> Stack {
    match arg {
        StackArg::Go => Stack::Go,
        StackArg::Rust => Stack::Rust,
        StackArg::Node => Stack::Node,
        StackArg::Python => Stack::Python,
        StackArg::Java => Stack::Java,
        StackArg::Dotnet => Stack::Dotnet,
        StackArg::Make => Stack::Make,
        StackArg::Static => Stack::Static,
    }
}

fn stack_names() -> String {
    let names: Vec<&str> = Stack::ALL.iter().map(|stack| stack.name()).collect();
    names.join(", ")
}

/// Writes `contents` to `path` atomically. Without `force` an existing file
/// is never replaced, even one created while the spec was being written.
fn write_new(path: &Path, contents: &str, force: bool) -> Result<(), Failure> {
    if path.exists() && !force {
        // Exit code 2 like every other refusal to overwrite (`dockerfile -o`, `import -o`).
        return Err(Failure::usage(format!(
            "`{}` already exists; pass --force to replace it, -o PATH to write elsewhere, or --print",
            path.display()
        )));
    }

    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Failure::io(format!(
            "cannot write `{}`: the directory `{}` does not exist; create it first",
            path.display(),
            dir.display()
        )));
    }
    // The errors of `tempfile` name the temporary file, which the user never
    // sees, so only the kind of error is shown.
    let cannot_write = |error: &std::io::Error| {
        Failure::io(format!(
            "cannot write `{}`: {}; use -o PATH to write elsewhere, or --print",
            path.display(),
            std::io::Error::from(error.kind())
        ))
    };
    // A temporary file is created with mode 0600; the spec is an ordinary
    // project file, so it gets 0666 minus the umask as `touch` would give.
    let mut file = tempfile::Builder::new()
        .prefix(".stagec-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(&dir)
        .map_err(|error| cannot_write(&error))?;
    file.write_all(contents.as_bytes())
        .map_err(|error| cannot_write(&error))?;

    if force {
        file.persist(path).map_err(|error| cannot_write(&error.error))?;
    } else {
        file.persist_noclobber(path)
            .map_err(|error| cannot_write(&error.error))?;
    }
    Ok(())
}
