//! Base image configurations per platform, read through BuildKit's gateway
//! (`LLBBridge.ResolveImageConfig`), which works on Docker Engine and on a
//! standalone buildkitd alike. Like the capability probe, the resolve runs
//! as the frontend of a Control `Solve` without a definition.

use bollard_buildkit_proto::moby::buildkit::v1::SolveRequest as ControlSolveRequest;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::ResolveImageConfigRequest;
use bollard_buildkit_proto::pb;
use futures::future::join;
use tonic::transport::Channel;

use super::connect::RESPONSE_TIMEOUT;
use super::error::EngineError;
use super::gateway::resolve_and_return;
use super::solve::random_id;
use super::transport::Endpoint;
use super::{control_client, error_from_status};
use crate::model::Platform;

/// Resolve mode that looks in the engine's image store first and requests
/// from the registry only an image that is not there (BuildKit's
/// `AttrImageResolveModePreferLocal`).
const PREFER_LOCAL: &str = "local";

/// One image to resolve: a normalized reference on one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfigQuery {
    pub reference: String,
    pub platform: Platform,
}

/// The configuration of one image on one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImageConfig {
    /// Digest of the manifest or image index that the engine resolved the
    /// reference to; empty for an image of Docker Engine's classic store.
    pub digest: String,
    /// The OCI image configuration file, as stored.
    pub config: Vec<u8>,
}

/// Resolves every query in one build and returns one outcome per query,
/// in order. A query fails alone, such as for an image that the engine
/// does not have and cannot pull; the message is BuildKit's.
pub(crate) async fn resolve_image_configs(
    host: &Endpoint,
    channel: &Channel,
    queries: &[ImageConfigQuery],
) -> Result<Vec<Result<ResolvedImageConfig, String>>, EngineError> {
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let requests = queries
        .iter()
        .map(|query| ResolveImageConfigRequest {
            r#ref: query.reference.clone(),
            platform: Some(pb::Platform {
                os: query.platform.os.clone(),
                architecture: query.platform.architecture.clone(),
                variant: query.platform.variant.clone().unwrap_or_default(),
                ..pb::Platform::default()
            }),
            resolve_mode: PREFER_LOCAL.to_string(),
            log_name: format!("resolve image config for {} ({})", query.reference, query.platform),
            ..ResolveImageConfigRequest::default()
        })
        .collect();

    let build_ref = random_id();
    let request = ControlSolveRequest {
        r#ref: build_ref.clone(),
        ..ControlSolveRequest::default()
    };
    let mut control = control_client(channel);
    let resolve = join(
        control.solve(request),
        resolve_and_return(channel, &build_ref, requests),
    );
    // Every query may ask a registry, so the limit grows with their number.
    let limit = RESPONSE_TIMEOUT * u32::try_from(queries.len()).unwrap_or(u32::MAX).max(1);
    let (solved, resolved) = tokio::time::timeout(limit, resolve)
        .await
        .map_err(|_| EngineError::Timeout {
            host: host.uri.clone(),
            request: "LLBBridge.ResolveImageConfig".to_string(),
            seconds: limit.as_secs(),
        })?;

    let outcomes = resolved.map_err(|status| error_from_status(host, "LLBBridge.ResolveImageConfig", &status))?;
    if let Err(status) = solved {
        // The configurations are read, so a failed end of the empty build does not matter.
        tracing::debug!(build = %build_ref, error = %status, "the image resolve build ended with an error");
    }
    Ok(outcomes
        .into_iter()
        .map(|outcome| {
            outcome
                .map(|response| ResolvedImageConfig {
                    digest: response.digest,
                    config: response.config,
                })
                .map_err(|status| status.message().to_string())
        })
        .collect())
}
