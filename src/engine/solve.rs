//! Running one build: start the session, send the Control `Solve`, act as
//! its frontend (see gateway.rs), follow the `Status` stream, and turn the
//! outcome into a [`SolveResult`] or an [`EngineError`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard_buildkit_proto::moby::buildkit::v1::frontend::CacheOptionsEntry as FrontendCacheEntry;
use bollard_buildkit_proto::moby::buildkit::v1::{
    CacheOptions, CacheOptionsEntry, Exporter, SolveRequest as ControlSolveRequest, SolveResponse, StatusRequest,
};
use bollard_buildkit_proto::pb::Definition;
use futures::future::{Either, select};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use super::cache::{CacheEntry, content_stores, resolve_local_caches, update_export_index};
use super::capabilities::{EngineCapabilities, check_definition};
use super::connect::EngineInfo;
use super::definition::{PreparedDefinition, prepare_definition};
use super::error::{EngineError, SolveFailure};
use super::exporter::{Destination, MOBY_EXPORTER, Output};
use super::gateway::{FrontendDefinitions, FrontendError, IMAGE_CONFIG_KEY, PLATFORMS_KEY, run_frontend};
use super::progress::{ProgressSink, VertexTracker};
use super::session::{SecretSource, Session, SessionConfig};
use super::transport::Endpoint;
use super::{control_client, transport_error};

mod outcome;

use outcome::{build_outcome, is_cancellation};

/// Session name that the engine shows in its logs.
const SESSION_NAME: &str = "stagec";

/// How long the status stream may go on after the build ended. BuildKit
/// closes it right away, so this only guards against a stream left open.
const STATUS_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the status stream may go on after a build that ended before
/// it sent any status. Such a build was never registered, and BuildKit
/// would hold the stream for 6 s before it returns "no such job".
const UNREGISTERED_STATUS_TIMEOUT: Duration = Duration::from_millis(200);

/// One build to run.
#[derive(Debug, Clone)]
pub struct SolveRequest {
    /// The LLB graph, whose last op names the result.
    pub definition: Definition,
    /// Local folders served by FileSync, by the name that `local://`
    /// sources use. Only these folders can be read by the engine.
    pub local_dirs: BTreeMap<String, PathBuf>,
    /// Secrets served to `secret` mounts and secret environment variables, by ID.
    pub secrets: BTreeMap<String, SecretSource>,
    /// OCI image configuration of the result, such as `{"architecture": ...,
    /// "os": ..., "config": {"Env": [...], "Cmd": [...], ...}}`, or `Null`.
    pub image_config: serde_json::Value,
    /// Names of the image in the engine's image store. With no tags the
    /// result is built but not exported, which suits builds that only check.
    pub tags: Vec<String>,
    /// Runs every op again instead of taking it from the build cache.
    pub no_cache: bool,
    /// Options for the frontend, passed through as the Solve's `FrontendAttrs`.
    pub frontend_attrs: BTreeMap<String, String>,
    /// Outputs of the result. When empty, a request with tags is stored in
    /// the engine's image store under them, and one without is not exported.
    pub outputs: Vec<Output>,
    /// Build cache to export after the build (`--cache-to`).
    pub cache_exports: Vec<CacheEntry>,
    /// Build cache to import before the build (`--cache-from`).
    pub cache_imports: Vec<CacheEntry>,
    /// Attributes added to every exporter, such as `source-date-epoch`.
    pub exporter_attrs: BTreeMap<String, String>,
    /// For a multi-platform build, the result of each target platform, in
    /// the order of the image index. They replace `definition` and
    /// `image_config`, which such a request leaves unused.
    pub platform_results: Vec<PlatformResult>,
}

/// The result of one target platform of a multi-platform build.
#[derive(Debug, Clone)]
pub struct PlatformResult {
    pub platform: crate::model::Platform,
    pub definition: Definition,
    /// OCI image configuration of this platform's image, or `Null`.
    pub image_config: serde_json::Value,
}

