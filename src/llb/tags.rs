//! Output tags as `stagec build` applies them. A spec tag with `${NAME}` is
//! known only after build-arg substitution, and a `-t` value comes from the
//! command line, so both are checked here, before the build, with the
//! reference grammar of SC0705.

use crate::diag::{Code, Diagnostic, Diagnostics, display_value};
use crate::model::Spanned;
use crate::resolve::reference_error;

/// Checks the spec's output tags after build-arg substitution and reports
/// each invalid one as SC0705 at the tag.
pub fn check_substituted_tags(tags: &[Spanned<String>]) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    for tag in tags {
        let Some(problem) = reference_error(&tag.value, false) else {
            continue;
        };
        diagnostics.push(
            Diagnostic::new(
                Code::InvalidImageReference,
                format!(
                    "invalid image tag `{}` after build-arg substitution",
                    display_value(&tag.value)
                ),
            )
            .label(tag.span, problem)
            .help("pass `--build-arg` values that give [REGISTRY/]REPOSITORY[:TAG], such as `app:1.0`, or replace the spec's tag with `-t`"),
        );
    }
    diagnostics
}

/// Returns the error message for a `-t` value that is not a valid image tag.
pub fn command_line_tag_error(tag: &str) -> Option<String> {
    let problem = reference_error(tag, false)?;
    Some(format!(
        "invalid value `{}` for `-t`: {problem}; write [REGISTRY/]REPOSITORY[:TAG], such as `app:1.0`",
        display_value(tag)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn spanned(value: &str) -> Spanned<String> {
        Spanned {
            value: value.to_string(),
            span: Span::new(10, 20),
        }
    }

    #[test]
    fn substituted_tag_empty_version() {
        let diagnostics = check_substituted_tags(&[spanned("greet:1.0"), spanned("greet:")]);
        let codes: Vec<Code> = diagnostics.iter().map(|diagnostic| diagnostic.code).collect();
        assert_eq!(codes, [Code::InvalidImageReference]);
        let diagnostic = diagnostics.iter().next().expect("one diagnostic");
        assert!(diagnostic.message.contains("`greet:`"), "{}", diagnostic.message);
        assert_eq!(diagnostic.labels[0].span, Span::new(10, 20));
    }

    #[test]
    fn substituted_tag_with_space() {
        let diagnostics = check_substituted_tags(&[spanned("greet:a b")]);
        assert_eq!(diagnostics.iter().count(), 1);
    }

    #[test]
    fn command_line_tag_upper_case() {
        let message = command_line_tag_error("UPPER:bad").expect("upper case is invalid");
        assert!(message.contains("`UPPER:bad`"), "{message}");
        assert!(message.contains("upper-case"), "{message}");
        assert_eq!(command_line_tag_error("registry.example.com/team/app:1.2"), None);
    }
}
