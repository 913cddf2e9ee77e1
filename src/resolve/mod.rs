//! Resolution and validation: syntax tree to typed model, then the checks
//! that need the whole spec (names, graph, artifacts, platforms, args).

pub mod build;
pub mod graph;
mod names;

use crate::diag::Diagnostics;
use crate::model::Spec;
use crate::syntax::Document;

/// Builds the model, settles which `from=` values name stages, and runs
/// every check. The model is returned even when there are errors, so that
/// callers can still report on it.
pub fn resolve(document: &Document, diagnostics: &mut Diagnostics) -> Spec {
    let mut spec = build::build(document, diagnostics);
    names::resolve_bases(&mut spec, diagnostics);
    spec
}

/// Runs the whole-spec checks. Each check lives in its own module and only
/// adds diagnostics.
pub fn validate(_spec: &Spec, _graph: &graph::StageGraph, _diagnostics: &mut Diagnostics) {
    // TODO: names, graph, artifacts, paths, shell, linkage, platform, args, outputs.
}
