//! Build args and env vars whose names look like credentials (SC0604).
//! Their values are stored in the build history and the image config, where
//! anyone with the image can read them, so a token passed that way leaks.
//! A name that equals a declared secret is SC0602 instead, reported by
//! `check_secrets`.

use super::chain::Stages;
use super::check_secrets::{named_values, with_article};
use crate::diag::{Code, Diagnostic, Diagnostics, Severity};

/// Name parts that mark a credential on their own. Parts are compared
/// whole, so `AUTHOR`, `TOKENIZER` or `KEYBOARD` do not match.
const CREDENTIAL_WORDS: &[&str] = &[
    "TOKEN",
    "TOKENS",
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "SECRETS",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
    "APIKEY",
    "PRIVATEKEY",
    "ACCESSKEY",
    "SECRETKEY",
];

/// Adjacent name parts that mark a credential. `KEY` alone does not, since
/// `PUBLIC_KEY`, `KEY_ID` or a cache `KEY` are not secret.
const CREDENTIAL_PAIRS: &[(&str, &str)] = &[
    ("API", "KEY"),
    ("PRIVATE", "KEY"),
    ("ACCESS", "KEY"),
    ("SECRET", "KEY"),
    ("SSH", "KEY"),
    ("SIGNING", "KEY"),
    ("ENCRYPTION", "KEY"),
    ("MASTER", "KEY"),
];

/// Last name parts that make the value a setting about a credential, such
/// as where it is or how it is used, rather than the credential itself.
const SETTING_WORDS: &[&str] = &[
    "FILE", "PATH", "DIR", "URL", "ID", "NAME", "TYPE", "MODE", "METHOD", "ENABLED", "HOST", "PORT", "ENDPOINT",
    "TIMEOUT", "TTL", "LENGTH",
];

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let secrets = &stages.spec.secrets;
    for (name, what) in named_values(stages) {
        // Labels are metadata by design, and a name that equals a declared
        // secret already gets the stronger SC0602.
        if what == "label"
            || secrets
                .iter()
                .any(|secret| secret.name.value.eq_ignore_ascii_case(&name.value))
        {
            continue;
        }
        if !looks_like_credential(&name.value) {
            continue;
        }

        let id = name_parts(&name.value).join("_").to_ascii_lowercase();
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
                     `run \"...\" {{ secret \"{id}\" env=\"{}\" }}`, then pass it with `--secret id={id},env=VAR`",
                name.value
            )),
        );
    }
}

/// Returns whether `name` has a part, or two adjacent parts, that name a
/// credential, and does not end in a part that makes it a setting.
pub fn looks_like_credential(name: &str) -> bool {
    let parts = name_parts(name);
    if parts.last().is_some_and(|last| SETTING_WORDS.contains(&last.as_str())) {
        return false;
    }
    parts.iter().any(|part| CREDENTIAL_WORDS.contains(&part.as_str()))
        || parts
            .windows(2)
            .any(|pair| CREDENTIAL_PAIRS.contains(&(pair[0].as_str(), pair[1].as_str())))
}

