//! `RUN`: flags, the command, and per-run env.
//!
//! A Dockerfile has no env for one `RUN` only, so stagec sets it in the
//! shell that runs the command: `export NAME='value'; ` before shell-form
//! text, with POSIX single quotes, which keep every byte of the value. For an
//! exec-form command, `/bin/sh -c 'export ...; exec "$0" "$@"' argv...`
//! exports the same way and then replaces itself with the command, so the
//! argv reaches it unchanged. Both put the variables in the environment of
//! every process the command starts, and of nothing after it.

use super::instruction::command_argv;
use super::quote::{self, Unrepresentable};
use super::syntax::Feature;
use super::{Writer, mounts};
use crate::diag::Span;
use crate::lower::{BuildStage, RunStep};
use crate::model::{CommandForm, Network, Spanned};

/// Shells that read `export NAME='value'` as POSIX sh does, by the file name
/// of the shell's first argv item.
const POSIX_SHELLS: &[&str] = &[
    "sh", "bash", "dash", "ash", "ksh", "ksh93", "mksh", "zsh", "yash", "busybox",
];

/// Writes `RUN [--mount=...]... [--network=...] COMMAND`.
pub fn write_run(stage: &BuildStage, run: &RunStep, span: Span, names: &[String], writer: &mut Writer) {
    let mut line = String::from("RUN");
    let mut complete = true;
    for mount in &run.mounts {
        match mounts::mount_flag(mount, names, writer) {
            Some(flag) => {
                line.push(' ');
                line.push_str(&flag);
            }
            None => complete = false,
        }
    }

    if let Some(network) = &run.network {
        // `default` is what RUN does without the flag, at every level.
        if network.value != Network::Default {
            line.push_str(&format!(" --network={}", network.value.as_str()));
            writer.require(Feature::RunNetwork, network.span);
        }
    }

    let Some(command) = command_text(stage, run, span, writer) else {
        return;
    };
    if complete {
        line.push(' ');
        line.push_str(&command);
        writer.line(line, span);
    }
}

/// Encodes the command after the flags: shell-form text verbatim when the
/// parser passes it on unchanged, else a JSON array through the shell in effect.
fn command_text(stage: &BuildStage, run: &RunStep, span: Span, writer: &mut Writer) -> Option<String> {
    match &run.command.form {
        CommandForm::Exec(_) if run.env.is_empty() => encode_argv(&command_argv(&run.command), span, writer),
        CommandForm::Exec(argv) => {
            if stage.has_shell == Some(false) {
                let error = Unrepresentable {
                    reason: "needs /bin/sh, but the stage has `shell=#false`".into(),
                    help:
                        "set the variables with a stage `env` step instead, or run the command in a stage with a shell"
                            .into(),
                };
                writer.unrepresentable(run.env[0].0.span, "per-run `env` on an exec-form `run`", error);
                return None;
            }
            let prefix = export_prefix(&run.env, writer)?;
            let mut wrapper = vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                format!("{prefix}exec \"$0\" \"$@\""),
            ];
            wrapper.extend(argv.iter().map(|arg| arg.value.clone()));
            encode_argv(&wrapper, span, writer)
        }
        CommandForm::Shell(text) => {
            let mut script = text.value.clone();
            if !run.env.is_empty() {
                let shell = run.command.shell.first().map(String::as_str).unwrap_or_default();
                let file_name = shell.rsplit('/').next().unwrap_or(shell);
                if !POSIX_SHELLS.contains(&file_name) {
                    let error = Unrepresentable {
                        reason: format!("needs a POSIX shell, but the stage's shell is `{shell}`"),
                        help: "set the variables with a stage `env` step, or inside the command itself".into(),
                    };
                    writer.unrepresentable(run.env[0].0.span, "per-run `env`", error);
                    return None;
                }
                script = format!("{}{script}", export_prefix(&run.env, writer)?);
            }
            if quote::is_verbatim_shell_form(&script) {
                return Some(script);
            }
            let argv: Vec<String> = run
                .command
                .shell
                .iter()
                .cloned()
                .chain(std::iter::once(script))
                .collect();
            encode_argv(&argv, span, writer)
        }
    }
}

fn encode_argv(argv: &[String], span: Span, writer: &mut Writer) -> Option<String> {
    match quote::exec_array(argv) {
        Ok(array) => Some(array),
        Err(error) => {
            writer.unrepresentable(span, "`run` argument", error);
            None
        }
    }
}

/// `export A='1' B='2'; `, checking names and values.
fn export_prefix(env: &[(Spanned<String>, Spanned<String>)], writer: &mut Writer) -> Option<String> {
    let mut assignments = Vec::with_capacity(env.len());
    for (name, value) in env {
        if !quote::is_shell_name(&name.value) {
            let error = Unrepresentable {
                reason: format!("`{}` is not a name the shell can export", name.value),
                help: "use a letter or `_`, then letters, digits or `_`".into(),
            };
            writer.unrepresentable(name.span, "per-run `env` name", error);
            return None;
        }
        if value.value.contains('\0') {
            let error = Unrepresentable {
                reason: "contains a NUL character".into(),
                help: "remove it: environment values end at the first NUL byte".into(),
            };
            writer.unrepresentable(value.span, "per-run `env` value", error);
            return None;
        }
        assignments.push(format!("{}={}", name.value, quote::shell_single_quoted(&value.value)));
    }
    Some(format!("export {}; ", assignments.join(" ")))
}
