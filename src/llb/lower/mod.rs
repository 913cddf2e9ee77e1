//! Lowering a [`BuildGraph`] to LLB. Each step becomes the op that
//! BuildKit's Dockerfile frontend (v0.13, as in Docker Engine 26) builds for
//! the instruction the Dockerfile backend writes for it, so that
//! `stagec build` and `docker build` of `stagec dockerfile`'s output give
//! the same files and image configuration. Where a Dockerfile needs a
//! workaround, such as env for one `RUN` only, the op expresses it directly.
//!
//! Base image configurations come from the lock file (see [`crate::lock`]);
//! the Dockerfile frontend requests them from the engine instead.

mod context;
mod copy;
mod image_config;
mod run;
mod state;

use std::collections::BTreeMap;

pub use context::{CONTEXT_NAME, ContextInputs};
pub use copy::ArtifactSource;
pub use image_config::parse_duration;

use super::caps::{FILE_COPY_INCLUDE_EXCLUDE_PATTERNS, first_docker_release};
use super::{EngineCaps, Fs, Graph, Marshalled, NetworkMode, OpMetadata, SourceInfo, SourceOp};
use crate::diag::{Code, Diagnostic, Diagnostics, Span};
use crate::lock::{ImageConfig, LockFile, Platforms, global_arg_values, stage_platforms, substitute};
use crate::lower::{BuildGraph, BuildStepKind, CopySource, Interpolated, StageBase, StageRole};
use crate::model::{CommandForm, Platform};
use state::StageState;

/// How to lower.
#[derive(Debug, Clone)]
pub struct LlbOptions {
    pub platforms: Platforms,
    /// Network of run steps without `network=`, like `docker build --network`.
    pub default_network: NetworkMode,
}

/// A build graph lowered to LLB.
#[derive(Debug, Clone)]
pub struct LlbBuild {
    pub graph: Graph,
    /// In the build graph's order.
    pub stages: Vec<LoweredStage>,
    /// Index in `stages` of the chosen output.
    pub output: usize,
    /// The context inputs that the `local://context` source sends, when any step reads the context.
    pub context: Option<ContextInputs>,
    /// Every op made for a step of the spec, to map a failed step back to the spec.
    pub steps: Vec<StepOrigin>,
}

#[derive(Debug, Clone)]
pub struct LoweredStage {
    pub name: String,
    pub role: StageRole,
    /// The stage's filesystem after its last step.
    pub result: Fs,
    pub platform: Platform,
    /// The OCI image configuration of the stage's result.
    pub image_config: serde_json::Value,
}

/// The op of one step, by the name that progress output shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOrigin {
    /// The op's `llb.customname`, such as `[builder 3/4] RUN go build -o /app/main .`.
    pub name: String,
    /// Index of the stage in [`LlbBuild::stages`].
    pub stage: usize,
    /// The step's node in the spec.
    pub span: Span,
    /// For a copy from another stage, what it copies.
    pub artifact: Option<ArtifactSource>,
}

impl LlbBuild {
    /// Marshals the definition whose result is the stage at `index`.
    pub fn definition(&self, index: usize, source: Option<&SourceInfo>) -> Marshalled {
        self.graph.marshal(self.stages[index].result, source)
    }

    /// Indexes of the `check` stages, which a build solves besides the output.
    pub fn checks(&self) -> Vec<usize> {
        (0..self.stages.len())
            .filter(|&index| self.stages[index].role == StageRole::Check)
            .collect()
    }

    /// Returns the step whose op progress output names `name`.
    pub fn step_named(&self, name: &str) -> Option<&StepOrigin> {
        self.steps.iter().find(|step| step.name == name)
    }

