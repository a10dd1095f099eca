//! Every print column of every definition resolves on a filled-in sample of
//! its spec: a renamed or removed field shows up here, not as an empty
//! column in `mctl get`.

use super::definitions;
use crate::config::{self, VipOptions};
use crate::resource::{rfc3339, ResourceSpec, Timestamp};

/// The samples' moment.
fn t() -> Timestamp {
    Timestamp(rfc3339::parse("2026-01-01T00:00:00Z").expect("a timestamp"))
}
use crate::types::*;
use serde::Serialize;
use serde_json::Value;

fn json<T: ResourceSpec + Serialize>(spec: T) -> (&'static str, Value) {
    (
        T::TYPE,
        serde_json::to_value(spec).expect("a spec serializes"),
    )
}

fn samples() -> Vec<(&'static str, Value)> {
    let ip: std::net::IpAddr = "10.5.0.50".parse().unwrap();
    let net: ipnet::IpNet = "10.5.0.11/24".parse().unwrap();
    let text = "version: v1alpha1\nmachine:\n  type: controlplane\n";
    let parsed = config::parse(text).expect("a minimal config parses");
    vec![
        json(MachineConfigSpec {
            config: parsed.config,
            raw: text.into(),
        }),
        json(LinkStatus {
            index: 2,
            link_type: "ether".into(),
            kind: "veth".into(),
            hardware_addr: "52:54:00:00:00:01".parse().unwrap(),
            up: true,
            oper_state: crate::types::OperState::Up,
            mtu: 1500,
            ..Default::default()
        }),
        json(HostnameSpec {
            hostname: "cp1".into(),
            domainname: "lab".into(),
            source: "config".into(),
        }),
        json(HostnameStatus {
            hostname: "cp1".into(),
            ..Default::default()
        }),
        json(LinkSpec {
            name: "eth0".into(),
            up: true,
            mtu: Some(1500),
            layer: ConfigLayer::Configuration,
            ..Default::default()
        }),
        json(AddressSpec {
            address: net,
            link: "eth0".into(),
            layer: ConfigLayer::Configuration,
            valid_until_ms: None,
        }),
        json(AddressStatus {
            address: net,
            link: "eth0".into(),
            link_index: 2,
            family: crate::types::AddressFamily::Inet4,
            scope: crate::types::AddressScope::Global,
            protocol: ADDRESS_PROTO_MACHINED,
            ours: true,
        }),
        json(RouteSpec {
            link: "eth0".into(),
            destination: "10.9.0.0/24".parse().unwrap(),
            gateway: Some("10.5.0.1".parse().unwrap()),
            source: None,
            metric: 100,
            layer: ConfigLayer::Configuration,
        }),
        json(RouteStatus {
            link: "eth0".into(),
            destination: "10.9.0.0/24".parse().unwrap(),
            gateway: Some("10.5.0.1".parse().unwrap()),
            source: None,
            metric: 100,
            protocol: ROUTE_PROTO_MACHINED,
            ours: true,
        }),
        json(AnnounceStatus {
            ip,
            link: "eth0".into(),
            last: t(),
            frames: 3,
        }),
        json(DhcpSpec {
            link: "eth0".into(),
            options: crate::config::DhcpOptions::default(),
        }),
        json(DhcpStatus {
            link: "eth0".into(),
            state: crate::types::DhcpState::Bound,
            address: Some("10.5.0.11/24".parse().unwrap()),
            server: "10.9.0.1".parse().ok(),
            lease_secs: 120,
            renew_at: Some(t()),
            expires_at: Some(t()),
            last_error: "none".into(),
            ..Default::default()
        }),
        json(VipSpec {
            ip,
            link: "eth0".into(),
            options: VipOptions {
                group: Some("api".into()),
                ..VipOptions::default()
            },
        }),
        json(VipStatus {
            ip: ip.to_string(),
            link: "eth0".into(),
            group: "api".into(),
            holder: "cp1".into(),
            holding: true,
            campaigning: true,
            reason: String::new(),
            since: t(),
            transitions: 1,
            last_announce: Some(t()),
            announced_frames: 3,
            health: Some(HealthState::Healthy),
            health_result: "HTTP 200 in 2 ms".into(),
            rival: "02:00:0a:05:00:0c at 2026-01-01T00:00:00.000Z".into(),
            pinned: "by admin (os:admin) at 2026-01-01T00:00:00Z: holding while etcd has no quorum"
                .into(),
        }),
        json(EtcdLeft {
            since: crate::resource::Timestamp(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600),
            ),
        }),
        json(VipForfeit {
            ip: ip.to_string(),
            until: t(),
        }),
        json(VipMove {
            ip: ip.to_string(),
            to: "cp2".into(),
            seq: 1,
            requested: t(),
        }),
        json(VipPin {
            ip: ip.to_string(),
            by: "admin (os:admin)".into(),
            at: t(),
            seq: 1,
        }),
        json(VipHealthStatus {
            ip: ip.to_string(),
            check: "tcp 127.0.0.1:6443".into(),
            state: HealthState::Healthy,
            healthy: true,
            last_result: "connected in 1 ms".into(),
            last_check: Some(t()),
            streak: 4,
            since: t(),
            changes: 1,
            hold_down_ms: 10_000,
        }),
        json(EtcdSpec {
            name: "cp1".into(),
            advertise_ip: Some("10.5.0.11".parse().unwrap()),
            client_port: 2379,
            peer_port: 2380,
            external_endpoints: vec!["http://10.0.0.5:2379".into()],
            ..Default::default()
        }),
        json(EtcdStatus {
            phase: EtcdPhase::Running,
            member_id: "8e9e05c52164694d".into(),
            leader_name: "cp1".into(),
            last_error: "none".into(),
            ..Default::default()
        }),
        json(ApiCerts {
            ca_pem: String::new(),
            cert_pem: String::new(),
            key_pem: String::new(),
            sans: vec!["10.5.0.11".into()],
            client_cert_pem: String::new(),
            client_key_pem: String::new(),
        }),
        json(EtcdCerts {
            ca_pem: String::new(),
            server_cert_pem: String::new(),
            server_key_pem: String::new(),
            client_cert_pem: String::new(),
            client_key_pem: String::new(),
            sans: vec!["10.5.0.11".into()],
        }),
        json(EtcdBootstrap { requested: true }),
    ]
}

#[test]
fn every_column_resolves_on_a_sample_spec() {
    let samples = samples();
    for d in definitions() {
        let (_, spec) = samples
            .iter()
            .find(|(t, _)| *t == d.type_)
            .unwrap_or_else(|| panic!("no sample spec for {}", d.type_));
        for c in d.columns {
            assert!(
                spec.pointer(c.pointer).is_some(),
                "{} column {} ({}) is not in the spec: {spec}",
                d.type_,
                c.name,
                c.pointer
            );
        }
    }
}
