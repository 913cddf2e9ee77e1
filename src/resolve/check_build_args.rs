//! Build arg values against the spec: a `from=` whose build arg value names
//! a stage (SC0105), and `--build-arg` overrides of args the spec never
//! declares (SC0601). The first runs with the defaults as part of
//! [`super::validate`], and [`check_build_arg_overrides`] runs both with
//! the values given on the command line.

use std::collections::BTreeMap;

use super::chain::Stages;
use crate::diag::{Code, Diagnostic, Diagnostics, display_value, suggest::did_you_mean};
use crate::model::interpolate::{self, Part};
use crate::model::{Base, Spec, StepKind};

/// Reports every `from=` whose value, with the arg defaults, names a stage.
pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    diagnostics.extend(stage_names_from_args(stages.spec, &BTreeMap::new()));
}

/// Checks `--build-arg` overrides against `spec`: each name must be a
/// declared build arg (global or of a stage), and no `from=` may become
/// the name of a stage with these values. It is meant for the commands
/// that take `--build-arg`, which know the overrides.
pub fn check_build_arg_overrides(spec: &Spec, overrides: &BTreeMap<String, String>) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();

    let mut declared: Vec<&str> = spec.args.iter().map(|arg| arg.name.as_str()).collect();
    for stage in &spec.stages {
        for step in &stage.steps {
            if let StepKind::Arg(arg) = &step.kind {
                declared.push(arg.name.as_str());
            }
        }
    }
    for name in overrides.keys() {
        if declared.contains(&name.as_str()) {
            continue;
        }
        let mut diagnostic = Diagnostic::new(
            Code::UndefinedArg,
            format!("--build-arg `{}` names no build arg of the spec", display_value(name)),
        );
        let help = match did_you_mean(name, declared.iter().copied()) {
            Some(suggestion) => {
                if let Some(arg) = spec.args.iter().find(|arg| arg.name.value == suggestion) {
                    diagnostic = diagnostic.label(arg.name.span, format!("did you mean `{suggestion}`?"));
                }
                format!("write --build-arg {suggestion}=..., or declare `arg \"{name}\"` in the spec")
            }
            None if declared.is_empty() => {
                format!("the spec declares no build args; declare `arg \"{name}\" default=\"...\"` to use one")
            }
            None => format!(
                "declare `arg \"{name}\" default=\"...\"` in the spec, or pass one of its args: {}",
                // A stage that redeclares a global arg names it twice.
                declared
                    .iter()
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        diagnostics.push(diagnostic.help(help));
    }

    diagnostics.extend(stage_names_from_args(spec, overrides));
    diagnostics.sort();
    diagnostics
}

/// Returns an SC0105 for each image `from=` that, with the global arg
/// values (an override, else the default), equals a stage name. Dockerfile
/// matches stage names without regard to case, so this does too.
fn stage_names_from_args(spec: &Spec, overrides: &BTreeMap<String, String>) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    let value_of = |name: &str| {
        overrides.get(name).map(String::as_str).or_else(|| {
            let arg = spec.args.iter().find(|arg| arg.name.value == name)?;
            arg.default.as_ref().map(|default| default.as_str())
        })
    };

    for stage in &spec.stages {
        let Base::Image(reference) = &stage.base else { continue };
        let Ok(parts) = interpolate::parse(&reference.value, reference.span) else {
            continue;
        };
        if !parts.iter().any(|part| matches!(part, Part::Arg { .. })) {
            continue;
        }

        let mut value = String::new();
        let mut args: Vec<&str> = Vec::new();
        let complete = parts.iter().all(|part| match part {
            Part::Literal(text) => {
                value.push_str(text);
                true
            }
            Part::Arg { name, .. } => {
                args.push(name);
                value_of(name).map(|arg_value| value.push_str(arg_value)).is_some()
            }
            // An env var has no value in `from=`, where SC0607 reports it.
            Part::Env { .. } => false,
        });
        if !complete {
            continue;
        }
        let Some(named) = spec
            .stages
            .iter()
            .find(|other| other.name.value.eq_ignore_ascii_case(&value))
        else {
            continue;
        };

        let source = if args.iter().any(|name| overrides.contains_key(*name)) {
            "with the --build-arg values"
        } else {
            "with the arg defaults"
        };
        diagnostics.push(
            Diagnostic::new(
                Code::StageFromBuildArg,
                format!(
                    "`from` of stage `{}` is `{}` {source}, the name of a stage",
                    stage.name.value,
                    display_value(&value)
                ),
            )
            .label(reference.span, format!("becomes `{}`", display_value(&value)))
            .label(named.name.span, "a stage of this name")
            .help(format!(
                "stagec resolves stage bases when it compiles, so a build arg cannot choose a stage; write \
                 from=\"{}\" to build on it, or give the arg an image reference such as `alpine:3.20`",
                named.name.value
            )),
        );
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::check_build_arg_overrides;
    use crate::diag::Code::{self, StageFromBuildArg, UndefinedArg};
    use crate::resolve::test_support::codes_among;

    fn override_codes(source: &str, overrides: &[(&str, &str)]) -> Vec<Code> {
        let compilation = crate::compile::check(source);
        let spec = compilation.spec.expect("valid KDL");
        let overrides: BTreeMap<String, String> = overrides
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        check_build_arg_overrides(&spec, &overrides)
            .into_iter()
            .map(|d| d.code)
            .collect()
    }

    const SPEC: &str = r#"arg "BASE" default="alpine:3"
        arg "VERSION" default="1"
        stage "secretstage" from="alpine:3" { arg "LEVEL"; run "echo leaked > /leak" }
        stage "r" from="${BASE}" { cmd "cat" "/leak" }
        image "r" tag="r:1""#;

    /// Overrides given on the command line, and the codes they cause.
    type OverrideCase = (&'static [(&'static str, &'static str)], &'static [Code]);

    #[test]
    fn override_table() {
        let cases: &[OverrideCase] = &[
            (&[], &[]),
            (&[("VERSION", "2")], &[]),
            (&[("LEVEL", "2")], &[]),
            (&[("VERSON", "2")], &[UndefinedArg]),
            (&[("BASE", "secretstage")], &[StageFromBuildArg]),
            (&[("BASE", "SecretStage")], &[StageFromBuildArg]),
            (&[("BASE", "debian:12")], &[]),
        ];
        for (overrides, expected) in cases {
            assert_eq!(override_codes(SPEC, overrides), *expected, "{overrides:?}");
        }
    }

    #[test]
    fn default_naming_a_stage_is_reported() {
        let source = r#"arg "BASE" default="builder"
            stage "builder" from="alpine:3"
            stage "app" from="${BASE}"
            image "app" tag="app:1""#;
        assert_eq!(codes_among(source, &[StageFromBuildArg]), [StageFromBuildArg]);
    }

    #[test]
    fn unknown_override_lists_redeclared_arg_once() {
        let source = r#"
            arg "MSG" default="hi"
            stage "app" from="alpine:3" {
                arg "MSG"
                arg "STAGEARG" default="x"
                run "echo $MSG"
            }
            image "app" tag="app:1""#;
        let compilation = crate::compile::check(source);
        let spec = compilation.spec.expect("valid KDL");
        let overrides = BTreeMap::from([("ZZZZZZZZ".to_string(), "2".to_string())]);
        let diagnostics = check_build_arg_overrides(&spec, &overrides);
        let help = diagnostics
            .iter()
            .next()
            .expect("one diagnostic")
            .help
            .clone()
            .unwrap_or_default();
        assert!(help.ends_with("`MSG`, `STAGEARG`"), "{help}");
    }

    #[test]
    fn unknown_override_suggests_declared_arg() {
        let compilation = crate::compile::check(SPEC);
        let spec = compilation.spec.expect("valid KDL");
        let overrides = BTreeMap::from([("VERSON".to_string(), "2".to_string())]);
        let diagnostics = check_build_arg_overrides(&spec, &overrides);
        let diagnostic = diagnostics.iter().next().expect("one diagnostic");
        assert_eq!(diagnostic.labels[0].text, "did you mean `VERSION`?");
        assert!(
            diagnostic
                .help
                .as_deref()
                .unwrap_or_default()
                .contains("--build-arg VERSION=")
        );
    }
}
