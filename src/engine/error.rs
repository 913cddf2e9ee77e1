//! Errors of the engine client. Each message is one line that names the
//! cause and the fix, so the CLI can print it as it is.

use std::path::PathBuf;

/// Oldest Docker Engine API version that stagec talks to: Docker Engine 20.10.
pub const MIN_API_VERSION: (u32, u32) = (1, 41);

/// Failure to reach Docker Engine or to run a build on its BuildKit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("invalid DOCKER_HOST {host:?}: {reason}; set DOCKER_HOST to unix:///path/to/docker.sock")]
    InvalidHost { host: String, reason: String },

    // TODO: support tcp:// (with TLS from DOCKER_CERT_PATH) and ssh:// hosts.
    #[error(
        "DOCKER_HOST {host} is not supported yet: stagec connects to Docker Engine over a unix socket only; \
         set DOCKER_HOST to unix:///path/to/docker.sock, or build on a BuildKit daemon with --addr tcp://HOST:PORT"
    )]
    UnsupportedHost { host: String },

    #[error("no Docker Engine at {host}: {cause}; start it or set DOCKER_HOST")]
    Unreachable { host: String, cause: String },

    #[error(
        "permission denied on {host}; add your user to the group that owns the socket (usually docker) \
         or set DOCKER_HOST to a socket you can open"
    )]
    PermissionDenied { host: String },

    #[error("{host} is not a Docker Engine API socket: {detail}; set DOCKER_HOST to the Docker Engine socket")]
    NotDockerEngine { host: String, detail: String },

    #[error(
        "timed out after {seconds} s waiting for Docker Engine at {host} to respond to {request}; \
         check that the engine is running and not overloaded"
    )]
    Timeout {
        host: String,
        request: String,
        seconds: u64,
    },

    #[error(
        "Docker Engine {engine_version} at {host} is too old: its API version is {api_version}, and stagec \
         needs API {}.{} (Docker Engine 20.10) or newer; upgrade Docker Engine",
        MIN_API_VERSION.0,
        MIN_API_VERSION.1
    )]
    EngineTooOld {
        host: String,
        engine_version: String,
        api_version: String,
    },

    #[error(
        "BuildKit is not available in the Docker Engine at {host}: {detail}; \
         use a Linux Docker Engine 20.10 or newer"
    )]
    BuildKitUnavailable { host: String, detail: String },

    #[error(
        "lost the connection to Docker Engine at {host} during the build: {detail}; \
         check that the engine still runs (its log shows why it stopped) and run the build again"
    )]
    ConnectionLost { host: String, detail: String },

    #[error("unexpected response from Docker Engine at {host} to {request}: {detail}; report this as a stagec bug")]
    Protocol {
        host: String,
        request: String,
        detail: String,
    },

    #[error("build step {step} needs the BuildKit capability `{capability}`, which {engine} at {host} lacks; {fix}")]
    UnsupportedCapability {
        host: String,
        /// The engine as messages name it, such as `Docker Engine 20.10.24+dfsg1`.
        engine: String,
        step: String,
        capability: String,
        fix: String,
    },

    #[error("invalid build request: {detail}; report this as a stagec bug")]
    InvalidRequest { detail: String },

    #[error("build context {name:?} at {path}: {cause}; create the folder or fix the path")]
    LocalDir { name: String, path: PathBuf, cause: String },

    #[error("secret {id:?}: {cause}; {fix}")]
    Secret { id: String, cause: String, fix: String },

    /// A `type=local` cache folder that cannot be read or written; the
    /// message names the folder and the fix.
    #[error("{0}")]
    LocalCache(String),

    #[error("{0}")]
    Solve(SolveFailure),

    #[error("invalid BuildKit address `{address}`: {reason}")]
    InvalidAddress { address: String, reason: String },

    #[error("invalid TLS options for BuildKit at {address}: {detail}")]
    TlsOptions { address: String, detail: String },

    #[error("cannot use {option} `{}`: {detail}", path.display())]
    TlsFile {
        option: String,
        path: PathBuf,
        detail: String,
    },

    #[error("TLS connection to BuildKit at {address} failed: {detail}")]
    Tls { address: String, detail: String },

    #[error("cannot connect to BuildKit at {address}: {cause}; check that buildkitd runs and listens there")]
    BuildkitUnreachable { address: String, cause: String },

    #[error("`{command}` for BuildKit at {address} failed: {detail}")]
    DialStdio {
        address: String,
        command: String,
        detail: String,
    },

    #[error(
        "timed out after {seconds} s waiting for BuildKit at {address} to respond to {request}; \
         check that buildkitd is running and not overloaded"
    )]
    BuildkitTimeout {
        address: String,
        request: String,
        seconds: u64,
    },

    #[error(
        "lost the connection to BuildKit at {address}: {detail}; \
         check that buildkitd still runs (its log shows why it stopped) and run the build again"
    )]
    BuildkitConnectionLost { address: String, detail: String },

    #[error("unexpected response from BuildKit at {address} to {request}: {detail}")]
    BuildkitProtocol {
        address: String,
        request: String,
        detail: String,
    },
}