    /// Prefixes every step name with `platform`, as the Dockerfile frontend
    /// does in a multi-platform build (`[linux/arm64 app 2/3] RUN ...`), so
    /// that progress output distinguishes the steps of each platform.
    pub fn name_platform(&mut self, platform: &Platform) {
        let prefixed = |name: &mut String| {
            if let Some(rest) = name.strip_prefix('[') {
                *name = format!("[{platform} {rest}");
            }
        };
        for node in &mut self.graph.nodes {
            if let Some(name) = &mut node.metadata.custom_name {
                prefixed(name);
            }
        }
        for step in &mut self.steps {
            prefixed(&mut step.name);
        }
    }
}

/// Lowers `build` with the base image configurations of `lock`, for an
/// engine with every capability that stagec uses (BuildKit 0.13).
pub fn lower(build: &BuildGraph, lock: &LockFile, options: &LlbOptions) -> Result<LlbBuild, Diagnostics> {
    lower_for_engine(build, lock, options, &EngineCaps::latest())
}

/// Lowers `build` for an engine with the capabilities `caps`. Where the
/// engine lacks a capability, a step uses an equivalent op when one exists
/// and is reported as SC0905 otherwise.
pub fn lower_for_engine(
    build: &BuildGraph,
    lock: &LockFile,
    options: &LlbOptions,
    caps: &EngineCaps,
) -> Result<LlbBuild, Diagnostics> {
    let filter_copies_at_source = !caps.supports(FILE_COPY_INCLUDE_EXCLUDE_PATTERNS);
    let mut lowering = Lowering {
        build,
        caps,
        graph: Graph::new(),
        diagnostics: Diagnostics::default(),
        context_inputs: ContextInputs::collect_for(build, filter_copies_at_source),
        context: None,
        results: Vec::new(),
        args: BTreeMap::new(),
        platform_args: automatic_platform_args(&options.platforms),
        steps: Vec::new(),
    };
    let platforms = stage_platforms(build, &options.platforms);
    let global_values = global_arg_values(build);
    let mut states: Vec<StageState> = Vec::with_capacity(build.stages.len());
    let mut stages = Vec::with_capacity(build.stages.len());

    for (index, stage) in build.stages.iter().enumerate() {
        let mut names = StepNames::new(stage);
        let platform = platforms[index].clone();
        let state = match &stage.base {
            StageBase::Image(reference) => lowering.image_state(
                reference,
                lock,
                platform.clone(),
                options.default_network,
                &mut names,
                index,
            ),
            StageBase::Stage(base) => states.get(*base).map(StageState::from_stage),
            StageBase::Scratch => {
                let config = ImageConfig {
                    working_dir: "/".to_string(),
                    ..ImageConfig::default()
                };
                Some(StageState::from_image(
                    Fs::Scratch,
                    platform.clone(),
                    config,
                    options.default_network,
                ))
            }
        };
        let Some(mut state) = state else {
            // The error is reported; go on to report the other stages.
            let failed = StageState::from_image(Fs::Scratch, platform, ImageConfig::default(), options.default_network);
            lowering.results.push(Fs::Scratch);
            states.push(failed);
            continue;
        };

        // Args are scoped to their stage; the env they set is not, as in BuildKit.
        lowering.args = global_values.clone();
        if stage.cross_compile {
            let target = &options.platforms.target;
            let variant = target.variant.clone().unwrap_or_default();
            let values = [
                ("TARGETPLATFORM", target.to_string()),
                ("TARGETOS", target.os.clone()),
                ("TARGETARCH", target.architecture.clone()),
                ("TARGETVARIANT", variant),
            ];
            for (name, value) in values {
                state.set_env(name, &value);
                lowering.args.insert(name.to_string(), value);
            }
        }
        for name in &stage.inherited_args {
            if let Some(value) = global_arg(build, name) {
                state.set_env(name, &value);
            }
        }

        for step in &stage.steps {
            lowering.step(&mut state, index, &step.kind, step.span, &mut names);
        }

        lowering.results.push(state.fs);
        stages.push(LoweredStage {
            name: stage.name.value.clone(),
            role: stage.role,
            result: state.fs,
            platform: state.platform.clone(),
            image_config: image_config::image_config_json(&state, &state.platform),
        });
        states.push(state);
    }

    if lowering.diagnostics.has_errors() {
        lowering.diagnostics.sort();
        return Err(lowering.diagnostics);
    }
    Ok(LlbBuild {
        graph: lowering.graph,
        stages,
        output: build.output,
        context: lowering.context_inputs,
        steps: lowering.steps,
    })
}

