//! Secret checks: a secret used as a value (SC0602), build args and env
//! vars whose names look like credentials (SC0604), and secret mounts of
//! undeclared secrets (SC0606). Build args and env values are stored in
//! the image config and build history, where anyone with the image can
//! read them. A secret mount is stored nowhere.

use super::chain::Stages;
use super::fields::{interpolated_fields, interpolation_span};
use crate::diag::{Code, Diagnostic, Diagnostics, Severity, suggest::did_you_mean};
use crate::model::interpolate::{self, Part};
use crate::model::{MountKind, SecretDecl, Spanned, StepKind};

/// Name components that mark a credential. Compared per component, so
/// `AUTHOR` or `TOKENIZER_MODEL` do not match.
const CREDENTIAL_WORDS: &[&str] = &[
    "TOKEN",
    "TOKENS",
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "SECRET",
    "SECRETS",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
    "APIKEY",
];

/// Adjacent components that mark a credential.
const CREDENTIAL_PAIRS: &[(&str, &str)] = &[("API", "KEY"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"), ("SECRET", "KEY")];

/// A last component that marks the value as a location, not the secret.
const LOCATION_WORDS: &[&str] = &["FILE", "PATH", "DIR", "URL", "ID"];

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
        } else if what != "label" && looks_like_credential(&name.value) {
            let id = name.value.to_ascii_lowercase();
            diagnostics.push(
                Diagnostic::new(
                    Code::SecretLikeArg,
                    format!("{what} `{}` looks like a credential", name.value),
                )
                .severity(Severity::Warning)
                .label(
                    name.span,
                    format!(
                        "{} value is stored in the image and its build history",
                        with_article(what)
                    ),
                )
                .help(format!(
                    "declare `secret \"{id}\"` at the top level and mount it in the run step that needs it: \
                         `run \"...\" {{ secret \"{id}\" env=\"{}\" }}`",
                    name.value
                )),
            );
        }
    }

    check_secret_mounts(stages, diagnostics);
}

/// Names of build args, env vars and labels, each with what it is.
fn named_values<'a>(stages: &Stages<'a>) -> Vec<(&'a Spanned<String>, &'static str)> {
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

fn with_article(what: &str) -> String {
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

pub fn looks_like_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split(['_', '-', '.']).filter(|part| !part.is_empty()).collect();
    if parts.last().is_some_and(|last| LOCATION_WORDS.contains(last)) {
        return false;
    }
    parts.iter().any(|part| CREDENTIAL_WORDS.contains(part))
        || parts
            .windows(2)
            .any(|pair| CREDENTIAL_PAIRS.contains(&(pair[0], pair[1])))
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
    use super::looks_like_credential;
    use crate::diag::Code::{self, SecretAsValue, SecretLikeArg, UndefinedSecret};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[SecretAsValue, SecretLikeArg, UndefinedSecret];

    #[test]
    fn credential_names_table() {
        let credentials = [
            "GITHUB_TOKEN",
            "DB_PASSWORD",
            "npm-auth-token",
            "API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "PRIVATE_KEY",
            "MY_APIKEY",
            "Passwd",
        ];
        for name in credentials {
            assert!(looks_like_credential(name), "{name}");
        }
        let plain = [
            "AUTHOR",
            "VERSION",
            "TOKENIZER",
            "PASSWORD_FILE",
            "SECRET_PATH",
            "KEY",
            "CLIENT_ID",
        ];
        for name in plain {
            assert!(!looks_like_credential(name), "{name}");
        }
    }

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
