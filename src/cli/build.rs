//! `stagec build`: compiles the spec to LLB and solves it on the BuildKit
//! of Docker Engine, which stores the image. The flags follow
//! `docker buildx build` where they mean the same.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::args::{BuildArgs, ProgressArg};
use super::llb::{lock_and_lower, lock_file_path, prepare, read_lock, source_info};
use super::lock::{engine_failure, engine_platforms, refresh_lock, resolve_available_images};
use super::{EXIT_FAILURE, Failure, report};
use crate::diag::{Code, Diagnostic};
use crate::engine::{
    EngineClient, EngineError, PlainProgress, PlatformResult, QuietProgress, RawJsonProgress, SecretSource,
    SolveFailure, SolveRequest, TtyProgress,
};
use crate::llb::lower::{CONTEXT_NAME, LlbBuild};
use crate::llb::tags::{check_substituted_tags, command_line_tag_error};
use crate::lock::{BaseImage, EngineSocket, base_images, changed_images, check_lock, spec_images_digest};
use crate::model::Platform;

/// Exit code after Ctrl-C, as shells report a process ended by SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

pub fn run(args: &BuildArgs, color: bool) -> Result<(), Failure> {
    let secrets = parse_secrets(&args.secrets)?;
    let connect = super::lock::connect_options(&args.buildkit)?;
    let build_outputs = super::build_outputs::parse_build_outputs(args)?;
    if let Some(text) = &args.select.platform {
        super::lock::parse_platform_list(text)?;
    }
    if let Some(message) = args.tags.iter().find_map(|tag| command_line_tag_error(tag)) {
        return Err(Failure::usage(message));
    }
    let mut prepared = prepare(&args.spec, &args.select)?;
    let Some(build) = prepared.build.take() else {
        report(&prepared.diagnostics, &prepared.spec, &args.spec, color);
        return Err(Failure::reported());
    };
    // `-t` replaces the spec's tags, so only the spec's own tags need the check.
    if args.tags.is_empty() {
        let invalid_tags = check_substituted_tags(&build.tags);
        if invalid_tags.has_errors() {
            prepared.diagnostics.extend(invalid_tags);
            prepared.diagnostics.sort();
            report(&prepared.diagnostics, &prepared.spec, &args.spec, color);
            return Err(Failure::reported());
        }
    }
    // Warnings come before the build's output; `--deny-warnings` stops here.
    if !prepared.diagnostics.is_empty() {
        if report(&prepared.diagnostics, &prepared.spec, &args.spec, color) {
            return Err(Failure::reported());
        }
        prepared.diagnostics = crate::diag::Diagnostics::default();
    }
    let lock_file = lock_file_path(&args.spec, &args.select);
    let existing = read_lock(lock_file.as_deref())?;

    let runtime = runtime()?;
    let solving = AtomicBool::new(false);
    let engine_phase = async {
        let client = EngineClient::connect_with(&connect).await.map_err(engine_failure)?;
        let platform_list = engine_platforms(&client, &args.select)?;
        // Lowering avoids or reports the features that the engine's BuildKit lacks.
        let capabilities = client.capabilities().await.map_err(engine_failure)?;
        let caps = capabilities.llb_caps(client.connected_info());

        // Resolve the base images again when the lock does not cover this build.
        let mut lock = existing.clone();
        let model = prepared.compilation.spec.as_ref().ok_or_else(Failure::reported)?;
        let mut needed: Vec<BaseImage> = Vec::new();
        for platforms in &platform_list {
            for image in base_images(&build, platforms).unwrap_or_default() {
                let known = needed
                    .iter()
                    .any(|seen| seen.reference == image.reference && seen.platform == image.platform);
                if !known {
                    needed.push(image);
                }
            }
        }
        let names = super::llb::lock_names(&prepared.spec, lock_file.as_deref(), &args.select);
        if !check_lock(lock.as_ref(), &spec_images_digest(model), &needed, &names).is_empty() {
            eprintln!("stagec: the lock file is missing or stale; resolving the base images through the engine");
            lock = Some(
                refresh_lock(
                    &client,
                    &mut prepared,
                    &platform_list,
                    existing.as_ref(),
                    lock_file.as_deref(),
                )
                .await?,
            );
        } else if let Some(current) = &lock {
            // A tag that now names another image would build from the locked
            // configuration but the engine's new filesystem, so re-lock first.
            let changed = changed_images(current, &resolve_available_images(&client, &needed).await?);
            for image in &changed {
                eprintln!(
                    "stagec: base image {} ({}) changed in the engine: locked {}, engine has {}",
                    image.reference, image.platform, image.locked_id, image.engine_id
                );
            }
            if !changed.is_empty() {
                eprintln!("stagec: updating the lock file from the engine");
                lock = Some(
                    refresh_lock(
                        &client,
                        &mut prepared,
                        &platform_list,
                        existing.as_ref(),
                        lock_file.as_deref(),
                    )
                    .await?,
                );
            }
        }

        let mut builds: Vec<(Platform, LlbBuild)> = Vec::with_capacity(platform_list.len());
        for platforms in &platform_list {
            let lowered = lock_and_lower(
                &mut prepared,
                &build,
                lock.as_ref(),
                platforms,
                args.network,
                lock_file.as_deref(),
                &args.select,
                &caps,
            );
            let Some(mut llb) = lowered else {
                return Err(Failure::reported());
            };
            if platform_list.len() > 1 {
                llb.name_platform(&platforms.target);
            }
            builds.push((platforms.target.clone(), llb));
        }
        let tags: Vec<String> = if args.tags.is_empty() {
            build.tags.iter().map(|tag| tag.value.clone()).collect()
        } else {
            args.tags.clone()
        };
        solving.store(true, Ordering::SeqCst);
        let result = solve_all(&client, &builds, &prepared.spec, &tags, &secrets, &build_outputs, args).await;
        Ok((builds, tags, result))
    };
    let outcome = runtime.block_on(until_interrupted("build", engine_phase, Some(&solving)));

    let (builds, tags, result) = match outcome {
        Ok(parts) => parts,
        Err(failure) => {
            report(&prepared.diagnostics, &prepared.spec, &args.spec, color);
            return Err(failure);
        }
    };
    let solved = match result {
        Ok(solved) => solved,
        Err(error) => match error {
            BuildError::Interrupted => {
                eprintln!("stagec: build canceled");
                return Err(Failure {
                    code: EXIT_INTERRUPTED,
                    message: None,
                });
            }
            BuildError::Engine(EngineError::Solve(failure))
                if super::build_outputs::export_failure_message(&failure, &build_outputs).is_some() =>
            {
                report(&prepared.diagnostics, &prepared.spec, &args.spec, color);
                return Err(Failure {
                    code: EXIT_FAILURE,
                    message: super::build_outputs::export_failure_message(&failure, &build_outputs),
                });
            }
            BuildError::Engine(EngineError::Solve(failure)) => {
                let logs = failure.last_logs.clone();
                // A fault of the engine or the session is not the step's fault,
                // so it is reported with its own fix rather than at the step.
                let diagnostic = if failure.is_engine_fault() {
                    None
                } else {
                    unreadable_input_diagnostic(&prepared, &failure)
                        .or_else(|| builds.iter().find_map(|(_, llb)| solve_diagnostic(llb, &failure)))
                };
                if let Some(diagnostic) = diagnostic {
                    prepared.diagnostics.push(diagnostic);
                    report_with_logs(&prepared, args, color, &logs);
                    return Err(Failure::reported());
                }
                report_with_logs(&prepared, args, color, &logs);
                let message = match multi_platform_message(&failure.message, builds.len()) {
                    Some(message) => message,
                    None => failure.to_string(),
                };
                return Err(Failure {
                    code: EXIT_FAILURE,
                    message: Some(message),
                });
            }
            BuildError::Engine(error) => {
                report(&prepared.diagnostics, &prepared.spec, &args.spec, color);
                return Err(Failure {
                    code: EXIT_FAILURE,
                    message: Some(error.to_string()),
                });
            }
        },
    };
    // Warnings of the lock check and lowering, if any.
    report(&prepared.diagnostics, &prepared.spec, &args.spec, color);

    if let Some(path) = &args.metadata_file {
        write_metadata(path, &solved)?;
    }

    let (_, llb) = &builds[0];
    let output = &llb.stages[llb.output];
    if builds.len() > 1 {
        let platforms: Vec<String> = builds.iter().map(|(platform, _)| platform.to_string()).collect();
        eprintln!("built stage `{}` for {}", output.name, platforms.join(", "));
    }
    match solved.image_id {
        Some(image_id) => {
            // Only Docker Engine's image store has an API to read the size from.
            let size = match connect.addr {
                None => runtime.block_on(image_size(&image_id)),
                Some(_) => None,
            };
            let size = size.map(|bytes| format!(", {}", human_size(bytes))).unwrap_or_default();
            eprintln!("built stage `{}` as image {image_id}{size}", output.name);
            for tag in &tags {
                eprintln!("  tagged {tag}");
            }
            println!("{image_id}");
        }
        None if !build_outputs.outputs.is_empty() => {
            let kinds: Vec<&str> = build_outputs.outputs.iter().map(|output| output.kind.name()).collect();
            eprintln!("built stage `{}` and exported it ({})", output.name, kinds.join(", "));
            if let Some(digest) = solved.exporter_response.get("containerimage.digest") {
                eprintln!("  image digest {digest}");
            }
        }
        None => eprintln!(
            "built stage `{}`; it has no tag, so no image was stored (name one with -t)",
            output.name
        ),
    }
    Ok(())
}

