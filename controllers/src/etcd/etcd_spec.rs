//! Machine config + node addresses → `EtcdSpec` on control planes.

use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use ipnet::IpNet;
use machined_resources::config::{MachineConfig, MachineType};
use machined_resources::endpoint::{self, Endpoint};
use machined_resources::types::{AddressScope, AddressStatus, EtcdSpec, MachineConfigSpec};
use std::net::IpAddr;

pub struct EtcdSpecController;

/// The node's name: the configured hostname, else the kernel's.
pub fn node_name(c: &MachineConfig) -> String {
    c.hostname.clone().unwrap_or_else(crate::kernel::hostname)
}

/// The address etcd advertises: a global one, never a VIP, inside the
/// advertised subnets if any are set (`!CIDR` excludes); IPv4 first, then
/// the lowest, so the choice is stable.
pub fn pick_advertise_ip(
    addrs: &[AddressStatus],
    vips: &[IpAddr],
    subnets: &[String],
) -> Option<IpAddr> {
    let (exclude, include): (Vec<&String>, Vec<&String>) =
        subnets.iter().partition(|s| s.starts_with('!'));
    let parse = |s: &str| {
        s.trim_start_matches('!')
            .parse::<IpNet>()
            .or_else(|_| s.trim_start_matches('!').parse::<IpAddr>().map(IpNet::from))
            .ok()
    };
    let include: Vec<IpNet> = include.iter().filter_map(|s| parse(s)).collect();
    let exclude: Vec<IpNet> = exclude.iter().filter_map(|s| parse(s)).collect();
    addrs
        .iter()
        .filter(|a| a.scope == AddressScope::Global)
        .map(|a| a.address.addr())
        .filter(|ip| !vips.contains(ip) && !ip.is_loopback())
        .filter(|ip| include.is_empty() || include.iter().any(|n| n.contains(ip)))
        .filter(|ip| !exclude.iter().any(|n| n.contains(ip)))
        .min_by_key(|ip| (ip.is_ipv6(), *ip))
}

/// The client URL of an etcd peer written as `host`, `host:port` or a URL
/// (its scheme is replaced: the cluster's TLS setting decides); `None`
/// when it is not an endpoint (validation has said so already).
fn peer_client_url(scheme: &str, peer: &str) -> Option<String> {
    let e = Endpoint::parse(peer).ok()?;
    Some(endpoint::url(
        scheme,
        &e.host,
        e.port_or(super::CLIENT_PORT),
    ))
}

/// Where a joining node looks for a running member: the listed peers, then
/// the control-plane endpoint's host (its API port is not etcd's).
pub fn join_endpoints(c: &MachineConfig, own: Option<IpAddr>, scheme: &str) -> Vec<String> {
    let mut out: Vec<String> = c
        .cluster
        .etcd
        .peers
        .iter()
        .filter_map(|p| peer_client_url(scheme, p))
        .collect();
    // The control-plane endpoint's host, on etcd's port (its own port is
    // the API server's).
    if let Some(e) = c.cluster.control_plane_endpoint.as_deref() {
        if let Ok(e) = Endpoint::parse(e) {
            out.push(endpoint::url(scheme, &e.host, super::CLIENT_PORT));
        }
    }
    if let Some(ip) = own {
        let mine = endpoint::ip_url(scheme, ip, super::CLIENT_PORT);
        out.retain(|u| *u != mine);
    }
    out.dedup();
    out
}

