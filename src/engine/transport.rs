//! The connections to BuildKit's Control service. On Docker Engine's API
//! socket, `POST /grpc` and `POST /session` with `Upgrade: h2c` switch the
//! HTTP/1.1 connection to raw HTTP/2: for `/grpc` stagec is the gRPC client
//! of BuildKit's Control service, and for `/session` the engine is the
//! client of the services stagec serves. A standalone buildkitd speaks gRPC
//! on its socket directly: over a unix socket, TCP (with TLS when set), or
//! the stdin and stdout of `buildctl dial-stdio`.

use std::pin::Pin;

use bytes::Bytes;
use http::{StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tonic::transport::Channel;

use super::address::{BuildkitAddress, Target};
use super::connect::{RESPONSE_TIMEOUT, UnixHost, api_request, open_http};
use super::dial_stdio;
use super::error::EngineError;
use super::tls::{TlsClient, TlsOptions};

/// Where the Control service is, ready to dial: the address as the user
/// wrote it and how to open a connection to it.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// `unix:///var/run/docker.sock` for Docker Engine, or the BuildKit
    /// address, such as `tcp://10.0.0.5:1234`.
    pub uri: String,
    pub kind: EndpointKind,
}

#[derive(Debug, Clone)]
pub(crate) enum EndpointKind {
    DockerEngine(UnixHost),
    Buildkitd {
        address: BuildkitAddress,
        tls: Option<TlsClient>,
    },
}

impl Endpoint {
    /// Checks the TLS options against `target` and reads their files.
    pub(crate) fn new(target: Target, tls: &TlsOptions) -> Result<Endpoint, EngineError> {
        match target {
            Target::DockerEngine(host) => {
                if tls.is_set() {
                    return Err(EngineError::TlsOptions {
                        address: host.uri.clone(),
                        detail: "the TLS options apply to tcp:// BuildKit addresses only; set --addr".to_string(),
                    });
                }
                Ok(Endpoint {
                    uri: host.uri.clone(),
                    kind: EndpointKind::DockerEngine(host),
                })
            }
            Target::Buildkitd { uri, address } => {
                let tls = match &address {
                    BuildkitAddress::Tcp { host, .. } if tls.is_set() => Some(TlsClient::new(tls, &uri, host)?),
                    _ if tls.is_set() => {
                        return Err(EngineError::TlsOptions {
                            address: uri.clone(),
                            detail: "the TLS options apply to tcp:// addresses only; remove them or use tcp://"
                                .to_string(),
                        });
                    }
                    _ => None,
                };
                Ok(Endpoint {
                    uri,
                    kind: EndpointKind::Buildkitd { address, tls },
                })
            }
        }
    }

    /// Returns Docker Engine's API socket, or `None` for a standalone buildkitd.
    pub(crate) fn docker_host(&self) -> Option<&UnixHost> {
        match &self.kind {
            EndpointKind::DockerEngine(host) => Some(host),
            EndpointKind::Buildkitd { .. } => None,
        }
    }
}

/// A byte stream that carries HTTP/2 to BuildKit.
pub(crate) trait Connection: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Connection for T {}

/// A connection of any kind, in the form that tonic's connector takes.
pub(crate) type BoxedConnection = TokioIo<Pin<Box<dyn Connection>>>;

/// Largest error body read from a refused upgrade.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Upgrades a new connection to the engine with `POST path` and the extra
/// `headers`, and returns the raw connection after `101 Switching Protocols`.
pub(crate) async fn upgrade_h2c(
    host: &UnixHost,
    path: &str,
    headers: &[(&str, String)],
) -> Result<Upgraded, EngineError> {
    let request_name = format!("POST {path}");
    let upgrade = async {
        let mut sender = open_http(host).await?;

        let mut builder = api_request(http::Method::POST, path)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "h2c");
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let request = builder
            .body(Empty::<Bytes>::new())
            .map_err(|error| EngineError::Protocol {
                host: host.uri.clone(),
                request: request_name.clone(),
                detail: format!("invalid request header: {error}"),
            })?;

        let response = sender
            .send_request(request)
            .await
            .map_err(|error| EngineError::NotDockerEngine {
                host: host.uri.clone(),
                detail: format!("{request_name}: {error}"),
            })?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(rejected_upgrade(host, &request_name, response).await);
        }

        hyper::upgrade::on(response)
            .await
            .map_err(|error| EngineError::Protocol {
                host: host.uri.clone(),
                request: request_name.clone(),
                detail: format!("upgrade to h2c failed: {error}"),
            })
    };

    tokio::time::timeout(RESPONSE_TIMEOUT, upgrade)
        .await
        .map_err(|_| EngineError::Timeout {
            host: host.uri.clone(),
            request: request_name.clone(),
            seconds: RESPONSE_TIMEOUT.as_secs(),
        })?
}

/// Turns a response other than `101 Switching Protocols` into an error. The
/// engine responds with 404 when it has no BuildKit, as Docker Engine builds for
/// Windows do.
async fn rejected_upgrade(
    host: &UnixHost,
    request_name: &str,
    response: http::Response<hyper::body::Incoming>,
) -> EngineError {
    let status = response.status();
    let body = match Limited::new(response.into_body(), MAX_ERROR_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let message = engine_message(&body);
    let detail = if message.is_empty() {
        format!("{request_name} returned {status}")
    } else {
        format!("{request_name} returned {status}: {message}")
    };

    if status == StatusCode::NOT_FOUND {
        EngineError::BuildKitUnavailable {
            host: host.uri.clone(),
            detail,
        }
    } else {
        EngineError::Protocol {
            host: host.uri.clone(),
            request: request_name.to_string(),
            detail,
        }
    }
}

/// Returns the `message` of an engine error body (`{"message": "..."}`), or
/// the body as text when it is not such JSON.
fn engine_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    }
}

