//! The lowering state of one stage: the values that BuildKit's Dockerfile
//! frontend keeps in its `llb.State` and image config for a stage.

use std::collections::BTreeMap;

use crate::llb::{Fs, NetworkMode};
use crate::lock::ImageConfig;
use crate::lower::Interpolated;
use crate::model::Platform;
use crate::model::interpolate::Part;

/// `PATH` for a Linux stage whose image config has none; the value of
/// `DefaultPathEnvUnix` in BuildKit's util/system package.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The shell of shell-form commands when neither the spec nor the base
/// image's config names one.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

#[derive(Debug, Clone)]
pub struct StageState {
    pub fs: Fs,
    pub platform: Platform,
    /// Env of the processes run steps start, in BuildKit's order: setting a
    /// variable again moves it last. Besides the image config's `Env` it
    /// contains the values of declared build args, which the image does not keep.
    pub env: Vec<(String, String)>,
    /// Absolute working directory of run steps.
    pub dir: String,
    pub user: String,
    pub network: NetworkMode,
    /// The configuration the stage's image gets.
    pub config: ImageConfig,
    /// Whether the stage itself set `cmd`, which an `entrypoint` after it keeps.
    pub cmd_set: bool,
}

impl StageState {
    /// Creates the state at the start of a stage based on an image with `config`,
    /// or on scratch. `fs` is the image's files, or scratch.
    pub fn from_image(fs: Fs, platform: Platform, mut config: ImageConfig, network: NetworkMode) -> StageState {
        // A build always has PATH, and the image keeps it.
        if !config
            .env_list()
            .iter()
            .any(|entry| crate::lock::config::env_key(entry) == "PATH")
        {
            config
                .env
                .get_or_insert_with(Vec::new)
                .push(format!("PATH={DEFAULT_PATH}"));
        }
        // NOTE: BuildKit's Dockerfile frontend runs the base image's ONBUILD
        // triggers here; stagec does not, and drops them like the frontend
        // does after running them.
        config.on_build = None;

        let mut state = StageState {
            fs,
            platform,
            env: Vec::new(),
            dir: "/".to_string(),
            user: String::new(),
            network,
            config,
            cmd_set: false,
        };
        let entries: Vec<String> = state.config.env_list().to_vec();
        for entry in entries {
            let (key, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
            state.set_env(key, value);
        }
        if !state.config.working_dir.is_empty() {
            let dir = clean_dir(&state.config.working_dir, "/");
            state.config.working_dir = dir.clone();
            state.dir = dir;
        }
        state.user = state.config.user.clone();
        state
    }

    /// Starts a stage from the final state of its base stage. BuildKit
    /// keeps the base's whole state, including the env that its build args
    /// set, but not whether it set `cmd`.
    pub fn from_stage(base: &StageState) -> StageState {
        let mut state = base.clone();
        state.cmd_set = false;
        let entries: Vec<String> = state.config.env_list().to_vec();
        for entry in entries {
            let (key, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
            state.set_env(key, value);
        }
        state
    }

    /// Sets a process env variable; an existing one moves last, as
    /// `llb.State.AddEnv` does.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(existing, _)| existing != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Expands an interpolated stage field: `${NAME}` from the build args
    /// visible in the stage, `${env:NAME}` from the env that the image
    /// config has at this step. A name without a value expands to nothing,
    /// as in a Dockerfile.
    pub fn expand(&self, value: &Interpolated, args: &BTreeMap<String, String>) -> String {
        let mut text = String::new();
        for part in &value.parts {
            match part {
                Part::Literal(literal) => text.push_str(literal),
                Part::Arg { name, .. } => text.push_str(args.get(name).map_or("", String::as_str)),
                Part::Env { name, .. } => {
                    let entry = self
                        .config
                        .env_list()
                        .iter()
                        .find(|entry| crate::lock::config::env_key(entry) == name);
                    if let Some((_, value)) = entry.and_then(|entry| entry.split_once('=')) {
                        text.push_str(value);
                    }
                }
            }
        }
        text
    }

    pub fn env_entries(&self) -> Vec<String> {
        self.env.iter().map(|(key, value)| format!("{key}={value}")).collect()
    }

    /// Returns the shell of shell-form run steps: the stage's `shell`, else
    /// the base image's, else `/bin/sh -c`.
    pub fn shell(&self) -> Vec<String> {
        match &self.config.shell {
            Some(shell) if !shell.is_empty() => shell.clone(),
            _ => DEFAULT_SHELL.iter().map(|part| part.to_string()).collect(),
        }
    }

    /// Makes `path` absolute against the working directory.
    pub fn absolute(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            join(&self.dir, path)
        }
    }
}

/// Joins `path` onto `dir`, keeping a trailing `/` of `path`.
pub fn join(dir: &str, path: &str) -> String {
    let mut joined = format!("{}/{path}", dir.trim_end_matches('/'));
    let directory = path.ends_with('/') || path.ends_with("/.") || path == ".";
    joined = clean_path(&joined);
    if directory && !joined.ends_with('/') {
        joined.push('/');
    }
    joined
}

/// Cleans a working directory like Go's `filepath.Clean` after joining it
/// onto `current`: absolute, no trailing `/` except for the root.
pub fn clean_dir(path: &str, current: &str) -> String {
    let absolute = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{current}/{path}")
    };
    let cleaned = clean_path(&absolute);
    if cleaned.len() > 1 {
        cleaned.trim_end_matches('/').to_string()
    } else {
        cleaned
    }
}

