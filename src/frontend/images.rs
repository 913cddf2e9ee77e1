//! Base images of a frontend build: named contexts that replace them, and
//! their configurations resolved through BuildKit when the lock file beside
//! the spec does not cover the build.

use std::collections::BTreeMap;

use bollard_buildkit_proto::pb;

use super::bridge::Bridge;
use super::errors::FrontendFailure;
use crate::lock::{
    BaseImage, LockedImage, Reference, global_arg_values, lock_entry_from_config, stage_platforms, substitute,
};
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
        // The same entry as `stagec lock` writes, including its check that
        // the resolved image is for the requested platform.
        let entry = lock_entry_from_config(base, &response.digest, &response.config)
            .map_err(|error| FrontendFailure::new(error.to_string()))?;
        tracing::info!(reference = %entry.reference, platform = %entry.platform, id = %entry.image_id, "resolved base image");
        locked.push(entry);
    }
    Ok(locked)
}

#[cfg(test)]
mod tests {
    use super::*;

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
