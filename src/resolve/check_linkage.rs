//! SC0501: a native artifact copied into a stage whose C library cannot run
//! it. A declared `linkage=` is checked exactly. Without one, an executable
//! built in a glibc toolchain image is assumed to need glibc, and consuming
//! it in a musl or libc-free stage is a warning. The heuristic stays simple
//! on purpose, and judges each artifact by the `run` steps that can have
//! built it (see [`building_runs`]):
//! - Go: no warning when the producer or one of its bases sets
//!   `CGO_ENABLED=0` in a stage `env`, or when every building run sets it
//!   (in its `env` or its text), since such binaries are static.
//! - Rust: no warning when the artifact path or every building run names a
//!   `-musl` target.
//! - Other toolchains: always the warning, until `linkage=` is declared.

use super::chain::{Root, Stages};
use super::images::{self, Toolchain};
use super::unix_path;
use crate::diag::{Code, Diagnostic, Diagnostics, Severity, Span};
use crate::model::{Artifact, ArtifactKind, CommandForm, CopySource, Libc, Linkage, RunStep, Spanned, StepKind};

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let libcs = libc_facts(stages);

    for (consumer, stage) in stages.spec.stages.iter().enumerate() {
        for step in &stage.steps {
            let StepKind::Copy(copy) = &step.kind else { continue };
            let Some((producer, artifact)) = stages.copied_artifact(&copy.source) else {
                continue;
            };
            let Some(runtime) = &libcs[consumer] else { continue };
            let reference_span = copy_reference_span(&copy.source);

            if let Some(linkage) = &artifact.linkage {
                let needed = match linkage.value {
                    Linkage::Static => continue,
                    Linkage::Glibc => Libc::Glibc,
                    Linkage::Musl => Libc::Musl,
                };
                if runtime.libc == needed {
                    continue;
                }
                diagnostics.push(
                    Diagnostic::new(
                        Code::LinkageMismatch,
                        format!(
                            "`{}` is linked against {}, which stage `{}` does not have",
                            artifact.name.value,
                            needed.as_str(),
                            stage.name.value
                        ),
                    )
                    .label(reference_span, format!("needs {}", needed.as_str()))
                    .label(linkage.span, format!("declared linkage=\"{}\"", linkage.value.as_str()))
                    .label(runtime.span, runtime.describe())
                    .help(fix_for(needed, stage.name.as_str())),
                );
                continue;
            }

            if artifact.kind != ArtifactKind::Executable || runtime.libc == Libc::Glibc {
                continue;
            }
            let Some(toolchain) = glibc_toolchain(stages, producer, &libcs) else {
                continue;
            };
            if builds_static(stages, producer, artifact, toolchain) {
                continue;
            }

            let producer_name = stages.stage(producer).name.as_str();
            diagnostics.push(
                Diagnostic::new(
                    Code::LinkageMismatch,
                    format!(
                        "`{}` is built in a glibc toolchain image and may need glibc, which stage `{}` does not have",
                        artifact.name.value, stage.name.value
                    ),
                )
                .severity(Severity::Warning)
                .label(reference_span, "may need glibc at run time")
                .label(
                    artifact.name.span,
                    format!("no linkage declared; `{producer_name}` builds with glibc"),
                )
                .label(runtime.span, runtime.describe())
                .help(inferred_fix(artifact, toolchain, stage.name.as_str())),
            );
        }
    }
}

/// The C library a stage provides and the declaration it comes from.
#[derive(Debug, Clone)]
struct LibcFact {
    libc: Libc,
    span: Span,
    /// The image or stage the fact comes from, for the label.
    origin: String,
}

impl LibcFact {
    fn describe(&self) -> String {
        match self.libc {
            Libc::None => format!("{} has no C library", self.origin),
            libc => format!("{} provides {}", self.origin, libc.as_str()),
        }
    }
}

