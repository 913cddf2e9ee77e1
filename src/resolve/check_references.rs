//! Image reference checks: base images in `from=` and the tags of `image`
//! outputs must be valid references (SC0705), and no tag may name two
//! outputs (SC0706). References with `${NAME}` are known only at build
//! time and are skipped.

use std::collections::BTreeMap;

use super::chain::Stages;
use crate::diag::{Code, Diagnostic, Diagnostics, Span, display_value};
use crate::model::{Base, Spanned};

/// Maximum length of a repository name, registry included, that Docker accepts.
const MAX_NAME_LEN: usize = 255;

/// Maximum length of a tag that Docker accepts.
const MAX_TAG_LEN: usize = 128;

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;
    for stage in &spec.stages {
        if let Base::Image(reference) = &stage.base {
            check_reference(reference, "base image", true, diagnostics);
        }
    }

    let mut first_use: BTreeMap<&str, (Span, &str)> = BTreeMap::new();
    for image in &spec.images {
        for tag in &image.tags {
            check_reference(tag, "image tag", false, diagnostics);

            let Some(&(earlier, earlier_stage)) = first_use.get(tag.as_str()) else {
                first_use.insert(tag.as_str(), (tag.span, image.stage.as_str()));
                continue;
            };
            let (message, help) = if earlier_stage == image.stage.value {
                (
                    format!(
                        "tag `{}` is listed twice for `{}`",
                        display_value(&tag.value),
                        image.stage.value
                    ),
                    "remove one of the two".to_string(),
                )
            } else {
                (
                    format!(
                        "tag `{}` names both `{earlier_stage}` and `{}`",
                        display_value(&tag.value),
                        image.stage.value
                    ),
                    format!(
                        "give each output its own tag, such as `{}:TAG` for `{}`",
                        image.stage.value.to_ascii_lowercase(),
                        image.stage.value
                    ),
                )
            };
            diagnostics.push(
                Diagnostic::new(Code::DuplicateImageTag, message)
                    .label(tag.span, "used again here")
                    .label(earlier, "first used here")
                    .help(help),
            );
        }
    }
}

fn check_reference(reference: &Spanned<String>, what: &str, allow_digest: bool, diagnostics: &mut Diagnostics) {
    if reference.value.contains("${") {
        return;
    }
    let Some(problem) = reference_error(&reference.value, allow_digest) else {
        return;
    };

    let lowercase = reference.value.to_ascii_lowercase();
    let help = if problem == UPPERCASE_REPOSITORY && reference_error(&lowercase, allow_digest).is_none() {
        format!(
            "write `{}`; Docker repository names are lowercase",
            display_value(&lowercase)
        )
    } else if allow_digest {
        "write [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST], such as `alpine:3.20` or `registry.example.com/team/app:1.2`"
            .to_string()
    } else {
        "write [REGISTRY/]REPOSITORY[:TAG], such as `app:1.0` or `registry.example.com/team/app:1.2`".to_string()
    };
    diagnostics.push(
        Diagnostic::new(
            Code::InvalidImageReference,
            format!("invalid {what} `{}`", display_value(&reference.value)),
        )
        .label(reference.span, problem)
        .help(help),
    );
}

const UPPERCASE_REPOSITORY: &str = "the repository name has upper-case letters";

/// Returns why `text` is not a valid image reference, following the
/// grammar of Docker's reference parser (distribution/reference) and the
/// digest algorithms it supports, or `None` when it is valid.
pub fn reference_error(text: &str, allow_digest: bool) -> Option<&'static str> {
    if text.is_empty() {
        return Some("empty reference");
    }
    let (name_and_tag, digest) = match text.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (text, None),
    };
    if let Some(digest) = digest {
        if !allow_digest {
            return Some("an output tag cannot have a digest");
        }
        if let Some(problem) = digest_error(digest) {
            return Some(problem);
        }
    }

    // A `:` after the last `/` starts the tag, and one before it is a registry port.
    let last_slash = name_and_tag.rfind('/').map_or(0, |index| index + 1);
    let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(colon) => (
            &name_and_tag[..last_slash + colon],
            Some(&name_and_tag[last_slash + colon + 1..]),
        ),
        None => (name_and_tag, None),
    };
    if let Some(problem) = tag.and_then(tag_error) {
        return Some(problem);
    }
    name_error(name)
}

