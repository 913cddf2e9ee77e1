//! Name checks: references to unknown stages and artifacts (SC0101,
//! SC0102), duplicate names (SC0103) and names with invalid characters
//! (SC0104). A bare-word `from=` typo is reported by `names.rs` already.
//!
//! Case rules: a reference to a stage or artifact must match its name
//! exactly. Two stage names that differ only in case are a duplicate
//! (SC0103), because Dockerfile lowercases stage names, so `Builder` and
//! `builder` would be the same stage. Artifact names of one stage clash
//! ignoring case as well, since two artifacts that differ only in case are
//! a trap for the reader. Build args and secret ids are case-sensitive in
//! Docker (`HTTP_PROXY` and `http_proxy` are both predefined args), so only
//! exact duplicates clash.

use std::collections::BTreeMap;

use super::chain::Stages;
use crate::diag::{Code, Diagnostic, Diagnostics, suggest::did_you_mean};
use crate::model::interpolate::is_arg_name;
use crate::model::{CopySource, MountKind, Spanned, StepKind};

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    check_stage_references(stages, diagnostics);
    check_artifact_references(stages, diagnostics);
    check_duplicates(stages, diagnostics);
    check_name_syntax(stages, diagnostics);
}

fn check_stage_references(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;

    for stage in &spec.stages {
        for step in &stage.steps {
            match &step.kind {
                StepKind::Copy(copy) => {
                    if let CopySource::Artifact { stage: from, .. } | CopySource::StagePath { stage: from, .. } =
                        &copy.source
                    {
                        report_unknown_stage(stages, from, "`copy from=`", diagnostics);
                    }
                }
                StepKind::Run(run) => {
                    for mount in &run.mounts {
                        if let MountKind::Bind { from: Some(from), .. } = &mount.kind {
                            report_unknown_stage(stages, from, "`bind from=`", diagnostics);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    for image in &spec.images {
        report_unknown_stage(stages, &image.stage, "`image`", diagnostics);
    }
    for check in &spec.checks {
        report_unknown_stage(stages, check, "`check`", diagnostics);
    }
}

fn report_unknown_stage(stages: &Stages<'_>, name: &Spanned<String>, place: &str, diagnostics: &mut Diagnostics) {
    if stages.named(name.as_str()).is_some() {
        return;
    }

    let message = format!("unknown stage `{}` in {place}", name.value);
    let diagnostic = match did_you_mean(name.as_str(), stages.names()) {
        Some(suggestion) => Diagnostic::new(Code::UnknownStage, message)
            .label(name.span, format!("did you mean `{suggestion}`?"))
            .help(format!(
                "write \"{suggestion}\", the name of the stage declared with `stage \"{suggestion}\"`"
            )),
        None => {
            let known = list(stages.names());
            let help = if name.value.contains([':', '/', '@']) {
                format!(
                    "{place} names a stage of this spec, not an image; to use files from `{}`, declare \
                     `stage \"tools\" from=\"{}\"` with an `artifact` and copy that (stages here: {known})",
                    name.value, name.value
                )
            } else if known.is_empty() {
                "declare the stage with `stage \"NAME\" from=\"IMAGE\"`".to_string()
            } else {
                format!("use one of the stages of this spec: {known}")
            };
            Diagnostic::new(Code::UnknownStage, message)
                .label(name.span, "no stage has this name")
                .help(help)
        }
    };
    diagnostics.push(diagnostic);
}

fn check_artifact_references(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;

    for stage in &spec.stages {
        for step in &stage.steps {
            let StepKind::Copy(copy) = &step.kind else { continue };
            let CopySource::Artifact { stage: from, artifact } = &copy.source else {
                continue;
            };
            // An unknown producer is SC0101 already.
            let Some(producer) = stages.named(from.as_str()) else {
                continue;
            };
            let producer = stages.stage(producer);
            if producer
                .artifacts
                .iter()
                .any(|declared| declared.name.value == artifact.value)
            {
                continue;
            }

            let declared_names = producer.artifacts.iter().map(|declared| declared.name.as_str());
            let suggestion = did_you_mean(artifact.as_str(), declared_names.clone());
            let elsewhere: Vec<&str> = spec
                .stages
                .iter()
                .filter(|other| {
                    other
                        .artifacts
                        .iter()
                        .any(|declared| declared.name.value == artifact.value)
                })
                .map(|other| other.name.as_str())
                .collect();

            let label = match suggestion {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("`{}` declares no artifact with this name", producer.name.value),
            };
            let producer_label = if producer.artifacts.is_empty() {
                "declares no artifacts".to_string()
            } else {
                format!("declares {}", list(declared_names))
            };
            let help = match (suggestion, elsewhere.first()) {
                (Some(suggestion), _) => format!("write artifact=\"{suggestion}\""),
                (None, Some(other)) => format!(
                    "`{}` is declared by stage `{other}`: write from=\"{other}\", or declare it in `{}` with \
                     `artifact \"{}\" path=\"/PATH\"`",
                    artifact.value, producer.name.value, artifact.value
                ),
                (None, None) => format!(
                    "declare it in `{}` with `artifact \"{}\" path=\"/PATH\"`, the absolute path the stage writes",
                    producer.name.value, artifact.value
                ),
            };

            diagnostics.push(
                Diagnostic::new(
                    Code::UnknownArtifact,
                    format!("stage `{}` has no artifact `{}`", producer.name.value, artifact.value),
                )
                .label(artifact.span, label)
                .label(producer.name.span, producer_label)
                .help(help),
            );
        }
    }
}

fn check_duplicates(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;

    let stage_names = spec.stages.iter().map(|stage| &stage.name);
    report_duplicates(stage_names, true, "stage", "rename one of the stages", diagnostics);

    for stage in &spec.stages {
        let artifact_names = stage.artifacts.iter().map(|artifact| &artifact.name);
        report_duplicates(
            artifact_names,
            true,
            "artifact",
            "rename one of the artifacts of this stage",
            diagnostics,
        );
    }

    let arg_names = spec.args.iter().map(|arg| &arg.name);
    report_duplicates(
        arg_names,
        false,
        "global build arg",
        "remove one of the declarations",
        diagnostics,
    );

    let secret_names = spec.secrets.iter().map(|secret| &secret.name);
    report_duplicates(
        secret_names,
        false,
        "secret",
        "remove one of the declarations",
        diagnostics,
    );
}

/// Reports every name that repeats an earlier one, labelling both.
fn report_duplicates<'a>(
    names: impl Iterator<Item = &'a Spanned<String>>,
    ignore_case: bool,
    what: &str,
    help: &str,
    diagnostics: &mut Diagnostics,
) {
    let mut first: BTreeMap<String, &Spanned<String>> = BTreeMap::new();
    for name in names {
        let key = if ignore_case {
            name.value.to_lowercase()
        } else {
            name.value.clone()
        };
        let Some(earlier) = first.get(&key) else {
            first.insert(key, name);
            continue;
        };

        let (message, help) = if earlier.value == name.value {
            (format!("duplicate {what} `{}`", name.value), help.to_string())
        } else {
            let message = format!(
                "{what} names `{}` and `{}` differ only in case",
                earlier.value, name.value
            );
            (
                message,
                format!("{help}; {what} names that differ only in case count as the same name"),
            )
        };
        diagnostics.push(
            Diagnostic::new(Code::DuplicateName, message)
                .label(name.span, "declared again here")
                .label(earlier.span, "first declared here")
                .help(help),
        );
    }
}

fn check_name_syntax(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;

    for stage in &spec.stages {
        check_stage_name(&stage.name, diagnostics);
        for artifact in &stage.artifacts {
            if !is_plain_name(&artifact.name.value) {
                diagnostics.push(invalid_name(
                    &artifact.name,
                    "artifact",
                    "letters, digits, `_`, `-` and `.`",
                ));
            }
        }
        for step in &stage.steps {
            match &step.kind {
                StepKind::Arg(arg) => check_arg_name(&arg.name, diagnostics),
                StepKind::Env(pairs) => pairs.iter().for_each(|(name, _)| check_env_name(name, diagnostics)),
                StepKind::Run(run) => {
                    run.env.iter().for_each(|(name, _)| check_env_name(name, diagnostics));
                    for mount in &run.mounts {
                        if let MountKind::Secret { env: Some(name), .. } = &mount.kind {
                            check_env_name(name, diagnostics);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    for arg in &spec.args {
        check_arg_name(&arg.name, diagnostics);
    }
    for secret in &spec.secrets {
        if !is_plain_name(&secret.name.value) {
            diagnostics.push(invalid_name(
                &secret.name,
                "secret id",
                "letters, digits, `_`, `-` and `.`",
            ));
        }
    }
}

/// Dockerfile accepts a stage name that, lowercased, matches
/// `[a-z][a-z0-9_.-]*`. stagec writes stage names lowercased, so uppercase
/// letters are accepted, and SC0103 catches two names that then collide.
/// BuildKit reserves `scratch` and `context`.
fn check_stage_name(name: &Spanned<String>, diagnostics: &mut Diagnostics) {
    let lowered = name.value.to_ascii_lowercase();
    let mut chars = lowered.chars();
    let valid = chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));

    if !valid {
        diagnostics.push(invalid_name(
            name,
            "stage",
            "a letter first, then letters, digits, `_`, `-` and `.`",
        ));
    } else if lowered == "scratch" || lowered == "context" {
        diagnostics.push(
            Diagnostic::new(
                Code::InvalidName,
                format!("`{}` is reserved and cannot name a stage", name.value),
            )
            .label(name.span, "reserved name")
            .help(format!(
                "`{lowered}` has a fixed meaning in builds (from=\"scratch\" is the empty image); rename the stage, \
                     for example to `{lowered}-stage`"
            )),
        );
    }
}

fn check_arg_name(name: &Spanned<String>, diagnostics: &mut Diagnostics) {
    if !is_arg_name(&name.value) {
        diagnostics.push(invalid_name(
            name,
            "build arg",
            "a letter or `_` first, then letters, digits and `_`",
        ));
    }
}

/// Env names may contain any character but `=`. Dockerfile `ENV` splits on
/// whitespace, so names with `=`, whitespace or control characters are
/// rejected. Names that a shell cannot read, such as `JAVA.HOME`, stay
/// valid for programs that read their environment directly.
fn check_env_name(name: &Spanned<String>, diagnostics: &mut Diagnostics) {
    let invalid = name.value.is_empty()
        || name
            .value
            .chars()
            .any(|c| c == '=' || c.is_whitespace() || c.is_control());
    if invalid {
        diagnostics.push(invalid_name(
            name,
            "env var",
            "no `=`, whitespace or control characters",
        ));
    }
}

/// Artifact names and secret ids: letters, digits, `_`, `-` and `.`.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn invalid_name(name: &Spanned<String>, what: &str, rule: &str) -> Diagnostic {
    let suggestion = suggest_name(&name.value, what);
    let help = if suggestion.is_empty() || suggestion == name.value {
        format!("{what} names allow {rule}")
    } else {
        format!("{what} names allow {rule}; for example `{suggestion}`")
    };
    Diagnostic::new(Code::InvalidName, format!("invalid {what} name `{}`", name.value))
        .label(name.span, "invalid characters")
        .help(help)
}

/// Replaces characters that no name allows, to show an example. Stage and
/// build arg names cannot start with a digit, so those get a prefix.
fn suggest_name(name: &str, what: &str) -> String {
    let separator = if what == "build arg" { '_' } else { '-' };
    let replaced: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                separator
            }
        })
        .collect();
    let trimmed = replaced.trim_matches(separator);
    let starts_with_digit = trimmed.starts_with(|c: char| c.is_ascii_digit());
    match what {
        "stage" if starts_with_digit => format!("stage-{trimmed}"),
        "build arg" if starts_with_digit => format!("_{trimmed}"),
        _ => trimmed.to_string(),
    }
}

/// Formats names as "`a`, `b`, `c`".
pub fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::{self, DuplicateName, InvalidName, UnknownArtifact, UnknownStage};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[UnknownStage, UnknownArtifact, DuplicateName, InvalidName];

    #[test]
    fn name_checks_table() {
        let cases: &[(&str, &[Code])] = &[
            (
                r#"stage "build" from="alpine:3" { artifact "app" path="/app" }
                   stage "run" from="alpine:3" { copy artifact="app" from="build" to="/app" }"#,
                &[],
            ),
            (
                r#"stage "run" from="alpine:3" { copy artifact="app" from="bulid" to="/app" }"#,
                &[UnknownStage],
            ),
            (
                r#"stage "run" from="alpine:3" { copy from="bulid" path="/app" to="/app" }"#,
                &[UnknownStage],
            ),
            (
                r#"stage "run" from="alpine:3" { run "true" { bind "/src" from="bulid" } }"#,
                &[UnknownStage],
            ),
            (r#"stage "run" from="alpine:3"; image "runtime""#, &[UnknownStage]),
            (r#"stage "run" from="alpine:3"; check "tset""#, &[UnknownStage]),
            // A bare-word base typo is reported once, by the base resolver.
            (
                r#"stage "build" from="alpine:3"; stage "run" from="bulid""#,
                &[UnknownStage],
            ),
            (
                r#"stage "build" from="alpine:3" { artifact "app" path="/app" }
                   stage "run" from="alpine:3" { copy artifact="ap" from="build" to="/app" }"#,
                &[UnknownArtifact],
            ),
            (
                r#"stage "a" from="alpine:3"; stage "a" from="alpine:3""#,
                &[DuplicateName],
            ),
            (
                r#"stage "Build" from="alpine:3"; stage "build" from="alpine:3""#,
                &[DuplicateName],
            ),
            (
                r#"stage "a" from="alpine:3" { artifact "x" path="/x"; artifact "X" path="/y" }"#,
                &[DuplicateName],
            ),
            (r#"arg "V"; arg "V"; stage "a" from="alpine:3""#, &[DuplicateName]),
            (r#"arg "v"; arg "V"; stage "a" from="alpine:3""#, &[]),
            (r#"secret "t"; secret "t"; stage "a" from="alpine:3""#, &[DuplicateName]),
            (
                r#"stage "a" from="alpine:3"; stage "b" from="alpine:3" { artifact "x" path="/x" }"#,
                &[],
            ),
            (r#"stage "2build" from="alpine:3""#, &[InvalidName]),
            (r#"stage "build/x" from="alpine:3""#, &[InvalidName]),
            (r#"stage "Build.v2_x-y" from="alpine:3""#, &[]),
            (r#"stage "scratch" from="alpine:3""#, &[InvalidName]),
            (r#"stage "Context" from="alpine:3""#, &[InvalidName]),
            (r#"arg "MY-ARG"; stage "a" from="alpine:3""#, &[InvalidName]),
            (r#"stage "a" from="alpine:3" { arg "1X" }"#, &[InvalidName]),
            (r#"secret "npm token"; stage "a" from="alpine:3""#, &[InvalidName]),
            (
                r#"stage "a" from="alpine:3" { artifact "my app" path="/x" }"#,
                &[InvalidName],
            ),
            (r#"stage "a" from="alpine:3" { env "A B"="x" }"#, &[InvalidName]),
            (r#"stage "a" from="alpine:3" { env "JAVA.HOME"="x" }"#, &[]),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, CODES), *expected, "{source}");
        }
    }

    #[test]
    fn unknown_stage_suggests_closest_name() {
        let source = r#"stage "builder" from="alpine:3"
                        stage "run" from="alpine:3" { copy artifact="app" from="bulider" to="/app" }"#;
        let diagnostic = first_among(source, UnknownStage);
        assert_eq!(diagnostic.labels[0].text, "did you mean `builder`?");
        assert!(diagnostic.help.as_deref().unwrap_or_default().contains("\"builder\""));
    }

    #[test]
    fn unknown_artifact_names_the_declaring_stage() {
        let source = r#"stage "a" from="alpine:3" { artifact "x" path="/x" }
                        stage "b" from="alpine:3" { artifact "bin" path="/bin" }
                        stage "c" from="alpine:3" { copy artifact="bin" from="a" to="/b" }"#;
        let diagnostic = first_among(source, UnknownArtifact);
        assert_eq!(diagnostic.labels[1].text, "declares `x`");
        assert!(
            diagnostic
                .help
                .as_deref()
                .unwrap_or_default()
                .contains("declared by stage `b`"),
            "{diagnostic:?}"
        );
    }

    #[test]
    fn invalid_name_suggestions_table() {
        let cases = [
            (r#"stage "2nd-build" from="alpine:3""#, "`stage-2nd-build`"),
            (r#"stage "build/x" from="alpine:3""#, "`build-x`"),
            (r#"arg "1X"; stage "a" from="alpine:3""#, "`_1X`"),
            (r#"arg "MY-ARG"; stage "a" from="alpine:3""#, "`MY_ARG`"),
            (r#"secret "npm token"; stage "a" from="alpine:3""#, "`npm-token`"),
        ];
        for (source, suggestion) in cases {
            let help = first_among(source, InvalidName).help.unwrap_or_default();
            assert!(help.ends_with(&format!("for example {suggestion}")), "{source}: {help}");
        }
    }

    #[test]
    fn stage_reference_differing_in_case_suggests_exact_name() {
        let source = r#"stage "builder" from="alpine:3"; stage "r" from="Builder"; image "r""#;
        let diagnostic = first_among(source, UnknownStage);
        let help = diagnostic.help.unwrap_or_default();
        assert!(help.contains(r#"from="builder""#), "{help}");
        assert!(!help.contains("Builder:1.0"), "{help}");
    }

    #[test]
    fn duplicate_labels_both_declarations() {
        let source = r#"stage "a" from="alpine:3"
                        stage "A" from="alpine:3""#;
        let diagnostic = first_among(source, DuplicateName);
        assert_eq!(diagnostic.labels.len(), 2);
        assert!(diagnostic.message.contains("differ only in case"));
    }
}