impl SolveRequest {
    /// Returns a request for `definition` with nothing else set.
    pub fn new(definition: Definition) -> SolveRequest {
        SolveRequest {
            definition,
            local_dirs: BTreeMap::new(),
            secrets: BTreeMap::new(),
            image_config: serde_json::Value::Null,
            tags: Vec::new(),
            no_cache: false,
            frontend_attrs: BTreeMap::new(),
            outputs: Vec::new(),
            cache_exports: Vec::new(),
            cache_imports: Vec::new(),
            exporter_attrs: BTreeMap::new(),
            platform_results: Vec::new(),
        }
    }

    /// Returns the outputs of the build: the written ones, or the image
    /// store when there are tags.
    fn effective_outputs(&self) -> Vec<Output> {
        if self.outputs.is_empty() && !self.tags.is_empty() {
            vec![Output::image_store()]
        } else {
            // BuildKit 0.13 registers no `cacheonly` exporter, so that output
            // is a solve without an exporter.
            self.outputs
                .iter()
                .filter(|output| output.kind != crate::engine::exporter::OutputKind::Cacheonly)
                .cloned()
                .collect()
        }
    }
}

/// Outcome of a successful build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolveResult {
    /// ID of the exported image (`sha256:...`), which `docker run` accepts;
    /// `None` when the request had no tags.
    pub image_digest: Option<String>,
    /// The exporter's response, such as `containerimage.digest`,
    /// `containerimage.config.digest` and `image.name`.
    pub exporter_response: BTreeMap<String, String>,
    /// Encoded size of all FileSync packets sent for the local folders:
    /// stats of the listed entries plus the content of requested files.
    pub bytes_sent_by_filesync: u64,
}

