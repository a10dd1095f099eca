use super::*;
use crate::kernel::fake::FakeKernel;
use crate::kernel::KernelAddr;
use crate::runtime::harness::Harness;
use machined_resources::config::{DeviceSelector, LinkSelector};
use machined_resources::types::{
    AddressSpec, ConfigLayer, LinkStatus, MachineConfigSpec, ADDRESS_PROTO_MACHINED,
};
use machined_resources::{Metadata, State, Typed};
use std::collections::HashMap;
use std::sync::Arc;

fn spec(link: &str, cidr: &str) -> AddressSpec {
    AddressSpec {
        address: cidr.parse().unwrap(),
        link: link.into(),
        layer: ConfigLayer::Configuration,
        valid_until_ms: None,
    }
}

fn kaddr(idx: u32, cidr: &str, proto: u8) -> KernelAddr {
    KernelAddr {
        link_index: idx,
        addr: cidr.parse().unwrap(),
        scope: machined_resources::types::AddressScope::Global,
        protocol: proto,
    }
}

const OURS: u8 = ADDRESS_PROTO_MACHINED;

#[test]
fn plan_table() {
    let links: HashMap<String, u32> = [("eth0".to_string(), 2), ("eth1".to_string(), 3)].into();
    let add = |i, c: &str| AddrOp::Add {
        link_index: i,
        addr: c.parse().unwrap(),
        lifetime_secs: None,
    };
    let del = |i, c: &str| AddrOp::Del {
        link_index: i,
        addr: c.parse().unwrap(),
    };
    type Case = (&'static str, Vec<AddressSpec>, Vec<KernelAddr>, Vec<AddrOp>);
    let cases: Vec<Case> = vec![
        ("nothing to do", vec![], vec![], vec![]),
        (
            "add missing",
            vec![spec("eth0", "10.0.0.1/24")],
            vec![],
            vec![add(2, "10.0.0.1/24")],
        ),
        (
            "already there",
            vec![spec("eth0", "10.0.0.1/24")],
            vec![kaddr(2, "10.0.0.1/24", OURS)],
            vec![],
        ),
        (
            "present by hand counts as present",
            vec![spec("eth0", "10.0.0.1/24")],
            vec![kaddr(2, "10.0.0.1/24", 0)],
            vec![],
        ),
        (
            "remove ours no longer wanted",
            vec![],
            vec![kaddr(2, "10.0.0.1/24", OURS)],
            vec![del(2, "10.0.0.1/24")],
        ),
        (
            "never remove what is not ours",
            vec![],
            vec![kaddr(2, "10.0.0.9/24", 0), kaddr(2, "10.0.0.8/24", 4)],
            vec![],
        ),
        (
            "prefix change: remove old, add new",
            vec![spec("eth0", "10.0.0.1/16")],
            vec![kaddr(2, "10.0.0.1/24", OURS)],
            vec![del(2, "10.0.0.1/24"), add(2, "10.0.0.1/16")],
        ),
        (
            "moved to another link",
            vec![spec("eth1", "10.0.0.1/24")],
            vec![kaddr(2, "10.0.0.1/24", OURS)],
            vec![del(2, "10.0.0.1/24"), add(3, "10.0.0.1/24")],
        ),
        (
            "missing link is skipped",
            vec![spec("eth9", "10.0.0.1/24")],
            vec![],
            vec![],
        ),
        (
            "never remove a VIP (its holder owns it)",
            vec![],
            vec![kaddr(
                2,
                "10.0.0.50/32",
                machined_resources::types::ADDRESS_PROTO_VIP,
            )],
            vec![],
        ),
    ];
    for (name, desired, observed, want) in cases {
        assert_eq!(
            plan(&desired, &links, &observed, &Lifetimes::default()),
            want,
            "case: {name}"
        );
    }
}

#[test]
fn plan_gives_a_lease_address_what_is_left_of_its_lifetime() {
    let links: HashMap<String, u32> = [("eth0".to_string(), 2)].into();
    let now = 1_000_000;
    let leased = |until: u64| AddressSpec {
        valid_until_ms: Some(until),
        ..spec("eth0", "10.0.0.5/24")
    };
    let addr: ipnet::IpNet = "10.0.0.5/24".parse().unwrap();
    let add = |secs| AddrOp::Add {
        link_index: 2,
        addr,
        lifetime_secs: Some(secs),
    };
    let lt = |applied: Option<u64>| Lifetimes {
        now_ms: now,
        applied: applied.map(|t| ((2, addr), t)).into_iter().collect(),
    };
    let present = vec![kaddr(2, "10.0.0.5/24", OURS)];
    // Absent: added with the whole seconds left.
    assert_eq!(
        plan(&[leased(now + 60_500)], &links, &[], &lt(None)),
        vec![add(60)]
    );
    // Present with that lifetime already: nothing.
    assert_eq!(
        plan(
            &[leased(now + 60_500)],
            &links,
            &present,
            &lt(Some(now + 60_500))
        ),
        vec![]
    );
    // Renewed (a later end): replaced with the new lifetime.
    assert_eq!(
        plan(
            &[leased(now + 120_000)],
            &links,
            &present,
            &lt(Some(now + 60_500))
        ),
        vec![add(120)]
    );
    // Less than a second left: not wanted, so ours is removed.
    assert_eq!(
        plan(&[leased(now + 999)], &links, &present, &lt(Some(now + 999))),
        vec![AddrOp::Del {
            link_index: 2,
            addr
        }]
    );
}

fn link(name: &str, mac: &str, kind: &str) -> Typed<LinkStatus> {
    Typed {
        metadata: Metadata::new("network", "LinkStatus", name, "t"),
        spec: LinkStatus {
            link_type: "ether".into(),
            kind: kind.into(),
            hardware_addr: mac.parse().unwrap(),
            ..Default::default()
        },
    }
}

#[test]
fn selector_resolves_by_name_and_by_device() {
    let links = vec![
        link("eth1", "52:54:00:aa:00:02", ""),
        link("eth0", "52:54:00:aa:00:01", ""),
        link("veth0", "52:54:00:bb:00:01", "veth"),
    ];
    let by_mac = |g: &str, physical| {
        LinkSelector::Device(DeviceSelector {
            hardware_addr: Some(g.into()),
            physical,
        })
    };
    assert_eq!(
        LinkSelector::Name("eth7".into()).resolve(&links).as_deref(),
        Some("eth7")
    );
    assert_eq!(
        by_mac("52:54:00:aa:*", None).resolve(&links).as_deref(),
        Some("eth0")
    );
    assert_eq!(
        by_mac("52:54:00:bb:*", None).resolve(&links).as_deref(),
        Some("veth0")
    );
    assert_eq!(by_mac("52:54:00:bb:*", Some(true)).resolve(&links), None);
    assert_eq!(
        by_mac("*", Some(false)).resolve(&links).as_deref(),
        Some("veth0")
    );
    assert_eq!(by_mac("de:ad:*", None).resolve(&links), None);
}

/// A harness with the controllers from config to kernel links and
/// addresses, on `kernel` (not started: more may be added).
pub(super) fn config_harness(state: &State, kernel: &Arc<FakeKernel>) -> Harness {
    let d: Arc<dyn crate::kernel::NetDriver> = kernel.clone();
    Harness::on(state.clone())
        .with(LinkStatusController { driver: d.clone() })
        .with(InterfaceConfigController)
        .with(LinkSpecController { driver: d.clone() })
        .with(AddressSpecController::new(d))
}

pub(super) fn apply(state: &State, yaml: &str) {
    let parsed = machined_resources::config::parse(yaml).expect("valid config");
    let spec = MachineConfigSpec {
        config: parsed.config,
        raw: yaml.into(),
    };
    state.put("api", MachineConfigSpec::ID, &spec).unwrap();
}

#[tokio::test]
async fn config_flows_to_the_kernel_and_hand_made_changes_are_handled() {
    let kernel = Arc::new(FakeKernel::default().with_link(2, "eth0", "52:54:00:00:00:01", ""));
    kernel
        .addrs
        .lock()
        .unwrap()
        .push(kaddr(2, "192.0.2.9/24", 0)); // by hand
    let state = State::new();
    apply(
        &state,
        "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - deviceSelector: {hardwareAddr: '52:54:00:*'}\n        addresses: [10.0.0.2/24]\n        mtu: 1400\n",
    );
    let d: Arc<dyn crate::kernel::NetDriver> = kernel.clone();
    let h = config_harness(&state, &kernel)
        .with(AddressStatusController { driver: d.clone() })
        .start();

    h.until("kernel.has(2, \"10.0.0.2/24\")", || {
        kernel.has(2, "10.0.0.2/24")
    })
    .await;
    h.until("eth0 up with MTU 1400", || {
        kernel.links.lock().unwrap()[0].up && kernel.links.lock().unwrap()[0].mtu == 1400
    })
    .await;
    h.until("the address status of eth0/10.0.0.2/24", || {
        state
            .get("network", "AddressStatus", "eth0/10.0.0.2/24")
            .is_some()
    })
    .await;
    let st = state
        .get_typed::<machined_resources::types::AddressStatus>("eth0/10.0.0.2/24")
        .unwrap()
        .unwrap();
    assert!(st.spec.ours);

    // Removed by hand: put back.
    kernel.external_change(|a| a.retain(|x| x.addr.to_string() != "10.0.0.2/24"));
    h.until("kernel.has(2, \"10.0.0.2/24\")", || {
        kernel.has(2, "10.0.0.2/24")
    })
    .await;

    // New config: old address goes, new one comes, the hand-made one stays.
    apply(
        &state,
        "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [10.0.0.3/24]\n",
    );
    h.until(
        "kernel.has(2, \"10.0.0.3/24\") && !kernel.has(2, \"10.0.0.2/24\")",
        || kernel.has(2, "10.0.0.3/24") && !kernel.has(2, "10.0.0.2/24"),
    )
    .await;
    assert!(kernel.has(2, "192.0.2.9/24"));
    h.shutdown().await;
}

#[tokio::test]
async fn a_dhcp_link_gets_its_spec_and_the_lease_mtu_unless_configured() {
    let kernel = Arc::new(FakeKernel::default().with_link(2, "eth0", "52:54:00:00:00:01", ""));
    let state = State::new();
    apply(
        &state,
        "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        dhcp: true\n",
    );
    let d: Arc<dyn crate::kernel::NetDriver> = kernel.clone();
    let h = Harness::on(state.clone())
        .with(LinkStatusController { driver: d.clone() })
        .with(InterfaceConfigController)
        .start();
    h.until(
        "state.get(\"network\", \"DHCPSpec\", \"eth0\").is_some()",
        || state.get("network", "DHCPSpec", "eth0").is_some(),
    )
    .await;
    let link_mtu = || {
        state
            .get_typed::<machined_resources::types::LinkSpec>("eth0")
            .ok()
            .flatten()
            .and_then(|l| l.spec.mtu)
    };
    assert_eq!(link_mtu(), None);
    // The DHCP operator's status (written here by a stand-in owner).
    let st = machined_resources::types::DhcpStatus {
        link: "eth0".into(),
        state: machined_resources::types::DhcpState::Bound,
        mtu: Some(1400),
        ..Default::default()
    };
    state.put("dhcp-test", "eth0", &st).unwrap();
    h.until("link_mtu() == Some(1400)", || link_mtu() == Some(1400))
        .await;
    // A configured MTU wins over the lease's.
    apply(
        &state,
        "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        dhcp: true\n        mtu: 9000\n",
    );
    h.until("link_mtu() == Some(9000)", || link_mtu() == Some(9000))
        .await;
    h.shutdown().await;
}
