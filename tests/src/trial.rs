//! One failover trial on a local cluster: probe the VIP from the LAN,
//! watch who holds it, inject a fault into the holder (or the others), wait
//! for the VIP to come back, measure, and put the cluster right again.

use crate::cluster::Cluster;
use crate::faults::VIP;
use crate::monitor::longest_double;
use crate::probe::{gap, Prober};
use crate::wait_for;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// SIGTERM to the holder's machined.
    Graceful,
    /// The holder's machined and etcd SIGKILLed and its link set down.
    Dead,
    /// As `Dead`, with etcd leadership moved to the holder just before (it
    /// moves it away by itself otherwise): the takeover also waits for an
    /// etcd leader election.
    DeadEtcdLeader,
    /// The holder cut off from etcd (peer and client ports), not from clients.
    Cutoff,
    /// The two other control planes stopped, then started again.
    Quorum,
    /// machined alone SIGKILLed on the holder (kernel, link, etcd up);
    /// nothing removed by hand, machined restarted afterwards.
    Crash,
    /// machined SIGSTOPped on the holder for 5 s, then SIGCONTed.
    Pause,
    /// The holder's etcd member SIGKILLed (machined alive).
    EtcdDown,
    /// One candidate stops hearing the holder (bridge rule): no failover.
    DeafCandidate,
    /// The service behind the VIP (the lab's stand-in) killed on the
    /// holder; needs `--stand-in` and a health check (see
    /// `service::check_patch`).
    Unhealthy,
    /// `mctl vip forfeit` on the holder (a planned move), ended afterwards.
    Forfeit,
    /// VMs only: the holder's whole machine frozen for 5 s on qemu's
    /// monitor (`stop`, then `cont`), its clock with it, as a hypervisor
    /// stuns a guest.
    Freeze,
}

const ALL: [Scenario; 12] = [
    Scenario::Graceful,
    Scenario::Dead,
    Scenario::DeadEtcdLeader,
    Scenario::Cutoff,
    Scenario::Quorum,
    Scenario::Crash,
    Scenario::Pause,
    Scenario::EtcdDown,
    Scenario::DeafCandidate,
    Scenario::Unhealthy,
    Scenario::Forfeit,
    Scenario::Freeze,
];

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Graceful => "graceful",
            Scenario::Dead => "dead",
            Scenario::DeadEtcdLeader => "dead-etcd-leader",
            Scenario::Cutoff => "cutoff",
            Scenario::Quorum => "quorum",
            Scenario::Crash => "crash",
            Scenario::Pause => "pause",
            Scenario::EtcdDown => "etcd-down",
            Scenario::DeafCandidate => "deaf-candidate",
            Scenario::Unhealthy => "unhealthy",
            Scenario::Forfeit => "forfeit",
            Scenario::Freeze => "freeze",
        }
    }

    pub fn all() -> [Scenario; 12] {
        ALL
    }

    /// Whether the VIP is meant to move to another node.
    pub fn moves(self) -> bool {
        !matches!(self, Scenario::Quorum | Scenario::DeafCandidate)
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL.into_iter().find(|x| x.name() == s)
    }

    /// Whether it runs on virtual machines (`--provisioner qemu`), where
    /// the faults are the machine's: `graceful` is `mctl shutdown`, `dead`
    /// kill -9 of qemu.
    pub fn on_vms(self) -> bool {
        matches!(
            self,
            Scenario::Graceful | Scenario::Dead | Scenario::Forfeit | Scenario::Freeze
        )
    }

    /// Whether it runs on the netns lab.
    pub fn on_netns(self) -> bool {
        self != Scenario::Freeze
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: Scenario,
    pub old_holder: usize,
    pub new_holder: Option<usize>,
    /// Client-visible gap (longest time between answered probes).
    pub gap: Duration,
    pub lost: usize,
    /// Longest time two nodes held the VIP at once.
    pub double: Duration,
    pub holder_was_etcd_leader: bool,
    /// Quorum: VIP gone after the fault, and back after the restart.
    pub released_after: Option<Duration>,
    pub back_after: Option<Duration>,
    /// From the fault until another node had the address (netlink).
    pub moved_after: Option<Duration>,
}

fn vip() -> Ipv4Addr {
    VIP.parse().expect("literal")
}

