//! The dead-holder fast path. Candidates ARP-probe the holder's node address
//! (the VIP when that is unknown); when it has not answered for `dead_after`, the holder is
//! gone from the segment (so it cannot serve the VIP either) and its lease
//! is revoked: etcd deletes its key and the next candidate wins at once,
//! instead of waiting for the lease to expire.
//!
//! A holder that still answers ARP (e.g. cut off from etcd only) is never
//! revoked: it lets go by itself on its fence deadline, before its lease
//! expires, so two nodes never hold the VIP at once. And a candidate never
//! revokes alone: the others must agree (see `agreement`), so one that
//! cannot hear the holder does not depose it.

use super::agreement::Suspicion;
use super::liveness::{Liveness, Verdict};
use super::observe::Holder;
use crate::kernel::packet::{self, Mac, PacketSocket};
use etcd_client::Client;
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a candidate waits for the others to agree the holder is dead.
const AGREE_WITHIN: Duration = Duration::from_secs(2);
const STEP: Duration = Duration::from_secs(1);
/// One attempt at an etcd call while deposing. Short: when the dead holder
/// was etcd's leader, the first calls are forwarded to it and hang until
/// they time out; a retry goes to the new leader as soon as there is one.
/// Posting and revoking again are harmless (same value; an absent lease).
const TRY: Duration = Duration::from_millis(100);

/// etcd's answer for a lease that does not exist, by its gRPC status code.
fn is_not_found(e: &etcd_client::Error) -> bool {
    matches!(e, etcd_client::Error::GRpcStatus(s) if s.code() == tonic::Code::NotFound)
}

pub struct Prober {
    /// Also names this node and the VIP.
    pub suspicion: Suspicion,
    pub link_index: u32,
    pub mac: Mac,
    pub every: Duration,
    pub dead_after: Duration,
}

/// Waits until someone other than the holder of `lease` holds the VIP.
async fn other_holder(rx: &mut watch::Receiver<Option<Holder>>, lease: i64) {
    let _ = rx
        .wait_for(|h| h.as_ref().is_some_and(|h| h.lease != lease))
        .await
        .map(|_| ());
}

