//! Base images of a frontend build: named contexts that replace them, and
//! their configurations resolved through BuildKit when the lock file beside
//! the spec does not cover the build.

use std::collections::BTreeMap;

use bollard_buildkit_proto::pb;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::bridge::Bridge;
use super::errors::FrontendFailure;
use crate::lock::{BaseImage, ImageConfig, LockedImage, Reference, global_arg_values, stage_platforms, substitute};
use crate::lower::{BuildGraph, Interpolated, StageBase};
use crate::model::Platform;

/// Scheme of a named context that is an image, as buildx's `--build-context NAME=docker-image://REF` writes it.
const IMAGE_CONTEXT_SCHEME: &str = "docker-image://";

/// Replaces the base image of every stage that a `context:NAME` option
/// names with the image of that option. A name matches a base image when
/// both normalize to the same reference (`alpine` is `alpine:latest`);
/// `NAME::os/arch` matches only stages on that platform. Names that match
/// no base image are ignored, as the Dockerfile frontend ignores them.
pub fn apply_named_contexts(
    graph: &mut BuildGraph,
    contexts: &BTreeMap<String, String>,
    platforms: &crate::lock::Platforms,
) -> Result<(), FrontendFailure> {
    if contexts.is_empty() {
        return Ok(());
    }
    let stage_platforms = stage_platforms(graph, platforms);
    let values = global_arg_values(graph);

    for (index, stage) in graph.stages.iter_mut().enumerate() {
        let StageBase::Image(written) = &stage.base else {
            continue;
        };
        let Ok(reference) = Reference::parse_normalized(&substitute(written, &values)) else {
            // Lowering reports the invalid reference.
            continue;
        };
        let Some(value) = matching_context(contexts, &reference, &stage_platforms[index])? else {
            continue;
        };
        let span = written.span;
        tracing::info!(stage = %stage.name.value, from = %reference, to = %value, "named context replaces the base image");
        stage.base = match value.as_str() {
            "scratch" => StageBase::Scratch,
            image => StageBase::Image(Interpolated::literal(image, span)),
        };
    }
    Ok(())
}

/// Returns the image of the context option that names `reference`, with
/// the platform-specific option first.
fn matching_context(
    contexts: &BTreeMap<String, String>,
    reference: &Reference,
    platform: &Platform,
) -> Result<Option<String>, FrontendFailure> {
    let mut general = None;
    for (name, value) in contexts {
        let (name_part, name_platform) = match name.split_once("::") {
            Some((name_part, platform_part)) => (name_part, Some(platform_part)),
            None => (name.as_str(), None),
        };
        let Ok(named) = Reference::parse_normalized(name_part) else {
            continue;
        };
        if named != *reference {
            continue;
        }
        let image = value.strip_prefix(IMAGE_CONTEXT_SCHEME).ok_or_else(|| {
            FrontendFailure::new(format!(
                "named context `{name}={value}` replaces a base image, which stagec supports only with an \
                     image: write `{name}=docker-image://REFERENCE`"
            ))
        })?;
        match name_platform {
            Some(text) if Platform::parse(text).as_ref() == Some(platform) => return Ok(Some(image.to_string())),
            Some(_) => {}
            None => general = Some(image.to_string()),
        }
    }
    Ok(general)
}

/// The parts of an OCI image configuration that a lock entry records.
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

/// Resolves the configuration of every image of `needed` through BuildKit
/// and returns their lock entries. The entries are not written anywhere:
/// a frontend cannot change the client's files.
pub async fn resolve_through_bridge(
    bridge: &mut Bridge,
    needed: &[BaseImage],
    resolve_mode: &str,
) -> Result<Vec<LockedImage>, FrontendFailure> {
    let mut locked = Vec::with_capacity(needed.len());
    for base in needed {
        let reference = base.reference.to_string();
        let platform = pb::Platform {
            os: base.platform.os.clone(),
            architecture: base.platform.architecture.clone(),
            variant: base.platform.variant.clone().unwrap_or_default(),
            ..pb::Platform::default()
        };
        let response = bridge
            .resolve_image_config(&reference, platform, resolve_mode)
            .await
            .map_err(|status| {
                let mut failure = FrontendFailure::from_status(&status);
                failure.status.message = format!(
                    "cannot read base image {reference} for platform {}: {}; load it into the engine \
                     (`docker pull --platform {0} {reference}`) and build again",
                    base.platform, failure.status.message
                );
                failure
            })?;
        let entry = lock_entry(base, &response.digest, &response.config).map_err(|reason| {
            FrontendFailure::new(format!(
                "the configuration of base image {reference} is invalid: {reason}"
            ))
        })?;
        tracing::info!(reference = %entry.reference, platform = %entry.platform, id = %entry.image_id, "resolved base image");
        locked.push(entry);
    }
    Ok(locked)
}

