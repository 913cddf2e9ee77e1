//! containerd's content service (`containerd.services.content.v1.Content`)
//! on the session, through which BuildKit writes a `type=local` cache
//! export and reads a `type=local` cache import. BuildKit v0.13 names the
//! folder in the gRPC metadata key `buildkit-attachable-store-id` as
//! `local:` followed by the `dest` or `src` attribute as the user wrote it,
//! so one service serves every cache folder of a build.

mod store;
mod wire;
mod write;

pub(crate) use store::{BlobDigest, ContentStore};

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bollard_buildkit_proto::google::protobuf::Timestamp;
use futures::channel::mpsc;
use futures::{SinkExt, Stream};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::server::{Grpc, NamedService};
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

use super::super::MAX_GRPC_MESSAGE_BYTES;
use wire::{
    AbortRequest, DeleteContentRequest, Info, InfoRequest, InfoResponse, ListContentRequest, ListContentResponse,
    ListStatusesRequest, ListStatusesResponse, ReadContentRequest, ReadContentResponse, StatusRequest, StatusResponse,
    UpdateRequest, WriteContentRequest, WriteContentResponse,
};

const SERVICE_NAME: &str = "containerd.services.content.v1.Content";

/// Methods of the service, announced in the session headers.
pub(crate) const CONTENT_METHODS: &[&str] = &[
    "/containerd.services.content.v1.Content/Info",
    "/containerd.services.content.v1.Content/Update",
    "/containerd.services.content.v1.Content/List",
    "/containerd.services.content.v1.Content/Delete",
    "/containerd.services.content.v1.Content/Read",
    "/containerd.services.content.v1.Content/Status",
    "/containerd.services.content.v1.Content/ListStatuses",
    "/containerd.services.content.v1.Content/Write",
    "/containerd.services.content.v1.Content/Abort",
];

/// gRPC metadata key with the ID of the store that a call addresses.
const STORE_ID_KEY: &str = "buildkit-attachable-store-id";

/// Size of the data in one `Read` response.
const READ_CHUNK_BYTES: usize = 1 << 20;

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Serves the content stores of one build, by store ID.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContentService {
    stores: Arc<BTreeMap<String, Arc<ContentStore>>>,
}

impl ContentService {
    pub(crate) fn new(stores: BTreeMap<String, Arc<ContentStore>>) -> ContentService {
        ContentService {
            stores: Arc::new(stores),
        }
    }

    fn choose(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Arc<ContentStore>, Status> {
        let id = metadata
            .get(STORE_ID_KEY)
            .ok_or_else(|| Status::invalid_argument(format!("the request lacks the metadata key {STORE_ID_KEY}")))?
            .to_str()
            .map_err(|_| Status::invalid_argument(format!("{STORE_ID_KEY} is not text")))?;
        self.stores
            .get(id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("stagec serves no content store {id:?}")))
    }
}

impl NamedService for ContentService {
    const NAME: &'static str = SERVICE_NAME;
}

impl<B> Service<http::Request<B>> for ContentService
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
        let service = self.clone();
        let method = request
            .uri()
            .path()
            .strip_prefix(&format!("/{SERVICE_NAME}/"))
            .unwrap_or_default()
            .to_string();
        Box::pin(async move {
            let response = match method.as_str() {
                "Info" => unary(request, move |call| info(service.clone(), call)).await,
                "Update" => unary(request, update).await,
                "List" => server_streaming(request, move |call| list(service.clone(), call)).await,
                "Delete" => unary(request, move |call| delete(service.clone(), call)).await,
                "Read" => server_streaming(request, move |call| read(service.clone(), call)).await,
                "Status" => unary(request, move |call| status(service.clone(), call)).await,
                "ListStatuses" => unary(request, move |call| list_statuses(service.clone(), call)).await,
                "Write" => {
                    let mut grpc = codec::<WriteContentResponse, WriteContentRequest>();
                    let handler = tower::service_fn(move |call| write(service.clone(), call));
                    grpc.streaming(handler, request).await
                }
                "Abort" => unary(request, move |call| abort(service.clone(), call)).await,
                _ => Status::unimplemented(format!("stagec does not serve {SERVICE_NAME}/{method}")).into_http(),
            };
            Ok(response)
        })
    }
}

fn codec<Encode, Decode>() -> Grpc<ProstCodec<Encode, Decode>>
where
    Encode: prost::Message + Send + 'static,
    Decode: prost::Message + Default + Send + 'static,
{
    Grpc::new(ProstCodec::default())
        .apply_max_message_size_config(Some(MAX_GRPC_MESSAGE_BYTES), Some(MAX_GRPC_MESSAGE_BYTES))
}

async fn unary<B, Req, Resp, F, Fut>(request: http::Request<B>, handler: F) -> http::Response<tonic::body::Body>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnMut(Request<Req>) -> Fut + Send,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send,
{
    codec::<Resp, Req>().unary(tower::service_fn(handler), request).await
}

async fn server_streaming<B, Req, Resp, F, Fut>(
    request: http::Request<B>,
    handler: F,
) -> http::Response<tonic::body::Body>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnMut(Request<Req>) -> Fut + Send,
    Fut: Future<Output = Result<Response<ResponseStream<Resp>>, Status>> + Send,
{
    codec::<Resp, Req>()
        .server_streaming(tower::service_fn(handler), request)
        .await
}

