//! The capabilities of the engine's BuildKit, and the check that a
//! definition declares none that the engine lacks.
//!
//! The LLBBridge (gateway) service returns, for `Ping`, the LLB capabilities
//! (`LLBCaps`) and the frontend API capabilities (`FrontendAPICaps`) of the
//! engine's BuildKit. It answers only for a running build, which the call
//! names by its build ID. So the probe starts a Control `Solve` without a
//! definition or frontend, pings as its frontend, and returns an empty result.

use std::collections::{BTreeMap, BTreeSet};

use bollard_buildkit_proto::moby::buildkit::v1::SolveRequest as ControlSolveRequest;
use bollard_buildkit_proto::moby::buildkit::v1::apicaps::ApiCap;
use bollard_buildkit_proto::pb::Definition;
use futures::future::join;
use tonic::transport::Channel;

use super::connect::{EngineInfo, RESPONSE_TIMEOUT};
use super::definition::op_digest;
use super::error::EngineError;
use super::gateway::ping_and_return;
use super::solve::random_id;
use super::transport::Endpoint;
use super::{control_client, error_from_status};
use crate::llb::EngineCaps;
use crate::llb::caps::first_docker_release;

/// Capabilities that the engine's BuildKit listed as enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineCapabilities {
    /// LLB capabilities, such as `exec.secretenv`, which ops declare in their metadata.
    pub llb: BTreeSet<String>,
    /// Frontend API capabilities, such as `solve.base`, of the gateway calls.
    pub frontend_api: BTreeSet<String>,
}

impl EngineCapabilities {
    /// Returns the LLB capabilities for lowering, with the engine named as
    /// `info` reports it.
    pub fn llb_caps(&self, info: &EngineInfo) -> EngineCaps {
        EngineCaps::listed(engine_name(info), self.llb.iter().cloned())
    }
}

/// Returns the engine as messages name it: `Docker Engine 20.10.24+dfsg1`,
/// with the BuildKit version when the engine reports it, or `BuildKit
/// v0.13.2` for a standalone buildkitd.
pub(crate) fn engine_name(info: &EngineInfo) -> String {
    if info.engine_version.is_empty() {
        return format!(
            "BuildKit {}",
            info.buildkit_version.as_deref().unwrap_or("(unknown version)")
        );
    }
    match &info.buildkit_version {
        Some(buildkit) => format!("Docker Engine {} (BuildKit {buildkit})", info.engine_version),
        None => format!("Docker Engine {}", info.engine_version),
    }
}

/// Runs the probe build and returns the capabilities that the engine's `Ping` listed.
pub(crate) async fn probe(host: &Endpoint, channel: &Channel) -> Result<EngineCapabilities, EngineError> {
    let build_ref = random_id();
    let request = ControlSolveRequest {
        r#ref: build_ref.clone(),
        ..ControlSolveRequest::default()
    };
    let mut control = control_client(channel);
    let probe = join(control.solve(request), ping_and_return(channel, &build_ref));
    let (solved, pinged) = tokio::time::timeout(RESPONSE_TIMEOUT, probe)
        .await
        .map_err(|_| EngineError::Timeout {
            host: host.uri.clone(),
            request: "LLBBridge.Ping".to_string(),
            seconds: RESPONSE_TIMEOUT.as_secs(),
        })?;

    let pong = pinged.map_err(|status| error_from_status(host, "LLBBridge.Ping", &status))?;
    if let Err(status) = solved {
        // The capabilities are known, so a failed end of the empty probe
        // build does not matter.
        tracing::debug!(build = %build_ref, error = %status, "the capability probe build ended with an error");
    }
    let capabilities = EngineCapabilities {
        llb: enabled(&pong.llb_caps),
        frontend_api: enabled(&pong.frontend_api_caps),
    };
    tracing::debug!(
        host = %host.uri,
        llb = capabilities.llb.len(),
        frontend_api = capabilities.frontend_api.len(),
        "read the engine's BuildKit capabilities"
    );
    Ok(capabilities)
}

fn enabled(caps: &[ApiCap]) -> BTreeSet<String> {
    caps.iter()
        .filter(|cap| cap.enabled)
        .map(|cap| cap.id.clone())
        .collect()
}

