//! Planned moves in the election session, against the scripted elector: a
//! candidate steps out of the queue for a move to another node and back in
//! when it ends; the holder lets go (address first) once only the target
//! is queued, or after a bounded wait; the target withdraws the request
//! once it holds; a higher-priority candidate asks for the VIP after the
//! preempt delay, a lower one never.

use super::election_fakes::{eligible, start_with, until, Script};
use super::observe::Holder as Observed;
use super::runner::{Desire, Handover};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

fn node(name: &str, lease: i64, priority: u32) -> Observed {
    Observed {
        node: name.into(),
        ip: None,
        mac: None,
        healthy: true,
        priority,
        lease,
    }
}

fn logged(s: &Script, what: &str) -> usize {
    s.entries().iter().filter(|e| e.starts_with(what)).count()
}

fn queued() -> Arc<Script> {
    Arc::new(Script {
        hold_campaign: Some(Notify::new()),
        ..Default::default()
    })
}

fn with_priority(priority: u32, delay_ms: u64) -> Desire {
    Desire {
        handover: Handover {
            priority,
            preempt_delay: Duration::from_millis(delay_ms),
        },
        ..eligible(true)
    }
}

#[tokio::test]
async fn a_candidate_steps_out_for_a_move_elsewhere_and_back_in_after() {
    let script = queued();
    *script.seen.lock().unwrap() = Some(node("cp8", 8, 0));
    let (_d, shared) = start_with(&script, eligible(true));
    until("a campaign", || script.values.lock().unwrap().len() == 1).await;
    *script.move_to.lock().unwrap() = Some("cp9".into());
    until("the revoke", || logged(&script, "revoke") == 1).await;
    until("stepped out", || shared.view().standby.contains("moved")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        script.values.lock().unwrap().len(),
        1,
        "campaigned during the move"
    );
    *script.move_to.lock().unwrap() = None;
    until("back in the queue", || {
        script.values.lock().unwrap().len() == 2
    })
    .await;
    assert!(shared.view().standby.is_empty());
}

#[tokio::test]
async fn the_target_stays_in_and_withdraws_the_request_once_it_holds() {
    let script = Arc::new(Script::default());
    *script.move_to.lock().unwrap() = Some("cp1".into());
    let (_d, _shared) = start_with(&script, eligible(true));
    until("the address", || script.present()).await;
    until("the request withdrawn", || {
        script.move_to.lock().unwrap().is_none()
    })
    .await;
    assert_eq!(logged(&script, "clear move to cp1"), 1);
    assert_eq!(logged(&script, "release"), 0);
}

#[tokio::test]
async fn the_holder_lets_go_once_only_the_target_is_queued() {
    let script = Arc::new(Script::default());
    let (_d, _shared) = start_with(&script, eligible(true));
    until("the address", || script.present()).await;
    // Our own key (lease 7), the target and one more still queued.
    *script.candidates.lock().unwrap() =
        vec![node("cp1", 7, 0), node("cp8", 8, 0), node("cp9", 9, 0)];
    *script.move_to.lock().unwrap() = Some("cp8".into());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(script.present(), "let go while cp9 could still win");
    *script.candidates.lock().unwrap() = vec![node("cp1", 7, 0), node("cp8", 8, 0)];
    until("the release", || logged(&script, "release") == 1).await;
    assert!(script
        .entries()
        .contains(&"release, address present: false".to_string()));
}

#[tokio::test]
async fn the_holder_goes_anyway_when_the_queue_never_clears() {
    let script = Arc::new(Script::default());
    let (_d, _shared) = start_with(&script, eligible(true));
    until("the address", || script.present()).await;
    *script.candidates.lock().unwrap() = vec![node("cp8", 8, 0), node("cp9", 9, 0)];
    *script.move_to.lock().unwrap() = Some("cp8".into());
    until("the release", || logged(&script, "release") == 1).await;
    assert!(!script.present());
}

#[tokio::test]
async fn a_higher_priority_candidate_asks_after_the_delay_a_lower_one_never() {
    let script = queued();
    *script.seen.lock().unwrap() = Some(node("cp8", 8, 1));
    let (_d, _shared) = start_with(&script, with_priority(5, 300));
    until("a campaign", || script.values.lock().unwrap().len() == 1).await;
    assert!(script.values.lock().unwrap()[0].contains(r#""priority":5"#));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(logged(&script, "move to"), 0, "asked before the delay");
    until("the request", || logged(&script, "move to cp1") == 1).await;

    let script = queued();
    *script.seen.lock().unwrap() = Some(node("cp8", 8, 9));
    let (_d, _shared) = start_with(&script, with_priority(5, 100));
    until("a campaign", || script.values.lock().unwrap().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(logged(&script, "move to"), 0, "preempted a higher priority");
}

#[tokio::test]
async fn the_holder_keeps_the_vip_when_the_target_never_queues() {
    let script = Arc::new(Script::default());
    let (_d, _shared) = start_with(&script, eligible(true));
    until("the address", || script.present()).await;
    *script.candidates.lock().unwrap() = vec![node("cp1", 7, 0)];
    *script.move_to.lock().unwrap() = Some("nowhere".into());
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert!(
        script.present(),
        "let go for a target that is not a candidate"
    );
    assert_eq!(logged(&script, "release"), 0);
}
