//! Reads a base image's configuration from Docker Engine's image store with
//! `GET /images/{name}/json`, the call behind `docker image inspect`.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::UnixStream;

use super::config::ImageConfig;
use super::file::LockedImage;
use super::images::BaseImage;
use crate::model::Platform;

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

    #[error(
        "image {reference} is not in the image store of Docker Engine at {host}; pull it with \
         `docker pull {reference}` (for platform {platform}) and run the command again"
    )]
    NotFound {
        host: String,
        reference: String,
        platform: String,
    },

    #[error(
        "image {reference} in the image store of Docker Engine at {host} is for platform {found}, not {platform}; \
         pull it with `docker pull --platform {platform} {reference}` and run the command again"
    )]
    WrongPlatform {
        host: String,
        reference: String,
        platform: String,
        found: String,
    },

    #[error("Docker Engine at {host} answered {request} with {detail}")]
    Failed {
        host: String,
        request: String,
        detail: String,
    },
}

/// The fields of `GET /images/{name}/json` that a lock entry records.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectAnswer {
    id: String,
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<ImageConfig>,
    #[serde(rename = "RootFS", default)]
    root_fs: Option<RootFs>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RootFs {
    #[serde(default)]
    layers: Option<Vec<String>>,
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

    /// Inspects the image of `base` and returns its lock entry.
    pub async fn lock_entry(&self, base: &BaseImage) -> Result<LockedImage, InspectError> {
        let reference = base.reference.to_string();
        let path = format!("/images/{reference}/json");
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, self.get(&path))
            .await
            .map_err(|_| self.failed(&path, format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())))??;

        if status == StatusCode::NOT_FOUND {
            return Err(InspectError::NotFound {
                host: self.host.clone(),
                reference,
                platform: base.platform.to_string(),
            });
        }
        if status != StatusCode::OK {
            return Err(self.failed(
                &path,
                format!("status {status}: {}", String::from_utf8_lossy(&body).trim()),
            ));
        }
        let answer: InspectAnswer =
            serde_json::from_slice(&body).map_err(|error| self.failed(&path, format!("invalid JSON: {error}")))?;

        let mut repo_digests = answer.repo_digests.unwrap_or_default();
        repo_digests.sort();
        let mut image_platform = format!("{}/{}", answer.os, answer.architecture);
        if let Some(variant) = answer.variant.filter(|variant| !variant.is_empty()) {
            image_platform.push('/');
            image_platform.push_str(&variant);
        }
        // The engine's classic image store keeps one platform per tag, and
        // locking the wrong one would give a build of the wrong architecture.
        if !platform_matches(&base.platform, &answer.os, &answer.architecture, &image_platform) {
            return Err(InspectError::WrongPlatform {
                host: self.host.clone(),
                reference,
                platform: base.platform.to_string(),
                found: image_platform,
            });
        }
        Ok(LockedImage {
            reference,
            platform: base.platform.to_string(),
            image_id: answer.id,
            repo_digests,
            image_platform,
            layers: answer
                .root_fs
                .and_then(|root| root.layers)
                .map_or(0, |layers| layers.len()),
            config: answer.config.unwrap_or_default(),
        })
    }

    /// Returns the size in bytes of the image `id` in the engine's store,
    /// or `None` when the engine reports none.
    pub async fn image_size(&self, id: &str) -> Option<u64> {
        let path = format!("/images/{id}/json");
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, self.get(&path))
            .await
            .ok()?
            .ok()?;
        if status != StatusCode::OK {
            return None;
        }
        let answer: serde_json::Value = serde_json::from_slice(&body).ok()?;
        answer.get("Size")?.as_u64()
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

/// Returns whether an image for `os`/`architecture` (`image_platform` with
/// its variant) serves `requested`. A variant counts only when both name one,
/// because images often leave it out (`linux/arm64` for `linux/arm64/v8`).
fn platform_matches(requested: &Platform, os: &str, architecture: &str, image_platform: &str) -> bool {
    if requested.os != os || requested.architecture != architecture {
        return false;
    }
    let image_variant = image_platform.splitn(3, '/').nth(2);
    match (requested.variant.as_deref(), image_variant) {
        (Some(wanted), Some(found)) => wanted == found,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inspect_answer() {
        let json = r#"{
            "Id": "sha256:02fa",
            "RepoTags": ["alpine:3"],
            "RepoDigests": [],
            "Os": "linux",
            "Architecture": "arm64",
            "Variant": "v8",
            "Config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
            "RootFS": {"Type": "layers", "Layers": ["sha256:aa", "sha256:bb"]}
        }"#;
        let answer: InspectAnswer = serde_json::from_str(json).expect("valid answer");
        assert_eq!(answer.id, "sha256:02fa");
        assert_eq!(answer.variant.as_deref(), Some("v8"));
        assert_eq!(
            answer.root_fs.and_then(|root| root.layers).map(|layers| layers.len()),
            Some(2)
        );
        assert_eq!(answer.config.expect("a config").env_list(), ["PATH=/bin"]);
    }

    #[test]
    fn lock_wrong_platform_is_rejected() {
        let arm64 = Platform::parse("linux/arm64").expect("valid platform");
        assert!(!platform_matches(&arm64, "linux", "amd64", "linux/amd64"));
        assert!(platform_matches(&arm64, "linux", "arm64", "linux/arm64/v8"));

        let arm_v7 = Platform::parse("linux/arm/v7").expect("valid platform");
        assert!(!platform_matches(&arm_v7, "linux", "arm", "linux/arm/v6"));
        assert!(platform_matches(&arm_v7, "linux", "arm", "linux/arm"));
        assert!(!platform_matches(&arm_v7, "windows", "arm", "windows/arm/v7"));
    }

    #[test]
    fn socket_needs_unix_host() {
        assert!(EngineSocket::new(Some("unix:///tmp/docker.sock")).is_ok());
        let error = EngineSocket::new(Some("tcp://127.0.0.1:2375")).expect_err("tcp");
        assert!(matches!(error, InspectError::UnsupportedHost { .. }));
    }
}
