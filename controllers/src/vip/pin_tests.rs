//! The pin against fakes (paused time): it waits out a lease without
//! quorum, claims, answers while etcd has none, and ends (address removed)
//! when etcd answers again, when unpinned, or when another station claims
//! the VIP; a pin that ended is not run again.

use crate::kernel::ask::{Asker, Heard};
use crate::vip::election_fakes::{eligible, start_with, until, Script};
use crate::vip::runner::{Desire, Pin, Shared};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{watch, Notify};

fn pinned(seq: u64) -> Desire {
    pinned_by("admin (os:admin)", seq)
}

fn pinned_by(by: &str, seq: u64) -> Desire {
    Desire {
        pin: Some(Pin {
            by: by.into(),
            at: "2026-12-06T00:00:00Z".into(),
            seq,
        }),
        ..eligible(true)
    }
}

/// Why the pin made by `by` ended, as its event says.
fn ended_because(by: &str) -> Option<String> {
    machined_telemetry::events::global()
        .tail(None)
        .into_iter()
        .find(|e| {
            e.kind == machined_telemetry::Kind::VipPinEnded
                && e.fields.get("by").map(String::as_str) == Some(by)
        })
        .and_then(|e| e.fields.get("reason").cloned())
}

/// A runner whose campaigns never win (etcd has no quorum), pinned by `by`.
async fn pinned_runner(by: &str) -> (Arc<Script>, watch::Sender<Desire>, Arc<Shared>) {
    let script = Arc::new(Script {
        hold_campaign: Some(Notify::new()),
        ..Default::default()
    });
    let (desire, shared) = start_with(&script, pinned_by(by, 1));
    until("the pin claims", || script.present()).await;
    assert!(shared.view().leading);
    assert!(
        shared
            .view()
            .pinned
            .contains("holding while etcd has no quorum"),
        "{}",
        shared.view().pinned
    );
    (script, desire, shared)
}

fn asker(n: u8) -> Heard {
    Heard::Asked(Asker {
        mac: [2, 0, 0, 0, 1, n],
        ip: IpAddr::V4(std::net::Ipv4Addr::new(10, 5, 0, n)),
    })
}

#[tokio::test(start_paused = true)]
async fn a_pin_answers_without_quorum_and_ends_when_etcd_answers() {
    let (script, _desire, shared) = pinned_runner("etcd-back-case").await;
    let wire = script.wires.lock().unwrap().last().unwrap().1.clone();
    wire.deliver(asker(3));
    until("an answer", || !wire.answers.lock().unwrap().is_empty()).await;
    assert!(
        script.entries().is_empty(),
        "a session while pinned: {:?}",
        script.entries()
    );
    *script.quorum.lock().unwrap() = Some("https://10.5.0.12:2379".into());
    until("the pin's end", || !script.present()).await;
    until("the view", || shared.view().pinned.is_empty()).await;
    assert!(!shared.view().leading);
    assert_eq!(
        ended_because("etcd-back-case").as_deref(),
        Some("etcd-back")
    );
    // The election decides again (a new session), the pin is not rerun.
    until("a new session", || {
        script.entries().contains(&"grant".to_string())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    assert!(!script.present() && shared.view().pinned.is_empty());
}

#[tokio::test(start_paused = true)]
async fn unpinning_ends_the_pin_address_first() {
    let (script, desire, shared) = pinned_runner("unpin-case").await;
    desire.send_replace(eligible(true));
    until("the pin's end", || !script.present()).await;
    until("the view", || shared.view().pinned.is_empty()).await;
    assert_eq!(ended_because("unpin-case").as_deref(), Some("unpinned"));
}

#[tokio::test(start_paused = true)]
async fn a_pin_yields_to_any_other_claim() {
    let (script, _desire, shared) = pinned_runner("rival-case").await;
    let wire = script.wires.lock().unwrap().last().unwrap().1.clone();
    wire.deliver(Heard::Claimed([2, 0, 0, 0, 0, 9]));
    until("the pin's end", || !script.present()).await;
    until("the view", || shared.view().pinned.is_empty()).await;
    assert_eq!(ended_because("rival-case").as_deref(), Some("contested"));
}

#[tokio::test(start_paused = true)]
async fn a_pin_asked_while_etcd_answers_ends_before_claiming() {
    let script = Arc::new(Script {
        hold_campaign: Some(Notify::new()),
        ..Default::default()
    });
    *script.quorum.lock().unwrap() = Some("https://10.5.0.11:2379".into());
    let (_desire, shared) = start_with(&script, pinned(1));
    until("the pin tried", || shared.view().pin_done == 1).await;
    until("the pin's end", || shared.view().pinned.is_empty()).await;
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    assert!(!script.present(), "claimed although etcd answers");
    assert!(script.wires.lock().unwrap().is_empty(), "opened the link");
}
