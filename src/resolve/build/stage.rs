use super::reader::{NodeReader, no_children, unknown_node};
use super::{build_arg, run, values};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::{
    Artifact, ArtifactKind, Base, Command, CommandForm, CopySource, CopyStep, Healthcheck, Libc, Linkage, PlatformSpec,
    Spanned, Stage, Step, StepKind,
};
use crate::syntax::{Node, ValueKind};

const STAGE_CHILDREN: &[&str] = &[
    "workdir",
    "env",
    "arg",
    "user",
    "copy",
    "run",
    "expose",
    "label",
    "cmd",
    "entrypoint",
    "healthcheck",
    "volume",
    "stopsignal",
    "shell",
    "artifact",
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
        // A missing `from=` is SC0005. A reference to no stage makes the
        // base unknown, so that the checks of what the base provides (a
        // shell, a libc, a workdir) stay silent instead of assuming scratch.
        None => (Base::Stage(Spanned::new(String::new(), name.span)), name.span),
    };

    // Sized up front: growing by doubling left a quarter to half of these
    // vectors unused, which showed in the peak memory of large specs.
    let artifact_count = node.children.iter().filter(|child| child.name == "artifact").count();
    let mut steps = Vec::with_capacity(node.children.len() - artifact_count);
    let mut artifacts = Vec::with_capacity(artifact_count);
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
        "workdir" => workdir(node, diagnostics).map(StepKind::Workdir),
        "user" => {
            let user = single(
                node,
                diagnostics,
                "a user",
                "write `user \"app\"` or `user \"1000:1000\"`",
            );
            if let Some(user) = &user {
                values::check_user("user", user, diagnostics);
            }
            user.map(StepKind::User)
        }
        "stopsignal" => {
            let signal = single(node, diagnostics, "a signal", "write `stopsignal \"SIGTERM\"`");
            if let Some(signal) = &signal {
                values::check_stop_signal(signal, diagnostics);
            }
            signal.map(StepKind::StopSignal)
        }
        "env" => Some(StepKind::Env(key_values(
            node,
            diagnostics,
            "write `env NAME=\"value\"`",
        ))),
        "label" => Some(StepKind::Label(key_values(
            node,
            diagnostics,
            "write `label \"org.opencontainers.image.title\"=\"app\"`",
        ))),
        "arg" => build_arg(node, diagnostics).map(StepKind::Arg),
        "expose" => {
            let ports = list(node, diagnostics, "a port", "write `expose 8080 \"53/udp\"`");
            for port in ports.iter().flatten() {
                values::check_port(port, diagnostics);
            }
            ports.map(StepKind::Expose)
        }
        "volume" => list(node, diagnostics, "a path", "write `volume \"/data\"`").map(StepKind::Volume),
        "shell" => shell(node, diagnostics).map(StepKind::Shell),
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

fn workdir(node: &Node, diagnostics: &mut Diagnostics) -> Option<Spanned<String>> {
    let path = single(node, diagnostics, "a directory", "write `workdir \"/app\"`")?;
    if path.value.is_empty() {
        diagnostics.push(
            Diagnostic::new(Code::InvalidValue, "`workdir` is empty")
                .label(path.span, "empty path")
                .help("write the absolute directory for later steps, such as `workdir \"/app\"`"),
        );
        return None;
    }
    Some(path)
}

/// Reads `shell "/bin/bash" "-c"`. The program must not be empty.
fn shell(node: &Node, diagnostics: &mut Diagnostics) -> Option<Vec<Spanned<String>>> {
    let argv = list(
        node,
        diagnostics,
        "a program or an argument",
        "write `shell \"/bin/bash\" \"-c\"`",
    )?;
    if let Some(program) = argv.first().filter(|program| program.value.trim().is_empty()) {
        diagnostics.push(
            Diagnostic::new(Code::InvalidValue, "the `shell` program is empty")
                .label(program.span, "empty program")
                .help("name the shell program first, such as `shell \"/bin/bash\" \"-c\"`"),
        );
        return None;
    }
    Some(argv)
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
            Diagnostic::new(
                Code::MissingValue,
                format!("`{}` needs at least one argument", node.name),
            )
            .label(node.name_span, "no arguments")
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
            ValueKind::String(text) => pairs.push((
                Spanned::new(prop.key.clone(), prop.key_span),
                Spanned::new(text.clone(), prop.value.span),
            )),
            _ => diagnostics.push(
                Diagnostic::new(Code::InvalidValue, format!("`{}` values must be strings", node.name))
                    .label(prop.value.span, format!("found {}", prop.value.type_name()))
                    .help(format!("quote the value: {}=\"...\"", prop.key)),
            ),
        }
    }
    if let Some(first) = node.args.first() {
        diagnostics.push(
            Diagnostic::new(
                Code::InvalidValue,
                format!("`{}` takes NAME=\"value\" pairs, not arguments", node.name),
            )
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
        (true, Some(text)) => Some(Command {
            form: CommandForm::Shell(text),
            span: node.span,
        }),
        (false, None) => Some(Command {
            form: CommandForm::Exec(argv),
            span: node.span,
        }),
        (false, Some(text)) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("`{}` has both arguments and `shell=`", node.name),
                )
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
    let none = reader.bool("none").filter(|flag| flag.value);
    let interval = reader.string("interval");
    let timeout = reader.string("timeout");
    let start_period = reader.string("start-period");
    let retries = reader.unsigned32("retries");
    reader.finish(None);

    for (key, duration) in [
        ("interval", &interval),
        ("timeout", &timeout),
        ("start-period", &start_period),
    ] {
        if let Some(duration) = duration {
            values::check_duration(key, duration, diagnostics);
        }
    }

    let Some(none) = none else {
        let command = command_from(node, argv, shell, diagnostics)?;
        return Some(Healthcheck {
            command: Some(command),
            interval,
            timeout,
            start_period,
            retries,
        });
    };

    if !argv.is_empty() || shell.is_some() {
        diagnostics.push(
            Diagnostic::new(
                Code::InvalidValue,
                "`healthcheck none=#true` cannot also have a command",
            )
            .label(node.span, "both disabled and given a command")
            .help("remove none=#true to set a check, or the command to disable the inherited one"),
        );
    }
    // `HEALTHCHECK NONE` takes no options, so Docker would drop these silently.
    let options = [
        interval.as_ref().map(|value| ("interval", value.span)),
        timeout.as_ref().map(|value| ("timeout", value.span)),
        start_period.as_ref().map(|value| ("start-period", value.span)),
        retries.as_ref().map(|value| ("retries", value.span)),
    ];
    for (key, span) in options.into_iter().flatten() {
        diagnostics.push(
            Diagnostic::new(
                Code::UnknownProperty,
                format!("`healthcheck none=#true` ignores `{key}`"),
            )
            .label(span, "no check runs, so this option has no effect")
            .label(none.span, "the check is disabled here")
            .help(format!(
                "remove {key}=, or remove none=#true and give the check a command"
            )),
        );
    }
    Some(Healthcheck {
        command: None,
        interval: None,
        timeout: None,
        start_period: None,
        retries: None,
    })
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
    if let Some(owner) = &owner {
        values::check_user("`copy` owner", owner, diagnostics);
    }

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
                Diagnostic::new(
                    Code::MissingValue,
                    "`copy artifact=` needs `from=`, the stage that declares it",
                )
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

    Some(CopyStep {
        source,
        to: to?,
        owner,
        mode,
        include,
        exclude,
    })
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
    if let Some(owner) = &owner {
        values::check_user("artifact owner", owner, diagnostics);
    }

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