/// Returns the libc of every stage: its own `libc=`, else its base's, else
/// what the image table gives for the root image. `None` when unknown.
fn libc_facts(stages: &Stages<'_>) -> Vec<Option<LibcFact>> {
    stages.inherit(
        |root| match root {
            Root::Scratch(span) => Some(LibcFact {
                libc: Libc::None,
                span: *span,
                origin: "scratch".to_string(),
            }),
            Root::Image(reference) => images::facts(&reference.value).libc.map(|libc| LibcFact {
                libc,
                span: reference.span,
                origin: format!("`{}`", reference.value),
            }),
            Root::Unknown => None,
        },
        |index, inherited| match &stages.stage(index).libc {
            Some(declared) => Some(LibcFact {
                libc: declared.value,
                span: declared.span,
                origin: format!(
                    "stage `{}` (libc=\"{}\")",
                    stages.stage(index).name.value,
                    declared.value.as_str()
                ),
            }),
            None => inherited,
        },
    )
}

/// Returns the toolchain of `producer` when it is a glibc toolchain image.
fn glibc_toolchain(stages: &Stages<'_>, producer: usize, libcs: &[Option<LibcFact>]) -> Option<Toolchain> {
    let Root::Image(reference) = stages.root(producer) else {
        return None;
    };
    let toolchain = images::facts(&reference.value).toolchain?;
    let glibc = libcs[producer].as_ref().is_some_and(|fact| fact.libc == Libc::Glibc);
    glibc.then_some(toolchain)
}

fn builds_static(stages: &Stages<'_>, producer: usize, artifact: &Artifact, toolchain: Toolchain) -> bool {
    let chain = stages.chain(producer);
    let runs: Vec<&RunStep> = chain
        .iter()
        .rev()
        .flat_map(|&index| stages.stage(index).steps.iter())
        .filter_map(|step| match &step.kind {
            StepKind::Run(run) => Some(run),
            _ => None,
        })
        .collect();
    let building = building_runs(&runs, artifact);

    match toolchain {
        Toolchain::Go => {
            let is_cgo_off =
                |(name, value): &(Spanned<String>, Spanned<String>)| name.value == "CGO_ENABLED" && value.value == "0";
            let stage_env_off = chain
                .iter()
                .flat_map(|&index| stages.stage(index).steps.iter())
                .any(|step| matches!(&step.kind, StepKind::Env(pairs) if pairs.iter().any(is_cgo_off)));
            stage_env_off
                || (!building.is_empty()
                    && building
                        .iter()
                        .all(|run| run.env.iter().any(is_cgo_off) || run_text(run).contains("CGO_ENABLED=0")))
        }
        Toolchain::Rust => {
            artifact.path.value.contains("-musl")
                || (!building.is_empty() && building.iter().all(|run| run_text(run).contains("-musl")))
        }
        _ => false,
    }
}

/// Returns the runs that can have built `artifact`: those whose text names
/// its path, else those that name its file name as a word, else all runs.
/// One build can then not vouch for another artifact of the same stage.
fn building_runs<'a>(runs: &[&'a RunStep], artifact: &Artifact) -> Vec<&'a RunStep> {
    let path = unix_path::normalize(&artifact.path.value);
    let naming_path: Vec<&RunStep> = runs
        .iter()
        .copied()
        .filter(|run| run_text(run).contains(&path))
        .collect();
    if !naming_path.is_empty() {
        return naming_path;
    }

    let file_name = unix_path::file_name(&path);
    let naming_file: Vec<&RunStep> = runs
        .iter()
        .copied()
        .filter(|run| file_name != "/" && contains_word(&run_text(run), file_name))
        .collect();
    if naming_file.is_empty() {
        runs.to_vec()
    } else {
        naming_file
    }
}

