//! The output, cache, reproducibility and attestation flags of `stagec
//! build`, checked and turned into the parts of a solve request.

use std::collections::BTreeMap;

use super::Failure;
use super::args::BuildArgs;
use crate::engine::cache::{CacheDirection, CacheEntry, parse_cache_entries, resolve_local_caches};
use crate::engine::exporter::{Output, OutputKind, parse_output, parse_outputs};

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

/// Checks the output flags of `args`.
pub(super) fn parse_build_outputs(args: &BuildArgs) -> Result<BuildOutputs, Failure> {
    let mut outputs = parse_outputs(&args.outputs).map_err(|error| Failure::usage(error.to_string()))?;
    if args.push {
        outputs.push(parse_output("type=registry").map_err(|error| Failure::usage(error.to_string()))?);
    }
    if args.load {
        outputs.push(Output::image_store());
    }
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
