//! Graph checks: dependency cycles (SC0201), a stage that depends on itself
//! (SC0202), stages no output or check needs (SC0203), and artifacts of
//! built stages that nothing copies (SC0204).

use super::chain::Stages;
use super::check_names::list;
use super::graph::{Edge, EdgeKind, StageGraph};
use super::unix_path;
use crate::diag::{Code, Diagnostic, Diagnostics, Severity};
use crate::model::{Base, CopySource, MountKind, StepKind};

pub fn check(stages: &Stages<'_>, graph: &StageGraph, diagnostics: &mut Diagnostics) {
    check_cycles(stages, graph, diagnostics);
    check_self_edges(stages, graph, diagnostics);

    let roots = output_roots(stages);
    // Without any output, SC0701 lists the candidate stages instead. With a
    // reference to an unknown stage the graph lacks the edge the user meant,
    // so the stage it should reach would be reported as a second mistake.
    if roots.is_empty() || has_unknown_stage_reference(stages) {
        return;
    }
    let reachable = graph.reachable_from(roots);
    check_unreachable(stages, &reachable, diagnostics);
    check_unused_artifacts(stages, &reachable, diagnostics);
}

/// Returns whether any `from=`, copy, bind, `image` or `check` names a
/// stage that does not exist (SC0101).
fn has_unknown_stage_reference(stages: &Stages<'_>) -> bool {
    let spec = stages.spec;
    let unknown = |name: &str| stages.named(name).is_none();

    let in_stages = spec.stages.iter().any(|stage| {
        let base_unknown = matches!(&stage.base, Base::Stage(name) if unknown(name.as_str()));
        base_unknown
            || stage.steps.iter().any(|step| match &step.kind {
                StepKind::Copy(copy) => match &copy.source {
                    CopySource::Artifact { stage: from, .. } | CopySource::StagePath { stage: from, .. } => {
                        unknown(from.as_str())
                    }
                    CopySource::Context(_) => false,
                },
                StepKind::Run(run) => run.mounts.iter().any(
                    |mount| matches!(&mount.kind, MountKind::Bind { from: Some(from), .. } if unknown(from.as_str())),
                ),
                _ => false,
            })
    });
    let in_outputs = spec
        .images
        .iter()
        .map(|image| &image.stage)
        .chain(&spec.checks)
        .any(|name| unknown(name.as_str()));
    in_stages || in_outputs
}

/// Stages built by a plain build: every `image` output and every `check`.
fn output_roots(stages: &Stages<'_>) -> Vec<usize> {
    let spec = stages.spec;
    let images = spec.images.iter().map(|image| &image.stage);
    images
        .chain(&spec.checks)
        .filter_map(|name| stages.named(name.as_str()))
        .collect()
}

fn relation(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Base => "is based on",
        EdgeKind::Copy => "copies from",
        EdgeKind::Bind => "mounts files from",
    }
}

/// Stages of a cycle named in its message and labelled, so that a cycle
/// through thousands of stages prints a few lines, not the whole path.
const MAX_CYCLE_STAGES_SHOWN: usize = 10;

fn check_cycles(stages: &Stages<'_>, graph: &StageGraph, diagnostics: &mut Diagnostics) {
    for cycle in graph.cycles() {
        // A one-stage cycle is a self-edge, reported as SC0202.
        if cycle.len() < 2 {
            continue;
        }

        let name = |index: usize| stages.stage(index).name.as_str();
        let shown = cycle.len().min(MAX_CYCLE_STAGES_SHOWN);
        let mut path: Vec<&str> = cycle[..shown].iter().map(|&index| name(index)).collect();
        let message = if shown < cycle.len() {
            format!(
                "dependency cycle of {} stages: {} -> ... and {} more stages, back to `{}`",
                cycle.len(),
                path.join(" -> "),
                cycle.len() - shown,
                name(cycle[0])
            )
        } else {
            path.push(name(cycle[0]));
            format!("dependency cycle: {}", path.join(" -> "))
        };

        let mut diagnostic = Diagnostic::new(Code::DependencyCycle, message);
        for (position, &from) in cycle.iter().enumerate().take(MAX_CYCLE_STAGES_SHOWN) {
            let to = cycle[(position + 1) % cycle.len()];
            let edge: Option<&Edge> = graph.edges[from].iter().find(|edge| edge.to == to);
            if let Some(edge) = edge {
                let text = format!("`{}` {} `{}`", name(from), relation(edge.kind), name(to));
                diagnostic = diagnostic.label(edge.span, text);
            }
        }
        diagnostics.push(diagnostic.help(
            "a stage can only use a stage that is built before it; move what both stages need into a new stage \
             that neither depends on, and base or copy from that",
        ));
    }
}

