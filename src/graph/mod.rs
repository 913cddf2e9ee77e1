//! `stagec graph`: the spec drawn as a graph of base images, context
//! inputs, stages and outputs, with artifacts on the edges between stages.
//! [`build`] turns a checked spec into a [`Graph`]; [`dot`], [`mermaid`]
//! and [`svg`] write it out. Everything is in spec order, so the output is
//! the same on every run.

pub mod dot;
pub mod mermaid;
pub mod svg;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::model::interpolate::{self, Part};
use crate::model::{Base, CopySource, MountKind, Spanned, Spec, StepKind};
use crate::resolve::graph::StageGraph;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A base image that a stage starts from.
    Image,
    /// The context inputs one stage copies or binds.
    Context,
    Stage,
    /// An `image` output, with its tags.
    Output,
    /// A `check` output.
    Check,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// An identifier that DOT and Mermaid accept unquoted, such as `stage_2`.
    pub id: String,
    pub kind: NodeKind,
    /// The text of the node, one entry per line.
    pub lines: Vec<String>,
    /// Whether a stage is exported by an output (drawn with a bold border).
    pub marked: bool,
    /// Whether no output or check needs this node.
    pub unreachable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// `from=`: an image or a stage a stage starts from.
    Base,
    /// An artifact or path copied from another stage.
    Artifact,
    /// A `bind` mount of another stage, or of the context, in a `run` step.
    Bind,
    /// Files copied from the build context.
    Context,
    /// A stage exported by an `image` or built by a `check`.
    Output,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Index of the source node in [`Graph::nodes`].
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// Label lines; edges of one kind between the same nodes share one edge.
    pub lines: Vec<String>,
    pub unreachable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The choice of stages that count as needed, and the build arg values.
#[derive(Debug, Clone, Default)]
pub struct GraphOptions {
    /// Only this stage (and the checks) are roots; by default every image
    /// output and check is.
    pub target: Option<String>,
    /// Build arg values that override the spec defaults, for `from=` and tags.
    pub build_args: BTreeMap<String, String>,
}

/// Builds the graph of a spec that passed validation. Unknown stage names
/// are skipped rather than reported, since validation reports them.
pub fn build(spec: &Spec, stage_graph: &StageGraph, options: &GraphOptions) -> Graph {
    let values = global_values(spec, &options.build_args);
    let reachable = reachable_stages(spec, stage_graph, options);
    let mut graph = Graph::default();

    let stage_nodes: Vec<usize> = spec
        .stages
        .iter()
        .enumerate()
        .map(|(index, stage)| {
            let mut lines = vec![stage.name.value.clone()];
            if let Some(platform) = &stage.platform {
                lines.push(format!("platform {}", platform.value));
            }
            let marked = spec.images.iter().any(|image| image.stage.value == stage.name.value);
            graph.push_node(
                format!("stage_{index}"),
                NodeKind::Stage,
                lines,
                marked,
                !reachable[index],
            )
        })
        .collect();

    let mut image_nodes: BTreeMap<String, usize> = BTreeMap::new();
    for (index, stage) in spec.stages.iter().enumerate() {
        let unreachable = !reachable[index];
        match &stage.base {
            Base::Image(reference) => {
                let reference = substitute(reference, &values);
                let node = match image_nodes.get(&reference) {
                    Some(&node) => node,
                    None => {
                        let id = format!("image_{}", image_nodes.len());
                        let node = graph.push_node(id, NodeKind::Image, vec![reference.clone()], false, true);
                        image_nodes.insert(reference, node);
                        node
                    }
                };
                graph.nodes[node].unreachable &= unreachable;
                graph.push_edge(
                    node,
                    stage_nodes[index],
                    EdgeKind::Base,
                    Some("from".to_string()),
                    unreachable,
                );
            }
            Base::Stage(name) => {
                if let Some(base) = spec.stage_index(&name.value) {
                    graph.push_edge(
                        stage_nodes[base],
                        stage_nodes[index],
                        EdgeKind::Base,
                        Some("from".to_string()),
                        unreachable,
                    );
                }
            }
            Base::Scratch(_) => graph.nodes[stage_nodes[index]].lines.push("from scratch".to_string()),
        }
    }

    for index in 0..spec.stages.len() {
        add_step_edges(&mut graph, spec, index, &stage_nodes, !reachable[index]);
    }

    for (position, image) in spec.images.iter().enumerate() {
        let Some(stage) = spec.stage_index(&image.stage.value) else {
            continue;
        };
        let mut lines = vec!["image".to_string()];
        lines.extend(image.tags.iter().map(|tag| substitute(tag, &values)));
        let unreachable = !reachable[stage];
        let node = graph.push_node(format!("output_{position}"), NodeKind::Output, lines, true, unreachable);
        graph.push_edge(stage_nodes[stage], node, EdgeKind::Output, None, unreachable);
    }
    for (position, check) in spec.checks.iter().enumerate() {
        let Some(stage) = spec.stage_index(&check.value) else {
            continue;
        };
        let lines = vec!["check".to_string()];
        let node = graph.push_node(format!("check_{position}"), NodeKind::Check, lines, true, false);
        graph.push_edge(stage_nodes[stage], node, EdgeKind::Output, None, false);
    }
    graph.sort_nodes();
    graph
}

