//! End-to-end tests of the engine client against a real Docker Engine.
//!
//! They need the private engine of scripts/engine-start.sh with the base
//! images of scripts/base-images.sh (`alpine:3` is busybox there). They are
//! skipped with a message unless DOCKER_HOST is set, and with STAGEC_E2E=1
//! they fail instead. The definitions are built by hand from the pb types, so
//! these tests do not depend on the LLB backend.
//!
//! To solve a definition that the LLB backend wrote to a file (the encoded
//! `pb.Definition`), run the ignored test `debug_solve_definition_file`:
//!
//! ```text
//! STAGEC_DEBUG_LLB=def.pb STAGEC_DEBUG_CONTEXT=. STAGEC_DEBUG_TAG=debug:latest \
//!     cargo test --test engine debug_solve -- --ignored --nocapture
//! ```

#[path = "support/engine.rs"]
mod engine_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine_support::engine_or_skip;
use prost::Message;
use serde_json::json;
use sha2::{Digest, Sha256};
use stagec::engine::{EngineClient, EngineError, PlainProgress, SecretSource, SolveRequest, SolveResult};
use stagec::llb::pb;

/// Base image that scripts/base-images.sh makes.
const BASE_IMAGE: &str = "docker.io/library/alpine:3";

/// A `pb.Definition` under construction: ops in the order added, named by
/// their digest.
#[derive(Default)]
struct DefinitionBuilder {
    ops: Vec<Vec<u8>>,
    metadata: BTreeMap<String, pb::OpMetadata>,
}

impl DefinitionBuilder {
    /// Adds `op` with the progress name `name` and returns its digest.
    fn add(&mut self, op: pb::Op, name: &str) -> String {
        let bytes = op.encode_to_vec();
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        if !self.ops.contains(&bytes) {
            self.ops.push(bytes);
        }
        let description = BTreeMap::from([("llb.customname".to_string(), name.to_string())]);
        self.metadata.insert(
            digest.clone(),
            pb::OpMetadata {
                description,
                ..pb::OpMetadata::default()
            },
        );
        digest
    }

    /// Declares that the op `digest` uses the BuildKit capabilities `caps`,
    /// which the engine checks before it runs anything.
    fn require(&mut self, digest: &str, caps: &[&str]) {
        let metadata = self.metadata.entry(digest.to_string()).or_default();
        for cap in caps {
            metadata.caps.insert(cap.to_string(), true);
        }
    }

    /// Ends the definition with the op that names `result` as the output.
    fn finish(mut self, result: &str) -> pb::Definition {
        let terminal = pb::Op {
            inputs: vec![input(result)],
            ..pb::Op::default()
        };
        self.ops.push(terminal.encode_to_vec());
        pb::Definition {
            def: self.ops,
            metadata: self.metadata,
            source: None,
        }
    }
}

fn input(digest: &str) -> pb::Input {
    pb::Input {
        digest: digest.to_string(),
        index: 0,
    }
}

fn platform() -> Option<pb::Platform> {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    Some(pb::Platform {
        architecture: architecture.to_string(),
        os: "linux".to_string(),
        ..pb::Platform::default()
    })
}

fn image_op(reference: &str) -> pb::Op {
    let source = pb::SourceOp {
        identifier: format!("docker-image://{reference}"),
        attrs: BTreeMap::new(),
    };
    pb::Op {
        op: Some(pb::op::Op::Source(source)),
        platform: platform(),
        ..pb::Op::default()
    }
}

/// Returns a local source op that reads only the paths matching
/// `include_patterns`, or all paths when there are none.
fn local_op(name: &str, include_patterns: &[&str]) -> pb::Op {
    let mut attrs = BTreeMap::from([("local.sharedkeyhint".to_string(), name.to_string())]);
    if !include_patterns.is_empty() {
        attrs.insert("local.includepattern".to_string(), json!(include_patterns).to_string());
    }
    let source = pb::SourceOp {
        identifier: format!("local://{name}"),
        attrs,
    };
    pb::Op {
        op: Some(pb::op::Op::Source(source)),
        platform: platform(),
        ..pb::Op::default()
    }
}

