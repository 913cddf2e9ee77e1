//! The typed ops of the builder. They mirror `solver/pb` but refer to other
//! ops through [`Fs`] values instead of input indexes, which
//! [`super::Graph::marshal`] assigns.

use std::collections::BTreeMap;

use super::graph::Fs;
use super::pb;

/// An op of the graph.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Source(SourceOp),
    Exec(ExecOp),
    File(FileOp),
}

/// A source op: an image from a registry or the engine's store, or files
/// the client sends from a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOp {
    /// `docker-image://docker.io/library/alpine:3` or `local://context`.
    pub identifier: String,
    pub attrs: BTreeMap<String, String>,
}

/// Options of a `local://` source, as BuildKit's `llb.Local` takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalSource {
    /// The directory name the client's FileSync session serves, such as `context`.
    pub name: String,
    /// The session that serves the files. Without it BuildKit uses the
    /// session of the solve request.
    pub session_id: Option<String>,
    /// Only paths that match one of these patterns are sent.
    pub include_patterns: Vec<String>,
    pub exclude_patterns: Vec<String>,
    /// Paths whose symlinks the transfer follows, so that their targets are sent too.
    pub follow_paths: Vec<String>,
    /// Lets BuildKit reuse the files of an earlier transfer with the same hint.
    pub shared_key_hint: Option<String>,
}

impl SourceOp {
    /// Creates an image source. `reference` must be normalized, such as
    /// `docker.io/library/golang:1.19`, because BuildKit compares the
    /// identifier as text when it looks for cached results.
    pub fn image(reference: &str) -> SourceOp {
        SourceOp {
            identifier: format!("docker-image://{reference}"),
            attrs: BTreeMap::new(),
        }
    }

    /// Creates a local source. Pattern lists are sent as JSON arrays, which
    /// is the encoding BuildKit's `llb.Local` options use.
    pub fn local(local: &LocalSource) -> SourceOp {
        let mut attrs = BTreeMap::new();
        let json_list = |list: &[String]| serde_json::to_string(list).expect("a list of strings serializes to JSON");
        if let Some(session) = &local.session_id {
            attrs.insert(ATTR_LOCAL_SESSION.to_string(), session.clone());
        }
        if !local.include_patterns.is_empty() {
            attrs.insert(ATTR_LOCAL_INCLUDE.to_string(), json_list(&local.include_patterns));
        }
        if !local.exclude_patterns.is_empty() {
            attrs.insert(ATTR_LOCAL_EXCLUDE.to_string(), json_list(&local.exclude_patterns));
        }
        if !local.follow_paths.is_empty() {
            attrs.insert(ATTR_LOCAL_FOLLOW_PATHS.to_string(), json_list(&local.follow_paths));
        }
        if let Some(hint) = &local.shared_key_hint {
            attrs.insert(ATTR_LOCAL_SHARED_KEY_HINT.to_string(), hint.clone());
        }
        SourceOp {
            identifier: format!("local://{}", local.name),
            attrs,
        }
    }

    pub fn is_image(&self) -> bool {
        self.identifier.starts_with("docker-image://")
    }

    pub fn is_local(&self) -> bool {
        self.identifier.starts_with("local://")
    }
}

// Attribute names from BuildKit's solver/pb/attr.go.
pub(super) const ATTR_LOCAL_SESSION: &str = "local.session";
pub(super) const ATTR_LOCAL_INCLUDE: &str = "local.includepattern";
pub(super) const ATTR_LOCAL_EXCLUDE: &str = "local.excludepatterns";
pub(super) const ATTR_LOCAL_FOLLOW_PATHS: &str = "local.followpaths";
pub(super) const ATTR_LOCAL_SHARED_KEY_HINT: &str = "local.sharedkeyhint";

/// A process run in a container whose root is [`ExecOp::root`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOp {
    pub meta: Meta,
    /// The root filesystem. The exec op's output 0 is the root after the run.
    pub root: Fs,
    /// Mounts other than the root, in any order: marshalling sorts the
    /// filesystem mounts by target like BuildKit's `llb` package does.
    pub mounts: Vec<Mount>,
    pub network: NetworkMode,
    /// Secrets exposed as env vars instead of files.
    pub secret_env: Vec<SecretEnv>,
}

impl ExecOp {
    pub fn new(root: Fs, meta: Meta) -> ExecOp {
        ExecOp {
            meta,
            root,
            mounts: Vec::new(),
            network: NetworkMode::Sandbox,
            secret_env: Vec::new(),
        }
    }
}

/// The process of an exec op.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub args: Vec<String>,
    /// `NAME=value` entries, in order.
    pub env: Vec<String>,
    /// Absolute working directory.
    pub cwd: String,
    /// `user`, `uid`, `user:group` or `uid:gid`; empty means root.
    pub user: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// The engine's default network for builds.
    #[default]
    Sandbox,
    Host,
    None,
}

impl NetworkMode {
    pub(super) fn to_pb(self) -> pb::NetMode {
        match self {
            NetworkMode::Sandbox => pb::NetMode::Unset,
            NetworkMode::Host => pb::NetMode::Host,
            NetworkMode::None => pb::NetMode::None,
        }
    }
}

