//! The session connection of a standalone buildkitd: the bidirectional
//! Control `Session` stream of `BytesMessage`, which carries the session's
//! HTTP/2 bytes. BuildKit's own client (session/grpchijack) sends the
//! session headers as gRPC metadata, with lowercase names.

use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tonic::metadata::{AsciiMetadataValue, MetadataKey};
use tonic::transport::Channel;

use crate::engine::control_client;

/// Bytes buffered between the session's HTTP/2 server and the stream.
const PIPE_BYTES: usize = 256 * 1024;

/// Opens the Control `Session` stream with `headers` as its metadata and
/// returns the local end of it, on which stagec serves the session. The
/// stream runs in a task that ends when either side closes.
pub(crate) fn open(channel: &Channel, headers: &[(&str, String)], session_id: &str) -> DuplexStream {
    let (local, remote) = tokio::io::duplex(PIPE_BYTES);
    let (from_server, to_server) = tokio::io::split(remote);

    let mut request = tonic::Request::new(outgoing_messages(from_server));
    for (name, value) in headers {
        let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes());
        let value = AsciiMetadataValue::try_from(value.as_str());
        match (key, value) {
            (Ok(key), Ok(value)) => {
                request.metadata_mut().append(key, value);
            }
            _ => tracing::warn!(header = %name, "session header is not valid gRPC metadata; left out"),
        }
    }

    let channel = channel.clone();
    let session_id = session_id.to_string();
    tokio::spawn(async move {
        let mut control = control_client(&channel);
        let incoming = match control.session(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                tracing::warn!(session = %session_id, error = %status, "BuildKit refused the session stream");
                return;
            }
        };
        copy_incoming(incoming, to_server, &session_id).await;
    });
    local
}

/// Turns what the session's HTTP/2 server writes into `BytesMessage`s.
fn outgoing_messages(reader: ReadHalf<DuplexStream>) -> impl futures::Stream<Item = BytesMessage> + Send + 'static {
    futures::stream::unfold(reader, |mut reader| async move {
        let mut buffer = vec![0u8; 32 * 1024];
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((BytesMessage { data: buffer }, reader))
            }
        }
    })
    .boxed()
}

/// Writes the data of every incoming `BytesMessage` to the session's
/// HTTP/2 server until the stream or the server ends.
async fn copy_incoming(
    mut incoming: tonic::Streaming<BytesMessage>,
    mut writer: WriteHalf<DuplexStream>,
    session_id: &str,
) {
    loop {
        match incoming.message().await {
            Ok(Some(message)) => {
                if writer.write_all(&message.data).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(status) => {
                tracing::debug!(session = %session_id, error = %status, "session stream ended with an error");
                break;
            }
        }
    }
    let _ = writer.shutdown().await;
}