/// Runs `script` with `sh -c` on `root`, without network.
fn exec_op(root: &str, script: &str, extra_mounts: Vec<pb::Mount>, secret_env: Vec<pb::SecretEnv>) -> pb::Op {
    let meta = pb::Meta {
        args: vec!["/bin/sh".to_string(), "-c".to_string(), script.to_string()],
        env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()],
        cwd: "/".to_string(),
        ..pb::Meta::default()
    };
    let root_mount = pb::Mount {
        input: 0,
        dest: "/".to_string(),
        output: 0,
        ..pb::Mount::default()
    };
    let mut mounts = vec![root_mount];
    mounts.extend(extra_mounts);
    let exec = pb::ExecOp {
        meta: Some(meta),
        mounts,
        network: pb::NetMode::None as i32,
        secretenv: secret_env,
        ..pb::ExecOp::default()
    };
    pb::Op {
        inputs: vec![input(root)],
        op: Some(pb::op::Op::Exec(exec)),
        platform: platform(),
        ..pb::Op::default()
    }
}

/// Copies `source_path` of `source` into `dest` of `base`.
fn copy_op(base: &str, source: &str, source_path: &str, dest: &str) -> pb::Op {
    let copy = pb::FileActionCopy {
        src: source_path.to_string(),
        dest: dest.to_string(),
        mode: -1,
        follow_symlink: true,
        dir_copy_contents: true,
        create_dest_path: true,
        allow_wildcard: true,
        allow_empty_wildcard: true,
        timestamp: -1,
        ..pb::FileActionCopy::default()
    };
    let action = pb::FileAction {
        input: 0,
        secondary_input: 1,
        output: 0,
        action: Some(pb::file_action::Action::Copy(copy)),
    };
    let file = pb::FileOp { actions: vec![action] };
    pb::Op {
        inputs: vec![input(base), input(source)],
        op: Some(pb::op::Op::File(file)),
        platform: platform(),
        ..pb::Op::default()
    }
}

/// Plain progress output kept in memory, printed by the test afterwards so
/// that the test harness shows it for a failed test only.
#[derive(Clone, Default)]
struct ProgressLog(Arc<Mutex<Vec<u8>>>);

impl Write for ProgressLog {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("progress log lock").extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ProgressLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("progress log lock")).into_owned()
    }
}

async fn connect() -> EngineClient {
    EngineClient::connect(None)
        .await
        .expect("connecting to the engine at DOCKER_HOST")
}

/// Solves `request` and prints the plain progress into the test output.
async fn solve(client: &EngineClient, request: SolveRequest) -> Result<SolveResult, EngineError> {
    let log = ProgressLog::default();
    let result = client.solve(request, PlainProgress::new(log.clone())).await;
    eprintln!("{}", log.text());
    result
}

fn write_file(dir: &Path, path: &str, content: &[u8]) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().expect("a file has a parent")).expect("creating folders");
    std::fs::write(full, content).expect("writing a context file");
}

/// Returns `length` bytes that differ from file to file and do not compress.
fn noise(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Returns the major version of the engine, such as 26 for `26.1.5+dfsg1`.
fn engine_major_version(client: &EngineClient) -> u32 {
    let version = &client.connected_info().engine_version;
    version
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0)
}