enum BuildError {
    Interrupted,
    Engine(EngineError),
}

/// Outcome of every solve of one build.
#[derive(Debug, Default)]
struct Solved {
    /// Image ID of the output, when it was stored.
    image_id: Option<String>,
    /// The exporter's response for the output, such as `containerimage.digest`.
    exporter_response: BTreeMap<String, String>,
    /// Bytes that FileSync sent for the build context, summed over the solves.
    context_bytes_sent: u64,
}

/// Solves every `check` stage, then the output, each as its own build on
/// the engine. A multi-platform build solves each check stage once per
/// platform, and the output once with a result per platform.
async fn solve_all(
    client: &EngineClient,
    builds: &[(Platform, LlbBuild)],
    spec: &super::LoadedSpec,
    tags: &[String],
    secrets: &BTreeMap<String, SecretSource>,
    build_outputs: &super::build_outputs::BuildOutputs,
    args: &BuildArgs,
) -> Result<Solved, BuildError> {
    let source = source_info(spec);
    let mut local_dirs = BTreeMap::new();
    if builds.iter().any(|(_, llb)| llb.context.is_some()) {
        local_dirs.insert(CONTEXT_NAME.to_string(), spec.context_dir.clone());
    }
    let multi_platform = builds.len() > 1;

    let mut outcome = Solved::default();
    for (platform, llb) in builds {
        for index in llb.checks() {
            let request = SolveRequest {
                definition: llb.definition(index, Some(&source)).definition,
                local_dirs: local_dirs.clone(),
                secrets: secrets.clone(),
                no_cache: args.no_cache,
                ..output_request(build_outputs, false)
            };
            if multi_platform {
                eprintln!(
                    "stagec: building check stage `{}` for {platform}",
                    llb.stages[index].name
                );
            } else {
                eprintln!("stagec: building check stage `{}`", llb.stages[index].name);
            }
            let solved = solve_interruptible(client, request, args.progress).await?;
            outcome.context_bytes_sent += solved.bytes_sent_by_filesync;
        }
    }

    let (_, first) = &builds[0];
    let output = &first.stages[first.output];
    let mut request = SolveRequest {
        definition: first.definition(first.output, Some(&source)).definition,
        local_dirs,
        secrets: secrets.clone(),
        image_config: output.image_config.clone(),
        tags: tags.to_vec(),
        no_cache: args.no_cache,
        ..output_request(build_outputs, true)
    };
    if multi_platform {
        request.platform_results = builds
            .iter()
            .map(|(platform, llb)| PlatformResult {
                platform: platform.clone(),
                definition: llb.definition(llb.output, Some(&source)).definition,
                image_config: llb.stages[llb.output].image_config.clone(),
            })
            .collect();
    }
    let solved = solve_interruptible(client, request, args.progress).await?;
    outcome.context_bytes_sent += solved.bytes_sent_by_filesync;
    outcome.image_id = solved.image_digest;
    outcome.exporter_response = solved.exporter_response;
    Ok(outcome)
}

