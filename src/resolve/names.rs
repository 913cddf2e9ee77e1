//! Settles what each `from=` names: a stage of the spec or an image.

use std::collections::HashSet;

use crate::diag::{Code, Diagnostic, Diagnostics, display_value, suggest::did_you_mean};
use crate::model::{Base, Spec};

/// Turns `Base::Image` into `Base::Stage` where the value is a stage name.
/// A bare word close to a stage name (`bulid` for `build`) is reported as
/// an unknown stage rather than left to become an image pull.
pub fn resolve_bases(spec: &mut Spec, diagnostics: &mut Diagnostics) {
    let names: Vec<String> = spec.stages.iter().map(|stage| stage.name.value.clone()).collect();
    // The set keeps the exact match linear in the number of stages. The list
    // keeps spec order for the did-you-mean suggestion.
    let name_set: HashSet<&str> = names.iter().map(String::as_str).collect();

    for stage in &mut spec.stages {
        let Base::Image(reference) = &stage.base else { continue };
        if name_set.contains(reference.value.as_str()) {
            stage.base = Base::Stage(reference.clone());
            continue;
        }

        let bare_word = !reference.value.contains([':', '@', '/', '$']);
        if !bare_word {
            continue;
        }
        if let Some(suggestion) = did_you_mean(&reference.value, names.iter().map(String::as_str)) {
            // Image repositories are lowercase, so only a lowercase word can
            // also have meant an image.
            let help = if reference.value.eq_ignore_ascii_case(suggestion) {
                format!(
                    "write from=\"{suggestion}\" to build on that stage; stage references must match the stage \
                     name exactly, including case"
                )
            } else if reference.value.bytes().any(|byte| byte.is_ascii_uppercase()) {
                format!("write from=\"{suggestion}\" to build on that stage")
            } else {
                format!(
                    "write from=\"{suggestion}\" to build on that stage; to use an image named `{}`, give its tag, \
                     such as from=\"{}:1.0\"",
                    display_value(&reference.value),
                    display_value(&reference.value)
                )
            };
            diagnostics.push(
                Diagnostic::new(
                    Code::UnknownStage,
                    format!("unknown stage `{}`", display_value(&reference.value)),
                )
                .label(reference.span, format!("did you mean `{suggestion}`?"))
                .help(help),
            );
            stage.base = Base::Stage(reference.clone());
        }
    }
}
