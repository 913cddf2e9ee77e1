//! `stagec llb`: writes the LLB definition of a spec. Also holds the steps
//! that `llb`, `lock` and `build` share: compiling and lowering the spec,
//! and finding, reading and checking its lock file.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::args::{BuildSelectArgs, LlbArgs, LlbFormat, NetworkArg, SpecArgs};
use super::{Failure, LoadedSpec, compile_loaded, load_spec, parse_build_args, report};
use crate::compile::Compilation;
use crate::diag::Diagnostics;
use crate::llb::lower::{LlbBuild, LlbOptions};
use crate::llb::{EngineCaps, NetworkMode, SourceInfo};
use crate::lock::{LockFile, LockNames, Platforms, base_images, check_lock, lock_path, spec_images_digest};
use crate::lower::{BuildGraph, LowerOptions};
use crate::model::Platform;

pub fn run(args: &LlbArgs, color: bool) -> Result<(), Failure> {
    let target_platforms = match &args.select.platform {
        Some(text) => super::lock::parse_platform_list(text)?,
        None => vec![host_platform()],
    };
    // A binary definition is one build for one platform, which is what
    // `buildctl build` solves, so a list is dumped only as JSON.
    if target_platforms.len() > 1 && args.format == LlbFormat::Binary {
        return Err(Failure::usage(format!(
            "--platform `{}` names {} platforms, but a binary definition describes a build for one platform; \
             run `stagec llb --platform PLATFORM` once per platform, or pass --format json to dump every \
             platform's definition",
            args.select.platform.as_deref().unwrap_or_default(),
            target_platforms.len()
        )));
    }

    let mut prepared = prepare(&args.spec, &args.select)?;
    let Some(build) = prepared.build.take() else {
        report(&prepared.diagnostics, &prepared.spec, &args.spec, color);
        return Err(Failure::reported());
    };

    let lock_file = lock_file_path(&args.spec, &args.select);
    let lock = read_lock(lock_file.as_deref())?;
    let multi_platform = target_platforms.len() > 1;
    let platform_count = target_platforms.len();
    let mut builds: Vec<(Platform, LlbBuild)> = Vec::with_capacity(target_platforms.len());
    for target in target_platforms {
        let platforms = Platforms {
            target,
            build: host_platform(),
        };
        let lowered = lock_and_lower(
            &mut prepared,
            &build,
            lock.as_ref(),
            &platforms,
            args.network,
            lock_file.as_deref(),
            &args.select,
            &EngineCaps::latest(),
        );
        // The first platform that fails stops the loop, so that its
        // diagnostics are reported once rather than once per platform.
        let Some(mut llb) = lowered else { break };
        // The same names as `stagec build` gives a multi-platform build.
        if multi_platform {
            llb.name_platform(&platforms.target);
        }
        builds.push((platforms.target, llb));
    }
    if report(&prepared.diagnostics, &prepared.spec, &args.spec, color) {
        return Err(Failure::reported());
    }
    // Without errors, lowering always produces a build for each platform.
    if builds.len() != platform_count {
        return Err(Failure::reported());
    }

    // Free the model and the build graph before marshalling, so that the
    // encoded definition reuses their memory and the peak stays lower.
    drop(build);
    drop(prepared.compilation);
    let source = source_info(&prepared.spec);
    let mut stdout = std::io::stdout().lock();
    for (platform, llb) in builds {
        let marshalled = llb.definition(llb.output, Some(&source));
        drop(llb);
        let written = match args.format {
            LlbFormat::Json => {
                // A label line marks where the ops of each platform begin.
                let label = if multi_platform {
                    format!("{}\n", serde_json::json!({ "Platform": platform.to_string() }))
                } else {
                    String::new()
                };
                let dump = crate::llb::json::dump(&marshalled.definition);
                stdout.write_all(format!("{label}{dump}").as_bytes())
            }
            LlbFormat::Binary => {
                if std::io::stdout().is_terminal() && !args.force {
                    return Err(Failure::usage(
                        "refusing to write the binary definition to a terminal; redirect standard output to a file, \
                         pass --format json for a readable dump, or pass --force"
                            .to_string(),
                    ));
                }
                stdout.write_all(&marshalled.to_bytes())
            }
        };
        written
            .and_then(|()| stdout.flush())
            .map_err(|error| Failure::io(format!("cannot write the definition to standard output: {error}")))?;
    }
    Ok(())
}

/// A compiled spec and, when it has no errors, its build graph.
pub(super) struct Prepared {
    pub spec: LoadedSpec,
    pub compilation: Compilation,
    /// `None` when the spec has errors.
    pub build: Option<BuildGraph>,
    pub lower_options: LowerOptions,
    /// Every diagnostic so far; the caller reports them once, with its own.
    pub diagnostics: Diagnostics,
}

/// Loads, checks and lowers the spec for the build the flags select.
pub(super) fn prepare(spec_args: &SpecArgs, select: &BuildSelectArgs) -> Result<Prepared, Failure> {
    let build_args = parse_build_args(&select.build_args)?;
    let spec = load_spec(spec_args)?;
    let compilation = compile_loaded(&spec, &build_args);
    let lower_options = LowerOptions {
        target: select.target.clone(),
        build_args,
    };
    let mut diagnostics = compilation.diagnostics.clone();

    let build = match (&compilation.spec, compilation.has_errors()) {
        (Some(model), false) => match crate::lower::lower(model, &compilation.graph, &lower_options) {
            Ok(build) => Some(build),
            Err(errors) => {
                diagnostics.extend(errors);
                diagnostics.sort();
                None
            }
        },
        _ => None,
    };
    Ok(Prepared {
        spec,
        compilation,
        build,
        lower_options,
        diagnostics,
    })
}

