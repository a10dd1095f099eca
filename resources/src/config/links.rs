//! The one walk over a config's links and VIPs. Validation, the address
//! and link specs, the VIP specs, the etcd address choice and the API
//! certificate's names all read a config through these, so a new source of
//! links or VIPs (another document kind) is added here once.

use super::model::{
    BondSettings, DhcpOptions, LinkSelector, MachineConfig, RouteConfig, VipConfig,
};
use super::VipOptions;
use crate::types::LinkStatus;
use crate::Typed;
use ipnet::IpNet;
use std::net::IpAddr;

/// A link the config configures: an interface entry or one of its VLANs.
#[derive(Debug, Clone)]
pub struct LinkEntry<'a> {
    /// Where it is configured, e.g. `machine.network.interfaces[0].vlans[1]`.
    pub path: String,
    pub selector: &'a LinkSelector,
    /// Set for a VLAN of the selected link.
    pub vlan: Option<u16>,
    /// The link's own name, when a document gives it (`LinkConfig.name`,
    /// `VLANConfig.name`); else it derives from the selector.
    pub name: Option<&'a str>,
    /// `up: false` in a `LinkConfig`.
    pub up: bool,
    pub addresses: &'a [IpNet],
    pub routes: &'a [RouteConfig],
    pub mtu: Option<u32>,
    pub vip: Option<&'a VipConfig>,
    /// `ignore: true` on the interface entry (its VLANs too).
    pub ignore: bool,
    /// DHCPv4 on this link (`dhcp: true`, a `DHCPv4Config`).
    pub dhcp: Option<&'a DhcpOptions>,
    /// The link is a bond of these settings (`bond`, `BondConfig`).
    pub bond: Option<&'a BondSettings>,
}

/// Which link a VIP goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VipLink<'a> {
    /// The link an interface entry selects, or its VLAN.
    Selected {
        selector: &'a LinkSelector,
        vlan: Option<u16>,
    },
    /// A link named outright (`Layer2VIPConfig.link`).
    Named(&'a str),
}

/// A VIP the config asks for.
#[derive(Debug, Clone)]
pub struct VipEntry<'a> {
    pub ip: IpAddr,
    pub options: VipOptions,
    pub link: VipLink<'a>,
    /// Where its address is configured, e.g. `Layer2VIPConfig[0].name`.
    pub path: String,
    /// On an ignored interface entry.
    pub ignore: bool,
}

/// The kernel name of VLAN `id` on `parent` (`eth0.100`).
pub fn vlan_link_name(parent: &str, id: u16) -> String {
    format!("{parent}.{id}")
}

/// The kernel name of the link `name` stands for: a link of that name, else
/// the link with that alias (`LinkAliasConfig`) or alternative name, else
/// `name` itself (a link yet to appear).
pub fn resolve_name(name: &str, links: &[Typed<LinkStatus>]) -> String {
    if links.iter().any(|l| l.metadata.id == name) {
        return name.to_string();
    }
    links
        .iter()
        .find(|l| l.spec.answers_to(name))
        .map_or_else(|| name.to_string(), |l| l.metadata.id.clone())
}

impl LinkSelector {
    /// The link this selector picks among `links`: by name, or the first
    /// (by name) Ethernet link whose MAC matches the glob and whose kind
    /// fits `physical`.
    pub fn resolve(&self, links: &[Typed<LinkStatus>]) -> Option<String> {
        match self {
            LinkSelector::Name(n) => Some(resolve_name(n, links)),
            LinkSelector::Device(d) => links
                .iter()
                .filter(|l| l.spec.link_type == "ether")
                .filter(|l| {
                    d.hardware_addr.as_deref().is_none_or(|g| {
                        glob_match::glob_match(g, &l.spec.hardware_addr.to_string())
                    })
                })
                .filter(|l| d.physical.is_none_or(|p| p == l.spec.kind.is_empty()))
                .map(|l| l.metadata.id.clone())
                .min(),
        }
    }
}

fn resolve(
    selector: &LinkSelector,
    vlan: Option<u16>,
    links: &[Typed<LinkStatus>],
) -> Option<String> {
    let parent = selector.resolve(links)?;
    Some(match vlan {
        Some(id) => vlan_link_name(&parent, id),
        None => parent,
    })
}

