//! The `Write` stream of the content service. It follows containerd's
//! server (v1.7.13, services/content/contentserver). The first message
//! names the ref and may declare the size and digest. Then each `STAT`
//! returns the progress, and each `WRITE` appends data at the current
//! offset (offset 0 with data starts over). `COMMIT` checks size and
//! digest, moves the blob into place and ends the stream. A declared digest that the store
//! already has ends the stream with `AlreadyExists`, which BuildKit takes
//! as success.

use std::sync::Arc;
use std::time::SystemTime;

use futures::SinkExt;
use futures::channel::mpsc;
use sha2::Digest;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tonic::{Status, Streaming};

use super::store::{BlobDigest, ContentStore, IngestFile, IngestStatus, io_status};
use super::timestamp;
use super::wire::{WriteAction, WriteContentRequest, WriteContentResponse};

/// Serves one Write stream and sends its responses, or the error that
/// ends it, to `responses`.
pub(super) async fn serve_write(
    store: Arc<ContentStore>,
    mut incoming: Streaming<WriteContentRequest>,
    mut responses: mpsc::Sender<Result<WriteContentResponse, Status>>,
) {
    if let Err(status) = write_stream(&store, &mut incoming, &mut responses).await {
        if status.code() != tonic::Code::AlreadyExists {
            tracing::debug!(store = %store.root().display(), error = %status, "content write failed");
        }
        let _ = responses.send(Err(status)).await;
    }
}

async fn write_stream(
    store: &ContentStore,
    incoming: &mut Streaming<WriteContentRequest>,
    responses: &mut mpsc::Sender<Result<WriteContentResponse, Status>>,
) -> Result<(), Status> {
    let Some(mut request) = incoming.message().await? else {
        return Ok(());
    };
    if request.r#ref.is_empty() {
        return Err(Status::invalid_argument("the first write message must have a ref"));
    }
    let reference = request.r#ref.clone();
    let expected = parse_expected(&request.expected)?;
    let (mut status, mut file) = store
        .acquire(&reference, non_negative(request.total)?, expected)
        .await?;
    tracing::debug!(store = %store.root().display(), reference, "content write started");

    loop {
        let action = WriteAction::try_from(request.action)
            .map_err(|_| Status::invalid_argument(format!("unknown write action {}", request.action)))?;
        if action == WriteAction::Commit {
            let committed = commit(store, &mut status, file, &request).await;
            store.finish(&reference);
            let response = committed?;
            tracing::debug!(store = %store.root().display(), reference, digest = %response.digest, "content committed");
            let _ = responses.send(Ok(response)).await;
            return Ok(());
        }

        let response = match apply(store, &mut status, &mut file, &request, action).await {
            Ok(response) => response,
            Err(status) => {
                store.finish(&reference);
                return Err(status);
            }
        };
        store.update_status(&status);
        if responses.send(Ok(response)).await.is_err() {
            store.release(status, file);
            return Ok(());
        }

        match incoming.message().await {
            Ok(Some(next)) => request = next,
            Ok(None) => {
                // A stream that ends before the commit may be resumed by a
                // later one with the same ref, as containerd allows.
                store.release(status, file);
                return Ok(());
            }
            Err(error) => {
                store.release(status, file);
                return Err(error);
            }
        }
    }
}

/// Applies a `STAT` or `WRITE` message.
async fn apply(
    store: &ContentStore,
    status: &mut IngestStatus,
    file: &mut IngestFile,
    request: &WriteContentRequest,
    action: WriteAction,
) -> Result<WriteContentResponse, Status> {
    update_expectations(store, status, request).await?;
    if action == WriteAction::Write {
        write_data(status, file, request).await?;
    }

    let mut response = WriteContentResponse {
        action: action as i32,
        offset: status.offset as i64,
        digest: BlobDigest::from_hasher(file.hasher.clone()).to_string(),
        ..WriteContentResponse::default()
    };
    if action == WriteAction::Stat {
        response.started_at = Some(timestamp(status.started_at));
        response.updated_at = Some(timestamp(status.updated_at));
        response.total = status.total as i64;
    }
    Ok(response)
}

