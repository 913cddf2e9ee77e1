//! Artifact flow checks: a raw `copy from= path=` must stay inside a
//! declared artifact (SC0301), and two artifact copies in one stage must
//! not write the same destination (SC0302).

use std::collections::BTreeMap;

use super::chain::Stages;
use super::unix_path;
use super::workdir::{StageWorkdirs, Workdir};
use crate::diag::{Code, Diagnostic, Diagnostics, Span};
use crate::model::{ArtifactKind, CopySource, CopyStep, MountKind, Spanned, StepKind};

pub fn check(stages: &Stages<'_>, workdirs: &[StageWorkdirs], diagnostics: &mut Diagnostics) {
    check_raw_paths(stages, diagnostics);
    check_destinations(stages, workdirs, diagnostics);
}

fn check_raw_paths(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    for stage in &stages.spec.stages {
        for step in &stage.steps {
            match &step.kind {
                StepKind::Copy(copy) => {
                    if let CopySource::StagePath { stage: from, path } = &copy.source {
                        let how = |name: &str, _: &str| {
                            format!(
                                "copy it by name with `copy artifact=\"{name}\" from=\"{}\" to=\"{}\"`",
                                from.value, copy.to.value
                            )
                        };
                        check_raw_path(stages, from, path, how, diagnostics);
                    }
                }
                StepKind::Run(run) => {
                    for mount in &run.mounts {
                        let MountKind::Bind {
                            from: Some(from),
                            source,
                            target,
                            ..
                        } = &mount.kind
                        else {
                            continue;
                        };
                        let how = |_: &str, artifact_path: &str| {
                            format!(
                                "mount it with `bind \"{}\" from=\"{}\" source=\"{artifact_path}\"`",
                                target.value, from.value
                            )
                        };
                        match source {
                            Some(source) => check_raw_path(stages, from, source, how, diagnostics),
                            None => check_whole_stage_bind(stages, from, target, diagnostics),
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Reports `path` of stage `from` when no artifact of it declares the path.
/// `how` returns how to use the suggested artifact, given its name and path.
fn check_raw_path(
    stages: &Stages<'_>,
    from: &Spanned<String>,
    path: &Spanned<String>,
    how: impl Fn(&str, &str) -> String,
    diagnostics: &mut Diagnostics,
) {
    let Some(producer) = stages.named(from.as_str()) else {
        return;
    };
    // A relative path is SC0304.
    if !unix_path::is_absolute(&path.value) || stages.artifact_containing(producer, &path.value).is_some() {
        return;
    }

    let producer_stage = stages.stage(producer);
    let normalized = unix_path::normalize(&path.value);
    let name = artifact_name_for(&normalized);
    let declared: Vec<String> = stages
        .chain(producer)
        .into_iter()
        .flat_map(|index| stages.stage(index).artifacts.iter())
        .map(|artifact| format!("`{}` ({})", artifact.name.value, artifact.path.value))
        .collect();
    let producer_label = if declared.is_empty() {
        "declares no artifacts".to_string()
    } else {
        format!("declares {}", declared.join(", "))
    };
    let how = how(&name, &normalized);

    diagnostics.push(
        Diagnostic::new(
            Code::UndeclaredArtifactPath,
            format!("`{normalized}` is not inside an artifact of stage `{}`", from.value),
        )
        .label(path.span, "no artifact declares this path")
        .label(producer_stage.name.span, producer_label)
        .help(format!(
            "declare `artifact \"{name}\" path=\"{normalized}\"` in `{}` and {how}",
            from.value
        )),
    );
}

/// Reports a `bind from=` without `source=`, which would mount the whole
/// stage (its operating system included) instead of a declared artifact,
/// unless an artifact declares the root itself.
fn check_whole_stage_bind(
    stages: &Stages<'_>,
    from: &Spanned<String>,
    target: &Spanned<String>,
    diagnostics: &mut Diagnostics,
) {
    let Some(producer) = stages.named(from.as_str()) else {
        return;
    };
    if stages.artifact_containing(producer, "/").is_some() {
        return;
    }

    let artifacts: Vec<&crate::model::Artifact> = stages
        .chain(producer)
        .into_iter()
        .flat_map(|index| stages.stage(index).artifacts.iter())
        .collect();
    let help = match artifacts.first() {
        Some(artifact) => format!(
            "mount a declared artifact with source=, such as `bind \"{}\" from=\"{}\" source=\"{}\"` for `{}`",
            target.value, from.value, artifact.path.value, artifact.name.value
        ),
        None => format!(
            "declare what the step needs in `{}` with `artifact \"NAME\" path=\"/PATH\" kind=\"dir\"`, and mount it \
             with source=\"/PATH\"",
            from.value
        ),
    };
    let producer_label = if artifacts.is_empty() {
        "declares no artifacts".to_string()
    } else {
        let declared: Vec<String> = artifacts
            .iter()
            .map(|artifact| format!("`{}` ({})", artifact.name.value, artifact.path.value))
            .collect();
        format!("declares {}", declared.join(", "))
    };

    diagnostics.push(
        Diagnostic::new(
            Code::UndeclaredArtifactPath,
            format!(
                "`bind from=\"{}\"` without `source=` mounts the whole stage",
                from.value
            ),
        )
        .label(from.span, "no artifact declares the stage's root")
        .label(stages.stage(producer).name.span, producer_label)
        .help(help),
    );
}

/// Derives an artifact name from the last component of a path.
fn artifact_name_for(path: &str) -> String {
    let base = unix_path::file_name(path);
    let name: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    if name.is_empty() || name == "." || name == ".." {
        "files".to_string()
    } else {
        name
    }
}

fn check_destinations(stages: &Stages<'_>, workdirs: &[StageWorkdirs], diagnostics: &mut Diagnostics) {
    for (index, stage) in stages.spec.stages.iter().enumerate() {
        let mut first_copy: BTreeMap<String, Span> = BTreeMap::new();

        for (position, step) in stage.steps.iter().enumerate() {
            let StepKind::Copy(copy) = &step.kind else { continue };
            let workdir = &workdirs[index].before_step[position];
            let Some(destination) = destination(stages, copy, workdir) else {
                continue;
            };

            if let Some(&earlier) = first_copy.get(&destination) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::DestinationConflict,
                        format!("two copies in stage `{}` write `{destination}`", stage.name.value),
                    )
                    .label(copy.to.span, format!("writes `{destination}` again"))
                    .label(earlier, "first written here")
                    .help("copy each artifact to its own path, or remove the copy whose files are overwritten"),
                );
            } else {
                first_copy.insert(destination, copy.to.span);
            }
        }
    }
}

/// Returns where an artifact or raw stage path copy lands, as a normalized
/// path. A `to` ending with `/` is a directory: a file keeps its name inside
/// it, while a directory's contents are copied into it. Context copies are
/// not compared, since copying sources over each other is common and harmless.
fn destination(stages: &Stages<'_>, copy: &CopyStep, workdir: &Workdir) -> Option<String> {
    let (source_path, kind) = match &copy.source {
        CopySource::Context(_) => return None,
        CopySource::Artifact { .. } => {
            let (_, artifact) = stages.copied_artifact(&copy.source)?;
            (artifact.path.value.as_str(), artifact.kind)
        }
        CopySource::StagePath { path, .. } => {
            let (_, artifact) = stages.copied_artifact(&copy.source)?;
            let same_path = unix_path::normalize(&path.value) == unix_path::normalize(&artifact.path.value);
            // Below a declared directory the kind of the path is unknown; take it as a file.
            let kind = if same_path { artifact.kind } else { ArtifactKind::File };
            (path.value.as_str(), kind)
        }
    };

    let Workdir::Known(to) = workdir.resolve(&copy.to.value) else {
        return None;
    };
    let into_directory = copy.to.value.ends_with('/') || copy.to.value == "." || copy.to.value.ends_with("/.");
    if into_directory && kind != ArtifactKind::Dir {
        let name = unix_path::file_name(&unix_path::normalize(source_path)).to_string();
        return Some(unix_path::join(&to, &name));
    }
    Some(to)
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::{self, DestinationConflict, UndeclaredArtifactPath};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[UndeclaredArtifactPath, DestinationConflict];

    const BUILD: &str = r#"stage "build" from="alpine:3" {
        artifact "app" path="/out/app" kind="executable"
        artifact "cli" path="/out/cli" kind="executable"
        artifact "web" path="/out/web" kind="dir"
        artifact "app2" path="/other/app" kind="executable"
    }
    stage "base" from="build"
    "#;

    #[test]
    fn artifact_checks_table() {
        let cases: &[(&str, &[Code])] = &[
            (
                r#"stage "run" from="alpine:3" { copy from="build" path="/out/app" to="/app" }"#,
                &[],
            ),
            (
                r#"stage "run" from="alpine:3" { copy from="build" path="/out/web/index.html" to="/i" }"#,
                &[],
            ),
            (
                r#"stage "run" from="alpine:3" { copy from="base" path="/out/app" to="/app" }"#,
                &[],
            ),
            (
                r#"stage "run" from="alpine:3" { copy from="build" path="/out" to="/app" }"#,
                &[UndeclaredArtifactPath],
            ),
            (
                r#"stage "run" from="alpine:3" { copy from="build" path="/go/bin/app" to="/app" }"#,
                &[UndeclaredArtifactPath],
            ),
            (
                r#"stage "run" from="alpine:3" { copy from="build" path="/out/../etc/passwd" to="/p" }"#,
                &[UndeclaredArtifactPath],
            ),
            (
                r#"stage "run" from="alpine:3" { run "ls /m" { bind "/m" from="build" source="/out/web" } }"#,
                &[],
            ),
            (
                r#"stage "run" from="alpine:3" { run "ls /m" { bind "/m" from="build" source="/go/pkg" } }"#,
                &[UndeclaredArtifactPath],
            ),
            // Without `source=` the bind would take the whole stage.
            (
                r#"stage "run" from="alpine:3" { run "ls /m" { bind "/m" from="build" } }"#,
                &[UndeclaredArtifactPath],
            ),
            (
                r#"stage "run" from="alpine:3" {
                    copy artifact="app" from="build" to="/usr/bin/"
                    copy artifact="cli" from="build" to="/usr/bin/"
                }"#,
                &[],
            ),
            (
                r#"stage "run" from="alpine:3" {
                    copy artifact="app" from="build" to="/usr/bin/"
                    copy artifact="app2" from="build" to="/usr/bin/"
                }"#,
                &[DestinationConflict],
            ),
            (
                r#"stage "run" from="alpine:3" {
                    workdir "/usr"
                    copy artifact="app" from="build" to="bin/app"
                    copy artifact="cli" from="build" to="/usr/bin/app"
                }"#,
                &[DestinationConflict],
            ),
            (
                r#"stage "run" from="alpine:3" {
                    copy artifact="web" from="build" to="/www/"
                    copy from="build" path="/out/web" to="/www"
                }"#,
                &[DestinationConflict],
            ),
            // Relative destinations under an image's unknown workdir are SC0304 instead.
            (
                r#"stage "run" from="alpine:3" {
                    copy artifact="app" from="build" to="app"
                    copy artifact="cli" from="build" to="app"
                }"#,
                &[],
            ),
        ];
        for (source, expected) in cases {
            let source = format!("{BUILD}\n{source}");
            assert_eq!(codes_among(&source, CODES), *expected, "{source}");
        }
    }

    #[test]
    fn whole_stage_bind_suggests_an_artifact_source() {
        let source =
            format!("{BUILD}\nstage \"run\" from=\"alpine:3\" {{ run \"ls /m\" {{ bind \"/m\" from=\"build\" }} }}");
        let help = first_among(&source, UndeclaredArtifactPath).help.unwrap_or_default();
        assert!(help.contains(r#"`bind "/m" from="build" source="/out/app"`"#), "{help}");

        let root = r#"stage "tree" from="alpine:3" { artifact "all" path="/" kind="dir" }
            stage "run" from="alpine:3" { run "ls /m" { bind "/m" from="tree" } }"#;
        assert!(codes_among(root, CODES).is_empty());
    }

    #[test]
    fn undeclared_path_help_declares_an_artifact() {
        let source = format!(
            "{BUILD}\nstage \"run\" from=\"alpine:3\" {{ copy from=\"build\" path=\"/go/bin/app\" to=\"/app\" }}"
        );
        let help = first_among(&source, UndeclaredArtifactPath).help.unwrap_or_default();
        assert!(help.contains("artifact \"app\" path=\"/go/bin/app\""), "{help}");
        assert!(
            help.contains("copy artifact=\"app\" from=\"build\" to=\"/app\""),
            "{help}"
        );

        let bind = format!(
            "{BUILD}\nstage \"run\" from=\"alpine:3\" {{ run \"ls\" {{ bind \"/m\" from=\"build\" source=\"/go/pkg\" }} }}"
        );
        let help = first_among(&bind, UndeclaredArtifactPath).help.unwrap_or_default();
        assert!(help.contains("bind \"/m\" from=\"build\" source=\"/go/pkg\""), "{help}");
    }
}
