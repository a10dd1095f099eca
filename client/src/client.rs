//! Connecting to a node's machine API.

use machined_proto::machine_service_client::MachineServiceClient;
use machined_proto::resource_service_client::ResourceServiceClient;
use machined_resources::endpoint::{self, Endpoint as Target};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0:?} is not a node to name in a call (letters, digits and punctuation only)")]
    Node(String),
    #[error("invalid endpoint {target:?}")]
    Endpoint {
        target: String,
        #[source]
        source: machined_resources::endpoint::EndpointError,
    },
    #[error("invalid endpoint {0:?}: expected HOST, HOST:PORT or an http(s):// URL")]
    Scheme(String),
    #[error("invalid endpoint {target:?}")]
    Uri {
        target: String,
        #[source]
        source: http::uri::InvalidUri,
    },
    #[error("invalid endpoint {target:?}: not a server name for TLS")]
    ServerName {
        target: String,
        #[source]
        source: rustls_pki_types::InvalidDnsNameError,
    },
    #[error("{what}")]
    Credentials {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot connect to {uri}")]
    Unreachable {
        uri: String,
        #[source]
        source: tonic::transport::Error,
    },
}

fn credentials<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> ConnectError {
    move |e| ConnectError::Credentials {
        what,
        source: Box::new(e),
    }
}

/// `10.5.0.11`, `10.5.0.11:50000`, `[fd00::1]:50000` or `fd00::1` → URI.
pub fn endpoint_uri(target: &str) -> Result<String, ConnectError> {
    let t = target.trim();
    if t.starts_with("http://") || t.starts_with("https://") {
        return Ok(t.to_string());
    }
    let e = Target::parse(t).map_err(|source| ConnectError::Endpoint {
        target: target.into(),
        source,
    })?;
    if e.scheme.is_some() {
        return Err(ConnectError::Scheme(target.into()));
    }
    Ok(endpoint::url(
        "http",
        &e.host,
        e.port_or(crate::DEFAULT_PORT),
    ))
}

/// How mctl authenticates.
#[derive(Clone)]
pub enum Creds {
    /// Maintenance mode: TLS without verifying the node's self-signed
    /// certificate, and no client certificate.
    Insecure,
    /// Verify the node against the machine CA and present a client certificate.
    Mtls {
        ca_pem: String,
        cert_pem: String,
        key_pem: String,
    },
}

fn tls_config(creds: &Creds) -> Result<rustls::ClientConfig, ConnectError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(credentials("TLS versions"))?;
    let mut cfg = match creds {
        Creds::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(machined_pki::tls::AnyServer(
                provider,
            )))
            .with_no_client_auth(),
        Creds::Mtls {
            ca_pem,
            cert_pem,
            key_pem,
        } => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
                roots
                    .add(c.map_err(credentials("CA"))?)
                    .map_err(credentials("CA"))?;
            }
            let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(credentials("client certificate"))?;
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                .map_err(credentials("client key"))?;
            builder
                .with_root_certificates(roots)
                .with_client_auth_cert(chain, key)
                .map_err(credentials("client certificate"))?
        }
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// Connects over TLS (always): verifying the node and presenting a client
/// certificate, or, with [`Creds::Insecure`], neither.
pub async fn connect(target: &str, creds: &Creds) -> Result<Channel, ConnectError> {
    let uri = endpoint_uri(target)?;
    let parsed: http::Uri = uri.parse().map_err(|source| ConnectError::Uri {
        target: target.into(),
        source,
    })?;
    let host = parsed
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let port = parsed.port_u16().unwrap_or(crate::DEFAULT_PORT);
    let server_name = rustls_pki_types::ServerName::try_from(host.clone())
        .map_err(|source| ConnectError::ServerName {
            target: target.into(),
            source,
        })?
        .to_owned();
    let cfg = std::sync::Arc::new(tls_config(creds)?);
    let connector = tower::service_fn(move |_: http::Uri| {
        let (cfg, server_name, host) = (cfg.clone(), server_name.clone(), host.clone());
        async move {
            let tcp = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::TcpStream::connect((host.as_str(), port)),
            )
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
            let _ = tcp.set_nodelay(true);
            let tls = tokio_rustls::TlsConnector::from(cfg)
                .connect(server_name, tcp)
                .await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    let unreachable = |source| ConnectError::Unreachable {
        uri: uri.replace("http://", "https://"),
        source,
    };
    let ep = Endpoint::from_shared(uri.clone()).map_err(unreachable)?;
    ep.connect_with_connector(connector)
        .await
        .map_err(unreachable)
}

/// Metadata naming the node a call is for, when it goes through an
/// endpoint that forwards it (Talos's `nodes`).
pub const NODE_HEADER: &str = "x-machined-node";

/// Adds [`NODE_HEADER`] to every call (when a node is named).
#[derive(Clone)]
pub struct ForNode(Option<tonic::metadata::AsciiMetadataValue>);

impl tonic::service::Interceptor for ForNode {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert(NODE_HEADER, v.clone());
        }
        Ok(req)
    }
}

