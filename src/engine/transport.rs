//! HTTP/2 over Docker Engine's API socket. `POST /grpc` and `POST /session`
//! with `Upgrade: h2c` switch the HTTP/1.1 connection to raw HTTP/2: for
//! `/grpc` stagec is the gRPC client of BuildKit's Control service, and for
//! `/session` the engine is the client of the services stagec serves.

use bytes::Bytes;
use http::{StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::upgrade::Upgraded;
use tonic::transport::{Channel, Endpoint};

use super::connect::{RESPONSE_TIMEOUT, UnixHost, api_request, open_http};
use super::error::EngineError;

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
/// first use, and every new connection does its own `POST /grpc` upgrade.
pub(crate) fn control_channel(host: &UnixHost) -> Channel {
    let host = host.clone();
    let connector = tower::service_fn(move |_: Uri| {
        let host = host.clone();
        async move { upgrade_h2c(&host, "/grpc", &[]).await }
    });
    // The URI only fills the `:authority` of requests because the connector
    // ignores it and always dials the unix socket.
    Endpoint::from_static("http://localhost").connect_with_connector_lazy(connector)
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
