//! `LinkAliasConfig` through the engine: the kernel alias is set on the
//! selected physical link, cleared when no config asks for it, and the
//! alias names the link a `LinkConfig` configures.

use super::tests::apply;
use super::*;
use crate::kernel::fake::FakeKernel;
use crate::runtime::harness::Harness;
use machined_resources::State;
use std::sync::Arc;

const BASE: &str = "version: v1alpha1\nmachine:\n  type: controlplane\n";

fn alias_of(kernel: &FakeKernel, index: u32) -> String {
    let links = kernel.links.lock().unwrap();
    links
        .iter()
        .find(|l| l.index == index)
        .map(|l| l.alias.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_alias_lands_in_the_kernel_and_names_the_configured_link() {
    let kernel = Arc::new(
        FakeKernel::default()
            .with_link(2, "enp0s1", "52:54:00:00:00:01", "")
            .with_link(3, "enp0s2", "52:54:00:00:00:02", "")
            .with_link(4, "veth0", "52:54:00:00:00:02", "veth"),
    );
    kernel.links.lock().unwrap()[0].alias = "stale".into();
    let state = State::new();
    apply(
        &state,
        &format!(
            "{BASE}---\napiVersion: v1alpha1\nkind: LinkAliasConfig\nname: uplink\nselector:\n  match: mac(link.hardware_addr) == \"52:54:00:00:00:02\"\n---\napiVersion: v1alpha1\nkind: LinkConfig\nname: uplink\naddresses: [{{address: 10.0.0.2/24}}]\n"
        ),
    );
    let d: Arc<dyn crate::kernel::NetDriver> = kernel.clone();
    let h = Harness::on(state.clone())
        .with(LinkStatusController { driver: d.clone() })
        .with(LinkAliasConfigController::new(d.clone()))
        .with(InterfaceConfigController)
        .with(AddressSpecController::new(d.clone()))
        .start();

    h.until("alias_of(&kernel, 3) == \"uplink\"", || {
        alias_of(&kernel, 3) == "uplink"
    })
    .await;
    // The veth with the same MAC is not physical: no alias.
    assert_eq!(alias_of(&kernel, 4), "");
    // An alias nobody configures is machined's to clear.
    h.until("alias_of(&kernel, 2).is_empty()", || {
        alias_of(&kernel, 2).is_empty()
    })
    .await;
    h.until("kernel.has(3, \"10.0.0.2/24\")", || {
        kernel.has(3, "10.0.0.2/24")
    })
    .await;
    assert!(!kernel.has(2, "10.0.0.2/24"));

    // The config drops the alias: the kernel's goes too.
    apply(
        &state,
        &format!("{BASE}---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: n1\n"),
    );
    h.until("alias_of(&kernel, 3).is_empty()", || {
        alias_of(&kernel, 3).is_empty()
    })
    .await;
    h.shutdown().await;
}