/// Runs one solve until it ends or the user presses Ctrl-C.
async fn solve_interruptible(
    client: &EngineClient,
    request: SolveRequest,
    progress: ProgressArg,
) -> Result<crate::engine::SolveResult, BuildError> {
    tokio::select! {
        solved = solve_with_progress(client, request, progress) => solved.map_err(BuildError::Engine),
        _ = tokio::signal::ctrl_c() => Err(BuildError::Interrupted),
    }
}

/// Returns the message for a multi-platform build that the engine's
/// exporter rejected because it stores one platform per image, as Docker
/// Engine 26.1's classic image store does ("exporting multiple references
/// to image store is currently unsupported"). `None` for any other failure.
fn multi_platform_message(engine_message: &str, platform_count: usize) -> Option<String> {
    if platform_count < 2 || !engine_message.contains("multiple references") {
        return None;
    }
    Some(format!(
        "the engine cannot export a multi-platform image: {engine_message}. Docker Engine with the classic image \
         store keeps one platform per image; build on an engine with the containerd image store \
         (\"features\": {{\"containerd-snapshotter\": true}} in daemon.json) or on a standalone BuildKit, or \
         build one platform at a time. See docs/multi-platform.md"
    ))
}

/// Returns the output part of a solve request: the build's outputs for the
/// output stage, and for a `check` stage only the cache imports.
fn output_request(build_outputs: &super::build_outputs::BuildOutputs, is_output: bool) -> SolveRequest {
    let mut request = SolveRequest::new(Default::default());
    request.cache_imports = build_outputs.cache_imports.clone();
    if is_output {
        request.outputs = build_outputs.outputs.clone();
        request.cache_exports = build_outputs.cache_exports.clone();
        request.exporter_attrs = build_outputs.exporter_attrs.clone();
        request.frontend_attrs = build_outputs.frontend_attrs.clone();
    }
    request
}

