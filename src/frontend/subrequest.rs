//! Subrequests: what `docker buildx build --print outline|targets` (buildx
//! 0.13; `--call` in later releases) requests from a frontend instead of a build.
//! The result has no reference, only metadata: `result.json` in the JSON
//! shape of BuildKit's frontend/subrequests types, `result.txt` for
//! printing, and `version` (BuildKit v0.13, frontend/dockerui/requests.go).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use super::errors::{RangeJson, range_json};
use super::options::{REQUEST_DESCRIBE, REQUEST_OUTLINE, REQUEST_TARGETS};
use crate::diag::Span;
use crate::model::{MountKind, Spec, StepKind};

/// Version of every subrequest that stagec handles.
const SUBREQUEST_VERSION: &str = "1.0.0";

/// Result metadata of a subrequest.
pub type SubrequestResult = BTreeMap<String, Vec<u8>>;

/// Returns whether stagec handles the subrequest `request_id`.
pub fn is_known(request_id: &str) -> bool {
    [REQUEST_DESCRIBE, REQUEST_OUTLINE, REQUEST_TARGETS].contains(&request_id)
}

#[derive(Debug, Serialize)]
struct Request {
    name: &'static str,
    version: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    description: &'static str,
    opts: Vec<Named>,
    inputs: Vec<Named>,
    metadata: Vec<Named>,
    refs: Vec<Named>,
}

#[derive(Debug, Serialize)]
struct Named {
    name: &'static str,
    description: &'static str,
}

fn request(name: &'static str, description: &'static str, opts: Vec<Named>) -> Request {
    Request {
        name,
        version: SUBREQUEST_VERSION,
        kind: "rpc",
        description,
        opts,
        inputs: Vec::new(),
        metadata: vec![
            Named {
                name: "result.json",
                description: "",
            },
            Named {
                name: "result.txt",
                description: "",
            },
        ],
        refs: Vec::new(),
    }
}

/// Returns the result of `frontend.subrequests.describe`: the subrequests that stagec handles.
pub fn describe() -> SubrequestResult {
    let requests = vec![
        request(
            REQUEST_OUTLINE,
            "List all parameters current build target supports",
            vec![Named {
                name: "target",
                description: "Target build stage",
            }],
        ),
        request(REQUEST_TARGETS, "List all targets current build supports", Vec::new()),
        request(REQUEST_DESCRIBE, "List available subrequest types", Vec::new()),
    ];
    let mut text = String::from("NAME                 VERSION DESCRIPTION\n");
    for request in &requests {
        let name = request.name.trim_start_matches("frontend.");
        text.push_str(&format!("{name:<20} {:<7} {}\n", request.version, request.description));
    }
    result(&requests, text)
}

/// Location of a spec value, in the JSON shape of `pb.Location`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    source_index: i32,
    ranges: Vec<RangeJson>,
}

fn location(source: &str, span: Span) -> Location {
    Location {
        source_index: 0,
        ranges: vec![range_json(source, span)],
    }
}

#[derive(Debug, Serialize)]
struct Outline {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<OutlineArg>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<OutlineSecret>,
    sources: Vec<String>,
}

#[derive(Debug, Serialize)]
struct OutlineArg {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    location: Location,
}

#[derive(Debug, Serialize)]
struct OutlineSecret {
    name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    required: bool,
    location: Location,
}

