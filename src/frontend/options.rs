//! The options BuildKit passes to a gateway frontend. BuildKit v0.13
//! (frontend/gateway/gateway.go) sets one environment variable
//! `BUILDKIT_FRONTEND_OPT_<n>=<key>=<value>` per frontend option, and
//! `BUILDKIT_SESSION_ID` for the client session that serves the local
//! sources. The option keys are those of the Dockerfile frontend
//! (frontend/dockerui/config.go), which `docker build` and buildx send.

use std::collections::BTreeMap;

use crate::model::Platform;

/// Prefix of the environment variables that carry the frontend options.
pub const OPTION_ENV_PREFIX: &str = "BUILDKIT_FRONTEND_OPT_";

/// Environment variable with the ID of the client session.
pub const SESSION_ENV: &str = "BUILDKIT_SESSION_ID";

/// Name of the local source that contains the spec, unless `dockerfilekey` names another.
pub const DEFAULT_SPEC_SOURCE: &str = "dockerfile";

/// Spec file name in that source, unless `filename` names another.
pub const DEFAULT_SPEC_FILENAME: &str = "app.kdl";

/// Subrequest IDs of the `requestid` option (BuildKit frontend/subrequests).
pub const REQUEST_DESCRIBE: &str = "frontend.subrequests.describe";
pub const REQUEST_OUTLINE: &str = "frontend.outline";
pub const REQUEST_TARGETS: &str = "frontend.targets";

/// The frontend options that stagec reads, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontendOptions {
    /// Every option as BuildKit passed it, for the options without a field.
    pub raw: BTreeMap<String, String>,
    pub session_id: String,
    /// Local source with the spec and its lock file.
    pub spec_source: String,
    /// Path of the spec in that source.
    pub filename: String,
    pub target: Option<String>,
    /// `build-arg:NAME` options.
    pub build_args: BTreeMap<String, String>,
    /// `label:NAME` options, added to the image configuration.
    pub labels: BTreeMap<String, String>,
    /// `platform`: the target platform.
    pub platform: Option<Platform>,
    /// `no-cache`: present means solve every op again.
    pub no_cache: Option<Vec<String>>,
    /// `context:NAME` options: named contexts by name.
    pub contexts: BTreeMap<String, String>,
    /// `requestid`: a subrequest instead of a build.
    pub request_id: Option<String>,
    /// `force-network-mode`: the default network of run steps.
    pub network: Option<String>,
    /// `image-resolve-mode`: `default`, `pull` or `local`.
    pub image_resolve_mode: Option<String>,
}

/// An option with an invalid value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid frontend option `{key}={value}`: {reason}")]
pub struct OptionError {
    pub key: String,
    pub value: String,
    pub reason: String,
}

/// Reads the options from `BUILDKIT_FRONTEND_OPT_<n>` variables of `environment`.
pub fn options_from_environment(
    environment: impl IntoIterator<Item = (String, String)>,
) -> Result<FrontendOptions, OptionError> {
    let mut raw = BTreeMap::new();
    let mut session_id = String::new();
    for (name, value) in environment {
        if name == SESSION_ENV {
            session_id = value;
            continue;
        }
        if !name.starts_with(OPTION_ENV_PREFIX) {
            continue;
        }
        // BuildKit's own client splits at the first `=` and keeps a key
        // without `=` with an empty value.
        let (key, option_value) = value.split_once('=').unwrap_or((value.as_str(), ""));
        raw.insert(key.to_string(), option_value.to_string());
    }
    let mut options = parse_options(raw)?;
    options.session_id = session_id;
    Ok(options)
}

