//! Machine-readable diagnostics (`--message-format json`): one JSON object
//! per line, with 1-based lines and columns counted in characters.

use serde::Serialize;

use super::{Diagnostic, Span};

#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: &'a str,
    pub code: &'static str,
    pub slug: &'static str,
    pub severity: super::Severity,
    pub message: &'a str,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub labels: Vec<JsonLabel<'a>>,
    pub help: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel<'a> {
    pub text: &'a str,
    pub offset: usize,
    pub length: usize,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// Converts byte offsets to 1-based line and character column.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(source: &str, mut offset: usize) -> usize {
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn label<'a>(source: &str, span: Span, text: &'a str) -> JsonLabel<'a> {
    let (line, column) = line_column(source, span.start);
    let (end_line, end_column) = line_column(source, span.end());
    JsonLabel { text, offset: span.start, length: span.len, line, column, end_line, end_column }
}

pub fn to_json<'a>(diagnostic: &'a Diagnostic, file: &'a str, source: &str) -> JsonDiagnostic<'a> {
    let info = diagnostic.code.info();
    let labels: Vec<JsonLabel<'a>> =
        diagnostic.labels.iter().map(|l| label(source, l.span, &l.text)).collect();
    let (line, column) = match labels.first() {
        Some(first) => (Some(first.line), Some(first.column)),
        None => (None, None),
    };
    JsonDiagnostic {
        file,
        code: info.code,
        slug: info.slug,
        severity: diagnostic.severity,
        message: &diagnostic.message,
        line,
        column,
        labels,
        help: diagnostic.help.as_deref(),
    }
}

/// Renders each diagnostic as one line of JSON.
pub fn render_lines(diagnostics: &super::Diagnostics, file: &str, source: &str) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics.iter() {
        // Serializing plain structs of strings and integers cannot fail.
        out.push_str(&serde_json::to_string(&to_json(diagnostic, file, source)).expect("serializing a diagnostic"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let source = "a\nßx\n";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, 2), (2, 1));
        assert_eq!(line_column(source, 4), (2, 2));
    }
}
