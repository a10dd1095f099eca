//! Checks across fields: what no single field can tell, one rule each.

use super::model::*;
use super::walk::Diag;
use std::collections::HashMap;
use std::net::IpAddr;

/// Where each link is configured first (`interface NAME` -> path).
type Seen = HashMap<String, String>;

pub fn check(c: &MachineConfig, d: &mut Diag) {
    let addrs = addresses_once(c, d);
    let mut links = interfaces_once(c, d);
    link_documents_once(c, &mut links, d);
    dhcp_with_its_link_config(c, &links, d);
    no_vip_as_route_source(c, d);
    super::vip_subnet::check(c, d);
    vips(c, &addrs, d);
    vip_groups(c, d);
}

/// The members of a VIP group share one election: the same options (lease,
/// probes, check, priority) on every member.
fn vip_groups(c: &MachineConfig, d: &mut Diag) {
    let mut first: HashMap<&str, (String, &super::VipOptions)> = HashMap::new();
    let vips = c.vips();
    for v in &vips {
        let Some(g) = v.options.group.as_deref() else {
            continue;
        };
        let group_path = match v.path.rsplit_once('.') {
            Some((base, _)) => format!("{base}.group"),
            None => v.path.clone(),
        };
        match first.get(g) {
            None => {
                first.insert(g, (group_path, &v.options));
            }
            Some((at, opts)) if *opts != &v.options => d.error(
                group_path,
                format!("VIP group {g:?}: the options of this VIP differ from those of the member at {at} (the members of a group share one election: the same machined options on each)"),
            ),
            Some(_) => {}
        }
    }
}

/// Node addresses, each once.
fn addresses_once(c: &MachineConfig, d: &mut Diag) -> HashMap<IpAddr, String> {
    let mut addrs: HashMap<IpAddr, String> = HashMap::new();
    for link in c.links() {
        for (k, a) in link.addresses.iter().enumerate() {
            let path = format!("{}.addresses[{k}]", link.path);
            if let Some(first) = addrs.get(&a.addr()) {
                d.error(
                    path,
                    format!("address {} is also configured at {first}", a.addr()),
                );
            } else {
                addrs.insert(a.addr(), path);
            }
        }
    }

    addrs
}

/// Links, each claimed once (an interface entry, its VLANs).
fn interfaces_once(c: &MachineConfig, d: &mut Diag) -> Seen {
    let mut links: HashMap<String, String> = HashMap::new();
    for (i, iface) in c.interfaces.iter().enumerate() {
        let path = format!("machine.network.interfaces[{i}]");
        let claim = match &iface.selector {
            LinkSelector::Name(n) => format!("interface {n}"),
            LinkSelector::Device(s) => format!("deviceSelector {s:?}"),
        };
        if let Some(first) = links.get(&claim) {
            d.error(&path, format!("{claim} is already configured at {first}"));
        } else {
            links.insert(claim, path.clone());
        }
        if let LinkSelector::Name(n) = &iface.selector {
            for (j, v) in iface.vlans.iter().enumerate() {
                let name = crate::config::vlan_link_name(n, v.vlan_id);
                links
                    .entry(format!("interface {name}"))
                    .or_insert_with(|| format!("{path}.vlans[{j}]"));
            }
        }
        let mut ids: HashMap<u16, usize> = HashMap::new();
        for (j, v) in iface.vlans.iter().enumerate() {
            if let Some(first) = ids.insert(v.vlan_id, j) {
                d.error(
                    format!("{path}.vlans[{j}].vlanId"),
                    format!("VLAN {} is already configured at vlans[{first}]", v.vlan_id),
                );
            }
        }
    }

    links
}

/// Links named by documents: not also configured by an interface entry
/// (or its VLANs) or another document.
fn link_documents_once(c: &MachineConfig, links: &mut Seen, d: &mut Diag) {
    for l in &c.link_docs {
        let claim = format!("interface {}", l.name);
        if let Some(first) = links.get(&claim) {
            d.error(
                &l.path,
                format!(
                    "link {} is also configured at {first}: configure it in one place",
                    l.name
                ),
            );
        } else {
            links.insert(claim, l.path.clone());
        }
    }
}

/// DHCP documents go with a LinkConfig of the same link, never with a
/// legacy interface entry for it.
fn dhcp_with_its_link_config(c: &MachineConfig, links: &Seen, d: &mut Diag) {
    for doc in &c.dhcp_docs {
        if let Some(first) = links
            .get(&format!("interface {}", doc.link))
            .filter(|p| p.starts_with("machine.network"))
        {
            d.error(
                format!("{}.name", doc.path),
                format!(
                    "link {} is also configured at {first}: configure it in one place",
                    doc.link
                ),
            );
        }
    }
}

/// Routes never use a VIP as their source: the VIP moves.
fn no_vip_as_route_source(c: &MachineConfig, d: &mut Diag) {
    let vip_ips = c.vip_ips();
    for link in c.links() {
        for (k, r) in link.routes.iter().enumerate() {
            if let Some(src) = r.source.filter(|s| vip_ips.contains(s)) {
                d.error(
                    format!("{}.routes[{k}].source", link.path),
                    format!("{src} is a VIP: a route's source must be a node address"),
                );
            }
        }
    }
}

/// VIPs: control plane only, unique, not a node address.
fn vips(c: &MachineConfig, addrs: &HashMap<IpAddr, String>, d: &mut Diag) {
    let mut seen: HashMap<IpAddr, String> = HashMap::new();
    for v in c.vips() {
        if c.machine_type == MachineType::Worker {
            d.error(
                &v.path,
                "a VIP is only allowed on a control-plane node (machine.type is worker)",
            );
        }
        if let Some(node) = addrs.get(&v.ip) {
            d.error(
                &v.path,
                format!("VIP {} is also a node address ({node})", v.ip),
            );
        }
        if v.ip.is_unspecified() || v.ip.is_loopback() || v.ip.is_multicast() {
            d.error(
                &v.path,
                format!(
                    "{} cannot be a VIP (unspecified, loopback or multicast)",
                    v.ip
                ),
            );
        }
        if let Some(first) = seen.get(&v.ip) {
            d.error(
                &v.path,
                format!("VIP {} is already configured at {first}", v.ip),
            );
        } else {
            seen.insert(v.ip, v.path);
        }
    }
}
