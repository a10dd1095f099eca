//! The speaker without the kernel or etcd: a scripted link and a scripted
//! proof. What is checked is the rule that keeps one voice for the VIP:
//! nothing is said without a proof asked for after the reason to say it.

use super::*;
use crate::kernel::ask::Asker;
use crate::vip::fakes::{FakeProof, FakeWire};
use crate::Waker;
use std::sync::atomic::Ordering;

const RIVAL: Mac = [2, 0, 0, 0, 0, 9];

fn asker(n: u8) -> Heard {
    Heard::Asked(Asker {
        mac: [2, 0, 0, 0, 1, n],
        ip: IpAddr::V4(std::net::Ipv4Addr::new(10, 5, 0, n)),
    })
}

struct Rig {
    wire: Arc<FakeWire>,
    proof: Arc<FakeProof>,
    shared: Arc<Shared>,
    _lease: watch::Sender<LeaseState>,
    cues: mpsc::Sender<Cue>,
}

/// A speaker on a fake link and proof, acknowledged `acked_ago` ago;
/// `queued` is heard before it starts.
fn rig(acked_ago: Duration, queued: &[Heard]) -> (Rig, Speaker, mpsc::Receiver<Cue>) {
    let wire = Arc::new(FakeWire::default());
    for h in queued {
        wire.deliver(*h);
    }
    let proof = Arc::new(FakeProof::default());
    let (lease_tx, lease_rx) = watch::channel(LeaseState::Acked(Instant::now() - acked_ago));
    let (cue_tx, cue_rx) = mpsc::channel(8);
    let speaker = Speaker {
        ip: "10.5.0.50".parse().unwrap(),
        wire: watch::channel(wire.clone() as Arc<dyn Wire>).1,
        confirm: Arc::new(proof.clone()),
        announce: Announce {
            count: 2,
            interval_ms: 20,
            refresh_ms: 0,
        },
        lease: lease_rx,
        ttl: Duration::from_secs(3),
        yields: false,
    };
    let rig = Rig {
        wire,
        proof,
        shared: Shared::new(Waker::default()),
        _lease: lease_tx,
        cues: cue_tx,
    };
    (rig, speaker, cue_rx)
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn requests_are_answered_with_proof_once_each_and_old_ones_never() {
    let (r, s, cues) = rig(Duration::ZERO, &[asker(1)]);
    let shared = r.shared.clone();
    let run = tokio::spawn(async move { s.run(cues, &shared, false).await });
    until("the claim burst", || {
        r.wire.announced.load(Ordering::SeqCst) == 4
    })
    .await;
    // Asked before the speaker started: may predate this node's win.
    assert!(r.wire.answers.lock().unwrap().is_empty());
    for h in [asker(2), asker(2), asker(3)] {
        r.wire.deliver(h);
    }
    until("two answers", || r.wire.answers.lock().unwrap().len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answered: Vec<u8> = r
        .wire
        .answers
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.mac[5])
        .collect();
    assert_eq!(answered, vec![2, 3], "one answer per asker");
    let asked = r.proof.asked.load(Ordering::SeqCst);
    assert!(
        (3..=4).contains(&asked),
        "a proof for each announcement and the requests: {asked}"
    );
    run.abort();
}

#[tokio::test]
async fn without_proof_nothing_is_said_and_announcements_are_tried_again() {
    let (r, s, cues) = rig(Duration::ZERO, &[]);
    *r.proof.answer.lock().unwrap() = Proof::NoAnswer;
    let shared = r.shared.clone();
    let run = tokio::spawn(async move { s.run(cues, &shared, false).await });
    r.wire.deliver(asker(4));
    until("proofs tried again", || {
        r.proof.asked.load(Ordering::SeqCst) >= 3
    })
    .await;
    assert!(r.wire.answers.lock().unwrap().is_empty());
    assert_eq!(
        r.wire.announced.load(Ordering::SeqCst),
        0,
        "no announcement"
    );
    // etcd answers again: the burst goes out, late but whole.
    *r.proof.answer.lock().unwrap() = Proof::Held;
    until("the burst", || r.wire.announced.load(Ordering::SeqCst) == 4).await;
    run.abort();
}

#[tokio::test]
async fn a_gone_key_silences_the_speaker_for_good() {
    let (r, s, cues) = rig(Duration::ZERO, &[]);
    *r.proof.answer.lock().unwrap() = Proof::Gone;
    let shared = r.shared.clone();
    let out = tokio::time::timeout(Duration::from_secs(5), s.run(cues, &shared, false)).await;
    assert_eq!(out.unwrap(), Silenced::Gone);
    assert_eq!(r.wire.announced.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_rival_is_defended_with_proof_and_wins_without() {
    let (r, s, cues) = rig(Duration::ZERO, &[]);
    let shared = r.shared.clone();
    let run = tokio::spawn(async move { s.run(cues, &shared, false).await });
    until("the claim burst", || {
        r.wire.announced.load(Ordering::SeqCst) == 4
    })
    .await;
    r.wire.deliver(Heard::Claimed(RIVAL));
    // A defence: three more announcements.
    until("the defence", || {
        r.wire.announced.load(Ordering::SeqCst) == 10
    })
    .await;
    assert_eq!(r.shared.view().rival.map(|x| x.0), Some(RIVAL));
    // The same rival again, with etcd silent: this node gives way.
    *r.proof.answer.lock().unwrap() = Proof::NoAnswer;
    r.wire.deliver(Heard::Claimed(RIVAL));
    let out = tokio::time::timeout(Duration::from_secs(5), run).await;
    assert_eq!(out.unwrap().unwrap(), Silenced::Contested(RIVAL));
}

#[tokio::test]
async fn a_flood_costs_one_proof_per_round_trip() {
    let (r, s, cues) = rig(Duration::ZERO, &[]);
    *r.proof.takes.lock().unwrap() = Duration::from_millis(20);
    let shared = r.shared.clone();
    let run = tokio::spawn(async move { s.run(cues, &shared, false).await });
    until("the claim burst", || {
        r.wire.announced.load(Ordering::SeqCst) == 4
    })
    .await;
    let before = r.proof.asked.load(Ordering::SeqCst);
    let t = Instant::now();
    // 2000 requests from 200 askers over ~200 ms.
    for i in 0..2000u32 {
        r.wire.deliver(asker((i % 200) as u8));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    until("every asker answered", || {
        let a = r.wire.answers.lock().unwrap();
        (0..200u8).all(|n| a.iter().any(|x| x.mac[5] == n))
    })
    .await;
    let proofs = r.proof.asked.load(Ordering::SeqCst) - before;
    let rounds = t.elapsed().as_millis() as u64 / 20 + 2;
    assert!(proofs <= rounds, "{proofs} proofs in {rounds} round trips");
    run.abort();
}

#[tokio::test]
async fn no_announcement_once_the_validity_ran_out() {
    // Acknowledged 2.3 s ago: past the fence (TTL 3 s).
    let (r, s, cues) = rig(Duration::from_millis(2300), &[]);
    let shared = r.shared.clone();
    let run = tokio::spawn(async move { s.run(cues, &shared, false).await });
    until("proofs for the burst", || {
        r.proof.asked.load(Ordering::SeqCst) >= 2
    })
    .await;
    assert_eq!(r.wire.announced.load(Ordering::SeqCst), 0);
    run.abort();
}

#[tokio::test]
async fn cues_bring_bursts_and_repairs() {
    let (r, s, cues) = rig(Duration::ZERO, &[]);
    let shared = r.shared.clone();
    let run = tokio::spawn(async move { s.run(cues, &shared, false).await });
    until("the claim burst", || {
        r.wire.announced.load(Ordering::SeqCst) == 4
    })
    .await;
    r.cues.send(Cue::Burst).await.unwrap();
    until("another burst", || {
        r.wire.announced.load(Ordering::SeqCst) == 8
    })
    .await;
    r.cues.send(Cue::Repair).await.unwrap();
    // A repair: a burst of two, then one at 0.5 s (the next at 2 s).
    until("the repair", || {
        r.wire.announced.load(Ordering::SeqCst) == 14
    })
    .await;
    assert!(
        r.wire.probes.load(Ordering::SeqCst) >= 1,
        "probing for rivals"
    );
    run.abort();
}

#[tokio::test]
async fn a_proof_the_holder_brought_covers_the_first_announcement_only() {
    let (r, s, cues) = rig(Duration::ZERO, &[]);
    let shared = r.shared.clone();
    let run = tokio::spawn(async move { s.run(cues, &shared, true).await });
    until("the claim burst", || {
        r.wire.announced.load(Ordering::SeqCst) == 4
    })
    .await;
    assert_eq!(
        r.proof.asked.load(Ordering::SeqCst),
        1,
        "the second announcement asks"
    );
    run.abort();
}

#[tokio::test]
async fn a_pinned_speaker_yields_to_a_claim_heard_while_its_proof_was_out() {
    let (r, mut s, cues) = rig(Duration::ZERO, &[]);
    s.yields = true;
    let shared = r.shared.clone();
    let run = tokio::spawn(async move { s.run(cues, &shared, false).await });
    until("the claim burst", || {
        r.wire.announced.load(Ordering::SeqCst) == 4
    })
    .await;
    *r.proof.takes.lock().unwrap() = Duration::from_millis(100);
    let asked = r.proof.asked.load(Ordering::SeqCst);
    r.wire.deliver(asker(5));
    until("the proof asked", || {
        r.proof.asked.load(Ordering::SeqCst) > asked
    })
    .await;
    // An elected holder's announcement arrives before the proof comes back.
    r.wire.deliver(Heard::Claimed(RIVAL));
    let out = tokio::time::timeout(Duration::from_secs(5), run).await;
    assert_eq!(out.unwrap().unwrap(), Silenced::Contested(RIVAL));
    assert!(
        r.wire.answers.lock().unwrap().is_empty(),
        "answered beside the rival"
    );
}
