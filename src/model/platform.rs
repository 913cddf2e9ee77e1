use std::fmt;

/// An OCI platform such as `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`. Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Platform> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = |part: &&str| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(valid) {
            return None;
        }
        Some(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// The platform a stage runs on, or that an artifact is built for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PlatformSpec {
    /// The platform of the image being built (`$TARGETPLATFORM`), the default.
    Target,
    /// The platform of the machine running the build (`$BUILDPLATFORM`).
    Build,
    Fixed(Platform),
}

impl PlatformSpec {
    pub fn parse(text: &str) -> Option<PlatformSpec> {
        match text {
            "target" => Some(PlatformSpec::Target),
            "build" => Some(PlatformSpec::Build),
            other => Platform::parse(other).map(PlatformSpec::Fixed),
        }
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformSpec::Target => f.write_str("target"),
            PlatformSpec::Build => f.write_str("build"),
            PlatformSpec::Fixed(platform) => platform.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parse_table() {
        assert_eq!(Platform::parse("linux/amd64").map(|p| p.to_string()), Some("linux/amd64".into()));
        assert_eq!(Platform::parse("linux/arm/v7").map(|p| p.to_string()), Some("linux/arm/v7".into()));
        assert_eq!(Platform::parse("linux"), None);
        assert_eq!(Platform::parse("linux//amd64"), None);
        assert_eq!(Platform::parse("a/b/c/d"), None);
    }
}
