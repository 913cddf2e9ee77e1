//! The FileSync service (`/moby.filesync.v1.FileSync/DiffCopy`), through
//! which BuildKit reads a local source, such as the build context, from the
//! client.
//!
//! The engine opens a DiffCopy stream whose gRPC metadata names the folder
//! (`dir-name`) and its filters (`include-patterns`, `exclude-patterns`,
//! `followpaths`). The protocol, as fsutil 2024-04 in Docker Engine 26.1
//! speaks it:
//!
//! 1. stagec sends one `PACKET_STAT` per entry in walk order, then a
//!    `PACKET_STAT` without a stat to end the listing.
//! 2. The engine sends `PACKET_REQ` with the ID of each regular file whose
//!    content it lacks. The ID of an entry is the index of its stat packet.
//! 3. stagec responds to each request with `PACKET_DATA` chunks of that ID and
//!    an empty `PACKET_DATA` for the end of the file.
//! 4. The engine sends `PACKET_FIN` when it has everything, and stagec
//!    responds with `PACKET_FIN` and ends the stream.
//!
//! Either side may send `PACKET_ERR` with a message instead.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bollard_buildkit_proto::fsutil::types::Packet;
use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSync;
use futures::channel::mpsc;
use futures::{SinkExt, Stream};
use prost::Message;
use tokio::io::AsyncReadExt;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::patterns::PatternSet;
use super::walk::{Entry, Filter, list_entries, resolve_follow_paths};

/// Size of the `PACKET_DATA` chunks, the same as Go's sender uses.
const CHUNK_BYTES: usize = 32 * 1024;

/// Packets queued between the transfer task and the gRPC stream.
const QUEUED_PACKETS: usize = 64;

pub(crate) type PacketStream = Pin<Box<dyn Stream<Item = Result<Packet, Status>> + Send + 'static>>;

/// Serves the local folders registered for one build, by name.
#[derive(Debug, Clone)]
pub(crate) struct FileSyncService {
    dirs: Arc<BTreeMap<String, PathBuf>>,
    /// Encoded size of every packet sent, over all transfers.
    bytes_sent: Arc<AtomicU64>,
}

impl FileSyncService {
    pub(crate) fn new(dirs: BTreeMap<String, PathBuf>, bytes_sent: Arc<AtomicU64>) -> FileSyncService {
        FileSyncService {
            dirs: Arc::new(dirs),
            bytes_sent,
        }
    }
}

/// Folder and filters that one DiffCopy stream requests.
#[derive(Debug, PartialEq, Eq)]
struct TransferRequest {
    dir_name: String,
    include_patterns: Vec<String>,
    exclude_patterns: Vec<String>,
    follow_paths: Vec<String>,
}

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = PacketStream;
    type TarStreamStream = PacketStream;

    async fn diff_copy(&self, request: Request<Streaming<Packet>>) -> Result<Response<PacketStream>, Status> {
        let transfer = TransferRequest::from_metadata(request.metadata());
        let Some(root) = self.dirs.get(&transfer.dir_name).cloned() else {
            tracing::warn!(dir_name = %transfer.dir_name, "engine requested a local folder that this build did not register");
            return Err(Status::not_found(format!(
                "no local folder named {:?} is registered for this build",
                transfer.dir_name
            )));
        };

        // As in fsutil, follow paths add to the include patterns, so a
        // transfer with follow paths and no include patterns sends only them.
        let mut include_patterns = transfer.include_patterns.clone();
        include_patterns.extend(resolve_follow_paths(&root, &transfer.follow_paths));
        let filter = Filter {
            include: PatternSet::new(&include_patterns).map_err(Status::invalid_argument)?,
            exclude: PatternSet::new(&transfer.exclude_patterns).map_err(Status::invalid_argument)?,
        };

        tracing::debug!(
            dir_name = %transfer.dir_name,
            includes = ?transfer.include_patterns,
            excludes = ?transfer.exclude_patterns,
            "serving local folder"
        );
        let (sender, receiver) = mpsc::channel(QUEUED_PACKETS);
        let transfer_task = Transfer {
            sender,
            bytes_sent: self.bytes_sent.clone(),
            dir_name: transfer.dir_name,
        };
        tokio::spawn(transfer_task.run(root, filter, request.into_inner()));
        Ok(Response::new(Box::pin(receiver)))
    }

    async fn tar_stream(&self, _request: Request<Streaming<Packet>>) -> Result<Response<PacketStream>, Status> {
        Err(Status::unimplemented("stagec serves local folders with DiffCopy only"))
    }
}

