//! The break-glass pin (`mctl vip pin --force`): the VIP on this node while
//! etcd has no quorum and nobody can be elected. No proof from etcd can
//! exist then, so the pin stands in for it, within these bounds:
//!
//! - It claims only after waiting out a lease's TTL (and the kernel's
//!   slack) without quorum, so any holder whose clock runs has fenced
//!   itself and ended its session, and only once a probe finds the address
//!   silent.
//! - It answers, announces and keeps the address only while a look at etcd
//!   asked after the request finds no member that serves a linearizable
//!   read; the address's kernel lifetime is renewed only by such looks.
//! - It never defends: any other station claiming the VIP ends it (the
//!   speaker's `yields`), and its answers make an elected node's claim
//!   wait, so the handback has one voice at a time.
//! - It ends by itself the moment etcd answers again (a look every
//!   [`LOOK_EVERY`], and every answer's own look), or on `mctl vip unpin`.

use super::deps::Deps;
use super::elector::QuorumLook;
use super::group::Group;
use super::keepalive::LeaseState;
use super::proof::{Confirm, Proof};
use super::runner::{Desire, Pin};
use super::shared::LetGo;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

/// How often a pinned node looks whether etcd answers again.
pub const LOOK_EVERY: Duration = Duration::from_millis(200);

/// Runs one pin to its end.
pub async fn run(group: &Group, pin: Pin, desire: watch::Receiver<Desire>, deps: &Deps) {
    let (spec, shared) = (group.lead(), group.shared());
    shared.update(|v| v.pin_done = pin.seq);
    let d = desire.borrow().clone();
    super::report::pinned(spec.ip, &pin);
    let q = deps.elector.quorum(&d);
    let within = Duration::from_millis(spec.options.proof_timeout_ms);
    let ttl = Duration::from_secs(u64::from(spec.options.lease_ttl_secs));
    let wait = ttl + super::KERNEL_EXPIRY_SLACK;
    shared.update(|v| {
        v.pinned = describe(
            &pin,
            &format!(
                "waiting {} ms without quorum for any holder's lease to run out",
                wait.as_millis()
            ),
        )
    });
    // One loop of looks for the whole pin: the wait before claiming, then
    // the stand-in lease while holding.
    let (lease_tx, lease) = watch::channel(LeaseState::Acked(Instant::now()));
    let (back_tx, back) = watch::channel(false);
    let _looks = super::shared::Tasks(vec![tokio::spawn(
        looks(q.clone(), within, lease_tx, back_tx).in_current_span(),
    )]);
    let until = Instant::now() + wait;
    let why = match wait_out(lease.clone(), back.clone(), until, desire.clone(), pin.seq).await {
        Some(why) => why,
        None => {
            let p = Pinned {
                group,
                pin: &pin,
                d: &d,
                q,
                within,
                ttl,
            };
            p.hold(lease, back, desire, deps).await
        }
    };
    shared.update(|v| {
        v.pinned.clear();
        v.set_holder(None);
    });
    for view in &group.views {
        view.update(|v| v.waiting.clear());
    }
    super::report::pin_ended(spec.ip, &pin, why);
}

fn describe(pin: &Pin, what: &str) -> String {
    format!("by {} at {}: {what}", pin.by, pin.at)
}

/// Resolves when the pin numbered `seq` no longer stands (unpinned, a new
/// pin, the link down, the VIP gone from the config).
async fn unpinned(mut desire: watch::Receiver<Desire>, seq: u64) -> LetGo {
    let _ = desire
        .wait_for(|d| d.pin.as_ref().map(|p| p.seq) != Some(seq))
        .await;
    LetGo::Unpinned
}