impl LinkEntry<'_> {
    /// The kernel link name, once the selected link exists.
    pub fn resolve(&self, links: &[Typed<LinkStatus>]) -> Option<String> {
        match self.name {
            Some(n) => Some(resolve_name(n, links)),
            None => resolve(self.selector, self.vlan, links),
        }
    }
}

impl VipLink<'_> {
    /// The kernel link name, once the selected link exists.
    pub fn resolve(&self, links: &[Typed<LinkStatus>]) -> Option<String> {
        match self {
            VipLink::Selected { selector, vlan } => resolve(selector, *vlan, links),
            VipLink::Named(n) => Some(resolve_name(n, links)),
        }
    }
}

impl MachineConfig {
    /// Every configured link: interface entries each followed by their
    /// VLANs, then `LinkConfig` / `VLANConfig` documents.
    pub fn links(&self) -> Vec<LinkEntry<'_>> {
        let mut out = Vec::new();
        for (i, iface) in self.interfaces.iter().enumerate() {
            let path = format!("machine.network.interfaces[{i}]");
            out.push(LinkEntry {
                path: path.clone(),
                selector: &iface.selector,
                vlan: None,
                name: None,
                up: true,
                addresses: &iface.addresses,
                routes: &iface.routes,
                mtu: iface.mtu,
                vip: iface.vip.as_ref(),
                ignore: iface.ignore,
                dhcp: iface.dhcp.then_some(&iface.dhcp_options),
                bond: iface.bond.as_ref(),
            });
            out.extend(iface.vlans.iter().enumerate().map(|(j, vlan)| LinkEntry {
                path: format!("{path}.vlans[{j}]"),
                selector: &iface.selector,
                vlan: Some(vlan.vlan_id),
                name: None,
                up: true,
                addresses: &vlan.addresses,
                routes: &[],
                mtu: vlan.mtu,
                vip: vlan.vip.as_ref(),
                ignore: iface.ignore,
                dhcp: vlan.dhcp.then_some(&vlan.dhcp_options),
                bond: None,
            }));
        }
        let dhcp_of = |name: &str| {
            self.dhcp_docs
                .iter()
                .find(|x| x.link == name)
                .map(|x| &x.options)
        };
        out.extend(self.link_docs.iter().map(|l| LinkEntry {
            path: l.path.clone(),
            selector: &l.selector,
            vlan: l.vlan,
            name: Some(&l.name),
            up: l.up,
            addresses: &l.addresses,
            routes: &l.routes,
            mtu: l.mtu,
            vip: None,
            ignore: false,
            dhcp: dhcp_of(&l.name),
            bond: l.bond.as_ref(),
        }));
        // A DHCPv4Config alone configures its link too (up, DHCP).
        out.extend(
            self.dhcp_docs
                .iter()
                .filter(|x| !self.link_docs.iter().any(|l| l.name == x.link))
                .map(|x| LinkEntry {
                    path: x.path.clone(),
                    selector: &x.selector,
                    vlan: None,
                    name: Some(&x.link),
                    up: true,
                    addresses: &[],
                    routes: &[],
                    mtu: None,
                    vip: None,
                    ignore: false,
                    dhcp: Some(&x.options),
                    bond: None,
                }),
        );
        out
    }

    /// Every configured VIP: on interface entries, their VLANs, and
    /// `Layer2VIPConfig` documents.
    pub fn vips(&self) -> Vec<VipEntry<'_>> {
        let mut out: Vec<VipEntry<'_>> = self
            .links()
            .into_iter()
            .filter_map(|l| {
                let v = l.vip?;
                Some(VipEntry {
                    ip: v.ip,
                    options: v.options.clone(),
                    link: VipLink::Selected {
                        selector: l.selector,
                        vlan: l.vlan,
                    },
                    path: format!("{}.vip.ip", l.path),
                    ignore: l.ignore,
                })
            })
            .collect();
        out.extend(self.layer2_vips.iter().enumerate().map(|(i, l2)| VipEntry {
            ip: l2.ip,
            options: l2.options.clone(),
            link: VipLink::Named(&l2.link),
            path: format!("Layer2VIPConfig[{i}].name"),
            ignore: false,
        }));
        out
    }

    /// Every configured VIP address.
    pub fn vip_ips(&self) -> Vec<IpAddr> {
        self.vips().iter().map(|v| v.ip).collect()
    }
}
