//! The capabilities each op declares in its metadata. BuildKit rejects a
//! definition that declares a capability it does not know, so an op lists
//! exactly the features it uses. Names and rules follow solver/pb/caps.go
//! and the `llb` package of BuildKit v0.13, the version Docker Engine 26
//! embeds.

use std::collections::{BTreeMap, BTreeSet};

use super::ops::ATTR_LOCAL_SHARED_KEY_HINT;
use super::ops::{ATTR_LOCAL_EXCLUDE, ATTR_LOCAL_FOLLOW_PATHS, ATTR_LOCAL_INCLUDE, ATTR_LOCAL_SESSION};
use super::ops::{ExecOp, FileAction, FileOp, MountKind, NetworkMode, SourceOp};

pub const SOURCE_IMAGE: &str = "source.image";
pub const SOURCE_LOCAL: &str = "source.local";
pub const SOURCE_LOCAL_SESSION_ID: &str = "source.local.sessionid";
pub const SOURCE_LOCAL_INCLUDE_PATTERNS: &str = "source.local.includepatterns";
pub const SOURCE_LOCAL_FOLLOW_PATHS: &str = "source.local.followpaths";
pub const SOURCE_LOCAL_EXCLUDE_PATTERNS: &str = "source.local.excludepatterns";
pub const SOURCE_LOCAL_SHARED_KEY_HINT: &str = "source.local.sharedkeyhint";

pub const EXEC_META_BASE: &str = "exec.meta.base";
pub const EXEC_META_NETWORK: &str = "exec.meta.network";
pub const EXEC_MOUNT_BIND: &str = "exec.mount.bind";
pub const EXEC_MOUNT_BIND_READ_WRITE_NO_OUTPUT: &str = "exec.mount.bind.readwrite-nooutput";
pub const EXEC_MOUNT_CACHE: &str = "exec.mount.cache";
pub const EXEC_MOUNT_CACHE_SHARING: &str = "exec.mount.cache.sharing";
pub const EXEC_MOUNT_SELECTOR: &str = "exec.mount.selector";
pub const EXEC_MOUNT_TMPFS: &str = "exec.mount.tmpfs";
pub const EXEC_MOUNT_TMPFS_SIZE: &str = "exec.mount.tmpfs.size";
pub const EXEC_MOUNT_SECRET: &str = "exec.mount.secret";
pub const EXEC_MOUNT_SSH: &str = "exec.mount.ssh";
pub const EXEC_SECRET_ENV: &str = "exec.secretenv";

pub const FILE_BASE: &str = "file.base";
pub const FILE_COPY_INCLUDE_EXCLUDE_PATTERNS: &str = "file.copy.includeexcludepatterns";

pub const CONSTRAINTS: &str = "constraints";
pub const PLATFORM: &str = "platform";
pub const META_DESCRIPTION: &str = "meta.description";
pub const META_IGNORE_CACHE: &str = "meta.ignorecache";

type Caps = BTreeMap<String, bool>;

/// The LLB capabilities of the engine that will run a definition. Lowering
/// avoids a capability the engine lacks when an equivalent op exists, and
/// reports the step otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineCaps {
    /// Enabled capabilities; `None` stands for BuildKit 0.13, which has
    /// every capability that stagec declares.
    enabled: Option<BTreeSet<String>>,
    /// The engine as messages name it, such as `Docker Engine 20.10.24+dfsg1`.
    engine: String,
}

impl EngineCaps {
    /// Returns the capabilities of BuildKit 0.13 (Docker Engine 26), which
    /// `stagec llb` lowers for.
    pub fn latest() -> EngineCaps {
        EngineCaps {
            enabled: None,
            engine: "Docker Engine 26".to_string(),
        }
    }

    /// Returns the capabilities that an engine listed as enabled.
    pub fn listed(engine: impl Into<String>, enabled: impl IntoIterator<Item = String>) -> EngineCaps {
        EngineCaps {
            enabled: Some(enabled.into_iter().collect()),
            engine: engine.into(),
        }
    }

    pub fn supports(&self, cap: &str) -> bool {
        self.enabled.as_ref().is_none_or(|enabled| enabled.contains(cap))
    }

    /// Returns the engine as messages name it.
    pub fn engine(&self) -> &str {
        &self.engine
    }
}

