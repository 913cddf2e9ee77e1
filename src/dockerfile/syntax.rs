//! Dockerfile syntax levels (the version of BuildKit's Dockerfile frontend)
//! and the level each emitted feature needs.
//!
//! Facts come from the `dockerfile/1.x.0` tags of moby/buildkit: a flag
//! counts as available at the first release whose mainline channel parses
//! it, that is, whose `frontend/dockerfile/release/labs/tags` no longer gates
//! it. The frontend that a BuildKit release builds in is the release tagged
//! at the same commit, so BuildKit 0.8 (Docker 20.10) has 1.2.

use std::fmt;
use std::str::FromStr;

/// A Dockerfile frontend version `1.MINOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SyntaxLevel {
    minor: u16,
}

impl SyntaxLevel {
    /// The level of the frontend built into Docker 20.10 (BuildKit 0.8),
    /// which builds without pulling a frontend image.
    pub const DEFAULT: SyntaxLevel = SyntaxLevel { minor: 2 };
    /// The lowest level stagec emits: 1.2 made `RUN --mount` and
    /// `COPY --chmod` part of the mainline syntax.
    pub const MIN: SyntaxLevel = SyntaxLevel { minor: 2 };
    /// The newest release checked for this table (dockerfile/1.26.0).
    pub const MAX: SyntaxLevel = SyntaxLevel { minor: 26 };

    /// Returns level `1.minor`, or `None` outside [`SyntaxLevel::MIN`] to [`SyntaxLevel::MAX`].
    pub fn new(minor: u16) -> Option<SyntaxLevel> {
        let level = SyntaxLevel { minor };
        (SyntaxLevel::MIN..=SyntaxLevel::MAX).contains(&level).then_some(level)
    }

    pub fn minor(self) -> u16 {
        self.minor
    }
}

impl fmt::Display for SyntaxLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

/// The error of an invalid `--dockerfile-syntax` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSyntaxLevel {
    pub input: String,
}

impl fmt::Display for InvalidSyntaxLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid Dockerfile syntax level `{}`: expected 1.N with N from {} to {} (1.2, 1.3, ..., 1.10, ..., {}); \
             {} is what Docker 20.10 builds without pulling a frontend image",
            self.input,
            SyntaxLevel::MIN.minor,
            SyntaxLevel::MAX.minor,
            SyntaxLevel::MAX,
            SyntaxLevel::DEFAULT
        )
    }
}

impl std::error::Error for InvalidSyntaxLevel {}

impl FromStr for SyntaxLevel {
    type Err = InvalidSyntaxLevel;

    /// Parses `1.N`; a trailing `.0` patch (`1.10.0`) is accepted too.
    fn from_str(text: &str) -> Result<SyntaxLevel, InvalidSyntaxLevel> {
        let invalid = || InvalidSyntaxLevel {
            input: text.to_string(),
        };
        let rest = text.trim().strip_prefix("1.").ok_or_else(invalid)?;
        let minor = rest.strip_suffix(".0").unwrap_or(rest);
        if minor.is_empty() || !minor.bytes().all(|byte| byte.is_ascii_digit()) || minor.len() > 3 {
            return Err(invalid());
        }
        let minor: u16 = minor.parse().map_err(|_| invalid())?;
        SyntaxLevel::new(minor).ok_or_else(invalid)
    }
}

/// A Dockerfile feature that needs more than the lowest level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// `RUN --network=none|host`: labs in 1.2, mainline in 1.3.
    RunNetwork,
    /// `RUN --mount=type=tmpfs,size=...`: parsed from 1.4.
    TmpfsSize,
    /// `RUN --mount=type=secret,env=...`: parsed from 1.10.
    SecretEnv,
    /// `COPY --exclude=...`: labs from 1.7, mainline in 1.19.
    CopyExclude,
}

impl Feature {
    pub fn level(self) -> SyntaxLevel {
        let minor = match self {
            Feature::RunNetwork => 3,
            Feature::TmpfsSize => 4,
            Feature::SecretEnv => 10,
            Feature::CopyExclude => 19,
        };
        SyntaxLevel { minor }
    }

    /// Returns the Dockerfile syntax of the feature, for messages.
    pub fn syntax(self) -> &'static str {
        match self {
            Feature::RunNetwork => "`RUN --network`",
            Feature::TmpfsSize => "`RUN --mount=type=tmpfs,size=`",
            Feature::SecretEnv => "`RUN --mount=type=secret,env=`",
            Feature::CopyExclude => "`COPY --exclude`",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_levels() {
        let cases = [("1.2", 2), ("1.3", 3), ("1.10", 10), ("1.10.0", 10), (" 1.26 ", 26)];
        for (text, minor) in cases {
            assert_eq!(text.parse::<SyntaxLevel>().map(SyntaxLevel::minor), Ok(minor), "{text}");
        }
    }

    #[test]
    fn parse_rejects_table() {
        for text in [
            "", "1", "1.", "1.1", "1.0", "2.0", "1.27", "1.x", "1.-3", "v1.4", "1.4-labs", "1.04.1", "1.0004",
        ] {
            let error = text.parse::<SyntaxLevel>().expect_err(text);
            assert!(error.to_string().contains("1.2, 1.3"), "{text}: {error}");
        }
    }

    #[test]
    fn levels_order_numerically() {
        let level = |text: &str| text.parse::<SyntaxLevel>().expect(text);
        assert!(level("1.10") > level("1.9"));
        assert_eq!(SyntaxLevel::DEFAULT.to_string(), "1.2");
        assert!(Feature::RunNetwork.level() > SyntaxLevel::DEFAULT);
    }
}
