//! The hostname: which source wins, what an offer may be, and a machined
//! not allowed to set the name leaving the host's alone.

use super::tests::apply;
use super::*;
use crate::runtime::harness::Harness;
use machined_resources::config::DhcpOptions;
use machined_resources::types::{DhcpSpec, DhcpStatus, HostnameSpec, HostnameStatus};
use machined_resources::State;

#[test]
fn offered_names_are_checked_and_split() {
    let s = |n: &str| split_fqdn(n, "dhcp eth0".into()).map(|h| (h.hostname, h.domainname));
    let own = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
    assert_eq!(s("cp1"), own("cp1", ""));
    assert_eq!(s("CP1.Example.com."), own("cp1", "example.com"));
    for bad in [
        "",
        "-cp",
        "cp_1",
        "a..b",
        "cp 1",
        &"x".repeat(64),
        "cp1/../x",
    ] {
        assert_eq!(s(bad), None, "{bad:?}");
    }
}

fn lease(state: &State, link: &str, hostname: &str, ignore: bool) {
    let options = DhcpOptions {
        ignore_hostname: ignore,
        ..Default::default()
    };
    let spec = DhcpSpec {
        link: link.into(),
        options,
    };
    state.put("dhcp-test", link, &spec).unwrap();
    let st = DhcpStatus {
        link: link.into(),
        state: machined_resources::types::DhcpState::Bound,
        hostname: hostname.into(),
        ..Default::default()
    };
    state.put("dhcp-test", link, &st).unwrap();
}

fn wanted(state: &State) -> Option<(String, String)> {
    state
        .get_typed::<HostnameSpec>(HostnameSpec::ID)
        .ok()
        .flatten()
        .map(|h| (h.spec.hostname, h.spec.source))
}

#[tokio::test]
async fn the_config_wins_over_dhcp_which_wins_over_nothing() {
    let state = State::new();
    apply(
        &state,
        "version: v1alpha1\nmachine:\n  type: controlplane\n",
    );
    let h = Harness::on(state.clone())
        .with(HostnameConfigController)
        .with(HostnameSpecController::new(false))
        .start();

    // An offer on a link that ignores it, and a bad one: no name wanted.
    lease(&state, "eth1", "ignored", true);
    lease(&state, "eth2", "bad_name", false);
    h.until(
        "state.get(\"network\", \"HostnameStatus\", \"hostname\").is_some()",
        || state.get("network", "HostnameStatus", "hostname").is_some(),
    )
    .await;
    assert_eq!(wanted(&state), None);

    lease(&state, "eth3", "offered.lab", false);
    h.until(
        "wanted(&state) == Some((\"offered\".into(), \"dhcp eth3\".into()))",
        || wanted(&state) == Some(("offered".into(), "dhcp eth3".into())),
    )
    .await;
    // Not machined's to set here: the name stays the host's.
    h.until(
        "the hostname status: offered by DHCP, not machined's to set",
        || {
            state
                .get_typed::<HostnameStatus>(HostnameStatus::ID)
                .ok()
                .flatten()
                .is_some_and(|s| {
                    s.spec.source == "dhcp eth3" && s.spec.note.contains("not machined's to set")
                })
        },
    )
    .await;

    apply(
        &state,
        "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    hostname: cfg-node\n",
    );
    h.until(
        "wanted(&state) == Some((\"cfg-node\".into(), \"config\".into()))",
        || wanted(&state) == Some(("cfg-node".into(), "config".into())),
    )
    .await;
    h.shutdown().await;
}
