//! Connecting to a node's machine API.

use machined_proto::machine_service_client::MachineServiceClient;
use machined_proto::resource_service_client::ResourceServiceClient;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid endpoint {0:?}: {1}")]
    Invalid(String, String),
    #[error("cannot connect to {0}: {1}")]
    Unreachable(String, String),
}

/// `10.5.0.11`, `10.5.0.11:50000`, `[fd00::1]:50000` or `fd00::1` → URI.
pub fn endpoint_uri(target: &str) -> Result<String, ConnectError> {
    let t = target.trim();
    if t.is_empty() {
        return Err(ConnectError::Invalid(target.into(), "empty".into()));
    }
    if t.starts_with("http://") || t.starts_with("https://") {
        return Ok(t.to_string());
    }
    if let Ok(ip) = t.parse::<std::net::IpAddr>() {
        return Ok(match ip {
            std::net::IpAddr::V4(v4) => format!("http://{v4}:{}", crate::DEFAULT_PORT),
            std::net::IpAddr::V6(v6) => format!("http://[{v6}]:{}", crate::DEFAULT_PORT),
        });
    }
    if t.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(format!("http://{t}"));
    }
    // host or host:port
    match t.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => Ok(format!("http://{t}")),
        Some(_) => Err(ConnectError::Invalid(
            target.into(),
            "expected HOST or HOST:PORT".into(),
        )),
        None => Ok(format!("http://{t}:{}", crate::DEFAULT_PORT)),
    }
}

pub async fn connect(target: &str) -> Result<Channel, ConnectError> {
    let uri = endpoint_uri(target)?;
    let ep = Endpoint::from_shared(uri.clone())
        .map_err(|e| ConnectError::Invalid(target.into(), e.to_string()))?
        .connect_timeout(Duration::from_secs(5));
    ep.connect()
        .await
        .map_err(|e| ConnectError::Unreachable(uri, source_chain(&e)))
}

pub fn machine(ch: Channel) -> MachineServiceClient<Channel> {
    MachineServiceClient::new(ch).max_decoding_message_size(64 << 20)
}

pub fn resources(ch: Channel) -> ResourceServiceClient<Channel> {
    ResourceServiceClient::new(ch).max_decoding_message_size(64 << 20)
}

/// The innermost cause reads best ("Connection refused (os error 111)").
fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
}

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
