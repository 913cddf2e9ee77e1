//! Human rendering of diagnostics through miette's graphical handler.

use std::fmt::Write as _;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, NamedSource, SourceCode,
    SourceSpan, SpanContents,
};

use super::display::{needs_escape, truncate_chars};
use super::json::line_column;
use super::{Diagnostic, Diagnostics, Label, Severity, Span, escape_controls};

/// Rendering options. Tests use a fixed width and no colour so that golden
/// files are stable.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub color: bool,
    pub unicode: bool,
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            unicode: true,
            width: 100,
        }
    }
}

/// Maximum characters of a source line in a snippet. Longer lines are cut
/// at [`CUT_MARKER`], so a 70 KB `run` line prints one screen line.
const MAX_LINE_CHARS: usize = 120;

/// Maximum characters of a message, label or help text.
const MAX_TEXT_CHARS: usize = 1000;

/// Labels shown per diagnostic. The rest are counted in the last label.
const MAX_LABELS: usize = 16;

/// A label that covers more lines than this is cut to its first line.
const MAX_LABEL_LINES: usize = 8;

const CUT_MARKER: &str = " …";

/// Adapts one [`Diagnostic`] to miette's trait so its handler can draw it.
/// Its texts are escaped and its spans point into a [`DisplaySource`].
struct Report<'a> {
    message: String,
    help: Option<String>,
    labels: Vec<Label>,
    diagnostic: &'a Diagnostic,
    source: &'a SnippetSource<'a>,
}

impl<'a> Report<'a> {
    fn new(diagnostic: &'a Diagnostic, display: &DisplaySource, source: &'a SnippetSource<'a>) -> Self {
        let shown = diagnostic.labels.len().min(MAX_LABELS);
        let mut labels: Vec<Label> = diagnostic.labels[..shown]
            .iter()
            .map(|label| Label {
                span: display.map_span(label.span),
                text: display_text(&label.text),
            })
            .collect();
        let hidden = diagnostic.labels.len() - shown;
        if let (Some(last), true) = (labels.last_mut(), hidden > 0) {
            let separator = if last.text.is_empty() { "" } else { "; " };
            last.text = format!("{}{separator}{hidden} more not shown", last.text);
        }

        Report {
            message: display_text(&diagnostic.message),
            help: diagnostic.help.as_deref().map(display_text),
            labels,
            diagnostic,
            source,
        }
    }
}

impl std::fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        let info = self.diagnostic.code.info();
        Some(Box::new(format!("{}({})", info.code, info.slug)))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.labels.is_empty() {
            None
        } else {
            Some(self.source)
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        let labels = self.labels.iter().enumerate().map(|(index, label)| {
            let text = (!label.text.is_empty()).then(|| label.text.clone());
            if index == 0 {
                LabeledSpan::new_primary_with_span(text, label.span)
            } else {
                LabeledSpan::new_with_span(text, label.span)
            }
        });
        Some(Box::new(labels))
    }
}

/// Escapes terminal control characters in a text and caps its length.
fn display_text(text: &str) -> String {
    truncate_chars(&escape_controls(text), MAX_TEXT_CHARS)
}

/// The spec source as snippets show it: control characters replaced by
/// characters of the same byte length, and lines longer than
/// [`MAX_LINE_CHARS`] cut to a window with [`CUT_MARKER`] at the cut ends.
/// Spans are mapped into the cut text.
struct DisplaySource {
    text: String,
    lines: Vec<DisplayLine>,
}

#[derive(Debug, Clone, Copy)]
struct DisplayLine {
    original_start: usize,
    /// Length without the line break.
    original_len: usize,
    display_start: usize,
    /// The kept window of the line, in bytes from its start; the whole line
    /// for a line that is not cut.
    window_start: usize,
    window_end: usize,
}

impl DisplayLine {
    /// Bytes of the marker shown before the window.
    fn lead(&self) -> usize {
        if self.window_start > 0 { CUT_MARKER.len() } else { 0 }
    }

    /// Bytes of the line as displayed, without the line break.
    fn display_len(&self) -> usize {
        let trail = if self.window_end < self.original_len {
            CUT_MARKER.len()
        } else {
            0
        };
        self.lead() + self.window_end - self.window_start + trail
    }
}

