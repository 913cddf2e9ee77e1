//! The `config` object of a Docker image: what `docker image inspect`
//! shows under `Config` and what an OCI image configuration contains under
//! `config`. The field names are Docker's, so the lock file reads like
//! `docker image inspect`, and the result image's configuration is this
//! same object. Maps are BTreeMaps so that the JSON is sorted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An empty JSON object, the value type of `ExposedPorts` and `Volumes`.
pub type EmptyObject = BTreeMap<String, serde_json::Value>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, EmptyObject>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Set by `CMD` in a Dockerfile; Windows images read it, Linux ones ignore it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub args_escaped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, EmptyObject>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// `ONBUILD` triggers, which a Dockerfile build of a stage based on the
    /// image runs first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
}

/// Docker's health check settings. Durations are nanoseconds, as Go's
/// `time.Duration` encodes them; 0 means the engine's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", argv...]` or `["CMD-SHELL", text]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

/// Reads JSON `null` like a missing field; `docker image inspect` writes
/// `"Test": null` for an unset list.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl ImageConfig {
    /// Returns the env entries, empty when unset.
    pub fn env_list(&self) -> &[String] {
        self.env.as_deref().unwrap_or_default()
    }

    /// Sets `key` in `Env` like a Dockerfile `ENV`: an existing entry keeps
    /// its place, a new one goes last.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let env = self.env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env.iter_mut().find(|existing| env_key(existing) == key) {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }
}

/// Returns the name part of a `NAME=value` env entry.
pub fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(key, _)| key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_inspect_config() {
        let json = r#"{
            "Hostname": "", "User": "", "ExposedPorts": null, "Env": ["PATH=/usr/bin:/bin"],
            "Cmd": ["/bin/sh"], "Healthcheck": null, "Image": "", "Volumes": null, "WorkingDir": "/go",
            "Entrypoint": null, "OnBuild": null, "Labels": {"org.stagec.base-image.revision": "1"}
        }"#;
        let config: ImageConfig = serde_json::from_str(json).expect("valid config");
        assert_eq!(config.env_list(), ["PATH=/usr/bin:/bin"]);
        assert_eq!(config.cmd.as_deref(), Some(&["/bin/sh".to_string()][..]));
        assert_eq!(config.working_dir, "/go");
        assert_eq!(config.entrypoint, None);
        assert_eq!(config.labels.as_ref().map(BTreeMap::len), Some(1));
    }

    #[test]
    fn set_env_replaces_in_place() {
        let mut config = ImageConfig {
            env: Some(vec!["A=1".into(), "B=2".into()]),
            ..ImageConfig::default()
        };
        config.set_env("A", "3");
        config.set_env("C", "4");
        assert_eq!(config.env_list(), ["A=3", "B=2", "C=4"]);
    }

    #[test]
    fn healthcheck_durations_are_nanoseconds() {
        let check = Healthcheck {
            test: vec!["NONE".into()],
            interval: 30_000_000_000,
            ..Healthcheck::default()
        };
        let json = serde_json::to_string(&check).expect("serializes");
        assert_eq!(json, r#"{"Test":["NONE"],"Interval":30000000000}"#);
    }
}