fn tag_error(tag: &str) -> Option<&'static str> {
    let word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let bytes = tag.as_bytes();
    if bytes.is_empty() {
        return Some("empty tag after `:`");
    }
    if !word(bytes[0]) {
        return Some("a tag starts with a letter, digit or `_`");
    }
    if !bytes.iter().all(|&byte| word(byte) || byte == b'.' || byte == b'-') {
        return Some("a tag has only letters, digits, `_`, `.` and `-`");
    }
    (bytes.len() > MAX_TAG_LEN).then_some("a tag has at most 128 characters")
}

fn digest_error(digest: &str) -> Option<&'static str> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Some("a digest is ALGORITHM:HEX, such as sha256: and 64 hex digits");
    };
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Some("the digest algorithm must be sha256, sha384 or sha512"),
    };
    let lower_hex = hex
        .bytes()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    (hex.len() != length || !lower_hex).then_some("the digest must have the algorithm's length in lowercase hex digits")
}

fn name_error(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("the repository name is missing");
    }
    if name.len() > MAX_NAME_LEN {
        return Some("the repository name is longer than 255 characters");
    }

    let mut components: Vec<&str> = name.split('/').collect();
    // Docker reads the first component as a registry when it has a `.` or
    // a `:`, is `localhost`, or has upper-case letters.
    if components.len() > 1 {
        let first = components[0];
        let is_registry =
            first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|byte| byte.is_ascii_uppercase());
        if is_registry {
            if let Some(problem) = registry_error(first) {
                return Some(problem);
            }
            components.remove(0);
        }
    }
    components.into_iter().find_map(path_component_error)
}

fn registry_error(registry: &str) -> Option<&'static str> {
    let (host, port) = if registry.starts_with('[') {
        let Some(close) = registry.find(']') else {
            return Some("an IPv6 registry address is not closed with `]`");
        };
        let rest = &registry[close + 1..];
        if !rest.is_empty() && !rest.starts_with(':') {
            return Some("a registry address is followed only by `:PORT`");
        }
        (&registry[..=close], rest.strip_prefix(':'))
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|byte| byte.is_ascii_digit()))
    {
        return Some("a registry port has only digits");
    }

    if let Some(address) = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        let valid = !address.is_empty()
            && address
                .bytes()
                .all(|byte| byte.is_ascii_hexdigit() || byte == b':' || byte == b'.');
        return (!valid).then_some("an IPv6 registry address has only hex digits, `:` and `.`");
    }
    let label_valid = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    };
    (!host.split('.').all(label_valid))
        .then_some("a registry host has letters, digits and inner `-`, in parts joined by `.`")
}

/// Checks one path component: lowercase letters and digits, joined by
/// one `.`, one or two `_`, or any number of `-`.
fn path_component_error(component: &str) -> Option<&'static str> {
    if component.is_empty() {
        return Some("a repository name has an empty part between `/`");
    }
    if component.bytes().any(|byte| byte.is_ascii_uppercase()) {
        return Some(UPPERCASE_REPOSITORY);
    }
    let alphanumeric = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    let bytes = component.as_bytes();
    if !bytes
        .iter()
        .all(|&byte| alphanumeric(byte) || matches!(byte, b'.' | b'_' | b'-'))
    {
        return Some("a repository name has only lowercase letters, digits, `.`, `_`, `-` and `/`");
    }
    if !alphanumeric(bytes[0]) || !alphanumeric(bytes[bytes.len() - 1]) {
        return Some("each part of a repository name starts and ends with a letter or digit");
    }
    let separators_valid = component
        .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .all(|run| matches!(run, "." | "_" | "__") || run.bytes().all(|byte| byte == b'-'));
    (!separators_valid).then_some("letters and digits in a repository name are joined by `.`, `_`, `__` or `-`")
}

