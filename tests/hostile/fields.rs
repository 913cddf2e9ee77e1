//! The fields that reach output: how a value goes into each, and where it
//! must appear in the built image.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::image::Entry;
use crate::table::{Hostile, clean_path, interpolated, kdl_string, usable_file_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    FileContent,
    CopySource,
    CopyDestination,
    EnvValue,
    EnvName,
    LabelValue,
    LabelKey,
    ArgDefault,
    CmdArgs,
    EntrypointArgs,
    HealthcheckArgs,
    RunText,
    RunExecArgs,
    RunEnvValue,
    Volume,
    Expose,
    // One value per image from here on.
    Workdir,
    User,
    EntrypointShell,
    CmdShell,
    HealthcheckShell,
    StopSignal,
    ImageTag,
}

impl Field {
    pub const ALL: [Field; 23] = [
        Field::FileContent,
        Field::CopySource,
        Field::CopyDestination,
        Field::EnvValue,
        Field::EnvName,
        Field::LabelValue,
        Field::LabelKey,
        Field::ArgDefault,
        Field::CmdArgs,
        Field::EntrypointArgs,
        Field::HealthcheckArgs,
        Field::RunText,
        Field::RunExecArgs,
        Field::RunEnvValue,
        Field::Volume,
        Field::Expose,
        Field::Workdir,
        Field::User,
        Field::EntrypointShell,
        Field::CmdShell,
        Field::HealthcheckShell,
        Field::StopSignal,
        Field::ImageTag,
    ];

    /// Whether an image holds one value of the field only.
    fn single(self) -> bool {
        self >= Field::Workdir
    }
}

/// The values (by index in the table) that each field accepted.
#[derive(Debug, Default)]
pub struct Accepted(BTreeMap<Field, BTreeSet<usize>>);

impl Accepted {
    pub fn add(&mut self, field: Field, index: usize) {
        self.0.entry(field).or_default().insert(index);
    }

    pub fn indexes(&self, field: Field) -> Vec<usize> {
        self.0
            .get(&field)
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default()
    }

    fn has(&self, field: Field, index: usize) -> bool {
        self.0.get(&field).is_some_and(|set| set.contains(&index))
    }
}

/// Single-quotes `text` for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn copy_destination(index: usize, value: &str) -> String {
    // Deep enough that `..` in the table stays inside this value's directory.
    format!("/hostile/dest/{index}/a/b/c/{value}")
}

fn workdir(value: &str) -> String {
    format!("/hostile/workdir/a/b/c/{value}")
}

fn volume(index: usize, value: &str) -> String {
    format!("/hostile-volume/{index}/a/b/c/{value}")
}

/// Spec lines for `value` (at `index` in the table) in `field`: top-level
/// lines, lines inside the stage, and the image tag.
struct Lines {
    top: Vec<String>,
    stage: Vec<String>,
    tag: Option<String>,
}

fn lines(field: Field, index: usize, value: &str) -> Lines {
    let quoted = kdl_string(value);
    let mut lines = Lines {
        top: Vec::new(),
        stage: Vec::new(),
        tag: None,
    };
    match field {
        Field::FileContent => lines
            .stage
            .push(format!("copy \"content-{index}\" to=\"/hostile/content/\"")),
        Field::CopySource => lines
            .stage
            .push(format!("copy {quoted} to=\"/hostile/source/{index}/\"")),
        Field::CopyDestination => lines.stage.push(format!(
            "copy \"payload\" to={}",
            kdl_string(&copy_destination(index, value))
        )),
        Field::EnvValue => lines.stage.push(format!("env \"HOSTILE_VALUE_{index}\"={quoted}")),
        Field::EnvName => lines.stage.push(format!("env {quoted}=\"name-{index}\"")),
        Field::LabelValue => lines
            .stage
            .push(format!("label \"org.hostile.value-{index}\"={quoted}")),
        Field::LabelKey => lines.stage.push(format!("label {quoted}=\"key-{index}\"")),
        Field::ArgDefault => {
            lines.top.push(format!("arg \"HOSTILE_ARG_{index}\" default={quoted}"));
            lines
                .stage
                .push(format!("env \"FROM_ARG_{index}\"=\"${{HOSTILE_ARG_{index}}}\""));
        }
        Field::CmdArgs => lines.stage.push(format!("cmd {quoted}")),
        Field::EntrypointArgs => lines.stage.push(format!("entrypoint {quoted}")),
        Field::HealthcheckArgs => lines.stage.push(format!("healthcheck {quoted}")),
        Field::RunText => lines
            .stage
            .push(format!("run {}", kdl_string(&run_text(&[(index, value)])))),
        Field::RunExecArgs => lines.stage.push(run_exec(&[value])),
        Field::RunEnvValue => lines.stage.push(run_env(&[(index, value)])),
        Field::Volume => lines
            .stage
            .push(format!("volume {}", kdl_string(&volume(index, value)))),
        Field::Expose => lines.stage.push(format!("expose {quoted}")),
        Field::Workdir => lines.stage.push(format!("workdir {}", kdl_string(&workdir(value)))),
        Field::User => lines.stage.push(format!("user {quoted}")),
        Field::EntrypointShell => lines.stage.push(format!("entrypoint shell={quoted}")),
        Field::CmdShell => lines.stage.push(format!("cmd shell={quoted}")),
        Field::HealthcheckShell => lines.stage.push(format!("healthcheck shell={quoted}")),
        Field::StopSignal => lines.stage.push(format!("stopsignal {quoted}")),
        Field::ImageTag => lines.tag = Some(value.to_string()),
    }
    lines
}

