//! Machine configs for the nodes of a local cluster: the generated
//! `controlplane.yaml` / `worker.yaml` with each node's network filled in.

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use yaml_serde::{Mapping, Value};

fn set(v: &mut Value, path: &[&str], val: Value) {
    let mut cur = v;
    for k in &path[..path.len() - 1] {
        if !cur.get(*k).is_some_and(Value::is_mapping) {
            cur[*k] = Value::Mapping(Mapping::new());
        }
        cur = &mut cur[*k];
    }
    cur[path[path.len() - 1]] = val;
}

pub struct NodeNet<'a> {
    /// etcd timing for slow (emulated) machines.
    pub slow_etcd: bool,
    pub cluster: &'a str,
    pub short: &'a str,
    pub ip: Ipv4Addr,
    pub net: &'a Ipv4Net,
    /// The VIPs: the first on the interface (legacy style), every other
    /// a `Layer2VIPConfig` document.
    pub vips: &'a [Ipv4Addr],
    /// The VIP group of each VIP (none: alone).
    pub groups: &'a [Option<String>],
    pub cp_ips: &'a [String],
    /// Talos v1.12+ style: HostnameConfig, LinkConfig and Layer2VIPConfig
    /// documents instead of `machine.network`.
    pub multidoc: bool,
    /// The address comes by DHCP (`dhcp: true`, a `DHCPv4Config`).
    pub dhcp: bool,
}

/// On emulated machines etcd answers a linearizable read in 300-400 ms,
/// beyond the default proof timeout (250ms): the holder would stay silent.
const SLOW_PROOF: &str = "1s";

fn slow_vip() -> Value {
    let mut m = Mapping::new();
    m.insert("proofTimeout".into(), SLOW_PROOF.into());
    Value::Mapping(m)
}

/// `base` (generated, with the cluster's secrets) for one node.
pub fn node(base: &Value, n: &NodeNet<'_>, cp: bool) -> String {
    let mut v = base.clone();
    let mut iface = Mapping::new();
    iface.insert("interface".into(), "eth0".into());
    if n.dhcp {
        iface.insert("dhcp".into(), true.into());
    } else {
        iface.insert(
            "addresses".into(),
            Value::Sequence(vec![format!("{}/{}", n.ip, n.net.prefix_len()).into()]),
        );
    }
    if cp {
        let mut vip = Mapping::new();
        vip.insert("ip".into(), n.vips[0].to_string().into());
        if let Some(Some(g)) = n.groups.first() {
            vip.insert("group".into(), g.as_str().into());
        }
        if n.slow_etcd {
            vip.insert("machined".into(), slow_vip());
        }
        iface.insert("vip".into(), Value::Mapping(vip));
    }
    if !n.multidoc {
        set(
            &mut v,
            &["machine", "network", "hostname"],
            format!("{}-{}", n.cluster, n.short).into(),
        );
        set(
            &mut v,
            &["machine", "network", "interfaces"],
            Value::Sequence(vec![Value::Mapping(iface)]),
        );
    }
    if n.slow_etcd && cp {
        let mut args = Mapping::new();
        args.insert("heartbeat-interval".into(), "250".into());
        args.insert("election-timeout".into(), "2500".into());
        set(
            &mut v,
            &["cluster", "etcd", "extraArgs"],
            Value::Mapping(args),
        );
    }
    let hostname = format!("{}-{}", n.cluster, n.short);
    let address = format!("{}/{}", n.ip, n.net.prefix_len());
    if n.multidoc {
        if let Value::Mapping(m) = &mut v["machine"] {
            m.remove("network");
        }
    }
    if cp {
        set(
            &mut v,
            &["cluster", "etcd", "advertisedSubnets"],
            Value::Sequence(vec![n.net.to_string().into()]),
        );
        let peers = n.cp_ips.iter().map(|p| Value::from(p.as_str())).collect();
        set(
            &mut v,
            &["cluster", "etcd", "peers"],
            Value::Sequence(peers),
        );
    }
    let mut text = yaml_serde::to_string(&v).unwrap_or_default();
    if n.multidoc {
        text.push_str(&format!(
            "---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: {hostname}\n"
        ));
        if n.dhcp {
            text.push_str("---\napiVersion: v1alpha1\nkind: DHCPv4Config\nname: eth0\n");
        } else {
            text.push_str(&format!(
                "---\napiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\naddresses:\n  - address: {address}\n"
            ));
        }
    }
    if cp {
        text.push_str(&vip_documents(n));
    }
    text
}