/// Runs one build. `capabilities` are the engine's, which every op's
/// declared capabilities must be among.
pub(crate) async fn solve(
    endpoint: &Endpoint,
    channel: &Channel,
    info: &EngineInfo,
    capabilities: &EngineCapabilities,
    request: SolveRequest,
    mut progress: impl ProgressSink,
) -> Result<SolveResult, EngineError> {
    let local_dirs = check_local_dirs(&request.local_dirs)?;
    let outputs = request.effective_outputs();
    let output_destinations: BTreeMap<usize, Destination> = outputs
        .iter()
        .enumerate()
        .filter_map(|(index, output)| output.destination.clone().map(|destination| (index, destination)))
        .collect();
    for (id, source) in &request.secrets {
        source.read(id)?;
    }
    let mut cache_imports = request.cache_imports.clone();
    resolve_local_caches(&request.cache_exports, &mut cache_imports)
        .map_err(|error| EngineError::LocalCache(error.0))?;
    let metadata = if request.platform_results.is_empty() {
        result_metadata(&request.image_config)?
    } else {
        platforms_metadata(&request.platform_results)?
    };
    let build_ref = random_id();
    let session_id = random_id();
    let (definitions, entitlements) = if request.platform_results.is_empty() {
        let PreparedDefinition {
            definition,
            entitlements,
        } = prepare_definition(request.definition, request.no_cache, &session_id)?;
        check_definition(&definition, capabilities, info)?;
        (FrontendDefinitions::Single(definition), entitlements)
    } else {
        let mut definitions = Vec::with_capacity(request.platform_results.len());
        let mut entitlements = Vec::new();
        for result in request.platform_results {
            let prepared = prepare_definition(result.definition, request.no_cache, &session_id)?;
            check_definition(&prepared.definition, capabilities, info)?;
            definitions.push((result.platform.to_string(), prepared.definition));
            entitlements.extend(prepared.entitlements);
        }
        entitlements.sort();
        entitlements.dedup();
        (FrontendDefinitions::PerPlatform(definitions), entitlements)
    };

    let session = Session::start(
        endpoint,
        channel,
        SessionConfig {
            id: session_id.clone(),
            name: SESSION_NAME.to_string(),
            shared_key: shared_key(&local_dirs),
            local_dirs,
            secrets: request.secrets,
            output_destinations,
            content_stores: content_stores(&request.cache_exports, &cache_imports),
        },
    )
    .await?;

    let mut exporters = exporters(&outputs, &request.tags, &request.exporter_attrs);
    // A standalone buildkitd has no moby exporter, and its `image` exporter
    // stores the image in its own image store.
    for exporter in &mut exporters {
        if exporter.r#type == MOBY_EXPORTER {
            exporter.r#type.clone_from(&info.image_exporter);
        }
    }
    let mut control_request = control_request(&build_ref, &session_id, exporters, request.frontend_attrs, entitlements);
    control_request.cache = Some(cache_options(&request.cache_exports, &cache_imports));
    tracing::debug!(build = %build_ref, session = %session_id, tags = ?request.tags, "starting build");

    let mut tracker = VertexTracker::new();
    let status_seen = AtomicBool::new(false);
    let (solved, status) = {
        let cache_imports = frontend_cache_imports(&cache_imports);
        let build = run_build(
            channel,
            control_request,
            &build_ref,
            definitions,
            metadata,
            cache_imports,
        );
        let status = follow_status(channel, &build_ref, &mut tracker, &mut progress, &status_seen);
        tokio::pin!(build, status);
        match select(build, status).await {
            Either::Left((solved, status)) => {
                let drain_timeout = if status_seen.load(Ordering::Relaxed) {
                    STATUS_DRAIN_TIMEOUT
                } else {
                    UNREGISTERED_STATUS_TIMEOUT
                };
                let status = tokio::time::timeout(drain_timeout, status).await.unwrap_or(Ok(()));
                (solved, status)
            }
            Either::Right((status, build)) => (build.await, status),
        }
    };
    let bytes_sent_by_filesync = session.bytes_sent();
    drop(session);

    if let Err(status) = &status {
        tracing::debug!(build = %build_ref, error = %status, "status stream ended with an error");
    }
    let response = solved.map_err(|status| solve_error(endpoint, &status, &tracker))?;

    let exporter_response: BTreeMap<String, String> = response.exporter_response.into_iter().collect();
    update_export_index(&request.cache_exports, &exporter_response)
        .map_err(|error| EngineError::LocalCache(error.0))?;
    let stores_image = outputs.iter().any(|output| output.exporter_type() == MOBY_EXPORTER);
    let image_digest = if stores_image {
        exporter_response.get("containerimage.digest").cloned()
    } else {
        None
    };
    tracing::debug!(build = %build_ref, image = ?image_digest, bytes_sent_by_filesync, "build finished");
    Ok(SolveResult {
        image_digest,
        exporter_response,
        bytes_sent_by_filesync,
    })
}

/// Sends the Control `Solve` and serves as its frontend until it ends.
async fn run_build(
    channel: &Channel,
    control_request: ControlSolveRequest,
    build_ref: &str,
    definitions: FrontendDefinitions,
    metadata: HashMap<String, Vec<u8>>,
    cache_imports: Vec<FrontendCacheEntry>,
) -> Result<SolveResponse, tonic::Status> {
    let mut control = control_client(channel);
    let control_solve = control.solve(control_request);
    let frontend = run_frontend(channel, build_ref, definitions, metadata, cache_imports);
    tokio::pin!(control_solve, frontend);

    let (solved, frontend_error) = match select(control_solve, frontend).await {
        Either::Left((solved, frontend)) => {
            // A build canceled because the frontend failed can end before the
            // frontend's own calls return, and only the frontend's error names
            // the cause. Any other outcome of the Control Solve is final, and
            // the frontend would only wait for a build that is gone.
            let frontend_error = match &solved {
                Err(status) if is_cancellation(status.message()) => {
                    match tokio::time::timeout(FRONTEND_ERROR_WAIT, frontend).await {
                        Ok(Err(error)) => Some(error),
                        Ok(Ok(())) | Err(_) => None,
                    }
                }
                _ => None,
            };
            (solved.map(tonic::Response::into_inner), frontend_error)
        }
        Either::Right((Ok(()), control_solve)) => (control_solve.await.map(tonic::Response::into_inner), None),
        Either::Right((Err(FrontendError::Returned(status)), control_solve)) => (
            control_solve.await.map(tonic::Response::into_inner),
            Some(FrontendError::Returned(status)),
        ),
        // BuildKit never got the frontend's outcome, so the Control Solve
        // would wait for it until the connection closes.
        Either::Right((Err(FrontendError::NotReturned(status)), _control_solve)) => {
            tracing::debug!(build = %build_ref, error = %status, "the frontend could not return its result");
            return Err(status);
        }
    };

    build_outcome(build_ref, solved, frontend_error)
}

