//! What a candidate writes into its election key, and the strict reading of
//! what another node wrote there.
//!
//! The value comes from etcd, i.e. from another machine: it is bounded in
//! size, every field is checked, and a value that fails is reported as
//! unreadable instead of being half-believed (a wrong MAC or address would
//! point the holder prober at the wrong station).

use crate::kernel::packet::{format_mac, parse_mac, Mac};
use serde::Deserialize;
use std::net::IpAddr;

/// Largest election value read; ours are about 100 bytes.
pub const MAX_VALUE_BYTES: usize = 1024;
/// Longest node name accepted (a DNS name).
pub const MAX_NODE_BYTES: usize = 253;

/// Who holds (or campaigns for) a VIP, as its election value says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The node's name (its etcd member name).
    pub node: String,
    /// The node's own address on the VIP's link, which the prober targets.
    pub ip: Option<IpAddr>,
    /// Its link's MAC, so probes need not be broadcast.
    pub mac: Option<Mac>,
    /// Whether the node's health check of the VIP's service passes (true
    /// without a check, and when an older node leaves the field out).
    pub healthy: bool,
    /// The node's `priority` for the VIP (0 when an older node leaves it out).
    pub priority: u32,
    /// The etcd lease of the election key (not part of the value).
    pub lease: i64,
}

/// Why an election value was not read.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("election value is {0} bytes, more than {MAX_VALUE_BYTES}")]
    TooLarge(usize),
    #[error("election value is not the expected JSON object")]
    Shape(#[source] serde_json::Error),
    #[error("election value field node: {0}")]
    Node(&'static str),
    #[error("election value field ip: {0} is not a unicast address")]
    Ip(IpAddr),
    #[error("election value field mac: {0:?} is not a unicast MAC (aa:bb:cc:dd:ee:ff)")]
    Mac(String),
}

#[derive(Deserialize)]
struct Wire {
    node: String,
    #[serde(default)]
    ip: Option<IpAddr>,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default = "yes")]
    healthy: bool,
    #[serde(default)]
    priority: u32,
}

fn yes() -> bool {
    true
}

impl Holder {
    /// The bytes a candidate campaigns with.
    pub fn encode(&self) -> String {
        serde_json::json!({
            "node": self.node,
            "ip": self.ip,
            "mac": self.mac.map(|m| format_mac(&m)),
            "healthy": self.healthy,
            "priority": self.priority,
        })
        .to_string()
    }

    /// Reads another node's election value (`lease` from its key).
    pub fn decode(value: &[u8], lease: i64) -> Result<Holder, ValueError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(ValueError::TooLarge(value.len()));
        }
        let w: Wire = serde_json::from_slice(value).map_err(ValueError::Shape)?;
        check_node(&w.node)?;
        if let Some(ip) = w.ip {
            if !unicast(ip) {
                return Err(ValueError::Ip(ip));
            }
        }
        let mac = match w.mac {
            None => None,
            Some(s) => match parse_mac(&s) {
                Some(m) if m[0] & 1 == 0 && m != [0; 6] => Some(m),
                _ => return Err(ValueError::Mac(s.chars().take(40).collect())),
            },
        };
        Ok(Holder {
            node: w.node,
            ip: w.ip,
            mac,
            healthy: w.healthy,
            priority: w.priority,
            lease,
        })
    }
}

pub(super) fn check_node(node: &str) -> Result<(), ValueError> {
    if node.is_empty() {
        return Err(ValueError::Node("is empty"));
    }
    if node.len() > MAX_NODE_BYTES {
        return Err(ValueError::Node("is longer than 253 bytes"));
    }
    if !node
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Err(ValueError::Node(
            "holds characters other than letters, digits, '-', '.' and '_'",
        ));
    }
    Ok(())
}

fn unicast(ip: IpAddr) -> bool {
    !(ip.is_unspecified() || ip.is_multicast() || ip.is_loopback())
        && ip != IpAddr::V4(std::net::Ipv4Addr::BROADCAST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = Holder {
            node: "cp1".into(),
            ip: Some("10.5.0.11".parse().unwrap()),
            mac: Some([0x52, 0x54, 0, 0, 0, 1]),
            healthy: false,
            priority: 5,
            lease: 7,
        };
        assert_eq!(Holder::decode(h.encode().as_bytes(), 7).ok(), Some(h));
        let bare = br#"{"node":"cp2"}"#;
        let got = Holder::decode(bare, 1).unwrap();
        assert_eq!((got.ip, got.mac, got.healthy), (None, None, true));
    }

    #[test]
    fn refuses_what_would_mislead() {
        let cases: &[(&[u8], &str)] = &[
            (br#"{"ip":"10.0.0.1"}"#, "not the expected"),
            (br#"{"node":""}"#, "node: is empty"),
            (br#"{"node":"a b"}"#, "node: holds"),
            (br#"{"node":"cp1","ip":"0.0.0.0"}"#, "ip: 0.0.0.0"),
            (br#"{"node":"cp1","ip":"224.0.0.1"}"#, "ip: 224.0.0.1"),
            (br#"{"node":"cp1","ip":"::1"}"#, "ip: ::1"),
            (br#"{"node":"cp1","mac":"ff:ff:ff:ff:ff:ff"}"#, "mac"),
            (br#"{"node":"cp1","mac":"00:00:00:00:00:00"}"#, "mac"),
            (br#"{"node":"cp1","mac":"+2:54:00:00:00:01"}"#, "mac"),
            (br#"{"node":"cp1","mac":"52:54:00:00:00"}"#, "mac"),
            (b"\xff\xfe", "not the expected"),
            (b"[1,2,3]", "not the expected"),
            (br#"{"node":"cp1","healthy":"yes"}"#, "not the expected"),
        ];
        for (value, want) in cases {
            let err = Holder::decode(value, 1).unwrap_err().to_string();
            assert!(err.contains(want), "{value:?}: {err}");
        }
        let big = format!(r#"{{"node":"{}"}}"#, "a".repeat(2000));
        assert!(matches!(
            Holder::decode(big.as_bytes(), 1),
            Err(ValueError::TooLarge(n)) if n == big.len()
        ));
        let long = format!(r#"{{"node":"{}"}}"#, "a".repeat(300));
        assert!(Holder::decode(long.as_bytes(), 1).is_err());
    }
}
