//! End to end: engine faults. Each case breaks the engine or the way to it:
//! a missing socket, a socket the user may not open, dockerd killed during a
//! build, the session connection dropped, a base image the engine lacks, or
//! a full disk. Then it checks that stagec exits non-zero with one message
//! that names the cause, and leaves no output file behind.
//!
//! The cases that break an engine start their own with
//! scripts/fault-engine.sh in a folder of their own, never the shared engine
//! at DOCKER_HOST, whose alpine:3 they copy. They need root, as dockerd does,
//! and are skipped with the reason printed otherwise.

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::engine::engine_or_skip;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stagec(docker_host: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stagec"));
    command.env("DOCKER_HOST", docker_host).env("NO_COLOR", "1");
    command
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `spec` as app.kdl in a new folder that every user may enter.
fn spec_dir(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    std::fs::write(dir.path().join("app.kdl"), spec).expect("write app.kdl");
    dir
}

/// Asserts that `output` failed with exit code 1 and an error line that
/// contains every one of `expected`.
fn assert_fails_with(case: &str, output: &Output, expected: &[&str]) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{case}: exit status\nstderr:\n{stderr}");
    // The diagnostic renderer wraps help lines at 100 columns, after spaces
    // and hyphens, so the parts are matched against the text with its lines
    // joined again.
    let mut joined = String::new();
    for line in stderr.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if !joined.is_empty() && !joined.ends_with('-') {
            joined.push(' ');
        }
        joined.push_str(line);
    }
    for part in expected {
        assert!(joined.contains(part), "{case}: stderr lacks {part:?}:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{case}: stagec panicked:\n{stderr}");
}

/// Asserts that the folder contains only `expected` (sorted file names), so a
/// failed command left no output file or temporary file.
fn assert_files(case: &str, dir: &Path, expected: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list folder")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, expected, "{case}: files left in {}", dir.display());
}

const SIMPLE_SPEC: &str = r#"
stage "app" from="alpine:3" {
    run "echo built > /built"
}
image "app" tag="stagec-faults/app:1"
"#;

/// A throwaway engine of scripts/fault-engine.sh, stopped and deleted on drop,
/// also when the test fails.
struct FaultEngine {
    dir: PathBuf,
    host: String,
}

impl FaultEngine {
    /// Starts an engine in /tmp/faults-engine/<name>-<pid>, with a tmpfs data
    /// root of `tmpfs_size` when given. Returns `None`, with the reason
    /// printed, when the test cannot start an engine here.
    fn start(name: &str, tmpfs_size: Option<&str>) -> Option<FaultEngine> {
        let shared = engine_or_skip(name)?;
        if !is_root() {
            eprintln!("{name}: skipped, starting a Docker Engine needs root");
            return None;
        }
        let dir = PathBuf::from(format!("/tmp/faults-engine/{name}-{}", std::process::id()));
        let engine = FaultEngine {
            host: format!("unix://{}/docker.sock", dir.display()),
            dir,
        };
        let mut command = Command::new(repo_root().join("scripts/fault-engine.sh"));
        command.arg("start").arg(&engine.dir).args(tmpfs_size);
        command.env("STAGEC_DOCKER", &shared.docker);
        let output = command.output().expect("run scripts/fault-engine.sh");
        assert!(
            output.status.success(),
            "{name}: fault-engine.sh start failed:\n{}",
            text(&output.stderr)
        );
        Some(engine)
    }

    fn docker(&self, args: &[&str]) -> Output {
        let docker = std::env::var("STAGEC_DOCKER").unwrap_or_else(|_| "docker".to_string());
        Command::new(docker)
            .args(args)
            .env("DOCKER_HOST", &self.host)
            .output()
            .expect("run the docker client")
    }

