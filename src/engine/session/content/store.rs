//! A content store in a local folder with the OCI image layout: blobs are
//! files named by their SHA-256 digest in `blobs/sha256/`. Writes go to a
//! temporary file in `ingest/` and move into `blobs/sha256/` only after the
//! digest and size check out, so a blob file always has its digest's content.
//! The engine names blobs by digest only, and every path is built from a
//! parsed digest, so no request can reach a file outside the folder.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tonic::Status;

/// Folder of temporary files of unfinished writes, inside the store.
const INGEST_DIR: &str = "ingest";

/// A SHA-256 digest as OCI descriptors write it: `sha256:` and 64 lowercase
/// hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BlobDigest {
    hex: String,
}

impl BlobDigest {
    /// Parses `sha256:HEX`. BuildKit writes only SHA-256 digests into a cache.
    pub(crate) fn parse(text: &str) -> Result<BlobDigest, String> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(format!("invalid digest {text:?}: expected sha256:HEX"));
        };
        if algorithm != "sha256" {
            return Err(format!(
                "unsupported digest algorithm {algorithm:?} in {text:?}: expected sha256"
            ));
        }
        let valid_hex = hex.len() == 64 && hex.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
        if !valid_hex {
            return Err(format!(
                "invalid digest {text:?}: expected 64 lowercase hex digits after sha256:"
            ));
        }
        Ok(BlobDigest { hex: hex.to_string() })
    }

    pub(crate) fn from_hasher(hasher: Sha256) -> BlobDigest {
        let hex = hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
        BlobDigest { hex }
    }

    /// Returns the blob's path below the root of an OCI image layout.
    pub(crate) fn blob_path(&self, root: &Path) -> PathBuf {
        root.join("blobs").join("sha256").join(&self.hex)
    }
}

impl fmt::Display for BlobDigest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "sha256:{}", self.hex)
    }
}

/// Size and times of a committed blob.
#[derive(Debug, Clone)]
pub(crate) struct BlobInfo {
    pub digest: BlobDigest,
    pub size: u64,
    pub modified: SystemTime,
}

/// Progress of an unfinished write, by its ref.
#[derive(Debug, Clone)]
pub(crate) struct IngestStatus {
    pub reference: String,
    pub offset: u64,
    /// Expected size, or 0 when the writer has not declared one.
    pub total: u64,
    pub expected: Option<BlobDigest>,
    pub started_at: SystemTime,
    pub updated_at: SystemTime,
}

/// The temporary file of an unfinished write and the hash of its content.
pub(crate) struct IngestFile {
    pub file: tokio::fs::File,
    pub path: TempPath,
    pub hasher: Sha256,
}

struct Ingest {
    status: IngestStatus,
    /// `None` while a Write stream owns the ingest.
    file: Option<IngestFile>,
}

/// One local folder that BuildKit reads a cache from or writes it to.
pub(crate) struct ContentStore {
    root: PathBuf,
    writable: bool,
    ingests: Mutex<BTreeMap<String, Ingest>>,
}

impl fmt::Debug for ContentStore {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ContentStore")
            .field("root", &self.root)
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

impl ContentStore {
    /// Creates a store at `root`. Only a writable store accepts writes and
    /// deletes, because an import folder is read-only to the engine.
    pub(crate) fn new(root: PathBuf, writable: bool) -> ContentStore {
        ContentStore {
            root,
            writable,
            ingests: Mutex::new(BTreeMap::new()),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Returns the size and time of a committed blob.
    pub(crate) async fn info(&self, digest: &BlobDigest) -> Result<BlobInfo, Status> {
        let path = digest.blob_path(&self.root);
        let metadata = match tokio::fs::metadata(&path).await {
            Ok(metadata) if metadata.is_file() => metadata,
            Ok(_) => return Err(Status::not_found(format!("content {digest}: not found"))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Status::not_found(format!("content {digest}: not found")));
            }
            Err(error) => return Err(io_status("reading", &path, &error)),
        };
        Ok(BlobInfo {
            digest: digest.clone(),
            size: metadata.len(),
            modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        })
    }

    /// Returns every committed blob, in digest order. Files in
    /// `blobs/sha256/` whose name is not a digest are skipped.
    pub(crate) async fn list(&self) -> Result<Vec<BlobInfo>, Status> {
        let dir = self.root.join("blobs").join("sha256");
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io_status("listing", &dir, &error)),
        };
        let mut digests = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|error| io_status("listing", &dir, &error))?
        {
            let name = entry.file_name();
            if let Ok(digest) = BlobDigest::parse(&format!("sha256:{}", name.to_string_lossy())) {
                digests.push(digest);
            }
        }
        digests.sort();

