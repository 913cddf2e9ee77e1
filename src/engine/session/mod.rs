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

/// Receive window of the whole session connection, in bytes: h2's maximum,
/// 2^31 - 1. h2 0.4.21 charges each received DATA frame under 256 bytes
/// 256 minus its length until the service reads it. When the charges exceed
/// half this window, h2 closes the connection with GOAWAY
/// `too_many_data_frames`, and hyper 1.13 has no setting for that budget.
/// BuildKit's fsutil sends a folder output as one STAT packet per entry and a
/// 7 to 12 byte end-of-file packet per file, faster than stagec writes them,
/// so a 16 MiB window failed on an output of 40,000 files.
const SESSION_CONNECTION_WINDOW: u32 = (1 << 31) - 1;

/// Receive window of each stream, in bytes, which bounds what the engine can
/// send ahead of the service on one stream. A backlog of 7-byte frames
/// costs at most 4 MiB / 7 * 249, about 150 MiB of the 1 GiB budget.
// NOTE: The budget can still run out if more than 7 streams each hold a full
// window of 7-byte frames. BuildKit opens one stream per output or local
// folder, and most packets are larger.
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
            let served = http2_server()
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

/// Builds the HTTP/2 server of the session connection, with fixed windows
/// because an adaptive window starts at 64 KiB and so would the small-frame
/// budget of h2 that is derived from it.
fn http2_server() -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    // Safe: the only peer is the engine that stagec connected to, which already writes the outputs.
    builder
        .initial_connection_window_size(SESSION_CONNECTION_WINDOW)
        .initial_stream_window_size(SESSION_STREAM_WINDOW);
    builder
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use bytes::Bytes;
    use futures::StreamExt;
    use http_body_util::{BodyExt, Full, StreamBody};
    use hyper::body::{Frame, Incoming};
    use hyper_util::rt::TokioIo;
    use tokio::sync::Notify;

    use super::*;

    /// DATA frames of the size of fsutil's end-of-file packet, three times
    /// as many as the 16 MiB connection window let h2 buffer unread.
    const TINY_FRAMES: usize = 100_000;
    const TINY_PAYLOAD: &[u8] = b"0123456";

    #[tokio::test]
    async fn session_server_buffers_tiny_frames() {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let body_sent = Arc::new(Notify::new());

        // The handler reads nothing until the client has sent the whole body,
        // as stagec does while it writes files of an output folder.
        let handler_body_sent = body_sent.clone();
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let body_sent = handler_body_sent.clone();
            async move {
                body_sent.notified().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                let body = request.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>(http::Response::new(Full::new(Bytes::from(body.len().to_string()))))
            }
        });
        let server = tokio::spawn(http2_server().serve_connection(TokioIo::new(server_io), service));

        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(client_io))
                .await
                .expect("HTTP/2 handshake");
        tokio::spawn(connection);
        let frames = futures::stream::iter(
            (0..TINY_FRAMES).map(|_| Ok::<_, Infallible>(Frame::data(Bytes::from_static(TINY_PAYLOAD)))),
        )
        .chain(futures::stream::once(async move {
            body_sent.notify_one();
            Ok(Frame::data(Bytes::from_static(TINY_PAYLOAD)))
        }))
        .boxed();
        let request = http::Request::post("http://session/tiny")
            .body(StreamBody::new(frames))
            .expect("request");

        let response = sender.send_request(request).await.expect("the server answers");
        let received = response.into_body().collect().await.expect("response body").to_bytes();

        let expected = (TINY_FRAMES + 1) * TINY_PAYLOAD.len();
        assert_eq!(received, expected.to_string().as_bytes());
        drop(sender);
        server
            .await
            .expect("server task")
            .expect("the server closes the connection cleanly");
    }
}
