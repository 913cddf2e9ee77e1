//! The FileSend service (`/moby.filesync.v1.FileSend/DiffCopy`), through
//! which BuildKit's exporters write an output to the client: `local` sends
//! a folder, and `tar`, `oci` and `docker` send one file.
//!
//! BuildKit 0.13 puts the exporter's index in the Solve request into the
//! gRPC metadata key `buildkit-attachable-exporter-id`, so one service
//! serves several outputs of the same build. The stream carries one of two
//! message types, which the method's protobuf declaration does not tell:
//!
//! - a file output sends `BytesMessage` chunks and closes its side, and
//!   stagec ends the stream once everything is written;
//! - a folder output speaks fsutil's DiffCopy protocol with the engine as
//!   sender (filesync.rs has stagec as sender): `PACKET_STAT` per entry and
//!   an empty one at the end, then stagec requests each regular file with
//!   `PACKET_REQ` by the index of its stat, receives `PACKET_DATA` chunks
//!   with an empty chunk at the end of each file, and sends `PACKET_FIN`,
//!   to which the engine replies with `PACKET_FIN`.
//!
//! So this service decodes the raw messages itself, by the kind of output.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::{Packet, Stat};
use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
use bytes::{Buf, BufMut, Bytes};
use futures::channel::mpsc;
use futures::{SinkExt, Stream};
use prost::Message;
use tokio::io::AsyncWriteExt;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::server::{Grpc, NamedService, StreamingService};
use tonic::{Request, Response, Status, Streaming};

use super::super::MAX_GRPC_MESSAGE_BYTES;
use crate::engine::exporter::Destination;

const DIFF_COPY_PATH: &str = "/moby.filesync.v1.FileSend/DiffCopy";

/// gRPC metadata key with the index of the exporter that writes the stream.
const EXPORTER_ID_KEY: &str = "buildkit-attachable-exporter-id";

/// Go's `os.FileMode` bits that fsutil puts into `Stat.mode`.
mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const STICKY: u32 = 1 << 20;
}

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send + 'static>>;

/// Receives the outputs of one build, by exporter index.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileSendService {
    destinations: Arc<BTreeMap<usize, Destination>>,
}

impl FileSendService {
    pub(crate) fn new(destinations: BTreeMap<usize, Destination>) -> FileSendService {
        FileSendService {
            destinations: Arc::new(destinations),
        }
    }
}

impl NamedService for FileSendService {
    const NAME: &'static str = "moby.filesync.v1.FileSend";
}

impl<B> Service<http::Request<B>> for FileSendService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != DIFF_COPY_PATH {
            let status = Status::unimplemented(format!("stagec does not serve {}", request.uri().path()));
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let handler = DiffCopyHandler(self.clone());
        Box::pin(async move {
            let mut grpc = Grpc::new(RawCodec).apply_max_message_size_config(Some(MAX_GRPC_MESSAGE_BYTES), None);
            Ok(grpc.streaming(handler, request).await)
        })
    }
}

struct DiffCopyHandler(FileSendService);

impl StreamingService<Bytes> for DiffCopyHandler {
    type Response = Bytes;
    type ResponseStream = ByteStream;
    type Future = BoxFuture<Response<ByteStream>, Status>;

    fn call(&mut self, request: Request<Streaming<Bytes>>) -> Self::Future {
        let destinations = self.0.destinations.clone();
        Box::pin(async move {
            let exporter_id = exporter_id(request.metadata())?;
            let destination = destinations
                .get(&exporter_id)
                .cloned()
                .ok_or_else(|| Status::not_found(format!("stagec has no output for exporter {exporter_id}")))?;
            tracing::debug!(exporter_id, ?destination, "engine started sending an output");

            let (sender, receiver) = mpsc::channel::<Result<Bytes, Status>>(16);
            let incoming = request.into_inner();
            tokio::spawn(async move {
                let mut sender = sender;
                let received = match &destination {
                    Destination::Directory(dir) => receive_folder(dir, incoming, &mut sender).await,
                    Destination::File(path) => receive_file(path, incoming).await,
                    Destination::Stdout => receive_stdout(incoming).await,
                };
                match received {
                    Ok(()) => tracing::debug!(exporter_id, ?destination, "output written"),
                    Err(status) => {
                        tracing::debug!(exporter_id, ?destination, error = %status, "writing the output failed");
                        let _ = sender.send(Err(status)).await;
                    }
                }
            });
            Ok(Response::new(Box::pin(receiver) as ByteStream))
        })
    }
}