/// Builds the lock entry of `base` from its configuration file and the
/// manifest digest BuildKit returned (empty for an image of the engine's
/// store that was never pulled). The image ID is the digest of the
/// configuration file, as the engine computes it.
pub fn lock_entry(base: &BaseImage, manifest_digest: &str, config_bytes: &[u8]) -> Result<LockedImage, String> {
    let file: ImageConfigFile = serde_json::from_slice(config_bytes).map_err(|error| error.to_string())?;
    let mut image_platform = format!("{}/{}", file.os, file.architecture);
    if let Some(variant) = file.variant.filter(|variant| !variant.is_empty()) {
        image_platform.push('/');
        image_platform.push_str(&variant);
    }
    let repo_digests = if manifest_digest.is_empty() {
        Vec::new()
    } else {
        vec![format!("{}@{manifest_digest}", base.reference.repository())]
    };
    Ok(LockedImage {
        reference: base.reference.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn base(reference: &str) -> BaseImage {
        BaseImage {
            stage: 0,
            reference: Reference::parse_normalized(reference).expect("valid reference"),
            platform: Platform::parse("linux/amd64").expect("valid platform"),
            span: Span::new(0, 1),
        }
    }

    #[test]
    fn lock_entry_from_config() {
        let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa","sha256:bb"]}}"#;
        let entry = lock_entry(&base("alpine:3"), "", config).expect("valid config");
        assert_eq!(entry.reference, "docker.io/library/alpine:3");
        assert_eq!(entry.image_platform, "linux/amd64");
        assert_eq!(entry.layers, 2);
        assert_eq!(entry.config.env_list(), ["PATH=/bin"]);
        assert_eq!(entry.image_id, format!("sha256:{:x}", Sha256::digest(config)));
        assert!(entry.repo_digests.is_empty());

        let pinned = lock_entry(&base("alpine:3"), "sha256:1234", config).expect("valid config");
        assert_eq!(pinned.repo_digests, ["docker.io/library/alpine@sha256:1234"]);
        assert!(lock_entry(&base("alpine:3"), "", b"not json").is_err());
    }

    #[test]
    fn named_context_matching() {
        let amd64 = Platform::parse("linux/amd64").expect("valid platform");
        let reference = Reference::parse_normalized("alpine:3").expect("valid reference");
        let contexts = BTreeMap::from([
            ("alpine:3".to_string(), "docker-image://busybox:1".to_string()),
            (
                "alpine:3::linux/amd64".to_string(),
                "docker-image://busybox:2".to_string(),
            ),
            ("golang".to_string(), "docker-image://golang:1.19".to_string()),
        ]);
        assert_eq!(
            matching_context(&contexts, &reference, &amd64).expect("valid"),
            Some("busybox:2".to_string()),
            "the platform-specific name wins"
        );
        let arm64 = Platform::parse("linux/arm64").expect("valid platform");
        assert_eq!(
            matching_context(&contexts, &reference, &arm64).expect("valid"),
            Some("busybox:1".to_string())
        );
        let latest = Reference::parse_normalized("golang:latest").expect("valid reference");
        assert_eq!(
            matching_context(&contexts, &latest, &amd64).expect("valid"),
            Some("golang:1.19".to_string())
        );

        let local = BTreeMap::from([("alpine:3".to_string(), "local:other".to_string())]);
        let failure = matching_context(&local, &reference, &amd64).expect_err("only images");
        assert!(failure.status.message.contains("docker-image://"), "{failure}");
    }
}