#[async_trait]
impl Controller for EtcdSpecController {
    fn name(&self) -> &'static str {
        "etcd.SpecController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![
            Input::of::<MachineConfigSpec>(),
            Input::of::<AddressStatus>(),
        ]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<EtcdSpec>()]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let Some(mc) = ctx.get::<MachineConfigSpec>(MachineConfigSpec::ID)? else {
            return ctx.destroy::<EtcdSpec>(EtcdSpec::ID);
        };
        let c = &mc.spec.config;
        if c.machine_type != MachineType::Controlplane {
            return ctx.destroy::<EtcdSpec>(EtcdSpec::ID);
        }
        let addrs: Vec<AddressStatus> = ctx
            .list::<AddressStatus>()?
            .into_iter()
            .map(|a| a.spec)
            .collect();
        let advertise_ip =
            pick_advertise_ip(&addrs, &c.vip_ips(), &c.cluster.etcd.advertised_subnets);
        // TLS with certificates from the etcd CA; an external cluster
        // decides by its URLs (`https://` needs our client certificate).
        let external = &c.cluster.etcd.external_endpoints;
        let tls = c
            .cluster
            .etcd
            .ca
            .as_ref()
            .is_some_and(|ca| !ca.key.is_empty())
            && external.iter().all(|e| e.starts_with("https://"));
        let scheme = if tls { "https" } else { "http" };
        let spec = EtcdSpec {
            name: node_name(c),
            advertise_ip,
            client_port: super::CLIENT_PORT,
            peer_port: super::PEER_PORT,
            extra_args: c.cluster.etcd.extra_args.clone(),
            join_endpoints: join_endpoints(c, advertise_ip, scheme),
            external_endpoints: c.cluster.etcd.external_endpoints.clone(),
            cluster_token: c.cluster.name.clone().unwrap_or_else(|| "machined".into()),
            tls,
        };
        ctx.put(EtcdSpec::ID, &spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(cidr: &str, scope: &str) -> AddressStatus {
        AddressStatus {
            address: cidr.parse().unwrap(),
            link: "eth0".into(),
            link_index: 2,
            family: machined_resources::types::AddressFamily::of(
                cidr.parse::<IpNet>().unwrap().addr(),
            ),
            scope: serde_json::from_value(serde_json::json!(scope)).unwrap(),
            protocol: 0,
            ours: false,
        }
    }

    #[test]
    fn advertise_ip_never_a_vip_and_honours_subnets() {
        let addrs = vec![
            st("10.5.0.50/32", "global"),
            st("10.5.0.11/24", "global"),
            st("192.168.1.5/24", "global"),
            st("fd00::11/64", "global"),
            st("fe80::1/64", "link"),
            st("127.0.0.1/8", "host"),
        ];
        let vip: IpAddr = "10.5.0.50".parse().unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(pick_advertise_ip(&addrs, &[vip], &[]), ip("10.5.0.11"));
        assert_eq!(
            pick_advertise_ip(&addrs, &[vip], &["192.168.0.0/16".into()]),
            ip("192.168.1.5")
        );
        assert_eq!(
            pick_advertise_ip(&addrs, &[vip], &["!10.5.0.0/24".into()]),
            ip("192.168.1.5")
        );
        assert_eq!(
            pick_advertise_ip(&addrs, &[vip], &["fd00::/8".into()]),
            ip("fd00::11")
        );
        assert_eq!(
            pick_advertise_ip(&addrs, &[vip], &["172.16.0.0/12".into()]),
            None
        );
        // Without the VIP excluded, .11 still wins (lowest), but a lone VIP never does.
        assert_eq!(
            pick_advertise_ip(&[st("10.5.0.50/32", "global")], &[vip], &[]),
            None
        );
    }

    #[test]
    fn join_endpoints_from_peers_and_endpoint() {
        let mut c: MachineConfig = machined_resources::config::parse(
            "version: v1alpha1\nmachine: {type: controlplane}\ncluster:\n  controlPlane: {endpoint: 'https://10.5.0.50:6443'}\n  etcd:\n    peers: [10.5.0.11, '10.5.0.12:3379']\n",
        )
        .unwrap()
        .config;
        let own = "10.5.0.11".parse().ok();
        assert_eq!(
            join_endpoints(&c, own, "http"),
            vec!["http://10.5.0.12:3379", "http://10.5.0.50:2379"]
        );
        c.cluster.control_plane_endpoint = Some("https://cp.example.com:6443".into());
        c.cluster.etcd.peers.clear();
        assert_eq!(
            join_endpoints(&c, None, "https"),
            vec!["https://cp.example.com:2379"]
        );
    }
}
