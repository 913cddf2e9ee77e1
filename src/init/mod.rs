//! `stagec init`: a commented starter spec for the project in a directory,
//! chosen from the files that mark its stack (go.mod, Cargo.toml, ...).

mod ascii;
pub mod detect;
mod templates;

use std::path::Path;

pub use detect::{Project, Stack, detect};

/// A starter spec and how its stack was chosen.
#[derive(Debug, Clone)]
pub struct Starter {
    pub stack: Stack,
    /// Stacks whose markers exist too but lost on priority.
    pub other_stacks: Vec<Stack>,
    pub spec: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot read directory `{dir}`: {source}")]
    Read { dir: String, source: std::io::Error },
    #[error("no project found in `{dir}`: none of {markers} exists there")]
    NoMarkers { dir: String, markers: String },
}

/// Writes the starter spec for `dir`. With `stack`, that template is used
/// even when its markers are missing, with names from the directory.
pub fn starter(dir: &Path, stack: Option<Stack>) -> Result<Starter, InitError> {
    let project = detect(dir).map_err(|source| InitError::Read {
        dir: dir.display().to_string(),
        source,
    })?;

    let stack = match stack {
        Some(stack) => stack,
        None => *project.stacks.first().ok_or_else(|| InitError::NoMarkers {
            dir: dir.display().to_string(),
            markers: marker_list(),
        })?,
    };
    let other_stacks = project.stacks.iter().copied().filter(|other| *other != stack).collect();

    Ok(Starter {
        stack,
        other_stacks,
        spec: templates::render(stack, &project),
    })
}

/// Lists the marker files of every stack, for the error message.
pub fn marker_list() -> String {
    let markers: Vec<&str> = Stack::ALL.iter().map(|stack| stack.markers()).collect();
    markers.join(", ")
}

/// Quotes `text` as a KDL string literal, escaping what a quoted string cannot
/// hold as is.
pub fn kdl_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Severity;

    fn project_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    /// Every problem the compiler reports for a starter spec, errors and
    /// warnings alike: a starter spec should be clean.
    fn problems(spec: &str) -> Vec<String> {
        let compilation = crate::compile::check(spec);
        let mut problems: Vec<String> = compilation
            .diagnostics
            .iter()
            .map(|diagnostic| format!("{:?} {}: {}", diagnostic.severity, diagnostic.code, diagnostic.message))
            .collect();
        let Some(model) = &compilation.spec else {
            return problems;
        };
        if compilation.has_errors() {
            return problems;
        }

        // The starter must also compile to a Dockerfile at the default syntax
        // level and to LLB, not only pass the checks.
        let lowered = crate::lower::lower(model, &compilation.graph, &crate::lower::LowerOptions::default());
        match lowered {
            Ok(graph) => {
                let options = crate::dockerfile::DockerfileOptions {
                    syntax: crate::dockerfile::SyntaxLevel::DEFAULT,
                    spec_path: "app.kdl".to_string(),
                };
                if let Err(errors) = crate::dockerfile::emit(&graph, &options) {
                    problems.extend(
                        errors
                            .iter()
                            .filter(|d| d.severity == Severity::Error)
                            .map(|d| d.message.clone()),
                    );
                }
            }
            Err(errors) => problems.extend(errors.iter().map(|d| d.message.clone())),
        }
        problems
    }

    const CASES: &[(&str, &[(&str, &str)], Stack)] = &[
        (
            "go root main",
            &[
                ("go.mod", "module example.com/hello\n\ngo 1.19\n"),
                ("main.go", "package main\n"),
            ],
            Stack::Go,
        ),
        (
            "go cmd layout with go.sum",
            &[
                ("go.mod", "module github.com/acme/tool // x\ngo 1.22.1\n"),
                ("go.sum", ""),
                ("cmd/tool/main.go", "package main\n"),
            ],
            Stack::Go,
        ),
        ("go without module line", &[("go.mod", "")], Stack::Go),
        (
            "rust bin table",
            &[
                ("Cargo.toml", "[package]\nname = \"pkg\"\n[[bin]]\nname = \"my tool\"\n"),
                ("Cargo.lock", ""),
            ],
            Stack::Rust,
        ),
        ("rust bare", &[("Cargo.toml", "garbage [")], Stack::Rust),
        (
            "node scoped with build",
            &[
                (
                    "package.json",
                    "{\"name\":\"@acme/Web App\",\"main\":\"server \\\"x\\\".js\",\"scripts\":{\"build\":\"tsc\"}}",
                ),
                ("package-lock.json", "{}"),
            ],
            Stack::Node,
        ),
        ("node invalid json", &[("package.json", "{")], Stack::Node),
        (
            "python requirements",
            &[("requirements.txt", "flask\n"), ("app.py", "")],
            Stack::Python,
        ),
        (
            "python pyproject",
            &[("pyproject.toml", "[project]\nname='x'\n")],
            Stack::Python,
        ),
        (
            "java",
            &[("pom.xml", "<project><artifactId>shop</artifactId></project>")],
            Stack::Java,
        ),
        (
            "dotnet",
            &[("My Api.csproj", "<Project Sdk=\"Microsoft.NET.Sdk.Web\"/>")],
            Stack::Dotnet,
        ),
        ("make", &[("Makefile", "all:\n\tcc -o app main.c\n")], Stack::Make),
        ("static root", &[("index.html", "<h1>hi</h1>")], Stack::Static),
        ("static public", &[("public/index.html", "<h1>hi</h1>")], Stack::Static),
    ];

    #[test]
    fn starter_specs_are_clean() {
        for (name, files, stack) in CASES {
            let dir = project_dir(files);
            let starter = starter(dir.path(), None).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(starter.stack, *stack, "{name}: detected stack");
            assert_eq!(
                problems(&starter.spec),
                Vec::<String>::new(),
                "{name}:\n{}",
                starter.spec
            );
        }
    }

    #[test]
    fn every_stack_forced_on_empty_dir_is_clean() {
        let dir = project_dir(&[]);
        for stack in Stack::ALL {
            let starter = starter(dir.path(), Some(stack)).expect("forced stack");
            assert_eq!(
                problems(&starter.spec),
                Vec::<String>::new(),
                "{stack}:\n{}",
                starter.spec
            );
        }
    }

    #[test]
    fn empty_dir_lists_markers() {
        let dir = project_dir(&[]);
        let error = starter(dir.path(), None).expect_err("no markers");
        let message = error.to_string();
        assert!(message.contains("go.mod"), "{message}");
        assert!(message.contains("*.csproj"), "{message}");
    }

    #[test]
    fn several_markers_pick_priority() {
        let dir = project_dir(&[("package.json", "{}"), ("go.mod", "module x\n"), ("Makefile", "")]);
        let starter = starter(dir.path(), None).expect("starter");
        assert_eq!(starter.stack, Stack::Go);
        assert_eq!(starter.other_stacks, vec![Stack::Node, Stack::Make]);
    }

    #[test]
    fn kdl_string_escapes() {
        assert_eq!(kdl_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(kdl_string("\u{1}"), "\"\\u{1}\"");
    }
}
