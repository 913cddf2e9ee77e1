//! stagec as its own build frontend, through the LLBBridge (gateway) service
//! on the Control connection.
//!
//! A Control `Solve` with a definition exports the result with empty
//! metadata. The `moby` exporter of Docker Engine 26.1 reads the image
//! configuration only from the result metadata key `containerimage.config`
//! and ignores exporter attributes other than `name`.
//!
//! So stagec sends a Control `Solve` without a definition and frontend,
//! which makes BuildKit wait for a frontend on the client side. As that
//! frontend, stagec solves the definition with `LLBBridge.Solve` and returns
//! the result with its metadata with `LLBBridge.Return`. Docker's buildx
//! builds the same way. The capability probe (capabilities.rs) is such a
//! build too, whose frontend only calls `LLBBridge.Ping`.

use std::collections::HashMap;

use bollard_buildkit_proto::google::rpc::Status as RpcStatus;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::{
    CacheOptionsEntry, PingRequest, PongResponse, Ref, RefMap, ResolveImageConfigRequest, ResolveImageConfigResponse,
    Result as FrontendResult, ReturnRequest, SolveRequest as BridgeSolveRequest, SolveResponse as BridgeSolveResponse,
    result,
};
use bollard_buildkit_proto::pb::Definition;
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use super::MAX_GRPC_MESSAGE_BYTES;

/// gRPC metadata key that ties an LLBBridge call to the Control `Solve`
/// with the same `Ref`.
const BUILD_ID_KEY: &str = "buildkit-controlapi-buildid";

/// Result metadata key of the image configuration (OCI image config JSON).
/// A multi-platform result has one per platform, with `/PLATFORM_ID` appended.
pub(crate) const IMAGE_CONFIG_KEY: &str = "containerimage.config";

/// Result metadata key of a multi-platform result's platforms: JSON
/// `{"Platforms": [{"ID": ..., "Platform": {OCI platform}}]}`, in the order
/// of the image index. BuildKit v0.13 names it in exporter/containerimage/exptypes.
pub(crate) const PLATFORMS_KEY: &str = "refs.platforms";

/// The definitions that the frontend solves for one build.
#[derive(Debug, Clone)]
pub(crate) enum FrontendDefinitions {
    /// A single-platform build with one result.
    Single(Definition),
    /// One definition per target platform, by platform ID such as
    /// `linux/arm64`, returned as a result map under the same IDs.
    PerPlatform(Vec<(String, Definition)>),
}

/// How often a bridge call is retried while BuildKit has not registered
/// the build yet. The engine waits up to 3 s per call before it returns
/// "no such job", so this allows about 15 s.
const REGISTRATION_ATTEMPTS: usize = 5;

/// Solves `definition` as the frontend of the build `build_ref` and hands
/// the result with `metadata` to BuildKit. A failure is handed to BuildKit
/// too, so that the Control `Solve` ends with it. BuildKit applies the
/// Control request's cache imports only to a definition it solves itself,
/// so a frontend passes `cache_imports` with its own solve.
pub(crate) async fn run_frontend(
    channel: &Channel,
    build_ref: &str,
    definitions: FrontendDefinitions,
    metadata: HashMap<String, Vec<u8>>,
    cache_imports: Vec<CacheOptionsEntry>,
) -> Result<(), FrontendError> {
    let mut bridge = LlbBridgeClient::new(channel.clone()).max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES);

    let solve_request = |definition: Definition| BridgeSolveRequest {
        definition: Some(definition),
        allow_result_return: true,
        allow_result_array_ref: true,
        cache_imports: cache_imports.clone(),
        ..BridgeSolveRequest::default()
    };
    let solved = match definitions {
        FrontendDefinitions::Single(definition) => {
            let definition_bytes = definition.encoded_len();
            solve_when_registered(&mut bridge, build_ref, solve_request(definition))
                .await
                .map(|response| result_ref(&response))
                .map_err(|status| definition_error(status, definition_bytes))
        }
        FrontendDefinitions::PerPlatform(definitions) => {
            // BuildKit solves the platforms in parallel when the calls overlap.
            let solves = definitions.into_iter().map(|(platform_id, definition)| {
                let mut bridge = bridge.clone();
                let request = solve_request(definition);
                let definition_bytes = request.definition.as_ref().map_or(0, Message::encoded_len);
                async move {
                    let response = solve_when_registered(&mut bridge, build_ref, request)
                        .await
                        .map_err(|status| definition_error(status, definition_bytes))?;
                    platform_ref(&response)
                        .map(|reference| (platform_id.clone(), reference))
                        .ok_or_else(|| {
                            tonic::Status::internal(format!(
                                "BuildKit returned no result reference for platform {platform_id}"
                            ))
                        })
                }
            });
            futures::future::try_join_all(solves).await.map(|refs| {
                Some(result::Result::Refs(RefMap {
                    refs: refs.into_iter().collect(),
                }))
            })
        }
    };

    let return_request = match &solved {
        Ok(reference) => ReturnRequest {
            result: Some(FrontendResult {
                metadata,
                result: reference.clone().map(without_definitions),
                ..FrontendResult::default()
            }),
            error: None,
        },
        Err(status) => ReturnRequest {
            result: None,
            error: Some(RpcStatus {
                code: status.code() as i32,
                message: status.message().to_string(),
                details: vec![],
            }),
        },
    };
    let return_bytes = return_request.encoded_len();
    let config_bytes: usize = metadata_bytes(&return_request);
    let request = with_build_id(return_request, build_ref).map_err(FrontendError::NotReturned)?;
    if let Err(status) = bridge.r#return(request).await {
        tracing::debug!(build = %build_ref, error = %status, return_bytes, "LLBBridge.Return failed");
        return Err(FrontendError::NotReturned(return_error(
            status,
            return_bytes,
            config_bytes,
        )));
    }

    solved.map(|_| ()).map_err(FrontendError::Returned)
}

