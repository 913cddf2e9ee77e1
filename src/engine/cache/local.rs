//! `type=local` cache folders, laid out as OCI image layouts: `oci-layout`,
//! `index.json` and `blobs/sha256/`. BuildKit writes and reads the blobs
//! through the session's content store (session/content). The client keeps
//! `index.json`, as BuildKit v0.13's own client does. Before the build it
//! looks up the cache manifest of the tag (default `latest`) for an import.
//! After the build it records under the tag the manifest descriptor that
//! the engine returns in `cache.manifest`.
//!
//! Unlike BuildKit's client, which skips an import folder that is missing
//! or unreadable with a warning, stagec stops with an error, so that a
//! mistyped `src=` does not silently build without the cache.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{CacheEntry, CacheError, CacheKind};
use crate::engine::session::{BlobDigest, ContentStore};

/// Tag of a cache in `index.json` when the entry names none, as in buildx.
const DEFAULT_TAG: &str = "latest";

/// OCI annotation that names the tag of a manifest in `index.json`.
const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Exporter response key of the cache manifest descriptor (JSON), set by
/// BuildKit v0.13's cache exporters.
const CACHE_MANIFEST_KEY: &str = "cache.manifest";

/// Prefix of the content store ID that BuildKit's local cache backend requests.
const STORE_ID_PREFIX: &str = "local:";

/// Checks the `type=local` cache folders before a build: creates each
/// export folder and checks that it is writable, and finds the cache
/// manifest of each import in its `index.json`, which it stores in the
/// entry's `digest` attribute.
pub fn resolve_local_caches(exports: &[CacheEntry], imports: &mut [CacheEntry]) -> Result<(), CacheError> {
    let local_exports: Vec<&CacheEntry> = exports.iter().filter(|entry| entry.kind == CacheKind::Local).collect();
    if local_exports.len() > 1 {
        return Err(CacheError(
            "--cache-to: only one type=local cache per build, because BuildKit returns one cache manifest; \
             export to one folder and copy it"
                .to_string(),
        ));
    }
    for entry in local_exports {
        if let Some(dir) = &entry.local_dir {
            prepare_export_dir(dir)?;
        }
    }

    for entry in imports.iter_mut().filter(|entry| entry.kind == CacheKind::Local) {
        let Some(dir) = entry.local_dir.clone() else {
            continue;
        };
        let digest = import_digest(&dir, &entry.attrs)?;
        entry.attrs.insert("digest".to_string(), digest.to_string());
    }
    Ok(())
}

/// Returns the content stores that the session serves for the local
/// caches, by the store ID that BuildKit requests. A folder that is both
/// imported and exported is one writable store.
pub(crate) fn content_stores(exports: &[CacheEntry], imports: &[CacheEntry]) -> BTreeMap<String, Arc<ContentStore>> {
    let mut writable_by_id: BTreeMap<String, (PathBuf, bool)> = BTreeMap::new();
    let entries = exports
        .iter()
        .map(|entry| (entry, "dest", true))
        .chain(imports.iter().map(|entry| (entry, "src", false)));
    for (entry, key, writable) in entries {
        if entry.kind != CacheKind::Local {
            continue;
        }
        let (Some(dir), Some(written)) = (&entry.local_dir, entry.attrs.get(key)) else {
            continue;
        };
        let store = writable_by_id
            .entry(format!("{STORE_ID_PREFIX}{written}"))
            .or_insert_with(|| (dir.clone(), false));
        store.1 |= writable;
    }
    writable_by_id
        .into_iter()
        .map(|(id, (dir, writable))| (id, Arc::new(ContentStore::new(dir, writable))))
        .collect()
}

