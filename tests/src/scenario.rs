//! The faults a failover trial injects, and what each is expected to do.

use std::time::Duration;

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
    /// The two other control planes' etcd members hung (SIGSTOP, their
    /// machined alive), the VIP pinned on the holder with `mctl vip pin
    /// --force` once it went quiet, then the members resumed: the pin ends
    /// and the election takes over (`trial_quorum.rs`).
    Quorum,
    /// machined alone SIGKILLed on the holder (kernel, link, etcd up);
    /// nothing removed by hand, machined restarted afterwards.
    Crash,
    /// machined SIGSTOPped on the holder for 5 s, then SIGCONTed.
    Pause,
    /// The holder's etcd member SIGKILLed (machined alive).
    EtcdDown,
    /// The holder's etcd member SIGSTOPped for 5 s (hung, connections open).
    EtcdHung,
    /// One candidate stops hearing the holder (bridge rule): no failover.
    DeafCandidate,
    /// The service behind the VIP (the lab's stand-in) killed on the
    /// holder; needs `--stand-in` and a health check (see
    /// `service::check_patch`).
    Unhealthy,
    /// `mctl vip forfeit` on the holder (a planned move), ended afterwards.
    Forfeit,
    /// The holder's bridge port forwards nothing for 1 s (carrier up),
    /// shorter than the lease TTL, then heals.
    PartitionHeal,
    /// The same for 5 s, longer than the lease TTL.
    PartitionHealLong,
    /// Nobody hears the holder for 3 s (it hears everyone), then heals.
    Mute,
    /// 3 s of ARP requests for the VIP from 500 askers at up to 20000/s.
    ArpFlood,
    /// VMs only: the holder's whole machine frozen for 5 s on qemu's
    /// monitor (`stop`, then `cont`), its clock with it, as a hypervisor
    /// stuns a guest.
    Freeze,
    /// VMs only: the holder's VM live-migrated to a new qemu on this host
    /// (its kernel announces its link's addresses afterwards).
    Migrate,
}

/// Whether the VIP is meant to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moves {
    Yes,
    No,
    /// Either is right (a hung member: the holder may keep the VIP through
    /// other members, or hand it over when its member is declared unhealthy).
    Maybe,
}

const ALL: [Scenario; 18] = [
    Scenario::Graceful,
    Scenario::Dead,
    Scenario::DeadEtcdLeader,
    Scenario::Cutoff,
    Scenario::Quorum,
    Scenario::Crash,
    Scenario::Pause,
    Scenario::EtcdDown,
    Scenario::EtcdHung,
    Scenario::DeafCandidate,
    Scenario::Unhealthy,
    Scenario::Forfeit,
    Scenario::PartitionHeal,
    Scenario::PartitionHealLong,
    Scenario::Mute,
    Scenario::ArpFlood,
    Scenario::Freeze,
    Scenario::Migrate,
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
            Scenario::EtcdHung => "etcd-hung",
            Scenario::DeafCandidate => "deaf-candidate",
            Scenario::Unhealthy => "unhealthy",
            Scenario::Forfeit => "forfeit",
            Scenario::PartitionHeal => "partition-heal",
            Scenario::PartitionHealLong => "partition-heal-long",
            Scenario::Mute => "mute",
            Scenario::ArpFlood => "arp-flood",
            Scenario::Freeze => "freeze",
            Scenario::Migrate => "migrate",
        }
    }

    pub fn all() -> [Scenario; 18] {
        ALL
    }

    pub fn moves(self) -> Moves {
        match self {
            Scenario::Quorum | Scenario::DeafCandidate | Scenario::ArpFlood => Moves::No,
            Scenario::EtcdHung | Scenario::Migrate => Moves::Maybe,
            _ => Moves::Yes,
        }
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
            Scenario::Graceful
                | Scenario::Dead
                | Scenario::Forfeit
                | Scenario::Freeze
                | Scenario::Migrate
        )
    }

    /// Whether it runs on the netns lab.
    pub fn on_netns(self) -> bool {
        !matches!(self, Scenario::Freeze | Scenario::Migrate)
    }

    /// Whether the old holder's kernel may still have the VIP (silent, for
    /// no one answers for it without proof) after another node took it:
    /// the old holder could not remove it (machined dead or stopped) or
    /// cannot renew it (cut off), and its kernel lifetime ends it within
    /// the lease TTL.
    pub fn leaves_an_address(self) -> bool {
        matches!(
            self,
            Scenario::Cutoff
                | Scenario::Crash
                | Scenario::Pause
                | Scenario::PartitionHeal
                | Scenario::PartitionHealLong
                | Scenario::Mute
        )
    }

    /// How long the old holder is stopped, frozen or cut off before it
    /// comes back (and must then stay silent and let go), if it does.
    pub fn comes_back_after(self) -> Option<Duration> {
        match self {
            Scenario::Pause | Scenario::Freeze | Scenario::PartitionHealLong => {
                Some(Duration::from_secs(5))
            }
            Scenario::PartitionHeal => Some(Duration::from_secs(1)),
            Scenario::Mute => Some(Duration::from_secs(3)),
            _ => None,
        }
    }
}
