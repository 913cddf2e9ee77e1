//! Path checks: context paths that leave the build context (SC0303), and
//! relative paths where a container path must be absolute or where the
//! directory they are relative to is unknown (SC0304).

use super::chain::{Root, Stages};
use super::unix_path;
use super::workdir::{StageWorkdirs, Workdir};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::{CopySource, MountKind, Spanned, StepKind};

pub fn check(stages: &Stages<'_>, workdirs: &[StageWorkdirs], diagnostics: &mut Diagnostics) {
    check_context_paths(stages, diagnostics);
    check_absolute_paths(stages, diagnostics);
    check_relative_to_workdir(stages, workdirs, diagnostics);
}

fn check_context_paths(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;
    for pattern in &spec.context_excludes {
        report_escape(pattern, "pattern", diagnostics);
    }

    for stage in &spec.stages {
        for step in &stage.steps {
            match &step.kind {
                StepKind::Copy(copy) => {
                    if let CopySource::Context(paths) = &copy.source {
                        paths.iter().for_each(|path| report_escape(path, "path", diagnostics));
                    }
                    for pattern in copy.include.iter().chain(&copy.exclude) {
                        report_escape(pattern, "pattern", diagnostics);
                    }
                }
                StepKind::Run(run) => {
                    for mount in &run.mounts {
                        if let MountKind::Bind {
                            from: None,
                            source: Some(source),
                            ..
                        } = &mount.kind
                        {
                            report_escape(source, "path", diagnostics);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Returns why a context path leaves the context, if it does.
pub fn context_escape(path: &str) -> Option<&'static str> {
    let bytes = path.as_bytes();
    if path.starts_with('/') || path.starts_with('\\') {
        return Some("an absolute path");
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Some("a Windows drive path");
    }
    if path.starts_with('~') {
        return Some("a home directory path, which is never expanded");
    }

    // Backslashes count as separators too, so `..\secret` is caught on any host.
    let mut depth = 0usize;
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." if depth == 0 => return Some("a path above the context directory"),
            ".." => depth -= 1,
            _ => depth += 1,
        }
    }
    None
}

fn report_escape(path: &Spanned<String>, what: &str, diagnostics: &mut Diagnostics) {
    let Some(reason) = context_escape(&path.value) else {
        return;
    };
    let example = path_inside_context(&path.value);

    diagnostics.push(
        Diagnostic::new(
            Code::ContextEscape,
            format!("context {what} `{}` is outside the build context", path.value),
        )
        .label(path.span, reason)
        .help(format!(
            "context paths are relative to the build context, the directory the build is given; move the files into \
             it and write the path relative to it, such as `{example}`"
        )),
    );
}

/// Returns the path with the parts that leave the context dropped, as an example
/// of what to write once the files are moved into the context.
fn path_inside_context(path: &str) -> String {
    let bytes = path.as_bytes();
    let has_drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    let without_drive = if has_drive { &path[2..] } else { path };
    let parts: Vec<&str> = without_drive
        .split(['/', '\\'])
        .filter(|part| !matches!(*part, "" | "." | ".." | "~"))
        .collect();
    if parts.is_empty() {
        "FILE".to_string()
    } else {
        parts.join("/")
    }
}

fn check_absolute_paths(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    for stage in &stages.spec.stages {
        for artifact in &stage.artifacts {
            require_absolute(&artifact.path, "artifact `path`", diagnostics);
        }

        for step in &stage.steps {
            match &step.kind {
                StepKind::Volume(paths) => paths
                    .iter()
                    .for_each(|path| require_absolute(path, "`volume`", diagnostics)),
                StepKind::Copy(copy) => {
                    if let CopySource::StagePath { path, .. } = &copy.source {
                        require_absolute(path, "`copy path=`", diagnostics);
                    }
                }
                StepKind::Run(run) => {
                    for mount in &run.mounts {
                        match &mount.kind {
                            MountKind::Cache { target, .. } => require_absolute(target, "`cache` target", diagnostics),
                            MountKind::Tmpfs { target, .. } => require_absolute(target, "`tmpfs` target", diagnostics),
                            MountKind::Bind {
                                target, from, source, ..
                            } => {
                                require_absolute(target, "`bind` target", diagnostics);
                                if let (Some(_), Some(source)) = (from, source) {
                                    require_absolute(source, "`bind source=` in a stage", diagnostics);
                                }
                            }
                            MountKind::Secret {
                                target: Some(target), ..
                            } => require_absolute(target, "`secret` target", diagnostics),
                            MountKind::Ssh {
                                target: Some(target), ..
                            } => require_absolute(target, "`ssh` target", diagnostics),
                            MountKind::Secret { target: None, .. } | MountKind::Ssh { target: None, .. } => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn require_absolute(path: &Spanned<String>, what: &str, diagnostics: &mut Diagnostics) {
    if unix_path::is_absolute(&path.value) || unix_path::starts_with_interpolation(&path.value) {
        return;
    }
    let absolute = unix_path::normalize(&format!("/{}", path.value));
    diagnostics.push(
        Diagnostic::new(
            Code::RelativePath,
            format!("{what} `{}` must be an absolute path", path.value),
        )
        .label(path.span, "relative path")
        .help(format!(
            "write the full path inside the container, such as \"{absolute}\""
        )),
    );
}

fn check_relative_to_workdir(stages: &Stages<'_>, workdirs: &[StageWorkdirs], diagnostics: &mut Diagnostics) {
    for (index, stage) in stages.spec.stages.iter().enumerate() {
        for (position, step) in stage.steps.iter().enumerate() {
            if workdirs[index].before_step[position] != Workdir::ImageDefault {
                continue;
            }
            let (path, what) = match &step.kind {
                StepKind::Workdir(path) => (path, "workdir"),
                StepKind::Copy(copy) => (&copy.to, "`copy to=`"),
                _ => continue,
            };
            if unix_path::is_absolute(&path.value) || unix_path::starts_with_interpolation(&path.value) {
                continue;
            }

            let image = match stages.root(index) {
                Root::Image(reference) => reference,
                Root::Scratch(_) | Root::Unknown => continue,
            };
            let absolute = unix_path::normalize(&format!("/{}", path.value));
            let help = match &step.kind {
                StepKind::Workdir(_) => format!(
                    "write an absolute path, such as `workdir \"{absolute}\"`; a relative workdir is only allowed \
                     after an absolute one in the same stage or a stage it is based on"
                ),
                _ => format!(
                    "set an absolute workdir before this copy, such as `workdir \"/app\"`, or write an absolute \
                     destination, such as to=\"{absolute}{}\"",
                    if path.value.ends_with('/') { "/" } else { "" }
                ),
            };

            diagnostics.push(
                Diagnostic::new(
                    Code::RelativePath,
                    format!(
                        "relative {what} `{}` in stage `{}`, whose workdir is unknown",
                        path.value, stage.name.value
                    ),
                )
                .label(
                    path.span,
                    "relative to the base image's workdir, which stagec cannot see",
                )
                .label(image.span, format!("the chain starts at image `{}`", image.value))
                .help(help),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::context_escape;
    use crate::diag::Code::{self, ContextEscape, RelativePath};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[ContextEscape, RelativePath];

    #[test]
    fn context_escape_table() {
        let escaping = [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "C:\\x",
            "c:/x",
            "~/.ssh/id_rsa",
            "..\\x",
            "..",
        ];
        for path in escaping {
            assert!(context_escape(path).is_some(), "{path}");
        }
        let inside = [".", "a/../b", "./src", "src/..", "a..b", "...", "go.mod"];
        for path in inside {
            assert_eq!(context_escape(path), None, "{path}");
        }
    }

    #[test]
    fn path_checks_table() {
        let cases: &[(&str, &[Code])] = &[
            (
                r#"stage "a" from="alpine:3" { copy "../secrets.env" to="/s" }"#,
                &[ContextEscape],
            ),
            (
                r#"stage "a" from="alpine:3" { copy "/etc/passwd" to="/p" }"#,
                &[ContextEscape],
            ),
            (
                r#"stage "a" from="alpine:3" { copy "src" to="/s/" { exclude "../x" } }"#,
                &[ContextEscape],
            ),
            // A leading `/` is relative to the context root, as in .dockerignore.
            (r#"context { exclude "/node_modules" }; stage "a" from="alpine:3""#, &[]),
            (
                r#"context { exclude "../x" }; stage "a" from="alpine:3""#,
                &[ContextEscape],
            ),
            (
                r#"stage "a" from="alpine:3" { run "true" { bind "/m" source="../x" } }"#,
                &[ContextEscape],
            ),
            (
                r#"stage "b" from="alpine:3" { artifact "o" path="/o" }
                stage "a" from="alpine:3" { run "true" { bind "/m" from="b" source="/o" } }"#,
                &[],
            ),
            (
                r#"stage "a" from="alpine:3" { artifact "x" path="out/app" }"#,
                &[RelativePath],
            ),
            (r#"stage "a" from="alpine:3" { volume "data" }"#, &[RelativePath]),
            (r#"stage "a" from="alpine:3" { volume "${DATA}" }"#, &[]),
            (
                r#"stage "a" from="alpine:3" { run "true" { cache "root/.cache" } }"#,
                &[RelativePath],
            ),
            (
                r#"stage "a" from="alpine:3" { run "true" { tmpfs "tmp" } }"#,
                &[RelativePath],
            ),
            (
                r#"stage "a" from="alpine:3" { run "true" { secret "t" target="t" } }; secret "t""#,
                &[RelativePath],
            ),
            (r#"stage "a" from="alpine:3" { workdir "app" }"#, &[RelativePath]),
            (r#"stage "a" from="alpine:3" { workdir "/src"; workdir "app" }"#, &[]),
            (r#"stage "a" from="scratch" { workdir "app" }"#, &[]),
            (
                r#"stage "a" from="alpine:3" { copy "go.mod" to="./" }"#,
                &[RelativePath],
            ),
            (
                r#"stage "a" from="alpine:3" { workdir "/src"; copy "go.mod" to="./" }"#,
                &[],
            ),
            (
                r#"stage "b" from="alpine:3" { workdir "/src" }
                stage "a" from="b" { workdir "app"; copy "go.mod" to="./" }"#,
                &[],
            ),
            (
                r#"stage "a" from="${BASE}" { workdir "app" }; arg "BASE" default="alpine:3""#,
                &[RelativePath],
            ),
            (
                r#"stage "a" from="alpine:3" { workdir "${DIR}" }; arg "DIR" default="/app""#,
                &[],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, CODES), *expected, "{source}");
        }
    }

    #[test]
    fn relative_workdir_help_suggests_absolute() {
        let source = r#"stage "a" from="golang:1.19" { workdir "app" }"#;
        let diagnostic = first_among(source, RelativePath);
        assert!(diagnostic.help.unwrap_or_default().contains("workdir \"/app\""));
        assert_eq!(diagnostic.labels[1].text, "the chain starts at image `golang:1.19`");
    }
}