fn exporter_id(metadata: &tonic::metadata::MetadataMap) -> Result<usize, Status> {
    let Some(value) = metadata.get(EXPORTER_ID_KEY) else {
        // BuildKit before 0.13 has one exporter and sends no index.
        return Ok(0);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| Status::invalid_argument(format!("invalid {EXPORTER_ID_KEY} {value:?}")))
}

/// Writes the chunks to a temporary file next to `path`, then renames it,
/// so that a failed export leaves an earlier file in place.
async fn receive_file(path: &Path, mut incoming: Streaming<Bytes>) -> Result<(), Status> {
    let failed = |action: &str, error: std::io::Error| {
        Status::internal(format!("stagec: {action} {} failed: {error}", path.display()))
    };
    let parent = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|error| failed("creating the folder of", error))?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = PartialFile(Some(parent.join(format!(".{file_name}.stagec-partial"))));
    let partial_path = partial.path();

    let received = async {
        let mut file = tokio::fs::File::create(&partial_path)
            .await
            .map_err(|error| failed("creating", error))?;
        let mut written = 0u64;
        while let Some(message) = incoming.message().await? {
            let chunk = decode_chunk(message)?;
            written += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|error| failed("writing", error))?;
        }
        file.flush().await.map_err(|error| failed("writing", error))?;
        drop(file);
        tokio::fs::rename(&partial_path, path)
            .await
            .map_err(|error| failed("renaming the partial file to", error))?;
        Ok::<u64, Status>(written)
    }
    .await;
    let written = received?;
    partial.keep();
    tracing::debug!(path = %path.display(), bytes = written, "output file written");
    Ok(())
}

/// Temporary file of an export, removed on drop unless the export finished.
/// The drop also runs when Ctrl-C ends the build: the runtime then drops the
/// task that receives the file, and no hidden partial file stays behind, as
/// it would after a failed export (a full disk, a closed session).
struct PartialFile(Option<PathBuf>);

impl PartialFile {
    fn path(&self) -> PathBuf {
        self.0.clone().unwrap_or_default()
    }

    /// Leaves the file alone on drop, because it was renamed to the output.
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take()
            && let Err(error) = std::fs::remove_file(&path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %error, "failed to remove the partial output file");
        }
    }
}

async fn receive_stdout(mut incoming: Streaming<Bytes>) -> Result<(), Status> {
    use std::io::Write;

    let failed =
        |error: std::io::Error| Status::internal(format!("stagec: writing to standard output failed: {error}"));
    while let Some(message) = incoming.message().await? {
        let chunk = decode_chunk(message)?;
        // A blocking write, because tokio's stdout is not enabled in this
        // crate; a chunk is at most 3 MiB.
        std::io::stdout().lock().write_all(&chunk).map_err(failed)?;
    }
    std::io::stdout().lock().flush().map_err(failed)
}

fn decode_chunk(message: Bytes) -> Result<Vec<u8>, Status> {
    BytesMessage::decode(message)
        .map(|chunk| chunk.data)
        .map_err(|error| Status::invalid_argument(format!("invalid BytesMessage from the engine: {error}")))
}

/// A regular file announced in the listing, by the index of its stat.
struct PendingFile {
    path: PathBuf,
    stat: Stat,
    file: Option<tokio::fs::File>,
}

