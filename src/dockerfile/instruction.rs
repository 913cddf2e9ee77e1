//! One Dockerfile instruction per lowered step. `RUN` is in [`super::run`].

use super::ignore::IgnorePlan;
use super::quote::{self, Unrepresentable};
use super::syntax::Feature;
use super::{Writer, run, stage};
use crate::diag::Span;
use crate::lower::{BuildStage, BuildStep, BuildStepKind, Command, CopySource, CopyStep, Healthcheck, Interpolated};
use crate::model::interpolate::Part;
use crate::model::{ArtifactKind, CommandForm, Spanned};

/// Writes the instruction for `step` of `stage`.
pub fn write_step(stage: &BuildStage, step: &BuildStep, names: &[String], plan: &IgnorePlan, writer: &mut Writer) {
    let span = step.span;
    match &step.kind {
        BuildStepKind::Workdir(path) => word_instruction("WORKDIR", &path.value, "`workdir` path", span, writer),
        BuildStepKind::Env(pairs) => pairs_instruction("ENV", pairs, span, writer),
        BuildStepKind::Arg { name, value } => stage::write_arg(&name.value, value.as_deref(), name.span, writer),
        BuildStepKind::User(user) => word_instruction("USER", user, "`user`", span, writer),
        BuildStepKind::Copy(copy) => write_copy(copy, span, names, plan, writer),
        BuildStepKind::Run(step) => run::write_run(stage, step, span, names, writer),
        BuildStepKind::Expose(ports) => write_expose(ports, span, writer),
        BuildStepKind::Label(pairs) => pairs_instruction("LABEL", pairs, span, writer),
        BuildStepKind::Cmd(command) => command_instruction("CMD", command, span, writer),
        BuildStepKind::Entrypoint(command) => command_instruction("ENTRYPOINT", command, span, writer),
        BuildStepKind::Healthcheck(check) => write_healthcheck(check, span, writer),
        BuildStepKind::Volume(paths) => write_volume(paths, span, writer),
        BuildStepKind::StopSignal(signal) => word_instruction(
            "STOPSIGNAL",
            &Interpolated::literal(&signal.value, signal.span),
            "`stopsignal`",
            span,
            writer,
        ),
        BuildStepKind::Shell(argv) => match quote::exec_array(&argv.iter().map(|arg| arg.as_str()).collect::<Vec<_>>())
        {
            Ok(array) => writer.line(format!("SHELL {array}"), span),
            Err(error) => writer.unrepresentable(span, "`shell` argument", error),
        },
    }
}

/// `WORKDIR`, `USER` and `STOPSIGNAL`: one lexed value.
fn word_instruction(instruction: &str, value: &Interpolated, what: &str, span: Span, writer: &mut Writer) {
    match quote::lexed_word(&value.parts) {
        Ok(encoded) => writer.line(format!("{instruction} {encoded}"), span),
        Err(error) => writer.unrepresentable(value.span, what, error),
    }
}

/// `ENV` and `LABEL`: `KEY="value"` pairs on one line, values always quoted.
fn pairs_instruction(instruction: &str, pairs: &[(Spanned<String>, Interpolated)], span: Span, writer: &mut Writer) {
    let what = instruction.to_lowercase();
    let mut line = instruction.to_string();
    let mut complete = true;
    for (key, value) in pairs {
        let key_text = if key.value.is_empty() || key.value.contains('=') {
            Err(Unrepresentable {
                reason: "is empty or contains `=`".into(),
                help: "the Dockerfile splits `KEY=value` at the first `=`; rename the key".into(),
            })
        } else {
            quote::lexed_word(&[Part::Literal(key.value.clone())])
        };
        let encoded = key_text
            .map_err(|error| (key.span, "name", error))
            .and_then(|key_text| {
                let value = quote::lexed_quoted(&value.parts).map_err(|error| (value.span, "value", error))?;
                Ok(format!(" {key_text}={value}"))
            });
        match encoded {
            Ok(pair) => line.push_str(&pair),
            Err((span, part, error)) => {
                writer.unrepresentable(span, &format!("`{what}` {part}"), error);
                complete = false;
            }
        }
    }
    if complete {
        writer.line(line, span);
    }
}

/// Returns the argv a command runs: exec form as it is, shell form through
/// the shell in effect, as the Dockerfile shell form would run it.
pub fn command_argv(command: &Command) -> Vec<String> {
    match &command.form {
        CommandForm::Exec(argv) => argv.iter().map(|arg| arg.value.clone()).collect(),
        CommandForm::Shell(text) => command
            .shell
            .iter()
            .cloned()
            .chain(std::iter::once(text.value.clone()))
            .collect(),
    }
}

