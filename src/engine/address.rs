//! Parsing of BuildKit addresses (`--addr`, `BUILDKIT_HOST`) in the forms
//! that buildctl and buildx accept, and the choice between a standalone
//! BuildKit daemon and the BuildKit inside Docker Engine.

use std::path::PathBuf;

use super::connect::{UnixHost, resolve_docker_host};
use super::error::EngineError;

/// Environment variable that buildctl reads for the BuildKit address.
pub const BUILDKIT_HOST_ENV: &str = "BUILDKIT_HOST";

/// The address schemes stagec accepts, for messages.
const SUPPORTED_SCHEMES: &str = "unix://, tcp://, docker-container:// and kube-pod://";

/// A BuildKit daemon (buildkitd) and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildkitAddress {
    /// `unix:///run/buildkit/buildkitd.sock`
    Unix { path: PathBuf },
    /// `tcp://builder.example.com:1234`, with TLS when TLS options are set.
    Tcp { host: String, port: u16 },
    /// `docker-container://NAME`: `docker exec -i NAME buildctl dial-stdio`.
    DockerContainer { container: String },
    /// `kube-pod://POD?namespace=NS&context=CTX&container=C`:
    /// `kubectl exec -i POD -- buildctl dial-stdio`.
    KubePod {
        pod: String,
        namespace: Option<String>,
        context: Option<String>,
        container: Option<String>,
    },
}

/// Where `stagec build` runs its builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The BuildKit embedded in Docker Engine, reached through the engine
    /// API's `/grpc` and `/session` upgrades.
    DockerEngine(UnixHost),
    /// A standalone BuildKit daemon, spoken to over gRPC directly.
    Buildkitd { uri: String, address: BuildkitAddress },
}

/// Picks where to build, with buildctl's precedence: `addr` (the `--addr`
/// flag) when it is set and not empty, else `BUILDKIT_HOST`, else Docker
/// Engine at `DOCKER_HOST` or the default socket.
pub(crate) fn resolve_target(addr: Option<&str>) -> Result<Target, EngineError> {
    let from_env = std::env::var(BUILDKIT_HOST_ENV).ok();
    let chosen = addr
        .filter(|value| !value.is_empty())
        .or(from_env.as_deref().filter(|value| !value.is_empty()));
    match chosen {
        Some(value) => Ok(Target::Buildkitd {
            uri: value.to_string(),
            address: parse_address(value)?,
        }),
        None => Ok(Target::DockerEngine(resolve_docker_host(None)?)),
    }
}

/// Parses a BuildKit address such as `tcp://10.0.0.5:1234`.
pub fn parse_address(value: &str) -> Result<BuildkitAddress, EngineError> {
    let invalid = |reason: String| EngineError::InvalidAddress {
        address: value.to_string(),
        reason,
    };

    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(invalid(format!(
            "expected SCHEME://..., such as tcp://HOST:PORT; stagec supports {SUPPORTED_SCHEMES}"
        )));
    };
    match scheme {
        "unix" => parse_unix(rest).map_err(invalid),
        "tcp" => parse_tcp(rest).map_err(invalid),
        "docker-container" => parse_docker_container(rest).map_err(invalid),
        "kube-pod" => parse_kube_pod(rest).map_err(invalid),
        "ssh" | "npipe" | "podman-container" | "nerdctl-container" => Err(invalid(format!(
            "the {scheme}:// scheme is not supported; stagec supports {SUPPORTED_SCHEMES}"
        ))),
        _ => Err(invalid(format!(
            "unknown scheme `{scheme}`; stagec supports {SUPPORTED_SCHEMES}"
        ))),
    }
}

fn parse_unix(rest: &str) -> Result<BuildkitAddress, String> {
    if rest.is_empty() {
        return Err("the socket path is empty".to_string());
    }
    if !rest.starts_with('/') {
        return Err("the socket path must be absolute, as in unix:///run/buildkit/buildkitd.sock".to_string());
    }
    Ok(BuildkitAddress::Unix {
        path: PathBuf::from(rest),
    })
}

fn parse_tcp(rest: &str) -> Result<BuildkitAddress, String> {
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') || authority.contains('?') {
        return Err("a tcp:// address has no path or query; write tcp://HOST:PORT".to_string());
    }
    let port_missing = || "the port is missing; write tcp://HOST:PORT, such as tcp://127.0.0.1:1234".to_string();
    // The last colon of a bracketed IPv6 address without a port, as in
    // tcp://[::1], is inside the brackets.
    if authority.starts_with('[') && authority.ends_with(']') {
        return Err(port_missing());
    }
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Err(port_missing());
    };
    // An IPv6 address comes in brackets, as in tcp://[::1]:1234.
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err("the host is missing; write tcp://HOST:PORT".to_string());
    }
    let port: u16 = match port.parse() {
        Ok(port) if port > 0 => port,
        _ => return Err(format!("invalid port `{port}`; use a number from 1 to 65535")),
    };
    Ok(BuildkitAddress::Tcp {
        host: host.to_string(),
        port,
    })
}