/// Records the exported cache manifest in `index.json` of the export
/// folder, under the entry's tag, after a successful build.
pub(crate) fn update_export_index(
    exports: &[CacheEntry],
    exporter_response: &BTreeMap<String, String>,
) -> Result<(), CacheError> {
    let Some(entry) = exports.iter().find(|entry| entry.kind == CacheKind::Local) else {
        return Ok(());
    };
    let Some(dir) = &entry.local_dir else {
        return Ok(());
    };
    let Some(descriptor_json) = exporter_response.get(CACHE_MANIFEST_KEY) else {
        if entry.attrs.get("ignore-error").is_some_and(|value| value == "true") {
            tracing::warn!(dir = %dir.display(), "the engine exported no cache, and ignore-error=true allows that");
            return Ok(());
        }
        return Err(CacheError(format!(
            "--cache-to type=local: the engine returned no cache manifest for {}; check that its BuildKit \
             supports cache export (Docker Engine needs the containerd image store)",
            dir.display()
        )));
    };
    let invalid = |reason: String| {
        CacheError(format!(
            "--cache-to type=local: the engine returned an invalid cache manifest descriptor ({reason}); \
             report this as a stagec bug"
        ))
    };
    let mut descriptor: Map<String, Value> =
        serde_json::from_str(descriptor_json).map_err(|error| invalid(error.to_string()))?;
    let digest_text = descriptor
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no digest".to_string()))?;
    let digest = BlobDigest::parse(digest_text).map_err(invalid)?;
    if !digest.blob_path(dir).is_file() {
        return Err(CacheError(format!(
            "--cache-to type=local: the cache manifest {digest} is missing from {}; BuildKit reports one cache \
             manifest per build, so export a type=registry cache in a separate build",
            dir.display()
        )));
    }

    let tag = entry.attrs.get("tag").map_or(DEFAULT_TAG, String::as_str);
    let annotations = descriptor
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(annotations) = annotations {
        annotations.insert(REF_NAME_ANNOTATION.to_string(), Value::String(tag.to_string()));
    }
    put_index_entry(dir, tag, Value::Object(descriptor))
}

fn prepare_export_dir(dir: &Path) -> Result<(), CacheError> {
    let failed = |action: &str, error: std::io::Error| {
        CacheError(format!(
            "--cache-to type=local: cannot {action} the cache folder {}: {error}; choose a folder you can write \
             with dest=DIR",
            dir.display()
        ))
    };
    fs::create_dir_all(dir).map_err(|error| failed("create", error))?;
    tempfile::tempfile_in(dir).map_err(|error| failed("write to", error))?;
    // A damaged index.json would fail the update after the build, so it
    // fails now, before the engine works for nothing.
    read_index(dir, "--cache-to")?;
    Ok(())
}

/// Returns the cache manifest digest that an import entry names, from its
/// `digest` attribute or from `index.json` by its tag.
fn import_digest(dir: &Path, attrs: &BTreeMap<String, String>) -> Result<BlobDigest, CacheError> {
    let folder = dir.display();
    match fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => {
            return Err(CacheError(format!(
                "--cache-from type=local: {folder} is not a folder; set src= to the folder of a --cache-to \
                 type=local export"
            )));
        }
        Err(error) => {
            return Err(CacheError(format!(
                "--cache-from type=local: cannot read the cache folder {folder}: {error}; export a cache there \
                 first with --cache-to type=local,dest={folder}, or fix src="
            )));
        }
    }

    let digest = match attrs.get("digest") {
        Some(text) => BlobDigest::parse(text)
            .map_err(|reason| CacheError(format!("--cache-from type=local: digest={text}: {reason}")))?,
        None => {
            let tag = attrs.get("tag").map_or(DEFAULT_TAG, String::as_str);
            let Some(index) = read_index(dir, "--cache-from")? else {
                return Err(CacheError(format!(
                    "--cache-from type=local: {folder} has no index.json, so it is not a cache folder; export a \
                     cache there first with --cache-to type=local,dest={folder}"
                )));
            };
            tagged_digest(&index, tag)
                .map_err(|reason| CacheError(format!("--cache-from type=local: {folder}/index.json {reason}")))?
        }
    };
    if !digest.blob_path(dir).is_file() {
        return Err(CacheError(format!(
            "--cache-from type=local: the cache manifest {digest} is missing from {folder}/blobs/sha256; the \
             folder is incomplete, so export the cache again"
        )));
    }
    Ok(digest)
}