impl Prober {
    /// Runs until dropped.
    pub async fn run(self, mut client: Client, mut holder: watch::Receiver<Option<Holder>>) {
        if self.every.is_zero() {
            return std::future::pending().await;
        }
        loop {
            let h = holder
                .borrow_and_update()
                .clone()
                .filter(|h| h.node != self.suspicion.me);
            if let Some(h) = h {
                let target = self.target(&h);
                tokio::select! {
                    _ = holder.changed() => continue,
                    dead = self.watch(target, h.mac) => if dead {
                        tracing::warn!(holder = %h.node, after_ms = self.dead_after.as_millis() as u64,
                            "holder does not answer on the link; asking the other candidates");
                        // Only another holder ends this early: when the dead
                        // holder was etcd's leader, the observe stream breaks
                        // and comes back with the same holder, which must not
                        // restart the probing from scratch.
                        let deposed = tokio::select! {
                            d = self.depose(&mut client, h.lease, &h.node) => d,
                            _ = other_holder(&mut holder, h.lease) => false,
                        };
                        let _ = tokio::time::timeout(STEP, self.suspicion.withdraw(&mut client)).await;
                        if deposed {
                            // Give the election time to move before probing again.
                            let _ = tokio::time::timeout(self.dead_after * 4, other_holder(&mut holder, h.lease)).await;
                        }
                        continue;
                    }
                }
            }
            if holder.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Posts this candidate's suspicion and revokes the holder's lease once
    /// the others agree; false if they do not within [`AGREE_WITHIN`].
    async fn depose(&self, client: &mut Client, lease: i64, holder: &str) -> bool {
        let until = Instant::now() + AGREE_WITHIN;
        let mut posted = false;
        // Short: the others decide within a probe interval or two of us.
        let pause = Duration::from_millis(10);
        while Instant::now() < until {
            if !posted {
                posted = matches!(
                    tokio::time::timeout(TRY, self.suspicion.post(client, lease)).await,
                    Ok(Ok(()))
                );
            }
            if posted {
                if let Ok(Ok(true)) =
                    tokio::time::timeout(TRY, self.suspicion.agreed(client, lease)).await
                {
                    tracing::warn!(
                        lease,
                        "the other candidates agree; revoking the holder's lease"
                    );
                    self.revoke(client, lease, holder).await;
                    return true;
                }
            }
            tokio::time::sleep(pause).await;
        }
        tracing::info!(
            lease,
            "the other candidates still hear the holder; not deposing it"
        );
        false
    }

    /// Revokes until it works or the lease is gone: when the dead holder
    /// was also etcd's leader, revokes fail until etcd has a new one.
    async fn revoke(&self, client: &mut Client, lease: i64, holder: &str) {
        loop {
            match tokio::time::timeout(TRY * 2, client.lease_revoke(lease)).await {
                Ok(Ok(_)) => {
                    tracing::info!(lease, "revoked the dead holder's lease");
                    super::report::revoked(self.suspicion.vip, holder);
                    return;
                }
                Ok(Err(e)) if is_not_found(&e) => {
                    tracing::info!(lease, "the dead holder's lease is already gone");
                    return;
                }
                Ok(Err(e)) => {
                    tracing::info!(error = %e, "revoking the dead holder's lease failed; retrying")
                }
                Err(_) => tracing::info!("revoking the dead holder's lease timed out; retrying"),
            }
            tokio::time::sleep(self.every.max(Duration::from_millis(50))).await;
        }
    }

    /// What to probe: the holder's node address, which answers as long as
    /// the machine is on the segment (the VIP when that is unknown). IPv4
    /// with an ARP probe, IPv6 with a DAD-style neighbour solicitation.
    fn target(&self, h: &Holder) -> IpAddr {
        h.ip.unwrap_or(self.suspicion.vip)
    }

    /// Whether `frame` is the target's answer.
    fn answers(frame: &[u8], target: IpAddr) -> bool {
        match target {
            IpAddr::V4(t) => packet::arp_reply_sender(frame) == Some(t),
            IpAddr::V6(t) => packet::na_claimant(frame, t).is_some(),
        }
    }

    /// Probes until the target has not answered for `dead_after` (returns
    /// true), or the socket fails (returns false after a pause).
    async fn watch(&self, target: IpAddr, holder_mac: Option<Mac>) -> bool {
        let sock = match target {
            IpAddr::V4(_) => PacketSocket::arp_replies(self.link_index),
            IpAddr::V6(_) => PacketSocket::ipv6(self.link_index),
        };
        let sock = match sock {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open a packet socket for holder probing");
                tokio::time::sleep(Duration::from_secs(5)).await;
                return false;
            }
        };
        let probe = match (target, holder_mac) {
            (IpAddr::V4(t), Some(dst)) => packet::arp_probe_to(self.mac, dst, t),
            (IpAddr::V4(t), None) => packet::arp_probe(self.mac, t),
            (IpAddr::V6(t), Some(dst)) => packet::dad_solicit_to(self.mac, dst, t),
            (IpAddr::V6(t), None) => packet::dad_solicit(self.mac, t),
        };
        let mut liveness = Liveness::new(self.every, self.dead_after, Instant::now());
        let mut next = Instant::now();
        let mut buf = [0u8; 128];
        loop {
            tokio::time::sleep_until(next).await;
            let mut answered = false;
            while let Some(n) = sock.try_recv(&mut buf) {
                answered |= Self::answers(&buf[..n], target);
            }
            let now = Instant::now();
            let wait = match liveness.tick(now, answered) {
                Verdict::Dead => return true,
                Verdict::Probe(wait) => wait,
            };
            if let Err(e) = sock.send(&probe) {
                tracing::warn!(error = %e, "holder probe failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return false;
            }
            liveness.sent(now);
            // From now, not from the missed tick: a late task sends no burst.
            next = now + wait;
        }
    }
}
