//! Golden LLB for every example under specs/examples/: the `--format json`
//! dump of each image output's and check stage's definition, whose op
//! digests change when any byte of an op changes. Each example has a
//! committed lock file, written by `stagec lock` from the test engine's
//! alpine:3 and golang:1.19 (scripts/base-images.sh), so the digests also
//! pin those images' configuration.
//!
//! After an intended change, review the new output with
//! `INSTA_UPDATE=new cargo test --test llb` and accept the `.snap.new` files.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use stagec::compile;
use stagec::llb::lower::{LlbBuild, LlbOptions, lower as lower_llb};
use stagec::llb::{NetworkMode, SourceInfo, json};
use stagec::lock::{LockFile, LockNames, Platforms, base_images, check_lock, lock_path, spec_images_digest};
use stagec::lower::{LowerOptions, lower};
use stagec::model::Platform;

/// Examples without a lock file: no image of their builder exists offline,
/// so `stagec lock` cannot resolve it and their LLB is not checked here.
const UNLOCKED_EXAMPLES: [&str; 1] = ["rust-cross"];

fn examples() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs/examples");
    let mut specs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("reading {}: {error}", root.display()))
        .map(|entry| entry.expect("a directory entry").path().join("app.kdl"))
        .filter(|path| path.is_file())
        .filter(|path| !UNLOCKED_EXAMPLES.contains(&example_name(path).as_str()))
        .collect();
    specs.sort();
    assert!(!specs.is_empty(), "no examples under {}", root.display());
    specs
}

fn example_name(spec: &Path) -> String {
    spec.parent()
        .and_then(Path::file_name)
        .expect("an example directory")
        .to_string_lossy()
        .into_owned()
}

fn platforms() -> Platforms {
    let amd64 = Platform::parse("linux/amd64").expect("valid platform");
    Platforms {
        target: amd64.clone(),
        build: amd64,
    }
}

/// Lowers the example for `target` with its committed lock file.
fn lower_example(spec_path: &Path, target: Option<&str>) -> (String, LlbBuild) {
    let source = fs::read_to_string(spec_path).expect("readable spec");
    let compilation = compile::check(&source);
    assert!(
        !compilation.has_errors(),
        "{} has errors: {:?}",
        spec_path.display(),
        compilation.diagnostics
    );
    let spec = compilation.spec.expect("a spec");
    let options = LowerOptions {
        target: target.map(str::to_string),
        ..LowerOptions::default()
    };
    let build = lower(&spec, &compilation.graph, &options).expect("lowers");

    let lock_file = lock_path(spec_path);
    let text = fs::read_to_string(&lock_file).unwrap_or_else(|error| {
        panic!(
            "reading {}: {error}; write it with `stagec lock {}`",
            lock_file.display(),
            spec_path.display()
        )
    });
    let lock = LockFile::parse(&text).expect("a valid lock file");
    let names = LockNames {
        spec: spec_path.display().to_string(),
        lock: Some(lock_file.display().to_string()),
        lock_command: format!("stagec lock {}", spec_path.display()),
    };
    let needed = base_images(&build, &platforms()).expect("valid references");
    let problems = check_lock(Some(&lock), &spec_images_digest(&spec), &needed, &names);
    assert!(problems.is_empty(), "{} is stale: {:?}", lock_file.display(), problems);

    let options = LlbOptions {
        platforms: platforms(),
        default_network: NetworkMode::Sandbox,
    };
    let llb = lower_llb(&build, &lock, &options).expect("lowers to LLB");
    (source, llb)
}

/// Returns the stages whose definitions a build solves: every image output and check.
fn built_stages(spec_path: &Path) -> Vec<String> {
    let source = fs::read_to_string(spec_path).expect("readable spec");
    let spec = compile::check(&source).spec.expect("a spec");
    let mut stages: Vec<String> = spec.images.iter().map(|image| image.stage.value.clone()).collect();
    stages.extend(spec.checks.iter().map(|check| check.value.clone()));
    stages.dedup();
    stages
}

