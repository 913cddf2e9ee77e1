//! TLS for `tcp://` BuildKit addresses, with the options of buildctl:
//! `--tlscacert`, `--tlscert`, `--tlskey` (mutual TLS) and
//! `--tlsservername`. Errors name the file or the certificate check that
//! failed.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::error::EngineError;

/// TLS settings of a `tcp://` address. TLS is on when any of them is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file with the CA certificates that sign the server's certificate.
    pub ca_cert: Option<PathBuf>,
    /// PEM file with the client certificate chain, for mutual TLS.
    pub cert: Option<PathBuf>,
    /// PEM file with the private key of `cert`.
    pub key: Option<PathBuf>,
    /// Name to check the server's certificate against, in place of the host
    /// of the address.
    pub server_name: Option<String>,
}

impl TlsOptions {
    pub fn is_set(&self) -> bool {
        self.ca_cert.is_some() || self.cert.is_some() || self.key.is_some() || self.server_name.is_some()
    }
}

/// A checked TLS client setup for one address.
#[derive(Clone)]
pub(crate) struct TlsClient {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    options: TlsOptions,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient").field("options", &self.options).finish()
    }
}

impl TlsClient {
    /// Reads the CA, certificate and key files and builds the client
    /// configuration for the server `host` of `address`.
    pub(crate) fn new(options: &TlsOptions, address: &str, host: &str) -> Result<TlsClient, EngineError> {
        let options_error = |detail: &str| EngineError::TlsOptions {
            address: address.to_string(),
            detail: detail.to_string(),
        };
        let Some(ca_path) = &options.ca_cert else {
            // TODO: fall back to the system's CA bundle, as buildctl does.
            return Err(options_error(
                "--tlscacert is missing; name the PEM file of the CA that signed the server's certificate",
            ));
        };

        let mut roots = RootCertStore::empty();
        for certificate in read_certificates("--tlscacert", ca_path)? {
            roots.add(certificate).map_err(|error| EngineError::TlsFile {
                option: "--tlscacert".to_string(),
                path: ca_path.clone(),
                detail: format!("not a valid CA certificate: {error}"),
            })?;
        }

        // NOTE: rustls deprecates its ring provider for lacking post-quantum
        // key exchange; stagec keeps ring because aws-lc-rs needs a large C build.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| options_error(&error.to_string()))?
            .with_root_certificates(roots);
        let mut config = match (&options.cert, &options.key) {
            (Some(cert_path), Some(key_path)) => {
                let chain = read_certificates("--tlscert", cert_path)?;
                let key = read_private_key(key_path)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|error| client_cert_error(&error, cert_path, key_path))?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => {
                return Err(options_error(
                    "--tlscert needs --tlskey with the certificate's private key",
                ));
            }
            (None, Some(_)) => return Err(options_error("--tlskey needs --tlscert with the client certificate")),
        };
        // gRPC servers such as buildkitd negotiate HTTP/2 through ALPN.
        config.alpn_protocols = vec![b"h2".to_vec()];

        let name = options.server_name.as_deref().unwrap_or(host);
        let server_name = ServerName::try_from(name.to_string()).map_err(|_| {
            options_error(&format!(
                "`{name}` is not a valid server name; set --tlsservername to the DNS name in the server's certificate"
            ))
        })?;
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
            options: options.clone(),
        })
    }

    /// Runs the TLS handshake on `stream`.
    pub(crate) async fn handshake(&self, stream: TcpStream, address: &str) -> Result<CheckedTls, EngineError> {
        let connector = TlsConnector::from(self.config.clone());
        let stream = connector
            .connect(self.server_name.clone(), stream)
            .await
            .map_err(|error| self.handshake_error(&error, address))?;
        Ok(CheckedTls {
            stream,
            client: self.clone(),
            address: address.to_string(),
        })
    }

    /// Names the certificate check behind a failed handshake, or the alert
    /// with which the server rejected this client.
    fn handshake_error(&self, error: &io::Error, address: &str) -> EngineError {
        let tls_error = |detail: String| EngineError::Tls {
            address: address.to_string(),
            detail,
        };
        let Some(rustls_error) = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) else {
            return EngineError::BuildkitConnectionLost {
                address: address.to_string(),
                detail: format!("during the TLS handshake: {error}"),
            };
        };
        let ca = self.options.ca_cert.as_deref().map(Path::display);
        let ca = ca.map(|path| path.to_string()).unwrap_or_default();
        match rustls_error {
            rustls::Error::InvalidCertificate(certificate_error) => match certificate_error {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => tls_error(format!(
                    "the server's certificate is not signed by a CA in {ca} (unknown CA); \
                     set --tlscacert to the CA that signed it"
                )),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => tls_error(
                    "the server's certificate has expired; renew it on the server (or check this machine's clock)"
                        .to_string(),
                ),
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => tls_error(
                    "the server's certificate is not valid yet; check the clocks of this machine and the server"
                        .to_string(),
                ),
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    tls_error(format!(
                        "the server's certificate is not valid for the name `{}` (name mismatch); \
                         set --tlsservername to a name that the certificate lists",
                        self.server_name.to_str()
                    ))
                }
                other => tls_error(format!("the server's certificate is invalid: {other:?}")),
            },
            rustls::Error::AlertReceived(alert) => self.alert_error(*alert, address),
            rustls::Error::InvalidMessage(_) => tls_error(format!(
                "the server did not answer with TLS ({rustls_error}); \
                 check the port, or remove the TLS flags if the server listens without TLS"
            )),
            other => tls_error(other.to_string()),
        }
    }

    /// Names the cause of an alert from the server, which rejects a
    /// missing or untrusted client certificate this way.
    fn alert_error(&self, alert: AlertDescription, address: &str) -> EngineError {
        let detail = match (&self.options.cert, alert) {
            (None, AlertDescription::CertificateRequired | AlertDescription::HandshakeFailure) => {
                "the server requires a client certificate (mutual TLS); set --tlscert and --tlskey".to_string()
            }
            (Some(cert), AlertDescription::UnknownCA | AlertDescription::BadCertificate) => format!(
                "the server rejected the client certificate {} ({alert:?}); use a certificate signed by a CA the server trusts",
                cert.display()
            ),
            (Some(cert), AlertDescription::CertificateExpired) => {
                format!(
                    "the server rejected the client certificate {}: it has expired",
                    cert.display()
                )
            }
            _ => format!("the server ended the handshake with the alert {alert:?}"),
        };
        EngineError::Tls {
            address: address.to_string(),
            detail,
        }
    }
}