/// How long a Control Solve that ended as canceled waits for the frontend's
/// error. The frontend is then one `LLBBridge.Return` round trip from done.
const FRONTEND_ERROR_WAIT: Duration = Duration::from_secs(5);

/// Reads the `Status` stream of the build into `tracker` and `progress`
/// until BuildKit closes it at the end of the build. Sets `seen` at the
/// first status message.
async fn follow_status(
    channel: &Channel,
    build_ref: &str,
    tracker: &mut VertexTracker,
    progress: &mut dyn ProgressSink,
    seen: &AtomicBool,
) -> Result<(), tonic::Status> {
    let mut control = control_client(channel);
    let request = StatusRequest {
        r#ref: build_ref.to_string(),
    };
    let mut stream = control.status(request).await?.into_inner();
    while let Some(message) = stream.message().await? {
        seen.store(true, Ordering::Relaxed);
        tracker.apply(message, progress);
    }
    Ok(())
}

/// Returns the Control exporters for `outputs`, in order, because the
/// session's FileSend service finds an output by its exporter's index.
fn exporters(outputs: &[Output], tags: &[String], common_attrs: &BTreeMap<String, String>) -> Vec<Exporter> {
    outputs
        .iter()
        .map(|output| {
            let mut attrs = common_attrs.clone();
            attrs.extend(output.exporter_attrs(tags));
            Exporter {
                r#type: output.exporter_type().to_string(),
                attrs: attrs.into_iter().collect(),
            }
        })
        .collect()
}

/// Returns the Control cache options. A `type=local` folder goes into the
/// attributes as written; BuildKit reads it through the session.
fn cache_options(exports: &[CacheEntry], imports: &[CacheEntry]) -> CacheOptions {
    let entry = |cache: &CacheEntry| CacheOptionsEntry {
        r#type: cache.kind.name().to_string(),
        attrs: cache.attrs.clone().into_iter().collect(),
    };
    CacheOptions {
        exports: exports.iter().map(entry).collect(),
        imports: imports.iter().map(entry).collect(),
        ..CacheOptions::default()
    }
}

/// Returns the cache imports in the form the frontend's solve takes them.
fn frontend_cache_imports(imports: &[CacheEntry]) -> Vec<FrontendCacheEntry> {
    imports
        .iter()
        .map(|cache| FrontendCacheEntry {
            r#type: cache.kind.name().to_string(),
            attrs: cache.attrs.clone().into_iter().collect(),
        })
        .collect()
}

fn control_request(
    build_ref: &str,
    session_id: &str,
    exporters: Vec<Exporter>,
    frontend_attrs: BTreeMap<String, String>,
    entitlements: Vec<String>,
) -> ControlSolveRequest {
    let mut request = ControlSolveRequest {
        r#ref: build_ref.to_string(),
        session: session_id.to_string(),
        frontend_attrs: frontend_attrs.into_iter().collect(),
        cache: Some(CacheOptions::default()),
        entitlements,
        ..ControlSolveRequest::default()
    };
    // BuildKit before 0.13 (Docker Engine before 26) reads only the single
    // exporter fields, and 0.13 ignores them when `Exporters` is set.
    if let [exporter] = exporters.as_slice() {
        request.exporter_deprecated = exporter.r#type.clone();
        request.exporter_attrs_deprecated = exporter.attrs.clone();
    }
    request.exporters = exporters;
    request
}

