//! End to end: secret values stay out of everything a build leaves behind.
//! Specs mount a file secret and an env secret into run steps, built with
//! `stagec build` (LLB) and with `docker build` of `stagec dockerfile`'s
//! output. The test then searches for the secret's bytes (raw, base64 and
//! hex) in the image: every layer tar of `docker save`, the config, the
//! manifests and the history. It also searches the engine's BuildKit state
//! (the build cache and build records) and everything stagec wrote or
//! printed: LLB, Dockerfile, lock file, progress, metadata and error
//! messages. On the engine with the containerd image store
//! (STAGEC_CONTAINERD_DOCKER_HOST), it exports the build cache with
//! `--cache-to type=local,mode=max` and `type=inline` and the image with
//! `-o type=oci`, and searches every blob with the layers unpacked. A spec
//! that copies the secret into the image on purpose shows that the search
//! finds a value where there is one.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use support::engine::{Engine, engine_or_skip};

fn stagec() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stagec"));
    command.env("NO_COLOR", "1");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Returns a secret value that no other test and no base image contains.
fn unique_secret(kind: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("stagec-{kind}-secret-{}-{nanos:x}-Zq7", std::process::id())
}

/// Returns the forms in which a value could be stored: raw, base64 (standard and
/// URL-safe, at each of the three byte alignments, without the characters
/// that depend on the neighbouring bytes) and lower-case hex.
fn needles(secret: &str) -> Vec<(String, Vec<u8>)> {
    let mut needles = vec![("raw".to_string(), secret.as_bytes().to_vec())];
    let engines = [
        ("base64", base64::engine::general_purpose::STANDARD),
        ("base64url", base64::engine::general_purpose::URL_SAFE),
    ];
    for (name, engine) in engines {
        for shift in 0..3 {
            let mut shifted = vec![b'x'; shift];
            shifted.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&shifted);
            // Skip the characters that mix in the padding bytes before the
            // value and the unknown bytes after it.
            let start = (shift * 4).div_ceil(3) + 1;
            let end = (encoded.trim_end_matches('=').len()).saturating_sub(3);
            needles.push((
                format!("{name} at offset {shift}"),
                encoded.as_bytes()[start..end].to_vec(),
            ));
        }
    }
    let hex: String = secret.bytes().map(|byte| format!("{byte:02x}")).collect();
    needles.push(("hex".to_string(), hex.into_bytes()));
    needles
}

/// Returns the forms of each secret, named `FORM of SECRET`.
fn forms(secrets: &[&str]) -> Vec<(String, Vec<u8>)> {
    secrets
        .iter()
        .flat_map(|secret| {
            needles(secret)
                .into_iter()
                .map(move |(form, needle)| (format!("{form} of {secret}"), needle))
        })
        .collect()
}

/// Returns `what (form of secret)` for each form of a secret that
/// `haystack` contains.
fn find_in(what: &str, haystack: &[u8], secrets: &[&str]) -> Vec<String> {
    forms(secrets)
        .into_iter()
        .filter(|(_, needle)| haystack.windows(needle.len()).any(|window| window == needle.as_slice()))
        .map(|(form, _)| format!("{what} ({form})"))
        .collect()
}

