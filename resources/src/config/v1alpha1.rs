//! Reads the Talos `v1alpha1` document (the other kinds: `kinds.rs`).

use super::cluster::{ca, etcd};
use super::model::*;
use super::values::{check_endpoint, check_hostname, check_link_name, parse_cidr, parse_ip, route};
use super::vip_options::vip_options;
use super::walk::{Diag, Obj};
use ipnet::IpNet;
use yaml_serde::Value;

/// Keys of the top document that carry no meaning for machined but are part
/// of every Talos config; accepting them silently keeps warnings useful.
const HARMLESS_TOP: &[&str] = &["debug", "persist"];

/// The main document. Returns `None` when a required field is missing
/// (errors are in `d`).
pub fn machine_config(doc: &Value, d: &mut Diag) -> Option<MachineConfig> {
    let mut top = Obj::new(Some(doc), "", d);
    top.accept(HARMLESS_TOP);
    match top.string("version", d) {
        Some(v) if v == "v1alpha1" => {}
        Some(v) => d.error("version", format!("{v:?} is not supported (only v1alpha1)")),
        None => d.error("version", "is required (v1alpha1)"),
    }
    let mut machine = top.child("machine", d);
    let machine_type = match machine.string("type", d).as_deref() {
        Some("controlplane") | Some("init") => Some(MachineType::Controlplane),
        Some("worker") => Some(MachineType::Worker),
        Some(other) => {
            d.error(
                "machine.type",
                format!("unknown machine type {other:?} (expected controlplane or worker)"),
            );
            None
        }
        None => {
            d.error("machine.type", "is required (controlplane or worker)");
            None
        }
    };
    let mut network = machine.child("network", d);
    let hostname = network.string("hostname", d);
    if let Some(h) = &hostname {
        check_hostname(h, &network.path("hostname"), d);
    }
    let interfaces = network
        .list("interfaces", d)
        .into_iter()
        .filter_map(|(path, v)| interface(v, &path, d))
        .collect();
    network.finish(d);
    let machine_ca = ca(&mut machine, "ca", d);
    let cert_sans = machine
        .strings("certSANs", d)
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let log_destinations = super::logging::destinations(&mut machine, d);
    machine.finish(d);

    let mut cluster = top.child("cluster", d);
    let name = cluster.string("clusterName", d);
    let mut cp = cluster.child("controlPlane", d);
    let control_plane_endpoint = cp.string("endpoint", d);
    if let Some(e) = &control_plane_endpoint {
        check_endpoint(e, &cp.path("endpoint"), d);
    }
    cp.finish(d);
    let etcd = etcd(&mut cluster, d);
    cluster.finish(d);
    top.finish(d);

    Some(MachineConfig {
        machine_type: machine_type?,
        hostname,
        interfaces,
        layer2_vips: Vec::new(),
        link_docs: Vec::new(),
        dhcp_docs: Vec::new(),
        link_aliases: Vec::new(),
        cluster: ClusterConfig {
            name,
            control_plane_endpoint,
            etcd,
        },
        machine_ca,
        cert_sans,
        log_destinations,
        event_sink: None,
    })
}

fn interface(v: &Value, path: &str, d: &mut Diag) -> Option<InterfaceConfig> {
    let mut o = Obj::new(Some(v), path, d);
    let name = o.string("interface", d);
    let selector = if o.has("deviceSelector") {
        let sel = device_selector(&mut o, d);
        if name.is_some() {
            d.error(path, "set either interface or deviceSelector, not both");
        }
        sel.map(LinkSelector::Device)
    } else if let Some(n) = name {
        check_link_name(&n, &o.path("interface"), d);
        Some(LinkSelector::Name(n))
    } else {
        d.error(path, "one of interface or deviceSelector is required");
        None
    };
    let addresses = addresses(&mut o, d);
    let mtu = mtu(&mut o, d);
    let (dhcp, dhcp_options) = super::dhcp::legacy(&mut o, d);
    let ignore = o.bool("ignore", d).unwrap_or(false);
    let vip = vip(&mut o, d);
    let bond = if o.has("bond") {
        let mut b = o.child("bond", d);
        let s = super::bond::settings(&mut b, "interfaces", "mode", d);
        b.finish(d);
        s
    } else {
        None
    };
    let vlans = o
        .list("vlans", d)
        .into_iter()
        .filter_map(|(p, v)| vlan(v, &p, d))
        .collect();
    let routes = o
        .list("routes", d)
        .into_iter()
        .filter_map(|(p, v)| route(v, &p, "network", d))
        .collect();
    o.finish(d);
    Some(InterfaceConfig {
        selector: selector?,
        addresses,
        mtu,
        dhcp,
        dhcp_options,
        ignore,
        vip,
        vlans,
        routes,
        bond,
    })
}

