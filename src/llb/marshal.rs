//! Marshalling a [`Graph`] into a `pb.Definition`. It follows BuildKit's Go
//! `llb` package (client/llb: state.go, exec.go, fileop.go, source.go), so
//! that an op means to BuildKit what the same op built by its Dockerfile
//! frontend means. Input indexes, output indexes, `-1` for "none", mount
//! order and capabilities all match.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

use super::caps;
use super::digest::digest_of;
use super::graph::{Fs, Graph, Node, OpId, OpMetadata};
use super::ops::{Chown, CopyAction, ExecOp, FileAction, FileOp, Mount, MountKind, Op, SourceOp, UserRef};
use super::pb;
use super::source_map::LineIndex;
use crate::model::Platform;

/// BuildKit's marker for "no input" and "no output" (`pb.Empty`, `pb.SkipOutput`).
const NONE_INDEX: i64 = -1;

/// Metadata key of the vertex name that progress output shows.
pub const CUSTOM_NAME_KEY: &str = "llb.customname";

/// The spec file a definition's source map points into.
#[derive(Debug, Clone)]
pub struct SourceInfo<'a> {
    pub filename: String,
    pub data: &'a str,
    /// A language name as GitHub Linguist spells it, such as `KDL`.
    pub language: String,
}

/// A marshalled definition and the digest of each op in it.
#[derive(Debug, Clone)]
pub struct Marshalled {
    pub definition: pb::Definition,
    /// Digest of every op of the graph that the result depends on.
    pub op_digests: BTreeMap<OpId, String>,
}

impl Marshalled {
    /// Encodes the definition as protobuf bytes, as a solve request sends it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.definition.encode_to_vec()
    }

    /// Returns the digest of the op that produces the result, or `None` for an
    /// empty definition (a scratch result).
    pub fn result_digest(&self) -> Option<String> {
        let last = self.definition.def.last()?;
        let op = pb::Op::decode(last.as_slice()).ok()?;
        op.inputs.first().map(|input| input.digest.clone())
    }
}

impl Graph {
    /// Marshals the ops that `result` depends on. Inputs come before the
    /// ops that read them; among the inputs of one op, the order is the
    /// op's input order. Identical ops are written once.
    pub fn marshal(&self, result: Fs, source: Option<&SourceInfo>) -> Marshalled {
        let mut definition = pb::Definition::default();
        let mut op_digests: BTreeMap<OpId, String> = BTreeMap::new();
        let mut locations: BTreeMap<String, Vec<crate::diag::Span>> = BTreeMap::new();
        // Digests of the ops in `definition.def`. Looking an op up here
        // instead of comparing its bytes with every op written keeps
        // marshalling linear in the number of ops.
        let mut written: BTreeSet<String> = BTreeSet::new();

        let Fs::Output(result_output) = result else {
            return Marshalled { definition, op_digests };
        };

        for id in self.post_order(result_output.op) {
            let node = &self.nodes[id.0];
            let (op, caps) = self.to_pb(node, &op_digests);
            let bytes = op.encode_to_vec();
            let digest = digest_of(&bytes);

            let metadata = definition.metadata.entry(digest.clone()).or_default();
            merge_metadata(metadata, &node.metadata, caps);
            locations
                .entry(digest.clone())
                .or_default()
                .extend(node.metadata.locations.iter().copied());
            if written.insert(digest.clone()) {
                definition.def.push(bytes);
            }
            op_digests.insert(id, digest);
        }

        let result_input = pb::Input {
            digest: op_digests[&result_output.op].clone(),
            index: result_output.index,
        };
        let last = pb::Op {
            inputs: vec![result_input],
            ..pb::Op::default()
        };
        let last_bytes = last.encode_to_vec();
        let last_digest = digest_of(&last_bytes);
        let mut last_caps = BTreeMap::from([
            (caps::CONSTRAINTS.to_string(), true),
            (caps::PLATFORM.to_string(), true),
        ]);
        for metadata in definition.metadata.values() {
            if !metadata.description.is_empty() {
                last_caps.insert(caps::META_DESCRIPTION.to_string(), true);
            }
            if metadata.ignore_cache {
                last_caps.insert(caps::META_IGNORE_CACHE.to_string(), true);
            }
        }
        definition.metadata.insert(
            last_digest,
            pb::OpMetadata {
                caps: last_caps,
                ..pb::OpMetadata::default()
            },
        );
        definition.def.push(last_bytes);

        if let Some(source) = source {
            definition.source = Some(source_map(source, &locations));
        }
        Marshalled { definition, op_digests }
    }

