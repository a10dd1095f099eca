//! The dead-holder fast path. Candidates probe the holder two ways:
//!
//! - its node address, unicast to its MAC, every `every` (100 ms): the
//!   holder's kernel answers as long as the machine is on the segment, so
//!   silence for `dead_after` (150 ms) means it is dead or cut off from the
//!   LAN, and cannot serve the VIP either (one probe stream per holder,
//!   shared by every VIP's session watching it: `node_watch`);
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
use super::node_watch::NodeWatch;
use super::observe::Holder;
use super::probe_target::{until_silent, Probed, Target};
use crate::kernel::packet::Mac;
use etcd_client::Client;
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

    /// Watches the holder's node address (shared with every session
    /// watching the same holder) and probes the VIP until one has been
    /// silent too long (returns why), or probing fails (returns `None`
    /// after a pause).
    async fn watch(&self, h: &Holder) -> Option<&'static str> {
        let probed = |ip, every, dead_after| Probed {
            link: self.link_index,
            me: self.mac,
            ip,
            mac: h.mac,
            every,
            dead_after,
        };
        let node = h.ip.and_then(|ip| {
            NodeWatch::of(
                probed(ip, self.every, self.dead_after),
                "the holder does not answer on the link",
            )
        });
        let dead_after = self.proof_every + self.proof_timeout + self.dead_after;
        let mut vip: Vec<Target> = Target::new(
            probed(self.suspicion.vip, self.proof_every, dead_after),
            "the holder does not answer for the VIP: it cannot prove it holds it",
        )
        .into_iter()
        .collect();
        if node.is_none() && vip.is_empty() {
            tokio::time::sleep(Duration::from_secs(5)).await;
            return None;
        }
        let node_silent = async {
            match &node {
                Some(n) => n.silent().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            why = node_silent => Some(why),
            r = until_silent(&mut vip) => r,
        }
    }
}