/// Returns the digest of the manifest tagged `tag` in an OCI image index.
fn tagged_digest(index: &Map<String, Value>, tag: &str) -> Result<BlobDigest, String> {
    let manifests = index
        .get("manifests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let tagged = manifests.iter().find(|manifest| {
        manifest
            .pointer(&format!("/annotations/{}", REF_NAME_ANNOTATION.replace('/', "~1")))
            .and_then(Value::as_str)
            == Some(tag)
    });
    let Some(manifest) = tagged else {
        return Err(format!(
            "has no cache tagged {tag:?}; name the tag of the export with tag=TAG, or export the cache again"
        ));
    };
    let text = manifest.get("digest").and_then(Value::as_str).unwrap_or_default();
    BlobDigest::parse(text).map_err(|reason| format!("names an invalid digest for tag {tag:?}: {reason}"))
}

/// Reads `index.json` of a cache folder, or `None` when there is none.
fn read_index(dir: &Path, flag: &str) -> Result<Option<Map<String, Value>>, CacheError> {
    let path = dir.join("index.json");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(CacheError(format!(
                "{flag} type=local: cannot read {}: {error}",
                path.display()
            )));
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(index)) => Ok(Some(index)),
        Ok(_) => Err(corrupt_index(flag, &path, "it is not a JSON object")),
        Err(error) => Err(corrupt_index(flag, &path, &error.to_string())),
    }
}

fn corrupt_index(flag: &str, path: &Path, reason: &str) -> CacheError {
    CacheError(format!(
        "{flag} type=local: {} is not a valid OCI image index: {reason}; delete the cache folder and export \
         the cache again",
        path.display()
    ))
}

/// Replaces the manifest tagged `tag` in `index.json` with `descriptor`,
/// and writes `oci-layout`. Both files are replaced atomically. The lock
/// file `index.json.lock` is the one BuildKit's client takes, so the two
/// never update the same folder at once.
fn put_index_entry(dir: &Path, tag: &str, descriptor: Value) -> Result<(), CacheError> {
    let failed = |action: &str, path: &Path, error: std::io::Error| {
        CacheError(format!(
            "--cache-to type=local: cannot {action} {}: {error}",
            path.display()
        ))
    };
    let lock_path = dir.join("index.json.lock");
    let lock = fs::File::create(&lock_path).map_err(|error| failed("create", &lock_path, error))?;
    // SAFETY: flock only reads the descriptor, which `lock` keeps open.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(failed("lock", &lock_path, std::io::Error::last_os_error()));
    }

    let updated = (|| {
        let mut index = read_index(dir, "--cache-to")?.unwrap_or_default();
        let mut manifests: Vec<Value> = index
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        manifests.retain(|manifest| {
            manifest
                .pointer(&format!("/annotations/{}", REF_NAME_ANNOTATION.replace('/', "~1")))
                .and_then(Value::as_str)
                != Some(tag)
        });
        manifests.push(descriptor);
        index.entry("schemaVersion").or_insert(Value::from(2));
        index.insert("manifests".to_string(), Value::Array(manifests));

        write_atomically(dir, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
            .map_err(|error| failed("write", &dir.join("oci-layout"), error))?;
        let text = serde_json::to_vec(&Value::Object(index)).unwrap_or_default();
        write_atomically(dir, "index.json", &text).map_err(|error| failed("write", &dir.join("index.json"), error))
    })();

    let _ = fs::remove_file(&lock_path);
    drop(lock);
    updated
}