/// Returns the `--metadata-file` JSON: the exporter's response, with the
/// keys that `docker buildx build --metadata-file` also writes, and
/// `stagec.context.bytes_sent`.
fn metadata_json(solved: &Solved) -> String {
    let mut metadata: BTreeMap<&str, serde_json::Value> = solved
        .exporter_response
        .iter()
        .map(|(key, value)| (key.as_str(), serde_json::Value::from(value.as_str())))
        .collect();
    metadata.insert("stagec.context.bytes_sent", solved.context_bytes_sent.into());
    let mut text = serde_json::to_string_pretty(&metadata).expect("a map of strings and numbers serializes to JSON");
    text.push('\n');
    text
}

fn write_metadata(path: &Path, solved: &Solved) -> Result<(), Failure> {
    std::fs::write(path, metadata_json(solved))
        .map_err(|error| Failure::io(format!("cannot write metadata file `{}`: {error}", path.display())))
}

async fn solve_with_progress(
    client: &EngineClient,
    request: SolveRequest,
    progress: ProgressArg,
) -> Result<crate::engine::SolveResult, EngineError> {
    match progress {
        ProgressArg::Quiet => client.solve(request, QuietProgress).await,
        ProgressArg::Rawjson => client.solve(request, RawJsonProgress).await,
        ProgressArg::Tty => client.solve(request, TtyProgress::stderr()).await,
        ProgressArg::Auto if stderr_is_terminal() => client.solve(request, TtyProgress::stderr()).await,
        ProgressArg::Auto | ProgressArg::Plain => client.solve(request, PlainProgress::new(std::io::stderr())).await,
    }
}

