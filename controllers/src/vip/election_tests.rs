//! The election session without etcd or the kernel: a scripted elector, a
//! fake address table and a fake link. What is checked is the order that
//! keeps one holder: the address is gone (and confirmed) before the lead is
//! released, a failed release is followed by a revoke through another
//! member, and the lease is revoked when the node stops being eligible
//! while campaigning.

use super::election_fakes::{eligible, start, until, Script};
use std::sync::Arc;
use tokio::sync::Notify;

#[tokio::test]
async fn ineligible_holder_removes_the_address_before_it_releases() {
    let script = Arc::new(Script::default());
    let (desire, shared) = start(&script);
    until("the address", || script.present()).await;
    assert!(shared.view().leading);
    desire.send_replace(eligible(false));
    let release = "release, address present: false".to_string();
    until("the release", || script.entries().contains(&release)).await;
    assert_eq!(
        script.entries(),
        ["connect", "grant", "won", release.as_str()]
    );
    assert!(!script.present());
}

#[tokio::test]
async fn a_failed_release_is_followed_by_a_revoke_through_another_member() {
    let script = Arc::new(Script {
        release_fails: true,
        ..Default::default()
    });
    let (desire, _shared) = start(&script);
    until("the address", || script.present()).await;
    desire.send_replace(eligible(false));
    let elsewhere = "revoke elsewhere, address present: false".to_string();
    until("the revoke elsewhere", || {
        script.entries().contains(&elsewhere)
    })
    .await;
    assert_eq!(
        script.entries()[3..],
        ["release, address present: false".to_string(), elsewhere]
    );
}

#[tokio::test]
async fn a_deleted_key_or_a_lost_lease_lets_go_address_first() {
    for lost in [false, true] {
        let script = Arc::new(Script::default());
        let (_desire, _shared) = start(&script);
        until("the address", || script.present()).await;
        if lost {
            script.lease_lost.notify_one();
        } else {
            script.key_deleted.notify_one();
        }
        until("the release", || script.entries().len() >= 4).await;
        assert_eq!(
            script.entries()[3],
            "release, address present: false",
            "lost: {lost}"
        );
    }
}

#[tokio::test]
async fn ineligible_while_campaigning_revokes_and_never_adds() {
    let script = Arc::new(Script {
        hold_campaign: Some(Notify::new()),
        ..Default::default()
    });
    let (desire, _shared) = start(&script);
    until("the grant", || {
        script.entries().contains(&"grant".to_string())
    })
    .await;
    desire.send_replace(eligible(false));
    until("the revoke", || {
        script.entries().contains(&"revoke".to_string())
    })
    .await;
    assert_eq!(script.entries(), ["connect", "grant", "revoke"]);
    assert!(!script.present());
    assert!(script.addrs.adds.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_holder_whose_link_changes_its_mac_announces_and_proclaims_it() {
    use std::sync::atomic::Ordering;
    let script = Arc::new(Script::default());
    let (desire, _shared) = super::election_fakes::start_with(&script, eligible(true));
    until("the address", || script.present()).await;
    until("the first burst", || {
        script.wires.lock().unwrap()[0]
            .1
            .announced
            .load(Ordering::SeqCst)
            >= 6
    })
    .await;
    // A bond failed over with failOverMac: active.
    let mut moved = eligible(true);
    moved.mac = Some([2, 0, 0, 0, 0, 2]);
    desire.send_replace(moved);
    until("the burst on a wire with the new MAC", || {
        script.wires.lock().unwrap().get(1).is_some_and(|(mac, w)| {
            *mac == [2, 0, 0, 0, 0, 2] && w.announced.load(Ordering::SeqCst) >= 6
        })
    })
    .await;
    until("the value proclaimed", || {
        script
            .entries()
            .iter()
            .any(|e| e.starts_with("proclaim") && e.contains("02:00:00:00:00:02"))
    })
    .await;
    assert!(script.present(), "a MAC change let the VIP go");
    assert_eq!(
        script
            .entries()
            .iter()
            .filter(|e| e.starts_with("release"))
            .count(),
        0
    );
}
