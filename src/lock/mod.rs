//! The lock file beside a spec (`app.kdl.lock`). The LLB backend needs the
//! configuration of each base image (env, user, working directory, entry
//! point and command, ...) to lower a stage the way BuildKit's Dockerfile
//! frontend does, which requests it from the engine during the build. stagec
//! reads it once with `stagec lock` and pins it in the lock file, so that
//! `stagec llb` works offline and gives the same definition every time.
//!
//! A lock entry is one normalized image reference on one platform. The file
//! also records a digest of the spec's base images as written, so that a
//! spec whose base images changed is reported as stale (SC0902).

mod check;
pub mod config;
mod file;
mod images;
mod inspect;
mod reference;
mod resolve;

pub use check::{LockNames, check_lock};
pub use config::{Healthcheck, ImageConfig};
pub use file::{LOCK_FORMAT_VERSION, LockFile, LockedImage, lock_path};
pub use images::{
    BaseImage, Platforms, base_images, global_arg_values, spec_images_digest, stage_platforms, substitute,
};
pub use inspect::{EngineSocket, InspectError};
pub use reference::Reference;
pub use resolve::{ResolveError, lock_entry_from_config};

use crate::diag::Diagnostics;
use crate::lower::{LowerOptions, lower};
use crate::model::Spec;
use crate::resolve::graph::StageGraph;

/// Returns the base images that `stagec lock` records: those of the build
/// of `target`, or, without a target, of the build of every image output.
/// Each image appears once per platform.
pub fn images_to_lock(
    spec: &Spec,
    graph: &StageGraph,
    options: &LowerOptions,
    platforms: &Platforms,
) -> Result<Vec<BaseImage>, Diagnostics> {
    let targets: Vec<Option<String>> = match &options.target {
        Some(target) => vec![Some(target.clone())],
        None if spec.images.is_empty() => vec![None],
        None => spec
            .images
            .iter()
            .map(|image| Some(image.stage.value.clone()))
            .collect(),
    };

    let mut images: Vec<BaseImage> = Vec::new();
    for target in targets {
        let build = lower(
            spec,
            graph,
            &LowerOptions {
                target,
                build_args: options.build_args.clone(),
            },
        )?;
        for image in base_images(&build, platforms)? {
            let known = images
                .iter()
                .any(|seen| seen.reference == image.reference && seen.platform == image.platform);
            if !known {
                images.push(image);
            }
        }
    }
    Ok(images)
}

/// A locked base image whose tag now names another image in the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedImage {
    pub reference: String,
    pub platform: String,
    pub locked_id: String,
    pub engine_id: String,
}

/// Returns the entries of `lock` whose image ID differs from the entry that
/// the engine resolves now (`current`). An image missing from either side
/// is left to the lock check and the build, which report it.
pub fn changed_images(lock: &LockFile, current: &[LockedImage]) -> Vec<ChangedImage> {
    current
        .iter()
        .filter_map(|now| {
            let locked = lock
                .images
                .iter()
                .find(|locked| locked.reference == now.reference && locked.platform == now.platform)?;
            (locked.image_id != now.image_id).then(|| ChangedImage {
                reference: locked.reference.clone(),
                platform: locked.platform.clone(),
                locked_id: locked.image_id.clone(),
                engine_id: now.image_id.clone(),
            })
        })
        .collect()
}

/// Returns the lock to write after resolving `resolved`. While the spec's
/// base images are unchanged, entries of `existing` for other images or
/// platforms are kept, so that locking for one set of build args does not
/// drop the entries of another. A resolved entry replaces an old one.
pub fn updated_lock(existing: Option<&LockFile>, spec_images: String, resolved: Vec<LockedImage>) -> LockFile {
    let mut images = resolved;
    if let Some(existing) = existing.filter(|lock| lock.spec_images == spec_images) {
        for old in &existing.images {
            let replaced = images
                .iter()
                .any(|new| new.reference == old.reference && new.platform == old.platform);
            if !replaced {
                images.push(old.clone());
            }
        }
    }
    LockFile::new(spec_images, images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reference: &str, id: &str) -> LockedImage {
        LockedImage {
            reference: reference.into(),
            platform: "linux/amd64".into(),
            image_id: id.into(),
            repo_digests: Vec::new(),
            image_platform: "linux/amd64".into(),
            layers: 1,
            config: ImageConfig::default(),
        }
    }

    #[test]
    fn updated_lock_keeps_other_entries() {
        let existing = LockFile::new(
            "sha256:a".into(),
            vec![entry("x/a:1", "old-a"), entry("x/b:1", "old-b")],
        );
        let updated = updated_lock(Some(&existing), "sha256:a".into(), vec![entry("x/a:1", "new-a")]);
        let ids: Vec<&str> = updated.images.iter().map(|image| image.image_id.as_str()).collect();
        assert_eq!(ids, ["new-a", "old-b"]);
    }

    #[test]
    fn changed_images_compare_ids() {
        let lock = LockFile::new("sha256:a".into(), vec![entry("x/a:1", "id-1"), entry("x/b:1", "id-2")]);
        let changed = changed_images(
            &lock,
            &[entry("x/a:1", "id-1"), entry("x/b:1", "id-3"), entry("x/c:1", "id-4")],
        );
        assert_eq!(
            changed,
            [ChangedImage {
                reference: "x/b:1".into(),
                platform: "linux/amd64".into(),
                locked_id: "id-2".into(),
                engine_id: "id-3".into(),
            }]
        );
    }

    #[test]
    fn updated_lock_drops_entries_of_old_spec() {
        let existing = LockFile::new("sha256:a".into(), vec![entry("x/b:1", "old-b")]);
        let updated = updated_lock(Some(&existing), "sha256:b".into(), vec![entry("x/a:1", "new-a")]);
        assert_eq!(updated.images.len(), 1);
        assert_eq!(updated.spec_images, "sha256:b");
    }

    #[test]
    fn images_to_lock_covers_every_output() {
        let source = r#"
stage "builder" from="golang:1.19" {
    run "go version" network="none"
    artifact "a" path="/a" kind="file"
    artifact "b" path="/b" kind="file"
}
stage "api" from="alpine:3" {
    copy artifact="a" from="builder" to="/a"
}
stage "worker" from="busybox:1.36" {
    copy artifact="b" from="builder" to="/b"
}
image "api" tag="api:1" default=#true
image "worker" tag="worker:1"
"#;
        let compilation = crate::compile::check(source);
        assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
        let spec = compilation.spec.expect("a spec");
        let platform = crate::model::Platform::parse("linux/amd64").expect("valid");
        let platforms = Platforms {
            target: platform.clone(),
            build: platform,
        };
        let images = images_to_lock(&spec, &compilation.graph, &LowerOptions::default(), &platforms).expect("lowers");
        let mut references: Vec<String> = images.iter().map(|image| image.reference.to_string()).collect();
        references.sort();
        assert_eq!(
            references,
            [
                "docker.io/library/alpine:3",
                "docker.io/library/busybox:1.36",
                "docker.io/library/golang:1.19"
            ]
        );
    }
}
