//! Calls of the LLBBridge service that a gateway frontend makes. Over the
//! frontend's own stdio connection every call belongs to the build that
//! started the frontend, so no build ID metadata is needed (unlike the
//! client-side frontend of `stagec build`, src/engine/gateway.rs).

use std::collections::{BTreeMap, HashMap};

use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::{
    PingRequest, PongResponse, ReadFileRequest, ResolveImageConfigRequest, ResolveImageConfigResponse,
    Result as BridgeResult, ReturnRequest, SolveRequest, WarnRequest, result,
};
use bollard_buildkit_proto::pb::{self, Definition};
use tonic::transport::Channel;

use super::errors::FrontendFailure;

/// Largest message accepted from BuildKit: a spec file read with
/// `ReadFile` or a status with many log lines. BuildKit's own client allows 16 MiB too.
const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// The LLBBridge client of one frontend run.
#[derive(Debug, Clone)]
pub struct Bridge {
    client: LlbBridgeClient<Channel>,
}

impl Bridge {
    pub fn new(channel: Channel) -> Bridge {
        Bridge {
            client: LlbBridgeClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        }
    }

    /// Returns BuildKit's capabilities and workers.
    pub async fn ping(&mut self) -> Result<PongResponse, tonic::Status> {
        Ok(self.client.ping(PingRequest {}).await?.into_inner())
    }

    /// Solves `definition` and returns the reference to its result. With
    /// `evaluate`, BuildKit builds the result before it responds.
    pub async fn solve(&mut self, definition: Definition, evaluate: bool) -> Result<result::Result, tonic::Status> {
        let request = SolveRequest {
            definition: Some(definition),
            allow_result_return: true,
            allow_result_array_ref: true,
            evaluate,
            ..SolveRequest::default()
        };
        let response = self.client.solve(request).await?.into_inner();
        match response.result.and_then(|solved| solved.result) {
            Some(reference) => Ok(reference),
            // An engine without result return support sets only the deprecated `ref` string.
            None if !response.r#ref.is_empty() => Ok(result::Result::RefDeprecated(response.r#ref)),
            None => Err(tonic::Status::internal("BuildKit returned no result for the solve")),
        }
    }

    /// Reads the file `path` of the solved result `reference`.
    pub async fn read_file(&mut self, reference: &result::Result, path: &str) -> Result<Vec<u8>, tonic::Status> {
        let request = ReadFileRequest {
            r#ref: reference_id(reference),
            file_path: path.to_string(),
            ..ReadFileRequest::default()
        };
        Ok(self.client.read_file(request).await?.into_inner().data)
    }

    /// Resolves the configuration of the image `reference` for `platform`.
    /// Docker Engine's BuildKit looks in the engine's image store before a
    /// registry unless `resolve_mode` is `pull`.
    pub async fn resolve_image_config(
        &mut self,
        reference: &str,
        platform: pb::Platform,
        resolve_mode: &str,
    ) -> Result<ResolveImageConfigResponse, tonic::Status> {
        let request = ResolveImageConfigRequest {
            r#ref: reference.to_string(),
            platform: Some(platform),
            resolve_mode: resolve_mode.to_string(),
            log_name: format!("[internal] load metadata for {reference}"),
            ..ResolveImageConfigRequest::default()
        };
        Ok(self.client.resolve_image_config(request).await?.into_inner())
    }

    /// Shows a warning on the build's progress, attached to the vertex `digest`.
    pub async fn warn(&mut self, request: WarnRequest) -> Result<(), tonic::Status> {
        self.client.warn(request).await.map(|_| ())
    }

    /// Hands the result of the frontend to BuildKit: `reference` with its
    /// `metadata`, or only metadata for a subrequest.
    pub async fn return_result(
        &mut self,
        reference: Option<result::Result>,
        metadata: BTreeMap<String, Vec<u8>>,
    ) -> Result<(), tonic::Status> {
        let result = BridgeResult {
            metadata: metadata.into_iter().collect::<HashMap<_, _>>(),
            result: reference,
            ..BridgeResult::default()
        };
        let request = ReturnRequest {
            result: Some(result),
            error: None,
        };
        self.client.r#return(request).await.map(|_| ())
    }

    /// Hands the failure of the frontend to BuildKit, which ends the build with it.
    pub async fn return_failure(&mut self, failure: FrontendFailure) -> Result<(), tonic::Status> {
        let request = ReturnRequest {
            result: None,
            error: Some(failure.status),
        };
        self.client.r#return(request).await.map(|_| ())
    }
}

/// Returns the ID BuildKit gave a solved result.
pub fn reference_id(reference: &result::Result) -> String {
    match reference {
        result::Result::Ref(reference) => reference.id.clone(),
        result::Result::RefDeprecated(id) => id.clone(),
        // A single-platform solve never returns a map.
        result::Result::Refs(_) | result::Result::RefsDeprecated(_) => String::new(),
    }
}
