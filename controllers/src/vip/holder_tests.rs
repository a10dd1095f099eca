//! The holder without the kernel: a fake address table and a fake link.

use super::fakes::{FakeAddrs, FakeProof, FakeWire};
use super::holder::{Holder, Put};
use super::keepalive::LeaseState;
use super::lifetime::Validity;
use super::proof::Proof;
use super::runner::Shared;
use super::shared::Cue;
use super::shared::LetGo;
use crate::Waker;
use machined_resources::config::Announce;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

const TTL: Duration = Duration::from_secs(3);

fn holder(addrs: &Arc<FakeAddrs>, wire: &Arc<FakeWire>) -> (Holder, mpsc::Receiver<Cue>) {
    holder_with(addrs, wire, &Arc::default())
}

fn holder_with(
    addrs: &Arc<FakeAddrs>,
    wire: &Arc<FakeWire>,
    proof: &Arc<FakeProof>,
) -> (Holder, mpsc::Receiver<Cue>) {
    let (cue, cues) = mpsc::channel(8);
    let h = Holder {
        link: 2,
        ip: "10.5.0.50".parse().unwrap(),
        ttl: TTL,
        announce: Announce {
            count: 3,
            interval_ms: 20,
            refresh_ms: 0,
        },
        claim_window: Duration::from_millis(10),
        addrs: addrs.clone(),
        wire: tokio::sync::watch::channel(wire.clone() as Arc<dyn super::wire::Wire>).1,
        kick: Default::default(),
        confirm: Arc::new(proof.clone()),
        cue,
        yields: false,
        keeps_quiet: true,
        owner: None,
    };
    (h, cues)
}

fn fakes() -> (Arc<FakeAddrs>, Arc<FakeWire>, Arc<Shared>) {
    (
        Arc::default(),
        Arc::default(),
        Shared::new(Waker::default()),
    )
}

