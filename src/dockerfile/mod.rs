//! The Dockerfile backend: emits a Dockerfile and its ignore file from a
//! [`BuildGraph`]. The output is deterministic byte for byte. Every spec
//! string is either encoded so that the image contains exactly that value or
//! rejected with SC0802 (see [`quote`]). A feature above the selected
//! syntax level is rejected with SC0801.

mod ignore;
mod instruction;
mod mounts;
mod quote;
mod run;
mod stage;
mod syntax;

pub use syntax::{Feature, InvalidSyntaxLevel, SyntaxLevel};

use crate::diag::{Code, Diagnostic, Diagnostics, Span};
use crate::lower::BuildGraph;
use quote::Unrepresentable;

/// How to emit.
#[derive(Debug, Clone)]
pub struct DockerfileOptions {
    /// The Dockerfile frontend version the output may use.
    pub syntax: SyntaxLevel,
    /// The spec as the header comment names it: a path relative to the
    /// Dockerfile's directory, or a description such as "standard input".
    pub spec_path: String,
}

/// The emitted files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    pub dockerfile: String,
    /// The content of `Dockerfile.dockerignore`, which BuildKit reads next
    /// to a Dockerfile of that name.
    pub dockerignore: String,
}

/// Emits the Dockerfile and ignore file for `graph`. The header says to
/// regenerate them with `stagec dockerfile SPEC -o Dockerfile`.
pub fn emit(graph: &BuildGraph, options: &DockerfileOptions) -> Result<Emitted, Diagnostics> {
    let command = regenerate_command(&options.spec_path, "Dockerfile", &[]);
    emit_with_command(graph, options, Some(&command))
}

/// Returns the command that writes a Dockerfile named `output` from the
/// spec at `spec_path`, followed by `flags`. Words that a POSIX shell would
/// split or expand are single-quoted.
pub fn regenerate_command(spec_path: &str, output: &str, flags: &[String]) -> String {
    let mut words = vec!["stagec".to_string(), "dockerfile".to_string()];
    words.push(shell_word(spec_path));
    words.push("-o".to_string());
    words.push(shell_word(output));
    words.extend(flags.iter().map(|flag| shell_word(flag)));
    words.join(" ")
}

/// Quotes `text` for a POSIX shell unless it is made only of characters
/// that no shell treats specially.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '=' | '+' | '@' | ','));
    if plain {
        text.to_string()
    } else {
        quote::shell_single_quoted(text)
    }
}

/// Emits the Dockerfile and ignore file for `graph`, with `command` as the
/// header's regenerate command, to be run in the Dockerfile's directory.
/// `None` leaves the command out, for a spec that no command can read again.
pub fn emit_with_command(
    graph: &BuildGraph,
    options: &DockerfileOptions,
    command: Option<&str>,
) -> Result<Emitted, Diagnostics> {
    let plan = ignore::plan(graph);
    let mut writer = Writer::default();
    stage::write_stages(graph, &plan, &mut writer);
    let dockerignore = ignore::write(graph, &plan, &options.spec_path, &mut writer);

    for (feature, span) in writer.features.clone() {
        if feature.level() > options.syntax {
            writer
                .diagnostics
                .push(needs_newer_syntax(feature, span, options.syntax));
        }
    }
    if writer.diagnostics.has_errors() {
        writer.diagnostics.sort();
        return Err(writer.diagnostics);
    }

    let mut dockerfile = String::new();
    // Name the frontend only when the file needs more than the built-in
    // one has, and only at the level the user chose.
    if options.syntax > SyntaxLevel::DEFAULT && writer.needed_level() > SyntaxLevel::DEFAULT {
        dockerfile.push_str(&format!("# syntax=docker/dockerfile:{}\n", options.syntax));
    }
    for line in stage::header(graph, &options.spec_path, command) {
        dockerfile.push_str(&line);
        dockerfile.push('\n');
    }
    for line in &writer.lines {
        dockerfile.push_str(line);
        dockerfile.push('\n');
    }
    Ok(Emitted {
        dockerfile,
        dockerignore,
    })
}

/// Returns the lowest syntax level that can express `graph`, or `None` when
/// no level can (the graph has SC0802 errors).
pub fn minimum_syntax_level(graph: &BuildGraph) -> Option<SyntaxLevel> {
    let plan = ignore::plan(graph);
    let mut writer = Writer::default();
    stage::write_stages(graph, &plan, &mut writer);
    ignore::write(graph, &plan, "", &mut writer);
    (!writer.diagnostics.has_errors()).then(|| writer.needed_level())
}

fn needs_newer_syntax(feature: Feature, span: Span, selected: SyntaxLevel) -> Diagnostic {
    let level = feature.level();
    let mut help = format!(
        "pass `--dockerfile-syntax {level}`; a level above {default} (the frontend built into Docker 20.10) adds a \
         `# syntax=docker/dockerfile:{level}` line, and the builder needs registry access to pull that frontend",
        default = SyntaxLevel::DEFAULT
    );
    if feature == Feature::CopyExclude {
        help.push_str(
            "; or exclude the pattern in every copy of this path, so that the ignore file can exclude it instead",
        );
    }
    Diagnostic::new(
        Code::NeedsNewerSyntax,
        format!(
            "{} needs Dockerfile syntax {level}, but the selected level is {selected}",
            feature.syntax()
        ),
    )
    .label(span, format!("needs syntax {level}"))
    .help(help)
}

/// Collects Dockerfile lines, the features they use, and diagnostics.
#[derive(Debug, Default)]
struct Writer {
    lines: Vec<String>,
    features: Vec<(Feature, Span)>,
    diagnostics: Diagnostics,
}

impl Writer {
    /// Adds an instruction line; a line too long for the frontend is reported at `span`.
    fn line(&mut self, text: String, span: Span) {
        if text.len() > quote::MAX_LINE_BYTES {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::UnrepresentableValue,
                    format!(
                        "instruction is {} bytes long, over the Dockerfile line limit",
                        text.len()
                    ),
                )
                .label(span, "emitted as one line")
                .help(format!(
                    "the frontend reads lines of at most {} bytes; move long scripts into a file in the \
                     build context and run that",
                    quote::MAX_LINE_BYTES
                )),
            );
            return;
        }
        self.lines.push(text);
    }

    fn blank(&mut self) {
        self.lines.push(String::new());
    }

    fn comment(&mut self, text: &str) {
        self.lines
            .push(format!("# {}", quote::comment_text(text)).trim_end().to_string());
    }

    fn require(&mut self, feature: Feature, span: Span) {
        if !self.features.contains(&(feature, span)) {
            self.features.push((feature, span));
        }
    }

    fn needed_level(&self) -> SyntaxLevel {
        self.features
            .iter()
            .map(|(feature, _)| feature.level())
            .max()
            .unwrap_or(SyntaxLevel::MIN)
    }

    /// Reports a value that cannot be written exactly; `what` names it, as
    /// in "`env` value".
    fn unrepresentable(&mut self, span: Span, what: &str, error: Unrepresentable) {
        self.diagnostics.push(
            Diagnostic::new(Code::UnrepresentableValue, format!("{what} {}", error.reason))
                .label(span, "cannot be written to a Dockerfile exactly")
                .help(error.help),
        );
    }
}

#[cfg(test)]
mod tests;
