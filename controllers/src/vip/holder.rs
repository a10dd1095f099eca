//! What the election's winner does with the address. This is the only code
//! that puts a VIP into the kernel (the VIP controller's start-up sweep only
//! removes): claim it once nobody answers for it and the link is quiet about
//! it, add it (on `lo`) with a kernel lifetime, renew that lifetime on every
//! acknowledged keep-alive, let its [`Speaker`] answer and announce for it
//! with proof, and on letting go remove it and confirm it is gone before
//! anyone resigns (fail closed).

use super::keepalive::LeaseState;
use super::lifetime::Validity;
use super::proof::{Confirm, Proof};
use super::runner::Shared;
use super::shared::{Cue, LetGo};
use super::speaker::{Silenced, Speaker};
use super::wire::Wire;
use crate::kernel::vip_addr::{AddError, VipAddrs};
use crate::kernel::NetError;
use machined_resources::config::Announce;
use machined_resources::types::VipSpec;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A proof asked for at the win covers the claim burst only if the claim
/// took no longer than this (nobody answering, the link quiet).
const EARLY_PROOF_FOR: Duration = Duration::from_millis(50);

/// Result of one add or renewal.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    /// Was not there; now is.
    Created,
    Renewed,
    /// No lifetime is short enough any more; the kernel lets it lapse.
    TooLate,
    /// The kernel applied it later than was safe; removed again.
    Stalled,
}

pub struct Holder {
    /// The VIP's link (the address itself goes on `lo`).
    pub link: u32,
    pub ip: IpAddr,
    pub ttl: Duration,
    pub announce: Announce,
    /// How long to listen for an answer before claiming.
    pub claim_window: Duration,
    pub addrs: Arc<dyn VipAddrs>,
    /// The link's wire; a new one (the link's MAC changed: a bond failed
    /// over with `failOverMac: active`) is announced on at once.
    pub wire: watch::Receiver<Arc<dyn Wire>>,
    /// Asks the keep-alive task for an acknowledgement now.
    pub kick: Arc<tokio::sync::Notify>,
    /// Proof that this node holds the VIP, asked before every frame.
    pub confirm: Arc<dyn Confirm>,
    /// To this holder's speaker (an address put back is announced again).
    pub cue: mpsc::Sender<Cue>,
    /// Gives way to any other station claiming the VIP instead of
    /// defending it (a pin: the election's holder outranks it).
    pub yields: bool,
    /// Takes the address's one owner key before claiming (none: a pin,
    /// which has no etcd to ask).
    pub owner: Option<Arc<dyn super::owner_key::Owner>>,
    /// Checks on every renewal that the link is still quiet about
    /// addresses it does not have (in a group, one member per link does:
    /// the setting is the link's).
    pub keeps_quiet: bool,
}

pub(super) fn validity(lease: &watch::Receiver<LeaseState>, ttl: Duration) -> Option<Validity> {
    match *lease.borrow() {
        LeaseState::Acked(at) => Some(Validity::from_ack(at, ttl)),
        LeaseState::Lost => None,
    }
}

impl Holder {
    /// What claims, keeps and speaks for `spec`'s address on `link`, with
    /// proof from `confirm`; it defends the address, checks the link's
    /// settings and takes no owner key unless told otherwise.
    pub fn new(
        spec: &VipSpec,
        link: u32,
        ttl: Duration,
        addrs: Arc<dyn VipAddrs>,
        wire: watch::Receiver<Arc<dyn Wire>>,
        confirm: Arc<dyn Confirm>,
        cue: mpsc::Sender<Cue>,
    ) -> Holder {
        Holder {
            link,
            ip: spec.ip,
            ttl,
            announce: spec.options.announce,
            claim_window: Duration::from_millis(spec.options.claim_window_ms),
            addrs,
            wire,
            kick: Default::default(),
            confirm,
            cue,
            yields: false,
            keeps_quiet: true,
            owner: None,
        }
    }

    /// Adds or renews with the longest safe lifetime; reads the clock right
    /// before and right after the (synchronous) kernel call.
    pub fn put(&self, v: &Validity) -> Result<Put, NetError> {
        let mut create_only = true;
        loop {
            let now = Instant::now();
            let Some(lifetime) = v.kernel_lifetime(now) else {
                return Ok(Put::TooLate);
            };
            let r = self.addrs.add(self.ip, lifetime, create_only);
            let applied_by = Instant::now();
            match r {
                Err(AddError::Exists) if create_only => create_only = false,
                Err(AddError::Exists) => return Ok(Put::Renewed),
                Err(AddError::Net(e)) => return Err(e),
                Ok(()) if !v.still_safe(applied_by, lifetime) => {
                    tracing::error!(vip = %self.ip, lifetime, late_ms = (applied_by - now).as_millis() as u64,
                        "the kernel applied the VIP's lifetime too late; removing it");
                    self.addrs.remove(self.ip)?;
                    return Ok(Put::Stalled);
                }
                Ok(()) if create_only => return Ok(Put::Created),
                Ok(()) => return Ok(Put::Renewed),
            }
        }
    }