    /// Returns the ops `root` depends on, and `root` itself, each after all
    /// of its inputs. Iterative, so a long chain of steps cannot overflow
    /// the stack.
    fn post_order(&self, root: OpId) -> Vec<OpId> {
        let mut order = Vec::new();
        let mut done = vec![false; self.nodes.len()];
        // Each entry is an op and how many of its inputs were visited.
        let mut stack = vec![(root, 0usize)];
        while let Some((id, next_input)) = stack.pop() {
            if done[id.0] {
                continue;
            }
            let inputs = input_ops(&self.nodes[id.0].op);
            if let Some(&input) = inputs.get(next_input) {
                stack.push((id, next_input + 1));
                if !done[input.0] {
                    stack.push((input, 0));
                }
                continue;
            }
            done[id.0] = true;
            order.push(id);
        }
        order
    }

    fn to_pb(&self, node: &Node, digests: &BTreeMap<OpId, String>) -> (pb::Op, BTreeMap<String, bool>) {
        let mut inputs = Inputs {
            list: Vec::new(),
            digests,
        };
        let (kind, caps) = match &node.op {
            Op::Source(source) => (pb::op::Op::Source(source_to_pb(source)), caps::source_caps(source)),
            Op::Exec(exec) => (pb::op::Op::Exec(exec_to_pb(exec, &mut inputs)), caps::exec_caps(exec)),
            Op::File(file) => (pb::op::Op::File(file_to_pb(file, &mut inputs)), caps::file_caps(file)),
        };
        let op = pb::Op {
            inputs: inputs.list,
            platform: node.platform.as_ref().map(platform_to_pb),
            constraints: Some(pb::WorkerConstraints::default()),
            op: Some(kind),
        };
        (op, caps)
    }
}

/// Returns the ops an op reads, in input order, with repeats.
fn input_ops(op: &Op) -> Vec<OpId> {
    let filesystems: Vec<Fs> = match op {
        Op::Source(_) => Vec::new(),
        Op::Exec(exec) => sorted_filesystem_mounts(exec)
            .into_iter()
            .filter_map(|mount| mount_source(&mount))
            .collect(),
        Op::File(file) => {
            let copies = file.actions.iter().filter_map(|action| match action {
                FileAction::Copy(copy) => Some(copy.source),
                _ => None,
            });
            std::iter::once(file.base).chain(copies).collect()
        }
    };
    filesystems
        .into_iter()
        .filter_map(Fs::output)
        .map(|output| output.op)
        .collect()
}

/// The inputs of one op under construction, without repeats.
struct Inputs<'a> {
    list: Vec<pb::Input>,
    digests: &'a BTreeMap<OpId, String>,
}

impl Inputs<'_> {
    /// Returns the input index of `fs`, adding it when new, or `-1` for scratch.
    fn index(&mut self, fs: Fs) -> i64 {
        let Fs::Output(output) = fs else {
            return NONE_INDEX;
        };
        let digest = self
            .digests
            .get(&output.op)
            .expect("inputs are marshalled before the ops that read them");
        let input = pb::Input {
            digest: digest.clone(),
            index: output.index,
        };
        if let Some(position) = self.list.iter().position(|existing| *existing == input) {
            return position as i64;
        }
        self.list.push(input);
        (self.list.len() - 1) as i64
    }
}

fn source_to_pb(source: &SourceOp) -> pb::SourceOp {
    pb::SourceOp {
        identifier: source.identifier.clone(),
        attrs: source.attrs.clone(),
    }
}

fn platform_to_pb(platform: &Platform) -> pb::Platform {
    pb::Platform {
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone().unwrap_or_default(),
        ..pb::Platform::default()
    }
}

/// Returns the root mount and the bind, cache and tmpfs mounts, sorted by target
/// like BuildKit sorts them. The sort is stable, so two mounts on one
/// target keep their order.
fn sorted_filesystem_mounts(exec: &ExecOp) -> Vec<Mount> {
    let root = Mount {
        target: "/".to_string(),
        kind: MountKind::Bind {
            source: exec.root,
            selector: String::new(),
            readonly: false,
            discard_writes: false,
        },
    };
    let mut mounts: Vec<Mount> = std::iter::once(root)
        .chain(exec.mounts.iter().filter(|mount| mount.is_filesystem()).cloned())
        .collect();
    mounts.sort_by(|a, b| a.target.cmp(&b.target));
    mounts
}

fn mount_source(mount: &Mount) -> Option<Fs> {
    match &mount.kind {
        MountKind::Bind { source, .. } | MountKind::Cache { source, .. } => Some(*source),
        _ => None,
    }
}

