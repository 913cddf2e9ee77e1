//! The output, cache, reproducibility and attestation flags of `stagec
//! build`, checked and turned into the parts of a solve request.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use super::Failure;
use super::args::BuildArgs;
use crate::engine::SolveFailure;
use crate::engine::cache::{CacheDirection, CacheEntry, parse_cache_entries, resolve_local_caches};
use crate::engine::exporter::{Destination, Output, OutputKind, parse_output, parse_outputs};

/// Image that generates SBOMs when `--attest type=sbom` names none, the
/// same default as buildx 0.13.
const DEFAULT_SBOM_GENERATOR: &str = "docker/buildkit-syft-scanner:stable-1";

/// Output and cache settings of one build.
#[derive(Debug, Clone, Default)]
pub(super) struct BuildOutputs {
    /// Empty for the default: the image store when the build has tags.
    pub outputs: Vec<Output>,
    pub cache_exports: Vec<CacheEntry>,
    pub cache_imports: Vec<CacheEntry>,
    /// Attributes added to every exporter.
    pub exporter_attrs: BTreeMap<String, String>,
    /// Frontend attributes for the attestations.
    pub frontend_attrs: BTreeMap<String, String>,
}

/// Latest `--source-date-epoch`: 9999-12-31T23:59:59Z, the last time that
/// Go's `Time.MarshalJSON` accepts. BuildKit 0.13 failed the export, after the
/// build, with `year outside of range [0,9999]` for the epoch 2^63 - 1.
const MAX_SOURCE_DATE_EPOCH: u64 = 253_402_300_799;

/// Parses `--source-date-epoch` and `SOURCE_DATE_EPOCH`: whole seconds since
/// 1970-01-01T00:00:00Z, as the reproducible-builds.org specification defines.
pub(super) fn parse_source_date_epoch(text: &str) -> Result<u64, String> {
    let seconds: u64 = text.trim().parse().map_err(|_| {
        format!("`{text}` is not a number of seconds since 1970-01-01 UTC; write a whole number such as 1700000000")
    })?;
    if seconds > MAX_SOURCE_DATE_EPOCH {
        return Err(format!(
            "`{text}` is after the year 9999, which image timestamps cannot hold; write at most {MAX_SOURCE_DATE_EPOCH}"
        ));
    }
    Ok(seconds)
}

/// Checks the output flags of `args`.
pub(super) fn parse_build_outputs(args: &BuildArgs) -> Result<BuildOutputs, Failure> {
    let mut outputs = parse_outputs(&args.outputs).map_err(|error| Failure::usage(error.to_string()))?;
    if args.push {
        outputs.push(parse_output("type=registry").map_err(|error| Failure::usage(error.to_string()))?);
    }
    if args.load {
        outputs.push(Output::image_store());
    }
    check_destinations(&outputs, std::io::stdout().is_terminal())?;
    let cache_exports = parse_cache_entries(&args.cache_to, CacheDirection::Export)
        .map_err(|error| Failure::usage(error.to_string()))?;
    let mut cache_imports = parse_cache_entries(&args.cache_from, CacheDirection::Import)
        .map_err(|error| Failure::usage(error.to_string()))?;
    // The local cache folders are checked before the engine is reached, so
    // that a mistyped folder fails at once.
    resolve_local_caches(&cache_exports, &mut cache_imports).map_err(|error| Failure::io(error.to_string()))?;

    let mut exporter_attrs = BTreeMap::new();
    if let Some(epoch) = args.source_date_epoch {
        exporter_attrs.insert("source-date-epoch".to_string(), epoch.to_string());
        // BuildKit 0.13 clamps file times in the image layers to the epoch
        // only with rewrite-timestamp; without it a layer contains the times
        // of the build, so two builds differ.
        for output in outputs.iter_mut().filter(|output| output.takes_names()) {
            output
                .attrs
                .entry("rewrite-timestamp".to_string())
                .or_insert_with(|| "true".to_string());
        }
    }

    let frontend_attrs = attestation_attrs(&args.attestations)?;
    if !frontend_attrs.is_empty() {
        let archive = outputs.iter().any(|output| {
            matches!(output.kind, OutputKind::Image | OutputKind::Registry | OutputKind::Oci)
                || (output.kind == OutputKind::Docker && output.destination.is_some())
        });
        if !archive {
            return Err(Failure::usage(
                "--attest needs an output that keeps attestations: type=image, type=registry, type=oci or \
                 type=docker,dest=FILE; the engine's image store (the default output), type=local and type=tar \
                 drop them"
                    .to_string(),
            ));
        }
    }

    Ok(BuildOutputs {
        outputs,
        cache_exports,
        cache_imports,
        exporter_attrs,
        frontend_attrs,
    })
}

