//! One frontend request: read the spec from the client, then handle a
//! subrequest or compile the spec and solve its LLB through the bridge.

use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::moby::buildkit::v1::frontend::{PongResponse, WarnRequest, result};
use bollard_buildkit_proto::pb;

use super::bridge::Bridge;
use super::errors::{FrontendFailure, SPEC_LANGUAGE, range_json};
use super::images::{apply_named_contexts, resolve_through_bridge};
use super::options::{FrontendOptions, REQUEST_DESCRIBE, REQUEST_OUTLINE, REQUEST_TARGETS};
use super::subrequest;
use crate::diag::{Diagnostics, Severity};
use crate::llb::lower::{LlbBuild, LlbOptions};
use crate::llb::{EngineCaps, Graph, LocalSource, NetworkMode, OpMetadata, SourceInfo, SourceOp};
use crate::lock::{LockFile, LockNames, Platforms, base_images, check_lock, spec_images_digest};
use crate::lower::LowerOptions;
use crate::model::Platform;

/// Result metadata key of the image configuration, which Docker Engine's
/// `moby` exporter reads.
pub const IMAGE_CONFIG_KEY: &str = "containerimage.config";

/// Frontend API capability of the `Warn` call (BuildKit v0.13 frontend/gateway/pb/caps.go).
const WARNINGS_CAP: &str = "gateway.warnings";

/// The frontend's result: a reference to the built image with its
/// metadata, or only metadata for a subrequest.
#[derive(Debug, Default)]
pub struct FrontendOutput {
    pub reference: Option<result::Result>,
    pub metadata: BTreeMap<String, Vec<u8>>,
}

/// The spec and lock file read from the client.
struct SpecFiles {
    source: String,
    lock: Option<LockFile>,
    /// Digest of the op that read them, which warnings are attached to.
    vertex: String,
}

/// Handles the request that `options` describe.
pub async fn handle_request(
    bridge: &mut Bridge,
    options: &FrontendOptions,
    pong: &PongResponse,
) -> Result<FrontendOutput, FrontendFailure> {
    if let Some(request) = &options.request_id {
        if !subrequest::is_known(request) {
            return Err(FrontendFailure::new(format!(
                "stagec does not answer the subrequest `{request}`; it answers {REQUEST_OUTLINE}, \
                     {REQUEST_TARGETS} and {REQUEST_DESCRIBE}"
            )));
        }
        if request == REQUEST_DESCRIBE {
            return Ok(metadata_only(subrequest::describe()));
        }
    }

    let mut files = read_spec(bridge, options).await?;
    let mut build_args = options.spec_build_args();
    let mut compilation = crate::compile::check(&files.source);
    if let Some(model) = &compilation.spec {
        build_args = without_undeclared_proxy_args(model, build_args);
        compilation
            .diagnostics
            .extend(crate::resolve::check_build_arg_overrides(model, &build_args));
        compilation.diagnostics.sort();
    }
    let model = match (&compilation.spec, compilation.has_errors()) {
        (Some(model), false) => model,
        _ => return Err(spec_failure(&compilation.diagnostics, options, &files.source)),
    };

    match options.request_id.as_deref() {
        Some(REQUEST_OUTLINE) => {
            let target = options.target.as_deref();
            return Ok(metadata_only(subrequest::outline(
                model,
                &files.source,
                target,
                &build_args,
            )));
        }
        Some(REQUEST_TARGETS) => return Ok(metadata_only(subrequest::targets(model, &files.source))),
        _ => {}
    }

    let lower_options = LowerOptions {
        target: options.target.clone(),
        build_args,
    };
    let mut build = crate::lower::lower(model, &compilation.graph, &lower_options)
        .map_err(|errors| spec_failure(&errors, options, &files.source))?;

    let platforms = build_platforms(options, pong);
    apply_named_contexts(&mut build, &options.contexts, &platforms)?;
    let needed = base_images(&build, &platforms).map_err(|errors| spec_failure(&errors, options, &files.source))?;

    let names = LockNames {
        spec: options.filename.clone(),
        lock: Some(options.lock_filename()),
        lock_command: format!("stagec lock {}", options.filename),
    };
    let lock = match files.lock.take() {
        Some(lock) if check_lock(Some(&lock), &spec_images_digest(model), &needed, &names).is_empty() => lock,
        stale_or_missing => {
            tracing::info!(
                lock_found = stale_or_missing.is_some(),
                "the lock file does not cover this build; resolving the base images through BuildKit"
            );
            let resolve_mode = options.image_resolve_mode.as_deref().unwrap_or("default");
            let resolved = resolve_through_bridge(bridge, &needed, resolve_mode).await?;
            LockFile::new(spec_images_digest(model), resolved)
        }
    };

    let llb_options = LlbOptions {
        platforms,
        default_network: network_mode(options)?,
    };
    let caps = EngineCaps::listed("the engine's BuildKit", enabled(&pong.llb_caps));
    let llb = crate::llb::lower::lower_for_engine(&build, &lock, &llb_options, &caps)
        .map_err(|errors| spec_failure(&errors, options, &files.source))?;

    send_warnings(bridge, pong, &compilation.diagnostics, options, &files).await;

    solve_build(bridge, options, &llb, &files.source).await
}

