//! Build args: the value each global arg takes, which args a stage must
//! declare to read them, and substitution into image tags.

use std::collections::{BTreeMap, BTreeSet};

use super::graph::{BuildStage, BuildStep, BuildStepKind, GlobalArg, Interpolated, StageBase};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::interpolate::{self, Part};
use crate::model::{Spanned, Spec};

/// Returns the value of every global arg: the override, else the default.
pub fn global_values(spec: &Spec, overrides: &BTreeMap<String, String>) -> BTreeMap<String, Option<String>> {
    let mut values = BTreeMap::new();
    for arg in &spec.args {
        let value = overrides
            .get(&arg.name.value)
            .cloned()
            .or_else(|| arg.default.as_ref().map(|default| default.value.clone()));
        // The first declaration wins, like the stage lookups. The name checks
        // report duplicates.
        values.entry(arg.name.value.clone()).or_insert(value);
    }
    values
}

/// Lists the args that `steps` read with `${NAME}` before an `arg` step of
/// the stage declares them, in order of first use.
pub fn inherited_args(steps: &[BuildStep]) -> Vec<String> {
    let mut declared: BTreeSet<&str> = BTreeSet::new();
    let mut inherited: Vec<String> = Vec::new();
    for step in steps {
        if let BuildStepKind::Arg { name, .. } = &step.kind {
            declared.insert(name.as_str());
            continue;
        }
        for value in interpolated_values(&step.kind) {
            for name in value.arg_names() {
                if !declared.contains(name) && !inherited.iter().any(|known| known == name) {
                    inherited.push(name.to_string());
                }
            }
        }
    }
    inherited
}

/// Returns the interpolated values of a step: the fields where `${NAME}` is expanded.
pub fn interpolated_values(kind: &BuildStepKind) -> Vec<&Interpolated> {
    match kind {
        BuildStepKind::Workdir(path) => vec![&path.value],
        BuildStepKind::Env(pairs) | BuildStepKind::Label(pairs) => pairs.iter().map(|(_, value)| value).collect(),
        BuildStepKind::User(user) => vec![user],
        BuildStepKind::Copy(copy) => std::iter::once(&copy.to.value).chain(copy.owner.as_ref()).collect(),
        BuildStepKind::Expose(values) | BuildStepKind::Volume(values) => values.iter().collect(),
        BuildStepKind::Arg { .. }
        | BuildStepKind::Run(_)
        | BuildStepKind::Cmd(_)
        | BuildStepKind::Entrypoint(_)
        | BuildStepKind::Healthcheck(_)
        | BuildStepKind::StopSignal(_)
        | BuildStepKind::Shell(_) => Vec::new(),
    }
}

/// Selects the global args that the emitted stages use, in spec order: the
/// ones a base image refers to, and the ones a stage reads or re-declares
/// without a default (so that it inherits the global value).
pub fn used_global_args(
    spec: &Spec,
    stages: &[BuildStage],
    values: &BTreeMap<String, Option<String>>,
) -> Vec<GlobalArg> {
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for stage in stages {
        if let StageBase::Image(reference) = &stage.base {
            used.extend(reference.arg_names());
        }
        used.extend(stage.inherited_args.iter().map(String::as_str));
        for step in &stage.steps {
            if let BuildStepKind::Arg { name, value: None } = &step.kind {
                used.insert(name.as_str());
            }
        }
    }

    let mut seen: BTreeSet<&str> = BTreeSet::new();
    spec.args
        .iter()
        .filter(|arg| used.contains(arg.name.as_str()) && seen.insert(arg.name.as_str()))
        .map(|arg| GlobalArg {
            name: arg.name.clone(),
            value: values.get(&arg.name.value).cloned().flatten(),
            span: arg.span,
        })
        .collect()
}

