//! Variables a `run` command reads but will find empty. stagec never
//! interpolates run text: the shell expands `$NAME` at build time, and its
//! environment contains only the env of the stage (including env inherited through
//! `from=`), the run's own `env`, and the build args the stage declares
//! with `arg`. Two mistakes are reported as warnings:
//! - SC0603: the name is a global arg, an arg of a base stage, or one of the
//!   platform args BuildKit sets for every build (`TARGETARCH` and the
//!   like), and the stage does not declare it, so the shell gets an empty value.
//! - SC0605: the name is set with `env` only in stages this one is not
//!   based on, since env is inherited only through `from=`.

use std::collections::BTreeSet;

use super::chain::Stages;
use super::fields::inner_span;
use super::platform_args;
use super::shell_text::{self, Expansion};
use crate::diag::{Code, Diagnostic, Diagnostics, Severity, Span};
use crate::model::{Spanned, StepKind};

/// Variables that images and the runtime set, which a stage's `env` may
/// also set without making other stages' reads a mistake.
// NOTE: a short list of the usual ones; an image's own env is not known to stagec.
const ENVIRONMENT_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "PWD",
    "OLDPWD",
    "USER",
    "HOSTNAME",
    "SHELL",
    "TERM",
    "LANG",
    "LC_ALL",
    "TZ",
    "IFS",
    "TMPDIR",
    "GOPATH",
    "GOROOT",
    "GOFLAGS",
    "JAVA_HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "NODE_ENV",
    "PYTHONPATH",
];

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;
    // Env names each stage ends with, its own and those of its bases.
    let env_through = stages.inherit(
        |_| BTreeSet::new(),
        |index, mut names: BTreeSet<&str>| {
            names.extend(env_names(stages, index, usize::MAX));
            names
        },
    );

    for (index, stage) in spec.stages.iter().enumerate() {
        let empty = BTreeSet::new();
        let inherited_env = stages.base(index).map_or(&empty, |base| &env_through[base]);

        for (position, step) in stage.steps.iter().enumerate() {
            let StepKind::Run(run) = &step.kind else { continue };
            let Some(script) = shell_text::script(&run.command.form) else {
                continue;
            };

            let mut visible: BTreeSet<&str> = inherited_env.clone();
            visible.extend(env_names(stages, index, position));
            visible.extend(declared_args(stages, index, position));
            visible.extend(run.env.iter().map(|(name, _)| name.as_str()));
            if stage.cross_compile {
                visible.extend(platform_args::TARGET_PLATFORM_ARGS);
            }

            let mut reported: BTreeSet<String> = BTreeSet::new();
            for expansion in shell_text::expansions(&script.value) {
                let name = expansion.name.as_str();
                if visible.contains(name) || reported.contains(name) || shell_text::assigns(&script.value, name) {
                    continue;
                }
                let span = inner_span(script, expansion.start, expansion.len);
                let chain = stages.chain(index);
                let diagnostic = arg_not_declared(stages, index, &chain, &expansion, span)
                    .or_else(|| env_from_unrelated_stage(stages, index, &chain, &expansion, span));
                if let Some(diagnostic) = diagnostic {
                    reported.insert(expansion.name.clone());
                    diagnostics.push(diagnostic);
                }
            }
        }
    }
}

/// Env names a stage sets in its steps before `before_step`.
fn env_names<'a>(stages: &Stages<'a>, stage: usize, before_step: usize) -> impl Iterator<Item = &'a str> {
    env_declarations(stages, stage, before_step).map(|name| name.as_str())
}

fn env_declarations<'a>(
    stages: &Stages<'a>,
    stage: usize,
    before_step: usize,
) -> impl Iterator<Item = &'a Spanned<String>> {
    stages
        .stage(stage)
        .steps
        .iter()
        .take(before_step)
        .flat_map(|step| match &step.kind {
            StepKind::Env(pairs) => pairs.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            _ => Vec::new(),
        })
}

/// Names of the args a stage declares before `before_step`.
fn declared_args<'a>(stages: &Stages<'a>, stage: usize, before_step: usize) -> impl Iterator<Item = &'a str> {
    stages
        .stage(stage)
        .steps
        .iter()
        .take(before_step)
        .filter_map(|step| match &step.kind {
            StepKind::Arg(arg) => Some(arg.name.as_str()),
            _ => None,
        })
}

fn arg_not_declared(
    stages: &Stages<'_>,
    index: usize,
    chain: &[usize],
    expansion: &Expansion,
    span: Span,
) -> Option<Diagnostic> {
    let name = expansion.name.as_str();
    let global = stages
        .spec
        .args
        .iter()
        .find(|arg| arg.name.value == name)
        .map(|arg| (arg.span, "declared globally here"));
    let in_base = || {
        chain[1..].iter().find_map(|&base| {
            stages.stage(base).steps.iter().find_map(|step| match &step.kind {
                StepKind::Arg(arg) if arg.name.value == name => {
                    Some((arg.span, "declared in a base stage, which does not pass it on"))
                }
                _ => None,
            })
        })
    };
    let stage_node = stages.stage(index);
    let automatic = || {
        platform_args::is_platform_arg(name).then_some((
            stage_node.name.span,
            "this stage does not declare it; BuildKit sets it for every build",
        ))
    };
    let (declaration, declaration_label) = global.or_else(in_base).or_else(automatic)?;
    let stage = stage_node.name.as_str();

    Some(
        Diagnostic::new(
            Code::ArgNotVisible,
            format!("run reads build arg `{name}`, which stage `{stage}` does not declare"),
        )
        .severity(Severity::Warning)
        .label(span, "empty when the command runs")
        .label(declaration, declaration_label)
        .help(format!(
            "add `arg \"{name}\"` to stage `{stage}` before this run; a run sees a build arg only when its own stage \
             declares it"
        )),
    )
}

