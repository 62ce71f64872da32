//! A loopback HTTPS server whose certificate no client trusts (self-signed, made at start with
//! the `openssl` command): the functions' TLS stack (rustls on ring, `shared::aws::tls`) runs a
//! real handshake against it and must end in a certificate error, never a panic (as it would
//! without a crypto provider). moto and the other test servers speak plain HTTP.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The server; stopped when dropped.
pub struct TlsServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TlsServer {
    /// Starts a server on 127.0.0.1 with a fresh self-signed certificate for `127.0.0.1`.
    /// Panics (it is test support) when `openssl` cannot make the certificate.
    pub async fn start() -> TlsServer {
        // A temporary directory (removed when dropped) for openssl's files, one per server.
        static SERVERS: AtomicUsize = AtomicUsize::new(0);
        let n = SERVERS.fetch_add(1, Ordering::SeqCst);
        let dir = crate::clusters_dir::ClustersDir::new("tls", &format!("server-{n}"));
        let (cert, key) = self_signed(dir.path());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("a valid certificate and key");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                // The client refuses the certificate: the handshake fails on its side.
                tokio::spawn(async move { drop(acceptor.accept(stream).await) });
            }
        });
        drop(dir);
        TlsServer {
            addr,
            connections,
            task,
        }
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// Connections the server accepted (each then offered the certificate).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A self-signed certificate for IP 127.0.0.1 (P-256, one day) and its key, made in `dir`.
fn self_signed(dir: &Path) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-days", "1"])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the `openssl` command (Debian package openssl) makes the test certificate");
    assert!(
        status.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    (
        CertificateDer::from_pem_file(&cert).expect("the certificate openssl wrote"),
        PrivateKeyDer::from_pem_file(&key).expect("the key openssl wrote"),
    )
}