/// A build that BuildKit ran and that failed, with the step that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolveFailure {
    /// Name of the failed vertex as the progress shows it, such as
    /// `[builder 2/3] RUN go build`. It is `None` when no vertex reported the
    /// error.
    pub vertex: Option<String>,
    /// BuildKit's error message, such as
    /// `process "/bin/sh -c go build" did not complete successfully: exit code: 1`.
    pub message: String,
    /// Last lines that the failed vertex wrote to stdout and stderr, oldest first.
    pub last_logs: Vec<String>,
}

impl std::fmt::Display for SolveFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.vertex {
            Some(vertex) => write!(f, "build step {vertex} failed: {}", self.message)?,
            None => write!(f, "build failed: {}", self.message)?,
        }
        write!(f, "; {}", self.fix())?;
        if !self.last_logs.is_empty() {
            write!(f, " (its last log lines follow)")?;
        }
        Ok(())
    }
}

impl SolveFailure {
    /// Returns whether the build failed for a reason outside the step: the
    /// engine's data root or the output's disk is full, or the session
    /// through which the engine reads secrets and context files has closed.
    pub fn is_engine_fault(&self) -> bool {
        self.engine_fault_fix().is_some()
    }

    /// Returns what to do next.
    fn fix(&self) -> String {
        // grpc-go's text when a message exceeds the receiver's limit, which is
        // 4 MiB on Docker Engine 26.1's `/grpc` endpoint.
        if self.message.contains("message larger than max") {
            return "move long label, env or run values into a file of the build context, so that the \
                    LLB definition and the image configuration stay under the limit, and build again"
                .to_string();
        }
        if let Some(fix) = self.engine_fault_fix() {
            return fix.to_string();
        }
        if let Some(reference) = self.base_image() {
            return missing_base_image_fix(reference);
        }
        "fix the step and build again".to_string()
    }

    /// Returns the base image of a failed `FROM` step, such as
    /// `docker.io/library/alpine:3` for the vertex `[app 1/2] FROM docker.io/library/alpine:3`.
    pub fn base_image(&self) -> Option<&str> {
        let (_, after) = self.vertex.as_deref()?.split_once("] FROM ")?;
        after.split_whitespace().next()
    }

    /// Returns the help line for a `FROM` step that failed because the
    /// engine lacks the base image: the image, the registry error and the
    /// fix. Returns `None` for other failures, and for engine faults such
    /// as a full data root.
    pub fn missing_base_image_help(&self) -> Option<String> {
        if self.is_engine_fault() {
            return None;
        }
        let reference = self.base_image()?;
        Some(format!(
            "base image {reference} is not in the engine's image store, and pulling it from its registry \
             failed: {}; {}",
            self.message,
            pull_or_load(reference)
        ))
    }

    fn engine_fault_fix(&self) -> Option<&'static str> {
        // The engine reports ENOSPC with Go's text for it, in any step, and
        // stagec's own writes of an exported file with Rust's capitalized one.
        if self.message.to_ascii_lowercase().contains("no space left on device") {
            // filesend.rs prefixes the errors of stagec's own writes.
            if self.message.contains("stagec: writing") {
                return Some("the disk that holds the output is full; free space there or write the output elsewhere");
            }
            return Some(
                "the engine's data root is full; free space in it (for example with `docker builder prune`) \
                 and build again",
            );
        }
        // BuildKit's text when a step needs the session (for a secret, a
        // context file or registry credentials) after it has closed.
        if self.message.contains("no active session for") {
            return Some(
                "the build's session with the engine closed, so the engine could not read secrets or \
                 context files from stagec; check the connection to the engine and run the build again",
            );
        }
        None
    }
}