/// Returns a gRPC channel to BuildKit's Control service. It connects on
/// first use. On Docker Engine every new connection does its own
/// `POST /grpc` upgrade.
pub(crate) fn control_channel(endpoint: &Endpoint) -> Channel {
    let endpoint = endpoint.clone();
    let connector = tower::service_fn(move |_: Uri| {
        let endpoint = endpoint.clone();
        async move { dial(&endpoint).await }
    });
    // The URI only fills the `:authority` of requests because the connector
    // ignores it and dials the endpoint itself.
    tonic::transport::Endpoint::from_static("http://localhost").connect_with_connector_lazy(connector)
}

/// Opens one connection that speaks HTTP/2 to the Control service.
async fn dial(endpoint: &Endpoint) -> Result<BoxedConnection, EngineError> {
    let connection: Pin<Box<dyn Connection>> = match &endpoint.kind {
        EndpointKind::DockerEngine(host) => Box::pin(TokioIo::new(upgrade_h2c(host, "/grpc", &[]).await?)),
        EndpointKind::Buildkitd { address, tls } => {
            let dialed = async {
                let connection = dial_buildkitd(&endpoint.uri, address, tls.as_ref()).await?;
                first_bytes(connection, &endpoint.uri).await
            };
            tokio::time::timeout(RESPONSE_TIMEOUT, dialed)
                .await
                .map_err(|_| EngineError::BuildkitTimeout {
                    address: endpoint.uri.clone(),
                    request: "the connection".to_string(),
                    seconds: RESPONSE_TIMEOUT.as_secs(),
                })??
        }
    };
    Ok(TokioIo::new(connection))
}

/// How long [`first_bytes`] waits for the server to speak first.
const FIRST_BYTES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Reads what the server sends first, which for gRPC servers (grpc-go, as
/// in buildkitd) is its HTTP/2 SETTINGS frame, and returns the connection
/// with those bytes put back. A failure that only shows on the first read
/// becomes the connection's error here: a TLS alert rejecting the client
/// certificate, or a `dial-stdio` helper that exited. Without such an early
/// check it would reach only hyper's connection task, and the request would
/// fail with a bare "operation was canceled". A server that stays silent
/// gets the connection after `FIRST_BYTES_TIMEOUT`.
async fn first_bytes(
    mut connection: Pin<Box<dyn Connection>>,
    uri: &str,
) -> Result<Pin<Box<dyn Connection>>, EngineError> {
    use tokio::io::AsyncReadExt;

    let mut buffer = vec![0u8; 16 * 1024];
    match tokio::time::timeout(FIRST_BYTES_TIMEOUT, connection.read(&mut buffer)).await {
        Err(_) => Ok(connection),
        Ok(Ok(0)) => Err(EngineError::BuildkitConnectionLost {
            address: uri.to_string(),
            detail: "the server closed the connection before it sent anything".to_string(),
        }),
        Ok(Ok(read)) => {
            buffer.truncate(read);
            Ok(Box::pin(Prefixed {
                prefix: Bytes::from(buffer),
                inner: connection,
            }))
        }
        Ok(Err(error)) => Err(error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<EngineError>())
            .cloned()
            .unwrap_or_else(|| EngineError::BuildkitConnectionLost {
                address: uri.to_string(),
                detail: error.to_string(),
            })),
    }
}

/// A connection with bytes already read from it put back in front.
struct Prefixed {
    prefix: Bytes,
    inner: Pin<Box<dyn Connection>>,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.prefix.is_empty() {
            return self.inner.as_mut().poll_read(cx, buf);
        }
        let count = self.prefix.len().min(buf.remaining());
        let chunk = self.prefix.split_to(count);
        buf.put_slice(&chunk);
        std::task::Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.inner.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.inner.as_mut().poll_shutdown(cx)
    }
}

async fn dial_buildkitd(
    uri: &str,
    address: &BuildkitAddress,
    tls: Option<&TlsClient>,
) -> Result<Pin<Box<dyn Connection>>, EngineError> {
    let unreachable = |error: std::io::Error| EngineError::BuildkitUnreachable {
        address: uri.to_string(),
        cause: match error.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused (nothing listens there)".to_string(),
            std::io::ErrorKind::NotFound => "no such socket".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied on the socket".to_string(),
            _ => error.to_string(),
        },
    };
    match address {
        BuildkitAddress::Unix { path } => Ok(Box::pin(UnixStream::connect(path).await.map_err(unreachable)?)),
        BuildkitAddress::Tcp { host, port } => {
            let stream = TcpStream::connect((host.as_str(), *port)).await.map_err(unreachable)?;
            // gRPC sends many small frames, which Nagle's algorithm would delay.
            let _ = stream.set_nodelay(true);
            match tls {
                Some(tls) => Ok(Box::pin(tls.handshake(stream, uri).await?)),
                None => Ok(Box::pin(stream)),
            }
        }
        BuildkitAddress::DockerContainer { .. } | BuildkitAddress::KubePod { .. } => {
            let command = dial_stdio::helper_command(address).unwrap_or_default();
            Ok(Box::pin(dial_stdio::spawn(&command, uri)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_message_reads_json() {
        assert_eq!(engine_message(br#"{"message":"page not found"}"#), "page not found");
        assert_eq!(engine_message(b"plain text\n"), "plain text");
        assert_eq!(engine_message(b""), "");
    }
}