/// Returns the result of `frontend.outline`: the spec's build args, global and of every
/// stage, with their defaults (overridden by `build-arg:` options), and its
/// secrets. A secret is required when its declaration or one of its mounts
/// is required. The outline names the `target` option, else the default stage.
pub fn outline(
    spec: &Spec,
    source: &str,
    target: Option<&str>,
    build_args: &BTreeMap<String, String>,
) -> SubrequestResult {
    let stage_args = spec
        .stages
        .iter()
        .flat_map(|stage| &stage.steps)
        .filter_map(|step| match &step.kind {
            StepKind::Arg(arg) => Some(arg),
            _ => None,
        });
    let mut args: Vec<OutlineArg> = Vec::new();
    for arg in spec.args.iter().chain(stage_args) {
        let default = arg.default.as_ref().map(|default| default.value.clone());
        if let Some(listed) = args.iter_mut().find(|listed| listed.name == arg.name.value) {
            // A stage's `arg "NAME"` without a default reuses the global default.
            if listed.value.is_none() {
                listed.value = default;
            }
            continue;
        }
        args.push(OutlineArg {
            name: arg.name.value.clone(),
            value: build_args.get(&arg.name.value).cloned().or(default),
            location: location(source, arg.span),
        });
    }

    let mounted_required = |id: &str| {
        spec.stages
            .iter()
            .flat_map(|stage| &stage.steps)
            .filter_map(|step| match &step.kind {
                StepKind::Run(run) => Some(&run.mounts),
                _ => None,
            })
            .flatten()
            .any(|mount| matches!(&mount.kind, MountKind::Secret { id: mounted, required: true, .. } if mounted.value == id))
    };
    let secrets: Vec<OutlineSecret> = spec
        .secrets
        .iter()
        .map(|secret| OutlineSecret {
            name: secret.name.value.clone(),
            required: secret.required || mounted_required(&secret.name.value),
            location: location(source, secret.span),
        })
        .collect();

    let target = target.map(str::to_string).or_else(|| default_stage(spec));
    let target = target.as_deref();

    let mut text = String::new();
    if let Some(target) = target {
        text.push_str(&format!("TARGET: {target}\n\n"));
    }
    if !args.is_empty() {
        let width = args
            .iter()
            .map(|arg| arg.name.len())
            .max()
            .unwrap_or(0)
            .max("BUILD ARG".len());
        text.push_str(&format!("{:<width$}   VALUE\n", "BUILD ARG"));
        for arg in &args {
            text.push_str(&format!(
                "{:<width$}   {}\n",
                arg.name,
                arg.value.as_deref().unwrap_or("")
            ));
        }
        text.push('\n');
    }
    if !secrets.is_empty() {
        let width = secrets
            .iter()
            .map(|secret| secret.name.len())
            .max()
            .unwrap_or(0)
            .max("SECRET".len());
        text.push_str(&format!("{:<width$}   REQUIRED\n", "SECRET"));
        for secret in &secrets {
            let required = if secret.required { "true" } else { "" };
            text.push_str(&format!("{:<width$}   {required}\n", secret.name));
        }
        text.push('\n');
    }

    let outline = Outline {
        name: target.map(str::to_string),
        description: None,
        args,
        secrets,
        sources: vec![encoded(source)],
    };
    result(&outline, text)
}

