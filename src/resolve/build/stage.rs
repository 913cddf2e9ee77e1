use super::reader::{NodeReader, no_children, unknown_node};
use super::{build_arg, run};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::{
    Artifact, ArtifactKind, Base, Command, CommandForm, CopySource, CopyStep, Healthcheck, Libc, Linkage,
    PlatformSpec, Spanned, Stage, Step, StepKind,
};
use crate::syntax::{Node, ValueKind};

const STAGE_CHILDREN: &[&str] = &[
    "workdir", "env", "arg", "user", "copy", "run", "expose", "label", "cmd", "entrypoint", "healthcheck",
    "volume", "stopsignal", "shell", "artifact",
];

const PLATFORM_CHOICES: &[&str] = &["target", "build", "linux/amd64", "linux/arm64", "..."];

pub fn build_stage(node: &Node, diagnostics: &mut Diagnostics) -> Option<Stage> {
    let mut reader = NodeReader::new(node, diagnostics);
    let name = reader.one_string_arg("a stage name", "write `stage \"builder\" from=\"golang:1.19\"`");
    let from = reader.required_string(
        "from",
        "write from=\"IMAGE:TAG\" for an image, from=\"STAGE\" for another stage, or from=\"scratch\"",
    );
    let platform = read_platform(&mut reader, "platform");
    let cross_compile = reader.bool("cross-compile").is_some_and(|flag| flag.value);
    let libc = reader.choice("libc", &["glibc", "musl", "none"], Libc::parse);
    let has_shell = reader.bool("shell");
    reader.finish(Some(1));

    let name = name?;
    let (base, base_span) = match from {
        Some(from) if from.value == "scratch" => (Base::Scratch(from.span), from.span),
        // Whether `from` names a stage or an image is settled by the
        // resolver, which knows all stage names; record it as an image here.
        Some(from) => {
            let span = from.span;
            (Base::Image(from), span)
        }
        None => (Base::Scratch(name.span), name.span),
    };

    let mut steps = Vec::new();
    let mut artifacts = Vec::new();
    for child in &node.children {
        if child.name == "artifact" {
            if let Some(artifact) = build_artifact(child, diagnostics) {
                artifacts.push(artifact);
            }
            continue;
        }
        if let Some(kind) = build_step(child, diagnostics) {
            steps.push(Step { kind, span: child.span });
        }
    }

    Some(Stage {
        name,
        base,
        base_span,
        platform,
        cross_compile,
        libc,
        has_shell,
        steps,
        artifacts,
        span: node.span,
    })
}

pub(super) fn read_platform(reader: &mut NodeReader<'_>, key: &'static str) -> Option<Spanned<PlatformSpec>> {
    let text = reader.string(key)?;
    match PlatformSpec::parse(&text.value) {
        Some(platform) => Some(Spanned::new(platform, text.span)),
        None => {
            reader.push(
                Diagnostic::new(Code::InvalidValue, format!("invalid platform `{}`", text.value))
                    .label(text.span, "not a platform")
                    .help(format!(
                        "write \"target\" (the image's platform), \"build\" (the build machine's) or os/arch[/variant]; \
                         for example: {}",
                        PLATFORM_CHOICES.join(", ")
                    )),
            );
            None
        }
    }
}

fn build_step(node: &Node, diagnostics: &mut Diagnostics) -> Option<StepKind> {
    let kind = match node.name.as_str() {
        "workdir" => single(node, diagnostics, "a directory", "write `workdir \"/app\"`").map(StepKind::Workdir),
        "user" => single(node, diagnostics, "a user", "write `user \"app\"` or `user \"1000:1000\"`").map(StepKind::User),
        "stopsignal" => single(node, diagnostics, "a signal", "write `stopsignal \"SIGTERM\"`").map(StepKind::StopSignal),
        "env" => Some(StepKind::Env(key_values(node, diagnostics, "write `env NAME=\"value\"`"))),
        "label" => Some(StepKind::Label(key_values(node, diagnostics, "write `label \"org.opencontainers.image.title\"=\"app\"`"))),
        "arg" => build_arg(node, diagnostics).map(StepKind::Arg),
        "expose" => list(node, diagnostics, "a port", "write `expose 8080 \"53/udp\"`").map(StepKind::Expose),
        "volume" => list(node, diagnostics, "a path", "write `volume \"/data\"`").map(StepKind::Volume),
        "shell" => list(node, diagnostics, "a shell argv", "write `shell \"/bin/bash\" \"-c\"`").map(StepKind::Shell),
        "cmd" => command(node, diagnostics).map(StepKind::Cmd),
        "entrypoint" => command(node, diagnostics).map(StepKind::Entrypoint),
        "healthcheck" => healthcheck(node, diagnostics).map(StepKind::Healthcheck),
        "copy" => build_copy(node, diagnostics).map(StepKind::Copy),
        "run" => run::build_run(node, diagnostics).map(StepKind::Run),
        _ => {
            diagnostics.push(unknown_node(node, "inside a stage", STAGE_CHILDREN));
            return None;
        }
    };
    if node.name != "run" && node.name != "copy" {
        no_children(node, diagnostics);
    }
    kind
}