/// Returns the image config's working directory for a `workdir` written as
/// `written` and cleaned to `dir`. BuildKit's Dockerfile frontend (seen with
/// BuildKit 0.13) keeps a final `/` when the written path ends with `/`,
/// `/.` or `/..`, and both backends must give the same config.
pub fn config_workdir(written: &str, dir: &str) -> String {
    let names_directory = written.ends_with('/') || written.ends_with("/.") || written.ends_with("/..");
    if names_directory && dir != "/" {
        format!("{dir}/")
    } else {
        dir.to_string()
    }
}

/// Lexically cleans an absolute path, as the checks do: drops empty and `.`
/// components, applies `..` (never above `/`), and drops a trailing `/`.
pub use crate::resolve::unix_path::normalize as clean_path;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn platform() -> Platform {
        Platform::parse("linux/amd64").expect("valid")
    }

    #[test]
    fn image_state_adds_path_and_workdir() {
        let config = ImageConfig {
            env: Some(vec!["GOPATH=/go".into()]),
            working_dir: "/go/".into(),
            user: "app".into(),
            on_build: Some(vec!["RUN true".into()]),
            ..ImageConfig::default()
        };
        let state = StageState::from_image(Fs::Scratch, platform(), config, NetworkMode::Sandbox);
        assert_eq!(
            state.env_entries(),
            ["GOPATH=/go".to_string(), format!("PATH={DEFAULT_PATH}")]
        );
        assert_eq!(state.config.env_list().len(), 2, "the image keeps the default PATH");
        assert_eq!((state.dir.as_str(), state.config.working_dir.as_str()), ("/go", "/go"));
        assert_eq!(state.user, "app");
        assert_eq!(state.config.on_build, None);
    }

    #[test]
    fn set_env_moves_key_last() {
        let mut state = StageState::from_image(Fs::Scratch, platform(), ImageConfig::default(), NetworkMode::Sandbox);
        state.set_env("A", "1");
        state.set_env("PATH", "/bin");
        assert_eq!(state.env_entries(), ["A=1", "PATH=/bin"]);
    }

    #[test]
    fn expand_reads_args_and_image_env() {
        let config = ImageConfig {
            env: Some(vec!["PATH=/usr/bin".into(), "EMPTY=".into()]),
            ..ImageConfig::default()
        };
        let mut state = StageState::from_image(Fs::Scratch, platform(), config, NetworkMode::Sandbox);
        // A declared arg is in the process env but not in the image's env.
        state.set_env("V", "arg");
        let args = BTreeMap::from([("V".to_string(), "arg".to_string())]);
        let value = Interpolated {
            parts: crate::model::interpolate::parse("/opt:${env:PATH}:${env:EMPTY}:${env:V}:${V}", Span::default())
                .expect("valid"),
            span: Span::default(),
        };
        assert_eq!(state.expand(&value, &args), "/opt:/usr/bin:::arg");
    }

    #[test]
    fn join_table() {
        assert_eq!(join("/app", "bin/"), "/app/bin/");
        assert_eq!(join("/app", "."), "/app/");
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/app", "../etc"), "/etc");
        assert_eq!(clean_dir("/go/", "/"), "/go");
        assert_eq!(clean_dir("src", "/go"), "/go/src");
        assert_eq!(clean_dir("/", "/"), "/");
    }

    #[test]
    fn config_workdir_keeps_a_final_slash() {
        assert_eq!(config_workdir("/srv/app/", "/srv/app"), "/srv/app/");
        assert_eq!(config_workdir("/srv/app/b/..", "/srv/app"), "/srv/app/");
        assert_eq!(config_workdir("/srv/app/.", "/srv/app"), "/srv/app/");
        assert_eq!(config_workdir("/srv/app", "/srv/app"), "/srv/app");
        assert_eq!(config_workdir("/", "/"), "/");
    }
}