/// Checks the destinations that stagec writes before the build starts, so
/// that a path of the wrong kind or a terminal fails at once rather than
/// after the build.
fn check_destinations(outputs: &[Output], stdout_is_terminal: bool) -> Result<(), Failure> {
    for output in outputs {
        match &output.destination {
            Some(Destination::Stdout) if stdout_is_terminal => {
                return Err(Failure::usage(format!(
                    "--output type={},dest=-: standard output is a terminal, which cannot take a tarball; \
                     redirect standard output to a file or a pipe, or write dest=FILE",
                    output.kind
                )));
            }
            Some(Destination::Directory(path)) if path.exists() && !path.is_dir() => {
                return Err(Failure::usage(format!(
                    "--output type=local,dest={}: the destination is a file, but type=local writes a folder; \
                     choose a folder, or use type=tar,dest=FILE for a tarball",
                    path.display()
                )));
            }
            Some(Destination::File(path)) if path.is_dir() => {
                return Err(Failure::usage(format!(
                    "--output type={},dest={}: the destination is a folder, but type={} writes a file; \
                     name a file such as {}",
                    output.kind,
                    path.display(),
                    output.kind,
                    path.join("image.tar").display()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Returns the message for a build that the engine rejected because its
/// BuildKit lacks an exporter or cache backend, or `None` for other failures.
/// Docker Engine 26.1 with the classic image store registers only the
/// `moby`, `local` and `tar` exporters and the `inline` cache exporter.
pub(super) fn missing_backend_message(engine_message: &str) -> Option<String> {
    const CONTAINERD_STORE: &str = "run dockerd with the containerd image store (\"features\": \
        {\"containerd-snapshotter\": true} in daemon.json), which has them; see docs/outputs.md";
    if let Some(rest) = engine_message.split_once("exporter \"").map(|(_, rest)| rest)
        && engine_message.contains("could not be found")
    {
        let name = rest.split('"').next().unwrap_or_default();
        return Some(format!(
            "the engine's BuildKit has no `{name}` exporter: Docker Engine with the classic image store \
             exports only to its image store (type=docker), type=local and type=tar; {CONTAINERD_STORE}"
        ));
    }
    if let Some((_, name)) = engine_message.split_once("unknown cache exporter: ") {
        return Some(format!(
            "the engine's BuildKit cannot export a {} cache: Docker Engine with the classic image store \
             exports only type=inline; {CONTAINERD_STORE}",
            name.trim_matches('"')
        ));
    }
    None
}

/// Returns the message for a build that failed in a way that the user fixes
/// outside the spec: the engine lacks an exporter or cache backend, a push or
/// a registry cache export failed, or the SBOM generator image is missing.
/// Returns `None` for other failures.
pub(super) fn export_failure_message(failure: &SolveFailure, outputs: &BuildOutputs) -> Option<String> {
    if let Some(generator) = sbom_generator(&outputs.frontend_attrs)
        && failure
            .vertex
            .as_deref()
            .is_some_and(|vertex| vertex.contains(generator))
    {
        return Some(format!(
            "the SBOM generator image {generator} is not available to the engine: {}; load it into the \
             engine or a registry that the engine reaches, or name another with --attest type=sbom,generator=IMAGE",
            failure.message
        ));
    }
    if failure.vertex.is_none()
        && let Some(message) = missing_backend_message(&failure.message)
    {
        return Some(message);
    }
    // Only a registry cache fails with a request to a registry's /v2/ API.
    if failure
        .vertex
        .as_deref()
        .is_some_and(|vertex| vertex.starts_with("exporting cache"))
        && failure.message.contains("/v2/")
    {
        return Some(cache_export_failure_message(&failure.message));
    }
    push_failure_message(&failure.message)
}

/// Returns the image that `--attest type=sbom` runs, from the frontend
/// attribute `attest:sbom`.
fn sbom_generator(frontend_attrs: &BTreeMap<String, String>) -> Option<&str> {
    frontend_attrs
        .get("attest:sbom")?
        .split(',')
        .find_map(|field| field.strip_prefix("generator="))
}

/// Returns the message for a cache export that failed, as BuildKit reports
/// it: `error writing layer blob: ... Head "https://HOST/v2/...": DETAIL`.
fn cache_export_failure_message(engine_message: &str) -> String {
    let registry = engine_message
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once("/v2/"))
        .map_or("of --cache-to", |(host, _)| host);
    format!(
        "exporting the build cache failed: {engine_message}; {}",
        registry_fix(engine_message, registry, "--cache-to type=registry,ref=NAME")
    )
}

/// Returns the message for a push that BuildKit reported as `failed to push
/// NAME: DETAIL`, with the fix for the usual causes: no credentials, an
/// unreachable registry, or a registry that speaks plain HTTP.
fn push_failure_message(engine_message: &str) -> Option<String> {
    let (_, rest) = engine_message.split_once("failed to push ")?;
    let (name, detail) = rest.split_once(": ")?;
    let registry = registry_host(name);
    let other_registry_flag = "-t or --output type=image,name=NAME,push=true";
    Some(format!(
        "pushing {name} failed: {detail}; {}",
        registry_fix(detail, registry, other_registry_flag)
    ))
}

/// Returns what to do after a registry request of the engine failed with
/// `detail`; `other_registry_flag` names the flag that picks another registry.
fn registry_fix(detail: &str, registry: &str, other_registry_flag: &str) -> String {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("401 unauthorized")
        || lower.contains("403 forbidden")
        || lower.contains("authorization failed")
        || lower.contains("insufficient_scope")
    {
        format!(
            "the registry {registry} rejected the credentials; run `docker login {registry}`, or set \
             DOCKER_CONFIG to the folder whose config.json has credentials for it"
        )
    } else if lower.contains("connection refused")
        || lower.contains("no such host")
        || lower.contains("i/o timeout")
        || lower.contains("network is unreachable")
    {
        format!(
            "the engine could not reach the registry {registry}; check that it runs and that the engine \
             can reach it, or name another registry with {other_registry_flag}"
        )
    } else if lower.contains("http response to https client") {
        format!("the registry {registry} serves plain HTTP; add registry.insecure=true to the option")
    } else {
        "check the name and the registry, then build again".to_string()
    }
}

/// Returns the registry of an image reference as Docker reads it: the first
/// path component when it has a dot, a port or is `localhost`, else Docker Hub.
fn registry_host(name: &str) -> &str {
    match name.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// Returns the frontend attributes `attest:provenance` and `attest:sbom`,
/// which BuildKit's controller reads to attach the attestations.
fn attestation_attrs(values: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    let mut attrs = BTreeMap::new();
    for value in values {
        let invalid = |reason: String| Failure::usage(format!("--attest `{value}`: {reason}"));
        let fields = crate::engine::exporter::split_csv(value).map_err(|reason| invalid(reason.to_string()))?;
        let mut kind = None;
        let mut options = Vec::new();
        for field in fields {
            let (key, text) = field
                .split_once('=')
                .ok_or_else(|| invalid(format!("`{field}` is not key=value")))?;
            if key == "type" {
                kind = Some(text.to_string());
            } else {
                options.push((key.to_string(), text.to_string()));
            }
        }
        match kind.as_deref() {
            Some("provenance") => {
                if let Some((key, _)) = options.iter().find(|(key, _)| key != "mode" && key != "disabled") {
                    return Err(invalid(format!(
                        "unknown option `{key}`; type=provenance takes mode, disabled"
                    )));
                }
                if let Some((_, mode)) = options.iter().find(|(key, _)| key == "mode")
                    && mode != "min"
                    && mode != "max"
                {
                    return Err(invalid(format!("`mode={mode}` is invalid; write mode=min or mode=max")));
                }
                attrs.insert("attest:provenance".to_string(), join_options(&options));
            }
            Some("sbom") => {
                if let Some((key, _)) = options.iter().find(|(key, _)| key != "generator" && key != "disabled") {
                    return Err(invalid(format!(
                        "unknown option `{key}`; type=sbom takes generator, disabled"
                    )));
                }
                if !options.iter().any(|(key, _)| key == "generator") {
                    options.push(("generator".to_string(), DEFAULT_SBOM_GENERATOR.to_string()));
                }
                attrs.insert("attest:sbom".to_string(), join_options(&options));
            }
            Some(other) => return Err(invalid(format!("unknown type `{other}`; use provenance or sbom"))),
            None => {
                return Err(invalid(
                    "the type is missing; write type=provenance or type=sbom".to_string(),
                ));
            }
        }
    }
    Ok(attrs)
}

fn join_options(options: &[(String, String)]) -> String {
    let fields: Vec<String> = options.iter().map(|(key, value)| format!("{key}={value}")).collect();
    fields.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attest_provenance_and_sbom() {
        let attrs = attestation_attrs(&["type=provenance,mode=max".to_string(), "type=sbom".to_string()])
            .expect("valid attestations");
        assert_eq!(attrs["attest:provenance"], "mode=max");
        assert_eq!(attrs["attest:sbom"], format!("generator={DEFAULT_SBOM_GENERATOR}"));
    }

    #[test]
    fn missing_exporter_names_the_store() {
        let message = missing_backend_message("exporter \"oci\" could not be found").expect("an exporter error");
        assert!(message.contains("no `oci` exporter"), "{message}");
        assert!(message.contains("containerd-snapshotter"), "{message}");

        let message = missing_backend_message("unknown cache exporter: \"registry\"").expect("a cache error");
        assert!(message.contains("cannot export a registry cache"), "{message}");

        assert!(missing_backend_message("process did not complete successfully").is_none());
    }

    #[test]
    fn stdout_output_to_terminal() {
        let outputs = parse_outputs(&["-".to_string()]).expect("valid output");
        let failure = check_destinations(&outputs, true).expect_err("a terminal cannot take a tarball");
        let message = failure.message.unwrap_or_default();
        assert!(message.contains("standard output is a terminal"), "{message}");
        assert!(message.contains("redirect"), "{message}");
        assert!(check_destinations(&outputs, false).is_ok(), "a pipe takes the tarball");
    }

    #[test]
    fn local_dest_existing_file() {
        let work = tempfile::tempdir().expect("temp dir");
        let file = work.path().join("afile");
        std::fs::write(&file, "x").expect("write the file");
        let outputs = parse_outputs(&[format!("type=local,dest={}", file.display())]).expect("valid output");

        let failure = check_destinations(&outputs, false).expect_err("a file is no folder");
        let message = failure.message.unwrap_or_default();
        assert!(message.contains("the destination is a file"), "{message}");
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert_eq!(failure.code, 2);
    }

    #[test]
    fn tar_dest_existing_folder() {
        let work = tempfile::tempdir().expect("temp dir");
        let outputs = parse_outputs(&[format!("type=tar,dest={}", work.path().display())]).expect("valid output");

        let failure = check_destinations(&outputs, false).expect_err("a folder is no file");
        let message = failure.message.unwrap_or_default();
        assert!(message.contains("the destination is a folder"), "{message}");
        assert!(message.contains("image.tar"), "{message}");

        let new_file = work.path().join("new.tar");
        let outputs = parse_outputs(&[format!("type=tar,dest={}", new_file.display())]).expect("valid output");
        assert!(check_destinations(&outputs, false).is_ok());
    }

    #[test]
    fn push_wrong_credentials() {
        let failure = SolveFailure {
            vertex: Some("exporting to image".to_string()),
            message: "failed to push 127.0.0.1:5047/b4/app:2: unexpected status from HEAD request to \
                      http://127.0.0.1:5047/v2/b4/app/blobs/sha256:c8: 401 Unauthorized"
                .to_string(),
            last_logs: Vec::new(),
        };
        let message = export_failure_message(&failure, &BuildOutputs::default()).expect("a push error");
        assert!(message.contains("pushing 127.0.0.1:5047/b4/app:2 failed"), "{message}");
        assert!(message.contains("401 Unauthorized"), "{message}");
        assert!(message.contains("docker login 127.0.0.1:5047"), "{message}");
        assert!(message.contains("DOCKER_CONFIG"), "{message}");
    }

    #[test]
    fn push_registry_not_running() {
        let message = push_failure_message(
            "failed to push 127.0.0.1:5048/b4/app:1: failed to do request: Head \
             \"https://127.0.0.1:5048/v2/b4/app/blobs/sha256:88\": dial tcp 127.0.0.1:5048: connect: connection refused",
        )
        .expect("a push error");
        assert!(
            message.contains("could not reach the registry 127.0.0.1:5048"),
            "{message}"
        );
        assert!(!message.contains("fix the step"), "{message}");

        let message = push_failure_message("failed to push app:1: dial tcp: connection refused").expect("a push error");
        assert!(message.contains("registry docker.io"), "{message}");
    }

    #[test]
    fn cache_export_registry_not_running() {
        let failure = SolveFailure {
            vertex: Some("exporting cache to registry".to_string()),
            message: "error writing layer blob: failed to do request: Head \
                      \"https://127.0.0.1:5099/v2/b4/cache/blobs/sha256:3d\": dial tcp 127.0.0.1:5099: \
                      connect: connection refused"
                .to_string(),
            last_logs: Vec::new(),
        };
        let message = export_failure_message(&failure, &BuildOutputs::default()).expect("a cache export error");
        assert!(message.starts_with("exporting the build cache failed"), "{message}");
        assert!(
            message.contains("could not reach the registry 127.0.0.1:5099"),
            "{message}"
        );
        assert!(message.contains("--cache-to"), "{message}");
    }

    #[test]
    fn sbom_generator_not_available() {
        let outputs = BuildOutputs {
            frontend_attrs: attestation_attrs(&["type=sbom".to_string()]).expect("valid attestation"),
            ..BuildOutputs::default()
        };
        let failure = SolveFailure {
            vertex: Some(format!(
                "resolve image config for docker-image://docker.io/{DEFAULT_SBOM_GENERATOR}"
            )),
            message: "failed to resolve source metadata: connect: connection refused".to_string(),
            last_logs: Vec::new(),
        };

        let message = export_failure_message(&failure, &outputs).expect("an SBOM generator error");
        assert!(
            message.contains(&format!("generator image {DEFAULT_SBOM_GENERATOR}")),
            "{message}"
        );
        assert!(message.contains("connection refused"), "{message}");
        assert!(message.contains("generator=IMAGE"), "{message}");
        assert!(
            export_failure_message(&failure, &BuildOutputs::default()).is_none(),
            "without --attest the vertex is the spec's"
        );
    }

    #[test]
    fn push_failure_other_messages() {
        assert!(push_failure_message("process did not complete successfully").is_none());
        let message = push_failure_message(
            "failed to push example.com:5000/app:1: http: server gave HTTP response to HTTPS client",
        )
        .expect("a push error");
        assert!(message.contains("registry.insecure=true"), "{message}");
    }

    #[test]
    fn source_date_epoch_invalid_values() {
        assert_eq!(parse_source_date_epoch("0"), Ok(0));
        assert_eq!(parse_source_date_epoch("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_source_date_epoch("253402300799"), Ok(MAX_SOURCE_DATE_EPOCH));

        for (value, expected) in [
            ("", "not a number of seconds"),
            ("abc", "not a number of seconds"),
            ("-5", "not a number of seconds"),
            ("1.5", "not a number of seconds"),
            ("253402300800", "after the year 9999"),
            ("18446744073709551615", "after the year 9999"),
            ("99999999999999999999", "not a number of seconds"),
        ] {
            let message = parse_source_date_epoch(value).expect_err(value);
            assert!(message.contains(expected), "{value}: {message}");
            assert!(message.contains(&format!("`{value}`")), "{value}: {message}");
        }
    }

    #[test]
    fn attest_invalid_values() {
        for invalid in [
            "type=vex",
            "mode=max",
            "type=provenance,mode=all",
            "type=sbom,scanner=x",
        ] {
            assert!(attestation_attrs(&[invalid.to_string()]).is_err(), "{invalid}");
        }
    }
}
