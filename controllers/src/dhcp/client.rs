//! The DHCPv4 client's state machine (RFC 2131 §4.4), pure: it is fed the
//! time (unix ms), decoded replies, timer ticks and the result of the ARP
//! check, and returns what to do. The runner owns the socket, the clock and
//! the kernel.
//!
//! - INIT → SELECTING (DISCOVER, retransmitted with backoff) → REQUESTING
//!   (REQUEST for the first offer, up to [`REQUEST_TRIES`]) → CHECKING (ARP
//!   probe of the address) → BOUND, or DECLINE and start again after
//!   [`DECLINE_WAIT_MS`].
//! - A saved lease that has not expired starts in INIT-REBOOT (REQUEST of
//!   that address, [`REBOOT_TRIES`], then INIT).
//! - BOUND → RENEWING at T1 (unicast to the server) → REBINDING at T2
//!   (broadcast) → expiry, which loses the lease. Retransmissions there come
//!   at half the time left, at least [`MIN_RETRY_MS`] apart.
//! - A NAK in any state but SELECTING loses the lease and starts again.

use super::lease::Lease;
use super::wire::{Kind, Outgoing, Reply, ReplyKind};
use machined_resources::types::DhcpState;
use std::net::Ipv4Addr;

pub const REQUEST_TRIES: u32 = 4;
pub const REBOOT_TRIES: u32 = 2;
/// First retransmission; doubles up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: u64 = 1_000;
pub const MAX_BACKOFF_MS: u64 = 32_000;
pub const MIN_RETRY_MS: u64 = 5_000;
pub const DECLINE_WAIT_MS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Selecting,
    Requesting {
        offer: Reply,
    },
    InitReboot {
        lease: Lease,
    },
    /// The ACKed address is being ARP-probed before use.
    Checking {
        lease: Lease,
    },
    Declined,
    Bound,
    Renewing,
    Rebinding,
}

impl State {
    /// The state as `DHCPStatus` shows it.
    pub fn kind(&self) -> DhcpState {
        match self {
            State::Selecting => DhcpState::Selecting,
            State::Requesting { .. } => DhcpState::Requesting,
            State::InitReboot { .. } => DhcpState::InitReboot,
            State::Checking { .. } => DhcpState::Checking,
            State::Declined => DhcpState::Declined,
            State::Bound => DhcpState::Bound,
            State::Renewing => DhcpState::Renewing,
            State::Rebinding => DhcpState::Rebinding,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Outgoing),
    /// Probe the address on the link; answer with [`Client::checked`].
    Check(Ipv4Addr),
    /// Use this lease (new, or renewed with new times).
    Bind(Lease),
    /// Stop using the address now.
    Lose(String),
}

#[derive(Debug, Clone)]
pub struct Client {
    pub state: State,
    /// The lease in use (bound, renewing, rebinding).
    pub lease: Option<Lease>,
    xid: u32,
    rng: u64,
    /// When this exchange began, and when its last message went out.
    started_ms: u64,
    sent_ms: u64,
    tries: u32,
    next_ms: u64,
    pub last_error: String,
}

impl Client {
    /// `seed` varies transaction ids and jitter between clients.
    pub fn new(seed: u64) -> Self {
        Client {
            state: State::Selecting,
            lease: None,
            xid: 0,
            rng: seed | 1,
            started_ms: 0,
            sent_ms: 0,
            tries: 0,
            next_ms: 0,
            last_error: String::new(),
        }
    }

    /// When [`Client::tick`] has something to do.
    pub fn next_wake(&self) -> u64 {
        self.next_ms
    }

    fn random(&mut self) -> u64 {
        // xorshift64: ids and jitter only, nothing secret.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn begin(&mut self, now: u64) {
        self.xid = self.random() as u32;
        self.started_ms = now;
        self.tries = 0;
    }