#[derive(Debug, Serialize)]
struct TargetList {
    targets: Vec<Target>,
    sources: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Target {
    name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    default: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    base: String,
    location: Location,
}

/// Answers `frontend.targets`: every stage, with the tags of the images
/// that export it. The default target is the image with `default=#true`,
/// else the only image.
pub fn targets(spec: &Spec, source: &str) -> SubrequestResult {
    let default_stage = default_stage(spec);

    let targets: Vec<Target> = spec
        .stages
        .iter()
        .map(|stage| {
            let tags: Vec<String> = spec
                .images
                .iter()
                .filter(|image| image.stage.value == stage.name.value)
                .flat_map(|image| image.tags.iter().map(|tag| tag.value.clone()))
                .collect();
            let description = if tags.is_empty() {
                String::new()
            } else {
                format!("image {}", tags.join(", "))
            };
            Target {
                name: stage.name.value.clone(),
                default: default_stage.as_deref() == Some(stage.name.value.as_str()),
                description,
                base: base_text(source, stage.base_span),
                location: location(source, stage.name.span),
            }
        })
        .collect();

    let width = targets
        .iter()
        .map(|target| target.name.len() + 10)
        .max()
        .unwrap_or(0)
        .max("TARGET".len());
    let mut text = format!("{:<width$} DESCRIPTION\n", "TARGET");
    for target in &targets {
        let name = if target.default {
            format!("{} (default)", target.name)
        } else {
            target.name.clone()
        };
        text.push_str(&format!("{name:<width$} {}\n", target.description));
    }

    let list = TargetList {
        targets,
        sources: vec![encoded(source)],
    };
    result(&list, text)
}

/// Returns the stage of the image with `default=#true`, else of the only image.
fn default_stage(spec: &Spec) -> Option<String> {
    spec.images
        .iter()
        .find(|image| image.default)
        .or_else(|| (spec.images.len() == 1).then(|| &spec.images[0]))
        .map(|image| image.stage.value.clone())
}

/// Returns the `from=` value as written, without quotes.
fn base_text(source: &str, span: Span) -> String {
    let text = source.get(span.start..span.end()).unwrap_or("");
    let value = text.split_once('=').map_or(text, |(_, value)| value);
    value.trim_matches('"').to_string()
}

/// Encodes the spec as Go's `encoding/json` writes a `[]byte`.
fn encoded(source: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(source.as_bytes())
}

fn result(value: &impl Serialize, text: String) -> SubrequestResult {
    let json = serde_json::to_vec_pretty(value).expect("a subrequest result serializes to JSON");
    BTreeMap::from([
        ("result.json".to_string(), json),
        ("result.txt".to_string(), text.into_bytes()),
        ("version".to_string(), SUBREQUEST_VERSION.as_bytes().to_vec()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"arg "GO" default="1.19"
secret "token" required=#true
stage "builder" from="golang:${GO}" {
    run "go version" network="none"
    artifact "app" path="/app" kind="file"
}
stage "runtime" from="alpine:3" {
    copy artifact="app" from="builder" to="/app"
}
image "runtime" tag="app:1"
"#;

    fn spec() -> Spec {
        let compilation = crate::compile::check(SPEC);
        assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
        compilation.spec.expect("a spec")
    }

    fn json(result: &SubrequestResult) -> serde_json::Value {
        serde_json::from_slice(&result["result.json"]).expect("result.json is JSON")
    }

    #[test]
    fn outline_lists_args_and_secrets() {
        let overrides = BTreeMap::from([("GO".to_string(), "1.20".to_string())]);
        let result = outline(&spec(), SPEC, None, &overrides);
        let value = json(&result);
        assert_eq!(value["args"][0]["name"], "GO");
        assert_eq!(value["args"][0]["value"], "1.20");
        assert_eq!(value["args"][0]["location"]["ranges"][0]["start"]["line"], 1);
        assert_eq!(value["secrets"][0]["name"], "token");
        assert_eq!(value["secrets"][0]["required"], true);
        let text = String::from_utf8(result["result.txt"].clone()).expect("UTF-8");
        assert!(text.contains("GO          1.20"), "{text}");
        assert_eq!(result["version"], b"1.0.0");
    }

    #[test]
    fn outline_lists_stage_args_and_mounted_secrets() {
        let source = r#"arg "MSG" default="hello"
secret "tok"
stage "app" from="alpine:3" {
    arg "MSG"
    arg "LEVEL" default="2"
    run "cat /run/secrets/tok" {
        secret "tok"
    }
}
image "app" tag="app:1"
"#;
        let compilation = crate::compile::check(source);
        assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
        let spec = compilation.spec.expect("a spec");
        let overrides = BTreeMap::from([("LEVEL".to_string(), "3".to_string())]);
        let value = json(&outline(&spec, source, None, &overrides));

        let args = value["args"].as_array().expect("a list");
        assert_eq!(args.len(), 2, "MSG once: {args:?}");
        assert_eq!(args[0]["name"], "MSG");
        assert_eq!(args[0]["value"], "hello");
        assert_eq!(args[1]["name"], "LEVEL");
        assert_eq!(args[1]["value"], "3");
        assert_eq!(
            value["secrets"][0]["required"], true,
            "the mount is required by default"
        );
        assert_eq!(value["name"], "app", "the default stage");
    }

    #[test]
    fn targets_mark_default_image() {
        let value = json(&targets(&spec(), SPEC));
        let list = value["targets"].as_array().expect("a list");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["name"], "builder");
        assert_eq!(list[0]["base"], "golang:${GO}");
        assert!(list[0].get("default").is_none());
        assert_eq!(list[1]["name"], "runtime");
        assert_eq!(list[1]["default"], true);
        assert_eq!(list[1]["description"], "image app:1");
        assert_eq!(list[1]["location"]["ranges"][0]["start"]["line"], 7);
    }

    #[test]
    fn describe_lists_subrequests() {
        let value = json(&describe());
        let names: Vec<&str> = value
            .as_array()
            .expect("a list")
            .iter()
            .map(|request| request["name"].as_str().expect("a name"))
            .collect();
        assert_eq!(names, [REQUEST_OUTLINE, REQUEST_TARGETS, REQUEST_DESCRIBE]);
        assert!(is_known(REQUEST_TARGETS));
        assert!(!is_known("frontend.lint"));
    }
}