/// Turns a failed Control `Solve` into the error for the user: a lost
/// connection, or the failed step with its last log lines.
fn solve_error(endpoint: &Endpoint, status: &tonic::Status, tracker: &VertexTracker) -> EngineError {
    let failed = tracker.failed_vertex();
    let step_failed = failed.as_ref().is_some_and(|vertex| !is_cancellation(&vertex.error));
    let message = match transport_error(endpoint, status) {
        // After a step fails, the engine tears down the build's calls and
        // streams, and that teardown is no fault of the connection.
        Some(error) if step_failed => {
            tracing::debug!(error = %error, "the connection closed after a build step failed");
            failed.as_ref().map(|vertex| vertex.error.clone()).unwrap_or_default()
        }
        Some(error) => return error,
        None if status.message().is_empty() => status.code().to_string(),
        None => status.message().to_string(),
    };
    EngineError::Solve(SolveFailure {
        vertex: failed.as_ref().map(|vertex| vertex.name.clone()),
        message,
        last_logs: failed.map(|vertex| vertex.last_logs).unwrap_or_default(),
    })
}

/// Checks that every local folder exists and returns their canonical paths.
fn check_local_dirs(local_dirs: &BTreeMap<String, PathBuf>) -> Result<BTreeMap<String, PathBuf>, EngineError> {
    let mut checked = BTreeMap::new();
    for (name, path) in local_dirs {
        let local_dir_error = |cause: String| EngineError::LocalDir {
            name: name.clone(),
            path: path.clone(),
            cause,
        };
        if name.is_empty() {
            return Err(local_dir_error("the folder name is empty".to_string()));
        }
        let canonical = std::fs::canonicalize(path).map_err(|error| local_dir_error(error.to_string()))?;
        if !canonical.is_dir() {
            return Err(local_dir_error("not a folder".to_string()));
        }
        checked.insert(name.clone(), canonical);
    }
    Ok(checked)
}

/// Returns the result metadata that carries the image configuration.
fn result_metadata(image_config: &serde_json::Value) -> Result<HashMap<String, Vec<u8>>, EngineError> {
    match image_config {
        serde_json::Value::Null => Ok(HashMap::new()),
        serde_json::Value::Object(_) => {
            let encoded = serde_json::to_vec(image_config).map_err(|error| EngineError::InvalidRequest {
                detail: format!("image configuration does not encode: {error}"),
            })?;
            Ok(HashMap::from([(IMAGE_CONFIG_KEY.to_string(), encoded)]))
        }
        _ => Err(EngineError::InvalidRequest {
            detail: "the image configuration is not a JSON object".to_string(),
        }),
    }
}

/// Returns the result metadata of a multi-platform build: the platforms in
/// index order, and each platform's image configuration under its ID.
fn platforms_metadata(results: &[PlatformResult]) -> Result<HashMap<String, Vec<u8>>, EngineError> {
    let mut metadata = HashMap::new();
    let mut platforms = Vec::with_capacity(results.len());
    for result in results {
        let id = result.platform.to_string();
        for (key, config) in result_metadata(&result.image_config)? {
            metadata.insert(format!("{key}/{id}"), config);
        }
        let mut platform = serde_json::json!({
            "os": result.platform.os,
            "architecture": result.platform.architecture,
        });
        if let Some(variant) = &result.platform.variant {
            platform["variant"] = serde_json::Value::from(variant.as_str());
        }
        platforms.push(serde_json::json!({ "ID": id, "Platform": platform }));
    }
    let encoded = serde_json::to_vec(&serde_json::json!({ "Platforms": platforms })).map_err(|error| {
        EngineError::InvalidRequest {
            detail: format!("the platform list does not encode: {error}"),
        }
    })?;
    metadata.insert(PLATFORMS_KEY.to_string(), encoded);
    Ok(metadata)
}