/// A shell script that writes each value to `/hostile/run/INDEX`.
fn run_text(values: &[(usize, &str)]) -> String {
    let mut script = String::from("mkdir -p /hostile/run");
    for (index, value) in values {
        script.push_str(&format!("\nprintf '%s' {} > /hostile/run/{index}", shell_quote(value)));
    }
    script
}

/// An exec-form run that writes its Nth argument to `/hostile/exec/N`.
fn run_exec(values: &[&str]) -> String {
    let script =
        "mkdir -p /hostile/exec; n=0; for v in \"$@\"; do printf '%s' \"$v\" > /hostile/exec/$n; n=$((n+1)); done";
    let mut line = format!("run \"/bin/sh\" \"-c\" {} \"sh\"", kdl_string(script));
    for value in values {
        line.push(' ');
        line.push_str(&kdl_string(value));
    }
    line
}

/// A run whose env children carry the values, written to `/hostile/runenv/INDEX`.
fn run_env(values: &[(usize, &str)]) -> String {
    let mut script = String::from("mkdir -p /hostile/runenv");
    for (index, _) in values {
        script.push_str(&format!(
            " && printf '%s' \"$HOSTILE_RUN_{index}\" > /hostile/runenv/{index}"
        ));
    }
    let mut line = format!("run {} {{\n", kdl_string(&script));
    for (index, value) in values {
        line.push_str(&format!("        env \"HOSTILE_RUN_{index}\"={}\n", kdl_string(value)));
    }
    line.push_str("    }");
    line
}

fn render(top: &[String], stages: &[(String, Vec<String>, String)]) -> String {
    let mut source = String::new();
    for line in top {
        source.push_str(line);
        source.push('\n');
    }
    for (name, lines, _) in stages {
        source.push_str(&format!("\nstage \"{name}\" from=\"alpine:3\" {{\n"));
        for line in lines {
            source.push_str(&format!("    {line}\n"));
        }
        source.push_str("}\n");
    }
    source.push('\n');
    for (position, (name, _, tag)) in stages.iter().enumerate() {
        let default = if position == 0 && stages.len() > 1 {
            " default=#true"
        } else {
            ""
        };
        source.push_str(&format!("image \"{name}\" tag={}{default}\n", kdl_string(tag)));
    }
    source
}

/// A spec with `value` in `field` and nothing else hostile.
pub fn single_value_spec(field: Field, index: usize, value: &str) -> String {
    let lines = lines(field, index, value);
    let tag = lines.tag.unwrap_or_else(|| "hostile:check".to_string());
    render(&lines.top, &[("app".to_string(), lines.stage, tag)])
}

/// The spec that holds every accepted value, the files of its context,
/// and the stages to build.
pub struct Batch {
    pub source: String,
    pub context_files: Vec<(String, Vec<u8>)>,
    pub stages: Vec<String>,
}

