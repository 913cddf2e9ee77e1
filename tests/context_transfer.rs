//! Build context transfer on a real Docker Engine: `stagec build` sends
//! through the session's FileSync only the context files that the spec
//! reads. The go-web example, copied next to 500 MB of files that it does
//! not read, must send less than 1 MB, as `stagec.context.bytes_sent` in
//! the `--metadata-file` output reports it.
//!
//! Whether the unused files make the build slower is measured by
//! scripts/bench-context.sh, which prints the ratio of the median build
//! times, because a timed assertion would fail on a busy machine.
//!
//! Skipped without an engine, unless STAGEC_E2E=1, which makes a missing
//! engine fail.

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use support::engine::engine_or_skip;

/// Upper limit of the bytes sent for a context whose unused files add up to 500 MB.
const MAX_BYTES_SENT: u64 = 1_000_000;

/// The unused files: 50 files of 10 MiB (524 MB) of random bytes, so that
/// no compression on the way could hide a transfer of their content.
const BLOB_COUNT: usize = 50;
const BLOB_BYTES: usize = 10 * 1024 * 1024;

/// Plus a tree of 5,000 small files, 250 in each of 20 nested folders, for
/// the cost of listing many entries.
const TREE_DEPTH: usize = 20;
const FILES_PER_FOLDER: usize = 250;
const SMALL_FILE_BYTES: usize = 512;

/// The files of the go-web example that its spec copies into the build.
const USED_FILES: [&str; 2] = ["go.mod", "main.go"];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("the stagec binary")
}

/// Copies the go-web example (spec, lock file and sources) into `dir`.
fn copy_go_web(dir: &Path) {
    let example = repo_root().join("specs/examples/go-web");
    for name in ["app.kdl", "app.kdl.lock", "README.md", "go.mod", "main.go"] {
        fs::copy(example.join(name), dir.join(name)).unwrap_or_else(|error| panic!("copying {name}: {error}"));
    }
}

/// Fills `buffer` with pseudo-random bytes from SplitMix64, which is fast
/// and, unlike zeros, does not compress.
fn fill_random(buffer: &mut [u8], seed: &mut u64) {
    for chunk in buffer.chunks_mut(8) {
        *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut value = *seed;
        value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        value ^= value >> 31;
        chunk.copy_from_slice(&value.to_le_bytes()[..chunk.len()]);
    }
}

fn write_random_file(path: &Path, bytes: usize, seed: &mut u64) {
    let mut file = fs::File::create(path).unwrap_or_else(|error| panic!("creating {}: {error}", path.display()));
    let mut buffer = vec![0u8; 1024 * 1024];
    let mut left = bytes;
    while left > 0 {
        let length = left.min(buffer.len());
        fill_random(&mut buffer[..length], seed);
        file.write_all(&buffer[..length])
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        left -= length;
    }
}

/// Adds the unused files to `dir` and returns their total size. Two of the
/// large files sit beside the used ones, with names that start like them.
fn add_unused_files(dir: &Path) -> u64 {
    let mut seed = 1;
    let mut total = 0;

    let blobs = dir.join("unused/blobs");
    fs::create_dir_all(&blobs).expect("creating unused/blobs");
    for index in 0..BLOB_COUNT {
        let path = match index {
            0 => dir.join("main.go.orig"),
            1 => dir.join("go.mod.bak"),
            _ => blobs.join(format!("blob-{index:02}.bin")),
        };
        write_random_file(&path, BLOB_BYTES, &mut seed);
        total += BLOB_BYTES as u64;
    }

    let mut folder = dir.join("unused/tree");
    for level in 0..TREE_DEPTH {
        folder.push(format!("level-{level:02}"));
        fs::create_dir_all(&folder).expect("creating the small-file tree");
        for index in 0..FILES_PER_FOLDER {
            write_random_file(
                &folder.join(format!("file-{index:03}.txt")),
                SMALL_FILE_BYTES,
                &mut seed,
            );
            total += SMALL_FILE_BYTES as u64;
        }
    }
    total
}

/// The result of one `stagec build`.
struct Built {
    image_id: String,
    metadata: serde_json::Value,
    duration: Duration,
}

impl Built {
    fn bytes_sent(&self) -> u64 {
        self.metadata["stagec.context.bytes_sent"].as_u64().unwrap_or_else(|| {
            panic!(
                "stagec.context.bytes_sent is missing or not a number: {}",
                self.metadata
            )
        })
    }
}