/// Receives a folder with fsutil's DiffCopy protocol into `dir`, which is
/// created when missing. Files already in `dir` stay unless the output
/// replaces them.
async fn receive_folder(
    dir: &Path,
    mut incoming: Streaming<Bytes>,
    sender: &mut mpsc::Sender<Result<Bytes, Status>>,
) -> Result<(), Status> {
    let io_failed = |action: &str, path: &Path, error: std::io::Error| {
        Status::internal(format!("stagec: {action} {} failed: {error}", path.display()))
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|error| io_failed("creating", dir, error))?;

    // The listing: folders and links are made right away, regular files
    // are requested once the listing is complete.
    let mut pending: BTreeMap<u32, PendingFile> = BTreeMap::new();
    let mut hard_links = Vec::new();
    let mut index: u32 = 0;
    loop {
        let packet = next_packet(&mut incoming).await?;
        match packet_type(&packet)? {
            PacketType::PacketStat => {}
            PacketType::PacketErr => return Err(engine_error(&packet)),
            other => return Err(Status::invalid_argument(format!("unexpected {other:?} in the listing"))),
        }
        let Some(stat) = packet.stat else {
            break;
        };
        let path = dir.join(relative_path(&stat.path)?);
        let id = index;
        index += 1;
        if stat.mode & go_mode::DIR != 0 {
            tokio::fs::create_dir_all(&path)
                .await
                .map_err(|error| io_failed("creating", &path, error))?;
            set_permissions(&path, stat.mode).await?;
        } else if stat.mode & go_mode::SYMLINK != 0 {
            let _ = tokio::fs::remove_file(&path).await;
            tokio::fs::symlink(&stat.linkname, &path)
                .await
                .map_err(|error| io_failed("creating the link", &path, error))?;
        } else if stat.mode & (go_mode::DEVICE | go_mode::NAMED_PIPE | go_mode::SOCKET) != 0 {
            tracing::debug!(path = %stat.path, "skipping a device, pipe or socket in the output");
        } else if !stat.linkname.is_empty() {
            hard_links.push((dir.join(relative_path(&stat.linkname)?), path));
        } else {
            pending.insert(id, PendingFile { path, stat, file: None });
        }
    }

    for id in pending.keys() {
        send_packet(sender, packet_of(PacketType::PacketReq, *id)).await?;
    }

    let mut remaining = pending.len();
    while remaining > 0 {
        let packet = next_packet(&mut incoming).await?;
        match packet_type(&packet)? {
            PacketType::PacketData => {}
            PacketType::PacketErr => return Err(engine_error(&packet)),
            other => {
                return Err(Status::invalid_argument(format!(
                    "unexpected {other:?} while receiving files"
                )));
            }
        }
        let entry = pending
            .get_mut(&packet.id)
            .ok_or_else(|| Status::invalid_argument(format!("data for unrequested file {}", packet.id)))?;
        if entry.file.is_none() {
            let _ = tokio::fs::remove_file(&entry.path).await;
            let file = tokio::fs::File::create(&entry.path)
                .await
                .map_err(|error| io_failed("creating", &entry.path, error))?;
            entry.file = Some(file);
        }
        let Some(file) = entry.file.as_mut() else {
            continue;
        };
        if packet.data.is_empty() {
            file.flush()
                .await
                .map_err(|error| io_failed("writing", &entry.path, error))?;
            if let Some(file) = entry.file.take() {
                let modified = modification_time(entry.stat.mod_time);
                file.into_std()
                    .await
                    .set_modified(modified)
                    .map_err(|error| io_failed("setting the modification time of", &entry.path, error))?;
            }
            set_permissions(&entry.path, entry.stat.mode).await?;
            remaining -= 1;
        } else {
            file.write_all(&packet.data)
                .await
                .map_err(|error| io_failed("writing", &entry.path, error))?;
        }
    }

    for (target, path) in hard_links {
        let _ = tokio::fs::remove_file(&path).await;
        tokio::fs::hard_link(&target, &path)
            .await
            .map_err(|error| io_failed("creating the hard link", &path, error))?;
    }

    send_packet(sender, packet_of(PacketType::PacketFin, 0)).await?;
    while let Some(message) = incoming.message().await? {
        let packet = decode_packet(message)?;
        if packet_type(&packet)? == PacketType::PacketFin {
            break;
        }
    }
    tracing::debug!(dir = %dir.display(), files = pending.len(), "output folder written");
    Ok(())
}