/// Returns the fix for a base image that is not in the engine's image
/// store. BuildKit then pulls it, and only the registry error (no network,
/// a proxy that refuses the connection, an unknown name) reaches stagec, so
/// the message says that the image is missing locally.
fn missing_base_image_fix(reference: &str) -> String {
    format!(
        "base image {reference} is not in the engine's image store and the engine could not pull it; {}",
        pull_or_load(reference)
    )
}

fn pull_or_load(reference: &str) -> String {
    format!("pull it with `docker pull {reference}` or load it with `docker load`, then build again")
}

impl EngineError {
    /// Rewords an error that the shared gRPC code raised in Docker Engine's
    /// terms for a standalone BuildKit daemon at `address`.
    pub(crate) fn for_buildkitd(self, address: &str) -> EngineError {
        let address = address.to_string();
        match self {
            EngineError::Timeout { request, seconds, .. } => EngineError::BuildkitTimeout {
                address,
                request,
                seconds,
            },
            EngineError::ConnectionLost { detail, .. } => EngineError::BuildkitConnectionLost { address, detail },
            EngineError::Protocol { request, detail, .. } => EngineError::BuildkitProtocol {
                address,
                request,
                detail,
            },
            EngineError::Unreachable { cause, .. } => EngineError::BuildkitUnreachable { address, cause },
            other => other,
        }
    }

    /// Returns the lines to print below the one-line message: the last log
    /// lines of a failed build step, and nothing for other errors.
    pub fn detail_lines(&self) -> &[String] {
        match self {
            EngineError::Solve(failure) => &failure.last_logs,
            _ => &[],
        }
    }
}

