//! The table of diagnostic codes. Each code is defined once here; its long
//! explanation lives in `src/diag/explain/<CODE>.md`, and docs/diagnostics.md
//! is generated from both (see `tests/docs_diagnostics.rs`).

use super::Severity;

macro_rules! codes {
    ($($variant:ident = ($code:literal, $slug:literal, $severity:ident, $summary:literal),)*) => {
        /// A stable diagnostic code. Codes are never renumbered or reused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn info(self) -> &'static CodeInfo {
                match self {
                    $(Code::$variant => &CodeInfo {
                        code: $code,
                        slug: $slug,
                        severity: Severity::$severity,
                        summary: $summary,
                        explanation: include_str!(concat!("explain/", $code, ".md")),
                    },)*
                }
            }
        }
    };
}

/// Static facts about a diagnostic code.
#[derive(Debug)]
pub struct CodeInfo {
    /// Stable identifier, such as `SC0101`.
    pub code: &'static str,
    /// Short kebab-case name, such as `unknown-stage`.
    pub slug: &'static str,
    /// Severity used unless the check raises or lowers it.
    pub severity: Severity,
    /// One-line summary for tables.
    pub summary: &'static str,
    /// Long explanation in Markdown, with a failing and a fixed example.
    pub explanation: &'static str,
}

codes! {
    KdlSyntax = ("SC0001", "kdl-syntax", Error, "the spec is not valid KDL v2"),
    UnknownNode = ("SC0002", "unknown-node", Error, "a node name stagec does not know at this place"),
    UnknownProperty = ("SC0003", "unknown-property", Error, "a property or argument a node does not take"),
    InvalidValue = ("SC0004", "invalid-value", Error, "a value of the wrong type or outside the allowed set"),
    MissingValue = ("SC0005", "missing-value", Error, "a required argument or property is missing"),

    UnknownStage = ("SC0101", "unknown-stage", Error, "a reference to a stage that does not exist"),
    UnknownArtifact = ("SC0102", "unknown-artifact", Error, "a reference to an artifact the stage does not declare"),
    DuplicateName = ("SC0103", "duplicate-name", Error, "two stages, artifacts, global args, secrets or image outputs share a name"),
    InvalidName = ("SC0104", "invalid-name", Error, "a stage, artifact, arg, secret or env name with characters it cannot hold"),
    StageFromBuildArg = ("SC0105", "stage-from-build-arg", Error, "a build arg makes an image `from=` name a stage of the spec"),

    DependencyCycle = ("SC0201", "dependency-cycle", Error, "stages depend on each other in a cycle"),
    SelfConsumption = ("SC0202", "self-consumption", Error, "a stage consumes its own artifact or is based on itself"),
    UnreachableStage = ("SC0203", "unreachable-stage", Warning, "no output or check needs the stage, so it never builds"),
    UnusedArtifact = ("SC0204", "unused-artifact", Warning, "an artifact no stage consumes"),

    UndeclaredArtifactPath = ("SC0301", "undeclared-artifact-path", Error, "a copy from a stage of a path no artifact declares"),
    DestinationConflict = ("SC0302", "destination-conflict", Error, "two artifacts are copied to the same destination"),
    ContextEscape = ("SC0303", "context-escape", Error, "a context path outside the build context"),
    RelativePath = ("SC0304", "relative-path", Error, "a path that must be absolute is relative"),
    MissingContextInput = ("SC0305", "missing-context-input", Error, "a context input matches no file in the build context"),
    InvalidPattern = ("SC0306", "invalid-pattern", Error, "a copy source, include or exclude pattern with invalid glob syntax"),
    InvalidMountTarget = ("SC0307", "invalid-mount-target", Error, "a run mount on `/`, or two mounts of one run on the same target"),

    ShellFormWithoutShell = ("SC0401", "shell-form-without-shell", Error, "a shell-form command in a stage whose base has no shell"),
    ShellSyntaxInExecForm = ("SC0402", "shell-syntax-in-exec-form", Warning, "an exec-form command that uses shell syntax"),

    LinkageMismatch = ("SC0501", "linkage-mismatch", Error, "a native artifact linked against a libc the consuming stage lacks"),
    PlatformMismatch = ("SC0502", "platform-mismatch", Error, "an artifact built for one platform consumed on another"),

    UndefinedArg = ("SC0601", "undefined-arg", Error, "an interpolation names a build arg that is not declared or not visible"),
    SecretAsValue = ("SC0602", "secret-as-value", Error, "a secret used as a build arg, env value or label"),
    ArgNotVisible = ("SC0603", "arg-not-visible", Warning, "a run command reads a build arg its stage does not declare"),
    SecretLikeArg = ("SC0604", "secret-like-arg", Warning, "a build arg or env whose name looks like a credential"),
    EnvFromUnrelatedStage = ("SC0605", "env-from-unrelated-stage", Warning, "a run command reads an env var set only in an unrelated stage"),
    UndefinedSecret = ("SC0606", "undefined-secret", Error, "a run mounts a secret that is not declared"),
    InvalidInterpolation = ("SC0607", "invalid-interpolation", Error, "a malformed `${...}` interpolation"),

    NoOutput = ("SC0701", "no-output", Error, "the spec declares no image output"),
    AmbiguousOutput = ("SC0702", "ambiguous-output", Error, "several image outputs without exactly one default"),
    ToolchainFinalImage = ("SC0703", "toolchain-final-image", Warning, "an output image based on a toolchain image"),
    UnpinnedBaseImage = ("SC0704", "unpinned-base-image", Warning, "a base image with tag `latest` or no tag"),
    InvalidImageReference = ("SC0705", "invalid-image-reference", Error, "a base image or output tag that is not a valid image reference"),
    DuplicateImageTag = ("SC0706", "duplicate-image-tag", Error, "the same tag on two image outputs, or twice on one"),

    NeedsNewerSyntax = ("SC0801", "needs-newer-syntax", Error, "a feature the selected Dockerfile syntax level cannot express"),
    UnrepresentableValue = ("SC0802", "unrepresentable-value", Error, "a string the Dockerfile backend cannot encode exactly"),

    MissingLock = ("SC0901", "missing-lock", Error, "the spec has no lock file with its base images' configuration"),
    StaleLock = ("SC0902", "stale-lock", Error, "the lock file lacks a base image the build needs"),
    MissingArtifact = ("SC0903", "missing-artifact", Error, "a build did not produce a declared artifact"),
    BuildStepFailed = ("SC0904", "build-step-failed", Error, "a step of the spec failed when the engine ran it"),
    UnsupportedByEngine = ("SC0905", "unsupported-by-engine", Error, "the spec uses a feature that the engine's BuildKit lacks"),
}

