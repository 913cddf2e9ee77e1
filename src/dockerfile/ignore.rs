//! The ignore file (`Dockerfile.dockerignore`): `*` first, then `!PATH` for
//! every context input, then the `context { exclude }` patterns and the
//! copy excludes that hold for every use of their path.
//!
//! Dockerfile `COPY` has no include patterns, and `--exclude` needs syntax
//! 1.19. So copy includes and excludes go into the ignore file when that
//! changes nothing for other uses. The path must not be a glob, and no other
//! context input may overlap it. Every use of it must have the same
//! includes, or every use must have the exclude. The ignore file applies to the whole context,
//! and the builder reads the Dockerfile separately, so excluding it is fine.

use std::collections::{BTreeMap, BTreeSet};

use super::Writer;
use super::quote::{self, Unrepresentable};
use crate::diag::Span;
use crate::lower::{BindSource, BuildGraph, BuildStepKind, CopySource, MountKind};
use crate::model::Spanned;

/// The copy includes and excludes that the ignore file applies, by the
/// span of their copy step.
#[derive(Debug, Default)]
pub struct IgnorePlan {
    includes: BTreeSet<Span>,
    excludes: BTreeSet<(Span, String)>,
}

impl IgnorePlan {
    pub fn applies_includes(&self, copy: Span) -> bool {
        self.includes.contains(&copy)
    }

    pub fn applies_exclude(&self, copy: Span, pattern: &str) -> bool {
        self.excludes.contains(&(copy, pattern.to_string()))
    }
}

/// One use of a context path by a copy or a bind mount.
struct Use<'a> {
    /// Normalized by [`normalize`]; empty for the whole context.
    path: String,
    written: Option<&'a Spanned<String>>,
    step: Span,
    include: Vec<&'a str>,
    exclude: Vec<&'a str>,
}