    /// Claims, adds and renews, while the speaker answers and announces,
    /// until `stop` says why to let go, the lease can no longer vouch, or
    /// a proof says this node does not hold. The address may still be in
    /// the kernel when this returns: [`Holder::remove_confirmed`] must
    /// follow.
    pub async fn hold(
        &self,
        lease: &mut watch::Receiver<LeaseState>,
        stop: impl Future<Output = LetGo>,
        shared: &Shared,
        cues: mpsc::Receiver<Cue>,
    ) -> LetGo {
        tokio::pin!(stop);
        // A proof asked for now, after winning, while the claim probes:
        // the burst needs no round trip of its own.
        let won = Instant::now();
        let claim = async {
            let r = self.claim(lease, shared).await;
            (r, won.elapsed())
        };
        let proof = async {
            let p = super::proof::fresh(&*self.confirm).await;
            (p, won.elapsed())
        };
        let (early, claim_took, proof_took) = tokio::select! {
            ((r, ct), (p, pt)) = futures::future::join(claim, proof) => match r {
                Err(why) => return why,
                Ok(()) => (p, ct, pt),
            },
            why = &mut stop => return why,
        };
        if early == Proof::Gone {
            return LetGo::Unproven;
        }
        let proven = early == Proof::Held && won.elapsed() < EARLY_PROOF_FOR;
        let Some(mut v) = validity(lease, self.ttl) else {
            return LetGo::LeaseLost;
        };
        match self.put(&v) {
            Ok(Put::Created) | Ok(Put::Renewed) => {
                tracing::info!(vip = %self.ip, claim_ms = claim_took.as_secs_f64() * 1e3,
                    proof_ms = proof_took.as_secs_f64() * 1e3, "VIP added");
                shared.update(|s| s.leading = true);
                super::report::acquired(self.ip);
            }
            Ok(other) => tracing::warn!(vip = %self.ip, outcome = ?other, "VIP not added"),
            Err(e) => {
                tracing::error!(vip = %self.ip, error = %machined_resources::error::chain(&e), "adding the VIP failed")
            }
        }
        let speaker = Speaker {
            ip: self.ip,
            wire: self.wire.clone(),
            confirm: self.confirm.clone(),
            announce: self.announce,
            lease: lease.clone(),
            ttl: self.ttl,
            yields: self.yields,
        }
        .run(cues, shared, proven);
        tokio::pin!(speaker);
        // Renewed on every acknowledgement; and, when one is late, once more
        // from the last one while it still allows a whole second, so the
        // address lasts as long as the lease floor safely permits.
        let late = self.ttl / 5;
        let mut next_renew = Instant::now() + late;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(v.fence()) => return LetGo::Fenced,
                r = lease.changed() => {
                    if r.is_err() {
                        return LetGo::LeaseLost;
                    }
                    let Some(nv) = validity(lease, self.ttl) else { return LetGo::LeaseLost };
                    v = nv;
                }
                _ = tokio::time::sleep_until(next_renew) => {}
                s = &mut speaker => return match s {
                    Silenced::Gone => LetGo::Unproven,
                    Silenced::Contested(_) => LetGo::Contested,
                },
                why = &mut stop => return why,
            }
            next_renew = Instant::now() + late;
            self.renew(&v, shared);
        }
    }

    /// Renews the address's lifetime (putting it back if someone removed
    /// it) and checks that the link is still quiet about it.
    fn renew(&self, v: &Validity, shared: &Shared) {
        let quiet = if self.keeps_quiet {
            self.addrs.silence(self.link)
        } else {
            Ok(false)
        };
        match quiet {
            Ok(true) => tracing::warn!(vip = %self.ip,
                "the link was set to answer ARP for addresses it does not have; quiet again"),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(vip = %self.ip, error = %machined_resources::error::chain(&e), "cannot check that the link is quiet")
            }
        }
        match self.put(v) {
            Ok(Put::Created) => {
                tracing::info!(vip = %self.ip, "VIP was gone; added again");
                shared.update(|s| s.leading = true);
                let _ = self.cue.try_send(Cue::Burst);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(vip = %self.ip, error = %machined_resources::error::chain(&e), "renewing the VIP failed")
            }
        }
    }

    /// Removes the address and returns only once the kernel confirms it is
    /// gone, retrying failures (the caller keeps the lease meanwhile).
    pub async fn remove_confirmed(&self, shared: &Shared) {
        let mut pause = Duration::from_millis(20);
        loop {
            // What counts is whether the kernel still has it: a removal that
            // fails because the link itself is gone has nothing left to do.
            let removed = self.addrs.remove(self.ip);
            match (self.addrs.present(self.ip), removed) {
                (Ok(false), _) => break,
                (Ok(true), Ok(())) => tracing::error!(vip = %self.ip,
                    "the VIP is still on the link after removal; retrying"),
                (Ok(true), Err(e)) | (Err(e), _) => {
                    tracing::error!(vip = %self.ip, error = %machined_resources::error::chain(&e),
                    "removing the VIP failed; retrying with the lease held")
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
        shared.update(|s| {
            s.leading = false;
            s.announced = None;
        });
    }
}