/// A mount of an exec op other than the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Absolute path in the container.
    pub target: String,
    pub kind: MountKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// Another op's output, or a path in it.
    Bind {
        source: Fs,
        /// Path inside `source` to mount; empty for its root.
        selector: String,
        readonly: bool,
        /// A writable mount whose changes are thrown away after the run.
        discard_writes: bool,
    },
    /// A persistent cache directory shared between builds.
    Cache {
        /// The initial contents when the cache is new; scratch for an empty directory.
        source: Fs,
        selector: String,
        id: String,
        sharing: pb::CacheSharingOpt,
    },
    Tmpfs {
        /// Size limit in bytes; 0 for the engine's default.
        size: i64,
    },
    Secret {
        id: String,
        uid: u32,
        gid: u32,
        mode: u32,
        optional: bool,
    },
    Ssh {
        id: String,
        uid: u32,
        gid: u32,
        mode: u32,
        optional: bool,
    },
}

impl Mount {
    /// Returns whether the mount is a new output of the exec op, like the root is.
    pub(super) fn has_output(&self) -> bool {
        matches!(
            self.kind,
            MountKind::Bind {
                readonly: false,
                discard_writes: false,
                ..
            }
        )
    }

    /// Returns whether the mount takes a filesystem. Bind, cache and tmpfs
    /// mounts do, but secret and ssh mounts are files the session provides.
    pub(super) fn is_filesystem(&self) -> bool {
        matches!(
            self.kind,
            MountKind::Bind { .. } | MountKind::Cache { .. } | MountKind::Tmpfs { .. }
        )
    }
}

/// `secret "id" env="NAME"`: the secret's value as an env var of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEnv {
    pub id: String,
    pub name: String,
    pub optional: bool,
}

/// A chain of file actions. The first action works on [`FileOp::base`],
/// each later one on the result of the one before, and the op's only
/// output is the result of the last action.
#[derive(Debug, Clone, PartialEq)]
pub struct FileOp {
    pub base: Fs,
    pub actions: Vec<FileAction>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileAction {
    Copy(CopyAction),
    Mkdir(MkdirAction),
    Mkfile(MkfileAction),
    Rm(RmAction),
}

/// Copies `src` from `source` to `dest`, with the options of BuildKit's
/// `llb.CopyInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyAction {
    pub source: Fs,
    /// Absolute path in `source`; may hold wildcards when `allow_wildcard` is set.
    pub src: String,
    /// Absolute path in the result. A trailing `/` means "into this directory".
    pub dest: String,
    pub owner: Option<Chown>,
    /// Permission bits; `None` keeps the source's.
    pub mode: Option<u32>,
    pub follow_symlinks: bool,
    /// For a directory source, copy what it contains instead of the directory itself.
    pub dir_copy_contents: bool,
    pub attempt_unpack: bool,
    pub create_dest_path: bool,
    pub allow_wildcard: bool,
    pub allow_empty_wildcard: bool,
    pub include_patterns: Vec<String>,
    pub exclude_patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkdirAction {
    pub path: String,
    pub mode: u32,
    pub make_parents: bool,
    pub owner: Option<Chown>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkfileAction {
    pub path: String,
    pub mode: u32,
    pub data: Vec<u8>,
    pub owner: Option<Chown>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmAction {
    pub path: String,
    pub allow_not_found: bool,
    pub allow_wildcard: bool,
}

/// The owner of created files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chown {
    pub user: Option<UserRef>,
    pub group: Option<UserRef>,
}

/// A user or group by number, or by a name looked up in the result's
/// /etc/passwd or /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(u32),
    Name(String),
}

impl Chown {
    /// Parses `user[:group]` like BuildKit's `llb.WithUser`: each part is a
    /// number, `root` (0), or a name.
    pub fn parse(text: &str) -> Chown {
        let part = |text: &str| {
            if text == "root" {
                return UserRef::Id(0);
            }
            // Go's strconv.ParseInt(text, 10, 32) accepts a sign, so a
            // negative number is an id there too; BuildKit then converts it
            // to uint32. Only non-negative ids are meaningful, so a negative
            // one stays a name, which the engine rejects when it looks it up.
            match text.parse::<u32>() {
                Ok(id) if id <= i32::MAX as u32 => UserRef::Id(id),
                _ => UserRef::Name(text.to_string()),
            }
        };
        match text.split_once(':') {
            Some((user, group)) => Chown {
                user: Some(part(user)),
                group: Some(part(group)),
            },
            None => Chown {
                user: Some(part(text)),
                group: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_parse_table() {
        let cases = [
            ("0", Some(UserRef::Id(0)), None),
            ("root", Some(UserRef::Id(0)), None),
            ("nobody", Some(UserRef::Name("nobody".into())), None),
            ("65534:65534", Some(UserRef::Id(65534)), Some(UserRef::Id(65534))),
            (
                "nobody:nogroup",
                Some(UserRef::Name("nobody".into())),
                Some(UserRef::Name("nogroup".into())),
            ),
            ("app:0", Some(UserRef::Name("app".into())), Some(UserRef::Id(0))),
        ];
        for (text, user, group) in cases {
            let chown = Chown::parse(text);
            assert_eq!(chown.user, user, "user of {text}");
            assert_eq!(chown.group, group, "group of {text}");
        }
    }

    #[test]
    fn local_source_attrs_are_json_lists() {
        let source = SourceOp::local(&LocalSource {
            name: "context".into(),
            include_patterns: vec!["go.mod".into(), "main.go".into()],
            shared_key_hint: Some("context".into()),
            ..LocalSource::default()
        });
        assert_eq!(source.identifier, "local://context");
        assert_eq!(source.attrs[ATTR_LOCAL_INCLUDE], r#"["go.mod","main.go"]"#);
        assert_eq!(source.attrs[ATTR_LOCAL_SHARED_KEY_HINT], "context");
        assert!(!source.attrs.contains_key(ATTR_LOCAL_EXCLUDE));
    }
}
