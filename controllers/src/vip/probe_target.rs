//! One address a candidate probes (the holder's node address, or the VIP
//! itself), and the loop that probes addresses until one has been silent
//! too long. Used by the prober for the VIP and by the shared watches of
//! holders' node addresses ([`super::node_watch`]).

use super::liveness::{Liveness, Verdict};
use crate::kernel::packet::{self, Mac, PacketSocket};
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// An answer should come within this of its probe: a probe still
/// unanswered then counts as missed at once (probing speeds up), instead of
/// at the next tick.
const EARLY_LOOK: Duration = Duration::from_millis(30);
/// Probes whose next tick is further away than this get an early look.
const LOOK_WHEN_LONGER: Duration = Duration::from_millis(200);

/// What is probed, from where and how often (also what a shared watch of
/// a holder's node address is keyed by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Probed {
    pub link: u32,
    /// This node's MAC on the link.
    pub me: Mac,
    pub ip: IpAddr,
    /// The holder's MAC, when known: probes go to it and only its answers
    /// count.
    pub mac: Option<Mac>,
    pub every: Duration,
    /// Silence for this long is a death.
    pub dead_after: Duration,
}

/// One thing probed: the probe, its socket, what its silence means.
pub struct Target {
    p: Probed,
    pub what: &'static str,
    sock: PacketSocket,
    probe: Vec<u8>,
    liveness: Liveness,
    next: Instant,
    /// When to look for the last probe's answer early.
    look: Option<Instant>,
    /// An answer was read since the last tick.
    heard: bool,
}

impl Target {
    /// Probes `p`; its silence means `what`. `None` when not probed
    /// (`every` zero) or no socket opens.
    pub fn new(p: Probed, what: &'static str) -> Option<Target> {
        if p.every.is_zero() {
            return None;
        }
        let sock = match p.ip {
            IpAddr::V4(_) => PacketSocket::arp_replies(p.link),
            IpAddr::V6(_) => PacketSocket::ipv6(p.link),
        };
        let sock = sock
            .map_err(
                |e| tracing::warn!(error = %machined_resources::error::chain(&e), "cannot open a packet socket for holder probing"),
            )
            .ok()?;
        let probe = match (p.ip, p.mac) {
            (IpAddr::V4(t), Some(dst)) => packet::arp_probe_to(p.me, dst, t),
            (IpAddr::V4(t), None) => packet::arp_probe(p.me, t),
            (IpAddr::V6(t), Some(dst)) => packet::dad_solicit_to(p.me, dst, t),
            (IpAddr::V6(t), None) => packet::dad_solicit(p.me, t),
        };
        let now = Instant::now();
        Some(Target {
            p,
            what,
            sock,
            probe,
            liveness: Liveness::new(p.every, p.dead_after, now),
            next: now,
            look: None,
            heard: false,
        })
    }

    /// Starts over, as a new target would: a death needs `dead_after` of
    /// silence from now.
    pub fn restart(&mut self) {
        let now = Instant::now();
        self.liveness = Liveness::new(self.p.every, self.p.dead_after, now);
        self.next = now;
        self.look = None;
        self.heard = false;
    }

    /// Reads what came in, noting an answer for this target.
    fn read(&mut self) {
        let mut buf = [0u8; 128];
        while let Some(n) = self.sock.try_recv(&mut buf) {
            self.heard |= answers(&buf[..n], self.p.ip, self.p.mac);
        }
    }
}

/// Whether `frame` answers for `target` (from `mac`, when known).
fn answers(frame: &[u8], target: IpAddr, mac: Option<Mac>) -> bool {
    let from = match target {
        IpAddr::V4(t) => {
            packet::arp_claimant(frame, t).filter(|_| packet::arp_reply_sender(frame) == Some(t))
        }
        IpAddr::V6(t) => packet::na_claimant(frame, t),
    };
    from.is_some_and(|m| mac.is_none_or(|h| h == m))
}

/// Probes `targets` until one has been silent too long (returns what its
/// silence means), or probing fails (returns `None` after a pause).
pub async fn until_silent(targets: &mut [Target]) -> Option<&'static str> {
    if targets.is_empty() {
        return std::future::pending().await;
    }
    loop {
        let next = targets
            .iter()
            .flat_map(|t| [Some(t.next), t.look])
            .flatten()
            .min()
            .unwrap_or_else(Instant::now);
        tokio::time::sleep_until(next).await;
        let now = Instant::now();
        for t in targets.iter_mut() {
            if t.look.is_some_and(|l| l <= now) {
                t.look = None;
                t.read();
                if !t.heard {
                    t.next = now;
                }
            }
            if t.next > now {
                continue;
            }
            t.read();
            let wait = match t.liveness.tick(now, std::mem::take(&mut t.heard)) {
                Verdict::Dead => return Some(t.what),
                Verdict::Probe(wait) => wait,
            };
            if let Err(e) = t.sock.send(&t.probe) {
                tracing::warn!(error = %machined_resources::error::chain(&e), "holder probe failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return None;
            }
            t.liveness.sent(now);
            // From now, not from the missed tick: a late task sends no burst.
            t.next = now + wait;
            // Only where the next tick is far: at 100 ms a miss is seen
            // soon enough, and a look costs a wake-up per probe.
            t.look = (wait > LOOK_WHEN_LONGER).then(|| now + EARLY_LOOK);
        }
    }
}
