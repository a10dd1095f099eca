//! Everything a trial watches from outside the nodes, started and judged
//! together: the client's ARP watch from the LAN (who answers each request:
//! the verdict on double ownership), etcd's view of the election (who the
//! holder is: the verdict on stale answers and announcements), and, in the
//! netns lab, netlink in every node's namespace (whose kernel has the VIP).
//! A VM's netlink is inside it, so for VMs the kernels' view is missing.

use crate::arpwatch::{self, ArpWatch, Asker, Mac, Record};
use crate::cluster::Cluster;
use crate::election::{Election, Leaders};
use crate::faults::VIP;
use crate::monitor::{longest_double, Change, Monitor};
use crate::netns::ip;
use crate::verdict::{judge_pinned, PinWindow, Verdict};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

pub struct Outside {
    pub arp: ArpWatch,
    pub kernels: Option<Monitor>,
    election: Election,
    n: usize,
}

/// What was seen, judged.
pub struct Seen {
    pub record: Record,
    pub verdict: Verdict,
    /// Who answered when (per node, from the ARP watch).
    pub answering: Vec<Change>,
    /// Whose kernel had the VIP when (netns lab only).
    pub kernels: Vec<Change>,
    pub leaders: Leaders,
    /// Longest time two kernels had the VIP at once (netns lab only).
    pub kernel_overlap: Duration,
}

/// The MAC of `link` in namespace `ns`.
pub fn link_mac(ns: &str, link: &str) -> Mac {
    let v: serde_json::Value =
        serde_json::from_str(&ip(&["-n", ns, "-j", "link", "show", link])).expect("ip -j link");
    arpwatch::mac(v[0]["address"].as_str().unwrap_or_default()).expect("a MAC")
}

/// A MAC as the lab gives it to the node at `ip` (02:00 and the address).
pub fn lab_mac(ip: Ipv4Addr) -> Mac {
    let o = ip.octets();
    [2, 0, o[0], o[1], o[2], o[3]]
}

impl Cluster {
    /// The LAN's bridge, as the client that asks.
    pub fn asker(&self) -> Asker {
        let lan = self.lan();
        Asker {
            mac: link_mac(&lan, "br0"),
            netns: lan,
            link: "br0".into(),
        }
    }

    /// Every control plane's MAC on the lab's LAN.
    pub fn macs(&self) -> Vec<Mac> {
        self.cps()
            .iter()
            .map(|c| lab_mac(c.2.parse().expect("node address")))
            .collect()
    }

    /// The nodes whose kernel has `addr` (on any link: a VIP is on `lo`).
    pub fn kernel_holders(&self, addr: &str) -> Vec<String> {
        self.cps()
            .into_iter()
            .filter(|(_, ns, _)| ip(&["-n", ns, "addr", "show"]).contains(&format!(" {addr}/")))
            .map(|(short, _, _)| short)
            .collect()
    }

    /// Starts watching the VIP `VIP` from outside: an ARP request every
    /// `every`, etcd's election, and (netns) every node's kernel.
    pub fn outside(&self, every: Duration) -> Outside {
        let cps = self.cps();
        let vip: Ipv4Addr = VIP.parse().expect("literal");
        let election = self.election(VIP);
        let kernels = (!self.is_vm()).then(|| {
            let namespaces: Vec<String> = cps.iter().map(|c| c.1.clone()).collect();
            Monitor::start(&namespaces, "eth0", IpAddr::V4(vip))
        });
        let arp = ArpWatch::start(&self.asker(), vip, self.macs(), every).expect("ARP watch");
        Outside {
            arp,
            kernels,
            election,
            n: cps.len(),
        }
    }
}

impl Outside {
    /// Who answers for the VIP now, per node.
    pub fn answering(&self) -> Vec<bool> {
        self.arp.holders(self.n)
    }

    /// Whose kernel has the VIP now (netns lab; for VMs, who answers).
    pub fn kernels(&self) -> Vec<bool> {
        match &self.kernels {
            Some(k) => k.holders(self.n),
            None => self.answering(),
        }
    }

    /// Who alone answered the last answered ARP request.
    pub fn last_answering(&self) -> Option<usize> {
        self.arp.last_answering()
    }

    /// Exactly one node answers, and it is not `not`.
    pub fn one_answering_other_than(&self, not: Option<usize>) -> Option<usize> {
        self.arp.sole_holder(self.n).filter(|i| Some(*i) != not)
    }

    pub fn stop(self) -> Seen {
        self.stop_pinned(None)
    }

    /// [`Outside::stop`], judging a pin's frames as its own.
    pub fn stop_pinned(self, pin: Option<PinWindow>) -> Seen {
        let leaders = self.election.stop();
        let (record, answering) = self.arp.stop();
        let kernels = self.kernels.map(|k| k.stop()).unwrap_or_default();
        Seen {
            verdict: judge_pinned(&record, &leaders, pin),
            kernel_overlap: longest_double(&kernels, self.n),
            record,
            answering,
            kernels,
            leaders,
        }
    }
}