impl Code {
    /// Looks up a code by its identifier (`SC0101`) or slug (`unknown-stage`), ignoring case.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|code| {
            let info = code.info();
            info.code.eq_ignore_ascii_case(text) || info.slug.eq_ignore_ascii_case(text)
        })
    }

    pub fn as_str(self) -> &'static str {
        self.info().code
    }
}

impl CodeInfo {
    /// Returns the KDL spec under the explanation's "Failing example" heading.
    pub fn failing_example(&self) -> Option<&'static str> {
        example_block(self.explanation, "## Failing example")
    }

    /// Returns the KDL spec under the explanation's "Fixed example" heading.
    pub fn fixed_example(&self) -> Option<&'static str> {
        example_block(self.explanation, "## Fixed example")
    }
}

/// Returns the contents of the first ```` ```kdl ```` block after `heading`.
fn example_block(explanation: &'static str, heading: &str) -> Option<&'static str> {
    let after_heading = &explanation[explanation.find(heading)? + heading.len()..];
    let opening = "```kdl\n";
    let body = &after_heading[after_heading.find(opening)? + opening.len()..];
    let end = body.find("```")?;
    Some(&body[..end])
}

/// Renders docs/diagnostics.md: a table of every code, then every
/// explanation with its headings moved one level down. `stagec explain`
/// and this page share the explanation files, so they cannot drift apart.
pub fn reference_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Diagnostics\n\n");
    out.push_str(
        "<!-- Generated from src/diag/codes.rs and src/diag/explain/*.md. After editing those, run\n     \
         `UPDATE_DOCS=1 cargo test --test docs_diagnostics` to regenerate this file. -->\n\n",
    );
    out.push_str(
        "Every problem stagec reports has a stable code. Errors stop the build; warnings are printed and the \
         build goes on. Codes are never renumbered, so scripts can match on them, for example in the JSON \
         output of `--message-format json`.\n\n",
    );

    out.push_str("| Code | Name | Severity | Summary |\n|------|------|----------|---------|\n");
    for code in Code::ALL {
        let info = code.info();
        let anchor = format!("{}-{}", info.code.to_lowercase(), info.slug);
        out.push_str(&format!(
            "| [{}](#{anchor}) | {} | {} | {} |\n",
            info.code, info.slug, info.severity, info.summary
        ));
    }

    for code in Code::ALL {
        out.push('\n');
        let mut in_code_block = false;
        for line in code.info().explanation.lines() {
            if line.starts_with("```") {
                in_code_block = !in_code_block;
            }
            if !in_code_block && line.starts_with('#') {
                out.push('#');
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.info().code), "duplicate code {}", code.info().code);
            assert!(seen.insert(code.info().slug), "duplicate slug {}", code.info().slug);
        }
    }

    #[test]
    fn explanations_have_title_and_examples() {
        for code in Code::ALL {
            let info = code.info();
            let title = format!("# {}: {}\n", info.code, info.slug);
            assert!(
                info.explanation.starts_with(&title),
                "{} must start with {title:?}",
                info.code
            );
            assert!(info.failing_example().is_some(), "{} has no failing example", info.code);
            assert!(info.fixed_example().is_some(), "{} has no fixed example", info.code);
        }
    }

    #[test]
    fn reference_demotes_headings_outside_code() {
        let reference = reference_markdown();
        assert!(reference.contains("\n## SC0101: unknown-stage\n"));
        assert!(reference.contains("\n### Failing example\n"));
        assert!(reference.contains("| [SC0101](#sc0101-unknown-stage) | unknown-stage | error |"));
    }

    #[test]
    fn parse_accepts_code_and_slug() {
        assert_eq!(Code::parse("sc0101"), Some(Code::UnknownStage));
        assert_eq!(Code::parse("unknown-stage"), Some(Code::UnknownStage));
        assert_eq!(Code::parse("SC9999"), None);
    }
}
