//! Properties over generated valid specs: random stage graphs with
//! artifacts, copies, runs, args, env, labels and outputs.
//!
//! - compiling twice gives the same Dockerfile and LLB bytes;
//! - the order of the stages in the file changes neither the Dockerfile nor
//!   the LLB digests;
//! - the Dockerfile (`FROM ... AS`, `COPY --from`) and the LLB (which stage
//!   results each definition contains) describe the same stage graph;
//! - `stagec::fmt::format` is idempotent and changes neither output.
//!
//! Run more cases with `PROPTEST_CASES=1000 cargo test --test properties`.

#[path = "../fuzz/fuzz_targets/pipeline.rs"]
mod pipeline;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use proptest::prelude::*;
use stagec::llb::lower::LlbBuild;

/// What a stage starts from.
#[derive(Debug, Clone)]
enum Base {
    Alpine,
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
}

/// A copy of artifact `artifact` of stage `stage`.
#[derive(Debug, Clone)]
struct Copy {
    stage: usize,
    artifact: usize,
}

#[derive(Debug, Clone)]
struct GenStage {
    base: Base,
    /// Artifacts that a run of this stage writes; needs a shell.
    artifacts: usize,
    copies: Vec<Copy>,
    env: Option<String>,
    declares_arg: bool,
    labels_version: bool,
    cmd: Vec<String>,
}

#[derive(Debug, Clone)]
struct GenSpec {
    stages: Vec<GenStage>,
    /// The order in which the stages are written in the file.
    order: Vec<usize>,
}

fn stage_name(index: usize) -> String {
    format!("s{index}")
}

fn artifact_name(stage: usize, artifact: usize) -> String {
    format!("s{stage}-a{artifact}")
}

impl GenSpec {
    fn has_shell(&self, index: usize) -> bool {
        match self.stages[index].base {
            Base::Alpine => true,
            Base::Scratch => false,
            Base::Stage(base) => self.has_shell(base),
        }
    }

    /// Stages that another stage uses as its base or copies from.
    fn used(&self) -> BTreeSet<usize> {
        let mut used = BTreeSet::new();
        for stage in &self.stages {
            if let Base::Stage(base) = stage.base {
                used.insert(base);
            }
            used.extend(stage.copies.iter().map(|copy| copy.stage));
        }
        used
    }

    /// The spec text, with the stages in `order`.
    fn render(&self, order: &[usize]) -> String {
        let mut text = String::from("arg \"VERSION\" default=\"1.0\"\n\n");
        for &index in order {
            self.render_stage(index, &mut text);
        }

        let last = self.stages.len() - 1;
        let _ = writeln!(text, "image \"{}\" tag=\"prop:1\"", stage_name(last));
        // Every stage outside the image's build is a check, so that both
        // backends build the whole generated graph.
        let used = self.used();
        for index in 0..last {
            if !used.contains(&index) {
                let _ = writeln!(text, "check \"{}\"", stage_name(index));
            }
        }
        text
    }

    fn render_stage(&self, index: usize, text: &mut String) {
        let stage = &self.stages[index];
        let name = stage_name(index);
        let from = match stage.base {
            Base::Alpine => "alpine:3".to_string(),
            Base::Scratch => "scratch".to_string(),
            Base::Stage(base) => stage_name(base),
        };
        let _ = writeln!(text, "stage \"{name}\" from=\"{from}\" {{");
        let _ = writeln!(text, "    workdir \"/work/{name}\"");
        if stage.declares_arg {
            let _ = writeln!(text, "    arg \"MODE\" default=\"{name}\"");
        }
        if let Some(value) = &stage.env {
            let _ = writeln!(text, "    env STAGE_NOTE=\"{value}\"");
        }
        if stage.labels_version {
            let _ = writeln!(text, "    label \"org.example.version\"=\"${{VERSION}}\"");
        }

        if self.has_shell(index) {
            // A run of its own gives every stage a result op that no other stage has.
            let mut script = format!("echo {name}");
            if stage.artifacts > 0 {
                script.push_str(" && mkdir -p /out");
            }
            for artifact in 0..stage.artifacts {
                let artifact = artifact_name(index, artifact);
                let _ = write!(script, " && echo {artifact} > /out/{artifact}");
            }
            if stage.declares_arg {
                script.push_str(" && echo $MODE");
            }
            let _ = writeln!(text, "    run \"{script}\" {{");
            let _ = writeln!(text, "        env RUN_NOTE=\"{name}\"");
            let _ = writeln!(text, "    }}");
        }
        for copy in &stage.copies {
            let artifact = artifact_name(copy.stage, copy.artifact);
            let _ = writeln!(
                text,
                "    copy artifact=\"{artifact}\" from=\"{}\" to=\"/in/{name}/{artifact}\"",
                stage_name(copy.stage)
            );
        }
        for artifact in 0..stage.artifacts {
            let artifact = artifact_name(index, artifact);
            let _ = writeln!(text, "    artifact \"{artifact}\" path=\"/out/{artifact}\"");
        }

        let arguments: Vec<String> = stage.cmd.iter().map(|argument| format!(" \"{argument}\"")).collect();
        let _ = writeln!(text, "    cmd \"/app/{name}\"{}", arguments.concat());
        let _ = writeln!(text, "}}\n");
    }
}

