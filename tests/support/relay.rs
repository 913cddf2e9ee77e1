//! A relay that exposes the BuildKit of the test Docker Engine the way a
//! standalone buildkitd listens: on a unix socket, on a TCP port with
//! mutual TLS, and on a plain TCP port. For each accepted connection it
//! opens the engine's API socket, upgrades it with `POST /grpc`
//! (`Upgrade: h2c`), and then copies bytes both ways, so the client speaks
//! gRPC to the engine's BuildKit as it would to buildkitd.
//!
//! The certificates come from [`TestPki`]: a CA, a server certificate for
//! `localhost` and 127.0.0.1, and a client certificate, all made with rcgen.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio_rustls::TlsAcceptor;

/// PEM files of a test CA and the certificates it signed, in a temp folder.
pub struct TestPki {
    pub dir: tempfile::TempDir,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing here, for the wrong-CA case.
    pub other_ca_cert: PathBuf,
}

impl TestPki {
    pub fn generate() -> TestPki {
        let dir = tempfile::tempdir().expect("temp folder");
        let path = |name: &str| dir.path().join(name);

        let (ca_params, ca_key) = ca("stagec test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        std::fs::write(path("ca.pem"), ca_cert.pem()).expect("write ca.pem");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("server params");
        server_params.distinguished_name.push(DnType::CommonName, "buildkitd");
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");
        std::fs::write(path("server.pem"), server_cert.pem()).expect("write server.pem");
        std::fs::write(path("server-key.pem"), server_key.serialize_pem()).expect("write server-key.pem");

        let client_key = KeyPair::generate().expect("client key");
        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        client_params.distinguished_name.push(DnType::CommonName, "stagec");
        let client_cert = client_params
            .signed_by(&client_key, &issuer)
            .expect("client certificate");
        std::fs::write(path("client.pem"), client_cert.pem()).expect("write client.pem");
        std::fs::write(path("client-key.pem"), client_key.serialize_pem()).expect("write client-key.pem");

        let (other_params, other_key) = ca("another CA");
        let other_cert = other_params.self_signed(&other_key).expect("other CA certificate");
        std::fs::write(path("other-ca.pem"), other_cert.pem()).expect("write other-ca.pem");

        TestPki {
            ca_cert: path("ca.pem"),
            server_cert: path("server.pem"),
            server_key: path("server-key.pem"),
            client_cert: path("client.pem"),
            client_key: path("client-key.pem"),
            other_ca_cert: path("other-ca.pem"),
            dir,
        }
    }
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params, key)
}

/// A running relay. It stops with the test process.
pub struct Relay {
    pub socket: PathBuf,
    /// Port with TLS that requires a client certificate from the test CA.
    pub tls_addr: SocketAddr,
    /// Port without TLS.
    pub plain_addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Relay {
    /// Starts the relay in a thread of its own for the engine at
    /// `docker_socket`.
    pub fn start(docker_socket: &Path, pki: &TestPki) -> Relay {
        let dir = tempfile::tempdir().expect("temp folder");
        let socket = dir.path().join("buildkitd.sock");
        let acceptor = tls_acceptor(pki);

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("relay runtime");
        let (unix, tls, plain) = runtime.block_on(async {
            let unix = UnixListener::bind(&socket).expect("bind the relay socket");
            let tls = TcpListener::bind("127.0.0.1:0").await.expect("bind the TLS port");
            let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind the plain port");
            (unix, tls, plain)
        });
        let tls_addr = tls.local_addr().expect("TLS port");
        let plain_addr = plain.local_addr().expect("plain port");

        let docker_socket = docker_socket.to_path_buf();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let unix_socket = docker_socket.clone();
                tokio::spawn(async move {
                    while let Ok((stream, _)) = unix.accept().await {
                        tokio::spawn(relay(stream, unix_socket.clone()));
                    }
                });
                let plain_socket = docker_socket.clone();
                tokio::spawn(async move {
                    while let Ok((stream, _)) = plain.accept().await {
                        tokio::spawn(relay(stream, plain_socket.clone()));
                    }
                });
                while let Ok((stream, _)) = tls.accept().await {
                    let acceptor = acceptor.clone();
                    let socket = docker_socket.clone();
                    tokio::spawn(async move {
                        match acceptor.accept(stream).await {
                            Ok(stream) => relay(stream, socket).await,
                            Err(error) => eprintln!("relay: TLS handshake failed: {error}"),
                        }
                    });
                }
            });
        });

        Relay {
            socket,
            tls_addr,
            plain_addr,
            _dir: dir,
        }
    }
}

#[allow(deprecated)] // ring is the provider stagec uses too.
fn tls_acceptor(pki: &TestPki) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(&pki.ca_cert).expect("ca.pem") {
        roots.add(certificate.expect("CA certificate")).expect("add the CA");
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("client verifier");
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.server_cert)
        .expect("server.pem")
        .map(|certificate| certificate.expect("server certificate"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(&pki.server_key).expect("server key");
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .expect("server config");
    config.alpn_protocols = vec![b"h2".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// Upgrades a new engine connection with `POST /grpc` and copies bytes
/// between it and `client` until either side closes.
async fn relay(mut client: impl AsyncRead + AsyncWrite + Unpin, docker_socket: PathBuf) {
    let mut engine = match UnixStream::connect(&docker_socket).await {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("relay: cannot open {}: {error}", docker_socket.display());
            return;
        }
    };
    let request = "POST /grpc HTTP/1.1\r\nHost: docker\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n";
    if engine.write_all(request.as_bytes()).await.is_err() {
        return;
    }

    // Reads the response head byte by byte, so no HTTP/2 byte after it is lost.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        match engine.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    if !head.starts_with("HTTP/1.1 101") {
        eprintln!("relay: the engine refused the upgrade: {head}");
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
}