fn env_from_unrelated_stage(
    stages: &Stages<'_>,
    index: usize,
    chain: &[usize],
    expansion: &Expansion,
    span: Span,
) -> Option<Diagnostic> {
    let name = expansion.name.as_str();
    if ENVIRONMENT_NAMES.contains(&name) {
        return None;
    }
    let (other, declaration) = (0..stages.count())
        .filter(|other| !chain.contains(other))
        .find_map(|other| {
            env_declarations(stages, other, usize::MAX)
                .find(|declared| declared.value == name)
                .map(|d| (other, d))
        })?;
    let stage = stages.stage(index).name.as_str();
    let other = stages.stage(other).name.as_str();

    Some(
        Diagnostic::new(
            Code::EnvFromUnrelatedStage,
            format!("run reads `{name}`, which only stage `{other}` sets"),
        )
        .severity(Severity::Warning)
        .label(span, format!("empty in stage `{stage}`"))
        .label(
            declaration.span,
            format!("set in stage `{other}`, which `{stage}` is not based on"),
        )
        .help(format!(
            "env is inherited only through from=; set `env {name}=\"...\"` in `{stage}` or in a stage it is based on, \
             or base `{stage}` on `{other}`"
        )),
    )
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::{self, ArgNotVisible, EnvFromUnrelatedStage};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[ArgNotVisible, EnvFromUnrelatedStage];

    #[test]
    fn run_env_table() {
        let cases: &[(&str, &[Code])] = &[
            (
                r#"arg "VERSION"; stage "a" from="alpine:3" { run "echo $VERSION" }"#,
                &[ArgNotVisible],
            ),
            (
                r#"arg "VERSION"; stage "a" from="alpine:3" { arg "VERSION"; run "echo ${VERSION}" }"#,
                &[],
            ),
            (
                r#"arg "VERSION"; stage "a" from="alpine:3" { run "echo $VERSION"; arg "VERSION" }"#,
                &[ArgNotVisible],
            ),
            (
                r#"arg "VERSION"; stage "a" from="alpine:3" { run "echo '$VERSION'" }"#,
                &[],
            ),
            (
                r#"arg "VERSION"; stage "a" from="alpine:3" { run "VERSION=2; echo $VERSION" }"#,
                &[],
            ),
            (
                r#"arg "VERSION"; stage "a" from="alpine:3" { run "echo $VERSION" { env VERSION="1" } }"#,
                &[],
            ),
            (
                r#"arg "VERSION"; stage "a" from="alpine:3" { env VERSION="1"; run "echo $VERSION" }"#,
                &[],
            ),
            (
                r#"arg "V"; stage "a" from="alpine:3" { run "sh" "-c" "echo $V" }"#,
                &[ArgNotVisible],
            ),
            // Args are not inherited through from=, but env is.
            (
                r#"stage "a" from="alpine:3" { arg "V" }; stage "b" from="a" { run "echo $V" }"#,
                &[ArgNotVisible],
            ),
            (
                r#"stage "a" from="alpine:3" { env V="1" }; stage "b" from="a" { run "echo $V" }"#,
                &[],
            ),
            (
                r#"stage "a" from="alpine:3" { env V="1" }; stage "b" from="alpine:3" { run "echo $V" }"#,
                &[EnvFromUnrelatedStage],
            ),
            (
                r#"stage "a" from="alpine:3" { env PATH="/x:/bin" }; stage "b" from="alpine:3" { run "echo $PATH" }"#,
                &[],
            ),
            (
                r#"stage "b" from="alpine:3" { run "echo $V" }; stage "a" from="b" { env V="1" }"#,
                &[EnvFromUnrelatedStage],
            ),
            (r#"stage "a" from="alpine:3" { run "echo $UNKNOWN $HOME" }"#, &[]),
            // Platform args that BuildKit sets are visible only when declared.
            (
                r#"stage "a" from="golang:1.19" { run "echo arch=$TARGETARCH" }"#,
                &[ArgNotVisible],
            ),
            (
                r#"stage "a" from="golang:1.19" { arg "TARGETARCH"; run "echo $TARGETARCH" }"#,
                &[],
            ),
            (
                r#"stage "a" from="golang:1.19" platform="build" cross-compile=#true { run "GOARCH=$TARGETARCH go build" }"#,
                &[],
            ),
            (
                r#"stage "a" from="golang:1.19" cross-compile=#true { run "echo $BUILDPLATFORM" }"#,
                &[ArgNotVisible],
            ),
            // Quoted here-document bodies are literal.
            (
                r#"stage "a" from="alpine:3" { env APP_MODE="x" }
                   stage "b" from="alpine:3" { run "cat <<'EOF' > /f\n$APP_MODE\nEOF" }"#,
                &[],
            ),
            // One warning per name and run.
            (
                r#"arg "V"; stage "a" from="alpine:3" { run "echo $V $V" }"#,
                &[ArgNotVisible],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, CODES), *expected, "{source}");
        }
    }

    #[test]
    fn arg_not_visible_points_at_expansion() {
        let source = r#"arg "VERSION" default="1.0"
stage "build" from="golang:1.19" { run "go build -ldflags \"-X main.v=x\" -o /app ." ; run "echo ${VERSION}" }"#;
        let diagnostic = first_among(source, ArgNotVisible);
        let span = diagnostic.labels[0].span;
        assert_eq!(&source[span.start..span.end()], "${VERSION}");
        assert!(
            diagnostic
                .help
                .unwrap_or_default()
                .contains("add `arg \"VERSION\"` to stage `build`")
        );
    }
}