fn uses(graph: &BuildGraph) -> Vec<Use<'_>> {
    let mut uses = Vec::new();
    for stage in &graph.stages {
        for step in &stage.steps {
            match &step.kind {
                BuildStepKind::Copy(copy) => {
                    let CopySource::Context(paths) = &copy.source else {
                        continue;
                    };
                    let mut include: Vec<&str> = copy.include.iter().map(|p| p.as_str()).collect();
                    include.sort_unstable();
                    include.dedup();
                    for path in paths {
                        uses.push(Use {
                            path: normalize(&path.value),
                            written: Some(path),
                            step: step.span,
                            include: include.clone(),
                            exclude: copy.exclude.iter().map(|p| p.as_str()).collect(),
                        });
                    }
                }
                BuildStepKind::Run(run) => {
                    for mount in &run.mounts {
                        if let MountKind::Bind {
                            source: BindSource::Context(path),
                            ..
                        } = &mount.kind
                        {
                            uses.push(Use {
                                path: path.as_ref().map(|path| normalize(&path.value)).unwrap_or_default(),
                                written: path.as_ref(),
                                step: step.span,
                                include: Vec::new(),
                                exclude: Vec::new(),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
    }
    uses
}

/// Cleans a context path the way Go's `filepath.Clean` does, relative to
/// the context root: no leading `/`, no empty or `.` components, `..`
/// applied, no trailing `/`. The builder cleans COPY sources and ignore
/// patterns the same way, so the file lists each path once, in one spelling.
fn normalize(path: &str) -> String {
    let mut components: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." if components.last().is_some_and(|last| *last != "..") => {
                components.pop();
            }
            other => components.push(other),
        }
    }
    components.join("/")
}

fn has_glob(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// Returns whether the inputs `a` and `b` may share files: one is the whole
/// context, or every component of the shorter matches the other's.
fn overlaps(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() || a.contains("**") || b.contains("**") {
        return true;
    }
    a.split('/')
        .zip(b.split('/'))
        .all(|(x, y)| component_matches(x, y) || component_matches(y, x))
}

/// Matches one path component against a glob component (`*`, `?`,
/// `[...]`, `\` escapes); an unsupported class counts as a match.
fn component_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches_from(&pattern, &name)
}

fn matches_from(pattern: &[char], name: &[char]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|skip| matches_from(&pattern[1..], &name[skip..])),
        Some('?') => !name.is_empty() && matches_from(&pattern[1..], &name[1..]),
        Some('[') => match pattern.iter().position(|&c| c == ']') {
            // Any class may match the next character: stay on the safe side.
            Some(close) if !name.is_empty() => matches_from(&pattern[close + 1..], &name[1..]),
            Some(_) => false,
            None => true,
        },
        Some('\\') if pattern.len() > 1 => name.first() == Some(&pattern[1]) && matches_from(&pattern[2..], &name[1..]),
        Some(&c) => name.first() == Some(&c) && matches_from(&pattern[1..], &name[1..]),
    }
}

/// Decides which copy includes and excludes the ignore file can apply.
pub fn plan(graph: &BuildGraph) -> IgnorePlan {
    let uses = uses(graph);
    let mut plan = IgnorePlan::default();
    for current in &uses {
        if has_glob(&current.path) {
            continue;
        }
        let same: Vec<&Use> = uses.iter().filter(|other| other.path == current.path).collect();
        let isolated = uses
            .iter()
            .all(|other| other.path == current.path || !overlaps(&other.path, &current.path));
        if !isolated {
            continue;
        }
        if !current.include.is_empty() && same.iter().all(|other| other.include == current.include) {
            plan.includes.insert(current.step);
        }
        for pattern in &current.exclude {
            if same.iter().all(|other| other.exclude.contains(pattern)) {
                plan.excludes.insert((current.step, pattern.to_string()));
            }
        }
    }
    plan
}

/// Returns the ignore file, reporting paths and patterns it cannot hold.
pub fn write(graph: &BuildGraph, plan: &IgnorePlan, spec_path: &str, writer: &mut Writer) -> String {
    let uses = uses(graph);
    let mut inputs: BTreeMap<String, Option<&Spanned<String>>> = BTreeMap::new();
    let mut translated: BTreeMap<String, Option<&Spanned<String>>> = BTreeMap::new();
    let mut whole_context = false;
    for current in &uses {
        if plan.applies_includes(current.step) {
            for include in &current.include {
                inputs.entry(join(&current.path, include)).or_insert(current.written);
            }
        } else if current.path.is_empty() {
            whole_context = true;
        } else {
            inputs.entry(current.path.clone()).or_insert(current.written);
        }
        for pattern in &current.exclude {
            if plan.applies_exclude(current.step, pattern) {
                translated
                    .entry(join(&current.path, pattern))
                    .or_insert(current.written);
            }
        }
    }

    let mut lines = vec![
        format!(
            "# Generated by stagec from {}. Do not edit by hand.",
            quote::comment_text(spec_path)
        )
        .trim_end()
        .to_string(),
    ];
    if !whole_context {
        lines.push("*".to_string());
        for (path, written) in &inputs {
            push_pattern(&mut lines, path, true, *written, writer);
        }
    }
    for pattern in &graph.context_excludes {
        push_pattern(&mut lines, &pattern.value, false, Some(pattern), writer);
    }
    for (pattern, written) in &translated {
        push_pattern(&mut lines, pattern, false, *written, writer);
    }

    let mut text = lines.join("\n");
    text.push('\n');
    text
}

fn join(path: &str, pattern: &str) -> String {
    let pattern = normalize(pattern);
    if path.is_empty() {
        pattern
    } else {
        format!("{path}/{pattern}")
    }
}

/// Adds `pattern`, negated to re-include it when `include` is set. The
/// ignore file reader trims whitespace, skips lines starting with `#`, and
/// reads a leading `!` as negation, so a pattern starting with `#` or `!` is
/// escaped with `\`.
fn push_pattern(
    lines: &mut Vec<String>,
    pattern: &str,
    include: bool,
    written: Option<&Spanned<String>>,
    writer: &mut Writer,
) {
    let problem = if pattern.is_empty() {
        Some("is empty".to_string())
    } else if pattern.trim() != pattern {
        Some("starts or ends with whitespace, which the ignore file trims".to_string())
    } else if let Some(c) = pattern.chars().find(|c| !c.is_ascii()) {
        // Seen with the Docker 20.10 client and Docker Engine 26.1: the
        // build fails with "not found" for every context path of the build.
        Some(format!(
            "contains the non-ASCII character U+{:04X}, and the Docker 20.10 client does not send such a file",
            u32::from(c)
        ))
    } else {
        pattern
            .chars()
            .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'))
            .map(|c| {
                format!(
                    "contains the character U+{:04X}, which an ignore file line cannot hold",
                    u32::from(c)
                )
            })
    };
    if let Some(reason) = problem {
        let span = written.map(|written| written.span).unwrap_or_default();
        let error = Unrepresentable {
            reason,
            help: "rename the file or change the pattern".into(),
        };
        writer.unrepresentable(span, "context path", error);
        return;
    }

    let line = if include {
        format!("!{pattern}")
    } else if pattern.starts_with(['#', '!']) {
        format!("\\{pattern}")
    } else {
        pattern.to_string()
    };
    lines.push(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_table() {
        let cases = [
            ("go.mod", "go.mod"),
            ("./src/", "src"),
            ("/a/b", "a/b"),
            (".", ""),
            ("./", ""),
            ("", ""),
            ("src//sub", "src/sub"),
            ("src/./sub/", "src/sub"),
            ("src/sub/../a", "src/a"),
            ("./x", "x"),
            ("a/..", ""),
        ];
        for (path, expected) in cases {
            assert_eq!(normalize(path), expected, "{path}");
        }
    }

    #[test]
    fn overlap_table() {
        let cases = [
            ("src", "src/app", true),
            ("src", "srcs", false),
            ("*.go", "main.go", true),
            ("*.go", "src", false),
            ("src/*.go", "src", true),
            ("docs/**", "docs", true),
            ("", "anything", true),
            ("[ab]", "a", true),
            ("go.mod", "go.sum", false),
        ];
        for (a, b, expected) in cases {
            assert_eq!(overlaps(a, b), expected, "{a} vs {b}");
        }
    }
}