/// A connection to a node, or to an endpoint for a node behind it.
pub type Conn = tonic::codegen::InterceptedService<Channel, ForNode>;

/// Calls go to the node at the other end.
pub fn direct(ch: Channel) -> Conn {
    tonic::codegen::InterceptedService::new(ch, ForNode(None))
}

/// Calls go through the endpoint at the other end to `node`.
pub fn through(ch: Channel, node: &str) -> Result<Conn, ConnectError> {
    let v = node
        .parse()
        .map_err(|_| ConnectError::Node(node.to_string()))?;
    Ok(tonic::codegen::InterceptedService::new(
        ch,
        ForNode(Some(v)),
    ))
}

pub fn machine(ch: Conn) -> MachineServiceClient<Conn> {
    MachineServiceClient::new(ch).max_decoding_message_size(64 << 20)
}

pub fn resources(ch: Conn) -> ResourceServiceClient<Conn> {
    ResourceServiceClient::new(ch).max_decoding_message_size(64 << 20)
}

pub fn etcd(ch: Conn) -> machined_proto::etcd_service_client::EtcdServiceClient<Conn> {
    machined_proto::etcd_service_client::EtcdServiceClient::new(ch)
        .max_decoding_message_size(16 << 20)
}

pub fn health(ch: Conn) -> machined_proto::health_service_client::HealthServiceClient<Conn> {
    machined_proto::health_service_client::HealthServiceClient::new(ch)
}

pub fn vip(ch: Conn) -> machined_proto::vip_service_client::VipServiceClient<Conn> {
    machined_proto::vip_service_client::VipServiceClient::new(ch)
}

pub fn observe(ch: Conn) -> machined_proto::observe_service_client::ObserveServiceClient<Conn> {
    machined_proto::observe_service_client::ObserveServiceClient::new(ch)
        .max_decoding_message_size(16 << 20)
}

/// The innermost cause reads best ("Connection refused (os error 111)").
#[cfg(test)]
mod tests {
    use super::endpoint_uri;

    #[test]
    fn endpoints() {
        assert_eq!(endpoint_uri("10.5.0.11").unwrap(), "http://10.5.0.11:50000");
        assert_eq!(
            endpoint_uri("10.5.0.11:1234").unwrap(),
            "http://10.5.0.11:1234"
        );
        assert_eq!(endpoint_uri("fd00::1").unwrap(), "http://[fd00::1]:50000");
        assert_eq!(endpoint_uri("[fd00::1]:7").unwrap(), "http://[fd00::1]:7");
        assert_eq!(endpoint_uri("node1").unwrap(), "http://node1:50000");
        assert!(endpoint_uri("node1:x").is_err());
        assert!(endpoint_uri("").is_err());
    }
}
