//! The parsed machine config: what machined supports of the Talos shape.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MachineType {
    /// `controlplane` (Talos's legacy `init` maps here too).
    Controlplane,
    Worker,
}

impl MachineType {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineType::Controlplane => "controlplane",
            MachineType::Worker => "worker",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineConfig {
    pub machine_type: MachineType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default)]
    pub interfaces: Vec<InterfaceConfig>,
    /// `kind: Layer2VIPConfig` documents.
    #[serde(default)]
    pub layer2_vips: Vec<Layer2Vip>,
    /// `kind: LinkConfig` and `kind: VLANConfig` documents.
    #[serde(default)]
    pub link_docs: Vec<LinkDoc>,
    /// `kind: DHCPv4Config` documents.
    #[serde(default)]
    pub dhcp_docs: Vec<DhcpDoc>,
    /// `kind: LinkAliasConfig` documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_aliases: Vec<LinkAlias>,
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// `machine.ca`: issues the node's API certificate; verifies clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_ca: Option<CaPem>,
    /// `machine.certSANs`: extra names in the API certificate.
    #[serde(default)]
    pub cert_sans: Vec<String>,
    /// `machine.logging.destinations`: where logs are pushed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_destinations: Vec<super::logging::LogDestination>,
    /// An `EventSinkConfig` document: where events are pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_sink: Option<super::logging::SinkEndpoint>,
}

/// A CA certificate and key, PEM (decoded from the config's base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaPem {
    pub crt: String,
    pub key: String,
}

impl CaPem {
    /// The pair as an issuer; `None` without the key (Talos workers).
    pub fn issuer(&self) -> Option<machined_pki::CertKey> {
        (!self.key.is_empty()).then(|| machined_pki::CertKey {
            cert_pem: self.crt.clone(),
            key_pem: self.key.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClusterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `cluster.controlPlane.endpoint`, e.g. `https://10.5.0.50:6443`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<String>,
    #[serde(default)]
    pub etcd: EtcdConfig,
}

/// `cluster.etcd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EtcdConfig {
    /// Subnets to pick the advertised address from; `!CIDR` excludes.
    #[serde(default)]
    pub advertised_subnets: Vec<String>,
    /// Extra `--key=value` flags for etcd.
    #[serde(default)]
    pub extra_args: std::collections::BTreeMap<String, String>,
    /// (machined) Hosts of other control planes to join through, besides the
    /// control-plane endpoint's host: `10.5.0.11` or `10.5.0.11:2379`.
    #[serde(default)]
    pub peers: Vec<String>,
    /// `cluster.etcd.ca`: issues etcd's peer, server and client certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaPem>,
    /// (machined) An etcd cluster run by someone else: machined runs none and
    /// reports this cluster's health. Client URLs, e.g. `http://10.0.0.5:2379`.
    #[serde(default)]
    pub external_endpoints: Vec<String>,
}

/// How an interface entry picks its link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LinkSelector {
    /// `interface: eth0`
    Name(String),
    /// `deviceSelector: {...}`
    Device(DeviceSelector),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSelector {
    /// Glob over the MAC address, e.g. `52:54:00:*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_addr: Option<String>,
    /// Only physical devices (no virtual link kind) when true; only
    /// virtual ones when false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceConfig {
    pub selector: LinkSelector,
    #[serde(default)]
    pub addresses: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub dhcp: bool,
    /// `dhcpOptions` (used with `dhcp: true`).
    #[serde(default)]
    pub dhcp_options: DhcpOptions,
    /// `ignore: true`: machined leaves this link alone.
    #[serde(default)]
    pub ignore: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<VipConfig>,
    #[serde(default)]
    pub vlans: Vec<VlanConfig>,
    /// `routes[]` (`network`, `gateway`, `source`, `metric`).
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// `bond`: the entry's link is a bond of these links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond: Option<BondSettings>,
}

/// A static route on a link. Without a destination it is the default route
/// of its gateway's family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Preferred source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<IpAddr>,
    #[serde(default)]
    pub metric: u32,
}

impl RouteConfig {
    /// The destination, or the default route of the gateway's family.
    pub fn destination_or_default(&self) -> IpNet {
        self.destination.unwrap_or(match self.gateway {
            Some(IpAddr::V6(_)) => IpNet::V6(Default::default()),
            _ => IpNet::V4(Default::default()),
        })
    }
}

/// A bond's kernel settings (`BondConfig`, legacy `interfaces[].bond`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BondSettings {
    /// Member links.
    pub links: Vec<String>,
    /// `active-backup`, `802.3ad`, ...
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miimon: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updelay: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downdelay: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_carrier: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xmit_hash_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacp_rate: Option<String>,
    /// `none`, `active` or `follow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_over_mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_actor_sys_prio: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resend_igmp: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets_per_slave: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_links: Option<u32>,
}

