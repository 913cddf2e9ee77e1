//! Client of the BuildKit that Docker Engine embeds, over the engine's API
//! socket: it solves an LLB definition (`pb.Definition`) and exports the
//! result into the engine's image store, while a session serves the local
//! folders, secrets and registry credentials of the build.
//!
//! ```no_run
//! # async fn build(definition: bollard_buildkit_proto::pb::Definition) -> Result<(), stagec::engine::EngineError> {
//! use stagec::engine::{EngineClient, PlainProgress, SolveRequest};
//!
//! let client = EngineClient::connect(None).await?;
//! let request = SolveRequest { tags: vec!["example/app:latest".to_string()], ..SolveRequest::new(definition) };
//! let result = client.solve(request, PlainProgress::new(std::io::stderr())).await?;
//! println!("{}", result.image_digest.unwrap_or_default());
//! # Ok(())
//! # }
//! ```
//!
//! See docs/engine-client.md for the protocol details.

mod address;
pub mod cache;
mod capabilities;
mod connect;
mod definition;
mod resolve;
mod dial_stdio;
mod error;
pub mod exporter;
mod gateway;
mod printer;
mod progress;
mod session;
mod solve;
mod tls;
mod transport;
mod tty;

use std::sync::Arc;

use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::{InfoRequest, ListWorkersRequest, ListWorkersResponse};
use tokio::sync::OnceCell;
use tonic::transport::Channel;

pub use address::{BUILDKIT_HOST_ENV, BuildkitAddress, parse_address};
pub use capabilities::EngineCapabilities;
pub use connect::{DEFAULT_DOCKER_HOST, EngineInfo};
pub(crate) use definition::prepare_definition;
pub use error::{EngineError, MIN_API_VERSION, SolveFailure};
pub use printer::{PlainProgress, QuietProgress, RawJsonProgress};
pub use progress::{FailedVertex, LOG_TAIL_LINES, LogStream, ProgressEvent, ProgressSink, VertexTracker};
pub use session::SecretSource;
pub(crate) use session::source_covers;
pub use resolve::{ImageConfigQuery, ResolvedImageConfig};
pub use solve::{PlatformResult, SolveRequest, SolveResult};
pub use tls::TlsOptions;
pub use tty::{TerminalSize, TtyProgress};

use address::{Target, resolve_target};
use connect::{RESPONSE_TIMEOUT, probe_engine, resolve_docker_host};
use transport::{Endpoint, control_channel};

/// Largest gRPC message stagec accepts from BuildKit. Status messages with
/// many log lines can pass the 4 MiB default of tonic, so stagec allows
/// 16 MiB as BuildKit's own client does.
pub(crate) const MAX_GRPC_MESSAGE_BYTES: usize = 16 << 20;

/// Where `stagec build` runs: the BuildKit address (`--addr`, else
/// `BUILDKIT_HOST`) with its TLS options, or, with neither, Docker Engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// BuildKit address, such as `tcp://10.0.0.5:1234`.
    pub addr: Option<String>,
    pub tls: TlsOptions,
}

/// A connection to one BuildKit: the one in Docker Engine or a standalone
/// buildkitd.
#[derive(Debug, Clone)]
pub struct EngineClient {
    host: Endpoint,
    channel: Channel,
    info: EngineInfo,
    /// Read on first use and shared by the clones of the client.
    capabilities: Arc<OnceCell<EngineCapabilities>>,
}

impl EngineClient {
    /// Connects to the engine at `docker_host` (`unix:///path`), or, when
    /// `None`, at `DOCKER_HOST` or the default socket. Fails unless the
    /// engine responds, is Docker Engine 20.10 or newer, and accepts a
    /// BuildKit connection.
    pub async fn connect(docker_host: Option<&str>) -> Result<EngineClient, EngineError> {
        let target = Target::DockerEngine(resolve_docker_host(docker_host)?);
        Self::connect_to(Endpoint::new(target, &TlsOptions::default())?).await
    }

    /// Connects to the BuildKit that `options` selects, as buildctl does:
    /// `options.addr`, else `BUILDKIT_HOST`, else Docker Engine at
    /// `DOCKER_HOST` or the default socket. Fails unless BuildKit responds.
    pub async fn connect_with(options: &ConnectOptions) -> Result<EngineClient, EngineError> {
        let target = resolve_target(options.addr.as_deref())?;
        Self::connect_to(Endpoint::new(target, &options.tls)?).await
    }