/// Returns whether stderr is a terminal that understands cursor movement,
/// which `--progress auto` needs for the redrawing view.
fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal() && std::env::var("TERM").is_ok_and(|term| term != "dumb")
}

/// Turns a failed step into a diagnostic at its place in the spec: a copy
/// of an artifact that the producing stage did not create is SC0903, any
/// other failed step SC0904. Returns `None` when the failure names no step
/// of the spec.
fn solve_diagnostic(llb: &LlbBuild, failure: &SolveFailure) -> Option<Diagnostic> {
    let step = llb.step_named(failure.vertex.as_deref()?)?;
    let logs_note = if failure.last_logs.is_empty() {
        ""
    } else {
        "; its last log lines follow"
    };

    if let Some(artifact) = step.artifact.as_ref().filter(|_| failure.message.contains("not found")) {
        tracing::debug!(vertex = %step.name, error = %failure.message, "copy of an artifact failed");
        let diagnostic = Diagnostic::new(
            Code::MissingArtifact,
            format!("stage `{}` did not produce `{}`", artifact.stage, artifact.path),
        )
        .label(artifact.span, "declared here")
        .label(step.span, "copied here")
        .help(format!(
            "make stage `{}` write `{}`, or declare the path that it writes",
            artifact.stage, artifact.path
        ));
        return Some(diagnostic);
    }
    let help = failure
        .missing_base_image_help()
        .unwrap_or_else(|| failure.message.clone());
    Some(
        Diagnostic::new(Code::BuildStepFailed, format!("build step {} failed", step.name))
            .label(step.span, "this step failed")
            .help(format!("{help}{logs_note}")),
    )
}

/// Turns a context file that stagec could not send into a diagnostic at
/// the `copy` that reads it. Returns `None` when the failure is another
/// one or no `copy` of the spec reads that file.
fn unreadable_input_diagnostic(prepared: &super::llb::Prepared, failure: &SolveFailure) -> Option<Diagnostic> {
    // The FileSync sender reports "opening PATH: CAUSE" or "reading PATH: CAUSE",
    // and BuildKit prefixes "error from sender: ".
    let (_, after) = failure.message.split_once("error from sender: ")?;
    let rest = after
        .strip_prefix("opening ")
        .or_else(|| after.strip_prefix("reading "))?;
    let (path, cause) = rest.rsplit_once(": ")?;
    // The sender names files below the absolute context folder.
    let context_dir = std::fs::canonicalize(&prepared.spec.context_dir).ok()?;
    let relative = Path::new(path).strip_prefix(&context_dir).ok()?.to_str()?;

    let spec = prepared.compilation.spec.as_ref()?;
    let (stage, source) = spec.stages.iter().find_map(|stage| {
        stage.steps.iter().find_map(|step| {
            let crate::model::StepKind::Copy(copy) = &step.kind else {
                return None;
            };
            let crate::model::CopySource::Context(sources) = &copy.source else {
                return None;
            };
            let source = sources
                .iter()
                .find(|source| crate::engine::source_covers(&source.value, relative))?;
            Some((stage, source))
        })
    })?;

    Some(
        Diagnostic::new(
            Code::BuildStepFailed,
            format!("cannot read context file `{relative}`: {cause}"),
        )
        .label(
            source.span,
            format!("stage `{}` copies `{relative}` from here", stage.name.value),
        )
        .help(format!(
            "make `{path}` readable for the user that runs stagec, or leave it out of the copy with `exclude`"
        )),
    )
}

