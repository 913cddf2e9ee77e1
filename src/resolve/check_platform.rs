//! SC0502: an artifact built for one platform and consumed on another.
//!
//! A stage runs on its `platform=` (inherited from the stage it is based
//! on, default `target`). Its artifacts are built for that platform, unless
//! the stage declares `cross-compile=#true` (they are then built for the
//! target) or the artifact declares its own `platform=`. Only native code is
//! compared: executables, artifacts with a `linkage=`, and artifacts with an
//! explicit `platform=`. Plain files and directories, such as generated
//! HTML, run anywhere, which is why builders of such files often run on the
//! build platform. A fixed platform (`linux/arm64`) is compared only with
//! another fixed platform, since `target` and `build` are known only at
//! build time.

use super::chain::Stages;
use crate::diag::{Code, Diagnostic, Diagnostics, Span};
use crate::model::{ArtifactKind, CopySource, PlatformSpec, StepKind};

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let platforms = stage_platforms(stages);

    for (consumer, stage) in stages.spec.stages.iter().enumerate() {
        for step in &stage.steps {
            let StepKind::Copy(copy) = &step.kind else { continue };
            let Some((producer, artifact)) = stages.copied_artifact(&copy.source) else {
                continue;
            };
            let native = artifact.kind == ArtifactKind::Executable || artifact.linkage.is_some();
            if !native && artifact.platform.is_none() {
                continue;
            }

            let producer_stage = stages.stage(producer);
            let producer_name = producer_stage.name.as_str();
            let (built_for, built_span, built_label) = match &artifact.platform {
                Some(platform) => {
                    let label = format!("`{}` declared for {}", artifact.name.value, describe(&platform.value));
                    (platform.value.clone(), platform.span, label)
                }
                None if producer_stage.cross_compile => {
                    let label = format!("`{producer_name}` cross-compiles for the target platform");
                    (PlatformSpec::Target, producer_stage.name.span, label)
                }
                None => {
                    let (platform, span) = platforms[producer].clone();
                    let label = format!(
                        "`{producer_name}` runs on {} and does not cross-compile",
                        describe(&platform)
                    );
                    (platform, span.unwrap_or(producer_stage.name.span), label)
                }
            };
            let (runs_on, consumer_span) = platforms[consumer].clone();
            if !differs(&built_for, &runs_on) {
                continue;
            }

            let reference_span = match &copy.source {
                CopySource::Artifact { artifact, .. } => artifact.span,
                CopySource::StagePath { path, .. } => path.span,
                CopySource::Context(_) => copy.to.span,
            };
            let mut diagnostic = Diagnostic::new(
                Code::PlatformMismatch,
                format!(
                    "`{}` is built for {}, but stage `{}` runs on {}",
                    artifact.name.value,
                    describe(&built_for),
                    stage.name.value,
                    describe(&runs_on)
                ),
            )
            .label(reference_span, format!("consumed on {}", describe(&runs_on)))
            .label(built_span, built_label);
            if let Some(span) = consumer_span {
                diagnostic = diagnostic.label(span, format!("`{}` runs on {}", stage.name.value, describe(&runs_on)));
            }
            diagnostics.push(diagnostic.help(fix(producer_name, &built_for, &runs_on)));
        }
    }
}

/// Returns each stage's platform and the span that sets it, if any.
fn stage_platforms(stages: &Stages<'_>) -> Vec<(PlatformSpec, Option<Span>)> {
    stages.inherit(
        |_| (PlatformSpec::Target, None),
        |index, inherited| match &stages.stage(index).platform {
            Some(platform) => (platform.value.clone(), Some(platform.span)),
            None => inherited,
        },
    )
}

fn differs(built_for: &PlatformSpec, runs_on: &PlatformSpec) -> bool {
    match (built_for, runs_on) {
        (PlatformSpec::Fixed(a), PlatformSpec::Fixed(b)) => a != b,
        (PlatformSpec::Fixed(_), _) | (_, PlatformSpec::Fixed(_)) => false,
        (a, b) => a != b,
    }
}

fn describe(platform: &PlatformSpec) -> String {
    match platform {
        PlatformSpec::Target => "the target platform".to_string(),
        PlatformSpec::Build => "the build platform".to_string(),
        PlatformSpec::Fixed(fixed) => fixed.to_string(),
    }
}

fn fix(producer: &str, built_for: &PlatformSpec, runs_on: &PlatformSpec) -> String {
    match (built_for, runs_on) {
        (PlatformSpec::Build, PlatformSpec::Target) => format!(
            "set cross-compile=#true on `{producer}` and make its build produce binaries for the target platform \
             (for Go: set GOOS and GOARCH), or remove platform=\"build\" so that `{producer}` runs on the target \
             platform"
        ),
        (PlatformSpec::Target, PlatformSpec::Build) => {
            format!("build the artifact on the build platform too: set platform=\"build\" on `{producer}`")
        }
        _ => format!(
            "build the artifact for {} or run the consuming stage on {}",
            describe(runs_on),
            describe(built_for)
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::{self, PlatformMismatch};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[PlatformMismatch];

    fn spec(builder: &str, artifact: &str, runtime: &str) -> String {
        format!(
            r#"stage "build" from="golang:1.19" {builder} {{ artifact "app" path="/app" {artifact} }}
               stage "run" from="alpine:3" {runtime} {{ copy artifact="app" from="build" to="/app" }}"#
        )
    }

    #[test]
    fn platform_table() {
        let exe = r#"kind="executable" linkage="static""#;
        let cases: Vec<(String, &[Code])> = vec![
            (spec(r#"platform="build""#, exe, ""), &[PlatformMismatch]),
            (spec(r#"platform="build" cross-compile=#true"#, exe, ""), &[]),
            (spec("", exe, ""), &[]),
            (spec("", exe, r#"platform="build""#), &[PlatformMismatch]),
            (
                spec(r#"platform="linux/amd64""#, exe, r#"platform="linux/arm64""#),
                &[PlatformMismatch],
            ),
            (spec(r#"platform="linux/amd64""#, exe, r#"platform="linux/amd64""#), &[]),
            (spec(r#"platform="linux/amd64""#, exe, ""), &[]),
            // Generated files are platform-neutral unless declared otherwise.
            (spec(r#"platform="build""#, r#"kind="dir""#, ""), &[]),
            (spec("", r#"kind="dir" platform="build""#, ""), &[PlatformMismatch]),
            (
                spec(r#"platform="build""#, r#"kind="executable" platform="target""#, ""),
                &[],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(&source, CODES), expected, "{source}");
        }
    }

    #[test]
    fn platform_is_inherited_from_base_stage() {
        let source = r#"stage "go" from="golang:1.19" platform="build"
                        stage "build" from="go" { artifact "app" path="/app" kind="executable" }
                        stage "run" from="alpine:3" { copy artifact="app" from="build" to="/app" }"#;
        let diagnostic = first_among(source, PlatformMismatch);
        assert_eq!(
            diagnostic.message,
            "`app` is built for the build platform, but stage `run` runs on the target platform"
        );
        assert!(
            diagnostic
                .help
                .unwrap_or_default()
                .contains("cross-compile=#true on `build`")
        );
    }
}