pub fn batch_spec(accepted: &Accepted, values: &[Hostile]) -> Batch {
    let mut top = Vec::new();
    let mut app = Vec::new();
    let mut context_files = vec![("payload".to_string(), b"payload\n".to_vec())];
    let value = |index: usize| values[index].value.as_str();

    for field in Field::ALL.into_iter().filter(|field| !field.single()) {
        let indexes = accepted.indexes(field);
        match field {
            Field::FileContent => {
                for &index in &indexes {
                    context_files.push((format!("content-{index}"), value(index).as_bytes().to_vec()));
                }
            }
            Field::CopySource => {
                for &index in &indexes {
                    if usable_file_name(value(index)) {
                        context_files.push((value(index).to_string(), format!("source {index}").into_bytes()));
                    } else {
                        continue;
                    }
                }
            }
            _ => {}
        }
        match field {
            // One node takes all values, so that one op or config field holds them.
            Field::CmdArgs | Field::EntrypointArgs | Field::HealthcheckArgs if !indexes.is_empty() => {
                let node = match field {
                    Field::CmdArgs => "cmd",
                    Field::EntrypointArgs => "entrypoint",
                    _ => "healthcheck",
                };
                let arguments: Vec<String> = indexes.iter().map(|&index| kdl_string(value(index))).collect();
                app.push(format!("{node} {}", arguments.join(" ")));
            }
            Field::RunText if !indexes.is_empty() => {
                let pairs: Vec<(usize, &str)> = indexes.iter().map(|&index| (index, value(index))).collect();
                app.push(format!("run {}", kdl_string(&run_text(&pairs))));
            }
            Field::RunExecArgs if !indexes.is_empty() => {
                let list: Vec<&str> = indexes.iter().map(|&index| value(index)).collect();
                app.push(run_exec(&list));
            }
            Field::RunEnvValue if !indexes.is_empty() => {
                let pairs: Vec<(usize, &str)> = indexes.iter().map(|&index| (index, value(index))).collect();
                app.push(run_env(&pairs));
            }
            Field::CmdArgs | Field::EntrypointArgs | Field::HealthcheckArgs | Field::RunText => {}
            Field::RunExecArgs | Field::RunEnvValue => {}
            Field::CopySource => {
                for &index in indexes.iter().filter(|&&index| usable_file_name(value(index))) {
                    app.extend(lines(field, index, value(index)).stage);
                }
            }
            _ => {
                for &index in &indexes {
                    let lines = lines(field, index, value(index));
                    top.extend(lines.top);
                    app.extend(lines.stage);
                }
            }
        }
    }
    // The entry point clears the command, so it comes first.
    app.sort_by_key(|line| !line.starts_with("entrypoint"));

    let mut stages = vec![("app".to_string(), app, "stagec-hostile/app:spec".to_string())];
    for index in 0..values.len() {
        let mut lines_of_value = Vec::new();
        let mut tag = format!("stagec-hostile/single-{index}:spec");
        for field in Field::ALL
            .into_iter()
            .filter(|field| field.single() && accepted.has(*field, index))
        {
            let lines = lines(field, index, value(index));
            lines_of_value.extend(lines.stage);
            if let Some(accepted_tag) = lines.tag {
                tag = accepted_tag;
            }
        }
        if !lines_of_value.is_empty() {
            lines_of_value.sort_by_key(|line| !line.starts_with("entrypoint"));
            stages.push((format!("single-{index}"), lines_of_value, tag));
        }
    }
    Batch {
        source: render(&top, &stages),
        context_files,
        stages: stages.into_iter().map(|(name, _, _)| name).collect(),
    }
}

/// Whether a written path names a directory: it ends with `/`, `/.` or `/..`.
fn names_directory(written: &str) -> bool {
    written.ends_with('/') || written.ends_with("/.") || written.ends_with("/..")
}

