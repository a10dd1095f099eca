//! When the holder announces the VIP and probes for rivals, as a pure
//! schedule (the speaker owns the clock and the wire).
//!
//! - A burst of `count` announcements `interval` apart when the address is
//!   claimed (or put back, or the link's MAC changed), then one every
//!   `refresh` (none when 0).
//! - A repair after a deposed holder came back (a healed partition, a
//!   thawed VM): a burst now and single announcements 0.5 s and 2 s later,
//!   so clients on its side of the LAN move to this node.
//! - A defence when another station claims the VIP: three announcements
//!   [`DEFEND_GAP`] apart, at most one defence a second whatever the LAN
//!   does (at most 3 announcements a second for defence).
//! - Probes for the address (anyone else answering is a rival) every
//!   [`PROBE_FAST`] for [`FAST_FOR`] after taking over, then every
//!   [`PROBE_SLOW`]. No machined answers without proof and no kernel
//!   answers at all, so these find only strangers (a host configured with
//!   the VIP by hand, a node of an older release): a broadcast every 500 ms
//!   then every 5 s is enough, where each one wakes every node on the LAN.

use machined_resources::config::Announce;
use std::time::Duration;
use tokio::time::Instant;

/// A defence's announcements, from when the rival was heard.
pub const DEFEND_AT: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_millis(200),
];
/// Least time between two defences.
pub const DEFEND_EVERY: Duration = Duration::from_secs(1);
/// A repair's later announcements, after its burst.
pub const REPAIR_AFTER: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(2)];
/// Most single announcements waiting at once.
const MAX_EXTRA: usize = 8;
pub const PROBE_FAST: Duration = Duration::from_millis(500);
pub const PROBE_SLOW: Duration = Duration::from_secs(5);
pub const FAST_FOR: Duration = Duration::from_secs(30);
/// When an announcement found no proof, the next try.
pub const RETRY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct Schedule {
    count: u32,
    interval: Duration,
    refresh: Option<Duration>,
    /// Announcements left in the current burst.
    left: u32,
    /// The next announcement of the burst or the refresh.
    next: Option<Instant>,
    /// Single announcements asked for by a repair or a defence, sorted.
    extra: Vec<Instant>,
    last_defence: Option<Instant>,
    next_probe: Instant,
    fast_until: Instant,
}

impl Schedule {
    /// Taking over at `now`: a burst at once, fast probes.
    pub fn new(now: Instant, a: &Announce) -> Self {
        let mut s = Schedule {
            count: a.count.max(1),
            interval: Duration::from_millis(a.interval_ms),
            refresh: (a.refresh_ms > 0).then(|| Duration::from_millis(a.refresh_ms)),
            left: 0,
            next: None,
            extra: Vec::new(),
            last_defence: None,
            next_probe: now + PROBE_FAST,
            fast_until: now + FAST_FOR,
        };
        s.burst(now);
        s
    }

    fn add_extra(&mut self, now: Instant, after: &[Duration]) {
        for d in after {
            if self.extra.len() < MAX_EXTRA {
                self.extra.push(now + *d);
            }
        }
        self.extra.sort();
    }

    /// A burst from `now`.
    pub fn burst(&mut self, now: Instant) {
        self.left = self.count;
        self.next = Some(now);
    }

    /// Another station claims the VIP: a defence, unless one began less
    /// than [`DEFEND_EVERY`] ago.
    pub fn defend(&mut self, now: Instant) {
        if self.last_defence.is_some_and(|l| now < l + DEFEND_EVERY) {
            return;
        }
        self.last_defence = Some(now);
        self.add_extra(now, &DEFEND_AT);
    }

    /// A deposed holder came back: a burst, and single announcements later.
    pub fn repair(&mut self, now: Instant) {
        self.burst(now);
        self.add_extra(now, &REPAIR_AFTER);
    }

    /// When the next announcement is due.
    pub fn next_announce(&self) -> Option<Instant> {
        match (self.next, self.extra.first()) {
            (Some(a), Some(b)) => Some(a.min(*b)),
            (a, b) => a.or(b.copied()),
        }
    }

    pub fn due(&self, now: Instant) -> bool {
        self.next_announce().is_some_and(|t| now >= t)
    }

    /// An announcement went out at `now` (or was due but the address's
    /// validity had run out: it is skipped the same way).
    pub fn sent(&mut self, now: Instant) {
        self.extra.retain(|t| *t > now);
        if self.next.is_some_and(|t| now >= t) {
            self.left = self.left.saturating_sub(1);
            self.next = if self.left > 0 {
                Some(now + self.interval)
            } else {
                self.refresh.map(|r| now + r)
            };
        }
    }

    /// An announcement due at `now` found no proof: try again shortly.
    pub fn retry(&mut self, now: Instant) {
        if self.next.is_some_and(|t| now >= t) {
            self.next = Some(now + RETRY);
        }
        for t in self.extra.iter_mut().filter(|t| now >= **t) {
            *t = now + RETRY;
        }
        self.extra.sort();
        self.extra.dedup();
    }

    pub fn next_probe(&self) -> Instant {
        self.next_probe
    }

    /// A probe went out at `now`.
    pub fn probed(&mut self, now: Instant) {
        let every = if now < self.fast_until {
            PROBE_FAST
        } else {
            PROBE_SLOW
        };
        self.next_probe = now + every;
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