/// Returns the values that BuildKit's Dockerfile frontend gives the automatic
/// platform args (`BUILDPLATFORM`, `TARGETARCH`, ...) when a stage declares them.
fn automatic_platform_args(platforms: &Platforms) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for (prefix, platform) in [("BUILD", &platforms.build), ("TARGET", &platforms.target)] {
        let variant = platform.variant.clone().unwrap_or_default();
        values.insert(format!("{prefix}PLATFORM"), platform.to_string());
        values.insert(format!("{prefix}OS"), platform.os.clone());
        values.insert(format!("{prefix}ARCH"), platform.architecture.clone());
        values.insert(format!("{prefix}VARIANT"), variant);
    }
    values
}

fn global_arg(build: &BuildGraph, name: &str) -> Option<String> {
    build
        .global_args
        .iter()
        .find(|arg| arg.name.value == name)
        .and_then(|arg| arg.value.clone())
}

/// Lowering state shared by all stages.
pub(super) struct Lowering<'a> {
    build: &'a BuildGraph,
    caps: &'a EngineCaps,
    graph: Graph,
    diagnostics: Diagnostics,
    context_inputs: Option<ContextInputs>,
    /// The context source, added when a step first reads the context.
    context: Option<Fs>,
    /// Final filesystem of each stage lowered so far.
    results: Vec<Fs>,
    /// Values of the build args visible in the current stage.
    args: BTreeMap<String, String>,
    /// Values of the automatic platform args, for an `arg` step that names one without a default.
    platform_args: BTreeMap<String, String>,
    steps: Vec<StepOrigin>,
}

