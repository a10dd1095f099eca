//! One failover trial on a local cluster: probe the VIP from the LAN (ICMP
//! for the client's gap, ARP for who answers each request), follow etcd's
//! election and (netns) every node's kernel, inject a fault into the holder
//! (or the others), wait for the VIP to come back, judge, and put the
//! cluster right again. Nothing is removed by hand: whatever the old holder
//! leaves behind is a finding the watches have seen already.

use crate::cluster::Cluster;
use crate::faults::VIP;
use crate::others::Others;
use crate::outside::Outside;
use crate::probe::{gap, Prober};
pub use crate::scenario::{Moves, Scenario};
pub use crate::trial_outcome::{Flood, Outcome, KERNEL_OVERLAP_BOUND};
use crate::trial_quorum::QuorumTimes;
use crate::wait_for;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

fn vip() -> Ipv4Addr {
    VIP.parse().expect("literal")
}

/// One trial: ICMP every `probe_every`, an ARP request every 10 ms.
pub fn run(c: &mut Cluster, s: Scenario, probe_every: Duration) -> Outcome {
    run_with(c, s, probe_every, Duration::from_millis(10), &[])
}

/// One trial: ICMP every `probe_every`, an ARP request every `arp_every`,
/// to the VIP and to each of `others`.
pub fn run_with(
    c: &mut Cluster,
    s: Scenario,
    probe_every: Duration,
    arp_every: Duration,
    others: &[Ipv4Addr],
) -> Outcome {
    let vm = c.is_vm();
    assert!(
        if vm { s.on_vms() } else { s.on_netns() },
        "{} does not run on this provisioner",
        s.name()
    );
    let h = c.wait_healthy();
    let cps = c.cps();
    let other = (h + 1) % cps.len();
    let leader = c.etcd_leader(&cps[other].2);
    let mut holder_was_etcd_leader = leader.ends_with(&format!("-{}", cps[h].0));
    let out = c.outside(arp_every);
    let probe = Prober::start(&c.lan(), vip(), probe_every).expect("start prober");
    let start = Instant::now();
    wait_for(
        "the VIP to answer before the fault",
        Duration::from_secs(10),
        || {
            (probe.answered_after(start) && out.one_answering_other_than(None) == Some(h))
                .then_some(())
        },
    );
    let (more, before) = Others::answered(c, others, probe_every, arp_every);
    if s == Scenario::DeadEtcdLeader {
        holder_was_etcd_leader = c.make_etcd_leader(h);
    }
    let t0 = Instant::now();
    let (quorum, flood) = inject(c, s, h, other, &out, &probe);
    match s.moves() {
        Moves::Yes => wait_for(
            "another node answering for the VIP",
            Duration::from_secs(60),
            || {
                (out.one_answering_other_than(Some(h)).is_some()
                    && probe.answered_after(t0 + Duration::from_millis(20))
                    && more.moved_off(h, &before))
                .then_some(())
            },
        ),
        Moves::No | Moves::Maybe => {}
    }
    if let Some(after) = s.comes_back_after() {
        wait_for("the fault's time", after + Duration::from_secs(5), || {
            (t0.elapsed() >= after).then_some(())
        });
        undo(c, s, h);
        let woke = Instant::now();
        wait_for("the old holder to let go", Duration::from_secs(30), || {
            let st = c.vip_status(&cps[h].2)?;
            (st["holding"] == false && woke.elapsed() > Duration::from_secs(1)).then_some(())
        });
    }
    // A little more traffic after the move, so the gap is closed on both
    // sides, and a late answer from the old holder has time to show.
    let settle = Instant::now();
    wait_for("probes after the move", Duration::from_secs(10), || {
        (settle.elapsed() > Duration::from_millis(300) && probe.answered_after(settle))
            .then_some(())
    });
    let probes = probe.stop();
    let others = more.stop(h, &before, t0);
    let new_holder = out.last_answering();
    let seen = out.stop_pinned(quorum.map(|q| q.window));
    let (gap, lost) = gap(&probes);
    let moved_after = seen
        .answering
        .iter()
        .find(|(at, i, holds)| *at >= t0 && *i != h && *holds)
        .map(|(at, _, _)| at.duration_since(t0));
    let answering = seen.answering;
    restore(c, s, h);
    c.wait_healthy();
    Outcome {
        scenario: s,
        old_holder: h,
        new_holder,
        gap,
        lost,
        verdict: seen.verdict,
        kernel_overlap: seen.kernel_overlap,
        holder_was_etcd_leader,
        quorum,
        moved_after,
        flood,
        others,
        answering,
        group_split: None,
    }
}

