//! Checks across fields: what no single field can tell.

use super::model::*;
use super::walk::Diag;
use std::collections::HashMap;
use std::net::IpAddr;

/// A VIP and where it was configured.
struct VipAt {
    ip: IpAddr,
    path: String,
}

fn vips(c: &MachineConfig) -> Vec<VipAt> {
    let mut out = Vec::new();
    for (i, iface) in c.interfaces.iter().enumerate() {
        let base = format!("machine.network.interfaces[{i}]");
        if let Some(v) = &iface.vip {
            out.push(VipAt {
                ip: v.ip,
                path: format!("{base}.vip.ip"),
            });
        }
        for (j, vlan) in iface.vlans.iter().enumerate() {
            if let Some(v) = &vlan.vip {
                out.push(VipAt {
                    ip: v.ip,
                    path: format!("{base}.vlans[{j}].vip.ip"),
                });
            }
        }
    }
    for (i, l2) in c.layer2_vips.iter().enumerate() {
        out.push(VipAt {
            ip: l2.ip,
            path: format!("Layer2VIPConfig[{i}].name"),
        });
    }
    out
}

pub fn check(c: &MachineConfig, d: &mut Diag) {
    // Node addresses, each once.
    let mut addrs: HashMap<IpAddr, String> = HashMap::new();
    for (i, iface) in c.interfaces.iter().enumerate() {
        let base = format!("machine.network.interfaces[{i}]");
        let vlan_addrs = iface.vlans.iter().enumerate().flat_map(|(j, v)| {
            let b = base.clone();
            v.addresses
                .iter()
                .enumerate()
                .map(move |(k, a)| (format!("{b}.vlans[{j}].addresses[{k}]"), a))
        });
        let own = iface
            .addresses
            .iter()
            .enumerate()
            .map(|(k, a)| (format!("{base}.addresses[{k}]"), a));
        for (path, a) in own.chain(vlan_addrs) {
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

    // Links, each claimed once.
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

    // VIPs: control plane only, unique, not a node address.
    let mut seen: HashMap<IpAddr, String> = HashMap::new();
    for v in vips(c) {
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
