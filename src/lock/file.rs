//! The lock file format: pretty-printed JSON with sorted keys and entries,
//! so that the same images always give the same bytes and a change shows
//! as a small diff.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::ImageConfig;
use super::reference::Reference;
use crate::model::Platform;

/// Version of the lock file format that this stagec reads and writes.
pub const LOCK_FORMAT_VERSION: u32 = 1;

/// The base images of a spec, pinned with the configuration the build
/// starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LockFile {
    pub stagec_lock_format: u32,
    /// Digest of the spec's base images as written (see
    /// [`super::images::spec_images_digest`]); a spec whose base images
    /// changed no longer matches it.
    pub spec_images: String,
    /// Sorted by reference, then platform.
    pub images: Vec<LockedImage>,
}

/// One base image on one platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LockedImage {
    /// The normalized reference the spec names, such as `docker.io/library/alpine:3`.
    pub reference: String,
    /// The platform the build needs the image for, such as `linux/amd64`.
    pub platform: String,
    /// The engine's image ID: the digest of the image configuration.
    pub image_id: String,
    /// Registry manifest digests the engine has recorded for the image, such as
    /// `alpine@sha256:...`; empty for an image that was imported or built
    /// locally and never pulled or pushed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
    /// The platform the image itself declares.
    pub image_platform: String,
    /// Number of filesystem layers; 0 for an empty image, which a build
    /// starts like `scratch`.
    pub layers: usize,
    pub config: ImageConfig,
}

impl LockFile {
    pub fn new(spec_images: String, mut images: Vec<LockedImage>) -> LockFile {
        images.sort_by(|a, b| (&a.reference, &a.platform).cmp(&(&b.reference, &b.platform)));
        images.dedup_by(|a, b| a.reference == b.reference && a.platform == b.platform);
        LockFile {
            stagec_lock_format: LOCK_FORMAT_VERSION,
            spec_images,
            images,
        }
    }

    /// Parses a lock file. The error describes the problem with the text.
    pub fn parse(text: &str) -> Result<LockFile, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let format = value.get("stagec-lock-format").and_then(serde_json::Value::as_u64);
        if format != Some(u64::from(LOCK_FORMAT_VERSION)) {
            return Err(match format {
                Some(other) => {
                    format!("lock format {other} is not supported; this stagec reads format {LOCK_FORMAT_VERSION}")
                }
                None => "the `stagec-lock-format` field is missing".to_string(),
            });
        }
        serde_json::from_value(value).map_err(|error| error.to_string())
    }

    /// Returns the file's text: two-space indented JSON and a final newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a lock file serializes to JSON");
        text.push('\n');
        text
    }

    /// Returns the entry for `reference` on `platform`.
    pub fn find(&self, reference: &Reference, platform: &Platform) -> Option<&LockedImage> {
        let reference = reference.to_string();
        let platform = platform.to_string();
        self.images
            .iter()
            .find(|image| image.reference == reference && image.platform == platform)
    }
}

impl LockedImage {
    /// Returns the reference a build pulls: pinned to the manifest digest when
    /// the engine has one for the same repository, else as the spec names it.
    /// BuildKit's Dockerfile frontend pins `FROM` the same way when its
    /// image resolver returns a digest.
    pub fn source_reference(&self) -> Result<Reference, String> {
        let reference = Reference::parse_normalized(&self.reference)?;
        if reference.digest.is_some() {
            return Ok(reference);
        }
        for repo_digest in &self.repo_digests {
            let Ok(candidate) = Reference::parse_normalized(repo_digest) else {
                continue;
            };
            if let (true, Some(digest)) = (candidate.repository() == reference.repository(), &candidate.digest) {
                return Ok(reference.with_digest(digest));
            }
        }
        Ok(reference)
    }
}

/// Returns the lock file of `spec_path`: the same path with `.lock` appended.
pub fn lock_path(spec_path: &Path) -> PathBuf {
    let mut name = spec_path.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(reference: &str, platform: &str) -> LockedImage {
        LockedImage {
            reference: reference.to_string(),
            platform: platform.to_string(),
            image_id: "sha256:0000000000000000000000000000000000000000000000000000000000000000".to_string(),
            repo_digests: Vec::new(),
            image_platform: platform.to_string(),
            layers: 1,
            config: ImageConfig {
                env: Some(vec!["PATH=/bin".to_string()]),
                ..ImageConfig::default()
            },
        }
    }

    #[test]
    fn text_round_trips_sorted() {
        let lock = LockFile::new(
            "sha256:1".to_string(),
            vec![
                image("docker.io/library/golang:1.19", "linux/amd64"),
                image("docker.io/library/alpine:3", "linux/amd64"),
            ],
        );
        assert_eq!(lock.images[0].reference, "docker.io/library/alpine:3");
        let text = lock.to_text();
        assert!(text.ends_with("}\n"));
        assert_eq!(LockFile::parse(&text).expect("parses"), lock);
    }

    #[test]
    fn parse_rejects_other_formats() {
        let error =
            LockFile::parse(r#"{"stagec-lock-format": 9, "spec-images": "", "images": []}"#).expect_err("format 9");
        assert!(error.contains("format 9 is not supported"), "{error}");
        let error = LockFile::parse("{}").expect_err("no format");
        assert!(error.contains("missing"), "{error}");
        assert!(LockFile::parse("not json").is_err());
    }

    #[test]
    fn source_reference_pins_repo_digest() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let mut locked = image("docker.io/library/golang:1.19", "linux/amd64");
        locked.repo_digests = vec![format!("other@{digest}"), format!("golang@{digest}")];
        let reference = locked.source_reference().expect("valid");
        assert_eq!(reference.to_string(), format!("docker.io/library/golang:1.19@{digest}"));

        locked.repo_digests.clear();
        assert_eq!(
            locked.source_reference().expect("valid").to_string(),
            "docker.io/library/golang:1.19"
        );
    }

    #[test]
    fn lock_path_appends_suffix() {
        assert_eq!(
            lock_path(Path::new("specs/app.kdl")),
            PathBuf::from("specs/app.kdl.lock")
        );
    }
}
