//! The client session of a build: an HTTP/2 connection on which BuildKit
//! is the gRPC client and stagec the server of FileSync (local folders),
//! Secrets, Auth (registry credentials) and Health. On Docker Engine,
//! `POST /session` upgrades a connection to it; on a standalone buildkitd,
//! the Control `Session` stream carries it. The headers of either name the
//! session and list the methods served, and the Solve request refers to the
//! session by its ID.

mod auth;
mod content;
mod control_stream;
mod filesend;
mod filesync;
mod health;
mod patterns;
mod secrets;
mod walk;

pub(crate) use content::{BlobDigest, ContentStore};
pub(crate) use patterns::source_covers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bollard_buildkit_proto::health::health_server::HealthServer;
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::SecretsServer;
use bollard_buildkit_proto::moby::filesync::v1::auth_server::AuthServer;
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSyncServer;
use hyper_util::rt::TokioExecutor;
use hyper_util::service::TowerToHyperService;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use super::error::EngineError;
use super::transport::{Connection, Endpoint, EndpointKind, upgrade_h2c};

pub use secrets::SecretSource;

/// Receive windows of the session connection, in bytes. The small-frame
/// budget of h2 is half the connection window, about 34,000 frames here.
const SESSION_CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;
const SESSION_STREAM_WINDOW: u32 = 4 * 1024 * 1024;

/// gRPC methods that the session serves, announced to the engine in one
/// `X-Docker-Expose-Session-Grpc-Method` header each. `TarStream` is left
/// out because stagec serves DiffCopy only.
const SERVED_METHODS: &[&str] = &[
    "/moby.filesync.v1.FileSync/DiffCopy",
    "/moby.filesync.v1.FileSend/DiffCopy",
    "/moby.buildkit.secrets.v1.Secrets/GetSecret",
    "/moby.filesync.v1.Auth/Credentials",
    "/moby.filesync.v1.Auth/FetchToken",
    "/moby.filesync.v1.Auth/GetTokenAuthority",
    "/moby.filesync.v1.Auth/VerifyTokenAuthority",
    "/grpc.health.v1.Health/Check",
];

/// Services and identity of one session.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    /// Random ID that the Solve request names in its `Session` field.
    pub id: String,
    /// Name shown in the engine's logs.
    pub name: String,
    /// Key under which the engine keeps its copy of the local folders
    /// between builds, so that a later build transfers only what changed.
    pub shared_key: String,
    /// Local folders by the name that LLB local sources use.
    pub local_dirs: BTreeMap<String, PathBuf>,
    pub secrets: BTreeMap<String, SecretSource>,
    /// Where the outputs that BuildKit streams to the client go, by the
    /// exporter's index in the Solve request.
    pub output_destinations: BTreeMap<usize, crate::engine::exporter::Destination>,
    /// Folders of `type=local` caches by store ID (`local:` and the folder
    /// as written), served by containerd's content service.
    pub content_stores: BTreeMap<String, Arc<ContentStore>>,
}

/// A running session. Dropping it closes the connection, which ends the
/// session on the engine.
pub(crate) struct Session {
    task: JoinHandle<()>,
    bytes_sent: Arc<AtomicU64>,
}

impl Session {
    /// Opens the session connection and starts serving it. `channel` is
    /// the Control channel of `endpoint`.
    pub(crate) async fn start(
        endpoint: &Endpoint,
        channel: &Channel,
        config: SessionConfig,
    ) -> Result<Session, EngineError> {
        let mut headers = vec![
            ("X-Docker-Expose-Session-Uuid", config.id.clone()),
            ("X-Docker-Expose-Session-Name", config.name.clone()),
            ("X-Docker-Expose-Session-Sharedkey", config.shared_key.clone()),
        ];
        let content_methods = if config.content_stores.is_empty() {
            &[][..]
        } else {
            content::CONTENT_METHODS
        };
        for method in SERVED_METHODS.iter().chain(content_methods) {
            headers.push(("X-Docker-Expose-Session-Grpc-Method", (*method).to_string()));
        }
        let connection: std::pin::Pin<Box<dyn Connection>> = match &endpoint.kind {
            EndpointKind::DockerEngine(host) => Box::pin(hyper_util::rt::TokioIo::new(
                upgrade_h2c(host, "/session", &headers).await?,
            )),
            EndpointKind::Buildkitd { .. } => Box::pin(control_stream::open(channel, &headers, &config.id)),
        };
        let connection = hyper_util::rt::TokioIo::new(connection);

        let bytes_sent = Arc::new(AtomicU64::new(0));
        let routes = tonic::service::Routes::new(HealthServer::new(health::HealthService))
            .add_service(FileSyncServer::new(filesync::FileSyncService::new(
                config.local_dirs,
                bytes_sent.clone(),
            )))
            .add_service(SecretsServer::new(secrets::SecretsService::new(config.secrets)))
            .add_service(AuthServer::new(auth::AuthService))
            .add_service(filesend::FileSendService::new(config.output_destinations))
            .add_service(content::ContentService::new(config.content_stores));

        let session_id = config.id;
        let task = tokio::spawn(async move {
            // h2 0.4.21 closes the connection (ENHANCE_YOUR_CALM) once the
            // small DATA frames waiting to be read exceed half the connection
            // window, and an output folder arrives as one small frame per
            // file. An adaptive window starts at 64 KiB, which a few hundred
            // files exceed, so the windows are fixed and large.
            let served = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .initial_connection_window_size(SESSION_CONNECTION_WINDOW)
                .initial_stream_window_size(SESSION_STREAM_WINDOW)
                .serve_connection(connection, TowerToHyperService::new(routes))
                .await;
            match served {
                Ok(()) => tracing::debug!(session = %session_id, "engine closed the session"),
                Err(error) => tracing::debug!(session = %session_id, error = %error, "session connection ended"),
            }
        });

        Ok(Session { task, bytes_sent })
    }

    /// Encoded size of all FileSync packets sent so far.
    pub(crate) fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Ordering::Relaxed)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}