/// Solves every `check` stage, then the output, and returns the output
/// with its image configuration.
async fn solve_build(
    bridge: &mut Bridge,
    options: &FrontendOptions,
    llb: &LlbBuild,
    source: &str,
) -> Result<FrontendOutput, FrontendFailure> {
    let source_info = SourceInfo {
        filename: spec_display_name(options),
        data: source,
        language: SPEC_LANGUAGE.to_string(),
    };
    // NOTE: `no-cache` with a list of stage names (`--no-cache-filter`)
    // solves every op again, not only those of the named stages.
    let no_cache = options.no_cache.is_some();

    for index in llb.checks() {
        tracing::info!(stage = %llb.stages[index].name, "building check stage");
        let definition = prepared(llb.definition(index, Some(&source_info)).definition, no_cache, options)?;
        bridge
            .solve(definition, true)
            .await
            .map_err(|status| FrontendFailure::from_status(&status))?;
    }

    let output = &llb.stages[llb.output];
    let definition = prepared(
        llb.definition(llb.output, Some(&source_info)).definition,
        no_cache,
        options,
    )?;
    let reference = bridge
        .solve(definition, false)
        .await
        .map_err(|status| FrontendFailure::from_status(&status))?;

    let config = image_config_with_labels(output.image_config.clone(), &options.labels);
    let config_bytes = serde_json::to_vec(&config)
        .map_err(|error| FrontendFailure::new(format!("the image configuration does not serialize: {error}")))?;
    Ok(FrontendOutput {
        reference: Some(reference),
        metadata: BTreeMap::from([(IMAGE_CONFIG_KEY.to_string(), config_bytes)]),
    })
}

/// Binds the definition's local sources to the client session and marks
/// every op to run again under `no-cache`.
fn prepared(
    definition: pb::Definition,
    no_cache: bool,
    options: &FrontendOptions,
) -> Result<pb::Definition, FrontendFailure> {
    crate::engine::prepare_definition(definition, no_cache, &options.session_id)
        .map(|prepared| prepared.definition)
        .map_err(|error| FrontendFailure::new(error.to_string()))
}

/// Reads the spec, and the lock file when the client has one, from the
/// local source that `docker build -f` sends.
async fn read_spec(bridge: &mut Bridge, options: &FrontendOptions) -> Result<SpecFiles, FrontendFailure> {
    let lock_filename = options.lock_filename();
    let local = LocalSource {
        name: options.spec_source.clone(),
        session_id: (!options.session_id.is_empty()).then(|| options.session_id.clone()),
        follow_paths: vec![options.filename.clone(), lock_filename.clone()],
        shared_key_hint: Some(options.spec_source.clone()),
        ..LocalSource::default()
    };
    let mut graph = Graph::new();
    let metadata = OpMetadata {
        custom_name: Some(format!("[internal] load build definition from {}", options.filename)),
        ..OpMetadata::default()
    };
    let fs = graph.source(SourceOp::local(&local), None, metadata);
    let marshalled = graph.marshal(fs, None);
    let vertex = marshalled.result_digest().unwrap_or_default();

    let reference = bridge
        .solve(marshalled.definition, false)
        .await
        .map_err(|status| FrontendFailure::from_status(&status))?;
    let bytes = bridge
        .read_file(&reference, &options.filename)
        .await
        .map_err(|status| {
            FrontendFailure::new(format!(
                "cannot read spec `{}` from the build's `{}` source: {}; name the spec with `docker build -f PATH`",
                options.filename,
                options.spec_source,
                status.message()
            ))
        })?;
    let source = String::from_utf8(bytes).map_err(|error| {
        FrontendFailure::new(format!(
            "spec `{}` is not valid UTF-8 (invalid byte at offset {}); KDL files must be UTF-8",
            options.filename,
            error.utf8_error().valid_up_to()
        ))
    })?;

    let lock = match bridge.read_file(&reference, &lock_filename).await {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let parsed = LockFile::parse(&text).map_err(|reason| {
                FrontendFailure::new(format!(
                    "lock file `{lock_filename}` is invalid: {reason}; run `stagec lock` to write it again, \
                     or delete it so that the frontend resolves the base images itself"
                ))
            })?;
            Some(parsed)
        }
        Err(status) => {
            tracing::debug!(lock = %lock_filename, error = %status.message(), "no lock file beside the spec");
            None
        }
    };
    Ok(SpecFiles { source, lock, vertex })
}