/// A `kind: LinkAliasConfig` document: `name` (`net0`, or `net%d` for
/// every match) for the physical links `selector.match` selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkAlias {
    /// Where it is configured, e.g. `LinkAliasConfig[0]`.
    pub path: String,
    pub name: String,
    /// The CEL expression over `link`.
    pub expr: String,
}

/// A link configured by a `LinkConfig` or `VLANConfig` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkDoc {
    /// Where it is configured, e.g. `LinkConfig[0]`.
    pub path: String,
    /// The link's name (a VLAN's own name, e.g. `enp0s3.2`).
    pub name: String,
    /// The link itself, or a VLAN's parent.
    pub selector: LinkSelector,
    /// `vlanID` of a `VLANConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    pub up: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub addresses: Vec<IpNet>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Set for a `BondConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond: Option<BondSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VlanConfig {
    pub vlan_id: u16,
    #[serde(default)]
    pub addresses: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<VipConfig>,
    #[serde(default)]
    pub dhcp: bool,
    #[serde(default)]
    pub dhcp_options: DhcpOptions,
}

/// How the DHCPv4 client names itself to the server (option 61).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum ClientIdentifier {
    /// No option 61: the server keys the lease on the MAC (`chaddr`).
    None,
    /// Option 61 = hardware type 1 + the link's MAC.
    #[default]
    Mac,
    /// Option 61 = `duidRaw`.
    Duid,
}

/// DHCPv4 settings of a link (`dhcpOptions`, `DHCPv4Config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhcpOptions {
    /// Metric of the routes the lease brings (Talos's default 1024).
    pub route_metric: u32,
    /// Do not take the hostname the server offers.
    #[serde(default)]
    pub ignore_hostname: bool,
    /// Do not install the routes the server offers.
    #[serde(default)]
    pub ignore_routes: bool,
    #[serde(default)]
    pub client_identifier: ClientIdentifier,
    /// The DUID sent with `clientIdentifier: duid`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duid_raw: Vec<u8>,
}

/// Talos's default metric for DHCP routes.
pub const DHCP_ROUTE_METRIC: u32 = 1024;

impl Default for DhcpOptions {
    fn default() -> Self {
        DhcpOptions {
            route_metric: DHCP_ROUTE_METRIC,
            ignore_hostname: false,
            ignore_routes: false,
            client_identifier: ClientIdentifier::Mac,
            duid_raw: Vec::new(),
        }
    }
}

/// A `kind: DHCPv4Config` document: DHCP on the link it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhcpDoc {
    /// Where it is configured, e.g. `DHCPv4Config[0]`.
    pub path: String,
    /// The link's name.
    pub link: String,
    /// `Name(link)`: what a configured link is selected by.
    pub selector: LinkSelector,
    pub options: DhcpOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VipConfig {
    pub ip: IpAddr,
    /// `vip.machined`: our own options, defaults when absent.
    #[serde(default)]
    pub options: super::VipOptions,
}

/// `kind: Layer2VIPConfig`, `name: <ip>`, `link: <name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layer2Vip {
    pub ip: IpAddr,
    pub link: String,
    #[serde(default)]
    pub options: super::VipOptions,
}