    fn kill_dockerd(&self) {
        let output = Command::new(repo_root().join("scripts/fault-engine.sh"))
            .arg("kill")
            .arg(&self.dir)
            .output()
            .expect("run scripts/fault-engine.sh");
        assert!(output.status.success(), "kill dockerd: {}", text(&output.stderr));
    }

    /// Starts the engine again after `kill_dockerd`.
    fn restart(&self) {
        let output = Command::new(repo_root().join("scripts/fault-engine.sh"))
            .arg("start")
            .arg(&self.dir)
            .output()
            .expect("run scripts/fault-engine.sh");
        assert!(output.status.success(), "restart engine: {}", text(&output.stderr));
    }
}

impl Drop for FaultEngine {
    fn drop(&mut self) {
        let stopped = Command::new(repo_root().join("scripts/fault-engine.sh"))
            .arg("stop")
            .arg(&self.dir)
            .output();
        match stopped {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!(
                "fault-engine.sh stop {} failed: {}",
                self.dir.display(),
                text(&output.stderr)
            ),
            Err(error) => eprintln!("fault-engine.sh stop {} failed to start: {error}", self.dir.display()),
        }
    }
}

/// Runs `stagec build` of app.kdl in `dir` with a metadata file, no network
/// and plain progress.
fn build(host: &str, dir: &Path, extra: &[&str]) -> Output {
    stagec(host)
        .current_dir(dir)
        .args(["build", "app.kdl", "--network", "none", "--progress", "plain"])
        .args(["--metadata-file", "metadata.json"])
        .args(extra)
        .output()
        .expect("run stagec build")
}

#[test]
fn missing_socket_fails_cleanly() {
    let dir = spec_dir(SIMPLE_SPEC);
    let host = "unix:///nonexistent/stagec-faults/docker.sock";

    let output = build(host, dir.path(), &[]);
    assert_fails_with(
        "build",
        &output,
        &[
            "error: no Docker Engine at unix:///nonexistent/stagec-faults/docker.sock",
            "does not exist",
        ],
    );

    let output = stagec(host)
        .current_dir(dir.path())
        .args(["lock", "app.kdl"])
        .output()
        .expect("run stagec lock");
    assert_fails_with("lock", &output, &["no Docker Engine at", "does not exist"]);
    assert_files("missing socket", dir.path(), &["app.kdl"]);
}

#[test]
fn socket_that_is_not_an_engine_fails_cleanly() {
    let dir = spec_dir(SIMPLE_SPEC);
    let socket = dir.path().join("plain.sock");
    let listener = UnixListener::bind(&socket).expect("bind socket");
    // A server that closes every connection at once, as a crashed engine's
    // leftover socket or an unrelated service might.
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let host = format!("unix://{}", socket.display());

    let output = build(&host, dir.path(), &[]);
    assert_fails_with("build", &output, &[&host]);
    std::fs::remove_file(&socket).expect("remove socket");
    assert_files("not an engine", dir.path(), &["app.kdl"]);
}

#[test]
fn permission_denied_fails_cleanly() {
    let dir = spec_dir(SIMPLE_SPEC);
    let socket = dir.path().join("docker.sock");
    let _listener = UnixListener::bind(&socket).expect("bind socket");
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).expect("chmod socket");
    let host = format!("unix://{}", socket.display());

    // root passes every permission check, so stagec runs as `nobody` there.
    let mut command = if is_root() {
        let mut command = Command::new("setpriv");
        command.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]);
        command.arg(env!("CARGO_BIN_EXE_stagec"));
        command
    } else {
        Command::new(env!("CARGO_BIN_EXE_stagec"))
    };
    let output = command
        .env("DOCKER_HOST", &host)
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .args([
            "build",
            "app.kdl",
            "--network",
            "none",
            "--metadata-file",
            "metadata.json",
        ])
        .output()
        .expect("run stagec as nobody");
    assert_fails_with("build", &output, &[&format!("permission denied on {host}")]);

    std::fs::remove_file(&socket).expect("remove socket");
    assert_files("permission denied", dir.path(), &["app.kdl"]);
}