/// Targets of the exec op's outputs, in output index order.
pub(super) fn exec_output_targets(exec: &ExecOp) -> Vec<String> {
    sorted_filesystem_mounts(exec)
        .into_iter()
        .filter(Mount::has_output)
        .map(|mount| mount.target)
        .collect()
}

fn exec_to_pb(exec: &ExecOp, inputs: &mut Inputs) -> pb::ExecOp {
    let mut mounts = Vec::new();
    let mut next_output = 0i64;
    for mount in sorted_filesystem_mounts(exec) {
        let output = if mount.has_output() {
            next_output += 1;
            next_output - 1
        } else {
            NONE_INDEX
        };
        let mut pb_mount = pb::Mount {
            dest: mount.target.clone(),
            output,
            ..pb::Mount::default()
        };
        match &mount.kind {
            MountKind::Bind {
                source,
                selector,
                readonly,
                ..
            } => {
                pb_mount.input = inputs.index(*source);
                pb_mount.selector = selector.clone();
                pb_mount.readonly = *readonly;
                pb_mount.mount_type = pb::MountType::Bind as i32;
            }
            MountKind::Cache {
                source,
                selector,
                id,
                sharing,
            } => {
                pb_mount.input = inputs.index(*source);
                pb_mount.selector = selector.clone();
                pb_mount.mount_type = pb::MountType::Cache as i32;
                pb_mount.cache_opt = Some(pb::CacheOpt {
                    id: id.clone(),
                    sharing: *sharing as i32,
                });
            }
            MountKind::Tmpfs { size } => {
                pb_mount.input = NONE_INDEX;
                pb_mount.mount_type = pb::MountType::Tmpfs as i32;
                pb_mount.tmpfs_opt = Some(pb::TmpfsOpt { size: *size });
            }
            MountKind::Secret { .. } | MountKind::Ssh { .. } => unreachable!("only filesystem mounts are sorted"),
        }
        mounts.push(pb_mount);
    }

    // Secret and ssh mounts follow, in the order they were added. BuildKit's
    // llb package leaves their input and output indexes at 0.
    for mount in &exec.mounts {
        if let MountKind::Secret {
            id,
            uid,
            gid,
            mode,
            optional,
        } = &mount.kind
        {
            mounts.push(pb::Mount {
                dest: mount.target.clone(),
                mount_type: pb::MountType::Secret as i32,
                secret_opt: Some(pb::SecretOpt {
                    id: id.clone(),
                    uid: *uid,
                    gid: *gid,
                    mode: *mode,
                    optional: *optional,
                }),
                ..pb::Mount::default()
            });
        }
    }
    for mount in &exec.mounts {
        if let MountKind::Ssh {
            id,
            uid,
            gid,
            mode,
            optional,
        } = &mount.kind
        {
            mounts.push(pb::Mount {
                dest: mount.target.clone(),
                mount_type: pb::MountType::Ssh as i32,
                ssh_opt: Some(pb::SshOpt {
                    id: id.clone(),
                    uid: *uid,
                    gid: *gid,
                    mode: *mode,
                    optional: *optional,
                }),
                ..pb::Mount::default()
            });
        }
    }

    let meta = pb::Meta {
        args: exec.meta.args.clone(),
        env: exec.meta.env.clone(),
        cwd: exec.meta.cwd.clone(),
        user: exec.meta.user.clone(),
        // BuildKit's llb package always requests removal of the empty files
        // and directories that mount targets leave in the result.
        remove_mount_stubs_recursive: true,
        ..pb::Meta::default()
    };
    let secretenv = exec
        .secret_env
        .iter()
        .map(|secret| pb::SecretEnv {
            id: secret.id.clone(),
            name: secret.name.clone(),
            optional: secret.optional,
        })
        .collect();

    pb::ExecOp {
        meta: Some(meta),
        mounts,
        network: exec.network.to_pb() as i32,
        secretenv,
        ..pb::ExecOp::default()
    }
}

fn file_to_pb(file: &FileOp, inputs: &mut Inputs) -> pb::FileOp {
    let base = inputs.index(file.base);
    let secondary: Vec<i64> = file
        .actions
        .iter()
        .map(|action| match action {
            FileAction::Copy(copy) => inputs.index(copy.source),
            _ => NONE_INDEX,
        })
        .collect();
    // An action after the first reads the result of the action before it,
    // which BuildKit numbers after the op's inputs.
    let input_count = inputs.list.len() as i64;

    let last = file.actions.len().saturating_sub(1);
    let actions = file
        .actions
        .iter()
        .enumerate()
        .map(|(position, action)| pb::FileAction {
            input: if position == 0 {
                base
            } else {
                input_count + position as i64 - 1
            },
            secondary_input: secondary[position],
            output: if position == last { 0 } else { NONE_INDEX },
            action: Some(file_action_to_pb(action, base)),
        })
        .collect();
    pb::FileOp { actions }
}

