//! Facts about well-known base images: whether an image is a
//! build toolchain, which C library it ships, and whether it has a shell.
//! The table describes the public images as published on Docker Hub and
//! the vendors' registries; a stage overrides it with `libc=` and `shell=`.
//!
//! Decisions that are not obvious:
//! - `node` and `python` are language runtimes that an app also needs at run
//!   time. Their full Debian tags are built on `buildpack-deps` and carry
//!   compilers, so they count as toolchains; the `-slim` and `-alpine` tags
//!   do not. Chainguard's `-dev` tags count as toolchains for the same reason.
//! - JDK images (`openjdk`, `eclipse-temurin`, `amazoncorretto`) are
//!   toolchains unless the tag names a JRE.
//! - `busybox` counts as having no C library unless the tag says `glibc` or
//!   `musl`: its binary is static and nothing else in the image links to a libc.

use crate::model::Libc;

/// The language of a toolchain image, for heuristics that depend on how
/// that language links by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    Go,
    Rust,
    C,
    Java,
    Node,
    Python,
    DotNet,
}

/// Facts about one image reference. `None` means stagec does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageFacts {
    pub toolchain: Option<Toolchain>,
    pub libc: Option<Libc>,
    pub has_shell: Option<bool>,
}

/// An image reference split into its parts. The repository is lowercased
/// and drops the Docker Hub registry and `library/` prefixes, so
/// `docker.io/library/golang` and `golang` compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageReference {
    /// Parses `[registry/]repository[:tag][@digest]`. Returns `None` for a
    /// reference that contains `${`, whose value is known only at build time.
    pub fn parse(text: &str) -> Option<ImageReference> {
        if text.contains("${") || text.is_empty() {
            return None;
        }

        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_string())),
            None => (text, None),
        };
        // A `:` before the last `/` belongs to a registry port, not a tag.
        let last_slash = name.rfind('/').map_or(0, |index| index + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => (
                &name[..last_slash + colon],
                Some(name[last_slash + colon + 1..].to_string()),
            ),
            None => (name, None),
        };

        let mut repository = repository.to_ascii_lowercase();
        for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
            if let Some(rest) = repository.strip_prefix(prefix) {
                repository = rest.to_string();
            }
        }
        if let Some(rest) = repository.strip_prefix("library/") {
            repository = rest.to_string();
        }

        Some(ImageReference {
            repository,
            tag,
            digest,
        })
    }
}

/// Looks up the facts stagec has about an image reference.
pub fn facts(reference: &str) -> ImageFacts {
    let Some(reference) = ImageReference::parse(reference) else {
        return ImageFacts::default();
    };
    let repository = reference.repository.as_str();
    let tag = reference.tag.as_deref().unwrap_or("latest").to_ascii_lowercase();
    let alpine = tag.contains("alpine");
    let slim = tag.contains("slim");
    // Debian-based unless the tag names Alpine.
    let distro_libc = Some(if alpine { Libc::Musl } else { Libc::Glibc });
    let with_shell = |toolchain, libc| ImageFacts {
        toolchain,
        libc,
        has_shell: Some(true),
    };

    match repository {
        "scratch" => ImageFacts {
            toolchain: None,
            libc: Some(Libc::None),
            has_shell: Some(false),
        },
        "alpine" => with_shell(None, Some(Libc::Musl)),
        "busybox" => {
            let libc = if tag.contains("glibc") {
                Libc::Glibc
            } else if tag.contains("musl") {
                Libc::Musl
            } else {
                Libc::None
            };
            with_shell(None, Some(libc))
        }
        "debian"
        | "ubuntu"
        | "fedora"
        | "centos"
        | "rockylinux"
        | "almalinux"
        | "amazonlinux"
        | "oraclelinux"
        | "archlinux"
        | "redhat/ubi8"
        | "redhat/ubi9"
        | "redhat/ubi8-minimal"
        | "redhat/ubi9-minimal" => with_shell(None, Some(Libc::Glibc)),

        "golang" => with_shell(Some(Toolchain::Go), distro_libc),
        "rust" => with_shell(Some(Toolchain::Rust), distro_libc),
        "gcc" | "buildpack-deps" => with_shell(Some(Toolchain::C), distro_libc),
        "maven" | "gradle" => with_shell(Some(Toolchain::Java), distro_libc),
        "openjdk" | "eclipse-temurin" | "amazoncorretto" | "sapmachine" => {
            let toolchain = (!tag.contains("jre")).then_some(Toolchain::Java);
            with_shell(toolchain, distro_libc)
        }
        "node" => with_shell((!alpine && !slim).then_some(Toolchain::Node), distro_libc),
        "python" => with_shell((!alpine && !slim).then_some(Toolchain::Python), distro_libc),

        _ => vendor_facts(repository, &tag, distro_libc),
    }
}

