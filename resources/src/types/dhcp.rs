use crate::config::DhcpOptions;
use crate::resource::{ResourceSpec, Timestamp};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// DHCPv4 wanted on a link (`network/DHCPSpec/<link>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhcpSpec {
    pub link: String,
    pub options: DhcpOptions,
}

impl ResourceSpec for DhcpSpec {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "DHCPSpec";
}

/// The DHCPv4 client of a link (`network/DHCPStatus/<link>`); the lease's
/// fields are absent while not bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DhcpStatus {
    pub link: String,
    /// `init`, `selecting`, `requesting`, `init-reboot`, `bound`,
    /// `renewing`, `rebinding`, `declined`.
    pub state: String,
    /// The lease's address with its prefix.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routers: Vec<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
    /// Lease time granted, seconds.
    #[serde(default)]
    pub lease_secs: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquired: Option<Timestamp>,
    /// T1: when the client renews with its server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_at: Option<Timestamp>,
    /// T2: when it asks any server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebind_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// What went wrong last (a NAK, a conflict, a socket error).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_error: String,
}

impl ResourceSpec for DhcpStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "DHCPStatus";
}