fn file_action_to_pb(action: &FileAction, base: i64) -> pb::file_action::Action {
    // BuildKit's "no timestamp": keep the source's, or use the current time.
    const NO_TIMESTAMP: i64 = -1;
    let owner = |chown: &Option<Chown>| chown.as_ref().map(|chown| chown_to_pb(chown, base));
    match action {
        FileAction::Copy(copy) => pb::file_action::Action::Copy(copy_to_pb(copy, owner(&copy.owner))),
        FileAction::Mkdir(mkdir) => pb::file_action::Action::Mkdir(pb::FileActionMkDir {
            path: mkdir.path.clone(),
            mode: (mkdir.mode & 0o777) as i32,
            make_parents: mkdir.make_parents,
            owner: owner(&mkdir.owner),
            timestamp: NO_TIMESTAMP,
        }),
        FileAction::Mkfile(mkfile) => pb::file_action::Action::Mkfile(pb::FileActionMkFile {
            path: mkfile.path.clone(),
            mode: (mkfile.mode & 0o777) as i32,
            data: mkfile.data.clone(),
            owner: owner(&mkfile.owner),
            timestamp: NO_TIMESTAMP,
        }),
        FileAction::Rm(rm) => pb::file_action::Action::Rm(pb::FileActionRm {
            path: rm.path.clone(),
            allow_not_found: rm.allow_not_found,
            allow_wildcard: rm.allow_wildcard,
        }),
    }
}

fn copy_to_pb(copy: &CopyAction, owner: Option<pb::ChownOpt>) -> pb::FileActionCopy {
    pb::FileActionCopy {
        src: copy.src.clone(),
        dest: copy.dest.clone(),
        owner,
        mode: copy.mode.map_or(-1, |mode| mode as i32),
        follow_symlink: copy.follow_symlinks,
        dir_copy_contents: copy.dir_copy_contents,
        attempt_unpack_docker_compatibility: copy.attempt_unpack,
        create_dest_path: copy.create_dest_path,
        allow_wildcard: copy.allow_wildcard,
        allow_empty_wildcard: copy.allow_empty_wildcard,
        timestamp: -1,
        include_patterns: copy.include_patterns.clone(),
        exclude_patterns: copy.exclude_patterns.clone(),
        ..pb::FileActionCopy::default()
    }
}

/// Converts an owner. A name is looked up in the filesystem the file op
/// starts from, input `base`.
fn chown_to_pb(chown: &Chown, base: i64) -> pb::ChownOpt {
    let user_opt = |user: &UserRef| pb::UserOpt {
        user: Some(match user {
            UserRef::Id(id) => pb::user_opt::User::ById(*id),
            UserRef::Name(name) => pb::user_opt::User::ByName(pb::NamedUserOpt {
                name: name.clone(),
                input: base,
            }),
        }),
    };
    pb::ChownOpt {
        user: chown.user.as_ref().map(user_opt),
        group: chown.group.as_ref().map(user_opt),
    }
}

/// Merges an op's metadata into the entry for its digest. Two ops with the
/// same bytes share one entry, as in BuildKit.
fn merge_metadata(entry: &mut pb::OpMetadata, metadata: &OpMetadata, caps: BTreeMap<String, bool>) {
    if let Some(name) = &metadata.custom_name {
        entry.description.insert(CUSTOM_NAME_KEY.to_string(), name.clone());
    }
    for (key, value) in &metadata.description {
        entry.description.insert(key.clone(), value.clone());
    }
    entry.ignore_cache |= metadata.ignore_cache;
    entry.caps.extend(caps);
}

fn source_map(source: &SourceInfo, locations: &BTreeMap<String, Vec<crate::diag::Span>>) -> pb::Source {
    let index = LineIndex::new(source.data);
    let info = pb::SourceInfo {
        filename: source.filename.clone(),
        data: source.data.as_bytes().to_vec(),
        language: source.language.clone(),
        definition: None,
    };
    let locations = locations
        .iter()
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(digest, spans)| {
            let ranges = spans.iter().map(|span| index.range(source.data, *span)).collect();
            (
                digest.clone(),
                pb::Locations {
                    locations: vec![pb::Location {
                        source_index: 0,
                        ranges,
                    }],
                },
            )
        })
        .collect();
    pb::Source {
        locations,
        infos: vec![info],
    }
}