/// Builds the spec in `dir` offline with `extra_args` and returns the image
/// ID, the `--metadata-file` output and the wall time.
fn build(dir: &Path, tag: &str, extra_args: &[&str]) -> Built {
    let metadata_file = dir.join("metadata.json");
    let started = Instant::now();
    let output = stagec()
        .args([
            "build",
            "--network",
            "none",
            "--progress",
            "plain",
            "-t",
            tag,
            "--metadata-file",
        ])
        .arg(&metadata_file)
        .args(extra_args)
        .arg(dir.join("app.kdl"))
        .output()
        .expect("runs stagec");
    let duration = started.elapsed();
    assert!(
        output.status.success(),
        "stagec build in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );

    let text = fs::read_to_string(&metadata_file)
        .unwrap_or_else(|error| panic!("reading {}: {error}", metadata_file.display()));
    let metadata = serde_json::from_str(&text).unwrap_or_else(|error| panic!("metadata is not JSON ({error}): {text}"));
    Built {
        image_id: String::from_utf8_lossy(&output.stdout).trim().to_string(),
        metadata,
        duration,
    }
}

#[test]
fn unused_context_files_not_sent() {
    let Some(_engine) = engine_or_skip("unused_context_files_not_sent") else {
        return;
    };

    let plain = tempfile::tempdir().expect("temp dir");
    copy_go_web(plain.path());
    let padded = tempfile::tempdir().expect("temp dir");
    copy_go_web(padded.path());
    let unused_bytes = add_unused_files(padded.path());
    assert!(unused_bytes >= 500_000_000, "only {unused_bytes} bytes of unused files");

    // Both builds send their context in full: --no-cache makes the engine
    // read the context again, and each temporary folder gets its own session
    // shared key, so the engine has no copy of it from an earlier build.
    let without = build(plain.path(), "stagec-e2e-context/plain:1", &["--no-cache"]);
    let with = build(padded.path(), "stagec-e2e-context/padded:1", &["--no-cache"]);
    eprintln!(
        "context without unused files: {} bytes sent, build {:.2} s",
        without.bytes_sent(),
        without.duration.as_secs_f64()
    );
    eprintln!(
        "context with {unused_bytes} bytes of unused files: {} bytes sent, build {:.2} s",
        with.bytes_sent(),
        with.duration.as_secs_f64()
    );

    assert!(
        with.bytes_sent() < MAX_BYTES_SENT,
        "{} bytes sent for a context with unused files, expected under {MAX_BYTES_SENT}",
        with.bytes_sent()
    );

    // The count must include the content of the files that the spec reads,
    // or it would pass without measuring anything.
    let used_bytes: u64 = USED_FILES
        .iter()
        .map(|name| fs::metadata(plain.path().join(name)).expect("a used file").len())
        .sum();
    assert!(
        without.bytes_sent() >= used_bytes,
        "{} bytes sent, less than the {used_bytes} bytes of {USED_FILES:?}",
        without.bytes_sent()
    );

    // Not even the entries of the unused files are listed: both contexts
    // send the same stats and contents, whose encoded sizes differ at most
    // by a few bytes of timestamps.
    let extra = with.bytes_sent().abs_diff(without.bytes_sent());
    assert!(
        extra <= 64,
        "the unused files changed the bytes sent by {extra} (from {} to {})",
        without.bytes_sent(),
        with.bytes_sent()
    );
}

#[test]
fn metadata_file_names_image() {
    let Some(engine) = engine_or_skip("metadata_file_names_image") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    copy_go_web(dir.path());

    let tag = "stagec-e2e-context/metadata:1";
    let built = build(dir.path(), tag, &[]);
    assert!(
        built.image_id.starts_with("sha256:"),
        "stdout is not an image ID: {:?}",
        built.image_id
    );
    assert_eq!(built.metadata["containerimage.config.digest"], built.image_id.as_str());
    assert_eq!(built.metadata["containerimage.digest"], built.image_id.as_str());
    assert_eq!(built.metadata["image.name"], format!("docker.io/{tag}").as_str());
    assert!(built.bytes_sent() > 0, "no context bytes reported: {}", built.metadata);
    assert_eq!(engine.inspect(tag, "{{.Id}}"), built.image_id);
}

#[test]
fn metadata_file_absent_after_failure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("app.kdl");
    fs::write(
        &spec,
        "stage \"app\" from=\"alpine:3\" {\n    bogus \"x\"\n}\nimage \"app\" tag=\"app:1\"\n",
    )
    .expect("writing the spec");
    let metadata_file = dir.path().join("metadata.json");

    let output = stagec()
        .env("DOCKER_HOST", "unix:///nonexistent/stagec-test.sock")
        .args(["build", "--metadata-file"])
        .arg(&metadata_file)
        .arg(&spec)
        .output()
        .expect("runs stagec");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !metadata_file.exists(),
        "a failed build wrote {}",
        metadata_file.display()
    );
}
