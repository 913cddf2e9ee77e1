//! End to end on a real Docker Engine: every image output of every example
//! is built twice, with `stagec build` (LLB, no Dockerfile) and with
//! `docker build` of `stagec dockerfile`'s output. The two images must have
//! the same files (path, type, mode, owner, content digest, link target)
//! and the same configuration. Skipped without an engine, unless
//! STAGEC_E2E=1, which makes a missing engine fail.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use assert_cmd::Command;
use sha2::{Digest, Sha256};
use support::engine::{Engine, engine_or_skip};

/// The image config fields that must match.
const CONFIG_FIELDS: [&str; 10] = [
    "Cmd",
    "Entrypoint",
    "Env",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Labels",
    "Healthcheck",
    "Volumes",
    "StopSignal",
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("the stagec binary")
}

/// Returns the stage of every `image` output of the example, in spec order.
fn image_stages(example: &str) -> Vec<String> {
    let source = fs::read_to_string(repo_root().join(format!("specs/examples/{example}/app.kdl"))).expect("readable");
    let spec = stagec::compile::check(&source).spec.expect("a spec");
    spec.images.iter().map(|image| image.stage.value.clone()).collect()
}

/// Builds `stage` of `example` with `stagec build` and returns the tag.
fn build_with_llb(example: &str, stage: &str) -> String {
    let tag = format!("stagec-e2e-llb/{example}-{stage}:llb");
    let spec = repo_root().join(format!("specs/examples/{example}/app.kdl"));
    let output = stagec()
        .args([
            "build",
            "--network",
            "none",
            "--progress",
            "plain",
            "--target",
            stage,
            "-t",
            &tag,
        ])
        .arg(&spec)
        .output()
        .expect("runs stagec");
    assert!(
        output.status.success(),
        "stagec build of {example} ({stage}) failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.trim().starts_with("sha256:"),
        "stagec build prints the image ID, not {printed:?}"
    );
    tag
}

/// Builds `stage` of `example` from `stagec dockerfile`'s output and returns the tag.
fn build_with_dockerfile(engine: &Engine, example: &str, stage: &str) -> String {
    let tag = format!("stagec-e2e-llb/{example}-{stage}:dockerfile");
    let out = tempfile::tempdir().expect("temp dir");
    let dockerfile = out.path().join("Dockerfile");
    let spec = repo_root().join(format!("specs/examples/{example}/app.kdl"));
    stagec()
        .args(["dockerfile", "--target", stage, "-o"])
        .arg(&dockerfile)
        .arg(&spec)
        .assert()
        .success();
    engine.build(
        &dockerfile,
        &repo_root().join(format!("specs/examples/{example}")),
        &tag,
        Some(stage),
    );
    tag
}

fn config(engine: &Engine, image: &str) -> BTreeMap<String, serde_json::Value> {
    let text = engine.inspect(image, "{{json .Config}}");
    let config: serde_json::Value = serde_json::from_str(&text).expect("the config is JSON");
    CONFIG_FIELDS
        .iter()
        .map(|field| {
            (
                field.to_string(),
                config.get(*field).cloned().unwrap_or(serde_json::Value::Null),
            )
        })
        .collect()
}

/// One entry of an exported file system: type, mode, uid:gid, then the
/// content digest or link target.
type Tree = BTreeMap<String, String>;

/// Returns the files of `image`, read from `docker export` of a container
/// that is created and never started.
fn file_tree(engine: &Engine, image: &str) -> Tree {
    let created = engine.run(["create", image, "/nonexistent-command"]);
    let container = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let exported = engine.run(["export", &container]);
    engine.run(["rm", &container]);
    parse_tar(&exported.stdout)
}