pub fn run(c: &mut Cluster, s: Scenario, probe_every: Duration) -> Outcome {
    let vm = c.is_vm();
    assert!(
        if vm { s.on_vms() } else { s.on_netns() },
        "{} does not run on this provisioner",
        s.name()
    );
    let h = c.wait_healthy();
    let cps = c.cps();
    let n = cps.len();
    let other = (h + 1) % n;
    let leader = c.etcd_leader(&cps[other].2);
    let holder_was_etcd_leader = leader.ends_with(&format!("-{}", cps[h].0));
    let mon = c.watch(Duration::from_millis(10));
    let probe = Prober::start(&c.lan(), vip(), probe_every).expect("start prober");
    let start = Instant::now();
    wait_for(
        "the VIP to answer before the fault",
        Duration::from_secs(10),
        || {
            (probe.answered_after(start) && mon.holders(n).iter().filter(|x| **x).count() == 1)
                .then_some(())
        },
    );

    let mut holder_was_etcd_leader = holder_was_etcd_leader;
    if s == Scenario::DeadEtcdLeader {
        holder_was_etcd_leader = c.make_etcd_leader(h);
    }
    let t0 = Instant::now();
    let (mut released_after, mut back_after) = (None, None);
    match s {
        Scenario::Graceful if vm => c.shutdown_vm(h),
        Scenario::Graceful => c.stop_node(h),
        Scenario::Dead if vm => c.kill_vm(h),
        Scenario::Dead | Scenario::DeadEtcdLeader => c.kill_node(h),
        Scenario::Freeze => c.freeze_vm(h, true),
        Scenario::Cutoff => c.cut_off(h),
        Scenario::Crash => c.crash_machined(h),
        Scenario::Pause => c.freeze_machined(h, true),
        Scenario::EtcdDown => c.kill_etcd(h),
        Scenario::Unhealthy => c.stop_service(h),
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
        Scenario::Quorum => {
            for i in (0..n).filter(|i| *i != h) {
                c.stop_node(i);
            }
            wait_for(
                "the VIP to be released without quorum",
                Duration::from_secs(30),
                || (!mon.holders(n).iter().any(|x| *x)).then_some(()),
            );
            released_after = Some(t0.elapsed());
            let t1 = Instant::now();
            for i in (0..n).filter(|i| *i != h) {
                c.start_node(i);
            }
            wait_for(
                "the VIP back after quorum returns",
                Duration::from_secs(60),
                || probe.answered_after(t1).then_some(()),
            );
            back_after = Some(t1.elapsed());
        }
    }
    if s.moves() {
        wait_for("the VIP on another node", Duration::from_secs(60), || {
            let holders = mon.holders(n);
            let moved = holders.iter().filter(|x| **x).count() == 1 && !holders[h];
            (moved && probe.answered_after(t0 + Duration::from_millis(20))).then_some(())
        });
    }
    if matches!(s, Scenario::Pause | Scenario::Freeze) {
        // Frozen for 5 s, then woken: watch what it does when it wakes,
        // until it says it does not hold the VIP.
        wait_for("the 5 s pause", Duration::from_secs(10), || {
            (t0.elapsed() >= Duration::from_secs(5)).then_some(())
        });
        if s == Scenario::Freeze {
            c.freeze_vm(h, false);
        } else {
            c.freeze_machined(h, false);
        }
        let woke = Instant::now();
        wait_for("the woken node to let go", Duration::from_secs(30), || {
            let st = c.vip_status(&cps[h].2)?;
            (st["holding"] == false && woke.elapsed() > Duration::from_secs(1)).then_some(())
        });
    }
    // A little more traffic after the move, so the gap is closed on both sides.
    let settle = Instant::now();
    wait_for("probes after the move", Duration::from_secs(10), || {
        (settle.elapsed() > Duration::from_millis(200) && probe.answered_after(settle))
            .then_some(())
    });
    let probes = probe.stop();
    let holders = mon.holders(n);
    let changes = mon.stop();
    let (gap, lost) = gap(&probes);
    let out = Outcome {
        scenario: s,
        old_holder: h,
        new_holder: holders.iter().position(|x| *x),
        gap,
        lost,
        double: longest_double(&changes, n),
        holder_was_etcd_leader,
        released_after,
        back_after,
        moved_after: changes
            .iter()
            .find(|(at, i, holds)| *at >= t0 && *i != h && *holds)
            .map(|(at, _, _)| at.duration_since(t0)),
    };
    // Nothing is removed by hand: whatever the old holder left is a finding
    // the monitor has seen already.
    match s {
        Scenario::Graceful | Scenario::Dead if vm => c.boot_vm(h),
        Scenario::Graceful | Scenario::Dead | Scenario::DeadEtcdLeader | Scenario::Crash => {
            c.start_node(h)
        }
        Scenario::Cutoff => c.reconnect(h),
        Scenario::Unhealthy => c.start_service(h),
        Scenario::Forfeit => {
            let r = c.forfeit(h, VIP, 0);
            assert!(r.ok, "ending the forfeit: {}{}", r.stdout, r.stderr);
        }
        Scenario::Quorum
        | Scenario::Pause
        | Scenario::Freeze
        | Scenario::EtcdDown
        | Scenario::DeafCandidate => {}
    }
    c.wait_healthy();
    out
}
