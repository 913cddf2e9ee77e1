//! Path resolution inside a stage: relative paths are joined onto the
//! working directory in effect, the way a Dockerfile `WORKDIR`, `COPY`
//! destination or mount target resolves them, whenever stagec can tell
//! that directory.

use super::graph::{Interpolated, StagePath};
use crate::model::interpolate::Part;

/// The working directory in effect at a step, when the spec determines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workdir {
    /// An absolute path.
    Known(Vec<Part>),
    /// Set by the base image's config, or by a path that starts with a build
    /// arg, so only the builder can resolve it.
    Unknown,
}

impl Workdir {
    /// Returns the working directory of an empty filesystem.
    pub fn root() -> Workdir {
        Workdir::Known(vec![Part::Literal("/".to_string())])
    }

    /// Returns the working directory after a `workdir` step to `path`.
    pub fn after(path: &StagePath) -> Workdir {
        if path.relative {
            Workdir::Unknown
        } else {
            Workdir::Known(path.value.parts.clone())
        }
    }
}

/// Resolves `value` against `workdir`. An absolute path is cleaned, and a
/// relative one is joined onto a known workdir or kept relative.
pub fn resolve(value: &Interpolated, workdir: &Workdir) -> StagePath {
    let span = value.span;
    match value.parts.first() {
        Some(Part::Literal(text)) if text.starts_with('/') => StagePath {
            value: Interpolated {
                parts: clean_parts(&value.parts),
                span,
            },
            relative: false,
        },
        // `${DIR}/x` and `${env:DIR}/x` may expand to an absolute or a relative path, so the
        // builder resolves it after substitution, with the same rules.
        Some(Part::Arg { .. } | Part::Env { .. }) => StagePath {
            value: value.clone(),
            relative: true,
        },
        _ => match workdir {
            Workdir::Known(base) => StagePath {
                value: Interpolated {
                    parts: join(base, &value.parts),
                    span,
                },
                relative: false,
            },
            Workdir::Unknown => StagePath {
                value: value.clone(),
                relative: true,
            },
        },
    }
}

/// Makes a path in another stage absolute: `COPY --from` and bind mounts
/// read source paths from that stage's root, whatever its workdir.
pub fn from_root(path: &str) -> String {
    if path.starts_with('/') {
        clean(path)
    } else {
        clean(&format!("/{path}"))
    }
}

/// Joins a relative path onto an absolute base.
fn join(base: &[Part], relative: &[Part]) -> Vec<Part> {
    let mut parts = base.to_vec();
    let base_ends_with_slash = matches!(parts.last(), Some(Part::Literal(text)) if text.ends_with('/'));
    if !base_ends_with_slash {
        parts.push(Part::Literal("/".to_string()));
    }
    parts.extend(relative.iter().cloned());
    clean_parts(&merge_literals(parts))
}

/// Cleans a path that is a single literal. A path with `${NAME}` parts is
/// only merged, because `..` next to an arg value is left to the builder.
fn clean_parts(parts: &[Part]) -> Vec<Part> {
    match parts {
        [Part::Literal(text)] => vec![Part::Literal(clean(text))],
        _ => merge_literals(parts.to_vec()),
    }
}

fn merge_literals(parts: Vec<Part>) -> Vec<Part> {
    let mut merged: Vec<Part> = Vec::with_capacity(parts.len());
    for part in parts {
        match (merged.last_mut(), part) {
            (Some(Part::Literal(previous)), Part::Literal(text)) => previous.push_str(&text),
            (_, part) => merged.push(part),
        }
    }
    merged
}

/// Lexically cleans an absolute path: drops empty and `.` components and
/// applies `..`, never above `/`. A trailing `/`, or a last component of `.`
/// or `..`, marks a directory and is kept as a trailing `/`, because `COPY`
/// treats a destination that ends with `/` as a directory.
pub fn clean(path: &str) -> String {
    let mut components: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                components.pop();
            }
            other => components.push(other),
        }
    }

    let last = path.rsplit('/').next().unwrap_or("");
    let directory = path.ends_with('/') || last == "." || last == "..";
    let mut cleaned = format!("/{}", components.join("/"));
    if directory && cleaned != "/" {
        cleaned.push('/');
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn literal(text: &str) -> Interpolated {
        Interpolated::literal(text, Span::default())
    }

    fn known(text: &str) -> Workdir {
        Workdir::Known(vec![Part::Literal(text.to_string())])
    }

    fn resolved(path: &str, workdir: &Workdir) -> (Option<String>, bool) {
        let path = resolve(&literal(path), workdir);
        (path.value.as_literal(), path.relative)
    }

    #[test]
    fn clean_table() {
        let cases = [
            ("/", "/"),
            ("/app", "/app"),
            ("/app/", "/app/"),
            ("//app//bin", "/app/bin"),
            ("/app/./bin", "/app/bin"),
            ("/app/.", "/app/"),
            ("/app/..", "/"),
            ("/app/../etc/", "/etc/"),
            ("/../../x", "/x"),
        ];
        for (path, expected) in cases {
            assert_eq!(clean(path), expected, "{path}");
        }
    }

    #[test]
    fn resolve_relative_against_known_workdir() {
        let workdir = known("/app");
        assert_eq!(resolved("bin/", &workdir), (Some("/app/bin/".into()), false));
        assert_eq!(resolved(".", &workdir), (Some("/app/".into()), false));
        assert_eq!(resolved("./main", &workdir), (Some("/app/main".into()), false));
        assert_eq!(resolved("../etc", &workdir), (Some("/etc".into()), false));
        assert_eq!(resolved("/abs//x", &workdir), (Some("/abs/x".into()), false));
    }

    #[test]
    fn resolve_keeps_relative_when_workdir_unknown() {
        assert_eq!(resolved("bin/", &Workdir::Unknown), (Some("bin/".into()), true));
        assert_eq!(resolved("/abs", &Workdir::Unknown), (Some("/abs".into()), false));
    }

    #[test]
    fn resolve_leaves_arg_prefixed_path_to_builder() {
        let value = Interpolated {
            parts: vec![
                Part::Arg {
                    name: "DIR".into(),
                    span: Span::default(),
                },
                Part::Literal("/x".into()),
            ],
            span: Span::default(),
        };
        let path = resolve(&value, &known("/app"));
        assert!(path.relative);
        assert_eq!(path.value.parts, value.parts);
        assert_eq!(Workdir::after(&path), Workdir::Unknown);
    }

    #[test]
    fn join_onto_workdir_with_arg() {
        let workdir = Workdir::Known(vec![
            Part::Literal("/srv/".into()),
            Part::Arg {
                name: "APP".into(),
                span: Span::default(),
            },
        ]);
        let path = resolve(&literal("bin"), &workdir);
        assert!(!path.relative);
        assert_eq!(
            path.value.parts,
            vec![
                Part::Literal("/srv/".into()),
                Part::Arg {
                    name: "APP".into(),
                    span: Span::default()
                },
                Part::Literal("/bin".into()),
            ]
        );
    }

    #[test]
    fn from_root_table() {
        assert_eq!(from_root("out/app"), "/out/app");
        assert_eq!(from_root("/out/dir/"), "/out/dir/");
    }
}