/// Key under which the engine caches the local folders between builds:
/// the same folders under the same names get the same key.
fn shared_key(local_dirs: &BTreeMap<String, PathBuf>) -> String {
    let mut hasher = Sha256::new();
    for (name, path) in local_dirs {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(path.as_os_str().as_encoded_bytes());
        hasher.update([0]);
    }
    format!("{:x}", hasher.finalize())
}

/// Returns a new random ID for a build or a session: 32 hex digits.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Without an OS random source, IDs only need to differ between the
        // builds that run at the same time.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_nanos())
            .unwrap_or_default();
        let seed = format!("{nanos}-{}-{:p}", std::process::id(), &bytes);
        bytes.copy_from_slice(&Sha256::digest(seed.as_bytes())[..16]);
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_select_moby_exporter() {
        let tags = vec!["a:1".to_string(), "b:2".to_string()];
        let exporters = exporters(&[Output::image_store()], &tags, &BTreeMap::new());
        let request = control_request("build", "session", exporters, BTreeMap::new(), vec![]);
        assert_eq!(request.exporters.len(), 1);
        assert_eq!(request.exporters[0].r#type, "moby");
        assert_eq!(request.exporters[0].attrs["name"], "a:1,b:2");
        assert_eq!(request.exporter_deprecated, "moby");
        assert!(request.definition.is_none(), "the definition goes through the frontend");
        assert_eq!(request.session, "session");
    }

    #[test]
    fn no_tags_no_exporter() {
        let request = control_request("build", "session", Vec::new(), BTreeMap::new(), vec![]);
        assert!(request.exporters.is_empty());
        assert!(request.exporter_deprecated.is_empty());
    }

    #[test]
    fn image_config_must_be_object() {
        assert!(
            result_metadata(&serde_json::Value::Null)
                .expect("null is allowed")
                .is_empty()
        );
        let config = serde_json::json!({"config": {"Cmd": ["/app"]}});
        let metadata = result_metadata(&config).expect("object is allowed");
        assert_eq!(metadata[IMAGE_CONFIG_KEY], br#"{"config":{"Cmd":["/app"]}}"#);
        assert!(result_metadata(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn platforms_metadata_keys() {
        let result = |text: &str| PlatformResult {
            platform: crate::model::Platform::parse(text).expect("valid platform"),
            definition: Definition::default(),
            image_config: serde_json::json!({"architecture": text}),
        };
        let metadata = platforms_metadata(&[result("linux/amd64"), result("linux/arm/v7")]).expect("encodes");

        let platforms: serde_json::Value = serde_json::from_slice(&metadata[PLATFORMS_KEY]).expect("valid JSON");
        assert_eq!(platforms["Platforms"][0]["ID"], "linux/amd64");
        assert_eq!(platforms["Platforms"][0]["Platform"]["architecture"], "amd64");
        assert_eq!(platforms["Platforms"][1]["Platform"]["variant"], "v7");
        assert_eq!(
            metadata["containerimage.config/linux/arm/v7"],
            br#"{"architecture":"linux/arm/v7"}"#
        );
        assert!(
            !metadata.contains_key(IMAGE_CONFIG_KEY),
            "only per-platform configurations"
        );
    }

    #[test]
    fn missing_local_dir_message() {
        let dirs = BTreeMap::from([("context".to_string(), PathBuf::from("/nonexistent/stagec-context"))]);
        let error = check_local_dirs(&dirs).expect_err("missing folder");
        assert!(
            error
                .to_string()
                .starts_with("build context \"context\" at /nonexistent/stagec-context: "),
            "{error}"
        );
    }

    #[test]
    fn random_ids_differ() {
        let first = random_id();
        assert_eq!(first.len(), 32);
        assert_ne!(first, random_id());
    }

    #[test]
    fn shared_key_stable() {
        let dirs = BTreeMap::from([("context".to_string(), PathBuf::from("/src"))]);
        assert_eq!(shared_key(&dirs), shared_key(&dirs.clone()));
        let other = BTreeMap::from([("context".to_string(), PathBuf::from("/other"))]);
        assert_ne!(shared_key(&dirs), shared_key(&other));
    }
}
