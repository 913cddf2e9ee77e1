//! Access to the Docker Engine the end-to-end tests build on. The engine is
//! started by scripts/test.sh; these helpers only talk to it through the
//! docker client named by STAGEC_DOCKER (default `docker`) and DOCKER_HOST.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The client and engine for end-to-end tests, or `None` when they should
/// be skipped. With STAGEC_E2E=1 a missing engine fails the test instead,
/// so CI cannot pass by skipping.
pub fn engine_or_skip(test: &str) -> Option<Engine> {
    let required = std::env::var("STAGEC_E2E").is_ok_and(|value| value == "1");
    let docker = std::env::var("STAGEC_DOCKER").unwrap_or_else(|_| "docker".to_string());
    let engine = Engine { docker };

    let reachable = std::env::var_os("DOCKER_HOST").is_some()
        && engine
            .command(["version", "--format", "{{.Server.Version}}"])
            .output()
            .is_ok_and(|out| out.status.success());
    if reachable {
        return Some(engine);
    }
    if required {
        panic!(
            "{test}: STAGEC_E2E=1 but no Docker Engine answers at DOCKER_HOST; start one with scripts/engine-start.sh"
        );
    }
    eprintln!("{test}: skipped, no Docker Engine (run scripts/test.sh, or set DOCKER_HOST and STAGEC_DOCKER)");
    None
}

pub struct Engine {
    pub docker: String,
}

impl Engine {
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(&self.docker);
        command.args(args).env("DOCKER_BUILDKIT", "1");
        command
    }

    /// Runs the docker client and panics with its output when it fails.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_os_string()).collect();
        let output = self.command(&args).output().expect("starting the docker client");
        assert!(
            output.status.success(),
            "docker {:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
            args,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Builds `dockerfile` with `context` as the build context, offline.
    pub fn build(&self, dockerfile: &Path, context: &Path, tag: &str, target: Option<&str>) -> Output {
        let mut args: Vec<std::ffi::OsString> = vec![
            "build".into(),
            "--network".into(),
            "none".into(),
            "--progress".into(),
            "plain".into(),
            "-f".into(),
            dockerfile.into(),
            "-t".into(),
            tag.into(),
        ];
        if let Some(target) = target {
            args.push("--target".into());
            args.push(target.into());
        }
        args.push(context.into());
        self.run(args)
    }

    /// Image size in bytes as the engine reports it.
    pub fn image_size(&self, image: &str) -> u64 {
        let output = self.run(["image", "inspect", "--format", "{{.Size}}", image]);
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("image size is a number")
    }

    /// Runs a container with no network and returns its stdout.
    pub fn run_image(&self, image: &str, args: &[&str]) -> String {
        let mut command = vec!["run", "--rm", "--network", "none", image];
        command.extend_from_slice(args);
        String::from_utf8_lossy(&self.run(command).stdout).into_owned()
    }

    pub fn inspect(&self, image: &str, format: &str) -> String {
        let output = self.run(["image", "inspect", "--format", format, image]);
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}