/// `CMD` and `ENTRYPOINT`, always in JSON form.
fn command_instruction(instruction: &str, command: &Command, span: Span, writer: &mut Writer) {
    match quote::exec_array(&command_argv(command)) {
        Ok(array) => writer.line(format!("{instruction} {array}"), span),
        Err(error) => writer.unrepresentable(span, &format!("`{}` argument", instruction.to_lowercase()), error),
    }
}

fn write_healthcheck(check: &Healthcheck, span: Span, writer: &mut Writer) {
    // NOTE: options of a disabled check are dropped; `HEALTHCHECK NONE` takes none.
    let Some(command) = &check.command else {
        writer.line("HEALTHCHECK NONE".to_string(), span);
        return;
    };

    let mut line = String::from("HEALTHCHECK");
    let durations = [
        ("interval", &check.interval),
        ("timeout", &check.timeout),
        ("start-period", &check.start_period),
    ];
    for (flag, value) in durations {
        let Some(value) = value else { continue };
        match quote::flag_value(&[Part::Literal(value.value.clone())]) {
            Ok(encoded) => line.push_str(&format!(" --{flag}={encoded}")),
            Err(error) => return writer.unrepresentable(value.span, &format!("`healthcheck` {flag}"), error),
        }
    }
    if let Some(retries) = &check.retries {
        line.push_str(&format!(" --retries={}", retries.value));
    }

    match quote::exec_array(&command_argv(command)) {
        Ok(array) => writer.line(format!("{line} CMD {array}"), span),
        Err(error) => writer.unrepresentable(span, "`healthcheck` argument", error),
    }
}

/// `EXPOSE 8080 53/udp`: each port is a number or range with an optional
/// protocol, possibly from a build arg.
fn write_expose(ports: &[Interpolated], span: Span, writer: &mut Writer) {
    let mut words = Vec::with_capacity(ports.len());
    for port in ports {
        let valid = !port.parts.is_empty()
            && port.parts.iter().all(|part| match part {
                Part::Literal(text) => text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-')),
                Part::Arg { .. } | Part::Env { .. } => true,
            });
        if !valid {
            let error = Unrepresentable {
                reason: "is not a port".into(),
                help: "write a port such as 8080, 8000-8010 or \"53/udp\"".into(),
            };
            return writer.unrepresentable(port.span, "`expose` value", error);
        }
        match quote::lexed_word(&port.parts) {
            Ok(word) => words.push(word),
            Err(error) => return writer.unrepresentable(port.span, "`expose` value", error),
        }
    }
    writer.line(format!("EXPOSE {}", words.join(" ")), span);
}

/// `VOLUME ["/data"]`: the JSON form, whose items the lexer still reads.
fn write_volume(paths: &[Interpolated], span: Span, writer: &mut Writer) {
    let mut items = Vec::with_capacity(paths.len());
    for path in paths {
        // The frontend trims each VOLUME item (seen with BuildKit 0.13).
        let last = path.parts.last().and_then(|part| match part {
            crate::model::interpolate::Part::Literal(text) => Some(text.as_str()),
            _ => None,
        });
        if last.is_some_and(|text| text.trim_end() != text) {
            let error = quote::Unrepresentable {
                reason: "ends with whitespace, which the Dockerfile frontend trims".into(),
                help: "remove the whitespace at the end of the path".into(),
            };
            return writer.unrepresentable(path.span, "`volume` path", error);
        }
        match quote::lexed_json_item(&path.parts) {
            Ok(item) => items.push(item),
            Err(error) => return writer.unrepresentable(path.span, "`volume` path", error),
        }
    }
    writer.line(format!("VOLUME [{}]", items.join(",")), span);
}