fn device_selector(o: &mut Obj<'_>, d: &mut Diag) -> Option<DeviceSelector> {
    let mut s = o.child("deviceSelector", d);
    let hardware_addr = s.string("hardwareAddr", d);
    let physical = s.bool("physical", d);
    let unsupported: Vec<&str> = [
        "driver",
        "busPath",
        "permanentAddr",
        "pciID",
        "kernelDriver",
    ]
    .into_iter()
    .filter(|k| s.has(k))
    .collect();
    let path = s.path.clone();
    s.finish(d);
    if hardware_addr.is_none() && physical.is_none() {
        let extra = if unsupported.is_empty() {
            String::new()
        } else {
            format!(" ({} not supported)", unsupported.join(", "))
        };
        d.error(path, format!("needs hardwareAddr or physical{extra}"));
        return None;
    }
    Some(DeviceSelector {
        hardware_addr: hardware_addr.map(|h| h.to_ascii_lowercase()),
        physical,
    })
}

fn addresses(o: &mut Obj<'_>, d: &mut Diag) -> Vec<IpNet> {
    let mut out = Vec::new();
    for (p, s) in o.strings("addresses", d) {
        out.extend(parse_cidr(&s, &p, d));
    }
    out
}

pub(super) fn mtu(o: &mut Obj<'_>, d: &mut Diag) -> Option<u32> {
    let path = o.path("mtu");
    let m = o.uint("mtu", 65_535, d)?;
    if m < 68 {
        d.error(path, format!("{m} is below the minimum MTU of 68"));
        return None;
    }
    u32::try_from(m).ok()
}

fn vip(o: &mut Obj<'_>, d: &mut Diag) -> Option<VipConfig> {
    if !o.has("vip") {
        o.accept(&["vip"]);
        return None;
    }
    let mut v = o.child("vip", d);
    let ip = match v.string("ip", d) {
        Some(s) => parse_ip(&s, &v.path("ip"), d),
        None => {
            d.error(v.path("ip"), "is required");
            None
        }
    };
    // Talos's provider-specific VIP modes: we only do layer 2.
    for k in ["equinixMetal", "hcloud"] {
        if v.has(k) {
            d.error(
                v.path(k),
                "is not supported (machined does layer-2 VIPs only)",
            );
        }
    }
    v.accept(&["equinixMetal", "hcloud"]);
    let options = vip_options(&mut v, d);
    v.finish(d);
    Some(VipConfig { ip: ip?, options })
}

fn vlan(v: &Value, path: &str, d: &mut Diag) -> Option<VlanConfig> {
    let mut o = Obj::new(Some(v), path, d);
    let vlan_id = match o.uint("vlanId", 4094, d) {
        Some(0) => {
            d.error(o.path("vlanId"), "must be between 1 and 4094");
            None
        }
        Some(n) => u16::try_from(n).ok(),
        None => {
            if !o.has("vlanId") {
                d.error(o.path("vlanId"), "is required");
            }
            None
        }
    };
    let addresses = addresses(&mut o, d);
    let mtu = mtu(&mut o, d);
    let (dhcp, dhcp_options) = super::dhcp::legacy(&mut o, d);
    let vip = vip(&mut o, d);
    o.finish(d);
    Some(VlanConfig {
        vlan_id: vlan_id?,
        addresses,
        mtu,
        vip,
        dhcp,
        dhcp_options,
    })
}