    fn out(&self, kind: Kind, now: u64) -> Outgoing {
        Outgoing {
            kind,
            xid: self.xid,
            secs: ((now.saturating_sub(self.started_ms)) / 1000).min(u64::from(u16::MAX)) as u16,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            requested: None,
            server_id: None,
            unicast: None,
        }
    }

    /// Backoff with up to 0.5 s of jitter after `tries` sends.
    fn backoff(&mut self, now: u64) -> u64 {
        let base = (FIRST_BACKOFF_MS << self.tries.min(5)).min(MAX_BACKOFF_MS);
        now + base + self.random() % 500
    }

    /// Starts (or restarts) the client, from a saved lease if it has not
    /// expired.
    pub fn start(&mut self, now: u64, saved: Option<Lease>) -> Vec<Action> {
        self.lease = None;
        match saved.filter(|l| l.expires_ms() > now) {
            Some(lease) => {
                self.begin(now);
                self.state = State::InitReboot { lease };
                self.send_current(now)
            }
            None => self.discover(now),
        }
    }

    fn discover(&mut self, now: u64) -> Vec<Action> {
        self.begin(now);
        self.state = State::Selecting;
        self.send_current(now)
    }

    /// The message of the current state, sent now, and the next timer.
    fn send_current(&mut self, now: u64) -> Vec<Action> {
        let msg = match &self.state {
            State::Selecting => self.out(Kind::Discover, now),
            State::Requesting { offer } => Outgoing {
                requested: Some(offer.yiaddr),
                server_id: offer.server_id,
                ..self.out(Kind::Request, now)
            },
            State::InitReboot { lease } => Outgoing {
                requested: Some(lease.address),
                ..self.out(Kind::Request, now)
            },
            State::Renewing | State::Rebinding => {
                let Some(l) = &self.lease else {
                    return Vec::new();
                };
                let unicast = (self.state == State::Renewing).then_some((l.server, l.server_mac));
                Outgoing {
                    ciaddr: l.address,
                    unicast,
                    ..self.out(Kind::Request, now)
                }
            }
            State::Checking { .. } | State::Declined | State::Bound => return Vec::new(),
        };
        self.sent_ms = now;
        self.next_ms = match &self.state {
            State::Renewing | State::Rebinding => {
                let l = self.lease.as_ref().expect("renewing has a lease");
                let end = if self.state == State::Renewing {
                    l.rebind_ms()
                } else {
                    l.expires_ms()
                };
                (now + (end.saturating_sub(now) / 2).max(MIN_RETRY_MS)).min(end)
            }
            _ => self.backoff(now),
        };
        self.tries += 1;
        vec![Action::Send(msg)]
    }

    /// The timer fired (or anything woke the runner): acts when due.
    pub fn tick(&mut self, now: u64) -> Vec<Action> {
        if now < self.next_ms {
            return Vec::new();
        }
        match self.state.clone() {
            State::Selecting => self.send_current(now),
            State::Requesting { .. } if self.tries >= REQUEST_TRIES => {
                self.last_error = "no answer to our request".into();
                self.discover(now)
            }
            State::InitReboot { .. } if self.tries >= REBOOT_TRIES => self.discover(now),
            State::Requesting { .. } | State::InitReboot { .. } => self.send_current(now),
            // The runner answers a check at once; a lost answer must not
            // stall the client.
            State::Checking { .. } => self.discover(now),
            State::Declined => self.discover(now),
            State::Bound | State::Renewing | State::Rebinding => self.tick_bound(now),
        }
    }

    fn tick_bound(&mut self, now: u64) -> Vec<Action> {
        let Some(l) = self.lease.clone() else {
            return self.discover(now);
        };
        if now >= l.expires_ms() {
            let mut out = vec![Action::Lose("lease expired".into())];
            self.lease = None;
            self.last_error = "lease expired without an answer".into();
            out.extend(self.discover(now));
            return out;
        }
        let want = if now >= l.rebind_ms() {
            State::Rebinding
        } else {
            State::Renewing
        };
        if self.state != want {
            self.begin(now);
            self.state = want;
        }
        self.send_current(now)
    }