/// A failed frontend, by whether BuildKit got its outcome.
#[derive(Debug)]
pub(crate) enum FrontendError {
    /// The frontend failed, and `LLBBridge.Return` handed the error to
    /// BuildKit, so the Control `Solve` ends with it.
    Returned(tonic::Status),
    /// `LLBBridge.Return` failed, so BuildKit would wait for a result that
    /// never comes, and the Control `Solve` would not end on its own.
    NotReturned(tonic::Status),
}

impl FrontendError {
    pub(crate) fn status(&self) -> &tonic::Status {
        match self {
            FrontendError::Returned(status) | FrontendError::NotReturned(status) => status,
        }
    }
}

/// Returns the bytes of result metadata in a Return request, which is
/// where the image configurations are.
fn metadata_bytes(request: &ReturnRequest) -> usize {
    request
        .result
        .iter()
        .flat_map(|result| result.metadata.values())
        .map(Vec::len)
        .sum()
}

/// Rewords an `LLBBridge.Solve` that the engine rejected as too large,
/// because its gRPC text ("received message larger than max") names no field.
fn definition_error(status: tonic::Status, definition_bytes: usize) -> tonic::Status {
    if status.code() != tonic::Code::ResourceExhausted {
        return status;
    }
    tonic::Status::resource_exhausted(format!(
        "the LLB definition ({definition_bytes} bytes) is too large for the engine's gRPC message size limit: {}",
        status.message()
    ))
}

/// Rewords a Return that the engine rejected as too large, because its
/// gRPC text ("received message larger than max") names no field.
fn return_error(status: tonic::Status, return_bytes: usize, config_bytes: usize) -> tonic::Status {
    if status.code() != tonic::Code::ResourceExhausted {
        return status;
    }
    tonic::Status::resource_exhausted(format!(
        "the image configuration ({config_bytes} bytes of result metadata, {return_bytes} bytes in all) \
         is too large for the engine's gRPC message size limit: {}",
        status.message()
    ))
}

/// Calls `LLBBridge.Solve`, and retries while the engine has not registered
/// the build yet, because the Control `Solve` that registers it may be
/// handled after this call.
async fn solve_when_registered(
    bridge: &mut LlbBridgeClient<Channel>,
    build_ref: &str,
    request: BridgeSolveRequest,
) -> Result<BridgeSolveResponse, tonic::Status> {
    let mut attempt = 1;
    loop {
        match bridge.solve(with_build_id(request.clone(), build_ref)?).await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if is_unregistered(&status) && attempt < REGISTRATION_ATTEMPTS => {
                tracing::debug!(build = %build_ref, attempt, "engine has not registered the build yet, retrying");
                attempt += 1;
            }
            Err(status) => return Err(status),
        }
    }
}

/// Calls `LLBBridge.Ping` as the frontend of the build `build_ref`, which
/// returns the BuildKit capabilities, then ends the build with an empty
/// result. The build must have been started without a definition or
/// frontend, so that BuildKit waits for this frontend.
pub(crate) async fn ping_and_return(channel: &Channel, build_ref: &str) -> Result<PongResponse, tonic::Status> {
    let mut bridge = LlbBridgeClient::new(channel.clone()).max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES);

    let mut attempt = 1;
    let pinged = loop {
        match bridge.ping(with_build_id(PingRequest {}, build_ref)?).await {
            Ok(response) => break Ok(response.into_inner()),
            Err(status) if is_unregistered(&status) && attempt < REGISTRATION_ATTEMPTS => {
                tracing::debug!(build = %build_ref, attempt, "engine has not registered the probe yet, retrying");
                attempt += 1;
            }
            Err(status) => break Err(status),
        }
    };

    let return_request = match &pinged {
        Ok(_) => ReturnRequest {
            result: Some(FrontendResult::default()),
            error: None,
        },
        Err(status) => ReturnRequest {
            result: None,
            error: Some(RpcStatus {
                code: status.code() as i32,
                message: status.message().to_string(),
                details: vec![],
            }),
        },
    };
    let returned = bridge.r#return(with_build_id(return_request, build_ref)?).await;

    let pong = pinged?;
    returned.map(|_| pong)
}

