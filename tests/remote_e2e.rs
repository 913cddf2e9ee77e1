//! End to end with `--addr`: `stagec build` on the test Docker Engine's
//! BuildKit through the relay of support/relay.rs, which listens like a
//! standalone buildkitd on a unix socket, on TCP with mutual TLS and on
//! plain TCP. Through the relay the Control service and the session stream
//! are the engine's own, so the image lands in the engine's image store.
//! Skipped without an engine, unless STAGEC_E2E=1.

#[path = "support/relay.rs"]
mod relay;
mod support;

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use relay::{Relay, TestPki};
use support::engine::{Engine, engine_or_skip};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn go_web_spec() -> PathBuf {
    repo_root().join("specs/examples/go-web/app.kdl")
}

/// Returns the engine's API socket from DOCKER_HOST.
fn docker_socket() -> PathBuf {
    let host = std::env::var("DOCKER_HOST").expect("DOCKER_HOST is set when the engine is reachable");
    PathBuf::from(host.strip_prefix("unix://").expect("DOCKER_HOST is a unix:// socket"))
}

/// Runs `stagec build` of go-web with `extra` flags, tagged `tag`.
fn build_go_web(tag: &str, extra: &[&str]) -> Output {
    Command::cargo_bin("stagec")
        .expect("the stagec binary")
        .env_remove("BUILDKIT_HOST")
        .args(["build", "--network", "none", "--progress", "plain", "-t", tag])
        .args(extra)
        .arg(go_web_spec())
        .output()
        .expect("runs stagec")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Checks that the build succeeded and that `tag` names an image in the engine.
fn assert_built(engine: &Engine, output: &Output, tag: &str) {
    assert!(output.status.success(), "stagec build failed:\n{}", stderr(output));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.trim().starts_with("sha256:"),
        "prints the image ID, not {printed:?}"
    );
    let inspected = engine.run(["image", "inspect", "--format", "{{.Id}}", tag]);
    assert_eq!(String::from_utf8_lossy(&inspected.stdout).trim(), printed.trim());
    engine.run(["image", "rm", tag]);
}

fn setup(test: &str) -> Option<(Engine, TestPki, Relay)> {
    let engine = engine_or_skip(test)?;
    let pki = TestPki::generate();
    let relay = Relay::start(&docker_socket(), &pki);
    Some((engine, pki, relay))
}

fn tls_flags(ca: &PathBuf, pki: &TestPki) -> Vec<String> {
    let path = |path: &PathBuf| path.display().to_string();
    vec![
        "--tlscacert".to_string(),
        path(ca),
        "--tlscert".to_string(),
        path(&pki.client_cert),
        "--tlskey".to_string(),
        path(&pki.client_key),
    ]
}

#[test]
fn unix_address_builds_go_web() {
    let Some((engine, _pki, relay)) = setup("unix_address_builds_go_web") else {
        return;
    };
    let addr = format!("unix://{}", relay.socket.display());
    let tag = "stagec-e2e-remote/go-web:unix";
    let output = build_go_web(tag, &["--addr", &addr]);
    assert_built(&engine, &output, tag);
}

#[test]
fn buildkit_host_env_builds_go_web() {
    let Some((engine, _pki, relay)) = setup("buildkit_host_env_builds_go_web") else {
        return;
    };
    let tag = "stagec-e2e-remote/go-web:env";
    let output = Command::cargo_bin("stagec")
        .expect("the stagec binary")
        .env("BUILDKIT_HOST", format!("tcp://{}", relay.plain_addr))
        .args(["build", "--network", "none", "--progress", "plain", "-t", tag])
        .arg(go_web_spec())
        .output()
        .expect("runs stagec");
    assert_built(&engine, &output, tag);
}

#[test]
fn mutual_tls_builds_go_web() {
    let Some((engine, pki, relay)) = setup("mutual_tls_builds_go_web") else {
        return;
    };
    let addr = format!("tcp://{}", relay.tls_addr);
    let tag = "stagec-e2e-remote/go-web:mtls";
    let mut flags = vec!["--addr".to_string(), addr];
    flags.extend(tls_flags(&pki.ca_cert, &pki));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = build_go_web(tag, &flags);
    assert_built(&engine, &output, tag);
}

#[test]
fn wrong_ca_names_cert_problem() {
    let Some((_engine, pki, relay)) = setup("wrong_ca_names_cert_problem") else {
        return;
    };
    let addr = format!("tcp://{}", relay.tls_addr);
    let mut flags = vec!["--addr".to_string(), addr.clone()];
    flags.extend(tls_flags(&pki.other_ca_cert, &pki));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = build_go_web("stagec-e2e-remote/go-web:wrong-ca", &flags);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!("TLS connection to BuildKit at {addr} failed")),
        "{message}"
    );
    assert!(message.contains("unknown CA"), "{message}");
    assert!(message.contains("other-ca.pem"), "{message}");
}