impl TransferRequest {
    fn from_metadata(metadata: &MetadataMap) -> TransferRequest {
        TransferRequest {
            dir_name: metadata_values(metadata, "dir-name")
                .into_iter()
                .next()
                .unwrap_or_default(),
            include_patterns: metadata_values(metadata, "include-patterns"),
            exclude_patterns: metadata_values(metadata, "exclude-patterns"),
            follow_paths: metadata_values(metadata, "followpaths"),
        }
    }
}

/// Returns the values of `key`. BuildKit URL-encodes the values of a key
/// that contains non-ASCII text and then sets `<key>-encoded` to `1`.
fn metadata_values(metadata: &MetadataMap, key: &str) -> Vec<String> {
    let encoded = metadata
        .get(format!("{key}-encoded"))
        .and_then(|value| value.to_str().ok())
        .is_some_and(parse_go_bool);
    metadata
        .get_all(key)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(|value| {
            if encoded {
                query_unescape(value)
            } else {
                value.to_string()
            }
        })
        .collect()
}

/// Parses a boolean the way Go's `strconv.ParseBool` accepts true.
fn parse_go_bool(text: &str) -> bool {
    matches!(text, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

/// Decodes Go's `url.QueryEscape` encoding: `+` is a space and `%XX` a byte.
/// An invalid escape is kept as it is.
fn query_unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let escaped = (byte == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, escaped) {
            (_, Some(value)) => {
                decoded.push(value);
                index += 3;
            }
            (b'+', None) => {
                decoded.push(b' ');
                index += 1;
            }
            (_, None) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// One DiffCopy stream: the task that sends the listing and the requested
/// file contents.
struct Transfer {
    sender: mpsc::Sender<Result<Packet, Status>>,
    bytes_sent: Arc<AtomicU64>,
    dir_name: String,
}

/// Reason that a transfer stopped early.
enum Stop {
    /// The engine closed the stream or the session, so nothing can be sent.
    Closed,
    /// An error to report to the engine with `PACKET_ERR`.
    Failed(String),
}

impl Transfer {
    async fn run(mut self, root: PathBuf, filter: Filter, incoming: Streaming<Packet>) {
        let listed = match tokio::task::spawn_blocking(move || list_entries(&root, &filter)).await {
            Ok(listed) => listed.map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        let entries = match listed {
            Ok(entries) => entries,
            Err(error) => {
                let message = format!("listing local folder {:?} failed: {error}", self.dir_name);
                return self.fail(message).await;
            }
        };

        let entry_count = entries.len();
        let contents: Vec<Option<PathBuf>> = entries.iter().map(|entry| entry.content.clone()).collect();

        // The listing goes out from its own task so that requests for the
        // first files are read while later stats are still being sent.
        let mut stat_sender = Transfer {
            sender: self.sender.clone(),
            bytes_sent: self.bytes_sent.clone(),
            dir_name: self.dir_name.clone(),
        };
        let listing_task = tokio::spawn(async move { stat_sender.send_listing(entries).await });

        let result = self.serve_requests(contents, incoming).await;
        listing_task.abort();
        match result {
            Ok(()) => tracing::debug!(
                dir_name = %self.dir_name,
                entries = entry_count,
                session_bytes_sent = self.bytes_sent.load(Ordering::Relaxed),
                "local folder sent"
            ),
            Err(Stop::Closed) => tracing::debug!(dir_name = %self.dir_name, "engine closed the transfer"),
            Err(Stop::Failed(message)) => self.fail(message).await,
        }
    }

    async fn send_listing(&mut self, entries: Vec<Entry>) -> Result<(), Stop> {
        for entry in entries {
            let packet = Packet {
                r#type: PacketType::PacketStat as i32,
                stat: Some(entry.stat),
                id: 0,
                data: Vec::new(),
            };
            self.send(packet).await?;
        }
        self.send(packet_of(PacketType::PacketStat, 0)).await
    }

    async fn serve_requests(
        &mut self,
        mut contents: Vec<Option<PathBuf>>,
        mut incoming: Streaming<Packet>,
    ) -> Result<(), Stop> {
        loop {
            let packet = match incoming.message().await {
                Ok(Some(packet)) => packet,
                // The engine ended its side without PACKET_FIN.
                Ok(None) => return Ok(()),
                Err(status) => {
                    tracing::debug!(dir_name = %self.dir_name, error = %status, "transfer stream failed");
                    return Err(Stop::Closed);
                }
            };

            match PacketType::try_from(packet.r#type) {
                Ok(PacketType::PacketReq) => {
                    let content = contents.get_mut(packet.id as usize).and_then(Option::take);
                    let Some(path) = content else {
                        return Err(Stop::Failed(format!("engine requested unknown file ID {}", packet.id)));
                    };
                    self.send_file(packet.id, &path).await?;
                }
                Ok(PacketType::PacketFin) => {
                    return self.send(packet_of(PacketType::PacketFin, 0)).await;
                }
                Ok(PacketType::PacketErr) => {
                    let message = String::from_utf8_lossy(&packet.data).into_owned();
                    tracing::warn!(dir_name = %self.dir_name, error = %message, "engine failed to receive local folder");
                    return Err(Stop::Closed);
                }
                // The receiver sends no other packet types, so this skips what
                // a newer one may add.
                _ => {}
            }
        }
    }

    /// Sends the content of the file with `id` as data packets and ends it
    /// with an empty one.
    async fn send_file(&mut self, id: u32, path: &PathBuf) -> Result<(), Stop> {
        let mut file = open_no_follow(path)
            .await
            .map_err(|error| Stop::Failed(format!("opening {}: {error}", path.display())))?;
        let mut buffer = vec![0; CHUNK_BYTES];
        loop {
            let read = file
                .read(&mut buffer)
                .await
                .map_err(|error| Stop::Failed(format!("reading {}: {error}", path.display())))?;
            if read == 0 {
                break;
            }
            let packet = Packet {
                r#type: PacketType::PacketData as i32,
                stat: None,
                id,
                data: buffer[..read].to_vec(),
            };
            self.send(packet).await?;
        }
        self.send(packet_of(PacketType::PacketData, id)).await
    }

    async fn send(&mut self, packet: Packet) -> Result<(), Stop> {
        let size = packet.encoded_len() as u64;
        self.sender.send(Ok(packet)).await.map_err(|_| Stop::Closed)?;
        self.bytes_sent.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// Reports `message` to the engine with `PACKET_ERR` and ends the stream.
    async fn fail(&mut self, message: String) {
        tracing::warn!(dir_name = %self.dir_name, error = %message, "local folder transfer failed");
        let packet = Packet {
            r#type: PacketType::PacketErr as i32,
            stat: None,
            id: 0,
            data: message.clone().into_bytes(),
        };
        let _ = self.sender.send(Ok(packet)).await;
        let _ = self.sender.send(Err(Status::internal(message))).await;
    }
}

fn packet_of(packet_type: PacketType, id: u32) -> Packet {
    Packet {
        r#type: packet_type as i32,
        stat: None,
        id,
        data: Vec::new(),
    }
}

/// Opens `path` for reading without following a symlink in its last
/// component, so a file replaced by a symlink after the listing is not read
/// through the link.
// NOTE: a parent folder replaced by a symlink after the listing is still
// followed; openat2 with RESOLVE_BENEATH would close that gap on Linux 5.6+.
async fn open_no_follow(path: &PathBuf) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_unescape_table() {
        let cases = [
            ("plain", "plain"),
            ("a+b", "a b"),
            ("caf%C3%A9", "café"),
            ("100%", "100%"),
            ("%zz", "%zz"),
        ];
        for (input, expected) in cases {
            assert_eq!(query_unescape(input), expected, "{input}");
        }
    }

    #[test]
    fn metadata_reads_all_values() {
        let mut metadata = MetadataMap::new();
        metadata.insert("dir-name", "context".parse().expect("ascii"));
        metadata.append("include-patterns", "src".parse().expect("ascii"));
        metadata.append("include-patterns", "go.mod".parse().expect("ascii"));
        metadata.append("exclude-patterns", "caf%C3%A9".parse().expect("ascii"));
        metadata.insert("exclude-patterns-encoded", "1".parse().expect("ascii"));

        let request = TransferRequest::from_metadata(&metadata);
        assert_eq!(
            request,
            TransferRequest {
                dir_name: "context".to_string(),
                include_patterns: vec!["src".to_string(), "go.mod".to_string()],
                exclude_patterns: vec!["café".to_string()],
                follow_paths: vec![],
            }
        );
    }
}
