use crate::config::DhcpOptions;
use crate::resource::{ResourceSpec, Timestamp};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// Where a link's DHCPv4 client is (RFC 2131's states, plus `checking`:
/// the ACKed address is being ARP-probed, and `declined`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DhcpState {
    #[default]
    Init,
    Selecting,
    Requesting,
    InitReboot,
    Checking,
    Declined,
    Bound,
    Renewing,
    Rebinding,
}

impl DhcpState {
    pub fn as_str(self) -> &'static str {
        match self {
            DhcpState::Init => "init",
            DhcpState::Selecting => "selecting",
            DhcpState::Requesting => "requesting",
            DhcpState::InitReboot => "init-reboot",
            DhcpState::Checking => "checking",
            DhcpState::Declined => "declined",
            DhcpState::Bound => "bound",
            DhcpState::Renewing => "renewing",
            DhcpState::Rebinding => "rebinding",
        }
    }
}

impl std::fmt::Display for DhcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    pub state: DhcpState,
    /// The lease's address with its prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Net>,
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