/// Applies a `COMMIT` message, which may carry the last data.
async fn commit(
    store: &ContentStore,
    status: &mut IngestStatus,
    mut file: IngestFile,
    request: &WriteContentRequest,
) -> Result<WriteContentResponse, Status> {
    update_expectations(store, status, request).await?;
    write_data(status, &mut file, request).await?;
    let expected = status.expected.clone();
    let digest = store.commit(status, file, expected.as_ref()).await?;
    Ok(WriteContentResponse {
        action: WriteAction::Commit as i32,
        started_at: Some(timestamp(status.started_at)),
        updated_at: Some(timestamp(status.updated_at)),
        offset: status.offset as i64,
        total: status.total as i64,
        digest: digest.to_string(),
    })
}

/// Takes the size and digest that a later message declares, as containerd
/// does: the latest values count at the commit.
async fn update_expectations(
    store: &ContentStore,
    status: &mut IngestStatus,
    request: &WriteContentRequest,
) -> Result<(), Status> {
    if let Some(expected) = parse_expected(&request.expected)? {
        if store.info(&expected).await.is_ok() {
            return Err(Status::already_exists(format!("content {expected}: already exists")));
        }
        status.expected = Some(expected);
    }
    let total = non_negative(request.total)?;
    if total > 0 {
        status.total = total;
    }
    Ok(())
}

/// Appends the message's data at the current offset. Offset 0 on a write
/// that has data starts the content over.
async fn write_data(
    status: &mut IngestStatus,
    file: &mut IngestFile,
    request: &WriteContentRequest,
) -> Result<(), Status> {
    let offset = non_negative(request.offset)?;
    if offset > 0 && offset != status.offset {
        return Err(Status::out_of_range(format!(
            "write at offset {offset} must occur at the current offset {}",
            status.offset
        )));
    }
    // containerd truncates on any offset-0 message, but a commit without
    // data and offset must not drop what was written.
    if offset == 0 && status.offset > 0 && !request.data.is_empty() {
        file.file
            .set_len(0)
            .await
            .map_err(|error| io_status("truncating", &file.path, &error))?;
        file.file
            .seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(|error| io_status("truncating", &file.path, &error))?;
        file.hasher = sha2::Sha256::new();
        status.offset = 0;
    }

    if !request.data.is_empty() {
        file.file
            .write_all(&request.data)
            .await
            .map_err(|error| io_status("writing", &file.path, &error))?;
        file.hasher.update(&request.data);
        status.offset += request.data.len() as u64;
        status.updated_at = SystemTime::now();
    }
    Ok(())
}

fn parse_expected(text: &str) -> Result<Option<BlobDigest>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    BlobDigest::parse(text).map(Some).map_err(Status::invalid_argument)
}

