//! Machine-readable diagnostics (`--message-format json`): one JSON object
//! per line. Lines and columns are 1-based, and columns count Unicode scalar
//! values (Rust `char`s). Byte offsets are given too, for tools that index
//! the file in another unit. docs/cli.md documents the schema, and
//! [`SCHEMA_VERSION`] changes when a field is removed or changes meaning.
//! Adding a field does not change it.

use serde::Serialize;

use super::{Code, Diagnostic, Span};

/// The version of the object layout, in every object's `schema` field.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub schema: u32,
    pub file: &'a str,
    pub code: &'static str,
    pub slug: &'static str,
    pub severity: super::Severity,
    pub message: &'a str,
    /// Start of the primary label, or `None` for a diagnostic without a location.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// End of the primary label (exclusive).
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    /// Byte range of the primary label.
    pub offset: Option<usize>,
    pub end_offset: Option<usize>,
    /// Every label, the primary one first.
    pub labels: Vec<JsonLabel<'a>>,
    pub help: Option<&'a str>,
    /// The section of docs/diagnostics.md that explains the code, which
    /// `stagec explain CODE` also prints.
    pub docs: String,
    /// The last log lines of a failed build step, on `build-step-failed`
    /// diagnostics of `stagec build`. Absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<&'a [String]>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel<'a> {
    pub primary: bool,
    pub text: &'a str,
    pub offset: usize,
    pub length: usize,
    pub end_offset: usize,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// Converts a byte offset to a 1-based line and a 1-based column counted in
/// characters. An offset past the end, or inside a multi-byte character,
/// is moved back to the nearest character boundary, so a stale span cannot
/// panic.
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

fn label<'a>(source: &str, span: Span, text: &'a str, primary: bool) -> JsonLabel<'a> {
    let (line, column) = line_column(source, span.start);
    let (end_line, end_column) = line_column(source, span.end());
    JsonLabel {
        primary,
        text,
        offset: span.start,
        length: span.len,
        end_offset: span.end(),
        line,
        column,
        end_line,
        end_column,
    }
}

/// Returns the anchor of a code's section in docs/diagnostics.md, as
/// `codes::reference_markdown` writes its headings.
pub fn docs_anchor(code: Code) -> String {
    let info = code.info();
    format!("docs/diagnostics.md#{}-{}", info.code.to_lowercase(), info.slug)
}

pub fn to_json<'a>(diagnostic: &'a Diagnostic, file: &'a str, source: &str) -> JsonDiagnostic<'a> {
    let info = diagnostic.code.info();
    let labels: Vec<JsonLabel<'a>> = diagnostic
        .labels
        .iter()
        .enumerate()
        .map(|(index, l)| label(source, l.span, &l.text, index == 0))
        .collect();
    let primary = labels.first();
    JsonDiagnostic {
        schema: SCHEMA_VERSION,
        file,
        code: info.code,
        slug: info.slug,
        severity: diagnostic.severity,
        message: &diagnostic.message,
        line: primary.map(|label| label.line),
        column: primary.map(|label| label.column),
        end_line: primary.map(|label| label.end_line),
        end_column: primary.map(|label| label.end_column),
        offset: primary.map(|label| label.offset),
        end_offset: primary.map(|label| label.end_offset),
        labels,
        help: diagnostic.help.as_deref(),
        docs: docs_anchor(diagnostic.code),
        log: None,
    }
}

fn push_line(out: &mut String, json: &JsonDiagnostic<'_>) {
    // Serializing plain structs of strings and integers cannot fail.
    out.push_str(&serde_json::to_string(json).expect("serializing a diagnostic"));
    out.push('\n');
}

/// Renders each diagnostic as one line of JSON.
pub fn render_lines(diagnostics: &super::Diagnostics, file: &str, source: &str) -> String {
    render_lines_with_log(diagnostics, file, source, &[])
}