/// Waits until a look asked at `until` or later has found etcd silent,
/// with etcd silent throughout; `Some`: why the pin ends before claiming.
async fn wait_out(
    mut lease: watch::Receiver<LeaseState>,
    mut back: watch::Receiver<bool>,
    until: Instant,
    desire: watch::Receiver<Desire>,
    seq: u64,
) -> Option<LetGo> {
    let silent_since_until = |s: &LeaseState| matches!(s, LeaseState::Acked(at) if *at >= until);
    tokio::select! {
        why = unpinned(desire, seq) => Some(why),
        _ = back.wait_for(|b| *b) => {
            tracing::info!("etcd answers: the pin ends before claiming");
            Some(LetGo::EtcdBack)
        }
        r = lease.wait_for(silent_since_until) => r.err().map(|_| LetGo::EtcdBack),
    }
}

struct Pinned<'a> {
    group: &'a Group,
    pin: &'a Pin,
    d: &'a Desire,
    q: Arc<dyn QuorumLook>,
    within: Duration,
    ttl: Duration,
}

impl Pinned<'_> {
    /// Claims and holds while the looks (`lease`, `back`) find etcd silent.
    async fn hold(
        self,
        lease: watch::Receiver<LeaseState>,
        mut back: watch::Receiver<bool>,
        desire: watch::Receiver<Desire>,
        deps: &Deps,
    ) -> LetGo {
        let d = self.d;
        let shared = self.group.shared();
        let confirm: Arc<dyn Confirm> = Arc::new(PinProof {
            q: self.q.clone(),
            within: self.within,
        });
        // The wires' senders go: a pin does not follow a MAC change.
        let (mut crew, cues, _) = match self.group.crew(d, deps, self.ttl, &confirm) {
            Ok(opened) => opened,
            Err(e) => {
                tracing::error!(error = %machined_resources::error::chain(&e), "cannot open the link for the pin");
                return LetGo::Ineligible;
            }
        };
        for (h, _) in &mut crew.0 {
            // Never defends: the election's holder outranks a pin.
            h.yields = true;
        }
        let came_back = back.clone();
        shared.update(|v| {
            v.pinned = describe(self.pin, "holding while etcd has no quorum");
            v.set_holder(Some(d.node.clone()));
        });
        let stop = async {
            tokio::select! {
                why = unpinned(desire, self.pin.seq) => why,
                _ = back.wait_for(|b| *b) => LetGo::EtcdBack,
            }
        };
        let why = match crew.hold(&lease, stop, cues).await {
            // A look before speaking found etcd answering.
            LetGo::Unproven => LetGo::EtcdBack,
            _ if *came_back.borrow() => LetGo::EtcdBack,
            why => why,
        };
        crew.remove_confirmed(why, "").await;
        why
    }
}

/// Looks at etcd every [`LOOK_EVERY`]: each silent look renews the pin's
/// stand-in lease (from when it was asked); an answer ends the pin.
async fn looks(
    q: Arc<dyn QuorumLook>,
    within: Duration,
    lease: watch::Sender<LeaseState>,
    back: watch::Sender<bool>,
) {
    loop {
        let asked = Instant::now();
        if let Some(member) = q.look(within).await {
            tracing::info!(%member, "etcd answers again: the pin ends");
            back.send_replace(true);
            // The stand-in lease stays open (a closed one would read as a
            // lost lease): the holder ends for the reason above.
            return std::future::pending().await;
        }
        lease.send_replace(LeaseState::Acked(asked));
        tokio::time::sleep_until(asked + LOOK_EVERY).await;
    }
}

/// The pin's stand-in for proof: a look at etcd asked after the request,
/// that found no member serving a linearizable read.
struct PinProof {
    q: Arc<dyn QuorumLook>,
    within: Duration,
}

/// A look's bound plus the time to hear that it ran out.
const LOOK_SLACK: Duration = Duration::from_millis(100);

impl Confirm for PinProof {
    fn within(&self) -> Duration {
        self.within + LOOK_SLACK
    }

    fn confirm(&self) -> BoxFuture<'static, Proof> {
        let (q, within) = (self.q.clone(), self.within);
        async move {
            match q.look(within).await {
                Some(_) => Proof::Gone,
                None => Proof::Held,
            }
        }
        .boxed()
    }
}

#[cfg(test)]
#[path = "pin_tests.rs"]
mod tests;