/// Fixes what the random choices cannot know: a stage without a shell
/// makes no artifacts, copies name artifacts that exist in earlier stages,
/// and a scratch stage copies at least one file so that it has an op.
fn make_valid(mut spec: GenSpec) -> GenSpec {
    for index in 0..spec.stages.len() {
        if !spec.has_shell(index) {
            spec.stages[index].artifacts = 0;
        }
    }
    let produced: Vec<(usize, usize)> = (0..spec.stages.len())
        .flat_map(|stage| (0..spec.stages[stage].artifacts).map(move |artifact| (stage, artifact)))
        .collect();

    for index in 0..spec.stages.len() {
        let earlier: Vec<(usize, usize)> = produced.iter().copied().filter(|&(stage, _)| stage < index).collect();
        let copies = std::mem::take(&mut spec.stages[index].copies);
        let mut chosen: Vec<(usize, usize)> = Vec::new();
        if !earlier.is_empty() {
            for copy in copies {
                let pick = earlier[(copy.stage * 7 + copy.artifact) % earlier.len()];
                if !chosen.contains(&pick) {
                    chosen.push(pick);
                }
            }
        }
        let is_scratch = matches!(spec.stages[index].base, Base::Scratch);
        if is_scratch && chosen.is_empty() {
            match earlier.first() {
                Some(&first) => chosen.push(first),
                None => spec.stages[index].base = Base::Alpine,
            }
        }
        spec.stages[index].copies = chosen
            .into_iter()
            .map(|(stage, artifact)| Copy { stage, artifact })
            .collect();
    }
    spec
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b c", "x-1", "/srv/data", "--flag", "1.0", "é", "semi;colon"])
        .prop_map(str::to_string)
}

fn stage_strategy(index: usize) -> impl Strategy<Value = GenStage> {
    let base = if index == 0 {
        prop_oneof![Just(Base::Alpine), Just(Base::Scratch)].boxed()
    } else {
        prop_oneof![
            Just(Base::Alpine),
            Just(Base::Scratch),
            (0..index).prop_map(Base::Stage)
        ]
        .boxed()
    };
    let copies = prop::collection::vec((0..8usize, 0..3usize), 0..3).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(stage, artifact)| Copy { stage, artifact })
            .collect()
    });
    (
        base,
        0..3usize,
        copies,
        prop::option::of(word()),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(word(), 1..3),
    )
        .prop_map(
            |(base, artifacts, copies, env, declares_arg, labels_version, cmd)| GenStage {
                base,
                artifacts,
                copies,
                env,
                declares_arg,
                labels_version,
                cmd,
            },
        )
}

fn spec_strategy() -> impl Strategy<Value = GenSpec> {
    (1..7usize)
        .prop_flat_map(|count| {
            let stages: Vec<_> = (0..count).map(stage_strategy).collect();
            let order = Just((0..count).collect::<Vec<usize>>()).prop_shuffle();
            (stages, order)
        })
        .prop_map(|(stages, order)| make_valid(GenSpec { stages, order }))
}

/// The Dockerfile and the LLB of a spec that must compile.
struct Compiled {
    dockerfile: String,
    llb: LlbBuild,
}

fn compile(source: &str) -> Compiled {
    let compilation = pipeline::check(source);
    assert!(
        !compilation.has_errors(),
        "generated spec has errors: {:#?}\n{source}",
        compilation.diagnostics
    );
    let mut emitted = pipeline::dockerfile(source);
    assert!(!emitted.is_empty(), "no Dockerfile for\n{source}");
    let llb = pipeline::llb(source).unwrap_or_else(|| panic!("no LLB for\n{source}"));
    Compiled {
        dockerfile: emitted.swap_remove(0).dockerfile,
        llb,
    }
}

/// The digest of each stage's result, and the marshalled definition of
/// every stage, without a source map (which holds the spec's text).
fn llb_digests(llb: &LlbBuild) -> BTreeMap<String, (Option<String>, Vec<u8>)> {
    (0..llb.stages.len())
        .map(|index| {
            let marshalled = llb.definition(index, None);
            (
                llb.stages[index].name.clone(),
                (marshalled.result_digest(), marshalled.to_bytes()),
            )
        })
        .collect()
}