impl DisplaySource {
    /// Builds the display text. Each long line keeps its first characters,
    /// except the line that contains `focus`, which keeps a window around it.
    fn new(source: &str, focus: Option<usize>) -> Self {
        let mut text = String::with_capacity(source.len().min(1 << 20));
        let mut lines = Vec::new();
        let mut original_start = 0;

        for line in source.split_inclusive('\n') {
            let body = line.strip_suffix('\n').unwrap_or(line);
            let focus_column = focus
                .filter(|&offset| (original_start..=original_start + body.len()).contains(&offset))
                .map(|offset| offset - original_start);
            let (window_start, window_end) = window(body, focus_column);
            let display_line = DisplayLine {
                original_start,
                original_len: body.len(),
                display_start: text.len(),
                window_start,
                window_end,
            };
            lines.push(display_line);

            if window_start > 0 {
                text.push_str(CUT_MARKER);
            }
            push_sanitized(
                &mut text,
                &body[window_start..window_end],
                original_start == 0 && window_start == 0,
            );
            if window_end < body.len() {
                text.push_str(CUT_MARKER);
            }
            if line.len() > body.len() {
                text.push('\n');
            }
            original_start += line.len();
        }
        DisplaySource { text, lines }
    }

    /// Returns whether the snippet of this source hides `offset` in a cut.
    fn hides(&self, offset: usize) -> bool {
        self.line_at(offset).is_some_and(|line| {
            let column = offset - line.original_start;
            column < line.window_start || (column > line.window_end && column <= line.original_len)
        })
    }

    fn line_at(&self, offset: usize) -> Option<&DisplayLine> {
        let index = self
            .lines
            .partition_point(|line| line.original_start <= offset)
            .checked_sub(1)?;
        self.lines.get(index)
    }

    fn map_offset(&self, offset: usize) -> usize {
        let Some(line) = self.line_at(offset) else { return 0 };
        let column = offset - line.original_start;
        let in_window = column.clamp(line.window_start, line.window_end) - line.window_start;
        if column > line.original_len {
            // The line break, or past the end of the source.
            line.display_start + line.display_len() + 1
        } else if column == line.original_len {
            line.display_start + line.display_len()
        } else {
            line.display_start + line.lead() + in_window
        }
    }

    /// Maps an offset of the display text back to the original source.
    fn original_offset(&self, display_offset: usize) -> usize {
        let index = self.lines.partition_point(|line| line.display_start <= display_offset);
        let Some(line) = index.checked_sub(1).and_then(|index| self.lines.get(index)) else {
            return 0;
        };
        let column = display_offset - line.display_start;
        let in_window = column
            .saturating_sub(line.lead())
            .min(line.window_end - line.window_start);
        line.original_start + line.window_start + in_window
    }

    fn map_span(&self, span: Span) -> Span {
        let start = self.map_offset(span.start).min(self.text.len());
        let mut end = self.map_offset(span.end()).clamp(start, self.text.len());
        let covered = &self.text[floor_boundary(&self.text, start)..floor_boundary(&self.text, end)];
        if covered.matches('\n').count() > MAX_LABEL_LINES {
            end = start + covered.find('\n').unwrap_or(covered.len());
        }
        Span::new(start, end - start)
    }
}

/// Returns the byte range of `line` to show: all of it when it is short,
/// else [`MAX_LINE_CHARS`] characters from its start, or around `focus`.
fn window(line: &str, focus: Option<usize>) -> (usize, usize) {
    let chars: Vec<usize> = line.char_indices().map(|(index, _)| index).collect();
    if chars.len() <= MAX_LINE_CHARS {
        return (0, line.len());
    }
    let focus_char = focus.map_or(0, |offset| chars.partition_point(|&index| index < offset));
    // Keep a little context before the focus.
    let first = focus_char
        .saturating_sub(MAX_LINE_CHARS / 4)
        .min(chars.len() - MAX_LINE_CHARS);
    let end = chars.get(first + MAX_LINE_CHARS).copied().unwrap_or(line.len());
    (chars[first], end)
}

/// The display text as miette reads it. miette reads the primary label on
/// its own, with no context lines, to print the `[file:line:column]`
/// header. For that read the column comes from the original source, because
/// a cut line or a replaced character would shift it, and it counts
/// characters, as the JSON output does.
struct SnippetSource<'a> {
    named: NamedSource<String>,
    display: &'a DisplaySource,
    original: &'a str,
}

