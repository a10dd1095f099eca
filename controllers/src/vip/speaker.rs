//! The holder's voice: the only code that sends a frame saying this node
//! has the VIP. The kernel never does (the address is on `lo`, the link
//! keeps quiet: `kernel::quiet`).
//!
//! Every frame it sends waits for a proof (`vip::proof`) that was asked for
//! after the reason for the frame arose: an answer after its request was
//! read, an announcement after it fell due, a defence after the rival was
//! heard. One proof covers everything gathered before it was asked for, so
//! a flood of requests costs one etcd read per round trip, and what comes
//! in meanwhile waits in the socket for the next one.
//!
//! - Held: every request gathered is answered (once per asker), due
//!   announcements go out (while the address's validity allows), a rival
//!   is answered with a defence.
//! - Gone: the speaker stops for good; the holder lets go at once.
//! - No answer: nothing is sent (ARP clients retry within a second); a
//!   rival heard then ends holding: a holder that cannot prove it holds
//!   gives way to one that says it does.
//!
//! Requests queued before the speaker started are dropped unanswered: they
//! may predate this node's win, and the previous holder may have answered
//! them.
//!
//! A pinned node's speaker (`yields`) never defends: any other station
//! claiming the VIP ends it at once, also one heard while a proof was out
//! (what was gathered then goes unanswered), so the election's holder,
//! once etcd answers again, never has the pin answering beside it.

use super::keepalive::LeaseState;
use super::lifetime::Validity;
use super::proof::{self, Confirm, Proof};
use super::runner::Shared;
use super::schedule::Schedule;
use super::shared::Cue;
use super::wire::Wire;
use crate::kernel::ask::{Asker, Heard};
use crate::kernel::packet::Mac;
use machined_resources::config::Announce;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Most requests gathered for one proof; the rest wait in the socket.
pub const MAX_BATCH: usize = 256;

/// Why the speaker stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silenced {
    /// A proof found the election key gone: this node does not hold.
    Gone,
    /// Another station claims the VIP and no proof could be had.
    Contested(Mac),
}

pub struct Speaker {
    pub ip: IpAddr,
    pub wire: watch::Receiver<Arc<dyn Wire>>,
    pub confirm: Arc<dyn Confirm>,
    pub announce: Announce,
    pub lease: watch::Receiver<LeaseState>,
    pub ttl: Duration,
    /// Gives way to any rival instead of defending (a pin).
    pub yields: bool,
}

/// What was gathered for the next proof.
#[derive(Default)]
struct Batch {
    asked: Vec<Asker>,
    rival: Option<Mac>,
}

impl Batch {
    fn note(&mut self, h: Heard) {
        match h {
            Heard::Asked(a) if !self.asked.contains(&a) => self.asked.push(a),
            Heard::Asked(_) => {}
            Heard::Claimed(m) => self.rival = Some(m),
        }
    }

    /// Adds what is already waiting in the socket, up to [`MAX_BATCH`]
    /// requests.
    fn fill(&mut self, wire: &dyn Wire) {
        while self.asked.len() < MAX_BATCH {
            match wire.try_hear() {
                Some(h) => self.note(h),
                None => break,
            }
        }
    }
}

/// What the speaker listens to between reasons to speak.
struct Ears {
    wire: Arc<dyn Wire>,
    cues: mpsc::Receiver<Cue>,
    cues_open: bool,
    wire_open: bool,
}

impl Speaker {
    fn may_announce(&self) -> bool {
        match *self.lease.borrow() {
            LeaseState::Acked(at) => Validity::from_ack(at, self.ttl).may_announce(Instant::now()),
            LeaseState::Lost => false,
        }
    }

