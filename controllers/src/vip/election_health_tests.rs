//! The health gate of an election session, against the scripted elector: a
//! node whose check fails stays out while anyone holds and steps in only
//! when nobody does; a failing holder keeps the VIP through the hold-down
//! and while no candidate is healthy, then lets go address first.

use super::election_fakes::{eligible, start_with, until, Script};
use super::observe::Holder as Observed;
use super::runner::{Desire, Health, Verdict};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

fn checked(healthy: bool, hold_down_ms: u64) -> Desire {
    Desire {
        health: Health {
            verdict: if healthy {
                Verdict::Healthy
            } else {
                Verdict::Failing
            },
            hold_down: Duration::from_millis(hold_down_ms),
            fallback_after: Duration::from_millis(200),
        },
        ..eligible(true)
    }
}

fn other(lease: i64, healthy: bool) -> Observed {
    Observed {
        node: format!("cp{lease}"),
        ip: None,
        mac: None,
        healthy,
        priority: 0,
        lease,
    }
}

fn logged(s: &Script, what: &str) -> usize {
    s.entries().iter().filter(|e| e.starts_with(what)).count()
}

#[tokio::test]
async fn a_failing_node_waits_while_another_holds_then_steps_in() {
    let script = Arc::new(Script::default());
    *script.seen.lock().unwrap() = Some(other(99, true));
    let (_desire, shared) = start_with(&script, checked(false, 0));
    until("standing by", || !shared.view().standby.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        script.values.lock().unwrap().is_empty(),
        "campaigned while cp99 holds"
    );
    assert!(!script.present());
    // The holder goes and nobody else takes it: the failing node does.
    *script.seen.lock().unwrap() = None;
    until("the address", || script.present()).await;
    let values = script.values.lock().unwrap().clone();
    assert_eq!(values.len(), 1);
    assert!(values[0].contains(r#""healthy":false"#), "{}", values[0]);
    assert!(shared.view().standby.is_empty());
}

#[tokio::test]
async fn a_queued_fallback_steps_back_when_another_node_holds() {
    let script = Arc::new(Script {
        hold_campaign: Some(Notify::new()),
        ..Default::default()
    });
    let (_desire, shared) = start_with(&script, checked(false, 0));
    until("a fallback campaign", || {
        !script.values.lock().unwrap().is_empty()
    })
    .await;
    *script.seen.lock().unwrap() = Some(other(99, true));
    until("the revoke", || logged(&script, "revoke") == 1).await;
    until("standing by again", || !shared.view().standby.is_empty()).await;
    assert!(!script.present());
}

#[tokio::test]
async fn a_queued_candidate_whose_check_fails_leaves_the_queue() {
    let script = Arc::new(Script {
        hold_campaign: Some(Notify::new()),
        ..Default::default()
    });
    *script.seen.lock().unwrap() = Some(other(99, true));
    let (desire, shared) = start_with(&script, checked(true, 0));
    until("a campaign", || !script.values.lock().unwrap().is_empty()).await;
    assert!(script.values.lock().unwrap()[0].contains(r#""healthy":true"#));
    desire.send_replace(checked(false, 0));
    until("the revoke", || logged(&script, "revoke") == 1).await;
    until("standing by", || !shared.view().standby.is_empty()).await;
    assert_eq!(script.values.lock().unwrap().len(), 1);
    // Healthy again: back in the queue, saying so.
    desire.send_replace(checked(true, 0));
    until("a second campaign", || {
        script.values.lock().unwrap().len() == 2
    })
    .await;
    assert!(script.values.lock().unwrap()[1].contains(r#""healthy":true"#));
}

#[tokio::test]
async fn a_failing_holder_keeps_the_vip_until_a_candidate_is_healthy() {
    let script = Arc::new(Script::default());
    let (desire, shared) = start_with(&script, checked(true, 0));
    until("the address", || script.present()).await;
    *script.candidates.lock().unwrap() = vec![other(7, false), other(8, false)];
    desire.send_replace(checked(false, 0));
    until("the note", || {
        shared.view().health_note.contains("no healthy candidate")
    })
    .await;
    assert!(script.present());
    assert_eq!(logged(&script, "release"), 0);
    // Our own key (lease 7) counts for nothing; cp8 becoming healthy does.
    *script.candidates.lock().unwrap() = vec![other(7, true), other(8, true)];
    until("the release", || logged(&script, "release") == 1).await;
    assert!(script
        .entries()
        .contains(&"release, address present: false".to_string()));
}

#[tokio::test]
async fn a_failing_holder_keeps_the_vip_through_the_hold_down() {
    let script = Arc::new(Script::default());
    *script.candidates.lock().unwrap() = vec![other(8, true)];
    let (desire, shared) = start_with(&script, checked(true, 1_500));
    until("the address", || script.present()).await;
    desire.send_replace(checked(false, 1_500));
    until("the note", || {
        shared.view().health_note.contains("hold-down")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(script.present(), "let go inside the hold-down");
    assert_eq!(logged(&script, "release"), 0);
    until("the release", || logged(&script, "release") == 1).await;
    assert!(!script.present());
}

#[tokio::test]
async fn a_holder_whose_check_recovers_keeps_the_vip() {
    let script = Arc::new(Script::default());
    let (desire, shared) = start_with(&script, checked(true, 0));
    until("the address", || script.present()).await;
    desire.send_replace(checked(false, 0));
    until("the note", || !shared.view().health_note.is_empty()).await;
    desire.send_replace(checked(true, 0));
    until("the note cleared", || shared.view().health_note.is_empty()).await;
    *script.candidates.lock().unwrap() = vec![other(8, true)];
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(script.present());
    assert_eq!(logged(&script, "release"), 0);
}

#[tokio::test]
async fn a_holder_whose_new_check_has_no_verdict_keeps_the_vip() {
    // A check just added to a running holder: no result yet. A healthy
    // candidate is queued, but nothing is failing, so nothing moves.
    let script = Arc::new(Script::default());
    *script.candidates.lock().unwrap() = vec![other(8, true)];
    let (desire, shared) = start_with(&script, eligible(true));
    until("the address", || script.present()).await;
    let mut unknown = checked(false, 0);
    unknown.health.verdict = Verdict::Unknown;
    desire.send_replace(unknown);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(script.present(), "a check with no verdict moved the VIP");
    assert_eq!(logged(&script, "release"), 0);
    assert!(shared.view().health_note.is_empty());
}