/// Returns the entry's path below the output folder, rejecting paths that
/// would leave it.
fn relative_path(path: &str) -> Result<PathBuf, Status> {
    let relative = Path::new(path);
    let inside = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
    if !inside || path.is_empty() {
        return Err(Status::invalid_argument(format!(
            "output path {path:?} leaves the output folder"
        )));
    }
    Ok(relative.to_path_buf())
}

/// Returns the time of fsutil's `mod_time`, in nanoseconds since the Unix epoch.
fn modification_time(nanoseconds: i64) -> std::time::SystemTime {
    let since_epoch = std::time::Duration::from_nanos(nanoseconds.unsigned_abs());
    if nanoseconds >= 0 {
        std::time::UNIX_EPOCH + since_epoch
    } else {
        std::time::UNIX_EPOCH - since_epoch
    }
}

/// Applies the permission bits of Go's file mode, with setuid, setgid and sticky.
async fn set_permissions(path: &Path, go_file_mode: u32) -> Result<(), Status> {
    use std::os::unix::fs::PermissionsExt;

    let mut mode = go_file_mode & 0o777;
    if go_file_mode & go_mode::SETUID != 0 {
        mode |= 0o4000;
    }
    if go_file_mode & go_mode::SETGID != 0 {
        mode |= 0o2000;
    }
    if go_file_mode & go_mode::STICKY != 0 {
        mode |= 0o1000;
    }
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .await
        .map_err(|error| {
            Status::internal(format!(
                "stagec: setting the mode of {} failed: {error}",
                path.display()
            ))
        })
}

async fn next_packet(incoming: &mut Streaming<Bytes>) -> Result<Packet, Status> {
    match incoming.message().await? {
        Some(message) => decode_packet(message),
        None => Err(Status::aborted("the engine ended the output stream early")),
    }
}

fn decode_packet(message: Bytes) -> Result<Packet, Status> {
    Packet::decode(message).map_err(|error| Status::invalid_argument(format!("invalid fsutil packet: {error}")))
}

fn packet_type(packet: &Packet) -> Result<PacketType, Status> {
    PacketType::try_from(packet.r#type)
        .map_err(|_| Status::invalid_argument(format!("unknown fsutil packet type {}", packet.r#type)))
}

fn engine_error(packet: &Packet) -> Status {
    Status::aborted(format!(
        "the engine failed to send the output: {}",
        String::from_utf8_lossy(&packet.data)
    ))
}

fn packet_of(packet_type: PacketType, id: u32) -> Packet {
    Packet {
        r#type: packet_type as i32,
        stat: None,
        id,
        data: Vec::new(),
    }
}

async fn send_packet(sender: &mut mpsc::Sender<Result<Bytes, Status>>, packet: Packet) -> Result<(), Status> {
    sender
        .send(Ok(Bytes::from(packet.encode_to_vec())))
        .await
        .map_err(|_| Status::aborted("the engine closed the output stream"))
}

/// Passes messages through undecoded, because one method carries two
/// message types (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;

struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, destination: &mut EncodeBuf<'_>) -> Result<(), Status> {
        destination.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, source: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let length = source.remaining();
        Ok(Some(source.copy_to_bytes(length)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_inside() {
        assert_eq!(relative_path("bin/app").expect("inside"), PathBuf::from("bin/app"));
        for outside in ["../x", "/etc/passwd", "a/../../x", ""] {
            assert!(relative_path(outside).is_err(), "{outside}");
        }
    }

    #[test]
    fn bytes_message_and_packet_differ() {
        let chunk = BytesMessage { data: b"tar".to_vec() }.encode_to_vec();
        assert_eq!(decode_chunk(Bytes::from(chunk)).expect("chunk"), b"tar");

        let packet = packet_of(PacketType::PacketFin, 0).encode_to_vec();
        assert_eq!(
            packet_type(&decode_packet(Bytes::from(packet)).expect("packet")).expect("type"),
            PacketType::PacketFin
        );
    }
}