impl SourceCode for SnippetSource<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let contents = self.named.read_span(span, context_lines_before, context_lines_after)?;
        if context_lines_before != 0 || context_lines_after != 0 {
            return Ok(contents);
        }
        let (_, column) = line_column(self.original, self.display.original_offset(span.offset()));
        Ok(Box::new(MietteSpanContents::new_named(
            self.named.name().to_string(),
            contents.data(),
            *contents.span(),
            contents.line(),
            column - 1,
            contents.line_count(),
        )))
    }
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Appends `line` with each character that [`needs_escape`] replaced by `?`
/// bytes, or by U+FFFD when that has the same length. A byte order mark at
/// the start of the file and carriage returns before line breaks stay.
fn push_sanitized(out: &mut String, line: &str, at_file_start: bool) {
    for (index, c) in line.char_indices() {
        let keep = c == '\t'
            || (c == '\r' && index + 1 == line.len())
            || (c == '\u{feff}' && at_file_start && index == 0)
            || !needs_escape(c);
        if keep {
            out.push(c);
        } else if c.len_utf8() == '\u{fffd}'.len_utf8() {
            out.push('\u{fffd}');
        } else {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        }
    }
}

fn handler(options: &RenderOptions) -> GraphicalReportHandler {
    let theme = match (options.unicode, options.color) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme::unicode_nocolor(),
        (false, true) => GraphicalTheme::ascii(),
        (false, false) => GraphicalTheme::none(),
    };
    GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false)
}

/// Renders one diagnostic against the spec source.
pub fn render_one(diagnostic: &Diagnostic, source: &NamedSource<String>, options: &RenderOptions) -> String {
    let focus = diagnostic.labels.first().map(|label| label.span.start);
    let display = DisplaySource::new(source.inner(), focus);
    render_prepared(diagnostic, &display, source.name(), source.inner(), options)
}

fn render_prepared(
    diagnostic: &Diagnostic,
    display: &DisplaySource,
    file_name: &str,
    original: &str,
    options: &RenderOptions,
) -> String {
    let snippet_source = SnippetSource {
        named: NamedSource::new(escape_controls(file_name), display.text.clone()),
        display,
        original,
    };
    let mut out = String::new();
    let report = Report::new(diagnostic, display, &snippet_source);
    // Writing to a String cannot fail, and the handler only fails on a
    // formatter error, so an error here would be a bug in miette.
    handler(options)
        .render_report(&mut out, &report)
        .expect("rendering a diagnostic into a String");
    out
}

/// Renders all diagnostics followed by the summary line that ends a failed
/// run ("aborting due to N previous errors") or counts the warnings.
pub fn render_all(diagnostics: &Diagnostics, file_name: &str, source: &str, options: &RenderOptions) -> String {
    render_report(diagnostics, file_name, source, options, false)
}

/// Renders all diagnostics and the summary line. With `deny_warnings`,
/// warnings fail the run too, and the summary line reports that.
pub fn render_report(
    diagnostics: &Diagnostics,
    file_name: &str,
    source: &str,
    options: &RenderOptions,
    deny_warnings: bool,
) -> String {
    let display = DisplaySource::new(source, None);
    let mut out = String::new();
    for diagnostic in diagnostics.iter() {
        let primary = diagnostic.labels.first().map(|label| label.span.start);
        match primary.filter(|&offset| display.hides(offset)) {
            // The primary label lies past a cut: show a window around it.
            Some(offset) => {
                let focused = DisplaySource::new(source, Some(offset));
                out.push_str(&render_prepared(diagnostic, &focused, file_name, source, options));
            }
            None => out.push_str(&render_prepared(diagnostic, &display, file_name, source, options)),
        }
        out.push('\n');
    }
    if let Some(summary) = summary(diagnostics, deny_warnings) {
        let _ = writeln!(out, "{summary}");
    }
    out
}

/// Returns the closing line of a run: errors abort, warnings are counted.
pub fn summary_line(diagnostics: &Diagnostics) -> Option<String> {
    summary(diagnostics, false)
}

