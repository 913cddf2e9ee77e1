//! Reads an image's size from Docker Engine's image store with
//! `GET /images/{name}/json`, the call behind `docker image inspect`. Base
//! image configurations come from BuildKit instead (see resolve.rs), which
//! can read every platform of an image.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// How long one inspect request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest response body read, in bytes; an image inspect is a few KiB.
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// Failure of an image inspect request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InspectError {
    #[error(
        "invalid DOCKER_HOST {host:?}: stagec reads images over a unix socket only; set DOCKER_HOST to unix:///path/to/docker.sock"
    )]
    UnsupportedHost { host: String },

    #[error("cannot reach Docker Engine at {host}: {cause}; start it or set DOCKER_HOST")]
    Unreachable { host: String, cause: String },

    #[error("Docker Engine at {host} answered {request} with {detail}")]
    Failed {
        host: String,
        request: String,
        detail: String,
    },
}

/// Docker Engine's API socket, from `docker_host` or `DOCKER_HOST`.
// TODO: use the engine client's HTTP plumbing once it offers a plain GET;
// this duplicates a small part of src/engine/connect.rs.
#[derive(Debug, Clone)]
pub struct EngineSocket {
    /// The `DOCKER_HOST` value, for messages.
    pub host: String,
    path: PathBuf,
}

impl EngineSocket {
    /// Picks `docker_host` when given, else `DOCKER_HOST`, else the default socket.
    pub fn new(docker_host: Option<&str>) -> Result<EngineSocket, InspectError> {
        let from_env = std::env::var("DOCKER_HOST").ok().filter(|value| !value.is_empty());
        let host = docker_host
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .or(from_env)
            .unwrap_or_else(|| crate::engine::DEFAULT_DOCKER_HOST.to_string());
        match host.strip_prefix("unix://") {
            Some(path) if path.starts_with('/') => Ok(EngineSocket {
                path: PathBuf::from(path),
                host,
            }),
            _ => Err(InspectError::UnsupportedHost { host }),
        }
    }

    /// Returns the platform (`os/arch[/variant]`) of the image `reference`
    /// in the engine's store, or `None` when the engine has no such image.
    /// The classic store keeps one platform per tag, so this names the
    /// platform that a build for another one cannot use.
    pub async fn image_platform(&self, reference: &str) -> Option<String> {
        let answer = self.inspect(reference).await?;
        let os = answer.get("Os")?.as_str()?;
        let architecture = answer.get("Architecture")?.as_str()?;
        let mut platform = format!("{os}/{architecture}");
        if let Some(variant) = answer
            .get("Variant")
            .and_then(|variant| variant.as_str())
            .filter(|v| !v.is_empty())
        {
            platform.push('/');
            platform.push_str(variant);
        }
        Some(platform)
    }

    /// Returns the size in bytes of the image `id` in the engine's store,
    /// or `None` when the engine reports none.
    pub async fn image_size(&self, id: &str) -> Option<u64> {
        self.inspect(id).await?.get("Size")?.as_u64()
    }

    /// Returns `GET /images/{name}/json`, or `None` when the request fails.
    async fn inspect(&self, name: &str) -> Option<serde_json::Value> {
        let path = format!("/images/{name}/json");
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, self.get(&path))
            .await
            .ok()?
            .ok()?;
        if status != StatusCode::OK {
            return None;
        }
        serde_json::from_slice(&body).ok()
    }

    async fn get(&self, path: &str) -> Result<(StatusCode, Bytes), InspectError> {
        let stream = UnixStream::connect(&self.path)
            .await
            .map_err(|error| InspectError::Unreachable {
                host: self.host.clone(),
                cause: error.to_string(),
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| self.failed(path, error.to_string()))?;
        tokio::spawn(async move {
            // Ends when the response is read and the sender dropped, and a
            // connection error reaches the request too.
            let _ = connection.await;
        });

        let request = Request::get(path)
            .header(header::HOST, "docker")
            .header(header::USER_AGENT, concat!("stagec/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|error| self.failed(path, format!("invalid request: {error}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| self.failed(path, error.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| self.failed(path, error.to_string()))?
            .to_bytes();
        Ok((status, body))
    }

    fn failed(&self, path: &str, detail: String) -> InspectError {
        InspectError::Failed {
            host: self.host.clone(),
            request: format!("GET {path}"),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_needs_unix_host() {
        assert!(EngineSocket::new(Some("unix:///tmp/docker.sock")).is_ok());
        let error = EngineSocket::new(Some("tcp://127.0.0.1:2375")).expect_err("tcp");
        assert!(matches!(error, InspectError::UnsupportedHost { .. }));
    }
}
