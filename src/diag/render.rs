//! Human rendering of diagnostics through miette's graphical handler.

use std::fmt::Write as _;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

use super::{Diagnostic, Diagnostics, Severity};

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
        RenderOptions { color: false, unicode: true, width: 100 }
    }
}

/// Adapts one [`Diagnostic`] to miette's trait so its handler can draw it.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: &'a NamedSource<String>,
}

impl std::fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.message)
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
        self.diagnostic.help.as_ref().map(|help| Box::new(help) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.diagnostic.labels.is_empty() { None } else { Some(self.source) }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.diagnostic.labels.is_empty() {
            return None;
        }
        let labels = self.diagnostic.labels.iter().enumerate().map(|(index, label)| {
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

fn handler(options: &RenderOptions) -> GraphicalReportHandler {
    let theme = match (options.unicode, options.color) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme::unicode_nocolor(),
        (false, true) => GraphicalTheme::ascii(),
        (false, false) => GraphicalTheme::none(),
    };
    GraphicalReportHandler::new_themed(theme).with_width(options.width).with_links(false)
}

/// Renders one diagnostic against the spec source.
pub fn render_one(diagnostic: &Diagnostic, source: &NamedSource<String>, options: &RenderOptions) -> String {
    let mut out = String::new();
    let report = Report { diagnostic, source };
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
    let named = NamedSource::new(file_name, source.to_string());
    let mut out = String::new();
    for diagnostic in diagnostics.iter() {
        out.push_str(&render_one(diagnostic, &named, options));
        out.push('\n');
    }
    if let Some(summary) = summary_line(diagnostics) {
        let _ = writeln!(out, "{summary}");
    }
    out
}

/// The closing line of a run: errors abort, warnings are counted.
pub fn summary_line(diagnostics: &Diagnostics) -> Option<String> {
    let errors = diagnostics.error_count();
    let warnings = diagnostics.warning_count();
    let plural = |count: usize, word: &str| {
        if count == 1 { format!("{count} {word}") } else { format!("{count} {word}s") }
    };
    match (errors, warnings) {
        (0, 0) => None,
        (0, w) => Some(format!("{} emitted", plural(w, "warning"))),
        (1, _) => Some("error: aborting due to 1 previous error".to_string()),
        (e, _) => Some(format!("error: aborting due to {e} previous errors")),
    }
}