    /// Runs until a proof says this node does not hold the VIP, or a rival
    /// cannot be answered. `proven`: the holder already has a proof, asked
    /// for after it won, for the claim burst's first announcement (it asks
    /// for it while it probes for the address, so claiming costs no extra
    /// round trip).
    pub async fn run(
        mut self,
        cues: mpsc::Receiver<Cue>,
        shared: &Shared,
        mut proven: bool,
    ) -> Silenced {
        let wire = self.wire.borrow_and_update().clone();
        wire.drain();
        let mut ears = Ears {
            wire,
            cues,
            cues_open: true,
            wire_open: true,
        };
        let mut sched = Schedule::new(Instant::now(), &self.announce);
        let mut carried = Batch::default();
        loop {
            let mut b = std::mem::take(&mut carried);
            if b.asked.is_empty() {
                self.wait(&mut ears, &mut sched, &mut b).await;
            }
            let wire: &dyn Wire = &*ears.wire;
            b.fill(wire);
            if let (true, Some(m)) = (self.yields, b.rival) {
                super::report::rival(shared, self.ip, m, false);
                return Silenced::Contested(m);
            }
            // The proof must be asked for after everything it vouches for:
            // an announcement that falls due while it is out waits for the next.
            let asked_at = Instant::now();
            let due = sched.due(asked_at);
            if b.asked.is_empty() && b.rival.is_none() && !due {
                continue;
            }
            let p = if std::mem::take(&mut proven) && b.asked.is_empty() && b.rival.is_none() {
                Proof::Held
            } else {
                let p = proof::fresh(&*self.confirm).await;
                super::report::proof(self.ip, p, b.asked.len());
                p
            };
            if p == Proof::Held && self.yields {
                if let Some(m) = self.claim_heard_meanwhile(wire, &mut carried) {
                    super::report::rival(shared, self.ip, m, false);
                    return Silenced::Contested(m);
                }
            }
            match p {
                Proof::Held => self.speak(wire, &b, due, asked_at, &mut sched, shared),
                Proof::Gone => return Silenced::Gone,
                Proof::NoAnswer => {
                    if let Some(m) = b.rival {
                        super::report::rival(shared, self.ip, m, false);
                        return Silenced::Contested(m);
                    }
                    if due {
                        sched.retry(asked_at);
                    }
                }
            }
        }
    }

    /// Waits for the next reason to speak: something heard (noted in `b`),
    /// an announcement falling due; meanwhile probes for rivals, takes cues
    /// and follows a new MAC to its new wire.
    async fn wait(&mut self, ears: &mut Ears, sched: &mut Schedule, b: &mut Batch) {
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            h = ears.wire.hear() => match h {
                Ok(h) => b.note(h),
                Err(e) => {
                    tracing::warn!(vip = %self.ip, error = %machined_resources::error::chain(&e), "reading the link failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = tokio::time::sleep_until(sched.next_announce().unwrap_or(far)) => {}
            _ = tokio::time::sleep_until(sched.next_probe()) => {
                if let Err(e) = ears.wire.probe() {
                    tracing::debug!(vip = %self.ip, error = %machined_resources::error::chain(&e), "probing for rivals failed");
                }
                sched.probed(Instant::now());
            }
            cue = ears.cues.recv(), if ears.cues_open => match cue {
                Some(Cue::Burst) => sched.burst(Instant::now()),
                Some(Cue::Repair) => sched.repair(Instant::now()),
                None => ears.cues_open = false,
            },
            r = self.wire.changed(), if ears.wire_open => {
                // A new MAC: a new wire, and the burst again from it.
                ears.wire_open = r.is_ok();
                if ears.wire_open {
                    ears.wire = self.wire.borrow_and_update().clone();
                    ears.wire.drain();
                    tracing::info!(vip = %self.ip, "the link's MAC changed; announcing again");
                    sched.burst(Instant::now());
                }
            }
        }
    }

    /// A pin's check after its proof: a claim heard while the proof was out
    /// ends it before anything is said; requests heard then are carried to
    /// the next round.
    fn claim_heard_meanwhile(&self, wire: &dyn Wire, carried: &mut Batch) -> Option<Mac> {
        while let Some(h) = wire.try_hear() {
            if let Heard::Claimed(m) = h {
                return Some(m);
            }
            carried.note(h);
        }
        None
    }

    /// What a proof allows: every request gathered answered, a rival
    /// defended against, a due announcement sent (never for an address
    /// whose validity has run out).
    fn speak(
        &self,
        wire: &dyn Wire,
        b: &Batch,
        due: bool,
        asked_at: Instant,
        sched: &mut Schedule,
        shared: &Shared,
    ) {
        for a in &b.asked {
            if let Err(e) = wire.answer(a) {
                tracing::debug!(vip = %self.ip, error = %machined_resources::error::chain(&e), "answering failed");
            }
        }
        if let Some(m) = b.rival {
            super::report::rival(shared, self.ip, m, true);
            sched.defend(Instant::now());
        }
        if due {
            if self.may_announce() {
                super::report::announce(wire, self.ip, shared);
            }
            sched.sent(asked_at);
        }
    }
}

#[cfg(test)]
#[path = "speaker_tests.rs"]
mod tests;
