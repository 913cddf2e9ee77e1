//! Picks the output to build and the stages it needs, in dependency order.

use crate::diag::{Code, Diagnostic, Diagnostics, Span, suggest::did_you_mean};
use crate::model::Spec;
use crate::resolve::graph::StageGraph;

/// The chosen output and the stages to lower, all as spec stage indexes.
#[derive(Debug, Clone)]
pub struct Selection {
    pub output: usize,
    /// Index in `spec.images` of the image that exports the output, if any.
    pub image: Option<usize>,
    pub checks: Vec<usize>,
    /// Every stage the output or a check needs, in dependency order.
    pub order: Vec<usize>,
}

/// Chooses the output stage: `target` when given, else the image with
/// `default=#true`, else the only image. Returns `None` after reporting why
/// no single output or no valid order exists.
pub fn select(
    spec: &Spec,
    graph: &StageGraph,
    target: Option<&str>,
    diagnostics: &mut Diagnostics,
) -> Option<Selection> {
    let (output, image) = match target {
        Some(name) => select_target(spec, name, diagnostics)?,
        None => select_default(spec, diagnostics)?,
    };

    let checks: Vec<usize> = spec
        .checks
        .iter()
        .filter_map(|check| spec.stage_index(&check.value))
        .collect();

    // A graph built from another spec would index the wrong stages.
    let fresh;
    let graph = if graph.edges.len() == spec.stages.len() {
        graph
    } else {
        fresh = StageGraph::new(spec);
        &fresh
    };

    let needed = graph.reachable_from(std::iter::once(output).chain(checks.iter().copied()));
    let order: Vec<usize> = graph
        .topological_order()
        .into_iter()
        .filter(|&index| needed[index])
        .collect();
    let needed_count = needed.iter().filter(|&&flag| flag).count();
    if order.len() != needed_count {
        for (index, stage) in spec.stages.iter().enumerate() {
            if needed[index] && !order.contains(&index) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::DependencyCycle,
                        format!("stage `{}` depends on itself through a cycle", stage.name.value),
                    )
                    .label(stage.name.span, "on a dependency cycle")
                    .help("break the cycle: a stage cannot use, directly or not, a stage that uses it"),
                );
            }
        }
        return None;
    }

    Some(Selection {
        output,
        image,
        checks,
        order,
    })
}

fn select_target(spec: &Spec, name: &str, diagnostics: &mut Diagnostics) -> Option<(usize, Option<usize>)> {
    // Docker matches `--target` without regard to case; so does stagec.
    let output = spec.stage_index(name).or_else(|| {
        spec.stages
            .iter()
            .position(|stage| stage.name.value.eq_ignore_ascii_case(name))
    });
    let Some(output) = output else {
        let names = spec.stages.iter().map(|stage| stage.name.as_str());
        let help = match did_you_mean(name, names) {
            Some(suggestion) => format!("did you mean `{suggestion}`? The target must name a stage of the spec"),
            None => format!(
                "the target must name a stage of the spec: {}",
                spec.stages
                    .iter()
                    .map(|stage| stage.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        diagnostics.push(
            // The target comes from the command line, so there is no spec span to label.
            Diagnostic::new(Code::UnknownStage, format!("target stage `{name}` not found")).help(help),
        );
        return None;
    };

    let stage_name = &spec.stages[output].name.value;
    let image = spec
        .images
        .iter()
        .enumerate()
        .filter(|(_, image)| image.stage.value == *stage_name)
        .max_by_key(|(index, image)| (image.default, std::cmp::Reverse(*index)))
        .map(|(index, _)| index);
    Some((output, image))
}

fn select_default(spec: &Spec, diagnostics: &mut Diagnostics) -> Option<(usize, Option<usize>)> {
    let defaults: Vec<usize> = (0..spec.images.len())
        .filter(|&index| spec.images[index].default)
        .collect();
    let image = match (defaults.as_slice(), spec.images.len()) {
        ([only], _) => *only,
        ([], 1) => 0,
        ([], 0) => {
            diagnostics.push(
                Diagnostic::new(Code::NoOutput, "the spec declares no image output")
                    .label(Span::new(0, 0), "no `image` node in this spec")
                    .help("add `image \"STAGE\" tag=\"name:tag\"` for the stage to export, or pass a target stage"),
            );
            return None;
        }
        _ => {
            let mut diagnostic = Diagnostic::new(Code::AmbiguousOutput, "several image outputs and no single default");
            let candidates = if defaults.is_empty() {
                (0..spec.images.len()).collect()
            } else {
                defaults
            };
            for index in candidates {
                diagnostic = diagnostic.label(spec.images[index].span, "an output");
            }
            diagnostics.push(diagnostic.help("mark exactly one output with `default=#true`, or pass a target stage"));
            return None;
        }
    };

    let stage = &spec.images[image].stage;
    match spec.stage_index(&stage.value) {
        Some(output) => Some((output, Some(image))),
        None => {
            diagnostics.push(
                Diagnostic::new(
                    Code::UnknownStage,
                    format!("image output names unknown stage `{}`", stage.value),
                )
                .label(stage.span, "no stage with this name")
                .help("name a stage declared with `stage \"NAME\" from=...`"),
            );
            None
        }
    }
}
