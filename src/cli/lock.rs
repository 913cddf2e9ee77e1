//! `stagec lock`: reads the configuration of the spec's base images on
//! each platform through the BuildKit that `stagec build` uses (Docker
//! Engine's, or the one at `--addr`) and writes it to the lock file beside
//! the spec.

use std::path::Path;

use super::args::{BuildSelectArgs, BuildkitArgs, LockArgs};
use super::files::write_atomic;
use super::llb::{Prepared, lock_file_path, parse_platform, prepare, read_lock};
use super::{EXIT_FAILURE, Failure, report};
use crate::engine::{ConnectOptions, EngineClient, ImageConfigQuery, TlsOptions, parse_address};
use crate::lock::{
    BaseImage, EngineSocket, LockFile, LockedImage, Platforms, ResolveError, images_to_lock, lock_entry_from_config,
    spec_images_digest, updated_lock,
};
use crate::model::Platform;

pub fn run(args: &LockArgs, color: bool) -> Result<(), Failure> {
    let connect = connect_options(&args.buildkit)?;
    if let Some(text) = &args.select.platform {
        parse_platform_list(text)?;
    }
    let mut prepared = prepare(&args.spec, &args.select)?;
    if prepared.build.is_none() {
        report(&prepared.diagnostics, &prepared.spec, &args.spec, color);
        return Err(Failure::reported());
    }
    let Some(lock_file) = lock_file_path(&args.spec, &args.select) else {
        return Err(Failure::usage(
            "a spec read from standard input has no lock file beside it; name one with --lock PATH".to_string(),
        ));
    };
    let existing = read_lock(Some(&lock_file))?;

    let runtime = super::build::runtime()?;
    let engine_calls = async {
        let client = EngineClient::connect_with(&connect).await.map_err(engine_failure)?;
        let platforms = engine_platforms(&client, &args.select)?;
        refresh_lock(&client, &mut prepared, &platforms, existing.as_ref(), Some(&lock_file)).await
    };
    let written = runtime.block_on(super::build::until_interrupted("lock", engine_calls, None));

    if report(&prepared.diagnostics, &prepared.spec, &args.spec, color) {
        return Err(Failure::reported());
    }
    let lock = written?;
    if existing.as_ref() == Some(&lock) {
        eprintln!("`{}` is up to date", lock_file.display());
    }
    Ok(())
}

/// Returns the platforms of each build: one per target platform of
/// `--platform` (a comma-separated list, else the engine's platform), each
/// with the engine's platform as the build platform.
pub(super) fn engine_platforms(client: &EngineClient, select: &BuildSelectArgs) -> Result<Vec<Platforms>, Failure> {
    let info = client.connected_info();
    let engine = Platform {
        os: info.os.clone(),
        architecture: info.arch.clone(),
        variant: None,
    };
    let targets = match &select.platform {
        Some(text) => parse_platform_list(text)?,
        None => vec![engine.clone()],
    };
    Ok(targets
        .into_iter()
        .map(|target| Platforms {
            target,
            build: engine.clone(),
        })
        .collect())
}

/// Parses `--platform os/arch[/variant][,...]`. A platform named twice is
/// an error, because the image index would list it twice.
pub(super) fn parse_platform_list(text: &str) -> Result<Vec<Platform>, Failure> {
    let mut platforms: Vec<Platform> = Vec::new();
    for part in text.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(Failure::usage(format!(
                "--platform `{text}` has an empty entry; write one platform or a comma-separated list, such as \
                 linux/amd64,linux/arm64"
            )));
        }
        let platform = parse_platform(part)?;
        if platforms.contains(&platform) {
            return Err(Failure::usage(format!(
                "--platform `{text}` names {platform} twice; name each platform once"
            )));
        }
        platforms.push(platform);
    }
    Ok(platforms)
}

/// Resolves the base images that the spec's builds need and writes the
/// lock file, when there is one, if it changes, saying so on stderr.
/// Returns the new lock; diagnostics about the spec go into `prepared`.
pub(super) async fn refresh_lock(
    client: &EngineClient,
    prepared: &mut Prepared,
    platforms: &[Platforms],
    existing: Option<&LockFile>,
    lock_file: Option<&Path>,
) -> Result<LockFile, Failure> {
    let Some(model) = prepared.compilation.spec.as_ref() else {
        return Err(Failure::reported());
    };
    let mut images: Vec<BaseImage> = Vec::new();
    for build_platforms in platforms {
        match images_to_lock(
            model,
            &prepared.compilation.graph,
            &prepared.lower_options,
            build_platforms,
        ) {
            Ok(found) => {
                for image in found {
                    let known = images
                        .iter()
                        .any(|seen| seen.reference == image.reference && seen.platform == image.platform);
                    if !known {
                        images.push(image);
                    }
                }
            }
            Err(errors) => {
                prepared.diagnostics.extend(errors);
                prepared.diagnostics.sort();
                return Err(Failure::reported());
            }
        }
    }

    let resolved = resolve_base_images(client, &images).await?;
    let lock = updated_lock(existing, spec_images_digest(model), resolved);
    if existing == Some(&lock) {
        return Ok(lock);
    }
    match lock_file {
        Some(path) => {
            write_atomic(path, &lock.to_text())?;
            eprintln!("wrote `{}` with {} base image(s):", path.display(), lock.images.len());
        }
        None => eprintln!(
            "read {} base image(s); no lock file is written for a spec from standard input:",
            lock.images.len()
        ),
    }
    for image in &lock.images {
        eprintln!("  {} ({}) {}", image.reference, image.platform, image.image_id);
    }
    Ok(lock)
}