#[test]
fn server_name_mismatch_named() {
    let Some((_engine, pki, relay)) = setup("server_name_mismatch_named") else {
        return;
    };
    let addr = format!("tcp://{}", relay.tls_addr);
    let mut flags = vec![
        "--addr".to_string(),
        addr,
        "--tlsservername".to_string(),
        "builder.example.com".to_string(),
    ];
    flags.extend(tls_flags(&pki.ca_cert, &pki));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = build_go_web("stagec-e2e-remote/go-web:name", &flags);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("not valid for the name `builder.example.com`"),
        "{message}"
    );
}

#[test]
fn missing_client_cert_named() {
    let Some((_engine, pki, relay)) = setup("missing_client_cert_named") else {
        return;
    };
    let addr = format!("tcp://{}", relay.tls_addr);
    let ca = pki.ca_cert.display().to_string();
    let output = build_go_web(
        "stagec-e2e-remote/go-web:no-cert",
        &["--addr", &addr, "--tlscacert", &ca],
    );
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("requires a client certificate"), "{message}");
    assert!(message.contains("--tlscert and --tlskey"), "{message}");
}

#[test]
fn tls_to_plain_port_named() {
    let Some((_engine, pki, relay)) = setup("tls_to_plain_port_named") else {
        return;
    };
    let addr = format!("tcp://{}", relay.plain_addr);
    let mut flags = vec!["--addr".to_string(), addr];
    flags.extend(tls_flags(&pki.ca_cert, &pki));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = build_go_web("stagec-e2e-remote/go-web:plain", &flags);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("the server did not answer with TLS"), "{message}");
}

#[test]
fn refused_connection_names_address() {
    // A port that was free a moment ago, so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("tcp://127.0.0.1:{port}");
    let output = build_go_web("stagec-e2e-remote/go-web:refused", &["--addr", &addr]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!("cannot connect to BuildKit at {addr}: connection refused")),
        "{message}"
    );
}

#[test]
fn unknown_scheme_is_usage_error() {
    let output = build_go_web("stagec-e2e-remote/go-web:scheme", &["--addr", "gopher://builder:1234"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("invalid BuildKit address `gopher://builder:1234`"),
        "{message}"
    );
    assert!(message.contains("unknown scheme `gopher`"), "{message}");
}

#[test]
fn tls_flags_without_addr_rejected() {
    let output = build_go_web("stagec-e2e-remote/go-web:tls", &["--tlscacert", "/nonexistent/ca.pem"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("set --addr tcp://HOST:PORT"), "{message}");
}

#[test]
fn unreadable_ca_file_named() {
    let output = build_go_web(
        "stagec-e2e-remote/go-web:ca",
        &["--addr", "tcp://127.0.0.1:1", "--tlscacert", "/nonexistent/ca.pem"],
    );
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("--tlscacert `/nonexistent/ca.pem`: unreadable"),
        "{message}"
    );
}

/// `docker-container://` runs `docker exec -i NAME buildctl dial-stdio`. The
/// test container is made from `alpine:3` (busybox) with a stand-in
/// `buildctl` script whose `dial-stdio` is busybox `nc` to the relay's
/// plain TCP port, on the host network.
#[test]
fn docker_container_address_builds_go_web() {
    let Some((engine, _pki, relay)) = setup("docker_container_address_builds_go_web") else {
        return;
    };
    let bin = tempfile::tempdir().expect("temp folder");
    let script = format!("#!/bin/sh\nexec nc 127.0.0.1 {}\n", relay.plain_addr.port());
    let buildctl = bin.path().join("buildctl");
    std::fs::write(&buildctl, script).expect("write buildctl");
    std::fs::set_permissions(&buildctl, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");

    let name = format!("stagec-e2e-dial-stdio-{}", std::process::id());
    let mount = format!("{}:/usr/local/bin:ro", bin.path().display());
    engine.run([
        "run",
        "-d",
        "--rm",
        "--name",
        &name,
        "--network",
        "host",
        "-v",
        &mount,
        "alpine:3",
        "sleep",
        "600",
    ]);

    let tag = "stagec-e2e-remote/go-web:container";
    let addr = format!("docker-container://{name}");
    let output = build_go_web(tag, &["--addr", &addr]);
    let _ = engine.command(["rm", "-f", &name]).output();
    assert_built(&engine, &output, tag);
}

#[test]
fn missing_container_names_helper_error() {
    let Some(_engine) = engine_or_skip("missing_container_names_helper_error") else {
        return;
    };
    let addr = "docker-container://stagec-no-such-container";
    let output = build_go_web("stagec-e2e-remote/go-web:missing", &["--addr", addr]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("docker exec -i stagec-no-such-container buildctl dial-stdio"),
        "{message}"
    );
    assert!(message.contains("No such container"), "{message}");
}
