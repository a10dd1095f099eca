//! The holder's claim: before adding the address, its one owner key in
//! etcd (`owner_key.rs`), the link kept quiet about it, and nobody
//! answering for it on the link.

use super::holder::{validity, Holder};
use super::keepalive::LeaseState;
use super::runner::Shared;
use super::shared::LetGo;
use crate::kernel::packet::format_mac;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Why a claim waits for its owner key.
enum Owned {
    /// Another session holds it.
    Other(String),
    /// The write failed (a dropped proposal while etcd changes leader).
    Failed(String),
}

/// Pause between looks before claiming.
const CLAIM_RETRY: Duration = Duration::from_millis(100);
/// Pause after a failed owner-key write: such failures pass within tens
/// of milliseconds.
const OWNER_RETRY: Duration = Duration::from_millis(20);

impl Holder {
    /// Waits until nobody answers for the address (or the lease can no
    /// longer vouch for a claim). `Ok` to go ahead.
    pub(super) async fn claim(
        &self,
        lease: &mut watch::Receiver<LeaseState>,
        shared: &Shared,
    ) -> Result<(), LetGo> {
        // Once taken, the owner key stays this session's until its lease
        // goes: it is not asked again while the link is looked at.
        let mut owned = false;
        loop {
            let v = validity(lease, self.ttl).ok_or(LetGo::LeaseLost)?;
            if v.kernel_lifetime(Instant::now()).is_none() {
                // Wait for a fresh acknowledgement before claiming; none
                // before the fence, and the win was on a stale lease.
                self.kick.notify_one();
                tokio::select! {
                    r = lease.changed() => if r.is_err() { return Err(LetGo::LeaseLost) },
                    _ = tokio::time::sleep_until(v.fence()) => return Err(LetGo::Fenced),
                }
                continue;
            }
            let not_owned = if owned { None } else { self.owned().await };
            let (why, again) = match not_owned {
                Some(Owned::Failed(why)) => (Some(why), OWNER_RETRY),
                Some(Owned::Other(why)) => (Some(why), CLAIM_RETRY),
                None => {
                    owned = true;
                    (self.quiet_and_silent().await, CLAIM_RETRY)
                }
            };
            let Some(why) = why else {
                shared.update(|s| s.waiting.clear());
                return Ok(());
            };
            tracing::warn!(vip = %self.ip, reason = %why, "not claiming the VIP yet");
            if shared.view().waiting != why {
                super::report::claim_delayed(self.ip, &why);
            }
            shared.update(|s| s.waiting = why);
            tokio::time::sleep(again).await;
        }
    }

    /// Why this session does not own the address (`None`: it does).
    async fn owned(&self) -> Option<Owned> {
        let o = self.owner.as_ref()?;
        match o.own().await {
            Ok(None) => None,
            Ok(Some(other)) => Some(Owned::Other(format!(
                "{} is held by {other} through another election (do the nodes list the same VIP groups?)",
                self.ip
            ))),
            Err(e) => Some(Owned::Failed(format!(
                "cannot take ownership of {} in etcd: {}",
                self.ip,
                machined_resources::error::chain(&e)
            ))),
        }
    }

    /// Why not to claim yet, if the link is not quiet or someone answers.
    async fn quiet_and_silent(&self) -> Option<String> {
        let wire = self.wire.borrow().clone();
        let quiet = self.addrs.silence(self.link);
        let why = match (quiet, wire.answered_by(self.claim_window).await) {
            (Err(e), _) => format!(
                "cannot keep the kernel from answering for {} on the link: {}",
                self.ip,
                machined_resources::error::chain(&e)
            ),
            (Ok(_), Ok(None)) => return None,
            (Ok(_), Ok(Some(mac))) => {
                format!("{} still answers for {}", format_mac(&mac), self.ip)
            }
            (Ok(_), Err(e)) => format!(
                "cannot probe for {} on the link: {}",
                self.ip,
                machined_resources::error::chain(&e)
            ),
        };
        Some(why)
    }
}