/// Reports the diagnostics with the failed step's last log lines right
/// after them, above the closing "aborting due to" line.
fn report_with_logs(prepared: &super::llb::Prepared, args: &BuildArgs, color: bool, logs: &[String]) {
    let diagnostics = &prepared.diagnostics;
    if args.spec.message_format != super::args::MessageFormat::Human {
        // The log lines go into the JSON objects, so stderr stays one object per line.
        let spec = &prepared.spec;
        eprint!(
            "{}",
            crate::diag::json::render_lines_with_log(diagnostics, &spec.display_name, &spec.source, logs)
        );
        return;
    }

    let options = crate::diag::render::RenderOptions {
        color,
        unicode: true,
        width: super::terminal_width(),
    };
    let text = crate::diag::render::render_report(
        diagnostics,
        &prepared.spec.display_name,
        &prepared.spec.source,
        &options,
        args.spec.deny_warnings,
    );
    let summary = crate::diag::render::summary(diagnostics, args.spec.deny_warnings).map(|line| format!("{line}\n"));
    let (body, summary) = match summary.as_deref().and_then(|summary| text.strip_suffix(summary)) {
        Some(body) => (body, summary.unwrap_or_default()),
        None => (text.as_str(), String::new()),
    };
    eprint!("{body}");
    print_logs(logs);
    if !logs.is_empty() && !summary.is_empty() {
        eprintln!();
    }
    eprint!("{summary}");
}

fn print_logs(lines: &[String]) {
    for line in lines {
        eprintln!("  | {line}");
    }
}

/// Parses `--secret id=ID,src=PATH` (or `source=`) and `--secret id=ID,env=VAR`.
fn parse_secrets(values: &[String]) -> Result<BTreeMap<String, SecretSource>, Failure> {
    let mut secrets = BTreeMap::new();
    for value in values {
        let invalid = |reason: &str| {
            Failure::usage(format!(
                "--secret `{value}`: {reason}; write id=ID,src=PATH or id=ID,env=VAR"
            ))
        };
        let mut id = None;
        let mut source = None;
        for field in value.split(',') {
            let (key, text) = field
                .split_once('=')
                .ok_or_else(|| invalid(&format!("`{field}` is not key=value")))?;
            match key {
                "id" => id = Some(text.to_string()),
                "src" | "source" => source = Some(SecretSource::File(PathBuf::from(text))),
                "env" => source = Some(SecretSource::Env(text.to_string())),
                "type" if text == "file" || text == "env" => {}
                _ => return Err(invalid(&format!("unknown field `{key}`"))),
            }
        }
        // As in buildx, `env=VAR` alone names the secret after the variable.
        let id = match (id, &source) {
            (Some(id), _) if !id.is_empty() => id,
            (None, Some(SecretSource::Env(variable))) => variable.clone(),
            _ => return Err(invalid("the id is missing")),
        };
        let source = source.ok_or_else(|| invalid("the source is missing"))?;
        secrets.insert(id, source);
    }
    Ok(secrets)
}