/// Docker's predefined proxy args. `docker build` and buildx send them as
/// build args whenever the client's config.json has `proxies`, without the
/// user passing `--build-arg` (Docker CLI 26.1 and buildx 0.13).
const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Drops the proxy args that the spec does not declare, so that a client
/// with proxies configured can build a spec that does not use them.
// TODO: the Dockerfile frontend also passes undeclared proxy args to every
// RUN; stagec passes a proxy arg only to the stages that declare it.
fn without_undeclared_proxy_args(
    spec: &crate::model::Spec,
    build_args: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let declared = |name: &str| {
        spec.args.iter().any(|arg| arg.name.value == name)
            || spec
                .stages
                .iter()
                .flat_map(|stage| &stage.steps)
                .any(|step| matches!(&step.kind, crate::model::StepKind::Arg(arg) if arg.name.value == name))
    };
    build_args
        .into_iter()
        .filter(|(name, _)| {
            let keep = !PROXY_ARGS.contains(&name.as_str()) || declared(name);
            if !keep {
                tracing::debug!(arg = %name, "ignoring a proxy build arg that the spec does not declare");
            }
            keep
        })
        .collect()
}

/// Returns the spec's name in messages and source maps: its file name.
fn spec_display_name(options: &FrontendOptions) -> String {
    options
        .filename
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .unwrap_or(&options.filename)
        .to_string()
}

fn spec_failure(diagnostics: &Diagnostics, options: &FrontendOptions, source: &str) -> FrontendFailure {
    FrontendFailure::from_diagnostics(diagnostics, &spec_display_name(options), source)
}

fn metadata_only(metadata: BTreeMap<String, Vec<u8>>) -> FrontendOutput {
    FrontendOutput {
        reference: None,
        metadata,
    }
}

/// Returns the target platform (`platform`, else the worker's) and the
/// build platform (the first platform of BuildKit's first worker).
fn build_platforms(options: &FrontendOptions, pong: &PongResponse) -> Platforms {
    let worker = pong
        .workers
        .first()
        .and_then(|worker| worker.platforms.first())
        .map(|platform| Platform {
            os: platform.os.clone(),
            architecture: platform.architecture.clone(),
            variant: (!platform.variant.is_empty()).then(|| platform.variant.clone()),
        });
    let build = worker.unwrap_or_else(process_platform);
    Platforms {
        target: options.platform.clone().unwrap_or_else(|| build.clone()),
        build,
    }
}

/// Returns the Linux platform this process runs on, in Go's names, for an
/// engine that lists no worker platform.
fn process_platform() -> Platform {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    Platform {
        os: "linux".to_string(),
        architecture: architecture.to_string(),
        variant: None,
    }
}

/// Returns the default network of run steps from `force-network-mode`,
/// which `docker build --network` sets.
fn network_mode(options: &FrontendOptions) -> Result<NetworkMode, FrontendFailure> {
    match options.network.as_deref() {
        None | Some("sandbox") | Some("default") => Ok(NetworkMode::Sandbox),
        Some("none") => Ok(NetworkMode::None),
        Some("host") => Ok(NetworkMode::Host),
        Some(other) => Err(FrontendFailure::new(format!(
            "invalid network mode `{other}`: use default, none or host"
        ))),
    }
}

fn enabled(caps: &[bollard_buildkit_proto::moby::buildkit::v1::apicaps::ApiCap]) -> BTreeSet<String> {
    caps.iter()
        .filter(|cap| cap.enabled)
        .map(|cap| cap.id.clone())
        .collect()
}