#[cfg(test)]
mod tests {
    use super::reference_error;
    use crate::diag::Code::{self, DuplicateImageTag, InvalidImageReference};
    use crate::resolve::test_support::{codes_among, first_among};

    const SHA256: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn valid_references() {
        let digest = format!("alpine@{SHA256}");
        let tagged_digest = format!("alpine:3@{SHA256}");
        let valid = [
            "alpine",
            "alpine:3.20",
            "library/alpine:3",
            "docker.io/library/golang:1.19-alpine",
            "localhost:5000/app",
            "localhost/app:2",
            "registry.example.com/team/sub/app:v1_2.3-rc",
            "Registry.Example.com/app:1",
            "[::1]:5000/app:1",
            "[::1]/app",
            "my-app__x.y:_tag",
            "a--b:1",
            "gcr.io/distroless/static-debian12:nonroot",
            &digest,
            &tagged_digest,
        ];
        for text in valid {
            assert_eq!(reference_error(text, true), None, "{text}");
        }
    }

    #[test]
    fn invalid_references() {
        let invalid = [
            "",
            "ALPINE:3",
            "Alpine",
            "alpine:",
            ":3",
            "alpine@",
            "alpine:-3",
            "alpine:.3",
            "alpine@sha256:0123",
            "alpine@md5:0123456789abcdef0123456789abcdef",
            "Not A Valid:Tag",
            "app:1 2",
            "a..b",
            "a___b",
            "-app",
            "app-",
            "team//app",
            "/app",
            "app/",
            "registry.example.com:port/app",
            "bad_host.com/app",
        ];
        for text in invalid {
            assert!(reference_error(text, true).is_some(), "{text}");
        }
        assert!(reference_error(&format!("app:{}", "t".repeat(129)), true).is_some());
        assert!(reference_error(&format!("app@{SHA256}"), false).is_some());
    }

    #[test]
    fn reference_checks_table() {
        let codes = &[InvalidImageReference, DuplicateImageTag];
        let cases: &[(&str, &[Code])] = &[
            (r#"stage "a" from="alpine:3"; image "a" tag="a:1""#, &[]),
            (
                r#"stage "a" from="ALPINE:3"; image "a" tag="a:1""#,
                &[InvalidImageReference],
            ),
            (
                r#"stage "a" from="alpine:"; image "a" tag="a:1""#,
                &[InvalidImageReference],
            ),
            (
                r#"arg "B" default="x"; stage "a" from="${B}:1"; image "a" tag="a:1""#,
                &[],
            ),
            (
                r#"stage "a" from="alpine:3"; image "a" tag="Not A Valid:Tag""#,
                &[InvalidImageReference],
            ),
            (
                r#"stage "a" from="alpine:3"; image "a" tag="""#,
                &[InvalidImageReference],
            ),
            (
                r#"stage "a" from="alpine:3"; image "a" tag="a\n:1""#,
                &[InvalidImageReference],
            ),
            (r#"arg "V"; stage "a" from="alpine:3"; image "a" tag="a:${V}""#, &[]),
            (
                r#"stage "a" from="alpine:3"; stage "b" from="alpine:3"
                   image "a" tag="app:1" default=#true; image "b" tag="app:1""#,
                &[DuplicateImageTag],
            ),
            (
                r#"stage "a" from="alpine:3"; image "a" tag="app:1" { tag "app:1" }"#,
                &[DuplicateImageTag],
            ),
            (
                r#"stage "a" from="alpine:3"; image "a" tag="app:1" { tag "app:latest" }"#,
                &[],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, codes), *expected, "{source}");
        }
    }

    #[test]
    fn uppercase_repository_suggests_lowercase() {
        let diagnostic = first_among(
            r#"stage "a" from="ALPINE:3"; image "a" tag="a:1""#,
            InvalidImageReference,
        );
        assert!(diagnostic.help.unwrap_or_default().contains("`alpine:3`"));
    }
}
