//! TLS for the machine API. Before a config is applied (maintenance mode)
//! the node serves a self-signed certificate and asks for no client
//! certificate; once `ApiCerts` exists it serves TLS 1.3 with its issued
//! certificate and requires a client certificate signed by the machine CA.
//! The server config is swapped live: each new connection takes the
//! current one.

use machined_resources::types::ApiCerts;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(pub String);

fn err(e: impl std::fmt::Display) -> TlsError {
    TlsError(e.to_string())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(err)
}

fn key(pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(err)
}

/// Maintenance mode: a fresh self-signed certificate, no client auth.
pub fn maintenance() -> Result<Arc<ServerConfig>, TlsError> {
    let ck =
        machined_pki::self_signed(&["localhost".into(), "127.0.0.1".into()], 365).map_err(err)?;
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(err)?
        .with_no_client_auth()
        .with_single_cert(certs(&ck.cert_pem)?, key(&ck.key_pem)?)
        .map_err(err)?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// Configured: TLS 1.3, the issued certificate, client certificates from the
/// machine CA required.
pub fn secured(c: &ApiCerts) -> Result<Arc<ServerConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for ca in certs(&c.ca_pem)? {
        roots.add(ca).map_err(err)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(err)?;
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&c.cert_pem)?, key(&c.key_pem)?)
        .map_err(err)?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// The server config new connections get.
#[derive(Clone)]
pub struct Current(Arc<RwLock<Arc<ServerConfig>>>);

impl Current {
    pub fn new(cfg: Arc<ServerConfig>) -> Self {
        Current(Arc::new(RwLock::new(cfg)))
    }

    pub fn set(&self, cfg: Arc<ServerConfig>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = cfg;
    }

    fn get(&self) -> Arc<ServerConfig> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Accepts TCP connections and completes TLS handshakes (each on its own
/// task, bounded), yielding established streams for tonic to serve.
pub fn incoming(
    listener: TcpListener,
    current: Current,
) -> tokio_stream::wrappers::ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %machined_resources::error::chain(&e), "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // Small request/response messages: without this, Nagle and
            // delayed ACKs stall a call for ~40 ms.
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(current.get());
            let out = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = out.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %machined_resources::error::chain(&e), "TLS handshake failed")
                    }
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
            if tx.is_closed() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
