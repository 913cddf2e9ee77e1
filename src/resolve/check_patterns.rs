//! SC0306: glob syntax of copy sources, copy `include`/`exclude` patterns
//! and `context { exclude }` patterns. Docker validates these with Go's
//! `filepath.Match`, through moby's patternmatcher, when the build starts.
//! stagec applies the same grammar when it checks the spec.

use super::chain::Stages;
use crate::diag::{Code, Diagnostic, Diagnostics, display_value};
use crate::model::{CopySource, Spanned, StepKind};

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;
    for pattern in &spec.context_excludes {
        check_pattern(pattern, "`context` exclude pattern", true, diagnostics);
    }

    for stage in &spec.stages {
        for step in &stage.steps {
            let StepKind::Copy(copy) = &step.kind else { continue };
            if let CopySource::Context(paths) = &copy.source {
                for path in paths {
                    check_pattern(path, "copy source", false, diagnostics);
                }
            }
            for pattern in &copy.include {
                check_pattern(pattern, "copy `include` pattern", true, diagnostics);
            }
            for pattern in &copy.exclude {
                check_pattern(pattern, "copy `exclude` pattern", true, diagnostics);
            }
        }
    }
}

/// Reports `pattern` when it is not valid glob syntax. `filter` patterns
/// end up in ignore files, where a leading `!` re-includes files.
fn check_pattern(pattern: &Spanned<String>, what: &str, filter: bool, diagnostics: &mut Diagnostics) {
    let problem = if filter && pattern.value.starts_with('!') {
        Some("a leading `!` would re-include files in the ignore file")
    } else {
        glob_syntax_error(&pattern.value)
    };
    let Some(problem) = problem else { return };

    diagnostics.push(
        Diagnostic::new(
            Code::InvalidPattern,
            format!("invalid {what} `{}`", display_value(&pattern.value)),
        )
        .label(pattern.span, problem)
        .help(
            "close each `[` with `]`, escape a literal `[`, `]`, `-`, `*`, `?` or `\\` with `\\`, and do not end \
             the pattern with `\\`; a class looks like `[a-z]` or `[^0-9]`",
        ),
    );
}

/// Returns what makes `pattern` invalid for Go's `filepath.Match` on Unix,
/// or `None` when it is valid. Go checks the whole pattern, even the part
/// after a mismatch, so Docker rejects every pattern this rejects.
pub fn glob_syntax_error(pattern: &str) -> Option<&'static str> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        match chars[index] {
            '\\' => {
                if index + 1 == chars.len() {
                    return Some("a `\\` at the end escapes nothing");
                }
                index += 2;
            }
            '[' => match class_end(&chars, index + 1) {
                Ok(end) => index = end,
                Err(problem) => return Some(problem),
            },
            _ => index += 1,
        }
    }
    None
}

/// Checks the character class that starts after `[` at `start`. Returns
/// the index after its closing `]`, or the problem as the error.
fn class_end(chars: &[char], start: usize) -> Result<usize, &'static str> {
    let mut index = start;
    if chars.get(index) == Some(&'^') {
        index += 1;
    }
    let mut ranges = 0;
    loop {
        match chars.get(index) {
            None => return Err("a `[` character class is not closed with `]`"),
            Some(']') if ranges > 0 => return Ok(index + 1),
            _ => {}
        }
        index = class_char_end(chars, index)?;
        if chars.get(index) == Some(&'-') {
            index = class_char_end(chars, index + 1)?;
        }
        ranges += 1;
    }
}

/// Checks one character of a class, possibly escaped, at `index`. Returns
/// the index after it. Like Go, an unescaped `-` or `]` here is an error,
/// and so is a class that ends right after this character.
fn class_char_end(chars: &[char], index: usize) -> Result<usize, &'static str> {
    let next = match chars.get(index) {
        None => return Err("a `[` character class is not closed with `]`"),
        Some('-') => return Err("a `-` in a character class must be escaped as `\\-` unless it forms a range"),
        Some(']') => return Err("an empty character class `[]`, or a `]` that must be escaped as `\\]`"),
        Some('\\') if index + 1 == chars.len() => return Err("a `\\` at the end escapes nothing"),
        Some('\\') => index + 2,
        Some(_) => index + 1,
    };
    if next >= chars.len() {
        return Err("a `[` character class is not closed with `]`");
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::glob_syntax_error;
    use crate::diag::Code::{self, InvalidPattern};
    use crate::resolve::test_support::codes_among;

    #[test]
    fn glob_syntax_table() {
        let valid = [
            "*.go",
            "src/**/*.md",
            "a?c",
            "[a-z]",
            "[^a-z]*",
            "[\\]]",
            "[\\-a]",
            "\\*",
            "a\\[b",
            "[!x]",
            "node_modules",
            "",
        ];
        for pattern in valid {
            assert_eq!(glob_syntax_error(pattern), None, "{pattern}");
        }
        let invalid = [
            "[z", "*.[ch", "a\\", "[]", "[]a]x", "[a-", "[a-]x", "[-a]", "[^]", "[a\\", "x[", "[a-c-e]",
        ];
        for pattern in invalid {
            assert!(glob_syntax_error(pattern).is_some(), "{pattern}");
        }
    }

    #[test]
    fn pattern_checks_table() {
        let cases: &[(&str, &[Code])] = &[
            (
                r#"context { exclude "[z" }; stage "a" from="alpine:3""#,
                &[InvalidPattern],
            ),
            (
                r#"context { exclude "**/*.md" "/node_modules" }; stage "a" from="alpine:3""#,
                &[],
            ),
            (
                r#"context { exclude "!src" }; stage "a" from="alpine:3""#,
                &[InvalidPattern],
            ),
            (
                r#"stage "a" from="alpine:3" { copy "src/[a" to="/x/" }"#,
                &[InvalidPattern],
            ),
            (
                r#"stage "a" from="alpine:3" { copy "src" to="/s/" { include "[z" } }"#,
                &[InvalidPattern],
            ),
            (
                r#"stage "a" from="alpine:3" { copy "src" to="/s/" { exclude "*.[ch" } }"#,
                &[InvalidPattern],
            ),
            (
                r#"stage "a" from="alpine:3" { copy "src" to="/s/" { exclude "*.[ch]" "!" } }"#,
                &[InvalidPattern],
            ),
            (
                r#"stage "a" from="alpine:3" { copy "a[1].txt" "b\\[1\\].txt" to="/s/" }"#,
                &[],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, &[InvalidPattern]), *expected, "{source}");
        }
    }
}
