//! Checks every string of the spec for a NUL character, which no process
//! argument, environment entry or path can hold: the kernel ends each of
//! them at the first NUL byte, so the build would see other text.

use crate::diag::{Code, Diagnostic, Diagnostics, Span};
use crate::syntax::{Document, Node};

pub fn check(document: &Document, diagnostics: &mut Diagnostics) {
    for node in &document.nodes {
        check_node(node, diagnostics);
    }
}

fn check_node(node: &Node, diagnostics: &mut Diagnostics) {
    let values = node
        .args
        .iter()
        .chain(node.props.iter().map(|property| &property.value));
    for value in values {
        if value.as_str().is_some_and(|text| text.contains('\0')) {
            diagnostics.push(nul_error(&node.name, value.span));
        }
    }
    for property in node.props.iter().filter(|property| property.key.contains('\0')) {
        diagnostics.push(nul_error(&node.name, property.key_span));
    }
    for child in &node.children {
        check_node(child, diagnostics);
    }
}

fn nul_error(node: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidValue,
        format!("a string of `{node}` contains a NUL character"),
    )
    .label(span, "contains `\\u{0}`")
    .help("remove the NUL character: arguments, environment entries and paths end at the first NUL byte")
}

#[cfg(test)]
mod tests {
    use crate::diag::Code;

    fn codes(source: &str) -> Vec<Code> {
        crate::compile::check(source)
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn nul_in_a_copy_destination_is_an_error() {
        let source = "stage \"a\" from=\"alpine:3\" {\n    copy \"f\" to=\"/x\\u{0}y\"\n}\nimage \"a\" tag=\"a:1\"\n";
        assert!(codes(source).contains(&Code::InvalidValue), "{:?}", codes(source));
    }

    #[test]
    fn nul_in_an_env_name_is_an_error() {
        let source = "stage \"a\" from=\"alpine:3\" {\n    env \"A\\u{0}B\"=\"v\"\n}\nimage \"a\" tag=\"a:1\"\n";
        assert!(codes(source).contains(&Code::InvalidValue), "{:?}", codes(source));
    }
}