/// Reads a tar stream as Go's archive/tar writes it (ustar, with PAX
/// records for long names) into a [`Tree`].
fn parse_tar(data: &[u8]) -> Tree {
    let mut tree = Tree::new();
    let mut offset = 0;
    let mut pax: BTreeMap<String, String> = BTreeMap::new();
    while offset + 512 <= data.len() {
        let header = &data[offset..offset + 512];
        if header.iter().all(|&byte| byte == 0) {
            break;
        }
        let text = |range: std::ops::Range<usize>| {
            let field = &header[range];
            let end = field.iter().position(|&byte| byte == 0).unwrap_or(field.len());
            String::from_utf8_lossy(&field[..end]).into_owned()
        };
        let octal = |range: std::ops::Range<usize>| u64::from_str_radix(text(range).trim(), 8).unwrap_or(0);
        let size = pax
            .get("size")
            .and_then(|size| size.parse().ok())
            .unwrap_or_else(|| octal(124..136)) as usize;
        let kind = header[156];
        let body_start = offset + 512;
        let body = &data[body_start..(body_start + size).min(data.len())];
        offset = body_start + size.div_ceil(512) * 512;

        if kind == b'x' {
            pax = parse_pax(body);
            continue;
        }
        if kind == b'g' {
            continue;
        }
        let prefix = text(345..500);
        let name = text(0..100);
        let path = pax.get("path").cloned().unwrap_or_else(|| {
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            }
        });
        let link = pax.get("linkpath").cloned().unwrap_or_else(|| text(157..257));
        let uid = pax.get("uid").cloned().unwrap_or_else(|| octal(108..116).to_string());
        let gid = pax.get("gid").cloned().unwrap_or_else(|| octal(116..124).to_string());
        let mode = octal(100..108) & 0o7777;
        let what = match kind {
            b'0' | 0 => format!("file {:x}", Sha256::digest(body)),
            b'1' => format!("hardlink {link}"),
            b'2' => format!("symlink {link}"),
            b'5' => "dir".to_string(),
            other => format!("type {}", other as char),
        };
        let path = format!("/{}", path.trim_start_matches("./").trim_end_matches('/'));
        tree.insert(path, format!("{what} mode {mode:04o} owner {uid}:{gid}"));
        pax.clear();
    }
    tree
}

/// Parses PAX records: `LENGTH key=value\n`.
fn parse_pax(body: &[u8]) -> BTreeMap<String, String> {
    let mut records = BTreeMap::new();
    let mut rest = body;
    while let Some(space) = rest.iter().position(|&byte| byte == b' ') {
        let Ok(length) = String::from_utf8_lossy(&rest[..space]).parse::<usize>() else {
            break;
        };
        if length == 0 || length > rest.len() {
            break;
        }
        let record = String::from_utf8_lossy(&rest[space + 1..length])
            .trim_end_matches('\n')
            .to_string();
        if let Some((key, value)) = record.split_once('=') {
            records.insert(key.to_string(), value.to_string());
        }
        rest = &rest[length..];
    }
    records
}

/// Lists the differences between two trees, for the failure message.
fn tree_differences(llb: &Tree, dockerfile: &Tree) -> Vec<String> {
    let mut differences = Vec::new();
    for (path, entry) in llb {
        match dockerfile.get(path) {
            None => differences.push(format!("only in the stagec build: {path} ({entry})")),
            Some(other) if other != entry => {
                differences.push(format!("{path}: stagec build {entry}, docker build {other}"))
            }
            Some(_) => {}
        }
    }
    for (path, entry) in dockerfile {
        if !llb.contains_key(path) {
            differences.push(format!("only in the docker build: {path} ({entry})"));
        }
    }
    differences
}

fn assert_same_image(engine: &Engine, example: &str) {
    for stage in image_stages(example) {
        let llb = build_with_llb(example, &stage);
        let dockerfile = build_with_dockerfile(engine, example, &stage);

        assert_eq!(
            config(engine, &llb),
            config(engine, &dockerfile),
            "{example} ({stage}): image configs differ"
        );
        let llb_tree = file_tree(engine, &llb);
        assert!(
            llb_tree.contains_key("/etc"),
            "{example} ({stage}): the export has no /etc: {llb_tree:?}"
        );
        let differences = tree_differences(&llb_tree, &file_tree(engine, &dockerfile));
        assert!(
            differences.is_empty(),
            "{example} ({stage}): file trees differ:\n{}",
            differences.join("\n")
        );
    }
}

#[test]
fn go_web_same_image_and_runs() {
    let Some(engine) = engine_or_skip("go_web_same_image_and_runs") else {
        return;
    };
    assert_same_image(&engine, "go-web");
    let printed = engine.run_image("stagec-e2e-llb/go-web-runtime:llb", &["/app/main", "-once"]);
    assert_eq!(printed, "go-web: hello from stagec\n");
}

#[test]
fn go_static_scratch_same_image() {
    let Some(engine) = engine_or_skip("go_static_scratch_same_image") else {
        return;
    };
    assert_same_image(&engine, "go-static-scratch");
}

#[test]
fn static_site_same_image() {
    let Some(engine) = engine_or_skip("static_site_same_image") else {
        return;
    };
    assert_same_image(&engine, "static-site");
}

#[test]
fn checked_build_same_image() {
    let Some(engine) = engine_or_skip("checked_build_same_image") else {
        return;
    };
    assert_same_image(&engine, "checked-build");
}

