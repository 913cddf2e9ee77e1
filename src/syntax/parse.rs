use kdl::{KdlDocument, KdlError, KdlNode, KdlValue};

use super::{Document, Node, Property, Value, ValueKind, depth, parser};
use crate::diag::{Code, Diagnostic, Span};

/// The first-line directive BuildKit reads to pick a frontend. KDL has no
/// `#` comments, so the line is blanked before parsing and kept aside.
pub const SYNTAX_LINE_PREFIX: &str = "# syntax=";

/// Stack size of the thread that runs the KDL parser. The nesting pre-scan
/// already bounds the parser's recursion, so this is a second line of
/// defence. It reserves address space, and memory only as the stack grows.
const PARSER_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Parses spec source. On a KDL syntax error, returns every error the `kdl`
/// crate reports, each as an SC0001 diagnostic.
///
/// The hand-written parser reads the document. Only when it rejects the
/// text does the `kdl` crate parse it again, for its diagnostics, because
/// errors are rare and that crate's messages and spans are what users see.
pub fn parse(source: &str) -> Result<Document, Vec<Diagnostic>> {
    let (text, syntax) = strip_syntax_line(source);
    if let Some(diagnostic) = depth::check_nesting(&text) {
        return Err(vec![diagnostic]);
    }

    match parser::parse_document(&text) {
        Ok(nodes) => Ok(Document { nodes, syntax }),
        Err(offset) => {
            tracing::debug!(
                offset,
                "the KDL parser rejected the spec; asking the kdl crate for diagnostics"
            );
            parse_with_kdl_crate(source)
        }
    }
}

/// Parses spec source with the hand-written parser alone, returning the
/// byte offset where it rejected the text. For the conformance tests.
#[doc(hidden)]
pub fn parse_without_fallback(source: &str) -> Result<Document, usize> {
    let (text, syntax) = strip_syntax_line(source);
    let nodes = parser::parse_document(&text)?;
    Ok(Document { nodes, syntax })
}

/// Parses spec source with the `kdl` crate, as `parse` does when the
/// hand-written parser rejects it. The conformance tests use it as the
/// reference.
#[doc(hidden)]
pub fn parse_with_kdl_crate(source: &str) -> Result<Document, Vec<Diagnostic>> {
    let (text, syntax) = strip_syntax_line(source);
    if let Some(diagnostic) = depth::check_nesting(&text) {
        return Err(vec![diagnostic]);
    }

    let nodes = parse_on_large_stack(&text).map_err(|error| {
        let mut diagnostics: Vec<Diagnostic> = error
            .diagnostics
            .iter()
            .map(|kdl| {
                let span: Span = kdl.span.into();
                let message = kdl.message.clone().unwrap_or_else(|| "invalid KDL".to_string());
                let help = hint_for(&text, span)
                    .map(str::to_string)
                    .or_else(|| kdl.help.clone())
                    .unwrap_or_else(|| {
                        "stagec specs are KDL v2 documents: strings in double quotes, `//` comments, \
                     booleans written #true and #false"
                            .to_string()
                    });
                Diagnostic::new(Code::KdlSyntax, format!("invalid KDL: {message}"))
                    .label(span, kdl.label.clone().unwrap_or_default())
                    .help(help)
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

    Ok(Document { nodes, syntax })
}

/// Parses and converts the document on a thread with a large stack, since
/// both steps recurse once per block level. Parses on the calling thread
/// when no thread can be started.
fn parse_on_large_stack(text: &str) -> Result<Vec<Node>, KdlError> {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("kdl-parse".to_string())
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, move || parse_nodes(text));
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(error) => {
                tracing::debug!(%error, "cannot start the parser thread; parsing on the current thread");
                parse_nodes(text)
            }
        }
    })
}

fn parse_nodes(text: &str) -> Result<Vec<Node>, KdlError> {
    let document = KdlDocument::parse_v2(text)?;
    Ok(document.nodes().iter().map(convert_node).collect())
}

/// Returns the project's own hint for the two KDL v1 and shell habits that
/// the `kdl` crate reports in generic terms: a `#` comment, and a bare
/// `true`, `false` or `null` (KDL v2 spells them `#true`, `#false`, `#null`).
fn hint_for(text: &str, span: Span) -> Option<&'static str> {
    let at = text.get(span.start..)?;
    let word_len = at
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .unwrap_or(at.len());
    match &at[..word_len] {
        "true" | "false" => return Some("KDL v2 writes booleans as #true and #false, for example none=#true"),
        "null" => return Some("KDL v2 writes null as #null"),
        _ => {}
    }

    let after_hash = at.strip_prefix('#')?;
    let keyword = ["true", "false", "null", "inf", "-inf", "nan", "\"", "#"]
        .iter()
        .any(|keyword| after_hash.starts_with(keyword));
    (!keyword).then_some("`#` does not start a comment in KDL: write `// comment`, or `/* ... */` for a block")
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

    let children = node
        .children()
        .map(|doc| doc.nodes().iter().map(convert_node).collect())
        .unwrap_or_default();

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
        let help = errors[0].help.as_deref().unwrap_or_default();
        assert!(help.contains("write `// comment`"), "{help}");
    }

    #[test]
    fn bare_boolean_gets_hash_keyword_hint() {
        let errors = parse("stage \"a\" {\n    healthcheck none=true\n}\n").expect_err("invalid");
        let help = errors[0].help.as_deref().unwrap_or_default();
        assert!(help.contains("#true and #false"), "{help}");
    }

    #[test]
    fn hash_keywords_and_raw_strings_get_no_comment_hint() {
        for (text, start) in [("#true", 0), ("#\"x\"#", 0), ("##\"x\"##", 0)] {
            assert_eq!(hint_for(text, Span::new(start, 1)), None, "{text}");
        }
    }

    #[test]
    fn nesting_past_the_limit_is_rejected_before_parsing() {
        let levels = MAX_NESTING_FOR_TEST + 1;
        let source = format!("{}{}", "a {".repeat(levels), "}".repeat(levels));
        let errors = parse(&source).expect_err("too deep");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("nested more than"), "{}", errors[0].message);
    }

    const MAX_NESTING_FOR_TEST: usize = super::super::MAX_NESTING;

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