/// Searches every regular file below `root`, and the decompressed content
/// of the gzip and zstd files among them, for the secrets. Returns what was
/// found and how many files were searched. GNU grep does the search,
/// because the engine's state is tens of megabytes and the test binary is
/// built without optimization.
fn find_in_tree(root: &Path, secrets: &[&str]) -> (Vec<String>, usize) {
    let forms = forms(secrets);
    let patterns = tempfile::NamedTempFile::new().expect("temp file");
    let lines: Vec<&str> = forms
        .iter()
        .map(|(_, needle)| std::str::from_utf8(needle).expect("the forms are ASCII"))
        .collect();
    std::fs::write(patterns.path(), lines.join("\n") + "\n").expect("write patterns");

    let mut found = Vec::new();
    let mut files = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            pending.extend(entries.flatten().map(|entry| entry.path()));
            continue;
        }
        if !metadata.is_file() {
            continue;
        }
        files += 1;
        let shown = path.display().to_string();
        found.extend(grep(&shown, "cat \"$1\"", &path, patterns.path(), &forms));
        let mut magic = [0u8; 4];
        let read = std::fs::File::open(&path).and_then(|mut file| std::io::Read::read(&mut file, &mut magic));
        if let Some(tool) = compression(&magic).filter(|_| read.is_ok_and(|count| count == 4)) {
            // A truncated stream still yields the part before the damage.
            let command = format!("{tool} -dc \"$1\" 2>/dev/null");
            found.extend(grep(
                &format!("{shown}, decompressed"),
                &command,
                &path,
                patterns.path(),
                &forms,
            ));
        }
    }
    (found, files)
}

/// Pipes the output of the shell `command` (with `$1` set to `path`) into
/// `grep -F` with the patterns file, and names each form it matched.
fn grep(what: &str, command: &str, path: &Path, patterns: &Path, forms: &[(String, Vec<u8>)]) -> Vec<String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{command} | grep -a -o -F -f \"$2\""))
        .arg("sh")
        .arg(path)
        .arg(patterns)
        .output()
        .expect("run grep");
    let mut found: Vec<String> = text(&output.stdout)
        .lines()
        .filter_map(|hit| forms.iter().find(|(_, needle)| needle.as_slice() == hit.as_bytes()))
        .map(|(form, _)| format!("{what} ({form})"))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Returns the tool that decompresses `bytes`, for gzip and zstd data.
fn compression(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Some("gzip")
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd")
    } else {
        None
    }
}

/// Saves `image` with `docker save`, unpacks the archive and every layer
/// tar in it, and searches all of it.
fn find_in_saved_image(engine: &Engine, image: &str, secrets: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("image.tar");
    engine.run([
        "save".as_ref(),
        "-o".as_ref(),
        archive.as_os_str(),
        std::ffi::OsStr::new(image),
    ]);
    let unpacked = dir.path().join("image");
    std::fs::create_dir(&unpacked).expect("mkdir");
    untar(&archive, &unpacked);

    let (mut found, files) = find_in_tree(dir.path(), secrets);
    assert!(files >= 3, "docker save of {image} holds only {files} files");
    found.extend(find_in(
        "docker save archive",
        &std::fs::read(&archive).expect("read archive"),
        secrets,
    ));

    // The layer tars, unpacked, so that a file inside a layer is found even
    // when the archive stores the layer compressed.
    let (layers, _) = list_files(&unpacked);
    for (index, layer) in layers.iter().enumerate() {
        let bytes = std::fs::read(layer).expect("read blob");
        let is_tar = bytes.len() > 262 && &bytes[257..262] == b"ustar";
        if !is_tar && compression(&bytes).is_none() {
            continue;
        }
        let target = dir.path().join(format!("layer-{index}"));
        std::fs::create_dir(&target).expect("mkdir");
        untar(layer, &target);
        let (in_layer, _) = find_in_tree(&target, secrets);
        found.extend(in_layer);
    }

    let inspect = engine.run(["image", "inspect", image]);
    found.extend(find_in("docker image inspect", &inspect.stdout, secrets));
    let history = engine.run(["history", "--no-trunc", "--format", "{{json .}}", image]);
    found.extend(find_in("docker history", &history.stdout, secrets));
    found
}

fn list_files(root: &Path) -> (Vec<PathBuf>, usize) {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(
                std::fs::read_dir(&path)
                    .expect("list")
                    .flatten()
                    .map(|entry| entry.path()),
            );
        } else if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let count = files.len();
    (files, count)
}