#[test]
fn multi_output_same_images() {
    let Some(engine) = engine_or_skip("multi_output_same_images") else {
        return;
    };
    assert_same_image(&engine, "multi-output");
}

#[test]
fn every_example_is_covered() {
    let mut examples: Vec<String> = fs::read_dir(repo_root().join("specs/examples"))
        .expect("readable examples")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    examples.sort();
    assert_eq!(
        examples,
        [
            "checked-build",
            "go-static-scratch",
            "go-web",
            "multi-output",
            "static-site"
        ]
    );
}

#[test]
fn missing_artifact_points_at_declaration() {
    let Some(_engine) = engine_or_skip("missing_artifact_points_at_declaration") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let example = repo_root().join("specs/examples/go-web");
    for name in ["go.mod", "main.go", "app.kdl.lock"] {
        fs::copy(example.join(name), dir.path().join(name)).expect("copy example file");
    }
    // The build writes /app/main, but the artifact names /app/server.
    let source = fs::read_to_string(example.join("app.kdl")).expect("readable").replace(
        "artifact \"app\" path=\"/app/main\"",
        "artifact \"app\" path=\"/app/server\"",
    );
    let spec = dir.path().join("app.kdl");
    fs::write(&spec, &source).expect("write spec");

    let output = stagec()
        .args([
            "build",
            "--network",
            "none",
            "--progress",
            "quiet",
            "--color",
            "never",
            "-t",
            "stagec-e2e-llb/broken:1",
        ])
        .arg(&spec)
        .output()
        .expect("runs stagec");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SC0903"), "{stderr}");
    assert!(stderr.contains("did not produce `/app/server`"), "{stderr}");
    let line = source
        .lines()
        .position(|line| line.contains("/app/server"))
        .expect("the artifact line")
        + 1;
    assert!(
        stderr.contains(&format!("app.kdl:{line}:")),
        "the diagnostic points at line {line}:\n{stderr}"
    );
}

#[test]
fn failing_run_is_sc0904() {
    let Some(_engine) = engine_or_skip("failing_run_is_sc0904") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let example = repo_root().join("specs/examples/go-web");
    fs::copy(example.join("app.kdl.lock"), dir.path().join("app.kdl.lock")).expect("copy lock");
    let spec = dir.path().join("app.kdl");
    fs::write(&spec, "stage \"app\" from=\"alpine:3\" {\n    run \"echo broken >&2; exit 3\"\n}\nimage \"app\" tag=\"stagec-e2e-llb/fails:1\"\n")
        .expect("write spec");

    let output = stagec()
        .args(["build", "--network", "none", "--progress", "quiet", "--color", "never"])
        .arg(&spec)
        .output()
        .expect("runs stagec");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SC0904"), "{stderr}");
    assert!(stderr.contains("app.kdl:2:"), "points at the run step:\n{stderr}");
    assert!(stderr.contains("broken"), "shows the step's last log lines:\n{stderr}");
}

#[test]
fn parse_tar_reads_ustar_and_pax() {
    fn header(name: &str, kind: u8, size: usize, link: &str) -> Vec<u8> {
        let mut block = vec![0u8; 512];
        block[..name.len()].copy_from_slice(name.as_bytes());
        block[100..107].copy_from_slice(b"0000755");
        block[108..115].copy_from_slice(b"0000001");
        block[116..123].copy_from_slice(b"0000002");
        block[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        block[156] = kind;
        block[157..157 + link.len()].copy_from_slice(link.as_bytes());
        block
    }
    fn padded(body: &[u8]) -> Vec<u8> {
        let mut data = body.to_vec();
        data.resize(body.len().div_ceil(512) * 512, 0);
        data
    }
    let long = format!("dir/{}", "x".repeat(120));
    let record = format!("path={long}\n");
    let pax = format!("{} {record}", record.len() + 4);
    let mut stream = header("dir/", b'5', 0, "");
    stream.extend(header("dir/a", b'0', 3, ""));
    stream.extend(padded(b"abc"));
    stream.extend(header("PaxHeaders/x", b'x', pax.len(), ""));
    stream.extend(padded(pax.as_bytes()));
    stream.extend(header("ignored", b'2', 0, "a"));
    stream.extend(vec![0u8; 1024]);

    let tree = parse_tar(&stream);
    assert_eq!(tree["/dir"], "dir mode 0755 owner 1:2");
    assert_eq!(
        tree["/dir/a"],
        format!("file {:x} mode 0755 owner 1:2", Sha256::digest(b"abc"))
    );
    assert_eq!(tree[&format!("/{long}")], "symlink a mode 0755 owner 1:2");
    assert_eq!(tree.len(), 3);
}
