//! The stage dependency graph: edges from `from=`, artifact copies and bind
//! mounts, a topological order, cycle detection and reachability. Every
//! pass here is linear in stages plus edges.

use std::collections::BinaryHeap;
use std::cmp::Reverse;

use crate::diag::Span;
use crate::model::{Base, CopySource, MountKind, Spec, StepKind};

/// Why one stage depends on another, with the span that creates the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Base,
    Copy,
    Bind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// Index of the stage depended on.
    pub to: usize,
    pub kind: EdgeKind,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct StageGraph {
    /// `edges[i]` lists what stage `i` depends on, in spec order.
    pub edges: Vec<Vec<Edge>>,
    /// `rank[i]` is the position of stage `i` when the stages are sorted by
    /// lower-cased name, then spec index. Empty for a graph built without a spec.
    rank: Vec<usize>,
}

impl StageGraph {
    /// Collects edges. References to unknown stages are skipped here; the
    /// name checks report them.
    pub fn new(spec: &Spec) -> StageGraph {
        let index = name_index(spec);
        let lookup = |name: &str| index.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| index[i].1);

        let mut edges = vec![Vec::new(); spec.stages.len()];
        for (i, stage) in spec.stages.iter().enumerate() {
            if let Base::Stage(name) = &stage.base {
                if let Some(to) = lookup(&name.value) {
                    edges[i].push(Edge { to, kind: EdgeKind::Base, span: name.span });
                }
            }
            for step in &stage.steps {
                match &step.kind {
                    StepKind::Copy(copy) => {
                        let from = match &copy.source {
                            CopySource::Artifact { stage, .. } | CopySource::StagePath { stage, .. } => stage,
                            CopySource::Context(_) => continue,
                        };
                        if let Some(to) = lookup(&from.value) {
                            edges[i].push(Edge { to, kind: EdgeKind::Copy, span: from.span });
                        }
                    }
                    StepKind::Run(run) => {
                        for mount in &run.mounts {
                            if let MountKind::Bind { from: Some(from), .. } = &mount.kind {
                                if let Some(to) = lookup(&from.value) {
                                    edges[i].push(Edge { to, kind: EdgeKind::Bind, span: from.span });
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        StageGraph {
            edges,
            rank: name_rank(spec),
        }
    }

    /// Returns the stages in an order where each comes after all it depends
    /// on. Among ready stages the one whose lower-cased name sorts first goes
    /// first, so the order depends on the graph and the names, not on the
    /// order of the stages in the spec. Stages on a cycle are left out.
    pub fn topological_order(&self) -> Vec<usize> {
        let count = self.edges.len();
        let mut pending = vec![0usize; count];
        let mut dependents = vec![Vec::new(); count];
        for (i, edges) in self.edges.iter().enumerate() {
            for edge in edges {
                pending[i] += 1;
                dependents[edge.to].push(i);
            }
        }

        let rank = |i: usize| self.rank.get(i).copied().unwrap_or(i);
        let mut ready: BinaryHeap<Reverse<(usize, usize)>> =
            (0..count).filter(|&i| pending[i] == 0).map(|i| Reverse((rank(i), i))).collect();
        let mut order = Vec::with_capacity(count);
        while let Some(Reverse((_, i))) = ready.pop() {
            order.push(i);
            for &dependent in &dependents[i] {
                pending[dependent] -= 1;
                if pending[dependent] == 0 {
                    ready.push(Reverse((rank(dependent), dependent)));
                }
            }
        }
        order
    }

    /// Finds cycles, each as the list of stages along it, starting from the
    /// stage written first. Iterative, so deep chains cannot overflow the stack.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }

        let count = self.edges.len();
        let mut marks = vec![Mark::New; count];
        let mut cycles = Vec::new();

        for root in 0..count {
            if marks[root] != Mark::New {
                continue;
            }
            // Each frame: stage and the index of its next edge to follow.
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            marks[root] = Mark::OnPath;
            while let Some(&mut (stage, ref mut next)) = path.last_mut() {
                if let Some(edge) = self.edges[stage].get(*next) {
                    *next += 1;
                    match marks[edge.to] {
                        Mark::New => {
                            marks[edge.to] = Mark::OnPath;
                            path.push((edge.to, 0));
                        }
                        Mark::OnPath => {
                            let start = path.iter().position(|(s, _)| *s == edge.to).unwrap_or(0);
                            let mut cycle: Vec<usize> = path[start..].iter().map(|(s, _)| *s).collect();
                            let first = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                            cycle.rotate_left(first);
                            cycles.push(cycle);
                        }
                        Mark::Done => {}
                    }
                } else {
                    marks[stage] = Mark::Done;
                    path.pop();
                }
            }
        }
        cycles.sort();
        cycles.dedup();
        cycles
    }

    /// Marks every stage some root depends on, directly or not.
    pub fn reachable_from(&self, roots: impl IntoIterator<Item = usize>) -> Vec<bool> {
        let mut seen = vec![false; self.edges.len()];
        let mut stack: Vec<usize> = roots.into_iter().collect();
        while let Some(stage) = stack.pop() {
            if std::mem::replace(&mut seen[stage], true) {
                continue;
            }
            stack.extend(self.edges[stage].iter().map(|edge| edge.to).filter(|&to| !seen[to]));
        }
        seen
    }
}

/// Returns each stage's position in the order of lower-cased names, then spec indexes.
fn name_rank(spec: &Spec) -> Vec<usize> {
    let mut sorted: Vec<(String, usize)> = spec
        .stages
        .iter()
        .enumerate()
        .map(|(i, stage)| (stage.name.value.to_lowercase(), i))
        .collect();
    sorted.sort();
    let mut rank = vec![0; sorted.len()];
    for (position, (_, i)) in sorted.into_iter().enumerate() {
        rank[i] = position;
    }
    rank
}

/// Stage names sorted for binary search; duplicates keep the first stage.
fn name_index(spec: &Spec) -> Vec<(String, usize)> {
    let mut index: Vec<(String, usize)> =
        spec.stages.iter().enumerate().map(|(i, stage)| (stage.name.value.clone(), i)).collect();
    index.sort();
    index.dedup_by(|later, earlier| later.0 == earlier.0);
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::syntax::parse;

    fn graph(source: &str) -> (Spec, StageGraph) {
        let mut diagnostics = Diagnostics::default();
        let spec = crate::resolve::resolve(&parse(source).expect("valid"), &mut diagnostics);
        let graph = StageGraph::new(&spec);
        (spec, graph)
    }

    #[test]
    fn order_follows_dependencies_not_spec_order() {
        let (spec, graph) = graph(
            r#"
            stage "runtime" from="alpine:3" { copy artifact="app" from="builder" to="/app" }
            stage "builder" from="golang:1.19" { artifact "app" path="/app" }
            "#,
        );
        let names: Vec<&str> = graph.topological_order().iter().map(|&i| spec.stages[i].name.as_str()).collect();
        assert_eq!(names, ["builder", "runtime"]);
    }

    #[test]
    fn independent_stages_are_ordered_by_name() {
        let (spec, graph) = graph(
            r#"
            stage "Zeta" from="alpine:3"
            stage "gen" from="alpine:3"
            stage "app" from="gen" { copy artifact="z" from="Zeta" to="/z" }
            stage "base" from="alpine:3"
            "#,
        );
        let names: Vec<&str> = graph.topological_order().iter().map(|&i| spec.stages[i].name.as_str()).collect();
        assert_eq!(names, ["base", "gen", "Zeta", "app"]);
    }

    #[test]
    fn cycle_is_reported_once_from_first_stage() {
        let (_, graph) = graph(
            r#"
            stage "a" from="c"
            stage "b" from="a"
            stage "c" from="b"
            "#,
        );
        assert_eq!(graph.cycles(), vec![vec![0, 2, 1]]);
        assert!(graph.topological_order().is_empty());
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let mut source = String::from("stage \"s0\" from=\"alpine:3\"\n");
        for i in 1..20_000 {
            source.push_str(&format!("stage \"s{i}\" from=\"s{}\"\n", i - 1));
        }
        let (_, graph) = graph(&source);
        assert!(graph.cycles().is_empty());
        assert_eq!(graph.topological_order().len(), 20_000);
        assert!(graph.reachable_from([19_999]).iter().all(|&seen| seen));
    }
}