/// Resolves the image configuration of every request with
/// `LLBBridge.ResolveImageConfig` as the frontend of the build `build_ref`,
/// then ends the build with an empty result. The build must have been
/// started without a definition or frontend. Returns one outcome per
/// request, in order, so that a missing image fails alone.
pub(crate) async fn resolve_and_return(
    channel: &Channel,
    build_ref: &str,
    requests: Vec<ResolveImageConfigRequest>,
) -> Result<Vec<Result<ResolveImageConfigResponse, tonic::Status>>, tonic::Status> {
    let mut bridge = LlbBridgeClient::new(channel.clone()).max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES);

    let mut outcomes = Vec::with_capacity(requests.len());
    for request in requests {
        let mut attempt = 1;
        let outcome = loop {
            match bridge
                .resolve_image_config(with_build_id(request.clone(), build_ref)?)
                .await
            {
                Ok(response) => break Ok(response.into_inner()),
                Err(status) if is_unregistered(&status) && attempt < REGISTRATION_ATTEMPTS => {
                    tracing::debug!(build = %build_ref, attempt, "engine has not registered the resolve build yet, retrying");
                    attempt += 1;
                }
                Err(status) => break Err(status),
            }
        };
        outcomes.push(outcome);
    }

    let return_request = ReturnRequest {
        result: Some(FrontendResult::default()),
        error: None,
    };
    bridge.r#return(with_build_id(return_request, build_ref)?).await?;
    Ok(outcomes)
}

/// Returns whether BuildKit rejected a bridge call because the build it
/// names is not registered (yet).
fn is_unregistered(status: &tonic::Status) -> bool {
    status.message().contains("no such job")
}

/// Returns the reference to the solved result of one platform. A result
/// map needs references by ID, which every engine with result return
/// support (BuildKit 0.8 and later) sets.
fn platform_ref(response: &BridgeSolveResponse) -> Option<Ref> {
    match response.result.as_ref()?.result.as_ref()? {
        result::Result::Ref(reference) => Some(reference.clone()),
        _ => None,
    }
}

/// Returns the reference to the solved result. An engine without result
/// return support (an old BuildKit) sets only the deprecated `ref` string.
fn result_ref(response: &BridgeSolveResponse) -> Option<result::Result> {
    match response.result.as_ref().and_then(|solved| solved.result.clone()) {
        Some(reference) => Some(reference),
        None if !response.r#ref.is_empty() => Some(result::Result::RefDeprecated(response.r#ref.clone())),
        None => None,
    }
}

/// Drops the definitions that BuildKit echoes in a solved result's
/// references. BuildKit 0.13 finds a returned reference by its ID alone,
/// and the echoed definition would count a second time against its 4 MiB
/// limit on the Return message.
fn without_definitions(result: result::Result) -> result::Result {
    match result {
        result::Result::Ref(reference) => result::Result::Ref(Ref { def: None, ..reference }),
        result::Result::Refs(map) => result::Result::Refs(RefMap {
            refs: map
                .refs
                .into_iter()
                .map(|(platform_id, reference)| (platform_id, Ref { def: None, ..reference }))
                .collect(),
        }),
        other => other,
    }
}

fn with_build_id<T>(message: T, build_ref: &str) -> Result<tonic::Request<T>, tonic::Status> {
    let mut request = tonic::Request::new(message);
    let value = MetadataValue::try_from(build_ref)
        .map_err(|_| tonic::Status::internal(format!("build ID {build_ref:?} is not valid gRPC metadata")))?;
    request.metadata_mut().insert(BUILD_ID_KEY, value);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solved_ref(id: &str) -> Ref {
        Ref {
            id: id.to_string(),
            def: Some(Definition {
                def: vec![vec![0; 1024]],
                ..Definition::default()
            }),
        }
    }

    #[test]
    fn returned_ref_drops_definition() {
        let stripped = without_definitions(result::Result::Ref(solved_ref("result")));
        let result::Result::Ref(reference) = stripped else {
            panic!("a single reference stays a single reference");
        };
        assert_eq!(reference.id, "result");
        assert!(reference.def.is_none());
    }

    #[test]
    fn returned_ref_map_drops_definitions() {
        let map = RefMap {
            refs: HashMap::from([("linux/amd64".to_string(), solved_ref("amd64"))]),
        };
        let result::Result::Refs(map) = without_definitions(result::Result::Refs(map)) else {
            panic!("a reference map stays a reference map");
        };
        assert_eq!(map.refs["linux/amd64"].id, "amd64");
        assert!(map.refs["linux/amd64"].def.is_none());
    }

    #[test]
    fn oversized_return_names_image_configuration() {
        let status = tonic::Status::resource_exhausted("grpc: received message larger than max (5243822 vs. 4194304)");
        let message = return_error(status, 5_243_822, 2_621_500).message().to_string();
        assert!(
            message.starts_with("the image configuration (2621500 bytes"),
            "{message}"
        );
        assert!(message.contains("(5243822 vs. 4194304)"), "{message}");
    }

    #[test]
    fn other_return_error_unchanged() {
        let status = return_error(tonic::Status::unknown("no such job"), 10, 5);
        assert_eq!(status.message(), "no such job");
    }
}
