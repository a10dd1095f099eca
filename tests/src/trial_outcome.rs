//! What one failover trial found ([`Outcome`]), and the client's verdict
//! every failover test asserts: one voice for every VIP watched.

use crate::others::OtherVip;
use crate::scenario::Scenario;
use crate::trial_quorum::QuorumTimes;
use crate::verdict::Verdict;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: Scenario,
    pub old_holder: usize,
    /// Who answers for the VIP at the end (the client's view).
    pub new_holder: Option<usize>,
    /// Client-visible gap (longest time between answered ICMP probes).
    pub gap: Duration,
    pub lost: usize,
    /// The ARP watch judged against etcd: double answers, stale answers
    /// and announcements, answer latencies.
    pub verdict: Verdict,
    /// Longest time two kernels had the VIP at once (netns lab only).
    pub kernel_overlap: Duration,
    pub holder_was_etcd_leader: bool,
    /// Quorum: the VIP gone, pinned, the pin's end and the VIP back.
    pub quorum: Option<QuorumTimes>,
    /// From the fault until another node answered for the VIP.
    pub moved_after: Option<Duration>,
    pub flood: Option<Flood>,
    /// The lab's other VIPs (`bench-failover --vips`).
    pub others: Vec<OtherVip>,
    /// Who started and stopped answering for the VIP, when.
    pub answering: Vec<crate::monitor::Change>,
    /// The longest any VIP group of the lab was answered for by two nodes
    /// (none: no groups measured).
    pub group_split: Option<Duration>,
}

/// What an ARP flood cost the holder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flood {
    pub sent: u64,
    pub secs: f64,
    /// Proofs the holder asked of etcd during the flood.
    pub proofs: f64,
    pub answered: f64,
}

/// Longest a silent old holder's kernel may keep the VIP beside the new
/// holder: the lease TTL (3 s; its lifetime ends before the lease) and the
/// kernel's lifetime check granularity.
pub const KERNEL_OVERLAP_BOUND: Duration = Duration::from_millis(4250);

impl Outcome {
    /// How long the VIPs `ips` (the trial's first VIP among them, or other
    /// VIPs watched) were answered by two nodes at once: a group split.
    pub fn split(&self, ips: &[std::net::Ipv4Addr]) -> Duration {
        let first: std::net::Ipv4Addr = crate::faults::VIP
            .parse()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        let members: Vec<&[crate::monitor::Change]> = ips
            .iter()
            .filter_map(|ip| {
                if *ip == first {
                    return Some(self.answering.as_slice());
                }
                self.others
                    .iter()
                    .find(|o| o.ip == *ip)
                    .map(|o| o.answering.as_slice())
            })
            .collect();
        crate::group_split::split(&members)
    }

    /// The client's verdict: no request (for any VIP watched) answered by
    /// two MACs, no answer and
    /// no gratuitous ARP from a node etcd did not name as the holder, some
    /// requests answered at all; and in the kernels, no second copy of the
    /// VIP unless the fault left the old holder unable to remove it (then
    /// one its lifetime ends within the bound).
    pub fn assert_one_voice(&self, label: &str, logs: impl Fn() -> String) {
        let v = &self.verdict;
        assert!(
            v.answered > 0,
            "{label}: no ARP request was answered at all\n{}",
            logs()
        );
        assert_eq!(
            v.double,
            0,
            "{label}: {} ARP requests answered by two MACs\n{}",
            v.double,
            logs()
        );
        for o in &self.others {
            assert_eq!(
                o.double,
                0,
                "{label}: {} ARP requests for {} answered by two MACs\n{}",
                o.double,
                o.ip,
                logs()
            );
        }
        assert_eq!(
            (v.stale_replies, v.stale_garps),
            (0, 0),
            "{label}: answers / gratuitous ARPs from a node etcd did not name as the holder: {:?}\n{}",
            v.stale_examples,
            logs()
        );
        let bound = if self.scenario.leaves_an_address() {
            KERNEL_OVERLAP_BOUND
        } else {
            Duration::ZERO
        };
        assert!(
            self.kernel_overlap <= bound,
            "{label}: two kernels had the VIP for {:?} (bound {bound:?})\n{}",
            self.kernel_overlap,
            logs()
        );
    }
}