/// Parses the raw options into their fields.
pub fn parse_options(raw: BTreeMap<String, String>) -> Result<FrontendOptions, OptionError> {
    let invalid = |key: &str, value: &str, reason: &str| OptionError {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };

    let platform = match raw.get("platform").map(String::as_str) {
        None | Some("") => None,
        Some(text) if text.contains(',') => {
            return Err(invalid(
                "platform",
                text,
                "stagec builds one platform per build; run one build per platform",
            ));
        }
        Some(text) => Some(Platform::parse(text.trim()).ok_or_else(|| {
            invalid(
                "platform",
                text,
                "not a platform; write os/arch[/variant], such as linux/arm64",
            )
        })?),
    };

    let no_cache = raw.get("no-cache").map(|value| {
        value
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect()
    });

    let prefixed = |prefix: &str| -> BTreeMap<String, String> {
        raw.iter()
            .filter_map(|(key, value)| key.strip_prefix(prefix).map(|name| (name.to_string(), value.clone())))
            .collect()
    };
    let build_args = prefixed("build-arg:");
    for name in build_args.keys() {
        if !crate::model::interpolate::is_arg_name(name) && !name.starts_with("BUILDKIT_") {
            return Err(invalid(
                &format!("build-arg:{name}"),
                &build_args[name],
                "not a valid arg name (letters, digits and _, not starting with a digit)",
            ));
        }
    }

    let non_empty = |key: &str| raw.get(key).filter(|value| !value.is_empty()).cloned();
    Ok(FrontendOptions {
        session_id: String::new(),
        spec_source: non_empty("dockerfilekey").unwrap_or_else(|| DEFAULT_SPEC_SOURCE.to_string()),
        filename: non_empty("filename").unwrap_or_else(|| DEFAULT_SPEC_FILENAME.to_string()),
        target: non_empty("target"),
        labels: prefixed("label:"),
        contexts: prefixed("context:"),
        platform,
        no_cache,
        request_id: non_empty("requestid"),
        network: non_empty("force-network-mode"),
        image_resolve_mode: non_empty("image-resolve-mode"),
        build_args,
        raw,
    })
}

impl FrontendOptions {
    /// Returns the build args of the spec: `build-arg:` options other than
    /// BuildKit's own `BUILDKIT_*` settings, such as `BUILDKIT_SYNTAX`.
    pub fn spec_build_args(&self) -> BTreeMap<String, String> {
        self.build_args
            .iter()
            .filter(|(name, _)| !name.starts_with("BUILDKIT_"))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    /// Returns the lock file path in the spec source: the spec path with `.lock` appended.
    pub fn lock_filename(&self) -> String {
        format!("{}.lock", self.filename)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn options_from_environment_table() {
        let options = options_from_environment(environment(&[
            ("BUILDKIT_FRONTEND_OPT_0", "filename=app.kdl"),
            ("BUILDKIT_FRONTEND_OPT_1", "build-arg:GO=1.20"),
            ("BUILDKIT_FRONTEND_OPT_2", "label:org.example=a=b"),
            ("BUILDKIT_FRONTEND_OPT_3", "no-cache="),
            ("BUILDKIT_FRONTEND_OPT_4", "platform=linux/arm64"),
            ("BUILDKIT_FRONTEND_OPT_5", "target=runtime"),
            ("BUILDKIT_FRONTEND_OPT_6", "context:alpine:3=docker-image://busybox:1"),
            (
                "BUILDKIT_FRONTEND_OPT_7",
                "build-arg:BUILDKIT_SYNTAX=stagec/frontend:dev",
            ),
            ("BUILDKIT_SESSION_ID", "abc"),
            ("PATH", "/bin"),
        ]))
        .expect("valid options");

        assert_eq!(options.session_id, "abc");
        assert_eq!(options.filename, "app.kdl");
        assert_eq!(options.spec_source, "dockerfile");
        assert_eq!(options.target.as_deref(), Some("runtime"));
        assert_eq!(
            options.spec_build_args(),
            BTreeMap::from([("GO".to_string(), "1.20".to_string())])
        );
        assert_eq!(options.labels["org.example"], "a=b");
        assert_eq!(options.no_cache, Some(Vec::new()));
        assert_eq!(
            options.platform.as_ref().map(ToString::to_string).as_deref(),
            Some("linux/arm64")
        );
        assert_eq!(options.contexts["alpine:3"], "docker-image://busybox:1");
        assert_eq!(options.lock_filename(), "app.kdl.lock");
    }

    #[test]
    fn options_defaults() {
        let options = options_from_environment(Vec::new()).expect("valid options");
        assert_eq!(options.filename, DEFAULT_SPEC_FILENAME);
        assert_eq!(options.no_cache, None);
        assert_eq!(options.platform, None);
        assert_eq!(options.request_id, None);
    }

    #[test]
    fn options_invalid_values() {
        let raw = |key: &str, value: &str| BTreeMap::from([(key.to_string(), value.to_string())]);
        let error = parse_options(raw("platform", "linux/amd64,linux/arm64")).expect_err("two platforms");
        assert!(error.reason.contains("one platform"), "{error}");
        assert!(parse_options(raw("platform", "amd64")).is_err());
        let error = parse_options(raw("build-arg:1X", "a")).expect_err("invalid name");
        assert_eq!(error.key, "build-arg:1X");
    }

    #[test]
    fn no_cache_stage_list() {
        let raw = BTreeMap::from([("no-cache".to_string(), "builder, runtime".to_string())]);
        let options = parse_options(raw).expect("valid options");
        assert_eq!(
            options.no_cache,
            Some(vec!["builder".to_string(), "runtime".to_string()])
        );
    }
}
