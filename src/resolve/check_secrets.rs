//! Secret checks: a secret used as a value (SC0602) and secret mounts of
//! undeclared secrets (SC0606). Build args, env vars and labels are stored
//! in the image config and build history, where anyone with the image can
//! read them. A secret mount is stored nowhere. Names that only look like
//! credentials are reported by `check_secret_names` (SC0604).

use super::chain::Stages;
use super::fields::{interpolated_fields, interpolation_span};
use crate::diag::{Code, Diagnostic, Diagnostics, suggest::did_you_mean};
use crate::model::interpolate::{self, Part};
use crate::model::{MountKind, SecretDecl, Spanned, StepKind};

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;
    let secret_named = |name: &str| {
        spec.secrets
            .iter()
            .find(|secret| secret.name.value.eq_ignore_ascii_case(name))
    };

    for field in interpolated_fields(spec) {
        let Ok(parts) = interpolate::parse(&field.value.value, field.value.span) else {
            continue;
        };
        for part in parts {
            let Part::Arg { name, span } = part else { continue };
            if let Some(secret) = secret_named(&name) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::SecretAsValue,
                        format!("secret `{}` used as a value in {}", secret.name.value, field.what),
                    )
                    .label(interpolation_span(field.value, span), "secrets are never interpolated")
                    .label(secret.name.span, "declared as a secret here")
                    .help(mount_help(&secret.name.value)),
                );
            }
        }
    }

    for (name, what) in named_values(stages) {
        if let Some(secret) = secret_named(&name.value) {
            diagnostics.push(
                Diagnostic::new(
                    Code::SecretAsValue,
                    format!("{what} `{}` has the name of secret `{}`", name.value, secret.name.value),
                )
                .label(
                    name.span,
                    format!("{} is stored in the image, unlike a secret", with_article(what)),
                )
                .label(secret.name.span, "declared as a secret here")
                .help(format!("remove the {what}; {}", mount_help(&secret.name.value))),
            );
        }
    }

    check_secret_mounts(stages, diagnostics);
}

/// Names of build args, env vars and labels, each with what it is.
pub(super) fn named_values<'a>(stages: &Stages<'a>) -> Vec<(&'a Spanned<String>, &'static str)> {
    let spec = stages.spec;
    let mut names: Vec<(&Spanned<String>, &str)> = spec.args.iter().map(|arg| (&arg.name, "build arg")).collect();
    for stage in &spec.stages {
        for step in &stage.steps {
            match &step.kind {
                StepKind::Arg(arg) => names.push((&arg.name, "build arg")),
                StepKind::Env(pairs) => names.extend(pairs.iter().map(|(name, _)| (name, "env var"))),
                StepKind::Label(pairs) => names.extend(pairs.iter().map(|(name, _)| (name, "label"))),
                StepKind::Run(run) => names.extend(run.env.iter().map(|(name, _)| (name, "env var"))),
                _ => {}
            }
        }
    }
    names
}

pub(super) fn with_article(what: &str) -> String {
    let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {what}")
}

fn mount_help(id: &str) -> String {
    let env = id.to_ascii_uppercase().replace(['-', '.'], "_");
    format!(
        "a secret reaches a build only as a mount on a run step: `run \"...\" {{ secret \"{id}\" env=\"{env}\" }}` or \
         `secret \"{id}\" target=\"/run/secrets/{id}\"`"
    )
}

fn check_secret_mounts(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let secrets: &[SecretDecl] = &stages.spec.secrets;
    for stage in &stages.spec.stages {
        for step in &stage.steps {
            let StepKind::Run(run) = &step.kind else { continue };
            for mount in &run.mounts {
                let MountKind::Secret { id, .. } = &mount.kind else {
                    continue;
                };
                if secrets.iter().any(|secret| secret.name.value == id.value) {
                    continue;
                }

                let suggestion = did_you_mean(id.as_str(), secrets.iter().map(|secret| secret.name.as_str()));
                let (label, help) = match suggestion {
                    Some(suggestion) => (
                        format!("did you mean `{suggestion}`?"),
                        format!(
                            "write `secret \"{suggestion}\"`, or declare `secret \"{}\"` at the top level",
                            id.value
                        ),
                    ),
                    None => (
                        "not declared".to_string(),
                        format!(
                            "declare it at the top level with `secret \"{}\"`, and pass it to the build with \
                             `--secret id={},src=FILE`",
                            id.value, id.value
                        ),
                    ),
                };
                diagnostics.push(
                    Diagnostic::new(Code::UndefinedSecret, format!("undeclared secret `{}`", id.value))
                        .label(id.span, label)
                        .help(help),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::{self, SecretAsValue, SecretLikeArg, UndefinedSecret};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[SecretAsValue, SecretLikeArg, UndefinedSecret];

    #[test]
    fn secret_checks_table() {
        let cases: &[(&str, &[Code])] = &[
            (r#"arg "GITHUB_TOKEN"; stage "a" from="alpine:3""#, &[SecretLikeArg]),
            (r#"stage "a" from="alpine:3" { arg "NPM_TOKEN" }"#, &[SecretLikeArg]),
            (
                r#"stage "a" from="alpine:3" { env DB_PASSWORD="hunter2" }"#,
                &[SecretLikeArg],
            ),
            (
                r#"stage "a" from="alpine:3" { run "make" { env API_KEY="k" } }"#,
                &[SecretLikeArg],
            ),
            (r#"stage "a" from="alpine:3" { label "auth"="x" }"#, &[]),
            (
                r#"secret "npm_token"; arg "NPM_TOKEN"; stage "a" from="alpine:3""#,
                &[SecretAsValue],
            ),
            (
                r#"secret "npm_token"; stage "a" from="alpine:3" { env NPM_TOKEN="x" }"#,
                &[SecretAsValue],
            ),
            (
                r#"secret "sig"; stage "a" from="alpine:3" { label "sig"="x" }"#,
                &[SecretAsValue],
            ),
            (
                r#"secret "sig"; stage "a" from="alpine:3" { env S="${sig}" }"#,
                &[SecretAsValue],
            ),
            (
                r#"secret "sig"; stage "a" from="alpine:3" { run "make" { secret "sig" env="SIG" } }"#,
                &[],
            ),
            (
                r#"secret "npm_token"; stage "a" from="alpine:3" { run "npm ci" { secret "npm_tokn" } }"#,
                &[UndefinedSecret],
            ),
            (
                r#"stage "a" from="alpine:3" { run "npm ci" { secret "npm_token" } }"#,
                &[UndefinedSecret],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, CODES), *expected, "{source}");
        }
    }

    #[test]
    fn undeclared_secret_suggests_declared_id() {
        let source = r#"secret "npm_token"; stage "a" from="alpine:3" { run "npm ci" { secret "npm_tokn" } }"#;
        assert_eq!(
            first_among(source, UndefinedSecret).labels[0].text,
            "did you mean `npm_token`?"
        );
    }
}
