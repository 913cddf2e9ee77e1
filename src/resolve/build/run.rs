use super::reader::{NodeReader, no_children, unknown_node};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::{Command, CommandForm, Mount, MountKind, Network, RunStep, Sharing, Spanned};
use crate::syntax::{Node, ValueKind};

const RUN_CHILDREN: &[&str] = &["env", "cache", "secret", "ssh", "tmpfs", "bind"];

/// Reads `run "shell text"`, `run "prog" "arg"...` (exec form, also forced
/// for one argument with exec=#true) and its mounts and env.
pub fn build_run(node: &Node, diagnostics: &mut Diagnostics) -> Option<RunStep> {
    let mut reader = NodeReader::new(node, diagnostics);
    let argv = reader.string_args("a command argument");
    let exec = reader.bool("exec").is_some_and(|flag| flag.value);
    let network = reader.choice("network", &["default", "none", "host"], Network::parse);
    reader.finish(None);

    let form = match argv.len() {
        0 => {
            diagnostics.push(
                Diagnostic::new(Code::MissingValue, "`run` needs a command")
                    .label(node.name_span, "command missing")
                    .help("write `run \"make all\"` (shell form) or `run \"make\" \"all\"` (exec form)"),
            );
            None
        }
        1 if !exec => argv.into_iter().next().map(CommandForm::Shell),
        _ => Some(CommandForm::Exec(argv)),
    };

    let mut env = Vec::new();
    let mut mounts = Vec::new();
    for child in &node.children {
        match child.name.as_str() {
            "env" => {
                for prop in &child.props {
                    match &prop.value.kind {
                        ValueKind::String(text) => env.push((
                            Spanned::new(prop.key.clone(), prop.key_span),
                            Spanned::new(text.clone(), prop.value.span),
                        )),
                        _ => diagnostics.push(
                            Diagnostic::new(Code::InvalidValue, "`env` values must be strings")
                                .label(prop.value.span, format!("found {}", prop.value.type_name()))
                                .help(format!("quote the value: {}=\"...\"", prop.key)),
                        ),
                    }
                }
                if let Some(first) = child.args.first() {
                    diagnostics.push(
                        Diagnostic::new(Code::InvalidValue, "`env` takes NAME=\"value\" pairs, not arguments")
                            .label(first.span, "positional argument")
                            .help("write `env CGO_ENABLED=\"0\"`"),
                    );
                }
                no_children(child, diagnostics);
            }
            "cache" | "secret" | "ssh" | "tmpfs" | "bind" => {
                if let Some(kind) = build_mount(child, diagnostics) {
                    mounts.push(Mount { kind, span: child.span });
                }
                no_children(child, diagnostics);
            }
            _ => diagnostics.push(unknown_node(child, "inside `run`", RUN_CHILDREN)),
        }
    }

    Some(RunStep { command: Command { form: form?, span: node.span }, env, mounts, network })
}

fn build_mount(node: &Node, diagnostics: &mut Diagnostics) -> Option<MountKind> {
    let mut reader = NodeReader::new(node, diagnostics);
    let kind = match node.name.as_str() {
        "cache" => {
            let target = reader.one_string_arg("a target directory", "write `cache \"/root/.cache/go-build\"`");
            let id = reader.string("id");
            let sharing = reader.choice("sharing", &["shared", "private", "locked"], Sharing::parse);
            let mode = reader.mode("mode");
            let uid = reader.unsigned32("uid");
            let gid = reader.unsigned32("gid");
            reader.finish(Some(1));
            MountKind::Cache { target: target?, id, sharing, mode, uid, gid }
        }
        "secret" => {
            let id = reader.one_string_arg("a secret id", "write `secret \"npm_token\" target=\"/run/secrets/npm\"`");
            let target = reader.string("target");
            let env = reader.string("env");
            let required = reader.bool("required").is_none_or(|flag| flag.value);
            reader.finish(Some(1));
            MountKind::Secret { id: id?, target, env, required }
        }
        "ssh" => {
            let id = reader.string("id");
            let target = reader.string("target");
            let required = reader.bool("required").is_none_or(|flag| flag.value);
            reader.finish(Some(0));
            MountKind::Ssh { id, target, required }
        }
        "tmpfs" => {
            let target = reader.one_string_arg("a target directory", "write `tmpfs \"/tmp\"`");
            let size = reader.unsigned("size");
            reader.finish(Some(1));
            MountKind::Tmpfs { target: target?, size }
        }
        _ => {
            let target = reader.one_string_arg("a target directory", "write `bind \"/src\" source=\"go.mod\"`");
            let from = reader.string("from");
            let source = reader.string("source");
            let readwrite = reader.bool("readwrite").is_some_and(|flag| flag.value);
            reader.finish(Some(1));
            MountKind::Bind { target: target?, from, source, readwrite }
        }
    };
    Some(kind)
}
