//! Settles what each `from=` names: a stage of the spec or an image.

use crate::diag::{Code, Diagnostic, Diagnostics, suggest::did_you_mean};
use crate::model::{Base, Spec};

/// Turns `Base::Image` into `Base::Stage` where the value is a stage name.
/// A bare word close to a stage name (`bulid` for `build`) is reported as
/// an unknown stage rather than left to become an image pull.
pub fn resolve_bases(spec: &mut Spec, diagnostics: &mut Diagnostics) {
    let names: Vec<String> = spec.stages.iter().map(|stage| stage.name.value.clone()).collect();

    for stage in &mut spec.stages {
        let Base::Image(reference) = &stage.base else { continue };
        if names.iter().any(|name| *name == reference.value) {
            stage.base = Base::Stage(reference.clone());
            continue;
        }

        let bare_word = !reference.value.contains([':', '@', '/', '$']);
        if !bare_word {
            continue;
        }
        if let Some(suggestion) = did_you_mean(&reference.value, names.iter().map(String::as_str)) {
            diagnostics.push(
                Diagnostic::new(Code::UnknownStage, format!("unknown stage `{}`", reference.value))
                    .label(reference.span, format!("did you mean `{suggestion}`?"))
                    .help(format!(
                        "write from=\"{suggestion}\" to build on that stage; to use an image named `{}`, \
                         give its tag, such as from=\"{}:1.0\"",
                        reference.value, reference.value
                    )),
            );
            stage.base = Base::Stage(reference.clone());
        }
    }
}