#[test]
fn engine_killed_mid_build_fails_cleanly() {
    let Some(engine) = FaultEngine::start("engine-killed", None) else {
        return;
    };
    let dir = spec_dir(
        r#"
stage "slow" from="alpine:3" {
    run "sleep 30"
}
image "slow" tag="stagec-faults/slow:1"
"#,
    );
    let (child, logs) = spawn_build(&engine.host, dir.path(), &[]);

    // Wait until the step runs, so the engine dies during the build itself.
    wait_for("the run step to start", Duration::from_secs(60), || {
        progress_shows(logs.path(), "RUN sleep 30")
    });
    engine.kill_dockerd();

    let started = Instant::now();
    let output = wait_build(child, logs.path());
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "stagec noticed the engine's end late"
    );
    assert_fails_with(
        "build",
        &output,
        &[
            "lost the connection to Docker Engine at",
            "during the build",
            "run the build again",
        ],
    );
    assert_files("engine killed", dir.path(), &["app.kdl", "app.kdl.lock"]);

    // After a restart, the same build works again.
    engine.restart();
    let dir = spec_dir(SIMPLE_SPEC);
    let output = build(&engine.host, dir.path(), &[]);
    assert!(
        output.status.success(),
        "build after restart:\n{}",
        text(&output.stderr)
    );
}

/// Starts `stagec build` with its output in files of a folder of its own,
/// so the test can follow the progress while the build runs.
fn spawn_build(host: &str, dir: &Path, extra: &[&str]) -> (std::process::Child, tempfile::TempDir) {
    let logs = tempfile::tempdir().expect("temp dir");
    let stdout = std::fs::File::create(logs.path().join("stdout")).expect("create stdout file");
    let stderr = std::fs::File::create(logs.path().join("stderr")).expect("create stderr file");
    let child = stagec(host)
        .current_dir(dir)
        .args(["build", "app.kdl", "--network", "none", "--progress", "plain"])
        .args(["--metadata-file", "metadata.json"])
        .args(extra)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("start stagec build");
    (child, logs)
}

/// Waits for the build to end and returns its output from the files.
fn wait_build(mut child: std::process::Child, logs: &Path) -> Output {
    let status = child.wait().expect("wait for stagec");
    Output {
        status,
        stdout: std::fs::read(logs.join("stdout")).expect("read stdout"),
        stderr: std::fs::read(logs.join("stderr")).expect("read stderr"),
    }
}

