//! The VIP controller itself, through the controller harness, against
//! the scripted elector, address table and link: from the resources to
//! `VIPStatus` and back, as machined runs it.

use super::election_fakes::{FakeElector, FakeWires, Script};
use super::VipOperatorController;
use crate::runtime::harness::Harness;
use machined_resources::types::{
    EtcdPhase, EtcdSpec, EtcdStatus, LinkStatus, VipForfeit, VipPin, VipSpec, VipStatus,
};
use std::sync::Arc;
use tokio::sync::Notify;

const VIP: &str = "10.5.0.50";

/// A control plane with a running etcd and eth0 up, and the controller.
fn node(script: &Arc<Script>) -> Harness {
    let h = Harness::new()
        .with(VipOperatorController::new(
            script.addrs.clone(),
            Arc::new(FakeWires(script.clone())),
            Arc::new(FakeElector(script.clone())),
        ))
        .start();
    h.put(
        EtcdSpec::ID,
        &EtcdSpec {
            name: "cp1".into(),
            advertise_ip: "10.5.0.11".parse().ok(),
            client_port: 2379,
            peer_port: 2380,
            ..Default::default()
        },
    )
    .put(
        EtcdStatus::ID,
        &EtcdStatus {
            phase: EtcdPhase::Running,
            ..Default::default()
        },
    )
    .put(
        "eth0",
        &LinkStatus {
            index: 2,
            link_type: "ether".into(),
            hardware_addr: "52:54:00:00:00:01".parse().unwrap(),
            up: true,
            oper_state: machined_resources::types::OperState::Up,
            ..Default::default()
        },
    );
    h
}

fn spec() -> VipSpec {
    VipSpec {
        ip: VIP.parse().unwrap(),
        link: "eth0".into(),
        options: Default::default(),
    }
}

#[tokio::test]
async fn a_vip_is_held_reported_and_let_go_when_its_spec_goes() {
    let script = Arc::new(Script::default());
    let h = node(&script);
    h.put(VIP, &spec());
    let st = h
        .assert_eventually::<VipStatus>(VIP, |s| s.holding && s.holder == "cp1")
        .await;
    assert!(st.campaigning && st.reason.is_empty(), "{st:?}");
    assert!(script.present());
    h.destroy::<VipSpec>(VIP);
    h.assert_gone::<VipStatus>(VIP).await;
    h.eventually("the address removed", |_| (!script.present()).then_some(()))
        .await;
    assert!(
        script
            .entries()
            .iter()
            .any(|e| e.starts_with("release, address present: false")),
        "{:?}",
        script.entries()
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_forfeit_is_the_reason_and_the_holder_lets_go() {
    let script = Arc::new(Script::default());
    let h = node(&script);
    h.put(VIP, &spec());
    h.assert_eventually::<VipStatus>(VIP, |s| s.holding).await;
    let until = std::time::SystemTime::now() + std::time::Duration::from_secs(600);
    h.put(
        VIP,
        &VipForfeit {
            ip: VIP.into(),
            until: until.into(),
        },
    );
    let st = h
        .assert_eventually::<VipStatus>(VIP, |s| !s.holding && !s.campaigning)
        .await;
    assert!(st.reason.starts_with("forfeited until"), "{st:?}");
    assert!(!script.present());
    h.shutdown().await;
}

#[tokio::test]
async fn a_pin_shows_in_the_status_and_machined_stopping_lets_it_go() {
    // Campaigns never win: etcd has no quorum.
    let script = Arc::new(Script {
        hold_campaign: Some(Notify::new()),
        ..Default::default()
    });
    let h = node(&script);
    h.put(VIP, &spec());
    h.assert_eventually::<VipStatus>(VIP, |s| s.campaigning && !s.holding)
        .await;
    h.put(
        VIP,
        &VipPin {
            ip: VIP.into(),
            by: "admin (os:admin)".into(),
            at: machined_resources::resource::Timestamp::now(),
            seq: 1,
        },
    );
    let st = h
        .assert_eventually::<VipStatus>(VIP, |s| s.pinned.contains("waiting"))
        .await;
    assert!(st.pinned.starts_with("by admin (os:admin) at "), "{st:?}");
    assert!(!st.campaigning, "{st:?}");
    h.shutdown().await;
    assert!(!script.present());
}
