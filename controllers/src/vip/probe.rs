//! The dead-holder fast path. Candidates probe the holder two ways:
//!
//! - its node address, unicast to its MAC, every `every` (100 ms): the
//!   holder's kernel answers as long as the machine is on the segment, so
//!   silence for `dead_after` (150 ms) means it is dead or cut off from the
//!   LAN, and cannot serve the VIP either;
//! - the VIP itself, every `proof_every` (500 ms): only the holder's
//!   machined answers, and only with fresh proof from etcd that it still
//!   holds, so silence for `proof_every + proof_timeout + dead_after`
//!   (the holder may wait up to `proof_timeout` for etcd) means it cannot prove
//!   it holds (cut off from etcd's quorum, machined dead or stopped). Each
//!   such probe costs the holder an etcd read, hence the slower pace.
//!
//! Either silence makes the candidate suspect the holder; its lease is
//! revoked when the others agree (see `agreement`), so one candidate that
//! cannot hear the holder never deposes it. etcd deletes the holder's key
//! and the next candidate wins at once, instead of waiting for the lease to
//! expire. A deposed holder's address may stay in its kernel until its
//! fence (it cannot renew it), but its kernel never answers for it, and
//! its machined cannot get the proof to.

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
    /// How often to ask for the VIP itself (0: never).
    pub proof_every: Duration,
    /// How long the holder may wait for its proof before it answers.
    pub proof_timeout: Duration,
}

/// An answer should come within this of its probe: a probe still
/// unanswered then counts as missed at once (probing speeds up), instead of
/// at the next tick.
const EARLY_LOOK: Duration = Duration::from_millis(30);
/// Probes whose next tick is further away than this get an early look.
const LOOK_WHEN_LONGER: Duration = Duration::from_millis(200);

/// One thing probed: its address, the probe, what its silence means.
struct Target {
    ip: IpAddr,
    what: &'static str,
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
    /// Reads what came in, noting an answer for this target.
    fn read(&mut self, mac: Option<Mac>) {
        let mut buf = [0u8; 128];
        while let Some(n) = self.sock.try_recv(&mut buf) {
            self.heard |= Prober::answers(&buf[..n], self.ip, mac);
        }
    }
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
        if self.every.is_zero() && self.proof_every.is_zero() {
            return std::future::pending().await;
        }
        loop {
            let h = holder
                .borrow_and_update()
                .clone()
                .filter(|h| h.node != self.suspicion.me);
            if let Some(h) = h {
                tokio::select! {
                    _ = holder.changed() => continue,
                    dead = self.watch(&h) => if let Some(why) = dead {
                        tracing::warn!(holder = %h.node, why, "asking the other candidates to depose the holder");
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
                    tracing::info!(error = %machined_resources::error::chain(&e), "revoking the dead holder's lease failed; retrying")
                }
                Err(_) => tracing::info!("revoking the dead holder's lease timed out; retrying"),
            }
            tokio::time::sleep(self.every.max(Duration::from_millis(50))).await;
        }
    }

    /// Whether `frame` answers for `target` (from `mac`, when known).
    fn answers(frame: &[u8], target: IpAddr, mac: Option<Mac>) -> bool {
        let from = match target {
            IpAddr::V4(t) => packet::arp_claimant(frame, t)
                .filter(|_| packet::arp_reply_sender(frame) == Some(t)),
            IpAddr::V6(t) => packet::na_claimant(frame, t),
        };
        from.is_some_and(|m| mac.is_none_or(|h| h == m))
    }

    fn target(
        &self,
        ip: IpAddr,
        mac: Option<Mac>,
        every: Duration,
        dead_after: Duration,
        what: &'static str,
    ) -> Option<Target> {
        if every.is_zero() {
            return None;
        }
        let sock = match ip {
            IpAddr::V4(_) => PacketSocket::arp_replies(self.link_index),
            IpAddr::V6(_) => PacketSocket::ipv6(self.link_index),
        };
        let sock = sock
            .map_err(
                |e| tracing::warn!(error = %machined_resources::error::chain(&e), "cannot open a packet socket for holder probing"),
            )
            .ok()?;
        let probe = match (ip, mac) {
            (IpAddr::V4(t), Some(dst)) => packet::arp_probe_to(self.mac, dst, t),
            (IpAddr::V4(t), None) => packet::arp_probe(self.mac, t),
            (IpAddr::V6(t), Some(dst)) => packet::dad_solicit_to(self.mac, dst, t),
            (IpAddr::V6(t), None) => packet::dad_solicit(self.mac, t),
        };
        let now = Instant::now();
        Some(Target {
            ip,
            what,
            sock,
            probe,
            liveness: Liveness::new(every, dead_after, now),
            next: now,
            look: None,
            heard: false,
        })
    }

    /// Probes the holder's node address and the VIP until one has been
    /// silent too long (returns why), or probing fails (returns `None`
    /// after a pause).
    async fn watch(&self, h: &Holder) -> Option<&'static str> {
        let mut targets: Vec<Target> = [
            h.ip.and_then(|ip| {
                self.target(
                    ip,
                    h.mac,
                    self.every,
                    self.dead_after,
                    "the holder does not answer on the link",
                )
            }),
            self.target(
                self.suspicion.vip,
                h.mac,
                self.proof_every,
                self.proof_every + self.proof_timeout + self.dead_after,
                "the holder does not answer for the VIP: it cannot prove it holds it",
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        if targets.is_empty() {
            tokio::time::sleep(Duration::from_secs(5)).await;
            return None;
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
                    t.read(h.mac);
                    if !t.heard {
                        t.next = now;
                    }
                }
                if t.next > now {
                    continue;
                }
                t.read(h.mac);
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
}
