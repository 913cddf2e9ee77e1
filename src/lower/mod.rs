//! Lowering: the validated model ordered into a backend-neutral build graph
//! for one chosen output. The graph contains the stages that output needs plus
//! every `check` stage, in dependency order, with paths resolved, artifact
//! sources located in their producer stages, and build args settled.
//!
//! Lowering assumes a spec that passed validation, but it never panics on
//! one that did not: an unknown stage or artifact, or a cycle, comes back as
//! diagnostics.

mod args;
pub mod graph;
mod paths;
mod select;
mod shadow;
mod steps;

use std::collections::BTreeMap;

pub use graph::{
    BindSource, BuildGraph, BuildStage, BuildStep, BuildStepKind, Command, CopySource, CopyStep, GlobalArg,
    Healthcheck, Interpolated, Mount, MountKind, RunStep, StageBase, StagePath, StageRole,
};
pub use shadow::TARGET_PLATFORM_ARGS;
pub use steps::DEFAULT_SHELL;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::interpolate::Part;
use crate::model::{Base, Spec};
use crate::resolve::graph::StageGraph;
use steps::StageState;

/// Options of [`lower`]: the output to build and the build arg values.
#[derive(Debug, Clone, Default)]
pub struct LowerOptions {
    /// The stage to build. By default, the stage of the image output with
    /// `default=#true`, or of the only image output.
    pub target: Option<String>,
    /// Build arg values that override the spec defaults, by arg name.
    pub build_args: BTreeMap<String, String>,
}

/// Lowers `spec` for the output that `options` selects.
pub fn lower(spec: &Spec, graph: &StageGraph, options: &LowerOptions) -> Result<BuildGraph, Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    let Some(selection) = select::select(spec, graph, options.target.as_deref(), &mut diagnostics) else {
        return Err(diagnostics);
    };

    let graph_index: BTreeMap<usize, usize> = selection
        .order
        .iter()
        .enumerate()
        .map(|(position, &spec_index)| (spec_index, position))
        .collect();
    let values = args::global_values(spec, &options.build_args);
    let context = steps::Context {
        spec,
        graph_index: &graph_index,
        overrides: &options.build_args,
    };

    let mut stages = Vec::with_capacity(selection.order.len());
    let mut final_states: Vec<StageState> = Vec::with_capacity(selection.order.len());
    for &spec_index in &selection.order {
        let stage = &spec.stages[spec_index];
        let (base, mut state) = match &stage.base {
            Base::Image(reference) => {
                // A malformed reference is reported; lowering goes on to
                // report what else is wrong, and returns no graph.
                let parts = interpolated_reference(reference, &mut diagnostics)
                    .unwrap_or_else(|| Interpolated::literal(&reference.value, reference.span));
                (StageBase::Image(parts), StageState::image())
            }
            Base::Scratch(_) => (StageBase::Scratch, StageState::scratch()),
            Base::Stage(name) => {
                // Dependency order puts the base stage first, so its final
                // state is known.
                let base_index = spec
                    .stage_index(&name.value)
                    .and_then(|index| graph_index.get(&index).copied());
                match base_index.and_then(|index| Some((index, final_states.get(index)?.clone()))) {
                    Some((index, state)) => (StageBase::Stage(index), state),
                    None => {
                        diagnostics.push(
                            Diagnostic::new(Code::UnknownStage, format!("unknown base stage `{}`", name.value))
                                .label(name.span, "no stage with this name")
                                .help("name a stage of the spec, or give an image reference with a tag"),
                        );
                        (StageBase::Scratch, StageState::scratch())
                    }
                }
            }
        };
        if let Some(flag) = &stage.has_shell {
            state.has_shell = Some(flag.value);
        }

        let role = if spec_index == selection.output {
            StageRole::Output
        } else if selection.checks.contains(&spec_index) {
            StageRole::Check
        } else {
            StageRole::Dependency
        };
        let steps = steps::lower_steps(&context, stage, &mut state, &mut diagnostics);
        let lowered = BuildStage {
            name: stage.name.clone(),
            role,
            base,
            platform: stage.platform.clone(),
            cross_compile: stage.cross_compile,
            has_shell: state.has_shell,
            inherited_args: args::inherited_args(&steps),
            steps,
            span: stage.span,
        };
        shadow::check_stage(&lowered, &mut state.env, &mut diagnostics);
        stages.push(lowered);
        final_states.push(state);
    }

    let tags = match selection.image {
        Some(image) => spec.images[image]
            .tags
            .iter()
            .filter_map(|tag| args::substitute_tag(tag, &values, &mut diagnostics))
            .collect(),
        None => Vec::new(),
    };

    if diagnostics.has_errors() {
        diagnostics.sort();
        return Err(diagnostics);
    }

    let output = graph_index[&selection.output];
    Ok(BuildGraph {
        global_args: args::used_global_args(spec, &stages, &values),
        stages,
        output,
        tags,
        context_excludes: spec.context_excludes.clone(),
    })
}

fn interpolated_reference(
    reference: &crate::model::Spanned<String>,
    diagnostics: &mut Diagnostics,
) -> Option<Interpolated> {
    match crate::model::interpolate::parse(&reference.value, reference.span) {
        Ok(parts) => {
            let mut valid = true;
            for part in &parts {
                if let Part::Env { name, span } = part {
                    diagnostics.push(args::env_outside_stage(name, *span, "`from`"));
                    valid = false;
                }
            }
            valid.then_some(Interpolated {
                parts,
                span: reference.span,
            })
        }
        Err(error) => {
            diagnostics.push(
                Diagnostic::new(Code::InvalidInterpolation, error.message)
                    .label(error.span, "malformed interpolation")
                    .help("write `${NAME}` to use a global build arg, or `$${` for a literal `${`"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests;
