//! No node answers for the VIP without fresh proof from etcd, judged from
//! a client namespace: an ARP request every 10 ms, and for each request
//! every MAC that answered it, checked against the holder etcd names. One
//! cluster, one fault after another:
//!
//! - the holder's bridge port stops forwarding (its carrier up) for 1 s,
//!   shorter than the lease TTL, and for 5 s, longer: the others take over,
//!   and when the LAN heals the old holder, its address maybe still in its
//!   kernel, answers nothing and lets go;
//! - nobody hears the holder for 3 s while it hears everyone;
//! - the holder's etcd member hangs (SIGSTOP) for 5 s;
//! - an ARP flood: the holder keeps the VIP, answers, and asks etcd far
//!   fewer times than it is asked.
//!
//! Never a request answered by two MACs, never an answer or gratuitous ARP
//! from a node that was not the holder, whatever machined believed.
//!
//! Last, a VIP runner that dies (a panic injected right after it wins) is
//! started again by the runner set, and the VIP ends with one holder.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::trial::{self, Moves, Scenario};
use machined_tests::verdict::judge;
use machined_tests::{require_root, scrape, wait_for};
use std::time::Duration;

#[test]
fn no_answer_without_proof_through_partitions_a_mute_holder_a_hung_member_and_a_flood() {
    if !require_root("vip proof") {
        return;
    }
    let _serial = serial();
    let mut c = Cluster::create("p", &["--controlplanes", "3"]);
    let cps = c.cps();
    for s in [
        Scenario::PartitionHeal,
        Scenario::PartitionHealLong,
        Scenario::Mute,
        Scenario::EtcdHung,
        Scenario::ArpFlood,
    ] {
        let r = trial::run(&mut c, s, Duration::from_millis(10));
        let label = format!(
            "{} (old holder {}, now {:?})",
            s.name(),
            cps[r.old_holder].0,
            r.new_holder
        );
        eprintln!(
            "{label}: gap {:?}, {} requests, {} answered, two MACs {}, kernels {:?}",
            r.gap, r.verdict.requests, r.verdict.answered, r.verdict.double, r.kernel_overlap
        );
        r.assert_one_voice(&label, || c.logs());
        let new = r
            .new_holder
            .unwrap_or_else(|| panic!("{label}: nobody answers for the VIP\n{}", c.logs()));
        match s.moves() {
            Moves::Yes => assert_ne!(new, r.old_holder, "{label}: the VIP did not move"),
            Moves::No => assert_eq!(new, r.old_holder, "{label}: the VIP moved"),
            Moves::Maybe => {}
        }
        if let Some(f) = r.flood {
            eprintln!("{label}: {f:?}");
            // Batching: one proof covers every request heard before it.
            assert!(f.sent > 10_000, "{label}: the flood sent only {}", f.sent);
            assert!(
                f.proofs > 0.0 && f.proofs * 4.0 < f.answered,
                "{label}: {} proofs for {} answers",
                f.proofs,
                f.answered
            );
            // The client's own requests were still answered.
            let share = r.verdict.answered as f64 / r.verdict.requests as f64;
            assert!(
                share > 0.9,
                "{label}: only {share:.2} of the client's requests answered"
            );
        }
    }
    a_dead_runner_is_started_again(&c);
}

/// One candidate restarted with a panic armed in its VIP runner; the VIP
/// moved to it: it wins, its runner panics before adding the address, is
/// started again, and wins again (the move request stands) and holds.
fn a_dead_runner_is_started_again(c: &Cluster) {
    let cps = c.cps();
    let h = c.wait_healthy();
    let i = (h + 1) % cps.len();
    c.stop_node(i);
    c.start_node_env(i, &[("MACHINED_FAULTS", "vip-runner-panic")]);
    c.wait_healthy();
    let out = c.outside(Duration::from_millis(10));
    let r = c.mctl(&["-n", &cps[h].2, "vip", "move", VIP, "--to", &cps[i].2]);
    eprintln!("move: {}{}", r.stdout, r.stderr);
    wait_for(
        "the restarted runner to hold the VIP",
        Duration::from_secs(60),
        || (out.one_answering_other_than(None) == Some(i)).then_some(()),
    );
    let seen = out.stop();
    let v = judge(&seen.record, &seen.leaders);
    assert_eq!(
        (v.double, v.stale_replies, v.stale_garps),
        (0, 0, 0),
        "{:?}\n{}",
        v.stale_examples,
        c.logs()
    );
    let (_, _, body) =
        scrape::get(&c.lan(), &format!("{}:2112", cps[i].2), "/metrics").expect("scrape");
    let m = scrape::parse(&body).expect("metrics");
    let restarts = scrape::value(
        &m,
        "machined_runner_restarts_total",
        Some(("runner", "vip")),
    );
    assert!(restarts >= Some(1.0), "no restart counted: {restarts:?}");
    let events = c.events(&cps[i].2);
    assert!(
        events.iter().any(|e| e["kind"] == "runner-restarted"),
        "no runner-restarted event"
    );
}