/// Renders each diagnostic as one line of JSON, and puts the failed step's
/// log lines into the `log` field of each `build-step-failed` diagnostic, so
/// that standard error carries no lines of another format.
pub fn render_lines_with_log(diagnostics: &super::Diagnostics, file: &str, source: &str, log: &[String]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics.iter() {
        let mut json = to_json(diagnostic, file, source);
        if !log.is_empty() && diagnostic.code == Code::BuildStepFailed {
            json.log = Some(log);
        }
        push_line(&mut out, &json);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Diagnostics, Severity};

    fn pretty(lines: &str) -> String {
        lines
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
                serde_json::to_string_pretty(&value).expect("JSON value serializes")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn diagnostics(items: Vec<Diagnostic>) -> Diagnostics {
        let mut diagnostics = Diagnostics::default();
        diagnostics.extend(items);
        diagnostics
    }

    #[test]
    fn line_column_counts_characters() {
        let source = "a\nßx\n";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, 2), (2, 1));
        assert_eq!(line_column(source, 4), (2, 2));
    }

    #[test]
    fn line_column_clamps_bad_offsets() {
        let source = "ß\n";
        assert_eq!(line_column(source, 1), (1, 1), "inside `ß`");
        assert_eq!(line_column(source, 99), (2, 1), "past the end");
        assert_eq!(line_column("", 5), (1, 1), "empty source");
    }

    #[test]
    fn json_compiled_spec_snapshot() {
        let source = "stage \"builder\" from=\"alpine:3\" {\n    run \"mkdir -p /out && echo ok > /out/s\"\n    artifact \"s\" path=\"/out/s\"\n}\nstage \"runtime\" from=\"alpine:3\" {\n    copy artifact=\"s\" from=\"bulider\" to=\"/s\"\n}\nimage \"runtime\" tag=\"s:1\"\n";
        let compilation = crate::compile::check(source);
        insta::assert_snapshot!(
            "json_unknown_stage",
            pretty(&render_lines(&compilation.diagnostics, "app.kdl", source))
        );
    }

    #[test]
    fn json_labels_primary_first_and_multiline() {
        let source = "// é\nstage \"ä\" {\n    x\n}\n";
        let diagnostic = Diagnostic::new(Code::InvalidName, "stage name `ä` is invalid")
            .label(Span::new(13, 2), "not ASCII")
            .label(Span::new(6, 20), "in this stage")
            .help("use letters a-z");
        let lines = render_lines(&diagnostics(vec![diagnostic]), "app.kdl", source);
        insta::assert_snapshot!("json_labels_multibyte", pretty(&lines));
    }

    #[test]
    fn json_without_location() {
        let diagnostic = Diagnostic::new(Code::MissingLock, "no lock file").severity(Severity::Warning);
        let lines = render_lines(&diagnostics(vec![diagnostic]), "<stdin>", "");
        insta::assert_snapshot!("json_without_location", pretty(&lines));
    }

    #[test]
    fn json_log_only_on_failed_step() {
        let source = "stage \"a\" from=\"alpine:3\" {\n    run \"false\"\n}\n";
        let failed =
            Diagnostic::new(Code::BuildStepFailed, "build step failed").label(Span::new(32, 11), "this step failed");
        let other = Diagnostic::new(Code::UnusedArtifact, "unused").label(Span::new(0, 5), "here");
        let log = vec!["line one".to_string(), "line \"two\"".to_string()];
        let lines = render_lines_with_log(&diagnostics(vec![failed, other]), "app.kdl", source, &log);

        let values: Vec<serde_json::Value> = lines
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect();
        assert_eq!(values.len(), 2);
        assert_eq!(values[0]["log"], serde_json::json!(["line one", "line \"two\""]));
        assert!(values[1].get("log").is_none(), "{}", values[1]);
    }

    #[test]
    fn json_one_object_per_line() {
        // Messages and labels may contain newlines; JSON escapes them.
        let diagnostic = Diagnostic::new(Code::KdlSyntax, "first\nsecond").label(Span::new(0, 1), "a\nb");
        let lines = render_lines(&diagnostics(vec![diagnostic.clone(), diagnostic]), "app.kdl", "x\n");
        assert_eq!(lines.lines().count(), 2, "{lines}");
        for line in lines.lines() {
            // `schema` comes first, so a reader can tell the format from the line's start.
            assert!(line.starts_with("{\"schema\":1,"), "{line}");
            let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            assert_eq!(value["schema"], SCHEMA_VERSION);
        }
    }

    #[test]
    fn docs_anchor_matches_reference_heading() {
        let reference = crate::diag::codes::reference_markdown();
        for &code in Code::ALL {
            let anchor = docs_anchor(code);
            let fragment = anchor.split_once('#').expect("an anchor").1;
            assert!(
                reference.contains(&format!("(#{fragment})")),
                "{code}: the table of docs/diagnostics.md has no link to #{fragment}"
            );
        }
    }
}