fn dump(source: &str, llb: &LlbBuild, stage: &str) -> String {
    let index = llb
        .stages
        .iter()
        .position(|lowered| lowered.name == stage)
        .expect("stage is lowered");
    let info = SourceInfo {
        filename: "app.kdl".to_string(),
        data: source,
        language: "KDL".to_string(),
    };
    json::dump(&llb.definition(index, Some(&info)).definition)
}

#[test]
fn examples_match_golden_llb() {
    for spec_path in examples() {
        for stage in built_stages(&spec_path) {
            let (source, llb) = lower_example(&spec_path, Some(&stage));
            let name = format!("{}-{}", example_name(&spec_path), stage);
            insta::assert_snapshot!(name, dump(&source, &llb, &stage));
        }
    }
}

#[test]
fn examples_lower_deterministically() {
    for spec_path in examples() {
        let (_, first) = lower_example(&spec_path, None);
        let (_, second) = lower_example(&spec_path, None);
        assert_eq!(
            first.definition(first.output, None).to_bytes(),
            second.definition(second.output, None).to_bytes(),
            "{}",
            spec_path.display()
        );
    }
}

#[test]
fn example_image_configs_match_snapshot() {
    for spec_path in examples() {
        let (_, llb) = lower_example(&spec_path, None);
        let config = serde_json::to_string_pretty(&llb.stages[llb.output].image_config).expect("serializes");
        insta::assert_snapshot!(format!("{}-config", example_name(&spec_path)), config);
    }
}

fn stagec() -> Command {
    let mut command = Command::cargo_bin("stagec").expect("the stagec binary");
    command.env_remove("DOCKER_HOST");
    command
}

#[test]
fn cli_json_matches_library() {
    let spec_path = examples()
        .into_iter()
        .find(|path| example_name(path) == "go-web")
        .expect("go-web example");
    let output = stagec()
        .args(["llb", "--format", "json", "--platform", "linux/amd64"])
        .arg(&spec_path)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (source, llb) = lower_example(&spec_path, None);
    let stage = llb.stages[llb.output].name.clone();
    assert_eq!(String::from_utf8_lossy(&output.stdout), dump(&source, &llb, &stage));
}

#[test]
fn cli_binary_is_definition() {
    let spec_path = examples()
        .into_iter()
        .find(|path| example_name(path) == "go-web")
        .expect("go-web example");
    let output = stagec()
        .args(["llb", "--platform", "linux/amd64"])
        .arg(&spec_path)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let definition: stagec::llb::pb::Definition =
        prost::Message::decode(output.stdout.as_slice()).expect("stdout is a pb.Definition");
    let (_, llb) = lower_example(&spec_path, None);
    let expected = llb.definition(llb.output, None).definition;
    assert_eq!(definition.def, expected.def);
    let source = definition.source.expect("a source map");
    assert_eq!(source.infos[0].filename, "app.kdl");
    assert_eq!(source.infos[0].language, "KDL");
}