impl Lowering<'_> {
    /// Adds the image source of an image-based stage and returns its state.
    fn image_state(
        &mut self,
        reference: &Interpolated,
        lock: &LockFile,
        platform: Platform,
        network: NetworkMode,
        names: &mut StepNames,
        stage: usize,
    ) -> Option<StageState> {
        let text = substitute(reference, &global_arg_values(self.build));
        let normalized = match crate::lock::Reference::parse_normalized(&text) {
            Ok(normalized) => normalized,
            Err(reason) => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        format!("invalid image reference `{text}`: {reason}"),
                    )
                    .label(reference.span, "not a valid image reference")
                    .help("write a reference such as `alpine:3.19` or `ghcr.io/org/app:1.0`"),
                );
                return None;
            }
        };
        let Some(locked) = lock.find(&normalized, &platform) else {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::StaleLock,
                    format!("base image `{normalized}` for {platform} is not in the lock file"),
                )
                .label(reference.span, "not locked")
                .help("run `stagec lock` with the same --build-arg, --platform and --target flags"),
            );
            return None;
        };
        let source_reference = match locked.source_reference() {
            Ok(source_reference) => source_reference,
            Err(reason) => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::StaleLock,
                        format!("the lock file names an invalid reference: {reason}"),
                    )
                    .label(reference.span, "locked here")
                    .help("run `stagec lock` to write the lock file again"),
                );
                return None;
            }
        };

        let name = names.next(&format!("FROM {source_reference}"));
        // An image without layers is empty, and BuildKit starts it as scratch.
        let fs = if locked.layers == 0 {
            Fs::Scratch
        } else {
            let metadata = OpMetadata {
                custom_name: Some(name.clone()),
                locations: vec![reference.span],
                ..OpMetadata::default()
            };
            self.graph.source(
                SourceOp::image(&source_reference.to_string()),
                Some(platform.clone()),
                metadata,
            )
        };
        self.steps.push(StepOrigin {
            name,
            stage,
            span: reference.span,
            artifact: None,
        });
        Some(StageState::from_image(fs, platform, locked.config.clone(), network))
    }

    fn step(&mut self, state: &mut StageState, stage: usize, kind: &BuildStepKind, span: Span, names: &mut StepNames) {
        match kind {
            BuildStepKind::Workdir(path) => {
                let written = state.expand(&path.value, &self.args);
                let dir = state::clean_dir(&written, &state.dir);
                let name = names.next(&format!("WORKDIR {dir}"));
                state.dir = dir.clone();
                state.config.working_dir = state::config_workdir(&written, &dir);
                if dir != "/" {
                    // Like WORKDIR, create the directory, owned by the user in effect.
                    let owner = (!state.config.user.is_empty()).then(|| super::Chown::parse(&state.config.user));
                    let mkdir = super::MkdirAction {
                        path: dir,
                        mode: 0o755,
                        make_parents: true,
                        owner,
                    };
                    let metadata = OpMetadata {
                        custom_name: Some(name.clone()),
                        locations: vec![span],
                        ..OpMetadata::default()
                    };
                    let file = super::FileOp {
                        base: state.fs,
                        actions: vec![super::FileAction::Mkdir(mkdir)],
                    };
                    state.fs = self.graph.file(file, metadata);
                }
                self.steps.push(StepOrigin {
                    name,
                    stage,
                    span,
                    artifact: None,
                });
            }
            BuildStepKind::Env(pairs) => {
                // Like one Dockerfile `ENV` line, every value reads the env
                // from before the step.
                let values: Vec<String> = pairs.iter().map(|(_, value)| state.expand(value, &self.args)).collect();
                for ((key, _), value) in pairs.iter().zip(values) {
                    state.config.set_env(&key.value, &value);
                    state.set_env(&key.value, &value);
                }
            }
            BuildStepKind::Arg { name, value } => {
                // Without a default, the arg takes the global value. Else it
                // keeps its value from an earlier `arg` step, or its automatic
                // value when it is a platform arg such as `TARGETARCH`.
                // NOTE: Docker 20.10 and 26.1 read `ARG X=a` then `ARG X` as
                // X=a even when a global X exists; here the global value wins.
                let value = value
                    .clone()
                    .or_else(|| global_arg(self.build, &name.value))
                    .or_else(|| self.args.get(&name.value).filter(|value| !value.is_empty()).cloned())
                    .or_else(|| self.platform_args.get(&name.value).cloned());
                if let Some(value) = &value {
                    state.set_env(&name.value, value);
                }
                self.args.insert(name.value.clone(), value.unwrap_or_default());
            }
            BuildStepKind::User(user) => {
                let user = state.expand(user, &self.args);
                state.user = user.clone();
                state.config.user = user;
            }
            BuildStepKind::Copy(copy) => {
                let name = names.next(&copy_text(self.build, copy, &state.expand(&copy.to.value, &self.args)));
                let artifact = self.copy(state, copy, name.clone(), span);
                self.steps.push(StepOrigin {
                    name,
                    stage,
                    span,
                    artifact,
                });
            }
            BuildStepKind::Run(run) => {
                let text = match &run.command.form {
                    CommandForm::Shell(text) => text.value.clone(),
                    CommandForm::Exec(argv) => {
                        let argv: Vec<&str> = argv.iter().map(|arg| arg.as_str()).collect();
                        serde_json::to_string(&argv).expect("a list of strings serializes to JSON")
                    }
                };
                let name = names.next(&format!("RUN {text}"));
                if self.run(state, run, name.clone(), span).is_some() {
                    self.steps.push(StepOrigin {
                        name,
                        stage,
                        span,
                        artifact: None,
                    });
                }
            }
            BuildStepKind::Expose(ports) => {
                for port in ports {
                    let text = state.expand(port, &self.args);
                    if let Err(diagnostic) = image_config::expose(state, &text, port.span) {
                        self.diagnostics.push(diagnostic);
                    }
                }
            }
            BuildStepKind::Label(pairs) => {
                for (key, value) in pairs {
                    let value = state.expand(value, &self.args);
                    state
                        .config
                        .labels
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key.value.clone(), value);
                }
            }
            BuildStepKind::Cmd(command) => image_config::set_cmd(state, command),
            BuildStepKind::Entrypoint(command) => image_config::set_entrypoint(state, command),
            BuildStepKind::Healthcheck(check) => {
                if let Err(diagnostic) = image_config::set_healthcheck(state, check) {
                    self.diagnostics.push(diagnostic);
                }
            }
            BuildStepKind::Volume(paths) => {
                for path in paths {
                    let path = state.expand(path, &self.args);
                    state
                        .config
                        .volumes
                        .get_or_insert_with(BTreeMap::new)
                        .insert(path, BTreeMap::new());
                }
            }
            BuildStepKind::StopSignal(signal) => state.config.stop_signal = signal.value.clone(),
            BuildStepKind::Shell(argv) => {
                state.config.shell = Some(argv.iter().map(|arg| arg.value.clone()).collect());
            }
        }
    }

    /// Reports a step `feature` that needs the capability `cap`, which the
    /// engine lacks. `alternative` is the change that does without it.
    fn report_unsupported(&mut self, cap: &str, feature: &str, span: Span, alternative: &str) {
        let needs = match first_docker_release(cap) {
            Some(release) => format!("Docker Engine {release} or newer"),
            None => "a newer Docker Engine".to_string(),
        };
        self.diagnostics.push(
            Diagnostic::new(
                Code::UnsupportedByEngine,
                format!("{feature} needs {needs}, and the engine is {}", self.caps.engine()),
            )
            .label(span, format!("needs the BuildKit capability `{cap}`"))
            .help(format!("upgrade to {needs}, or {alternative}")),
        );
    }

    /// Substitutes the build args visible in the current stage.
    fn path_text(&self, value: &Interpolated) -> String {
        substitute(value, &self.args)
    }

    /// Returns the filesystem of the build context, adding its source on first use.
    fn context_fs(&mut self) -> Fs {
        if let Some(context) = self.context {
            return context;
        }
        let inputs = self.context_inputs.clone().unwrap_or_default();
        let context = inputs.add_source(&mut self.graph);
        self.context = Some(context);
        context
    }

    /// Returns the final filesystem of a stage lowered before the current one.
    fn stage_fs(&self, index: usize) -> Fs {
        self.results.get(index).copied().unwrap_or(Fs::Scratch)
    }
}