/// Adds the `label:` options to the image configuration, as `docker build --label` does.
fn image_config_with_labels(mut config: serde_json::Value, labels: &BTreeMap<String, String>) -> serde_json::Value {
    if labels.is_empty() {
        return config;
    }
    if !config.is_object() {
        config = serde_json::json!({});
    }
    let inner = config
        .as_object_mut()
        .expect("made an object above")
        .entry("config")
        .or_insert_with(|| serde_json::json!({}));
    if !inner.is_object() {
        *inner = serde_json::json!({});
    }
    let existing = inner
        .as_object_mut()
        .expect("made an object above")
        .entry("Labels")
        .or_insert_with(|| serde_json::json!({}));
    if !existing.is_object() {
        *existing = serde_json::json!({});
    }
    let map = existing.as_object_mut().expect("made an object above");
    for (name, value) in labels {
        map.insert(name.clone(), serde_json::Value::from(value.as_str()));
    }
    config
}

/// Shows the spec's warnings on the build's progress, when BuildKit takes them.
async fn send_warnings(
    bridge: &mut Bridge,
    pong: &PongResponse,
    diagnostics: &Diagnostics,
    options: &FrontendOptions,
    files: &SpecFiles,
) {
    if !enabled(&pong.frontend_api_caps).contains(WARNINGS_CAP) || files.vertex.is_empty() {
        return;
    }
    for diagnostic in diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.severity == Severity::Warning)
    {
        let position = |line: i32, character: i32| Some(pb::Position { line, character });
        let ranges = if diagnostic.labels.is_empty() {
            Vec::new()
        } else {
            let range = range_json(&files.source, diagnostic.primary_span());
            vec![pb::Range {
                start: position(range.start.line, range.start.character),
                end: position(range.end.line, range.end.character),
            }]
        };
        let request = WarnRequest {
            digest: files.vertex.clone(),
            level: 1,
            short: format!("{}: {}", diagnostic.code, diagnostic.message).into_bytes(),
            detail: diagnostic.help.iter().map(|help| help.clone().into_bytes()).collect(),
            url: String::new(),
            info: Some(pb::SourceInfo {
                filename: spec_display_name(options),
                data: files.source.as_bytes().to_vec(),
                definition: None,
                language: SPEC_LANGUAGE.to_string(),
            }),
            ranges,
        };
        if let Err(status) = bridge.warn(request).await {
            tracing::warn!(error = %status.message(), "failed to send a spec warning to BuildKit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_merge_into_config() {
        let config = serde_json::json!({"config": {"Labels": {"a": "1"}, "Cmd": ["/app"]}});
        let labels = BTreeMap::from([("b".to_string(), "2".to_string()), ("a".to_string(), "3".to_string())]);
        let merged = image_config_with_labels(config, &labels);
        assert_eq!(merged["config"]["Labels"], serde_json::json!({"a": "3", "b": "2"}));
        assert_eq!(merged["config"]["Cmd"], serde_json::json!(["/app"]));

        let empty = image_config_with_labels(serde_json::Value::Null, &labels);
        assert_eq!(empty["config"]["Labels"]["b"], "2");
    }

    #[test]
    fn network_mode_table() {
        let mut options = FrontendOptions::default();
        assert_eq!(network_mode(&options).expect("valid"), NetworkMode::Sandbox);
        options.network = Some("none".to_string());
        assert_eq!(network_mode(&options).expect("valid"), NetworkMode::None);
        options.network = Some("bridge".to_string());
        assert!(network_mode(&options).is_err());
    }

    #[test]
    fn undeclared_proxy_args_dropped() {
        let source = "stage \"app\" from=\"alpine:3\" {\n    arg \"https_proxy\"\n    arg \"MSG\"\n}\nimage \"app\" tag=\"app:1\"\n";
        let spec = crate::compile::check(source).spec.expect("a spec");
        let args = BTreeMap::from([
            ("HTTP_PROXY".to_string(), "http://proxy:3128".to_string()),
            ("NO_PROXY".to_string(), "localhost".to_string()),
            ("https_proxy".to_string(), "http://proxy:3128".to_string()),
            ("MSG".to_string(), "hi".to_string()),
            ("NOPE".to_string(), "1".to_string()),
        ]);
        let passed = without_undeclared_proxy_args(&spec, args);
        let names: Vec<&str> = passed.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["MSG", "NOPE", "https_proxy"],
            "an undeclared non-proxy arg stays, to be reported"
        );
    }

    #[test]
    fn display_name_is_file_name() {
        let options = FrontendOptions {
            filename: "specs/app.kdl".to_string(),
            ..FrontendOptions::default()
        };
        assert_eq!(spec_display_name(&options), "app.kdl");
    }
}