fn write_copy(copy: &CopyStep, span: Span, names: &[String], plan: &IgnorePlan, writer: &mut Writer) {
    let mut flags: Vec<String> = Vec::new();
    let mut sources: Vec<(Vec<Part>, Span)> = Vec::new();
    let mut directory = false;

    match &copy.source {
        CopySource::Context(paths) => {
            sources.extend(
                paths
                    .iter()
                    .map(|path| (vec![Part::Literal(path.value.clone())], path.span)),
            );
        }
        CopySource::Stage { stage, path, kind } => {
            flags.push(format!("--from={}", names[*stage]));
            // `COPY --from` matches its source as a glob; an artifact path is not one.
            if let Some(c) = path.value.chars().find(|c| matches!(c, '*' | '?' | '[' | ']' | '\\')) {
                let error = Unrepresentable {
                    reason: format!("contains `{c}`, which `COPY` would read as a glob"),
                    help: "move the artifact to a path without glob characters".into(),
                };
                return writer.unrepresentable(path.span, "artifact path", error);
            }
            let mut source = path.value.clone();
            if *kind == Some(ArtifactKind::Dir) {
                // A directory source copies its contents into the destination.
                directory = true;
                if !source.ends_with('/') {
                    source.push('/');
                }
            }
            sources.push((vec![Part::Literal(source)], path.span));
        }
    }

    if let Some(owner) = &copy.owner {
        match quote::flag_value(&owner.parts) {
            Ok(encoded) => flags.push(format!("--chown={encoded}")),
            Err(error) => return writer.unrepresentable(owner.span, "`copy` owner", error),
        }
    }
    if let Some(mode) = &copy.mode {
        flags.push(format!("--chmod={:04o}", mode.value));
    }

    if let Some(include) = copy.include.first()
        && !plan.applies_includes(span)
    {
        let error = Unrepresentable {
            reason: "cannot be expressed in a Dockerfile here".into(),
            help: "Dockerfile `COPY` has no include patterns, so stagec writes them to the ignore file; that \
                   works only when every use of the context path has the same includes and no other input \
                   overlaps it. Copy the matching paths by name instead"
                .into(),
        };
        return writer.unrepresentable(include.span, "`copy` include pattern", error);
    }
    for exclude in &copy.exclude {
        if plan.applies_exclude(span, &exclude.value) {
            continue;
        }
        match quote::flag_value(&[Part::Literal(exclude.value.clone())]) {
            Ok(encoded) => {
                flags.push(format!("--exclude={encoded}"));
                writer.require(Feature::CopyExclude, exclude.span);
            }
            Err(error) => return writer.unrepresentable(exclude.span, "`copy` exclude pattern", error),
        }
    }

    // The Dockerfile requires a directory destination, ending in `/`, for
    // several sources, and a directory source fills a directory.
    let mut destination = copy.to.value.parts.clone();
    let ends_with_slash = matches!(destination.last(), Some(Part::Literal(text)) if text.ends_with('/'));
    if (sources.len() > 1 || directory) && !ends_with_slash {
        destination.push(Part::Literal("/".into()));
    }

    let mut line = String::from("COPY");
    for flag in flags {
        line.push(' ');
        line.push_str(&flag);
    }
    let json_form = sources
        .iter()
        .map(|(parts, _)| parts)
        .chain([&destination])
        .any(|parts| quote::needs_json_form(parts));
    for (parts, _) in &mut sources {
        guard_heredoc_source(parts);
    }
    guard_heredoc_destination(&mut destination);
    let words: Vec<(&[Part], Span)> = sources
        .iter()
        .map(|(parts, span)| (parts.as_slice(), *span))
        .chain([(destination.as_slice(), copy.to.value.span)])
        .collect();
    if json_form {
        let mut items = Vec::with_capacity(words.len());
        for (parts, span) in words {
            match quote::lexed_json_item(parts) {
                Ok(item) => items.push(item),
                Err(error) => return writer.unrepresentable(span, "`copy` path", error),
            }
        }
        line.push_str(&format!(" [{}]", items.join(",")));
    } else {
        for (parts, span) in words {
            match quote::lexed_word(parts) {
                Ok(word) => {
                    line.push(' ');
                    line.push_str(&word);
                }
                Err(error) => return writer.unrepresentable(span, "`copy` path", error),
            }
        }
    }
    writer.line(line, span);
}

/// Returns the length of the `<<` heredoc marker that a word starting with
/// `parts` opens, after optional digits, or `None` when it opens none.
/// From 1.4 on, the frontend reads such a COPY word as a heredoc even in
/// JSON form (checked with dockerd 26.1's built-in frontend).
fn heredoc_marker(parts: &[Part]) -> Option<usize> {
    let Some(Part::Literal(text)) = parts.first() else {
        return None;
    };
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    text[digits..].starts_with("<<").then_some(digits)
}

/// Writes the first `<` of a context source such as `<<EOF` as the glob
/// class `[<]`, which matches the same file name but opens no heredoc.
/// Docker 20.10 and 26.1 both copy `[<]<EOF` as the file `<<EOF`.
fn guard_heredoc_source(parts: &mut [Part]) {
    if let Some(digits) = heredoc_marker(parts)
        && let Some(Part::Literal(text)) = parts.first_mut()
    {
        text.replace_range(digits..digits + 1, "[<]");
    }
}

/// Prefixes a relative destination such as `<<EOF` with `./`, which names
/// the same path; the frontend rejects a heredoc as a destination.
fn guard_heredoc_destination(parts: &mut [Part]) {
    if heredoc_marker(parts).is_some()
        && let Some(Part::Literal(text)) = parts.first_mut()
    {
        text.insert_str(0, "./");
    }
}
