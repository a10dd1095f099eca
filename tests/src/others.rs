//! The other VIPs of a lab with several (`bench-failover --vips K`), each
//! watched from the LAN as the first is: ICMP for the client's gap, an ARP
//! request every `--arp-ms` for who answers. Ungrouped, each VIP has its
//! own election, so a fault moves only the VIPs the faulted node held;
//! what is measured is how long each of those was dark, when the last came
//! back, and whether any request, on any VIP, had two answers.

use crate::arpwatch::ArpWatch;
use crate::cluster::Cluster;
use crate::probe::{gap, Prober};
use crate::verdict::answered_by_two;
use crate::wait_for;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

struct Watch {
    ip: Ipv4Addr,
    probe: Prober,
    arp: ArpWatch,
}

pub struct Others {
    watches: Vec<Watch>,
    n: usize,
}

/// One other VIP in one trial.
#[derive(Debug, Clone)]
pub struct OtherVip {
    pub ip: Ipv4Addr,
    /// The faulted node answered for it before the fault.
    pub on_faulted: bool,
    /// Longest time between answered ICMP probes.
    pub gap: Duration,
    /// ARP requests two MACs answered.
    pub double: usize,
    /// From the fault until another node answered for it (VIPs the faulted
    /// node held).
    pub back_after: Option<Duration>,
    /// Who started and stopped answering for it, when.
    pub answering: Vec<crate::monitor::Change>,
}

impl Others {
    pub fn start(
        c: &Cluster,
        ips: &[Ipv4Addr],
        probe_every: Duration,
        arp_every: Duration,
    ) -> Others {
        let (lan, asker, macs) = (c.lan(), c.asker(), c.macs());
        let watches = ips
            .iter()
            .map(|ip| Watch {
                ip: *ip,
                probe: Prober::start(&lan, *ip, probe_every).expect("start prober"),
                arp: ArpWatch::start(&asker, *ip, macs.clone(), arp_every).expect("ARP watch"),
            })
            .collect();
        Others {
            watches,
            n: macs.len(),
        }
    }

    /// Starts the watches and waits until one node answers for each VIP;
    /// the watches and who answers for each.
    pub fn answered(
        c: &Cluster,
        ips: &[Ipv4Addr],
        probe_every: Duration,
        arp_every: Duration,
    ) -> (Others, Vec<usize>) {
        let o = Others::start(c, ips, probe_every, arp_every);
        let who = wait_for(
            "every other VIP answered by one node",
            Duration::from_secs(30),
            || o.holders(),
        );
        (o, who)
    }

    /// Who alone answers for each VIP now, if one node does for every VIP.
    pub fn holders(&self) -> Option<Vec<usize>> {
        self.watches
            .iter()
            .map(|w| w.arp.sole_holder(self.n))
            .collect()
    }

    /// Every VIP node `h` held (`before`) is answered by one other node.
    pub fn moved_off(&self, h: usize, before: &[usize]) -> bool {
        self.holders()
            .is_some_and(|now| now.iter().zip(before).all(|(n, b)| *b != h || *n != h))
    }

    /// Stops the watches; each VIP's figures for a fault on node `h` at `t0`.
    pub fn stop(self, h: usize, before: &[usize], t0: Instant) -> Vec<OtherVip> {
        self.watches
            .into_iter()
            .zip(before)
            .map(|(w, b)| {
                let (g, _) = gap(&w.probe.stop());
                let (rec, changes) = w.arp.stop();
                OtherVip {
                    ip: w.ip,
                    on_faulted: *b == h,
                    gap: g,
                    double: rec.rounds.iter().filter(|r| answered_by_two(r)).count(),
                    back_after: changes
                        .iter()
                        .find(|(at, i, holds)| *at >= t0 && *i != h && *holds)
                        .map(|(at, _, _)| at.duration_since(t0)),
                    answering: changes,
                }
            })
            .collect()
    }
}
