//! The spec fields that interpolate `${NAME}`, with the scope each one sees:
//! `from=` and image tags see global args only, and a stage field sees the
//! global args plus the args its stage declared before it.

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
    /// What the field is, for messages: "`from`", "`env` value".
    pub what: &'static str,
}

/// Every interpolated field of the spec, in source order within each stage.
pub fn interpolated_fields(spec: &Spec) -> Vec<Field<'_>> {
    let mut fields = Vec::new();
    let mut push = |scope, value, what| fields.push(Field { scope, value, what });

    for (stage_index, stage) in spec.stages.iter().enumerate() {
        if let Base::Image(reference) = &stage.base {
            push(Scope::Global, reference, "`from`");
        }

        for (step_index, step) in stage.steps.iter().enumerate() {
            let scope = Scope::Stage { stage: stage_index, step: step_index };
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

/// The span of `len` bytes at byte `start` of a string value's text. Exact
/// when the value was written as a plain quoted string without escapes
/// (its span is then two bytes longer than its text); otherwise the whole
/// value, since escapes and raw quotes shift the offsets.
pub fn inner_span(value: &Spanned<String>, start: usize, len: usize) -> Span {
    if value.span.len == value.value.len() + 2 && start + len <= value.value.len() {
        Span::new(value.span.start + 1 + start, len)
    } else {
        value.span
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
    fn inner_span_falls_back_for_escaped_strings() {
        let value = Spanned::new("a\"b".to_string(), Span::new(4, 6));
        assert_eq!(inner_span(&value, 0, 1), value.span);
    }
}
