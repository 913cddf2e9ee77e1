//! The compile driver shared by every command: parse, resolve, validate.

use crate::diag::Diagnostics;
use crate::model::Spec;
use crate::resolve::graph::StageGraph;

/// A spec after parsing and validation. `spec` is `None` only when the
/// source was not valid KDL.
#[derive(Debug)]
pub struct Compilation {
    pub spec: Option<Spec>,
    pub graph: StageGraph,
    pub diagnostics: Diagnostics,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }
}

/// Parses and checks `source`. Diagnostics come back sorted by position.
pub fn check(source: &str) -> Compilation {
    let mut diagnostics = Diagnostics::default();
    let document = match crate::syntax::parse(source) {
        Ok(document) => document,
        Err(errors) => {
            diagnostics.extend(errors);
            diagnostics.sort();
            return Compilation { spec: None, graph: StageGraph::default(), diagnostics };
        }
    };

    let spec = crate::resolve::resolve(&document, &mut diagnostics);
    let graph = StageGraph::new(&spec);
    crate::resolve::validate(&spec, &graph, &mut diagnostics);
    diagnostics.sort();
    Compilation { spec: Some(spec), graph, diagnostics }
}
