//! The BuildKit LLB backend. [`Graph`] is a small typed builder over the
//! protobuf types of BuildKit's `solver/pb` package (re-exported as [`pb`]):
//! source, exec and file ops that refer to each other's outputs.
//! [`Graph::marshal`] turns it into a `pb.Definition` the way BuildKit's Go
//! `llb` package does. Each op is serialized once, after the ops it reads,
//! and is named by the sha256 digest of its bytes. A last op names the
//! result as its only input.
//! [`lower`] builds the graph of a [`crate::lower::BuildGraph`].
//!
//! Marshalling is deterministic: the same graph gives byte-identical ops,
//! digests and definition, because every map in the pb types is a BTreeMap
//! and the builder never iterates a hash map.

pub mod caps;
mod digest;
mod graph;
pub mod json;
pub mod lower;
mod marshal;
mod ops;
mod source_map;
pub mod tags;

pub use bollard_buildkit_proto::pb;
pub use caps::EngineCaps;
pub use digest::digest_of;
pub use graph::{Fs, Graph, OpId, OpMetadata, Output};
pub use marshal::{Marshalled, SourceInfo};
pub use ops::{
    Chown, CopyAction, ExecOp, FileAction, FileOp, LocalSource, Meta, MkdirAction, MkfileAction, Mount, MountKind,
    NetworkMode, RmAction, SecretEnv, SourceOp, UserRef,
};

#[cfg(test)]
mod tests;
