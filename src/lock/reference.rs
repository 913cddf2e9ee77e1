//! Normalized image references, following the rules of the Go package
//! github.com/distribution/reference (`ParseNormalizedNamed` and
//! `TagNameOnly`) that BuildKit's Dockerfile frontend applies to `FROM`:
//! `golang:1.19` becomes `docker.io/library/golang:1.19`, and a name with
//! neither tag nor digest gets the tag `latest`.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPOSITORY_PREFIX: &str = "library/";

/// A fully qualified image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host, with a port when one was given: `docker.io`, `localhost:5000`.
    pub domain: String,
    /// Repository path in the registry: `library/golang`.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:...` of the manifest.
    pub digest: Option<String>,
}

static PATH_COMPONENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").expect("valid regex"));
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")
        .expect("valid regex")
});
// Go's `\w`, which Docker's reference grammar uses, is ASCII-only; Rust's
// is Unicode unless written as `[0-9A-Za-z_]`, and compiling the Unicode
// class costs about 30 ms on every run.
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}$").expect("valid regex"));
static DIGEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$").expect("valid regex")
});
static HEX_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-f0-9]{64}$").expect("valid regex"));

impl Reference {
    /// Parses and normalizes `text`. The error describes the problem in words
    /// that fit after "invalid image reference `text`: ".
    pub fn parse_normalized(text: &str) -> Result<Reference, String> {
        if text.is_empty() {
            return Err("the reference is empty".to_string());
        }
        if HEX_ID.is_match(text) {
            return Err("a 64-digit hex image ID cannot be used as a repository name".to_string());
        }

        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (text, None),
        };
        // A `:` after the last `/` starts the tag; one before it belongs to
        // a registry port.
        let last_slash = name.rfind('/').map_or(0, |index| index + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => (&name[..last_slash + colon], Some(&name[last_slash + colon + 1..])),
            None => (name, None),
        };

        let (domain, path) = split_domain(name);
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("repository names must be lowercase".to_string());
        }
        if !path.split('/').all(|component| PATH_COMPONENT.is_match(component)) {
            return Err(format!("`{path}` is not a valid repository path"));
        }
        if !DOMAIN.is_match(&domain) {
            return Err(format!("`{domain}` is not a valid registry host"));
        }
        if let Some(tag) = tag.filter(|tag| !TAG.is_match(tag)) {
            return Err(format!("`{tag}` is not a valid tag"));
        }
        if let Some(digest) = digest.filter(|digest| !DIGEST.is_match(digest)) {
            return Err(format!("`{digest}` is not a valid digest"));
        }

        let mut reference = Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        };
        if reference.tag.is_none() && reference.digest.is_none() {
            reference.tag = Some("latest".to_string());
        }
        Ok(reference)
    }

    /// `domain/path`, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Returns the reference pinned to `digest`, keeping the tag, as
    /// BuildKit's Dockerfile frontend writes a resolved `FROM`.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

/// Splits `name` into registry and path the way Docker does. The first
/// component is a registry when it has a `.` or `:`, is `localhost`, or has
/// an upper-case letter. Otherwise the registry is Docker Hub, where a
/// one-component name is an official image under `library/`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_REPOSITORY_PREFIX}{path}");
    }
    (domain, path)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_table() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases = [
            ("golang:1.19", "docker.io/library/golang:1.19".to_string()),
            ("alpine", "docker.io/library/alpine:latest".to_string()),
            ("docker.io/library/alpine:3", "docker.io/library/alpine:3".to_string()),
            (
                "index.docker.io/library/alpine:3",
                "docker.io/library/alpine:3".to_string(),
            ),
            ("user/app:1", "docker.io/user/app:1".to_string()),
            ("ghcr.io/org/app:v1.2", "ghcr.io/org/app:v1.2".to_string()),
            ("localhost:5000/app", "localhost:5000/app:latest".to_string()),
            ("localhost/app:dev", "localhost/app:dev".to_string()),
            (
                &format!("alpine@{digest}")[..],
                format!("docker.io/library/alpine@{digest}"),
            ),
            (
                &format!("alpine:3@{digest}")[..],
                format!("docker.io/library/alpine:3@{digest}"),
            ),
        ];
        for (text, expected) in cases {
            let reference = Reference::parse_normalized(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(reference.to_string(), expected, "{text}");
        }
    }

    #[test]
    fn invalid_references_rejected() {
        let cases = [
            ("", "empty"),
            ("Alpine:3", "lowercase"),
            ("alpine:3 ", "tag"),
            // Regression: tags are ASCII only, as Go's `\w` in Docker's grammar.
            ("alpine:é", "tag"),
            ("alpine@sha256:12", "digest"),
            ("a//b", "repository path"),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "hex image ID",
            ),
        ];
        for (text, reason) in cases {
            let error = Reference::parse_normalized(text).expect_err(text);
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn repository_drops_tag_and_digest() {
        let reference = Reference::parse_normalized("golang:1.19").expect("valid");
        assert_eq!(reference.repository(), "docker.io/library/golang");
        let pinned = reference.with_digest("sha256:0123456789abcdef0123456789abcdef");
        assert_eq!(
            pinned.to_string(),
            "docker.io/library/golang:1.19@sha256:0123456789abcdef0123456789abcdef"
        );
    }
}
