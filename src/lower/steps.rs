//! Lowers the steps of one stage. Tracks the working directory and shell
//! in effect, parses interpolation, and resolves copies and bind mounts
//! from other stages to absolute paths in those stages.

use std::collections::BTreeMap;

use super::graph::{
    BindSource, BuildStep, BuildStepKind, Command, CopySource, CopyStep, Healthcheck, Interpolated, Mount, MountKind,
    RunStep, StagePath,
};
use super::paths::{self, Workdir};
use super::shadow::StageEnv;
use crate::diag::{Code, Diagnostic, Diagnostics, suggest::did_you_mean};
use crate::model::{self, Artifact, Spanned, Spec, Stage, StepKind, interpolate};

/// The shell that runs shell-form commands unless a `shell` step sets another.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// The working directory, shell and env that a stage passes on to the stages based on it.
#[derive(Debug, Clone)]
pub struct StageState {
    pub workdir: Workdir,
    pub shell: Vec<String>,
    pub has_shell: Option<bool>,
    pub env: StageEnv,
}

impl StageState {
    /// Returns the state at the start of a stage based on an image, whose
    /// working directory only the image's config sets.
    pub fn image() -> StageState {
        // NOTE: assumes the image config sets no shell (Dockerfile `SHELL`),
        // which Linux images rarely do; stagec cannot read the config.
        StageState {
            workdir: Workdir::Unknown,
            shell: default_shell(),
            has_shell: None,
            env: StageEnv::new(),
        }
    }

    /// Returns the state at the start of a stage based on `scratch`.
    pub fn scratch() -> StageState {
        StageState {
            workdir: Workdir::root(),
            shell: default_shell(),
            has_shell: None,
            env: StageEnv::new(),
        }
    }
}

fn default_shell() -> Vec<String> {
    DEFAULT_SHELL.iter().map(|part| part.to_string()).collect()
}

/// Facts shared by every stage being lowered.
pub struct Context<'a> {
    pub spec: &'a Spec,
    /// Index in the build graph of each lowered spec stage.
    pub graph_index: &'a BTreeMap<usize, usize>,
    pub overrides: &'a BTreeMap<String, String>,
}

/// Lowers the steps of `stage`, starting from `state` and leaving in it what
/// stages based on this one inherit.
pub fn lower_steps(
    context: &Context<'_>,
    stage: &Stage,
    state: &mut StageState,
    diagnostics: &mut Diagnostics,
) -> Vec<BuildStep> {
    let mut lowering = StepLowering {
        context,
        state,
        diagnostics,
    };
    stage
        .steps
        .iter()
        .filter_map(|step| {
            lowering
                .step(&step.kind)
                .map(|kind| BuildStep { kind, span: step.span })
        })
        .collect()
}

struct StepLowering<'a, 'b> {
    context: &'a Context<'a>,
    state: &'b mut StageState,
    diagnostics: &'b mut Diagnostics,
}