/// A control plane's `Layer2VIPConfig` documents: multidoc, every VIP;
/// legacy, all but the first (the interface's).
fn vip_documents(n: &NodeNet<'_>) -> String {
    let skip = usize::from(!n.multidoc);
    let mut text = String::new();
    for (i, v) in n.vips.iter().enumerate().skip(skip) {
        text.push_str(&format!(
            "---\napiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: {v}\nlink: eth0\n"
        ));
        if let Some(Some(g)) = n.groups.get(i) {
            text.push_str(&format!("group: {g}\n"));
        }
        if n.slow_etcd {
            text.push_str(&format!("machined: {{proofTimeout: {SLOW_PROOF}}}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_valid() {
        let g = crate::gen::generate("demo", "https://10.5.0.50:6443").unwrap();
        let net = "10.5.0.0/24".parse().unwrap();
        let ips = vec!["10.5.0.11".to_string(), "10.5.0.12".to_string()];
        for (nvips, ngroups) in [(1u8, 0u8), (3, 0), (1, 1), (3, 2)] {
            let vips: Vec<Ipv4Addr> = (0..nvips)
                .map(|i| Ipv4Addr::new(10, 5, 0, 50 + i))
                .collect();
            let groups = crate::cluster::plan::vip_groups(vips.len(), ngroups).unwrap();
            for (base, cp, multidoc, dhcp, slow) in [
                (&g.controlplane, true, false, false, false),
                (&g.worker, false, false, false, false),
                (&g.controlplane, true, true, false, false),
                (&g.worker, false, true, false, false),
                (&g.controlplane, true, false, true, false),
                (&g.controlplane, true, true, true, false),
                (&g.controlplane, true, false, false, true),
                (&g.controlplane, true, true, false, true),
            ] {
                let n = NodeNet {
                    slow_etcd: slow,
                    multidoc,
                    dhcp,
                    cluster: "demo",
                    short: "cp1",
                    ip: "10.5.0.11".parse().unwrap(),
                    net: &net,
                    vips: &vips,
                    groups: &groups,
                    cp_ips: &ips,
                };
                let text = node(base, &n, cp);
                let p = machined_resources::config::parse(&text)
                    .unwrap_or_else(|e| panic!("{e}\n{text}"));
                assert!(p.warnings.is_empty(), "{:?}", p.warnings);
                assert_eq!(p.config.vip_ips().len(), usize::from(cp) * vips.len());
                for (v, g) in p.config.vips().iter().zip(&groups) {
                    let want = if slow { 1000 } else { 250 };
                    assert_eq!(v.options.proof_timeout_ms, want, "{text}");
                    assert_eq!(&v.options.group, g, "{text}");
                }
                assert_eq!(p.config.hostname.as_deref(), Some("demo-cp1"));
                assert_eq!(p.config.cluster.etcd.peers.len(), if cp { 2 } else { 0 });
                assert!(p.config.machine_ca.is_some());
                let addrs: Vec<String> = p
                    .config
                    .links()
                    .iter()
                    .flat_map(|l| l.addresses.iter().map(|a| a.to_string()))
                    .collect();
                if dhcp {
                    assert!(addrs.is_empty(), "{addrs:?}");
                    assert!(p.config.links().iter().any(|l| l.dhcp.is_some()), "{text}");
                } else {
                    assert_eq!(addrs, vec!["10.5.0.11/24".to_string()]);
                }
                assert_eq!(p.config.interfaces.is_empty(), multidoc);
            }
        }
    }
}