fn progress_shows(logs: &Path, line: &str) -> bool {
    std::fs::read_to_string(logs.join("stderr")).is_ok_and(|progress| progress.contains(line))
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn session_dropped_fails_cleanly() {
    let Some(engine) = FaultEngine::start("session-dropped", None) else {
        return;
    };
    let proxy = SessionProxy::start(&engine.dir.join("docker.sock"));
    let dir = spec_dir(
        r#"
secret "token" required=#true
stage "app" from="alpine:3" {
    run "sleep 5"
    run "wc -c /run/secrets/token > /token-size" {
        secret "token"
    }
}
image "app" tag="stagec-faults/session:1"
"#,
    );
    std::fs::write(dir.path().join("token.txt"), "session-test-token").expect("write secret");
    let (child, logs) = spawn_build(&proxy.host, dir.path(), &["--secret", "id=token,src=token.txt"]);

    wait_for("the build to open its session", Duration::from_secs(60), || {
        proxy.sessions() > 0
    });
    wait_for("the first run step to start", Duration::from_secs(60), || {
        progress_shows(logs.path(), "RUN sleep 5")
    });
    proxy.drop_sessions();

    let output = wait_build(child, logs.path());
    assert_fails_with(
        "build",
        &output,
        &[
            "error: build step [app 3/3] RUN wc -c /run/secrets/token > /token-size failed: no active session",
            "the build's session with the engine closed",
        ],
    );
    assert_files("session dropped", dir.path(), &["app.kdl", "app.kdl.lock", "token.txt"]);
}

/// A unix socket proxy in front of an engine that can cut the `/session`
/// connections of a build while the rest goes on.
struct SessionProxy {
    host: String,
    sessions: Arc<Mutex<Vec<UnixStream>>>,
    _dir: tempfile::TempDir,
}

impl SessionProxy {
    fn start(upstream: &Path) -> SessionProxy {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("proxy.sock");
        let listener = UnixListener::bind(&socket).expect("bind proxy socket");
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_path_buf();
        let registry = Arc::clone(&sessions);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let registry = Arc::clone(&registry);
                std::thread::spawn(move || proxy_connection(client, &upstream, &registry));
            }
        });
        SessionProxy {
            host: format!("unix://{}", socket.display()),
            sessions,
            _dir: dir,
        }
    }

    fn sessions(&self) -> usize {
        self.sessions.lock().expect("lock").len()
    }

    fn drop_sessions(&self) {
        for stream in self.sessions.lock().expect("lock").iter() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn proxy_connection(mut client: UnixStream, upstream: &Path, sessions: &Mutex<Vec<UnixStream>>) {
    let Ok(mut server) = UnixStream::connect(upstream) else {
        return;
    };
    // The request line arrives in the first read, because the client writes
    // the whole request head at once.
    let mut first = vec![0; 64 * 1024];
    let Ok(read) = client.read(&mut first) else { return };
    let head = String::from_utf8_lossy(&first[..read]);
    let request_line = head.lines().next().unwrap_or_default();
    if request_line.starts_with("POST ") && request_line.contains("/session ") {
        let mut registry = sessions.lock().expect("lock");
        registry.extend(client.try_clone().ok());
        registry.extend(server.try_clone().ok());
    }
    if server.write_all(&first[..read]).is_err() {
        return;
    }

    let (Ok(mut client_reader), Ok(mut server_writer)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let forward = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_reader, &mut server_writer);
        let _ = server_writer.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
    let _ = forward.join();
}

#[test]
fn missing_base_image_fails_cleanly() {
    let Some(engine) = FaultEngine::start("base-missing", None) else {
        return;
    };
    let dir = spec_dir(
        r#"
stage "app" from="stagec-faults/nosuch:1" {
    run "true"
}
image "app" tag="stagec-faults/base:1"
"#,
    );
    let output = build(&engine.host, dir.path(), &[]);
    assert_fails_with(
        "build without lock",
        &output,
        &[
            "base image docker.io/stagec-faults/nosuch:1",
            "pull it with `docker pull",
        ],
    );
    assert_files("base image missing", dir.path(), &["app.kdl"]);

    let output = stagec(&engine.host)
        .current_dir(dir.path())
        .args(["lock", "app.kdl"])
        .output()
        .expect("run stagec lock");
    assert_fails_with(
        "lock",
        &output,
        &["docker.io/stagec-faults/nosuch:1", "pull it with `docker pull"],
    );
    assert_files("lock of a missing base image", dir.path(), &["app.kdl"]);

    // A base image that the lock file names but the engine no longer has:
    // the lock check skips images the engine cannot resolve, so BuildKit's
    // FROM step tries the registry through the engines' unreachable proxy
    // (127.0.0.1:9) and fails with "proxyconnect ... connection refused".
    // The message must still name the image and the fix, not only the
    // registry error.
    let tagged = engine.docker(&["tag", "alpine:3", "stagec-faults/gone:1"]);
    assert!(tagged.status.success(), "docker tag: {}", text(&tagged.stderr));
    let dir = spec_dir(
        r#"
stage "app" from="stagec-faults/gone:1" {
    run "echo built > /built"
}
image "app" tag="stagec-faults/gone-out:1"
"#,
    );
    let locked = stagec(&engine.host)
        .current_dir(dir.path())
        .args(["lock", "app.kdl"])
        .output()
        .expect("lock");
    assert!(locked.status.success(), "stagec lock: {}", text(&locked.stderr));
    let removed = engine.docker(&["rmi", "stagec-faults/gone:1"]);
    assert!(removed.status.success(), "docker rmi: {}", text(&removed.stderr));

    let output = build(&engine.host, dir.path(), &[]);
    assert_fails_with(
        "build with a stale lock",
        &output,
        &[
            "build step [app 1/2] FROM docker.io/stagec-faults/gone:1 failed",
            "base image docker.io/stagec-faults/gone:1 is not in the engine's image store, \
             and pulling it from its registry failed: ",
            "proxyconnect",
            "pull it with `docker pull docker.io/stagec-faults/gone:1`",
            "`docker load`",
        ],
    );
    assert_files("locked base image removed", dir.path(), &["app.kdl", "app.kdl.lock"]);
}

#[test]
fn full_data_root_fails_cleanly() {
    let Some(engine) = FaultEngine::start("disk-full", Some("160m")) else {
        return;
    };
    // The step fills the data root and succeeds, so the export that
    // follows is what runs out of space.
    let dir = spec_dir(
        r#"
stage "big" from="alpine:3" {
    run "dd if=/dev/zero of=/fill bs=1M 2>/dev/null; echo filled"
}
image "big" tag="stagec-faults/big:1"
"#,
    );
    let output = build(&engine.host, dir.path(), &[]);
    assert_fails_with(
        "build",
        &output,
        &["exporting to image", "no space left on device", "free space"],
    );
    assert_files("disk full", dir.path(), &["app.kdl", "app.kdl.lock"]);
}

/// A tmpfs mounted for one test and unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(output.status.success(), "mount tmpfs: {}", text(&output.stderr));
        SmallDisk { dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn full_output_disk_leaves_no_partial_file() {
    let Some(_engine) = engine_or_skip("full_output_disk_leaves_no_partial_file") else {
        return;
    };
    if !is_root() {
        eprintln!("full_output_disk_leaves_no_partial_file: skipped, mounting a tmpfs needs root");
        return;
    }
    let host = std::env::var("DOCKER_HOST").expect("engine_or_skip checked DOCKER_HOST");
    let disk = SmallDisk::mount("1m");
    // Random bytes, so the 3 MB file stays larger than the disk in any tar.
    let dir = spec_dir(
        r#"
stage "big" from="alpine:3" {
    run "head -c 3000000 /dev/urandom > /big"
}
image "big" tag="stagec-faults/tar:1"
"#,
    );
    let destination = disk.dir.path().join("image.tar");
    let output = stagec(&host)
        .current_dir(dir.path())
        .args(["build", "app.kdl", "--network", "none", "--progress", "plain"])
        .arg("--output")
        .arg(format!("type=tar,dest={}", destination.display()))
        .output()
        .expect("run stagec build");
    assert_fails_with(
        "tar output",
        &output,
        &["No space left on device", "the disk that holds the output is full"],
    );
    assert_files("tar output", disk.dir.path(), &[]);

    // A generated Dockerfile that does not fit leaves no temporary file.
    let filled = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", disk.dir.path().join("fill").display()))
        .arg("bs=4k")
        .output()
        .expect("run dd");
    assert!(!filled.status.success(), "dd stops when the disk is full");
    let output = stagec(&host)
        .current_dir(dir.path())
        .args(["dockerfile", "app.kdl", "-o"])
        .arg(disk.dir.path().join("Dockerfile"))
        .output()
        .expect("run stagec dockerfile");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "stagec dockerfile exit status\n{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(
        !stderr.contains(".stagec-"),
        "the message names the temporary file: {stderr}"
    );
    assert_files("Dockerfile output", disk.dir.path(), &["fill"]);
}
