//! The spec fields that interpolate `${NAME}`, with the args each one can
//! use: `from=` and image tags use global args only, and a stage field uses
//! the global args plus the args its stage declared before it.

use crate::diag::Span;
use crate::model::{Base, Spanned, Spec, StepKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `from=` and image tags.
    Global,
    /// A field of step `step` in stage `stage`.
    Stage { stage: usize, step: usize },
}

#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub scope: Scope,
    pub value: &'a Spanned<String>,
    /// The field's name in messages, such as "`from`" or "`env` value".
    pub what: &'static str,
}

/// Returns every interpolated field of the spec, in source order within
/// each stage.
pub fn interpolated_fields(spec: &Spec) -> Vec<Field<'_>> {
    let mut fields = Vec::new();
    let mut push = |scope, value, what| fields.push(Field { scope, value, what });

    for (stage_index, stage) in spec.stages.iter().enumerate() {
        if let Base::Image(reference) = &stage.base {
            push(Scope::Global, reference, "`from`");
        }

        for (step_index, step) in stage.steps.iter().enumerate() {
            let scope = Scope::Stage {
                stage: stage_index,
                step: step_index,
            };
            match &step.kind {
                StepKind::Workdir(path) => push(scope, path, "`workdir`"),
                StepKind::User(user) => push(scope, user, "`user`"),
                StepKind::Env(pairs) => pairs.iter().for_each(|(_, value)| push(scope, value, "`env` value")),
                StepKind::Label(pairs) => pairs.iter().for_each(|(_, value)| push(scope, value, "`label` value")),
                StepKind::Expose(ports) => ports.iter().for_each(|port| push(scope, port, "`expose`")),
                StepKind::Volume(paths) => paths.iter().for_each(|path| push(scope, path, "`volume`")),
                StepKind::Copy(copy) => {
                    push(scope, &copy.to, "`copy to=`");
                    if let Some(owner) = &copy.owner {
                        push(scope, owner, "`copy owner=`");
                    }
                }
                _ => {}
            }
        }
    }

    for image in &spec.images {
        for tag in &image.tags {
            push(Scope::Global, tag, "image tag");
        }
    }

    fields
}

/// The span of `len` bytes at byte `start` of a string value's text.
///
/// Only the decoded text and the span of the whole value are at hand here,
/// not the spec source. So the offsets are mapped by re-encoding the text
/// the way a KDL quoted string writes it (`\"`, `\\`, `\n`, `\t`, `\r`).
/// When that encoding has the span's length, the mapping is exact. A raw
/// string (`#"..."#`) is recognized by its length when the text needs no
/// escapes. Any other value gets the whole span.
// NOTE: a raw string whose text contains exactly two characters that need
// escaping has the length of the quoted form too; its labels may then be
// one byte off.
pub fn inner_span(value: &Spanned<String>, start: usize, len: usize) -> Span {
    let text = value.value.as_str();
    let end = start + len;
    if end > text.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return value.span;
    }

    let encoded_len = |part: &str| {
        part.chars()
            .map(|c| {
                if matches!(c, '"' | '\\' | '\n' | '\t' | '\r') {
                    2
                } else {
                    c.len_utf8()
                }
            })
            .sum::<usize>()
    };
    if value.span.len == encoded_len(text) + 2 {
        let inner_start = value.span.start + 1 + encoded_len(&text[..start]);
        return Span::new(inner_start, encoded_len(&text[start..end]));
    }

    let hashes = value.span.len.saturating_sub(text.len() + 2) / 2;
    let is_raw = hashes > 0 && value.span.len == text.len() + 2 + 2 * hashes && !text.contains('\n');
    if is_raw {
        return Span::new(value.span.start + 1 + hashes + start, len);
    }
    value.span
}

/// Corrects a span that `interpolate::parse` computed inside `value`. That
/// parser adds decoded-text offsets to the value's start, which is exact
/// only without escapes; this maps the same offsets through [`inner_span`].
pub fn interpolation_span(value: &Spanned<String>, parsed: Span) -> Span {
    let base = value.span.start + usize::from(value.span.len > value.value.len());
    match parsed.start.checked_sub(base) {
        Some(offset) => inner_span(value, offset, parsed.len.min(value.value.len().saturating_sub(offset))),
        None => value.span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_span_is_exact_for_plain_strings() {
        let source = r#"run "echo $HOME""#;
        let value = Spanned::new("echo $HOME".to_string(), Span::new(4, 12));
        let span = inner_span(&value, 5, 5);
        assert_eq!(&source[span.start..span.end()], "$HOME");
    }

    #[test]
    fn inner_span_maps_through_escapes() {
        let source = r#"run "go build -ldflags \"-X main.v=$V\" .""#;
        let value = Spanned::new(
            r#"go build -ldflags "-X main.v=$V" ."#.to_string(),
            Span::new(4, source.len() - 4),
        );
        let start = value.value.find("$V").expect("has $V");
        let span = inner_span(&value, start, 2);
        assert_eq!(&source[span.start..span.end()], "$V");
    }

    #[test]
    fn inner_span_maps_raw_strings() {
        let source = r##"run #"echo $V"#"##;
        let value = Spanned::new("echo $V".to_string(), Span::new(4, source.len() - 4));
        let span = inner_span(&value, 5, 2);
        assert_eq!(&source[span.start..span.end()], "$V");
    }

    #[test]
    fn interpolation_span_maps_through_escapes() {
        let source = r#"env V="say \"hi\" ${NAME}""#;
        let value = Spanned::new(r#"say "hi" ${NAME}"#.to_string(), Span::new(6, source.len() - 6));
        let parts = crate::model::interpolate::parse(&value.value, value.span).expect("valid");
        let crate::model::interpolate::Part::Arg { span, .. } = &parts[1] else {
            panic!("no arg")
        };
        let span = interpolation_span(&value, *span);
        assert_eq!(&source[span.start..span.end()], "${NAME}");
    }

    #[test]
    fn inner_span_falls_back_for_other_escapes() {
        let source = r#"env "\u{41}""#;
        let value = Spanned::new("A".to_string(), Span::new(4, source.len() - 4));
        assert_eq!(inner_span(&value, 0, 1), value.span);
    }
}