fn non_negative(value: i64) -> Result<u64, Status> {
    u64::try_from(value).map_err(|_| Status::invalid_argument(format!("negative size or offset {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256_of(data: &[u8]) -> BlobDigest {
        let mut hasher = sha2::Sha256::new();
        hasher.update(data);
        BlobDigest::from_hasher(hasher)
    }

    fn write_request(offset: i64, data: &[u8]) -> WriteContentRequest {
        WriteContentRequest {
            action: WriteAction::Write as i32,
            r#ref: "layer".to_string(),
            offset,
            data: data.to_vec(),
            ..WriteContentRequest::default()
        }
    }

    fn commit_request(expected: &BlobDigest, total: i64) -> WriteContentRequest {
        WriteContentRequest {
            action: WriteAction::Commit as i32,
            expected: expected.to_string(),
            total,
            ..WriteContentRequest::default()
        }
    }

    /// Writes `data` in one message to a new store in `dir` and commits it
    /// with `expected` and `total`.
    async fn write_and_commit(
        dir: &std::path::Path,
        data: &[u8],
        expected: &BlobDigest,
        total: i64,
    ) -> Result<WriteContentResponse, Status> {
        let store = ContentStore::new(dir.to_path_buf(), true);
        let (mut status, mut file) = store.acquire("layer", 0, None).await?;
        apply(
            &store,
            &mut status,
            &mut file,
            &write_request(0, data),
            WriteAction::Write,
        )
        .await?;
        let committed = commit(&store, &mut status, file, &commit_request(expected, total)).await;
        store.finish("layer");
        committed
    }

    fn blob_files(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("blobs/sha256"))
            .map(|entries| {
                entries
                    .map(|entry| entry.expect("blob entry").file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[tokio::test]
    async fn commit_moves_checked_blob() {
        let dir = tempfile::tempdir().expect("temp dir");
        let digest = sha256_of(b"layer data");
        let response = write_and_commit(dir.path(), b"layer data", &digest, 10)
            .await
            .expect("commit");
        assert_eq!(response.digest, digest.to_string());
        assert_eq!(response.offset, 10);
        let blob = digest.blob_path(dir.path());
        assert_eq!(std::fs::read(&blob).expect("blob"), b"layer data");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&blob).expect("blob").permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[tokio::test]
    async fn commit_digest_mismatch_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = write_and_commit(dir.path(), b"layer data", &sha256_of(b"other data"), 0)
            .await
            .expect_err("digest mismatch");
        assert_eq!(error.code(), tonic::Code::FailedPrecondition);
        assert!(
            error.message().contains("unexpected commit digest"),
            "{}",
            error.message()
        );
        assert!(blob_files(dir.path()).is_empty(), "no blob may be written");
        // The store deletes the failed write's file and, as it drops, its empty ingest folder.
        assert!(!dir.path().join("ingest").exists());
    }

    #[tokio::test]
    async fn commit_size_mismatch_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = write_and_commit(dir.path(), b"layer data", &sha256_of(b"layer data"), 11)
            .await
            .expect_err("size mismatch");
        assert!(
            error.message().contains("unexpected commit size 10, expected 11"),
            "{}",
            error.message()
        );
        assert!(blob_files(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn write_at_wrong_offset_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ContentStore::new(dir.path().to_path_buf(), true);
        let (mut status, mut file) = store.acquire("layer", 0, None).await.expect("acquire");
        apply(
            &store,
            &mut status,
            &mut file,
            &write_request(0, b"abc"),
            WriteAction::Write,
        )
        .await
        .expect("first write");
        let error = apply(
            &store,
            &mut status,
            &mut file,
            &write_request(7, b"def"),
            WriteAction::Write,
        )
        .await
        .expect_err("gap in the content");
        assert_eq!(error.code(), tonic::Code::OutOfRange);
    }

    #[tokio::test]
    async fn write_at_zero_starts_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ContentStore::new(dir.path().to_path_buf(), true);
        let (mut status, mut file) = store.acquire("layer", 0, None).await.expect("acquire");
        apply(
            &store,
            &mut status,
            &mut file,
            &write_request(0, b"stale"),
            WriteAction::Write,
        )
        .await
        .expect("first write");
        apply(
            &store,
            &mut status,
            &mut file,
            &write_request(0, b"fresh"),
            WriteAction::Write,
        )
        .await
        .expect("rewrite");
        let digest = sha256_of(b"fresh");
        commit(&store, &mut status, file, &commit_request(&digest, 5))
            .await
            .expect("commit");
        assert_eq!(std::fs::read(digest.blob_path(dir.path())).expect("blob"), b"fresh");
    }

    #[tokio::test]
    async fn existing_blob_already_exists() {
        let dir = tempfile::tempdir().expect("temp dir");
        let digest = sha256_of(b"layer data");
        write_and_commit(dir.path(), b"layer data", &digest, 0)
            .await
            .expect("first commit");
        let store = ContentStore::new(dir.path().to_path_buf(), true);
        let error = store
            .acquire("again", 10, Some(digest))
            .await
            .err()
            .expect("already exists");
        assert_eq!(error.code(), tonic::Code::AlreadyExists);
    }

    #[tokio::test]
    async fn import_store_rejects_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ContentStore::new(dir.path().to_path_buf(), false);
        let error = store.acquire("layer", 0, None).await.err().expect("read-only store");
        assert_eq!(error.code(), tonic::Code::PermissionDenied);
        let error = store.delete(&sha256_of(b"")).await.expect_err("read-only store");
        assert_eq!(error.code(), tonic::Code::PermissionDenied);
    }

    #[tokio::test]
    async fn locked_ref_is_unavailable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ContentStore::new(dir.path().to_path_buf(), true);
        let (status, file) = store.acquire("layer", 0, None).await.expect("acquire");
        let error = store.acquire("layer", 0, None).await.err().expect("locked");
        assert_eq!(error.code(), tonic::Code::Unavailable);
        store.release(status, file);
        store.acquire("layer", 0, None).await.expect("resumed after release");
    }
}