/// Splits a name into upper-case parts at `_`, `-`, `.` and camelCase
/// boundaries: `npm-authToken` becomes `NPM`, `AUTH`, `TOKEN`.
fn name_parts(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for character in name.chars() {
        if matches!(character, '_' | '-' | '.') {
            parts.push(std::mem::take(&mut current));
            previous_lower = false;
            continue;
        }
        if character.is_ascii_uppercase() && previous_lower {
            parts.push(std::mem::take(&mut current));
        }
        previous_lower = character.is_ascii_lowercase() || character.is_ascii_digit();
        current.push(character.to_ascii_uppercase());
    }
    parts.push(current);
    parts.retain(|part| !part.is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::{looks_like_credential, name_parts};
    use crate::diag::Code::{self, SecretAsValue, SecretLikeArg};
    use crate::resolve::test_support::{codes_among, first_among};

    #[test]
    fn credential_names_table() {
        let credentials = [
            "GITHUB_TOKEN",
            "DB_PASSWORD",
            "npm-auth-token",
            "API_KEY",
            "api_key",
            "AWS_SECRET_ACCESS_KEY",
            "PRIVATE_KEY",
            "MY_APIKEY",
            "Passwd",
            "githubToken",
            "dbPassword",
            "apiKey",
            "NPM_CONFIG__AUTH",
            "CLIENT_SECRET",
            "SSH_KEY",
            "GPG_PASSPHRASE",
            "REGISTRY_CREDENTIALS",
            "SIGNING_KEY",
        ];
        for name in credentials {
            assert!(looks_like_credential(name), "{name}");
        }
    }

    #[test]
    fn plain_names_table() {
        let plain = [
            "AUTHOR",
            "VERSION",
            "TOKENIZER",
            "TOKENIZER_MODEL",
            "KEYBOARD",
            "KEYBOARD_LAYOUT",
            "PUBLIC_KEY",
            "KEY",
            "CACHE_KEY",
            "PASSWORD_FILE",
            "SECRET_PATH",
            "CLIENT_ID",
            "ACCESS_KEY_ID",
            "AUTH_TYPE",
            "SECRET_NAME",
            "TOKEN_URL",
            "PASSWORDLESS",
            "",
            "_",
        ];
        for name in plain {
            assert!(!looks_like_credential(name), "{name}");
        }
    }

    #[test]
    fn name_parts_split_camel_case() {
        assert_eq!(name_parts("npm-authToken"), ["NPM", "AUTH", "TOKEN"]);
        assert_eq!(name_parts("AWS_SECRET_ACCESS_KEY"), ["AWS", "SECRET", "ACCESS", "KEY"]);
        assert_eq!(name_parts("oauth2Token"), ["OAUTH2", "TOKEN"]);
        assert_eq!(name_parts("__x__"), ["X"]);
    }

    #[test]
    fn secret_name_checks_table() {
        let codes: &[Code] = &[SecretAsValue, SecretLikeArg];
        let cases: &[(&str, &[Code])] = &[
            (r#"arg "GITHUB_TOKEN"; stage "a" from="alpine:3""#, &[SecretLikeArg]),
            (r#"arg "githubToken"; stage "a" from="alpine:3""#, &[SecretLikeArg]),
            (r#"stage "a" from="alpine:3" { env KEYBOARD="us" }"#, &[]),
            (
                r#"stage "a" from="alpine:3" { env PUBLIC_KEY="ssh-ed25519 AAAA" }"#,
                &[],
            ),
            (r#"stage "a" from="alpine:3" { label "api_key"="x" }"#, &[]),
            (
                r#"stage "a" from="alpine:3" { run "make" { env AWS_SECRET_ACCESS_KEY="k" } }"#,
                &[SecretLikeArg],
            ),
            (
                r#"secret "github_token"; arg "GITHUB_TOKEN"; stage "a" from="alpine:3""#,
                &[SecretAsValue],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, codes), *expected, "{source}");
        }
    }

    #[test]
    fn secret_name_help_points_to_secret_mount() {
        let source = r#"stage "a" from="alpine:3" { arg "NPM_TOKEN" }"#;
        let diagnostic = first_among(source, SecretLikeArg);
        let help = diagnostic.help.expect("a help line");
        assert!(help.contains(r#"secret "npm_token" env="NPM_TOKEN""#), "{help}");
        assert!(help.contains("--secret id=npm_token,env=VAR"), "{help}");
    }

    #[test]
    fn secret_name_help_splits_camel_case_id() {
        let source = r#"stage "a" from="alpine:3" { env awsSecretAccessKey="x" }"#;
        let help = first_among(source, SecretLikeArg).help.expect("a help line");
        assert!(help.contains(r#"secret "aws_secret_access_key" env="awsSecretAccessKey""#), "{help}");
    }
}