fn parse_docker_container(rest: &str) -> Result<BuildkitAddress, String> {
    let container = rest.strip_suffix('/').unwrap_or(rest);
    if container.is_empty() {
        return Err("the container name is missing; write docker-container://NAME".to_string());
    }
    if container.contains('/') || container.contains('?') {
        return Err(
            "a docker-container:// address has only a container name; write docker-container://NAME".to_string(),
        );
    }
    Ok(BuildkitAddress::DockerContainer {
        container: container.to_string(),
    })
}

fn parse_kube_pod(rest: &str) -> Result<BuildkitAddress, String> {
    let (pod, query) = rest.split_once('?').unwrap_or((rest, ""));
    let pod = pod.strip_suffix('/').unwrap_or(pod);
    if pod.is_empty() {
        return Err("the pod name is missing; write kube-pod://POD?namespace=NS".to_string());
    }
    if pod.contains('/') {
        return Err(
            "a kube-pod:// address has only a pod name before the query; write kube-pod://POD?namespace=NS".to_string(),
        );
    }

    let (mut namespace, mut context, mut container) = (None, None, None);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if value.is_empty() {
            return Err(format!("the query parameter `{key}` has no value"));
        }
        let slot = match key {
            "namespace" => &mut namespace,
            "context" => &mut context,
            "container" => &mut container,
            _ => {
                return Err(format!(
                    "unknown query parameter `{key}`; kube-pod:// accepts namespace, context and container"
                ));
            }
        };
        *slot = Some(value.to_string());
    }
    Ok(BuildkitAddress::KubePod {
        pod: pod.to_string(),
        namespace,
        context,
        container,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_address_parses() {
        let address = parse_address("unix:///run/buildkit/buildkitd.sock").expect("valid address");
        assert_eq!(
            address,
            BuildkitAddress::Unix {
                path: PathBuf::from("/run/buildkit/buildkitd.sock")
            }
        );
    }

    #[test]
    fn tcp_address_parses() {
        let address = parse_address("tcp://builder.example.com:1234").expect("valid address");
        assert_eq!(
            address,
            BuildkitAddress::Tcp {
                host: "builder.example.com".to_string(),
                port: 1234
            }
        );
    }

    #[test]
    fn tcp_ipv6_address_parses() {
        let address = parse_address("tcp://[::1]:1234").expect("valid address");
        assert_eq!(
            address,
            BuildkitAddress::Tcp {
                host: "::1".to_string(),
                port: 1234
            }
        );
    }

    #[test]
    fn docker_container_address_parses() {
        let address = parse_address("docker-container://buildkitd").expect("valid address");
        assert_eq!(
            address,
            BuildkitAddress::DockerContainer {
                container: "buildkitd".to_string()
            }
        );
    }

    #[test]
    fn kube_pod_query_parses() {
        let address =
            parse_address("kube-pod://buildkitd-0?namespace=builds&context=prod&container=buildkitd").expect("valid");
        assert_eq!(
            address,
            BuildkitAddress::KubePod {
                pod: "buildkitd-0".to_string(),
                namespace: Some("builds".to_string()),
                context: Some("prod".to_string()),
                container: Some("buildkitd".to_string()),
            }
        );
    }

    #[test]
    fn tcp_ipv6_without_port() {
        for value in ["tcp://[::1]", "tcp://[::1]/"] {
            let message = parse_address(value).expect_err(value).to_string();
            assert!(message.contains("the port is missing"), "{value}: {message}");
            assert!(!message.contains("invalid port"), "{value}: {message}");
        }
    }

    #[test]
    fn invalid_addresses_rejected() {
        let cases = [
            ("gopher://x", "unknown scheme `gopher`"),
            ("ssh://user@host", "the ssh:// scheme is not supported"),
            ("builder:1234", "expected SCHEME://"),
            ("unix://", "the socket path is empty"),
            ("unix://buildkitd.sock", "must be absolute"),
            ("tcp://127.0.0.1", "the port is missing"),
            ("tcp://:1234", "the host is missing"),
            ("tcp://127.0.0.1:99999", "invalid port `99999`"),
            ("tcp://127.0.0.1:0", "invalid port `0`"),
            ("tcp://127.0.0.1:http", "invalid port `http`"),
            ("tcp://127.0.0.1:1234/grpc", "no path or query"),
            ("docker-container://", "the container name is missing"),
            ("kube-pod://", "the pod name is missing"),
            ("kube-pod://pod?namespace=", "`namespace` has no value"),
            ("kube-pod://pod?user=x", "unknown query parameter `user`"),
        ];
        for (value, reason) in cases {
            let error = parse_address(value).expect_err(value);
            let message = error.to_string();
            assert!(message.contains(reason), "{value}: {message}");
            assert!(message.contains(value), "{value}: {message}");
        }
    }

    #[test]
    fn flag_wins_over_environment() {
        let target = resolve_target(Some("tcp://10.0.0.5:1234")).expect("valid address");
        let Target::Buildkitd { uri, .. } = target else {
            panic!("expected a buildkitd target, got {target:?}");
        };
        assert_eq!(uri, "tcp://10.0.0.5:1234");
    }
}
