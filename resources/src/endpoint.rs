//! Endpoints and URLs, read and written in one place: `host`, `host:port`,
//! `[v6]:port`, a bare IPv6 address, and `scheme://` in front of any of
//! them. IPv6 hosts are always written in brackets.

use std::fmt;
use std::net::IpAddr;

/// A host: an address or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        Host::Ip(ip)
    }
}

impl fmt::Display for Host {
    /// The host as written in a URL (IPv6 in brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// An endpoint as a user or a config writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` in `https://host`; `None` without a scheme.
    pub scheme: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
}

/// Why an endpoint was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("is empty")]
    Empty,
    #[error("has no host")]
    NoHost,
    #[error("has an invalid port {0:?} (expected 1-65535)")]
    Port(String),
    #[error("has an invalid host {0:?}")]
    Host(String),
    #[error("has an unclosed '[' (expected [IPv6]:PORT)")]
    Bracket,
}

impl Endpoint {
    /// Reads `host`, `host:port`, `[v6]:port`, `v6`, with an optional
    /// `scheme://` and path (ignored).
    pub fn parse(s: &str) -> Result<Endpoint, EndpointError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(EndpointError::Empty);
        }
        let (scheme, rest) = match s.split_once("://") {
            Some((sc, rest)) => (Some(sc.to_ascii_lowercase()), rest),
            None => (None, s),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = split_authority(authority)?;
        Ok(Endpoint { scheme, host, port })
    }

    /// The port, or `default` when none was written.
    pub fn port_or(&self, default: u16) -> u16 {
        self.port.unwrap_or(default)
    }
}

fn split_authority(a: &str) -> Result<(Host, Option<u16>), EndpointError> {
    if a.is_empty() {
        return Err(EndpointError::NoHost);
    }
    if let Some(inner) = a.strip_prefix('[') {
        let (v6, after) = inner.split_once(']').ok_or(EndpointError::Bracket)?;
        let ip = v6
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| EndpointError::Host(v6.to_string()))?;
        let port = match after {
            "" => None,
            p => Some(port(p.strip_prefix(':').unwrap_or(p))?),
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    if let Ok(ip) = a.parse::<IpAddr>() {
        return Ok((Host::Ip(ip), None)); // v4, or a bare v6 (no port possible)
    }
    let (h, p) = match a.rsplit_once(':') {
        Some((h, p)) => (h, Some(port(p)?)),
        None => (a, None),
    };
    if h.is_empty() {
        return Err(EndpointError::NoHost);
    }
    if let Ok(ip) = h.parse::<IpAddr>() {
        if ip.is_ipv6() {
            return Err(EndpointError::Host(h.to_string()));
        }
        return Ok((Host::Ip(ip), p));
    }
    let name_ok = h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !name_ok {
        return Err(EndpointError::Host(h.chars().take(64).collect()));
    }
    Ok((Host::Name(h.to_string()), p))
}

fn port(p: &str) -> Result<u16, EndpointError> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 && !p.starts_with('+') => Ok(n),
        _ => Err(EndpointError::Port(p.chars().take(16).collect())),
    }
}

/// `scheme://host:port`, IPv6 in brackets.
pub fn url(scheme: &str, host: &Host, port: u16) -> String {
    format!("{scheme}://{host}:{port}")
}

/// `scheme://ip:port`, IPv6 in brackets.
pub fn ip_url(scheme: &str, ip: IpAddr, port: u16) -> String {
    url(scheme, &Host::Ip(ip), port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form() {
        let v4: IpAddr = "10.5.0.11".parse().unwrap();
        let v6: IpAddr = "fd00::11".parse().unwrap();
        let name = || Host::Name("cp.example.com".into());
        let cases: &[(&str, Option<&str>, Host, Option<u16>)] = &[
            ("10.5.0.11", None, Host::Ip(v4), None),
            ("10.5.0.11:2379", None, Host::Ip(v4), Some(2379)),
            ("fd00::11", None, Host::Ip(v6), None),
            ("[fd00::11]", None, Host::Ip(v6), None),
            ("[fd00::11]:2379", None, Host::Ip(v6), Some(2379)),
            (
                "https://10.5.0.11:6443",
                Some("https"),
                Host::Ip(v4),
                Some(6443),
            ),
            (
                "https://[fd00::11]:6443/x",
                Some("https"),
                Host::Ip(v6),
                Some(6443),
            ),
            ("HTTP://cp.example.com", Some("http"), name(), None),
            ("cp.example.com:50000", None, name(), Some(50000)),
        ];
        for (text, scheme, host, port) in cases {
            let e = Endpoint::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                (e.scheme.as_deref(), &e.host, e.port),
                (*scheme, host, *port),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_with_the_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "is empty"),
            ("https://", "no host"),
            (":2379", "no host"),
            ("10.5.0.11:0", "invalid port"),
            ("10.5.0.11:99999", "invalid port"),
            ("10.5.0.11:+80", "invalid port"),
            ("host:abc", "invalid port"),
            ("[fd00::11", "unclosed"),
            ("[nope]:1", "invalid host"),
            ("a b:1", "invalid host"),
        ];
        for (text, want) in cases {
            let err = Endpoint::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn writes_brackets_for_v6() {
        let v6: IpAddr = "fd00::11".parse().unwrap();
        assert_eq!(ip_url("http", v6, 2379), "http://[fd00::11]:2379");
        assert_eq!(url("http", &Host::Ip(v6), 50000), "http://[fd00::11]:50000");
        let e = Endpoint::parse("10.5.0.11").unwrap();
        assert_eq!(
            url("https", &e.host, e.port_or(2379)),
            "https://10.5.0.11:2379"
        );
        let e = Endpoint::parse("http://10.5.0.11:3379").unwrap();
        assert_eq!(
            url("https", &e.host, e.port_or(2379)),
            "https://10.5.0.11:3379"
        );
    }
}