fn single(node: &Node, diagnostics: &mut Diagnostics, what: &str, help: &str) -> Option<Spanned<String>> {
    let mut reader = NodeReader::new(node, diagnostics);
    let value = reader.one_string_arg(what, help);
    reader.finish(Some(1));
    value
}

fn list(node: &Node, diagnostics: &mut Diagnostics, what: &str, help: &str) -> Option<Vec<Spanned<String>>> {
    let mut reader = NodeReader::new(node, diagnostics);
    let values = reader.string_args(what);
    if node.args.is_empty() {
        reader.push(
            Diagnostic::new(Code::MissingValue, format!("`{}` needs at least one {what}", node.name))
                .label(node.name_span, format!("{what} missing"))
                .help(help.to_string()),
        );
    }
    reader.finish(None);
    Some(values)
}

/// Reads `NAME="value"` properties in the user's order.
fn key_values(node: &Node, diagnostics: &mut Diagnostics, help: &str) -> Vec<(Spanned<String>, Spanned<String>)> {
    let mut pairs = Vec::new();
    for prop in &node.props {
        match &prop.value.kind {
            ValueKind::String(text) => {
                pairs.push((Spanned::new(prop.key.clone(), prop.key_span), Spanned::new(text.clone(), prop.value.span)))
            }
            _ => diagnostics.push(
                Diagnostic::new(Code::InvalidValue, format!("`{}` values must be strings", node.name))
                    .label(prop.value.span, format!("found {}", prop.value.type_name()))
                    .help(format!("quote the value: {}=\"...\"", prop.key)),
            ),
        }
    }
    if let Some(first) = node.args.first() {
        diagnostics.push(
            Diagnostic::new(Code::InvalidValue, format!("`{}` takes NAME=\"value\" pairs, not arguments", node.name))
                .label(first.span, "positional argument")
                .help(help.to_string()),
        );
    } else if pairs.is_empty() && node.props.is_empty() {
        diagnostics.push(
            Diagnostic::new(Code::MissingValue, format!("`{}` sets nothing", node.name))
                .label(node.name_span, "no NAME=\"value\" pairs")
                .help(help.to_string()),
        );
    }
    pairs
}

/// Reads `cmd "/app/main" "--flag"` (exec form) or `cmd shell="text"`.
pub(super) fn command(node: &Node, diagnostics: &mut Diagnostics) -> Option<Command> {
    let mut reader = NodeReader::new(node, diagnostics);
    let argv = reader.string_args("a command argument");
    let shell = reader.string("shell");
    reader.finish(None);
    command_from(node, argv, shell, diagnostics)
}

pub(super) fn command_from(
    node: &Node,
    argv: Vec<Spanned<String>>,
    shell: Option<Spanned<String>>,
    diagnostics: &mut Diagnostics,
) -> Option<Command> {
    match (argv.is_empty(), shell) {
        (true, Some(text)) => Some(Command { form: CommandForm::Shell(text), span: node.span }),
        (false, None) => Some(Command { form: CommandForm::Exec(argv), span: node.span }),
        (false, Some(text)) => {
            diagnostics.push(
                Diagnostic::new(Code::InvalidValue, format!("`{}` has both arguments and `shell=`", node.name))
                    .label(text.span, "shell form")
                    .label(argv[0].span, "exec form")
                    .help("use arguments for an exec-form argv, or shell=\"...\" for a shell command, not both"),
            );
            None
        }
        (true, None) => {
            diagnostics.push(
                Diagnostic::new(Code::MissingValue, format!("`{}` needs a command", node.name))
                    .label(node.name_span, "command missing")
                    .help(format!(
                        "write `{0} \"/app/main\" \"--port\" \"8080\"` (exec form) or `{0} shell=\"...\"`",
                        node.name
                    )),
            );
            None
        }
    }
}

fn healthcheck(node: &Node, diagnostics: &mut Diagnostics) -> Option<Healthcheck> {
    let mut reader = NodeReader::new(node, diagnostics);
    let argv = reader.string_args("a command argument");
    let shell = reader.string("shell");
    let none = reader.bool("none").is_some_and(|flag| flag.value);
    let interval = reader.string("interval");
    let timeout = reader.string("timeout");
    let start_period = reader.string("start-period");
    let retries = reader.unsigned32("retries");
    reader.finish(None);

    for duration in [&interval, &timeout, &start_period].into_iter().flatten() {
        if !is_duration(&duration.value) {
            diagnostics.push(
                Diagnostic::new(Code::InvalidValue, format!("invalid duration `{}`", duration.value))
                    .label(duration.span, "not a duration")
                    .help("write a number with a unit: \"30s\", \"1m30s\", \"500ms\""),
            );
        }
    }

    let command = if none {
        if !argv.is_empty() || shell.is_some() {
            diagnostics.push(
                Diagnostic::new(Code::InvalidValue, "`healthcheck none=#true` cannot also have a command")
                    .label(node.span, "both disabled and given a command")
                    .help("remove none=#true to set a check, or the command to disable the inherited one"),
            );
        }
        None
    } else {
        Some(command_from(node, argv, shell, diagnostics)?)
    };

    Some(Healthcheck { command, interval, timeout, start_period, retries })
}

