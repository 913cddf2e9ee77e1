//! Finding Docker Engine from `DOCKER_HOST` and checking, with `GET /_ping`
//! and `GET /version`, that it can run BuildKit builds.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::UnixStream;

use super::error::{EngineError, MIN_API_VERSION, from_socket_error};

/// Socket that Docker clients use when `DOCKER_HOST` is not set.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// How long a plain API request (ping, version, upgrade) may take. A stuck
/// engine, or a socket that accepts connections and never responds, fails
/// after this.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest body that stagec reads from a plain API response. The body of
/// `/version` is about 1 KiB.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Host name sent in the `Host` header. Docker Engine ignores it on a unix
/// socket, but HTTP/1.1 requires one.
const HOST_HEADER: &str = "docker";

/// A Docker Engine API endpoint on a unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnixHost {
    /// The `DOCKER_HOST` value, such as `unix:///var/run/docker.sock`.
    pub uri: String,
    pub path: PathBuf,
}

/// Engine facts that stagec checked when it connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    /// The `DOCKER_HOST` value used, such as `unix:///var/run/docker.sock`,
    /// or the BuildKit address, such as `tcp://10.0.0.5:1234`.
    pub host: String,
    /// Docker Engine version, such as `26.1.5+dfsg1`, and empty for a
    /// standalone buildkitd.
    pub engine_version: String,
    /// Highest API version the engine supports, such as `1.45`.
    pub api_version: String,
    pub min_api_version: String,
    /// Operating system of the containers the engine runs, such as `linux`.
    pub os: String,
    pub arch: String,
    /// `Builder-Version` header of `/_ping`: `2` when BuildKit is the
    /// engine's default builder, `1` for the classic builder.
    pub builder_version: Option<String>,
    /// Version of the engine's embedded BuildKit, such as `v0.13.2`, from
    /// the Control service's Info call. It is `None` when the engine lacks
    /// that call. Debian's build of Docker Engine 26.1 reports `v0.0.0+unknown`.
    pub buildkit_version: Option<String>,
    /// Exporter that stores the image in the engine's image store: `moby`
    /// on Docker Engine, `image` on a standalone buildkitd.
    pub image_exporter: String,
}

/// Picks the Docker Engine endpoint: `explicit` when given and not empty,
/// else the `DOCKER_HOST` environment variable, else the default socket.
pub(crate) fn resolve_docker_host(explicit: Option<&str>) -> Result<UnixHost, EngineError> {
    let from_env = std::env::var("DOCKER_HOST").ok();
    let value = explicit
        .filter(|value| !value.is_empty())
        .or(from_env.as_deref().filter(|value| !value.is_empty()))
        .unwrap_or(DEFAULT_DOCKER_HOST);
    parse_docker_host(value)
}

pub(crate) fn parse_docker_host(value: &str) -> Result<UnixHost, EngineError> {
    let invalid = |reason: &str| EngineError::InvalidHost {
        host: value.to_string(),
        reason: reason.to_string(),
    };

    if let Some(path) = value.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(invalid("the socket path is empty"));
        }
        if !path.starts_with('/') {
            return Err(invalid(
                "the socket path must be absolute, as in unix:///var/run/docker.sock",
            ));
        }
        return Ok(UnixHost {
            uri: value.to_string(),
            path: PathBuf::from(path),
        });
    }

    let unsupported = ["tcp://", "ssh://", "npipe://", "fd://", "http://", "https://"];
    if unsupported.iter().any(|scheme| value.starts_with(scheme)) {
        return Err(EngineError::UnsupportedHost {
            host: value.to_string(),
        });
    }
    if value.contains("://") {
        return Err(invalid("unknown scheme; stagec supports unix:// only"));
    }
    Err(invalid("expected unix:///path/to/docker.sock"))
}

/// Opens an HTTP/1.1 connection to the engine. The connection task allows
/// upgrades, so the same helper serves plain requests and `h2c` upgrades.
pub(crate) async fn open_http(host: &UnixHost) -> Result<SendRequest<Empty<Bytes>>, EngineError> {
    let stream = UnixStream::connect(&host.path)
        .await
        .map_err(|error| from_socket_error(&host.uri, &error))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| not_docker(host, &error))?;
    tokio::spawn(async move {
        // The connection ends when the engine closes it or the sender is
        // dropped. Its error, if any, reaches the request as well.
        let _ = connection.with_upgrades().await;
    });
    Ok(sender)
}

/// Builds a request to the engine with the headers every request carries.
pub(crate) fn api_request(method: http::Method, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, HOST_HEADER)
        .header(header::USER_AGENT, concat!("stagec/", env!("CARGO_PKG_VERSION")))
}