#[test]
fn cli_missing_lock_is_sc0901() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("app.kdl");
    fs::write(
        &spec,
        "stage \"app\" from=\"alpine:3\" {\n    cmd \"true\"\n}\nimage \"app\" tag=\"app:1\"\n",
    )
    .expect("write spec");
    let output = stagec()
        .args(["llb", "--format", "json"])
        .arg(&spec)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SC0901"), "{stderr}");
    assert!(stderr.contains("stagec lock"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn cli_stale_lock_is_sc0902() {
    let dir = tempfile::tempdir().expect("temp dir");
    let go_web = examples()
        .into_iter()
        .find(|path| example_name(path) == "go-web")
        .expect("go-web example");
    let spec = dir.path().join("app.kdl");
    let source = fs::read_to_string(&go_web)
        .expect("readable")
        .replace("alpine:3", "alpine:3.20");
    fs::write(&spec, source).expect("write spec");
    fs::copy(lock_path(&go_web), lock_path(&spec)).expect("copy lock");
    let context = go_web.parent().expect("the example directory");
    let output = stagec()
        .args(["llb", "--format", "json", "--platform", "linux/amd64", "--context"])
        .arg(context)
        .arg(&spec)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SC0902"), "{stderr}");
    assert!(stderr.contains("docker.io/library/alpine:3.20"), "{stderr}");
}

#[test]
fn cli_stdin_spec_needs_lock_flag() {
    let spec = "stage \"a\" from=\"alpine:3\" {\n    cmd \"true\"\n}\nimage \"a\" tag=\"a:1\"\n";
    let output = stagec()
        .args(["llb", "--format", "json", "-"])
        .write_stdin(spec)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SC0901"), "{stderr}");
    assert!(stderr.contains("--lock PATH"), "{stderr}");

    let scratch = "stage \"a\" from=\"scratch\" {\n    cmd \"/x\"\n}\nimage \"a\" tag=\"a:1\"\n";
    let output = stagec()
        .args(["llb", "--format", "json", "-"])
        .write_stdin(scratch)
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "a spec without base images needs no lock: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn cli_json_labels_each_platform() {
    // The go-cross lock file covers linux/amd64 and linux/arm64.
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/examples/go-cross/app.kdl");
    let dump_for = |platform: &str| {
        let output = stagec()
            .args(["llb", "--format", "json", "--platform", platform])
            .arg(&spec)
            .output()
            .expect("runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8 JSON")
    };

    let both = dump_for("linux/amd64,linux/arm64");
    let labels: Vec<&str> = both.lines().filter(|line| line.starts_with("{\"Platform\"")).collect();
    assert_eq!(
        labels,
        ["{\"Platform\":\"linux/amd64\"}", "{\"Platform\":\"linux/arm64\"}"]
    );
    assert!(both.starts_with("{\"Platform\":\"linux/amd64\"}\n"), "{both}");

    let (amd64, arm64) = both
        .split_once("{\"Platform\":\"linux/arm64\"}\n")
        .expect("an arm64 section");
    assert!(amd64.contains("[linux/amd64 runtime 1/2]"), "{amd64}");
    assert!(!amd64.contains("\"architecture\":\"arm64\""), "{amd64}");
    assert!(arm64.contains("[linux/arm64 runtime 1/2]"), "{arm64}");
    assert!(arm64.contains("\"architecture\":\"arm64\""), "{arm64}");
    assert!(!arm64.contains("[linux/amd64 "), "{arm64}");

    let single = dump_for("linux/arm64");
    assert!(!single.contains("\"Platform\""), "one platform has no label: {single}");
    assert!(
        single.contains("[runtime 1/2]"),
        "one platform has no name prefix: {single}"
    );
}

#[test]
fn cli_binary_rejects_platform_list() {
    let scratch = "stage \"a\" from=\"scratch\" {\n    cmd \"/x\"\n}\nimage \"a\" tag=\"a:1\"\n";
    let output = stagec()
        .args(["llb", "--platform", "linux/amd64,linux/arm64", "-"])
        .write_stdin(scratch)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("a binary definition describes a build for one platform"),
        "{stderr}"
    );
    assert!(stderr.contains("--format json"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn cli_build_rejects_invalid_secret() {
    let spec_path = examples()
        .into_iter()
        .find(|path| example_name(path) == "go-web")
        .expect("go-web example");
    let output = stagec()
        .args(["build", "--secret", "src=/tmp/token"])
        .arg(&spec_path)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("the id is missing"));
}

#[test]
fn cli_build_without_engine_fails() {
    let spec_path = examples()
        .into_iter()
        .find(|path| example_name(path) == "go-web")
        .expect("go-web example");
    let output = stagec()
        .env("DOCKER_HOST", "unix:///nonexistent/stagec-test.sock")
        .args(["build", "--network", "none"])
        .arg(&spec_path)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no Docker Engine at unix:///nonexistent/stagec-test.sock"),
        "{stderr}"
    );
}

#[test]
fn cli_lock_stdin_needs_lock_flag() {
    let spec = "stage \"a\" from=\"alpine:3\" {\n    cmd \"true\"\n}\nimage \"a\" tag=\"a:1\"\n";
    let output = stagec().args(["lock", "-"]).write_stdin(spec).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--lock PATH"));
}
