//! An election session's last phases: holding the VIP once this node leads
//! the election, and letting it go, address first (fail closed).

use super::election_error::SessionError;
use super::election_health as health;
use super::election_move as moving;
use super::group::Crew;
use super::report::note_holder;
use super::runner::{Desire, MemberLink};
use super::session::Session;
use super::shared::LetGo;
use etcd_client::LeaderKey;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::Instrument;

async fn ineligible(mut desire: watch::Receiver<Desire>) {
    let _ = desire.wait_for(|d| !d.eligible).await.map(|_| ());
}

impl Session<'_> {
    /// Holds the VIP from winning (`key`) until a reason to let go, then
    /// lets go.
    pub async fn hold(mut self, key: LeaderKey) -> Result<(), SessionError> {
        let (spec, shared) = (self.spec, self.shared);
        // From now on this node is the holder it reports.
        drop(std::mem::replace(
            &mut self.report,
            super::shared::Tasks(Vec::new()),
        ));
        let won_at = Instant::now();
        tracing::info!(node = %self.d.node, healthy = self.passing, "won the VIP election");
        note_holder(shared, spec.ip, Some(self.d.node.clone()));
        if crate::runtime::fault::fires("vip-runner-panic") {
            panic!("injected fault vip-runner-panic");
        }
        if let Some(t) = self.c.keep_leadership_away(&self.d) {
            self.tasks.0.push(tokio::spawn(t.in_current_span()));
        }
        let confirm = self.c.confirmer(
            &key,
            self.lease,
            Duration::from_millis(spec.options.proof_timeout_ms),
        );
        let (mut crew, cues, follows) =
            match self.group.crew(&self.d, self.deps, self.ttl, &confirm) {
                Ok(opened) => opened,
                Err(e) => {
                    // Nothing was said or added: give the lead back.
                    let _ = self.c.release(key, self.lease).await;
                    return Err(SessionError::Link(e));
                }
            };
        for (i, (h, _)) in crew.0.iter_mut().enumerate() {
            h.kick = self.kick.clone();
            h.owner = Some(self.c.owner(h.ip, &self.d.node, self.lease));
            let cue = h.cue.clone();
            self.watch_previous(h.ip, self.d.member(i), &cue);
        }
        // The first reason to let go: ineligible, our election key deleted
        // or unwatchable, a failing check with a healthy candidate, a move.
        let (c, sig, d) = (&*self.c, &self.sig, &self.d);
        let follow = futures::future::join_all(follows.into_iter().map(|(i, ip, link, tx)| {
            super::election_mac::follow(
                c,
                &key,
                &*self.deps.wires,
                (i, ip, link),
                sig.desire.clone(),
                tx,
                self.mine.clone(),
            )
        }));
        let stop = async {
            tokio::select! {
                _ = ineligible(sig.desire.clone()) => LetGo::Ineligible,
                why = c.key_gone(&key) => why,
                why = health::handover(c, &self.name, self.lease, sig.desire.clone(), won_at, shared) => why,
                why = moving::move_away(c, &self.name, spec.ip, sig.moving.clone(), &d.node, self.lease) => why,
                _ = follow => unreachable!("following the MACs runs until dropped"),
            }
        };
        let why = crew.hold(&self.sig.lease, stop, cues).await;
        self.release(&crew, key, why).await
    }

    /// A holder this node took over from may come back (a healed
    /// partition, a thawed VM): its side of the LAN is repointed then.
    fn watch_previous(
        &mut self,
        vip: std::net::IpAddr,
        link: MemberLink,
        cue: &mpsc::Sender<super::shared::Cue>,
    ) {
        let previous = self.sig.previous.borrow().clone();
        if let Some(prev) = previous.filter(|p| p.ip.is_some()) {
            let t = self.deps.wires.watch_return(
                link.link_index,
                link.mac.unwrap_or_default(),
                &prev,
                vip,
                cue.clone(),
            );
            self.tasks.0.push(tokio::spawn(t.in_current_span()));
        }
    }

    /// Lets go: the address removed and confirmed gone while the lease is
    /// kept alive, then the lead released (through any member that
    /// answers); when that fails, once more explicitly through the other
    /// members.
    async fn release(self, crew: &Crew, key: LeaderKey, why: LetGo) -> Result<(), SessionError> {
        let shared = self.shared;
        tracing::warn!(reason = why.as_str(), "giving up the VIP");
        let t = Instant::now();
        let because = self.sig.desire.borrow().reason.clone();
        crew.remove_confirmed(why, &because).await;
        let removed = t.elapsed();
        shared.update(|v| v.set_holder(None));
        let released = self.c.release(key, self.lease).await;
        tracing::info!(
            removed_ms = removed.as_secs_f64() * 1e3,
            released_ms = (t.elapsed() - removed).as_secs_f64() * 1e3,
            "let the VIP go"
        );
        drop(self.tasks);
        let Err(e) = released else { return Ok(()) };
        tracing::warn!(error = %machined_resources::error::chain(&e), member = self.c.member(), "releasing failed; revoking the lease through another member");
        self.c
            .revoke_elsewhere(&self.d, self.lease)
            .await
            .map_err(|e2| SessionError::Release {
                why,
                release: Box::new(e),
                elsewhere: Box::new(e2),
            })
    }
}