/// Returns the closing line of a run. Errors abort and warnings are
/// counted, but under `--deny-warnings` warnings abort as well.
pub fn summary(diagnostics: &Diagnostics, deny_warnings: bool) -> Option<String> {
    let errors = diagnostics.error_count();
    let warnings = diagnostics.warning_count();
    let plural = |count: usize, word: &str| {
        if count == 1 {
            format!("{count} {word}")
        } else {
            format!("{count} {word}s")
        }
    };
    match (errors, warnings) {
        (0, 0) => None,
        (0, w) if deny_warnings => Some(format!(
            "error: aborting due to {} (--deny-warnings)",
            plural(w, "warning")
        )),
        (0, w) => Some(format!("{} emitted", plural(w, "warning"))),
        (1, _) => Some("error: aborting due to 1 previous error".to_string()),
        (e, _) => Some(format!("error: aborting due to {e} previous errors")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;

    fn render(diagnostic: Diagnostic, source: &str) -> String {
        let mut diagnostics = Diagnostics::default();
        diagnostics.push(diagnostic);
        render_all(&diagnostics, "app.kdl", source, &RenderOptions::default())
    }

    #[test]
    fn long_line_is_cut_in_the_snippet() {
        let source = format!("stage \"a\" from=\"alpine:3\" {{ run \"{}\" }}\n", "x".repeat(70_000));
        let start = source.find("run").expect("run");
        let diagnostic =
            Diagnostic::new(Code::InvalidValue, "bad run").label(Span::new(start, source.len() - 3 - start), "here");
        let rendered = render(diagnostic, &source);
        assert!(rendered.len() < 4_000, "{} bytes", rendered.len());
        assert!(rendered.contains(CUT_MARKER.trim()), "{rendered}");
    }

    #[test]
    fn control_characters_are_escaped_in_texts_and_snippet() {
        let source = "stage \"a\u{1b}[31m\" from=\"alpine:3\"\n";
        let diagnostic = Diagnostic::new(Code::InvalidName, "invalid stage name `a\u{1b}[31m`")
            .label(Span::new(6, 9), "invalid \u{1b}[0m characters")
            .help("rename\nit");
        let rendered = render(diagnostic, source);
        assert!(!rendered.contains('\u{1b}'), "{rendered:?}");
        assert!(rendered.contains("a\\u{1b}[31m"), "{rendered}");
        assert!(rendered.contains("rename\\nit"), "{rendered}");
    }

    #[test]
    fn span_after_cut_line_maps_exactly() {
        let source = format!("a \"{}\"\nstage \"b\"\n", "y".repeat(500));
        let display = DisplaySource::new(&source, None);
        let start = source.find("stage").expect("stage");
        let span = display.map_span(Span::new(start, 5));
        assert_eq!(&display.text[span.start..span.end()], "stage");
    }

    #[test]
    fn far_label_gets_line_window() {
        let source = format!("a {}{{\n", "x ".repeat(5_000));
        let brace = source.find('{').expect("brace");
        let diagnostic = Diagnostic::new(Code::KdlSyntax, "too deep").label(Span::new(brace, 1), "level 65");
        let rendered = render(diagnostic, &source);
        assert!(rendered.contains("x {"), "{rendered}");
        assert!(rendered.lines().any(|line| line.contains("… x x")), "{rendered}");
        assert!(rendered.len() < 2_000, "{} bytes", rendered.len());
    }

    #[test]
    fn window_keeps_context_before_the_focus() {
        let line = "y".repeat(1_000);
        assert_eq!(window(&line, None), (0, MAX_LINE_CHARS));
        let (start, end) = window(&line, Some(500));
        assert!(start < 500, "{start}..{end}");
        assert!(500 < end, "{start}..{end}");
        assert_eq!(end - start, MAX_LINE_CHARS);
        assert_eq!(window(&line, Some(999)), (1_000 - MAX_LINE_CHARS, 1_000));
        assert_eq!(window("short", Some(2)), (0, 5));
    }

    #[test]
    fn header_column_counts_characters_of_the_original_line() {
        let source = format!("é {}{{\n", "x ".repeat(5_000));
        let brace = source.find('{').expect("brace");
        let diagnostic = Diagnostic::new(Code::KdlSyntax, "too deep").label(Span::new(brace, 1), "here");
        let rendered = render(diagnostic, &source);
        assert!(rendered.contains("[app.kdl:1:10003]"), "{rendered}");
    }

    #[test]
    fn labels_past_the_cap_are_counted() {
        let source = "a\n".repeat(40);
        let mut diagnostic = Diagnostic::new(Code::DependencyCycle, "cycle");
        for line in 0..30 {
            diagnostic = diagnostic.label(Span::new(line * 2, 1), format!("edge {line}"));
        }
        let rendered = render(diagnostic, &source);
        assert!(rendered.contains("14 more not shown"), "{rendered}");
        assert!(!rendered.contains("edge 20"), "{rendered}");
    }

    #[test]
    fn deny_warnings_summary_is_an_error_line() {
        let mut diagnostics = Diagnostics::default();
        diagnostics.push(Diagnostic::new(Code::UnpinnedBaseImage, "unpinned"));
        assert_eq!(summary(&diagnostics, false).as_deref(), Some("1 warning emitted"));
        assert_eq!(
            summary(&diagnostics, true).as_deref(),
            Some("error: aborting due to 1 warning (--deny-warnings)")
        );
    }
}
