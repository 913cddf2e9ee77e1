use super::{ArgDecl, Spanned};
use crate::diag::Span;

/// One instruction inside a stage, in the user's order.
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: StepKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Workdir(Spanned<String>),
    /// `env NAME="value" OTHER="value"`; values may interpolate `${ARG}`.
    Env(Vec<(Spanned<String>, Spanned<String>)>),
    Arg(ArgDecl),
    User(Spanned<String>),
    Copy(CopyStep),
    Run(RunStep),
    Expose(Vec<Spanned<String>>),
    Label(Vec<(Spanned<String>, Spanned<String>)>),
    Cmd(Command),
    Entrypoint(Command),
    Healthcheck(Healthcheck),
    Volume(Vec<Spanned<String>>),
    StopSignal(Spanned<String>),
    Shell(Vec<Spanned<String>>),
}

/// A command line: an argv (exec form) or text run by the stage's shell.
#[derive(Debug, Clone)]
pub struct Command {
    pub form: CommandForm,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum CommandForm {
    /// Arguments passed as they are, with no shell involved.
    Exec(Vec<Spanned<String>>),
    /// Text handed to the stage's shell (`/bin/sh -c` unless a `shell` step sets another).
    Shell(Spanned<String>),
}

#[derive(Debug, Clone)]
pub struct CopyStep {
    pub source: CopySource,
    pub to: Spanned<String>,
    pub owner: Option<Spanned<String>>,
    pub mode: Option<Spanned<u32>>,
    /// Patterns, relative to each source, that restrict what is copied.
    pub include: Vec<Spanned<String>>,
    pub exclude: Vec<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub enum CopySource {
    /// Files, directories or globs from the build context.
    Context(Vec<Spanned<String>>),
    /// A declared artifact of another stage.
    Artifact { stage: Spanned<String>, artifact: Spanned<String> },
    /// A raw path in another stage; valid only inside a declared artifact.
    StagePath { stage: Spanned<String>, path: Spanned<String> },
}

#[derive(Debug, Clone)]
pub struct RunStep {
    pub command: Command,
    /// Env vars set for this command only.
    pub env: Vec<(Spanned<String>, Spanned<String>)>,
    pub mounts: Vec<Mount>,
    pub network: Option<Spanned<Network>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Default,
    None,
    Host,
}

impl Network {
    pub fn parse(text: &str) -> Option<Network> {
        match text {
            "default" => Some(Network::Default),
            "none" => Some(Network::None),
            "host" => Some(Network::Host),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Network::Default => "default",
            Network::None => "none",
            Network::Host => "host",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

impl Sharing {
    pub fn parse(text: &str) -> Option<Sharing> {
        match text {
            "shared" => Some(Sharing::Shared),
            "private" => Some(Sharing::Private),
            "locked" => Some(Sharing::Locked),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sharing::Shared => "shared",
            Sharing::Private => "private",
            Sharing::Locked => "locked",
        }
    }
}

/// A mount visible to one run step only.
#[derive(Debug, Clone)]
pub struct Mount {
    pub kind: MountKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum MountKind {
    /// `cache "/root/.cache/go-build" id="go" sharing="locked"`
    Cache {
        target: Spanned<String>,
        id: Option<Spanned<String>>,
        sharing: Option<Spanned<Sharing>>,
        mode: Option<Spanned<u32>>,
        uid: Option<Spanned<u32>>,
        gid: Option<Spanned<u32>>,
    },
    /// `secret "npm_token" target="/run/secrets/npm" env="NPM_TOKEN"`
    Secret { id: Spanned<String>, target: Option<Spanned<String>>, env: Option<Spanned<String>>, required: bool },
    /// `ssh id="default" target="/run/ssh.sock"`
    Ssh { id: Option<Spanned<String>>, target: Option<Spanned<String>>, required: bool },
    /// `tmpfs "/tmp" size=67108864` (bytes)
    Tmpfs { target: Spanned<String>, size: Option<Spanned<u64>> },
    /// `bind "/src" source="go.mod"` from the context, or `from="stage"`.
    Bind {
        target: Spanned<String>,
        from: Option<Spanned<String>>,
        source: Option<Spanned<String>>,
        readwrite: bool,
    },
}

/// `healthcheck "wget" "-q" "http://localhost/" interval="30s" ...`, or
/// `healthcheck none=#true` to disable one inherited from the base.
#[derive(Debug, Clone)]
pub struct Healthcheck {
    /// `None` disables the check.
    pub command: Option<Command>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub start_period: Option<Spanned<String>>,
    pub retries: Option<Spanned<u32>>,
}