/// Maps the error of opening the engine's unix socket to the error that
/// names the cause and the fix.
pub(crate) fn from_socket_error(host: &str, error: &std::io::Error) -> EngineError {
    match error.kind() {
        std::io::ErrorKind::NotFound => EngineError::Unreachable {
            host: host.to_string(),
            cause: "the socket does not exist".to_string(),
        },
        std::io::ErrorKind::PermissionDenied => EngineError::PermissionDenied { host: host.to_string() },
        std::io::ErrorKind::ConnectionRefused => EngineError::Unreachable {
            host: host.to_string(),
            cause: "connection refused (nothing listens on the socket)".to_string(),
        },
        _ => EngineError::Unreachable {
            host: host.to_string(),
            cause: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_socket_message() {
        let error = std::io::Error::from(std::io::ErrorKind::NotFound);
        let message = from_socket_error("unix:///tmp/none.sock", &error).to_string();
        assert_eq!(
            message,
            "no Docker Engine at unix:///tmp/none.sock: the socket does not exist; start it or set DOCKER_HOST"
        );
    }

    #[test]
    fn permission_denied_message() {
        let error = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let message = from_socket_error("unix:///var/run/docker.sock", &error).to_string();
        assert!(
            message.starts_with("permission denied on unix:///var/run/docker.sock; "),
            "{message}"
        );
        assert!(message.contains("docker"), "{message}");
    }

    #[test]
    fn refused_socket_message() {
        let error = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let message = from_socket_error("unix:///x.sock", &error).to_string();
        assert!(
            message.starts_with("no Docker Engine at unix:///x.sock: connection refused"),
            "{message}"
        );
    }

    #[test]
    fn solve_failure_names_vertex() {
        let failure = SolveFailure {
            vertex: Some("[builder 2/3] RUN go build".to_string()),
            message: "exit code: 1".to_string(),
            last_logs: vec!["main.go:3: undefined: x".to_string()],
        };
        let error = EngineError::Solve(failure);
        assert_eq!(
            error.to_string(),
            "build step [builder 2/3] RUN go build failed: exit code: 1; \
             fix the step and build again (its last log lines follow)"
        );
        assert_eq!(error.detail_lines(), ["main.go:3: undefined: x"]);
    }

    #[test]
    fn full_disk_failure_advises_freeing_space() {
        let failure = SolveFailure {
            vertex: Some("exporting to image".to_string()),
            message: "write /var/lib/docker/image/overlay2/layerdb/tmp/size: no space left on device".to_string(),
            last_logs: Vec::new(),
        };
        let message = EngineError::Solve(failure).to_string();
        assert!(
            message.starts_with("build step exporting to image failed: write "),
            "{message}"
        );
        assert!(message.contains("the engine's data root is full"), "{message}");
        assert!(!message.contains("fix the step"), "{message}");
    }

    #[test]
    fn full_output_disk_advises_freeing_space() {
        let failure = SolveFailure {
            vertex: Some("exporting to client tarball".to_string()),
            message: "rpc error: code = Internal desc = stagec: writing out/image.tar failed: \
                      No space left on device (os error 28)"
                .to_string(),
            last_logs: Vec::new(),
        };
        assert!(failure.is_engine_fault());
        let message = EngineError::Solve(failure).to_string();
        assert!(message.contains("the disk that holds the output is full"), "{message}");
        assert!(!message.contains("fix the step"), "{message}");
    }

    #[test]
    fn closed_session_failure_names_session() {
        let failure = SolveFailure {
            vertex: Some("[app 3/3] RUN wc -c /run/secrets/token".to_string()),
            message: "no active session for 2400: context deadline exceeded".to_string(),
            last_logs: Vec::new(),
        };
        assert!(failure.is_engine_fault());
        let message = EngineError::Solve(failure).to_string();
        assert!(
            message.contains("the build's session with the engine closed"),
            "{message}"
        );
        assert!(!message.contains("fix the step"), "{message}");
    }

    #[test]
    fn missing_base_image_behind_refused_proxy() {
        let failure = SolveFailure {
            vertex: Some("[app 1/2] FROM docker.io/stagec-faults/gone:1".to_string()),
            message: "failed to load cache key: failed to do request: Head \
                      \"https://registry-1.docker.io/v2/stagec-faults/gone/manifests/1\": proxyconnect tcp: \
                      dial tcp 127.0.0.1:9: connect: connection refused"
                .to_string(),
            last_logs: Vec::new(),
        };
        assert_eq!(failure.base_image(), Some("docker.io/stagec-faults/gone:1"));

        let help = failure.missing_base_image_help().expect("a FROM step failure");
        assert!(help.contains("proxyconnect tcp"), "{help}");
        assert!(
            help.contains("base image docker.io/stagec-faults/gone:1 is not in the engine's image store"),
            "{help}"
        );
        assert!(help.contains("`docker pull docker.io/stagec-faults/gone:1`"), "{help}");
        assert!(help.contains("`docker load`"), "{help}");

        let message = EngineError::Solve(failure).to_string();
        assert!(
            message.contains("pull it with `docker pull docker.io/stagec-faults/gone:1`"),
            "{message}"
        );
        assert!(!message.contains("fix the step"), "{message}");
    }

    #[test]
    fn full_disk_in_from_step_is_not_missing_image() {
        let failure = SolveFailure {
            vertex: Some("[app 1/2] FROM docker.io/library/alpine:3".to_string()),
            message: "write /var/lib/docker/tmp/x: no space left on device".to_string(),
            last_logs: Vec::new(),
        };
        assert_eq!(failure.missing_base_image_help(), None);
        assert!(EngineError::Solve(failure).to_string().contains("data root is full"));
    }

    #[test]
    fn step_failure_is_not_engine_fault() {
        let failure = SolveFailure {
            vertex: Some("[app 2/2] RUN make".to_string()),
            message: "process \"/bin/sh -c make\" did not complete successfully: exit code: 2".to_string(),
            last_logs: vec!["make: *** No rule to make target".to_string()],
        };
        assert!(!failure.is_engine_fault());
    }

    #[test]
    fn messages_are_one_line() {
        let errors = [
            EngineError::UnsupportedHost {
                host: "tcp://127.0.0.1:2375".to_string(),
            },
            EngineError::EngineTooOld {
                host: "unix:///s".to_string(),
                engine_version: "19.03.1".to_string(),
                api_version: "1.40".to_string(),
            },
            EngineError::ConnectionLost {
                host: "unix:///s".to_string(),
                detail: "reset".to_string(),
            },
        ];
        for error in errors {
            assert!(!error.to_string().contains('\n'), "{error}");
        }
    }
}
