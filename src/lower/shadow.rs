//! Build args and env vars of the same name in one stage. A Dockerfile
//! expands `${NAME}` in a stage field from the stage's env when it has
//! NAME, and from the stage's args otherwise. So `${V}` after `env V=...`
//! reads the env value, not the build arg, and the `${V}` that the
//! Dockerfile backend writes for `${env:V}` reads the arg when no env var
//! V exists. Both cases are errors, so that both backends agree.

use std::collections::{BTreeMap, BTreeSet};

use super::args::interpolated_values;
use super::graph::{BuildStage, BuildStepKind};
use crate::diag::{Code, Diagnostic, Diagnostics, Span};
use crate::model::interpolate::Part;

pub use crate::resolve::platform_args::TARGET_PLATFORM_ARGS;

/// Env vars that `env` steps of a stage and of its base stages set, with
/// the span of the name that set each one last.
pub type StageEnv = BTreeMap<String, Span>;

/// Reports the references of `stage` that read an env var where the spec
/// means a build arg, or a build arg where it means an env var. `env`
/// starts as the env of the base stage and ends as the env of `stage`.
// NOTE: lowering does not know the env of a base image. So `${V}` in a
// stage whose image sets V is not reported, and the Dockerfile reads the image's V.
pub fn check_stage(stage: &BuildStage, env: &mut StageEnv, diagnostics: &mut Diagnostics) {
    let mut args: BTreeSet<&str> = stage.inherited_args.iter().map(String::as_str).collect();
    if stage.cross_compile {
        args.extend(TARGET_PLATFORM_ARGS);
    }

    for step in &stage.steps {
        for value in interpolated_values(&step.kind) {
            for part in &value.parts {
                match part {
                    Part::Arg { name, span } => {
                        if let Some(set_at) = env.get(name) {
                            diagnostics.push(arg_hidden_by_env(name, *span, *set_at));
                        }
                    }
                    Part::Env { name, span } => {
                        if args.contains(name.as_str()) {
                            diagnostics.push(env_hidden_by_arg(&stage.name.value, name, *span));
                        }
                    }
                    Part::Literal(_) => {}
                }
            }
        }

        // A step's own values read the env from before it, as one
        // Dockerfile `ENV` line does.
        match &step.kind {
            BuildStepKind::Env(pairs) => {
                for (key, _) in pairs {
                    env.insert(key.value.clone(), key.span);
                }
            }
            BuildStepKind::Arg { name, .. } => {
                args.insert(name.value.as_str());
            }
            _ => {}
        }
    }
}

fn arg_hidden_by_env(name: &str, span: Span, set_at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::UndefinedArg,
        format!("`${{{name}}}` would read env var `{name}`, not build arg `{name}`"),
    )
    .label(span, "expands to the env value in a Dockerfile")
    .label(set_at, format!("env `{name}` is set here"))
    .help(format!(
        "a Dockerfile expands `${{{name}}}` from the env before the build args; rename the env var or the arg, \
         or write `${{env:{name}}}` to read the env value"
    ))
}

fn env_hidden_by_arg(stage: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::UndefinedArg,
        format!("`${{env:{name}}}` would read build arg `{name}` where the env has no `{name}`"),
    )
    .label(span, format!("stage `{stage}` also has build arg `{name}`"))
    .help(format!(
        "a Dockerfile reads env vars and build args with the same `${{{name}}}`, so one stage cannot have both; \
         rename the arg, or copy its value with `env {name}=\"${{{name}}}\"` and no arg of that name"
    ))
}

#[cfg(test)]
mod tests {
    use crate::diag::Code;
    use crate::lower::LowerOptions;
    use crate::lower::tests::error_codes;

    #[test]
    fn shadowing_table() {
        let cases: &[(&str, &[Code])] = &[
            // The report's case: the label would get the env value.
            (
                r#"arg "V" default="a"; stage "r" from="alpine:3" { env V="e"; label "l"="${V}" }; image "r" tag="r:1""#,
                &[Code::UndefinedArg],
            ),
            // The env of a base stage hides the arg too.
            (
                r#"arg "V"; stage "b" from="alpine:3" { env V="e" }; stage "r" from="b" { label "l"="${V}" }; image "r" tag="r:1""#,
                &[Code::UndefinedArg],
            ),
            // One `env` line reads the env from before it.
            (
                r#"arg "V"; stage "r" from="alpine:3" { env V="${V}" }; image "r" tag="r:1""#,
                &[],
            ),
            (
                r#"arg "V"; stage "r" from="alpine:3" { label "l"="${V}"; env V="e" }; image "r" tag="r:1""#,
                &[],
            ),
            // `${env:NAME}` with an arg of that name in the stage.
            (
                r#"stage "r" from="alpine:3" { arg "P" default="x"; env Q="${env:P}" }; image "r" tag="r:1""#,
                &[Code::UndefinedArg],
            ),
            // Args the stage reads are declared when it starts.
            (
                r#"arg "P"; stage "r" from="alpine:3" { env Q="${env:P}"; label "l"="${P}" }; image "r" tag="r:1""#,
                &[Code::UndefinedArg],
            ),
            (
                r#"stage "r" from="alpine:3" cross-compile=#true { workdir "/src/${env:TARGETARCH}" }; image "r" tag="r:1""#,
                &[Code::UndefinedArg],
            ),
            (
                r#"stage "r" from="alpine:3" { env PATH="/opt/bin:${env:PATH}"; workdir "${env:HOME}" }; image "r" tag="r:1""#,
                &[],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(error_codes(source, &LowerOptions::default()), *expected, "{source}");
        }
    }
}
