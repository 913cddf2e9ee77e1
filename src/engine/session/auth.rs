//! The Auth service (`/moby.filesync.v1.Auth/*`), through which BuildKit
//! requests registry credentials when it pulls a base image. stagec reads
//! them from the `auths` of the Docker client configuration
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use bollard_buildkit_proto::moby::filesync::v1::auth_server::Auth;
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse, GetTokenAuthorityRequest,
    GetTokenAuthorityResponse, VerifyTokenAuthorityRequest, VerifyTokenAuthorityResponse,
};
use serde::Deserialize;
use tonic::{Request, Response, Status};

/// Registry host that BuildKit requests credentials for when it pulls from Docker Hub.
const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
/// Key under which `docker login` stores Docker Hub credentials.
const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// Credentials for one registry, as the engine receives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub username: String,
    /// The password, or an identity token with an empty username.
    pub secret: String,
}

/// One entry of `auths` in the Docker client configuration.
#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "identitytoken")]
    identity_token: String,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

/// Returns the credentials stored for `host` in `config_json`, or `None`.
// TODO: run the credential helpers that `credsStore` and `credHelpers` name.
pub(crate) fn credentials_for(config_json: &[u8], host: &str) -> Option<Credentials> {
    let config: ConfigFile = serde_json::from_slice(config_json).ok()?;
    let key = if host == DOCKER_HUB_HOST {
        DOCKER_HUB_CONFIG_KEY
    } else {
        host
    };

    let entry = config.auths.get(key).or_else(|| {
        config
            .auths
            .iter()
            .find(|(stored, _)| registry_hostname(stored) == host)
            .map(|(_, entry)| entry)
    })?;

    if !entry.identity_token.is_empty() {
        return Some(Credentials {
            username: String::new(),
            secret: entry.identity_token.clone(),
        });
    }
    if !entry.auth.is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(entry.auth.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (username, password) = decoded.split_once(':')?;
        return Some(Credentials {
            username: username.to_string(),
            secret: password.to_string(),
        });
    }
    if !entry.username.is_empty() || !entry.password.is_empty() {
        return Some(Credentials {
            username: entry.username.clone(),
            secret: entry.password.clone(),
        });
    }
    None
}

/// Returns the host of a stored `auths` key, which may be a URL such as
/// `https://registry.example.com/v2/`.
fn registry_hostname(key: &str) -> &str {
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    without_scheme.split('/').next().unwrap_or(without_scheme)
}

/// Path of the Docker client configuration file.
fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AuthService;

#[tonic::async_trait]
impl Auth for AuthService {
    async fn credentials(&self, request: Request<CredentialsRequest>) -> Result<Response<CredentialsResponse>, Status> {
        let host = request.into_inner().host;
        let found = match config_path() {
            Some(path) => match tokio::fs::read(&path).await {
                Ok(config_json) => credentials_for(&config_json, &host),
                Err(_) => None,
            },
            None => None,
        };
        // Empty credentials make BuildKit pull anonymously.
        let credentials = found.unwrap_or_default();
        tracing::debug!(registry = %host, found = !credentials.secret.is_empty(), "engine asked for registry credentials");
        Ok(Response::new(CredentialsResponse {
            username: credentials.username,
            secret: credentials.secret,
        }))
    }

    async fn fetch_token(&self, _request: Request<FetchTokenRequest>) -> Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("stagec shares registry credentials, not tokens"))
    }

    async fn get_token_authority(
        &self,
        _request: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        // Unimplemented makes BuildKit fetch registry tokens itself with the
        // credentials above.
        Err(Status::unimplemented("stagec shares registry credentials, not tokens"))
    }

    async fn verify_token_authority(
        &self,
        _request: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("stagec shares registry credentials, not tokens"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{
        "auths": {
            "https://index.docker.io/v1/": {"auth": "aHViLXVzZXI6aHViLXBhc3M="},
            "https://registry.example.test/v2/": {"username": "u", "password": "p"},
            "tokens.example.test": {"identitytoken": "tok"},
            "empty.example.test": {}
        },
        "credsStore": "desktop"
    }"#;

    #[test]
    fn docker_hub_credentials() {
        let found = credentials_for(CONFIG.as_bytes(), "registry-1.docker.io").expect("stored");
        assert_eq!(
            found,
            Credentials {
                username: "hub-user".to_string(),
                secret: "hub-pass".to_string()
            }
        );
    }

    #[test]
    fn url_key_matches_host() {
        let found = credentials_for(CONFIG.as_bytes(), "registry.example.test").expect("stored");
        assert_eq!(
            found,
            Credentials {
                username: "u".to_string(),
                secret: "p".to_string()
            }
        );
    }

    #[test]
    fn identity_token_is_secret() {
        let found = credentials_for(CONFIG.as_bytes(), "tokens.example.test").expect("stored");
        assert_eq!(
            found,
            Credentials {
                username: String::new(),
                secret: "tok".to_string()
            }
        );
    }

    #[test]
    fn unknown_or_empty_host_none() {
        assert_eq!(credentials_for(CONFIG.as_bytes(), "other.example.test"), None);
        assert_eq!(credentials_for(CONFIG.as_bytes(), "empty.example.test"), None);
        assert_eq!(credentials_for(b"not json", "registry-1.docker.io"), None);
    }
}