/// Adds the edges that a stage's `copy` and `run` steps create: artifacts
/// and paths from other stages, bind mounts, and context inputs (grouped
/// into one node per stage).
fn add_step_edges(graph: &mut Graph, spec: &Spec, index: usize, stage_nodes: &[usize], unreachable: bool) {
    let stage = &spec.stages[index];
    let mut context_inputs: Vec<String> = Vec::new();
    let mut context_binds = false;
    for step in &stage.steps {
        match &step.kind {
            StepKind::Copy(copy) => match &copy.source {
                CopySource::Context(paths) => context_inputs.extend(paths.iter().map(|path| path.value.clone())),
                CopySource::Artifact { stage: from, artifact } => {
                    let Some(producer) = spec.stage_index(&from.value) else {
                        continue;
                    };
                    let path = spec.stages[producer]
                        .artifacts
                        .iter()
                        .find(|declared| declared.name.value == artifact.value)
                        .map(|declared| declared.path.value.clone());
                    let label = match path {
                        Some(path) => format!("{} {path}", artifact.value),
                        None => artifact.value.clone(),
                    };
                    graph.push_edge(
                        stage_nodes[producer],
                        stage_nodes[index],
                        EdgeKind::Artifact,
                        Some(label),
                        unreachable,
                    );
                }
                CopySource::StagePath { stage: from, path } => {
                    if let Some(producer) = spec.stage_index(&from.value) {
                        let label = Some(path.value.clone());
                        graph.push_edge(
                            stage_nodes[producer],
                            stage_nodes[index],
                            EdgeKind::Artifact,
                            label,
                            unreachable,
                        );
                    }
                }
            },
            StepKind::Run(run) => {
                for mount in &run.mounts {
                    let MountKind::Bind {
                        target, from, source, ..
                    } = &mount.kind
                    else {
                        continue;
                    };
                    let source_path = source.as_ref().map_or(".", |source| source.value.as_str());
                    match from {
                        Some(from) => {
                            if let Some(producer) = spec.stage_index(&from.value) {
                                let label = Some(format!("bind {source_path} at {}", target.value));
                                graph.push_edge(
                                    stage_nodes[producer],
                                    stage_nodes[index],
                                    EdgeKind::Bind,
                                    label,
                                    unreachable,
                                );
                            }
                        }
                        None => {
                            context_inputs.push(source_path.to_string());
                            context_binds = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    if context_inputs.is_empty() {
        return;
    }
    let mut lines: Vec<String> = Vec::new();
    for input in context_inputs {
        if !lines.contains(&input) {
            lines.push(input);
        }
    }
    let node = graph.push_node(format!("context_{index}"), NodeKind::Context, lines, false, unreachable);
    let label = if context_binds { "copy, bind" } else { "copy" };
    graph.push_edge(
        node,
        stage_nodes[index],
        EdgeKind::Context,
        Some(label.to_string()),
        unreachable,
    );
}

impl Graph {
    /// Orders the nodes as the data flows, keeping spec order within each
    /// kind: base images, context inputs, stages, then outputs.
    fn sort_nodes(&mut self) {
        let rank = |kind: NodeKind| match kind {
            NodeKind::Image => 0,
            NodeKind::Context => 1,
            NodeKind::Stage => 2,
            NodeKind::Output | NodeKind::Check => 3,
        };
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by_key(|&index| rank(self.nodes[index].kind));
        let mut new_index = vec![0; order.len()];
        for (position, &old) in order.iter().enumerate() {
            new_index[old] = position;
        }
        let mut nodes: Vec<Option<Node>> = std::mem::take(&mut self.nodes).into_iter().map(Some).collect();
        self.nodes = order.iter().filter_map(|&old| nodes[old].take()).collect();
        for edge in &mut self.edges {
            edge.from = new_index[edge.from];
            edge.to = new_index[edge.to];
        }
    }

    fn push_node(&mut self, id: String, kind: NodeKind, lines: Vec<String>, marked: bool, unreachable: bool) -> usize {
        self.nodes.push(Node {
            id,
            kind,
            lines,
            marked,
            unreachable,
        });
        self.nodes.len() - 1
    }

    /// Adds an edge, or adds the label to the edge of the same kind between
    /// the same nodes. One edge per pair keeps parallel labels readable.
    fn push_edge(&mut self, from: usize, to: usize, kind: EdgeKind, label: Option<String>, unreachable: bool) {
        let existing = self
            .edges
            .iter_mut()
            .find(|edge| edge.from == from && edge.to == to && edge.kind == kind);
        match existing {
            Some(edge) => {
                if let Some(label) = label {
                    if !edge.lines.contains(&label) {
                        edge.lines.push(label);
                    }
                }
                edge.unreachable &= unreachable;
            }
            None => self.edges.push(Edge {
                from,
                to,
                kind,
                lines: label.into_iter().collect(),
                unreachable,
            }),
        }
    }
}

/// Marks the stages that the roots need: the `--target` stage or every
/// image output, plus every check.
fn reachable_stages(spec: &Spec, stage_graph: &StageGraph, options: &GraphOptions) -> Vec<bool> {
    let mut roots: Vec<usize> = match &options.target {
        Some(target) => spec.stage_index(target).into_iter().collect(),
        None => spec
            .images
            .iter()
            .filter_map(|image| spec.stage_index(&image.stage.value))
            .collect(),
    };
    roots.extend(spec.checks.iter().filter_map(|check| spec.stage_index(&check.value)));
    let mut reachable = stage_graph.reachable_from(roots);
    reachable.resize(spec.stages.len(), false);
    reachable
}

/// Returns the value of every global arg: the override, else the default.
fn global_values(spec: &Spec, overrides: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for arg in &spec.args {
        let value = overrides
            .get(&arg.name.value)
            .or(arg.default.as_ref().map(|default| &default.value));
        if let Some(value) = value {
            values.entry(arg.name.value.clone()).or_insert_with(|| value.clone());
        }
    }
    values
}

/// Replaces `${NAME}` with the global arg's value. A reference without a
/// value, and any malformed text, stays as written.
fn substitute(text: &Spanned<String>, values: &BTreeMap<String, String>) -> String {
    let Ok(parts) = interpolate::parse(&text.value, text.span) else {
        return text.value.clone();
    };
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(literal) => out.push_str(&literal),
            Part::Arg { name, .. } => match values.get(&name) {
                Some(value) => out.push_str(value),
                None => out.push_str(&format!("${{{name}}}")),
            },
            Part::Env { name, .. } => out.push_str(&format!("${{env:{name}}}")),
        }
    }
    out
}