/// Unpacks a tar archive, compressed or not, with GNU tar.
fn untar(archive: &Path, into: &Path) {
    let output = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .arg("--no-same-owner")
        .output()
        .expect("run tar");
    assert!(
        output.status.success(),
        "tar -xf {}: {}",
        archive.display(),
        text(&output.stderr)
    );
}

/// Searches the engine's BuildKit folder, which contains the build cache,
/// the cache's metadata and the build history records. Returns `None`,
/// with the reason printed, when the folder is not readable from here.
fn find_in_engine_state(engine: &Engine, secrets: &[&str]) -> Option<Vec<String>> {
    let root = engine.run(["info", "--format", "{{.DockerRootDir}}"]);
    let buildkit = PathBuf::from(text(&root.stdout).trim()).join("buildkit");
    if std::fs::read_dir(&buildkit).is_err() {
        eprintln!(
            "the engine's BuildKit folder {} is not readable here, so its build cache is not searched",
            buildkit.display()
        );
        return None;
    }
    let (found, files) = find_in_tree(&buildkit, secrets);
    assert!(files > 0, "no files in {}", buildkit.display());
    Some(found)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn assert_nothing_found(what: &str, found: &[String]) {
    assert!(found.is_empty(), "{what}: secret found in:\n{}", found.join("\n"));
}

/// The spec of both secret tests: one file secret and one env secret, each
/// mounted into a run step that stores only the value's SHA-256, so the
/// test can tell that the value arrived.
const SECRET_SPEC: &str = r#"
secret "file_token" required=#true
secret "env_token" required=#true

stage "build" from="alpine:3" {
    run "sha256sum /run/secrets/file_token | cut -d' ' -f1 > /file_token.sha256" {
        secret "file_token"
    }
    run "printf %s \"$ENV_TOKEN\" | sha256sum | cut -d' ' -f1 > /env_token.sha256" {
        secret "env_token" env="ENV_TOKEN"
    }
}

image "build" tag="stagec-secrets/llb:1"
"#;

#[test]
fn llb_build_keeps_secrets_out() {
    let Some(engine) = engine_or_skip("llb_build_keeps_secrets_out") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.kdl"), SECRET_SPEC).expect("write spec");
    let file_secret = unique_secret("file");
    let env_secret = unique_secret("env");
    let secrets_dir = tempfile::tempdir().expect("temp dir");
    let secret_file = secrets_dir.path().join("token");
    std::fs::write(&secret_file, &file_secret).expect("write secret");
    let secrets = [file_secret.as_str(), env_secret.as_str()];

    let mut printed = Vec::new();
    for progress in ["plain", "rawjson"] {
        let output = stagec()
            .current_dir(dir.path())
            .args([
                "build",
                "app.kdl",
                "--network",
                "none",
                "--no-cache",
                "--progress",
                progress,
            ])
            .args(["--metadata-file", "metadata.json"])
            .arg("--secret")
            .arg(format!("id=file_token,src={}", secret_file.display()))
            .args(["--secret", "id=env_token,env=STAGEC_TEST_ENV_TOKEN"])
            .env("STAGEC_TEST_ENV_TOKEN", &env_secret)
            .env("RUST_LOG", "stagec=debug")
            .output()
            .expect("run stagec build");
        assert_success(&format!("stagec build --progress {progress}"), &output);
        printed.extend(find_in(
            &format!("stdout of --progress {progress}"),
            &output.stdout,
            &secrets,
        ));
        printed.extend(find_in(
            &format!("stderr of --progress {progress}"),
            &output.stderr,
            &secrets,
        ));
    }
    assert_nothing_found("stagec build output", &printed);

    // The values reached the steps.
    let stored = engine.run_image(
        "stagec-secrets/llb:1",
        &["cat", "/file_token.sha256", "/env_token.sha256"],
    );
    let expected = format!(
        "{}\n{}\n",
        sha256_hex(file_secret.as_bytes()),
        sha256_hex(env_secret.as_bytes())
    );
    assert_eq!(stored, expected, "the steps read other values than the secrets");

    let mut found = Vec::new();
    for file in ["app.kdl.lock", "metadata.json"] {
        let bytes = std::fs::read(dir.path().join(file)).expect("stagec wrote the file");
        found.extend(find_in(file, &bytes, &secrets));
    }
    for args in [
        &["llb", "app.kdl"][..],
        &["llb", "app.kdl", "--format", "json"],
        &["dockerfile", "app.kdl", "--dockerfile-syntax", "1.10"],
    ] {
        let output = stagec()
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("run stagec");
        assert_success(&args.join(" "), &output);
        found.extend(find_in(&args.join(" "), &output.stdout, &secrets));
    }
    found.extend(find_in_saved_image(&engine, "stagec-secrets/llb:1", &secrets));
    found.extend(find_in_engine_state(&engine, &secrets).unwrap_or_default());
    assert_nothing_found("stagec build", &found);
}

/// Returns the DOCKER_HOST of the engine with the containerd image store,
/// which can export a `type=local` cache (the classic store's engine cannot).
/// Without it the test is skipped with the reason printed, or fails when
/// STAGEC_E2E=1, because CI always starts that engine.
fn containerd_engine_or_skip(test: &str) -> Option<String> {
    if let Ok(host) = std::env::var("STAGEC_CONTAINERD_DOCKER_HOST")
        && !host.is_empty()
    {
        return Some(host);
    }
    let reason = "STAGEC_CONTAINERD_DOCKER_HOST is not set, so no engine with the containerd image store \
                  can export the build cache (scripts/test.sh starts one and sets it)";
    if std::env::var("STAGEC_E2E").is_ok_and(|value| value == "1") {
        panic!("{test}: STAGEC_E2E=1 but {reason}");
    }
    eprintln!("{test}: skipped, {reason}");
    None
}

/// Searches `root` with `find_in_tree`, then unpacks every tar file below
/// it (plain, gzip or zstd, as the layer blobs of an OCI layout are) and
/// searches the unpacked files too. Returns what was found and the folders
/// the layers were unpacked into, which live as long as `scratch`.
fn find_in_blobs(root: &Path, scratch: &Path, secrets: &[&str]) -> (Vec<String>, Vec<PathBuf>) {
    let (mut found, files) = find_in_tree(root, secrets);
    assert!(files > 0, "no files in {}", root.display());

    let mut layers = Vec::new();
    let (blobs, _) = list_files(root);
    for blob in blobs {
        if !is_tar(&blob) {
            continue;
        }
        let target = scratch.join(format!("layer-{}", layers.len()));
        std::fs::create_dir(&target).expect("mkdir");
        untar(&blob, &target);
        let (in_layer, _) = find_in_tree(&target, secrets);
        found.extend(
            in_layer
                .into_iter()
                .map(|place| format!("{place}, unpacked from {}", blob.display())),
        );
        layers.push(target);
    }
    (found, layers)
}

/// Returns whether GNU tar can list `path` as an archive, compressed or not.
fn is_tar(path: &Path) -> bool {
    Command::new("tar")
        .arg("-tf")
        .arg(path)
        .output()
        .is_ok_and(|output| output.status.success() && !output.stdout.is_empty())
}

/// Returns whether a file below `root` contains `needle`.
fn tree_contains(root: &Path, needle: &str) -> bool {
    Command::new("grep")
        .args(["-r", "-a", "-q", "-F", "--", needle])
        .arg(root)
        .status()
        .is_ok_and(|status| status.success())
}

/// Builds the secret spec on the engine with the containerd image store
/// with `--cache-to type=local,mode=max`, `--cache-to type=inline` and
/// `-o type=oci`, then searches every blob of the cache folder and of the
/// OCI archive, with the layers unpacked. The run steps' outputs (the
/// secrets' SHA-256) must be in the exported layers, which shows that the
/// search reaches the files of the steps, and the secrets must not.
#[test]
fn cache_export_keeps_secrets_out() {
    let test = "cache_export_keeps_secrets_out";
    let Some(host) = containerd_engine_or_skip(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.kdl"), SECRET_SPEC).expect("write spec");
    let file_secret = unique_secret("cache-file");
    let env_secret = unique_secret("cache-env");
    let secrets_dir = tempfile::tempdir().expect("temp dir");
    let secret_file = secrets_dir.path().join("token");
    std::fs::write(&secret_file, &file_secret).expect("write secret");
    let secrets = [file_secret.as_str(), env_secret.as_str()];

    let cache = dir.path().join("cache");
    let archive = dir.path().join("image.tar");
    // --no-cache makes the steps run with this test's secrets, and the
    // records of that run are what the cache export writes.
    let output = stagec()
        .current_dir(dir.path())
        .env("DOCKER_HOST", &host)
        .args([
            "build",
            "app.kdl",
            "--network",
            "none",
            "--no-cache",
            "--progress",
            "plain",
        ])
        .arg("--cache-to")
        .arg(format!("type=local,dest={},mode=max", cache.display()))
        .args(["--cache-to", "type=inline"])
        .arg("-o")
        .arg(format!("type=oci,dest={}", archive.display()))
        .arg("--secret")
        .arg(format!("id=file_token,src={}", secret_file.display()))
        .args(["--secret", "id=env_token,env=STAGEC_TEST_ENV_TOKEN"])
        .env("STAGEC_TEST_ENV_TOKEN", &env_secret)
        .env("RUST_LOG", "stagec=debug")
        .output()
        .expect("run stagec build");
    assert_success("stagec build --cache-to type=local", &output);
    let mut found = find_in("stdout of stagec build --cache-to", &output.stdout, &secrets);
    found.extend(find_in("stderr of stagec build --cache-to", &output.stderr, &secrets));

    let scratch = tempfile::tempdir().expect("temp dir");
    let cache_layers = scratch.path().join("cache");
    std::fs::create_dir(&cache_layers).expect("mkdir");
    let (in_cache, layers) = find_in_blobs(&cache, &cache_layers, &secrets);
    found.extend(in_cache);
    assert!(!layers.is_empty(), "the local cache export has no layer blobs");
    for hash in [sha256_hex(file_secret.as_bytes()), sha256_hex(env_secret.as_bytes())] {
        assert!(
            tree_contains(&cache_layers, &hash),
            "no layer of the cache export contains the run step's output {hash}"
        );
    }

    let oci = scratch.path().join("oci");
    std::fs::create_dir(&oci).expect("mkdir");
    untar(&archive, &oci);
    found.extend(find_in(
        "the OCI archive",
        &std::fs::read(&archive).expect("read the OCI archive"),
        &secrets,
    ));
    let oci_layers = scratch.path().join("oci-layers");
    std::fs::create_dir(&oci_layers).expect("mkdir");
    let (in_oci, layers) = find_in_blobs(&oci, &oci_layers, &secrets);
    found.extend(in_oci);
    assert!(!layers.is_empty(), "the OCI archive has no layer blobs");
    assert!(
        tree_contains(&oci_layers, &sha256_hex(file_secret.as_bytes())),
        "no layer of the OCI archive contains the run step's output"
    );
    assert_nothing_found("stagec build --cache-to type=local", &found);
}

#[test]
fn dockerfile_build_keeps_secrets_out() {
    let Some(engine) = engine_or_skip("dockerfile_build_keeps_secrets_out") else {
        return;
    };
    // Docker's frontend 1.2 mounts secrets as files only, so both secrets
    // are files here; `env=` of the docker client is still the source.
    let spec = r#"
secret "file_token" required=#true
secret "env_token" required=#true

stage "build" from="alpine:3" {
    run "sha256sum /run/secrets/file_token /run/secrets/env_token | cut -d' ' -f1 > /tokens.sha256" {
        secret "file_token"
        secret "env_token"
    }
}

image "build" tag="stagec-secrets/dockerfile:1"
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.kdl"), spec).expect("write spec");
    let output = stagec()
        .current_dir(dir.path())
        .args(["dockerfile", "app.kdl", "-o", "Dockerfile"])
        .output()
        .expect("run stagec dockerfile");
    assert_success("stagec dockerfile", &output);

    let file_secret = unique_secret("dockerfile-file");
    let env_secret = unique_secret("dockerfile-env");
    let secrets_dir = tempfile::tempdir().expect("temp dir");
    let secret_file = secrets_dir.path().join("token");
    std::fs::write(&secret_file, &file_secret).expect("write secret");
    let secrets = [file_secret.as_str(), env_secret.as_str()];

    // The docker 26.1 client has buildx, whose --secret takes env= sources,
    // while the 20.10 client takes files only.
    let buildx = Path::new("/opt/stagec-engine/docker-26/usr/bin/docker");
    let mut command = if buildx.exists() {
        let mut command = Command::new(buildx);
        command.env("DOCKER_CONFIG", "/opt/stagec-engine/docker-26/client-config");
        command.args(["buildx", "build"]);
        command.arg("--secret").arg("id=env_token,env=STAGEC_TEST_ENV_TOKEN");
        command
    } else {
        let env_file = secrets_dir.path().join("env-token");
        std::fs::write(&env_file, &env_secret).expect("write secret");
        let mut command = engine.command(["build"]);
        command
            .arg("--secret")
            .arg(format!("id=env_token,src={}", env_file.display()));
        command
    };
    let output = command
        .env("DOCKER_BUILDKIT", "1")
        .env("STAGEC_TEST_ENV_TOKEN", &env_secret)
        .arg("--secret")
        .arg(format!("id=file_token,src={}", secret_file.display()))
        .args([
            "--network",
            "none",
            "--no-cache",
            "--progress",
            "plain",
            "-t",
            "stagec-secrets/dockerfile:1",
        ])
        .args(["-f", "Dockerfile", "."])
        .current_dir(dir.path())
        .output()
        .expect("run docker build");
    assert_success("docker build", &output);
    let mut found = find_in("docker build output", &output.stderr, &secrets);

    let stored = engine.run_image("stagec-secrets/dockerfile:1", &["cat", "/tokens.sha256"]);
    let expected = format!(
        "{}\n{}\n",
        sha256_hex(file_secret.as_bytes()),
        sha256_hex(env_secret.as_bytes())
    );
    assert_eq!(stored, expected, "the step read other values than the secrets");

    for file in ["Dockerfile", "Dockerfile.dockerignore"] {
        let bytes = std::fs::read(dir.path().join(file)).expect("stagec wrote the file");
        found.extend(find_in(file, &bytes, &secrets));
    }
    found.extend(find_in_saved_image(&engine, "stagec-secrets/dockerfile:1", &secrets));
    found.extend(find_in_engine_state(&engine, &secrets).unwrap_or_default());
    assert_nothing_found("docker build", &found);
}

/// Checks that the search finds a value that a step copies into the image,
/// as the spec's author may do on purpose. Without this check, the tests
/// above could pass with a search that finds nothing.
#[test]
fn secret_copied_by_step_is_found() {
    let Some(engine) = engine_or_skip("secret_copied_by_step_is_found") else {
        return;
    };
    let spec = r#"
secret "leak"
stage "build" from="alpine:3" {
    run "cat /run/secrets/leak > /leaked" {
        secret "leak"
    }
}
image "build" tag="stagec-secrets/leak:1"
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.kdl"), spec).expect("write spec");
    let secret = unique_secret("leaked");
    let output = stagec()
        .current_dir(dir.path())
        .args([
            "build",
            "app.kdl",
            "--network",
            "none",
            "--no-cache",
            "--progress",
            "plain",
        ])
        .args(["--secret", "id=leak,env=STAGEC_TEST_LEAK"])
        .env("STAGEC_TEST_LEAK", &secret)
        .output()
        .expect("run stagec build");
    assert_success("stagec build", &output);

    let found = find_in_saved_image(&engine, "stagec-secrets/leak:1", &[&secret]);
    assert!(
        found
            .iter()
            .any(|place| place.contains("layer-") && place.contains("(raw of")),
        "the search missed the value in a layer; found: {found:?}"
    );
    // The step's command names only the path, so the config stays clean.
    assert!(
        !found
            .iter()
            .any(|place| place.starts_with("docker history") || place.starts_with("docker image inspect")),
        "{found:?}"
    );
}

#[test]
fn failed_build_keeps_secret_out_of_errors() {
    let Some(_engine) = engine_or_skip("failed_build_keeps_secret_out_of_errors") else {
        return;
    };
    let spec = r#"
secret "token" required=#true
stage "build" from="alpine:3" {
    run "test -s /run/secrets/token && echo the step fails >&2 && exit 3" {
        secret "token"
    }
}
image "build" tag="stagec-secrets/failed:1"
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.kdl"), spec).expect("write spec");
    let secret = unique_secret("failed");
    let secrets_dir = tempfile::tempdir().expect("temp dir");
    let secret_file = secrets_dir.path().join("token");
    std::fs::write(&secret_file, &secret).expect("write secret");

    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "failing step",
            vec![format!("id=token,src={}", secret_file.display())],
            "the step fails",
        ),
        (
            "unset variable",
            vec!["id=token,env=STAGEC_TEST_UNSET_TOKEN".to_string()],
            "STAGEC_TEST_UNSET_TOKEN",
        ),
        (
            "missing file",
            vec!["id=token,src=/nonexistent/token".to_string()],
            "/nonexistent/token",
        ),
        ("secret not given", Vec::new(), "token"),
    ];
    for (case, flags, expected) in cases {
        let mut command = stagec();
        command
            .current_dir(dir.path())
            .args([
                "build",
                "app.kdl",
                "--network",
                "none",
                "--no-cache",
                "--progress",
                "plain",
            ])
            .env("STAGEC_TEST_SET_TOKEN", &secret)
            .env_remove("STAGEC_TEST_UNSET_TOKEN");
        for flag in &flags {
            command.arg("--secret").arg(flag);
        }
        let output = command.output().expect("run stagec build");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{case}: exit status\n{stderr}");
        assert!(
            stderr.contains(expected),
            "{case}: stderr lacks {expected:?}:\n{stderr}"
        );
        let found = find_in(case, &output.stderr, &[&secret]);
        let found_stdout = find_in(case, &output.stdout, &[&secret]);
        assert_nothing_found(case, &found);
        assert_nothing_found(case, &found_stdout);
    }
}

#[test]
fn secret_like_names_are_flagged() {
    let spec = r#"
arg "GITHUB_TOKEN"
stage "build" from="alpine:3" {
    arg "GITHUB_TOKEN"
    env DB_PASSWORD="hunter2" KEYBOARD="us"
    run "true" {
        env awsSecretAccessKey="x"
    }
}
image "build" tag="stagec-secrets/names:1"
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.kdl"), spec).expect("write spec");
    let output = stagec()
        .current_dir(dir.path())
        .args(["check", "app.kdl", "--message-format", "json"])
        .output()
        .expect("run stagec check");
    // Diagnostics go to stderr, in every message format.
    let stderr = text(&output.stderr);
    let flagged: Vec<String> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|diagnostic| diagnostic["code"] == "SC0604")
        .map(|diagnostic| diagnostic["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        flagged,
        [
            "build arg `GITHUB_TOKEN` looks like a credential",
            "build arg `GITHUB_TOKEN` looks like a credential",
            "env var `DB_PASSWORD` looks like a credential",
            "env var `awsSecretAccessKey` looks like a credential",
        ],
        "stderr:\n{stderr}"
    );
}