/// Checks `lock` against the build and lowers it to LLB for an engine with
/// `caps`. Problems go into `prepared.diagnostics`; the result is `None`
/// when there are errors.
#[allow(clippy::too_many_arguments)]
pub(super) fn lock_and_lower(
    prepared: &mut Prepared,
    build: &BuildGraph,
    lock: Option<&LockFile>,
    platforms: &Platforms,
    network: NetworkArg,
    lock_file: Option<&Path>,
    select: &BuildSelectArgs,
    caps: &EngineCaps,
) -> Option<LlbBuild> {
    let needed = match base_images(build, platforms) {
        Ok(needed) => needed,
        Err(errors) => {
            prepared.diagnostics.extend(errors);
            prepared.diagnostics.sort();
            return None;
        }
    };
    let model = prepared.compilation.spec.as_ref()?;
    let names = lock_names(&prepared.spec, lock_file, select);
    let problems = check_lock(lock, &spec_images_digest(model), &needed, &names);
    if !problems.is_empty() {
        prepared.diagnostics.extend(problems);
        prepared.diagnostics.sort();
        return None;
    }

    let empty = LockFile::new(spec_images_digest(model), Vec::new());
    let options = LlbOptions {
        platforms: platforms.clone(),
        default_network: network_mode(network),
    };
    match crate::llb::lower::lower_for_engine(build, lock.unwrap_or(&empty), &options, caps) {
        Ok(llb) => Some(llb),
        Err(errors) => {
            prepared.diagnostics.extend(errors);
            prepared.diagnostics.sort();
            None
        }
    }
}

pub(super) fn network_mode(network: NetworkArg) -> NetworkMode {
    match network {
        NetworkArg::Default => NetworkMode::Sandbox,
        NetworkArg::None => NetworkMode::None,
        NetworkArg::Host => NetworkMode::Host,
    }
}

/// Returns the spec as the definition's source map names it: by file name
/// only, so that the definition does not depend on the directory it was made in.
pub(super) fn source_info(spec: &LoadedSpec) -> SourceInfo<'_> {
    let filename = Path::new(&spec.display_name)
        .file_name()
        .map_or_else(|| spec.display_name.clone(), |name| name.to_string_lossy().into_owned());
    SourceInfo {
        filename,
        data: &spec.source,
        language: "KDL".to_string(),
    }
}

/// Returns the lock file path: `--lock`, else the spec's path with `.lock`
/// appended, and `None` for a spec read from standard input without `--lock`.
pub(super) fn lock_file_path(spec_args: &SpecArgs, select: &BuildSelectArgs) -> Option<PathBuf> {
    if let Some(path) = &select.lock {
        return Some(path.clone());
    }
    (spec_args.spec != Path::new("-")).then(|| lock_path(&spec_args.spec))
}

/// Reads the lock file; `None` when there is none.
pub(super) fn read_lock(path: Option<&Path>) -> Result<Option<LockFile>, Failure> {
    let Some(path) = path else { return Ok(None) };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(Failure::io(format!(
                "cannot read lock file `{}`: {error}",
                path.display()
            )));
        }
    };
    LockFile::parse(&text).map(Some).map_err(|reason| {
        Failure::io(format!(
            "lock file `{}` is invalid: {reason}; delete it and run `stagec lock` to write it again",
            path.display()
        ))
    })
}

/// Names for lock diagnostics, with the `stagec lock` command that fixes them.
pub(super) fn lock_names(spec: &LoadedSpec, lock_file: Option<&Path>, select: &BuildSelectArgs) -> LockNames {
    let mut command = format!("stagec lock {}", spec.display_name);
    if let Some(target) = &select.target {
        command.push_str(&format!(" --target {target}"));
    }
    for build_arg in &select.build_args {
        command.push_str(&format!(" --build-arg {build_arg}"));
    }
    if let Some(platform) = &select.platform {
        command.push_str(&format!(" --platform {platform}"));
    }
    match (&select.lock, lock_file) {
        (Some(lock), _) => command.push_str(&format!(" --lock {}", lock.display())),
        (None, None) => command.push_str(" --lock PATH"),
        (None, Some(_)) => {}
    }
    let lock = lock_file.map(|path| path.display().to_string());
    LockNames {
        spec: spec.display_name.clone(),
        lock,
        lock_command: command,
    }
}

pub(super) fn parse_platform(text: &str) -> Result<Platform, Failure> {
    Platform::parse(text).ok_or_else(|| {
        Failure::usage(format!(
            "--platform `{text}` is not a platform; write os/arch[/variant], such as linux/arm64"
        ))
    })
}

/// Returns the Linux platform of this machine's processor, in Go's names,
/// which BuildKit and OCI images use.
pub(super) fn host_platform() -> Platform {
    let (architecture, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "x86" => ("386", None),
        "aarch64" => ("arm64", None),
        "arm" => ("arm", Some("v7")),
        "powerpc64" => ("ppc64le", None),
        "loongarch64" => ("loong64", None),
        other => (other, None),
    };
    Platform {
        os: "linux".to_string(),
        architecture: architecture.to_string(),
        variant: variant.map(str::to_string),
    }
}
