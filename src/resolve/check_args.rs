//! Interpolation checks: malformed `${...}` (SC0607), and `${NAME}` naming
//! a build arg that is not visible at that place (SC0601). `from=` and
//! image tags can use global args only. A stage field can use the global
//! args and the args its stage declared earlier. A `${NAME}` naming a secret is
//! SC0602, reported by `check_secrets`.

use super::chain::Stages;
use super::check_names::list;
use super::fields::{Scope, interpolated_fields, interpolation_span};
use super::platform_args;
use crate::diag::{Code, Diagnostic, Diagnostics, Span, suggest::did_you_mean};
use crate::model::interpolate::{self, Part};
use crate::model::{ArgDecl, StepKind};

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;

    for field in interpolated_fields(spec) {
        let parts = match interpolate::parse(&field.value.value, field.value.span) {
            Ok(parts) => parts,
            Err(error) => {
                diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidInterpolation,
                        format!("invalid interpolation in {}", field.what),
                    )
                    .label(interpolation_span(field.value, error.span), "malformed `${...}`")
                    .help(error.message),
                );
                continue;
            }
        };

        for part in parts {
            let Part::Arg { name, span } = part else { continue };
            let is_secret = spec
                .secrets
                .iter()
                .any(|secret| secret.name.value.eq_ignore_ascii_case(&name));
            if is_secret {
                continue;
            }
            let visible = visible_args(stages, field.scope);
            if visible.iter().any(|arg| arg.name.value == name) {
                continue;
            }
            if let Scope::Stage { stage, .. } = field.scope
                && platform_args::declared_by_backend(stages.stage(stage).cross_compile, &name)
            {
                continue;
            }
            let span = interpolation_span(field.value, span);
            diagnostics.push(undefined_arg(stages, field.scope, field.what, &name, span, &visible));
        }
    }
}

/// Returns the args a field in `scope` can interpolate.
fn visible_args<'a>(stages: &Stages<'a>, scope: Scope) -> Vec<&'a ArgDecl> {
    let mut visible: Vec<&ArgDecl> = stages.spec.args.iter().collect();
    if let Scope::Stage { stage, step } = scope {
        visible.extend(
            declared_args(stages, stage)
                .filter(|(position, _)| *position < step)
                .map(|(_, arg)| arg),
        );
    }
    visible
}

/// Returns the `arg` steps of a stage with their step positions.
fn declared_args<'a>(stages: &Stages<'a>, stage: usize) -> impl Iterator<Item = (usize, &'a ArgDecl)> {
    stages
        .stage(stage)
        .steps
        .iter()
        .enumerate()
        .filter_map(|(position, step)| match &step.kind {
            StepKind::Arg(arg) => Some((position, arg)),
            _ => None,
        })
}

