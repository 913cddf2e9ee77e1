//! `run` steps as exec ops, with their mounts, the way BuildKit's Dockerfile
//! frontend lowers `RUN` and `RUN --mount` (frontend/dockerfile/dockerfile2llb:
//! convert.go, convert_runmount.go, convert_secrets.go, convert_ssh.go).

use super::Lowering;
use super::state::StageState;
use crate::diag::{Code, Diagnostic, Span};
use crate::llb::caps::{EXEC_MOUNT_TMPFS_SIZE, EXEC_SECRET_ENV};
use crate::llb::{
    Chown, ExecOp, FileAction, FileOp, Fs, Meta, MkdirAction, Mount, MountKind, NetworkMode, OpMetadata, SecretEnv,
    UserRef, pb,
};
use crate::lower::{self, BindSource, StagePath};
use crate::model::{CommandForm, Network, Sharing};

/// Linux's MAX_ARG_STRLEN: `execve` fails with E2BIG for an argument or
/// environment entry of this many bytes or more, counting its final NUL.
const MAX_ARG_STRLEN: usize = 32 * 4096;

impl Lowering<'_> {
    pub(super) fn run(&mut self, state: &mut StageState, run: &lower::RunStep, name: String, span: Span) -> Option<()> {
        let args = match &run.command.form {
            CommandForm::Exec(argv) => argv.iter().map(|arg| arg.value.clone()).collect(),
            CommandForm::Shell(text) => {
                let mut args = state.shell();
                args.push(text.value.clone());
                args
            }
        };

        // Run env applies to this command only, so it goes on a copy.
        let mut env_state = state.clone();
        for (key, value) in &run.env {
            env_state.set_env(&key.value, &value.value);
        }

        let entries = env_state.env_entries();
        if let Some(long) = args.iter().chain(&entries).find(|text| text.len() >= MAX_ARG_STRLEN) {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!(
                        "`run` passes a {}-byte argument or environment entry, over Linux's limit of {} bytes",
                        long.len(),
                        MAX_ARG_STRLEN - 1
                    ),
                )
                .label(span, "the process of this step could not start")
                .help("write the long text into a file of the build context, copy it in, and read it from there"),
            );
            return None;
        }

        let mut exec = ExecOp::new(
            state.fs,
            Meta {
                args,
                env: Vec::new(),
                cwd: state.dir.clone(),
                user: state.user.clone(),
            },
        );
        exec.network = match run.network.as_ref().map(|network| network.value) {
            Some(Network::None) => NetworkMode::None,
            Some(Network::Host) => NetworkMode::Host,
            Some(Network::Default) | None => state.network,
        };

        let mut ssh_count = 0;
        for mount in &run.mounts {
            let lowered = self.mount(state, &mount.kind, &mut ssh_count)?;
            exec.mounts.extend(lowered.mounts);
            exec.secret_env.extend(lowered.secret_env);
        }
        // BuildKit's llb package points SSH_AUTH_SOCK at the first ssh socket.
        let first_ssh = exec
            .mounts
            .iter()
            .find(|mount| matches!(mount.kind, MountKind::Ssh { .. }));
        let has_auth_sock = env_state.env.iter().any(|(key, _)| key == "SSH_AUTH_SOCK");
        if let Some(ssh) = first_ssh.filter(|_| !has_auth_sock) {
            let target = ssh.target.clone();
            env_state.set_env("SSH_AUTH_SOCK", &target);
        }
        exec.meta.env = env_state.env_entries();

        let metadata = OpMetadata {
            custom_name: Some(name),
            locations: vec![span],
            ..OpMetadata::default()
        };
        let id = self.graph.exec(exec, state.platform.clone(), metadata);
        state.fs = self.graph.exec_root(id);
        Some(())
    }

    fn mount(&mut self, state: &StageState, kind: &lower::MountKind, ssh_count: &mut usize) -> Option<LoweredMount> {
        let mut lowered = LoweredMount::default();
        match kind {
            lower::MountKind::Cache {
                target,
                id,
                sharing,
                mode,
                uid,
                gid,
            } => {
                let target_text = self.mount_target(state, target)?;
                // The Dockerfile frontend names a cache without an id after
                // its target, and prefixes every id with its namespace and
                // `/`. The namespace (build arg BUILDKIT_CACHE_MOUNT_NS) is
                // empty by default.
                let raw_target = self.path_text(&target.value);
                let id = match id {
                    Some(id) => format!("/{}", id.value),
                    None => format!("/{}", go_clean(&raw_target)),
                };
                let (source, selector) = match (mode, uid, gid) {
                    (None, None, None) => (Fs::Scratch, String::new()),
                    _ => (self.cache_permissions(mode, uid, gid), "/cache".to_string()),
                };
                let sharing = match sharing.as_ref().map(|sharing| sharing.value) {
                    Some(Sharing::Private) => pb::CacheSharingOpt::Private,
                    Some(Sharing::Locked) => pb::CacheSharingOpt::Locked,
                    Some(Sharing::Shared) | None => pb::CacheSharingOpt::Shared,
                };
                lowered.mounts.push(Mount {
                    target: target_text,
                    kind: MountKind::Cache {
                        source,
                        selector,
                        id,
                        sharing,
                    },
                });
            }
            lower::MountKind::Secret {
                id,
                target,
                env,
                required,
            } => {
                let optional = !required;
                if target.is_some() || env.is_none() {
                    let target_text = match target {
                        Some(target) => self.mount_target(state, target)?,
                        None => format!("/run/secrets/{}", base_name(&id.value)),
                    };
                    let kind = MountKind::Secret {
                        id: id.value.clone(),
                        uid: 0,
                        gid: 0,
                        mode: 0o400,
                        optional,
                    };
                    lowered.mounts.push(Mount {
                        target: target_text,
                        kind,
                    });
                }
                if let Some(env) = env {
                    if !self.caps.supports(EXEC_SECRET_ENV) {
                        self.report_unsupported(
                            EXEC_SECRET_ENV,
                            "a secret as an environment variable (`env=`)",
                            env.span,
                            "mount the secret as a file with `target=` and read it in the command",
                        );
                        return None;
                    }
                    lowered.secret_env.push(SecretEnv {
                        id: id.value.clone(),
                        name: env.value.clone(),
                        optional,
                    });
                }
            }
            lower::MountKind::Ssh { id, target, required } => {
                let target_text = match target {
                    Some(target) => self.mount_target(state, target)?,
                    None => format!("/run/buildkit/ssh_agent.{ssh_count}"),
                };
                *ssh_count += 1;
                let id = id.as_ref().map(|id| id.value.clone()).unwrap_or_default();
                let kind = MountKind::Ssh {
                    id,
                    uid: 0,
                    gid: 0,
                    mode: 0o600,
                    optional: !required,
                };
                lowered.mounts.push(Mount {
                    target: target_text,
                    kind,
                });
            }
            lower::MountKind::Tmpfs { target, size } => {
                let target_text = self.mount_target(state, target)?;
                if let Some(size) = size.as_ref().filter(|_| !self.caps.supports(EXEC_MOUNT_TMPFS_SIZE)) {
                    self.report_unsupported(
                        EXEC_MOUNT_TMPFS_SIZE,
                        "a tmpfs size limit (`size=`)",
                        size.span,
                        "remove `size=` to mount the tmpfs without a limit",
                    );
                    return None;
                }
                let size = size
                    .as_ref()
                    .map_or(0, |size| i64::try_from(size.value).unwrap_or(i64::MAX));
                lowered.mounts.push(Mount {
                    target: target_text,
                    kind: MountKind::Tmpfs { size },
                });
            }
            lower::MountKind::Bind {
                target,
                source,
                readwrite,
            } => {
                let target_text = self.mount_target(state, target)?;
                let (source, selector) = match source {
                    BindSource::Context(path) => {
                        let relative = path.as_ref().map(|path| super::context::context_relative(&path.value));
                        let selector = relative.filter(|path| !path.is_empty()).map(|path| format!("/{path}"));
                        (self.context_fs(), selector.unwrap_or_default())
                    }
                    BindSource::Stage { stage, path } => {
                        let selector = path.as_ref().map(|path| super::state::clean_path(&path.value));
                        (
                            self.stage_fs(*stage),
                            selector.filter(|path| path != "/").unwrap_or_default(),
                        )
                    }
                };
                // A writable bind mount keeps its changes from the result,
                // like `RUN --mount=type=bind,rw` on BuildKit 0.10 and later.
                let kind = MountKind::Bind {
                    source,
                    selector,
                    readonly: !readwrite,
                    discard_writes: *readwrite,
                };
                lowered.mounts.push(Mount {
                    target: target_text,
                    kind,
                });
            }
        }
        Some(lowered)
    }

    /// Resolves a mount target against the working directory; `/` is not
    /// a valid target.
    fn mount_target(&mut self, state: &StageState, target: &StagePath) -> Option<String> {
        let text = self.path_text(&target.value);
        let absolute = super::state::clean_path(&state.absolute(&text));
        if absolute == "/" {
            self.diagnostics.push(
                Diagnostic::new(Code::InvalidValue, format!("invalid mount target `{text}`"))
                    .label(target.value.span, "mounts over the root directory")
                    .help("mount at a directory below `/`, such as `/cache`"),
            );
            return None;
        }
        Some(absolute)
    }

    /// Adds a scratch filesystem with a `/cache` directory of the requested
    /// owner and mode, which seeds a new cache mount, and returns it.
    fn cache_permissions(
        &mut self,
        mode: &Option<crate::model::Spanned<u32>>,
        uid: &Option<crate::model::Spanned<u32>>,
        gid: &Option<crate::model::Spanned<u32>>,
    ) -> Fs {
        let owner = Chown {
            user: Some(UserRef::Id(uid.as_ref().map_or(0, |uid| uid.value))),
            group: Some(UserRef::Id(gid.as_ref().map_or(0, |gid| gid.value))),
        };
        let mkdir = MkdirAction {
            path: "/cache".to_string(),
            mode: mode.as_ref().map_or(0o755, |mode| mode.value),
            make_parents: false,
            owner: Some(owner),
        };
        let metadata = OpMetadata {
            custom_name: Some("[internal] settings cache mount permissions".to_string()),
            ..OpMetadata::default()
        };
        self.graph.file(
            FileOp {
                base: Fs::Scratch,
                actions: vec![FileAction::Mkdir(mkdir)],
            },
            metadata,
        )
    }
}

#[derive(Default)]
struct LoweredMount {
    mounts: Vec<Mount>,
    secret_env: Vec<SecretEnv>,
}

/// Cleans a path like Go's `path.Clean`: an absolute path stays absolute
/// and a relative one relative.
fn go_clean(path: &str) -> String {
    let cleaned = super::state::clean_path(path);
    if path.starts_with('/') {
        cleaned
    } else {
        cleaned.trim_start_matches('/').to_string()
    }
}

fn base_name(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
}