/// A TLS connection whose read errors name the TLS cause. With TLS 1.3 the
/// server checks the client certificate after the client's handshake has
/// ended, so its rejection arrives as an alert on the first read.
pub(crate) struct CheckedTls {
    stream: TlsStream<TcpStream>,
    client: TlsClient,
    address: String,
}

impl AsyncRead for CheckedTls {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Err(error)) if error.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
                let engine_error = this.client.handshake_error(&error, &this.address);
                Poll::Ready(Err(io::Error::other(engine_error)))
            }
            other => other,
        }
    }
}

impl AsyncWrite for CheckedTls {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Names the cause when rustls rejects the client certificate and key pair:
/// rustls checks that the key matches the certificate, and webpki parses only
/// X.509 version 3 certificates, while `openssl x509 -req` without
/// `-extfile` issues version 1.
fn client_cert_error(error: &rustls::Error, cert_path: &Path, key_path: &Path) -> EngineError {
    let text = format!("{error:?}");
    if text.contains("UnsupportedCertVersion") {
        return EngineError::TlsFile {
            option: "--tlscert".to_string(),
            path: cert_path.to_path_buf(),
            detail: "the certificate is X.509 version 1, which stagec's TLS library rejects; issue it again \
                     as version 3, for example with `openssl x509 -req -extfile FILE` where FILE contains \
                     extendedKeyUsage=clientAuth"
                .to_string(),
        };
    }
    let detail = if text.contains("KeyMismatch") {
        format!(
            "the key belongs to another certificate than {}; name the key that was made with that certificate",
            cert_path.display()
        )
    } else {
        format!("does not fit the certificate in {}: {error}", cert_path.display())
    };
    EngineError::TlsFile {
        option: "--tlskey".to_string(),
        path: key_path.to_path_buf(),
        detail,
    }
}

fn read_pem_file(option: &str, path: &Path) -> Result<Vec<u8>, EngineError> {
    let detail = if path.is_dir() {
        format!(
            "it is a folder, not a PEM file; name the file in it, such as {}",
            path.join("ca.pem").display()
        )
    } else {
        match std::fs::read(path) {
            Ok(bytes) => return Ok(bytes),
            Err(error) => format!("unreadable: {error}; check the path and its permissions"),
        }
    };
    Err(EngineError::TlsFile {
        option: option.to_string(),
        path: path.to_path_buf(),
        detail,
    })
}

fn read_certificates(option: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, EngineError> {
    let not_pem = |detail: String| EngineError::TlsFile {
        option: option.to_string(),
        path: path.to_path_buf(),
        detail,
    };
    let bytes = read_pem_file(option, path)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| not_pem(format!("not a PEM certificate file: {error}")))?;
    if certificates.is_empty() {
        return Err(not_pem(
            "not PEM: it has no `-----BEGIN CERTIFICATE-----` block".to_string(),
        ));
    }
    Ok(certificates)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, EngineError> {
    let bytes = read_pem_file("--tlskey", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| EngineError::TlsFile {
        option: "--tlskey".to_string(),
        path: path.to_path_buf(),
        detail: format!("not a PEM private key (PKCS#8, PKCS#1 or SEC1): {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(ca: &Path) -> TlsOptions {
        TlsOptions {
            ca_cert: Some(ca.to_path_buf()),
            ..TlsOptions::default()
        }
    }

    #[test]
    fn missing_ca_file_named() {
        let error = TlsClient::new(&options(Path::new("/nonexistent/ca.pem")), "tcp://h:1", "h").expect_err("no file");
        let message = error.to_string();
        assert!(message.contains("--tlscacert `/nonexistent/ca.pem`"), "{message}");
        assert!(message.contains("unreadable"), "{message}");
    }

    #[test]
    fn non_pem_ca_rejected() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), "not a certificate\n").expect("write");
        let error = TlsClient::new(&options(file.path()), "tcp://h:1", "h").expect_err("not PEM");
        assert!(error.to_string().contains("not PEM"), "{error}");
    }

    #[test]
    fn ca_cert_required() {
        let tls = TlsOptions {
            server_name: Some("builder".to_string()),
            ..TlsOptions::default()
        };
        let error = TlsClient::new(&tls, "tcp://h:1", "h").expect_err("no CA");
        assert!(error.to_string().contains("--tlscacert is missing"), "{error}");
    }

    #[test]
    fn cert_without_key_rejected() {
        let ca = tempfile::NamedTempFile::new().expect("temp file");
        let authority = rcgen::generate_simple_self_signed(vec!["ca".to_string()]).expect("certificate");
        std::fs::write(ca.path(), authority.cert.pem()).expect("write");
        let tls = TlsOptions {
            cert: Some(ca.path().to_path_buf()),
            ..options(ca.path())
        };
        let error = TlsClient::new(&tls, "tcp://h:1", "h").expect_err("no key");
        assert!(error.to_string().contains("--tlscert needs --tlskey"), "{error}");
    }

    #[test]
    fn ca_file_is_directory() {
        let folder = tempfile::tempdir().expect("temp dir");
        let error = TlsClient::new(&options(folder.path()), "tcp://h:1", "h").expect_err("a folder");
        let message = error.to_string();
        assert!(message.contains("it is a folder, not a PEM file"), "{message}");
        assert!(message.contains("ca.pem"), "{message}");
    }

    /// Writes `pem` into a new temp file.
    fn pem_file(pem: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), pem).expect("write");
        file
    }

    #[test]
    fn wrong_key_for_cert() {
        let ca = rcgen::generate_simple_self_signed(vec!["ca".to_string()]).expect("certificate");
        let client = rcgen::generate_simple_self_signed(vec!["client".to_string()]).expect("certificate");
        let other = rcgen::generate_simple_self_signed(vec!["other".to_string()]).expect("certificate");
        let (ca_file, cert_file) = (pem_file(&ca.cert.pem()), pem_file(&client.cert.pem()));
        let key_file = pem_file(&other.signing_key.serialize_pem());
        let tls = TlsOptions {
            cert: Some(cert_file.path().to_path_buf()),
            key: Some(key_file.path().to_path_buf()),
            ..options(ca_file.path())
        };

        let message = TlsClient::new(&tls, "tcp://h:1", "h")
            .expect_err("mismatched key")
            .to_string();
        assert!(message.contains("--tlskey"), "{message}");
        assert!(message.contains("belongs to another certificate"), "{message}");
    }

    /// A self-signed X.509 version 1 certificate and its key, made with
    /// `openssl x509 -req -signkey` (OpenSSL 3.0) without `-extfile`.
    const VERSION_1_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBIzCByQIUOQdmMUw2XMQ+cjOLpvq7+pmMnBYwCgYIKoZIzj0EAwIwEzERMA8G\nA1UEAwwIdjFjbGllbnQwIBcNMjYxMjA0MjMxMzEyWhgPMjEyNjExMTAyMzEzMTJa\nMBMxETAPBgNVBAMMCHYxY2xpZW50MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\nE+w2q0MgN8BJ0qqDtZCwn04pKU8VfaRlPK8+4XQO0VlGxXUzWW2o23jEhReuAN1r\nfqkBAeKkF7wmgd8SoleiEzAKBggqhkjOPQQDAgNJADBGAiEA9AyeJBhahs2umMN4\nFOsbSLzmvgGhgYwffMdT6hWJjFYCIQDDfl+jZ1t+IQ5TTukXIuAJHcK/2fdlFwo7\nzDCpAhucXQ==\n-----END CERTIFICATE-----";
    const VERSION_1_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgL1H/RO+5pCKKWhLu\nUu0jvydyihPKxA1UjeJYovH9+pahRANCAAQT7DarQyA3wEnSqoO1kLCfTikpTxV9\npGU8rz7hdA7RWUbFdTNZbajbeMSFF64A3Wt+qQEB4qQXvCaB3xKiV6IT\n-----END PRIVATE KEY-----";

    #[test]
    fn version_1_client_cert() {
        let ca = rcgen::generate_simple_self_signed(vec!["ca".to_string()]).expect("certificate");
        let (ca_file, cert_file, key_file) = (
            pem_file(&ca.cert.pem()),
            pem_file(VERSION_1_CERT),
            pem_file(VERSION_1_KEY),
        );
        let tls = TlsOptions {
            cert: Some(cert_file.path().to_path_buf()),
            key: Some(key_file.path().to_path_buf()),
            ..options(ca_file.path())
        };

        let message = TlsClient::new(&tls, "tcp://h:1", "h")
            .expect_err("version 1")
            .to_string();
        assert!(message.contains("--tlscert"), "{message}");
        assert!(message.contains("X.509 version 1"), "{message}");
        assert!(message.contains("extendedKeyUsage=clientAuth"), "{message}");
    }

    /// Serves one TLS handshake on a local port with a server certificate
    /// for `localhost` from a new CA, valid until January 1 of
    /// `not_after_year`, and returns the port and the CA's PEM file.
    #[allow(deprecated)] // The same ring provider as the client.
    async fn serve_once(not_after_year: i32) -> (u16, tempfile::NamedTempFile) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let ca_file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(ca_file.path(), ca_cert.pem()).expect("write");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params = CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        server_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        server_params.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");

        let key = PrivateKeyDer::try_from(server_key.serialize_der()).expect("server key DER");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone()], key)
            .expect("server config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("port").port();
        tokio::spawn(async move {
            if let Ok((stream, _)) = listener.accept().await {
                let _ = tokio_rustls::TlsAcceptor::from(Arc::new(config)).accept(stream).await;
            }
        });
        (port, ca_file)
    }

    async fn handshake_with(options: TlsOptions, port: u16) -> Result<CheckedTls, EngineError> {
        let address = format!("tcp://localhost:{port}");
        let client = TlsClient::new(&options, &address, "localhost")?;
        let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        client.handshake(stream, &address).await
    }

    #[tokio::test]
    async fn expired_server_cert_named() {
        let (port, ca_file) = serve_once(2001).await;
        let error = handshake_with(options(ca_file.path()), port)
            .await
            .err()
            .expect("expired");
        assert!(
            error.to_string().contains("the server's certificate has expired"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn valid_server_cert_accepted() {
        let (port, ca_file) = serve_once(4000).await;
        let result = handshake_with(options(ca_file.path()), port).await;
        assert!(result.is_ok(), "{:?}", result.err());
    }

    #[tokio::test]
    async fn server_name_override_checked() {
        let (port, ca_file) = serve_once(4000).await;
        let tls = TlsOptions {
            server_name: Some("builder.example.com".to_string()),
            ..options(ca_file.path())
        };
        let error = handshake_with(tls, port).await.err().expect("name mismatch");
        assert!(
            error.to_string().contains("`builder.example.com` (name mismatch)"),
            "{error}"
        );
    }

    #[test]
    fn unset_options_are_not_tls() {
        assert!(!TlsOptions::default().is_set());
    }
}