fn context_dirs(dir: &Path) -> BTreeMap<String, PathBuf> {
    BTreeMap::from([("context".to_string(), dir.to_path_buf())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_with_config_and_context() {
    let Some(engine) = engine_or_skip("image_with_config_and_context") else {
        return;
    };
    let client = connect().await;
    let context = tempfile::tempdir().expect("temp dir");
    write_file(context.path(), "app.txt", b"from the context\n");
    write_file(context.path(), "unused.txt", b"not included\n");

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[runtime 1/3] FROM alpine:3");
    let ran = llb.add(
        exec_op(&base, "echo hi > /out", vec![], vec![]),
        "[runtime 2/3] RUN echo hi > /out",
    );
    let local = llb.add(local_op("context", &["app.txt"]), "[internal] load build context");
    let copied = llb.add(
        copy_op(&ran, &local, "/app.txt", "/app/"),
        "[runtime 3/3] COPY app.txt /app/",
    );

    let tag = "stagec-test/engine:latest";
    let image_config = json!({
        "architecture": platform().expect("platform").architecture,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"],
            "Cmd": ["cat", "/out"],
            "User": "1000:1000",
            "WorkingDir": "/app",
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"org.example.stage": "runtime"}
        }
    });
    let request = SolveRequest {
        local_dirs: context_dirs(context.path()),
        image_config,
        tags: vec![tag.to_string()],
        ..SolveRequest::new(llb.finish(&copied))
    };

    let result = solve(&client, request).await.expect("the build succeeds");
    let image_id = result.image_digest.clone().expect("an exported image has an ID");
    assert!(image_id.starts_with("sha256:"), "{result:?}");
    // Docker Engine reports the image name from version 26 on.
    if engine_major_version(&client) >= 26 {
        let name = result.exporter_response.get("image.name").map(String::as_str);
        assert_eq!(name, Some("docker.io/stagec-test/engine:latest"), "{result:?}");
    }
    assert_eq!(engine.inspect(tag, "{{.Id}}"), image_id);

    let config: serde_json::Value =
        serde_json::from_str(&engine.inspect(tag, "{{json .Config}}")).expect("inspect prints JSON");
    assert_eq!(config["Cmd"], json!(["cat", "/out"]));
    assert_eq!(config["User"], "1000:1000");
    assert_eq!(config["WorkingDir"], "/app");
    assert_eq!(config["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(config["Labels"]["org.example.stage"], "runtime");
    assert!(
        config["Env"]
            .as_array()
            .expect("Env is a list")
            .contains(&json!("GREETING=hello")),
        "{config}"
    );

    assert_eq!(engine.run_image(tag, &[]), "hi\n");
    assert_eq!(engine.run_image(tag, &["cat", "/app/app.txt"]), "from the context\n");
    assert_eq!(engine.run_image(tag, &["ls", "/app"]), "app.txt\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesync_sends_only_included_files() {
    let Some(engine) = engine_or_skip("filesync_sends_only_included_files") else {
        return;
    };
    let client = connect().await;
    let context = tempfile::tempdir().expect("temp dir");
    write_file(context.path(), "src/main.txt", b"main\n");
    write_file(context.path(), "big/unused.bin", &noise(16 << 20, 1));

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[check 1/2] FROM alpine:3");
    let local = llb.add(local_op("context", &["src"]), "[internal] load build context");
    let copied = llb.add(copy_op(&base, &local, "/", "/ctx/"), "[check 2/2] COPY . /ctx/");

    let tag = "stagec-test/engine-filesync:latest";
    let request = SolveRequest {
        local_dirs: context_dirs(context.path()),
        tags: vec![tag.to_string()],
        no_cache: true,
        ..SolveRequest::new(llb.finish(&copied))
    };
    let result = solve(&client, request).await.expect("the build succeeds");

    assert!(result.bytes_sent_by_filesync > 0, "{result:?}");
    assert!(
        result.bytes_sent_by_filesync < 64 * 1024,
        "the unused 16 MiB file was sent: {result:?}"
    );
    assert_eq!(
        engine.run_image(tag, &["find", "/ctx"]),
        "/ctx\n/ctx/src\n/ctx/src/main.txt\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesync_large_file_intact() {
    let Some(engine) = engine_or_skip("filesync_large_file_intact") else {
        return;
    };
    let client = connect().await;
    let context = tempfile::tempdir().expect("temp dir");
    let seed = std::process::id().into();
    let content = noise(5 << 20, seed);
    write_file(context.path(), "data/blob.bin", &content);
    std::os::unix::fs::symlink("blob.bin", context.path().join("data/link")).expect("symlink");

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[blob 1/2] FROM alpine:3");
    let local = llb.add(local_op("context", &[]), "[internal] load build context");
    let copied = llb.add(copy_op(&base, &local, "/data", "/data"), "[blob 2/2] COPY data /data");

    let tag = "stagec-test/engine-blob:latest";
    let request = SolveRequest {
        local_dirs: context_dirs(context.path()),
        tags: vec![tag.to_string()],
        ..SolveRequest::new(llb.finish(&copied))
    };
    let result = solve(&client, request).await.expect("the build succeeds");
    assert!(result.bytes_sent_by_filesync >= 5 << 20, "{result:?}");

    let expected = format!("{:x}  /data/blob.bin\n", Sha256::digest(&content));
    assert_eq!(engine.run_image(tag, &["sha256sum", "/data/blob.bin"]), expected);
    assert_eq!(engine.run_image(tag, &["readlink", "/data/link"]), "blob.bin\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesync_modes_owners_links() {
    use std::os::unix::fs::{PermissionsExt, symlink};

    let Some(engine) = engine_or_skip("filesync_modes_owners_links") else {
        return;
    };
    let client = connect().await;
    let context = tempfile::tempdir().expect("temp dir");
    let tree = context.path().join("tree");
    write_file(&tree, "file.txt", b"file\n");
    write_file(&tree, "run.sh", b"#!/bin/sh\n");
    write_file(&tree, "setuid", b"s");
    write_file(&tree, "owned.txt", b"owned\n");
    write_file(&tree, "hard-a", b"hard\n");
    std::fs::hard_link(tree.join("hard-a"), tree.join("hard-b")).expect("hard link");
    std::fs::create_dir(tree.join("empty")).expect("mkdir");
    std::fs::create_dir(tree.join("sticky")).expect("mkdir");
    symlink("sticky", tree.join("link-dir")).expect("symlink");
    symlink("nowhere", tree.join("dangling")).expect("symlink");
    let modes = [
        ("", 0o750),
        ("file.txt", 0o604),
        ("run.sh", 0o755),
        ("setuid", 0o4755),
        ("sticky", 0o1777),
    ];
    for (path, mode) in modes {
        std::fs::set_permissions(tree.join(path), std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    std::os::unix::fs::chown(tree.join("owned.txt"), Some(1234), Some(5678)).expect("chown (the test runs as root)");
    let modified = std::time::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    std::fs::File::options()
        .write(true)
        .open(tree.join("file.txt"))
        .and_then(|file| file.set_modified(modified))
        .expect("set the modification time");

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[modes 1/2] FROM alpine:3");
    let local = llb.add(local_op("context", &[]), "[internal] load build context");
    let copied = llb.add(copy_op(&base, &local, "/", "/ctx/"), "[modes 2/2] COPY . /ctx/");
    let tag = "stagec-test/engine-modes:latest";
    let request = SolveRequest {
        local_dirs: context_dirs(context.path()),
        tags: vec![tag.to_string()],
        no_cache: true,
        ..SolveRequest::new(llb.finish(&copied))
    };
    solve(&client, request).await.expect("the build succeeds");

    let listing = engine.run_image(
        tag,
        &["sh", "-c", "cd /ctx/tree && stat -c '%n %a %u:%g %h %F' . * | sort"],
    );
    // Owners are root's, as with `docker build`, whose client sends every
    // context entry as owned by root.
    assert_eq!(
        listing,
        ". 750 0:0 4 directory
dangling 777 0:0 1 symbolic link
empty 755 0:0 2 directory
file.txt 604 0:0 1 regular file
hard-a 644 0:0 2 regular file
hard-b 644 0:0 2 regular file
link-dir 777 0:0 1 symbolic link
owned.txt 644 0:0 1 regular file
run.sh 755 0:0 1 regular file
setuid 4755 0:0 1 regular file
sticky 1777 0:0 2 directory
"
    );
    assert_eq!(
        engine.run_image(
            tag,
            &["sh", "-c", "readlink /ctx/tree/link-dir && readlink /ctx/tree/dangling"]
        ),
        "sticky\nnowhere\n"
    );
    assert_eq!(
        engine.run_image(tag, &["stat", "-c", "%Y", "/ctx/tree/file.txt"]),
        "1600000000\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_mount_not_in_image() {
    let Some(engine) = engine_or_skip("secret_mount_not_in_image") else {
        return;
    };
    let client = connect().await;
    let secrets_dir = tempfile::tempdir().expect("temp dir");
    let secret_value = format!("stagec-secret-{}", std::process::id());
    let secret_file = secrets_dir.path().join("token");
    std::fs::write(&secret_file, &secret_value).expect("writing the secret");

    let mount = pb::Mount {
        input: -1,
        dest: "/run/secrets/token".to_string(),
        output: -1,
        mount_type: pb::MountType::Secret as i32,
        secret_opt: Some(pb::SecretOpt {
            id: "token".to_string(),
            mode: 0o400,
            ..pb::SecretOpt::default()
        }),
        ..pb::Mount::default()
    };
    // The script must not contain the value because the image history
    // records it. Secret environment variables need BuildKit 0.10 (the
    // `exec.secretenv` capability), which Docker Engine 23 was the first to embed.
    let mut script = "sha256sum < /run/secrets/token > /secret-check".to_string();
    let mut secret_env = Vec::new();
    let mut caps = vec!["exec.mount.secret"];
    if engine_major_version(&client) >= 23 {
        script = format!("test \"$TOKEN\" = \"$(cat /run/secrets/token)\" && {script}");
        secret_env.push(pb::SecretEnv {
            id: "token".to_string(),
            name: "TOKEN".to_string(),
            optional: false,
        });
        caps.push("exec.secretenv");
    }

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[secret 1/2] FROM alpine:3");
    let ran = llb.add(
        exec_op(&base, &script, vec![mount], secret_env),
        "[secret 2/2] RUN --mount=type=secret",
    );
    llb.require(&ran, &caps);

    let tag = "stagec-test/engine-secret:latest";
    let request = SolveRequest {
        secrets: BTreeMap::from([("token".to_string(), SecretSource::File(secret_file))]),
        tags: vec![tag.to_string()],
        no_cache: true,
        ..SolveRequest::new(llb.finish(&ran))
    };
    solve(&client, request).await.expect("the build succeeds");

    let expected = format!("{:x}  -\n", Sha256::digest(secret_value.as_bytes()));
    assert_eq!(
        engine.run_image(tag, &["cat", "/secret-check"]),
        expected,
        "the step read the secret file and env"
    );
    assert_eq!(
        engine.run_image(
            tag,
            &["sh", "-c", "test -e /run/secrets/token && echo present || echo absent"]
        ),
        "absent\n"
    );
    let saved = engine.run(["save", tag]).stdout;
    let found = saved
        .windows(secret_value.len())
        .any(|window| window == secret_value.as_bytes());
    assert!(!found, "the secret value is in the saved image");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_step_named_with_logs() {
    if engine_or_skip("failed_step_named_with_logs").is_none() {
        return;
    }
    let client = connect().await;

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[fail 1/2] FROM alpine:3");
    let script = "echo first-line; echo boom-line >&2; exit 3";
    let ran = llb.add(exec_op(&base, script, vec![], vec![]), "[fail 2/2] RUN exit 3");

    let request = SolveRequest {
        no_cache: true,
        ..SolveRequest::new(llb.finish(&ran))
    };
    let error = solve(&client, request).await.expect_err("the step fails");

    let EngineError::Solve(failure) = &error else {
        panic!("expected a solve failure, got {error:?}")
    };
    assert_eq!(failure.vertex.as_deref(), Some("[fail 2/2] RUN exit 3"));
    assert!(failure.message.contains("exit code: 3"), "{failure:?}");
    assert!(failure.last_logs.iter().any(|line| line == "boom-line"), "{failure:?}");
    assert!(failure.last_logs.iter().any(|line| line == "first-line"), "{failure:?}");
    assert!(!error.to_string().contains('\n'), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tag_fails_fast() {
    if engine_or_skip("invalid_tag_fails_fast").is_none() {
        return;
    }
    let client = connect().await;

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[tag 1/1] FROM alpine:3");
    let request = SolveRequest {
        tags: vec!["Not A Valid Tag".to_string()],
        ..SolveRequest::new(llb.finish(&base))
    };

    // The exporter rejects the name before the build needs the frontend,
    // which must then stop waiting for the build.
    let started = Instant::now();
    let error = solve(&client, request).await.expect_err("the tag is invalid");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(error, EngineError::Solve(_)), "{error:?}");
    assert!(error.to_string().contains("invalid reference format"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_local_dir_rejected() {
    if engine_or_skip("unregistered_local_dir_rejected").is_none() {
        return;
    }
    let client = connect().await;
    let context = tempfile::tempdir().expect("temp dir");
    write_file(context.path(), "a.txt", b"a");

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[x 1/2] FROM alpine:3");
    let local = llb.add(local_op("secret-home", &[]), "[internal] load secret-home");
    let copied = llb.add(copy_op(&base, &local, "/", "/x/"), "[x 2/2] COPY");

    let request = SolveRequest {
        local_dirs: context_dirs(context.path()),
        ..SolveRequest::new(llb.finish(&copied))
    };
    let error = solve(&client, request).await.expect_err("the folder is not served");
    assert!(matches!(error, EngineError::Solve(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(r#"no local folder named "secret-home" is registered"#),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_reports_versions() {
    if engine_or_skip("info_reports_versions").is_none() {
        return;
    }
    let client = connect().await;
    let info = client.info().await.expect("info");
    eprintln!("{info:?}");

    assert_eq!(info.host, std::env::var("DOCKER_HOST").expect("DOCKER_HOST is set"));
    assert!(!info.engine_version.is_empty(), "{info:?}");
    assert_eq!(info.os, "linux");
    // BuildKit implements the Info call from version 0.11 on, which Docker
    // Engine 24 was the first to embed.
    if engine_major_version(&client) >= 24 {
        let version = info
            .buildkit_version
            .clone()
            .expect("Docker Engine 24 and later report the BuildKit version");
        assert!(version.starts_with('v'), "{info:?}");
    }
    assert_eq!(&info, client.connected_info());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_listed_by_ping() {
    if engine_or_skip("capabilities_listed_by_ping").is_none() {
        return;
    }
    let client = connect().await;
    let started = Instant::now();
    let capabilities = client.capabilities().await.expect("the engine lists its capabilities");
    eprintln!("read in {:?}: {capabilities:?}", started.elapsed());

    // BuildKit 0.8 (Docker Engine 20.10) has all of these.
    for cap in [
        "source.image",
        "source.local",
        "exec.meta.base",
        "exec.mount.cache",
        "file.base",
    ] {
        assert!(capabilities.llb.contains(cap), "{cap} is missing: {capabilities:?}");
    }
    assert!(capabilities.frontend_api.contains("solve.base"), "{capabilities:?}");
    // BuildKit 0.10 added secret env vars, and Docker Engine 23 was the first to embed it.
    let secret_env = capabilities.llb.contains("exec.secretenv");
    assert_eq!(secret_env, engine_major_version(&client) >= 23, "{capabilities:?}");
    assert_eq!(client.capabilities().await.expect("cached"), capabilities);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_capability_fails_before_build() {
    if engine_or_skip("unknown_capability_fails_before_build").is_none() {
        return;
    }
    let client = connect().await;

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[caps 1/2] FROM alpine:3");
    let ran = llb.add(exec_op(&base, "true", vec![], vec![]), "[caps 2/2] RUN true");
    llb.require(&ran, &["exec.meta.base", "stagec.test.nonexistent"]);

    let events = Arc::new(Mutex::new(0usize));
    let counter = events.clone();
    let progress = move |_: &stagec::engine::ProgressEvent| *counter.lock().expect("counter lock") += 1;
    let error = client
        .solve(SolveRequest::new(llb.finish(&ran)), progress)
        .await
        .expect_err("the capability is unknown");

    assert!(matches!(error, EngineError::UnsupportedCapability { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("build step [caps 2/2] RUN true needs the BuildKit capability `stagec.test.nonexistent`"),
        "{message}"
    );
    assert!(message.contains(&client.connected_info().engine_version), "{message}");
    assert_eq!(*events.lock().expect("counter lock"), 0, "the build did not start");
}

/// Two builds at the same time whose local sources have the same bytes,
/// from two folders, must each get their own folder's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_builds_keep_own_context() {
    let Some(engine) = engine_or_skip("parallel_builds_keep_own_context") else {
        return;
    };
    let client = connect().await;
    let contexts: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("temp dir")).collect();
    let mut builds = Vec::new();
    for (number, context) in contexts.iter().enumerate() {
        write_file(context.path(), "app.txt", format!("context {number}\n").as_bytes());
        let mut llb = DefinitionBuilder::default();
        let base = llb.add(image_op(BASE_IMAGE), "[same 1/2] FROM alpine:3");
        let local = llb.add(local_op("context", &["app.txt"]), "[internal] load build context");
        let copied = llb.add(
            copy_op(&base, &local, "/app.txt", "/app.txt"),
            "[same 2/2] COPY app.txt /",
        );
        let request = SolveRequest {
            local_dirs: context_dirs(context.path()),
            tags: vec![format!("stagec-test/engine-parallel-{number}:latest")],
            ..SolveRequest::new(llb.finish(&copied))
        };
        let client = client.clone();
        builds.push(tokio::spawn(async move { solve(&client, request).await }));
    }
    for build in builds {
        build
            .await
            .expect("the build task does not panic")
            .expect("the build succeeds");
    }

    for number in 0..contexts.len() {
        let tag = format!("stagec-test/engine-parallel-{number}:latest");
        assert_eq!(
            engine.run_image(&tag, &["cat", "/app.txt"]),
            format!("context {number}\n")
        );
    }
}

#[tokio::test]
async fn missing_socket_clear_error() {
    let host = format!("unix:///tmp/stagec-no-engine-{}/docker.sock", std::process::id());
    let error = EngineClient::connect(Some(&host))
        .await
        .expect_err("nothing listens there");
    assert_eq!(
        error.to_string(),
        format!("no Docker Engine at {host}: the socket does not exist; start it or set DOCKER_HOST")
    );
}

#[tokio::test]
async fn tcp_host_not_supported() {
    let error = EngineClient::connect(Some("tcp://127.0.0.1:2375"))
        .await
        .expect_err("tcp is not supported yet");
    assert!(error.to_string().contains("not supported yet"), "{error}");
}

#[tokio::test]
async fn non_docker_socket_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("other.sock");
    let listener = tokio::net::UnixListener::bind(&path).expect("binding a test socket");
    let server = tokio::spawn(async move {
        // Responds like a service that speaks another protocol, then hangs up.
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, b"220 not http\r\n").await;
        }
    });

    let host = format!("unix://{}", path.display());
    let error = EngineClient::connect(Some(&host))
        .await
        .expect_err("not a Docker Engine");
    server.abort();
    assert!(matches!(error, EngineError::NotDockerEngine { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("{host} is not a Docker Engine API socket")),
        "{error}"
    );
}

/// Returns whether a process with exactly `argv` runs on this machine.
/// Build steps run in containers of the local engine, so they show up here.
fn process_running(argv: &[&str]) -> bool {
    let wanted: Vec<u8> = argv.iter().flat_map(|arg| arg.bytes().chain([0])).collect();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| cmdline == wanted)
}

async fn wait_for(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_solve_cancels_step() {
    if engine_or_skip("dropped_solve_cancels_step").is_none() {
        return;
    }
    let client = connect().await;
    let seconds = format!("{}", 3000 + std::process::id() % 1000);

    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[slow 1/2] FROM alpine:3");
    let script = format!("exec sleep {seconds}");
    let ran = llb.add(exec_op(&base, &script, vec![], vec![]), "[slow 2/2] RUN sleep");
    let request = SolveRequest {
        no_cache: true,
        ..SolveRequest::new(llb.finish(&ran))
    };

    let build = tokio::spawn(async move { client.solve(request, stagec::engine::QuietProgress).await });
    wait_for("the step to start", Duration::from_secs(60), || {
        process_running(&["sleep", &seconds])
    })
    .await;

    build.abort();
    wait_for("the engine to stop the step", Duration::from_secs(30), || {
        !process_running(&["sleep", &seconds])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_mid_build() {
    if engine_or_skip("lost_connection_mid_build").is_none() {
        return;
    };
    let engine_host = std::env::var("DOCKER_HOST").expect("DOCKER_HOST is set");
    let engine_socket = PathBuf::from(engine_host.trim_start_matches("unix://"));

    // A socket that forwards to the engine and can drop every connection at
    // once, the way a killed engine does.
    let dir = tempfile::tempdir().expect("temp dir");
    let proxy_path = dir.path().join("proxy.sock");
    let listener = tokio::net::UnixListener::bind(&proxy_path).expect("binding the proxy socket");
    let (cut_sender, cut_receiver) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((mut client_side, _)) = listener.accept().await {
            let engine_socket = engine_socket.clone();
            let mut cut = cut_receiver.clone();
            tokio::spawn(async move {
                let Ok(mut engine_side) = tokio::net::UnixStream::connect(&engine_socket).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client_side, &mut engine_side) => {}
                    _ = cut.wait_for(|cut| *cut) => {}
                }
            });
        }
    });

    let client = EngineClient::connect(Some(&format!("unix://{}", proxy_path.display())))
        .await
        .expect("connecting through the proxy");
    let seconds = format!("{}", 4000 + std::process::id() % 1000);
    let mut llb = DefinitionBuilder::default();
    let base = llb.add(image_op(BASE_IMAGE), "[slow 1/2] FROM alpine:3");
    let ran = llb.add(
        exec_op(&base, &format!("exec sleep {seconds}"), vec![], vec![]),
        "[slow 2/2] RUN sleep",
    );
    let request = SolveRequest {
        no_cache: true,
        ..SolveRequest::new(llb.finish(&ran))
    };

    let build = tokio::spawn(async move { client.solve(request, stagec::engine::QuietProgress).await });
    wait_for("the step to start", Duration::from_secs(60), || {
        process_running(&["sleep", &seconds])
    })
    .await;
    cut_sender.send(true).expect("the proxy listens");

    let outcome = tokio::time::timeout(Duration::from_secs(60), build)
        .await
        .expect("the build ends after the connection is lost")
        .expect("the build task does not panic");
    let error = outcome.expect_err("the build cannot succeed without its connection");
    assert!(matches!(error, EngineError::ConnectionLost { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with("lost the connection to Docker Engine"),
        "{error}"
    );
}

/// Solves the encoded `pb.Definition` in the file STAGEC_DEBUG_LLB, with
/// STAGEC_DEBUG_CONTEXT (optional) served as the local folder `context` and
/// the result tagged STAGEC_DEBUG_TAG (optional), and prints the progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "debugging aid: solves the definition in STAGEC_DEBUG_LLB"]
async fn debug_solve_definition_file() {
    let path = std::env::var("STAGEC_DEBUG_LLB").expect("set STAGEC_DEBUG_LLB to an encoded pb.Definition file");
    let bytes = std::fs::read(&path).expect("reading STAGEC_DEBUG_LLB");
    let definition = pb::Definition::decode(bytes.as_slice()).expect("STAGEC_DEBUG_LLB holds a pb.Definition");

    let mut request = SolveRequest::new(definition);
    if let Ok(context) = std::env::var("STAGEC_DEBUG_CONTEXT") {
        request.local_dirs = context_dirs(Path::new(&context));
    }
    if let Ok(tag) = std::env::var("STAGEC_DEBUG_TAG") {
        request.tags = vec![tag];
    }

    let client = EngineClient::connect(None)
        .await
        .expect("connecting to the engine at DOCKER_HOST");
    match client.solve(request, PlainProgress::new(std::io::stderr())).await {
        Ok(result) => eprintln!("{result:#?}"),
        Err(error) => {
            eprintln!("error: {error}");
            for line in error.detail_lines() {
                eprintln!("  {line}");
            }
            panic!("the build failed");
        }
    }
}