impl<'a> StepLowering<'a, '_> {
    fn step(&mut self, kind: &StepKind) -> Option<BuildStepKind> {
        let lowered = match kind {
            StepKind::Workdir(text) => {
                let path = paths::resolve(&self.interpolated(text)?, &self.state.workdir);
                self.state.workdir = Workdir::after(&path);
                BuildStepKind::Workdir(path)
            }
            StepKind::Env(pairs) => BuildStepKind::Env(self.pairs(pairs)?),
            StepKind::Arg(decl) => {
                let value = self
                    .context
                    .overrides
                    .get(&decl.name.value)
                    .cloned()
                    .or_else(|| decl.default.as_ref().map(|default| default.value.clone()));
                BuildStepKind::Arg {
                    name: decl.name.clone(),
                    value,
                }
            }
            StepKind::User(text) => BuildStepKind::User(self.interpolated(text)?),
            StepKind::Copy(copy) => BuildStepKind::Copy(self.copy(copy)?),
            StepKind::Run(run) => BuildStepKind::Run(self.run(run)?),
            StepKind::Expose(ports) => BuildStepKind::Expose(self.list(ports)?),
            StepKind::Label(pairs) => BuildStepKind::Label(self.pairs(pairs)?),
            StepKind::Cmd(command) => BuildStepKind::Cmd(self.command(command)?),
            StepKind::Entrypoint(command) => BuildStepKind::Entrypoint(self.command(command)?),
            StepKind::Healthcheck(check) => BuildStepKind::Healthcheck(Healthcheck {
                command: match &check.command {
                    Some(command) => Some(self.command(command)?),
                    None => None,
                },
                interval: check.interval.clone(),
                timeout: check.timeout.clone(),
                start_period: check.start_period.clone(),
                retries: check.retries.clone(),
            }),
            StepKind::Volume(paths) => BuildStepKind::Volume(self.list(paths)?),
            StepKind::StopSignal(signal) => BuildStepKind::StopSignal(signal.clone()),
            StepKind::Shell(argv) => {
                self.state.shell = argv.iter().map(|part| part.value.clone()).collect();
                BuildStepKind::Shell(argv.clone())
            }
        };
        Some(lowered)
    }

    /// Parses `${NAME}` references; reports SC0607 for a malformed one.
    fn interpolated(&mut self, text: &Spanned<String>) -> Option<Interpolated> {
        match interpolate::parse(&text.value, text.span) {
            Ok(parts) => Some(Interpolated { parts, span: text.span }),
            Err(error) => {
                self.diagnostics.push(
                    Diagnostic::new(Code::InvalidInterpolation, error.message)
                        .label(error.span, "malformed interpolation")
                        .help("write `${NAME}` to use a build arg, or `$${` for a literal `${`"),
                );
                None
            }
        }
    }

    fn list(&mut self, values: &[Spanned<String>]) -> Option<Vec<Interpolated>> {
        let lowered: Vec<Option<Interpolated>> = values.iter().map(|value| self.interpolated(value)).collect();
        lowered.into_iter().collect()
    }

    fn pairs(&mut self, pairs: &[(Spanned<String>, Spanned<String>)]) -> Option<Vec<(Spanned<String>, Interpolated)>> {
        let lowered: Vec<Option<(Spanned<String>, Interpolated)>> = pairs
            .iter()
            .map(|(key, value)| Some((key.clone(), self.interpolated(value)?)))
            .collect();
        lowered.into_iter().collect()
    }

    /// Pairs a command with the shell in effect. Shell-form text that
    /// starts with `-` or `+` is reported: `sh -c -x` (dash, bash and
    /// busybox alike) reads it as an option and fails with "-c requires an
    /// argument".
    fn command(&mut self, command: &model::Command) -> Option<Command> {
        if let model::CommandForm::Shell(text) = &command.form
            && let Some(sign) = text.value.chars().next().filter(|c| matches!(c, '-' | '+'))
        {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("shell-form command starts with `{sign}`, which the shell reads as an option"),
                )
                .label(text.span, "passed to the shell after `-c`")
                .help(format!(
                    "remove the leading `{sign}`, or write `./{sign}...` to run a program in the working directory \
                     whose name starts with `{sign}`"
                )),
            );
            return None;
        }
        Some(Command {
            form: command.form.clone(),
            shell: self.state.shell.clone(),
        })
    }

    fn copy(&mut self, copy: &model::CopyStep) -> Option<CopyStep> {
        let to = paths::resolve(&self.interpolated(&copy.to)?, &self.state.workdir);
        let owner = match &copy.owner {
            Some(owner) => Some(self.interpolated(owner)?),
            None => None,
        };

        let (source, artifact) = match &copy.source {
            model::CopySource::Context(paths) => (CopySource::Context(self.context_paths(paths)?), None),
            model::CopySource::Artifact { stage, artifact } => {
                let index = self.stage_index(stage)?;
                let declared = self.artifact(stage, artifact)?;
                let path = Spanned::new(paths::from_root(&declared.path.value), declared.path.span);
                (
                    CopySource::Stage {
                        stage: index,
                        path,
                        kind: Some(declared.kind),
                    },
                    Some(declared),
                )
            }
            model::CopySource::StagePath { stage, path } => {
                let index = self.stage_index(stage)?;
                let absolute = paths::from_root(&path.value);
                let declared = self.artifact_containing(stage, &absolute);
                let kind = declared
                    .filter(|artifact| paths::from_root(&artifact.path.value) == absolute)
                    .map(|a| a.kind);
                (
                    CopySource::Stage {
                        stage: index,
                        path: Spanned::new(absolute, path.span),
                        kind,
                    },
                    declared,
                )
            }
        };

        let owner = owner.or_else(|| {
            let declared = artifact?.owner.as_ref()?;
            Some(Interpolated::literal(&declared.value, declared.span))
        });
        let mode = copy
            .mode
            .clone()
            .or_else(|| artifact.and_then(|declared| declared.mode.clone()));
        Some(CopyStep {
            source,
            to,
            owner,
            mode,
            include: copy.include.clone(),
            exclude: copy.exclude.clone(),
        })
    }

    fn run(&mut self, run: &model::RunStep) -> Option<RunStep> {
        let mut mounts = Vec::with_capacity(run.mounts.len());
        for mount in &run.mounts {
            mounts.push(Mount {
                kind: self.mount(&mount.kind)?,
                span: mount.span,
            });
        }
        Some(RunStep {
            command: self.command(&run.command)?,
            env: run.env.clone(),
            mounts,
            network: run.network.clone(),
        })
    }

    fn mount(&mut self, kind: &model::MountKind) -> Option<MountKind> {
        let lowered = match kind {
            model::MountKind::Cache {
                target,
                id,
                sharing,
                mode,
                uid,
                gid,
            } => MountKind::Cache {
                target: self.mount_target(target),
                id: id.clone(),
                sharing: sharing.clone(),
                mode: mode.clone(),
                uid: uid.clone(),
                gid: gid.clone(),
            },
            model::MountKind::Secret {
                id,
                target,
                env,
                required,
            } => MountKind::Secret {
                id: id.clone(),
                target: target.as_ref().map(|target| self.mount_target(target)),
                env: env.clone(),
                required: *required,
            },
            model::MountKind::Ssh { id, target, required } => MountKind::Ssh {
                id: id.clone(),
                target: target.as_ref().map(|target| self.mount_target(target)),
                required: *required,
            },
            model::MountKind::Tmpfs { target, size } => MountKind::Tmpfs {
                target: self.mount_target(target),
                size: size.clone(),
            },
            model::MountKind::Bind {
                target,
                from,
                source,
                readwrite,
            } => {
                let source = match from {
                    Some(stage) => BindSource::Stage {
                        stage: self.stage_index(stage)?,
                        path: source
                            .as_ref()
                            .map(|path| Spanned::new(paths::from_root(&path.value), path.span)),
                    },
                    None => BindSource::Context(source.clone()),
                };
                MountKind::Bind {
                    target: self.mount_target(target),
                    source,
                    readwrite: *readwrite,
                }
            }
        };
        Some(lowered)
    }

    /// Checks copy sources in the build context. They are globs for both
    /// backends (Go's `filepath.Match` syntax), where `\\` escapes the next
    /// character, so a `\\` in a file name cannot be matched by writing it.
    fn context_paths(&mut self, paths: &[Spanned<String>]) -> Option<Vec<Spanned<String>>> {
        let mut valid = true;
        for path in paths.iter().filter(|path| path.value.contains('\\')) {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::UnrepresentableValue,
                    format!("context path `{}` contains `\\`", path.value),
                )
                .label(path.span, "`\\` escapes the next character in a copy source glob")
                .help(
                    "copy sources are globs in which `\\` is an escape, not a path character; rename the file, or \
                     match the `\\` with `?`",
                ),
            );
            valid = false;
        }
        valid.then(|| paths.to_vec())
    }

    /// Mount targets are literal paths, resolved against the workdir.
    fn mount_target(&self, target: &Spanned<String>) -> StagePath {
        paths::resolve(&Interpolated::literal(&target.value, target.span), &self.state.workdir)
    }

    /// Looks up a stage that a copy or bind mount reads from.
    fn stage_index(&mut self, name: &Spanned<String>) -> Option<usize> {
        let spec = self.context.spec;
        let Some(spec_index) = spec.stage_index(&name.value) else {
            let mut diagnostic = Diagnostic::new(Code::UnknownStage, format!("unknown stage `{}`", name.value))
                .label(name.span, "no stage with this name");
            diagnostic = match did_you_mean(&name.value, spec.stages.iter().map(|stage| stage.name.as_str())) {
                Some(suggestion) => diagnostic.help(format!("did you mean `{suggestion}`?")),
                None => diagnostic.help("name a stage declared with `stage \"NAME\" from=...`"),
            };
            self.diagnostics.push(diagnostic);
            return None;
        };
        // The selection includes every stage that a lowered stage reads
        // from, so a miss here means the graph was built from another spec.
        self.context.graph_index.get(&spec_index).copied()
    }

    fn artifact(&mut self, stage: &Spanned<String>, name: &Spanned<String>) -> Option<&'a Artifact> {
        let spec = self.context.spec;
        let producer = spec.stage(&stage.value)?;
        let found = producer
            .artifacts
            .iter()
            .find(|artifact| artifact.name.value == name.value);
        if found.is_none() {
            let help = match did_you_mean(
                &name.value,
                producer.artifacts.iter().map(|artifact| artifact.name.as_str()),
            ) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!(
                    "declare it in stage `{}` with `artifact \"{}\" path=\"/...\"`",
                    stage.value, name.value
                ),
            };
            self.diagnostics.push(
                Diagnostic::new(
                    Code::UnknownArtifact,
                    format!("stage `{}` declares no artifact `{}`", stage.value, name.value),
                )
                .label(name.span, "unknown artifact")
                .help(help),
            );
        }
        found
    }

    /// Finds the declared artifact that is `path` or a directory containing it.
    fn artifact_containing(&self, stage: &Spanned<String>, path: &str) -> Option<&'a Artifact> {
        let producer = self.context.spec.stage(&stage.value)?;
        producer.artifacts.iter().find(|artifact| {
            let root = paths::from_root(&artifact.path.value);
            let root = root.trim_end_matches('/');
            path == root || path.trim_end_matches('/') == root || path.starts_with(&format!("{root}/"))
        })
    }
}
