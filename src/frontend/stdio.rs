//! The gRPC connection of a gateway frontend. BuildKit starts the frontend
//! image's entry point with an HTTP/2 connection (prior knowledge, no TLS)
//! on its standard input and output, and serves the LLBBridge service on
//! it. The frontend is the gRPC client (BuildKit v0.13
//! frontend/gateway/grpcclient/client.go, `grpcClientConn`).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, Stdin, Stdout};
use tonic::transport::{Channel, Endpoint};

/// Standard input and output as one duplex byte stream.
pub struct StdioStream {
    stdin: Stdin,
    stdout: Stdout,
}

impl StdioStream {
    pub fn new() -> StdioStream {
        StdioStream {
            stdin: tokio::io::stdin(),
            stdout: tokio::io::stdout(),
        }
    }
}

impl Default for StdioStream {
    fn default() -> Self {
        StdioStream::new()
    }
}

impl AsyncRead for StdioStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_read(context, buffer)
    }
}

impl AsyncWrite for StdioStream {
    fn poll_write(mut self: Pin<&mut Self>, context: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdout).poll_write(context, bytes)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_shutdown(context)
    }
}

/// Returns a gRPC channel over `stream`. The stream can carry one HTTP/2
/// connection only, so a reconnect after it ends fails with an error
/// instead of reading a closed pipe again.
pub async fn channel_over<S>(stream: S) -> Result<Channel, tonic::transport::Error>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let stream = Arc::new(Mutex::new(Some(stream)));
    let connector = tower::service_fn(move |_: Uri| {
        let taken = stream.lock().map(|mut slot| slot.take()).unwrap_or(None);
        async move {
            match taken {
                Some(stream) => Ok(TokioIo::new(stream)),
                None => Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the frontend's stdio connection to BuildKit is closed",
                )),
            }
        }
    });
    // The connector ignores the URI, which only fills `:authority`; BuildKit's
    // own frontends dial "localhost" too.
    Endpoint::from_static("http://localhost")
        .connect_with_connector(connector)
        .await
}

/// Returns the gRPC channel to BuildKit over this process's standard input and output.
pub async fn stdio_channel() -> Result<Channel, tonic::transport::Error> {
    channel_over(StdioStream::new()).await
}
