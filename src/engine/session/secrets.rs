//! The Secrets service (`/moby.buildkit.secrets.v1.Secrets/GetSecret`),
//! through which BuildKit reads the secrets that a build mounts or sets as
//! environment variables. Secret values are never logged.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::Secrets;
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use tonic::{Request, Response, Status};

use crate::engine::error::EngineError;

/// Source of the value of a secret, as in `--secret id=x,src=path`
/// or `--secret id=x,env=VAR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The whole content of a file.
    File(PathBuf),
    /// The value of an environment variable of the stagec process.
    Env(String),
}

impl SecretSource {
    /// Reads the value, or returns the error that names the secret and the fix.
    pub(crate) fn read(&self, id: &str) -> Result<Vec<u8>, EngineError> {
        match self {
            SecretSource::File(path) => std::fs::read(path).map_err(|error| EngineError::Secret {
                id: id.to_string(),
                cause: format!("cannot read {}: {error}", path.display()),
                fix: "point the secret at a readable file".to_string(),
            }),
            SecretSource::Env(variable) => match std::env::var_os(variable) {
                Some(value) => Ok(value.as_bytes().to_vec()),
                None => Err(EngineError::Secret {
                    id: id.to_string(),
                    cause: format!("environment variable {variable} is not set"),
                    fix: format!("set {variable} or give the secret another source"),
                }),
            },
        }
    }
}

/// Serves the secrets configured for one build, by ID.
#[derive(Debug, Clone)]
pub(crate) struct SecretsService {
    secrets: Arc<BTreeMap<String, SecretSource>>,
}

impl SecretsService {
    pub(crate) fn new(secrets: BTreeMap<String, SecretSource>) -> SecretsService {
        SecretsService {
            secrets: Arc::new(secrets),
        }
    }
}

#[tonic::async_trait]
impl Secrets for SecretsService {
    async fn get_secret(&self, request: Request<GetSecretRequest>) -> Result<Response<GetSecretResponse>, Status> {
        let id = request.into_inner().id;
        // BuildKit treats NotFound as a missing secret: a mount that is not
        // required is then skipped, and a required one fails the step.
        let Some(source) = self.secrets.get(&id) else {
            tracing::debug!(secret = %id, "engine requested a secret that this build does not provide");
            return Err(Status::not_found(format!("secret {id} not found")));
        };
        let source = source.clone();
        let secret_id = id.clone();
        let value = tokio::task::spawn_blocking(move || source.read(&secret_id))
            .await
            .map_err(|error| Status::internal(error.to_string()))?
            .map_err(|error| {
                tracing::warn!(secret = %id, error = %error, "reading secret failed");
                Status::not_found(error.to_string())
            })?;
        Ok(Response::new(GetSecretResponse { data: value }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secret_reads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("token");
        std::fs::write(&path, b"value\n").expect("write");
        assert_eq!(SecretSource::File(path).read("token").expect("readable"), b"value\n");
    }

    #[test]
    fn missing_file_secret_message() {
        let error = SecretSource::File(PathBuf::from("/nonexistent/token"))
            .read("token")
            .expect_err("missing");
        let message = error.to_string();
        assert!(
            message.starts_with("secret \"token\": cannot read /nonexistent/token"),
            "{message}"
        );
        assert!(message.ends_with("; point the secret at a readable file"), "{message}");
    }

    #[test]
    fn env_secret_reads() {
        let expected = std::env::var_os("PATH").expect("tests run with PATH set");
        let value = SecretSource::Env("PATH".to_string()).read("path").expect("set");
        assert_eq!(value, expected.as_bytes());
    }

    #[test]
    fn unset_env_secret_message() {
        let error = SecretSource::Env("STAGEC_TEST_SURELY_UNSET_VARIABLE".to_string())
            .read("api")
            .expect_err("unset");
        assert!(
            error
                .to_string()
                .contains("STAGEC_TEST_SURELY_UNSET_VARIABLE is not set"),
            "{error}"
        );
    }
}
