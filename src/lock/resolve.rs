//! Lock entries from the image configurations that BuildKit resolves per
//! platform (`LLBBridge.ResolveImageConfig`). One reference locked for
//! several platforms gives one entry per platform.

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::config::ImageConfig;
use super::file::LockedImage;
use super::images::BaseImage;
use crate::model::Platform;

/// Failure to lock one base image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "cannot read base image {reference} for platform {platform}: it is not in the engine's image store, \
         and pulling it failed: {message}; pull it with `docker pull --platform {platform} {reference}` or \
         load it with `docker load`, and run the command again"
    )]
    Unavailable {
        reference: String,
        platform: String,
        message: String,
    },

    #[error(
        "base image {reference} in the engine is for platform {found}, not {platform}; pull it with \
         `docker pull --platform {platform} {reference}` and run the command again"
    )]
    WrongPlatform {
        reference: String,
        platform: String,
        found: String,
    },

    #[error("the configuration of base image {reference} ({platform}) is invalid: {reason}")]
    InvalidConfig {
        reference: String,
        platform: String,
        reason: String,
    },
}

/// The parts of an OCI image configuration file that a lock entry records.
#[derive(Debug, Deserialize)]
struct ImageConfigFile {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<ImageConfig>,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Debug, Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Option<Vec<String>>,
}

/// Builds the lock entry of `base` from its image configuration file and
/// the digest BuildKit resolved the reference to (empty for an image of
/// Docker Engine's classic store). The image ID is the digest of the
/// configuration file, which is the classic store's image ID too.
pub fn lock_entry_from_config(
    base: &BaseImage,
    digest: &str,
    config_bytes: &[u8],
) -> Result<LockedImage, ResolveError> {
    let reference = base.reference.to_string();
    let file: ImageConfigFile = serde_json::from_slice(config_bytes).map_err(|error| ResolveError::InvalidConfig {
        reference: reference.clone(),
        platform: base.platform.to_string(),
        reason: error.to_string(),
    })?;
    let mut image_platform = format!("{}/{}", file.os, file.architecture);
    if let Some(variant) = file.variant.as_ref().filter(|variant| !variant.is_empty()) {
        image_platform.push('/');
        image_platform.push_str(variant);
    }
    // Locking an image of another platform would give a build of the wrong architecture.
    if !platform_matches(&base.platform, &file.os, &file.architecture, file.variant.as_deref()) {
        return Err(ResolveError::WrongPlatform {
            reference,
            platform: base.platform.to_string(),
            found: image_platform,
        });
    }
    let repo_digests = if digest.is_empty() {
        Vec::new()
    } else {
        vec![format!("{}@{digest}", base.reference.repository())]
    };
    Ok(LockedImage {
        reference,
        platform: base.platform.to_string(),
        image_id: format!("sha256:{:x}", Sha256::digest(config_bytes)),
        repo_digests,
        image_platform,
        layers: file
            .rootfs
            .and_then(|rootfs| rootfs.diff_ids)
            .map_or(0, |layers| layers.len()),
        config: file.config.unwrap_or_default(),
    })
}

/// Returns whether an image for `os`/`architecture`/`variant` serves
/// `requested`. A variant counts only when both name one, because images
/// often leave it out (`linux/arm64` for `linux/arm64/v8`).
fn platform_matches(requested: &Platform, os: &str, architecture: &str, variant: Option<&str>) -> bool {
    if requested.os != os || requested.architecture != architecture {
        return false;
    }
    match (
        requested.variant.as_deref(),
        variant.filter(|variant| !variant.is_empty()),
    ) {
        (Some(wanted), Some(found)) => wanted == found,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;
    use crate::lock::Reference;

    fn base(reference: &str, platform: &str) -> BaseImage {
        BaseImage {
            stage: 0,
            reference: Reference::parse_normalized(reference).expect("valid reference"),
            platform: Platform::parse(platform).expect("valid platform"),
            span: Span::new(0, 1),
        }
    }

    const ARM64_CONFIG: &[u8] = br#"{"architecture":"arm64","os":"linux","variant":"v8","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa","sha256:bb"]}}"#;

    #[test]
    fn lock_entry_reads_config() {
        let entry = lock_entry_from_config(&base("alpine:3", "linux/arm64"), "", ARM64_CONFIG).expect("valid config");
        assert_eq!(entry.reference, "docker.io/library/alpine:3");
        assert_eq!(entry.platform, "linux/arm64");
        assert_eq!(entry.image_platform, "linux/arm64/v8");
        assert_eq!(entry.layers, 2);
        assert_eq!(entry.config.env_list(), ["PATH=/bin"]);
        assert_eq!(entry.image_id, format!("sha256:{:x}", Sha256::digest(ARM64_CONFIG)));
        assert!(entry.repo_digests.is_empty());
    }

    #[test]
    fn lock_entry_records_digest() {
        let entry =
            lock_entry_from_config(&base("alpine:3", "linux/arm64"), "sha256:1234", ARM64_CONFIG).expect("valid");
        assert_eq!(entry.repo_digests, ["docker.io/library/alpine@sha256:1234"]);
    }

    #[test]
    fn lock_entry_wrong_platform() {
        let error = lock_entry_from_config(&base("alpine:3", "linux/amd64"), "", ARM64_CONFIG).expect_err("arm64");
        assert_eq!(
            error,
            ResolveError::WrongPlatform {
                reference: "docker.io/library/alpine:3".into(),
                platform: "linux/amd64".into(),
                found: "linux/arm64/v8".into(),
            }
        );
        let invalid = lock_entry_from_config(&base("alpine:3", "linux/amd64"), "", b"not json").expect_err("invalid");
        assert!(matches!(invalid, ResolveError::InvalidConfig { .. }), "{invalid}");
    }

    #[test]
    fn platform_variants_match() {
        let arm64 = Platform::parse("linux/arm64").expect("valid platform");
        assert!(!platform_matches(&arm64, "linux", "amd64", None));
        assert!(platform_matches(&arm64, "linux", "arm64", Some("v8")));

        let arm_v7 = Platform::parse("linux/arm/v7").expect("valid platform");
        assert!(!platform_matches(&arm_v7, "linux", "arm", Some("v6")));
        assert!(platform_matches(&arm_v7, "linux", "arm", None));
        assert!(!platform_matches(&arm_v7, "windows", "arm", Some("v7")));
    }
}
