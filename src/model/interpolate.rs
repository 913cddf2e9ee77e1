//! Explicit interpolation in spec strings. `${NAME}` is replaced by the
//! value of a build arg, and `${env:NAME}` by the value of the env var NAME
//! in the stage at that step. `$${` writes a literal `${`. Any other `$` is
//! plain text, so shell text such as `$HOME` is never touched. `run`
//! commands are never interpolated at all, because the shell sees them verbatim.

use crate::diag::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    /// `${NAME}`: the name and the span of the whole `${NAME}` in the spec.
    Arg { name: String, span: Span },
    /// `${env:NAME}`: the env var's name and the span of the whole reference.
    Env { name: String, span: Span },
}

/// The prefix that makes `${env:NAME}` an env var reference.
const ENV_PREFIX: &str = "env:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub message: String,
    pub span: Span,
}

/// Splits `text` into literal parts, `${NAME}` and `${env:NAME}` references. `text_span`
/// is the span of the whole string value in the spec, including its quotes;
/// reference spans are computed inside it, which is exact for strings
/// without escapes and approximate otherwise.
pub fn parse(text: &str, text_span: Span) -> Result<Vec<Part>, InterpolationError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    let mut offset = 0usize;
    // Skip the opening quote of a plain `"..."` string.
    let base = text_span.start + usize::from(text_span.len > text.len());

    while let Some(index) = rest.find('$') {
        literal.push_str(&rest[..index]);
        let after = &rest[index + 1..];
        if let Some(tail) = after.strip_prefix("${") {
            literal.push_str("${");
            offset += index + 3;
            rest = tail;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            literal.push('$');
            offset += index + 1;
            rest = after;
            continue;
        };
        let start = base + offset + index;
        let Some(close) = body.find('}') else {
            return Err(InterpolationError {
                message: "unclosed `${`: add `}` after the arg name, or write `$${` for a literal `${`".into(),
                span: Span::new(start, text.len() - (offset + index)),
            });
        };
        let reference = &body[..close];
        let span = Span::new(start, close + 3);
        let part = match reference.strip_prefix(ENV_PREFIX) {
            Some(name) if is_arg_name(name) => Part::Env { name: name.to_string(), span },
            Some(name) => {
                return Err(InterpolationError {
                    message: format!(
                        "`${{{reference}}}` is not an env var reference: write `${{env:NAME}}` with a name of \
                         letters, digits and `_`, such as `${{env:PATH}}`, not `{name}`"
                    ),
                    span,
                });
            }
            None if is_arg_name(reference) => Part::Arg { name: reference.to_string(), span },
            None => {
                return Err(InterpolationError {
                    message: format!(
                        "`${{{reference}}}` is not a build arg reference: only `${{NAME}}` and `${{env:NAME}}` with \
                         letters, digits and `_` are interpolated (no `:-` defaults or other shell operators); write \
                         `$${{` for a literal `${{`"
                    ),
                    span,
                });
            }
        };
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(&mut literal)));
        }
        parts.push(part);
        offset += index + close + 3;
        rest = &body[close + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

/// Build arg names: a letter or `_`, then letters, digits or `_`.
pub fn is_arg_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names of the args a string refers to, or nothing when it does not parse.
pub fn referenced_args(text: &str) -> Vec<String> {
    parse(text, Span::default())
        .map(|parts| {
            parts
                .into_iter()
                .filter_map(|part| match part {
                    Part::Arg { name, .. } => Some(name),
                    Part::Env { .. } | Part::Literal(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str) -> Part {
        Part::Literal(text.to_string())
    }

    #[test]
    fn parse_table() {
        let span = Span::new(10, 0);
        let cases: Vec<(&str, Vec<Part>)> = vec![
            ("plain", vec![lit("plain")]),
            ("$HOME/x", vec![lit("$HOME/x")]),
            ("$${NAME}", vec![lit("${NAME}")]),
            ("a${V}b", vec![lit("a"), Part::Arg { name: "V".into(), span: Span::new(11, 4) }, lit("b")]),
            ("$", vec![lit("$")]),
            (
                "/opt/bin:${env:PATH}",
                vec![lit("/opt/bin:"), Part::Env { name: "PATH".into(), span: Span::new(19, 11) }],
            ),
            ("$${env:PATH}", vec![lit("${env:PATH}")]),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text, span).expect(text), expected, "{text}");
        }
    }

    #[test]
    fn parse_errors() {
        for text in ["${", "${A", "${A:-b}", "${}", "${1A}", "${env:}", "${env:A-B}", "${ENV:PATH}", "${env: A}"] {
            assert!(parse(text, Span::default()).is_err(), "{text}");
        }
    }

    #[test]
    fn span_points_inside_quotes() {
        let source = r#"from="golang:${GO}""#;
        let value_span = Span::new(5, source.len() - 5);
        let parts = parse("golang:${GO}", value_span).expect("valid");
        let Part::Arg { span, .. } = &parts[1] else { panic!("no arg") };
        assert_eq!(&source[span.start..span.end()], "${GO}");
    }
}
