//! Resolution and validation: syntax tree to typed model, then the checks
//! that need the whole spec (names, graph, artifacts, platforms, args).

pub mod build;
pub mod chain;
mod check_args;
mod check_artifacts;
mod check_build_args;
mod check_graph;
mod check_linkage;
mod check_mounts;
mod check_name_length;
mod check_names;
mod check_outputs;
mod check_paths;
mod check_patterns;
mod check_platform;
mod check_references;
mod check_run_env;
mod check_secret_names;
mod check_secrets;
mod check_shell;
mod check_text;
mod context_inputs;
mod context_links;
mod fields;
pub mod graph;
pub mod images;
mod names;
pub mod platform_args;
mod shell_text;
pub mod unix_path;
pub mod workdir;

pub use check_build_args::check_build_arg_overrides;
pub use check_references::reference_error;
pub use context_inputs::check_context_inputs;

use crate::diag::Diagnostics;
use crate::model::Spec;
use crate::syntax::Document;

/// Builds the model, settles which `from=` values name stages, and runs
/// every check. The model is returned even when there are errors, so that
/// callers can still report on it.
pub fn resolve(document: &Document, diagnostics: &mut Diagnostics) -> Spec {
    check_text::check(document, diagnostics);
    let mut spec = build::build(document, diagnostics);
    names::resolve_bases(&mut spec, diagnostics);
    spec
}

/// Runs the whole-spec checks. Each check lives in its own module and only
/// adds diagnostics; none of them stops the others, so one run reports
/// every problem. Checks that need the filesystem are separate
/// ([`check_context_inputs`]).
pub fn validate(spec: &Spec, graph: &graph::StageGraph, diagnostics: &mut Diagnostics) {
    let stages = chain::Stages::new(spec);
    let workdirs = workdir::workdirs(&stages);

    check_names::check(&stages, diagnostics);
    check_graph::check(&stages, graph, diagnostics);
    check_artifacts::check(&stages, &workdirs, diagnostics);
    check_paths::check(&stages, &workdirs, diagnostics);
    check_name_length::check(&stages, diagnostics);
    check_patterns::check(&stages, diagnostics);
    check_mounts::check(&stages, diagnostics);
    check_shell::check(&stages, diagnostics);
    check_linkage::check(&stages, diagnostics);
    check_platform::check(&stages, diagnostics);
    check_args::check(&stages, diagnostics);
    check_build_args::check(&stages, diagnostics);
    check_secrets::check(&stages, diagnostics);
    check_secret_names::check(&stages, diagnostics);
    check_run_env::check(&stages, diagnostics);
    check_outputs::check(&stages, graph, diagnostics);
    check_references::check(&stages, diagnostics);
}

/// Helpers for the table-driven tests of the check modules.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::diag::{Code, Diagnostic};

    /// Returns the diagnostics with one of `codes` that compiling `source`
    /// reports, in source order.
    pub fn diagnostics_among(source: &str, codes: &[Code]) -> Vec<Diagnostic> {
        let compilation = crate::compile::check(source);
        assert!(compilation.spec.is_some(), "test source is not valid KDL: {source}");
        compilation
            .diagnostics
            .into_iter()
            .filter(|diagnostic| codes.contains(&diagnostic.code))
            .collect()
    }

    pub fn codes_among(source: &str, codes: &[Code]) -> Vec<Code> {
        diagnostics_among(source, codes)
            .into_iter()
            .map(|diagnostic| diagnostic.code)
            .collect()
    }

    /// Returns the first diagnostic with `code`. Panics, failing the test,
    /// when there is none.
    pub fn first_among(source: &str, code: Code) -> Diagnostic {
        let found = diagnostics_among(source, &[code]).into_iter().next();
        found.unwrap_or_else(|| panic!("no {code} for {source}"))
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::Code;

    #[test]
    fn validate_is_fast_on_deep_chains() {
        let mut source = String::from("stage \"s0\" from=\"alpine:3.20\" { env A=\"1\"; arg \"V\" }\n");
        for i in 1..5_000 {
            source.push_str(&format!(
                "stage \"s{i}\" from=\"s{}\" {{ run \"echo $A $V\" }}\n",
                i - 1
            ));
        }
        source.push_str("image \"s4999\" tag=\"app:1.0\"\n");

        let started = std::time::Instant::now();
        let compilation = crate::compile::check(&source);
        // Every stage but the first reads `$V`, an arg of a base stage.
        let warnings = compilation
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::ArgNotVisible)
            .count();
        assert_eq!(warnings, 4_999);
        // A loose bound that slow machines meet too; it catches walks quadratic in chain depth.
        assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
    }
}
