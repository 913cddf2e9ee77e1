//! The graph of ops under construction.

use std::collections::BTreeMap;

use super::ops::{ExecOp, FileOp, Op, SourceOp};
use crate::diag::Span;
use crate::model::Platform;

/// An op's position in its [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub(super) usize);

/// One output of an op: the root or a writable mount of an exec op, the
/// result of a file op, or the files of a source op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Output {
    pub op: OpId,
    pub index: i64,
}

/// A filesystem that an op reads: the empty one or an op's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Fs {
    #[default]
    Scratch,
    Output(Output),
}

impl Fs {
    pub fn output(self) -> Option<Output> {
        match self {
            Fs::Scratch => None,
            Fs::Output(output) => Some(output),
        }
    }
}

/// The metadata of an op besides its definition: the name that progress
/// output shows, and the spec text the op comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpMetadata {
    /// Shown as the vertex name (`llb.customname`), such as `[builder 2/3] RUN go build .`.
    pub custom_name: Option<String>,
    /// Further description entries, by key.
    pub description: BTreeMap<String, String>,
    /// Run the op even when a cached result exists.
    pub ignore_cache: bool,
    /// Spans of the spec text the op comes from, for source maps.
    pub locations: Vec<Span>,
}

#[derive(Debug, Clone)]
pub(super) struct Node {
    pub op: Op,
    /// The platform the op runs on; BuildKit needs it for image sources and
    /// exec ops and ignores it for the others.
    pub platform: Option<Platform>,
    pub metadata: OpMetadata,
}

/// A graph of LLB ops. Ops only refer to ops added before them, so the
/// graph has no cycles by construction.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub(super) nodes: Vec<Node>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds a source op. Its output 0 is the image's or the directory's files.
    pub fn source(&mut self, source: SourceOp, platform: Option<Platform>, metadata: OpMetadata) -> Fs {
        // BuildKit's llb package drops the platform of every source except
        // images, whose platform selects the manifest.
        let platform = if source.is_image() { platform } else { None };
        let id = self.push(Op::Source(source), platform, metadata);
        Fs::Output(Output { op: id, index: 0 })
    }

    /// Adds an exec op and returns its id; [`Graph::exec_root`] and
    /// [`Graph::exec_mount`] give its outputs.
    pub fn exec(&mut self, exec: ExecOp, platform: Platform, metadata: OpMetadata) -> OpId {
        self.check_inputs(
            exec.mounts
                .iter()
                .filter_map(|mount| mount_source(&mount.kind))
                .chain([exec.root]),
        );
        self.push(Op::Exec(exec), Some(platform), metadata)
    }

    /// Adds a file op. Its only output is the result of the last action.
    pub fn file(&mut self, file: FileOp, metadata: OpMetadata) -> Fs {
        let copies = file.actions.iter().filter_map(|action| match action {
            super::ops::FileAction::Copy(copy) => Some(copy.source),
            _ => None,
        });
        self.check_inputs(copies.chain([file.base]));
        let id = self.push(Op::File(file), None, metadata);
        Fs::Output(Output { op: id, index: 0 })
    }

    /// Returns the root filesystem of an exec op after its process ran.
    pub fn exec_root(&self, exec: OpId) -> Fs {
        self.exec_mount(exec, "/")
            .expect("the root of an exec op is always an output")
    }

    /// Returns the filesystem of a writable mount after the process ran, or `None`
    /// when `target` is not such a mount. Output indexes follow BuildKit's
    /// `llb` package: writable mounts sorted by target, the root among them.
    pub fn exec_mount(&self, exec: OpId, target: &str) -> Option<Fs> {
        let Op::Exec(op) = &self.nodes[exec.0].op else {
            return None;
        };
        let index = super::marshal::exec_output_targets(op)
            .iter()
            .position(|output| *output == target)?;
        Some(Fs::Output(Output {
            op: exec,
            index: index as i64,
        }))
    }

    /// Returns the number of ops added so far.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn push(&mut self, op: Op, platform: Option<Platform>, metadata: OpMetadata) -> OpId {
        self.nodes.push(Node { op, platform, metadata });
        OpId(self.nodes.len() - 1)
    }

    fn check_inputs(&self, inputs: impl Iterator<Item = Fs>) {
        for input in inputs {
            if let Fs::Output(output) = input {
                assert!(output.op.0 < self.nodes.len(), "an op refers to an op of another graph");
            }
        }
    }
}

fn mount_source(kind: &super::ops::MountKind) -> Option<Fs> {
    match kind {
        super::ops::MountKind::Bind { source, .. } | super::ops::MountKind::Cache { source, .. } => Some(*source),
        _ => None,
    }
}
