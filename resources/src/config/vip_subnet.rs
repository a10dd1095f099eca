//! A VIP must be an address clients on its link can reach: inside one of the
//! link's subnets, and neither that subnet's network nor (IPv4) its
//! broadcast address. Judged where the config says what the subnets are:
//! a link with static addresses of the VIP's family and no DHCP. (With DHCP
//! the subnet is known only at run time.)

use super::links::{vlan_link_name, LinkEntry, VipEntry, VipLink};
use super::model::{LinkSelector, MachineConfig};
use super::walk::Diag;
use ipnet::IpNet;
use std::net::IpAddr;

pub fn check(c: &MachineConfig, d: &mut Diag) {
    let links = c.links();
    for v in c.vips() {
        let Some(link) = links.iter().find(|l| carries(l, &v)) else {
            continue;
        };
        if let Some(reason) = refuse(v.ip, link) {
            d.error(&v.path, reason);
        }
    }
}

/// The configured link the VIP is on.
fn carries(l: &LinkEntry<'_>, v: &VipEntry<'_>) -> bool {
    match v.link {
        VipLink::Selected { selector, vlan } => {
            l.name.is_none() && std::ptr::eq(l.selector, selector) && l.vlan == vlan
        }
        VipLink::Named(n) => match (l.name, l.selector) {
            (Some(name), _) => name == n,
            (None, LinkSelector::Name(parent)) => match l.vlan {
                None => parent == n,
                Some(id) => vlan_link_name(parent, id) == n,
            },
            (None, LinkSelector::Device(_)) => false,
        },
    }
}

/// Why `ip` cannot be a VIP on `link`, if the config tells.
fn refuse(ip: IpAddr, link: &LinkEntry<'_>) -> Option<String> {
    if link.dhcp.is_some() {
        return None;
    }
    let nets: Vec<&IpNet> = link
        .addresses
        .iter()
        .filter(|n| n.addr().is_ipv4() == ip.is_ipv4())
        .collect();
    if nets.is_empty() {
        return None;
    }
    let Some(net) = nets.iter().find(|n| n.contains(&ip)) else {
        let list: Vec<String> = nets.iter().map(|n| n.trunc().to_string()).collect();
        return Some(format!(
            "VIP {ip} is in none of the subnets of its link ({}, {}): clients there would not ask for it",
            list.join(", "),
            link.path
        ));
    };
    let subnet = net.trunc();
    let edge = match subnet {
        IpNet::V4(n) if n.prefix_len() <= 30 => {
            if ip == IpAddr::V4(n.network()) {
                Some("network")
            } else if ip == IpAddr::V4(n.broadcast()) {
                Some("broadcast")
            } else {
                None
            }
        }
        IpNet::V6(n) if n.prefix_len() <= 126 && ip == IpAddr::V6(n.network()) => {
            Some("network (subnet-router anycast)")
        }
        _ => None,
    };
    edge.map(|what| format!("VIP {ip} is the {what} address of its link's subnet {subnet}"))
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    fn with_vip(addresses: &str, vip: &str, dhcp: bool) -> Result<(), String> {
        let text = format!(
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [{addresses}]\n        dhcp: {dhcp}\n        vip: {{ ip: \"{vip}\" }}\ncluster:\n  controlPlane:\n    endpoint: https://10.5.0.50:6443\n"
        );
        match parse(&text) {
            Ok(_) => Ok(()),
            Err(e) => Err(e
                .errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")),
        }
    }

    #[test]
    fn vips_on_the_edges_of_their_subnet_or_outside_it_are_refused() {
        let cases: [(&str, &str, bool, Option<&str>); 9] = [
            ("10.5.0.11/24", "10.5.0.50", false, None),
            ("10.5.0.11/24", "10.5.0.0", false, Some("network address")),
            (
                "10.5.0.11/24",
                "10.5.0.255",
                false,
                Some("broadcast address"),
            ),
            (
                "10.5.0.11/24",
                "10.6.0.50",
                false,
                Some("none of the subnets"),
            ),
            // A point-to-point /31 has neither.
            ("10.5.0.0/31", "10.5.0.1", false, None),
            // DHCP: the subnet is not known yet.
            ("10.5.0.11/24", "10.6.0.50", true, None),
            ("fd00::11/64", "fd00::50", false, None),
            (
                "fd00::11/64",
                "fd00::",
                false,
                Some("subnet-router anycast"),
            ),
            // Only addresses of the VIP's family count.
            ("fd00::11/64", "10.6.0.50", false, None),
        ];
        for (addrs, vip, dhcp, want) in cases {
            let got = with_vip(addrs, vip, dhcp);
            match want {
                None => assert!(got.is_ok(), "{vip} on {addrs}: {got:?}"),
                Some(w) => assert!(
                    got.as_ref()
                        .is_err_and(|e| e.contains(w) && e.contains(".vip.ip")),
                    "{vip} on {addrs}: {got:?}"
                ),
            }
        }
    }
}