/// Returns the image's size from the engine, or `None` when the engine reports none.
async fn image_size(image_id: &str) -> Option<u64> {
    let socket = EngineSocket::new(None).ok()?;
    socket.image_size(image_id).await
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// Runs the engine calls of a command until they finish or the user presses
/// Ctrl-C, which ends the command with exit code 130. Once `solving` is set,
/// the solve handles Ctrl-C itself, so that the progress view can show the
/// canceled steps, and this function leaves the signal to it.
pub(super) async fn until_interrupted<T>(
    command: &str,
    engine_calls: impl Future<Output = Result<T, Failure>>,
    solving: Option<&AtomicBool>,
) -> Result<T, Failure> {
    let interrupted_before_solve = async {
        loop {
            // Without a handler, a SIGINT that the shell set to be ignored
            // (a background job of a script) would be lost until the solve.
            if tokio::signal::ctrl_c().await.is_err() {
                return std::future::pending::<()>().await;
            }
            if !solving.is_some_and(|solving| solving.load(Ordering::SeqCst)) {
                return;
            }
        }
    };
    tokio::select! {
        outcome = engine_calls => outcome,
        () = interrupted_before_solve => {
            eprintln!("stagec: {command} canceled");
            Err(Failure {
                code: EXIT_INTERRUPTED,
                message: None,
            })
        }
    }
}

/// Builds the tokio runtime for the engine calls of one command.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure {
            code: EXIT_FAILURE,
            message: Some(format!("cannot start the async runtime: {error}")),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_secrets_table() {
        let secrets = parse_secrets(&[
            "id=token,src=/tmp/token".to_string(),
            "id=npm,env=NPM_TOKEN".to_string(),
        ])
        .expect("valid secrets");
        assert_eq!(secrets["token"], SecretSource::File(PathBuf::from("/tmp/token")));
        assert_eq!(secrets["npm"], SecretSource::Env("NPM_TOKEN".to_string()));

        let secrets = parse_secrets(&["env=GITHUB_TOKEN".to_string()]).expect("valid secret");
        assert_eq!(secrets["GITHUB_TOKEN"], SecretSource::Env("GITHUB_TOKEN".to_string()));

        for invalid in ["src=/tmp/x", "id=x", "id=x,mode=0400", "id=x,src"] {
            assert!(parse_secrets(&[invalid.to_string()]).is_err(), "{invalid}");
        }
    }

    #[test]
    fn unreadable_input_points_at_copy() {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = "stage \"app\" from=\"alpine:3\" {\n    copy \"go.mod\" \"src\" to=\"/app/\"\n}\nimage \"app\" tag=\"app:1\"\n";
        let spec_path = dir.path().join("app.kdl");
        std::fs::write(&spec_path, source).expect("write spec");
        let cli = <super::super::args::Cli as clap::Parser>::try_parse_from([
            "stagec",
            "build",
            spec_path.to_str().expect("utf-8 path"),
        ])
        .expect("valid arguments");
        let super::super::args::Command::Build(args) = cli.command else {
            panic!("parsed as another command");
        };
        let prepared = prepare(&args.spec, &args.select).expect("valid spec");
        let context = std::fs::canonicalize(dir.path()).expect("canonical temp dir");
        let failure = |file: &str| SolveFailure {
            vertex: None,
            message: format!(
                "error from sender: opening {}: Permission denied (os error 13)",
                context.join(file).display()
            ),
            last_logs: Vec::new(),
        };

        let diagnostic = unreadable_input_diagnostic(&prepared, &failure("src/lib/a.go")).expect("a copy reads src");
        assert_eq!(diagnostic.code, Code::BuildStepFailed);
        assert_eq!(
            diagnostic.message,
            "cannot read context file `src/lib/a.go`: Permission denied (os error 13)"
        );
        let span = diagnostic.labels[0].span;
        assert_eq!(&source[span.start..span.end()], "\"src\"", "points at the copy source");

        assert!(unreadable_input_diagnostic(&prepared, &failure("other.txt")).is_none());
    }

    #[test]
    fn multi_platform_rejection_message() {
        let engine = "exporting multiple references to image store is currently unsupported";
        let message = multi_platform_message(engine, 2).expect("a multi-platform build");
        assert!(message.contains("containerd-snapshotter"), "{message}");
        assert!(
            multi_platform_message(engine, 1).is_none(),
            "one platform has one reference"
        );
        assert!(multi_platform_message("file not found", 2).is_none());
    }

    #[test]
    fn human_size_table() {
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_990_000), "2.0MB");
        assert_eq!(human_size(454_000_000), "454.0MB");
    }

    #[test]
    fn metadata_json_keys() {
        let solved = Solved {
            image_id: Some("sha256:1111".to_string()),
            exporter_response: BTreeMap::from([
                ("containerimage.digest".to_string(), "sha256:1111".to_string()),
                ("image.name".to_string(), "docker.io/library/app:1".to_string()),
            ]),
            context_bytes_sent: 1394,
        };
        let metadata: serde_json::Value = serde_json::from_str(&metadata_json(&solved)).expect("valid JSON");
        assert_eq!(metadata["containerimage.digest"], "sha256:1111");
        assert_eq!(metadata["image.name"], "docker.io/library/app:1");
        assert_eq!(metadata["stagec.context.bytes_sent"], 1394);

        let untagged: serde_json::Value = serde_json::from_str(&metadata_json(&Solved::default())).expect("valid JSON");
        assert_eq!(untagged, serde_json::json!({ "stagec.context.bytes_sent": 0 }));
    }
}