fn check_self_edges(stages: &Stages<'_>, graph: &StageGraph, diagnostics: &mut Diagnostics) {
    for (index, edges) in graph.edges.iter().enumerate() {
        let name = stages.stage(index).name.as_str();
        for edge in edges.iter().filter(|edge| edge.to == index) {
            let (message, help) = match edge.kind {
                EdgeKind::Base => (
                    format!("stage `{name}` is based on itself"),
                    "base the stage on an image (from=\"alpine:3\"), on scratch, or on another stage".to_string(),
                ),
                EdgeKind::Copy => (
                    format!("stage `{name}` copies its own artifact"),
                    format!(
                        "an artifact exists only once its stage has finished; the files are already in `{name}`, so \
                         use them in place, or produce them in an earlier stage and copy from there"
                    ),
                ),
                EdgeKind::Bind => (
                    format!("stage `{name}` mounts files from itself"),
                    format!("the files are already in `{name}`; remove from=\"{name}\" or mount from an earlier stage"),
                ),
            };
            diagnostics.push(
                Diagnostic::new(Code::SelfConsumption, message)
                    .label(edge.span, format!("`{name}` refers to itself here"))
                    .help(help),
            );
        }
    }
}

fn check_unreachable(stages: &Stages<'_>, reachable: &[bool], diagnostics: &mut Diagnostics) {
    for (index, stage) in stages.spec.stages.iter().enumerate() {
        if reachable[index] {
            continue;
        }
        let name = stage.name.as_str();
        let artifacts = list(stage.artifacts.iter().map(|artifact| artifact.name.as_str()));
        let help = match stage.artifacts.first() {
            Some(artifact) => format!(
                "copy one of its artifacts ({artifacts}) into a stage that is built, for example \
                 `copy artifact=\"{}\" from=\"{name}\" to=\"/PATH\"`; add `check \"{name}\"` if it should build with \
                 every output, or remove it",
                artifact.name.value
            ),
            None => format!(
                "add `check \"{name}\"` to build it with every output (tests and linters are checks), export it with \
                 `image \"{name}\" tag=\"NAME:TAG\"`, or remove it"
            ),
        };
        diagnostics.push(
            Diagnostic::new(Code::UnreachableStage, format!("stage `{name}` is never built"))
                .label(stage.name.span, "no image output or check needs this stage")
                .help(help),
        );
    }
}

