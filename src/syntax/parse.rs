use kdl::{KdlDocument, KdlNode, KdlValue};

use super::{Document, Node, Property, Value, ValueKind};
use crate::diag::{Code, Diagnostic, Span};

/// The first-line directive BuildKit reads to pick a frontend. KDL has no
/// `#` comments, so the line is blanked before parsing and kept aside.
pub const SYNTAX_LINE_PREFIX: &str = "# syntax=";

/// Parses spec source. On a KDL syntax error, returns every error the `kdl`
/// crate reported, each as an SC0001 diagnostic.
pub fn parse(source: &str) -> Result<Document, Vec<Diagnostic>> {
    let (text, syntax) = strip_syntax_line(source);

    let document = KdlDocument::parse_v2(&text).map_err(|error| {
        let mut diagnostics: Vec<Diagnostic> = error
            .diagnostics
            .iter()
            .map(|kdl| {
                let message = kdl.message.clone().unwrap_or_else(|| "invalid KDL".to_string());
                let mut diagnostic = Diagnostic::new(Code::KdlSyntax, format!("invalid KDL: {message}"))
                    .label(kdl.span.into(), kdl.label.clone().unwrap_or_default());
                diagnostic.help = Some(kdl.help.clone().unwrap_or_else(|| {
                    "stagec specs are KDL v2 documents: strings in double quotes, `//` comments, \
                     booleans written #true and #false"
                        .to_string()
                }));
                diagnostic
            })
            .collect();
        if diagnostics.is_empty() {
            diagnostics.push(
                Diagnostic::new(Code::KdlSyntax, "invalid KDL")
                    .label(Span::new(0, 0), "")
                    .help("check the spec against the KDL v2 grammar"),
            );
        }
        diagnostics
    })?;

    Ok(Document { nodes: document.nodes().iter().map(convert_node).collect(), syntax })
}

/// Replaces a leading `# syntax=...` line with spaces of the same length so
/// that spans still point at the original text.
fn strip_syntax_line(source: &str) -> (std::borrow::Cow<'_, str>, Option<(String, Span)>) {
    let body = source.strip_prefix('\u{feff}').unwrap_or(source);
    let bom = source.len() - body.len();
    if !body.starts_with('#') {
        return (source.into(), None);
    }

    let line_end = body.find('\n').unwrap_or(body.len());
    let line = body[..line_end].trim_end_matches('\r');
    let directive = line[1..].trim_start();
    let syntax = directive
        .strip_prefix("syntax")
        .map(str::trim_start)
        .and_then(|rest| rest.strip_prefix('='))
        .map(|image| (image.trim().to_string(), Span::new(bom, line.len())));

    if syntax.is_none() {
        // Only the syntax directive is special; other `#` lines stay and fail
        // as KDL syntax so the user learns that `//` starts a comment.
        return (source.into(), None);
    }

    let mut text = String::with_capacity(source.len());
    text.push_str(&source[..bom]);
    text.extend(std::iter::repeat_n(' ', line.len()));
    text.push_str(&body[line.len()..]);
    (text.into(), syntax)
}

fn convert_value(value: &KdlValue, span: Span) -> Value {
    let kind = match value {
        KdlValue::String(text) => ValueKind::String(text.clone()),
        KdlValue::Integer(number) => ValueKind::Integer(*number),
        KdlValue::Float(number) => ValueKind::Float(*number),
        KdlValue::Bool(flag) => ValueKind::Bool(*flag),
        KdlValue::Null => ValueKind::Null,
    };
    Value { kind, span }
}

fn convert_node(node: &KdlNode) -> Node {
    let mut args = Vec::new();
    let mut props = Vec::new();

    for entry in node.entries() {
        let span: Span = entry.span().into();
        match entry.name() {
            Some(key) => {
                let key_span: Span = key.span().into();
                // The value's own span starts after `key=`.
                let value_start = (key_span.end() + 1).min(span.end());
                let value_span = Span::new(value_start, span.end().saturating_sub(value_start));
                props.push(Property {
                    key: key.value().to_string(),
                    key_span,
                    value: convert_value(entry.value(), value_span),
                    span,
                });
            }
            None => args.push(convert_value(entry.value(), span)),
        }
    }

    let children = node.children().map(|doc| doc.nodes().iter().map(convert_node).collect()).unwrap_or_default();

    Node {
        name: node.name().value().to_string(),
        name_span: node.name().span().into(),
        args,
        props,
        children,
        has_block: node.children().is_some(),
        span: node.span().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_line_is_blanked_keeping_offsets() {
        let source = "# syntax=example/stagec:1\nstage \"a\" from=\"alpine:3\"\n";
        let document = parse(source).expect("valid");
        assert_eq!(document.syntax.as_ref().map(|s| s.0.as_str()), Some("example/stagec:1"));
        let stage = &document.nodes[0];
        assert_eq!(&source[stage.name_span.start..stage.name_span.end()], "stage");
        let from = stage.prop("from").expect("from");
        assert_eq!(&source[from.value.span.start..from.value.span.end()], "\"alpine:3\"");
    }

    #[test]
    fn hash_comment_is_a_syntax_error() {
        let errors = parse("# a comment\nstage \"a\"\n").expect_err("invalid");
        assert_eq!(errors[0].code, Code::KdlSyntax);
    }

    #[test]
    fn spans_cover_args_and_children() {
        let source = "stage \"b\" {\n    run \"make\" network=\"none\"\n}\n";
        let document = parse(source).expect("valid");
        let run = &document.nodes[0].children[0];
        assert_eq!(run.name, "run");
        assert_eq!(&source[run.args[0].span.start..run.args[0].span.end()], "\"make\"");
        assert_eq!(run.prop("network").and_then(|p| p.value.as_str()), Some("none"));
    }
}