fn run_text(run: &RunStep) -> String {
    match &run.command.form {
        CommandForm::Shell(text) => text.value.clone(),
        CommandForm::Exec(argv) => argv
            .iter()
            .map(|argument| argument.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Returns whether `word` occurs in `text` with no name character (letter,
/// digit, `_`, `-`, `.`) right before or after it.
fn contains_word(text: &str, word: &str) -> bool {
    let is_name_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    text.match_indices(word).any(|(index, _)| {
        let before = text[..index].chars().next_back();
        let after = text[index + word.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

fn copy_reference_span(source: &CopySource) -> Span {
    match source {
        CopySource::Artifact { artifact, .. } => artifact.span,
        CopySource::StagePath { path, .. } => path.span,
        CopySource::Context(paths) => paths.first().map(|path| path.span).unwrap_or_default(),
    }
}

fn fix_for(needed: Libc, consumer: &str) -> String {
    match needed {
        Libc::Glibc => format!(
            "build a static binary and declare linkage=\"static\" (for Go: CGO_ENABLED=0), or base `{consumer}` on a \
             glibc image such as gcr.io/distroless/base-debian12 or debian:bookworm-slim"
        ),
        Libc::Musl => {
            format!("build against glibc or statically, or base `{consumer}` on a musl image such as alpine:3.20")
        }
        Libc::None => "build a static binary and declare linkage=\"static\"".to_string(),
    }
}

fn inferred_fix(artifact: &Artifact, toolchain: Toolchain, consumer: &str) -> String {
    let how = match toolchain {
        Toolchain::Go => "for Go, build with `env CGO_ENABLED=\"0\"` on the run step",
        Toolchain::Rust => "for Rust, build for a `-musl` target",
        _ => "link it statically",
    };
    format!(
        "if the binary is static, declare linkage=\"static\" on artifact `{}` ({how}); if it needs glibc, declare \
         linkage=\"glibc\" and base `{consumer}` on a glibc image such as gcr.io/distroless/base-debian12",
        artifact.name.value
    )
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::LinkageMismatch;
    use crate::diag::Severity::{self, Error, Warning};
    use crate::resolve::test_support::diagnostics_among;

    fn severities(source: &str) -> Vec<Severity> {
        diagnostics_among(source, &[LinkageMismatch])
            .into_iter()
            .map(|d| d.severity)
            .collect()
    }

    #[test]
    fn linkage_table() {
        let go = |build_extra: &str, linkage: &str, runtime: &str| {
            format!(
                r#"stage "build" from="golang:1.19" {{
                       {build_extra}
                       run "go build -o /out/app ."
                       artifact "app" path="/out/app" kind="executable" {linkage}
                   }}
                   stage "run" from="{runtime}" {{ copy artifact="app" from="build" to="/app" }}"#
            )
        };
        let cases: Vec<(String, Vec<Severity>)> = vec![
            (go("", r#"linkage="glibc""#, "scratch"), vec![Error]),
            (
                go(r#"env CGO_ENABLED="1""#, r#"linkage="glibc""#, "alpine:3"),
                vec![Error],
            ),
            (go("", r#"linkage="glibc""#, "debian:12"), vec![]),
            (go("", r#"linkage="glibc""#, "gcr.io/distroless/base-debian12"), vec![]),
            (go("", r#"linkage="musl""#, "debian:12"), vec![Error]),
            (go("", r#"linkage="musl""#, "alpine:3"), vec![]),
            (go("", r#"linkage="static""#, "scratch"), vec![]),
            (go("", "", "scratch"), vec![Warning]),
            (go("", "", "alpine:3"), vec![Warning]),
            (go("", "", "debian:12"), vec![]),
            (go(r#"env CGO_ENABLED="0""#, "", "scratch"), vec![]),
            (
                go(r#"run "CGO_ENABLED=0 go build -o /out/x .""#, "", "scratch"),
                vec![Warning],
            ),
            (go("", "", "example.com/unknown:1"), vec![]),
        ];
        for (source, expected) in cases {
            assert_eq!(severities(&source), expected, "{source}");
        }
    }

    #[test]
    fn cgo_off_run_covers_only_its_own_artifact() {
        let source = r#"stage "b" from="golang:1.19" {
                workdir "/src"
                run "mkdir -p /o && go build -o /o/inferred ."
                run "CGO_ENABLED=0 go build -o /o/nocgo ."
                artifact "inferred" path="/o/inferred" kind="executable"
                artifact "nocgo" path="/o/nocgo" kind="executable"
            }
            stage "alp" from="alpine:3" {
                copy artifact="inferred" from="b" to="/a2"
                copy artifact="nocgo" from="b" to="/a3"
            }"#;
        let found = diagnostics_among(source, &[LinkageMismatch]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.starts_with("`inferred`"), "{}", found[0].message);
    }

    #[test]
    fn building_runs_fall_back_to_all() {
        let by_name = |build: &str| {
            format!(
                r#"stage "b" from="golang:1.19" {{
                       workdir "/src"
                       run "go mod download"
                       {build}
                       artifact "app" path="/src/app" kind="executable"
                   }}
                   stage "r" from="scratch" {{ copy artifact="app" from="b" to="/app" }}"#
            )
        };
        // Only the run that names `app` decides.
        assert_eq!(severities(&by_name(r#"run "CGO_ENABLED=0 go build -o app .""#)), vec![]);
        assert_eq!(severities(&by_name(r#"run "go build -o app .""#)), vec![Warning]);
        // No run names the artifact, so every run must disable cgo.
        assert_eq!(severities(&by_name(r#"run "CGO_ENABLED=0 go build .""#)), vec![Warning]);
        assert_eq!(
            severities(&by_name(r#"run "go build ." { env CGO_ENABLED="0" }"#)),
            vec![Warning]
        );
    }

    #[test]
    fn linkage_follows_base_chains_and_overrides() {
        let cases: &[(&str, &[Severity])] = &[
            // The consumer inherits its libc from the stage it is based on.
            (
                r#"stage "build" from="golang:1.19" { artifact "app" path="/app" kind="executable" linkage="glibc" }
                   stage "base" from="alpine:3"
                   stage "run" from="base" { copy artifact="app" from="build" to="/app" }"#,
                &[Error],
            ),
            // `libc=` overrides the image table.
            (
                r#"stage "build" from="golang:1.19" { artifact "app" path="/app" kind="executable" linkage="glibc" }
                   stage "run" from="example.com/glibc-less:1" libc="none" { copy artifact="app" from="build" to="/app" }"#,
                &[Error],
            ),
            (
                r#"stage "build" from="golang:1.19" { artifact "app" path="/app" kind="executable" linkage="glibc" }
                   stage "run" from="alpine:3" libc="glibc" { copy artifact="app" from="build" to="/app" }"#,
                &[],
            ),
            // A Go builder whose base stage disables cgo.
            (
                r#"stage "go" from="golang:1.19" { env CGO_ENABLED="0" }
                   stage "build" from="go" { artifact "app" path="/app" kind="executable" }
                   stage "run" from="scratch" { copy artifact="app" from="build" to="/app" }"#,
                &[],
            ),
            // Files and directories are not native code.
            (
                r#"stage "build" from="golang:1.19" { artifact "site" path="/site" kind="dir" }
                   stage "run" from="scratch" { copy artifact="site" from="build" to="/site" }"#,
                &[],
            ),
            (
                r#"stage "build" from="rust:1.80" { run "cargo build --target x86_64-unknown-linux-musl"
                   artifact "app" path="/app" kind="executable" }
                   stage "run" from="alpine:3" { copy artifact="app" from="build" to="/app" }"#,
                &[],
            ),
            (
                r#"stage "build" from="rust:1.80" { artifact "app" path="/app" kind="executable" }
                   stage "run" from="alpine:3" { copy artifact="app" from="build" to="/app" }"#,
                &[Warning],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(severities(source), *expected, "{source}");
        }
    }
}
