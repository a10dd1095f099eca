//! What the VIP's modules share, at the bottom of `vip/` (it imports none
//! of them): why a holder lets go, what its speaker is cued to say, and the
//! background tasks a session runs.

use futures::future::BoxFuture;

/// Why the holder let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetGo {
    /// No acknowledged keep-alive in time: the fence came.
    Fenced,
    /// etcd says the lease is gone.
    LeaseLost,
    /// No longer eligible (link, etcd, config, shutdown).
    Ineligible,
    /// Our election key was deleted (revoked by a candidate, or by hand).
    KeyDeleted,
    /// The watch on our election key broke.
    KeyWatchEnded,
    /// The health check fails and another candidate's passes.
    Unhealthy,
    /// Moved to another node on request (an operator's, or a candidate
    /// with a higher priority).
    Moved,
    /// A proof asked before speaking found our election key gone.
    Unproven,
    /// Another station claims the VIP and etcd could not confirm in time
    /// that this node holds it (a pinned node: another station claims it).
    Contested,
    /// A pin's end: etcd answers again, and the election decides.
    EtcdBack,
    /// A pin's end: an operator unpinned.
    Unpinned,
}

impl std::fmt::Display for LetGo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl LetGo {
    pub fn as_str(self) -> &'static str {
        match self {
            LetGo::Fenced => "lease not renewed in time (fence)",
            LetGo::LeaseLost => "lease lost",
            LetGo::Ineligible => "no longer eligible",
            LetGo::KeyDeleted => "election key deleted",
            LetGo::KeyWatchEnded => "watch on the election key ended",
            LetGo::Unhealthy => "health check failing; a healthy candidate takes over",
            LetGo::Moved => "moved to another node on request",
            LetGo::Unproven => {
                "etcd no longer has this node's election key (asked before speaking)"
            }
            LetGo::Contested => {
                "another station claims the VIP and etcd did not confirm this node holds it"
            }
            LetGo::EtcdBack => "etcd answers again: the pin ends and the election decides",
            LetGo::Unpinned => "unpinned by an operator",
        }
    }
}

/// What the holder asks of its speaker besides answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    /// Announce again, a whole burst (the address was put back).
    Burst,
    /// A deposed holder came back: repoint the clients on its side.
    Repair,
}

/// A background task of a session; it runs until dropped.
pub type Task = BoxFuture<'static, ()>;

/// Aborts the tasks it holds when dropped.
pub struct Tasks(pub Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}