fn undefined_arg(
    stages: &Stages<'_>,
    scope: Scope,
    what: &str,
    name: &str,
    span: Span,
    visible: &[&ArgDecl],
) -> Diagnostic {
    let message = format!("undefined build arg `{name}` in {what}");
    let suggestion = did_you_mean(name, visible.iter().map(|arg| arg.name.as_str()));
    let label = match suggestion {
        Some(suggestion) => format!("did you mean `{suggestion}`?"),
        None => "not declared where this field can see it".to_string(),
    };
    let diagnostic = Diagnostic::new(Code::UndefinedArg, message).label(span, label);

    // Where the arg is declared, if anywhere, decides the fix.
    let in_same_stage = match scope {
        Scope::Stage { stage, step } => {
            declared_args(stages, stage).find(|(position, arg)| *position >= step && arg.name.value == name)
        }
        Scope::Global => None,
    };
    if let Some((_, arg)) = in_same_stage {
        return diagnostic.label(arg.span, "declared here, after its use").help(format!(
            "move `arg \"{name}\"` above this line; an arg is visible only after its declaration"
        ));
    }

    if platform_args::is_platform_arg(name) {
        let help = match scope {
            Scope::Global => format!(
                "{what} can use only global args declared with `arg`, and stagec does not set `{name}` there; \
                 choose where a stage runs with platform= instead"
            ),
            Scope::Stage { .. } if platform_args::TARGET_PLATFORM_ARGS.contains(&name) => format!(
                "BuildKit sets `{name}` for every build, but a stage sees it only after `arg \"{name}\"`: add that \
                 line to the stage before this use, or set cross-compile=#true on the stage, which declares it"
            ),
            Scope::Stage { .. } => format!(
                "BuildKit sets `{name}` for every build, but a stage sees it only after `arg \"{name}\"`: add that \
                 line to the stage before this use"
            ),
        };
        return diagnostic.help(help);
    }

    let other_stages: Vec<(&str, &ArgDecl)> = stages
        .spec
        .stages
        .iter()
        .enumerate()
        .filter(|(index, _)| !matches!(scope, Scope::Stage { stage, .. } if stage == *index))
        .flat_map(|(index, stage)| declared_args(stages, index).map(move |(_, arg)| (stage.name.as_str(), arg)))
        .filter(|(_, arg)| arg.name.value == name)
        .collect();
    if let Some((stage_name, arg)) = other_stages.first() {
        let help = match scope {
            Scope::Global => {
                format!("{what} can use only global args; declare `arg \"{name}\"` at the top level, outside any stage")
            }
            Scope::Stage { .. } => format!(
                "args are not inherited from other stages; declare `arg \"{name}\"` at the top level, or add \
                 `arg \"{name}\"` to this stage before its use"
            ),
        };
        return diagnostic
            .label(arg.span, format!("declared only in stage `{stage_name}`"))
            .help(help);
    }

    let help = match suggestion {
        Some(suggestion) => {
            format!("write `${{{suggestion}}}`, or declare `arg \"{name}\" default=\"...\"` at the top level")
        }
        None if visible.is_empty() => format!("declare it at the top level with `arg \"{name}\" default=\"...\"`"),
        None => format!(
            "declare it at the top level with `arg \"{name}\" default=\"...\"` (visible here: {})",
            list(visible.iter().map(|arg| arg.name.as_str()))
        ),
    };
    // In a stage, `${PATH}` and the like usually mean the env var.
    let help = match (scope, suggestion) {
        (Scope::Stage { .. }, None) => format!("write `${{env:{name}}}` to read the env var `{name}`, or {help}"),
        _ => help,
    };
    diagnostic.help(help)
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::{self, InvalidInterpolation, UndefinedArg};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[UndefinedArg, InvalidInterpolation];

    #[test]
    fn interpolation_table() {
        let cases: &[(&str, &[Code])] = &[
            (r#"arg "GO" default="1.19"; stage "a" from="golang:${GO}""#, &[]),
            (
                r#"arg "GO" default="1.19"; stage "a" from="golang:${GOO}""#,
                &[UndefinedArg],
            ),
            (
                r#"stage "a" from="golang:${GO}" { arg "GO" default="1.19" }"#,
                &[UndefinedArg],
            ),
            (r#"arg "V"; stage "a" from="alpine:3" { env V="${V}" }"#, &[]),
            (r#"stage "a" from="alpine:3" { arg "V"; env V="${V}" }"#, &[]),
            (
                r#"stage "a" from="alpine:3" { env V="${V}"; arg "V" }"#,
                &[UndefinedArg],
            ),
            (
                r#"stage "a" from="alpine:3" { arg "V" }; stage "b" from="a" { label "v"="${V}" }"#,
                &[UndefinedArg],
            ),
            (
                r#"stage "a" from="alpine:3" { workdir "/src/${APP}" }"#,
                &[UndefinedArg],
            ),
            (
                r#"stage "a" from="alpine:3" { copy "a" to="${DEST}/" owner="${UID}" }"#,
                &[UndefinedArg, UndefinedArg],
            ),
            (
                r#"stage "a" from="alpine:3" { user "${USER}"; expose "${PORT}"; volume "${DATA}" }"#,
                &[UndefinedArg, UndefinedArg, UndefinedArg],
            ),
            (
                r#"stage "a" from="alpine:3"; image "a" tag="app:${VERSION}""#,
                &[UndefinedArg],
            ),
            (
                r#"arg "VERSION"; stage "a" from="alpine:3"; image "a" tag="app:${VERSION}""#,
                &[],
            ),
            (
                r#"stage "a" from="alpine:3" { arg "VERSION" }; image "a" tag="app:${VERSION}""#,
                &[UndefinedArg],
            ),
            // Only `${NAME}` interpolates; shell syntax elsewhere is literal.
            (r#"stage "a" from="alpine:3" { env P="$HOME/bin:$${PATH}" }"#, &[]),
            (r#"stage "a" from="alpine:3" { run "echo ${UNDECLARED}" }"#, &[]),
            (
                r#"stage "a" from="alpine:3" { env P="${A:-b}" }"#,
                &[InvalidInterpolation],
            ),
            (r#"stage "a" from="alpine:3" { env P="${A" }"#, &[InvalidInterpolation]),
            (r#"stage "a" from="alpine:${}""#, &[InvalidInterpolation]),
            // Platform args: declared by the stage, or by the backend in a cross-compiling stage.
            (r#"stage "a" from="alpine:3" { workdir "/src/${TARGETARCH}" }"#, &[UndefinedArg]),
            (r#"stage "a" from="alpine:3" { arg "TARGETARCH"; workdir "/src/${TARGETARCH}" }"#, &[]),
            (
                r#"stage "a" from="golang:1.19" platform="build" cross-compile=#true { workdir "/src/${TARGETARCH}" }"#,
                &[],
            ),
            (
                r#"stage "a" from="golang:1.19" cross-compile=#true { workdir "/src/${BUILDARCH}" }"#,
                &[UndefinedArg],
            ),
            (r#"stage "a" from="alpine:${TARGETARCH}""#, &[UndefinedArg]),
            // A secret in `${}` is SC0602, not an undefined arg.
            (r#"secret "token"; stage "a" from="alpine:3" { env T="${token}" }"#, &[]),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, CODES), *expected, "{source}");
        }
    }

    #[test]
    fn undefined_arg_hints_table() {
        let cases = [
            (
                r#"arg "VERSION"; stage "a" from="alpine:3" { env V="${VERSON}" }"#,
                "did you mean `VERSION`?",
                "write `${VERSION}`",
            ),
            (
                r#"stage "a" from="alpine:3" { env V="${V}"; arg "V" }"#,
                "not declared",
                "move `arg \"V\"` above",
            ),
            (
                r#"stage "a" from="alpine:3" { arg "V" }; stage "b" from="a" { env X="${V}" }"#,
                "not declared",
                "not inherited",
            ),
            (
                r#"stage "a" from="golang:${GO}" { arg "GO" }"#,
                "not declared",
                "only global args",
            ),
        ];
        for (source, label, help) in cases {
            let diagnostic = first_among(source, UndefinedArg);
            assert!(diagnostic.labels[0].text.starts_with(label), "{source}: {diagnostic:?}");
            assert!(
                diagnostic.help.as_deref().unwrap_or_default().contains(help),
                "{source}: {diagnostic:?}"
            );
        }
    }

    #[test]
    fn platform_arg_help_names_the_stage_declaration() {
        let source = r#"stage "a" from="alpine:3" { workdir "/src/${TARGETARCH}" }"#;
        let help = first_among(source, UndefinedArg).help.unwrap_or_default();
        assert!(help.contains("after `arg \"TARGETARCH\"`"), "{help}");
        assert!(!help.contains("top level"), "{help}");
    }

    #[test]
    fn undefined_arg_span_covers_reference() {
        let source = r#"stage "a" from="alpine:3" { env V="x${MISSING}y" }"#;
        let diagnostic = first_among(source, UndefinedArg);
        let span = diagnostic.labels[0].span;
        assert_eq!(&source[span.start..span.end()], "${MISSING}");
    }
}