/// Images from vendor registries, matched by repository prefix.
fn vendor_facts(repository: &str, tag: &str, distro_libc: Option<Libc>) -> ImageFacts {
    if let Some(name) = repository.strip_prefix("gcr.io/distroless/") {
        // Only the `debug` tags add a busybox shell, at /busybox/sh.
        let has_shell = Some(tag.contains("debug"));
        let libc = if name.starts_with("static") {
            Libc::None
        } else {
            Libc::Glibc
        };
        return ImageFacts {
            toolchain: None,
            libc: Some(libc),
            has_shell,
        };
    }

    if let Some(name) = repository.strip_prefix("cgr.dev/chainguard/") {
        let dev = tag.contains("dev");
        if name == "static" {
            return ImageFacts {
                toolchain: None,
                libc: Some(Libc::None),
                has_shell: Some(false),
            };
        }
        let toolchain = match name {
            "go" => Some(Toolchain::Go),
            "rust" => Some(Toolchain::Rust),
            "gcc-glibc" => Some(Toolchain::C),
            "jdk" | "maven" | "gradle" => Some(Toolchain::Java),
            _ if dev => match name {
                "node" => Some(Toolchain::Node),
                "python" => Some(Toolchain::Python),
                _ => None,
            },
            _ => None,
        };
        // Wolfi, which Chainguard images are built from, uses glibc.
        let has_shell = if dev { Some(true) } else { None };
        return ImageFacts {
            toolchain,
            libc: Some(Libc::Glibc),
            has_shell,
        };
    }

    if let Some(name) = repository.strip_prefix("mcr.microsoft.com/dotnet/") {
        let toolchain = (name == "sdk").then_some(Toolchain::DotNet);
        let shellless = tag.contains("chiseled") || tag.contains("distroless");
        return ImageFacts {
            toolchain,
            libc: distro_libc,
            has_shell: Some(!shellless),
        };
    }

    if repository.starts_with("registry.access.redhat.com/ubi") {
        return ImageFacts {
            toolchain: None,
            libc: Some(Libc::Glibc),
            has_shell: Some(true),
        };
    }

    // An unknown image: only an Alpine tag gives a fact.
    ImageFacts {
        toolchain: None,
        libc: if tag.contains("alpine") { Some(Libc::Musl) } else { None },
        has_shell: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_parse_table() {
        let cases = [
            ("golang:1.19", "golang", Some("1.19"), None),
            ("docker.io/library/golang:1.19", "golang", Some("1.19"), None),
            ("localhost:5000/app", "localhost:5000/app", None, None),
            ("localhost:5000/app:2", "localhost:5000/app", Some("2"), None),
            ("alpine@sha256:abc", "alpine", None, Some("sha256:abc")),
            ("alpine:3@sha256:abc", "alpine", Some("3"), Some("sha256:abc")),
        ];
        for (text, repository, tag, digest) in cases {
            let parsed = ImageReference::parse(text).expect(text);
            assert_eq!(parsed.repository, repository, "{text}");
            assert_eq!(parsed.tag.as_deref(), tag, "{text}");
            assert_eq!(parsed.digest.as_deref(), digest, "{text}");
        }
        assert_eq!(ImageReference::parse("golang:${GO_VERSION}"), None);
    }

    /// A reference and the toolchain, libc and shell facts expected for it.
    type FactsCase = (&'static str, Option<Toolchain>, Option<Libc>, Option<bool>);

    #[test]
    fn facts_table() {
        use Libc::{Glibc, Musl};
        let cases: [FactsCase; 16] = [
            ("golang:1.19", Some(Toolchain::Go), Some(Glibc), Some(true)),
            ("golang:1.19-alpine", Some(Toolchain::Go), Some(Musl), Some(true)),
            ("rust:1.80", Some(Toolchain::Rust), Some(Glibc), Some(true)),
            ("alpine:3", None, Some(Musl), Some(true)),
            ("busybox", None, Some(Libc::None), Some(true)),
            ("busybox:1.36-glibc", None, Some(Glibc), Some(true)),
            ("scratch", None, Some(Libc::None), Some(false)),
            ("gcr.io/distroless/static-debian12", None, Some(Libc::None), Some(false)),
            (
                "gcr.io/distroless/static-debian12:debug",
                None,
                Some(Libc::None),
                Some(true),
            ),
            ("gcr.io/distroless/base-debian12", None, Some(Glibc), Some(false)),
            ("cgr.dev/chainguard/static", None, Some(Libc::None), Some(false)),
            ("node:20", Some(Toolchain::Node), Some(Glibc), Some(true)),
            ("node:20-slim", None, Some(Glibc), Some(true)),
            ("eclipse-temurin:21-jre", None, Some(Glibc), Some(true)),
            (
                "mcr.microsoft.com/dotnet/runtime:8.0-jammy-chiseled",
                None,
                Some(Glibc),
                Some(false),
            ),
            ("example.com/team/app:1", None, None, None),
        ];
        for (reference, toolchain, libc, has_shell) in cases {
            assert_eq!(
                facts(reference),
                ImageFacts {
                    toolchain,
                    libc,
                    has_shell
                },
                "{reference}"
            );
        }
    }
}
