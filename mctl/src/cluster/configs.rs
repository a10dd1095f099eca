//! Machine configs for the nodes of a local cluster.

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

pub fn node(
    cluster: &str,
    short: &str,
    ip: Ipv4Addr,
    net: &Ipv4Net,
    vip: Ipv4Addr,
    cp: bool,
    cp_ips: &[String],
) -> String {
    let prefix = net.prefix_len();
    let mut s = format!(
        "version: v1alpha1\nmachine:\n  type: {}\n  network:\n    hostname: {cluster}-{short}\n    interfaces:\n      - interface: eth0\n        addresses: [{ip}/{prefix}]\n",
        if cp { "controlplane" } else { "worker" }
    );
    if cp {
        s.push_str(&format!("        vip:\n          ip: {vip}\n"));
    }
    s.push_str(&format!(
        "cluster:\n  clusterName: {cluster}\n  controlPlane:\n    endpoint: https://{vip}:6443\n"
    ));
    if cp {
        s.push_str(&format!(
            "  etcd:\n    advertisedSubnets: [{net}]\n    peers: [{}]\n",
            cp_ips.join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn configs_are_valid() {
        let net = "10.5.0.0/24".parse().unwrap();
        let ips = vec!["10.5.0.11".to_string(), "10.5.0.12".to_string()];
        for cp in [true, false] {
            let text = super::node(
                "demo",
                "cp1",
                "10.5.0.11".parse().unwrap(),
                &net,
                "10.5.0.50".parse().unwrap(),
                cp,
                &ips,
            );
            let p =
                machined_resources::config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(p.warnings.is_empty(), "{:?}", p.warnings);
            assert_eq!(p.config.vip_ips().len(), usize::from(cp));
        }
    }
}
