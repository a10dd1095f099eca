//! Watching for a deposed holder's return. A holder that was cut off from
//! the LAN (a switch that stopped forwarding, a frozen VM) took the clients
//! on its side with it: they still have its MAC for the VIP and heard none
//! of the new holder's announcements. When it comes back it stays silent
//! for the VIP (it has no proof), so those clients would keep the wrong MAC
//! until their cache entry ages out. So the new holder probes the old
//! holder's node address, and when it answers again after going silent,
//! announces the VIP again (a repair: a burst now, more at 0.5 s and 2 s).
//!
//! A holder that handed over gracefully keeps answering: nothing is
//! repaired. Probing is unicast to its MAC: every 100 ms for the first 30
//! s, then every second, for 10 minutes.

use super::observe::Holder;
use super::shared::Cue;
use crate::kernel::packet::{self, Mac, PacketSocket};
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Unanswered probes in a row after which the node counts as gone.
const GONE_AFTER: u32 = 3;
const FAST: Duration = Duration::from_millis(100);
const FAST_FOR: Duration = Duration::from_secs(30);
const SLOW: Duration = Duration::from_secs(1);
const WATCH_FOR: Duration = Duration::from_secs(600);

/// The node's presence, from one probe's outcome to the next.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Presence {
    misses: u32,
}

impl Presence {
    /// The last probe was answered or not; true when the node is back
    /// after being gone.
    pub fn tick(&mut self, answered: bool) -> bool {
        if answered {
            let back = self.misses >= GONE_AFTER;
            self.misses = 0;
            back
        } else {
            self.misses = self.misses.saturating_add(1);
            false
        }
    }
}

/// Whether `frame` is `target`'s answer to a probe.
fn answers(frame: &[u8], target: IpAddr) -> bool {
    match target {
        IpAddr::V4(t) => packet::arp_reply_sender(frame) == Some(t),
        IpAddr::V6(t) => packet::na_claimant(frame, t).is_some(),
    }
}

/// Probes `prev`'s node address and cues a repair each time it comes back;
/// runs for [`WATCH_FOR`], then until dropped.
pub async fn watch(link: u32, mac: Mac, prev: Holder, vip: IpAddr, cue: mpsc::Sender<Cue>) {
    let Some(target) = prev.ip else {
        return std::future::pending().await;
    };
    let sock = match target {
        IpAddr::V4(_) => PacketSocket::arp_replies(link),
        IpAddr::V6(_) => PacketSocket::ipv6(link),
    };
    let sock = match sock {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %machined_resources::error::chain(&e), "cannot watch for the deposed holder's return");
            return std::future::pending().await;
        }
    };
    let probe = match (target, prev.mac) {
        (IpAddr::V4(t), Some(dst)) => packet::arp_probe_to(mac, dst, t),
        (IpAddr::V4(t), None) => packet::arp_probe(mac, t),
        (IpAddr::V6(t), Some(dst)) => packet::dad_solicit_to(mac, dst, t),
        (IpAddr::V6(t), None) => packet::dad_solicit(mac, t),
    };
    let start = Instant::now();
    let mut presence = Presence::default();
    let mut buf = [0u8; 128];
    let mut sent = false;
    while start.elapsed() < WATCH_FOR {
        if sent {
            let mut answered = false;
            while let Some(n) = sock.try_recv(&mut buf) {
                answered |= answers(&buf[..n], target);
            }
            if presence.tick(answered) {
                super::report::deposed_back(vip, &prev.node);
                let _ = cue.try_send(Cue::Repair);
            }
        }
        sent = sock.send(&probe).is_ok();
        let every = if start.elapsed() < FAST_FOR {
            FAST
        } else {
            SLOW
        };
        tokio::time::sleep(every).await;
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_only_after_being_gone() {
        let mut p = Presence::default();
        // Answering all along (a graceful handover): never "back".
        assert!(!(0..10).any(|_| p.tick(true)));
        // Two misses are a lost frame or two, not gone.
        assert!(!p.tick(false) && !p.tick(false) && !p.tick(true));
        // Gone, then back: once.
        for _ in 0..GONE_AFTER {
            assert!(!p.tick(false));
        }
        assert!(p.tick(true));
        assert!(!p.tick(true));
        // Gone again, back again.
        for _ in 0..10 {
            p.tick(false);
        }
        assert!(p.tick(true));
    }
}
