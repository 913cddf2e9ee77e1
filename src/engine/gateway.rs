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
    CacheOptionsEntry, PingRequest, PongResponse, Result as FrontendResult, ReturnRequest, SolveRequest as BridgeSolveRequest,
    SolveResponse as BridgeSolveResponse, result,
};
use bollard_buildkit_proto::pb::Definition;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use super::MAX_GRPC_MESSAGE_BYTES;

/// gRPC metadata key that ties an LLBBridge call to the Control `Solve`
/// with the same `Ref`.
const BUILD_ID_KEY: &str = "buildkit-controlapi-buildid";

/// Result metadata key of the image configuration (OCI image config JSON).
pub(crate) const IMAGE_CONFIG_KEY: &str = "containerimage.config";

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
    definition: Definition,
    metadata: HashMap<String, Vec<u8>>,
    cache_imports: Vec<CacheOptionsEntry>,
) -> Result<(), tonic::Status> {
    let mut bridge = LlbBridgeClient::new(channel.clone()).max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES);

    let solve_request = BridgeSolveRequest {
        definition: Some(definition),
        allow_result_return: true,
        allow_result_array_ref: true,
        cache_imports,
        ..BridgeSolveRequest::default()
    };
    let solved = solve_when_registered(&mut bridge, build_ref, solve_request).await;

    let return_request = match &solved {
        Ok(response) => ReturnRequest {
            result: Some(FrontendResult {
                metadata,
                result: result_ref(response),
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
    let returned = bridge.r#return(with_build_id(return_request, build_ref)?).await;

    solved?;
    returned.map(|_| ())
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

/// Returns whether BuildKit rejected a bridge call because the build it
/// names is not registered (yet).
fn is_unregistered(status: &tonic::Status) -> bool {
    status.message().contains("no such job")
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

fn with_build_id<T>(message: T, build_ref: &str) -> Result<tonic::Request<T>, tonic::Status> {
    let mut request = tonic::Request::new(message);
    let value = MetadataValue::try_from(build_ref)
        .map_err(|_| tonic::Status::internal(format!("build ID {build_ref:?} is not valid gRPC metadata")))?;
    request.metadata_mut().insert(BUILD_ID_KEY, value);
    Ok(request)
}
