//! `stagec lock`: reads the configuration of the spec's base images from
//! Docker Engine and writes it to the lock file beside the spec. With
//! `--addr`, the platform comes from the BuildKit workers there, and the
//! image configurations still from Docker Engine at `DOCKER_HOST`.

use std::path::Path;

use super::args::{BuildSelectArgs, BuildkitArgs, LockArgs};
use super::files::write_atomic;
use super::llb::{Prepared, lock_file_path, parse_platform, prepare, read_lock};
use super::{EXIT_FAILURE, Failure, report};
use crate::engine::{ConnectOptions, EngineClient, TlsOptions, parse_address};
use crate::lock::{
    EngineSocket, LockFile, Platforms, images_to_lock, resolve_images, spec_images_digest, updated_lock,
};
use crate::model::Platform;

pub fn run(args: &LockArgs, color: bool) -> Result<(), Failure> {
    let connect = connect_options(&args.buildkit)?;
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
        refresh_lock(&mut prepared, &platforms, existing.as_ref(), Some(&lock_file)).await
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

/// Returns the target platform (`--platform`, else the engine's) and the
/// build platform (the engine's).
pub(super) fn engine_platforms(client: &EngineClient, select: &BuildSelectArgs) -> Result<Platforms, Failure> {
    let info = client.connected_info();
    let engine = Platform {
        os: info.os.clone(),
        architecture: info.arch.clone(),
        variant: None,
    };
    let target = match &select.platform {
        Some(text) => parse_platform(text)?,
        None => engine.clone(),
    };
    Ok(Platforms { target, build: engine })
}

/// Resolves the base images that the spec's builds need and writes the
/// lock file, when there is one, if it changes, saying so on stderr.
/// Returns the new lock; diagnostics about the spec go into `prepared`.
pub(super) async fn refresh_lock(
    prepared: &mut Prepared,
    platforms: &Platforms,
    existing: Option<&LockFile>,
    lock_file: Option<&Path>,
) -> Result<LockFile, Failure> {
    let Some(model) = prepared.compilation.spec.as_ref() else {
        return Err(Failure::reported());
    };
    let images = match images_to_lock(model, &prepared.compilation.graph, &prepared.lower_options, platforms) {
        Ok(images) => images,
        Err(errors) => {
            prepared.diagnostics.extend(errors);
            prepared.diagnostics.sort();
            return Err(Failure::reported());
        }
    };

    let socket = EngineSocket::new(None).map_err(|error| Failure {
        code: EXIT_FAILURE,
        message: Some(error.to_string()),
    })?;
    let resolved = resolve_images(&images, &socket).await.map_err(|error| Failure {
        code: EXIT_FAILURE,
        message: Some(error.to_string()),
    })?;
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
