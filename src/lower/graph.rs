//! The build graph that lowering produces: plain data, with no backend
//! syntax in it. Interpolated values stay split into [`Part`]s so that each
//! backend encodes `${NAME}` its own way (the Dockerfile backend as `${NAME}`
//! with an `ARG`, an LLB backend by substituting the value).

use crate::diag::Span;
use crate::model::interpolate::Part;
use crate::model::{ArtifactKind, CommandForm, Network, PlatformSpec, Sharing, Spanned};

/// The stages one output needs, plus every `check` stage, ready for a backend.
#[derive(Debug, Clone)]
pub struct BuildGraph {
    /// Global build args that an emitted stage refers to, in spec order.
    pub global_args: Vec<GlobalArg>,
    /// Stages in dependency order: each comes after every stage it uses.
    /// Independent stages are sorted by lower-cased name, so the order does
    /// not depend on where the spec writes them.
    pub stages: Vec<BuildStage>,
    /// Index in `stages` of the chosen output.
    pub output: usize,
    /// Tags of the chosen output, with global args substituted. Empty when
    /// the target is a stage that no `image` exports.
    pub tags: Vec<Spanned<String>>,
    /// `context { exclude }` patterns, in spec order.
    pub context_excludes: Vec<Spanned<String>>,
}

impl BuildGraph {
    /// Returns the stage at `index`, which must come from this graph.
    pub fn stage(&self, index: usize) -> &BuildStage {
        &self.stages[index]
    }
}

/// A global `arg` with the value the build uses.
#[derive(Debug, Clone)]
pub struct GlobalArg {
    pub name: Spanned<String>,
    /// The `build_args` override, else the spec default, else nothing.
    pub value: Option<String>,
    /// The `arg` node, for diagnostics about the value.
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageRole {
    /// The stage the chosen output exports.
    Output,
    /// A `check` stage: built on request, consumed by nothing.
    Check,
    /// A stage that the output or a check depends on.
    Dependency,
}

#[derive(Debug, Clone)]
pub struct BuildStage {
    /// The name as written in the spec.
    pub name: Spanned<String>,
    pub role: StageRole,
    pub base: StageBase,
    pub platform: Option<Spanned<PlatformSpec>>,
    /// Runs on the build platform and builds for the target platform.
    pub cross_compile: bool,
    /// `false` when the stage, or a stage it is based on, sets `shell=#false`.
    /// `None` when the spec does not set it.
    pub has_shell: Option<bool>,
    /// Build args that the stage reads with `${NAME}` before any `arg` step of
    /// its own declares them, in order of first use. A backend declares these
    /// when the stage starts, so that they take the global value.
    pub inherited_args: Vec<String>,
    pub steps: Vec<BuildStep>,
    pub span: Span,
}

/// The base of a stage.
#[derive(Debug, Clone)]
pub enum StageBase {
    /// An image reference; `${NAME}` parts name global args.
    Image(Interpolated),
    /// Another stage of the graph, by index in [`BuildGraph::stages`].
    Stage(usize),
    Scratch,
}

/// A spec string split into literal text and `${NAME}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    pub parts: Vec<Part>,
    /// The string value in the spec.
    pub span: Span,
}

impl Interpolated {
    /// Wraps text that is never interpolated.
    pub fn literal(text: &str, span: Span) -> Interpolated {
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Literal(text.to_string())]
        };
        Interpolated { parts, span }
    }

    /// Returns the text when the value has no `${NAME}` part.
    pub fn as_literal(&self) -> Option<String> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(literal) => text.push_str(literal),
                Part::Arg { .. } | Part::Env { .. } => return None,
            }
        }
        Some(text)
    }

    /// Names of the args the value refers to, in order.
    pub fn arg_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Arg { name, .. } => Some(name.as_str()),
            Part::Env { .. } | Part::Literal(_) => None,
        })
    }
}