/// A plain response of the engine API, read in full.
pub(crate) struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `GET path` and reads the whole response.
pub(crate) async fn get(host: &UnixHost, path: &str) -> Result<ApiResponse, EngineError> {
    let request = async {
        let mut sender = open_http(host).await?;
        let request = api_request(http::Method::GET, path)
            .body(Empty::new())
            .expect("a GET request with a constant path is valid");
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| not_docker(host, &error))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| not_docker(host, error.as_ref()))?
            .to_bytes();
        Ok(ApiResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(RESPONSE_TIMEOUT, request)
        .await
        .map_err(|_| EngineError::Timeout {
            host: host.uri.clone(),
            request: format!("GET {path}"),
            seconds: RESPONSE_TIMEOUT.as_secs(),
        })?
}

fn not_docker(host: &UnixHost, error: &dyn std::error::Error) -> EngineError {
    EngineError::NotDockerEngine {
        host: host.uri.clone(),
        detail: error.to_string(),
    }
}

/// The fields of `GET /version` that stagec reads.
#[derive(Debug, Deserialize)]
struct VersionResponse {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "ApiVersion")]
    api_version: String,
    #[serde(rename = "MinAPIVersion", default)]
    min_api_version: String,
    #[serde(rename = "Os", default)]
    os: String,
    #[serde(rename = "Arch", default)]
    arch: String,
}

/// Checks that `host` is a Docker Engine that is new enough and runs Linux
/// containers, and returns what it reported. The BuildKit version stays
/// `None` because only the Control service reports it.
pub(crate) async fn probe_engine(host: &UnixHost) -> Result<EngineInfo, EngineError> {
    let ping = get(host, "/_ping").await?;
    if ping.status != StatusCode::OK {
        return Err(EngineError::NotDockerEngine {
            host: host.uri.clone(),
            detail: format!("GET /_ping returned {}", ping.status),
        });
    }
    if !ping.headers.contains_key("api-version") {
        return Err(EngineError::NotDockerEngine {
            host: host.uri.clone(),
            detail: "the response to GET /_ping has no API-Version header".to_string(),
        });
    }
    let builder_version = header_text(&ping.headers, "builder-version");

    let version = get(host, "/version").await?;
    if version.status != StatusCode::OK {
        return Err(EngineError::Protocol {
            host: host.uri.clone(),
            request: "GET /version".to_string(),
            detail: format!("status {}: {}", version.status, String::from_utf8_lossy(&version.body)),
        });
    }
    let version_response: VersionResponse =
        serde_json::from_slice(&version.body).map_err(|error| EngineError::Protocol {
            host: host.uri.clone(),
            request: "GET /version".to_string(),
            detail: error.to_string(),
        })?;

    let too_old = parse_api_version(&version_response.api_version).is_none_or(|version| version < MIN_API_VERSION);
    if too_old {
        return Err(EngineError::EngineTooOld {
            host: host.uri.clone(),
            engine_version: version_response.version,
            api_version: version_response.api_version,
        });
    }
    if !version_response.os.is_empty() && version_response.os != "linux" {
        return Err(EngineError::BuildKitUnavailable {
            host: host.uri.clone(),
            detail: format!(
                "the engine runs {} containers, and BuildKit needs Linux ones",
                version_response.os
            ),
        });
    }

    Ok(EngineInfo {
        host: host.uri.clone(),
        engine_version: version_response.version,
        api_version: version_response.api_version,
        min_api_version: version_response.min_api_version,
        os: version_response.os,
        arch: version_response.arch,
        builder_version,
        buildkit_version: None,
        image_exporter: "moby".to_string(),
    })
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// Parses an API version such as `1.45` into `(1, 45)`.
fn parse_api_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_host_parses() {
        let host = parse_docker_host("unix:///tmp/engine/docker.sock").expect("valid host");
        assert_eq!(host.path, PathBuf::from("/tmp/engine/docker.sock"));
        assert_eq!(host.uri, "unix:///tmp/engine/docker.sock");
    }

    #[test]
    fn tcp_host_not_supported_yet() {
        let error = parse_docker_host("tcp://127.0.0.1:2375").expect_err("tcp is not supported");
        assert!(matches!(error, EngineError::UnsupportedHost { .. }), "{error:?}");
        assert!(error.to_string().contains("not supported yet"), "{error}");
    }

    #[test]
    fn host_shapes_rejected() {
        let cases = [
            ("unix://", "the socket path is empty"),
            ("unix://docker.sock", "must be absolute"),
            ("gopher://x", "unknown scheme"),
            ("/var/run/docker.sock", "expected unix:///"),
        ];
        for (value, reason) in cases {
            let error = parse_docker_host(value).expect_err(value);
            assert!(error.to_string().contains(reason), "{value}: {error}");
        }
    }

    #[test]
    fn explicit_host_wins() {
        let host = resolve_docker_host(Some("unix:///explicit.sock")).expect("valid host");
        assert_eq!(host.uri, "unix:///explicit.sock");
    }

    #[test]
    fn api_versions_compare() {
        assert_eq!(parse_api_version("1.45"), Some((1, 45)));
        assert!(parse_api_version("1.9").expect("valid") < MIN_API_VERSION);
        assert!(parse_api_version("1.41").expect("valid") >= MIN_API_VERSION);
        assert_eq!(parse_api_version("one"), None);
    }
}