fn env_of(config: &Value) -> BTreeMap<String, String> {
    config["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|entry| entry.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| item.as_str().unwrap_or("<not a string>").to_string())
        .collect()
}

fn file_content(files: &BTreeMap<Vec<u8>, Entry>, path: &str) -> Option<Vec<u8>> {
    match files.get(path.as_bytes()) {
        Some(Entry::File(content)) => Some(content.clone()),
        _ => None,
    }
}

/// Names a value in a failure message without printing 100 kB of it.
fn show(values: &[Hostile], index: usize) -> String {
    format!("value {index} ({})", values[index].name)
}

/// Returns what did not land as written in the image of `stage`.
pub fn verify(
    accepted: &Accepted,
    values: &[Hostile],
    stage: &str,
    config: &Value,
    files: &BTreeMap<Vec<u8>, Entry>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if files.contains_key(b"/injected".as_slice()) {
        problems.push("a value ran a command: /injected exists".to_string());
    }
    let env = env_of(config);
    let mut expect = |ok: bool, field: Field, index: usize, what: String| {
        if !ok {
            problems.push(format!("{field:?}, {}: {what}", show(values, index)));
        }
    };

    if let Some(index) = stage
        .strip_prefix("single-")
        .and_then(|index| index.parse::<usize>().ok())
    {
        let value = values[index].value.as_str();
        for field in Field::ALL
            .into_iter()
            .filter(|field| field.single() && accepted.has(*field, index))
        {
            let (ok, found) = match field {
                Field::Workdir => {
                    let written = interpolated(&workdir(value));
                    let cleaned = clean_path(&written);
                    let is_dir = files.get(cleaned.as_bytes()) == Some(&Entry::Dir);
                    // The image config keeps a final `/`, as Docker's WORKDIR does.
                    let expected = if names_directory(&written) {
                        format!("{cleaned}/")
                    } else {
                        cleaned
                    };
                    (
                        config["WorkingDir"] == expected.as_str() && is_dir,
                        config["WorkingDir"].clone(),
                    )
                }
                Field::User => (config["User"] == interpolated(value).as_str(), config["User"].clone()),
                Field::EntrypointShell => (
                    strings(&config["Entrypoint"]) == ["/bin/sh", "-c", value],
                    config["Entrypoint"].clone(),
                ),
                Field::CmdShell => (
                    strings(&config["Cmd"]) == ["/bin/sh", "-c", value],
                    config["Cmd"].clone(),
                ),
                // stagec writes the shell form with the stage's shell, as an exec form.
                Field::HealthcheckShell => (
                    strings(&config["Healthcheck"]["Test"]) == ["CMD", "/bin/sh", "-c", value],
                    config["Healthcheck"].clone(),
                ),
                Field::StopSignal => (config["StopSignal"] == value, config["StopSignal"].clone()),
                // The tag names the image `stagec build` writes; the test tags its own.
                _ => (true, Value::Null),
            };
            expect(ok, field, index, format!("found {found}"));
        }
        return problems;
    }

    let labels = &config["Labels"];
    for field in Field::ALL.into_iter().filter(|field| !field.single()) {
        let indexes = accepted.indexes(field);
        for (position, &index) in indexes.iter().enumerate() {
            let value = values[index].value.as_str();
            let (ok, what) = match field {
                Field::FileContent => {
                    let found = file_content(files, &format!("/hostile/content/content-{index}"));
                    (
                        found.as_deref() == Some(value.as_bytes()),
                        "file content differs".to_string(),
                    )
                }
                Field::CopySource if usable_file_name(value) => {
                    let found = file_content(files, &format!("/hostile/source/{index}/{value}"));
                    (
                        found == Some(format!("source {index}").into_bytes()),
                        "the copied file is missing".to_string(),
                    )
                }
                Field::CopyDestination => {
                    let written = interpolated(&copy_destination(index, value));
                    let mut path = clean_path(&written);
                    if names_directory(&written) {
                        path.push_str("/payload");
                    }
                    let found = file_content(files, &path);
                    (
                        found.as_deref() == Some(b"payload\n".as_slice()),
                        format!("no file at {path:?}"),
                    )
                }
                Field::EnvValue => {
                    let found = env.get(&format!("HOSTILE_VALUE_{index}"));
                    (
                        found.map(String::as_str) == Some(&interpolated(value)),
                        format!("env is {found:?}"),
                    )
                }
                Field::EnvName => {
                    let found = env.get(value);
                    (
                        found.map(String::as_str) == Some(&format!("name-{index}")),
                        format!("env is {found:?}"),
                    )
                }
                Field::LabelValue => {
                    let found = &labels[format!("org.hostile.value-{index}")];
                    (*found == interpolated(value).as_str(), format!("label is {found}"))
                }
                Field::LabelKey => {
                    let found = &labels[value];
                    (*found == format!("key-{index}").as_str(), format!("label is {found}"))
                }
                Field::ArgDefault => {
                    let found = env.get(&format!("FROM_ARG_{index}"));
                    (found.map(String::as_str) == Some(value), format!("env is {found:?}"))
                }
                Field::CmdArgs => (
                    strings(&config["Cmd"]).get(position).map(String::as_str) == Some(value),
                    "cmd argument differs".to_string(),
                ),
                Field::EntrypointArgs => (
                    strings(&config["Entrypoint"]).get(position).map(String::as_str) == Some(value),
                    "entrypoint argument differs".to_string(),
                ),
                Field::HealthcheckArgs => (
                    strings(&config["Healthcheck"]["Test"])
                        .get(position + 1)
                        .map(String::as_str)
                        == Some(value),
                    "healthcheck argument differs".to_string(),
                ),
                Field::RunText => {
                    let found = file_content(files, &format!("/hostile/run/{index}"));
                    (
                        found.as_deref() == Some(value.as_bytes()),
                        "the script wrote other text".to_string(),
                    )
                }
                Field::RunExecArgs => {
                    let found = file_content(files, &format!("/hostile/exec/{position}"));
                    (
                        found.as_deref() == Some(value.as_bytes()),
                        "the argument arrived changed".to_string(),
                    )
                }
                Field::RunEnvValue => {
                    let found = file_content(files, &format!("/hostile/runenv/{index}"));
                    (
                        found.as_deref() == Some(value.as_bytes()),
                        "the env value arrived changed".to_string(),
                    )
                }
                Field::Volume => {
                    let expected = interpolated(&volume(index, value));
                    let found = config["Volumes"].get(&expected).is_some();
                    (found, format!("volumes are {}", config["Volumes"]))
                }
                Field::Expose => {
                    let found = config["ExposedPorts"].as_object().is_some_and(|ports| {
                        ports
                            .keys()
                            .any(|port| port == value || *port == format!("{value}/tcp"))
                    });
                    (found, format!("ports are {}", config["ExposedPorts"]))
                }
                _ => (true, String::new()),
            };
            expect(ok, field, index, what);
        }
    }
    problems
}