        let mut infos = Vec::with_capacity(digests.len());
        for digest in digests {
            match self.info(&digest).await {
                Ok(info) => infos.push(info),
                Err(status) if status.code() == tonic::Code::NotFound => {}
                Err(status) => return Err(status),
            }
        }
        Ok(infos)
    }

    /// Deletes a committed blob.
    pub(crate) async fn delete(&self, digest: &BlobDigest) -> Result<(), Status> {
        self.require_writable()?;
        let path = digest.blob_path(&self.root);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(Status::not_found(format!("content {digest}: not found")))
            }
            Err(error) => Err(io_status("deleting", &path, &error)),
        }
    }

    pub(crate) fn require_writable(&self) -> Result<(), Status> {
        if self.writable {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "{} is a cache import folder, which the engine may only read",
                self.root.display()
            )))
        }
    }

    /// Returns the status of the unfinished write `reference`.
    pub(crate) fn status(&self, reference: &str) -> Result<IngestStatus, Status> {
        self.lock_ingests()
            .get(reference)
            .map(|ingest| ingest.status.clone())
            .ok_or_else(|| Status::not_found(format!("no write in progress with ref {reference:?}")))
    }

    /// Returns the status of every unfinished write, in ref order.
    pub(crate) fn statuses(&self) -> Vec<IngestStatus> {
        self.lock_ingests()
            .values()
            .map(|ingest| ingest.status.clone())
            .collect()
    }

    /// Starts or resumes the write `reference` and hands its file to the
    /// caller, who must return it with [`ContentStore::release`] or finish
    /// it with [`ContentStore::finish`]. Only one stream may hold a ref, as
    /// in containerd, whose clients retry on `Unavailable`.
    pub(crate) async fn acquire(
        &self,
        reference: &str,
        total: u64,
        expected: Option<BlobDigest>,
    ) -> Result<(IngestStatus, IngestFile), Status> {
        self.require_writable()?;
        if let Some(digest) = &expected
            && self.info(digest).await.is_ok()
        {
            return Err(Status::already_exists(format!("content {digest}: already exists")));
        }

        {
            let mut ingests = self.lock_ingests();
            if let Some(ingest) = ingests.get_mut(reference) {
                let Some(file) = ingest.file.take() else {
                    return Err(Status::unavailable(format!(
                        "ref {reference:?} is locked by another write"
                    )));
                };
                if total > 0 {
                    ingest.status.total = total;
                }
                if expected.is_some() {
                    ingest.status.expected = expected;
                }
                return Ok((ingest.status.clone(), file));
            }
        }

        let file = self.create_ingest_file().await?;
        let now = SystemTime::now();
        let status = IngestStatus {
            reference: reference.to_string(),
            offset: 0,
            total,
            expected,
            started_at: now,
            updated_at: now,
        };
        let mut ingests = self.lock_ingests();
        if ingests.contains_key(reference) {
            return Err(Status::unavailable(format!(
                "ref {reference:?} is locked by another write"
            )));
        }
        ingests.insert(
            reference.to_string(),
            Ingest {
                status: status.clone(),
                file: None,
            },
        );
        Ok((status, file))
    }

    async fn create_ingest_file(&self) -> Result<IngestFile, Status> {
        let dir = self.root.join(INGEST_DIR);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|error| io_status("creating", &dir, &error))?;
        let created = tempfile::Builder::new()
            .prefix("stagec-")
            .tempfile_in(&dir)
            .map_err(|error| io_status("creating a file in", &dir, &error))?;
        let (file, path) = created.into_parts();
        Ok(IngestFile {
            file: tokio::fs::File::from_std(file),
            path,
            hasher: Sha256::new(),
        })
    }

    /// Records the progress of a write that a stream still holds.
    pub(crate) fn update_status(&self, status: &IngestStatus) {
        if let Some(ingest) = self.lock_ingests().get_mut(&status.reference) {
            ingest.status = status.clone();
        }
    }

    /// Returns the file of a write whose stream ended before the commit, so
    /// that a later stream can resume it.
    pub(crate) fn release(&self, status: IngestStatus, file: IngestFile) {
        if let Some(ingest) = self.lock_ingests().get_mut(&status.reference) {
            ingest.status = status;
            ingest.file = Some(file);
        }
    }

    /// Ends the write `reference` after a commit or a failure. Dropping its
    /// file deletes the temporary file unless the commit moved it.
    pub(crate) fn finish(&self, reference: &str) {
        self.lock_ingests().remove(reference);
    }

    /// Cancels the unfinished write `reference` and deletes its file.
    pub(crate) fn abort(&self, reference: &str) -> Result<(), Status> {
        let mut ingests = self.lock_ingests();
        match ingests.get(reference) {
            None => Err(Status::not_found(format!(
                "no write in progress with ref {reference:?}"
            ))),
            Some(ingest) if ingest.file.is_none() => Err(Status::unavailable(format!(
                "ref {reference:?} is locked by another write"
            ))),
            Some(_) => {
                ingests.remove(reference);
                Ok(())
            }
        }
    }

    /// Checks the written content against the expected size and digest and
    /// moves it to its blob path. A size or digest mismatch deletes it.
    pub(crate) async fn commit(
        &self,
        status: &IngestStatus,
        file: IngestFile,
        expected: Option<&BlobDigest>,
    ) -> Result<BlobDigest, Status> {
        let IngestFile { mut file, path, hasher } = file;
        if status.total > 0 && status.offset != status.total {
            return Err(Status::failed_precondition(format!(
                "unexpected commit size {}, expected {}",
                status.offset, status.total
            )));
        }
        let digest = BlobDigest::from_hasher(hasher);
        if let Some(expected) = expected
            && *expected != digest
        {
            return Err(Status::failed_precondition(format!(
                "unexpected commit digest {digest}, expected {expected}"
            )));
        }

        use tokio::io::AsyncWriteExt;
        file.flush()
            .await
            .map_err(|error| io_status("writing", &path, &error))?;
        file.sync_all()
            .await
            .map_err(|error| io_status("writing", &path, &error))?;
        drop(file);

        let target = digest.blob_path(&self.root);
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            return Err(Status::already_exists(format!("content {digest}: already exists")));
        }
        let parent = self.root.join("blobs").join("sha256");
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|error| io_status("creating", &parent, &error))?;
        // tempfile creates files readable by the owner only, and a cache
        // folder is often shared, so blobs get the usual 0644.
        set_blob_mode(&path).map_err(|error| io_status("setting the mode of", &path, &error))?;
        path.persist(&target)
            .map_err(|error| io_status("moving the written blob to", &target, &error.error))?;
        Ok(digest)
    }

    fn lock_ingests(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Ingest>> {
        // A panic while the lock was held leaves consistent maps behind,
        // because every change is a single insert, update or remove.
        self.ingests.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for ContentStore {
    fn drop(&mut self) {
        // Unfinished writes delete their files as they drop. The folder
        // itself goes only when it is empty.
        self.lock_ingests().clear();
        let _ = std::fs::remove_dir(self.root.join(INGEST_DIR));
    }
}

fn set_blob_mode(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

pub(crate) fn io_status(action: &str, path: &Path, error: &std::io::Error) -> Status {
    Status::internal(format!("stagec: {action} {} failed: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_parse_accepts_sha256_only() {
        assert_eq!(
            BlobDigest::parse(EMPTY_SHA256).expect("valid").to_string(),
            EMPTY_SHA256
        );
        assert!(
            BlobDigest::parse("sha512:00")
                .unwrap_err()
                .contains("unsupported digest algorithm")
        );
        assert!(
            BlobDigest::parse("sha256:../../etc/passwd")
                .unwrap_err()
                .contains("64 lowercase hex")
        );
        assert!(BlobDigest::parse(&EMPTY_SHA256.to_uppercase()).is_err());
        assert!(
            BlobDigest::parse("e3b0c442")
                .unwrap_err()
                .contains("expected sha256:HEX")
        );
    }

    #[test]
    fn blob_path_stays_in_layout() {
        let digest = BlobDigest::parse(EMPTY_SHA256).expect("valid");
        let path = digest.blob_path(Path::new("/cache"));
        assert_eq!(
            path,
            Path::new("/cache/blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn digest_from_hasher_is_sha256() {
        assert_eq!(BlobDigest::from_hasher(Sha256::new()).to_string(), EMPTY_SHA256);
    }
}