    async fn connect_to(host: Endpoint) -> Result<EngineClient, EngineError> {
        let channel = control_channel(&host);
        let Some(docker_host) = host.docker_host() else {
            let info = buildkitd_info(&host, &channel)
                .await
                .map_err(|error| error.for_buildkitd(&host.uri))?;
            tracing::debug!(
                address = %host.uri,
                buildkit = ?info.buildkit_version,
                platform = %format!("{}/{}", info.os, info.arch),
                exporter = %info.image_exporter,
                "connected to BuildKit"
            );
            return Ok(EngineClient {
                host,
                channel,
                info,
                capabilities: Arc::new(OnceCell::new()),
            });
        };
        let mut info = probe_engine(docker_host).await?;
        info.buildkit_version = buildkit_version(&host, &channel).await?;
        tracing::debug!(
            host = %host.uri,
            engine = %info.engine_version,
            api = %info.api_version,
            buildkit = ?info.buildkit_version,
            "connected to Docker Engine"
        );
        Ok(EngineClient {
            host,
            channel,
            info,
            capabilities: Arc::new(OnceCell::new()),
        })
    }

    /// Requests the versions from the engine again, as `connect` does.
    pub async fn info(&self) -> Result<EngineInfo, EngineError> {
        let Some(docker_host) = self.host.docker_host() else {
            return buildkitd_info(&self.host, &self.channel)
                .await
                .map_err(|error| error.for_buildkitd(&self.host.uri));
        };
        let mut info = probe_engine(docker_host).await?;
        info.buildkit_version = buildkit_version(&self.host, &self.channel).await?;
        Ok(info)
    }

    /// Returns the versions checked by [`EngineClient::connect`].
    pub fn connected_info(&self) -> &EngineInfo {
        &self.info
    }

    /// Returns whether the BuildKit is Docker Engine's, whose image store
    /// the engine API at `DOCKER_HOST` reads.
    pub fn is_docker_engine(&self) -> bool {
        self.host.docker_host().is_some()
    }

    /// Returns the capabilities of the engine's BuildKit. The first call
    /// runs an empty build to read them from the gateway's `Ping` (three
    /// gRPC calls); later calls return a copy.
    pub async fn capabilities(&self) -> Result<EngineCapabilities, EngineError> {
        let capabilities = self
            .capabilities
            .get_or_try_init(|| capabilities::probe(&self.host, &self.channel))
            .await
            .map_err(|error| self.reworded(error))?;
        Ok(capabilities.clone())
    }

    /// Runs `request` on the engine's BuildKit and reports progress to
    /// `progress`. Fails before the build starts when an op declares a
    /// capability that the engine lacks. Dropping the returned future
    /// cancels the build.
    pub async fn solve(&self, request: SolveRequest, progress: impl ProgressSink) -> Result<SolveResult, EngineError> {
        let capabilities = self.capabilities().await?;
        solve::solve(&self.host, &self.channel, &self.info, &capabilities, request, progress)
            .await
            .map_err(|error| self.reworded(error))
    }

    /// Resolves the configuration of each image on its platform through
    /// BuildKit, which reads the engine's image store first. Returns one
    /// outcome per query, in order; a failed query carries BuildKit's message.
    pub async fn resolve_image_configs(
        &self,
        queries: &[ImageConfigQuery],
    ) -> Result<Vec<Result<ResolvedImageConfig, String>>, EngineError> {
        resolve::resolve_image_configs(&self.host, &self.channel, queries)
            .await
            .map_err(|error| self.reworded(error))
    }

    /// Names a standalone buildkitd, not Docker Engine, in the errors of one.
    fn reworded(&self, error: EngineError) -> EngineError {
        match self.host.docker_host() {
            Some(_) => error,
            None => error.for_buildkitd(&self.host.uri),
        }
    }
}

pub(crate) fn control_client(channel: &Channel) -> ControlClient<Channel> {
    ControlClient::new(channel.clone()).max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
}

/// Returns BuildKit's version from the Control service. The first call on
/// the channel also proves that `POST /grpc` works. An engine whose
/// BuildKit returns Unimplemented for Info, as Docker Engine 20.10 does,
/// gets `None` after a ListWorkers call checks the connection instead.
async fn buildkit_version(host: &Endpoint, channel: &Channel) -> Result<Option<String>, EngineError> {
    let mut control = control_client(channel);
    let info = tokio::time::timeout(RESPONSE_TIMEOUT, control.info(InfoRequest {}))
        .await
        .map_err(|_| timeout(host, "Control.Info"))?;
    match info {
        Ok(response) => Ok(response.into_inner().buildkit_version.map(|version| version.version)),
        Err(status) if status.code() == tonic::Code::Unimplemented => {
            tokio::time::timeout(RESPONSE_TIMEOUT, control.list_workers(ListWorkersRequest::default()))
                .await
                .map_err(|_| timeout(host, "Control.ListWorkers"))?
                .map_err(|status| error_from_status(host, "Control.ListWorkers", &status))?;
            Ok(None)
        }
        Err(status) => Err(error_from_status(host, "Control.Info", &status)),
    }
}

