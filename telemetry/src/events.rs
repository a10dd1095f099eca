//! Typed events with ids, in a bounded history: what happened to the VIP,
//! the config and etcd, as this node saw it. At most [`MAX_EVENTS`] are
//! kept; a message is cut at [`MAX_TEXT`] bytes and a node keeps at most
//! [`MAX_FIELDS`] fields, each cut likewise, so the history stays under
//! about 1.5 MiB whatever floods it.

use crate::ring::{Cost, Ring, Since};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::SystemTime;

pub const MAX_EVENTS: usize = 1024;
pub const MAX_TEXT: usize = 512;
pub const MAX_FIELDS: usize = 8;
const MAX_COST: usize = 1536 << 10;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// This node put the VIP on its link.
    VipAcquired,
    /// This node let the VIP go (`reason`: graceful, fenced, lease-lost,
    /// deposed, ineligible, unhealthy).
    VipReleased,
    /// The holder this node observes changed (every node sees this).
    VipHolderChanged,
    /// This node revoked a dead holder's lease.
    VipHolderRevoked,
    /// This node won but waits: someone still answers for the address.
    VipClaimDelayed,
    /// Another station claimed the VIP while this node held it.
    VipRival,
    /// A deposed holder came back on the link; the holder announced again.
    VipRepair,
    /// The VIP's health check changed state on this node.
    HealthCheckChanged,
    ConfigApplied,
    ConfigRefused,
    /// etcd's phase on this node changed.
    EtcdPhaseChanged,
    /// A runner (a VIP's election, a link's DHCP client, a health check)
    /// stopped unexpectedly and is started again.
    RunnerRestarted,
    /// The etcd leader this node sees changed.
    EtcdLeaderChanged,
    /// A log or event destination lost lines (slow or gone receiver).
    SinkDropping,
    /// An operator pinned the VIP to this node while etcd had no quorum
    /// (`by`, `at`).
    VipPinned,
    /// A pin ended (`reason`: etcd-back, unpinned, contested, ...).
    VipPinEnded,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::VipAcquired => "vip-acquired",
            Kind::VipReleased => "vip-released",
            Kind::VipHolderChanged => "vip-holder-changed",
            Kind::VipHolderRevoked => "vip-holder-revoked",
            Kind::VipClaimDelayed => "vip-claim-delayed",
            Kind::VipRival => "vip-rival",
            Kind::VipRepair => "vip-repair",
            Kind::HealthCheckChanged => "health-check-changed",
            Kind::ConfigApplied => "config-applied",
            Kind::ConfigRefused => "config-refused",
            Kind::EtcdPhaseChanged => "etcd-phase-changed",
            Kind::RunnerRestarted => "runner-restarted",
            Kind::EtcdLeaderChanged => "etcd-leader-changed",
            Kind::SinkDropping => "sink-dropping",
            Kind::VipPinned => "vip-pinned",
            Kind::VipPinEnded => "vip-pin-ended",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: u64,
    pub time: SystemTime,
    pub kind: Kind,
    /// The component that saw it (a controller, the API).
    pub source: &'static str,
    pub message: String,
    /// e.g. `vip`, `reason`, `holder`.
    pub fields: BTreeMap<String, String>,
}

impl Cost for Event {
    fn cost(&self) -> usize {
        128 + self.message.len()
            + self
                .fields
                .iter()
                .map(|(k, v)| k.len() + v.len() + 48)
                .sum::<usize>()
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub struct Events {
    ring: Ring<Event>,
}

impl Events {
    pub fn new(max_events: usize) -> Self {
        Events {
            ring: Ring::new(max_events, MAX_COST),
        }
    }

    /// Records an event; returns its id.
    pub fn emit(
        &self,
        kind: Kind,
        source: &'static str,
        message: &str,
        fields: &[(&str, &str)],
    ) -> u64 {
        let fields = fields
            .iter()
            .take(MAX_FIELDS)
            .map(|(k, v)| (cut(k, 64), cut(v, MAX_TEXT / 2)))
            .collect();
        let ev = Event {
            id: 0,
            time: SystemTime::now(),
            kind,
            source,
            message: cut(message, MAX_TEXT),
            fields,
        };
        self.ring.push(ev)
    }

    fn with_ids(v: Vec<(u64, Event)>) -> Vec<Event> {
        v.into_iter().map(|(id, e)| Event { id, ..e }).collect()
    }

    /// The last `n` events (all with `None`).
    pub fn tail(&self, n: Option<usize>) -> Vec<Event> {
        Self::with_ids(self.ring.tail(n))
    }

    /// Events after id `seen`, and how many were missed (already dropped).
    pub fn since(&self, seen: u64) -> (Vec<Event>, u64) {
        self.since_at_most(seen, usize::MAX)
    }

    /// At most `max` events after id `seen`, and how many were missed.
    pub fn since_at_most(&self, seen: u64, max: usize) -> (Vec<Event>, u64) {
        let Since { items, missed } = self.ring.since_at_most(seen, max);
        (Self::with_ids(items), missed)
    }

    pub fn newest(&self) -> u64 {
        self.ring.newest()
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ring.subscribe()
    }

    /// (events, bytes) held.
    pub fn usage(&self) -> (usize, usize) {
        self.ring.usage()
    }
}

/// This process's events.
pub fn global() -> &'static Events {
    static EVENTS: OnceLock<Events> = OnceLock::new();
    EVENTS.get_or_init(|| Events::new(MAX_EVENTS))
}

/// Records an event in this process's history, counts it in the metrics
/// and logs it.
pub fn emit(kind: Kind, source: &'static str, message: &str, fields: &[(&str, &str)]) -> u64 {
    crate::metrics::get().event(kind);
    tracing::debug!(event = kind.as_str(), source, ?fields, "{message}");
    global().emit(kind, source, message, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_stays_bounded_and_ids_keep_counting() {
        let ev = Events::new(MAX_EVENTS);
        let long = "x".repeat(10_000);
        for _ in 0..5000 {
            ev.emit(
                Kind::VipHolderChanged,
                "test",
                &long,
                &[("vip", "10.5.0.50"); 20],
            );
        }
        let (n, bytes) = ev.usage();
        assert!(
            n <= MAX_EVENTS && bytes <= MAX_COST,
            "{n} events, {bytes} bytes"
        );
        let last = ev.tail(Some(1));
        assert_eq!(last[0].id, 5000);
        assert_eq!(last[0].fields.len(), 1, "duplicate keys collapse");
        assert!(last[0].message.len() <= MAX_TEXT + 3);
        let (got, missed) = ev.since(10);
        assert_eq!(missed as usize + got.len(), 4990);
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("ééé", 3), "é…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
