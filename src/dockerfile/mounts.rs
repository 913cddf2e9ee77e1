//! `RUN --mount=type=...` flags. Options are comma-separated `key=value`
//! fields; every value is checked by [`quote::mount_value`], so none needs
//! CSV quoting. Secrets appear only here, as `type=secret` mounts.

use super::Writer;
use super::quote::{self, Unrepresentable};
use super::syntax::Feature;
use crate::diag::Span;
use crate::lower::{BindSource, Mount, MountKind, StagePath};
use crate::model::Spanned;

/// Returns `--mount=...` for `mount`, or `None` after reporting a value
/// that cannot be written.
pub fn mount_flag(mount: &Mount, names: &[String], writer: &mut Writer) -> Option<String> {
    let mut fields = Fields {
        items: Vec::new(),
        writer,
    };
    match &mount.kind {
        MountKind::Cache {
            target,
            id,
            sharing,
            mode,
            uid,
            gid,
        } => {
            fields.fixed("type=cache");
            fields.path("target", target)?;
            fields.optional("id", id.as_ref())?;
            if let Some(sharing) = sharing {
                fields.fixed(&format!("sharing={}", sharing.value.as_str()));
            }
            if let Some(mode) = mode {
                fields.fixed(&format!("mode={:04o}", mode.value));
            }
            if let Some(uid) = uid {
                fields.fixed(&format!("uid={}", uid.value));
            }
            if let Some(gid) = gid {
                fields.fixed(&format!("gid={}", gid.value));
            }
        }
        MountKind::Secret {
            id,
            target,
            env,
            required,
        } => {
            fields.fixed("type=secret");
            fields.value("id", &id.value, id.span)?;
            if let Some(target) = target {
                fields.path("target", target)?;
            }
            if let Some(env) = env {
                if !quote::is_shell_name(&env.value) {
                    let error = Unrepresentable {
                        reason: format!("`{}` is not an environment variable name", env.value),
                        help: "use a letter or `_`, then letters, digits or `_`".into(),
                    };
                    fields.writer.unrepresentable(env.span, "secret `env`", error);
                    return None;
                }
                fields.value("env", &env.value, env.span)?;
                fields.writer.require(Feature::SecretEnv, env.span);
            }
            if *required {
                fields.fixed("required=true");
            }
        }
        MountKind::Ssh { id, target, required } => {
            fields.fixed("type=ssh");
            fields.optional("id", id.as_ref())?;
            if let Some(target) = target {
                fields.path("target", target)?;
            }
            if *required {
                fields.fixed("required=true");
            }
        }
        MountKind::Tmpfs { target, size } => {
            fields.fixed("type=tmpfs");
            fields.path("target", target)?;
            if let Some(size) = size {
                fields.fixed(&format!("size={}", size.value));
                fields.writer.require(Feature::TmpfsSize, size.span);
            }
        }
        MountKind::Bind {
            target,
            source,
            readwrite,
        } => {
            fields.fixed("type=bind");
            fields.path("target", target)?;
            match source {
                BindSource::Context(path) => fields.optional("source", path.as_ref())?,
                BindSource::Stage { stage, path } => {
                    fields.fixed(&format!("from={}", names[*stage]));
                    fields.optional("source", path.as_ref())?;
                }
            }
            if *readwrite {
                fields.fixed("rw");
            }
        }
    }
    Some(format!("--mount={}", fields.items.join(",")))
}

struct Fields<'a> {
    items: Vec<String>,
    writer: &'a mut Writer,
}

impl Fields<'_> {
    /// Adds a field whose value stagec wrote itself.
    fn fixed(&mut self, field: &str) {
        self.items.push(field.to_string());
    }

    fn value(&mut self, key: &str, value: &str, span: Span) -> Option<()> {
        match quote::mount_value(value) {
            Ok(value) => {
                self.items.push(format!("{key}={value}"));
                Some(())
            }
            Err(error) => {
                self.writer.unrepresentable(span, &format!("mount `{key}`"), error);
                None
            }
        }
    }

    fn optional(&mut self, key: &str, value: Option<&Spanned<String>>) -> Option<()> {
        match value {
            Some(value) => self.value(key, &value.value, value.span),
            None => Some(()),
        }
    }

    /// Mount targets are literal paths, so they have no `${NAME}` part.
    fn path(&mut self, key: &str, path: &StagePath) -> Option<()> {
        let text = path.value.as_literal().unwrap_or_default();
        self.value(key, &text, path.value.span)
    }
}
