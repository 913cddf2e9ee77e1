//! `stagec fmt`: rewrites a spec in the canonical layout while keeping
//! every comment, the order of nodes and what the spec compiles to.
//!
//! The layout: four spaces per level, one node per line, arguments before
//! properties, properties in a fixed order per node kind ([`order`]),
//! every string quoted, ` {` on the node's line, at most one blank line
//! between nodes. Comments stay where they were relative to the node or
//! entry they precede, and slashdashed (`/-`) items are kept as written.
//!
//! Each result is checked before it is returned: it must parse to the same
//! nodes, keep every comment, and format to itself. A spec the formatter
//! cannot handle is reported and never rewritten.

mod order;
mod print;
mod tree;
mod trivia;

#[cfg(test)]
mod tests;

use kdl::KdlDocument;

use crate::diag::Diagnostic;
use crate::syntax::{Document, Node};

/// The reason a spec was not formatted.
#[derive(Debug, Clone)]
pub enum FormatError {
    /// The spec is not valid KDL, and the diagnostics point at the errors.
    Syntax(Vec<Diagnostic>),
    /// The spec uses a construct the formatter does not lay out, or the
    /// layout failed its own checks. The spec stays as it is.
    Unsupported(String),
}

/// Formats spec source. Returns the canonical text, which equals `source`
/// when the spec is already formatted.
pub fn format(source: &str) -> Result<String, FormatError> {
    let original = crate::syntax::parse(source).map_err(FormatError::Syntax)?;
    let formatted = format_parsed(source)?;

    // The checks that make formatting safe to apply without review.
    let reparsed = crate::syntax::parse(&formatted).map_err(|errors| {
        let message = errors.first().map_or_else(String::new, |error| error.message.clone());
        FormatError::Unsupported(format!("the formatted spec does not parse ({message})"))
    })?;
    if canonical_nodes(&original) != canonical_nodes(&reparsed) {
        return Err(FormatError::Unsupported(
            "formatting would change the spec's nodes".to_string(),
        ));
    }
    if comment_texts(source) != comment_texts(&formatted) {
        return Err(FormatError::Unsupported(
            "formatting would lose a comment; comments between entries are kept, but not inside a type \
             annotation or a `key=value` pair, so move such a comment before its entry"
                .to_string(),
        ));
    }
    if format_parsed(&formatted)? != formatted {
        return Err(FormatError::Unsupported(
            "the formatted spec is not stable under formatting".to_string(),
        ));
    }
    Ok(formatted)
}

/// Formats without the safety checks.
fn format_parsed(source: &str) -> Result<String, FormatError> {
    let (header, text) = split_header(source);
    let document = KdlDocument::parse_v2(&text)
        .map_err(|error| FormatError::Unsupported(format!("the spec does not parse as KDL v2: {error}")))?;
    let block =
        tree::build(&text, &document, 0).map_err(|tree::Unsupported(reason)| FormatError::Unsupported(reason))?;

    let mut out = header;
    print::print_document(&block, &mut out);
    // Comments and multi-line strings keep the line breaks they were written
    // with, so a CRLF file would come out with mixed line endings. KDL v2
    // reads CRLF in a multi-line string as LF, which the checks in
    // [`format`] confirm.
    Ok(out.replace("\r\n", "\n"))
}

/// Splits off a byte order mark and a leading `# syntax=` line, which KDL
/// cannot parse. Returns them as the output's first line, and the source
/// with that line blanked so that offsets stay the same.
fn split_header(source: &str) -> (String, String) {
    let body = source.strip_prefix('\u{feff}').unwrap_or(source);
    let bom = &source[..source.len() - body.len()];
    let first_line_end = body.find('\n').unwrap_or(body.len());
    let first_line = body[..first_line_end].trim_end_matches('\r');
    if !is_syntax_line(first_line) {
        let mut text = String::with_capacity(source.len());
        text.extend(std::iter::repeat_n(' ', bom.len()));
        text.push_str(body);
        return (bom.to_string(), text);
    }

    let mut header = bom.to_string();
    header.push_str(first_line.trim_end());
    header.push('\n');
    let mut text = String::with_capacity(source.len());
    text.extend(std::iter::repeat_n(' ', bom.len() + first_line.len()));
    text.push_str(&body[first_line.len()..]);
    (header, text)
}

/// Returns whether `line` is the `# syntax=IMAGE` directive, by the rule
/// [`crate::syntax::parse`] applies.
fn is_syntax_line(line: &str) -> bool {
    line.strip_prefix('#')
        .map(str::trim_start)
        .and_then(|directive| directive.strip_prefix("syntax"))
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// Renders the parsed nodes without spans, with properties in canonical
/// order, so that two specs that compile alike render alike.
fn canonical_nodes(document: &Document) -> String {
    let mut out = format!("syntax={:?}\n", document.syntax.as_ref().map(|(image, _)| image));
    for node in &document.nodes {
        canonical_node(node, 0, &mut out);
    }
    out
}

fn canonical_node(node: &Node, level: usize, out: &mut String) {
    out.push_str(&"  ".repeat(level));
    out.push_str(&format!("{:?}", node.name));
    for argument in &node.args {
        out.push_str(&format!(" {:?}", argument.kind));
    }
    let keys: Vec<&str> = node.props.iter().map(|property| property.key.as_str()).collect();
    for position in order::canonical_order(&node.name, &keys) {
        let property = &node.props[position];
        out.push_str(&format!(" {:?}={:?}", property.key, property.value.kind));
    }
    out.push_str(if node.has_block { " {\n" } else { "\n" });
    for child in &node.children {
        canonical_node(child, level + 1, out);
    }
}

/// Lists every comment and slashdash of the spec with blanks removed, sorted,
/// so that moving a comment with its property or re-indenting it does not
/// count as a change.
fn comment_texts(source: &str) -> Vec<String> {
    let (_, text) = split_header(source);
    let mut texts: Vec<String> = trivia::all_comments(&text)
        .into_iter()
        .map(|comment| comment.chars().filter(|c| !c.is_whitespace()).collect())
        .collect();
    texts.sort();
    texts
}
