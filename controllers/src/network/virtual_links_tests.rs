//! VLANs and bonds through the engine: created once their parent exists,
//! members enslaved and brought up, addresses on the new links.

use super::tests::{apply, config_harness};
use crate::kernel::fake::FakeKernel;
use machined_resources::State;
use std::sync::Arc;

fn link(kernel: &FakeKernel, name: &str) -> Option<crate::kernel::KernelLink> {
    kernel
        .links
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.name == name)
        .cloned()
}

#[tokio::test]
async fn vlans_and_bonds_are_created_and_members_enslaved() {
    let kernel = Arc::new(
        FakeKernel::default()
            .with_link(2, "eth0", "52:54:00:00:00:01", "")
            .with_link(3, "eth1", "52:54:00:00:00:02", "")
            .with_link(4, "eth2", "52:54:00:00:00:03", ""),
    );
    let state = State::new();
    apply(
        &state,
        "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        vlans: [{vlanId: 100, addresses: [10.100.0.2/24]}]\n---\napiVersion: v1alpha1\nkind: BondConfig\nname: bond0\nlinks: [eth1, eth2]\nbondMode: active-backup\nmiimon: 100\naddresses: [{address: 10.0.0.2/24}]\n",
    );
    let h = config_harness(&state, &kernel).start();

    h.until(
        "link(&kernel, \"eth0.100\").is_some_and(|l| l.kind == \"vlan\" && l.up)",
        || link(&kernel, "eth0.100").is_some_and(|l| l.kind == "vlan" && l.up),
    )
    .await;
    let vlan = link(&kernel, "eth0.100").unwrap();
    h.until("kernel.has(vlan.index, \"10.100.0.2/24\")", || {
        kernel.has(vlan.index, "10.100.0.2/24")
    })
    .await;
    h.until(
        "link(&kernel, \"bond0\").is_some_and(|l| l.kind == \"bond\" && l.up)",
        || link(&kernel, "bond0").is_some_and(|l| l.kind == "bond" && l.up),
    )
    .await;
    let bond = link(&kernel, "bond0").unwrap();
    h.until("eth1 and eth2 up as members of bond0", || {
        ["eth1", "eth2"]
            .iter()
            .all(|m| link(&kernel, m).is_some_and(|l| l.master == bond.index && l.up))
    })
    .await;
    h.until("kernel.has(bond.index, \"10.0.0.2/24\")", || {
        kernel.has(bond.index, "10.0.0.2/24")
    })
    .await;
    // The parent of the VLAN stays nobody's member.
    assert_eq!(link(&kernel, "eth0").unwrap().master, 0);
    h.shutdown().await;
}