/// Accepts Go-style durations such as `30s`, `1m30s` or `500ms`, which is
/// what Docker's HEALTHCHECK flags take.
pub fn is_duration(text: &str) -> bool {
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "us", "ns", "h", "m", "s"].into_iter().find(|unit| rest.starts_with(unit));
        match unit {
            Some(unit) => rest = &rest[unit.len()..],
            None => return false,
        }
    }
    true
}

fn build_copy(node: &Node, diagnostics: &mut Diagnostics) -> Option<CopyStep> {
    let mut reader = NodeReader::new(node, diagnostics);
    let paths = reader.string_args("a context path");
    let to = reader.required_string("to", "write to=\"/app/\" (a directory ends with /)");
    let artifact = reader.string("artifact");
    let from = reader.string("from");
    let path = reader.string("path");
    let owner = reader.string("owner");
    let mode = reader.mode("mode");
    reader.finish(None);

    let source = match (paths.is_empty(), from, artifact, path) {
        (false, None, None, None) => CopySource::Context(paths),
        (true, Some(stage), Some(artifact), None) => CopySource::Artifact { stage, artifact },
        (true, Some(stage), None, Some(path)) => CopySource::StagePath { stage, path },
        (true, None, None, None) => {
            diagnostics.push(
                Diagnostic::new(Code::MissingValue, "`copy` needs a source")
                    .label(node.name_span, "nothing to copy")
                    .help("copy context files with `copy \"main.go\" to=\"/app/\"`, or an artifact with `copy artifact=\"app\" from=\"builder\" to=\"/app/main\"`"),
            );
            return None;
        }
        (true, None, Some(artifact), _) => {
            diagnostics.push(
                Diagnostic::new(Code::MissingValue, "`copy artifact=` needs `from=`, the stage that declares it")
                    .label(artifact.span, "artifact of which stage?")
                    .help("add from=\"STAGE\""),
            );
            return None;
        }
        (true, Some(stage), None, None) => {
            diagnostics.push(
                Diagnostic::new(Code::MissingValue, "`copy from=` needs `artifact=`")
                    .label(stage.span, "what to copy from this stage?")
                    .help("name a declared artifact with artifact=\"NAME\""),
            );
            return None;
        }
        _ => {
            diagnostics.push(
                Diagnostic::new(Code::InvalidValue, "`copy` mixes sources")
                    .label(node.span, "context paths and stage sources together")
                    .help("copy from the context with positional paths, or from a stage with from= and artifact=, in separate `copy` nodes"),
            );
            return None;
        }
    };

    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for child in &node.children {
        let target = match child.name.as_str() {
            "include" => &mut include,
            "exclude" => &mut exclude,
            _ => {
                diagnostics.push(unknown_node(child, "inside `copy`", &["include", "exclude"]));
                continue;
            }
        };
        let mut reader = NodeReader::new(child, diagnostics);
        target.extend(reader.string_args("a pattern"));
        reader.finish(None);
        no_children(child, diagnostics);
    }

    Some(CopyStep { source, to: to?, owner, mode, include, exclude })
}

fn build_artifact(node: &Node, diagnostics: &mut Diagnostics) -> Option<Artifact> {
    let mut reader = NodeReader::new(node, diagnostics);
    let name = reader.one_string_arg("an artifact name", "write `artifact \"app\" path=\"/app/main\"`");
    let path = reader.required_string("path", "write path=\"/app/main\", the absolute path the stage produces");
    let kind = reader.choice("kind", &["file", "dir", "executable"], ArtifactKind::parse);
    let owner = reader.string("owner");
    let mode = reader.mode("mode");
    let linkage = reader.choice("linkage", &["static", "glibc", "musl"], Linkage::parse);
    let platform = read_platform(&mut reader, "platform");
    reader.finish(Some(1));
    no_children(node, diagnostics);

    Some(Artifact {
        name: name?,
        path: path?,
        kind: kind.map_or(ArtifactKind::File, |kind| kind.value),
        owner,
        mode,
        linkage,
        platform,
        span: node.span,
    })
}

#[cfg(test)]
mod tests {
    use super::is_duration;

    #[test]
    fn duration_table() {
        for good in ["30s", "1m30s", "500ms", "1h", "1.5s"] {
            assert!(is_duration(good), "{good}");
        }
        for bad in ["", "30", "s", "1d", "30 s"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
