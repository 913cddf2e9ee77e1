//! End to end: for every example, the Dockerfile that `stagec dockerfile`
//! writes, imported with `stagec import` and compiled again with `stagec
//! dockerfile`, builds an image with the same file tree and config as the
//! original Dockerfile. Skipped without an engine, unless STAGEC_E2E=1.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use support::engine::{Engine, engine_or_skip};

fn stagec() -> Command {
    let mut command = Command::cargo_bin("stagec").expect("stagec binary");
    command.env_remove("RUST_LOG").env("NO_COLOR", "1");
    command
}

/// The examples that can be built offline: those with a committed lock
/// file. rust-cross has none, because no `rust` base image exists offline.
fn examples() -> Vec<PathBuf> {
    let mut examples: Vec<PathBuf> = std::fs::read_dir("specs/examples")
        .expect("examples")
        .map(|entry| entry.expect("example").path())
        .filter(|path| path.join("app.kdl").is_file() && path.join("app.kdl.lock").is_file())
        .collect();
    examples.sort();
    examples
}

/// Writes the Dockerfile (and its ignore file) for `spec` to `dockerfile`.
fn write_dockerfile(spec: &Path, context: &Path, dockerfile: &Path) {
    stagec()
        .arg("dockerfile")
        .arg(spec)
        .arg("--context")
        .arg(context)
        .arg("-o")
        .arg(dockerfile)
        .assert()
        .success();
}

/// Returns the image config fields that a Dockerfile sets.
fn config(engine: &Engine, image: &str) -> String {
    engine.inspect(
        image,
        "{{json .Config.Cmd}} {{json .Config.Entrypoint}} {{json .Config.Env}} {{json .Config.User}} \
         {{json .Config.WorkingDir}} {{json .Config.ExposedPorts}} {{json .Config.Labels}} \
         {{json .Config.Healthcheck}} {{json .Config.Volumes}} {{json .Config.StopSignal}}",
    )
}

/// Lists the files of `image` with type, mode, owner, size and path, from
/// `docker export` of a container, leaving out modification times.
fn file_tree(engine: &Engine, image: &str, scratch: &Path) -> Vec<String> {
    let created = engine.run(["create", image, "/none"]);
    let container = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let archive = scratch.join(format!("{container}.tar"));
    engine.run([
        OsStr::new("export"),
        OsStr::new("-o"),
        archive.as_os_str(),
        OsStr::new(&container),
    ]);
    engine.run(["rm", &container]);

    let listing = std::process::Command::new("tar")
        .arg("--numeric-owner")
        .arg("-tvf")
        .arg(&archive)
        .output()
        .expect("run tar");
    assert!(
        listing.status.success(),
        "tar failed: {}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let mut entries: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|line| {
            // Columns: mode, uid/gid, size, date, time, path...
            let columns: Vec<&str> = line.split_whitespace().collect();
            let mut kept: Vec<&str> = columns.iter().take(3).copied().collect();
            kept.extend(columns.iter().skip(5));
            kept.join(" ")
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn examples_round_trip_through_import_build_same_image() {
    let Some(engine) = engine_or_skip("examples_round_trip_through_import_build_same_image") else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");

    for example in examples() {
        let name = example
            .file_name()
            .expect("example name")
            .to_string_lossy()
            .into_owned();
        let original = scratch.path().join(format!("{name}.Dockerfile"));
        write_dockerfile(&example.join("app.kdl"), &example, &original);

        let imported = scratch.path().join(format!("{name}.kdl"));
        stagec()
            .arg("import")
            .arg(&original)
            .arg("-o")
            .arg(&imported)
            .assert()
            .success();
        let again = scratch.path().join(format!("{name}.again.Dockerfile"));
        write_dockerfile(&imported, &example, &again);

        let original_tag = format!("stagec-e2e/import-{name}:original");
        let again_tag = format!("stagec-e2e/import-{name}:imported");
        engine.build(&original, &example, &original_tag, None);
        engine.build(&again, &example, &again_tag, None);

        assert_eq!(
            config(&engine, &again_tag),
            config(&engine, &original_tag),
            "{name}: image configs differ"
        );
        let original_files = file_tree(&engine, &original_tag, scratch.path());
        assert!(original_files.len() > 1, "{name}: the export lists no files");
        assert_eq!(
            file_tree(&engine, &again_tag, scratch.path()),
            original_files,
            "{name}: file trees differ"
        );
    }
}