/// Resolves the configuration of every image of `images` on its platform
/// through the engine's BuildKit and returns their lock entries.
pub(super) async fn resolve_base_images(
    client: &EngineClient,
    images: &[BaseImage],
) -> Result<Vec<LockedImage>, Failure> {
    let outcomes = client
        .resolve_image_configs(&image_queries(images))
        .await
        .map_err(engine_failure)?;

    let mut locked = Vec::with_capacity(images.len());
    for (image, outcome) in images.iter().zip(outcomes) {
        let outcome = match outcome {
            Ok(resolved) => Ok(resolved),
            Err(message) => Err(unavailable_image_error(client, image, message).await),
        };
        let entry = outcome
            .and_then(|resolved| lock_entry_from_config(image, &resolved.digest, &resolved.config))
            .map_err(|error| Failure {
                code: EXIT_FAILURE,
                message: Some(error.to_string()),
            })?;
        tracing::info!(reference = %entry.reference, platform = %entry.platform, id = %entry.image_id, "locked base image");
        locked.push(entry);
    }
    Ok(locked)
}

/// Resolves the configuration of every image of `images` that the engine
/// has or can pull, and returns their lock entries. An image that fails is
/// left out, for the caller to report when it needs it.
pub(super) async fn resolve_available_images(
    client: &EngineClient,
    images: &[BaseImage],
) -> Result<Vec<LockedImage>, Failure> {
    let outcomes = client
        .resolve_image_configs(&image_queries(images))
        .await
        .map_err(engine_failure)?;

    let mut locked = Vec::with_capacity(images.len());
    for (image, outcome) in images.iter().zip(outcomes) {
        match outcome.map(|resolved| lock_entry_from_config(image, &resolved.digest, &resolved.config)) {
            Ok(Ok(entry)) => locked.push(entry),
            Ok(Err(error)) => tracing::debug!(reference = %image.reference, %error, "base image left out"),
            Err(message) => {
                tracing::debug!(reference = %image.reference, platform = %image.platform, %message, "base image cannot be resolved")
            }
        }
    }
    Ok(locked)
}

fn image_queries(images: &[BaseImage]) -> Vec<ImageConfigQuery> {
    images
        .iter()
        .map(|image| ImageConfigQuery {
            reference: image.reference.to_string(),
            platform: image.platform.clone(),
        })
        .collect()
}

/// Returns the error for a base image that BuildKit could not resolve. Docker
/// Engine's classic store keeps one platform per tag, so its BuildKit
/// requests another platform from the registry. The error then names the
/// platform of the engine's own image, when there is one.
async fn unavailable_image_error(client: &EngineClient, image: &BaseImage, message: String) -> ResolveError {
    let reference = image.reference.to_string();
    let platform = image.platform.to_string();
    if client.is_docker_engine()
        && let Ok(socket) = EngineSocket::new(None)
        && let Some(found) = socket.image_platform(&reference).await
        && Platform::parse(&found)
            .is_some_and(|found| found.os != image.platform.os || found.architecture != image.platform.architecture)
    {
        return ResolveError::WrongPlatform {
            reference,
            platform,
            found,
        };
    }
    ResolveError::Unavailable {
        reference,
        platform,
        message,
    }
}

pub(super) fn engine_failure(error: crate::engine::EngineError) -> Failure {
    Failure {
        code: EXIT_FAILURE,
        message: Some(error.to_string()),
    }
}

/// Returns the BuildKit that `--addr` (or `BUILDKIT_HOST`) and the TLS
/// flags select. An address that does not parse is a usage error.
pub(super) fn connect_options(args: &BuildkitArgs) -> Result<ConnectOptions, Failure> {
    let addr = args.addr.clone().filter(|addr| !addr.is_empty());
    if let Some(addr) = &addr {
        parse_address(addr).map_err(|error| Failure::usage(error.to_string()))?;
    }
    let tls = TlsOptions {
        ca_cert: args.tlscacert.clone(),
        cert: args.tlscert.clone(),
        key: args.tlskey.clone(),
        server_name: args.tlsservername.clone(),
    };
    if addr.is_none() && tls.is_set() {
        return Err(Failure::usage(
            "the TLS flags apply to a tcp:// BuildKit address; set --addr tcp://HOST:PORT".to_string(),
        ));
    }
    Ok(ConnectOptions { addr, tls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_list_parses_in_order() {
        let platforms = parse_platform_list("linux/arm64, linux/amd64,linux/arm/v7").expect("valid list");
        let names: Vec<String> = platforms.iter().map(Platform::to_string).collect();
        assert_eq!(names, ["linux/arm64", "linux/amd64", "linux/arm/v7"]);
    }

    #[test]
    fn platform_list_rejects_invalid_entries() {
        for (text, expected) in [
            ("linux/amd64,", "has an empty entry"),
            ("linux/amd64,linux/amd64", "names linux/amd64 twice"),
            ("linux/amd64,windows", "`windows` is not a platform"),
        ] {
            let failure = parse_platform_list(text).expect_err(text);
            let message = failure.message.unwrap_or_default();
            assert!(message.contains(expected), "{text}: {message}");
        }
    }
}
