use crate::mac::HardwareAddr;
use crate::resource::ResourceSpec;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `IFA_PROTO` value that marks an address as added by machined, so we never
/// remove an address we did not add (`ip addr` shows it as `proto 109`).
pub const ADDRESS_PROTO_MACHINED: u8 = 109;
/// `IFA_PROTO` of a VIP machined holds: added with a short kernel lifetime
/// that only the VIP holder renews, and never touched by the address
/// controller.
pub const ADDRESS_PROTO_VIP: u8 = 110;
/// `rtm_protocol` of the routes machined adds: it only removes routes
/// carrying it.
pub const ROUTE_PROTO_MACHINED: u8 = 109;

/// Where a spec comes from; a higher layer wins for the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum ConfigLayer {
    #[default]
    Default,
    Configuration,
    Operator,
}

/// What the kernel reports about a link (`network/LinkStatus/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LinkStatus {
    pub index: u32,
    /// `ether`, `loopback`, ... (the ARP hardware type).
    #[serde(rename = "type")]
    pub link_type: String,
    /// `veth`, `bridge`, `vlan`, ... (empty for plain devices).
    pub kind: String,
    pub hardware_addr: HardwareAddr,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    pub oper_state: OperState,
    pub mtu: u32,
    /// Index of the master device (bridge, bond), 0 if none.
    #[serde(default)]
    pub master_index: u32,
    /// The device's own MAC (`IFLA_PERM_ADDRESS`), empty when it has none.
    #[serde(default, skip_serializing_if = "HardwareAddr::is_empty")]
    pub permanent_addr: HardwareAddr,
    /// Alternative names (`ip link property add ... altname`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_names: Vec<String>,
    /// The kernel driver of a physical device (sysfs), when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// The link's alias (`IFLA_IFALIAS`): a `LinkAliasConfig` name.
    #[serde(default)]
    pub alias: String,
}

/// A link's operational state (RFC 2863, `IFLA_OPERSTATE`), as `ip link`
/// writes it but in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OperState {
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
    /// What loopback and some virtual devices report (also any state this
    /// build does not know).
    #[default]
    #[serde(other)]
    Unknown,
}

impl OperState {
    pub fn as_str(self) -> &'static str {
        match self {
            OperState::Unknown => "unknown",
            OperState::NotPresent => "notpresent",
            OperState::Down => "down",
            OperState::LowerLayerDown => "lowerlayerdown",
            OperState::Testing => "testing",
            OperState::Dormant => "dormant",
            OperState::Up => "up",
        }
    }
}

/// An address's family, as `AddressStatus` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressFamily {
    Inet4,
    Inet6,
}

impl AddressFamily {
    pub fn of(ip: std::net::IpAddr) -> Self {
        if ip.is_ipv4() {
            AddressFamily::Inet4
        } else {
            AddressFamily::Inet6
        }
    }
}

/// An address's scope (`ip addr`'s `scope`; the kernel's "universe" is
/// `global`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressScope {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
    /// A scope number without a name.
    #[serde(other)]
    Other,
}

impl LinkStatus {
    /// Whether `name` names this link: as its alias or an alternative name
    /// (its kernel name is the resource id).
    pub fn answers_to(&self, name: &str) -> bool {
        self.alias == name || self.alt_names.iter().any(|a| a == name)
    }

    /// Usable for traffic: admin up and operationally up (or `unknown`, which
    /// is what loopback and some virtual devices report).
    pub fn is_operational(&self) -> bool {
        self.up && matches!(self.oper_state, OperState::Up | OperState::Unknown)
    }
}

impl ResourceSpec for LinkStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "LinkStatus";
}

/// A wanted link state (`network/LinkSpec/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LinkSpec {
    pub name: String,
    pub up: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    pub layer: ConfigLayer,
    /// A link machined creates when it is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<VirtualLink>,
    /// The bond this link is a member of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
}

/// What kind of link to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VirtualLink {
    /// An 802.1Q VLAN of `parent`.
    Vlan { parent: String, id: u16 },
    /// A bond with these settings (its members name it as `master`).
    Bond(crate::config::BondSettings),
}

impl ResourceSpec for LinkSpec {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "LinkSpec";
}

/// A wanted address (`network/AddressSpec/<link>/<cidr>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressSpec {
    pub address: IpNet,
    pub link: String,
    pub layer: ConfigLayer,
    /// The address lives until then (unix ms) and no longer: the kernel
    /// gets the remaining time as its valid and preferred lifetime (a DHCP
    /// lease). `None`: forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until_ms: Option<u64>,
}

impl AddressSpec {
    pub fn id(link: &str, address: &IpNet) -> String {
        format!("{link}/{address}")
    }
}

impl ResourceSpec for AddressSpec {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "AddressSpec";
}

/// An address the kernel has (`network/AddressStatus/<link>/<cidr>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressStatus {
    pub address: IpNet,
    pub link: String,
    pub link_index: u32,
    pub family: AddressFamily,
    pub scope: AddressScope,
    /// `IFA_PROTO`; 0 when unset.
    pub protocol: u8,
    /// Added by machined (protocol [`ADDRESS_PROTO_MACHINED`] or [`ADDRESS_PROTO_VIP`]).
    pub ours: bool,
}

impl ResourceSpec for AddressStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "AddressStatus";
}

/// Announcements of an address (`network/AnnounceStatus/<ip>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnnounceStatus {
    pub ip: std::net::IpAddr,
    pub link: String,
    /// Last announcement.
    pub last: crate::resource::Timestamp,
    /// Frames sent since the address was added.
    pub frames: u64,
}

impl ResourceSpec for AnnounceStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "AnnounceStatus";
}

/// A route machined wants (`network/RouteSpec/<link>/<dest>/<gw>/<metric>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    pub link: String,
    pub destination: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<std::net::IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<std::net::IpAddr>,
    pub metric: u32,
    pub layer: ConfigLayer,
}

/// `link/destination/gateway/metric`, the id of a route's spec and status.
pub fn route_id(
    link: &str,
    destination: &IpNet,
    gateway: Option<std::net::IpAddr>,
    metric: u32,
) -> String {
    let gw = gateway.map_or("-".to_string(), |g| g.to_string());
    format!("{link}/{destination}/{gw}/{metric}")
}

impl RouteSpec {
    pub fn id(&self) -> String {
        route_id(&self.link, &self.destination, self.gateway, self.metric)
    }
}

impl ResourceSpec for RouteSpec {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "RouteSpec";
}

/// A route in the kernel's main table (`network/RouteStatus/...`, ids as
/// for `RouteSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    pub link: String,
    pub destination: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<std::net::IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<std::net::IpAddr>,
    pub metric: u32,
    pub protocol: u8,
    /// Added by machined (protocol 109).
    pub ours: bool,
}

impl ResourceSpec for RouteStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "RouteStatus";
}