    /// A decoded reply to our MAC came in.
    pub fn reply(&mut self, now: u64, r: Reply) -> Vec<Action> {
        if r.xid != self.xid {
            return Vec::new();
        }
        match (self.state.clone(), r.kind) {
            (State::Selecting, ReplyKind::Offer) if r.server_id.is_some() => {
                self.begin_keep_xid(now);
                self.state = State::Requesting { offer: r };
                self.send_current(now)
            }
            (State::Requesting { offer }, ReplyKind::Ack) if r.server_id == offer.server_id => {
                self.acked(r)
            }
            (State::InitReboot { .. }, ReplyKind::Ack) => self.acked(r),
            (State::Renewing | State::Rebinding, ReplyKind::Ack) => {
                let Some(lease) = Lease::from_ack(&r, self.sent_ms) else {
                    return Vec::new();
                };
                if Some(lease.address) != self.lease.as_ref().map(|l| l.address) {
                    // A renewal must not move us: treat it as a loss.
                    return self.lost(now, "the server renewed with another address");
                }
                self.bound(lease)
            }
            (
                State::Requesting { .. }
                | State::InitReboot { .. }
                | State::Renewing
                | State::Rebinding,
                ReplyKind::Nak,
            ) => self.lost(now, "the server refused the lease (NAK)"),
            _ => Vec::new(),
        }
    }

    /// The request keeps the offer's transaction id (RFC 2131 §4.4.1).
    fn begin_keep_xid(&mut self, now: u64) {
        self.started_ms = now;
        self.tries = 0;
    }

    fn acked(&mut self, r: Reply) -> Vec<Action> {
        let Some(lease) = Lease::from_ack(&r, self.sent_ms) else {
            self.last_error = "an ACK without a usable address or lease time".into();
            return Vec::new();
        };
        let ip = lease.address;
        self.state = State::Checking { lease };
        // The check's answer comes back through `checked`; this bounds it.
        self.next_ms = self.sent_ms + MAX_BACKOFF_MS;
        vec![Action::Check(ip)]
    }

    fn bound(&mut self, lease: Lease) -> Vec<Action> {
        self.next_ms = lease.renew_ms();
        self.state = State::Bound;
        self.lease = Some(lease.clone());
        self.last_error.clear();
        vec![Action::Bind(lease)]
    }

    fn lost(&mut self, now: u64, why: &str) -> Vec<Action> {
        let had = self.lease.take().is_some();
        self.last_error = why.into();
        let mut out = Vec::new();
        if had {
            out.push(Action::Lose(why.into()));
        }
        out.extend(self.discover(now));
        out
    }

    /// The ARP check of the ACKed address: `conflict` when someone answered.
    pub fn checked(&mut self, now: u64, conflict: bool) -> Vec<Action> {
        let State::Checking { lease } = self.state.clone() else {
            return Vec::new();
        };
        if !conflict {
            return self.bound(lease);
        }
        self.last_error = format!("{} is in use on the link: declined", lease.address);
        let msg = Outgoing {
            requested: Some(lease.address),
            server_id: Some(lease.server),
            ..self.out(Kind::Decline, now)
        };
        self.state = State::Declined;
        self.next_ms = now + DECLINE_WAIT_MS;
        vec![Action::Send(msg)]
    }

    /// Gives the lease back (shutdown): the RELEASE to send, if bound.
    pub fn release(&mut self, now: u64) -> Option<Outgoing> {
        let l = self.lease.take()?;
        self.begin(now);
        self.state = State::Selecting;
        self.next_ms = u64::MAX;
        Some(Outgoing {
            ciaddr: l.address,
            server_id: Some(l.server),
            unicast: Some((l.server, l.server_mac)),
            ..self.out(Kind::Release, now)
        })
    }
}
