//! Checks that a lock file covers the base images of one build.

use super::file::LockFile;
use super::images::BaseImage;
use crate::diag::{Code, Diagnostic, Diagnostics};

/// Names used in lock diagnostics.
#[derive(Debug, Clone)]
pub struct LockNames {
    /// The spec as the user named it, such as `app.kdl`.
    pub spec: String,
    /// The lock file as the user would name it, such as `app.kdl.lock`;
    /// `None` for a spec read from standard input without `--lock`.
    pub lock: Option<String>,
    /// The `stagec lock` command line that brings the lock up to date,
    /// with the build's `--build-arg`, `--platform` and `--target` flags.
    pub lock_command: String,
}

/// Returns SC0901 when there is no lock and the build needs a base image,
/// and SC0902 for each needed image the lock lacks, or once when the
/// spec's base images changed since the lock was written.
pub fn check_lock(lock: Option<&LockFile>, spec_images: &str, needed: &[BaseImage], names: &LockNames) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    let Some(first) = needed.first() else {
        return diagnostics;
    };

    let lock_name = names
        .lock
        .as_ref()
        .map_or_else(|| "the lock file".to_string(), |path| format!("`{path}`"));
    let Some(lock) = lock else {
        let message = match &names.lock {
            Some(_) => format!("no lock file {lock_name} for the base images of the spec"),
            None => "no lock file for the base images of a spec read from standard input".to_string(),
        };
        diagnostics.push(
            Diagnostic::new(Code::MissingLock, message)
                .label(first.span, "the build needs this image's configuration")
                .help(format!(
                    "run `{}`: it reads each base image's configuration from the engine and writes {lock_name}",
                    names.lock_command
                )),
        );
        return diagnostics;
    };

    let mut missing = false;
    for image in needed {
        if lock.find(&image.reference, &image.platform).is_some() {
            continue;
        }
        missing = true;
        diagnostics.push(
            Diagnostic::new(
                Code::StaleLock,
                format!(
                    "base image `{}` for {} is not in {lock_name}",
                    image.reference, image.platform
                ),
            )
            .label(image.span, "not locked")
            .help(format!("run `{}` to add it", names.lock_command)),
        );
    }
    if !missing && lock.spec_images != spec_images {
        diagnostics.push(
            Diagnostic::new(
                Code::StaleLock,
                format!("{lock_name} was written for other base images than the spec now names"),
            )
            .label(first.span, "the base images changed after the lock was written")
            .help(format!("run `{}` to update it", names.lock_command)),
        );
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;
    use crate::lock::config::ImageConfig;
    use crate::lock::file::LockedImage;
    use crate::lock::reference::Reference;
    use crate::model::Platform;

    fn names() -> LockNames {
        LockNames {
            spec: "app.kdl".into(),
            lock: Some("app.kdl.lock".into()),
            lock_command: "stagec lock app.kdl".into(),
        }
    }

    fn needed(reference: &str) -> BaseImage {
        BaseImage {
            stage: 0,
            reference: Reference::parse_normalized(reference).expect("valid"),
            platform: Platform::parse("linux/amd64").expect("valid"),
            span: Span::new(10, 5),
        }
    }

    fn lock_of(spec_images: &str, references: &[&str]) -> LockFile {
        let images = references
            .iter()
            .map(|reference| LockedImage {
                reference: Reference::parse_normalized(reference).expect("valid").to_string(),
                platform: "linux/amd64".into(),
                image_id: "sha256:00".into(),
                repo_digests: Vec::new(),
                image_platform: "linux/amd64".into(),
                layers: 1,
                config: ImageConfig::default(),
            })
            .collect();
        LockFile::new(spec_images.into(), images)
    }

    fn codes(diagnostics: &Diagnostics) -> Vec<Code> {
        diagnostics.iter().map(|diagnostic| diagnostic.code).collect()
    }

    #[test]
    fn missing_lock_reported_once() {
        let diagnostics = check_lock(None, "sha256:a", &[needed("alpine:3"), needed("golang:1.19")], &names());
        assert_eq!(codes(&diagnostics), [Code::MissingLock]);
        let diagnostic = diagnostics.iter().next().expect("one diagnostic");
        assert_eq!(diagnostic.primary_span(), Span::new(10, 5));
        assert!(
            diagnostic
                .help
                .as_deref()
                .is_some_and(|help| help.contains("stagec lock app.kdl"))
        );
    }

    #[test]
    fn no_base_image_needs_no_lock() {
        assert!(check_lock(None, "sha256:a", &[], &names()).is_empty());
    }

    #[test]
    fn missing_entry_is_stale() {
        let lock = lock_of("sha256:a", &["alpine:3"]);
        let diagnostics = check_lock(
            Some(&lock),
            "sha256:a",
            &[needed("alpine:3"), needed("golang:1.20")],
            &names(),
        );
        assert_eq!(codes(&diagnostics), [Code::StaleLock]);
        assert!(
            diagnostics
                .iter()
                .next()
                .expect("one")
                .message
                .contains("docker.io/library/golang:1.20")
        );
    }

    #[test]
    fn changed_spec_images_are_stale() {
        let lock = lock_of("sha256:a", &["alpine:3"]);
        assert_eq!(
            codes(&check_lock(Some(&lock), "sha256:b", &[needed("alpine:3")], &names())),
            [Code::StaleLock]
        );
        assert!(check_lock(Some(&lock), "sha256:a", &[needed("alpine:3")], &names()).is_empty());
    }
}