/// Returns the text of a copy step in progress output, like the Dockerfile `COPY` line.
fn copy_text(build: &BuildGraph, copy: &crate::lower::CopyStep, dest: &str) -> String {
    match &copy.source {
        CopySource::Context(paths) => {
            let sources: Vec<&str> = paths.iter().map(|path| path.as_str()).collect();
            format!("COPY {} {dest}", sources.join(" "))
        }
        CopySource::Stage { stage, path, .. } => {
            format!("COPY --from={} {} {dest}", build.stage(*stage).name.value, path.value)
        }
    }
}

/// Numbers the ops of one stage as `[stage 2/5]`, counting the steps that
/// make an op: the image source, `workdir`, `copy` and `run`.
struct StepNames {
    stage: String,
    total: usize,
    next: usize,
}

impl StepNames {
    fn new(stage: &crate::lower::BuildStage) -> StepNames {
        let from_image = usize::from(matches!(stage.base, StageBase::Image(_)));
        let steps = stage
            .steps
            .iter()
            .filter(|step| {
                matches!(
                    step.kind,
                    BuildStepKind::Workdir(_) | BuildStepKind::Copy(_) | BuildStepKind::Run(_)
                )
            })
            .count();
        StepNames {
            stage: stage.name.value.clone(),
            total: from_image + steps,
            next: 1,
        }
    }

    fn next(&mut self, text: &str) -> String {
        let width = self.total.to_string().len();
        let name = format!("[{} {:>width$}/{}] {text}", self.stage, self.next, self.total);
        self.next += 1;
        name
    }
}

#[cfg(test)]
mod tests;