fn write_atomically(dir: &Path, name: &str, content: &[u8]) -> std::io::Result<()> {
    let mut file = tempfile::Builder::new().prefix(&format!(".{name}.")).tempfile_in(dir)?;
    file.write_all(content)?;
    file.as_file().sync_all()?;
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(file.path(), fs::Permissions::from_mode(0o644))?;
    }
    file.persist(dir.join(name)).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cache::{CacheDirection, parse_cache_entry};

    const MANIFEST_DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn write_blob(dir: &Path) {
        let blobs = dir.join("blobs/sha256");
        fs::create_dir_all(&blobs).expect("blobs folder");
        fs::write(blobs.join(MANIFEST_DIGEST.trim_start_matches("sha256:")), b"").expect("blob");
    }

    fn export_entry(dir: &Path) -> CacheEntry {
        parse_cache_entry(
            &format!("type=local,dest={},mode=max", dir.display()),
            CacheDirection::Export,
        )
        .expect("valid export")
    }

    fn import_entry(dir: &Path) -> CacheEntry {
        parse_cache_entry(&format!("type=local,src={}", dir.display()), CacheDirection::Import).expect("valid import")
    }

    fn manifest_response() -> BTreeMap<String, String> {
        let descriptor = format!(
            r#"{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{MANIFEST_DIGEST}","size":0}}"#
        );
        BTreeMap::from([(CACHE_MANIFEST_KEY.to_string(), descriptor)])
    }

    #[test]
    fn export_index_round_trips_to_import() {
        let dir = tempfile::tempdir().expect("temp dir");
        let exports = vec![export_entry(dir.path())];
        resolve_local_caches(&exports, &mut []).expect("export folder is writable");
        write_blob(dir.path());
        update_export_index(&exports, &manifest_response()).expect("index updated");
        update_export_index(&exports, &manifest_response()).expect("index updated twice");

        let index: Value = serde_json::from_slice(&fs::read(dir.path().join("index.json")).expect("index")).unwrap();
        assert_eq!(index["schemaVersion"], 2);
        assert_eq!(
            index["manifests"].as_array().map(Vec::len),
            Some(1),
            "the tag is replaced: {index}"
        );
        assert_eq!(index["manifests"][0]["annotations"][REF_NAME_ANNOTATION], "latest");
        assert!(dir.path().join("oci-layout").is_file());
        assert!(!dir.path().join("index.json.lock").exists());

        let mut imports = vec![import_entry(dir.path())];
        resolve_local_caches(&[], &mut imports).expect("import resolves");
        assert_eq!(imports[0].attrs["digest"], MANIFEST_DIGEST);
    }

    #[test]
    fn import_of_missing_folder_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut imports = vec![import_entry(&dir.path().join("absent"))];
        let error = resolve_local_caches(&[], &mut imports).unwrap_err().0;
        assert!(error.contains("cannot read the cache folder"), "{error}");
        assert!(error.contains("--cache-to type=local,dest="), "{error}");
    }

    #[test]
    fn import_of_corrupt_index_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("index.json"), "{not json").expect("write index");
        let mut imports = vec![import_entry(dir.path())];
        let error = resolve_local_caches(&[], &mut imports).unwrap_err().0;
        assert!(error.contains("is not a valid OCI image index"), "{error}");
    }

    #[test]
    fn import_of_unknown_tag_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("index.json"), r#"{"schemaVersion":2,"manifests":[]}"#).expect("write index");
        let mut imports = vec![import_entry(dir.path())];
        let error = resolve_local_caches(&[], &mut imports).unwrap_err().0;
        assert!(error.contains("has no cache tagged \"latest\""), "{error}");
    }

    #[test]
    fn import_of_missing_manifest_blob_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"digest":"{MANIFEST_DIGEST}","size":0,"annotations":{{"{REF_NAME_ANNOTATION}":"latest"}}}}]}}"#
        );
        fs::write(dir.path().join("index.json"), index).expect("write index");
        let mut imports = vec![import_entry(dir.path())];
        let error = resolve_local_caches(&[], &mut imports).unwrap_err().0;
        assert!(error.contains("is missing from"), "{error}");
    }

    #[test]
    fn two_local_exports_rejected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let exports = vec![export_entry(&dir.path().join("a")), export_entry(&dir.path().join("b"))];
        let error = resolve_local_caches(&exports, &mut []).unwrap_err().0;
        assert!(error.contains("only one type=local cache"), "{error}");
    }

    #[test]
    fn missing_cache_manifest_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let exports = vec![export_entry(dir.path())];
        let error = update_export_index(&exports, &BTreeMap::new()).unwrap_err().0;
        assert!(error.contains("returned no cache manifest"), "{error}");
    }

    #[test]
    fn same_folder_is_one_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stores = content_stores(&[export_entry(dir.path())], &[import_entry(dir.path())]);
        let ids: Vec<&String> = stores.keys().collect();
        assert_eq!(ids, vec![&format!("local:{}", dir.path().display())]);
    }
}