type Injected = (Option<QuorumTimes>, Option<Flood>);

/// Injects the fault; for the faults that last a while (quorum, a deaf
/// candidate, a flood) waits them out and returns what they measured.
fn inject(
    c: &mut Cluster,
    s: Scenario,
    h: usize,
    other: usize,
    out: &Outside,
    probe: &Prober,
) -> Injected {
    let vm = c.is_vm();
    let t0 = Instant::now();
    match s {
        Scenario::Graceful if vm => c.shutdown_vm(h),
        Scenario::Graceful => c.stop_node(h),
        Scenario::Dead if vm => c.kill_vm(h),
        Scenario::Dead | Scenario::DeadEtcdLeader => c.kill_node(h),
        Scenario::Freeze => c.freeze_vm(h, true),
        Scenario::Migrate => c.migrate_vm(h),
        Scenario::Cutoff => c.cut_off(h),
        Scenario::Crash => c.crash_machined(h),
        Scenario::Pause => c.freeze_machined(h, true),
        Scenario::EtcdDown => c.kill_etcd(h),
        Scenario::EtcdHung => c.hang_etcd(h, true),
        Scenario::Unhealthy => c.stop_service(h),
        Scenario::PartitionHeal | Scenario::PartitionHealLong => c.isolate(h, true),
        Scenario::Mute => c.mute(h, true),
        Scenario::Forfeit => {
            let r = c.forfeit(h, VIP, 60);
            assert!(r.ok, "vip forfeit: {}{}", r.stdout, r.stderr);
        }
        Scenario::DeafCandidate => {
            c.deafen(other, h, true);
            // Long enough for the deaf candidate to decide the holder is
            // dead many times over; the VIP must stay where it is.
            wait_for("the deaf period", Duration::from_secs(10), || {
                (t0.elapsed() > Duration::from_secs(3)).then_some(())
            });
            c.deafen(other, h, false);
        }
        Scenario::ArpFlood => return (None, Some(flood(c, h))),
        Scenario::Quorum => {
            return (Some(crate::trial_quorum::run(c, h, out, probe)), None);
        }
    }
    (None, None)
}

/// Ends a fault the old holder comes back from.
fn undo(c: &Cluster, s: Scenario, h: usize) {
    match s {
        Scenario::Freeze => c.freeze_vm(h, false),
        Scenario::Pause => c.freeze_machined(h, false),
        Scenario::PartitionHeal | Scenario::PartitionHealLong => c.isolate(h, false),
        Scenario::Mute => c.mute(h, false),
        _ => {}
    }
}

/// Puts the cluster right after a trial.
fn restore(c: &mut Cluster, s: Scenario, h: usize) {
    let vm = c.is_vm();
    match s {
        Scenario::Graceful | Scenario::Dead if vm => c.boot_vm(h),
        Scenario::Graceful | Scenario::Dead | Scenario::DeadEtcdLeader | Scenario::Crash => {
            c.start_node(h)
        }
        Scenario::Cutoff => c.reconnect(h),
        Scenario::Unhealthy => c.start_service(h),
        Scenario::EtcdHung => c.hang_etcd(h, false),
        Scenario::Forfeit => {
            let r = c.forfeit(h, VIP, 0);
            assert!(r.ok, "ending the forfeit: {}{}", r.stdout, r.stderr);
        }
        _ => {}
    }
}

/// Floods the holder `h` with ARP requests for 3 s and reads what it cost
/// from its `/metrics`.
fn flood(c: &Cluster, h: usize) -> Flood {
    let ip = c.cps()[h].2.clone();
    let counters = || {
        let (_, _, body) =
            crate::scrape::get(&c.lan(), &format!("{ip}:2112"), "/metrics").expect("scrape");
        let m = crate::scrape::parse(&body).expect("metrics parse");
        let sum = |name: &str| m.get(name).map_or(0.0, |v| v.iter().map(|(_, x)| x).sum());
        (
            sum("machined_vip_proofs_total"),
            sum("machined_vip_requests_answered_total"),
        )
    };
    let before = counters();
    let t = Instant::now();
    let sent = c.flood(vip(), 500, 20_000, Duration::from_secs(3));
    let secs = t.elapsed().as_secs_f64();
    let after = counters();
    Flood {
        sent,
        secs,
        proofs: after.0 - before.0,
        answered: after.1 - before.1,
    }
}