#[tokio::test]
async fn claims_only_a_silent_address_then_adds_renews_and_announces() {
    let (addrs, wire, shared) = fakes();
    wire.answers_left.store(2, Ordering::SeqCst);
    let (h, cues) = holder(&addrs, &wire);
    let (tx, mut rx) = watch::channel(LeaseState::Acked(Instant::now()));
    let run = async {
        let stop = async {
            // While someone answers: waiting, and nothing added.
            while shared.view().waiting.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert!(shared
                .view()
                .waiting
                .contains("02:00:00:00:00:09 still answers"));
            assert!(addrs.adds.lock().unwrap().is_empty());
            while !shared.view().leading {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tx.send(LeaseState::Acked(Instant::now())).unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            LetGo::Ineligible
        };
        h.hold(&mut rx, stop, &shared, cues).await
    };
    assert_eq!(run.await, LetGo::Ineligible);
    assert!(shared.view().waiting.is_empty());
    // Created with a 1 s lifetime (3 s TTL), then renewed on the new ack.
    let adds = addrs.adds.lock().unwrap().clone();
    assert_eq!(adds[0], (1, true), "{adds:?}");
    assert!(adds[1..].contains(&(1, false)), "renewed: {adds:?}");
    assert_eq!(wire.announced.load(Ordering::SeqCst), 6, "a burst of 3");
    h.remove_confirmed(&shared).await;
    assert!(!*addrs.present.lock().unwrap());
    assert!(!shared.view().leading);
}

#[tokio::test]
async fn no_claim_and_no_announcement_on_a_stale_lease() {
    let (addrs, wire, shared) = fakes();
    let (h, cues) = holder(&addrs, &wire);
    // The last acknowledgement is past the fence (e.g. after a pause).
    let (_tx, mut rx) = watch::channel(LeaseState::Acked(
        Instant::now() - Duration::from_millis(2300),
    ));
    let stop = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        LetGo::Ineligible
    };
    assert_eq!(h.hold(&mut rx, stop, &shared, cues).await, LetGo::Fenced);
    assert!(addrs.adds.lock().unwrap().is_empty());
    assert_eq!(wire.announced.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn without_acknowledgements_the_fence_comes() {
    let (addrs, wire, shared) = fakes();
    let (h, cues) = holder(&addrs, &wire);
    // Acknowledged 2.1 s ago: the fence (2.25 s) is 150 ms away.
    let (_tx, mut rx) = watch::channel(LeaseState::Acked(
        Instant::now() - Duration::from_millis(2100),
    ));
    let t = Instant::now();
    let why = h
        .hold(&mut rx, std::future::pending::<LetGo>(), &shared, cues)
        .await;
    assert_eq!(why, LetGo::Fenced);
    assert!(t.elapsed() < Duration::from_secs(1));
    // Too late for any safe kernel lifetime: never added.
    assert!(addrs.adds.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_lost_lease_ends_holding() {
    let (addrs, wire, shared) = fakes();
    let (h, cues) = holder(&addrs, &wire);
    let (tx, mut rx) = watch::channel(LeaseState::Acked(Instant::now()));
    let stop = async {
        while !shared.view().leading {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tx.send(LeaseState::Lost).unwrap();
        std::future::pending::<LetGo>().await
    };
    assert_eq!(h.hold(&mut rx, stop, &shared, cues).await, LetGo::LeaseLost);
}

#[tokio::test]
async fn a_removed_address_is_added_again_on_the_next_ack() {
    let (addrs, wire, shared) = fakes();
    let (h, cues) = holder(&addrs, &wire);
    let (tx, mut rx) = watch::channel(LeaseState::Acked(Instant::now()));
    let stop = async {
        while !shared.view().leading {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        *addrs.present.lock().unwrap() = false; // `ip addr del` by hand
        tx.send(LeaseState::Acked(Instant::now())).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        LetGo::Ineligible
    };
    h.hold(&mut rx, stop, &shared, cues).await;
    assert!(*addrs.present.lock().unwrap());
    let creates = addrs.adds.lock().unwrap().iter().filter(|a| a.1).count();
    assert_eq!(creates, 2);
}

#[test]
fn a_stalled_add_is_removed_again() {
    let (addrs, wire, _) = fakes();
    *addrs.add_takes.lock().unwrap() = Duration::from_millis(250);
    let (h, _cues) = holder(&addrs, &wire);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        // Acknowledged 600 ms ago: 1 s is still allowed when the clock is
        // read, but not once the kernel applies it 250 ms later.
        let v = Validity::from_ack(Instant::now() - Duration::from_millis(600), TTL);
        assert_eq!(h.put(&v).unwrap(), Put::Stalled);
        assert!(!*addrs.present.lock().unwrap());
        let fresh = Validity::from_ack(Instant::now(), TTL);
        assert_eq!(h.put(&fresh).unwrap(), Put::Created);
    });
}

#[tokio::test]
async fn removal_is_retried_until_confirmed() {
    let (addrs, wire, shared) = fakes();
    *addrs.present.lock().unwrap() = true;
    addrs.failing_removals.store(3, Ordering::SeqCst);
    holder(&addrs, &wire).0.remove_confirmed(&shared).await;
    assert_eq!(addrs.removals.load(Ordering::SeqCst), 4);
    assert!(!*addrs.present.lock().unwrap());
}

#[tokio::test]
async fn a_late_acknowledgement_gets_one_more_safe_renewal_and_no_more() {
    let (addrs, wire, shared) = fakes();
    let (h, cues) = holder(&addrs, &wire);
    let (_tx, mut rx) = watch::channel(LeaseState::Acked(Instant::now()));
    let stop = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        LetGo::Ineligible
    };
    h.hold(&mut rx, stop, &shared, cues).await;
    // Added at once; renewed 0.6 s later (1 s still ends 1.25 s before the
    // floor at 3 s); at 1.2 s no lifetime is short enough: none.
    let renewals: Vec<(u32, bool)> = addrs
        .adds
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|a| !a.1)
        .collect();
    assert_eq!(renewals, vec![(1, false)]);
}

#[tokio::test]
async fn a_removal_error_with_the_address_gone_is_done() {
    // E.g. the link was deleted: removing fails, but nothing is left.
    let (addrs, wire, shared) = fakes();
    addrs.failing_removals.store(1, Ordering::SeqCst);
    holder(&addrs, &wire).0.remove_confirmed(&shared).await;
    assert_eq!(addrs.removals.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_claim_while_the_link_cannot_be_kept_quiet() {
    let (addrs, wire, shared) = fakes();
    *addrs.silence_fails.lock().unwrap() = true;
    let (h, cues) = holder(&addrs, &wire);
    let (_tx, mut rx) = watch::channel(LeaseState::Acked(Instant::now()));
    let stop = async {
        while shared.view().waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        LetGo::Ineligible
    };
    assert_eq!(
        h.hold(&mut rx, stop, &shared, cues).await,
        LetGo::Ineligible
    );
    assert!(
        shared
            .view()
            .waiting
            .contains("cannot keep the kernel from answering"),
        "{}",
        shared.view().waiting
    );
    assert!(addrs.adds.lock().unwrap().is_empty(), "never added");
}

#[tokio::test]
async fn a_proof_that_finds_the_key_gone_ends_holding_before_any_announcement() {
    let (addrs, wire, shared) = fakes();
    let proof = Arc::new(FakeProof::default());
    *proof.answer.lock().unwrap() = Proof::Gone;
    let (h, cues) = holder_with(&addrs, &wire, &proof);
    let (_tx, mut rx) = watch::channel(LeaseState::Acked(Instant::now()));
    let why = h
        .hold(&mut rx, std::future::pending::<LetGo>(), &shared, cues)
        .await;
    assert_eq!(why, LetGo::Unproven);
    assert_eq!(wire.announced.load(Ordering::SeqCst), 0);
    assert!(
        addrs.silenced.load(Ordering::SeqCst) >= 1,
        "quiet before the add"
    );
}
