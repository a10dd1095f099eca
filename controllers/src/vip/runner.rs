//! What passes between the VIP controller and one VIP's runner: the
//! controller's [`Desire`] and the runner's [`View`] (behind [`Shared`]).
//! What the runner reaches is in `deps.rs`.

use crate::etcd::client as etcd;
use crate::kernel::packet::Mac;
use crate::Waker;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What the controller wants of a runner.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desire {
    pub eligible: bool,
    pub reason: String,
    /// Client URLs of every etcd member, this node's first.
    pub endpoints: Vec<String>,
    /// This node's own member (empty with an external etcd).
    pub local_endpoint: Option<String>,
    pub node: String,
    pub node_ip: Option<IpAddr>,
    pub link_index: u32,
    pub mac: Option<Mac>,
    /// etcd client TLS, when etcd runs with it.
    pub tls: Option<etcd::Tls>,
    pub health: Health,
    pub handover: Handover,
    /// An operator's break-glass pin of the VIP on this node.
    pub pin: Option<Pin>,
    /// The link of each VIP of the group, in the group's order (the first
    /// is the lead's: `link_index` and `mac` above).
    pub members: Vec<MemberLink>,
}

/// The link one VIP of a group is held on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberLink {
    pub link_index: u32,
    pub mac: Option<Mac>,
}

impl Desire {
    /// The link of member `i` (the lead's when not known).
    pub fn member(&self, i: usize) -> MemberLink {
        self.members.get(i).copied().unwrap_or(MemberLink {
            link_index: self.link_index,
            mac: self.mac,
        })
    }
}

/// A pin as the operator made it (`VIPPin`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pin {
    pub by: String,
    /// RFC 3339.
    pub at: String,
    pub seq: u64,
}

/// Planned moves: this node's priority.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handover {
    /// A candidate with a higher priority than the holder's takes over.
    pub priority: u32,
    /// ...after seeing that holder for this long.
    pub preempt_delay: Duration,
}

/// This node's health check of the VIP's service, as it gates candidacy.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Health {
    pub verdict: Verdict,
    /// A holder keeps the VIP at least this long before handing it over
    /// because its check fails.
    pub hold_down: Duration,
    /// A node whose check does not pass campaigns anyway once it has seen
    /// no holder for this long: never no holder only because every check
    /// fails.
    pub fallback_after: Duration,
}

/// What the check says, as the election reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verdict {
    /// No check configured.
    #[default]
    Unchecked,
    /// A check with no verdict yet (just added or just started).
    Unknown,
    Healthy,
    /// `fall` failures in a row.
    Failing,
}

impl Health {
    /// Whether the check lets this node campaign as a healthy candidate.
    pub fn passing(&self) -> bool {
        matches!(self.verdict, Verdict::Unchecked | Verdict::Healthy)
    }

    /// Whether a holder should look for a healthy node to hand over to: a
    /// check with no verdict yet (just added, say) is not failing.
    pub fn failing(&self) -> bool {
        self.verdict == Verdict::Failing
    }
}

/// What a runner tells the controller.
#[derive(Debug, Clone)]
pub struct View {
    /// The address is (meant to be) on the link.
    pub leading: bool,
    /// The last holder seen (kept while the holder is unknown), to count
    /// transitions once per real change.
    pub last_holder: Option<String>,
    pub holder: Option<String>,
    pub since: SystemTime,
    pub transitions: u64,
    pub error: String,
    /// Won, but not claiming yet: why.
    pub waiting: String,
    /// Last announcement and frames sent since the address was added.
    pub announced: Option<(SystemTime, u64)>,
    /// Not campaigning because the health check does not pass: why.
    pub standby: String,
    /// Holding although the health check fails: why.
    pub health_note: String,
    /// The last other station heard claiming the VIP while holding it.
    pub rival: Option<(Mac, SystemTime)>,
    /// A pin in force: who, when, what it is doing.
    pub pinned: String,
    /// The last pin run (`Pin::seq`): each runs once.
    pub pin_done: u64,
    /// Other nodes list other members for this VIP group: what differs.
    pub group_note: String,
}

impl Default for View {
    fn default() -> Self {
        View {
            leading: false,
            last_holder: None,
            holder: None,
            since: SystemTime::now(),
            transitions: 0,
            error: String::new(),
            waiting: String::new(),
            announced: None,
            standby: String::new(),
            health_note: String::new(),
            rival: None,
            pinned: String::new(),
            pin_done: 0,
            group_note: String::new(),
        }
    }
}

impl View {
    /// Records the holder; a new holder (not just "unknown") is a transition.
    pub fn set_holder(&mut self, h: Option<String>) {
        if self.holder == h {
            return;
        }
        if h.is_some() && h != self.last_holder {
            self.transitions += 1;
            self.since = SystemTime::now();
            self.last_holder = h.clone();
        }
        self.holder = h;
    }
}

pub struct Shared {
    pub view: Mutex<View>,
    pub waker: Waker,
}

impl Shared {
    pub fn new(waker: Waker) -> Arc<Self> {
        Arc::new(Shared {
            view: Mutex::new(View::default()),
            waker,
        })
    }

    pub fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn update(&self, f: impl FnOnce(&mut View)) {
        f(&mut self.view());
        self.waker.wake();
    }
}