/// A path inside a stage's filesystem after workdir resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePath {
    pub value: Interpolated,
    /// `true` when the path stays relative to the working directory in
    /// effect at its step, for the builder to resolve. That happens when the
    /// directory comes from the base image's config, which stagec cannot
    /// read, or when the path starts with a build arg.
    pub relative: bool,
}

#[derive(Debug, Clone)]
pub struct BuildStep {
    pub kind: BuildStepKind,
    /// The step's node in the spec.
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum BuildStepKind {
    Workdir(StagePath),
    Env(Vec<(Spanned<String>, Interpolated)>),
    /// `arg "NAME" default="..."` inside the stage. `value` is the
    /// `build_args` override, else the default; `None` inherits the global
    /// arg of the same name.
    Arg {
        name: Spanned<String>,
        value: Option<String>,
    },
    User(Interpolated),
    Copy(CopyStep),
    Run(RunStep),
    Expose(Vec<Interpolated>),
    Label(Vec<(Spanned<String>, Interpolated)>),
    Cmd(Command),
    Entrypoint(Command),
    Healthcheck(Healthcheck),
    Volume(Vec<Interpolated>),
    StopSignal(Spanned<String>),
    Shell(Vec<Spanned<String>>),
}

/// A command line and the shell that runs it when it is in shell form.
#[derive(Debug, Clone)]
pub struct Command {
    pub form: CommandForm,
    /// The shell argv in effect at this step: the last `shell` step of the
    /// stage or its base stages, else `/bin/sh -c`.
    pub shell: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CopyStep {
    pub source: CopySource,
    pub to: StagePath,
    /// The copy's `owner=`, else the artifact's.
    pub owner: Option<Interpolated>,
    /// The copy's `mode=`, else the artifact's.
    pub mode: Option<Spanned<u32>>,
    pub include: Vec<Spanned<String>>,
    pub exclude: Vec<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub enum CopySource {
    /// Paths or globs in the build context, as written.
    Context(Vec<Spanned<String>>),
    /// A path in another stage of the graph.
    Stage {
        stage: usize,
        /// Absolute path in that stage.
        path: Spanned<String>,
        /// The kind of the declared artifact, when the path is exactly one;
        /// `None` for a raw path inside a directory artifact.
        kind: Option<ArtifactKind>,
    },
}

#[derive(Debug, Clone)]
pub struct RunStep {
    pub command: Command,
    /// Env vars for this command only; values are literal.
    pub env: Vec<(Spanned<String>, Spanned<String>)>,
    pub mounts: Vec<Mount>,
    pub network: Option<Spanned<Network>>,
}

#[derive(Debug, Clone)]
pub struct Mount {
    pub kind: MountKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum MountKind {
    Cache {
        target: StagePath,
        id: Option<Spanned<String>>,
        sharing: Option<Spanned<Sharing>>,
        mode: Option<Spanned<u32>>,
        uid: Option<Spanned<u32>>,
        gid: Option<Spanned<u32>>,
    },
    Secret {
        id: Spanned<String>,
        target: Option<StagePath>,
        env: Option<Spanned<String>>,
        required: bool,
    },
    Ssh {
        id: Option<Spanned<String>>,
        target: Option<StagePath>,
        required: bool,
    },
    Tmpfs {
        target: StagePath,
        /// Bytes.
        size: Option<Spanned<u64>>,
    },
    Bind {
        target: StagePath,
        source: BindSource,
        readwrite: bool,
    },
}

#[derive(Debug, Clone)]
pub enum BindSource {
    /// A context path, or the whole context when `None`.
    Context(Option<Spanned<String>>),
    /// A path in another stage of the graph, or its root when `None`.
    Stage {
        stage: usize,
        path: Option<Spanned<String>>,
    },
}

#[derive(Debug, Clone)]
pub struct Healthcheck {
    /// `None` disables a check inherited from the base.
    pub command: Option<Command>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub start_period: Option<Spanned<String>>,
    pub retries: Option<Spanned<u32>>,
}