/// Returns the first Docker Engine release whose BuildKit has `cap`, for
/// the capabilities that stagec declares, or `None` for other capabilities.
/// Docker Engine 20.10 embeds BuildKit 0.8, and 23.0, the release after
/// 20.10, embeds 0.10. When BuildKit added each capability comes from
/// solver/pb/caps.go of its release tags.
pub fn first_docker_release(cap: &str) -> Option<&'static str> {
    match cap {
        // BuildKit 0.9 and 0.10.
        EXEC_MOUNT_TMPFS_SIZE | EXEC_SECRET_ENV | FILE_COPY_INCLUDE_EXCLUDE_PATTERNS => Some("23.0"),
        // BuildKit 0.8 has every other capability that stagec declares.
        SOURCE_IMAGE
        | SOURCE_LOCAL
        | SOURCE_LOCAL_SESSION_ID
        | SOURCE_LOCAL_INCLUDE_PATTERNS
        | SOURCE_LOCAL_FOLLOW_PATHS
        | SOURCE_LOCAL_EXCLUDE_PATTERNS
        | SOURCE_LOCAL_SHARED_KEY_HINT
        | EXEC_META_BASE
        | EXEC_META_NETWORK
        | EXEC_MOUNT_BIND
        | EXEC_MOUNT_BIND_READ_WRITE_NO_OUTPUT
        | EXEC_MOUNT_CACHE
        | EXEC_MOUNT_CACHE_SHARING
        | EXEC_MOUNT_SELECTOR
        | EXEC_MOUNT_TMPFS
        | EXEC_MOUNT_SECRET
        | EXEC_MOUNT_SSH
        | FILE_BASE
        | CONSTRAINTS
        | PLATFORM
        | META_DESCRIPTION
        | META_IGNORE_CACHE => Some("20.10"),
        _ => None,
    }
}

fn set(caps: &mut Caps, name: &str) {
    caps.insert(name.to_string(), true);
}

pub fn source_caps(source: &SourceOp) -> Caps {
    let mut caps = Caps::new();
    if source.is_image() {
        set(&mut caps, SOURCE_IMAGE);
    }
    if source.is_local() {
        set(&mut caps, SOURCE_LOCAL);
        let by_attr = [
            (ATTR_LOCAL_SESSION, SOURCE_LOCAL_SESSION_ID),
            (ATTR_LOCAL_INCLUDE, SOURCE_LOCAL_INCLUDE_PATTERNS),
            (ATTR_LOCAL_FOLLOW_PATHS, SOURCE_LOCAL_FOLLOW_PATHS),
            (ATTR_LOCAL_EXCLUDE, SOURCE_LOCAL_EXCLUDE_PATTERNS),
            (ATTR_LOCAL_SHARED_KEY_HINT, SOURCE_LOCAL_SHARED_KEY_HINT),
        ];
        for (attr, cap) in by_attr {
            if source.attrs.contains_key(attr) {
                set(&mut caps, cap);
            }
        }
    }
    caps
}

pub fn exec_caps(exec: &ExecOp) -> Caps {
    let mut caps = Caps::new();
    set(&mut caps, EXEC_META_BASE);
    if exec.network != NetworkMode::Sandbox {
        set(&mut caps, EXEC_META_NETWORK);
    }
    // The root is a bind mount of the base filesystem, unless that is scratch.
    if exec.root != super::Fs::Scratch {
        set(&mut caps, EXEC_MOUNT_BIND);
    }

    for mount in &exec.mounts {
        match &mount.kind {
            MountKind::Bind {
                source,
                selector,
                discard_writes,
                ..
            } => {
                if !selector.is_empty() {
                    set(&mut caps, EXEC_MOUNT_SELECTOR);
                }
                if *source != super::Fs::Scratch {
                    set(&mut caps, EXEC_MOUNT_BIND);
                }
                if *discard_writes {
                    set(&mut caps, EXEC_MOUNT_BIND_READ_WRITE_NO_OUTPUT);
                }
            }
            MountKind::Cache { selector, .. } => {
                if !selector.is_empty() {
                    set(&mut caps, EXEC_MOUNT_SELECTOR);
                }
                set(&mut caps, EXEC_MOUNT_CACHE);
                set(&mut caps, EXEC_MOUNT_CACHE_SHARING);
            }
            MountKind::Tmpfs { size } => {
                set(&mut caps, EXEC_MOUNT_TMPFS);
                if *size > 0 {
                    set(&mut caps, EXEC_MOUNT_TMPFS_SIZE);
                }
            }
            MountKind::Secret { .. } => set(&mut caps, EXEC_MOUNT_SECRET),
            MountKind::Ssh { .. } => set(&mut caps, EXEC_MOUNT_SSH),
        }
    }

    if !exec.secret_env.is_empty() {
        set(&mut caps, EXEC_MOUNT_SECRET);
        set(&mut caps, EXEC_SECRET_ENV);
    }
    caps
}

pub fn file_caps(file: &FileOp) -> Caps {
    let mut caps = Caps::new();
    set(&mut caps, FILE_BASE);
    let uses_patterns = file.actions.iter().any(|action| match action {
        FileAction::Copy(copy) => !copy.include_patterns.is_empty() || !copy.exclude_patterns.is_empty(),
        _ => false,
    });
    if uses_patterns {
        set(&mut caps, FILE_COPY_INCLUDE_EXCLUDE_PATTERNS);
    }
    caps
}
