//! The typed spec model: what the user declared, with spans, after the
//! syntax tree has been checked for shape but before cross-references are
//! resolved. Validation passes in [`crate::resolve`] read this model.

pub mod interpolate;
mod platform;
mod step;

pub use platform::{Platform, PlatformSpec};
pub use step::{
    Command, CommandForm, CopySource, CopyStep, Healthcheck, Mount, MountKind, Network, RunStep, Sharing, Step,
    StepKind,
};

use crate::diag::Span;

/// A value and the span of the spec text it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl Spanned<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// A whole spec file.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Frontend image from a leading `# syntax=` line.
    pub syntax: Option<Spanned<String>>,
    /// Global build args, usable in `from`, `platform` and image tags, and by
    /// stages that re-declare them with `arg "NAME"`.
    pub args: Vec<ArgDecl>,
    pub secrets: Vec<SecretDecl>,
    /// Patterns excluded from every context input.
    pub context_excludes: Vec<Spanned<String>>,
    pub stages: Vec<Stage>,
    pub images: Vec<ImageOutput>,
    /// Stages that must build even though no image consumes them.
    pub checks: Vec<Spanned<String>>,
    /// Name lookup built on first use, so that resolving every reference is
    /// linear in the spec size rather than quadratic.
    stage_names: std::sync::OnceLock<StageNames>,
}

#[derive(Debug, Clone, Default)]
struct StageNames {
    /// Number of stages when the map was built; a different count means the
    /// stage list changed since, and lookups fall back to a scan. Stages are
    /// never renamed after parsing, so the count is enough.
    stage_count: usize,
    /// First stage with each name, as duplicates are reported elsewhere.
    first_index: std::collections::HashMap<String, usize>,
}

impl Spec {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stage_index(name).map(|index| &self.stages[index])
    }

    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let names = self.stage_names.get_or_init(|| {
            let mut first_index = std::collections::HashMap::with_capacity(self.stages.len());
            for (index, stage) in self.stages.iter().enumerate() {
                first_index.entry(stage.name.value.clone()).or_insert(index);
            }
            StageNames { stage_count: self.stages.len(), first_index }
        });
        if names.stage_count == self.stages.len() {
            names.first_index.get(name).copied()
        } else {
            self.stages.iter().position(|stage| stage.name.value == name)
        }
    }
}

/// `arg "NAME" default="value"`, at top level or inside a stage.
#[derive(Debug, Clone)]
pub struct ArgDecl {
    pub name: Spanned<String>,
    pub default: Option<Spanned<String>>,
    pub span: Span,
}

/// `secret "id" required=#true`: the value is supplied at build time and
/// only ever reaches a run step as a secret mount.
#[derive(Debug, Clone)]
pub struct SecretDecl {
    pub name: Spanned<String>,
    pub required: bool,
    pub span: Span,
}

/// The base of a stage: an image, another stage, or scratch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// An image reference such as `golang:1.19`, possibly with `${ARG}`.
    Image(Spanned<String>),
    /// Another stage of the spec, by name.
    Stage(Spanned<String>),
    /// The empty filesystem.
    Scratch(Span),
}

/// The C library a stage's filesystem provides, for linkage checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Libc {
    Glibc,
    Musl,
    /// No C library at all (`scratch`, static distroless).
    None,
}

impl Libc {
    pub fn parse(text: &str) -> Option<Libc> {
        match text {
            "glibc" => Some(Libc::Glibc),
            "musl" => Some(Libc::Musl),
            "none" => Some(Libc::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Libc::Glibc => "glibc",
            Libc::Musl => "musl",
            Libc::None => "none",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub name: Spanned<String>,
    pub base: Base,
    /// Span of the `from=...` property, or of the stage name when absent.
    pub base_span: Span,
    pub platform: Option<Spanned<PlatformSpec>>,
    /// `cross-compile=#true`: the stage runs on the build platform but its
    /// artifacts are built for the target platform.
    pub cross_compile: bool,
    /// `libc="musl"`: overrides what stagec infers from the base image.
    pub libc: Option<Spanned<Libc>>,
    /// `shell=#false`: the base has no `/bin/sh`; overrides inference.
    pub has_shell: Option<Spanned<bool>>,
    pub steps: Vec<Step>,
    pub artifacts: Vec<Artifact>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    File,
    Dir,
    Executable,
}

impl ArtifactKind {
    pub fn parse(text: &str) -> Option<ArtifactKind> {
        match text {
            "file" => Some(ArtifactKind::File),
            "dir" => Some(ArtifactKind::Dir),
            "executable" => Some(ArtifactKind::Executable),
            _ => None,
        }
    }
}

/// The C library linkage of a native artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    Static,
    Glibc,
    Musl,
}

impl Linkage {
    pub fn parse(text: &str) -> Option<Linkage> {
        match text {
            "static" => Some(Linkage::Static),
            "glibc" => Some(Linkage::Glibc),
            "musl" => Some(Linkage::Musl),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Linkage::Static => "static",
            Linkage::Glibc => "glibc",
            Linkage::Musl => "musl",
        }
    }
}

/// `artifact "app" path="/app/main" kind="executable" linkage="static"`.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: Spanned<String>,
    pub path: Spanned<String>,
    pub kind: ArtifactKind,
    pub owner: Option<Spanned<String>>,
    pub mode: Option<Spanned<u32>>,
    pub linkage: Option<Spanned<Linkage>>,
    pub platform: Option<Spanned<PlatformSpec>>,
    pub span: Span,
}

/// `image "runtime" tag="app:1.0"`: a stage exported as an image.
#[derive(Debug, Clone)]
pub struct ImageOutput {
    pub stage: Spanned<String>,
    pub tags: Vec<Spanned<String>>,
    /// `default=#true` picks this output when several exist.
    pub default: bool,
    pub span: Span,
}
