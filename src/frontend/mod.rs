//! stagec as a BuildKit gateway frontend: the image that a spec's
//! `# syntax=` line names, which `docker build -f app.kdl` runs inside the
//! engine's BuildKit in place of the Dockerfile frontend.
//!
//! BuildKit starts the image's entry point (`stagec frontend`) with the
//! frontend options in its environment (see [`options`]) and serves the
//! LLBBridge service over the process's standard input and output (see
//! [`stdio`]). The frontend reads the spec and its lock file from the
//! client's `dockerfile` source, compiles the spec, solves its LLB through
//! the bridge and returns the result with the image configuration. A spec
//! with errors is returned as an error whose details point at the spec
//! lines. See docs/frontend.md.

mod bridge;
mod build;
pub mod errors;
mod images;
pub mod options;
pub mod stdio;
mod subrequest;

pub use bridge::Bridge;
pub use build::{FrontendOutput, IMAGE_CONFIG_KEY, handle_request};
pub use errors::FrontendFailure;
pub use options::{FrontendOptions, OptionError, options_from_environment};

/// Label of the frontend image that lists the frontend capabilities it
/// has; BuildKit rejects a request that needs one the label lacks.
pub const FRONTEND_CAPS_LABEL: &str = "moby.buildkit.frontend.caps";

/// Failure of the frontend process itself, when it cannot hand a result
/// or an error to BuildKit.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    #[error("cannot connect to BuildKit over standard input and output: {0}")]
    Connect(#[from] tonic::transport::Error),

    #[error("BuildKit rejected LLBBridge.{call}: {status}")]
    Bridge { call: &'static str, status: tonic::Status },

    #[error("BuildKit did not respond to LLBBridge.Ping within {} s", PING_TIMEOUT.as_secs())]
    PingTimeout,
}

/// How long the first call may wait for BuildKit, as BuildKit's own
/// frontend client waits (frontend/gateway/grpcclient/client.go, v0.13).
pub const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs one frontend request over `channel` and hands its result, or its
/// failure, to BuildKit with `LLBBridge.Return`. Returns an error only when
/// the `Return` call itself failed.
pub async fn serve(
    channel: tonic::transport::Channel,
    options: Result<FrontendOptions, OptionError>,
) -> Result<(), FrontendError> {
    let mut bridge = Bridge::new(channel);
    let pong = tokio::time::timeout(PING_TIMEOUT, bridge.ping())
        .await
        .map_err(|_| FrontendError::PingTimeout)?
        .map_err(|status| FrontendError::Bridge { call: "Ping", status })?;

    let outcome = match &options {
        Ok(options) => handle_request(&mut bridge, options, &pong).await,
        Err(error) => Err(FrontendFailure::new(error.to_string())),
    };

    let returned = match outcome {
        Ok(output) => bridge.return_result(output.reference, output.metadata).await,
        Err(failure) => {
            tracing::info!(error = %failure, "the frontend request failed");
            bridge.return_failure(failure).await
        }
    };
    returned.map_err(|status| FrontendError::Bridge { call: "Return", status })
}

/// Runs the frontend over this process's standard input and output, with
/// the options in its environment.
pub async fn serve_stdio() -> Result<(), FrontendError> {
    let options = options_from_environment(std::env::vars());
    let channel = stdio::stdio_channel().await?;
    serve(channel, options).await
}