fn timeout(host: &Endpoint, request: &str) -> EngineError {
    EngineError::Timeout {
        host: host.uri.clone(),
        request: request.to_string(),
        seconds: RESPONSE_TIMEOUT.as_secs(),
    }
}

/// Maps a failed gRPC call to the engine error it stands for: the
/// [`EngineError`] of a failed connection attempt when there is one, a lost
/// connection for transport failures, and a protocol error otherwise.
pub(crate) fn error_from_status(host: &Endpoint, request: &str, status: &tonic::Status) -> EngineError {
    transport_error(host, status).unwrap_or_else(|| EngineError::Protocol {
        host: host.uri.clone(),
        request: request.to_string(),
        detail: format!("{}: {}", status.code(), status.message()),
    })
}

/// Returns the engine error behind `status` when the call failed because
/// of the connection rather than an error that BuildKit returned.
pub(crate) fn transport_error(host: &Endpoint, status: &tonic::Status) -> Option<EngineError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    let mut transport_failure = false;
    while let Some(error) = source {
        if let Some(engine_error) = error.downcast_ref::<EngineError>() {
            return Some(engine_error.clone());
        }
        // A connection's read error that names its cause, such as a TLS
        // alert, comes as an `io::Error` around an `EngineError`.
        let wrapped = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io_error| io_error.get_ref())
            .and_then(|inner| inner.downcast_ref::<EngineError>());
        if let Some(engine_error) = wrapped {
            return Some(engine_error.clone());
        }
        if error.is::<hyper::Error>() || error.is::<std::io::Error>() || error.is::<tonic::transport::Error>() {
            transport_failure = true;
        }
        source = error.source();
    }
    if transport_failure || status.code() == tonic::Code::Unavailable {
        return Some(EngineError::ConnectionLost {
            host: host.uri.clone(),
            detail: status.message().to_string(),
        });
    }
    None
}

/// Reads the version and the worker of a standalone buildkitd. Its image
/// store exporter is `image`, unless the worker is Docker Engine's (as
/// behind a relay of the engine's `/grpc` endpoint), which has only `moby`.
async fn buildkitd_info(host: &Endpoint, channel: &Channel) -> Result<EngineInfo, EngineError> {
    let mut control = control_client(channel);
    let buildkit_version = buildkit_version(host, channel).await?;
    let workers = tokio::time::timeout(RESPONSE_TIMEOUT, control.list_workers(ListWorkersRequest::default()))
        .await
        .map_err(|_| timeout(host, "Control.ListWorkers"))?
        .map_err(|status| error_from_status(host, "Control.ListWorkers", &status))?
        .into_inner();
    let platform = workers
        .record
        .iter()
        .flat_map(|worker| worker.platforms.first())
        .next()
        .cloned()
        .unwrap_or_default();
    Ok(EngineInfo {
        host: host.uri.clone(),
        engine_version: String::new(),
        api_version: String::new(),
        min_api_version: String::new(),
        os: platform.os,
        arch: platform.architecture,
        builder_version: None,
        buildkit_version,
        image_exporter: image_exporter(&workers).to_string(),
    })
}

/// Label that only Docker Engine's BuildKit worker sets (Docker 20.10 and
/// newer): the IP address of `host-gateway`.
const MOBY_WORKER_LABEL: &str = "org.mobyproject.buildkit.worker.moby.host-gateway-ip";

/// Returns the exporter that stores images on the workers of `workers`.
fn image_exporter(workers: &ListWorkersResponse) -> &'static str {
    let moby = workers
        .record
        .iter()
        .any(|worker| worker.labels.contains_key(MOBY_WORKER_LABEL));
    if moby { exporter::MOBY_EXPORTER } else { "image" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_buildkit_proto::moby::buildkit::v1::types::WorkerRecord;

    fn workers(labels: &[(&str, &str)]) -> ListWorkersResponse {
        let labels = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        ListWorkersResponse {
            record: vec![WorkerRecord {
                labels,
                ..WorkerRecord::default()
            }],
        }
    }

    #[test]
    fn docker_worker_gets_moby_exporter() {
        let response = workers(&[(MOBY_WORKER_LABEL, "172.17.0.1")]);
        assert_eq!(image_exporter(&response), "moby");
    }

    #[test]
    fn buildkitd_worker_gets_image_exporter() {
        let response = workers(&[
            ("org.mobyproject.buildkit.worker.executor", "oci"),
            ("org.mobyproject.buildkit.worker.snapshotter", "overlayfs"),
        ]);
        assert_eq!(image_exporter(&response), "image");
    }
}