/// Checks that the engine has every capability that the ops of
/// `definition` declare. The error names the first op, in definition
/// order, that declares a missing capability.
pub(crate) fn check_definition(
    definition: &Definition,
    capabilities: &EngineCapabilities,
    info: &EngineInfo,
) -> Result<(), EngineError> {
    for op_bytes in &definition.def {
        let digest = op_digest(op_bytes);
        let Some(metadata) = definition.metadata.get(&digest) else {
            continue;
        };
        let declared: BTreeMap<&String, &bool> = metadata.caps.iter().collect();
        let missing = declared
            .into_iter()
            .find(|(cap, used)| **used && !capabilities.llb.contains(cap.as_str()));
        if let Some((cap, _)) = missing {
            let step = metadata
                .description
                .get("llb.customname")
                .cloned()
                .unwrap_or_else(|| digest.clone());
            return Err(EngineError::UnsupportedCapability {
                host: info.host.clone(),
                engine: engine_name(info),
                step,
                capability: cap.clone(),
                fix: upgrade_fix(cap),
            });
        }
    }
    Ok(())
}

/// Returns the fix for a missing capability: the Docker Engine release to upgrade to.
pub(crate) fn upgrade_fix(cap: &str) -> String {
    match first_docker_release(cap) {
        Some(release) => format!("it needs Docker Engine {release} or newer; upgrade Docker Engine"),
        None => "upgrade Docker Engine to a release with this BuildKit capability".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_buildkit_proto::pb;
    use prost::Message;

    fn info() -> EngineInfo {
        EngineInfo {
            host: "unix:///run/docker.sock".to_string(),
            engine_version: "20.10.24+dfsg1".to_string(),
            api_version: "1.41".to_string(),
            min_api_version: "1.12".to_string(),
            os: "linux".to_string(),
            arch: "amd64".to_string(),
            builder_version: None,
            buildkit_version: None,
            image_exporter: "moby".to_string(),
        }
    }

    fn definition_declaring(caps: &[&str]) -> Definition {
        let op = pb::Op::default().encode_to_vec();
        let metadata = pb::OpMetadata {
            caps: caps.iter().map(|cap| (cap.to_string(), true)).collect(),
            description: [("llb.customname".to_string(), "[app 2/2] RUN make".to_string())].into(),
            ..pb::OpMetadata::default()
        };
        Definition {
            metadata: [(op_digest(&op), metadata)].into(),
            def: vec![op],
            source: None,
        }
    }

    fn bookworm_capabilities() -> EngineCapabilities {
        EngineCapabilities {
            llb: ["exec.meta.base", "exec.mount.secret"].map(str::to_string).into(),
            frontend_api: BTreeSet::new(),
        }
    }

    #[test]
    fn missing_capability_names_step_and_release() {
        let definition = definition_declaring(&["exec.meta.base", "exec.secretenv"]);
        let error = check_definition(&definition, &bookworm_capabilities(), &info()).expect_err("secretenv is missing");
        assert_eq!(
            error.to_string(),
            "build step [app 2/2] RUN make needs the BuildKit capability `exec.secretenv`, which \
             Docker Engine 20.10.24+dfsg1 at unix:///run/docker.sock lacks; it needs Docker Engine 23.0 or newer; \
             upgrade Docker Engine"
        );
    }

    #[test]
    fn declared_capabilities_present() {
        let definition = definition_declaring(&["exec.meta.base", "exec.mount.secret"]);
        assert!(check_definition(&definition, &bookworm_capabilities(), &info()).is_ok());
    }

    #[test]
    fn unknown_capability_generic_fix() {
        assert_eq!(
            upgrade_fix("exec.future"),
            "upgrade Docker Engine to a release with this BuildKit capability"
        );
    }

    #[test]
    fn engine_name_with_buildkit() {
        let mut engine = info();
        assert_eq!(engine_name(&engine), "Docker Engine 20.10.24+dfsg1");
        engine.buildkit_version = Some("v0.13.2".to_string());
        assert_eq!(engine_name(&engine), "Docker Engine 20.10.24+dfsg1 (BuildKit v0.13.2)");
    }
}
