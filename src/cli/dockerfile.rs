use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::args::DockerfileArgs;
use super::files::{Comparison, compare_with, ensure_replaceable, ignore_path, write_atomic};
use super::{Failure, compile_loaded, load_spec, parse_build_args, report, write_stdout};
use crate::dockerfile::{DockerfileOptions, SyntaxLevel, regenerate_command};
use crate::lower::{BuildGraph, LowerOptions};

/// The header's name for a spec read from standard input.
const STDIN_SPEC_NAME: &str = "standard input";

pub fn run(args: &DockerfileArgs, color: bool) -> Result<(), Failure> {
    let syntax = match &args.dockerfile_syntax {
        Some(text) => text
            .parse::<SyntaxLevel>()
            .map_err(|error| Failure::usage(format!("--dockerfile-syntax: {error}")))?,
        None => SyntaxLevel::DEFAULT,
    };
    let build_args = parse_build_args(&args.build_args)?;

    let spec = load_spec(&args.spec)?;
    let mut compilation = compile_loaded(&spec, &build_args);
    // The file the header describes: the output, the file to check, or a
    // `Dockerfile` in the current directory for standard output.
    let target_file = args
        .output
        .as_deref()
        .or(args.check.as_deref())
        .unwrap_or(Path::new("Dockerfile"));
    let mut rerun_here = String::new();
    let emitted = match (&compilation.spec, compilation.has_errors()) {
        (Some(model), false) => {
            let lower_options = LowerOptions {
                target: args.target.clone(),
                build_args: build_args.clone(),
            };
            let result = crate::lower::lower(model, &compilation.graph, &lower_options).and_then(|graph| {
                let header = Header::new(args, target_file, &graph, syntax, &build_args);
                rerun_here = header.rerun_here;
                let options = DockerfileOptions {
                    syntax,
                    spec_path: header.spec_name,
                };
                crate::dockerfile::emit_with_command(&graph, &options, header.command.as_deref())
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
    let Some(emitted) = emitted else {
        return Err(Failure::reported());
    };

    if let Some(path) = &args.check {
        return check_files(path, &emitted, &rerun_here);
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

/// Compares the Dockerfile at `path` and its ignore file with the generated
/// ones. Prints a diff for each stale file, and fails when a file is stale
/// or missing. `regenerate` is the command that writes them, run in the
/// current directory.
fn check_files(path: &Path, emitted: &crate::dockerfile::Emitted, regenerate: &str) -> Result<(), Failure> {
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for (file, expected) in [
        (path.to_path_buf(), &emitted.dockerfile),
        (ignore_path(path), &emitted.dockerignore),
    ] {
        match compare_with(&file, expected)? {
            Comparison::Same => {}
            Comparison::Missing => missing.push(file),
            Comparison::Differs(diff) => {
                write_stdout(diff.as_bytes())?;
                stale.push(file);
            }
        }
    }

    for file in &missing {
        eprintln!(
            "error: `{}` does not exist; generate it with `{regenerate}`",
            file.display()
        );
    }
    for file in &stale {
        eprintln!(
            "error: `{}` is stale; regenerate it with `{regenerate}`",
            file.display()
        );
    }
    if missing.is_empty() && stale.is_empty() {
        Ok(())
    } else {
        Err(Failure::reported())
    }
}

/// The header's account of the Dockerfile's origin: the spec and the command that writes it.
struct Header {
    /// The spec path relative to the Dockerfile's directory, or "standard input".
    spec_name: String,
    /// The command that writes the file again, run in the Dockerfile's
    /// directory; `None` for a spec read from standard input.
    command: Option<String>,
    /// The same command with the paths as they were typed, for messages.
    rerun_here: String,
}

impl Header {
    /// Describes the Dockerfile at `file`. Paths are written relative to
    /// its directory, so the header does not depend on how SPEC, `-o` or
    /// `--check` were typed or on the directory stagec ran in.
    fn new(
        args: &DockerfileArgs,
        file: &Path,
        graph: &BuildGraph,
        syntax: SyntaxLevel,
        build_args: &BTreeMap<String, String>,
    ) -> Header {
        let mut flags = Vec::new();
        if args.target.is_some() {
            flags.push("--target".to_string());
            flags.push(graph.stage(graph.output).name.value.clone());
        }
        for (name, value) in build_args {
            flags.push("--build-arg".to_string());
            flags.push(format!("{name}={value}"));
        }
        // The default level writes the same file as no flag.
        if syntax != SyntaxLevel::DEFAULT {
            flags.push("--dockerfile-syntax".to_string());
            flags.push(syntax.to_string());
        }

        let typed = |path: &Path| path.to_string_lossy().into_owned();
        let mut typed_flags = flags.clone();
        if let Some(context) = &args.spec.context {
            typed_flags.extend(["--context".to_string(), typed(context)]);
        }
        let mut rerun_here = regenerate_command(&typed(&args.spec.spec), &typed(file), &typed_flags);
        if args.spec.spec == Path::new("-") {
            rerun_here.push_str(" < SPEC");
            return Header {
                spec_name: STDIN_SPEC_NAME.to_string(),
                command: None,
                rerun_here,
            };
        }

        let directory = file
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let spec_name = relative_path(&args.spec.spec, directory);
        if let Some(context) = &args.spec.context {
            flags.extend(["--context".to_string(), relative_path(context, directory)]);
        }
        let file_name = file
            .file_name()
            .map_or_else(|| "Dockerfile".into(), |name| name.to_string_lossy());
        let command = regenerate_command(&spec_name, &file_name, &flags);
        Header {
            spec_name,
            command: Some(command),
            rerun_here,
        }
    }
}

/// Writes `path` relative to `directory`, with `/` separators. Both are
/// made absolute first: through the filesystem when they exist, so that
/// symbolic links resolve the same way for every spelling, else lexically.
fn relative_path(path: &Path, directory: &Path) -> String {
    let path = absolute(path);
    let directory = absolute(directory);
    let path_parts: Vec<Component> = path.components().collect();
    let directory_parts: Vec<Component> = directory.components().collect();
    let common = path_parts
        .iter()
        .zip(&directory_parts)
        .take_while(|(a, b)| a == b)
        .count();

    let mut parts: Vec<String> = vec!["..".to_string(); directory_parts.len() - common];
    parts.extend(
        path_parts[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Makes `path` absolute and clean: canonical when it exists, else joined
/// onto the current directory with `.` and `..` applied lexically.
fn absolute(path: &Path) -> PathBuf {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical;
    }
    let joined = match std::env::current_dir() {
        Ok(current) => current.join(path),
        Err(_) => path.to_path_buf(),
    };
    let mut cleaned = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                cleaned.pop();
            }
            other => cleaned.push(other),
        }
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_path_table() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical temp dir");
        std::fs::create_dir_all(root.join("project/build")).expect("create dirs");
        std::fs::write(root.join("project/app.kdl"), "").expect("write spec");

        let spec = root.join("project/app.kdl");
        assert_eq!(relative_path(&spec, &root.join("project")), "app.kdl");
        assert_eq!(relative_path(&spec, &root.join("project/build")), "../app.kdl");
        assert_eq!(
            relative_path(&root.join("project/./build/../app.kdl"), &root.join("project")),
            "app.kdl"
        );
        // A directory that does not exist yet is cleaned lexically.
        assert_eq!(relative_path(&spec, &root.join("project/new/../out")), "../app.kdl");
        assert_eq!(relative_path(&root.join("project"), &root.join("project")), ".");
    }
}