fn check_unused_artifacts(stages: &Stages<'_>, reachable: &[bool], diagnostics: &mut Diagnostics) {
    let spec = stages.spec;
    let mut used: Vec<Vec<bool>> = spec
        .stages
        .iter()
        .map(|stage| vec![false; stage.artifacts.len()])
        .collect();
    let mut mark = |declaring: usize, artifact_name: &str| {
        if let Some(position) = spec.stages[declaring]
            .artifacts
            .iter()
            .position(|a| a.name.value == artifact_name)
        {
            used[declaring][position] = true;
        }
    };

    for stage in &spec.stages {
        for step in &stage.steps {
            match &step.kind {
                StepKind::Copy(copy) => match &copy.source {
                    CopySource::Artifact { stage: from, artifact } => {
                        let Some(producer) = stages.named(from.as_str()) else {
                            continue;
                        };
                        let declared = spec.stages[producer]
                            .artifacts
                            .iter()
                            .any(|a| a.name.value == artifact.value);
                        if declared {
                            mark(producer, artifact.as_str());
                        } else {
                            // SC0102: the copy meant one of these; do not call them unused too.
                            for artifact in &spec.stages[producer].artifacts {
                                mark(producer, artifact.name.as_str());
                            }
                        }
                    }
                    CopySource::StagePath { stage: from, path } => {
                        let found = stages
                            .named(from.as_str())
                            .and_then(|p| stages.artifact_containing(p, &path.value));
                        if let Some((declaring, artifact)) = found {
                            mark(declaring, artifact.name.as_str());
                        }
                    }
                    CopySource::Context(_) => {}
                },
                StepKind::Run(run) => {
                    for mount in &run.mounts {
                        let MountKind::Bind {
                            from: Some(from),
                            source,
                            ..
                        } = &mount.kind
                        else {
                            continue;
                        };
                        let Some(producer) = stages.named(from.as_str()) else {
                            continue;
                        };
                        let path = source.as_ref().map_or("/", |source| source.as_str());
                        // A mount of the whole stage (no `source=`) uses every artifact in it.
                        if unix_path::normalize(path) == "/" {
                            for declaring in stages.chain(producer) {
                                for artifact in &spec.stages[declaring].artifacts {
                                    mark(declaring, artifact.name.as_str());
                                }
                            }
                        } else if let Some((declaring, artifact)) = stages.artifact_containing(producer, path) {
                            mark(declaring, artifact.name.as_str());
                        }
                    }
                }
                _ => {}
            }
        }
    }

    // The files of an exported stage and of its bases ship in the image.
    let mut shipped = vec![false; spec.stages.len()];
    for image in &spec.images {
        if let Some(index) = stages.named(image.stage.as_str()) {
            for declaring in stages.chain(index) {
                shipped[declaring] = true;
            }
        }
    }

    for (index, stage) in spec.stages.iter().enumerate() {
        if !reachable[index] || shipped[index] {
            continue;
        }
        for (position, artifact) in stage.artifacts.iter().enumerate() {
            if used[index][position] {
                continue;
            }
            diagnostics.push(
                Diagnostic::new(
                    Code::UnusedArtifact,
                    format!(
                        "artifact `{}` of stage `{}` is never copied",
                        artifact.name.value, stage.name.value
                    ),
                )
                .severity(Severity::Warning)
                .label(artifact.name.span, "nothing copies this artifact")
                .help(format!(
                    "copy it where it is needed with `copy artifact=\"{}\" from=\"{}\" to=\"/PATH\"`, or remove the \
                     declaration",
                    artifact.name.value, stage.name.value
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::{self, DependencyCycle, SelfConsumption, UnreachableStage, UnusedArtifact};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[DependencyCycle, SelfConsumption, UnreachableStage, UnusedArtifact];

    #[test]
    fn graph_checks_table() {
        let cases: &[(&str, &[Code])] = &[
            (
                r#"stage "a" from="c"; stage "b" from="a"; stage "c" from="b"; image "a""#,
                &[DependencyCycle],
            ),
            (
                r#"stage "a" from="alpine:3" { artifact "x" path="/x"; copy artifact="y" from="b" to="/y" }
                   stage "b" from="alpine:3" { artifact "y" path="/y"; copy artifact="x" from="a" to="/x" }
                   image "a""#,
                &[DependencyCycle],
            ),
            (
                r#"stage "a" from="alpine:3" { artifact "x" path="/x"; copy artifact="x" from="a" to="/y" }; image "a""#,
                &[SelfConsumption],
            ),
            (r#"stage "a" from="a"; image "a""#, &[SelfConsumption]),
            (
                r#"stage "a" from="alpine:3" { run "true" { bind "/m" from="a" } }; image "a""#,
                &[SelfConsumption],
            ),
            (
                r#"stage "a" from="alpine:3"; stage "test" from="alpine:3"; image "a""#,
                &[UnreachableStage],
            ),
            (
                r#"stage "a" from="alpine:3"; stage "test" from="alpine:3"; image "a"; check "test""#,
                &[],
            ),
            // Without outputs SC0701 applies, not one warning per stage.
            (r#"stage "a" from="alpine:3"; stage "b" from="alpine:3""#, &[]),
            (
                r#"stage "build" from="alpine:3" { artifact "app" path="/app"; artifact "docs" path="/docs" }
                   stage "run" from="alpine:3" { copy artifact="app" from="build" to="/app" }
                   image "run""#,
                &[UnusedArtifact],
            ),
            (
                r#"stage "build" from="alpine:3" { artifact "out" path="/out" kind="dir" }
                   stage "run" from="alpine:3" { copy from="build" path="/out/app" to="/app" }
                   image "run""#,
                &[],
            ),
            (
                r#"stage "build" from="alpine:3" { artifact "out" path="/out" kind="dir" }
                   stage "run" from="alpine:3" { run "ls /m" { bind "/m" from="build" source="/out" } }
                   image "run""#,
                &[],
            ),
            // An unknown stage or artifact reference is SC0101 or SC0102; the
            // stage or artifact it meant is not reported as unused as well.
            (
                r#"stage "build" from="alpine:3" { artifact "app" path="/app" }
                   stage "run" from="alpine:3" { copy artifact="app" from="bulid" to="/app" }
                   image "run""#,
                &[],
            ),
            (
                r#"stage "build" from="alpine:3" { artifact "app" path="/app" }
                   stage "run" from="alpine:3" { copy artifact="ap" from="build" to="/app" }
                   image "run""#,
                &[],
            ),
            // An exported stage ships its artifacts, and an unbuilt stage's are not reported.
            (
                r#"stage "run" from="alpine:3" { artifact "app" path="/app" }; image "run""#,
                &[],
            ),
            (
                r#"stage "run" from="alpine:3"; stage "old" from="alpine:3" { artifact "app" path="/app" }; image "run""#,
                &[UnreachableStage],
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, CODES), *expected, "{source}");
        }
    }

    #[test]
    fn cycle_message_prints_path_and_labels_each_edge() {
        let source = r#"stage "a" from="c"
                        stage "b" from="a"
                        stage "c" from="b"
                        image "a""#;
        let diagnostic = first_among(source, DependencyCycle);
        assert_eq!(diagnostic.message, "dependency cycle: a -> c -> b -> a");
        assert_eq!(diagnostic.labels.len(), 3);
        assert_eq!(diagnostic.labels[0].text, "`a` is based on `c`");
    }

    #[test]
    fn long_cycle_message_is_capped() {
        let mut source = String::from("stage \"s0\" from=\"s4999\"\n");
        for i in 1..5_000 {
            source.push_str(&format!("stage \"s{i}\" from=\"s{}\"\n", i - 1));
        }
        source.push_str("image \"s0\" tag=\"app:1\"\n");
        let diagnostic = first_among(&source, DependencyCycle);
        assert!(diagnostic.message.len() < 300, "{}", diagnostic.message);
        assert!(
            diagnostic.message.contains("and 4990 more stages"),
            "{}",
            diagnostic.message
        );
        assert_eq!(diagnostic.labels.len(), 10);
    }

    #[test]
    fn unreachable_help_depends_on_artifacts() {
        let test_stage = r#"stage "a" from="alpine:3"; stage "test" from="alpine:3"; image "a""#;
        let help = first_among(test_stage, UnreachableStage).help.unwrap_or_default();
        assert!(help.contains("check \"test\""), "{help}");

        let producer = r#"stage "a" from="alpine:3"; stage "b" from="alpine:3" { artifact "x" path="/x" }; image "a""#;
        let help = first_among(producer, UnreachableStage).help.unwrap_or_default();
        assert!(help.contains("copy artifact=\"x\" from=\"b\""), "{help}");
    }
}