async fn info(service: ContentService, request: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
    let store = service.choose(request.metadata())?;
    let digest = parse_digest(&request.get_ref().digest)?;
    let info = store.info(&digest).await?;
    Ok(Response::new(InfoResponse {
        info: Some(info_message(&info)),
    }))
}

async fn update(_request: Request<UpdateRequest>) -> Result<Response<InfoResponse>, Status> {
    // containerd's local store without a label store returns the same error.
    Err(Status::failed_precondition(
        "stagec keeps no labels in a local cache folder, so its content cannot be updated",
    ))
}

async fn list(
    service: ContentService,
    request: Request<ListContentRequest>,
) -> Result<Response<ResponseStream<ListContentResponse>>, Status> {
    let store = service.choose(request.metadata())?;
    if !request.get_ref().filters.is_empty() {
        return Err(Status::unimplemented(
            "stagec does not support filters when listing content",
        ));
    }
    let infos = store.list().await?;
    let response = ListContentResponse {
        info: infos.iter().map(info_message).collect(),
    };
    Ok(Response::new(Box::pin(futures::stream::iter([Ok(response)]))))
}

async fn delete(service: ContentService, request: Request<DeleteContentRequest>) -> Result<Response<()>, Status> {
    let store = service.choose(request.metadata())?;
    let digest = parse_digest(&request.get_ref().digest)?;
    store.delete(&digest).await?;
    Ok(Response::new(()))
}

/// Sends the bytes from `offset`, `size` of them or up to the end when
/// `size` is 0 or reaches past it, as containerd's ReaderAt proxy expects.
async fn read(
    service: ContentService,
    request: Request<ReadContentRequest>,
) -> Result<Response<ResponseStream<ReadContentResponse>>, Status> {
    let store = service.choose(request.metadata())?;
    let ReadContentRequest { digest, offset, size } = request.into_inner();
    let digest = parse_digest(&digest)?;
    let info = store.info(&digest).await?;
    let offset = u64::try_from(offset).unwrap_or(0);
    if offset > info.size {
        return Err(Status::out_of_range(format!(
            "read at offset {offset} is past the end of {digest} ({} bytes)",
            info.size
        )));
    }
    let remaining = info.size - offset;
    let size = match u64::try_from(size) {
        Ok(size) if size > 0 && size < remaining => size,
        _ => remaining,
    };

    let path = digest.blob_path(store.root());
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|error| store::io_status("opening", &path, &error))?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|error| store::io_status("reading", &path, &error))?;

    let (mut sender, receiver) = mpsc::channel::<Result<ReadContentResponse, Status>>(4);
    tokio::spawn(async move {
        let mut position = offset;
        let end = offset + size;
        while position < end {
            let chunk_len = (end - position).min(READ_CHUNK_BYTES as u64) as usize;
            let mut data = vec![0; chunk_len];
            if let Err(error) = file.read_exact(&mut data).await {
                let _ = sender.send(Err(store::io_status("reading", &path, &error))).await;
                return;
            }
            let response = ReadContentResponse {
                offset: position as i64,
                data,
            };
            if sender.send(Ok(response)).await.is_err() {
                return;
            }
            position += chunk_len as u64;
        }
    });
    Ok(Response::new(Box::pin(receiver)))
}

async fn status(service: ContentService, request: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
    let store = service.choose(request.metadata())?;
    let status = store.status(&request.get_ref().r#ref)?;
    Ok(Response::new(StatusResponse {
        status: Some(status_message(&status)),
    }))
}

async fn list_statuses(
    service: ContentService,
    request: Request<ListStatusesRequest>,
) -> Result<Response<ListStatusesResponse>, Status> {
    let store = service.choose(request.metadata())?;
    if !request.get_ref().filters.is_empty() {
        return Err(Status::unimplemented(
            "stagec does not support filters when listing writes",
        ));
    }
    Ok(Response::new(ListStatusesResponse {
        statuses: store.statuses().iter().map(status_message).collect(),
    }))
}

async fn write(
    service: ContentService,
    request: Request<Streaming<WriteContentRequest>>,
) -> Result<Response<ResponseStream<WriteContentResponse>>, Status> {
    let store = service.choose(request.metadata())?;
    let (sender, receiver) = mpsc::channel(4);
    tokio::spawn(write::serve_write(store, request.into_inner(), sender));
    Ok(Response::new(Box::pin(receiver)))
}

async fn abort(service: ContentService, request: Request<AbortRequest>) -> Result<Response<()>, Status> {
    let store = service.choose(request.metadata())?;
    store.abort(&request.get_ref().r#ref)?;
    Ok(Response::new(()))
}

fn parse_digest(text: &str) -> Result<BlobDigest, Status> {
    BlobDigest::parse(text).map_err(Status::invalid_argument)
}

fn info_message(info: &store::BlobInfo) -> Info {
    Info {
        digest: info.digest.to_string(),
        size: info.size as i64,
        created_at: Some(timestamp(info.modified)),
        updated_at: Some(timestamp(info.modified)),
    }
}

fn status_message(status: &store::IngestStatus) -> wire::Status {
    wire::Status {
        started_at: Some(timestamp(status.started_at)),
        updated_at: Some(timestamp(status.updated_at)),
        r#ref: status.reference.clone(),
        offset: status.offset as i64,
        total: status.total as i64,
        expected: status.expected.as_ref().map(ToString::to_string).unwrap_or_default(),
    }
}

fn timestamp(time: SystemTime) -> Timestamp {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: since_epoch.as_secs() as i64,
        nanos: since_epoch.subsec_nanos() as i32,
    }
}
