//! End to end: build cache export and import with `--cache-to` and
//! `--cache-from`. The engine with the containerd image store
//! (STAGEC_CONTAINERD_DOCKER_HOST) exports the cache to the test registry,
//! as a cache manifest (type=registry,mode=max) and inline in a pushed
//! image (type=inline). Then a second engine with a fresh data root, which
//! this test starts and stops, builds the same spec with `--cache-from` and
//! must take the compile step from that cache. The local cache test starts
//! two fresh engines: one exports a `type=local` cache folder, the other
//! builds from it.

mod outputs_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use outputs_support::{
    Registry, containerd_engine_or_skip, copy_example, registry_or_skip, repo_root, run_ok, skip, stagec_build,
};

const EXAMPLE: &str = "go-static-scratch";

/// Name of the compile step of the example in the progress output.
const COMPILE_STEP: &str = "[builder 4/4] RUN go build";

/// Lock that the tests take while they run fresh engines, so that at most
/// one extra engine compiles Go at a time on a small CI machine.
static FRESH_ENGINES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// An engine with the containerd image store and a new data root, stopped
/// when dropped.
struct FreshEngine {
    dir: PathBuf,
    docker_host: String,
}

impl FreshEngine {
    fn start(dir: &Path) -> FreshEngine {
        let scripts = repo_root().join("scripts");
        let started = Command::new(scripts.join("engine-start.sh"))
            .env("STAGEC_ENGINE_DIR", dir)
            .env("STAGEC_ENGINE_CONTAINERD_STORE", "1")
            .env_remove("DOCKER_HOST")
            .output()
            .expect("run engine-start.sh");
        let engine = FreshEngine {
            dir: dir.to_path_buf(),
            docker_host: format!("unix://{}/docker.sock", dir.display()),
        };
        assert!(
            started.status.success(),
            "engine-start.sh failed:\n{}",
            String::from_utf8_lossy(&started.stderr)
        );
        for script in ["base-images.sh", "containerd-store-names.sh"] {
            let output = Command::new(scripts.join(script))
                .env("DOCKER_HOST", &engine.docker_host)
                .env("STAGEC_ENGINE_DIR", dir)
                .output()
                .expect("run a setup script");
            assert!(
                output.status.success(),
                "{script} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        engine
    }
}

impl Drop for FreshEngine {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/engine-stop.sh"))
            .env("STAGEC_ENGINE_DIR", &self.dir)
            .output();
    }
}

/// Returns whether the progress output reports the compile step as cached.
fn compile_step_cached(progress: &str) -> bool {
    let Some(line) = progress.lines().find(|line| line.contains(COMPILE_STEP)) else {
        return false;
    };
    let vertex = line.split_whitespace().next().unwrap_or_default();
    progress.lines().any(|line| line == format!("{vertex} CACHED"))
}

fn export_caches(host: &str, spec: &Path, registry: &Registry, cache_ref: &str, inline_image: &str) {
    run_ok(
        stagec_build(host, spec)
            .env("DOCKER_CONFIG", &registry.docker_config)
            .arg("-o")
            .arg(format!("type=image,name={inline_image},push=true"))
            .args(["--cache-to", "type=inline"])
            .arg("--cache-to")
            .arg(format!("type=registry,ref={cache_ref},mode=max")),
    );
}

#[test]
fn registry_and_inline_cache_on_fresh_engine() {
    let test = "registry_and_inline_cache_on_fresh_engine";
    let Some(host) = containerd_engine_or_skip(test) else {
        return;
    };
    let Some(registry) = registry_or_skip(test) else {
        return;
    };
    if !running_as_root() {
        skip(test, "starting a second engine needs root");
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let spec = copy_example(EXAMPLE, &work.path().join("src"));
    let cache_ref = format!("{}/stagec-e2e/cache:max", registry.address);
    let inline_image = format!("{}/stagec-e2e/inline:1", registry.address);
    export_caches(&host, &spec, &registry, &cache_ref, &inline_image);

    let _fresh_engines = FRESH_ENGINES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let engine_dir = tempfile::Builder::new()
        .prefix("stagec-cache-engine.")
        .tempdir_in("/tmp")
        .expect("engine folder");
    let fresh = FreshEngine::start(engine_dir.path());

    for cache_from in [format!("type=registry,ref={cache_ref}"), inline_image.clone()] {
        // A fresh copy gets the same lock refresh on each build, so only
        // the cache source differs.
        let copy = tempfile::tempdir().expect("temp dir");
        let spec = copy_example(EXAMPLE, copy.path());
        let output = run_ok(
            stagec_build(&fresh.docker_host, &spec)
                .env("DOCKER_CONFIG", &registry.docker_config)
                .arg("-o")
                .arg(copy.path().join("out"))
                .args(["--cache-from", &cache_from]),
        );
        let progress = String::from_utf8_lossy(&output.stderr);
        assert!(
            compile_step_cached(&progress),
            "--cache-from {cache_from}: the compile step was not cached:\n{progress}"
        );
        assert!(copy.path().join("out/greet").is_file());
    }
}

/// Spec of the local cache test: its Go compile step is named like the
/// other example's, so [`compile_step_cached`] finds it.
const LOCAL_CACHE_EXAMPLE: &str = "go-web";

#[test]
fn local_cache_on_fresh_engines() {
    let test = "local_cache_on_fresh_engines";
    // The engine is not used, but its variable shows that scripts/test.sh
    // installed what the fresh engines need.
    if containerd_engine_or_skip(test).is_none() {
        return;
    }
    if !running_as_root() {
        skip(test, "starting an engine needs root");
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let cache_dir = work.path().join("cache");
    let _fresh_engines = FRESH_ENGINES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);

    {
        let engine_dir = tempfile::Builder::new()
            .prefix("stagec-local-cache-export.")
            .tempdir_in("/tmp")
            .expect("engine folder");
        let exporter = FreshEngine::start(engine_dir.path());
        let spec = copy_example(LOCAL_CACHE_EXAMPLE, &work.path().join("export"));
        run_ok(
            stagec_build(&exporter.docker_host, &spec)
                .arg("--cache-to")
                .arg(format!("type=local,dest={},mode=max", cache_dir.display())),
        );
    }
    let index = std::fs::read_to_string(cache_dir.join("index.json")).expect("the export wrote index.json");
    assert!(
        index.contains("\"org.opencontainers.image.ref.name\":\"latest\""),
        "{index}"
    );
    assert!(cache_dir.join("oci-layout").is_file());
    assert!(
        !cache_dir.join("ingest").exists(),
        "the export left unfinished writes in {}",
        cache_dir.display()
    );

    let engine_dir = tempfile::Builder::new()
        .prefix("stagec-local-cache-import.")
        .tempdir_in("/tmp")
        .expect("engine folder");
    let importer = FreshEngine::start(engine_dir.path());
    let spec = copy_example(LOCAL_CACHE_EXAMPLE, &work.path().join("import"));
    let output = run_ok(
        stagec_build(&importer.docker_host, &spec)
            .arg("--cache-from")
            .arg(format!("type=local,src={}", cache_dir.display())),
    );
    let progress = String::from_utf8_lossy(&output.stderr);
    assert!(
        compile_step_cached(&progress),
        "--cache-from type=local: the compile step was not cached:\n{progress}"
    );
}

/// Runs `stagec build` with `cache_flag` against an engine that does not
/// exist, so the build must fail on the local cache folder before it
/// connects, and returns its exit code and stderr.
fn local_cache_failure(cache_flag: &str, value: &str) -> (Option<i32>, String) {
    let work = tempfile::tempdir().expect("temp dir");
    let spec = copy_example(EXAMPLE, &work.path().join("src"));
    let output = stagec_build("unix:///nonexistent.sock", &spec)
        .args([cache_flag, value])
        .output()
        .expect("run stagec");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn local_cache_missing_src_fails() {
    let work = tempfile::tempdir().expect("temp dir");
    let missing = work.path().join("no-such-cache");
    let (code, stderr) = local_cache_failure("--cache-from", &format!("type=local,src={}", missing.display()));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("cannot read the cache folder"), "{stderr}");
    assert!(
        stderr.contains("--cache-to type=local,dest="),
        "the message says the fix: {stderr}"
    );
}

#[test]
fn local_cache_corrupt_index_fails() {
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::write(work.path().join("index.json"), "{\"manifests\": [").expect("write index.json");
    let (code, stderr) = local_cache_failure("--cache-from", &format!("type=local,src={}", work.path().display()));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("is not a valid OCI image index"), "{stderr}");
}

#[test]
fn local_cache_unwritable_dest_fails() {
    // A regular file as the parent fails for root too, unlike permissions.
    let work = tempfile::tempdir().expect("temp dir");
    let file = work.path().join("file");
    std::fs::write(&file, "").expect("write file");
    let (code, stderr) = local_cache_failure(
        "--cache-to",
        &format!("type=local,dest={}", file.join("cache").display()),
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("cannot create the cache folder"), "{stderr}");
    assert!(stderr.contains("dest=DIR"), "the message says the fix: {stderr}");
}

#[test]
fn compile_step_cached_reads_progress() {
    let progress = "#5 [builder 4/4] RUN go build -o /out/greet .\n#5 CACHED\n";
    assert!(compile_step_cached(progress));
    assert!(!compile_step_cached("#5 [builder 4/4] RUN go build .\n#5 DONE 14.2s\n"));
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}