/// Substitutes global args into an image tag. Reports SC0607 for a malformed
/// `${...}` and SC0601 for an arg that is not declared or has no value.
pub fn substitute_tag(
    tag: &Spanned<String>,
    values: &BTreeMap<String, Option<String>>,
    diagnostics: &mut Diagnostics,
) -> Option<Spanned<String>> {
    let parts = match interpolate::parse(&tag.value, tag.span) {
        Ok(parts) => parts,
        Err(error) => {
            diagnostics.push(
                Diagnostic::new(Code::InvalidInterpolation, error.message)
                    .label(error.span, "in this image tag")
                    .help("write `${NAME}` to use a global build arg, or `$${` for a literal `${`"),
            );
            return None;
        }
    };

    let mut text = String::new();
    for part in parts {
        match part {
            Part::Literal(literal) => text.push_str(&literal),
            Part::Arg { name, span } => match values.get(&name) {
                Some(Some(value)) => text.push_str(value),
                Some(None) => {
                    diagnostics.push(
                        Diagnostic::new(Code::UndefinedArg, format!("build arg `{name}` has no value for this tag"))
                            .label(span, "no default and no override")
                            .help(format!("give the arg a default with `arg \"{name}\" default=\"...\"`, or pass `--build-arg {name}=VALUE`")),
                    );
                    return None;
                }
                None => {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::UndefinedArg,
                            format!("image tag uses undeclared build arg `{name}`"),
                        )
                        .label(span, "not a global arg")
                        .help(format!(
                            "declare it at the top level with `arg \"{name}\" default=\"...\"`"
                        )),
                    );
                    return None;
                }
            },
            Part::Env { name, span } => {
                diagnostics.push(env_outside_stage(&name, span, "an image tag"));
                return None;
            }
        }
    }
    Some(Spanned::new(text, tag.span))
}

/// Reports `${env:NAME}` in `what` (a `from` or an image tag), which is
/// expanded before any stage runs, so no env var exists there yet.
pub fn env_outside_stage(name: &str, span: crate::diag::Span, what: &str) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidInterpolation,
        format!("`${{env:{name}}}` in {what}, which no stage's env reaches"),
    )
    .label(span, "env vars exist only inside a stage")
    .help(format!(
        "use a global build arg here: `${{{name}}}` with `arg \"{name}\" default=\"...\"` at the top level"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;
    use crate::lower::graph::StagePath;

    fn values(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.map(str::to_string)))
            .collect()
    }

    fn arg_part(name: &str) -> Part {
        Part::Arg {
            name: name.into(),
            span: Span::default(),
        }
    }

    fn step(kind: BuildStepKind) -> BuildStep {
        BuildStep {
            kind,
            span: Span::default(),
        }
    }

    #[test]
    fn tag_substitution_uses_value() {
        let mut diagnostics = Diagnostics::default();
        let tag = Spanned::new("app:${VERSION}".to_string(), Span::new(0, 16));
        let substituted = substitute_tag(&tag, &values(&[("VERSION", Some("2.0"))]), &mut diagnostics);
        assert_eq!(substituted.map(|tag| tag.value), Some("app:2.0".to_string()));
        assert!(diagnostics.is_empty());
    }

    #[test]
    fn tag_substitution_reports_missing_value() {
        let mut diagnostics = Diagnostics::default();
        let tag = Spanned::new("app:${VERSION}".to_string(), Span::new(0, 16));
        assert!(substitute_tag(&tag, &values(&[("VERSION", None)]), &mut diagnostics).is_none());
        assert_eq!(diagnostics.iter().next().map(|d| d.code), Some(Code::UndefinedArg));

        let mut diagnostics = Diagnostics::default();
        assert!(substitute_tag(&tag, &values(&[]), &mut diagnostics).is_none());
        assert_eq!(diagnostics.iter().next().map(|d| d.code), Some(Code::UndefinedArg));
    }

    #[test]
    fn inherited_args_stop_at_local_declaration() {
        let user = Interpolated {
            parts: vec![arg_part("USER_NAME")],
            span: Span::default(),
        };
        let workdir = StagePath {
            value: Interpolated {
                parts: vec![Part::Literal("/".into()), arg_part("DIR")],
                span: Span::default(),
            },
            relative: false,
        };
        let steps = vec![
            step(BuildStepKind::User(user.clone())),
            step(BuildStepKind::Arg {
                name: Spanned::new("DIR".into(), Span::default()),
                value: None,
            }),
            step(BuildStepKind::Workdir(workdir)),
            step(BuildStepKind::User(user)),
        ];
        assert_eq!(inherited_args(&steps), vec!["USER_NAME".to_string()]);
    }
}
