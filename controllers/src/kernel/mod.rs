//! Small named kernel operations behind a trait, so network logic can be
//! tested without the kernel. [`Rtnl`] is the real one (rtnetlink).

pub mod ask;
pub mod packet;
mod quiet;
mod rtnl;
pub mod socket;
pub mod vip_addr;

pub use rtnl::Rtnl;

use crate::waker::Waker;
use async_trait::async_trait;
use ipnet::IpNet;
use machined_resources::mac::HardwareAddr;
use machined_resources::types::{AddressScope, OperState};

/// A link as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KernelLink {
    pub index: u32,
    pub name: String,
    /// `ether`, `loopback`, ...
    pub link_type: String,
    /// `veth`, `bridge`, ... ; empty for physical devices.
    pub kind: String,
    pub mac: HardwareAddr,
    pub up: bool,
    pub oper_state: OperState,
    pub mtu: u32,
    pub master: u32,
    /// `IFLA_PERM_ADDRESS`; empty when the device has none.
    pub perm_mac: HardwareAddr,
    pub alt_names: Vec<String>,
    /// `IFLA_IFALIAS`.
    pub alias: String,
}

/// An address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelAddr {
    pub link_index: u32,
    pub addr: IpNet,
    pub scope: AddressScope,
    /// `IFA_PROTO`, 0 if unset.
    pub protocol: u8,
}

/// A route of the main table as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    pub link_index: u32,
    pub destination: IpNet,
    pub gateway: Option<std::net::IpAddr>,
    pub source: Option<std::net::IpAddr>,
    pub metric: u32,
    /// `rtm_protocol`.
    pub protocol: u8,
}

#[derive(Debug, thiserror::Error)]
#[error("{op}: {reason}")]
pub struct NetError {
    pub op: String,
    pub reason: String,
    /// The kernel's error number, when it refused.
    pub errno: Option<i32>,
}

impl NetError {
    pub fn new(op: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        NetError {
            op: op.into(),
            reason: reason.to_string(),
            errno: None,
        }
    }

    pub fn io(op: impl Into<String>, e: std::io::Error) -> Self {
        NetError {
            op: op.into(),
            errno: e.raw_os_error(),
            reason: e.to_string(),
        }
    }

    pub fn errno(op: impl Into<String>, errno: i32) -> Self {
        Self::io(op, std::io::Error::from_raw_os_error(errno))
    }
}

#[async_trait]
pub trait NetDriver: Send + Sync + 'static {
    async fn dump_links(&self) -> Result<Vec<KernelLink>, NetError>;
    async fn dump_addrs(&self) -> Result<Vec<KernelAddr>, NetError>;
    /// Adds `addr` marked with `protocol`. An address already present is
    /// not an error. With `lifetime_secs` the address is valid and preferred
    /// that long (the kernel removes it then) and an existing one gets the
    /// new lifetime.
    async fn add_addr(
        &self,
        link_index: u32,
        addr: IpNet,
        protocol: u8,
        lifetime_secs: Option<u32>,
    ) -> Result<(), NetError>;
    /// Removes `addr`; an address already gone is not an error.
    async fn del_addr(&self, link_index: u32, addr: IpNet) -> Result<(), NetError>;
    async fn set_link(&self, link_index: u32, up: bool, mtu: Option<u32>) -> Result<(), NetError>;
    /// Creates VLAN `id` of the link `parent_index`, named `name`.
    async fn create_vlan(&self, name: &str, parent_index: u32, id: u16) -> Result<(), NetError>;
    /// Creates bond `name` with `settings` (`primary_index`: the primary
    /// member's index, when it exists).
    async fn create_bond(
        &self,
        name: &str,
        settings: &machined_resources::config::BondSettings,
        primary_index: Option<u32>,
    ) -> Result<(), NetError>;
    /// Enslaves the link to `master_index` (taking it down first, as the
    /// kernel requires for bonds; it is brought up again by its spec).
    async fn set_master(&self, link_index: u32, master_index: u32) -> Result<(), NetError>;
    /// Sets the link's alias (`IFLA_IFALIAS`); empty clears it.
    async fn set_link_alias(&self, link_index: u32, alias: &str) -> Result<(), NetError>;
    /// Keeps secondary IPv4 addresses when their primary is removed (the
    /// kernel deletes them otherwise): removing an address of ours must
    /// never take a hand-made one with it.
    async fn promote_secondaries(&self, link: &str) -> Result<(), NetError>;
    /// Unicast routes of the main table.
    async fn dump_routes(&self) -> Result<Vec<KernelRoute>, NetError>;
    /// Adds a route (its `protocol` marks it). One already there is not an
    /// error.
    async fn add_route(&self, r: &KernelRoute) -> Result<(), NetError>;
    /// Removes a route; one already gone is not an error.
    async fn del_route(&self, r: &KernelRoute) -> Result<(), NetError>;
    /// Wakes `waker` on every link, address or route change in the kernel.
    fn subscribe(&self, waker: Waker);
}

#[cfg(test)]
pub mod fake;

/// The kernel's hostname (`localhost` when unset or unreadable).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