/// Stage names, and for each stage the stages it needs directly: its
/// `FROM` stage and the stages of its `COPY --from`.
fn dockerfile_graph(dockerfile: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in dockerfile.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["FROM", base, "AS", name] => {
                let mut edges = BTreeSet::new();
                if graph.contains_key(*base) {
                    edges.insert(base.to_string());
                }
                graph.insert(name.to_string(), edges);
                current = Some(name.to_string());
            }
            // The image stage repeated last, for `docker build .`.
            ["FROM", _] => current = None,
            ["COPY", rest @ ..] => {
                let from = rest.iter().find_map(|word| word.strip_prefix("--from="));
                if let (Some(stage), Some(from)) = (&current, from) {
                    graph.get_mut(stage).expect("a declared stage").insert(from.to_string());
                }
            }
            _ => {}
        }
    }
    graph
}

fn transitive(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    graph
        .keys()
        .map(|stage| {
            let mut reached = BTreeSet::new();
            let mut pending: Vec<&String> = graph[stage].iter().collect();
            while let Some(next) = pending.pop() {
                if reached.insert(next.clone()) {
                    pending.extend(graph.get(next).into_iter().flatten());
                }
            }
            (stage.clone(), reached)
        })
        .collect()
}

/// For each stage, the other stages whose result op its definition holds.
fn llb_graph(llb: &LlbBuild) -> BTreeMap<String, BTreeSet<String>> {
    let results: Vec<(String, Option<String>)> = (0..llb.stages.len())
        .map(|index| {
            (
                llb.stages[index].name.clone(),
                llb.definition(index, None).result_digest(),
            )
        })
        .collect();
    (0..llb.stages.len())
        .map(|index| {
            let ops: BTreeSet<String> = llb.definition(index, None).op_digests.into_values().collect();
            let name = &llb.stages[index].name;
            let reached = results
                .iter()
                .filter(|(other, digest)| other != name && digest.as_ref().is_some_and(|digest| ops.contains(digest)))
                .map(|(other, _)| other.clone())
                .collect();
            (name.clone(), reached)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn compiling_twice_gives_identical_output(spec in spec_strategy()) {
        let source = spec.render(&(0..spec.stages.len()).collect::<Vec<_>>());
        let first = compile(&source);
        let second = compile(&source);
        prop_assert_eq!(&first.dockerfile, &second.dockerfile);

        let info = stagec::llb::SourceInfo {
            filename: "app.kdl".to_string(),
            data: &source,
            language: "KDL".to_string(),
        };
        let first_llb = first.llb.definition(first.llb.output, Some(&info)).to_bytes();
        let second_llb = second.llb.definition(second.llb.output, Some(&info)).to_bytes();
        prop_assert_eq!(first_llb, second_llb);
    }

    #[test]
    fn stage_order_in_the_file_changes_nothing(spec in spec_strategy()) {
        let written = spec.render(&(0..spec.stages.len()).collect::<Vec<_>>());
        let shuffled = spec.render(&spec.order);
        let first = compile(&written);
        let second = compile(&shuffled);
        prop_assert_eq!(&first.dockerfile, &second.dockerfile, "shuffled spec:\n{}", shuffled);
        prop_assert_eq!(llb_digests(&first.llb), llb_digests(&second.llb), "shuffled spec:\n{}", shuffled);
    }

    #[test]
    fn dockerfile_and_llb_agree_on_the_stage_graph(spec in spec_strategy()) {
        let source = spec.render(&spec.order);
        let compiled = compile(&source);
        let from_dockerfile = transitive(&dockerfile_graph(&compiled.dockerfile));
        let from_llb = llb_graph(&compiled.llb);
        prop_assert_eq!(
            from_dockerfile,
            from_llb,
            "spec:\n{}\nDockerfile:\n{}",
            source,
            compiled.dockerfile
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn fmt_is_idempotent_and_keeps_the_build(spec in spec_strategy()) {
        let source = spec.render(&spec.order);
        let formatted = stagec::fmt::format(&source)
            .unwrap_or_else(|error| panic!("formatting failed: {error:?}\n{source}"));
        let again = stagec::fmt::format(&formatted)
            .unwrap_or_else(|error| panic!("formatting the formatted spec failed: {error:?}\n{formatted}"));
        prop_assert_eq!(&again, &formatted);

        let before = compile(&source);
        let after = compile(&formatted);
        prop_assert_eq!(&before.dockerfile, &after.dockerfile, "formatted spec:\n{}", formatted);
        prop_assert_eq!(llb_digests(&before.llb), llb_digests(&after.llb));
    }
}
